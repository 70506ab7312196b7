//! Downloader for the official Speech Commands archives: resumable HTTP download, SHA-256
//! check, and extraction that cannot write outside its target.
//!
//! The download goes to `<archive>.part` and resumes from its size with an HTTP `Range`
//! request (a server answering 200 instead of 206 restarts it cleanly). Only a file whose
//! SHA-256 matches becomes `<archive>`; a mismatch is renamed to `<archive>.corrupt` so the next
//! run starts over. Extraction goes to a temp folder next to the destination and is renamed
//! into place at the end, so an interrupted run never leaves half a dataset behind.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::fsutil::{PathError, StagedDir};

/// The official archives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Archive {
    /// `speech_commands_v0.01.tar.gz` (30 words).
    V1,
    /// `speech_commands_v0.02.tar.gz` (35 words).
    V2,
}

impl Archive {
    /// Where the archives are served (the file name is appended).
    pub const DEFAULT_BASE_URL: &'static str = "https://download.tensorflow.org/data/";

    /// Archive file name.
    pub fn file_name(self) -> &'static str {
        match self {
            Self::V1 => "speech_commands_v0.01.tar.gz",
            Self::V2 => "speech_commands_v0.02.tar.gz",
        }
    }

    /// Folder the archive is extracted into (below the destination).
    pub fn dir_name(self) -> &'static str {
        match self {
            Self::V1 => "speech_commands_v0.01",
            Self::V2 => "speech_commands_v0.02",
        }
    }

    /// Expected SHA-256 (hex), from DESIGN.md.
    pub fn sha256(self) -> &'static str {
        match self {
            Self::V1 => "743935421bb51cccdb6bdd152e04c5c70274e935c82119ad7faeec31780d811d",
            Self::V2 => "af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58",
        }
    }

    /// The archive's URL under `base_url` (e.g. a local mirror or a test server).
    pub fn url(self, base_url: &str) -> String {
        format!("{}/{}", base_url.trim_end_matches('/'), self.file_name())
    }

    /// Everything [`fetch_archive`] needs, with the file served from `base_url`.
    pub fn spec(self, base_url: &str) -> ArchiveSpec {
        ArchiveSpec {
            url: self.url(base_url),
            file_name: self.file_name().into(),
            dir_name: self.dir_name().into(),
            sha256: self.sha256().into(),
        }
    }
}

/// A `.tar.gz` to fetch: where from, what to call it, what it must hash to, where it unpacks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveSpec {
    pub url: String,
    /// File name in the destination folder.
    pub file_name: String,
    /// Folder name the contents are extracted into, in the destination folder.
    pub dir_name: String,
    /// Expected SHA-256, hex.
    pub sha256: String,
}

/// Which phase a [`Progress`] report belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Download,
    Verify,
    Extract,
}

/// A progress report: bytes done out of `total` (when known) in one stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    pub stage: Stage,
    pub done: u64,
    pub total: Option<u64>,
}

/// Download behaviour.
#[derive(Clone, Debug)]
pub struct DownloadOptions {
    /// Resumes within one call after a dropped connection or a 5xx answer.
    pub retries: u32,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Keep the `.tar.gz` after a successful extraction.
    pub keep_archive: bool,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        Self {
            retries: 3,
            connect_timeout: Duration::from_secs(30),
            keep_archive: true,
        }
    }
}

/// Why a download or an extraction failed.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("{url}: HTTP {status}")]
    Http { url: String, status: u16 },
    #[error("{url}: {reason}")]
    Network { url: String, reason: String },
    #[error(
        "{url}: connection lost after {done} of {} bytes; run again to resume",
        total.map_or("?".to_string(), |t| t.to_string())
    )]
    Interrupted {
        url: String,
        done: u64,
        total: Option<u64>,
    },
    #[error("{url}: unexpected answer to a resumed download: {reason}")]
    BadResume { url: String, reason: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "{}: SHA-256 mismatch: expected {expected}, got {actual} (file set aside; run again to download it anew)",
        path.display()
    )]
    ChecksumMismatch {
        /// Where the bad file was moved (`.corrupt`).
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("{}: refusing entry `{entry}`: {reason}", archive.display())]
    UnsafeEntry {
        archive: PathBuf,
        entry: String,
        reason: String,
    },
    #[error("{}: not a readable .tar.gz: {reason}", archive.display())]
    BadArchive { archive: PathBuf, reason: String },
    #[error("{} already exists", .0.display())]
    TargetExists(PathBuf),
    #[error("cancelled")]
    Cancelled,
}

