//! CI workflows written from a pipeline: `polyship ci github` and `polyship ci gitlab`.
//!
//! The workflow fans the pipeline out the way one machine cannot: a `plan` job decides whether
//! this push releases (`run --plan`), one job per target runs that target's matrix cells on the
//! runner it needs (`run --target … --to-artifacts`), and one job finishes the pipeline once with
//! every runner's outputs (`run --from-artifacts`). The file is generated, never edited: the
//! user's own jobs and steps live in an overlay file merged into it, and `--check` tells when the
//! committed file is not what would be written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_norway::{Mapping, Value};

use crate::pipeline::fanout::{self, FanoutError, TargetCells};
use crate::pipeline::{Action, Builtin, Pipeline, quoted_list};

pub mod github;
pub mod gitlab;

/// The forges polyship writes CI files for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forge {
    Github,
    Gitlab,
}

impl Forge {
    pub fn as_str(self) -> &'static str {
        match self {
            Forge::Github => "github",
            Forge::Gitlab => "gitlab",
        }
    }

    /// The default runner of a target on the forge's hosted runners.
    pub fn default_runner(self, target: &str) -> Option<&'static str> {
        match self {
            Forge::Github => github::default_runner(target),
            Forge::Gitlab => gitlab::default_runner(target),
        }
    }

    /// The config key that maps targets to runners.
    pub fn runners_key(self) -> &'static str {
        match self {
            Forge::Github => "[ci.github.runners]",
            Forge::Gitlab => "[ci.gitlab.runners]",
        }
    }
}

/// The runner of each target: the config's mapping, else the forge's default.
pub fn runner<'a>(
    forge: Forge,
    configured: &'a BTreeMap<String, String>,
    target: &str,
) -> Option<&'a str> {
    configured
        .get(target)
        .map(String::as_str)
        .or_else(|| forge.default_runner(target))
}

/// `polyship run <pipeline> --plan --json`: what a CI run of this push does.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub schema: u32,
    pub pipeline: String,
    pub commit: String,
    /// Whether this push releases: HEAD is a release commit, or the pipeline makes none.
    pub run: bool,
    pub reason: String,
    /// The release commit HEAD is or merged.
    pub release_commit: Option<String>,
    /// Its `Polyship-Release` trailer.
    pub fingerprint: Option<String>,
    /// One entry per target: the matrix of the job that runs the cells.
    pub matrix: Vec<MatrixEntry>,
}

/// One target of the plan's matrix.
#[derive(Debug, Clone, Serialize)]
pub struct MatrixEntry {
    pub target: String,
    /// GitHub's `runs-on` label; `None` when no runner is mapped.
    #[serde(rename = "runs-on")]
    pub runs_on: Option<String>,
    /// The cells the job runs.
    pub cells: Vec<String>,
}

/// The plan of a CI run at HEAD.
pub fn plan(
    root: &Path,
    pipeline: &Pipeline,
    commit: &str,
    github_runners: &BTreeMap<String, String>,
) -> Result<Plan, FanoutError> {
    let targets = fanout::targets(pipeline)?;
    let makes_release = has_version_step(pipeline);
    let release = fanout::release_commit(root);
    let (run, reason) = match (&release, makes_release) {
        (Some((id, _)), _) => (
            true,
            format!("`{}` is a release commit", id.get(..12).unwrap_or(id)),
        ),
        (None, false) => (
            true,
            format!(
                "pipeline `{}` has no `version` step: every push runs it",
                pipeline.name
            ),
        ),
        (None, true) => (
            false,
            format!(
                "HEAD is not a release commit (no `{}` trailer): merge the release pull request to release",
                crate::apply::commit::TRAILER
            ),
        ),
    };
    Ok(Plan {
        schema: 1,
        pipeline: pipeline.name.clone(),
        commit: commit.to_owned(),
        run,
        reason,
        release_commit: release.as_ref().map(|(id, _)| id.clone()),
        fingerprint: release.map(|(_, fp)| fp),
        matrix: targets
            .iter()
            .map(|t| MatrixEntry {
                target: t.target.clone(),
                runs_on: runner(Forge::Github, github_runners, &t.target).map(str::to_owned),
                cells: t
                    .cells
                    .iter()
                    .map(|&i| pipeline.steps[i].name.clone())
                    .collect(),
            })
            .collect(),
    })
}

