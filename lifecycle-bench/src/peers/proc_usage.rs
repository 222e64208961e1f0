//! A process's memory and CPU time, read from `/proc`.

use std::time::Duration;

use crate::peers::manager::{Error, Usage};

/// A `kB` field of `/proc/PID/status` (`VmHWM`, `VmRSS`).
fn status_kib(pid: u32, field: &str) -> Result<u64, Error> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    kib_field(&status, field).ok_or_else(|| format!("no {field} in /proc/{pid}/status").into())
}

/// `field:   1234 kB` in the text of a `/proc` file.
fn kib_field(text: &str, field: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
}

/// CPU time of `pid` so far: the time on a CPU of each of its threads, in nanoseconds
/// (`/proc/PID/task/*/schedstat`, first field) — not `/proc/PID/stat`'s ticks, whose 10 ms
/// would round a thousand small supervisors' time each to nothing. A thread that has ended
/// is not counted (the managers measured keep theirs).
fn cpu(pid: u32) -> Result<Duration, Error> {
    let mut total = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let Ok(text) = std::fs::read_to_string(task?.path().join("schedstat")) else {
            continue; // the thread just ended
        };
        total += text
            .split_whitespace()
            .next()
            .ok_or("empty schedstat")?
            .parse::<u64>()?;
    }
    Ok(Duration::from_nanos(total))
}

/// The peak RSS and CPU time of one process (a manager that is one process).
pub(crate) fn of_process(pid: u32) -> Result<Usage, Error> {
    Ok(Usage {
        memory_kib: status_kib(pid, "VmHWM")?,
        cpu: cpu(pid)?,
    })
}

/// The children of `pid` (every thread's), from `/proc/PID/task/*/children`.
pub(crate) fn children(pid: u32) -> Result<Vec<u32>, Error> {
    let mut all = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let path = task?.path().join("children");
        if let Ok(text) = std::fs::read_to_string(path) {
            all.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    Ok(all)
}

/// The summed proportional set size and CPU time of `pids` (a manager made of many processes,
/// whose shared pages a sum of RSS would count once per process).
pub(crate) fn of_processes(pids: &[u32]) -> Result<Usage, Error> {
    let mut usage = Usage::default();
    for &pid in pids {
        let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))?;
        usage.memory_kib += kib_field(&rollup, "Pss").ok_or("no Pss in smaps_rollup")?;
        usage.cpu += cpu(pid)?;
    }
    Ok(usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_a_peak_rss_and_cpu_time() -> Result<(), Error> {
        let usage = of_process(std::process::id())?;
        assert!(usage.memory_kib > 100, "{usage:?}");
        let both = of_processes(&[std::process::id()])?;
        assert!(both.memory_kib > 0 && both.memory_kib <= usage.memory_kib * 2);
        Ok(())
    }

    #[test]
    fn kib_fields_are_read_by_name() {
        let text = "VmPeak:\t  100 kB\nVmHWM:\t   42 kB\n";
        assert_eq!(kib_field(text, "VmHWM"), Some(42));
        assert_eq!(kib_field(text, "VmRSS"), None);
    }
}
