// Rule `Regex`: see ui/specs/regex.yaml.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/regex.yaml")]
struct Handle {}

fn main() {}
