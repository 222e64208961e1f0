// No `spec` and no `spec_dir`.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
struct Handle {
    port: u16,
}

fn main() {}
