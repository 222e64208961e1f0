// Rule `Number`: see ui/specs/number.yaml.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/number.yaml")]
struct Handle {}

fn main() {}
