//! Random numbers from the kernel, for names nobody can guess (a notify socket's) and
//! identities nobody else has (a manager's).

use std::io::{self, Read};

/// 128 bits from the kernel's random source.
pub(crate) fn random_u128() -> io::Result<u128> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(u128::from_ne_bytes(bytes))
}
