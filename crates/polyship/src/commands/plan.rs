//! `polyship plan`: what a release would do — versions from and to, and why — without writing.

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use polyship_core::plan::{Plan, Reason};
use serde::Serialize;

use crate::context::Context;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print a JSON document (`"schema": 1`) on stdout instead of a table
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Document<'a> {
    schema: u32,
    #[serde(flatten)]
    plan: &'a Plan,
}

pub fn run(cx: &Context, args: &Args) -> anyhow::Result<ExitCode> {
    let discovered = super::discover(cx)?;
    let (config, ws) = (&discovered.config, &discovered.workspace);
    let changes = polyship_core::changes::collect(&cx.root, ws, config)?;
    for w in &changes.warnings {
        cx.warn(w);
    }
    let plan = polyship_core::plan::plan(ws, &changes, config)?;
    for w in &plan.warnings {
        cx.warn(w);
    }
    let out = if args.json {
        let mut s = serde_json::to_string_pretty(&Document {
            schema: 1,
            plan: &plan,
        })
        .context("failed to serialise the plan")?;
        s.push('\n');
        s
    } else {
        table(&plan)
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
            if *group_kind == polyship_core::config::GroupKind::Fixed {
                "fixed"
            } else {
                "linked"
            }
        ),
        Reason::SameSource { name, ecosystem } => format!("same source as {ecosystem}:{name}"),
    }
}

fn table(plan: &Plan) -> String {
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
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out
}
