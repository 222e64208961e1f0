// Rule `BackoffFactor`: see ui/specs/backoff_factor.yaml.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/backoff_factor.yaml")]
struct Handle {}

fn main() {}
