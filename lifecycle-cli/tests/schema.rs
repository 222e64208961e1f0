//! The JSON Schema of the spec language (`lifecycle_cli::schema`) against the decoders that
//! define the language: the committed `specs/schema.json` is current, each fixed mapping has
//! exactly the keys its decoder allows, every shipped and test spec validates, and documents the
//! decoders refuse for their shape or spelling are refused by the schema too.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use lifecycle_cli::schema::{json_schema, json_schema_text};
use lifecycle_spec::__private::mapping_keys;
use lifecycle_spec::Rule;
use serde_json::Value;

const SCHEMA_URL: &str = "file:///lifecycle/specs/schema.json";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn specs_dir() -> PathBuf {
    workspace().join("specs")
}

/// The schema, compiled (which checks it against the draft 2020-12 meta-schema).
struct Validator {
    schemas: boon::Schemas,
    index: boon::SchemaIndex,
}

impl Validator {
    fn new() -> Validator {
        let mut schemas = boon::Schemas::new();
        let mut compiler = boon::Compiler::new();
        compiler
            .add_resource(SCHEMA_URL, json_schema())
            .expect("the schema is JSON");
        let index = compiler
            .compile(SCHEMA_URL, &mut schemas)
            .unwrap_or_else(|err| panic!("the schema does not compile: {err:#}"));
        Validator { schemas, index }
    }

    /// `Ok` or the validator's account of what is wrong.
    fn check(&self, document: &Value) -> Result<(), String> {
        self.schemas
            .validate(document, self.index)
            .map_err(|err| format!("{err}"))
    }
}

/// A YAML document as the JSON value an editor's schema check sees.
fn yaml(text: &str) -> Result<Value, String> {
    serde_saphyr::from_str::<Value>(text).map_err(|err| err.to_string())
}

/// Every `*.yaml` under `dir`, sorted.
fn yaml_files(dir: &Path, recursive: bool) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if recursive {
                    dirs.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "yaml") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn committed_schema_is_current() {
    let path = specs_dir().join("schema.json");
    let actual = json_schema_text();
    // Never in CI: there, a schema that was not regenerated fails.
    if std::env::var_os("LIFECYCLE_BLESS").is_some() && std::env::var_os("CI").is_none() {
        std::fs::write(&path, &actual).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != actual {
        let line = committed
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(committed.lines().count().min(actual.lines().count()));
        panic!(
            "specs/schema.json is not the schema the code builds (first difference at line {}); \
             regenerate it with `cargo run -p lifecycle-cli -- schema > specs/schema.json` \
             (or `LIFECYCLE_BLESS=1 cargo test -p lifecycle-cli --test schema`)",
            line + 1
        );
    }
}

/// `schema` with its `$ref` to `#/$defs/…` followed.
fn deref<'s>(root: &'s Value, schema: &'s Value) -> &'s Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference
                .strip_prefix("#/$defs/")
                .unwrap_or_else(|| panic!("a $ref outside $defs: {reference}"));
            deref(root, &root["$defs"][name])
        }
        None => schema,
    }
}

/// The schema in `schema` (itself, or one of its `oneOf`/`anyOf`/`allOf` branches, references
/// followed) that `is_it` picks.
fn find<'s>(
    root: &'s Value,
    schema: &'s Value,
    is_it: &dyn Fn(&Value) -> bool,
) -> Option<&'s Value> {
    let schema = deref(root, schema);
    if is_it(schema) {
        return Some(schema);
    }
    ["oneOf", "anyOf", "allOf"]
        .iter()
        .filter_map(|k| schema.get(k).and_then(Value::as_array))
        .flatten()
        .find_map(|branch| find(root, branch, is_it))
}

fn is_mapping(schema: &Value) -> bool {
    schema.get("properties").is_some()
}

fn is_list(schema: &Value) -> bool {
    match &schema["type"] {
        Value::String(t) => t == "array",
        Value::Array(types) => types.iter().any(|t| t == "array"),
        _ => false,
    }
}

