// Rule `UnknownKey`: see ui/specs/unknown_key.yaml.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/unknown_key.yaml")]
struct Handle {}

fn main() {}
