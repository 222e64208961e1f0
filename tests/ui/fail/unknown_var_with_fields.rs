// Rule `UnknownVar`: `{hsot}` is neither a field nor a default; the hint names the near field.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
#[lifecycle(spec = "ui/specs/unknown_var_with_fields.yaml")]
struct Handle {
    host: String,
    port: u16,
}

fn main() {}
