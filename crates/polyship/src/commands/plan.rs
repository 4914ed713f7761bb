//! `polyship plan`: what a release would do — versions from and to, and why — without writing.

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;

use std::path::Path;

use anyhow::Context as _;
use polyship_core::apply::pre;
use polyship_core::changes::Changes;
use polyship_core::changes::changeset::Bump;
use polyship_core::plan::{Options, Plan, PreMode, Reason};
use polyship_core::workspace::Ecosystem;
use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::render::CommandError;

/// Options that change what is planned; `plan` and `version` share them.
#[derive(Debug, Clone, clap::Args)]
pub struct PlanArgs {
    /// Only these packages: a name or glob, `./dir`, `name...` (with its dependencies),
    /// `...name` (with its dependents), `[<ref>]` (changed since ref), `!` to exclude; repeatable
    #[arg(long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Enter or continue a prerelease line with this label (`beta` gives `1.3.0-beta.0`, `-beta.1` …)
    #[arg(long, value_name = "LABEL", conflicts_with = "graduate")]
    pub pre: Option<String>,
    /// Leave the prerelease line: final versions for every package on it
    #[arg(long)]
    pub graduate: bool,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    plan: PlanArgs,
    /// Print a JSON document (`"schema": 1`) on stdout instead of a table; `polyship version
    /// --plan <file>` applies it later
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Document<'a> {
    schema: u32,
    /// HEAD when the plan was made.
    head: String,
    /// A digest of every manifest, changeset and configuration file the plan read.
    fingerprint: String,
    #[serde(flatten)]
    plan: &'a Plan,
}

#[derive(Deserialize)]
struct SavedDocument {
    schema: u32,
    head: String,
    fingerprint: String,
    releases: Vec<SavedRelease>,
}

#[derive(Deserialize)]
struct SavedRelease {
    name: String,
    ecosystem: Ecosystem,
    from: String,
    to: String,
    bump: Bump,
    #[serde(default)]
    reasons: Vec<Reason>,
    #[serde(default)]
    changes: Vec<polyship_core::changes::Change>,
}

/// A plan with everything it was made from.
pub struct Planned {
    pub discovered: super::Discovered,
    pub changes: std::mem::ManuallyDrop<Changes>,
    pub plan: Plan,
    pub selected: Option<Vec<bool>>,
    pub mode: pre::Mode,
}

