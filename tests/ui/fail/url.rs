// Rule `Url`: see ui/specs/url.yaml.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/url.yaml")]
struct Handle {}

fn main() {}
