//! Where a new release section goes in an existing changelog, and how it must look to match it.
//!
//! Real changelogs write their releases in many ways: `## [1.2.0] - 2024-01-01` with link
//! references at the bottom (keep-a-changelog), `## 1.2.0` (changesets), `## [1.2.0](compare-url)
//! (2024-01-01)` (conventional-changelog), `# 1.53.1 (July 20th, 2026)` (tokio), setext headings,
//! an `## [Unreleased]` section at the top. This module finds the release headings — headings
//! outside code fences whose text holds a version, or says "Unreleased" — and places the new section
//! before the newest one, at its heading level, with its heading written the way the newest release
//! heading is written (same brackets, links and date format), its subsections at the level the
//! file uses. It never inserts inside a section. A filled `Unreleased` section becomes the release's
//! section, and an empty `Unreleased` heading stays on top.

/// A heading of the existing changelog.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Heading {
    /// Byte offset of the heading's first line.
    start: usize,
    /// Byte offset just after the heading (after a setext underline).
    end: usize,
    level: usize,
    /// Written with an `===`/`---` underline.
    setext: bool,
    text: String,
    /// The version its text names, for release headings.
    version: Option<String>,
    unreleased: bool,
}

impl Heading {
    fn is_release(&self) -> bool {
        self.version.is_some() || self.unreleased
    }
}

/// Every heading of `text` outside fenced code blocks.
fn headings(text: &str) -> Vec<Heading> {
    let mut out = Vec::new();
    let mut fenced = false;
    let mut offset = 0;
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut starts = Vec::with_capacity(lines.len());
    for line in &lines {
        starts.push(offset);
        offset += line.len();
    }
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim_end_matches(['\n', '\r']);
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fenced = !fenced;
            i += 1;
            continue;
        }
        if fenced || line.starts_with("    ") || line.starts_with('\t') {
            i += 1;
            continue;
        }
        let hashes = trimmed.chars().take_while(|c| *c == '#').count();
        let atx = (1..=6).contains(&hashes)
            && trimmed[hashes..]
                .chars()
                .next()
                .is_none_or(char::is_whitespace)
            && line.len() - trimmed.len() < 4;
        if atx {
            let text = trimmed[hashes..]
                .trim()
                .trim_end_matches('#')
                .trim()
                .to_owned();
            out.push(heading(
                starts[i],
                starts[i] + lines[i].len(),
                hashes,
                false,
                text,
            ));
            i += 1;
            continue;
        }
        // Setext: a text line followed by `===` (level 1) or `---` (level 2).
        if !trimmed.is_empty()
            && !trimmed.starts_with(['-', '*', '+', '>', '|'])
            && let Some(next) = lines.get(i + 1)
        {
            let under = next.trim_end_matches(['\n', '\r']).trim();
            let level = if !under.is_empty() && under.chars().all(|c| c == '=') {
                Some(1)
            } else if under.len() >= 3 && under.chars().all(|c| c == '-') {
                Some(2)
            } else {
                None
            };
            if let Some(level) = level {
                let end = starts[i + 1] + next.len();
                out.push(heading(
                    starts[i],
                    end,
                    level,
                    true,
                    trimmed.trim().to_owned(),
                ));
                i += 2;
                continue;
            }
        }
        i += 1;
    }
    out
}

fn heading(start: usize, end: usize, level: usize, setext: bool, text: String) -> Heading {
    let version = version_in(&text);
    let unreleased = version.is_none() && text.to_ascii_lowercase().contains("unreleased");
    Heading {
        start,
        end,
        level,
        setext,
        text,
        version,
        unreleased,
    }
}

/// The first version in a heading's text: `1.2.0`, `v1.2.0`, `1.2.0-beta.1`, `1.2` (two parts at
/// least), not inside a link's URL.
fn version_in(text: &str) -> Option<String> {
    let visible = strip_link_targets(text);
    let bytes = visible.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let free = |j: usize| !(bytes[j].is_ascii_alphanumeric() || bytes[j] == b'.');
        // `1.2.0`, or `v1.2.0` where the `v` starts a word.
        let boundary = i == 0
            || free(i - 1)
            || (matches!(bytes[i - 1], b'v' | b'V') && (i == 1 || free(i - 2)));
        if boundary && bytes[i].is_ascii_digit() {
            let end = visible[i..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+')))
                .map_or(visible.len(), |e| i + e);
            let candidate = visible[i..end].trim_end_matches(['.', '-']);
            let dots = candidate
                .split(['-', '+'])
                .next()
                .unwrap_or("")
                .matches('.')
                .count();
            let numeric = candidate
                .split(['-', '+'])
                .next()
                .unwrap_or("")
                .split('.')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
            if dots >= 1 && numeric {
                return Some(candidate.to_owned());
            }
            i = end.max(i + 1);
            continue;
        }
        i += 1;
    }
    None
}

