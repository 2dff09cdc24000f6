//! The dashboard's files, embedded in the binary: the page, its script
//! and style, and the vendored chart library (`web/vendor`, from the npm
//! registry). Each is gzipped once, at first use, at the best level.

use flate2::Compression;
use std::sync::OnceLock;

/// An embedded file, plain and gzipped.
pub struct Asset {
    pub content_type: &'static str,
    pub plain: &'static [u8],
    pub gzip: &'static [u8],
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// (path, content type, contents)
const FILES: [(&str, &str, &[u8]); 6] = [
    (
        "/dashboard",
        "text/html; charset=utf-8",
        include_bytes!("web/dashboard.html"),
    ),
    ("/dashboard/app.js", JS, include_bytes!("web/app.js")),
    ("/dashboard/app.css", CSS, include_bytes!("web/app.css")),
    (
        "/dashboard/icon.svg",
        "image/svg+xml",
        include_bytes!("web/icon.svg"),
    ),
    (
        "/dashboard/uPlot.iife.min.js",
        JS,
        include_bytes!("web/vendor/uplot/uPlot.iife.min.js"),
    ),
    (
        "/dashboard/uPlot.min.css",
        CSS,
        include_bytes!("web/vendor/uplot/uPlot.min.css"),
    ),
];

/// The paths served, for tests and the size benchmark.
pub fn paths() -> impl Iterator<Item = &'static str> {
    FILES.iter().map(|f| f.0)
}

/// The embedded file at `path`, if any.
pub fn asset(path: &str) -> Option<Asset> {
    static GZ: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    let i = FILES.iter().position(|f| f.0 == path)?;
    // compressing into memory does not fail
    let gz = GZ.get_or_init(|| {
        FILES
            .iter()
            .map(|f| super::format::gzip(f.2, Compression::best()).unwrap_or_default())
            .collect()
    });
    Some(Asset {
        content_type: FILES[i].1,
        plain: FILES[i].2,
        gzip: &gz[i],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_served_and_fetches_nothing_from_elsewhere() {
        for p in paths() {
            let a = asset(p).unwrap();
            assert!(!a.plain.is_empty() && !a.gzip.is_empty(), "{p}");
        }
        let page = std::str::from_utf8(asset("/dashboard").unwrap().plain).unwrap();
        let app = std::str::from_utf8(asset("/dashboard/app.js").unwrap().plain).unwrap();
        for text in [page, app] {
            // no absolute URL but the SVG namespace: everything comes
            // from this server
            let urls = text.replace("http://www.w3.org/2000/svg", "");
            assert!(!urls.contains("http://") && !urls.contains("https://"));
            assert!(!text.contains("<script>"), "no inline script");
            assert!(!text.contains("innerHTML"), "values go in as text");
        }
    }
}
