// A spec with three different errors: all three are reported, with their lines, in one build.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/three_errors.yaml")]
struct Handle {}

fn main() {}
