//! A [`NetnsHost`] is "another machine" with its
//! own network stack (its own `127.0.0.1`, its own ports) and a real sshd, reachable from the
//! test process through a veth pair, while sharing this machine's processes and files. A daemon
//! that binds `127.0.0.1` there cannot be reached from here, as on a real remote host.
//!
//! Each host is a namespace `lc-<pid>-<n>` with a veth pair: `10.201.X.Y+1/30` on this side
//! (named `lc<pid>v<n>`), `10.201.X.Y+2/30` on the namespace's (`eth0`), the /30 unused on this
//! machine and picked from this process's ID and a counter, so that parallel test processes
//! rarely even try the same one; `lo` is up there. Its sshd ([`Sshd::start_in`]) listens on
//! port 22 of the namespace-side address.
//!
//! Dropping a host kills its sshd, then whatever is left in the namespace, deletes the veth pair
//! and the namespace, and fails the test (unless it is failing already) if anything but sshd
//! was left there: a process in a deleted namespace would keep running unseen.
//!
//! Needs root (`ip netns add`) and `ip` from iproute2: without them it panics saying what is
//! missing; it never skips. It is test-support code: when something it needs fails it panics.

#![allow(clippy::panic)]

use std::ffi::OsStr;
use std::fs;
use std::io::ErrorKind;
use std::net::Ipv4Addr;
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::harness::{is_alive, pids, wait_exit};
use crate::pidfd;
use crate::sshd::Sshd;

/// Where `ip netns` keeps its namespaces.
const NETNS_DIR: &str = "/run/netns";
/// The prefix of this harness's namespace names (`lc-<pid>-<n>`).
const PREFIX: &str = "lc-";
/// The second octet of the test subnets: 10.201.0.0/16.
const SECOND_OCTET: u32 = 201;
/// How many /30 subnets 10.201.0.0/16 holds.
const SUBNETS: u32 = 1 << 14;
/// How many names and subnets [`NetnsHost::start`] tries.
const ATTEMPTS: u32 = 64;
/// How long processes left in a namespace have to end once its sshd is gone (a manager's
/// helper shell ends as soon as its connection does) before they count as left behind.
const SETTLE_WITHIN: Duration = Duration::from_secs(5);

/// A network namespace with a veth pair to this one and an sshd inside: a test host.
///
/// Dropping it kills its sshd and anything left in the namespace, and deletes the veth pair and
/// the namespace; it panics (unless the thread is panicking already) if processes other than
/// sshd's were left there, naming them.
#[derive(Debug)]
pub struct NetnsHost {
    /// The namespace's name, `lc-<pid>-<n>`.
    name: String,
    /// This side of the veth pair, `lc<pid>v<n>`.
    veth: String,
    /// The address of this side of the veth pair.
    gateway: Ipv4Addr,
    /// The address of the namespace's side, where its sshd listens.
    address: Ipv4Addr,
    /// The namespace's identity (the device and inode of `/run/netns/<name>`, those of
    /// `/proc/<pid>/ns/net` of every process in it), once made.
    identity: Option<(u64, u64)>,
    /// The sshd inside; `None` only while starting and in `drop`.
    sshd: Option<Sshd>,
}

impl NetnsHost {
    /// Makes a namespace, its veth pair and addresses, brings `lo` up in it, and starts an sshd
    /// in it on port 22 of its address ([`address`](Self::address)); waits until that sshd
    /// answers from here. First removes the namespaces (and their veth pairs) that this harness
    /// left behind in processes that are gone, killing what still ran in them.
    ///
    /// Panics if not root, if there is no `ip` command, if network namespaces cannot be made,
    /// or if sshd does not come up (see [`Sshd::start_in`]).
    pub fn start() -> NetnsHost {
        if !nix::unistd::geteuid().is_root() {
            panic!(
                "lifecycle_tests::netns needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) to make \
                 network namespaces with `ip netns add`; run the test as root"
            );
        }
        ip_available();
        sweep_stale();
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let pid = std::process::id();
        let mut host = None;
        for _ in 0..ATTEMPTS {
            let n = NEXT.fetch_add(1, Ordering::SeqCst);
            let name = format!("{PREFIX}{pid}-{n}");
            if fs::symlink_metadata(format!("{NETNS_DIR}/{name}")).is_ok() {
                continue;
            }
            let index = pid.wrapping_mul(61).wrapping_add(n) % SUBNETS;
            let (gateway, address) = subnet(index);
            if subnet_in_use(gateway) {
                continue;
            }
            host = Some(NetnsHost {
                veth: format!("lc{pid}v{n}"),
                name,
                gateway,
                address,
                identity: None,
                sshd: None,
            });
            break;
        }
        let Some(mut host) = host else {
            panic!(
                "no unused /30 in 10.{SECOND_OCTET}.0.0/16 nor free namespace name for a test \
                 host after {ATTEMPTS} tries (`ip -4 addr`, `ip netns list`)"
            );
        };
        host.make();
        host.sshd = Some(Sshd::start_in(Some(&host.name), host.address));
        host
    }

