//! `polyship run <pipeline>`: a release pipeline of `polyship.toml` — its steps in parallel as
//! their `needs` allow, built-ins included — journaled so that running it again after a failure
//! finishes it.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Context as _;
use indicatif::{MultiProgress, ProgressBar};
use polyship_core::pipeline::journal::{self, Run, RunStatus, StepRecord, StepState};
use polyship_core::pipeline::runner::{self, Event, Options, RunError};
use polyship_core::pipeline::{self, Action, Builtin, Pipeline, ResolveError, fanout};
use polyship_core::release::redact::Redactor;

use crate::context::Context;
use crate::render::{self, CommandError};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The pipeline: a `[pipeline.<name>]` of polyship.toml
    #[arg(value_name = "PIPELINE", required_unless_present = "list")]
    pipeline: Option<String>,
    /// List the pipelines of polyship.toml
    #[arg(long, conflicts_with_all = ["dry_run", "status"])]
    list: bool,
    /// Print every step in order — command, container, matrix cell, environment names, and the
    /// built-ins' own dry runs — and run nothing
    #[arg(long)]
    dry_run: bool,
    /// Print the last run of the pipeline, from its journal, and do nothing else
    #[arg(long, conflicts_with = "dry_run")]
    status: bool,
    /// How many steps run at once [default: the number of cores]
    #[arg(long, short = 'j', value_name = "N", value_parser = super::parse_jobs)]
    jobs: Option<usize>,
    /// After a failure, go on with every step whose needs succeeded
    #[arg(long)]
    keep_going: bool,
    /// Leave out this step or group, counting it as done for its dependents (repeatable)
    #[arg(long, value_name = "STEP|GROUP")]
    skip: Vec<String>,
    /// Run only these steps or groups and what they need (repeatable)
    #[arg(long, value_name = "STEP|GROUP")]
    only: Vec<String>,
    /// Run this step again even if the unfinished last run already did (repeatable)
    #[arg(long, value_name = "STEP|GROUP")]
    rerun: Vec<String>,
    /// Run this step and everything after it again, even if the last run already did
    #[arg(long, value_name = "STEP|GROUP")]
    from: Option<String>,
    /// The version the `version` steps release at (those without `with.version`), and
    /// `{{ version }}` in templates
    #[arg(long, value_name = "VERSION")]
    version: Option<String>,
    /// Print the result as a JSON document (`"schema": 1`) on stdout instead of a table
    #[arg(long)]
    json: bool,
    /// Say what a CI run of this push does — whether it releases, and the targets its runners
    /// run — and run nothing (`--json` for the workflow's plan job)
    #[arg(long, conflicts_with_all = ["list", "dry_run", "status", "target", "from_artifacts"])]
    plan: bool,
    /// Run only the matrix cells of this target, as one CI runner does; the steps they need are
    /// left to the job that finishes the pipeline
    #[arg(long, value_name = "TARGET", conflicts_with_all = ["only", "from_artifacts", "status", "list"])]
    target: Option<String>,
    /// With `--target`: write what the cells made, and a manifest, into `DIR/<target>/` for the
    /// CI to carry to the finishing job
    #[arg(long, value_name = "DIR", requires = "target")]
    to_artifacts: Option<std::path::PathBuf>,
    /// Finish the pipeline with the cells other runners ran: their `--to-artifacts` directories,
    /// downloaded into DIR
    #[arg(long, value_name = "DIR", conflicts_with_all = ["status", "list"])]
    from_artifacts: Option<std::path::PathBuf>,
}

