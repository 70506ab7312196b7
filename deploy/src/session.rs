//! Opening an SSH connection to a board: TCP connect with a timeout, SSH handshake with a
//! timeout, host key check against `known_hosts`, authentication.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;

use ssh2::{ErrorCode, MethodType, Session};

use super::error::{DeployError, KeyMismatch, UnknownHost};
use super::hostkey::{self, KnownHostsFile, Verdict};
use super::profile::{Auth, ConnectSpec};

/// libssh2's `LIBSSH2_ERROR_TIMEOUT`.
const LIBSSH2_ERROR_TIMEOUT: i32 = -9;

/// A secret typed by the user (password, key passphrase). Never printed by `Debug`, never
/// serialised, overwritten when dropped.
#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// The secret's text (only for handing it to libssh2).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        // Best effort: overwrite the bytes we own before the allocation is freed.
        // SAFETY: zero bytes are valid UTF-8.
        unsafe { self.0.as_bytes_mut() }.fill(0);
    }
}

/// Secrets for one connection, supplied by the CLI prompt or the GUI dialog. Never stored.
#[derive(Clone, Debug, Default)]
pub struct Credentials {
    /// Passphrase of the profile's key file, if it is encrypted.
    pub passphrase: Option<Secret>,
    /// Password for [`Auth::Password`] profiles.
    pub password: Option<Secret>,
}

/// What to do with a host key that `known_hosts` does not have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HostKeyPolicy {
    /// Refuse with [`DeployError::UnknownHostKey`] (the caller asks the user, then calls
    /// [`super::accept_host_key`] and retries).
    #[default]
    Ask,
    /// Record it and go on (the user said so up front: `--accept-new-host-key`).
    AcceptNew,
}

/// The board's host key as seen during the handshake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostKeyInfo {
    pub key_type: String,
    pub fingerprint: String,
    /// Whether it was just added to `known_hosts`.
    pub newly_accepted: bool,
}

/// An authenticated SSH session to one board.
pub struct Connection {
    pub session: Session,
    pub spec: ConnectSpec,
    pub host_key: HostKeyInfo,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("spec", &self.spec)
            .field("host_key", &self.host_key)
            .finish()
    }
}

fn is_timeout(e: &ssh2::Error) -> bool {
    e.code() == ErrorCode::Session(LIBSSH2_ERROR_TIMEOUT)
}

fn tcp_connect(spec: &ConnectSpec) -> Result<TcpStream, DeployError> {
    let addrs: Vec<SocketAddr> = (spec.host.as_str(), spec.port)
        .to_socket_addrs()
        .map_err(|e| DeployError::Resolve {
            host: spec.host.clone(),
            source: Arc::new(e),
        })?
        .collect();
    let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no addresses");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, spec.connect_timeout) {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(DeployError::Connect {
        host: spec.host.clone(),
        port: spec.port,
        timeout: spec.connect_timeout,
        source: Arc::new(last),
    })
}

/// Connect, handshake, check the host key and authenticate. Every step is bounded by
/// `spec.connect_timeout`; afterwards the session's blocking calls are bounded by
/// `spec.command_timeout`. `on_accept` is told when a new host key was recorded.
pub fn connect(
    spec: &ConnectSpec,
    credentials: &Credentials,
    policy: HostKeyPolicy,
    on_accept: &mut dyn FnMut(&HostKeyInfo),
) -> Result<Connection, DeployError> {
    let tcp = tcp_connect(spec)?;
    let mut session =
        Session::new().map_err(|e| DeployError::ssh(&spec.host, "create SSH session", e))?;
    session.set_tcp_stream(tcp);
    // Bounds every blocking libssh2 call, including a handshake with a peer that accepted the
    // TCP connection but never speaks SSH.
    session.set_timeout(millis(spec.connect_timeout));

    let known = KnownHostsFile::load(&spec.known_hosts)?;
    let types = known.types_for(&session, &spec.host, spec.port);
    if let Ok(supported) = session.supported_algs(MethodType::HostKey)
        && let Some(pref) = hostkey::algorithm_preference(&types, &supported)
    {
        // Best effort: an unsupported list only means libssh2's default order is used.
        let _ = session.method_pref(MethodType::HostKey, &pref);
    }

    session.handshake().map_err(|e| DeployError::Handshake {
        host: spec.host.clone(),
        port: spec.port,
        timeout: spec.connect_timeout,
        message: if is_timeout(&e) {
            "no SSH greeting before the timeout".into()
        } else {
            e.message().to_string()
        },
    })?;

    let host_key = check_host_key(&session, spec, &known, policy)?;
    if host_key.newly_accepted {
        on_accept(&host_key);
    }
    authenticate(&session, spec, credentials)?;
    session.set_timeout(millis(spec.command_timeout));
    Ok(Connection {
        session,
        spec: spec.clone(),
        host_key,
    })
}

fn millis(d: std::time::Duration) -> u32 {
    d.as_millis().clamp(1, u32::MAX as u128) as u32
}