    /// The namespace's name (for `ip netns exec`, `ip -n`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The namespace's address (its side of the veth pair), where its sshd listens.
    pub fn address(&self) -> Ipv4Addr {
        self.address
    }

    /// The address of this side of the veth pair, as the namespace sees this machine.
    pub fn gateway(&self) -> Ipv4Addr {
        self.gateway
    }

    /// The sshd running in the namespace: its [`host`](Sshd::host) is
    /// [`address`](Self::address), its port 22.
    pub fn sshd(&self) -> &Sshd {
        match &self.sshd {
            Some(sshd) => sshd,
            None => panic!("the sshd of test host {} is gone", self.name),
        }
    }

    /// The sshd running in the namespace, to kill or restart it.
    pub fn sshd_mut(&mut self) -> &mut Sshd {
        match &mut self.sshd {
            Some(sshd) => sshd,
            None => panic!("the sshd of test host {} is gone", self.name),
        }
    }

    /// `ip netns exec NAME program`: a command run inside the namespace (the caller adds the
    /// arguments and waits for it).
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name]).arg(program);
        command
    }

    /// Every process in the namespace (whose `/proc/<pid>/ns/net` is it), sshd's included.
    pub fn processes(&self) -> Vec<u32> {
        match self.identity {
            Some(identity) => processes_in(identity),
            None => Vec::new(),
        }
    }

    /// The processes in the namespace other than sshd's (the listener and its per-connection
    /// processes), each as `PID COMMAND LINE`: what a test expects to be empty once it has
    /// stopped its daemons and dropped its managers (whose helper shells there end with
    /// their connections: see [`wait_leftovers`](Self::wait_leftovers)).
    pub fn leftovers(&self) -> Vec<String> {
        self.leftover_pids()
            .into_iter()
            .filter_map(describe)
            .collect()
    }

    /// Waits, for at most `within`, until [`leftovers`](Self::leftovers) is empty (on each
    /// process's exit, not by polling the list); returns what is still there.
    pub fn wait_leftovers(&self, within: Duration) -> Vec<String> {
        let deadline = Instant::now() + within;
        loop {
            let left = self.leftover_pids();
            let left_time = deadline.saturating_duration_since(Instant::now());
            if left.is_empty() || left_time.is_zero() {
                return left.into_iter().filter_map(describe).collect();
            }
            for pid in left {
                wait_exit(pid, deadline.saturating_duration_since(Instant::now()));
            }
        }
    }

    /// The PIDs of [`leftovers`](Self::leftovers).
    fn leftover_pids(&self) -> Vec<u32> {
        self.processes()
            .into_iter()
            .filter(|&pid| {
                is_alive(pid)
                    && !fs::read_to_string(format!("/proc/{pid}/comm"))
                        .is_ok_and(|comm| comm.starts_with("sshd"))
            })
            .collect()
    }

    /// Makes the namespace, the veth pair, the addresses; `lo` and the pair up.
    fn make(&mut self) {
        let name = self.name.clone();
        let made = Command::new("ip")
            .args(["netns", "add", &name])
            .stdin(Stdio::null())
            .output();
        match made {
            Ok(out) if out.status.success() => {}
            Ok(out) => panic!(
                "network namespaces are not available here: `ip netns add {name}` failed ({}): \
                 {} (the netns tests need a kernel with network namespaces and root with \
                 CAP_SYS_ADMIN, e.g. a privileged container)",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            Err(err) => panic!("cannot run `ip netns add {name}`: {err}"),
        }
        self.identity = identity_of(&name);
        if self.identity.is_none() {
            panic!("`ip netns add {name}` made no {NETNS_DIR}/{name}");
        }
        let (veth, gateway, address) = (self.veth.clone(), self.gateway, self.address);
        ip(&[
            "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &name,
        ]);
        ip(&["addr", "add", &format!("{gateway}/30"), "dev", &veth]);
        ip(&["link", "set", &veth, "up"]);
        ip(&[
            "-n",
            &name,
            "addr",
            "add",
            &format!("{address}/30"),
            "dev",
            "eth0",
        ]);
        ip(&["-n", &name, "link", "set", "eth0", "up"]);
        ip(&["-n", &name, "link", "set", "lo", "up"]);
    }
}

