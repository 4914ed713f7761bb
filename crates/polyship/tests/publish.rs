//! `polyship publish` end to end: the real binary, real git repositories with a bare `origin`, and
//! the real local registries `scripts/registries` starts (Verdaccio, pypiserver,
//! cargo-http-registry), published to with the real `cargo`, `npm` and `twine`. Faults come from a
//! fault-injecting proxy in front of the registries; the forge is a local fake server.

#![allow(clippy::unwrap_used)] // a failed unwrap in a test is a failed test

mod support;

use std::path::Path;
use std::process::Command;

use support::{Output, Repo};

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: these tests need the local registries; run `scripts/test`, or \
             `source scripts/registries` before `cargo test`"
        )
    })
}

/// A name no other test or earlier run used (the registries outlive one test).
fn uid() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "u{}x{nanos}x{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// The environment a release runs with: tokens, the Cargo registry's index, and what the real
/// tools need from this machine (toolchains, certificates, pip settings).
fn release_env() -> Vec<(String, String)> {
    let mut env = vec![
        (
            "CARGO_REGISTRIES_LOCAL_INDEX".into(),
            var("POLYSHIP_TEST_CARGO_INDEX"),
        ),
        (
            "CARGO_REGISTRIES_LOCAL_TOKEN".into(),
            "cargo-canary-7f3a9c".into(),
        ),
        ("NPM_TOKEN".into(), var("POLYSHIP_TEST_NPM_TOKEN")),
        ("TWINE_USERNAME".into(), var("POLYSHIP_TEST_PYPI_USER")),
        ("TWINE_PASSWORD".into(), var("POLYSHIP_TEST_PYPI_PASSWORD")),
    ];
    let home = std::env::var("HOME").unwrap_or_default();
    for (name, default) in [
        ("RUSTUP_HOME", format!("{home}/.rustup")),
        ("CARGO_HOME", format!("{home}/.cargo")),
    ] {
        env.push((name.into(), std::env::var(name).unwrap_or(default)));
    }
    for (name, value) in std::env::vars() {
        if name.starts_with("PIP_")
            || name.starts_with("SSL_")
            || [
                "REQUESTS_CA_BUNDLE",
                "NODE_EXTRA_CA_CERTS",
                "CURL_CA_BUNDLE",
            ]
            .contains(&name.as_str())
        {
            env.push((name, value));
        }
    }
    env
}

fn without(env: &[(String, String)], name: &str) -> Vec<(String, String)> {
    env.iter().filter(|(k, _)| k != name).cloned().collect()
}

fn with(env: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    let mut env = without(env, name);
    env.push((name.into(), value.into()));
    env
}

/// A polyglot repository: a Rust crate and a Python distribution in a fixed group, and two npm
/// packages where `app` depends on `lib`; with changelogs, a bare `origin`, pushed.
struct Fixture {
    repo: Repo,
    origin: tempfile::TempDir,
    id: String,
    env: Vec<(String, String)>,
}

impl Fixture {
    /// A clone of the origin as CI makes it: shallow, the release branch only, no tags.
    fn ci_clone(&self) -> Repo {
        let ci = Repo::bare_dir();
        let origin = format!("file://{}", self.origin.path().display());
        ci.git(&[
            "clone",
            "-q",
            "--depth",
            "1",
            "--no-tags",
            "-b",
            "main",
            &origin,
            &ci.path().to_string_lossy(),
        ]);
        ci
    }

    fn new(npm_registry: &str, extra_config: &str) -> Self {
        let id = uid();
        let crate_name = format!("core_{id}");
        let lib = format!("lib-{id}");
        let app = format!("app-{id}");
        let py = format!("pkg-{id}");
        let config = format!(
            r#"[[group]]
kind = "fixed"
packages = ["{crate_name}", "{py}"]

[publish]
timeout = 60

[publish.cargo]
index = "{sparse}"
verify = false

[publish.npm]
registry = "{npm_registry}"

[publish.python]
command = "{python}"
index = "{pypi}"
upload = "{pypi}"
{extra_config}"#,
            sparse = var("POLYSHIP_TEST_CARGO_SPARSE"),
            python = var("POLYSHIP_TEST_PYTHON"),
            pypi = var("POLYSHIP_TEST_PYPI_URL"),
        );
        let repo = Repo::new()
            .file(".gitignore", "target\n")
            .file("polyship.toml", &config)
            .file(
                "Cargo.toml",
                "[workspace]\nmembers = [\"crates/core\"]\nresolver = \"2\"\n",
            )
            .file(
                "crates/core/Cargo.toml",
                &format!(
                    "[package]\nname = \"{crate_name}\"\nversion = \"1.0.0\"\nedition = \"2021\"\ndescription = \"core\"\nlicense = \"MIT\"\npublish = [\"local\"]\n"
                ),
            )
            .file("crates/core/src/lib.rs", "pub fn core() {}\n")
            .file(
                "crates/core/CHANGELOG.md",
                "# Changelog\n\n## 1.0.0 (2026-11-22)\n\n### Features\n\n- the core\n",
            )
            .file(
                "package.json",
                "{ \"name\": \"root\", \"private\": true, \"workspaces\": [\"js/*\"] }\n",
            )
            .file(
                "js/lib/package.json",
                &format!("{{ \"name\": \"{lib}\", \"version\": \"1.0.0\", \"main\": \"index.js\" }}\n"),
            )
            .file("js/lib/index.js", "module.exports = 1;\n")
            .file(
                "js/lib/CHANGELOG.md",
                "# lib\n\n## 1.0.0\n\n- the library\n",
            )
            .file(
                "js/app/package.json",
                &format!(
                    "{{ \"name\": \"{app}\", \"version\": \"1.0.0\", \"main\": \"index.js\", \"dependencies\": {{ \"{lib}\": \"^1.0.0\" }} }}\n"
                ),
            )
            .file("js/app/index.js", "module.exports = 2;\n")
            .file(
                "py/pkg/pyproject.toml",
                &format!(
                    "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n\n[project]\nname = \"{py}\"\nversion = \"1.0.0\"\n"
                ),
            )
            .file(
                &format!("py/pkg/src/pkg_{id}/__init__.py"),
                "VALUE = 1\n",
            )
            .commit("feat: first release");
        let origin = tempfile::tempdir().unwrap();
        let status = Command::new("git")
            .args(["init", "-q", "--bare"])
            .arg(origin.path())
            .status()
            .unwrap();
        assert!(status.success());
        repo.git(&["remote", "add", "origin", &origin.path().to_string_lossy()]);
        repo.git(&["push", "-q", "origin", "main"]);
        Self {
            repo,
            origin,
            id,
            env: release_env(),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, &self.env)
    }

    fn run_with(&self, args: &[&str], env: &[(String, String)]) -> Output {
        self.repo.run_env(self.repo.path(), args, env)
    }

    fn name(&self, what: &str) -> String {
        match what {
            "core" => format!("core_{}", self.id),
            other => format!("{other}-{}", self.id),
        }
    }

    /// Tags on `origin`, by name, with the commit each names.
    fn remote_tags(&self) -> Vec<(String, String)> {
        let out = self
            .repo
            .git(&["ls-remote", "--tags", &self.origin.path().to_string_lossy()]);
        let mut tags: Vec<(String, String)> = out
            .lines()
            .filter_map(|l| {
                let (id, name) = l.split_once('\t')?;
                Some((name.strip_prefix("refs/tags/")?.to_owned(), id.to_owned()))
            })
            .collect();
        tags.sort();
        tags
    }

    fn head(&self) -> String {
        self.repo.git(&["rev-parse", "HEAD"]).trim().to_owned()
    }

    fn journal(&self) -> serde_json::Value {
        serde_json::from_str(&self.repo.read(".git/polyship/journal.json")).unwrap()
    }
}

/// GETs `url` with Python's urllib (Python is a test prerequisite; curl is not): the status and
/// the body.
fn http_get(url: &str) -> (u16, Vec<u8>) {
    let script = "import sys, urllib.request, urllib.error
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
try:
    body = opener.open(sys.argv[1], timeout=30).read()
    sys.stdout.buffer.write(b'200\\n' + body)
except urllib.error.HTTPError as e:
    sys.stdout.buffer.write(str(e.code).encode() + b'\\n')
";
    let out = Command::new("python3")
        .args(["-c", script, url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "GET {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let split = out.stdout.iter().position(|b| *b == b'\n').unwrap();
    let status = String::from_utf8_lossy(&out.stdout[..split])
        .parse()
        .unwrap();
    (status, out.stdout[split + 1..].to_vec())
}

/// The packument of an npm package, `null` when there is none.
fn packument(registry: &str, name: &str) -> serde_json::Value {
    let (_, body) = http_get(&format!("{registry}{name}"));
    serde_json::from_slice(&body).unwrap_or_default()
}

fn npm_published(registry: &str, name: &str, version: &str) -> bool {
    packument(registry, name)["versions"].get(version).is_some()
}

/// Downloads `name@version` with the real client of each registry into a temporary directory and
/// returns the downloaded files.
fn download(ecosystem: &str, name: &str, version: &str, npm_registry: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let (program, args): (String, Vec<String>) = match ecosystem {
        "npm" => (
            "npm".into(),
            vec![
                "pack".into(),
                format!("{name}@{version}"),
                "--registry".into(),
                npm_registry.into(),
                "--pack-destination".into(),
                dir.path().to_string_lossy().into_owned(),
            ],
        ),
        "python" => (
            var("POLYSHIP_TEST_PYTHON"),
            vec![
                "-m".into(),
                "pip".into(),
                "download".into(),
                "--quiet".into(),
                "--no-deps".into(),
                "--only-binary".into(),
                ":all:".into(),
                "--index-url".into(),
                format!("{}simple/", var("POLYSHIP_TEST_PYPI_URL")),
                "-d".into(),
                dir.path().to_string_lossy().into_owned(),
                format!("{name}=={version}"),
            ],
        ),
        _ => {
            // A crate that depends on it, and `cargo fetch`.
            let consumer = dir.path().join("consumer");
            std::fs::create_dir_all(consumer.join("src")).unwrap();
            std::fs::write(consumer.join("src/lib.rs"), "").unwrap();
            std::fs::write(
                consumer.join("Cargo.toml"),
                format!(
                    "[package]\nname = \"consumer\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[dependencies]\n{name} = {{ version = \"={version}\", registry = \"local\" }}\n"
                ),
            )
            .unwrap();
            let out = Command::new("cargo")
                .args(["fetch", "--quiet"])
                .current_dir(&consumer)
                .env(
                    "CARGO_REGISTRIES_LOCAL_INDEX",
                    var("POLYSHIP_TEST_CARGO_INDEX"),
                )
                .env("CARGO_HOME", home.path())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "cargo fetch {name} {version}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let mut found = Vec::new();
            for entry in walk(home.path()) {
                if entry.ends_with(&format!("{name}-{version}.crate")) {
                    found.push(entry);
                }
            }
            return found;
        }
    };
    let out = Command::new(&program)
        .args(&args)
        .current_dir(dir.path())
        .env("HOME", home.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program} download of {name} {version} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    walk(dir.path())
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p.to_string_lossy().into_owned());
        }
    }
    out
}

