//! `polyship add` without a terminal: flags, names, file names, and refusals.

#![allow(clippy::unwrap_used)] // a failed unwrap in a test helper is a failed test

mod support;

use support::Repo;

fn repo() -> Repo {
    Repo::new()
        .file("Cargo.toml", "[workspace]\nmembers = [\"core\"]\n")
        .file(
            "core/Cargo.toml",
            "[package]\nname = \"acme\"\nversion = \"1.0.0\"\n",
        )
        .file(
            "package.json",
            r#"{ "private": true, "workspaces": ["js/*"] }"#,
        )
        .file(
            "js/acme/package.json",
            r#"{ "name": "acme", "version": "1.0.0" }"#,
        )
        .file(
            "js/ui/package.json",
            r#"{ "name": "@acme/ui", "version": "0.1.0" }"#,
        )
        .commit("chore: init")
}

#[test]
fn writes_a_changeset_that_status_reads_back() {
    let repo = repo();
    repo.git(&["checkout", "-q", "-b", "feat/login"]);
    let out = repo.run(&[
        "add",
        "-p",
        "@acme/ui:minor",
        "-p",
        "cargo:acme",
        "--bump",
        "patch",
        "-m",
        "Add the login form",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, ".changeset/feat-login-add-the-login-form.md\n");
    insta::assert_snapshot!(repo.read(".changeset/feat-login-add-the-login-form.md"));
    let again = repo.run(&["add", "-p", "@acme/ui:patch", "-m", "Add the login form"]);
    assert_eq!(
        again.stdout, ".changeset/feat-login-add-the-login-form-2.md\n",
        "a taken name gets a suffix"
    );
    let doc = repo.run(&["status", "--json", "--since", "HEAD"]).json();
    let names: Vec<&str> = doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["acme", "@acme/ui"]);
}

#[test]
fn empty_changesets_release_nothing() {
    let repo = repo();
    let out = repo.run(&["add", "--empty"]);
    assert_eq!(out.stdout, ".changeset/empty.md\n");
    assert_eq!(repo.read(".changeset/empty.md"), "---\n---\n");
}

#[test]
fn refuses_what_it_cannot_write() {
    let repo = repo();
    let cases: [(&[&str], &str); 5] = [
        (&["add"], "no package given"),
        (&["add", "-p", "@acme/ui"], "no summary given"),
        (
            &["add", "-p", "@acme/ui", "-m", "x"],
            "no bump for `@acme/ui`",
        ),
        (
            &["add", "-p", "acme:minor", "-m", "x"],
            "`acme` names packages in several ecosystems",
        ),
        (
            &["add", "-p", "@acme/uj:minor", "-m", "x"],
            "no package is named `@acme/uj`; the closest are `@acme/ui`",
        ),
    ];
    for (args, expected) in cases {
        let out = repo.run(args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(expected), "{args:?}: {}", out.stderr);
    }
    assert!(!repo.exists(".changeset"), "nothing was written");
}

#[test]
fn on_a_terminal_it_asks_with_changed_packages_first() {
    // `script` runs the command on a real pseudo-terminal and feeds it our answers; scripts/test
    // installs it (Debian's bsdutils) on a machine without it.
    assert!(
        std::process::Command::new("script")
            .arg("--version")
            .output()
            .is_ok(),
        "`script` (util-linux) is needed: `apt-get install -y bsdutils`, or run scripts/test"
    );
    let repo = repo();
    repo.git(&["checkout", "-q", "-b", "topic"]);
    let repo = repo.file("js/ui/button.js", "b").commit("feat: a button");
    let command = format!("{} add", env!("CARGO_BIN_EXE_polyship"));
    let mut child = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(repo.path())
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Enter keeps the preselected changed package; then its bump and the summary.
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"\nminor\nA new button\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{shown}");
    assert!(
        shown.contains("1. [x] npm @acme/ui"),
        "the changed package is first and marked: {shown}"
    );
    assert_eq!(
        repo.read(".changeset/topic-a-new-button.md"),
        "---\n\"@acme/ui\": minor\n---\n\nA new button\n"
    );
}
