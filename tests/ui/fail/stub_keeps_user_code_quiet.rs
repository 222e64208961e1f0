// The spec is invalid: its error is the only one, though the code below uses the handle.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/empty_stop.yaml")]
struct Handle {
    port: u16,
}

fn main() {
    let handle = Handle { port: 1 };
    println!("{} {:?}", handle.spec().name, handle.var("port"));
}
