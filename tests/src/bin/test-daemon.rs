//! The test daemon as a standalone binary; see [`lifecycle_tests::daemon`]
//! for its flags.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(lifecycle_tests::daemon::run(&args));
}
