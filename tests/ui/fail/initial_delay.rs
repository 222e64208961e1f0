// Rule `InitialDelay`: see ui/specs/initial_delay.yaml.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/initial_delay.yaml")]
struct Handle {}

fn main() {}