pub fn run(cx: &Context, args: &Args) -> anyhow::Result<ExitCode> {
    let Some(git_dir) = polyship_core::transaction::git_dir(&cx.root).filter(|_| cx.in_git) else {
        return Err(CommandError {
            message: "`polyship run` needs a git repository".into(),
            help: Some("run it inside the repository, or pass `-C <dir>`".into()),
            usage: true,
        }
        .into());
    };
    let loaded = polyship_core::config::load(&cx.root)?;
    if args.list {
        return list(&loaded, args.json);
    }
    let name = args.pipeline.as_deref().unwrap_or_default();
    if args.status {
        return status(cx, &git_dir, name, args.json);
    }
    let inputs = pipeline::Inputs {
        env: std::env::vars().collect(),
        commit: runner::head(&cx.root, &git_dir),
        version: args
            .version
            .clone()
            .or_else(|| shared_version(cx, &loaded, name)),
    };
    let mut pipeline = resolve(&loaded, name, &inputs, args.version.as_deref())?;
    if args.plan {
        return ci_plan(cx, &loaded, &pipeline, &inputs.commit, args.json);
    }
    let mut redactor = Redactor::from_env();
    for secret in &pipeline.secrets {
        if let Ok(value) = std::env::var(secret) {
            redactor.add(&value);
        }
    }
    if args.target.is_some() {
        // A runner builds; the job that finishes the pipeline holds the secrets.
        pipeline.secrets.clear();
    }
    let mut options = options(cx, args, &pipeline, git_dir, redactor)?;
    let snapshot = fanout_options(cx, args, &pipeline, &inputs.commit, &mut options)?;
    if args.dry_run && args.json {
        return dry_run_json(&pipeline, &options);
    }
    if args.dry_run {
        return dry_run(cx, &pipeline, &options);
    }
    let stop = Arc::clone(&options.stop);
    // The first Ctrl-C stops the steps and records where the run stands; a second exits at once.
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&stop))
            .context("failed to install the interrupt handler")?;
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .context("failed to install the interrupt handler")?;
    }
    let mut progress = Progress::new(cx);
    let result = runner::run(&pipeline, &options, &mut |event| progress.event(event));
    progress.clear();
    let run = match result {
        Ok(run) => run,
        Err(RunError::Preflight(problems)) => {
            render::problems(
                cx.color,
                &format!("pipeline `{}`: ", pipeline.name),
                &problems,
                "no step ran",
            );
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => return Err(e.into()),
    };
    export_cells(cx, args, &pipeline, &options, &run, &snapshot)?;
    print_run(&options.git_dir, &run, args.json)?;
    Ok(match run.status {
        RunStatus::Succeeded => ExitCode::SUCCESS,
        RunStatus::Interrupted => {
            cx.note(&format!(
                "interrupted: run `polyship run {}` again to finish",
                pipeline.name
            ));
            ExitCode::from(130)
        }
        RunStatus::Failed | RunStatus::Running => {
            cx.note(&format!(
                "logs are in {}; run `polyship run {}` again to finish: steps that succeeded are not run again",
                run.dir(&options.git_dir).display(),
                pipeline.name
            ));
            ExitCode::FAILURE
        }
    })
}

/// The pipeline, with `--version` given to its `version` steps that have none of their own.
pub(crate) fn resolve(
    loaded: &polyship_core::config::LoadedConfig,
    name: &str,
    inputs: &pipeline::Inputs,
    version: Option<&str>,
) -> anyhow::Result<Pipeline> {
    let mut pipeline = pipeline::resolve(loaded, name, inputs).map_err(|e| match &e {
        ResolveError::Unknown { .. } => anyhow::Error::from(CommandError {
            message: e.to_string(),
            help: e.help(),
            usage: true,
        }),
        ResolveError::Invalid { .. } => e.into(),
    })?;
    if let Some(version) = version {
        for step in &mut pipeline.steps {
            if let Action::Builtin(Builtin::Version(args)) = &mut step.action
                && !args.iter().any(|a| a == "--")
            {
                args.extend(["--".to_owned(), version.to_owned()]);
            }
        }
    }
    Ok(pipeline)
}

fn checkout<'a>(
    cx: &'a Context,
    pipeline: &'a Pipeline,
    options: &'a Options,
) -> fanout::Checkout<'a> {
    fanout::Checkout {
        root: &cx.root,
        git_dir: &options.git_dir,
        pipeline,
        redactor: &options.redactor,
    }
}

