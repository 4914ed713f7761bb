//! The run journal: `.git/polyship/runs/<id>/run.json` and one log per step beside it.
//!
//! Written atomically after every change of a step's state, so a run killed at any moment leaves a
//! record a rerun can trust: a step is reused only if it succeeded, with the same fingerprint, in
//! the last run of the pipeline, and that run did not finish and left HEAD where it is now. Only
//! the last [`KEEP`] runs of a pipeline are kept.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::release::journal::{JournalError, Lock};

/// Runs kept per pipeline.
pub const KEEP: usize = 20;

/// One run of a pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    pub schema: u32,
    pub id: String,
    pub pipeline: String,
    /// Seconds since the epoch.
    pub started: u64,
    pub updated: u64,
    /// HEAD when the run started.
    pub commit: String,
    /// HEAD after the last step that ended (a `version` step commits).
    pub head: String,
    pub status: RunStatus,
    pub steps: Vec<StepRecord>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
    Interrupted,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
        }
    }
}

/// A step's part of the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    pub name: String,
    pub state: StepState,
    /// Hash of what the step runs (command, directory, environment without secret values).
    pub fingerprint: String,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub elapsed_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Why it failed or was not run, redacted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Its log, relative to `.git/polyship/runs/` (a reused step keeps the earlier run's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepState {
    Pending,
    Running,
    Succeeded,
    /// Succeeded in an earlier run of the same commit and inputs, and not run again.
    Reused,
    Failed,
    /// Left out by `--skip` (its dependents count it as done) or `--only`.
    Skipped,
    /// Run by another machine, its outputs brought in by `run --from-artifacts`.
    Imported,
    /// A step it needs failed or was interrupted.
    Blocked,
    /// Not started: the run stopped first (a failure elsewhere, or Ctrl-C).
    NotRun,
    Interrupted,
}

impl StepState {
    pub fn as_str(self) -> &'static str {
        match self {
            StepState::Pending => "pending",
            StepState::Running => "running",
            StepState::Succeeded => "succeeded",
            StepState::Reused => "reused",
            StepState::Failed => "failed",
            StepState::Skipped => "skipped",
            StepState::Imported => "imported",
            StepState::Blocked => "blocked",
            StepState::NotRun => "not run",
            StepState::Interrupted => "interrupted",
        }
    }
}

/// `.git/polyship/runs/`.
pub fn runs_dir(git_dir: &Path) -> PathBuf {
    crate::release::journal::dir(git_dir).join("runs")
}

/// Takes the pipeline's lock: one run of a pipeline at a time.
pub fn lock(git_dir: &Path, pipeline: &str) -> Result<Lock, JournalError> {
    crate::release::journal::lock_at(runs_dir(git_dir).join(format!("{}.lock", slug(pipeline))))
}

/// A new run id: the UTC time to the millisecond and the pipeline, which sort by time.
pub fn new_id(git_dir: &Path, pipeline: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let (year, month, day, hour, minute, second) = crate::apply::commit::civil(now.as_secs());
    let base = format!(
        "{year:04}{month:02}{day:02}T{hour:02}{minute:02}{second:02}.{:03}Z-{}",
        now.subsec_millis(),
        slug(pipeline)
    );
    let mut id = base.clone();
    let mut n = 1;
    while runs_dir(git_dir).join(&id).exists() {
        n += 1;
        id = format!("{base}-{n}");
    }
    id
}

/// A name safe as a file name: letters, digits, `-`, `_` and `.`; every other run of characters
/// becomes one `-`.
pub fn slug(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches(['-', '.']).to_owned();
    if out.is_empty() {
        "step".to_owned()
    } else {
        out
    }
}

impl Run {
    pub fn dir(&self, git_dir: &Path) -> PathBuf {
        runs_dir(git_dir).join(&self.id)
    }

    pub fn step(&self, name: &str) -> Option<&StepRecord> {
        self.steps.iter().find(|s| s.name == name)
    }

    /// Writes `run.json` atomically.
    pub fn save(&mut self, git_dir: &Path) -> std::io::Result<()> {
        self.updated = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let dir = self.dir(git_dir);
        fs_err::create_dir_all(&dir)?;
        let mut text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        text.push('\n');
        crate::fsutil::write_atomic(&dir.join("run.json"), text.as_bytes())
    }
}

/// The runs of `pipeline`, oldest first; unreadable records are passed over.
fn runs(git_dir: &Path, pipeline: &str) -> Vec<(String, PathBuf)> {
    let suffix = format!("Z-{}", slug(pipeline));
    let Ok(entries) = std::fs::read_dir(runs_dir(git_dir)) else {
        return Vec::new();
    };
    let mut found: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let own = name.ends_with(&suffix)
                || name
                    .rsplit_once('-')
                    .is_some_and(|(base, n)| base.ends_with(&suffix) && n.parse::<u32>().is_ok());
            own.then(|| (name, e.path()))
        })
        .collect();
    found.sort();
    found
}

/// The last run of `pipeline`. `Err` when its record exists but cannot be read: a rerun must not
/// guess what an unreadable run did.
pub fn last(git_dir: &Path, pipeline: &str) -> Result<Option<Run>, JournalError> {
    let Some((_, dir)) = runs(git_dir, pipeline).pop() else {
        return Ok(None);
    };
    // A run that died before its first record has none: nothing to resume from.
    crate::release::journal::read(dir.join("run.json"))
}

/// Removes all but the last [`KEEP`] runs of `pipeline`.
pub fn prune(git_dir: &Path, pipeline: &str) {
    let runs = runs(git_dir, pipeline);
    for (_, dir) in runs.iter().take(runs.len().saturating_sub(KEEP)) {
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str) -> Run {
        Run {
            schema: 1,
            id: id.to_owned(),
            pipeline: "release".into(),
            started: 0,
            updated: 0,
            commit: "c".into(),
            head: "c".into(),
            status: RunStatus::Failed,
            steps: vec![],
        }
    }

    #[test]
    fn the_last_run_is_found_and_old_ones_pruned() {
        let git = tempfile::tempdir().unwrap();
        assert_eq!(last(git.path(), "release").unwrap(), None);
        for i in 0..KEEP + 3 {
            let mut r = run(&format!("20260101T0000{i:02}.000Z-release"));
            r.save(git.path()).unwrap();
        }
        run("20260101T000000.000Z-other").save(git.path()).unwrap();
        prune(git.path(), "release");
        assert_eq!(runs(git.path(), "release").len(), KEEP);
        let last = last(git.path(), "release").unwrap().unwrap();
        assert_eq!(
            last.id,
            format!("20260101T0000{:02}.000Z-release", KEEP + 2)
        );
        assert_eq!(runs(git.path(), "other").len(), 1);
    }

    #[test]
    fn an_unreadable_record_is_an_error() {
        let git = tempfile::tempdir().unwrap();
        let dir = runs_dir(git.path()).join("20260101T000000.000Z-release");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("run.json"), "{").unwrap();
        assert!(matches!(
            last(git.path(), "release"),
            Err(JournalError::Unparsable { .. })
        ));
    }

    #[test]
    fn slugs_are_file_names() {
        assert_eq!(
            slug("build (x86_64-unknown-linux-gnu)"),
            "build-x86_64-unknown-linux-gnu"
        );
        assert_eq!(slug("../.."), "step");
    }
}
