//! `lint-commits`: which commits of a range do not follow Conventional Commits.
//!
//! Merges, git's own reverts, fixups and other tool-written messages are skipped, as commitlint
//! skips them.

use gix::bstr::ByteSlice;

use super::conventional::{self, LintError};
use super::history::{HistoryError, open};

/// One commit that breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    pub commit: String,
    /// The commit's first line.
    pub header: String,
    pub rule: &'static str,
    pub message: String,
    pub help: String,
}

/// The base ref for ranges and comparisons: `origin/<branch>` when it exists, else `<branch>`.
pub fn base_ref(repo: &gix::Repository, branch: &str) -> Option<String> {
    [format!("origin/{branch}"), branch.to_owned()]
        .into_iter()
        .find(|r| repo.rev_parse_single(r.as_str()).is_ok())
}

fn resolve(repo: &gix::Repository, rev: &str) -> Result<gix::ObjectId, HistoryError> {
    repo.rev_parse_single(rev)
        .ok()
        .and_then(|id| id.object().ok())
        .and_then(|o| o.peel_to_commit().ok())
        .map(|c| c.id)
        .ok_or_else(|| HistoryError::UnknownRef(rev.to_owned()))
}

/// Lints every commit in `range` (`A..B`, or `A` meaning `A..HEAD`), newest first.
pub fn lint_range(
    root: &std::path::Path,
    range: &str,
) -> Result<(usize, Vec<Problem>), HistoryError> {
    let repo = open(root)?;
    let (from, to) = match range.split_once("..") {
        Some((a, b)) => (a, if b.is_empty() { "HEAD" } else { b }),
        None => (range, "HEAD"),
    };
    let to = resolve(&repo, to)?;
    let hidden = if from.is_empty() {
        Vec::new()
    } else {
        vec![resolve(&repo, from)?]
    };
    let walk = repo
        .rev_walk([to])
        .with_hidden(hidden)
        .all()
        .map_err(|e| HistoryError::Git(Box::new(e)))?;
    let mut problems = Vec::new();
    let mut checked = 0;
    for info in walk {
        let info = info.map_err(|e| HistoryError::Git(Box::new(e)))?;
        let commit = info.object().map_err(|e| HistoryError::Git(Box::new(e)))?;
        let message = commit.message_raw_sloppy().to_str_lossy().into_owned();
        if info.parent_ids.len() > 1 || conventional::is_tool_generated(&message) {
            continue;
        }
        checked += 1;
        if let Err(e) = conventional::parse(&message) {
            problems.push(problem(info.id.to_string(), &message, e));
        }
    }
    Ok((checked, problems))
}

/// Lints one message (a `commit-msg` hook's file).
pub fn lint_message(message: &str) -> Option<Problem> {
    if conventional::is_tool_generated(message) {
        return None;
    }
    conventional::parse(message)
        .err()
        .map(|e| problem(String::new(), message, e))
}

fn problem(commit: String, message: &str, e: LintError) -> Problem {
    let header = message
        .lines()
        .find(|l| !l.starts_with('#') && !l.trim().is_empty())
        .unwrap_or_default()
        .to_owned();
    Problem {
        commit,
        header,
        rule: e.rule,
        message: e.message,
        help: e.help,
    }
}
