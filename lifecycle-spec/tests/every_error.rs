//! Every error at once, in file order: a check whose own inputs are valid runs whatever failed
//! beside it, and the diagnostics come sorted by file, then line, then column. One test per
//! section of the spec language with two independent errors, both reported.

// Test helpers fail loudly: a panic is a test failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use lifecycle_spec::{Diagnostics, Rule, load_spec, parse_spec};

fn errors(yaml: &str, fields: &[&str]) -> Diagnostics {
    match parse_spec("specs/case.yaml", yaml, fields) {
        Ok(spec) => panic!("expected errors, got a spec: {spec:#?}"),
        Err(errors) => errors,
    }
}

/// The rule, line, column and field of every diagnostic, in the order reported.
fn summary(errors: &Diagnostics) -> Vec<(Rule, u32, u32, &str)> {
    errors
        .iter()
        .map(|d| (d.rule, d.pos.line, d.pos.column, d.field.as_str()))
        .collect()
}

/// Checks that `yaml` reports exactly `expected`, in that order.
fn reports(yaml: &str, fields: &[&str], expected: &[(Rule, u32, u32, &str)]) {
    let errors = errors(yaml, fields);
    assert_eq!(summary(&errors), expected, "diagnostics were:\n{errors}");
}

#[test]
fn file_order_a_bad_value_before_a_misspelled_key_below_it() {
    // The misspelled key is found when the mapping is read, before its values are: it used to be
    // reported first.
    let yaml = "\
name: queen
command: { binary: queen-rbee }
vars: { port: 7833 }
readiness:
  probe: { http: \"http://127.0.0.1:{port}/health\" }
  attempt_timeout: 2s
  deadline: 1
  backof: { initial: 100ms }
";
    reports(
        yaml,
        &[],
        &[
            (Rule::Duration, 7, 13, "readiness.deadline"),
            (Rule::UnknownKey, 8, 3, "readiness.backof"),
        ],
    );
}

#[test]
fn file_order_by_column_on_one_line() {
    // The grace is read before the signal, and sits after it on the line.
    reports(
        "command: { binary: a }\nstop:\n  - { signal: TERM, grace: 5 }\n",
        &[],
        &[
            (Rule::Signal, 3, 15, "stop[0].signal"),
            (Rule::Duration, 3, 28, "stop[0].grace"),
        ],
    );
}

#[test]
fn spec_name_and_variant() {
    reports(
        "name: Queen\nvariant: queen\ncommand: { binary: a }\n",
        &[],
        &[
            (Rule::Name, 1, 7, "name"),
            (Rule::Variant, 2, 10, "variant"),
        ],
    );
}

#[test]
fn readiness_backoff_order_and_attempt_timeout() {
    // The case: a failed backoff hid the attempt timeout above the deadline.
    let yaml = "\
command: { binary: a }
readiness:
  probe: notify
  deadline: 5s
  attempt_timeout: 10s
  backoff: { initial: 5s, max: 1s }
";
    reports(
        yaml,
        &[],
        &[
            (Rule::AttemptTimeout, 5, 20, "readiness.attempt_timeout"),
            (Rule::BackoffOrder, 6, 23, "readiness.backoff.initial"),
        ],
    );
}

#[test]
fn readiness_bad_attempt_timeout_and_initial_delay() {
    let yaml = "\
command: { binary: a }
readiness:
  probe: notify
  deadline: 1s
  attempt_timeout: 1
  backoff: { initial: 2s, max: 3s }
";
    reports(
        yaml,
        &[],
        &[
            (Rule::Duration, 5, 20, "readiness.attempt_timeout"),
            (Rule::InitialDelay, 6, 23, "readiness.backoff.initial"),
        ],
    );
}

#[test]
fn readiness_bad_probe_and_bad_deadline() {
    // A deadline that does not parse leaves nothing to compare the attempt timeout with: that
    // check does not run, the probe's does.
    let yaml = "\
command: { binary: a }
readiness:
  probe: bogus
  deadline: 1
  attempt_timeout: 10s
";
    reports(
        yaml,
        &[],
        &[
            (Rule::ProbeCount, 3, 10, "readiness.probe"),
            (Rule::Duration, 4, 13, "readiness.deadline"),
        ],
    );
}

#[test]
fn backoff_factor_and_order() {
    reports(
        "command: { binary: a }\nrestart:\n  backoff: { initial: 5s, max: 1s, factor: 0.5 }\n",
        &[],
        &[
            (Rule::BackoffOrder, 3, 23, "restart.backoff.initial"),
            (Rule::BackoffFactor, 3, 44, "restart.backoff.factor"),
        ],
    );
}

#[test]
fn backoff_order_and_initial_delay() {
    // `initial` is valid: it is above `max` and above the deadline, two facts.
    let yaml = "\
command: { binary: a }
readiness:
  probe: notify
  deadline: 2s
  backoff: { initial: 5s, max: 1s }
";
    reports(
        yaml,
        &[],
        &[
            (Rule::BackoffOrder, 5, 23, "readiness.backoff.initial"),
            (Rule::InitialDelay, 5, 23, "readiness.backoff.initial"),
        ],
    );
}

#[test]
fn stop_bad_url_and_http_position() {
    let yaml = "\
command: { binary: a }
stop:
  - { signal: SIGTERM }
  - { http: { post: \"http://h/{x\" } }
";
    reports(
        yaml,
        &[],
        &[
            (Rule::HttpStopPosition, 4, 13, "stop[1].http"),
            (Rule::Template, 4, 21, "stop[1].http.post"),
        ],
    );
}

#[test]
fn stop_both_kinds_in_a_step_and_a_bad_signal_in_it() {
    // The step is ambiguous, and its signal is wrong whichever kind is meant.
    let yaml = "\
command: { binary: a }
stop:
  - { signal: SIGFOO, http: { post: \"http://h/\" } }
";
    reports(
        yaml,
        &[],
        &[
            (Rule::StopStep, 3, 5, "stop[0]"),
            (Rule::Signal, 3, 15, "stop[0].signal"),
        ],
    );
}

#[test]
fn restart_policy_and_max() {
    reports(
        "command: { binary: a }\nrestart: { policy: sometimes, max: 0 }\n",
        &[],
        &[
            (Rule::Choice, 2, 20, "restart.policy"),
            (Rule::Number, 2, 36, "restart.max"),
        ],
    );
}

#[test]
fn logs_empty_dir_and_bad_keep() {
    reports(
        "command: { binary: a }\nlogs: { dir: \"\", keep: -1 }\n",
        &[],
        &[
            (Rule::Empty, 2, 14, "logs.dir"),
            (Rule::Number, 2, 24, "logs.keep"),
        ],
    );
}

#[test]
fn location_bad_user_and_bad_port() {
    let yaml = "\
command: { binary: a }
location:
  ssh: { host: h, user: \"{u\", port: 70000 }
";
    reports(
        yaml,
        &[],
        &[
            (Rule::Template, 3, 25, "location.ssh.user"),
            (Rule::Port, 3, 37, "location.ssh.port"),
        ],
    );
}

#[test]
fn location_missing_ssh_and_bad_local_host() {
    reports(
        "command: { binary: a }\nlocation: { local_hosts: [\"bad host!\"] }\n",
        &[],
        &[
            (Rule::MissingKey, 2, 11, "location.ssh"),
            (Rule::SshHost, 2, 27, "location.local_hosts[0]"),
        ],
    );
}

#[test]
fn dependency_empty_spec_and_bad_wait() {
    reports(
        "command: { binary: a }\ndepends_on:\n  - { spec: \"\", wait: sometimes }\n",
        &[],
        &[
            (Rule::Empty, 3, 13, "depends_on[0].spec"),
            (Rule::Choice, 3, 23, "depends_on[0].wait"),
        ],
    );
}

#[test]
fn dependency_missing_spec_and_bad_binding() {
    reports(
        "command: { binary: a }\ndepends_on:\n  - { vars: { my-port: 1 } }\n",
        &[],
        &[
            (Rule::MissingKey, 3, 5, "depends_on[0].spec"),
            (Rule::VarName, 3, 15, "depends_on[0].vars.my-port"),
        ],
    );
}

#[test]
fn dependency_file_is_read_when_the_rest_of_the_spec_is_wrong() {
    reports(
        "command: { binary: a }\ndepends_on: [no-such-spec.yaml]\nlogs: { keep: -1 }\n",
        &[],
        &[
            (Rule::DependencyFile, 2, 14, "depends_on[0].spec"),
            (Rule::Number, 3, 15, "logs.keep"),
        ],
    );
}

#[test]
fn command_empty_binary_and_bad_inherit_env() {
    reports(
        "command: { binary: \"\", inherit_env: [A-B] }\n",
        &[],
        &[
            (Rule::Empty, 1, 20, "command.binary"),
            (Rule::EnvName, 1, 38, "command.inherit_env[0]"),
        ],
    );
}

#[test]
fn vars_unknown_var_and_a_bad_literal_elsewhere() {
    // An unknown `{var}` used to skip the value checks of every other template.
    let yaml = "\
command: { binary: a, args: [\"{prot}\"] }
vars: { port: 1 }
location: { ssh: { host: h, port: 0 } }
";
    reports(
        yaml,
        &[],
        &[
            (Rule::UnknownVar, 1, 30, "command.args[0]"),
            (Rule::Port, 3, 35, "location.ssh.port"),
        ],
    );
}

#[test]
fn vars_a_template_with_an_unknown_var_is_not_judged_further() {
    // Its value is unknown: no URL error on top of the unknown variable.
    reports(
        "command: { binary: a }\nreadiness:\n  probe: { http: \"http://{hots}/\" }\n",
        &[],
        &[(Rule::UnknownVar, 3, 18, "readiness.probe.http")],
    );
}

#[test]
fn vars_bad_name_and_bad_default() {
    reports(
        "command: { binary: a }\nvars: { my-port: 1, port: [1] }\n",
        &[],
        &[
            (Rule::VarName, 2, 9, "vars.my-port"),
            (Rule::VarName, 2, 27, "vars.port"),
        ],
    );
}

#[test]
fn the_root_file_comes_before_its_dependencies() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("w.yaml"),
        "command: { binary: w }\ndepends_on: [{ spec: q.yaml, wait: started }]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("q.yaml"),
        "command: { binary: q, args: [\"{port}\"] }\nstop: []\n",
    )
    .unwrap();
    let errors = load_spec(&dir.path().join("w.yaml"), "specs/w.yaml", &[])
        .result
        .unwrap_err();
    let files: Vec<(&str, Rule)> = errors.iter().map(|d| (d.file.as_str(), d.rule)).collect();
    assert_eq!(
        files,
        [
            ("specs/w.yaml", Rule::UnknownVar),
            ("specs/q.yaml", Rule::EmptyStop)
        ],
        "{errors}"
    );
}
