//! `location.ssh`: the host key policy and where the probe runs from, their defaults, and what a
//! wrong word gets.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use lifecycle_spec::{HostKeys, Location, ProbeFrom, Rule, parse_spec};

const BASE: &str =
    "command: { binary: hive }\nreadiness: { probe: { http: \"http://{host}:9200/health\" } }\n";

fn ssh_of(location: &str) -> lifecycle_spec::Ssh {
    let yaml = format!("{BASE}location: {location}\n");
    match parse_spec("specs/hive.yaml", &yaml, &["host"]).map(|s| s.location) {
        Ok(Location::Ssh(ssh)) => ssh,
        other => panic!("{other:?}"),
    }
}

#[test]
fn defaults_are_strict_keys_and_probes_from_the_manager() {
    let ssh = ssh_of("{ ssh: { host: \"{host}\" } }");
    assert_eq!(ssh.host_keys, HostKeys::Strict);
    assert_eq!(ssh.probe_from, ProbeFrom::Manager);
}

#[test]
fn accept_new_and_probe_from_the_host_are_opt_ins() {
    let ssh = ssh_of("{ ssh: { host: \"{host}\", host_keys: accept-new, probe: host } }");
    assert_eq!(ssh.host_keys, HostKeys::AcceptNew);
    assert_eq!(ssh.probe_from, ProbeFrom::Host);
}

#[test]
fn accepting_any_key_is_not_a_choice_and_both_wrong_words_are_reported() {
    let yaml = format!(
        "{BASE}location: {{ ssh: {{ host: \"{{host}}\", host_keys: no, probe: remote }} }}\n"
    );
    let errors = parse_spec("specs/hive.yaml", &yaml, &["host"]).unwrap_err();
    let found: Vec<(Rule, &str, u32)> = errors
        .iter()
        .map(|d| (d.rule, d.field.as_str(), d.pos.column))
        .collect();
    assert_eq!(
        found,
        [
            (Rule::Choice, "location.ssh.host_keys", 47),
            (Rule::Choice, "location.ssh.probe", 58),
        ],
        "{errors}"
    );
    assert!(
        errors.to_string().contains("strict, accept-new"),
        "{errors}"
    );
}

#[test]
fn install_is_a_template_whose_variables_are_checked() {
    let yaml = format!(
        "{BASE}location: {{ ssh: {{ host: \"{{host}}\", install: \"{{build}}/hive\" }} }}\n"
    );
    let yaml = yaml.replace("binary: hive", "binary: /opt/hive");
    let errors = parse_spec("specs/hive.yaml", &yaml, &["host"]).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors}");
    assert_eq!(errors.first().rule, Rule::UnknownVar, "{errors}");
    let spec = parse_spec("specs/hive.yaml", &yaml, &["host", "build"]).unwrap();
    assert_eq!(spec.variables(), ["build", "host"]);
}
