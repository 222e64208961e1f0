//! The rbee demo's stand-in as a binary of its own, for the tests (a test binary cannot stand
//! in for daemons itself): every daemon of the demo runs it with that daemon's command line.

fn main() {
    lifecycle_demo::stand_in_if_asked();
    eprintln!(
        "rbee-stand-in: stands in for the rbee daemons; run with a daemon's command line:\n  \
         rbee-stand-in --port PORT\n  \
         rbee-stand-in serve MODEL --port PORT --device DEVICE\n  \
         rbee-stand-in --model MODEL --port PORT --device DEVICE"
    );
    std::process::exit(2)
}
