//! Conformance: `polyship version` must version npm monorepos exactly as changesets'
//! `changeset version` (`@changesets/cli` 2, and 3 for its own layout) does.
//!
//! Each test builds one small npm monorepo (root `package.json` with `workspaces`,
//! `packages/*/package.json`, `.changeset/config.json` and changeset files in changesets' own
//! format) twice, as two real git repositories. The real changesets CLI versions one copy, the real
//! polyship binary the other, and the copies must then agree on: every package's `version`, every
//! internal dependency range in `dependencies`, `devDependencies`, `peerDependencies` and
//! `optionalDependencies`, which `.changeset/*.md` files remain, `.changeset/pre.json` (parsed),
//! and every package's `CHANGELOG.md`, byte for byte (changesets' format, as its bundled prettier
//! leaves it).
//!
//! changesets is the oracle, so no expected version is written by hand; the comments in each test
//! say what changesets does there (checked against `@changesets/cli` 2.31), to explain why the
//! fixture is shaped as it is. The CLI is installed once with npm into a cache directory (see
//! [`changeset_bin`]); when that fails the tests fail, they never skip.

#![allow(clippy::unwrap_used)] // a failed unwrap in a test helper is a failed test

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{Value, json};
use support::Repo;

// ---------------------------------------------------------------------------------------------
// The changesets CLI

/// The `changeset` executable, installed on first use (see [`support::npm_tool`]).
fn changeset_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| support::npm_tool("@changesets/cli@2.31.1", "changeset"))
}

// ---------------------------------------------------------------------------------------------
// Fixtures

/// The files of one monorepo, written identically into both copies.
struct Fixture {
    files: Vec<(String, String)>,
}

impl Fixture {
    /// A root `package.json` with `workspaces: ["packages/*"]` and the `.changeset/config.json` that
    /// `changeset init` writes, with `commit: false` and the keys of `config` replacing its own.
    fn new(config: &Value) -> Self {
        let mut merged = json!({
            "$schema": "https://unpkg.com/@changesets/config@3.1.1/schema.json",
            "changelog": "@changesets/cli/changelog",
            "commit": false,
            "fixed": [],
            "linked": [],
            "access": "restricted",
            "baseBranch": "main",
            "updateInternalDependencies": "patch",
            "ignore": []
        });
        for (key, value) in config.as_object().expect("config is an object") {
            merged[key] = value.clone();
        }
        Self { files: Vec::new() }
            .file(
                "package.json",
                &pretty(&json!({
                    "name": "fixture-root",
                    "private": true,
                    "workspaces": ["packages/*"]
                })),
            )
            .file(".changeset/config.json", &pretty(&merged))
            .file(
                ".changeset/README.md",
                "# Changesets\n\nThis folder is read by changesets and polyship.\n",
            )
    }

    fn file(mut self, path: &str, contents: &str) -> Self {
        self.files.push((path.to_owned(), contents.to_owned()));
        self
    }

    /// `packages/<name without scope>/package.json` holding `manifest`.
    fn package(self, manifest: &Value) -> Self {
        let name = manifest["name"].as_str().expect("package name");
        let dir = name.rsplit('/').next().unwrap();
        self.file(&format!("packages/{dir}/package.json"), &pretty(manifest))
    }

    /// `.changeset/<id>.md`, as `changeset add` writes it.
    fn changeset(self, id: &str, releases: &[(&str, &str)], summary: &str) -> Self {
        self.file(
            &format!(".changeset/{id}.md"),
            &changeset_text(releases, summary),
        )
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap() + "\n"
}

fn changeset_text(releases: &[(&str, &str)], summary: &str) -> String {
    let front: Vec<String> = releases
        .iter()
        .map(|(name, bump)| format!("\"{name}\": {bump}\n"))
        .collect();
    format!("---\n{}---\n\n{summary}\n", front.concat())
}

// ---------------------------------------------------------------------------------------------
// Running both tools and comparing

/// The two copies of one fixture: changesets versions `oracle`, polyship versions `subject`.
struct Pair {
    oracle: Repo,
    subject: Repo,
    /// `HOME` for the changesets runs, so nothing from the machine's configuration leaks in.
    home: tempfile::TempDir,
    /// What was run so far, for failure messages.
    history: Vec<String>,
}

impl Pair {
    fn new(fixture: &Fixture) -> Self {
        let build = || {
            let mut repo = Repo::new();
            for (path, contents) in &fixture.files {
                repo = repo.file(path, contents);
            }
            repo.commit("chore: initial")
        };
        Self {
            oracle: build(),
            subject: build(),
            home: tempfile::tempdir().expect("temp home"),
            history: Vec::new(),
        }
    }

    /// Adds a changeset to both copies and commits it.
    fn changeset(&mut self, id: &str, releases: &[(&str, &str)], summary: &str) {
        let text = changeset_text(releases, summary);
        for repo in [&self.oracle, &self.subject] {
            repo.write(&format!(".changeset/{id}.md"), &text);
            repo.git(&["add", "-A"]);
            repo.git(&["commit", "-q", "-m", &format!("docs: changeset {id}")]);
        }
        self.history.push(format!("add changeset `{id}`"));
    }