/// The text with `](…)` link targets removed, so a version inside a URL is not taken.
fn strip_link_targets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("](") {
        out.push_str(&rest[..=at]);
        let after = &rest[at + 2..];
        if let Some(close) = after.find(')') {
            rest = &after[close + 1..];
        } else {
            rest = after;
            break;
        }
    }
    out.push_str(rest);
    out
}

/// The section of `version` in a changelog, without its heading: from the release heading that
/// names it (any level, ATX or setext, bracketed, linked or `v`-prefixed) to the next heading of
/// the same or a higher level.
pub fn section_of(changelog: &str, version: &str) -> Option<String> {
    let text = changelog.replace("\r\n", "\n");
    let all = headings(&text);
    let at = all
        .iter()
        .position(|h| h.version.as_deref() == Some(version))?;
    let h = &all[at];
    let end = all[at + 1..]
        .iter()
        .find(|n| n.level <= h.level)
        .map_or(text.len(), |n| n.start);
    Some(text[h.end..end].trim().to_owned())
}

/// What the new release is.
pub struct NewRelease<'a> {
    pub version: &'a str,
    /// `YYYY-MM-DD`.
    pub date: &'a str,
    /// The rendered section: a heading line, then its body. Its heading levels are relative: the
    /// first heading is the release, deeper ones its subsections.
    pub section: &'a str,
    /// The section's first line is polyship's own heading (`## <version> (<date>)`), which may be
    /// rewritten in the file's style; a user's template heading is kept as written.
    pub restyle: bool,
    /// The file's title when it does not exist yet (`# Changelog`, changesets' `# <name>`).
    pub title: &'a str,
}

/// `existing` (the changelog's text, `None` when it does not exist) with the release inserted, in
/// the file's line ending. Nothing already in the file changes, except an `Unreleased` heading that
/// becomes the release's and the `[Unreleased]` link reference that moves on.
pub fn insert(existing: Option<&str>, new: &NewRelease<'_>) -> String {
    let Some(existing) = existing.filter(|e| !e.trim().is_empty()) else {
        let section = shift(new.section, 2, 3);
        return format!("{}\n\n{section}", new.title);
    };
    let crlf = existing.contains("\r\n");
    let eol = if crlf { "\r\n" } else { "\n" };
    let text = if crlf {
        existing.replace("\r\n", "\n")
    } else {
        existing.to_owned()
    };
    let out = insert_lf(&text, new);
    if crlf { out.replace('\n', eol) } else { out }
}

fn insert_lf(text: &str, new: &NewRelease<'_>) -> String {
    let all = headings(text);
    let Some(first) = all.iter().position(Heading::is_release) else {
        return append(text, &shift(new.section, 2, 3));
    };
    let level = all[first].level;
    let releases: Vec<&Heading> = all
        .iter()
        .skip(first)
        .filter(|h| h.level == level && h.is_release())
        .collect();
    let newest = releases.iter().find(|h| h.version.is_some()).copied();
    let previous = newest.and_then(|n| {
        releases
            .iter()
            .skip_while(|h| h.start != n.start)
            .nth(1)
            .and_then(|h| h.version.clone())
    });
    // Subsections: the level the newest release uses below it.
    let sub = newest
        .and_then(|n| {
            let end = releases
                .iter()
                .find(|h| h.start > n.start)
                .map_or(text.len(), |h| h.start);
            all.iter()
                .find(|h| h.start > n.start && h.start < end && h.level > level)
                .map(|h| h.level)
        })
        .unwrap_or((level + 1).min(6));
    let mut section = shift(new.section, level, sub);
    if new.restyle
        && let Some(n) = newest
    {
        let heading = restyle(n, previous.as_deref(), new);
        let body = section.split_once('\n').map_or("", |(_, b)| b);
        section = format!("{heading}\n{body}");
    }
    let section = section.trim_end_matches('\n').to_owned() + "\n";
    let top = releases[0];
    let mut out = String::with_capacity(text.len() + section.len() + 64);
    if top.unreleased {
        // The Unreleased section is what this release is: its curated text goes under the release
        // heading, and a fresh empty Unreleased heading stays on top.
        let end = releases.get(1).map_or(text.len(), |h| h.start);
        let curated = text[top.end..end].trim_matches('\n');
        out.push_str(&text[..top.end]);
        out.push('\n');
        let (heading, body) = section.split_once('\n').unwrap_or((&section, ""));
        out.push_str(heading);
        out.push('\n');
        if !curated.is_empty() {
            out.push('\n');
            out.push_str(curated);
            out.push('\n');
        }
        if !body.trim().is_empty() {
            out.push_str(body);
        }
        out.push('\n');
        out.push_str(&text[end..]);
    } else {
        out.push_str(&text[..top.start]);
        out.push_str(&section);
        out.push('\n');
        out.push_str(&text[top.start..]);
    }
    link_references(&out, newest, previous.as_deref(), new.version)
}

