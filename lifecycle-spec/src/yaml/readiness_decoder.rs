//! `readiness:`: the probe, its deadline, its attempt timeout, its backoff.

use serde_saphyr::Spanned;
use std::borrow::Cow;
use std::time::Duration;

use super::decoder::{Decoder, Deferred, join};
use super::keys::{BACKOFF_KEYS, PROBE_KEYS, READINESS_KEYS};
use super::node::{Node, pos_of};
use crate::{Backoff, DisplayDuration, Pos, Probe, Readiness, Rule};

/// A decoded `backoff:`: the whole, if every part is valid, and `initial` on its own, if it is.
pub(crate) struct DecodedBackoff {
    pub(crate) backoff: Option<Backoff>,
    /// `initial` and the position of its value (of the mapping when it is the default).
    pub(crate) initial: Option<(Duration, Pos)>,
}

impl Decoder<'_> {
    pub(crate) fn readiness(&mut self, node: &Spanned<Node>) -> Option<Readiness> {
        let map = self.mapping(node, "readiness", READINESS_KEYS)?;
        let probe = map
            .require(
                self,
                "probe",
                "one probe: `{ http: URL }`, `{ tcp: host:port }`, `notify` or `{ log: regex }`",
            )
            .and_then(|n| self.probe(n));
        // Each value is read on its own, and each cross-field check runs when both of its
        // inputs are valid, whatever failed beside them.
        let (deadline, deadline_pos) = match map.get("deadline") {
            Some(n) => (self.positive_duration(n, "readiness.deadline"), pos_of(n)),
            None => (Some(Readiness::DEFAULT_DEADLINE), map.pos),
        };
        let (attempt_timeout, attempt_pos) = match map.get("attempt_timeout") {
            Some(n) => (
                self.positive_duration(n, "readiness.attempt_timeout"),
                pos_of(n),
            ),
            // The default never exceeds a short deadline the spec gives.
            None => (
                deadline.map(|deadline| Readiness::DEFAULT_ATTEMPT_TIMEOUT.min(deadline)),
                deadline_pos,
            ),
        };
        let backoff = match map.get("backoff") {
            Some(n) => self.backoff(n, "readiness.backoff", Backoff::READINESS),
            None => DecodedBackoff {
                backoff: Some(Backoff::READINESS),
                initial: Some((Backoff::READINESS.initial, deadline_pos)),
            },
        };
        if let (Some(attempt_timeout), Some(deadline)) = (attempt_timeout, deadline)
            && attempt_timeout > deadline
        {
            let d = self
                .diag(
                    Rule::AttemptTimeout,
                    attempt_pos,
                    "readiness.attempt_timeout",
                    format!("at most readiness.deadline ({})", DisplayDuration(deadline)),
                )
                .found(DisplayDuration(attempt_timeout).to_string())
                .hint("one attempt cannot outlast the whole start; lower attempt_timeout or raise deadline");
            self.report(d);
        }
        if let (Some((initial, initial_pos)), Some(deadline)) = (backoff.initial, deadline)
            && initial > deadline
        {
            let d = self
                .diag(
                    Rule::InitialDelay,
                    initial_pos,
                    "readiness.backoff.initial",
                    format!("at most readiness.deadline ({})", DisplayDuration(deadline)),
                )
                .found(DisplayDuration(initial).to_string())
                .hint("the first retry would come after the deadline");
            self.report(d);
        }
        Some(Readiness {
            probe: probe?,
            deadline: deadline?,
            attempt_timeout: attempt_timeout?,
            backoff: backoff.backoff?,
        })
    }

    fn probe(&mut self, node: &Spanned<Node>) -> Option<Probe> {
        let expected =
            "one probe: `{ http: URL }`, `{ tcp: host:port }`, `notify` or `{ log: regex }`";
        if let Node::Str(word) = &node.value {
            if word == "notify" {
                return Some(Probe::Notify);
            }
            let d = self
                .diag(Rule::ProbeCount, pos_of(node), "readiness.probe", expected)
                .found(word.clone())
                .hint("only `notify` takes no value; write e.g. `probe: { http: \"http://127.0.0.1:{port}/health\" }`");
            self.report(d);
            return None;
        }
        let map = self.mapping(node, "readiness.probe", PROBE_KEYS)?;
        if map.len() != 1 {
            let found = if map.len() == 0 {
                "no probe".to_owned()
            } else {
                format!("{} probes", map.len())
            };
            let d = self
                .diag(
                    Rule::ProbeCount,
                    map.pos,
                    "readiness.probe",
                    format!("exactly {expected}"),
                )
                .found_description(found);
            self.report(d);
            return None;
        }
        let (kind, _, value) = map.entries().next()?;
        let field = join("readiness.probe", kind);
        match kind {
            "http" => self
                .checked_template(value, &field, Deferred::HttpUrl)
                .map(|url| Probe::Http { url }),
            "tcp" => self
                .checked_template(value, &field, Deferred::TcpAddr)
                .map(|addr| Probe::Tcp { addr }),
            "notify" => match &value.value {
                Node::Null => Some(Probe::Notify),
                Node::Map(entries) if entries.is_empty() => Some(Probe::Notify),
                _ => {
                    self.wrong_type(value, &field, "nothing (`notify` takes no value)");
                    None
                }
            },
            _ => {
                let pattern = self.non_empty_text(value, &field, "a regular expression")?;
                if let Err(err) = regex_lite::Regex::new(&pattern) {
                    let message = err.to_string();
                    let first_line = message
                        .lines()
                        .last()
                        .unwrap_or("invalid")
                        .trim()
                        .to_owned();
                    let d = self
                        .diag(Rule::Regex, pos_of(value), &field, format!("a regular expression, but {first_line}"))
                        .found(pattern)
                        .hint("the regex is matched against each line of the daemon's output; it is not a template");
                    self.report(d);
                    return None;
                }
                Some(Probe::Log {
                    pattern: Cow::Owned(pattern),
                })
            }
        }
    }

    /// A `backoff:` mapping over `defaults`. Its `initial` is returned on its own too: a
    /// readiness deadline is checked against it even when `max` or `factor` is wrong.
    pub(crate) fn backoff(
        &mut self,
        node: &Spanned<Node>,
        field: &str,
        defaults: Backoff,
    ) -> DecodedBackoff {
        let Some(map) = self.mapping(node, field, BACKOFF_KEYS) else {
            return DecodedBackoff {
                backoff: None,
                initial: None,
            };
        };
        let (initial, initial_pos) = match map.get("initial") {
            Some(n) => (
                self.positive_duration(n, &join(field, "initial")),
                pos_of(n),
            ),
            None => (Some(defaults.initial), map.pos),
        };
        let (max, max_pos) = match map.get("max") {
            Some(n) => (self.positive_duration(n, &join(field, "max")), pos_of(n)),
            None => (Some(defaults.max), map.pos),
        };
        let factor = match map.get("factor") {
            Some(n) => self
                .number(n, &join(field, "factor"), "a number of at least 1")
                .and_then(|value| {
                    if value.is_finite() && value >= 1.0 {
                        return Some(value);
                    }
                    let d = self
                        .diag(
                            Rule::BackoffFactor,
                            pos_of(n),
                            &join(field, "factor"),
                            "a number of at least 1",
                        )
                        .found(value.to_string())
                        .hint("delays grow by this factor; 1 keeps them constant");
                    self.report(d);
                    None
                }),
            None => Some(defaults.factor),
        };
        let mut ordered = true;
        if let (Some(initial), Some(max)) = (initial, max)
            && initial > max
        {
            let pos = if initial_pos == map.pos {
                max_pos
            } else {
                initial_pos
            };
            let d = self
                .diag(
                    Rule::BackoffOrder,
                    pos,
                    &join(field, "initial"),
                    format!("at most {field}.max ({})", DisplayDuration(max)),
                )
                .found(DisplayDuration(initial).to_string())
                .hint("lower `initial` or raise `max`");
            self.report(d);
            ordered = false;
        }
        let backoff = match (initial, max, factor) {
            (Some(initial), Some(max), Some(factor)) if ordered => Some(Backoff {
                initial,
                max,
                factor,
            }),
            _ => None,
        };
        DecodedBackoff {
            backoff,
            initial: initial.map(|initial| (initial, initial_pos)),
        }
    }
}
