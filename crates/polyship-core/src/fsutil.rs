//! Writing users' files without ever leaving half of one behind.
//!
//! Every write goes to a temporary file in the same directory, is flushed to disk, and then takes
//! the target's place in one step, so a crash or a full disk leaves either the old file or the new one.
//! [`crate::transaction`] extends that to a set of files, even under `kill -9`.

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

/// Flushes every file (or directory) in `paths` to disk, several at once: a journaling file system
/// commits concurrent flushes together, so a release's hundreds of files cost a few commits, not
/// one each. Every path is flushed even after a failure; the first failure is returned with its
/// path.
pub fn sync_paths(paths: &[&Path]) -> Result<(), (PathBuf, std::io::Error)> {
    const LANES: usize = 16;
    fn sync_each(paths: &[&Path]) -> Result<(), (PathBuf, std::io::Error)> {
        let mut first = Ok(());
        for path in paths {
            // Files open for writing (Windows flushes no other handle); directories cannot be.
            let synced = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .or_else(|_| std::fs::File::open(path))
                .and_then(|f| f.sync_all());
            if let (Err(e), Ok(())) = (synced, &first) {
                first = Err((path.to_path_buf(), e));
            }
        }
        first
    }
    if paths.len() <= 1 {
        return sync_each(paths);
    }
    let per_lane = paths.len().div_ceil(LANES);
    std::thread::scope(|scope| {
        let lanes: Vec<_> = paths
            .chunks(per_lane)
            .map(|chunk| {
                let lane = scope.spawn(move || sync_each(chunk));
                (chunk[0], lane)
            })
            .collect();
        lanes
            .into_iter()
            .map(|(first, lane)| {
                lane.join().unwrap_or_else(|_| {
                    let panicked = std::io::Error::other("the thread flushing it panicked");
                    Err((first.to_path_buf(), panicked))
                })
            })
            .collect::<Result<Vec<()>, _>>()
            .map(|_| ())
    })
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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn syncs_many_and_names_the_path_that_failed() {
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<PathBuf> = (0..40)
            .map(|i| {
                let path = dir.path().join(format!("f{i}"));
                std::fs::write(&path, b"x").unwrap();
                path
            })
            .collect();
        let mut paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
        paths.push(dir.path());
        sync_paths(&paths).unwrap();
        let missing = dir.path().join("gone");
        paths.insert(7, &missing);
        let (path, err) = sync_paths(&paths).unwrap_err();
        assert_eq!(path, missing);
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
        assert!(sync_paths(&[]).is_ok());
    }
}
