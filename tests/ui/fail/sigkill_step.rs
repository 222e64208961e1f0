// Rule `SigkillStep`: see ui/specs/sigkill_step.yaml.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/sigkill_step.yaml")]
struct Handle {}

fn main() {}
