//! `polyship add`: write a changeset, from flags or by asking on a terminal.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Context as _;
use polyship_core::changes::changeset::{self, Bump};
use polyship_core::changes::{history, lint};
use polyship_core::workspace::Workspace;

use crate::context::Context;
use crate::render::CommandError;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A package this change releases, as `name` or `name:bump` (repeatable); `ecosystem:name`
    /// when the name is ambiguous
    #[arg(short, long = "package", value_name = "NAME[:BUMP]")]
    packages: Vec<String>,
    /// The bump for packages given without one
    #[arg(long, value_enum)]
    bump: Option<BumpArg>,
    /// The summary: its first line heads the changelog entry
    #[arg(short, long, value_name = "TEXT")]
    message: Option<String>,
    /// Write a changeset that releases nothing (it satisfies `status --require-changeset`)
    #[arg(long, conflicts_with_all = ["packages", "bump"])]
    empty: bool,
    /// Print the changeset written as a JSON document (`"schema": 1`) on stdout
    #[arg(long)]
    json: bool,
}

/// The changeset `add` wrote, for `--json`.
#[derive(serde::Serialize)]
struct Report<'a> {
    schema: u32,
    /// Relative to the root.
    path: &'a str,
    releases: Vec<ReportRelease<'a>>,
    summary: &'a str,
}

#[derive(serde::Serialize)]
struct ReportRelease<'a> {
    ecosystem: polyship_core::workspace::Ecosystem,
    name: &'a str,
    bump: Bump,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum BumpArg {
    Major,
    Minor,
    Patch,
    None,
}

impl From<BumpArg> for Bump {
    fn from(b: BumpArg) -> Self {
        match b {
            BumpArg::Major => Bump::Major,
            BumpArg::Minor => Bump::Minor,
            BumpArg::Patch => Bump::Patch,
            BumpArg::None => Bump::None,
        }
    }
}

fn usage(message: impl Into<String>, help: impl Into<String>) -> anyhow::Error {
    CommandError {
        message: message.into(),
        help: Some(help.into()),
        usage: true,
    }
    .into()
}

pub fn run(cx: &Context, args: &Args) -> anyhow::Result<ExitCode> {
    let discovered = super::discover(cx)?;
    let ws = &discovered.workspace;
    let repo = history::open(&cx.root)?;
    let interactive = args.packages.is_empty()
        && args.message.is_none()
        && !args.empty
        && std::io::stdin().is_terminal();
    let (releases, summary) = if interactive {
        let mut warnings = Vec::new();
        let cs = polyship_core::changes::changesets_config::read(&cx.root, &mut warnings)
            .ok()
            .flatten();
        let branch = polyship_core::changes::base_branch(&discovered.config, cs.as_ref());
        let changed = match lint::base_ref(&repo, &branch) {
            Some(base) => {
                history::changed_since(
                    &repo,
                    ws,
                    &base,
                    discovered.config.config.commits.shared_paths,
                )?
                .packages
            }
            None => Vec::new(),
        };
        let stdin = std::io::stdin();
        prompt(ws, &changed, &mut stdin.lock(), &mut std::io::stderr())?
    } else {
        from_flags(ws, args)?
    };
    let dir = cx.root.join(changeset::DIR);
    fs_err::create_dir_all(&dir)?;
    let branch = history::current_branch(&repo);
    let name = changeset::file_name(&dir, branch.as_deref(), &summary);
    let path = dir.join(format!("{name}.md"));
    let text = changeset::render(ws, &releases, &summary);
    match polyship_core::fsutil::create_atomic(&path, text.as_bytes()) {
        Ok(()) => {}
        Err(e) => {
            return Err(
                anyhow::Error::new(e).context(format!("failed to write `{}`", path.display()))
            );
        }
    }
    let shown = format!("{}/{name}.md", changeset::DIR);
    if args.json {
        let doc = Report {
            schema: 1,
            path: &shown,
            releases: releases
                .iter()
                .map(|&(p, bump)| ReportRelease {
                    ecosystem: ws.packages[p].ecosystem,
                    name: &ws.packages[p].name,
                    bump,
                })
                .collect(),
            summary: &summary,
        };
        let text = serde_json::to_string_pretty(&doc).context("failed to serialise the report")?;
        writeln!(std::io::stdout(), "{text}").context("failed to write to stdout")?;
    } else {
        writeln!(std::io::stdout(), "{shown}").context("failed to write to stdout")?;
    }
    cx.status("Created", &shown);
    Ok(ExitCode::SUCCESS)
}

fn from_flags(ws: &Workspace, args: &Args) -> anyhow::Result<(Vec<(usize, Bump)>, String)> {
    let summary = args.message.clone().unwrap_or_default();
    if args.empty {
        return Ok((Vec::new(), summary));
    }
    if args.packages.is_empty() {
        return Err(usage(
            "no package given",
            "name the packages with `-p <name>` and the bump with `--bump`, or run `polyship add` on a terminal to be asked",
        ));
    }
    if summary.trim().is_empty() {
        return Err(usage(
            "no summary given",
            "describe the change with `-m \"…\"`; its first line heads the changelog entry",
        ));
    }
    let mut releases: Vec<(usize, Bump)> = Vec::new();
    for spec in &args.packages {
        let (name, bump) = match spec
            .rsplit_once(':')
            .and_then(|(n, b)| Bump::parse(b).map(|b| (n, b)))
        {
            Some((n, b)) => (n, Some(b)),
            None => (spec.as_str(), None),
        };
        let bump = bump.or(args.bump.map(Bump::from)).ok_or_else(|| {
            usage(
                format!("no bump for `{name}`"),
                format!("write `-p {name}:patch` (or minor, major, none), or give `--bump`"),
            )
        })?;
        let p = changeset::resolve_name(ws, name).map_err(|m| {
            usage(
                m,
                "use a name from `polyship list`, as `ecosystem:name` when it is ambiguous",
            )
        })?;
        match releases.iter_mut().find(|(q, _)| *q == p) {
            Some(existing) => existing.1 = existing.1.max(bump),
            None => releases.push((p, bump)),
        }
    }
    Ok((releases, summary))
}

