//! Go: the modules of the repository, each a directory with a `go.mod`.
//!
//! Which modules: those a root `go.work` lists with `use`; without one, every `go.mod` the
//! repository tracks outside the directories the go command itself skips (`testdata`, `vendor`,
//! names starting with `.` or `_`) and outside example and fixture directories. A module whose
//! path has no dot in its first element (`module tools`) cannot be fetched by anyone, and one with
//! an `internal` element can be imported only from the tree above it: both are private.
//!
//! A module's version is the comment on its module line (`module example.com/m // v1.2.3`, as
//! knope writes it); without one, the highest of its tags that HEAD descends from. Its tags are
//! what the go command reads: `v1.2.3` for the module at the repository root, `{directory}/v1.2.3`
//! for one below it, where a major-version directory (`v2/` of `example.com/m/v2`) is not part of
//! the prefix. A release writes the comment, rewrites the `require` lines of the workspace's other
//! modules, and is the tag: nothing is uploaded, the module proxy reads the tag.
//!
//! Requirements are minimums (`v1.2.3` is met by any v1 from 1.2.3 on); a `replace` of a required
//! module by a directory (`=> ../log`) makes the dependency a path, checked like Cargo's. A major
//! version beyond 1 changes the module's path (`example.com/m/v2`), so a major release past v1 of
//! a module is an error that says so.

pub(crate) mod gomod;
pub(crate) mod release;

use std::cell::OnceCell;

use semver::Version;

use super::{Adapter, Context, Found};
use crate::apply::edit::EditError;
use crate::diagnostic::SourceError;
use crate::version::Scheme;
use crate::workspace::{
    Dependency, DependencyKind, DiscoveryError, Ecosystem, Location, Package, VersionSource, child,
    join_rel, parent_dir,
};
use gomod::{Line, comment_version};

pub struct Go;

const MANIFEST: &str = "go.mod";
const WORK: &str = "go.work";

