// Rule `EmptyStop`: see ui/specs/empty_stop.yaml.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/empty_stop.yaml")]
struct Handle {}

fn main() {}
