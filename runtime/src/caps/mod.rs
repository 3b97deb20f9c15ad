//! Capability policy: every decision about what a plugin may touch is made
//! here, deny-by-default, and nowhere else.

mod limits;
mod net;

pub use limits::Limits;
pub use net::{NetPolicy, Verdict};
