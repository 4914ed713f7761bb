//! Conformance: in a repository that releases with lerna, `polyship version` must version exactly
//! as `lerna version --conventional-commits` (lerna 8) does.
//!
//! Each test writes one npm monorepo with a `lerna.json` and a history — Conventional Commits of
//! every type, a change no commit type asks for, reverts, tags lerna made (annotated, as lerna
//! makes them) — twice, as two real git repositories. The real lerna versions one copy
//! (`--no-git-tag-version --no-push --yes`), the real polyship the other (`version --no-commit`),
//! with no `polyship.toml`. The copies must then agree on every package's `version`, every
//! requirement in `dependencies`, `devDependencies`, `peerDependencies` and `optionalDependencies`,
//! and `lerna.json`'s `version`. Changelogs are not compared.
//!
//! lerna is the oracle: no expected version is written by hand. It is installed once with npm into
//! the test tools directory (pinned, see [`lerna_bin`]); when that fails the tests fail.

#![allow(clippy::unwrap_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{Value, json};
use support::Repo;

/// The lerna executable, installed on first use. lerna 8 is the newest major that runs on Node 20.
fn lerna_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| support::npm_tool("lerna@8.2.4", "lerna"))
}

/// One step of a fixture's history.
enum Step {
    /// Write a file (relative to the root).
    Write(String, String),
    /// Commit everything with this message.
    Commit(String),
    /// An annotated tag at HEAD, as lerna makes them.
    Tag(String),
    /// `git revert --no-edit HEAD~<n>`: git's own revert message.
    Revert(usize),
}

struct Fixture {
    steps: Vec<Step>,
}

impl Fixture {
    /// A root `package.json` with `workspaces: ["packages/*"]` and `lerna` set as `lerna.json`.
    fn new(lerna: &Value) -> Self {
        Self { steps: Vec::new() }
            .write(
                "package.json",
                &pretty(&json!({"name": "root", "private": true, "workspaces": ["packages/*"]})),
            )
            .write("lerna.json", &pretty(lerna))
    }

    fn write(mut self, path: &str, contents: &str) -> Self {
        self.steps.push(Step::Write(path.into(), contents.into()));
        self
    }

    /// `packages/<name without scope>/package.json`.
    fn package(self, manifest: &Value) -> Self {
        let name = manifest["name"].as_str().unwrap();
        let dir = name.rsplit('/').next().unwrap();
        self.write(&format!("packages/{dir}/package.json"), &pretty(manifest))
    }

    /// Changes a file of a package and commits it with `message`.
    fn change(self, package: &str, message: &str) -> Self {
        let n = self.steps.len();
        self.write(
            &format!("packages/{package}/src/{n}.js"),
            &format!("// {message}\n"),
        )
        .commit(message)
    }

    fn commit(mut self, message: &str) -> Self {
        self.steps.push(Step::Commit(message.into()));
        self
    }

    fn tag(mut self, name: &str) -> Self {
        self.steps.push(Step::Tag(name.into()));
        self
    }

    fn revert(mut self, back: usize) -> Self {
        self.steps.push(Step::Revert(back));
        self
    }

    fn build(&self) -> Repo {
        let repo = Repo::new();
        for step in &self.steps {
            match step {
                Step::Write(path, contents) => repo.write(path, contents),
                Step::Commit(message) => {
                    repo.git(&["add", "-A"]);
                    repo.git(&["commit", "-q", "--allow-empty", "-m", message]);
                }
                Step::Tag(name) => {
                    repo.git(&["tag", "-a", name, "-m", name]);
                }
                Step::Revert(back) => {
                    repo.git(&["revert", "--no-edit", &format!("HEAD~{back}")]);
                }
            }
        }
        repo
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap() + "\n"
}

/// What both tools must agree on: `path → (version, every requirement)`, and lerna.json's version.
fn outcome(repo: &Repo) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut manifests: Vec<String> = repo
        .git(&["ls-files", "packages"])
        .lines()
        .filter(|l| l.ends_with("package.json"))
        .map(str::to_owned)
        .collect();
    manifests.sort();
    for path in manifests {
        let doc: Value = serde_json::from_str(&repo.read(&path)).unwrap();
        let mut kept = json!({"version": doc["version"]});
        for field in [
            "dependencies",
            "devDependencies",
            "peerDependencies",
            "optionalDependencies",
        ] {
            if !doc[field].is_null() {
                kept[field] = doc[field].clone();
            }
        }
        out.push((path, kept));
    }
    let lerna: Value = serde_json::from_str(&repo.read("lerna.json")).unwrap();
    out.push(("lerna.json".into(), lerna["version"].clone()));
    out
}

/// Builds the fixture twice, versions one copy with lerna and one with polyship, and compares.
fn conforms(fixture: &Fixture) {
    let (oracle, subject) = (fixture.build(), fixture.build());
    let before = outcome(&oracle);
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join(".gitconfig"),
        "[user]\n\tname = Test\n\temail = test@example.com\n",
    )
    .unwrap();
    let out = Command::new(lerna_bin())
        .args([
            "version",
            "--conventional-commits",
            "--no-git-tag-version",
            "--no-push",
            "--yes",
            "--no-changelog",
        ])
        .current_dir(oracle.path())
        .env("HOME", home.path())
        .env("GIT_CONFIG_GLOBAL", home.path().join(".gitconfig"))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("NX_DAEMON", "false")
        .env("NX_NO_CLOUD", "true")
        .env("NX_SKIP_NX_CACHE", "true")
        .env("CI", "true")
        .env("npm_config_update_notifier", "false")
        .output()
        .expect("run lerna");
    let lerna_log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "lerna version failed:\n{lerna_log}");
    let ours = subject.run(&["version", "--no-commit"]);
    assert_eq!(ours.code, 0, "polyship version failed:\n{}", ours.stderr);
    let (expected, actual) = (outcome(&oracle), outcome(&subject));
    assert_ne!(
        before, expected,
        "the fixture releases nothing with lerna, so it tests nothing:\n{lerna_log}"
    );
    for ((path, want), (_, got)) in expected.iter().zip(&actual) {
        assert_eq!(
            want, got,
            "`{path}` differs from what lerna wrote\n--- lerna\n{lerna_log}\n--- polyship\n{}",
            ours.stderr
        );
    }
}

