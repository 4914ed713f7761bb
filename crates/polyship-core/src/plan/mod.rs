//! Stage 3: from a workspace and its changes to a plan — which packages release, from which version
//! to which, and why.
//!
//! The plan is a plain value and the single source of truth for what happens next. It is computed
//! to a fixed point: own changes give each package a bump (below 1.0.0 the configured rules soften
//! commit bumps); groups align their members; a maturin wheel moves with its crate; and a release
//! reaches its dependents as the configured policy says (dev-dependencies never force one). Crates
//! that inherit `[workspace.package] version` form an implicit fixed group. Every
//! step only raises bumps, so the order of the rules does not matter.

pub mod saved;

use std::collections::BTreeMap;

use semver::Version;
use serde::Serialize;

use crate::changes::changeset::Bump;
use crate::changes::conventional::ChangeKind;
use crate::changes::{Change, Changes, Source};
use crate::config::{DependentsPolicy, GroupKind, LoadedConfig};
use crate::diagnostic::{SourceError, Warning};
use crate::version::bump::{inc, with_prerelease};
use crate::workspace::{DependencyKind, Ecosystem, VersionSource, Workspace};

/// Why a package releases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Reason {
    /// Its own changes ask for it.
    Changes,
    /// A dependency releases: its new version leaves the requirement, or the policy is `patch`.
    Dependency {
        name: String,
        ecosystem: Ecosystem,
        version: String,
        requirement: Option<String>,
    },
    /// Its group releases together.
    Group {
        group: String,
        group_kind: GroupKind,
    },
    /// It builds from the same source as another package and shares its version.
    SameSource { name: String, ecosystem: Ecosystem },
    /// It is on a prerelease and pre mode ends.
    Graduates,
    /// Its files changed since its last release (lerna releases every changed package).
    Changed,
}

/// One package's release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Release {
    /// Index into [`Workspace::packages`].
    #[serde(skip)]
    pub package: usize,
    pub name: String,
    pub ecosystem: Ecosystem,
    pub from: String,
    pub to: String,
    pub bump: Bump,
    pub reasons: Vec<Reason>,
    /// The changes that go into its changelog.
    pub changes: Vec<Change>,
}

/// What will be released.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub releases: Vec<Release>,
    #[serde(skip)]
    pub warnings: Vec<Warning>,
}

/// Why no plan could be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("invalid `{}`", .0.path.display())]
    Input(#[source] SourceError),
    #[error(
        "releasing `{dependency}` {version} leaves `{dependent}` behind (it requires `{requirement}`), but the filter leaves `{dependent}` out"
    )]
    Excluded {
        dependency: String,
        version: String,
        dependent: String,
        requirement: String,
    },
    #[error("the packages depend on each other in a cycle: {}; no release order exists", .0.cycle.join(" → "))]
    Cycle(crate::workspace::CycleError),
    #[error("the version {version} is not above `{package}`'s version {current}")]
    NotAbove {
        package: String,
        current: String,
        version: String,
    },
}

impl PlanError {
    pub fn help(&self) -> Option<String> {
        match self {
            PlanError::Input(e) => e.help.clone(),
            PlanError::Excluded { dependency, .. } => Some(format!(
                "select its dependents too, with `--filter '...{dependency}'`"
            )),
            PlanError::Cycle(c) => Some(c.help()),
            PlanError::NotAbove { .. } => Some(
                "give a version above every released package's, or leave it out to plan one from the changes".into(),
            ),
        }
    }
}

/// How a plan is made beyond the repository's own configuration.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Packages whose own changes count (`--filter`); `None` selects every package. Groups still
    /// pull their members in; a dependent left behind by a selected release is an error.
    pub selected: Option<Vec<bool>>,
    /// Prerelease mode.
    pub pre: Option<PreMode>,
    /// The version every release goes to, whatever its bump (`polyship version 2.0.0`); each
    /// ecosystem writes it in its own scheme. It must be above every releasing package's version.
    pub version: Option<Version>,
}

/// A prerelease line, as `.changeset/pre.json` records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreMode {
    /// Enter or continue the line with this label (`1.3.0-beta.0`, `-beta.1` …). Changesets
    /// already released on the line (`released`) do not count again.
    Continue {
        label: String,
        released: Vec<String>,
    },
    /// Leave the line: final versions, and every package on a prerelease releases.
    Graduate,
}

