//! `polyship lint-commits`: check commit messages against Conventional Commits.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use polyship_core::changes::{self, lint};

use crate::context::Context;
use crate::render::{self, CommandError};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The commits to check: `A..B`, or `A` for `A..HEAD` (default: since the base branch)
    #[arg(value_name = "RANGE", conflicts_with = "edit")]
    range: Option<String>,
    /// Check the message in <FILE> instead, as a `commit-msg` hook does
    #[arg(long, value_name = "FILE")]
    edit: Option<PathBuf>,
    /// Print the result as a JSON document (`"schema": 1`) on stdout: the range, how many
    /// commits were checked, and every problem
    #[arg(long)]
    json: bool,
}

/// What `lint-commits` found, for `--json`.
#[derive(serde::Serialize)]
struct Report<'a> {
    schema: u32,
    /// The range checked; `null` for `--edit`.
    range: Option<&'a str>,
    checked: usize,
    problems: &'a [lint::Problem],
}

pub fn run(cx: &Context, args: &Args) -> anyhow::Result<ExitCode> {
    if let Some(file) = &args.edit {
        let message = fs_err::read_to_string(file)?;
        let problems: Vec<lint::Problem> = lint::lint_message(&message).into_iter().collect();
        return report(cx, args.json, None, 1, &problems);
    }
    let range = if let Some(r) = &args.range {
        r.clone()
    } else {
        let config = polyship_core::config::load(&cx.root)?;
        let mut warnings = Vec::new();
        let cs = changes::changesets_config::read(&cx.root, &mut warnings)
            .ok()
            .flatten();
        let branch = changes::base_branch(&config, cs.as_ref());
        let repo = changes::history::open(&cx.root)?;
        let Some(base) = lint::base_ref(&repo, &branch) else {
            return Err(CommandError {
                message: format!("no base branch `{branch}` to lint from"),
                help: Some("give a range, such as `polyship lint-commits main..HEAD`".to_owned()),
                usage: true,
            }
            .into());
        };
        format!("{base}..HEAD")
    };
    let (checked, problems) = lint::lint_range(&cx.root, &range)?;
    cx.debug(&format!("checked {checked} commits in {range}"));
    report(cx, args.json, Some(&range), checked, &problems)
}

/// Reports the problems on stderr, and with `json` on stdout too; exit 1 when there is one.
fn report(
    cx: &Context,
    json: bool,
    range: Option<&str>,
    checked: usize,
    problems: &[lint::Problem],
) -> anyhow::Result<ExitCode> {
    if json {
        let doc = Report {
            schema: 1,
            range,
            checked,
            problems,
        };
        let text = serde_json::to_string_pretty(&doc).context("failed to serialise the report")?;
        writeln!(std::io::stdout(), "{text}").context("failed to write to stdout")?;
    }
    let mut err = std::io::stderr().lock();
    for p in problems {
        let at = if p.commit.is_empty() {
            String::new()
        } else {
            format!("{} ", &p.commit[..7.min(p.commit.len())])
        };
        let _ = writeln!(
            err,
            "{}: {at}{}",
            render::paint(cx.color, render::RED_BOLD, "error"),
            p.header
        );
        let _ = writeln!(err, "  [{}] {}", p.rule, p.message);
        let _ = writeln!(
            err,
            "{}: {}",
            render::paint(cx.color, render::CYAN_BOLD, "help"),
            p.help
        );
    }
    if problems.is_empty() {
        cx.status(
            "Checked",
            &format!(
                "{checked} commit{}: all follow Conventional Commits",
                if checked == 1 { "" } else { "s" }
            ),
        );
        Ok(ExitCode::SUCCESS)
    } else {
        let _ = writeln!(
            err,
            "{} of {checked} commits do not follow Conventional Commits",
            problems.len()
        );
        std::io::stdout()
            .flush()
            .context("failed to flush stdout")?;
        Ok(ExitCode::FAILURE)
    }
}