/// Whether the pipeline makes the release commit itself.
pub fn has_version_step(pipeline: &Pipeline) -> bool {
    pipeline
        .steps
        .iter()
        .any(|s| matches!(s.action, Action::Builtin(Builtin::Version(_))))
}

/// What a generated file is made from.
#[derive(Debug)]
pub struct Inputs<'a> {
    pub pipeline: &'a Pipeline,
    pub config: &'a crate::config::CiConfig,
    /// The branches whose pushes run it.
    pub branches: Vec<String>,
    /// The polyship version the jobs install.
    pub version: String,
    /// The overlay's path and text, when there is one.
    pub overlay: Option<(PathBuf, String)>,
}

/// Why a CI file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum CiError {
    #[error(transparent)]
    Fanout(#[from] FanoutError),
    #[error("no {forge} runner is mapped for {}", quoted_list(.targets))]
    NoRunner {
        forge: &'static str,
        key: &'static str,
        targets: Vec<String>,
    },
    #[error("`{}` is not a YAML mapping polyship can merge", .path.display())]
    Overlay {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
}

impl CiError {
    pub fn help(&self) -> Option<String> {
        match self {
            CiError::Fanout(e) => e.help(),
            CiError::NoRunner { key, targets, .. } => Some(format!(
                "set the runner of each target in polyship.toml: `{key}` with `\"{}\" = \"<runner>\"`",
                targets[0]
            )),
            CiError::Overlay { line, message, .. } => Some(match line {
                Some(line) => format!("line {line}: {message}"),
                None => message.clone(),
            }),
        }
    }
}

/// The runner of each target, or the error naming those without one.
fn runners(
    forge: Forge,
    configured: &BTreeMap<String, String>,
    targets: &[TargetCells],
) -> Result<Vec<String>, CiError> {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for t in targets {
        match runner(forge, configured, &t.target) {
            Some(r) => found.push(r.to_owned()),
            None => missing.push(t.target.clone()),
        }
    }
    if missing.is_empty() {
        Ok(found)
    } else {
        Err(CiError::NoRunner {
            forge: forge.as_str(),
            key: forge.runners_key(),
            targets: missing,
        })
    }
}

/// The file `forge`'s command writes: the generated document with the overlay merged in.
pub fn generate(forge: Forge, inputs: &Inputs<'_>) -> Result<String, CiError> {
    let targets = fanout::targets(inputs.pipeline)?;
    let mut doc = match forge {
        Forge::Github => {
            runners(forge, &inputs.config.github.runners, &targets)?;
            github::workflow(inputs, &targets)
        }
        Forge::Gitlab => {
            let runners = runners(forge, &inputs.config.gitlab.runners, &targets)?;
            gitlab::pipeline(inputs, &targets, &runners)
        }
    };
    if let Some((path, text)) = &inputs.overlay {
        let overlay = parse_overlay(path, text)?;
        merge(&mut doc, overlay, forge);
    }
    let body = serde_norway::to_string(&doc).unwrap_or_default();
    Ok(format!("{}{body}", header(forge, inputs)))
}

fn header(forge: Forge, inputs: &Inputs<'_>) -> String {
    let overlay = match &inputs.overlay {
        Some((path, _)) => format!("# with `{}` merged in.\n", path.display()),
        None => String::new(),
    };
    format!(
        "# Written by `polyship ci {f}` from pipeline `{p}` of polyship.toml{dot}\n{overlay}# Do not edit it: put your own jobs and steps in the overlay file (see polyship's docs/ci.md),\n# then run `polyship ci {f}` again. `polyship ci {f} --check` fails when this file is out of date.\n",
        f = forge.as_str(),
        p = inputs.pipeline.name,
        dot = if inputs.overlay.is_some() { "," } else { "." },
    )
}

fn parse_overlay(path: &Path, text: &str) -> Result<Mapping, CiError> {
    match serde_norway::from_str::<Value>(text) {
        Ok(Value::Mapping(m)) => Ok(m),
        Ok(Value::Null) => Ok(Mapping::new()),
        Ok(_) => Err(CiError::Overlay {
            path: path.to_owned(),
            line: None,
            message: "the overlay must be a mapping, shaped like the file it is merged into".into(),
        }),
        Err(e) => Err(CiError::Overlay {
            path: path.to_owned(),
            line: e.location().map(|l| l.line()),
            message: e.to_string(),
        }),
    }
}

/// Merges `overlay` into `doc`: mappings key by key, the overlay's scalars and lists replacing
/// the generated ones, `null` removing a key. In a job, `steps` are added after the generated
/// steps and `pre-steps` just before the step that runs polyship (`id: polyship`).
pub fn merge(doc: &mut Mapping, overlay: Mapping, forge: Forge) {
    let level = match forge {
        Forge::Github => Level::Workflow,
        // A GitLab file's top-level mappings are its jobs (and a few settings merged alike).
        Forge::Gitlab => Level::Jobs,
    };
    merge_maps(doc, overlay, level);
}

/// What the mappings inside a mapping are, for how they merge.
#[derive(Clone, Copy)]
enum Level {
    /// Plain mappings, merged key by key.
    Plain,
    /// A GitHub workflow: `jobs` holds jobs, everything else is plain.
    Workflow,
    /// Jobs, merged with [`merge_job`].
    Jobs,
}

fn merge_maps(ours: &mut Mapping, theirs: Mapping, level: Level) {
    for (key, value) in theirs {
        match (ours.get_mut(&key), value) {
            (_, Value::Null) => {
                ours.shift_remove(&key);
            }
            (Some(Value::Mapping(a)), Value::Mapping(b)) => match level {
                Level::Jobs => merge_job(a, b),
                Level::Workflow if key.as_str() == Some("jobs") => merge_maps(a, b, Level::Jobs),
                Level::Plain | Level::Workflow => merge_maps(a, b, Level::Plain),
            },
            (_, value) => {
                ours.insert(key, value);
            }
        }
    }
}

/// A job: `steps` (GitHub) or `script` (GitLab) appended, `pre-steps` / `pre-script` inserted
/// before polyship runs, everything else merged.
fn merge_job(ours: &mut Mapping, mut theirs: Mapping) {
    for (list, pre) in [("steps", "pre-steps"), ("script", "pre-script")] {
        let before = theirs.shift_remove(pre);
        let after = theirs.shift_remove(list);
        let Some(Value::Sequence(items)) = ours.get_mut(list) else {
            if let Some(after) = after {
                ours.insert(Value::from(list), after);
            }
            continue;
        };
        if let Some(Value::Sequence(extra)) = after {
            items.extend(extra);
        }
        if let Some(Value::Sequence(extra)) = before {
            let at = items.iter().position(runs_polyship).unwrap_or(items.len());
            items.splice(at..at, extra);
        }
    }
    merge_maps(ours, theirs, Level::Plain);
}

/// A GitHub step with `id: polyship`, or a GitLab script line that runs polyship's pipeline.
fn runs_polyship(item: &Value) -> bool {
    match item {
        Value::Mapping(m) => m.get("id").and_then(Value::as_str) == Some("polyship"),
        Value::String(s) => s.starts_with("polyship run "),
        _ => false,
    }
}

/// A YAML mapping from pairs, in order.
pub(crate) fn map<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    let mut m = Mapping::new();
    for (k, v) in pairs {
        m.insert(Value::from(k), v);
    }
    Value::Mapping(m)
}

