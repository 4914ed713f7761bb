//! `.github/workflows/release.yml`: a `plan` job, a `release-pr` job for pushes that do not
//! release, one matrix job whose cells are the pipeline's targets (the matrix comes from the plan,
//! so a target added to polyship.toml needs no new workflow), and a `release` job that finishes
//! the pipeline with what every runner uploaded.

use serde_norway::{Mapping, Value};

use super::{CELLS_DIR, Inputs, map, s, seq};
use crate::pipeline::fanout::TargetCells;

/// The `runs-on` label of a target on GitHub's hosted runners.
pub fn default_runner(target: &str) -> Option<&'static str> {
    Some(match target {
        "x86_64-unknown-linux-gnu" | "x86_64-unknown-linux-musl" | "i686-unknown-linux-gnu" => {
            "ubuntu-latest"
        }
        "aarch64-unknown-linux-gnu" | "aarch64-unknown-linux-musl" => "ubuntu-24.04-arm",
        "x86_64-apple-darwin" => "macos-15-intel",
        "aarch64-apple-darwin" => "macos-latest",
        "x86_64-pc-windows-msvc" | "x86_64-pc-windows-gnu" | "i686-pc-windows-msvc" => {
            "windows-latest"
        }
        "aarch64-pc-windows-msvc" => "windows-11-arm",
        _ => return None,
    })
}

/// The workflow, before the overlay. Every target's runner is known to be mapped: the matrix
/// itself comes from `run --plan` at run time.
pub fn workflow(inputs: &Inputs<'_>, targets: &[TargetCells]) -> Mapping {
    let github = &inputs.config.github;
    let pipeline = &inputs.pipeline.name;
    let release_pr = github
        .release_pr
        .unwrap_or_else(|| super::has_version_step(inputs.pipeline));
    let mut permissions = vec![("contents", s("write"))];
    if release_pr {
        permissions.push(("pull-requests", s("write")));
    }
    let mut jobs = Mapping::new();
    jobs.insert(s("plan"), plan_job(inputs));
    if release_pr {
        jobs.insert(s("release-pr"), release_pr_job(inputs));
    }
    if !targets.is_empty() {
        jobs.insert(s("cells"), cells_job(inputs, targets));
    }
    jobs.insert(s("release"), release_job(inputs, !targets.is_empty()));
    let mut doc = Mapping::new();
    doc.insert(s("name"), s(pipeline.clone()));
    doc.insert(
        s("on"),
        map([
            (
                "push",
                map([(
                    "branches",
                    seq(inputs.branches.iter().map(|b| s(b.clone()))),
                )]),
            ),
            ("workflow_dispatch", Value::Mapping(Mapping::new())),
        ]),
    );
    let mut perms = Mapping::new();
    for (k, v) in permissions {
        perms.insert(s(k), v);
    }
    doc.insert(s("permissions"), Value::Mapping(perms));
    doc.insert(
        s("concurrency"),
        map([
            (
                "group",
                s("polyship-${{ github.workflow }}-${{ github.ref }}"),
            ),
            ("cancel-in-progress", Value::Bool(false)),
        ]),
    );
    doc.insert(s("jobs"), Value::Mapping(jobs));
    doc
}

fn runs_on(inputs: &Inputs<'_>) -> Value {
    s(inputs
        .config
        .github
        .runs_on
        .clone()
        .unwrap_or_else(|| "ubuntu-latest".into()))
}

/// Checkout with the whole history and tags (plans read them), then polyship.
fn setup(inputs: &Inputs<'_>) -> Vec<Value> {
    let action = inputs
        .config
        .github
        .action
        .clone()
        .unwrap_or_else(|| "polyship/polyship@v{version}".into())
        .replace("{version}", &inputs.version);
    vec![
        map([
            ("uses", s("actions/checkout@v4")),
            ("with", map([("fetch-depth", Value::from(0))])),
        ]),
        map([
            ("name", s("Install polyship")),
            ("uses", s(action)),
            (
                "with",
                map([("version", s(inputs.version.clone())), ("command", s(""))]),
            ),
        ]),
    ]
}

fn token(inputs: &Inputs<'_>) -> Value {
    let name = inputs
        .config
        .github
        .token
        .clone()
        .unwrap_or_else(|| "GITHUB_TOKEN".into());
    s(format!("${{{{ secrets.{name} }}}}"))
}

fn plan_job(inputs: &Inputs<'_>) -> Value {
    let mut steps = setup(inputs);
    steps.push(map([
        ("name", s("Plan")),
        ("id", s("polyship")),
        ("shell", s("bash")),
        (
            "run",
            s(format!(
                "set -euo pipefail\nplan=\"$(polyship run {} --plan --json)\"\necho \"$plan\"\n{{\n  echo \"run=$(jq -r .run <<<\"$plan\")\"\n  echo \"matrix=$(jq -c '[.matrix[] | {{target, \"runs-on\"}}]' <<<\"$plan\")\"\n}} >> \"$GITHUB_OUTPUT\"\n",
                inputs.pipeline.name
            )),
        ),
    ]));
    map([
        ("runs-on", runs_on(inputs)),
        (
            "outputs",
            map([
                ("run", s("${{ steps.polyship.outputs.run }}")),
                ("matrix", s("${{ steps.polyship.outputs.matrix }}")),
            ]),
        ),
        ("steps", seq(steps)),
    ])
}

