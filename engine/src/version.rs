//! Version information: crate version plus the git commit the binary was built from.

/// `0.1.0 (abc1234 2026-11-25)`; the commit is "unknown" when built outside a git checkout
/// (`kernels/build.rs` records it).
pub const LONG: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("BIFSMN_GIT_COMMIT"),
    ")"
);
