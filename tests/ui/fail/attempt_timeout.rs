// Rule `AttemptTimeout`: see ui/specs/attempt_timeout.yaml.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/attempt_timeout.yaml")]
struct Handle {}

fn main() {}
