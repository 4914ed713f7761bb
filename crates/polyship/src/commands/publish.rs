//! `polyship publish`: publish what is unreleased, tag, push and make forge releases; `--status`
//! shows where the last release stands.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

use anyhow::Context as _;
use indicatif::{MultiProgress, ProgressBar};
use polyship_core::release::journal;
use polyship_core::release::publish::{self, Event, Options, PublishError, Report, State};
use polyship_core::release::redact::Redactor;

use crate::context::Context;
use crate::render::{self, CommandError};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run preflight and every registry read, then list what would be published, tagged and
    /// released: no uploads, no tags, no pushes, no files written
    #[arg(long)]
    dry_run: bool,
    /// Publish and tag, but push neither the release commit nor the tags (and make no forge releases)
    #[arg(long)]
    no_push: bool,
    /// Only these packages (the `plan --filter` syntax; repeatable)
    #[arg(long, value_name = "FILTER")]
    filter: Vec<String>,
    /// How many packages publish at once [default: `[publish] jobs`, else 4]
    #[arg(long, short = 'j', value_name = "N", value_parser = super::parse_jobs)]
    jobs: Option<usize>,
    /// Stop after this step; the next `polyship publish` goes on from there
    #[arg(long, value_enum, value_name = "STEP", conflicts_with = "dry_run")]
    until: Option<UntilStep>,
    /// Print where the last release stands, from its journal, and do nothing else
    #[arg(long, conflicts_with_all = ["dry_run", "no_push", "filter", "jobs"])]
    status: bool,
    /// Print the result as a JSON document (`"schema": 1`) on stdout instead of a table
    #[arg(long)]
    json: bool,
    /// With `--dry-run`: check a release's artifacts too, a JSON `artifacts::Check` each (what a
    /// pipeline's `verify` step passes for its `forge-assets` and `image` steps)
    #[arg(long, hide = true, value_name = "JSON", requires = "dry_run")]
    check_artifacts: Vec<String>,
}

/// The steps `--until` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum UntilStep {
    Tag,
    Build,
    Upload,
    Push,
    ForgeRelease,
}

impl UntilStep {
    fn step(self) -> publish::Step {
        match self {
            UntilStep::Tag => publish::Step::Tag,
            UntilStep::Build => publish::Step::Build,
            UntilStep::Upload => publish::Step::Upload,
            UntilStep::Push => publish::Step::Push,
            UntilStep::ForgeRelease => publish::Step::ForgeRelease,
        }
    }
}

pub fn run(cx: &Context, args: &Args) -> anyhow::Result<ExitCode> {
    if !cx.in_git {
        return Err(CommandError::failed(
            "`polyship publish` needs a git repository",
            "run it in the repository you release from",
        )
        .into());
    }
    if args.status {
        return status(cx, args);
    }
    let discovered = super::discover(cx)?;
    let ws = &discovered.workspace;
    ws.topological_order()?;
    let mask = if args.filter.is_empty() {
        None
    } else {
        let repo = polyship_core::changes::history::open(&cx.root).ok();
        Some(
            polyship_core::select::select(
                repo.as_ref(),
                ws,
                &args.filter,
                discovered.config.config.commits.shared_paths,
            )
            .map_err(|e| CommandError {
                message: e.to_string(),
                help: Some("filters name packages as `polyship list` shows them".into()),
                usage: true,
            })?,
        )
    };
    let stop = Arc::new(AtomicBool::new(false));
    if !args.dry_run {
        // The first Ctrl-C lets running uploads finish and records where the release stands;
        // a second one exits at once.
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&stop))
                .context("failed to install the interrupt handler")?;
            signal_hook::flag::register(signal, Arc::clone(&stop))
                .context("failed to install the interrupt handler")?;
        }
    }
    let checks = artifact_checks(args)?;
    let options = Options {
        dry_run: args.dry_run,
        no_push: args.no_push,
        selected: mask.as_deref(),
        jobs: args.jobs,
        interrupted: &stop,
        until: args.until.map(UntilStep::step),
    };
    let progress = Progress::new(cx);
    let reporter = |event: Event<'_>| progress.event(event);
    let report = match publish::run(ws, &discovered.config, &cx.root, &options, &reporter) {
        Ok(r) => r,
        Err(PublishError::Preflight(problems)) => {
            progress.clear();
            if args.json {
                print_preflight(args, &problems)?;
            }
            render::problems(cx.color, "", &problems, "nothing was published");
            return Ok(ExitCode::FAILURE);
        }
        // Messages quote URLs, tools and servers: no secret leaves through them.
        Err(e) => {
            let message = Redactor::from_env().redact(&e.to_string());
            return Err(CommandError::failed(message, "nothing was published").into());
        }
    };
    progress.clear();
    for note in &report.notes {
        cx.note(note);
    }
    let mut artifacts = Vec::new();
    for check in &checks {
        artifacts.extend(super::artifacts::problems(cx, check)?);
    }
    print_report(
        args,
        &report,
        (!checks.is_empty()).then_some(&artifacts[..]),
    )?;
    for p in &artifacts {
        render::error_line(cx.color, p);
    }
    if report.interrupted {
        cx.note("interrupted: run `polyship publish` again to finish the release");
        return Ok(ExitCode::from(130));
    }
    if report.failed() {
        if !cx.quiet {
            print_failures(cx, &report);
        }
        cx.note("run `polyship publish` again to finish: it does only what is missing");
        return Ok(ExitCode::FAILURE);
    }
    if !artifacts.is_empty() {
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// `--json` when preflight stopped the release: the run's document, with what stopped it and
/// no targets.
fn print_preflight(args: &Args, problems: &[publish::Problem]) -> anyhow::Result<()> {
    #[derive(serde::Serialize)]
    struct Doc<'a> {
        schema: u32,
        dry_run: bool,
        problems: &'a [publish::Problem],
        targets: [(); 0],
    }
    let doc = Doc {
        schema: 1,
        dry_run: args.dry_run,
        problems,
        targets: [],
    };
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(())
}