/// The schema of the fixed mapping at a decoder's field path (`""`, `readiness.probe`,
/// `stop[].http`).
fn mapping_at<'s>(root: &'s Value, path: &str) -> &'s Value {
    let mut node = root;
    for segment in path.split('.').filter(|s| !s.is_empty()) {
        let (key, item) = match segment.strip_suffix("[]") {
            Some(key) => (key, true),
            None => (segment, false),
        };
        let mut value = node["properties"]
            .get(key)
            .unwrap_or_else(|| panic!("{path}: no property `{key}`"));
        if item {
            let list = find(root, value, &is_list)
                .unwrap_or_else(|| panic!("{path}: `{key}` is not a list"));
            value = &list["items"];
        }
        node = find(root, value, &is_mapping)
            .unwrap_or_else(|| panic!("{path}: `{segment}` is not a mapping"));
    }
    node
}

#[test]
fn mappings_have_the_decoders_keys() {
    let schema = json_schema();
    let mut checked = Vec::new();
    for &(path, keys) in mapping_keys() {
        let mapping = mapping_at(&schema, path);
        let properties: BTreeSet<&str> = mapping["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let decoder: BTreeSet<&str> = keys.iter().copied().collect();
        let missing: Vec<_> = decoder.difference(&properties).collect();
        let extra: Vec<_> = properties.difference(&decoder).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "`{path}`: the decoder allows {missing:?} that the schema lacks, the schema has \
             {extra:?} that the decoder refuses"
        );
        assert_eq!(
            mapping["additionalProperties"], false,
            "`{path}`: other keys must be refused"
        );
        checked.push(mapping as *const Value);
    }

    // And no fixed mapping in the schema that the decoders do not have.
    fn walk<'s>(value: &'s Value, found: &mut Vec<&'s Value>) {
        match value {
            Value::Object(members) => {
                if members.get("properties").is_some_and(Value::is_object) {
                    found.push(value);
                }
                members.values().for_each(|v| walk(v, found));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    walk(&schema, &mut found);
    for mapping in found {
        assert!(
            checked.contains(&(mapping as *const Value)),
            "a mapping with keys {:?} that no decoder reads",
            mapping["properties"].as_object().unwrap().keys()
        );
    }
}

#[test]
fn every_key_is_described() {
    let schema = json_schema();
    for &(path, keys) in mapping_keys() {
        let mapping = mapping_at(&schema, path);
        for key in keys {
            let property = &mapping["properties"][key];
            let described = property
                .get("description")
                .and_then(Value::as_str)
                .is_some_and(|d| !d.is_empty());
            assert!(
                described,
                "`{path}` `{key}` has no schema entry with a description (add it to \
                 lifecycle-cli/src/schema.rs): {property}"
            );
        }
    }
    assert!(
        schema["description"]
            .as_str()
            .is_some_and(|d| !d.is_empty())
    );
}

/// Editors (yaml-language-server) validate with draft-07 semantics: no keyword may mean
/// something else there, or be ignored where it matters.
#[test]
fn keywords_mean_the_same_in_draft_7() {
    const NEWER: &[&str] = &[
        "prefixItems",
        "additionalItems",
        "unevaluatedItems",
        "unevaluatedProperties",
        "dependentRequired",
        "dependentSchemas",
        "minContains",
        "maxContains",
        "$anchor",
        "$dynamicRef",
        "$dynamicAnchor",
        "$recursiveRef",
    ];
    fn walk(value: &Value, at: &str) {
        match value {
            Value::Object(members) => {
                for (key, member) in members {
                    assert!(!NEWER.contains(&key.as_str()), "{at}/{key}: not draft-07");
                    assert!(
                        key != "items" || member.is_object(),
                        "{at}/items: an array means a tuple in draft-07"
                    );
                    walk(member, &format!("{at}/{key}"));
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, &format!("{at}/{i}"));
                }
            }
            _ => {}
        }
    }
    walk(&json_schema(), "#");
}

/// `path` as it is named in messages: relative to the workspace.
fn shown(path: &Path) -> String {
    path.strip_prefix(workspace())
        .unwrap_or(path)
        .display()
        .to_string()
}

fn assert_valid(validator: &Validator, files: &[PathBuf]) {
    assert!(!files.is_empty());
    for file in files {
        let text = std::fs::read_to_string(file).unwrap();
        let document = yaml(&text).unwrap_or_else(|e| panic!("{}: {e}", shown(file)));
        if let Err(err) = validator.check(&document) {
            panic!(
                "{} does not validate against the schema:\n{err}",
                shown(file)
            );
        }
    }
}

#[test]
fn shipped_specs_validate_and_name_the_schema() {
    let validator = Validator::new();
    let specs = specs_dir();
    let files = yaml_files(&specs, true);
    assert_valid(&validator, &files);
    for file in &files {
        let depth = file.strip_prefix(&specs).unwrap().components().count() - 1;
        let expected = format!(
            "# yaml-language-server: $schema={}schema.json",
            "../".repeat(depth)
        );
        let text = std::fs::read_to_string(file).unwrap();
        assert_eq!(
            text.lines().next(),
            Some(expected.as_str()),
            "{}: the first line names the schema for editors",
            shown(file)
        );
    }
}

#[test]
fn test_and_bench_specs_validate() {
    let validator = Validator::new();
    assert_valid(
        &validator,
        &yaml_files(&workspace().join("tests/specs"), false),
    );
    assert_valid(
        &validator,
        &yaml_files(&workspace().join("lifecycle-bench/specs"), false),
    );
}

/// The rules about one value's shape or spelling: a compile-fail spec the decoders refuse for
/// one of them, the schema refuses too.
const SCHEMA_RULES: &[Rule] = &[
    Rule::UnknownKey,
    Rule::MissingKey,
    Rule::WrongType,
    Rule::Duration,
    Rule::Size,
    Rule::Number,
    Rule::Choice,
    Rule::Template,
    Rule::Name,
    Rule::VarName,
    Rule::EnvName,
    Rule::Variant,
    Rule::ProbeCount,
    Rule::BackoffFactor,
    Rule::Signal,
    Rule::SigkillStep,
    Rule::EmptyStop,
    Rule::StopStep,
    // Of the addresses, what a pattern can see: the scheme, the characters, a port's digits.
    Rule::Url,
    Rule::TcpAddress,
    Rule::SshHost,
    Rule::SshUser,
    Rule::Port,
];

/// The rules the decoders report for `text`, read as the file `name` of `tests/ui/specs`
/// (dependencies are read relative to it); empty when it is valid.
fn decoder_rules(name: &str, text: &str) -> Vec<Rule> {
    let display = workspace().join("tests/ui/specs").join(name);
    match lifecycle_spec::parse_spec(display.to_str().unwrap(), text, &[]) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.rules(),
    }
}

