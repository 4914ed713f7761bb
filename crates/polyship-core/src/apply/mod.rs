//! Stage 4: applying a plan to the files — format-preserving edits of manifests, lockfiles and
//! changelogs, computed in memory as one set of [`FileEdit`]s and written all or nothing.
//!
//! Nothing here writes: [`edits`] reads the files it needs and returns their new contents, so a dry
//! run and a real run compute exactly the same thing, and every error (a requirement that cannot be
//! rewritten, a stale lockfile, a broken template) is raised before any file is touched.

pub mod changelog;
pub mod changesets_changelog;
pub mod commit;
pub mod edit;
pub mod layout;
pub mod lockfile;
pub mod pre;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use semver::Version;

use crate::changes::changeset::Bump;
use crate::config::LoadedConfig;
use crate::diagnostic::{Position, SourceError};
use crate::fsutil::FileEdit;
use crate::plan::{Plan, Release};
use crate::workspace::{
    Dependency, DependencyKind, Ecosystem, Location, VersionSource, Workspace, child, parent_dir,
};
use edit::{EditError, Syntax};

/// Why a plan cannot be applied. Nothing has been written.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("failed to read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot update `{}`; nothing was written", .0.path.display())]
    Input(#[source] SourceError),
}

/// What to write besides manifests.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Update lockfiles (`--no-lockfile` turns this off).
    pub lockfiles: bool,
    /// Write changelog sections dated `date` (`YYYY-MM-DD`); `None` writes none (snapshots).
    pub changelog_date: Option<String>,
    /// Where changelog links point.
    pub forge: Option<changelog::Forge>,
    /// Pin dependents to the exact new versions (snapshots), instead of keeping their style.
    pub exact_requirements: bool,
    /// GitHub's API and a token, for changesets' GitHub changelog format: pull requests and
    /// authors are read from it. Without it they come from the commits.
    pub github: Option<GitHubApi>,
}

/// Where GitHub's API is and the token it gets (sent to that host only).
#[derive(Debug, Clone)]
pub struct GitHubApi {
    /// `https://api.github.com/`, with a trailing slash.
    pub api: String,
    pub token: String,
}

/// The files of the repository as the edits see them: read once, edited in memory.
pub struct Files<'r> {
    root: &'r Path,
    /// Root-relative path → (contents before, contents after). `None` means absent.
    files: BTreeMap<String, (Option<String>, Option<String>)>,
}

impl<'r> Files<'r> {
    pub fn new(root: &'r Path) -> Self {
        Self {
            root,
            files: BTreeMap::new(),
        }
    }

    fn load(&mut self, file: &str) -> Result<&mut (Option<String>, Option<String>), ApplyError> {
        if !self.files.contains_key(file) {
            let path = self.root.join(file);
            let text = match std::fs::read(&path) {
                Ok(bytes) => Some(String::from_utf8(bytes).map_err(|_| {
                    ApplyError::Input(SourceError::new(file, "the file is not UTF-8"))
                })?),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(source) => return Err(ApplyError::Read { path, source }),
            };
            self.files.insert(file.to_owned(), (text.clone(), text));
        }
        Ok(self.files.get_mut(file).expect("inserted above"))
    }

    /// The current (edited) text of `file`, `None` when it does not exist.
    pub fn text(&mut self, file: &str) -> Result<Option<String>, ApplyError> {
        Ok(self.load(file)?.1.clone())
    }

    /// Replaces the text of `file`.
    pub fn set(&mut self, file: &str, text: String) -> Result<(), ApplyError> {
        self.load(file)?.1 = Some(text);
        Ok(())
    }

    /// Deletes `file`.
    pub fn delete(&mut self, file: &str) -> Result<(), ApplyError> {
        self.load(file)?.1 = None;
        Ok(())
    }

    /// Every file whose contents change, in path order.
    pub fn into_edits(self) -> Vec<FileEdit> {
        let root = self.root;
        self.files
            .into_iter()
            .filter(|(_, (before, after))| before != after)
            .map(|(file, (before, after))| FileEdit {
                path: root.join(file),
                before: before.map(String::into_bytes),
                after: after.map(String::into_bytes),
            })
            .collect()
    }
}