/// `--check-artifacts`' checks.
fn artifact_checks(args: &Args) -> anyhow::Result<Vec<super::artifacts::Check>> {
    let mut checks = Vec::new();
    for text in &args.check_artifacts {
        let check: super::artifacts::Check =
            serde_json::from_str(text).map_err(|e| CommandError {
                message: format!("`--check-artifacts {text}` is not a check: {e}"),
                help: Some(
                    r#"write it as `{"assets": true}` or `{"repository": "host/name"}`"#.into(),
                ),
                usage: true,
            })?;
        checks.push(check);
    }
    Ok(checks)
}

/// Why each package that did not make it failed, and each tag, push or forge release that
/// failed, on stderr.
fn print_failures(cx: &Context, report: &Report) {
    for t in &report.targets {
        match &t.state {
            State::Failed(reason) | State::Blocked(reason) => {
                render::error_line(cx.color, &format!("{} {}: {reason}", t.name, t.version));
            }
            _ => {}
        }
        if let Some(e) = &t.error {
            render::error_line(cx.color, &format!("{}: {e}", t.tag));
        }
    }
}

/// The spinner of a wait that is no package's; no package is named this.
const READING: &str = "\0reading";

/// Progress on stderr: on a terminal, a spinner line per package while it is packed, waited for
/// and uploaded, with finished steps printed above; elsewhere (CI logs, pipes) plain lines.
struct Progress<'a> {
    cx: &'a Context,
    multi: Option<MultiProgress>,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl<'a> Progress<'a> {
    fn new(cx: &'a Context) -> Self {
        let live = !cx.quiet && std::io::stderr().is_terminal();
        Self {
            cx,
            multi: live.then(MultiProgress::new),
            bars: Mutex::new(HashMap::new()),
        }
    }

    fn event(&self, event: Event<'_>) {
        let (verb, message, lasts) = match event {
            Event::Warning(message) => {
                self.cx.warn(&polyship_core::Warning::new(message));
                return;
            }
            Event::Output(message) => {
                if self.cx.verbose > 0 && !message.is_empty() {
                    let text = render::paint(self.cx.color, render::DIM, message);
                    match &self.multi {
                        Some(multi) => {
                            let _ = multi.println(text);
                        }
                        None => {
                            let _ = writeln!(std::io::stderr(), "{text}");
                        }
                    }
                }
                return;
            }
            Event::Reading(what) => {
                // Only a terminal gets it: a log has the lines before and after the wait.
                let Some(multi) = &self.multi else { return };
                let mut bars = self.bars.lock().expect("progress");
                match what {
                    Some(what) => {
                        let bar = bars
                            .entry(READING.to_owned())
                            .or_insert_with(|| render::spinner(multi));
                        bar.set_message(format!("Reading {what}"));
                    }
                    None => {
                        if let Some(bar) = bars.remove(READING) {
                            bar.finish_and_clear();
                        }
                    }
                }
                return;
            }
            Event::Started(activity, message) => (activity.verb(), message, true),
            Event::Done(notice, message) => (notice.verb(), message, false),
        };
        let Some(multi) = &self.multi else {
            self.cx.status(verb, message);
            return;
        };
        let key = message
            .split([' ', ':'])
            .next()
            .unwrap_or_default()
            .to_owned();
        let mut bars = self.bars.lock().expect("progress");
        if lasts {
            // A spinner for the package until its next event.
            let bar = bars.entry(key).or_insert_with(|| render::spinner(multi));
            bar.set_message(format!("{verb} {message}"));
        } else {
            if let Some(bar) = bars.remove(&key) {
                bar.finish_and_clear();
            }
            let _ = multi.println(self.cx.status_line(verb, message));
        }
    }

    fn clear(&self) {
        let mut bars = self.bars.lock().expect("progress");
        for (_, bar) in bars.drain() {
            bar.finish_and_clear();
        }
    }
}