/// `--to-artifacts`: what this runner's cells made, for the job that finishes the pipeline.
fn export_cells(
    cx: &Context,
    args: &Args,
    pipeline: &Pipeline,
    options: &Options,
    run: &Run,
    snapshot: &fanout::Snapshot,
) -> anyhow::Result<()> {
    if let (Some(target), Some(dir)) = (&args.target, &args.to_artifacts) {
        let dir = absolute(dir)?;
        let at = checkout(cx, pipeline, options);
        let exported =
            fanout::export(&at, target, run, snapshot, &dir).map_err(|e| fanout_error(&e))?;
        cx.status(
            "Exported",
            &format!(
                "{} file{} of target `{target}` to {}",
                exported.files,
                if exported.files == 1 { "" } else { "s" },
                exported.manifest.display()
            ),
        );
    }
    Ok(())
}

/// `--target` and `--from-artifacts`: which steps run here, which ran on other runners. Returns
/// the artifact store as it was, for `--to-artifacts` to tell what the run wrote.
fn fanout_options(
    cx: &Context,
    args: &Args,
    pipeline: &Pipeline,
    head: &str,
    options: &mut Options,
) -> anyhow::Result<fanout::Snapshot> {
    if let Some(target) = &args.target {
        let (selected, skip) =
            fanout::select_target(pipeline, target).map_err(|e| usage(&e, e.help()))?;
        options.selected = selected;
        for (i, s) in skip.into_iter().enumerate() {
            options.skip[i] |= s;
        }
    }
    if let Some(dir) = &args.from_artifacts {
        let dir = absolute(dir)?;
        let at = checkout(cx, pipeline, options);
        let imported = fanout::import(&at, &dir, head).map_err(|e| fanout_error(&e))?;
        cx.status(
            "Imported",
            &format!(
                "{} file{} from {}",
                imported.files,
                if imported.files == 1 { "" } else { "s" },
                if imported.targets.is_empty() {
                    "no runner".to_owned()
                } else {
                    format!("the runners of {}", quoted(&imported.targets))
                }
            ),
        );
        options.elsewhere = imported.elsewhere;
    }
    Ok(if args.to_artifacts.is_some() {
        fanout::snapshot(&options.git_dir)
    } else {
        fanout::Snapshot::default()
    })
}

fn absolute(dir: &std::path::Path) -> anyhow::Result<std::path::PathBuf> {
    std::path::absolute(dir).with_context(|| format!("failed to resolve `{}`", dir.display()))
}

fn usage(e: &dyn std::fmt::Display, help: Option<String>) -> anyhow::Error {
    CommandError {
        message: e.to_string(),
        help,
        usage: true,
    }
    .into()
}

/// A fan-out error: bad configuration exits 2, anything found in the artifacts 1.
fn fanout_error(e: &fanout::FanoutError) -> anyhow::Error {
    let help = e.help();
    let bad_config = matches!(
        e,
        fanout::FanoutError::CrossTarget { .. } | fanout::FanoutError::NoTarget { .. }
    );
    let message = polyship_core::diagnostic::chain(e);
    CommandError {
        message,
        help,
        usage: bad_config,
    }
    .into()
}

/// `--plan`: whether a CI run of this push releases, and its matrix.
fn ci_plan(
    cx: &Context,
    loaded: &polyship_core::config::LoadedConfig,
    pipeline: &Pipeline,
    commit: &str,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let plan =
        polyship_core::ci::plan(&cx.root, pipeline, commit, &loaded.config.ci.github.runners)
            .map_err(|e| fanout_error(&e))?;
    let unmapped: Vec<String> = plan
        .matrix
        .iter()
        .filter(|m| m.runs_on.is_none())
        .map(|m| m.target.clone())
        .collect();
    if !unmapped.is_empty() {
        cx.note(&format!(
            "no GitHub runner is mapped for {}: set it in `[ci.github.runners]`",
            quoted(&unmapped)
        ));
    }
    let mut out = String::new();
    if json {
        out = serde_json::to_string_pretty(&plan)?;
        out.push('\n');
    } else {
        let _ = writeln!(
            out,
            "{}: {}",
            if plan.run {
                "releases"
            } else {
                "does not release"
            },
            plan.reason
        );
        for m in &plan.matrix {
            let _ = writeln!(
                out,
                "  {}  {}  {}",
                m.target,
                m.runs_on.as_deref().unwrap_or("(no runner)"),
                m.cells.join(", ")
            );
        }
    }
    std::io::stdout()
        .lock()
        .write_all(out.as_bytes())
        .context("failed to write to stdout")?;
    Ok(ExitCode::SUCCESS)
}

