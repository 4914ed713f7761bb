//! npm's, pnpm's and yarn's lockfiles after a release (see [`crate::apply::lockfile`]).

use std::ops::Range;

use crate::apply::lockfile::{Bumped, Kind, Requirement, Splices, inner, stale};
use crate::diagnostic::SourceError;

/// `package-lock.json` and `npm-shrinkwrap.json`: each workspace member's `version` and its copied
/// requirements.
pub(crate) fn package_lock(
    file: &str,
    text: &str,
    bumped: &[(&Bumped, String)],
    requirements: &[(&Requirement, String)],
) -> Result<Splices, SourceError> {
    let kind = Kind::PackageLock;
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    let doc: serde_json::Value = serde_json::from_str(body).map_err(|e| {
        SourceError::new(file, format!("the lockfile does not parse: {e}"))
            .help(format!("repair it with `{}`", kind.refresh()))
    })?;
    let version = doc
        .get("lockfileVersion")
        .and_then(serde_json::Value::as_u64);
    if !matches!(version, Some(2 | 3)) {
        let at = crate::json::nearest_span(text, &["lockfileVersion"]).start;
        return Err(SourceError::new(
            file,
            format!(
                "lockfileVersion {} has no workspace entries polyship can update",
                version.map_or_else(|| "(none)".to_owned(), |v| v.to_string())
            ),
        )
        .at(text, at)
        .help("upgrade it with npm 7 or newer (`npm install --package-lock-only`), or pass `--no-lockfile`"));
    }
    let packages = doc.get("packages");
    let mut out = Vec::new();
    for (b, rel) in bumped {
        let Some(entry) = packages.and_then(|p| p.get(rel.as_str())) else {
            return Err(stale(
                kind,
                file,
                text,
                crate::json::nearest_span(text, &["packages"]).start,
                format!("`{}` ({}) has no entry in `packages`", b.name, b.path),
            ));
        };
        match entry.get("version").and_then(serde_json::Value::as_str) {
            None => {}
            Some(v) if v == b.to => {}
            Some(v) if v == b.from => {
                if let Some(span) = crate::json::value_span(text, &["packages", rel, "version"]) {
                    out.push((inner(span), b.to.to_owned()));
                }
            }
            Some(v) => {
                let at = crate::json::nearest_span(text, &["packages", rel, "version"]).start;
                return Err(stale(
                    kind,
                    file,
                    text,
                    at,
                    format!(
                        "`{}` is at {v} here, but its manifest says {}",
                        b.name, b.from
                    ),
                ));
            }
        }
    }
    for (r, rel) in requirements {
        let path = ["packages", rel.as_str(), r.field, r.name];
        let current = packages
            .and_then(|p| p.get(rel.as_str()))
            .and_then(|e| e.get(r.field))
            .and_then(|d| d.get(r.name))
            .and_then(serde_json::Value::as_str);
        match current {
            Some(v) if v == r.from => {
                if let Some(span) = crate::json::value_span(text, &path) {
                    out.push((inner(span), r.to.to_owned()));
                }
            }
            // npm leaves requirements out of some entries (the root of older lockfiles).
            None => {}
            Some(v) if v == r.to => {}
            Some(v) => {
                return Err(stale(
                    kind,
                    file,
                    text,
                    crate::json::nearest_span(text, &path).start,
                    format!(
                        "`{}` requires `{}` {v} here, but its manifest says {}",
                        r.dependent_path, r.name, r.from
                    ),
                ));
            }
        }
    }
    Ok(Splices(out))
}

/// One line of a YAML block mapping: its indentation, key (unquoted), and the byte span of its
/// scalar value (quotes excluded) when it has one on the same line.
struct YamlLine {
    indent: usize,
    key: String,
    value: Option<Range<usize>>,
}

fn yaml_line(line: &str, offset: usize) -> Option<YamlLine> {
    let trimmed = line.trim_end_matches(['\r', '\n']);
    let indent = trimmed.len() - trimmed.trim_start().len();
    let rest = &trimmed[indent..];
    if rest.is_empty() || rest.starts_with('#') || rest.starts_with('-') {
        return None;
    }
    let (key, after) = if let Some(q) = rest.chars().next().filter(|c| *c == '\'' || *c == '"') {
        let end = rest[1..].find(q)? + 1;
        let after = rest[end + 1..].strip_prefix(':')?;
        (rest[1..end].to_owned(), (after, indent + end + 2))
    } else {
        let colon = rest
            .find(": ")
            .or_else(|| rest.strip_suffix(':').map(str::len))?;
        (
            rest[..colon].to_owned(),
            (&rest[colon + 1..], indent + colon + 1),
        )
    };
    let (after, at) = after;
    let value_text = after.trim_start();
    let start = offset + at + (after.len() - value_text.len());
    let value = if value_text.is_empty() {
        None
    } else if let Some(q) = value_text
        .chars()
        .next()
        .filter(|c| *c == '\'' || *c == '"')
    {
        let end = value_text[1..].find(q)? + 1;
        Some(start + 1..start + end)
    } else {
        let end = value_text.find(" #").unwrap_or(value_text.len());
        Some(start..start + value_text[..end].trim_end().len())
    };
    Some(YamlLine { indent, key, value })
}

