//! Stage 2: what must be released.
//!
//! [`collect`] reads both sources — changeset files and Conventional Commits since each package's
//! last release — and returns, per package, the changes that ask for a release. It only reads.
//! The raw kind of each commit is kept (breaking / feature / fix); turning kinds into bumps under
//! the 0.x rules is planning's job.

use std::path::Path;

use serde::Serialize;

use crate::config::LoadedConfig;
use crate::diagnostic::{SourceError, Warning};
use crate::workspace::Workspace;

pub mod changeset;
pub mod changesets_config;
pub mod conventional;
pub mod history;
pub mod lint;

use changeset::{Bump, Changeset};
use conventional::{BumpMap, ChangeKind, Conventional};
use history::{History, TagTemplate};

/// Where a change comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Changeset,
    Commit,
}

/// One change that concerns one package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Change {
    pub source: Source,
    /// The changeset id (its file name without `.md`) or the commit hash.
    pub id: String,
    /// The bump as asked: a changeset's word, or the commit kind's usual bump (breaking → major,
    /// feature → minor, fix → patch) before the 0.x rule.
    pub bump: Bump,
    /// For commits: the raw kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<ChangeKind>,
    pub summary: String,
    /// The commit that added the changeset, or the commit itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

/// A commit read from history, parsed.
#[derive(Debug, Clone)]
pub struct ParsedCommit {
    pub id: String,
    pub message: String,
    /// `None` when the message does not follow Conventional Commits.
    pub conventional: Option<Conventional>,
    pub kind: ChangeKind,
    pub packages: Vec<usize>,
}

/// Everything stage 2 found.
#[derive(Debug)]
pub struct Changes {
    pub changesets: Vec<Changeset>,
    pub commits: Vec<ParsedCommit>,
    /// Commits in some range whose message is not a Conventional Commit (and not a merge or
    /// another tool's message).
    pub nonconforming: Vec<String>,
    pub history: History,
    /// Per package index: its changes, changesets first.
    pub by_package: Vec<Vec<Change>>,
    pub changesets_config: Option<changesets_config::ChangesetsConfig>,
    pub pre: Option<changesets_config::PreState>,
    /// Per package index: whether `.changeset/config.json` ignores it.
    pub ignored: Vec<bool>,
    pub warnings: Vec<Warning>,
}

impl Changes {
    /// The branch changes merge into; see [`base_branch`].
    pub fn base_branch(&self, config: &LoadedConfig) -> String {
        base_branch(config, self.changesets_config.as_ref())
    }

    /// Packages that changed since the base but that no changeset *added since the base* names —
    /// as changesets' own gate counts them: each branch describes its own change. An empty
    /// changeset added since the base covers every package, as `changeset add --empty` does.
    pub fn uncovered(&self, since: &history::Since) -> Vec<usize> {
        let new: Vec<&Changeset> = self
            .changesets
            .iter()
            .filter(|c| !since.changesets_at_base.contains(&c.id))
            .collect();
        if new.iter().any(|c| c.releases.is_empty()) {
            return Vec::new();
        }
        since
            .packages
            .iter()
            .copied()
            .filter(|&p| !self.ignored[p])
            .filter(|&p| {
                !new.iter()
                    .any(|c| c.releases.iter().any(|e| e.package == p))
            })
            .collect()
    }
}