/// `{{ version }}`: the one version every release of the plan goes to, planned only when the
/// pipeline's templates ask for it.
pub(crate) fn shared_version(
    cx: &Context,
    loaded: &polyship_core::config::LoadedConfig,
    name: &str,
) -> Option<String> {
    let wants = loaded.text.contains("version }}") || loaded.text.contains("version}}");
    if !wants || !loaded.config.pipelines.contains_key(name) {
        return None;
    }
    let planned = super::plan::make(cx, &super::plan::PlanArgs::default()).ok()?;
    let mut versions = planned.plan.releases.iter().map(|r| r.to.as_str());
    let first = versions.next()?;
    versions.all(|v| v == first).then(|| first.to_owned())
}

/// The run's options: jobs, and what `--skip`, `--only`, `--rerun` and `--from` select.
fn options(
    cx: &Context,
    args: &Args,
    pipeline: &Pipeline,
    git_dir: std::path::PathBuf,
    redactor: Redactor,
) -> anyhow::Result<Options> {
    let pick = |names: &[String], flag: &str| -> anyhow::Result<Vec<usize>> {
        let mut picked = Vec::new();
        for name in names {
            let Some(found) = pipeline.select(name) else {
                return Err(CommandError {
                    message: format!(
                        "`{flag} {name}`: pipeline `{}` has no step or group `{name}`",
                        pipeline.name
                    ),
                    help: Some(format!(
                        "its steps and groups are {}",
                        quoted(&pipeline.selectable())
                    )),
                    usage: true,
                }
                .into());
            };
            picked.extend(found);
        }
        Ok(picked)
    };
    let n = pipeline.steps.len();
    let mut skip = vec![false; n];
    for i in pick(&args.skip, "--skip")? {
        skip[i] = true;
    }
    let selected = if args.only.is_empty() {
        vec![true; n]
    } else {
        pipeline.needs_of(&pick(&args.only, "--only")?)
    };
    let mut force = vec![false; n];
    for i in pick(&args.rerun, "--rerun")? {
        force[i] = true;
    }
    if let Some(from) = &args.from {
        for (i, marked) in pipeline
            .dependents_of(&pick(std::slice::from_ref(from), "--from")?)
            .into_iter()
            .enumerate()
        {
            force[i] |= marked;
        }
    }
    Ok(Options {
        root: cx.root.clone(),
        git_dir,
        polyship: std::env::current_exe().context("failed to find the polyship binary")?,
        jobs: args.jobs.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
        }),
        keep_going: args.keep_going,
        elsewhere: vec![None; n],
        skip,
        selected,
        force,
        stop: Arc::new(AtomicBool::new(false)),
        grace: grace(),
        redactor,
    })
}

