// Rule `Choice`: see ui/specs/choice.yaml.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/choice.yaml")]
struct Handle {}

fn main() {}
