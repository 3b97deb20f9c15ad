//! Capability policy: every decision about what a plugin may touch is made
//! here, deny-by-default, and nowhere else.

pub mod imports;
mod limits;
pub mod manifest;
mod net;
pub mod rules;

pub use limits::Limits;
pub use manifest::Manifest;
pub use net::{NetPolicy, Verdict};
pub use rules::Capabilities;
