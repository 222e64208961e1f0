//! The JSON Schema of the spec language (draft 2020-12), for editors. A spec whose first line is
//! `# yaml-language-server: $schema=schema.json` (the shipped ones have it) gets, in any editor
//! that runs yaml-language-server, completion of its keys, each key's default and rule on hover,
//! and a mark on unknown keys, durations without a unit, unknown signals and other misspellings
//! as it is written. `lifecycle schema` prints it; `specs/schema.json` is that output.
//!
//! yaml-language-server (as of 2025) validates with draft-07 semantics whatever `$schema` says,
//! so the schema keeps to keywords that mean the same in draft-07 and 2020-12 (`$defs` serves
//! only as the target of a JSON pointer); what it would need newer keywords for (an HTTP stop
//! step only as the first step) it leaves to the decoders.
//!
//! The decoders of `lifecycle-spec` remain the definition of the language. The schema checks the
//! shape and the spelling of each value; what needs several values at once (a backoff's order,
//! a `{var}` that nothing fills, a URL once rendered, dependency cycles) is for
//! `lifecycle check` and the derive. The keys of each fixed mapping come from the decoders' own
//! lists (`lifecycle_spec::__private::mapping_keys`), each key's schema from one table here; a
//! test holds the two in step, so a key a decoder learns cannot be missing here.

use lifecycle_spec::__private::mapping_keys;
use lifecycle_spec::{
    Backoff, DisplayDuration, HostKeys, Logs, ProbeFrom, Readiness, Restart, RestartPolicy, Signal,
    Ssh, StopStep, WaitFor,
};
use serde_json::{Map, Value, json};

/// One or more `<integer><unit>` groups (`lifecycle_spec::__private::parse_duration`).
const DURATION: &str = "^([0-9]+(ms|s|m|h))+$";
/// A duration that adds up to zero.
const ZERO_DURATION: &str = "^(0+(ms|s|m|h))+$";
/// `<integer><unit>` (`lifecycle_spec::__private::parse_size`).
const SIZE: &str = "^[0-9]+(B|KB|MB|GB|KiB|MiB|GiB)$";
/// A size of zero.
const ZERO_SIZE: &str = "^0+[A-Za-z]+$";
/// A spec name (`lifecycle_spec::__private::is_spec_name`).
const SPEC_NAME: &str = "^[a-z0-9_-]{1,64}$";
/// A PascalCase Rust identifier; `Self` and `ALL` are refused beside it.
const VARIANT: &str = "^[A-Z][A-Za-z0-9]*$";
/// A variable or environment variable name (`lifecycle_spec::__private::is_var_name`).
const VAR_NAME: &str = "^[A-Za-z_][A-Za-z0-9_]*$";

/// A literal character of a template: no brace, no control character.
const LITERAL: &str = r"[^{}\x00-\x1f\x7f-\x9f]";
/// A literal character that is not whitespace.
const NON_SPACE: &str = r"[^{}\s\x00-\x1f\x7f-\x9f]";
/// Whitespace that is not a control character.
const SPACE: &str = r"[^\S\x00-\x1f\x7f-\x9f]";
/// A `{var}`.
const VAR: &str = r"\{[A-Za-z_][A-Za-z0-9_]*\}";
/// `{{`, `}}` or a `{var}`.
const BRACES_OR_VAR: &str = r"\{\{|\}\}|\{[A-Za-z_][A-Za-z0-9_]*\}";
/// What a template is, in descriptions.
const TEMPLATE_KIND: &str = "A template: `{name}` is a variable, `{{` and `}}` are literal braces.";
/// A character of a hostname or IP address (`lifecycle_spec::__private::check_host`).
const HOST_CHAR: &str = "[A-Za-z0-9.:-]";
/// What a hostname or IP address may begin with: not `-`.
const HOST_FIRST: &str = "[A-Za-z0-9.:]";

