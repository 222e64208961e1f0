// Two spec files of one kind directory that would be the same variant (`AB`).
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
struct Handle {
    #[lifecycle(spec_dir = "ui/specs/dup_kinds")]
    kind: Kind,
}

fn main() {}
