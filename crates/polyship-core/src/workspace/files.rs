//! Which manifest files exist, and which directories a workspace glob selects.
//!
//! Discovery never walks the disk once per glob: it lists the repository's manifest files once —
//! through `git ls-files` (tracked plus untracked-but-not-ignored, so `.gitignore` is honoured exactly
//! as git does) or, outside a git repository, one walk — and matches globs against that list in memory.
//! Directories named `node_modules`, `target`, `.venv` or `.git` never hold packages, whatever git says.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use glob::{MatchOptions, Pattern};

/// Directory names that never hold workspace packages.
pub const SKIPPED_DIRS: [&str; 5] = ["node_modules", "target", ".venv", ".git", "__pypackages__"];

/// The manifest file names discovery looks for: what the adapters read.
fn manifest_names() -> impl Iterator<Item = &'static str> {
    crate::ecosystem::ADAPTERS
        .into_iter()
        .flat_map(|a| a.listed_files().iter().copied())
}

/// Failure to list the repository's files.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("failed to run `git ls-files` in `{}`", root.display())]
    Git {
        root: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`git ls-files` failed in `{}`: {stderr}", root.display())]
    GitFailed { root: PathBuf, stderr: String },
    #[error("the path `{path}` is not valid UTF-8, so polyship cannot read the manifest in it")]
    NotUtf8 { path: String },
    #[error("failed to read directory `{}`", path.display())]
    Walk {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The repository root for a starting directory: the nearest ancestor holding `.git` (a directory,
/// or a file for worktrees and submodules). `None` outside any git repository.
pub fn find_git_root(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|dir| dir.join(".git").exists())
        .map(Path::to_path_buf)
}

/// The manifest files of a repository, as root-relative `/`-separated paths.
#[derive(Debug, Clone, Default)]
pub struct FileIndex {
    files: BTreeSet<String>,
}

impl FileIndex {
    /// Lists manifests through git when `git` is true, otherwise by walking the directory tree.
    pub fn list(root: &Path, git: bool) -> Result<Self, ListError> {
        let files = if git {
            list_git(root)?
        } else {
            list_walk(root)?
        };
        Ok(Self {
            files: files.into_iter().filter(|f| !in_skipped_dir(f)).collect(),
        })
    }

    /// Builds an index from explicit paths (tests, and callers that already know the files).
    pub fn from_paths<I: IntoIterator<Item = String>>(paths: I) -> Self {
        Self {
            files: paths.into_iter().filter(|f| !in_skipped_dir(f)).collect(),
        }
    }

    pub fn contains(&self, file: &str) -> bool {
        self.files.contains(file)
    }

    /// Every listed file named `name`, in path order.
    pub fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.files
            .iter()
            .map(String::as_str)
            .filter(move |f| f.rsplit('/').next() == Some(name))
    }

    /// Directories (root-relative, `.` for the root) that hold a file named `manifest`.
    pub fn dirs_with<'a>(&'a self, manifest: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.named(manifest).map(super::package::parent_dir)
    }
}

/// The paths `.gitmodules` lists.
fn submodule_paths(root: &Path) -> Vec<String> {
    std::fs::read_to_string(root.join(".gitmodules"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.trim().split_once('=')?;
            (k.trim() == "path").then(|| v.trim().trim_end_matches('/').to_owned())
        })
        .collect()
}

fn in_skipped_dir(file: &str) -> bool {
    let mut parts = file.split('/');
    parts.next_back();
    parts.any(|p| SKIPPED_DIRS.contains(&p))
}

