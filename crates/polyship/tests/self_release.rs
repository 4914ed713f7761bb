//! polyship releases itself: `polyship run release` on a clone of polyship's own repository, with
//! its own `polyship.toml` pointed at the local registries (Cargo, Verdaccio, pypiserver,
//! docker-registry) and the fake forge (GitHub's API cannot exist on a test machine). Then, from
//! those registries only, every way a user installs polyship: `npm install` and `npx`, `pip
//! install` into a fresh venv (the wheel, and one built from the sdist), `cargo install`,
//! `install.sh` from the forge release's assets, and `podman run` of the image. Each prints the
//! released version.
//!
//! The slowest test of the suite: the release builds polyship twice (the binary, and the wheel
//! maturin builds), pip builds it from the sdist, and `cargo install` builds it once more. Their
//! target directory lives with the test tools, so a second run on the same machine reuses the
//! builds.

#![allow(clippy::unwrap_used)] // a failed unwrap in a test is a failed test

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::Repo;
use support::fake_forge::{FakeForge, Kind};
use support::receiver::Receiver;

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: this test needs the local registries; run `scripts/test`, or `source scripts/registries` before `cargo test`")
    })
}

/// The repository polyship is built from.
fn own_repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn edit(repo: &Repo, path: &str, from: &str, to: &str) {
    let text = repo.read(path);
    assert!(text.contains(from), "`{path}` has no `{from}`");
    repo.write(path, &text.replacen(from, to, 1));
}

/// Runs `program` and returns its stdout; it must succeed.
fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What `polyship --version` prints once `pip install <args>` put polyship in a fresh venv at
/// `venv`.
fn pip_installed(venv: &Path, args: &[&str]) -> String {
    run_ok(Command::new("python3").args(["-m", "venv"]).arg(venv));
    run_ok(
        Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .args(args),
    );
    run_ok(Command::new(venv.join("bin/polyship")).arg("--version"))
}