impl Adapter for Go {
    fn gates(&self) -> &'static [(&'static str, &'static str)] {
        &[("go-vet", "go vet ./..."), ("go-test", "go test ./...")]
    }

    fn ecosystem(&self) -> Ecosystem {
        Ecosystem::Go
    }

    fn listed_files(&self) -> &'static [&'static str] {
        &[MANIFEST, WORK]
    }

    fn discover(&self, cx: &Context<'_>) -> Result<Found, DiscoveryError> {
        let mut found = Found::default();
        let tags = Tags::default();
        // A `go.work` git ignores is a developer's own (Go advises against committing one that
        // is not the repository's): it says nothing about the repository's modules.
        let work = if cx.files.contains(WORK) {
            cx.read(WORK)?
        } else {
            None
        };
        let dirs: Vec<String> = match work {
            Some(text) => {
                let dirs = work_members(cx, &text)?;
                found
                    .notes
                    .push(format!("`{WORK}` lists {} Go modules", dirs.len()));
                dirs
            }
            None => cx
                .files
                .dirs_with(MANIFEST)
                .filter(|dir| {
                    let skipped = skipped_by_go(dir);
                    if skipped {
                        found.notes.push(format!(
                            "`{}` is not a Go module of the repository: the go command skips `testdata`, `vendor` and directories starting with `.` or `_`, and example and fixture directories hold modules that show or test others (name one in `go.work` or `[[package]]` to release it)",
                            child(dir, MANIFEST)
                        ));
                    }
                    !skipped
                })
                .map(str::to_owned)
                .collect(),
        };
        for dir in dirs {
            if let Some(p) = read_module(cx, &dir, &tags)? {
                found.packages.push(p);
            }
        }
        Ok(found)
    }

    fn load(&self, cx: &Context<'_>, dir: &str) -> Result<Option<Found>, DiscoveryError> {
        Ok(read_module(cx, dir, &Tags::default())?.map(|p| Found {
            packages: vec![p],
            ..Found::default()
        }))
    }

    /// Inside a `go.work`, and through the module proxy outside it, a required module is found by
    /// its path.
    fn links_by_name(&self) -> bool {
        true
    }

    fn scheme(&self) -> Scheme {
        Scheme::SemVer
    }

    /// A requirement is a minimum within its major version (minimal version selection).
    fn satisfies(&self, requirement: &str, version: &str) -> Option<bool> {
        let min = Version::parse(requirement.strip_prefix('v')?).ok()?;
        let version = Version::parse(version).ok()?;
        Some(version >= min && version.major == min.major)
    }

    fn rewrite_requirement(
        &self,
        requirement: &str,
        new: &Version,
    ) -> Result<Option<String>, String> {
        if !requirement.starts_with('v') {
            return Err(format!(
                "`{requirement}` is not a Go module version (`v1.2.3`)"
            ));
        }
        Ok(Some(format!("v{new}")))
    }

    fn requirement(&self, version: &str, _exact: bool) -> String {
        format!("v{version}")
    }

    fn requirement_is_whole_value(&self) -> bool {
        true
    }

    fn fixed_tag_template(&self, package: &Package) -> Option<String> {
        Some(format!("{}v{{version}}", tag_prefix(package)))
    }

    fn missing_version_help(&self, package: &Package) -> String {
        format!(
            "end its module line in `{}` with its current version (`// v0.0.0` before a first release), or tag its last release (`{}v1.2.3`)",
            package.manifest,
            tag_prefix(package)
        )
    }

    fn check_release(&self, package: &Package, version: &Version) -> Result<(), (String, String)> {
        let suffix = major_suffix(&package.name);
        let allowed = suffix.unwrap_or(1);
        if version.major == allowed || (suffix.is_none() && version.major == 0) {
            return Ok(());
        }
        let base = suffix.map_or(package.name.as_str(), |n| {
            &package.name[..package.name.len() - format!("/v{n}").len()]
        });
        Err((
            format!(
                "`{}` {version} is a new major version, and a Go module's major version past v1 is part of its path: it would be `{base}/v{}`",
                package.id(),
                version.major
            ),
            format!(
                "make a module `{base}/v{}` (its `module` line, and every import of it) for the breaking changes, or release them as a minor version",
                version.major
            ),
        ))
    }

    fn get_string(&self, file: &str, text: &str, key: &[String]) -> Result<String, EditError> {
        let lines = parsed(file, text)?;
        match key {
            [k] if k == "module" => {
                let missing = || EditError::Missing {
                    file: file.to_owned(),
                    key: key.to_vec(),
                };
                let line = gomod::module(&lines).ok_or_else(missing)?;
                let (comment, _) = line.comment.as_ref().ok_or_else(missing)?;
                comment_version(comment)
                    .map(str::to_owned)
                    .ok_or_else(missing)
            }
            [k, path] if k == "require" => Ok(required(file, &lines, key, path)?.0),
            _ => Err(EditError::Missing {
                file: file.to_owned(),
                key: key.to_vec(),
            }),
        }
    }

    fn set_string(
        &self,
        file: &str,
        text: &str,
        key: &[String],
        value: &str,
    ) -> Result<String, EditError> {
        let lines = parsed(file, text)?;
        if value.chars().any(char::is_whitespace) || value.contains("//") {
            return Err(EditError::Unwritable {
                file: file.to_owned(),
                value: value.to_owned(),
            });
        }
        match key {
            [k] if k == "module" => {
                let line = gomod::module(&lines).filter(|l| l.single).ok_or_else(|| {
                    EditError::Missing {
                        file: file.to_owned(),
                        key: key.to_vec(),
                    }
                })?;
                let written = format!("// v{value}");
                Ok(match &line.comment {
                    Some((comment, span)) if comment_version(comment).is_some() => {
                        let rest = comment.split_once(char::is_whitespace).map(|x| x.1.trim());
                        let with = match rest {
                            Some(rest) if !rest.is_empty() => format!("{written} {rest}"),
                            _ => written,
                        };
                        gomod::splice(text, span.clone(), &with)
                    }
                    // Another comment there means something (`// Deprecated: …`): it stays hers.
                    Some((comment, _)) => {
                        return Err(EditError::Refused {
                            file: file.to_owned(),
                            message: format!(
                                "the module line of `{file}` has a comment (`// {comment}`) where polyship writes the module's version; move it to the line above"
                            ),
                        });
                    }
                    None => {
                        let end = line.args.last().map_or(line.span.end, |(_, s)| s.end);
                        gomod::splice(text, end..end, &format!(" {written}"))
                    }
                })
            }
            [k, path] if k == "require" => {
                let (_, span) = required(file, &lines, key, path)?;
                Ok(gomod::splice(text, span, value))
            }
            _ => Err(EditError::Missing {
                file: file.to_owned(),
                key: key.to_vec(),
            }),
        }
    }
}

