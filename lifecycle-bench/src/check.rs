//! The gate: a run's figures against the targets written in BENCHMARKS.md.
//!
//! The targets are the rows of BENCHMARKS.md's table whose first cell is a figure id in
//! backticks and whose second is a bound:
//!
//! ```text
//! | `peers.lifecycle.stop_exit_50ms` | ≤ 55 ms | … |
//! | `scale.n1000.disk.peak_rss` | ≤ 40 MiB | … |
//! | `peers.lifecycle.grandchildren_left` | ≤ 0 | … |
//! ```

use std::path::Path;

use crate::figures::{self, Figure};

/// A target: the figure `id` is at most (or at least) `bound`, in the figure's unit.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Target {
    pub(crate) id: String,
    pub(crate) at_most: bool,
    pub(crate) bound: f64,
    pub(crate) unit: &'static str,
    /// The bound as written.
    pub(crate) text: String,
    /// What the figure is, in words (the row's third cell).
    pub(crate) what: String,
}

/// `≤ 55 ms` → (at most, 0.055, "s").
fn parse_bound(text: &str) -> Option<(bool, f64, &'static str)> {
    let text = text.trim();
    let (at_most, rest) = if let Some(rest) = text.strip_prefix('≤') {
        (true, rest)
    } else if let Some(rest) = text.strip_prefix("<=") {
        (true, rest)
    } else if let Some(rest) = text.strip_prefix('≥') {
        (false, rest)
    } else {
        (false, text.strip_prefix(">=")?)
    };
    let mut words = rest.split_whitespace();
    let number: f64 = words.next()?.parse().ok()?;
    let (scale, unit) = match words.next() {
        None => (1.0, "count"),
        Some("s") => (1.0, "s"),
        Some("ms") => (1e-3, "s"),
        Some("µs") => (1e-6, "s"),
        Some("MiB") => (1.0, "MiB"),
        Some(_) => return None,
    };
    words
        .next()
        .is_none()
        .then_some((at_most, number * scale, unit))
}

