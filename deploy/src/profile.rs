//! Board profiles: how to reach a board and where to put things on it, saved as TOML in the
//! user's config dir (`boards.toml`). Secrets (key passphrases, passwords) are never part of a
//! profile: they are asked for at connect time and live only in [`super::Credentials`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::DeployError;
use super::ssh_config::{SshConfig, expand_tokens};

/// Default remote work dir, relative to the login user's home.
pub const DEFAULT_WORKDIR: &str = "bifsmn-workbench";
/// Default TCP connect + SSH handshake + authentication timeout.
pub const DEFAULT_CONNECT_TIMEOUT_SECS: u64 = 10;
/// Default limit for each remote command, including a whole runner `bench`.
pub const DEFAULT_COMMAND_TIMEOUT_SECS: u64 = 600;

/// How to authenticate.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "kebab-case")]
pub enum Auth {
    /// Keys held by the running ssh-agent (`$SSH_AUTH_SOCK`).
    #[default]
    Agent,
    /// A private key file; its passphrase (if it has one) is asked for, never stored.
    Key { path: PathBuf },
    /// A password, asked for at connect time, never stored.
    Password,
}

impl Auth {
    /// Short name for messages and tables.
    pub fn describe(&self) -> String {
        match self {
            Auth::Agent => "ssh-agent".into(),
            Auth::Key { path } => format!("key {}", path.display()),
            Auth::Password => "password".into(),
        }
    }
}

/// One board. `host` may be an alias from `~/.ssh/config`; unset `port`, `user` and (with
/// [`Auth::Agent`]) keys are then taken from there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoardProfile {
    /// The board's name in the workbench (the key in `boards.toml`).
    #[serde(skip)]
    pub name: String,
    pub host: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default)]
    pub auth: Auth,
    /// Remote work dir; relative paths (and `~/...`) are relative to the login home.
    #[serde(default = "default_workdir")]
    pub workdir: String,
    /// Words put in front of every runner invocation, e.g. `qemu-aarch64 -cpu cortex-a53`.
    /// Only for test rigs that emulate a board; real boards leave it empty. Split on
    /// whitespace and each word shell-quoted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec_prefix: Option<String>,
    /// Which runner to upload (`aarch64`, `x86_64`) instead of the board's `uname -m`. Only
    /// needed when the execution prefix emulates another CPU and is not a `qemu-<arch>`
    /// command (which is recognised).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner_arch: Option<String>,
    /// `known_hosts` file to check the host key against; default `~/.ssh/known_hosts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_hosts: Option<PathBuf>,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_secs: u64,
    #[serde(default = "default_command_timeout")]
    pub command_timeout_secs: u64,
}

fn default_workdir() -> String {
    DEFAULT_WORKDIR.into()
}
fn default_connect_timeout() -> u64 {
    DEFAULT_CONNECT_TIMEOUT_SECS
}
fn default_command_timeout() -> u64 {
    DEFAULT_COMMAND_TIMEOUT_SECS
}

