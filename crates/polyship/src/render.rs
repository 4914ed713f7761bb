//! Turning errors and warnings into what the user reads on stderr.
//!
//! An error prints its message, then each cause; a cause that points into a file prints a snippet
//! (`--> file:line:col`, the line, a caret) and its `help:`. Colour is optional decoration: the text
//! reads the same without it.

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;

use polyship_core::SourceError;
use polyship_core::changes::ChangesError;
use polyship_core::changes::history::HistoryError;
use polyship_core::config::ConfigError;
use polyship_core::diagnostic::Position;
use polyship_core::workspace::{CycleError, DiscoveryError};

pub const RED_BOLD: &str = "1;31";
pub const YELLOW_BOLD: &str = "1;33";
pub const GREEN_BOLD: &str = "1;32";
pub const CYAN_BOLD: &str = "1;36";
pub const BLUE_BOLD: &str = "1;34";
pub const DIM: &str = "2";

/// `text` in the ANSI style `code` when `color` is on.
pub fn paint(color: bool, code: &str, text: &str) -> String {
    if color {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

/// An error raised by a command itself, with its `help:` line. `usage` marks bad usage or
/// configuration (exit code 2) rather than a failed operation (exit code 1).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CommandError {
    pub message: String,
    pub help: Option<String>,
    pub usage: bool,
}

impl CommandError {
    /// A failed operation (exit code 1).
    pub fn failed(message: impl Into<String>, help: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            help: Some(help.into()),
            usage: false,
        }
    }
}

/// The exit code for an error: 2 for bad usage or configuration, 1 for everything else.
pub fn exit_code(err: &anyhow::Error) -> ExitCode {
    let bad_input = err.chain().any(|cause| {
        cause
            .downcast_ref::<DiscoveryError>()
            .is_some_and(DiscoveryError::is_bad_input)
            || cause.is::<CycleError>()
            || cause
                .downcast_ref::<CommandError>()
                .is_some_and(|c| c.usage)
            || cause.is::<SourceError>()
            || matches!(
                cause.downcast_ref::<ConfigError>(),
                Some(ConfigError::Invalid(_))
            )
            || matches!(
                cause.downcast_ref::<ChangesError>(),
                Some(ChangesError::Changeset(_) | ChangesError::Config(_))
            )
            || matches!(
                cause.downcast_ref::<HistoryError>(),
                Some(HistoryError::UnknownRef(_))
            )
            || cause.is::<polyship_core::plan::PlanError>()
    });
    if bad_input {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    }
}

/// Prints `err` and its causes to stderr.
pub fn error(err: &anyhow::Error, color: bool) {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {}",
        paint(color, RED_BOLD, "error"),
        safe(&err.to_string())
    );
    let mut help = None;
    for cause in err.chain() {
        if let Some(d) = cause.downcast_ref::<DiscoveryError>() {
            help = help.or_else(|| d.help());
        }
        if let Some(c) = cause.downcast_ref::<CycleError>() {
            help = help.or_else(|| Some(c.help()));
        }
        if let Some(h) = cause.downcast_ref::<HistoryError>() {
            help = help.or_else(|| h.help());
        }
        // `ChangesError::History` is transparent: its history error is not a separate cause.
        if let Some(ChangesError::History(h)) = cause.downcast_ref::<ChangesError>() {
            help = help.or_else(|| h.help());
        }
        if let Some(p) = cause.downcast_ref::<polyship_core::plan::PlanError>() {
            help = help.or_else(|| p.help());
        }
        if let Some(u) = cause.downcast_ref::<CommandError>() {
            help = help.or_else(|| u.help.clone());
        }
    }
    for cause in err.chain().skip(1) {
        if let Some(source) = cause.downcast_ref::<SourceError>() {
            snippet(
                &mut out,
                color,
                &source.path.display().to_string(),
                source.position.as_ref(),
                &source.message,
            );
            help = help.or_else(|| source.help.clone());
        } else {
            let _ = writeln!(
                out,
                "  {} {}",
                paint(color, DIM, "caused by:"),
                safe(&cause.to_string())
            );
        }
    }
    if let Some(h) = help {
        let _ = writeln!(out, "{}: {}", paint(color, CYAN_BOLD, "help"), safe(&h));
    }
    let _ = std::io::stderr().write_all(out.as_bytes());
}

