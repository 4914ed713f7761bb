//! `polyship init`: writes a commented config reflecting discovery, and never overwrites one.

#![allow(clippy::unwrap_used)] // a failed unwrap in a test helper is a failed test

mod support;

use support::Repo;

#[test]
fn writes_a_config_listing_what_was_discovered() {
    let repo = Repo::new()
        .file(
            "package.json",
            r#"{ "private": true, "workspaces": ["packages/*"] }"#,
        )
        .file(
            "packages/a/package.json",
            r#"{ "name": "@acme/a", "version": "1.0.0" }"#,
        )
        .file(
            "packages/b/package.json",
            r#"{ "name": "@acme/b", "version": "0.1.0", "private": true }"#,
        )
        .commit("init");
    let out = repo.run(&["init"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("Created polyship.toml (2 packages discovered)"),
        "{}",
        out.stderr
    );
    let written = repo.read("polyship.toml");
    insta::assert_snapshot!(written);
    // The written file is a valid config: listing still works and finds the same packages.
    assert_eq!(
        repo.run(&["list", "--json"]).json()["packages"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn refuses_to_overwrite() {
    let repo = Repo::new().file("polyship.toml", "# mine\n").commit("init");
    let out = repo.run(&["init"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("already exists"), "{}", out.stderr);
    assert!(out.stderr.contains("help:"), "{}", out.stderr);
    assert_eq!(repo.read("polyship.toml"), "# mine\n");
}

#[test]
fn refuses_to_write_over_a_broken_workspace() {
    let repo = Repo::new().file("package.json", "{ broken").commit("init");
    let out = repo.run(&["init"]);
    assert_eq!(out.code, 2);
    assert!(!repo.exists("polyship.toml"));
}

#[test]
fn hooks_install_a_commit_msg_check_that_git_runs() {
    let repo = Repo::new().file("a.txt", "1").commit("chore: init");
    let out = repo.run(&["init", "--hooks"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("Installed commit-msg hook"),
        "{}",
        out.stderr
    );
    assert!(
        !repo.exists("polyship.toml"),
        "--hooks writes only the hook"
    );
    repo.write("a.txt", "2");
    repo.git(&["add", "-A"]);
    // The real git runs the hook: a bad message is refused, a good one goes through.
    let mut bad = std::process::Command::new("git");
    bad.args([
        "-C",
        repo.path().to_str().unwrap(),
        "-c",
        "user.name=T",
        "-c",
        "user.email=t@e",
        "commit",
        "-q",
        "-m",
        "wip",
    ]);
    let refused = bad.output().unwrap();
    assert!(!refused.status.success(), "the hook refuses `wip`");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("[header-format]"));
    let repo = repo.commit("fix: a real message");
    assert_eq!(
        repo.git(&["log", "-1", "--format=%s"]).trim(),
        "fix: a real message"
    );
    // Running again replaces polyship's own hook; a user's hook is left alone.
    assert_eq!(repo.run(&["init", "--hooks"]).code, 0);
    repo.write(".git/hooks/commit-msg", "#!/bin/sh\nexit 0\n");
    let theirs = repo.run(&["init", "--hooks"]);
    assert_eq!(theirs.code, 1);
    assert!(
        theirs.stderr.contains("is not polyship's"),
        "{}",
        theirs.stderr
    );
    assert_eq!(repo.read(".git/hooks/commit-msg"), "#!/bin/sh\nexit 0\n");
}

/// Issue 11: `init` writes what polyship inferred — sources, tag scheme, base branch, the groups of
/// `.changeset/config.json` — and the file it writes is one polyship reads back unchanged.
#[test]
fn writes_the_inferred_settings_of_a_changesets_repository() {
    let repo = Repo::new()
        .file(
            "package.json",
            r#"{ "private": true, "workspaces": ["packages/*"] }"#,
        )
        .file(
            "packages/a/package.json",
            r#"{ "name": "@acme/a", "version": "1.0.0" }"#,
        )
        .file(
            "packages/b/package.json",
            r#"{ "name": "@acme/b", "version": "1.0.0" }"#,
        )
        .file(
            ".changeset/config.json",
            r#"{ "fixed": [["@acme/a", "@acme/b"]], "baseBranch": "trunk" }"#,
        )
        .commit("chore: init")
        .tag("@acme/a@1.0.0")
        .tag("@acme/b@1.0.0");
    let before = repo.run(&["plan", "--json"]).stdout;
    let out = repo.run(&["init"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let written = repo.read("polyship.toml");
    for needle in [
        "sources = [\"changesets\"]",
        "# Inferred: the repository has `.changeset/`.",
        "templates = [\"{name}@{version}\"]",
        "# base-branch = \"trunk\"",
        "# kind = \"fixed\"\n# packages = [\"@acme/a\", \"@acme/b\"]",
        "https://github.com/polyship/polyship/blob/main/docs/config.md",
    ] {
        assert!(
            written.contains(needle),
            "missing `{needle}` in:\n{written}"
        );
    }
    let after = repo.run(&["plan", "--json"]);
    assert_eq!(after.code, 0, "{}", after.stderr);
    let strip = |s: &str| -> String {
        s.lines()
            .filter(|l| !l.contains("\"fingerprint\""))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        strip(&before),
        strip(&after.stdout),
        "the written settings change nothing"
    );
}

#[test]
fn init_pipeline_adds_a_starter_pipeline_with_each_ecosystems_gates() {
    let repo = Repo::new()
        .file(
            "Cargo.toml",
            "[package]\nname = \"a\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
        )
        .file("src/lib.rs", "")
        .file(
            "py/pyproject.toml",
            "[project]\nname = \"p\"\nversion = \"1.0.0\"\n",
        )
        .file(
            "polyship.toml",
            "# ours\nignore = [\"vendor\"]\n[[package]]\npath = \"py\"\n",
        )
        .commit("feat: first");
    let out = repo.run(&["init", "--pipeline"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let text = repo.read("polyship.toml");
    assert!(
        text.starts_with(
            "# ours\nignore = [\"vendor\"]\n[[package]]\npath = \"py\"\n\n# A release pipeline"
        ),
        "{text}"
    );
    for gate in [
        "cargo fmt --all -- --check",
        "cargo test --workspace --locked",
        "python3 -m pytest",
    ] {
        assert!(text.contains(&format!("run = \"{gate}\"")), "{text}");
    }
    assert!(!text.contains("npm test"), "{text}");
    let list = repo.run(&["run", "--list"]);
    assert_eq!(
        list.stdout,
        "release  8 steps    Check, version, publish, verify\n",
        "{}",
        list.snapshot()
    );
    let out = repo.run(&["run", "release", "--dry-run"]);
    assert!(
        out.stdout
            .contains("needs: clean, cargo-fmt, cargo-clippy, cargo-test, pytest"),
        "{}",
        out.snapshot()
    );

    let again = repo.run(&["init", "--pipeline"]);
    assert_eq!(again.code, 1, "{}", again.snapshot());
    assert!(
        again.stderr.contains("already has `[pipeline.release]`"),
        "{}",
        again.stderr
    );
}
