//! What a command shows while it works: on a terminal a line per daemon (indicatif) with its
//! state and, while it starts, the time left before its readiness deadline; plain lines when
//! the output is not a terminal; one JSON object per line with `--json`.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, UNIX_EPOCH};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use lifecycle_core::state::{Event, RestartVerdict};
use lifecycle_core::{DaemonManager, State, Transition};
use serde_json::{Value, json};
use tokio::sync::{broadcast, oneshot};

/// How progress is shown.
///
/// ```
/// assert_eq!(lifecycle_cli::progress::Mode::pick(true), lifecycle_cli::progress::Mode::Json);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A live line per daemon (standard output is a terminal).
    Terminal,
    /// A line per event.
    Plain,
    /// A JSON object per line.
    Json,
}

impl Mode {
    /// JSON if asked; else a terminal's live lines if standard output is one; else plain lines.
    ///
    /// ```
    /// let mode = lifecycle_cli::progress::Mode::pick(false);
    /// assert_ne!(mode, lifecycle_cli::progress::Mode::Json);
    /// ```
    pub fn pick(json: bool) -> Mode {
        if json {
            Mode::Json
        } else if std::io::stdout().is_terminal() {
            Mode::Terminal
        } else {
            Mode::Plain
        }
    }
}

/// The progress of a command: transitions of the daemons and notes about them. Everything is
/// written by a thread of its own, never by a runtime worker: a stalled terminal or a full pipe
/// (Ctrl-S, a slow reader) delays the output, not the supervision. Lines that find its queue
/// full are dropped and counted.
///
/// ```no_run
/// # async fn demo(manager: &lifecycle_core::DaemonManager) {
/// use lifecycle_cli::progress::{Mode, Progress};
/// let progress = Progress::new(Mode::Plain, Default::default());
/// let watch = progress.watch(manager);
/// // … ensure_running, stop …
/// watch.finish().await;
/// progress.note("queen-rbee", "ready", serde_json::json!({}));
/// progress.done();
/// # }
/// ```
pub struct Progress {
    mode: Mode,
    queue: SyncSender<Message>,
    dropped: AtomicU64,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// What the writer thread is asked to show.
enum Message {
    Transition(Box<Transition>),
    Note(String, String, Value),
    Done,
}

/// How many messages may wait for the writer.
const QUEUE: usize = 4096;

/// The task that shows a manager's transitions; [`finish`](Watch::finish) shows what is left
/// and ends it.
pub struct Watch {
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Watch {
    /// Shows the transitions published so far, then ends the task.
    ///
    /// ```no_run
    /// # async fn demo(manager: &lifecycle_core::DaemonManager) {
    /// # let progress = lifecycle_cli::progress::Progress::new(lifecycle_cli::progress::Mode::Plain, Default::default());
    /// progress.watch(manager).finish().await;
    /// # }
    /// ```
    pub async fn finish(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Progress {
    /// Progress shown in `mode`; `deadlines`: each daemon name's readiness deadline. Starts
    /// the writer thread, which [`done`](Progress::done) ends.
    ///
    /// ```
    /// use lifecycle_cli::progress::{Mode, Progress};
    /// let progress = Progress::new(Mode::Json, Default::default());
    /// progress.done();
    /// ```
    pub fn new(mode: Mode, deadlines: HashMap<String, Duration>) -> Arc<Progress> {
        let (queue, messages) = std::sync::mpsc::sync_channel(QUEUE);
        let mut screen = Screen::new(mode, deadlines);
        let writer = std::thread::Builder::new()
            .name("lifecycle-output".into())
            .spawn(move || {
                while let Ok(message) = messages.recv() {
                    match message {
                        Message::Transition(t) => screen.transition(&t),
                        Message::Note(daemon, text, fields) => screen.note(&daemon, &text, fields),
                        Message::Done => break,
                    }
                }
                screen.done();
            })
            .ok();
        Arc::new(Progress {
            mode,
            queue,
            dropped: AtomicU64::new(0),
            writer: Mutex::new(writer),
        })
    }

    /// How progress is shown.
    ///
    /// ```
    /// # use lifecycle_cli::progress::{Mode, Progress};
    /// assert_eq!(Progress::new(Mode::Plain, Default::default()).mode(), Mode::Plain);
    /// ```
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Shows `manager`'s transitions as they happen, until the returned watch is finished.
    ///
    /// ```no_run
    /// # async fn demo(manager: &lifecycle_core::DaemonManager) {
    /// # let progress = lifecycle_cli::progress::Progress::new(lifecycle_cli::progress::Mode::Plain, Default::default());
    /// let watch = progress.watch(manager);
    /// watch.finish().await;
    /// # }
    /// ```
    pub fn watch(self: &Arc<Self>, manager: &DaemonManager) -> Watch {
        let mut events = manager.subscribe();
        let (stop, mut stopped) = oneshot::channel();
        let me = self.clone();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    event = events.recv() => match event {
                        Ok(t) => me.transition(&t),
                        Err(broadcast::error::RecvError::Lagged(n)) => {
                            me.note("", &format!("{n} events not shown (output too slow)"), json!({}));
                        }
                        Err(broadcast::error::RecvError::Closed) => break,
                    },
                    _ = &mut stopped => {
                        loop {
                            match events.try_recv() {
                                Ok(t) => me.transition(&t),
                                Err(broadcast::error::TryRecvError::Lagged(_)) => {}
                                Err(_) => break,
                            }
                        }
                        break;
                    }
                }
            }
        });
        Watch {
            stop: Some(stop),
            task,
        }
    }

