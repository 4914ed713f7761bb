//! Version syntax of each ecosystem: SemVer for Cargo and npm, PEP 440 for Python.
//!
//! It recognises versions (a tag whose version part does not parse is not a release) and decides
//! whether a version satisfies a dependent's requirement as each ecosystem reads it — Cargo's
//! `VersionReq`, node-semver ranges (`npm_range`), PEP 440 specifiers (`pep440`) — which planning's
//! "out-of-range" rule for dependents needs — computes next versions (`bump`: node-semver's `inc`,
//! prerelease labels, SemVer ↔ PEP 440 rendering), and rewrites requirements for them (`rewrite`).
//! Which scheme and which requirement dialect a package uses is its adapter's to say
//! ([`crate::ecosystem::Adapter::scheme`], [`crate::ecosystem::Adapter::satisfies`]); the functions
//! here that take an [`Ecosystem`] ask it.

use semver::Version;

use crate::workspace::Ecosystem;

pub mod bump;
pub mod npm_range;
pub mod pep440;
pub mod rewrite;

/// How an ecosystem writes versions. Planning computes in SemVer; a scheme reads a package's
/// version into SemVer and renders the next one back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Semantic Versioning 2.0: Cargo, npm.
    SemVer,
    /// PEP 440, through its SemVer counterpart (`1.3.0b1` is `1.3.0-beta.1`): Python.
    Pep440,
}

impl Scheme {
    /// Whether `text` is a version in this scheme. PEP 440 accepts SemVer too, since tags of Python
    /// packages are often written that way.
    pub fn is_valid(self, text: &str) -> bool {
        match self {
            Scheme::SemVer => Version::parse(text).is_ok(),
            Scheme::Pep440 => is_pep440(text) || Version::parse(text).is_ok(),
        }
    }

    /// A package's version in SemVer form, as planning computes with it; PEP 440 accepts SemVer
    /// text too. `None` when it does not parse (or has no SemVer form: an epoch, a post-release).
    pub fn read(self, text: &str) -> Option<Version> {
        match self {
            Scheme::SemVer => Version::parse(text).ok(),
            Scheme::Pep440 => bump::from_pep440(text).or_else(|| Version::parse(text).ok()),
        }
    }

    /// A version polyship wrote (a plan's new version) in SemVer form: only this scheme's own
    /// syntax.
    pub fn read_own(self, text: &str) -> Option<Version> {
        match self {
            Scheme::SemVer => Version::parse(text).ok(),
            Scheme::Pep440 => bump::from_pep440(text),
        }
    }

    /// `version` written in this scheme; `Err` says why it has no such form.
    pub fn render(self, version: &Version) -> Result<String, String> {
        match self {
            Scheme::SemVer => Ok(version.to_string()),
            Scheme::Pep440 => bump::to_pep440(version),
        }
    }

    /// A snapshot release of `version`'s base, stamped `stamp` (digits). SemVer keeps the
    /// snapshot's own text; PEP 440 has no free-form labels: a development release of the base.
    pub fn snapshot(self, version: &Version, stamp: &str) -> String {
        match self {
            Scheme::SemVer => version.to_string(),
            Scheme::Pep440 => format!(
                "{}.{}.{}.dev{stamp}",
                version.major, version.minor, version.patch
            ),
        }
    }

    /// What to write instead of a version that does not parse.
    pub fn help(self) -> &'static str {
        match self {
            Scheme::SemVer => "write a full SemVer version such as `1.2.0`",
            Scheme::Pep440 => "write a PEP 440 version such as `1.2.0`",
        }
    }
}

/// Whether `text` is a valid version in `ecosystem`'s scheme ([`Scheme::is_valid`]).
pub fn is_valid(ecosystem: Ecosystem, text: &str) -> bool {
    ecosystem.adapter().scheme().is_valid(text)
}

/// Whether `version` (in the ecosystem's scheme) satisfies `requirement` as written in a dependent's
/// manifest. `None` when the requirement cannot be read as a range (a tag, a URL): the caller must
/// not guess. No requirement (a path-only dependency) follows the version by definition; what else
/// does is the ecosystem's to say ([`crate::ecosystem::Adapter::satisfies`]).
pub fn satisfies(ecosystem: Ecosystem, requirement: Option<&str>, version: &str) -> Option<bool> {
    let Some(requirement) = requirement.map(str::trim) else {
        return Some(true);
    };
    ecosystem.adapter().satisfies(requirement, version)
}

/// Cargo's reading of a requirement (`VersionReq`).
pub(crate) fn satisfies_cargo(requirement: &str, version: &str) -> Option<bool> {
    let req = semver::VersionReq::parse(requirement).ok()?;
    Some(req.matches(&Version::parse(version).ok()?))
}

