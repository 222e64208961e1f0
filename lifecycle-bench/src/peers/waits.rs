//! Bounded waits of the comparison's set-up (not its figures): a file to appear, a daemon to
//! answer its health check, a port to close. Polled every millisecond or two: these are the
//! benchmark's own observations, made the same way for every manager.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::peers::manager::Error;

const POLL: Duration = Duration::from_millis(2);

/// Waits until `path` exists.
pub(crate) fn wait_for_path(path: &Path, timeout: Duration) -> Result<(), Error> {
    let deadline = Instant::now() + timeout;
    while !path.exists() {
        if Instant::now() > deadline {
            return Err(format!("{} did not appear in {timeout:?}", path.display()).into());
        }
        std::thread::sleep(POLL);
    }
    Ok(())
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Whether the daemon on `port` answers `GET /health` with 200 now.
fn is_healthy(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&loopback(port), Duration::from_secs(1)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    if stream
        .write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") && &head[9..12] == b"200"
}

/// Waits until the daemon on `port` is healthy.
pub(crate) fn wait_healthy(port: u16, timeout: Duration) -> Result<(), Error> {
    let deadline = Instant::now() + timeout;
    while !is_healthy(port) {
        if Instant::now() > deadline {
            return Err(format!("nothing healthy on port {port} after {timeout:?}").into());
        }
        std::thread::sleep(POLL);
    }
    Ok(())
}

/// How many of `ports` still accept a connection.
pub(crate) fn still_listening(ports: &[u16]) -> usize {
    ports
        .iter()
        .filter(|&&p| TcpStream::connect_timeout(&loopback(p), Duration::from_millis(200)).is_ok())
        .count()
}

/// Waits until the daemons on all `ports` are healthy, watched by up to 8 threads at once (the
/// same observer for every manager).
pub(crate) fn wait_all_healthy(ports: &[u16], timeout: Duration) -> Result<(), Error> {
    let chunk = ports.len().div_ceil(8).max(1);
    std::thread::scope(|scope| {
        let watchers: Vec<_> = ports
            .chunks(chunk)
            .map(|some| {
                scope.spawn(move || -> Result<(), String> {
                    for &port in some {
                        wait_healthy(port, timeout).map_err(|e| e.to_string())?;
                    }
                    Ok(())
                })
            })
            .collect();
        for watcher in watchers {
            watcher.join().map_err(|_| "a health watcher panicked")??;
        }
        Ok(())
    })
}
