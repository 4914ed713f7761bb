//! The journal of a release in progress, `.git/polyship/journal.json`: each step's outcome,
//! written (atomically) as it happens, so that a rerun and `publish --status` know where the last
//! release stands. A rerun never trusts it alone: it checks the registries, the tags and the forge.
//!
//! The lock beside it, `.git/polyship/lock`, stops two runs from racing.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::workspace::Ecosystem;

/// Where one package's upload stands, as the journal names it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Upload {
    /// Not reached yet.
    #[default]
    #[serde(rename = "")]
    NotReached,
    /// Handed to the tool; the registry decides.
    Uploading,
    /// Published by this release.
    Published,
    /// The registry already had it, with this commit's content.
    Existing,
    /// Never uploaded: only tagged.
    Private,
    Failed,
    /// A dependency failed.
    Blocked,
    Interrupted,
}

impl Upload {
    pub fn as_str(self) -> &'static str {
        match self {
            Upload::NotReached => "",
            Upload::Uploading => "uploading",
            Upload::Published => "published",
            Upload::Existing => "existing",
            Upload::Private => "private",
            Upload::Failed => "failed",
            Upload::Blocked => "blocked",
            Upload::Interrupted => "interrupted",
        }
    }
}

/// Compared with the journal's own spelling (`"published"`, `""` for not reached).
impl PartialEq<&str> for Upload {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Where a whole release stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Run {
    /// A run is under way, or was killed.
    #[default]
    Running,
    Complete,
    Failed,
    Interrupted,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Run::Running => "running",
            Run::Complete => "complete",
            Run::Failed => "failed",
            Run::Interrupted => "interrupted",
        })
    }
}

/// Where one package's release stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Entry {
    pub name: String,
    pub ecosystem: Option<Ecosystem>,
    pub version: String,
    pub tag: String,
    /// Never published (private): only tagged.
    #[serde(default)]
    pub private: bool,
    /// What was built for upload: file name → checksum (sha256 hex, npm `sha512-` integrity).
    #[serde(default)]
    pub artifacts: Vec<(String, String)>,
    #[serde(default)]
    pub publish: Upload,
    #[serde(default)]
    pub tagged: bool,
    #[serde(default)]
    pub pushed: bool,
    /// The forge release's web address once made or found.
    #[serde(default)]
    pub release: Option<String>,
    /// The last error, redacted.
    #[serde(default)]
    pub error: Option<String>,
}

/// The record of one release: the commit it releases and every package's steps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Journal {
    pub commit: String,
    /// Seconds since the epoch when the first run for this commit started, and when the last ended.
    pub started: u64,
    #[serde(default)]
    pub updated: u64,
    #[serde(default)]
    pub runs: u32,
    /// Whether the release commit reached the remote branch.
    #[serde(default)]
    pub commit_pushed: bool,
    #[serde(default)]
    pub state: Run,
    pub packages: Vec<Entry>,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Journal {
    pub fn new(commit: &str) -> Self {
        Self {
            commit: commit.to_owned(),
            started: now(),
            ..Self::default()
        }
    }

    /// The entry of a package, created when missing.
    pub fn entry(
        &mut self,
        ecosystem: Option<Ecosystem>,
        name: &str,
        version: &str,
        tag: &str,
    ) -> &mut Entry {
        let found = self
            .packages
            .iter()
            .position(|e| e.ecosystem == ecosystem && e.name == name);
        let i = if let Some(i) = found {
            if self.packages[i].version != version {
                self.packages[i] = Entry::default();
            }
            i
        } else {
            self.packages.push(Entry::default());
            self.packages.len() - 1
        };
        let e = &mut self.packages[i];
        name.clone_into(&mut e.name);
        e.ecosystem = ecosystem;
        version.clone_into(&mut e.version);
        tag.clone_into(&mut e.tag);
        e
    }

    pub fn find(&self, ecosystem: Option<Ecosystem>, name: &str) -> Option<&Entry> {
        self.packages
            .iter()
            .find(|e| e.ecosystem == ecosystem && e.name == name)
    }
}

/// `.git/polyship/`.
pub fn dir(git_dir: &Path) -> PathBuf {
    git_dir.join("polyship")
}

