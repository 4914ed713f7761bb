//! Registry reads against real local registries — Verdaccio, pypiserver and cargo-http-registry —
//! started by `scripts/registries` (which `scripts/test` sources). Packages are published with the
//! real `cargo`, `npm` and `twine`, then asked for.

#![allow(clippy::unwrap_used)] // a failed unwrap in a test is a failed test

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;

use polyship_core::release::registry::{
    Presence, Registries, Registry, RegistryError, agent, presence,
};
use polyship_core::workspace::Ecosystem;

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: these tests need the local registries; run `scripts/test`, or \
             `source scripts/registries` before `cargo test`"
        )
    })
}

fn registries() -> Registries {
    Registries::default()
        .with(
            Ecosystem::Cargo,
            Registry::new(var("POLYSHIP_TEST_CARGO_SPARSE")),
        )
        .with(
            Ecosystem::Npm,
            Registry::new(var("POLYSHIP_TEST_NPM_REGISTRY")),
        )
        .with(
            Ecosystem::Python,
            Registry::new(var("POLYSHIP_TEST_PYPI_URL")),
        )
}

/// Every ecosystem's registry at `base`.
fn all_at(base: &str) -> Registries {
    Ecosystem::ALL
        .into_iter()
        .fold(Registries::default(), |r, e| r.with(e, Registry::new(base)))
}

/// A name no earlier run used: the registries live as long as one `scripts/test`, but a developer
/// may run the tests twice against them.
fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}{}x{nanos}", std::process::id())
}

fn run(dir: &Path, program: &str, args: &[&str], env: &[(&str, &str)]) {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn sha256_hex(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn cargo_sparse_index() {
    let r = registries();
    let dir = tempfile::tempdir().unwrap();
    let name = unique("probe_");
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("src/lib.rs"), "").unwrap();
    std::fs::write(
        dir.path().join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"1.2.0\"\nedition = \"2021\"\ndescription = \"probe\"\nlicense = \"MIT\"\n"
        ),
    )
    .unwrap();
    let index = var("POLYSHIP_TEST_CARGO_INDEX");
    let env = [
        ("CARGO_REGISTRIES_LOCAL_INDEX", index.as_str()),
        ("CARGO_REGISTRIES_LOCAL_TOKEN", "unused-by-this-registry"),
        ("CARGO_TARGET_DIR", "target"),
    ];
    let args = ["--no-verify", "--allow-dirty", "--registry", "local"];
    run(
        dir.path(),
        "cargo",
        &[&["package"], &args[..]].concat(),
        &env,
    );
    run(
        dir.path(),
        "cargo",
        &[&["publish"], &args[..]].concat(),
        &env,
    );
    let crate_file = dir
        .path()
        .join(format!("target/package/{name}-1.2.0.crate"));
    let a = agent();
    assert_eq!(
        presence(&a, &r, Ecosystem::Cargo, &name, "1.2.0").unwrap(),
        Presence::Published {
            checksums: vec![sha256_hex(&crate_file)]
        }
    );
    assert_eq!(
        presence(&a, &r, Ecosystem::Cargo, &name, "1.2.1").unwrap(),
        Presence::Absent
    );
    assert_eq!(
        presence(&a, &r, Ecosystem::Cargo, &unique("none_"), "1.0.0").unwrap(),
        Presence::Absent
    );
}

