//! Copies the first Rust example of the README's "Writing a plugin"
//! section into this crate, so that every build of the guests compiles it
//! exactly as authors read it.

use std::path::Path;

fn main() {
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../README.md");
    println!("cargo:rerun-if-changed={}", readme.display());
    let text = std::fs::read_to_string(&readme).expect("the README");
    let section = text
        .split_once("## Writing a plugin")
        .expect("a \"Writing a plugin\" section in the README")
        .1;
    let example = section
        .split_once("```rust\n")
        .and_then(|(_, rest)| rest.split_once("\n```"))
        .expect("a ```rust example in that section")
        .0;
    let out = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("readme.rs");
    std::fs::write(out, example).expect("write the example");
}
