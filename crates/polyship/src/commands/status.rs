//! `polyship status`: pending changes per package, and changed packages no changeset covers.

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use polyship_core::changes::{self, Change, history, lint};
use polyship_core::workspace::Ecosystem;
use serde::Serialize;

use crate::context::Context;
use crate::render::CommandError;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print a JSON document (`"schema": 1`) on stdout instead of text
    #[arg(long)]
    json: bool,
    /// Find changed packages since the merge base with <REF> (default: the base branch)
    #[arg(long, value_name = "REF")]
    since: Option<String>,
    /// Exit 1 when a changed package has no changeset (a CI gate)
    #[arg(long)]
    require_changeset: bool,
}

#[derive(Serialize)]
struct Status<'a> {
    schema: u32,
    packages: Vec<PackageStatus<'a>>,
    /// Changed since `since` with no changeset.
    uncovered: Vec<PackageRef<'a>>,
    /// The ref compared with, when one was found.
    since: Option<String>,
    /// Commits in range that are not Conventional Commits.
    nonconforming: usize,
}

#[derive(Serialize)]
struct PackageStatus<'a> {
    name: &'a str,
    ecosystem: Ecosystem,
    version: Option<&'a str>,
    last_release: Option<&'a history::Tag>,
    /// The commit that set `version`, when no release tag names it yet: versioned, not yet
    /// published.
    #[serde(skip_serializing_if = "Option::is_none")]
    versioned: Option<&'a str>,
    changes: &'a [Change],
}

#[derive(Serialize)]
struct PackageRef<'a> {
    name: &'a str,
    ecosystem: Ecosystem,
}

pub fn run(cx: &Context, args: &Args) -> anyhow::Result<ExitCode> {
    super::prefetch_history(cx);
    let discovery = super::discover(cx)?;
    let (config, ws) = (&discovery.config, &discovery.workspace);
    // Never freed: the process ends soon after, and freeing every change of a long history one
    // by one costs a seventh of a run that reads it from the history cache.
    let changes =
        std::mem::ManuallyDrop::new(changes::collect(&cx.root, ws, config, cx.history_cache)?);
    for w in &changes.warnings {
        cx.warn(w);
    }
    super::describe_rules(cx, ws, &changes);
    if !changes.nonconforming.is_empty() {
        cx.debug(&format!(
            "{} commits are not Conventional Commits and release nothing: {}",
            changes.nonconforming.len(),
            changes
                .nonconforming
                .iter()
                .map(|c| &c[..7.min(c.len())])
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }

    let (since, branch_changes) = branch_changes(cx, args, ws, config, &changes)?;
    let uncovered = changes.uncovered(&branch_changes);
    if args.require_changeset && since.is_none() {
        return Err(CommandError {
            message: "there is no base to compare with".to_owned(),
            help: Some("pass `--since <ref>`, or set `base-branch` in polyship.toml".to_owned()),
            usage: true,
        }
        .into());
    }

    let status = Status {
        schema: 1,
        packages: ws
            .packages
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                !changes.by_package[*i].is_empty() || changes.history.versioned[*i].is_some()
            })
            .map(|(i, p)| PackageStatus {
                name: &p.name,
                ecosystem: p.ecosystem,
                version: p.version.as_deref(),
                last_release: changes.history.last_release[i].as_ref(),
                versioned: changes.history.versioned[i].as_deref(),
                changes: &changes.by_package[i],
            })
            .collect(),
        uncovered: uncovered
            .iter()
            .map(|&i| PackageRef {
                name: &ws.packages[i].name,
                ecosystem: ws.packages[i].ecosystem,
            })
            .collect(),
        since: since.clone(),
        nonconforming: changes.nonconforming.len(),
    };
    let out = if args.json {
        let mut s =
            serde_json::to_string_pretty(&status).context("failed to serialise the status")?;
        s.push('\n');
        s
    } else {
        crate::render::safe(&render(&status)).into_owned()
    };
    std::io::stdout()
        .lock()
        .write_all(out.as_bytes())
        .context("failed to write to stdout")?;
    if status.packages.is_empty() && !args.json {
        cx.note("no pending changes");
    }
    if args.require_changeset && !uncovered.is_empty() {
        let names: Vec<String> = uncovered
            .iter()
            .map(|&i| format!("`{}`", ws.packages[i].name))
            .collect();
        let first = &ws.packages[uncovered[0]].name;
        return Err(CommandError::failed(
            format!(
                "{} changed since `{}` without a changeset: {}",
                if uncovered.len() == 1 { "a package" } else { "packages" },
                since.unwrap_or_default(),
                names.join(", ")
            ),
            format!(
                "add one with `polyship add -p {first} --bump patch -m \"what changed\"`, or `polyship add --empty` when nothing needs releasing"
            ),
        )
        .into());
    }
    Ok(ExitCode::SUCCESS)
}

/// The ref the branch is compared with (`--since`, else the base branch when the repository has
/// it), and which packages changed since.
fn branch_changes(
    cx: &Context,
    args: &Args,
    ws: &polyship_core::workspace::Workspace,
    config: &polyship_core::config::LoadedConfig,
    changes: &changes::Changes,
) -> anyhow::Result<(Option<String>, history::Since)> {
    let repo = history::open(&cx.root)?;
    let since = if let Some(r) = &args.since {
        Some(r.clone())
    } else {
        let branch = changes.base_branch(config);
        let found = lint::base_ref(&repo, &branch);
        if found.is_none() {
            cx.note(&format!(
                "no base branch `{branch}` in this repository; not checking for changed packages"
            ));
        }
        found
    };
    let branch_changes = match &since {
        Some(r) => history::changed_since(&repo, ws, r, config.config.commits.shared_paths)?,
        None => history::Since::default(),
    };
    Ok((since, branch_changes))
}

fn render(status: &Status<'_>) -> String {
    let mut out = String::new();
    for p in &status.packages {
        let release = p.last_release.map_or_else(
            || "no release yet".to_owned(),
            |t| format!("last release {}", t.name),
        );
        let versioned = if p.versioned.is_some() {
            " versioned, not yet published"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "{} {} {}{versioned} ({release})",
            p.ecosystem,
            p.name,
            p.version.unwrap_or("-")
        );
        for c in p.changes {
            let id = match c.source {
                changes::Source::Commit => c.id[..7.min(c.id.len())].to_owned(),
                changes::Source::Changeset => c.id.clone(),
            };
            let source = match c.source {
                changes::Source::Commit => "commit",
                changes::Source::Changeset => "changeset",
            };
            let _ = writeln!(
                out,
                "  {:5}  {source:9}  {id}  {}",
                c.bump.as_str(),
                c.summary
            );
        }
    }
    if !status.uncovered.is_empty() {
        let names: Vec<&str> = status.uncovered.iter().map(|p| p.name).collect();
        let _ = writeln!(
            out,
            "changed since {} without a changeset: {}",
            status.since.as_deref().unwrap_or("?"),
            names.join(", ")
        );
    }
    out
}
