//! Blocking work (file and `/proc` access, spawning) kept off the runtime's workers.
//!
//! Work goes into one queue per process, run by at most [`RUNNERS`] blocking threads at a time.
//! A runner takes work until the queue is empty, then ends: under load, work passes from one
//! piece to the next on the same thread (no wake-up of another thread per piece, no thread
//! added to the runtime's blocking pool per piece waiting); idle, no thread of this library
//! runs. Work in the queue always runs: a runner that the runtime drops unstarted (it shuts
//! down) runs the queue where it is dropped.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;

use tokio::sync::oneshot;

/// How many runners at once, in the whole process: enough to keep a disk and two cores busy,
/// few enough that hundreds of concurrent starts do not grow the process by a thread each.
const RUNNERS: usize = 4;

type Work = Box<dyn FnOnce() + Send>;

struct Queue {
    work: VecDeque<Work>,
    runners: usize,
}

static QUEUE: Mutex<Queue> = Mutex::new(Queue {
    work: VecDeque::new(),
    runners: 0,
});

fn queue() -> std::sync::MutexGuard<'static, Queue> {
    QUEUE.lock().unwrap_or_else(|p| p.into_inner())
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

/// Queues blocking work; it runs even if the returned handle is dropped.
pub(crate) fn submit<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Submitted<T> {
    let (tx, rx) = oneshot::channel();
    let work: Work = Box::new(move || {
        let _ = tx.send(work());
    });
    let start_runner = {
        let mut queue = queue();
        queue.work.push_back(work);
        let start = queue.runners < RUNNERS;
        if start {
            queue.runners += 1;
        }
        start
    };
    if start_runner {
        let runner = Runner;
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(move || drop(runner))),
            Err(_) => drop(runner),
        }
    }
    Submitted(rx)
}

/// Runs blocking work off the runtime's workers and waits for its result.
pub(crate) async fn run<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<T> {
    submit(work).done().await
}

/// One runner's turn: dropping it runs the queue until it is empty (so a runner the runtime
/// drops without starting it still runs what it was started for).
struct Runner;

impl Drop for Runner {
    fn drop(&mut self) {
        loop {
            let next = {
                let mut queue = queue();
                match queue.work.pop_front() {
                    Some(work) => work,
                    None => {
                        queue.runners -= 1;
                        return;
                    }
                }
            };
            // A piece of work that panics loses its result (its caller gets an error), not the
            // runner: the rest of the queue still runs.
            let _ = std::panic::catch_unwind(AssertUnwindSafe(next));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn work_runs_off_the_workers_even_unawaited_and_a_panic_loses_only_its_result() {
        let worker = std::thread::current().id();
        let elsewhere = run(move || std::thread::current().id() != worker)
            .await
            .unwrap();
        assert!(elsewhere);

        let (tx, rx) = std::sync::mpsc::channel();
        drop(submit(move || tx.send(()).unwrap()));
        rx.recv_timeout(std::time::Duration::from_secs(10))
            .expect("dropped work still runs");

        let lost = run(|| -> u32 { panic!("a bug in one piece of work") }).await;
        assert!(lost.is_err());
        let many: Vec<_> = (0..64u32).map(|i| submit(move || i * 2)).collect();
        for (i, piece) in many.into_iter().enumerate() {
            assert_eq!(piece.done().await.unwrap(), u32::try_from(i).unwrap() * 2);
        }
        assert!(queue().runners <= RUNNERS);
    }
}
