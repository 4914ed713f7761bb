//! A set of file writes that survives `kill -9`, a power cut or an OOM kill.
//!
//! [`apply`] writes a record under `.git/polyship/` before it touches anything, naming every target,
//! its temporary file and a backup of its old bytes (a hard link, so no copy is made), and flushes
//! it to disk. It then writes every temporary file, marks the record `prepared`, and renames the
//! temporaries into place one by one. Only when the caller's follow-up (staging and committing the
//! release) is done does [`Transaction::complete`] remove the record.
//!
//! A process killed anywhere in between leaves the record. [`recover`], which every polyship
//! command runs first, then either rolls the set forward — every remaining temporary file is
//! there, so the renames are finished and the follow-up (`git add`, `git commit`) is done as the
//! killed run would have — or back, restoring every target from its backup; it says which, and
//! removes every temporary file the record names. A catchable interrupt (Ctrl-C) rolls back at once.
//!
//! Files keep their permission bits; a read-only target is an error before anything is written;
//! a symlinked target is written through to the file it points at, inside the repository.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use crate::fsutil::FileEdit;

/// The record's file name in `.git/polyship/`.
const RECORD: &str = "transaction.json";
/// The directory of backups, beside it.
const BACKUPS: &str = "transaction";

/// What the caller does once the files are in place, recorded so that a roll forward can finish it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUp {
    /// Root-relative paths to `git add`.
    pub stage: Vec<String>,
    /// The commit message, when the run commits.
    pub commit: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum State {
    /// Temporary files are being written; no target has changed.
    Preparing,
    /// Every temporary file and backup is on disk; targets are being replaced.
    Prepared,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    /// The file written (symlinks resolved), absolute.
    target: PathBuf,
    /// Its temporary file; `None` when the edit deletes the target.
    temp: Option<PathBuf>,
    /// A backup of the old file; `None` when it did not exist.
    backup: Option<PathBuf>,
    /// The SHA-256 of the new contents, to tell a target already replaced.
    #[serde(default)]
    sha256: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    schema: u32,
    /// The command that started it, for messages.
    command: String,
    pid: u32,
    state: State,
    entries: Vec<Entry>,
    follow_up: FollowUp,
}

/// Why a set of writes did not happen. Every file is as it was unless `NotRestored` says so.
#[derive(Debug, thiserror::Error)]
pub enum TransactionError {
    #[error("`{}` changed since the edits were computed; nothing was written", path.display())]
    Stale { path: PathBuf },
    #[error("`{}` is read-only; nothing was written", path.display())]
    ReadOnly { path: PathBuf },
    #[error("`{}` is a symbolic link to `{}`, outside the repository; nothing was written", path.display(), target.display())]
    LinkOutside { path: PathBuf, target: PathBuf },
    #[error("failed to write `{}`; every file is as it was", path.display())]
    Failed {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("interrupted; every file is as it was")]
    Interrupted,
    #[error("failed to write `{}`, and {} could not be put back", path.display(), list(not_restored))]
    NotRestored {
        path: PathBuf,
        #[source]
        source: std::io::Error,
        not_restored: Vec<PathBuf>,
    },
    #[error("failed to keep the transaction record in `{}`", path.display())]
    Record {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("another polyship process ({pid}) is writing files (`{}`)", path.display())]
    Busy { pid: u32, path: PathBuf },
    #[error("the transaction record `{}` does not parse", path.display())]
    Corrupt {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("the files are in place, but `git {command}` failed: {output}")]
    FollowUp { command: String, output: String },
}

