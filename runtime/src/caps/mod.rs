//! Capability policy: every decision about what a plugin may touch is made
//! here, deny-by-default, and nowhere else.

pub mod areas;
pub mod budget;
pub mod files;
mod grant;
pub mod http;
pub mod imports;
pub mod limits;
pub mod manifest;
mod net;
mod quota;
pub mod registry;
pub mod revocations;
pub mod rules;

pub use areas::Reach;
pub use budget::{OverBudget, PluginBudget};
pub use grant::Grant;
pub use http::HttpPolicy;
pub use limits::{Limit, LimitRequest, Limits, Quotas};
pub use manifest::Manifest;
pub use net::{NetPolicy, Verdict};
pub use quota::{DeviceWrites, Rate, WriteLimit};
pub use rules::Capabilities;