impl Drop for NetnsHost {
    /// Kills sshd; gives what is left in the namespace [`SETTLE_WITHIN`] to end, then kills
    /// it; deletes the veth pair and the namespace; panics naming what was left (unless the
    /// thread is panicking already).
    fn drop(&mut self) {
        drop(self.sshd.take());
        let panicking = std::thread::panicking();
        let left = self.wait_leftovers(if panicking {
            Duration::ZERO
        } else {
            SETTLE_WITHIN
        });
        if let Some(identity) = self.identity {
            kill_all_in(identity);
        }
        remove(&self.name, &self.veth);
        if !left.is_empty() && !panicking {
            panic!(
                "processes were left running in test host {} ({}), killed now:\n{}",
                self.name,
                self.address,
                left.join("\n")
            );
        }
    }
}

/// Panics unless `ip` (iproute2) runs.
fn ip_available() {
    match Command::new("ip")
        .arg("-V")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(_) => {}
        Err(err) if err.kind() == ErrorKind::NotFound => panic!(
            "no `ip` command: the netns tests make their hosts with iproute2 and are never \
             skipped; install it (`apt-get install iproute2`)"
        ),
        Err(err) => panic!("cannot run `ip -V`: {err}"),
    }
}

/// Runs `ip ARGS`, panicking with its message if it fails.
fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|err| panic!("cannot run `ip {}`: {err}", args.join(" ")));
    if !out.status.success() {
        panic!(
            "`ip {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
}

/// Runs `ip ARGS`, whatever comes of it (cleanup of what may already be gone).
fn ip_quietly(args: &[&str]) {
    let _ = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Deletes veth pair `veth` (both ends at once: deleting the namespace alone leaves this side
/// for a while) and namespace `name`.
fn remove(name: &str, veth: &str) {
    ip_quietly(&["link", "del", veth]);
    ip_quietly(&["netns", "del", name]);
}

/// The /30 of index `index` in 10.201.0.0/16: this side's address and the namespace's.
fn subnet(index: u32) -> (Ipv4Addr, Ipv4Addr) {
    let base = (10 << 24) | (SECOND_OCTET << 16) | ((index % SUBNETS) << 2);
    (Ipv4Addr::from(base + 1), Ipv4Addr::from(base + 2))
}

/// Whether an address of this namespace lies in the /30 of `address`.
fn subnet_in_use(address: Ipv4Addr) -> bool {
    let out = Command::new("ip")
        .args(["-o", "-4", "addr", "show"])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|err| panic!("cannot run `ip -o -4 addr show`: {err}"));
    let mask = u32::MAX << 2;
    let wanted = u32::from(address) & mask;
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|word| word.split_once('/')?.0.parse::<Ipv4Addr>().ok())
        .any(|a| u32::from(a) & mask == wanted)
}

/// The identity (device, inode) of namespace `name`.
fn identity_of(name: &str) -> Option<(u64, u64)> {
    let m = fs::metadata(format!("{NETNS_DIR}/{name}")).ok()?;
    Some((m.dev(), m.ino()))
}

/// The processes whose network namespace is `identity`.
fn processes_in(identity: (u64, u64)) -> Vec<u32> {
    let me = std::process::id();
    pids()
        .filter(|&pid| pid != me && net_namespace(pid) == Some(identity))
        .collect()
}

/// The identity (device, inode) of `pid`'s network namespace.
fn net_namespace(pid: u32) -> Option<(u64, u64)> {
    let m = fs::metadata(format!("/proc/{pid}/ns/net")).ok()?;
    Some((m.dev(), m.ino()))
}

/// SIGKILLs every process in namespace `identity` until none is left.
fn kill_all_in(identity: (u64, u64)) {
    pidfd::kill_every(|pid| is_alive(pid) && net_namespace(pid) == Some(identity));
}

/// `PID COMMAND LINE` of `pid`, if it still runs.
fn describe(pid: u32) -> Option<String> {
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let words: Vec<String> = cmdline
        .split(|&b| b == 0)
        .filter(|w| !w.is_empty())
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    Some(format!("{pid} {}", words.join(" ")))
}

/// Removes the namespaces of this harness (`lc-<pid>-<n>`) whose process is gone, with their
/// veth pairs, killing what still runs in them: what a test process killed outright left.
fn sweep_stale() {
    let Ok(entries) = fs::read_dir(NETNS_DIR) else {
        return;
    };
    for entry in entries.flatten() {
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let Some((pid, n)) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, n)| Some((pid.parse::<u32>().ok()?, n.parse::<u32>().ok()?)))
        else {
            continue;
        };
        if pid == std::process::id() || is_alive(pid) {
            continue;
        }
        if let Some(identity) = identity_of(&name) {
            kill_all_in(identity);
        }
        remove(&name, &format!("lc{pid}v{n}"));
    }
}
