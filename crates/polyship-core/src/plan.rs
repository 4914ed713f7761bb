//! Stage 3: from a workspace and its changes to a plan — which packages release, from which version
//! to which, and why.
//!
//! The plan is a plain value and the single source of truth for what happens next. It is computed
//! to a fixed point: own changes give each package a bump (below 1.0.0 the configured rules soften
//! commit bumps); groups align their members; a maturin wheel moves with its crate; and a release
//! reaches its dependents as the configured policy says (dev-dependencies never force one). Crates
//! that inherit `[workspace.package] version` form an implicit fixed group. Every
//! step only raises bumps, so the order of the rules does not matter.

use std::collections::BTreeMap;

use semver::Version;
use serde::Serialize;

use crate::changes::changeset::Bump;
use crate::changes::conventional::ChangeKind;
use crate::changes::{Change, Changes, Source};
use crate::config::{DependentsPolicy, GroupKind, LoadedConfig};
use crate::diagnostic::{SourceError, Warning};
use crate::version::bump::{from_pep440, inc, to_pep440};
use crate::workspace::{DependencyKind, Ecosystem, VersionSource, Workspace};

/// Why a package releases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
}

/// A group after its member names are resolved.
struct Group {
    name: String,
    kind: GroupKind,
    members: Vec<usize>,
    dependents: Option<DependentsPolicy>,
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
                name: format!("workspace version in {file}"),
                kind: GroupKind::Fixed,
                members,
                dependents: None,
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
                });
            }
        }
    }
    Ok(out)
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
                "`{}` has changes but no version; add one to `{}`",
                package.id(),
                package.manifest
            ),
        });
    };
    let parsed = match package.ecosystem {
        Ecosystem::Python => from_pep440(text).or_else(|| Version::parse(text).ok()),
        _ => Version::parse(text).ok(),
    };
    parsed.ok_or_else(|| {
        format!(
            "the version `{text}` of `{}` in `{}` does not parse",
            package.id(),
            package.manifest
        )
    })
}

