//! Installing a daemon's binary on its host before a start (`location.ssh.install`): the local
//! file's SHA-256 against the host's copy (one helper round trip); when they differ, an upload
//! over a channel of the same connection to a temporary name beside the target, its SHA-256
//! checked there, then a rename into place — a daemon that runs the old file keeps it, and no
//! start ever sees half a file.

use std::io::Read;
use std::path::PathBuf;
use std::process::Stdio;

use sha2::{Digest, Sha256};

use super::RemoteError;
use super::connection::Connection;
use super::ops::SHORT;
use super::wire;

/// The upload channel's remote command: reads the target (a field) and the expected SHA-256
/// (hex) as its first two lines, the file as the rest of its input; nothing in it comes from a
/// value. Prints `installed`, or `failed` and exits 1.
const UPLOAD: &str = "exec /bin/sh -c 'IFS= read -r t && IFS= read -r want || exit 1; t=${t#=}; t=$(printf \"$t\"; printf x); t=${t%x}; tmp=\"$t.lifecycle-upload.$$\"; if mkdir -p -- \"$(dirname -- \"$t\")\" && cat >\"$tmp\" && chmod 755 \"$tmp\" && got=$(sha256sum <\"$tmp\") && [ \"${got%% *}\" = \"$want\" ] && mv -f -- \"$tmp\" \"$t\"; then echo installed; else rm -f -- \"$tmp\"; echo failed; exit 1; fi' lifecycle-install";

/// What an install did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Installed {
    /// The host's copy was the same file.
    Unchanged,
    /// The file was uploaded and renamed into place.
    Uploaded,
}

/// The SHA-256 of a local file, in lowercase hex.
fn sha256_of(path: &PathBuf) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Makes `target` on the host the same file as `local` here.
pub(crate) async fn install(
    c: &Connection,
    local: &str,
    target: &str,
) -> Result<Installed, RemoteError> {
    let failed = |message: String| RemoteError::Install {
        destination: c.shown().to_owned(),
        local: local.to_owned(),
        target: target.to_owned(),
        message,
    };
    let path = PathBuf::from(local);
    let hashed = path.clone();
    let want = crate::blocking::run_long(move || sha256_of(&hashed))
        .await
        .and_then(|r| r)
        .map_err(|e| failed(format!("cannot read the local file: {e}")))?;
    let field = wire::field(target).ok_or_else(|| RemoteError::Nul {
        destination: c.shown().to_owned(),
        what: "the install target".to_owned(),
    })?;
    let answer = c
        .call("sha256", std::slice::from_ref(&field), SHORT)
        .await?;
    if answer == format!("ok {want}") {
        return Ok(Installed::Unchanged);
    }
    let mut cmd = c.channel(UPLOAD);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let output = crate::blocking::run_long(move || -> std::io::Result<std::process::Output> {
        let mut child = cmd.spawn()?;
        let copied = (|| -> std::io::Result<()> {
            let mut stdin = child
                .stdin
                .take()
                .ok_or_else(|| std::io::Error::other("no stdin"))?;
            use std::io::Write;
            stdin.write_all(format!("{field}\n{want}\n").as_bytes())?;
            let mut file = std::fs::File::open(&path)?;
            std::io::copy(&mut file, &mut stdin)?;
            Ok(())
        })();
        // The child's stdin is closed (dropped) here: the upload ends.
        let output = child.wait_with_output()?;
        copied.map(|()| output)
    })
    .await
    .and_then(|r| r)
    .map_err(|e| failed(e.to_string()))?;
    let said = String::from_utf8_lossy(&output.stdout);
    if output.status.success() && said.trim() == "installed" {
        Ok(Installed::Uploaded)
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(failed(format!(
            "the upload failed ({}){}",
            said.trim(),
            stderr
                .trim()
                .lines()
                .last()
                .map(|l| format!(": {l}"))
                .unwrap_or_default()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_like_sha256sum() {
        let dir = std::env::temp_dir().join(format!("lc-sha-{}", std::process::id()));
        std::fs::write(&dir, b"abc").unwrap();
        assert_eq!(
            sha256_of(&dir).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let _ = std::fs::remove_file(&dir);
    }
}
