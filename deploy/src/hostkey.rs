//! Host keys against OpenSSH's `known_hosts`.
//!
//! Semantics follow OpenSSH rather than libssh2's defaults, on purpose:
//! * a non-standard port is looked up as `[host]:port` only (libssh2's `check_port` also falls
//!   back to the bare host name, which would make two boards behind one address on different
//!   ports "mismatch" each other);
//! * only entries of the presented key's *type* can match or mismatch (a board that has an
//!   RSA and an Ed25519 key is not an attacker because we got the other one); other types
//!   known for the host are reported, and the host key algorithms are ordered so the server
//!   uses a type we already know when it can;
//! * `@revoked` keys are refused; `@cert-authority` lines are ignored (no certificates here);
//! * a line libssh2 cannot read (e.g. a security-key type) is skipped instead of making the
//!   whole file unreadable.
//!
//! Host-name matching itself (plain, comma lists and hashed `|1|` names) is delegated to
//! libssh2 one line at a time.

use std::path::Path;

use sha2::{Digest, Sha256};
use ssh2::{CheckResult, KnownHostFileKind, Session};

use super::base64;
use super::error::DeployError;

/// OpenSSH's fingerprint of a public key blob: `SHA256:` and unpadded base64.
pub fn fingerprint(key_blob: &[u8]) -> String {
    format!(
        "SHA256:{}",
        base64::encode(&Sha256::digest(key_blob), false)
    )
}

/// The key type named at the start of an SSH public key blob (`ssh-ed25519`, ...).
pub fn key_type(key_blob: &[u8]) -> Option<String> {
    let len = u32::from_be_bytes(key_blob.get(..4)?.try_into().ok()?) as usize;
    let name = key_blob.get(4..4 + len)?;
    String::from_utf8(name.to_vec()).ok()
}

/// How `known_hosts` names a host: `host` on port 22, `[host]:port` otherwise.
pub fn known_hosts_name(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

/// The result of checking a presented key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// An entry of this type for this host has exactly this key (1-based line number).
    Match { line: usize },
    /// An entry of this type for this host has a different key.
    Mismatch {
        line: usize,
        expected_fingerprint: String,
    },
    /// The key is listed as `@revoked`.
    Revoked { line: usize },
    /// No entry of this type for this host; `other_types` are types that are recorded.
    NotFound { other_types: Vec<String> },
}

/// One usable line of a `known_hosts` file.
#[derive(Clone, Debug)]
struct Entry {
    line: usize,
    revoked: bool,
    /// The line without its marker, as libssh2 reads it.
    text: String,
    key_type: String,
    key_b64: String,
}

/// A `known_hosts` file, read once per connection.
#[derive(Clone, Debug)]
pub struct KnownHostsFile {
    entries: Vec<Entry>,
}

impl KnownHostsFile {
    /// Read `path`; a missing file has no entries.
    pub fn load(path: &Path) -> Result<Self, DeployError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(DeployError::local("read", path, e)),
        };
        Ok(Self::parse(&text))
    }

    fn parse(text: &str) -> Self {
        let mut entries = vec![];
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut fields = line.split_whitespace();
            let mut first = fields.next().unwrap_or("");
            let mut revoked = false;
            let mut body = line;
            if first.starts_with('@') {
                if first != "@revoked" {
                    continue; // @cert-authority: certificates are not used here
                }
                revoked = true;
                body = line[first.len()..].trim_start();
                first = fields.next().unwrap_or("");
            }
            let (Some(kt), Some(key)) = (fields.next(), fields.next()) else {
                continue;
            };
            let _ = first;
            entries.push(Entry {
                line: i + 1,
                revoked,
                text: body.to_string(),
                key_type: kt.to_string(),
                key_b64: key.to_string(),
            });
        }
        Self { entries }
    }

    /// Whether libssh2 says this entry's host field matches `name`. Checking with a key that
    /// can never be stored (empty) turns "the host matches" into `Mismatch`.
    fn host_matches(session: &Session, e: &Entry, name: &str) -> bool {
        let Ok(mut kh) = session.known_hosts() else {
            return false;
        };
        if kh.read_str(&e.text, KnownHostFileKind::OpenSSH).is_err() {
            return false;
        }
        matches!(
            kh.check(name, b"\0"),
            CheckResult::Mismatch | CheckResult::Match
        )
    }

    /// Key types recorded for `host:port` (in file order, no duplicates).
    pub fn types_for(&self, session: &Session, host: &str, port: u16) -> Vec<String> {
        let name = known_hosts_name(host, port);
        let mut out: Vec<String> = vec![];
        for e in self.entries.iter().filter(|e| !e.revoked) {
            if !out.contains(&e.key_type) && Self::host_matches(session, e, &name) {
                out.push(e.key_type.clone());
            }
        }
        out
    }

    /// Check the key `host:port` presented.
    pub fn check(&self, session: &Session, host: &str, port: u16, key_blob: &[u8]) -> Verdict {
        let presented = base64::encode(key_blob, true);
        if let Some(e) = self
            .entries
            .iter()
            .find(|e| e.revoked && e.key_b64 == presented)
        {
            return Verdict::Revoked { line: e.line };
        }
        let ktype = key_type(key_blob).unwrap_or_default();
        let name = known_hosts_name(host, port);
        let mut mismatch = None;
        let mut other_types: Vec<String> = vec![];
        for e in self.entries.iter().filter(|e| !e.revoked) {
            if !Self::host_matches(session, e, &name) {
                continue;
            }
            if e.key_type != ktype {
                if !other_types.contains(&e.key_type) {
                    other_types.push(e.key_type.clone());
                }
                continue;
            }
            if e.key_b64.trim_end_matches('=') == presented.trim_end_matches('=') {
                return Verdict::Match { line: e.line };
            }
            if mismatch.is_none() {
                let expected_fingerprint = base64::decode(&e.key_b64)
                    .map(|b| fingerprint(&b))
                    .unwrap_or_else(|| format!("(unreadable key on line {})", e.line));
                mismatch = Some(Verdict::Mismatch {
                    line: e.line,
                    expected_fingerprint,
                });
            }
        }
        mismatch.unwrap_or(Verdict::NotFound { other_types })
    }
}

