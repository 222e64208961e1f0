//! The `lifecycle` binary, run as a user runs it: every subcommand and exit code, the `--json`
//! event shape, `check`'s rendering, bad input, recreation, `run` stopped by a signal. The
//! daemons are this test binary itself (`--test-daemon` makes it the test daemon), so nothing
//! outside this package is needed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Output, Stdio};
use std::time::{Duration, Instant};

use lifecycle_tests::harness::{free_port, is_alive, wait_exit};
use serde_json::Value;

const LIFECYCLE: &str = env!("CARGO_BIN_EXE_lifecycle");
const SPECS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../specs");

/// A state directory and a place for specs, and the daemons' binary (this one).
struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(LIFECYCLE);
        command
            .arg("--state-dir")
            .arg(self.state())
            .args(args)
            .env_remove("LIFECYCLE_STATE_DIR")
            .stdin(Stdio::null());
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        let output = self.command(args).output().unwrap();
        println!(
            "$ lifecycle {}\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    fn spec(&self, file: &str, text: &str) -> String {
        let path = self.dir.path().join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path.to_string_lossy().into_owned()
    }

    /// A daemon of this binary on `port`: HTTP readiness, `flags` for the test daemon.
    fn web(&self, file: &str, name: &str, extra: &str) -> String {
        self.spec(
            file,
            &format!(
                r#"name: {name}
instance: "{{port}}"
command:
  binary: "{{binary}}"
  args: ["--test-daemon", "--port", "{{port}}", "--print-lines", "3"]
  env: {{ TEST_DAEMON_FLAGS: "{{flags}}" }}
vars: {{ flags: "", binary: "{binary}" }}
readiness:
  probe: {{ http: "http://127.0.0.1:{{port}}/health" }}
  deadline: 10s
  backoff: {{ initial: 10ms, max: 100ms }}
{extra}"#,
                binary = daemon_binary()
            ),
        )
    }

    fn status_json(&self) -> Vec<Value> {
        let out = self.run(&["status", "--json"]);
        assert_eq!(out.status.code(), Some(0));
        lines_json(&out.stdout)
    }

    fn records(&self) -> usize {
        std::fs::read_dir(self.state().join("daemons"))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        // Whatever a failed test left running.
        let _ = self.command(&["status", "--json"]).output().map(|out| {
            for d in lines_json(&out.stdout) {
                if let Some(key) = d["key"].as_str() {
                    let _ = self.command(&["down", key, "--grace", "100ms"]).output();
                }
            }
        });
    }
}

