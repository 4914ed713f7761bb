//! Conformance: `polyship list --json` must agree with the ecosystems' own tools.
//!
//! Each test builds a realistic workspace (modelled on the shapes of tokio, ripgrep, rust-analyzer,
//! bevy, uv, gitoxide, and of common npm monorepos) in a temporary git repository, then compares
//! what polyship reports with what `cargo metadata --no-deps --offline` or npm itself reports for the
//! same tree: member names, versions, manifest paths, `publish`/`private`, and internal dependency
//! edges. The tools are the oracle, so the expectations are never written by hand; a missing tool
//! fails the test (scripts/test installs what is needed), it never skips.

mod support;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::Repo;

// ---------------------------------------------------------------------------------------------
// Fixture building

/// A repository holding `files`, committed. Every Cargo manifest with a `[package]` gets an empty
/// `src/lib.rs` (unless the fixture wrote one), so that `cargo metadata` finds a target.
fn repo_with(files: &[(&str, &str)]) -> Repo {
    let mut repo = Repo::new();
    for (path, contents) in files {
        repo = repo.file(path, contents);
    }
    for (path, contents) in files {
        if let Some(dir) = path.strip_suffix("Cargo.toml")
            && contents.contains("[package]")
            && !repo.exists(&format!("{dir}src/lib.rs"))
            && !repo.exists(&format!("{dir}src/main.rs"))
        {
            repo = repo.file(&format!("{dir}src/lib.rs"), "");
        }
    }
    repo.commit("chore: fixture")
}

// ---------------------------------------------------------------------------------------------
// Tools

/// The cargo that runs this test (`CARGO`, set by `cargo test`), else `cargo` from `PATH`; `None`
/// when neither runs.
fn cargo() -> Option<OsString> {
    let bin = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    Command::new(&bin)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| bin)
}

