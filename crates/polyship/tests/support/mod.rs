//! Test fixtures: real temporary git repositories and the real `polyship` binary.
//!
//! `Repo::new().file(..).commit(..)` builds a repository with pinned author and dates under an
//! isolated `HOME` and git configuration, so nothing from the machine leaks in. `run` executes the
//! built binary in it and returns exit code, stdout and stderr; `redact` makes output stable for
//! snapshots.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

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
    }

    /// Tags HEAD (lightweight).
    pub fn tag(self, name: &str) -> Self {
        self.git(&["tag", name]);
        self
    }

    /// A `git clone --depth <depth>` of this repository.
    pub fn shallow_clone(&self, depth: u32) -> Repo {
        let clone = Self::bare_dir();
        let url = format!("file://{}", self.path().display());
        let target = clone.path().to_string_lossy().into_owned();
        self.git(&[
            "clone",
            "-q",
            "--depth",
            &depth.to_string(),
            "--no-single-branch",
            &url,
            &target,
        ]);
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
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_polyship"));
        self.env(&mut cmd);
        let out = cmd
            .args(args)
            .current_dir(dir)
            .output()
            .expect("run polyship");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: self.redact(&String::from_utf8_lossy(&out.stdout)),
            stderr: self.redact(&String::from_utf8_lossy(&out.stderr)),
        }
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