/// The environment of the release, as CI gives it: credentials for each registry, the host's
/// toolchain, and a target directory of the test tools' that outlives the test.
fn release_env(forge_token: &str, webhook: &str) -> Vec<(String, String)> {
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let mut env: Vec<(String, String)> = [
        (
            "CARGO_REGISTRIES_LOCAL_INDEX",
            var("POLYSHIP_TEST_CARGO_INDEX"),
        ),
        (
            "CARGO_REGISTRIES_LOCAL_TOKEN",
            "cargo-self-release-token".into(),
        ),
        // The pipeline requires every secret it names; crates.io's is not used here.
        ("CARGO_REGISTRY_TOKEN", "crates-io-unused".into()),
        ("NPM_TOKEN", var("POLYSHIP_TEST_NPM_TOKEN")),
        ("TWINE_USERNAME", var("POLYSHIP_TEST_PYPI_USER")),
        ("TWINE_PASSWORD", var("POLYSHIP_TEST_PYPI_PASSWORD")),
        ("GITHUB_TOKEN", forge_token.into()),
        ("SLACK_WEBHOOK_URL", webhook.into()),
        (
            "CARGO_HOME",
            std::env::var("CARGO_HOME").unwrap_or_else(|_| format!("{home}/.cargo")),
        ),
        (
            "RUSTUP_HOME",
            std::env::var("RUSTUP_HOME").unwrap_or_else(|_| format!("{home}/.rustup")),
        ),
        ("CARGO_TARGET_DIR", target_dir().to_string_lossy().into()),
        // The image is `scratch` and the binary in it; built for a glibc target here (this
        // machine has no musl target), it must be static to start there.
        ("RUSTFLAGS", "-C target-feature=+crt-static".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    if let Ok(t) = std::env::var("RUSTUP_TOOLCHAIN") {
        env.push(("RUSTUP_TOOLCHAIN".into(), t));
    }
    for (name, value) in std::env::vars() {
        if name.starts_with("PIP_")
            || name.starts_with("SSL_")
            || name.ends_with("_proxy")
            || name.ends_with("_PROXY")
            || ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"].contains(&name.as_str())
        {
            env.push((name, value));
        }
    }
    env
}

/// The builds' target directory, kept between runs.
fn target_dir() -> PathBuf {
    support::tools_dir().join("self-release-target")
}

/// A clone of polyship's repository whose release goes to the local registries, with a bare
/// `origin`: only the registries, the forge and the image repository differ from the real file.
fn clone(forge: &FakeForge) -> (Repo, Repo) {
    let origin = Repo::bare_dir();
    let own = own_repository();
    origin.git(&["init", "-q", "--bare", &origin.path().to_string_lossy()]);
    let r = Repo::bare_dir();
    r.git(&[
        "clone",
        "-q",
        &own.to_string_lossy(),
        &r.path().to_string_lossy(),
    ]);
    r.git(&["checkout", "-q", "-B", "main"]);
    r.git(&[
        "remote",
        "set-url",
        "origin",
        &origin.path().to_string_lossy(),
    ]);
    edit(
        &r,
        "Cargo.toml",
        "polyship-core = { path = \"crates/polyship-core\", version = \"0.1.0\" }",
        "polyship-core = { path = \"crates/polyship-core\", version = \"0.1.0\", registry = \"local\" }",
    );
    for manifest in [
        "crates/polyship/Cargo.toml",
        "crates/polyship-core/Cargo.toml",
    ] {
        edit(
            &r,
            manifest,
            "[package]\n",
            "[package]\npublish = [\"local\"]\n",
        );
    }
    edit(
        &r,
        "polyship.toml",
        "repository = \"ghcr.io/polyship/polyship\"",
        &format!(
            "repository = \"{}/polyship/polyship\"",
            var("POLYSHIP_TEST_OCI_REGISTRY")
        ),
    );
    edit(
        &r,
        "polyship.toml",
        "[publish.forge]\nkind = \"github\"\n",
        &format!(
            r#"[publish]
timeout = 120

[publish.cargo]
index = "{sparse}"
verify = false

[publish.npm]
registry = "{npm}"

[publish.python]
command = "{python}"
index = "{pypi}"
upload = "{pypi}"

[publish.forge]
kind = "github"
api = "{api}"
"#,
            sparse = var("POLYSHIP_TEST_CARGO_SPARSE"),
            npm = var("POLYSHIP_TEST_NPM_REGISTRY"),
            python = var("POLYSHIP_TEST_PYTHON"),
            pypi = var("POLYSHIP_TEST_PYPI_URL"),
            api = forge.api_url(),
        ),
    );
    r.git(&["commit", "-qam", "chore: release to the local registries"]);
    r.git(&["push", "-q", "origin", "main"]);
    (r, origin)
}

/// The cells of the build matrices this machine cannot build: every target but the host's.
fn other_targets(r: &Repo) -> Vec<String> {
    let host = support::host();
    let config = polyship_core::config::parse(&r.read("polyship.toml")).unwrap();
    let mut skip = Vec::new();
    for step in &config.pipelines["release"].get_ref().steps {
        let step = step.get_ref();
        let Some(targets) = step
            .matrix
            .as_ref()
            .and_then(|m| m.get_ref().get("target"))
            .and_then(|t| t.as_array())
        else {
            continue;
        };
        for target in targets.iter().filter_map(|t| t.as_str()) {
            if target != host {
                skip.extend([
                    "--skip".to_owned(),
                    format!("{} ({target})", step.name.get_ref()),
                ]);
            }
        }
    }
    skip
}

#[test]
fn polyship_releases_itself_and_installs_from_every_channel() {
    let npm = var("POLYSHIP_TEST_NPM_REGISTRY");
    let token = "ghp_self_release_token";
    let forge = FakeForge::start(Kind::GitHub, token);
    let receiver = Receiver::start(200);
    let (r, _origin) = clone(&forge);
    // A version of its own, so that the registries of a longer-lived machine take it again.
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let version = format!("0.2.{secs}");
    let env = release_env(token, &receiver.url("services/T0/B0/X0"));

    let mut args: Vec<String> = [
        "run",
        "release",
        "--version",
        &version,
        "--skip",
        "gates",
        "-j",
        "2",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    args.extend(other_targets(&r));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = r.run_env(r.path(), &args, &env);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let journal = r.run_env(r.path(), &["run", "release", "--status", "--json"], &env);
    let states = support::step_states(&journal.json());
    for step in [
        "version", "archive", "image", "publish", "assets", "verify", "announce",
    ] {
        assert!(
            states
                .iter()
                .any(|(s, state)| s == step && state == "succeeded"),
            "{step}: {states:?}"
        );
    }
    assert_eq!(
        r.git(&["log", "-1", "--format=%s"]).trim(),
        format!("chore(release): polyship-core@{version}, polyship@{version}")
    );
    let announced = receiver.bodies();
    assert_eq!(announced.len(), 1, "{announced:?}");
    assert!(
        announced[0].1["text"]
            .as_str()
            .unwrap()
            .starts_with("release succeeded"),
        "{announced:?}"
    );

    let expected = format!("polyship {version}");
    let tmp = tempfile::tempdir().unwrap();

    // npm: the launcher and this platform's package, from Verdaccio.
    let project = tmp.path().join("npm-project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(
        project.join("package.json"),
        "{ \"name\": \"user\", \"private\": true }\n",
    )
    .unwrap();
    run_ok(
        Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--registry", &npm])
            .arg(format!("polyship@{version}"))
            .current_dir(&project),
    );
    let printed = run_ok(
        Command::new("npx")
            .args(["--no-install", "polyship", "--version"])
            .current_dir(&project),
    );
    assert!(printed.starts_with(&expected), "npx: {printed}");

    // PyPI: the wheel into a fresh venv puts `polyship` on its PATH.
    let printed = pip_installed(
        &tmp.path().join("venv"),
        &[
            "--index-url",
            &format!("{}simple/", var("POLYSHIP_TEST_PYPI_URL")),
            &format!("polyship=={version}"),
        ],
    );
    assert!(printed.starts_with(&expected), "pip: {printed}");
    // Beside the wheel, the sdist that builds polyship from source with Rust, both crates in it.
    let index = run_ok(
        Command::new("curl")
            .arg("-fsSL")
            .arg(format!("{}simple/polyship/", var("POLYSHIP_TEST_PYPI_URL"))),
    );
    assert!(
        index.contains(&format!("polyship-{version}.tar.gz")),
        "{index}"
    );
    // pip builds a wheel from it where no wheel fits (maturin from the test tools' Python; the
    // builds' target directory and flags, so only the two crates compile again).
    let built = tmp.path().join("from-sdist");
    run_ok(
        Command::new(var("POLYSHIP_TEST_PYTHON"))
            .args([
                "-m",
                "pip",
                "wheel",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
                "--no-build-isolation",
                "--no-binary",
                "polyship",
                "--index-url",
            ])
            .arg(format!("{}simple/", var("POLYSHIP_TEST_PYPI_URL")))
            .arg("--wheel-dir")
            .arg(&built)
            .arg(format!("polyship=={version}"))
            .env("CARGO_TARGET_DIR", target_dir())
            .env("RUSTFLAGS", "-C target-feature=+crt-static")
            // As the `wheel` step built: for the named host target, so that its builds are reused
            // (and proc macros are built apart from the static flags).
            .env("CARGO_BUILD_TARGET", support::host())
            // The clone names `registry = "local"` on polyship-core (the real file names none).
            .env(
                "CARGO_REGISTRIES_LOCAL_INDEX",
                var("POLYSHIP_TEST_CARGO_INDEX"),
            )
            // maturin's build hook runs the `maturin` beside that Python.
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    Path::new(&var("POLYSHIP_TEST_PYTHON"))
                        .parent()
                        .unwrap()
                        .display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            ),
    );
    let from_source = std::fs::read_dir(&built)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .unwrap_or_else(|| panic!("pip built no wheel from the sdist in {}", built.display()));
    let printed = pip_installed(
        &tmp.path().join("venv-from-source"),
        &["--no-index", &from_source.to_string_lossy()],
    );
    assert!(printed.starts_with(&expected), "sdist: {printed}");

    // The forge release: its `install.sh` downloads the archive, checks it against SHA256SUMS
    // and installs it.
    let download = format!("{}polyship/polyship/releases/download", forge.api_url());
    let script = tmp.path().join("install.sh");
    run_ok(
        Command::new("curl")
            .args(["-fsSL", "-o"])
            .arg(&script)
            .arg(format!("{download}/v{version}/install.sh")),
    );
    assert_eq!(
        std::fs::read_to_string(&script).unwrap(),
        r.read("install.sh")
    );
    let bin = tmp.path().join("bin");
    run_ok(
        Command::new("sh")
            .arg(&script)
            .env("POLYSHIP_VERSION", &version)
            .env("POLYSHIP_INSTALL_DIR", &bin)
            .env("POLYSHIP_DOWNLOAD_URL", &download),
    );
    let printed = run_ok(Command::new(bin.join("polyship")).arg("--version"));
    assert!(printed.starts_with(&expected), "install.sh: {printed}");

    // The image, pulled from the registry by podman.
    let (conf, _) = support::podman_busybox();
    let reference = format!(
        "{}/polyship/polyship:{version}",
        var("POLYSHIP_TEST_OCI_REGISTRY")
    );
    let printed = run_ok(
        Command::new("podman")
            .args(["run", "--rm", "--tls-verify=false", &reference, "--version"])
            .env("CONTAINERS_CONF", &conf),
    );
    assert!(printed.starts_with(&expected), "podman: {printed}");

    // crates.io's channel: `cargo install` from the registry, polyship-core with it.
    let root = tmp.path().join("cargo-root");
    let mut install = Command::new("cargo");
    install
        .args([
            "install",
            "--quiet",
            "--locked",
            "--debug",
            "--registry",
            "local",
            "polyship",
            "--version",
        ])
        .arg(format!("={version}"))
        .arg("--root")
        .arg(&root)
        .arg("--target-dir")
        .arg(target_dir())
        .env(
            "CARGO_REGISTRIES_LOCAL_INDEX",
            var("POLYSHIP_TEST_CARGO_INDEX"),
        )
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR");
    run_ok(&mut install);
    let printed = run_ok(Command::new(root.join("bin/polyship")).arg("--version"));
    assert_eq!(printed.trim(), expected, "cargo install");
}
