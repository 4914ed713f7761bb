//! Changeset files (`.changeset/*.md`), read exactly as the changesets tool writes them.
//!
//! ```text
//! ---
//! "@acme/core": minor
//! acme-py: patch
//! ---
//!
//! Summary line
//!
//! Longer body…
//! ```
//!
//! The front matter maps package names to `major`, `minor`, `patch` or `none`; the first line of
//! the rest is the summary. polyship extends the format to every ecosystem: a name may be
//! `ecosystem:name` where a bare name is ambiguous. `.changeset/config.json` and `pre.json` are read
//! here too.

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::diagnostic::{Position, SourceError, Warning};
use crate::workspace::{Ecosystem, Workspace};

/// The directory changesets live in.
pub const DIR: &str = ".changeset";

/// A bump a change asks for.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Bump {
    None,
    Patch,
    Minor,
    Major,
}

impl Bump {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(Bump::None),
            "patch" => Some(Bump::Patch),
            "minor" => Some(Bump::Minor),
            "major" => Some(Bump::Major),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Bump::None => "none",
            Bump::Patch => "patch",
            Bump::Minor => "minor",
            Bump::Major => "major",
        }
    }
}

/// One package entry of a changeset's front matter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// Index into [`Workspace::packages`].
    #[serde(skip)]
    pub package: usize,
    /// The name as written.
    pub written: String,
    pub bump: Bump,
    /// 1-based line in the file.
    pub line: usize,
}

/// A parsed changeset file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Changeset {
    /// The file name without `.md`, as changesets names it.
    pub id: String,
    /// Root-relative path.
    pub file: String,
    pub releases: Vec<Entry>,
    /// Entries naming packages `.changeset/config.json` ignores: they keep the changeset pending.
    #[serde(skip)]
    pub skipped: Vec<Entry>,
    /// The first line of the text; empty for an empty changeset.
    pub summary: String,
    /// The rest of the text, when there is any.
    pub body: Option<String>,
    /// The whole text after the front matter, trimmed, as changesets reads it.
    pub text: String,
}

/// The front matter and text of a changeset, before names are resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawChangeset {
    /// (name as written, bump, line).
    pub entries: Vec<(String, Bump, usize)>,
    pub summary: String,
    pub body: Option<String>,
    /// The whole text after the front matter, trimmed.
    pub text: String,
}

/// Parses a changeset's text. `file` is only used in errors.
pub fn parse(file: &str, text: &str) -> Result<RawChangeset, SourceError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
    let help =
        "a changeset starts with front matter between `---` lines, such as `\"@acme/core\": minor`";
    let Some(start) = lines.iter().position(|l| !l.trim().is_empty()) else {
        return Err(SourceError::new(file, "the changeset is empty")
            .help(format!("{help}; delete the file if it is not needed")));
    };
    if lines[start].trim() != "---" {
        return Err(
            SourceError::new(file, "the changeset does not start with `---`")
                .at_position(Some(Position::line_col(text, start + 1, 1)))
                .help(help),
        );
    }
    let Some(end) = lines[start + 1..]
        .iter()
        .position(|l| l.trim() == "---")
        .map(|i| i + start + 1)
    else {
        return Err(
            SourceError::new(file, "the front matter is not closed by a `---` line")
                .at_position(Some(Position::line_col(text, start + 1, 1)))
                .help(help),
        );
    };
    let mut entries = Vec::new();
    for (i, line) in lines.iter().enumerate().take(end).skip(start + 1) {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let at = |col: usize| Some(Position::line_col(text, i + 1, col));
        let (name, rest) = split_key(trimmed).ok_or_else(|| {
            SourceError::new(file, format!("`{trimmed}` is not `name: bump`"))
                .at_position(at(1))
                .help("write one package a line, such as `\"@acme/core\": minor`")
        })?;
        let word = rest.trim().trim_matches(|c| c == '"' || c == '\'');
        let word = word.split('#').next().unwrap_or_default().trim();
        if word.is_empty() {
            return Err(SourceError::new(
                file,
                format!("`{}` has no bump after its `:`", crate::diagnostic::clip(&name)),
            )
            .at_position(at(1))
            .help("write the bump on the same line, such as `\"@acme/core\": minor`; nested values are not bumps"));
        }
        let bump = Bump::parse(word).ok_or_else(|| {
            let column = line.find(word).map_or(1, |c| c + 1);
            SourceError::new(
                file,
                format!("`{}` is not a bump", crate::diagnostic::clip(word)),
            )
            .at_position(at(column))
            .help("use `major`, `minor`, `patch` or `none`")
        })?;
        if let Some((_, _, first)) = entries.iter().find(|(n, _, _)| *n == name) {
            return Err(SourceError::new(
                file,
                format!(
                    "`{}` is named twice in the front matter (first on line {first})",
                    crate::diagnostic::clip(&name)
                ),
            )
            .at_position(at(1))
            .help("keep one line per package, with the largest bump it needs"));
        }
        entries.push((name, bump, i + 1));
    }
    let rest: Vec<&str> = lines[end + 1..].to_vec();
    let first = rest.iter().position(|l| !l.trim().is_empty());
    let full = rest.join("\n").trim().to_owned();
    let (summary, body) = match first {
        None => (String::new(), None),
        Some(f) => {
            let body = rest[f + 1..].join("\n").trim().to_owned();
            (
                rest[f].trim().to_owned(),
                (!body.is_empty()).then_some(body),
            )
        }
    };
    Ok(RawChangeset {
        entries,
        summary,
        body,
        text: full,
    })
}

