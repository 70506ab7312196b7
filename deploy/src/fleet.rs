//! Running deploys off the caller's thread: one worker thread per board, all reporting over
//! one channel, each board's failure contained to that board, and one cancel flag for all.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, unbounded};

use super::error::DeployError;
use super::events::{BoardOutcome, DeployEvent, DeploySummary, EventKind};
use super::job::{self, BoardCheck, DeployRequest, Target};
use super::session::HostKeyPolicy;

/// A running background job: its events, its cancel flag, and its result.
#[derive(Debug)]
pub struct JobHandle<T> {
    events: Receiver<DeployEvent>,
    cancel: Arc<AtomicBool>,
    thread: JoinHandle<T>,
}

impl<T> JobHandle<T> {
    /// Progress events. The channel disconnects after the job's last event; the GUI drains
    /// it with `try_recv` each frame.
    pub fn events(&self) -> &Receiver<DeployEvent> {
        &self.events
    }

    /// Ask every worker to stop at its next check (between steps, upload chunks, output reads).
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// The shared cancel flag (e.g. to wire into a Ctrl-C handler).
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.cancel.clone()
    }

    /// Whether the job has finished (its result is ready).
    pub fn is_finished(&self) -> bool {
        self.thread.is_finished()
    }

    /// Wait for the result (the events may still be drained afterwards).
    pub fn wait(self) -> T {
        match self.thread.join() {
            Ok(t) => t,
            // The coordinator only joins workers and collects results; it does not panic.
            Err(p) => std::panic::resume_unwind(p),
        }
    }
}

/// A deploy to several boards.
pub type DeployHandle = JobHandle<DeploySummary>;
/// A `boards test` of one board.
pub type CheckHandle = JobHandle<Result<BoardCheck, DeployError>>;

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

fn sender_for(tx: &Sender<DeployEvent>, board: &str) -> impl FnMut(EventKind) + use<> {
    let (tx, board) = (tx.clone(), board.to_string());
    move |kind| {
        // A closed receiver (the GUI went away) must not stop the work.
        let _ = tx.send(DeployEvent {
            board: board.clone(),
            kind,
        });
    }
}

/// Deploy `request` to every target concurrently (one thread per board) and return at once.
/// Each board ends with an [`EventKind::Finished`] event; the summary lists boards in the
/// given order.
pub fn spawn_deploy(targets: Vec<Target>, request: DeployRequest) -> DeployHandle {
    let (tx, rx) = unbounded();
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    let thread = std::thread::Builder::new()
        .name("deploy".into())
        .spawn(move || {
            let request = &request;
            let flag = &*flag;
            std::thread::scope(|s| {
                let workers: Vec<_> = targets
                    .iter()
                    .map(|t| {
                        let mut emit = sender_for(&tx, &t.profile.name);
                        let worker = move || {
                            let result =
                                job::deploy_board(t, request, flag, &mut emit).map(Box::new);
                            emit(EventKind::Finished(result.clone()));
                            result
                        };
                        std::thread::Builder::new()
                            .name(format!("deploy-{}", t.profile.name))
                            .spawn_scoped(s, worker)
                    })
                    .collect();
                let boards = targets
                    .iter()
                    .zip(workers)
                    .map(|(t, w)| {
                        let result = match w.map_err(|e| e.to_string()).and_then(|h| {
                            h.join()
                                .map_err(|p| format!("worker panicked: {}", panic_message(&*p)))
                        }) {
                            Ok(r) => r,
                            Err(message) => {
                                let e = DeployError::Ssh {
                                    host: t.spec.host.clone(),
                                    action: "internal error".into(),
                                    message,
                                };
                                sender_for(&tx, &t.profile.name)(EventKind::Finished(Err(
                                    e.clone()
                                )));
                                Err(e)
                            }
                        };
                        BoardOutcome {
                            board: t.profile.name.clone(),
                            result,
                        }
                    })
                    .collect();
                DeploySummary { boards }
            })
        })
        .expect("spawn the deploy thread");
    JobHandle {
        events: rx,
        cancel,
        thread,
    }
}

/// Check one board (connect, host key, `uname -m`, the installed runner's `info`) on a
/// background thread.
pub fn spawn_check(target: Target, policy: HostKeyPolicy) -> CheckHandle {
    let (tx, rx) = unbounded();
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    let mut emit = sender_for(&tx, &target.profile.name);
    // Only the worker's sender remains, so the channel disconnects when the check ends.
    drop(tx);
    let thread = std::thread::Builder::new()
        .name(format!("check-{}", target.profile.name))
        .spawn(move || job::check_board(&target, policy, &flag, &mut emit))
        .expect("spawn the board check thread");
    JobHandle {
        events: rx,
        cancel,
        thread,
    }
}
