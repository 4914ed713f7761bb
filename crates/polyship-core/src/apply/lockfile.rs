//! Lockfiles follow a release by direct, format-preserving edits of their workspace entries: no
//! tool runs and nothing is fetched, and only the bytes of the values that change are replaced.
//! Each format's edit lives with its ecosystem (`ecosystem/<name>/lockfile.rs`); what they share —
//! which lockfile a file is, the entries that change, splicing, staleness errors — is here.
//!
//! - `Cargo.lock` (v3, v4): `[[package]]` entries without `source` are the workspace's crates; their
//!   `version` moves, and so do `"name version"` references, which Cargo writes when a name is
//!   ambiguous.
//! - `package-lock.json` / `npm-shrinkwrap.json` (lockfileVersion 2, 3): `packages["<path>"]` holds
//!   each workspace member's `version` and a copy of its dependency requirements.
//! - `pnpm-lock.yaml` (5.x `specifiers:`, 6.0 and 9.0 `specifier:`): `importers` copy the
//!   requirements; workspace members' versions are `link:` paths and never change.
//! - `yarn.lock`: classic (v1) records no workspace package. Berry writes `0.0.0-use.local` for
//!   workspaces, and copies requirements into the member's `dependencies` (`"npm:^1.2.0"`) and the
//!   resolved entry's descriptor list (`"name@npm:^1.2.0, name@workspace:path"`).
//! - `uv.lock`: members (`source = { editable | virtual | directory }`) carry `version`, and their
//!   `[package.metadata] requires-dist` copies the specifiers.
//!
//! A workspace entry at an unexpected version means the lockfile is stale: an error before anything
//! is written, naming the line and the command that refreshes it.
//!
//! Checked against the real tools in the end-to-end tests: `cargo metadata --locked`, npm
//! `install --package-lock-only` (unchanged output), pnpm 9 `install --frozen-lockfile`, yarn 4
//! `install --immutable` and uv `lock --check` all accept the edited lockfiles; the samples in the
//! unit tests are what those tools write.

use std::ops::Range;

use crate::diagnostic::SourceError;
use crate::workspace::{Ecosystem, parent_dir};

/// A lockfile polyship knows how to update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    CargoLock,
    /// `package-lock.json` and `npm-shrinkwrap.json`.
    PackageLock,
    PnpmLock,
    YarnLock,
    UvLock,
}

impl Kind {
    /// By file name.
    pub fn of(file_name: &str) -> Option<Kind> {
        match file_name {
            "Cargo.lock" => Some(Kind::CargoLock),
            "package-lock.json" | "npm-shrinkwrap.json" => Some(Kind::PackageLock),
            "pnpm-lock.yaml" => Some(Kind::PnpmLock),
            "yarn.lock" => Some(Kind::YarnLock),
            "uv.lock" => Some(Kind::UvLock),
            _ => None,
        }
    }

    pub fn ecosystem(self) -> Ecosystem {
        match self {
            Kind::CargoLock => Ecosystem::Cargo,
            Kind::PackageLock | Kind::PnpmLock | Kind::YarnLock => Ecosystem::Npm,
            Kind::UvLock => Ecosystem::Python,
        }
    }

    /// The command that brings the lockfile up to date.
    pub(crate) fn refresh(self) -> &'static str {
        match self {
            Kind::CargoLock => "cargo update --workspace",
            Kind::PackageLock => "npm install --package-lock-only",
            Kind::PnpmLock => "pnpm install --lockfile-only",
            Kind::YarnLock => "yarn install --mode=update-lockfile",
            Kind::UvLock => "uv lock",
        }
    }
}

/// A workspace package whose version changes. Paths are repository-root-relative, `/`-separated,
/// `.` for the root.
pub struct Bumped<'a> {
    pub ecosystem: Ecosystem,
    pub name: &'a str,
    pub path: &'a str,
    pub from: &'a str,
    pub to: &'a str,
}

/// An internal requirement rewritten in a workspace package's manifest. `field` is the manifest
/// section (`dependencies`, `devDependencies`, …).
pub struct Requirement<'a> {
    pub ecosystem: Ecosystem,
    pub dependent_path: &'a str,
    pub field: &'a str,
    pub name: &'a str,
    pub from: &'a str,
    pub to: &'a str,
}

/// `path` relative to the lockfile's directory, `""` for the directory itself; `None` outside it.
fn relative(lock_dir: &str, path: &str) -> Option<String> {
    if lock_dir == "." {
        return Some(if path == "." {
            String::new()
        } else {
            path.to_owned()
        });
    }
    if path == lock_dir {
        return Some(String::new());
    }
    path.strip_prefix(lock_dir)?
        .strip_prefix('/')
        .map(str::to_owned)
}

