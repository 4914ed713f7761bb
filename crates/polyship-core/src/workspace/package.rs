//! The package model: what every ecosystem adapter produces and every later stage reads.
//!
//! A [`Package`] is one publishable (or private) unit of one ecosystem. Its [`Dependency`] list holds
//! only *internal* dependencies — the ones that point at another package of the same workspace —
//! each with the requirement text exactly as written and the place in the manifest where it sits, so
//! that the apply stage can rewrite it without re-reading anything.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A packaging world. Cargo, npm and Go share SemVer; Python renders versions in PEP 440.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Ecosystem {
    Cargo,
    Npm,
    Python,
    Go,
}

impl Ecosystem {
    pub const ALL: [Ecosystem; 4] = [
        Ecosystem::Cargo,
        Ecosystem::Npm,
        Ecosystem::Python,
        Ecosystem::Go,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Ecosystem::Cargo => "cargo",
            Ecosystem::Npm => "npm",
            Ecosystem::Python => "python",
            Ecosystem::Go => "go",
        }
    }

    /// The manifest file that marks a package directory of this ecosystem.
    pub fn manifest_name(self) -> &'static str {
        match self {
            Ecosystem::Cargo => "Cargo.toml",
            Ecosystem::Npm => "package.json",
            Ecosystem::Python => "pyproject.toml",
            Ecosystem::Go => "go.mod",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == s)
    }

    /// A package as `polyship.toml`, changesets and the command line name it: `name`, or
    /// `ecosystem:name` for one ecosystem's. A prefix that names no ecosystem is part of the name.
    pub fn split_id(id: &str) -> (Option<Self>, &str) {
        match id.split_once(':') {
            Some((eco, name)) if Self::parse(eco).is_some() => (Self::parse(eco), name),
            _ => (None, id),
        }
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a dependency is used. Only `Dev` edges may form cycles: they never order a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DependencyKind {
    Normal,
    Dev,
    Build,
    Peer,
    Optional,
}

impl DependencyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DependencyKind::Normal => "normal",
            DependencyKind::Dev => "dev",
            DependencyKind::Build => "build",
            DependencyKind::Peer => "peer",
            DependencyKind::Optional => "optional",
        }
    }

    /// Whether the dependency must be released before its dependent (every kind but `Dev`).
    pub fn orders_release(self) -> bool {
        self != DependencyKind::Dev
    }
}

/// Where a value sits in a manifest: the file (relative to the repository root, `/`-separated),
/// the key path from the document root, and the 1-based line.
///
/// Array elements appear in `key` as their decimal index (PEP 621 `dependencies` is an array).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    pub file: String,
    pub key: Vec<String>,
    pub line: usize,
}

/// An internal dependency of a package on another package of the same ecosystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dependency {
    /// The depended-on package's name (after any rename or alias is resolved).
    pub name: String,
    pub ecosystem: Ecosystem,
    pub kind: DependencyKind,
    /// The version requirement exactly as written (`^1.2`, `workspace:*`, `>=1.0,<2`); `None` when the
    /// manifest gives only a path (`{ path = "../core" }`).
    pub requirement: Option<String>,
    /// The key the manifest uses when it differs from `name` (Cargo `package = …` renames, npm aliases).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// Cargo `optional = true`, or a Python extra's dependency.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
    /// Cargo `[target.<cfg>]` platform, Python extra or dependency-group name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// A path the dependency declares (`path = …`, `file:…`, `link:…`), relative to the repository root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Where the requirement text sits: for Cargo `workspace = true` that is the root manifest's
    /// `[workspace.dependencies]` entry, since that is the text a release rewrites.
    pub location: Location,
}

impl Dependency {
    /// Whether the dependency must be released before its dependent: every kind but `Dev`, unless
    /// releases of its ecosystem are tags alone (Go), which need no order (and Go modules may
    /// require each other in a cycle).
    pub fn orders_release(&self) -> bool {
        self.kind.orders_release() && !self.ecosystem.adapter().released_by_tag()
    }
}