/// Append `host:port`'s key to `path` (created with its directory if needed), as OpenSSH
/// would write it with `HashKnownHosts no`. The file is rewritten atomically so a crash never
/// leaves a half line.
pub fn append(path: &Path, host: &str, port: u16, key_blob: &[u8]) -> Result<(), DeployError> {
    let ktype = key_type(key_blob).ok_or_else(|| DeployError::KnownHosts {
        path: path.to_path_buf(),
        problem: "the presented host key blob has no key type".into(),
    })?;
    let mut text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(DeployError::local("read", path, e)),
    };
    // The atomic rewrite creates a new file (mode 0600); give it the old file's mode back.
    let old_mode = std::fs::metadata(path).ok().map(|m| m.permissions());
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!(
        "{} {} {}\n",
        known_hosts_name(host, port),
        ktype,
        base64::encode(key_blob, true)
    ));
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
        && !dir.exists()
    {
        create_private_dir(dir).map_err(|e| DeployError::local("create", dir, e))?;
    }
    bifsmn_kernels::atomic::write_atomic(path, text.as_bytes())
        .map_err(|e| DeployError::local("write", path, e))?;
    if let Some(mode) = old_mode {
        std::fs::set_permissions(path, mode).map_err(|e| DeployError::local("chmod", path, e))?;
    }
    Ok(())
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Host key algorithms ordered so that types already recorded for the host come first (what
/// OpenSSH does), then everything else libssh2 supports in its own order. `None` when nothing
/// is recorded (keep libssh2's default).
pub fn algorithm_preference(known_types: &[String], supported: &[&str]) -> Option<String> {
    if known_types.is_empty() {
        return None;
    }
    let mut pref: Vec<&str> = vec![];
    for t in known_types {
        let algs: &[&str] = match t.as_str() {
            "ssh-rsa" => &["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
            other => &[other][..],
        };
        for a in algs {
            if let Some(s) = supported.iter().find(|s| *s == a)
                && !pref.contains(s)
            {
                pref.push(s);
            }
        }
    }
    if pref.is_empty() {
        return None;
    }
    for s in supported {
        if !pref.contains(s) {
            pref.push(s);
        }
    }
    Some(pref.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    // An Ed25519 public key blob in SSH wire format.
    fn blob(seed: u8) -> Vec<u8> {
        let mut b = vec![0, 0, 0, 11];
        b.extend_from_slice(b"ssh-ed25519");
        b.extend_from_slice(&[0, 0, 0, 32]);
        b.extend((0..32).map(|i| seed.wrapping_add(i)));
        b
    }

    #[test]
    fn fingerprint_matches_openssh_format() {
        // A key made with `ssh-keygen -t ed25519`; `ssh-keygen -lf` printed the fingerprint.
        let line = "AAAAC3NzaC1lZDI1NTE5AAAAINHi7nhhDexgZ+zz0zt09wfZcTiQoliwFqJZUStQbi6e";
        let b = base64::decode(line).unwrap();
        assert_eq!(key_type(&b).as_deref(), Some("ssh-ed25519"));
        assert_eq!(
            fingerprint(&b),
            "SHA256:VK2qOYKLoI4qkamoZ+X8Jf7V+/JgPO4tlytVd1ztW2w"
        );
    }

    #[test]
    fn names_for_ports() {
        assert_eq!(known_hosts_name("pi", 22), "pi");
        assert_eq!(known_hosts_name("127.0.0.1", 2222), "[127.0.0.1]:2222");
    }

    fn file(text: &str) -> KnownHostsFile {
        KnownHostsFile::parse(text)
    }

    #[test]
    fn verdicts() {
        let s = Session::new().unwrap();
        let (a, b) = (blob(1), blob(2));
        let kh = file(&format!(
            "# comment\n\
             [127.0.0.1]:2222 ssh-ed25519 {}\n\
             otherhost,127.0.0.1 ssh-ed25519 {}\n\
             [127.0.0.1]:2223 ecdsa-sha2-nistp256 AAAAE2VjZHNh\n\
             @cert-authority * ssh-ed25519 {}\n",
            base64::encode(&a, true),
            base64::encode(&b, true),
            base64::encode(&b, true),
        ));
        assert_eq!(
            kh.check(&s, "127.0.0.1", 2222, &a),
            Verdict::Match { line: 2 }
        );
        assert_eq!(
            kh.check(&s, "127.0.0.1", 2222, &b),
            Verdict::Mismatch {
                line: 2,
                expected_fingerprint: fingerprint(&a)
            }
        );
        // Port 22 uses the bare name; the [host]:2222 entry does not apply to it.
        assert_eq!(
            kh.check(&s, "127.0.0.1", 22, &b),
            Verdict::Match { line: 3 }
        );
        assert!(matches!(
            kh.check(&s, "127.0.0.1", 22, &a),
            Verdict::Mismatch { line: 3, .. }
        ));
        assert_eq!(
            kh.check(&s, "otherhost", 22, &b),
            Verdict::Match { line: 3 }
        );
        // Another type known for the host: not a mismatch, but reported.
        assert_eq!(
            kh.check(&s, "127.0.0.1", 2223, &a),
            Verdict::NotFound {
                other_types: vec!["ecdsa-sha2-nistp256".into()]
            }
        );
        assert_eq!(kh.types_for(&s, "127.0.0.1", 2223), ["ecdsa-sha2-nistp256"]);
        assert_eq!(
            kh.check(&s, "newhost", 22, &a),
            Verdict::NotFound {
                other_types: vec![]
            }
        );
    }

    #[test]
    fn revoked_keys_are_refused_everywhere() {
        let s = Session::new().unwrap();
        let a = blob(7);
        let kh = file(&format!(
            "@revoked * ssh-ed25519 {}\nhost ssh-ed25519 {}\n",
            base64::encode(&a, true),
            base64::encode(&a, true)
        ));
        assert_eq!(kh.check(&s, "host", 22, &a), Verdict::Revoked { line: 1 });
    }

    #[test]
    fn append_then_match() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/.ssh/known_hosts");
        let a = blob(3);
        append(&path, "10.0.0.9", 2200, &a).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        append(&path, "10.0.0.9", 22, &blob(4)).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644, "an existing file keeps its mode");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("[10.0.0.9]:2200 ssh-ed25519 AAAA"),
            "{text}"
        );
        assert_eq!(text.lines().count(), 2);
        let s = Session::new().unwrap();
        let kh = KnownHostsFile::load(&path).unwrap();
        assert_eq!(
            kh.check(&s, "10.0.0.9", 2200, &a),
            Verdict::Match { line: 1 }
        );
        let mode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn preference_puts_known_types_first() {
        let supported = [
            "ecdsa-sha2-nistp256",
            "ssh-ed25519",
            "rsa-sha2-512",
            "rsa-sha2-256",
            "ssh-rsa",
        ];
        assert_eq!(algorithm_preference(&[], &supported), None);
        assert_eq!(
            algorithm_preference(&["ssh-ed25519".into()], &supported).unwrap(),
            "ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512,rsa-sha2-256,ssh-rsa"
        );
        assert_eq!(
            algorithm_preference(&["ssh-rsa".into()], &supported).unwrap(),
            "rsa-sha2-512,rsa-sha2-256,ssh-rsa,ecdsa-sha2-nistp256,ssh-ed25519"
        );
    }
}
