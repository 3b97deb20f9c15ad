//! Logging into the hub's log, tagged with the plugin's id.

pub use crate::bindings::hub::device::host::LogLevel as Level;

pub fn log(level: Level, message: &str) {
    crate::bindings::hub::device::host::log(level, message);
}

#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { $crate::log::log($crate::log::Level::Debug, &format!($($arg)*)) };
}

#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::log::log($crate::log::Level::Info, &format!($($arg)*)) };
}

#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::log::log($crate::log::Level::Warn, &format!($($arg)*)) };
}
