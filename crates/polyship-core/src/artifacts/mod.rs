//! Artifacts: a package's binaries built per target, their archives and checksums, and their
//! upload to the package's forge release.
//!
//! Every step leaves its outputs in the artifact store under `.git/polyship/artifacts/<package>/
//! <version>/`, out of the working tree (a `check-clean` gate stays clean, nothing is committed by
//! mistake) and shared by every worktree: `targets/<target>/` holds one build's binaries and its
//! record (`build.json`: the commit, each binary's SHA-256), `dist/` the archives, one `.sha256` per
//! archive and `SHA256SUMS`. A step reads what the steps before it left there, so `build`,
//! `archive` and `forge-assets` may run in separate processes, or in separate pipeline runs.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub mod archive;
pub mod assets;
pub mod build;
pub mod bundle;
pub mod dockerfile;
pub mod executable;
pub mod image;
pub mod npm;
pub mod wheel;

/// Where one package version's artifacts live.
#[derive(Debug, Clone)]
pub struct Store {
    pub dir: PathBuf,
}

impl Store {
    /// The store of `package` at `version`, under the repository's common git directory.
    pub fn new(git_dir: &Path, package: &str, version: &str) -> Self {
        Store {
            dir: git_dir
                .join("polyship")
                .join("artifacts")
                .join(slug(package))
                .join(slug(version)),
        }
    }

    pub fn target_dir(&self, target: &str) -> PathBuf {
        self.dir.join("targets").join(slug(target))
    }

    pub fn dist_dir(&self) -> PathBuf {
        self.dir.join("dist")
    }

    /// Every build recorded for this version, sorted by target.
    pub fn builds(&self) -> Result<Vec<Build>, StoreError> {
        let mut builds: Vec<Build> = records(&self.dir.join("targets"), BUILD_RECORD)?
            .into_iter()
            .map(|(_, build)| build)
            .collect();
        builds.sort_by(|a, b| a.target.cmp(&b.target));
        Ok(builds)
    }
}

/// The record `name` of each directory in `dir`, with the directory. A directory without one
/// (a build that never finished) has none; `dir` missing: none at all.
pub(crate) fn records<T: serde::de::DeserializeOwned>(
    dir: &Path,
    name: &str,
) -> Result<Vec<(PathBuf, T)>, StoreError> {
    let read = |path: &Path| {
        let path = path.to_owned();
        move |source| StoreError::Read { path, source }
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(read(dir)(e)),
    };
    let mut found = Vec::new();
    for entry in entries {
        let sub = entry.map_err(read(dir))?.path();
        let record = sub.join(name);
        let text = match std::fs::read_to_string(&record) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(read(&record)(e)),
        };
        let value = serde_json::from_str(&text).map_err(|e| StoreError::Record {
            path: record,
            source: e,
        })?;
        found.push((sub, value));
    }
    Ok(found)
}

/// The name of a build's record in its target directory.
pub const BUILD_RECORD: &str = "build.json";

/// One finished build: what `build` made for a target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Build {
    pub schema: u32,
    pub package: String,
    pub version: String,
    pub target: String,
    /// The commit it was built from.
    pub commit: String,
    pub binaries: Vec<Binary>,
}

/// One binary of a build, stored in the build's target directory under `name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binary {
    /// The file name, with `.exe` for Windows targets.
    pub name: String,
    pub sha256: String,
    pub size: u64,
}

/// Why the store could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("failed to read `{}`", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}` is not a build record polyship wrote", .path.display())]
    Record {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// A name safe as one path component: `@scope/name` becomes `@scope+name`.
pub fn slug(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            '/' | '\\' | ':' => '+',
            c if c.is_control() => '_',
            c => c,
        })
        .collect::<String>()
        .trim_start_matches('.')
        .to_owned()
}

/// The time every archive entry carries: `SOURCE_DATE_EPOCH` when set, else the commit's time.
pub fn source_date(root: &Path, commit: &str) -> Result<u64, String> {
    if let Ok(value) = std::env::var("SOURCE_DATE_EPOCH")
        && !value.is_empty()
    {
        return value.trim().parse().map_err(|_| {
            format!("`SOURCE_DATE_EPOCH` must be a number of seconds, not `{value}`")
        });
    }
    let out = std::process::Command::new("git")
        .args(["show", "-s", "--format=%ct", commit])
        .current_dir(root)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("could not run git: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`git show {commit}` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .map_err(|_| format!("`git show {commit}` did not print a commit time"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_single_components() {
        assert_eq!(slug("@acme/cli"), "@acme+cli");
        assert_eq!(slug("../x"), "+x");
        assert_eq!(slug("x86_64-pc-windows-msvc"), "x86_64-pc-windows-msvc");
    }
}
