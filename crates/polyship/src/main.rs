//! The `polyship` command: argument parsing, one module per command, and rendering.
//!
//! Each command is a clap `Args` struct plus `run(&Context, args) -> Result<ExitCode>` that calls one
//! function of `polyship-core` and renders its value. stdout carries data only (tables, `--json`);
//! status, warnings and errors go to stderr. Only `main` turns errors into exit codes: 0 success,
//! 1 the operation failed, 2 bad usage or configuration.

// A function of more than a hundred lines is steps that want names.
#![warn(clippy::too_many_lines)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod commands;
mod context;
mod render;

use context::{ColorChoice, Context, GlobalArgs};

/// Release manager for repositories of Cargo, npm and Python packages.
#[derive(Debug, Parser)]
#[command(
    name = "polyship",
    version = env!("POLYSHIP_VERSION"),
    about,
    propagate_version = true
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List every package of the repository with its ecosystem, version and internal dependencies
    List(commands::list::Args),
    /// Write a commented `polyship.toml` that reflects what discovery found
    Init(commands::init::Args),
    /// Write a changeset: which packages a change releases, with which bump, and its summary
    Add(commands::add::Args),
    /// Show pending changes per package, from changesets and Conventional Commits
    Status(commands::status::Args),
    /// Check commit messages against Conventional Commits
    LintCommits(commands::lint_commits::Args),
    /// Show what a release would do: each package's version from and to, and why
    Plan(commands::plan::Args),
    /// Apply the plan: versions, requirements, lockfiles, changelogs and changesets, then commit
    Version(commands::version::Args),
    /// Publish every unreleased package in dependency order, tag, push and make forge releases
    Publish(commands::publish::Args),
    /// Open or update the pull request that holds the pending release; merging it releases
    ReleasePr(commands::release_pr::Args),
    /// Run a release pipeline of polyship.toml: gates, builds, version, publish, notifications
    #[command(disable_version_flag = true)]
    Run(commands::run::Args),
    /// Build binaries per target, archive them with checksums, attach them to forge releases
    Artifacts(commands::artifacts::Args),
    /// Write the CI workflow that runs a pipeline's targets on their own runners, then finishes
    /// the pipeline once
    Ci(commands::ci::Args),
    /// Print the shell completion script for bash, zsh, fish, PowerShell or elvish
    Completions(commands::completions::Args),
    /// Print polyship's man page (roff), or write one page per command into a directory
    Man(commands::completions::ManArgs),
    /// Print the JSON Schema of polyship.toml, for editors and CI to validate it with
    Config(commands::config::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let color = cli.global.color.unwrap_or(ColorChoice::Auto);
    // Made from the command line alone: no repository is read.
    let standalone = match &cli.command {
        Command::Completions(args) => Some(commands::completions::run(args)),
        Command::Man(args) => Some(commands::completions::man(args)),
        Command::Config(args) => Some(commands::config::run(args)),
        _ => None,
    };
    let result = standalone.unwrap_or_else(|| {
        Context::new(&cli.global).and_then(|cx| {
            commands::recover(&cx)?;
            match cli.command {
                Command::List(args) => commands::list::run(&cx, &args),
                Command::Init(args) => commands::init::run(&cx, &args),
                Command::Add(args) => commands::add::run(&cx, &args),
                Command::Status(args) => commands::status::run(&cx, &args),
                Command::LintCommits(args) => commands::lint_commits::run(&cx, &args),
                Command::Plan(args) => commands::plan::run(&cx, &args),
                Command::Version(args) => commands::version::run(&cx, &args),
                Command::Publish(args) => commands::publish::run(&cx, &args),
                Command::ReleasePr(args) => commands::release_pr::run(&cx, &args),
                Command::Run(args) => commands::run::run(&cx, &args),
                Command::Artifacts(args) => commands::artifacts::run(&cx, &args),
                Command::Ci(args) => commands::ci::run(&cx, &args),
                Command::Completions(_) | Command::Man(_) | Command::Config(_) => {
                    unreachable!("handled above")
                }
            }
        })
    });
    match result {
        Ok(code) => code,
        Err(err) => {
            render::error(&err, color.enabled_for_stderr());
            render::exit_code(&err)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_consistent() {
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }
}
