// Rule `Syntax`: see ui/specs/syntax.yaml.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/syntax.yaml")]
struct Handle {}

fn main() {}
