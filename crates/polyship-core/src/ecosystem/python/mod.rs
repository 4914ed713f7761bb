//! Python: the `pyproject.toml` files that declare the repository's distributions.
//!
//! Python has no single workspace file, so polyship follows what Python tools do. A distribution
//! is a `pyproject.toml` with a project (PEP 621 `[project]`, or Poetry's `[tool.poetry]`) that is:
//!
//! 1. the root project (what `pip install .`, `uv build` and `python -m build` build);
//! 2. a member of the root's uv workspace (`[tool.uv.workspace] members`, less `exclude`);
//! 3. a maturin project built from a crate of the repository (a Rust crate's Python wheel, built
//!    and released with it), outside test and fixture directories;
//! 4. named by a `[[package]]` of `polyship.toml` (loaded by the discovery driver);
//! 5. only when none of 1–3 exists: any tracked project outside test, fixture, example, script,
//!    benchmark and documentation directories.
//!
//! Every other `pyproject.toml` — test fixtures (which may even share names), a dev-only script
//! project — is not a package, and `-v` says why of each. A uv workspace is checked like the other
//! ecosystems' (a literal member without `pyproject.toml` is an error, a glob matching nothing a
//! warning). Names are normalised per PEP 503. A maturin project whose version is dynamic takes its
//! crate's version: the wheel and the crate are linked and the crate's manifest is the one a
//! release edits.

pub(crate) mod lockfile;
pub(crate) mod release;
pub use release::is_maturin;

pub use release::Settings;

use toml_edit::TableLike;

use semver::Version;

use super::{Adapter, Context, Found, TomlFile, cargo};
use crate::version::Scheme;
use crate::workspace::files::{MemberGlob, select};
use crate::workspace::{
    Dependency, DependencyKind, DiscoveryError, Ecosystem, Location, Package, VersionSource, child,
    join_rel, parent_dir,
};

pub struct Python;

const MANIFEST: &str = "pyproject.toml";
const PRIVATE_CLASSIFIER: &str = "Private :: Do Not Upload";

impl Adapter for Python {
    fn gates(&self) -> &'static [(&'static str, &'static str)] {
        &[("pytest", "python3 -m pytest")]
    }

    fn ecosystem(&self) -> Ecosystem {
        Ecosystem::Python
    }

    fn listed_files(&self) -> &'static [&'static str] {
        &["pyproject.toml"]
    }

    fn discover(&self, cx: &Context<'_>) -> Result<Found, DiscoveryError> {
        let mut found = Found::default();
        let dirs: Vec<&str> = cx.files.dirs_with(MANIFEST).collect();
        let chosen = choose(cx, &dirs, &mut found)?;
        for (dir, why) in chosen {
            let manifest = child(dir, MANIFEST);
            let Some(text) = cx.read(&manifest)? else {
                continue;
            };
            let file = TomlFile::parse(&manifest, text)?;
            if let Some(p) = read_project(cx, &file, dir, &mut found)? {
                found.notes.push(format!(
                    "`{manifest}` is the Python distribution `{}`: {why}",
                    p.name
                ));
                found.packages.push(p);
            } else {
                found.notes.push(format!(
                    "`{manifest}` declares no distribution; not a package"
                ));
            }
        }
        Ok(found)
    }

    fn load(&self, cx: &Context<'_>, dir: &str) -> Result<Option<Found>, DiscoveryError> {
        let manifest = child(dir, MANIFEST);
        let Some(text) = cx.read(&manifest)? else {
            return Ok(None);
        };
        let file = TomlFile::parse(&manifest, text)?;
        let mut found = Found::default();
        match read_project(cx, &file, dir, &mut found)? {
            Some(p) => {
                found.packages.push(p);
                Ok(Some(found))
            }
            None => Ok(None),
        }
    }

    fn links_by_name(&self) -> bool {
        true
    }

    fn normalize_name(&self, name: &str) -> String {
        normalize_name(name)
    }

    fn scheme(&self) -> Scheme {
        Scheme::Pep440
    }

    fn satisfies(&self, requirement: &str, version: &str) -> Option<bool> {
        crate::version::satisfies_pep440(requirement, version)
    }

    fn rewrite_requirement(
        &self,
        requirement: &str,
        new: &Version,
    ) -> Result<Option<String>, String> {
        crate::version::rewrite::pep440(requirement, new)
    }

    fn requirement(&self, version: &str, exact: bool) -> String {
        if exact {
            format!("=={version}")
        } else {
            format!(">={version}")
        }
    }
}