fn list_git(root: &Path) -> Result<Vec<String>, ListError> {
    // Every file, filtered here by name: glob pathspecs cost git more than printing the names
    // they would leave out (a fifth more, on trees of thousands of directories).
    let mut cmd = Command::new("git");
    cmd.arg("-C").arg(root).args([
        "ls-files",
        "-z",
        "--cached",
        "--others",
        "--exclude-standard",
    ]);
    let out = cmd.output().map_err(|source| ListError::Git {
        root: root.to_owned(),
        source,
    })?;
    if !out.status.success() {
        return Err(ListError::GitFailed {
            root: root.to_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    let mut files: Vec<String> = Vec::new();
    let mut unreadable = Vec::new();
    let names: Vec<&[u8]> = manifest_names().map(str::as_bytes).collect();
    let listed = |raw: &&[u8]| {
        let name = raw.rsplit(|b| *b == b'/').next().unwrap_or(raw);
        !raw.is_empty() && names.contains(&name)
    };
    for raw in out.stdout.split(|b| *b == 0).filter(listed) {
        match std::str::from_utf8(raw) {
            Ok(path) => files.push(path.to_owned()),
            Err(_) => unreadable.push(String::from_utf8_lossy(raw).into_owned()),
        }
    }
    if let Some(first) = unreadable.first() {
        return Err(ListError::NotUtf8 {
            path: first.clone(),
        });
    }
    // A tracked file deleted from the work tree is still in the index; it is not a package any more.
    files.retain(|f| root.join(f).is_file());
    Ok(files)
}

fn list_walk(root: &Path) -> Result<Vec<String>, ListError> {
    let mut files = Vec::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel)) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|source| ListError::Walk {
            path: dir.clone(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| ListError::Walk {
                path: dir.clone(),
                source,
            })?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel_path = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let file_type = entry.file_type().map_err(|source| ListError::Walk {
                path: dir.clone(),
                source,
            })?;
            if file_type.is_dir() {
                if !SKIPPED_DIRS.contains(&name.as_str()) {
                    stack.push((entry.path(), rel_path));
                }
            } else if manifest_names().any(|m| m == name) {
                files.push(rel_path);
            }
        }
    }
    Ok(files)
}

/// A workspace member pattern as the ecosystems write them: a glob over directories relative to the
/// workspace root, `*` within one path component, `**` across any number (including none, so
/// `packages/**` selects `packages` too), `!` in front to exclude.
#[derive(Debug, Clone)]
pub struct MemberGlob {
    /// The pattern as written in the manifest, for messages.
    pub written: String,
    pub negated: bool,
    /// Root-relative and normalised; several when braces expanded.
    normalized: Vec<String>,
    patterns: Vec<Pattern>,
    options: MatchOptions,
}

/// The dialect of a workspace's globs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GlobStyle {
    /// Cargo and uv (the `glob` crate): no braces, `*` matches dot-directories.
    Cargo,
    /// npm, pnpm, yarn and bun (minimatch, fast-glob): `{a,b}` braces, `*` skips dot-directories.
    Npm,
}

impl MemberGlob {
    /// Parses `written`, relative to the directory `base` (root-relative), in Cargo's dialect.
    pub fn new(base: &str, written: &str) -> Result<Self, String> {
        Self::with_style(base, written, GlobStyle::Cargo)
    }