impl From<PathError> for DownloadError {
    fn from(e: PathError) -> DownloadError {
        DownloadError::Io {
            path: e.path,
            source: e.source,
        }
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> DownloadError + '_ {
    move |source| DownloadError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Download, verify and extract `spec` into `dest/<spec.dir_name>`, returning that folder.
/// Already-extracted data is returned as is; a verified archive is not downloaded again.
pub fn fetch_archive(
    spec: &ArchiveSpec,
    dest: &Path,
    options: &DownloadOptions,
    progress: &mut dyn FnMut(Progress),
    cancel: &AtomicBool,
) -> Result<PathBuf, DownloadError> {
    let target = dest.join(&spec.dir_name);
    if target.is_dir() {
        // Extraction ends with an atomic rename, so an existing folder is a complete one.
        return Ok(target);
    }
    let archive = download_verified(spec, dest, options, progress, cancel)?;
    extract_tar_gz(&archive, &target, progress, cancel)?;
    if !options.keep_archive {
        fs::remove_file(&archive).map_err(io_err(&archive))?;
    }
    Ok(target)
}

/// Download `spec.url` to `dest/<spec.file_name>` (resuming `.part`) and check its SHA-256.
/// Returns the verified archive's path.
pub fn download_verified(
    spec: &ArchiveSpec,
    dest: &Path,
    options: &DownloadOptions,
    progress: &mut dyn FnMut(Progress),
    cancel: &AtomicBool,
) -> Result<PathBuf, DownloadError> {
    fs::create_dir_all(dest).map_err(io_err(dest))?;
    let final_path = dest.join(&spec.file_name);
    let part = dest.join(format!("{}.part", spec.file_name));
    let corrupt = dest.join(format!("{}.corrupt", spec.file_name));

    let source = if final_path.is_file() {
        // Downloaded before; check again rather than trust a file that may have been touched.
        final_path.clone()
    } else {
        download_resumable(&spec.url, &part, options, progress, cancel)?;
        part.clone()
    };

    let actual = sha256_file(&source, progress, cancel)?;
    if !actual.eq_ignore_ascii_case(&spec.sha256) {
        fs::rename(&source, &corrupt).map_err(io_err(&corrupt))?;
        return Err(DownloadError::ChecksumMismatch {
            path: corrupt,
            expected: spec.sha256.to_ascii_lowercase(),
            actual,
        });
    }
    if source != final_path {
        fs::rename(&source, &final_path).map_err(io_err(&final_path))?;
    }
    Ok(final_path)
}

/// Make the HTTP agent: status codes are values (206/416 are normal here), no transparent
/// decompression (the bytes must hash as served), no proxy for loopback test servers.
fn agent(url: &str, options: &DownloadOptions) -> ureq::Agent {
    let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
        .iter()
        .any(|p| url.starts_with(p));
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(options.connect_timeout))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        .accept_encoding(ureq::config::AutoHeaderValue::None)
        .proxy(if loopback {
            None
        } else {
            ureq::Proxy::try_from_env()
        })
        .build()
        .new_agent()
}

/// Append the rest of `url` to `part` until it is complete, resuming after interruptions.
fn download_resumable(
    url: &str,
    part: &Path,
    options: &DownloadOptions,
    progress: &mut dyn FnMut(Progress),
    cancel: &AtomicBool,
) -> Result<(), DownloadError> {
    let agent = agent(url, options);
    let mut attempt = 0;
    loop {
        match download_once(&agent, url, part, progress, cancel) {
            Ok(()) => return Ok(()),
            Err(e @ (DownloadError::Interrupted { .. } | DownloadError::Network { .. }))
                if attempt < options.retries =>
            {
                attempt += 1;
                let _ = e;
            }
            Err(DownloadError::Http { status, .. })
                if status >= 500 && attempt < options.retries =>
            {
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
        if cancel.load(Ordering::Relaxed) {
            return Err(DownloadError::Cancelled);
        }
        // A short pause before resuming; not a timing assumption, just politeness.
        std::thread::sleep(Duration::from_millis(200 * u64::from(attempt)));
    }
}

/// One HTTP request: resume from the `.part` size and append until the body ends.
fn download_once(
    agent: &ureq::Agent,
    url: &str,
    part: &Path,
    progress: &mut dyn FnMut(Progress),
    cancel: &AtomicBool,
) -> Result<(), DownloadError> {
    if cancel.load(Ordering::Relaxed) {
        return Err(DownloadError::Cancelled);
    }
    let have = match fs::metadata(part) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
        Err(e) => return Err(io_err(part)(e)),
    };
    let mut request = agent.get(url);
    if have > 0 {
        request = request.header("Range", format!("bytes={have}-"));
    }
    let network = |e: ureq::Error| DownloadError::Network {
        url: url.to_string(),
        reason: e.to_string(),
    };
    let mut response = request.call().map_err(network)?;
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let content_length = header("content-length").and_then(|v| v.trim().parse::<u64>().ok());
    let content_range = header("content-range");

    let (start, total) = match status {
        206 => {
            let (start, total) =
                parse_content_range(content_range.as_deref()).ok_or_else(|| {
                    DownloadError::BadResume {
                        url: url.into(),
                        reason: format!("206 with Content-Range {content_range:?}"),
                    }
                })?;
            if start != have {
                return Err(DownloadError::BadResume {
                    url: url.into(),
                    reason: format!("asked for bytes from {have}, got bytes from {start}"),
                });
            }
            (start, total.or(content_length.map(|n| start + n)))
        }
        // The server ignored the Range header: start over from byte 0.
        200 => (0, content_length),
        416 if have > 0 => {
            // Nothing left to send from `have` on: the part is complete (the hash decides),
            // unless it is longer than the file, which only a restart can fix.
            let total = content_range
                .as_deref()
                .and_then(|v| v.trim().strip_prefix("bytes */"))
                .and_then(|t| t.parse::<u64>().ok());
            if total.is_some_and(|t| have > t) {
                fs::remove_file(part).map_err(io_err(part))?;
                return Err(DownloadError::Interrupted {
                    url: url.into(),
                    done: 0,
                    total,
                });
            }
            progress(Progress {
                stage: Stage::Download,
                done: have,
                total: total.or(Some(have)),
            });
            return Ok(());
        }
        _ => {
            return Err(DownloadError::Http {
                url: url.into(),
                status,
            });
        }
    };

    let mut file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(start == 0)
        .append(start > 0)
        .open(part)
        .map_err(io_err(part))?;
    let mut done = start;
    progress(Progress {
        stage: Stage::Download,
        done,
        total,
    });
    let mut reader = response.body_mut().as_reader();
    let mut buf = vec![0u8; 256 * 1024];
    let interrupted = |done| DownloadError::Interrupted {
        url: url.into(),
        done,
        total,
    };
    loop {
        if cancel.load(Ordering::Relaxed) {
            file.flush().map_err(io_err(part))?;
            return Err(DownloadError::Cancelled);
        }
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // The bytes so far are on disk; the next attempt resumes after them.
            Err(_) => return Err(interrupted(done)),
        };
        file.write_all(&buf[..n]).map_err(io_err(part))?;
        done += n as u64;
        progress(Progress {
            stage: Stage::Download,
            done,
            total,
        });
    }
    file.sync_all().map_err(io_err(part))?;
    if total.is_some_and(|t| done < t) {
        return Err(interrupted(done));
    }
    Ok(())
}

/// `bytes <start>-<end>/<total|*>` -> (start, total).
fn parse_content_range(value: Option<&str>) -> Option<(u64, Option<u64>)> {
    let rest = value?.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (start, _end) = range.split_once('-')?;
    Some((start.trim().parse().ok()?, total.trim().parse().ok()))
}

/// SHA-256 (hex) of a file, reporting [`Stage::Verify`] progress.
fn sha256_file(
    path: &Path,
    progress: &mut dyn FnMut(Progress),
    cancel: &AtomicBool,
) -> Result<String, DownloadError> {
    let mut file = File::open(path).map_err(io_err(path))?;
    let total = file.metadata().map_err(io_err(path))?.len();
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut done = 0u64;
    loop {
        if cancel.load(Ordering::Relaxed) {
            return Err(DownloadError::Cancelled);
        }
        let n = file.read(&mut buf).map_err(io_err(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        done += n as u64;
        progress(Progress {
            stage: Stage::Verify,
            done,
            total: Some(total),
        });
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Counts the compressed bytes read (shared, since tar owns the reader), for progress.
struct Counting<R> {
    inner: R,
    count: std::rc::Rc<std::cell::Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// Extract a `.tar.gz` into `target` (which must not exist) through a temp folder next to it,
/// renamed into place only after every entry was written.
///
/// Refused, with nothing written outside the temp folder: absolute paths, `..` components,
/// hard links whose target is not a plain relative path inside the archive, symlinks whose
/// target is absolute or contains `..` (stricter than "points outside", and enough: a chain
/// of such links can never leave the folder), and device/fifo entries.
pub fn extract_tar_gz(
    archive: &Path,
    target: &Path,
    progress: &mut dyn FnMut(Progress),
    cancel: &AtomicBool,
) -> Result<(), DownloadError> {
    if target.exists() {
        return Err(DownloadError::TargetExists(target.to_path_buf()));
    }
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "dataset".into());
    // Dropping `staging` on any error removes everything extracted so far.
    let staging = StagedDir::new(target, &format!(".{name}.extract-"))?;

    let file = File::open(archive).map_err(io_err(archive))?;
    let total = file.metadata().map_err(io_err(archive))?.len();
    let count = std::rc::Rc::new(std::cell::Cell::new(0));
    let counting = Counting {
        inner: io::BufReader::new(file),
        count: count.clone(),
    };
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(counting));
    let bad = |reason: io::Error| DownloadError::BadArchive {
        archive: archive.to_path_buf(),
        reason: reason.to_string(),
    };
    for entry in tar.entries().map_err(bad)? {
        if cancel.load(Ordering::Relaxed) {
            return Err(DownloadError::Cancelled);
        }
        let mut entry = entry.map_err(bad)?;
        extract_entry(&mut entry, archive, staging.path())?;
        progress(Progress {
            stage: Stage::Extract,
            done: count.get(),
            total: Some(total),
        });
    }
    progress(Progress {
        stage: Stage::Extract,
        done: total,
        total: Some(total),
    });
    Ok(staging.commit()?)
}

/// Write one entry below `root` after checking that it stays there.
fn extract_entry<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    archive: &Path,
    root: &Path,
) -> Result<(), DownloadError> {
    let raw_path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
    let unsafe_entry = |reason: &str| DownloadError::UnsafeEntry {
        archive: archive.to_path_buf(),
        entry: raw_path.clone(),
        reason: reason.to_string(),
    };
    let path = entry.path().map_err(|e| unsafe_entry(&e.to_string()))?;
    let Some(rel) = safe_relative(&path).map_err(unsafe_entry)? else {
        return Ok(()); // "." or "./": the root itself
    };
    let dest = root.join(&rel);
    let kind = entry.header().entry_type();
    let make_parent = |dest: &Path| match dest.parent() {
        Some(p) => fs::create_dir_all(p).map_err(io_err(p)),
        None => Ok(()),
    };
    match kind {
        tar::EntryType::Directory => fs::create_dir_all(&dest).map_err(io_err(&dest))?,
        tar::EntryType::Regular | tar::EntryType::Continuous => {
            make_parent(&dest)?;
            let mut out = File::create(&dest).map_err(io_err(&dest))?;
            io::copy(entry, &mut out).map_err(|e| DownloadError::BadArchive {
                archive: archive.to_path_buf(),
                reason: format!("{raw_path}: {e}"),
            })?;
        }
        tar::EntryType::Symlink => {
            let link = entry
                .link_name()
                .map_err(|e| unsafe_entry(&e.to_string()))?
                .ok_or_else(|| unsafe_entry("symlink without a target"))?
                .into_owned();
            if let Err(reason) = check_symlink_target(&link) {
                return Err(unsafe_entry(&format!(
                    "symlink to `{}` {reason}",
                    link.display()
                )));
            }
            make_parent(&dest)?;
            make_symlink(&link, &dest).map_err(io_err(&dest))?;
        }
        tar::EntryType::Link => {
            let link = entry
                .link_name()
                .map_err(|e| unsafe_entry(&e.to_string()))?
                .ok_or_else(|| unsafe_entry("hard link without a target"))?
                .into_owned();
            let Ok(Some(link_rel)) = safe_relative(&link) else {
                return Err(unsafe_entry(&format!(
                    "hard link to `{}` points outside the archive",
                    link.display()
                )));
            };
            make_parent(&dest)?;
            let source = root.join(link_rel);
            fs::hard_link(&source, &dest).map_err(io_err(&source))?;
        }
        // Extension headers are folded into the next entry by `tar`; a global one has nothing
        // to extract.
        tar::EntryType::XGlobalHeader
        | tar::EntryType::XHeader
        | tar::EntryType::GNULongName
        | tar::EntryType::GNULongLink => {}
        other => {
            return Err(unsafe_entry(&format!(
                "unsupported entry type {other:?} (only files, folders and links)"
            )));
        }
    }
    Ok(())
}

/// The entry path as a relative path of plain components (`None` for the root itself), or why
/// it is refused.
fn safe_relative(path: &Path) -> Result<Option<PathBuf>, &'static str> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err("path has a `..` component"),
            Component::RootDir | Component::Prefix(_) => return Err("path is absolute"),
        }
    }
    Ok((!out.as_os_str().is_empty()).then_some(out))
}

