// Rule `VarName`: see ui/specs/var_name.yaml.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/var_name.yaml")]
struct Handle {}

fn main() {}
