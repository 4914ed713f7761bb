//! `polyship status` over real histories: both sources of changes, attributed to packages.

#![allow(clippy::unwrap_used)] // a failed unwrap in a test helper is a failed test

mod support;

use serde_json::Value;
use support::Repo;

/// `name: [bump source summary, …]` for every package with changes.
fn summary(doc: &Value) -> Vec<String> {
    doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let changes: Vec<String> = p["changes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    format!(
                        "{} {} {}",
                        c["bump"].as_str().unwrap(),
                        c["source"].as_str().unwrap(),
                        c["summary"].as_str().unwrap()
                    )
                })
                .collect();
            format!("{}: {}", p["name"].as_str().unwrap(), changes.join(" | "))
        })
        .collect()
}

fn npm_repo() -> Repo {
    Repo::new()
        .file(
            "package.json",
            r#"{ "private": true, "workspaces": ["packages/*"] }"#,
        )
        .file(
            "packages/foo/package.json",
            r#"{ "name": "foo", "version": "1.0.0" }"#,
        )
        .file(
            "packages/foo-bar/package.json",
            r#"{ "name": "foo-bar", "version": "2.0.0" }"#,
        )
        .commit("chore: init")
}

#[test]
fn commits_count_from_each_packages_own_last_tag() {
    let repo = npm_repo()
        .tag("foo@1.0.0")
        .file("packages/foo/a.js", "1")
        .file("packages/foo-bar/a.js", "1")
        .commit("fix: both packages")
        // The tagMatch trap: `foo-bar@2.0.0` must never count as a release of `foo`.
        .tag("foo-bar@2.0.0")
        .file("packages/foo/b.js", "2")
        .commit("feat(foo): new thing\n\nWith a body.")
        .file("packages/foo-bar/c.js", "3")
        .commit("docs: no release")
        .file("README.md", "outside every package")
        .commit("fix: shared file");
    let doc = repo.run(&["status", "--json"]).json();
    assert_eq!(
        summary(&doc),
        ["foo: minor commit feat(foo): new thing | patch commit fix: both packages"],
        "foo-bar has no change after its tag; the README belongs to no package"
    );
    assert_eq!(doc["packages"][0]["last_release"]["name"], "foo@1.0.0");
    assert_eq!(doc["packages"][0]["changes"][0]["kind"], "feature");
}

#[test]
fn a_package_without_tags_takes_its_whole_history() {
    let repo = npm_repo()
        .file("packages/foo-bar/x.js", "x")
        .commit("feat!: redo");
    let doc = repo.run(&["status", "--json"]).json();
    assert_eq!(summary(&doc), ["foo-bar: major commit feat!: redo"]);
    assert!(doc["packages"][0]["last_release"].is_null());
}

#[test]
fn shared_paths_can_count_for_every_package() {
    let repo = npm_repo()
        .tag("foo@1.0.0")
        .tag("foo-bar@2.0.0")
        .file(
            "polyship.toml",
            "[commits]\nshared-paths = \"all\"\ntypes = { perf = \"fix\", feat = \"none\" }\n",
        )
        .commit("perf: faster build")
        .file("packages/foo/x.js", "x")
        .commit("feat(foo): not released by this config");
    let doc = repo.run(&["status", "--json"]).json();
    assert_eq!(
        summary(&doc),
        [
            "foo: patch commit perf: faster build",
            "foo-bar: patch commit perf: faster build"
        ]
    );
}