impl BoardProfile {
    /// A profile with defaults for everything but the name and host.
    pub fn new(name: impl Into<String>, host: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            host: host.into(),
            port: None,
            user: None,
            auth: Auth::Agent,
            workdir: default_workdir(),
            exec_prefix: None,
            runner_arch: None,
            known_hosts: None,
            connect_timeout_secs: DEFAULT_CONNECT_TIMEOUT_SECS,
            command_timeout_secs: DEFAULT_COMMAND_TIMEOUT_SECS,
        }
    }

    /// Check the fields that would otherwise fail late or confusingly.
    pub fn validate(&self) -> Result<(), DeployError> {
        let bad = |problem: String| DeployError::InvalidProfile {
            name: self.name.clone(),
            problem,
        };
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(bad(
                "a board name uses only letters, digits, '-', '_' and '.'".into(),
            ));
        }
        if self.host.is_empty()
            || self.host.starts_with('-')
            || self.host.contains(char::is_whitespace)
        {
            return Err(bad(format!(
                "host {:?} is not a host name or address",
                self.host
            )));
        }
        if self.port == Some(0) {
            return Err(bad("port 0 is not a port".into()));
        }
        if let Some(u) = &self.user
            && (u.is_empty() || u.contains(char::is_whitespace))
        {
            return Err(bad(format!("user {u:?} is not a user name")));
        }
        if self.workdir.trim().is_empty() || self.workdir.contains('\0') {
            return Err(bad("the work dir must not be empty".into()));
        }
        if let Some(a) = &self.runner_arch
            && super::probe::Arch::parse(a).is_none()
        {
            return Err(bad(format!("runner arch {a:?}: use aarch64 or x86_64")));
        }
        if self.connect_timeout_secs == 0 || self.command_timeout_secs == 0 {
            return Err(bad("timeouts must be at least 1 second".into()));
        }
        Ok(())
    }

    /// The execution prefix split into words (empty if none).
    pub fn exec_prefix_words(&self) -> Vec<String> {
        self.exec_prefix
            .as_deref()
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_string)
            .collect()
    }

    /// The remote work dir as the shell and SFTP see it: `~/x` becomes `x` (both start in the
    /// login home, and `~` would not expand inside quotes), `~` becomes `.`.
    pub fn remote_workdir(&self) -> String {
        let w = self.workdir.trim();
        let w = match w {
            "~" | "~/" => ".",
            w => w.strip_prefix("~/").unwrap_or(w),
        };
        match w.trim_end_matches('/') {
            "" => "/".to_string(),
            w => w.to_string(),
        }
    }

    /// Merge in `~/.ssh/config` and defaults: everything needed to open a connection.
    pub fn resolve(&self, ssh: &SshConfig) -> Result<ConnectSpec, DeployError> {
        self.validate()?;
        let cfg = ssh.lookup(&self.host);
        let host = cfg.host_name.clone().unwrap_or_else(|| self.host.clone());
        let port = self.port.or(cfg.port).unwrap_or(22);
        let user = match self.user.clone().or(cfg.user.clone()) {
            Some(u) => u,
            None => std::env::var("USER").map_err(|_| DeployError::InvalidProfile {
                name: self.name.clone(),
                problem: "no user given and $USER is not set".into(),
            })?,
        };
        // An agent profile from an ssh alias with IdentityFile uses that key, like `ssh` does
        // (it would try the agent first; we keep one method per profile to keep errors clear).
        let auth = match (&self.auth, cfg.identity_files.first()) {
            (Auth::Agent, Some(id)) if ssh.has_alias(&self.host) => Auth::Key {
                path: expand_tokens(id, &host, port, &user),
            },
            (a, _) => a.clone(),
        };
        let known_hosts = match &self.known_hosts {
            Some(p) => p.clone(),
            None => {
                super::dirs::default_known_hosts().ok_or_else(|| DeployError::InvalidProfile {
                    name: self.name.clone(),
                    problem:
                        "cannot find the home directory for ~/.ssh/known_hosts; set known_hosts"
                            .into(),
                })?
            }
        };
        Ok(ConnectSpec {
            board: self.name.clone(),
            host,
            port,
            user,
            auth,
            known_hosts,
            connect_timeout: Duration::from_secs(self.connect_timeout_secs),
            command_timeout: Duration::from_secs(self.command_timeout_secs),
        })
    }
}

/// Everything needed to open an SSH connection to one board.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectSpec {
    /// Board name (for events and messages).
    pub board: String,
    /// Host name or address actually connected to.
    pub host: String,
    pub port: u16,
    pub user: String,
    pub auth: Auth,
    pub known_hosts: PathBuf,
    pub connect_timeout: Duration,
    pub command_timeout: Duration,
}

/// The saved board profiles.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BoardStore {
    /// The file they live in.
    pub path: PathBuf,
    boards: BTreeMap<String, BoardProfile>,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct BoardsFile {
    #[serde(default)]
    board: BTreeMap<String, BoardProfile>,
}

