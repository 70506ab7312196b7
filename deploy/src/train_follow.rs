//! A remote training driven from a thread of its own: optionally install and start it, then
//! follow its event log, copy checkpoints back, re-attach after a lost connection and forward
//! control words. The CLI (`bifsmn train --on`) and the GUI's Train panel both drive remote
//! runs through [`spawn_follow`], and parse the lines it hands over as the trainer's events.
//!
//! The follower reads the event kinds it acts on (`Checkpoint` and its `path`, and the final
//! `Finished`, `Cancelled`, `Error`) from the JSON shape serde gives the trainer's event enum
//! (`{"Checkpoint": {"path": ...}}`); the CLI's tests pin that shape.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use super::error::DeployError;
use super::job::Target;
use super::session::{Connection, HostKeyPolicy};
use super::train_link::{self, CopiedFile, Follow, RemoteRun};

/// Pause between reconnection attempts.
const REATTACH_PAUSE: Duration = Duration::from_secs(2);
/// Re-attaches allowed without getting past the event line that failed.
const MAX_LOSSES_AT_ONE_LINE: usize = 5;

/// What a remote follower reports, in order.
#[derive(Clone, Debug)]
pub enum LinkEvent {
    /// Progress of the set-up, for a status line ("uploading bifsmn", "started").
    Status(String),
    /// The run was started on the host (detached: it goes on without the follower).
    Started,
    /// Bytes of the `bifsmn` upload sent so far, and the total.
    Upload { sent: u64, total: u64 },
    /// One line of the remote event log (a training event as JSON): each exactly once, in
    /// order, even across re-attaches. A checkpoint's line comes after its [`Self::Copied`].
    Line(String),
    /// A checkpoint was copied back (its weights file).
    Copied(CopiedFile),
    /// The connection dropped; the follower keeps trying to re-attach.
    Lost(DeployError),
    /// Connected again; reading continues at `offset` of the event log.
    Reattached { offset: u64 },
    /// The final checkpoint's weights are identical on both sides (SHA-256).
    Verified(CopiedFile),
    /// Following ended with this error; the remote run may still be going (attach later).
    Failed(DeployError),
}

/// How to start a run before following it.
#[derive(Clone, Debug)]
pub struct StartRequest {
    /// The `bifsmn` to install on the host (this machine's own binary).
    pub local_binary: PathBuf,
    /// Arguments after `bifsmn train` (role first), with the host's paths.
    pub args: Vec<String>,
    /// The dataset directory on the host, checked before starting.
    pub dataset: Option<String>,
}

/// A remote run to follow.
#[derive(Clone, Debug)]
pub struct FollowRequest {
    pub target: Target,
    pub host_keys: HostKeyPolicy,
    pub run: RemoteRun,
    /// Where checkpoints are copied to.
    pub local_dir: PathBuf,
    /// Start the run first (else attach to one that was started earlier).
    pub start: Option<StartRequest>,
    /// How long a lost connection is retried before giving up.
    pub reattach_for: Duration,
}

/// A running follower.
pub struct FollowHandle {
    events: Receiver<LinkEvent>,
    controls: Sender<&'static str>,
    detach: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FollowHandle {
    pub fn events(&self) -> &Receiver<LinkEvent> {
        &self.events
    }

    /// Forward a control word (`pause`, `resume`, `stop`, `cancel`) to the remote trainer.
    pub fn send_control(&self, word: &'static str) {
        let _ = self.controls.send(word);
    }

    /// Stop following; the remote run goes on.
    pub fn detach(&self) {
        self.detach.store(true, Ordering::Relaxed);
    }

    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }
}

impl Drop for FollowHandle {
    fn drop(&mut self) {
        // The thread sees the flag within one poll; not joined, so a slow network cannot
        // hold up whoever drops the handle.
        self.detach();
    }
}

/// Start following (and, with `request.start`, first install and start) a remote run.
pub fn spawn_follow(request: FollowRequest) -> FollowHandle {
    let (tx, events) = crossbeam_channel::unbounded();
    let (controls, control_rx) = crossbeam_channel::unbounded();
    let detach = Arc::new(AtomicBool::new(false));
    let flag = detach.clone();
    let host = request.target.profile.name.clone();
    let report = tx.clone();
    let thread = std::thread::Builder::new()
        .name("remote-train".into())
        .spawn(move || {
            if let Err(e) = drive(&request, &flag, &tx, &control_rx) {
                let _ = tx.send(LinkEvent::Failed(e));
            }
        });
    let thread = match thread {
        Ok(t) => Some(t),
        Err(e) => {
            let _ = report.send(LinkEvent::Failed(DeployError::RemoteTraining {
                host,
                problem: format!("cannot start the follower thread: {e}"),
            }));
            None
        }
    };
    // The thread holds the only other sender: the channel ends when it does.
    drop(report);
    FollowHandle {
        events,
        controls,
        detach,
        thread,
    }
}

fn connect(request: &FollowRequest) -> Result<Connection, DeployError> {
    train_link::connect_target(&request.target, request.host_keys)
}