#[test]
fn the_compile_fail_specs_the_schema_can_see_are_refused() {
    let validator = Validator::new();
    let mut refused = 0;
    for file in yaml_files(&workspace().join("tests/ui/specs"), false) {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.file_name().unwrap().to_str().unwrap();
        let rules = decoder_rules(name, &text);
        if !rules.iter().any(|r| SCHEMA_RULES.contains(r)) {
            continue;
        }
        // Not YAML an editor would check (a syntax error, a repeated key) is not the schema's.
        let Ok(document) = yaml(&text) else { continue };
        assert!(
            validator.check(&document).is_err(),
            "{}: the decoders refuse it ({rules:?}), the schema accepts it",
            shown(&file)
        );
        refused += 1;
    }
    assert!(refused >= 15, "only {refused} specs checked");
}

/// Documents the decoders refuse for their shape, each refused by the schema too.
const INVALID: &[(&str, &str)] = &[
    (
        "unknown key",
        "command: { binary: a }\nreadines: { probe: notify }\n",
    ),
    (
        "unknown nested key",
        "command: { binary: a }\nreadiness: { probe: notify, dedline: 5s }\n",
    ),
    (
        "duration without a unit",
        "command: { binary: a }\nreadiness: { probe: notify, deadline: 30 }\n",
    ),
    (
        "duration with a fraction",
        "command: { binary: a }\nstop: [{ signal: SIGTERM, grace: 1.5s }]\n",
    ),
    (
        "duration with an unknown unit",
        "command: { binary: a }\nrestart: { reset_after: 5sec }\n",
    ),
    (
        "zero deadline",
        "command: { binary: a }\nreadiness: { probe: notify, deadline: 0s }\n",
    ),
    (
        "bad signal",
        "command: { binary: a }\nstop: [{ signal: SIGTERMINATE }]\n",
    ),
    (
        "SIGKILL step",
        "command: { binary: a }\nstop: [{ signal: SIGKILL }]\n",
    ),
    (
        "signal and http in one step",
        "command: { binary: a }\nstop: [{ signal: SIGTERM, http: { post: \"http://h/\" } }]\n",
    ),
    ("no command", "name: a\n"),
    ("no binary", "command: { args: [a] }\n"),
    (
        "two probes",
        "command: { binary: a }\nreadiness: { probe: { http: \"http://h/\", tcp: \"h:1\" } }\n",
    ),
    (
        "a probe word",
        "command: { binary: a }\nreadiness: { probe: http }\n",
    ),
    ("uppercase name", "name: Queen\ncommand: { binary: a }\n"),
    (
        "unknown policy",
        "command: { binary: a }\nrestart: { policy: sometimes }\n",
    ),
    (
        "size without a unit",
        "command: { binary: a }\nlogs: { max_size: \"10\" }\n",
    ),
    (
        "unclosed var",
        "command: { binary: a, args: [\"{port\"] }\n",
    ),
    ("env name", "command: { binary: a, env: { A-B: x } }\n"),
    (
        "unknown location word",
        "command: { binary: a }\nlocation: remote\n",
    ),
    (
        "unknown host key policy",
        "command: { binary: a }\nlocation: { ssh: { host: h, host_keys: yes-please } }\n",
    ),
    (
        "ftp probe",
        "command: { binary: a }\nreadiness: { probe: { http: \"ftp://h/\" } }\n",
    ),
    (
        "tcp without a port",
        "command: { binary: a }\nreadiness: { probe: { tcp: \"127.0.0.1\" } }\n",
    ),
    (
        "ssh host that is an option",
        "command: { binary: a }\nlocation: { ssh: { host: \"-oProxyCommand=x\" } }\n",
    ),
    (
        "unknown wait",
        "command: { binary: a }\ndepends_on: [{ spec: q.yaml, wait: ready }]\n",
    ),
];