/// Discovers, collects changes and plans as `args` say. Pre mode continues when the repository
/// is in it (`.changeset/pre.json`), so CI and people agree without repeating `--pre`.
pub fn make(cx: &Context, args: &PlanArgs) -> anyhow::Result<Planned> {
    super::prefetch_history(cx);
    let discovered = super::discover(cx)?;
    let (config, ws) = (&discovered.config, &discovered.workspace);
    // Never freed: the process ends soon after, and freeing every change of a long history one
    // by one costs a seventh of a run that reads it from the history cache.
    let changes = std::mem::ManuallyDrop::new(polyship_core::changes::collect(
        &cx.root,
        ws,
        config,
        cx.history_cache,
    )?);
    for w in &changes.warnings {
        cx.warn(w);
    }
    super::describe_rules(cx, ws, &changes);
    let state = changes.pre.as_ref();
    let mode = match (&args.pre, args.graduate, state) {
        (Some(label), _, _) => pre::Mode::Pre {
            label: label.clone(),
        },
        (None, true, Some(_)) => pre::Mode::Graduate,
        (None, true, None) => {
            return Err(CommandError {
                message: "`--graduate` leaves a prerelease line, but the repository is not on one"
                    .into(),
                help: Some(format!(
                    "`{}` does not exist; `--pre <label>` starts a line",
                    pre::FILE
                )),
                usage: true,
            }
            .into());
        }
        (None, false, Some(s)) if s.mode == "exit" => pre::Mode::Graduate,
        (None, false, Some(s)) => pre::Mode::Pre {
            label: s.tag.clone(),
        },
        (None, false, None) => pre::Mode::Normal,
    };
    if let pre::Mode::Pre { label } = &mode
        && (label.is_empty() || !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
    {
        return Err(CommandError {
            message: format!("`{label}` cannot be a prerelease label"),
            help: Some("use letters, digits and `-`, such as `beta` or `rc`".into()),
            usage: true,
        }
        .into());
    }
    let selected = if args.filter.is_empty() {
        None
    } else {
        let repo = polyship_core::changes::history::open(&cx.root).ok();
        let mask = polyship_core::select::select(
            repo.as_ref(),
            ws,
            &args.filter,
            config.config.commits.shared_paths,
        )
        .map_err(|e| CommandError {
            message: e.to_string(),
            help: Some("filters name packages as `polyship list` shows them".into()),
            usage: true,
        })?;
        Some(mask)
    };
    let options = Options {
        selected: selected.clone(),
        pre: match &mode {
            pre::Mode::Normal => None,
            pre::Mode::Pre { label } => Some(PreMode::Continue {
                label: label.clone(),
                released: state.map(|s| s.changesets.clone()).unwrap_or_default(),
            }),
            pre::Mode::Graduate => Some(PreMode::Graduate),
        },
    };
    let plan = polyship_core::plan::plan_with(ws, &changes, config, &options)?;
    for w in &plan.warnings {
        cx.warn(w);
    }
    Ok(Planned {
        discovered,
        changes,
        plan,
        selected,
        mode,
    })
}

pub fn run(cx: &Context, args: &Args) -> anyhow::Result<ExitCode> {
    let planned = make(cx, &args.plan)?;
    let plan = &planned.plan;
    let out = if args.json {
        let mut s = serde_json::to_string_pretty(&Document {
            schema: 1,
            head: head(&cx.root),
            fingerprint: fingerprint(&cx.root, &planned.discovered.workspace),
            plan,
        })
        .context("failed to serialise the plan")?;
        s.push('\n');
        s
    } else {
        table(plan)
    };
    std::io::stdout()
        .lock()
        .write_all(out.as_bytes())
        .context("failed to write to stdout")?;
    if plan.releases.is_empty() && !args.json {
        cx.note("nothing to release");
    }
    Ok(ExitCode::SUCCESS)
}

/// HEAD's commit id, empty outside git or before the first commit.
fn head(root: &Path) -> String {
    let redactor = polyship_core::release::redact::Redactor::from_env();
    polyship_core::release::git::head(root, &redactor).unwrap_or_default()
}

/// FNV-1a over the files a plan depends on: the configuration, every manifest and every file in
/// `.changeset/`, in path order. Stable across builds and machines.
fn fingerprint(root: &Path, ws: &polyship_core::workspace::Workspace) -> String {
    let mut files: std::collections::BTreeSet<String> = ws
        .packages
        .iter()
        .map(|p| p.manifest.clone())
        .chain(ws.packages.iter().flat_map(|p| {
            p.dependencies
                .iter()
                .map(|d| d.location.file.clone())
                .collect::<Vec<_>>()
        }))
        .collect();
    files.insert(polyship_core::config::FILE_NAME.to_owned());
    if let Ok(entries) = std::fs::read_dir(root.join(".changeset")) {
        for e in entries.flatten() {
            files.insert(format!(".changeset/{}", e.file_name().to_string_lossy()));
        }
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for f in &files {
        feed(f.as_bytes());
        feed(&[0]);
        feed(&std::fs::read(root.join(f)).unwrap_or_default());
        feed(&[0]);
    }
    format!("{hash:016x}")
}

/// Reads a saved plan and checks the repository is where it was planned.
pub fn load(
    cx: &Context,
    ws: &polyship_core::workspace::Workspace,
    file: &Path,
) -> anyhow::Result<Plan> {
    let text = fs_err::read_to_string(file)?;
    let shown = file.display().to_string();
    let doc: SavedDocument = serde_json::from_str(&text)
        .map_err(|e| {
            polyship_core::SourceError::new(&shown, e.to_string())
                .at_position(Some(polyship_core::diagnostic::Position::line_col(
                    &text,
                    e.line(),
                    e.column(),
                )))
                .help("save a plan with `polyship plan --json > plan.json`")
        })
        .context("the plan file cannot be read")?;
    let replan = "re-plan with `polyship plan --json > plan.json`, then apply that";
    if doc.schema != 1 {
        return Err(CommandError {
            message: format!(
                "`{shown}` has schema {}; this polyship reads schema 1",
                doc.schema
            ),
            help: Some(replan.into()),
            usage: true,
        }
        .into());
    }
    let now = head(&cx.root);
    if doc.head != now {
        return Err(CommandError {
            message: format!(
                "`{shown}` was planned at commit {}, but HEAD is now {}",
                short(&doc.head),
                short(&now)
            ),
            help: Some(replan.into()),
            usage: true,
        }
        .into());
    }
    if doc.fingerprint != fingerprint(&cx.root, ws) {
        return Err(CommandError {
            message: format!("manifests or changesets changed since `{shown}` was planned"),
            help: Some(replan.into()),
            usage: true,
        }
        .into());
    }
    let mut releases = Vec::new();
    for r in doc.releases {
        let Some(p) = ws.find(r.ecosystem, &r.name) else {
            return Err(CommandError {
                message: format!(
                    "`{shown}` releases `{}:{}`, which the repository does not have",
                    r.ecosystem, r.name
                ),
                help: Some(replan.into()),
                usage: true,
            }
            .into());
        };
        if ws.packages[p].version.as_deref().unwrap_or_default() != r.from {
            return Err(CommandError {
                message: format!(
                    "`{shown}` releases `{}` from {}, but it is at {}",
                    r.name,
                    r.from,
                    ws.packages[p].version.as_deref().unwrap_or("no version")
                ),
                help: Some(replan.into()),
                usage: true,
            }
            .into());
        }
        let valid = r.ecosystem.adapter().scheme().read_own(&r.to).is_some();
        if !valid {
            return Err(CommandError {
                message: format!(
                    "`{shown}` gives `{}` the version `{}`, which is not valid",
                    r.name, r.to
                ),
                help: Some(replan.into()),
                usage: true,
            }
            .into());
        }
        releases.push(polyship_core::plan::Release {
            package: p,
            name: r.name,
            ecosystem: r.ecosystem,
            from: r.from,
            to: r.to,
            bump: r.bump,
            reasons: r.reasons,
            changes: r.changes,
        });
    }
    Ok(Plan {
        releases,
        warnings: Vec::new(),
    })
}

fn short(id: &str) -> &str {
    if id.is_empty() {
        "(none)"
    } else {
        &id[..id.len().min(10)]
    }
}

fn reason(r: &Reason) -> String {
    match r {
        Reason::Changes => "its changes".to_owned(),
        Reason::Dependency {
            name,
            version,
            requirement,
            ..
        } => match requirement {
            Some(req) => format!("{name} {version} (requires {req})"),
            None => format!("{name} {version}"),
        },
        Reason::Group { group, group_kind } => format!(
            "{} group {group}",
            match group_kind {
                polyship_core::config::GroupKind::Fixed => "fixed",
                polyship_core::config::GroupKind::Linked => "linked",
                polyship_core::config::GroupKind::Locked => "locked",
            }
        ),
        Reason::SameSource { name, ecosystem } => format!("same source as {ecosystem}:{name}"),
        Reason::Graduates => "leaves its prerelease".to_owned(),
        Reason::Changed => "its files changed".to_owned(),
    }
}

pub fn table(plan: &Plan) -> String {
    let rows: Vec<[String; 5]> = plan
        .releases
        .iter()
        .map(|r| {
            [
                r.ecosystem.to_string(),
                r.name.clone(),
                format!("{} → {}", r.from, r.to),
                r.bump.as_str().to_owned(),
                r.reasons.iter().map(reason).collect::<Vec<_>>().join("; "),
            ]
        })
        .collect();
    let width = |i: usize| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0);
    let (w0, w1, w2, w3) = (width(0), width(1), width(2), width(3));
    let mut out = String::new();
    for r in &rows {
        let line = format!(
            "{:w0$}  {:w1$}  {:w2$}  {:w3$}  {}",
            r[0], r[1], r[2], r[3], r[4]
        );
        let _ = writeln!(out, "{}", crate::render::safe(line.trim_end()));
    }
    out
}
