//! `lifecycle export systemd`: the units made from the shipped specs and from small specs, and,
//! where `systemd-analyze` is installed, that systemd loads them without a complaint.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    missing_docs
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use lifecycle_cli::SpecHandle;
use lifecycle_cli::systemd::{ExportError, Target, Unit, export};
use lifecycle_core::error::PlanError;

/// The workspace's root.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// A handle of the spec at `path` (named `display`) with `vars` given as `--set` would.
fn handle_at(path: &Path, display: &str, vars: &[(&str, &str)]) -> SpecHandle {
    let fields: Vec<&str> = vars.iter().map(|(name, _)| *name).collect();
    let spec = match lifecycle_spec::load_spec(path, display, &fields).result {
        Ok(spec) => spec,
        Err(errors) => panic!("{display}: {errors}"),
    };
    let values = vars
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    SpecHandle::new(spec, values)
}

/// A handle of a shipped spec (`specs/…`).
fn shipped(rel: &str, vars: &[(&str, &str)]) -> SpecHandle {
    handle_at(&root().join(rel), rel, vars)
}

/// A handle of `yaml`, written as `file` in `dir`.
fn written(dir: &Path, file: &str, yaml: &str, vars: &[(&str, &str)]) -> SpecHandle {
    let path = dir.join(file);
    std::fs::write(&path, yaml).unwrap();
    handle_at(&path, file, vars)
}

/// Where the unit's stop commands find `name`: `/usr/bin`, else `/bin`.
fn tool(name: &str) -> String {
    ["/usr/bin", "/bin"]
        .iter()
        .map(|dir| format!("{dir}/{name}"))
        .find(|path| Path::new(path).is_file())
        .unwrap_or_else(|| panic!("{name} is not installed"))
}

/// The unit's lines that start with `key=`, values only.
fn values<'a>(unit: &'a Unit, key: &str) -> Vec<&'a str> {
    unit.text
        .lines()
        .filter_map(|line| line.strip_prefix(key)?.strip_prefix('='))
        .collect()
}

/// The words of a command line or an `Environment=` value as systemd reads them back: each
/// double-quoted, C escapes, `%%` → `%`, and `$$` → `$` in a command's arguments (`dollars`).
/// Panics on anything the exporter should never write (an unquoted word, a lone `%` or `$`).
fn unquote(line: &str, dollars: bool) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(open) = chars.next() {
        assert_eq!(open, '"', "every word is quoted: {line}");
        let mut word = String::new();
        loop {
            match chars.next().expect("unterminated word") {
                '"' => break,
                '\\' => match chars.next().unwrap() {
                    '\\' => word.push('\\'),
                    '"' => word.push('"'),
                    'n' => word.push('\n'),
                    't' => word.push('\t'),
                    other => panic!("unexpected escape \\{other} in {line}"),
                },
                '%' => {
                    assert_eq!(chars.next(), Some('%'), "a lone % in {line}");
                    word.push('%');
                }
                '$' if dollars && !words.is_empty() => {
                    assert_eq!(chars.next(), Some('$'), "a lone $ in {line}");
                    word.push('$');
                }
                c => {
                    assert!(!c.is_control(), "a raw control character in {line:?}");
                    word.push(c);
                }
            }
        }
        words.push(word);
        match chars.next() {
            None => break,
            Some(' ') => {}
            Some(other) => panic!("words are separated by one space, found {other:?}: {line}"),
        }
    }
    words
}

/// Runs `systemd-analyze verify` on `unit` written in a directory of its own beside a stub
/// unit for each name of `stubs` (the units it requires). Skipped, with a note, where
/// `systemd-analyze` is not installed. It must exit 0 and say nothing about the unit or its
/// directory (the machine may add notes of its own, about its own configuration).
fn verify(unit: &Unit, stubs: &[&str], target: Target) {
    if let Err(problem) = analyze(unit, stubs, target) {
        panic!("{problem}\n{}", unit.text);
    }
}

/// Whether `systemd-analyze` is installed (systemd 252 is here; CI may have none).
fn has_systemd_analyze() -> bool {
    Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success())
}

