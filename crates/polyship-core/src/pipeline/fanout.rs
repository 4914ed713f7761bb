//! A pipeline fanned out across CI runners: the cells of every matrix with a `target` axis run
//! on the runner their target needs (`run --target`), each leaving its outputs in a directory the
//! CI carries (`--to-artifacts`), and one job finishes the pipeline with them (`--from-artifacts`).
//!
//! What crosses machines is files and a manifest per target: the cells that ran there with their
//! fingerprints and states, and every file they left — in the artifact store and as declared
//! `outputs` — with its SHA-256 and whether it is executable (CI artifact stores drop file modes).
//! The importing side checks everything before it writes anything: the commit, the pipeline, each
//! cell's fingerprint against its own resolution of `polyship.toml`, each file's checksum, and
//! that no path leaves its root.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::journal::{Run, StepState};
use super::runner::{Elsewhere, fingerprint};
use super::{Pipeline, quoted_list};
use crate::artifacts::slug;
use crate::release::redact::Redactor;

/// The cells of one target, in pipeline order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetCells {
    pub target: String,
    /// Indices of the pipeline's steps.
    pub cells: Vec<usize>,
}

/// The manifest's name in each target's directory.
pub const MANIFEST: &str = "cells.json";

/// Why a pipeline cannot fan out, or its artifacts not be exported or imported.
#[derive(Debug, thiserror::Error)]
pub enum FanoutError {
    #[error(
        "step `{step}` (target `{target}`) needs `{needs}` of target `{other}`: one runner cannot run both"
    )]
    CrossTarget {
        step: String,
        target: String,
        needs: String,
        other: String,
    },
    #[error("pipeline `{pipeline}` has no matrix cell with `target = \"{target}\"`")]
    NoTarget {
        pipeline: String,
        target: String,
        targets: Vec<String>,
    },
    #[error("failed to {doing} `{}`", .path.display())]
    Io {
        doing: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}` is not a manifest polyship wrote", .path.display())]
    Manifest {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("`{}`: {message}", .path.display())]
    Refused {
        path: PathBuf,
        message: String,
        help: String,
    },
    #[error("no artifacts for {}", quoted_list(.cells))]
    Missing { cells: Vec<String>, dir: PathBuf },
}

impl FanoutError {
    pub fn help(&self) -> Option<String> {
        match self {
            FanoutError::CrossTarget { .. } => Some(
                "a cell may need cells of its own target and steps without one; move what joins targets into a step without a `target` axis".into(),
            ),
            FanoutError::NoTarget { targets, .. } if targets.is_empty() => Some(
                "give a step a matrix with a `target` axis, like `matrix = { target = [\"x86_64-unknown-linux-gnu\"] }`".into(),
            ),
            FanoutError::NoTarget { targets, .. } => {
                Some(format!("its targets are {}", quoted_list(targets)))
            }
            FanoutError::Refused { help, .. } => Some(help.clone()),
            FanoutError::Missing { dir, .. } => Some(format!(
                "each runner's job uploads its `--to-artifacts` directory; download them all into `{}` (a job that failed uploads nothing: rerun it, or make the step `partial = true`)",
                dir.display()
            )),
            FanoutError::Io { .. } | FanoutError::Manifest { .. } => None,
        }
    }
}

/// The targets the pipeline fans out to, in the order they first appear, each with its cells. A
/// cell that needs a cell of another target is an error: no one runner runs both.
pub fn targets(pipeline: &Pipeline) -> Result<Vec<TargetCells>, FanoutError> {
    let mut found: Vec<TargetCells> = Vec::new();
    for (i, step) in pipeline.steps.iter().enumerate() {
        let Some(target) = step.target() else {
            continue;
        };
        for &n in &step.needs {
            if let Some(other) = pipeline.steps[n].target()
                && other != target
            {
                return Err(FanoutError::CrossTarget {
                    step: step.name.clone(),
                    target: target.to_owned(),
                    needs: pipeline.steps[n].name.clone(),
                    other: other.to_owned(),
                });
            }
        }
        match found.iter_mut().find(|t| t.target == target) {
            Some(t) => t.cells.push(i),
            None => found.push(TargetCells {
                target: target.to_owned(),
                cells: vec![i],
            }),
        }
    }
    Ok(found)
}

