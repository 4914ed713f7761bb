//! Credentials go only where they belong (issue 12): the npm token is never sent to a host a
//! package names for itself, no secret is copied into a file, and passwords in URLs and echoed
//! `Authorization` values never reach the screen. Registries here are stand-ins — a loopback
//! server that answers every request "not found" and records what it was sent — since what is
//! tested is what reaches them, not publishing.

#![allow(clippy::unwrap_used)]

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use support::Repo;

/// A loopback HTTP server that answers 404 to everything and keeps each request's head.
struct Recorder {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let keep = Arc::clone(&seen);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut head = String::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    head.push_str(&line);
                }
                keep.lock().unwrap().push(head);
                let body = "{\"error\":\"not found\"}";
                let _ = write!(
                    conn,
                    "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Self { port, seen }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    fn requests(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn npm_repo(configured: &Recorder, other: &Recorder) -> Repo {
    let repo = Repo::new()
        .file(
            "package.json",
            r#"{ "private": true, "workspaces": ["packages/*"] }"#,
        )
        .file(
            "packages/a/package.json",
            r#"{ "name": "a-secret-test", "version": "1.0.0" }"#,
        )
        .file(
            "packages/b/package.json",
            &format!(
                r#"{{ "name": "b-secret-test", "version": "1.0.0", "publishConfig": {{ "registry": "{}" }} }}"#,
                other.url()
            ),
        )
        .file(
            "polyship.toml",
            &format!("[publish.npm]\nregistry = \"{}\"\n", configured.url()),
        )
        .commit("chore: init");
    let bare = Repo::bare_dir();
    repo.git(&["init", "-q", "--bare", &bare.path().display().to_string()]);
    repo.git(&[
        "remote",
        "add",
        "origin",
        &bare.path().display().to_string(),
    ]);
    repo.git(&["push", "-q", "origin", "main"]);
    std::mem::forget(bare);
    repo
}

const TOKEN: &str = "npm_canaryTOKEN0123456789";

#[test]
fn the_npm_token_goes_only_to_the_configured_registry() {
    let (configured, other) = (Recorder::start(), Recorder::start());
    let repo = npm_repo(&configured, &other);
    let env = [("NPM_TOKEN".to_owned(), TOKEN.to_owned())];
    for args in [&["publish", "--dry-run"][..], &["publish"][..]] {
        let out = repo.run_env(repo.path(), args, &env);
        assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
        assert!(
            out.stderr.contains("no credential is configured for it"),
            "{}",
            out.stderr
        );
        assert!(!out.stderr.contains(TOKEN) && !out.stdout.contains(TOKEN));
    }
    assert!(!other.requests().is_empty(), "the other registry was asked");
    for head in other.requests() {
        assert!(
            !head.to_ascii_lowercase().contains("authorization"),
            "a credential went to a host it was not configured for:\n{head}"
        );
    }
    assert!(
        configured
            .requests()
            .iter()
            .any(|h| h.contains(&format!("Bearer {TOKEN}"))),
        "{:?}",
        configured.requests()
    );
    assert!(
        !repo.exists(".git/polyship/npmrc"),
        "a failed preflight writes no config"
    );
}

#[test]
fn a_token_written_out_in_the_users_npmrc_is_never_copied() {
    let (configured, other) = (Recorder::start(), Recorder::start());
    let repo = npm_repo(&configured, &other);
    // Only the configured registry's package: the token comes from the environment.
    repo.write(
        "packages/b/package.json",
        r#"{ "name": "b-secret-test", "version": "1.0.0" }"#,
    );
    repo.git(&["commit", "-qam", "chore: one registry"]);
    repo.git(&["push", "-q", "origin", "main"]);
    let home_npmrc = repo.join("../npmrc-home");
    std::fs::write(
        &home_npmrc,
        "//other.example/:_authToken=npm_literalSECRET999\ncolor=false\n",
    )
    .unwrap();
    let env = [
        ("NPM_TOKEN".to_owned(), TOKEN.to_owned()),
        (
            "NPM_CONFIG_USERCONFIG".to_owned(),
            home_npmrc.display().to_string(),
        ),
    ];
    let out = repo.run_env(repo.path(), &["publish"], &env);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("holds a token written out"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("npm_literalSECRET999"),
        "{}",
        out.stderr
    );
    assert!(!repo.exists(".git/polyship/npmrc"));
    let _ = std::fs::remove_file(home_npmrc);
}

#[test]
fn passwords_in_urls_never_reach_the_screen() {
    let repo = Repo::new()
        .file(
            "Cargo.toml",
            "[package]\nname = \"secret-url-test\"\nversion = \"1.0.0\"\npublish = [\"corp\"]\n",
        )
        .file("src/lib.rs", "")
        .commit("chore: init");
    let env = [
        (
            "CARGO_REGISTRIES_CORP_INDEX".to_owned(),
            "sparse+http://deploy:hunter2secret@127.0.0.1:9/index/".to_owned(),
        ),
        (
            "CARGO_REGISTRIES_CORP_TOKEN".to_owned(),
            "cargo_canary_0123".to_owned(),
        ),
    ];
    let out = repo.run_env(repo.path(), &["publish", "--dry-run", "--no-push"], &env);
    assert_ne!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("deploy:***@"), "{}", out.stderr);
    for text in [&out.stdout, &out.stderr] {
        assert!(
            !text.contains("hunter2secret") && !text.contains("cargo_canary_0123"),
            "{text}"
        );
    }
}
