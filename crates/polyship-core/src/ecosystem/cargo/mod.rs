//! Cargo: crates of the root workspace, read as `cargo metadata --no-deps` would list them.
//!
//! Members come from `[workspace] members` globs minus `exclude`, the root `[package]`, and — as
//! Cargo does — every path dependency inside the workspace directory. `version.workspace = true`,
//! `publish.workspace = true` and `dep.workspace = true` are followed into the root manifest. Only
//! path dependencies can be internal: without `path` a dependency comes from a registry, whatever its
//! name.

pub(crate) mod lockfile;
pub(crate) mod release;

pub use release::Settings;

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;

use toml_edit::TableLike;

use semver::Version;

use super::{Adapter, Context, Found, TomlFile};
use crate::version::Scheme;
use crate::workspace::files::{MemberGlob, select};
use crate::workspace::{
    Dependency, DependencyKind, DiscoveryError, Ecosystem, Location, Package, VersionSource, child,
    is_within, join_rel, parent_dir,
};

pub struct Cargo;

const MANIFEST: &str = "Cargo.toml";

/// The dependency tables of a manifest (or of one `[target.<cfg>]` table) and their kinds.
const DEPENDENCY_TABLES: [(&str, DependencyKind); 5] = [
    ("dependencies", DependencyKind::Normal),
    ("dev-dependencies", DependencyKind::Dev),
    ("dev_dependencies", DependencyKind::Dev),
    ("build-dependencies", DependencyKind::Build),
    ("build_dependencies", DependencyKind::Build),
];

impl Adapter for Cargo {
    fn gates(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("cargo-fmt", "cargo fmt --all -- --check"),
            (
                "cargo-clippy",
                "cargo clippy --workspace --all-targets --locked -- -D warnings",
            ),
            ("cargo-test", "cargo test --workspace --locked"),
        ]
    }

    fn ecosystem(&self) -> Ecosystem {
        Ecosystem::Cargo
    }

    fn listed_files(&self) -> &'static [&'static str] {
        &["Cargo.toml"]
    }

    fn discover(&self, cx: &Context<'_>) -> Result<Found, DiscoveryError> {
        let Some(text) = cx.read(MANIFEST)? else {
            return Ok(Found::default());
        };
        let root = TomlFile::parse(MANIFEST, text)?;
        load_workspace(cx, &root, ".")
    }

    fn load(&self, cx: &Context<'_>, dir: &str) -> Result<Option<Found>, DiscoveryError> {
        let manifest = child(dir, MANIFEST);
        let Some(text) = cx.read(&manifest)? else {
            return Ok(None);
        };
        let file = TomlFile::parse(&manifest, text)?;
        if file.root().contains_key("workspace") {
            return Ok(Some(load_workspace(cx, &file, dir)?));
        }
        let ws = find_workspace_above(cx, dir)?;
        Ok(read_crate(&file, dir, ws.as_ref())?.map(|p| Found {
            packages: vec![p],
            ..Found::default()
        }))
    }

    fn links_by_name(&self) -> bool {
        false
    }

    fn scheme(&self) -> Scheme {
        Scheme::SemVer
    }

    fn satisfies(&self, requirement: &str, version: &str) -> Option<bool> {
        crate::version::satisfies_cargo(requirement, version)
    }

    fn rewrite_requirement(
        &self,
        requirement: &str,
        new: &Version,
    ) -> Result<Option<String>, String> {
        crate::version::rewrite::cargo(requirement, new)
    }

    fn requirement(&self, version: &str, exact: bool) -> String {
        // A bare requirement is a caret in Cargo.
        if exact {
            format!("={version}")
        } else {
            version.to_owned()
        }
    }
}

/// Whether the crate in `dir` is a member of the repository's root Cargo workspace (its
/// `members` globs, less `exclude`), or the root crate itself. Unreadable manifests say no.
pub fn in_root_workspace(cx: &Context<'_>, dir: &str) -> bool {
    let Ok(Some(text)) = cx.read(MANIFEST) else {
        return false;
    };
    let Ok(root) = TomlFile::parse(MANIFEST, text) else {
        return false;
    };
    if dir == "." {
        return root.root().contains_key("package");
    }
    let Ok(Some(ws)) = root.table(root.root(), "workspace", "workspace") else {
        return false;
    };
    let list = |key: &str| -> Vec<String> {
        root.strings(ws, key, &format!("workspace.{key}"))
            .map(|v| v.into_iter().map(|(s, _)| s).collect())
            .unwrap_or_default()
    };
    let excluded = list("exclude")
        .iter()
        .filter_map(|e| join_rel(".", e))
        .any(|e| is_within(dir, &e));
    !excluded
        && list("members")
            .iter()
            .filter_map(|m| MemberGlob::new(".", m).ok())
            .any(|g| g.matches(dir))
}

