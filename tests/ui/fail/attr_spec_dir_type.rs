// The kind field's type must be a plain name: the enum to generate.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
struct Handle {
    #[lifecycle(spec_dir = "specs/workers")]
    kind: Vec<u8>,
}

fn main() {}