fn render(ecosystem: Ecosystem, version: &Version) -> Result<String, String> {
    match ecosystem {
        Ecosystem::Python => to_pep440(version),
        _ => Ok(version.to_string()),
    }
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
    let n = ws.packages.len();
    let mut warnings = Vec::new();
    let versions: Vec<Result<Version, String>> = (0..n).map(|p| current(ws, p)).collect();
    let mut bump = vec![Bump::None; n];
    let mut reasons: Vec<Vec<Reason>> = vec![Vec::new(); n];
    for p in 0..n {
        let Ok(v) = &versions[p] else { continue };
        let own = changes.by_package[p]
            .iter()
            .map(|c| change_bump(c, v, config))
            .max()
            .unwrap_or(Bump::None);
        if own > Bump::None {
            bump[p] = own;
            reasons[p].push(Reason::Changes);
        }
    }
    let groups = groups(ws, config, changes)?;
    let policy = |p: usize| {
        groups
            .iter()
            .find(|g| g.members.contains(&p))
            .and_then(|g| g.dependents)
            .unwrap_or(config.config.versioning.dependents)
    };
    let same_source: Vec<(usize, usize)> = (0..n)
        .filter_map(|p| match &ws.packages[p].version_source {
            VersionSource::Linked { ecosystem, name } => ws.find(*ecosystem, name).map(|q| (p, q)),
            _ => None,
        })
        .collect();
    let raise = |bump: &mut Vec<Bump>,
                 reasons: &mut Vec<Vec<Reason>>,
                 p: usize,
                 to: Bump,
                 why: Reason|
     -> bool {
        if to > bump[p] && versions[p].is_ok() {
            bump[p] = to;
            if !reasons[p].contains(&why) {
                reasons[p].push(why);
            }
            return true;
        }
        false
    };
    loop {
        let mut raised = false;
        for g in &groups {
            let top = g
                .members
                .iter()
                .map(|&m| bump[m])
                .max()
                .unwrap_or(Bump::None);
            if top == Bump::None {
                continue;
            }
            for &m in &g.members {
                if g.kind == GroupKind::Fixed || bump[m] > Bump::None {
                    raised |= raise(
                        &mut bump,
                        &mut reasons,
                        m,
                        top,
                        Reason::Group {
                            group: g.name.clone(),
                            group_kind: g.kind,
                        },
                    );
                }
            }
        }
        for &(wheel, krate) in &same_source {
            let top = bump[wheel].max(bump[krate]);
            for (p, other) in [(wheel, krate), (krate, wheel)] {
                let why = Reason::SameSource {
                    name: ws.packages[other].name.clone(),
                    ecosystem: ws.packages[other].ecosystem,
                };
                raised |= raise(&mut bump, &mut reasons, p, top, why);
            }
        }
        for p in 0..n {
            if bump[p] == Bump::None {
                continue;
            }
            let Ok(v) = &versions[p] else { continue };
            let next = inc(v, bump[p]);
            for &(d, kind) in ws.graph.dependents(p) {
                if kind == DependencyKind::Dev {
                    continue;
                }
                let edge = ws.packages[d]
                    .dependencies
                    .iter()
                    .filter(|e| {
                        e.kind == kind
                            && e.ecosystem == ws.packages[p].ecosystem
                            && e.name == ws.packages[p].name
                    })
                    .find(|e| match policy(d) {
                        DependentsPolicy::Patch => true,
                        DependentsPolicy::None => false,
                        // A requirement that cannot be read is treated as left behind: releasing the
                        // dependent is the safe side.
                        DependentsPolicy::OutOfRange => {
                            crate::version::satisfies(
                                e.ecosystem,
                                e.requirement.as_deref(),
                                &next.to_string(),
                            ) != Some(true)
                        }
                    });
                if let Some(e) = edge {
                    let why = Reason::Dependency {
                        name: ws.packages[p].name.clone(),
                        ecosystem: ws.packages[p].ecosystem,
                        version: next.to_string(),
                        requirement: e.requirement.clone(),
                    };
                    raised |= raise(&mut bump, &mut reasons, d, Bump::Patch, why);
                }
            }
        }
        if !raised {
            break;
        }
    }

    // Versions: each package on its own line, a fixed group at one shared version.
    let mut next: Vec<Option<Version>> = (0..n)
        .map(|p| match (&versions[p], bump[p]) {
            (Ok(v), b) if b > Bump::None => Some(inc(v, b)),
            _ => None,
        })
        .collect();
    for g in groups.iter().filter(|g| g.kind == GroupKind::Fixed) {
        if let Some(shared) = g.members.iter().filter_map(|&m| next[m].clone()).max() {
            for &m in &g.members {
                if next[m].is_some() {
                    next[m] = Some(shared.clone());
                }
            }
        }
    }
    for &(wheel, krate) in &same_source {
        if let Some(v) = next[krate].clone() {
            next[wheel] = Some(v);
        }
    }

    let mut releases = Vec::new();
    let mut order: BTreeMap<usize, usize> = BTreeMap::new();
    if let Ok(topo) = ws.topological_order() {
        for (rank, p) in topo.into_iter().enumerate() {
            order.insert(p, rank);
        }
    }
    for p in 0..n {
        if let Err(message) = &versions[p]
            && !changes.by_package[p].iter().all(|c| c.bump == Bump::None)
        {
            warnings.push(Warning::new(message.clone()));
        }
        let Some(to) = &next[p] else { continue };
        let package = &ws.packages[p];
        let rendered = render(package.ecosystem, to)
            .map_err(|m| PlanError::Input(SourceError::new(&package.manifest, m)))?;
        releases.push(Release {
            package: p,
            name: package.name.clone(),
            ecosystem: package.ecosystem,
            from: package.version.clone().unwrap_or_default(),
            to: rendered,
            bump: bump[p],
            reasons: std::mem::take(&mut reasons[p]),
            changes: changes.by_package[p].clone(),
        });
    }
    // Dependencies before dependents, as they will be published.
    releases.sort_by_key(|r| order.get(&r.package).copied().unwrap_or(r.package));
    Ok(Plan { releases, warnings })
}
