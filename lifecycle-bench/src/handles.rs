//! The benchmark's handles over `lifecycle-bench/specs/`; `binary` is this program, which runs
//! the test daemon when its first argument is `--test-daemon`.

use lifecycle_core::Lifecycle;

/// HTTP-probed daemon with the library's default backoff.
#[derive(Lifecycle)]
#[lifecycle(spec = "specs/http.yaml")]
pub(crate) struct Http {
    pub(crate) binary: String,
    pub(crate) id: String,
    pub(crate) port: u16,
    pub(crate) ready_after: u64,
    pub(crate) ready_file: String,
    pub(crate) exit_after_sigterm: u64,
    pub(crate) log_dir: String,
}

/// HTTP-probed daemon with a fine backoff, ready at once.
#[derive(Lifecycle)]
#[lifecycle(spec = "specs/fast.yaml")]
pub(crate) struct Fast {
    pub(crate) binary: String,
    pub(crate) id: String,
    pub(crate) port: u16,
    pub(crate) log_dir: String,
}

/// sd_notify daemon.
#[derive(Lifecycle)]
#[lifecycle(spec = "specs/notify.yaml")]
pub(crate) struct Notify {
    pub(crate) binary: String,
    pub(crate) id: String,
    pub(crate) ready_after: u64,
    pub(crate) ready_file: String,
    pub(crate) log_dir: String,
}

/// SIGTERM-ignoring daemon with a SIGTERM-ignoring grandchild.
#[derive(Lifecycle)]
#[lifecycle(spec = "specs/stubborn.yaml")]
pub(crate) struct Stubborn {
    pub(crate) binary: String,
    pub(crate) id: String,
    pub(crate) port: u16,
    pub(crate) grandchild_file: String,
    pub(crate) log_dir: String,
}

/// The test daemon on another host over SSH, HTTP-probed from here.
#[derive(Lifecycle)]
#[lifecycle(spec = "specs/remote.yaml")]
pub(crate) struct Remote {
    pub(crate) binary: String,
    pub(crate) id: String,
    pub(crate) port: u16,
    pub(crate) exit_after_sigterm: u64,
    pub(crate) host: String,
    pub(crate) user: String,
    pub(crate) ssh_port: u16,
}

/// The test daemon on another host over SSH, without a readiness probe.
#[derive(Lifecycle)]
#[lifecycle(spec = "specs/remote_bare.yaml")]
pub(crate) struct RemoteBare {
    pub(crate) binary: String,
    pub(crate) id: String,
    pub(crate) port: u16,
    pub(crate) host: String,
    pub(crate) user: String,
    pub(crate) ssh_port: u16,
}

/// Probe benchmark: HTTP probe (503 until ready), the library's default backoff.
#[derive(Lifecycle)]
#[lifecycle(spec = "specs/probe_http.yaml")]
pub(crate) struct ProbeHttp {
    pub(crate) binary: String,
    pub(crate) id: String,
    pub(crate) port: u16,
    pub(crate) ready_after: u64,
    pub(crate) ready_file: String,
    pub(crate) log_dir: String,
}

/// Probe benchmark: HTTP probe (503 until ready), tight backoff (10ms doubling to 100ms).
#[derive(Lifecycle)]
#[lifecycle(spec = "specs/probe_http_tight.yaml")]
pub(crate) struct ProbeHttpTight {
    pub(crate) binary: String,
    pub(crate) id: String,
    pub(crate) port: u16,
    pub(crate) ready_after: u64,
    pub(crate) ready_file: String,
    pub(crate) log_dir: String,
}

/// Probe benchmark: TCP probe (port bound only when ready), the library's default backoff.
#[derive(Lifecycle)]
#[lifecycle(spec = "specs/probe_tcp.yaml")]
pub(crate) struct ProbeTcp {
    pub(crate) binary: String,
    pub(crate) id: String,
    pub(crate) port: u16,
    pub(crate) ready_after: u64,
    pub(crate) ready_file: String,
    pub(crate) log_dir: String,
}

/// Probe benchmark: TCP probe (port bound only when ready), tight backoff (10ms doubling to 100ms).
#[derive(Lifecycle)]
#[lifecycle(spec = "specs/probe_tcp_tight.yaml")]
pub(crate) struct ProbeTcpTight {
    pub(crate) binary: String,
    pub(crate) id: String,
    pub(crate) port: u16,
    pub(crate) ready_after: u64,
    pub(crate) ready_file: String,
    pub(crate) log_dir: String,
}

/// Probe benchmark: sd_notify READY=1 (an event, no backoff).
#[derive(Lifecycle)]
#[lifecycle(spec = "specs/probe_notify.yaml")]
pub(crate) struct ProbeNotify {
    pub(crate) binary: String,
    pub(crate) id: String,
    pub(crate) ready_after: u64,
    pub(crate) ready_file: String,
    pub(crate) log_dir: String,
}

/// Probe benchmark: a ready line in the daemon's log (an event, no backoff).
#[derive(Lifecycle)]
#[lifecycle(spec = "specs/probe_log.yaml")]
pub(crate) struct ProbeLog {
    pub(crate) binary: String,
    pub(crate) id: String,
    pub(crate) ready_after: u64,
    pub(crate) ready_file: String,
    pub(crate) log_dir: String,
}

/// Peers benchmark: ready after `ready_after` ms (port bound then), TCP probe every 10 ms.
#[derive(Lifecycle)]
#[lifecycle(spec = "specs/peer_ready.yaml")]
pub(crate) struct PeerReady {
    pub(crate) binary: String,
    pub(crate) id: String,
    pub(crate) port: u16,
    pub(crate) ready_after: u64,
    pub(crate) ready_file: String,
    pub(crate) log_dir: String,
}