pub(crate) fn seq<I: IntoIterator<Item = Value>>(items: I) -> Value {
    Value::Sequence(items.into_iter().collect())
}

pub(crate) fn s(text: impl Into<String>) -> Value {
    Value::String(text.into())
}

/// What the cells of a target need installed beyond the forge's image: `rustup` targets for
/// cargo builds, maturin for wheels, cargo-zigbuild for zig builds.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Tools {
    pub rust_target: bool,
    pub maturin: bool,
    pub zigbuild: bool,
}

impl Tools {
    /// The Python packages to install with pip, if any.
    pub fn pip(self) -> Option<String> {
        let mut pip = Vec::new();
        if self.maturin {
            pip.push("maturin");
        }
        if self.zigbuild {
            pip.extend(["cargo-zigbuild", "ziglang"]);
        }
        (!pip.is_empty()).then(|| format!("python3 -m pip install {}", pip.join(" ")))
    }
}

pub(crate) fn tools(pipeline: &Pipeline, targets: &[TargetCells]) -> Tools {
    use crate::artifacts::build::Builder;
    let mut tools = Tools::default();
    for t in targets {
        for &i in &t.cells {
            match &pipeline.steps[i].action {
                Action::Builtin(Builtin::Build { builder, .. }) => match builder {
                    Some(Builder::Cargo) => tools.rust_target = true,
                    Some(Builder::Zigbuild) => {
                        tools.rust_target = true;
                        tools.zigbuild = true;
                    }
                    Some(Builder::Cross | Builder::Container) | None => {}
                },
                Action::Builtin(Builtin::Artifacts(args)) if args.iter().any(|a| a == "wheel") => {
                    tools.rust_target = true;
                    tools.maturin = true;
                }
                _ => {}
            }
        }
    }
    tools
}

