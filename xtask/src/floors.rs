//! The hub's floors: which of `runtime/src`'s top-level modules may import
//! which. Every module stands on a floor; it may use the modules below it
//! and nothing above, so that no circle can form between them and each
//! floor can be read knowing only the floors under it. `docs/architecture.md`
//! explains the floors; this file is the rule as the tests check it.

use anyhow::{Context, bail};
use std::collections::BTreeMap;
use std::path::Path;

/// From the ground up. Within a floor, a module may use those listed
/// before it on the same floor, never those after.
pub const FLOORS: [(&str, &[&str]); 8] = [
    ("leaves", &["error", "deadline", "digest", "sync", "keys"]),
    ("decisions and records", &["caps", "config", "store"]),
    ("running plugins", &["plugins"]),
    ("the marketplace", &["market"]),
    ("the front door", &["gate", "ws", "console", "http"]),
    (
        "what runs a hub",
        &["serve", "demo", "conformance", "bench"],
    ),
    ("the command line", &["cli"]),
    ("the binary", &["main"]),
];

/// One import that points up, or sideways to a module placed after.
#[derive(Debug, PartialEq, Eq)]
pub struct Upward {
    pub file: String,
    pub from: String,
    pub to: String,
}

impl std::fmt::Display for Upward {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}, {}) uses {} ({}): an import may only point down",
            self.file,
            self.from,
            floor_of(&self.from).unwrap_or("no floor"),
            self.to,
            floor_of(&self.to).unwrap_or("no floor"),
        )
    }
}

fn rank(module: &str) -> Option<usize> {
    FLOORS
        .iter()
        .flat_map(|(_, modules)| modules.iter())
        .position(|m| *m == module)
}

fn floor_of(module: &str) -> Option<&'static str> {
    FLOORS
        .iter()
        .find(|(_, modules)| modules.contains(&module))
        .map(|(name, _)| *name)
}

/// Every upward import under `src` (a crate's source folder, its root
/// `lib.rs` declaring the top-level modules); refused when a module stands
/// on no floor, or a floor names a module the crate lacks.
pub fn check(src: &Path) -> anyhow::Result<Vec<Upward>> {
    let files = sources(src)?;
    let lib = files.get("lib.rs").map_or("", String::as_str);
    // A re-export at the root would let `crate::X` name a module above.
    if let Some(line) = code_lines(lib).find(|l| l.contains("use ")) {
        bail!(
            "lib.rs only declares modules, it imports nothing: {}",
            line.trim()
        );
    }
    let declared = declared_modules(lib);
    for module in &declared {
        if rank(module).is_none() {
            bail!("module {module} stands on no floor: place it in xtask/src/floors.rs FLOORS");
        }
    }
    for module in FLOORS.iter().flat_map(|(_, m)| m.iter()) {
        if *module != "main" && !declared.iter().any(|d| d == module) {
            bail!("FLOORS names {module}, which lib.rs does not declare");
        }
    }
    let mut upward = Vec::new();
    for (file, text) in &files {
        let Some(from) = top_module(file) else {
            continue;
        };
        let Some(from_rank) = rank(&from) else {
            bail!(
                "{file} is in module {from}, which stands on no floor (or lib.rs declares it in a way this check cannot read)"
            );
        };
        for to in used_modules(file, text, &declared) {
            if to != from && rank(&to).is_some_and(|r| r > from_rank) {
                upward.push(Upward {
                    file: file.clone(),
                    from: from.clone(),
                    to,
                });
            }
        }
    }
    Ok(upward)
}

/// The `.rs` files under `src`, by their path relative to it.
fn sources(src: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let mut files = BTreeMap::new();
    let mut folders = vec![src.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in
            std::fs::read_dir(&folder).with_context(|| format!("read {}", folder.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(src)?.to_string_lossy().replace('\\', "/");
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("read {}", path.display()))?;
                files.insert(relative, text);
            }
        }
    }
    Ok(files)
}

/// The top-level module a file belongs to; `main` for the binary's root.
fn top_module(file: &str) -> Option<String> {
    match file {
        "lib.rs" => None,
        "main.rs" => Some("main".into()),
        _ => {
            let first = file.split('/').next()?;
            Some(first.trim_end_matches(".rs").to_string())
        }
    }
}

/// The module path of a file: `ws/services/mod.rs` is `[ws, services]`.
fn module_path(file: &str) -> Vec<String> {
    let mut parts: Vec<String> = file
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_string)
        .collect();
    if parts
        .last()
        .is_some_and(|p| p == "mod" || p == "lib" || p == "main")
    {
        parts.pop();
    }
    parts
}

fn declared_modules(lib: &str) -> Vec<String> {
    code_lines(lib)
        .filter_map(|line| {
            let line = line
                .trim()
                .trim_start_matches("pub ")
                .trim_start_matches("pub(crate) ");
            let name = line.strip_prefix("mod ")?.strip_suffix(';')?;
            Some(name.trim().to_string())
        })
        .collect()
}

/// Each line as code alone: its `//` comment (doc comments too) cut off
/// and the inside of its string literals blanked.
fn code_lines(text: &str) -> impl Iterator<Item = String> + '_ {
    text.lines().map(|line| {
        let mut code = String::with_capacity(line.len());
        let mut quoted = false;
        let mut escaped = false;
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                _ if escaped => escaped = false,
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                '/' if !quoted && chars.peek() == Some(&'/') => break,
                _ => {}
            }
            code.push(if quoted && c != '"' { ' ' } else { c });
        }
        code
    })
}

