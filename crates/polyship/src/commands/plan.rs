//! `polyship plan`: what a release would do — versions from and to, and why — without writing.

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;

use std::path::Path;

use anyhow::Context as _;
use polyship_core::apply::pre;
use polyship_core::changes::Changes;
use polyship_core::plan::saved::{self, SavedPlanError};
use polyship_core::plan::{Options, Plan, PreMode, Reason};

use crate::context::Context;
use crate::render::CommandError;

/// Options that change what is planned; `plan` and `version` share them.
#[derive(Debug, Clone, Default, clap::Args)]
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
    /// Release every package of the plan at this version, whatever its changes ask for; each
    /// ecosystem writes it in its own scheme (`2.0.0-beta.1` is `2.0.0b1` for Python)
    #[arg(value_name = "VERSION", conflicts_with_all = ["pre", "graduate"])]
    pub release_version: Option<String>,
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

/// A plan with everything it was made from.
pub struct Planned {
    pub discovered: super::Discovered,
    pub changes: std::mem::ManuallyDrop<Changes>,
    pub plan: Plan,
    pub selected: Option<Vec<bool>>,
    pub mode: pre::Mode,
}

/// An explicit version is new: no release tag of it exists, and no registry has it. A registry
/// that cannot answer is a warning (the release's preflight asks again).
fn unreleased(
    cx: &Context,
    discovered: &super::Discovered,
    changes: &Changes,
    plan: &polyship_core::plan::Plan,
) -> anyhow::Result<()> {
    if let Ok(repo) = polyship_core::changes::history::open(&cx.root)
        && let [tag, ..] = polyship_core::plan::existing_tags(&repo, plan, changes).as_slice()
    {
        return Err(CommandError::failed(
            format!("the tag `{tag}` already exists: that version was released before"),
            "give a version that has no release tag yet",
        )
        .into());
    }
    let releases: Vec<(usize, String)> = plan
        .releases
        .iter()
        .map(|r| (r.package, r.to.clone()))
        .collect();
    let ws = &discovered.workspace;
    for (p, found) in
        polyship_core::release::publish::on_registries(ws, &discovered.config, &cx.root, &releases)
    {
        let package = &ws.packages[p];
        let version = &releases
            .iter()
            .find(|(q, _)| *q == p)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default();
        match found {
            Ok(true) => {
                return Err(CommandError::failed(
                    format!("{} {version} is already on its registry", package.name),
                    "give a version no registry has yet",
                )
                .into());
            }
            Ok(false) => {}
            Err(e) => cx.warn(&polyship_core::Warning::new(format!(
                "could not check that {} {version} is new on its registry: {}",
                package.name,
                polyship_core::release::redact::Redactor::from_env().redact(&e.to_string())
            ))),
        }
    }
    Ok(())
}

/// The explicit version of `polyship plan|version <VERSION>`, read as SemVer or PEP 440.
fn explicit_version(text: Option<&str>) -> anyhow::Result<Option<semver::Version>> {
    let Some(text) = text else { return Ok(None) };
    match polyship_core::version::Scheme::Pep440.read(text.trim()) {
        Some(v) => Ok(Some(v)),
        None => Err(CommandError {
            message: format!("`{text}` is not a version"),
            help: Some(
                "write a full version such as `2.0.0`, or a prerelease such as `2.0.0-beta.1` (`2.0.0b1`)"
                    .into(),
            ),
            usage: true,
        }
        .into()),
    }
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
    let version = explicit_version(args.release_version.as_deref())?;
    let options = Options {
        version,
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
    if args.release_version.is_some() {
        unreleased(cx, &discovered, &changes, &plan)?;
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
        let document = saved::Document::new(&cx.root, &planned.discovered.workspace, plan);
        let mut s =
            serde_json::to_string_pretty(&document).context("failed to serialise the plan")?;
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

/// Reads a saved plan and checks the repository is where it was planned.
pub fn load(
    cx: &Context,
    ws: &polyship_core::workspace::Workspace,
    file: &Path,
) -> anyhow::Result<Plan> {
    saved::load(&cx.root, ws, file).map_err(|e| match e {
        SavedPlanError::Read(e) => anyhow::Error::new(e),
        SavedPlanError::Unparsable(source) => {
            anyhow::Error::new(source).context("the plan file cannot be read")
        }
        other => CommandError {
            message: other.to_string(),
            help: other.help().map(str::to_owned),
            usage: true,
        }
        .into(),
    })
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