/// `"name": rest`, `'name': rest` or `name: rest`.
fn split_key(line: &str) -> Option<(String, &str)> {
    for quote in ['"', '\''] {
        if let Some(inner) = line.strip_prefix(quote) {
            let close = inner.find(quote)?;
            let rest = inner[close + 1..].trim_start().strip_prefix(':')?;
            return Some((inner[..close].to_owned(), rest));
        }
    }
    // Scoped npm names hold no `:`, but `ecosystem:name` does: split at the last `: `.
    let colon = line
        .rfind(": ")
        .or_else(|| line.strip_suffix(':').map(|_| line.len() - 1))?;
    let name = line[..colon].trim();
    (!name.is_empty()).then(|| (name.to_owned(), &line[colon + 1..]))
}

/// Finds the package a name in a changeset (or on the command line) refers to.
///
/// `ecosystem:name` picks one ecosystem; a bare name must match exactly one package. Names compare
/// after the ecosystem's normalisation (PEP 503 for Python).
pub fn resolve_name(ws: &Workspace, full: &str) -> Result<usize, String> {
    // A name is quoted back in messages: never a 10 MB one whole.
    let written = crate::diagnostic::clip(full);
    let written = written.as_str();
    let (ecosystem, name) = match Ecosystem::split_id(full) {
        (Some(eco), name) => (Some(eco), name),
        (None, _) => (None, written),
    };
    let matches: Vec<usize> = ws
        .packages
        .iter()
        .enumerate()
        .filter(|(_, p)| ecosystem.is_none_or(|e| e == p.ecosystem))
        .filter(|(_, p)| p.name == name || p.name == p.ecosystem.adapter().normalize_name(name))
        .map(|(i, _)| i)
        .collect();
    match matches.as_slice() {
        [one] => Ok(*one),
        [] => {
            let close = closest(ws, name);
            Err(if close.is_empty() {
                format!("no package is named `{written}`")
            } else {
                format!(
                    "no package is named `{written}`; the closest are {}",
                    close.join(", ")
                )
            })
        }
        many => Err(format!(
            "`{written}` names packages in several ecosystems: {}; write one of them",
            many.iter()
                .map(|&i| format!("`{}`", ws.packages[i].id()))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Up to three package names closest to `name` by edit distance.
fn closest(ws: &Workspace, name: &str) -> Vec<String> {
    let mut scored: Vec<(usize, String)> = ws
        .packages
        .iter()
        .map(|p| (edit_distance(&p.name, name), format!("`{}`", p.name)))
        .filter(|(d, _)| *d <= name.len().max(3) / 2 + 1)
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(3).map(|(_, n)| n).collect()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + usize::from(ca != *cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Reads every changeset under `.changeset/` of `root` and resolves its names against `ws`.
///
/// Like changesets itself, only files ending in lowercase `.md` are changesets.
/// `ignored(package)` tells packages the changesets config ignores: naming one is a warning.
#[allow(clippy::case_sensitive_file_extension_comparisons)]
pub fn read_all(
    root: &Path,
    ws: &Workspace,
    ignored: &dyn Fn(usize) -> bool,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<Changeset>, SourceError> {
    let dir = root.join(DIR);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut names: Vec<String> = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        let os = entry.file_name();
        let Some(name) = os.to_str() else {
            // changesets itself could not read it either: say which file, never skip it.
            return Err(SourceError::new(
                Path::new(DIR).join(&os),
                format!(
                    "the changeset file name `{}` is not valid UTF-8",
                    os.to_string_lossy()
                ),
            )
            .help("rename the file with letters, digits and `-`, keeping `.md`"));
        };
        if name.ends_with(".md") && !name.eq_ignore_ascii_case("README.md") {
            names.push(name.to_owned());
        }
    }
    names.sort();
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let file = format!("{DIR}/{name}");
        let text = std::fs::read_to_string(dir.join(&name))
            .map_err(|e| SourceError::new(&file, format!("cannot read the changeset: {e}")))?;
        let raw = parse(&file, &text)?;
        let mut releases = Vec::new();
        let mut skipped = Vec::new();
        for (written, bump, line) in raw.entries {
            let package = resolve_name(ws, &written).map_err(|message| {
                SourceError::new(&file, message)
                    .at_position(Some(Position::line_col(&text, line, 1)))
                    .help(
                        "use a name from `polyship list`, as `ecosystem:name` when it is ambiguous",
                    )
            })?;
            if ignored(package) {
                warnings.push(
                    Warning::new(format!(
                        "the changeset names `{written}`, which `.changeset/config.json` ignores"
                    ))
                    .in_file(&file, Some(Position::line_col(&text, line, 1)))
                    .help("remove the line, or take the package out of `ignore`"),
                );
                skipped.push(Entry {
                    package,
                    written,
                    bump,
                    line,
                });
                continue;
            }
            releases.push(Entry {
                package,
                written,
                bump,
                line,
            });
        }
        out.push(Changeset {
            id: name.trim_end_matches(".md").to_owned(),
            file,
            releases,
            skipped,
            summary: raw.summary,
            body: raw.body,
            text: raw.text,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_changesets_format() {
        let raw = parse(
            "x.md",
            "---\n\"@acme/core\": minor\n'acme-py': patch\ncargo:acme: major\nplain: none\n---\n\nAdd a thing\n\nMore words.\nAnd more.\n",
        )
        .unwrap();
        assert_eq!(
            raw.entries,
            [
                ("@acme/core".to_owned(), Bump::Minor, 2),
                ("acme-py".to_owned(), Bump::Patch, 3),
                ("cargo:acme".to_owned(), Bump::Major, 4),
                ("plain".to_owned(), Bump::None, 5),
            ]
        );
        assert_eq!(raw.summary, "Add a thing");
        assert_eq!(raw.body.as_deref(), Some("More words.\nAnd more."));
    }

    #[test]
    fn empty_changesets_release_nothing() {
        let raw = parse("x.md", "---\n---\n").unwrap();
        assert!(raw.entries.is_empty() && raw.summary.is_empty() && raw.body.is_none());
    }

    #[test]
    fn bad_input_names_the_line() {
        let err = parse("x.md", "---\n\"a\": minor\n\"b\": huge\n---\nx").unwrap_err();
        assert_eq!(err.position.as_ref().unwrap().line, 3);
        assert!(err.message.contains("`huge` is not a bump"));
        assert!(parse("x.md", "  \n").unwrap_err().message.contains("empty"));
        assert!(
            parse("x.md", "---\na: minor\n")
                .unwrap_err()
                .message
                .contains("not closed")
        );
        assert!(
            parse("x.md", "hello\n")
                .unwrap_err()
                .message
                .contains("does not start")
        );
        assert_eq!(
            parse("x.md", "---\njunk\n---\n")
                .unwrap_err()
                .position
                .unwrap()
                .line,
            2
        );
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}

/// The text of a new changeset, in the format changesets writes (names quoted).
pub fn render(ws: &Workspace, releases: &[(usize, Bump)], summary: &str) -> String {
    let mut out = String::from("---\n");
    for &(p, bump) in releases {
        let package = &ws.packages[p];
        // A bare name when it is unambiguous, `ecosystem:name` when another ecosystem shares it.
        let name = if resolve_name(ws, &package.name) == Ok(p) {
            package.name.clone()
        } else {
            package.id()
        };
        let _ = writeln!(out, "\"{name}\": {}", bump.as_str());
    }
    out.push_str("---\n");
    if !summary.trim().is_empty() {
        out.push('\n');
        out.push_str(summary.trim());
        out.push('\n');
    }
    out
}

/// A readable file name: the branch (unless it is the default one) and a slug of the summary,
/// with `-2`, `-3`… only when the name is taken.
pub fn file_name(dir: &Path, branch: Option<&str>, summary: &str) -> String {
    let branch = branch
        .filter(|b| !matches!(*b, "main" | "master" | "trunk" | "develop"))
        .map(slug);
    let first_line = summary.lines().next().unwrap_or_default();
    let mut words = slug(first_line);
    if words.is_empty() {
        "empty".clone_into(&mut words);
    }
    let mut base = match branch {
        Some(b) if !b.is_empty() && !words.starts_with(&b) => format!("{b}-{words}"),
        _ => words,
    };
    if base.len() > 60 {
        let cut = base[..60].rfind('-').unwrap_or(60);
        base.truncate(cut);
    }
    let mut name = base.clone();
    let mut n = 2;
    while dir.join(format!("{name}.md")).exists() {
        name = format!("{base}-{n}");
        n += 1;
    }
    name
}

/// Lowercase ASCII words joined by `-`.
fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

#[cfg(test)]
mod write_tests {
    use super::*;

    #[test]
    fn file_names_are_readable_and_unique() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            file_name(dir.path(), Some("feat/login-form"), "Add the login form!"),
            "feat-login-form-add-the-login-form"
        );
        assert_eq!(
            file_name(dir.path(), Some("main"), "Fix: a crash"),
            "fix-a-crash"
        );
        assert_eq!(file_name(dir.path(), None, ""), "empty");
        std::fs::write(dir.path().join("fix-a-crash.md"), "").unwrap();
        assert_eq!(file_name(dir.path(), None, "Fix: a crash"), "fix-a-crash-2");
        let long = file_name(dir.path(), None, &"word ".repeat(40));
        assert!(long.len() <= 60 && !long.ends_with('-'), "{long}");
    }
}
