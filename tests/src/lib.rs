//! Shared helpers for the cross-crate tests.
pub mod models;
pub mod deploy_fixtures;
pub mod sshd;