/// Between SIGTERM and SIGKILL: `POLYSHIP_KILL_GRACE` seconds, default 10.
fn grace() -> Duration {
    let secs = std::env::var("POLYSHIP_KILL_GRACE")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0);
    Duration::from_secs_f64(secs.unwrap_or(10.0))
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `--list`.
fn list(loaded: &polyship_core::config::LoadedConfig, json: bool) -> anyhow::Result<ExitCode> {
    let pipelines = &loaded.config.pipelines;
    let mut out = String::new();
    if json {
        let list: Vec<serde_json::Value> = pipelines
            .iter()
            .map(|(name, p)| serde_json::json!({ "name": name, "description": p.get_ref().description, "steps": p.get_ref().steps.len() }))
            .collect();
        out = serde_json::to_string_pretty(&serde_json::json!({ "schema": 1, "pipelines": list }))?;
        out.push('\n');
    } else if pipelines.is_empty() {
        out.push_str("No pipelines: declare one as `[pipeline.release]` in polyship.toml (see docs/pipeline.md).\n");
    } else {
        let width = pipelines.keys().map(String::len).max().unwrap_or(0);
        for (name, p) in pipelines {
            let p = p.get_ref();
            let steps = format!(
                "{} step{}",
                p.steps.len(),
                if p.steps.len() == 1 { "" } else { "s" }
            );
            let _ = writeln!(
                out,
                "{name:<width$}  {steps:<9}  {}",
                render::safe(p.description.as_deref().unwrap_or("")).trim_end()
            );
        }
    }
    std::io::stdout()
        .lock()
        .write_all(out.as_bytes())
        .context("failed to write to stdout")?;
    Ok(ExitCode::SUCCESS)
}

/// `--status`: the last run's record.
fn status(
    cx: &Context,
    git_dir: &std::path::Path,
    name: &str,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let Some(run) = journal::last(git_dir, name)? else {
        cx.note(&format!("pipeline `{name}` has not run in this repository"));
        return Ok(ExitCode::SUCCESS);
    };
    if !json {
        cx.status(
            "Last run",
            &format!(
                "{} ({}), from {}",
                run.id,
                run.status.as_str(),
                short(&run.commit)
            ),
        );
    }
    print_run(git_dir, &run, json)?;
    Ok(ExitCode::SUCCESS)
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(12)]
}

/// The final table on stdout (or the JSON document).
fn print_run(git_dir: &std::path::Path, run: &Run, json: bool) -> anyhow::Result<()> {
    let mut out = String::new();
    if json {
        let mut doc = serde_json::to_value(run)?;
        doc["logs"] = serde_json::Value::String(journal::runs_dir(git_dir).display().to_string());
        out = serde_json::to_string_pretty(&doc)?;
        out.push('\n');
    } else {
        let width = run
            .steps
            .iter()
            .map(|s| s.name.chars().count())
            .max()
            .unwrap_or(4)
            .max(4);
        let _ = writeln!(
            out,
            "{:<width$}  {:<11}  {:>8}  NOTE",
            "STEP", "STATE", "TIME"
        );
        for s in &run.steps {
            let _ = writeln!(
                out,
                "{:<width$}  {:<11}  {:>8}  {}",
                render::safe(&s.name),
                s.state.as_str(),
                elapsed(s.elapsed_ms),
                render::safe(s.message.as_deref().unwrap_or(""))
            );
        }
    }
    std::io::stdout()
        .lock()
        .write_all(out.as_bytes())
        .context("failed to write to stdout")
}

fn elapsed(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else {
        format!("{:.1}s", Duration::from_millis(ms).as_secs_f64())
    }
}

/// `--dry-run`: every step in order, the built-ins' own dry runs, and what preflight would find.
fn dry_run(cx: &Context, pipeline: &Pipeline, options: &Options) -> anyhow::Result<ExitCode> {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Pipeline `{}`{}: {} step{}",
        pipeline.name,
        pipeline
            .description
            .as_deref()
            .map(|d| format!(" ({})", d.trim()))
            .unwrap_or_default(),
        pipeline.steps.len(),
        if pipeline.steps.len() == 1 { "" } else { "s" }
    );
    if !pipeline.secrets.is_empty() {
        let _ = writeln!(out, "secrets: {}", pipeline.secrets.join(", "));
    }
    let mut failed = false;
    for (n, &i) in pipeline.order.iter().enumerate() {
        failed |= !describe_step(&mut out, pipeline, options, n, i);
    }
    std::io::stdout()
        .lock()
        .write_all(out.as_bytes())
        .context("failed to write to stdout")?;
    let problems = runner::preflight(pipeline, options, false);
    if !problems.is_empty() {
        render::problems(
            cx.color,
            &format!("pipeline `{}`: ", pipeline.name),
            &problems,
            "a run would stop before its first step",
        );
        return Ok(ExitCode::FAILURE);
    }
    if failed {
        cx.note("dry run: a built-in's own dry run failed (above); nothing was run");
        return Ok(ExitCode::FAILURE);
    }
    cx.note("dry run: nothing was run");
    Ok(ExitCode::SUCCESS)
}