/// Every file under the repository (outside `.git`) and every ref, for "nothing changed" checks.
fn tree_state(repo: &Repo) -> (Vec<(String, Vec<u8>)>, String) {
    let mut files: Vec<(String, Vec<u8>)> = walk(repo.path())
        .into_iter()
        .filter(|p| !p.contains("/.git/"))
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    files.sort();
    let refs = repo.git(&["show-ref"]);
    (files, refs)
}

#[test]
fn publishes_a_polyglot_release_in_dependency_order_then_reruns_as_a_no_op() {
    let npm = var("POLYSHIP_TEST_NPM_REGISTRY");
    let f = Fixture::new(&npm, "");
    let out = f.run(&["publish"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let (core, lib, app, py) = (f.name("core"), f.name("lib"), f.name("app"), f.name("pkg"));

    // Every package is really downloadable from its registry with its own client.
    assert_eq!(download("cargo", &core, "1.0.0", &npm).len(), 1);
    assert_eq!(download("npm", &lib, "1.0.0", &npm).len(), 1);
    assert_eq!(download("npm", &app, "1.0.0", &npm).len(), 1);
    let py_files = download("python", &py, "1.0.0", &npm);
    assert!(
        py_files.iter().any(|f| f.ends_with("-py3-none-any.whl")),
        "{py_files:?}"
    );

    // `app` is published only after `lib`, its dependency.
    let lib_done = out.stderr.find(&format!("Published {lib} 1.0.0")).unwrap();
    let app_start = out.stderr.find(&format!("Publishing {app} 1.0.0")).unwrap();
    assert!(lib_done < app_start, "{}", out.stderr);

    // Tags exist on the remote, on the release commit, each after its package.
    let head = f.head();
    let tags = f.remote_tags();
    let expected: Vec<(String, String)> = {
        let mut t = vec![
            (format!("{app}@1.0.0"), head.clone()),
            (format!("{core}-v1.0.0"), head.clone()),
            (format!("{lib}@1.0.0"), head.clone()),
            (format!("{py}-v1.0.0"), head.clone()),
        ];
        t.sort();
        t
    };
    assert_eq!(tags, expected);
    for name in [&core, &lib, &app, &py] {
        assert!(out.stdout.contains(name), "{}", out.stdout);
    }
    assert!(out.stdout.contains("published"), "{}", out.stdout);

    // The journal says complete; the work tree is as it was.
    let journal = f.journal();
    assert_eq!(journal["state"], "complete");
    assert_eq!(journal["commit"], head.as_str());
    assert_eq!(journal["runs"], 1);
    assert!(
        journal["packages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["publish"] == "published" && p["tagged"] == true && p["pushed"] == true),
        "{journal:#}"
    );
    assert_eq!(f.repo.git(&["status", "--porcelain"]), "");
    let status = f.run(&["publish", "--status"]);
    assert_eq!(status.code, 0);
    assert!(
        status.stdout.contains("complete after 1 run"),
        "{}",
        status.stdout
    );

    // Again: nothing is uploaded, tagged or pushed twice.
    let again = f.run(&["publish"]);
    assert_eq!(again.code, 0, "{}", again.snapshot());
    assert!(!again.stderr.contains("Publishing"), "{}", again.stderr);
    assert!(!again.stderr.contains("Pushed"), "{}", again.stderr);
    assert!(!again.stderr.contains("Tagged"), "{}", again.stderr);
    assert_eq!(
        again.stdout.matches("existing").count(),
        4,
        "{}",
        again.stdout
    );
    assert_eq!(f.remote_tags(), expected);
}

#[test]
fn dry_run_reads_registries_and_writes_nothing() {
    let npm = var("POLYSHIP_TEST_NPM_REGISTRY");
    let f = Fixture::new(&npm, "");
    let before = tree_state(&f.repo);
    let remote_before = f.remote_tags();
    let out = f.run(&["publish", "--dry-run"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert_eq!(
        out.stdout.matches("would publish").count(),
        4,
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains(&format!("{}@1.0.0 (new)", f.name("lib"))),
        "{}",
        out.stdout
    );
    assert_eq!(tree_state(&f.repo), before);
    assert!(!f.repo.exists(".git/polyship"));
    assert_eq!(f.remote_tags(), remote_before);
    assert!(!npm_published(&npm, &f.name("lib"), "1.0.0"));
}

#[test]
fn preflight_reports_every_problem_at_once_and_does_nothing() {
    let npm = var("POLYSHIP_TEST_NPM_REGISTRY");
    let f = Fixture::new(&npm, "");
    // A tag this release would create already exists on the remote, on another commit.
    let lib_tag = format!("{}@1.0.0", f.name("lib"));
    f.repo.git(&["tag", &lib_tag]);
    f.repo.git(&["push", "-q", "origin", &lib_tag]);
    f.repo.git(&["tag", "-d", &lib_tag]);
    f.repo.write("js/lib/index.js", "module.exports = 3;\n");
    f.repo.git(&["commit", "-qam", "fix: three"]);
    f.repo.git(&["push", "-q", "origin", "main"]);
    // A dirty tree, missing and empty credentials.
    f.repo.write("notes.txt", "draft\n");
    let env = with(
        &without(&f.env, "CARGO_REGISTRIES_LOCAL_TOKEN"),
        "NPM_TOKEN",
        "",
    );
    let out = f.run_with(&["publish"], &env);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    let e = &out.stderr;
    assert!(e.contains("preflight found 4 problems"), "{e}");
    assert!(e.contains("the work tree is not clean: notes.txt"), "{e}");
    assert!(
        e.contains(&format!("tag `{lib_tag}` already exists on `origin`")),
        "{e}"
    );
    assert!(
        e.contains("`CARGO_REGISTRIES_LOCAL_TOKEN` is not set"),
        "{e}"
    );
    assert!(e.contains("`NPM_TOKEN` is set but empty"), "{e}");
    assert!(!npm_published(&npm, &f.name("app"), "1.0.0"));
    assert_eq!(f.repo.git(&["tag"]), "");
    assert!(!f.repo.exists(".git/polyship/journal.json"));

    // On another branch, and behind the remote.
    let f = Fixture::new(&npm, "");
    f.repo.git(&["checkout", "-q", "-b", "topic"]);
    let out = f.run(&["publish"]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr
            .contains("the release branch is `main`, and `topic` is checked out"),
        "{}",
        out.stderr
    );
    f.repo.git(&["checkout", "-q", "main"]);
    f.repo.write("x.txt", "x\n");
    f.repo.git(&["add", "x.txt"]);
    f.repo.git(&["commit", "-qm", "chore: x"]);
    f.repo.git(&["push", "-q", "origin", "main"]);
    f.repo.git(&["reset", "-q", "--hard", "HEAD~1"]);
    let out = f.run(&["publish"]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains("HEAD is behind `origin/main`"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_version_already_published_with_other_content_is_taken() {
    let npm = var("POLYSHIP_TEST_NPM_REGISTRY");
    let f = Fixture::new(&npm, "");
    // Someone published lib 1.0.0 from other sources.
    support::npm_publish_elsewhere(
        &npm,
        &var("POLYSHIP_TEST_NPM_TOKEN"),
        &format!(
            "{{ \"name\": \"{}\", \"version\": \"1.0.0\", \"description\": \"other\" }}\n",
            f.name("lib")
        ),
    );

    let out = f.run(&["publish"]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains(&format!(
            "{} 1.0.0 is already on its registry with other content than this commit builds: the version is taken",
            f.name("lib")
        )),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("bump the version"), "{}", out.stderr);
    assert_eq!(f.repo.git(&["tag"]), "");
    assert!(!npm_published(&npm, &f.name("app"), "1.0.0"));
}

#[test]
fn a_registry_that_is_down_stops_the_release_before_anything_happens() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let f = Fixture::new(&format!("http://127.0.0.1:{closed}/"), "");
    let out = f.run(&["publish"]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains("could not be reached"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!("{} 1.0.0", f.name("lib"))),
        "{}",
        out.stderr
    );
    assert_eq!(f.repo.git(&["tag"]), "");
    // The crate was not published either: preflight comes first.
    assert!(download_fails_for_crate(&f.name("core")));
}

fn download_fails_for_crate(name: &str) -> bool {
    let url = format!(
        "{}{}",
        var("POLYSHIP_TEST_CARGO_SPARSE"),
        polyship_core_index_path(name)
    );
    http_get(&url).0 == 404
}

fn polyship_core_index_path(name: &str) -> String {
    let n = name.to_ascii_lowercase();
    format!("{}/{}/{n}", &n[..2], &n[2..4])
}

#[test]
fn a_second_run_waits_for_no_one_holding_the_lock() {
    let npm = var("POLYSHIP_TEST_NPM_REGISTRY");
    let f = Fixture::new(&npm, "");
    // A live process holds the lock: this test's own.
    std::fs::create_dir_all(f.repo.join(".git/polyship")).unwrap();
    std::fs::write(
        f.repo.join(".git/polyship/lock"),
        format!("{}\n", std::process::id()),
    )
    .unwrap();
    let out = f.run(&["publish"]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains("another polyship run"),
        "{}",
        out.stderr
    );
    assert!(!npm_published(&npm, &f.name("lib"), "1.0.0"));
}

#[test]
fn workspace_protocol_left_in_a_packed_manifest_fails_that_package_only() {
    let npm = var("POLYSHIP_TEST_NPM_REGISTRY");
    let f = Fixture::new(&npm, "");
    // npm (unlike pnpm and Yarn) does not rewrite `workspace:` when packing.
    let app = f.read_app();
    f.repo.write(
        "js/app/package.json",
        &app.replace("\"^1.0.0\"", "\"workspace:*\""),
    );
    f.repo.git(&["commit", "-qam", "chore: workspace protocol"]);
    f.repo.git(&["push", "-q", "origin", "main"]);
    let out = f.run(&["publish"]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains(&format!(
            "still has dependencies.{} = \"workspace:*\"",
            f.name("lib")
        )),
        "{}",
        out.stderr
    );
    assert!(npm_published(&npm, &f.name("lib"), "1.0.0"));
    assert!(!npm_published(&npm, &f.name("app"), "1.0.0"));
    let tags = f.repo.git(&["tag"]);
    assert!(tags.contains(&format!("{}@1.0.0", f.name("lib"))), "{tags}");
    assert!(!tags.contains(&f.name("app")), "{tags}");
    assert!(out.stdout.contains("failed"), "{}", out.stdout);
}

impl Fixture {
    fn read_app(&self) -> String {
        self.repo.read("js/app/package.json")
    }
}

#[test]
fn secrets_never_reach_output_or_the_journal() {
    let npm = var("POLYSHIP_TEST_NPM_REGISTRY");
    let f = Fixture::new(&npm, "");
    // A pack script that prints the token and a URL with a password, then fails.
    let app = f.read_app();
    f.repo.write(
        "js/app/package.json",
        &app.replace(
            "\"main\"",
            "\"scripts\": { \"prepack\": \"echo token=$NPM_TOKEN cargo=$CARGO_REGISTRIES_LOCAL_TOKEN url=https://bob:hunter2pass@example.com/x && exit 3\" }, \"main\"",
        ),
    );
    f.repo.git(&["commit", "-qam", "chore: noisy script"]);
    f.repo.git(&["push", "-q", "origin", "main"]);
    let out = f.run(&["publish", "-v"]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    // The relayed output is there, masked.
    assert!(out.stderr.contains("token=***"), "{}", out.stderr);
    assert!(
        out.stderr.contains("https://bob:***@example.com/x"),
        "{}",
        out.stderr
    );
    let journal = f.repo.read(".git/polyship/journal.json");
    // The npm config polyship generates lives only while the run does.
    assert!(!f.repo.exists(".git/polyship/npmrc"));
    for secret in [
        var("POLYSHIP_TEST_NPM_TOKEN"),
        "cargo-canary-7f3a9c".to_owned(),
        "hunter2pass".to_owned(),
        var("POLYSHIP_TEST_PYPI_PASSWORD"),
    ] {
        for (what, text) in [
            ("stdout", &out.stdout),
            ("stderr", &out.stderr),
            ("journal", &journal),
        ] {
            assert!(!text.contains(&secret), "{what} shows a secret:\n{text}");
        }
    }
    // The crate was published with the canary token all the same.
    assert_eq!(download("cargo", &f.name("core"), "1.0.0", &npm).len(), 1);
}

#[test]
fn filter_publishes_only_the_selected_packages_and_refuses_a_missing_dependency() {
    let npm = var("POLYSHIP_TEST_NPM_REGISTRY");
    let f = Fixture::new(&npm, "");
    let (lib, app) = (f.name("lib"), f.name("app"));
    // `app` alone: its dependency `lib` is neither released nor on the registry.
    let out = f.run(&["publish", "--filter", &app]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains(&format!(
            "{app} depends on {lib} 1.0.0, which is not on its registry and not part of this release"
        )),
        "{}",
        out.stderr
    );
    // `lib` alone, then `app` alone.
    let out = f.run(&["publish", "--filter", &lib]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(npm_published(&npm, &lib, "1.0.0"));
    assert!(!npm_published(&npm, &app, "1.0.0"));
    assert_eq!(f.remote_tags().len(), 1);
    let out = f.run(&["publish", "--filter", &app]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(npm_published(&npm, &app, "1.0.0"));
    assert_eq!(f.remote_tags().len(), 2);
}

#[test]
fn private_packages_are_tagged_when_asked_not_uploaded_and_no_push_keeps_everything_local() {
    let npm = var("POLYSHIP_TEST_NPM_REGISTRY");
    let f = Fixture::new(&npm, "\n[tags]\nprivate = true\n");
    let app = f.read_app();
    f.repo.write(
        "js/app/package.json",
        &app.replace("\"main\"", "\"private\": true, \"main\""),
    );
    f.repo.git(&["commit", "-qam", "chore: app is private"]);
    let out = f.run(&["publish", "--no-push", "--json"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let doc = out.json();
    let states: Vec<(String, String)> = doc["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_owned(),
                t["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        states.contains(&(f.name("app"), "private".into())),
        "{states:?}"
    );
    assert!(
        states.contains(&(f.name("lib"), "published".into())),
        "{states:?}"
    );
    assert!(!npm_published(&npm, &f.name("app"), "1.0.0"));
    let tags = f.repo.git(&["tag"]);
    assert!(tags.contains(&format!("{}@1.0.0", f.name("app"))), "{tags}");
    assert_eq!(tags.lines().count(), 4, "{tags}");
    // Nothing reached the remote.
    assert!(f.remote_tags().is_empty());
    assert_ne!(
        f.repo.git(&["rev-parse", "origin/main"]).trim(),
        f.head(),
        "the release commit was pushed"
    );
    assert!(out.stderr.contains("--no-push"), "{}", out.stderr);
    // A later run pushes what is missing.
    let out = f.run(&["publish"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert_eq!(f.remote_tags().len(), 4);
    assert!(!out.stderr.contains("Publishing"), "{}", out.stderr);
}

use std::time::Duration;
use support::fake_forge::{FakeForge, Kind, Release};
use support::faults::{Action, Proxy, Rule};

/// What a finished release leaves behind, to compare a resumed release with a clean one.
fn final_state(f: &Fixture, npm: &str) -> Vec<String> {
    let head = f.head();
    let mut state: Vec<String> = f
        .remote_tags()
        .into_iter()
        .map(|(tag, commit)| {
            format!(
                "tag {tag} on {}",
                if commit == head { "HEAD" } else { "other" }
            )
        })
        .collect();
    for what in ["lib", "app"] {
        state.push(format!(
            "npm {what} published: {}",
            npm_published(npm, &f.name(what), "1.0.0")
        ));
    }
    state.push(format!(
        "crate published: {}",
        !download_fails_for_crate(&f.name("core"))
    ));
    state.push(format!("journal: {}", f.journal()["state"]));
    state.iter().map(|s| s.replace(&f.id, "ID")).collect()
}

fn clean_final_state() -> Vec<String> {
    let npm = var("POLYSHIP_TEST_NPM_REGISTRY");
    let f = Fixture::new(&npm, "");
    let out = f.run(&["publish"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    final_state(&f, &npm)
}

#[test]
fn a_refused_upload_blocks_only_its_dependents_and_a_rerun_finishes_the_release() {
    let npm = var("POLYSHIP_TEST_NPM_REGISTRY");
    let proxy = Proxy::start(&npm);
    let f = Fixture::new(&proxy.url(), "");
    let (lib, app) = (f.name("lib"), f.name("app"));
    proxy.fault(Rule::new(Some("PUT"), &lib, 1, Action::Status(403, vec![])));
    let out = f.run(&["publish"]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    let row = |name: &str| {
        out.stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(row(&lib).contains("failed"), "{}", out.stdout);
    assert!(row(&app).contains("blocked"), "{}", out.stdout);
    assert!(row(&f.name("core")).contains("published"), "{}", out.stdout);
    assert!(row(&f.name("pkg")).contains("published"), "{}", out.stdout);
    assert!(
        out.stderr.contains(&format!(
            "{app} 1.0.0: its dependency {lib} was not published"
        )),
        "{}",
        out.stderr
    );
    // 403 is not worth a retry: one upload only.
    let puts = proxy
        .requests()
        .iter()
        .filter(|(m, p, _)| m == "PUT" && p.contains(&lib))
        .count();
    assert_eq!(puts, 1, "{:?}", proxy.requests());
    assert_eq!(f.remote_tags().len(), 2);
    assert_eq!(f.journal()["state"], "failed");
    let status = f.run(&["publish", "--status"]);
    assert!(status.stdout.contains("blocked"), "{}", status.stdout);

    let again = f.run(&["publish"]);
    assert_eq!(again.code, 0, "{}", again.snapshot());
    assert!(
        !again
            .stderr
            .contains(&format!("Publishing {}", f.name("core"))),
        "{}",
        again.stderr
    );
    assert_eq!(f.journal()["runs"], 2);
    assert_eq!(final_state(&f, &npm), clean_final_state());
}

/// A slow registry read in a dry run: a spinner on a terminal names what is read; a log gets
/// nothing more than the table.
#[test]
fn a_dry_run_shows_what_it_reads_on_a_terminal() {
    let npm = var("POLYSHIP_TEST_NPM_REGISTRY");
    let proxy = Proxy::start(&npm);
    let name = format!("slow-{}", uid());
    proxy.fault(Rule::new(
        Some("GET"),
        &name,
        10,
        Action::Delay(Duration::from_millis(1500)),
    ));
    let r = Repo::new()
        .file(
            "polyship.toml",
            &format!("[publish.npm]\nregistry = \"{}\"\n", proxy.url()),
        )
        .file(
            "package.json",
            &format!("{{ \"name\": \"{name}\", \"version\": \"1.0.0\", \"license\": \"MIT\" }}\n"),
        )
        .commit("feat: a package");
    let mut env = release_env();
    env.push(("PATH".into(), std::env::var("PATH").unwrap_or_default()));
    env.push(("NO_COLOR".into(), "1".into()));
    env.push(("TERM".into(), "xterm".into()));
    let command = format!(
        "{} publish --dry-run --no-push",
        env!("CARGO_BIN_EXE_polyship")
    );
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(r.path())
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("HOME", r.path())
        .output()
        .expect("`script` (util-linux) is needed: `apt-get install -y bsdutils`");
    let shown = String::from_utf8_lossy(&out.stdout);
    let host = proxy.url();
    let host = host.trim_start_matches("http://").trim_end_matches('/');
    assert!(
        shown.contains(&format!("Reading 1 package on {host}")),
        "{shown}"
    );
    assert!(shown.contains("would publish"), "{shown}");
    // Not a terminal: no spinner, and no line for it.
    let out = r.run_env(
        r.path(),
        &["publish", "--dry-run", "--no-push"],
        &release_env(),
    );
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(!out.stderr.contains("Reading"), "{}", out.stderr);
}

#[test]
fn a_conflict_fails_without_retrying() {
    let npm = var("POLYSHIP_TEST_NPM_REGISTRY");
    let proxy = Proxy::start(&npm);
    let f = Fixture::new(&proxy.url(), "");
    let lib = f.name("lib");
    proxy.fault(Rule::new(
        Some("PUT"),
        &lib,
        10,
        Action::Status(409, vec![]),
    ));
    let out = f.run(&["publish"]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(out.stderr.contains("409"), "{}", out.stderr);
    let puts = proxy
        .requests()
        .iter()
        .filter(|(m, p, _)| m == "PUT" && p.contains(&lib))
        .count();
    assert_eq!(puts, 1, "{:?}", proxy.requests());
    assert!(!npm_published(&npm, &lib, "1.0.0"));
}

#[test]
fn rate_limits_and_server_errors_are_retried() {
    let npm = var("POLYSHIP_TEST_NPM_REGISTRY");
    let proxy = Proxy::start(&npm);
    let pypi = Proxy::start(&var("POLYSHIP_TEST_PYPI_URL"));
    let f = Fixture::new(&proxy.url(), "");
    // Route Python uploads through their own proxy.
    let config = f.repo.read("polyship.toml").replace(
        &format!("upload = \"{}\"", var("POLYSHIP_TEST_PYPI_URL")),
        &format!("upload = \"{}\"", pypi.url()),
    );
    f.repo.write("polyship.toml", &config);
    f.repo
        .git(&["commit", "-qam", "chore: upload through a proxy"]);
    f.repo.git(&["push", "-q", "origin", "main"]);
    let lib = f.name("lib");
    proxy.fault(Rule::new(
        Some("PUT"),
        &lib,
        1,
        Action::Status(429, vec![("Retry-After".into(), "1".into())]),
    ));
    // Registry reads get a 503 once as well.
    proxy.fault(Rule::new(
        Some("GET"),
        &f.name("app"),
        1,
        Action::Status(503, vec![]),
    ));
    pypi.fault(Rule::new(Some("POST"), "", 1, Action::Status(500, vec![])));
    let out = f.run(&["publish"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let seen = proxy.requests();
    let lib_puts: Vec<u16> = seen
        .iter()
        .filter(|(m, p, _)| m == "PUT" && p.contains(&lib))
        .map(|(_, _, s)| *s)
        .collect();
    assert_eq!(lib_puts.first(), Some(&429), "{seen:?}");
    assert!(
        lib_puts.last().is_some_and(|s| (200..300).contains(s)),
        "{seen:?}"
    );
    let posts: Vec<u16> = pypi
        .requests()
        .iter()
        .filter(|(m, ..)| m == "POST")
        .map(|r| r.2)
        .collect();
    assert_eq!(posts.first(), Some(&500), "{posts:?}");
    assert!(npm_published(&npm, &lib, "1.0.0"));
    assert_eq!(download("python", &f.name("pkg"), "1.0.0", &npm).len(), 1);
}

#[test]
fn a_connection_dropped_after_the_upload_is_settled_by_asking_the_registry() {
    let npm = var("POLYSHIP_TEST_NPM_REGISTRY");
    let proxy = Proxy::start(&npm);
    let f = Fixture::new(&proxy.url(), "");
    let lib = f.name("lib");
    proxy.fault(Rule::new(Some("PUT"), &lib, 1, Action::DropAfterForward));
    let out = f.run(&["publish"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(
        proxy
            .requests()
            .iter()
            .any(|(m, p, s)| m == "PUT" && p.contains(&lib) && *s == 0),
        "{:?}",
        proxy.requests()
    );
    assert!(npm_published(&npm, &lib, "1.0.0"));
    assert!(npm_published(&npm, &f.name("app"), "1.0.0"));
    assert_eq!(f.remote_tags().len(), 4);
}

#[test]
fn a_dependent_waits_until_its_dependency_shows_on_the_registry() {
    let npm = var("POLYSHIP_TEST_NPM_REGISTRY");
    let proxy = Proxy::start(&npm);
    let f = Fixture::new(&proxy.url(), "");
    let lib = f.name("lib");
    // The first read (before publishing) and three more say "not there": the upload is not
    // confirmed until the registry shows it, and only then does its dependent go.
    proxy.fault(Rule::new(Some("GET"), &format!("/{lib}"), 100, Action::Stale).by_agent("npm/"));
    proxy.fault(Rule::new(Some("GET"), &format!("/{lib}"), 4, Action::Stale));
    let out = f.run(&["publish"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let (waited, published, app_goes) = (
        out.stderr
            .find(&format!("Waiting {lib} 1.0.0: to show on its registry"))
            .unwrap_or_else(|| panic!("{}", out.stderr)),
        out.stderr
            .find(&format!("Published {lib} 1.0.0"))
            .unwrap_or_else(|| panic!("{}", out.stderr)),
        out.stderr
            .find(&format!("Publishing {} 1.0.0", f.name("app")))
            .unwrap_or_else(|| panic!("{}", out.stderr)),
    );
    assert!(waited < published && published < app_goes, "{}", out.stderr);
    assert!(npm_published(&npm, &f.name("app"), "1.0.0"));
}

/// Signals a whole process group, as a terminal's Ctrl-C or a CI runner's cancel does: polyship
/// and the tools it runs.
fn signal_group(pgid: u32, sig: &str) {
    // Python is a test prerequisite; `kill` from procps may not be installed.
    let status = Command::new("python3")
        .args([
            "-c",
            "import os, signal, sys; os.killpg(int(sys.argv[1]), getattr(signal, sys.argv[2]))",
            &pgid.to_string(),
            sig,
        ])
        .status()
        .unwrap();
    assert!(status.success());
}

/// `polyship publish` started in its own process group.
fn spawn_publish(f: &Fixture) -> std::process::Child {
    use std::os::unix::process::CommandExt as _;
    f.repo
        .command(f.repo.path(), &["publish"], &f.env)
        .process_group(0)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until `lib` was uploaded and then read twice more: `app` is polling for it.
fn wait_until_app_waits(proxy: &Proxy, lib: &str) {
    assert!(proxy.wait_for("PUT", lib, 1, Duration::from_mins(1)));
    let reads = |p: &Proxy| {
        p.requests()
            .iter()
            .filter(|(m, path, _)| m == "GET" && path.contains(&format!("/{lib}")))
            .count()
    };
    let before = reads(proxy);
    assert!(proxy.wait_for(
        "GET",
        &format!("/{lib}"),
        before + 2,
        Duration::from_mins(1)
    ));
}

#[test]
fn ctrl_c_between_two_packages_stops_cleanly_and_a_rerun_completes() {
    let npm = var("POLYSHIP_TEST_NPM_REGISTRY");
    let proxy = Proxy::start(&npm);
    let f = Fixture::new(&proxy.url(), "");
    let (lib, app) = (f.name("lib"), f.name("app"));
    // `lib` is confirmed (polyship's read before and after its upload see the truth; npm's own
    // reads pass), then never seems to be there again, so `app` waits — between the two, Ctrl-C.
    let reads = format!("/{lib}");
    proxy.fault(
        Rule::new(Some("GET"), &reads, 10_000, Action::Delay(Duration::ZERO)).by_agent("npm/"),
    );
    proxy.fault(Rule::new(Some("GET"), &reads, 10_000, Action::Stale).after(2));
    let child = spawn_publish(&f);
    wait_until_app_waits(&proxy, &lib);
    signal_group(child.id(), "SIGINT");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("run `polyship publish` again"), "{stderr}");
    let journal = f.journal();
    assert_eq!(journal["state"], "interrupted");
    let entry = |name: &str| {
        journal["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(entry(&lib)["publish"], "published");
    assert_eq!(entry(&lib)["tagged"], true);
    assert_eq!(entry(&app)["publish"], "interrupted");
    assert!(!npm_published(&npm, &app, "1.0.0"));
    assert!(!f.repo.exists(".git/polyship/lock"));

    proxy.clear();
    let again = f.run(&["publish"]);
    assert_eq!(again.code, 0, "{}", again.snapshot());
    assert!(
        !again.stderr.contains(&format!("Publishing {lib}")),
        "{}",
        again.stderr
    );
    assert_eq!(final_state(&f, &npm), clean_final_state());
}

#[test]
fn a_killed_run_leaves_a_journal_and_a_stale_lock_that_the_rerun_takes_over() {
    let npm = var("POLYSHIP_TEST_NPM_REGISTRY");
    let proxy = Proxy::start(&npm);
    let f = Fixture::new(&proxy.url(), "");
    let lib = f.name("lib");
    proxy.fault(Rule::new(
        Some("GET"),
        &format!("/{lib}"),
        10_000,
        Action::Stale,
    ));
    let child = spawn_publish(&f);
    wait_until_app_waits(&proxy, &lib);
    signal_group(child.id(), "SIGKILL");
    let _ = child.wait_with_output();
    assert!(f.repo.exists(".git/polyship/lock"));
    assert_eq!(f.journal()["state"], "running");
    // The tag of the published `lib` may or may not have been made; the rerun sorts it out.
    proxy.clear();
    let again = f.run(&["publish"]);
    assert_eq!(again.code, 0, "{}", again.snapshot());
    assert!(
        !again.stderr.contains(&format!("Publishing {lib}")),
        "{}",
        again.stderr
    );
    assert_eq!(final_state(&f, &npm), clean_final_state());
}

fn forge_config(forge: &FakeForge, kind: &str) -> String {
    format!(
        "\n[publish.forge]\nkind = \"{kind}\"\napi = \"{}\"\nrepository = \"acme/mono\"\n",
        forge.api_url()
    )
}

#[test]
fn forge_releases_carry_the_changelog_and_are_never_duplicated() {
    let npm = var("POLYSHIP_TEST_NPM_REGISTRY");
    let forge = FakeForge::start(Kind::GitHub, "gh-canary-token-4411");
    let f = Fixture::new(&npm, &forge_config(&forge, "github"));
    let (core, lib) = (f.name("core"), f.name("lib"));
    // A draft for lib's tag exists already: GitHub's get-by-tag does not show it.
    forge.seed(
        "acme/mono",
        Release {
            id: 0,
            tag: format!("{lib}@1.0.0"),
            name: "draft".into(),
            body: "draft notes".into(),
            draft: true,
            prerelease: false,
        },
    );
    // Without the token, preflight stops everything.
    let out = f.run(&["publish"]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr
            .contains("`GITHUB_TOKEN` or `GH_TOKEN` is not set"),
        "{}",
        out.stderr
    );
    assert!(!npm_published(&npm, &lib, "1.0.0"));

    let env = with(&f.env, "GITHUB_TOKEN", "gh-canary-token-4411");
    // The forge fails for a while: the packages are out, the releases are not.
    forge.fail_next(502, 40);
    let out = f.run_with(&["publish"], &env);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains("the forge release failed"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("gh-canary-token-4411"),
        "{}",
        out.stderr
    );
    assert!(npm_published(&npm, &lib, "1.0.0"));
    forge.fail_next(502, 0);
    // A dry run reads the forge: the packages are out, tagged and pushed, but no release is made
    // (lib's draft does not count).
    let dry = f.run_with(&["publish", "--dry-run", "--json"], &env).json();
    assert_eq!(dry["forge"], true);
    let targets = dry["targets"].as_array().unwrap();
    assert!(
        targets
            .iter()
            .all(|t| t["pushed"] == true && t["release"].is_null()),
        "{dry:#}"
    );

    let out = f.run_with(&["publish"], &env);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let releases = forge.releases();
    assert_eq!(releases.len(), 4, "{releases:#?}");
    let by_tag = |tag: &str| {
        releases
            .iter()
            .find(|(_, r)| r.tag == tag)
            .map(|(_, r)| r.clone())
            .unwrap()
    };
    assert_eq!(
        by_tag(&format!("{core}-v1.0.0")).body,
        "### Features\n\n- the core"
    );
    let lib_release = by_tag(&format!("{lib}@1.0.0"));
    assert_eq!(lib_release.body, "- the library");
    assert_eq!(
        lib_release.name, "draft",
        "the existing draft was updated, not replaced"
    );
    assert!(!lib_release.draft, "the draft was published");
    assert!(
        out.stdout.contains("/acme/mono/releases/tag/"),
        "{}",
        out.stdout
    );

    // Now a dry run finds every release, with the changelog's notes.
    let dry = f.run_with(&["publish", "--dry-run", "--json"], &env).json();
    let targets = dry["targets"].as_array().unwrap();
    assert!(
        targets.iter().all(|t| t["release"]
            .as_str()
            .is_some_and(|u| u.contains("/releases/tag/"))),
        "{dry:#}"
    );

    // Once more: only reads.
    let before = forge.requests().len();
    let out = f.run_with(&["publish"], &env);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let writes: Vec<(String, String)> = forge.requests()[before..]
        .iter()
        .filter(|(m, _)| m != "GET")
        .cloned()
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
    assert_eq!(forge.releases().len(), 4);
    assert!(
        !f.repo
            .read(".git/polyship/journal.json")
            .contains("gh-canary-token-4411")
    );
}

/// A `[[publish.npm.binary]]` that names no package of the repository would ship nothing: it is
/// a problem before anything is published, naming the key.
#[test]
fn a_binary_entry_naming_no_package_is_refused_before_publishing() {
    let npm = var("POLYSHIP_TEST_NPM_REGISTRY");
    let id = uid();
    let name = format!("nb-{id}");
    let config = format!(
        "[publish.npm]\nregistry = \"{npm}\"\n\n[[publish.npm.binary]]\npackage = \"npm:{name}-launcher\"\ncrate = \"cargo:{name}\"\n"
    );
    let r = Repo::new()
        .file("polyship.toml", &config)
        .file(
            "package.json",
            &format!("{{ \"name\": \"{name}\", \"version\": \"1.0.0\", \"license\": \"MIT\" }}\n"),
        )
        .commit("feat: a package");
    let out = r.run_env(
        r.path(),
        &["publish", "--dry-run", "--no-push"],
        &release_env(),
    );
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains(&format!(
            "`[[publish.npm.binary]] package = \"npm:{name}-launcher\"` is not an npm package of the repository"
        )) && out.stderr.contains(&format!(
            "`[[publish.npm.binary]] crate = \"cargo:{name}\"` is not a crate of the repository"
        )),
        "{}",
        out.stderr
    );
}

/// A fixed group that shares one tag and keeps its own changelog (as polyship's own release
/// does): one forge release, made once, with the group changelog's section; a dry run then
/// counts it as every member's release.
#[test]
fn a_fixed_group_with_one_tag_gets_one_release_with_the_group_changelog() {
    let npm = var("POLYSHIP_TEST_NPM_REGISTRY");
    let token = "gh-group-token-27";
    let forge = FakeForge::start(Kind::GitHub, token);
    let id = uid();
    let (a, b) = (format!("ga-{id}"), format!("gb-{id}"));
    let config = format!(
        "[tags]\ntemplates = [\"v{{version}}\"]\n\n[[group]]\nname = \"suite\"\nkind = \"fixed\"\npackages = [\"{a}\", \"{b}\"]\nchangelog = \"CHANGELOG.md\"\n\n[publish.npm]\nregistry = \"{npm}\"\n{}",
        forge_config(&forge, "github")
    );
    let r = Repo::new()
        .file("polyship.toml", &config)
        .file(
            "package.json",
            "{ \"name\": \"root\", \"private\": true, \"workspaces\": [\"packages/*\"] }\n",
        )
        .file(
            "packages/a/package.json",
            &format!("{{ \"name\": \"{a}\", \"version\": \"1.0.0\", \"license\": \"MIT\" }}\n"),
        )
        .file(
            "packages/b/package.json",
            &format!("{{ \"name\": \"{b}\", \"version\": \"1.0.0\", \"license\": \"MIT\" }}\n"),
        )
        .commit("chore: the suite")
        .tag("v1.0.0")
        .file("packages/a/index.js", "module.exports = 1;\n")
        .commit("feat: a counts")
        .file("packages/b/index.js", "module.exports = 2;\n")
        .commit("fix: b rounds");
    let origin = Repo::bare_dir();
    origin.git(&["init", "-q", "--bare", &origin.path().to_string_lossy()]);
    r.git(&["remote", "add", "origin", &origin.path().to_string_lossy()]);
    r.git(&["push", "-q", "origin", "main", "--tags"]);
    let env = with(&release_env(), "GITHUB_TOKEN", token);
    let out = r.run_env(r.path(), &["version"], &env);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let group_section = {
        let changelog = r.read("CHANGELOG.md");
        assert!(
            changelog.contains("a counts") && changelog.contains("b rounds"),
            "{changelog}"
        );
        changelog
    };
    let out = r.run_env(r.path(), &["publish"], &env);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert_eq!(
        out.stderr.matches("Pushed v1.1.0").count(),
        1,
        "{}",
        out.stderr
    );
    let releases = forge.releases();
    assert_eq!(releases.len(), 1, "{releases:#?}");
    let release = &releases[0].1;
    assert_eq!(release.tag, "v1.1.0");
    assert!(
        release.body.contains("a counts") && release.body.contains("b rounds"),
        "{release:#?}"
    );
    assert!(group_section.contains(release.body.trim()), "{release:#?}");
    let writes: Vec<_> = forge
        .requests()
        .into_iter()
        .filter(|(m, p)| m != "GET" && p.contains("/releases"))
        .collect();
    assert_eq!(writes.len(), 1, "one release, made once: {writes:?}");
    let dry = r
        .run_env(r.path(), &["publish", "--dry-run", "--json"], &env)
        .json();
    let targets = dry["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 2, "{dry:#}");
    assert!(targets.iter().all(|t| t["release"].is_string()), "{dry:#}");
}

#[test]
fn gitea_releases() {
    let npm = var("POLYSHIP_TEST_NPM_REGISTRY");
    let forge = FakeForge::start(Kind::Gitea, "gitea-token-9");
    let f = Fixture::new(&npm, &forge_config(&forge, "gitea"));
    let env = with(&f.env, "GITEA_TOKEN", "gitea-token-9");
    let out = f.run_with(&["publish"], &env);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let releases = forge.releases();
    assert_eq!(releases.len(), 4, "{releases:#?}");
    assert!(
        releases
            .iter()
            .all(|(repo, r)| repo == "acme/mono" && !r.draft)
    );
    assert!(
        forge
            .requests()
            .iter()
            .all(|(_, p)| p.starts_with("/api/v1/repos/acme/mono/releases"))
    );
}

#[test]
fn a_fresh_shallow_clone_in_ci_sees_the_release_through_the_remote_tags() {
    let npm = var("POLYSHIP_TEST_NPM_REGISTRY");
    let f = Fixture::new(&npm, "");
    let out = f.run(&["publish"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    // A later commit that releases nothing, then a CI job on a depth-1 clone without tags.
    f.repo.write("README.md", "docs\n");
    f.repo.git(&["add", "README.md"]);
    f.repo.git(&["commit", "-qm", "docs: readme"]);
    f.repo.git(&["push", "-q", "origin", "main"]);
    let ci = f.ci_clone();
    assert_eq!(ci.git(&["tag"]), "");
    // As GitLab's runners do: a detached HEAD at the branch's newest commit.
    ci.git(&["checkout", "-q", "--detach"]);
    let out = ci.run_env(ci.path(), &["publish"], &f.env);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(out.stdout.contains("Nothing to publish"), "{}", out.stdout);
    assert!(!out.stderr.contains("Publishing"), "{}", out.stderr);
}

#[test]
fn a_refused_tag_push_is_finished_by_the_rerun() {
    let npm = var("POLYSHIP_TEST_NPM_REGISTRY");
    let f = Fixture::new(&npm, "");
    let lib_tag = format!("{}@1.0.0", f.name("lib"));
    // The remote refuses lib's tag once.
    let hook = f.origin.path().join("hooks/pre-receive");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\nwhile read old new ref; do\n  if [ \"$ref\" = \"refs/tags/{lib_tag}\" ]; then echo \"denied by policy\" >&2; exit 1; fi\ndone\n"
        ),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = f.run(&["publish"]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains("pushing the tag failed"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("denied by policy"), "{}", out.stderr);
    // The other tags went out all the same.
    assert_eq!(f.remote_tags().len(), 3);
    std::fs::remove_file(&hook).unwrap();
    let again = f.run(&["publish"]);
    assert_eq!(again.code, 0, "{}", again.snapshot());
    assert!(
        again.stderr.contains(&format!("Pushed {lib_tag}")),
        "{}",
        again.stderr
    );
    assert!(!again.stderr.contains("Publishing"), "{}", again.stderr);
    assert_eq!(final_state(&f, &npm), clean_final_state());
}

#[test]
fn a_package_published_but_not_tagged_is_compared_then_tagged() {
    let npm = var("POLYSHIP_TEST_NPM_REGISTRY");
    let f = Fixture::new(&npm, "");
    let out = f.run(&["publish", "--no-push"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    // As if the run had stopped between uploading lib and tagging it.
    let lib_tag = format!("{}@1.0.0", f.name("lib"));
    f.repo.git(&["tag", "-d", &lib_tag]);
    let out = f.run(&["publish"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(
        out.stderr
            .contains(&format!("Comparing {} 1.0.0", f.name("lib"))),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!("Tagged {lib_tag}")),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("Publishing"), "{}", out.stderr);
    assert_eq!(final_state(&f, &npm), clean_final_state());
}

impl Fixture {
    /// Commits `files` and pushes.
    fn change(&self, files: &[(&str, &str)], message: &str) {
        for (path, contents) in files {
            self.repo.write(path, contents);
        }
        self.repo.git(&["add", "-A"]);
        self.repo.git(&["commit", "-qm", message]);
        self.repo.git(&["push", "-q", "origin", "main"]);
    }
}

#[test]
fn a_pnpm_workspace_packs_with_pnpm_so_workspace_requirements_become_versions() {
    let npm = var("POLYSHIP_TEST_NPM_REGISTRY");
    let pnpm = support::npm_tool("pnpm@9.15.9", "pnpm");
    let f = Fixture::new(&npm, "");
    let (lib, app) = (f.name("lib"), f.name("app"));
    let manifest = f.read_app().replace("\"^1.0.0\"", "\"workspace:^\"");
    f.change(
        &[
            ("pnpm-workspace.yaml", "packages:\n  - 'js/*'\n"),
            ("js/app/package.json", &manifest),
        ],
        "build: pnpm workspace",
    );
    let path = format!(
        "{}:{}",
        pnpm.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let env = with(&f.env, "PATH", &path);
    // A preview needs no installed workspace: it says what it could not check.
    let out = f.run_with(&["publish", "--dry-run", "--json"], &env);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let doc = out.json();
    let notes = doc["notes"].to_string();
    assert!(
        notes.contains("not checked: pnpm packs only an installed workspace")
            && notes.contains("run `pnpm install`"),
        "{doc:#}"
    );
    assert!(
        doc["targets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == app.as_str() && t["state"] == "pending"),
        "{doc:#}"
    );
    // pnpm packs only an installed workspace; preflight says so.
    let out = f.run_with(&["publish"], &env);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(out.stderr.contains("run `pnpm install`"), "{}", out.stderr);
    let install = Command::new(&pnpm)
        .args(["install", "--offline"])
        .current_dir(f.repo.path())
        .env("HOME", f.repo.path().join(".git/pnpm-home"))
        .output()
        .unwrap();
    assert!(
        install.status.success(),
        "{}",
        String::from_utf8_lossy(&install.stderr)
    );
    f.change(
        &[(".gitignore", "target\nnode_modules\n")],
        "build: pnpm lockfile",
    );
    let out = f.run_with(&["publish"], &env);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    // The registry has app with a real range for lib.
    let doc = packument(&npm, &app);
    assert_eq!(
        doc["versions"]["1.0.0"]["dependencies"][&lib], "^1.0.0",
        "{doc:#}"
    );
    assert_eq!(download("npm", &app, "1.0.0", &npm).len(), 1);
    assert_eq!(
        f.repo.git(&["status", "--porcelain"]),
        "",
        "packing left files behind"
    );
}

#[test]
fn crates_publish_after_the_crates_they_depend_on() {
    let npm = var("POLYSHIP_TEST_NPM_REGISTRY");
    let f = Fixture::new(&npm, "");
    let (core, tool) = (f.name("core"), format!("tool_{}", f.id));
    f.change(
        &[
            (
                "Cargo.toml",
                "[workspace]\nmembers = [\"crates/core\", \"crates/tool\"]\nresolver = \"2\"\n",
            ),
            (
                "crates/tool/Cargo.toml",
                &format!(
                    "[package]\nname = \"{tool}\"\nversion = \"0.3.0\"\nedition = \"2021\"\ndescription = \"tool\"\nlicense = \"MIT\"\npublish = [\"local\"]\n\n[dependencies]\n{core} = {{ path = \"../core\", version = \"1.0.0\", registry = \"local\" }}\n"
                ),
            ),
            ("crates/tool/src/lib.rs", "pub fn tool() {}\n"),
        ],
        "feat: a tool crate",
    );
    let out = f.run(&["publish"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let core_done = out.stderr.find(&format!("Published {core} 1.0.0")).unwrap();
    let tool_start = out
        .stderr
        .find(&format!("Publishing {tool} 0.3.0"))
        .unwrap();
    assert!(core_done < tool_start, "{}", out.stderr);
    assert_eq!(download("cargo", &tool, "0.3.0", &npm).len(), 1);
    assert_eq!(download("cargo", &core, "1.0.0", &npm).len(), 1);
}

#[test]
fn a_yarn_berry_workspace_packs_with_yarn() {
    let npm = var("POLYSHIP_TEST_NPM_REGISTRY");
    let yarn = support::npm_tool("@yarnpkg/cli-dist@4.18.1", "yarn");
    let f = Fixture::new(&npm, "");
    let (lib, app) = (f.name("lib"), f.name("app"));
    let manifest = f.read_app().replace("\"^1.0.0\"", "\"workspace:*\"");
    f.change(
        &[
            (
                ".yarnrc.yml",
                "nodeLinker: node-modules\nenableTelemetry: false\n",
            ),
            ("js/app/package.json", &manifest),
        ],
        "build: yarn workspace",
    );
    let path = format!(
        "{}:{}",
        yarn.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = f.run_with(&["publish"], &with(&f.env, "PATH", &path));
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let doc = packument(&npm, &app);
    assert_eq!(
        doc["versions"]["1.0.0"]["dependencies"][&lib], "1.0.0",
        "{doc:#}"
    );
    assert_eq!(
        f.repo.git(&["status", "--porcelain"]),
        "",
        "packing left files behind"
    );
}

#[test]
fn a_private_registry_gets_authenticated_reads() {
    let npm = var("POLYSHIP_TEST_NPM_REGISTRY");
    let proxy = Proxy::start(&npm);
    let token = var("POLYSHIP_TEST_NPM_TOKEN");
    proxy.fault(Rule::new(
        None,
        "",
        100_000,
        Action::RequireAuth(format!("Bearer {token}")),
    ));
    let f = Fixture::new(&proxy.url(), "");
    let out = f.run(&["publish"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(
        proxy.requests().iter().all(|(_, _, status)| *status != 401),
        "{:?}",
        proxy.requests()
    );
    assert!(npm_published(&npm, &f.name("app"), "1.0.0"));
}

/// Publishes `name` 1.0.0 with other content than the fixture's, as someone else would.
fn publish_someone_elses(npm: &str, name: &str) {
    support::npm_publish_elsewhere(
        npm,
        &var("POLYSHIP_TEST_NPM_TOKEN"),
        &format!(
            "{{ \"name\": \"{name}\", \"version\": \"1.0.0\", \"description\": \"someone else\" }}\n"
        ),
    );
}

/// `polyship publish --filter lib` fails `lib` with `message`, and tags nothing.
fn fails_untagged(f: &Fixture, lib: &str, message: &str) {
    let out = f.run(&["publish", "--filter", lib]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    let row = out
        .stdout
        .lines()
        .find(|l| l.starts_with(lib))
        .unwrap_or_default()
        .to_owned();
    assert!(row.contains("failed"), "{}", out.stdout);
    assert!(out.stderr.contains(message), "{}", out.stderr);
    assert!(!f.repo.git(&["tag"]).contains(&format!("{lib}@1.0.0")));
}

/// Issue 12: an upload refused (403) while the registry shows the version with someone else's
/// content is never taken as this release: the proxy hides the other upload from the first read,
/// npm's upload is refused, and the registry's checksum, compared with what this commit packs,
/// decides. Nothing is tagged.
#[test]
fn a_refused_upload_is_never_taken_for_someone_elses_release() {
    let npm = var("POLYSHIP_TEST_NPM_REGISTRY");
    let proxy = Proxy::start(&npm);
    let f = Fixture::new(&proxy.url(), "");
    let lib = f.name("lib");
    publish_someone_elses(&npm, &lib);
    // The first read does not see it yet; the upload is refused.
    proxy.fault(Rule::new(Some("GET"), &lib, 1, Action::Stale));
    proxy.fault(Rule::new(Some("PUT"), &lib, 1, Action::Status(403, vec![])));
    fails_untagged(&f, &lib, "with other content than this commit builds");
}

/// Issue 12: an upload npm reports done is still not taken as this release until the registry
/// shows our checksum: here something between polyship and the registry answers the upload with
/// 200 without passing it on, and the registry holds someone else's 1.0.0. npm's own notice names
/// the shasum of what it uploaded from the directory; the registry's differs. Nothing is tagged.
#[test]
fn an_upload_reported_done_is_confirmed_by_the_registrys_checksum() {
    let npm = var("POLYSHIP_TEST_NPM_REGISTRY");
    let proxy = Proxy::start(&npm);
    let f = Fixture::new(&proxy.url(), "");
    let lib = f.name("lib");
    publish_someone_elses(&npm, &lib);
    // npm reads the packument before uploading and would refuse to publish over the version:
    // its reads, and polyship's first, do not see it.
    proxy.fault(Rule::new(Some("GET"), &lib, 100, Action::Stale).by_agent("npm/"));
    proxy.fault(Rule::new(Some("GET"), &lib, 1, Action::Stale));
    proxy.fault(Rule::new(Some("PUT"), &lib, 1, Action::Status(200, vec![])));
    fails_untagged(
        &f,
        &lib,
        "the registry shows other content than was uploaded",
    );
}

/// Issue 12: a CI rerun on a fresh, tagless clone of the release commit itself, where every
/// package is on its registry and its tag on the remote names this commit: a finished release,
/// skipped without building anything (no toolchain needed).
#[test]
fn a_rerun_on_a_fresh_clone_of_a_finished_release_builds_nothing() {
    let npm = var("POLYSHIP_TEST_NPM_REGISTRY");
    let f = Fixture::new(&npm, "");
    let out = f.run(&["publish"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let ci = f.ci_clone();
    assert_eq!(ci.git(&["tag"]), "");
    let out = ci.run_env(ci.path(), &["publish"], &f.env);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    for verb in ["Comparing", "Packing", "Publishing"] {
        assert!(!out.stderr.contains(verb), "{verb}: {}", out.stderr);
    }
}

/// Issue 12: an upload that failed for a passing reason is retried only after the wait the
/// registry asks for: twine's upload answers 429, the registry's answer to the read that follows
/// says `429` with `Retry-After: 3`, and the next upload comes no sooner.
#[test]
fn upload_retries_wait_as_long_as_the_registry_asks() {
    let npm = var("POLYSHIP_TEST_NPM_REGISTRY");
    let pypi = Proxy::start(&var("POLYSHIP_TEST_PYPI_URL"));
    let f = Fixture::new(&npm, "");
    let config = f
        .repo
        .read("polyship.toml")
        .replace(
            &format!("index = \"{}\"", var("POLYSHIP_TEST_PYPI_URL")),
            &format!("index = \"{}\"", pypi.url()),
        )
        .replace(
            &format!("upload = \"{}\"", var("POLYSHIP_TEST_PYPI_URL")),
            &format!("upload = \"{}\"", pypi.url()),
        );
    f.repo.write("polyship.toml", &config);
    f.repo
        .git(&["commit", "-qam", "chore: python through a proxy"]);
    f.repo.git(&["push", "-q", "origin", "main"]);
    let pkg = f.name("pkg");
    // twine retries a 5xx itself, not a 429: polyship sees that one.
    pypi.fault(Rule::new(Some("POST"), "", 1, Action::Status(429, vec![])));
    // The first read is preflight's; the next follows the failed upload.
    pypi.fault(
        Rule::new(
            Some("GET"),
            "/simple/",
            1,
            Action::Status(429, vec![("Retry-After".into(), "3".into())]),
        )
        .after(1),
    );
    let out = f.run(&["publish", "--filter", &pkg]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let posts: Vec<std::time::Instant> = pypi
        .arrivals()
        .into_iter()
        .filter(|(m, ..)| m == "POST")
        .map(|(_, _, at)| at)
        .collect();
    assert!(posts.len() >= 2, "{:?}", pypi.requests());
    let gap = posts[1] - posts[0];
    assert!(
        gap >= Duration::from_secs(3),
        "retried after {gap:?}: {:?}",
        pypi.requests()
    );
}

/// A maturin project of a binary (`bindings = "bin"`, as ruff and uv are): `mtool-<id>` 0.2.0, its
/// binary `mtool_<id>`.
fn maturin_repo() -> (Repo, String, String, Vec<(String, String)>) {
    let id = uid();
    let name = format!("mtool-{id}");
    let crate_name = format!("mtool_{id}");
    let config = format!(
        "[publish.python]\ncommand = \"{python}\"\nindex = \"{pypi}\"\nupload = \"{pypi}\"\n",
        python = var("POLYSHIP_TEST_PYTHON"),
        pypi = var("POLYSHIP_TEST_PYPI_URL"),
    );
    let repo = Repo::new()
        .file(".gitignore", "target\n")
        .file("polyship.toml", &config)
        .file(
            "Cargo.toml",
            &format!("[package]\nname = \"{crate_name}\"\nversion = \"0.2.0\"\nedition = \"2021\"\npublish = false\n"),
        )
        .file(
            "Cargo.lock",
            &format!("# This file is automatically @generated by Cargo.\n# It is not intended for manual editing.\nversion = 4\n\n[[package]]\nname = \"{crate_name}\"\nversion = \"0.2.0\"\n"),
        )
        .file(
            "src/main.rs",
            "fn main() {\n    println!(\"mtool {}\", env!(\"CARGO_PKG_VERSION\"));\n}\n",
        )
        .file(
            "pyproject.toml",
            &format!("[build-system]\nrequires = [\"maturin>=1,<2\"]\nbuild-backend = \"maturin\"\n\n[project]\nname = \"{name}\"\ndynamic = [\"version\"]\n\n[tool.maturin]\nbindings = \"bin\"\n"),
        )
        .commit("feat: mtool");
    let mut env = release_env();
    env.push(("CARGO_NET_OFFLINE".into(), "true".into()));
    (repo, name, crate_name, env)
}

/// The one wheel of `name` 0.2.0 on the local index.
fn published_wheel(name: &str) -> String {
    let files = download("python", name, "0.2.0", "");
    let wheels: Vec<&String> = files
        .iter()
        .filter(|f| {
            std::path::Path::new(f)
                .extension()
                .is_some_and(|e| e == "whl")
        })
        .collect();
    assert_eq!(wheels.len(), 1, "{files:?}");
    wheels[0].clone()
}

/// The wheel is built by `maturin build`, not its PEP 517 hook, so it carries a manylinux tag
/// that the real PyPI takes; pip installs it from the registry and the binary runs.
#[test]
fn a_maturin_binary_is_published_as_a_manylinux_wheel_that_pip_installs_and_runs() {
    let (repo, name, crate_name, env) = maturin_repo();
    let out = repo.run_env(repo.path(), &["publish", "--no-push"], &env);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let wheel = published_wheel(&name);
    assert!(
        wheel.contains("-py3-none-manylinux_") && wheel.ends_with("_x86_64.whl"),
        "{wheel}"
    );

    // From the registry into a fresh venv: the released binary on the PATH.
    let venv = tempfile::tempdir().unwrap();
    let python = var("POLYSHIP_TEST_PYTHON");
    let ok = Command::new(&python)
        .args(["-m", "venv"])
        .arg(venv.path())
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let pip = Command::new(venv.path().join("bin/pip"))
        .args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--only-binary",
            ":all:",
            "--index-url",
        ])
        .arg(format!("{}simple/", var("POLYSHIP_TEST_PYPI_URL")))
        .arg(format!("{name}==0.2.0"))
        .output()
        .unwrap();
    assert!(
        pip.status.success(),
        "{}",
        String::from_utf8_lossy(&pip.stderr)
    );
    let ran = Command::new(venv.path().join("bin").join(&crate_name))
        .output()
        .unwrap_or_else(|e| panic!("the wheel installed no `{crate_name}`: {e}"));
    assert_eq!(String::from_utf8_lossy(&ran.stdout), "mtool 0.2.0\n");
}

/// Wheels `artifacts wheel` built for this commit (a build matrix's, one per target) are what
/// `publish` uploads, beside the sdist; a wheel of an earlier commit is not.
#[test]
fn wheels_built_per_target_into_the_store_are_the_ones_published() {
    let (repo, name, _, env) = maturin_repo();
    // A wheel of an earlier commit, for a target of its own: left in the store, not published.
    repo.git(&["commit", "-q", "--allow-empty", "-m", "chore: before"]);
    let stale = repo.run_env(
        repo.path(),
        &[
            "artifacts",
            "wheel",
            "--target",
            "x86_64-unknown-linux-gnu",
            "--json",
        ],
        &env,
    );
    assert_eq!(stale.code, 0, "{}", stale.snapshot());
    repo.git(&["commit", "-q", "--allow-empty", "-m", "docs: later"]);
    // This commit's wheel, which `publish` could not mistake for one it built itself: tagged
    // plain `linux` (the local index takes it; PyPI would not).
    let out = repo.run_env(
        repo.path(),
        &["artifacts", "wheel", "--compatibility", "linux", "--json"],
        &env,
    );
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let built = out.json()["wheels"]["files"][0]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(built.ends_with("-py3-none-linux_x86_64.whl"), "{built}");
    let out = repo.run_env(repo.path(), &["publish", "--no-push"], &env);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let published = published_wheel(&name);
    assert!(published.ends_with(&format!("/{built}")), "{published}");
    // Exactly this wheel and the sdist.
    let files = index_files(&name);
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files.contains(&built), "{files:?}");
    assert!(
        files.iter().any(|f| f.ends_with("-0.2.0.tar.gz")),
        "{files:?}"
    );
}

/// A linker of the wrong architecture (stood in for by one that marks its output aarch64) makes a
/// wheel whose binary would not start on the target: the wheel is not recorded, and nothing of it
/// is published.
#[test]
fn a_wheel_whose_binary_is_for_another_architecture_is_refused() {
    let (repo, name, crate_name, env) = maturin_repo();
    let host = support::host();
    repo.write(
        "wrong-linker.sh",
        "#!/bin/sh\ncc \"$@\" || exit $?\nout=\"\"\nprev=\"\"\nfor a in \"$@\"; do\n  [ \"$prev\" = -o ] && out=\"$a\"\n  prev=\"$a\"\ndone\nprintf '\\267\\000' | dd of=\"$out\" bs=1 seek=18 conv=notrunc 2>/dev/null\n",
    );
    let linker = repo.join("wrong-linker.sh");
    Command::new("chmod")
        .arg("+x")
        .arg(&linker)
        .status()
        .unwrap();
    repo.write(
        ".cargo/config.toml",
        &format!("[target.{host}]\nlinker = \"{}\"\n", linker.display()),
    );
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-qm", "build: another linker"]);
    let out = repo.run_env(
        repo.path(),
        &["artifacts", "wheel", "--compatibility", "linux"],
        &env,
    );
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains(&format!(
            ".data/scripts/{crate_name}`, which would not start on `{host}`: it is built for aarch64, not {}",
            std::env::consts::ARCH
        )),
        "{}",
        out.stderr
    );
    // No record: `publish` would build its own wheel, not upload this one.
    let wheels = repo.join(&format!(
        ".git/polyship/artifacts/{name}/0.2.0/wheels/host/wheel.json"
    ));
    assert!(wheels.parent().unwrap().is_dir(), "{}", wheels.display());
    assert!(!wheels.exists(), "{}", wheels.display());
}

/// The files of `name` on the local index's simple page.
fn index_files(name: &str) -> Vec<String> {
    let url = format!("{}simple/{name}/", var("POLYSHIP_TEST_PYPI_URL"));
    let out = Command::new("curl").args(["-sfL", &url]).output().unwrap();
    assert!(out.status.success(), "curl {url}");
    let page = String::from_utf8_lossy(&out.stdout);
    let mut files: Vec<String> = page
        .split("<a ")
        .skip(1)
        .filter_map(|a| Some(a.split_once('>')?.1.split_once('<')?.0.to_owned()))
        .collect();
    files.sort();
    files
}

/// A CLI shipped through npm as esbuild and biome ship theirs: the package of the repository is a
/// launcher listing `<name>-linux-x64` in `optionalDependencies`; that platform package is made at
/// release time from the build in the artifact store and published first, with `os`, `cpu` and
/// `libc`. From the registry, `npm install` then `npx` runs the released binary.
#[test]
fn a_binary_ships_through_npm_in_platform_packages_made_from_the_build() {
    let id = uid();
    let krate = format!("ntool_{id}");
    let name = format!("ntool-{id}");
    let platform = format!("{name}-linux-x64");
    let npm = var("POLYSHIP_TEST_NPM_REGISTRY");
    let proxy = Proxy::start(&npm);
    let config = format!(
        "[[package]]\npath = \"npm\"\n\n[[group]]\nkind = \"fixed\"\npackages = [\"{krate}\", \"{name}\"]\n\n[publish.npm]\nregistry = \"{registry}\"\n\n[[publish.npm.binary]]\npackage = \"{name}\"\ncrate = \"{krate}\"\n",
        registry = proxy.url()
    );
    let launcher = format!(
        "#!/usr/bin/env node\nconst pkg = `{name}-${{process.platform}}-${{process.arch}}`;\nlet bin;\ntry {{\n  bin = require.resolve(`${{pkg}}/bin/{krate}`);\n}} catch {{\n  console.error(`no prebuilt {name} for ${{process.platform}}-${{process.arch}}: cargo install {krate}`);\n  process.exit(1);\n}}\nconst r = require(\"child_process\").spawnSync(bin, process.argv.slice(2), {{ stdio: \"inherit\" }});\nprocess.exit(r.status ?? 1);\n"
    );
    let repo = Repo::new()
        .file(".gitignore", "target\n")
        .file("polyship.toml", &config)
        .file(
            "Cargo.toml",
            &format!("[package]\nname = \"{krate}\"\nversion = \"0.2.0\"\nedition = \"2021\"\npublish = false\n"),
        )
        .file(
            "Cargo.lock",
            &format!("# This file is automatically @generated by Cargo.\n# It is not intended for manual editing.\nversion = 4\n\n[[package]]\nname = \"{krate}\"\nversion = \"0.2.0\"\n"),
        )
        .file(
            "src/main.rs",
            "fn main() {\n    println!(\"ntool {}\", env!(\"CARGO_PKG_VERSION\"));\n}\n",
        )
        .file(
            "npm/package.json",
            &format!("{{\n  \"name\": \"{name}\",\n  \"version\": \"0.2.0\",\n  \"license\": \"MIT\",\n  \"bin\": {{ \"ntool\": \"bin/ntool.js\" }},\n  \"optionalDependencies\": {{\n    \"{platform}\": \"0.2.0\"\n  }}\n}}\n"),
        )
        .file("npm/bin/ntool.js", &launcher)
        .commit("feat: ntool");
    let mut env = release_env();
    env.push(("CARGO_NET_OFFLINE".into(), "true".into()));

    // Without a build of this commit, preflight says what to build.
    let out = repo.run_env(repo.path(), &["publish", "--dry-run", "--no-push"], &env);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains(&format!(
            "`{name}` ships the binaries of the crate `{krate}` 0.2.0"
        )) && out.stderr.contains("polyship artifacts build"),
        "{}",
        out.stderr
    );

    let out = repo.run_env(repo.path(), &["artifacts", "build"], &env);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    // A dry run names the platform packages that go first.
    let out = repo.run_env(repo.path(), &["publish", "--dry-run", "--no-push"], &env);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(
        out.stderr.contains(&format!(
            "`{name}` 0.2.0 publishes its platform packages first: `{platform}` ({})",
            support::host()
        )),
        "{}",
        out.stderr
    );
    // The registry refuses the launcher's upload once, after the platform package's went
    // through: the rerun finds that one published with the same integrity and goes on.
    proxy.fault(
        Rule::new(
            Some("PUT"),
            &format!("/{name}"),
            1,
            Action::Status(403, vec![]),
        )
        .after(1),
    );
    let out = repo.run_env(repo.path(), &["publish", "--no-push"], &env);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    let out = repo.run_env(repo.path(), &["publish", "--no-push", "-v"], &env);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(
        out.stderr
            .contains(&format!("{platform}@0.2.0 is published already")),
        "{}",
        out.stderr
    );
    // The complete release removes its packed files, not the artifact store that steps after
    // `publish` (forge assets, verify) read.
    assert!(!repo.exists(".git/polyship/packed"));
    assert!(
        repo.join(&format!(".git/polyship/artifacts/{krate}/0.2.0/targets"))
            .is_dir()
    );

    // The platform package, as the registry has it.
    let view = Command::new("npm")
        .args([
            "view",
            &format!("{platform}@0.2.0"),
            "os",
            "cpu",
            "libc",
            "--json",
            "--registry",
            &npm,
        ])
        .output()
        .unwrap();
    assert!(
        view.status.success(),
        "{}",
        String::from_utf8_lossy(&view.stderr)
    );
    let fields: serde_json::Value = serde_json::from_slice(&view.stdout).unwrap();
    assert_eq!(fields["os"], serde_json::json!(["linux"]), "{fields}");
    assert_eq!(fields["cpu"], serde_json::json!(["x64"]), "{fields}");
    assert_eq!(fields["libc"], serde_json::json!(["glibc"]), "{fields}");

    // A user's project: `npm install` fetches the launcher and the one platform package.
    let project = tempfile::tempdir().unwrap();
    std::fs::write(
        project.path().join("package.json"),
        "{ \"name\": \"user\", \"private\": true }\n",
    )
    .unwrap();
    let install = Command::new("npm")
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            &format!("{name}@0.2.0"),
            "--registry",
            &npm,
        ])
        .current_dir(project.path())
        .output()
        .unwrap();
    assert!(
        install.status.success(),
        "{}",
        String::from_utf8_lossy(&install.stderr)
    );
    let ran = Command::new("npx")
        .args(["--no-install", "ntool"])
        .current_dir(project.path())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&ran.stdout),
        "ntool 0.2.0\n",
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );

    // `version` moves the platform package's pin with the package.
    repo.write(
        "src/main.rs",
        "fn main() {\n    println!(\"ntool {} fixed\", env!(\"CARGO_PKG_VERSION\"));\n}\n",
    );
    repo.git(&["commit", "-qam", "fix: say it is fixed"]);
    let out = repo.run_env(repo.path(), &["version"], &env);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let manifest: serde_json::Value = serde_json::from_str(&repo.read("npm/package.json")).unwrap();
    assert_ne!(manifest["version"], "0.2.0", "{manifest}");
    assert_eq!(
        manifest["optionalDependencies"][&platform], manifest["version"],
        "{manifest}"
    );
}

#[test]
fn a_tool_that_does_not_start_is_reported_with_its_own_words_and_json_has_the_problems() {
    let name = format!("pinned-{}", uid());
    let r = Repo::new()
        .file(
            "Cargo.toml",
            &format!(
                "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\nlicense = \"MIT\"\ndescription = \"x\"\npublish = [\"local\"]\n"
            ),
        )
        .file("src/lib.rs", "")
        .file(
            "polyship.toml",
            &format!(
                "[publish.cargo]\nindex = \"{}\"\n",
                var("POLYSHIP_TEST_CARGO_SPARSE")
            ),
        )
        // A toolchain rustup does not have: `cargo` itself cannot start in this repository.
        .file("rust-toolchain.toml", "[toolchain]\nchannel = \"1.61.0\"\n")
        .commit("feat: pinned");
    let mut env = release_env();
    env.push(("RUSTUP_AUTO_INSTALL".into(), "0".into()));
    // A preview goes on, saying what it could not check.
    let out = r.run_env(
        r.path(),
        &["publish", "--dry-run", "--no-push", "--json"],
        &env,
    );
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let notes = out.json()["notes"].to_string();
    assert!(
        notes.contains("not checked: `cargo` does not run"),
        "{notes}"
    );
    // A release stops in preflight, and its JSON says why.
    let out = r.run_env(r.path(), &["publish", "--no-push", "--json"], &env);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["schema"], 1);
    assert_eq!(doc["targets"], serde_json::json!([]));
    let problem = doc["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| {
            p["message"]
                .as_str()
                .unwrap()
                .starts_with("`cargo` does not run")
        })
        .unwrap_or_else(|| panic!("{doc:#}"));
    let message = problem["message"].as_str().unwrap();
    assert!(
        message.contains("toolchain '1.61.0") && message.contains("is not installed"),
        "{message}"
    );
    assert!(
        problem["help"]
            .as_str()
            .unwrap()
            .contains("rust-toolchain.toml"),
        "{problem}"
    );
    assert!(!message.contains("Stack backtrace"), "{message}");
    // The same problems on stderr for people.
    assert!(out.stderr.contains("toolchain '1.61.0"), "{}", out.stderr);
}