/// `text` with `section` after it, one blank line between.
fn append(text: &str, section: &str) -> String {
    let mut out = text.trim_end_matches('\n').to_owned();
    out.push_str("\n\n");
    out.push_str(section);
    out
}

/// The section's headings moved to `level` (its first heading) and `sub` (deeper ones).
fn shift(section: &str, level: usize, sub: usize) -> String {
    let mut out = String::with_capacity(section.len());
    let mut fenced = false;
    let mut first = true;
    for line in section.split_inclusive('\n') {
        let t = line.trim_start();
        if t.starts_with("```") || t.starts_with("~~~") {
            fenced = !fenced;
        }
        let hashes = t.chars().take_while(|c| *c == '#').count();
        if !fenced
            && (1..=6).contains(&hashes)
            && t[hashes..].starts_with(' ')
            && line.len() == t.len()
        {
            let to = if first { level } else { sub };
            first = false;
            out.push_str(&"#".repeat(to));
            out.push_str(&t[hashes..]);
        } else {
            out.push_str(line);
        }
    }
    out
}

/// The new release's heading written like `newest`: its text with the version (and the version
/// before it, in compare links) moved on and its date in the same format.
fn restyle(newest: &Heading, previous: Option<&str>, new: &NewRelease<'_>) -> String {
    const MARK: &str = "\u{0}OLD\u{0}";
    let old = newest.version.as_deref().unwrap_or_default();
    let mut text = newest.text.replace(old, MARK);
    if let Some(prev) = previous {
        text = text.replace(prev, "\u{0}PREV\u{0}");
    }
    text = text
        .replace(MARK, new.version)
        .replace("\u{0}PREV\u{0}", old);
    text = redate(&text, new.date);
    if newest.setext {
        let under = if newest.level == 1 { '=' } else { '-' };
        format!(
            "{text}\n{}",
            under.to_string().repeat(text.chars().count().max(3))
        )
    } else {
        format!("{} {text}", "#".repeat(newest.level))
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// `text` with the first date in it replaced by `date` (`YYYY-MM-DD`) written the same way:
/// `2024-01-31`, `January 31st, 2024`, `January 31, 2024`, `31 January 2024`, `Jan 31, 2024`.
fn redate(text: &str, date: &str) -> String {
    let mut parts = date.split('-').map(|p| p.parse::<usize>().unwrap_or(1));
    let (y, m, d) = (
        parts.next().unwrap_or(1970),
        parts.next().unwrap_or(1),
        parts.next().unwrap_or(1),
    );
    let month = MONTHS[(m.clamp(1, 12)) - 1];
    // ISO.
    if let Some((at, len)) = find_iso(text) {
        return format!("{}{date}{}", &text[..at], &text[at + len..]);
    }
    for (i, name) in MONTHS.iter().enumerate() {
        for (written, long) in [(*name, true), (&name[..3], false)] {
            let Some(at) = text.find(written) else {
                continue;
            };
            let after = &text[at + written.len()..];
            let Some(rest) = after.strip_prefix(' ') else {
                continue;
            };
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if digits.is_empty() {
                continue;
            }
            let rest = &rest[digits.len()..];
            let suffix: String = rest.chars().take_while(char::is_ascii_alphabetic).collect();
            let rest = &rest[suffix.len()..];
            let Some(year_part) = rest.strip_prefix(", ") else {
                continue;
            };
            let year: String = year_part.chars().take_while(char::is_ascii_digit).collect();
            if year.len() != 4 {
                continue;
            }
            let tail = &year_part[4..];
            let _ = i;
            let name = if long {
                month.to_owned()
            } else {
                month[..3].to_owned()
            };
            let day = if suffix.is_empty() {
                d.to_string()
            } else {
                format!("{d}{}", ordinal(d))
            };
            return format!("{}{name} {day}, {y}{tail}", &text[..at]);
        }
    }
    text.to_owned()
}

fn ordinal(d: usize) -> &'static str {
    match (d % 10, d % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    }
}

fn find_iso(text: &str) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    (0..b.len().saturating_sub(9)).find_map(|i| {
        let s = &b[i..i + 10];
        let ok = s[..4].iter().all(u8::is_ascii_digit)
            && s[4] == b'-'
            && s[5..7].iter().all(u8::is_ascii_digit)
            && s[7] == b'-'
            && s[8..10].iter().all(u8::is_ascii_digit)
            && (i == 0 || !b[i - 1].is_ascii_digit())
            && b.get(i + 10).is_none_or(|c| !c.is_ascii_digit());
        ok.then_some((i, 10))
    })
}

