//! The workspace: every package of every ecosystem in the repository, and the graph between them.
//!
//! [`discover`] is stage 1 of the flow. It lists the repository's manifests once, lets each
//! ecosystem adapter apply its own workspace rules, adds what `polyship.toml` declares, resolves which
//! dependencies are internal, and checks the result (no duplicate names within an ecosystem). It only
//! reads; every problem is returned, never printed.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use crate::config::LoadedConfig;
use crate::diagnostic::{Position, SourceError, Warning};
use crate::ecosystem::{self, Context, Found};

pub mod files;
mod graph;
mod package;

pub use graph::{CycleError, DependencyGraph};
pub use package::{
    Dependency, DependencyKind, Ecosystem, Location, Package, VersionSource, child, is_within,
    join_rel, parent_dir,
};

use files::{FileIndex, MemberGlob};

/// Why discovery failed.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("invalid manifest `{}`", .0.path.display())]
    Manifest(#[source] SourceError),
    #[error("invalid `{}`", .0.path.display())]
    Config(#[source] SourceError),
    #[error("failed to read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to list the repository's manifests")]
    List(#[from] files::ListError),
    #[error("two {ecosystem} packages are named `{name}`: `{first}` and `{second}`")]
    DuplicateName {
        ecosystem: Ecosystem,
        name: String,
        first: String,
        second: String,
    },
}

impl DiscoveryError {
    /// How to fix it, when the source error does not already say.
    pub fn help(&self) -> Option<String> {
        match self {
            DiscoveryError::DuplicateName { .. } => Some(
                "rename one of them, or add one directory to `ignore` in `polyship.toml`"
                    .to_owned(),
            ),
            DiscoveryError::List(files::ListError::NotUtf8 { .. }) => Some(
                "rename it with UTF-8 characters (git shows its bytes with `git ls-files`)"
                    .to_owned(),
            ),
            _ => None,
        }
    }

    /// Adds a `help:` line to an error that points into a file.
    #[must_use]
    pub fn with_help(self, help: impl Into<String>) -> Self {
        match self {
            DiscoveryError::Manifest(e) => DiscoveryError::Manifest(e.help(help)),
            DiscoveryError::Config(e) => DiscoveryError::Config(e.help(help)),
            other => other,
        }
    }

    /// Whether the error is the user's input (exit code 2) rather than a failed operation.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, DiscoveryError::Read { .. } | DiscoveryError::List(_))
    }
}

/// Every package of the repository and the graph of their internal dependencies.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// The repository root (absolute).
    pub root: PathBuf,
    /// Sorted by ecosystem, then path, then name; indices into this list name packages in the graph.
    pub packages: Vec<Package>,
    pub graph: DependencyGraph,
}

impl Workspace {
    /// The index of the package `name` of `ecosystem`.
    pub fn find(&self, ecosystem: Ecosystem, name: &str) -> Option<usize> {
        self.packages
            .iter()
            .position(|p| p.ecosystem == ecosystem && p.name == name)
    }

    /// Package indices with dependencies before dependents; dev-dependencies do not order.
    pub fn topological_order(&self) -> Result<Vec<usize>, CycleError> {
        self.graph.topological_order(&self.packages)
    }
}

/// A discovered workspace and what discovery wants the user to know.
#[derive(Debug)]
pub struct Discovery {
    pub workspace: Workspace,
    pub warnings: Vec<Warning>,
    /// Why manifests were or were not taken as packages (shown with `-v`).
    pub notes: Vec<String>,
}

/// Reads `polyship.toml` and discovers the workspace at `root`, the repository root.
pub fn open(root: &Path) -> Result<(LoadedConfig, Discovery), DiscoveryError> {
    let config = crate::config::load(root).map_err(|e| match e {
        crate::config::ConfigError::Invalid(e) => DiscoveryError::Config(e),
        crate::config::ConfigError::Read { path, source } => DiscoveryError::Read { path, source },
    })?;
    let discovery = discover(root, &config)?;
    Ok((config, discovery))
}

/// Discovers every package under `root` (the repository root), honouring `config`.
pub fn discover(root: &Path, config: &LoadedConfig) -> Result<Discovery, DiscoveryError> {
    let git = root.join(".git").exists();
    let files = FileIndex::list(root, git)?;
    discover_in(root, &files, config)
}

