//! `polyship release-pr`: one pull request that holds the pending release — versions, changelogs
//! and the release commit — kept up to date from the base branch, so that merging it is the
//! decision to release, and `polyship publish` on the base branch then publishes it.
//!
//! The release branch is polyship's own: every run makes it again from the base branch's HEAD (in
//! a worktree of its own under `.git/polyship/`, so the user's work tree is never touched) with
//! `polyship version`, and force-pushes it only when its content changed. A conflict or a hand
//! edit on the branch therefore never leaves the pull request stuck. With nothing to release, the
//! pull request is closed with a comment and the branch deleted.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};

use anyhow::Context as _;
use polyship_core::release::forge::{Forge, PullLabels, PullOutcome};
use polyship_core::release::redact::Redactor;

use crate::context::Context;
use crate::render::CommandError;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The release branch, polyship's own (force-pushed) [default: `[release-pr] branch`, else
    /// `polyship/release`]
    #[arg(long, value_name = "NAME")]
    branch: Option<String>,
    /// The pull request's title; `{releases}` is replaced by `a@1.2.0, b@2.0.0` [default:
    /// `[release-pr] title`, else `chore(release): {releases}`]
    #[arg(long, value_name = "TEMPLATE")]
    title: Option<String>,
    /// Labels a new pull request gets (repeatable)
    #[arg(long = "label", value_name = "NAME")]
    labels: Vec<String>,
    /// Open it as a draft (GitHub)
    #[arg(long)]
    draft: bool,
    /// Print the result as a JSON document (`"schema": 1`) on stdout
    #[arg(long)]
    json: bool,
}

/// `git` in `dir`, its output, or an error naming the command.
fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    // The core's: never a password prompt, and the output redacted.
    let out = polyship_core::release::git::git(dir, args, &Redactor::from_env())?;
    Ok(out.trim().to_owned())
}

pub fn run(cx: &Context, args: &Args) -> anyhow::Result<ExitCode> {
    if !cx.in_git {
        return Err(CommandError::failed(
            "`polyship release-pr` needs a git repository",
            "run it in the repository you release from, on its base branch",
        )
        .into());
    }
    let root = &cx.root;
    let base = git(root, &["symbolic-ref", "--quiet", "--short", "HEAD"]).map_err(|_| {
        CommandError::failed(
            "HEAD is not on a branch",
            "check out the base branch the release pull request goes into",
        )
    })?;
    let head = git(root, &["rev-parse", "HEAD"])?;
    let short = |sha: &str| sha[..sha.len().min(12)].to_owned();
    // Made from the base branch as the remote has it: HEAD must be there when the run starts.
    let remote = super::discover(cx)?.config.config.publish.remote_name();
    if let Some(theirs) = moved(root, &remote, &base, &head)? {
        return Err(CommandError::failed(
            format!(
                "`{remote}/{base}` is at {}, and HEAD at {}",
                short(&theirs),
                short(&head)
            ),
            "the release pull request is made from the base branch as the remote has it: pull (or push) and run again",
        )
        .into());
    }
    // When the base moves during the run, the pull requests are made once more from where it
    // moved to (in a worktree of its own: the user's work tree stays as it is); a second move
    // is an error.
    let mut made_from = head;
    let mut moved_to: Option<Source> = None;
    loop {
        let here = moved_to.as_ref().map_or(cx, |s| &s.cx);
        let pulls = pull_requests(here, args, &base, &remote, moved_to.is_none())?;
        let Some(theirs) = moved(root, &remote, &base, &made_from)? else {
            if args.json {
                let doc = serde_json::json!({ "schema": 1, "pulls": pulls });
                println!("{}", serde_json::to_string_pretty(&doc)?);
            }
            return Ok(ExitCode::SUCCESS);
        };
        if moved_to.is_some() {
            return Err(CommandError::failed(
                format!(
                    "`{remote}/{base}` moved again, to {}, while the release pull request was made from {}",
                    short(&theirs),
                    short(&made_from)
                ),
                "run it again once the base branch is quiet: the pull request is remade from the new base",
            )
            .into());
        }
        cx.status(
            "Moved",
            &format!(
                "`{remote}/{base}` moved to {} during the run; making the release pull request again from it",
                short(&theirs)
            ),
        );
        moved_to = Some(Source::at(cx, &remote, &theirs)?);
        made_from = theirs;
    }
}

