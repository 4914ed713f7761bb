//! One module per command; each is a clap `Args` and a `run` that calls into `polyship-core`.

pub mod add;
pub mod artifacts;
pub mod ci;
pub mod completions;
pub mod config;
pub mod init;
pub mod lint_commits;
pub mod list;
pub mod plan;
pub mod publish;
pub mod release_pr;
pub mod run;
pub mod status;
pub mod version;

use polyship_core::config::LoadedConfig;
use polyship_core::workspace::Discovery;

use crate::context::Context;

/// A discovered workspace with the configuration it was read with.
pub struct Discovered {
    pub config: LoadedConfig,
    pub workspace: polyship_core::workspace::Workspace,
}

/// Discovers the workspace and shows its warnings.
/// Starts reading the tags and the history cache while discovery runs (a worktree's cache,
/// elsewhere, is read when it is needed).
pub fn prefetch_history(cx: &Context) {
    polyship_core::changes::history::prefetch_tags(&cx.root);
    if cx.history_cache == polyship_core::changes::HistoryCache::Use {
        polyship_core::changes::cache::prefetch(&cx.root.join(".git"));
    }
}

pub fn discover(cx: &Context) -> anyhow::Result<Discovered> {
    let (config, discovery) = polyship_core::workspace::open(&cx.root)?;
    if config.present {
        cx.debug(&format!("read {}", polyship_core::config::FILE_NAME));
    }
    for warning in &discovery.warnings {
        cx.warn(warning);
    }
    for note in &discovery.notes {
        cx.debug(note);
    }
    cx.debug(&format!(
        "discovered {} packages",
        discovery.workspace.packages.len()
    ));
    let Discovery { workspace, .. } = discovery;
    Ok(Discovered { config, workspace })
}

/// Under `-v`: where each package's changes come from and how its tags are named, grouped, so a
/// user sees what polyship inferred from the repository.
pub fn describe_rules(
    cx: &Context,
    ws: &polyship_core::workspace::Workspace,
    changes: &polyship_core::changes::Changes,
) {
    use std::collections::BTreeMap;
    cx.debug(&format!(
        "walked {} commits ({} from the history cache)",
        changes.history.walked, changes.history.from_cache
    ));
    let mut sources: BTreeMap<(String, String), Vec<&str>> = BTreeMap::new();
    let mut schemes: BTreeMap<(String, &str), Vec<&str>> = BTreeMap::new();
    for (p, package) in ws.packages.iter().enumerate() {
        let rules = &changes.rules.packages[p];
        let mut text = rules.sources_text();
        if rules.lerna {
            text.push_str(" with lerna's rules");
        }
        sources
            .entry((text, rules.origin.describe()))
            .or_default()
            .push(&package.name);
        if let (Some(written), Some(origin)) = (
            changes.schemes.written.get(p),
            changes.schemes.origins.get(p),
        ) {
            schemes
                .entry((written.clone(), origin.describe()))
                .or_default()
                .push(&package.name);
        }
    }
    let names = |list: &[&str]| {
        let shown: Vec<&str> = list.iter().copied().take(4).collect();
        let more = list.len().saturating_sub(shown.len());
        if more == 0 {
            shown.join(", ")
        } else {
            format!("{} and {more} more", shown.join(", "))
        }
    };
    for ((text, why), list) in &sources {
        cx.debug(&format!("changes from {text} ({why}): {}", names(list)));
    }
    for ((template, why), list) in &schemes {
        cx.debug(&format!("tags `{template}` ({why}): {}", names(list)));
    }
}

/// Finishes or undoes what a killed polyship left half-written (a `version` stopped by `kill -9`,
/// a power cut), before anything else reads the repository, and says which.
pub fn recover(cx: &Context) -> anyhow::Result<()> {
    use polyship_core::transaction::{self, Recovered};
    if !cx.in_git {
        return Ok(());
    }
    let Some(git_dir) = transaction::git_dir(&cx.root) else {
        return Ok(());
    };
    match transaction::recover(&cx.root, &git_dir) {
        Ok(None) => Ok(()),
        Ok(Some(Recovered::Forward { command, files })) => {
            cx.note(&format!(
                "finished an interrupted `{command}`: its {files} files are in place and its release recorded"
            ));
            Ok(())
        }
        Ok(Some(Recovered::Back { command, files })) => {
            cx.note(&format!(
                "rolled back an interrupted `{command}`: its {files} files are as they were before it"
            ));
            Ok(())
        }
        Err(e) => {
            let help = e.help();
            Err(crate::render::CommandError {
                message: format!("{e}"),
                help,
                usage: false,
            }
            .into())
        }
    }
}

/// `--jobs N`: a count of at least one.
pub fn parse_jobs(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("0 jobs run nothing: give at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(_) => Err("a number of jobs is a whole number, at least 1".to_owned()),
    }
}
