// A kind directory that does not exist.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
struct Handle {
    #[lifecycle(spec_dir = "ui/specs/no_such_dir")]
    kind: Kind,
}

fn main() {}