/// Where `remote/base` is when that is not `expected`.
fn moved(root: &Path, remote: &str, base: &str, expected: &str) -> anyhow::Result<Option<String>> {
    let listed = git(root, &["ls-remote", "--heads", remote, base])?;
    Ok(listed
        .split_whitespace()
        .next()
        .filter(|theirs| *theirs != expected)
        .map(str::to_owned))
}

/// The base branch where it moved to, checked out in a worktree of polyship's own; removed when
/// dropped.
struct Source {
    cx: Context,
    root: std::path::PathBuf,
}

impl Source {
    fn at(cx: &Context, remote: &str, commit: &str) -> anyhow::Result<Self> {
        let root = &cx.root;
        let redactor = Redactor::from_env();
        git(root, &["fetch", "--quiet", remote, commit])?;
        let git_dir = polyship_core::release::git::common_dir(root, &redactor)
            .context("failed to find the git directory")?;
        let work = fresh_worktree(
            root,
            &git_dir.join("polyship").join("release-pr-base"),
            commit,
        )?;
        Ok(Self {
            cx: cx.at(work.clone()),
            root: root.clone(),
        })
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        let _ = git(
            &self.root,
            &[
                "worktree",
                "remove",
                "--force",
                &self.cx.root.to_string_lossy(),
            ],
        );
    }
}

/// A detached worktree at `commit` in `work`, made anew.
fn fresh_worktree(root: &Path, work: &Path, commit: &str) -> anyhow::Result<std::path::PathBuf> {
    let _ = git(
        root,
        &["worktree", "remove", "--force", &work.to_string_lossy()],
    );
    let _ = std::fs::remove_dir_all(work);
    git(root, &["worktree", "prune"])?;
    git(
        root,
        &[
            "worktree",
            "add",
            "--quiet",
            "--detach",
            &work.to_string_lossy(),
            commit,
        ],
    )?;
    Ok(work.to_owned())
}

/// Every release pull request of the repository at `cx.root`, brought up to date; their JSON
/// entries.
fn pull_requests(
    cx: &Context,
    args: &Args,
    base: &str,
    remote: &str,
    first: bool,
) -> anyhow::Result<Vec<serde_json::Value>> {
    let discovered = super::discover(cx)?;
    let config = &discovered.config;
    let settings = &config.config.release_pr;
    let branch = args
        .branch
        .clone()
        .or_else(|| settings.branch.clone())
        .unwrap_or_else(|| "polyship/release".to_owned());
    let title = args
        .title
        .clone()
        .or_else(|| settings.title.clone())
        .unwrap_or_else(|| "chore(release): {releases}".to_owned());
    let mut labels = settings.labels.clone();
    labels.extend(args.labels.iter().cloned());
    let units = units(config, &branch);
    if let Some(u) = units.iter().find(|u| u.branch == base) {
        return Err(CommandError::failed(
            format!("HEAD is on the release branch `{}` itself", u.branch),
            "run it on the base branch (`main`): the release branch is made from there",
        )
        .into());
    }
    let forge = forge(&cx.root, config)?;
    if first
        && std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
        && std::env::var("GITHUB_TOKEN").is_ok_and(|t| t == forge.token)
    {
        cx.note("the token is the workflow's GITHUB_TOKEN: pushes and pull requests made with it trigger no other workflow, so the pull request's checks will not run; use a personal access token or a GitHub App token");
    }
    let labels = forge
        .pull_labels(&polyship_core::release::registry::agent(), &labels)
        .map_err(|e| {
            anyhow::anyhow!(Redactor::from_env().redact(&polyship_core::diagnostic::chain(&e)))
        })?;
    let target = Target {
        forge: &forge,
        base,
        remote,
        title: &title,
        labels: &labels,
        draft: args.draft || settings.draft,
    };
    units.iter().map(|unit| one(cx, &target, unit)).collect()
}

/// Where the pull requests go, and how they look.
struct Target<'a> {
    forge: &'a Forge,
    base: &'a str,
    remote: &'a str,
    title: &'a str,
    labels: &'a PullLabels,
    draft: bool,
}

/// One release pull request: its branch and the packages it releases (plan filters).
struct Unit {
    branch: String,
    filters: Vec<String>,
}

