//! `polyship version`: apply the plan — versions, requirements, lockfiles, changelogs, changesets —
//! all or nothing, then one commit.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use polyship_core::apply::commit::{Ending, WriteError};
use polyship_core::apply::{self, Files, changelog::Forge, commit, pre};
use polyship_core::fsutil::FileEdit;
use polyship_core::plan::Plan;
use polyship_core::release::git;
use polyship_core::release::redact::Redactor;

use super::plan::{PlanArgs, Planned, table};
use crate::context::Context;
use crate::render::CommandError;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    plan: PlanArgs,
    /// Print the plan and a unified diff of every file; write nothing
    #[arg(long)]
    dry_run: bool,
    /// Write and stage the changes, but do not commit
    #[arg(long)]
    no_commit: bool,
    /// Leave lockfiles alone
    #[arg(long)]
    no_lockfile: bool,
    /// Throwaway versions (`0.0.0-<tag>-<datetime>` by default) that consume nothing and commit nothing
    #[arg(long, value_name = "TAG", conflicts_with_all = ["graduate", "pre", "plan_file", "release_version"])]
    snapshot: Option<String>,
    /// Apply this saved plan (`polyship plan --json > plan.json`) instead of planning again
    #[arg(long = "plan", value_name = "FILE", conflicts_with_all = ["graduate", "pre", "filter", "release_version"])]
    plan_file: Option<std::path::PathBuf>,
    /// Print what was done as a JSON document (`"schema": 1`) on stdout: the releases, the files
    /// written (or, with `--dry-run`, that would be), and the commit
    #[arg(long)]
    json: bool,
}

/// What `version` did, for `--json`.
#[derive(serde::Serialize)]
struct Report<'a> {
    schema: u32,
    dry_run: bool,
    /// `committed`, `staged`, `snapshot`, or `nothing` (nothing to release, or a dry run).
    outcome: &'static str,
    /// The release commit, when one was made.
    commit: Option<String>,
    releases: Vec<ReportRelease<'a>>,
    /// The files written, relative to the root.
    files: Vec<String>,
}

#[derive(serde::Serialize)]
struct ReportRelease<'a> {
    ecosystem: polyship_core::workspace::Ecosystem,
    name: &'a str,
    from: &'a str,
    to: &'a str,
}

fn report(
    cx: &Context,
    prepared: &Prepared,
    dry_run: bool,
    outcome: &'static str,
) -> anyhow::Result<()> {
    let commit = (outcome == "committed")
        .then(|| git::head(&cx.root, &Redactor::from_env()).ok())
        .flatten();
    let doc = Report {
        schema: 1,
        dry_run,
        outcome,
        commit,
        releases: prepared
            .plan
            .releases
            .iter()
            .map(|r| ReportRelease {
                ecosystem: r.ecosystem,
                name: &r.name,
                from: &r.from,
                to: &r.to,
            })
            .collect(),
        files: prepared
            .edits
            .iter()
            .map(|e| {
                e.path
                    .strip_prefix(&cx.root)
                    .unwrap_or(&e.path)
                    .to_string_lossy()
                    .replace('\\', "/")
            })
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&doc).context("failed to serialise the report")?;
    text.push('\n');
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .context("failed to write to stdout")
}

