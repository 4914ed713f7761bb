//! Bump arithmetic and rendering between version schemes.
//!
//! Versions are computed in SemVer (what Cargo and npm write) and rendered in PEP 440 for Python
//! packages, so one release of a fixed group — a crate, its npm addon, its wheel — carries one
//! version: `1.3.0-beta.1` is `1.3.0b1` on PyPI.

use semver::{Prerelease, Version};

use crate::changes::changeset::Bump;

/// The next version, as node-semver's and Cargo tools' `inc` compute it. From a prerelease, a bump
/// that the prerelease already stands for only drops the label: `1.3.0-beta.2` + minor = `1.3.0`,
/// `2.0.0-rc.1` + major = `2.0.0`, `1.2.4-beta.0` + patch = `1.2.4`. `None` when a part would
/// overflow (`18446744073709551615.0.0` + major): never a wrapped, smaller version.
pub fn inc(current: &Version, bump: Bump) -> Option<Version> {
    let pre = !current.pre.is_empty();
    let (major, minor, patch) = (current.major, current.minor, current.patch);
    Some(match bump {
        Bump::None => current.clone(),
        Bump::Major if pre && minor == 0 && patch == 0 => Version::new(major, 0, 0),
        Bump::Major => Version::new(major.checked_add(1)?, 0, 0),
        Bump::Minor if pre && patch == 0 => Version::new(major, minor, 0),
        Bump::Minor => Version::new(major, minor.checked_add(1)?, 0),
        Bump::Patch if pre => Version::new(major, minor, patch),
        Bump::Patch => Version::new(major, minor, patch.checked_add(1)?),
    })
}

/// `version` with the prerelease `<label>.<n>` (`1.3.0` → `1.3.0-beta.0`).
pub fn with_prerelease(version: &Version, label: &str, n: u64) -> Result<Version, String> {
    let mut v = Version::new(version.major, version.minor, version.patch);
    v.pre = Prerelease::new(&format!("{label}.{n}"))
        .map_err(|_| format!("`{label}` is not a valid prerelease label"))?;
    Ok(v)
}

/// The number of a `<label>.<n>` prerelease, when `version` is one with this label.
pub fn prerelease_number(version: &Version, label: &str) -> Option<u64> {
    version
        .pre
        .as_str()
        .strip_prefix(label)?
        .strip_prefix('.')?
        .parse()
        .ok()
}

/// A SemVer version in PEP 440 form: `1.3.0-beta.1` → `1.3.0b1`, `-alpha.N` → `aN`, `-rc.N` → `rcN`,
/// `-dev.N` → `.devN`; build metadata becomes a local version. Other labels have no PEP 440 form.
pub fn to_pep440(version: &Version) -> Result<String, String> {
    let mut out = format!("{}.{}.{}", version.major, version.minor, version.patch);
    if !version.pre.is_empty() {
        let (label, n) = version
            .pre
            .as_str()
            .split_once('.')
            .unwrap_or((version.pre.as_str(), "0"));
        let n: u64 = n.parse().map_err(|_| {
            format!("`{version}` has no PEP 440 form: the prerelease number `{n}` is not a number")
        })?;
        let suffix = match label {
            "alpha" | "a" => format!("a{n}"),
            "beta" | "b" => format!("b{n}"),
            "rc" | "c" | "pre" | "preview" => format!("rc{n}"),
            "dev" => format!(".dev{n}"),
            _ => {
                return Err(format!(
                    "`{version}` has no PEP 440 form: use the prerelease label alpha, beta, rc or dev"
                ));
            }
        };
        out.push_str(&suffix);
    }
    if !version.build.is_empty() {
        out.push('+');
        out.push_str(&version.build.as_str().replace('-', "."));
    }
    Ok(out)
}