/// The parsed lines of a file being edited.
fn parsed(file: &str, text: &str) -> Result<Vec<Line>, EditError> {
    gomod::parse(text).map_err(|_| EditError::Unparsable {
        file: file.to_owned(),
    })
}

/// The version a `require` line of `path` gives, with its span.
fn required(
    file: &str,
    lines: &[Line],
    key: &[String],
    path: &str,
) -> Result<(String, std::ops::Range<usize>), EditError> {
    gomod::require(lines, path)
        .and_then(|l| l.args.get(1).cloned())
        .ok_or_else(|| EditError::Missing {
            file: file.to_owned(),
            key: key.to_vec(),
        })
}

/// Whether `dir` holds no module of the repository's own: the go command skips `testdata`,
/// `vendor` and directories whose names start with `.` or `_`, and example and fixture
/// directories hold modules that show or test others (a `go.work` or `[[package]]` still names
/// one when it is released).
fn skipped_by_go(dir: &str) -> bool {
    dir != "."
        && dir.split('/').any(|part| {
            matches!(
                part,
                "testdata" | "vendor" | "example" | "examples" | "fixture" | "fixtures"
            ) || part.starts_with('.')
                || part.starts_with('_')
        })
}

/// The module directories a `go.work` lists (`use ./a`, `use ( … )`), each checked to hold a
/// `go.mod`.
fn work_members(cx: &Context<'_>, text: &str) -> Result<Vec<String>, DiscoveryError> {
    let lines = parse(WORK, text)?;
    let mut dirs = Vec::new();
    for line in lines.iter().filter(|l| l.verb == "use") {
        let Some((written, _)) = line.args.first() else {
            continue;
        };
        let at = |message: String, help: &str| {
            DiscoveryError::Manifest(
                SourceError::new(WORK, message)
                    .at_position(Some(crate::diagnostic::Position::line_col(
                        text,
                        line.number,
                        1,
                    )))
                    .help(help.to_owned()),
            )
        };
        let Some(dir) = join_rel(".", written).filter(|_| !written.starts_with('/')) else {
            return Err(at(
                format!("`use {written}` points outside the repository"),
                "list the repository's own module directories, relative to `go.work`",
            ));
        };
        if !cx.files.contains(&child(&dir, MANIFEST)) {
            return Err(at(
                format!("`use {written}` names a directory without a tracked `go.mod`"),
                "fix the directory, create its module (`go mod init`), or remove the line (`go work edit -dropuse`)",
            ));
        }
        dirs.push(dir);
    }
    Ok(dirs)
}

/// `file` parsed, once it is known to be of a size a `go.mod` or `go.work` can have.
fn parse(file: &str, text: &str) -> Result<Vec<Line>, DiscoveryError> {
    if let Err((_, why)) = crate::json::check_bounds(text, false) {
        return Err(DiscoveryError::Manifest(
            SourceError::new(file, why).help("a file this large is no go.mod: check the file"),
        ));
    }
    gomod::parse(text).map_err(|e| syntax_error(file, text, &e))
}

fn syntax_error(file: &str, text: &str, e: &gomod::SyntaxError) -> DiscoveryError {
    DiscoveryError::Manifest(
        SourceError::new(file, e.message.clone())
            .at_position(Some(crate::diagnostic::Position::line_col(text, e.line, 1)))
            .help("fix the line; `go mod edit -fmt` rewrites a file the go command reads"),
    )
}

