// Rule `HttpStopPosition`: see ui/specs/http_stop_position.yaml.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/http_stop_position.yaml")]
struct Handle {}

fn main() {}
