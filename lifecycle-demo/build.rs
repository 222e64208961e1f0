//! A worker type is a file in `specs/workers/`: a file added there rebuilds the demo (the derive
//! alone cannot watch a directory).

fn main() {
    lifecycle_spec::watch_specs("../specs");
}
