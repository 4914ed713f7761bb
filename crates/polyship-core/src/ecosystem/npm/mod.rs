//! npm, pnpm, yarn and bun: `package.json` packages of the JavaScript workspace.
//!
//! The workspace is defined by `pnpm-workspace.yaml` when present (as pnpm does), else by the root
//! `package.json` `workspaces` (an array, or yarn's `{ "packages": [...] }`; npm, yarn and bun read the
//! same field), else by `lerna.json` `packages`. Without any of them the root `package.json` is a
//! single-package repository. With one, the root is the workspace root and not a member, as npm and
//! changesets treat it. Dependencies resolve to workspace packages by name, unless they point
//! elsewhere (`file:`/`link:` paths, git and tarball URLs).

pub(crate) mod lockfile;
pub(crate) mod release;

pub use release::Settings;

use serde::Deserialize;
use serde_json::{Map, Value};

use semver::Version;

use super::{Adapter, Context, Found};
use crate::diagnostic::{Position, SourceError, Warning};
use crate::json;
use crate::version::Scheme;
use crate::workspace::files::{GlobStyle, MemberGlob, select};
use crate::workspace::{
    Dependency, DependencyKind, DiscoveryError, Ecosystem, Location, Package, VersionSource, child,
    join_rel,
};

pub struct Npm;

const MANIFEST: &str = "package.json";

const DEPENDENCY_FIELDS: [(&str, DependencyKind); 4] = [
    ("dependencies", DependencyKind::Normal),
    ("devDependencies", DependencyKind::Dev),
    ("peerDependencies", DependencyKind::Peer),
    ("optionalDependencies", DependencyKind::Optional),
];

