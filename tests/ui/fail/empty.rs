// Rule `Empty`: see ui/specs/empty.yaml.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/empty.yaml")]
struct Handle {}

fn main() {}