fn npm_available() -> bool {
    Command::new("npm")
        .arg("--version")
        .env("npm_config_update_notifier", "false")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `path` relative to `root`, `/`-separated; both are canonicalised first (temporary directories
/// are often reached through symlinks such as macOS's `/tmp`).
fn relative(root: &Path, path: &Path) -> String {
    let root = root.canonicalize().expect("canonical root");
    let path = path
        .canonicalize()
        .unwrap_or_else(|e| panic!("canonicalize `{}`: {e}", path.display()));
    let rel = path
        .strip_prefix(&root)
        .unwrap_or_else(|_| panic!("`{}` is outside `{}`", path.display(), root.display()));
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    }
}

fn polyship_list(repo: &Repo) -> Value {
    let out = repo.run(&["list", "--json"]);
    let doc = out.json();
    assert_eq!(doc["schema"], 1, "{}", out.stdout);
    doc
}

// ---------------------------------------------------------------------------------------------
// Cargo

/// One package as both sides can describe it.
fn cargo_package_line(
    name: &str,
    version: &str,
    manifest: &str,
    private: bool,
    registry: Option<&str>,
) -> String {
    format!(
        "{name} {version} manifest={manifest} private={private} registry={}",
        registry.unwrap_or("-")
    )
}

/// One internal edge as both sides can describe it.
#[allow(clippy::too_many_arguments)]
fn cargo_edge_line(
    from: &str,
    to: &str,
    kind: &str,
    requirement: &str,
    path: &str,
    alias: Option<&str>,
    optional: bool,
    target: Option<&str>,
) -> String {
    let alias = alias.map(|a| format!(" alias={a}")).unwrap_or_default();
    let optional = if optional { " optional" } else { "" };
    let target = target.map(|t| format!(" target={t}")).unwrap_or_default();
    format!("{from} -> {to} ({kind}, {requirement}) path={path}{alias}{optional}{target}")
}

/// Cargo prints a requirement as `semver::VersionReq` displays it: `*` when none is given, and a
/// bare version gets its implicit caret. polyship keeps the text as written.
fn cargo_requirement(written: Option<&str>) -> String {
    let Some(written) = written else {
        return "*".to_owned();
    };
    written
        .split(',')
        .map(|c| {
            let c: String = c.chars().filter(|ch| !ch.is_whitespace()).collect();
            if c.starts_with(|ch: char| ch.is_ascii_digit()) {
                format!("^{c}")
            } else {
                c
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// What `cargo metadata --no-deps` says: sorted package lines and sorted internal edge lines.
struct CargoView {
    packages: Vec<String>,
    edges: Vec<String>,
}

fn cargo_metadata(cargo: &OsString, repo: &Repo) -> Value {
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(repo.path())
        .env("CARGO_NET_OFFLINE", "true")
        .env("CARGO_TERM_COLOR", "never")
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "the fixture must be a valid Cargo workspace; cargo metadata failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON")
}

fn cargo_view(cargo: &OsString, repo: &Repo) -> CargoView {
    let meta = cargo_metadata(cargo, repo);
    let root = repo.path();
    let members = meta["packages"].as_array().expect("packages");
    // Member directory → name: a dependency is internal when its `path` is a member's directory.
    let by_dir: BTreeMap<PathBuf, &str> = members
        .iter()
        .map(|p| {
            let manifest = Path::new(p["manifest_path"].as_str().expect("manifest_path"));
            (
                manifest
                    .parent()
                    .expect("manifest dir")
                    .canonicalize()
                    .expect("canonical member dir"),
                p["name"].as_str().expect("name"),
            )
        })
        .collect();
    let mut packages = Vec::new();
    let mut edges = Vec::new();
    for p in members {
        let name = p["name"].as_str().expect("name");
        let publish = p["publish"].as_array();
        packages.push(cargo_package_line(
            name,
            p["version"].as_str().expect("version"),
            &relative(root, Path::new(p["manifest_path"].as_str().expect("path"))),
            publish.is_some_and(Vec::is_empty),
            publish.and_then(|r| r.first()).and_then(Value::as_str),
        ));
        for d in p["dependencies"].as_array().expect("dependencies") {
            let Some(path) = d["path"].as_str() else {
                continue;
            };
            let Ok(dir) = Path::new(path).canonicalize() else {
                continue;
            };
            let Some(to) = by_dir.get(&dir) else {
                continue;
            };
            assert_eq!(
                d["name"].as_str(),
                Some(*to),
                "fixture error: `{name}` names its path dependency `{path}` wrongly"
            );
            edges.push(cargo_edge_line(
                name,
                to,
                d["kind"].as_str().unwrap_or("normal"),
                d["req"].as_str().expect("req"),
                &relative(root, &dir),
                // Cargo reports `rename` whenever `package` is written, even when it repeats the
                // key; polyship gives an alias only when it differs from the name.
                d["rename"].as_str().filter(|r| *r != *to),
                d["optional"].as_bool().unwrap_or(false),
                d["target"].as_str(),
            ));
        }
    }
    packages.sort();
    edges.sort();
    CargoView { packages, edges }
}

fn polyship_cargo_view(doc: &Value) -> CargoView {
    let mut packages = Vec::new();
    let mut edges = Vec::new();
    for p in doc["packages"].as_array().expect("packages") {
        if p["ecosystem"] != "cargo" {
            continue;
        }
        let name = p["name"].as_str().expect("name");
        let manifest = p["manifest"].as_str().expect("manifest");
        let dir = manifest
            .strip_suffix("Cargo.toml")
            .map_or(".", |d| d.trim_end_matches('/'));
        let dir = if dir.is_empty() { "." } else { dir };
        assert_eq!(
            p["path"].as_str(),
            Some(dir),
            "`path` is the manifest's dir"
        );
        packages.push(cargo_package_line(
            name,
            p["version"].as_str().unwrap_or("-"),
            manifest,
            p["private"].as_bool().expect("private"),
            p["registry"].as_str(),
        ));
        for d in p["dependencies"].as_array().expect("dependencies") {
            assert_eq!(
                d["ecosystem"], "cargo",
                "internal edges stay in the ecosystem"
            );
            edges.push(cargo_edge_line(
                name,
                d["name"].as_str().expect("name"),
                d["kind"].as_str().expect("kind"),
                &cargo_requirement(d["requirement"].as_str()),
                d["path"].as_str().unwrap_or("-"),
                d["alias"].as_str(),
                d["optional"].as_bool().unwrap_or(false),
                d["target"].as_str(),
            ));
        }
    }
    packages.sort();
    edges.sort();
    CargoView { packages, edges }
}

/// Builds `files`, then asserts that polyship and cargo agree on packages and internal edges.
fn assert_cargo_agrees(files: &[(&str, &str)]) {
    let cargo = cargo().expect("`cargo` runs the tests, so it is on this machine");
    let repo = repo_with(files);
    let doc = polyship_list(&repo);
    let ours = polyship_cargo_view(&doc);
    let theirs = cargo_view(&cargo, &repo);
    assert!(
        !theirs.packages.is_empty(),
        "the fixture should have members"
    );
    assert_eq!(
        ours.packages, theirs.packages,
        "packages: polyship (left) vs cargo metadata (right)"
    );
    assert_eq!(
        ours.edges, theirs.edges,
        "internal edges: polyship (left) vs cargo metadata (right)"
    );
}

// ---------------------------------------------------------------------------------------------
// Cargo workspaces modelled on real ones

/// tokio: a virtual manifest with an explicit member list, `version` + `path` dependencies between
/// members, an optional member dependency, cfg-specific and dev path dependencies, unpublished
/// examples and a benches crate without a version.
#[test]
fn cargo_tokio_shaped_virtual_workspace() {
    assert_cargo_agrees(&[
        (
            "Cargo.toml",
            r#"[workspace]
resolver = "2"
members = [
  "tokio",
  "tokio-macros",
  "tokio-test",
  "tokio-stream",
  "tokio-util",

  # Internal
  "benches",
  "examples",
  "stress-test",
  "tests-build",
  "tests-integration",
]

[workspace.metadata.spellcheck]
config = "spellcheck.toml"

[workspace.lints.rust]
unexpected_cfgs = { level = "warn", check-cfg = ['cfg(tokio_unstable)'] }
"#,
        ),
        (
            "tokio/Cargo.toml",
            r#"[package]
name = "tokio"
# When releasing to crates.io:
# - Remove path dependencies
version = "1.45.1"
edition = "2021"
rust-version = "1.70"
license = "MIT"
description = """
An event-driven, non-blocking I/O platform for writing asynchronous I/O
backed applications.
"""

[features]
default = []
full = ["macros", "rt", "rt-multi-thread", "sync"]
macros = ["tokio-macros"]
rt = []
rt-multi-thread = ["rt"]
sync = []
test-util = ["rt", "sync"]

[dependencies]
tokio-macros = { version = "~2.5.0", path = "../tokio-macros", optional = true }
pin-project-lite = "0.2.11"
bytes = { version = "1.0.0", optional = true }

[target.'cfg(tokio_unstable)'.dependencies]
tracing = { version = "0.1.29", default-features = false, features = ["std"], optional = true }

[target.'cfg(windows)'.dev-dependencies.windows-sys]
version = "0.52"
features = ["Win32_Foundation"]

[dev-dependencies]
tokio-test = { version = "0.4.0", path = "../tokio-test" }
tokio-stream = { version = "0.1", path = "../tokio-stream" }
futures = { version = "0.3.0", features = ["async-await"] }

[target.'cfg(not(target_family = "wasm"))'.dev-dependencies]
tokio-util = { version = "0.7", path = "../tokio-util", features = ["rt"] }

[package.metadata.docs.rs]
all-features = true
"#,
        ),
        (
            "tokio-macros/Cargo.toml",
            r#"[package]
name = "tokio-macros"
version = "2.5.0"
edition = "2021"

[lib]
proc-macro = true

[dependencies]
proc-macro2 = "1.0.60"
quote = "1"
syn = { version = "2.0", features = ["full"] }

[dev-dependencies]
tokio = { version = "1.0.0", path = "../tokio", features = ["full"] }
"#,
        ),
        (
            "tokio-test/Cargo.toml",
            r#"[package]
name = "tokio-test"
version = "0.4.4"
edition = "2021"

[dependencies]
tokio = { version = "1.2.0", path = "../tokio", features = ["rt", "sync", "time", "test-util"] }
tokio-stream = { version = "0.1.1", path = "../tokio-stream" }
async-stream = "0.3.3"
"#,
        ),
        (
            "tokio-stream/Cargo.toml",
            r#"[package]
name = "tokio-stream"
version = "0.1.17"
edition = "2021"

[features]
default = ["time"]
time = ["tokio/time"]
io-util = ["tokio-util"]

[dependencies]
futures-core = { version = "0.3.0" }
tokio = { version = "1.15.0", path = "../tokio", features = ["sync"] }
tokio-util = { version = "0.7.0", path = "../tokio-util", optional = true }

[dev-dependencies]
tokio = { version = "1.2.0", path = "../tokio", features = ["full", "test-util"] }
"#,
        ),
        (
            "tokio-util/Cargo.toml",
            r#"[package]
name = "tokio-util"
version = "0.7.15"
edition = "2021"

[features]
rt = ["tokio/rt"]

[dependencies]
tokio = { version = "1.28.0", path = "../tokio", features = ["sync"] }
bytes = "1.5.0"

[dev-dependencies]
tokio = { version = "1.0.0", path = "../tokio", features = ["full"] }
tokio-test = { version = "0.4.0", path = "../tokio-test" }
tokio-stream = { version = "0.1", path = "../tokio-stream" }
"#,
        ),
        (
            "benches/Cargo.toml",
            r#"[package]
name = "benches"
publish = false
edition = "2021"

[features]
test-util = ["tokio/test-util"]

[dependencies]
tokio = { path = "../tokio", features = ["full"] }
criterion = "0.5.1"

[dev-dependencies]
tokio-util = { path = "../tokio-util", features = ["full"] }
tokio-stream = { path = "../tokio-stream" }

[target.'cfg(unix)'.dependencies]
libc = "0.2.42"
"#,
        ),
        (
            "examples/Cargo.toml",
            r#"[package]
name = "examples"
version = "0.0.0"
publish = false
edition = "2021"

# If you copy one of the examples into a new project, you should be using
# [dependencies] instead, and delete the **path**.
[dev-dependencies]
tokio = { version = "1.0.0", path = "../tokio", features = ["full", "tracing"] }
tokio-util = { version = "0.7.0", path = "../tokio-util", features = ["full"] }
tokio-stream = { version = "0.1", path = "../tokio-stream" }
"#,
        ),
        (
            "stress-test/Cargo.toml",
            r#"[package]
name = "stress-test"
version = "0.1.0"
edition = "2021"
publish = false

[dependencies]
tokio = { version = "1.0.0", path = "../tokio/", features = ["full"] }
"#,
        ),
        (
            "tests-build/Cargo.toml",
            r#"[package]
name = "tests-build"
version = "0.1.0"
edition = "2021"
publish = false

[features]
full = ["tokio/full"]
rt = ["tokio/rt", "tokio/macros"]

[dependencies]
tokio = { version = "1.0.0", path = "../tokio", optional = true }

[dev-dependencies]
trybuild = "1.0"
"#,
        ),
        (
            "tests-integration/Cargo.toml",
            r#"[package]
name = "tests-integration"
version = "0.1.0"
edition = "2021"
publish = false

[[bin]]
name = "test-cat"
required-features = ["rt-process-io-util"]

[features]
full = ["macros", "rt", "rt-multi-thread", "tokio/full", "tokio-test"]
macros = ["tokio/macros"]
rt = ["tokio/rt"]
rt-multi-thread = ["rt", "tokio/rt-multi-thread"]
rt-process-io-util = ["tokio/rt", "tokio/macros"]

[dependencies]
tokio = { path = "../tokio" }
tokio-test = { path = "../tokio-test", optional = true }
doc-comment = "0.3.1"
futures = { version = "0.3.0", features = ["async-await"] }
"#,
        ),
        ("tests-integration/src/bin/test-cat.rs", "fn main() {}\n"),
    ]);
}

/// ripgrep: the root package is also the workspace root; its binary lives in `crates/core`
/// (not a member), and its library crates depend on each other through `path` + `version`.
#[test]
fn cargo_ripgrep_shaped_root_package() {
    assert_cargo_agrees(&[
        (
            "Cargo.toml",
            r#"[package]
name = "ripgrep"
version = "14.1.1"  #:version
authors = ["Andrew Gallant <jamslam@gmail.com>"]
description = """
ripgrep is a line-oriented search tool that recursively searches the current
directory for a regex pattern while respecting gitignore rules.
"""
build = "build.rs"
autotests = false
edition = "2021"
rust-version = "1.72"

[[bin]]
bench = false
path = "crates/core/main.rs"
name = "rg"

[[test]]
name = "integration"
path = "tests/tests.rs"

[workspace]
members = [
  "crates/globset",
  "crates/grep",
  "crates/cli",
  "crates/matcher",
  "crates/pcre2",
  "crates/printer",
  "crates/regex",
  "crates/searcher",
  "crates/ignore",
]

[dependencies]
anyhow = "1.0.75"
bstr = "1.7.0"
grep = { version = "0.3.2", path = "crates/grep" }
ignore = { version = "0.4.23", path = "crates/ignore" }
lexopt = "0.3.0"
log = "0.4.5"
serde_json = "1.0.23"
termcolor = "1.1.0"
textwrap = { version = "0.16.0", default-features = false }

[target.'cfg(all(target_env = "musl", target_pointer_width = "64"))'.dependencies.tikv-jemallocator]
version = "0.6.0"

[dev-dependencies]
serde = "1.0.77"
serde_derive = "1.0.77"
walkdir = "2"

[features]
pcre2 = ["grep/pcre2"]

[profile.release]
debug = 1
"#,
        ),
        ("build.rs", "fn main() {}\n"),
        ("crates/core/main.rs", "fn main() {}\n"),
        ("tests/tests.rs", ""),
        (
            "crates/globset/Cargo.toml",
            r#"[package]
name = "globset"
version = "0.4.16"  #:version
edition = "2021"

[lib]
name = "globset"
bench = false

[dependencies]
aho-corasick = "1.1.1"
bstr = { version = "1.6.2", default-features = false, features = ["std"] }
log = { version = "0.4.20", optional = true }
serde = { version = "1.0.188", optional = true }

[dev-dependencies]
glob = "0.3.1"

[features]
default = ["log"]
simd-accel = []
"#,
        ),
        (
            "crates/grep/Cargo.toml",
            r#"[package]
name = "grep"
version = "0.3.2"  #:version
edition = "2021"

[dependencies]
grep-cli = { version = "0.1.11", path = "../cli" }
grep-matcher = { version = "0.1.7", path = "../matcher" }
grep-pcre2 = { version = "0.1.8", path = "../pcre2", optional = true }
grep-printer = { version = "0.2.2", path = "../printer" }
grep-regex = { version = "0.1.13", path = "../regex" }
grep-searcher = { version = "0.1.14", path = "../searcher" }

[dev-dependencies]
termcolor = "1.0.4"
walkdir = "2.2.7"

[features]
pcre2 = ["grep-pcre2"]
"#,
        ),
        (
            "crates/cli/Cargo.toml",
            r#"[package]
name = "grep-cli"
version = "0.1.11"  #:version
edition = "2021"

[dependencies]
bstr = { version = "1.6.2", features = ["std"] }
globset = { version = "0.4.15", path = "../globset" }
log = "0.4.20"
termcolor = "1.3.0"

[target.'cfg(windows)'.dependencies.winapi-util]
version = "0.1.6"
"#,
        ),
        (
            "crates/matcher/Cargo.toml",
            r#"[package]
name = "grep-matcher"
version = "0.1.7"  #:version
edition = "2021"

[dependencies]
memchr = "2.6.3"

[dev-dependencies]
regex = "1.9.5"
"#,
        ),
        (
            "crates/pcre2/Cargo.toml",
            r#"[package]
name = "grep-pcre2"
version = "0.1.8"  #:version
edition = "2021"

[dependencies]
grep-matcher = { version = "0.1.7", path = "../matcher" }
log = "0.4.20"
pcre2 = "0.2.6"
"#,
        ),
        (
            "crates/printer/Cargo.toml",
            r#"[package]
name = "grep-printer"
version = "0.2.2"  #:version
edition = "2021"

[features]
default = []
serde = ["dep:serde", "dep:serde_json"]

[dependencies]
bstr = "1.6.2"
grep-matcher = { version = "0.1.7", path = "../matcher" }
grep-searcher = { version = "0.1.14", path = "../searcher" }
log = "0.4.5"
termcolor = "1.3.0"
serde = { version = "1.0.193", optional = true }
serde_json = { version = "1.0.107", optional = true }

[dev-dependencies]
grep-regex = { version = "0.1.13", path = "../regex" }
"#,
        ),
        (
            "crates/regex/Cargo.toml",
            r#"[package]
name = "grep-regex"
version = "0.1.13"  #:version
edition = "2021"

[dependencies]
bstr = "1.6.2"
grep-matcher = { version = "0.1.7", path = "../matcher" }
log = "0.4.20"
regex-automata = { version = "0.4.0" }
regex-syntax = "0.8.0"
"#,
        ),
        (
            "crates/searcher/Cargo.toml",
            r#"[package]
name = "grep-searcher"
version = "0.1.14"  #:version
edition = "2021"

[dependencies]
bstr = { version = "1.6.2", default-features = false, features = ["std"] }
encoding_rs = "0.8.33"
grep-matcher = { version = "0.1.7", path = "../matcher" }
log = "0.4.20"
memchr = "2.6.3"
memmap = { package = "memmap2", version = "0.9.0" }

[dev-dependencies]
grep-regex = { version = "0.1.13", path = "../regex" }
regex = "1.9.5"
"#,
        ),
        (
            "crates/ignore/Cargo.toml",
            r#"[package]
name = "ignore"
version = "0.4.23"  #:version
edition = "2021"

[lib]
name = "ignore"
bench = false

[dependencies]
crossbeam-deque = "0.8.3"
globset = { version = "0.4.16", path = "../globset" }
log = "0.4.20"
memchr = "2.6.3"
same-file = "1.0.6"
walkdir = "2.4.0"

[dependencies.regex-automata]
version = "0.4.0"
default-features = false
features = ["std", "perf", "syntax", "meta", "nfa", "hybrid", "dfa-onepass"]

[target.'cfg(windows)'.dependencies.winapi-util]
version = "0.1.2"

[dev-dependencies]
bstr = { version = "1.6.2", default-features = false, features = ["std"] }
crossbeam-channel = "0.5.8"

[features]
# DEPRECATED. It is a no-op. SIMD is done automatically through runtime
# dispatch.
simd-accel = []
"#,
        ),
    ]);
}

/// rust-analyzer: `members = ["xtask/", "lib/*", "crates/*"]`, `[workspace.package]` version
/// inheritance, `[workspace.dependencies]` with `./` paths used through `workspace = true`, a nested
/// test crate that is a member only because a member depends on it by path, and an `exclude`d
/// crate below it.
#[test]
fn cargo_rust_analyzer_shaped_inherited_workspace() {
    let crate_ = |name: &str, deps: &str| {
        format!(
            r#"[package]
name = "{name}"
version = "0.0.0"
description = "TBD"

authors.workspace = true
edition.workspace = true
license.workspace = true
rust-version.workspace = true

[lib]
doctest = false

{deps}
[lints]
workspace = true
"#
        )
    };
    let files: Vec<(String, String)> = vec![
        (
            "Cargo.toml".into(),
            r#"[workspace]
members = ["xtask/", "lib/*", "crates/*"]
exclude = ["crates/proc-macro-srv/proc-macro-test/imp"]
resolver = "2"

[workspace.package]
rust-version = "1.86"
edition = "2024"
license = "MIT OR Apache-2.0"
authors = ["rust-analyzer team"]
repository = "https://github.com/rust-lang/rust-analyzer"

[profile.dev]
debug = 1

[workspace.dependencies]
# local crates
base-db = { path = "./crates/base-db", version = "0.0.0" }
cfg = { path = "./crates/cfg", version = "0.0.0", features = ["tt"] }
hir = { path = "./crates/hir", version = "0.0.0" }
ide = { path = "./crates/ide", version = "0.0.0" }
intern = { path = "./crates/intern", version = "0.0.0" }
paths = { path = "./crates/paths", version = "0.0.0" }
proc-macro-srv = { path = "./crates/proc-macro-srv", version = "0.0.0" }
stdx = { path = "./crates/stdx", version = "0.0.0" }
syntax = { path = "./crates/syntax", version = "0.0.0" }
test-utils = { path = "./crates/test-utils", version = "0.0.0" }
vfs = { path = "./crates/vfs", version = "0.0.0" }
la-arena = { version = "0.3.1", path = "./lib/la-arena" }
lsp-server = { version = "0.7.8", path = "./lib/lsp-server" }
line-index = { version = "0.1.2", path = "./lib/line-index" }

# local crates that aren't published to crates.io. These should not have versions.
proc-macro-test = { path = "./crates/proc-macro-srv/proc-macro-test" }

# non-local crates
anyhow = "1.0.98"
arrayvec = "0.7.6"
rustc-hash = "2.1.1"
smallvec = { version = "1.15.0", features = ["const_new", "union", "const_generics"] }
tracing = "0.1.41"

[workspace.lints.rust]
unused_lifetimes = "warn"

[workspace.lints.clippy]
too_many_arguments = "allow"
"#
            .into(),
        ),
        (
            "xtask/Cargo.toml".into(),
            r#"[package]
name = "xtask"
version = "0.1.0"
publish = false
license.workspace = true
edition.workspace = true
rust-version.workspace = true

[dependencies]
anyhow.workspace = true
stdx.workspace = true

[lints]
workspace = true
"#
            .into(),
        ),
        (
            "lib/la-arena/Cargo.toml".into(),
            r#"[package]
name = "la-arena"
version = "0.3.1"
description = "Simple index-based arena without deletion."
license = "MIT OR Apache-2.0"
edition = "2024"
"#
            .into(),
        ),
        (
            "lib/line-index/Cargo.toml".into(),
            r#"[package]
name = "line-index"
version = "0.1.2"
description = "Maps flat `TextSize` offsets to/from `(line, column)` representation."
license = "MIT OR Apache-2.0"
edition = "2021"

[dependencies]
text-size = "1.1.1"
nohash-hasher = "0.2.0"
"#
            .into(),
        ),
        (
            "lib/lsp-server/Cargo.toml".into(),
            r#"[package]
name = "lsp-server"
version = "0.7.8"
description = "Generic LSP server scaffold."
license = "MIT OR Apache-2.0"
edition = "2021"

[dependencies]
log = "0.4.17"
serde_json = "1.0.108"
serde = { version = "1.0.216", features = ["derive"] }
crossbeam-channel = "0.5.8"

[dev-dependencies]
lsp-types = "=0.95"
"#
            .into(),
        ),
        (
            "crates/stdx/Cargo.toml".into(),
            crate_("stdx", "[dependencies]\ncrossbeam-channel = \"0.5\"\n"),
        ),
        (
            "crates/paths/Cargo.toml".into(),
            crate_("paths", "[dependencies]\ncamino = \"1.1.9\"\n"),
        ),
        (
            "crates/intern/Cargo.toml".into(),
            crate_(
                "intern",
                "[dependencies]\ndashmap = \"6\"\nrustc-hash.workspace = true\n",
            ),
        ),
        (
            "crates/test-utils/Cargo.toml".into(),
            crate_(
                "test-utils",
                "[dependencies]\ntext-size = \"1\"\n\nstdx.workspace = true\npaths.workspace = true\n",
            ),
        ),
        (
            "crates/vfs/Cargo.toml".into(),
            crate_(
                "vfs",
                "[dependencies]\nrustc-hash.workspace = true\n\npaths.workspace = true\nstdx.workspace = true\n",
            ),
        ),
        (
            "crates/cfg/Cargo.toml".into(),
            crate_(
                "cfg",
                "[features]\ntt = []\n\n[dependencies]\nrustc-hash.workspace = true\n\nintern.workspace = true\n\n[dev-dependencies]\narbitrary = \"1.4.1\"\n\n# local deps\nsyntax.workspace = true\n",
            ),
        ),
        (
            "crates/syntax/Cargo.toml".into(),
            crate_(
                "syntax",
                "[dependencies]\nrowan = \"=0.15.15\"\nsmallvec.workspace = true\n\nstdx.workspace = true\n\n[dev-dependencies]\ntest-utils.workspace = true\n",
            ),
        ),
        (
            "crates/base-db/Cargo.toml".into(),
            crate_(
                "base-db",
                "[dependencies]\nla-arena.workspace = true\ntracing.workspace = true\n\n# local deps\ncfg = { workspace = true, features = [] }\nintern.workspace = true\nsyntax.workspace = true\nvfs.workspace = true\n",
            ),
        ),
        (
            "crates/hir/Cargo.toml".into(),
            crate_(
                "hir",
                "[dependencies]\narrayvec.workspace = true\nline-index.workspace = true\n\n# local deps\nbase-db.workspace = true\ncfg.workspace = true\nstdx.workspace = true\nsyntax.workspace = true\n\n[dev-dependencies]\ntest-utils.workspace = true\n\n[features]\nin-rust-tree = []\n",
            ),
        ),
        (
            "crates/ide/Cargo.toml".into(),
            crate_(
                "ide",
                "[dependencies]\nhir.workspace = true\nbase-db.workspace = true\n\n[target.'cfg(windows)'.dependencies]\ntoolchain = { path = \"../toolchain\", version = \"0.0.0\" }\n\n[dev-dependencies]\ntest-utils.workspace = true\n\n[features]\nin-rust-tree = [\"hir/in-rust-tree\"]\n",
            ),
        ),
        (
            "crates/toolchain/Cargo.toml".into(),
            crate_(
                "toolchain",
                "[dependencies]\nhome = \"0.5.11\"\ncamino = \"1\"\n",
            ),
        ),
        (
            "crates/proc-macro-srv/Cargo.toml".into(),
            crate_(
                "proc-macro-srv",
                "[dependencies]\npaths.workspace = true\nintern.workspace = true\n\n[dev-dependencies]\nexpect-test = \"1.5.1\"\n\n# used as proc macro test targets\nproc-macro-test.path = \"./proc-macro-test\"\n\n[features]\nsysroot-abi = []\n",
            ),
        ),
        (
            // Not in `members` (too deep for `crates/*`): a member because a member depends on it.
            "crates/proc-macro-srv/proc-macro-test/Cargo.toml".into(),
            r#"[package]
name = "proc-macro-test"
version = "0.0.0"
publish = false

edition.workspace = true
license.workspace = true

[lib]
doctest = false

[build-dependencies]
cargo_metadata = "0.20.0"
# local deps
proc-macro-test-impl = { path = "imp", version = "0.0.0" }

[features]
sysroot-abi = []
"#
            .into(),
        ),
        (
            // Excluded: built by the build script above in a workspace of its own.
            "crates/proc-macro-srv/proc-macro-test/imp/Cargo.toml".into(),
            r#"[package]
name = "proc-macro-test-impl"
version = "0.0.0"
license = "MIT OR Apache-2.0"
edition = "2024"
publish = false

[lib]
doctest = false
proc-macro = true

[workspace]
"#
            .into(),
        ),
    ];
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    assert_cargo_agrees(&files);
}

/// bevy: the root package `bevy` is the workspace root, `crates/*` plus explicit members, an
/// `exclude` list (one entry a `crates/*` match), prerelease versions, optional path dependencies
/// in a cfg table, and a member (`errors`) that depends on the root package by `path = ".."`.
#[test]
fn cargo_bevy_shaped_root_package_with_excludes() {
    let plugin = |name: &str, deps: &str| {
        format!(
            r#"[package]
name = "{name}"
version = "0.17.0-dev"
edition = "2024"
description = "Provides {name} functionality for Bevy Engine"
homepage = "https://bevy.org"
repository = "https://github.com/bevyengine/bevy"
license = "MIT OR Apache-2.0"
keywords = ["bevy"]

[features]
default = ["std"]
std = []

[dependencies]
# bevy
{deps}
# other
thiserror = {{ version = "2", default-features = false }}

[lints]
workspace = true

[package.metadata.docs.rs]
rustdoc-args = ["-Zunstable-options", "--generate-link-to-definition"]
all-features = true
"#
        )
    };
    let files: Vec<(String, String)> = vec![
        (
            "Cargo.toml".into(),
            r#"[package]
name = "bevy"
version = "0.17.0-dev"
edition = "2024"
categories = ["game-engines", "graphics", "gui", "rendering"]
description = "A refreshingly simple data-driven game engine and app framework"
exclude = ["assets/", "tools/", ".github/", "crates/", "examples/wasm/assets/"]
homepage = "https://bevy.org"
keywords = ["game", "engine", "gamedev", "graphics", "bevy"]
license = "MIT OR Apache-2.0"
repository = "https://github.com/bevyengine/bevy"
documentation = "https://docs.rs/bevy"
rust-version = "1.85.0"

[workspace]
resolver = "2"
members = [
  # All of Bevy's official crates are within the `crates` folder!
  "crates/*",
  # Several crates with macros have "compile fail" tests nested inside - these are
  # separate crates and should not be part of the workspace.
  # Several crates with more complex examples are nested within the `examples` folder.
  "examples/mobile",
  # Benchmarks
  "benches",
  # Internal tools that are not published.
  "tools/*",
  # Bevy's error codes. This is a crate so we can automatically check all of the code blocks.
  "errors",
]
exclude = [
  # Integration tests are not part of the workspace
  "tests-integration",
  "crates/bevy_legacy_render/",
  "./tools/compile_fail_utils",
]

[workspace.lints.clippy]
doc_markdown = "warn"

[lints]
workspace = true

[features]
default = ["std", "bevy_app"]
std = ["bevy_internal/std"]
bevy_app = []
dynamic_linking = ["dep:bevy_dylib", "bevy_internal/dynamic_linking"]

[dependencies]
bevy_internal = { path = "crates/bevy_internal", version = "0.17.0-dev", default-features = false }
tracing = { version = "0.1", default-features = false, optional = true }

# Wasm does not support dynamic linking.
[target.'cfg(not(target_family = "wasm"))'.dependencies]
bevy_dylib = { path = "crates/bevy_dylib", version = "0.17.0-dev", default-features = false, optional = true }

[dev-dependencies]
rand = "0.8.0"
serde = { version = "1", features = ["derive"] }
bevy_dylib = { path = "crates/bevy_dylib", version = "0.17.0-dev", default-features = false }

[[example]]
name = "hello_world"
path = "examples/hello_world.rs"
doc-scrape-examples = true
"#
            .into(),
        ),
        ("src/lib.rs".into(), String::new()),
        (
            "examples/hello_world.rs".into(),
            "fn main() {}\n".into(),
        ),
        (
            "crates/bevy_utils/Cargo.toml".into(),
            plugin("bevy_utils", ""),
        ),
        (
            "crates/bevy_ecs/Cargo.toml".into(),
            plugin(
                "bevy_ecs",
                "bevy_utils = { path = \"../bevy_utils\", version = \"0.17.0-dev\", default-features = false }\nbevy_ecs_macros = { path = \"macros\", version = \"0.17.0-dev\" }\n",
            ),
        ),
        (
            // A nested member through `bevy_ecs`'s path dependency, as in bevy.
            "crates/bevy_ecs/macros/Cargo.toml".into(),
            r#"[package]
name = "bevy_ecs_macros"
version = "0.17.0-dev"
description = "Bevy ECS Macros"
edition = "2024"
license = "MIT OR Apache-2.0"

[lib]
proc-macro = true

[dependencies]
bevy_macro_utils = { path = "../../bevy_macro_utils", version = "0.17.0-dev" }
syn = { version = "2.0.99", features = ["full"] }
"#
            .into(),
        ),
        (
            "crates/bevy_macro_utils/Cargo.toml".into(),
            plugin("bevy_macro_utils", "proc-macro2 = \"1.0\"\n"),
        ),
        (
            "crates/bevy_app/Cargo.toml".into(),
            plugin(
                "bevy_app",
                "bevy_derive = { path = \"../bevy_derive\", version = \"0.17.0-dev\" }\nbevy_ecs = { path = \"../bevy_ecs\", version = \"0.17.0-dev\", default-features = false }\nbevy_utils = { path = \"../bevy_utils\", version = \"0.17.0-dev\", default-features = false, features = [\"alloc\"] }\n\n[target.'cfg(target_arch = \"wasm32\")'.dependencies]\nwasm-bindgen = { version = \"0.2\" }\n",
            )
            .replace("std = []", "std = []\nalloc = []"),
        ),
        (
            "crates/bevy_derive/Cargo.toml".into(),
            r#"[package]
name = "bevy_derive"
version = "0.17.0-dev"
edition = "2024"
license = "MIT OR Apache-2.0"

[lib]
proc-macro = true

[dependencies]
bevy_macro_utils = { path = "../bevy_macro_utils", version = "0.17.0-dev" }
quote = "1.0"

[dev-dependencies]
# compile-fail tests live elsewhere
"#
            .into(),
        ),
        (
            "crates/bevy_internal/Cargo.toml".into(),
            plugin(
                "bevy_internal",
                "bevy_app = { path = \"../bevy_app\", version = \"0.17.0-dev\", default-features = false }\nbevy_ecs = { path = \"../bevy_ecs\", version = \"0.17.0-dev\", default-features = false }\nbevy_utils = { path = \"../bevy_utils\", version = \"0.17.0-dev\", default-features = false }\nbevy_derive = { path = \"../bevy_derive\", version = \"0.17.0-dev\" }\n",
            )
            .replace("std = []", "std = []\ndynamic_linking = []"),
        ),
        (
            "crates/bevy_dylib/Cargo.toml".into(),
            r#"[package]
name = "bevy_dylib"
version = "0.17.0-dev"
edition = "2024"
description = "Force the Bevy Engine to be dynamically linked for faster linking"
license = "MIT OR Apache-2.0"

[lib]
crate-type = ["dylib"]

[dependencies]
bevy_internal = { path = "../bevy_internal", version = "0.17.0-dev", default-features = false }

[lints]
workspace = true
"#
            .into(),
        ),
        (
            // Matched by `crates/*` but excluded (with a trailing slash).
            "crates/bevy_legacy_render/Cargo.toml".into(),
            plugin(
                "bevy_legacy_render",
                "bevy_app = { path = \"../bevy_app\", version = \"0.17.0-dev\" }\n",
            ),
        ),
        (
            "examples/mobile/Cargo.toml".into(),
            r#"[package]
name = "bevy_mobile_example"
# Version is required by `cargo-apk`, though this value will never change.
version = "0.0.0"
edition = "2024"
description = "Example for building an iOS or Android app with Bevy"
publish = false
license = "MIT OR Apache-2.0"

[lib]
name = "bevy_mobile_example"
crate-type = ["staticlib", "cdylib"]

[dependencies]
bevy = { path = "../../" }

[target.aarch64-apple-ios-sim.dependencies]
bevy_internal = { path = "../../crates/bevy_internal", version = "0.17.0-dev" }

[package.metadata.android]
package = "org.bevyengine.example"
"#
            .into(),
        ),
        (
            "benches/Cargo.toml".into(),
            r#"[package]
name = "benches"
edition = "2024"
description = "Benchmarks that test Bevy's performance"
publish = false
license = "MIT OR Apache-2.0"
# Do not automatically discover benchmarks, we specify them manually instead.
autobenches = false

[dependencies]
bevy_app = { path = "../crates/bevy_app" }
bevy_ecs = { path = "../crates/bevy_ecs", features = ["multi_threaded"] }

[dev-dependencies]
criterion = { version = "0.5.1", features = ["html_reports"] }

[lints.clippy]
doc_markdown = "warn"
"#
            .into(),
        ),
        (
            "tools/ci/Cargo.toml".into(),
            r#"[package]
name = "ci"
version = "0.1.0"
edition = "2024"
description = "Tool for running Bevy's CI checks"
publish = false
license = "MIT OR Apache-2.0"

[dependencies]
argh = "0.1"
xshell = "0.2"
bitflags = "2.3"
"#
            .into(),
        ),
        (
            "tools/build-templated-pages/Cargo.toml".into(),
            r#"[package]
name = "build-templated-pages"
edition = "2024"
description = "Tool that checks and fixes undocumented features and examples"
publish = false
license = "MIT OR Apache-2.0"

[dependencies]
toml_edit = { version = "0.22.7", default-features = false, features = ["parse"] }
"#
            .into(),
        ),
        (
            "tools/compile_fail_utils/Cargo.toml".into(),
            r#"[package]
name = "compile_fail_utils"
edition = "2024"
publish = false

[dependencies]
ui_test = "0.29.1"
"#
            .into(),
        ),
        (
            "errors/Cargo.toml".into(),
            r#"[package]
name = "errors"
edition = "2024"
description = "Documentation and tests for Bevy's error codes"
publish = false
license = "MIT OR Apache-2.0"

[dependencies]
bevy = { path = ".." }

[lints]
workspace = true
"#
            .into(),
        ),
        (
            "tests-integration/simple-ecs-test/Cargo.toml".into(),
            "[package]\nname = \"simple-ecs-test\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[dependencies]\nbevy = { path = \"../../\" }\n\n[workspace]\n"
                .into(),
        ),
    ];
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    assert_cargo_agrees(&files);
}

/// uv: `crates/*` with excludes, `[workspace.package]` without a version (each crate has its
/// own), `publish = false` inherited through `publish.workspace = true`, `[workspace.dependencies]`
/// entries with and without `version`, used with `optional`/`features`/`default-features` on the
/// member side, in dev and cfg tables too.
#[test]
fn cargo_uv_shaped_workspace_dependencies() {
    let member = |name: &str, deps: &str| {
        format!(
            r#"[package]
name = "{name}"
version = "0.0.1"
description = "This is an internal component crate of uv"
edition = {{ workspace = true }}
rust-version = {{ workspace = true }}
homepage = {{ workspace = true }}
repository = {{ workspace = true }}
authors = {{ workspace = true }}
license = {{ workspace = true }}
publish = {{ workspace = true }}

[lib]
doctest = false

[lints]
workspace = true

{deps}"#
        )
    };
    let files: Vec<(String, String)> = vec![
        (
            "Cargo.toml".into(),
            r#"[workspace]
members = ["crates/*"]
exclude = [
  "scripts",
  # Needs nightly
  "crates/uv-trampoline",
]
resolver = "2"

[workspace.package]
edition = "2024"
rust-version = "1.86"
homepage = "https://pypi.org/project/uv/"
repository = "https://github.com/astral-sh/uv"
authors = ["uv"]
license = "MIT OR Apache-2.0"
publish = false

[workspace.dependencies]
uv-auth = { version = "0.0.1", path = "crates/uv-auth" }
uv-cache = { version = "0.0.1", path = "crates/uv-cache" }
uv-cache-key = { version = "0.0.1", path = "crates/uv-cache-key" }
uv-fs = { version = "0.0.1", path = "crates/uv-fs", features = ["serde", "tokio"] }
uv-normalize = { path = "crates/uv-normalize" }
uv-pep440 = { version = "0.7.0", path = "crates/uv-pep440", features = ["tracing", "rkyv", "version-ranges"] }
uv-static = { path = "crates/uv-static" }
uv-trampoline-builder = { path = "crates/uv-trampoline-builder" }
uv-warnings = { version = "0.0.1", path = "crates/uv-warnings" }
uv-test = { path = "crates/uv-test" }

anyhow = { version = "1.0.89" }
fs-err = { version = "3.0.0", features = ["tokio"] }
serde = { version = "1.0.210", features = ["derive", "rc"] }
tokio = { version = "1.40.0", features = ["fs", "io-util", "macros", "process", "rt", "signal", "sync"] }
tracing = { version = "0.1.40" }

[workspace.lints.rust]
unsafe_code = "warn"

[profile.profiling]
inherits = "release"
strip = false
debug = "full"
"#
            .into(),
        ),
        (
            "crates/uv/Cargo.toml".into(),
            r#"[package]
name = "uv"
version = "0.7.13"
edition = { workspace = true }
rust-version = { workspace = true }
homepage = { workspace = true }
repository = { workspace = true }
authors = { workspace = true }
license = { workspace = true }
default-run = "uv"

[lints]
workspace = true

[dependencies]
uv-auth = { workspace = true }
uv-cache = { workspace = true }
uv-cache-key = { workspace = true }
uv-fs = { workspace = true }
uv-normalize = { workspace = true }
uv-pep440 = { workspace = true, features = ["tracing", "rkyv"] }
uv-static = { workspace = true }
uv-warnings = { workspace = true }

anyhow = { workspace = true }
serde = { workspace = true }
tokio = { workspace = true }
tracing = { workspace = true }

[target.'cfg(target_os = "windows")'.dependencies]
uv-trampoline-builder = { workspace = true }

[dev-dependencies]
uv-test = { workspace = true }
uv-static = { workspace = true }
assert_cmd = { version = "2.0.16" }

[features]
default = ["performance"]
performance = []
"#
            .into(),
        ),
        ("crates/uv/src/main.rs".into(), "fn main() {}\n".into()),
        (
            "crates/uv-auth/Cargo.toml".into(),
            member(
                "uv-auth",
                "[dependencies]\nuv-cache-key = { workspace = true }\nuv-fs = { workspace = true, optional = true }\nuv-static = { workspace = true }\nuv-warnings = { workspace = true }\n\nanyhow = { workspace = true }\n\n[features]\nfs = [\"dep:uv-fs\"]\n",
            ),
        ),
        (
            "crates/uv-cache/Cargo.toml".into(),
            member(
                "uv-cache",
                "[dependencies]\nuv-cache-key = { workspace = true }\nuv-fs = { workspace = true, features = [\"tokio\"] }\nuv-normalize = { workspace = true }\nuv-pep440 = { workspace = true, features = [\"version-ranges\"] }\nuv-static = { workspace = true }\n\nfs-err = { workspace = true, features = [\"tokio\"] }\n",
            ),
        ),
        (
            "crates/uv-cache-key/Cargo.toml".into(),
            member("uv-cache-key", "[dependencies]\nhex = { version = \"0.4.3\" }\n"),
        ),
        (
            "crates/uv-fs/Cargo.toml".into(),
            member(
                "uv-fs",
                "[dependencies]\nuv-static = { workspace = true }\nfs-err = { workspace = true }\nserde = { workspace = true, optional = true }\ntokio = { workspace = true, optional = true }\n\n[target.'cfg(windows)'.dependencies]\nwinsafe = { version = \"0.0.23\" }\n\n[features]\ndefault = []\ntokio = [\"dep:tokio\", \"fs-err/tokio\"]\nserde = [\"dep:serde\"]\n",
            ),
        ),
        (
            "crates/uv-normalize/Cargo.toml".into(),
            member(
                "uv-normalize",
                "[dependencies]\nserde = { workspace = true }\n",
            ),
        ),
        (
            "crates/uv-pep440/Cargo.toml".into(),
            r#"[package]
name = "uv-pep440"
version = "0.7.0"
description = "A library for python version numbers and specifiers, implementing PEP 440"
license = "Apache-2.0 OR BSD-2-Clause"
include = ["/src", "Changelog.md", "License-Apache", "License-BSD", "Readme.md", "pyproject.toml"]
edition = { workspace = true }
rust-version = { workspace = true }
homepage = { workspace = true }
repository = { workspace = true }
authors = { workspace = true }

[lib]
name = "uv_pep440"
crate-type = ["rlib", "cdylib"]
doctest = false

[lints]
workspace = true

[dependencies]
serde = { workspace = true, features = ["derive"] }
tracing = { workspace = true, optional = true }

[dev-dependencies]
indoc = { version = "2.0.5" }

[features]
default = []
tracing = ["dep:tracing"]
rkyv = []
version-ranges = []
"#
            .into(),
        ),
        (
            "crates/uv-static/Cargo.toml".into(),
            member("uv-static", "[dependencies]\nuv-macros = { path = \"../uv-macros\", version = \"0.0.1\" }\n"),
        ),
        (
            "crates/uv-macros/Cargo.toml".into(),
            member(
                "uv-macros",
                "[dependencies]\nproc-macro2 = { version = \"1.0.86\" }\nquote = { version = \"1.0.37\" }\n",
            )
            .replace("[lib]\n", "[lib]\nproc-macro = true\n"),
        ),
        (
            "crates/uv-warnings/Cargo.toml".into(),
            member(
                "uv-warnings",
                "[dependencies]\nanyhow = { workspace = true }\n",
            ),
        ),
        (
            "crates/uv-trampoline-builder/Cargo.toml".into(),
            member(
                "uv-trampoline-builder",
                "[dependencies]\nuv-fs = { workspace = true }\n\n[dev-dependencies]\nuv-test = { workspace = true }\n",
            ),
        ),
        (
            "crates/uv-test/Cargo.toml".into(),
            member(
                "uv-test",
                "[dependencies]\nuv-cache = { workspace = true }\nuv-static = { workspace = true }\nassert_cmd = { version = \"2.0.16\" }\n",
            ),
        ),
        (
            // Excluded: its own workspace (needs nightly).
            "crates/uv-trampoline/Cargo.toml".into(),
            "[package]\nname = \"uv-trampoline\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[workspace]\n".into(),
        ),
        (
            "scripts/benchmark/Cargo.toml".into(),
            "[package]\nname = \"benchmark\"\nversion = \"0.0.1\"\n".into(),
        ),
    ];
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    assert_cargo_agrees(&files);
}

/// gitoxide: the root package `gitoxide` lists `gix-*` globs at the root level plus nested test
/// crates; a renamed dev-dependency on a crate that is also a normal dependency
/// (`gix-features-parallel = { package = "gix-features", … }`), `[dev_dependencies]` with an
/// underscore (edition 2021), a `build-dependencies` path, an alternative registry in `publish`.
#[test]
fn cargo_gitoxide_shaped_globs_renames_and_kinds() {
    let gix = |name: &str, version: &str, deps: &str| {
        format!(
            r#"[package]
name = "{name}"
version = "{version}"
repository = "https://github.com/GitoxideLabs/gitoxide"
license = "MIT OR Apache-2.0"
description = "A crate of the gitoxide project"
authors = ["Sebastian Thiel <sebastian.thiel@icloud.com>"]
edition = "2021"
include = ["src/**/*", "LICENSE-*"]
rust-version = "1.70"

[lib]
doctest = false

[features]
## Data structures implement `serde::Serialize` and `serde::Deserialize`.
serde = ["dep:serde"]

[dependencies.serde]
version = "1.0.114"
optional = true
default-features = false
features = ["derive"]

{deps}
[package.metadata.docs.rs]
all-features = true
"#
        )
    };
    let files: Vec<(String, String)> = vec![
        (
            "Cargo.toml".into(),
            r#"[package]
name = "gitoxide"
description = "A command-line application for interacting with git repositories"
repository = "https://github.com/GitoxideLabs/gitoxide"
authors = ["Sebastian Thiel <sebastian.thiel@icloud.com>"]
edition = "2021"
license = "MIT OR Apache-2.0"
version = "0.45.0"
default-run = "gix"
include = ["src/**/*", "/build.rs", "LICENSE-*", "README.md"]
resolver = "2"

[[bin]]
name = "gix"
path = "src/gix.rs"
doc = false
test = false

[features]
default = ["max"]
max = []

[dependencies]
anyhow = "1.0.98"
gitoxide-core = { version = "^0.47.1", path = "gitoxide-core" }
gix-features = { version = "^0.42.1", path = "gix-features" }
gix = { version = "^0.72.1", path = "gix", default-features = false }
clap = { version = "4.5.39", features = ["derive", "cargo"] }

[build-dependencies]
gix-date = { version = "^0.10.2", path = "gix-date" }

[profile.release]
overflow-checks = false
lto = "fat"

[workspace]
members = [
  "gix-actor",
  "gix-*",
  "gix",
  "gitoxide-core",
  "tests/tools",
  "tests/it",
  "gix-ref/tests",
]
exclude = [
  "cargo-smart-release/tests/fixtures/tri-depth-workspace/a",
  "gix-status/tests",
  "gix-archive",
]

[package.metadata.docs.rs]
features = ["document-features", "max"]
"#
            .into(),
        ),
        ("src/gix.rs".into(), "fn main() {}\n".into()),
        ("build.rs".into(), "fn main() {}\n".into()),
        (
            "gix-hash/Cargo.toml".into(),
            gix("gix-hash", "0.18.0", "[dependencies]\nfaster-hex = { version = \"0.10.0\" }\nthiserror = \"2.0.0\"\n\n[dev-dependencies]\ngix-testtools = { path = \"../tests/tools\" }\n"),
        ),
        (
            "gix-date/Cargo.toml".into(),
            gix("gix-date", "0.10.2", "[dependencies]\nbstr = { version = \"1.12.0\", default-features = false, features = [\"std\"] }\nitoa = \"1.0.1\"\n\n[dev-dependencies]\ngix-hash = { path = \"../gix-hash\" }\ngix-testtools = { path = \"../tests/tools\" }\n"),
        ),
        (
            "gix-features/Cargo.toml".into(),
            gix("gix-features", "0.42.1", "[dependencies]\ngix-trace = { version = \"^0.1.12\", path = \"../gix-trace\" }\ngix-hash = { version = \"^0.18.0\", path = \"../gix-hash\", optional = true }\n\n[target.'cfg(unix)'.dependencies]\nlibc = { version = \"0.2.119\" }\n\n[dev_dependencies]\nbstr = { version = \"1.3.0\", default-features = false }\n")
                .replace("serde = [\"dep:serde\"]", "serde = [\"dep:serde\"]\nparallel = []\nzlib = [\"dep:gix-hash\"]"),
        ),
        (
            "gix-trace/Cargo.toml".into(),
            gix("gix-trace", "0.1.12", "[dependencies]\ntracing-core = { version = \"0.1.31\", optional = true }\n"),
        ),
        (
            "gix-actor/Cargo.toml".into(),
            gix("gix-actor", "0.35.1", "[dependencies]\ngix-date = { version = \"^0.10.2\", path = \"../gix-date\" }\ngix-utils = { version = \"^0.3.0\", path = \"../gix-utils\" }\n\n[dev-dependencies]\npretty_assertions = \"1.0.0\"\ngix-testtools = { path = \"../tests/tools\" }\ngix-hash = { path = \"../gix-hash\" }\n"),
        ),
        (
            "gix-utils/Cargo.toml".into(),
            gix("gix-utils", "0.3.0", "[dependencies]\nfastrand = \"2.1.0\"\n"),
        ),
        (
            "gix-ref/Cargo.toml".into(),
            gix("gix-ref", "0.52.1", "[dependencies]\ngix-features = { version = \"^0.42.1\", path = \"../gix-features\", features = [\"walkdir\"] }\ngix-hash = { version = \"^0.18.0\", path = \"../gix-hash\" }\ngix-actor = { version = \"^0.35.1\", path = \"../gix-actor\" }\ngix-utils = { version = \"^0.3.0\", path = \"../gix-utils\" }\n\n[dev-dependencies]\ngix-date = { path = \"../gix-date\" }\n")
                .replace("[package]\n", "[package]\nautotests = false\n")
                .replace("serde = [\"dep:serde\"]", "serde = [\"dep:serde\"]\nwalkdir = []"),
        ),
        (
            "gix-ref/tests/Cargo.toml".into(),
            r#"[package]
name = "gix-ref-tests"
version = "0.0.0"
repository = "https://github.com/GitoxideLabs/gitoxide"
license = "MIT OR Apache-2.0"
description = "Test the gix-ref crate with feature toggles"
authors = ["Sebastian Thiel <sebastian.thiel@icloud.com>"]
edition = "2021"
rust-version = "1.70"
publish = false

[features]
gix-features-parallel = ["gix-features/parallel"]

[[test]]
name = "refs"
path = "refs/main.rs"

[dev-dependencies]
gix-ref = { path = ".." }
gix-date = { path = "../../gix-date" }
gix-features = { path = "../../gix-features" }
gix-testtools = { path = "../../tests/tools" }
gix-hash = { path = "../../gix-hash" }
"#
            .into(),
        ),
        ("gix-ref/tests/refs/main.rs".into(), String::new()),
        (
            "gix/Cargo.toml".into(),
            gix("gix", "0.72.1", "[dependencies]\ngix-utils = { version = \"^0.3.0\", path = \"../gix-utils\" }\ngix-ref = { version = \"^0.52.1\", path = \"../gix-ref\" }\ngix-actor = { version = \"^0.35.1\", path = \"../gix-actor\" }\ngix-date = { version = \"^0.10.2\", path = \"../gix-date\" }\ngix-hash = { version = \"^0.18.0\", path = \"../gix-hash\" }\ngix-features = { version = \"^0.42.1\", path = \"../gix-features\", features = [\"progress\", \"once_cell\"] }\n\n[target.x86_64-pc-windows-msvc.dependencies]\ngix-trace = { version = \"^0.1.12\", path = \"../gix-trace\" }\n\n[dev-dependencies]\ngix-testtools = { path = \"../tests/tools\" }\ngix-features-parallel = { package = \"gix-features\", path = \"../gix-features\", features = [\"parallel\"] }\n")
                .replace("serde = [\"dep:serde\"]", "serde = [\"dep:serde\"]\ndefault = []"),
        ),
        (
            "gitoxide-core/Cargo.toml".into(),
            gix("gitoxide-core", "0.47.1", "[dependencies]\n# deselect everything else (like \"performance\") as this should be controllable by the parent application.\ngix = { version = \"^0.72.1\", path = \"../gix\", default-features = false, features = [\"serde\"] }\nanyhow = \"1.0.42\"\n\n[target.'cfg(not(target_arch = \"wasm32\"))'.build-dependencies]\ngix-date = { version = \"^0.10.2\", path = \"../gix-date\" }\n")
                .replace("[package]\n", "[package]\npublish = [\"gitoxide-internal\"]\n"),
        ),
        (
            "tests/tools/Cargo.toml".into(),
            r#"[package]
name = "gix-testtools"
description = "Shared code for gitoxide crates to facilitate testing"
version = "0.16.1"
authors = ["Sebastian Thiel <sebastian.thiel@icloud.com>"]
edition = "2021"
license = "MIT OR Apache-2.0"
include = ["/src/**/*", "/LICENSE-*"]
rust-version = "1.70"

[[bin]]
name = "jtt"
path = "src/main.rs"

[lib]
doctest = false

[dependencies]
gix-hash = { version = "^0.18.0", path = "../../gix-hash" }
gix-date = { version = "^0.10.2", path = "../../gix-date" }
tempfile = "3.20.0"
"#
            .into(),
        ),
        ("tests/tools/src/main.rs".into(), "fn main() {}\n".into()),
        ("tests/tools/src/lib.rs".into(), String::new()),
        (
            "tests/it/Cargo.toml".into(),
            r#"[package]
name = "internal-tools"
description = "internal CLI tooling to help generated test-cases"
version = "0.0.0"
authors = ["Sebastian Thiel <sebastian.thiel@icloud.com>"]
edition = "2021"
license = "MIT OR Apache-2.0"
publish = false

[[bin]]
name = "it"
path = "src/main.rs"

[dependencies]
anyhow = "1.0.98"
gix = { version = "^0.72.1", path = "../../gix", default-features = false, features = ["attributes", "blame"] }
"#
            .into(),
        ),
        ("tests/it/src/main.rs".into(), "fn main() {}\n".into()),
        (
            // Matched by `gix-*`, but excluded.
            "gix-archive/Cargo.toml".into(),
            gix("gix-archive", "0.21.1", "[dependencies]\ngix-date = { version = \"^0.10.2\", path = \"../gix-date\" }\n"),
        ),
        (
            "gix-status/Cargo.toml".into(),
            gix("gix-status", "0.19.1", "[dependencies]\ngix-features = { version = \"^0.42.1\", path = \"../gix-features\" }\n"),
        ),
        (
            // Excluded, so not a member even though it sits in the tree.
            "gix-status/tests/Cargo.toml".into(),
            "[package]\nname = \"gix-status-tests\"\nversion = \"0.0.0\"\npublish = false\nedition = \"2021\"\n\n[dev-dependencies]\ngix-status = { path = \"..\" }\n".into(),
        ),
    ];
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    assert_cargo_agrees(&files);
}

/// Membership rules that real workspaces rely on, in one small tree: implicit members reached only
/// through a build dependency, a cfg-specific dependency, a `[workspace.dependencies]` entry and
/// transitively; header-form dependency tables (`[dependencies.x]`); an unused workspace
/// dependency (not a member); a path dependency into an excluded directory (not a member, not an
/// internal edge); and an explicit member inside an excluded directory (explicit wins).
#[test]
fn cargo_membership_rules() {
    assert_cargo_agrees(&[
        (
            "Cargo.toml",
            r#"[workspace]
resolver = "3"
members = ["app", "vendor/patched"]
exclude = ["vendor", "third_party/"]

[workspace.package]
version = "3.0.0-rc.1"
edition = "2024"
publish = false

[workspace.dependencies]
via-ws = { path = "libs/via-ws", version = "3.0.0-rc.1" }
unused = { path = "libs/unused", version = "1" }
renamed = { package = "real-name", path = "libs/real-name", version = ">=3.0.0-rc.1, <4" }
"#,
        ),
        (
            "app/Cargo.toml",
            r#"[package]
name = "app"
version.workspace = true
edition.workspace = true
publish.workspace = true

[dependencies.via-ws]
workspace = true
optional = true

[dependencies.renamed]
workspace = true
features = []

[dependencies.patched]
path = "../vendor/patched"

[dependencies.forked]
path = "../third_party/forked"

[build-dependencies]
codegen = { path = "../tools/codegen" }

[target.'cfg(target_os = "linux")'.dependencies]
linux-only = { path = "../platform/linux", version = "0.2" }

[target."x86_64-pc-windows-msvc".build-dependencies]
winres = { package = "app-winres", path = "../platform/winres" }
"#,
        ),
        (
            "libs/via-ws/Cargo.toml",
            "[package]\nname = \"via-ws\"\nversion = { workspace = true }\nedition = \"2024\"\n\n[dependencies]\ndeep = { path = \"../deep\" }\n",
        ),
        (
            "libs/deep/Cargo.toml",
            "[package]\nname = \"deep\"\nversion = \"0.9.0\"\nedition = \"2024\"\n",
        ),
        (
            "libs/unused/Cargo.toml",
            "[package]\nname = \"unused\"\nversion = \"1.0.0\"\nedition = \"2024\"\n",
        ),
        (
            "libs/real-name/Cargo.toml",
            "[package]\nname = \"real-name\"\nversion.workspace = true\nedition = \"2024\"\npublish = true\n",
        ),
        (
            "vendor/patched/Cargo.toml",
            "[package]\nname = \"patched\"\nversion = \"0.4.2\"\nedition = \"2021\"\n\n[dependencies]\nvendored-helper = { path = \"../helper\" }\n",
        ),
        (
            "vendor/helper/Cargo.toml",
            "[package]\nname = \"vendored-helper\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
        ),
        (
            "third_party/forked/Cargo.toml",
            "[package]\nname = \"forked\"\nversion = \"2.0.0\"\nedition = \"2021\"\n",
        ),
        (
            "tools/codegen/Cargo.toml",
            "[package]\nname = \"codegen\"\nedition = \"2024\"\n\n[dependencies]\ndeep = { path = \"../../libs/deep\", version = \"0.9\" }\n",
        ),
        (
            "platform/linux/Cargo.toml",
            "[package]\nname = \"linux-only\"\nversion = \"0.2.0\"\nedition = \"2024\"\npublish = [\"internal\"]\n",
        ),
        (
            "platform/winres/Cargo.toml",
            "[package]\nname = \"app-winres\"\nversion = \"0.1.0\"\nedition = \"2024\"\n",
        ),
    ]);
}

/// The root package listed as a member (`"."`) next to `./`-prefixed, slash-terminated globs; the
/// root inheriting its own `[workspace.package]` version and `publish` registry; a rename whose
/// key is another member's name; a cfg table written as an inline `dependencies = { … }`; and a
/// `[patch]` path inside the root, which Cargo does not make a member. (No `exclude` here: with
/// `"."` in `members` Cargo ignores `exclude` altogether, rust-lang/cargo#6745.)
#[test]
fn cargo_root_member_renames_and_patches() {
    assert_cargo_agrees(&[
        (
            "Cargo.toml",
            r#"[package]
name = "tool"
version.workspace = true
edition.workspace = true
publish.workspace = true

[workspace]
members = [".", "./crates/*/", "tools/xtask"]

[workspace.package]
version = "0.3.0"
edition = "2021"
publish = ["corp"]

[dependencies]
# `foo` is also a member's name; the dependency is on `foo-bar`.
foo = { package = "foo-bar", path = "crates/foo-bar", version = "1" }
serde = "1"

[target.'cfg(unix)'.dev-dependencies]
foo-real = { package = "foo", path = "crates/foo" }

[patch.crates-io]
serde = { path = "vendor/serde" }
"#,
        ),
        (
            "crates/foo/Cargo.toml",
            "[package]\nname = \"foo\"\nversion = \"1.0.0\"\nedition = \"2021\"\n",
        ),
        (
            "crates/foo-bar/Cargo.toml",
            "[package]\nname = \"foo-bar\"\nversion = \"1.0.0\"\nedition = \"2021\"\n\n[target.x86_64-unknown-linux-gnu]\ndependencies = { helper = { path = \"../../tools/helper\" } }\n",
        ),
        (
            "tools/xtask/Cargo.toml",
            "[package]\nname = \"xtask\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n[dependencies]\ntool = { package = \"tool\", path = \"../..\" }\n",
        ),
        (
            "tools/helper/Cargo.toml",
            "[package]\nname = \"helper\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
        ),
        (
            "vendor/serde/Cargo.toml",
            "[package]\nname = \"serde\"\nversion = \"1.0.999\"\nedition = \"2021\"\n",
        ),
    ]);
}

/// Crates from before Cargo 1.0 say `[project]`, the old name of `[package]`; Cargo still reads it
/// as `[package]` for editions before 2024, silently.
#[test]
fn cargo_legacy_project_table() {
    assert_cargo_agrees(&[
        (
            "Cargo.toml",
            "[workspace]\nmembers = [\"codec\", \"codec-derive\"]\n",
        ),
        (
            "codec/Cargo.toml",
            r#"[project]
name = "codec"
version = "0.9.3"
authors = ["The Codec Developers"]
license = "MIT/Apache-2.0"

[dependencies]
codec-derive = { path = "../codec-derive", version = "0.9", optional = true }
"#,
        ),
        ("codec/src/lib.rs", ""),
        (
            "codec-derive/Cargo.toml",
            "[package]\nname = \"codec-derive\"\nversion = \"0.9.0\"\nedition = \"2018\"\n\n[lib]\nproc-macro = true\n",
        ),
    ]);
}

// ---------------------------------------------------------------------------------------------
// npm

/// Runs npm offline in `repo` with an isolated home (no user config, cache or logs leak in).
fn npm(repo: &Repo, args: &[&str]) -> String {
    let home = tempfile::tempdir().expect("npm home");
    let out = Command::new("npm")
        .args(args)
        .current_dir(repo.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("npm_config_cache", home.path().join("cache"))
        .env("npm_config_userconfig", home.path().join(".npmrc"))
        .env("npm_config_offline", "true")
        .env("npm_config_update_notifier", "false")
        .env("npm_config_fund", "false")
        .env("npm_config_audit", "false")
        .env("npm_config_loglevel", "error")
        .output()
        .expect("run npm");
    assert!(
        out.status.success(),
        "npm {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `name version path private=…` of every workspace npm itself finds, without installing
/// anything: `npm exec --workspaces` visits each workspace npm resolved from the root
/// `package.json` (and reports the manifest it uses), and `npm pkg get --workspaces` gives npm's
/// normalised name, version and `private` for each.
fn npm_view(repo: &Repo) -> Vec<String> {
    let visited = npm(
        repo,
        &[
            "exec",
            "--workspaces",
            "-c",
            r"node -e 'const f = process.env.npm_package_json; console.log(JSON.stringify([f, require(f).name]))'",
        ],
    );
    let fields: Value = serde_json::from_str(&npm(
        repo,
        &[
            "pkg",
            "get",
            "name",
            "version",
            "private",
            "--workspaces",
            "--json",
        ],
    ))
    .expect("npm pkg get prints JSON");
    let mut out = Vec::new();
    for line in visited.lines().filter(|l| l.starts_with('[')) {
        let pair: (String, String) = serde_json::from_str(line).expect("visited line");
        let (manifest, name) = pair;
        let dir = relative(
            repo.path(),
            Path::new(&manifest).parent().expect("manifest dir"),
        );
        let info = &fields[&name];
        assert_eq!(info["name"], name.as_str(), "npm pkg get knows `{name}`");
        out.push(npm_line(
            &name,
            info["version"].as_str(),
            &dir,
            info["private"].as_bool().unwrap_or(false),
        ));
    }
    assert_eq!(
        out.len(),
        fields.as_object().map_or(0, serde_json::Map::len),
        "npm exec and npm pkg get visit the same workspaces"
    );
    out.sort();
    out
}

fn npm_line(name: &str, version: Option<&str>, path: &str, private: bool) -> String {
    format!(
        "{name} {} path={path} private={private}",
        version.unwrap_or("-")
    )
}

fn polyship_npm_view(doc: &Value) -> Vec<String> {
    let mut out: Vec<String> = doc["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter(|p| p["ecosystem"] == "npm")
        .map(|p| {
            let path = p["path"].as_str().expect("path");
            let manifest = if path == "." {
                "package.json".to_owned()
            } else {
                format!("{path}/package.json")
            };
            assert_eq!(p["manifest"].as_str(), Some(manifest.as_str()));
            npm_line(
                p["name"].as_str().expect("name"),
                p["version"].as_str(),
                path,
                p["private"].as_bool().expect("private"),
            )
        })
        .collect();
    out.sort();
    out
}

/// Builds `files`, then asserts that polyship lists exactly the workspaces npm finds.
fn assert_npm_agrees(files: &[(&str, &str)]) {
    assert!(
        npm_available(),
        "`npm` is needed to compare with: install Node.js with npm, or run scripts/test"
    );
    let repo = repo_with(files);
    let doc = polyship_list(&repo);
    let theirs = npm_view(&repo);
    assert!(!theirs.is_empty(), "the fixture should have workspaces");
    assert_eq!(
        polyship_npm_view(&doc),
        theirs,
        "workspaces: polyship (left) vs npm (right)"
    );
}

/// A changesets-style monorepo (like `changesets/changesets` or `vitejs/vite`): scoped packages
/// under `packages/*`, apps under `apps/*`, a nested `packages/**` group, a literal `./` entry,
/// private packages and packages without a version. Its dependencies reach outside the workspace,
/// which an offline npm cannot install, so only the workspace list is compared here; edges are
/// compared with npm's installed tree in `npm_dependency_edges_match_npms_own_tree`.
#[test]
fn npm_scoped_monorepo_with_nested_globs() {
    assert_npm_agrees(&[
        (
            "package.json",
            r#"{
  "name": "acme-monorepo",
  "private": true,
  "version": "0.0.0",
  "packageManager": "npm@10.9.2",
  "workspaces": [
    "packages/*",
    "packages/plugins/**",
    "apps/*",
    "./tooling/eslint-config"
  ],
  "scripts": { "build": "tsc -b", "release": "changeset publish" },
  "devDependencies": { "@changesets/cli": "^2.27.0", "typescript": "^5.4.0" }
}
"#,
        ),
        (
            "packages/core/package.json",
            r#"{
  "name": "@acme/core",
  "version": "2.3.0",
  "description": "Core runtime",
  "main": "dist/index.js",
  "types": "dist/index.d.ts",
  "exports": { ".": { "import": "./dist/index.mjs", "require": "./dist/index.js" } },
  "files": ["dist"],
  "publishConfig": { "access": "public" },
  "dependencies": { "tslib": "^2.6.0" }
}
"#,
        ),
        (
            "packages/utils/package.json",
            r#"{
  "name": "@acme/utils",
  "version": "2.3.0",
  "dependencies": { "@acme/core": "^2.3.0" },
  "peerDependencies": { "react": ">=18" }
}
"#,
        ),
        (
            "packages/cli/package.json",
            r#"{
  "name": "acme-cli",
  "version": "1.0.0-beta.4",
  "bin": { "acme": "./bin/acme.js" },
  "dependencies": { "@acme/core": "2.3.0", "@acme/utils": "~2.3.0", "commander": "^12.0.0" },
  "devDependencies": { "@acme/test-kit": "*" }
}
"#,
        ),
        (
            "packages/plugins/react/package.json",
            r#"{
  "name": "@acme/plugin-react",
  "version": "0.4.1",
  "peerDependencies": { "@acme/core": "^2.0.0", "react": "^18 || ^19" },
  "devDependencies": { "@acme/core": "^2.3.0" }
}
"#,
        ),
        (
            "packages/plugins/vue/legacy/package.json",
            r#"{ "name": "@acme/plugin-vue-legacy", "version": "0.1.0", "deprecated": "use @acme/plugin-vue" }
"#,
        ),
        (
            "packages/plugins/vue/package.json",
            r#"{ "name": "@acme/plugin-vue", "version": "0.2.0", "optionalDependencies": { "@acme/utils": "^2" } }
"#,
        ),
        (
            "apps/docs/package.json",
            r#"{ "name": "docs", "private": true, "version": "0.0.0", "dependencies": { "@acme/core": "*", "@acme/plugin-react": "^0.4.0" } }
"#,
        ),
        (
            "apps/playground/package.json",
            r#"{ "name": "@acme/playground", "private": true, "dependencies": { "acme-cli": "^1.0.0-beta.4" } }
"#,
        ),
        (
            "tooling/eslint-config/package.json",
            r#"{ "name": "@acme/eslint-config", "version": "1.1.0", "private": true, "main": "index.js" }
"#,
        ),
        (
            "packages/test-kit/package.json",
            r#"{ "name": "@acme/test-kit", "version": "0.0.1", "private": true }
"#,
        ),
        // Not workspaces: a directory without a manifest, an example outside every glob, and
        // installed dependencies (committed here, so only the `node_modules` rule skips them).
        ("packages/README.md", "# packages\n"),
        (
            "packages/plugins/react/node_modules/react/package.json",
            r#"{ "name": "react", "version": "18.3.1" }
"#,
        ),
        (
            "node_modules/@acme/core/package.json",
            r#"{ "name": "@acme/core", "version": "2.3.0" }
"#,
        ),
        (
            "examples/basic/package.json",
            r#"{ "name": "example-basic", "version": "1.0.0" }
"#,
        ),
    ]);
}

/// Yarn's object form `{ "packages": [...], "nohoist": [...] }`, which npm reads too, with a
/// negated pattern and a `./` prefix.
#[test]
fn npm_object_form_with_negation() {
    assert_npm_agrees(&[
        (
            "package.json",
            r#"{
  "name": "root",
  "private": true,
  "workspaces": {
    "packages": ["./modules/*", "!modules/legacy", "services/*/"],
    "nohoist": ["**/react-native", "**/react-native/**"]
  }
}
"#,
        ),
        (
            "modules/a/package.json",
            r#"{ "name": "@org/a", "version": "1.0.0" }
"#,
        ),
        (
            "modules/b/package.json",
            r#"{ "name": "@org/b", "version": "1.2.0", "private": true, "dependencies": { "@org/a": "^1.0.0" } }
"#,
        ),
        (
            "modules/legacy/package.json",
            r#"{ "name": "@org/legacy", "version": "0.9.0" }
"#,
        ),
        (
            "services/api/package.json",
            r#"{ "name": "api", "version": "3.1.4", "private": true, "dependencies": { "@org/b": "1.2.0" } }
"#,
        ),
    ]);
}

/// `!packages/legacy/**` excludes `packages/legacy` itself: npm passes negated patterns to `glob`
/// as `ignore`, where `**` also matches zero directories.
#[test]
fn npm_negated_double_star_excludes_the_directory() {
    assert_npm_agrees(&[
        (
            "package.json",
            r#"{ "name": "root", "private": true, "workspaces": ["packages/*", "!packages/legacy/**"] }
"#,
        ),
        (
            "packages/core/package.json",
            r#"{ "name": "@acme/core", "version": "1.0.0" }
"#,
        ),
        (
            "packages/legacy/package.json",
            r#"{ "name": "@acme/legacy", "version": "0.9.0" }
"#,
        ),
    ]);
}

/// `packages/**` also selects `packages` itself when it holds a `package.json`: npm globs
/// `packages/**/` and `**` matches zero directories.
#[test]
fn npm_double_star_includes_the_base_directory() {
    assert_npm_agrees(&[
        (
            "package.json",
            r#"{ "name": "root", "private": true, "workspaces": ["packages/**"] }
"#,
        ),
        (
            "packages/package.json",
            r#"{ "name": "packages-umbrella", "version": "1.0.0" }
"#,
        ),
        (
            "packages/a/package.json",
            r#"{ "name": "a", "version": "1.0.0" }
"#,
        ),
    ]);
}

/// npm's workspace globs do not match dot-directories (`glob` with `dot: false`): a package in
/// `packages/.template` is not a workspace.
#[test]
fn npm_globs_skip_dot_directories() {
    assert_npm_agrees(&[
        (
            "package.json",
            r#"{ "name": "root", "private": true, "workspaces": ["packages/*"] }
"#,
        ),
        (
            "packages/.template/package.json",
            r#"{ "name": "template", "version": "0.0.0" }
"#,
        ),
        (
            "packages/a/package.json",
            r#"{ "name": "a", "version": "1.0.0" }
"#,
        ),
    ]);
}

/// npm's globs expand braces: `{apps,examples}/*` selects `apps/*` and `examples/*`.
#[test]
fn npm_brace_patterns_expand() {
    assert_npm_agrees(&[
        (
            "package.json",
            r#"{ "name": "root", "private": true, "workspaces": ["packages/*", "{apps,examples}/*"] }
"#,
        ),
        (
            "packages/core/package.json",
            r#"{ "name": "@acme/core", "version": "1.0.0" }
"#,
        ),
        (
            "apps/web/package.json",
            r#"{ "name": "web", "private": true }
"#,
        ),
        (
            "examples/basic/package.json",
            r#"{ "name": "example-basic", "version": "0.0.0", "private": true }
"#,
        ),
    ]);
}

/// The workspace members a package manager lists, as root-relative directories (the root left
/// out), from `pnpm ls -r` or `yarn workspaces list`.
fn tool_members(repo: &Repo, bin: &Path, args: &[&str]) -> Vec<String> {
    let home = tempfile::tempdir().expect("tool home");
    let out = Command::new(bin)
        .args(args)
        .current_dir(repo.path())
        .env("HOME", home.path())
        .env("npm_config_update_notifier", "false")
        .env("YARN_ENABLE_GLOBAL_CACHE", "false")
        .env("YARN_ENABLE_TELEMETRY", "0")
        .env("COREPACK_ENABLE_STRICT", "0")
        .output()
        .expect("run the package manager");
    assert!(
        out.status.success(),
        "{} {args:?} failed:\n{}\n{}",
        bin.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut dirs: Vec<String> = Vec::new();
    // pnpm prints one JSON array; yarn one JSON object a line.
    let values: Vec<Value> = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Array(items)) => items,
        _ => text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect(),
    };
    for v in values {
        let dir = match (v["path"].as_str(), v["location"].as_str()) {
            (Some(path), _) => relative(repo.path(), Path::new(path)),
            (None, Some(location)) => location.to_owned(),
            _ => continue,
        };
        if dir != "." {
            dirs.push(dir);
        }
    }
    dirs.sort();
    dirs
}

/// Issue 11: a workspace entry for a directory that does not exist (a git-ignored fixture that
/// exists only while tests run) or holds no `package.json` is skipped — by npm, pnpm and yarn alike,
/// and so by polyship — for literal entries and globs.
#[test]
fn workspace_entries_without_a_package_are_skipped_as_npm_pnpm_and_yarn_skip_them() {
    let member_dirs = |doc: &Value| -> Vec<String> {
        let mut dirs: Vec<String> = doc["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .filter(|p| p["ecosystem"] == "npm" && p["path"] != ".")
            .map(|p| p["path"].as_str().unwrap_or_default().to_owned())
            .collect();
        dirs.sort();
        dirs
    };
    let entries =
        r#"["packages/a", "packages/x/test/units/_temp-fixtures", "packages/empty", "packages/*"]"#;
    let common = [
        (
            "packages/a/package.json",
            r#"{ "name": "a", "version": "1.0.0" }"#,
        ),
        (
            "packages/b/package.json",
            r#"{ "name": "b", "version": "1.0.0" }"#,
        ),
        ("packages/empty/README.md", "no manifest\n"),
        ("packages/x/README.md", "no manifest\n"),
    ];
    // npm and yarn read `workspaces`.
    let root = format!(r#"{{ "name": "root", "private": true, "workspaces": {entries} }}"#);
    let mut files: Vec<(&str, &str)> = vec![("package.json", &root), ("yarn.lock", "")];
    files.extend(common);
    let repo = repo_with(&files);
    let ours = member_dirs(&polyship_list(&repo));
    assert_eq!(ours, ["packages/a", "packages/b"]);
    let npm_dirs: Vec<String> = {
        let mut d: Vec<String> = npm_view(&repo)
            .iter()
            .filter_map(|l| l.split(" path=").nth(1))
            .map(|r| r.split(' ').next().unwrap_or_default().to_owned())
            .collect();
        d.sort();
        d
    };
    assert_eq!(ours, npm_dirs, "polyship (left) vs npm (right)");
    let yarn = support::npm_tool("@yarnpkg/cli-dist@4.18.1", "yarn");
    assert_eq!(
        ours,
        tool_members(&repo, &yarn, &["workspaces", "list", "--json"]),
        "polyship (left) vs yarn (right)"
    );
    // pnpm reads `pnpm-workspace.yaml`.
    let yaml = "packages:\n  - packages/a\n  - 'packages/x/test/units/_temp-fixtures'\n  - packages/empty\n  - 'packages/*'\n";
    let mut files: Vec<(&str, &str)> = vec![
        ("package.json", r#"{ "name": "root", "private": true }"#),
        ("pnpm-workspace.yaml", yaml),
    ];
    files.extend(common);
    let repo = repo_with(&files);
    let ours = member_dirs(&polyship_list(&repo));
    assert_eq!(ours, ["packages/a", "packages/b"]);
    let pnpm = support::npm_tool("pnpm@9.15.9", "pnpm");
    assert_eq!(
        ours,
        tool_members(&repo, &pnpm, &["ls", "-r", "--depth", "-1", "--json"]),
        "polyship (left) vs pnpm (right)"
    );
}

/// Prints `[from, name, type, spec]` for every edge npm's own tree (`@npmcli/arborist`, the
/// library inside npm, after `npm install`) draws from a workspace to a workspace.
const ARBORIST_EDGES: &str = r"
const Arborist = require(process.argv[1]);
new Arborist({ path: process.cwd() }).loadActual().then((tree) => {
  for (const [name, path] of tree.workspaces) {
    const node = [...tree.inventory.values()].find((n) => n.path === path && !n.isLink);
    for (const e of node.edgesOut.values()) {
      const to = e.to && (e.to.isLink ? e.to.target : e.to);
      if (to && tree.workspaces.get(to.packageName) === to.path) {
        console.log(JSON.stringify([name, e.name, e.type, e.spec]));
      }
    }
  }
});
";

/// npm's internal edges as `from -> dependency (kind, spec)`, after an offline `npm install`
/// that links the workspaces (the fixture has no dependency outside them).
fn npm_edges(repo: &Repo) -> Vec<String> {
    npm(repo, &["install", "--ignore-scripts"]);
    let root = npm(repo, &["root", "--global"]);
    let arborist = Path::new(root.trim()).join("npm/node_modules/@npmcli/arborist");
    assert!(
        arborist.exists(),
        "npm's arborist at {}",
        arborist.display()
    );
    let out = Command::new("node")
        .args(["-e", ARBORIST_EDGES])
        .arg(&arborist)
        .current_dir(repo.path())
        .output()
        .expect("run node");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut edges: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let [from, name, kind, spec]: [String; 4] =
                serde_json::from_str(l).expect("an edge line");
            // polyship has one peer kind; an optional peer is still a peer to release.
            let kind = match kind.as_str() {
                "prod" => "normal",
                "peerOptional" => "peer",
                k => k,
            };
            format!("{from} -> {name} ({kind}, {spec})")
        })
        .collect();
    edges.sort();
    edges
}

/// polyship's internal npm edges, kept as npm keeps them: one per dependency name, the last of
/// peer, normal, optional, dev winning (arborist's `Node#loadDeps` loads the kinds in that order,
/// each replacing the edge of the one before; a workspace's devDependencies are installed).
fn polyship_npm_edges(doc: &Value) -> Vec<String> {
    let rank = |kind: &str| {
        ["peer", "normal", "optional", "dev"]
            .iter()
            .position(|k| *k == kind)
    };
    let mut edges = Vec::new();
    for p in doc["packages"].as_array().expect("packages") {
        if p["ecosystem"] != "npm" || p["path"] == "." {
            continue;
        }
        let mut by_name = std::collections::BTreeMap::<&str, (&str, &str)>::new();
        for d in p["dependencies"].as_array().expect("dependencies") {
            let key = d["alias"].as_str().or(d["name"].as_str()).expect("name");
            let kind = d["kind"].as_str().expect("kind");
            let requirement = d["requirement"].as_str().unwrap_or("*");
            let replaces = by_name.get(key).is_none_or(|(k, _)| rank(kind) >= rank(k));
            if replaces {
                by_name.insert(key, (kind, requirement));
            }
        }
        let from = p["name"].as_str().expect("name");
        for (name, (kind, spec)) in by_name {
            edges.push(format!("{from} -> {name} ({kind}, {spec})"));
        }
    }
    edges.sort();
    edges
}

/// Issue 12: the dependency edges between workspaces, compared with npm's own tree — every kind
/// (dependencies, devDependencies, peer and optional peer, optionalDependencies), a name in two
/// kinds, `file:` links, prerelease and x-ranges, a private app and a tool outside `packages/`.
#[test]
fn npm_dependency_edges_match_npms_own_tree() {
    assert!(
        npm_available(),
        "`npm` is needed to compare with: install Node.js with npm, or run scripts/test"
    );
    let repo = repo_with(&[
        (
            "package.json",
            r#"{
  "name": "acme",
  "private": true,
  "workspaces": ["packages/*", "apps/*", "tools/lint"],
  "scripts": { "release": "changeset publish" },
  "devDependencies": { "@acme/core": "*" }
}
"#,
        ),
        (
            "packages/core/package.json",
            r#"{ "name": "@acme/core", "version": "1.2.0", "main": "dist/index.js", "files": ["dist"] }"#,
        ),
        (
            "packages/utils/package.json",
            r#"{
  "name": "@acme/utils",
  "version": "1.2.0",
  "dependencies": { "@acme/core": "^1.2.0" },
  "devDependencies": { "@acme/core": "^1.0.0", "@acme/lint": "file:../../tools/lint" }
}
"#,
        ),
        (
            "packages/react/package.json",
            r#"{
  "name": "@acme/react",
  "version": "0.3.0",
  "peerDependencies": { "@acme/core": ">=1", "@acme/utils": "^1" },
  "peerDependenciesMeta": { "@acme/utils": { "optional": true } },
  "devDependencies": { "@acme/core": "1.2.0" }
}
"#,
        ),
        (
            "packages/vue/package.json",
            r#"{
  "name": "@acme/vue",
  "version": "0.1.0",
  "peerDependencies": { "@acme/utils": "^1", "@acme/core": "^1" },
  "peerDependenciesMeta": { "@acme/utils": { "optional": true } },
  "optionalDependencies": { "@acme/core": "^1.2" }
}
"#,
        ),
        (
            "packages/cli/package.json",
            r#"{
  "name": "acme-cli",
  "version": "2.0.0-beta.1",
  "bin": { "acme": "bin/acme.js" },
  "dependencies": { "@acme/core": "1.x", "@acme/react": "^0.3.0" },
  "optionalDependencies": { "@acme/utils": "*" }
}
"#,
        ),
        (
            "apps/docs/package.json",
            r#"{ "name": "docs", "private": true, "dependencies": { "acme-cli": "^2.0.0-beta.1", "@acme/vue": "~0.1.0" } }"#,
        ),
        (
            "tools/lint/package.json",
            r#"{ "name": "@acme/lint", "version": "0.0.1", "private": true }"#,
        ),
    ]);
    let ours = polyship_npm_edges(&polyship_list(&repo));
    let theirs = npm_edges(&repo);
    assert!(theirs.len() > 8, "npm should see the edges: {theirs:?}");
    assert_eq!(
        ours, theirs,
        "internal edges: polyship (left) vs npm (right)"
    );
}
