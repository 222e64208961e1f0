// Rule `DependencyCycle`: see ui/specs/deps/cycle_a.yaml.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/deps/cycle_a.yaml")]
struct Handle {}

fn main() {}