    /// Parses `written`, relative to the directory `base` (root-relative). Errors carry the glob
    /// library's message.
    pub fn with_style(base: &str, written: &str, style: GlobStyle) -> Result<Self, String> {
        let (negated, body) = match written.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, written),
        };
        let body = body.trim();
        let bodies = if style == GlobStyle::Npm {
            let mut budget = MAX_EXPANSIONS;
            expand_braces(body, &mut budget).ok_or_else(|| {
                format!("its braces expand to more than {MAX_EXPANSIONS} patterns")
            })?
        } else {
            vec![body.to_owned()]
        };
        let mut normalized = Vec::with_capacity(bodies.len());
        let mut patterns = Vec::new();
        for body in bodies {
            let body = body.trim_end_matches('/');
            let body = body.strip_prefix("./").unwrap_or(body);
            let joined = super::package::join_rel(base, body)
                .ok_or_else(|| "the pattern climbs above the repository root".to_owned())?;
            if joined.contains(['*', '?', '[']) {
                patterns.push(Pattern::new(&joined).map_err(|e| e.to_string())?);
                // `dir/**` also selects `dir` itself, as npm, pnpm and Cargo's glob do.
                if let Some(parent) = joined.strip_suffix("/**") {
                    patterns.push(Pattern::new(parent).map_err(|e| e.to_string())?);
                }
            }
            normalized.push(joined);
        }
        let options = MatchOptions {
            case_sensitive: true,
            require_literal_separator: true,
            require_literal_leading_dot: style == GlobStyle::Npm,
        };
        Ok(Self {
            written: written.to_owned(),
            negated,
            normalized,
            patterns,
            options,
        })
    }

    /// Whether the pattern has wildcards (a literal one names exactly one directory).
    pub fn is_glob(&self) -> bool {
        !self.patterns.is_empty() || self.normalized.len() > 1
    }

    /// Directories this glob matches that discovery cannot read into: symbolic links to
    /// directories (git lists the link, not what it points to) and git submodules (their files
    /// are another repository's). `(directory, what it is)`, for a warning. A literal member is
    /// read from the disk, so it is never one of them.
    pub fn unreadable_members(&self, root: &Path) -> Vec<(String, &'static str)> {
        let submodules = submodule_paths(root);
        let mut out = Vec::new();
        for n in self
            .normalized
            .iter()
            .filter(|n| n.contains(['*', '?', '[']))
        {
            // The literal directories above the first wildcard, and their children.
            let base: Vec<&str> = n
                .split('/')
                .take_while(|part| !part.contains(['*', '?', '[']))
                .collect();
            let base = if base.is_empty() {
                ".".to_owned()
            } else {
                base.join("/")
            };
            let mut candidates = Vec::new();
            if let Ok(entries) = std::fs::read_dir(root.join(&base)) {
                for e in entries.filter_map(Result::ok) {
                    let name = e.file_name().to_string_lossy().into_owned();
                    candidates.push(super::package::child(&base, &name));
                }
            }
            for dir in candidates {
                if dir == "." || !self.matches(&dir) || out.iter().any(|(d, _)| *d == dir) {
                    continue;
                }
                let path = root.join(&dir);
                let link = std::fs::symlink_metadata(&path)
                    .is_ok_and(|m| m.file_type().is_symlink() && path.is_dir());
                if link {
                    out.push((dir, "a symbolic link"));
                } else if submodules.contains(&dir) {
                    out.push((dir, "a git submodule"));
                }
            }
        }
        out
    }

    /// The root-relative directory a literal pattern names.
    pub fn literal(&self) -> &str {
        self.normalized.first().map_or(".", String::as_str)
    }

    pub fn matches(&self, dir: &str) -> bool {
        self.patterns
            .iter()
            .any(|p| p.matches_with(dir, self.options))
            || self
                .normalized
                .iter()
                .any(|n| !n.contains(['*', '?', '[']) && n == dir)
    }
}

/// The most patterns one pattern's braces may expand to: `{a,b}` 24 times over would be sixteen
/// million, and no real workspace needs more than a few.
pub const MAX_EXPANSIONS: usize = 1024;

/// `a/{b,c}/d` → `a/b/d`, `a/c/d`; nested braces expand too. A brace without a comma stays as
/// written. `None` once more than `budget` patterns would come out.
fn expand_braces(pattern: &str, budget: &mut usize) -> Option<Vec<String>> {
    let Some(open) = pattern.find('{') else {
        *budget = budget.checked_sub(1)?;
        return Some(vec![pattern.to_owned()]);
    };
    let mut depth = 0;
    let mut close = None;
    let mut commas = Vec::new();
    for (i, c) in pattern[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(open + i);
                    break;
                }
            }
            ',' if depth == 1 => commas.push(open + i),
            _ => {}
        }
    }
    let Some(close) = close else {
        *budget = budget.checked_sub(1)?;
        return Some(vec![pattern.to_owned()]);
    };
    let (head, tail) = (&pattern[..open], &pattern[close + 1..]);
    if commas.is_empty() {
        return Some(
            expand_braces(tail, budget)?
                .into_iter()
                .map(|t| format!("{}{t}", &pattern[..=close]))
                .collect(),
        );
    }
    let mut bounds = vec![open];
    bounds.extend(&commas);
    bounds.push(close);
    let mut out = Vec::new();
    for w in bounds.windows(2) {
        let alternative = &pattern[w[0] + 1..w[1]];
        out.extend(expand_braces(
            &format!("{head}{alternative}{tail}"),
            budget,
        )?);
    }
    Some(out)
}