/// The JSON Schema (draft 2020-12) of a spec file: every key of the language with its type, its
/// default and rule as `description`, its words as `enum`, its grammar as `pattern` (durations,
/// sizes, names, `{var}` templates), and `additionalProperties: false` on every mapping whose
/// keys are fixed.
///
/// ```
/// let schema = lifecycle_cli::schema::json_schema();
/// assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
/// assert_eq!(schema["required"], serde_json::json!(["command"]));
/// let restart = &schema["properties"]["restart"];
/// assert_eq!(restart["properties"]["policy"]["enum"], serde_json::json!(["never", "on-failure", "always"]));
/// assert_eq!(restart["additionalProperties"], false);
/// ```
pub fn json_schema() -> Value {
    let root = object(
        "",
        "A daemon's lifecycle (spec language v1): what to run, how to tell it is ready, how to \
         stop it, where it runs, when to restart it, what it needs first. Unknown and repeated \
         keys are errors everywhere. Checked in full by `lifecycle check` and by \
         #[derive(Lifecycle)] at compile time.",
    );
    let mut defs = Map::new();
    defs.insert("stop_step".to_owned(), stop_step());
    merge(
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "lifecycle spec",
        }),
        merge(root, json!({ "$defs": defs })),
    )
}

/// [`json_schema`] as pretty-printed JSON with a final newline: what `lifecycle schema` prints
/// and `specs/schema.json` holds.
///
/// ```
/// let text = lifecycle_cli::schema::json_schema_text();
/// assert!(text.ends_with("}\n"));
/// let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
/// assert_eq!(parsed, lifecycle_cli::schema::json_schema());
/// ```
pub fn json_schema_text() -> String {
    format!("{:#}\n", json_schema())
}

/// The keys the decoders allow in the mapping at `path`.
fn keys(path: &str) -> &'static [&'static str] {
    mapping_keys()
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, keys)| *keys)
        .unwrap_or_default()
}

/// The keys that must be there in the mapping at `path`.
fn required(path: &str) -> &'static [&'static str] {
    match path {
        "" => &["command"],
        "command" => &["binary"],
        "readiness" => &["probe"],
        "stop[].http" => &["post"],
        "location" => &["ssh"],
        "location.ssh" => &["host"],
        "depends_on[]" => &["spec"],
        _ => &[],
    }
}

/// The fixed mapping at `path`: one property per key its decoder allows, nothing else.
fn object(path: &str, description: &str) -> Value {
    let properties: Map<String, Value> = keys(path)
        .iter()
        .map(|&key| (key.to_owned(), property(path, key)))
        .collect();
    let mut schema = json!({
        "type": "object",
        "description": description,
        "properties": properties,
        "additionalProperties": false,
    });
    let required = required(path);
    if !required.is_empty() {
        schema = merge(schema, json!({ "required": required }));
    }
    schema
}