/// Five packages: `b` depends on `a`, `c` dev-depends on `b`, `e` is private and depends on `a`,
/// `d` stands alone.
fn five(lerna: &Value, version: &str) -> Fixture {
    let req = format!("^{version}");
    Fixture::new(lerna)
        .package(&json!({"name": "@fx/a", "version": version}))
        .package(&json!({"name": "@fx/b", "version": version, "dependencies": {"@fx/a": req}}))
        .package(&json!({"name": "@fx/c", "version": version, "devDependencies": {"@fx/b": req}}))
        .package(&json!({"name": "@fx/d", "version": version}))
        .package(
            &json!({"name": "@fx/e", "version": version, "private": true, "dependencies": {"@fx/a": req}}),
        )
        .commit("chore: initial")
}

fn fixed(version: &str) -> Fixture {
    five(
        &json!({"version": version, "packages": ["packages/*"]}),
        version,
    )
    .tag(&format!("v{version}"))
}

fn independent() -> Fixture {
    let mut f = five(
        &json!({"version": "independent", "packages": ["packages/*"]}),
        "1.0.0",
    );
    for p in ["a", "b", "c", "d", "e"] {
        f = f.tag(&format!("@fx/{p}@1.0.0"));
    }
    f
}

#[test]
fn fixed_mode_releases_changed_packages_and_their_dependents_at_one_version() {
    // `a` changes with a fix: `b` (depends on it), `c` (dev-depends on `b`) and the private `e`
    // follow; `d` keeps 1.0.0.
    conforms(&fixed("1.0.0").change("a", "fix(a): off by one"));
}

#[test]
fn fixed_mode_takes_the_largest_bump_of_the_changed_packages() {
    conforms(
        &fixed("1.2.0")
            .change("a", "fix(a): off by one")
            .change("d", "feat(d): new option")
            .change("a", "docs(a): typo"),
    );
}

#[test]
fn fixed_mode_a_major_releases_every_package() {
    conforms(&fixed("1.0.0").change("d", "feat(d): drop old api\n\nBREAKING CHANGE: gone"));
}

#[test]
fn fixed_mode_below_one_a_minor_releases_every_package() {
    // lerna: 0.x minor is breaking (`isBreakingChange`), and a breaking change below 1.0.0 is a
    // minor.
    conforms(&fixed("0.3.0").change("d", "feat(d): more"));
}

#[test]
fn a_change_that_no_commit_type_asks_for_still_releases_a_patch() {
    conforms(
        &fixed("1.0.0")
            .change("d", "update the readme")
            .change("d", "chore: tidy"),
    );
}

#[test]
fn the_angular_preset_reads_bang_headers_as_no_type() {
    // lerna's default preset has no `!`: `feat!:` is a change without a type, so a patch.
    conforms(&fixed("1.0.0").change("d", "feat!: breaking by bang"));
}

#[test]
fn ignore_changes_leaves_out_packages_changed_only_in_ignored_files() {
    let lerna = json!({
        "version": "1.0.0",
        "packages": ["packages/*"],
        "command": {"version": {"ignoreChanges": ["**/*.md"]}}
    });
    conforms(
        &five(&lerna, "1.0.0")
            .tag("v1.0.0")
            .write("packages/d/README.md", "# d\n")
            .commit("feat(d): document d")
            .change("a", "fix(a): x"),
    );
}

#[test]
fn a_reverted_feature_does_not_count() {
    conforms(
        &fixed("1.0.0")
            .change("a", "fix(a): keep")
            .change("a", "feat(a): something")
            .revert(0),
    );
}

#[test]
fn releases_after_an_earlier_release_start_from_its_tag() {
    // A first release (lerna's own commit and tag), then new changes: only they count.
    conforms(
        &fixed("1.0.0")
            .change("d", "feat(d): before")
            .write(
                "lerna.json",
                &pretty(&json!({"version": "1.1.0", "packages": ["packages/*"]})),
            )
            .package(&json!({"name": "@fx/d", "version": "1.1.0"}))
            .commit("v1.1.0")
            .tag("v1.1.0")
            .change("b", "fix(b): after"),
    );
}

#[test]
fn exact_pins_dependents_to_the_new_version() {
    let lerna = json!({"version": "1.0.0", "packages": ["packages/*"], "exact": true});
    conforms(
        &five(&lerna, "1.0.0")
            .tag("v1.0.0")
            .change("a", "feat(a): x"),
    );
}

#[test]
fn independent_mode_versions_each_package_from_its_own_commits() {
    conforms(
        &independent()
            .change("a", "feat(a): new")
            .change("d", "fix(d): x")
            .change("d", "chore(d): y"),
    );
}

#[test]
fn independent_mode_dependents_take_a_patch() {
    conforms(&independent().change("a", "feat(a): new\n\nBREAKING CHANGE: api"));
}
