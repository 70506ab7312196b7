//! Shared helpers for the cross-crate tests.

// Fixtures for the end-to-end tests: a failed unwrap is a failed test, and skip notes print.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

pub mod agreement;
pub mod deploy_fixtures;
pub mod models;
pub mod sshd;
