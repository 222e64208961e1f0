// Rule `DuplicateKey`: see ui/specs/duplicate_key.yaml.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/duplicate_key.yaml")]
struct Handle {}

fn main() {}
