// Rule `SshHost`: see ui/specs/ssh_host.yaml.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/ssh_host.yaml")]
struct Handle {}

fn main() {}
