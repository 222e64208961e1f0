// A misspelled attribute key.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spek = "specs/queen.yaml")]
struct Handle {
    port: u16,
}

fn main() {}