fn daemon_binary() -> String {
    std::env::current_exe()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

fn lines_json(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn pid_of(env: &Env, key: &str) -> u32 {
    let status = env.status_json();
    let d = status
        .iter()
        .find(|d| d["key"] == key)
        .unwrap_or_else(|| panic!("{key} not in {status:?}"));
    d["pid"].as_u64().unwrap() as u32
}

// ---------------------------------------------------------------------------------------------

fn check_accepts_the_shipped_specs() {
    let env = Env::new();
    let out = env.run(&["check", SPECS, &format!("{SPECS}/workers")]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("queen.yaml (queen-rbee)"), "{stdout}");
    // A worker's model, port and device come from the command line.
    assert!(stdout.contains("vllm.yaml (vllm): needs --set"), "{stdout}");
    assert!(stdout.contains("model"), "{stdout}");
}

fn check_shows_the_line_and_a_caret() {
    let env = Env::new();
    let spec = env.spec(
        "bad.yaml",
        "command: { binary: x }\nreadiness:\n  probe: notify\n  backoff: { initial: 5s, max: 1s }\nstop:\n  - { signal: SIGFOO, grace: 1s }\n",
    );
    let out = env.run(&["check", &spec]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains(&format!("--> {spec}:4:23")), "{stderr}");
    assert!(
        stderr.contains("4 |   backoff: { initial: 5s, max: 1s }"),
        "{stderr}"
    );
    assert!(
        stderr.contains("  |                       ^^\n"),
        "{stderr}"
    );
    assert!(stderr.contains("error[signal]: stop[0].signal"), "{stderr}");
    assert!(stderr.contains("  |               ^^^^^^\n"), "{stderr}");
    assert!(stderr.contains("error: 2 problems found"), "{stderr}");
    assert!(out.stdout.is_empty());
}

fn bad_input_is_exit_2_and_starts_nothing() {
    let env = Env::new();
    let port = free_port().to_string();
    let web = env.web("web.yaml", "web", "");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["up", "Cargo.toml"], "not a spec"),
        (vec!["up", "no/such/dir"], "not a spec file or directory"),
        (vec!["up", &web], "--set port=VALUE"),
        (vec!["up", &web, "--set", "port"], "has no value"),
        (
            vec!["up", &web, "--set", "port=notaport", "--set", "po rt=1"],
            "not a variable name",
        ),
        (vec!["down", "nobody"], "no daemon named `nobody`"),
        (vec!["logs", "nobody"], "no daemon named `nobody`"),
        (vec!["down", "web", "--grace", "5"], "unit"),
        (vec!["frobnicate"], "unrecognized subcommand"),
    ];
    for (args, message) in cases {
        let out = env.run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let _ = port;
    assert_eq!(env.records(), 0, "nothing was started");
}

fn up_status_logs_down() {
    let env = Env::new();
    let port = free_port();
    let web = env.web("web.yaml", "web", "");
    let set = format!("port={port}");
    let key = format!("web@{port}");

    let out = env.run(&["up", &web, "--set", &set]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert!(stdout.contains(&format!("{key}: ready, pid")), "{stdout}");
    assert!(stdout.contains("stopped  -> starting"), "{stdout}");
    let pid = pid_of(&env, &key);
    assert!(is_alive(pid));

    // Again: nothing to do.
    let out = env.run(&["up", &web, "--set", &set]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("already running"));
    assert_eq!(pid_of(&env, &key), pid);

    let out = env.run(&["status"]);
    assert_eq!(out.status.code(), Some(0));
    let table = text(&out.stdout);
    let header = table.lines().next().unwrap();
    for column in ["NAME", "STATE", "PID", "UPTIME", "LOCATION", "READINESS"] {
        assert!(header.contains(column), "{table}");
    }
    let row = table.lines().find(|l| l.starts_with(&key)).unwrap();
    assert!(row.contains("ready"), "{row}");
    assert!(row.contains(&pid.to_string()), "{row}");
    assert!(row.contains("local"), "{row}");
    assert!(
        row.contains(&format!("http://127.0.0.1:{port}/health")),
        "{row}"
    );

    let status = env.status_json();
    assert_eq!(status.len(), 1);
    let d = &status[0];
    assert_eq!(d["name"], "web");
    assert_eq!(d["state"], "ready");
    assert_eq!(d["pid"], pid);
    assert_eq!(d["location"], "local");
    assert!(d["uptime_ms"].is_u64());

    let out = env.run(&["logs", "web", "-n", "2"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "line 2\nline 3\n");

    let out = env.run(&["down", "web"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains(&format!("{key}: stopped pid {pid}")));
    assert!(!is_alive(pid));
    assert!(env.status_json().is_empty());
    // Stopped is stopped: a second down is bad input (nothing of that name).
    assert_eq!(env.run(&["down", "web"]).status.code(), Some(2));
}

fn json_events_have_one_shape() {
    let env = Env::new();
    let port = free_port();
    let web = env.web("web.yaml", "web", "");
    let out = env.run(&["--json", "up", &web, "--set", &format!("port={port}")]);
    assert_eq!(out.status.code(), Some(0));
    let lines = lines_json(&out.stdout);
    let transitions: Vec<&Value> = lines.iter().filter(|l| l["type"] == "transition").collect();
    let events: Vec<&str> = transitions
        .iter()
        .map(|t| t["event"].as_str().unwrap())
        .collect();
    assert_eq!(events.first(), Some(&"start"), "{events:?}");
    assert!(events.contains(&"spawned"), "{events:?}");
    assert_eq!(events.last(), Some(&"probe_ok"), "{events:?}");
    for t in &transitions {
        assert_eq!(t["daemon"], format!("web@{port}"));
        for field in ["from", "to", "t_ms", "at_ms"] {
            assert!(!t[field].is_null(), "{field} in {t}");
        }
    }
    let spawned = transitions
        .iter()
        .find(|t| t["event"] == "spawned")
        .unwrap();
    let up = lines.iter().find(|l| l["type"] == "up").unwrap();
    assert_eq!(up["pid"], spawned["pid"]);
    assert_eq!(up["started"], true);
    assert!(up["elapsed_ms"].is_u64());

    let out = env.run(&["--json", "down", "web"]);
    assert_eq!(out.status.code(), Some(0));
    let lines = lines_json(&out.stdout);
    let down = lines.iter().find(|l| l["type"] == "down").unwrap();
    assert_eq!(down["result"], "stopped");
    assert_eq!(down["killed"], false);
    assert!(lines.iter().any(|l| l["event"] == "gone"));
}

fn an_edited_spec_is_recreated() {
    let env = Env::new();
    let port = free_port();
    let web = env.web("web.yaml", "web", "");
    let set = format!("port={port}");
    let key = format!("web@{port}");
    assert_eq!(env.run(&["up", &web, "--set", &set]).status.code(), Some(0));
    let first = pid_of(&env, &key);

    // The environment changes: left as it is with --no-recreate …
    let flags = "flags=--print-lines 1";
    let out = env.run(&["up", &web, "--set", &set, "--set", flags, "--no-recreate"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("left running (--no-recreate)"));
    assert_eq!(pid_of(&env, &key), first);

    // … recreated without.
    let out = env.run(&["up", &web, "--set", &set, "--set", flags]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!("{key}: recreating: its environment")),
        "{stdout}"
    );
    let second = pid_of(&env, &key);
    assert_ne!(second, first);
    assert!(!is_alive(first));

    // The command changes.
    env.web("web.yaml", "web", "");
    let edited = std::fs::read_to_string(&web)
        .unwrap()
        .replace("\"--print-lines\", \"3\"", "\"--print-lines\", \"4\"");
    std::fs::write(&web, edited).unwrap();
    let out = env.run(&["up", &web, "--set", &set, "--set", flags]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("recreating: its command changed"));
    assert!(!is_alive(second));
    assert_eq!(env.run(&["down", &key]).status.code(), Some(0));
}

fn down_stops_dependents_first_within_the_grace() {
    let env = Env::new();
    let (base_port, top_port) = (free_port(), free_port());
    let base = env.web(
        "base.yaml",
        "base",
        "stop:\n  - { signal: SIGTERM, grace: 30s }\n",
    );
    // The dependent ignores SIGTERM: only --grace keeps its stop short.
    let top = env.web(
        "top.yaml",
        "top",
        &format!(
            "stop:\n  - {{ signal: SIGTERM, grace: 30s }}\ndepends_on:\n  - spec: base.yaml\n    vars: {{ port: \"{base_port}\" }}\n"
        ),
    );
    let _ = base;
    let out = env.run(&[
        "up",
        &top,
        "--set",
        &format!("port={top_port}"),
        "--set",
        "flags=--ignore-sigterm",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let (base_key, top_key) = (format!("base@{base_port}"), format!("top@{top_port}"));
    let (base_pid, top_pid) = (pid_of(&env, &base_key), pid_of(&env, &top_key));

    let started = Instant::now();
    let out = env.run(&["down", "base", "--grace", "200ms"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let stdout = text(&out.stdout);
    let top_at = stdout.find(&format!("{top_key}: stop")).expect(&stdout);
    let base_at = stdout.find(&format!("{base_key}: stop")).expect(&stdout);
    assert!(top_at < base_at, "dependents first:\n{stdout}");
    assert!(stdout.contains("killed: its grace ran out"), "{stdout}");
    assert!(!is_alive(top_pid) && !is_alive(base_pid));
}

fn a_daemon_that_fails_is_exit_1() {
    let env = Env::new();
    let web = env.web("web.yaml", "web", "");
    let out = env.run(&[
        "up",
        &web,
        "--set",
        &format!("port={}", free_port()),
        "--set",
        "flags=--crash-at-start 7",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("exit code 7") || stderr.contains("exited"),
        "{stderr}"
    );
    assert!(stderr.contains("line 3"), "the log's tail: {stderr}");
}

fn logs_follow_what_is_written() {
    let env = Env::new();
    let port = free_port();
    let web = env.web("web.yaml", "web", "");
    assert_eq!(
        env.run(&["up", &web, "--set", &format!("port={port}")])
            .status
            .code(),
        Some(0)
    );
    let log = env.status_json()[0]["log"].as_str().unwrap().to_owned();
    let mut follower = env
        .command(&["logs", "web", "-f", "-n", "1"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(follower.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "line 3");
    // Appended after the follower began (as the daemon would).
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"written later\n"))
        .unwrap();
    assert_eq!(lines.next().unwrap().unwrap(), "written later");
    follower.kill().unwrap();
    follower.wait().unwrap();
    assert_eq!(env.run(&["down", "web"]).status.code(), Some(0));
}

/// Reads `child`'s standard output until a line contains `text`; returns the lines read.
fn read_until(child: &mut Child, text: &str) -> Vec<String> {
    let stdout = child.stdout.as_mut().unwrap();
    let mut reader = BufReader::new(stdout);
    let mut seen = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            panic!("output ended before `{text}`: {seen:#?}");
        }
        print!("{line}");
        let found = line.contains(text);
        seen.push(line);
        if found {
            return seen;
        }
    }
}

fn run_stops_everything_on_sigint() {
    let env = Env::new();
    let (base_port, top_port) = (free_port(), free_port());
    env.web("base.yaml", "base", "");
    let top = env.web(
        "top.yaml",
        "top",
        &format!("depends_on:\n  - spec: base.yaml\n    vars: {{ port: \"{base_port}\" }}\n"),
    );
    for signal in [
        nix::sys::signal::Signal::SIGINT,
        nix::sys::signal::Signal::SIGTERM,
    ] {
        let mut run = env
            .command(&["--json", "run", &top, "--set", &format!("port={top_port}")])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let seen = read_until(&mut run, "\"running\"");
        let pids: Vec<u32> = seen
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["event"] == "spawned")
            .map(|v| v["pid"].as_u64().unwrap() as u32)
            .collect();
        assert_eq!(pids.len(), 2, "{seen:?}");
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(run.id() as i32), signal).unwrap();
        let status = run.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{signal}");
        for pid in pids {
            assert!(
                wait_exit(pid, Duration::from_secs(1)),
                "{pid} left running after {signal}"
            );
        }
        assert!(env.status_json().is_empty());
    }
}

fn run_restarts_a_crashed_daemon() {
    let env = Env::new();
    let port = free_port();
    let web = env.web(
        "web.yaml",
        "web",
        "restart: { policy: on-failure, backoff: { initial: 100ms, max: 1s } }\n",
    );
    // Ready, then exits 1 after 300 ms: restarted after its backoff.
    let mut run = env
        .command(&[
            "--json",
            "run",
            &web,
            "--set",
            &format!("port={port}"),
            "--set",
            "flags=--exit-after 300",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    read_until(&mut run, "\"running\"");
    let seen = read_until(&mut run, "\"restart_due\"");
    assert!(
        seen.iter()
            .any(|l| l.contains("\"exited\"") && l.contains("\"attempt\":1")),
        "{seen:?}"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(run.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    assert_eq!(run.wait().unwrap().code(), Some(0));
    assert!(env.status_json().is_empty());
}

fn schema_prints_the_committed_schema() {
    let env = Env::new();
    let out = env.run(&["schema"]);
    assert_eq!(out.status.code(), Some(0));
    let committed = std::fs::read_to_string(format!("{SPECS}/schema.json")).unwrap();
    assert_eq!(text(&out.stdout), committed);
}

fn export_systemd_prints_a_unit_and_warnings() {
    let env = Env::new();
    let out = env.run(&[
        "export",
        "systemd",
        &format!("{SPECS}/workers/vllm.yaml"),
        "--set",
        "model=m",
        "--set",
        "port=8080",
        "--set",
        "device=cpu",
        "--set",
        &format!("binary={}", daemon_binary()),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let unit = text(&out.stdout);
    assert!(unit.contains("[Service]"), "{unit}");
    assert!(unit.contains("ExecStart="), "{unit}");
    assert!(
        text(&out.stderr).contains("warning:"),
        "HTTP readiness is not expressible"
    );
}

fn a_recreation_that_would_stop_others_is_refused() {
    let env = Env::new();
    let base_port = free_port();
    let base = env.web("base.yaml", "base", "");
    let dependent = |file: &str, name: &str| {
        env.web(
            file,
            name,
            &format!("depends_on:\n  - spec: base.yaml\n    vars: {{ port: \"{base_port}\" }}\n"),
        )
    };
    let (t1, t2) = (dependent("t1.yaml", "t1"), dependent("t2.yaml", "t2"));
    let (p1, p2) = (free_port(), free_port());
    assert_eq!(
        env.run(&["up", &t1, "--set", &format!("port={p1}")])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        env.run(&["up", &t2, "--set", &format!("port={p2}")])
            .status
            .code(),
        Some(0)
    );
    let base_key = format!("base@{base_port}");
    let (base_pid, t2_pid) = (pid_of(&env, &base_key), pid_of(&env, &format!("t2@{p2}")));
    // The shared dependency's spec is edited: recreating it for t1 would stop t2.
    let edited = std::fs::read_to_string(&base).unwrap().replace(
        "env: { TEST_DAEMON_FLAGS",
        "env: { EDITED: \"1\", TEST_DAEMON_FLAGS",
    );
    std::fs::write(&base, edited).unwrap();
    let out = env.run(&["up", &t1, "--set", &format!("port={p1}")]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("recreating it would stop t2@{p2}")),
        "{stderr}"
    );
    assert!(
        is_alive(base_pid) && is_alive(t2_pid),
        "nothing was stopped"
    );
    // Named together, they are recreated together.
    let out = env.run(&["up", &t1, &t2, "--set", &format!("port={p1}")]);
    let _ = out;
    assert_eq!(env.run(&["down", "base"]).status.code(), Some(0));
}

fn run_whose_start_fails_leaves_nothing() {
    let env = Env::new();
    let base_port = free_port();
    env.web("base.yaml", "base", "");
    let top = env.web(
        "top.yaml",
        "top",
        &format!("depends_on:\n  - spec: base.yaml\n    vars: {{ port: \"{base_port}\" }}\n"),
    );
    let out = env.run(&[
        "--json",
        "run",
        &top,
        "--set",
        &format!("port={}", free_port()),
        "--set",
        "flags=--crash-at-start 3",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let lines = lines_json(&out.stdout);
    let pids: Vec<u32> = lines
        .iter()
        .filter(|l| l["event"] == "spawned")
        .map(|l| l["pid"].as_u64().unwrap() as u32)
        .collect();
    assert_eq!(pids.len(), 2, "base and top were spawned: {lines:?}");
    for pid in pids {
        assert!(wait_exit(pid, Duration::from_secs(1)), "{pid} left running");
    }
    assert!(env.status_json().is_empty());
}

/// The tests by name.
macro_rules! tests {
    ($($test:ident),* $(,)?) => {
        [$((stringify!($test), $test as fn())),*]
    };
}

fn main() -> ExitCode {
    lifecycle_tests::daemon::run_if_requested();
    let tests: &[(&str, fn())] = &tests![
        check_accepts_the_shipped_specs,
        check_shows_the_line_and_a_caret,
        bad_input_is_exit_2_and_starts_nothing,
        up_status_logs_down,
        json_events_have_one_shape,
        an_edited_spec_is_recreated,
        down_stops_dependents_first_within_the_grace,
        a_daemon_that_fails_is_exit_1,
        logs_follow_what_is_written,
        run_stops_everything_on_sigint,
        run_restarts_a_crashed_daemon,
        schema_prints_the_committed_schema,
        export_systemd_prints_a_unit_and_warnings,
        a_recreation_that_would_stop_others_is_refused,
        run_whose_start_fails_leaves_nothing,
    ];
    run_tests(tests)
}

/// A minimal libtest: `--list` (for nextest), a name filter (`--exact` for a whole name).
fn run_tests(tests: &[(&str, fn())]) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        if !args.iter().any(|a| a == "--ignored") {
            for (name, _) in tests {
                println!("{name}: test");
            }
        }
        return ExitCode::SUCCESS;
    }
    if args.iter().any(|a| a == "--ignored") {
        return ExitCode::SUCCESS;
    }
    let exact = args.iter().any(|a| a == "--exact");
    let filter = args.iter().find(|a| !a.starts_with('-'));
    let chosen: Vec<_> = tests
        .iter()
        .filter(|(name, _)| match filter {
            Some(f) if exact => name == f,
            Some(f) => name.contains(f.as_str()),
            None => true,
        })
        .collect();
    println!("\nrunning {} tests", chosen.len());
    let mut failed = Vec::new();
    let passed_of = chosen.len();
    for (name, test) in chosen {
        let started = Instant::now();
        let result = std::panic::catch_unwind(test);
        let verdict = if result.is_ok() { "ok" } else { "FAILED" };
        println!(
            "test {name} ... {verdict} ({:.1}s)",
            started.elapsed().as_secs_f64()
        );
        if result.is_err() {
            failed.push(*name);
        }
    }
    let passed = passed_of - failed.len();
    if failed.is_empty() {
        println!("\ntest result: ok. {passed} passed");
        ExitCode::SUCCESS
    } else {
        println!(
            "\nfailures: {failed:?}\ntest result: FAILED. {} failed",
            failed.len()
        );
        ExitCode::FAILURE
    }
}
