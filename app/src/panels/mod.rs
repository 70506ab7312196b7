//! One module per panel; each draws itself with `ui(&mut self, ui)` and owns only view state.

pub mod data;
pub mod deploy;
pub mod inspect;
pub mod test;
pub mod train;