fn edit_error(e: &EditError, file: &str, line: Option<usize>, text: &str) -> ApplyError {
    let mut err = SourceError::new(file, e.to_string());
    if let Some(line) = line {
        err = err.at_position(Some(Position::line_col(text, line, 1)));
    }
    ApplyError::Input(err.help("edit the value by hand or make it a plain quoted string"))
}

/// The SemVer form of a release's new version (Python versions are rendered PEP 440).
fn semver_of(release: &Release) -> Option<Version> {
    release.ecosystem.adapter().scheme().read_own(&release.to)
}

/// Sets the version a package's manifest holds.
fn set_version(
    files: &mut Files,
    ws: &Workspace,
    release: &Release,
    written: &mut BTreeMap<(String, Vec<String>), String>,
) -> Result<(), ApplyError> {
    let package = &ws.packages[release.package];
    let location = match &package.version_source {
        VersionSource::Manifest { location } | VersionSource::Workspace { location } => location,
        // The other package's manifest holds the version; its own release edits it.
        VersionSource::Linked { .. } => return Ok(()),
        VersionSource::Dynamic { .. } | VersionSource::Missing => {
            return Err(ApplyError::Input(
                SourceError::new(
                    &package.manifest,
                    format!("`{}` has no version to set", package.id()),
                )
                .help("give the package a version field, or leave it out of the plan"),
            ));
        }
    };
    let slot = (location.file.clone(), location.key.clone());
    if let Some(other) = written.get(&slot) {
        if *other == release.to {
            return Ok(());
        }
        return Err(ApplyError::Input(
            SourceError::new(
                &location.file,
                format!(
                    "`{}` is asked to hold both {other} and {}",
                    location.key.join("."),
                    release.to
                ),
            )
            .help("packages that share one version field must release together: put them in a fixed group"),
        ));
    }
    write_string(files, package.ecosystem, location, &[], &release.to)?;
    written.insert(slot, release.to.clone());
    Ok(())
}

/// An npm package that ships a crate's binaries (`[[publish.npm.binary]]`) lists its platform
/// packages in `optionalDependencies` at its own version: they move with it.
fn platform_packages(
    files: &mut Files,
    ws: &Workspace,
    release: &Release,
    config: &LoadedConfig,
) -> Result<(), ApplyError> {
    let package = &ws.packages[release.package];
    let Some(binary) = (package.ecosystem == Ecosystem::Npm)
        .then(|| {
            config
                .config
                .publish
                .npm
                .binaries
                .iter()
                .find(|b| b.is_for(&package.name))
        })
        .flatten()
    else {
        return Ok(());
    };
    let Some(text) = files.text(&package.manifest)? else {
        return Ok(());
    };
    let manifest: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        ApplyError::Input(SourceError::new(
            &package.manifest,
            format!("not JSON: {e}"),
        ))
    })?;
    let names = crate::artifacts::npm::every_name(binary.name_template(), &package.name);
    let listed: Vec<String> = manifest["optionalDependencies"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(name, value)| names.contains(name) && value.as_str() == Some(&release.from))
        .map(|(name, _)| name.clone())
        .collect();
    for name in listed {
        let location = Location {
            file: package.manifest.clone(),
            key: vec!["optionalDependencies".to_owned(), name],
            line: 1,
        };
        write_string(files, Ecosystem::Npm, &location, &[], &release.to)?;
    }
    Ok(())
}

/// Writes `value` at `location` (plus `suffix` keys), as `ecosystem` edits its manifests.
fn write_string(
    files: &mut Files,
    ecosystem: Ecosystem,
    location: &Location,
    suffix: &[&str],
    value: &str,
) -> Result<(), ApplyError> {
    let file = &location.file;
    let text = files.text(file)?.ok_or_else(|| {
        ApplyError::Input(SourceError::new(
            file,
            "the file disappeared since it was read",
        ))
    })?;
    let key: Vec<String> = location
        .key
        .iter()
        .cloned()
        .chain(suffix.iter().map(|s| (*s).to_owned()))
        .collect();
    let new = ecosystem
        .adapter()
        .set_string(file, &text, &key, value)
        .map_err(|e| edit_error(&e, file, Some(location.line), &text))?;
    files.set(file, new)
}

