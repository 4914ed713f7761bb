//! The history cache (`.git/polyship/history-cache`): results with it are the results without it,
//! through merges, a rewritten branch that drops cached commits, a package layout change, a
//! config change and a damaged cache file — and a warm run reads from it.

#![allow(clippy::unwrap_used)] // a failed unwrap in a test helper is a failed test

mod support;

use support::Repo;

const CACHE: &str = ".git/polyship/history-cache";

/// `status --json` and `plan --json` through the cache, checked against `--no-cache`; returns
/// the `-vv` line that says what the cache held.
fn same_with_and_without_cache(repo: &Repo, step: &str) -> String {
    let mut cached = Vec::new();
    for command in ["status", "plan"] {
        let with = repo.run(&[command, "--json", "-vv"]);
        assert_eq!(with.code, 0, "{step}: {}", with.stderr);
        let without = repo.run(&[command, "--json", "--no-cache"]);
        assert_eq!(without.code, 0, "{step}: {}", without.stderr);
        assert_eq!(
            with.stdout, without.stdout,
            "{step}: `{command}` with the cache (left) and without (right)"
        );
        cached.push(
            with.stderr
                .lines()
                .find(|l| l.contains("history cache"))
                .unwrap_or_else(|| panic!("{step}: no cache line in\n{}", with.stderr))
                .to_owned(),
        );
    }
    cached.swap_remove(0)
}

/// How many commits the walk took from the cache, as `-vv` says it.
fn from_cache(line: &str) -> usize {
    line.split(" from the history cache")
        .next()
        .and_then(|l| l.rsplit(['(', ' ']).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {line:?}"))
}

/// Writes one file and commits it.
fn change(repo: &Repo, path: &str, contents: &str, message: &str) {
    repo.write(path, contents);
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", message]);
}

fn merge_topic(repo: &Repo) {
    repo.git(&[
        "merge",
        "-q",
        "--no-ff",
        "topic",
        "-m",
        "Merge branch 'topic'",
    ]);
}

fn monorepo() -> Repo {
    Repo::new()
        .file(
            "package.json",
            r#"{ "private": true, "workspaces": ["packages/*"] }"#,
        )
        .file(
            "packages/core/package.json",
            r#"{ "name": "@acme/core", "version": "1.0.0" }"#,
        )
        .file(
            "packages/web/package.json",
            r#"{ "name": "@acme/web", "version": "0.4.0", "dependencies": { "@acme/core": "^1.0.0" } }"#,
        )
        .file(
            "crates/engine/Cargo.toml",
            "[package]\nname = \"engine\"\nversion = \"0.2.0\"\nedition = \"2021\"\n",
        )
        .file("crates/engine/src/lib.rs", "")
        .file("Cargo.toml", "[workspace]\nmembers = [\"crates/*\"]\n")
        .commit("chore: init")
        .tag("@acme/core@1.0.0")
        .tag("@acme/web@0.4.0")
        .tag("engine-v0.2.0")
        .file("packages/core/src/a.js", "1")
        .commit("feat(core): a")
        .file("crates/engine/src/lib.rs", "pub fn f() {}")
        .commit("fix(engine): f")
        .file("README.md", "shared")
        .commit("docs: readme")
}

#[test]
fn the_cache_changes_no_result() {
    let repo = monorepo();
    let cold = same_with_and_without_cache(&repo, "cold");
    assert!(repo.exists(CACHE), "the first run writes the cache");
    let warm = same_with_and_without_cache(&repo, "warm");
    assert!(
        from_cache(&warm) > 0,
        "a warm run reads from the cache: {warm}"
    );
    assert_eq!(from_cache(&cold), 0, "{cold}");

    // A merged branch: its commits and the merge.
    repo.git(&["checkout", "-q", "-b", "topic"]);
    change(&repo, "packages/web/src/x.js", "x", "feat(web)!: x");
    repo.git(&["checkout", "-q", "-"]);
    change(&repo, "packages/core/src/b.js", "b", "fix(core): b");
    merge_topic(&repo);
    let merged = same_with_and_without_cache(&repo, "after a merge");
    assert!(from_cache(&merged) > 0, "{merged}");

    // A release versioned, not yet published: its version commit ends the range, found by a
    // search the cache remembers and continues from the next head.
    change(
        &repo,
        "packages/core/package.json",
        r#"{ "name": "@acme/core", "version": "1.1.0" }"#,
        "chore(release): version packages",
    );
    same_with_and_without_cache(&repo, "after a version commit");
    change(&repo, "packages/core/src/c.js", "c", "fix(core): c");
    same_with_and_without_cache(&repo, "after a commit on a versioned package");
    let doc = repo.run(&["status", "--json"]).json();
    let core = doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "@acme/core")
        .unwrap();
    assert!(core["versioned"].is_string(), "{core:#}");
    assert_eq!(core["changes"].as_array().unwrap().len(), 1, "{core:#}");
    change(
        &repo,
        "packages/core/package.json",
        r#"{ "name": "@acme/core", "version": "1.2.0" }"#,
        "chore(release): version packages again",
    );
    same_with_and_without_cache(&repo, "after a second version commit");

    // A rewritten branch (what a force-push leaves): cached commits no longer reached.
    repo.git(&["reset", "-q", "--hard", "HEAD~5"]);
    change(&repo, "packages/web/src/y.js", "y", "fix(web): y");
    same_with_and_without_cache(&repo, "after a rewrite");

    // A layout change: a package moves, another appears inside a package's directory.
    repo.git(&["mv", "packages/web", "packages/site"]);
    repo.write(
        "packages/core/plugins/p/package.json",
        r#"{ "name": "@acme/plugin", "version": "0.1.0" }"#,
    );
    repo.write(
        "package.json",
        r#"{ "private": true, "workspaces": ["packages/*", "packages/core/plugins/*"] }"#,
    );
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", "refactor: move web, add a plugin"]);
    same_with_and_without_cache(&repo, "after a layout change");

    // A config change that gives shared files to every package.
    repo.write("polyship.toml", "[commits]\nshared-paths = \"all\"\n");
    same_with_and_without_cache(&repo, "with shared paths for all");

    // A damaged cache: ignored, rebuilt.
    let bytes = std::fs::read(repo.join(CACHE)).unwrap();
    std::fs::write(repo.join(CACHE), &bytes[..bytes.len() / 2]).unwrap();
    let damaged = same_with_and_without_cache(&repo, "with a damaged cache");
    assert_eq!(from_cache(&damaged), 0, "{damaged}");
    let rebuilt = same_with_and_without_cache(&repo, "rebuilt");
    assert!(from_cache(&rebuilt) > 0, "{rebuilt}");
}