/// A group after its member names are resolved.
struct Group {
    name: String,
    kind: GroupKind,
    members: Vec<usize>,
    dependents: Option<DependentsPolicy>,
    /// changesets' `linked`: releasing members also share one version, from the highest of theirs.
    align: bool,
    /// A locked group's version line (lerna.json's `version`); `None`: the highest member's.
    line: Option<Version>,
}

impl Group {
    /// The members that have a next version.
    fn releasing(&self, next: &[Option<Version>]) -> Vec<usize> {
        self.members
            .iter()
            .copied()
            .filter(|&m| next[m].is_some())
            .collect()
    }
}

fn groups(
    ws: &Workspace,
    config: &LoadedConfig,
    changes: &Changes,
) -> Result<Vec<Group>, PlanError> {
    let resolve = |patterns: &[String]| -> Result<Vec<usize>, String> {
        let mut members = Vec::new();
        for pattern in patterns {
            if pattern.contains(['*', '?', '[']) {
                let glob = glob::Pattern::new(pattern).map_err(|e| format!("`{pattern}`: {e}"))?;
                members
                    .extend((0..ws.packages.len()).filter(|&i| glob.matches(&ws.packages[i].name)));
            } else {
                members.push(crate::changes::changeset::resolve_name(ws, pattern)?);
            }
        }
        members.sort_unstable();
        members.dedup();
        Ok(members)
    };
    let mut out = Vec::new();
    for g in &config.config.groups {
        let span = g.span();
        let g = g.get_ref();
        let members = resolve(&g.packages).map_err(|m| {
            PlanError::Input(
                config
                    .error_at(span.start, m)
                    .help("name packages as `polyship list` shows them"),
            )
        })?;
        let name = g
            .name
            .clone()
            .or_else(|| g.packages.first().cloned())
            .unwrap_or_default();
        out.push(Group {
            name,
            kind: g.kind,
            members,
            dependents: g.dependents,
            align: false,
            line: None,
        });
    }
    // Crates that inherit `[workspace.package] version` share one version field: they can only
    // release together, at one version.
    let mut shared: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, p) in ws.packages.iter().enumerate() {
        if let VersionSource::Workspace { location } = &p.version_source {
            shared.entry(location.file.as_str()).or_default().push(i);
        }
    }
    for (file, members) in shared {
        if members.len() > 1 {
            out.push(Group {
                name: match crate::workspace::parent_dir(file) {
                    "." => "cargo workspace".to_owned(),
                    dir => format!("cargo workspace {dir}"),
                },
                kind: GroupKind::Fixed,
                members,
                dependents: None,
                align: false,
                line: None,
            });
        }
    }
    if let Some(cs) = &changes.changesets_config {
        for (kind, list) in [
            (GroupKind::Fixed, &cs.fixed),
            (GroupKind::Linked, &cs.linked),
        ] {
            for g in list {
                let members = resolve(g).map_err(|m| {
                    PlanError::Input(
                        SourceError::new(".changeset/config.json", m)
                            .help("name packages as `polyship list` shows them"),
                    )
                })?;
                out.push(Group {
                    name: g.first().cloned().unwrap_or_default(),
                    kind,
                    members,
                    dependents: None,
                    align: kind == GroupKind::Linked,
                    line: None,
                });
            }
        }
    }
    // lerna's fixed mode: the packages lerna versions share its version line.
    if let Some(line) = changes.rules.lerna_line() {
        let members: Vec<usize> = (0..ws.packages.len())
            .filter(|&p| changes.rules.packages[p].lerna && ws.packages[p].version.is_some())
            .collect();
        if !members.is_empty() {
            out.push(Group {
                name: "lerna.json".to_owned(),
                kind: GroupKind::Locked,
                members,
                dependents: None,
                align: false,
                line: Version::parse(line).ok(),
            });
        }
    }
    Ok(out)
}

/// A bump past the largest number a version part holds: an error at the version's line, never a
/// wrapped (smaller) version.
fn overflow(ws: &Workspace, p: usize, from: &Version, bump: Bump) -> PlanError {
    let package = &ws.packages[p];
    let err = at_version(
        package,
        format!(
            "a {} release of `{}` from {from} overflows: a version part cannot go past {}",
            bump.as_str(),
            package.id(),
            u64::MAX
        ),
    )
    .help("set the version by hand to one that can be released from");
    PlanError::Input(err)
}

