//! One module per command; each is a clap `Args` and a `run` that calls into `polyship-core`.

pub mod add;
pub mod init;
pub mod lint_commits;
pub mod list;
pub mod plan;
pub mod publish;
pub mod status;
pub mod version;

use polyship_core::config::LoadedConfig;
use polyship_core::workspace::Discovery;

use crate::context::Context;

/// A discovered workspace with the configuration it was read with.
pub struct Discovered {
    pub config: LoadedConfig,
    pub workspace: polyship_core::workspace::Workspace,
}

/// Discovers the workspace and shows its warnings.
pub fn discover(cx: &Context) -> anyhow::Result<Discovered> {
    let (config, discovery) = polyship_core::workspace::open(&cx.root)?;
    if config.present {
        cx.debug(&format!("read {}", polyship_core::config::FILE_NAME));
    }
    for warning in &discovery.warnings {
        cx.warn(warning);
    }
    cx.debug(&format!(
        "discovered {} packages",
        discovery.workspace.packages.len()
    ));
    let Discovery { workspace, .. } = discovery;
    Ok(Discovered { config, workspace })
}