impl BoardStore {
    /// Load `path`; a missing file is an empty store.
    pub fn load(path: &Path) -> Result<Self, DeployError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self {
                    path: path.to_path_buf(),
                    boards: BTreeMap::new(),
                });
            }
            Err(e) => return Err(DeployError::local("read", path, e)),
        };
        let file: BoardsFile = toml::from_str(&text).map_err(|e| DeployError::Config {
            path: path.to_path_buf(),
            problem: e.to_string(),
        })?;
        let mut boards = file.board;
        for (name, b) in boards.iter_mut() {
            b.name = name.clone();
            b.validate().map_err(|e| DeployError::Config {
                path: path.to_path_buf(),
                problem: e.to_string(),
            })?;
        }
        Ok(Self {
            path: path.to_path_buf(),
            boards,
        })
    }

    /// Load `$BIFSMN_CONFIG_DIR/boards.toml` or `<user config dir>/bifsmn-workbench/boards.toml`.
    pub fn load_default() -> Result<Self, DeployError> {
        let path = super::dirs::boards_file().ok_or_else(|| DeployError::Config {
            path: "boards.toml".into(),
            problem: "cannot determine the user's config directory; set BIFSMN_CONFIG_DIR".into(),
        })?;
        Self::load(&path)
    }

    /// Write the store atomically (temp file, fsync, rename).
    pub fn save(&self) -> Result<(), DeployError> {
        let file = BoardsFile {
            board: self.boards.clone(),
        };
        let text = toml::to_string(&file).map_err(|e| DeployError::Config {
            path: self.path.clone(),
            problem: format!("cannot serialise: {e}"),
        })?;
        let text = format!(
            "# BiFSMN Workbench board profiles (`bifsmn boards ...`). No secrets are stored here.\n\n{text}"
        );
        bifsmn_kernels::atomic::write_atomic(&self.path, text.as_bytes())
            .map_err(|e| DeployError::local("write", &self.path, e))
    }

    /// All boards, sorted by name.
    pub fn boards(&self) -> impl Iterator<Item = &BoardProfile> {
        self.boards.values()
    }

    /// A saved board by name.
    pub fn get(&self, name: &str) -> Option<&BoardProfile> {
        self.boards.get(name)
    }

    /// A saved board, or else an `~/.ssh/config` alias of that name as a default profile.
    pub fn find(&self, name: &str, ssh: &SshConfig) -> Result<BoardProfile, DeployError> {
        if let Some(b) = self.get(name) {
            return Ok(b.clone());
        }
        if ssh.has_alias(name) {
            return Ok(BoardProfile::new(name, name));
        }
        Err(DeployError::UnknownBoard { name: name.into() })
    }

    /// Add or replace a board (validated). Returns the previous profile of that name.
    pub fn insert(&mut self, board: BoardProfile) -> Result<Option<BoardProfile>, DeployError> {
        board.validate()?;
        Ok(self.boards.insert(board.name.clone(), board))
    }

    /// Remove a board by name.
    pub fn remove(&mut self, name: &str) -> Option<BoardProfile> {
        self.boards.remove(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BoardProfile {
        let mut b = BoardProfile::new("pi3", "192.168.1.23");
        b.port = Some(2222);
        b.user = Some("pi".into());
        b.auth = Auth::Key {
            path: "/home/me/.ssh/id_ed25519".into(),
        };
        b.exec_prefix = Some("qemu-aarch64 -cpu cortex-a53".into());
        b
    }

    #[test]
    fn save_load_round_trip_and_no_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/boards.toml");
        let mut s = BoardStore::load(&path).unwrap();
        assert_eq!(s.boards().count(), 0);
        s.insert(sample()).unwrap();
        let mut b2 = BoardProfile::new("x86-box", "box.lan");
        b2.auth = Auth::Password;
        s.insert(b2.clone()).unwrap();
        s.save().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("[board.pi3]"), "{text}");
        assert!(text.contains("method = \"password\""), "{text}");
        let back = BoardStore::load(&path).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.get("x86-box").unwrap(), &b2);
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );
    }

    #[test]
    fn hand_written_file_with_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("boards.toml");
        std::fs::write(&path, "[board.a]\nhost = \"10.0.0.2\"\n").unwrap();
        let s = BoardStore::load(&path).unwrap();
        let a = s.get("a").unwrap();
        assert_eq!(a.name, "a");
        assert_eq!(a.auth, Auth::Agent);
        assert_eq!(a.workdir, DEFAULT_WORKDIR);
        assert_eq!(a.connect_timeout_secs, DEFAULT_CONNECT_TIMEOUT_SECS);
    }

    #[test]
    fn bad_files_name_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("boards.toml");
        std::fs::write(&path, "[board.a]\nhost = \"h\"\npasword = \"x\"\n").unwrap();
        let e = BoardStore::load(&path).unwrap_err().to_string();
        assert!(e.contains("boards.toml") && e.contains("pasword"), "{e}");
        std::fs::write(&path, "[board.a]\nhost = \"-oProxyCommand=x\"\n").unwrap();
        let e = BoardStore::load(&path).unwrap_err().to_string();
        assert!(e.contains("not a host name"), "{e}");
    }

    #[test]
    fn validation() {
        let mut b = sample();
        b.name = "has space".into();
        assert!(b.validate().is_err());
        let mut b = sample();
        b.port = Some(0);
        assert!(b.validate().is_err());
        let mut b = sample();
        b.runner_arch = Some("mips".into());
        assert!(b.validate().is_err());
        assert!(sample().validate().is_ok());
    }

    #[test]
    fn remote_workdir_forms() {
        let mut b = sample();
        for (given, want) in [
            ("bifsmn", "bifsmn"),
            ("~/bench dir/", "bench dir"),
            ("~", "."),
            ("/opt/bifsmn/", "/opt/bifsmn"),
            ("/", "/"),
        ] {
            b.workdir = given.into();
            assert_eq!(b.remote_workdir(), want, "{given}");
        }
    }

    #[test]
    fn resolve_through_ssh_config() {
        let ssh = SshConfig::parse(
            "Host pi\n HostName 10.1.2.3\n Port 2200\n User alarm\n IdentityFile /k/id_%h\n",
            None,
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = BoardStore::load(&dir.path().join("b.toml")).unwrap();
        let b = store.find("pi", &ssh).unwrap();
        let mut b2 = b.clone();
        b2.known_hosts = Some("/kh".into());
        let spec = b2.resolve(&ssh).unwrap();
        assert_eq!(spec.host, "10.1.2.3");
        assert_eq!(spec.port, 2200);
        assert_eq!(spec.user, "alarm");
        assert_eq!(
            spec.auth,
            Auth::Key {
                path: "/k/id_10.1.2.3".into()
            }
        );
        // Profile fields win over the ssh config.
        b2.port = Some(22);
        b2.user = Some("root".into());
        let spec = b2.resolve(&ssh).unwrap();
        assert_eq!((spec.port, spec.user.as_str()), (22, "root"));
        assert!(matches!(
            store.find("nope", &ssh),
            Err(DeployError::UnknownBoard { .. })
        ));
    }
}