#[test]
fn tags_with_unparseable_versions_warn_and_do_not_count() {
    let repo = npm_repo()
        .tag("foo@next")
        .file("packages/foo/x.js", "x")
        .commit("fix: x");
    let out = repo.run(&["status", "--json"]);
    assert_eq!(summary(&out.json()), ["foo: patch commit fix: x"]);
    assert!(
        out.stderr
            .contains("the version in tag `foo@next` does not parse"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_highest_reachable_tag_wins_and_configured_templates_apply() {
    let repo = Repo::new()
        .file(
            "polyship.toml",
            "[tags]\ntemplates = [\"release/{name}/{version}\"]\n",
        )
        .file("Cargo.toml", "[workspace]\nmembers = [\"a\"]\n")
        .file(
            "a/Cargo.toml",
            "[package]\nname = \"a\"\nversion = \"1.10.0\"\n",
        )
        .commit("chore: init")
        .tag("release/a/1.9.0")
        .file("a/x.rs", "")
        .commit("fix: after 1.9")
        .tag("release/a/1.10.0")
        .tag("a-v9.9.9")
        .file("a/y.rs", "")
        .commit("fix: after 1.10");
    let doc = repo.run(&["status", "--json"]).json();
    assert_eq!(summary(&doc), ["a: patch commit fix: after 1.10"]);
    assert_eq!(doc["packages"][0]["last_release"]["version"], "1.10.0");
}

#[test]
fn merges_follow_the_first_parent_and_tags_on_merged_branches_count() {
    let repo = npm_repo().tag("foo@1.0.0").tag("foo-bar@2.0.0");
    repo.git(&["checkout", "-q", "-b", "release"]);
    let repo = repo
        .file("packages/foo/r.js", "r")
        .commit("fix(foo): on the branch")
        .tag("foo@1.0.1");
    repo.git(&["checkout", "-q", "main"]);
    let repo = repo
        .file("packages/foo-bar/m.js", "m")
        .commit("fix(foo-bar): on main");
    repo.git(&[
        "merge",
        "-q",
        "--no-ff",
        "-m",
        "Merge branch 'release'",
        "release",
    ]);
    let repo = repo
        .file("packages/foo/after.js", "a")
        .commit("feat(foo): after the merge");
    let doc = repo.run(&["status", "--json"]).json();
    assert_eq!(
        summary(&doc),
        [
            "foo: minor commit feat(foo): after the merge",
            "foo-bar: patch commit fix(foo-bar): on main"
        ]
    );
    assert_eq!(doc["packages"][0]["last_release"]["name"], "foo@1.0.1");
}

#[test]
fn detached_head_works() {
    let repo = npm_repo()
        .tag("foo@1.0.0")
        .file("packages/foo/x.js", "x")
        .commit("fix: x");
    repo.git(&["checkout", "-q", "--detach", "HEAD"]);
    assert_eq!(
        summary(&repo.run(&["status", "--json"]).json()),
        ["foo: patch commit fix: x"]
    );
}

#[test]
fn a_shallow_clone_that_cuts_the_range_is_an_error() {
    let origin = npm_repo()
        .tag("foo@1.0.0")
        .tag("foo-bar@2.0.0")
        .file("packages/foo/1.js", "1")
        .commit("fix: one")
        .file("packages/foo/2.js", "2")
        .commit("fix: two")
        .file("packages/foo/3.js", "3")
        .commit("fix: three");
    let shallow = origin.shallow_clone(2);
    let out = shallow.run(&["status", "--json"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("this clone is shallow"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("`foo`") && out.stderr.contains("git fetch --unshallow"),
        "{}",
        out.stderr
    );
    // Deep enough to reach every tag: fine.
    let deep = origin.shallow_clone(4);
    assert_eq!(summary(&deep.run(&["status", "--json"]).json()).len(), 1);
}

#[test]
fn changesets_and_commits_together_with_uncovered_packages() {
    let repo = npm_repo()
        .tag("foo@1.0.0")
        .tag("foo-bar@2.0.0")
        .file(
            ".changeset/config.json",
            r#"{ "baseBranch": "main", "changelog": "@changesets/cli/changelog" }"#,
        )
        .file(".changeset/README.md", "# Changesets\n")
        .commit("chore: add changesets");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let repo = repo
        .file(
            ".changeset/brave-lions.md",
            "---\n\"foo\": minor\n---\n\nAdd a flag\n\nLonger text.\n",
        )
        .file("packages/foo/flag.js", "f")
        .file("packages/foo-bar/touch.js", "t")
        .commit("chore: touch both");
    let out = repo.run(&["status", "--json"]);
    let doc = out.json();
    assert_eq!(summary(&doc), ["foo: minor changeset Add a flag"]);
    let change = &doc["packages"][0]["changes"][0];
    assert_eq!(change["id"], "brave-lions");
    assert_eq!(
        change["commit"].as_str().unwrap(),
        repo.git(&["rev-parse", "HEAD"]).trim()
    );
    assert_eq!(
        doc["uncovered"],
        serde_json::json!([{ "name": "foo-bar", "ecosystem": "npm" }])
    );
    assert_eq!(doc["since"], "main");

    let gate = repo.run(&["status", "--require-changeset"]);
    assert_eq!(gate.code, 1);
    insta::assert_snapshot!(gate.snapshot());

    let since_head = repo.run(&["status", "--require-changeset", "--since", "HEAD"]);
    assert_eq!(since_head.code, 0, "{}", since_head.stderr);
    let empty = repo.file(".changeset/nothing.md", "---\n---\n");
    assert_eq!(
        empty.run(&["status", "--require-changeset"]).code,
        0,
        "an empty changeset covers every package"
    );
}

#[test]
fn changesets_name_packages_of_every_ecosystem() {
    let repo = Repo::new()
        .file("Cargo.toml", "[workspace]\nmembers = [\"core\"]\n")
        .file(
            "core/Cargo.toml",
            "[package]\nname = \"acme\"\nversion = \"1.0.0\"\n",
        )
        .file(
            "package.json",
            r#"{ "private": true, "workspaces": ["js"] }"#,
        )
        .file(
            "js/package.json",
            r#"{ "name": "acme", "version": "1.0.0" }"#,
        )
        .file(
            "py/pyproject.toml",
            "[project]\nname = \"Acme_Py\"\nversion = \"1.0.0\"\n",
        )
        .file(
            ".changeset/one.md",
            "---\ncargo:acme: major\n'npm:acme': patch\nacme.py: minor\n---\n\nAll three\n",
        )
        .commit("chore: init");
    let doc = repo.run(&["status", "--json"]).json();
    assert_eq!(
        summary(&doc),
        [
            "acme: major changeset All three",
            "acme: patch changeset All three",
            "acme-py: minor changeset All three"
        ]
    );
    let ambiguous = repo.file(".changeset/two.md", "---\nacme: minor\n---\n\nWhich one?\n");
    let out = ambiguous.run(&["status"]);
    assert_eq!(out.code, 2);
    insta::assert_snapshot!(out.snapshot());
}

#[test]
fn bad_changesets_name_file_and_line() {
    let base = || npm_repo();
    let cases = [
        ("typo.md", "---\n\"fooo\": minor\n---\n\nx\n"),
        (
            "bump.md",
            "---\n\"foo\": minor\n\"foo-bar\": big\n---\n\nx\n",
        ),
        ("empty.md", ""),
        ("front.md", "---\n\"foo\": [minor\n"),
    ];
    for (name, text) in cases {
        let repo = base().file(&format!(".changeset/{name}"), text);
        let out = repo.run(&["status", "--json"]);
        assert_eq!(out.code, 2, "{name}: {}", out.stderr);
        assert_eq!(out.stdout, "");
        insta::assert_snapshot!(format!("bad_changeset_{name}"), out.stderr);
    }
}

#[test]
fn ignored_packages_in_changesets_warn() {
    let repo = npm_repo()
        .file(
            ".changeset/config.json",
            r#"{ "ignore": ["foo-*"], "unknownOption": true }"#,
        )
        .file(
            ".changeset/x.md",
            "---\n\"foo-bar\": patch\n\"foo\": patch\n---\n\nx\n",
        )
        .commit("chore: x");
    let out = repo.run(&["status", "--json"]);
    assert_eq!(summary(&out.json()), ["foo: patch changeset x"]);
    assert!(
        out.stderr
            .contains("names `foo-bar`, which `.changeset/config.json` ignores"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("a key polyship does not know: `unknownOption`"),
        "{}",
        out.stderr
    );
}

#[test]
fn nonconforming_commits_are_counted_and_shown_with_verbose() {
    let repo = npm_repo()
        .file("packages/foo/x.js", "x")
        .commit("did some stuff");
    let out = repo.run(&["-v", "status", "--json"]);
    assert_eq!(
        out.json()["nonconforming"],
        1,
        "`did some stuff`; `chore: init` conforms"
    );
    assert!(
        out.stderr.contains("are not Conventional Commits"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_repository_without_commits_has_no_changes() {
    let repo = Repo::new().file("package.json", r#"{ "name": "solo", "version": "1.0.0" }"#);
    let out = repo.run(&["status", "--json"]);
    assert_eq!(out.json()["packages"], serde_json::json!([]));
}

/// main: init → fix(foo) on main → merge of `feature` (feat(foo) on the branch, tagged `foo@1.0.1`).
fn merged_branch_repo(first_parent: bool) -> Repo {
    let repo = npm_repo()
        .file(
            "polyship.toml",
            &format!("[commits]\nfirst-parent = {first_parent}\n"),
        )
        .commit("chore: config")
        .tag("foo@1.0.0")
        .tag("foo-bar@2.0.0");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let repo = repo
        .file("packages/foo/branch.js", "b")
        .commit("feat(foo): on the branch");
    repo.git(&["checkout", "-q", "main"]);
    let repo = repo
        .file("packages/foo/main.js", "m")
        .commit("fix(foo): on main");
    repo.git(&[
        "merge",
        "-q",
        "--no-ff",
        "-m",
        "Merge branch 'feature'",
        "feature",
    ]);
    repo
}

#[test]
fn first_parent_false_reads_the_commits_of_merged_branches() {
    let first_parent = merged_branch_repo(true);
    assert_eq!(
        summary(&first_parent.run(&["status", "--json"]).json()),
        ["foo: patch commit fix(foo): on main"]
    );
    let all = merged_branch_repo(false);
    assert_eq!(
        summary(&all.run(&["status", "--json"]).json()),
        ["foo: minor commit feat(foo): on the branch | patch commit fix(foo): on main"]
    );
}

#[test]
fn with_every_commit_a_release_tag_excludes_exactly_its_ancestors() {
    let repo = merged_branch_repo(false);
    repo.git(&["tag", "foo@1.0.1", "feature"]);
    let doc = repo.run(&["status", "--json"]).json();
    assert_eq!(
        summary(&doc),
        ["foo: patch commit fix(foo): on main"],
        "the branch commit is in 1.0.1; the main fix is not"
    );
    assert_eq!(doc["packages"][0]["last_release"]["name"], "foo@1.0.1");
}

#[test]
fn a_tag_on_a_branch_head_has_not_merged_is_not_a_release() {
    let repo = npm_repo().tag("foo@1.0.0");
    repo.git(&["checkout", "-q", "-b", "other"]);
    let repo = repo
        .file("packages/foo/o.js", "o")
        .commit("fix(foo): elsewhere")
        .tag("foo@9.0.0");
    repo.git(&["checkout", "-q", "main"]);
    let repo = repo.file("packages/foo/m.js", "m").commit("fix(foo): here");
    for first_parent in [true, false] {
        repo.write(
            "polyship.toml",
            &format!("[commits]\nfirst-parent = {first_parent}\n"),
        );
        let doc = repo.run(&["status", "--json"]).json();
        assert_eq!(
            doc["packages"][0]["last_release"]["name"], "foo@1.0.0",
            "first-parent = {first_parent}"
        );
        assert_eq!(
            summary(&doc),
            ["foo: patch commit fix(foo): here"],
            "first-parent = {first_parent}"
        );
    }
}

#[test]
fn only_changesets_added_on_the_branch_cover_its_changes() {
    // A changeset already on main describes an earlier change; the branch must describe its own.
    let repo = npm_repo()
        .tag("foo@1.0.0")
        .tag("foo-bar@2.0.0")
        .file(
            ".changeset/older.md",
            "---\n\"foo-bar\": patch\n---\n\nAn earlier fix\n",
        )
        .commit("chore: an earlier changeset");
    repo.git(&["checkout", "-q", "-b", "topic"]);
    let repo = repo
        .file("packages/foo-bar/new.js", "n")
        .commit("feat: new work");
    let doc = repo.run(&["status", "--json"]).json();
    assert_eq!(
        doc["uncovered"],
        serde_json::json!([{ "name": "foo-bar", "ecosystem": "npm" }])
    );
    // Not yet committed, a changeset added on the branch counts.
    let repo = repo.file(
        ".changeset/mine.md",
        "---\n\"foo-bar\": minor\n---\n\nNew work\n",
    );
    assert_eq!(
        repo.run(&["status", "--json"]).json()["uncovered"],
        serde_json::json!([])
    );
}
