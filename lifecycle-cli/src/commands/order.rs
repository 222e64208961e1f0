//! The order of a stop: dependents before what they depend on, as records say.

use std::collections::BTreeMap;

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