/// Why changes could not be collected.
#[derive(Debug, thiserror::Error)]
pub enum ChangesError {
    #[error("invalid changeset `{}`", .0.path.display())]
    Changeset(#[source] SourceError),
    #[error("invalid `{}`", .0.path.display())]
    Config(#[source] SourceError),
    #[error(transparent)]
    History(#[from] history::HistoryError),
}

/// The branch changes merge into: `polyship.toml` `base-branch`, else changesets' `baseBranch`,
/// else `main`.
pub fn base_branch(
    config: &LoadedConfig,
    changesets: Option<&changesets_config::ChangesetsConfig>,
) -> String {
    config
        .config
        .base_branch
        .clone()
        .or_else(|| changesets.and_then(|c| c.base_branch.clone()))
        .unwrap_or_else(|| "main".to_owned())
}

/// The tag templates of every package, from `polyship.toml` or the defaults.
pub fn tag_templates(
    ws: &Workspace,
    config: &LoadedConfig,
) -> Result<Vec<Vec<TagTemplate>>, SourceError> {
    ws.packages
        .iter()
        .map(|p| match &config.config.tags.templates {
            Some(list) => list
                .iter()
                .map(|t| {
                    TagTemplate::new(t.get_ref(), &p.name).map_err(|m| {
                        config
                            .error_at(t.span().start, m)
                            .help("write a template such as `{name}@{version}`")
                    })
                })
                .collect(),
            None => Ok(history::default_templates(ws, p)
                .iter()
                .filter_map(|t| TagTemplate::new(t, &p.name).ok())
                .collect()),
        })
        .collect()
}

/// Collects the changes of every package of `ws`.
pub fn collect(
    root: &Path,
    ws: &Workspace,
    config: &LoadedConfig,
) -> Result<Changes, ChangesError> {
    let mut warnings = Vec::new();
    let cs_config = changesets_config::read(root, &mut warnings).map_err(ChangesError::Config)?;
    let pre = changesets_config::read_pre(root).map_err(ChangesError::Config)?;
    let ignore_globs: Vec<glob::Pattern> = cs_config
        .as_ref()
        .map(|c| {
            c.ignore
                .iter()
                .filter_map(|g| glob::Pattern::new(g).ok())
                .collect()
        })
        .unwrap_or_default();
    let ignored = |p: usize| ignore_globs.iter().any(|g| g.matches(&ws.packages[p].name));
    let changesets =
        changeset::read_all(root, ws, &ignored, &mut warnings).map_err(ChangesError::Changeset)?;

    let templates = tag_templates(ws, config).map_err(ChangesError::Config)?;
    let repo = history::open(root)?;
    let history = history::read(
        &repo,
        ws,
        &history::Options {
            templates: &templates,
            shared_paths: config.config.commits.shared_paths,
            first_parent: config.config.commits.first_parent,
        },
    )?;
    let map = BumpMap::with(config.config.commits.types.clone());

    let mut by_package: Vec<Vec<Change>> = vec![Vec::new(); ws.packages.len()];
    for cs in &changesets {
        for entry in &cs.releases {
            by_package[entry.package].push(Change {
                source: Source::Changeset,
                id: cs.id.clone(),
                bump: entry.bump,
                kind: None,
                summary: cs.summary.clone(),
                commit: history.changeset_commits.get(&cs.id).cloned(),
            });
        }
    }
    let mut commits = Vec::with_capacity(history.commits.len());
    let mut nonconforming = Vec::new();
    for c in &history.commits {
        let conventional = conventional::parse(&c.message).ok();
        if conventional.is_none() && !conventional::is_tool_generated(&c.message) {
            nonconforming.push(c.id.clone());
        }
        let kind = conventional
            .as_ref()
            .map_or(ChangeKind::None, |cc| map.kind(cc));
        if kind != ChangeKind::None {
            let summary = c.message.lines().next().unwrap_or_default().to_owned();
            for &p in &c.packages {
                by_package[p].push(Change {
                    source: Source::Commit,
                    id: c.id.clone(),
                    bump: kind_bump(kind),
                    kind: Some(kind),
                    summary: summary.clone(),
                    commit: Some(c.id.clone()),
                });
            }
        }
        commits.push(ParsedCommit {
            id: c.id.clone(),
            message: c.message.clone(),
            conventional,
            kind,
            packages: c.packages.clone(),
        });
    }
    warnings.extend(history.warnings.iter().cloned());
    let ignored = (0..ws.packages.len()).map(ignored).collect();
    Ok(Changes {
        changesets,
        commits,
        nonconforming,
        history,
        by_package,
        changesets_config: cs_config,
        pre,
        ignored,
        warnings,
    })
}

/// The usual bump of a commit kind, before the 0.x rule.
pub fn kind_bump(kind: ChangeKind) -> Bump {
    match kind {
        ChangeKind::Breaking => Bump::Major,
        ChangeKind::Feature => Bump::Minor,
        ChangeKind::Fix => Bump::Patch,
        ChangeKind::None => Bump::None,
    }
}
