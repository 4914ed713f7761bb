//! Rewriting a dependent's requirement so it targets a dependency's new version, in the style it
//! was written: `^1.2.0` → `^1.3.0`, `~1.2` → `~1.3`, `=1.2.0` → `=1.3.0`, `>=1.2` → `>=1.3`,
//! Cargo's bare `1.2` (a caret) → `1.3`, PEP 440 `>=1.2.0` → `>=1.3.0`, `==1.2.0` → `==1.3.0`.
//!
//! What follows the version by definition (`workspace:*`, `workspace:^`, `workspace:~`, `*`, paths)
//! is left alone. A compound range (`>=1, <2`, `^1 || ^2`) is kept when it still holds the new
//! version and is an error when it does not: rewriting it would be a guess.

use semver::Version;

use super::{bump::to_pep440, satisfies_cargo, satisfies_npm, satisfies_pep440};
use crate::workspace::Ecosystem;

/// The requirement rewritten for `new`; `Ok(None)` when it stays as written. `Err` says why it
/// cannot be rewritten safely. The dialect is the ecosystem's
/// ([`crate::ecosystem::Adapter::rewrite_requirement`]).
pub fn rewrite(
    ecosystem: Ecosystem,
    requirement: &str,
    new: &Version,
) -> Result<Option<String>, String> {
    ecosystem
        .adapter()
        .rewrite_requirement(requirement.trim(), new)
}

/// A Cargo requirement rewritten: one comparator, at the precision written.
pub(crate) fn cargo(req: &str, new: &Version) -> Result<Option<String>, String> {
    single(req, new, &["=", "^", "~", ">="], satisfies_cargo, false)
}

/// A PEP 440 specifier rewritten: one clause, rendered PEP 440.
pub(crate) fn pep440(req: &str, new: &Version) -> Result<Option<String>, String> {
    let ecosystem: Reads = satisfies_pep440;
    let rendered = to_pep440(new)?;
    let clauses: Vec<&str> = req
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    let [clause] = clauses.as_slice() else {
        return compound(ecosystem, req, new);
    };
    let Some(op) = ["===", "==", "~=", ">="]
        .into_iter()
        .find(|op| clause.starts_with(op))
    else {
        return compound(ecosystem, req, new);
    };
    let old = clause[op.len()..].trim();
    if old.ends_with(".*") {
        return compound(ecosystem, req, new);
    }
    // `~=` needs at least two release parts; keep as many as were written.
    let parts = old.split('.').count().max(2);
    let value = if op == "~=" {
        truncate(&rendered, parts)
    } else {
        rendered
    };
    Ok(Some(format!("{op}{value}")))
}

/// A requirement of `version` written with a caret (`prefix` `^`) or exactly (`prefix` empty), in
/// the ecosystem's own syntax ([`crate::ecosystem::Adapter::requirement`]): npm `^1.3.0`/`1.3.0`,
/// Cargo `1.3.0`/`=1.3.0`, PEP 440 `>=1.3.0`/`==1.3.0`.
pub fn with_prefix(ecosystem: Ecosystem, prefix: &str, version: &str) -> String {
    ecosystem.adapter().requirement(version, prefix.is_empty())
}

/// An npm requirement rewritten: protocols (`workspace:`, `npm:` aliases) kept, paths and tags
/// left alone.
pub(crate) fn npm(req: &str, new: &Version) -> Result<Option<String>, String> {
    if let Some(rest) = req.strip_prefix("workspace:") {
        if matches!(rest, "*" | "^" | "~") {
            return Ok(None);
        }
        return npm(rest, new).map(|r| r.map(|r| format!("workspace:{r}")));
    }
    if let Some(alias) = req.strip_prefix("npm:") {
        let at = alias
            .get(1..)
            .and_then(|a| a.find('@'))
            .map(|i| i + 1)
            .ok_or_else(|| format!("`{req}` names no version"))?;
        let (name, range) = (&alias[..at], &alias[at + 1..]);
        return npm(range, new).map(|r| r.map(|r| format!("npm:{name}@{r}")));
    }
    if ["file:", "link:", "portal:"]
        .iter()
        .any(|p| req.starts_with(p))
        || matches!(req, "*" | "" | "x" | "latest")
    {
        return Ok(None);
    }
    single(req, new, &["^", "~", ">=", "="], satisfies_npm, true)
}

/// A requirement of one comparator: the operator kept, the version replaced at the precision
/// written (`~1.2` stays two parts when the new version allows it).
fn single(
    req: &str,
    new: &Version,
    ops: &[&str],
    ecosystem: Reads,
    full: bool,
) -> Result<Option<String>, String> {
    let op = ops
        .iter()
        .find(|op| req.starts_with(**op))
        .copied()
        .unwrap_or("");
    let old = req[op.len()..].trim();
    let simple = !old.is_empty()
        && old
            .split(['.', '-', '+'])
            .next()
            .is_some_and(|m| m.chars().all(|c| c.is_ascii_digit()))
        && !old.contains([' ', ',', '|', '<', '>', '*', 'x', 'X']);
    if !simple {
        return compound(ecosystem, req, new);
    }
    let parts = old
        .split(['-', '+'])
        .next()
        .unwrap_or(old)
        .split('.')
        .count();
    // `full`: npm requirements get the full version, as changesets and `npm version` write them.
    let value = if new.pre.is_empty() && new.build.is_empty() && !full {
        truncate(&new.to_string(), parts)
    } else {
        new.to_string()
    };
    Ok(Some(format!("{op}{value}")))
}