/// Reads the crate in `dir` (root-relative) the way [`Adapter::load`] does: name and version after
/// inheritance. For ecosystems whose packages build from a crate (maturin).
pub fn read_crate_in(cx: &Context<'_>, dir: &str) -> Result<Option<Package>, DiscoveryError> {
    let manifest = child(dir, MANIFEST);
    let Some(text) = cx.read(&manifest)? else {
        return Ok(None);
    };
    let file = TomlFile::parse(&manifest, text)?;
    let ws = if file.root().contains_key("workspace") {
        Some(WorkspaceInfo::read(&file, dir)?)
    } else {
        find_workspace_above(cx, dir)?
    };
    read_crate(&file, dir, ws.as_ref())
}

/// The nearest workspace root above `dir` inside the repository, for inheritance.
fn find_workspace_above(
    cx: &Context<'_>,
    dir: &str,
) -> Result<Option<WorkspaceInfo>, DiscoveryError> {
    let mut cur = dir;
    while cur != "." {
        cur = parent_dir(cur);
        let manifest = child(cur, MANIFEST);
        if let Some(text) = cx.read(&manifest)? {
            let file = TomlFile::parse(&manifest, text)?;
            if file.root().contains_key("workspace") {
                return Ok(Some(WorkspaceInfo::read(&file, cur)?));
            }
        }
    }
    Ok(None)
}

/// The members of the workspace whose root manifest is `root`, in directory `dir`.
fn load_workspace(cx: &Context<'_>, root: &TomlFile, dir: &str) -> Result<Found, DiscoveryError> {
    let mut found = Found::default();
    let Some(ws_table) = root.table(root.root(), "workspace", "workspace")? else {
        // A standalone crate is a workspace of one; its path dependencies are separate workspaces.
        found.packages.extend(read_crate(root, dir, None)?);
        return Ok(found);
    };
    let ws = WorkspaceInfo::read(root, dir)?;
    let exclude: Vec<String> = root
        .strings(ws_table, "exclude", "workspace.exclude")?
        .into_iter()
        .filter_map(|(e, _)| join_rel(dir, &e))
        .collect();
    let is_excluded = |d: &str| exclude.iter().any(|e| is_within(d, e));

    // Explicit members are kept even when under an `exclude` path.
    let mut queue: Vec<String> = Vec::new();
    if root.root().contains_key("package") || root.root().contains_key("project") {
        queue.push(dir.to_owned());
    }
    queue.extend(members(cx, root, ws_table, dir, &is_excluded, &mut found)?);

    let mut seen = BTreeSet::new();
    let mut queue: std::collections::VecDeque<String> = queue.into();
    while let Some(member) = queue.pop_front() {
        if !seen.insert(member.clone()) {
            continue;
        }
        let package = if member == dir {
            read_crate(root, dir, Some(&ws))?
        } else {
            let manifest = child(&member, MANIFEST);
            let text = cx.read(&manifest)?.ok_or_else(|| DiscoveryError::Read {
                path: cx.root.join(&manifest),
                source: std::io::ErrorKind::NotFound.into(),
            })?;
            let file = TomlFile::parse(&manifest, text)?;
            let package = read_crate(&file, &member, Some(&ws))?;
            if package.is_none() {
                return Err(file
                    .error(
                        None,
                        format!("workspace member `{member}` has no `[package]` table"),
                    )
                    .with_help(format!(
                        "add a `[package]` table, or remove `{member}` from `workspace.members`"
                    )));
            }
            package
        };
        let Some(package) = package else { continue };
        // Cargo makes every path dependency inside the workspace directory a member too.
        for dep in &package.dependencies {
            if let Some(path) = &dep.path
                && (dir == "." || is_within(path, dir))
                && !is_excluded(path)
                && !seen.contains(path)
                && cx.root.join(child(path, MANIFEST)).is_file()
            {
                queue.push_back(path.clone());
            }
        }
        found.packages.push(package);
    }
    Ok(found)
}