/// Where a package's version comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum VersionSource {
    /// Written in the package's own manifest.
    Manifest { location: Location },
    /// Inherited from the Cargo workspace (`version.workspace = true`).
    Workspace { location: Location },
    /// The same version as another package that builds from the same source: a maturin wheel and
    /// its crate. Releases must move both together; only the other package's manifest is edited.
    Linked { ecosystem: Ecosystem, name: String },
    /// Computed at build time by the named backend (setuptools-scm, hatch-vcs, …).
    Dynamic { backend: String },
    /// The manifest has no version (a private npm package, a Cargo crate defaulting to `0.0.0`).
    Missing,
}

/// One package of one ecosystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Package {
    /// Cargo crate name, npm package name (with scope), Python distribution name normalised per PEP 503.
    pub name: String,
    pub ecosystem: Ecosystem,
    /// The package directory relative to the repository root, `/`-separated; `.` for the root.
    pub path: String,
    /// The manifest relative to the repository root, `/`-separated.
    pub manifest: String,
    /// The version as written (after inheritance or linking is followed), `None` when there is none.
    pub version: Option<String>,
    pub version_source: VersionSource,
    /// Never published: Cargo `publish = false`, npm `private: true`, Python `Private :: Do Not Upload`.
    pub private: bool,
    /// The registry it publishes to when not the ecosystem's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    pub dependencies: Vec<Dependency>,
}

impl Package {
    /// `ecosystem:name`, the unambiguous way to name a package across ecosystems.
    pub fn id(&self) -> String {
        format!("{}:{}", self.ecosystem, self.name)
    }
}

/// Whether the root-relative `path` is the directory `dir` or below it (`crates/a` is within
/// `crates`, `crates-old` is not).
pub fn is_within(path: &str, dir: &str) -> bool {
    path.strip_prefix(dir)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Joins a package directory and a relative path the way the manifests mean it, `/`-separated and
/// normalised (`crates/a` + `../b` = `crates/b`). `None` when the path climbs above the root.
pub fn join_rel(base: &str, rel: &str) -> Option<String> {
    let mut parts: Vec<&str> = if base == "." || base.is_empty() {
        Vec::new()
    } else {
        base.split('/').collect()
    };
    for part in rel.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    })
}

/// The parent directory of a root-relative file path (`.` for a file at the root).
pub fn parent_dir(file: &str) -> &str {
    file.rfind('/').map_or(".", |i| &file[..i])
}

/// `dir/name`, or `name` when `dir` is the root.
pub fn child(dir: &str, name: &str) -> String {
    if dir == "." || dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_names_its_ecosystem_only_when_the_prefix_is_one() {
        assert_eq!(
            Ecosystem::split_id("npm:@a/b"),
            (Some(Ecosystem::Npm), "@a/b")
        );
        assert_eq!(Ecosystem::split_id("polyship"), (None, "polyship"));
        assert_eq!(Ecosystem::split_id("rubygems:x"), (None, "rubygems:x"));
    }

    #[test]
    fn within_is_the_directory_or_below_it() {
        assert!(is_within("crates/a", "crates") && is_within("crates", "crates"));
        assert!(!is_within("crates-old/a", "crates") && !is_within("crate", "crates"));
    }

    #[test]
    fn join_rel_normalises() {
        assert_eq!(join_rel("crates/a", "../b").as_deref(), Some("crates/b"));
        assert_eq!(join_rel(".", "./x/").as_deref(), Some("x"));
        assert_eq!(join_rel("a", "..").as_deref(), Some("."));
        assert_eq!(join_rel("a", "../.."), None);
        assert_eq!(parent_dir("Cargo.toml"), ".");
        assert_eq!(parent_dir("a/b/Cargo.toml"), "a/b");
        assert_eq!(child(".", "Cargo.toml"), "Cargo.toml");
    }
}
