//! Running one command on the board: output streamed line by line while it runs, bounded by a
//! deadline, and stoppable through the cancel flag.
//!
//! The channel is read in libssh2's non-blocking mode, alternating stdout and stderr, so a
//! chatty stderr can never stall the loop (reading all of stdout first could deadlock once
//! the remote fills the stderr window), and the deadline and cancel flag are checked between
//! reads.

use std::io::{ErrorKind, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use ssh2::Channel;

use super::error::DeployError;
use super::session::Connection;

/// libssh2's `LIBSSH2_ERROR_EAGAIN` (non-blocking call would block).
const LIBSSH2_ERROR_EAGAIN: i32 = -37;

/// Which of the command's outputs a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputStream {
    Stdout,
    Stderr,
}

/// The result of a finished remote command.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecOutput {
    /// Exit status (0 when the command died from a signal; see `signal`).
    pub status: i32,
    /// Signal name (`SEGV`, `KILL`) if the command was killed by one.
    pub signal: Option<String>,
    pub stdout: String,
    /// The last [`STDERR_KEEP`] bytes of stderr.
    pub stderr: String,
}

/// At most this much stdout is kept (a report is a few kilobytes; this guards memory only).
pub const STDOUT_KEEP: usize = 16 << 20;
/// This much of stderr's tail is kept for error messages.
pub const STDERR_KEEP: usize = 16 << 10;

/// Splits a byte stream into lines and keeps (a bounded part of) the text.
struct Lines {
    stream: OutputStream,
    pending: Vec<u8>,
    kept: Vec<u8>,
    keep: usize,
    keep_tail: bool,
}

impl Lines {
    fn new(stream: OutputStream, keep: usize, keep_tail: bool) -> Self {
        Self {
            stream,
            pending: vec![],
            kept: vec![],
            keep,
            keep_tail,
        }
    }

    fn push(&mut self, data: &[u8], on_line: &mut dyn FnMut(OutputStream, &str)) {
        self.kept.extend_from_slice(data);
        if self.kept.len() > self.keep {
            if self.keep_tail {
                let cut = self.kept.len() - self.keep;
                self.kept.drain(..cut);
            } else {
                self.kept.truncate(self.keep);
            }
        }
        self.pending.extend_from_slice(data);
        while let Some(i) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=i).collect();
            let text = String::from_utf8_lossy(&line[..line.len() - 1]);
            on_line(self.stream, text.trim_end_matches('\r'));
        }
    }

    fn finish(mut self, on_line: &mut dyn FnMut(OutputStream, &str)) -> String {
        if !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            on_line(
                self.stream,
                String::from_utf8_lossy(&rest).trim_end_matches('\r'),
            );
        }
        String::from_utf8_lossy(&self.kept).into_owned()
    }
}

/// Run `command` (already quoted) on the board. Lines of output go to `on_line` as they
/// arrive. Fails with [`DeployError::Timeout`] after `timeout` and [`DeployError::Cancelled`]
/// when `cancel` is set; in both cases the channel is closed (the remote process then gets
/// EOF / SIGPIPE on its next write).
pub fn exec(
    conn: &Connection,
    command: &str,
    what: &str,
    timeout: Duration,
    cancel: &AtomicBool,
    on_line: &mut dyn FnMut(OutputStream, &str),
) -> Result<ExecOutput, DeployError> {
    let host = &conn.spec.host;
    let mut ch = conn
        .session
        .channel_session()
        .map_err(|e| DeployError::ssh(host, format!("open a channel for {what}"), e))?;
    ch.exec(command)
        .map_err(|e| DeployError::ssh(host, format!("start {what}"), e))?;
    conn.session.set_blocking(false);
    let result = pump(&mut ch, host, what, timeout, cancel, on_line);
    // Dropping a channel in non-blocking mode would leak its close; restore first.
    conn.session.set_blocking(true);
    drop(ch);
    result
}

