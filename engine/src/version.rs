//! Version information: crate version plus the git commit the binary was built from.

/// `0.1.0 (abc1234 2026-11-25)`, or the bare version when built outside a git checkout.
pub const LONG: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("BIFSMN_GIT_COMMIT"),
    ")"
);