/// A requirement pinned to exactly `version` (snapshots), keeping the ecosystem's protocols.
fn exact(ecosystem: Ecosystem, requirement: &str, version: &str) -> Option<String> {
    ecosystem.adapter().pin(requirement.trim(), version)
}

/// A requirement the release rewrote, for lockfiles that copy requirements.
struct Rewritten {
    ecosystem: Ecosystem,
    dependent_path: String,
    field: String,
    name: String,
    from: String,
    to: String,
}

/// Rewrites `dep`'s requirement of `dependent` for `release`; returns what changed.
/// When an in-range requirement is still rewritten (changesets' `updateInternalDependencies` and
/// `onlyUpdatePeerDependentsWhenOutOfRange`).
#[derive(Clone, Copy)]
struct UpdateRule {
    min_update: Bump,
    only_peer_out_of_range: bool,
    exact: bool,
    /// changesets' `bumpVersionsWithWorkspaceProtocolOnly`.
    workspace_protocol_only: bool,
    /// Dependents policy `patch` (`updateInternalDependents: "always"`): changesets then puts even
    /// dev-dependents in the release (without a bump), so their requirements follow too.
    always: bool,
}

/// How the requirements of one dependent follow its dependencies' releases.
fn requirement_style(
    config: &LoadedConfig,
    changes: &crate::changes::Changes,
    dependent: usize,
) -> crate::config::RequirementStyle {
    use crate::config::RequirementStyle;
    config
        .config
        .versioning
        .requirements
        .unwrap_or_else(|| match &changes.rules.lerna {
            Some(l) if changes.rules.packages[dependent].lerna => {
                if l.exact {
                    RequirementStyle::Exact
                } else {
                    RequirementStyle::Caret
                }
            }
            _ => RequirementStyle::Keep,
        })
}

/// lerna's rewrite: a releasing dependent's requirement on a releasing dependency becomes `^` (or
/// exactly) the new version, when it is a workspace link — a requirement the dependency's current
/// version meets. Others point at the registry and stay. `workspace:*`, `workspace:^` and
/// `workspace:~` already follow; `file:` and `link:` paths are left alone.
fn prefixed(
    dep: &Dependency,
    requirement: &str,
    current: Option<&str>,
    target: &str,
    exact: bool,
) -> Option<String> {
    let req = requirement.trim();
    let prefix = if exact { "" } else { "^" };
    let local = req.starts_with("workspace:")
        || current
            .is_some_and(|c| crate::version::satisfies(dep.ecosystem, Some(req), c) == Some(true));
    if !local {
        return None;
    }
    if let Some(rest) = req.strip_prefix("workspace:") {
        if matches!(rest, "*" | "^" | "~") {
            return None;
        }
        let kept = match rest.chars().next() {
            Some(c @ ('^' | '~')) => c.to_string(),
            _ => String::new(),
        };
        return Some(format!("workspace:{kept}{target}"));
    }
    if ["file:", "link:", "portal:", "git", "http:", "https:"]
        .iter()
        .any(|p| req.starts_with(p))
    {
        return None;
    }
    Some(crate::version::rewrite::with_prefix(
        dep.ecosystem,
        prefix,
        target,
    ))
}

