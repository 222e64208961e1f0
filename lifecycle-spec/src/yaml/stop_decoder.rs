//! `stop:`: the chain of signals (and an optional first HTTP shutdown) with their graces.

use serde_saphyr::Spanned;

use super::decoder::{Decoder, Deferred, index, join};
use super::keys::{STOP_HTTP_KEYS, STOP_STEP_KEYS};
use super::node::{Node, pos_of};
use crate::{Rule, Signal, SignalError, StopStep, Template};

const STEP: &str = "`{ signal: SIGTERM, grace: 5s }` or `{ http: { post: URL }, grace: 5s }`";

impl Decoder<'_> {
    pub(crate) fn stop(&mut self, node: &Spanned<Node>) -> Option<Vec<StopStep>> {
        let items = self.list(node, "stop", &format!("a list of steps, each {STEP}"))?;
        if items.is_empty() {
            let d = self
                .diag(Rule::EmptyStop, pos_of(node), "stop", "at least one step")
                .found_description("an empty list")
                .hint("SIGKILL follows the last step; to kill at once write `- { signal: SIGTERM, grace: 0s }`");
            self.report(d);
            return None;
        }
        let mut steps = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match self.stop_step(item, &index("stop", i), i) {
                Some(step) => steps.push(step),
                None => ok = false,
            }
        }
        ok.then_some(steps)
    }

    fn stop_step(
        &mut self,
        node: &Spanned<Node>,
        field: &str,
        position: usize,
    ) -> Option<StopStep> {
        let map = self.mapping(node, field, STOP_STEP_KEYS)?;
        // Each part is read for its own problems, whatever is wrong with the others.
        let grace = match map.get("grace") {
            Some(n) => self.duration(n, &join(field, "grace")),
            None => Some(StopStep::DEFAULT_GRACE),
        };
        let signal = map.get("signal").map(|n| self.stop_signal(n, field));
        let http = map.get("http").map(|n| self.stop_http(n, field, position));
        match (signal, http) {
            (Some(signal), None) => Some(StopStep::Signal {
                signal: signal?,
                grace: grace?,
            }),
            (None, Some(url)) => Some(StopStep::HttpPost {
                url: url?,
                grace: grace?,
            }),
            (signal, _) => {
                let found = if signal.is_some() {
                    "both `signal` and `http`"
                } else {
                    "neither `signal` nor `http`"
                };
                let d = self
                    .diag(
                        Rule::StopStep,
                        map.pos,
                        field,
                        format!("a step with exactly one of `signal` or `http`: {STEP}"),
                    )
                    .found_description(found);
                self.report(d);
                None
            }
        }
    }

    /// A step's `signal:`.
    fn stop_signal(&mut self, node: &Spanned<Node>, field: &str) -> Option<Signal> {
        let signal_field = join(field, "signal");
        let expected = format!(
            "a signal name: {}",
            Signal::ALL.map(|s| s.name()).join(", ")
        );
        let name = self.text(node, &signal_field, &expected)?;
        match name.parse::<Signal>() {
            Ok(signal) => Some(signal),
            Err(SignalError::Kill) => {
                let d = self
                    .diag(Rule::SigkillStep, pos_of(node), &signal_field, expected)
                    .found(name)
                    .hint("SIGKILL to the process group always ends the chain; remove this step");
                self.report(d);
                None
            }
            Err(SignalError::Unknown { suggestion, .. }) => {
                let mut d = self
                    .diag(Rule::Signal, pos_of(node), &signal_field, expected)
                    .found(name);
                if let Some(s) = suggestion {
                    d = d.hint(format!("did you mean `{s}`?"));
                }
                self.report(d);
                None
            }
        }
    }

    /// A step's `http: { post: URL }`; its place in the chain is checked whatever the URL.
    fn stop_http(
        &mut self,
        node: &Spanned<Node>,
        field: &str,
        position: usize,
    ) -> Option<Template> {
        let http_field = join(field, "http");
        let url = self
            .mapping(node, &http_field, STOP_HTTP_KEYS)
            .and_then(|post| {
                post.require(self, "post", "the shutdown URL to POST to")
                    .and_then(|n| {
                        self.checked_template(n, &join(&http_field, "post"), Deferred::HttpUrl)
                    })
            });
        if position != 0 {
            let d = self
                .diag(
                    Rule::HttpStopPosition,
                    pos_of(node),
                    &http_field,
                    "an HTTP shutdown only as the first step",
                )
                .found_description(format!("it at step {}", position + 1))
                .hint("move it to the top of `stop:`; signals follow it");
            self.report(d);
            return None;
        }
        url
    }
}
