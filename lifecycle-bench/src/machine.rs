//! The machine a run is on, and when: the header of every run's output.

use std::process::Command;

/// The first line `command` prints, or `unknown`.
fn first_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// A line of `/proc/cpuinfo` or `/proc/meminfo`: the value of `key`.
fn proc_value(file: &str, key: &str) -> Option<String> {
    std::fs::read_to_string(file).ok()?.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim().to_owned())
    })
}

/// `Measured on … : N CPUs (model), Linux …, N GiB, rustc …, commit …`.
pub(crate) fn describe() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = proc_value("/proc/cpuinfo", "model name").unwrap_or_else(|| "unknown".into());
    let kernel = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_else(|_| "unknown".into());
    let memory = proc_value("/proc/meminfo", "MemTotal")
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or("unknown".to_owned(), |kib| {
            format!("{:.1} GiB", kib as f64 / 1048576.0)
        });
    let commit = first_line(
        "git",
        &[
            "-C",
            env!("CARGO_MANIFEST_DIR"),
            "describe",
            "--always",
            "--dirty",
        ],
    );
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    format!(
        "Measured on {} by `lifecycle-bench`: {cpus} CPUs ({model}), Linux {kernel}, {memory} of memory, {}, {profile} build of commit {commit}.",
        first_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        first_line("rustc", &["--version"]),
    )
}
