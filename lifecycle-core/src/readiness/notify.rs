//! sd_notify readiness: a datagram socket bound before the spawn, named in the daemon's
//! `NOTIFY_SOCKET`; `READY=1` counts only when the kernel-checked sender is the daemon itself.
//! The socket's name carries 128 random bits: nobody can bind it first to fail our starts.

use std::io::{self, IoSliceMut};
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{
    AddressFamily, ControlMessageOwned, MsgFlags, SockFlag, SockType, UnixAddr, UnixCredentials,
    bind, recvmsg, setsockopt, socket, sockopt,
};
use tokio::io::unix::AsyncFd;

/// A notify socket in the abstract namespace (no file to clean up, no path length limit).
#[derive(Debug)]
pub(crate) struct NotifySocket {
    fd: AsyncFd<OwnedFd>,
    /// The value of `NOTIFY_SOCKET`: `@` stands for the abstract namespace's leading NUL.
    env: String,
}

impl NotifySocket {
    pub(crate) fn bind() -> io::Result<NotifySocket> {
        let name = format!("lifecycle/{:032x}", crate::random::random_u128()?);
        let fd = socket(
            AddressFamily::Unix,
            SockType::Datagram,
            SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
            None,
        )?;
        bind(fd.as_raw_fd(), &UnixAddr::new_abstract(name.as_bytes())?)?;
        // Ask the kernel to attach each sender's credentials.
        setsockopt(&fd, sockopt::PassCred, &true)?;
        Ok(NotifySocket {
            fd: crate::async_fd::readable(fd)?,
            env: format!("@{name}"),
        })
    }

    /// The value to give the daemon as `NOTIFY_SOCKET`.
    pub(crate) fn env_value(&self) -> &str {
        &self.env
    }

    /// Waits for `READY=1` from process `pid`. Messages from any other process are ignored
    /// (and traced), whatever they say.
    pub(crate) async fn ready_from(&self, pid: u32) -> io::Result<()> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|fd| receive(fd.get_ref())) {
                Ok(Ok((sender, text))) => {
                    let ready = text.lines().any(|l| l.trim() == "READY=1");
                    if sender == Some(pid) && ready {
                        return Ok(());
                    }
                    if ready {
                        tracing::warn!(
                            expected = pid,
                            ?sender,
                            "READY=1 from another process ignored"
                        );
                    }
                }
                Ok(Err(err)) => return Err(err),
                Err(_would_block) => continue,
            }
        }
    }
}

/// Receives one datagram: the sender's PID (from `SCM_CREDENTIALS`) and the text.
fn receive(fd: &OwnedFd) -> io::Result<(Option<u32>, String)> {
    let mut buf = [0u8; 4096];
    let mut cmsg = nix::cmsg_space!(UnixCredentials);
    let mut iov = [IoSliceMut::new(&mut buf)];
    let msg = recvmsg::<()>(
        fd.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_DONTWAIT,
    )?;
    let bytes = msg.bytes;
    let mut sender = None;
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmCredentials(creds) = c {
            sender = u32::try_from(creds.pid()).ok();
        }
    }
    Ok((sender, String::from_utf8_lossy(&buf[..bytes]).into_owned()))
}

#[cfg(test)]
mod tests {
    use std::os::unix::net::UnixDatagram;
    use std::time::Duration;

    use super::*;

    fn send(env: &str, text: &str) {
        use std::os::linux::net::SocketAddrExt;
        let addr =
            std::os::unix::net::SocketAddr::from_abstract_name(&env.as_bytes()[1..]).unwrap();
        UnixDatagram::unbound()
            .unwrap()
            .send_to_addr(text.as_bytes(), &addr)
            .unwrap();
    }

    #[tokio::test]
    async fn ready_from_the_right_process_only() {
        let socket = NotifySocket::bind().unwrap();
        assert!(socket.env_value().starts_with("@lifecycle/"));
        // Unguessable: two sockets share no name, and the name is not derived from the PID.
        let other = NotifySocket::bind().unwrap();
        assert_ne!(socket.env_value(), other.env_value());
        assert!(!socket.env_value().contains(&std::process::id().to_string()));
        // From this process, but we wait for another PID: ignored.
        send(socket.env_value(), "READY=1");
        let other = tokio::time::timeout(Duration::from_millis(200), socket.ready_from(1)).await;
        assert!(other.is_err(), "READY=1 from the wrong PID was accepted");
        send(socket.env_value(), "STATUS=loading\nREADY=1\n");
        tokio::time::timeout(
            Duration::from_secs(5),
            socket.ready_from(std::process::id()),
        )
        .await
        .unwrap()
        .unwrap();
    }
}