/// Directory names whose projects are never packages in the fallback rule: what test suites,
/// examples, scripts, benchmarks and docs keep.
const NOT_PACKAGES: [&str; 16] = [
    "test",
    "tests",
    "testing",
    "testdata",
    "test-data",
    "fixtures",
    "__fixtures__",
    "fixture",
    "example",
    "examples",
    "script",
    "scripts",
    "bench",
    "benches",
    "benchmarks",
    "docs",
];

/// Which `pyproject.toml` directories are distributions, and why (see the module's rule).
fn choose<'d>(
    cx: &Context<'_>,
    dirs: &[&'d str],
    found: &mut Found,
) -> Result<Vec<(&'d str, String)>, DiscoveryError> {
    let mut chosen: Vec<(&'d str, String)> = Vec::new();
    let root = if dirs.contains(&".") {
        cx.read(MANIFEST)?
            .map(|text| TomlFile::parse(MANIFEST, text))
            .transpose()?
    } else {
        None
    };
    if let Some(root) = &root {
        if declares_project(root) {
            chosen.push((".", "the root project".to_owned()));
        }
        for dir in uv_members(cx, root, dirs, found)? {
            if dir != "." {
                chosen.push((dir, "a member of the root uv workspace".to_owned()));
            }
        }
    }
    let outside = |d: &str| !d.split('/').any(|part| NOT_PACKAGES.contains(&part));
    // Maturin projects: read leniently, since a fixture that does not parse is no one's package.
    for &dir in dirs {
        if dir == "." || chosen.iter().any(|(d, _)| *d == dir) || !outside(dir) {
            continue;
        }
        let manifest = child(dir, MANIFEST);
        let Ok(Some(text)) = cx.read(&manifest) else {
            continue;
        };
        let Ok(file) = TomlFile::parse(&manifest, text) else {
            continue;
        };
        if let Some(crate_dir) = maturin_crate(&file, dir)
            && (cargo::in_root_workspace(cx, &crate_dir)
                || cx.files.dirs_with("Cargo.toml").any(|d| d == crate_dir))
        {
            chosen.push((
                dir,
                format!("a maturin project built from the crate at `{crate_dir}`"),
            ));
        }
    }
    if chosen.is_empty() {
        for &dir in dirs {
            if outside(dir) {
                chosen.push((
                    dir,
                    "no root project, uv workspace or maturin project says otherwise, and it is outside test, example and script directories".to_owned(),
                ));
            }
        }
    }
    for &dir in dirs {
        if !chosen.iter().any(|(d, _)| *d == dir) {
            let why = if outside(dir) {
                "not the root project, a uv workspace member or a maturin project of a crate here; name it in `[[package]]` of polyship.toml to release it"
            } else {
                "it is in a test, fixture, example, script, benchmark or docs directory"
            };
            found.notes.push(format!(
                "`{}` is not a package: {why}",
                child(dir, MANIFEST)
            ));
        }
    }
    Ok(chosen)
}

fn declares_project(file: &TomlFile) -> bool {
    let root = file.root();
    let project = root
        .get("project")
        .and_then(toml_edit::Item::as_table_like)
        .is_some_and(|p| p.contains_key("name"));
    let poetry = root
        .get("tool")
        .and_then(|t| t.get("poetry"))
        .and_then(toml_edit::Item::as_table_like)
        .is_some_and(|p| p.contains_key("name"));
    project || poetry
}

/// The crate directory of a maturin project (`tool.maturin.manifest-path`, else its own
/// directory), when the file uses maturin.
fn maturin_crate(file: &TomlFile, dir: &str) -> Option<String> {
    let root = file.root();
    let maturin = root.get("tool").and_then(|t| t.get("maturin"));
    let backend = root
        .get("build-system")
        .and_then(|b| b.get("build-backend"))
        .and_then(toml_edit::Item::as_str);
    if maturin.is_none() && !backend.is_some_and(|b| b.starts_with("maturin")) {
        return None;
    }
    let manifest_path = maturin
        .and_then(|m| m.get("manifest-path"))
        .and_then(toml_edit::Item::as_str)
        .unwrap_or("Cargo.toml");
    join_rel(dir, manifest_path).map(|p| parent_dir(&p).to_owned())
}

/// The members of the root's uv workspace, checked as the other ecosystems' workspaces are.
fn uv_members<'d>(
    cx: &Context<'_>,
    root: &TomlFile,
    dirs: &[&'d str],
    found: &mut Found,
) -> Result<Vec<&'d str>, DiscoveryError> {
    let globs = check_uv_workspace(cx, root, ".", dirs, found)?;
    if globs.is_empty() {
        return Ok(Vec::new());
    }
    Ok(select(&globs, dirs.iter().copied()))
}