impl Adapter for Npm {
    fn gates(&self) -> &'static [(&'static str, &'static str)] {
        &[("npm-test", "npm test --if-present")]
    }

    fn ecosystem(&self) -> Ecosystem {
        Ecosystem::Npm
    }

    fn listed_files(&self) -> &'static [&'static str] {
        &["package.json", "pnpm-workspace.yaml", "lerna.json"]
    }

    fn discover(&self, cx: &Context<'_>) -> Result<Found, DiscoveryError> {
        let mut found = Found::default();
        let root = match cx.read(MANIFEST)? {
            Some(text) => Some(JsonFile::parse(MANIFEST, text)?),
            None => None,
        };
        let Some(patterns) = workspace_patterns(cx, root.as_ref())? else {
            if let Some(root) = root {
                match read_package(&root, ".")? {
                    Some(p) => found.packages.push(p),
                    None => found.warnings.push(no_name(&root)),
                }
            }
            return Ok(found);
        };
        let mut globs = Vec::with_capacity(patterns.len());
        let mut kept = Vec::with_capacity(patterns.len());
        for pattern in &patterns {
            let glob =
                MemberGlob::with_style(".", &pattern.text, GlobStyle::Npm).map_err(|msg| {
                    DiscoveryError::Manifest(
                        SourceError::new(
                            &pattern.file,
                            format!("invalid workspace pattern `{}`: {msg}", pattern.text),
                        )
                        .at_position(pattern.position.clone()),
                    )
                })?;
            // npm, pnpm and yarn all skip an entry whose directory is missing or holds no
            // `package.json` (a git-ignored fixture that exists only while tests run): so does
            // polyship, with a note under `-v`.
            if !glob.negated
                && !glob.is_glob()
                && !cx.root.join(child(glob.literal(), MANIFEST)).is_file()
            {
                let what = if cx.root.join(glob.literal()).is_dir() {
                    "holds no `package.json`"
                } else {
                    "does not exist"
                };
                found.notes.push(format!(
                    "workspace entry `{}` in `{}` {what}; skipped, as npm, pnpm and yarn skip it",
                    pattern.text, pattern.file
                ));
                continue;
            }
            for (dir, what) in glob.unreadable_members(cx.root) {
                found.warnings.push(
                    Warning::new(format!(
                        "workspace member `{dir}` is {what}; polyship does not read packages through it"
                    ))
                    .in_file(&pattern.file, pattern.position.clone())
                    .help("list the package where it really is, or add it with `[[package]]` in polyship.toml"),
                );
            }
            globs.push(glob);
            kept.push(pattern);
        }
        let candidates: Vec<&str> = cx.files.dirs_with(MANIFEST).filter(|d| *d != ".").collect();
        for (glob, pattern) in globs.iter().zip(&kept) {
            if !glob.negated && glob.is_glob() && !candidates.iter().any(|d| glob.matches(d)) {
                found.warnings.push(
                    Warning::new(format!(
                        "workspace pattern `{}` matches no package",
                        pattern.text
                    ))
                    .in_file(&pattern.file, pattern.position.clone())
                    .help("remove the pattern, or check the path"),
                );
            }
        }
        let mut members: Vec<&str> = select(&globs, candidates.iter().copied());
        // Literal members that git does not list (ignored, say) are still what the user named.
        for glob in &globs {
            if !glob.negated
                && !glob.is_glob()
                && !members.contains(&glob.literal())
                && select(&globs, [glob.literal()]).len() == 1
            {
                members.push(glob.literal());
            }
        }
        for dir in members {
            let manifest = child(dir, MANIFEST);
            let Some(text) = cx.read(&manifest)? else {
                continue;
            };
            let file = JsonFile::parse(&manifest, text)?;
            match read_package(&file, dir)? {
                Some(p) => found.packages.push(p),
                None => found.warnings.push(no_name(&file)),
            }
        }
        Ok(found)
    }

    fn load(&self, cx: &Context<'_>, dir: &str) -> Result<Option<Found>, DiscoveryError> {
        let manifest = child(dir, MANIFEST);
        let Some(text) = cx.read(&manifest)? else {
            return Ok(None);
        };
        let file = JsonFile::parse(&manifest, text)?;
        match read_package(&file, dir)? {
            Some(p) => Ok(Some(Found {
                packages: vec![p],
                ..Found::default()
            })),
            None => Err(DiscoveryError::Manifest(
                SourceError::new(&manifest, "the package has no `name`")
                    .help("add a `\"name\"` field"),
            )),
        }
    }

    fn governed_by_lerna(&self) -> bool {
        true
    }

    /// changesets and lerna (independent mode) tag `name@version`.
    fn default_tag_template(&self) -> &'static str {
        "{name}@{version}"
    }

    fn links_by_name(&self) -> bool {
        true
    }

    fn requirement_is_whole_value(&self) -> bool {
        true
    }

    fn scheme(&self) -> Scheme {
        Scheme::SemVer
    }

    fn satisfies(&self, requirement: &str, version: &str) -> Option<bool> {
        crate::version::satisfies_npm(requirement, version)
    }

    fn rewrite_requirement(
        &self,
        requirement: &str,
        new: &Version,
    ) -> Result<Option<String>, String> {
        crate::version::rewrite::npm(requirement, new)
    }

    fn requirement(&self, version: &str, exact: bool) -> String {
        if exact {
            version.to_owned()
        } else {
            format!("^{version}")
        }
    }

    fn pin(&self, requirement: &str, version: &str) -> Option<String> {
        if let Some(rest) = requirement.strip_prefix("workspace:") {
            return (!matches!(rest, "*" | "^" | "~")).then(|| format!("workspace:{version}"));
        }
        if ["file:", "link:", "portal:"]
            .iter()
            .any(|p| requirement.starts_with(p))
        {
            return None;
        }
        if let Some(alias) = requirement.strip_prefix("npm:") {
            let at = alias.get(1..)?.find('@')? + 1;
            return Some(format!("npm:{}@{version}", &alias[..at]));
        }
        Some(version.to_owned())
    }

    fn has_workspace_protocol(&self) -> bool {
        true
    }

    /// pnpm and yarn replace `workspace:*` with the exact current version, `workspace:^` and
    /// `workspace:~` with `^`/`~` and it.
    fn published_requirement(
        &self,
        requirement: Option<&str>,
        current: Option<&str>,
        workspace_protocol_only: bool,
    ) -> Option<Option<String>> {
        match requirement.map(str::trim) {
            Some(r) if r.starts_with("workspace:") => {
                let rest = &r["workspace:".len()..];
                Some(Some(match (rest, current) {
                    ("*", Some(v)) => v.to_owned(),
                    ("^" | "~", Some(v)) => format!("{rest}{v}"),
                    _ => r.to_owned(),
                }))
            }
            _ if workspace_protocol_only => None,
            other => Some(other.map(str::to_owned)),
        }
    }
}

