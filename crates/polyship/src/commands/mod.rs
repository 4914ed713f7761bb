//! One module per command; each is a clap `Args` and a `run` that calls into `polyship-core`.

pub mod init;
pub mod list;

use polyship_core::workspace::Discovery;

use crate::context::Context;

/// Discovers the workspace and shows its warnings.
pub fn discover(cx: &Context) -> anyhow::Result<Discovery> {
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
    Ok(discovery)
}
