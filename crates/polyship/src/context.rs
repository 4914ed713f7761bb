//! What every command starts from: the repository root, and how to talk to the user.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context as _;

use crate::render;

/// Flags every command accepts.
#[derive(Debug, clap::Args)]
pub struct GlobalArgs {
    /// Run as if polyship was started in <PATH>; the repository root is the git root above it
    #[arg(short = 'C', long = "directory", value_name = "PATH", global = true)]
    pub directory: Option<PathBuf>,
    /// When to use colours on stderr
    #[arg(long, value_enum, value_name = "WHEN", global = true)]
    pub color: Option<ColorChoice>,
    /// Print only errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Say more about what polyship does (repeat for more)
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Read history without the cache in .git/polyship/ (and leave it as it is)
    #[arg(long, global = true)]
    pub no_cache: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Colours on stderr: `always`, or `auto` on a terminal without `NO_COLOR`.
    pub fn enabled_for_stderr(self) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::io::stderr().is_terminal()
            }
        }
    }
}

/// The repository and the user's output preferences.
pub struct Context {
    /// The repository root: the git root above the starting directory, or the starting directory
    /// itself outside any git repository.
    pub root: PathBuf,
    /// Whether `root` is a git repository.
    pub in_git: bool,
    pub color: bool,
    pub quiet: bool,
    pub verbose: u8,
    /// Whether history is read through its cache (`--no-cache`).
    pub history_cache: polyship_core::changes::HistoryCache,
}

impl Context {
    pub fn new(args: &GlobalArgs) -> anyhow::Result<Self> {
        let cwd = std::env::current_dir().context("failed to read the current directory")?;
        let start = match &args.directory {
            Some(dir) => {
                let dir = cwd.join(dir);
                fs_err::canonicalize(&dir).with_context(|| {
                    format!("failed to enter `{}` (given with `-C`)", dir.display())
                })?
            }
            None => cwd,
        };
        let (root, in_git) = match polyship_core::workspace::files::find_git_root(&start) {
            Some(root) => (root, true),
            None => (start.clone(), false),
        };
        // A bare repository has history but no files to release: say so, not "no repository".
        if !in_git
            && let Some(bare) = start.ancestors().find(|d| {
                d.join("HEAD").is_file() && d.join("objects").is_dir() && d.join("refs").is_dir()
            })
        {
            return Err(crate::render::CommandError {
                message: format!(
                    "`{}` is a bare git repository: it has no files for polyship to read",
                    bare.display()
                ),
                help: Some(
                    "clone it (`git clone <path>`) and run polyship in the clone".to_owned(),
                ),
                usage: true,
            }
            .into());
        }
        let cx = Self {
            root,
            in_git,
            color: args.color.unwrap_or(ColorChoice::Auto).enabled_for_stderr(),
            quiet: args.quiet,
            verbose: args.verbose,
            history_cache: if args.no_cache {
                polyship_core::changes::HistoryCache::Bypass
            } else {
                polyship_core::changes::HistoryCache::Use
            },
        };
        if !cx.in_git {
            cx.note(&format!(
                "`{}` is not in a git repository; reading it as the root",
                cx.root.display()
            ));
        }
        cx.debug(&format!("repository root: {}", cx.root.display()));
        Ok(cx)
    }

    /// The same preferences, for the repository checked out at `root` (a worktree of this one).
    pub fn at(&self, root: PathBuf) -> Self {
        Self {
            root,
            in_git: true,
            color: self.color,
            quiet: self.quiet,
            verbose: self.verbose,
            history_cache: self.history_cache,
        }
    }

    /// A status line on stderr, cargo-style: a right-aligned verb, then the object.
    pub fn status(&self, verb: &str, message: &str) {
        if !self.quiet {
            let _ = writeln!(std::io::stderr(), "{}", self.status_line(verb, message));
        }
    }

    /// The text of a status line, without a newline.
    pub fn status_line(&self, verb: &str, message: &str) -> String {
        let verb = render::paint(self.color, render::GREEN_BOLD, &format!("{verb:>12}"));
        format!(
            "{verb} {}",
            polyship_core::diagnostic::terminal_safe(message)
        )
    }

    /// A warning on stderr (hidden by `-q`).
    pub fn warn(&self, warning: &polyship_core::Warning) {
        if !self.quiet {
            render::warning(warning, self.color);
        }
    }

    /// A note shown unless `-q`.
    pub fn note(&self, message: &str) {
        if !self.quiet {
            let label = render::paint(self.color, render::CYAN_BOLD, "note");
            let _ = writeln!(
                std::io::stderr(),
                "{label}: {}",
                polyship_core::diagnostic::terminal_safe(message)
            );
        }
    }

    /// Detail shown with `-v`.
    pub fn debug(&self, message: &str) {
        if self.verbose > 0 {
            let _ = writeln!(
                std::io::stderr(),
                "{}",
                render::paint(
                    self.color,
                    render::DIM,
                    &polyship_core::diagnostic::terminal_safe(message)
                )
            );
        }
    }
}
