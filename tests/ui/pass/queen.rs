// The shipped queen spec compiles into a handle.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "specs/queen.yaml")]
struct QueenHandle {
    port: u16,
}

fn main() {
    let queen = QueenHandle { port: 7833 };
    assert_eq!(queen.spec().name, "queen-rbee");
    assert_eq!(queen.var("port").as_deref(), Some("7833"));
}