/// What [`verify`] checks: `Ok` when the unit passes or `systemd-analyze` is not installed,
/// else what is wrong.
fn analyze(unit: &Unit, stubs: &[&str], target: Target) -> Result<(), String> {
    if !has_systemd_analyze() {
        println!(
            "systemd-analyze is not installed: skipped verifying {}",
            unit.name
        );
        return Ok(());
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(&unit.name);
    std::fs::write(&file, &unit.text).unwrap();
    for stub in stubs {
        std::fs::write(
            dir.path().join(stub),
            "[Service]\nExecStart=/bin/sleep infinity\n",
        )
        .unwrap();
    }
    let runtime = dir.path().join("runtime");
    std::fs::create_dir(&runtime).unwrap();
    let mut command = Command::new("systemd-analyze");
    if target == Target::User {
        // The user manager wants a runtime directory of its own.
        command.arg("--user").env("XDG_RUNTIME_DIR", &runtime);
    }
    let out = command
        .args(["verify", "--man=no"])
        .arg(&file)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let dir_text = dir.path().display().to_string();
    let about_unit = said
        .lines()
        .any(|line| line.contains(&unit.name) || line.contains(&dir_text));
    if !out.status.success() || about_unit {
        return Err(format!(
            "systemd-analyze verify {} ({target:?}) failed ({}):\n{said}",
            unit.name, out.status
        ));
    }
    if !said.trim().is_empty() {
        println!("systemd-analyze verify {}: {said}", unit.name);
    }
    Ok(())
}

#[test]
fn the_queen() {
    let queen = shipped(
        "specs/queen.yaml",
        &[("binary", "/usr/local/bin/queen-rbee")],
    );
    let unit = export(&queen, Target::System).unwrap();
    assert_eq!(unit.name, "queen-rbee.service");
    let warnings = [
        "command.inherit_env: true: a system service does not inherit the environment of \
         whoever starts it, only the service manager's few variables (PATH, LANG, …; no HOME or \
         USER): set what the daemon needs under command.env",
        "readiness probe http://127.0.0.1:7833/health is not expressible: systemd considers \
         the service started once exec'd (Type=exec)",
    ];
    assert_eq!(unit.warnings, warnings);
    let expected = format!(
        "\
# Generated by `lifecycle export systemd specs/queen.yaml --set binary=/usr/local/bin/queen-rbee`.
# Change the spec and export it again rather than editing this file.
# warning: {}
# warning: {}

[Unit]
Description=queen-rbee (lifecycle spec specs/queen.yaml)

[Service]
Type=exec
ExecStart=\"/usr/local/bin/queen-rbee\" \"--port\" \"7833\"
Environment=\"RUST_LOG=info\"
StandardOutput=journal
StandardError=journal
TimeoutStartSec=30s
Restart=no
KillMode=control-group
KillSignal=SIGTERM
TimeoutStopSec=5s
SendSIGKILL=yes

[Install]
WantedBy=multi-user.target
",
        warnings[0], warnings[1]
    );
    assert_eq!(unit.text, expected);

    // A port given on the command line reaches the arguments (the probe is not in the unit).
    let on_9000 = shipped(
        "specs/queen.yaml",
        &[("binary", "/usr/local/bin/queen-rbee"), ("port", "9000")],
    );
    let unit = export(&on_9000, Target::System).unwrap();
    assert_eq!(
        values(&unit, "ExecStart"),
        [r#""/usr/local/bin/queen-rbee" "--port" "9000""#]
    );
    assert!(unit.text.starts_with(
        "# Generated by `lifecycle export systemd specs/queen.yaml --set \
         binary=/usr/local/bin/queen-rbee --set port=9000`.\n"
    ));
}

/// The vLLM worker: a two-step chain (SIGINT 20s, then SIGTERM 10s), restarted on failure,
/// after the queen, probed over HTTP.
fn vllm(binary: &str) -> SpecHandle {
    shipped(
        "specs/workers/vllm.yaml",
        &[
            ("binary", binary),
            ("model", "meta-llama/Llama-3-8B"),
            ("port", "8080"),
            ("device", "cuda:0"),
        ],
    )
}

#[test]
fn the_vllm_worker() {
    let unit = export(&vllm("/opt/vllm/bin/vllm"), Target::System).unwrap();
    assert_eq!(unit.name, "vllm@8080.service");
    let warnings = [
        "command.inherit_env: true: a system service does not inherit the environment of \
         whoever starts it, only the service manager's few variables (PATH, LANG, …; no HOME or \
         USER): set what the daemon needs under command.env",
        "readiness probe http://127.0.0.1:8080/health is not expressible: systemd considers \
         the service started once exec'd (Type=exec)",
        "restart.backoff: the delay grows ×2 from 1s up to 30s; the unit restarts after 1s each \
         time (RestartSteps= and RestartMaxDelaySec= need systemd 254 and are not written)",
        "stop: TimeoutStopSec= bounds each ExecStop= command as well as the last step, so the \
         last step (SIGTERM) waits up to 21s (not 10s) before SIGKILL",
        "depends_on queen-rbee.service (wait: healthy): After= waits for its start job, which \
         ends once it is exec'd (http probe), not once healthy",
        "logs (dir, max_size, keep) are not used: the journal takes the output \
         (StandardOutput=journal; its size is journald.conf's SystemMaxUse=)",
    ];
    assert_eq!(unit.warnings, warnings);
    let (kill, timeout, tail) = (tool("kill"), tool("timeout"), tool("tail"));
    let header: String = warnings
        .iter()
        .map(|w| format!("# warning: {w}\n"))
        .collect();
    let expected = format!(
        "\
# Generated by `lifecycle export systemd specs/workers/vllm.yaml --set binary=/opt/vllm/bin/vllm --set device=cuda:0 --set model=meta-llama/Llama-3-8B --set port=8080`.
# Change the spec and export it again rather than editing this file.
{header}
[Unit]
Description=vllm@8080 (lifecycle spec specs/workers/vllm.yaml)
After=queen-rbee.service
Requires=queen-rbee.service
# restart.max 3 (restarts in a row; running 5min resets the count), approximated: at most 4 starts within 5min, manual ones included
StartLimitIntervalSec=5min
StartLimitBurst=4

[Service]
Type=exec
ExecStart=\"/opt/vllm/bin/vllm\" \"serve\" \"meta-llama/Llama-3-8B\" \"--port\" \"8080\" \"--device\" \"cuda:0\"
Environment=\"VLLM_LOGGING_LEVEL=INFO\"
StandardOutput=journal
StandardError=journal
TimeoutStartSec=10min
Restart=on-failure
# lifecycle restarts after a death by any signal; systemd counts these four as a clean exit
RestartForceExitStatus=SIGHUP SIGINT SIGTERM SIGPIPE
RestartSec=1s
KillMode=control-group
ExecStop=-{kill} -s INT -- -${{MAINPID}}
ExecStop=-{kill} -s CONT -- -${{MAINPID}}
ExecStop=-{timeout} 20s {tail} --pid=${{MAINPID}} -s 0.1 -f /dev/null
KillSignal=SIGTERM
TimeoutStopSec=21s
SendSIGKILL=yes

[Install]
WantedBy=multi-user.target
"
    );
    assert_eq!(unit.text, expected);
}

#[test]
fn the_vllm_worker_for_a_user() {
    let unit = export(&vllm("/opt/vllm/bin/vllm"), Target::User).unwrap();
    // The user manager passes its environment on: no warning about inheriting it.
    assert!(!unit.warnings.iter().any(|w| w.contains("inherit_env")));
    assert_eq!(unit.warnings.len(), 5);
    assert!(unit.text.contains(" --set port=8080 --user`.\n"));
    assert!(
        unit.text
            .ends_with("\n[Install]\nWantedBy=default.target\n")
    );
}

#[test]
fn the_shipped_specs_load_in_systemd() {
    let queen = export(
        &shipped("specs/queen.yaml", &[("binary", "/bin/sleep")]),
        Target::System,
    )
    .unwrap();
    verify(&queen, &[], Target::System);
    verify(&queen, &[], Target::User);
    for target in [Target::System, Target::User] {
        let worker = export(&vllm("/bin/sleep"), target).unwrap();
        verify(&worker, &["queen-rbee.service"], target);
    }
}

#[test]
fn notify_readiness_is_type_notify() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "\
name: echo
instance: \"{where}\"
command: { binary: /bin/sleep, args: [infinity] }
vars: { where: \"gpu 1/a.b-c\" }
readiness: { probe: notify, deadline: 1m30s }
stop: [{ signal: SIGINT, grace: 0s }]
restart: { policy: always, max: 10, backoff: { initial: 1500ms, max: 1500ms }, reset_after: 2h }
";
    let handle = written(dir.path(), "echo.yaml", yaml, &[]);
    let unit = export(&handle, Target::User).unwrap();
    // An instance keeps [A-Za-z0-9:_.-], any other byte is \xNN (as systemd-escape writes it).
    assert_eq!(unit.name, r"echo@gpu\x201\x2fa.b-c.service");
    assert_eq!(values(&unit, "Type"), ["notify"]);
    assert_eq!(values(&unit, "NotifyAccess"), ["main"]);
    assert_eq!(values(&unit, "TimeoutStartSec"), ["1min 30s"]);
    assert_eq!(values(&unit, "Restart"), ["always"]);
    assert!(values(&unit, "RestartForceExitStatus").is_empty());
    assert_eq!(values(&unit, "RestartSec"), ["1500ms"]);
    assert_eq!(values(&unit, "StartLimitBurst"), ["11"]);
    assert_eq!(values(&unit, "StartLimitIntervalSec"), ["2h"]);
    assert_eq!(values(&unit, "KillSignal"), ["SIGINT"]);
    // A grace of zero: `TimeoutStopSec=0` would mean no timeout at all.
    assert_eq!(values(&unit, "TimeoutStopSec"), ["1ms"]);
    assert_eq!(
        values(&unit, "Description"),
        ["echo@gpu 1/a.b-c (lifecycle spec echo.yaml)"]
    );
    // Notify is expressible, the backoff does not grow, the user manager passes its
    // environment: nothing to warn about.
    assert_eq!(unit.warnings, Vec::<String>::new());
    verify(&unit, &[], Target::User);
    verify(&unit, &[], Target::System);
}

#[test]
fn values_reach_the_daemon_as_they_are() {
    let dir = tempfile::tempdir().unwrap();
    // A real program at a path with a space, `$` and `%`: systemd runs the first word as written
    // (no `$$`), so the verify below finds it only if it is written right.
    let bin_dir = dir.path().join("a dir $HOME %n");
    std::fs::create_dir(&bin_dir).unwrap();
    let binary = bin_dir.join("sleep");
    std::os::unix::fs::symlink("/bin/sleep", &binary).unwrap();
    let binary = binary.to_str().unwrap().to_owned();
    let tricky = [
        "two words",
        "say \"hi\"",
        "it's",
        "$HOME",
        "${HOME}",
        "$$",
        "100%",
        "%n %i %%",
        r"back\slash\\",
        r"\n is not a newline",
        "a\nnewline",
        "a\ttab",
        ";",
        "",
        "-dash",
        "é ü ∞",
        "trailing\\",
    ];
    let args: Vec<String> = tricky
        .iter()
        .enumerate()
        .map(|(i, _)| format!("\"{{a{i}}}\""))
        .collect();
    let yaml = format!(
        "command:\n  binary: \"{{bin}}\"\n  args: [{}]\n  env: {{ ODD: \"{{odd}}\", PLAIN: x }}\n",
        args.join(", ")
    );
    let names: Vec<String> = (0..tricky.len()).map(|i| format!("a{i}")).collect();
    let odd = "$HOME ${HOME} 100% %n \"q\" 'q' back\\slash\nline\ttab";
    let mut vars: Vec<(&str, &str)> = names
        .iter()
        .map(String::as_str)
        .zip(tricky.iter().copied())
        .collect();
    vars.push(("bin", &binary));
    vars.push(("odd", odd));
    let handle = written(dir.path(), "tricky.yaml", &yaml, &vars);
    let unit = export(&handle, Target::System).unwrap();

    let exec_start = values(&unit, "ExecStart");
    assert_eq!(exec_start.len(), 1);
    let expected_line = format!(
        "\"{}\" {}",
        binary.replace('%', "%%"),
        concat!(
            r#""two words" "say \"hi\"" "it's" "$$HOME" "$${HOME}" "$$$$" "100%%" "%%n %%i %%%%" "#,
            r#""back\\slash\\\\" "\\n is not a newline" "a\nnewline" "a\ttab" ";" "" "-dash" "#,
            r#""é ü ∞" "trailing\\""#
        )
    );
    assert_eq!(exec_start[0], expected_line);
    let mut words = vec![binary.clone()];
    words.extend(tricky.iter().map(|s| s.to_string()));
    assert_eq!(unquote(exec_start[0], true), words);

    // In `Environment=`, `$` means nothing: it stays; `%` is doubled.
    let env = values(&unit, "Environment");
    assert_eq!(
        env,
        [
            r#""ODD=$HOME ${HOME} 100%% %%n \"q\" 'q' back\\slash\nline\ttab""#,
            r#""PLAIN=x""#
        ]
    );
    assert_eq!(unquote(env[0], false), [format!("ODD={odd}")]);
    assert_eq!(unquote(env[1], false), ["PLAIN=x"]);
    verify(&unit, &[], Target::System);
}

#[test]
fn control_characters_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "command: { binary: \"{bin}\", args: [\"{arg}\"], env: { V: \"{env}\" } }\n";
    let cases = [
        ("/bin/sleep", "bell\u{7}", "ok", "command.args"),
        ("/bin/sleep", "ok", "carriage\rreturn", "command.env"),
        ("/bin/sle\nep", "ok", "ok", "command.binary"),
    ];
    for (bin, arg, env, field) in cases {
        let vars = [("bin", bin), ("arg", arg), ("env", env)];
        let handle = written(dir.path(), "c.yaml", yaml, &vars);
        match export(&handle, Target::System) {
            Err(ExportError::Invalid(PlanError::Invalid {
                field: found,
                problem,
                ..
            })) => {
                assert_eq!(found, field);
                assert_eq!(problem, "contains control characters");
            }
            other => panic!("{field}: {other:?}"),
        }
    }
    let err = export(
        &written(
            dir.path(),
            "c.yaml",
            yaml,
            &[("bin", "/bin/sleep"), ("arg", "\u{1b}[31m"), ("env", "")],
        ),
        Target::System,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "--> c.yaml:1:36: daemon `c`: command.args is `\\u{1b}[31m`: contains control characters"
    );
}

#[test]
fn an_http_stop_step_is_dropped_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "\
command: { binary: /bin/sleep, args: [infinity] }
stop:
  - { http: { post: \"http://127.0.0.1:{port}/shutdown\" }, grace: 3s }
  - { signal: SIGTERM, grace: 2s }
vars: { port: 7000 }
";
    let unit = export(&written(dir.path(), "h.yaml", yaml, &[]), Target::User).unwrap();
    assert_eq!(
        unit.warnings,
        [
            "stop: the HTTP step (POST http://127.0.0.1:7000/shutdown) is not expressible without \
          a shell or an HTTP client: dropped"
        ]
    );
    assert!(values(&unit, "ExecStop").is_empty());
    assert_eq!(values(&unit, "KillSignal"), ["SIGTERM"]);
    assert_eq!(values(&unit, "TimeoutStopSec"), ["2s"]);
    assert!(unit.text.contains(
        "\n# warning: stop: the HTTP step (POST http://127.0.0.1:7000/shutdown) is not \
         expressible without a shell or an HTTP client: dropped\n"
    ));
    verify(&unit, &[], Target::User);

    // Only the HTTP step: SIGTERM stands in for it, with its grace.
    let only = "command: { binary: /bin/sleep }\nstop: [{ http: { post: \"http://127.0.0.1:1/x\" }, grace: 4s }]\n";
    let unit = export(&written(dir.path(), "only.yaml", only, &[]), Target::User).unwrap();
    assert_eq!(unit.warnings.len(), 2);
    assert_eq!(
        unit.warnings[1],
        "stop: with no signal step left, the unit is stopped with SIGTERM, then SIGKILL after 4s"
    );
    assert_eq!(values(&unit, "KillSignal"), ["SIGTERM"]);
    assert_eq!(values(&unit, "TimeoutStopSec"), ["4s"]);
}

#[test]
fn a_longer_chain_becomes_exec_stop_lines() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "\
command: { binary: /bin/sleep, args: [infinity] }
stop:
  - { signal: SIGHUP, grace: 0s }
  - { signal: SIGUSR1, grace: 1500ms }
  - { signal: SIGQUIT, grace: 10s }
";
    let unit = export(&written(dir.path(), "s.yaml", yaml, &[]), Target::User).unwrap();
    let (kill, timeout, tail) = (tool("kill"), tool("timeout"), tool("tail"));
    assert_eq!(
        values(&unit, "ExecStop"),
        [
            format!("-{kill} -s HUP -- -${{MAINPID}}"),
            format!("-{kill} -s CONT -- -${{MAINPID}}"),
            // No wait after a step of no grace.
            format!("-{kill} -s USR1 -- -${{MAINPID}}"),
            format!("-{kill} -s CONT -- -${{MAINPID}}"),
            format!("-{timeout} 1.500s {tail} --pid=${{MAINPID}} -s 0.1 -f /dev/null"),
        ]
    );
    assert_eq!(values(&unit, "KillSignal"), ["SIGQUIT"]);
    // The last grace is longer than every earlier wait: exact, no warning.
    assert_eq!(values(&unit, "TimeoutStopSec"), ["10s"]);
    assert_eq!(values(&unit, "KillMode"), ["control-group"]);
    assert_eq!(values(&unit, "SendSIGKILL"), ["yes"]);
    assert_eq!(unit.warnings, Vec::<String>::new());
    verify(&unit, &[], Target::User);
}

#[test]
fn dependencies_are_named_by_their_keys() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("db.yaml"),
        "command: { binary: /bin/sleep, args: [\"{port}\"] }\ninstance: \"{host}:{port}\"\n\
         vars: { port: 5432, host: \"db one\" }\nreadiness: { probe: notify }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("cache.yaml"),
        "command: { binary: /bin/sleep, args: [infinity] }\nreadiness: { probe: { tcp: \"127.0.0.1:6379\" } }\n",
    )
    .unwrap();
    let yaml = "\
command: { binary: /bin/sleep, args: [infinity] }
vars: { db_port: 6000 }
depends_on:
  - { spec: db.yaml, vars: { port: \"{db_port}\" } }
  - { spec: cache.yaml, wait: started }
  - cache.yaml
";
    let handle = written(dir.path(), "app.yaml", yaml, &[("db_port", "7000")]);
    let unit = export(&handle, Target::System).unwrap();
    // The dependency's instance, rendered with the values bound by this spec (`db_port`, given
    // on the command line) and its own defaults (`host`), escaped.
    let db = r"db@db\x20one:7000.service";
    assert_eq!(
        values(&unit, "After"),
        [db, "cache.service", "cache.service"]
    );
    assert_eq!(
        values(&unit, "Requires"),
        [db, "cache.service", "cache.service"]
    );
    // `healthy` on a notify probe is exact; `started` is too; `healthy` on a TCP probe is not.
    assert_eq!(
        unit.warnings[1..],
        [
            "depends_on cache.service (wait: healthy): After= waits for its start job, which ends \
          once it is exec'd (tcp probe), not once healthy"
        ]
    );
    verify(&unit, &[db, "cache.service"], Target::System);

    // A value this spec binds for a dependency needs a value itself.
    let path = dir.path().join("app2.yaml");
    std::fs::write(
        &path,
        "command: { binary: /bin/sleep }\ndepends_on: [{ spec: db.yaml, vars: { port: \"{db_port}\" } }]\n",
    )
    .unwrap();
    let spec = lifecycle_spec::load_spec(&path, "app2.yaml", &["db_port"])
        .result
        .unwrap();
    let err = export(&SpecHandle::new(spec, Default::default()), Target::System);
    assert!(
        matches!(&err, Err(ExportError::Var(var)) if var.var == "db_port" && var.spec == "app2"),
        "{err:?}"
    );
}

#[test]
fn binaries_are_resolved_now() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "command: { binary: \"{bin}\" }\n";
    let with = |bin: &str| {
        export(
            &written(dir.path(), "b.yaml", yaml, &[("bin", bin)]),
            Target::User,
        )
    };

    // A bare name: found in $PATH, written as an absolute path.
    let unit = with("sleep").unwrap();
    let exec = values(&unit, "ExecStart")[0];
    assert!(
        exec.starts_with("\"/") && exec.ends_with("/sleep\""),
        "{exec}"
    );
    assert!(unit.warnings.is_empty(), "{:?}", unit.warnings);

    // Nowhere: an error that says where it looked.
    match with("no-such-program-anywhere") {
        Err(ExportError::BinaryNotFound(err)) => {
            assert_eq!(err.binary, "no-such-program-anywhere");
            assert!(
                err.searched
                    .contains(&PathBuf::from("target/debug/no-such-program-anywhere"))
            );
        }
        other => panic!("{other:?}"),
    }

    // The workspace's own build (this package's binary, built for its tests): used, with a
    // warning, when it is not in $PATH. (A target directory outside the workspace, set other
    // than by $CARGO_TARGET_DIR, is not looked in: then there is nothing to check.)
    let in_path = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .any(|d| d.join("lifecycle").is_file());
    match with("lifecycle") {
        _ if in_path => println!("`lifecycle` is in $PATH: skipped the target/ lookup"),
        Err(ExportError::BinaryNotFound(err)) => {
            println!("the build of `lifecycle` is not under target/: skipped ({err})")
        }
        found => {
            let unit = found.unwrap();
            let exec = values(&unit, "ExecStart")[0];
            assert!(exec.ends_with("/lifecycle\""), "{exec}");
            assert_eq!(unit.warnings.len(), 1);
            assert!(unit.warnings[0].starts_with(
                "command.binary `lifecycle` is not in $PATH: the unit runs the workspace's build /"
            ));
        }
    }

    // A relative path: made absolute against the current directory, with a warning.
    let unit = with("bin/tool").unwrap();
    let absolute = std::env::current_dir().unwrap().join("bin/tool");
    assert_eq!(
        values(&unit, "ExecStart"),
        [format!("\"{}\"", absolute.display())]
    );
    assert_eq!(unit.warnings.len(), 1);

    // A directory is no program.
    assert!(matches!(
        with("/usr/bin/"),
        Err(ExportError::Invalid(PlanError::Invalid { field, .. })) if field == "command.binary"
    ));
}

