//! The relay of a stand-in started over SSH. The test daemon serves on `127.0.0.1` only, but a
//! hive's readiness is probed from the manager at `http://{host}:{port}/health`: on another
//! host (or at another loopback address) nothing would answer there. So a stand-in started over
//! SSH also answers at the address SSH reached it at (the server address of `SSH_CONNECTION`),
//! through a relay: threads of the daemon's process that copy each connection there to
//! `127.0.0.1` on the same port. (Threads, not a child process: a child killed by the stop
//! chain would be a zombie of the daemon, then of init, which on some hosts reaps late, and the
//! stop waits until nothing of the group is left, zombies included.)
//!
//! Started over SSH means: `SSH_CONNECTION` is set and the process leads a session of its own,
//! as the library's remote helper starts daemons (a local daemon is in its manager's session),
//! so a demo run from an SSH login starts no relay for its local daemons.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::thread;

use nix::sys::signal::{SigSet, SigmaskHow, Signal};

/// The address this process was reached at over SSH, if it was started over SSH and that is
/// not `127.0.0.1` (where the test daemon serves already).
pub(crate) fn ssh_address() -> Option<IpAddr> {
    let connection = std::env::var("SSH_CONNECTION").ok()?;
    // `client_ip client_port server_ip server_port`.
    let server: IpAddr = connection.split_whitespace().nth(2)?.parse().ok()?;
    let relayed = server != IpAddr::V4(Ipv4Addr::LOCALHOST) && !server.is_unspecified();
    (relayed && leads_its_session()).then_some(server)
}

/// Listens on `address:port` and relays each connection there to `127.0.0.1:port`, from a
/// thread of this process started now. Its threads block SIGTERM and SIGINT, as the test
/// daemon's own do: those signals reach the daemon's handling, never a relay thread. Call it
/// before [`lifecycle_tests::daemon::run`], from the main thread.
pub(crate) fn start(address: IpAddr, port: u16) -> io::Result<()> {
    let listener = TcpListener::bind((address, port))?;
    let target = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
    let mut stop_signals = SigSet::empty();
    stop_signals.add(Signal::SIGTERM);
    stop_signals.add(Signal::SIGINT);
    // The thread inherits this thread's mask, blocked for the spawn, then restored.
    let mask = stop_signals.thread_swap_mask(SigmaskHow::SIG_BLOCK)?;
    let spawned = thread::Builder::new()
        .name("rbee-relay".into())
        .spawn(move || serve(&listener, target));
    mask.thread_set_mask()?;
    eprintln!("rbee relay: {address}:{port} -> {target}");
    spawned.map(drop)
}

/// Relays each connection `listener` accepts to `target`.
fn serve(listener: &TcpListener, target: SocketAddr) {
    for client in listener.incoming().flatten() {
        if let Ok(server) = TcpStream::connect(target) {
            let _ = pipe(client, server);
        }
    }
}

/// Copies `client` to `server` and back, a thread each way, each closing its write side at
/// the end of its input.
fn pipe(client: TcpStream, server: TcpStream) -> io::Result<()> {
    let (client_in, server_out) = (client.try_clone()?, server.try_clone()?);
    thread::spawn(move || copy(client_in, server_out));
    thread::spawn(move || copy(server, client));
    Ok(())
}

/// Copies `from` to `to` until the end of `from`, then shuts `to`'s write side.
fn copy(mut from: TcpStream, mut to: TcpStream) {
    let _ = io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
}

/// Whether this process leads its session (field 6 of `/proc/self/stat` is its PID).
fn leads_its_session() -> bool {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return false;
    };
    // After the command name (which may hold spaces and parentheses): state, ppid, pgrp,
    // session.
    let session = stat
        .rfind(')')
        .and_then(|end| stat.get(end + 1..))
        .and_then(|rest| rest.split_whitespace().nth(3))
        .and_then(|field| field.parse::<u32>().ok());
    session == Some(std::process::id())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::io::{Read, Write};

    use super::*;

    #[test]
    fn another_loopback_address_is_relayed_to_127_0_0_1() {
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = server.local_addr().unwrap().port();
        let other = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
        start(other, port).unwrap();
        let mut client = TcpStream::connect((other, port)).unwrap();
        client.write_all(b"GET /health").unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        let (mut behind, _) = server.accept().unwrap();
        let mut got = String::new();
        behind.read_to_string(&mut got).unwrap();
        assert_eq!(got, "GET /health");
        behind.write_all(b"200").unwrap();
        drop(behind);
        let mut answer = String::new();
        client.read_to_string(&mut answer).unwrap();
        assert_eq!(answer, "200");
        // The address is taken now.
        assert!(start(other, port).is_err());
    }

    #[test]
    fn the_pipe_copies_both_ways() {
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let front = TcpListener::bind("127.0.0.1:0").unwrap();
        let (server_addr, front_addr) = (server.local_addr().unwrap(), front.local_addr().unwrap());
        thread::spawn(move || {
            let (client, _) = front.accept().unwrap();
            pipe(client, TcpStream::connect(server_addr).unwrap()).unwrap();
        });
        let mut client = TcpStream::connect(front_addr).unwrap();
        client.write_all(b"ping").unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        let (mut behind, _) = server.accept().unwrap();
        let mut got = String::new();
        behind.read_to_string(&mut got).unwrap();
        assert_eq!(got, "ping");
        behind.write_all(b"pong").unwrap();
        drop(behind);
        let mut answer = String::new();
        client.read_to_string(&mut answer).unwrap();
        assert_eq!(answer, "pong");
    }
}