/// The directories `workspace.members` names (globs matched against the crates the repository
/// holds, less `exclude`); a glob matching nothing and a member Cargo cannot read are warnings.
fn members(
    cx: &Context<'_>,
    root: &TomlFile,
    ws_table: &dyn toml_edit::TableLike,
    dir: &str,
    is_excluded: &dyn Fn(&str) -> bool,
    found: &mut Found,
) -> Result<Vec<String>, DiscoveryError> {
    let mut queue = Vec::new();
    for (written, span) in root.strings(ws_table, "members", "workspace.members")? {
        let glob = MemberGlob::new(dir, &written).map_err(|msg| {
            root.error(
                span.clone(),
                format!("invalid workspace member `{written}`: {msg}"),
            )
        })?;
        if glob.negated {
            return Err(root
                .error(
                    span,
                    format!(
                        "workspace member `{written}` starts with `!`, which Cargo does not support"
                    ),
                )
                .with_help("list the directory in `workspace.exclude` instead"));
        }
        for (member, what) in glob.unreadable_members(cx.root) {
            found.warnings.push(
                root.warning(
                    span.clone(),
                    format!("workspace member `{member}` is {what}; polyship does not read crates through it"),
                )
                .help("list the crate where it really is, or add it with `[[package]]` in polyship.toml"),
            );
        }
        if glob.is_glob() {
            let matched: Vec<&str> =
                select(std::slice::from_ref(&glob), cx.files.dirs_with(MANIFEST))
                    .into_iter()
                    .filter(|d| !is_excluded(d))
                    .collect();
            if matched.is_empty() {
                found.warnings.push(
                    root.warning(
                        span,
                        format!("workspace member glob `{written}` matches no crate"),
                    )
                    .help("remove the entry, or check the path"),
                );
            }
            queue.extend(matched.into_iter().map(str::to_owned));
        } else {
            let member = glob.literal().to_owned();
            if !cx.root.join(child(&member, MANIFEST)).is_file() {
                return Err(root
                    .error(
                        span,
                        format!("workspace member `{written}` has no `Cargo.toml`"),
                    )
                    .with_help(format!(
                        "create `{}`, or remove `{written}` from `workspace.members`",
                        child(&member, MANIFEST)
                    )));
            }
            queue.push(member);
        }
    }

    Ok(queue)
}

/// What members may inherit from the workspace root.
struct WorkspaceInfo {
    manifest: String,
    version: Option<(String, usize)>,
    publish: Option<Publish>,
    dependencies: HashMap<String, WorkspaceDependency>,
}

struct WorkspaceDependency {
    package: Option<String>,
    path: Option<String>,
    version: Option<String>,
    location: Location,
}

#[derive(Clone)]
struct Publish {
    private: bool,
    registry: Option<String>,
}

impl WorkspaceInfo {
    fn read(root: &TomlFile, dir: &str) -> Result<Self, DiscoveryError> {
        let mut info = Self {
            manifest: root.file.clone(),
            version: None,
            publish: None,
            dependencies: HashMap::new(),
        };
        let Some(ws) = root.table(root.root(), "workspace", "workspace")? else {
            return Ok(info);
        };
        if let Some(pkg) = root.table(ws, "package", "workspace.package")? {
            if let Some(v) = root.string(pkg, "version", "workspace.package.version")? {
                info.version = Some((
                    v.to_owned(),
                    root.line(pkg.get("version").and_then(toml_edit::Item::span)),
                ));
            }
            if let Some(item) = pkg.get("publish") {
                info.publish = Some(read_publish(root, item, "workspace.package.publish", None)?);
            }
        }
        if let Some(deps) = root.table(ws, "dependencies", "workspace.dependencies")? {
            for (key, item) in deps.iter() {
                let line = root.line(
                    item.span()
                        .or_else(|| deps.key(key).and_then(toml_edit::Key::span)),
                );
                let mut dep = WorkspaceDependency {
                    package: None,
                    path: None,
                    version: item.as_str().map(str::to_owned),
                    location: Location {
                        file: root.file.clone(),
                        key: vec!["workspace".into(), "dependencies".into(), key.to_owned()],
                        line,
                    },
                };
                if let Some(t) = item.as_table_like() {
                    let what = format!("workspace.dependencies.{key}");
                    dep.package = root
                        .string(t, "package", &format!("{what}.package"))?
                        .map(str::to_owned);
                    dep.version = root
                        .string(t, "version", &format!("{what}.version"))?
                        .map(str::to_owned);
                    dep.path = root
                        .string(t, "path", &format!("{what}.path"))?
                        .and_then(|p| join_rel(dir, p));
                } else if item.as_str().is_none() {
                    return Err(root.error(
                        item.span(),
                        format!(
                            "`workspace.dependencies.{key}` must be a version string or a table"
                        ),
                    ));
                }
                info.dependencies.insert(key.to_owned(), dep);
            }
        }
        Ok(info)
    }
}

