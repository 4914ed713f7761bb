//! `[pipeline.<name>]` tables of `polyship.toml`: what a pipeline declares, as written.
//!
//! Values keep their spans so that [`super::resolve`] can point its errors at their lines.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// One `[pipeline.<name>]`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PipelineConfig {
    /// What the pipeline is for, shown by `polyship run --list`.
    pub description: Option<String>,
    /// Environment for every step; values are templates.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub env: BTreeMap<String, Spanned<String>>,
    /// Environment variables that must be set and non-empty before any step runs. Their values are
    /// masked in everything polyship shows or stores.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub secrets: Vec<Spanned<String>>,
    /// The steps, `[[pipeline.<name>.step]]`, in the order they are written.
    #[serde(default, rename = "step")]
    #[schemars(with = "Vec<StepConfig>")]
    pub steps: Vec<Spanned<StepConfig>>,
}

/// One `[[pipeline.<name>.step]]`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct StepConfig {
    /// Unique within the pipeline; `needs`, `--skip` and `--only` name it.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// A shell command (a template).
    #[schemars(with = "Option<String>")]
    pub run: Option<Spanned<String>>,
    /// A built-in step: `check-clean`, `version`, `publish` (or one of its steps), `build`,
    /// `archive`, `forge-assets`, `image`, `wheel`, `verify` or `notify`.
    #[schemars(with = "Option<String>")]
    pub uses: Option<Spanned<String>>,
    /// The built-in's settings; string values are templates.
    #[schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")]
    pub with: Option<Spanned<toml::Table>>,
    /// Steps or groups that must succeed first.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub needs: Vec<Spanned<String>>,
    /// A group name: `needs` and `--skip` may name the group for all its steps.
    #[schemars(with = "Option<String>")]
    pub group: Option<Spanned<String>>,
    /// Axes of values (`target = ["a", "b"]`), with `include` and `exclude` lists of cells.
    #[schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")]
    pub matrix: Option<Spanned<toml::Table>>,
    /// Environment for this step, over the pipeline's; values are templates.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub env: BTreeMap<String, Spanned<String>>,
    /// Files the step makes (templates, relative to the repository root), checked to exist after it
    /// succeeds.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub outputs: Vec<Spanned<String>>,
    /// The shell that runs `run`, with its arguments; the command is appended. Default
    /// `["sh", "-c"]`... written as one string: `"bash -euo pipefail -c"`.
    #[schemars(with = "Option<String>")]
    pub shell: Option<Spanned<String>>,
    /// The directory the step runs in, relative to the repository root.
    #[schemars(with = "Option<String>")]
    pub working_directory: Option<Spanned<String>>,
    /// Seconds before the step is stopped and fails.
    #[schemars(with = "Option<u64>")]
    pub timeout: Option<Spanned<u64>>,
    /// How many times a failed `run` step is tried again.
    #[serde(default)]
    pub retries: u32,
    /// A matrix step whose cells may fail on their own: the steps that need it run on the cells
    /// that succeeded (at least one must), and the run still ends failed, naming the others.
    #[schemars(with = "Option<bool>")]
    pub partial: Option<Spanned<bool>>,
    /// Run the step in a container.
    #[schemars(with = "Option<ContainerConfig>")]
    pub container: Option<Spanned<ContainerConfig>>,
}

/// `container = { … }`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ContainerConfig {
    /// The image (a template).
    pub image: String,
    /// `auto` (podman, else docker), `podman` or `docker`.
    #[serde(default)]
    pub engine: Engine,
    /// More `host:container[:options]` mounts; the repository is always mounted at its own path.
    #[serde(default)]
    pub volumes: Vec<String>,
    /// `--user` for the engine (`1000:1000`).
    pub user: Option<String>,
}

/// Which container engine runs a step.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Engine {
    #[default]
    Auto,
    Podman,
    Docker,
}
