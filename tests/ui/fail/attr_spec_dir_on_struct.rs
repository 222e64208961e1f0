// `spec_dir` belongs on the kind field, not on the struct.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec_dir = "specs/workers")]
struct Handle {
    port: u16,
}

fn main() {}
