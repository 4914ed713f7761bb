//! `polyship ci github` / `polyship ci gitlab`: writes the CI file that fans a pipeline out
//! across runners, or (`--check`) says whether the committed one is still what it would write.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use polyship_core::ci::{self, CiError, Forge};
use polyship_core::pipeline;

use crate::context::Context;
use crate::render::CommandError;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    forge: ForgeCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ForgeCommand {
    /// Write `.github/workflows/release.yml`: plan, one job per target's runner, then one job
    /// that finishes the pipeline
    Github(WriteArgs),
    /// Write `.gitlab-ci.yml`: plan, a `parallel: matrix` job over the targets, then one job that
    /// finishes the pipeline
    Gitlab(WriteArgs),
}

#[derive(Debug, clap::Args)]
struct WriteArgs {
    /// Write nothing; exit 1 when the committed file is not what would be written
    #[arg(long, conflicts_with = "dry_run")]
    check: bool,
    /// Print the file on stdout and write nothing
    #[arg(long)]
    dry_run: bool,
    /// The pipeline the workflow runs [default: `[ci] pipeline`, else `release`]
    #[arg(long, value_name = "PIPELINE")]
    pipeline: Option<String>,
    /// The file to write, relative to the repository root [default: `[ci.github] file`, else
    /// `.github/workflows/release.yml`; `[ci.gitlab] file`, else `.gitlab-ci.yml`]
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
}

pub fn run(cx: &Context, args: &Args) -> anyhow::Result<ExitCode> {
    let (forge, args) = match &args.forge {
        ForgeCommand::Github(a) => (Forge::Github, a),
        ForgeCommand::Gitlab(a) => (Forge::Gitlab, a),
    };
    let loaded = polyship_core::config::load(&cx.root)?;
    let config = &loaded.config.ci;
    let name = args
        .pipeline
        .clone()
        .or_else(|| config.pipeline.clone())
        .unwrap_or_else(|| "release".into());
    let inputs = pipeline::Inputs {
        env: std::env::vars().collect(),
        commit: String::new(),
        version: Some(super::run::shared_version(cx, &loaded, &name).unwrap_or_default()),
    };
    let pipeline = super::run::resolve(&loaded, &name, &inputs, None)?;
    let (default_file, overlay) = match forge {
        Forge::Github => (
            config
                .github
                .file
                .as_deref()
                .unwrap_or(".github/workflows/release.yml"),
            config.github.overlay.as_deref(),
        ),
        Forge::Gitlab => (
            config.gitlab.file.as_deref().unwrap_or(".gitlab-ci.yml"),
            config.gitlab.overlay.as_deref(),
        ),
    };
    let file = args
        .file
        .clone()
        .unwrap_or_else(|| PathBuf::from(default_file));
    let overlay = read_overlay(cx, forge, &file, overlay)?;
    let mut warnings = Vec::new();
    let changesets = polyship_core::changes::changesets_config::read(&cx.root, &mut warnings)
        .ok()
        .flatten();
    let inputs = ci::Inputs {
        pipeline: &pipeline,
        config,
        branches: config.branches.clone().unwrap_or_else(|| {
            vec![polyship_core::changes::base_branch(
                &loaded,
                changesets.as_ref(),
            )]
        }),
        version: config
            .polyship_version
            .clone()
            .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_owned()),
        overlay,
    };
    let text = ci::generate(forge, &inputs).map_err(|e| ci_error(&e))?;
    if args.dry_run {
        std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .context("failed to write to stdout")?;
        return Ok(ExitCode::SUCCESS);
    }
    let path = cx.root.join(&file);
    let current = match fs_err::read_to_string(&path) {
        Ok(current) => Some(current),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e.into()),
    };
    if args.check {
        return Ok(check(cx, forge, &file, current.as_deref(), &text));
    }
    if current.as_deref() == Some(text.as_str()) {
        cx.status("Unchanged", &file.display().to_string());
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(parent) = path.parent() {
        fs_err::create_dir_all(parent)?;
    }
    polyship_core::fsutil::write_atomic(&path, text.as_bytes())
        .with_context(|| format!("failed to write `{}`", path.display()))?;
    cx.status(
        if current.is_some() {
            "Updated"
        } else {
            "Wrote"
        },
        &format!("{} from pipeline `{name}`", file.display()),
    );
    Ok(ExitCode::SUCCESS)
}

/// The overlay: the configured file (which must exist), else the default one when it exists.
fn read_overlay(
    cx: &Context,
    forge: Forge,
    file: &Path,
    configured: Option<&str>,
) -> anyhow::Result<Option<(PathBuf, String)>> {
    let relative = if let Some(path) = configured {
        PathBuf::from(path)
    } else {
        let name = file.file_name().map_or_else(
            || std::ffi::OsString::from("release.yml"),
            std::ffi::OsStr::to_owned,
        );
        let dir = match forge {
            Forge::Github => ".github/polyship",
            Forge::Gitlab => ".gitlab/polyship",
        };
        Path::new(dir).join(name)
    };
    match fs_err::read_to_string(cx.root.join(&relative)) {
        Ok(text) => Ok(Some((relative, text))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && configured.is_none() => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(CommandError {
            message: format!("the overlay `{}` does not exist", relative.display()),
            help: Some(format!(
                "create it, or remove `overlay` from `[ci.{}]` in polyship.toml",
                forge.as_str()
            )),
            usage: true,
        }
        .into()),
        Err(e) => Err(e.into()),
    }
}

/// `--check`: 0 when the file is what would be written, 1 with a diff when not.
fn check(cx: &Context, forge: Forge, file: &Path, current: Option<&str>, text: &str) -> ExitCode {
    let fix = format!("run `polyship ci {}` and commit the file", forge.as_str());
    match current {
        Some(current) if current == text => {
            cx.status("Up to date", &file.display().to_string());
            ExitCode::SUCCESS
        }
        Some(current) => {
            let diff = similar::TextDiff::from_lines(current, text);
            let shown = diff
                .unified_diff()
                .context_radius(2)
                .header(
                    &format!("{} (committed)", file.display()),
                    &format!(
                        "{} (written by polyship ci {})",
                        file.display(),
                        forge.as_str()
                    ),
                )
                .to_string();
            eprint!("{shown}");
            crate::render::error_line(
                cx.color,
                &format!(
                    "`{}` is not what `polyship ci {}` writes",
                    file.display(),
                    forge.as_str()
                ),
            );
            eprintln!(
                "help: {fix}; put your own jobs and steps in the overlay file, not in the file itself"
            );
            ExitCode::FAILURE
        }
        None => {
            crate::render::error_line(cx.color, &format!("`{}` does not exist", file.display()));
            eprintln!("help: {fix}");
            ExitCode::FAILURE
        }
    }
}

fn ci_error(e: &CiError) -> anyhow::Error {
    CommandError {
        message: polyship_core::diagnostic::chain(e),
        help: e.help(),
        usage: true,
    }
    .into()
}
