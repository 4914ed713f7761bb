//! The rules a repository releases by, per package: which sources of changes count, how commit
//! messages are read, the least bump of a changed package — from `polyship.toml` when it says,
//! else inferred from what the repository already uses, the way its own tool would behave.
//!
//! The inference is deliberately the one a user switching tools expects: a `.changeset/`
//! directory means changesets decide (a changesets repository that writes Conventional Commit
//! messages never releases from its commits); a `lerna.json` means lerna's rules for lerna's
//! packages (a changed package releases at least a patch, bumps from the angular preset, every
//! dependent follows); otherwise Conventional Commits.

use std::collections::BTreeSet;
use std::path::Path;

use crate::changes::changeset::Bump;
use crate::changes::lerna_config::{LernaConfig, Mode};
use crate::config::{LoadedConfig, Preset, SourceKind};
use crate::diagnostic::SourceError;
use crate::workspace::Workspace;

/// Where a package's sources were decided.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// `[changes.packages]` in `polyship.toml`.
    Package,
    /// A `[[group]]`'s `sources`.
    Group(String),
    /// `[changes] sources`.
    Workspace,
    /// Inferred: `.changeset/` exists.
    Changesets,
    /// Inferred: `lerna.json` governs the package.
    Lerna,
    /// Inferred: nothing else says, so Conventional Commits.
    Default,
}

impl Origin {
    /// Why, in words, for `status` and `plan -v`.
    pub fn describe(&self) -> String {
        match self {
            Origin::Package => "set for the package in `[changes.packages]`".to_owned(),
            Origin::Group(g) => format!("set for the group `{g}`"),
            Origin::Workspace => "set in `[changes] sources`".to_owned(),
            Origin::Changesets => "inferred: the repository has `.changeset/`".to_owned(),
            Origin::Lerna => "inferred: `lerna.json` with lerna's rules".to_owned(),
            Origin::Default => "inferred: no `.changeset/` or `lerna.json`".to_owned(),
        }
    }
}

/// One package's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageRules {
    pub sources: BTreeSet<SourceKind>,
    pub origin: Origin,
    /// How its commits' messages are read.
    pub preset: Preset,
    /// The least bump when its files changed since its last release.
    pub any_change: Bump,
    /// `lerna.json` governs it.
    pub lerna: bool,
}

impl PackageRules {
    pub fn changesets(&self) -> bool {
        self.sources.contains(&SourceKind::Changesets)
    }

    pub fn commits(&self) -> bool {
        self.sources.contains(&SourceKind::Commits)
    }

    /// `changesets`, `commits` or `changesets + commits`.
    pub fn sources_text(&self) -> String {
        self.sources
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" + ")
    }
}

/// The rules of every package.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    pub packages: Vec<PackageRules>,
    /// Walk only the first-parent chain.
    pub first_parent: bool,
    /// Files whose changes do not count for `any-change`.
    pub ignore_changes: Vec<glob::Pattern>,
    pub lerna: Option<LernaConfig>,
}

/// Resolves every package's rules.
pub fn resolve(
    root: &Path,
    ws: &Workspace,
    config: &LoadedConfig,
    lerna: Option<LernaConfig>,
) -> Result<Rules, SourceError> {
    let cfg = &config.config;
    let has_changesets = root.join(crate::changes::changeset::DIR).is_dir();
    let workspace: Option<(BTreeSet<SourceKind>, usize)> = cfg
        .changes
        .sources
        .as_ref()
        .map(|s| (s.get_ref().iter().copied().collect(), s.span().start));
    let overrides = package_sources(ws, config)?;
    for (sources, offset) in overrides
        .iter()
        .map(|(_, s, o)| (s, *o))
        .chain(workspace.as_ref().map(|(s, o)| (s, *o)))
    {
        check_sources(config, sources, offset, has_changesets)?;
    }
    let groups: Vec<(Vec<glob::Pattern>, String, BTreeSet<SourceKind>)> = cfg
        .groups
        .iter()
        .filter_map(|g| {
            let g = g.get_ref();
            let sources = g.sources.as_ref()?;
            let patterns = g
                .packages
                .iter()
                .filter_map(|m| glob::Pattern::new(m).ok())
                .collect();
            let name = g
                .name
                .clone()
                .or_else(|| g.packages.first().cloned())
                .unwrap_or_default();
            Some((patterns, name, sources.iter().copied().collect()))
        })
        .collect();
    let lerna_mode = lerna.is_some();
    let packages = ws
        .packages
        .iter()
        .map(|p| {
            let governed = lerna_mode && p.ecosystem.adapter().governed_by_lerna();
            let matches = |g: &glob::Pattern| g.matches(&p.name) || g.matches(&p.id());
            let (sources, origin) =
                if let Some((_, s, _)) = overrides.iter().find(|(g, _, _)| matches(g)) {
                    (s.clone(), Origin::Package)
                } else if let Some((_, name, s)) =
                    groups.iter().find(|(gs, _, _)| gs.iter().any(matches))
                {
                    (s.clone(), Origin::Group(name.clone()))
                } else if let Some((s, _)) = &workspace {
                    (s.clone(), Origin::Workspace)
                } else if has_changesets {
                    ([SourceKind::Changesets].into(), Origin::Changesets)
                } else if governed {
                    ([SourceKind::Commits].into(), Origin::Lerna)
                } else {
                    ([SourceKind::Commits].into(), Origin::Default)
                };
            PackageRules {
                sources,
                origin,
                preset: cfg.commits.preset.unwrap_or(if governed {
                    lerna_preset(lerna.as_ref())
                } else {
                    Preset::Conventionalcommits
                }),
                any_change: cfg.commits.any_change.unwrap_or(if governed {
                    Bump::Patch
                } else {
                    Bump::None
                }),
                lerna: governed,
            }
        })
        .collect();
    let ignore_changes = ignore_changes(config, lerna.as_ref())?;
    Ok(Rules {
        packages,
        first_parent: cfg.commits.first_parent.unwrap_or(!lerna_mode),
        ignore_changes,
        lerna,
    })
}