/// Byte-range replacements, applied from the end so earlier offsets stay valid.
pub(crate) struct Splices(pub(crate) Vec<(Range<usize>, String)>);

impl Splices {
    fn apply(mut self, text: &str) -> Option<String> {
        if self.0.is_empty() {
            return None;
        }
        self.0.sort_by_key(|(r, _)| std::cmp::Reverse(r.start));
        self.0.dedup_by_key(|(r, _)| r.start);
        let mut out = text.to_owned();
        for (range, value) in self.0 {
            out.replace_range(range, &value);
        }
        (out != text).then_some(out)
    }
}

pub(crate) fn stale(
    kind: Kind,
    file: &str,
    text: &str,
    offset: usize,
    message: String,
) -> SourceError {
    SourceError::new(file, message)
        .at(text, offset)
        .help(format!(
            "the lockfile is out of date: run `{}` and commit it",
            kind.refresh()
        ))
}

/// `text` (the lockfile at root-relative `file`) updated for the release; `Ok(None)` when nothing
/// in it changes.
pub fn update(
    kind: Kind,
    file: &str,
    text: &str,
    bumped: &[Bumped],
    requirements: &[Requirement],
) -> Result<Option<String>, SourceError> {
    let lock_dir = parent_dir(file);
    let bumped: Vec<(&Bumped, String)> = bumped
        .iter()
        .filter(|b| b.ecosystem == kind.ecosystem())
        .filter_map(|b| relative(lock_dir, b.path).map(|r| (b, r)))
        .collect();
    let requirements: Vec<(&Requirement, String)> = requirements
        .iter()
        .filter(|r| r.ecosystem == kind.ecosystem())
        .filter_map(|r| relative(lock_dir, r.dependent_path).map(|p| (r, p)))
        .collect();
    if bumped.is_empty() && requirements.is_empty() {
        return Ok(None);
    }
    let splices = match kind {
        Kind::CargoLock => crate::ecosystem::cargo::lockfile::cargo_lock(file, text, &bumped)?,
        Kind::PackageLock => {
            crate::ecosystem::npm::lockfile::package_lock(file, text, &bumped, &requirements)?
        }
        Kind::PnpmLock => crate::ecosystem::npm::lockfile::pnpm_lock(file, text, &requirements)?,
        Kind::YarnLock => crate::ecosystem::npm::lockfile::yarn_lock(text, &requirements),
        Kind::UvLock => {
            crate::ecosystem::python::lockfile::uv_lock(file, text, &bumped, &requirements)?
        }
    };
    Ok(splices.apply(text))
}

pub(crate) fn parse_toml(
    kind: Kind,
    file: &str,
    text: &str,
) -> Result<toml_edit::Document<String>, SourceError> {
    toml_edit::Document::parse(text.to_owned()).map_err(|e| {
        SourceError::new(file, e.message().trim_end().to_owned())
            .at(text, e.span().map_or(0, |s| s.start))
            .help(format!("repair the lockfile with `{}`", kind.refresh()))
    })
}

/// Moves a workspace entry's `version` from `b.from` to `b.to`; any other version means the
/// lockfile is stale.
pub(crate) fn move_version(
    kind: Kind,
    file: &str,
    text: &str,
    b: &Bumped,
    version: &toml_edit::Item,
    out: &mut Vec<(Range<usize>, String)>,
) -> Result<(), SourceError> {
    let span = version.span().unwrap_or(0..0);
    match version.as_str() {
        Some(v) if v == b.from => out.push((inner(span), b.to.to_owned())),
        Some(v) if v == b.to => {}
        Some(v) => {
            return Err(stale(
                kind,
                file,
                text,
                span.start,
                format!(
                    "`{}` is at {v} here, but its manifest says {}",
                    b.name, b.from
                ),
            ));
        }
        None => {}
    }
    Ok(())
}

