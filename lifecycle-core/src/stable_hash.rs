//! One hash that stays the same across processes, runs and versions (unlike std's hasher):
//! lock offsets, configuration fingerprints and instance names are compared between processes.

/// FNV-1a, 64 bits, over `parts`, each followed by a separator byte that UTF-8 never contains,
/// so that `["a b"]` and `["a", "b"]` differ.
pub(crate) fn stable_hash<'a>(parts: impl IntoIterator<Item = &'a str>) -> u64 {
    parts
        .into_iter()
        .flat_map(|part| part.bytes().chain([0xff]))
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, b| {
            (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_separated_and_the_value_is_fixed() {
        assert_ne!(stable_hash(["a b"]), stable_hash(["a", "b"]));
        assert_eq!(stable_hash(["queen-rbee"]), stable_hash(["queen-rbee"]));
        // FNV-1a of the empty input is its offset basis.
        assert_eq!(stable_hash([]), 0xcbf2_9ce4_8422_2325);
    }
}
