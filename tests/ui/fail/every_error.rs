// Every error at once: two in `readiness:`, the backoff's and the attempt timeout's, in file order.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/every_error.yaml")]
struct Handle {}

fn main() {}