fn no_name(file: &JsonFile) -> Warning {
    Warning::new(format!(
        "`{}` has no `name`; it is not listed as a package",
        file.file
    ))
    .in_file(&file.file, None)
    .help("add a `\"name\"` field, or leave it out of the workspace patterns")
}

/// A parsed JSON manifest with its text, for positions.
struct JsonFile {
    file: String,
    text: String,
    value: Map<String, Value>,
}

impl JsonFile {
    fn parse(file: &str, text: String) -> Result<Self, DiscoveryError> {
        let body = text.strip_prefix('\u{feff}').unwrap_or(&text);
        let value: Value = crate::json::bounded_from_str(body).map_err(|e| {
            DiscoveryError::Manifest(
                SourceError::new(file, strip_position(&e.to_string()))
                    .at_position(Some(Position::line_col(&text, e.line(), e.column())))
                    .help("fix the JSON syntax at this position"),
            )
        })?;
        let Value::Object(value) = value else {
            return Err(DiscoveryError::Manifest(
                SourceError::new(file, "the top level must be a JSON object").at(&text, 0),
            ));
        };
        Ok(Self {
            file: file.to_owned(),
            text,
            value,
        })
    }

    fn error(&self, path: &[&str], message: impl Into<String>) -> DiscoveryError {
        DiscoveryError::Manifest(
            SourceError::new(&self.file, message)
                .at(&self.text, json::nearest_span(&self.text, path).start),
        )
    }

    fn line(&self, path: &[&str]) -> usize {
        Position::at(&self.text, json::nearest_span(&self.text, path).start).line
    }
}

/// `serde_json` ends its messages with " at line L column C"; the snippet says that already.
fn strip_position(message: &str) -> String {
    message
        .rsplit_once(" at line ")
        .map_or(message, |(m, _)| m)
        .to_owned()
}

/// One workspace pattern and where it is written.
struct Pattern {
    text: String,
    file: String,
    position: Option<Position>,
}

#[derive(Deserialize)]
struct PnpmWorkspace {
    #[serde(default)]
    packages: Option<Vec<String>>,
}

