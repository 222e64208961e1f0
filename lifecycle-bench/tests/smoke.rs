//! The harness keeps working: every block once, small (`all --smoke`), then the gate in its
//! smoke mode (`check --smoke`: every target of BENCHMARKS.md has a figure; values are not
//! compared, a smoke run's mean nothing). The peers are measured where
//! `lifecycle-bench/peers/install` put them (CI runs it); where they are not, the run says why.

use std::process::Command;

#[test]
fn every_block_runs_and_every_target_has_a_figure() {
    let bench = env!("CARGO_BIN_EXE_lifecycle-bench");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let figures = dir.path().join("figures.txt");
    let run = Command::new(bench)
        .args(["all", "--smoke", "--figures"])
        .arg(&figures)
        .output()
        .expect("lifecycle-bench runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "all --smoke failed: {}\n{stdout}\n{stderr}",
        run.status
    );
    for heading in [
        "## Many daemons",
        "## Beside supervisord, circus, pm2 and s6",
        "## Readiness by probe kind",
        "## Lifecycle operations",
        "## Remote daemons",
    ] {
        assert!(stdout.contains(heading), "no {heading:?} in\n{stdout}");
    }
    // Every peer is measured or reported with the reason, never dropped.
    for peer in ["supervisord", "circus", "pm2", "s6"] {
        assert!(
            stdout.contains(&format!("- **{peer} "))
                || stdout.contains(&format!("- **{peer}**: not measured: ")),
            "{peer} neither measured nor reported missing in\n{stdout}"
        );
    }
    let check = Command::new(bench)
        .arg("check")
        .arg(&figures)
        .arg("--smoke")
        .output()
        .expect("lifecycle-bench check runs");
    let table = String::from_utf8_lossy(&check.stdout);
    // The `cli` block needs the `lifecycle` binary beside this one, which `cargo test
    // --workspace` builds and `cargo test -p lifecycle-bench` does not: then its figures are the
    // only ones allowed to be missing.
    let cli_skipped = stdout.contains("## The `lifecycle` command\n\nNot run: ");
    let missing: Vec<&str> = table
        .lines()
        .filter(|l| l.contains("| MISSING |") || l.contains("| WRONG UNIT |"))
        .filter(|l| !(cli_skipped && l.starts_with("| `cli.")))
        .collect();
    assert!(
        missing.is_empty() && (check.status.success() || cli_skipped),
        "check --smoke: {}\n{table}\n{}",
        check.status,
        String::from_utf8_lossy(&check.stderr)
    );
}
