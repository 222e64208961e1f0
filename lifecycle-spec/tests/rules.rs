//! One test per validation rule: each feeds a spec with exactly that problem and checks the
//! rule, the line and column (of the offending value), and the field path.

// Test helpers fail loudly: a panic is a test failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use lifecycle_spec::{Diagnostic, Diagnostics, Rule, load_spec, parse_spec};

fn errors(yaml: &str, fields: &[&str]) -> Diagnostics {
    match parse_spec("specs/case.yaml", yaml, fields) {
        Ok(spec) => panic!("expected errors, got a spec: {spec:#?}"),
        Err(errors) => errors,
    }
}

/// The one diagnostic of `yaml`; fails if there are none or several.
fn only(yaml: &str, fields: &[&str]) -> Diagnostic {
    let errors = errors(yaml, fields);
    assert_eq!(errors.len(), 1, "expected one diagnostic, got:\n{errors}");
    errors.into_iter().next().unwrap()
}

fn check(d: &Diagnostic, rule: Rule, line: u32, column: u32, field: &str) {
    assert_eq!(
        (d.rule, d.pos.line, d.pos.column, d.field.as_str()),
        (rule, line, column, field),
        "diagnostic was:\n{d}"
    );
    assert!(
        d.to_string()
            .starts_with(&format!("--> {}:{line}:{column}\n", d.file)),
        "{d}"
    );
}

macro_rules! rule_cases {
    ($($name:ident: $yaml:expr, $fields:expr => $rule:ident at $line:literal:$col:literal, $field:literal;)*) => {
        $(
            #[test]
            fn $name() {
                let d = only($yaml, $fields);
                check(&d, Rule::$rule, $line, $col, $field);
            }
        )*
        /// The rules the cases above cover.
        const COVERED: &[Rule] = &[$(Rule::$rule),*];
    };
}