/// The workspace patterns, or `None` for a single-package repository.
fn workspace_patterns(
    cx: &Context<'_>,
    root: Option<&JsonFile>,
) -> Result<Option<Vec<Pattern>>, DiscoveryError> {
    const PNPM: &str = "pnpm-workspace.yaml";
    const LERNA: &str = "lerna.json";
    if let Some(text) = cx.read(PNPM)? {
        json::check_bounds(&text, true).map_err(|(at, why)| {
            DiscoveryError::Manifest(
                SourceError::new(PNPM, why)
                    .at(&text, at)
                    .help("`pnpm-workspace.yaml` holds `packages:`, a short list of glob strings"),
            )
        })?;
        if text.trim().is_empty() {
            return Err(DiscoveryError::Manifest(
                SourceError::new(
                    PNPM,
                    "the file is empty, so pnpm sees no workspace packages",
                )
                .help("list the packages under `packages:`, or delete the file"),
            ));
        }
        let ws: Option<PnpmWorkspace> = serde_norway::from_str(&text).map_err(|e| {
            let position = e
                .location()
                .map(|l| Position::line_col(&text, l.line(), l.column()));
            DiscoveryError::Manifest(
                SourceError::new(
                    PNPM,
                    e.to_string()
                        .split(" at line ")
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                )
                .at_position(position)
                .help("`pnpm-workspace.yaml` holds `packages:`, a list of glob strings"),
            )
        })?;
        let list = ws.and_then(|w| w.packages).unwrap_or_default();
        return Ok(Some(
            list.into_iter().map(|p| located(PNPM, &text, p)).collect(),
        ));
    }
    if let Some(root) = root
        && let Some(ws) = root.value.get("workspaces")
    {
        let list = match ws {
            Value::Array(a) => Some(a),
            Value::Object(o) => match o.get("packages") {
                Some(Value::Array(a)) => Some(a),
                None => return Ok(Some(Vec::new())),
                Some(_) => None,
            },
            _ => None,
        };
        let strings = list.and_then(|a| {
            a.iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
        });
        let Some(strings) = strings else {
            return Err(root
                .error(
                    &["workspaces"],
                    "`workspaces` must be an array of glob strings or `{ \"packages\": [...] }`",
                )
                .with_help("write `\"workspaces\": [\"packages/*\"]`"));
        };
        return Ok(Some(
            strings
                .into_iter()
                .map(|p| located(MANIFEST, &root.text, p))
                .collect(),
        ));
    }
    if let Some(text) = cx.read(LERNA)? {
        let lerna = JsonFile::parse(LERNA, text)?;
        if let Some(packages) = lerna.value.get("packages") {
            let Some(strings) = packages.as_array().and_then(|a| {
                a.iter()
                    .map(|v| v.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
            }) else {
                return Err(
                    lerna.error(&["packages"], "`packages` must be an array of glob strings")
                );
            };
            return Ok(Some(
                strings
                    .into_iter()
                    .map(|p| located(LERNA, &lerna.text, p))
                    .collect(),
            ));
        }
    }
    Ok(None)
}

/// A pattern with the position of its first quoted occurrence in the file.
fn located(file: &str, text: &str, pattern: String) -> Pattern {
    let position = [
        format!("\"{pattern}\""),
        format!("'{pattern}'"),
        pattern.clone(),
    ]
    .iter()
    .find_map(|needle| text.find(needle.as_str()))
    .map(|offset| Position::at(text, offset));
    Pattern {
        text: pattern,
        file: file.to_owned(),
        position,
    }
}

/// The package a `package.json` declares; `None` without a `name`.
fn read_package(file: &JsonFile, dir: &str) -> Result<Option<Package>, DiscoveryError> {
    let v = &file.value;
    let name = match v.get("name") {
        None => return Ok(None),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(file.error(&["name"], "`name` must be a string")),
    };
    let (version, version_source) = match v.get("version") {
        None => (None, VersionSource::Missing),
        Some(Value::String(s)) => (
            Some(s.clone()),
            VersionSource::Manifest {
                location: Location {
                    file: file.file.clone(),
                    key: vec!["version".into()],
                    line: file.line(&["version"]),
                },
            },
        ),
        Some(_) => return Err(file.error(&["version"], "`version` must be a string")),
    };
    // npm reads `private` by JavaScript truthiness: `"false"` is a non-empty string, so private.
    let private = match v.get("private") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Number(n)) => n.as_f64().is_some_and(|n| n != 0.0),
        Some(Value::Array(_) | Value::Object(_)) => true,
    };
    let registry = match v.get("publishConfig").and_then(|p| p.get("registry")) {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(file.error(
                &["publishConfig", "registry"],
                "`publishConfig.registry` must be a URL string",
            ));
        }
    };
    let mut dependencies = Vec::new();
    for (field, kind) in DEPENDENCY_FIELDS {
        let Some(section) = v.get(field) else {
            continue;
        };
        let Value::Object(section) = section else {
            return Err(file.error(
                &[field],
                format!("`{field}` must be an object of names to version ranges"),
            ));
        };
        for (key, spec) in section {
            let Value::String(spec) = spec else {
                return Err(file.error(
                    &[field, key],
                    format!("`{field}.{key}` must be a version range string"),
                ));
            };
            let Some((name, path)) = resolve_spec(key, spec, dir) else {
                continue;
            };
            dependencies.push(Dependency {
                alias: (name != *key).then(|| key.clone()),
                name,
                ecosystem: Ecosystem::Npm,
                kind,
                requirement: Some(spec.clone()),
                optional: false,
                target: None,
                path,
                location: Location {
                    file: file.file.clone(),
                    key: vec![field.to_owned(), key.clone()],
                    line: file.line(&[field, key]),
                },
            });
        }
    }
    Ok(Some(Package {
        name,
        ecosystem: Ecosystem::Npm,
        path: dir.to_owned(),
        manifest: file.file.clone(),
        version,
        version_source,
        private,
        registry,
        dependencies,
    }))
}

