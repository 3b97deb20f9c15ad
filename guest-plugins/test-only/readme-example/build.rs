//! Copies the first Rust example of docs/plugins.md's "Writing a plugin in
//! Rust" section into this crate, so that every build of the guests compiles
//! it exactly as authors read it.

use std::path::Path;

fn main() {
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../docs/plugins.md");
    println!("cargo:rerun-if-changed={}", doc.display());
    let text = std::fs::read_to_string(&doc).expect("docs/plugins.md");
    let section = text
        .split_once("## Writing a plugin in Rust")
        .expect("a \"Writing a plugin in Rust\" section in docs/plugins.md")
        .1;
    let example = section
        .split_once("```rust\n")
        .and_then(|(_, rest)| rest.split_once("\n```"))
        .expect("a ```rust example in that section")
        .0;
    let out = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("readme.rs");
    std::fs::write(out, example).expect("write the example");
}
