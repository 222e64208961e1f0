// Rule `StopStep`: see ui/specs/stop_step.yaml.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/stop_step.yaml")]
struct Handle {}

fn main() {}
