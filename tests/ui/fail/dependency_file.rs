// Rule `DependencyFile`: see ui/specs/dependency_file.yaml.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/dependency_file.yaml")]
struct Handle {}

fn main() {}
