//! PEP 440 versions and specifiers: ordering, and whether a version satisfies `>=1.2,<2`.

use std::cmp::Ordering;

/// A parsed PEP 440 version, ordered as PEP 440 orders them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pep440 {
    epoch: u64,
    release: Vec<u64>,
    /// (0 = a, 1 = b, 2 = rc, n); `None` for a final release.
    pre: Option<(u8, u64)>,
    post: Option<u64>,
    dev: Option<u64>,
}

impl Pep440 {
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim().to_ascii_lowercase();
        let text = text.strip_prefix('v').unwrap_or(&text);
        let text = text.split('+').next().unwrap_or_default();
        let (epoch, rest) = match text.split_once('!') {
            Some((e, r)) => (e.parse().ok()?, r),
            None => (0, text),
        };
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let release_text = rest[..end].trim_end_matches('.');
        let release: Vec<u64> = release_text
            .split('.')
            .map(|n| n.parse().ok())
            .collect::<Option<_>>()?;
        let mut tail = &rest[release_text.len()..];
        let mut take = |labels: &[(&str, u8)]| -> Option<(u8, u64)> {
            let trimmed = tail.trim_start_matches(['.', '-', '_']);
            let (label, kind) = labels.iter().find(|(l, _)| trimmed.starts_with(l))?;
            let after = trimmed[label.len()..].trim_start_matches(['.', '-', '_']);
            let digits = after
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(after.len());
            tail = &after[digits..];
            Some((*kind, after[..digits].parse().unwrap_or(0)))
        };
        let pre = take(&[
            ("alpha", 0),
            ("beta", 1),
            ("preview", 2),
            ("pre", 2),
            ("rc", 2),
            ("a", 0),
            ("b", 1),
            ("c", 2),
        ]);
        let post = take(&[("post", 0), ("rev", 0), ("r", 0)]).map(|(_, n)| n);
        let dev = take(&[("dev", 0)]).map(|(_, n)| n);
        tail.is_empty().then_some(Self {
            epoch,
            release,
            pre,
            post,
            dev,
        })
    }

    /// A SemVer version read as PEP 440 (`1.3.0-beta.1` → `1.3.0b1`), for comparing across schemes.
    pub fn from_semver(v: &semver::Version) -> Option<Self> {
        if v.pre.is_empty() {
            return Self::parse(&format!("{}.{}.{}", v.major, v.minor, v.patch));
        }
        let (label, n) = v
            .pre
            .as_str()
            .split_once('.')
            .unwrap_or((v.pre.as_str(), "0"));
        let label = match label {
            "alpha" | "a" => "a",
            "beta" | "b" => "b",
            "rc" | "c" | "pre" => "rc",
            _ => {
                return Self::parse(&format!(
                    "{}.{}.{}.dev{}",
                    v.major,
                    v.minor,
                    v.patch,
                    n.parse::<u64>().unwrap_or(0)
                ));
            }
        };
        Self::parse(&format!("{}.{}.{}{label}{n}", v.major, v.minor, v.patch))
    }

    fn is_pre(&self) -> bool {
        self.pre.is_some() || self.dev.is_some()
    }

    /// The sort key of PEP 440: dev releases before pre-releases before the final release before
    /// post-releases.
    fn key(&self) -> SortKey {
        let mut release = self.release.clone();
        while release.len() > 1 && release.last() == Some(&0) {
            release.pop();
        }
        let pre = match (self.pre, self.post, self.dev) {
            (None, None, Some(_)) => (0, 0),
            (Some((k, n)), _, _) => (1 + k, n),
            _ => (9, 0),
        };
        let post = self.post.map_or((0, 0), |n| (1, n));
        let dev = self.dev.map_or((1, 0), |n| (0, n));
        (self.epoch, release, pre, post, dev)
    }
}

/// (epoch, release without trailing zeros, pre-release rank, post-release, dev-release).
type SortKey = (u64, Vec<u64>, (u8, u64), (u8, u64), (u8, u64));