/// PEP 503 normalisation: lowercase, runs of `-`, `_` and `.` become one `-`.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// A PEP 508 requirement split into the distribution name and what follows it (extras excluded,
/// markers excluded): `acme-core[cli] >=1.2,<2 ; python_version>'3.9'` → (`acme-core`, `>=1.2,<2`).
pub fn parse_requirement(req: &str) -> Option<(&str, Option<&str>)> {
    let req = req.trim_start();
    let end = req
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(req.len());
    let name = &req[..end];
    if name.is_empty()
        || !name.starts_with(|c: char| c.is_ascii_alphanumeric())
        || !name.ends_with(|c: char| c.is_ascii_alphanumeric())
    {
        return None;
    }
    let mut rest = req[end..].trim_start();
    if let Some(after) = rest.strip_prefix('[') {
        rest = after.split_once(']')?.1.trim_start();
    }
    let spec = rest.split(';').next().unwrap_or_default().trim();
    if !(spec.is_empty() || spec.starts_with(['<', '>', '=', '!', '~', '@', '('])) {
        return None;
    }
    Some((name, (!spec.is_empty()).then_some(spec)))
}

fn check_uv_workspace(
    cx: &Context<'_>,
    file: &TomlFile,
    dir: &str,
    dirs: &[&str],
    found: &mut Found,
) -> Result<Vec<MemberGlob>, DiscoveryError> {
    let Some(tool) = file.table(file.root(), "tool", "tool")? else {
        return Ok(Vec::new());
    };
    let Some(uv) = file.table(tool, "uv", "tool.uv")? else {
        return Ok(Vec::new());
    };
    let Some(ws) = file.table(uv, "workspace", "tool.uv.workspace")? else {
        return Ok(Vec::new());
    };
    let mut globs = Vec::new();
    let mut spans = Vec::new();
    for (key, negate) in [("members", false), ("exclude", true)] {
        for (written, span) in file.strings(ws, key, &format!("tool.uv.workspace.{key}"))? {
            let pattern = if negate {
                format!("!{written}")
            } else {
                written.clone()
            };
            let glob = MemberGlob::new(dir, &pattern).map_err(|msg| {
                file.error(
                    span.clone(),
                    format!("invalid uv workspace pattern `{written}`: {msg}"),
                )
            })?;
            globs.push(glob);
            spans.push(span);
        }
    }
    for (glob, span) in globs.iter().zip(spans) {
        if glob.negated {
            continue;
        }
        if glob.is_glob() {
            if select(&globs, dirs.iter().copied())
                .iter()
                .all(|d| !glob.matches(d))
            {
                found.warnings.push(
                    file.warning(
                        span,
                        format!("uv workspace member `{}` matches no project", glob.written),
                    )
                    .help("remove the pattern, or check the path"),
                );
            }
        } else if !cx.root.join(child(glob.literal(), MANIFEST)).is_file() {
            return Err(file
                .error(
                    span,
                    format!(
                        "uv workspace member `{}` has no `pyproject.toml`",
                        glob.written
                    ),
                )
                .with_help(format!(
                    "create `{}`, or remove the entry",
                    child(glob.literal(), MANIFEST)
                )));
        }
    }
    Ok(globs)
}

