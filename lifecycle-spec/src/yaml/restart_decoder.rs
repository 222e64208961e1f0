//! `restart:`: policy, limit, backoff, stable period.

use serde_saphyr::Spanned;

use super::decoder::Decoder;
use super::keys::RESTART_KEYS;
use super::node::Node;
use crate::{Backoff, Restart, RestartPolicy};

impl Decoder<'_> {
    pub(crate) fn restart(&mut self, node: &Spanned<Node>) -> Option<Restart> {
        let map = self.mapping(node, "restart", RESTART_KEYS)?;
        let policy = match map.get("policy") {
            Some(n) => self.choice(n, "restart.policy", &RestartPolicy::NAMES, |s| {
                s.parse().ok()
            }),
            None => Some(RestartPolicy::OnFailure),
        };
        let max = match map.get("max") {
            Some(n) => self.integer(n, "restart.max", 1, 10_000).map(|m| m as u32),
            None => Some(Restart::DEFAULT_MAX),
        };
        let backoff = match map.get("backoff") {
            Some(n) => self.backoff(n, "restart.backoff", Backoff::RESTART).backoff,
            None => Some(Backoff::RESTART),
        };
        let reset_after = match map.get("reset_after") {
            Some(n) => self.positive_duration(n, "restart.reset_after"),
            None => Some(Restart::DEFAULT_RESET_AFTER),
        };
        Some(Restart {
            policy: policy?,
            max: max?,
            backoff: backoff?,
            reset_after: reset_after?,
        })
    }
}