    /// Shows one transition.
    ///
    /// ```
    /// use lifecycle_cli::progress::{Mode, Progress};
    /// use lifecycle_core::{State, Transition, state::Event};
    /// let progress = Progress::new(Mode::Json, Default::default());
    /// let t = Transition {
    ///     daemon: "queen-rbee".into(),
    ///     from: State::Stopped,
    ///     to: State::Starting,
    ///     event: Event::Start,
    ///     at: std::time::SystemTime::now(),
    /// };
    /// progress.transition(&t);
    /// progress.done();
    /// ```
    pub fn transition(&self, t: &Transition) {
        self.send(Message::Transition(Box::new(t.clone())));
    }

    /// Shows a note about `daemon` (`""`: about the command): a line, or in JSON an object of
    /// `kind` with `fields`.
    ///
    /// ```
    /// use lifecycle_cli::progress::{Mode, Progress};
    /// let progress = Progress::new(Mode::Plain, Default::default());
    /// progress.note("queen-rbee", "recreated: its command changed", serde_json::json!({}));
    /// progress.done();
    /// ```
    pub fn note(&self, daemon: &str, text: &str, fields: Value) {
        self.send(Message::Note(daemon.to_owned(), text.to_owned(), fields));
    }

    fn send(&self, message: Message) {
        if self.queue.try_send(message).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Shows what is queued, ends the live lines (each daemon's last state stays on screen) and
    /// the writer thread. Waits for the writer: call it once the work is done.
    ///
    /// ```
    /// # use lifecycle_cli::progress::{Mode, Progress};
    /// Progress::new(Mode::Plain, Default::default()).done();
    /// ```
    pub fn done(&self) {
        let dropped = self.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            let _ = self.queue.send(Message::Note(
                String::new(),
                format!("{dropped} lines not shown (output too slow)"),
                json!({"type": "dropped", "count": dropped}),
            ));
        }
        let _ = self.queue.send(Message::Done);
        let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(writer) = writer {
            // On a runtime worker, let the runtime know this one waits.
            match tokio::runtime::Handle::try_current() {
                Ok(_) => tokio::task::block_in_place(|| {
                    let _ = writer.join();
                }),
                Err(_) => {
                    let _ = writer.join();
                }
            }
        }
    }
}

/// The output itself, owned by the writer thread.
struct Screen {
    mode: Mode,
    t0: Instant,
    /// The readiness deadline of each daemon name, for the countdown.
    deadlines: HashMap<String, Duration>,
    multi: MultiProgress,
    bars: HashMap<String, ProgressBar>,
}

impl Screen {
    fn new(mode: Mode, deadlines: HashMap<String, Duration>) -> Screen {
        let multi = MultiProgress::with_draw_target(match mode {
            Mode::Terminal => ProgressDrawTarget::stdout(),
            Mode::Plain | Mode::Json => ProgressDrawTarget::hidden(),
        });
        Screen {
            mode,
            t0: Instant::now(),
            deadlines,
            multi,
            bars: HashMap::new(),
        }
    }