/// The distribution a `pyproject.toml` declares; `None` when it declares none (a tool-only file,
/// a uv virtual workspace root, Poetry `package-mode = false`).
fn read_project(
    cx: &Context<'_>,
    file: &TomlFile,
    dir: &str,
    found: &mut Found,
) -> Result<Option<Package>, DiscoveryError> {
    let root = file.root();
    let project = file.table(root, "project", "project")?;
    let tool = file.table(root, "tool", "tool")?;
    let poetry = match tool {
        Some(t) => file.table(t, "poetry", "tool.poetry")?,
        None => None,
    };
    let maturin = match tool {
        Some(t) => file.table(t, "maturin", "tool.maturin")?,
        None => None,
    };
    let backend = match file.table(root, "build-system", "build-system")? {
        Some(bs) => file
            .string(bs, "build-backend", "build-system.build-backend")?
            .map(str::to_owned),
        None => None,
    };
    if let Some(p) = poetry
        && p.get("package-mode").and_then(toml_edit::Item::as_bool) == Some(false)
    {
        return Ok(None);
    }
    let name = match (project, poetry) {
        (Some(p), _) if p.contains_key("name") => file.string(p, "name", "project.name")?,
        (_, Some(p)) => file.string(p, "name", "tool.poetry.name")?,
        _ => None,
    };
    let Some(name) = name else {
        if project.is_some_and(|p| !p.is_empty()) {
            found.warnings.push(
                file.warning(
                    None,
                    "`[project]` has no `name`, so it declares no distribution".to_owned(),
                )
                .help("add `name = \"...\"` to `[project]`, or remove the table if the file only configures tools"),
            );
        }
        return Ok(None);
    };
    let tables = Tables {
        project,
        poetry,
        maturin,
        backend: backend.as_deref(),
    };
    let (version, version_source) = project_version(cx, file, dir, name, &tables, found)?;
    let mut private = false;
    for (table, key) in [(project, "project"), (poetry, "tool.poetry")] {
        if let Some(t) = table {
            private |= file
                .strings(t, "classifiers", &format!("{key}.classifiers"))?
                .iter()
                .any(|(c, _)| c.trim() == PRIVATE_CLASSIFIER);
        }
    }
    let mut deps = Vec::new();
    if let Some(p) = project {
        pep621_dependencies(file, p, &mut deps)?;
    }
    dependency_groups(file, &mut deps)?;
    if let Some(p) = poetry {
        poetry_dependencies(file, dir, p, &mut deps)?;
    }
    if let Some(t) = tool {
        uv_sources(file, dir, t, &mut deps)?;
    }

    Ok(Some(Package {
        name: normalize_name(name),
        ecosystem: Ecosystem::Python,
        path: dir.to_owned(),
        manifest: file.file.clone(),
        version,
        version_source,
        private,
        registry: None,
        dependencies: deps,
    }))
}

/// The tables of a `pyproject.toml` its version and dependencies are read from.
struct Tables<'a> {
    project: Option<&'a dyn TableLike>,
    poetry: Option<&'a dyn TableLike>,
    maturin: Option<&'a dyn TableLike>,
    backend: Option<&'a str>,
}

