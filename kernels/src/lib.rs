//! # bifsmn-kernels
//!
//! Everything that runs a trained BiFSMNv2 keyword spotter on a device, with no heavy
//! dependencies so that it cross-compiles to a static aarch64 board runner:
//!
//! * [`features`]: the paper's log-mel front end (shared with training).
//! * [`weights`]: the unfolded float description of a trained network (the export hand-off).
pub mod features;
pub mod weights;