/// `--dry-run --json`: the resolved steps in order and what preflight finds, as a document;
/// values of the environment are left out, as in the text form.
fn dry_run_json(pipeline: &Pipeline, options: &Options) -> anyhow::Result<ExitCode> {
    let redact = |s: &str| options.redactor.redact(s);
    let steps: Vec<serde_json::Value> = pipeline
        .order
        .iter()
        .map(|&i| {
            let step = &pipeline.steps[i];
            let (run, shell, uses) = match &step.action {
                Action::Run { command, shell } => {
                    (Some(redact(command)), Some(shell.join(" ")), None)
                }
                Action::Builtin(b) => (None, None, Some(redact(&b.describe()))),
            };
            serde_json::json!({
                "name": step.name,
                "step": step.declared,
                "group": step.group,
                "needs": step.needs.iter().map(|&n| &pipeline.steps[n].name).collect::<Vec<_>>(),
                "run": run,
                "uses": uses,
                "shell": shell,
                "working_directory": step.dir.strip_prefix(&options.root).unwrap_or(&step.dir),
                "container": step.container.as_ref().map(|c| serde_json::json!({ "image": c.image, "engine": c.engine })),
                "env": step.env.iter().map(|(k, _)| k).collect::<Vec<_>>(),
                "outputs": step.outputs,
                "timeout_secs": step.timeout.map(|t| t.as_secs()),
                "retries": step.retries,
                "partial": step.partial,
                "skipped": !options.runs(i),
            })
        })
        .collect();
    let problems = runner::preflight(pipeline, options, false);
    let doc = serde_json::json!({
        "schema": 1,
        "pipeline": pipeline.name,
        "description": pipeline.description,
        "secrets": pipeline.secrets,
        "steps": steps,
        "problems": problems.iter().map(|p| serde_json::json!({ "message": p.message, "help": p.help })).collect::<Vec<_>>(),
    });
    let mut out = serde_json::to_string_pretty(&doc)?;
    out.push('\n');
    std::io::stdout()
        .lock()
        .write_all(out.as_bytes())
        .context("failed to write to stdout")?;
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// One step of the dry run, and its built-in's own dry run; `false` when that failed.
fn describe_step(
    out: &mut String,
    pipeline: &Pipeline,
    options: &Options,
    n: usize,
    i: usize,
) -> bool {
    let redact = |s: &str| options.redactor.redact(s);
    let step = &pipeline.steps[i];
    let mut heading = format!("{:>3}. {}", n + 1, step.name);
    if let Some(group) = &step.group {
        let _ = write!(heading, "  [{group}]");
    }
    if !options.runs(i) {
        heading.push_str("  (skipped)");
    }
    let _ = writeln!(out, "{}", render::safe(&heading));
    if !step.needs.is_empty() {
        let needs: Vec<&str> = step
            .needs
            .iter()
            .map(|&n| pipeline.steps[n].name.as_str())
            .collect();
        let _ = writeln!(out, "       needs: {}", render::safe(&needs.join(", ")));
    }
    match &step.action {
        Action::Run { shell, command } => {
            let _ = writeln!(out, "       run: {}", render::safe(&redact(command)));
            if shell.as_slice() != ["sh", "-c"] {
                let _ = writeln!(out, "       shell: {}", shell.join(" "));
            }
        }
        Action::Builtin(b) => {
            let _ = writeln!(out, "       uses: {}", render::safe(&redact(&b.describe())));
        }
    }
    if step.dir != options.root {
        let _ = writeln!(
            out,
            "       working directory: {}",
            step.dir
                .strip_prefix(&options.root)
                .unwrap_or(&step.dir)
                .display()
        );
    }
    if let Some(c) = &step.container {
        let _ = writeln!(
            out,
            "       container: {} ({:?})",
            render::safe(&c.image),
            c.engine
        );
    }
    if !step.env.is_empty() {
        let names: Vec<&str> = step.env.iter().map(|(k, _)| k.as_str()).collect();
        let _ = writeln!(out, "       env: {}", names.join(", "));
    }
    if !step.outputs.is_empty() {
        let _ = writeln!(
            out,
            "       outputs: {}",
            render::safe(&step.outputs.join(", "))
        );
    }
    if step.partial {
        out.push_str("       partial: what needs it runs on the cells that succeed\n");
    }
    if let Some(timeout) = step.timeout {
        let _ = writeln!(
            out,
            "       timeout: {} s, retries: {}",
            timeout.as_secs(),
            step.retries
        );
    }
    if options.runs(i)
        && let Action::Builtin(b) = &step.action
    {
        return builtin_dry_run(out, b, options);
    }
    true
}

/// A built-in's own dry run (`polyship version --dry-run`, `polyship publish --dry-run`),
/// indented under its step. `false` when it failed.
fn builtin_dry_run(out: &mut String, builtin: &Builtin, options: &Options) -> bool {
    let args = match builtin {
        Builtin::Version(args) | Builtin::Publish(args) => args,
        Builtin::Verify(_) => {
            out.push_str("       | checks that `polyship publish --dry-run` finds nothing left to publish, tag or push\n");
            return true;
        }
        Builtin::CheckClean => {
            out.push_str("       | checks that `git status` lists no change\n");
            return true;
        }
        Builtin::Build { builder: None, .. } => {
            out.push_str(
                "       | builds with its own command; what that command needs is not checked here\n",
            );
            return true;
        }
        Builtin::Build { .. } => {
            // Its own preflight: the builder, the target's standard library and linker.
            out.push_str(
                "       | builds with `polyship artifacts build`; checked here with `--check`\n",
            );
            return check_build(out, builtin, options);
        }
        Builtin::Artifacts(args) => {
            let _ = writeln!(
                out,
                "       | {}",
                match args.get(1).map(String::as_str) {
                    Some("upload") =>
                        "attaches the archives and checksums to the package's forge release; nothing is sent in a dry run",
                    Some("image") if args.iter().any(|a| a == "--dockerfile") =>
                        "builds the Dockerfile for each Linux build, and pushes the images and their index; nothing is built or sent in a dry run",
                    Some("wheel") => {
                        "builds the maturin project's wheel for this target into the artifact store; `publish` uploads it"
                    }
                    Some("image") =>
                        "assembles an OCI image of this commit's Linux builds, and pushes it with its index; nothing is sent in a dry run",
                    _ =>
                        "archives this commit's builds with README and licence files, and writes SHA256SUMS",
                }
            );
            return true;
        }
        Builtin::Notify(n) => {
            let _ = writeln!(
                out,
                "       | posts to a {} webhook after the other steps; nothing is sent in a dry run",
                n.kind.as_str()
            );
            return true;
        }
    };
    let mut command = vec![
        "-C".to_owned(),
        options.root.display().to_string(),
        args[0].clone(),
        "--dry-run".to_owned(),
    ];
    // The dry run of a publish step is the whole release's: `--until` stops a real one.
    let mut rest = args[1..].iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--dry-run" => {}
            "--until" => {
                rest.next();
            }
            _ => command.push(arg.clone()),
        }
    }
    run_indented(out, &command, options)
}

