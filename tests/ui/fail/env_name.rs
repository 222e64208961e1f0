// Rule `EnvName`: see ui/specs/env_name.yaml.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/env_name.yaml")]
struct Handle {}

fn main() {}
