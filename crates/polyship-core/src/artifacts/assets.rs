//! `forge-assets`: every archive, `.sha256` and `SHA256SUMS` of a version attached to its forge
//! release, idempotently.
//!
//! Everything is decided before the first byte is sent: the release must exist (`publish` makes
//! it), and an asset already there with the same name must be the same file — same size, and the
//! same SHA-256 where the forge says one — or `replace` must be on. Only then are the missing ones
//! uploaded. An upload cut after its bytes were sent may have landed, so the answer is settled by
//! reading the release's assets back, never by uploading blindly again; an incomplete upload
//! (GitHub's `starter` state) is removed and made again.

use std::path::{Path, PathBuf};

use crate::release::forge::{Asset, AssetRelease, Forge, ForgeError};

/// One file to attach.
#[derive(Debug, Clone)]
pub struct File {
    pub name: String,
    pub path: PathBuf,
}

/// What became of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Uploaded,
    /// Already there, the same file.
    Kept,
    /// Another file of that name was there and `replace` is on.
    Replaced,
}

/// Why the assets were not attached.
#[derive(Debug, thiserror::Error)]
pub enum AssetsError {
    #[error("`{tag}` has no release on the forge to attach the archives to")]
    NoRelease { tag: String },
    #[error("no archives of `{package}` {version} to attach: `{}` is empty", .dir.display())]
    Nothing {
        package: String,
        version: String,
        dir: PathBuf,
    },
    #[error(
        "the release `{tag}` already has {} with other contents: {}",
        if .names.len() == 1 { "an asset" } else { "assets" },
        crate::pipeline::quoted_list(.names)
    )]
    Conflict { tag: String, names: Vec<String> },
    #[error("failed to read `{}`", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{name}` did not reach the release `{tag}`")]
    Upload {
        tag: String,
        name: String,
        #[source]
        source: ForgeError,
    },
    #[error(transparent)]
    Forge(#[from] ForgeError),
}

/// The files of a version's `dist/` directory that are attached: archives, their `.sha256` and
/// `SHA256SUMS`, sorted by name.
pub fn files(dist: &Path) -> Result<Vec<File>, AssetsError> {
    let entries = match std::fs::read_dir(dist) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(AssetsError::Read {
                path: dist.to_owned(),
                source: e,
            });
        }
    };
    let mut files: Vec<File> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_owned();
            let attached = name == "SHA256SUMS"
                || [".tar.gz", ".zip", ".sha256"]
                    .iter()
                    .any(|ext| name.ends_with(ext));
            (attached && !name.starts_with('.')).then(|| File {
                name,
                path: e.path(),
            })
        })
        .collect();
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

/// Attaches `files` to the release of `tag`.
pub fn attach(
    forge: &Forge,
    agent: &ureq::Agent,
    tag: &str,
    files: &[File],
    replace: bool,
) -> Result<Vec<(String, Outcome)>, AssetsError> {
    let Some(release) = forge.asset_release(agent, tag)? else {
        return Err(AssetsError::NoRelease {
            tag: tag.to_owned(),
        });
    };
    let existing = forge.assets(agent, &release)?;
    let mut work = Vec::new();
    let mut conflicts = Vec::new();
    for file in files {
        let bytes = std::fs::read(&file.path).map_err(|e| AssetsError::Read {
            path: file.path.clone(),
            source: e,
        })?;
        let sha256 = super::archive::sha256_hex(&bytes);
        let there = existing.iter().find(|a| a.name == file.name);
        let plan = match there {
            None => Plan::Upload,
            Some(a) if !a.complete => Plan::Redo(a.clone()),
            Some(a) if same(a, &bytes, &sha256) => Plan::Keep,
            Some(a) if replace => Plan::Replace(a.clone()),
            Some(_) => {
                conflicts.push(file.name.clone());
                continue;
            }
        };
        work.push((file, bytes, sha256, plan));
    }
    if !conflicts.is_empty() {
        return Err(AssetsError::Conflict {
            tag: tag.to_owned(),
            names: conflicts,
        });
    }
    let mut done = Vec::new();
    for (file, bytes, sha256, plan) in work {
        let outcome = match plan {
            Plan::Keep => Outcome::Kept,
            Plan::Upload => {
                send(forge, agent, &release, &file.name, &bytes, &sha256)?;
                Outcome::Uploaded
            }
            Plan::Redo(old) => {
                forge.delete_asset(agent, &release, &old)?;
                send(forge, agent, &release, &file.name, &bytes, &sha256)?;
                Outcome::Uploaded
            }
            Plan::Replace(old) => {
                forge.delete_asset(agent, &release, &old)?;
                send(forge, agent, &release, &file.name, &bytes, &sha256)?;
                Outcome::Replaced
            }
        };
        done.push((file.name.clone(), outcome));
    }
    Ok(done)
}

