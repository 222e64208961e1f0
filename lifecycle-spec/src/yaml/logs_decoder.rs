//! `logs:`: directory, size cap, files kept.

use serde_saphyr::Spanned;

use super::decoder::Decoder;
use super::keys::LOGS_KEYS;
use super::node::{Node, pos_of};
use crate::{Logs, Rule, SizeError, parse_size};

impl Decoder<'_> {
    pub(crate) fn logs(&mut self, node: &Spanned<Node>) -> Option<Logs> {
        let map = self.mapping(node, "logs", LOGS_KEYS)?;
        // `Some(None)`: no `dir:`, the default; `None`: a `dir:` that is wrong.
        let dir = match map.get("dir") {
            Some(n) => self.non_empty_template(n, "logs.dir").map(Some),
            None => Some(None),
        };
        let max_size = match map.get("max_size") {
            Some(n) => self.size(n, "logs.max_size"),
            None => Some(Logs::DEFAULT.max_size),
        };
        let keep = match map.get("keep") {
            Some(n) => self.integer(n, "logs.keep", 0, 1000).map(|k| k as u32),
            None => Some(Logs::DEFAULT.keep),
        };
        Some(Logs {
            dir: dir?,
            max_size: max_size?,
            keep: keep?,
        })
    }

    fn size(&mut self, node: &Spanned<Node>, field: &str) -> Option<u64> {
        let expected = "a size with a unit (B, KiB, MiB, GiB, KB, MB, GB), such as `10MiB`";
        let text = self.text(node, field, expected)?;
        match parse_size(&text) {
            Ok(0) => {
                let d = self
                    .diag(Rule::Size, pos_of(node), field, "a size greater than zero")
                    .found(text);
                self.report(d);
                None
            }
            Ok(size) => Some(size),
            Err(err) => {
                let hint = match err {
                    SizeError::MissingUnit => {
                        format!("sizes carry a unit: write `{text}MiB` or `{text}KiB`")
                    }
                    other => other.to_string(),
                };
                let d = self
                    .diag(Rule::Size, pos_of(node), field, expected)
                    .found(text)
                    .hint(hint);
                self.report(d);
                None
            }
        }
    }
}