/// Asks on a terminal: which packages (those changed since the base branch preselected and first),
/// the bump of each, and the summary.
fn prompt(
    ws: &Workspace,
    changed: &[usize],
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> anyhow::Result<(Vec<(usize, Bump)>, String)> {
    let mut order: Vec<usize> = changed.to_vec();
    order.extend((0..ws.packages.len()).filter(|p| !changed.contains(p)));
    writeln!(out, "Which packages does this change release?")?;
    for (n, &p) in order.iter().enumerate() {
        let mark = if changed.contains(&p) { "x" } else { " " };
        writeln!(
            out,
            "  {:>3}. [{mark}] {} {}",
            n + 1,
            ws.packages[p].ecosystem,
            ws.packages[p].name
        )?;
    }
    let selected: Vec<usize> = loop {
        write!(
            out,
            "Numbers separated by spaces{}: ",
            if changed.is_empty() {
                ""
            } else {
                " (Enter keeps the marked ones)"
            }
        )?;
        out.flush()?;
        let line = read_line(input)?;
        if line.trim().is_empty() && !changed.is_empty() {
            break changed.to_vec();
        }
        let picked: Option<Vec<usize>> = line
            .trim()
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<usize>()
                    .ok()
                    .and_then(|n| order.get(n.wrapping_sub(1)).copied())
            })
            .collect();
        match picked {
            Some(list) if !list.is_empty() => break list,
            _ => writeln!(out, "Give numbers from 1 to {}.", order.len())?,
        }
    };
    let mut releases = Vec::new();
    for p in selected {
        let bump = loop {
            write!(
                out,
                "Bump for {} (major/minor/patch/none) [patch]: ",
                ws.packages[p].name
            )?;
            out.flush()?;
            let line = read_line(input)?;
            let word = line.trim();
            if word.is_empty() {
                break Bump::Patch;
            }
            if let Some(b) = Bump::parse(word) {
                break b;
            }
            writeln!(out, "Type major, minor, patch or none.")?;
        };
        releases.push((p, bump));
    }
    let summary = loop {
        write!(out, "Summary: ")?;
        out.flush()?;
        let line = read_line(input)?;
        if !line.trim().is_empty() {
            break line.trim().to_owned();
        }
        writeln!(
            out,
            "The summary heads the changelog entry; it cannot be empty."
        )?;
    };
    Ok((releases, summary))
}

fn read_line(input: &mut dyn BufRead) -> anyhow::Result<String> {
    let mut line = String::new();
    if input.read_line(&mut line)? == 0 {
        return Err(usage(
            "the input ended before the changeset was complete",
            "run again and answer every question",
        ));
    }
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use polyship_core::workspace::{DependencyGraph, Ecosystem, Package, VersionSource};

    fn ws() -> Workspace {
        let pkg = |name: &str| Package {
            name: name.into(),
            ecosystem: Ecosystem::Npm,
            path: name.into(),
            manifest: format!("{name}/package.json"),
            version: Some("1.0.0".into()),
            version_source: VersionSource::Missing,
            private: false,
            registry: None,
            dependencies: vec![],
        };
        let packages = vec![pkg("a"), pkg("b"), pkg("c")];
        Workspace {
            root: ".".into(),
            graph: DependencyGraph::new(&packages),
            packages,
        }
    }

    #[test]
    fn prompt_preselects_changed_packages_and_retries_bad_answers() {
        let mut input = std::io::Cursor::new("\nhuge\nminor\n\nFix the thing\n");
        let mut out = Vec::new();
        let (releases, summary) = prompt(&ws(), &[2], &mut input, &mut out).unwrap();
        assert_eq!(releases, [(2, Bump::Minor)]);
        assert_eq!(summary, "Fix the thing");
        let shown = String::from_utf8(out).unwrap();
        assert!(shown.contains("1. [x] npm c"), "{shown}");
        assert!(
            shown.contains("Type major, minor, patch or none."),
            "{shown}"
        );
        assert!(shown.contains("cannot be empty"), "{shown}");
    }

    #[test]
    fn prompt_takes_numbers_and_default_bumps() {
        let mut input = std::io::Cursor::new("9\n1, 3\n\nmajor\nSummary here\n");
        let mut out = Vec::new();
        let (releases, _) = prompt(&ws(), &[], &mut input, &mut out).unwrap();
        assert_eq!(releases, [(0, Bump::Patch), (2, Bump::Major)]);
        assert!(
            String::from_utf8(out)
                .unwrap()
                .contains("Give numbers from 1 to 3.")
        );
    }

    #[test]
    fn prompt_fails_when_input_ends() {
        let mut input = std::io::Cursor::new("1\n");
        assert!(prompt(&ws(), &[], &mut input, &mut Vec::new()).is_err());
    }
}