#[test]
fn the_inherited_environment() {
    let dir = tempfile::tempdir().unwrap();
    let listed = written(
        dir.path(),
        "l.yaml",
        "command: { binary: /bin/sleep, inherit_env: [PATH, HOME, NOTIFY_SOCKET] }\n",
        &[],
    );
    let unit = export(&listed, Target::System).unwrap();
    assert_eq!(values(&unit, "PassEnvironment"), ["PATH HOME"]);
    assert_eq!(
        unit.warnings,
        [
            "command.inherit_env: [PATH, HOME] is written PassEnvironment=, which passes these from \
          the service manager's environment, not from the environment of whoever starts the \
          service"
        ]
    );
    verify(&unit, &[], Target::System);
    let unit = export(&listed, Target::User).unwrap();
    assert!(values(&unit, "PassEnvironment").is_empty());
    assert_eq!(
        unit.warnings,
        [
            "command.inherit_env: [PATH, HOME, NOTIFY_SOCKET] is not expressible: the user service \
          manager passes its whole environment to its services"
        ]
    );

    let none = written(
        dir.path(),
        "n.yaml",
        "command: { binary: /bin/sleep, inherit_env: false }\n",
        &[],
    );
    let unit = export(&none, Target::System).unwrap();
    assert!(values(&unit, "PassEnvironment").is_empty());
    assert!(unit.warnings.is_empty());
    let unit = export(&none, Target::User).unwrap();
    assert_eq!(
        unit.warnings,
        [
            "command.inherit_env: false is not expressible: the user service manager passes its \
          whole environment to its services"
        ]
    );
}

