//! TEST ONLY. The README's plugin example, compiled as written (see build.rs).

include!(concat!(env!("OUT_DIR"), "/readme.rs"));
