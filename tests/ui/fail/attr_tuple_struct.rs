// A tuple struct has no field names for `{var}`s to bind to.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "specs/queen.yaml")]
struct Handle(u16);

fn main() {}
