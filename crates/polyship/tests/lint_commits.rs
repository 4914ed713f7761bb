//! `polyship lint-commits`: ranges, the default base branch, and the `commit-msg` hook form.

#![allow(clippy::unwrap_used)] // a failed unwrap in a test helper is a failed test

mod support;

use support::Repo;

#[test]
fn reports_each_bad_commit_with_rule_and_fix() {
    let repo = Repo::new().file("a.txt", "1").commit("chore: init");
    repo.git(&["checkout", "-q", "-b", "topic"]);
    let repo = repo
        .file("a.txt", "2")
        .commit("feat(api): good one")
        .file("a.txt", "3")
        .commit("Update things")
        .file("a.txt", "4")
        .commit("fix:missing space")
        .file("a.txt", "5")
        .commit("fixup! feat(api): good one");
    let out = repo.run(&["lint-commits"]);
    assert_eq!(out.code, 1);
    let redacted = out.stderr.lines().map(|l| {
        // Commit hashes differ between runs of git with other versions; keep the text stable.
        match l.strip_prefix("error: ") {
            Some(rest) if rest.len() > 8 && rest.as_bytes()[7] == b' ' => {
                format!("error: [SHA] {}", &rest[8..])
            }
            _ => l.to_owned(),
        }
    });
    insta::assert_snapshot!(redacted.collect::<Vec<_>>().join("\n"));
}

#[test]
fn a_clean_range_passes_and_explicit_ranges_work() {
    let repo = Repo::new()
        .file("a.txt", "1")
        .commit("not conventional")
        .file("a.txt", "2")
        .commit("feat: fine")
        .file("a.txt", "3")
        .commit("fix(x)!: also fine\n\nBREAKING CHANGE: x");
    let out = repo.run(&["lint-commits", "HEAD~2..HEAD"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("Checked 2 commits"), "{}", out.stderr);
    assert_eq!(repo.run(&["lint-commits", "HEAD~2"]).code, 0);
    assert_eq!(
        repo.run(&["lint-commits", "..HEAD"]).code,
        1,
        "the whole history holds the first commit"
    );
    let bad = repo.run(&["lint-commits", "nope..HEAD"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
}

#[test]
fn without_a_base_branch_a_range_is_needed() {
    let repo = Repo::new().file("a", "1").commit("feat: x");
    repo.git(&["branch", "-m", "trunk"]);
    let out = repo.run(&["lint-commits"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("no base branch `main`"),
        "{}",
        out.stderr
    );
    let configured = repo.file("polyship.toml", "base-branch = \"trunk\"\n");
    assert_eq!(
        configured.run(&["lint-commits"]).code,
        0,
        "nothing between trunk and HEAD"
    );
}

#[test]
fn edit_checks_one_message_file_like_a_commit_msg_hook() {
    let repo = Repo::new();
    repo.write(
        "good.txt",
        "feat: add x\n\n# Please enter the commit message\n",
    );
    repo.write("bad.txt", "# only comments\nwip\n");
    repo.write("merge.txt", "Merge branch 'x'\n");
    assert_eq!(repo.run(&["lint-commits", "--edit", "good.txt"]).code, 0);
    assert_eq!(repo.run(&["lint-commits", "--edit", "merge.txt"]).code, 0);
    let out = repo.run(&["lint-commits", "--edit", "bad.txt"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("[header-format] `wip` has no `type:` prefix"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("help: write `type(scope): description`"),
        "{}",
        out.stderr
    );
    let missing = repo.run(&["lint-commits", "--edit", "none.txt"]);
    assert_eq!(missing.code, 1);
    assert!(missing.stderr.contains("none.txt"), "{}", missing.stderr);
}