/// The schema of `key` in the mapping at `path`. A key without an entry here gets `false`
/// (nothing is valid), which the tests report.
fn property(path: &str, key: &str) -> Value {
    match (path, key) {
        ("", "name") => json!({
            "type": "string",
            "pattern": SPEC_NAME,
            "description": "The daemon's name: lowercase letters, digits, `_` and `-`, at most 64; \
                            names its records and logs. Unique in a kind directory. \
                            Default: the file stem.",
        }),
        ("", "variant") => json!({
            "type": "string",
            "pattern": VARIANT,
            "not": { "enum": ["Self", "ALL"] },
            "description": "The Rust variant of this spec in a kind enum: a PascalCase identifier, \
                            unique in its directory. Default: the file stem in PascalCase \
                            (`llama-cpp.yaml` -> `LlamaCpp`).",
        }),
        ("", "instance") => non_empty_template(
            "A template that tells running instances apart (`\"{port}\"`). \
             Default: none, one instance per name.",
        ),
        ("", "command") => object("command", "What to run."),
        ("", "vars") => nullable(json!({
            "type": "object",
            "description": "Defaults of the `{var}`s: variable names (letters, digits, `_`) to \
                            scalar values. A handle field of the same name overrides each. \
                            Default: `{}`.",
            "propertyNames": { "pattern": VAR_NAME },
            "additionalProperties": { "type": ["string", "number", "boolean"] },
        })),
        ("", "readiness") => object(
            "readiness",
            "How to tell the daemon is ready. Default: none, ready once spawned.",
        ),
        ("", "stop") => json!({
            "type": "array",
            "description": format!(
                "The stop chain, a non-empty list of steps: each signal goes to the daemon's \
                 process group, the next step comes when its grace runs out; SIGKILL to the group \
                 follows the last step. An HTTP shutdown may only be the first step. \
                 Default: `[{{ signal: SIGTERM, grace: {} }}]`.",
                DisplayDuration(StopStep::DEFAULT_GRACE)
            ),
            "minItems": 1,
            "items": { "$ref": "#/$defs/stop_step" },
        }),
        ("", "location") => json!({
            "description": "Where the daemon runs: `local`, or over SSH \
                            (`{ ssh: { host, user, port, host_keys, probe, install }, \
                            local_hosts: [...] }`). Default: `local`.",
            "oneOf": [
                { "const": "local", "description": "On this machine." },
                object("location", "Over SSH, on the host `ssh.host` renders to."),
            ],
        }),
        ("", "restart") => nullable(object(
            "restart",
            "What happens when the daemon exits on its own. Default: never restarted; once \
             `restart:` is written, `policy` defaults to `on-failure`.",
        )),
        ("", "depends_on") => nullable(json!({
            "type": "array",
            "description": "Daemons started before this one and stopped after it: spec paths \
                            (relative to this spec) or `{ spec, wait, vars }`. No cycles. \
                            Default: `[]`.",
            "items": {
                "oneOf": [
                    {
                        "type": "string",
                        "minLength": 1,
                        "description": "The dependency's spec file, relative to this one; \
                                        waited for until healthy.",
                    },
                    object("depends_on[]", "A dependency with its wait and its variables."),
                ],
            },
        })),
        ("", "logs") => nullable(object(
            "logs",
            "Where the daemon's output goes and how it is rotated.",
        )),

        ("command", "binary") => non_empty_template(
            "Required. The program: an absolute path, or a name looked up in `$PATH`, then in \
             the workspace's `target/{release,debug}`.",
        ),
        ("command", "args") => nullable(json!({
            "type": "array",
            "description": "The arguments, each a template that is exactly one argument; never \
                            given to a shell. Default: `[]`.",
            "items": template("One argument."),
        })),
        ("command", "env") => nullable(json!({
            "type": "object",
            "description": "Environment variables (names of letters, digits, `_`) to templates, \
                            set over what the daemon inherits. Default: `{}`.",
            "propertyNames": { "pattern": VAR_NAME },
            "additionalProperties": template("The variable's value."),
        })),
        ("command", "inherit_env") => json!({
            "description": "What the daemon inherits of the manager's environment: `true` \
                            (everything), `false` (nothing) or a list of names (those only). \
                            `NOTIFY_SOCKET` is never inherited. Default: `true`.",
            "anyOf": [
                { "type": "boolean" },
                {
                    "type": "array",
                    "items": { "type": "string", "pattern": VAR_NAME },
                    "uniqueItems": true,
                },
            ],
        }),

        ("readiness", "probe") => json!({
            "description": "Required. Exactly one probe: `{ http: URL }` (a GET answers 2xx), \
                            `{ tcp: \"host:port\" }` (a connection succeeds), `notify` \
                            (sd_notify `READY=1`) or `{ log: regex }` (a line of output \
                            matches).",
            "oneOf": [
                { "const": "notify", "description": "The daemon sends sd_notify `READY=1`." },
                merge(
                    object("readiness.probe", "One probe."),
                    json!({ "minProperties": 1, "maxProperties": 1 }),
                ),
            ],
        }),
        ("readiness", "deadline") => positive_duration(&format!(
            "The whole start, spawn to ready, may take no longer. Default: `{}`.",
            DisplayDuration(Readiness::DEFAULT_DEADLINE)
        )),
        ("readiness", "attempt_timeout") => positive_duration(&format!(
            "One probe attempt may take no longer; at most `deadline`. Default: `{}`.",
            DisplayDuration(Readiness::DEFAULT_ATTEMPT_TIMEOUT)
        )),
        ("readiness", "backoff") => backoff(
            "readiness.backoff",
            Backoff::READINESS,
            "The delays between probes (the first probe is immediate); `initial` at most \
             `max` and at most `deadline`.",
        ),

        ("readiness.probe", "http") => http_url(
            "A URL that answers a GET with 2xx once ready: `http://` or `https://`, a host, an \
             optional port, no credentials, no whitespace; used exactly as written (nothing is \
             appended).",
        ),
        ("readiness.probe", "tcp") => address(
            "A `host:port` (or `[v6]:port`) that accepts a connection once ready.",
            &format!("^{NO_SPACE}*(?::|{VAR}){NO_SPACE}*$", NO_SPACE = no_space()),
        ),
        ("readiness.probe", "notify") => json!({
            "type": ["null", "object"],
            "maxProperties": 0,
            "description": "sd_notify `READY=1`; takes no value (`probe: notify` says the same).",
        }),
        ("readiness.probe", "log") => json!({
            "type": "string",
            "minLength": 1,
            "description": "A regular expression that a line of the daemon's output matches once \
                            it is ready; not a template.",
        }),

        ("readiness.backoff" | "restart.backoff", "initial" | "max" | "factor") => {
            let defaults = if path == "restart.backoff" {
                Backoff::RESTART
            } else {
                Backoff::READINESS
            };
            match key {
                "initial" => positive_duration(&format!(
                    "The first delay; at most `max`. Default: `{}`.",
                    DisplayDuration(defaults.initial)
                )),
                "max" => positive_duration(&format!(
                    "The longest delay. Default: `{}`.",
                    DisplayDuration(defaults.max)
                )),
                _ => json!({
                    "type": "number",
                    "minimum": 1,
                    "description": format!(
                        "Each delay is the previous times this; 1 keeps them constant. \
                         Default: `{}`.",
                        defaults.factor
                    ),
                }),
            }
        }

        ("restart", "policy") => json!({
            "enum": RestartPolicy::NAMES,
            "description": "When to restart: `never`, `on-failure` (an exit that is not a \
                            success), `always`. Default: `on-failure`.",
        }),
        ("restart", "max") => json!({
            "type": "integer",
            "minimum": 1,
            "maximum": 10000,
            "description": format!(
                "Restarts in a row (1-10000) before the daemon is Failed. Default: `{}`.",
                Restart::DEFAULT_MAX
            ),
        }),
        ("restart", "backoff") => backoff(
            "restart.backoff",
            Backoff::RESTART,
            "The delays before restarts in a row; `initial` at most `max`.",
        ),
        ("restart", "reset_after") => positive_duration(&format!(
            "Running this long resets the count of restarts. Default: `{}`.",
            DisplayDuration(Restart::DEFAULT_RESET_AFTER)
        )),

        ("stop[]", "signal") => json!({
            "enum": Signal::ALL.map(Signal::name),
            "description": "The signal sent to the process group. SIGKILL is refused: it always \
                            ends the chain by itself.",
        }),
        ("stop[]", "http") => object(
            "stop[].http",
            "An HTTP shutdown: a POST to `post` (only as the first step; one nobody answers \
             moves on at once).",
        ),
        ("stop[]", "grace") => duration(&format!(
            "How long to wait for the group to end before the next step. Default: `{}`.",
            DisplayDuration(StopStep::DEFAULT_GRACE)
        )),

        ("stop[].http", "post") => http_url(
            "Required. The shutdown URL: `http://` or `https://`, a host, an optional port.",
        ),

        ("location", "ssh") => object(
            "location.ssh",
            "Required. The SSH destination, reached with the system's OpenSSH client.",
        ),
        ("location", "local_hosts") => nullable(json!({
            "type": "array",
            "description": "Host names that mean this machine: a handle whose host renders to \
                            one of them runs locally, without SSH. Default: `[]`.",
            "items": {
                "type": "string",
                "pattern": format!("^{HOST_FIRST}{HOST_CHAR}*$"),
                "description": "A hostname or IP address.",
            },
        })),

        ("location.ssh", "host") => address(
            "Required. Once rendered, a hostname or IP address (no leading `-`, no shell \
             metacharacters).",
            &format!("^(?:{HOST_FIRST}|{VAR})(?:{HOST_CHAR}|{VAR})*$"),
        ),
        ("location.ssh", "user") => address(
            "Once rendered, a user name `[A-Za-z_][A-Za-z0-9_.-]{0,31}`. Default: ssh's own.",
            &format!("^(?:[A-Za-z0-9_.-]|{VAR})+$"),
        ),
        ("location.ssh", "port") => json!({
            "type": ["string", "integer"],
            "pattern": format!("^(?:[0-9]|{VAR})+$"),
            "minimum": 1,
            "maximum": 65535,
            "description": format!(
                "A template; once rendered a port 1-65535. Default: `{}`.",
                Ssh::DEFAULT_PORT
            ),
        }),
        ("location.ssh", "host_keys") => json!({
            "enum": HostKeys::NAMES,
            "description": "`strict` (the host key must be known) or `accept-new` (a first \
                            contact is trusted and recorded; a changed key is refused all the \
                            same). Default: `strict`.",
        }),
        ("location.ssh", "probe") => json!({
            "enum": ProbeFrom::NAMES,
            "description": "Where the readiness probe runs from: `manager` (here) or `host` (on \
                            the host, through a forward of the SSH connection). \
                            Default: `manager`.",
        }),
        ("location.ssh", "install") => non_empty_template(
            "A local file installed as `command.binary` on the host before a start (skipped when \
             the host's copy has the same SHA-256); `command.binary` must then be an absolute \
             path. Default: none.",
        ),

        ("depends_on[]", "spec") => json!({
            "type": "string",
            "minLength": 1,
            "description": "Required. The dependency's spec file, relative to this one.",
        }),
        ("depends_on[]", "wait") => json!({
            "enum": [WaitFor::Healthy.name(), WaitFor::Started.name()],
            "description": "How far the dependency must get first: `healthy` (its probe passed; \
                            it needs one) or `started` (spawned). Default: `healthy`.",
        }),
        ("depends_on[]", "vars") => nullable(json!({
            "type": "object",
            "description": "The dependency's variables, each a template over this spec's \
                            variables. Default: `{}`.",
            "propertyNames": { "pattern": VAR_NAME },
            "additionalProperties": template("The variable's value."),
        })),

        ("logs", "dir") => non_empty_template(
            "The directory of the log, `<dir>/<key>.log`. Default: `logs` in the state directory.",
        ),
        ("logs", "max_size") => json!({
            "type": "string",
            "pattern": SIZE,
            "not": { "pattern": ZERO_SIZE },
            "description": format!(
                "The size at which the log is rotated: greater than zero, at most 1TiB, with a \
                 unit (B, KiB, MiB, GiB, KB, MB, GB). Default: `{}`.",
                size_text(Logs::DEFAULT.max_size)
            ),
        }),
        ("logs", "keep") => json!({
            "type": "integer",
            "minimum": 0,
            "maximum": 1000,
            "description": format!(
                "Rotated files kept (0-1000). Default: `{}`.",
                Logs::DEFAULT.keep
            ),
        }),

        _ => Value::Bool(false),
    }
}

