//! `polyship list` over real temporary git repositories: one case per discovery rule.

#![allow(clippy::unwrap_used)] // a failed unwrap in a test helper is a failed test

mod support;

use support::{Repo, edges, packages};

fn p(eco: &str, name: &str, version: &str, path: &str) -> (String, String, String, String) {
    (eco.into(), name.into(), version.into(), path.into())
}

const LIB: &str = "";

#[test]
fn cargo_workspace_follows_inheritance_renames_targets_and_kinds() {
    let repo = Repo::new()
        .file(
            "Cargo.toml",
            r#"[workspace]
members = ["crates/*", "tools/gen"]
exclude = ["crates/old"]

[workspace.package]
version = "2.1.0"
publish = false

[workspace.dependencies]
core = { package = "acme-core", path = "crates/core", version = "2.1.0" }
renamed-util = { package = "acme-util", path = "crates/util", version = "=2.1.0" }
serde = "1"
"#,
        )
        .file(
            "crates/core/Cargo.toml",
            "[package]\nname = \"acme-core\"\nversion.workspace = true\npublish = true\n\n[dependencies]\nserde.workspace = true\n",
        )
        .file("crates/core/src/lib.rs", LIB)
        .file(
            "crates/util/Cargo.toml",
            "[package]\nname = \"acme-util\"\nversion = \"0.3.0\"\npublish = [\"internal\"]\n",
        )
        .file("crates/util/src/lib.rs", LIB)
        .file(
            "crates/app/Cargo.toml",
            r#"[package]
name = "acme-app"
version.workspace = true
publish.workspace = true

[dependencies]
core = { workspace = true, optional = true, features = ["x"] }
renamed-util.workspace = true

[target.'cfg(windows)'.dependencies]
winonly = { path = "../winonly" }

[dev-dependencies]
gen = { package = "acme-gen", path = "../../tools/gen", version = "0.1" }

[build-dependencies.acme-util]
path = "../util"
"#,
        )
        .file("crates/app/src/main.rs", "fn main() {}")
        .file("crates/winonly/Cargo.toml", "[package]\nname = \"winonly\"\nversion = \"0.1.0\"\n")
        .file("crates/winonly/src/lib.rs", LIB)
        .file("crates/old/Cargo.toml", "[package]\nname = \"old\"\nversion = \"9.9.9\"\n")
        .file("tools/gen/Cargo.toml", "[package]\nname = \"acme-gen\"\n")
        .file("tools/gen/src/lib.rs", LIB)
        .commit("init");
    let doc = repo.run(&["list", "--json"]).json();
    assert_eq!(
        packages(&doc),
        [
            p("cargo", "acme-app", "2.1.0", "crates/app"),
            p("cargo", "acme-core", "2.1.0", "crates/core"),
            p("cargo", "acme-util", "0.3.0", "crates/util"),
            p("cargo", "winonly", "0.1.0", "crates/winonly"),
            p("cargo", "acme-gen", "0.0.0", "tools/gen"),
        ]
    );
    assert_eq!(
        edges(&doc),
        [
            "cargo:acme-app -> acme-core (normal, 2.1.0)",
            "cargo:acme-app -> acme-util (normal, =2.1.0)",
            "cargo:acme-app -> acme-gen (dev, 0.1)",
            "cargo:acme-app -> acme-util (build, -)",
            "cargo:acme-app -> winonly (normal, -)",
        ]
    );
    let app = &doc["packages"][0];
    assert_eq!(
        app["private"], true,
        "publish.workspace = true inherits publish = false"
    );
    let core_dep = &app["dependencies"][0];
    assert_eq!(core_dep["optional"], true);
    assert_eq!(core_dep["alias"], "core");
    // `workspace = true` requirements live in the root manifest: that is what a release rewrites.
    assert_eq!(core_dep["location"]["file"], "Cargo.toml");
    assert_eq!(
        core_dep["location"]["key"],
        serde_json::json!(["workspace", "dependencies", "core"])
    );
    assert_eq!(core_dep["location"]["line"], 10);
    assert_eq!(app["dependencies"][4]["target"], "cfg(windows)");
    assert_eq!(
        app["dependencies"][4]["location"]["key"],
        serde_json::json!(["target", "cfg(windows)", "dependencies", "winonly"])
    );
    assert_eq!(
        app["dependencies"][3]["location"]["key"],
        serde_json::json!(["build-dependencies", "acme-util"])
    );
    assert_eq!(app["version_source"]["kind"], "workspace");
    assert_eq!(
        doc["packages"][1]["private"], false,
        "an explicit publish = true wins"
    );
    assert_eq!(doc["packages"][2]["registry"], "internal");
    assert_eq!(
        doc["packages"][4]["private"], true,
        "a crate without a version is not published"
    );
}

