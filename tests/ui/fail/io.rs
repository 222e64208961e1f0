// Rule `Io`: the spec file does not exist.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/does-not-exist.yaml")]
struct Handle {}

fn main() {}