/// The cells of `target`, or the error that lists the pipeline's targets.
fn cells_of(pipeline: &Pipeline, target: &str) -> Result<TargetCells, FanoutError> {
    let mut all = targets(pipeline)?;
    match all.iter().position(|t| t.target == target) {
        Some(at) => Ok(all.swap_remove(at)),
        None => Err(FanoutError::NoTarget {
            pipeline: pipeline.name.clone(),
            target: target.to_owned(),
            targets: all.into_iter().map(|t| t.target).collect(),
        }),
    }
}

/// `run --target`: which steps run (the target's cells) and which are skipped (what they need,
/// left to the job that finishes the pipeline). Returns `(selected, skip)`.
pub fn select_target(
    pipeline: &Pipeline,
    target: &str,
) -> Result<(Vec<bool>, Vec<bool>), FanoutError> {
    let cells = cells_of(pipeline, target)?;
    let selected = pipeline.needs_of(&cells.cells);
    let skip = (0..pipeline.steps.len())
        .map(|i| selected[i] && !cells.cells.contains(&i))
        .collect();
    Ok((selected, skip))
}

/// The checkout a fan-out step works in, with the pipeline as it resolves there.
#[derive(Debug, Clone, Copy)]
pub struct Checkout<'a> {
    pub root: &'a Path,
    pub git_dir: &'a Path,
    pub pipeline: &'a Pipeline,
    /// Masks secrets in the cells' fingerprints, as the run journal does.
    pub redactor: &'a Redactor,
}

/// One target's manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub schema: u32,
    pub pipeline: String,
    pub target: String,
    /// The commit the cells ran at.
    pub commit: String,
    pub cells: Vec<CellRecord>,
    pub files: Vec<FileRecord>,
}

/// A cell as it ended on its runner.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CellRecord {
    pub name: String,
    pub fingerprint: String,
    pub state: StepState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A file a target's cells left: `store/<path>` in the artifact store, `tree/<path>` in the
/// working tree.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileRecord {
    pub path: String,
    pub sha256: String,
    pub size: u64,
    #[serde(default)]
    pub executable: bool,
}

/// The artifact store's files with their sizes and modification times, to tell what a run wrote.
#[derive(Debug, Default)]
pub struct Snapshot(BTreeMap<PathBuf, (u64, Option<std::time::SystemTime>)>);

fn store_root(git_dir: &Path) -> PathBuf {
    git_dir.join("polyship").join("artifacts")
}

/// The store's files now.
pub fn snapshot(git_dir: &Path) -> Snapshot {
    let root = store_root(git_dir);
    let mut files = BTreeMap::new();
    for path in walk(&root) {
        if let Ok(meta) = std::fs::metadata(&path) {
            files.insert(path, (meta.len(), meta.modified().ok()));
        }
    }
    Snapshot(files)
}

/// Every file below `dir`, sorted; nothing when it does not exist.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => pending.push(path),
                Ok(t) if t.is_file() => found.push(path),
                _ => {}
            }
        }
    }
    found.sort();
    found
}

/// What `--to-artifacts` wrote.
#[derive(Debug)]
pub struct Exported {
    pub manifest: PathBuf,
    pub files: usize,
}

