//! `polyship version` keeps its promise under kills that cannot be caught (issue 12): a real
//! process killed with SIGKILL at many points of its write phase — and aborted by the
//! `POLYSHIP_FAILPOINT=rename:N` kill point after the Nth rename — leaves a tree that the next
//! polyship command finishes or undoes, so that the tree is byte-identical to the one before or
//! after, no temporary file remains, and running `version` again gives exactly a clean run's result.

#![allow(clippy::unwrap_used)]

mod support;

use std::fmt::Write as _;
use std::process::Stdio;
use std::time::Instant;

use support::Repo;

/// A workspace of `n` crates and `n` npm packages, each with a changelog, released by one fix.
fn big(n: usize) -> Repo {
    let mut members = String::new();
    let mut repo = Repo::new();
    for i in 0..n {
        let _ = write!(members, "\"crates/c{i}\", ");
        repo = repo
            .file(
                &format!("crates/c{i}/Cargo.toml"),
                &format!("[package]\nname = \"c{i}\"\nversion = \"1.0.0\"\n"),
            )
            .file(
                &format!("crates/c{i}/CHANGELOG.md"),
                "# Changelog\n\n## 1.0.0\n\n- first\n",
            )
            .file(
                &format!("packages/p{i}/package.json"),
                &format!("{{\n  \"name\": \"p{i}\",\n  \"version\": \"1.0.0\"\n}}\n"),
            );
    }
    repo = repo
        .file(
            "Cargo.toml",
            &format!("[workspace]\nmembers = [{members}]\n"),
        )
        .file(
            "package.json",
            r#"{ "private": true, "workspaces": ["packages/*"] }"#,
        )
        .file("polyship.toml", "[commits]\nshared-paths = \"all\"\n")
        .commit("chore: init");
    for i in 0..n {
        repo = repo
            .tag(&format!("c{i}-v1.0.0"))
            .tag(&format!("p{i}@1.0.0"));
    }
    repo.file("shared.txt", "x").commit("fix: everything")
}

/// Every tracked and untracked file's bytes, `.git` left out.
fn files(repo: &Repo) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![repo.path().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            if entry.file_name() == ".git" {
                continue;
            }
            if entry.file_type().unwrap().is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(repo.path())
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.push((rel, std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn tree(repo: &Repo) -> String {
    repo.git(&["rev-parse", "HEAD^{tree}"]).trim().to_owned()
}

#[test]
fn a_version_killed_anywhere_is_finished_or_undone_and_the_rerun_equals_a_clean_run() {
    let n = 60;
    let clean = big(n);
    let before = files(&clean);
    let started = Instant::now();
    let out = clean.run(&["version"]);
    let took = started.elapsed();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let after = files(&clean);
    let after_tree = tree(&clean);
    assert_ne!(before, after);

    // Kill points: after the 1st rename, in the middle, and after the last.
    let edits = after.iter().filter(|f| !before.contains(f)).count();
    for point in [1, edits / 2, edits] {
        let repo = big(n);
        let out = repo.run_env(
            repo.path(),
            &["version"],
            &[("POLYSHIP_FAILPOINT".to_owned(), format!("rename:{point}"))],
        );
        assert_ne!(out.code, 0, "the kill point {point} was not reached");
        let mid = files(&repo);
        assert!(
            mid != before && mid != after || point == edits,
            "a partial tree at {point}"
        );
        let status = repo.run(&["status"]);
        assert!(
            status
                .stderr
                .contains("finished an interrupted `polyship version`"),
            "point {point}: {}",
            status.stderr
        );
        assert_eq!(
            files(&repo),
            after,
            "point {point}: the tree is not the finished one"
        );
        assert_eq!(
            tree(&repo),
            after_tree,
            "point {point}: the release commit differs"
        );
        let again = repo.run(&["version"]);
        assert_eq!(again.code, 0, "{}", again.stderr);
        assert!(
            again.stderr.contains("nothing to release"),
            "{}",
            again.stderr
        );
        assert_eq!(tree(&repo), after_tree);
    }

    // Real SIGKILLs at points spread over a run's length.
    for k in 1..=8u32 {
        let repo = big(n);
        let mut child = repo
            .command(repo.path(), &["version"], &[])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(took * k / 8);
        let _ = child.kill();
        let _ = child.wait();
        let status = repo.run(&["status"]);
        assert_eq!(status.code, 0, "{}", status.stderr);
        let now = files(&repo);
        assert!(
            now == before || now == after,
            "kill {k}/8 left a mixed tree:\n{}",
            status.stderr
        );
        assert!(
            !now.iter().any(|(p, _)| p.contains(".polyship-")),
            "kill {k}/8 left temporary files"
        );
        let rerun = repo.run(&["version"]);
        assert_eq!(rerun.code, 0, "{}", rerun.stderr);
        assert_eq!(
            files(&repo),
            after,
            "kill {k}/8: the rerun differs from a clean run"
        );
        assert_eq!(
            tree(&repo),
            after_tree,
            "kill {k}/8: the release commit differs"
        );
    }
}

#[test]
fn two_versions_at_once_never_both_write() {
    let repo = big(20);
    let first = repo
        .command(repo.path(), &["version"], &[])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let second = repo
        .command(repo.path(), &["version"], &[])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (a, b) = (
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    );
    let commits = repo.git(&["rev-list", "--count", "HEAD"]).trim().to_owned();
    assert_eq!(commits, "3", "exactly one release commit");
    for out in [&a, &b] {
        if !out.status.success() {
            let text = String::from_utf8_lossy(&out.stderr);
            assert!(
                text.contains("another polyship run")
                    || text.contains("changed since the edits were computed"),
                "{text}"
            );
        }
    }
}
