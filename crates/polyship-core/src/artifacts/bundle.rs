//! `archive`: one archive per build of the current commit, its `.sha256`, and `SHA256SUMS`.
//!
//! An archive holds the build's binaries and the package's README and licence files (the
//! repository root's when the package has none), inside a directory named like the archive unless
//! `wrap` is off. Names come from a template, `{name}-{version}-{target}` by default; the
//! extension follows the format (`zip` for Windows targets, `tar.gz` for the rest, unless given).
//! Every file is written atomically and `SHA256SUMS` last, from every archive of `dist/`.

use std::path::{Path, PathBuf};

use super::archive::{self, Entry, Format};
use super::{Build, Store, StoreError};

/// How to archive.
#[derive(Debug, Clone)]
pub struct Request {
    /// `{name}`, `{version}`, `{target}` are replaced.
    pub name_template: String,
    /// `None`: by target.
    pub format: Option<Format>,
    /// Put the files in a directory named like the archive.
    pub wrap: bool,
    /// More files, globs relative to the package's directory.
    pub include: Vec<String>,
}

impl Default for Request {
    fn default() -> Self {
        Request {
            name_template: "{name}-{version}-{target}".to_owned(),
            format: None,
            wrap: true,
            include: Vec::new(),
        }
    }
}

/// One archive written.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Archived {
    pub target: String,
    pub file: PathBuf,
    pub sha256: String,
    pub size: u64,
}

/// Why archiving failed.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no build of `{package}` {version} at this commit to archive")]
    NothingBuilt {
        package: String,
        version: String,
        /// Builds of other commits that are there.
        stale: Vec<String>,
    },
    #[error("failed to read `{}`", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to write `{}`", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the include pattern `{pattern}` is not a glob")]
    Pattern {
        pattern: String,
        #[source]
        source: glob::PatternError,
    },
    #[error("the include pattern `{pattern}` matches nothing in `{}`", .dir.display())]
    Unmatched { pattern: String, dir: PathBuf },
    #[error("cannot archive `{target}`")]
    Archive {
        target: String,
        #[source]
        source: archive::ArchiveError,
    },
    #[error("the archive name `{name}` must be a plain file name")]
    Name { name: String },
    #[error("{0}")]
    Time(String),
}

/// Archives every build of `store` made at `commit`.
pub fn bundle(
    root: &Path,
    package_dir: &Path,
    store: &Store,
    commit: &str,
    request: &Request,
) -> Result<Vec<Archived>, BundleError> {
    let (builds, stale): (Vec<Build>, Vec<Build>) = store
        .builds()?
        .into_iter()
        .partition(|b| b.commit == commit);
    let Some(first) = builds.first() else {
        return Err(BundleError::NothingBuilt {
            package: store_name(store),
            version: store_version(store),
            stale: stale.iter().map(|b| b.target.clone()).collect(),
        });
    };
    let (package, version) = (first.package.clone(), first.version.clone());
    let mtime = super::source_date(root, commit).map_err(BundleError::Time)?;
    let docs = documents(root, package_dir, &request.include)?;
    let dist = store.dist_dir();
    std::fs::create_dir_all(&dist).map_err(|e| BundleError::Write {
        path: dist.clone(),
        source: e,
    })?;
    let mut made = Vec::new();
    for build in &builds {
        let stem = request
            .name_template
            .replace("{name}", &super::slug(&package))
            .replace("{version}", &version)
            .replace("{target}", &build.target);
        if stem.is_empty() || stem.contains('/') || stem.starts_with('.') {
            return Err(BundleError::Name { name: stem });
        }
        let format = request
            .format
            .unwrap_or_else(|| Format::for_target(&build.target));
        let prefix = if request.wrap {
            format!("{stem}/")
        } else {
            String::new()
        };
        let mut entries = Vec::new();
        for binary in &build.binaries {
            let path = store.target_dir(&build.target).join(&binary.name);
            let contents =
                std::fs::read(&path).map_err(|e| BundleError::Read { path, source: e })?;
            entries.push(Entry {
                name: format!("{prefix}{}", binary.name),
                contents,
                executable: true,
            });
        }
        for (name, contents) in &docs {
            entries.push(Entry {
                name: format!("{prefix}{name}"),
                contents: contents.clone(),
                executable: false,
            });
        }
        let bytes = archive::write(format, &entries, mtime).map_err(|e| BundleError::Archive {
            target: build.target.clone(),
            source: e,
        })?;
        let file_name = format!("{stem}.{}", format.extension());
        let file = dist.join(&file_name);
        let sha256 = archive::sha256_hex(&bytes);
        write(&file, &bytes)?;
        write(
            &dist.join(format!("{file_name}.sha256")),
            archive::checksums(&[(file_name.clone(), sha256.clone())]).as_bytes(),
        )?;
        made.push(Archived {
            target: build.target.clone(),
            file,
            sha256,
            size: bytes.len() as u64,
        });
    }
    write_sums(&dist)?;
    Ok(made)
}

