// Rule `DurationRange`: see ui/specs/duration_range.yaml.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/duration_range.yaml")]
struct Handle {}

fn main() {}
