//! Getting files onto the board without ever breaking what is already there.
//!
//! Each file goes over SFTP to a temporary name in the work dir (`.model.bkw.<token>.part`),
//! is hashed on the board with `sha256sum` and compared with the local SHA-256, and only then
//! renamed over the real name with `mv -f` (a rename(2) within one directory: atomic). A failed
//! or interrupted upload therefore leaves at most a stray `.part` file (removed on the next
//! deploy once it is an hour old) and the previous runner and model untouched.
//!
//! The rename is done by the shell rather than SFTP: OpenSSH's SFTP (protocol 3) refuses to
//! rename over an existing file, and libssh2 does not offer the `posix-rename@openssh.com`
//! extension.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use ssh2::{OpenFlags, OpenType, Sftp};

use super::error::DeployError;
use super::quote::quote;
use super::remote::run_checked;
use super::session::Connection;

/// The files deploy keeps in the board's work dir.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RemoteFile {
    Runner,
    Model,
    Clip,
    /// The `bifsmn` CLI itself, for training on the host.
    Trainer,
}

impl RemoteFile {
    /// Name inside the work dir.
    pub fn name(self) -> &'static str {
        match self {
            RemoteFile::Runner => "bifsmn-runner",
            RemoteFile::Model => "model.bkw",
            RemoteFile::Clip => "clip.wav",
            RemoteFile::Trainer => "bifsmn",
        }
    }

    fn mode(self) -> i32 {
        match self {
            RemoteFile::Runner | RemoteFile::Trainer => 0o755,
            RemoteFile::Model | RemoteFile::Clip => 0o644,
        }
    }
}

impl std::fmt::Display for RemoteFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A local file to upload, with its size and SHA-256 (hex).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalArtifact {
    pub path: PathBuf,
    pub len: u64,
    pub sha256: String,
}

impl LocalArtifact {
    /// Hash `path` (streamed; the file may be large).
    pub fn hash(path: &Path) -> Result<Self, DeployError> {
        let mut f = File::open(path).map_err(|e| DeployError::local("open", path, e))?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut len = 0u64;
        loop {
            let n = f
                .read(&mut buf)
                .map_err(|e| DeployError::local("read", path, e))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            len += n as u64;
        }
        Ok(Self {
            path: path.to_path_buf(),
            len,
            sha256: hex::encode(h.finalize()),
        })
    }
}

/// The board's work dir as shell and SFTP see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteLayout {
    pub dir: String,
}

impl RemoteLayout {
    pub fn new(dir: impl Into<String>) -> Self {
        Self { dir: dir.into() }
    }

    /// `<dir>/<name>`.
    pub fn path(&self, name: &str) -> String {
        if self.dir == "/" {
            format!("/{name}")
        } else {
            format!("{}/{name}", self.dir)
        }
    }

    /// Create the work dir and clear `.part` leftovers older than an hour (younger ones may
    /// belong to a concurrent deploy).
    pub fn prepare(&self, conn: &Connection, cancel: &AtomicBool) -> Result<(), DeployError> {
        let d = quote(&self.dir);
        run_checked(
            conn,
            &format!(
                "mkdir -p -- {d} && cd -- {d} && {{ find . -maxdepth 1 -name '.*.part' -mmin +60 -exec rm -f -- {{}} + 2>/dev/null; true; }}"
            ),
            cancel,
        )
        .map(|_| ())
    }

    /// SHA-256 of the deploy files that exist on the board.
    pub fn remote_hashes(
        &self,
        conn: &Connection,
        cancel: &AtomicBool,
    ) -> Result<HashMap<RemoteFile, String>, DeployError> {
        let files = [RemoteFile::Runner, RemoteFile::Model, RemoteFile::Clip];
        let names: Vec<&str> = files.iter().map(|f| f.name()).collect();
        // Missing files are normal here: sha256sum's complaint and exit code are discarded.
        let out = run_checked(
            conn,
            &format!(
                "cd -- {} && {{ sha256sum -- {} 2>/dev/null; true; }}",
                quote(&self.dir),
                names.join(" ")
            ),
            cancel,
        )?;
        Ok(parse_sha256sum(&out)
            .into_iter()
            .filter_map(|(hash, name)| files.iter().find(|f| f.name() == name).map(|f| (*f, hash)))
            .collect())
    }
}

/// `(hash, name)` pairs from `sha256sum` output (`<64 hex>  <name>` or `<hex> *<name>`).
pub fn parse_sha256sum(out: &str) -> Vec<(String, String)> {
    out.lines()
        .filter_map(|l| {
            let (hash, rest) = l.split_once(' ')?;
            let name = rest.trim_start_matches([' ', '*']);
            (hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| (hash.to_ascii_lowercase(), name.to_string()))
        })
        .collect()
}

