//! `uv.lock` after a release (see [`crate::apply::lockfile`]).

use crate::apply::lockfile::{Bumped, Kind, Requirement, Splices, inner, move_version, parse_toml};
use crate::diagnostic::SourceError;

/// `uv.lock`: members' `version` and their `requires-dist` specifiers.
pub(crate) fn uv_lock(
    file: &str,
    text: &str,
    bumped: &[(&Bumped, String)],
    requirements: &[(&Requirement, String)],
) -> Result<Splices, SourceError> {
    let kind = Kind::UvLock;
    let doc = parse_toml(kind, file, text)?;
    let mut out = Vec::new();
    let Some(packages) = doc
        .get("package")
        .and_then(toml_edit::Item::as_array_of_tables)
    else {
        return Ok(Splices(out));
    };
    let member = |t: &toml_edit::Table| {
        t.get("source")
            .and_then(toml_edit::Item::as_table_like)
            .is_some_and(|s| {
                s.contains_key("editable")
                    || s.contains_key("virtual")
                    || s.contains_key("directory")
            })
    };
    let normal = crate::ecosystem::python::normalize_name;
    for (b, _) in bumped {
        for table in packages.iter().filter(|t| member(t)) {
            if table
                .get("name")
                .and_then(toml_edit::Item::as_str)
                .map(normal)
                != Some(normal(b.name))
            {
                continue;
            }
            if let Some(version) = table.get("version") {
                move_version(kind, file, text, b, version, &mut out)?;
            }
        }
    }
    for (r, _) in requirements {
        for table in packages.iter().filter(|t| member(t)) {
            let Some(dist) = table
                .get("metadata")
                .and_then(toml_edit::Item::as_table_like)
                .and_then(|m| m.get("requires-dist"))
                .and_then(toml_edit::Item::as_array)
            else {
                continue;
            };
            for entry in dist.iter().filter_map(toml_edit::Value::as_inline_table) {
                if entry
                    .get("name")
                    .and_then(toml_edit::Value::as_str)
                    .map(normal)
                    != Some(normal(r.name))
                {
                    continue;
                }
                if let Some(spec) = entry.get("specifier")
                    && spec.as_str() == Some(r.from)
                    && let Some(span) = spec.span()
                {
                    out.push((inner(span), r.to.to_owned()));
                }
            }
        }
    }
    Ok(Splices(out))
}