#[test]
fn cargo_root_package_and_implicit_path_members() {
    let repo = Repo::new()
        .file(
            "Cargo.toml",
            "[package]\nname = \"root\"\nversion = \"1.0.0\"\n\n[workspace]\n\n[dependencies]\nhelper = { path = \"helper\" }\noutside = { path = \"../outside\" }\n",
        )
        .file("src/main.rs", "fn main() {}")
        .file("helper/Cargo.toml", "[package]\nname = \"helper\"\nversion = \"1.0.0\"\n\n[dependencies]\nleaf = { path = \"../leaf\", version = \"1\" }\n")
        .file("leaf/Cargo.toml", "[package]\nname = \"leaf\"\nversion = \"1.0.0\"\n")
        .commit("init");
    let doc = repo.run(&["list", "--json"]).json();
    assert_eq!(
        packages(&doc),
        [
            p("cargo", "root", "1.0.0", "."),
            p("cargo", "helper", "1.0.0", "helper"),
            p("cargo", "leaf", "1.0.0", "leaf"),
        ]
    );
    assert_eq!(
        edges(&doc),
        [
            "cargo:root -> helper (normal, -)",
            "cargo:helper -> leaf (normal, 1)"
        ]
    );
}

#[test]
fn standalone_crate_is_a_workspace_of_one() {
    let repo = Repo::new()
        .file("Cargo.toml", "[package]\nname = \"solo\"\nversion = \"0.2.0\"\n\n[dependencies]\nother = { path = \"other\" }\n")
        .file("other/Cargo.toml", "[package]\nname = \"other\"\nversion = \"1.0.0\"\n")
        .commit("init");
    let doc = repo.run(&["list", "--json"]).json();
    assert_eq!(packages(&doc), [p("cargo", "solo", "0.2.0", ".")]);
    assert!(edges(&doc).is_empty());
}