/// [`discover`] over an already listed set of manifests.
pub fn discover_in(
    root: &Path,
    files: &FileIndex,
    config: &LoadedConfig,
) -> Result<Discovery, DiscoveryError> {
    let cx = Context { root, files };
    let ignore = ignore_globs(config)?;
    let mut found = Found::default();
    for adapter in ecosystem::ADAPTERS {
        found.extend(adapter.discover(&cx)?);
    }
    load_declared(&cx, config, &mut found)?;
    // Packages one ecosystem needs from another (a maturin wheel's crate), until none is missing.
    while let Some((eco, dir)) = found.needs.pop() {
        if !found
            .packages
            .iter()
            .any(|p| p.ecosystem == eco && p.path == dir)
            && let Some(more) = eco.adapter().load(&cx, &dir)?
        {
            found.extend(more);
        }
    }

    let mut warnings = found.warnings;
    let notes = found.notes;
    let mut packages = found.packages;
    packages.retain(|p| !is_ignored(&ignore, &p.path));
    packages.sort_by(|a, b| (a.ecosystem, &a.path, &a.name).cmp(&(b.ecosystem, &b.path, &b.name)));
    packages.dedup_by(|a, b| a.ecosystem == b.ecosystem && a.path == b.path && a.name == b.name);
    check_duplicates(&packages)?;
    // A name becomes a tag, a path and a command-line argument: no control characters in it.
    if let Some(p) = packages
        .iter()
        .find(|p| p.name.chars().any(char::is_control))
    {
        return Err(DiscoveryError::Manifest(
            SourceError::new(
                &p.manifest,
                format!(
                    "the package name `{}` holds a control character",
                    crate::diagnostic::terminal_safe(&crate::diagnostic::clip(&p.name))
                ),
            )
            .help("give the package a name of letters, digits and `-`, `_`, `.`, `@`, `/`"),
        ));
    }
    for p in &packages {
        if let VersionSource::Linked { ecosystem, name } = &p.version_source
            && !packages
                .iter()
                .any(|q| q.ecosystem == *ecosystem && q.name == *name)
        {
            warnings.push(
                Warning::new(format!(
                    "`{}` takes its version from `{ecosystem}:{name}`, which `ignore` leaves out; \
                     they cannot be released apart",
                    p.id()
                ))
                .in_file(&p.manifest, None)
                .help(format!(
                    "take `{ecosystem}:{name}`'s directory out of `ignore` in polyship.toml"
                )),
            );
        }
    }
    warnings.extend(unreached_crates(files, &packages, &ignore));
    resolve_dependencies(&mut packages, &mut warnings);
    let graph = DependencyGraph::new(&packages);
    Ok(Discovery {
        workspace: Workspace {
            root: root.to_owned(),
            packages,
            graph,
        },
        warnings,
        notes,
    })
}

/// A repository without a Cargo workspace at its root (an npm or Python one) may hold crates in
/// a directory of their own — a Tauri app's `src-tauri/`, a `rust/` workspace. Discovery reads
/// Cargo from the root only, so each such `Cargo.toml` near the top (one or two directories
/// down) that no package covers and `ignore` does not leave out is a warning, never a silent
/// skip. Deeper ones are taken for test fixtures.
fn unreached_crates(
    files: &FileIndex,
    packages: &[Package],
    ignore: &[MemberGlob],
) -> Vec<Warning> {
    if files.contains("Cargo.toml") {
        return Vec::new();
    }
    let mut dirs: Vec<&str> = files
        .dirs_with("Cargo.toml")
        .filter(|d| *d != "." && d.split('/').count() <= 2)
        .collect();
    dirs.sort_by_key(|d| d.split('/').count());
    let mut warned: Vec<&str> = Vec::new();
    let mut warnings = Vec::new();
    for dir in dirs {
        if warned.iter().any(|w| is_within(dir, w))
            || is_ignored(ignore, dir)
            || packages
                .iter()
                .any(|p| p.ecosystem == Ecosystem::Cargo && is_within(dir, &p.path))
        {
            continue;
        }
        warned.push(dir);
        warnings.push(
            Warning::new(format!(
                "`{dir}/Cargo.toml` is outside every Cargo workspace polyship reads (there is none at the root): its crates are not released"
            ))
            .in_file(format!("{dir}/Cargo.toml"), None)
            .help(format!(
                "declare each crate in polyship.toml (`[[package]]` with `path = \"{dir}\"`), or leave them out with `ignore = [\"{dir}\"]`"
            )),
        );
    }
    warnings
}

