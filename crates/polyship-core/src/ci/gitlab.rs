//! `.gitlab-ci.yml`: a `plan` job whose dotenv report says whether this push releases, a
//! `cells` job with one `parallel: matrix` entry per target (GitLab fixes its matrices when the
//! pipeline is created, so the targets are written here, each with its runner tag), and a
//! `release` job that finishes the pipeline with the cells' artifacts.

use serde_norway::{Mapping, Value};

use super::{CELLS_DIR, Inputs, map, s, seq};
use crate::pipeline::fanout::TargetCells;

/// The runner tag of a target on GitLab's hosted runners.
pub fn default_runner(target: &str) -> Option<&'static str> {
    Some(match target {
        "x86_64-unknown-linux-gnu" | "x86_64-unknown-linux-musl" | "i686-unknown-linux-gnu" => {
            "saas-linux-small-amd64"
        }
        "aarch64-unknown-linux-gnu" | "aarch64-unknown-linux-musl" => "saas-linux-small-arm64",
        "aarch64-apple-darwin" => "saas-macos-medium-m1",
        "x86_64-pc-windows-msvc" | "x86_64-pc-windows-gnu" => "saas-windows-medium-amd64",
        _ => return None,
    })
}

const RUN_CHECK: &str =
    "if [ \"$POLYSHIP_RUN\" != true ]; then echo \"this push releases nothing\"; exit 0; fi";

/// The pipeline file, before the overlay. `runners` are the targets' tags, in `targets` order.
pub fn pipeline(inputs: &Inputs<'_>, targets: &[TargetCells], runners: &[String]) -> Mapping {
    let gitlab = &inputs.config.gitlab;
    let name = &inputs.pipeline.name;
    let rules = || {
        seq(inputs
            .branches
            .iter()
            .map(|b| map([("if", s(format!("$CI_COMMIT_BRANCH == \"{b}\"")))])))
    };
    let mut doc = Mapping::new();
    let mut stages = vec![s("plan")];
    if !targets.is_empty() {
        stages.push(s("cells"));
    }
    stages.push(s("release"));
    doc.insert(s("stages"), seq(stages));
    doc.insert(
        s("variables"),
        map([
            ("POLYSHIP_VERSION", s(inputs.version.clone())),
            (
                "POLYSHIP_DOWNLOAD_URL",
                s(gitlab.download_url.clone().unwrap_or_else(|| {
                    "https://github.com/polyship/polyship/releases/download".into()
                })),
            ),
            ("GIT_DEPTH", s("0")),
        ]),
    );
    doc.insert(
        s("default"),
        map([
            (
                "image",
                s(gitlab.image.clone().unwrap_or_else(|| "rust:1".into())),
            ),
            (
                "before_script",
                seq([
                    s("curl -fsSL \"$POLYSHIP_DOWNLOAD_URL/v$POLYSHIP_VERSION/install.sh\" | sh"),
                    s("export PATH=\"$HOME/.local/bin:$PATH\""),
                ]),
            ),
        ]),
    );
    doc.insert(
        s("plan"),
        map([
            ("stage", s("plan")),
            ("rules", rules()),
            (
                "script",
                seq([
                    s(format!("polyship run {name} --plan --json | tee polyship-plan.json")),
                    s("if grep -q '\"run\": true' polyship-plan.json; then echo POLYSHIP_RUN=true; else echo POLYSHIP_RUN=false; fi > polyship-plan.env"),
                ]),
            ),
            (
                "artifacts",
                map([("reports", map([("dotenv", s("polyship-plan.env"))]))]),
            ),
        ]),
    );
    if !targets.is_empty() {
        doc.insert(s("cells"), cells_job(inputs, targets, runners, rules()));
    }
    let mut needs = vec![s("plan")];
    if !targets.is_empty() {
        needs.push(map([("job", s("cells")), ("artifacts", Value::Bool(true))]));
    }
    let command = if targets.is_empty() {
        format!("polyship run {name}")
    } else {
        format!("polyship run {name} --from-artifacts {CELLS_DIR}")
    };
    doc.insert(
        s("release"),
        map([
            ("stage", s("release")),
            ("needs", seq(needs)),
            ("rules", rules()),
            ("script", seq([s(RUN_CHECK), s(command)])),
        ]),
    );
    doc
}

fn cells_job(
    inputs: &Inputs<'_>,
    targets: &[TargetCells],
    runners: &[String],
    rules: Value,
) -> Value {
    let tools = super::tools(inputs.pipeline, targets);
    let mut script = vec![s(RUN_CHECK)];
    if tools.rust_target {
        script.push(s("rustup target add \"$CELL_TARGET\""));
    }
    if let Some(pip) = tools.pip() {
        script.push(s(pip));
    }
    script.push(s(format!(
        "polyship run {} --target \"$CELL_TARGET\" --to-artifacts {CELLS_DIR}",
        inputs.pipeline.name
    )));
    let matrix = targets.iter().zip(runners).map(|(t, runner)| {
        map([
            ("CELL_TARGET", s(t.target.clone())),
            ("CELL_RUNNER", s(runner.clone())),
        ])
    });
    let partial = targets
        .iter()
        .flat_map(|t| &t.cells)
        .any(|&i| inputs.pipeline.steps[i].partial);
    let mut job = Mapping::new();
    job.insert(s("stage"), s("cells"));
    job.insert(s("needs"), seq([s("plan")]));
    job.insert(s("rules"), rules);
    job.insert(s("tags"), seq([s("$CELL_RUNNER")]));
    job.insert(s("parallel"), map([("matrix", seq(matrix))]));
    job.insert(s("script"), seq(script));
    job.insert(
        s("artifacts"),
        map([
            ("when", s("always")),
            ("paths", seq([s(format!("{CELLS_DIR}/"))])),
        ]),
    );
    if partial {
        // A target that fails leaves the others to release; polyship names it in the run.
        job.insert(s("allow_failure"), Value::Bool(true));
    }
    Value::Mapping(job)
}