/// An error about `package`'s version, at the line that writes it when discovery knows one (else
/// about its manifest).
fn at_version(package: &crate::workspace::Package, message: String) -> SourceError {
    let location = match &package.version_source {
        VersionSource::Manifest { location } | VersionSource::Workspace { location } => {
            Some(location)
        }
        _ => None,
    };
    let err = SourceError::new(
        location.map_or(package.manifest.as_str(), |l| l.file.as_str()),
        message,
    );
    match location {
        Some(l) => err.at_position(Some(crate::diagnostic::Position {
            line: l.line,
            column: 1,
            line_text: String::new(),
        })),
        None => err,
    }
}

/// lerna's `isBreakingChange`: a release from `line` by `bump` that every member must take.
fn breaks_line(line: &Version, bump: Bump) -> bool {
    match bump {
        Bump::Major => true,
        Bump::Minor => line.major == 0,
        Bump::Patch => line.major == 0 && line.minor == 0,
        Bump::None => false,
    }
}

/// The version a package plans from, in SemVer; `Err` with a warning's text when it cannot release.
fn current(ws: &Workspace, p: usize) -> Result<Version, String> {
    let package = &ws.packages[p];
    let Some(text) = &package.version else {
        return Err(match &package.version_source {
            VersionSource::Dynamic { backend } => format!(
                "`{}` has changes, but its version is computed by `{backend}` at build time; polyship leaves it to the tag",
                package.id()
            ),
            _ => format!(
                "`{}` has changes but no version; {}",
                package.id(),
                package.ecosystem.adapter().missing_version_help(package)
            ),
        });
    };
    package.ecosystem.adapter().scheme().read(text).ok_or_else(|| {
        // Say why when a part is too large, rather than that the text is not a version.
        let huge = text
            .split(|c: char| !c.is_ascii_digit())
            .any(|n| !n.is_empty() && n.parse::<u64>().is_err());
        let text = crate::diagnostic::clip(text);
        if huge {
            format!(
                "the version `{text}` of `{}` in `{}` has a number larger than {}, the largest a version part holds",
                package.id(),
                package.manifest,
                u64::MAX
            )
        } else {
            format!(
                "the version `{text}` of `{}` in `{}` does not parse",
                package.id(),
                package.manifest
            )
        }
    })
}

fn render(ecosystem: Ecosystem, version: &Version) -> Result<String, String> {
    ecosystem.adapter().scheme().render(version)
}

/// The bump a change asks for: changesets as written; commits by kind, softened below 1.0.0.
fn change_bump(change: &Change, current: &Version, config: &LoadedConfig) -> Bump {
    match (change.source, change.kind) {
        (Source::Commit, Some(kind)) if current.major == 0 => match kind {
            ChangeKind::Breaking => config.config.versioning.breaking_pre_major,
            ChangeKind::Feature => config.config.versioning.feature_pre_major,
            ChangeKind::Fix => Bump::Patch,
            ChangeKind::None => Bump::None,
        },
        _ => change.bump,
    }
}

/// Plans the release of every package of `ws` with pending `changes`.
pub fn plan(ws: &Workspace, changes: &Changes, config: &LoadedConfig) -> Result<Plan, PlanError> {
    plan_with(ws, changes, config, &Options::default())
}

/// The prerelease number after `current`'s: `1.3.0-beta.1` → 2, `1.2.0` → 0 (changesets counts on
/// across a label switch: `-beta.1` then `--pre rc` gives `-rc.2`). `None` when it would overflow.
fn next_pre_number(current: &Version) -> Option<u64> {
    match current
        .pre
        .as_str()
        .split('.')
        .nth(1)
        .and_then(|n| n.parse::<u64>().ok())
    {
        Some(n) => n.checked_add(1),
        None => Some(0),
    }
}

