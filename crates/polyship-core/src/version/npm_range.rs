//! npm version ranges, as node-semver reads them (`^1.2.0`, `~1.2`, `1.x`, `>=1 <2 || 3`, `1 - 2`).
//!
//! Only what release planning needs: whether a version satisfies a range. Prereleases follow
//! node-semver: `1.3.0-beta.1` satisfies a range only when some comparator of the same set names
//! a prerelease of `1.3.0` itself, so `^1.2.0` does not take `1.3.0-beta.1`.

use semver::Version;

/// A parsed range: sets joined by `||`, each a list of comparators that must all hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    sets: Vec<Vec<Comparator>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Comparator {
    op: Op,
    version: Version,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
}

/// A partial version as written: `1`, `1.2`, `1.2.3-beta.1`, with `x`/`*` wildcards.
#[derive(Debug, Clone, Copy)]
struct Partial<'a> {
    major: Option<u64>,
    minor: Option<u64>,
    patch: Option<u64>,
    pre: &'a str,
}

impl Partial<'_> {
    fn full(&self) -> Version {
        let mut v = Version::new(
            self.major.unwrap_or(0),
            self.minor.unwrap_or(0),
            self.patch.unwrap_or(0),
        );
        if !self.pre.is_empty() {
            v.pre = semver::Prerelease::new(self.pre).unwrap_or(semver::Prerelease::EMPTY);
        }
        v
    }
}

fn parse_partial(text: &str) -> Option<Partial<'_>> {
    let text = text.trim().trim_start_matches(['v', '=']).trim();
    let text = text.split('+').next().unwrap_or_default();
    let (numbers, pre) = match text.split_once('-') {
        Some((n, p)) => (n, p),
        None => (text, ""),
    };
    let mut parts = numbers.split('.');
    let mut next = || -> Option<Option<u64>> {
        match parts.next() {
            None | Some("x" | "X" | "*") => Some(None),
            Some(n) => n.parse().ok().map(Some),
        }
    };
    let (major, minor, patch) = (next()?, next()?, next()?);
    if parts.next().is_some() {
        return None;
    }
    // A wildcard makes every later part a wildcard (`1.x.3` is `1.x`).
    let minor = major.and(minor);
    let patch = minor.and(patch);
    Some(Partial {
        major,
        minor,
        patch,
        pre,
    })
}

fn cmp(op: Op, version: Version) -> Comparator {
    Comparator { op, version }
}

/// The comparators one term (`^1.2`, `>=1.0.0`, `1.x`) stands for.
fn term(text: &str) -> Option<Vec<Comparator>> {
    let (op, rest) = ["<=", ">=", "<", ">", "=", "^", "~>", "~"]
        .iter()
        .find_map(|op| text.strip_prefix(op).map(|rest| (*op, rest)))
        .unwrap_or(("", text));
    let p = parse_partial(rest)?;
    let base = p.full();
    // Bounds one past a part: `None` (no range) when the part is already the largest there is.
    let next_major = |m: u64| m.checked_add(1).map(|m| Version::new(m, 0, 0));
    let pre0 = |mut v: Version| {
        v.pre = semver::Prerelease::new("0").unwrap_or(semver::Prerelease::EMPTY);
        v
    };
    Some(match op {
        "" | "=" => match (p.major, p.minor, p.patch) {
            (None, _, _) => vec![cmp(Op::Ge, Version::new(0, 0, 0))],
            (Some(m), None, _) => vec![cmp(Op::Ge, base), cmp(Op::Lt, pre0(next_major(m)?))],
            (Some(m), Some(n), None) => vec![
                cmp(Op::Ge, base),
                cmp(Op::Lt, pre0(Version::new(m, n.checked_add(1)?, 0))),
            ],
            _ => vec![cmp(Op::Eq, base)],
        },
        "^" => {
            let upper = match (p.major, p.minor, p.patch) {
                (None, _, _) => return Some(vec![cmp(Op::Ge, Version::new(0, 0, 0))]),
                (Some(0), Some(0), Some(z)) => Version::new(0, 0, z.checked_add(1)?),
                (Some(0), Some(n), _) if p.patch.is_some() || n > 0 => {
                    Version::new(0, n.checked_add(1)?, 0)
                }
                (Some(0), Some(0), None) => Version::new(0, 1, 0),
                (Some(0), None, _) => Version::new(1, 0, 0),
                (Some(m), _, _) => next_major(m)?,
            };
            vec![cmp(Op::Ge, base), cmp(Op::Lt, pre0(upper))]
        }
        "~" | "~>" => {
            let upper = match (p.major, p.minor) {
                (None, _) => return Some(vec![cmp(Op::Ge, Version::new(0, 0, 0))]),
                (Some(m), None) => next_major(m)?,
                (Some(m), Some(n)) => Version::new(m, n.checked_add(1)?, 0),
            };
            vec![cmp(Op::Ge, base), cmp(Op::Lt, pre0(upper))]
        }
        ">" => match (p.major, p.minor, p.patch) {
            (None, _, _) => vec![cmp(Op::Lt, Version::new(0, 0, 0))],
            (Some(m), None, _) => vec![cmp(Op::Ge, next_major(m)?)],
            (Some(m), Some(n), None) => vec![cmp(Op::Ge, Version::new(m, n.checked_add(1)?, 0))],
            _ => vec![cmp(Op::Gt, base)],
        },
        ">=" => vec![cmp(Op::Ge, base)],
        "<" => vec![cmp(
            Op::Lt,
            if p.patch.is_some() { base } else { pre0(base) },
        )],
        "<=" => match (p.major, p.minor, p.patch) {
            (None, _, _) => vec![cmp(Op::Ge, Version::new(0, 0, 0))],
            (Some(m), None, _) => vec![cmp(Op::Lt, pre0(next_major(m)?))],
            (Some(m), Some(n), None) => {
                vec![cmp(Op::Lt, pre0(Version::new(m, n.checked_add(1)?, 0)))]
            }
            _ => vec![cmp(Op::Le, base)],
        },
        _ => return None,
    })
}