pub fn run(cx: &Context, args: &Args) -> anyhow::Result<ExitCode> {
    if !cx.in_git {
        return Err(CommandError {
            message: "`polyship version` needs a git repository".into(),
            help: Some("run it inside the repository, or pass `-C <dir>`".into()),
            usage: true,
        }
        .into());
    }
    let prepared = prepare(cx, args)?;
    if args.dry_run && args.json {
        report(cx, &prepared, true, "nothing")?;
        cx.note("dry run: nothing was written");
        return Ok(ExitCode::SUCCESS);
    }
    if args.dry_run {
        let mut out = table(&prepared.plan);
        if !out.is_empty() {
            out.push('\n');
        }
        for e in &prepared.edits {
            out.push_str(&diff(&cx.root, e));
        }
        std::io::stdout()
            .lock()
            .write_all(out.as_bytes())
            .context("failed to write to stdout")?;
        cx.note("dry run: nothing was written");
        return Ok(ExitCode::SUCCESS);
    }
    if prepared.edits.is_empty() {
        if args.json {
            report(cx, &prepared, false, "nothing")?;
        }
        cx.note("nothing to release");
        return Ok(ExitCode::SUCCESS);
    }
    let ended = write(cx, args, &prepared)?;
    if args.json {
        let outcome = match ended {
            Ending::Snapshot => "snapshot",
            Ending::Staged => "staged",
            Ending::Committed => "committed",
        };
        report(cx, &prepared, false, outcome)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// What a `version` run writes: the plan, every file's new content, the commit message.
struct Prepared {
    plan: Plan,
    edits: Vec<FileEdit>,
    message: String,
}

/// Plans (or loads the saved plan), stamps snapshot versions, and computes every edit.
fn prepare(cx: &Context, args: &Args) -> anyhow::Result<Prepared> {
    let Planned {
        discovered,
        changes,
        mut plan,
        selected,
        mode,
    } = super::plan::make(cx, &args.plan)?;
    let (config, ws) = (&discovered.config, &discovered.workspace);
    allowed_branch(cx, &changes)?;
    if let Some(file) = &args.plan_file {
        plan = super::plan::load(cx, ws, file)?;
    }
    let snapshot = args.snapshot.as_deref();
    if let Some(tag) = snapshot {
        let commit = git::short_head(&cx.root, &Redactor::from_env());
        let template = &config.config.release.snapshot_version;
        commit::snapshot(&mut plan, template, tag, &commit).map_err(|e| CommandError {
            message: e.to_string(),
            help: Some(e.help().to_owned()),
            usage: true,
        })?;
    }
    let mut files = Files::new(&cx.root);
    let options = apply::Options {
        lockfiles: !args.no_lockfile,
        changelog_date: snapshot.is_none().then(commit::today),
        forge: forge(cx, config),
        exact_requirements: snapshot.is_some(),
        github: github_api(config),
    };
    apply::edits(&mut files, ws, &plan, config, &changes, &options)?;
    if snapshot.is_none() {
        for w in pre::consume(&mut files, ws, &changes, selected.as_deref(), &mode)? {
            cx.warn(&w);
        }
    }
    Ok(Prepared {
        message: commit::release_message(config, &changes, &plan),
        edits: files.into_edits(),
        plan,
    })
}

/// Writes every edit all or nothing, then stages and commits them (a snapshot neither).
fn write(cx: &Context, args: &Args, prepared: &Prepared) -> anyhow::Result<Ending> {
    let Prepared {
        plan,
        edits,
        message,
    } = prepared;
    let ending = if args.snapshot.is_some() {
        Ending::Snapshot
    } else if args.no_commit {
        Ending::Staged
    } else {
        Ending::Committed
    };
    // Ctrl-C or a termination request while writing restores every file instead of killing
    // the process between two of them.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, std::sync::Arc::clone(&stop))
            .context("failed to install the interrupt handler")?;
    }
    let versioned = || {
        for r in &plan.releases {
            let shared = plan.releases.iter().filter(|o| o.name == r.name).count() > 1;
            let name = if shared {
                format!("{}:{}", r.ecosystem, r.name)
            } else {
                r.name.clone()
            };
            cx.status("Versioned", &format!("{name} {} → {}", r.from, r.to));
        }
    };
    let ended =
        commit::write_release(&cx.root, edits, message, ending, &stop, versioned).map_err(|e| {
            match e {
                WriteError::Stage(e) => anyhow::Error::new(e),
                e => CommandError {
                    help: e.help(),
                    message: e.to_string(),
                    usage: false,
                }
                .into(),
            }
        })?;
    match ended {
        Ending::Snapshot => cx.note("snapshot versions written; nothing was staged or committed"),
        Ending::Staged => cx.note("changes are staged; commit them when ready"),
        Ending::Committed => cx.status("Committed", message.lines().next().unwrap_or_default()),
    }
    Ok(ended)
}

/// `lerna.json`'s `allowBranch`: `lerna version` refuses other branches, and so does polyship.
fn allowed_branch(cx: &Context, changes: &polyship_core::changes::Changes) -> anyhow::Result<()> {
    let Some(lerna) = &changes.rules.lerna else {
        return Ok(());
    };
    if lerna.allow_branch.is_empty() {
        return Ok(());
    }
    let repo = polyship_core::changes::history::open(&cx.root)?;
    let branch = polyship_core::changes::history::current_branch(&repo).unwrap_or_default();
    if changes.rules.branch_allowed(&branch) {
        return Ok(());
    }
    Err(CommandError::failed(
        format!(
            "the branch `{branch}` may not be versioned: `lerna.json` `allowBranch` allows {}",
            lerna
                .allow_branch
                .iter()
                .map(|b| format!("`{b}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        "switch to an allowed branch, or change `allowBranch` in lerna.json",
    )
    .into())
}

/// GitHub's API with `GITHUB_TOKEN` (as `@changesets/changelog-github` reads it), for changelog
/// lines that link pull requests and thank their authors.
fn github_api(config: &polyship_core::config::LoadedConfig) -> Option<apply::GitHubApi> {
    let token = std::env::var("GITHUB_TOKEN")
        .ok()
        .filter(|t| !t.trim().is_empty())?;
    let mut api = config
        .config
        .publish
        .forge
        .api
        .clone()
        .unwrap_or_else(|| "https://api.github.com/".to_owned());
    if !api.ends_with('/') {
        api.push('/');
    }
    Some(apply::GitHubApi { api, token })
}

/// The changelog links' target: configured, else from the `origin` remote.
fn forge(cx: &Context, config: &polyship_core::config::LoadedConfig) -> Option<Forge> {
    if let Some(url) = &config.config.changelog.repository {
        return Some(Forge::from_url(url));
    }
    let url = git::remote_url(&cx.root, "origin", &Redactor::from_env())?;
    Forge::from_remote(&url)
}

/// A unified diff of one edit, with `a/` and `b/` paths relative to the root.
fn diff(root: &Path, edit: &FileEdit) -> String {
    let rel = edit
        .path
        .strip_prefix(root)
        .unwrap_or(&edit.path)
        .to_string_lossy()
        .replace('\\', "/");
    let before = edit
        .before
        .as_deref()
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    let after = edit
        .after
        .as_deref()
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    let old = if edit.before.is_some() {
        format!("a/{rel}")
    } else {
        "/dev/null".to_owned()
    };
    let new = if edit.after.is_some() {
        format!("b/{rel}")
    } else {
        "/dev/null".to_owned()
    };
    let text = similar::TextDiff::from_lines(before.as_ref(), after.as_ref());
    let mut out = format!("diff --polyship {old} {new}\n");
    out.push_str(
        &text
            .unified_diff()
            .context_radius(3)
            .header(&old, &new)
            .to_string(),
    );
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}