/// The targets in the Markdown `text`, in its `## Targets` section; an error names the line
/// of a malformed one.
pub(crate) fn targets(text: &str) -> Result<Vec<Target>, String> {
    let mut found = Vec::new();
    let mut in_section = false;
    for (number, line) in text.lines().enumerate() {
        if let Some(heading) = line.strip_prefix("## ") {
            in_section = heading.trim() == "Targets";
            continue;
        }
        if !in_section {
            continue;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // "| `id` | bound | ..." splits into "", "`id`", "bound", ...
        let Some(id) = cells
            .get(1)
            .and_then(|c| c.strip_prefix('`')?.strip_suffix('`'))
        else {
            continue;
        };
        if !id.contains('.') || id.contains(' ') {
            continue;
        }
        let bound = cells.get(2).copied().unwrap_or("");
        let (at_most, value, unit) = parse_bound(bound).ok_or_else(|| {
            format!(
                "line {}: target `{id}`: expected a bound such as `≤ 55 ms`, `≥ 3`, `≤ 40 MiB`, found {bound:?}",
                number + 1
            )
        })?;
        found.push(Target {
            id: id.to_owned(),
            at_most,
            bound: value,
            unit,
            text: bound.to_owned(),
            what: cells.get(3).copied().unwrap_or("").to_owned(),
        });
    }
    Ok(found)
}

/// A figure's value as the targets write it.
fn show(value: f64, unit: &str) -> String {
    match unit {
        "s" => crate::stats::show(std::time::Duration::from_secs_f64(value.max(0.0))),
        "MiB" => format!("{value:.1} MiB"),
        _ => format!("{value}"),
    }
}

/// `id` with every run of digits as `#`: `scale.n1000.disk.ready` → `scale.n#.disk.ready`.
fn shape(id: &str) -> String {
    let mut out = String::new();
    for c in id.chars() {
        if !c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('#') {
            out.push('#');
        }
    }
    out
}

/// Compares `figures` with `targets`, prints one row per target, and returns the misses.
/// `presence_only`: only that every target has a figure (a smoke run's values mean nothing);
/// a smoke run measures other sizes, so a figure of the same id up to its numbers counts.
#[allow(clippy::print_stdout)]
pub(crate) fn compare(targets: &[Target], figures: &[Figure], presence_only: bool) -> usize {
    println!("| figure | target | what | this run | |");
    println!("|---|---|---|---|---|");
    let mut misses = 0;
    for target in targets {
        let figure = figures.iter().find(|f| f.id == target.id).or_else(|| {
            presence_only
                .then(|| figures.iter().find(|f| shape(&f.id) == shape(&target.id)))
                .flatten()
        });
        let (shown, verdict) = match figure {
            None => ("none".to_owned(), "MISSING"),
            Some(f) if f.unit != target.unit => (format!("{} {}", f.value, f.unit), "WRONG UNIT"),
            Some(f) if presence_only => (show(f.value, f.unit), "present"),
            Some(f) => {
                let met = if target.at_most {
                    f.value <= target.bound
                } else {
                    f.value >= target.bound
                };
                (show(f.value, f.unit), if met { "met" } else { "MISSED" })
            }
        };
        if !matches!(verdict, "met" | "present") {
            misses += 1;
        }
        println!(
            "| `{}` | {} | {} | {shown} | {verdict} |",
            target.id, target.text, target.what
        );
    }
    misses
}

/// `check [FIGURES] [--targets FILE] [--smoke]`: exit 0 when every target is met, 1 on a
/// miss, 2 when the files cannot be read.
pub(crate) fn run(figures_file: &Path, targets_file: &Path, presence_only: bool) -> i32 {
    let text = match std::fs::read_to_string(targets_file) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("lifecycle-bench check: {}: {e}", targets_file.display());
            return 2;
        }
    };
    let targets = match targets(&text) {
        Ok(t) if t.is_empty() => {
            eprintln!(
                "lifecycle-bench check: {}: no targets (rows `| \\`figure.id\\` | ≤ bound |`)",
                targets_file.display()
            );
            return 2;
        }
        Ok(t) => t,
        Err(e) => {
            eprintln!("lifecycle-bench check: {}: {e}", targets_file.display());
            return 2;
        }
    };
    let figures = match figures::load(figures_file) {
        Ok((kind, _)) if kind != "full" && !presence_only => {
            eprintln!(
                "lifecycle-bench check: {} holds the figures of a `{kind}` run, not of a whole run (`all`): only a whole run's are compared with the targets (`check --smoke` checks only that each target has a figure)",
                figures_file.display()
            );
            return 2;
        }
        Ok((_, f)) => f,
        Err(e) => {
            eprintln!(
                "lifecycle-bench check: {}: {e} (a run of `lifecycle-bench all` writes it)",
                figures_file.display()
            );
            return 2;
        }
    };
    let misses = compare(&targets, &figures, presence_only);
    if misses > 0 {
        eprintln!(
            "lifecycle-bench check: {misses} of {} targets not met",
            targets.len()
        );
        1
    } else {
        eprintln!("lifecycle-bench check: all {} targets met", targets.len());
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets_in(text: &str) -> Vec<Target> {
        targets(text).unwrap_or_default()
    }

    #[test]
    fn bounds_are_read_in_their_units() {
        assert_eq!(parse_bound("≤ 55 ms"), Some((true, 0.055, "s")));
        assert_eq!(parse_bound("≥ 2"), Some((false, 2.0, "count")));
        assert_eq!(parse_bound("<= 40 MiB"), Some((true, 40.0, "MiB")));
        assert_eq!(parse_bound("≤ 300 µs"), Some((true, 0.0003, "s")));
        assert_eq!(parse_bound("55 ms"), None);
        assert_eq!(parse_bound("≤ 55 fortnights"), None);
    }

    #[test]
    fn targets_are_the_rows_with_an_id_and_a_bound() {
        let text = "| `x.y` | soon |\n## Targets\n| figure | target |\n|---|---|\n| `a.b` | ≤ 1 s | x |\n| plain | ≤ 2 s |\n| `c.d` | ≥ 3 |\n## After\n| `e.f` | later |\n";
        let found = targets(text).unwrap_or_default();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].id, "a.b");
        assert!(!found[1].at_most);
        let err = targets("## Targets\n| `a.b` | soon |\n")
            .err()
            .unwrap_or_default();
        assert!(err.contains("line 2") && err.contains("a.b"), "{err}");
    }

    #[test]
    fn a_miss_a_meet_and_an_absence_are_told_apart() {
        let targets = targets(
            "## Targets\n| `x.fast` | ≤ 10 ms |\n| `x.slow` | ≤ 10 ms |\n| `x.gone` | ≤ 1 |\n",
        )
        .unwrap_or_default();
        let figures = vec![
            Figure {
                id: "x.fast".into(),
                value: 0.005,
                unit: "s",
            },
            Figure {
                id: "x.slow".into(),
                value: 0.5,
                unit: "s",
            },
        ];
        assert_eq!(compare(&targets, &figures, false), 2);
        assert_eq!(compare(&targets, &figures, true), 1);
        let smoke = vec![Figure {
            id: "scale.n10.ready".into(),
            value: 1.0,
            unit: "s",
        }];
        let big = targets_in("## Targets\n| `scale.n1000.ready` | ≤ 3 s |\n");
        assert_eq!(compare(&big, &smoke, true), 0);
        assert_eq!(compare(&big, &smoke, false), 1);
    }
}