fn drive(
    request: &FollowRequest,
    detach: &AtomicBool,
    tx: &Sender<LinkEvent>,
    controls: &Receiver<&'static str>,
) -> Result<(), DeployError> {
    let host = request.target.profile.name.clone();
    let send = |e: LinkEvent| {
        let _ = tx.send(e);
    };
    send(LinkEvent::Status(format!("connecting to {host}")));
    let mut conn = Some(connect(request)?);
    if let (Some(start), Some(c)) = (&request.start, &conn) {
        send(LinkEvent::Status("checking bifsmn on the host".into()));
        let (bin, uploaded) = train_link::install_trainer(
            c,
            &request.target.profile.remote_workdir(),
            &start.local_binary,
            detach,
            &mut |sent, total| send(LinkEvent::Upload { sent, total }),
        )?;
        if uploaded {
            send(LinkEvent::Status(format!("uploaded bifsmn to {bin}")));
        }
        train_link::start_training(
            c,
            &bin,
            &request.run,
            &start.args,
            start.dataset.as_deref(),
            detach,
        )?;
        send(LinkEvent::Started);
    }
    let mut offset = 0u64;
    let mut lost_since: Option<Instant> = None;
    // Losses at the same offset in a row: a line whose handling fails every time (a
    // checkpoint that cannot be copied) must end the follower rather than loop.
    let mut stuck = (u64::MAX, 0usize);
    let mut unsent: Vec<&'static str> = Vec::new();
    loop {
        let c = match conn.take() {
            Some(c) => c,
            None => match connect(request) {
                Ok(c) => {
                    send(LinkEvent::Reattached { offset });
                    c
                }
                Err(e) => {
                    let since = *lost_since.get_or_insert_with(Instant::now);
                    if since.elapsed() > request.reattach_for || detach.load(Ordering::Relaxed) {
                        return Err(e);
                    }
                    std::thread::sleep(REATTACH_PAUSE);
                    continue;
                }
            },
        };
        let mut on_line = |c: &Connection, line: &str| handle_line(c, request, line, detach, &send);
        let mut forward = |c: &Connection| {
            unsent.extend(controls.try_iter());
            while let Some(&word) = unsent.first() {
                // Kept until written: a word whose write lost the connection goes after the
                // re-attach.
                train_link::send_control(c, &request.run, word, detach)?;
                unsent.remove(0);
            }
            Ok(())
        };
        match train_link::follow_training(
            &c,
            &request.run,
            &mut offset,
            detach,
            &mut on_line,
            &mut forward,
        ) {
            Ok(_) => return Ok(()),
            Err(e @ (DeployError::RemoteTraining { .. } | DeployError::HashMismatch { .. })) => {
                return Err(e);
            }
            Err(e) => {
                stuck = if stuck.0 == offset {
                    (offset, stuck.1 + 1)
                } else {
                    (offset, 1)
                };
                if stuck.1 > MAX_LOSSES_AT_ONE_LINE {
                    return Err(e);
                }
                send(LinkEvent::Lost(e));
                lost_since = Some(Instant::now());
            }
        }
    }
}

/// The kind of an event line (`"Checkpoint"`, `"Finished"`, ...) and its fields.
fn event_kind(line: &str) -> Option<(String, serde_json::Value)> {
    match serde_json::from_str::<serde_json::Value>(line).ok()? {
        serde_json::Value::String(kind) => Some((kind, serde_json::Value::Null)),
        serde_json::Value::Object(map) if map.len() == 1 => map.into_iter().next(),
        _ => None,
    }
}

fn handle_line(
    conn: &Connection,
    request: &FollowRequest,
    line: &str,
    cancel: &AtomicBool,
    send: &dyn Fn(LinkEvent),
) -> Result<Follow, DeployError> {
    let (kind, fields) = event_kind(line).ok_or_else(|| DeployError::RemoteTraining {
        host: conn.spec.host.clone(),
        problem: format!(
            "{}: a line that is not a training event; is the host's bifsmn another version?",
            request.run.path(train_link::EVENTS_LOG)
        ),
    })?;
    let done = match kind.as_str() {
        "Checkpoint" => {
            let path = fields.get("path").and_then(|p| p.as_str()).unwrap_or("");
            let name = path.rsplit('/').next().unwrap_or(path);
            let copied =
                train_link::mirror_checkpoint(conn, &request.run, name, &request.local_dir)?;
            send(LinkEvent::Copied(copied));
            false
        }
        "Finished" => {
            let checked = train_link::verify_final_checkpoint(
                conn,
                &request.run,
                &request.local_dir,
                cancel,
            )?;
            send(LinkEvent::Verified(checked));
            true
        }
        "Cancelled" | "Error" => true,
        _ => false,
    };
    send(LinkEvent::Line(line.to_string()));
    Ok(if done { Follow::Done } else { Follow::Continue })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_kinds_from_serde_shapes() {
        let (k, f) =
            event_kind(r#"{"Checkpoint":{"epoch":2,"path":"/r/checkpoint.json","best":false}}"#)
                .unwrap();
        assert_eq!(
            (k.as_str(), f["path"].as_str()),
            ("Checkpoint", Some("/r/checkpoint.json"))
        );
        assert_eq!(event_kind("\"Paused\"").unwrap().0, "Paused");
        assert!(event_kind("not json").is_none());
        assert!(event_kind(r#"{"a":1,"b":2}"#).is_none());
    }
}
