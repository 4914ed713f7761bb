//! Conventional Commits (<https://www.conventionalcommits.org/en/v1.0.0/>): parsing and linting.
//!
//! A message is `type(scope)!: description`, then an optional body, then optional footers
//! (`Token: value` or `Token #value`, values may run over several lines). `!` or a
//! `BREAKING CHANGE:` / `BREAKING-CHANGE:` footer marks a breaking change. The parser records what
//! the message says; which bump a type asks for is the caller's map ([`BumpMap`]), and the 0.x rule
//! is applied by planning, not here.

use std::collections::BTreeMap;

use serde::Serialize;

/// A parsed Conventional Commit message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conventional {
    /// The type, lowercased (`feat`, `fix`, …).
    pub r#type: String,
    pub scope: Option<String>,
    /// `!` in the header or a breaking-change footer.
    pub breaking: bool,
    /// The text of the `BREAKING CHANGE` footer, else the description when `!` marks it.
    pub breaking_description: Option<String>,
    pub description: String,
    pub body: Option<String>,
    pub footers: Vec<Footer>,
}

/// One footer: `Token: value` or `Token #value`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Footer {
    pub token: String,
    /// `": "` or `" #"`.
    pub separator: String,
    pub value: String,
}

/// Why a message is not a Conventional Commit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{rule}: {message}")]
pub struct LintError {
    /// A stable rule name (`header-format`, `type-empty`, …), for configuration and messages.
    pub rule: &'static str,
    pub message: String,
    /// What to write instead.
    pub help: String,
    /// 1-based line of the message the problem is on.
    pub line: usize,
}

fn lint(
    rule: &'static str,
    line: usize,
    message: impl Into<String>,
    help: impl Into<String>,
) -> LintError {
    LintError {
        rule,
        message: message.into(),
        help: help.into(),
        line,
    }
}

/// The raw kind of change a commit asks for; planning turns it into a bump.
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
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    None,
    Fix,
    Feature,
    Breaking,
}

/// Which types ask for which kind of change. Default: `feat` → feature, `fix` → fix, every other
/// type → none; a breaking change is breaking whatever its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BumpMap {
    types: BTreeMap<String, ChangeKind>,
    /// Types configured as `none`.
    silenced: std::collections::BTreeSet<String>,
}

impl Default for BumpMap {
    fn default() -> Self {
        Self {
            types: [
                ("feat".to_owned(), ChangeKind::Feature),
                ("fix".to_owned(), ChangeKind::Fix),
            ]
            .into(),
            silenced: std::collections::BTreeSet::new(),
        }
    }
}

impl BumpMap {
    /// The default map with `overrides` applied (type → kind).
    pub fn with(overrides: impl IntoIterator<Item = (String, ChangeKind)>) -> Self {
        let mut map = Self::default();
        for (t, k) in overrides {
            if k == ChangeKind::None {
                map.silenced.insert(t.to_ascii_lowercase());
            }
            map.types.insert(t.to_ascii_lowercase(), k);
        }
        map
    }

