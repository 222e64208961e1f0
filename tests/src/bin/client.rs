//! Another process using the library, for the tests of what several processes see.
//!
//! ```text
//! client ensure --state DIR --kind KIND --binary B --test T [--port P] [--queen-port Q]
//!               [--flags F] [--calls N] [--lock-timeout-ms N] [--stay]
//! client hold-lock --state DIR --key KEY
//! client emfile --state DIR --binary B --port P --test T
//! client own-group-stop --state DIR
//! client default-state-dir
//! client remote-exit --state DIR --remote-state DIR --ssh-config F --host H --user U
//!                    --ssh-port P --binary B --port P --test T [--stop-on-drop yes]
//! ```
//!
//! `ensure` makes N concurrent `ensure_running` calls on a test daemon (KIND: http, short,
//! notify, log, worker, plain, slow-restart, logs) and prints `spawned PID` when it spawns it,
//! `ready PID` or `error MESSAGE` for each call; with `--stay` it then prints `done` and waits
//! for its stdin to close (a parent that lives on). `hold-lock` takes a daemon's lock, prints
//! `held`, and holds it until its stdin closes. `emfile` starts a daemon, then asks a second
//! manager to ensure it with one descriptor left, and prints what that did. `own-group-stop`
//! stops a record naming a dead process whose group is this process's own. `default-state-dir`
//! builds a manager with the default state directory. `remote-exit` starts the test daemon on a
//! remote host, prints `ready PID`, and exits without dropping its manager (as a program whose
//! manager is a static does). Daemons outlive this process (but a `--stop-on-drop yes`
//! manager's remote ones, which its host kills when its connection ends).

#![allow(clippy::print_stdout)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::time::Duration;

use lifecycle_core::{DaemonManager, Running, StartError, state::Event};
use lifecycle_tests::handles::{
    HttpDaemon, LogDaemon, LogsDaemon, NotifyDaemon, PlainDaemon, ShortDaemon, SlowRestartDaemon,
    Worker,
};

fn say(line: &str) {
    println!("{line}");
    let _ = std::io::stdout().flush();
}

fn fail(message: &str) -> ! {
    eprintln!("client: {message}");
    std::process::exit(2)
}

struct Args(HashMap<String, String>);

impl Args {
    fn parse(args: &[String]) -> Args {
        let mut map = HashMap::new();
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let Some(name) = flag.strip_prefix("--") else {
                fail(&format!("unexpected argument {flag}"))
            };
            if name == "stay" {
                map.insert(name.to_owned(), String::new());
            } else {
                let value = it
                    .next()
                    .unwrap_or_else(|| fail(&format!("{flag} needs a value")));
                map.insert(name.to_owned(), value.clone());
            }
        }
        Args(map)
    }

    fn get(&self, name: &str) -> String {
        self.0
            .get(name)
            .cloned()
            .unwrap_or_else(|| fail(&format!("--{name} is required")))
    }

    fn or(&self, name: &str, default: &str) -> String {
        self.0
            .get(name)
            .cloned()
            .unwrap_or_else(|| default.to_owned())
    }

    fn number<T: std::str::FromStr>(&self, name: &str, default: &str) -> T {
        self.or(name, default)
            .parse()
            .unwrap_or_else(|_| fail(&format!("--{name} is a number")))
    }
}

fn manager(args: &Args) -> DaemonManager {
    let mut builder = DaemonManager::builder().state_dir(args.get("state"));
    if let Some(ms) = args.0.get("lock-timeout-ms") {
        let ms = ms
            .parse()
            .unwrap_or_else(|_| fail("--lock-timeout-ms is a number"));
        builder = builder.lock_timeout(Duration::from_millis(ms));
    }
    builder.build().unwrap_or_else(|e| fail(&e.to_string()))
}

