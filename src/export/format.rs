//! The two exposition formats and how a scrape picks one.
//!
//! The exposition is rendered once, in OpenMetrics 1.0 (what
//! `prometheus-client` writes). The Prometheus text format 0.0.4, which
//! `promtool`, older Prometheus servers, Telegraf, vmagent and the
//! node_exporter textfile collector read, differs from it only in the
//! family headers: a counter family is named with its `_total` suffix, an
//! info family with `_info` and typed `gauge`, there is no `# UNIT` and no
//! `# EOF`, and HELP escapes only `\` and newline. [`to_text`] rewrites
//! those header lines and copies every sample line as it is, so both
//! formats carry the same samples, HELP and TYPE by construction.

/// Which format a response is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4: the default.
    Text,
    /// OpenMetrics 1.0.0, for clients that prefer it.
    OpenMetrics,
}

pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => TEXT_CONTENT_TYPE,
            Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
        }
    }

    /// The format an `Accept` header asks for, as node_exporter decides
    /// it: OpenMetrics only when a media range for it (version 1.0.0,
    /// 0.0.1 or none) has the highest weight among the ranges this server
    /// can serve; the text format in every other case, a missing,
    /// malformed or unknown header included. A range with a weight that
    /// is not a number from 0 to 1 is left out; among equal weights the
    /// first listed wins.
    pub fn negotiate(accept: Option<&str>) -> Format {
        let Some(accept) = accept else {
            return Format::Text;
        };
        let mut best: Option<(u16, Format)> = None;
        for range in accept.split(',') {
            let Some((q, format)) = media_range(range) else {
                continue;
            };
            if q > 0 && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, format));
            }
        }
        best.map_or(Format::Text, |(_, f)| f)
    }
}

/// One media range of an `Accept` header: its weight in thousandths and
/// the format it selects, or `None` for a range this server cannot serve
/// or cannot read.
fn media_range(range: &str) -> Option<(u16, Format)> {
    let mut parts = range.split(';').map(str::trim);
    let media = parts.next()?.to_ascii_lowercase();
    let mut q = 1000;
    let mut version = None;
    for p in parts {
        let (k, v) = p.split_once('=')?;
        let v = v.trim().trim_matches('"');
        match k.trim().to_ascii_lowercase().as_str() {
            "q" => q = weight(v)?,
            "version" => version = Some(v.to_string()),
            _ => {}
        }
    }
    let version = version.as_deref();
    let format = match media.as_str() {
        "application/openmetrics-text" if matches!(version, None | Some("1.0.0" | "0.0.1")) => {
            Format::OpenMetrics
        }
        // Prometheus 3 asks for text/plain 1.0.0: 0.0.4 with UTF-8 names
        // allowed, which ringflow's names do not need.
        "text/plain" if matches!(version, None | Some("0.0.4" | "1.0.0")) => Format::Text,
        "text/*" | "*/*" => Format::Text,
        _ => return None,
    };
    Some((q, format))
}

/// An HTTP weight (`0`, `0.5`, `1.000`: at most three decimals, RFC 9110)
/// in thousandths.
fn weight(v: &str) -> Option<u16> {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = match int {
        "0" => frac
            .bytes()
            .chain(std::iter::repeat(b'0'))
            .take(3)
            .fold(0u16, |n, b| n * 10 + u16::from(b - b'0')),
        "1" if frac.bytes().all(|b| b == b'0') => 1000,
        _ => return None,
    };
    Some(thousandths)
}

/// `data` gzipped in memory at `level`: the fastest for what is made
/// anew at each request (a large exposition still shrinks about tenfold,
/// and the scrape stays quick: see `bench/scrape_http.sh`), the best for
/// what is made once (the dashboard's files).
pub fn gzip(data: &[u8], level: flate2::Compression) -> std::io::Result<Vec<u8>> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::with_capacity(data.len() / 8), level);
    enc.write_all(data)?;
    enc.finish()
}

/// Whether an `Accept-Encoding` header accepts gzip (`gzip` or `*` with a
/// weight above 0, and gzip not refused by name).
pub fn accepts_gzip(accept_encoding: Option<&str>) -> bool {
    let Some(h) = accept_encoding else {
        return false;
    };
    let mut named = None;
    let mut any = None;
    for coding in h.split(',') {
        let mut parts = coding.split(';').map(str::trim);
        let name = parts.next().unwrap_or("").to_ascii_lowercase();
        let mut q = Some(1000);
        for p in parts {
            if let Some((k, v)) = p.split_once('=')
                && k.trim().eq_ignore_ascii_case("q")
            {
                q = weight(v.trim());
            }
        }
        let Some(q) = q else { continue };
        match name.as_str() {
            "gzip" | "x-gzip" => named = Some(q > 0),
            "*" => any = Some(q > 0),
            _ => {}
        }
    }
    named.or(any).unwrap_or(false)
}