/// A symlink target is allowed only if it is relative and free of `..`: it then resolves
/// below the link's own folder, and so does any chain of such links.
fn check_symlink_target(link: &Path) -> Result<(), &'static str> {
    for c in link.components() {
        match c {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir => return Err("uses `..` and could leave the folder"),
            Component::RootDir | Component::Prefix(_) => return Err("is absolute"),
        }
    }
    if link.as_os_str().is_empty() {
        return Err("is empty");
    }
    Ok(())
}

#[cfg(unix)]
fn make_symlink(target: &Path, link: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
fn make_symlink(_target: &Path, _link: &Path) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "symlinks in archives are only supported on Unix",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;
    use std::net::{TcpListener, TcpStream};
    use std::sync::{Arc, Mutex};

    /// What the test server did for one request.
    #[derive(Clone, Debug)]
    struct Seen {
        path: String,
        range: Option<String>,
        status: u16,
    }

    #[derive(Clone, Default)]
    struct Behaviour {
        /// Drop the connection after this many body bytes, for this many responses.
        drop_after: usize,
        drops: usize,
        /// Answer 200 with the whole body even when asked for a range.
        ignore_range: bool,
    }

    /// A one-file HTTP/1.1 server on 127.0.0.1 with Range support; it can cut a response
    /// short to simulate a dropped connection. Lives until the test process exits.
    struct Server {
        base: String,
        seen: Arc<Mutex<Vec<Seen>>>,
    }

    impl Server {
        fn start(name: &str, body: Vec<u8>, behaviour: Behaviour) -> Server {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let base = format!("http://{}/", listener.local_addr().unwrap());
            let seen = Arc::new(Mutex::new(Vec::new()));
            let (name, log) = (format!("/{name}"), seen.clone());
            std::thread::spawn(move || {
                let mut behaviour = behaviour;
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { continue };
                    let _ = serve(stream, &name, &body, &mut behaviour, &log);
                }
            });
            Server { base, seen }
        }

        fn seen(&self) -> Vec<Seen> {
            self.seen.lock().unwrap().clone()
        }
    }

    fn serve(
        mut stream: TcpStream,
        name: &str,
        body: &[u8],
        behaviour: &mut Behaviour,
        log: &Mutex<Vec<Seen>>,
    ) -> io::Result<()> {
        let mut reader = io::BufReader::new(stream.try_clone()?);
        let mut request_line = String::new();
        reader.read_line(&mut request_line)?;
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("")
            .to_string();
        let mut range = None;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("range")
            {
                range = Some(v.trim().to_string());
            }
        }
        let len = body.len();
        let start = range
            .as_deref()
            .and_then(|r| r.strip_prefix("bytes="))
            .and_then(|r| r.strip_suffix('-'))
            .and_then(|s| s.parse::<usize>().ok())
            .filter(|_| !behaviour.ignore_range)
            .unwrap_or(0);
        let (status, head, payload): (u16, String, &[u8]) = if path != name {
            (404, "Content-Length: 0\r\n".into(), &[])
        } else if start >= len && start > 0 {
            (
                416,
                format!("Content-Range: bytes */{len}\r\nContent-Length: 0\r\n"),
                &[],
            )
        } else if start > 0 {
            let head = format!(
                "Content-Range: bytes {start}-{}/{len}\r\nContent-Length: {}\r\n",
                len - 1,
                len - start
            );
            (206, head, &body[start..])
        } else {
            (200, format!("Content-Length: {len}\r\n"), body)
        };
        log.lock().unwrap().push(Seen {
            path,
            range,
            status,
        });
        let reason = match status {
            200 => "OK",
            206 => "Partial Content",
            404 => "Not Found",
            _ => "Range Not Satisfiable",
        };
        write!(
            stream,
            "HTTP/1.1 {status} {reason}\r\n{head}Content-Type: application/gzip\r\nConnection: close\r\n\r\n"
        )?;
        if behaviour.drops > 0 && payload.len() > behaviour.drop_after {
            behaviour.drops -= 1;
            stream.write_all(&payload[..behaviour.drop_after])?;
            stream.flush()?;
            // Dropping the stream closes the connection mid-body.
            return Ok(());
        }
        stream.write_all(payload)?;
        stream.flush()
    }

    /// A small dataset-like .tar.gz, big enough to be interrupted part way.
    fn archive_bytes() -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        let mut add = |path: &str, data: &[u8]| {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            builder.append_data(&mut h, path, data).unwrap();
        };
        // Pseudo-random bytes so compression cannot shrink the archive below a few hundred KB.
        let mut state = 0x1234_5678u32;
        let noise: Vec<u8> = (0..300_000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state as u8
            })
            .collect();
        add("./yes/abc_nohash_0.wav", &noise);
        add("./no/abc_nohash_0.wav", b"tiny");
        add("./testing_list.txt", b"no/abc_nohash_0.wav\n");
        let mut dir = tar::Header::new_gnu();
        dir.set_entry_type(tar::EntryType::Directory);
        dir.set_mode(0o755);
        dir.set_size(0);
        builder
            .append_data(&mut dir, "_background_noise_/", io::empty())
            .unwrap();
        let mut link = tar::Header::new_gnu();
        link.set_entry_type(tar::EntryType::Symlink);
        link.set_size(0);
        builder
            .append_link(&mut link, "latest.wav", "yes/abc_nohash_0.wav")
            .unwrap();
        builder.into_inner().unwrap().finish().unwrap()
    }

    fn spec(server: &Server, body: &[u8]) -> ArchiveSpec {
        ArchiveSpec {
            url: format!("{}data.tar.gz", server.base),
            file_name: "data.tar.gz".into(),
            dir_name: "data".into(),
            sha256: hex::encode(Sha256::digest(body)),
        }
    }

    fn quick(retries: u32) -> DownloadOptions {
        DownloadOptions {
            retries,
            ..DownloadOptions::default()
        }
    }

    fn no_cancel() -> AtomicBool {
        AtomicBool::new(false)
    }

    #[test]
    fn small_archive_downloads_verifies_and_extracts() {
        let body = archive_bytes();
        let server = Server::start("data.tar.gz", body.clone(), Behaviour::default());
        let dest = tempfile::tempdir().unwrap();
        let mut reports = Vec::new();
        let out = fetch_archive(
            &spec(&server, &body),
            dest.path(),
            &quick(0),
            &mut |p| reports.push(p),
            &no_cancel(),
        )
        .unwrap();
        assert_eq!(out, dest.path().join("data"));
        assert_eq!(fs::read(out.join("no/abc_nohash_0.wav")).unwrap(), b"tiny");
        assert_eq!(
            fs::read(out.join("yes/abc_nohash_0.wav")).unwrap().len(),
            300_000
        );
        assert!(out.join("_background_noise_").is_dir());
        assert_eq!(
            fs::read_link(out.join("latest.wav")).unwrap(),
            Path::new("yes/abc_nohash_0.wav")
        );
        assert_eq!(fs::read(dest.path().join("data.tar.gz")).unwrap(), body);
        assert!(!dest.path().join("data.tar.gz.part").exists());

        let last = |stage| reports.iter().rev().find(|p| p.stage == stage).copied();
        let total = Some(body.len() as u64);
        assert_eq!(last(Stage::Download).unwrap().done, body.len() as u64);
        assert_eq!(last(Stage::Download).unwrap().total, total);
        assert_eq!(last(Stage::Verify).unwrap().done, body.len() as u64);
        assert_eq!(last(Stage::Extract).unwrap().done, body.len() as u64);

        // Nothing left over next to the dataset but the archive.
        let mut names: Vec<String> = fs::read_dir(dest.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["data", "data.tar.gz"]);

        assert_eq!(server.seen()[0].path, "/data.tar.gz");
        // A second run finds the dataset and does not touch the network.
        let requests = server.seen().len();
        fetch_archive(
            &spec(&server, &body),
            dest.path(),
            &quick(0),
            &mut |_| {},
            &no_cancel(),
        )
        .unwrap();
        assert_eq!(server.seen().len(), requests);
    }

    #[test]
    fn checksum_mismatch_is_refused_and_the_file_set_aside() {
        let body = archive_bytes();
        let server = Server::start(Archive::V1.file_name(), body.clone(), Behaviour::default());
        let dest = tempfile::tempdir().unwrap();
        // The real V1 archive's hash cannot match our small archive.
        let spec = Archive::V1.spec(&server.base);
        let err =
            fetch_archive(&spec, dest.path(), &quick(0), &mut |_| {}, &no_cancel()).unwrap_err();
        let msg = err.to_string();
        let actual = hex::encode(Sha256::digest(&body));
        assert!(
            msg.contains(Archive::V1.sha256()) && msg.contains(&actual),
            "{msg}"
        );
        let corrupt = dest.path().join("speech_commands_v0.01.tar.gz.corrupt");
        assert!(matches!(&err, DownloadError::ChecksumMismatch { path, .. } if *path == corrupt));
        assert!(corrupt.is_file());
        assert!(
            !dest
                .path()
                .join("speech_commands_v0.01.tar.gz.part")
                .exists()
        );
        assert!(!dest.path().join("speech_commands_v0.01.tar.gz").exists());
        assert!(!dest.path().join("speech_commands_v0.01").exists());

        // A rerun starts over (no Range header), it does not resume the bad bytes.
        let _ = fetch_archive(&spec, dest.path(), &quick(0), &mut |_| {}, &no_cancel());
        let seen = server.seen();
        assert_eq!(seen.len(), 2);
        assert!(seen.iter().all(|s| s.range.is_none()), "{seen:?}");
    }

    #[test]
    fn interrupted_download_resumes_with_a_range_request() {
        let body = archive_bytes();
        let behaviour = Behaviour {
            drop_after: 100_000,
            drops: 1,
            ..Behaviour::default()
        };
        let server = Server::start("data.tar.gz", body.clone(), behaviour);
        let dest = tempfile::tempdir().unwrap();
        let spec = spec(&server, &body);

        // No retries: the first call stops with the bytes so far kept in .part.
        let err =
            fetch_archive(&spec, dest.path(), &quick(0), &mut |_| {}, &no_cancel()).unwrap_err();
        assert!(matches!(err, DownloadError::Interrupted { .. }), "{err}");
        assert!(err.to_string().contains("resume"), "{err}");
        let part = dest.path().join("data.tar.gz.part");
        let kept = fs::metadata(&part).unwrap().len();
        assert!(kept > 0 && kept <= 100_000, "kept {kept}");
        assert_eq!(fs::read(&part).unwrap(), body[..kept as usize]);

        // The second call asks for the rest and ends with a verified, extracted archive.
        let out = fetch_archive(&spec, dest.path(), &quick(0), &mut |_| {}, &no_cancel()).unwrap();
        let seen = server.seen();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].range, None);
        assert_eq!(
            seen[1].range.as_deref(),
            Some(format!("bytes={kept}-").as_str())
        );
        assert_eq!(seen[1].status, 206);
        assert_eq!(fs::read(dest.path().join("data.tar.gz")).unwrap(), body);
        assert!(out.join("testing_list.txt").is_file());
    }

    #[test]
    fn retries_resume_within_one_call() {
        let body = archive_bytes();
        let behaviour = Behaviour {
            drop_after: 50_000,
            drops: 2,
            ..Behaviour::default()
        };
        let server = Server::start("data.tar.gz", body.clone(), behaviour);
        let dest = tempfile::tempdir().unwrap();
        fetch_archive(
            &spec(&server, &body),
            dest.path(),
            &quick(3),
            &mut |_| {},
            &no_cancel(),
        )
        .unwrap();
        let ranges: Vec<Option<String>> = server.seen().into_iter().map(|s| s.range).collect();
        assert_eq!(ranges.len(), 3);
        assert!(ranges[0].is_none() && ranges[1].is_some() && ranges[2].is_some());
    }

    #[test]
    fn a_server_ignoring_range_restarts_cleanly() {
        let body = archive_bytes();
        let behaviour = Behaviour {
            ignore_range: true,
            ..Behaviour::default()
        };
        let server = Server::start("data.tar.gz", body.clone(), behaviour);
        let dest = tempfile::tempdir().unwrap();
        // Stale bytes from some other file: appending to them would corrupt the archive.
        fs::write(dest.path().join("data.tar.gz.part"), vec![0xAA; 5000]).unwrap();
        fetch_archive(
            &spec(&server, &body),
            dest.path(),
            &quick(0),
            &mut |_| {},
            &no_cancel(),
        )
        .unwrap();
        let seen = server.seen();
        assert_eq!(
            (seen[0].range.as_deref(), seen[0].status),
            (Some("bytes=5000-"), 200)
        );
        assert_eq!(fs::read(dest.path().join("data.tar.gz")).unwrap(), body);
    }

    #[test]
    fn a_complete_part_file_gets_416_and_is_verified() {
        let body = archive_bytes();
        let server = Server::start("data.tar.gz", body.clone(), Behaviour::default());
        let dest = tempfile::tempdir().unwrap();
        fs::write(dest.path().join("data.tar.gz.part"), &body).unwrap();
        fetch_archive(
            &spec(&server, &body),
            dest.path(),
            &quick(0),
            &mut |_| {},
            &no_cancel(),
        )
        .unwrap();
        assert_eq!(server.seen()[0].status, 416);
        assert!(dest.path().join("data/testing_list.txt").is_file());
    }

    #[test]
    fn http_errors_and_cancellation_are_reported() {
        let body = archive_bytes();
        let server = Server::start("other.tar.gz", body.clone(), Behaviour::default());
        let dest = tempfile::tempdir().unwrap();
        let err = fetch_archive(
            &spec(&server, &body),
            dest.path(),
            &quick(0),
            &mut |_| {},
            &no_cancel(),
        )
        .unwrap_err();
        assert!(
            matches!(err, DownloadError::Http { status: 404, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("data.tar.gz"), "{err}");

        // Cancelling from the progress callback stops the download and keeps the .part.
        let server = Server::start("data.tar.gz", body.clone(), Behaviour::default());
        let cancel = AtomicBool::new(false);
        let err = fetch_archive(
            &spec(&server, &body),
            dest.path(),
            &quick(0),
            &mut |p| {
                if p.done > 0 {
                    cancel.store(true, Ordering::Relaxed);
                }
            },
            &cancel,
        )
        .unwrap_err();
        assert!(matches!(err, DownloadError::Cancelled), "{err}");
        assert!(dest.path().join("data.tar.gz.part").is_file());
        assert!(!dest.path().join("data").exists());
    }

    /// An archive with one entry whose raw header is set by `edit` (bypassing `tar`'s own
    /// path checks, which would refuse to build it).
    fn evil_archive(dir: &Path, edit: impl FnOnce(&mut tar::Header)) -> PathBuf {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        let mut ok = tar::Header::new_gnu();
        ok.set_size(2);
        ok.set_mode(0o644);
        builder
            .append_data(&mut ok, "fine.txt", &b"ok"[..])
            .unwrap();
        let mut h = tar::Header::new_old();
        h.set_size(4);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        edit(&mut h);
        h.set_cksum();
        let size = h.size().unwrap() as usize;
        builder.append(&h, &b"evil"[..size]).unwrap();
        let bytes = builder.into_inner().unwrap().finish().unwrap();
        let path = dir.join("evil.tar.gz");
        fs::write(&path, bytes).unwrap();
        path
    }

    fn set_name(h: &mut tar::Header, name: &str) {
        let old = h.as_old_mut();
        old.name = [0; 100];
        old.name[..name.len()].copy_from_slice(name.as_bytes());
    }

    fn set_link(h: &mut tar::Header, kind: tar::EntryType, target: &str) {
        h.set_entry_type(kind);
        h.set_size(0);
        let old = h.as_old_mut();
        old.linkname = [0; 100];
        old.linkname[..target.len()].copy_from_slice(target.as_bytes());
    }

    #[test]
    fn entries_escaping_the_target_are_refused_with_nothing_written_outside() {
        let outside = tempfile::tempdir().unwrap();
        let work = outside.path().join("work");
        fs::create_dir(&work).unwrap();
        let absolute = outside.path().join("abs_evil");
        type Edit = Box<dyn FnOnce(&mut tar::Header)>;
        let cases: Vec<(&str, Edit)> = vec![
            ("parent", Box::new(|h| set_name(h, "../evil"))),
            ("nested parent", Box::new(|h| set_name(h, "a/../../evil"))),
            ("absolute", {
                let abs = absolute.to_string_lossy().into_owned();
                Box::new(move |h| set_name(h, &abs))
            }),
            (
                "symlink out",
                Box::new(|h| {
                    set_name(h, "link");
                    set_link(h, tar::EntryType::Symlink, "../../evil");
                }),
            ),
            (
                "absolute symlink",
                Box::new(|h| {
                    set_name(h, "link");
                    set_link(h, tar::EntryType::Symlink, "/etc");
                }),
            ),
            (
                "hard link out",
                Box::new(|h| {
                    set_name(h, "hard");
                    set_link(h, tar::EntryType::Link, "/etc/passwd");
                }),
            ),
            (
                "hard link up",
                Box::new(|h| {
                    set_name(h, "hard");
                    set_link(h, tar::EntryType::Link, "../secret");
                }),
            ),
            (
                "device",
                Box::new(|h| {
                    set_name(h, "dev");
                    h.set_entry_type(tar::EntryType::Char);
                    h.set_size(0);
                }),
            ),
        ];
        for (what, edit) in cases {
            let archive = evil_archive(&work, edit);
            let target = work.join("dataset");
            let err = extract_tar_gz(&archive, &target, &mut |_| {}, &no_cancel()).unwrap_err();
            assert!(
                matches!(err, DownloadError::UnsafeEntry { .. }),
                "{what}: {err}"
            );
            assert!(!target.exists(), "{what}: no half dataset");
            assert!(!outside.path().join("evil").exists(), "{what}");
            assert!(!absolute.exists(), "{what}");
            // Only the archive is left in the work folder: the staging folder is gone.
            let left: Vec<_> = fs::read_dir(&work).unwrap().collect();
            assert_eq!(left.len(), 1, "{what}: {left:?}");
            fs::remove_file(&archive).unwrap();
        }
    }

    #[test]
    fn extraction_refuses_an_existing_target_and_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("x.tar.gz");
        fs::write(&garbage, b"definitely not gzip").unwrap();
        let err = extract_tar_gz(&garbage, &dir.path().join("out"), &mut |_| {}, &no_cancel())
            .unwrap_err();
        assert!(matches!(err, DownloadError::BadArchive { .. }), "{err}");
        assert!(!dir.path().join("out").exists());
        fs::create_dir(dir.path().join("out")).unwrap();
        let err = extract_tar_gz(&garbage, &dir.path().join("out"), &mut |_| {}, &no_cancel())
            .unwrap_err();
        assert!(matches!(err, DownloadError::TargetExists(_)), "{err}");
    }

    #[test]
    fn content_range_parsing() {
        assert_eq!(
            parse_content_range(Some("bytes 10-99/100")),
            Some((10, Some(100)))
        );
        assert_eq!(parse_content_range(Some("bytes 10-99/*")), Some((10, None)));
        assert_eq!(parse_content_range(Some("items 1-2/3")), None);
        assert_eq!(parse_content_range(None), None);
        assert_eq!(
            Archive::V2.url("https://download.tensorflow.org/data"),
            "https://download.tensorflow.org/data/speech_commands_v0.02.tar.gz"
        );
    }
}
