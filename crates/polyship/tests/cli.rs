//! What a user expects of any command-line tool: `--version` naming the commit, completion
//! scripts every shell accepts, man pages, a JSON document from every command that reports,
//! and flags that refuse nonsense.

#![allow(clippy::unwrap_used)] // a failed unwrap in a test is a failed test

mod support;

use std::process::Command;

use support::Repo;

fn polyship(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_polyship"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let out = polyship(&["--version"]);
    assert!(out.status.success());
    let line = text(&out.stdout);
    let version = env!("CARGO_PKG_VERSION");
    assert!(line.starts_with(&format!("polyship {version}")), "{line}");
    // Built from polyship's own repository: `(<commit> <date>)`, the commit a prefix of HEAD's.
    let head = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    if head.status.success() {
        let head = text(&head.stdout).trim().to_owned();
        let inside = line
            .split_once('(')
            .and_then(|(_, r)| r.split_once(')'))
            .map_or_else(|| panic!("no commit in {line}"), |(c, _)| c.to_owned());
        let (commit, date) = inside.split_once(' ').unwrap();
        assert!(
            commit.len() >= 9 && head.starts_with(commit),
            "{line} vs {head}"
        );
        assert_eq!(date.len(), 10, "{line}");
    }
    // Every command says the same.
    let sub = polyship(&["plan", "--version"]);
    assert_eq!(
        text(&sub.stdout).trim(),
        line.trim().replace("polyship", "polyship-plan")
    );
}

#[test]
fn completion_scripts_are_accepted_by_their_shells() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = polyship(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        assert!(script.contains("polyship"), "{shell}");
        // Every command is offered.
        for command in ["release-pr", "lint-commits", "publish", "completions"] {
            assert!(script.contains(command), "{shell} lacks {command}");
        }
        let syntax_check = match shell {
            "bash" => Some(("bash", vec!["-n"])),
            "zsh" => Some(("zsh", vec!["-n"])),
            "fish" => Some(("fish", vec!["--no-execute"])),
            _ => None,
        };
        let Some((program, args)) = syntax_check else {
            continue;
        };
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &script).unwrap();
        match Command::new(program).args(&args).arg(file.path()).output() {
            Ok(checked) => assert!(
                checked.status.success(),
                "{program} rejects the script: {}",
                text(&checked.stderr)
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                assert_ne!(shell, "bash", "bash is on every machine the suite runs on");
            }
            Err(e) => panic!("{program}: {e}"),
        }
    }
    // Loaded into bash, `polyship <TAB>` completes the commands.
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source <('{}' completions bash); COMP_WORDS=(polyship rel); COMP_CWORD=1; _polyship polyship rel polyship; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            env!("CARGO_BIN_EXE_polyship")
        ))
        .output()
        .unwrap();
    assert_eq!(
        text(&out.stdout).trim(),
        "release-pr",
        "{}",
        text(&out.stderr)
    );
    let bad = polyship(&["completions", "tcsh"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("possible values"),
        "{}",
        text(&bad.stderr)
    );
}