    pub fn kind(&self, commit: &Conventional) -> ChangeKind {
        // A type set to `none` releases nothing, breaking or not: the user said so.
        if self.silenced.contains(&commit.r#type) {
            return ChangeKind::None;
        }
        if commit.breaking {
            return ChangeKind::Breaking;
        }
        self.types
            .get(&commit.r#type)
            .copied()
            .unwrap_or(ChangeKind::None)
    }
}

/// The kind of change `message` asks for under `preset`.
///
/// With [`crate::config::Preset::Angular`] (conventional-changelog's angular preset, lerna's default) the header
/// must read `type(scope): subject` with no `!`, and a change is breaking only through a
/// `BREAKING CHANGE` note on any line after the header (matched without regard to case, as
/// conventional-commits-parser does).
pub fn kind_under(message: &str, preset: crate::config::Preset, map: &BumpMap) -> ChangeKind {
    match preset {
        crate::config::Preset::Conventionalcommits => {
            parse(message).map_or(ChangeKind::None, |c| map.kind(&c))
        }
        crate::config::Preset::Angular => angular_kind(message, map),
    }
}

fn angular_kind(message: &str, map: &BumpMap) -> ChangeKind {
    let mut lines = message.lines().map(|l| l.trim_end_matches('\r'));
    let header = lines
        .by_ref()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    let note = lines.any(|l| {
        let l = l.trim_start_matches(|c: char| c.is_whitespace() || c == '|' || c == '*');
        l.get(..15)
            .is_some_and(|k| k.eq_ignore_ascii_case("breaking change"))
            && l[15..].starts_with(|c: char| c == ':' || c.is_whitespace())
            && !l[15..]
                .trim_start_matches(|c: char| c == ':' || c.is_whitespace())
                .is_empty()
    });
    if note {
        return ChangeKind::Breaking;
    }
    // `^(\w*)(?:\((.*)\))?: (.*)$`
    let Some((prefix, subject)) = header.split_once(": ") else {
        return ChangeKind::None;
    };
    if subject.is_empty() && !header.ends_with(": ") {
        return ChangeKind::None;
    }
    let r#type = match prefix.find('(') {
        Some(open) if prefix.ends_with(')') => &prefix[..open],
        Some(_) => return ChangeKind::None,
        None => prefix,
    };
    if !r#type
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return ChangeKind::None;
    }
    match map.types.get(r#type).copied() {
        // The angular preset compares types as written: `Feat` is not `feat`.
        Some(kind) if kind != ChangeKind::Breaking => kind,
        _ => ChangeKind::None,
    }
}

/// What a revert commit reverts: the header and the commit named by git's
/// `This reverts commit <sha>.` line (conventional-changelog's revert pattern).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reverted {
    pub header: String,
    pub hash: String,
}

/// The commit `message` reverts, when it is a revert: `Revert "<header>"` or `revert: <header>`,
/// followed somewhere by `This reverts commit <sha>.`.
pub fn reverted(message: &str) -> Option<Reverted> {
    let trimmed = message.trim_start();
    let starts = |p: &str| {
        trimmed
            .get(..p.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(p))
    };
    let rest = if starts("revert:") {
        &trimmed[7..]
    } else if starts("revert") {
        &trimmed[6..]
    } else {
        return None;
    };
    let rest = rest.strip_prefix(|c: char| c.is_whitespace())?;
    let lower = rest.to_ascii_lowercase();
    let at = lower.find("this reverts commit ")?;
    let header = rest[..at].trim_end();
    let header = header.strip_prefix('"').unwrap_or(header);
    let header = header.strip_suffix('"').unwrap_or(header).trim();
    let after = &rest[at + "this reverts commit ".len()..];
    let hash: String = after
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    let dot = after[hash.len()..].starts_with('.');
    (dot && !hash.is_empty()).then(|| Reverted {
        header: header.to_owned(),
        hash: hash.to_ascii_lowercase(),
    })
}

/// Messages that tools write and linters skip: merges, git's own reverts, fixups and squashes.
pub fn is_tool_generated(message: &str) -> bool {
    let header = message.lines().next().unwrap_or_default();
    [
        "Merge ",
        "Merged ",
        "Revert \"",
        "fixup! ",
        "squash! ",
        "amend! ",
        "Initial commit",
    ]
    .iter()
    .any(|p| header.starts_with(p))
        || header.starts_with("Automatic merge")
}