rule_cases! {
    syntax: "command: [a\n", &[] => Syntax at 1:10, "";
    duplicate_key: "command: { binary: a }\ncommand: { binary: b }\n", &[] => DuplicateKey at 2:1, "command";
    unknown_key: "command: { binary: a }\nreadines: {}\n", &[] => UnknownKey at 2:1, "readines";
    missing_key: "name: x\n", &[] => MissingKey at 1:1, "command";
    wrong_type: "command: [a, b]\n", &[] => WrongType at 1:10, "command";
    empty: "command: { binary: \"\" }\n", &[] => Empty at 1:20, "command.binary";
    duration: "command: { binary: a }\nstop:\n  - { signal: SIGTERM, grace: 5 }\n", &[] => Duration at 3:31, "stop[0].grace";
    duration_range: "command: { binary: a }\nreadiness: { probe: notify, deadline: 25h }\n", &[] => DurationRange at 2:39, "readiness.deadline";
    size: "command: { binary: a }\nlogs: { max_size: 10 }\n", &[] => Size at 2:19, "logs.max_size";
    number: "command: { binary: a }\nrestart: { max: 0 }\n", &[] => Number at 2:17, "restart.max";
    choice: "command: { binary: a }\nrestart: { policy: sometimes }\n", &[] => Choice at 2:20, "restart.policy";
    template: "command: { binary: a, args: [\"{port\"] }\n", &[] => Template at 1:30, "command.args[0]";
    unknown_var: "command: { binary: a, args: [\"{prot}\"] }\nvars: { port: 1 }\n", &[] => UnknownVar at 1:30, "command.args[0]";
    name: "name: Queen\ncommand: { binary: a }\n", &[] => Name at 1:7, "name";
    var_name: "command: { binary: a }\nvars: { my-port: 1 }\n", &[] => VarName at 2:9, "vars.my-port";
    env_name: "command: { binary: a, env: { A-B: x } }\n", &[] => EnvName at 1:30, "command.env.A-B";
    variant: "variant: llamaCpp\ncommand: { binary: a }\n", &[] => Variant at 1:10, "variant";
    probe_count: "command: { binary: a }\nreadiness:\n  probe: { http: \"http://h/\", tcp: \"h:1\" }\n", &[] => ProbeCount at 3:10, "readiness.probe";
    url: "command: { binary: a }\nreadiness:\n  probe: { http: \"ftp://127.0.0.1/health\" }\n", &[] => Url at 3:18, "readiness.probe.http";
    tcp_address: "command: { binary: a }\nreadiness:\n  probe: { tcp: \"127.0.0.1\" }\n", &[] => TcpAddress at 3:17, "readiness.probe.tcp";
    regex: "command: { binary: a }\nreadiness:\n  probe: { log: \"ready (\" }\n", &[] => Regex at 3:17, "readiness.probe.log";
    backoff_order: "command: { binary: a }\nreadiness:\n  probe: notify\n  backoff: { initial: 5s, max: 1s }\n", &[] => BackoffOrder at 4:23, "readiness.backoff.initial";
    backoff_factor: "command: { binary: a }\nreadiness:\n  probe: notify\n  backoff: { factor: 0.5 }\n", &[] => BackoffFactor at 4:22, "readiness.backoff.factor";
    attempt_timeout: "command: { binary: a }\nreadiness:\n  probe: notify\n  deadline: 5s\n  attempt_timeout: 10s\n", &[] => AttemptTimeout at 5:20, "readiness.attempt_timeout";
    initial_delay: "command: { binary: a }\nreadiness:\n  probe: notify\n  deadline: 1s\n  attempt_timeout: 1s\n  backoff: { initial: 2s, max: 3s }\n", &[] => InitialDelay at 6:23, "readiness.backoff.initial";
    signal: "command: { binary: a }\nstop:\n  - { signal: TERM }\n", &[] => Signal at 3:15, "stop[0].signal";
    sigkill_step: "command: { binary: a }\nstop:\n  - { signal: SIGKILL, grace: 1s }\n", &[] => SigkillStep at 3:15, "stop[0].signal";
    empty_stop: "command: { binary: a }\nstop: []\n", &[] => EmptyStop at 2:7, "stop";
    stop_step: "command: { binary: a }\nstop:\n  - { grace: 1s }\n", &[] => StopStep at 3:5, "stop[0]";
    http_stop_position: "command: { binary: a }\nstop:\n  - { signal: SIGTERM }\n  - { http: { post: \"http://127.0.0.1:1/quit\" } }\n", &[] => HttpStopPosition at 4:13, "stop[1].http";
    ssh_host: "command: { binary: a }\nlocation: { ssh: { host: \"-oProxyCommand=x\" } }\n", &[] => SshHost at 2:26, "location.ssh.host";
    ssh_user: "command: { binary: a }\nlocation: { ssh: { host: h, user: \"a b\" } }\n", &[] => SshUser at 2:35, "location.ssh.user";
    install_path: "command: { binary: rbee-hive }\nlocation: { ssh: { host: h, install: target/rbee-hive } }\n", &[] => InstallPath at 1:20, "command.binary";
    port: "command: { binary: a }\nlocation: { ssh: { host: h, port: 70000 } }\n", &[] => Port at 2:35, "location.ssh.port";
    dependency_file: "command: { binary: a }\ndepends_on: [no-such-spec.yaml]\n", &[] => DependencyFile at 2:14, "depends_on[0].spec";
}

#[test]
fn every_rule_has_a_case() {
    // Io and the dependency rules that need files on disk have their own tests below.
    let own_tests = [
        Rule::Io,
        Rule::DependencyCycle,
        Rule::DependencyProbe,
        Rule::DependencyVar,
    ];
    for rule in Rule::ALL {
        assert!(
            COVERED.contains(&rule) || own_tests.contains(&rule),
            "no test case for rule {rule:?}"
        );
    }
}

