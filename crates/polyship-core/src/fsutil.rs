//! Writing users' files without ever leaving half of one behind.
//!
//! Every write goes to a temporary file in the same directory, is flushed to disk, and then takes
//! the target's place in one step, so a crash or a full disk leaves either the old file or the new one.
//! [`write_all`] extends that to a set of files: all of them change, or none does.

use std::io::Write;
use std::path::{Path, PathBuf};

/// A temporary sibling of `path` that is removed unless it was moved into place.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn write_temp(path: &Path, contents: &[u8]) -> std::io::Result<TempFile> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = TempFile(dir.join(format!(".{name}.polyship-{}.tmp", std::process::id())));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp.0)?;
    file.write_all(contents)?;
    file.sync_all()?;
    Ok(temp)
}

/// Replaces `path` with `contents` atomically.
pub fn write_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let temp = write_temp(path, contents)?;
    std::fs::rename(&temp.0, path)?;
    std::mem::forget(temp);
    Ok(())
}

/// Creates `path` with `contents` atomically, failing with `AlreadyExists` when it exists.
pub fn create_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let temp = write_temp(path, contents)?;
    // A hard link never replaces an existing file, so creating and refusing are one step.
    std::fs::hard_link(&temp.0, path)
}

/// One file's change: its contents when the change was computed, and what they become.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEdit {
    pub path: PathBuf,
    /// `None` when the file does not exist yet.
    pub before: Option<Vec<u8>>,
    /// `None` deletes the file.
    pub after: Option<Vec<u8>>,
}

/// Why a set of edits was not applied; every file is as it was unless `not_restored` says otherwise.
#[derive(Debug, thiserror::Error)]
pub enum WriteAllError {
    #[error("`{}` changed since the edits were computed; nothing was written", path.display())]
    Stale { path: PathBuf },
    #[error("failed to write `{}`; {}", path.display(), restored_text(*restored, not_restored))]
    Failed {
        path: PathBuf,
        #[source]
        source: std::io::Error,
        /// How many files already replaced were put back.
        restored: usize,
        /// Files that could not be put back: they hold the new contents.
        not_restored: Vec<PathBuf>,
    },
}

fn restored_text(restored: usize, not_restored: &[PathBuf]) -> String {
    if not_restored.is_empty() {
        format!("every file is as it was ({restored} restored)")
    } else {
        let list: Vec<String> = not_restored
            .iter()
            .map(|p| format!("`{}`", p.display()))
            .collect();
        format!(
            "{restored} restored, but {} still hold the new contents",
            list.join(", ")
        )
    }
}

#[cfg(test)]
thread_local! {
    /// Test failpoint: the write step (0-based) that fails, counting temp writes then renames.
    static FAIL_AT: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
    static STEP: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Fails the step the test chose, or any step once `stop` is set (an interrupt arrived).
fn failpoint(halt: &std::sync::atomic::AtomicBool) -> std::io::Result<()> {
    if halt.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::Interrupted,
            "interrupted",
        ));
    }
    #[cfg(test)]
    {
        let step = STEP.with(|s| {
            let n = s.get();
            s.set(n + 1);
            n
        });
        if FAIL_AT.with(std::cell::Cell::get) == Some(step) {
            return Err(std::io::Error::other("injected failure"));
        }
    }
    Ok(())
}

/// Applies every edit or none: each file is checked against `before`, every new content goes to a
/// temporary file first, and only then do the temporary files take the targets' places. If any
/// step fails, the files already replaced get their old contents back. Edits that change nothing
/// are skipped.
pub fn write_all(edits: &[FileEdit]) -> Result<(), WriteAllError> {
    write_all_until(edits, &std::sync::atomic::AtomicBool::new(false))
}

