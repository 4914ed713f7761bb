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

pub mod cache;
pub mod changeset;
pub mod changesets_config;
pub mod conventional;
mod gitdiff;
pub mod history;
pub mod lerna_config;
pub mod lint;
mod prefetch;
pub mod rules;
pub mod scheme;

use changeset::{Bump, Changeset};
use conventional::{BumpMap, ChangeKind, Conventional};
use history::History;

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
    /// Per package: which sources count and how commits are read.
    pub rules: rules::Rules,
    /// Per package: the tag scheme of its releases.
    pub schemes: scheme::Schemes,
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
/// else the remote's default branch (`origin/HEAD`), else `main`.
pub fn base_branch(
    config: &LoadedConfig,
    changesets: Option<&changesets_config::ChangesetsConfig>,
) -> String {
    config
        .config
        .base_branch
        .clone()
        .or_else(|| changesets.and_then(|c| c.base_branch.clone()))
        .or_else(|| remote_default_branch(&config.root))
        .unwrap_or_else(|| "main".to_owned())
}

/// The branch `refs/remotes/origin/HEAD` names (what `git clone` records as the remote's default),
/// or, without it, `master` when the repository has a `master` and no `main`.
pub fn remote_default_branch(root: &Path) -> Option<String> {
    let repo = gix::open(root).ok()?;
    if let Ok(Some(head)) = repo.try_find_reference("refs/remotes/origin/HEAD")
        && let gix::refs::TargetRef::Symbolic(target) = head.target()
    {
        let name = target.as_bstr().to_string();
        if let Some(branch) = name.strip_prefix("refs/remotes/origin/") {
            return Some(branch.to_owned());
        }
    }
    let exists = |r: &str| repo.try_find_reference(r).ok().flatten().is_some();
    (!exists("refs/heads/main")
        && !exists("refs/remotes/origin/main")
        && (exists("refs/heads/master") || exists("refs/remotes/origin/master")))
    .then(|| "master".to_owned())
}

/// The tag schemes of every package, from `polyship.toml`, `lerna.json` or the repository's tags
/// (`tags`: every tag, peeled; pass the remote's too when they are known).
pub fn tag_schemes(
    root: &Path,
    ws: &Workspace,
    config: &LoadedConfig,
    tags: &[(String, gix::ObjectId)],
) -> Result<scheme::Schemes, SourceError> {
    let mut warnings = Vec::new();
    let lerna = lerna_config::read(root, &mut warnings)?;
    let rules = rules::resolve(root, ws, config, lerna)?;
    let repo = history::open(root).ok();
    let files: Vec<Option<history::VersionFile>> = (0..ws.packages.len())
        .map(|p| version_file(ws, p))
        .collect();
    let version_at = |commit: gix::ObjectId, p: usize| {
        history::version_at(repo.as_ref()?, commit, files[p].as_ref()?)
    };
    scheme::resolve(ws, config, &rules, tags, &version_at)
}

/// Whether history is read through the cache in `.git/polyship/history-cache`; `--no-cache`
/// bypasses it (reads and writes nothing). Results are the same either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryCache {
    Use,
    Bypass,
}

