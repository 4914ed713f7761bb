//! The git operations of polyship, through the `git` binary so that users' hooks, signing and
//! credential helpers work as they expect: work-tree state, the release commit, the remote's refs,
//! tags and pushes. Every command that writes to git does it here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::redact::Redactor;

/// A git command that failed; its output is already redacted.
#[derive(Debug, thiserror::Error)]
#[error("`git {command}` failed: {output}")]
pub struct GitError {
    pub command: String,
    pub output: String,
}

/// Runs `git args` in `root` and returns its stdout.
pub fn git(root: &Path, args: &[&str], redactor: &Redactor) -> Result<String, GitError> {
    let fail = |output: String| GitError {
        command: args.join(" "),
        output,
    };
    let out = Command::new("git")
        .args(args)
        .current_dir(root)
        // Never wait for a password prompt: credentials come from helpers or the URL.
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .map_err(|e| fail(format!("could not run git: {e}")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let mut text = redactor.redact_bytes(&out.stderr);
        if text.trim().is_empty() {
            text = redactor.redact_bytes(&out.stdout);
        }
        Err(fail(text.trim().to_owned()))
    }
}

/// The directory shared by every worktree of the repository (`.git`).
pub fn common_dir(root: &Path, redactor: &Redactor) -> Result<PathBuf, GitError> {
    let dir = git(root, &["rev-parse", "--git-common-dir"], redactor)?;
    Ok(root.join(dir.trim()))
}

/// The commit HEAD names, hex.
pub fn head(root: &Path, redactor: &Redactor) -> Result<String, GitError> {
    Ok(git(root, &["rev-parse", "HEAD"], redactor)?
        .trim()
        .to_owned())
}

/// HEAD's abbreviated id; empty before the first commit or outside git.
pub fn short_head(root: &Path, redactor: &Redactor) -> String {
    git(root, &["rev-parse", "--short", "HEAD"], redactor)
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// Stages `paths` as they are in the work tree, removals included (`git add -A -- <paths>`).
pub fn stage(root: &Path, paths: &[String], redactor: &Redactor) -> Result<(), GitError> {
    let mut args = vec!["add", "-A", "--"];
    args.extend(paths.iter().map(String::as_str));
    git(root, &args, redactor).map(drop).map_err(|e| GitError {
        command: "add".to_owned(),
        ..e
    })
}

/// Commits what is staged with `message`; the user's hooks and signing apply.
pub fn commit(root: &Path, message: &str, redactor: &Redactor) -> Result<(), GitError> {
    git(root, &["commit", "-q", "-m", message], redactor)
        .map(drop)
        .map_err(|e| GitError {
            command: "commit".to_owned(),
            ..e
        })
}

/// Where git keeps `name` inside the repository (`git rev-parse --git-path`, honouring
/// `core.hooksPath` for `hooks`).
pub fn git_path(root: &Path, name: &str, redactor: &Redactor) -> Result<PathBuf, GitError> {
    let path = git(root, &["rev-parse", "--git-path", name], redactor)?;
    Ok(root.join(path.trim()))
}

/// The checked-out branch, `None` when HEAD is detached.
pub fn current_branch(root: &Path, redactor: &Redactor) -> Result<Option<String>, GitError> {
    let name = git(root, &["rev-parse", "--abbrev-ref", "HEAD"], redactor)?;
    let name = name.trim();
    Ok((name != "HEAD").then(|| name.to_owned()))
}

/// Files with uncommitted changes or untracked (ignored files are not listed), as `git status`
/// names them.
pub fn dirty_files(root: &Path, redactor: &Redactor) -> Result<Vec<String>, GitError> {
    let out = git(
        root,
        &["status", "--porcelain=v1", "--untracked-files=all"],
        redactor,
    )?;
    Ok(out
        .lines()
        .filter(|l| l.len() > 3)
        .map(|l| l[3..].to_owned())
        .collect())
}

/// The URL of `remote`, `None` when there is no such remote.
pub fn remote_url(root: &Path, remote: &str, redactor: &Redactor) -> Option<String> {
    git(root, &["remote", "get-url", remote], redactor)
        .ok()
        .map(|s| s.trim().to_owned())
}

/// What the remote holds: its branches and its tags, each peeled to a commit.
#[derive(Debug, Default, Clone)]
pub struct RemoteRefs {
    pub branches: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
}

/// Asks `remote` for its refs (`git ls-remote`).
pub fn remote_refs(root: &Path, remote: &str, redactor: &Redactor) -> Result<RemoteRefs, GitError> {
    let out = git(root, &["ls-remote", "--heads", "--tags", remote], redactor)?;
    let mut refs = RemoteRefs::default();
    for line in out.lines() {
        let Some((id, name)) = line.split_once('\t') else {
            continue;
        };
        if let Some(branch) = name.strip_prefix("refs/heads/") {
            refs.branches.insert(branch.to_owned(), id.to_owned());
        } else if let Some(tag) = name.strip_prefix("refs/tags/") {
            // An annotated tag is listed twice; the `^{}` line is the commit it names.
            match tag.strip_suffix("^{}") {
                Some(tag) => {
                    refs.tags.insert(tag.to_owned(), id.to_owned());
                }
                None => {
                    refs.tags
                        .entry(tag.to_owned())
                        .or_insert_with(|| id.to_owned());
                }
            }
        }
    }
    Ok(refs)
}

/// Whether `ancestor` is an ancestor of (or equal to) `commit`; `false` when `ancestor` is not
/// in the local repository at all.
pub fn is_ancestor(root: &Path, ancestor: &str, commit: &str, redactor: &Redactor) -> bool {
    git(
        root,
        &["merge-base", "--is-ancestor", ancestor, commit],
        redactor,
    )
    .is_ok()
}

/// Whether the tag `name` exists and names `commit`.
pub fn tag_names(root: &Path, name: &str, commit: &str, redactor: &Redactor) -> bool {
    git(
        root,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("refs/tags/{name}^{{commit}}"),
        ],
        redactor,
    )
    .is_ok_and(|out| out.trim() == commit)
}

/// Creates the lightweight tag `name` on `commit`.
pub fn create_tag(
    root: &Path,
    name: &str,
    commit: &str,
    redactor: &Redactor,
) -> Result<(), GitError> {
    git(root, &["tag", name, commit], redactor).map(drop)
}

/// Pushes one ref (`refs/tags/x`, `<commit>:refs/heads/<branch>`, `+` to force, `:refs/…` to
/// delete) to `remote`. A refusal for want of permission says which permission the token needs.
pub fn push(root: &Path, remote: &str, refspec: &str, redactor: &Redactor) -> Result<(), GitError> {
    git(root, &["push", "--quiet", remote, refspec], redactor)
        .map(drop)
        .map_err(|mut e| {
            if refused(&e.output) {
                e.output.push_str(PUSH_PERMISSION);
            }
            e
        })
}

/// What a push refused by the forge needs.
const PUSH_PERMISSION: &str = "\nthe credentials git pushes with may not write to the repository: a GitHub token needs `contents: write` (a workflow's `permissions:`), a GitLab token `write_repository`, a Gitea token `write:repository`";

/// Whether git's output says the remote refused the push for want of permission (HTTP 403, or
/// the forges' own words).
fn refused(output: &str) -> bool {
    let lower = output.to_ascii_lowercase();
    lower.contains("returned error: 403")
        || (lower.contains("permission to") && lower.contains("denied"))
        || lower.contains("you are not allowed to push")
        || lower.contains("permission denied (publickey")
}

/// The committer time of `commit`, seconds since the epoch.
pub fn commit_time(root: &Path, commit: &str, redactor: &Redactor) -> Result<i64, GitError> {
    let out = git(root, &["show", "-s", "--format=%ct", commit], redactor)?;
    out.trim().parse().map_err(|_| GitError {
        command: format!("show -s --format=%ct {commit}"),
        output: format!("unexpected output `{}`", out.trim()),
    })
}

#[cfg(test)]
mod tests {
    use super::refused;

    #[test]
    fn the_forges_refusals_are_told_from_other_push_failures() {
        for text in [
            "remote: Permission to octo/tool.git denied to github-actions[bot].\nfatal: unable to access 'https://github.com/octo/tool/': The requested URL returned error: 403",
            "remote: You are not allowed to push code to this project.\nfatal: unable to access 'https://gitlab.com/octo/tool.git/': The requested URL returned error: 403",
            "remote: User permission denied for writing.\nfatal: unable to access 'https://gitea.example/octo/tool.git/': The requested URL returned error: 403",
            "git@github.com: Permission denied (publickey).\nfatal: Could not read from remote repository.",
        ] {
            assert!(refused(text), "{text}");
        }
        for text in [
            "remote: denied by policy\nTo /tmp/origin\n ! [remote rejected] v1 -> v1 (pre-receive hook declined)",
            " ! [rejected]        main -> main (fetch first)\nerror: failed to push some refs",
            "fatal: unable to access 'https://github.com/octo/tool/': The requested URL returned error: 500",
        ] {
            assert!(!refused(text), "{text}");
        }
    }
}