impl Range {
    /// Parses a range; `None` when it is not one (a tag such as `latest`, a URL).
    pub fn parse(text: &str) -> Option<Self> {
        let mut sets = Vec::new();
        for set in text.split("||") {
            let set = set.trim();
            let mut comparators = Vec::new();
            if let Some((low, high)) = set.split_once(" - ") {
                comparators.push(cmp(Op::Ge, parse_partial(low)?.full()));
                comparators.extend(term(&format!("<={}", high.trim()))?);
            } else if set.is_empty() {
                comparators.push(cmp(Op::Ge, Version::new(0, 0, 0)));
            } else {
                // `>= 1.2` may put a space after the operator.
                let mut tokens: Vec<String> = Vec::new();
                for token in set.split_whitespace() {
                    match tokens.last_mut() {
                        Some(last)
                            if matches!(
                                last.as_str(),
                                "<" | "<=" | ">" | ">=" | "=" | "^" | "~"
                            ) =>
                        {
                            last.push_str(token);
                        }
                        _ => tokens.push(token.to_owned()),
                    }
                }
                for token in tokens {
                    comparators.extend(term(&token)?);
                }
            }
            sets.push(comparators);
        }
        Some(Self { sets })
    }

    /// Whether `version` satisfies the range, with node-semver's prerelease rule.
    pub fn satisfies(&self, version: &Version) -> bool {
        self.sets.iter().any(|set| {
            set.iter().all(|c| match c.op {
                Op::Lt => *version < c.version,
                Op::Le => *version <= c.version,
                Op::Gt => *version > c.version,
                Op::Ge => *version >= c.version,
                Op::Eq => *version == c.version,
            }) && (version.pre.is_empty()
                || set.iter().any(|c| {
                    !c.version.pre.is_empty()
                        && c.version.pre.as_str() != "0"
                        && (c.version.major, c.version.minor, c.version.patch)
                            == (version.major, version.minor, version.patch)
                }))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(range: &str, version: &str) -> bool {
        Range::parse(range)
            .unwrap_or_else(|| panic!("{range} parses"))
            .satisfies(&Version::parse(version).unwrap())
    }

    #[test]
    fn caret_and_tilde() {
        assert!(ok("^1.2.0", "1.9.9") && !ok("^1.2.0", "2.0.0") && !ok("^1.2.0", "1.1.9"));
        assert!(ok("^0.2.3", "0.2.9") && !ok("^0.2.3", "0.3.0"));
        assert!(ok("^0.0.3", "0.0.3") && !ok("^0.0.3", "0.0.4"));
        assert!(ok("^0.0", "0.0.9") && !ok("^0.0", "0.1.0"));
        assert!(ok("^1", "1.9.0") && ok("^1.x", "1.0.0"));
        assert!(ok("~1.2.3", "1.2.9") && !ok("~1.2.3", "1.3.0"));
        assert!(ok("~1", "1.9.0") && !ok("~1", "2.0.0"));
    }

    #[test]
    fn wildcards_comparators_unions_and_hyphens() {
        assert!(ok("*", "3.0.0") && ok("", "3.0.0") && ok("x", "0.1.0"));
        assert!(ok("1.x", "1.5.0") && !ok("1.x", "2.0.0"));
        assert!(ok("1.2", "1.2.7") && !ok("1.2", "1.3.0"));
        assert!(ok(">=1.0.0 <2.0.0", "1.5.0") && !ok(">=1.0.0 <2.0.0", "2.0.0"));
        assert!(ok(">= 1.2", "1.2.0"));
        assert!(ok("<1.2", "1.1.9") && !ok("<1.2", "1.2.0"));
        assert!(ok("<=1.2", "1.2.9") && !ok("<=1.2", "1.3.0"));
        assert!(ok(">1.2", "1.3.0") && !ok(">1.2", "1.2.9"));
        assert!(ok("1.0.0 - 2.0.0", "2.0.0") && !ok("1.0.0 - 2.0.0", "2.0.1"));
        assert!(ok("1 - 2", "2.9.0") && !ok("1 - 2", "3.0.0"));
        assert!(ok("^1.0.0 || ^2.0.0", "2.1.0") && !ok("^1.0.0 || ^2.0.0", "3.0.0"));
        assert!(ok("=1.2.3", "1.2.3") && ok("v1.2.3", "1.2.3") && !ok("1.2.3", "1.2.4"));
    }

    #[test]
    fn prereleases_only_match_their_own_tuple() {
        assert!(!ok("^1.2.0", "1.3.0-beta.1"));
        assert!(ok("^1.3.0-beta.0", "1.3.0-beta.1"));
        assert!(!ok("^1.3.0-beta.0", "1.4.0-beta.1"));
        assert!(ok("^1.3.0-beta.0", "1.4.0"));
        assert!(ok(">=1.3.0-rc.1", "1.3.0-rc.2"));
    }

    #[test]
    fn non_ranges_do_not_parse() {
        assert!(Range::parse("latest").is_none());
        assert!(Range::parse("^a.b").is_none());
    }
}
