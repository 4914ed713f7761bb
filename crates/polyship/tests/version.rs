//! `polyship version`: a plan applied to real files in real git repositories — manifests,
//! requirements, changelogs, changesets, pre mode, snapshots, filters, saved plans, the commit.

#![allow(clippy::unwrap_used)] // a failed unwrap in a test helper is a failed test

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use support::Repo;

/// Every file under the repository (outside `.git`) with its bytes.
fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let path = e.path();
            if e.file_name() == ".git" {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

/// An npm workspace: core 1.2.0, app depending on it by `^1.2.0`, pinned by exact `1.2.0`, a
/// dev-only dependent, and a crate workspace beside it.
fn mixed() -> Repo {
    Repo::new()
        .file(
            "package.json",
            "{\n  \"private\": true,\n  \"workspaces\": [\"packages/*\"]\n}\n",
        )
        .file(
            "packages/core/package.json",
            "{\r\n\t\"name\": \"core\",\r\n\t\"version\": \"1.2.0\",\r\n\t\"description\": \"tabs and CRLF stay\"\r\n}",
        )
        .file(
            "packages/app/package.json",
            "{\n  \"name\": \"app\",\n  \"version\": \"2.0.0\",\n  \"dependencies\": {\n    \"core\": \"^1.2.0\"\n  }\n}\n",
        )
        .file(
            "packages/pinned/package.json",
            "{\n  \"name\": \"pinned\",\n  \"version\": \"0.3.0\",\n  \"dependencies\": { \"core\": \"1.2.0\" }\n}\n",
        )
        .file(
            "packages/tests/package.json",
            "{\n  \"name\": \"tests\",\n  \"version\": \"1.0.0\",\n  \"private\": true,\n  \"devDependencies\": { \"core\": \"~1.2.0\" }\n}\n",
        )
        .file(
            "Cargo.toml",
            "[workspace]\nmembers = [\"crates/*\"]\n\n[workspace.dependencies]\nengine = { path = \"crates/engine\", version = \"0.4.1\" } # shared\n",
        )
        .file(
            "crates/engine/Cargo.toml",
            "[package]\nname = \"engine\"\nversion = \"0.4.1\" # keep this comment\nedition = \"2021\"\n",
        )
        .file(
            "crates/cli/Cargo.toml",
            "[package]\nname = \"engine-cli\"\nversion = \"0.4.1\"\nedition = \"2021\"\n\n[dependencies]\nengine.workspace = true\n",
        )
        .file("crates/engine/src/lib.rs", "")
        .file("crates/cli/src/lib.rs", "")
        .file(
            "packages/core/CHANGELOG.md",
            "# core\n\nAll notable changes.\n\n## 1.2.0 (2026-01-01)\n\n- Older entry\n",
        )
        .commit("chore: initial")
}

#[test]
fn applies_versions_requirements_changelogs_and_commits() {
    let repo = mixed()
        .file(
            ".changeset/quick-fox.md",
            "---\n\"core\": minor\n\"engine\": minor\n---\n\nFaster parsing\n\nWith a longer explanation.\n",
        )
        .commit("feat: parsing (#17)");
    let out = repo.run(&["version"]);
    assert_eq!(out.code, 0, "{}", out.stderr);

    // Only the version bytes changed: CRLF, tabs and the missing final newline stay.
    assert_eq!(
        repo.read("packages/core/package.json"),
        "{\r\n\t\"name\": \"core\",\r\n\t\"version\": \"1.3.0\",\r\n\t\"description\": \"tabs and CRLF stay\"\r\n}"
    );
    // `^1.2.0` still allows 1.3.0: app does not release and keeps its requirement.
    assert!(
        repo.read("packages/app/package.json")
            .contains("\"core\": \"^1.2.0\"")
    );
    assert!(
        repo.read("packages/app/package.json")
            .contains("\"version\": \"2.0.0\"")
    );
    // The exact pin is left behind: pinned releases a patch with the requirement rewritten.
    let pinned = repo.read("packages/pinned/package.json");
    assert!(
        pinned.contains("\"version\": \"0.3.1\"") && pinned.contains("{ \"core\": \"1.3.0\" }"),
        "{pinned}"
    );
    // A dev-dependency is rewritten when left behind, but never releases its dependent.
    let tests = repo.read("packages/tests/package.json");
    assert!(
        tests.contains("\"core\": \"~1.3.0\"") && tests.contains("\"version\": \"1.0.0\""),
        "{tests}"
    );
    // 0.x: `0.4.1` (a caret) does not allow 0.5.0; the shared entry is rewritten once, comments stay.
    assert_eq!(
        repo.read("crates/engine/Cargo.toml"),
        "[package]\nname = \"engine\"\nversion = \"0.5.0\" # keep this comment\nedition = \"2021\"\n"
    );
    assert!(
        repo.read("Cargo.toml")
            .contains("engine = { path = \"crates/engine\", version = \"0.5.0\" } # shared\n")
    );
    assert!(
        repo.read("crates/cli/Cargo.toml")
            .contains("version = \"0.4.2\"")
    );

    // Changelog: a new section below the title and intro; the old content byte for byte.
    assert_eq!(
        repo.read("packages/core/CHANGELOG.md"),
        "# core\n\nAll notable changes.\n\n## 1.3.0 (2026-11-22)\n\n### Features\n\n- Faster parsing\n\n  With a longer explanation.\n\n## 1.2.0 (2026-01-01)\n\n- Older entry\n"
    );
    assert_eq!(
        repo.read("packages/pinned/CHANGELOG.md"),
        "# Changelog\n\n## 0.3.1 (2026-11-22)\n\n### Dependencies\n\n- Updated dependency `core` to 1.3.0\n"
    );
    assert!(
        !repo.exists(".changeset/quick-fox.md"),
        "the changeset is consumed"
    );

    // One commit with everything, and a clean tree.
    assert_eq!(
        repo.git(&["log", "-1", "--format=%s"]).trim(),
        "chore(release): engine@0.5.0, engine-cli@0.4.2, core@1.3.0, pinned@0.3.1"
    );
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
    // Nothing left to release.
    let again = repo.run(&["version"]);
    assert_eq!(again.code, 0);
    assert!(
        again.stderr.contains("nothing to release"),
        "{}",
        again.stderr
    );
}

#[test]
fn dry_run_prints_diffs_and_writes_nothing() {
    let repo = mixed()
        .file(".changeset/a.md", "---\n\"core\": major\n---\n\nNew API\n")
        .commit("chore: changeset");
    let before = tree(repo.path());
    let out = repo.run(&["version", "--dry-run"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(tree(repo.path()), before, "the tree is byte-identical");
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
    assert!(
        out.stdout.contains("core    1.2.0 → 2.0.0"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("--- a/packages/app/package.json\n+++ b/packages/app/package.json\n")
    );
    assert!(
        out.stdout
            .contains("-    \"core\": \"^1.2.0\"\n+    \"core\": \"^2.0.0\"\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("--- a/.changeset/a.md\n+++ /dev/null\n")
    );
    assert!(out.stdout.contains("+## 2.0.0 (2026-11-22)\n"));
}

#[test]
fn no_commit_leaves_the_release_staged() {
    let repo = mixed()
        .file(".changeset/a.md", "---\n\"app\": patch\n---\n\nFix\n")
        .commit("chore: changeset");
    let head = repo.git(&["rev-parse", "HEAD"]);
    let out = repo.run(&["version", "--no-commit"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(repo.git(&["rev-parse", "HEAD"]), head);
    let staged = repo.git(&["diff", "--cached", "--name-status"]);
    assert_eq!(
        staged,
        "D\t.changeset/a.md\nA\tpackages/app/CHANGELOG.md\nM\tpackages/app/package.json\n"
    );
    assert_eq!(repo.git(&["diff", "--name-only"]), "", "nothing unstaged");
}

#[test]
fn commit_message_is_configurable_and_hooks_run() {
    let repo = mixed()
        .file(
            "polyship.toml",
            "[release]\ncommit-message = \"release: {releases} [skip ci]\"\n",
        )
        .file(".changeset/a.md", "---\n\"app\": patch\n---\n\nFix\n")
        .commit("chore: changeset");
    // A commit-msg hook that rejects the release: the files are written and staged, the error says so.
    let hook = repo.join(".git/hooks/commit-msg");
    std::fs::write(&hook, "#!/bin/sh\necho 'hook says no' >&2\nexit 1\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = repo.run(&["version"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("hook says no") && out.stderr.contains("run `git commit`"),
        "{}",
        out.stderr
    );
    assert!(
        repo.git(&["diff", "--cached", "--name-only"])
            .contains("packages/app/package.json")
    );
    std::fs::remove_file(&hook).unwrap();
    repo.git(&["commit", "-q", "--no-edit", "-m", "x"]);
    let repo2 = mixed()
        .file(
            "polyship.toml",
            "[release]\ncommit-message = \"release: {releases} [skip ci]\"\n",
        )
        .file(".changeset/a.md", "---\n\"app\": patch\n---\n\nFix\n")
        .commit("chore: changeset");
    assert_eq!(repo2.run(&["version"]).code, 0);
    assert_eq!(
        repo2.git(&["log", "-1", "--format=%s"]).trim(),
        "release: app@2.0.1 [skip ci]"
    );
    // The trailer git itself reads: the plan's fingerprint, whatever the message says.
    let trailer = repo2.git(&[
        "log",
        "-1",
        "--format=%(trailers:key=Polyship-Release,valueonly)",
    ]);
    let trailer = trailer.trim();
    assert!(
        trailer.len() == 16 && trailer.bytes().all(|b| b.is_ascii_hexdigit()),
        "{trailer:?}"
    );
}

#[test]
fn prereleases_enter_continue_switch_and_graduate() {
    let repo = mixed()
        .file(".changeset/one.md", "---\n\"core\": minor\n---\n\nOne\n")
        .commit("chore: one");
    let out = repo.run(&["version", "--pre", "beta"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        repo.read("packages/core/package.json")
            .contains("\"1.3.0-beta.0\"")
    );
    // A prerelease leaves `^1.2.0`: app releases on the line too.
    assert!(
        repo.read("packages/app/package.json")
            .contains("\"version\": \"2.0.1-beta.0\"")
    );
    assert!(
        repo.read("packages/app/package.json")
            .contains("\"core\": \"^1.3.0-beta.0\"")
    );
    assert!(repo.exists(".changeset/one.md"), "kept until the line ends");
    let state: serde_json::Value = serde_json::from_str(&repo.read(".changeset/pre.json")).unwrap();
    assert_eq!(state["mode"], "pre");
    assert_eq!(state["tag"], "beta");
    assert_eq!(state["initialVersions"]["core"], "1.2.0");
    assert_eq!(state["changesets"], serde_json::json!(["one"]));

    // The state lives in the repository: the next run continues the line without `--pre`.
    let repo = repo
        .file(".changeset/two.md", "---\n\"core\": patch\n---\n\nTwo\n")
        .commit("chore: two");
    assert_eq!(repo.run(&["version"]).code, 0);
    assert!(
        repo.read("packages/core/package.json")
            .contains("\"1.3.0-beta.1\"")
    );
    let changelog = repo.read("packages/core/CHANGELOG.md");
    assert!(
        changelog.contains("## 1.3.0-beta.1 (2026-11-22)\n\n### Fixes\n\n- Two\n"),
        "{changelog}"
    );

    // `--pre rc` switches the label; the number counts on, as changesets does.
    let repo = repo
        .file(
            ".changeset/three.md",
            "---\n\"core\": patch\n---\n\nThree\n",
        )
        .commit("chore: three");
    assert_eq!(repo.run(&["version", "--pre", "rc"]).code, 0);
    assert!(
        repo.read("packages/core/package.json")
            .contains("\"1.3.0-rc.2\"")
    );

    let out = repo.run(&["version", "--graduate"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        repo.read("packages/core/package.json")
            .contains("\"version\": \"1.3.0\"")
    );
    assert!(
        repo.read("packages/app/package.json")
            .contains("\"version\": \"2.0.1\"")
    );
    assert!(!repo.exists(".changeset/pre.json"));
    assert!(!repo.exists(".changeset/one.md") && !repo.exists(".changeset/three.md"));
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
}

#[test]
fn python_prereleases_render_in_pep_440() {
    let repo = Repo::new()
        .file("a/pyproject.toml", "[project]\nname = \"acme-a\"\nversion = \"1.2.0\"\n")
        .file(
            "b/pyproject.toml",
            "[project]\nname = \"acme-b\"\nversion = \"0.1.0\"\ndependencies = [\n  \"acme-a[fast]==1.2.0; python_version >= '3.9'\",\n]\n",
        )
        .file(".changeset/x.md", "---\n\"acme-a\": minor\n---\n\nX\n")
        .commit("chore: init");
    let out = repo.run(&["version", "--pre", "beta"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        repo.read("a/pyproject.toml")
            .contains("version = \"1.3.0b0\"")
    );
    assert!(
        repo.read("b/pyproject.toml")
            .contains("\"acme-a[fast]==1.3.0b0; python_version >= '3.9'\","),
        "{}",
        repo.read("b/pyproject.toml")
    );
    assert!(
        repo.read("b/pyproject.toml")
            .contains("version = \"0.1.1b0\"")
    );
}

#[test]
fn snapshots_consume_nothing_and_commit_nothing() {
    let repo = mixed()
        .file(".changeset/a.md", "---\n\"core\": patch\n---\n\nFix\n")
        .commit("chore: changeset");
    let head = repo.git(&["rev-parse", "HEAD"]);
    let out = repo.run(&["version", "--snapshot", "canary"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        repo.read("packages/core/package.json")
            .contains("\"0.0.0-canary-20261122000000\"")
    );
    // Dependents are pinned to the exact snapshot.
    assert!(
        repo.read("packages/app/package.json")
            .contains("\"core\": \"0.0.0-canary-20261122000000\"")
    );
    assert!(repo.exists(".changeset/a.md"));
    assert!(
        !repo.exists("packages/core/CHANGELOG.md")
            || !repo.read("packages/core/CHANGELOG.md").contains("canary")
    );
    assert_eq!(repo.git(&["rev-parse", "HEAD"]), head);
    assert_eq!(
        repo.git(&["diff", "--cached", "--name-only"]),
        "",
        "nothing staged"
    );

    let repo = mixed()
        .file(
            "polyship.toml",
            "[release]\nsnapshot-version = \"{next}-{tag}.{commit}\"\n",
        )
        .file(".changeset/a.md", "---\n\"core\": minor\n---\n\nFix\n")
        .commit("chore: changeset");
    let short = repo.git(&["rev-parse", "--short", "HEAD"]);
    assert_eq!(repo.run(&["version", "--snapshot", "pr-12"]).code, 0);
    assert!(
        repo.read("packages/core/package.json")
            .contains(&format!("\"1.3.0-pr-12.{}\"", short.trim())),
        "{}",
        repo.read("packages/core/package.json")
    );
}

#[test]
fn filters_select_packages_and_leave_other_changesets_pending() {
    let repo = mixed()
        .file(
            "packages/other/package.json",
            "{\n  \"name\": \"other\",\n  \"version\": \"1.0.0\"\n}\n",
        )
        .file(
            ".changeset/a.md",
            "---\n\"app\": minor\n\"other\": patch\n---\n\nBoth\n",
        )
        .file(
            ".changeset/b.md",
            "---\n\"other\": patch\n---\n\nOther only\n",
        )
        .commit("chore: changesets");
    let out = repo.run(&["version", "--filter", "app"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(repo.read("packages/app/package.json").contains("\"2.1.0\""));
    assert!(
        repo.read("packages/other/package.json")
            .contains("\"1.0.0\"")
    );
    assert_eq!(
        repo.read(".changeset/a.md"),
        "---\n\"other\": patch\n---\n\nBoth\n",
        "the released entry goes, the rest stays"
    );
    assert_eq!(
        repo.read(".changeset/b.md"),
        "---\n\"other\": patch\n---\n\nOther only\n"
    );
    assert!(
        out.stderr
            .contains("`.changeset/b.md` names only packages this release leaves out"),
        "{}",
        out.stderr
    );

    // A selected release that leaves an excluded dependent behind is an error, before any write.
    let repo = mixed()
        .file(".changeset/a.md", "---\n\"core\": major\n---\n\nBreak\n")
        .commit("chore: changeset");
    let out = repo.run(&["plan", "--filter", "core"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("leaves `app` behind") && out.stderr.contains("--filter '...core'"),
        "{}",
        out.stderr
    );
    let out = repo.run(&["plan", "--filter", "...core", "--filter", "!tests"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("app") && out.stdout.contains("pinned"));
    let out = repo.run(&["plan", "--filter", "nosuch"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("`nosuch` matches no package"));
    let out = repo.run(&["plan", "--filter", "./packages/app"]);
    assert_eq!(out.code, 0);
    assert_eq!(out.stdout, "", "app has no changes of its own");
}

#[test]
fn saved_plans_apply_exactly_and_refuse_a_moved_repository() {
    let repo = mixed()
        .file(".changeset/a.md", "---\n\"core\": minor\n---\n\nFeature\n")
        .commit("chore: changeset");
    let doc = repo.run(&["plan", "--json"]);
    assert_eq!(doc.code, 0, "{}", doc.stderr);
    let plan_file = repo.join("../plan.json");
    // Applied exactly as saved, even when edited by hand.
    let edited = doc.stdout.replace("\"to\": \"1.3.0\"", "\"to\": \"1.4.0\"");
    std::fs::write(&plan_file, &edited).unwrap();
    let out = repo.run(&["version", "--plan", plan_file.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        repo.read("packages/core/package.json")
            .contains("\"1.4.0\"")
    );

    // The repository moved since: re-plan.
    let out = repo.run(&["version", "--plan", plan_file.to_str().unwrap()]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("was planned at commit") && out.stderr.contains("re-plan"),
        "{}",
        out.stderr
    );
    std::fs::remove_file(&plan_file).unwrap();
}

#[test]
fn unsafe_requirements_are_errors_before_anything_is_written() {
    let repo = Repo::new()
        .file("package.json", "{ \"private\": true, \"workspaces\": [\"p/*\"] }\n")
        .file("p/core/package.json", "{ \"name\": \"core\", \"version\": \"1.9.0\" }\n")
        .file(
            "p/app/package.json",
            "{ \"name\": \"app\", \"version\": \"1.0.0\",\n  \"dependencies\": { \"core\": \">=1.0.0 <2.0.0\" } }\n",
        )
        .file(".changeset/a.md", "---\n\"core\": major\n---\n\nBreak\n")
        .commit("chore: init");
    let before = tree(repo.path());
    let out = repo.run(&["version"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("nothing was written"), "{}", out.stderr);
    assert!(
        out.stderr.contains("p/app/package.json:2"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("rewrite it by hand"), "{}", out.stderr);
    assert_eq!(tree(repo.path()), before);
}

#[test]
fn a_version_that_does_not_parse_names_its_file() {
    let repo = Repo::new()
        .file("Cargo.toml", "[package]\nname = \"x\"\nversion = \"1.2\"\n")
        .file(".changeset/a.md", "---\n\"x\": patch\n---\n\nFix\n")
        .commit("chore: init");
    let before = tree(repo.path());
    let out = repo.run(&["version"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("the version `1.2` of `cargo:x`")
            && out.stderr.contains("--> Cargo.toml:3"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("help: write a full SemVer version"),
        "{}",
        out.stderr
    );
    assert_eq!(tree(repo.path()), before);
}

#[test]
fn changelog_links_come_from_origin_and_templates_can_be_replaced() {
    let repo = mixed()
        .file(
            ".changeset/a.md",
            "---\n\"app\": patch\n---\n\nFix the thing\n",
        )
        .commit("fix: the thing (#42)");
    repo.git(&["remote", "add", "origin", "git@github.com:acme/mono.git"]);
    let sha = repo.git(&["rev-parse", "HEAD"]).trim().to_owned();
    assert_eq!(repo.run(&["version"]).code, 0);
    assert_eq!(
        repo.read("packages/app/CHANGELOG.md"),
        format!(
            "# Changelog\n\n## 2.0.1 (2026-11-22)\n\n### Fixes\n\n- Fix the thing ([#42](https://github.com/acme/mono/pull/42)) ([{}](https://github.com/acme/mono/commit/{sha}))\n",
            &sha[..7]
        )
    );

    let repo = mixed()
        .file("polyship.toml", "[changelog]\ntemplate = \"release/changelog.j2\"\npath = \"HISTORY.md\"\n")
        .file("release/changelog.j2", "## v{{ version }}\n{% for s in sections %}{% for e in s.entries %}* {{ e.summary }}\n{% endfor %}{% endfor %}")
        .file(".changeset/a.md", "---\n\"app\": patch\n---\n\nFix\n")
        .commit("chore: changeset");
    assert_eq!(repo.run(&["version"]).code, 0);
    assert_eq!(
        repo.read("packages/app/HISTORY.md"),
        "# Changelog\n\n## v2.0.1\n* Fix\n"
    );

    let repo = mixed()
        .file("polyship.toml", "[changelog]\ntemplate = \"t.j2\"\n")
        .file("t.j2", "ok\n{{ version | nosuch }}\n")
        .file(".changeset/a.md", "---\n\"app\": patch\n---\n\nFix\n")
        .commit("chore: changeset");
    let out = repo.run(&["version"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("t.j2") && out.stderr.contains("line 2"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_fixed_group_can_keep_one_changelog_for_all_its_members() {
    let repo = mixed()
        .file(
            "polyship.toml",
            "[[group]]\nname = \"js\"\nkind = \"fixed\"\npackages = [\"core\", \"app\"]\nchangelog = \"CHANGELOG.md\"\n",
        )
        .file(".changeset/a.md", "---\n\"app\": patch\n---\n\nFix the app\n")
        .file(".changeset/b.md", "---\n\"core\": minor\n---\n\nA core feature\n")
        .commit("chore: changesets");
    let out = repo.run(&["version"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        repo.read("CHANGELOG.md"),
        "# Changelog\n\n## 2.1.0 (2026-11-22)\n\n### Features\n\n- **core:** A core feature\n\n### Fixes\n\n- **app:** Fix the app\n"
    );
    assert!(
        repo.read("packages/core/package.json")
            .contains("\"2.1.0\"")
    );
}

/// Runs a tool in the repository and returns its stdout; the test fails with its stderr.
fn tool(repo: &Repo, program: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(program)
        .args(args)
        .current_dir(repo.path())
        .env("HOME", repo.join(".."))
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn lockfiles_follow_and_their_tools_accept_them_unchanged() {
    let repo = mixed();
    // Real lockfiles, written by the real tools (no registry needed: only workspace packages).
    tool(&repo, "cargo", &["generate-lockfile", "--offline"]);
    tool(
        &repo,
        "npm",
        &[
            "install",
            "--package-lock-only",
            "--offline",
            "--no-audit",
            "--no-fund",
        ],
    );
    let repo = repo
        .file(
            ".changeset/a.md",
            "---\n\"core\": major\n\"engine\": minor\n---\n\nBreak\n",
        )
        .commit("chore: lockfiles and a changeset");
    let out = repo.run(&["version"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let cargo_lock = repo.read("Cargo.lock");
    assert!(
        cargo_lock.contains("name = \"engine\"\nversion = \"0.5.0\""),
        "{cargo_lock}"
    );
    assert!(
        cargo_lock.contains("name = \"engine-cli\"\nversion = \"0.4.2\""),
        "{cargo_lock}"
    );
    let npm_lock = repo.read("package-lock.json");
    assert!(npm_lock.contains("\"version\": \"2.0.0\""), "{npm_lock}");
    // The tools agree the lockfiles are current: cargo refuses a stale one under `--locked`, and
    // npm rewriting its lockfile changes nothing.
    tool(
        &repo,
        "cargo",
        &["metadata", "--locked", "--offline", "--format-version", "1"],
    );
    tool(
        &repo,
        "npm",
        &[
            "install",
            "--package-lock-only",
            "--offline",
            "--no-audit",
            "--no-fund",
        ],
    );
    assert_eq!(
        repo.read("package-lock.json"),
        npm_lock,
        "npm rewrote the lockfile"
    );
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
}

#[test]
fn a_stale_lockfile_is_an_error_before_anything_is_written_unless_skipped() {
    let repo = mixed();
    tool(&repo, "cargo", &["generate-lockfile", "--offline"]);
    let lock = repo.read("Cargo.lock").replace(
        "name = \"engine\"\nversion = \"0.4.1\"",
        "name = \"engine\"\nversion = \"0.3.9\"",
    );
    let repo = repo
        .file("Cargo.lock", &lock)
        .file(".changeset/a.md", "---\n\"engine\": patch\n---\n\nFix\n")
        .commit("chore: stale lockfile");
    let before = tree(repo.path());
    let out = repo.run(&["version"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("--> Cargo.lock:")
            && out.stderr.contains("`engine` is at 0.3.9 here")
            && out.stderr.contains("cargo update --workspace")
            && out.stderr.contains("--no-lockfile"),
        "{}",
        out.stderr
    );
    assert_eq!(tree(repo.path()), before);
    let out = repo.run(&["version", "--no-lockfile"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(repo.read("Cargo.lock"), lock);
}

#[test]
fn a_shared_workspace_requirement_moves_when_any_inheriting_crate_releases() {
    // `a-quiet` (listed first) does not release; `z-loud` does, so the shared entry follows core
    // even though 1.2.1 is still in range.
    let repo = Repo::new()
        .file(
            "Cargo.toml",
            "[workspace]\nmembers = [\"crates/*\"]\n\n[workspace.dependencies]\ncore = { path = \"crates/core\", version = \"1.2.0\" }\n",
        )
        .file("crates/core/Cargo.toml", "[package]\nname = \"core\"\nversion = \"1.2.0\"\n")
        .file(
            "crates/a-quiet/Cargo.toml",
            "[package]\nname = \"a-quiet\"\nversion = \"1.0.0\"\n\n[dependencies]\ncore.workspace = true\n",
        )
        .file(
            "crates/z-loud/Cargo.toml",
            "[package]\nname = \"z-loud\"\nversion = \"1.0.0\"\n\n[dependencies]\ncore.workspace = true\n",
        )
        .file(".changeset/a.md", "---\n\"core\": patch\n\"z-loud\": patch\n---\n\nFix\n")
        .commit("chore: init");
    let out = repo.run(&["version", "--no-lockfile"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        repo.read("Cargo.toml")
            .contains("core = { path = \"crates/core\", version = \"1.2.1\" }"),
        "{}",
        repo.read("Cargo.toml")
    );
}

/// Runs a tool with an isolated home, failing the test with its output.
fn run_tool(repo: &Repo, program: &Path, args: &[&str], env: &[(&str, &str)]) {
    let home = repo.join("../tool-home");
    std::fs::create_dir_all(&home).unwrap();
    let out = std::process::Command::new(program)
        .args(args)
        .current_dir(repo.path())
        .env("HOME", &home)
        .env("XDG_CACHE_HOME", home.join("cache"))
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", program.display()));
    assert!(
        out.status.success(),
        "{} {args:?} failed:\n{}{}",
        program.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An npm workspace (utils 1.2.0; web requires `^1.2.0`; x through `workspace:*`) with a
/// changeset for a major of utils, and the lockfile `generate` writes.
fn js_workspace(extra: &[(&str, &str)]) -> Repo {
    let mut repo = Repo::new()
        .file(".gitignore", "node_modules\n.yarn\n.pnp.*\n")
        .file("packages/utils/package.json", "{ \"name\": \"@acme/utils\", \"version\": \"1.2.0\" }\n")
        .file("packages/x/package.json", "{ \"name\": \"@acme/x\", \"version\": \"2.0.0\" }\n")
        .file(
            "packages/web/package.json",
            "{ \"name\": \"@acme/web\", \"version\": \"0.3.0\", \"dependencies\": { \"@acme/utils\": \"^1.2.0\" }, \"devDependencies\": { \"@acme/x\": \"workspace:*\" } }\n",
        );
    for (path, text) in extra {
        repo = repo.file(path, text);
    }
    repo
}

fn changeset_and_version(repo: Repo) -> Repo {
    let repo = repo
        .file(
            ".changeset/a.md",
            "---\n\"@acme/utils\": major\n---\n\nBreak\n",
        )
        .commit("chore: workspace, lockfile, changeset");
    let out = repo.run(&["version"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        repo.read("packages/web/package.json")
            .contains("\"^2.0.0\"")
    );
    repo
}

#[test]
fn pnpm_accepts_its_updated_lockfile_frozen() {
    let pnpm = support::npm_tool("pnpm@9.15.9", "pnpm");
    let repo = js_workspace(&[
        (
            "package.json",
            "{ \"name\": \"root\", \"private\": true }\n",
        ),
        ("pnpm-workspace.yaml", "packages:\n  - \"packages/*\"\n"),
        (".npmrc", "link-workspace-packages=true\n"),
    ]);
    run_tool(
        &repo,
        &pnpm,
        &["install", "--lockfile-only", "--offline"],
        &[],
    );
    let repo = changeset_and_version(repo);
    assert!(repo.read("pnpm-lock.yaml").contains("specifier: ^2.0.0"));
    run_tool(
        &repo,
        &pnpm,
        &["install", "--frozen-lockfile", "--offline"],
        &[],
    );
}

#[test]
fn yarn_berry_accepts_its_updated_lockfile_immutable() {
    let yarn = support::npm_tool("@yarnpkg/cli-dist@4.18.1", "yarn");
    let repo = js_workspace(&[(
        "package.json",
        "{ \"name\": \"root\", \"private\": true, \"workspaces\": [\"packages/*\"] }\n",
    )]);
    let env = [
        ("YARN_ENABLE_TELEMETRY", "0"),
        ("YARN_ENABLE_GLOBAL_CACHE", "0"),
    ];
    run_tool(&repo, &yarn, &["install", "--mode=update-lockfile"], &env);
    let repo = changeset_and_version(repo);
    assert!(
        repo.read("yarn.lock")
            .contains("\"@acme/utils@npm:^2.0.0, @acme/utils@workspace:packages/utils\"")
    );
    run_tool(
        &repo,
        &yarn,
        &["install", "--immutable", "--mode=skip-build"],
        &env,
    );
}

#[test]
fn uv_accepts_its_updated_lockfile() {
    let uv = support::pip_tool("uv==0.13.9", "uv");
    let member = |name: &str, version: &str, deps: &str| {
        format!(
            "[project]\nname = \"{name}\"\nversion = \"{version}\"\nrequires-python = \">=3.8\"\ndependencies = [{deps}]\n\n[tool.uv.sources]\nacme-core = {{ workspace = true }}\n\n[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n"
        )
    };
    let repo = Repo::new()
        .file(
            "pyproject.toml",
            "[tool.uv.workspace]\nmembers = [\"core\", \"tools\"]\n",
        )
        .file("core/pyproject.toml", &member("acme-core", "1.2.0", ""))
        .file(
            "tools/pyproject.toml",
            &member("acme-tools", "0.1.0", "\"acme-core==1.2.0\""),
        );
    run_tool(&repo, &uv, &["lock", "--offline"], &[]);
    let repo = repo
        .file(
            ".changeset/a.md",
            "---\n\"acme-core\": minor\n---\n\nFeature\n",
        )
        .commit("chore: workspace, lockfile, changeset");
    let out = repo.run(&["version"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        repo.read("uv.lock")
            .contains("name = \"acme-core\"\nversion = \"1.3.0\""),
        "{}",
        repo.read("uv.lock")
    );
    run_tool(&repo, &uv, &["lock", "--check", "--offline"], &[]);
}

/// Issue 11: a crate whose changelog writes releases as `# 1.53.1 (July 20th, 2026)` gets its new
/// section on top, in that style, never inside the newest release's body.
#[test]
fn changelog_sections_follow_the_files_own_heading_style() {
    let log = "# 1.53.1 (July 20th, 2026)\n\n### Fixed\n\n- rt: a bug ([#8100])\n\n[#8100]: https://github.com/tokio-rs/tokio/pull/8100\n\n# 1.53.0 (July 1st, 2026)\n\n### Added\n\n- x\n";
    let repo = Repo::new()
        .file("Cargo.toml", "[workspace]\nmembers = [\"tokio\"]\n")
        .file(
            "tokio/Cargo.toml",
            "[package]\nname = \"tokio\"\nversion = \"1.53.1\"\n",
        )
        .file("tokio/CHANGELOG.md", log)
        .commit("chore: init")
        .tag("tokio-1.53.1")
        .file("tokio/src/lib.rs", "")
        .commit("fix(rt): another bug");
    let out = repo.run(&["version"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let written = repo.read("tokio/CHANGELOG.md");
    assert!(
        written.starts_with("# 1.53.2 (November 22nd, 2026)\n\n### Fixes\n\n- another bug"),
        "{written}"
    );
    assert!(written.ends_with(log), "{written}");
}

/// An npm workspace of one package, `@acme/a` 1.0.0, with `.changeset/config.json` `config`.
fn changesets_package(config: &str) -> Repo {
    Repo::new()
        .file(
            "package.json",
            r#"{ "private": true, "workspaces": ["packages/*"] }"#,
        )
        .file(
            "packages/a/package.json",
            "{\n  \"name\": \"@acme/a\",\n  \"version\": \"1.0.0\"\n}\n",
        )
        .file(".changeset/config.json", config)
}

/// Issue 11: `@changesets/changelog-github` lines: the pull request and the author come from
/// GitHub when `GITHUB_TOKEN` is given (here the local fake of GitHub's API), otherwise from the
/// commit — its `(#12)` and a no-reply author address.
#[test]
fn changesets_github_changelog_lines_link_pull_requests_and_thank_authors() {
    let build = |extra: &str| {
        let repo = changesets_package(
            r#"{ "changelog": ["@changesets/changelog-github", { "repo": "acme/x" }] }"#,
        )
        .file(
            "packages/a/CHANGELOG.md",
            "# @acme/a\n\n## 1.0.0\n\n### Major Changes\n\n- First\n",
        )
        .file("polyship.toml", extra)
        .commit("chore: init")
        .tag("@acme/a@1.0.0")
        .file(
            ".changeset/kind-owls.md",
            "---\n\"@acme/a\": minor\n---\n\nAdd a flag\n",
        );
        repo.git(&["add", "-A"]);
        repo.git(&[
            "-c",
            "user.email=7+octo@users.noreply.github.com",
            "commit",
            "-q",
            "-m",
            "feat: a flag (#12)",
        ]);
        repo
    };
    let repo = build("");
    let sha = repo.git(&["rev-parse", "HEAD"]).trim().to_owned();
    let out = repo.run(&["version", "--no-commit"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let log = repo.read("packages/a/CHANGELOG.md");
    assert_eq!(
        log,
        format!(
            "# @acme/a\n\n## 1.1.0\n\n### Minor Changes\n\n- [#12](https://github.com/acme/x/pull/12) [`{}`](https://github.com/acme/x/commit/{sha}) Thanks [@octo](https://github.com/octo)! - Add a flag\n\n## 1.0.0\n\n### Major Changes\n\n- First\n",
            &sha[..7]
        )
    );

    let forge =
        support::fake_forge::FakeForge::start(support::fake_forge::Kind::GitHub, "gh-secret");
    let repo = build(&format!("[publish.forge]\napi = \"{}\"\n", forge.api_url()));
    let sha = repo.git(&["rev-parse", "HEAD"]).trim().to_owned();
    forge.seed_pull(&sha, 99, "someone");
    let out = repo.run_env(
        repo.path(),
        &["version", "--no-commit"],
        &[("GITHUB_TOKEN".to_owned(), "gh-secret".to_owned())],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let log = repo.read("packages/a/CHANGELOG.md");
    assert!(
        log.contains(&format!("- [#99](https://github.com/acme/x/pull/99) [`{}`](https://github.com/acme/x/commit/{sha}) Thanks [@someone](https://github.com/someone)! - Add a flag\n", &sha[..7])),
        "{log}"
    );
    assert!(
        forge
            .requests()
            .iter()
            .any(|(m, p)| m == "GET" && p == &format!("/repos/acme/x/commits/{sha}/pulls")),
        "{:?}",
        forge.requests()
    );
}

/// `@changesets/changelog-github` without a `repo` option links to `GITHUB_REPOSITORY`, as the
/// generator does; with neither (and no `origin` on GitHub) nothing is written, and the error says
/// where to name the repository — not links to `https://github.com//`.
#[test]
fn changesets_github_changelog_needs_a_repository_to_link_to() {
    let repo = changesets_package(r#"{ "changelog": "@changesets/changelog-github" }"#)
        .commit("chore: init")
        .tag("@acme/a@1.0.0")
        .file(
            ".changeset/kind-owls.md",
            "---\n\"@acme/a\": patch\n---\n\nFix a flag\n",
        )
        .commit("fix: a flag");
    let sha = repo.git(&["rev-parse", "HEAD"]).trim().to_owned();
    let out = repo.run(&["version", "--no-commit"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(".changeset/config.json")
            && out.stderr.contains("GITHUB_REPOSITORY")
            && out.stderr.contains(r#"{ "repo": "org/repo" }"#),
        "{}",
        out.stderr
    );
    assert_eq!(
        repo.read("packages/a/package.json"),
        "{\n  \"name\": \"@acme/a\",\n  \"version\": \"1.0.0\"\n}\n"
    );
    assert!(repo.git(&["status", "--porcelain"]).is_empty());

    let out = repo.run_env(
        repo.path(),
        &["version", "--no-commit"],
        &[("GITHUB_REPOSITORY".to_owned(), "acme/y".to_owned())],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let log = repo.read("packages/a/CHANGELOG.md");
    assert!(
        log.contains(&format!(
            "- [`{}`](https://github.com/acme/y/commit/{sha}) - Fix a flag\n",
            &sha[..7]
        )),
        "{log}"
    );
}

/// Changesets 3 no longer versions private packages unless `privatePackages` says so; 2 did. The
/// major is the root manifest's `@changesets/cli` requirement here.
#[test]
fn private_packages_are_versioned_as_the_repository_s_changesets_major_does() {
    for (cli, private_released) in [("^2.29.0", true), ("^3.0.1", false)] {
        let repo = Repo::new()
            .file(
                "package.json",
                &format!(
                    r#"{{ "private": true, "workspaces": ["packages/*"], "devDependencies": {{ "@changesets/cli": "{cli}" }} }}"#
                ),
            )
            .file(
                "packages/a/package.json",
                r#"{ "name": "a", "version": "1.0.0" }"#,
            )
            .file(
                "packages/b/package.json",
                r#"{ "name": "b", "version": "1.0.0", "private": true }"#,
            )
            .file(".changeset/config.json", r#"{ "changelog": false }"#)
            .commit("chore: init")
            .file(
                ".changeset/kind-owls.md",
                "---\n\"a\": patch\n\"b\": patch\n---\n\nFix\n",
            )
            .commit("fix: both");
        let out = repo.run(&["version", "--no-commit"]);
        assert_eq!(out.code, 0, "{cli}: {}", out.stderr);
        assert!(
            repo.read("packages/a/package.json").contains("1.0.1"),
            "{cli}"
        );
        let b = repo.read("packages/b/package.json");
        assert_eq!(b.contains("1.0.1"), private_released, "{cli}: {b}");
    }
}

fn registry(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run `scripts/test`, or `source scripts/registries` first")
    })
}

#[test]
fn an_explicit_version_releases_every_planned_package_at_it_in_each_scheme() {
    let r = Repo::new()
        .file("package.json", r#"{ "private": true, "workspaces": ["js/*"] }"#)
        .file("js/lib/package.json", "{ \"name\": \"lib\", \"version\": \"1.2.0\" }\n")
        .file(
            "js/app/package.json",
            "{ \"name\": \"app\", \"version\": \"1.0.0\", \"dependencies\": { \"lib\": \"^1.2.0\" } }\n",
        )
        .file("js/other/package.json", "{ \"name\": \"other\", \"version\": \"0.3.0\" }\n")
        .file("py/pyproject.toml", "[project]\nname = \"pkg\"\nversion = \"1.9.0\"\n")
        // The local registries (scripts/registries): an explicit version must not be on them.
        .file(
            "polyship.toml",
            &format!(
                "[[package]]\npath = \"py\"\n\n[publish.npm]\nregistry = \"{}\"\n\n[publish.python]\nindex = \"{}\"\n",
                registry("POLYSHIP_TEST_NPM_REGISTRY"),
                registry("POLYSHIP_TEST_PYPI_URL")
            ),
        )
        .commit("feat: first")
        .tag("lib@1.2.0")
        .tag("app@1.0.0")
        .tag("other@0.3.0")
        .tag("pkg-v1.9.0")
        .tag("lib@2.0.0-beta.0");
    r.write("js/lib/index.js", "module.exports = 2;\n");
    r.write("py/pkg.py", "X = 2\n");
    r.git(&["add", "-A"]);
    r.git(&["commit", "-q", "-m", "fix: small things"]);

    // A version that parses in no scheme, one below a package's, one already tagged: each an
    // error, nothing written.
    let out = r.run(&["version", "2.x"]);
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(
        out.stderr.contains("`2.x` is not a version"),
        "{}",
        out.stderr
    );
    let out = r.run(&["version", "1.5.0"]);
    assert_ne!(out.code, 0, "{}", out.snapshot());
    assert!(
        out.stderr
            .contains("the version 1.5.0 is not above `python:pkg`'s version 1.9.0"),
        "{}",
        out.stderr
    );
    let out = r.run(&["version", "2.0.0-beta.0"]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr
            .contains("the tag `lib@2.0.0-beta.0` already exists"),
        "{}",
        out.stderr
    );
    assert_eq!(r.git(&["status", "--porcelain"]), "");

    let plan = r.run(&["plan", "2.0.0-beta.1"]);
    assert_eq!(plan.code, 0, "{}", plan.snapshot());
    assert!(
        plan.stdout
            .contains("npm     lib  1.2.0 → 2.0.0-beta.1  major  its changes"),
        "{}",
        plan.stdout
    );
    let out = r.run(&["version", "2.0.0-beta.1"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(!out.stderr.contains("could not check"), "{}", out.stderr);
    // The changed packages, and `app`, which `^1.2.0` would leave behind, all at the version;
    // Python writes it in PEP 440; `other` has no changes and stays.
    assert!(
        r.read("js/lib/package.json")
            .contains("\"version\": \"2.0.0-beta.1\"")
    );
    let app = r.read("js/app/package.json");
    assert!(
        app.contains("\"version\": \"2.0.0-beta.1\"") && app.contains("\"lib\": \"^2.0.0-beta.1\""),
        "{app}"
    );
    assert!(
        r.read("py/pyproject.toml")
            .contains("version = \"2.0.0b1\"")
    );
    assert!(
        r.read("js/other/package.json")
            .contains("\"version\": \"0.3.0\"")
    );
}