/// The top-level modules a file names: through `crate::`, through enough
/// `super::` to leave its own top-level module, or (in `main.rs`) through
/// the library's name.
fn used_modules(file: &str, text: &str, declared: &[String]) -> Vec<String> {
    let here = module_path(file);
    let code = code_lines(text).collect::<Vec<_>>().join("\n");
    let mut used = Vec::new();
    let mut add = |name: &str| {
        if declared.iter().any(|d| d == name) && !used.iter().any(|u| u == name) {
            used.push(name.to_string());
        }
    };
    let roots: &[&str] = if file == "main.rs" {
        &["hub::"]
    } else {
        &["crate::"]
    };
    for root in roots {
        for (i, _) in code.match_indices(root) {
            if !continues_a_path(&code, i) {
                for name in first_names(&code[i + root.len()..]) {
                    add(&name);
                }
            }
        }
    }
    for (i, _) in code.match_indices("super::") {
        if continues_a_path(&code, i) {
            continue;
        }
        let mut rest = &code[i..];
        let mut depth = 0;
        while let Some(next) = rest.strip_prefix("super::") {
            depth += 1;
            rest = next;
        }
        if depth >= here.len() {
            for name in first_names(rest) {
                add(&name);
            }
        }
    }
    used
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Whether the match at `i` continues a longer name or path
/// (`my_crate::` is not `crate::`, nor is `x::super::`).
fn continues_a_path(code: &str, i: usize) -> bool {
    i > 0 && (is_ident(code.as_bytes()[i - 1]) || code.as_bytes()[i - 1] == b':')
}

/// The first name of a path, or of each path in a `{...}` group.
fn first_names(path: &str) -> Vec<String> {
    if let Some(group) = path.strip_prefix('{') {
        let mut depth = 0;
        let mut names = Vec::new();
        let mut start = 0;
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    names.extend(first_names(group[start..i].trim()));
                    break;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    names.extend(first_names(group[start..i].trim()));
                    start = i + 1;
                }
                _ => {}
            }
        }
        return names;
    }
    let name: String = path
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    if name.is_empty() {
        Vec::new()
    } else {
        vec![name]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    const LIB: &str = "pub mod caps;\nmod config;\npub mod store;\npub mod plugins;\n";

    fn all_declared() -> String {
        FLOORS
            .iter()
            .flat_map(|(_, m)| m.iter())
            .filter(|m| **m != "main")
            .map(|m| format!("pub mod {m};\n"))
            .collect()
    }

    #[test]
    fn the_hubs_own_modules_import_only_downward() {
        let src = crate::root().join("runtime/src");
        let upward = check(&src).unwrap();
        let listed: Vec<String> = upward.iter().map(ToString::to_string).collect();
        assert!(
            upward.is_empty(),
            "imports that point up:\n{}",
            listed.join("\n")
        );
    }

    #[test]
    fn an_upward_import_is_found_in_every_spelling() {
        let lib = all_declared();
        for spelling in [
            "use crate::ws::Caller;",
            "use crate::{caps::Grant, market::Market};",
            "fn f() { crate::console::sessions::COOKIE; }",
            "use super::super::super::http::Server;",
        ] {
            let dir = tree(&[
                ("lib.rs", &lib),
                ("plugins/deep/x.rs", spelling),
                ("plugins/mod.rs", ""),
            ]);
            let upward = check(dir.path()).unwrap();
            assert_eq!(upward.len(), 1, "{spelling}: {upward:?}");
            assert_eq!(upward[0].from, "plugins", "{spelling}");
        }
    }

    #[test]
    fn downward_own_and_commented_names_pass() {
        let lib = all_declared();
        let text = "use crate::caps::Grant;\nuse super::engine::X;\n// use crate::ws::Caller;\n/// see crate::http\nlet s = \"crate::cli\";\nuse my_crate::ws::Y;\n";
        let dir = tree(&[("lib.rs", &lib), ("plugins/mod.rs", text)]);
        assert_eq!(check(dir.path()).unwrap(), Vec::new());
    }

    #[test]
    fn a_re_export_at_the_root_and_a_file_of_no_floor_are_refused() {
        let lib = format!("{}pub use ws::Caller;\n", all_declared());
        let refused = check(tree(&[("lib.rs", &lib)]).path()).unwrap_err();
        assert!(refused.to_string().contains("imports nothing"), "{refused}");
        let lib = all_declared();
        let dir = tree(&[("lib.rs", &lib), ("attic/mod.rs", "use crate::cli::X;")]);
        let refused = check(dir.path()).unwrap_err();
        assert!(
            refused
                .to_string()
                .contains("attic/mod.rs is in module attic"),
            "{refused}"
        );
    }

    #[test]
    fn a_module_on_no_floor_is_refused() {
        let dir = tree(&[("lib.rs", &format!("{}pub mod attic;\n", all_declared()))]);
        let refused = check(dir.path()).unwrap_err().to_string();
        assert!(refused.contains("attic stands on no floor"), "{refused}");
        let dir = tree(&[("lib.rs", LIB)]);
        let refused = check(dir.path()).unwrap_err().to_string();
        assert!(
            refused.contains("which lib.rs does not declare"),
            "{refused}"
        );
    }
}