fn temp_name(file: RemoteFile) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        ".{}.{}-{:x}-{}.part",
        file.name(),
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Upload `local` as `file`: temp name, remote SHA-256 check, atomic rename. `progress` gets
/// `(sent, total)` bytes after each chunk; `cancel` is checked between chunks.
pub fn upload(
    conn: &Connection,
    sftp: &Sftp,
    layout: &RemoteLayout,
    file: RemoteFile,
    local: &LocalArtifact,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(), DeployError> {
    let host = &conn.spec.host;
    let tmp = layout.path(&temp_name(file));
    let result = send_verify_rename(conn, sftp, layout, file, local, &tmp, cancel, progress);
    if result.is_err() {
        // Best effort: on a dead connection this fails too, and `prepare` cleans up later.
        let _ = sftp.unlink(Path::new(&tmp));
    }
    result.map_err(|e| match e {
        Step::Deploy(e) => e,
        Step::Sftp(what, e) => DeployError::Upload {
            host: host.clone(),
            file: file.name().into(),
            message: format!("{what}: {e}"),
        },
    })
}

enum Step {
    Deploy(DeployError),
    Sftp(&'static str, String),
}

impl From<DeployError> for Step {
    fn from(e: DeployError) -> Self {
        Step::Deploy(e)
    }
}

#[allow(clippy::too_many_arguments)]
fn send_verify_rename(
    conn: &Connection,
    sftp: &Sftp,
    layout: &RemoteLayout,
    file: RemoteFile,
    local: &LocalArtifact,
    tmp: &str,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(), Step> {
    let host = &conn.spec.host;
    let sftp_err = |what: &'static str| move |e: ssh2::Error| Step::Sftp(what, e.to_string());
    let mut src =
        File::open(&local.path).map_err(|e| DeployError::local("open", &local.path, e))?;
    let mut dst = sftp
        .open_mode(
            Path::new(tmp),
            OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE,
            file.mode(),
            OpenType::File,
        )
        .map_err(sftp_err("create the temporary file"))?;
    let mut buf = vec![0u8; 1 << 16];
    let mut sent = 0u64;
    progress(0, local.len);
    loop {
        if cancel.load(Ordering::Relaxed) {
            return Err(DeployError::Cancelled { host: host.clone() }.into());
        }
        let n = src
            .read(&mut buf)
            .map_err(|e| DeployError::local("read", &local.path, e))?;
        if n == 0 {
            break;
        }
        dst.write_all(&buf[..n])
            .map_err(|e| Step::Sftp("write", e.to_string()))?;
        sent += n as u64;
        progress(sent, local.len);
    }
    // fsync@openssh.com where the server has it, so the rename below publishes durable data.
    let _ = dst.fsync();
    dst.close().map_err(sftp_err("close"))?;
    drop(dst);

    let out = run_checked(conn, &format!("sha256sum -- {}", quote(tmp)), cancel)?;
    let remote = parse_sha256sum(&out)
        .into_iter()
        .next()
        .map(|(h, _)| h)
        .unwrap_or_else(|| format!("(unreadable: {:?})", out.trim()));
    if remote != local.sha256 {
        return Err(DeployError::HashMismatch {
            host: host.clone(),
            file: file.name().into(),
            local: local.sha256.clone(),
            remote,
        }
        .into());
    }
    let (t, f) = (quote(tmp), quote(&layout.path(file.name())));
    run_checked(
        conn,
        &format!("chmod {:o} -- {t} && mv -f -- {t} {f}", file.mode()),
        cancel,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256sum_output() {
        let h = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let out = format!(
            "{h}  bifsmn-runner\n{}  *model.bkw\nsha256sum: clip.wav: No such file\n",
            h.to_uppercase()
        );
        assert_eq!(
            parse_sha256sum(&out),
            [
                (h.to_string(), "bifsmn-runner".to_string()),
                (h.to_string(), "model.bkw".to_string())
            ]
        );
    }

    #[test]
    fn local_hash_and_layout() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("empty");
        std::fs::write(&p, b"").unwrap();
        let a = LocalArtifact::hash(&p).unwrap();
        assert_eq!(a.len, 0);
        assert_eq!(
            a.sha256,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(LocalArtifact::hash(&dir.path().join("missing")).is_err());
        assert_eq!(RemoteLayout::new("w d").path("model.bkw"), "w d/model.bkw");
        assert_eq!(RemoteLayout::new("/").path("model.bkw"), "/model.bkw");
        let t1 = temp_name(RemoteFile::Model);
        assert!(t1.starts_with(".model.bkw.") && t1.ends_with(".part"));
        assert_ne!(t1, temp_name(RemoteFile::Model));
    }
}
