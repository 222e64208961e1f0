//! The order of a stop: dependents before what they depend on, as records say.

use std::collections::BTreeMap;

use lifecycle_core::Listed;

/// Orders `keys` so that a daemon comes before every daemon it depends on. `depends_on` gives
/// each key's dependencies (from its record); keys in a cycle (which validation refuses, but
/// records can be edited) keep their given order at the end.
///
/// ```
/// use std::collections::BTreeMap;
/// let deps = BTreeMap::from([("worker".to_owned(), vec!["queen".to_owned()])]);
/// let order = lifecycle_cli::commands::order::dependents_first(vec!["queen".into(), "worker".into()], &deps);
/// assert_eq!(order, ["worker", "queen"]);
/// ```
pub fn dependents_first(
    mut keys: Vec<String>,
    depends_on: &BTreeMap<String, Vec<String>>,
) -> Vec<String> {
    let mut ordered = Vec::with_capacity(keys.len());
    while !keys.is_empty() {
        // A key no remaining key depends on may go now.
        let free = keys.iter().position(|k| {
            !keys
                .iter()
                .any(|other| depends_on.get(other).is_some_and(|d| d.contains(k)))
        });
        match free {
            Some(i) => ordered.push(keys.remove(i)),
            None => {
                ordered.append(&mut keys);
            }
        }
    }
    ordered
}

/// What each local daemon depends on, as its record says.
///
/// ```
/// assert!(lifecycle_cli::commands::order::depends_on(&[]).is_empty());
/// ```
pub fn depends_on(known: &[Listed]) -> BTreeMap<String, Vec<String>> {
    known
        .iter()
        .filter_map(|d| Some((d.key.clone(), d.record.as_ref()?.depends_on.clone())))
        .collect()
}

/// `keys` and every daemon that depends on one of them, transitively (`keys` first).
///
/// ```
/// use std::collections::BTreeMap;
/// let deps = BTreeMap::from([
///     ("worker".to_owned(), vec!["queen".to_owned()]),
///     ("ui".to_owned(), vec!["worker".to_owned()]),
/// ]);
/// let all = lifecycle_cli::commands::order::with_dependents(vec!["queen".into()], &deps);
/// assert_eq!(all, ["queen", "worker", "ui"]);
/// ```
pub fn with_dependents(
    mut keys: Vec<String>,
    depends_on: &BTreeMap<String, Vec<String>>,
) -> Vec<String> {
    let mut i = 0;
    while i < keys.len() {
        for (dependent, deps) in depends_on {
            if deps.contains(&keys[i]) && !keys.contains(dependent) {
                keys.push(dependent.clone());
            }
        }
        i += 1;
    }
    keys
}
