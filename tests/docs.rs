//! The manual against the program: every flag `--help` lists (of every
//! command) is in the manual, every relative link in README and `docs/`
//! leads to a file and a heading that exist, and README stays a front
//! door (at most 400 lines).

use std::collections::BTreeSet;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README and every page of `docs/`: (path, text).
fn pages() -> Vec<(PathBuf, String)> {
    let mut v = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    v.extend(docs);
    v.into_iter()
        .map(|p| {
            let t = std::fs::read_to_string(&p).unwrap();
            (p, t)
        })
        .collect()
}

/// Every long flag of `cmd` and its subcommands, but help and version.
fn flags(cmd: &clap::Command, out: &mut BTreeSet<String>) {
    for a in cmd.get_arguments() {
        if a.is_hide_set() {
            continue;
        }
        if let Some(l) = a.get_long()
            && l != "help"
            && l != "version"
        {
            out.insert(format!("--{l}"));
        }
    }
    for s in cmd.get_subcommands() {
        flags(s, out);
    }
}

#[test]
fn every_flag_help_lists_is_in_the_manual() {
    let mut all = BTreeSet::new();
    flags(&ringflow::config::Cli::command_with_defaults(), &mut all);
    assert!(all.len() > 80, "{all:?}");
    let manual: String = pages()
        .into_iter()
        .filter(|(p, _)| p.parent().is_some_and(|d| d.ends_with("docs")))
        .map(|(_, t)| t)
        .collect();
    let missing: Vec<&String> = all
        .iter()
        .filter(|f| {
            // the flag as written in a table or the text: `--flag` or
            // `--flag VALUE`, not a longer flag it begins
            !manual.match_indices(f.as_str()).any(|(i, _)| {
                let after = manual[i + f.len()..].chars().next();
                !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
            })
        })
        .collect();
    assert!(missing.is_empty(), "not in docs/: {missing:?}");
}

/// GitHub's anchor of a heading: lower case, punctuation but `-` and `_`
/// dropped, spaces to `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(text: &str) -> BTreeSet<String> {
    let mut in_code = false;
    let mut out = BTreeSet::new();
    for l in text.lines() {
        if l.starts_with("```") {
            in_code = !in_code;
        } else if !in_code && l.starts_with('#') {
            out.insert(slug(l.trim_start_matches('#')));
        }
    }
    out
}

#[test]
fn every_link_in_the_manual_leads_somewhere() {
    let mut bad = Vec::new();
    for (page, text) in pages() {
        let dir = page.parent().unwrap();
        for (i, _) in text.match_indices("](") {
            let rest = &text[i + 2..];
            let Some(end) = rest.find(')') else { continue };
            let target = &rest[..end];
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (file, anchor) = match target.split_once('#') {
                Some((f, a)) => (f, Some(a)),
                None => (target, None),
            };
            let path = if file.is_empty() {
                page.clone()
            } else {
                dir.join(file)
            };
            let shown = format!("{}: {target}", page.strip_prefix(root()).unwrap().display());
            if !path.exists() {
                bad.push(format!("{shown} (no such file)"));
                continue;
            }
            if let Some(a) = anchor
                && path.is_file()
                && !anchors(&std::fs::read_to_string(&path).unwrap()).contains(a)
            {
                bad.push(format!("{shown} (no such heading)"));
            }
        }
    }
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn readme_is_a_front_door() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(lines <= 400, "README.md has {lines} lines");
    // every page of the manual is in its map
    for (page, _) in pages().iter().skip(1) {
        let name = page.file_name().unwrap().to_str().unwrap();
        assert!(
            readme.contains(&format!("(docs/{name})")),
            "{name} is not in README's map"
        );
    }
}