/// Writes the target's cells and the files they left into `dir/<target>/`: the store's
/// directories of this target (`targets/<target>/`, `wheels/<target>/`), whatever else of the
/// store the run wrote (`before` is the store before it), and the succeeded cells' `outputs`.
/// The manifest is written last, so a directory without one is an export that did not finish.
pub fn export(
    at: &Checkout<'_>,
    target: &str,
    run: &Run,
    before: &Snapshot,
    dir: &Path,
) -> Result<Exported, FanoutError> {
    let Checkout {
        root,
        git_dir,
        pipeline,
        redactor,
    } = *at;
    let cells = cells_of(pipeline, target)?;
    let mut records = Vec::new();
    let mut sources: BTreeMap<String, PathBuf> = BTreeMap::new();
    let store = store_root(git_dir);
    let own = slug(target);
    for path in walk(&store) {
        let Ok(relative) = path.strip_prefix(&store) else {
            continue;
        };
        let mine = relative
            .components()
            .collect::<Vec<_>>()
            .windows(2)
            .any(|w| {
                matches!(w[0].as_os_str().to_str(), Some("targets" | "wheels"))
                    && w[1].as_os_str() == own.as_str()
            });
        let meta = std::fs::metadata(&path).ok();
        let changed = meta
            .as_ref()
            .is_some_and(|m| before.0.get(&path) != Some(&(m.len(), m.modified().ok())));
        if mine || changed {
            sources.insert(format!("store/{}", portable(relative)), path);
        }
    }
    for &i in &cells.cells {
        let step = &pipeline.steps[i];
        let record = run.step(&step.name);
        let state = record.map_or(StepState::NotRun, |r| r.state);
        records.push(CellRecord {
            name: step.name.clone(),
            fingerprint: cell_fingerprint(step, root, redactor),
            state,
            message: record.and_then(|r| r.message.clone()),
        });
        if matches!(state, StepState::Succeeded | StepState::Reused) {
            for pattern in &step.outputs {
                for path in outputs(root, pattern) {
                    if let Ok(relative) = path.strip_prefix(root) {
                        sources.insert(format!("tree/{}", portable(relative)), path);
                    }
                }
            }
        }
    }
    let out = dir.join(&own);
    let mut files = Vec::new();
    for (name, source) in &sources {
        let bytes = std::fs::read(source).map_err(io("read", source))?;
        let dest = out.join("files").join(name);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(io("create", parent))?;
        }
        std::fs::write(&dest, &bytes).map_err(io("write", &dest))?;
        files.push(FileRecord {
            path: name.clone(),
            sha256: crate::artifacts::archive::sha256_hex(&bytes),
            size: bytes.len() as u64,
            executable: executable(source),
        });
    }
    let manifest = Manifest {
        schema: 1,
        pipeline: pipeline.name.clone(),
        target: target.to_owned(),
        commit: run.head.clone(),
        cells: records,
        files,
    };
    let path = out.join(MANIFEST);
    let mut text = serde_json::to_string_pretty(&manifest).unwrap_or_default();
    text.push('\n');
    crate::fsutil::write_atomic(&path, text.as_bytes()).map_err(io("write", &path))?;
    Ok(Exported {
        manifest: path,
        files: manifest.files.len(),
    })
}

/// A cell's fingerprint with its directory relative to the root: the runners check the
/// repository out at paths of their own (`D:\a\…` on Windows, `/Users/runner/…` on macOS).
fn cell_fingerprint(step: &super::Step, root: &Path, redactor: &Redactor) -> String {
    let mut step = step.clone();
    if let Ok(relative) = step.dir.strip_prefix(root) {
        step.dir = PathBuf::from(portable(relative));
    }
    fingerprint(&step, redactor)
}

/// The files an `outputs` glob names, directories walked.
fn outputs(root: &Path, pattern: &str) -> Vec<PathBuf> {
    let full = root.join(pattern).to_string_lossy().into_owned();
    let mut found = Vec::new();
    for path in glob::glob(&full).into_iter().flatten().flatten() {
        if path.is_dir() {
            found.extend(walk(&path));
        } else if path.is_file() {
            found.push(path);
        }
    }
    found
}

