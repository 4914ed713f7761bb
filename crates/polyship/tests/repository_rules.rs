//! The plan a repository's own tool would make (issue 10): the change source it already uses,
//! its tag scheme, its branch, reverts, and no double bumps. Each fixture is shaped like a real
//! repository that showed the problem: a changesets repository with Conventional Commit messages and
//! a Cargo workspace, crates tagged `name-1.2.3`, a root tagged bare `1.2.3`, tags of other
//! branches, a `master` repository.

#![allow(clippy::unwrap_used)]

mod support;

use serde_json::Value;
use support::Repo;

/// `name from → to` of every release in `plan --json`.
fn releases(doc: &Value) -> Vec<String> {
    doc["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {} → {}",
                r["name"].as_str().unwrap(),
                r["from"].as_str().unwrap(),
                r["to"].as_str().unwrap()
            )
        })
        .collect()
}

/// A Rust + npm repository that releases with changesets and writes Conventional Commits: two
/// npm packages in a changesets fixed group, a published crate and two `publish = false` crates,
/// a `feat!:` years ago, `feat:`/`fix:` commits touching crates since, and one changeset.
fn changesets_with_conventional_commits() -> Repo {
    Repo::new()
        .file(
            "Cargo.toml",
            "[workspace]\nmembers = [\"crates/*\"]\n\n[workspace.package]\nversion = \"0.5.7\"\n",
        )
        .file(
            "crates/lsp/Cargo.toml",
            "[package]\nname = \"lsp\"\nversion.workspace = true\n",
        )
        .file(
            "crates/parser/Cargo.toml",
            "[package]\nname = \"parser\"\nversion = \"0.0.1\"\npublish = false\n",
        )
        .file(
            "crates/bench/Cargo.toml",
            "[package]\nname = \"bench\"\nversion = \"0.0.0\"\npublish = false\n",
        )
        .file(
            "package.json",
            r#"{ "private": true, "workspaces": ["packages/@acme/*"] }"#,
        )
        .file(
            "packages/@acme/cli/package.json",
            r#"{ "name": "@acme/cli", "version": "2.5.6", "optionalDependencies": { "@acme/cli-linux": "2.5.6" } }"#,
        )
        .file(
            "packages/@acme/cli-linux/package.json",
            r#"{ "name": "@acme/cli-linux", "version": "2.5.6" }"#,
        )
        .file(
            ".changeset/config.json",
            r#"{ "fixed": [["@acme/cli", "@acme/cli-linux"]], "baseBranch": "main", "updateInternalDependencies": "patch" }"#,
        )
        .commit("feat!: the first release")
        .tag("lsp-v0.5.7")
        .tag("@acme/cli@2.5.6")
        .tag("@acme/cli-linux@2.5.6")
        .file("crates/parser/src/lib.rs", "// new syntax\n")
        .commit("feat(parser): new syntax")
        .file("crates/lsp/src/lib.rs", "// fix\n")
        .commit("fix(lsp): a crash")
        .file(
            ".changeset/quick-fox.md",
            "---\n\"@acme/cli\": patch\n---\n\nFix the crash\n",
        )
        .commit("fix(lsp): a crash, with a changeset")
}

#[test]
fn a_changesets_repository_releases_only_from_its_changesets() {
    let repo = changesets_with_conventional_commits();
    let doc = repo.run(&["plan", "--json"]).json();
    assert_eq!(
        releases(&doc),
        ["@acme/cli-linux 2.5.6 → 2.5.7", "@acme/cli 2.5.6 → 2.5.7"]
    );
    let verbose = repo.run(&["plan", "-v"]);
    assert!(
        verbose
            .stderr
            .contains("changes from changesets (inferred: the repository has `.changeset/`)"),
        "{}",
        verbose.stderr
    );
    // The changelog lists the change once, from its changeset, never again from a commit.
    let diff = repo.run(&["version", "--dry-run"]).stdout;
    assert_eq!(diff.matches("Fix the crash").count(), 2, "{diff}");
    assert!(!diff.contains("a crash, with a changeset"), "{diff}");
}