#[test]
fn io() {
    let loaded = load_spec(
        Path::new("/nonexistent/spec.yaml"),
        "specs/missing.yaml",
        &[],
    );
    let errors = loaded.result.unwrap_err();
    assert_eq!(errors.rules(), [Rule::Io]);
    assert!(
        errors.to_string().starts_with("--> specs/missing.yaml\n"),
        "{errors}"
    );
    // The path read is not the path the user wrote: it does not show.
    assert!(!errors.to_string().contains("/nonexistent"), "{errors}");
}

#[test]
fn a_missing_dependency_is_named_as_written() {
    let dir = spec_dir(&[(
        "sub/w.yaml",
        "command: { binary: w }\ndepends_on: [../no-such-spec.yaml]\n",
    )]);
    let errors = load_in(&dir, "sub/w.yaml", &[]).unwrap_err();
    assert_eq!(errors.rules(), [Rule::DependencyFile], "{errors}");
    let text = errors.to_string();
    // Relative to the dependent, as `specs/sub/w.yaml` names it; never the real directory.
    assert!(text.contains(": specs/no-such-spec.yaml"), "{text}");
    assert!(
        !text.contains(dir.path().to_str().unwrap()),
        "the real path shows:\n{text}"
    );
}

/// Writes `files` into a fresh directory; returns it.
fn spec_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

fn load_in(
    dir: &tempfile::TempDir,
    name: &str,
    fields: &[&str],
) -> Result<lifecycle_spec::Spec, Diagnostics> {
    load_spec(&dir.path().join(name), &format!("specs/{name}"), fields).result
}

#[test]
fn dependency_cycle() {
    let dir = spec_dir(&[
        (
            "a.yaml",
            "command: { binary: a }\ndepends_on: [{ spec: b.yaml, wait: started }]\n",
        ),
        (
            "b.yaml",
            "command: { binary: b }\ndepends_on: [{ spec: ./a.yaml, wait: started }]\n",
        ),
    ]);
    let errors = load_in(&dir, "a.yaml", &[]).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors}");
    check(
        errors.first(),
        Rule::DependencyCycle,
        2,
        22,
        "depends_on[0].spec",
    );
    assert_eq!(errors.first().file, "specs/b.yaml");
    assert_eq!(
        errors.first().found_text(),
        Some("specs/a.yaml -> specs/b.yaml -> specs/a.yaml")
    );
}

#[test]
fn self_dependency_is_a_cycle() {
    let dir = spec_dir(&[("a.yaml", "command: { binary: a }\ndepends_on: [a.yaml]\n")]);
    let errors = load_in(&dir, "a.yaml", &[]).unwrap_err();
    assert_eq!(errors.rules(), [Rule::DependencyCycle]);
}

#[test]
fn dependency_probe() {
    let dir = spec_dir(&[
        (
            "w.yaml",
            "command: { binary: w }\ndepends_on:\n  - { spec: q.yaml, wait: healthy }\n",
        ),
        ("q.yaml", "command: { binary: q }\n"),
    ]);
    let errors = load_in(&dir, "w.yaml", &[]).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors}");
    check(
        errors.first(),
        Rule::DependencyProbe,
        3,
        27,
        "depends_on[0].wait",
    );
}

#[test]
fn dependency_probe_defaults_to_healthy() {
    let dir = spec_dir(&[
        ("w.yaml", "command: { binary: w }\ndepends_on: [q.yaml]\n"),
        ("q.yaml", "command: { binary: q }\n"),
    ]);
    let errors = load_in(&dir, "w.yaml", &[]).unwrap_err();
    check(
        errors.first(),
        Rule::DependencyProbe,
        2,
        14,
        "depends_on[0].wait",
    );
}

