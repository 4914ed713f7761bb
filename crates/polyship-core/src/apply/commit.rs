//! The release commit and its stamps: the commit message a `version` run writes, today's date for
//! changelogs (`SOURCE_DATE_EPOCH` honoured), and snapshot versions.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use crate::changes::Changes;
use crate::changes::lerna_config::Mode;
use crate::config::LoadedConfig;
use crate::plan::Plan;

/// How a `version` run ends once its files are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Snapshot versions: nothing staged or committed.
    Snapshot,
    /// Staged, for the user to commit (`--no-commit`).
    Staged,
    /// Staged and committed.
    Committed,
}

/// Why a `version` run's files were not written, staged or committed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("failed to find the git directory")]
    GitDir,
    /// Another run holds the lock.
    #[error(transparent)]
    Lock(crate::release::journal::JournalError),
    /// Nothing was written.
    #[error(transparent)]
    Transaction(#[from] crate::transaction::TransactionError),
    #[error(transparent)]
    Stage(crate::release::git::GitError),
    /// The files are written and staged.
    #[error("the release is written and staged, but `git commit` failed: {0}")]
    Commit(crate::release::git::GitError),
    /// Everything is done but removing the transaction record.
    #[error(transparent)]
    Complete(crate::transaction::TransactionError),
}

impl WriteError {
    /// How to go on.
    pub fn help(&self) -> Option<String> {
        match self {
            Self::Lock(_) => Some("wait for it to finish, then run again".to_owned()),
            Self::Transaction(e) => e.help(),
            Self::Commit(_) => Some(
                "fix what the hook or git says, then run `git commit`; the files are complete"
                    .to_owned(),
            ),
            Self::Complete(_) => {
                Some("the release is complete; delete the record named".to_owned())
            }
            Self::GitDir | Self::Stage(_) => None,
        }
    }
}

/// Writes a `version` run's edits all or nothing under the release lock, then stages them and
/// commits them with `message` as `ending` says. `written` runs once the files are in place.
/// A stop asked for through `stop` while writing puts every file back; a kill is finished or
/// undone by the next polyship command, from the transaction record.
pub fn write_release(
    root: &Path,
    edits: &[crate::fsutil::FileEdit],
    message: &str,
    ending: Ending,
    stop: &AtomicBool,
    written: impl FnOnce(),
) -> Result<Ending, WriteError> {
    use crate::transaction::{self, FollowUp};
    let paths: Vec<String> = edits
        .iter()
        .map(|e| {
            e.path
                .strip_prefix(root)
                .unwrap_or(&e.path)
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    let follow_up = match ending {
        Ending::Snapshot => FollowUp::default(),
        Ending::Staged | Ending::Committed => FollowUp {
            stage: paths.clone(),
            commit: (ending == Ending::Committed).then(|| message.to_owned()),
        },
    };
    let git_dir = transaction::git_dir(root).ok_or(WriteError::GitDir)?;
    let _lock = crate::release::journal::lock(&git_dir).map_err(WriteError::Lock)?;
    let tx = transaction::apply(root, &git_dir, "polyship version", edits, follow_up, stop)?;
    written();
    let redactor = crate::release::redact::Redactor::from_env();
    if ending != Ending::Snapshot {
        crate::release::git::stage(root, &paths, &redactor).map_err(WriteError::Stage)?;
    }
    let committed = if ending == Ending::Committed {
        crate::release::git::commit(root, message, &redactor).map_err(WriteError::Commit)
    } else {
        Ok(())
    };
    // The follow-up is done (or failed in git, with the files complete): the record goes.
    tx.complete().map_err(WriteError::Complete)?;
    committed.map(|()| ending)
}

/// The release commit's message: `[release] commit_message`, else lerna's when `lerna.json`
/// versions the whole release, else polyship's default.
/// The message ends with the trailer `Polyship-Release: <fingerprint>`, by which the release
/// commit is known on the base branch whatever its text (a merged release pull request, a
/// squash that rewrote the subject).
pub fn release_message(config: &LoadedConfig, changes: &Changes, plan: &Plan) -> String {
    let mut message = message_text(config, changes, plan);
    let trimmed = message.trim_end().len();
    message.truncate(trimmed);
    let _ = write!(message, "\n\n{TRAILER}: {}\n", fingerprint(plan));
    message
}

/// The trailer `version` ends the release commit's message with.
pub const TRAILER: &str = "Polyship-Release";

/// The plan's fingerprint: what it releases, at which versions (16 hex digits of a SHA-256).
pub fn fingerprint(plan: &Plan) -> String {
    use sha2::Digest as _;
    let mut items: Vec<String> = plan
        .releases
        .iter()
        .map(|r| format!("{}:{}@{}", r.ecosystem, r.name, r.to))
        .collect();
    items.sort();
    let digest = sha2::Sha256::digest(items.join("\n").as_bytes());
    digest[..8].iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The release commit's text before its trailer.
fn message_text(config: &LoadedConfig, changes: &Changes, plan: &Plan) -> String {
    match (
        &config.config.release.commit_message,
        lerna_message(changes, plan),
    ) {
        (None, Some(lerna)) => lerna,
        (template, _) => commit_message(
            template
                .as_deref()
                .unwrap_or(crate::config::DEFAULT_COMMIT_MESSAGE),
            plan,
        ),
    }
}

/// The release commit's message as lerna writes it, when `lerna.json` versions every release:
/// its `message` (`%s` the tag, `%v` the version), by default the tag in fixed mode and
/// `Publish` with the list of tags in independent mode.
fn lerna_message(changes: &Changes, plan: &Plan) -> Option<String> {
    let lerna = changes.rules.lerna.as_ref()?;
    let governed: Vec<&crate::plan::Release> = plan
        .releases
        .iter()
        .filter(|r| changes.rules.packages[r.package].lerna)
        .collect();
    if governed.is_empty() || governed.len() != plan.releases.len() {
        return None;
    }
    match lerna.mode {
        Mode::Fixed(_) => {
            let version = &governed[0].to;
            let tag = format!("{}{version}", lerna.tag_version_prefix);
            Some(lerna.message.as_deref().map_or_else(
                || tag.clone(),
                |m| m.replace("%s", &tag).replace("%v", version),
            ))
        }
        Mode::Independent => {
            let mut message = lerna
                .message
                .clone()
                .unwrap_or_else(|| "Publish".to_owned());
            message.push('\n');
            for r in governed {
                let _ = write!(
                    message,
                    "\n - {}{}{}",
                    r.name, lerna.tag_version_separator, r.to
                );
            }
            Some(message)
        }
    }
}

/// The commit message: `{releases}` becomes `a@1.3.0, b@2.0.0`; when that makes the subject
/// longer than 100 characters, the subject counts the packages and the body lists them.
pub fn commit_message(template: &str, plan: &Plan) -> String {
    let mut list: Vec<String> = Vec::new();
    for r in &plan.releases {
        // A crate and its wheel share name and version: one entry.
        let item = format!("{}@{}", r.name, r.to);
        if !list.contains(&item) {
            list.push(item);
        }
    }
    if list.is_empty() {
        return template.replace("{releases}", "changesets that release nothing");
    }
    let full = template.replace("{releases}", &list.join(", "));
    if full.lines().next().unwrap_or_default().chars().count() <= 100 {
        return full;
    }
    let count = if list.len() == 1 {
        "1 package".to_owned()
    } else {
        format!("{} packages", list.len())
    };
    let mut message = template.replace("{releases}", &count);
    message.push_str("\n\n");
    for item in &list {
        message.push_str("- ");
        message.push_str(item);
        message.push('\n');
    }
    message
}

/// Seconds since the epoch: `SOURCE_DATE_EPOCH` when set (reproducible builds), else now.
pub fn epoch_seconds() -> u64 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        })
}

