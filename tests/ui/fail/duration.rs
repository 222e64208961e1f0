// Rule `Duration`: see ui/specs/duration.yaml.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/duration.yaml")]
struct Handle {}

fn main() {}