/// Parses a commit message. Comment lines (`#`) are dropped first, as git does for messages it
/// edits, and a `Revert "<header>"` message is a `revert` commit.
pub fn parse(message: &str) -> Result<Conventional, LintError> {
    let lines: Vec<&str> = message
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.starts_with('#'))
        .collect();
    let first = lines
        .iter()
        .position(|l| !l.trim().is_empty())
        .unwrap_or(lines.len());
    let Some(header) = lines.get(first) else {
        return Err(lint(
            "message-empty",
            1,
            "the message is empty",
            "write `type: description`, such as `fix: handle empty input`",
        ));
    };
    let header_line = first + 1;
    if let Some(reverted) = header
        .strip_prefix("Revert \"")
        .and_then(|h| h.strip_suffix('"'))
    {
        let (body, footers) = split_body(&lines[first + 1..], header_line + 1)?;
        return Ok(Conventional {
            r#type: "revert".to_owned(),
            scope: None,
            breaking: false,
            breaking_description: None,
            description: reverted.to_owned(),
            body,
            footers,
        });
    }
    let (r#type, scope, bang, description) = parse_header(header, header_line)?;
    let (body, footers) = split_body(&lines[first + 1..], header_line + 1)?;
    let footer_breaking = footers
        .iter()
        .find(|f| f.token == "BREAKING CHANGE" || f.token == "BREAKING-CHANGE");
    Ok(Conventional {
        breaking: bang || footer_breaking.is_some(),
        breaking_description: footer_breaking
            .map(|f| f.value.clone())
            .or_else(|| bang.then(|| description.clone())),
        r#type,
        scope,
        description,
        body,
        footers,
    })
}

fn parse_header(
    header: &str,
    line: usize,
) -> Result<(String, Option<String>, bool, String), LintError> {
    const EXAMPLE: &str = "write `type(scope): description`, such as `feat(parser): accept arrays`";
    let Some(colon) = header.find(':') else {
        return Err(lint(
            "header-format",
            line,
            format!("`{header}` has no `type:` prefix"),
            EXAMPLE,
        ));
    };
    let mut prefix = &header[..colon];
    let rest = &header[colon + 1..];
    let bang = prefix.ends_with('!');
    if bang {
        prefix = &prefix[..prefix.len() - 1];
    }
    let (type_text, scope) = match prefix.find('(') {
        Some(open) => {
            let Some(inner) = prefix[open + 1..].strip_suffix(')') else {
                return Err(lint(
                    "scope-format",
                    line,
                    format!("the scope in `{prefix}` is not closed by `)`"),
                    EXAMPLE,
                ));
            };
            if inner.trim().is_empty() {
                return Err(lint(
                    "scope-empty",
                    line,
                    "the scope `()` is empty",
                    "name a scope, or leave out the parentheses",
                ));
            }
            (&prefix[..open], Some(inner.to_owned()))
        }
        None => (prefix, None),
    };
    if type_text.is_empty() {
        return Err(lint(
            "type-empty",
            line,
            "the message has no type before `:`",
            EXAMPLE,
        ));
    }
    if !type_text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(lint(
            "type-format",
            line,
            format!("`{type_text}` is not a type: a type is one word"),
            EXAMPLE,
        ));
    }
    let Some(description) = rest.strip_prefix(' ') else {
        return Err(lint(
            "header-format",
            line,
            "the `:` must be followed by a space",
            format!("write `{prefix}: {}`", rest.trim()),
        ));
    };
    if description.trim().is_empty() {
        return Err(lint(
            "subject-empty",
            line,
            "the description after `:` is empty",
            "say what the change does after `type: `",
        ));
    }
    Ok((
        type_text.to_ascii_lowercase(),
        scope,
        bang,
        description.trim().to_owned(),
    ))
}

/// A footer token at the start of `line`: `Token: value`, `Token #value`, `BREAKING CHANGE: value`.
fn footer_start(line: &str) -> Option<Footer> {
    let (token, separator, value) = if let Some(v) = line.strip_prefix("BREAKING CHANGE: ") {
        ("BREAKING CHANGE", ": ", v)
    } else {
        let end = line.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))?;
        let token = &line[..end];
        let rest = &line[end..];
        if token.is_empty() {
            return None;
        }
        if let Some(v) = rest.strip_prefix(": ") {
            (token, ": ", v)
        } else if let Some(v) = rest.strip_prefix(" #") {
            (token, " #", v)
        } else {
            return None;
        }
    };
    Some(Footer {
        token: token.to_owned(),
        separator: separator.to_owned(),
        value: value.to_owned(),
    })
}