/// One ensure of the daemon `args` describe.
async fn ensure(manager: &DaemonManager, args: &Args) -> Result<Running, StartError> {
    let (binary, test, flags) = (args.get("binary"), args.get("test"), args.or("flags", ""));
    let port = || args.number::<u16>("port", "0");
    match args.get("kind").as_str() {
        "http" => {
            manager
                .ensure_running(&HttpDaemon {
                    binary,
                    port: port(),
                    test,
                    flags,
                })
                .await
        }
        "short" => {
            manager
                .ensure_running(&ShortDaemon {
                    binary,
                    port: port(),
                    test,
                    flags,
                })
                .await
        }
        "notify" => {
            manager
                .ensure_running(&NotifyDaemon {
                    binary,
                    test,
                    flags: if flags.is_empty() {
                        "--notify".into()
                    } else {
                        flags
                    },
                })
                .await
        }
        "log" => {
            manager
                .ensure_running(&LogDaemon {
                    binary,
                    test,
                    flags,
                })
                .await
        }
        "logs" => {
            manager
                .ensure_running(&LogsDaemon {
                    binary,
                    test,
                    flags,
                })
                .await
        }
        "plain" => {
            manager
                .ensure_running(&PlainDaemon {
                    binary,
                    test,
                    flags,
                })
                .await
        }
        "slow-restart" => {
            manager
                .ensure_running(&SlowRestartDaemon {
                    binary,
                    test,
                    flags,
                })
                .await
        }
        "worker" => {
            let worker = Worker {
                binary,
                port: port(),
                queen_port: args.number("queen-port", "0"),
                test,
            };
            manager.ensure_running(&worker).await
        }
        other => fail(&format!("unknown kind {other}")),
    }
}

async fn ensure_command(args: Args) -> i32 {
    let manager = manager(&args);
    let mut events = manager.subscribe();
    tokio::spawn(async move {
        while let Ok(t) = events.recv().await {
            if let Event::Spawned { pid } = t.event {
                say(&format!("spawned {pid}"));
            }
        }
    });
    let args = std::sync::Arc::new(args);
    let calls: usize = args.number("calls", "1");
    let tasks: Vec<_> = (0..calls)
        .map(|_| {
            let (manager, args) = (manager.clone(), args.clone());
            tokio::spawn(async move { ensure(&manager, &args).await })
        })
        .collect();
    let mut failed = false;
    for task in tasks {
        match task.await {
            Ok(Ok(running)) => say(&format!("ready {}", running.pid)),
            Ok(Err(err)) => {
                say(&format!("error {}", err.to_string().replace('\n', " ")));
                failed = true;
            }
            Err(err) => {
                say(&format!("error {err}"));
                failed = true;
            }
        }
    }
    if args.0.contains_key("stay") {
        say("done");
        let mut rest = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut rest);
    }
    i32::from(failed)
}

/// Holds the lock byte of daemon `--key` on `<state>/lock` until stdin closes.
fn hold_lock(args: &Args) -> i32 {
    use nix::fcntl::{FcntlArg, fcntl};
    let path = std::path::Path::new(&args.get("state")).join("lock");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| fail(&format!("{}: {e}", path.display())));
    let lock = nix::libc::flock {
        l_type: nix::libc::F_WRLCK as i16,
        l_whence: nix::libc::SEEK_SET as i16,
        l_start: lifecycle_core::__private::lock_offset(&args.get("key")),
        l_len: 1,
        l_pid: 0,
    };
    if let Err(e) = fcntl(&file, FcntlArg::F_OFD_SETLKW(&lock)) {
        fail(&format!("cannot take the lock: {e}"));
    }
    say("held");
    let mut rest = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut rest);
    0
}

