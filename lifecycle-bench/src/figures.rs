//! The figures of one run, by id, kept for the gate (`lifecycle-bench check`): each block
//! records what it prints, and the run writes them to a file the gate compares with the
//! targets in BENCHMARKS.md.
//!
//! ```text
//! stop.exit_50ms_after_sigterm  0.0509  s
//! scale.1000.peak_rss           15.1    MiB
//! ```

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

/// One figure: an id (`block.what[.detail]`), its value and unit.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Figure {
    pub(crate) id: String,
    pub(crate) value: f64,
    pub(crate) unit: &'static str,
}

static FIGURES: Mutex<Vec<Figure>> = Mutex::new(Vec::new());

fn push(figure: Figure) {
    let mut figures = FIGURES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    figures.retain(|f| f.id != figure.id);
    figures.push(figure);
}

/// Records a value in `unit` (`s`, `MiB` or `count`).
pub(crate) fn record(id: impl Into<String>, value: f64, unit: &'static str) {
    push(Figure {
        id: id.into(),
        value,
        unit,
    });
}

/// Records a duration, in seconds.
pub(crate) fn time(id: impl Into<String>, value: Duration) {
    push(Figure {
        id: id.into(),
        value: value.as_secs_f64(),
        unit: "s",
    });
}

/// Records a size in MiB.
pub(crate) fn mebibytes(id: impl Into<String>, kib: u64) {
    push(Figure {
        id: id.into(),
        value: kib as f64 / 1024.0,
        unit: "MiB",
    });
}

/// Records a count (processes left alive, say).
pub(crate) fn count(id: impl Into<String>, value: usize) {
    push(Figure {
        id: id.into(),
        value: value as f64,
        unit: "count",
    });
}

/// Every figure recorded so far, in order.
pub(crate) fn all() -> Vec<Figure> {
    FIGURES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

/// The first line of a figures file: what kind of run wrote it.
const HEADER: &str = "# lifecycle-bench figures:";

/// Writes the figures, one per line (`id value unit`), under a header naming the run's kind
/// (`full` or `smoke`).
pub(crate) fn save(path: &Path, kind: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut text = format!("{HEADER} {kind}\n");
    for f in all() {
        text.push_str(&format!("{} {} {}\n", f.id, f.value, f.unit));
    }
    std::fs::write(path, text)
}

/// Reads what [`save`] wrote: the run's kind and its figures.
pub(crate) fn load(path: &Path) -> std::io::Result<(String, Vec<Figure>)> {
    let text = std::fs::read_to_string(path)?;
    let kind = text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix(HEADER))
        .map(|k| k.trim().to_owned())
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: no `{HEADER}` line first", path.display()),
            )
        })?;
    let figures = text
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let mut fields = line.split_whitespace();
            let bad = || {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}: not `id value unit`: {line:?}", path.display()),
                )
            };
            let id = fields.next().ok_or_else(bad)?.to_owned();
            let value = fields.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
            let unit = match fields.next().ok_or_else(bad)? {
                "s" => "s",
                "MiB" => "MiB",
                "count" => "count",
                _ => return Err(bad()),
            };
            Ok(Figure { id, value, unit })
        })
        .collect::<std::io::Result<Vec<Figure>>>()?;
    Ok((kind, figures))
}
