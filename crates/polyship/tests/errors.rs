//! Bad input: every error names the file, the line and the fix, exits 2, and prints nothing on
//! stdout as if it had succeeded.

#![allow(clippy::unwrap_used)] // a failed unwrap in a test helper is a failed test

mod support;

use support::Repo;

fn fails(repo: &Repo) -> String {
    let out = repo.run(&["list", "--json"]);
    assert_eq!(out.code, 2, "expected exit 2: {}", out.snapshot());
    assert_eq!(out.stdout, "", "nothing on stdout after an error");
    out.snapshot()
}

#[test]
fn malformed_toml_names_file_line_and_column() {
    let repo = Repo::new()
        .file("Cargo.toml", "[workspace]\nmembers = [\"a\"]\n")
        .file("a/Cargo.toml", "[package]\nname = \"a\"\nversion = 1.0.0\n")
        .commit("init");
    insta::assert_snapshot!(fails(&repo));
}

#[test]
fn malformed_json_names_file_line_and_column() {
    let repo = Repo::new()
        .file("package.json", "{ \"workspaces\": [\"p/*\"] }")
        .file(
            "p/a/package.json",
            "{\n  \"name\": \"a\",\n  \"version\": \"1.0.0\",\n}\n",
        )
        .commit("init");
    insta::assert_snapshot!(fails(&repo));
}

#[test]
fn malformed_yaml_names_file_line_and_column() {
    let repo = Repo::new()
        .file(
            "pnpm-workspace.yaml",
            "packages:\n  - 'a/*'\n - broken: [\n",
        )
        .commit("init");
    insta::assert_snapshot!(fails(&repo));
}

#[test]
fn wrong_types_point_at_the_value() {
    let repo = Repo::new()
        .file(
            "package.json",
            "{\n  \"name\": \"x\",\n  \"workspaces\": 5\n}\n",
        )
        .commit("init");
    insta::assert_snapshot!(fails(&repo));
    let repo = Repo::new()
        .file(
            "Cargo.toml",
            "[package]\nname = \"a\"\nversion = \"1.0.0\"\npublish = \"yes\"\n",
        )
        .commit("init");
    insta::assert_snapshot!(fails(&repo));
}