/// Starts a daemon, then has a second manager ensure it with one descriptor left.
async fn emfile(args: Args) -> i32 {
    let first = manager(&args);
    let daemon = HttpDaemon {
        binary: args.get("binary"),
        port: args.number("port", "0"),
        test: args.get("test"),
        flags: String::new(),
    };
    match first.ensure_running(&daemon).await {
        Ok(running) => say(&format!("ready {}", running.pid)),
        Err(err) => fail(&err.to_string()),
    }
    let second = manager(&args);
    let mut spawns = second.subscribe();
    // Every descriptor but one taken.
    let mut held = Vec::new();
    while let Ok(file) = std::fs::File::open("/dev/null") {
        held.push(file);
    }
    held.pop();
    let result = second.ensure_running(&daemon).await;
    drop(held);
    match result {
        Ok(running) => say(&format!("ready {}", running.pid)),
        Err(err) => say(&format!("error {}", err.to_string().replace('\n', " "))),
    }
    while let Ok(t) = spawns.try_recv() {
        if let Event::Spawned { pid } = t.event {
            say(&format!("spawned {pid}"));
        }
    }
    0
}

/// A record (this boot) naming a process that is gone, whose group is this process's own.
async fn own_group_stop(args: Args) -> i32 {
    let manager = manager(&args);
    let mut gone = std::process::Command::new("true")
        .spawn()
        .unwrap_or_else(|e| fail(&e.to_string()));
    let pid = gone.id();
    let start_time = lifecycle_tests::harness::start_time(pid).unwrap_or(1);
    let _ = gone.wait();
    let mut record = lifecycle_tests::harness::record("own-group", pid, start_time);
    record.pgid = nix::unistd::getpgrp().as_raw().unsigned_abs();
    let path = manager.state_dir().join("daemons/own-group.record");
    std::fs::write(&path, record.to_text()).unwrap_or_else(|e| fail(&e.to_string()));
    match manager.stop_by_key("own-group").await {
        Ok(stopped) => say(&format!("stopped {stopped:?}")),
        Err(err) => say(&format!("error {err}")),
    }
    0
}

/// Starts a remote test daemon and leaves without dropping the manager.
async fn remote_exit(args: Args) -> i32 {
    let manager = DaemonManager::builder()
        .state_dir(args.get("state"))
        .remote_state_dir(args.get("remote-state"))
        .ssh_config(args.get("ssh-config"))
        .stop_on_drop(args.0.get("stop-on-drop").is_some_and(|v| v == "yes"))
        .build()
        .unwrap_or_else(|e| fail(&e.to_string()));
    let handle = lifecycle_tests::handles::RemoteDaemon {
        binary: args.get("binary"),
        port: args.get("port").parse().unwrap_or_else(|_| fail("--port")),
        test: args.get("test"),
        flags: String::new(),
        host: args.get("host"),
        user: args.get("user"),
        ssh_port: args
            .get("ssh-port")
            .parse()
            .unwrap_or_else(|_| fail("--ssh-port")),
    };
    match manager.ensure_running(&handle).await {
        Ok(running) => say(&format!("ready {}", running.pid)),
        Err(err) => {
            say(&format!("error {err}"));
            return 1;
        }
    }
    // A manager nobody drops: a static's, at the end of `main`.
    std::mem::forget(manager);
    0
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        fail("usage: client ensure|hold-lock|emfile|own-group-stop|default-state-dir …")
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail(&e.to_string()));
    let args = Args::parse(rest);
    let code = match command.as_str() {
        "ensure" => runtime.block_on(ensure_command(args)),
        "hold-lock" => hold_lock(&args),
        "emfile" => runtime.block_on(emfile(args)),
        "own-group-stop" => runtime.block_on(own_group_stop(args)),
        "remote-exit" => runtime.block_on(remote_exit(args)),
        "default-state-dir" => match DaemonManager::builder().build() {
            Ok(manager) => {
                say(&format!("state {}", manager.state_dir().display()));
                0
            }
            Err(err) => {
                say(&format!("error {err}"));
                1
            }
        },
        other => fail(&format!("unknown command {other}")),
    };
    drop(runtime);
    std::process::exit(code);
}