/// [`write_all`] that gives up, restoring every file, as soon as `stop` is set — the caller sets
/// it from a signal handler, so Ctrl-C in the middle leaves the old files, never half of them.
pub fn write_all_until(
    edits: &[FileEdit],
    stop: &std::sync::atomic::AtomicBool,
) -> Result<(), WriteAllError> {
    let edits: Vec<&FileEdit> = edits.iter().filter(|e| e.before != e.after).collect();
    for e in &edits {
        let current = match std::fs::read(&e.path) {
            Ok(bytes) => Some(bytes),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
            Err(_) => {
                return Err(WriteAllError::Stale {
                    path: e.path.clone(),
                });
            }
        };
        if current != e.before {
            return Err(WriteAllError::Stale {
                path: e.path.clone(),
            });
        }
    }
    let failed = |path: &Path, source, restored, not_restored| WriteAllError::Failed {
        path: path.to_owned(),
        source,
        restored,
        not_restored,
    };
    // Phase 1: every new content on disk beside its target. A failure here touched no target.
    let mut temps: Vec<Option<TempFile>> = Vec::with_capacity(edits.len());
    for e in &edits {
        match &e.after {
            Some(after) => {
                let temp = failpoint(stop)
                    .and_then(|()| write_temp(&e.path, after))
                    .map_err(|err| failed(&e.path, err, 0, Vec::new()))?;
                temps.push(Some(temp));
            }
            None => temps.push(None),
        }
    }
    // Phase 2: take the targets' places; on failure, put back what was replaced.
    let mut done: Vec<&FileEdit> = Vec::new();
    for (e, temp) in edits.iter().zip(temps) {
        let result = failpoint(stop).and_then(|()| match temp {
            Some(temp) => {
                std::fs::rename(&temp.0, &e.path)?;
                std::mem::forget(temp);
                Ok(())
            }
            None => std::fs::remove_file(&e.path),
        });
        if let Err(err) = result {
            let mut not_restored = Vec::new();
            for d in &done {
                let back = match &d.before {
                    Some(before) => write_atomic(&d.path, before),
                    None => std::fs::remove_file(&d.path),
                };
                if back.is_err() {
                    not_restored.push(d.path.clone());
                }
            }
            return Err(failed(
                &e.path,
                err,
                done.len() - not_restored.len(),
                not_restored,
            ));
        }
        done.push(e);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, Vec<FileEdit>) {
        let dir = tempfile::tempdir().unwrap();
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
            .map(|e| {
                let e = e.unwrap();
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
    fn write_all_applies_every_edit() {
        let (dir, edits) = setup();
        write_all(&edits).unwrap();
        assert_eq!(
            state(dir.path()),
            [("a".into(), "a2".into()), ("c".into(), "c2".into())]
        );
    }

    #[test]
    fn write_all_restores_everything_whichever_step_fails() {
        // Steps: 2 temp writes (a, c), then 3 replacements (a, b, c).
        for step in 0..5 {
            let (dir, edits) = setup();
            let before = state(dir.path());
            FAIL_AT.with(|f| f.set(Some(step)));
            STEP.with(|s| s.set(0));
            let err = write_all(&edits).unwrap_err();
            FAIL_AT.with(|f| f.set(None));
            assert!(
                err.to_string().contains("every file is as it was"),
                "step {step}: {err}"
            );
            assert_eq!(
                state(dir.path()),
                before,
                "step {step} left the files changed"
            );
        }
    }

    #[test]
    fn an_interrupt_writes_nothing() {
        let (dir, edits) = setup();
        let stop = std::sync::atomic::AtomicBool::new(true);
        let err = write_all_until(&edits, &stop).unwrap_err();
        assert!(
            matches!(err, WriteAllError::Failed { restored: 0, .. }),
            "{err}"
        );
        assert_eq!(std::fs::read(dir.path().join("a")).unwrap(), b"a1");
        assert!(dir.path().join("b").exists() && !dir.path().join("c").exists());
    }

    #[test]
    fn write_all_refuses_files_that_changed_meanwhile() {
        let (dir, edits) = setup();
        std::fs::write(dir.path().join("a"), "edited by someone").unwrap();
        assert!(matches!(
            write_all(&edits),
            Err(WriteAllError::Stale { .. })
        ));
        assert_eq!(std::fs::read_to_string(dir.path().join("b")).unwrap(), "b1");
    }

    #[test]
    fn create_refuses_to_overwrite_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.toml");
        create_atomic(&path, b"one").unwrap();
        let err = create_atomic(&path, b"two").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        write_atomic(&path, b"three").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"three");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