fn read_publish(
    file: &TomlFile,
    item: &toml_edit::Item,
    what: &str,
    ws: Option<&WorkspaceInfo>,
) -> Result<Publish, DiscoveryError> {
    if let Some(b) = item.as_bool() {
        return Ok(Publish {
            private: !b,
            registry: None,
        });
    }
    if let Some(array) = item.as_array() {
        let registries: Vec<&str> = array.iter().filter_map(toml_edit::Value::as_str).collect();
        if registries.len() != array.len() {
            return Err(file.error(
                item.span(),
                format!("`{what}` must list registry names as strings"),
            ));
        }
        return Ok(Publish {
            private: registries.is_empty(),
            registry: registries.first().map(|s| (*s).to_owned()),
        });
    }
    if is_workspace_true(item) {
        return ws.and_then(|ws| ws.publish.clone()).ok_or_else(|| {
            file.error(
                item.span(),
                format!("`{what}.workspace = true` but the workspace sets no `publish`"),
            )
            .with_help("add `publish` to `[workspace.package]`, or set it here")
        });
    }
    Err(file.error(
        item.span(),
        format!(
            "`{what}` must be `true`, `false` or a list of registries, found {}",
            item.type_name()
        ),
    ))
}

fn is_workspace_true(item: &toml_edit::Item) -> bool {
    item.as_table_like()
        .and_then(|t| t.get("workspace"))
        .and_then(toml_edit::Item::as_bool)
        == Some(true)
}

fn span_of(table: &dyn TableLike, key: &str) -> Option<Range<usize>> {
    table
        .get(key)
        .and_then(toml_edit::Item::span)
        .or_else(|| table.key(key).and_then(toml_edit::Key::span))
}

/// The package a manifest declares, or `None` for a virtual manifest (no `[package]`).
fn read_crate(
    file: &TomlFile,
    dir: &str,
    ws: Option<&WorkspaceInfo>,
) -> Result<Option<Package>, DiscoveryError> {
    // `[project]` is Cargo's old spelling of `[package]`, still accepted.
    let pkg = match file.table(file.root(), "package", "package")? {
        Some(pkg) => pkg,
        None => match file.table(file.root(), "project", "project")? {
            Some(pkg) => pkg,
            None => return Ok(None),
        },
    };
    let name = file
        .string(pkg, "name", "package.name")?
        .ok_or_else(|| {
            file.error(span_of(file.root(), "package"), "`[package]` has no `name`")
                .with_help("add `name = \"…\"` to `[package]`")
        })?
        .to_owned();
    let (version, version_source) = crate_version(file, pkg, ws)?;
    let publish = match pkg.get("publish") {
        Some(item) => read_publish(file, item, "package.publish", ws)?,
        // Without a version Cargo refuses to publish (since Cargo 1.75).
        None => Publish {
            private: matches!(version_source, VersionSource::Missing),
            registry: None,
        },
    };

    let dependencies = crate_dependencies(file, dir, ws)?;
    Ok(Some(Package {
        name,
        ecosystem: Ecosystem::Cargo,
        path: dir.to_owned(),
        manifest: file.file.clone(),
        version: Some(version),
        version_source,
        private: publish.private,
        registry: publish.registry,
        dependencies,
    }))
}

/// A crate's version: its own, the workspace's (`version.workspace = true`), or Cargo's default
/// `0.0.0` when it has none.
fn crate_version(
    file: &TomlFile,
    pkg: &dyn toml_edit::TableLike,
    ws: Option<&WorkspaceInfo>,
) -> Result<(String, VersionSource), DiscoveryError> {
    Ok(match pkg.get("version") {
        None => ("0.0.0".to_owned(), VersionSource::Missing),
        Some(item) if item.as_str().is_some() => (
            item.as_str().unwrap_or_default().to_owned(),
            VersionSource::Manifest {
                location: Location {
                    file: file.file.clone(),
                    key: vec!["package".into(), "version".into()],
                    line: file.line(item.span()),
                },
            },
        ),
        Some(item) if is_workspace_true(item) => {
            let Some((v, line)) = ws.and_then(|w| w.version.clone()) else {
                return Err(file
                    .error(
                        item.span(),
                        "`version.workspace = true` but the workspace sets no `version`",
                    )
                    .with_help("add `version` to `[workspace.package]` in the root `Cargo.toml`"));
            };
            let manifest = ws.map(|w| w.manifest.clone()).unwrap_or_default();
            (
                v,
                VersionSource::Workspace {
                    location: Location {
                        file: manifest,
                        key: vec!["workspace".into(), "package".into(), "version".into()],
                        line,
                    },
                },
            )
        }
        Some(item) => {
            return Err(file.error(
                item.span(),
                format!(
                    "`package.version` must be a string, found {}",
                    item.type_name()
                ),
            ));
        }
    })
}

