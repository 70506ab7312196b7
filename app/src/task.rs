//! Background work with results delivered over a channel.
//!
//! The UI thread never waits: it starts a [`Task`] and polls it once per frame. The worker
//! asks for a repaint when it is done, so the result shows up without the UI spinning.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crossbeam_channel::{Receiver, TryRecvError};

/// What polling a task found.
pub(crate) enum Poll<T> {
    /// Still running.
    Pending,
    /// Finished with this result.
    Done(T),
    /// The worker thread ended without a result (it panicked).
    Lost,
}

/// A closure running on its own thread.
pub(crate) struct Task<T> {
    /// Shown in the status bar.
    pub label: String,
    rx: Receiver<T>,
    progress: Arc<Progress>,
}

/// Progress and cancellation shared between a task and the UI. Lock-free so that neither
/// side ever waits for the other.
#[derive(Default)]
pub(crate) struct Progress {
    /// Work done and total, in any unit (0 total = unknown).
    done: AtomicU64,
    total: AtomicU64,
    /// Which phase of a multi-phase job is running (meaning is up to the job).
    phase: AtomicU64,
    cancel: AtomicBool,
}

impl Progress {
    pub(crate) fn set(&self, done: u64, total: Option<u64>) {
        self.done.store(done, Ordering::Relaxed);
        self.total.store(total.unwrap_or(0), Ordering::Relaxed);
    }

    /// Fraction done, when the total is known.
    pub(crate) fn fraction(&self) -> Option<f32> {
        let total = self.total.load(Ordering::Relaxed);
        (total > 0).then(|| self.done.load(Ordering::Relaxed) as f32 / total as f32)
    }

    pub(crate) fn set_phase(&self, phase: u64) {
        self.phase.store(phase, Ordering::Relaxed);
    }

    pub(crate) fn phase(&self) -> u64 {
        self.phase.load(Ordering::Relaxed)
    }

    pub(crate) fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    pub(crate) fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// The flag itself, for APIs that take `&AtomicBool`.
    pub(crate) fn cancel_flag(&self) -> &AtomicBool {
        &self.cancel
    }

    /// A progress bar with `text` and a Cancel button that cancels this job.
    pub(crate) fn bar_with_cancel(&self, ui: &mut egui::Ui, fraction: f32, text: String) {
        ui.horizontal(|ui| {
            ui.add(
                egui::ProgressBar::new(fraction)
                    .text(text)
                    .desired_width(320.0)
                    .animate(true),
            );
            if ui.button("Cancel").clicked() {
                self.cancel();
            }
        });
    }
}

impl<T: Send + 'static> Task<T> {
    /// Run `work` on a new thread; `ctx` is asked to repaint when it finishes.
    pub(crate) fn spawn(
        label: impl Into<String>,
        ctx: &egui::Context,
        work: impl FnOnce(&Progress) -> T + Send + 'static,
    ) -> Self {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let progress = Arc::new(Progress::default());
        let shared = progress.clone();
        let ctx = ctx.clone();
        let label = label.into();
        std::thread::Builder::new()
            .name(format!("bifsmn-app-{}", label.replace(' ', "-")))
            .spawn(move || {
                let result = work(&shared);
                let _ = tx.send(result);
                ctx.request_repaint();
            })
            .expect("spawning a worker thread");
        Self {
            label,
            rx,
            progress,
        }
    }

    /// Take the result if it is there.
    pub(crate) fn poll(&mut self) -> Poll<T> {
        match self.rx.try_recv() {
            Ok(v) => Poll::Done(v),
            Err(TryRecvError::Empty) => Poll::Pending,
            Err(TryRecvError::Disconnected) => Poll::Lost,
        }
    }

    pub(crate) fn progress(&self) -> &Progress {
        &self.progress
    }

    /// Status-bar entry for this task.
    pub(crate) fn status(&self) -> JobStatus {
        JobStatus {
            label: self.label.clone(),
            fraction: self.progress.fraction(),
        }
    }
}

/// Poll an optional task slot: returns the result and empties the slot when it is done. A
/// lost worker becomes `Err` with a message naming the task.
pub(crate) fn take_done<T: Send + 'static>(
    slot: &mut Option<Task<T>>,
) -> Option<Result<T, String>> {
    let task = slot.as_mut()?;
    match task.poll() {
        Poll::Pending => None,
        Poll::Done(v) => {
            *slot = None;
            Some(Ok(v))
        }
        Poll::Lost => {
            let label = task.label.clone();
            *slot = None;
            Some(Err(format!(
                "the background job \"{label}\" stopped unexpectedly (a bug: please report it)"
            )))
        }
    }
}

/// One running background job, as the status bar shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct JobStatus {
    pub label: String,
    /// Fraction done when known.
    pub fraction: Option<f32>,
}
