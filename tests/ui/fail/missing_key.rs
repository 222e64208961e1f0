// Rule `MissingKey`: see ui/specs/missing_key.yaml.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/missing_key.yaml")]
struct Handle {}

fn main() {}