/// One step of `stop:`, with a signal or an HTTP shutdown.
fn stop_step() -> Value {
    merge(
        object(
            "stop[]",
            "One step: `{ signal: S, grace: D }`, or, as the first step only, \
             `{ http: { post: URL }, grace: D }`.",
        ),
        json!({ "oneOf": [{ "required": ["signal"] }, { "required": ["http"] }] }),
    )
}

/// A `backoff:` mapping at `path` over `defaults`.
fn backoff(path: &str, defaults: Backoff, rule: &str) -> Value {
    nullable(object(
        path,
        &format!(
            "{rule} Default: `{{ initial: {}, max: {}, factor: {} }}`.",
            DisplayDuration(defaults.initial),
            DisplayDuration(defaults.max),
            defaults.factor
        ),
    ))
}

/// A duration: `<integer><unit>` groups, units `ms`, `s`, `m`, `h`.
fn duration(description: &str) -> Value {
    json!({
        "type": "string",
        "pattern": DURATION,
        "description": describe(
            description,
            "A duration with a unit (ms, s, m, h), also combined (`1m30s`); no fractions; at \
             most 24h.",
        ),
    })
}

/// A duration greater than zero.
fn positive_duration(description: &str) -> Value {
    json!({
        "type": "string",
        "pattern": DURATION,
        "not": { "pattern": ZERO_DURATION },
        "description": describe(
            description,
            "A duration greater than zero, with a unit (ms, s, m, h), also combined (`1m30s`); \
             no fractions; at most 24h.",
        ),
    })
}