impl TransactionError {
    pub fn help(&self) -> Option<String> {
        Some(match self {
            TransactionError::Stale { .. } => "run the command again".to_owned(),
            TransactionError::ReadOnly { path } => format!(
                "polyship never makes files writable on its own: `chmod u+w {}`, then run again",
                path.display()
            ),
            TransactionError::LinkOutside { .. } => {
                "replace the link with the file, or point it inside the repository".to_owned()
            }
            TransactionError::NotRestored { .. } => {
                "the files named hold the new contents: check them, or `git checkout -- <file>`"
                    .to_owned()
            }
            TransactionError::Busy { .. } => "wait for it to finish".to_owned(),
            TransactionError::Corrupt { path, .. } => format!(
                "the record of an interrupted write is damaged: check `git status`, then delete `{}`",
                path.display()
            ),
            TransactionError::FollowUp { .. } => {
                "fix what git says, then stage and commit the files by hand".to_owned()
            }
            _ => return None,
        })
    }
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| format!("`{}`", p.display()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Files in place, the record still kept until the follow-up is done.
#[must_use = "call `complete` once the follow-up is done"]
pub struct Transaction {
    dir: PathBuf,
}

impl Transaction {
    /// Removes the record and the backups: the set and its follow-up are done.
    pub fn complete(self) -> Result<(), TransactionError> {
        let record = self.dir.join(RECORD);
        if let Err(source) = std::fs::remove_file(&record)
            && source.kind() != std::io::ErrorKind::NotFound
        {
            return Err(TransactionError::Record {
                path: record,
                source,
            });
        }
        let _ = std::fs::remove_dir_all(self.dir.join(BACKUPS));
        Ok(())
    }
}

/// What [`recover`] found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovered {
    /// The interrupted run's files were all put in place (and its follow-up done).
    Forward { command: String, files: usize },
    /// Every file was put back as it was before the interrupted run.
    Back { command: String, files: usize },
}

/// The repository's git directory for `root`: `.git`, or where a `.git` file (a worktree, a
/// submodule) points. Read without running git, since every command asks.
pub fn git_dir(root: &Path) -> Option<PathBuf> {
    let dot = root.join(".git");
    if dot.is_dir() {
        return Some(dot);
    }
    let text = std::fs::read_to_string(&dot).ok()?;
    let target = text.trim().strip_prefix("gitdir:")?.trim();
    Some(root.join(target))
}

/// A kill point for tests: `POLYSHIP_FAILPOINT=rename:N` aborts the process, as `kill -9` would,
/// after the Nth rename.
fn failpoint(renames: usize) {
    if let Ok(spec) = std::env::var("POLYSHIP_FAILPOINT")
        && let Some(n) = spec.strip_prefix("rename:")
        && n.parse::<usize>().ok() == Some(renames)
    {
        std::process::abort();
    }
}

fn digest(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    let hash = sha2::Sha256::digest(bytes);
    hash.iter().fold(String::with_capacity(64), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// Whether `entry`'s target already holds its new contents.
fn in_place(entry: &Entry) -> bool {
    match (&entry.temp, &entry.sha256) {
        (Some(_), Some(hash)) => std::fs::read(&entry.target).is_ok_and(|b| digest(&b) == *hash),
        (None, _) => !entry.target.exists(),
        _ => false,
    }
}

fn write_synced(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    f.write_all(contents)?;
    f.sync_all()
}

fn save(dir: &Path, record: &Record) -> Result<(), TransactionError> {
    let path = dir.join(RECORD);
    let fail = |source| TransactionError::Record {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    let text = serde_json::to_vec_pretty(record).map_err(|e| fail(std::io::Error::other(e)))?;
    let temp = dir.join(format!("{RECORD}.tmp"));
    write_synced(&temp, &text).map_err(fail)?;
    std::fs::rename(&temp, &path).map_err(fail)?;
    // A directory flush makes the rename durable; not every platform allows one.
    let _ = crate::fsutil::sync_paths(&[dir]);
    Ok(())
}

/// The file an edit writes: the path itself, or the file a symbolic link at it points to.
fn resolve(root: &Path, path: &Path) -> Result<PathBuf, TransactionError> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(path.to_owned());
    };
    if !meta.file_type().is_symlink() {
        return Ok(path.to_owned());
    }
    let target = std::fs::canonicalize(path).map_err(|source| TransactionError::Failed {
        path: path.to_owned(),
        source,
    })?;
    let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_owned());
    if !target.starts_with(&root) {
        return Err(TransactionError::LinkOutside {
            path: path.to_owned(),
            target,
        });
    }
    Ok(target)
}

fn temp_for(target: &Path) -> PathBuf {
    let dir = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir.join(format!(".{name}.polyship-{}.tmp", std::process::id()))
}

/// Applies every edit or none (see the module's description). `git_dir` holds the record;
/// `command` names the run in recovery messages; `stop` is set by a signal handler.
pub fn apply(
    root: &Path,
    git_dir: &Path,
    command: &str,
    edits: &[FileEdit],
    follow_up: FollowUp,
    stop: &AtomicBool,
) -> Result<Transaction, TransactionError> {
    let dir = crate::release::journal::dir(git_dir);
    let edits: Vec<&FileEdit> = edits.iter().filter(|e| e.before != e.after).collect();
    let entries = check(root, &dir, &edits)?;
    let mut record = Record {
        schema: 1,
        command: command.to_owned(),
        pid: std::process::id(),
        state: State::Preparing,
        entries,
        follow_up,
    };
    save(&dir, &record)?;
    if let Err(err) = prepare(&dir, &record, &edits, stop) {
        for temp in record.entries.iter().filter_map(|e| e.temp.as_ref()) {
            let _ = std::fs::remove_file(temp);
        }
        let _ = remove(&dir);
        return Err(err);
    }
    record.state = State::Prepared;
    if let Err(err) = save(&dir, &record) {
        roll_back(&record);
        let _ = remove(&dir);
        return Err(err);
    }
    place_all(&dir, &record, stop)?;
    let mut dirs: Vec<&Path> = record
        .entries
        .iter()
        .filter_map(|e| e.target.parent())
        .collect();
    dirs.sort();
    dirs.dedup();
    // Directory flushes make the renames durable; not every platform allows them.
    let _ = crate::fsutil::sync_paths(&dirs);
    Ok(Transaction { dir })
}

/// Checks before anything is written: each file unchanged since its edit was computed,
/// writable, its links inside the repository; the record's entry for each.
fn check(root: &Path, dir: &Path, edits: &[&FileEdit]) -> Result<Vec<Entry>, TransactionError> {
    let mut entries = Vec::with_capacity(edits.len());
    for (i, e) in edits.iter().enumerate() {
        let current = match std::fs::read(&e.path) {
            Ok(bytes) => Some(bytes),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
            Err(_) => {
                return Err(TransactionError::Stale {
                    path: e.path.clone(),
                });
            }
        };
        if current != e.before {
            return Err(TransactionError::Stale {
                path: e.path.clone(),
            });
        }
        let target = resolve(root, &e.path)?;
        if let Ok(meta) = std::fs::metadata(&target)
            && meta.permissions().readonly()
        {
            return Err(TransactionError::ReadOnly {
                path: e.path.clone(),
            });
        }
        entries.push(Entry {
            sha256: e.after.as_deref().map(digest),
            temp: e.after.as_ref().map(|_| temp_for(&target)),
            backup: e
                .before
                .as_ref()
                .map(|_| dir.join(BACKUPS).join(i.to_string())),
            target,
        });
    }
    Ok(entries)
}

/// Phase two: each temporary file renamed over its target; on a failure or a stop, every file
/// is put back and the record removed.
fn place_all(dir: &Path, record: &Record, stop: &AtomicBool) -> Result<(), TransactionError> {
    let mut renamed = 0;
    for entry in &record.entries {
        let placed = if stop.load(Ordering::SeqCst) {
            Err(std::io::Error::new(
                std::io::ErrorKind::Interrupted,
                "interrupted",
            ))
        } else {
            place(entry)
        };
        if let Err(source) = placed {
            let interrupted = source.kind() == std::io::ErrorKind::Interrupted;
            let not_restored = roll_back(record);
            let _ = remove(dir);
            return Err(if !not_restored.is_empty() {
                TransactionError::NotRestored {
                    path: entry.target.clone(),
                    source,
                    not_restored,
                }
            } else if interrupted {
                TransactionError::Interrupted
            } else {
                TransactionError::Failed {
                    path: entry.target.clone(),
                    source,
                }
            });
        }
        renamed += 1;
        failpoint(renamed);
    }
    Ok(())
}

/// Phase one: every temporary file written (with its target's permissions) and every old file
/// kept as a backup — a hard link, or a copy where links cannot be made.
fn prepare(
    dir: &Path,
    record: &Record,
    edits: &[&FileEdit],
    stop: &AtomicBool,
) -> Result<(), TransactionError> {
    let backups = dir.join(BACKUPS);
    let _ = std::fs::remove_dir_all(&backups);
    std::fs::create_dir_all(&backups).map_err(|source| TransactionError::Record {
        path: backups.clone(),
        source,
    })?;
    // Each file written (a temporary, or a backup that had to be copied) and the edit it is for.
    let mut written: Vec<(&Path, &Path)> = Vec::new();
    for (entry, edit) in record.entries.iter().zip(edits) {
        if stop.load(Ordering::SeqCst) {
            return Err(TransactionError::Interrupted);
        }
        let fail = |source| TransactionError::Failed {
            path: edit.path.clone(),
            source,
        };
        if let (Some(temp), Some(after)) = (&entry.temp, &edit.after) {
            let _ = std::fs::remove_file(temp);
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(temp)
                .map_err(fail)?;
            f.write_all(after).map_err(fail)?;
            if let Ok(meta) = std::fs::metadata(&entry.target) {
                f.set_permissions(meta.permissions()).map_err(fail)?;
            }
            written.push((temp.as_path(), &edit.path));
        }
        if let Some(backup) = &entry.backup
            && std::fs::hard_link(&entry.target, backup).is_err()
        {
            let old = edit.before.as_deref().unwrap_or_default();
            std::fs::write(backup, old).map_err(fail)?;
            written.push((backup.as_path(), &edit.path));
        }
    }
    // Everything written is flushed at once, and the backups' directory with it.
    let mut flush: Vec<&Path> = written.iter().map(|(file, _)| *file).collect();
    flush.push(&backups);
    crate::fsutil::sync_paths(&flush).map_err(|(file, source)| {
        let path = written
            .iter()
            .find(|(f, _)| *f == file)
            .map_or(file.clone(), |(_, edit)| edit.to_path_buf());
        TransactionError::Failed { path, source }
    })
}

/// One target takes its new contents (or goes away).
fn place(entry: &Entry) -> std::io::Result<()> {
    match &entry.temp {
        Some(temp) => std::fs::rename(temp, &entry.target),
        None => match std::fs::remove_file(&entry.target) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other,
        },
    }
}

