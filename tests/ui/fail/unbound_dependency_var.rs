// Rule `UnknownVar (a dependency's variable left unbound)`: see ui/specs/deps/unbound.yaml.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/deps/unbound.yaml")]
struct Handle {}

fn main() {}