/// Every problem a preflight found, with its fix, on stderr: `error: <subject>preflight found N
/// problems; <outcome>`, then one item each.
pub fn problems(
    color: bool,
    subject: &str,
    problems: &[polyship_core::release::publish::Problem],
    outcome: &str,
) {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {}preflight found {} problem{}; {outcome}",
        paint(color, RED_BOLD, "error"),
        safe(subject),
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for p in problems {
        let _ = writeln!(out, "  - {}", safe(&p.message));
        if let Some(h) = &p.help {
            let _ = writeln!(out, "    {}: {}", paint(color, CYAN_BOLD, "help"), safe(h));
        }
    }
    let _ = std::io::stderr().write_all(out.as_bytes());
}

/// One `error: <text>` line on stderr, the text made safe for a terminal.
pub fn error_line(color: bool, text: &str) {
    let line = format!("{}: {}\n", paint(color, RED_BOLD, "error"), safe(text));
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// User text (names, messages, commit subjects) made safe for a terminal: see
/// [`polyship_core::diagnostic::terminal_safe`].
pub fn safe(text: &str) -> std::borrow::Cow<'_, str> {
    polyship_core::diagnostic::terminal_safe(text)
}

/// Prints a warning to stderr.
pub fn warning(w: &polyship_core::Warning, color: bool) {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {}",
        paint(color, YELLOW_BOLD, "warning"),
        safe(&w.message)
    );
    if let Some((path, position)) = &w.source {
        snippet(
            &mut out,
            color,
            &path.display().to_string(),
            position.as_ref(),
            "",
        );
    }
    if let Some(h) = &w.help {
        let _ = writeln!(out, "{}: {}", paint(color, CYAN_BOLD, "help"), safe(h));
    }
    let _ = std::io::stderr().write_all(out.as_bytes());
}

fn snippet(out: &mut String, color: bool, path: &str, position: Option<&Position>, message: &str) {
    let (path, message) = (&*safe(path), &*safe(message));
    let arrow = paint(color, BLUE_BOLD, "-->");
    let Some(p) = position else {
        let _ = writeln!(out, "  {arrow} {path}");
        if !message.is_empty() {
            let _ = writeln!(out, "   {} {message}", paint(color, BLUE_BOLD, "="));
        }
        return;
    };
    if p.line_text.is_empty() {
        let _ = writeln!(out, "  {arrow} {path}:{}", p.line);
        if !message.is_empty() {
            let _ = writeln!(out, "   {} {message}", paint(color, BLUE_BOLD, "="));
        }
        return;
    }
    let number = p.line.to_string();
    let pad = " ".repeat(number.len());
    let bar = paint(color, BLUE_BOLD, "|");
    let _ = writeln!(out, "{pad}{arrow} {path}:{}:{}", p.line, p.column);
    let _ = writeln!(out, "{pad} {bar}");
    let _ = writeln!(
        out,
        "{} {bar} {}",
        paint(color, BLUE_BOLD, &number),
        safe(&polyship_core::diagnostic::clip(&p.line_text))
    );
    let caret_indent: String = p
        .line_text
        .chars()
        .take(p.column.saturating_sub(1))
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    let caret = paint(color, RED_BOLD, "^");
    if message.is_empty() {
        let _ = writeln!(out, "{pad} {bar} {caret_indent}{caret}");
    } else {
        let _ = writeln!(
            out,
            "{pad} {bar} {caret_indent}{caret} {}",
            paint(color, RED_BOLD, message)
        );
    }
}

/// A spinner line under a [`indicatif::MultiProgress`]'s finished lines, ticking until it is
/// cleared: the one look of every wait polyship shows on a terminal.
pub fn spinner(multi: &indicatif::MultiProgress) -> indicatif::ProgressBar {
    let bar = multi.add(indicatif::ProgressBar::new_spinner());
    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg}") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}