/// Where the distribution `name`'s version is: `[project]` or `[tool.poetry]`, its crate's for a
/// maturin project without one, computed at build time when `dynamic`, or missing.
fn project_version(
    cx: &Context<'_>,
    file: &TomlFile,
    dir: &str,
    name: &str,
    tables: &Tables<'_>,
    found: &mut Found,
) -> Result<(Option<String>, VersionSource), DiscoveryError> {
    let version_in = |table: &dyn TableLike,
                      key: &[&str]|
     -> Result<Option<(String, VersionSource)>, DiscoveryError> {
        Ok(file
            .string(table, "version", &format!("{}.version", key.join(".")))?
            .map(|v| {
                let location = Location {
                    file: file.file.clone(),
                    key: key
                        .iter()
                        .map(|s| (*s).to_owned())
                        .chain(["version".to_owned()])
                        .collect(),
                    line: file.line(table.get("version").and_then(toml_edit::Item::span)),
                };
                (v.to_owned(), VersionSource::Manifest { location })
            }))
    };
    let mut version = match tables.project {
        Some(p) => version_in(p, &["project"])?,
        None => None,
    };
    if version.is_none()
        && let Some(p) = tables.poetry
    {
        version = version_in(p, &["tool", "poetry"])?;
    }
    if let Some((v, source)) = version {
        return Ok((Some(v), source));
    }
    let is_maturin =
        tables.maturin.is_some() || tables.backend.is_some_and(|b| b.starts_with("maturin"));
    if is_maturin {
        let manifest_path = match tables.maturin {
            Some(m) => file
                .string(m, "manifest-path", "tool.maturin.manifest-path")?
                .unwrap_or("Cargo.toml"),
            None => "Cargo.toml",
        };
        let crate_dir = join_rel(dir, manifest_path).map(|p| parent_dir(&p).to_owned());
        let krate = match &crate_dir {
            Some(d) => cargo::read_crate_in(cx, d)?,
            None => None,
        };
        let (Some(krate), Some(crate_dir)) = (krate, crate_dir) else {
            return Err(file
                .error(None, format!("maturin project `{name}` has no crate at `{manifest_path}`"))
                .with_help("set `tool.maturin.manifest-path` to the crate's `Cargo.toml`, or give `project.version`"));
        };
        found.needs.push((Ecosystem::Cargo, crate_dir));
        return Ok((
            krate.version.clone(),
            VersionSource::Linked {
                ecosystem: Ecosystem::Cargo,
                name: krate.name,
            },
        ));
    }
    let dynamic = tables
        .project
        .and_then(|p| p.get("dynamic"))
        .and_then(toml_edit::Item::as_array)
        .is_some_and(|a| a.iter().any(|v| v.as_str() == Some("version")));
    Ok(if dynamic {
        (
            None,
            VersionSource::Dynamic {
                backend: tables.backend.unwrap_or("setuptools").to_owned(),
            },
        )
    } else {
        (None, VersionSource::Missing)
    })
}

/// PEP 621 `dependencies` and `optional-dependencies`.
fn pep621_dependencies(
    file: &TomlFile,
    project: &dyn TableLike,
    deps: &mut Vec<Dependency>,
) -> Result<(), DiscoveryError> {
    pep508_list(
        file,
        project,
        &["project", "dependencies"],
        DependencyKind::Normal,
        None,
        deps,
    )?;
    if let Some(extras) = file.table(
        project,
        "optional-dependencies",
        "project.optional-dependencies",
    )? {
        for (extra, _) in extras.iter() {
            pep508_list(
                file,
                extras,
                &["project", "optional-dependencies", extra],
                DependencyKind::Optional,
                Some(extra),
                deps,
            )?;
        }
    }
    Ok(())
}

