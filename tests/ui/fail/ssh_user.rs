// Rule `SshUser`: see ui/specs/ssh_user.yaml.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/ssh_user.yaml")]
struct Handle {}

fn main() {}
