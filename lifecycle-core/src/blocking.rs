//! Blocking work (file and `/proc` access, spawning) kept off the runtime's workers.
//!
//! Short work goes into a queue of the runtime it comes from, run by at most [`runners`] of that
//! runtime's blocking threads at a time. A runner takes work until its queue is empty, then
//! ends: under load, work passes from one piece to the next on the same thread (no wake-up of
//! another thread per piece, no thread added to the blocking pool per piece waiting); idle, no
//! thread of this library runs. One queue per runtime: work runs in the context of the runtime
//! that asked for it (the descriptors it registers belong to that runtime's reactor), and a
//! runtime's shutdown waits only for its own work. Work in a queue always runs: a runner that
//! its runtime drops unstarted (it shuts down) runs its queue where it is dropped.
//!
//! Long work (a log rotation copying megabytes) does not hold up the short work behind it: it
//! gets a blocking thread of its own ([`run_long`]).

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::{Mutex, MutexGuard, OnceLock};

use tokio::runtime::{Handle, Id};
use tokio::sync::oneshot;

/// How many runners at once per runtime: one per CPU this process may run on, at least 2 and
/// at most 8 — enough to keep the disk and the cores busy (measured: more on two cores adds
/// memory, not speed), few enough that hundreds of concurrent starts do not grow the process
/// by a thread each.
fn runners() -> usize {
    static RUNNERS: OnceLock<usize> = OnceLock::new();
    *RUNNERS.get_or_init(|| std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8)))
}

type Work = Box<dyn FnOnce() + Send>;

/// The queue of one runtime.
struct Lane {
    runtime: Id,
    work: VecDeque<Work>,
    runners: usize,
}

/// The lanes of the runtimes with work queued or running (a handful: one per runtime).
static LANES: Mutex<Vec<Lane>> = Mutex::new(Vec::new());

fn lanes() -> MutexGuard<'static, Vec<Lane>> {
    LANES.lock().unwrap_or_else(|p| p.into_inner())
}

/// Blocking work on its way: it runs to its end even if nobody awaits it.
pub(crate) struct Submitted<T>(oneshot::Receiver<T>);

impl<T> Submitted<T> {
    /// Waits for the work's end.
    pub(crate) async fn done(self) -> std::io::Result<T> {
        self.0
            .await
            .map_err(|_| std::io::Error::other("blocking work ended without a result"))
    }
}

/// Queues short blocking work on the current runtime's lane (outside a runtime, runs it here);
/// it runs even if the returned handle is dropped.
pub(crate) fn submit<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Submitted<T> {
    let (tx, rx) = oneshot::channel();
    let work: Work = Box::new(move || {
        let _ = tx.send(work());
    });
    let Ok(runtime) = Handle::try_current() else {
        // A panic loses the work's result here too (see `Runner`), not the caller.
        let _ = std::panic::catch_unwind(AssertUnwindSafe(work));
        return Submitted(rx);
    };
    // Runtime ids are unique among live runtimes (tokio takes them from a counter that only
    // grows): a lane is never shared by two runtimes, even one left by a runtime that shut
    // down in the background.
    let id = runtime.id();
    let start_runner = {
        let mut lanes = lanes();
        let lane = match lanes.iter().position(|l| l.runtime == id) {
            Some(at) => &mut lanes[at],
            None => {
                lanes.push(Lane {
                    runtime: id,
                    work: VecDeque::new(),
                    runners: 0,
                });
                let last = lanes.len() - 1;
                &mut lanes[last]
            }
        };
        lane.work.push_back(work);
        let start = lane.runners < runners();
        if start {
            lane.runners += 1;
        }
        start
    };
    if start_runner {
        let runner = Runner(id);
        drop(runtime.spawn_blocking(move || drop(runner)));
    }
    Submitted(rx)
}

/// Runs short blocking work off the runtime's workers and waits for its result.
pub(crate) async fn run<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<T> {
    submit(work).done().await
}

/// Runs long blocking work on a blocking thread of its own and waits for its result; once
/// started it runs to its end even if nobody awaits it (work not yet started when the runtime
/// shuts down is dropped: only what can be skipped goes here).
pub(crate) async fn run_long<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(std::io::Error::other)
}

/// One runner's turn on the lane of runtime `.0`: dropping it runs the lane until it is empty
/// (so a runner the runtime drops without starting it still runs what it was started for).
struct Runner(Id);

impl Drop for Runner {
    fn drop(&mut self) {
        loop {
            let next = {
                let mut lanes = lanes();
                let Some(at) = lanes.iter().position(|l| l.runtime == self.0) else {
                    return;
                };
                match lanes[at].work.pop_front() {
                    Some(work) => work,
                    None => {
                        lanes[at].runners -= 1;
                        if lanes[at].runners == 0 {
                            lanes.swap_remove(at);
                        }
                        return;
                    }
                }
            };
            // A piece of work that panics loses its result (its caller gets an error), not the
            // runner: the rest of the lane still runs.
            let _ = std::panic::catch_unwind(AssertUnwindSafe(next));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn work_runs_off_the_workers_in_its_runtime_even_unawaited() {
        let (worker, runtime) = (std::thread::current().id(), Handle::current().id());
        let (elsewhere, same_runtime) = run(move || {
            (
                std::thread::current().id() != worker,
                Handle::current().id() == runtime,
            )
        })
        .await
        .unwrap();
        assert!(elsewhere && same_runtime);

        let (tx, rx) = std::sync::mpsc::channel();
        drop(submit(move || tx.send(()).unwrap()));
        rx.recv_timeout(std::time::Duration::from_secs(10))
            .expect("dropped work still runs");

        let many: Vec<_> = (0..64u32).map(|i| submit(move || i * 2)).collect();
        for (i, piece) in many.into_iter().enumerate() {
            assert_eq!(piece.done().await.unwrap(), u32::try_from(i).unwrap() * 2);
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_panic_loses_only_its_own_result() {
        let lost = run(|| -> u32 { panic!("a bug in one piece of work") }).await;
        assert!(lost.is_err());
        assert_eq!(run(|| 7).await.unwrap(), 7);
    }

    #[test]
    fn a_runtime_that_shuts_down_runs_its_queued_work_and_leaves_no_lane() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let id = runtime.handle().id();
        let (tx, rx) = std::sync::mpsc::channel();
        let tx_late = tx.clone();
        runtime.block_on(async move {
            for i in 0..16 {
                let tx = tx.clone();
                drop(submit(move || tx.send(i).unwrap()));
            }
        });
        let handle = runtime.handle().clone();
        drop(runtime);
        // Submitted after the shutdown: the runner cannot be started and runs the lane here.
        let late = {
            let _context = handle.enter();
            let tx = tx_late;
            submit(move || tx.send(16).unwrap())
        };
        drop(late);
        let mut got: Vec<i32> = rx.try_iter().collect();
        got.sort_unstable();
        assert_eq!(got, (0..17).collect::<Vec<_>>());
        assert!(lanes().iter().all(|l| l.runtime != id));
    }
}
