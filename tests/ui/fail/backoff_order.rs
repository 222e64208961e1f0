// Rule `BackoffOrder`: see ui/specs/backoff_order.yaml.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/backoff_order.yaml")]
struct Handle {}

fn main() {}