/// The module in `dir`, or `None` when it holds no `go.mod`.
fn read_module(
    cx: &Context<'_>,
    dir: &str,
    tags: &Tags,
) -> Result<Option<Package>, DiscoveryError> {
    let manifest = child(dir, MANIFEST);
    let Some(text) = cx.read(&manifest)? else {
        return Ok(None);
    };
    let lines = parse(&manifest, &text)?;
    let error = |line: usize, message: String, help: &str| {
        DiscoveryError::Manifest(
            SourceError::new(&manifest, message)
                .at_position(Some(crate::diagnostic::Position::line_col(&text, line, 1)))
                .help(help.to_owned()),
        )
    };
    let Some(module) = gomod::module(&lines) else {
        return Err(error(
            1,
            "the file has no `module` line".to_owned(),
            "add `module <path>` (what `go mod init <path>` writes)",
        ));
    };
    let Some((path, _)) = module.args.first().filter(|_| module.args.len() == 1) else {
        return Err(error(
            module.number,
            "a `module` line names exactly one module path".to_owned(),
            "write `module example.com/name`",
        ));
    };
    let location = Location {
        file: manifest.clone(),
        key: vec!["module".to_owned()],
        line: module.number,
    };
    let mut package = Package {
        name: path.clone(),
        ecosystem: Ecosystem::Go,
        path: dir.to_owned(),
        manifest: manifest.clone(),
        version: None,
        version_source: VersionSource::Manifest { location },
        private: is_private(path),
        registry: None,
        dependencies: Vec::new(),
    };
    package.version = match module
        .comment
        .as_ref()
        .and_then(|(c, _)| comment_version(c))
    {
        Some(v) => Some(v.to_owned()),
        None => tags.highest(cx, &package),
    };
    let replaced: Vec<(&str, &str)> = lines
        .iter()
        .filter(|l| l.verb == "replace")
        .filter_map(|l| {
            let arrow = l.args.iter().position(|(a, _)| a == "=>")?;
            let old = &l.args.first()?.0;
            let new = &l.args.get(arrow + 1)?.0;
            // Only a directory: `=> other.example/fork v1.0.0` is another module.
            let local =
                new.starts_with("./") || new.starts_with("../") || new == "." || new == "..";
            local.then_some((old.as_str(), new.as_str()))
        })
        .collect();
    for line in lines.iter().filter(|l| l.verb == "require") {
        let [(name, _), (version, _), ..] = line.args.as_slice() else {
            return Err(error(
                line.number,
                "a requirement names a module path and a version".to_owned(),
                "write `require example.com/other v1.2.3`",
            ));
        };
        let path = replaced
            .iter()
            .find(|(old, _)| old == name)
            .map(|(_, new)| join_rel(dir, new).unwrap_or_else(|| (*new).to_owned()));
        package.dependencies.push(Dependency {
            name: name.clone(),
            ecosystem: Ecosystem::Go,
            kind: DependencyKind::Normal,
            requirement: Some(version.clone()),
            alias: None,
            optional: false,
            target: None,
            path,
            location: Location {
                file: manifest.clone(),
                key: vec!["require".to_owned(), name.clone()],
                line: line.number,
            },
        });
    }
    Ok(Some(package))
}

/// Whether no one outside the repository can use the module: its path's first element has no
/// dot (`module tools`, which cannot be fetched), or an element is `internal` (the go command lets
/// only the tree above it import it: tools and test modules).
fn is_private(path: &str) -> bool {
    !path
        .split('/')
        .next()
        .is_some_and(|first| first.contains('.'))
        || path.split('/').any(|part| part == "internal")
}

/// The `N` of a module path's major-version suffix (`example.com/m/v2` → 2).
fn major_suffix(path: &str) -> Option<u64> {
    let last = path.rsplit('/').next()?;
    let n: u64 = last.strip_prefix('v')?.parse().ok()?;
    (n >= 2 && path.contains('/') && !last[1..].starts_with('0')).then_some(n)
}

