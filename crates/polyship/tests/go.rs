//! Go modules end to end: a multi-module repository shaped like the big Go monorepos (a root
//! module, modules in subdirectories joined by `replace`, a major-version directory, a tools
//! module, a `testdata` module, other packages' tags), versioned and released by polyship, then
//! resolved by the real `go` command through a module proxy made from the pushed tags.

#![allow(clippy::unwrap_used)] // a failed unwrap in a test helper is a failed test

mod support;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use support::Repo;

const ROOT_MOD: &str = "module example.com/kit

go 1.19

require (
\texample.com/kit/log v0.3.0
\texample.com/kit/trace/v2 v2.0.0
)

replace example.com/kit/log => ./log

replace example.com/kit/trace/v2 => ./trace/v2
";

/// The repository at its last release: kit v1.4.0, log v0.3.0, trace/v2 v2.0.0, all read from
/// their tags (no version comments yet), with an npm package's and another branch's tags beside.
fn kit() -> Repo {
    let repo = Repo::new()
        .file("go.mod", ROOT_MOD)
        .file(
            "kit.go",
            "package kit\n\nimport (\n\t\"example.com/kit/log\"\n\ttrace \"example.com/kit/trace/v2\"\n)\n\nfunc Hello() string { return log.Prefix() + trace.Span() + \"hello\" }\n",
        )
        // Modules may require each other in a cycle (as `go.opentelemetry.io/otel` and its
        // `metric` module do).
        .file(
            "log/go.mod",
            "module example.com/kit/log\n\ngo 1.19\n\nrequire example.com/kit v1.4.0\n\nreplace example.com/kit => ../\n",
        )
        .file("log/log.go", "package log\n\nfunc Prefix() string { return \"[log] \" }\n")
        .file("trace/v2/go.mod", "module example.com/kit/trace/v2\n\ngo 1.19\n")
        .file("trace/v2/trace.go", "package trace\n\nfunc Span() string { return \"span \" }\n")
        .file(
            "internal/tools/go.mod",
            "module example.com/kit/internal/tools\n\ngo 1.19\n",
        )
        .file("log/testdata/broken/go.mod", "this is not a go.mod at all (\n")
        .file(
            "examples/hello/go.mod",
            "module example.com/kit/examples/hello\n\ngo 1.19\n",
        )
        .file("web/package.json", "{\"name\": \"web\", \"version\": \"1.0.0\"}\n")
        .commit("feat: first release")
        .tag("v1.4.0")
        .tag("log/v0.3.0")
        .tag("trace/v2.0.0")
        .tag("web@1.0.0");
    repo.git(&["checkout", "-q", "-b", "next"]);
    let repo = repo
        .commit("chore: a branch of its own")
        .tag("log/v0.9.0-alpha.1");
    repo.git(&["checkout", "-q", "main"]);
    repo.write(
        "log/log.go",
        "package log\n\nfunc Prefix() string { return \"[log+colour] \" }\n",
    );
    let repo = repo.commit("feat(log): colour the prefix");
    repo.write(
        "trace/v2/trace.go",
        "package trace\n\nfunc Span() string { return \"span/2 \" }\n",
    );
    let repo = repo.commit("fix(trace): name the span version");
    repo.write(
        "kit.go",
        "package kit\n\nimport (\n\t\"example.com/kit/log\"\n\ttrace \"example.com/kit/trace/v2\"\n)\n\n// Hello greets.\nfunc Hello() string { return log.Prefix() + trace.Span() + \"hello\" }\n",
    );
    repo.commit("feat: document Hello")
}

/// A bare repository as `origin`, with main and the tags pushed.
fn with_remote(repo: &Repo) -> tempfile::TempDir {
    let remote = tempfile::tempdir().unwrap();
    repo.git(&["init", "-q", "--bare", remote.path().to_str().unwrap()]);
    repo.git(&["remote", "add", "origin", remote.path().to_str().unwrap()]);
    repo.git(&["push", "-q", "origin", "main", "--tags"]);
    remote
}