    fn transition(&mut self, t: &Transition) {
        if matches!(t.event, Event::ProbeFailed { .. }) && self.mode != Mode::Json {
            return;
        }
        match self.mode {
            Mode::Json => {
                let mut line = event_json(&t.event);
                if let Value::Object(map) = &mut line {
                    map.insert("type".into(), json!("transition"));
                    map.insert("daemon".into(), json!(t.daemon));
                    map.insert("from".into(), json!(state_word(&t.from)));
                    map.insert("to".into(), json!(state_word(&t.to)));
                    map.insert("t_ms".into(), json!(self.t0.elapsed().as_millis() as u64));
                    map.insert(
                        "at_ms".into(),
                        json!(
                            t.at.duration_since(UNIX_EPOCH)
                                .map_or(0, |d| d.as_millis() as u64)
                        ),
                    );
                    if let Some(reason) = reason(&t.to) {
                        map.insert("reason".into(), json!(reason));
                    }
                }
                self.print_line(&line.to_string());
            }
            Mode::Plain => {
                self.print_line(&format!(
                    "{:>7} ms  {:<22} {:<8} -> {:<8} {}",
                    self.t0.elapsed().as_millis(),
                    t.daemon,
                    state_word(&t.from),
                    state_word(&t.to),
                    describe(&t.event, &t.to)
                ));
            }
            Mode::Terminal => self.bar_transition(t),
        }
    }

    fn note(&self, daemon: &str, text: &str, fields: Value) {
        match self.mode {
            Mode::Json => {
                let mut line = fields;
                if !line.is_object() {
                    line = json!({});
                }
                if let Value::Object(map) = &mut line {
                    map.entry("type").or_insert(json!("note"));
                    if !daemon.is_empty() {
                        map.insert("daemon".into(), json!(daemon));
                    }
                    map.insert("message".into(), json!(text));
                }
                self.print_line(&line.to_string());
            }
            Mode::Plain | Mode::Terminal => {
                if daemon.is_empty() {
                    self.print_line(text);
                } else {
                    self.print_line(&format!("{daemon}: {text}"));
                }
            }
        }
    }

