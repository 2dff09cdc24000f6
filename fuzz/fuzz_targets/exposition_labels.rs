//! The exposition renderer with hostile label values (host group names
//! come from the config file): every sample line of both formats is
//! well formed, with the value escaped so it reads back as written.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringflow::capture::stats::CaptureStats;
use ringflow::collector::Snapshot;
use ringflow::export::{Format, render};
use std::sync::Arc;

/// Reads `name{label="value",...} number` and returns the label values
/// unescaped, or None if the line is not well formed.
fn sample(line: &str) -> Option<Vec<String>> {
    let name_end = line.find(['{', ' '])?;
    let name = &line[..name_end];
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
        return None;
    }
    let mut rest = &line[name_end..];
    let mut values = Vec::new();
    if let Some(r) = rest.strip_prefix('{') {
        rest = r;
        loop {
            if let Some(r) = rest.strip_prefix('}') {
                rest = r;
                break;
            }
            let eq = rest.find("=\"")?;
            rest = &rest[eq + 2..];
            let mut value = String::new();
            let mut chars = rest.char_indices();
            let end = loop {
                let (i, c) = chars.next()?;
                match c {
                    '"' => break i,
                    '\\' => match chars.next()?.1 {
                        '\\' => value.push('\\'),
                        '"' => value.push('"'),
                        'n' => value.push('\n'),
                        _ => return None,
                    },
                    '\n' => return None,
                    c => value.push(c),
                }
            };
            values.push(value);
            rest = &rest[end + 1..];
            rest = rest.strip_prefix(',').unwrap_or(rest);
        }
    }
    let v = rest.strip_prefix(' ')?;
    v.split(' ').next()?.parse::<f64>().ok()?;
    Some(values)
}

fuzz_target!(|data: &[u8]| {
    let group = String::from_utf8_lossy(data).into_owned();
    let mut s = Snapshot::empty(1);
    s.detection.groups = vec![group.clone()];
    let s = Arc::new(s);
    for format in [Format::Text, Format::OpenMetrics] {
        let text = render(s.clone(), Arc::new(CaptureStats::default()), format);
        let mut seen = false;
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let values = sample(line).unwrap_or_else(|| panic!("malformed: {line:?}"));
            seen |= values.contains(&group);
        }
        assert!(seen, "the group's series carry its name as written");
    }
});