fn print_report(args: &Args, report: &Report, artifacts: Option<&[String]>) -> anyhow::Result<()> {
    let mut out = String::new();
    if args.json {
        #[derive(serde::Serialize)]
        struct Doc<'a> {
            schema: u32,
            #[serde(flatten)]
            report: &'a Report,
            /// What `--check-artifacts` found missing or wrong.
            #[serde(skip_serializing_if = "Option::is_none")]
            artifacts: Option<&'a [String]>,
        }
        out = serde_json::to_string_pretty(&Doc {
            schema: 1,
            report,
            artifacts,
        })?;
        out.push('\n');
    } else if report.targets.is_empty() {
        out.push_str(
            "Nothing to publish: every package's version is tagged and on its registry.\n",
        );
    } else {
        let rows: Vec<[String; 6]> = report
            .targets
            .iter()
            .map(|t| {
                let result = if report.dry_run {
                    match t.state {
                        State::Pending => "would publish".to_owned(),
                        State::Existing => "already published".to_owned(),
                        _ => t.state.label().to_owned(),
                    }
                } else {
                    t.state.label().to_owned()
                };
                let tag = if t.tagged {
                    t.tag.clone()
                } else if report.dry_run {
                    format!("{} (new)", t.tag)
                } else {
                    "-".to_owned()
                };
                let pushed = if report.dry_run || report.commit_pushed.is_none() {
                    "-"
                } else if t.pushed {
                    "yes"
                } else {
                    "no"
                };
                [
                    t.name.clone(),
                    t.ecosystem.to_string(),
                    t.version.clone(),
                    result,
                    tag,
                    format!(
                        "{pushed}{}",
                        t.release
                            .as_ref()
                            .map_or(String::new(), |r| format!("  {r}"))
                    ),
                ]
            })
            .collect();
        table(
            &mut out,
            &[
                "PACKAGE",
                "ECOSYSTEM",
                "VERSION",
                "RESULT",
                "TAG",
                "PUSHED / RELEASE",
            ],
            &rows,
        );
    }
    std::io::stdout().write_all(out.as_bytes())?;
    Ok(())
}

fn table<const N: usize>(out: &mut String, header: &[&str; N], rows: &[[String; N]]) {
    let mut widths = header.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut line = |cells: &[&str]| {
        let mut l = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                l.push_str(cell);
            } else {
                let _ = write!(l, "{cell:<width$}  ", width = widths[i]);
            }
        }
        out.push_str(&crate::render::safe(l.trim_end()));
        out.push('\n');
    };
    line(header);
    for row in rows {
        line(&row.iter().map(String::as_str).collect::<Vec<_>>());
    }
}

fn status(cx: &Context, args: &Args) -> anyhow::Result<ExitCode> {
    let git_dir = polyship_core::release::git::common_dir(&cx.root, &Redactor::default())?;
    let Some(journal) = journal::load(&git_dir).map_err(|e| CommandError {
        message: e.to_string(),
        help: None,
        usage: false,
    })?
    else {
        if args.json {
            let doc = serde_json::json!({ "schema": 1, "release": null });
            println!("{}", serde_json::to_string_pretty(&doc)?);
        } else {
            println!("No release recorded in this repository.");
        }
        return Ok(ExitCode::SUCCESS);
    };
    let mut text = String::new();
    if args.json {
        let doc = serde_json::json!({ "schema": 1, "release": journal });
        text = serde_json::to_string_pretty(&doc)?;
        text.push('\n');
    } else {
        let _ = writeln!(
            text,
            "Release of commit {} — {} after {} run{}",
            &journal.commit[..journal.commit.len().min(12)],
            journal.state,
            journal.runs,
            if journal.runs == 1 { "" } else { "s" }
        );
        let rows: Vec<[String; 7]> = journal
            .packages
            .iter()
            .map(|e| {
                [
                    e.name.clone(),
                    e.ecosystem.map_or_else(String::new, |x| x.to_string()),
                    e.version.clone(),
                    if e.publish == journal::Upload::NotReached {
                        "-".into()
                    } else {
                        e.publish.as_str().to_owned()
                    },
                    if e.tagged { e.tag.clone() } else { "-".into() },
                    if e.pushed { "yes".into() } else { "no".into() },
                    e.release
                        .clone()
                        .or_else(|| {
                            e.error
                                .as_ref()
                                .map(|x| x.lines().next().unwrap_or_default().to_owned())
                        })
                        .unwrap_or_default(),
                ]
            })
            .collect();
        table(
            &mut text,
            &[
                "PACKAGE",
                "ECOSYSTEM",
                "VERSION",
                "PUBLISH",
                "TAG",
                "PUSHED",
                "RELEASE / ERROR",
            ],
            &rows,
        );
    }
    std::io::stdout().write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