/// Packages that never release: changesets' `ignore`, and private packages under
/// `privatePackages.version: false`. Their changesets stay pending.
pub fn frozen(ws: &Workspace, changes: &Changes) -> Vec<bool> {
    let unversioned_private = changes
        .changesets_config
        .as_ref()
        .is_some_and(|c| !c.private_version);
    // `lerna.json` `"private": false` leaves private packages out of every release.
    let lerna_no_private = changes.rules.lerna.as_ref().is_some_and(|l| !l.private);
    (0..ws.packages.len())
        .map(|p| {
            changes.ignored[p]
                || (unversioned_private && ws.packages[p].private)
                || (lerna_no_private && changes.rules.packages[p].lerna && ws.packages[p].private)
        })
        .collect()
}

/// The dependents policy outside groups: `[versioning] dependents`, else changesets'
/// `updateInternalDependents`, else out-of-range.
pub fn default_policy(config: &LoadedConfig, changes: &Changes) -> DependentsPolicy {
    config.config.versioning.dependents.unwrap_or_else(|| {
        match changes
            .changesets_config
            .as_ref()
            .and_then(|c| c.update_internal_dependents.as_deref())
        {
            Some("always") => DependentsPolicy::Patch,
            _ => DependentsPolicy::OutOfRange,
        }
    })
}

/// The dependents policy of package `p` outside groups: lerna releases every dependent of the
/// packages it governs, unless `[versioning] dependents` says otherwise.
pub fn package_policy(config: &LoadedConfig, changes: &Changes, p: usize) -> DependentsPolicy {
    if config.config.versioning.dependents.is_none() && changes.rules.packages[p].lerna {
        return DependentsPolicy::All;
    }
    default_policy(config, changes)
}

/// A requirement as it reads once published ([`crate::ecosystem::Adapter::published_requirement`]):
/// pnpm and yarn replace `workspace:*` with the exact current version. `None`: leave it out
/// (changesets' `bumpVersionsWithWorkspaceProtocolOnly` ignores plain npm requirements).
pub fn published_requirement(
    dep: &crate::workspace::Dependency,
    current: Option<&str>,
    workspace_protocol_only: bool,
) -> Option<Option<String>> {
    dep.ecosystem.adapter().published_requirement(
        dep.requirement.as_deref(),
        current,
        workspace_protocol_only,
    )
}

/// The bump that goes from `from` to `to`.
fn difference(from: &Version, to: &Version) -> Bump {
    if to.major != from.major {
        Bump::Major
    } else if to.minor != from.minor {
        Bump::Minor
    } else {
        Bump::Patch
    }
}

/// The release tags of `plan` that already exist in `repo`: an explicit version must be new.
pub fn existing_tags(repo: &gix::Repository, plan: &Plan, changes: &Changes) -> Vec<String> {
    plan.releases
        .iter()
        .filter_map(|r| {
            let tag = changes.schemes.templates[r.package].first()?.render(&r.to);
            let name = format!("refs/tags/{tag}");
            repo.try_find_reference(name.as_str())
                .ok()
                .flatten()
                .map(|_| tag)
        })
        .collect()
}

/// Plans with `options`: a selection of packages and a prerelease mode.
pub fn plan_with(
    ws: &Workspace,
    changes: &Changes,
    config: &LoadedConfig,
    options: &Options,
) -> Result<Plan, PlanError> {
    let mut planning = Planning::new(ws, changes, config, options)?;
    planning.own_bumps();
    planning.propagate()?;
    let next = planning.next_versions()?;
    planning.releases(&next)
}

/// One plan being made: the packages' current versions and the changes that count, then the
/// bump each takes and why.
struct Planning<'a> {
    ws: &'a Workspace,
    changes: &'a Changes,
    config: &'a LoadedConfig,
    options: &'a Options,
    versions: Vec<Result<Version, String>>,
    /// The changes that count: changesets already released on the prerelease line do not.
    counted: Vec<Vec<Change>>,
    frozen: Vec<bool>,
    groups: Vec<Group>,
    /// Packages that share one source (a maturin wheel and its crate), `(wheel, crate)`.
    same_source: Vec<(usize, usize)>,
    bump: Vec<Bump>,
    /// What each package's own changes ask for, whether or not they release it by themselves.
    own_bump: Vec<Bump>,
    reasons: Vec<Vec<Reason>>,
}