enum Plan {
    Upload,
    Keep,
    Redo(Asset),
    Replace(Asset),
}

fn same(asset: &Asset, bytes: &[u8], sha256: &str) -> bool {
    asset.size == bytes.len() as u64 && asset.sha256.as_deref().is_none_or(|d| d == sha256)
}

/// Uploads one file; after a cut connection, reads the release back to learn whether it landed,
/// and tries again (three times in all) only when it did not.
fn send(
    forge: &Forge,
    agent: &ureq::Agent,
    release: &AssetRelease,
    name: &str,
    bytes: &[u8],
    sha256: &str,
) -> Result<(), AssetsError> {
    let upload_err = |source| AssetsError::Upload {
        tag: release.tag.clone(),
        name: name.to_owned(),
        source,
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        let cut = match forge.upload_asset(agent, release, name, bytes) {
            Ok(()) => return Ok(()),
            Err(e @ ForgeError::Unreachable { .. }) => e,
            Err(e) => return Err(upload_err(e)),
        };
        let landed = forge
            .assets(agent, release)?
            .into_iter()
            .find(|a| a.name == name);
        match landed {
            Some(a) if a.complete && same(&a, bytes, sha256) => return Ok(()),
            Some(a) => forge.delete_asset(agent, release, &a)?,
            None => {}
        }
        if attempt == 3 {
            return Err(upload_err(cut));
        }
        std::thread::sleep(std::time::Duration::from_millis(300 << attempt));
    }
}

/// Every file attached to `tag`'s release downloads back with the bytes of `files`: `verify`.
pub fn check(
    forge: &Forge,
    agent: &ureq::Agent,
    tag: &str,
    files: &[File],
) -> Result<Vec<String>, AssetsError> {
    let Some(release) = forge.asset_release(agent, tag)? else {
        return Err(AssetsError::NoRelease {
            tag: tag.to_owned(),
        });
    };
    let assets = forge.assets(agent, &release)?;
    let mut problems = Vec::new();
    let mut downloaded: Vec<(String, Vec<u8>)> = Vec::new();
    for file in files {
        let ours = std::fs::read(&file.path).map_err(|e| AssetsError::Read {
            path: file.path.clone(),
            source: e,
        })?;
        let Some(asset) = assets.iter().find(|a| a.name == file.name) else {
            problems.push(format!("`{}` is not attached to `{tag}`", file.name));
            continue;
        };
        let theirs = forge.download_asset(agent, &release, asset)?;
        downloaded.push((file.name.clone(), theirs.clone()));
        if theirs != ours {
            problems.push(format!(
                "`{}` on `{tag}` is not the file built here (SHA-256 {} against {})",
                file.name,
                super::archive::sha256_hex(&theirs),
                super::archive::sha256_hex(&ours)
            ));
        }
    }
    problems.extend(sums_problems(tag, &downloaded));
    Ok(problems)
}

/// What is wrong between the downloaded `SHA256SUMS` and the downloaded files it lists: a file
/// whose checksum differs, or one the file does not list.
fn sums_problems(tag: &str, downloaded: &[(String, Vec<u8>)]) -> Vec<String> {
    let Some((_, sums)) = downloaded.iter().find(|(n, _)| n == "SHA256SUMS") else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(sums);
    let listed: Vec<(&str, &str)> = text
        .lines()
        .filter_map(|l| {
            let (sum, name) = l.split_once(char::is_whitespace)?;
            // `sha256sum`'s text mode (two spaces) and binary mode (` *name`).
            Some((sum, name.trim_start().trim_start_matches('*')))
        })
        .collect();
    let mut problems = Vec::new();
    for (name, bytes) in downloaded {
        if !super::bundle::is_archive(name) {
            continue;
        }
        let sum = super::archive::sha256_hex(bytes);
        match listed.iter().find(|(_, n)| n == name) {
            Some((theirs, _)) if *theirs == sum => {}
            Some((theirs, _)) => problems.push(format!(
                "`{name}` on `{tag}` has SHA-256 {sum}, but its `SHA256SUMS` says {theirs}"
            )),
            None => problems.push(format!("`SHA256SUMS` on `{tag}` does not list `{name}`")),
        }
    }
    problems
}