fn pump(
    ch: &mut Channel,
    host: &str,
    what: &str,
    timeout: Duration,
    cancel: &AtomicBool,
    on_line: &mut dyn FnMut(OutputStream, &str),
) -> Result<ExecOutput, DeployError> {
    let deadline = Instant::now() + timeout;
    let mut out = Lines::new(OutputStream::Stdout, STDOUT_KEEP, false);
    let mut err = Lines::new(OutputStream::Stderr, STDERR_KEEP, true);
    let mut buf = vec![0u8; 32 * 1024];
    let read_err =
        |e: std::io::Error| DeployError::ssh(host, format!("read the output of {what}"), e);
    let stop = |ch: &mut Channel, err: Lines, why: StopReason| {
        let _ = ch.close();
        let stderr = String::from_utf8_lossy(&err.kept).into_owned();
        match why {
            StopReason::Cancel => DeployError::Cancelled { host: host.into() },
            StopReason::Timeout => DeployError::Timeout {
                host: host.into(),
                what: what.into(),
                after: timeout,
                stderr,
            },
        }
    };
    loop {
        let mut progressed = false;
        match ch.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => {
                out.push(&buf[..n], on_line);
                progressed = true;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => return Err(read_err(e)),
        }
        match ch.stderr().read(&mut buf) {
            Ok(0) => {}
            Ok(n) => {
                err.push(&buf[..n], on_line);
                progressed = true;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => return Err(read_err(e)),
        }
        if cancel.load(Ordering::Relaxed) {
            return Err(stop(ch, err, StopReason::Cancel));
        }
        if Instant::now() >= deadline {
            return Err(stop(ch, err, StopReason::Timeout));
        }
        if !progressed {
            // libssh2 masks EOF while data is still queued, so this is the real end.
            if ch.eof() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    // The exit status arrives before the channel close; wait for the close (bounded).
    loop {
        match ch.wait_close() {
            Ok(()) => break,
            Err(e) if e.code() == ssh2::ErrorCode::Session(LIBSSH2_ERROR_EAGAIN) => {
                if Instant::now() >= deadline {
                    return Err(stop(ch, err, StopReason::Timeout));
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            // Already closed by the remote side: the status is there.
            Err(_) => break,
        }
    }
    let status = ch.exit_status().unwrap_or(-1);
    let signal = ch.exit_signal().ok().and_then(|s| s.exit_signal);
    Ok(ExecOutput {
        status,
        signal,
        stdout: out.finish(on_line),
        stderr: err.finish(on_line),
    })
}

enum StopReason {
    Cancel,
    Timeout,
}

/// Run a short command that must succeed; its stdout on success, else
/// [`DeployError::RemoteCommand`] with the remote stderr.
pub fn run_checked(
    conn: &Connection,
    command: &str,
    cancel: &AtomicBool,
) -> Result<String, DeployError> {
    let out = exec(
        conn,
        command,
        &format!("`{command}`"),
        conn.spec.command_timeout,
        cancel,
        &mut |_, _| {},
    )?;
    if out.status != 0 || out.signal.is_some() {
        return Err(DeployError::RemoteCommand {
            host: conn.spec.host.clone(),
            command: command.into(),
            status: out.status,
            stderr: out.stderr,
        });
    }
    Ok(out.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_across_chunks_and_keep_tail() {
        let mut got = vec![];
        let mut sink = |s: OutputStream, l: &str| got.push((s, l.to_string()));
        let mut l = Lines::new(OutputStream::Stderr, 8, true);
        l.push(b"ab", &mut sink);
        l.push(b"c\r\nde\nf", &mut sink);
        let kept = l.finish(&mut sink);
        assert_eq!(
            got,
            [
                (OutputStream::Stderr, "abc".to_string()),
                (OutputStream::Stderr, "de".to_string()),
                (OutputStream::Stderr, "f".to_string())
            ]
        );
        assert_eq!(kept, "bc\r\nde\nf");
        let mut l = Lines::new(OutputStream::Stdout, 4, false);
        l.push(b"123456", &mut |_, _| {});
        assert_eq!(l.finish(&mut |_, _| {}), "1234");
    }
}