    fn print_line(&self, line: &str) {
        if self.mode == Mode::Terminal {
            let _ = self.multi.println(line);
        } else {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
    }

    fn bar_transition(&mut self, t: &Transition) {
        let bar = self.bars.entry(t.daemon.clone()).or_insert_with(|| {
            let bar = ProgressBar::new_spinner()
                .with_style(spinner_style())
                .with_prefix(t.daemon.clone());
            self.multi.add(bar)
        });
        let name = crate::commands::name_of(&t.daemon);
        match (&t.to, self.deadlines.get(name)) {
            (State::Starting, Some(deadline)) => {
                if !matches!(t.from, State::Starting) {
                    bar.reset();
                }
                bar.set_length(deadline.as_millis() as u64);
                bar.set_style(countdown_style());
                bar.enable_steady_tick(Duration::from_millis(100));
            }
            (State::Starting | State::Stopping { .. }, _) => {
                bar.set_style(spinner_style());
                bar.enable_steady_tick(Duration::from_millis(100));
            }
            _ => {
                bar.disable_steady_tick();
                bar.set_style(done_style());
            }
        }
        bar.set_message(format!(
            "{} {}",
            state_word(&t.to),
            describe(&t.event, &t.to)
        ));
        bar.tick();
    }

    fn done(&self) {
        for bar in self.bars.values() {
            bar.disable_steady_tick();
            bar.set_style(done_style());
            bar.abandon();
        }
    }
}

fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {prefix:<24} {wide_msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

fn done_style() -> ProgressStyle {
    ProgressStyle::with_template("  {prefix:<24} {wide_msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

/// A spinner, the message, and the time left before the readiness deadline (the bar's length,
/// in milliseconds, counted from the bar's reset at the start).
fn countdown_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {prefix:<24} {msg} (deadline in {left})")
        .map(|style| {
            style.with_key(
                "left",
                |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let total = Duration::from_millis(state.len().unwrap_or(0));
                    let left = total.saturating_sub(state.elapsed());
                    let _ = write!(w, "{:.1}s", left.as_secs_f64());
                },
            )
        })
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

/// A state as one lower-case word.
///
/// ```
/// assert_eq!(lifecycle_cli::progress::state_word(&lifecycle_core::State::Ready), "ready");
/// ```
pub fn state_word(state: &State) -> &'static str {
    match state {
        State::Stopped => "stopped",
        State::Starting => "starting",
        State::Ready => "ready",
        State::Stopping { .. } => "stopping",
        State::Failed { .. } => "failed",
        State::Backoff { .. } => "backoff",
    }
}

fn reason(state: &State) -> Option<&str> {
    match state {
        State::Failed { reason } => Some(reason),
        _ => None,
    }
}

/// What an event says, for people.
fn describe(event: &Event, to: &State) -> String {
    let text = match event {
        Event::Start => "start".to_owned(),
        Event::Adopted { pid } => format!("adopted pid {pid}"),
        Event::Spawned { pid } => format!("spawned pid {pid}"),
        Event::SpawnFailed { error } => format!("spawn failed: {error}"),
        Event::ProbeFailed { error } => format!("probe failed: {error}"),
        Event::ProbeOk => "probe ok".to_owned(),
        Event::DeadlinePassed { last_error } => format!("deadline passed: {last_error}"),
        Event::ProbeError { error } => format!("probe error: {error}"),
        Event::Exited {
            status, restart, ..
        } => match restart {
            RestartVerdict::After(attempt) => {
                format!("exited ({status}); restart {attempt} after backoff")
            }
            RestartVerdict::LimitReached(n) => {
                format!("exited ({status}); {n} restarts in a row: given up")
            }
            _ => format!("exited ({status})"),
        },
        Event::Stop => "stop".to_owned(),
        Event::GraceExpired { step } => format!("grace of stop step {} ran out", step + 1),
        Event::Gone => "gone".to_owned(),
        Event::RestartDue => "restarting".to_owned(),
        Event::RestartScheduled { attempt } => format!("restart {attempt} scheduled"),
        Event::KillFailed { members } => format!("processes outlived SIGKILL: {members:?}"),
    };
    match reason(to) {
        Some(reason) if !text.contains(reason) => format!("{text} — {reason}"),
        _ => text,
    }
}

/// An event as a JSON object: `event` its kind, and its fields.
fn event_json(event: &Event) -> Value {
    match event {
        Event::Start => json!({"event": "start"}),
        Event::Adopted { pid } => json!({"event": "adopted", "pid": pid}),
        Event::Spawned { pid } => json!({"event": "spawned", "pid": pid}),
        Event::SpawnFailed { error } => json!({"event": "spawn_failed", "error": error}),
        Event::ProbeFailed { error } => json!({"event": "probe_failed", "error": error}),
        Event::ProbeOk => json!({"event": "probe_ok"}),
        Event::DeadlinePassed { last_error } => {
            json!({"event": "deadline_passed", "error": last_error})
        }
        Event::ProbeError { error } => json!({"event": "probe_error", "error": error}),
        Event::Exited {
            status,
            success,
            restart,
        } => {
            let restart = match restart {
                RestartVerdict::After(n) => json!({"attempt": n}),
                RestartVerdict::LimitReached(n) => json!({"limit_reached": n}),
                _ => Value::Null,
            };
            json!({"event": "exited", "status": status, "success": success, "restart": restart})
        }
        Event::Stop => json!({"event": "stop"}),
        Event::GraceExpired { step } => json!({"event": "grace_expired", "step": step}),
        Event::Gone => json!({"event": "gone"}),
        Event::RestartDue => json!({"event": "restart_due"}),
        Event::RestartScheduled { attempt } => {
            json!({"event": "restart_scheduled", "attempt": attempt})
        }
        Event::KillFailed { members } => json!({"event": "kill_failed", "pids": members}),
    }
}