/// Which package a dependency spec can point at, and the path it names: `None` for specs that
/// never resolve to a workspace package (git, URLs, tarballs).
fn resolve_spec(key: &str, spec: &str, dir: &str) -> Option<(String, Option<String>)> {
    let spec = spec.trim();
    if let Some(rest) = spec.strip_prefix("workspace:") {
        if rest.starts_with('.') || rest.starts_with('/') {
            return Some((key.to_owned(), join_rel(dir, rest)));
        }
        // `workspace:@scope/name@^1` and `workspace:name@*` alias another workspace package.
        if let Some((name, _)) = split_alias(rest) {
            return Some((name, None));
        }
        return Some((key.to_owned(), None));
    }
    if let Some(rest) = spec.strip_prefix("npm:") {
        let name = split_alias(rest).map_or_else(|| rest.to_owned(), |(name, _)| name);
        return Some((name, None));
    }
    for protocol in ["file:", "link:", "portal:"] {
        if let Some(rest) = spec.strip_prefix(protocol) {
            return join_rel(dir, rest).map(|path| (key.to_owned(), Some(path)));
        }
    }
    let is_url = spec.contains("://")
        || ["git+", "git:", "github:", "gitlab:", "bitbucket:", "gist:"].iter().any(|p| spec.starts_with(p))
        || std::path::Path::new(spec).extension().is_some_and(|e| e.eq_ignore_ascii_case("tgz") || e.eq_ignore_ascii_case("gz"))
        // `user/repo` is GitHub shorthand; version ranges never contain `/`.
        || spec.contains('/');
    (!is_url).then(|| (key.to_owned(), None))
}

/// `@scope/name@range` or `name@range` → (name, range).
fn split_alias(s: &str) -> Option<(String, String)> {
    let at = s.get(1..)?.find('@')? + 1;
    Some((s[..at].to_owned(), s[at + 1..].to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_resolve_like_package_managers() {
        let r = |k, s| resolve_spec(k, s, "packages/a");
        assert_eq!(r("b", "^1.0.0"), Some(("b".into(), None)));
        assert_eq!(r("b", "workspace:*"), Some(("b".into(), None)));
        assert_eq!(r("b", "workspace:^"), Some(("b".into(), None)));
        assert_eq!(
            r("b", "workspace:../b"),
            Some(("b".into(), Some("packages/b".into())))
        );
        assert_eq!(r("x", "npm:@s/b@^2"), Some(("@s/b".into(), None)));
        assert_eq!(r("x", "workspace:@s/b@*"), Some(("@s/b".into(), None)));
        assert_eq!(
            r("b", "file:../b"),
            Some(("b".into(), Some("packages/b".into())))
        );
        assert_eq!(
            r("b", "link:../../tools/b"),
            Some(("b".into(), Some("tools/b".into())))
        );
        assert_eq!(r("b", "github:user/b"), None);
        assert_eq!(r("b", "user/b"), None);
        assert_eq!(r("b", "https://x/b.tgz"), None);
        assert_eq!(r("b", "*"), Some(("b".into(), None)));
    }
}
