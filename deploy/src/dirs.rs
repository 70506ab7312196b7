//! Where deploy keeps its files on the laptop. Environment overrides exist so tests (and
//! unusual setups) never touch the user's real files.

use std::path::PathBuf;

/// Application directory name under the user's config and data dirs.
pub const APP_DIR: &str = "bifsmn-workbench";

fn env_path(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn home() -> Option<PathBuf> {
    directories::BaseDirs::new().map(|b| b.home_dir().to_path_buf())
}

/// `$BIFSMN_CONFIG_DIR`, else `<user config dir>/bifsmn-workbench`.
pub fn config_dir() -> Option<PathBuf> {
    env_path("BIFSMN_CONFIG_DIR")
        .or_else(|| directories::BaseDirs::new().map(|b| b.config_dir().join(APP_DIR)))
}

/// `$BIFSMN_DATA_DIR`, else `<user data dir>/bifsmn-workbench`.
pub fn data_dir() -> Option<PathBuf> {
    env_path("BIFSMN_DATA_DIR")
        .or_else(|| directories::BaseDirs::new().map(|b| b.data_dir().join(APP_DIR)))
}

/// The board profiles file: `<config dir>/boards.toml`.
pub fn boards_file() -> Option<PathBuf> {
    config_dir().map(|d| d.join("boards.toml"))
}

/// The bench history: `<data dir>/bench-history.jsonl`.
pub fn history_file() -> Option<PathBuf> {
    data_dir().map(|d| d.join("bench-history.jsonl"))
}

/// `$BIFSMN_KNOWN_HOSTS`, else `~/.ssh/known_hosts`.
pub fn default_known_hosts() -> Option<PathBuf> {
    env_path("BIFSMN_KNOWN_HOSTS").or_else(|| home().map(|h| h.join(".ssh/known_hosts")))
}

/// `$BIFSMN_SSH_CONFIG`, else `~/.ssh/config`.
pub fn ssh_config_file() -> Option<PathBuf> {
    env_path("BIFSMN_SSH_CONFIG").or_else(|| home().map(|h| h.join(".ssh/config")))
}

/// The user's home directory (for `~` in paths).
pub fn home_dir() -> Option<PathBuf> {
    home()
}

/// Expand a leading `~/` (or a lone `~`) to the home directory.
pub fn expand_tilde(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), p == "~", home()) {
        (Some(rest), _, Some(h)) => h.join(rest),
        (None, true, Some(h)) => h,
        _ => PathBuf::from(p),
    }
}
