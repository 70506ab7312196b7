//! Shared helpers for the cross-crate tests.
pub mod deploy_fixtures;
pub mod models;
pub mod sshd;