fn rewrite_requirement(
    files: &mut Files,
    ws: &Workspace,
    (dependent, dep): (usize, &Dependency),
    release: &Release,
    dependent_releases: bool,
    (rule, style): (UpdateRule, crate::config::RequirementStyle),
) -> Result<Option<Rewritten>, ApplyError> {
    let Some(requirement) = dep.requirement.as_deref() else {
        return Ok(None);
    };
    if style != crate::config::RequirementStyle::Keep && !rule.exact {
        let Some(new) = dependent_releases
            .then(|| {
                prefixed(
                    dep,
                    requirement,
                    ws.packages[release.package].version.as_deref(),
                    &release.to,
                    style == crate::config::RequirementStyle::Exact,
                )
            })
            .flatten()
        else {
            return Ok(None);
        };
        return write_requirement(files, ws, (dependent, dep), requirement, new);
    }
    if rule.workspace_protocol_only
        && dep.ecosystem.adapter().has_workspace_protocol()
        && !requirement.trim().starts_with("workspace:")
    {
        return Ok(None);
    }
    let Some(version) = semver_of(release) else {
        return Ok(None);
    };
    let target = match dep.ecosystem.adapter().scheme() {
        crate::version::Scheme::Pep440 => release.to.clone(),
        crate::version::Scheme::SemVer => version.to_string(),
    };
    let in_range =
        crate::version::satisfies(dep.ecosystem, Some(requirement), &target) == Some(true);
    let update = rule.exact
        || !in_range
        || ((dependent_releases || (rule.always && dep.kind == DependencyKind::Dev))
            && release.bump >= rule.min_update
            && !(dep.kind == DependencyKind::Peer && rule.only_peer_out_of_range));
    if !update {
        return Ok(None);
    }
    let location = &dep.location;
    let new = if rule.exact {
        exact(dep.ecosystem, requirement, &target)
    } else {
        match crate::version::rewrite::rewrite(dep.ecosystem, requirement, &version) {
            Ok(new) => new,
            Err(_) if in_range => None,
            Err(message) => {
                let text = files.text(&location.file)?.unwrap_or_default();
                return Err(ApplyError::Input(
                    SourceError::new(&location.file, format!(
                        "`{}` requires `{}` {requirement}, which cannot be rewritten for {}: {message}",
                        ws.packages[dependent].name, dep.name, release.to
                    ))
                    .at_position(Some(Position::line_col(&text, location.line, 1)))
                    .help(format!("change the requirement to one that allows {} by hand, then run again", release.to)),
                ));
            }
        }
    };
    let Some(new) = new else { return Ok(None) };
    write_requirement(files, ws, (dependent, dep), requirement, new)
}

/// Writes `new` in place of `requirement` in `dependent`'s manifest.
fn write_requirement(
    files: &mut Files,
    ws: &Workspace,
    (dependent, dep): (usize, &Dependency),
    requirement: &str,
    new: String,
) -> Result<Option<Rewritten>, ApplyError> {
    if new == requirement {
        return Ok(None);
    }
    let location = &dep.location;
    let file = location.file.clone();
    let text = files.text(&file)?.unwrap_or_default();
    let adapter = dep.ecosystem.adapter();
    if adapter.requirement_is_whole_value() {
        write_string(files, dep.ecosystem, location, &[], &new)?;
    } else {
        // A bare string (`core = "1.2"`, a PEP 508 string, Poetry's `core = "^1.2"`) or a table
        // with a `version` key.
        match adapter.get_string(&file, &text, &location.key) {
            Ok(current) => {
                let replaced = if current.trim() == requirement {
                    new.clone()
                } else {
                    // A PEP 508 string: the specifier inside it.
                    let name_end = current
                        .find(|c: char| !(c.is_alphanumeric() || "-_.".contains(c)))
                        .unwrap_or(current.len());
                    let at = current[name_end..].find(requirement).map(|i| i + name_end);
                    let Some(at) = at else {
                        return Err(ApplyError::Input(
                            SourceError::new(
                                &file,
                                format!("cannot find `{requirement}` in `{current}`"),
                            )
                            .at_position(Some(Position::line_col(&text, location.line, 1)))
                            .help("rewrite the requirement by hand"),
                        ));
                    };
                    format!(
                        "{}{new}{}",
                        &current[..at],
                        &current[at + requirement.len()..]
                    )
                };
                write_string(files, dep.ecosystem, location, &[], &replaced)?;
            }
            Err(EditError::NotAString { .. }) => {
                write_string(files, dep.ecosystem, location, &["version"], &new)?;
            }
            Err(e) => return Err(edit_error(&e, &file, Some(location.line), &text)),
        }
    }
    Ok(Some(Rewritten {
        ecosystem: dep.ecosystem,
        dependent_path: ws.packages[dependent].path.clone(),
        field: location.key.first().cloned().unwrap_or_default(),
        name: dep.name.clone(),
        from: requirement.to_owned(),
        to: new,
    }))
}

