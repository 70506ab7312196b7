//! A small reader for the parts of `~/.ssh/config` that deploy needs: `Host` blocks with their
//! `HostName`, `Port`, `User` and `IdentityFile`, so a board can be named by its SSH alias.
//!
//! Semantics follow ssh_config(5) where it matters: keywords are case-insensitive and may be
//! written `Key value` or `Key=value`; values may be double-quoted; `Host` patterns support
//! `*`, `?` and `!negation`; for each setting the *first* value obtained wins (settings before
//! any `Host` line apply to every host), while `IdentityFile` accumulates. Not supported, and
//! reported in [`SshConfig::warnings`] instead of silently misread: `Include`, and `Match`
//! blocks other than `Match all` (their settings are skipped). Every other keyword is ignored.

use std::path::{Path, PathBuf};

use super::error::DeployError;

/// One `Host` (or `Match all`, or the implicit leading) block.
#[derive(Clone, Debug)]
struct Block {
    /// `None`: applies to every host (the part before the first `Host`, or `Match all`).
    /// `Some(vec![])` is used for unsupported `Match` blocks: never applies.
    patterns: Option<Vec<String>>,
    settings: Vec<(Keyword, String)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Keyword {
    HostName,
    Port,
    User,
    IdentityFile,
}

/// Settings for one host alias, as `ssh` would resolve them (first value wins).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostSettings {
    /// The real host name or address (`%h` already replaced by the alias).
    pub host_name: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    /// `IdentityFile` values in order, with `~` and `%` tokens still unexpanded (see
    /// [`expand_tokens`]).
    pub identity_files: Vec<String>,
}

/// A parsed ssh config file.
#[derive(Clone, Debug, Default)]
pub struct SshConfig {
    /// Where it came from (for messages); `None` for an in-memory or absent config.
    pub path: Option<PathBuf>,
    blocks: Vec<Block>,
    /// Lines that were understood but are not supported (with their line numbers).
    pub warnings: Vec<String>,
}

impl SshConfig {
    /// An empty config: every alias resolves to itself.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Read `path`; a missing file is an empty config.
    pub fn load(path: &Path) -> Result<Self, DeployError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text, Some(path)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self {
                path: Some(path.to_path_buf()),
                ..Self::default()
            }),
            Err(e) => Err(DeployError::local("read", path, e)),
        }
    }

    /// Read `$BIFSMN_SSH_CONFIG` or `~/.ssh/config`.
    pub fn load_default() -> Result<Self, DeployError> {
        match super::dirs::ssh_config_file() {
            Some(p) => Self::load(&p),
            None => Ok(Self::empty()),
        }
    }

    /// Parse config text. `path` is only used in messages.
    pub fn parse(text: &str, path: Option<&Path>) -> Result<Self, DeployError> {
        let err = |line: usize, problem: String| DeployError::SshConfig {
            path: path
                .map(Path::to_path_buf)
                .unwrap_or_else(|| "<ssh config>".into()),
            line,
            problem,
        };
        let mut cfg = SshConfig {
            path: path.map(Path::to_path_buf),
            blocks: vec![Block {
                patterns: None,
                settings: vec![],
            }],
            warnings: vec![],
        };
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, rest) = split_keyword(line);
            let args = split_args(rest).map_err(|p| err(n, p))?;
            match key.to_ascii_lowercase().as_str() {
                "host" => {
                    if args.is_empty() {
                        return Err(err(n, "Host needs at least one pattern".into()));
                    }
                    cfg.blocks.push(Block {
                        patterns: Some(args),
                        settings: vec![],
                    });
                }
                "match" => {
                    let all = args.len() == 1 && args[0].eq_ignore_ascii_case("all");
                    if !all {
                        cfg.warnings.push(format!(
                            "line {n}: `Match {}` is not supported; its settings are ignored",
                            args.join(" ")
                        ));
                    }
                    cfg.blocks.push(Block {
                        patterns: if all { None } else { Some(vec![]) },
                        settings: vec![],
                    });
                }
                "include" => cfg.warnings.push(format!(
                    "line {n}: `Include` is not supported; {} was not read",
                    args.join(" ")
                )),
                k @ ("hostname" | "port" | "user" | "identityfile") => {
                    let value = match args.as_slice() {
                        [v] => v.clone(),
                        [] => return Err(err(n, format!("{key} needs a value"))),
                        _ => {
                            return Err(err(
                                n,
                                format!("{key} takes one value, got {}", args.len()),
                            ));
                        }
                    };
                    let kw = match k {
                        "hostname" => Keyword::HostName,
                        "port" => {
                            match value.parse::<u16>() {
                                Ok(p) if p > 0 => {}
                                _ => {
                                    return Err(err(
                                        n,
                                        format!("Port {value:?} is not a port number"),
                                    ));
                                }
                            }
                            Keyword::Port
                        }
                        "user" => Keyword::User,
                        _ => Keyword::IdentityFile,
                    };
                    cfg.blocks
                        .last_mut()
                        .expect("always one block")
                        .settings
                        .push((kw, value));
                }
                _ => {}
            }
        }
        Ok(cfg)
    }

    /// Resolve `alias` the way `ssh alias` would (for the supported keywords).
    pub fn lookup(&self, alias: &str) -> HostSettings {
        let mut s = HostSettings::default();
        for b in &self.blocks {
            let applies = match &b.patterns {
                None => true,
                Some(p) => host_matches(p, alias),
            };
            if !applies {
                continue;
            }
            for (kw, v) in &b.settings {
                match kw {
                    Keyword::HostName if s.host_name.is_none() => {
                        s.host_name = Some(v.replace("%h", alias).replace("%%", "%"))
                    }
                    Keyword::Port if s.port.is_none() => s.port = v.parse().ok(),
                    Keyword::User if s.user.is_none() => s.user = Some(v.clone()),
                    Keyword::IdentityFile => s.identity_files.push(v.clone()),
                    _ => {}
                }
            }
        }
        s
    }

    /// Concrete aliases (Host patterns without wildcards or negation), in file order.
    pub fn aliases(&self) -> Vec<String> {
        let mut out: Vec<String> = vec![];
        for b in &self.blocks {
            for p in b.patterns.iter().flatten() {
                if !p.contains(['*', '?', '!']) && !out.contains(p) {
                    out.push(p.clone());
                }
            }
        }
        out
    }

    /// Whether `name` is a concrete `Host` alias in this file.
    pub fn has_alias(&self, name: &str) -> bool {
        self.aliases().iter().any(|a| a == name)
    }
}

