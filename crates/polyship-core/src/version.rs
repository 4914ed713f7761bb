//! Version syntax of each ecosystem: SemVer for Cargo and npm, PEP 440 for Python.
//!
//! This module only recognises versions for now (a tag whose version part does not parse is not a
//! release); bump arithmetic and rendering between the schemes come with planning.

use crate::workspace::Ecosystem;

/// Whether `text` is a valid version in `ecosystem`'s scheme. Python accepts PEP 440, and SemVer
/// too, since tags of Python packages are often written that way.
pub fn is_valid(ecosystem: Ecosystem, text: &str) -> bool {
    match ecosystem {
        Ecosystem::Cargo | Ecosystem::Npm => semver::Version::parse(text).is_ok(),
        Ecosystem::Python => is_pep440(text) || semver::Version::parse(text).is_ok(),
    }
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