/// Every `(key path, value span)` of a block-style YAML document.
fn yaml_values(text: &str) -> Vec<(Vec<String>, Range<usize>)> {
    let mut out = Vec::new();
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if let Some(l) = yaml_line(line, offset) {
            while stack.last().is_some_and(|(i, _)| *i >= l.indent) {
                stack.pop();
            }
            stack.push((l.indent, l.key));
            if let Some(v) = l.value {
                out.push((stack.iter().map(|(_, k)| k.clone()).collect(), v));
            }
        }
        offset += line.len();
    }
    out
}

/// `pnpm-lock.yaml`: the importers' copied specifiers.
pub(crate) fn pnpm_lock(
    file: &str,
    text: &str,
    requirements: &[(&Requirement, String)],
) -> Result<Splices, SourceError> {
    let values = yaml_values(text);
    let version = values
        .iter()
        .find(|(k, _)| k.len() == 1 && k[0] == "lockfileVersion")
        .map(|(_, v)| text[v.clone()].to_owned());
    let v5 = version.as_deref().is_some_and(|v| v.starts_with('5'));
    if !version
        .as_deref()
        .is_some_and(|v| ["5", "6", "7", "9"].iter().any(|p| v.starts_with(p)))
    {
        return Err(SourceError::new(
            file,
            format!(
                "lockfileVersion {} is not one polyship can update",
                version.unwrap_or_default()
            ),
        )
        .help("update it with `pnpm install --lockfile-only`, or pass `--no-lockfile`"));
    }
    let has_importers = values
        .iter()
        .any(|(k, _)| k.first().is_some_and(|k| k == "importers"));
    let mut out = Vec::new();
    for (r, rel) in requirements {
        let importer = if rel.is_empty() {
            ".".to_owned()
        } else {
            rel.clone()
        };
        let mut path: Vec<String> = Vec::new();
        if has_importers {
            path.extend(["importers".to_owned(), importer]);
        } else if !rel.is_empty() {
            continue;
        }
        if v5 {
            path.extend(["specifiers".to_owned(), r.name.to_owned()]);
        } else {
            path.extend([
                r.field.to_owned(),
                r.name.to_owned(),
                "specifier".to_owned(),
            ]);
        }
        let Some((_, span)) = values.iter().find(|(k, _)| *k == path) else {
            continue;
        };
        let current = &text[span.clone()];
        if current == r.from {
            out.push((span.clone(), r.to.to_owned()));
        } else if current != r.to {
            return Err(stale(
                Kind::PnpmLock,
                file,
                text,
                span.start,
                format!(
                    "`{}` requires `{}` {current} here, but its manifest says {}",
                    r.dependent_path, r.name, r.from
                ),
            ));
        }
    }
    Ok(Splices(out))
}

/// `yarn.lock` (Berry): copied requirements in members and descriptor lists.
pub(crate) fn yarn_lock(text: &str, requirements: &[(&Requirement, String)]) -> Splices {
    if !text.contains("\n__metadata:") && !text.starts_with("__metadata:") {
        // Classic yarn links workspaces without recording them.
        return Splices(Vec::new());
    }
    let mut out = Vec::new();
    for (r, rel) in requirements {
        let member_path = if rel.is_empty() { "." } else { rel.as_str() };
        // Descriptors: `name@npm:^1.2.0` wherever a key lists it.
        for (old, new) in [
            (
                format!("{}@npm:{}", r.name, r.from),
                format!("{}@npm:{}", r.name, r.to),
            ),
            (
                format!("{}@{}", r.name, r.from),
                format!("{}@{}", r.name, r.to),
            ),
        ] {
            let mut offset = 0;
            for line in text.split_inclusive('\n') {
                if !line.starts_with(' ') {
                    for part in line.trim_end().trim_end_matches(':').split(", ") {
                        let part_clean = part.trim_matches('"');
                        if part_clean == old {
                            let at = offset + line.find(&old).unwrap_or(0);
                            out.push((at..at + old.len(), new.clone()));
                        }
                    }
                }
                offset += line.len();
            }
        }
        // The dependent member's `dependencies:` entry, and nobody else's.
        let mut offset = 0;
        let mut in_member = false;
        for line in text.split_inclusive('\n') {
            if !line.starts_with(' ') && !line.trim().is_empty() {
                in_member = line.contains(&format!("@workspace:{member_path}\""))
                    || line.contains(&format!("@workspace:{member_path}:"));
            }
            let trimmed = line.trim_start();
            for quoted_name in [format!("\"{}\": ", r.name), format!("{}: ", r.name)] {
                if let Some(value) = trimmed.strip_prefix(&quoted_name) {
                    let value = value.trim_end().trim_matches('"');
                    let bare = value.strip_prefix("npm:").unwrap_or(value);
                    if in_member && bare == r.from && line.starts_with("    ") {
                        let at = offset + line.rfind(r.from).unwrap_or(0);
                        out.push((at..at + r.from.len(), r.to.to_owned()));
                    }
                }
            }
            offset += line.len();
        }
    }
    Splices(out)
}
