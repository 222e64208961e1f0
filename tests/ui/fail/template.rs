// Rule `Template`: see ui/specs/template.yaml.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/template.yaml")]
struct Handle {}

fn main() {}