/// Every dependency table of a crate, its `[target.<cfg>]` tables too.
fn crate_dependencies(
    file: &TomlFile,
    dir: &str,
    ws: Option<&WorkspaceInfo>,
) -> Result<Vec<Dependency>, DiscoveryError> {
    let mut dependencies = Vec::new();
    for (table, kind) in DEPENDENCY_TABLES {
        if let Some(t) = file.table(file.root(), table, table)? {
            read_dependencies(file, dir, ws, t, &[table], kind, None, &mut dependencies)?;
        }
    }
    if let Some(targets) = file.table(file.root(), "target", "target")? {
        for (cfg, item) in targets.iter() {
            let Some(target) = item.as_table_like() else {
                return Err(file.error(item.span(), format!("`target.{cfg}` must be a table")));
            };
            for (table, kind) in DEPENDENCY_TABLES {
                if let Some(t) = file.table(target, table, &format!("target.{cfg}.{table}"))? {
                    read_dependencies(
                        file,
                        dir,
                        ws,
                        t,
                        &["target", cfg, table],
                        kind,
                        Some(cfg),
                        &mut dependencies,
                    )?;
                }
            }
        }
    }

    Ok(dependencies)
}

/// Path dependencies of one dependency table; registry and git dependencies cannot be internal.
#[allow(clippy::too_many_arguments)]
fn read_dependencies(
    file: &TomlFile,
    dir: &str,
    ws: Option<&WorkspaceInfo>,
    table: &dyn TableLike,
    table_key: &[&str],
    kind: DependencyKind,
    target: Option<&str>,
    out: &mut Vec<Dependency>,
) -> Result<(), DiscoveryError> {
    for (key, item) in table.iter() {
        let what = format!("{}.{key}", table_key.join("."));
        if item.as_str().is_some() {
            continue;
        }
        let Some(t) = item.as_table_like() else {
            return Err(file.error(
                item.span(),
                format!("dependency `{what}` must be a version string or a table"),
            ));
        };
        let optional = t
            .get("optional")
            .and_then(toml_edit::Item::as_bool)
            .unwrap_or(false);
        let line = file.line(span_of(table, key));
        let dep = if is_workspace_true(item) {
            let Some(ws) = ws else {
                return Err(file
                    .error(
                        span_of(table, key),
                        format!("`{what}.workspace = true` but the crate is in no workspace"),
                    )
                    .with_help("give the dependency's `version` or `path` here"));
            };
            let Some(entry) = ws.dependencies.get(key) else {
                return Err(file
                    .error(span_of(table, key), format!("`{what}.workspace = true` but `[workspace.dependencies]` has no `{key}`"))
                    .with_help(format!("add `{key}` to `[workspace.dependencies]` in `{}`", ws.manifest)));
            };
            let Some(path) = entry.path.clone() else {
                continue;
            };
            let name = entry.package.clone().unwrap_or_else(|| key.to_owned());
            Dependency {
                alias: (name != key).then(|| key.to_owned()),
                name,
                ecosystem: Ecosystem::Cargo,
                kind,
                requirement: entry.version.clone(),
                optional,
                target: target.map(str::to_owned),
                path: Some(path),
                location: entry.location.clone(),
            }
        } else {
            let Some(path) = file.string(t, "path", &format!("{what}.path"))? else {
                continue;
            };
            // A path that leaves the repository cannot be a workspace package.
            let Some(path) = join_rel(dir, path) else {
                continue;
            };
            let name = file
                .string(t, "package", &format!("{what}.package"))?
                .unwrap_or(key)
                .to_owned();
            Dependency {
                alias: (name != key).then(|| key.to_owned()),
                name,
                ecosystem: Ecosystem::Cargo,
                kind,
                requirement: file
                    .string(t, "version", &format!("{what}.version"))?
                    .map(str::to_owned),
                optional,
                target: target.map(str::to_owned),
                path: Some(path),
                location: Location {
                    file: file.file.clone(),
                    key: table_key
                        .iter()
                        .map(|s| (*s).to_owned())
                        .chain([key.to_owned()])
                        .collect(),
                    line,
                },
            }
        };
        out.push(dep);
    }
    Ok(())
}