#[test]
fn an_ssh_location_is_dropped_with_a_warning() {
    let hive = |host: &str| {
        export(
            &shipped(
                "specs/hive.yaml",
                &[("binary", "/usr/local/bin/rbee-hive"), ("host", host)],
            ),
            Target::User,
        )
        .unwrap()
    };
    let remote = hive("gpu1");
    assert_eq!(remote.name, "rbee-hive@gpu1.service");
    assert!(
        remote.warnings.contains(
            &"location: ssh to gpu1 is dropped: the unit runs on whatever host it is installed on"
                .to_owned()
        ),
        "{:?}",
        remote.warnings
    );
    // A host of `local_hosts` is this machine: nothing is dropped.
    let local = hive("localhost");
    assert!(!local.warnings.iter().any(|w| w.starts_with("location")));

    let dir = tempfile::tempdir().unwrap();
    let yaml = "\
command: { binary: /opt/w/bin/w }
location: { ssh: { host: \"{host}\", install: \"{file}\" } }
vars: { host: gpu2, file: ./build/w }
";
    let unit = export(&written(dir.path(), "w.yaml", yaml, &[]), Target::User).unwrap();
    assert_eq!(
        unit.warnings,
        [
            "location: ssh to gpu2 is dropped: the unit runs on whatever host it is installed on",
            "location.ssh.install (./build/w) is dropped: install /opt/w/bin/w on that host yourself"
        ]
    );
}

#[test]
fn a_variable_without_a_value_is_an_error() {
    // `model` has no default: `--set model=…` is needed.
    let root = root().join("specs/workers/vllm.yaml");
    let spec = lifecycle_spec::load_spec(
        &root,
        "specs/workers/vllm.yaml",
        &["model", "port", "device"],
    )
    .result
    .unwrap();
    let handle = SpecHandle::new(
        spec,
        [
            ("port".to_owned(), "1".to_owned()),
            ("device".to_owned(), "cpu".to_owned()),
        ]
        .into(),
    );
    match export(&handle, Target::System) {
        Err(ExportError::Var(err)) => assert_eq!(err.var, "model"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_verifier_notices_a_bad_unit() {
    if !has_systemd_analyze() {
        println!("systemd-analyze is not installed: skipped");
        return;
    }
    // `$$` in the program's path is not unescaped (systemd looks for `/bin/sle$$ep`), and the
    // unit requires a unit that does not exist.
    let unit = Unit {
        name: "bad.service".to_owned(),
        text: "[Unit]\nRequires=nothing-here.service\n[Service]\nExecStart=\"/bin/sle$$ep\"\n"
            .to_owned(),
        warnings: Vec::new(),
    };
    let problem = analyze(&unit, &[], Target::System).unwrap_err();
    assert!(
        problem.contains("Command /bin/sle$$ep is not executable")
            && problem.contains("Unit nothing-here.service not found"),
        "{problem}"
    );
    // With the stub it requires and a program that exists, the same checks pass.
    let good = Unit {
        text: "[Unit]\nRequires=nothing-here.service\n[Service]\nExecStart=\"/bin/sleep\" \"1\"\n"
            .to_owned(),
        ..unit
    };
    verify(&good, &["nothing-here.service"], Target::System);
}
