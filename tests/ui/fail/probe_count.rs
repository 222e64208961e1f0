// Rule `ProbeCount`: see ui/specs/probe_count.yaml.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/probe_count.yaml")]
struct Handle {}

fn main() {}