fn file(git_dir: &Path) -> PathBuf {
    dir(git_dir).join("journal.json")
}

/// Reads the journal; `None` when there is none.
pub fn load(git_dir: &Path) -> Result<Option<Journal>, JournalError> {
    read(file(git_dir))
}

/// Reads a JSON record (the release journal, a pipeline run's); `None` when the file does not
/// exist. A record that does not parse is an error, never a fresh start: a rerun must not guess.
pub fn read<T: serde::de::DeserializeOwned>(path: PathBuf) -> Result<Option<T>, JournalError> {
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|source| JournalError::Unparsable { path, source }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(JournalError::Read { path, source }),
    }
}

/// Why the journal or its lock could not be read or taken.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{}: line {}: the journal does not parse ({source}); delete it to start over", path.display(), source.line())]
    Unparsable {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("failed to read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("another polyship run (process {pid}) holds {}; wait for it, or delete the file if that process is gone", path.display())]
    Held { pid: String, path: PathBuf },
    #[error("failed to create {}: {source}", path.display())]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not take {}", path.display())]
    Contended { path: PathBuf },
}

/// Writes the journal atomically.
pub fn save(git_dir: &Path, journal: &mut Journal) -> std::io::Result<()> {
    journal.updated = now();
    fs_err::create_dir_all(dir(git_dir))?;
    let mut text = serde_json::to_string_pretty(journal).map_err(std::io::Error::other)?;
    text.push('\n');
    crate::fsutil::write_atomic(&file(git_dir), text.as_bytes())
}

/// The held lock; released when dropped.
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Takes `.git/polyship/lock`. A lock left by a process that no longer runs is taken over.
pub fn lock(git_dir: &Path) -> Result<Lock, JournalError> {
    lock_at(dir(git_dir).join("lock"))
}

/// Takes the lock file `path`, creating its directory; a lock left by a process that no longer
/// runs is taken over.
pub fn lock_at(path: PathBuf) -> Result<Lock, JournalError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| JournalError::Create {
            path: dir.to_owned(),
            source,
        })?;
    }
    for _ in 0..2 {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut f) => {
                let _ = writeln!(f, "{}", std::process::id());
                return Ok(Lock { path });
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                // A lock just created holds no pid yet: give its owner a moment to write it.
                let mut holder = std::fs::read_to_string(&path).unwrap_or_default();
                for _ in 0..20 {
                    if !holder.trim().is_empty() {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(25));
                    holder = std::fs::read_to_string(&path).unwrap_or_default();
                }
                let pid = holder.trim();
                if !pid.is_empty() && process_alive(pid) {
                    return Err(JournalError::Held {
                        pid: pid.to_owned(),
                        path,
                    });
                }
                let _ = std::fs::remove_file(&path);
            }
            Err(source) => return Err(JournalError::Create { path, source }),
        }
    }
    Err(JournalError::Contended { path })
}

/// Whether a process with this id runs (where `/proc` tells; elsewhere assume it does).
fn process_alive(pid: &str) -> bool {
    if Path::new("/proc/self").exists() {
        Path::new("/proc").join(pid).exists()
    } else {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_locks() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), None);
        let mut j = Journal::new("abc");
        j.entry(Some(Ecosystem::Npm), "a", "1.0.0", "a@1.0.0")
            .publish = Upload::Published;
        save(dir.path(), &mut j).unwrap();
        let back = load(dir.path()).unwrap().unwrap();
        assert_eq!(back.packages[0].publish, "published");
        // A new version of the same package starts its entry over.
        let mut j = back;
        assert_eq!(
            j.entry(Some(Ecosystem::Npm), "a", "1.1.0", "a@1.1.0")
                .publish,
            ""
        );

        let held = lock(dir.path()).unwrap();
        assert!(lock(dir.path()).unwrap_err().to_string().contains("holds"));
        drop(held);
        drop(lock(dir.path()).unwrap());
        // A lock of a dead process is taken over.
        std::fs::write(dir.path().join("polyship/lock"), "999999999\n").unwrap();
        assert!(lock(dir.path()).is_ok());
    }
}
