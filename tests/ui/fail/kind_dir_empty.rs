// A kind directory without spec files.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
struct Handle {
    #[lifecycle(spec_dir = "ui/specs/empty_kinds")]
    kind: Kind,
}

fn main() {}
