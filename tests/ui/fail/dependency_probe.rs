// Rule `DependencyProbe`: see ui/specs/deps/needs_probe.yaml.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/deps/needs_probe.yaml")]
struct Handle {}

fn main() {}
