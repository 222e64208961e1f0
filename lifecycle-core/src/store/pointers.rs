//! Pointers to remote daemons: `remote/<key>` says that daemon `key` was started (or found) on
//! another host through this state directory's manager: host, user, port. A stop by key on this
//! machine (`stop_by_key`, `graceful_shutdown`) finds it there. A pointer is a claim: the record
//! on the host decides, and a host, user or port that does not pass the grammars is no pointer.
//! Blocking.

use std::io::{self, Read};

use nix::errno::Errno;
use nix::fcntl::{OFlag, openat};
use nix::sys::stat::Mode;
use nix::unistd::{UnlinkatFlags, unlinkat};

use crate::store::state_dir::{StateDir, check_owned, file_name, names_in, write_file_at};

/// Where a remote daemon runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Pointer {
    pub(crate) key: String,
    pub(crate) host: String,
    pub(crate) user: Option<String>,
    pub(crate) port: u16,
    pub(crate) accept_new: bool,
}

impl Pointer {
    fn to_text(&self) -> String {
        format!(
            "key={}\nhost={}\nuser={}\nport={}\naccept_new={}\n",
            self.key,
            self.host,
            self.user.as_deref().unwrap_or(""),
            self.port,
            u8::from(self.accept_new)
        )
    }

    /// Reads a pointer back; `None` for anything that is not one this library wrote.
    fn parse(text: &str) -> Option<Pointer> {
        let mut fields = std::collections::HashMap::new();
        for line in text.lines() {
            let (k, v) = line.split_once('=')?;
            fields.insert(k, v);
        }
        let host = (*fields.get("host")?).to_owned();
        lifecycle_spec::__private::check_host(&host).ok()?;
        let user = match *fields.get("user")? {
            "" => None,
            user => {
                lifecycle_spec::__private::check_user(user).ok()?;
                Some(user.to_owned())
            }
        };
        Some(Pointer {
            key: (*fields.get("key")?).to_owned(),
            host,
            user,
            port: lifecycle_spec::__private::parse_port(fields.get("port")?).ok()?,
            accept_new: *fields.get("accept_new")? == "1",
        })
    }
}

impl StateDir {
    /// Leaves a pointer to the remote daemon `pointer.key` (a warning if it cannot: a stop by
    /// key on this machine would then not find it).
    pub(crate) fn write_pointer(&self, pointer: &Pointer) {
        let written = write_file_at(
            self.remote_fd(),
            &file_name(&pointer.key),
            pointer.to_text().as_bytes(),
        );
        if let Err(err) = written {
            tracing::warn!(key = pointer.key, %err, "cannot leave a pointer to the remote daemon; a stop by key here will not find it");
        }
    }

    /// The pointer to remote daemon `key`, if there is one (this user's, and well formed).
    pub(crate) fn read_pointer(&self, key: &str) -> io::Result<Option<Pointer>> {
        self.read_pointer_file(&file_name(key))
    }

    fn read_pointer_file(&self, name: &str) -> io::Result<Option<Pointer>> {
        let fd = match openat(
            self.remote_fd(),
            name,
            OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(Errno::ENOENT | Errno::ELOOP) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if check_owned(&fd, self.euid(), &self.root().join("remote").join(name)).is_err() {
            return Ok(None);
        }
        let mut text = String::new();
        std::fs::File::from(fd)
            .take(4096)
            .read_to_string(&mut text)?;
        Ok(Pointer::parse(&text))
    }

    /// Every pointer here.
    pub(crate) fn pointers(&self) -> io::Result<Vec<Pointer>> {
        let names = names_in(self.remote_fd())?;
        let mut found = Vec::new();
        for name in names {
            if let Some(pointer) = self.read_pointer_file(&name)? {
                found.push(pointer);
            }
        }
        Ok(found)
    }

    /// Removes the pointer to `key`, if any.
    pub(crate) fn remove_pointer(&self, key: &str) {
        match unlinkat(
            self.remote_fd(),
            file_name(key).as_str(),
            UnlinkatFlags::NoRemoveDir,
        ) {
            Ok(()) | Err(Errno::ENOENT) => {}
            Err(err) => tracing::warn!(key, %err, "cannot remove the pointer to a remote daemon"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_round_trip_and_bad_ones_are_none() {
        let p = Pointer {
            key: "hive@gpu1".into(),
            host: "gpu1.lan".into(),
            user: Some("rbee".into()),
            port: 2222,
            accept_new: true,
        };
        assert_eq!(Pointer::parse(&p.to_text()), Some(p.clone()));
        let hostile = p
            .to_text()
            .replace("host=gpu1.lan", "host=-oProxyCommand=x");
        assert_eq!(Pointer::parse(&hostile), None);
        assert_eq!(Pointer::parse("key=a\n"), None);
    }

    #[test]
    fn pointers_are_kept_listed_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path()).unwrap();
        let p = Pointer {
            key: "w@a b".into(),
            host: "127.0.0.1".into(),
            user: None,
            port: 22,
            accept_new: false,
        };
        state.write_pointer(&p);
        assert_eq!(state.read_pointer("w@a b").unwrap(), Some(p.clone()));
        assert_eq!(state.pointers().unwrap(), vec![p]);
        state.remove_pointer("w@a b");
        assert_eq!(state.read_pointer("w@a b").unwrap(), None);
    }
}