    /// `changeset version` against `polyship version --no-commit`.
    fn version(&mut self) {
        self.step(&[&["version"]], &[]);
    }

    /// Runs each of `changesets` in the oracle and `polyship version --no-commit <polyship>` in the
    /// subject, requires both to succeed and the copies to agree, then commits both (the release
    /// pull request is merged) so the next step starts from a clean tree.
    fn step(&mut self, changesets: &[&[&str]], polyship: &[&str]) {
        let mut label: Vec<String> = changesets
            .iter()
            .map(|args| format!("changeset {}", args.join(" ")))
            .collect();
        for args in changesets {
            self.run_changesets(args);
        }
        let mut args = vec!["version", "--no-commit"];
        args.extend_from_slice(polyship);
        let out = self.subject.run(&args);
        label.push(format!("polyship {}", args.join(" ")));
        self.history.push(label.join(" / "));
        assert!(
            out.code == 0,
            "`polyship {}` failed\n{}\nsteps: {:#?}\nchangesets produced:\n{}",
            args.join(" "),
            out.snapshot(),
            self.history,
            state(self.oracle.path()).join("\n"),
        );
        self.assert_agree();
        for repo in [&self.oracle, &self.subject] {
            repo.git(&["add", "-A"]);
            repo.git(&[
                "commit",
                "-q",
                "--allow-empty",
                "-m",
                "chore: version packages",
            ]);
        }
    }

    fn run_changesets(&self, args: &[&str]) {
        let mut cmd = Command::new(changeset_bin());
        cmd.args(args);
        self.run_oracle(cmd, &format!("changeset {}", args.join(" ")));
    }