/// A relative path with `/` between its parts.
fn portable(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

fn io(doing: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> FanoutError {
    let path = path.to_owned();
    move |source| FanoutError::Io {
        doing,
        path,
        source,
    }
}

/// What `--from-artifacts` brought in.
#[derive(Debug)]
pub struct Imported {
    /// Per step: what its runner did, for the runner's options.
    pub elsewhere: Vec<Option<Elsewhere>>,
    /// The targets found, and the files written.
    pub targets: Vec<String>,
    pub files: usize,
}

/// Reads every `dir/*/cells.json`, checks all of it, then writes the files into the store and
/// the working tree. A cell that failed on its runner, or of a target that left nothing, is
/// `Failed` when its step is `partial`; otherwise a missing cell is an error and nothing is written.
pub fn import(at: &Checkout<'_>, dir: &Path, head: &str) -> Result<Imported, FanoutError> {
    let Checkout {
        root,
        git_dir,
        pipeline,
        redactor,
    } = *at;
    let all = targets(pipeline)?;
    let manifests = manifests(dir)?;
    let mut elsewhere: Vec<Option<Elsewhere>> = vec![None; pipeline.steps.len()];
    let mut writes: BTreeMap<PathBuf, (PathBuf, bool, String)> = BTreeMap::new();
    for (path, manifest) in &manifests {
        check_manifest(path, manifest, pipeline, &all, head)?;
        for cell in &manifest.cells {
            let i = pipeline
                .steps
                .iter()
                .position(|s| s.name == cell.name)
                .unwrap_or_default();
            let ours = cell_fingerprint(&pipeline.steps[i], root, redactor);
            if cell.fingerprint != ours
                && matches!(cell.state, StepState::Succeeded | StepState::Reused)
            {
                return Err(refused(
                    path,
                    format!(
                        "`{}` ran with other inputs than this checkout gives it",
                        cell.name
                    ),
                    "the runner's polyship.toml, environment or polyship version differ from this job's; run the whole workflow again from one commit",
                ));
            }
            elsewhere[i] = Some(match cell.state {
                StepState::Succeeded | StepState::Reused => Elsewhere::Imported,
                state => Elsewhere::Failed(format!(
                    "{} on its runner{}",
                    state.as_str(),
                    cell.message
                        .as_ref()
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default()
                )),
            });
        }
        let base = path.parent().unwrap_or(dir).join("files");
        for file in &manifest.files {
            let dest = destination(root, git_dir, &file.path).ok_or_else(|| {
                refused(
                    path,
                    format!("the file `{}` would be written outside the repository", file.path),
                    "a manifest names `store/…` or `tree/…` paths without `..`; this one was not written by polyship",
                )
            })?;
            let source = base.join(&file.path);
            let bytes = std::fs::read(&source).map_err(io("read", &source))?;
            if crate::artifacts::archive::sha256_hex(&bytes) != file.sha256 {
                return Err(refused(
                    &source,
                    format!("its SHA-256 is not the one `{}` recorded", path.display()),
                    "the file changed after its runner made it; download the artifacts again, or run the workflow again",
                ));
            }
            if let Some((other, _, sha)) = writes.get(&dest)
                && *sha != file.sha256
            {
                return Err(refused(
                    &source,
                    format!("`{}` holds another `{}`", other.display(), file.path),
                    "two targets' cells wrote the same file; give each target's files their own names",
                ));
            }
            writes.insert(dest, (source, file.executable, file.sha256.clone()));
        }
    }
    let mut missing = Vec::new();
    for target in &all {
        for &i in &target.cells {
            if elsewhere[i].is_some() {
                continue;
            }
            if pipeline.steps[i].partial {
                elsewhere[i] = Some(Elsewhere::Failed("its runner left no artifacts".into()));
            } else {
                missing.push(pipeline.steps[i].name.clone());
            }
        }
    }
    if !missing.is_empty() {
        return Err(FanoutError::Missing {
            cells: missing,
            dir: dir.to_owned(),
        });
    }
    for (dest, (source, exec, _)) in &writes {
        place(source, dest, *exec)?;
    }
    Ok(Imported {
        elsewhere,
        targets: manifests.into_iter().map(|(_, m)| m.target).collect(),
        files: writes.len(),
    })
}

/// The manifest of each directory in `dir`, by target; a directory without one is an export that
/// did not finish, or something else.
fn manifests(dir: &Path) -> Result<Vec<(PathBuf, Manifest)>, FanoutError> {
    let entries = std::fs::read_dir(dir).map_err(io("read", dir))?;
    let mut manifests: Vec<(PathBuf, Manifest)> = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path().join(MANIFEST);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io("read", &path)(e)),
        };
        let manifest: Manifest =
            serde_json::from_str(&text).map_err(|source| FanoutError::Manifest {
                path: path.clone(),
                source,
            })?;
        manifests.push((path, manifest));
    }
    manifests.sort_by(|a, b| a.1.target.cmp(&b.1.target));
    Ok(manifests)
}

fn refused(path: &Path, message: String, help: &str) -> FanoutError {
    FanoutError::Refused {
        path: path.to_owned(),
        message,
        help: help.into(),
    }
}