/// A TOML string value's inner span (between the quotes).
pub(crate) fn inner(span: Range<usize>) -> Range<usize> {
    span.start + 1..span.end - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bump<'a>(
        eco: Ecosystem,
        name: &'a str,
        path: &'a str,
        from: &'a str,
        to: &'a str,
    ) -> Bumped<'a> {
        Bumped {
            ecosystem: eco,
            name,
            path,
            from,
            to,
        }
    }

    #[test]
    fn cargo_lock_moves_workspace_crates_only() {
        let text = "# This file is automatically @generated by Cargo.\nversion = 4\n\n[[package]]\nname = \"acme-cli\"\nversion = \"1.2.0\"\ndependencies = [\n \"acme-core 1.2.0\",\n \"serde\",\n]\n\n[[package]]\nname = \"acme-core\"\nversion = \"1.2.0\"\n\n[[package]]\nname = \"acme-core\"\nversion = \"1.2.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"ab\"\n";
        let out = update(
            Kind::CargoLock,
            "Cargo.lock",
            text,
            &[bump(
                Ecosystem::Cargo,
                "acme-core",
                "crates/core",
                "1.2.0",
                "1.3.0",
            )],
            &[],
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            out,
            text.replacen("\"acme-core 1.2.0\"", "\"acme-core 1.3.0\"", 1)
                .replacen(
                    "name = \"acme-core\"\nversion = \"1.2.0\"\n\n",
                    "name = \"acme-core\"\nversion = \"1.3.0\"\n\n",
                    1
                )
        );
        assert!(
            out.contains("version = \"1.2.0\"\nsource"),
            "the registry crate stays"
        );
        let err = update(
            Kind::CargoLock,
            "Cargo.lock",
            text,
            &[bump(
                Ecosystem::Cargo,
                "acme-core",
                "crates/core",
                "1.1.0",
                "1.3.0",
            )],
            &[],
        )
        .unwrap_err();
        assert_eq!(err.position.unwrap().line, 14);
        assert!(err.help.unwrap().contains("cargo update --workspace"));
    }

    #[test]
    fn package_lock_moves_versions_and_requirements() {
        let text = "{\n  \"name\": \"root\",\n  \"lockfileVersion\": 3,\n  \"requires\": true,\n  \"packages\": {\n    \"\": {\n      \"name\": \"root\",\n      \"workspaces\": [\"packages/*\"]\n    },\n    \"node_modules/@acme/utils\": {\n      \"resolved\": \"packages/utils\",\n      \"link\": true\n    },\n    \"packages/utils\": {\n      \"name\": \"@acme/utils\",\n      \"version\": \"1.2.0\"\n    },\n    \"packages/web\": {\n      \"name\": \"@acme/web\",\n      \"version\": \"0.3.0\",\n      \"dependencies\": {\n        \"@acme/utils\": \"1.2.0\"\n      }\n    }\n  }\n}\n";
        let out = update(
            Kind::PackageLock,
            "package-lock.json",
            text,
            &[
                bump(
                    Ecosystem::Npm,
                    "@acme/utils",
                    "packages/utils",
                    "1.2.0",
                    "1.3.0",
                ),
                bump(
                    Ecosystem::Npm,
                    "@acme/web",
                    "packages/web",
                    "0.3.0",
                    "0.3.1",
                ),
            ],
            &[Requirement {
                ecosystem: Ecosystem::Npm,
                dependent_path: "packages/web",
                field: "dependencies",
                name: "@acme/utils",
                from: "1.2.0",
                to: "1.3.0",
            }],
        )
        .unwrap()
        .unwrap();
        let expected = text
            .replace("\"version\": \"1.2.0\"", "\"version\": \"1.3.0\"")
            .replace("\"version\": \"0.3.0\"", "\"version\": \"0.3.1\"")
            .replace("\"@acme/utils\": \"1.2.0\"", "\"@acme/utils\": \"1.3.0\"");
        assert_eq!(out, expected);
        let v1 = "{\n  \"lockfileVersion\": 1\n}\n";
        let err = update(
            Kind::PackageLock,
            "package-lock.json",
            v1,
            &[bump(
                Ecosystem::Npm,
                "@acme/utils",
                "packages/utils",
                "1.2.0",
                "1.3.0",
            )],
            &[],
        )
        .unwrap_err();
        assert!(err.message.contains("lockfileVersion 1"), "{}", err.message);
        let stale = text.replace("\"version\": \"1.2.0\"", "\"version\": \"1.1.0\"");
        assert!(
            update(
                Kind::PackageLock,
                "package-lock.json",
                &stale,
                &[bump(
                    Ecosystem::Npm,
                    "@acme/utils",
                    "packages/utils",
                    "1.2.0",
                    "1.3.0"
                )],
                &[],
            )
            .unwrap_err()
            .message
            .contains("is at 1.1.0 here")
        );
    }

    #[test]
    fn pnpm_lock_moves_importer_specifiers() {
        let text = "lockfileVersion: '9.0'\n\nsettings:\n  autoInstallPeers: true\n\nimporters:\n\n  .: {}\n\n  packages/utils: {}\n\n  packages/web:\n    dependencies:\n      '@acme/utils':\n        specifier: ^1.2.0\n        version: link:../utils\n    devDependencies:\n      '@acme/x':\n        specifier: workspace:*\n        version: link:../x\n";
        let req = Requirement {
            ecosystem: Ecosystem::Npm,
            dependent_path: "packages/web",
            field: "dependencies",
            name: "@acme/utils",
            from: "^1.2.0",
            to: "^2.0.0",
        };
        let out = update(Kind::PnpmLock, "pnpm-lock.yaml", text, &[], &[req])
            .unwrap()
            .unwrap();
        assert_eq!(out, text.replace("specifier: ^1.2.0", "specifier: ^2.0.0"));
        let v5 = "lockfileVersion: 5.4\n\nimporters:\n\n  packages/web:\n    specifiers:\n      '@acme/utils': ^1.2.0\n    dependencies:\n      '@acme/utils': link:../utils\n";
        let req = Requirement {
            ecosystem: Ecosystem::Npm,
            dependent_path: "packages/web",
            field: "dependencies",
            name: "@acme/utils",
            from: "^1.2.0",
            to: "^2.0.0",
        };
        let out = update(Kind::PnpmLock, "pnpm-lock.yaml", v5, &[], &[req])
            .unwrap()
            .unwrap();
        assert_eq!(
            out,
            v5.replace("'@acme/utils': ^1.2.0", "'@acme/utils': ^2.0.0")
        );
    }

    #[test]
    fn uv_lock_moves_members_and_requires_dist() {
        let text = "version = 1\nrequires-python = \">=3.11\"\n\n[[package]]\nname = \"acme-core\"\nversion = \"1.2.0\"\nsource = { editable = \"core\" }\n\n[[package]]\nname = \"acme-tools\"\nversion = \"0.1.0\"\nsource = { editable = \"tools\" }\ndependencies = [\n    { name = \"acme-core\" },\n]\n\n[package.metadata]\nrequires-dist = [{ name = \"acme-core\", editable = \"core\", specifier = \"==1.2.0\" }]\n";
        let out = update(
            Kind::UvLock,
            "uv.lock",
            text,
            &[bump(
                Ecosystem::Python,
                "acme_core",
                "core",
                "1.2.0",
                "1.3.0b0",
            )],
            &[Requirement {
                ecosystem: Ecosystem::Python,
                dependent_path: "tools",
                field: "project",
                name: "acme-core",
                from: "==1.2.0",
                to: "==1.3.0b0",
            }],
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            out,
            text.replace("version = \"1.2.0\"", "version = \"1.3.0b0\"")
                .replace("specifier = \"==1.2.0\"", "specifier = \"==1.3.0b0\"")
        );
    }

    #[test]
    fn yarn_classic_is_left_alone_and_berry_descriptors_move() {
        let classic = "# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.\n# yarn lockfile v1\n\n\nleft-pad@^1.3.0:\n  version \"1.3.0\"\n";
        let req = || Requirement {
            ecosystem: Ecosystem::Npm,
            dependent_path: "packages/web",
            field: "dependencies",
            name: "@acme/utils",
            from: "^1.2.0",
            to: "^2.0.0",
        };
        assert_eq!(
            update(Kind::YarnLock, "yarn.lock", classic, &[], &[req()]).unwrap(),
            None
        );
        let berry = "__metadata:\n  version: 8\n  cacheKey: 10c0\n\n\"@acme/utils@npm:^1.2.0, @acme/utils@workspace:packages/utils\":\n  version: 0.0.0-use.local\n  resolution: \"@acme/utils@workspace:packages/utils\"\n  languageName: unknown\n  linkType: soft\n\n\"@acme/web@workspace:packages/web\":\n  version: 0.0.0-use.local\n  resolution: \"@acme/web@workspace:packages/web\"\n  dependencies:\n    \"@acme/utils\": \"npm:^1.2.0\"\n  languageName: unknown\n  linkType: soft\n";
        let out = update(Kind::YarnLock, "yarn.lock", berry, &[], &[req()])
            .unwrap()
            .unwrap();
        assert_eq!(out, berry.replace("^1.2.0", "^2.0.0"));
    }

    #[test]
    fn other_ecosystems_and_outside_paths_change_nothing() {
        assert_eq!(
            relative("js", "js/packages/web").as_deref(),
            Some("packages/web")
        );
        assert_eq!(relative("js", "jsx/a"), None);
        assert_eq!(relative(".", ".").as_deref(), Some(""));
        let text = "version = 4\n";
        assert_eq!(
            update(
                Kind::CargoLock,
                "Cargo.lock",
                text,
                &[bump(Ecosystem::Npm, "x", "x", "1.0.0", "1.1.0")],
                &[]
            )
            .unwrap(),
            None
        );
    }
}