/// A PEP 440 version in SemVer form (`1.3.0b1` → `1.3.0-beta.1`, `2.0` → `2.0.0`), for planning a
/// Python package's next version. `None` for forms SemVer cannot hold (epochs, post-releases,
/// four-part releases).
pub fn from_pep440(text: &str) -> Option<Version> {
    let text = text.trim().to_ascii_lowercase();
    let text = text.strip_prefix('v').unwrap_or(&text);
    let (public, local) = match text.split_once('+') {
        Some((p, l)) => (p, Some(l)),
        None => (text, None),
    };
    let end = public
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(public.len());
    let release = public[..end].trim_end_matches('.');
    let parts: Vec<u64> = release
        .split('.')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    if parts.is_empty() || parts.len() > 3 {
        return None;
    }
    let get = |i: usize| parts.get(i).copied().unwrap_or(0);
    let mut v = Version::new(get(0), get(1), get(2));
    let rest = public[release.len()..].trim_start_matches(['.', '-', '_']);
    if !rest.is_empty() {
        let label_end = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (label, n) = (
            rest[..label_end].trim_end_matches(['.', '-', '_']),
            &rest[label_end..],
        );
        let n: u64 = if n.is_empty() { 0 } else { n.parse().ok()? };
        let label = match label {
            "a" | "alpha" => "alpha",
            "b" | "beta" => "beta",
            "rc" | "c" | "pre" | "preview" => "rc",
            "dev" => "dev",
            // A post-release sorts after its release; a SemVer prerelease sorts before.
            _ => return None,
        };
        v.pre = Prerelease::new(&format!("{label}.{n}")).ok()?;
    }
    if let Some(local) = local {
        v.build = semver::BuildMetadata::new(local).ok()?;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn inc_follows_node_semver() {
        let cases = [
            ("1.2.3", Bump::Major, "2.0.0"),
            ("1.2.3", Bump::Minor, "1.3.0"),
            ("1.2.3", Bump::Patch, "1.2.4"),
            ("1.2.3", Bump::None, "1.2.3"),
            ("0.2.3", Bump::Major, "1.0.0"),
            ("1.3.0-beta.2", Bump::Minor, "1.3.0"),
            ("1.3.0-beta.2", Bump::Major, "2.0.0"),
            ("2.0.0-rc.1", Bump::Major, "2.0.0"),
            ("1.2.4-beta.0", Bump::Patch, "1.2.4"),
            ("1.2.4-beta.0", Bump::Minor, "1.3.0"),
        ];
        for (from, bump, to) in cases {
            assert_eq!(inc(&v(from), bump), Some(v(to)), "{from} + {bump:?}");
        }
    }

    #[test]
    fn prerelease_labels() {
        assert_eq!(
            with_prerelease(&v("1.3.0"), "beta", 0).unwrap(),
            v("1.3.0-beta.0")
        );
        assert_eq!(prerelease_number(&v("1.3.0-beta.4"), "beta"), Some(4));
        assert_eq!(prerelease_number(&v("1.3.0-beta.4"), "rc"), None);
        assert_eq!(prerelease_number(&v("1.3.0-betas.4"), "beta"), None);
        assert!(with_prerelease(&v("1.3.0"), "bad label!", 0).is_err());
    }

    #[test]
    fn pep440_rendering_round_trips() {
        for (semver, pep) in [
            ("1.3.0", "1.3.0"),
            ("1.3.0-beta.0", "1.3.0b0"),
            ("1.3.0-rc.1", "1.3.0rc1"),
            ("1.3.0-alpha.2", "1.3.0a2"),
            ("1.3.0-dev.5", "1.3.0.dev5"),
            ("1.3.0+abc.1", "1.3.0+abc.1"),
        ] {
            assert_eq!(to_pep440(&v(semver)).unwrap(), pep);
            assert_eq!(from_pep440(pep).unwrap(), v(semver), "{pep}");
        }
        assert!(
            to_pep440(&v("1.0.0-next.1"))
                .unwrap_err()
                .contains("alpha, beta, rc or dev")
        );
        assert_eq!(from_pep440("2.0").unwrap(), v("2.0.0"));
        assert_eq!(from_pep440("1.0b1").unwrap(), v("1.0.0-beta.1"));
        assert_eq!(from_pep440("1!2.0"), None);
        assert_eq!(from_pep440("1.2.3.4"), None);
        assert_eq!(
            from_pep440("1.0.post1"),
            None,
            "a post-release would sort before 1.0.0 in SemVer"
        );
    }
}
