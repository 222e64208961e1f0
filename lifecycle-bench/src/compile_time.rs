//! What `#[derive(Lifecycle)]` costs at compile time: a crate deriving 50 handles from 50 spec
//! files, against the same crate with the same structs and no derives. Dependencies are built
//! once up front; each round touches the crate's `lib.rs` and rebuilds it alone, alternating the
//! two crates so that machine drift hits both.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::stats::{Sample, show};

const HANDLES: usize = 50;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Spec number `i`: varied like real specs (probes, stop chains, ssh, dependencies).
fn spec(i: usize) -> String {
    let probe = match i % 4 {
        0 => "{ http: \"http://127.0.0.1:{port}/health\" }".to_owned(),
        1 => "{ tcp: \"127.0.0.1:{port}\" }".to_owned(),
        2 => "notify".to_owned(),
        _ => "{ log: \"listening on .*:\\\\d+\" }".to_owned(),
    };
    let location = if i.is_multiple_of(5) {
        "location:\n  ssh: { host: \"{host}\", user: \"{user}\", port: \"{ssh_port}\" }\n  local_hosts: [localhost, 127.0.0.1]\n"
    } else {
        "location: local\n"
    };
    let depends = if i > 0 && i.is_multiple_of(3) {
        "depends_on:\n  - { spec: base.yaml, wait: healthy }\n"
    } else {
        ""
    };
    format!(
        "name: daemon-{i}\ninstance: \"{{port}}\"\ncommand:\n  binary: \"{{binary}}\"\n  args: [\"--port\", \"{{port}}\", \"--id\", \"{i}\"]\n  env: {{ RUST_LOG: info, DAEMON_ID: \"{i}\" }}\nvars:\n  binary: daemon-{i}\n  port: {port}\n  user: ops\n  ssh_port: 22\nreadiness:\n  probe: {probe}\n  deadline: 30s\n  attempt_timeout: 2s\n  backoff: {{ initial: 100ms, max: 3200ms, factor: 2 }}\nstop:\n  - {{ signal: SIGINT, grace: 2s }}\n  - {{ signal: SIGTERM, grace: 5s }}\n{location}{depends}restart: {{ policy: on-failure, max: 3 }}\nlogs: {{ max_size: 10MiB, keep: 3 }}\n",
        port = 20_000 + i,
    )
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Writes the fixture crate `name`, with or without the derives.
fn fixture(root: &Path, name: &str, derive: bool) -> Result<PathBuf, String> {
    let dir = root.join(name);
    let core = workspace().join("lifecycle-core");
    write(
        &dir.join("Cargo.toml"),
        &format!(
            "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n[dependencies]\nlifecycle-core = {{ path = \"{}\" }}\n\n[workspace]\n",
            core.display()
        ),
    )?;
    let lock = workspace().join("Cargo.lock");
    std::fs::copy(&lock, dir.join("Cargo.lock")).map_err(|e| format!("{}: {e}", lock.display()))?;
    write(
        &dir.join("specs/base.yaml"),
        "command: { binary: base }\nreadiness: { probe: { http: \"http://127.0.0.1:7000/health\" } }\n",
    )?;
    let mut lib = String::from("//! Fixture.\n#![allow(dead_code)]\n");
    if derive {
        lib.push_str("use lifecycle_core::Lifecycle;\n");
    }
    for i in 0..HANDLES {
        write(&dir.join(format!("specs/daemon{i}.yaml")), &spec(i))?;
        let host = if i.is_multiple_of(5) {
            "    host: String,\n"
        } else {
            ""
        };
        if derive {
            lib.push_str(&format!(
                "#[derive(Lifecycle)]\n#[lifecycle(spec = \"specs/daemon{i}.yaml\")]\n"
            ));
        }
        lib.push_str(&format!(
            "pub struct Handle{i} {{\n    port: u16,\n{host}}}\n"
        ));
    }
    write(&dir.join("src/lib.rs"), &lib)?;
    Ok(dir)
}

fn cargo_build(dir: &Path, target: &Path) -> Result<Duration, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let start = Instant::now();
    let output = Command::new(cargo)
        .args(["build", "--offline", "--quiet"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .output()
        .map_err(|e| format!("cargo: {e}"))?;
    let elapsed = start.elapsed();
    if !output.status.success() {
        return Err(format!(
            "build of {} failed:\n{}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(elapsed)
}

fn touch(dir: &Path) -> Result<(), String> {
    let lib = dir.join("src/lib.rs");
    let text = std::fs::read_to_string(&lib).map_err(|e| e.to_string())?;
    std::fs::write(&lib, text).map_err(|e| e.to_string())
}

pub(crate) fn run(rounds: usize) -> Result<(), String> {
    let root = workspace().join("target/bench-compile-time");
    let target = root.join("target");
    let with = fixture(&root, "with-derives", true)?;
    let without = fixture(&root, "without-derives", false)?;
    eprintln!("building dependencies once…");
    cargo_build(&with, &target)?;
    cargo_build(&without, &target)?;
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        touch(&with)?;
        a.push(cargo_build(&with, &target)?);
        touch(&without)?;
        b.push(cargo_build(&without, &target)?);
        eprintln!(
            "round {}/{rounds}: {} vs {}",
            round + 1,
            show(a[round]),
            show(b[round])
        );
    }
    let (with_s, without_s) = (Sample(a), Sample(b));
    let (wm, bm) = (with_s.median(), without_s.median());
    let extra = wm.saturating_sub(bm);
    println!("| crate (debug build of the crate alone, deps built) | median | min – max |");
    println!("|---|---|---|");
    let (lo, hi) = with_s.range();
    println!(
        "| {HANDLES} structs, `#[derive(Lifecycle)]` from {HANDLES} specs | {} | {} – {} |",
        show(wm),
        show(lo),
        show(hi)
    );
    let (lo, hi) = without_s.range();
    println!(
        "| the same {HANDLES} structs, no derives (baseline) | {} | {} – {} |",
        show(bm),
        show(lo),
        show(hi)
    );
    println!();
    println!(
        "derives add {} ({:.2}× the baseline), {} per handle; target ≤ 2 s more. {rounds} rounds.",
        show(extra),
        wm.as_secs_f64() / bm.as_secs_f64().max(1e-9),
        show(extra / HANDLES as u32)
    );
    Ok(())
}
