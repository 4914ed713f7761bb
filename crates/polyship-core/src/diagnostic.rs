//! Errors and warnings that point into a user's file.
//!
//! Every parser in polyship reports bad input the same way: the file, the line, the column, the
//! offending line's text, what is wrong and how to fix it. The binary turns a [`SourceError`] into a
//! snippet; the library only records the facts.

use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

/// A position in a text file, 1-based, with the text of that line for the snippet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
    pub line_text: String,
}

impl Position {
    /// The position of byte `offset` in `text` (clamped to the text's end).
    pub fn at(text: &str, offset: usize) -> Self {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
        Self {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
            line_text: text[line_start..line_end].trim_end_matches('\r').to_owned(),
        }
    }

    /// The position of the start of 1-based `line`, `column` in `text`.
    pub fn line_col(text: &str, line: usize, column: usize) -> Self {
        let line_text = text
            .lines()
            .nth(line.saturating_sub(1))
            .unwrap_or_default()
            .trim_end_matches('\r')
            .to_owned();
        Self {
            line: line.max(1),
            column: column.max(1),
            line_text,
        }
    }
}

/// Bad input in a file: where it is, what is wrong, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceError {
    /// The file, as the user should see it (relative to the repository root when inside it).
    pub path: PathBuf,
    /// Where in the file; `None` when the problem is the file as a whole.
    pub position: Option<Position>,
    /// What is wrong, lowercase, without a final period.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
}

impl SourceError {
    pub fn new(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            position: None,
            message: message.into(),
            help: None,
        }
    }

    /// Points the error at byte `offset` of `text`, the contents of the file.
    #[must_use]
    pub fn at(mut self, text: &str, offset: usize) -> Self {
        self.position = Some(Position::at(text, offset));
        self
    }

    #[must_use]
    pub fn at_position(mut self, position: Option<Position>) -> Self {
        self.position = position;
        self
    }

    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.position {
            Some(p) => write!(
                f,
                "{}:{}:{}: {}",
                self.path.display(),
                p.line,
                p.column,
                self.message
            ),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for SourceError {}

/// Something worth telling the user that does not stop the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub message: String,
    /// The file and position it concerns, when there is one.
    pub source: Option<(PathBuf, Option<Position>)>,
    pub help: Option<String>,
}

impl Warning {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source: None,
            help: None,
        }
    }

    #[must_use]
    pub fn in_file(mut self, path: impl Into<PathBuf>, position: Option<Position>) -> Self {
        self.source = Some((path.into(), position));
        self
    }

    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// `text` without what a changelog must not hold: ANSI escape sequences and C0/C1 control
/// characters other than tab and newline (a commit subject can carry them).
pub fn strip_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI (`ESC [ … final`) and OSC (`ESC ] … BEL|ESC \\`) sequences go whole.
            match chars.peek() {
                Some('[') => {
                    chars.next();
                    for c in chars.by_ref() {
                        if ('\u{40}'..='\u{7e}').contains(&c) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    chars.next();
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                            break;
                        }
                    }
                }
                _ => {}
            }
            continue;
        }
        if c == '\t' || c == '\n' || !(c.is_control()) {
            out.push(c);
        }
    }
    out
}

/// `text` safe to print on a terminal: control characters other than newline and tab, and the
/// bidirectional overrides that reorder what is shown, become visible `\u{…}` escapes.
pub fn terminal_safe(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if unsafe_char(c) {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// At most 120 characters of `value`, for quoting user input in messages: a 10 MB name is not
/// echoed whole. Longer values end in `…`.
pub fn clip(value: &str) -> String {
    const MAX: usize = 120;
    match value.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &value[..end]),
        None => value.to_owned(),
    }
}

/// An error and its sources, `: `-joined: one line that says everything.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_stripped_from_changelogs_and_escaped_on_terminals() {
        let evil = "fix: \u{1b}[31mred\u{1b}[0m \u{1b}]0;title\u{7}x\u{7}\u{202e}gnp.exe\ttab";
        assert_eq!(strip_controls(evil), "fix: red x\u{202e}gnp.exe\ttab");
        assert_eq!(
            terminal_safe(evil),
            "fix: \\u{1b}[31mred\\u{1b}[0m \\u{1b}]0;title\\u{7}x\\u{7}\\u{202e}gnp.exe\ttab"
        );
        assert!(matches!(
            terminal_safe("plain"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn clip_keeps_short_values_and_cuts_long_ones() {
        assert_eq!(clip("abc"), "abc");
        let long = "é".repeat(500);
        assert_eq!(clip(&long).chars().count(), 121);
    }

    #[test]
    fn position_counts_lines_and_characters() {
        let text = "a = 1\r\nbé = x\n";
        let p = Position::at(text, text.find('x').unwrap());
        assert_eq!((p.line, p.column), (2, 6));
        assert_eq!(p.line_text, "bé = x");
        assert_eq!(Position::at(text, 0).line, 1);
        assert_eq!(Position::at(text, 999).line, 3);
    }
}
