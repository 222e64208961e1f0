// Rule `Size`: see ui/specs/size.yaml.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/size.yaml")]
struct Handle {}

fn main() {}