/// A JavaScript-first repository with its crates in a directory of their own (a Tauri app's
/// `src-tauri/`, a `rust/` workspace): no Cargo workspace at the root, so discovery says which
/// crates it does not read instead of leaving them out silently; a `[[package]]` entry brings
/// one in and `ignore` quiets the other. A deeper `Cargo.toml` (a test fixture) is not named.
#[test]
fn crates_below_a_root_without_a_cargo_workspace_are_named_not_skipped() {
    let repo = Repo::new()
        .file(
            "package.json",
            "{ \"name\": \"app\", \"version\": \"0.1.0\" }\n",
        )
        .file(
            "src-tauri/Cargo.toml",
            "[package]\nname = \"app\"\nversion = \"0.1.0\"\n",
        )
        .file("rust/Cargo.toml", "[workspace]\nmembers = [\"core\"]\n")
        .file(
            "rust/core/Cargo.toml",
            "[package]\nname = \"core\"\nversion = \"1.0.0\"\n",
        )
        .file(
            "tests/fixtures/x/Cargo.toml",
            "[package]\nname = \"fixture\"\nversion = \"9.9.9\"\n",
        )
        .commit("init");
    let out = repo.run(&["list", "--json"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert_eq!(packages(&out.json()), [p("npm", "app", "0.1.0", ".")]);
    for dir in ["src-tauri", "rust"] {
        assert!(
            out.stderr.contains(&format!(
                "`{dir}/Cargo.toml` is outside every Cargo workspace polyship reads"
            )) && out.stderr.contains(&format!("ignore = [\"{dir}\"]")),
            "{}",
            out.stderr
        );
    }
    assert!(!out.stderr.contains("rust/core"), "{}", out.stderr);
    assert!(!out.stderr.contains("fixtures"), "{}", out.stderr);

    repo.write(
        "polyship.toml",
        "ignore = [\"rust\"]\n\n[[package]]\npath = \"src-tauri\"\n",
    );
    let out = repo.run(&["list", "--json"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert_eq!(
        packages(&out.json()),
        [
            p("cargo", "app", "0.1.0", "src-tauri"),
            p("npm", "app", "0.1.0", ".")
        ]
    );
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
}

#[test]
fn a_path_dependency_whose_key_is_not_the_crate_name_warns() {
    let repo = Repo::new()
        .file("Cargo.toml", "[workspace]\nmembers = [\"a\", \"b\"]\n")
        .file("a/Cargo.toml", "[package]\nname = \"a\"\nversion = \"1.0.0\"\n[dependencies]\nbee = { path = \"../b\" }\n")
        .file("b/Cargo.toml", "[package]\nname = \"b\"\nversion = \"1.0.0\"\n")
        .commit("init");
    let out = repo.run(&["list", "--json"]);
    assert!(edges(&out.json()).is_empty());
    assert!(
        out.stderr.contains("add `package = \"b\"`"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_registry_dependency_named_like_a_member_is_not_internal() {
    let repo = Repo::new()
        .file("Cargo.toml", "[workspace]\nmembers = [\"a\", \"b\"]\n")
        .file(
            "a/Cargo.toml",
            "[package]\nname = \"a\"\nversion = \"1.0.0\"\n[dependencies]\nb = \"0.1\"\n",
        )
        .file(
            "b/Cargo.toml",
            "[package]\nname = \"b\"\nversion = \"1.0.0\"\n",
        )
        .commit("init");
    assert!(edges(&repo.run(&["list", "--json"]).json()).is_empty());
}

#[test]
fn npm_workspaces_array_with_every_dependency_kind_and_spec() {
    let repo = Repo::new()
        .file("package.json", r#"{ "name": "root", "private": true, "workspaces": ["packages/*", "apps/web"] }"#)
        .file("packages/a/package.json", r#"{ "name": "@acme/a", "version": "1.0.0" }"#)
        .file(
            "packages/b/package.json",
            r#"{
  "name": "@acme/b",
  "version": "2.0.0",
  "publishConfig": { "registry": "http://localhost:4873" },
  "dependencies": { "@acme/a": "workspace:^", "lodash": "^4" },
  "devDependencies": { "@acme/c": "workspace:*" },
  "peerDependencies": { "@acme/a": "^1.0.0" },
  "optionalDependencies": { "alias-a": "npm:@acme/a@^1" }
}"#,
        )
        .file("packages/c/package.json", r#"{ "name": "@acme/c", "version": "0.1.0", "private": true }"#)
        .file(
            "apps/web/package.json",
            r#"{ "name": "web", "dependencies": { "@acme/b": "file:../../packages/b", "@acme/c": "github:acme/c", "@acme/a": "link:../elsewhere" } }"#,
        )
        .file("apps/other/package.json", r#"{ "name": "not-a-member", "version": "1.0.0" }"#)
        .commit("init");
    let out = repo.run(&["list", "--json"]);
    let doc = out.json();
    assert_eq!(
        packages(&doc),
        [
            p("npm", "web", "-", "apps/web"),
            p("npm", "@acme/a", "1.0.0", "packages/a"),
            p("npm", "@acme/b", "2.0.0", "packages/b"),
            p("npm", "@acme/c", "0.1.0", "packages/c"),
        ]
    );
    assert_eq!(
        edges(&doc),
        [
            "npm:web -> @acme/b (normal, file:../../packages/b)",
            "npm:@acme/b -> @acme/a (normal, workspace:^)",
            "npm:@acme/b -> @acme/c (dev, workspace:*)",
            "npm:@acme/b -> @acme/a (peer, ^1.0.0)",
            "npm:@acme/b -> @acme/a (optional, npm:@acme/a@^1)",
        ]
    );
    let b = &doc["packages"][2];
    assert_eq!(b["registry"], "http://localhost:4873");
    assert_eq!(b["dependencies"][2]["location"]["line"], 7);
    assert_eq!(b["dependencies"][3]["alias"], "alias-a");
    assert_eq!(doc["packages"][3]["private"], true);
    assert!(
        out.stderr.contains("`@acme/a` at `apps/elsewhere`"),
        "a link: elsewhere is reported: {}",
        out.stderr
    );
}

#[test]
fn yarn_object_form_and_nested_globs() {
    let repo = Repo::new()
        .file("package.json", r#"{ "private": true, "workspaces": { "packages": ["libs/**"], "nohoist": ["**/x"] } }"#)
        .file("libs/a/package.json", r#"{ "name": "a", "version": "1.0.0" }"#)
        .file("libs/group/b/package.json", r#"{ "name": "b", "version": "1.0.0", "dependencies": { "a": "*" } }"#)
        .commit("init");
    let doc = repo.run(&["list", "--json"]).json();
    assert_eq!(
        packages(&doc),
        [
            p("npm", "a", "1.0.0", "libs/a"),
            p("npm", "b", "1.0.0", "libs/group/b")
        ]
    );
    assert_eq!(edges(&doc), ["npm:b -> a (normal, *)"]);
}

#[test]
fn pnpm_workspace_yaml_with_negations_wins_over_package_json() {
    let repo = Repo::new()
        .file("package.json", r#"{ "name": "root", "workspaces": ["ignored/*"] }"#)
        .file(
            "pnpm-workspace.yaml",
            "# the workspace\npackages:\n  - 'packages/*'\n  - \"tools/**\"\n  - '!**/fixtures/**'\ncatalog:\n  react: ^18\n",
        )
        .file("packages/a/package.json", r#"{ "name": "a", "version": "1.0.0" }"#)
        .file("tools/x/y/package.json", r#"{ "name": "y", "version": "3.0.0" }"#)
        .file("tools/fixtures/z/package.json", r#"{ "name": "z", "version": "1.0.0" }"#)
        .file("ignored/q/package.json", r#"{ "name": "q", "version": "1.0.0" }"#)
        .commit("init");
    let doc = repo.run(&["list", "--json"]).json();
    assert_eq!(
        packages(&doc),
        [
            p("npm", "a", "1.0.0", "packages/a"),
            p("npm", "y", "3.0.0", "tools/x/y")
        ]
    );
}

#[test]
fn lerna_packages_and_single_package_repositories() {
    let lerna = Repo::new()
        .file("package.json", r#"{ "name": "root", "private": true }"#)
        .file(
            "lerna.json",
            r#"{ "version": "independent", "packages": ["modules/*"] }"#,
        )
        .file(
            "modules/m/package.json",
            r#"{ "name": "m", "version": "1.0.0" }"#,
        )
        .commit("init");
    assert_eq!(
        packages(&lerna.run(&["list", "--json"]).json()),
        [p("npm", "m", "1.0.0", "modules/m")]
    );

    let single = Repo::new()
        .file(
            "package.json",
            "\u{feff}{\r\n  \"name\": \"solo\",\r\n  \"version\": \"4.0.0\"\r\n}\r\n",
        )
        .file(
            "test/fixture/package.json",
            r#"{ "name": "fixture", "version": "1.0.0" }"#,
        )
        .commit("init");
    assert_eq!(
        packages(&single.run(&["list", "--json"]).json()),
        [p("npm", "solo", "4.0.0", ".")]
    );
}

#[test]
fn npm_member_without_name_is_a_warning() {
    let repo = Repo::new()
        .file(
            "package.json",
            r#"{ "private": true, "workspaces": ["packages/*"] }"#,
        )
        .file("packages/a/package.json", r#"{ "version": "1.0.0" }"#)
        .commit("init");
    let out = repo.run(&["list", "--json"]);
    assert!(packages(&out.json()).is_empty());
    assert!(
        out.stderr
            .contains("warning: `packages/a/package.json` has no `name`"),
        "{}",
        out.stderr
    );
}

#[test]
fn python_pep621_poetry_maturin_and_uv() {
    let repo = Repo::new()
        .file(
            "pyproject.toml",
            "[project]\nname = \"Acme.Root\"\nversion = \"0.1.0\"\nclassifiers = [\"Private :: Do Not Upload\"]\n\n[tool.uv.workspace]\nmembers = [\"py/*\", \"scm\"]\nexclude = [\"py/skip\"]\n\n[tool.uv.sources]\nacme-lib = { workspace = true }\n",
        )
        .file(
            "py/lib/pyproject.toml",
            "[project]\nname = \"acme_lib\"\nversion = \"1.4.0\"\ndependencies = [\n  \"requests>=2\",\n  \"Acme-Native >=2.0 ; python_version >= '3.9'\",\n]\n\n[project.optional-dependencies]\ncli = [\"acme-poetry[extra]~=3.1\"]\n\n[dependency-groups]\ntest = [\"acme-root\", { include-group = \"lint\" }]\nlint = [\"ruff\"]\n",
        )
        .file(
            "py/poetry/pyproject.toml",
            "[tool.poetry]\nname = \"acme-poetry\"\nversion = \"3.1.0\"\n\n[tool.poetry.dependencies]\npython = \"^3.9\"\nacme-lib = { path = \"../lib\", develop = true }\n\n[tool.poetry.group.dev.dependencies]\nacme-root = \"^0.1\"\n",
        )
        .file("py/skip/pyproject.toml", "[tool.black]\nline-length = 100\n")
        .file(
            "native/pyproject.toml",
            "[build-system]\nrequires = [\"maturin>=1\"]\nbuild-backend = \"maturin\"\n\n[project]\nname = \"acme-native\"\ndynamic = [\"version\"]\n\n[tool.maturin]\nmanifest-path = \"rust/Cargo.toml\"\n",
        )
        .file("native/rust/Cargo.toml", "[package]\nname = \"acme-native-rs\"\nversion = \"2.2.0\"\n")
        .file("scm/pyproject.toml", "[build-system]\nbuild-backend = \"hatchling.build\"\n\n[project]\nname = \"scm-pkg\"\ndynamic = [\"version\"]\n")
        .commit("init");
    let doc = repo.run(&["list", "--json"]).json();
    assert_eq!(
        packages(&doc),
        [
            p("cargo", "acme-native-rs", "2.2.0", "native/rust"),
            p("python", "acme-root", "0.1.0", "."),
            p("python", "acme-native", "2.2.0", "native"),
            p("python", "acme-lib", "1.4.0", "py/lib"),
            p("python", "acme-poetry", "3.1.0", "py/poetry"),
            p("python", "scm-pkg", "-", "scm"),
        ]
    );
    assert_eq!(
        edges(&doc),
        [
            "python:acme-lib -> acme-native (normal, >=2.0)",
            "python:acme-lib -> acme-poetry (optional, ~=3.1)",
            "python:acme-lib -> acme-root (dev, -)",
            "python:acme-poetry -> acme-lib (normal, -)",
            "python:acme-poetry -> acme-root (dev, ^0.1)",
        ]
    );
    let root = &doc["packages"][1];
    assert_eq!(root["private"], true);
    let native = &doc["packages"][2];
    assert_eq!(
        native["version_source"],
        serde_json::json!({"kind": "linked", "ecosystem": "cargo", "name": "acme-native-rs"})
    );
    let lib = &doc["packages"][3];
    assert_eq!(
        lib["dependencies"][0]["location"]["key"],
        serde_json::json!(["project", "dependencies", "1"])
    );
    assert_eq!(lib["dependencies"][0]["location"]["line"], 6);
    assert_eq!(lib["dependencies"][1]["target"], "cli");
    assert_eq!(
        doc["packages"][5]["version_source"],
        serde_json::json!({"kind": "dynamic", "backend": "hatchling.build"})
    );
}

#[test]
fn one_directory_can_hold_packages_of_several_ecosystems() {
    let repo = Repo::new()
        .file("Cargo.toml", "[workspace]\nmembers = [\"bindings/*\"]\n")
        .file("bindings/node/Cargo.toml", "[package]\nname = \"acme-node\"\nversion = \"1.0.0\"\n")
        .file("bindings/node/package.json", r#"{ "name": "@acme/node", "version": "1.0.0" }"#)
        .file("bindings/py/Cargo.toml", "[package]\nname = \"acme-py\"\nversion = \"1.0.0\"\npublish = false\n")
        .file("bindings/py/pyproject.toml", "[build-system]\nbuild-backend = \"maturin\"\n[project]\nname = \"acme\"\ndynamic = [\"version\"]\n")
        .file("package.json", r#"{ "private": true, "workspaces": ["bindings/node"] }"#)
        .commit("init");
    let doc = repo.run(&["list", "--json"]).json();
    assert_eq!(
        packages(&doc),
        [
            p("cargo", "acme-node", "1.0.0", "bindings/node"),
            p("cargo", "acme-py", "1.0.0", "bindings/py"),
            p("npm", "@acme/node", "1.0.0", "bindings/node"),
            p("python", "acme", "1.0.0", "bindings/py"),
        ]
    );
    assert_eq!(doc["packages"][3]["version_source"]["name"], "acme-py");
    assert_eq!(
        doc["packages"][2]["version_source"]["kind"], "manifest",
        "napi packages keep their own version"
    );
}

#[test]
fn vendored_build_and_ignored_directories_are_never_packages() {
    let repo = Repo::new()
        .file(".gitignore", "/generated/\n")
        .file(
            "package.json",
            r#"{ "private": true, "workspaces": ["**"] }"#,
        )
        .file(
            "pkg/package.json",
            r#"{ "name": "pkg", "version": "1.0.0" }"#,
        )
        .file(
            "pkg/node_modules/dep/package.json",
            r#"{ "name": "dep", "version": "1.0.0" }"#,
        )
        .file(
            "target/debug/pyproject.toml",
            "[project]\nname = \"t\"\nversion = \"1\"\n",
        )
        .file(
            ".venv/lib/pyproject.toml",
            "[project]\nname = \"v\"\nversion = \"1\"\n",
        )
        .file(
            "generated/pyproject.toml",
            "[project]\nname = \"g\"\nversion = \"1\"\n",
        )
        .file(
            "fixtures/case/pyproject.toml",
            "[project]\nname = \"f\"\nversion = \"1\"\n",
        )
        .file("polyship.toml", "ignore = [\"fixtures\"]\n")
        .commit("init")
        // Not committed yet, but not ignored: a new package is a package.
        .file(
            "fresh/pyproject.toml",
            "[project]\nname = \"fresh\"\nversion = \"0.1.0\"\n",
        );
    let doc = repo.run(&["list", "--json"]).json();
    assert_eq!(
        packages(&doc),
        [
            p("npm", "pkg", "1.0.0", "pkg"),
            p("python", "fresh", "0.1.0", "fresh")
        ]
    );
}

#[test]
fn config_declares_packages_discovery_misses() {
    let repo = Repo::new()
        .file("polyship.toml", "[[package]]\npath = \"tools/legacy\"\n\n[[package]]\npath = \"./web/\"\necosystem = \"npm\"\n")
        .file("tools/legacy/Cargo.toml", "[package]\nname = \"legacy\"\nversion = \"0.9.0\"\n")
        .file("web/package.json", r#"{ "name": "web", "version": "1.1.0" }"#)
        .file("web/Cargo.toml", "[package]\nname = \"web-rs\"\nversion = \"1.0.0\"\n")
        .commit("init");
    let doc = repo.run(&["list", "--json"]).json();
    assert_eq!(
        packages(&doc),
        [
            p("cargo", "legacy", "0.9.0", "tools/legacy"),
            p("npm", "web", "1.1.0", "web")
        ]
    );
}

#[test]
fn directory_flag_finds_the_git_root_from_a_subdirectory() {
    let repo = Repo::new()
        .file("package.json", r#"{ "name": "solo", "version": "1.0.0" }"#)
        .file("deep/er/file.txt", "x")
        .commit("init");
    let from_sub = repo
        .run_in(&repo.join("deep/er"), &["list", "--json"])
        .json();
    let with_c = repo
        .run_in(
            std::env::temp_dir().as_path(),
            &["-C", repo.join("deep").to_str().unwrap(), "list", "--json"],
        )
        .json();
    assert_eq!(packages(&from_sub), [p("npm", "solo", "1.0.0", ".")]);
    assert_eq!(from_sub, with_c);
    let missing = repo.run(&["-C", "no/such/dir", "list"]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("failed to enter"),
        "{}",
        missing.stderr
    );
}

#[test]
fn outside_git_the_directory_is_the_root() {
    let dir = Repo::bare_dir().file("package.json", r#"{ "name": "solo", "version": "1.0.0" }"#);
    let out = dir.run(&["list", "--json"]);
    assert_eq!(packages(&out.json()), [p("npm", "solo", "1.0.0", ".")]);
    assert!(
        out.stderr.contains("is not in a git repository"),
        "{}",
        out.stderr
    );
    assert!(dir.run(&["-q", "list"]).stderr.is_empty());
}

fn graph_repo() -> Repo {
    Repo::new()
        .file(
            "package.json",
            r#"{ "private": true, "workspaces": ["p/*"] }"#,
        )
        .file(
            "p/app/package.json",
            r#"{ "name": "app", "version": "1.0.0", "dependencies": { "lib": "^1", "ui": "^1" } }"#,
        )
        .file(
            "p/lib/package.json",
            r#"{ "name": "lib", "version": "1.0.0", "devDependencies": { "app": "^1" } }"#,
        )
        .file(
            "p/ui/package.json",
            r#"{ "name": "ui", "version": "1.0.0", "peerDependencies": { "lib": "^1" } }"#,
        )
        .commit("init")
}

#[test]
fn graph_orders_dependencies_first_and_ignores_dev_cycles() {
    let repo = graph_repo();
    let out = repo.run(&["list", "--graph"]);
    insta::assert_snapshot!(out.snapshot());
    let doc = repo.run(&["list", "--graph", "--json"]).json();
    let order: Vec<&str> = doc["order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["lib", "ui", "app"]);
    assert!(repo.run(&["list", "--json"]).json().get("order").is_none());
}

#[test]
fn table_output() {
    let out = graph_repo().run(&["list"]);
    insta::assert_snapshot!(out.snapshot());
}

#[test]
fn normal_cycles_fail_the_graph_and_warn_the_list() {
    let repo = Repo::new()
        .file("Cargo.toml", "[workspace]\nmembers = [\"a\", \"b\"]\n")
        .file("a/Cargo.toml", "[package]\nname = \"a\"\nversion = \"1.0.0\"\n[dependencies]\nb = { path = \"../b\" }\n")
        .file("b/Cargo.toml", "[package]\nname = \"b\"\nversion = \"1.0.0\"\n[build-dependencies]\na = { path = \"../a\" }\n")
        .commit("init");
    let graph = repo.run(&["list", "--graph"]);
    insta::assert_snapshot!(graph.snapshot());
    let list = repo.run(&["list"]);
    assert_eq!(list.code, 0);
    assert!(
        list.stderr
            .contains("warning: dependency cycle: cargo:a → cargo:b → cargo:a"),
        "{}",
        list.stderr
    );
}

#[test]
fn json_document_shape() {
    let repo = Repo::new()
        .file(
            "Cargo.toml",
            "[package]\nname = \"solo\"\nversion = \"0.1.0\"\n",
        )
        .commit("init");
    insta::assert_snapshot!(repo.run(&["list", "--json"]).stdout);
}

#[test]
fn empty_repository_lists_nothing_and_says_so() {
    let out = Repo::new()
        .file("README.md", "hi")
        .commit("init")
        .run(&["list"]);
    assert_eq!((out.code, out.stdout.as_str()), (0, ""));
    assert!(out.stderr.contains("no packages found"), "{}", out.stderr);
}

#[test]
fn ignoring_the_crate_a_wheel_takes_its_version_from_warns() {
    let repo = Repo::new()
        .file(
            "native/pyproject.toml",
            "[build-system]\nbuild-backend = \"maturin\"\n[project]\nname = \"n\"\ndynamic = [\"version\"]\n[tool.maturin]\nmanifest-path = \"rust/Cargo.toml\"\n",
        )
        .file("native/rust/Cargo.toml", "[package]\nname = \"n-rs\"\nversion = \"3.0.0\"\n")
        .file("polyship.toml", "ignore = [\"native/rust\"]\n")
        .commit("init");
    let out = repo.run(&["list", "--json"]);
    assert_eq!(packages(&out.json()), [p("python", "n", "3.0.0", "native")]);
    assert!(
        out.stderr
            .contains("`python:n` takes its version from `cargo:n-rs`, which `ignore` leaves out"),
        "{}",
        out.stderr
    );
}

/// Issue 11: a Rust + Python repository shaped like uv. Its test fixtures hold dozens of
/// `pyproject.toml` files (two share a project name, one does not parse) and a dev-only
/// `scripts/benchmark` project; only the root maturin project and the crate-built wheel are
/// distributions, and `-v` says why of each file.
#[test]
fn python_distributions_follow_what_python_tools_build() {
    let repo = Repo::new()
        .file("Cargo.toml", "[workspace]\nmembers = [\"crates/*\"]\n")
        .file("crates/uv/Cargo.toml", "[package]\nname = \"uv\"\nversion = \"0.12.5\"\n")
        .file("crates/uv/pyproject.toml", "[tool.uv]\nno-build = false\n")
        .file("crates/uv-build/Cargo.toml", "[package]\nname = \"uv-build\"\nversion = \"0.12.5\"\n")
        .file(
            "crates/uv-build/pyproject.toml",
            "[project]\nname = \"uv-build\"\nversion = \"0.12.5\"\n\n[build-system]\nbuild-backend = \"maturin\"\n",
        )
        .file(
            "pyproject.toml",
            "[build-system]\nbuild-backend = \"maturin\"\n\n[project]\nname = \"uv\"\nversion = \"0.12.5\"\n\n[tool.maturin]\nmanifest-path = \"crates/uv/Cargo.toml\"\n",
        )
        .file(
            "scripts/benchmark/pyproject.toml",
            "[project]\nname = \"benchmark\"\nversion = \"0.0.1\"\n",
        )
        .file("test/ecosystem/pyx-a/pyproject.toml", "[project]\nname = \"pyx-ecosystem\"\nversion = \"1.0.0\"\n")
        .file("test/ecosystem/pyx-b/pyproject.toml", "[project]\nname = \"pyx-ecosystem\"\nversion = \"2.0.0\"\n")
        .file("test/broken/pyproject.toml", "[project\nname = ")
        .commit("init");
    let out = repo.run(&["list", "--json", "-v"]);
    let doc = out.json();
    let python: Vec<(String, String, String, String)> = packages(&doc)
        .into_iter()
        .filter(|p| p.0 == "python")
        .collect();
    assert_eq!(
        python,
        [
            p("python", "uv", "0.12.5", "."),
            p("python", "uv-build", "0.12.5", "crates/uv-build")
        ]
    );
    for needle in [
        "`pyproject.toml` is the Python distribution `uv`: the root project",
        "`crates/uv-build/pyproject.toml` is the Python distribution `uv-build`: a maturin project built from the crate at `crates/uv-build`",
        "`scripts/benchmark/pyproject.toml` is not a package: it is in a test, fixture, example, script, benchmark or docs directory",
        "`test/ecosystem/pyx-a/pyproject.toml` is not a package",
        "`crates/uv/pyproject.toml` is not a package",
    ] {
        assert!(
            out.stderr.contains(needle),
            "missing `{needle}` in:\n{}",
            out.stderr
        );
    }
}

/// Without a root project, uv workspace or maturin project, every project outside test, fixture,
/// example and script directories is a distribution.
#[test]
fn python_projects_without_a_workspace_are_taken_outside_test_directories() {
    let repo = Repo::new()
        .file(
            "libs/a/pyproject.toml",
            "[project]\nname = \"a\"\nversion = \"1.0.0\"\n",
        )
        .file(
            "libs/b/pyproject.toml",
            "[project]\nname = \"b\"\nversion = \"1.0.0\"\n",
        )
        .file(
            "libs/b/tests/fixtures/pyproject.toml",
            "[project]\nname = \"a\"\nversion = \"9.0.0\"\n",
        )
        .file(
            "examples/demo/pyproject.toml",
            "[project]\nname = \"demo\"\nversion = \"0.1.0\"\n",
        )
        .commit("init");
    let doc = repo.run(&["list", "--json"]).json();
    assert_eq!(
        packages(&doc),
        [
            p("python", "a", "1.0.0", "libs/a"),
            p("python", "b", "1.0.0", "libs/b")
        ]
    );
}
