// Rule `DependencyVar`: see ui/specs/deps/binds_unknown.yaml.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/deps/binds_unknown.yaml")]
struct Handle {}

fn main() {}