/// `description` with the sentence `kind` (what sort of value it is) before its default.
fn describe(description: &str, kind: &str) -> String {
    match description.find(" Default: ") {
        Some(at) => format!("{} {kind}{}", &description[..at], &description[at..]),
        None => format!("{description} {kind}"),
    }
}

/// The pattern of a `{var}` template's text; `non_empty`: not blank.
fn template_pattern(non_empty: bool) -> String {
    let unit = format!("(?:{LITERAL}|{BRACES_OR_VAR})");
    if non_empty {
        format!("^{SPACE}*(?:{NON_SPACE}|{BRACES_OR_VAR}){unit}*$")
    } else {
        format!("^{unit}*$")
    }
}

/// A `{var}` template: `{name}` is a variable, `{{` and `}}` are braces; numbers and booleans
/// are read as written.
fn template(description: &str) -> Value {
    json!({
        "type": ["string", "number", "boolean"],
        "pattern": template_pattern(false),
        "description": describe(description, TEMPLATE_KIND),
    })
}

/// A template of an `http://` or `https://` URL (or one that a `{var}` begins).
fn http_url(description: &str) -> Value {
    address(
        description,
        &format!("^(?:https?://|{VAR}){NO_SPACE}*$", NO_SPACE = no_space()),
    )
}