fn check_host_key(
    session: &Session,
    spec: &ConnectSpec,
    known: &KnownHostsFile,
    policy: HostKeyPolicy,
) -> Result<HostKeyInfo, DeployError> {
    let (blob, _) = session
        .host_key()
        .ok_or_else(|| DeployError::ssh(&spec.host, "read the host key", "server sent none"))?;
    let blob = blob.to_vec();
    let key_type = hostkey::key_type(&blob).unwrap_or_else(|| "unknown".into());
    let fingerprint = hostkey::fingerprint(&blob);
    match known.check(session, &spec.host, spec.port, &blob) {
        Verdict::Match { .. } => Ok(HostKeyInfo {
            key_type,
            fingerprint,
            newly_accepted: false,
        }),
        Verdict::Mismatch {
            line,
            expected_fingerprint,
        } => Err(DeployError::HostKeyMismatch(Box::new(KeyMismatch {
            host: spec.host.clone(),
            port: spec.port,
            known_hosts: spec.known_hosts.clone(),
            line,
            expected: expected_fingerprint,
            key_type,
            presented: fingerprint,
        }))),
        Verdict::Revoked { line } => Err(DeployError::HostKeyRevoked {
            host: spec.host.clone(),
            port: spec.port,
            known_hosts: spec.known_hosts.clone(),
            line,
            fingerprint,
        }),
        Verdict::NotFound { other_types } => {
            let unknown = UnknownHost {
                host: spec.host.clone(),
                port: spec.port,
                key_type: key_type.clone(),
                fingerprint: fingerprint.clone(),
                key: blob,
                known_hosts: spec.known_hosts.clone(),
                other_known_types: other_types,
            };
            match policy {
                HostKeyPolicy::Ask => Err(DeployError::UnknownHostKey(Box::new(unknown))),
                HostKeyPolicy::AcceptNew => {
                    accept_host_key(&unknown)?;
                    Ok(HostKeyInfo {
                        key_type,
                        fingerprint,
                        newly_accepted: true,
                    })
                }
            }
        }
    }
}

/// Record a host key the user accepted (append it to its `known_hosts`).
pub fn accept_host_key(unknown: &UnknownHost) -> Result<(), DeployError> {
    hostkey::append(
        &unknown.known_hosts,
        &unknown.host,
        unknown.port,
        &unknown.key,
    )
}

/// Whether a private key file is protected by a passphrase (so the CLI knows to ask before
/// connecting). Understands OpenSSH's own format and the PEM formats.
pub fn key_needs_passphrase(path: &std::path::Path) -> Result<bool, DeployError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| DeployError::local("read key", path, e))?;
    if text.contains("-----BEGIN OPENSSH PRIVATE KEY-----") {
        let body: String = text
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<Vec<_>>()
            .concat();
        let bytes = super::base64::decode(body.trim()).ok_or_else(|| DeployError::LocalFile {
            action: "parse key",
            path: path.to_path_buf(),
            source: Arc::new(std::io::Error::other("bad base64 in OpenSSH private key")),
        })?;
        // "openssh-key-v1\0", then the cipher name as an SSH string: "none" if unencrypted.
        let rest = bytes.strip_prefix(b"openssh-key-v1\0").unwrap_or(&[]);
        return Ok(hostkey::key_type(rest).is_some_and(|c| c != "none"));
    }
    Ok(text.contains("ENCRYPTED"))
}

fn authenticate(
    session: &Session,
    spec: &ConnectSpec,
    creds: &Credentials,
) -> Result<(), DeployError> {
    let fail = |method: String, message: String| DeployError::Auth {
        host: spec.host.clone(),
        user: spec.user.clone(),
        method,
        message,
    };
    let describe = |e: &ssh2::Error| {
        if is_timeout(e) {
            "no answer before the timeout".to_string()
        } else {
            e.message().to_string()
        }
    };
    match &spec.auth {
        Auth::Agent => {
            if std::env::var_os("SSH_AUTH_SOCK").is_none() {
                return Err(fail(
                    "ssh-agent".into(),
                    "no agent is running ($SSH_AUTH_SOCK is not set); start one or use a key file"
                        .into(),
                ));
            }
            session
                .userauth_agent(&spec.user)
                .map_err(|e| fail("ssh-agent".into(), describe(&e)))?;
        }
        Auth::Key { path } => {
            let method = format!("key {}", path.display());
            if !path.is_file() {
                return Err(fail(method, "the key file does not exist".into()));
            }
            let mut pubkey = PathBuf::from(path);
            pubkey.as_mut_os_string().push(".pub");
            let pubkey = pubkey.is_file().then_some(pubkey);
            let passphrase = creds.passphrase.as_ref().map(Secret::expose);
            session
                .userauth_pubkey_file(&spec.user, pubkey.as_deref(), path, passphrase)
                .map_err(|e| {
                    let mut m = describe(&e);
                    if m.contains("Unable to extract public key") || m.contains("Wrong passphrase")
                    {
                        m.push_str(" (wrong or missing passphrase?)");
                    } else if m.contains("combination invalid") {
                        m.push_str(" (is the public key in the board's ~/.ssh/authorized_keys?)");
                    }
                    fail(method.clone(), m)
                })?;
        }
        Auth::Password => {
            let Some(pw) = &creds.password else {
                return Err(fail("password".into(), "no password was supplied".into()));
            };
            session
                .userauth_password(&spec.user, pw.expose())
                .map_err(|e| fail("password".into(), describe(&e)))?;
        }
    }
    if !session.authenticated() {
        return Err(fail(
            spec.auth.describe(),
            "the server did not accept it".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let c = Credentials {
            passphrase: Some(Secret::new("hunter2")),
            password: None,
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn passphrase_detection() {
        let dir = tempfile::tempdir().unwrap();
        let gen_key = |name: &str, pass: &str| {
            let p = dir.path().join(name);
            let ok = std::process::Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", pass, "-f"])
                .arg(&p)
                .status();
            ok.ok().filter(|s| s.success()).map(|_| p)
        };
        let (Some(plain), Some(locked)) = (gen_key("plain", ""), gen_key("locked", "secret"))
        else {
            println!("note: ssh-keygen not available; passphrase detection not checked");
            return;
        };
        assert!(!key_needs_passphrase(&plain).unwrap());
        assert!(key_needs_passphrase(&locked).unwrap());
        assert!(key_needs_passphrase(&dir.path().join("missing")).is_err());
    }
}
