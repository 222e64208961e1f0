// A field the spec uses must implement Display; the error points at the field.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "specs/queen.yaml")]
struct Handle {
    port: Vec<u16>,
}

fn main() {}