fn release_pr_job(inputs: &Inputs<'_>) -> Value {
    let mut steps = setup(inputs);
    steps.push(map([
        ("name", s("The release commit's author")),
        ("shell", s("bash")),
        (
            "run",
            s("git config user.name 'github-actions[bot]'\ngit config user.email '41898282+github-actions[bot]@users.noreply.github.com'\n"),
        ),
    ]));
    steps.push(map([
        ("name", s("Release pull request")),
        ("id", s("polyship")),
        ("shell", s("bash")),
        ("run", s("polyship release-pr")),
        ("env", map([("GITHUB_TOKEN", token(inputs))])),
    ]));
    map([
        ("needs", s("plan")),
        ("if", s("needs.plan.outputs.run != 'true'")),
        ("runs-on", runs_on(inputs)),
        ("steps", seq(steps)),
    ])
}

fn cells_job(inputs: &Inputs<'_>, targets: &[TargetCells]) -> Value {
    let tools = super::tools(inputs.pipeline, targets);
    let target_env = || map([("TARGET", s("${{ matrix.target }}"))]);
    let mut steps = setup(inputs);
    if tools.rust_target {
        steps.push(map([
            ("name", s("Add the Rust target")),
            ("shell", s("bash")),
            ("run", s("rustup target add \"$TARGET\"")),
            ("env", target_env()),
        ]));
    }
    // A musl target links with musl's C compiler: crates with C in them (ring) need it.
    if targets.iter().any(|t| t.target.ends_with("-musl")) {
        steps.push(map([
            ("name", s("Add musl's C compiler")),
            ("if", s("${{ endsWith(matrix.target, '-musl') }}")),
            ("shell", s("bash")),
            (
                "run",
                s("sudo apt-get update -qq && sudo apt-get install -y -qq musl-tools"),
            ),
        ]));
    }
    if let Some(pip) = tools.pip() {
        steps.push(map([
            ("name", s("Build tools")),
            ("shell", s("bash")),
            ("run", s(pip)),
        ]));
    }
    steps.push(map([
        ("name", s("Run the cells of ${{ matrix.target }}")),
        ("id", s("polyship")),
        ("shell", s("bash")),
        (
            "run",
            s(format!(
                "polyship run {} --target \"$TARGET\" --to-artifacts {CELLS_DIR}",
                inputs.pipeline.name
            )),
        ),
        ("env", target_env()),
    ]));
    steps.push(map([
        ("name", s("Upload what the cells made")),
        ("if", s("${{ !cancelled() }}")),
        ("uses", s("actions/upload-artifact@v4")),
        (
            "with",
            map([
                ("name", s(format!("{CELLS_DIR}-${{{{ matrix.target }}}}"))),
                ("path", s(CELLS_DIR)),
                ("if-no-files-found", s("ignore")),
                ("include-hidden-files", Value::Bool(true)),
            ]),
        ),
    ]));
    map([
        ("name", s("${{ matrix.target }}")),
        ("needs", s("plan")),
        ("if", s("needs.plan.outputs.run == 'true'")),
        (
            "strategy",
            map([
                ("fail-fast", Value::Bool(false)),
                (
                    "matrix",
                    map([("include", s("${{ fromJSON(needs.plan.outputs.matrix) }}"))]),
                ),
            ]),
        ),
        ("runs-on", s("${{ matrix.runs-on }}")),
        ("steps", seq(steps)),
    ])
}

fn release_job(inputs: &Inputs<'_>, cells: bool) -> Value {
    let mut steps = setup(inputs);
    let command = if cells {
        steps.push(map([
            ("name", s("Download what the runners made")),
            ("uses", s("actions/download-artifact@v4")),
            (
                "with",
                map([
                    ("pattern", s(format!("{CELLS_DIR}-*"))),
                    ("path", s(CELLS_DIR)),
                    ("merge-multiple", Value::Bool(true)),
                ]),
            ),
        ]));
        format!(
            "polyship run {} --from-artifacts {CELLS_DIR}",
            inputs.pipeline.name
        )
    } else {
        format!("polyship run {}", inputs.pipeline.name)
    };
    let mut env = Mapping::new();
    env.insert(s("GITHUB_TOKEN"), token(inputs));
    for name in super::secrets(inputs.pipeline) {
        if name != "GITHUB_TOKEN" {
            env.insert(s(name.clone()), s(format!("${{{{ secrets.{name} }}}}")));
        }
    }
    steps.push(map([
        (
            "name",
            s(format!("Finish pipeline {}", inputs.pipeline.name)),
        ),
        ("id", s("polyship")),
        ("shell", s("bash")),
        ("run", s(command)),
        ("env", Value::Mapping(env)),
    ]));
    let (needs, condition) = if cells {
        (
            seq([s("plan"), s("cells")]),
            "${{ !cancelled() && needs.plan.outputs.run == 'true' }}",
        )
    } else {
        (s("plan"), "needs.plan.outputs.run == 'true'")
    };
    map([
        ("needs", needs),
        ("if", s(condition)),
        ("runs-on", runs_on(inputs)),
        ("steps", seq(steps)),
    ])
}