#[test]
fn man_pages_cover_every_command() {
    let out = polyship(&["man"]);
    assert!(out.status.success());
    let page = text(&out.stdout);
    assert!(page.contains(".TH polyship 1"), "{page}");
    assert!(page.contains("release\\-pr"), "{page}");
    let dir = tempfile::tempdir().unwrap();
    let out = polyship(&["man", "--out", &dir.path().to_string_lossy()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut pages: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    for command in [
        "add",
        "artifacts",
        "ci",
        "init",
        "lint-commits",
        "list",
        "plan",
        "publish",
        "release-pr",
        "run",
        "status",
        "version",
    ] {
        assert!(
            pages.contains(&format!("polyship-{command}.1")),
            "{command}: {pages:?}"
        );
    }
    let run = std::fs::read_to_string(dir.path().join("polyship-run.1")).unwrap();
    assert!(run.contains(".TH polyship-run 1"), "{run}");
    assert!(run.contains("\\-\\-from\\-artifacts"), "{run}");
    // groff, where it is installed, formats the page without a warning.
    if let Ok(formatted) = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .arg(dir.path().join("polyship-run.1"))
        .output()
    {
        assert!(
            formatted.status.success() && formatted.stderr.is_empty(),
            "{}",
            text(&formatted.stderr)
        );
    }
}

fn npm_repo() -> Repo {
    Repo::new()
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
            "{ \"name\": \"b\", \"version\": \"0.2.0\", \"dependencies\": { \"a\": \"^1.0.0\" } }\n",
        )
        .file(".changeset/config.json", "{}\n")
        .commit("feat: packages")
}

#[test]
fn every_command_that_reports_prints_one_json_document() {
    let r = npm_repo();
    // add
    let out = r.run(&["add", "-p", "a:minor", "-m", "Faster parsing.", "--json"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let doc = out.json();
    assert_eq!(doc["schema"], 1);
    let path = doc["path"].as_str().unwrap().to_owned();
    assert!(
        path.starts_with(".changeset/") && r.exists(&path),
        "{doc:#}"
    );
    assert_eq!(doc["releases"][0]["name"], "a");
    assert_eq!(doc["releases"][0]["bump"], "minor");
    assert_eq!(doc["summary"], "Faster parsing.");
    r.git(&["add", "-A"]);
    r.git(&["commit", "-qm", "docs: changeset"]);

    // version --dry-run, then version
    let out = r.run(&["version", "--dry-run", "--json"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let doc = out.json();
    assert_eq!(
        (doc["dry_run"].as_bool(), doc["outcome"].as_str()),
        (Some(true), Some("nothing"))
    );
    assert!(doc["commit"].is_null());
    let head = r.git(&["rev-parse", "HEAD"]);
    let out = r.run(&["version", "--json"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let doc = out.json();
    assert_eq!(doc["outcome"], "committed");
    let releases: Vec<(String, String, String)> = doc["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_owned(),
                r["from"].as_str().unwrap().to_owned(),
                r["to"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    // b's `^1.0.0` still takes a 1.1.0: b is not released (changesets' rule).
    assert_eq!(
        releases,
        [("a".to_owned(), "1.0.0".to_owned(), "1.1.0".to_owned())]
    );
    let new_head = r.git(&["rev-parse", "HEAD"]);
    assert_ne!(head, new_head);
    assert_eq!(doc["commit"].as_str(), Some(new_head.trim()));
    let files: Vec<&str> = doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(
        files.contains(&"packages/a/package.json") && files.contains(&path.as_str()),
        "{files:?}"
    );
    let out = r.run(&["version", "--json"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert_eq!(out.json()["outcome"], "nothing");

    // lint-commits: problems in the document, exit 1
    r.write("x.txt", "x\n");
    r.git(&["add", "-A"]);
    r.git(&["commit", "-qm", "did stuff"]);
    let out = r.run(&["lint-commits", "HEAD~1..HEAD", "--json"]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        (doc["schema"].as_u64(), doc["checked"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(doc["range"], "HEAD~1..HEAD");
    assert_eq!(doc["problems"][0]["header"], "did stuff");
    let out = r.run(&["lint-commits", "HEAD~2..HEAD~1", "--json"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert_eq!(out.json()["problems"], serde_json::json!([]));

    // init, init --pipeline, init --hooks
    let out = r.run(&["init", "--json"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let doc = out.json();
    assert_eq!(
        (doc["action"].as_str(), doc["packages"].as_u64()),
        (Some("created"), Some(2))
    );
    assert!(doc["path"].as_str().unwrap().ends_with("polyship.toml"));
    let out = r.run(&["init", "--pipeline", "--json"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert_eq!(out.json()["action"], "pipeline-added");
    let out = r.run(&["init", "--hooks", "--json"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let doc = out.json();
    assert_eq!(doc["action"], "hook-installed");
    assert!(doc["packages"].is_null());

    // publish --status without a journal
    let out = r.run(&["publish", "--status", "--json"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert_eq!(
        out.json(),
        serde_json::json!({ "schema": 1, "release": null })
    );
}

#[test]
fn zero_jobs_is_refused() {
    let r = npm_repo();
    for command in [
        &["publish", "--dry-run", "--jobs", "0"][..],
        &["run", "release", "-j", "0"],
    ] {
        let out = r.run(command);
        assert_eq!(out.code, 2, "{}", out.snapshot());
        assert!(
            out.stderr.contains("0 jobs run nothing: give at least 1"),
            "{}",
            out.stderr
        );
    }
}

/// The repository polyship is built from.
fn own_repository() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

#[test]
fn polyships_own_configuration_reads_and_its_workflow_is_up_to_date() {
    let root = own_repository();
    let root_arg = root.to_string_lossy().into_owned();
    let out = polyship(&["-C", &root_arg, "list", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut packages: Vec<String> = doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{}:{}",
                p["ecosystem"].as_str().unwrap(),
                p["name"].as_str().unwrap()
            )
        })
        .collect();
    packages.sort();
    assert_eq!(
        packages,
        [
            "cargo:polyship",
            "cargo:polyship-core",
            "npm:polyship",
            "python:polyship"
        ]
    );
    // The committed workflow is what the pipeline makes.
    let out = polyship(&["-C", &root_arg, "ci", "github", "--check"]);
    assert!(
        out.status.success(),
        "run `polyship ci github` after changing the pipeline: {}",
        text(&out.stderr)
    );
    let out = polyship(&["-C", &root_arg, "run", "release", "--dry-run", "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&out.stderr)));
    let steps: Vec<&str> = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    for step in [
        "fmt",
        "clippy",
        "test",
        "version",
        "build (x86_64-unknown-linux-gnu)",
        "build (aarch64-apple-darwin)",
        "build (x86_64-pc-windows-msvc)",
        "wheel (x86_64-unknown-linux-gnu)",
        "archive",
        "image",
        "publish",
        "assets",
        "verify",
        "announce",
    ] {
        assert!(steps.contains(&step), "{step}: {steps:?}");
    }
    // The launcher lists exactly the platform packages the build matrix makes, and every Linux
    // platform has a static (musl) build for the `scratch` image.
    let config =
        polyship_core::config::parse(&std::fs::read_to_string(root.join("polyship.toml")).unwrap())
            .unwrap();
    let build = config.pipelines["release"]
        .get_ref()
        .steps
        .iter()
        .find_map(|s| Some(s.get_ref()).filter(|s| s.name.get_ref() == "build"))
        .unwrap();
    let targets: Vec<String> = build.matrix.as_ref().unwrap().get_ref()["target"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .collect();
    let binary = &config.publish.npm.binaries[0];
    let mut made: Vec<String> = targets
        .iter()
        .map(|t| {
            let p = polyship_core::artifacts::npm::platform(t).unwrap();
            polyship_core::artifacts::npm::name(binary.name_template(), "polyship", p)
        })
        .collect();
    made.sort();
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("npm/polyship/package.json")).unwrap(),
    )
    .unwrap();
    let mut listed: Vec<String> = manifest["optionalDependencies"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    listed.sort();
    assert_eq!(listed, made);
    for t in targets.iter().filter(|t| t.contains("-linux-")) {
        let arch = t.split('-').next().unwrap();
        assert!(
            targets.contains(&format!("{arch}-unknown-linux-musl")),
            "{t} has no musl build for the image"
        );
    }
}

#[test]
fn the_npm_launcher_names_the_platform_it_has_no_binary_for() {
    let launcher = own_repository().join("npm/polyship/bin/polyship.js");
    // Copied where no platform package is installed.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("polyship.js");
    std::fs::copy(&launcher, &copy).unwrap();
    let Ok(out) = Command::new("node").arg(&copy).arg("--version").output() else {
        panic!("node is on every machine the suite runs on");
    };
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let arch = match std::env::consts::ARCH {
        "x86_64" => "x64",
        "aarch64" => "arm64",
        other => other,
    };
    assert!(
        stderr.contains(&format!(
            "no prebuilt polyship for {}-{arch}",
            std::env::consts::OS
        )) && stderr.contains("cargo install polyship"),
        "{stderr}"
    );
    assert!(!stderr.contains("    at "), "a stack trace: {stderr}");
    // POLYSHIP_BINARY runs a binary of one's own through it, with its exit code.
    let out = Command::new("node")
        .arg(&copy)
        .arg("--version")
        .env("POLYSHIP_BINARY", env!("CARGO_BIN_EXE_polyship"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("polyship "));
    let out = Command::new("node")
        .arg(&copy)
        .args(["completions", "nosuchshell"])
        .env("POLYSHIP_BINARY", env!("CARGO_BIN_EXE_polyship"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// The fenced `toml` blocks of a Markdown file.
fn toml_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match current.as_mut() {
            None if line.trim_start().starts_with("```toml") => current = Some(String::new()),
            Some(_) if line.trim_start().starts_with("```") => blocks.extend(current.take()),
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    blocks
}

#[test]
fn the_config_schema_is_published_and_agrees_with_polyship() {
    let root = own_repository();
    let out = polyship(&["config", "schema"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let published = root.join("docs/polyship.schema.json");
    assert_eq!(
        text(&out.stdout),
        std::fs::read_to_string(&published).unwrap(),
        "docs/polyship.schema.json is out of date: polyship config schema > docs/polyship.schema.json"
    );
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("schema.json");
    std::fs::write(&schema, &out.stdout).unwrap();

    // What polyship reads: its own file, the examples of the docs, and what `init` writes.
    let mut accepted = vec![std::fs::read_to_string(root.join("polyship.toml")).unwrap()];
    for page in std::fs::read_dir(root.join("docs")).unwrap() {
        let page = page.unwrap().path();
        if page.extension().is_some_and(|e| e == "md") {
            let blocks = toml_blocks(&std::fs::read_to_string(&page).unwrap());
            // Only the blocks that are whole polyship.toml files (not Cargo.toml snippets).
            accepted.extend(
                blocks
                    .into_iter()
                    .filter(|b| polyship_core::config::parse(b).is_ok()),
            );
        }
    }
    let r = npm_repo();
    for args in [&["init"][..], &["init", "--pipeline"][..]] {
        let out = r.run(args);
        assert_eq!(out.code, 0, "{}", out.snapshot());
        accepted.push(r.read("polyship.toml"));
    }
    assert!(accepted.len() >= 6, "{} files", accepted.len());
    // What polyship refuses, each for a reason a schema can tell.
    let refused = [
        "colour = true\n",
        "[[group]]\nkind = \"fixd\"\npackages = [\"a\"]\n",
        "[publish.cargo]\nverify = \"yes\"\n",
        "[pipeline.release]\n[[pipeline.release.step]]\nname = \"x\"\nrunn = \"true\"\n",
        "[changes]\nsources = [\"changeset\"]\n",
        "[[package]]\necosystem = \"cargo\"\n",
    ];
    let check = support::pip_tool("check-jsonschema==0.39.0", "check-jsonschema");
    let site = check.parent().unwrap().parent().unwrap().to_owned();
    let validate = |name: &str, text: &str| {
        let file = dir.path().join(format!("{name}.toml"));
        std::fs::write(&file, text).unwrap();
        Command::new(&check)
            .arg("--schemafile")
            .arg(&schema)
            .arg(&file)
            .env("PYTHONPATH", &site)
            .output()
            .unwrap()
    };
    for (i, file) in accepted.iter().enumerate() {
        polyship_core::config::parse(file).unwrap();
        let out = validate(&format!("accepted-{i}"), file);
        assert!(
            out.status.success(),
            "{file}\n{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
    for (i, file) in refused.iter().enumerate() {
        assert!(polyship_core::config::parse(file).is_err(), "{file}");
        let out = validate(&format!("refused-{i}"), file);
        assert_eq!(out.status.code(), Some(1), "{file}\n{}", text(&out.stdout));
        assert!(
            text(&out.stdout).contains("Schema validation errors"),
            "{}",
            text(&out.stdout)
        );
    }
}