#[test]
fn dependency_var() {
    let dir = spec_dir(&[
        (
            "w.yaml",
            "command: { binary: w }\ndepends_on:\n  - { spec: q.yaml, wait: started, vars: { prot: \"1\" } }\n",
        ),
        (
            "q.yaml",
            "command: { binary: q, args: [\"{port}\"] }\nvars: { port: 7833 }\n",
        ),
    ]);
    let errors = load_in(&dir, "w.yaml", &[]).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors}");
    check(
        errors.first(),
        Rule::DependencyVar,
        3,
        44,
        "depends_on[0].vars.prot",
    );
}

#[test]
fn a_dependency_var_without_default_must_be_bound_by_the_dependent() {
    let dir = spec_dir(&[
        (
            "w.yaml",
            "command: { binary: w }\ndepends_on:\n  - { spec: q.yaml, wait: started }\n",
        ),
        ("q.yaml", "command: { binary: q, args: [\"{port}\"] }\n"),
    ]);
    let errors = load_in(&dir, "w.yaml", &[]).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors}");
    check(
        errors.first(),
        Rule::UnknownVar,
        3,
        13,
        "depends_on[0].vars",
    );
    assert_eq!(errors.first().file, "specs/w.yaml");
    assert!(
        errors.first().expected.contains("specs/q.yaml:1:30"),
        "{}",
        errors.first()
    );
}

#[test]
fn bound_dependency_vars_are_rendered_with_the_dependent_vars() {
    let dir = spec_dir(&[
        (
            "w.yaml",
            "command: { binary: w }\nvars: { queen_port: 9000 }\ndepends_on:\n  - { spec: q.yaml, wait: started, vars: { port: \"{queen_port}\" } }\n",
        ),
        ("q.yaml", "command: { binary: q, args: [\"{port}\"] }\n"),
    ]);
    let spec = load_in(&dir, "w.yaml", &[]).unwrap();
    let dep = &spec.depends_on[0];
    assert_eq!(dep.spec.name, "q");
    assert_eq!(dep.vars[0].name, "port");
    assert_eq!(dep.vars[0].value.source, "{queen_port}");
}

#[test]
fn diamond_dependencies_load_once_each_way() {
    let dir = spec_dir(&[
        (
            "top.yaml",
            "command: { binary: t }\ndepends_on: [{ spec: l.yaml, wait: started }, { spec: r.yaml, wait: started }]\n",
        ),
        (
            "l.yaml",
            "command: { binary: l }\ndepends_on: [{ spec: base.yaml, wait: started }]\n",
        ),
        (
            "r.yaml",
            "command: { binary: r }\ndepends_on: [{ spec: base.yaml, wait: started }]\n",
        ),
        ("base.yaml", "command: { binary: b }\n"),
    ]);
    let spec = load_in(&dir, "top.yaml", &[]).unwrap();
    assert_eq!(spec.depends_on.len(), 2);
    assert_eq!(spec.depends_on[1].spec.depends_on[0].spec.name, "base");
}

#[test]
fn errors_in_a_dependency_name_its_file() {
    let dir = spec_dir(&[
        (
            "w.yaml",
            "command: { binary: w }\ndepends_on: [{ spec: sub/q.yaml, wait: started }]\n",
        ),
        ("sub/q.yaml", "command: { binary: q }\nstop: []\n"),
    ]);
    let errors = load_in(&dir, "w.yaml", &[]).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors}");
    assert_eq!(errors.first().file, "specs/sub/q.yaml");
    check(errors.first(), Rule::EmptyStop, 2, 7, "stop");
}

#[test]
fn three_errors_are_reported_together_in_file_order() {
    let yaml = "\
command: { binary: a, args: [\"{prot}\"] }
vars: { port: 1 }
readiness:
  probe: notify
  backoff: { initial: 5s, max: 1s }
stop:
  - { signal: SIGTERMINATE, grace: 1s }
";
    let errors = errors(yaml, &[]);
    assert_eq!(
        errors.rules(),
        [Rule::UnknownVar, Rule::BackoffOrder, Rule::Signal],
        "{errors}"
    );
    let lines: Vec<u32> = errors.iter().map(|d| d.pos.line).collect();
    assert_eq!(lines, [1, 5, 7]);
}