/// (year, month, day, hour, minute, second) in UTC.
pub fn civil(secs: u64) -> (i64, u32, u32, u64, u64, u64) {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Today's date (UTC), `YYYY-MM-DD`, as changelogs write it.
pub fn today() -> String {
    let (y, m, d, ..) = civil(epoch_seconds());
    format!("{y:04}-{m:02}-{d:02}")
}

/// Why snapshot versions cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("`{0}` cannot be part of a version")]
    Tag(String),
    #[error("the snapshot version `{text}` is not a valid version: {message}")]
    Version { text: String, message: String },
}

impl SnapshotError {
    /// What to do about it.
    pub fn help(&self) -> &'static str {
        match self {
            SnapshotError::Tag(_) => "use letters, digits and `-` in a snapshot tag",
            SnapshotError::Version { .. } => "fix `[release] snapshot-version` in polyship.toml",
        }
    }
}

/// Replaces every release's version with a snapshot version from `template` (`{tag}`,
/// `{datetime}`, `{commit}` — `commit` — and `{next}`), in each ecosystem's scheme.
pub fn snapshot(
    plan: &mut Plan,
    template: &str,
    tag: &str,
    commit: &str,
) -> Result<(), SnapshotError> {
    if tag.is_empty() || !tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(SnapshotError::Tag(tag.to_owned()));
    }
    let (y, mo, d, h, mi, s) = civil(epoch_seconds());
    let datetime = format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}");
    for r in &mut plan.releases {
        let scheme = r.ecosystem.adapter().scheme();
        let next = scheme
            .read_own(&r.to)
            .map_or_else(|| r.to.clone(), |v| v.to_string());
        let text = template
            .replace("{tag}", tag)
            .replace("{datetime}", &datetime)
            .replace("{commit}", commit)
            .replace("{next}", &next);
        let version = semver::Version::parse(&text).map_err(|e| SnapshotError::Version {
            message: e.to_string(),
            text,
        })?;
        r.to = scheme.snapshot(&version, &datetime);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(civil(1_795_392_000), (2026, 11, 23, 0, 0, 0));
        assert_eq!(civil(951_782_400 + 3_661), (2000, 2, 29, 1, 1, 1));
    }
}