/// `Key value`, `Key=value` or `Key = value`.
fn split_keyword(line: &str) -> (&str, &str) {
    let end = line
        .find(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or(line.len());
    let (key, rest) = line.split_at(end);
    let rest = rest.trim_start();
    let rest = rest.strip_prefix('=').unwrap_or(rest).trim_start();
    (key, rest)
}

/// Whitespace-separated arguments; double quotes group, `#` outside quotes starts a comment.
fn split_args(s: &str) -> Result<Vec<String>, String> {
    let mut out = vec![];
    let mut cur = String::new();
    let mut in_word = false;
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            '#' if !quoted && !in_word => break,
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quoted {
        return Err("unterminated double quote".into());
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

/// ssh_config(5) pattern lists: any positive pattern matches and no `!pattern` matches.
fn host_matches(patterns: &[String], host: &str) -> bool {
    let mut any = false;
    for p in patterns {
        if let Some(neg) = p.strip_prefix('!') {
            if glob(neg.as_bytes(), host.as_bytes()) {
                return false;
            }
        } else if glob(p.as_bytes(), host.as_bytes()) {
            any = true;
        }
    }
    any
}

/// `*` (any run) and `?` (any one character) wildcard match, ASCII case-insensitive like ssh.
fn glob(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi].eq_ignore_ascii_case(&s[si])) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Expand `~` and the ssh tokens deploy can know (`%%`, `%d` home, `%h` host, `%p` port,
/// `%r` remote user, `%u` local user) in an `IdentityFile` value. Other tokens are left as
/// they are (the file will then simply not be found, and the error names it).
pub fn expand_tokens(value: &str, host: &str, port: u16, remote_user: &str) -> PathBuf {
    let home = super::dirs::home_dir()
        .map(|h| h.display().to_string())
        .unwrap_or_default();
    let local_user = std::env::var("USER").unwrap_or_default();
    let mut out = String::new();
    let mut chars = value.chars().peekable();
    if value == "~" || value.starts_with("~/") {
        out.push_str(&home);
        chars.next();
    }
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some('d') => out.push_str(&home),
            Some('h') => out.push_str(host),
            Some('p') => out.push_str(&port.to_string()),
            Some('r') => out.push_str(remote_user),
            Some('u') => out.push_str(&local_user),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    PathBuf::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
# global defaults come first, and the first value wins
User fallback-user-is-overridden-below

Host pi3 pi3.local
    HostName 192.168.1.23
    Port 2200
    IdentityFile ~/.ssh/pi_ed25519

Host pi* !pi-legacy
    User pi
    Port=22
    IdentityFile "~/.ssh/with space"

Host *
    User everyone
    IdentityFile %d/.ssh/id_%r@%h
"#;

    #[test]
    fn first_value_wins_identity_files_accumulate() {
        let c = SshConfig::parse(SAMPLE, None).unwrap();
        let s = c.lookup("pi3");
        assert_eq!(s.host_name.as_deref(), Some("192.168.1.23"));
        assert_eq!(s.port, Some(2200));
        // The global `User` line precedes every Host block, so it wins (as in OpenSSH).
        assert_eq!(s.user.as_deref(), Some("fallback-user-is-overridden-below"));
        assert_eq!(
            s.identity_files,
            ["~/.ssh/pi_ed25519", "~/.ssh/with space", "%d/.ssh/id_%r@%h"]
        );
    }

    #[test]
    fn patterns_wildcards_and_negation() {
        let c =
            SshConfig::parse("Host pi* !pi-legacy\n User pi\nHost *\n User other\n", None).unwrap();
        assert_eq!(c.lookup("pi4").user.as_deref(), Some("pi"));
        assert_eq!(c.lookup("PI4").user.as_deref(), Some("pi"));
        assert_eq!(c.lookup("pi-legacy").user.as_deref(), Some("other"));
        assert_eq!(c.lookup("laptop").user.as_deref(), Some("other"));
        assert_eq!(c.lookup("laptop").host_name, None);
        assert!(glob(b"a?c*", b"abcdef"));
        assert!(!glob(b"a?c", b"ac"));
        assert!(glob(b"*.local", b"pi.local"));
        assert!(!glob(b"*.local", b"pi.localdomain"));
    }

    #[test]
    fn aliases_are_concrete_host_names() {
        let c = SshConfig::parse(SAMPLE, None).unwrap();
        assert_eq!(c.aliases(), ["pi3", "pi3.local"]);
        assert!(c.has_alias("pi3"));
        assert!(!c.has_alias("pi4"));
    }

    #[test]
    fn hostname_token_and_unsupported_lines() {
        let text =
            "Include ~/.ssh/extra\nMatch host foo\n HostName evil\nHost b\n HostName %h.lan\n";
        let c = SshConfig::parse(text, None).unwrap();
        assert_eq!(c.lookup("b").host_name.as_deref(), Some("b.lan"));
        assert_eq!(
            c.lookup("foo").host_name,
            None,
            "unsupported Match must not apply"
        );
        assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
    }

    #[test]
    fn bad_lines_name_the_line() {
        let e =
            SshConfig::parse("Host a\n  Port twenty\n", Some(Path::new("/x/config"))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "ssh config /x/config:2: Port \"twenty\" is not a port number"
        );
        let e = SshConfig::parse("Host\n", None).unwrap_err();
        assert!(e.to_string().contains(":1: Host needs"), "{e}");
        let e = SshConfig::parse("HostName \"open\n", None).unwrap_err();
        assert!(e.to_string().contains("unterminated"), "{e}");
    }

    #[test]
    fn comments_and_equals() {
        let c =
            SshConfig::parse("Host x # trailing comment\n  HostName = 10.0.0.1\n", None).unwrap();
        assert_eq!(c.lookup("x").host_name.as_deref(), Some("10.0.0.1"));
    }

    #[test]
    fn token_expansion() {
        let p = expand_tokens("/keys/%r@%h:%p%%", "pi", 22, "root");
        assert_eq!(p, PathBuf::from("/keys/root@pi:22%"));
        let home = crate::dirs::home_dir().unwrap();
        assert_eq!(expand_tokens("~/.ssh/k", "h", 1, "u"), home.join(".ssh/k"));
        assert_eq!(expand_tokens("%d/k", "h", 1, "u"), home.join("k"));
    }

    #[test]
    fn missing_file_is_empty() {
        let c = SshConfig::load(Path::new("/nonexistent/bifsmn/ssh_config")).unwrap();
        assert_eq!(c.lookup("a"), HostSettings::default());
    }
}
