//! Which secret a deploy target needs before connecting: the one decision behind the CLI's
//! terminal prompt (`bifsmn boards test`, `bifsmn deploy`) and the GUI's log-in dialog.
//!
//! A password profile always needs its password; a key profile needs the passphrase when its
//! key file is encrypted; the agent needs nothing here. A key file that does not exist needs
//! nothing either: connecting then fails with the missing file named. A key file that exists
//! but cannot be read or parsed is an error that names the board, the host and the key.

use std::path::Path;

use super::error::DeployError;
use super::job::Target;
use super::profile::Auth;
use super::session::{Credentials, Secret, key_needs_passphrase};

/// What kind of secret is asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretKind {
    /// The login password of an [`Auth::Password`] profile.
    Password,
    /// The passphrase of an [`Auth::Key`] profile's encrypted key file.
    KeyPassphrase,
}

/// A secret to ask for before connecting to one board.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretNeed {
    /// The board's name.
    pub board: String,
    pub kind: SecretKind,
    /// What the secret unlocks: `user@host` for a password, the key file for a passphrase.
    pub unlocks: String,
}

impl SecretNeed {
    /// The question, without the board's name: `Password for pi@10.0.0.2`,
    /// `Passphrase for /home/me/.ssh/id_ed25519`.
    pub fn prompt(&self) -> String {
        match self.kind {
            SecretKind::Password => format!("Password for {}", self.unlocks),
            SecretKind::KeyPassphrase => format!("Passphrase for {}", self.unlocks),
        }
    }

    /// Put the answer where the connection looks for it.
    pub fn supply(&self, credentials: &mut Credentials, secret: Secret) {
        match self.kind {
            SecretKind::Password => credentials.password = Some(secret),
            SecretKind::KeyPassphrase => credentials.passphrase = Some(secret),
        }
    }
}

/// The secret `target` needs before connecting, if any (reads the key file: blocking).
pub fn secret_need(target: &Target) -> Result<Option<SecretNeed>, DeployError> {
    let spec = &target.spec;
    let need = |kind, unlocks: String| SecretNeed {
        board: target.profile.name.clone(),
        kind,
        unlocks,
    };
    match &spec.auth {
        Auth::Agent => Ok(None),
        Auth::Password => Ok(Some(need(
            SecretKind::Password,
            format!("{}@{}", spec.user, spec.host),
        ))),
        Auth::Key { path } if !path.is_file() => Ok(None),
        Auth::Key { path } => {
            let encrypted = key_needs_passphrase(path).map_err(|e| unreadable(target, path, e))?;
            Ok(encrypted.then(|| need(SecretKind::KeyPassphrase, path.display().to_string())))
        }
    }
}

/// A key file that exists but cannot be read is a fault of the profile (or of the file it
/// names): reported as such, with the board, the login and the key in the message.
fn unreadable(target: &Target, key: &Path, e: DeployError) -> DeployError {
    DeployError::InvalidProfile {
        name: target.profile.name.clone(),
        problem: format!(
            "cannot tell whether key {} (for {}@{}) needs a passphrase: {e}",
            key.display(),
            target.spec.user,
            target.spec.host
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::profile::BoardProfile;
    use crate::ssh_config::SshConfig;

    fn target(auth: Auth) -> Target {
        let mut p = BoardProfile::new("pi", "10.0.0.2");
        p.user = Some("me".into());
        p.auth = auth;
        p.known_hosts = Some(PathBuf::from("/nonexistent/known_hosts"));
        Target::new(p, &SshConfig::empty(), Credentials::default()).unwrap()
    }

    fn key_file(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("id_test");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// An OpenSSH private key file whose body is `openssh-key-v1\0` and the cipher `cipher`:
    /// all [`key_needs_passphrase`] reads.
    fn openssh_key(cipher: &str) -> String {
        let mut body = b"openssh-key-v1\0".to_vec();
        body.extend_from_slice(&(cipher.len() as u32).to_be_bytes());
        body.extend_from_slice(cipher.as_bytes());
        format!(
            "-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n-----END OPENSSH PRIVATE KEY-----\n",
            crate::base64::encode(&body, true)
        )
    }

    #[test]
    fn a_password_profile_asks_for_the_password_of_user_at_host() {
        let need = secret_need(&target(Auth::Password)).unwrap().unwrap();
        assert_eq!(need.board, "pi");
        assert_eq!(need.kind, SecretKind::Password);
        assert_eq!(need.prompt(), "Password for me@10.0.0.2");
        let mut c = Credentials::default();
        need.supply(&mut c, Secret::new("pw"));
        assert_eq!(c.password.as_ref().map(Secret::expose), Some("pw"));
        assert!(c.passphrase.is_none());
    }

    #[test]
    fn the_agent_and_plain_or_missing_keys_need_nothing() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(secret_need(&target(Auth::Agent)).unwrap(), None);
        let plain = key_file(dir.path(), &openssh_key("none"));
        assert_eq!(
            secret_need(&target(Auth::Key { path: plain })).unwrap(),
            None
        );
        let missing = dir.path().join("no-such-key");
        assert_eq!(
            secret_need(&target(Auth::Key { path: missing })).unwrap(),
            None
        );
    }

    #[test]
    fn an_encrypted_key_asks_for_its_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        for text in [
            openssh_key("aes256-ctr"),
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n".to_string(),
        ] {
            let path = key_file(dir.path(), &text);
            let need = secret_need(&target(Auth::Key { path: path.clone() }))
                .unwrap()
                .unwrap();
            assert_eq!(need.kind, SecretKind::KeyPassphrase);
            assert_eq!(need.prompt(), format!("Passphrase for {}", path.display()));
            let mut c = Credentials::default();
            need.supply(&mut c, Secret::new("pp"));
            assert_eq!(c.passphrase.as_ref().map(Secret::expose), Some("pp"));
        }
    }

    #[test]
    fn a_key_that_cannot_be_read_is_an_error_naming_board_host_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let bad = key_file(
            dir.path(),
            "-----BEGIN OPENSSH PRIVATE KEY-----\n!!!\n-----END OPENSSH PRIVATE KEY-----\n",
        );
        let e = secret_need(&target(Auth::Key { path: bad.clone() })).unwrap_err();
        let msg = e.to_string();
        for part in ["pi", "me@10.0.0.2", &bad.display().to_string(), "base64"] {
            assert!(msg.contains(part), "{msg:?} lacks {part:?}");
        }
        let not_utf8 = dir.path().join("binary-key");
        std::fs::write(&not_utf8, [0xff, 0xfe, 0x00]).unwrap();
        let e = secret_need(&target(Auth::Key { path: not_utf8 })).unwrap_err();
        assert!(matches!(e, DeployError::InvalidProfile { .. }), "{e}");
    }
}
