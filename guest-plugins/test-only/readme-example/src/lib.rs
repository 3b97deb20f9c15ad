//! TEST ONLY. The plugin example of docs/plugins.md ("Writing a plugin in
//! Rust"), compiled as written (see build.rs).

include!(concat!(env!("OUT_DIR"), "/readme.rs"));
