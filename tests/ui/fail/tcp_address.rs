// Rule `TcpAddress`: see ui/specs/tcp_address.yaml.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/tcp_address.yaml")]
struct Handle {}

fn main() {}
