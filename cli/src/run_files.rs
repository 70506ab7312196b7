//! The remote side of `bifsmn train ... --on HOST`: the event log a remote driver follows
//! (`--events-log`) and the control file it writes to (`--control-file`).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use crossbeam_channel::Receiver;

use bifsmn_engine::train::{TrainCommand, TrainEvent};

/// Step events are written at most this often (the epoch events carry the numbers that
/// matter; steps only move the progress bar).
const STEP_EVERY: Duration = Duration::from_millis(250);
/// How often the control file is read.
const CONTROL_POLL: Duration = Duration::from_millis(200);

/// Appends events as JSON lines, each flushed whole so a reader never sees half a line
/// followed by nothing.
pub struct EventLog {
    path: PathBuf,
    file: File,
    last_step: Option<Instant>,
}

impl EventLog {
    pub fn create(path: &Path) -> anyhow::Result<EventLog> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening the event log {}", path.display()))?;
        Ok(EventLog {
            path: path.to_path_buf(),
            file,
            last_step: None,
        })
    }

    pub fn append(&mut self, event: &TrainEvent) -> anyhow::Result<()> {
        if let TrainEvent::Step(s) = event {
            let due = self.last_step.is_none_or(|t| t.elapsed() >= STEP_EVERY);
            if !due && s.step + 1 < s.steps_per_epoch {
                return Ok(());
            }
            self.last_step = Some(Instant::now());
        }
        let mut line = serde_json::to_vec(event)?;
        line.push(b'\n');
        self.file
            .write_all(&line)
            .and_then(|_| self.file.flush())
            .with_context(|| format!("writing the event log {}", self.path.display()))
    }
}

/// Parse one control word.
pub fn parse_control(word: &str) -> Option<TrainCommand> {
    match word.trim() {
        "pause" => Some(TrainCommand::Pause),
        "resume" => Some(TrainCommand::Resume),
        "stop" => Some(TrainCommand::Stop),
        "cancel" => Some(TrainCommand::Cancel),
        _ => None,
    }
}

/// Polls a control file for appended words on a thread of its own.
pub struct ControlFile;

impl ControlFile {
    /// Watch `path` (created if missing; words already in it are taken as read). The thread
    /// ends when the receiver is dropped.
    pub fn watch(path: PathBuf) -> anyhow::Result<Receiver<TrainCommand>> {
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&path)
            .with_context(|| format!("opening the control file {}", path.display()))?;
        let mut offset = file
            .seek(SeekFrom::End(0))
            .with_context(|| format!("reading the control file {}", path.display()))?;
        let (tx, rx) = crossbeam_channel::unbounded();
        std::thread::Builder::new()
            .name("control-file".into())
            .spawn(move || {
                let mut pending = String::new();
                loop {
                    std::thread::sleep(CONTROL_POLL);
                    let mut text = String::new();
                    let read = file
                        .seek(SeekFrom::Start(offset))
                        .and_then(|_| file.read_to_string(&mut text));
                    let Ok(n) = read else {
                        eprintln!(
                            "warning: cannot read {}; control words ignored",
                            path.display()
                        );
                        return;
                    };
                    offset += n as u64;
                    pending.push_str(&text);
                    while let Some(end) = pending.find('\n') {
                        let word: String = pending.drain(..=end).collect();
                        match parse_control(&word) {
                            Some(command) => {
                                if tx.send(command).is_err() {
                                    return;
                                }
                            }
                            None if word.trim().is_empty() => {}
                            None => eprintln!(
                                "warning: {}: unknown control word {:?}",
                                path.display(),
                                word.trim()
                            ),
                        }
                    }
                }
            })
            .context("starting the control-file thread")?;
        Ok(rx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_words_appended_later_arrive_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("control");
        std::fs::write(&path, "stop\n").unwrap();
        let rx = ControlFile::watch(path.clone()).unwrap();
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        // Half a line first: nothing may be taken until its newline arrives.
        f.write_all(b"pau").unwrap();
        std::thread::sleep(CONTROL_POLL * 2);
        assert!(
            rx.try_recv().is_err(),
            "the old word and half a word are not commands"
        );
        f.write_all(b"se\nbogus\nresume\ncancel\n").unwrap();
        let got: Vec<TrainCommand> = (0..3)
            .map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap())
            .collect();
        assert_eq!(
            got,
            [
                TrainCommand::Pause,
                TrainCommand::Resume,
                TrainCommand::Cancel
            ]
        );
    }

    #[test]
    fn event_log_writes_whole_lines_and_thins_steps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let mut log = EventLog::create(&path).unwrap();
        log.append(&TrainEvent::Paused).unwrap();
        log.append(&TrainEvent::Log("hello".into())).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let events: Vec<TrainEvent> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert!(matches!(events[..], [TrainEvent::Paused, TrainEvent::Log(ref s)] if s == "hello"));
        assert!(EventLog::create(&dir.path().join("no/such/dir/log")).is_err());
    }
}