/// Applies include and `!` exclude patterns, in order, to candidate directories: a directory is
/// selected when the last pattern that matches it is an include.
pub fn select<'a>(
    globs: &[MemberGlob],
    candidates: impl IntoIterator<Item = &'a str>,
) -> Vec<&'a str> {
    candidates
        .into_iter()
        .filter(|dir| {
            globs
                .iter()
                .rev()
                .find(|g| g.matches(dir))
                .is_some_and(|g| !g.negated)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(p: &str) -> MemberGlob {
        MemberGlob::new(".", p).unwrap()
    }

    #[test]
    fn star_stays_in_one_component() {
        assert!(g("crates/*").matches("crates/a"));
        assert!(!g("crates/*").matches("crates/a/b"));
        assert!(!g("crates/*").matches("crates"));
        assert!(g("./packages/*/").matches("packages/x"));
    }

    #[test]
    fn double_star_crosses_components() {
        assert!(g("packages/**").matches("packages/a"));
        assert!(g("packages/**").matches("packages/a/b"));
        assert!(g("**/tests/**").matches("x/tests/y"));
    }

    #[test]
    fn negation_uses_the_last_matching_pattern() {
        let globs = [g("packages/*"), g("!packages/internal")];
        let dirs = ["packages/a", "packages/internal", "other"];
        assert_eq!(select(&globs, dirs), ["packages/a"]);
    }

    #[test]
    fn double_star_selects_its_base_directory() {
        assert!(g("packages/**").matches("packages"));
        assert!(
            select(
                &[g("packages/*"), g("!packages/legacy/**")],
                ["packages/legacy"]
            )
            .is_empty()
        );
    }

    #[test]
    fn npm_style_expands_braces_and_skips_dot_directories() {
        let npm = |p: &str| MemberGlob::with_style(".", p, GlobStyle::Npm).unwrap();
        assert!(npm("{apps,examples}/*").matches("apps/web"));
        assert!(npm("{apps,examples}/*").matches("examples/basic"));
        assert!(!npm("{apps,examples}/*").matches("tools/x"));
        assert!(npm("a/{b,c{d,e}}").matches("a/ce"));
        assert!(!npm("packages/*").matches("packages/.template"));
        assert!(
            g("packages/*").matches("packages/.template"),
            "Cargo's glob matches dot-directories"
        );
        assert_eq!(expand_braces("x{y}z", &mut 10).unwrap(), ["x{y}z"]);
        // 24 groups of `{a,b}` would be 2^24 patterns: refused at once, not after minutes.
        let bomb = "{a,b}".repeat(24);
        let started = std::time::Instant::now();
        assert!(MemberGlob::with_style(".", &bomb, GlobStyle::Npm).is_err());
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn relative_base_is_joined() {
        let m = MemberGlob::new("py", "libs/*").unwrap();
        assert!(m.matches("py/libs/x"));
        assert!(MemberGlob::new("a", "../../x").is_err());
    }

    #[test]
    fn skipped_dirs_never_listed() {
        let index = FileIndex::from_paths(
            [
                "a/package.json",
                "a/node_modules/b/package.json",
                "target/x/Cargo.toml",
            ]
            .map(String::from),
        );
        assert_eq!(index.dirs_with("package.json").collect::<Vec<_>>(), ["a"]);
        assert_eq!(index.dirs_with("Cargo.toml").count(), 0);
    }
}
