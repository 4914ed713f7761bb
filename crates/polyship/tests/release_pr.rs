//! `polyship release-pr` against the local fake forge (GitHub's and Gitea's pull request API) and
//! a real bare `origin`: created, left alone when nothing changed, updated when the base moves,
//! remade after a hand edit of its branch, and closed with its branch deleted once merged.

#![allow(clippy::unwrap_used)] // a failed unwrap in a test is a failed test

mod support;

use support::Repo;
use support::fake_forge::{FakeForge, Kind};

const BRANCH: &str = "polyship/release";

fn repo(forge: &FakeForge, kind: &str) -> (Repo, tempfile::TempDir) {
    let config = format!(
        "[publish.forge]\nkind = \"{kind}\"\napi = \"{}\"\nrepository = \"acme/tool\"\n",
        forge.api_url()
    );
    let r = Repo::new()
        .file(
            "package.json",
            "{\n  \"name\": \"tool\",\n  \"version\": \"1.0.0\"\n}\n",
        )
        .file(".changeset/config.json", "{}\n")
        .file(
            ".changeset/brave-cats.md",
            "---\n\"tool\": minor\n---\n\nAdd `--fast`.\n",
        )
        .file("polyship.toml", &config)
        .commit("feat: the tool");
    let origin = with_origin(&r);
    (r, origin)
}

/// A bare `origin` for `r`, with `main` pushed.
fn with_origin(r: &Repo) -> tempfile::TempDir {
    let origin = tempfile::tempdir().unwrap();
    r.git(&["init", "-q", "--bare", &origin.path().to_string_lossy()]);
    r.git(&["remote", "add", "origin", &origin.path().to_string_lossy()]);
    r.git(&["push", "-q", "origin", "main"]);
    origin
}

fn env(var: &str, token: &str) -> Vec<(String, String)> {
    vec![(var.to_owned(), token.to_owned())]
}

fn remote_branch(r: &Repo) -> Option<String> {
    let listed = r.git(&["ls-remote", "--heads", "origin", BRANCH]);
    listed.split_whitespace().next().map(str::to_owned)
}

fn writes(forge: &FakeForge) -> usize {
    forge.requests().iter().filter(|(m, _)| m != "GET").count()
}