/// A `build` step's preflight, without building: `polyship artifacts build --check`.
fn check_build(out: &mut String, builtin: &Builtin, options: &Options) -> bool {
    let mut command = vec!["-C".to_owned(), options.root.display().to_string()];
    command.extend(builtin.polyship_args().unwrap_or_default().iter().cloned());
    command.push("--check".to_owned());
    run_indented(out, &command, options)
}

/// Runs polyship with `command`, its output indented under the step.
fn run_indented(out: &mut String, command: &[String], options: &Options) -> bool {
    let result = std::process::Command::new(&options.polyship)
        .args(command)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output();
    match result {
        Err(e) => {
            let _ = writeln!(out, "       | could not run polyship: {e}");
            false
        }
        Ok(o) => {
            let text = options.redactor.redact(&format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ));
            for line in text.lines() {
                let _ = writeln!(out, "       | {}", render::safe(line));
            }
            if !o.status.success() {
                let _ = writeln!(
                    out,
                    "       | (exited with code {})",
                    o.status.code().unwrap_or(-1)
                );
            }
            o.status.success()
        }
    }
}

/// Progress on stderr: a line as each step starts and ends; on a terminal a spinner per running
/// step with its last output line, elsewhere (CI logs, pipes) every output line prefixed with its
/// step's name.
struct Progress<'a> {
    cx: &'a Context,
    multi: Option<MultiProgress>,
    bars: HashMap<String, ProgressBar>,
}