/// lerna's rules walk every commit reachable from HEAD, not only the first-parent chain.
#[test]
fn the_cache_changes_no_result_when_every_commit_is_walked() {
    let repo = monorepo()
        .file(
            "lerna.json",
            r#"{ "version": "independent", "packages": ["packages/*"] }"#,
        )
        .commit("chore: lerna");
    repo.git(&["checkout", "-q", "-b", "topic"]);
    change(&repo, "packages/web/src/x.js", "x", "feat(web): x");
    repo.git(&["checkout", "-q", "-"]);
    merge_topic(&repo);
    same_with_and_without_cache(&repo, "cold");
    let warm = same_with_and_without_cache(&repo, "warm");
    assert!(from_cache(&warm) > 0, "{warm}");
}

#[test]
fn no_cache_reads_and_writes_nothing() {
    let repo = monorepo();
    let out = repo.run(&["status", "--no-cache"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!repo.exists(CACHE));
}

#[test]
fn a_cache_that_cannot_be_written_is_a_warning_and_changes_nothing() {
    let repo = monorepo();
    let without = repo.run(&["status", "--json", "--no-cache"]);
    assert_eq!(without.code, 0, "{}", without.stderr);
    // A directory where the cache file goes: it can be neither read nor replaced.
    repo.write(".git/polyship/history-cache/keep", "not a cache\n");
    let with = repo.run(&["status", "--json"]);
    assert_eq!(with.code, 0, "{}", with.stderr);
    assert_eq!(with.stdout, without.stdout);
    assert!(
        with.stderr.contains("history cache") && with.stderr.contains("was not written"),
        "{}",
        with.stderr
    );
    assert_eq!(
        repo.read(".git/polyship/history-cache/keep"),
        "not a cache\n"
    );
}

/// `status --json` and `plan --json` (no cache) with history compared by git (`git diff-tree`,
/// what long histories use) and by polyship itself (short ones), checked equal.
fn same_with_both_comparisons(repo: &Repo, dir: &std::path::Path, step: &str) {
    for command in ["status", "plan"] {
        let run = |engine: &str| {
            let out = repo.run_env(
                dir,
                &[command, "--json", "--no-cache"],
                &[("POLYSHIP_HISTORY_ENGINE".into(), engine.into())],
            );
            assert_eq!(out.code, 0, "{step}: {engine}: {}", out.stderr);
            out.stdout
        };
        assert_eq!(
            run("git"),
            run("gix"),
            "{step}: `{command}` compared by git (left) and by polyship (right)"
        );
    }
}

/// The two ways of comparing a commit with its parent agree on every shape of change: nested
/// packages, a root package, files outside every package, changesets added (and a directory of
/// that name), a package directory replaced by a file, renames, merges, a walk of every commit,
/// and the root commit, compared with the empty tree (the root package has no tag).
#[test]
fn git_and_polyship_compare_commits_alike() {
    let repo = monorepo();
    same_with_both_comparisons(&repo, repo.path(), "plain");
    // Both sources count, so that every commit's packages show.
    change(
        &repo,
        "polyship.toml",
        "[changes]\nsources = [\"changesets\", \"commits\"]\n",
        "chore: config",
    );
    change(
        &repo,
        ".changeset/brave-cats.md",
        "---\n\"@acme/core\": minor\n---\n\nBrave\n",
        "chore: changeset",
    );
    std::fs::create_dir_all(repo.join(".changeset/odd.md")).unwrap();
    change(
        &repo,
        ".changeset/odd.md/inner",
        "x",
        "chore: a directory named like a changeset",
    );
    repo.git(&["rm", "-q", "-r", ".changeset/odd.md"]);
    change(
        &repo,
        ".changeset/odd.md",
        "---\n\"engine\": patch\n---\n\nOdd\n",
        "chore: now a file",
    );
    change(
        &repo,
        "packages/core/plugins/p/package.json",
        r#"{ "name": "@acme/plugin", "version": "0.1.0" }"#,
        "feat(plugin): a nested package",
    );
    change(
        &repo,
        "package.json",
        r#"{ "private": true, "workspaces": ["packages/*", "packages/core/plugins/*"] }"#,
        "chore: the plugin joins the workspace",
    );
    repo.write("src/lib.rs", "");
    change(
        &repo,
        "Cargo.toml",
        "[package]\nname = \"acme\"\nversion = \"1.0.0\"\nedition = \"2021\"\n\n[workspace]\nmembers = [\"crates/*\"]\n",
        "chore: the root is a crate too",
    );
    change(
        &repo,
        "packages/core/plugins/p/src/x.js",
        "x",
        "fix(plugin): x",
    );
    change(&repo, "packages/core/src/y.js", "y", "fix(core): y");
    change(
        &repo,
        "docs/guide.md",
        "g",
        "docs: guide outside every package",
    );
    change(
        &repo,
        "scripts/build.sh",
        "b",
        "fix: the build script, the root crate's",
    );
    repo.git(&["mv", "packages/core/src/a.js", "packages/web/a.js"]);
    repo.git(&[
        "commit",
        "-q",
        "-m",
        "refactor: move a file between packages",
    ]);
    repo.git(&["checkout", "-q", "-b", "topic"]);
    change(
        &repo,
        "crates/engine/src/lib.rs",
        "pub fn g() {}",
        "feat(engine): g",
    );
    repo.git(&["checkout", "-q", "-"]);
    change(&repo, "packages/web/src/z.js", "z", "fix(web): z");
    merge_topic(&repo);
    same_with_both_comparisons(&repo, repo.path(), "many shapes");
    // A package directory that becomes a file (and the package goes).
    repo.git(&["rm", "-q", "-r", "packages/core/plugins"]);
    change(
        &repo,
        "packages/core/plugins",
        "now a file",
        "refactor: drop the plugins",
    );
    same_with_both_comparisons(&repo, repo.path(), "a directory replaced by a file");
    // lerna's rules walk every commit.
    change(
        &repo,
        "lerna.json",
        r#"{ "version": "independent", "packages": ["packages/*"] }"#,
        "chore: lerna",
    );
    same_with_both_comparisons(&repo, repo.path(), "every commit walked");
}