/// npm's reading of a requirement: node-semver ranges, with what pnpm and yarn add. `workspace:*`,
/// `workspace:^` and `workspace:~` follow the version by definition, and so do `file:`/`link:`
/// paths.
pub(crate) fn satisfies_npm(requirement: &str, version: &str) -> Option<bool> {
    let range = match requirement.strip_prefix("workspace:") {
        Some("*" | "^" | "~") => return Some(true),
        Some(rest) => rest.rsplit_once('@').map_or(rest, |(_, r)| r),
        None if ["file:", "link:", "portal:"]
            .iter()
            .any(|p| requirement.starts_with(p)) =>
        {
            return Some(true);
        }
        None => match requirement.strip_prefix("npm:") {
            Some(alias) => alias
                .get(1..)
                .and_then(|a| a.split_once('@'))
                .map_or("", |(_, r)| r),
            None => requirement,
        },
    };
    Some(npm_range::Range::parse(range)?.satisfies(&Version::parse(version).ok()?))
}

/// PEP 440's reading of a requirement (specifiers); a direct reference (`@ URL`) follows.
pub(crate) fn satisfies_pep440(requirement: &str, version: &str) -> Option<bool> {
    let v = pep440::Pep440::parse(version).or_else(|| {
        Version::parse(version)
            .ok()
            .and_then(|s| pep440::Pep440::from_semver(&s))
    })?;
    if requirement.starts_with('@') {
        return Some(true);
    }
    pep440::satisfies(requirement, &v)
}

/// PEP 440 public versions with an optional local part: `[N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local]`.
pub fn is_pep440(text: &str) -> bool {
    let text = text.trim().to_ascii_lowercase();
    let text = text.strip_prefix('v').unwrap_or(&text);
    let (public, local) = match text.split_once('+') {
        Some((p, l)) => (p, Some(l)),
        None => (text, None),
    };
    if let Some(local) = local
        && (local.is_empty()
            || !local
                .split(['.', '-', '_'])
                .all(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric())))
    {
        return false;
    }
    let public = match public.split_once('!') {
        Some((epoch, rest)) if digits(epoch) => rest,
        Some(_) => return false,
        None => public,
    };
    let release_end = public
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(public.len());
    // A dot before a label (`1.0.post1`) belongs to the label.
    let release = if release_end < public.len() {
        public[..release_end].trim_end_matches('.')
    } else {
        &public[..release_end]
    };
    let release_end = release.len();
    if release.is_empty() || !release.split('.').all(digits) {
        return false;
    }
    let mut rest = &public[release_end..];
    for (labels, optional_dot) in [
        (
            &["rc", "a", "b", "c", "alpha", "beta", "pre", "preview"][..],
            true,
        ),
        (&["post", "r", "rev"][..], true),
        (&["dev"][..], true),
    ] {
        let trimmed = if optional_dot {
            rest.trim_start_matches(['.', '-', '_'])
        } else {
            rest
        };
        if let Some(label) = labels.iter().find(|l| trimmed.starts_with(**l)) {
            let after = trimmed[label.len()..].trim_start_matches(['.', '-', '_']);
            let n = after
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(after.len());
            rest = &after[n..];
        }
    }
    rest.is_empty()
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_by_ecosystem() {
        use Ecosystem::*;
        assert_eq!(satisfies(Cargo, Some("1.2"), "1.9.0"), Some(true));
        assert_eq!(satisfies(Cargo, Some("=1.2.0"), "1.2.1"), Some(false));
        assert_eq!(satisfies(Cargo, Some(">=1.0, <1.3"), "1.3.0"), Some(false));
        assert_eq!(satisfies(Cargo, None, "9.0.0"), Some(true));
        assert_eq!(satisfies(Npm, Some("workspace:^"), "2.0.0"), Some(true));
        assert_eq!(
            satisfies(Npm, Some("workspace:^1.0.0"), "2.0.0"),
            Some(false)
        );
        assert_eq!(
            satisfies(Npm, Some("npm:@acme/core@^1"), "1.4.0"),
            Some(true)
        );
        assert_eq!(satisfies(Npm, Some("~1.2.0"), "1.3.0"), Some(false));
        assert_eq!(satisfies(Npm, Some("latest"), "1.3.0"), None);
        assert_eq!(satisfies(Python, Some(">=1.2,<2"), "2.0.0"), Some(false));
        assert_eq!(satisfies(Python, Some(">=1.2,<2"), "1.3.0"), Some(true));
        assert_eq!(
            satisfies(Python, Some(">=1.3.0b0"), "1.3.0-beta.1"),
            Some(true)
        );
    }

    #[test]
    fn pep440() {
        for ok in [
            "1",
            "1.2.0",
            "1.3.0b0",
            "1.3.0rc1",
            "2!1.0",
            "1.0.post1",
            "1.0.dev3",
            "1.0a1.post2.dev3",
            "1.0+local.7",
        ] {
            assert!(is_pep440(ok), "{ok}");
        }
        for bad in ["", "x", "1.0x", "1..0", "1.0+", "1.0-beta.1.x.y"] {
            assert!(!is_pep440(bad), "{bad}");
        }
    }

    #[test]
    fn by_ecosystem() {
        assert!(is_valid(Ecosystem::Npm, "1.2.3-beta.1"));
        assert!(!is_valid(Ecosystem::Cargo, "1.2"));
        assert!(is_valid(Ecosystem::Python, "1.2"));
        assert!(is_valid(Ecosystem::Python, "1.2.3-beta.1"));
    }
}