/// Escapes a HELP text for OpenMetrics (backslash, newline, double quote).
pub fn openmetrics_help(help: &str) -> std::borrow::Cow<'_, str> {
    if !help.contains(['\\', '\n', '"']) {
        return help.into();
    }
    help.replace('\\', "\\\\")
        .replace('\n', "\\n")
        .replace('"', "\\\"")
        .into()
}

/// Rewrites an OpenMetrics exposition (as `prometheus-client` writes it:
/// `# HELP`, then `# TYPE`, then an optional `# UNIT`, then the samples of
/// the family) in the Prometheus text format 0.0.4.
pub fn to_text(om: &str) -> String {
    let mut out = String::with_capacity(om.len() + 1024);
    let mut rest = om;
    // The HELP line waits for its TYPE line, which decides the name.
    let mut help: Option<(&str, &str)> = None;
    while !rest.is_empty() {
        if !rest.starts_with('#') {
            // A run of sample lines, copied as they are, up to the next
            // comment line.
            let end = next_comment(rest);
            out.push_str(&rest[..end]);
            rest = &rest[end..];
            continue;
        }
        let end = rest.find('\n').map_or(rest.len(), |i| i + 1);
        let line = rest[..end].trim_end_matches('\n');
        rest = &rest[end..];
        if let Some(h) = line.strip_prefix("# HELP ") {
            let (name, text) = h.split_once(' ').unwrap_or((h, ""));
            help = Some((name, text));
        } else if let Some(t) = line.strip_prefix("# TYPE ") {
            let (name, kind) = t.split_once(' ').unwrap_or((t, "unknown"));
            let (suffix, kind) = match kind {
                "counter" => ("_total", "counter"),
                "info" => ("_info", "gauge"),
                "gauge" | "histogram" | "summary" => ("", kind),
                _ => ("", "untyped"),
            };
            if let Some((hname, text)) = help.take()
                && hname == name
            {
                out.push_str("# HELP ");
                out.push_str(name);
                out.push_str(suffix);
                out.push(' ');
                push_text_help(&mut out, text);
                out.push('\n');
            }
            out.push_str("# TYPE ");
            out.push_str(name);
            out.push_str(suffix);
            out.push(' ');
            out.push_str(kind);
            out.push('\n');
        }
        // `# UNIT` and `# EOF` have no equivalent in the text format.
    }
    out
}

/// Where the next line starting with `#` begins in `s` (which starts a
/// line), or `s.len()`.
fn next_comment(s: &str) -> usize {
    let b = s.as_bytes();
    let mut from = 0;
    while let Some(i) = s[from..].find('\n') {
        let next = from + i + 1;
        if b.get(next) == Some(&b'#') {
            return next;
        }
        from = next;
    }
    s.len()
}