/// One pull request, or (`[release-pr] split = "group"`) one per named group and one for the
/// packages of no named group.
fn units(config: &polyship_core::config::LoadedConfig, branch: &str) -> Vec<Unit> {
    let named: Vec<&polyship_core::config::GroupConfig> = config
        .config
        .groups
        .iter()
        .filter_map(|g| g.get_ref().name.as_ref().map(|_| g.get_ref()))
        .collect();
    if config.config.release_pr.split != Some(polyship_core::config::SplitBy::Group)
        || named.is_empty()
    {
        return vec![Unit {
            branch: branch.to_owned(),
            filters: Vec::new(),
        }];
    }
    let mut units: Vec<Unit> = named
        .iter()
        .map(|g| Unit {
            branch: format!("{branch}-{}", g.name.as_deref().unwrap_or_default()),
            filters: g.packages.clone(),
        })
        .collect();
    units.push(Unit {
        branch: branch.to_owned(),
        filters: named
            .iter()
            .flat_map(|g| g.packages.iter().map(|p| format!("!{p}")))
            .collect(),
    });
    units
}

/// Brings one release pull request up to date; its JSON entry.
fn one(cx: &Context, target: &Target<'_>, unit: &Unit) -> anyhow::Result<serde_json::Value> {
    let planned = super::plan::make(
        cx,
        &super::plan::PlanArgs {
            filter: unit.filters.clone(),
            ..super::plan::PlanArgs::default()
        },
    )?;
    let agent = polyship_core::release::registry::agent();
    let redactor = Redactor::from_env();
    let forge_error = |e: polyship_core::release::forge::ForgeError| {
        anyhow::anyhow!(redactor.redact(&polyship_core::diagnostic::chain(&e)))
    };
    if planned.plan.releases.is_empty() {
        return close(cx, target, &unit.branch, forge_error);
    }
    let body = release_branch(cx, &planned, target.remote, unit)?;
    let title = polyship_core::apply::commit::commit_message(target.title, &planned.plan)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    let (outcome, pull) = target
        .forge
        .ensure_pull(
            &agent,
            &unit.branch,
            target.base,
            &title,
            &body,
            target.draft,
            target.labels,
        )
        .map_err(&forge_error)?;
    let (verb, outcome) = match outcome {
        PullOutcome::Created => ("Opened", "created"),
        PullOutcome::Updated => ("Updated", "updated"),
        PullOutcome::Unchanged => ("Unchanged", "unchanged"),
    };
    cx.status(verb, &format!("#{} {}", pull.number, pull.url));
    Ok(entry(&unit.branch, outcome, Some((pull.number, &pull.url))))
}

fn entry(branch: &str, outcome: &str, pull: Option<(u64, &str)>) -> serde_json::Value {
    serde_json::json!({
        "branch": branch,
        "outcome": outcome,
        "number": pull.map(|p| p.0),
        "url": pull.map(|p| p.1),
    })
}

/// Makes the release commit on the base branch's HEAD, in a worktree of polyship's own, and
/// pushes it as the release branch; returns the pull request's body.
fn release_branch(
    cx: &Context,
    planned: &super::plan::Planned,
    remote: &str,
    unit: &Unit,
) -> anyhow::Result<String> {
    let root = &cx.root;
    let redactor = Redactor::from_env();
    let git_dir = polyship_core::release::git::common_dir(root, &redactor)
        .context("failed to find the git directory")?;
    let work = fresh_worktree(root, &git_dir.join("polyship").join("release-pr"), "HEAD")?;
    let made = release_commit(cx, &work, &unit.filters);
    let result = made.and_then(|()| {
        let body = body(planned, &work);
        let commit = git(&work, &["rev-parse", "HEAD"])?;
        push(cx, root, remote, &unit.branch, &commit)?;
        Ok(body)
    });
    let _ = git(
        root,
        &["worktree", "remove", "--force", &work.to_string_lossy()],
    );
    result
}

/// Nothing to release: the open pull request is closed with a comment, its branch deleted.
fn close(
    cx: &Context,
    target: &Target<'_>,
    branch: &str,
    forge_error: impl Fn(polyship_core::release::forge::ForgeError) -> anyhow::Error,
) -> anyhow::Result<serde_json::Value> {
    let root = &cx.root;
    let agent = polyship_core::release::registry::agent();
    let open = target
        .forge
        .open_pull(&agent, branch, target.base)
        .map_err(&forge_error)?;
    let mut outcome = "none";
    if let Some(pull) = &open {
        target
            .forge
            .close_pull(
                &agent,
                pull.number,
                "Nothing is left to release: every change is released. polyship closed this pull request; it opens a new one when there is something to release.",
            )
            .map_err(&forge_error)?;
        cx.status("Closed", &format!("#{} {}", pull.number, pull.url));
        outcome = "closed";
    } else {
        cx.debug(&format!(
            "nothing to release on `{branch}`, and no pull request is open"
        ));
    }
    if !git(root, &["ls-remote", "--heads", target.remote, branch])?.is_empty() {
        polyship_core::release::git::push(
            root,
            target.remote,
            &format!(":refs/heads/{branch}"),
            &Redactor::from_env(),
        )?;
        cx.status("Deleted", &format!("{}/{branch}", target.remote));
    }
    Ok(entry(
        branch,
        outcome,
        open.as_ref().map(|p| (p.number, p.url.as_str())),
    ))
}

