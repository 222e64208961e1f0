// Rule `Variant`: see ui/specs/variant.yaml.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/variant.yaml")]
struct Handle {}

fn main() {}