/// Puts every target back as its backup says and removes the temporaries. Returns the targets
/// that could not be put back.
fn roll_back(record: &Record) -> Vec<PathBuf> {
    let mut not_restored = Vec::new();
    for entry in &record.entries {
        if let Some(temp) = &entry.temp {
            let _ = std::fs::remove_file(temp);
        }
        let back = match &entry.backup {
            Some(backup) => std::fs::read(backup).and_then(|old| {
                let same = std::fs::read(&entry.target).is_ok_and(|now| now == old);
                if same {
                    Ok(())
                } else {
                    let temp = temp_for(&entry.target);
                    write_synced(&temp, &old)?;
                    if let Ok(meta) = std::fs::metadata(backup) {
                        let _ = std::fs::set_permissions(&temp, meta.permissions());
                    }
                    std::fs::rename(&temp, &entry.target)
                }
            }),
            None => match std::fs::remove_file(&entry.target) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                other => other,
            },
        };
        if back.is_err() {
            not_restored.push(entry.target.clone());
        }
    }
    not_restored
}

fn remove(dir: &Path) -> std::io::Result<()> {
    let _ = std::fs::remove_dir_all(dir.join(BACKUPS));
    std::fs::remove_file(dir.join(RECORD))
}

/// Finishes or undoes a set of writes a killed process left (see the module's description).
/// `None` when there was nothing to do.
pub fn recover(root: &Path, git_dir: &Path) -> Result<Option<Recovered>, TransactionError> {
    let dir = crate::release::journal::dir(git_dir);
    let path = dir.join(RECORD);
    let text = match std::fs::read(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(TransactionError::Record { path, source }),
    };
    let record: Record =
        serde_json::from_slice(&text).map_err(|source| TransactionError::Corrupt {
            path: path.clone(),
            source,
        })?;
    if record.pid != std::process::id() && process_alive(record.pid) {
        return Err(TransactionError::Busy {
            pid: record.pid,
            path,
        });
    }
    let files = record.entries.len();
    // Forward when every target is either in place already or still has its temporary file.
    let forward = record.state == State::Prepared
        && record.entries.iter().all(|e| {
            in_place(e) || e.temp.as_ref().is_some_and(|t| t.exists()) || e.temp.is_none()
        });
    if forward {
        for entry in record.entries.iter().filter(|e| !in_place(e)) {
            place(entry).map_err(|source| TransactionError::Failed {
                path: entry.target.clone(),
                source,
            })?;
        }
        follow_up(root, &record.follow_up)?;
        remove(&dir).map_err(|source| TransactionError::Record { path, source })?;
        return Ok(Some(Recovered::Forward {
            command: record.command,
            files,
        }));
    }
    // Still preparing: no target was touched, only temporary files are to go.
    let not_restored = if record.state == State::Preparing {
        for temp in record.entries.iter().filter_map(|e| e.temp.as_ref()) {
            let _ = std::fs::remove_file(temp);
        }
        Vec::new()
    } else {
        roll_back(&record)
    };
    if let Some(first) = not_restored.first() {
        return Err(TransactionError::NotRestored {
            path: first.clone(),
            source: std::io::Error::other("its backup could not be written back"),
            not_restored,
        });
    }
    remove(&dir).map_err(|source| TransactionError::Record { path, source })?;
    Ok(Some(Recovered::Back {
        command: record.command,
        files,
    }))
}