/// An OpenMetrics HELP text as the text format escapes it: `\"` becomes
/// `"` (the text format has no such escape); `\\` and `\n` stay.
fn push_text_help(out: &mut String, text: &str) {
    let mut rest = text;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        match rest.as_bytes().get(i + 1) {
            Some(b'"') => out.push('"'),
            Some(b'\\') => out.push_str("\\\\"),
            Some(b'n') => out.push_str("\\n"),
            // A lone backslash: the text format needs it escaped.
            _ => {
                out.push_str("\\\\");
                rest = &rest[i + 1..];
                continue;
            }
        }
        rest = &rest[i + 2..];
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_or_unknown_accept_gets_text() {
        for h in [
            None,
            Some(""),
            Some("application/json"),
            Some("*/*"),
            Some("text/html,application/xhtml+xml;q=0.9"),
            Some(";;;,=,q=,"),
            Some("application/openmetrics-text; version=2.0.0"),
        ] {
            assert_eq!(Format::negotiate(h), Format::Text, "{h:?}");
        }
    }

    #[test]
    fn prometheus_accept_header_gets_openmetrics() {
        // what Prometheus 2.x sends
        let h = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::negotiate(Some(h)), Format::OpenMetrics);
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text")),
            Format::OpenMetrics
        );
        // what Prometheus 3 sends by default, and with the text format
        // put first in scrape_protocols
        let h3 = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
        assert_eq!(Format::negotiate(Some(h3)), Format::OpenMetrics);
        let text_first = "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=1.0.0;q=0.5";
        assert_eq!(Format::negotiate(Some(text_first)), Format::Text);
    }

    #[test]
    fn weights_decide_and_odd_weights_are_left_out() {
        let n = |h: &str| Format::negotiate(Some(h));
        assert_eq!(
            n("text/plain;version=0.0.4;q=0.5,application/openmetrics-text;q=0.4"),
            Format::Text
        );
        assert_eq!(
            n("text/plain;q=0.3,application/openmetrics-text;q=0.31"),
            Format::OpenMetrics
        );
        for odd in ["abc", "2", "-1", "0.5.5", "1.5", "0.1234", "", "1e0", " "] {
            let h = format!("application/openmetrics-text;q={odd},text/plain;q=0.1");
            assert_eq!(n(&h), Format::Text, "{h}");
        }
        assert_eq!(n("application/openmetrics-text;q=0"), Format::Text);
        // equal weights: the first listed
        assert_eq!(
            n("application/openmetrics-text,text/plain"),
            Format::OpenMetrics
        );
        assert_eq!(n("text/plain,application/openmetrics-text"), Format::Text);
    }

    #[test]
    fn gzip_only_when_accepted() {
        let g = |h: &str| accepts_gzip(Some(h));
        assert!(!accepts_gzip(None));
        assert!(g("gzip"));
        assert!(g("deflate, gzip;q=1.0, *;q=0.5"));
        assert!(g("*"));
        assert!(g("GZIP"));
        assert!(!g("gzip;q=0"));
        assert!(!g("*, gzip;q=0"));
        assert!(!g("identity"));
        assert!(!g("br, deflate"));
        assert!(!g("gzip;q=x"));
    }

    const OM: &str = "# HELP a_packets Packets, \\\"all\\\" of them.\n\
        # TYPE a_packets counter\n\
        a_packets_total 5\n\
        # HELP a_up Whether it is up.\n\
        # TYPE a_up gauge\n\
        a_up{iface=\"x\\\"y\"} 1\n\
        a_up{iface=\"z\"} 0\n\
        # HELP a_build Build.\n\
        # TYPE a_build info\n\
        a_build_info{version=\"1\"} 1\n\
        # HELP a_seconds Time.\n\
        # TYPE a_seconds histogram\n\
        # UNIT a_seconds seconds\n\
        a_seconds_sum 1.5\n\
        a_seconds_count 2\n\
        a_seconds_bucket{le=\"+Inf\"} 2\n\
        # EOF\n";

    #[test]
    fn text_format_renames_counter_and_info_headers_and_keeps_samples() {
        let t = to_text(OM);
        assert_eq!(
            t,
            "# HELP a_packets_total Packets, \"all\" of them.\n\
             # TYPE a_packets_total counter\n\
             a_packets_total 5\n\
             # HELP a_up Whether it is up.\n\
             # TYPE a_up gauge\n\
             a_up{iface=\"x\\\"y\"} 1\n\
             a_up{iface=\"z\"} 0\n\
             # HELP a_build_info Build.\n\
             # TYPE a_build_info gauge\n\
             a_build_info{version=\"1\"} 1\n\
             # HELP a_seconds Time.\n\
             # TYPE a_seconds histogram\n\
             a_seconds_sum 1.5\n\
             a_seconds_count 2\n\
             a_seconds_bucket{le=\"+Inf\"} 2\n"
        );
        let samples = |s: &str| -> Vec<String> {
            s.lines()
                .filter(|l| !l.starts_with('#'))
                .map(String::from)
                .collect()
        };
        assert_eq!(samples(&t), samples(OM));
    }

    #[test]
    fn help_escapes_are_what_each_format_allows() {
        assert_eq!(openmetrics_help("plain"), "plain");
        assert_eq!(
            openmetrics_help("a \"b\" \\ c\nd"),
            "a \\\"b\\\" \\\\ c\\nd"
        );
        let mut s = String::new();
        push_text_help(&mut s, "a \\\"b\\\" \\\\ c\\nd \\");
        assert_eq!(s, "a \"b\" \\\\ c\\nd \\\\");
    }
}
