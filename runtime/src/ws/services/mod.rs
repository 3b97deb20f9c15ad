//! One file per service.

pub mod check_update;
pub mod discover;
pub mod get_attributes;
pub mod ota;
pub mod plugins;
pub mod set_attributes;

pub const DEVICE_SERVICES: [&str; 4] = ["get_attributes", "set_attributes", "check_update", "ota"];