impl<'a> Planning<'a> {
    fn new(
        ws: &'a Workspace,
        changes: &'a Changes,
        config: &'a LoadedConfig,
        options: &'a Options,
    ) -> Result<Self, PlanError> {
        let n = ws.packages.len();
        let versions: Vec<Result<Version, String>> = (0..n).map(|p| current(ws, p)).collect();
        let released_before: &[String] = match &options.pre {
            Some(PreMode::Continue { released, .. }) => released,
            _ => &[],
        };
        let counted: Vec<Vec<Change>> = (0..n)
            .map(|p| {
                if !options.selected.as_ref().is_none_or(|s| s[p]) {
                    return Vec::new();
                }
                changes.by_package[p]
                    .iter()
                    .filter(|c| !(c.source == Source::Changeset && released_before.contains(&c.id)))
                    .cloned()
                    .collect()
            })
            .collect();
        // A version that is written but does not parse cannot be released from: an error, not a
        // skip.
        for p in 0..n {
            let package = &ws.packages[p];
            if let (Err(message), Some(_)) = (&versions[p], &package.version)
                && counted[p].iter().any(|c| c.bump > Bump::None)
            {
                let err = at_version(package, message.clone())
                    .help(package.ecosystem.adapter().scheme().help());
                return Err(PlanError::Input(err));
            }
        }
        let same_source = (0..n)
            .filter_map(|p| match &ws.packages[p].version_source {
                VersionSource::Linked { ecosystem, name } => {
                    ws.find(*ecosystem, name).map(|q| (p, q))
                }
                _ => None,
            })
            .collect();
        Ok(Self {
            ws,
            changes,
            config,
            options,
            versions,
            counted,
            frozen: frozen(ws, changes),
            groups: groups(ws, config, changes)?,
            same_source,
            bump: vec![Bump::None; n],
            own_bump: vec![Bump::None; n],
            reasons: vec![Vec::new(); n],
        })
    }

    fn selected(&self, p: usize) -> bool {
        self.options.selected.as_ref().is_none_or(|s| s[p])
    }

    /// The prerelease label versions go to, when on a prerelease line.
    fn label(&self) -> Option<&str> {
        match &self.options.pre {
            Some(PreMode::Continue { label, .. }) => Some(label.as_str()),
            _ => None,
        }
    }

    /// The version a bump gives, on the prerelease line when there is one.
    fn version_for(&self, p: usize, b: Bump) -> Option<Version> {
        let v = self.versions[p].as_ref().ok()?;
        if let Some(explicit) = &self.options.version {
            return Some(explicit.clone());
        }
        let next = inc(v, b)?;
        match self.label() {
            Some(label) => with_prerelease(&next, label, next_pre_number(v)?).ok(),
            None => Some(next),
        }
    }

    /// How `p`'s dependents follow its releases: its group's policy, else its own.
    fn policy(&self, p: usize) -> DependentsPolicy {
        self.groups
            .iter()
            .find(|g| g.members.contains(&p))
            .and_then(|g| g.dependents)
            .unwrap_or_else(|| package_policy(self.config, self.changes, p))
    }

    /// Raises `p`'s bump to `to` for `why`; whether it rose.
    fn raise(&mut self, p: usize, to: Bump, why: Reason) -> bool {
        if to > self.bump[p] && self.versions[p].is_ok() && !self.frozen[p] {
            self.bump[p] = to;
            if !self.reasons[p].contains(&why) {
                self.reasons[p].push(why);
            }
            return true;
        }
        false
    }

    /// What each package's own changes (and lerna's `any-change`, and graduation) release.
    fn own_bumps(&mut self) {
        let (ws, changes, config) = (self.ws, self.changes, self.config);
        for p in 0..ws.packages.len() {
            let Ok(v) = &self.versions[p] else { continue };
            if self.frozen[p] {
                continue;
            }
            // A locked group's members are below 1.0.0 when its line is.
            let line = self
                .groups
                .iter()
                .find(|g| g.kind == GroupKind::Locked && g.members.contains(&p))
                .and_then(|g| g.line.as_ref())
                .filter(|l| *l > v)
                .unwrap_or(v);
            let own = self.counted[p]
                .iter()
                .map(|c| change_bump(c, line, config))
                .max()
                .unwrap_or(Bump::None);
            self.own_bump[p] = own;
            let rules = &changes.rules.packages[p];
            let forced = rules.lerna
                && changes.rules.lerna.as_ref().is_some_and(|l| {
                    l.force_publish.iter().any(|g| {
                        g == "*"
                            || glob::Pattern::new(g).is_ok_and(|g| g.matches(&ws.packages[p].name))
                    })
                });
            // Under `any-change` (lerna) a package releases when its files changed; its commits
            // then decide how far. Commits that touched only ignored files release nothing by
            // themselves.
            let files_changed = changes.history.changed[p] || forced;
            let any_change = rules.commits() && rules.any_change > Bump::None;
            if own > Bump::None
                && (!any_change
                    || files_changed
                    || self.counted[p]
                        .iter()
                        .any(|c| c.source == Source::Changeset))
            {
                self.bump[p] = own;
                self.reasons[p].push(Reason::Changes);
            }
            if self.selected(p) && any_change && files_changed && rules.any_change > self.bump[p] {
                self.bump[p] = rules.any_change;
                self.reasons[p].push(Reason::Changed);
            }
            if self.options.pre == Some(PreMode::Graduate)
                && !v.pre.is_empty()
                && self.bump[p] == Bump::None
            {
                self.bump[p] = Bump::Patch;
                self.reasons[p].push(Reason::Graduates);
            }
        }
    }