/// The secret variables the finishing job passes on: the pipeline's `secrets`.
pub(crate) fn secrets(pipeline: &Pipeline) -> Vec<String> {
    let mut names = pipeline.secrets.clone();
    names.sort();
    names.dedup();
    names
}

/// The directory the runners' outputs travel in.
pub const CELLS_DIR: &str = "polyship-cells";

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Mapping {
        match serde_norway::from_str(text).unwrap() {
            Value::Mapping(m) => m,
            _ => panic!("not a mapping"),
        }
    }

    #[test]
    fn an_overlay_adds_jobs_and_steps_and_removes_keys() {
        let mut doc = yaml(
            "on: {push: {branches: [main]}}\npermissions: {contents: write}\njobs:\n  release:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - id: polyship\n        run: polyship run release\n",
        );
        let overlay = yaml(
            "permissions: {id-token: write}\njobs:\n  release:\n    timeout-minutes: 30\n    pre-steps:\n      - run: echo before\n    steps:\n      - run: echo after\n  lint:\n    runs-on: ubuntu-latest\n    steps: [{run: make lint}]\non: {workflow_dispatch: null}\n",
        );
        merge(&mut doc, overlay, Forge::Github);
        let out = serde_norway::to_string(&doc).unwrap();
        let expected = yaml(
            "on: {push: {branches: [main]}}\npermissions: {contents: write, id-token: write}\njobs:\n  release:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - run: echo before\n      - id: polyship\n        run: polyship run release\n      - run: echo after\n    timeout-minutes: 30\n  lint:\n    runs-on: ubuntu-latest\n    steps: [{run: make lint}]\n",
        );
        assert_eq!(doc, expected, "{out}");
        let mut doc = yaml("a: 1\nb: {c: 2}\n");
        merge(
            &mut doc,
            yaml("a: null\nb: {c: null, d: [1]}\n"),
            Forge::Github,
        );
        assert_eq!(doc, yaml("b: {d: [1]}\n"));
    }

    #[test]
    fn a_gitlab_overlay_extends_scripts() {
        let mut doc = yaml(
            "release:\n  script:\n    - echo one\n    - polyship run release --from-artifacts polyship-cells\n",
        );
        merge(
            &mut doc,
            yaml(
                "release:\n  pre-script: [apt-get install -y jq]\n  script: [echo done]\n  tags: [big]\n",
            ),
            Forge::Gitlab,
        );
        assert_eq!(
            doc,
            yaml(
                "release:\n  script:\n    - echo one\n    - apt-get install -y jq\n    - polyship run release --from-artifacts polyship-cells\n    - echo done\n  tags: [big]\n"
            )
        );
    }
}