/// A template of something that reaches the network or `ssh`: text, whose literal characters
/// match `pattern` (the value is checked in full once rendered).
fn address(description: &str, pattern: &str) -> Value {
    json!({
        "type": "string",
        "pattern": pattern,
        "description": describe(description, TEMPLATE_KIND),
    })
}

/// A template unit without whitespace: a literal character, `{{`, `}}` or a `{var}`.
fn no_space() -> String {
    format!("(?:{NON_SPACE}|{BRACES_OR_VAR})")
}

/// A template that is not blank.
fn non_empty_template(description: &str) -> Value {
    merge(
        template(description),
        json!({ "pattern": template_pattern(true) }),
    )
}

/// `schema` where `null` (an empty value, read as an empty mapping or list) is allowed too.
fn nullable(schema: Value) -> Value {
    let null_too = match schema.get("type") {
        Some(Value::String(kind)) => json!([kind, "null"]),
        _ => return schema,
    };
    merge(schema, json!({ "type": null_too }))
}

/// `schema` with the members of `extra` added (over its own of the same name).
fn merge(schema: Value, extra: Value) -> Value {
    match (schema, extra) {
        (Value::Object(mut schema), Value::Object(extra)) => {
            schema.extend(extra);
            Value::Object(schema)
        }
        (schema, _) => schema,
    }
}

/// A size as a spec would write it (`10MiB`).
fn size_text(bytes: u64) -> String {
    [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)]
        .into_iter()
        .find(|&(_, unit)| bytes >= unit && bytes.is_multiple_of(unit))
        .map_or_else(
            || format!("{bytes}B"),
            |(name, unit)| format!("{}{name}", bytes / unit),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_written() {
        assert_eq!(size_text(10 * 1024 * 1024), "10MiB");
        assert_eq!(size_text(1000), "1000B");
        assert_eq!(size_text(2048), "2KiB");
    }
}