fn check_manifest(
    path: &Path,
    manifest: &Manifest,
    pipeline: &Pipeline,
    all: &[TargetCells],
    head: &str,
) -> Result<(), FanoutError> {
    if manifest.schema != 1 {
        return Err(refused(
            path,
            format!("schema {} is not one this polyship reads", manifest.schema),
            "install the same polyship version in every job",
        ));
    }
    if manifest.pipeline != pipeline.name {
        return Err(refused(
            path,
            format!(
                "it holds pipeline `{}`, not `{}`",
                manifest.pipeline, pipeline.name
            ),
            "download only this pipeline's artifacts into the directory",
        ));
    }
    if manifest.commit != head {
        return Err(refused(
            path,
            format!(
                "its cells ran at `{}`, this checkout is at `{}`",
                short(&manifest.commit),
                short(head)
            ),
            "check out the commit the runners built (`actions/checkout` of the same workflow run), or run the workflow again",
        ));
    }
    let Some(cells) = all.iter().find(|t| t.target == manifest.target) else {
        return Err(refused(
            path,
            format!(
                "pipeline `{}` has no target `{}`",
                pipeline.name, manifest.target
            ),
            "polyship.toml changed between the jobs; run the workflow again",
        ));
    };
    for cell in &manifest.cells {
        if !cells
            .cells
            .iter()
            .any(|&i| pipeline.steps[i].name == cell.name)
        {
            return Err(refused(
                path,
                format!(
                    "`{}` is not a cell of target `{}`",
                    cell.name, manifest.target
                ),
                "polyship.toml changed between the jobs; run the workflow again",
            ));
        }
    }
    Ok(())
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

/// Where a manifest's path goes: `store/…` below the artifact store, `tree/…` below the root.
/// `None` for anything that could leave them.
fn destination(root: &Path, git_dir: &Path, path: &str) -> Option<PathBuf> {
    let (base, rest) = match path.split_once('/') {
        Some(("store", rest)) => (store_root(git_dir), rest),
        Some(("tree", rest)) => (root.to_owned(), rest),
        _ => return None,
    };
    let relative = Path::new(rest);
    let safe = !rest.is_empty()
        && relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
        && !rest.contains('\\');
    safe.then(|| base.join(relative))
}

/// Copies `source` to `dest` atomically, with the executable bits the manifest recorded.
fn place(source: &Path, dest: &Path, exec: bool) -> Result<(), FanoutError> {
    let bytes = std::fs::read(source).map_err(io("read", source))?;
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(io("create", parent))?;
    }
    crate::fsutil::write_atomic(dest, &bytes).map_err(io("write", dest))?;
    if exec {
        crate::artifacts::build::set_executable(dest).map_err(io("set the mode of", dest))?;
    }
    Ok(())
}

/// The release commit HEAD is, or merged: HEAD's own `Polyship-Release` trailer, else (HEAD a
/// merge) that of the branch it merged. `None` when neither carries one.
pub fn release_commit(root: &Path) -> Option<(String, String)> {
    let show = |rev: &str| -> Option<(String, Vec<String>, String)> {
        let out = std::process::Command::new("git")
            .args([
                "show",
                "-s",
                &format!(
                    "--format=%H%x00%P%x00%(trailers:key={},valueonly,separator=%x2C)",
                    crate::apply::commit::TRAILER
                ),
                rev,
                "--",
            ])
            .current_dir(root)
            .stdin(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut parts = text.trim_end().splitn(3, '\0');
        let id = parts.next()?.to_owned();
        let parents = parts
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        let trailer = parts.next().unwrap_or_default().trim().to_owned();
        Some((id, parents, trailer))
    };
    let (id, parents, trailer) = show("HEAD")?;
    if !trailer.is_empty() {
        return Some((id, trailer));
    }
    parents.iter().skip(1).find_map(|p| {
        let (id, _, trailer) = show(p)?;
        (!trailer.is_empty()).then_some((id, trailer))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_paths_stay_in_their_roots() {
        let root = Path::new("/repo");
        let git = Path::new("/repo/.git");
        assert_eq!(
            destination(root, git, "store/cli/1.0.0/targets/x/cli"),
            Some(PathBuf::from(
                "/repo/.git/polyship/artifacts/cli/1.0.0/targets/x/cli"
            ))
        );
        assert_eq!(
            destination(root, git, "tree/dist/a.txt"),
            Some(PathBuf::from("/repo/dist/a.txt"))
        );
        for bad in [
            "store/../../etc/passwd",
            "tree//etc/passwd",
            "tree/a/../../b",
            "other/a",
            "tree/",
            "store",
            "tree/a\\..\\b",
        ] {
            assert_eq!(destination(root, git, bad), None, "{bad}");
        }
    }
}
