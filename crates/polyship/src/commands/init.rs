//! `polyship init`: a commented `polyship.toml` that shows what discovery found.

use std::fmt::Write as _;
use std::process::ExitCode;

use polyship_core::config::FILE_NAME;
use polyship_core::workspace::Workspace;

use anyhow::Context as _;

use crate::context::Context;
use crate::render::CommandError;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Install a git `commit-msg` hook that checks messages with `polyship lint-commits` (instead
    /// of writing polyship.toml)
    #[arg(long, conflicts_with = "pipeline")]
    hooks: bool,
    /// Add a commented starter release pipeline, `[pipeline.release]`, with gates for each
    /// ecosystem found (to polyship.toml, writing the file first when there is none)
    #[arg(long)]
    pipeline: bool,
    /// Print what was written as a JSON document (`"schema": 1`) on stdout
    #[arg(long)]
    json: bool,
}

/// What `init` wrote, for `--json`.
#[derive(serde::Serialize)]
struct Report {
    schema: u32,
    /// `created` (polyship.toml), `pipeline-added`, or `hook-installed`.
    action: &'static str,
    path: String,
    /// The packages discovery found; `null` for `--hooks`.
    packages: Option<usize>,
}

fn report(
    args: &Args,
    action: &'static str,
    path: &std::path::Path,
    packages: Option<usize>,
) -> anyhow::Result<ExitCode> {
    if args.json {
        let doc = Report {
            schema: 1,
            action,
            path: path.to_string_lossy().into_owned(),
            packages,
        };
        let text = serde_json::to_string_pretty(&doc).context("failed to serialise the report")?;
        println!("{text}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The first line of the hook polyship writes, so it can tell its own hook from a user's.
const HOOK_MARKER: &str = "# polyship commit-msg hook";

pub fn run(cx: &Context, args: &Args) -> anyhow::Result<ExitCode> {
    if args.hooks {
        return install_hook(cx, args);
    }
    let path = cx.root.join(FILE_NAME);
    if args.pipeline && path.exists() {
        return add_pipeline(cx, args, &path);
    }
    let exists = || {
        CommandError::failed(
            format!("`{}` already exists", path.display()),
            "edit it, or delete it to write a fresh one",
        )
    };
    if path.exists() {
        return Err(exists().into());
    }
    let discovery = super::discover(cx)?;
    // What polyship infers from the repository (sources, tag schemes), written out so the user
    // sees and can change it; outside a git repository there is nothing to infer from.
    let changes = if cx.in_git {
        Some(polyship_core::changes::collect(
            &cx.root,
            &discovery.workspace,
            &discovery.config,
            cx.history_cache,
        )?)
    } else {
        None
    };
    let mut text = render(&discovery.workspace);
    if let Some(changes) = &changes {
        text.push_str(&inferred(&discovery.workspace, &discovery.config, changes));
    }
    if args.pipeline {
        text.push_str(&pipeline(&discovery.workspace));
    }
    match polyship_core::fsutil::create_atomic(&path, text.as_bytes()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(exists().into()),
        Err(e) => {
            return Err(
                anyhow::Error::new(e).context(format!("failed to write `{}`", path.display()))
            );
        }
    }
    cx.status(
        "Created",
        &format!(
            "{FILE_NAME} ({} packages discovered)",
            discovery.workspace.packages.len()
        ),
    );
    report(
        args,
        "created",
        &path,
        Some(discovery.workspace.packages.len()),
    )
}

/// `--pipeline` with a `polyship.toml` already there: the starter pipeline is appended, unless
/// the file has a pipeline of that name.
fn add_pipeline(cx: &Context, args: &Args, path: &std::path::Path) -> anyhow::Result<ExitCode> {
    let loaded = polyship_core::config::load(&cx.root)?;
    if loaded.config.pipelines.contains_key("release") {
        return Err(CommandError::failed(
            format!("`{}` already has `[pipeline.release]`", path.display()),
            "edit it there; docs/pipeline.md lists every key",
        )
        .into());
    }
    let discovery = super::discover(cx)?;
    let mut text = loaded.text.clone();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&pipeline(&discovery.workspace));
    polyship_core::fsutil::write_atomic(path, text.as_bytes())
        .with_context(|| format!("failed to write `{}`", path.display()))?;
    cx.status(
        "Added",
        &format!("[pipeline.release] to {FILE_NAME}: `polyship run release --dry-run` shows it"),
    );
    report(
        args,
        "pipeline-added",
        path,
        Some(discovery.workspace.packages.len()),
    )
}

/// The starter pipeline: a clean tree and each ecosystem's gates, then version, publish and
/// verify, with a notification left commented out.
pub fn pipeline(ws: &Workspace) -> String {
    let ecosystems: std::collections::BTreeSet<_> =
        ws.packages.iter().map(|p| p.ecosystem).collect();
    let gates: Vec<(&str, &str)> = ecosystems
        .iter()
        .flat_map(|e| e.adapter().gates().iter().copied())
        .collect();
    let mut s = String::from(
        "\n# A release pipeline: `polyship run release` (every key: docs/pipeline.md).\n\
         # `polyship run release --dry-run` shows each step and the plan; `--skip gates` leaves the\n\
         # checks out. A failed run is finished by running it again.\n\
         [pipeline.release]\n\
         description = \"Check, version, publish, verify\"\n\
         # Variables that must be set before any step runs; their values are masked in all output.\n\
         # secrets = [\"NPM_TOKEN\", \"CARGO_REGISTRY_TOKEN\", \"SLACK_WEBHOOK_URL\"]\n\
         \n[[pipeline.release.step]]\nname = \"clean\"\nuses = \"check-clean\"\n",
    );
    for (name, command) in &gates {
        let _ = write!(
            s,
            "\n[[pipeline.release.step]]\nname = \"{name}\"\ngroup = \"gates\"\nrun = \"{command}\"\n"
        );
    }
    let needs = if gates.is_empty() {
        "[\"clean\"]"
    } else {
        "[\"clean\", \"gates\"]"
    };
    let _ = write!(
        s,
        "\n[[pipeline.release.step]]\nname = \"version\"\nuses = \"version\"\nneeds = {needs}\n\
         \n[[pipeline.release.step]]\nname = \"publish\"\nuses = \"publish\"\nneeds = [\"version\"]\n\
         \n[[pipeline.release.step]]\nname = \"verify\"\nuses = \"verify\"\nneeds = [\"publish\"]\n\
         \n# Tell the team, on success and on failure:\n\
         # [[pipeline.release.step]]\n\
         # name = \"announce\"\n\
         # uses = \"notify\"\n\
         # with = {{ kind = \"slack\", webhook = \"{{{{ env.SLACK_WEBHOOK_URL }}}}\" }}\n"
    );
    s
}

/// Writes `commit-msg` into the repository's hooks directory (honouring `core.hooksPath`).
fn install_hook(cx: &Context, args: &Args) -> anyhow::Result<ExitCode> {
    let redactor = polyship_core::release::redact::Redactor::from_env();
    let Ok(dir) = polyship_core::release::git::git_path(&cx.root, "hooks", &redactor) else {
        return Err(CommandError {
            message: "`polyship init --hooks` needs a git repository".to_owned(),
            help: Some("run `git init` first".to_owned()),
            usage: true,
        }
        .into());
    };
    fs_err::create_dir_all(&dir)?;
    let path = dir.join("commit-msg");
    if let Ok(existing) = std::fs::read_to_string(&path)
        && !existing.contains(HOOK_MARKER)
    {
        return Err(CommandError::failed(
            format!("`{}` already exists and is not polyship's", path.display()),
            "add `polyship lint-commits --edit \"$1\"` to it by hand, or move it away and run again",
        )
        .into());
    }
    // PATH first, so upgrades apply; the binary that installed the hook as a fallback.
    let me = std::env::current_exe().context("failed to find the polyship executable")?;
    let script = format!(
        "#!/bin/sh\n{HOOK_MARKER}: checks the message against Conventional Commits.\n\
         if command -v polyship >/dev/null 2>&1; then exec polyship lint-commits --edit \"$1\"; fi\n\
         exec '{}' lint-commits --edit \"$1\"\n",
        me.display().to_string().replace('\'', "'\\''")
    );
    polyship_core::fsutil::write_atomic(&path, script.as_bytes())
        .with_context(|| format!("failed to write `{}`", path.display()))?;
    make_executable(&path)?;
    cx.status(
        "Installed",
        &format!("commit-msg hook at {}", path.display()),
    );
    report(args, "hook-installed", &path, None)
}

#[cfg(unix)]
fn make_executable(path: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

#[cfg(not(unix))]
fn make_executable(_: &std::path::Path) -> anyhow::Result<()> {
    Ok(())
}

/// The file's text: every key commented with what it does, and the discovered packages.
pub fn render(ws: &Workspace) -> String {
    // Editors that read taplo's directive validate the file with polyship's schema.
    let mut s = format!("#:schema {}\n", polyship_core::config::SCHEMA_URL);
    s.push_str("# polyship.toml: configuration for polyship, the release manager.\n");
    s.push_str(
        "# Every key is optional; what is not set here is discovered from the repository.\n",
    );
    s.push_str("# Reference: https://github.com/polyship/polyship/blob/main/docs/config.md\n#\n");
    if ws.packages.is_empty() {
        s.push_str("# Discovery found no packages.\n");
    } else {
        let _ = writeln!(s, "# Discovery found {} packages:", ws.packages.len());
        let w_eco = ws
            .packages
            .iter()
            .map(|p| p.ecosystem.as_str().len())
            .max()
            .unwrap_or(0);
        let w_name = ws.packages.iter().map(|p| p.name.len()).max().unwrap_or(0);
        let w_version = ws
            .packages
            .iter()
            .map(|p| p.version.as_deref().unwrap_or("-").len())
            .max()
            .unwrap_or(0);
        for p in &ws.packages {
            let line = format!(
                "#   {:w_eco$}  {:w_name$}  {:w_version$}  {}{}",
                p.ecosystem.as_str(),
                p.name,
                p.version.as_deref().unwrap_or("-"),
                p.path,
                if p.private { "  (private)" } else { "" }
            );
            let _ = writeln!(s, "{}", line.trim_end());
        }
    }
    s.push_str(
        "\n# Directories (globs relative to this file) whose packages polyship never picks up,\n\
         # such as test fixtures. A glob that names a directory covers everything below it.\n\
         ignore = []\n\
         \n\
         # Packages discovery does not find on its own, one table each:\n\
         # [[package]]\n\
         # path = \"tools/extra\"\n\
         # ecosystem = \"python\"  # cargo, npm or python; by default every manifest in the directory\n",
    );
    s
}

/// The settings polyship inferred, as keys: where changes come from, how tags are named and the
/// base branch.
fn inferred(
    ws: &Workspace,
    config: &polyship_core::config::LoadedConfig,
    changes: &polyship_core::changes::Changes,
) -> String {
    use std::collections::BTreeSet;
    let mut s = String::new();
    let sources: BTreeSet<String> = changes
        .rules
        .packages
        .iter()
        .map(|r| {
            let list: Vec<String> = r
                .sources
                .iter()
                .map(|k| format!("\"{}\"", k.as_str()))
                .collect();
            list.join(", ")
        })
        .collect();
    s.push_str(
        "\n# Where changes come from: \"changesets\" (the files in .changeset/), \"commits\"\n\
         # (Conventional Commits), or both. A repository that releases with changesets and writes\n\
         # Conventional Commit messages should not take both.\n",
    );
    if let (1, Some(first)) = (sources.len(), changes.rules.packages.first()) {
        let _ = writeln!(
            s,
            "# Inferred: {}.",
            first.origin.describe().trim_start_matches("inferred: ")
        );
        if changes.rules.lerna.is_some() {
            s.push_str(
                "# lerna.json is read too: its packages release when their files change, with\n\
                 # bumps from the angular preset, and every dependent follows.\n",
            );
        }
        let _ = writeln!(
            s,
            "[changes]\nsources = [{}]",
            sources.iter().next().map_or("", String::as_str)
        );
    } else {
        s.push_str("# Inferred per package; set `[changes] sources` to choose one for all.\n");
    }
    let schemes: BTreeSet<&str> = changes.schemes.written.iter().map(String::as_str).collect();
    s.push_str("\n# How release tags are named; the first template names new tags.\n");
    if let (1, Some(only)) = (schemes.len(), schemes.iter().next())
        && !ws.packages.is_empty()
    {
        let origin = changes.schemes.origins[0];
        let why = origin.describe();
        let _ = writeln!(s, "# {}{}.", why[..1].to_uppercase(), &why[1..]);
        // A default stays a comment, so the scheme is still read off the first tags made.
        let comment = if origin == polyship_core::changes::scheme::SchemeOrigin::Default {
            "# "
        } else {
            ""
        };
        let _ = writeln!(s, "{comment}[tags]\n{comment}templates = [\"{only}\"]");
    } else {
        s.push_str("# Inferred per package from the tags that exist:\n");
        for scheme in &schemes {
            let names: Vec<&str> = ws
                .packages
                .iter()
                .zip(&changes.schemes.written)
                .filter(|(_, w)| w.as_str() == *scheme)
                .map(|(p, _)| p.name.as_str())
                .take(6)
                .collect();
            let _ = writeln!(s, "#   {scheme}: {}", names.join(", "));
        }
        s.push_str("# [tags]\n# templates = [\"{name}@{version}\"]\n");
    }
    let _ = writeln!(
        s,
        "\n# The branch changes are merged into and releases are made from.\n# base-branch = \"{}\"",
        changes.base_branch(config)
    );
    groups(&mut s, changes);
    registries(&mut s, ws);
    s
}

/// Groups read from `.changeset/config.json` and `lerna.json`, as the `[[group]]` tables they
/// stand for (commented: they are read from those files already).
fn groups(s: &mut String, changes: &polyship_core::changes::Changes) {
    let mut tables: Vec<(String, &str, Vec<String>)> = Vec::new();
    if let Some(cs) = &changes.changesets_config {
        for (kind, list, from) in [
            ("fixed", &cs.fixed, "fixed"),
            ("linked", &cs.linked, "linked"),
        ] {
            for g in list {
                tables.push((
                    format!("`{from}` in .changeset/config.json"),
                    kind,
                    g.clone(),
                ));
            }
        }
    }
    if let Some(line) = changes.rules.lerna_line() {
        tables.push((
            format!("lerna.json's fixed version line {line}"),
            "locked",
            vec!["<every package lerna versions>".to_owned()],
        ));
    }
    if tables.is_empty() {
        return;
    }
    s.push_str("\n# Groups released together, read from the files that define them:\n");
    for (from, kind, members) in tables {
        let list: Vec<String> = members.iter().map(|m| format!("\"{m}\"")).collect();
        let _ = writeln!(
            s,
            "# ({from})\n# [[group]]\n# kind = \"{kind}\"\n# packages = [{}]",
            list.join(", ")
        );
    }
}

/// The registries packages name, and the `[publish]` keys that choose them.
fn registries(s: &mut String, ws: &Workspace) {
    use std::collections::BTreeSet;
    let named: BTreeSet<String> = ws
        .packages
        .iter()
        .filter_map(|p| p.registry.as_ref().map(|r| format!("{} {r}", p.ecosystem)))
        .collect();
    s.push_str(
        "\n# Where `polyship publish` publishes; the defaults are crates.io, npmjs.org and PyPI.\n",
    );
    for n in &named {
        let _ = writeln!(s, "# A package names the {n} registry.");
    }
    s.push_str(
        "# [publish.cargo]\n# index = \"https://index.crates.io/\"\n# [publish.npm]\n# registry = \"https://registry.npmjs.org/\"\n# [publish.python]\n# index = \"https://pypi.org/\"\n",
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn rendered_file_is_a_valid_config() {
        let ws = polyship_core::workspace::Workspace {
            root: ".".into(),
            packages: Vec::new(),
            graph: polyship_core::workspace::DependencyGraph::default(),
        };
        let text = super::render(&ws);
        let config = polyship_core::config::parse(&text).unwrap();
        assert!(config.ignore.is_empty());
    }
}