    /// Spreads bumps through groups, shared sources and dependents until nothing rises.
    fn propagate(&mut self) -> Result<(), PlanError> {
        loop {
            let mut raised = self.raise_groups();
            raised |= self.raise_same_sources();
            raised |= self.raise_dependents()?;
            if !raised {
                return Ok(());
            }
        }
    }

    /// A fixed group moves together; a locked line moves every member when the release would
    /// break it, else its releasing members to the highest bump.
    fn raise_groups(&mut self) -> bool {
        let mut raised = false;
        for g in 0..self.groups.len() {
            let group = &self.groups[g];
            let top = group
                .members
                .iter()
                .map(|&m| self.bump[m])
                .max()
                .unwrap_or(Bump::None);
            if top == Bump::None {
                continue;
            }
            let all = group.kind == GroupKind::Fixed
                || (group.kind == GroupKind::Locked
                    && group
                        .line
                        .as_ref()
                        .is_some_and(|line| breaks_line(line, top)));
            let why = Reason::Group {
                group: group.name.clone(),
                group_kind: group.kind,
            };
            for m in group.members.clone() {
                if all || self.bump[m] > Bump::None {
                    raised |= self.raise(m, top, why.clone());
                }
            }
        }
        raised
    }

    /// A maturin wheel and its crate release together, at the higher bump.
    fn raise_same_sources(&mut self) -> bool {
        let mut raised = false;
        for (wheel, krate) in self.same_source.clone() {
            let top = self.bump[wheel].max(self.bump[krate]);
            for (p, other) in [(wheel, krate), (krate, wheel)] {
                let why = Reason::SameSource {
                    name: self.ws.packages[other].name.clone(),
                    ecosystem: self.ws.packages[other].ecosystem,
                };
                raised |= self.raise(p, top, why);
            }
        }
        raised
    }