impl<'a> Progress<'a> {
    fn new(cx: &'a Context) -> Self {
        let live = !cx.quiet && std::io::stderr().is_terminal();
        Self {
            cx,
            multi: live.then(MultiProgress::new),
            bars: HashMap::new(),
        }
    }

    fn line(&self, text: &str) {
        match &self.multi {
            Some(multi) => {
                let _ = multi.println(text);
            }
            None => {
                let _ = writeln!(std::io::stderr(), "{text}");
            }
        }
    }

    fn event(&mut self, event: Event<'_>) {
        if self.cx.quiet {
            return;
        }
        match event {
            Event::Resuming { run } => self.cx.note(&format!(
                "resuming run {run}: steps that succeeded there are not run again"
            )),
            Event::Stopping => self.line(&self.cx.status_line(
                "Stopping",
                "running steps (SIGTERM, then SIGKILL after the grace period)",
            )),
            Event::Started { step, attempt } => {
                let what = if attempt > 1 {
                    format!("{} (attempt {attempt})", step.name)
                } else {
                    step.name.clone()
                };
                self.line(&self.cx.status_line("Running", &what));
                if let Some(multi) = &self.multi {
                    let bar = render::spinner(multi);
                    bar.set_message(render::safe(&step.name).into_owned());
                    if let Some(old) = self.bars.insert(step.name.clone(), bar) {
                        old.finish_and_clear();
                    }
                }
            }
            Event::Output { step, line } => match self.bars.get(&step.name) {
                Some(bar) => {
                    let clipped: String = line.chars().take(100).collect();
                    bar.set_message(format!(
                        "{}: {}",
                        render::safe(&step.name),
                        render::safe(&clipped)
                    ));
                    if self.cx.verbose > 0 {
                        self.line(&format!(
                            "[{}] {}",
                            render::safe(&step.name),
                            render::safe(line)
                        ));
                    }
                }
                None => self.line(&format!(
                    "[{}] {}",
                    render::safe(&step.name),
                    render::safe(line)
                )),
            },
            Event::Ended { step, record } => {
                if let Some(bar) = self.bars.remove(&step.name) {
                    bar.finish_and_clear();
                }
                self.line(&self.cx.status_line(verb(record), &ended(step, record)));
            }
        }
    }

    fn clear(&mut self) {
        for (_, bar) in self.bars.drain() {
            bar.finish_and_clear();
        }
    }
}

fn verb(record: &StepRecord) -> &'static str {
    match record.state {
        StepState::Succeeded => "Finished",
        StepState::Reused => "Reused",
        StepState::Failed => "Failed",
        StepState::Skipped => "Skipped",
        StepState::Imported => "Imported",
        StepState::Blocked => "Blocked",
        StepState::NotRun => "Not run",
        StepState::Interrupted => "Interrupted",
        StepState::Pending | StepState::Running => "Running",
    }
}

fn ended(step: &pipeline::Step, record: &StepRecord) -> String {
    let mut text = step.name.clone();
    if matches!(
        record.state,
        StepState::Succeeded | StepState::Failed | StepState::Interrupted
    ) {
        let _ = write!(text, " in {}", elapsed(record.elapsed_ms));
    }
    if let Some(message) = &record.message {
        let _ = write!(text, ": {message}");
    }
    text
}
