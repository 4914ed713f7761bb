//! `Cargo.lock` after a release (see [`crate::apply::lockfile`]).

use crate::apply::lockfile::{Bumped, Kind, Splices, inner, move_version, parse_toml};
use crate::diagnostic::SourceError;

/// `Cargo.lock`: the workspace's `[[package]]` entries (no `source`) and their `"name version"`
/// references.
pub(crate) fn cargo_lock(
    file: &str,
    text: &str,
    bumped: &[(&Bumped, String)],
) -> Result<Splices, SourceError> {
    let kind = Kind::CargoLock;
    let doc = parse_toml(kind, file, text)?;
    let mut out = Vec::new();
    let Some(packages) = doc
        .get("package")
        .and_then(toml_edit::Item::as_array_of_tables)
    else {
        return Ok(Splices(out));
    };
    for (b, _) in bumped {
        for table in packages {
            if table.get("name").and_then(toml_edit::Item::as_str) != Some(b.name)
                || table.contains_key("source")
            {
                continue;
            }
            if let Some(version) = table.get("version") {
                move_version(kind, file, text, b, version, &mut out)?;
            }
        }
        // `"name version"` references, written when a name is ambiguous.
        let reference = format!("{} {}", b.name, b.from);
        for table in packages {
            let Some(deps) = table
                .get("dependencies")
                .and_then(toml_edit::Item::as_array)
            else {
                continue;
            };
            for dep in deps {
                if dep.as_str() == Some(reference.as_str())
                    && let Some(span) = dep.span()
                {
                    out.push((inner(span), format!("{} {}", b.name, b.to)));
                }
            }
        }
    }
    Ok(Splices(out))
}