/// PEP 735 `[dependency-groups]`: dev dependencies.
fn dependency_groups(file: &TomlFile, deps: &mut Vec<Dependency>) -> Result<(), DiscoveryError> {
    let Some(groups) = file.table(file.root(), "dependency-groups", "dependency-groups")? else {
        return Ok(());
    };
    for (group, item) in groups.iter() {
        // Entries may be `{ include-group = "…" }` tables; only strings are requirements.
        let Some(array) = item.as_array() else {
            return Err(file.error(
                item.span(),
                format!("`dependency-groups.{group}` must be an array"),
            ));
        };
        for (i, v) in array.iter().enumerate() {
            if let Some(s) = v.as_str() {
                push_pep508(
                    file,
                    s,
                    v.span(),
                    &["dependency-groups", group, &i.to_string()],
                    DependencyKind::Dev,
                    Some(group),
                    deps,
                )?;
            }
        }
    }
    Ok(())
}

/// Poetry's `dependencies`, `dev-dependencies` and `group.<name>.dependencies`.
fn poetry_dependencies(
    file: &TomlFile,
    dir: &str,
    poetry: &dyn TableLike,
    deps: &mut Vec<Dependency>,
) -> Result<(), DiscoveryError> {
    poetry_table(
        file,
        dir,
        poetry,
        &["tool", "poetry", "dependencies"],
        DependencyKind::Normal,
        None,
        deps,
    )?;
    poetry_table(
        file,
        dir,
        poetry,
        &["tool", "poetry", "dev-dependencies"],
        DependencyKind::Dev,
        None,
        deps,
    )?;
    if let Some(groups) = file.table(poetry, "group", "tool.poetry.group")? {
        for (group, item) in groups.iter() {
            if let Some(g) = item.as_table_like() {
                poetry_table(
                    file,
                    dir,
                    g,
                    &["tool", "poetry", "group", group, "dependencies"],
                    DependencyKind::Dev,
                    Some(group),
                    deps,
                )?;
            }
        }
    }
    Ok(())
}

/// `[tool.uv.sources]` can point a requirement at a path; then only that path is internal.
fn uv_sources(
    file: &TomlFile,
    dir: &str,
    tool: &dyn TableLike,
    deps: &mut [Dependency],
) -> Result<(), DiscoveryError> {
    if let Some(uv) = file.table(tool, "uv", "tool.uv")?
        && let Some(sources) = file.table(uv, "sources", "tool.uv.sources")?
    {
        for (key, item) in sources.iter() {
            let path = item
                .as_table_like()
                .and_then(|s| s.get("path"))
                .and_then(toml_edit::Item::as_str);
            if let Some(path) = path.and_then(|p| join_rel(dir, p)) {
                let key = normalize_name(key);
                for d in deps.iter_mut().filter(|d| d.name == key) {
                    d.path = Some(path.clone());
                }
            }
        }
    }
    Ok(())
}

fn pep508_list(
    file: &TomlFile,
    table: &dyn TableLike,
    key: &[&str],
    kind: DependencyKind,
    target: Option<&str>,
    out: &mut Vec<Dependency>,
) -> Result<(), DiscoveryError> {
    let last = key[key.len() - 1];
    let Some(item) = table.get(last) else {
        return Ok(());
    };
    let Some(array) = item.as_array() else {
        return Err(file.error(
            item.span(),
            format!(
                "`{}` must be an array of requirement strings",
                key.join(".")
            ),
        ));
    };
    for (i, v) in array.iter().enumerate() {
        let Some(s) = v.as_str() else {
            return Err(file.error(
                v.span(),
                format!("`{}` must hold only requirement strings", key.join(".")),
            ));
        };
        let mut at: Vec<&str> = key.to_vec();
        let index = i.to_string();
        at.push(&index);
        push_pep508(file, s, v.span(), &at, kind, target, out)?;
    }
    Ok(())
}