/// Splits what follows the header into body and footers. The footers start at the first paragraph
/// whose first line is a footer; each footer's value runs until the next footer token.
fn split_body(
    lines: &[&str],
    first_line: usize,
) -> Result<(Option<String>, Vec<Footer>), LintError> {
    if lines.first().is_some_and(|l| !l.trim().is_empty()) {
        return Err(lint(
            "body-leading-blank",
            first_line,
            "the header must be followed by a blank line",
            "put an empty line between the first line and the body",
        ));
    }
    let mut footer_at = None;
    for (i, line) in lines.iter().enumerate() {
        if i > 0 && lines[i - 1].trim().is_empty() && footer_start(line).is_some() {
            footer_at = Some(i);
            break;
        }
    }
    let body_lines = &lines[..footer_at.unwrap_or(lines.len())];
    let body = body_lines.join("\n").trim().to_owned();
    let mut footers: Vec<Footer> = Vec::new();
    if let Some(at) = footer_at {
        for line in &lines[at..] {
            match footer_start(line) {
                Some(f) => footers.push(f),
                None => {
                    if let Some(last) = footers.last_mut() {
                        last.value.push('\n');
                        last.value.push_str(line);
                    }
                }
            }
        }
        for f in &mut footers {
            f.value = f.value.trim_end().to_owned();
        }
    }
    Ok(((!body.is_empty()).then_some(body), footers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_forms() {
        let c = parse("feat(parser)!: accept arrays").unwrap();
        assert_eq!(
            (c.r#type.as_str(), c.scope.as_deref(), c.breaking),
            ("feat", Some("parser"), true)
        );
        assert_eq!(c.breaking_description.as_deref(), Some("accept arrays"));
        let c = parse("Fix: Typo").unwrap();
        assert_eq!(
            (c.r#type.as_str(), c.description.as_str(), c.breaking),
            ("fix", "Typo", false)
        );
    }

    #[test]
    fn body_and_multiline_footers() {
        let msg = "fix: prevent racing\n\nIntroduce a request id.\n\nSecond paragraph.\n\nReviewed-by: Z\nRefs #123\nBREAKING CHANGE: ids are\n  now required\n";
        let c = parse(msg).unwrap();
        assert_eq!(
            c.body.as_deref(),
            Some("Introduce a request id.\n\nSecond paragraph.")
        );
        assert_eq!(c.footers.len(), 3);
        assert_eq!(
            c.footers[1],
            Footer {
                token: "Refs".into(),
                separator: " #".into(),
                value: "123".into()
            }
        );
        assert!(c.breaking);
        assert_eq!(
            c.breaking_description.as_deref(),
            Some("ids are\n  now required")
        );
    }

    #[test]
    fn breaking_change_hyphen_footer() {
        let c = parse("chore: drop node 16\n\nBREAKING-CHANGE: node 18 is required").unwrap();
        assert!(c.breaking);
        assert_eq!(BumpMap::default().kind(&c), ChangeKind::Breaking);
    }

    #[test]
    fn lowercase_breaking_change_is_not_breaking() {
        let c = parse("fix: x\n\nbreaking change: no").unwrap();
        assert!(!c.breaking);
    }

    #[test]
    fn reverts() {
        let c = parse("Revert \"feat: add x\"\n\nThis reverts commit abc.").unwrap();
        assert_eq!(
            (c.r#type.as_str(), c.description.as_str()),
            ("revert", "feat: add x")
        );
        let c = parse("revert: feat: add x").unwrap();
        assert_eq!(
            (c.r#type.as_str(), c.description.as_str()),
            ("revert", "feat: add x")
        );
    }

    #[test]
    fn kinds_follow_the_map() {
        let map = BumpMap::with([("perf".to_owned(), ChangeKind::Fix)]);
        assert_eq!(map.kind(&parse("perf: faster").unwrap()), ChangeKind::Fix);
        assert_eq!(map.kind(&parse("feat: x").unwrap()), ChangeKind::Feature);
        assert_eq!(map.kind(&parse("docs: x").unwrap()), ChangeKind::None);
        // Breaking is breaking whatever the type, unless the type is set to `none`.
        assert_eq!(map.kind(&parse("docs!: x").unwrap()), ChangeKind::Breaking);
        let quiet = BumpMap::with([("chore".to_owned(), ChangeKind::None)]);
        assert_eq!(
            quiet.kind(&parse("chore!: node 22").unwrap()),
            ChangeKind::None
        );
    }

    #[test]
    fn errors_name_their_rule() {
        let rule = |m: &str| parse(m).unwrap_err().rule;
        assert_eq!(rule("update stuff"), "header-format");
        assert_eq!(rule(": x"), "type-empty");
        assert_eq!(rule("feat:x"), "header-format");
        assert_eq!(rule("feat: "), "subject-empty");
        assert_eq!(rule("feat(: x"), "scope-format");
        assert_eq!(rule("feat(): x"), "scope-empty");
        assert_eq!(rule("new feature: x"), "type-format");
        assert_eq!(rule("feat: x\nbody"), "body-leading-blank");
        assert_eq!(rule("\n# only a comment\n"), "message-empty");
    }

    #[test]
    fn comments_are_dropped_like_git_does() {
        let c = parse("# Please enter\nfeat: x\n\n# comment\nbody").unwrap();
        assert_eq!(c.body.as_deref(), Some("body"));
    }

    #[test]
    fn angular_preset_reads_like_conventional_changelog() {
        use crate::config::Preset::Angular;
        let map = BumpMap::default();
        let kind = |m: &str| kind_under(m, Angular, &map);
        assert_eq!(kind("feat(x): add"), ChangeKind::Feature);
        assert_eq!(kind("fix: y"), ChangeKind::Fix);
        // No `!` in the angular header pattern: not a type at all.
        assert_eq!(kind("feat!: drop"), ChangeKind::None);
        assert_eq!(kind("chore!: node 22"), ChangeKind::None);
        assert_eq!(kind("Feat: capital"), ChangeKind::None);
        assert_eq!(kind("chore: x\n\nBREAKING CHANGE: y"), ChangeKind::Breaking);
        assert_eq!(kind("update\n\n* breaking change: y"), ChangeKind::Breaking);
        assert_eq!(kind("chore: x\n\nBREAKING-CHANGE: y"), ChangeKind::None);
        assert_eq!(
            kind_under(
                "feat!: drop",
                crate::config::Preset::Conventionalcommits,
                &map
            ),
            ChangeKind::Breaking
        );
    }

    #[test]
    fn reverts_name_what_they_revert() {
        let r = reverted("Revert \"fix(x): y\"\n\nThis reverts commit ABCdef123.\n").unwrap();
        assert_eq!(
            (r.header.as_str(), r.hash.as_str()),
            ("fix(x): y", "abcdef123")
        );
        let r = reverted("revert: feat: z\n\nThis reverts commit 0123456789abcdef.").unwrap();
        assert_eq!(r.header, "feat: z");
        assert_eq!(reverted("Revert \"fix: y\""), None);
        assert_eq!(reverted("fix: revert the thing"), None);
        assert_eq!(reverted("feat: 🎸 x"), None);
        assert_eq!(reverted("rév"), None);
    }

    #[test]
    fn tool_generated_messages() {
        assert!(is_tool_generated("Merge branch 'main' into x"));
        assert!(is_tool_generated("fixup! feat: x"));
        assert!(!is_tool_generated("feat: x"));
    }
}
