//! `polyship plan`: bumps over the graph, groups, the 0.x rules and dependents policies.

#![allow(clippy::unwrap_used)] // a failed unwrap in a test helper is a failed test

mod support;

use support::Repo;

/// `name from→to bump [reasons]` for every release, in plan order.
fn releases(repo: &Repo) -> Vec<String> {
    let doc = repo.run(&["plan", "--json"]).json();
    doc["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let reasons: Vec<String> = r["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| match x["kind"].as_str().unwrap() {
                    "dependency" => format!("dep {}", x["name"].as_str().unwrap()),
                    "group" => format!("group {}", x["group"].as_str().unwrap()),
                    "same-source" => format!("same {}", x["name"].as_str().unwrap()),
                    other => other.to_owned(),
                })
                .collect();
            format!(
                "{} {}→{} {} [{}]",
                r["name"].as_str().unwrap(),
                r["from"].as_str().unwrap(),
                r["to"].as_str().unwrap(),
                r["bump"].as_str().unwrap(),
                reasons.join(", ")
            )
        })
        .collect()
}

fn npm(packages: &[(&str, &str, &str)]) -> Repo {
    let mut repo = Repo::new().file(
        "package.json",
        r#"{ "private": true, "workspaces": ["p/*"] }"#,
    );
    for (name, version, deps) in packages {
        repo = repo.file(
            &format!("p/{name}/package.json"),
            &format!(r#"{{ "name": "{name}", "version": "{version}"{deps} }}"#),
        );
    }
    repo.commit("chore: init")
}

#[test]
fn below_one_breaking_and_feature_commits_bump_the_minor_unless_configured() {
    let repo = npm(&[("a", "0.3.1", ""), ("b", "0.3.1", ""), ("c", "1.2.0", "")])
        .file("p/a/x.js", "x")
        .commit("feat(a)!: redo the api")
        .file("p/b/x.js", "x")
        .commit("feat(b): add a thing")
        .file("p/c/x.js", "x")
        .commit("feat(c)!: redo c");
    assert_eq!(
        releases(&repo),
        [
            "a 0.3.1→0.4.0 minor [changes]",
            "b 0.3.1→0.4.0 minor [changes]",
            "c 1.2.0→2.0.0 major [changes]"
        ]
    );
    let repo = repo.file(
        "polyship.toml",
        "[versioning]\nbreaking-pre-major = \"major\"\nfeature-pre-major = \"patch\"\n",
    );
    assert_eq!(
        releases(&repo),
        [
            "a 0.3.1→1.0.0 major [changes]",
            "b 0.3.1→0.3.2 patch [changes]",
            "c 1.2.0→2.0.0 major [changes]"
        ]
    );
}

#[test]
fn dependents_release_when_the_new_version_leaves_their_range() {
    let repo = npm(&[
        ("core", "1.4.0", ""),
        (
            "caret",
            "1.0.0",
            r#", "dependencies": { "core": "^1.0.0" }"#,
        ),
        (
            "pinned",
            "1.0.0",
            r#", "dependencies": { "core": "~1.4.0" }"#,
        ),
        (
            "exact",
            "2.0.0",
            r#", "dependencies": { "pinned": "1.0.0" }"#,
        ),
        (
            "ws",
            "1.0.0",
            r#", "dependencies": { "core": "workspace:*" }"#,
        ),
        (
            "devonly",
            "1.0.0",
            r#", "devDependencies": { "core": "~1.4.0" }"#,
        ),
    ])
    .file("p/core/x.js", "x")
    .commit("feat(core): more");
    // core 1.5.0 leaves `~1.4.0` (pinned releases), pinned 1.0.1 leaves `1.0.0` (exact releases,
    // transitively); `workspace:*` is published as the exact `1.4.0`, which 1.5.0 leaves (ws
    // releases); `^1.0.0` still holds; a dev-dependency never forces a release.
    assert_eq!(
        releases(&repo),
        [
            "core 1.4.0→1.5.0 minor [changes]",
            "pinned 1.0.0→1.0.1 patch [dep core]",
            "exact 2.0.0→2.0.1 patch [dep pinned]",
            "ws 1.0.0→1.0.1 patch [dep core]"
        ]
    );
    let always = repo.file("polyship.toml", "[versioning]\ndependents = \"patch\"\n");
    assert_eq!(
        releases(&always).len(),
        5,
        "every non-dev dependent releases: {:?}",
        releases(&always)
    );
    let none = always.file("polyship.toml", "[versioning]\ndependents = \"none\"\n");
    assert_eq!(releases(&none), ["core 1.4.0→1.5.0 minor [changes]"]);
}

#[test]
fn fixed_groups_share_one_version_and_linked_groups_one_bump() {
    let repo = npm(&[
        ("a", "1.2.0", ""),
        ("b", "1.1.0", ""),
        ("c", "3.0.0", ""),
        ("d", "0.5.0", ""),
        ("e", "2.0.0", ""),
    ])
    .file(
        ".changeset/config.json",
        r#"{ "fixed": [["a", "b"]], "linked": [["c", "d", "e"]] }"#,
    )
    .file(
        ".changeset/one.md",
        "---\n\"a\": minor\n\"c\": minor\n\"d\": patch\n---\n\nWork\n",
    )
    .commit("chore: changesets");
    assert_eq!(
        releases(&repo),
        [
            "a 1.2.0→1.3.0 minor [changes]",
            "b 1.1.0→1.3.0 minor [group a]",
            "c 3.0.0→3.1.0 minor [changes]",
            "d 0.5.0→3.1.0 minor [changes, group c]",
        ],
        "b releases without changes at the shared version; changesets' linked group gives its releasing members one version from the highest (d 0.5.0 → 3.1.0); e, unchanged, stays"
    );
}

#[test]
fn a_fixed_group_across_ecosystems_renders_python_in_pep_440() {
    let repo = Repo::new()
        .file("Cargo.toml", "[workspace]\nmembers = [\"core\", \"py\"]\n")
        .file("core/Cargo.toml", "[package]\nname = \"acme\"\nversion = \"2.0.0-beta.1\"\n")
        .file("py/Cargo.toml", "[package]\nname = \"acme-py\"\nversion = \"2.0.0-beta.1\"\npublish = false\n")
        .file("py/pyproject.toml", "[build-system]\nbuild-backend = \"maturin\"\n[project]\nname = \"acme\"\ndynamic = [\"version\"]\n")
        .file("package.json", r#"{ "private": true, "workspaces": ["js"] }"#)
        .file("js/package.json", r#"{ "name": "@acme/js", "version": "2.0.0-beta.1" }"#)
        .file("polyship.toml", "[[group]]\nname = \"acme\"\nkind = \"fixed\"\npackages = [\"cargo:acme\", \"@acme/js\", \"cargo:acme-py\"]\n")
        .file(".changeset/x.md", "---\n\"cargo:acme\": major\n---\n\nGo stable\n")
        .commit("chore: init");
    assert_eq!(
        releases(&repo),
        [
            "acme 2.0.0-beta.1→2.0.0 major [changes]",
            "acme-py 2.0.0-beta.1→2.0.0 major [group acme]",
            "@acme/js 2.0.0-beta.1→2.0.0 major [group acme]",
            "acme 2.0.0-beta.1→2.0.0 major [same acme-py]",
        ]
    );
}

#[test]
fn packages_that_cannot_release_warn_and_bad_groups_are_errors() {
    let repo = npm(&[("a", "1.0.0", "")])
        .file(
            "p/nov/package.json",
            r#"{ "name": "nov", "private": true }"#,
        )
        .file(".changeset/x.md", "---\n\"nov\": patch\n---\n\nx\n")
        .commit("chore: x");
    let out = repo.run(&["plan", "--json"]);
    assert_eq!(out.json()["releases"], serde_json::json!([]));
    assert!(
        out.stderr.contains("`npm:nov` has changes but no version"),
        "{}",
        out.stderr
    );

    let bad = repo.file(
        "polyship.toml",
        "[[group]]\nkind = \"fixed\"\npackages = [\"a\", \"b-typo\"]\n",
    );
    let out = bad.run(&["plan"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("no package is named `b-typo`"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("polyship.toml:1"), "{}", out.stderr);
}

#[test]
fn nothing_to_release_says_so() {
    let out = npm(&[("a", "1.0.0", "")]).run(&["plan"]);
    assert_eq!((out.code, out.stdout.as_str()), (0, ""));
    assert!(out.stderr.contains("nothing to release"), "{}", out.stderr);
}

#[test]
fn crates_sharing_the_workspace_version_release_together() {
    let repo = Repo::new()
        .file("Cargo.toml", "[workspace]\nmembers = [\"a\", \"b\", \"c\"]\n[workspace.package]\nversion = \"0.8.0\"\n")
        .file("a/Cargo.toml", "[package]\nname = \"a\"\nversion.workspace = true\n")
        .file("b/Cargo.toml", "[package]\nname = \"b\"\nversion.workspace = true\n")
        .file("c/Cargo.toml", "[package]\nname = \"c\"\nversion = \"2.0.0\"\n")
        .commit("chore: init")
        .file("a/x.rs", "")
        .commit("fix(a): one crate changes");
    assert_eq!(
        releases(&repo),
        [
            "a 0.8.0→0.8.1 patch [changes]",
            "b 0.8.0→0.8.1 patch [group cargo workspace]"
        ]
    );
}

/// Issue 12: a bump past the largest version part is an error at the version's line, never a
/// wrapped `0.0.0`; a cycle of normal dependencies is refused by `plan` and `version`, named.
#[test]
fn overflowing_versions_and_dependency_cycles_are_refused() {
    let repo = Repo::new()
        .file(
            "Cargo.toml",
            "[package]\nname = \"big\"\nversion = \"18446744073709551615.0.0\"\n",
        )
        .commit("chore: init")
        .tag("big-v18446744073709551615.0.0")
        .file("src/lib.rs", "")
        .commit("feat!: more");
    for cmd in ["plan", "version"] {
        let out = repo.run(&[cmd]);
        assert_eq!(out.code, 2, "{cmd}: {}", out.stderr);
        assert!(out.stderr.contains("Cargo.toml:3"), "{cmd}: {}", out.stderr);
        assert!(out.stderr.contains("overflows"), "{cmd}: {}", out.stderr);
    }
    assert!(repo.read("Cargo.toml").contains("18446744073709551615.0.0"));

    let repo = Repo::new()
        .file(
            "package.json",
            r#"{ "private": true, "workspaces": ["packages/*"] }"#,
        )
        .file(
            "packages/a/package.json",
            r#"{ "name": "a", "version": "1.0.0", "dependencies": { "b": "^1.0.0" } }"#,
        )
        .file(
            "packages/b/package.json",
            r#"{ "name": "b", "version": "1.0.0", "dependencies": { "a": "^1.0.0" } }"#,
        )
        .commit("feat: both");
    for cmd in ["plan", "version"] {
        let out = repo.run(&[cmd]);
        assert_eq!(out.code, 2, "{cmd}: {}", out.stderr);
        assert!(
            out.stderr.contains("npm:a → npm:b → npm:a")
                || out.stderr.contains("npm:b → npm:a → npm:b"),
            "{cmd}: {}",
            out.stderr
        );
    }
    assert_eq!(repo.git(&["rev-list", "--count", "HEAD"]).trim(), "1");
}
