// `command.inherit_env` names variables: a bad name and a repeated one, both reported.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/inherit_env.yaml")]
struct Handle {}

fn main() {}
