//! Every transition is published: a broadcast channel for subscribers (progress displays, the
//! CLI, tests) and a `tracing` event in the daemon's span.

use std::sync::Mutex;
use std::time::SystemTime;

use tokio::sync::{broadcast, watch};

use crate::state::{Event, IllegalTransition, State, transition};

/// One published change of state.
///
/// ```
/// # async fn demo(manager: &lifecycle_core::DaemonManager) {
/// let mut events = manager.subscribe();
/// while let Ok(t) = events.recv().await {
///     println!("{}: {} -> {} ({:?})", t.daemon, t.from, t.to, t.event);
/// }
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Transition {
    /// The daemon's key.
    pub daemon: String,
    /// The state before.
    pub from: State,
    /// The state after.
    pub to: State,
    /// What happened.
    pub event: Event,
    /// When.
    pub at: SystemTime,
}

/// What the owner publishes of a daemon, readable without asking it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub(crate) state: State,
    /// The PID of the process it owns or follows.
    pub(crate) pid: Option<u32>,
    /// The keys that process depends on.
    pub(crate) depends_on: Vec<String>,
}

/// The current state of one daemon, changed only through the transition table, every change
/// published: on the manager's bus, in the daemon's tracing span, and in its snapshot.
#[derive(Debug)]
pub(crate) struct Machine {
    key: String,
    state: Mutex<State>,
    span: tracing::Span,
    bus: broadcast::Sender<Transition>,
    snapshot: watch::Sender<Snapshot>,
}

impl Machine {
    pub(crate) fn new(
        key: &str,
        bus: broadcast::Sender<Transition>,
    ) -> (Machine, watch::Receiver<Snapshot>) {
        let (snapshot, receiver) = watch::channel(Snapshot {
            state: State::Stopped,
            pid: None,
            depends_on: Vec::new(),
        });
        let machine = Machine {
            key: key.to_owned(),
            state: Mutex::new(State::Stopped),
            span: tracing::info_span!("daemon", key = %key),
            bus,
            snapshot,
        };
        (machine, receiver)
    }

    /// Publishes which process the daemon is now, and what it depends on.
    pub(crate) fn set_process(&self, pid: Option<u32>, depends_on: Vec<String>) {
        self.snapshot.send_modify(|s| {
            s.pid = pid;
            s.depends_on = depends_on;
        });
    }

    /// The state now.
    pub(crate) fn state(&self) -> State {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The daemon's tracing span.
    pub(crate) fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// Applies `event`: the new state, or the illegal pair (state unchanged).
    pub(crate) fn apply(&self, event: Event) -> Result<State, IllegalTransition> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let next = match transition(&state, &event) {
            Ok(next) => next,
            Err(mut illegal) => {
                illegal.daemon = Some(self.key.clone());
                tracing::error!(parent: &self.span, %illegal, "illegal transition");
                return Err(illegal);
            }
        };
        let from = std::mem::replace(&mut *state, next.clone());
        self.snapshot.send_modify(|s| s.state = next.clone());
        drop(state);
        tracing::info!(parent: &self.span, from = %from, to = %next, event = ?event, "transition");
        // No subscribers is fine.
        let _ = self.bus.send(Transition {
            daemon: self.key.clone(),
            from,
            to: next.clone(),
            event,
            at: SystemTime::now(),
        });
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_are_published_in_order() {
        let (bus, mut rx) = broadcast::channel(16);
        let (machine, snapshot) = Machine::new("d", bus);
        machine.apply(Event::Start).unwrap();
        machine.apply(Event::Spawned { pid: 7 }).unwrap();
        assert!(machine.apply(Event::Start).is_err());
        assert_eq!(machine.state(), State::Starting);
        assert_eq!(snapshot.borrow().state, State::Starting);
        let first = rx.try_recv().unwrap();
        assert_eq!((first.from, first.to), (State::Stopped, State::Starting));
        let second = rx.try_recv().unwrap();
        assert_eq!(second.event, Event::Spawned { pid: 7 });
        assert!(
            rx.try_recv().is_err(),
            "the illegal event was not published"
        );
    }
}
