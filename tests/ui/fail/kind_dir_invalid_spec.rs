// One spec of a kind directory is invalid: only its error shows; code naming the kinds still
// resolves (the derive emits a stub enum), so there is no follow-on noise.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
struct Handle {
    #[lifecycle(spec_dir = "ui/specs/bad_kinds")]
    kind: Kind,
}

fn main() {
    let handle = Handle { kind: Kind::Broken };
    let _ = (handle.kind, Kind::Good);
    let _ = handle.spec();
}
