//! The console's files, embedded at build time from `runtime/console/`.

pub struct Asset {
    pub body: &'static [u8],
    pub content_type: &'static str,
}

macro_rules! files {
    ($($name:literal => $type:expr),* $(,)?) => {
        const FILES: &[(&str, Asset)] = &[$(
            ($name, Asset {
                body: include_bytes!(concat!("../../console/", $name)),
                content_type: $type,
            }),
        )*];
    };
}

const JS: &str = "text/javascript; charset=utf-8";

files! {
    "index.html" => "text/html; charset=utf-8",
    "style.css" => "text/css; charset=utf-8",
    "app.js" => JS,
    "dom.js" => JS,
    "hub.js" => JS,
    "overview.js" => JS,
    "plugins.js" => JS,
    "grants.js" => JS,
    "audit.js" => JS,
    "activity.js" => JS,
    "devices.js" => JS,
    "sessions.js" => JS,
    "market.js" => JS,
}

/// The file `path` names: `/` is the page, `/console/NAME` the rest.
pub fn find(path: &str) -> Option<&'static Asset> {
    let name = match path {
        "/" => "index.html",
        _ => path.strip_prefix("/console/")?,
    };
    FILES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, asset)| asset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_script_is_served_as_javascript_and_nothing_outside_the_folder() {
        assert_eq!(find("/").unwrap().content_type, "text/html; charset=utf-8");
        assert_eq!(find("/console/app.js").unwrap().content_type, JS);
        for path in [
            "/console/../Cargo.toml",
            "/console/",
            "/index.html",
            "/console/x.js",
        ] {
            assert!(find(path).is_none(), "{path}");
        }
    }
}