/// The `[[package]]` entries of `polyship.toml`, each loaded by its ecosystem's adapter (every
/// adapter when the entry names none) unless discovery found it already.
fn load_declared(
    cx: &Context<'_>,
    config: &LoadedConfig,
    found: &mut Found,
) -> Result<(), DiscoveryError> {
    for entry in &config.config.packages {
        let span = entry.span();
        let entry = entry.get_ref();
        let Some(dir) = join_rel(".", &entry.path) else {
            return Err(DiscoveryError::Config(
                config
                    .error_at(
                        span.start,
                        format!("package path `{}` is outside the repository", entry.path),
                    )
                    .help("give a path relative to the repository root"),
            ));
        };
        let ecosystems = entry.ecosystem.map_or(Ecosystem::ALL.to_vec(), |e| vec![e]);
        let mut loaded = false;
        for eco in ecosystems {
            if found
                .packages
                .iter()
                .any(|p| p.ecosystem == eco && p.path == dir)
            {
                loaded = true;
                continue;
            }
            if let Some(more) = eco.adapter().load(cx, &dir)? {
                loaded = true;
                found.extend(more);
            }
        }
        if !loaded {
            let wanted = entry.ecosystem.map_or_else(
                || "`Cargo.toml`, `package.json` or `pyproject.toml`".to_owned(),
                |e| format!("`{}`", e.manifest_name()),
            );
            return Err(DiscoveryError::Config(
                config
                    .error_at(
                        span.start,
                        format!("`{dir}` holds no {wanted} with a package"),
                    )
                    .help("fix the path, or remove this `[[package]]` entry"),
            ));
        }
    }
    Ok(())
}

fn ignore_globs(config: &LoadedConfig) -> Result<Vec<MemberGlob>, DiscoveryError> {
    config
        .config
        .ignore
        .iter()
        .map(|g| {
            MemberGlob::new(".", g.get_ref()).map_err(|msg| {
                DiscoveryError::Config(
                    config
                        .error_at(g.span().start, format!("invalid ignore glob `{}`: {msg}", g.get_ref()))
                        .help("write a glob relative to the repository root, such as `tests/fixtures/**`"),
                )
            })
        })
        .collect()
}

/// A directory is ignored when it, or any directory above it, matches an ignore glob.
fn is_ignored(globs: &[MemberGlob], dir: &str) -> bool {
    if globs.is_empty() {
        return false;
    }
    let mut cur = dir;
    loop {
        if files::select(globs, [cur]).len() == 1 {
            return true;
        }
        if cur == "." {
            return false;
        }
        cur = parent_dir(cur);
    }
}

fn check_duplicates(packages: &[Package]) -> Result<(), DiscoveryError> {
    let mut seen: HashMap<(Ecosystem, &str), &str> = HashMap::new();
    for p in packages {
        if let Some(first) = seen.insert((p.ecosystem, &p.name), &p.manifest) {
            return Err(DiscoveryError::DuplicateName {
                ecosystem: p.ecosystem,
                name: p.name.clone(),
                first: first.to_owned(),
                second: p.manifest.clone(),
            });
        }
    }
    Ok(())
}

/// Keeps only the dependencies that point at a package of the workspace.
fn resolve_dependencies(packages: &mut [Package], warnings: &mut Vec<Warning>) {
    let by_name: HashMap<(Ecosystem, String), String> = packages
        .iter()
        .map(|p| ((p.ecosystem, p.name.clone()), p.path.clone()))
        .collect();
    let by_path: HashMap<(Ecosystem, String), String> = packages
        .iter()
        .map(|p| ((p.ecosystem, p.path.clone()), p.name.clone()))
        .collect();
    let mut warned = BTreeSet::new();
    for package in packages.iter_mut() {
        let links_by_name = package.ecosystem.adapter().links_by_name();
        package.dependencies.retain(|dep| {
            let at = Some(Position { line: dep.location.line, column: 1, line_text: String::new() });
            let Some(target_path) = by_name.get(&(dep.ecosystem, dep.name.clone())) else {
                // A path that holds a workspace package under another name: the manifest forgot the
                // rename, and the ecosystem's own tool rejects it too.
                if let Some(path) = &dep.path
                    && let Some(actual) = by_path.get(&(dep.ecosystem, path.clone()))
                    && warned.insert((dep.location.file.clone(), dep.name.clone()))
                {
                    warnings.push(
                        Warning::new(format!(
                            "`{}` depends on `{}` at `{path}`, but the package there is `{actual}`",
                            package.name, dep.name
                        ))
                        .in_file(&dep.location.file, at)
                        .help(format!("name the package: add `package = \"{actual}\"` to the dependency")),
                    );
                }
                return false;
            };
            match &dep.path {
                Some(path) if path == target_path => true,
                Some(path) => {
                    if warned.insert((dep.location.file.clone(), dep.name.clone())) {
                        warnings.push(
                            Warning::new(format!(
                                "`{}` depends on `{}` at `{path}`, but the workspace package `{}` is at `{target_path}`; \
                                 treating it as an outside dependency",
                                package.name, dep.name, dep.name
                            ))
                            .in_file(&dep.location.file, at),
                        );
                    }
                    false
                }
                None => links_by_name,
            }
        });
    }
}