#[test]
fn npm_packument_with_a_scoped_name() {
    let r = registries();
    let dir = tempfile::tempdir().unwrap();
    let name = format!("@acme/{}", unique("probe-"));
    std::fs::write(
        dir.path().join("package.json"),
        format!("{{ \"name\": \"{name}\", \"version\": \"2.0.0\" }}\n"),
    )
    .unwrap();
    let registry = var("POLYSHIP_TEST_NPM_REGISTRY");
    let host = registry.trim_start_matches("http:");
    std::fs::write(
        dir.path().join(".npmrc"),
        format!("{host}:_authToken=${{NPM_TOKEN}}\n"),
    )
    .unwrap();
    let token = var("POLYSHIP_TEST_NPM_TOKEN");
    run(
        dir.path(),
        "npm",
        &["publish", "--registry", &registry, "--access", "public"],
        &[("NPM_TOKEN", token.as_str())],
    );
    let a = agent();
    let Presence::Published { checksums } =
        presence(&a, &r, Ecosystem::Npm, &name, "2.0.0").unwrap()
    else {
        panic!("not published")
    };
    // The `integrity` and npm's sha1 `shasum`.
    assert_eq!(checksums.len(), 2, "{checksums:?}");
    let integrity = &checksums[0];
    assert!(integrity.starts_with("sha512-"), "{integrity}");
    assert_eq!(checksums[1].len(), 40, "{checksums:?}");
    assert_eq!(
        presence(&a, &r, Ecosystem::Npm, &name, "2.0.1").unwrap(),
        Presence::Absent
    );
    assert_eq!(
        presence(&a, &r, Ecosystem::Npm, "@acme/never-published", "1.0.0").unwrap(),
        Presence::Absent
    );
}

#[test]
fn python_simple_api() {
    let r = registries();
    let dir = tempfile::tempdir().unwrap();
    let name = unique("Acme.Probe_");
    std::fs::create_dir_all(dir.path().join("src/acme_probe")).unwrap();
    std::fs::write(dir.path().join("src/acme_probe/__init__.py"), "").unwrap();
    std::fs::write(
        dir.path().join("pyproject.toml"),
        format!(
            "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n\n[project]\nname = \"{name}\"\nversion = \"1.3.0rc1\"\n"
        ),
    )
    .unwrap();
    let python = var("POLYSHIP_TEST_PYTHON");
    run(
        dir.path(),
        &python,
        &["-m", "build", "--sdist", "--outdir", "dist", "."],
        &[],
    );
    let url = var("POLYSHIP_TEST_PYPI_URL");
    let (user, password) = (
        var("POLYSHIP_TEST_PYPI_USER"),
        var("POLYSHIP_TEST_PYPI_PASSWORD"),
    );
    let sdist = std::fs::read_dir(dir.path().join("dist"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    run(
        dir.path(),
        &python,
        &[
            "-m",
            "twine",
            "upload",
            "--non-interactive",
            "--disable-progress-bar",
            "--repository-url",
            &url,
            sdist.to_str().unwrap(),
        ],
        &[
            ("TWINE_USERNAME", user.as_str()),
            ("TWINE_PASSWORD", password.as_str()),
        ],
    );
    let a = agent();
    assert_eq!(
        presence(&a, &r, Ecosystem::Python, &name, "1.3.0rc1").unwrap(),
        Presence::Published {
            checksums: vec![sha256_hex(&sdist)]
        }
    );
    assert_eq!(
        presence(&a, &r, Ecosystem::Python, &name, "1.3.0").unwrap(),
        Presence::Absent
    );
    assert_eq!(
        presence(&a, &r, Ecosystem::Python, &unique("none-"), "1.0.0").unwrap(),
        Presence::Absent
    );
}

/// A server on loopback that answers every request with `status`, for the error paths.
fn failing_server(status: &'static str) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
        }
    });
    format!("http://{addr}/")
}

#[test]
fn other_answers_are_errors_never_guesses() {
    let a = agent();
    let base = failing_server("503 Service Unavailable");
    let r = all_at(&base);
    for eco in Ecosystem::ALL {
        let err = presence(&a, &r, eco, "acme", "1.0.0").unwrap_err();
        assert!(
            matches!(err, RegistryError::Status { status: 503, .. }),
            "{err}"
        );
    }
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let base = format!("http://127.0.0.1:{port}/");
    let down = all_at(&base);
    let err = presence(&a, &down, Ecosystem::Npm, "acme", "1.0.0").unwrap_err();
    assert!(matches!(err, RegistryError::Unreachable { .. }), "{err}");
}