impl PartialOrd for Pep440 {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pep440 {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

/// Whether `version` satisfies a PEP 440 specifier set such as `>=1.2,<2` or `~=1.4.2`. `None` when
/// the specifier does not parse. Pre-releases satisfy only a set that names a pre-release, as pip does.
pub fn satisfies(specifiers: &str, version: &Pep440) -> Option<bool> {
    let specifiers = specifiers
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')');
    let mut names_pre = false;
    let mut all = true;
    for clause in specifiers
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        let (op, rest) = ["===", "~=", "==", "!=", "<=", ">=", "<", ">"]
            .iter()
            .find_map(|op| clause.strip_prefix(op).map(|r| (*op, r.trim())))?;
        if op == "===" {
            all &= rest == version_text(version);
            continue;
        }
        if let Some(prefix) = rest.strip_suffix(".*") {
            let p = Pep440::parse(prefix)?;
            let matches = p.epoch == version.epoch
                && version
                    .release
                    .iter()
                    .chain(std::iter::repeat(&0))
                    .take(p.release.len())
                    .eq(p.release.iter());
            all &= if op == "!=" {
                !matches
            } else {
                op == "==" && matches
            };
            continue;
        }
        let spec = Pep440::parse(rest)?;
        names_pre |= spec.is_pre();
        all &= match op {
            "==" => version.cmp(&spec) == Ordering::Equal,
            "!=" => version.cmp(&spec) != Ordering::Equal,
            "<=" => *version <= spec,
            ">=" => *version >= spec,
            "<" => *version < spec,
            ">" => *version > spec,
            "~=" => {
                if spec.release.len() < 2 {
                    return None;
                }
                let mut upper = spec.release[..spec.release.len() - 1].to_vec();
                *upper.last_mut()? += 1;
                let upper = Pep440 {
                    epoch: spec.epoch,
                    release: upper,
                    pre: None,
                    post: None,
                    dev: Some(0),
                };
                *version >= spec && *version < upper
            }
            _ => return None,
        };
    }
    Some(all && (!version.is_pre() || names_pre))
}

fn version_text(v: &Pep440) -> String {
    v.release
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Pep440 {
        Pep440::parse(s).unwrap_or_else(|| panic!("{s} parses"))
    }

    #[test]
    fn ordering_follows_pep_440() {
        let order = [
            "1.0.dev1",
            "1.0a1",
            "1.0a2.dev1",
            "1.0a2",
            "1.0b1",
            "1.0rc1",
            "1.0",
            "1.0.post1",
            "1.1",
        ];
        for pair in order.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        assert_eq!(v("1.0").cmp(&v("1.0.0")), Ordering::Equal);
        assert!(v("1!0.1") > v("2.0"));
    }

    #[test]
    fn specifiers() {
        let ok = |spec: &str, version: &str| satisfies(spec, &v(version)).unwrap();
        assert!(ok(">=1.2,<2", "1.9") && !ok(">=1.2,<2", "2.0"));
        assert!(ok("~=1.4.2", "1.4.9") && !ok("~=1.4.2", "1.5.0"));
        assert!(ok("~=1.4", "1.9") && !ok("~=1.4", "2.0"));
        assert!(ok("==1.2.*", "1.2.7") && !ok("==1.2.*", "1.3.0"));
        assert!(ok("!=1.5", "1.6") && !ok("!=1.5", "1.5.0"));
        assert!(ok("==1.0", "1.0.0") && ok("(>=1.0)", "1.1"));
        assert!(
            !ok(">=1.0", "2.0b1"),
            "pre-releases need a specifier that names one"
        );
        assert!(ok(">=2.0b1", "2.0b2"));
        assert!(satisfies("~=1", &v("1.0")).is_none());
    }

    #[test]
    fn semver_prereleases_read_as_pep_440() {
        let s = |t: &str| Pep440::from_semver(&semver::Version::parse(t).unwrap()).unwrap();
        assert_eq!(s("1.3.0-beta.1"), v("1.3.0b1"));
        assert_eq!(s("1.3.0-rc.0"), v("1.3.0rc0"));
        assert_eq!(s("1.3.0"), v("1.3.0"));
    }
}
