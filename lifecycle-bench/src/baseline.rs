//! The hand-written pattern this library replaces, as the original lifecycle code did it: spawn
//! with output to /dev/null and no process group; poll health every 200 ms × 1.5 with a new HTTP
//! client per check; stop with SIGTERM, a fixed 5 s sleep, then SIGKILL to the PID.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Spawns the test daemon (this program) with `args`, output to /dev/null, in our group.
pub(crate) fn spawn(binary: &str, args: &[String]) -> std::io::Result<Child> {
    Command::new(binary)
        .arg("--test-daemon")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
}

/// Polls `url` until 2xx: first check at once, then 200 ms growing ×1.5, a new client each time.
pub(crate) async fn poll_new_client_each_time(url: &str, timeout: Duration) -> bool {
    let started = Instant::now();
    let mut delay = Duration::from_millis(200);
    loop {
        if let Ok(client) = reqwest::Client::builder().no_proxy().build()
            && let Ok(response) = client.get(url).timeout(Duration::from_secs(2)).send().await
            && response.status().is_success()
        {
            return true;
        }
        if started.elapsed() > timeout {
            return false;
        }
        tokio::time::sleep(delay).await;
        delay = delay.mul_f64(1.5);
    }
}

/// SIGTERM, sleep 5 s whatever happens, SIGKILL if the PID still answers; then reaps.
pub(crate) async fn stop_with_fixed_sleep(child: &mut Child) -> Duration {
    let started = Instant::now();
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    let _ = kill(pid, Signal::SIGTERM);
    // The pattern measured, on purpose: a fixed sleep where an exit could be awaited is what
    // the library replaces (its figure is this stop's, beside ours).
    tokio::time::sleep(Duration::from_secs(5)).await;
    if kill(pid, None).is_ok() {
        let _ = kill(pid, Signal::SIGKILL);
    }
    let elapsed = started.elapsed();
    let _ = child.wait();
    elapsed
}