/// `[changes.packages]`: per package (a name or glob), its sources and where they are written.
#[allow(clippy::type_complexity)]
fn package_sources(
    ws: &Workspace,
    config: &LoadedConfig,
) -> Result<Vec<(glob::Pattern, BTreeSet<SourceKind>, usize)>, SourceError> {
    let mut overrides = Vec::new();
    for (pattern, sources) in &config.config.changes.packages {
        let glob = glob::Pattern::new(pattern).map_err(|e| {
            config
                .error_at(
                    sources.span().start,
                    format!("`{pattern}` is not a valid glob: {e}"),
                )
                .help(
                    "name a package as `polyship list` shows it, or write a glob such as `@acme/*`",
                )
        })?;
        if !ws
            .packages
            .iter()
            .any(|p| glob.matches(&p.name) || glob.matches(&p.id()))
        {
            return Err(config
                .error_at(
                    sources.span().start,
                    format!("no package is named `{pattern}`"),
                )
                .help("name a package as `polyship list` shows it"));
        }
        overrides.push((
            glob,
            sources.get_ref().iter().copied().collect(),
            sources.span().start,
        ));
    }
    Ok(overrides)
}

/// A list of sources (written at `offset` of `polyship.toml`) names at least one, and changesets
/// only where there is a `.changeset/` directory.
fn check_sources(
    config: &LoadedConfig,
    sources: &BTreeSet<SourceKind>,
    offset: usize,
    has_changesets: bool,
) -> Result<(), SourceError> {
    if sources.is_empty() {
        return Err(config
            .error_at(offset, "the list of sources is empty")
            .help("name `\"changesets\"`, `\"commits\"` or both"));
    }
    if sources.contains(&SourceKind::Changesets) && !has_changesets {
        return Err(config
            .error_at(
                offset,
                "changesets are a source, but the repository has no `.changeset/` directory",
            )
            .help("create it with `polyship add`, or use `sources = [\"commits\"]`"));
    }
    Ok(())
}

/// The globs of changed files that release nothing: `[commits] ignore-changes`, else lerna's
/// `ignoreChanges`.
fn ignore_changes(
    config: &LoadedConfig,
    lerna: Option<&LernaConfig>,
) -> Result<Vec<glob::Pattern>, SourceError> {
    let cfg = &config.config;
    let mut ignore: Vec<&str> = cfg
        .commits
        .ignore_changes
        .iter()
        .map(String::as_str)
        .collect();
    if cfg.commits.ignore_changes.is_empty()
        && let Some(l) = lerna
    {
        ignore.extend(l.ignore_changes.iter().map(String::as_str));
    }
    ignore
        .iter()
        .map(|g| {
            glob::Pattern::new(g.trim_start_matches("./")).map_err(|e| {
                SourceError::new(
                    if cfg.commits.ignore_changes.is_empty() {
                        crate::changes::lerna_config::FILE
                    } else {
                        crate::config::FILE_NAME
                    },
                    format!("`{g}` is not a valid glob: {e}"),
                )
                .help("write a glob such as `**/*.md`")
            })
        })
        .collect()
}

/// The preset `lerna version --conventional-commits` reads messages with.
fn lerna_preset(lerna: Option<&LernaConfig>) -> Preset {
    match lerna.and_then(|l| l.changelog_preset.as_deref()) {
        Some(p) if p.contains("conventionalcommits") => Preset::Conventionalcommits,
        _ => Preset::Angular,
    }
}

impl Rules {
    /// The lerna fixed-mode version line, when `lerna.json` keeps one.
    pub fn lerna_line(&self) -> Option<&str> {
        match &self.lerna.as_ref()?.mode {
            Mode::Fixed(v) => Some(v),
            Mode::Independent => None,
        }
    }

    /// Whether `lerna.json`'s `allowBranch` lets `branch` be versioned (always, without it).
    pub fn branch_allowed(&self, branch: &str) -> bool {
        let Some(lerna) = &self.lerna else {
            return true;
        };
        lerna.allow_branch.is_empty()
            || lerna
                .allow_branch
                .iter()
                .any(|g| glob::Pattern::new(g).is_ok_and(|p| p.matches(branch)))
    }

    /// Whether a changed file (root-relative) is one whose changes do not count.
    pub fn ignored_change(&self, file: &str) -> bool {
        // lerna matches with minimatch's `matchBase`: a pattern without `/` matches the base name.
        let options = glob::MatchOptions {
            case_sensitive: true,
            require_literal_separator: true,
            require_literal_leading_dot: false,
        };
        self.ignore_changes.iter().any(|g| {
            g.matches_with(file, options)
                || (!g.as_str().contains('/')
                    && g.matches_with(file.rsplit('/').next().unwrap_or(file), options))
        })
    }
}