/// changesets puts a package in the release with bump `none` when a dev-dependency's new version
/// leaves its requirement: nothing is published, but its requirements follow like a releasing
/// package's (its peer ranges too).
fn none_release(
    ws: &Workspace,
    by_package: &BTreeMap<usize, &Release>,
    changes: &crate::changes::Changes,
    d: usize,
) -> bool {
    let Some(cs) = changes.changesets_config.as_ref() else {
        return false;
    };
    ws.packages[d].dependencies.iter().any(|dep| {
        dep.kind == DependencyKind::Dev
            && ws.find(dep.ecosystem, &dep.name).is_some_and(|p| {
                by_package.get(&p).is_some_and(|r| {
                    let published = crate::plan::published_requirement(
                        dep,
                        ws.packages[p].version.as_deref(),
                        cs.workspace_protocol_only,
                    );
                    let target = semver_of(r).map(|v| v.to_string()).unwrap_or_default();
                    published.is_some_and(|req| {
                        crate::version::satisfies(dep.ecosystem, req.as_deref(), &target)
                            != Some(true)
                    })
                })
            })
    })
}

/// In lerna's fixed mode, `lerna.json` holds the version line: it moves to the release's version.
fn lerna_version(
    files: &mut Files,
    plan: &Plan,
    changes: &crate::changes::Changes,
) -> Result<(), ApplyError> {
    const FILE: &str = crate::changes::lerna_config::FILE;
    if changes.rules.lerna_line().is_none() {
        return Ok(());
    }
    let Some(version) = plan
        .releases
        .iter()
        .filter(|r| changes.rules.packages[r.package].lerna)
        .filter_map(semver_of)
        .max()
    else {
        return Ok(());
    };
    let Some(text) = files.text(FILE)? else {
        return Ok(());
    };
    let line = changes.rules.lerna.as_ref().map_or(1, |l| l.version_line);
    let new = edit::set_string(
        Syntax::Json,
        FILE,
        &text,
        &["version".to_owned()],
        &version.to_string(),
    )
    .map_err(|e| edit_error(&e, FILE, Some(line), &text))?;
    files.set(FILE, new)
}

/// The lockfiles of the repository that belong to the workspace: those in the root or in a
/// directory above a package.
fn lockfiles(root: &Path, ws: &Workspace) -> Vec<(String, lockfile::Kind)> {
    let mut dirs = BTreeSet::from([".".to_owned()]);
    for p in &ws.packages {
        let mut dir = p.path.as_str();
        while dir != "." && !dir.is_empty() {
            dirs.insert(dir.to_owned());
            dir = parent_dir(dir);
        }
    }
    let mut out = Vec::new();
    for dir in dirs {
        for name in [
            "Cargo.lock",
            "package-lock.json",
            "npm-shrinkwrap.json",
            "pnpm-lock.yaml",
            "yarn.lock",
            "uv.lock",
        ] {
            let file = child(&dir, name);
            if root.join(&file).is_file()
                && let Some(kind) = lockfile::Kind::of(name)
            {
                out.push((file, kind));
            }
        }
    }
    out
}

