// Rule `Name`: see ui/specs/name.yaml.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/name.yaml")]
struct Handle {}

fn main() {}