#[test]
fn handle_fields_are_variables() {
    let yaml = "command: { binary: a, args: [\"{port}\", \"{model}\"] }\n";
    assert_eq!(errors(yaml, &["port"]).rules(), [Rule::UnknownVar]);
    assert!(parse_spec("w.yaml", yaml, &["port", "model"]).is_ok());
}

#[test]
fn unknown_var_suggests_the_near_field() {
    let d = only(
        "command: { binary: a, args: [\"{hsot}\"] }\n",
        &["host", "port"],
    );
    assert_eq!(d.hint.as_deref(), Some("did you mean `{host}`?"));
    assert!(d.expected.contains("fields: host, port"), "{d}");
}

#[test]
fn unknown_key_suggests_the_near_key() {
    let d = only(
        "command: { binary: a }\nreadiness: { probe: notify, dedline: 5s }\n",
        &[],
    );
    assert_eq!(d.hint.as_deref(), Some("did you mean `deadline`?"));
}

#[test]
fn ssh_needs_a_host() {
    let d = only(
        "command: { binary: a }\nlocation: { ssh: { user: u } }\n",
        &[],
    );
    check(&d, Rule::MissingKey, 2, 18, "location.ssh.host");
}

#[test]
fn handle_supplied_ssh_values_are_checked_at_run_time_only() {
    let yaml = "command: { binary: a }\nlocation: { ssh: { host: \"{host}\", user: \"{user}\", port: \"{ssh_port}\" } }\n";
    let spec = parse_spec("h.yaml", yaml, &["host", "user", "ssh_port"]).unwrap();
    assert!(matches!(spec.location, lifecycle_spec::Location::Ssh(_)));
}

#[test]
fn ssh_values_from_defaults_are_checked_at_compile_time() {
    let yaml = "command: { binary: a }\nvars: { ssh_port: 0 }\nlocation: { ssh: { host: h, port: \"{ssh_port}\" } }\n";
    let d = only(yaml, &[]);
    check(&d, Rule::Port, 3, 35, "location.ssh.port");
    assert_eq!(d.found_text(), Some("{ssh_port} = 0"));
}

#[test]
fn url_with_handle_port_is_checked_structurally() {
    let ok = "command: { binary: a }\nreadiness: { probe: { http: \"http://127.0.0.1:{port}/health\" } }\n";
    assert!(parse_spec("q.yaml", ok, &["port"]).is_ok());
    let bad =
        "command: { binary: a }\nreadiness: { probe: { http: \"127.0.0.1:{port}/health\" } }\n";
    assert_eq!(errors(bad, &["port"]).rules(), [Rule::Url]);
}

#[test]
fn local_hosts_must_be_hosts() {
    let d = only(
        "command: { binary: a }\nlocation: { ssh: { host: h }, local_hosts: [localhost, \"a b\"] }\n",
        &[],
    );
    check(&d, Rule::SshHost, 2, 56, "location.local_hosts[1]");
}

#[test]
fn durations_need_units_with_a_hint() {
    let d = only(
        "command: { binary: a }\nreadiness: { probe: notify, deadline: 30 }\n",
        &[],
    );
    assert_eq!(
        d.hint.as_deref(),
        Some("durations carry a unit: write `30s` or `30ms`")
    );
}

#[test]
fn defaults_fill_a_minimal_spec() {
    let spec = parse_spec("specs/echo.yaml", "command: { binary: echo }\n", &[]).unwrap();
    assert_eq!(spec.name, "echo");
    assert_eq!(spec.variant, "Echo");
    assert!(spec.readiness.is_none());
    assert_eq!(&*spec.stop, [lifecycle_spec::StopStep::DEFAULT]);
    assert_eq!(spec.location, lifecycle_spec::Location::Local);
    assert_eq!(spec.restart, lifecycle_spec::Restart::NEVER);
    assert_eq!(spec.logs, lifecycle_spec::Logs::DEFAULT);
    assert_eq!(spec.command.inherit_env, lifecycle_spec::InheritEnv::All);
}