/// keep-a-changelog's link references: `[1.3.0]: …/compare/v1.2.0...v1.3.0` is added above the
/// newest release's, and `[Unreleased]: …/compare/v1.2.0...HEAD` moves on to the new version.
fn link_references(
    text: &str,
    newest: Option<&Heading>,
    previous: Option<&str>,
    version: &str,
) -> String {
    let Some(old) = newest.and_then(|n| n.version.as_deref()) else {
        return text.to_owned();
    };
    let label = |v: &str| format!("[{v}]:");
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_owned).collect();
    let Some(at) = lines.iter().position(|l| {
        l.trim_start().starts_with(&label(old))
            || l.trim_start().starts_with(&label(&format!("v{old}")))
    }) else {
        return text.to_owned();
    };
    if lines
        .iter()
        .any(|l| l.trim_start().starts_with(&label(version)))
    {
        return text.to_owned();
    }
    let line = &lines[at];
    let mut new_line = line.replace(old, "\u{0}OLD\u{0}");
    if let Some(prev) = previous {
        new_line = new_line.replace(prev, "\u{0}PREV\u{0}");
    }
    let new_line = new_line
        .replace("\u{0}OLD\u{0}", version)
        .replace("\u{0}PREV\u{0}", old);
    // Without the previous version in it, a link to the old release becomes the new one's.
    lines.insert(at, new_line);
    for l in &mut lines {
        let t = l.trim_start().to_ascii_lowercase();
        if t.starts_with("[unreleased]:") {
            *l = l.replace(old, version);
        }
    }
    lines.concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(section: &str) -> NewRelease<'_> {
        NewRelease {
            version: "1.3.0",
            date: "2026-12-01",
            section,
            restyle: true,
            title: "# Changelog",
        }
    }

    const OURS: &str = "## 1.3.0 (2026-12-01)\n\n### Fixes\n\n- a fix\n";

    #[test]
    fn keep_a_changelog_with_unreleased_and_link_references() {
        let old = "# Changelog\n\nAll notable changes.\n\n## [Unreleased]\n\n### Added\n\n- a thing\n\n## [1.2.0] - 2026-01-31\n\n### Fixed\n\n- b\n\n## [1.1.0] - 2025-12-01\n\n- c\n\n[Unreleased]: https://github.com/o/r/compare/v1.2.0...HEAD\n[1.2.0]: https://github.com/o/r/compare/v1.1.0...v1.2.0\n[1.1.0]: https://github.com/o/r/releases/tag/v1.1.0\n";
        let out = insert(Some(old), &release(OURS));
        assert_eq!(
            out,
            "# Changelog\n\nAll notable changes.\n\n## [Unreleased]\n\n## [1.3.0] - 2026-12-01\n\n### Added\n\n- a thing\n\n### Fixes\n\n- a fix\n\n## [1.2.0] - 2026-01-31\n\n### Fixed\n\n- b\n\n## [1.1.0] - 2025-12-01\n\n- c\n\n[Unreleased]: https://github.com/o/r/compare/v1.3.0...HEAD\n[1.3.0]: https://github.com/o/r/compare/v1.2.0...v1.3.0\n[1.2.0]: https://github.com/o/r/compare/v1.1.0...v1.2.0\n[1.1.0]: https://github.com/o/r/releases/tag/v1.1.0\n"
        );
    }

    #[test]
    fn tokio_style_first_level_headings_with_long_dates() {
        let old = "# 1.53.1 (July 20th, 2026)\n\n### Fixed\n\n- rt: a bug ([#8100])\n\n[#8100]: https://github.com/tokio-rs/tokio/pull/8100\n\n# 1.53.0 (July 1st, 2026)\n\n### Added\n\n- x\n";
        let out = insert(Some(old), &release(OURS));
        assert!(
            out.starts_with("# 1.3.0 (December 1st, 2026)\n\n### Fixes\n\n- a fix\n\n# 1.53.1 (July 20th, 2026)\n"),
            "{out}"
        );
        assert!(out.ends_with(old), "the old text is kept whole");
    }

    #[test]
    fn changesets_and_conventional_changelog_headings() {
        let cs = "# @acme/a\n\n## 2.5.10\n\n### Patch Changes\n\n- abc1234: x\n";
        let out = insert(Some(cs), &release(OURS));
        assert_eq!(
            out,
            "# @acme/a\n\n## 1.3.0\n\n### Fixes\n\n- a fix\n\n## 2.5.10\n\n### Patch Changes\n\n- abc1234: x\n"
        );
        let cc = "# Changelog\n\n## [1.2.0](https://github.com/o/r/compare/v1.1.0...v1.2.0) (2026-01-31)\n\n### Features\n\n* x\n\n## [1.1.0](https://github.com/o/r/compare/v1.0.0...v1.1.0) (2025-12-01)\n";
        let out = insert(Some(cc), &release(OURS));
        assert!(
            out.contains("## [1.3.0](https://github.com/o/r/compare/v1.2.0...v1.3.0) (2026-12-01)\n\n### Fixes\n"),
            "{out}"
        );
    }

    #[test]
    fn setext_and_fenced_headings() {
        let old = "Changelog\n=========\n\n```\n## 9.9.9\n```\n\nv1.2.0\n------\n\n- x\n";
        let out = insert(Some(old), &release(OURS));
        assert!(
            out.contains("```\n\nv1.3.0\n------\n\n### Fixes\n\n- a fix\n\nv1.2.0\n------\n"),
            "{out}"
        );
    }

    #[test]
    fn no_release_yet_and_no_file() {
        assert_eq!(
            insert(Some("# Changelog\n\nIntro.\n"), &release(OURS)),
            "# Changelog\n\nIntro.\n\n## 1.3.0 (2026-12-01)\n\n### Fixes\n\n- a fix\n"
        );
        assert_eq!(
            insert(None, &release(OURS)),
            format!("# Changelog\n\n{OURS}")
        );
    }

    #[test]
    fn crlf_files_stay_crlf() {
        let old = "# Changelog\r\n\r\n## 1.2.0\r\n\r\n- y\r\n";
        let out = insert(Some(old), &release(OURS));
        assert_eq!(
            out,
            "# Changelog\r\n\r\n## 1.3.0\r\n\r\n### Fixes\r\n\r\n- a fix\r\n\r\n## 1.2.0\r\n\r\n- y\r\n"
        );
    }

    #[test]
    fn sections_are_found_in_every_style() {
        let log = "# Changelog\n\n## 1.3.0 (2026-01-01)\n\n### Features\n\n- a\n\n```\n## not a heading\n```\n## 1.2.0\n\n- old\n";
        assert_eq!(
            section_of(log, "1.3.0").unwrap(),
            "### Features\n\n- a\n\n```\n## not a heading\n```"
        );
        assert_eq!(section_of(log, "1.2.0").unwrap(), "- old");
        assert_eq!(section_of(log, "1.3"), None);
        assert_eq!(
            section_of("## [v2.0.0] - x\nbody\n", "2.0.0").unwrap(),
            "body"
        );
        assert_eq!(
            section_of(
                "# 1.53.1 (July)\n\n### Fixed\n\n- x\n\n# 1.53.0\n",
                "1.53.1"
            )
            .unwrap(),
            "### Fixed\n\n- x"
        );
        assert_eq!(
            section_of("v1.0.0\n------\n\n- y\n", "1.0.0").unwrap(),
            "- y"
        );
    }

    #[test]
    fn versions_and_dates_are_recognised() {
        assert_eq!(version_in("[1.2.0] - 2024-01-01").as_deref(), Some("1.2.0"));
        assert_eq!(version_in("v0.12.5").as_deref(), Some("0.12.5"));
        assert_eq!(version_in("tokio-util 0.7.15").as_deref(), Some("0.7.15"));
        assert_eq!(
            version_in("2.0.0-beta.1 (2024)").as_deref(),
            Some("2.0.0-beta.1")
        );
        assert_eq!(version_in("Changelog"), None);
        assert_eq!(version_in("Released 2024-01-01"), None);
        assert_eq!(redate("(Jan 5, 2024)", "2026-12-03"), "(Dec 3, 2026)");
        assert_eq!(redate("5 items", "2026-12-03"), "5 items");
    }
}