/// `python3 -m http.server` serving `dir` on loopback: a module proxy over HTTP.
struct Served {
    child: Child,
    url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &Path) -> Served {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("python3")
        .args(["-m", "http.server", "--bind", "127.0.0.1"])
        .arg(port.to_string())
        .arg("--directory")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 runs");
    // Dropped, it stops the server, whatever happens below.
    let served = Served {
        child,
        url: format!("http://127.0.0.1:{port}/"),
    };
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return served;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the proxy server did not start");
}

/// Adds `module` `version` to the proxy at `proxy` from `tag` of the repository (what a module
/// proxy does with a pushed tag): `list`, `.info`, `.mod` and the module zip, whose files sit
/// under `module@version/` and leave out nested modules.
const ADD_TO_PROXY: &str = r#"
import io, json, os, subprocess, sys, tarfile, zipfile
repo, tag, directory, module, version, proxy = sys.argv[1:]
tar = subprocess.run(["git", "-C", repo, "archive", "--format=tar", tag], check=True, capture_output=True).stdout
files = {}
with tarfile.open(fileobj=io.BytesIO(tar)) as t:
    for m in t.getmembers():
        if m.isfile():
            files[m.name] = t.extractfile(m).read()
prefix = "" if directory == "." else directory + "/"
nested = {os.path.dirname(n) + "/" for n in files if n.endswith("go.mod") and n != prefix + "go.mod"}
escaped = "".join("!" + c.lower() if c.isupper() else c for c in module)
out = os.path.join(proxy, escaped, "@v")
os.makedirs(out, exist_ok=True)
with zipfile.ZipFile(os.path.join(out, version + ".zip"), "w") as z:
    for name, data in sorted(files.items()):
        if not name.startswith(prefix) or any(name.startswith(n) for n in nested if n.startswith(prefix) and n != prefix):
            continue
        z.writestr(module + "@" + version + "/" + name[len(prefix):], data)
with open(os.path.join(out, version + ".mod"), "wb") as f:
    f.write(files[prefix + "go.mod"])
with open(os.path.join(out, version + ".info"), "w") as f:
    json.dump({"Version": version, "Time": "2026-01-01T00:00:00Z"}, f)
with open(os.path.join(out, "list"), "a") as f:
    f.write(version + "\n")
"#;

fn add_to_proxy(repo: &Path, tag: &str, dir: &str, module: &str, version: &str, proxy: &Path) {
    let status = Command::new("python3")
        .args(["-c", ADD_TO_PROXY])
        .arg(repo)
        .args([tag, dir, module, version])
        .arg(proxy)
        .status()
        .unwrap();
    assert!(status.success(), "building the proxy failed");
}