/// The staging and commit the interrupted run was to make, unless they were made.
fn follow_up(root: &Path, follow: &FollowUp) -> Result<(), TransactionError> {
    // A git the killed run started may still hold the index for a moment: wait for it.
    let git = |args: &[&str]| -> Result<std::process::Output, TransactionError> {
        let mut tries = 0;
        loop {
            let out = std::process::Command::new("git")
                .args(args)
                .current_dir(root)
                .output()
                .map_err(|e| TransactionError::FollowUp {
                    command: args.first().copied().unwrap_or_default().to_owned(),
                    output: e.to_string(),
                })?;
            let locked = String::from_utf8_lossy(&out.stderr).contains("index.lock");
            if out.status.success() || !locked || tries == 50 {
                return Ok(out);
            }
            tries += 1;
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    if follow.stage.is_empty() {
        return Ok(());
    }
    let mut add = vec!["add", "-A", "--"];
    add.extend(follow.stage.iter().map(String::as_str));
    let out = git(&add)?;
    if !out.status.success() {
        return Err(TransactionError::FollowUp {
            command: "add".into(),
            output: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    let Some(message) = &follow.commit else {
        return Ok(());
    };
    // Committed already (the kill came after `git commit`): nothing staged is left.
    let staged = git(&["diff", "--cached", "--quiet"])?;
    if staged.status.success() {
        return Ok(());
    }
    let out = git(&["commit", "-q", "-m", message])?;
    if !out.status.success() {
        return Err(TransactionError::FollowUp {
            command: "commit".into(),
            output: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(())
}

/// Whether a process with this id runs (where `/proc` tells; elsewhere assume it does).
fn process_alive(pid: u32) -> bool {
    if Path::new("/proc/self").exists() {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, Vec<FileEdit>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        std::fs::write(dir.path().join("a"), "a1").unwrap();
        std::fs::write(dir.path().join("b"), "b1").unwrap();
        let edits = vec![
            FileEdit {
                path: dir.path().join("a"),
                before: Some(b"a1".to_vec()),
                after: Some(b"a2".to_vec()),
            },
            FileEdit {
                path: dir.path().join("b"),
                before: Some(b"b1".to_vec()),
                after: None,
            },
            FileEdit {
                path: dir.path().join("c"),
                before: None,
                after: Some(b"c2".to_vec()),
            },
        ];
        (dir, edits)
    }

    fn state(dir: &Path) -> Vec<(String, String)> {
        let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.file_type().unwrap().is_file())
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read_to_string(e.path()).unwrap(),
                )
            })
            .collect();
        files.sort();
        files
    }

    #[test]
    fn applies_and_completes() {
        let (dir, edits) = setup();
        let git = dir.path().join(".git");
        let tx = apply(
            dir.path(),
            &git,
            "test",
            &edits,
            FollowUp::default(),
            &AtomicBool::new(false),
        )
        .unwrap();
        assert!(git.join("polyship").join(RECORD).exists());
        tx.complete().unwrap();
        assert!(!git.join("polyship").join(RECORD).exists());
        assert_eq!(
            state(dir.path()),
            [("a".into(), "a2".into()), ("c".into(), "c2".into())]
        );
        assert_eq!(recover(dir.path(), &git).unwrap(), None);
    }

    #[test]
    fn an_interrupt_puts_everything_back() {
        let (dir, edits) = setup();
        let before = state(dir.path());
        let git = dir.path().join(".git");
        let err = apply(
            dir.path(),
            &git,
            "test",
            &edits,
            FollowUp::default(),
            &AtomicBool::new(true),
        );
        assert!(matches!(err, Err(TransactionError::Interrupted)));
        assert_eq!(state(dir.path()), before);
        assert!(!git.join("polyship").join(RECORD).exists());
    }

    #[test]
    fn a_record_left_mid_way_rolls_forward_or_back() {
        // Simulate a kill after the first rename: forward finishes the set.
        let (dir, edits) = setup();
        let git = dir.path().join(".git");
        let pdir = crate::release::journal::dir(&git);
        let mut record = Record {
            schema: 1,
            command: "version".into(),
            pid: 999_999_999,
            state: State::Preparing,
            entries: Vec::new(),
            follow_up: FollowUp::default(),
        };
        for (i, e) in edits.iter().enumerate() {
            record.entries.push(Entry {
                sha256: e.after.as_deref().map(digest),
                target: e.path.clone(),
                temp: e.after.as_ref().map(|_| temp_for(&e.path)),
                backup: e
                    .before
                    .as_ref()
                    .map(|_| pdir.join(BACKUPS).join(i.to_string())),
            });
        }
        let refs: Vec<&FileEdit> = edits.iter().collect();
        prepare(&pdir, &record, &refs, &AtomicBool::new(false)).unwrap();
        record.state = State::Prepared;
        save(&pdir, &record).unwrap();
        place(&record.entries[0]).unwrap();
        assert_eq!(
            recover(dir.path(), &git).unwrap(),
            Some(Recovered::Forward {
                command: "version".into(),
                files: 3
            })
        );
        assert_eq!(
            state(dir.path()),
            [("a".into(), "a2".into()), ("c".into(), "c2".into())]
        );

        // A record still preparing rolls back: targets untouched, temporaries gone.
        let (dir, edits) = setup();
        let before = state(dir.path());
        let git = dir.path().join(".git");
        let pdir = crate::release::journal::dir(&git);
        record.state = State::Preparing;
        for (entry, e) in record.entries.iter_mut().zip(&edits) {
            entry.target = e.path.clone();
            entry.temp = e.after.as_ref().map(|_| temp_for(&e.path));
            entry.backup = entry
                .backup
                .as_ref()
                .map(|b| pdir.join(BACKUPS).join(b.file_name().unwrap()));
        }
        let refs: Vec<&FileEdit> = edits.iter().collect();
        prepare(&pdir, &record, &refs, &AtomicBool::new(false)).unwrap();
        save(&pdir, &record).unwrap();
        assert_eq!(
            recover(dir.path(), &git).unwrap(),
            Some(Recovered::Back {
                command: "version".into(),
                files: 3
            })
        );
        assert_eq!(state(dir.path()), before);
    }

    #[cfg(unix)]
    #[test]
    fn modes_survive_read_only_is_refused_and_links_are_written_through() {
        use std::os::unix::fs::PermissionsExt;
        let (dir, mut edits) = setup();
        let git = dir.path().join(".git");
        std::fs::set_permissions(dir.path().join("a"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        edits.truncate(1);
        apply(
            dir.path(),
            &git,
            "t",
            &edits,
            FollowUp::default(),
            &AtomicBool::new(false),
        )
        .unwrap()
        .complete()
        .unwrap();
        let mode = std::fs::metadata(dir.path().join("a"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);

        std::fs::set_permissions(dir.path().join("b"), std::fs::Permissions::from_mode(0o444))
            .unwrap();
        let ro = [FileEdit {
            path: dir.path().join("b"),
            before: Some(b"b1".to_vec()),
            after: Some(b"b2".to_vec()),
        }];
        let err = apply(
            dir.path(),
            &git,
            "t",
            &ro,
            FollowUp::default(),
            &AtomicBool::new(false),
        );
        assert!(matches!(err, Err(TransactionError::ReadOnly { .. })));
        assert_eq!(std::fs::read(dir.path().join("b")).unwrap(), b"b1");

        std::os::unix::fs::symlink("a", dir.path().join("link")).unwrap();
        let through = [FileEdit {
            path: dir.path().join("link"),
            before: Some(b"a2".to_vec()),
            after: Some(b"a3".to_vec()),
        }];
        apply(
            dir.path(),
            &git,
            "t",
            &through,
            FollowUp::default(),
            &AtomicBool::new(false),
        )
        .unwrap()
        .complete()
        .unwrap();
        assert!(
            std::fs::symlink_metadata(dir.path().join("link"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read(dir.path().join("a")).unwrap(), b"a3");
    }
}