    /// Dependents whose requirements a release leaves behind (or that their policy releases
    /// anyway). A dependent left out of a filtered release that would be left behind is an error.
    fn raise_dependents(&mut self) -> Result<bool, PlanError> {
        let ws = self.ws;
        let cs = self.changes.changesets_config.as_ref();
        let workspace_protocol_only = cs.is_some_and(|c| c.workspace_protocol_only);
        let mut raised = false;
        for p in 0..ws.packages.len() {
            if self.bump[p] == Bump::None {
                continue;
            }
            let Some(next) = self.version_for(p, self.bump[p]) else {
                continue;
            };
            let next_text = next.to_string();
            let dependency = &ws.packages[p];
            for &(d, kind) in ws.graph.dependents(p) {
                let policy = self.policy(d);
                if kind == DependencyKind::Dev && policy != DependentsPolicy::All {
                    continue;
                }
                for e in ws.packages[d].dependencies.iter().filter(|e| {
                    e.kind == kind
                        && e.ecosystem == dependency.ecosystem
                        && e.name == dependency.name
                }) {
                    let Some(requirement) = published_requirement(
                        e,
                        dependency.version.as_deref(),
                        workspace_protocol_only,
                    ) else {
                        continue;
                    };
                    // A requirement that cannot be read is treated as left behind: releasing the
                    // dependent is the safe side.
                    let out_of_range =
                        crate::version::satisfies(e.ecosystem, requirement.as_deref(), &next_text)
                            != Some(true);
                    let to = match policy {
                        // lerna: every dependent through a requirement the current version meets.
                        DependentsPolicy::All => {
                            let local = crate::version::satisfies(
                                e.ecosystem,
                                requirement.as_deref(),
                                dependency.version.as_deref().unwrap_or_default(),
                            ) == Some(true);
                            if local {
                                self.own_bump[d].max(Bump::Patch)
                            } else {
                                Bump::None
                            }
                        }
                        _ if kind == DependencyKind::Peer => {
                            peer_bump(cs, self.bump[p], out_of_range)
                        }
                        DependentsPolicy::Patch => Bump::Patch,
                        DependentsPolicy::OutOfRange if out_of_range => Bump::Patch,
                        DependentsPolicy::OutOfRange | DependentsPolicy::None => Bump::None,
                    };
                    if to == Bump::None || to <= self.bump[d] {
                        continue;
                    }
                    if !self.selected(d) {
                        if out_of_range {
                            return Err(PlanError::Excluded {
                                dependency: dependency.name.clone(),
                                version: next_text,
                                dependent: ws.packages[d].name.clone(),
                                requirement: e.requirement.clone().unwrap_or_default(),
                            });
                        }
                        continue;
                    }
                    let why = Reason::Dependency {
                        name: dependency.name.clone(),
                        ecosystem: dependency.ecosystem,
                        version: next_text.clone(),
                        requirement: e.requirement.clone(),
                    };
                    raised |= self.raise(d, to, why);
                }
            }
        }
        Ok(raised)
    }

    /// Each releasing package's next version: on its own line, a changesets linked group's
    /// releasing members from the highest version among them, a locked line's and a fixed
    /// group's members at one shared version.
    fn next_versions(&self) -> Result<Vec<Option<Version>>, PlanError> {
        let n = self.ws.packages.len();
        for p in (0..n).filter(|&p| self.bump[p] > Bump::None) {
            if let Ok(v) = &self.versions[p]
                && (inc(v, self.bump[p]).is_none()
                    || (self.label().is_some() && next_pre_number(v).is_none()))
            {
                return Err(overflow(self.ws, p, v, self.bump[p]));
            }
        }
        let mut next: Vec<Option<Version>> = (0..n)
            .map(|p| {
                if self.bump[p] > Bump::None {
                    self.version_for(p, self.bump[p])
                } else {
                    None
                }
            })
            .collect();
        self.align_linked(&mut next)?;
        self.lock_lines(&mut next)?;
        for g in self.groups.iter().filter(|g| g.kind == GroupKind::Fixed) {
            if let Some(shared) = g.members.iter().filter_map(|&m| next[m].clone()).max() {
                for &m in &g.members {
                    if next[m].is_some() {
                        next[m] = Some(shared.clone());
                    }
                }
            }
        }
        for &(wheel, krate) in &self.same_source {
            if let Some(v) = next[krate].clone() {
                next[wheel] = Some(v);
            }
        }
        if let Some(explicit) = &self.options.version {
            for (p, v) in next.iter_mut().enumerate() {
                let Some(v) = v else { continue };
                if let Ok(current) = &self.versions[p]
                    && explicit <= current
                {
                    let package = &self.ws.packages[p];
                    return Err(PlanError::NotAbove {
                        package: package.id(),
                        current: package.version.clone().unwrap_or_default(),
                        version: explicit.to_string(),
                    });
                }
                v.clone_from(explicit);
            }
        }
        Ok(next)
    }

    /// changesets' `linked`: releasing members go from the highest version of every member,
    /// releasing or not.
    fn align_linked(&self, next: &mut [Option<Version>]) -> Result<(), PlanError> {
        for g in &self.groups {
            if g.kind != GroupKind::Linked || !g.align {
                continue;
            }
            let releasing = g.releasing(next);
            let highest = g
                .members
                .iter()
                .filter_map(|&m| self.versions[m].as_ref().ok())
                .max()
                .cloned();
            let Some(base) = highest else { continue };
            for &m in &releasing {
                let Some(v) = inc(&base, self.bump[m]) else {
                    return Err(overflow(self.ws, m, &base, self.bump[m]));
                };
                next[m] = match self.label() {
                    Some(label) => {
                        next_pre_number(&base).and_then(|n| with_prerelease(&v, label, n).ok())
                    }
                    None => Some(v),
                };
            }
        }
        Ok(())
    }