/// The prefix of a module's tags: its directory below the repository root and a `/`, without a
/// major-version directory (`v2/` of `…/v2`); empty at the root.
fn tag_prefix(package: &Package) -> String {
    let mut dir = package.path.as_str();
    if let Some(n) = major_suffix(&package.name)
        && dir.rsplit('/').next() == Some(format!("v{n}").as_str())
    {
        dir = parent_dir(dir);
    }
    if dir == "." || dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    }
}

/// The repository's tag names, read once when a module has no version comment.
#[derive(Default)]
struct Tags(OnceCell<Vec<String>>);

impl Tags {
    /// The highest version of `package`'s tags within its major version that HEAD descends
    /// from: a tag made on another branch is not this branch's version.
    fn highest(&self, cx: &Context<'_>, package: &Package) -> Option<String> {
        let names = self.0.get_or_init(|| tag_names(cx.root));
        let prefix = format!("{}v", tag_prefix(package));
        let major = major_suffix(&package.name);
        let mut candidates: Vec<(Version, &str)> = names
            .iter()
            .filter_map(|t| Some((Version::parse(t.strip_prefix(&prefix)?).ok()?, t.as_str())))
            .filter(|(v, _)| match major {
                Some(n) => v.major == n,
                None => v.major <= 1,
            })
            .collect();
        candidates.sort_by(|a, b| b.0.cmp(&a.0));
        candidates
            .into_iter()
            .find(|(_, tag)| {
                std::process::Command::new("git")
                    .arg("-C")
                    .arg(cx.root)
                    .args([
                        "merge-base",
                        "--is-ancestor",
                        &format!("refs/tags/{tag}"),
                        "HEAD",
                    ])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            })
            .map(|(v, _)| v.to_string())
    }
}

