//! The keys each fixed mapping of a spec allows: the one list the decoders check against, and
//! that other descriptions of the language (the JSON Schema of `lifecycle schema`) are tested
//! against through [`mapping_keys`].
//!
//! The order of each list is the order of "one of: …" and "a mapping with keys …" in
//! diagnostics.

/// The top level of a spec file.
pub(crate) const TOP_KEYS: &[&str] = &[
    "name",
    "variant",
    "instance",
    "command",
    "vars",
    "readiness",
    "stop",
    "location",
    "restart",
    "depends_on",
    "logs",
];

/// `command:`.
pub(crate) const COMMAND_KEYS: &[&str] = &["binary", "args", "env", "inherit_env"];

/// `readiness:`.
pub(crate) const READINESS_KEYS: &[&str] = &["probe", "deadline", "attempt_timeout", "backoff"];

/// `readiness.probe:` as a mapping: exactly one of these (or the word `notify`).
pub(crate) const PROBE_KEYS: &[&str] = &["http", "tcp", "notify", "log"];

/// `readiness.backoff:` and `restart.backoff:`.
pub(crate) const BACKOFF_KEYS: &[&str] = &["initial", "max", "factor"];

/// `restart:`.
pub(crate) const RESTART_KEYS: &[&str] = &["policy", "max", "backoff", "reset_after"];

/// One step of `stop:`.
pub(crate) const STOP_STEP_KEYS: &[&str] = &["signal", "http", "grace"];

/// A stop step's `http:`.
pub(crate) const STOP_HTTP_KEYS: &[&str] = &["post"];

/// `location:` as a mapping (else the word `local`).
pub(crate) const LOCATION_KEYS: &[&str] = &["ssh", "local_hosts"];

/// `location.ssh:`.
pub(crate) const SSH_KEYS: &[&str] = &["host", "user", "port", "host_keys", "probe", "install"];

/// One entry of `depends_on:` as a mapping (else a spec path).
pub(crate) const DEPENDENCY_KEYS: &[&str] = &["spec", "wait", "vars"];

/// `logs:`.
pub(crate) const LOGS_KEYS: &[&str] = &["dir", "max_size", "keep"];

/// Every fixed mapping of the language by its field path, with the keys it allows.
const MAPPING_KEYS: &[(&str, &[&str])] = &[
    ("", TOP_KEYS),
    ("command", COMMAND_KEYS),
    ("readiness", READINESS_KEYS),
    ("readiness.probe", PROBE_KEYS),
    ("readiness.backoff", BACKOFF_KEYS),
    ("restart", RESTART_KEYS),
    ("restart.backoff", BACKOFF_KEYS),
    ("stop[]", STOP_STEP_KEYS),
    ("stop[].http", STOP_HTTP_KEYS),
    ("location", LOCATION_KEYS),
    ("location.ssh", SSH_KEYS),
    ("depends_on[]", DEPENDENCY_KEYS),
    ("logs", LOGS_KEYS),
];

/// Every mapping of the spec language whose keys are fixed, by field path (`""` is the top
/// level, `stop[]` an item of the `stop` list), with the keys the decoders allow there, in
/// their order. Mappings of the user's keys (`vars`, `command.env`, `depends_on[].vars`) are
/// not among them.
///
/// Not part of the API: it is what keeps other descriptions of the language (the JSON Schema)
/// in step with the decoders, and it may change in any release.
///
/// ```
/// let keys = lifecycle_spec::__private::mapping_keys();
/// let probe = keys.iter().find(|(path, _)| *path == "readiness.probe").map(|(_, keys)| *keys);
/// assert_eq!(probe, Some(&["http", "tcp", "notify", "log"][..]));
/// assert!(keys.iter().any(|(path, keys)| *path == "" && keys.contains(&"command")));
/// ```
pub fn mapping_keys() -> &'static [(&'static str, &'static [&'static str])] {
    MAPPING_KEYS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_keys_are_unique() {
        for (i, (path, keys)) in MAPPING_KEYS.iter().enumerate() {
            assert!(
                MAPPING_KEYS[..i].iter().all(|(p, _)| p != path),
                "{path:?} twice"
            );
            for (j, key) in keys.iter().enumerate() {
                assert!(!keys[..j].contains(key), "{path:?}: `{key}` twice");
            }
        }
    }
}