    /// A locked line: each releasing member's next version from the line (or its own, when
    /// ahead), and all of them at the highest.
    fn lock_lines(&self, next: &mut [Option<Version>]) -> Result<(), PlanError> {
        for g in self.groups.iter().filter(|g| g.kind == GroupKind::Locked) {
            let releasing = g.releasing(next);
            let line = g.line.clone().or_else(|| {
                g.members
                    .iter()
                    .filter_map(|&m| self.versions[m].as_ref().ok())
                    .max()
                    .cloned()
            });
            let Some(line) = line else { continue };
            let mut shared = line.clone();
            for &m in &releasing {
                let Ok(v) = &self.versions[m] else { continue };
                let base = if *v > line { v.clone() } else { line.clone() };
                let Some(up) = inc(&base, self.bump[m]) else {
                    return Err(overflow(self.ws, m, &base, self.bump[m]));
                };
                let candidate = match self.label() {
                    Some(label) => {
                        let Some(n) = next_pre_number(&base) else {
                            return Err(overflow(self.ws, m, &base, self.bump[m]));
                        };
                        with_prerelease(&up, label, n).unwrap_or(up)
                    }
                    None => up,
                };
                shared = shared.max(candidate);
            }
            for &m in &releasing {
                next[m] = Some(shared.clone());
            }
        }
        Ok(())
    }

    /// The releases, dependencies before dependents, each checked by its ecosystem.
    fn releases(mut self, next: &[Option<Version>]) -> Result<Plan, PlanError> {
        let ws = self.ws;
        let mut warnings = Vec::new();
        let mut releases = Vec::new();
        let mut order: BTreeMap<usize, usize> = BTreeMap::new();
        // A release order must exist: a cycle of normal dependencies cannot be published, so
        // nothing is planned while one exists.
        if next.iter().any(Option::is_some) {
            let topo = ws.topological_order().map_err(PlanError::Cycle)?;
            for (rank, p) in topo.into_iter().enumerate() {
                order.insert(p, rank);
            }
        }
        for (p, next) in next.iter().enumerate() {
            if let Err(message) = &self.versions[p]
                && !self.counted[p].iter().all(|c| c.bump == Bump::None)
            {
                warnings.push(Warning::new(message.clone()));
            }
            let Some(to) = next else { continue };
            let package = &ws.packages[p];
            let rendered = render(package.ecosystem, to)
                .map_err(|m| PlanError::Input(SourceError::new(&package.manifest, m)))?;
            if let Err((message, help)) = package.ecosystem.adapter().check_release(package, to) {
                return Err(PlanError::Input(at_version(package, message).help(help)));
            }
            releases.push(Release {
                package: p,
                name: package.name.clone(),
                ecosystem: package.ecosystem,
                from: package.version.clone().unwrap_or_default(),
                to: rendered,
                // An explicit version says how far it goes; the changes may have asked for less.
                bump: match (&self.options.version, &self.versions[p]) {
                    (Some(_), Ok(from)) => difference(from, to),
                    _ => self.bump[p],
                },
                reasons: std::mem::take(&mut self.reasons[p]),
                changes: self.counted[p].clone(),
            });
        }
        // Dependencies before dependents, as they will be published.
        releases.sort_by_key(|r| order.get(&r.package).copied().unwrap_or(r.package));
        Ok(Plan { releases, warnings })
    }
}

/// The bump a release of `dependency_bump` gives a dependent through a peer dependency. Consumers
/// install peers themselves, so a peer left behind is a breaking change of the dependent: major.
/// With a `.changeset/config.json`, changesets' rule: any minor or major of a peer is a major of
/// the dependent unless `onlyUpdatePeerDependentsWhenOutOfRange` is set.
fn peer_bump(
    cs: Option<&crate::changes::changesets_config::ChangesetsConfig>,
    dependency_bump: Bump,
    out_of_range: bool,
) -> Bump {
    let changesets_rule = cs.is_some_and(|c| !c.only_update_peer_dependents_when_out_of_range);
    if out_of_range || (changesets_rule && dependency_bump >= Bump::Minor) {
        Bump::Major
    } else {
        Bump::None
    }
}
