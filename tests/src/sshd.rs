//! A throwaway SSH "board" for the deploy tests: `/usr/sbin/sshd -D -e -f <cfg>` on a free
//! 127.0.0.1 port, with fresh ed25519 host and client keys in a temp dir, public-key login as
//! the current user, SFTP enabled. Stopped by PID (with its session processes) on drop, so a
//! failing test never leaves a daemon behind.
//!
//! The "remote" work dir is a directory inside the same temp dir (with a space in its name,
//! to exercise quoting), so tests can look at what arrived directly on the file system.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bifsmn_deploy::{Auth, BoardProfile};

/// Where sshd lives on Debian; it must be started by its absolute path (it re-executes itself).
pub const SSHD: &str = "/usr/sbin/sshd";

/// Whether this machine can run the rig (sshd and ssh-keygen installed).
pub fn available() -> bool {
    Path::new(SSHD).is_file()
        && Command::new("ssh-keygen")
            .arg("-?")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
}

/// Generate an ed25519 key pair at `path` (+ `.pub`); returns the public key line.
pub fn keygen(path: &Path) -> anyhow::Result<String> {
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "bifsmn-test", "-f"])
        .arg(path)
        .status()
        .context("run ssh-keygen")?;
    if !st.success() {
        bail!("ssh-keygen failed for {}", path.display());
    }
    let mut pub_path = path.as_os_str().to_owned();
    pub_path.push(".pub");
    Ok(std::fs::read_to_string(&pub_path)?.trim().to_string())
}

/// `ssh-keygen -lf`'s SHA-256 fingerprint of a public key file (the reference the deploy code's
/// own fingerprints are compared with).
pub fn openssh_fingerprint(pub_key: &Path) -> anyhow::Result<String> {
    let out = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(pub_key)
        .output()?;
    let text = String::from_utf8(out.stdout)?;
    text.split_whitespace()
        .nth(1)
        .map(str::to_string)
        .context("ssh-keygen -lf printed no fingerprint")
}

/// The user the tests log in as (sshd runs as us, so only we can log in).
pub fn current_user() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| {
            let out = Command::new("id").arg("-un").output().expect("id -un");
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        })
}

/// A free TCP port on 127.0.0.1 (bound and released; the caller binds it again right away).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// A running throwaway sshd.
pub struct TestBoard {
    pub dir: tempfile::TempDir,
    pub port: u16,
    /// Client private key authorised on this board.
    pub client_key: PathBuf,
    /// Host public key file, and a known_hosts file that trusts it.
    pub host_key_pub: PathBuf,
    pub known_hosts: PathBuf,
    /// The remote work dir (absolute; contains a space).
    pub workdir: PathBuf,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl TestBoard {
    /// Start a board; `None` (with a note printed) if sshd is not installed.
    pub fn start() -> anyhow::Result<Option<TestBoard>> {
        if !available() {
            println!("note: {SSHD} or ssh-keygen not installed; SSH deploy test skipped");
            return Ok(None);
        }
        // sshd refuses to start without its privilege separation directory. Only root can
        // create it; if that fails the launch below reports sshd's own complaint.
        if let Err(e) = std::fs::create_dir_all("/run/sshd") {
            println!("note: cannot create /run/sshd ({e}); sshd may refuse to start");
        }
        let dir = tempfile::Builder::new().prefix("bifsmn-sshd-").tempdir()?;
        let d = dir.path();
        keygen(&d.join("hostkey"))?;
        let client_pub = keygen(&d.join("clientkey"))?;
        std::fs::write(d.join("authorized_keys"), format!("{client_pub}\n"))?;
        let workdir = d.join("remote home/bifsmn work");
        let mut board = TestBoard {
            port: 0,
            client_key: d.join("clientkey"),
            host_key_pub: d.join("hostkey.pub"),
            known_hosts: d.join("known_hosts"),
            workdir,
            config: d.join("sshd_config"),
            log: d.join("sshd.log"),
            child: None,
            dir,
        };
        let mut last = None;
        for _ in 0..5 {
            board.port = free_port();
            match board.launch() {
                Ok(()) => {
                    board.write_known_hosts()?;
                    return Ok(Some(board));
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("tried at least once"))
    }

    fn write_known_hosts(&self) -> anyhow::Result<()> {
        let host_pub = std::fs::read_to_string(&self.host_key_pub)?;
        let mut fields = host_pub.split_whitespace();
        let (kt, key) = (fields.next().unwrap_or(""), fields.next().unwrap_or(""));
        std::fs::write(
            &self.known_hosts,
            format!("[127.0.0.1]:{} {kt} {key}\n", self.port),
        )?;
        Ok(())
    }

    fn launch(&mut self) -> anyhow::Result<()> {
        let d = self.dir.path();
        let cfg = format!(
            "Port {port}\n\
             ListenAddress 127.0.0.1\n\
             HostKey {d}/hostkey\n\
             PidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\n\
             PubkeyAuthentication yes\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             PermitRootLogin prohibit-password\n\
             UsePAM no\n\
             StrictModes no\n\
             LogLevel VERBOSE\n\
             Subsystem sftp internal-sftp\n",
            port = self.port,
            d = d.display()
        );
        std::fs::write(&self.config, cfg)?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let mut child = Command::new(SSHD)
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("start sshd")?;
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(st) = child.try_wait()? {
                bail!("sshd exited with {st} at start; log:\n{}", self.log_text());
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "sshd did not accept on port {} within 15 s; log:\n{}",
                    self.port,
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// sshd's log so far (for assertion messages).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The daemon's PID, if running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// A profile for this board: key login as the current user, the rig's known_hosts, the
    /// work dir inside the temp dir, no execution prefix.
    pub fn profile(&self, name: &str) -> BoardProfile {
        let mut p = BoardProfile::new(name, "127.0.0.1");
        p.port = Some(self.port);
        p.user = Some(current_user());
        p.auth = Auth::Key {
            path: self.client_key.clone(),
        };
        p.workdir = self.workdir.display().to_string();
        p.known_hosts = Some(self.known_hosts.clone());
        p.connect_timeout_secs = 10;
        p.command_timeout_secs = 300;
        p
    }

    /// Kill the daemon and every process it started (sessions, sftp, running commands), as a
    /// network failure or a board losing power would. Safe to call twice.
    pub fn kill(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // Collect the session processes first: once the daemon is gone they are reparented
        // and can no longer be found through it.
        let pids = descendants(child.id());
        let _ = child.kill();
        if !pids.is_empty() {
            let _ = Command::new("kill")
                .arg("-KILL")
                .args(pids.iter().map(u32::to_string))
                .stderr(Stdio::null())
                .status();
        }
        let _ = child.wait();
    }

    /// Start the daemon again on the same port with the same keys.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.launch() {
                Ok(()) => return Ok(()),
                // The old socket may linger for a moment after the kill.
                Err(e) if Instant::now() > deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }
}

impl Drop for TestBoard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// All descendants of `pid` (from /proc), children before grandchildren.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut parent_of = vec![];
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may contain spaces.
            if let Ok(stat) = std::fs::read_to_string(e.path().join("stat"))
                && let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r)
                && let Some(ppid) = rest
                    .split_whitespace()
                    .nth(1)
                    .and_then(|s| s.parse::<u32>().ok())
            {
                parent_of.push((p, ppid));
            }
        }
    }
    let mut out = vec![];
    let mut frontier = vec![pid];
    while let Some(q) = frontier.pop() {
        for &(p, pp) in &parent_of {
            if pp == q && !out.contains(&p) {
                out.push(p);
                frontier.push(p);
            }
        }
    }
    out
}
