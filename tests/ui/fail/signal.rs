// Rule `Signal`: see ui/specs/signal.yaml.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/signal.yaml")]
struct Handle {}

fn main() {}