#[test]
fn duplicate_names_in_one_ecosystem_name_both_paths() {
    let repo = Repo::new()
        .file("package.json", r#"{ "workspaces": ["a", "b"] }"#)
        .file(
            "a/package.json",
            r#"{ "name": "same", "version": "1.0.0" }"#,
        )
        .file(
            "b/package.json",
            r#"{ "name": "same", "version": "2.0.0" }"#,
        )
        .commit("init");
    insta::assert_snapshot!(fails(&repo));
}

#[test]
fn same_name_in_two_ecosystems_is_fine() {
    let repo = Repo::new()
        .file(
            "Cargo.toml",
            "[package]\nname = \"same\"\nversion = \"1.0.0\"\n",
        )
        .file("package.json", r#"{ "name": "same", "version": "1.0.0" }"#)
        .commit("init");
    assert_eq!(repo.run(&["list"]).code, 0);
}

#[test]
fn member_directory_without_manifest_names_the_entry() {
    let repo = Repo::new()
        .file(
            "Cargo.toml",
            "[workspace]\nmembers = [\n  \"crates/*\",\n  \"tools/missing\",\n]\n",
        )
        .file("tools/missing/README.md", "no manifest here")
        .commit("init");
    insta::assert_snapshot!(fails(&repo));
    // npm, pnpm and yarn skip a missing workspace directory (conformance.rs checks them); polyship
    // says so under `-v`.
    let repo = Repo::new()
        .file("package.json", r#"{ "workspaces": ["packages/gone"] }"#)
        .commit("init");
    let out = repo.run(&["list", "-v"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("workspace entry `packages/gone` in `package.json` does not exist; skipped"),
        "{}",
        out.stderr
    );
    let repo = Repo::new()
        .file(
            "pyproject.toml",
            "[tool.uv.workspace]\nmembers = [\"libs/none\"]\n",
        )
        .commit("init");
    insta::assert_snapshot!(fails(&repo));
}

#[test]
fn globs_that_match_nothing_warn() {
    let repo = Repo::new()
        .file(
            "Cargo.toml",
            "[workspace]\nmembers = [\"crates/*\", \"a\"]\n",
        )
        .file(
            "a/Cargo.toml",
            "[package]\nname = \"a\"\nversion = \"1.0.0\"\n",
        )
        .file("package.json", r#"{ "workspaces": ["packages/*"] }"#)
        .commit("init");
    let out = repo.run(&["list"]);
    assert_eq!(out.code, 0);
    insta::assert_snapshot!(out.snapshot());
}

#[test]
fn workspace_inheritance_without_a_value_is_an_error() {
    let repo = Repo::new()
        .file("Cargo.toml", "[workspace]\nmembers = [\"a\"]\n")
        .file(
            "a/Cargo.toml",
            "[package]\nname = \"a\"\nversion.workspace = true\n",
        )
        .commit("init");
    insta::assert_snapshot!(fails(&repo));
    let repo = Repo::new()
        .file("Cargo.toml", "[workspace]\nmembers = [\"a\"]\n")
        .file(
            "a/Cargo.toml",
            "[package]\nname = \"a\"\nversion = \"1.0.0\"\n[dependencies]\nb.workspace = true\n",
        )
        .commit("init");
    insta::assert_snapshot!(fails(&repo));
}

#[test]
fn invalid_pep508_requirement_is_an_error() {
    let repo = Repo::new()
        .file(
            "pyproject.toml",
            "[project]\nname = \"a\"\nversion = \"1.0\"\ndependencies = [\n  \">=1.0\",\n]\n",
        )
        .commit("init");
    insta::assert_snapshot!(fails(&repo));
}

#[test]
fn maturin_without_its_crate_is_an_error() {
    let repo = Repo::new()
        .file("pyproject.toml", "[build-system]\nbuild-backend = \"maturin\"\n[project]\nname = \"a\"\ndynamic = [\"version\"]\n")
        .commit("init");
    insta::assert_snapshot!(fails(&repo));
}

#[test]
fn config_unknown_key_and_wrong_type() {
    let repo = Repo::new()
        .file(
            "polyship.toml",
            "ignore = []\n\n[[package]]\npath = \"x\"\nkind = \"npm\"\n",
        )
        .commit("init");
    insta::assert_snapshot!(fails(&repo));
    let repo = Repo::new()
        .file("polyship.toml", "ignore = \"fixtures\"\n")
        .commit("init");
    insta::assert_snapshot!(fails(&repo));
}

#[test]
fn config_package_entry_without_manifest() {
    let repo = Repo::new()
        .file("polyship.toml", "[[package]]\npath = \"nowhere\"\n")
        .commit("init");
    insta::assert_snapshot!(fails(&repo));
}

#[test]
fn usage_errors_exit_2() {
    let out = Repo::new().run(&["list", "--bogus"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--bogus"), "{}", out.stderr);
}

/// Issue 12: hostile or odd input gets a clear answer in bounded time, never a hang or a silent
/// skip: a brace bomb, deep YAML, an empty `pnpm-workspace.yaml`, a changeset naming a package
/// twice or with a nested value, a `[project]` without a name.
#[test]
fn hostile_input_is_refused_quickly_and_clearly() {
    let started = std::time::Instant::now();
    let bomb = format!(
        r#"{{ "private": true, "workspaces": ["packages/{}"] }}"#,
        "{a,b}".repeat(24)
    );
    let repo = Repo::new().file("package.json", &bomb).commit("init");
    let out = repo.run(&["list"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("expand to more than 1024 patterns"),
        "{}",
        out.stderr
    );

    let deep = format!(
        "packages:\n  - {}{}\n",
        "[".repeat(70_000),
        "]".repeat(70_000)
    );
    let repo = Repo::new()
        .file("package.json", r#"{ "private": true }"#)
        .file("pnpm-workspace.yaml", &deep)
        .commit("init");
    let out = repo.run(&["list"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("pnpm-workspace.yaml:2:"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("nest deeper than 64"), "{}", out.stderr);

    let repo = Repo::new()
        .file("package.json", r#"{ "private": true }"#)
        .file("pnpm-workspace.yaml", "\n")
        .commit("init");
    let out = repo.run(&["list"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("the file is empty"), "{}", out.stderr);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));

    let repo = Repo::new()
        .file("package.json", r#"{ "name": "a", "version": "1.0.0" }"#)
        .file(".changeset/config.json", "{}")
        .file(
            ".changeset/twice.md",
            "---\n\"a\": patch\n\"a\": major\n---\n\nx\n",
        )
        .commit("init");
    let out = repo.run(&["status"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(".changeset/twice.md:3"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("named twice"), "{}", out.stderr);
    let repo = repo.file(
        ".changeset/twice.md",
        "---\n\"a\":\n  nested: patch\n---\n\nx\n",
    );
    let out = repo.run(&["status"]);
    assert!(
        out.stderr.contains("`a` has no bump after its `:`"),
        "{}",
        out.stderr
    );

    let repo = Repo::new()
        .file("pyproject.toml", "[project]\nversion = \"1.0.0\"\n")
        .commit("init");
    let out = repo.run(&["list"]);
    assert!(
        out.stderr.contains("`[project]` has no `name`"),
        "{}",
        out.stderr
    );
}

/// Issue 12: vague messages made precise — a bare repository, a repository without commits, a
/// number too large for a version, a 10 MB name.
#[test]
fn odd_repositories_and_values_get_precise_messages() {
    let bare = Repo::bare_dir();
    bare.git(&["init", "-q", "--bare"]);
    let out = bare.run(&["list"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("is a bare git repository"),
        "{}",
        out.stderr
    );

    let empty = Repo::new().file("package.json", r#"{ "name": "a", "version": "1.0.0" }"#);
    let out = empty.run(&["publish", "--dry-run", "--no-push"]);
    assert!(out.stderr.contains("has no commits yet"), "{}", out.stderr);

    let huge = Repo::new()
        .file(
            "package.json",
            r#"{ "name": "a", "version": "99999999999999999999.0.0" }"#,
        )
        .commit("fix: x");
    let out = huge.run(&["plan"]);
    assert!(
        out.stderr
            .contains("has a number larger than 18446744073709551615"),
        "{}",
        out.stderr
    );

    let long = "x".repeat(10 * 1024 * 1024);
    let named = Repo::new()
        .file("package.json", r#"{ "name": "a", "version": "1.0.0" }"#)
        .file(".changeset/config.json", "{}")
        .file(
            ".changeset/long.md",
            &format!("---\n\"{long}\": patch\n---\n\nx\n"),
        )
        .commit("chore: init");
    let out = named.run(&["status"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.len() < 10_000,
        "{} bytes of message",
        out.stderr.len()
    );
}

/// Issue 12: packages discovery cannot read — behind a symbolic link a workspace glob matches, in
/// a submodule — are a warning naming them, never a silent skip.
#[cfg(unix)]
#[test]
fn packages_behind_links_and_submodules_are_named() {
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
            "elsewhere/b/package.json",
            r#"{ "name": "b", "version": "1.0.0" }"#,
        )
        .file(
            ".gitmodules",
            "[submodule \"vendor\"]\n\tpath = packages/vendored\n\turl = ../v\n",
        );
    std::fs::create_dir_all(repo.join("packages/vendored")).unwrap();
    std::os::unix::fs::symlink("../elsewhere/b", repo.join("packages/b")).unwrap();
    let repo = repo.commit("chore: init");
    let out = repo.run(&["list"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("workspace member `packages/b` is a symbolic link"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("workspace member `packages/vendored` is a git submodule"),
        "{}",
        out.stderr
    );
}

/// Issue 12: a NUL byte in a package name is an error naming the manifest, not a broken tag later.
#[test]
fn a_control_character_in_a_name_is_an_error() {
    let repo = Repo::new()
        .file(
            "package.json",
            r#"{ "name": "a\u0000b", "version": "1.0.0" }"#,
        )
        .commit("chore: init");
    let out = repo.run(&["list"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("package.json"), "{}", out.stderr);
    assert!(
        out.stderr.contains("a\\u{0}b` holds a control character"),
        "{}",
        out.stderr
    );
}