fn push_pep508(
    file: &TomlFile,
    requirement: &str,
    span: Option<std::ops::Range<usize>>,
    key: &[&str],
    kind: DependencyKind,
    target: Option<&str>,
    out: &mut Vec<Dependency>,
) -> Result<(), DiscoveryError> {
    let Some((name, spec)) = parse_requirement(requirement) else {
        return Err(file
            .error(span, format!("`{requirement}` is not a PEP 508 requirement"))
            .with_help("write a distribution name followed by an optional version specifier, such as `acme-core>=1.2`"));
    };
    out.push(Dependency {
        name: normalize_name(name),
        ecosystem: Ecosystem::Python,
        kind,
        requirement: spec.map(str::to_owned),
        alias: None,
        optional: kind == DependencyKind::Optional,
        target: target.map(str::to_owned),
        path: None,
        location: Location {
            file: file.file.clone(),
            key: key.iter().map(|s| (*s).to_owned()).collect(),
            line: file.line(span),
        },
    });
    Ok(())
}

/// A Poetry dependency table: `name = "^1.2"`, `name = { version = …, path = …, optional = … }`, or
/// an array of such tables for platform-specific requirements.
fn poetry_table(
    file: &TomlFile,
    dir: &str,
    parent: &dyn TableLike,
    key: &[&str],
    kind: DependencyKind,
    target: Option<&str>,
    out: &mut Vec<Dependency>,
) -> Result<(), DiscoveryError> {
    let what = key.join(".");
    let Some(table) = file.table(parent, key[key.len() - 1], &what)? else {
        return Ok(());
    };
    for (name, item) in table.iter() {
        if name == "python" {
            continue;
        }
        let span = item
            .span()
            .or_else(|| table.key(name).and_then(toml_edit::Key::span));
        let (requirement, path, optional) = if let Some(s) = item.as_str() {
            (Some(s.to_owned()), None, false)
        } else if let Some(t) = item.as_table_like() {
            (
                t.get("version")
                    .and_then(toml_edit::Item::as_str)
                    .map(str::to_owned),
                t.get("path")
                    .and_then(toml_edit::Item::as_str)
                    .and_then(|p| join_rel(dir, p)),
                t.get("optional")
                    .and_then(toml_edit::Item::as_bool)
                    .unwrap_or(false),
            )
        } else if item.as_array().is_some() {
            (None, None, false)
        } else {
            return Err(file.error(
                span,
                format!("`{what}.{name}` must be a version string or a table"),
            ));
        };
        out.push(Dependency {
            name: normalize_name(name),
            ecosystem: Ecosystem::Python,
            kind: if optional && kind == DependencyKind::Normal {
                DependencyKind::Optional
            } else {
                kind
            },
            requirement,
            alias: None,
            optional,
            target: target.map(str::to_owned),
            path,
            location: Location {
                file: file.file.clone(),
                key: key
                    .iter()
                    .map(|s| (*s).to_owned())
                    .chain([name.to_owned()])
                    .collect(),
                line: file.line(span),
            },
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_normalise_per_pep_503() {
        assert_eq!(normalize_name("Acme_Core..Py"), "acme-core-py");
        assert_eq!(normalize_name("a-_-b"), "a-b");
    }

    #[test]
    fn requirements_split_name_and_specifier() {
        assert_eq!(
            parse_requirement("acme-core>=1.2,<2"),
            Some(("acme-core", Some(">=1.2,<2")))
        );
        assert_eq!(
            parse_requirement("acme_core[cli] ==1.0 ; python_version > '3.8'"),
            Some(("acme_core", Some("==1.0")))
        );
        assert_eq!(parse_requirement("requests"), Some(("requests", None)));
        assert_eq!(
            parse_requirement("pkg @ file:///x"),
            Some(("pkg", Some("@ file:///x")))
        );
        assert_eq!(
            parse_requirement("pkg (>=1.0)"),
            Some(("pkg", Some("(>=1.0)")))
        );
        assert_eq!(parse_requirement(">=1.0"), None);
        assert_eq!(parse_requirement("pkg-"), None);
        assert_eq!(parse_requirement("pkg[extra"), None);
        assert_eq!(parse_requirement("pkg garbage"), None);
    }
}