#[test]
fn sources_can_be_chosen_for_the_workspace_and_per_package() {
    let repo = changesets_with_conventional_commits().file(
        "polyship.toml",
        "[changes]\nsources = [\"changesets\"]\n\n[changes.packages]\nlsp = [\"commits\"]\n",
    );
    let doc = repo.run(&["plan", "--json"]).json();
    assert_eq!(
        releases(&doc),
        [
            "lsp 0.5.7 → 0.5.8",
            "@acme/cli-linux 2.5.6 → 2.5.7",
            "@acme/cli 2.5.6 → 2.5.7"
        ]
    );
    let both = changesets_with_conventional_commits().file(
        "polyship.toml",
        "[changes]\nsources = [\"changesets\", \"commits\"]\n",
    );
    let names: Vec<String> = releases(&both.run(&["plan", "--json"]).json());
    assert!(names.iter().any(|r| r.starts_with("parser ")), "{names:?}");
}

#[test]
fn changesets_as_a_source_without_the_directory_is_an_error() {
    let repo = Repo::new()
        .file("package.json", r#"{ "name": "solo", "version": "1.0.0" }"#)
        .file("polyship.toml", "[changes]\nsources = [\"changesets\"]\n")
        .commit("feat: x");
    let out = repo.run(&["plan"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("polyship.toml:2:11"), "{}", out.stderr);
    assert!(
        out.stderr.contains("no `.changeset/` directory"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("help:"), "{}", out.stderr);
}

/// A Cargo workspace whose crates tag `name-1.2.3` (tokio's scheme), with a crate whose name is
/// the other's prefix, and an ancient tag of another scheme.
fn dash_tagged() -> Repo {
    Repo::new()
        .file(
            "Cargo.toml",
            "[workspace]\nmembers = [\"tokio\", \"tokio-util\"]\n",
        )
        .file(
            "tokio/Cargo.toml",
            "[package]\nname = \"tokio\"\nversion = \"1.53.1\"\n",
        )
        .file(
            "tokio-util/Cargo.toml",
            "[package]\nname = \"tokio-util\"\nversion = \"0.7.15\"\n",
        )
        .commit("chore: init")
        .tag("tokio-v0.1.0")
        .file("tokio/a.rs", "")
        .commit("fix: old")
        .tag("tokio-1.53.1")
        .tag("tokio-util-0.7.15")
        .file("tokio/b.rs", "")
        .commit("fix(tokio): after 1.53.1")
}

#[test]
fn tag_schemes_are_read_off_the_tags_of_the_current_versions() {
    let repo = dash_tagged();
    let out = repo.run(&["status", "--json", "-v"]);
    let doc = out.json();
    assert_eq!(doc["packages"].as_array().unwrap().len(), 1, "{doc}");
    assert_eq!(doc["packages"][0]["name"], "tokio");
    assert_eq!(doc["packages"][0]["last_release"]["name"], "tokio-1.53.1");
    // `tokio-util-0.7.15` is another crate's tag, not a broken tag of `tokio`.
    assert!(!out.stderr.contains("does not parse"), "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "tags `{name}-{version}` (inferred: its current version is tagged so): tokio, tokio-util"
        ),
        "{}",
        out.stderr
    );
    let publish = repo.run(&["publish", "--dry-run", "--no-push"]);
    assert!(
        !publish.stdout.contains("tokio-v1.53.1"),
        "new tags follow the scheme: {}",
        publish.stdout
    );
}

#[test]
fn a_bare_version_tag_scheme_is_found() {
    let repo = Repo::new()
        .file(
            "Cargo.toml",
            "[workspace]\nmembers = [\"uv\", \"uv-cache\"]\n",
        )
        .file(
            "uv/Cargo.toml",
            "[package]\nname = \"uv\"\nversion = \"0.12.5\"\n",
        )
        .file(
            "uv-cache/Cargo.toml",
            "[package]\nname = \"uv-cache\"\nversion = \"0.0.1\"\npublish = false\n",
        )
        .commit("chore: ancient")
        .tag("uv-v0.0.1")
        .file("uv/a.rs", "")
        .commit("feat!: long ago")
        .tag("0.12.5")
        .file("uv/b.rs", "")
        .commit("fix: since 0.12.5");
    let doc = repo.run(&["plan", "--json"]).json();
    assert_eq!(releases(&doc), ["uv 0.12.5 → 0.12.6"]);
}

#[test]
fn two_schemes_that_fit_warn_with_both_names() {
    let repo = Repo::new()
        .file(
            "package.json",
            r#"{ "private": true, "workspaces": ["packages/*"] }"#,
        )
        .file(
            "packages/a/package.json",
            r#"{ "name": "a", "version": "1.0.0" }"#,
        )
        .file(
            "packages/b/package.json",
            r#"{ "name": "b", "version": "3.0.0" }"#,
        )
        .commit("chore: init")
        .tag("a@1.0.0")
        .tag("a-v1.0.0");
    let out = repo.run(&["status"]);
    assert!(
        out.stderr
            .contains("two tag schemes fit `npm:a`: `a@1.0.0` and `a-v1.0.0`"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("`[tags] templates`"), "{}", out.stderr);
}

#[test]
fn version_twice_before_publishing_releases_once() {
    let repo = Repo::new()
        .file(
            "package.json",
            r#"{ "private": true, "workspaces": ["packages/*"] }"#,
        )
        .file(
            "packages/a/package.json",
            "{\n  \"name\": \"a\",\n  \"version\": \"1.0.0\"\n}\n",
        )
        .commit("chore: init")
        .tag("a@1.0.0")
        .file("packages/a/x.js", "")
        .commit("fix(a): x");
    let first = repo.run(&["version"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(repo.read("packages/a/package.json").contains("1.0.1"));
    let second = repo.run(&["version"]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(
        second.stderr.contains("nothing to release"),
        "{}",
        second.stderr
    );
    assert!(repo.read("packages/a/package.json").contains("1.0.1"));
    assert_eq!(repo.git(&["rev-list", "--count", "HEAD"]).trim(), "3");
    let status = repo.run(&["status"]);
    assert!(
        status
            .stdout
            .contains("npm a 1.0.1 versioned, not yet published (last release a@1.0.0)"),
        "{}",
        status.stdout
    );
    // A change after the release commit is pending again, from there.
    let repo = repo.file("packages/a/y.js", "").commit("feat(a): y");
    let doc = repo.run(&["plan", "--json"]).json();
    assert_eq!(releases(&doc), ["a 1.0.1 → 1.1.0"]);
    assert_eq!(doc["releases"][0]["changes"].as_array().unwrap().len(), 1);
}

#[test]
fn a_fix_reverted_before_the_release_does_not_release() {
    let repo = Repo::new()
        .file("package.json", r#"{ "name": "solo", "version": "1.0.0" }"#)
        .commit("chore: init")
        .tag("v1.0.0")
        .file("a.js", "1")
        .commit("fix: a bug");
    repo.git(&["revert", "--no-edit", "HEAD"]);
    assert_eq!(
        repo.run(&["plan", "--json"]).json()["releases"],
        serde_json::json!([])
    );
    // A revert of something released earlier releases nothing either; the rest still counts.
    let repo = Repo::new()
        .file("package.json", r#"{ "name": "solo", "version": "1.0.0" }"#)
        .commit("chore: init")
        .file("early.js", "1")
        .commit("feat: early")
        .tag("v1.0.0");
    repo.git(&["revert", "--no-edit", "HEAD"]);
    let repo = repo.file("b.js", "1").commit("feat: b");
    let doc = repo.run(&["plan", "--json"]).json();
    assert_eq!(releases(&doc), ["solo 1.0.0 → 1.1.0"]);
    let summaries: Vec<&str> = doc["releases"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["summary"].as_str().unwrap())
        .collect();
    assert_eq!(summaries, ["feat: b"]);
}

#[test]
fn tags_of_other_branches_do_not_make_the_walk_read_all_history() {
    let mut repo = Repo::new()
        .file(
            "package.json",
            r#"{ "private": true, "workspaces": ["packages/*"] }"#,
        )
        .file(
            "packages/a/package.json",
            r#"{ "name": "a", "version": "1.5.0" }"#,
        );
    for i in 0..200 {
        repo = repo
            .file("packages/a/old.js", &i.to_string())
            .commit("chore: old work");
    }
    let repo = repo.tag("a@1.5.0");
    repo.git(&["checkout", "-q", "-b", "next"]);
    let repo = repo
        .file("packages/a/next.js", "")
        .commit("feat!: next")
        .tag("a@2.0.0-beta.1");
    repo.git(&["checkout", "-q", "main"]);
    let mut repo = repo;
    for i in 0..13 {
        repo = repo
            .file("packages/a/new.js", &i.to_string())
            .commit("fix: new work");
    }
    let out = repo.run(&["status", "-v", "--json"]);
    let doc = out.json();
    assert_eq!(doc["packages"][0]["last_release"]["name"], "a@1.5.0");
    assert!(out.stderr.contains("walked 14 commits"), "{}", out.stderr);
}

#[test]
fn the_remote_default_branch_is_the_base() {
    let origin = Repo::new()
        .file("package.json", r#"{ "name": "solo", "version": "1.0.0" }"#)
        .commit("chore: init");
    origin.git(&["branch", "-m", "main", "master"]);
    let clone = Repo::bare_dir();
    origin.git(&[
        "clone",
        "-q",
        &origin.path().display().to_string(),
        &clone.path().display().to_string(),
    ]);
    let clone = clone.file("a.js", "").commit("feat: on master");
    let status = clone.run(&["status"]);
    assert!(
        !status.stderr.contains("no base branch"),
        "{}",
        status.stderr
    );
    let lint = clone.run(&["lint-commits"]);
    assert_eq!(lint.code, 0, "{}", lint.stderr);
    let publish = clone.run(&["publish", "--dry-run", "--no-push"]);
    assert!(!publish.stderr.contains("`main`"), "{}", publish.stderr);
    // Without a remote, a repository with only `master` uses it.
    origin.git(&["checkout", "-q", "-b", "topic"]);
    let status = origin.run(&["status", "--json"]);
    assert_eq!(status.json()["since"], "master");
}

#[test]
fn a_lerna_json_that_does_not_parse_names_file_line_and_column() {
    let repo = Repo::new()
        .file(
            "package.json",
            r#"{ "private": true, "workspaces": ["packages/*"] }"#,
        )
        .file(
            "packages/a/package.json",
            r#"{ "name": "a", "version": "1.0.0" }"#,
        )
        .file(
            "lerna.json",
            "{\n  \"version\": \"1.0.0\",\n  \"packages\": [\"packages/*\"],\n}\n",
        )
        .commit("chore: init");
    let out = repo.run(&["plan"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("lerna.json:4:1"), "{}", out.stderr);
}

#[test]
fn a_lerna_version_line_behind_its_packages_warns_and_allow_branch_is_honoured() {
    let repo = Repo::new()
        .file(
            "package.json",
            r#"{ "private": true, "workspaces": ["packages/*"] }"#,
        )
        .file("packages/a/package.json", r#"{ "name": "a", "version": "1.3.0" }"#)
        .file(
            "lerna.json",
            "{\n  \"version\": \"1.2.0\",\n  \"command\": { \"version\": { \"allowBranch\": \"main\" } }\n}\n",
        )
        .commit("chore: init")
        .tag("v1.2.0")
        .file("packages/a/x.js", "")
        .commit("fix: x");
    let out = repo.run(&["plan"]);
    assert!(
        out.stderr.contains(
            "`lerna.json` says the version line is 1.2.0, but the highest version of its packages is 1.3.0 (`a`)"
        ),
        "{}",
        out.stderr
    );
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let refused = repo.run(&["version"]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("`allowBranch` allows `main`"),
        "{}",
        refused.stderr
    );
    repo.git(&["checkout", "-q", "main"]);
    let done = repo.run(&["version"]);
    assert_eq!(done.code, 0, "{}", done.stderr);
    assert_eq!(repo.git(&["log", "-1", "--format=%s"]).trim(), "v1.3.1");
    assert!(repo.read("lerna.json").contains("\"1.3.1\""));
    assert!(repo.read("CHANGELOG.md").contains("1.3.1"));
}

#[test]
fn an_ancient_bare_tag_is_not_the_release_of_a_crate_added_later() {
    // tokio's first releases were tagged `0.1.0`; its test crates, added years later at 0.1.0,
    // have never been released. A new crate follows the workspace's `name-1.2.3` scheme.
    let repo = Repo::new()
        .file("Cargo.toml", "[workspace]\nmembers = [\"tokio\"]\n")
        .file(
            "tokio/Cargo.toml",
            "[package]\nname = \"tokio\"\nversion = \"0.1.0\"\n",
        )
        .commit("chore: init")
        .tag("0.1.0")
        .file(
            "Cargo.toml",
            "[workspace]\nmembers = [\"tokio\", \"tests-build\"]\n",
        )
        .file(
            "tokio/Cargo.toml",
            "[package]\nname = \"tokio\"\nversion = \"1.53.1\"\n",
        )
        .file(
            "tests-build/Cargo.toml",
            "[package]\nname = \"tests-build\"\nversion = \"0.1.0\"\npublish = false\n",
        )
        .commit("chore: much later")
        .tag("tokio-1.53.1")
        .file("tests-build/src/lib.rs", "")
        .commit("fix(tests-build): x");
    let out = repo.run(&["status", "--json", "-v"]);
    let doc = out.json();
    assert_eq!(doc["packages"][0]["name"], "tests-build");
    assert!(doc["packages"][0]["last_release"].is_null(), "{doc}");
    assert!(
        out.stderr.contains(
            "tags `{name}-{version}` (inferred: no tag of it yet, the other packages are tagged so): tests-build"
        ),
        "{}",
        out.stderr
    );
}

/// Issue 11: private packages get no tags by default (as changesets' `privatePackages.tag`), and
/// a never-versioned `0.0.0` private crate never appears in a release.
#[test]
fn private_packages_are_not_tagged_by_default() {
    let repo = Repo::new()
        .file(
            "Cargo.toml",
            "[workspace]\nmembers = [\"benches\", \"tool\"]\n",
        )
        .file(
            "benches/Cargo.toml",
            "[package]\nname = \"benches\"\nversion = \"0.0.0\"\npublish = false\n",
        )
        .file(
            "tool/Cargo.toml",
            "[package]\nname = \"tool\"\nversion = \"1.2.0\"\npublish = false\n",
        )
        .commit("chore: init");
    let out = repo.run(&["publish", "--dry-run", "--no-push"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stdout.contains("benches"), "{}", out.stdout);
    assert!(!out.stdout.contains("tool-v1.2.0"), "{}", out.stdout);
    let asked = repo
        .file("polyship.toml", "[tags]\nprivate = true\n")
        .commit("chore: tag private packages");
    let out = asked.run(&["publish", "--dry-run", "--no-push"]);
    assert!(
        out.stdout.contains("tool-v1.2.0"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    assert!(!out.stdout.contains("benches"), "{}", out.stdout);
}

/// Issue 11: a maturin wheel and its crate share one tag on purpose; two unrelated packages that
/// would claim one tag are refused before anything happens.
#[test]
fn two_releases_never_claim_one_tag_silently() {
    let repo = Repo::new()
        .file("Cargo.toml", "[workspace]\nmembers = [\"a\"]\n")
        .file(
            "a/Cargo.toml",
            "[package]\nname = \"a\"\nversion = \"1.0.0\"\npublish = false\n",
        )
        .file(
            "package.json",
            r#"{ "name": "a", "version": "1.0.0", "private": true }"#,
        )
        .file(
            "polyship.toml",
            "[tags]\ntemplates = [\"v{version}\"]\nprivate = true\n",
        )
        .commit("chore: init");
    let out = repo.run(&["publish", "--dry-run", "--no-push"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("the releases of `cargo:a` and `npm:a` would all be tagged `v1.0.0`"),
        "{}",
        out.stderr
    );
}

/// Issue 12: escape sequences and bidirectional overrides in a commit subject never reach the
/// terminal raw, and no control character lands in the changelog.
#[test]
fn control_characters_never_reach_the_terminal_or_the_changelog() {
    let repo = Repo::new()
        .file("package.json", r#"{ "name": "solo", "version": "1.0.0" }"#)
        .commit("chore: init")
        .tag("v1.0.0")
        .file("a.js", "")
        .commit("fix: \u{1b}[31mred\u{1b}[0m \u{1b}]0;owned\u{7}title \u{202e}gnp.exe");
    let status = repo.run(&["status"]);
    assert!(
        !status.stdout.contains('\u{1b}') && !status.stdout.contains('\u{202e}'),
        "{:?}",
        status.stdout
    );
    assert!(
        status.stdout.contains("\\u{1b}[31mred"),
        "{}",
        status.stdout
    );
    let out = repo.run(&["version"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let log = repo.read("CHANGELOG.md");
    assert!(log.contains("red title \u{202e}gnp.exe"), "{log:?}");
    assert!(!log.chars().any(|c| c.is_control() && c != '\n'), "{log:?}");
}
