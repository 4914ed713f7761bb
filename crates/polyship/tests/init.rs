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