#[test]
fn invalid_documents_are_refused() {
    let validator = Validator::new();
    for (what, text) in INVALID {
        assert!(
            !decoder_rules("invalid.yaml", text).is_empty(),
            "{what}: the decoders accept it"
        );
        let document = yaml(text).unwrap();
        assert!(
            validator.check(&document).is_err(),
            "{what}: the schema accepts\n{text}"
        );
    }
}

/// Forms the decoders accept that the shipped specs do not show.
const VALID: &[(&str, &str)] = &[
    (
        "every probe form",
        "command: { binary: a }\nreadiness: { probe: { notify: ~ } }\n",
    ),
    (
        "a log probe and restart written empty",
        "command: { binary: a }\nreadiness: { probe: { log: \"^ready$\" } }\nrestart:\n",
    ),
    (
        "inherit_env as a list, numbers as arguments, braces",
        "command:\n  binary: /bin/a\n  args: [--n, 3, 1.5, true, \"{{literal}}\"]\n  inherit_env: [PATH, HOME]\n",
    ),
    (
        "an HTTP shutdown first, compound durations",
        "command: { binary: a }\nstop:\n  - { http: { post: \"http://127.0.0.1:9/quit\" }, grace: 1m30s }\n  - { signal: SIGUSR1 }\n",
    ),
    (
        "a remote location with every key",
        "command: { binary: /opt/a }\nvars: { host: h }\nlocation:\n  ssh: { host: \"{host}\", user: me, port: 2222, host_keys: accept-new, probe: host, install: target/a }\n  local_hosts: [localhost]\n",
    ),
    (
        "logs and a variant",
        "name: my_daemon-2\nvariant: MyDaemon\ncommand: { binary: a }\nlogs: { dir: /tmp/x, max_size: 1GB, keep: 0 }\n",
    ),
];

#[test]
fn valid_forms_are_accepted() {
    let validator = Validator::new();
    for (what, text) in VALID {
        let rules = decoder_rules("valid.yaml", text);
        assert!(
            rules.is_empty(),
            "{what}: the decoders refuse it: {rules:?}"
        );
        let document = yaml(text).unwrap();
        if let Err(err) = validator.check(&document) {
            panic!("{what}: the schema refuses\n{text}\n{err}");
        }
    }
}
