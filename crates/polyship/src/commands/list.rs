//! `polyship list`: every package, its version and internal dependencies; `--graph` for release order.

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use polyship_core::workspace::{Package, VersionSource, Workspace};
use serde::Serialize;

use crate::context::Context;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print a JSON document (`"schema": 1`) on stdout instead of a table
    #[arg(long)]
    json: bool,
    /// List the packages in release order: every package after the packages it depends on
    #[arg(long)]
    graph: bool,
}

/// The document `--json` prints; the table is rendered from the same value.
#[derive(Serialize)]
struct Listing<'a> {
    schema: u32,
    packages: &'a [Package],
    /// With `--graph`: the release order.
    #[serde(skip_serializing_if = "Option::is_none")]
    order: Option<Vec<OrderEntry<'a>>>,
}

#[derive(Serialize)]
struct OrderEntry<'a> {
    name: &'a str,
    ecosystem: polyship_core::workspace::Ecosystem,
}

pub fn run(cx: &Context, args: &Args) -> anyhow::Result<ExitCode> {
    let discovery = super::discover(cx)?;
    let ws = &discovery.workspace;
    let order = match ws.topological_order() {
        Ok(order) => Some(order),
        // Without `--graph` a cycle does not stop the listing, but it will stop a release.
        Err(cycle) if !args.graph => {
            cx.warn(&polyship_core::Warning::new(cycle.to_string()).help(cycle.help()));
            None
        }
        Err(cycle) => return Err(cycle.into()),
    };
    let order = if args.graph { order } else { None };
    let listing = Listing {
        schema: 1,
        packages: &ws.packages,
        order: order.as_ref().map(|o| {
            o.iter()
                .map(|&i| OrderEntry {
                    name: &ws.packages[i].name,
                    ecosystem: ws.packages[i].ecosystem,
                })
                .collect()
        }),
    };
    let mut out = String::new();
    if args.json {
        out = serde_json::to_string_pretty(&listing)
            .context("failed to serialise the package list")?;
        out.push('\n');
    } else if ws.packages.is_empty() {
        cx.note("no packages found");
        cx.note(
            "polyship reads Cargo workspaces, package.json `workspaces`, pnpm-workspace.yaml, every pyproject.toml \
             and Go modules (go.work, else every go.mod); declare other packages with `[[package]]` in polyship.toml",
        );
    } else if let Some(order) = &order {
        table(&mut out, ws, order, true);
    } else {
        table(
            &mut out,
            ws,
            &(0..ws.packages.len()).collect::<Vec<_>>(),
            false,
        );
    }
    std::io::stdout()
        .lock()
        .write_all(out.as_bytes())
        .context("failed to write to stdout")?;
    Ok(ExitCode::SUCCESS)
}

fn version_note(p: &Package) -> Option<String> {
    match &p.version_source {
        VersionSource::Linked { ecosystem, name } => Some(format!("version of {ecosystem}:{name}")),
        VersionSource::Dynamic { backend } => Some(format!("dynamic version ({backend})")),
        VersionSource::Workspace { .. } => Some("version from workspace".to_owned()),
        VersionSource::Manifest { .. } | VersionSource::Missing => None,
    }
}

/// Aligned columns; each package's internal dependencies on the lines below it.
fn table(out: &mut String, ws: &Workspace, rows: &[usize], numbered: bool) {
    let width =
        |f: &dyn Fn(&Package) -> usize| rows.iter().map(|&i| f(&ws.packages[i])).max().unwrap_or(0);
    let w_eco = width(&|p| p.ecosystem.as_str().len());
    let w_name = width(&|p| p.name.chars().count());
    let w_version = width(&|p| p.version.as_deref().unwrap_or("-").chars().count());
    let w_path = width(&|p| p.path.chars().count());
    let w_num = rows.len().to_string().len();
    for (n, &i) in rows.iter().enumerate() {
        let p = &ws.packages[i];
        let mut line = String::new();
        if numbered {
            let _ = write!(line, "{:>w_num$}  ", n + 1);
        }
        let _ = write!(
            line,
            "{:w_eco$}  {:w_name$}  {:w_version$}  {:w_path$}",
            p.ecosystem.as_str(),
            p.name,
            p.version.as_deref().unwrap_or("-"),
            p.path
        );
        let mut notes = Vec::new();
        if p.private {
            notes.push("private".to_owned());
        }
        if let Some(r) = &p.registry {
            notes.push(format!("registry {r}"));
        }
        notes.extend(version_note(p));
        if !notes.is_empty() {
            let _ = write!(line, "  ({})", notes.join(", "));
        }
        let _ = writeln!(out, "{}", crate::render::safe(line.trim_end()));
        let indent = if numbered { w_num + 2 } else { 0 };
        for dep in &p.dependencies {
            let mut d = format!("{:indent$}  → {}", "", dep.name);
            if let Some(req) = &dep.requirement {
                let _ = write!(d, " {req}");
            }
            if dep.kind != polyship_core::workspace::DependencyKind::Normal {
                let _ = write!(d, " ({})", dep.kind.as_str());
            }
            let _ = writeln!(out, "{}", crate::render::safe(&d));
        }
    }
}