#[test]
fn the_release_pull_request_follows_the_base_branch_and_closes_once_merged() {
    let token = "gh-pr-token-2718";
    let forge = FakeForge::start(Kind::GitHub, token);
    let (r, _origin) = repo(&forge, "github");
    let env = env("GITHUB_TOKEN", token);
    let run = |args: &[&str]| r.run_env(r.path(), args, &env);

    let out = run(&["release-pr", "--label", "release", "--json"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert_eq!(out.json()["pulls"][0]["outcome"], "created");
    assert!(!out.stderr.contains(token) && !out.stdout.contains(token));
    let pulls = forge.pull_requests();
    assert_eq!(pulls.len(), 1, "{pulls:?}");
    let pull = &pulls[0];
    assert!(
        pull.open && pull.head == BRANCH && pull.base == "main",
        "{pull:?}"
    );
    assert_eq!(pull.title, "chore(release): tool@1.1.0");
    assert_eq!(pull.labels, ["release"]);
    assert!(
        pull.body.contains("| `tool` | npm | 1.0.0 | **1.1.0** |"),
        "{}",
        pull.body
    );
    assert!(pull.body.contains("Add `--fast`."), "{}", pull.body);
    // The branch: one release commit on the base branch's HEAD; the work tree is untouched.
    let head = r.git(&["rev-parse", "HEAD"]).trim().to_owned();
    let pushed = remote_branch(&r).expect("the release branch is pushed");
    r.git(&["fetch", "-q", "origin", BRANCH]);
    assert_eq!(r.git(&["rev-parse", &format!("{pushed}^")]).trim(), head);
    let manifest = r.git(&["show", &format!("{pushed}:package.json")]);
    assert!(manifest.contains("\"version\": \"1.1.0\""), "{manifest}");
    assert_eq!(r.git(&["status", "--porcelain"]), "");
    assert!(r.read("package.json").contains("1.0.0"));

    // Again, nothing new: nothing is pushed and the forge gets no write.
    let before = writes(&forge);
    let out = run(&["release-pr", "--json"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert_eq!(out.json()["pulls"][0]["outcome"], "unchanged");
    assert_eq!(remote_branch(&r).as_deref(), Some(pushed.as_str()));
    assert_eq!(writes(&forge), before);

    // The base moves (a breaking change): the branch is remade, the pull request updated.
    r.write(
        ".changeset/loud-dogs.md",
        "---\n\"tool\": major\n---\n\nDrop `--slow`.\n",
    );
    r.git(&["add", "-A"]);
    r.git(&["commit", "-qm", "feat!: drop --slow"]);
    r.git(&["push", "-q", "origin", "main"]);
    let out = run(&["release-pr", "--json"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert_eq!(out.json()["pulls"][0]["outcome"], "updated");
    let pull = &forge.pull_requests()[0];
    assert_eq!(pull.title, "chore(release): tool@2.0.0");
    assert!(pull.body.contains("Drop `--slow`."), "{}", pull.body);
    assert_eq!(forge.pull_requests().len(), 1);

    // A hand edit of the release branch is replaced by the release made from the base.
    let edited = {
        let clone = tempfile::tempdir().unwrap();
        let origin = r.git(&["remote", "get-url", "origin"]).trim().to_owned();
        r.git(&[
            "clone",
            "-q",
            "-b",
            BRANCH,
            &origin,
            &clone.path().to_string_lossy(),
        ]);
        let c = |args: &[&str]| {
            let mut all = vec![
                "-C",
                clone.path().to_str().unwrap(),
                "-c",
                "user.name=x",
                "-c",
                "user.email=x@x",
            ];
            all.extend(args);
            r.git(&all)
        };
        std::fs::write(
            clone.path().join("package.json"),
            "{ \"name\": \"tool\", \"version\": \"9.9.9\" }\n",
        )
        .unwrap();
        c(&["commit", "-qam", "chore: by hand"]);
        c(&["push", "-q", "origin", BRANCH]);
        remote_branch(&r).unwrap()
    };
    let out = run(&["release-pr", "--json"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let remade = remote_branch(&r).unwrap();
    assert_ne!(remade, edited);
    r.git(&["fetch", "-q", "origin", BRANCH]);
    assert!(
        r.git(&["show", &format!("{remade}:package.json")])
            .contains("2.0.0")
    );

    // Merged: nothing is left to release, so the pull request is closed and its branch deleted.
    r.git(&["merge", "-q", "--ff-only", &remade]);
    r.git(&["push", "-q", "origin", "main"]);
    let out = run(&["release-pr", "--json"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert_eq!(out.json()["pulls"][0]["outcome"], "closed");
    let pull = &forge.pull_requests()[0];
    assert!(!pull.open);
    assert_eq!(pull.comments.len(), 1);
    assert!(pull.comments[0].contains("Nothing is left to release"));
    assert_eq!(remote_branch(&r), None);
    // And once more: nothing to do, nothing written.
    let before = writes(&forge);
    let out = run(&["release-pr", "--json"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert_eq!(out.json()["pulls"][0]["outcome"], "none");
    assert_eq!(writes(&forge), before);
}

#[test]
fn gitea_pull_requests_are_made_the_same_way_and_a_flaky_forge_is_retried() {
    let token = "gitea-pr-token-1618";
    let forge = FakeForge::start(Kind::Gitea, token);
    let (r, _origin) = repo(&forge, "gitea");
    let env = env("GITEA_TOKEN", token);
    // Gitea adds labels by id, so a label the repository lacks stops it before anything is made.
    forge.seed_label("release");
    forge.seed_label("bot");
    let out = r.run_env(
        r.path(),
        &["release-pr", "--label", "release", "--label", "shipit"],
        &env,
    );
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr
            .contains("the repository `acme/tool` has no label `shipit`"),
        "{}",
        out.stderr
    );
    assert_eq!(writes(&forge), 0);
    forge.fail_next(502, 1);
    let out = r.run_env(
        r.path(),
        &[
            "release-pr",
            "--json",
            "--label",
            "release",
            "--label",
            "bot",
        ],
        &env,
    );
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert_eq!(out.json()["pulls"][0]["outcome"], "created");
    assert_eq!(forge.pull_requests()[0].labels, ["release", "bot"]);
    let out = r.run_env(r.path(), &["release-pr", "--json"], &env);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert_eq!(out.json()["pulls"][0]["outcome"], "unchanged");
    assert_eq!(forge.pull_requests().len(), 1);

    // The remote's base moved past HEAD: refused before anything is made, with what to do.
    let clone = tempfile::tempdir().unwrap();
    let origin = r.git(&["remote", "get-url", "origin"]).trim().to_owned();
    r.git(&[
        "clone",
        "-q",
        "-b",
        "main",
        &origin,
        &clone.path().to_string_lossy(),
    ]);
    let dir = clone.path().to_str().unwrap();
    r.git(&[
        "-C",
        dir,
        "-c",
        "user.name=x",
        "-c",
        "user.email=x@x",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "docs: elsewhere",
    ]);
    r.git(&["-C", dir, "push", "-q", "origin", "main"]);
    let before = forge.requests().len();
    let out = r.run_env(r.path(), &["release-pr"], &env);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains("`origin/main` is at") && out.stderr.contains("pull (or push)"),
        "{}",
        out.stderr
    );
    assert_eq!(forge.requests().len(), before);
    r.git(&["pull", "-q", "--ff-only", "origin", "main"]);

    // A token the forge refuses: the error names it, and the token is not printed.
    let out = r.run_env(
        r.path(),
        &["release-pr"],
        &[("GITEA_TOKEN".into(), "wrong-token-77".into())],
    );
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(out.stderr.contains("401"), "{}", out.stderr);
    assert!(!out.stderr.contains("wrong-token-77"));

    // A token without the permission: the forge's 403 names what the token needs.
    forge.fail_next(403, 1);
    let out = r.run_env(r.path(), &["release-pr"], &env);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(out.stderr.contains("403"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("`pull-requests: write` for pull requests"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(token));

    // The forge's git host refuses the push (403): the error names the permission to grant.
    r.git(&[
        "remote",
        "set-url",
        "--push",
        "origin",
        &forge.git_url("acme/tool"),
    ]);
    r.write(".changeset/more.md", "---\n\"tool\": patch\n---\n\nMore.\n");
    r.git(&["add", "-A"]);
    r.git(&["commit", "-qm", "fix: more"]);
    r.git(&[
        "-c",
        "remote.origin.pushurl=",
        "push",
        "-q",
        "origin",
        "main",
    ]);
    let before = writes(&forge);
    let out = r.run_env(r.path(), &["release-pr"], &env);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains("403")
            && out.stderr.contains("Permission to acme/tool.git denied")
            && out.stderr.contains("`contents: write`")
            && out.stderr.contains("`write:repository`"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(token));
    assert_eq!(writes(&forge), before);
}

#[test]
fn split_by_group_keeps_one_pull_request_per_group_and_one_for_the_rest() {
    let token = "gh-split-token-1414";
    let forge = FakeForge::start(Kind::GitHub, token);
    let config = format!(
        "[publish.forge]\nkind = \"github\"\napi = \"{}\"\nrepository = \"acme/mono\"\n\n[release-pr]\nsplit = \"group\"\nlabels = [\"release\"]\n\n[[group]]\nname = \"web\"\nkind = \"fixed\"\npackages = [\"a\", \"b\"]\n",
        forge.api_url()
    );
    let r = Repo::new()
        .file(
            "package.json",
            "{ \"name\": \"root\", \"private\": true, \"workspaces\": [\"packages/*\"] }\n",
        )
        .file(
            "packages/a/package.json",
            "{ \"name\": \"a\", \"version\": \"1.0.0\" }\n",
        )
        .file(
            "packages/b/package.json",
            "{ \"name\": \"b\", \"version\": \"1.0.0\" }\n",
        )
        .file(
            "packages/c/package.json",
            "{ \"name\": \"c\", \"version\": \"0.4.0\" }\n",
        )
        .file(".changeset/config.json", "{}\n")
        .file(
            ".changeset/one.md",
            "---\n\"a\": minor\n---\n\nA feature of a.\n",
        )
        .file(
            ".changeset/two.md",
            "---\n\"c\": patch\n---\n\nA fix of c.\n",
        )
        .file("polyship.toml", &config)
        .commit("feat: packages");
    let _origin = with_origin(&r);
    let env = env("GITHUB_TOKEN", token);
    let out = r.run_env(r.path(), &["release-pr", "--json"], &env);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let doc = out.json();
    let outcomes: Vec<(&str, &str)> = doc["pulls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["branch"].as_str().unwrap(),
                p["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("polyship/release-web", "created"),
            ("polyship/release", "created")
        ],
        "{doc:#}"
    );
    let pulls = forge.pull_requests();
    let web = pulls
        .iter()
        .find(|p| p.head == "polyship/release-web")
        .unwrap();
    assert_eq!(web.title, "chore(release): a@1.1.0, b@1.1.0");
    assert!(web.body.contains("A feature of a.") && !web.body.contains("A fix of c."));
    let rest = pulls.iter().find(|p| p.head == "polyship/release").unwrap();
    assert_eq!(rest.title, "chore(release): c@0.4.1");
    assert_eq!(rest.labels, ["release"]);
    // Each branch holds only its own release.
    r.git(&[
        "fetch",
        "-q",
        "origin",
        "polyship/release-web",
        "polyship/release",
    ]);
    let c_on_web = r.git(&[
        "show",
        "origin/polyship/release-web:packages/c/package.json",
    ]);
    assert!(c_on_web.contains("0.4.0"), "{c_on_web}");
    let a_on_rest = r.git(&["show", "origin/polyship/release:packages/a/package.json"]);
    assert!(a_on_rest.contains("1.0.0"), "{a_on_rest}");
}

/// A `pre-push` hook that moves `origin/main` to the next of `moves` on each push polyship makes,
/// as another merge landing during the run would.
fn move_base_on_push(r: &Repo, origin: &std::path::Path, moves: &[String]) {
    use std::os::unix::fs::PermissionsExt as _;
    let list = r.path().join(".git/moves");
    std::fs::write(&list, moves.join("\n") + "\n").unwrap();
    let hook = r.path().join(".git/hooks/pre-push");
    std::fs::create_dir_all(hook.parent().unwrap()).unwrap();
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\ncat >/dev/null\nnext=$(head -n1 '{list}')\n[ -n \"$next\" ] || exit 0\nsed -i 1d '{list}'\ngit --git-dir='{origin}' update-ref refs/heads/main \"$next\"\n",
            list = list.display(),
            origin = origin.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A commit adding `changeset` on HEAD, pushed to `origin` under a ref of its own.
fn pending(r: &Repo, name: &str, changeset: &str) -> String {
    r.write(&format!(".changeset/{name}.md"), changeset);
    r.git(&["add", "-A"]);
    r.git(&["commit", "-qm", &format!("feat: {name}")]);
    let sha = r.git(&["rev-parse", "HEAD"]).trim().to_owned();
    r.git(&["push", "-q", "origin", &format!("HEAD:refs/pending/{name}")]);
    sha
}

#[test]
fn a_base_branch_that_moves_during_the_run_is_followed_once_then_refused() {
    let token = "gh-moving-token-1123";
    let forge = FakeForge::start(Kind::GitHub, token);
    let (r, origin) = repo(&forge, "github");
    let env = env("GITHUB_TOKEN", token);
    let head = r.git(&["rev-parse", "HEAD"]).trim().to_owned();
    let major = pending(
        &r,
        "loud-dogs",
        "---\n\"tool\": major\n---\n\nDrop `--slow`.\n",
    );
    r.git(&["reset", "-q", "--hard", &head]);

    // Another merge lands while the pull request is made: it is made again from the new base.
    move_base_on_push(&r, origin.path(), std::slice::from_ref(&major));
    let out = r.run_env(r.path(), &["release-pr", "--json"], &env);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(
        out.stderr.contains("`origin/main` moved to") && out.stderr.contains("again from it"),
        "{}",
        out.stderr
    );
    assert_eq!(out.json()["pulls"][0]["outcome"], "updated");
    let pulls = forge.pull_requests();
    assert_eq!(pulls.len(), 1, "{pulls:?}");
    assert_eq!(pulls[0].title, "chore(release): tool@2.0.0");
    assert!(
        pulls[0].body.contains("Drop `--slow`."),
        "{}",
        pulls[0].body
    );
    let pushed = remote_branch(&r).unwrap();
    r.git(&["fetch", "-q", "origin", BRANCH]);
    assert_eq!(r.git(&["rev-parse", &format!("{pushed}^")]).trim(), major);
    // The user's checkout is where it was, and polyship's worktrees are gone.
    assert_eq!(r.git(&["rev-parse", "HEAD"]).trim(), head);
    assert_eq!(r.git(&["status", "--porcelain"]), "");
    assert_eq!(r.git(&["worktree", "list"]).lines().count(), 1);

    // It moves on every push: once is followed, the second move is an error saying what to do.
    r.git(&["pull", "-q", "--ff-only", "origin", "main"]);
    r.write(
        ".changeset/one-more.md",
        "---\n\"tool\": patch\n---\n\nOne more.\n",
    );
    r.git(&["add", "-A"]);
    r.git(&["commit", "-qm", "fix: one more"]);
    r.git(&["push", "-q", "origin", "main"]);
    let tip = r.git(&["rev-parse", "HEAD"]).trim().to_owned();
    let first = pending(&r, "quiet-owls", "---\n\"tool\": patch\n---\n\nFix it.\n");
    let second = pending(&r, "fifth", "---\n\"tool\": patch\n---\n\nA fifth.\n");
    r.git(&["reset", "-q", "--hard", &tip]);
    move_base_on_push(&r, origin.path(), &[first, second.clone()]);
    let out = r.run_env(r.path(), &["release-pr"], &env);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr
            .contains(&format!("moved again, to {}", &second[..12]))
            && out
                .stderr
                .contains("run it again once the base branch is quiet"),
        "{}",
        out.stderr
    );
    assert_eq!(r.git(&["worktree", "list"]).lines().count(), 1);
}