/// Every tag name of the repository at `root`; none when it cannot be read.
fn tag_names(root: &std::path::Path) -> Vec<String> {
    let Ok(repo) = gix::open(root) else {
        return Vec::new();
    };
    let Ok(refs) = repo.references() else {
        return Vec::new();
    };
    let Ok(tags) = refs.tags() else {
        return Vec::new();
    };
    tags.filter_map(Result::ok)
        .map(|r| r.name().shorten().to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(name: &str, path: &str) -> Package {
        Package {
            name: name.to_owned(),
            ecosystem: Ecosystem::Go,
            path: path.to_owned(),
            manifest: child(path, MANIFEST),
            version: Some("1.0.0".to_owned()),
            version_source: VersionSource::Missing,
            private: false,
            registry: None,
            dependencies: Vec::new(),
        }
    }

    #[test]
    fn tags_are_prefixed_by_the_directory_less_a_major_directory() {
        assert_eq!(tag_prefix(&module("example.com/m", ".")), "");
        assert_eq!(tag_prefix(&module("example.com/m/log", "log")), "log/");
        assert_eq!(tag_prefix(&module("example.com/m/v2", "v2")), "");
        assert_eq!(tag_prefix(&module("example.com/m/v2", ".")), "");
        assert_eq!(
            tag_prefix(&module("example.com/m/sub/v3", "sub/v3")),
            "sub/"
        );
        // A directory named like a major version that the path does not end with is a directory.
        assert_eq!(
            tag_prefix(&module("example.com/m/api", "api/v2")),
            "api/v2/"
        );
    }

    #[test]
    fn a_major_version_past_one_must_change_the_path() {
        let v = |s: &str| Version::parse(s).unwrap();
        let m = module("example.com/m", ".");
        assert!(Go.check_release(&m, &v("1.4.0")).is_ok());
        assert!(Go.check_release(&m, &v("0.4.0")).is_ok());
        let (message, help) = Go.check_release(&m, &v("2.0.0")).unwrap_err();
        assert!(message.contains("`example.com/m/v2`"), "{message}");
        assert!(help.contains("example.com/m/v2"), "{help}");
        let m2 = module("example.com/m/v2", "v2");
        assert!(Go.check_release(&m2, &v("2.1.0")).is_ok());
        let (message, _) = Go.check_release(&m2, &v("3.0.0")).unwrap_err();
        assert!(message.contains("`example.com/m/v3`"), "{message}");
    }

    #[test]
    fn requirements_are_minimums_within_a_major() {
        assert_eq!(Go.satisfies("v1.2.0", "1.3.0"), Some(true));
        assert_eq!(Go.satisfies("v1.2.0", "1.1.9"), Some(false));
        assert_eq!(Go.satisfies("v1.2.0", "2.0.0"), Some(false));
        assert_eq!(Go.satisfies("latest", "2.0.0"), None);
        assert_eq!(
            Go.rewrite_requirement("v1.2.0", &Version::new(1, 3, 0)),
            Ok(Some("v1.3.0".to_owned()))
        );
    }

    #[test]
    fn the_version_comment_and_requirements_are_edited_in_place() {
        let text = "module example.com/m\n\ngo 1.21\n\nrequire (\n\texample.com/m/log v0.3.0 // indirect\n)\n";
        let key = |k: &[&str]| k.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let once = Go
            .set_string("go.mod", text, &key(&["module"]), "1.5.0")
            .unwrap();
        assert!(
            once.starts_with("module example.com/m // v1.5.0\n"),
            "{once}"
        );
        assert_eq!(
            Go.get_string("go.mod", &once, &key(&["module"])).unwrap(),
            "1.5.0"
        );
        let twice = Go
            .set_string("go.mod", &once, &key(&["module"]), "1.6.0")
            .unwrap();
        assert!(
            twice.starts_with("module example.com/m // v1.6.0\n"),
            "{twice}"
        );
        let req = key(&["require", "example.com/m/log"]);
        let bumped = Go.set_string("go.mod", &twice, &req, "v0.4.0").unwrap();
        assert!(
            bumped.contains("\texample.com/m/log v0.4.0 // indirect\n"),
            "{bumped}"
        );
        assert_eq!(Go.get_string("go.mod", &bumped, &req).unwrap(), "v0.4.0");
        // A comment that means something else is not overwritten.
        let deprecated = "module example.com/m // Deprecated: use example.com/n\n";
        assert!(matches!(
            Go.set_string("go.mod", deprecated, &key(&["module"]), "1.0.0"),
            Err(EditError::Refused { .. })
        ));
    }

    #[test]
    fn a_module_without_a_version_is_told_where_one_goes() {
        let help = Go.missing_version_help(&module("example.com/m/log", "log"));
        assert!(
            help.contains("`log/go.mod`") && help.contains("`// v0.0.0`"),
            "{help}"
        );
        assert!(help.contains("`log/v1.2.3`"), "{help}");
    }

    #[test]
    fn a_file_too_large_for_a_go_mod_is_refused_unread() {
        let huge = format!("module m\n{}", " ".repeat(crate::json::MAX_MANIFEST_BYTES));
        let Err(DiscoveryError::Manifest(e)) = parse("go.mod", &huge) else {
            panic!("a file this large was parsed");
        };
        assert!(e.message.contains("more than"), "{}", e.message);
        assert!(parse("go.mod", "module m\n").is_ok());
    }

    #[test]
    fn unfetchable_and_internal_modules_are_private() {
        assert!(is_private("tools"));
        assert!(is_private("go.opentelemetry.io/otel/internal/tools"));
        assert!(is_private("example.com/kit/trace/internal/telemetry/test"));
        assert!(!is_private("go.opentelemetry.io/otel/sdk"));
        assert!(!is_private("example.com/internals"));
    }

    #[test]
    fn go_skips_testdata_vendor_and_hidden_directories() {
        assert!(skipped_by_go("internal/testdata/mod"));
        assert!(skipped_by_go("vendor/example.com/x"));
        assert!(skipped_by_go("_examples/a"));
        assert!(skipped_by_go(".github/tools"));
        assert!(!skipped_by_go("."));
        assert!(skipped_by_go("examples/polyglot/go"));
        assert!(skipped_by_go("tests/fixtures/go-mod"));
        assert!(!skipped_by_go("exporters/otlp"));
        assert!(!skipped_by_go("bridge/opencensus/test"));
    }
}
