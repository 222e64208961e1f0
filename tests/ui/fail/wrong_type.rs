// Rule `WrongType`: see ui/specs/wrong_type.yaml.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/wrong_type.yaml")]
struct Handle {}

fn main() {}