/// Collects the changes of every package of `ws`.
pub fn collect(
    root: &Path,
    ws: &Workspace,
    config: &LoadedConfig,
    use_cache: HistoryCache,
) -> Result<Changes, ChangesError> {
    let mut warnings = Vec::new();
    let cs_config = changesets_config::read(root, &mut warnings).map_err(ChangesError::Config)?;
    let pre = changesets_config::read_pre(root).map_err(ChangesError::Config)?;
    let lerna = lerna_config::read(root, &mut warnings).map_err(ChangesError::Config)?;
    let rules = rules::resolve(root, ws, config, lerna).map_err(ChangesError::Config)?;
    warnings.extend(lerna_line_warning(ws, &rules));
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
    let changesets = if rules.packages.iter().any(rules::PackageRules::changesets) {
        changeset::read_all(root, ws, &ignored, &mut warnings).map_err(ChangesError::Changeset)?
    } else {
        Vec::new()
    };

    let repo = history::open(root)?;
    let tags = history::tags_of(root, &repo)?;
    let version_files: Vec<Option<history::VersionFile>> = (0..ws.packages.len())
        .map(|p| version_file(ws, p))
        .collect();
    let version_at = |commit: gix::ObjectId, p: usize| {
        history::version_at(&repo, commit, version_files[p].as_ref()?)
    };
    let schemes =
        scheme::resolve(ws, config, &rules, &tags, &version_at).map_err(ChangesError::Config)?;
    warnings.extend(schemes.warnings.iter().cloned());
    let versions: Vec<Option<String>> = ws.packages.iter().map(|p| p.version.clone()).collect();
    let ignored_change = |f: &str| rules.ignored_change(f);
    let net = rules
        .packages
        .iter()
        .any(|r| r.any_change > Bump::None)
        .then_some(history::NetChanges {
            has_ignores: !rules.ignore_changes.is_empty(),
            ignored: &ignored_change,
        });
    let layout: Vec<String> = ws.packages.iter().map(|p| p.path.clone()).collect();
    let mut cache = if use_cache == HistoryCache::Use && repo.object_hash() == gix::hash::Kind::Sha1
    {
        cache::Cache::load(repo.common_dir(), &layout)
    } else {
        cache::Cache::disabled(&layout)
    };
    let history = history::read(
        &repo,
        ws,
        &history::Options {
            templates: &schemes.templates,
            tags: &tags,
            shared_paths: config.config.commits.shared_paths,
            first_parent: rules.first_parent,
            version_files: &version_files,
            versions: &versions,
            net_changes: net,
        },
        &mut cache,
    )?;
    // Written while the changes are worked out (tens of megabytes on a long history).
    let saving = std::thread::spawn(move || cache.save());
    let map = BumpMap::with(config.config.commits.types.clone());

    let mut by_package: Vec<Vec<Change>> = vec![Vec::new(); ws.packages.len()];
    changeset_changes(&changesets, &rules, &history, &mut by_package);
    let (commits, nonconforming) = commit_changes(&history, &rules, &map, &mut by_package);
    warnings.extend(history.warnings.iter().cloned());
    let saved = saving
        .join()
        .unwrap_or_else(|_| Err("the history cache was not written: its writer panicked".into()));
    if let Err(e) = saved {
        warnings.push(Warning::new(e).help(
            "the next run reads history again; make `.git/polyship/` writable, or pass `--no-cache`",
        ));
    }
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
        rules,
        schemes,
        warnings,
    })
}

