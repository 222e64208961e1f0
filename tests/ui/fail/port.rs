// Rule `Port`: see ui/specs/port.yaml.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/port.yaml")]
struct Handle {}

fn main() {}