/// The forge the pull request goes to, as `publish` resolves it.
fn forge(root: &Path, config: &polyship_core::config::LoadedConfig) -> anyhow::Result<Forge> {
    match polyship_core::release::publish::forge(root, config) {
        Ok(Some(forge)) => Ok(forge),
        Ok(None) => Err(CommandError::failed(
            "there is no forge to open the pull request on",
            "set `[publish.forge] kind` (`github` or `gitea`) in polyship.toml",
        )
        .into()),
        Err(problems) => {
            let first = problems.into_iter().next();
            Err(CommandError {
                message: first.as_ref().map_or_else(
                    || "the forge is not usable".to_owned(),
                    |p| p.message.clone(),
                ),
                help: first.and_then(|p| p.help),
                usage: false,
            }
            .into())
        }
    }
}

/// `polyship version` in `work`: the release commit, exactly as on the base branch.
fn release_commit(cx: &Context, work: &Path, filters: &[String]) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("failed to find the polyship binary")?;
    let out = Command::new(exe)
        .arg("-C")
        .arg(work)
        .arg("version")
        .args(filters.iter().map(|f| format!("--filter={f}")))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .context("failed to run polyship version")?;
    let text = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(CommandError::failed(
            format!(
                "`polyship version` failed on the release branch: {}",
                text.trim()
            ),
            "run `polyship version --dry-run` on the base branch to see why",
        )
        .into());
    }
    cx.debug(text.trim());
    Ok(())
}

/// Pushes `commit` as the release branch, unless the branch there holds the same files on the
/// same base already (a rerun with nothing new writes nothing).
fn push(cx: &Context, root: &Path, remote: &str, branch: &str, commit: &str) -> anyhow::Result<()> {
    let listed = git(root, &["ls-remote", "--heads", remote, branch])?;
    if let Some(theirs) = listed.split_whitespace().next() {
        let fetched = git(root, &["fetch", "--quiet", remote, theirs]).is_ok();
        let same = fetched
            && git(root, &["rev-parse", &format!("{theirs}^{{tree}}")])?
                == git(root, &["rev-parse", &format!("{commit}^{{tree}}")])?
            && git(root, &["rev-parse", &format!("{theirs}^")]).ok()
                == git(root, &["rev-parse", &format!("{commit}^")]).ok();
        if same {
            cx.status("Unchanged", &format!("{remote}/{branch}"));
            return Ok(());
        }
    }
    polyship_core::release::git::push(
        root,
        remote,
        &format!("+{commit}:refs/heads/{branch}"),
        &Redactor::from_env(),
    )?;
    cx.status("Pushed", &format!("{remote}/{branch}"));
    Ok(())
}

/// The pull request's body: the plan's table, then each changelog section the release writes.
fn body(planned: &super::plan::Planned, work: &Path) -> String {
    let ws = &planned.discovered.workspace;
    let config = &planned.discovered.config.config;
    let mut body = String::from(
        "This pull request releases:\n\n| package | ecosystem | from | to |\n| --- | --- | --- | --- |\n",
    );
    for r in &planned.plan.releases {
        let _ = writeln!(
            body,
            "| `{}` | {} | {} | **{}** |",
            r.name, r.ecosystem, r.from, r.to
        );
    }
    let mut seen = Vec::new();
    for r in &planned.plan.releases {
        let package = &ws.packages[r.package];
        let path = if package.path == "." || package.path.is_empty() {
            config.changelog.path.clone()
        } else {
            format!("{}/{}", package.path, config.changelog.path)
        };
        if seen.contains(&(path.clone(), r.to.clone())) {
            continue;
        }
        seen.push((path.clone(), r.to.clone()));
        let Ok(text) = std::fs::read_to_string(work.join(&path)) else {
            continue;
        };
        if let Some(section) = polyship_core::release::forge::changelog_section(&text, &r.to) {
            let _ = write!(body, "\n## {}@{}\n\n{}\n", r.name, r.to, section.trim());
        }
    }
    body.push_str("\n---\nMerging it releases these versions: `polyship publish` on the base branch publishes them. polyship remakes this pull request from the base branch on every run; edits to its branch are replaced.\n");
    body
}
