//! `polyship config schema`: the JSON Schema of `polyship.toml`, for editors that validate TOML
//! (taplo, Even Better TOML) and for CI.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Print the JSON Schema of polyship.toml, made from the types polyship reads it into
    #[command(
        after_help = "Editors that read `#:schema` (taplo, Even Better TOML) validate a \
        polyship.toml that starts with:\n  #:schema https://raw.githubusercontent.com/polyship/polyship/main/docs/polyship.schema.json"
    )]
    Schema,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Sub::Schema => {
            let schema = polyship_core::config::json_schema();
            let mut text = serde_json::to_string_pretty(&schema)?;
            text.push('\n');
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .context("failed to write the schema")?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