/// Each changeset's releases, for the packages that read changesets.
fn changeset_changes(
    changesets: &[Changeset],
    rules: &rules::Rules,
    history: &History,
    by_package: &mut [Vec<Change>],
) {
    for cs in changesets {
        for entry in &cs.releases {
            if !rules.packages[entry.package].changesets() {
                continue;
            }
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
}

/// Every pending commit parsed, and its change for each package that reads commits (a commit
/// and its revert cancel out); with the commits that are not Conventional Commits.
fn commit_changes(
    history: &History,
    rules: &rules::Rules,
    map: &BumpMap,
    by_package: &mut [Vec<Change>],
) -> (Vec<ParsedCommit>, Vec<String>) {
    let reverted = reverted_pairs(&history.commits);
    let mut commits = Vec::with_capacity(history.commits.len());
    let mut nonconforming = Vec::new();
    for (i, c) in history.commits.iter().enumerate() {
        let conventional = conventional::parse(&c.message).ok();
        if conventional.is_none() && !conventional::is_tool_generated(&c.message) {
            nonconforming.push(c.id.clone());
        }
        let kind = conventional
            .as_ref()
            .map_or(ChangeKind::None, |cc| map.kind(cc));
        let summary = c.message.lines().next().unwrap_or_default().to_owned();
        for &p in &c.packages {
            let r = &rules.packages[p];
            // A commit and its revert, both pending for this package, cancel out.
            if !r.commits()
                || reverted
                    .get(&i)
                    .is_some_and(|other| history.commits[*other].packages.contains(&p))
            {
                continue;
            }
            // Under the Conventional Commits preset, the message parsed above says it already.
            let kind = match r.preset {
                crate::config::Preset::Conventionalcommits => kind,
                preset @ crate::config::Preset::Angular => {
                    conventional::kind_under(&c.message, preset, map)
                }
            };
            if kind != ChangeKind::None {
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
    (commits, nonconforming)
}

/// A fixed `lerna.json` version that is not its packages' highest: lerna would release from it
/// anyway, but one of them is wrong.
fn lerna_line_warning(ws: &Workspace, rules: &rules::Rules) -> Option<Warning> {
    let line = semver::Version::parse(rules.lerna_line()?).ok()?;
    let (highest, name) = ws
        .packages
        .iter()
        .enumerate()
        .filter(|(p, _)| rules.packages[*p].lerna)
        .filter_map(|(_, pkg)| {
            Some((
                semver::Version::parse(pkg.version.as_deref()?).ok()?,
                &pkg.name,
            ))
        })
        .max_by(|a, b| a.0.cmp(&b.0))?;
    (highest != line).then(|| {
        let line_no = rules.lerna.as_ref().map_or(1, |l| l.version_line);
        Warning::new(format!(
            "`lerna.json` says the version line is {line}, but the highest version of its packages is {highest} (`{name}`)"
        ))
        .in_file(
            lerna_config::FILE,
            Some(crate::diagnostic::Position { line: line_no, column: 1, line_text: String::new() }),
        )
        .help(format!(
            "set `version` in lerna.json to the version last released (lerna releases from {}), or fix `{name}`'s version",
            line.max(highest.clone())
        ))
    })
}

/// Where package `p`'s version is written: its own manifest, the workspace manifest it inherits
/// from, or the manifest of the package it shares its version with.
fn version_file(ws: &Workspace, p: usize) -> Option<history::VersionFile> {
    match &ws.packages[p].version_source {
        crate::workspace::VersionSource::Manifest { location }
        | crate::workspace::VersionSource::Workspace { location } => Some(history::VersionFile {
            file: location.file.clone(),
            key: location.key.clone(),
            ecosystem: ws.packages[p].ecosystem,
        }),
        crate::workspace::VersionSource::Linked { ecosystem, name } => {
            let q = ws.find(*ecosystem, name)?;
            (q != p).then(|| version_file(ws, q)).flatten()
        }
        crate::workspace::VersionSource::Dynamic { .. }
        | crate::workspace::VersionSource::Missing => None,
    }
}

/// Pairs of pending commits where one reverts the other (index → the other index, both ways).
/// The reverted commit is found by the hash git writes (`This reverts commit <sha>.`), else by its
/// header, as conventional-changelog matches them.
fn reverted_pairs(commits: &[history::Commit]) -> std::collections::HashMap<usize, usize> {
    let mut pairs = std::collections::HashMap::new();
    for (i, c) in commits.iter().enumerate() {
        let Some(r) = conventional::reverted(&c.message) else {
            continue;
        };
        let by_hash = commits
            .iter()
            .enumerate()
            .skip(i + 1)
            .find(|(_, o)| r.hash.len() >= 7 && o.id.starts_with(&r.hash));
        let target = by_hash.or_else(|| {
            commits.iter().enumerate().skip(i + 1).find(|(_, o)| {
                o.message
                    .lines()
                    .next()
                    .is_some_and(|h| h.trim() == r.header)
            })
        });
        if let Some((j, _)) = target
            && !pairs.contains_key(&j)
        {
            pairs.insert(i, j);
            pairs.insert(j, i);
        }
    }
    pairs
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
