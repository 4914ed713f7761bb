//! `--filter`: choosing packages the way pnpm does.
//!
//! A filter is a name or a glob over names (`@acme/*`, `cargo:acme`), a directory (`./crates/x`,
//! `{crates/*}`, every package at or below it), or `[<ref>]` (packages changed since the merge base
//! with `ref`). `name...` adds everything it depends on, `...name` everything that depends on it;
//! `^` drops the package itself (`name^...`, `...^name`). A leading `!` excludes. Several filters
//! add up; when all of them exclude, they exclude from every package.

use std::collections::VecDeque;

use crate::changes::history::{self, SharedPaths};
use crate::workspace::Workspace;

/// Why a filter selects nothing sensible.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error("the filter `{filter}` matches no package")]
    NoMatch { filter: String },
    #[error("the filter `{filter}` is not valid: {reason}")]
    Invalid { filter: String, reason: String },
    #[error(transparent)]
    History(#[from] history::HistoryError),
}

struct Parsed<'a> {
    exclude: bool,
    dependencies: bool,
    dependents: bool,
    include_self: bool,
    selector: &'a str,
}

fn parse(filter: &str) -> Parsed<'_> {
    let (exclude, mut s) = match filter.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, filter),
    };
    let mut include_self = true;
    let dependents = s.starts_with("...");
    if dependents {
        s = &s[3..];
        if let Some(rest) = s.strip_prefix('^') {
            s = rest;
            include_self = false;
        }
    }
    let dependencies = s.ends_with("...");
    if dependencies {
        s = &s[..s.len() - 3];
        if let Some(rest) = s.strip_suffix('^') {
            s = rest;
            include_self = false;
        }
    }
    Parsed {
        exclude,
        dependencies,
        dependents,
        include_self,
        selector: s,
    }
}

/// The packages `filters` select, as a mask over `ws.packages`.
pub fn select(
    repo: Option<&gix::Repository>,
    ws: &Workspace,
    filters: &[String],
    shared: SharedPaths,
) -> Result<Vec<bool>, FilterError> {
    let n = ws.packages.len();
    let mut include = vec![false; n];
    let mut exclude = vec![false; n];
    let mut any_include = false;
    for filter in filters {
        let parsed = parse(filter.trim());
        let invalid = |reason: &str| FilterError::Invalid {
            filter: filter.clone(),
            reason: reason.to_owned(),
        };
        let s = parsed.selector;
        let roots: Vec<usize> =
            if let Some(rev) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
                let repo = repo.ok_or_else(|| invalid("`[<ref>]` needs a git repository"))?;
                history::changed_since(repo, ws, rev, shared)?.packages
            } else if s.starts_with("./") || s.starts_with('{') || s == "." {
                let dir = s
                    .trim_start_matches('{')
                    .trim_end_matches('}')
                    .trim_start_matches("./")
                    .trim_end_matches('/');
                let dir = if dir.is_empty() { "." } else { dir };
                let pattern = glob::Pattern::new(dir).map_err(|e| invalid(&e.to_string()))?;
                (0..n)
                    .filter(|&p| {
                        let path = &ws.packages[p].path;
                        dir == "."
                            || pattern.matches(path)
                            || path
                                .char_indices()
                                .filter(|(_, c)| *c == '/')
                                .any(|(i, _)| pattern.matches(&path[..i]))
                    })
                    .collect()
            } else if s.is_empty() {
                return Err(invalid("it names no package"));
            } else {
                let pattern = glob::Pattern::new(s).map_err(|e| invalid(&e.to_string()))?;
                (0..n)
                    .filter(|&p| {
                        let package = &ws.packages[p];
                        pattern.matches(&package.name) || pattern.matches(&package.id())
                    })
                    .collect()
            };
        if roots.is_empty() && !s.starts_with('[') {
            return Err(FilterError::NoMatch {
                filter: filter.clone(),
            });
        }
        let mut hit = vec![false; n];
        for &r in &roots {
            if parsed.include_self {
                hit[r] = true;
            }
        }
        for (wanted, forward) in [(parsed.dependencies, true), (parsed.dependents, false)] {
            if !wanted {
                continue;
            }
            let mut queue: VecDeque<usize> = roots.iter().copied().collect();
            let mut seen = vec![false; n];
            while let Some(p) = queue.pop_front() {
                let next = if forward {
                    ws.graph.dependencies(p)
                } else {
                    ws.graph.dependents(p)
                };
                for &(q, _) in next {
                    if !seen[q] {
                        seen[q] = true;
                        hit[q] = true;
                        queue.push_back(q);
                    }
                }
            }
        }
        let target = if parsed.exclude {
            &mut exclude
        } else {
            any_include = true;
            &mut include
        };
        for p in 0..n {
            target[p] |= hit[p];
        }
    }
    Ok((0..n)
        .map(|p| (include[p] || !any_include) && !exclude[p])
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pnpm_forms() {
        let p = parse("!...^@acme/core...");
        assert!(p.exclude && p.dependents && p.dependencies && !p.include_self);
        assert_eq!(p.selector, "@acme/core");
        let p = parse("core^...");
        assert!(!p.exclude && !p.dependents && p.dependencies && !p.include_self);
        assert_eq!(p.selector, "core");
        let p = parse("./packages/x");
        assert!(p.include_self && !p.dependencies);
    }
}
