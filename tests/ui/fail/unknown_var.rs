// Rule `UnknownVar`: see ui/specs/unknown_var.yaml.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/unknown_var.yaml")]
struct Handle {}

fn main() {}