#[test]
fn inherit_env_takes_a_flag_or_an_allowlist() {
    use lifecycle_spec::InheritEnv;
    let inherit = |value: &str| {
        parse_spec(
            "e.yaml",
            &format!("command: {{ binary: e, inherit_env: {value} }}\n"),
            &[],
        )
        .map(|spec| spec.command.inherit_env)
    };
    assert_eq!(inherit("true").unwrap(), InheritEnv::All);
    assert_eq!(inherit("false").unwrap(), InheritEnv::Only(vec![].into()));
    assert_eq!(
        inherit("[PATH, HOME]").unwrap(),
        InheritEnv::Only(vec!["PATH".into(), "HOME".into()].into())
    );
    let wrong = inherit("yes please").unwrap_err();
    check(wrong.first(), Rule::WrongType, 1, 36, "command.inherit_env");
    let bad_name = inherit("[PATH, A-B]").unwrap_err();
    check(
        bad_name.first(),
        Rule::EnvName,
        1,
        43,
        "command.inherit_env[1]",
    );
    let twice = inherit("[PATH, PATH]").unwrap_err();
    check(
        twice.first(),
        Rule::DuplicateKey,
        1,
        43,
        "command.inherit_env[1]",
    );
}

#[test]
fn shipped_specs_are_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs");
    let cases: [(&str, &[&str]); 4] = [
        ("queen.yaml", &[]),
        ("hive.yaml", &["host"]),
        ("workers/vllm.yaml", &["port", "model", "device"]),
        ("workers/llamacpp.yaml", &["port", "model", "device"]),
    ];
    for (file, fields) in cases {
        let loaded = load_spec(&root.join(file), &format!("specs/{file}"), fields);
        if let Err(errors) = loaded.result {
            panic!("{file}:\n{errors}");
        }
    }
}

#[test]
fn numbers_keep_their_digits() {
    let spec = parse_spec(
        "n.yaml",
        "command: { binary: a, args: [3.10, 0x10, 1_000, 1.0, 007] }\nvars: { rev: 1.20 }\n",
        &[],
    )
    .unwrap();
    let args: Vec<&str> = spec
        .command
        .args
        .iter()
        .map(|a| a.source.as_ref())
        .collect();
    assert_eq!(args, ["3.10", "0x10", "1_000", "1.0", "007"]);
    assert_eq!(spec.default_var("rev"), Some("1.20"));
}

#[test]
fn control_characters_are_refused_at_compile_time_too() {
    let d = only("command: { binary: a, args: [\"a\\tb\"] }\n", &[]);
    check(&d, Rule::Template, 1, 30, "command.args[0]");
}

#[test]
fn a_bad_grace_does_not_hide_a_bad_signal() {
    let e = errors(
        "command: { binary: a }\nstop:\n  - { signal: TERM, grace: 5 }\n",
        &[],
    );
    assert_eq!(e.rules(), [Rule::Signal, Rule::Duration], "{e}");
}

#[test]
fn a_short_deadline_shortens_the_default_attempt_timeout() {
    let spec = parse_spec(
        "d.yaml",
        "command: { binary: a }\nreadiness: { probe: notify, deadline: 1s }\n",
        &[],
    )
    .unwrap();
    assert_eq!(
        spec.readiness.unwrap().attempt_timeout,
        std::time::Duration::from_secs(1)
    );
}

#[test]
fn all_is_not_a_variant() {
    let d = only("variant: ALL\ncommand: { binary: a }\n", &[]);
    assert_eq!(d.rule, Rule::Variant);
}
