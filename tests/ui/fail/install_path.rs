// Rule `InstallPath`: see ui/specs/install_path.yaml.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/install_path.yaml")]
struct Handle {}

fn main() {}