/// Runs the real `go` with its caches in `work` and modules from `proxy` only.
fn go(dir: &Path, work: &Path, proxy: &str, args: &[&str]) -> std::process::Output {
    let out = Command::new("go")
        .args(args)
        .current_dir(dir)
        .env("GOPATH", work.join("gopath"))
        .env("GOCACHE", work.join("gocache"))
        .env("GOPROXY", proxy)
        .env("GOFLAGS", "-mod=mod -modcacherw")
        .env("GOSUMDB", "off")
        .env("GOTOOLCHAIN", "local")
        .env("GO111MODULE", "on")
        .output()
        .unwrap_or_else(|e| {
            panic!("`go` does not run ({e}): install Go (apt-get install -y golang-go)")
        });
    assert!(
        out.status.success(),
        "go {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The names of the Go modules `polyship list --json` lists, in its order.
fn go_modules(list: &serde_json::Value) -> Vec<&str> {
    list["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["ecosystem"] == "go")
        .map(|p| p["name"].as_str().unwrap())
        .collect()
}

fn env(k: &str, v: &str) -> (String, String) {
    (k.to_owned(), v.to_owned())
}

#[test]
fn a_go_workspace_is_versioned_tagged_and_resolved_by_go_through_a_proxy() {
    let repo = kit();
    let _remote = with_remote(&repo);

    // Discovery: the three modules and the private tools module, not the testdata one.
    let list = repo.run(&["list", "--json"]).json();
    let modules: Vec<(String, String, bool)> = list["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["ecosystem"] == "go")
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["version"].as_str().unwrap_or("-").to_owned(),
                p["private"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        modules,
        [
            ("example.com/kit".to_owned(), "1.4.0".to_owned(), false),
            (
                "example.com/kit/internal/tools".to_owned(),
                "-".to_owned(),
                true
            ),
            ("example.com/kit/log".to_owned(), "0.3.0".to_owned(), false),
            (
                "example.com/kit/trace/v2".to_owned(),
                "2.0.0".to_owned(),
                false
            ),
        ],
        "{list}"
    );

    let version = repo.run(&["version"]);
    assert_eq!(version.code, 0, "{}", version.snapshot());
    let read = |f: &str| std::fs::read_to_string(repo.path().join(f)).unwrap();
    let log = read("log/go.mod");
    assert!(
        log.starts_with("module example.com/kit/log // v0.4.0\n"),
        "{log}"
    );
    assert!(log.contains("\nrequire example.com/kit v1.5.0\n"), "{log}");
    assert!(read("trace/v2/go.mod").starts_with("module example.com/kit/trace/v2 // v2.0.1\n"));
    let root = read("go.mod");
    assert!(
        root.starts_with("module example.com/kit // v1.5.0\n"),
        "{root}"
    );
    assert!(
        root.contains("\texample.com/kit/log v0.4.0\n\texample.com/kit/trace/v2 v2.0.1\n"),
        "{root}"
    );
    assert!(read("log/CHANGELOG.md").contains("colour the prefix"));

    // The proxy already lists log's new version (someone released it from another commit):
    // nothing is tagged over it.
    let proxy = tempfile::tempdir().unwrap();
    let log_list = proxy.path().join("example.com/kit/log/@v");
    std::fs::create_dir_all(&log_list).unwrap();
    std::fs::write(log_list.join("list"), "v0.3.0\nv0.4.0\n").unwrap();
    let served = serve(proxy.path());
    let via_http = [env("GOPROXY", &format!("{}|direct", served.url))];
    let taken = repo.run_env(repo.path(), &["publish"], &via_http);
    assert_ne!(taken.code, 0, "{}", taken.snapshot());
    assert!(
        taken
            .stderr
            .contains("example.com/kit/log 0.4.0 is already on its registry")
            && taken.stderr.contains("git tag log/v0.4.0"),
        "{}",
        taken.snapshot()
    );
    assert_eq!(repo.git(&["tag", "--points-at", "HEAD"]), "");

    std::fs::remove_file(log_list.join("list")).unwrap();
    let published = repo.run_env(repo.path(), &["publish", "--json"], &via_http);
    let report = published.json();
    let states: Vec<(&str, &str, &str)> = report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap(),
                p["tag"].as_str().unwrap(),
                p["state"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("example.com/kit", "v1.5.0", "published"),
            ("example.com/kit/log", "log/v0.4.0", "published"),
            ("example.com/kit/trace/v2", "trace/v2.0.1", "published"),
        ],
        "{report}"
    );
    let remote_tags = repo.git(&["ls-remote", "--tags", "origin"]);
    for tag in ["v1.5.0", "log/v0.4.0", "trace/v2.0.1"] {
        assert!(
            remote_tags.contains(&format!("refs/tags/{tag}\n")),
            "{remote_tags}"
        );
    }

    // The proxy learns the versions from the pushed tags; `go` resolves kit v1.5.0 and, through
    // its rewritten requirements, the new log and trace.
    for (tag, dir, module, v) in [
        ("v1.5.0", ".", "example.com/kit", "v1.5.0"),
        ("log/v0.4.0", "log", "example.com/kit/log", "v0.4.0"),
        ("log/v0.3.0", "log", "example.com/kit/log", "v0.3.0"),
        (
            "trace/v2.0.1",
            "trace/v2",
            "example.com/kit/trace/v2",
            "v2.0.1",
        ),
    ] {
        add_to_proxy(repo.path(), tag, dir, module, v, proxy.path());
    }
    let consumer = tempfile::tempdir().unwrap();
    std::fs::write(
        consumer.path().join("go.mod"),
        "module example.com/consumer\n\ngo 1.19\n\nrequire example.com/kit v1.5.0\n",
    )
    .unwrap();
    std::fs::write(
        consumer.path().join("main.go"),
        "package main\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/kit\"\n)\n\nfunc main() { fmt.Println(kit.Hello()) }\n",
    )
    .unwrap();
    let work = tempfile::tempdir().unwrap();
    let file_proxy = format!("file://{}", proxy.path().display());
    let ran = go(consumer.path(), work.path(), &file_proxy, &["run", "."]);
    assert_eq!(
        String::from_utf8_lossy(&ran.stdout),
        "[log+colour] span/2 hello\n"
    );
    let graph = go(
        consumer.path(),
        work.path(),
        &file_proxy,
        &["list", "-m", "all"],
    );
    assert_eq!(
        String::from_utf8_lossy(&graph.stdout),
        "example.com/consumer\nexample.com/kit v1.5.0\nexample.com/kit/log v0.4.0\nexample.com/kit/trace/v2 v2.0.1\n"
    );

    // Released: a second run finds every tag, and the proxy's lists, and changes nothing.
    let again = repo
        .run_env(repo.path(), &["publish", "--json"], &via_http)
        .json();
    let states: Vec<&str> = again["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["existing"; 3], "{again}");
}

#[test]
fn a_major_release_of_a_go_module_past_v1_says_the_path_must_change() {
    let repo = kit().file(
        "kit.go",
        "package kit\n\nfunc Hello() string { return \"hi\" }\n",
    );
    let repo = repo.commit("feat!: Hello takes no prefix any more");
    let plan = repo.run(&["plan"]);
    assert_ne!(plan.code, 0, "{}", plan.snapshot());
    assert!(
        plan.stderr.contains("go.mod")
            && plan.stderr.contains("`example.com/kit/v2`")
            && plan.stderr.contains("release them as a minor version"),
        "{}",
        plan.snapshot()
    );
    // Nothing was written.
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
}

#[test]
fn a_go_work_names_the_modules_and_a_missing_one_is_an_error_at_its_line() {
    let repo = kit()
        .file("go.work", "go 1.19\n\nuse (\n\t.\n\t./log\n)\n")
        .commit("chore: a workspace");
    let list = repo.run(&["list", "--json"]).json();
    let names = go_modules(&list);
    assert_eq!(names, ["example.com/kit", "example.com/kit/log"], "{list}");

    repo.write("go.work", "go 1.19\n\nuse (\n\t.\n\t./metrics\n)\n");
    let broken = repo.run(&["list"]);
    assert_ne!(broken.code, 0, "{}", broken.snapshot());
    assert!(
        broken.stderr.contains("go.work:5")
            && broken
                .stderr
                .contains("`use ./metrics` names a directory without a tracked `go.mod`"),
        "{}",
        broken.snapshot()
    );
}

#[test]
fn a_go_work_git_ignores_is_a_developers_own_and_says_nothing() {
    let repo = kit()
        .file(".gitignore", "go.work\ngo.work.sum\n")
        .commit("chore: go.work is local");
    repo.write("go.work", "go 1.19\n\nuse .\n");
    let list = repo.run(&["list", "--json"]).json();
    let names = go_modules(&list);
    assert_eq!(
        names,
        [
            "example.com/kit",
            "example.com/kit/internal/tools",
            "example.com/kit/log",
            "example.com/kit/trace/v2"
        ],
        "{list}"
    );
}