    /// Runs `cmd` in the oracle with an isolated environment; it must succeed.
    fn run_oracle(&self, mut cmd: Command, label: &str) {
        let out = cmd
            .current_dir(self.oracle.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("GIT_CONFIG_GLOBAL", self.home.path().join(".gitconfig"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("NO_COLOR", "1")
            .output()
            .unwrap_or_else(|e| panic!("cannot run `{label}`: {e}"));
        assert!(
            out.status.success(),
            "`{label}` failed ({}); the fixture is not one changesets accepts\n--- stdout\n{}\
             --- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
    }

    fn assert_agree(&self) {
        let expected = state(self.oracle.path()).join("\n") + "\n";
        let actual = state(self.subject.path()).join("\n") + "\n";
        if expected != actual {
            let diff = similar::TextDiff::from_lines(&expected, &actual)
                .unified_diff()
                .context_radius(50)
                .header("changesets", "polyship")
                .to_string();
            panic!(
                "polyship and changesets disagree after: {:#?}\n{diff}",
                self.history
            );
        }
    }
}

const DEPENDENCY_KINDS: [&str; 4] = [
    "dependencies",
    "devDependencies",
    "peerDependencies",
    "optionalDependencies",
];

/// What the two tools must agree on, one fact a line so that a mismatch reads as a diff:
/// `name version`, then `  kind dep range` for each internal dependency, the remaining changeset
/// files, and `.changeset/pre.json` key by key (its `changesets` list sorted).
fn state(root: &Path) -> Vec<String> {
    let mut manifests = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join("packages"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    dirs.sort();
    let mut changelogs = Vec::new();
    for dir in dirs {
        if let Ok(log) = std::fs::read_to_string(dir.join("CHANGELOG.md")) {
            changelogs.push(format!(
                "changelog {}:\n{}",
                dir.file_name().unwrap().to_string_lossy(),
                log.lines()
                    .map(|l| format!("  | {l}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            ));
        }
        let text = std::fs::read_to_string(dir.join("package.json")).unwrap();
        let manifest: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("`{}/package.json` is not JSON ({e})", dir.display()));
        manifests.push(manifest);
    }
    let names: BTreeSet<&str> = manifests
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    let mut lines = Vec::new();
    for manifest in &manifests {
        lines.push(format!(
            "{} {}",
            manifest["name"].as_str().unwrap_or("-"),
            manifest["version"].as_str().unwrap_or("-")
        ));
        for kind in DEPENDENCY_KINDS {
            let Some(deps) = manifest[kind].as_object() else {
                continue;
            };
            for (dep, range) in deps {
                if names.contains(dep.as_str()) {
                    lines.push(format!("  {kind} {dep} {}", range.as_str().unwrap_or("?")));
                }
            }
        }
    }
    lines.extend(changelogs);
    let mut changesets: Vec<String> = std::fs::read_dir(root.join(".changeset"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| {
            Path::new(name).extension().is_some_and(|e| e == "md") && name != "README.md"
        })
        .collect();
    changesets.sort();
    lines.extend(
        changesets
            .into_iter()
            .map(|name| format!("changeset {name}")),
    );
    let pre = root.join(".changeset/pre.json");
    if pre.exists() {
        let text = std::fs::read_to_string(&pre).unwrap();
        let doc: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("`{}` is not JSON ({e}):\n{text}", pre.display()));
        for (key, value) in doc.as_object().expect("pre.json holds an object") {
            match value {
                Value::Object(map) => {
                    for (k, v) in map {
                        lines.push(format!("pre.json {key}.{k} {v}"));
                    }
                }
                Value::Array(items) => {
                    let mut items: Vec<String> = items.iter().map(Value::to_string).collect();
                    items.sort();
                    lines.push(format!("pre.json {key} [{}]", items.join(", ")));
                }
                other => lines.push(format!("pre.json {key} {other}")),
            }
        }
    } else {
        lines.push("pre.json absent".to_owned());
    }
    lines
}

/// Builds `fixture` twice and checks that one `version` gives the same result in both.
fn assert_one_version_agrees(fixture: &Fixture) {
    Pair::new(fixture).version();
}

// ---------------------------------------------------------------------------------------------
// Scenarios

#[test]
fn independent_packages_take_the_largest_bump_of_their_changesets() {
    // a 1.0.1, b 1.1.0, c 2.0.0, d 2.1.0 (patch and minor: minor wins), e 0.9.0 unchanged;
    // a changeset naming several packages counts for each; all five changesets are consumed.
    assert_one_version_agrees(
        &Fixture::new(&json!({}))
            .package(&json!({ "name": "@acme/a", "version": "1.0.0" }))
            .package(&json!({ "name": "@acme/b", "version": "1.0.0" }))
            .package(&json!({ "name": "@acme/c", "version": "1.2.3" }))
            .package(&json!({ "name": "@acme/d", "version": "2.0.0" }))
            .package(&json!({ "name": "@acme/e", "version": "0.9.0" }))
            .changeset(
                "brave-cats-sing",
                &[("@acme/a", "patch"), ("@acme/b", "minor")],
                "Fix a, extend b.",
            )
            .changeset("calm-dogs-run", &[("@acme/c", "major")], "Rewrite c.")
            .changeset("dry-eels-hop", &[("@acme/d", "patch")], "Fix d.")
            .changeset("eager-fish-swim", &[("@acme/d", "minor")], "Extend d.")
            .changeset(
                "fair-goats-fly",
                &[("@acme/d", "patch"), ("@acme/a", "patch")],
                "Fix a and d again.",
            ),
    );
}

#[test]
fn empty_and_none_changesets_are_consumed_without_releasing() {
    // An empty changeset (`changeset add --empty`) and a `none` release version nothing, yet both
    // files are consumed; b, pinned to a's exact version, stays put because a does not move.
    assert_one_version_agrees(
        &Fixture::new(&json!({}))
            .package(&json!({ "name": "a", "version": "1.0.0" }))
            .package(&json!({ "name": "b", "version": "1.0.0", "dependencies": { "a": "1.0.0" } }))
            .package(&json!({ "name": "c", "version": "1.0.0" }))
            .file(".changeset/empty-owls-nap.md", "---\n---\n\n")
            .changeset("gentle-hens-wait", &[("a", "none")], "Internal only.")
            .changeset("happy-ants-dig", &[("c", "patch")], "Fix c."),
    );
}

#[test]
fn dependents_release_only_when_the_new_version_leaves_their_range() {
    // a 1.0.0 → 1.1.0 (minor). changesets then:
    // - b (`^1.0.0`, still satisfied): not released, and its range is left alone;
    // - c (`1.0.0` exact): patch 1.0.1, range rewritten to `1.1.0`;
    // - d (devDependency `1.0.0`): range rewritten to `1.1.0`, d itself NOT released;
    // - h (optionalDependency `~1.0.0`): patch, range `~1.1.0`;
    // - i (depends on c `1.0.0`): patch through c, transitively, range `1.0.1`;
    // - j (peerDependency `^1.0.0`, in range): see the peer dependency test; here j has its own
    //   major changeset so the peer rule has nothing left to raise.
    assert_one_version_agrees(
        &Fixture::new(&json!({}))
            .package(&json!({ "name": "a", "version": "1.0.0" }))
            .package(&json!({ "name": "b", "version": "1.0.0", "dependencies": { "a": "^1.0.0" } }))
            .package(&json!({ "name": "c", "version": "1.0.0", "dependencies": { "a": "1.0.0" } }))
            .package(&json!({ "name": "d", "version": "1.0.0", "devDependencies": { "a": "1.0.0" } }))
            .package(
                &json!({ "name": "h", "version": "1.0.0", "optionalDependencies": { "a": "~1.0.0" } }),
            )
            .package(&json!({ "name": "i", "version": "3.0.0", "dependencies": { "c": "1.0.0" } }))
            .package(
                &json!({ "name": "j", "version": "1.0.0", "peerDependencies": { "a": "^1.0.0" } }),
            )
            .changeset("brave-cats-sing", &[("a", "minor")], "Add a thing to a.")
            .changeset("calm-dogs-run", &[("j", "major")], "Rewrite j."),
    );
}

#[test]
fn workspace_protocol_ranges_with_a_version() {
    // a 1.0.0 → 1.1.0. `workspace:^1.0.0` and `workspace:^` (read as `^1.0.0`) still hold: f and g
    // stay; `workspace:1.0.0` does not: r releases a patch with `workspace:1.1.0`. w releases on its
    // own, so its `workspace:^1.0.0` becomes `workspace:^1.1.0` (updateInternalDependencies
    // "patch"), while g's bare `workspace:^` is never rewritten.
    assert_one_version_agrees(
        &Fixture::new(&json!({}))
            .package(&json!({ "name": "a", "version": "1.0.0" }))
            .package(
                &json!({ "name": "f", "version": "1.0.0", "dependencies": { "a": "workspace:^1.0.0" } }),
            )
            .package(&json!({ "name": "g", "version": "1.0.0", "dependencies": { "a": "workspace:^" } }))
            .package(
                &json!({ "name": "r", "version": "1.0.0", "dependencies": { "a": "workspace:1.0.0" } }),
            )
            .package(
                &json!({ "name": "w", "version": "1.0.0", "dependencies": { "a": "workspace:^1.0.0" } }),
            )
            .changeset("brave-cats-sing", &[("a", "minor")], "Add a thing to a.")
            .changeset("calm-dogs-run", &[("w", "patch")], "Fix w."),
    );
}

#[test]
fn workspace_star_and_tilde_stand_for_the_version_at_publish() {
    // changesets reads `workspace:*` as a's exact current version and `workspace:~` as `~1.0.0`
    // (pnpm and yarn publish them so), so after a's minor both e and t are out of range and
    // release a patch; their ranges stay `workspace:*` and `workspace:~`. `workspace:^` (`^1.0.0`)
    // still holds: g stays. (docs/plan.md says these three "always follow": that rule is what is
    // checked here.)
    assert_one_version_agrees(
        &Fixture::new(&json!({}))
            .package(&json!({ "name": "a", "version": "1.0.0" }))
            .package(
                &json!({ "name": "e", "version": "1.0.0", "dependencies": { "a": "workspace:*" } }),
            )
            .package(
                &json!({ "name": "g", "version": "1.0.0", "dependencies": { "a": "workspace:^" } }),
            )
            .package(
                &json!({ "name": "t", "version": "1.0.0", "dependencies": { "a": "workspace:~" } }),
            )
            .changeset("brave-cats-sing", &[("a", "minor")], "Add a thing to a."),
    );
}

/// b and c release on their own; a (patch) and x (minor) are their dependencies, in range.
fn internal_dependencies_fixture(update: &str) -> Fixture {
    Fixture::new(&json!({ "updateInternalDependencies": update }))
        .package(&json!({ "name": "a", "version": "1.0.0" }))
        .package(&json!({ "name": "x", "version": "1.0.0" }))
        .package(&json!({
            "name": "b",
            "version": "1.0.0",
            "dependencies": { "a": "^1.0.0", "x": "^1.0.0" }
        }))
        .package(&json!({
            "name": "c",
            "version": "2.0.0",
            "devDependencies": { "a": "^1.0.0", "x": "~1.0.0" }
        }))
        .package(&json!({ "name": "n", "version": "1.0.0", "dependencies": { "a": "^1.0.0" } }))
        .changeset("brave-cats-sing", &[("a", "patch")], "Fix a.")
        .changeset("calm-dogs-run", &[("x", "minor")], "Extend x.")
        .changeset(
            "dry-eels-hop",
            &[("b", "patch"), ("c", "patch")],
            "Fix b and c.",
        )
}

#[test]
fn update_internal_dependencies_patch_raises_every_range_of_a_released_dependent() {
    // Default "patch": b's ranges become `^1.0.1` and `^1.1.0`, c's dev ranges `^1.0.1` and `~1.1.0`;
    // n does not release (a is in range) so its `^1.0.0` stays.
    assert_one_version_agrees(&internal_dependencies_fixture("patch"));
}

#[test]
fn update_internal_dependencies_minor_leaves_ranges_of_patched_dependencies() {
    // "minor": a only got a patch and is in range, so `^1.0.0` on a stays in b and c; x got a minor,
    // so b's `^1.0.0` on x becomes `^1.1.0` (and c's `~1.0.0` leaves its range anyway).
    assert_one_version_agrees(&internal_dependencies_fixture("minor"));
}

#[test]
fn fixed_groups_release_every_member_at_one_version() {
    // Fixed @acme/*: a minor on @acme/a moves all three to 1.3.0 (the highest current version,
    // 1.2.0, bumped by the largest bump); dep (pinned to `@acme/b` `1.2.0`) releases a patch.
    // Fixed by glob `@tools/*`: a patch on p moves p and q to 2.0.1.
    // Fixed [x, y] has no changeset and stays.
    assert_one_version_agrees(
        &Fixture::new(&json!({
            "fixed": [["@acme/a", "@acme/b", "@acme/c"], ["@tools/*"], ["x", "y"]]
        }))
        .package(&json!({ "name": "@acme/a", "version": "1.0.0" }))
        .package(&json!({ "name": "@acme/b", "version": "1.2.0" }))
        .package(&json!({ "name": "@acme/c", "version": "1.1.0" }))
        .package(
            &json!({ "name": "dep", "version": "1.0.0", "dependencies": { "@acme/b": "1.2.0" } }),
        )
        .package(&json!({ "name": "@tools/p", "version": "2.0.0" }))
        .package(&json!({ "name": "@tools/q", "version": "2.0.0" }))
        .package(&json!({ "name": "x", "version": "1.0.0" }))
        .package(&json!({ "name": "y", "version": "1.0.0" }))
        .changeset("brave-cats-sing", &[("@acme/a", "minor")], "Extend a.")
        .changeset("calm-dogs-run", &[("@tools/p", "patch")], "Fix p."),
    );
}

#[test]
fn linked_groups_share_the_largest_bump_from_the_highest_version() {
    // changesets' linked group: the members that release take the largest bump among them, applied
    // to the highest current version in the whole group (members that do not release count too).
    // [d 1.0.0 minor, e 2.0.0 patch, f 1.5.0]: d and e both become 2.1.0, f stays 1.5.0.
    // [m 1.0.0 patch, n 3.0.0]: m alone releases, at 3.0.1.
    assert_one_version_agrees(
        &Fixture::new(&json!({ "linked": [["d", "e", "f"], ["m", "n"]] }))
            .package(&json!({ "name": "d", "version": "1.0.0" }))
            .package(&json!({ "name": "e", "version": "2.0.0" }))
            .package(&json!({ "name": "f", "version": "1.5.0" }))
            .package(&json!({ "name": "m", "version": "1.0.0" }))
            .package(&json!({ "name": "n", "version": "3.0.0" }))
            .changeset("brave-cats-sing", &[("d", "minor")], "Extend d.")
            .changeset(
                "calm-dogs-run",
                &[("e", "patch"), ("m", "patch")],
                "Fix e and m.",
            ),
    );
}

#[test]
fn peer_dependents_of_a_minor_or_major_release_take_a_major() {
    // changesets (onlyUpdatePeerDependentsWhenOutOfRange false, the default): a package with a
    // peerDependency on a package releasing a minor or major releases a MAJOR, in range or not,
    // and its peer range is rewritten. Here: a major → pa 2.0.0 (`^2.0.0`); x minor → px 2.0.0
    // (range `^1.1.0`, although `^1.0.0` held); w patch → pw not released (in range, patch).
    assert_one_version_agrees(
        &Fixture::new(&json!({}))
            .package(&json!({ "name": "a", "version": "1.0.0" }))
            .package(&json!({ "name": "x", "version": "1.0.0" }))
            .package(&json!({ "name": "w", "version": "1.0.0" }))
            .package(
                &json!({ "name": "pa", "version": "1.0.0", "peerDependencies": { "a": "^1.0.0" } }),
            )
            .package(&json!({
                "name": "px",
                "version": "1.0.0",
                "peerDependencies": { "x": "^1.0.0" },
                "devDependencies": { "x": "^1.0.0" }
            }))
            .package(
                &json!({ "name": "pw", "version": "1.0.0", "peerDependencies": { "w": "^1.0.0" } }),
            )
            .changeset("brave-cats-sing", &[("a", "major")], "Break a.")
            .changeset(
                "calm-dogs-run",
                &[("x", "minor"), ("w", "patch")],
                "Extend x, fix w.",
            ),
    );
}

#[test]
fn pre_mode_enter_version_twice_then_exit() {
    // a minor in pre mode `beta`: a 1.1.0-beta.0; b (pinned to `1.0.0`) and d (`^1.0.0`, which no
    // prerelease satisfies) release 1.0.1-beta.0 only through a; pre.json records the initial
    // versions and the consumed changeset, whose file stays. Then a patch on a and c: a
    // 1.1.0-beta.1 (the prerelease already stands for the minor), c 1.0.1-beta.0, b 1.0.1-beta.1.
    // Exit: every changeset applies again from the prereleases: a 1.1.0, b, c, d 1.0.1; the
    // changeset files and pre.json are deleted.
    let mut pair = Pair::new(
        &Fixture::new(&json!({}))
            .package(&json!({ "name": "a", "version": "1.0.0" }))
            .package(&json!({ "name": "b", "version": "1.0.0", "dependencies": { "a": "1.0.0" } }))
            .package(&json!({ "name": "c", "version": "1.0.0" }))
            .package(&json!({ "name": "d", "version": "1.0.0", "dependencies": { "a": "^1.0.0" } }))
            .package(&json!({ "name": "z", "version": "4.0.0" }))
            .changeset("brave-cats-sing", &[("a", "minor")], "Extend a."),
    );
    pair.step(
        &[&["pre", "enter", "beta"], &["version"]],
        &["--pre", "beta"],
    );
    pair.changeset(
        "calm-dogs-run",
        &[("a", "patch"), ("c", "patch")],
        "Fix a and c.",
    );
    pair.step(&[&["version"]], &["--pre", "beta"]);
    pair.step(&[&["pre", "exit"], &["version"]], &["--graduate"]);
}

#[test]
fn pre_mode_major_then_minor_and_fixed_group() {
    // a major in pre mode: a 2.0.0-beta.0, and its fixed partner f (1.3.0) 2.0.0-beta.0 too. A
    // minor next: 2.0.0 already covers it, so both go to 2.0.0-beta.1. Exit: 2.0.0.
    let mut pair = Pair::new(
        &Fixture::new(&json!({ "fixed": [["a", "f"]] }))
            .package(&json!({ "name": "a", "version": "1.0.0" }))
            .package(&json!({ "name": "f", "version": "1.3.0" }))
            .package(&json!({ "name": "u", "version": "0.1.0", "dependencies": { "f": "^1.3.0" } }))
            .changeset("brave-cats-sing", &[("a", "major")], "Break a."),
    );
    pair.step(
        &[&["pre", "enter", "beta"], &["version"]],
        &["--pre", "beta"],
    );
    pair.changeset("calm-dogs-run", &[("f", "minor")], "Extend f.");
    pair.step(&[&["version"]], &["--pre", "beta"]);
    pair.step(&[&["pre", "exit"], &["version"]], &["--graduate"]);
}

#[test]
fn zero_major_versions_bump_as_written_and_caret_ranges_are_narrow() {
    // a 0.1.0 minor → 0.2.0, outside b's `^0.1.0` (b patch 0.1.1, range `^0.2.0`);
    // c 0.3.4 patch → 0.3.5, inside d's `^0.3.0`; e 0.5.0 major → 1.0.0, outside f's `~0.5.0`;
    // g 0.0.1 patch → 0.0.2, outside h's `^0.0.1`.
    assert_one_version_agrees(
        &Fixture::new(&json!({}))
            .package(&json!({ "name": "a", "version": "0.1.0" }))
            .package(&json!({ "name": "b", "version": "0.1.0", "dependencies": { "a": "^0.1.0" } }))
            .package(&json!({ "name": "c", "version": "0.3.4" }))
            .package(&json!({ "name": "d", "version": "0.1.0", "dependencies": { "c": "^0.3.0" } }))
            .package(&json!({ "name": "e", "version": "0.5.0" }))
            .package(&json!({ "name": "f", "version": "0.1.0", "dependencies": { "e": "~0.5.0" } }))
            .package(&json!({ "name": "g", "version": "0.0.1" }))
            .package(&json!({ "name": "h", "version": "0.1.0", "dependencies": { "g": "^0.0.1" } }))
            .changeset(
                "brave-cats-sing",
                &[("a", "minor"), ("c", "patch")],
                "Extend a, fix c.",
            )
            .changeset(
                "calm-dogs-run",
                &[("e", "major"), ("g", "patch")],
                "Break e, fix g.",
            ),
    );
}

#[test]
fn ignored_packages_are_not_released() {
    // ignore [b, "@internal/*"]: b does not move, nor does it release although its pin on a
    // (`1.0.0`) is left behind, yet the pin is rewritten to `1.1.0`; @internal/k likewise. c, not
    // ignored, releases through a. b's own changeset is NOT consumed: changesets keeps every
    // changeset that names a skipped package, for the release that stops skipping it.
    assert_one_version_agrees(
        &Fixture::new(&json!({ "ignore": ["b", "@internal/*"] }))
            .package(&json!({ "name": "a", "version": "1.0.0" }))
            .package(&json!({ "name": "b", "version": "1.0.0", "dependencies": { "a": "1.0.0" } }))
            .package(&json!({ "name": "c", "version": "1.0.0", "dependencies": { "a": "1.0.0" } }))
            .package(
                &json!({ "name": "@internal/k", "version": "1.0.0", "dependencies": { "a": "1.0.0" } }),
            )
            .changeset("brave-cats-sing", &[("a", "minor")], "Extend a.")
            .changeset("calm-dogs-run", &[("b", "patch")], "Fix b."),
    );
}

#[test]
fn private_packages_are_versioned_by_default() {
    // privatePackages defaults to { version: true }: the private app releases through its own
    // changeset (0.5.0), the private site through its pin on lib (1.0.1).
    assert_one_version_agrees(
        &Fixture::new(&json!({}))
            .package(&json!({ "name": "lib", "version": "1.0.0" }))
            .package(&json!({
                "name": "app",
                "version": "0.4.0",
                "private": true,
                "dependencies": { "lib": "1.0.0" }
            }))
            .package(&json!({
                "name": "site",
                "version": "1.0.0",
                "private": true,
                "dependencies": { "lib": "1.0.0" }
            }))
            .changeset(
                "brave-cats-sing",
                &[("lib", "minor"), ("app", "minor")],
                "Extend lib.",
            ),
    );
}

#[test]
fn private_packages_can_be_left_unversioned() {
    // privatePackages { version: false }: private packages are skipped like ignored ones: site
    // neither releases through its pin on lib (the pin is still rewritten) nor through its own
    // changeset, which stays for later.
    assert_one_version_agrees(
        &Fixture::new(&json!({ "privatePackages": { "version": false, "tag": false } }))
            .package(&json!({ "name": "lib", "version": "1.0.0" }))
            .package(&json!({
                "name": "site",
                "version": "1.0.0",
                "private": true,
                "dependencies": { "lib": "1.0.0" }
            }))
            .changeset("brave-cats-sing", &[("lib", "minor")], "Extend lib.")
            .changeset("calm-dogs-run", &[("site", "patch")], "Fix the site."),
    );
}

#[test]
fn groups_combine_with_dependents() {
    // a minor. b, pinned to a, releases a patch and carries its fixed partner c (1.0.1 both); x,
    // pinned to c, follows. p, pinned to a, releases in the linked group [p, q] from the group's
    // highest version: 2.0.1.
    assert_one_version_agrees(
        &Fixture::new(&json!({ "fixed": [["b", "c"]], "linked": [["p", "q"]] }))
            .package(&json!({ "name": "a", "version": "1.0.0" }))
            .package(&json!({ "name": "b", "version": "1.0.0", "dependencies": { "a": "1.0.0" } }))
            .package(&json!({ "name": "c", "version": "1.0.0" }))
            .package(&json!({ "name": "x", "version": "1.0.0", "dependencies": { "c": "1.0.0" } }))
            .package(&json!({ "name": "p", "version": "1.0.0", "dependencies": { "a": "1.0.0" } }))
            .package(&json!({ "name": "q", "version": "2.0.0" }))
            .changeset("brave-cats-sing", &[("a", "minor")], "Extend a."),
    );
}

#[test]
fn ranges_of_released_dependents_keep_their_operator() {
    // a 1.0.0 → 1.1.0; r2 and r4 release on their own, so changesets rewrites their ranges to the
    // new version behind the range's leading operator: `>=1.0.0` → `>=1.1.0`, `^1` → `^1.1.0`.
    // `*` (r1) is never rewritten. `file:../a` is no internal dependency for changesets: fileref
    // neither releases nor changes.
    assert_one_version_agrees(
        &Fixture::new(&json!({}))
            .package(&json!({ "name": "a", "version": "1.0.0" }))
            .package(&json!({ "name": "r1", "version": "1.0.0", "dependencies": { "a": "*" } }))
            .package(&json!({ "name": "r2", "version": "1.0.0", "dependencies": { "a": ">=1.0.0" } }))
            .package(&json!({ "name": "r4", "version": "1.0.0", "dependencies": { "a": "^1" } }))
            .package(
                &json!({ "name": "fileref", "version": "1.0.0", "dependencies": { "a": "file:../a" } }),
            )
            .changeset("brave-cats-sing", &[("a", "minor")], "Extend a.")
            .changeset(
                "calm-dogs-run",
                &[("r1", "patch"), ("r2", "patch"), ("r4", "patch")],
                "Fix the r packages.",
            ),
    );
}

#[test]
fn partial_ranges_of_released_dependents_get_the_full_version() {
    // changesets keeps a leading `^`, `~`, `>=`, `<=` or `>` and writes the full new version after
    // it: `~1.0` becomes `~1.1.0`.
    assert_one_version_agrees(
        &Fixture::new(&json!({}))
            .package(&json!({ "name": "a", "version": "1.0.0" }))
            .package(&json!({ "name": "r5", "version": "1.0.0", "dependencies": { "a": "~1.0" } }))
            .changeset("brave-cats-sing", &[("a", "minor")], "Extend a.")
            .changeset("calm-dogs-run", &[("r5", "patch")], "Fix r5."),
    );
}

#[test]
fn wildcard_and_hyphen_ranges_that_still_hold_are_kept() {
    // A documented difference (docs/version.md, "Requirements"): changesets narrows `1.x` and
    // `1.0.0 - 2.0.0` to the exact new version (the rule of changesets issue #230); polyship keeps
    // a range that still holds the new version, since a range is the author's decision.
    let fixture = Fixture::new(&json!({}))
        .package(&json!({ "name": "a", "version": "1.0.0" }))
        .package(&json!({ "name": "r3", "version": "1.0.0", "dependencies": { "a": "1.x" } }))
        .package(
            &json!({ "name": "r6", "version": "1.0.0", "dependencies": { "a": "1.0.0 - 2.0.0" } }),
        )
        .changeset("brave-cats-sing", &[("a", "minor")], "Extend a.")
        .changeset(
            "calm-dogs-run",
            &[("r3", "patch"), ("r6", "patch")],
            "Fix the r packages.",
        );
    let pair = Pair::new(&fixture);
    pair.run_changesets(&["version"]);
    let out = pair.subject.run(&["version", "--no-commit"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let range = |repo: &Repo, name: &str| -> String {
        let manifest: Value =
            serde_json::from_str(&repo.read(&format!("packages/{name}/package.json"))).unwrap();
        manifest["dependencies"]["a"].as_str().unwrap().to_owned()
    };
    assert_eq!(range(&pair.oracle, "r3"), "1.1.0", "changesets narrows");
    assert_eq!(range(&pair.oracle, "r6"), "1.1.0", "changesets narrows");
    assert_eq!(range(&pair.subject, "r3"), "1.x");
    assert_eq!(range(&pair.subject, "r6"), "1.0.0 - 2.0.0");
}

#[test]
fn experimental_update_internal_dependents_always() {
    // updateInternalDependents "always": every dependent of a released package releases a patch,
    // in range or not, transitively (b through a, c through b); a dev-dependent (d) still does not
    // release, but its range is rewritten.
    assert_one_version_agrees(
        &Fixture::new(&json!({
            "___experimentalUnsafeOptions_WILL_CHANGE_IN_PATCH": { "updateInternalDependents": "always" }
        }))
        .package(&json!({ "name": "a", "version": "1.0.0" }))
        .package(&json!({ "name": "b", "version": "1.0.0", "dependencies": { "a": "^1.0.0" } }))
        .package(&json!({ "name": "c", "version": "1.0.0", "dependencies": { "b": "^1.0.0" } }))
        .package(&json!({ "name": "d", "version": "1.0.0", "devDependencies": { "a": "^1.0.0" } }))
        .package(&json!({ "name": "z", "version": "1.0.0" }))
        .changeset("brave-cats-sing", &[("a", "patch")], "Fix a."),
    );
}

#[test]
fn experimental_only_update_peer_dependents_when_out_of_range() {
    // onlyUpdatePeerDependentsWhenOutOfRange: a peer dependent takes a major only when the new
    // version leaves its range (pa, on a's major), not otherwise (px stays on x's minor); and a
    // released package's peer range that still holds is left alone (pq keeps `^1.0.0`).
    assert_one_version_agrees(
        &Fixture::new(&json!({
            "___experimentalUnsafeOptions_WILL_CHANGE_IN_PATCH": {
                "onlyUpdatePeerDependentsWhenOutOfRange": true
            }
        }))
        .package(&json!({ "name": "a", "version": "1.0.0" }))
        .package(&json!({ "name": "x", "version": "1.0.0" }))
        .package(
            &json!({ "name": "pa", "version": "1.0.0", "peerDependencies": { "a": "^1.0.0" } }),
        )
        .package(
            &json!({ "name": "px", "version": "1.0.0", "peerDependencies": { "x": "^1.0.0" } }),
        )
        .package(
            &json!({ "name": "pq", "version": "1.0.0", "peerDependencies": { "x": "^1.0.0" } }),
        )
        .changeset(
            "brave-cats-sing",
            &[("a", "major"), ("x", "minor")],
            "Break a, extend x.",
        )
        .changeset("calm-dogs-run", &[("pq", "patch")], "Fix pq."),
    );
}

#[test]
fn bump_versions_with_workspace_protocol_only() {
    // bumpVersionsWithWorkspaceProtocolOnly: plain ranges are not internal dependencies at all:
    // b (pinned `1.0.0`) does not release and keeps its pin, d (released on its own) keeps
    // `^1.0.0`; c's `workspace:1.0.0` leaves its range, so c releases with `workspace:1.1.0`.
    assert_one_version_agrees(
        &Fixture::new(&json!({ "bumpVersionsWithWorkspaceProtocolOnly": true }))
            .package(&json!({ "name": "a", "version": "1.0.0" }))
            .package(&json!({ "name": "b", "version": "1.0.0", "dependencies": { "a": "1.0.0" } }))
            .package(
                &json!({ "name": "c", "version": "1.0.0", "dependencies": { "a": "workspace:1.0.0" } }),
            )
            .package(&json!({ "name": "d", "version": "1.0.0", "dependencies": { "a": "^1.0.0" } }))
            .changeset("brave-cats-sing", &[("a", "minor"), ("d", "patch")], "Extend a, fix d."),
    );
}

/// `@changesets/cli` 3, run through its module: its `bin.js` calls `enableCompileCache`, which
/// Node 20 lacks, and nothing else of it needs more.
fn changeset3_entry() -> &'static Path {
    static ENTRY: OnceLock<PathBuf> = OnceLock::new();
    ENTRY.get_or_init(|| {
        let bin = support::npm_tool("@changesets/cli@3.0.3", "changeset");
        // `<prefix>/node_modules/.bin/changeset`: the entry goes in `<prefix>`.
        let prefix = bin
            .ancestors()
            .nth(3)
            .expect("npm installs under a prefix")
            .to_path_buf();
        let entry = prefix.join("run.mjs");
        if !entry.is_file() {
            std::fs::write(&entry, "await import(\"@changesets/cli\");\n").expect("write run.mjs");
        }
        entry
    })
}

/// Changesets 3 lays a section out without prettier: a blank continuation line keeps its two
/// spaces, and lines are spaced by their own newlines. polyship reads the major from the root
/// manifest's `@changesets/cli` requirement.
#[test]
fn changesets_3_sections_match_changeset_version() {
    let fixture = Fixture::new(&json!({}))
        .file(
            "package.json",
            &pretty(&json!({
                "name": "fixture-root",
                "private": true,
                "workspaces": ["packages/*"],
                "devDependencies": { "@changesets/cli": "^3.0.3" }
            })),
        )
        // changesets 3 finds an npm workspace by its lockfile.
        .file(
            "package-lock.json",
            &pretty(&json!({
                "name": "fixture-root",
                "lockfileVersion": 3,
                "requires": true,
                "packages": {}
            })),
        )
        .package(&json!({ "name": "a", "version": "1.0.0", "dependencies": { "b": "^1.0.0" } }))
        .package(&json!({ "name": "b", "version": "1.0.0" }))
        .changeset("one", &[("a", "minor")], "Add a thing\n\nwith a body line")
        .changeset("two", &[("a", "patch"), ("b", "patch")], "Fix b");
    let pair = Pair::new(&fixture);
    let mut changesets3 = Command::new("node");
    changesets3.arg(changeset3_entry()).arg("version");
    pair.run_oracle(changesets3, "changeset version (changesets 3)");
    // The lockfile only tells changesets this is an npm workspace; polyship would rightly call it
    // out of date.
    let run = pair
        .subject
        .run(&["version", "--no-commit", "--no-lockfile"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    pair.assert_agree();
    // The comparison saw what it is about: the whitespace changesets 2's prettier would strip.
    let log = std::fs::read_to_string(pair.oracle.path().join("packages/a/CHANGELOG.md")).unwrap();
    assert!(log.contains("Add a thing\n  \n  with a body line"), "{log}");
}
