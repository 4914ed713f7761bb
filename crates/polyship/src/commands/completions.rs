//! `polyship completions <shell>` and `polyship man`: generated from the command-line definitions,
//! so they never drift from the flags polyship takes.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::CommandFactory as _;

#[derive(Debug, clap::Args)]
#[command(after_help = "Install it where your shell looks, for example:
  bash:  polyship completions bash > ~/.local/share/bash-completion/completions/polyship
  zsh:   polyship completions zsh > ~/.zfunc/_polyship   (with fpath+=~/.zfunc before compinit)
  fish:  polyship completions fish > ~/.config/fish/completions/polyship.fish
  PowerShell: polyship completions powershell | Out-String | Invoke-Expression")]
pub struct Args {
    /// The shell to complete in
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write `polyship.1` and one `polyship-<command>.1` per command into this directory instead
    /// of printing `polyship.1`
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let mut command = crate::Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut command, "polyship", &mut out);
    out.flush()
        .context("failed to write the completion script")?;
    Ok(ExitCode::SUCCESS)
}

pub fn man(args: &ManArgs) -> anyhow::Result<ExitCode> {
    let command = crate::Cli::command();
    let Some(dir) = &args.out else {
        let mut out = std::io::stdout().lock();
        out.write_all(&page(command)?)
            .and_then(|()| out.flush())
            .context("failed to write the man page")?;
        return Ok(ExitCode::SUCCESS);
    };
    fs_err::create_dir_all(dir)?;
    let mut pages = vec![("polyship".to_owned(), command.clone())];
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("polyship-{}", sub.get_name());
        // The page of a command is named for it, and its synopsis reads `polyship <command>`.
        let sub = sub
            .clone()
            .display_name(name.clone())
            .bin_name(format!("polyship {}", sub.get_name()));
        pages.push((name, sub));
    }
    for (name, command) in pages {
        let path = dir.join(format!("{name}.1"));
        polyship_core::fsutil::write_atomic(&path, &page(command)?)
            .with_context(|| format!("failed to write `{}`", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// One man page in roff, its non-ASCII characters (the help's dashes and arrows) written as
/// roff's `\[uXXXX]` escapes, which every formatter reads whatever its input encoding.
fn page(command: clap::Command) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    clap_mangen::Man::new(command)
        .render(&mut bytes)
        .context("failed to render a man page")?;
    let text = String::from_utf8(bytes).context("the man page is not UTF-8")?;
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let _ = write!(out, "\\[u{:04X}]", u32::from(c));
        }
    }
    Ok(out.into_bytes())
}
