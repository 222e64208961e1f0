//! The command line run: a subcommand dispatched, its output printed, its exit code returned.

use std::collections::HashMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use lifecycle_core::{DaemonManager, Lifecycle};

use crate::cli::{Cli, Command, Export};
use crate::commands::{check, down, logs, run, status, up};
use crate::load::{load, spec_files};
use crate::progress::{Mode, Progress};
use crate::{CliError, SpecHandle};

/// Runs a parsed command line; prints its output and errors; returns its exit code.
///
/// ```no_run
/// use clap::Parser;
/// let cli = lifecycle_cli::Cli::parse_from(["lifecycle", "status"]);
/// let code = lifecycle_cli::app::main(cli);
/// ```
pub fn main(cli: Cli) -> ExitCode {
    match dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let mut stderr = std::io::stderr().lock();
            match &err {
                CliError::Invalid { .. } => {
                    let _ = writeln!(stderr, "{err}");
                }
                _ => {
                    let _ = writeln!(stderr, "lifecycle: {err}");
                }
            }
            err.exit_code()
        }
    }
}

fn dispatch(cli: Cli) -> Result<(), CliError> {
    let json = cli.json;
    match cli.command {
        Command::Check { specs, vars } => {
            let report = check::check(&specs, &vars.map())?;
            print(&report);
            Ok(())
        }
        Command::Schema => {
            print(&crate::schema::json_schema_text());
            Ok(())
        }
        Command::Export {
            format: Export::Systemd { spec, vars, user },
        } => {
            let handle = load(&spec, &vars.map())?;
            let target = if user {
                crate::systemd::Target::User
            } else {
                crate::systemd::Target::System
            };
            let unit = crate::systemd::export(&handle, target)
                .map_err(|e| CliError::BadInput(e.to_string()))?;
            let mut stderr = std::io::stderr().lock();
            for warning in &unit.warnings {
                let _ = writeln!(stderr, "warning: {warning}");
            }
            print(&unit.text);
            if !unit.text.ends_with('\n') {
                print("\n");
            }
            Ok(())
        }
        Command::Up {
            specs,
            vars,
            no_recreate,
        } => {
            let handles = handles(&specs, &vars.map())?;
            with_manager(cli.state_dir, false, |manager| async move {
                let progress = Progress::new(Mode::pick(json), deadlines(&handles));
                let watch = progress.watch(&manager);
                let result = up::up(&manager, handles, no_recreate, &progress).await;
                watch.finish().await;
                if let Ok(running) = &result {
                    up::report(running, &progress);
                }
                progress.done();
                result.map(drop)
            })
        }
        Command::Run { specs, vars } => {
            let handles = handles(&specs, &vars.map())?;
            // Should the run end without its stop (a panic, a second signal), what it spawned
            // goes with its manager.
            with_manager(cli.state_dir, true, |manager| async move {
                let progress = Progress::new(Mode::pick(json), deadlines(&handles));
                let watch = progress.watch(&manager);
                let result = run::run(&manager, handles, &progress).await;
                watch.finish().await;
                progress.done();
                result
            })
        }
        Command::Down {
            targets,
            vars,
            grace,
        } => with_manager(cli.state_dir, false, |manager| async move {
            let known = crate::commands::listed(&manager).await?;
            let keys = down::resolve(&targets, &vars.map(), &known)?;
            let progress = Progress::new(Mode::pick(json), HashMap::new());
            let watch = progress.watch(&manager);
            let result = down::down(&manager, keys, &known, grace, &progress).await;
            watch.finish().await;
            progress.done();
            result
        }),
        Command::Status => with_manager(cli.state_dir, false, |manager| async move {
            let known = crate::commands::listed(&manager).await?;
            if json {
                print(&status::json_lines(&known));
            } else {
                print(&status::table(&known));
            }
            Ok(())
        }),
        Command::Logs {
            name,
            follow,
            lines,
        } => {
            let (_key, path) = with_manager(cli.state_dir, false, |manager| async move {
                logs::log_of(&name, &crate::commands::listed(&manager).await?)
            })?;
            let failed = |e: std::io::Error| CliError::Failed(format!("{}: {e}", path.display()));
            let mut file = logs::open_log(&path).map_err(failed)?;
            let mut out = std::io::stdout().lock();
            let shown = logs::tail(&mut file, lines, &mut out).and_then(|end| {
                if follow {
                    logs::follow(&path, end, &mut out)
                } else {
                    Ok(())
                }
            });
            match shown {
                // The reader went away (`logs -f | head`): done.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                other => other.map_err(failed),
            }
        }
    }
}

/// Prints `text` on standard output (a closed pipe is not an error of ours).
fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// A handle for each spec file of `paths`, every one read and valid before any is used.
fn handles(
    paths: &[std::path::PathBuf],
    vars: &std::collections::BTreeMap<String, String>,
) -> Result<Vec<SpecHandle>, CliError> {
    let files = spec_files(paths)?;
    let mut handles = Vec::with_capacity(files.len());
    let mut invalid = Vec::new();
    let mut count = 0;
    for file in &files {
        match load(file, vars) {
            Ok(handle) => handles.push(handle),
            Err(CliError::Invalid { rendered, count: n }) => {
                invalid.push(rendered);
                count += n;
            }
            Err(other) => return Err(other),
        }
    }
    if invalid.is_empty() {
        Ok(handles)
    } else {
        Err(CliError::Invalid {
            rendered: invalid.join("\n\n"),
            count,
        })
    }
}

/// Each daemon name's readiness deadline, the handles' and their dependencies'.
fn deadlines(handles: &[SpecHandle]) -> HashMap<String, Duration> {
    let mut found = HashMap::new();
    let mut specs: Vec<&lifecycle_core::spec::Spec> = handles.iter().map(|h| h.spec()).collect();
    while let Some(spec) = specs.pop() {
        if let Some(readiness) = &spec.readiness {
            found.insert(spec.name.to_string(), readiness.deadline);
        }
        specs.extend(spec.depends_on.iter().map(|d| &*d.spec));
    }
    found
}

/// Runs `work` with a manager of the state directory (`stop_on_drop`: it kills what it spawned
/// when dropped) on a runtime of two workers, ended with it (no task outlives the command).
fn with_manager<T, F>(
    state_dir: Option<std::path::PathBuf>,
    stop_on_drop: bool,
    work: impl FnOnce(DaemonManager) -> F,
) -> Result<T, CliError>
where
    F: std::future::Future<Output = Result<T, CliError>>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async move {
        let mut builder = DaemonManager::builder().stop_on_drop(stop_on_drop);
        if let Some(dir) = state_dir {
            builder = builder.state_dir(dir);
        }
        let manager = builder
            .build()
            .map_err(|e| CliError::BadInput(e.to_string()))?;
        work(manager).await
    })
}
