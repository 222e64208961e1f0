//! A plain text table: a header and rows, each column as wide as its widest cell.

use std::io::{self, Write};

/// The columns of the demo's status table.
pub(crate) const STATUS_COLUMNS: [&str; 6] =
    ["daemon", "state", "pid", "uptime", "location", "ready at"];

/// A table of `N` columns.
#[derive(Debug)]
pub(crate) struct Table<const N: usize> {
    header: [&'static str; N],
    rows: Vec<[String; N]>,
}

impl<const N: usize> Table<N> {
    /// An empty table under `header`.
    pub(crate) fn new(header: [&'static str; N]) -> Table<N> {
        Table {
            header,
            rows: Vec::new(),
        }
    }

    /// Adds a row.
    pub(crate) fn push(&mut self, row: [String; N]) {
        self.rows.push(row);
    }

    /// Writes the table, indented by two spaces, columns two spaces apart, the last one not
    /// padded.
    pub(crate) fn write(&self, out: &mut impl Write) -> io::Result<()> {
        let mut widths = self.header.map(|h| h.chars().count());
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let header = self.header.map(str::to_owned);
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::from(" ");
            for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
                line.push(' ');
                if i + 1 == N {
                    line.push_str(cell);
                } else {
                    line.push_str(&format!("{cell:<width$} "));
                }
            }
            writeln!(out, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn columns_are_as_wide_as_their_widest_cell() {
        let mut table = Table::new(["daemon", "pid", "url"]);
        table.push(["queen-rbee".into(), "12".into(), "http://x/health".into()]);
        table.push(["q".into(), "123456".into(), "-".into()]);
        let mut out = Vec::new();
        table.write(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "  daemon      pid     url\n  queen-rbee  12      http://x/health\n  q           123456  -\n"
        );
    }
}