fn store_name(store: &Store) -> String {
    store
        .dir
        .parent()
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn store_version(store: &Store) -> String {
    store
        .dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), BundleError> {
    crate::fsutil::write_atomic(path, bytes).map_err(|e| BundleError::Write {
        path: path.to_owned(),
        source: e,
    })
}

/// `SHA256SUMS` over every archive in `dist` (those of earlier runs for other targets too).
fn write_sums(dist: &Path) -> Result<(), BundleError> {
    let read_err = |e| BundleError::Read {
        path: dist.to_owned(),
        source: e,
    };
    let mut sums = Vec::new();
    for entry in std::fs::read_dir(dist).map_err(read_err)? {
        let entry = entry.map_err(read_err)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !is_archive(&name) {
            continue;
        }
        let bytes = std::fs::read(entry.path()).map_err(|e| BundleError::Read {
            path: entry.path(),
            source: e,
        })?;
        sums.push((name, archive::sha256_hex(&bytes)));
    }
    write(
        &dist.join("SHA256SUMS"),
        archive::checksums(&sums).as_bytes(),
    )
}

/// Whether `name` is an archive `archive` writes.
pub fn is_archive(name: &str) -> bool {
    [".tar.gz", ".zip"].iter().any(|ext| {
        name.len() > ext.len() && name[name.len() - ext.len()..].eq_ignore_ascii_case(ext)
    })
}

/// The files every archive carries beside the binaries, by their names in the archive.
fn documents(
    root: &Path,
    package_dir: &Path,
    include: &[String],
) -> Result<Vec<(String, Vec<u8>)>, BundleError> {
    let mut docs: Vec<(String, Vec<u8>)> = Vec::new();
    for kinds in [
        &["README"][..],
        &["LICENSE", "LICENCE", "COPYING", "UNLICENSE"][..],
    ] {
        let found = matching(package_dir, kinds)?;
        let found = if found.is_empty() {
            matching(root, kinds)?
        } else {
            found
        };
        docs.extend(found);
    }
    for pattern in include {
        let full = package_dir.join(pattern);
        let paths = glob::glob(&full.to_string_lossy()).map_err(|e| BundleError::Pattern {
            pattern: pattern.clone(),
            source: e,
        })?;
        let mut any = false;
        for path in paths.flatten().filter(|p| p.is_file()) {
            any = true;
            let name = member_name(root, package_dir, &path);
            if docs.iter().any(|(n, _)| *n == name) {
                continue;
            }
            let contents =
                std::fs::read(&path).map_err(|e| BundleError::Read { path, source: e })?;
            docs.push((name, contents));
        }
        if !any {
            return Err(BundleError::Unmatched {
                pattern: pattern.clone(),
                dir: package_dir.to_owned(),
            });
        }
    }
    Ok(docs)
}

/// The name in the archive of an included file: its path from the package directory, else from
/// the repository root (`../../LICENSE` of a crate is `LICENSE`), else its file name. Never a
/// name with `..`, which `tar` refuses to extract.
fn member_name(root: &Path, package_dir: &Path, path: &Path) -> String {
    use crate::workspace::join_rel;
    // `join_rel` folds `..` and refuses to climb above its base.
    let below = |dir: &Path| {
        let rel = path
            .strip_prefix(dir)
            .ok()?
            .to_string_lossy()
            .replace('\\', "/");
        join_rel(".", &rel).filter(|r| r != ".")
    };
    below(package_dir)
        .or_else(|| below(root))
        .unwrap_or_else(|| {
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
}

/// Files of `dir` whose name starts with one of `kinds` (any case): `README.md`, `LICENSE-MIT`.
fn matching(dir: &Path, kinds: &[&str]) -> Result<Vec<(String, Vec<u8>)>, BundleError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            return Err(BundleError::Read {
                path: dir.to_owned(),
                source: e,
            });
        }
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let upper = name.to_uppercase();
        if !kinds.iter().any(|k| upper.starts_with(k)) || !entry.path().is_file() {
            continue;
        }
        let contents = std::fs::read(entry.path()).map_err(|e| BundleError::Read {
            path: entry.path(),
            source: e,
        })?;
        found.push((name, contents));
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_included_file_is_named_without_dot_dot() {
        let (root, package) = (Path::new("/r"), Path::new("/r/crates/p"));
        let name = |p: &str| member_name(root, package, Path::new(p));
        assert_eq!(name("/r/crates/p/docs/guide.md"), "docs/guide.md");
        assert_eq!(name("/r/crates/p/../../LICENSE-MIT"), "LICENSE-MIT");
        assert_eq!(name("/r/crates/p/../../docs/a.md"), "docs/a.md");
        assert_eq!(name("/r/crates/p/../../../elsewhere/NOTICE"), "NOTICE");
    }
}
