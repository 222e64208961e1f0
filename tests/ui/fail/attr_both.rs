// `spec` and `spec_dir` together.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "specs/queen.yaml")]
struct Handle {
    #[lifecycle(spec_dir = "specs/workers")]
    kind: Kind,
}

fn main() {}