/// `1.3.0` cut to `parts` release parts when the dropped ones are zero (`1.3.0`, 2 → `1.3`).
fn truncate(version: &str, parts: usize) -> String {
    let pieces: Vec<&str> = version.split('.').collect();
    if parts >= pieces.len() || pieces[parts..].iter().any(|p| *p != "0") {
        return version.to_owned();
    }
    pieces[..parts].join(".")
}

/// How an ecosystem reads a requirement (`version::satisfies_*`).
type Reads = fn(&str, &str) -> Option<bool>;

/// A compound requirement: kept when it still allows `new`, an error when it does not.
fn compound(reads: Reads, req: &str, new: &Version) -> Result<Option<String>, String> {
    match reads(req, &new.to_string()) {
        Some(true) => Ok(None),
        _ => Err(format!(
            "`{req}` does not allow {new} and has no single version to replace; rewrite it by hand"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rw(eco: Ecosystem, req: &str, new: &str) -> Result<Option<String>, String> {
        rewrite(eco, req, &Version::parse(new).unwrap())
    }

    #[test]
    fn npm_keeps_the_operator_and_protocol() {
        use Ecosystem::Npm;
        assert_eq!(
            rw(Npm, "^1.2.0", "1.3.0").unwrap().as_deref(),
            Some("^1.3.0")
        );
        assert_eq!(
            rw(Npm, "~1.2.0", "1.3.0").unwrap().as_deref(),
            Some("~1.3.0")
        );
        assert_eq!(
            rw(Npm, "1.2.0", "2.0.0-beta.1").unwrap().as_deref(),
            Some("2.0.0-beta.1")
        );
        assert_eq!(
            rw(Npm, ">=1.2.0", "1.3.0").unwrap().as_deref(),
            Some(">=1.3.0")
        );
        assert_eq!(
            rw(Npm, "workspace:^1.2.0", "1.3.0").unwrap().as_deref(),
            Some("workspace:^1.3.0")
        );
        assert_eq!(
            rw(Npm, "npm:@acme/core@^1.2.0", "1.3.0")
                .unwrap()
                .as_deref(),
            Some("npm:@acme/core@^1.3.0")
        );
        assert_eq!(rw(Npm, "workspace:*", "1.3.0").unwrap(), None);
        assert_eq!(rw(Npm, "workspace:^", "1.3.0").unwrap(), None);
        assert_eq!(rw(Npm, "file:../core", "1.3.0").unwrap(), None);
        assert_eq!(
            rw(Npm, ">=1.0.0 <3.0.0", "2.0.0").unwrap(),
            None,
            "a compound range that still holds stays"
        );
        assert!(
            rw(Npm, "^1.0.0 || ^2.0.0", "3.0.0")
                .unwrap_err()
                .contains("rewrite it by hand")
        );
    }

    #[test]
    fn cargo_keeps_the_precision_written() {
        use Ecosystem::Cargo;
        assert_eq!(rw(Cargo, "1.2", "1.3.0").unwrap().as_deref(), Some("1.3"));
        assert_eq!(rw(Cargo, "1.2", "1.3.1").unwrap().as_deref(), Some("1.3.1"));
        assert_eq!(
            rw(Cargo, "1.2.0", "1.3.0").unwrap().as_deref(),
            Some("1.3.0")
        );
        assert_eq!(
            rw(Cargo, "=1.2.0", "1.2.1").unwrap().as_deref(),
            Some("=1.2.1")
        );
        assert_eq!(rw(Cargo, "~0.4", "0.5.0").unwrap().as_deref(), Some("~0.5"));
        assert_eq!(rw(Cargo, ">=1.0, <2", "1.5.0").unwrap(), None);
        assert!(rw(Cargo, ">=1.0, <2", "2.0.0").is_err());
    }

    #[test]
    fn python_renders_pep_440() {
        use Ecosystem::Python;
        assert_eq!(
            rw(Python, ">=1.2", "1.3.0").unwrap().as_deref(),
            Some(">=1.3.0")
        );
        assert_eq!(
            rw(Python, "==1.2.0", "1.3.0-rc.1").unwrap().as_deref(),
            Some("==1.3.0rc1")
        );
        assert_eq!(
            rw(Python, "~=1.2", "1.3.0").unwrap().as_deref(),
            Some("~=1.3")
        );
        assert_eq!(rw(Python, ">=1.2,<2", "1.9.0").unwrap(), None);
        assert!(rw(Python, ">=1.2,<2", "2.0.0").is_err());
    }
}