/// Rewrites every dependent's requirement on a releasing package, as the rules say; returns
/// what changed, for lockfiles that copy requirements.
fn requirements(
    files: &mut Files,
    ws: &Workspace,
    plan: &Plan,
    config: &LoadedConfig,
    changes: &crate::changes::Changes,
    options: &Options,
) -> Result<Vec<Rewritten>, ApplyError> {
    let by_package: BTreeMap<usize, &Release> =
        plan.releases.iter().map(|r| (r.package, r)).collect();
    let cs = changes.changesets_config.as_ref();
    let min_update = match cs.and_then(|c| c.update_internal_dependencies.as_deref()) {
        Some("minor") => Bump::Minor,
        _ => Bump::Patch,
    };
    let rule = UpdateRule {
        min_update,
        only_peer_out_of_range: cs.is_some_and(|c| c.only_update_peer_dependents_when_out_of_range),
        exact: options.exact_requirements,
        workspace_protocol_only: cs.is_some_and(|c| c.workspace_protocol_only),
        always: crate::plan::default_policy(config, changes)
            == crate::config::DependentsPolicy::Patch,
    };
    let mut rewritten = Vec::new();
    // `[workspace.dependencies]` entries are shared: rewrite each once, as for a releasing
    // dependent when any of the crates that inherit it releases.
    let mut releasing_at: BTreeSet<(String, Vec<String>)> = BTreeSet::new();
    for (d, package) in ws.packages.iter().enumerate() {
        if by_package.contains_key(&d) || none_release(ws, &by_package, changes, d) {
            for dep in &package.dependencies {
                releasing_at.insert((dep.location.file.clone(), dep.location.key.clone()));
            }
        }
    }
    let mut seen: BTreeSet<(String, Vec<String>)> = BTreeSet::new();
    for (d, package) in ws.packages.iter().enumerate() {
        for dep in &package.dependencies {
            let Some(p) = ws.find(dep.ecosystem, &dep.name) else {
                continue;
            };
            let Some(release) = by_package.get(&p) else {
                continue;
            };
            let slot = (dep.location.file.clone(), dep.location.key.clone());
            let dependent_releases = releasing_at.contains(&slot);
            if !seen.insert(slot) {
                continue;
            }
            let style = requirement_style(config, changes, d);
            if let Some(r) = rewrite_requirement(
                files,
                ws,
                (d, dep),
                release,
                dependent_releases,
                (rule, style),
            )? {
                rewritten.push(r);
            }
        }
    }

    Ok(rewritten)
}

/// Brings the workspace's lockfiles in line with the new versions and requirements.
fn update_lockfiles(
    files: &mut Files,
    ws: &Workspace,
    plan: &Plan,
    rewritten: &[Rewritten],
) -> Result<(), ApplyError> {
    let bumped: Vec<lockfile::Bumped> = plan
        .releases
        .iter()
        .map(|r| lockfile::Bumped {
            ecosystem: r.ecosystem,
            name: &r.name,
            path: &ws.packages[r.package].path,
            from: &r.from,
            to: &r.to,
        })
        .collect();
    let requirements: Vec<lockfile::Requirement> = rewritten
        .iter()
        .map(|r| lockfile::Requirement {
            ecosystem: r.ecosystem,
            dependent_path: &r.dependent_path,
            field: &r.field,
            name: &r.name,
            from: &r.from,
            to: &r.to,
        })
        .collect();
    for (file, kind) in lockfiles(files.root, ws) {
        let Some(text) = files.text(&file)? else {
            continue;
        };
        let updated =
            lockfile::update(kind, &file, &text, &bumped, &requirements).map_err(|e| {
                let help = e.help.clone().map_or_else(
                    || {
                        "update the lockfile with its tool first, or pass `--no-lockfile`"
                            .to_owned()
                    },
                    |h| format!("{h}; or pass `--no-lockfile`"),
                );
                ApplyError::Input(e.help(help))
            })?;
        if let Some(updated) = updated {
            files.set(&file, updated)?;
        }
    }
    Ok(())
}

/// Every edit the plan makes to manifests, dependents' requirements, lockfiles and changelogs.
pub fn edits(
    files: &mut Files,
    ws: &Workspace,
    plan: &Plan,
    config: &LoadedConfig,
    changes: &crate::changes::Changes,
    options: &Options,
) -> Result<(), ApplyError> {
    let mut written = BTreeMap::new();
    for release in &plan.releases {
        set_version(files, ws, release, &mut written)?;
        platform_packages(files, ws, release, config)?;
    }

    lerna_version(files, plan, changes)?;

    let rewritten = requirements(files, ws, plan, config, changes, options)?;
    if options.lockfiles {
        update_lockfiles(files, ws, plan, &rewritten)?;
    }
    if let Some(date) = &options.changelog_date
        && config.config.changelog.enabled
    {
        changelog::write(
            files,
            ws,
            plan,
            config,
            changes,
            date,
            (options.forge.as_ref(), options.github.as_ref()),
        )?;
    }
    Ok(())
}
