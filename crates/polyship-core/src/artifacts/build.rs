//! `build`: a Cargo package's binaries for one target, with `cargo`, `cargo zigbuild` or `cross`,
//! or with the user's own command that names the files it makes.
//!
//! Preflight comes first and answers before anything is compiled: the builder is installed, the
//! target is one `rustc` knows, its standard library is installed (else `rustup target add`), and
//! a cross-compiling `cargo` has a linker for it. A target that cannot be built here is an error
//! then, not after an hour. The binaries are copied into the artifact store with their checksums;
//! the build's record is written last, so a build that failed or was killed leaves no record and no
//! later step takes its half.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::workspace::Ecosystem;

use super::{BUILD_RECORD, Binary, Build, Store, archive::sha256_hex};

/// Which tool builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Builder {
    Cargo,
    /// `cargo zigbuild`: cross-linking with zig, glibc versions as `<target>.2.17`.
    Zigbuild,
    /// `cross build`: a container per target.
    Cross,
    /// `cargo build` in a container image of the user's (`Request::container`): the toolchain,
    /// the target's standard library and linker, and the C library it links against are the
    /// image's (an old glibc, musl, a cross toolchain).
    Container,
}

impl Builder {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "cargo" => Some(Builder::Cargo),
            "zigbuild" => Some(Builder::Zigbuild),
            "cross" => Some(Builder::Cross),
            "container" => Some(Builder::Container),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Builder::Cargo => "cargo",
            Builder::Zigbuild => "zigbuild",
            Builder::Cross => "cross",
            Builder::Container => "container",
        }
    }

    /// The program and the arguments before `build`'s own.
    fn command(self) -> (&'static str, &'static [&'static str]) {
        match self {
            Builder::Cargo | Builder::Container => ("cargo", &["build"]),
            Builder::Zigbuild => ("cargo", &["zigbuild"]),
            Builder::Cross => ("cross", &["build"]),
        }
    }
}

/// What to build.
#[derive(Debug, Clone)]
pub struct Request {
    /// The Cargo package; `None`: the one package of the workspace with binaries.
    pub package: Option<String>,
    /// `None`: the host.
    pub target: Option<String>,
    pub builder: Builder,
    /// The binaries; empty: every binary of the package.
    pub bins: Vec<String>,
    pub features: Vec<String>,
    pub all_features: bool,
    pub no_default_features: bool,
    /// A Cargo profile, default `release`.
    pub profile: String,
    pub locked: bool,
    /// The user's own build: a shell command and the files it makes (relative to the repository
    /// root). The builder and the Cargo settings above are then not used.
    pub script: Option<Script>,
    /// With `Builder::Container`: where `cargo build` runs.
    pub container: Option<ContainerBuild>,
}

/// A container `cargo build` runs in: the repository is mounted at its own path, so paths mean
/// the same inside and out, and the binaries land in the workspace's target directory.
#[derive(Debug, Clone)]
pub struct ContainerBuild {
    pub image: String,
    /// The engine program (podman or docker).
    pub engine: PathBuf,
    /// More `host:container[:options]` mounts (a Cargo home to share the registry cache).
    pub volumes: Vec<String>,
    /// `NAME` (passed from this environment) or `NAME=value`.
    pub env: Vec<String>,
}

/// A build that is a shell command, run by `sh -c` at the repository root with
/// `POLYSHIP_TARGET`, `POLYSHIP_PACKAGE` and `POLYSHIP_VERSION` set.
#[derive(Debug, Clone)]
pub struct Script {
    pub run: String,
    pub binaries: Vec<PathBuf>,
}

/// A package with binaries, from `cargo metadata`.
#[derive(Debug, Clone)]
pub struct CargoPackage {
    pub name: String,
    pub version: String,
    pub manifest_dir: PathBuf,
    pub bins: Vec<String>,
}

/// The Cargo workspace as far as building binaries goes.
#[derive(Debug, Clone)]
pub struct Metadata {
    pub target_directory: PathBuf,
    pub packages: Vec<CargoPackage>,
}

/// Why a build could not start or did not finish.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{message}")]
    Preflight {
        message: String,
        help: Option<String>,
    },
    #[error("`{command}` failed ({status})")]
    Failed { command: String, status: String },
    #[error("failed to store `{}`", .path.display())]
    Store {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl BuildError {
    fn preflight(message: impl Into<String>, help: impl Into<String>) -> Self {
        BuildError::Preflight {
            message: message.into(),
            help: Some(help.into()),
        }
    }
}

fn output(program: &str, args: &[&str], dir: &Path) -> Result<std::process::Output, String> {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("`{program}` does not run: {e}"))
}

/// `cargo metadata` of the workspace at `root`: its target directory and packages with binaries.
pub fn metadata(root: &Path) -> Result<Metadata, BuildError> {
    let out = output(
        "cargo",
        &["metadata", "--format-version", "1", "--no-deps"],
        root,
    )
    .map_err(|m| BuildError::preflight(m, "install Rust with rustup (https://rustup.rs)"))?;
    if !out.status.success() {
        return Err(BuildError::Preflight {
            message: format!(
                "`cargo metadata` failed in `{}`: {}",
                root.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            help: Some("fix the workspace so that `cargo metadata` runs there".into()),
        });
    }
    let value: Value = serde_json::from_slice(&out.stdout).map_err(|e| BuildError::Preflight {
        message: format!("`cargo metadata` printed what polyship cannot read: {e}"),
        help: None,
    })?;
    let target_directory = PathBuf::from(value["target_directory"].as_str().unwrap_or("target"));
    let packages = value["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let bins: Vec<String> = p["targets"]
                .as_array()?
                .iter()
                .filter(|t| {
                    t["kind"]
                        .as_array()
                        .is_some_and(|k| k.iter().any(|k| k == "bin"))
                })
                .filter_map(|t| t["name"].as_str().map(str::to_owned))
                .collect();
            let manifest = PathBuf::from(p["manifest_path"].as_str()?);
            Some(CargoPackage {
                name: p["name"].as_str()?.to_owned(),
                version: p["version"].as_str()?.to_owned(),
                manifest_dir: manifest.parent()?.to_owned(),
                bins,
            })
        })
        .collect();
    Ok(Metadata {
        target_directory,
        packages,
    })
}

/// The Cargo workspace a package's binaries are built in, and its metadata: the repository
/// root's, or, when the root has no `Cargo.toml` (a `rust/` directory beside the other
/// ecosystems), the workspace of the Cargo packages polyship finds below it that holds `package`
/// (or the only one with binaries).
pub fn workspace(root: &Path, package: Option<&str>) -> Result<(PathBuf, Metadata), BuildError> {
    let package = package.map(crate_name).transpose()?;
    if root.join("Cargo.toml").is_file() {
        return Ok((root.to_owned(), metadata(root)?));
    }
    let none = || {
        BuildError::preflight(
            format!("there is no Cargo package in `{}`", root.display()),
            "binaries are built from a Cargo workspace in the repository",
        )
    };
    // Every committed `Cargo.toml`, shallowest first; one inside a workspace already found is
    // that workspace's member.
    let listed = output(
        "git",
        &["ls-files", "-z", "--", "Cargo.toml", "*/Cargo.toml"],
        root,
    )
    .map_err(|m| BuildError::preflight(m, "install git"))?;
    let mut manifests: Vec<PathBuf> = listed
        .stdout
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| root.join(String::from_utf8_lossy(p).as_ref()))
        .collect();
    manifests.sort_by_key(|p| p.components().count());
    let mut roots: Vec<PathBuf> = Vec::new();
    for manifest in manifests {
        let Some(dir) = manifest.parent() else {
            continue;
        };
        if roots.iter().any(|r| dir.starts_with(r)) {
            continue;
        }
        let out = output(
            "cargo",
            &["locate-project", "--workspace", "--message-format", "plain"],
            dir,
        )
        .map_err(|m| BuildError::preflight(m, "install Rust with rustup (https://rustup.rs)"))?;
        let located = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success()
            && let Some(ws) = located.parent()
            && !roots.iter().any(|r| r == ws)
        {
            roots.push(ws.to_owned());
        }
    }
    let mut found: Vec<(PathBuf, Metadata)> = Vec::new();
    for ws in roots {
        let meta = metadata(&ws)?;
        let holds = match package {
            Some(name) => meta.packages.iter().any(|p| p.name == name),
            None => meta.packages.iter().any(|p| !p.bins.is_empty()),
        };
        if holds {
            found.push((ws, meta));
        }
    }
    match found.len() {
        0 => match package {
            Some(name) => Err(BuildError::preflight(
                format!("no Cargo workspace of the repository has a package `{name}`"),
                "`polyship list` shows the packages polyship finds",
            )),
            None => Err(none()),
        },
        1 => Ok(found.remove(0)),
        _ => Err(BuildError::preflight(
            format!(
                "{} Cargo workspaces of the repository have binaries: {}",
                found.len(),
                found
                    .iter()
                    .map(|(ws, _)| format!("`{}`", ws.strip_prefix(root).unwrap_or(ws).display()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "say which package is built with `with.package` (`--package`)",
        )),
    }
}

/// The crate `name` names: `polyship` or, as everywhere else in `polyship.toml`, `cargo:polyship`.
/// Another ecosystem's name is an error: only Cargo packages are built.
pub fn crate_name(name: &str) -> Result<&str, BuildError> {
    match Ecosystem::split_id(name) {
        (None | Some(Ecosystem::Cargo), krate) => Ok(krate),
        (Some(ecosystem), _) => Err(BuildError::preflight(
            format!("`{name}` is not a Cargo package: binaries are built from crates"),
            format!("name the crate, `cargo:<name>`, instead of the {ecosystem} package"),
        )),
    }
}

/// The package a request names, or the only one with binaries.
pub fn package<'m>(meta: &'m Metadata, name: Option<&str>) -> Result<&'m CargoPackage, BuildError> {
    let name = name.map(crate_name).transpose()?;
    let with_bins: Vec<&CargoPackage> = meta
        .packages
        .iter()
        .filter(|p| !p.bins.is_empty())
        .collect();
    match name {
        Some(name) => {
            let Some(p) = meta.packages.iter().find(|p| p.name == name) else {
                return Err(BuildError::preflight(
                    format!("the Cargo workspace has no package `{name}`"),
                    format!("name one of {}", names(&meta.packages)),
                ));
            };
            if p.bins.is_empty() {
                return Err(BuildError::preflight(
                    format!("`{name}` has no binary to build"),
                    if with_bins.is_empty() {
                        "add a `[[bin]]` target or a `src/main.rs`".to_owned()
                    } else {
                        format!("the packages with binaries are {}", names(&with_bins))
                    },
                ));
            }
            Ok(p)
        }
        None => match with_bins.as_slice() {
            [one] => Ok(one),
            [] => Err(BuildError::preflight(
                "no package of the Cargo workspace has a binary to build",
                "add a `[[bin]]` target or a `src/main.rs`",
            )),
            several => Err(BuildError::preflight(
                format!(
                    "{} packages have binaries: {}",
                    several.len(),
                    names(several)
                ),
                "say which one the step builds with `with.package`",
            )),
        },
    }
}

fn names<P: std::borrow::Borrow<CargoPackage>>(packages: &[P]) -> String {
    let names: Vec<&str> = packages.iter().map(|p| p.borrow().name.as_str()).collect();
    crate::pipeline::quoted_list(&names)
}

/// `rustc`'s host target.
pub fn host_target(root: &Path) -> Result<String, BuildError> {
    let out = output("rustc", &["-vV"], root)
        .map_err(|m| BuildError::preflight(m, "install Rust with rustup (https://rustup.rs)"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .ok_or_else(|| BuildError::Preflight {
            message: "`rustc -vV` did not say its host target".into(),
            help: None,
        })
}

/// A zigbuild target without its glibc version: `x86_64-unknown-linux-gnu.2.17` →
/// `x86_64-unknown-linux-gnu`.
fn triple(target: &str) -> &str {
    match target.split_once('.') {
        Some((t, v)) if v.split('.').all(|p| p.parse::<u32>().is_ok()) => t,
        _ => target,
    }
}

/// Everything that must hold before `request` is built for `target`, checked without building.
pub fn preflight(root: &Path, builder: Builder, target: &str) -> Result<(), BuildError> {
    match builder {
        Builder::Cargo => {}
        Builder::Zigbuild => {
            let runs =
                output("cargo", &["zigbuild", "--version"], root).is_ok_and(|o| o.status.success());
            if !runs {
                return Err(BuildError::preflight(
                    "`cargo zigbuild` does not run here",
                    "install it with `cargo install --locked cargo-zigbuild` and zig (`pip install ziglang`)",
                ));
            }
        }
        Builder::Container => {
            // The image brings the toolchain; the engine is all that must be here.
            return crate::pipeline::container::engine_program(crate::pipeline::Engine::Auto)
                .map(|_| ())
                .map_err(|m| BuildError::preflight(m, "or build with `builder = \"cargo\"`"));
        }
        Builder::Cross => {
            let runs = output("cross", &["--version"], root).is_ok_and(|o| o.status.success());
            if !runs {
                return Err(BuildError::preflight(
                    "`cross` does not run here",
                    "install it with `cargo install cross --git https://github.com/cross-rs/cross`; it needs docker or podman",
                ));
            }
            // cross brings each target's standard library and linker in its image.
            return Ok(());
        }
    }
    let target = triple(target);
    let host = host_target(root)?;
    if target == host {
        return Ok(());
    }
    let list = output("rustc", &["--print", "target-list"], root)
        .map_err(|m| BuildError::preflight(m, "install Rust with rustup (https://rustup.rs)"))?;
    if !String::from_utf8_lossy(&list.stdout)
        .lines()
        .any(|l| l == target)
    {
        return Err(BuildError::preflight(
            format!("`{target}` is not a target this `rustc` knows"),
            "check the name against `rustc --print target-list`",
        ));
    }
    let sysroot = output("rustc", &["--print", "sysroot"], root)
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .map_err(|m| BuildError::preflight(m, "install Rust with rustup (https://rustup.rs)"))?;
    if !sysroot
        .join("lib/rustlib")
        .join(target)
        .join("lib")
        .is_dir()
    {
        return Err(BuildError::preflight(
            format!("the standard library of `{target}` is not installed"),
            format!("install it with `rustup target add {target}`"),
        ));
    }
    if builder == Builder::Cargo && needs_linker(&host, target) && !has_linker(root, target) {
        let var = linker_var(target);
        return Err(BuildError::preflight(
            format!("`cargo` has no linker for `{target}` here"),
            format!(
                "set `{var}` (or `[target.{target}] linker` in .cargo/config.toml) to a linker for it, or build with `builder = \"zigbuild\"` or `\"cross\"`"
            ),
        ));
    }
    Ok(())
}

/// Linking for another architecture or system needs that platform's linker; the host's own
/// toolchain links its other ABIs (`-musl` beside `-gnu`).
fn needs_linker(host: &str, target: &str) -> bool {
    let arch = |t: &str| t.split('-').next().unwrap_or_default().to_owned();
    let os = |t: &str| {
        ["linux", "darwin", "windows", "freebsd"]
            .into_iter()
            .find(|os| t.contains(os))
            .unwrap_or("other")
    };
    arch(host) != arch(target) || os(host) != os(target)
}

fn linker_var(target: &str) -> String {
    format!(
        "CARGO_TARGET_{}_LINKER",
        target.to_uppercase().replace(['-', '.'], "_")
    )
}

fn has_linker(root: &Path, target: &str) -> bool {
    if std::env::var_os(linker_var(target)).is_some_and(|v| !v.is_empty()) {
        return true;
    }
    let configured = [".cargo/config.toml", ".cargo/config"].iter().any(|f| {
        std::fs::read_to_string(root.join(f))
            .ok()
            .and_then(|t| t.parse::<toml::Table>().ok())
            .and_then(|t| t.get("target")?.get(target)?.get("linker").cloned())
            .is_some()
    });
    if configured {
        return true;
    }
    // Debian's cross toolchains: `aarch64-linux-gnu-gcc` for `aarch64-unknown-linux-gnu`.
    let mut parts = target.split('-');
    let (Some(arch), Some(_vendor), Some(os), Some(env)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    Command::new(format!("{arch}-{os}-{env}-gcc"))
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// What a build made.
#[derive(Debug, Clone)]
pub struct Built {
    pub build: Build,
    pub store: Store,
}

/// Builds `request` at `commit` and stores its binaries. The builder's output goes to this
/// process's stderr (the step's log).
pub fn build(
    root: &Path,
    git_dir: &Path,
    commit: &str,
    request: &Request,
) -> Result<Built, BuildError> {
    let (cargo_dir, meta) = workspace(root, request.package.as_deref())?;
    let package = package(&meta, request.package.as_deref())?;
    let target = match &request.target {
        Some(t) => t.clone(),
        None => host_target(&cargo_dir)?,
    };
    // The binaries to store: each one's file name and where the build leaves it.
    let made: Vec<(String, PathBuf)> = match &request.script {
        Some(script) => {
            let mut made: Vec<(String, PathBuf)> = Vec::new();
            for path in &script.binaries {
                let from = root.join(path);
                let Some(name) = from.file_name().map(|n| n.to_string_lossy().into_owned()) else {
                    return Err(BuildError::preflight(
                        format!("`{}` names no file", path.display()),
                        "name each binary the command makes by its path from the repository root",
                    ));
                };
                if made.iter().any(|(n, _)| *n == name) {
                    return Err(BuildError::preflight(
                        format!("two binaries of the build are named `{name}`"),
                        "an archive holds each binary by its file name: give them different names",
                    ));
                }
                made.push((name, from));
            }
            if made.is_empty() {
                return Err(BuildError::preflight(
                    "a build command needs the binaries it makes",
                    "name them with `with.binaries` (`--binary` on the command line)",
                ));
            }
            run_script(root, script, package, &target)?;
            if let Some((_, missing)) = made.iter().find(|(_, from)| !from.is_file()) {
                return Err(BuildError::Failed {
                    command: script.run.clone(),
                    status: format!("it succeeded but made no `{}`", missing.display()),
                });
            }
            made
        }
        None => cargo_build(&cargo_dir, &meta, package, request, &target)?,
    };
    let store = Store::new(git_dir, &package.name, &package.version);
    let dir = store.target_dir(&target);
    let store_err = |path: &Path| {
        let path = path.to_owned();
        move |source| BuildError::Store { path, source }
    };
    std::fs::create_dir_all(&dir).map_err(store_err(&dir))?;
    // An earlier build's record goes first: until the new one is written, there is no build.
    let record = dir.join(BUILD_RECORD);
    match std::fs::remove_file(&record) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(store_err(&record)(e));
        }
        _ => {}
    }
    let mut binaries = Vec::new();
    for (name, from) in made {
        let bytes = std::fs::read(&from).map_err(store_err(&from))?;
        // A binary for another platform than the target's (a builder image or linker of the
        // wrong architecture, a script's stale output) is never stored, archived or shipped.
        if let Some(why) = super::executable::mismatch(&bytes, &target) {
            return Err(BuildError::preflight(
                format!(
                    "`{name}` built for `{target}` would not start there: {why} (`{}`)",
                    from.display()
                ),
                format!(
                    "check what builds for `{target}`: the builder or its image, the linker (`[target.{target}] linker` in .cargo/config.toml), or the build command's output"
                ),
            ));
        }
        let to = dir.join(&name);
        crate::fsutil::write_atomic(&to, &bytes).map_err(store_err(&to))?;
        set_executable(&to).map_err(store_err(&to))?;
        binaries.push(Binary {
            name,
            sha256: sha256_hex(&bytes),
            size: bytes.len() as u64,
        });
    }
    let build = Build {
        schema: 1,
        package: package.name.clone(),
        version: package.version.clone(),
        target,
        commit: commit.to_owned(),
        binaries,
    };
    let mut text = serde_json::to_string_pretty(&build).expect("a build serialises");
    text.push('\n');
    crate::fsutil::write_atomic(&record, text.as_bytes()).map_err(store_err(&record))?;
    Ok(Built { build, store })
}

/// `cargo build` (or zigbuild, or cross) of `request`: the binaries and where Cargo left them.
fn cargo_build(
    root: &Path,
    meta: &Metadata,
    package: &CargoPackage,
    request: &Request,
    target: &str,
) -> Result<Vec<(String, PathBuf)>, BuildError> {
    preflight(root, request.builder, target)?;
    for bin in &request.bins {
        if !package.bins.contains(bin) {
            return Err(BuildError::preflight(
                format!("`{}` has no binary `{bin}`", package.name),
                format!(
                    "its binaries are {}",
                    crate::pipeline::quoted_list(&package.bins)
                ),
            ));
        }
    }
    let bins = if request.bins.is_empty() {
        package.bins.clone()
    } else {
        request.bins.clone()
    };
    run_builder(root, request, &package.name, target, &bins)?;
    let profile_dir = match request.profile.as_str() {
        "dev" | "test" => "debug",
        "bench" => "release",
        other => other,
    };
    let out_dir = meta.target_directory.join(triple(target)).join(profile_dir);
    let exe = if target.contains("windows") {
        ".exe"
    } else {
        ""
    };
    Ok(bins
        .iter()
        .map(|bin| {
            let name = format!("{bin}{exe}");
            (name.clone(), out_dir.join(name))
        })
        .collect())
}

/// The user's build command, its output in the step's log.
fn run_script(
    root: &Path,
    script: &Script,
    package: &CargoPackage,
    target: &str,
) -> Result<(), BuildError> {
    let failed = |status: String| BuildError::Failed {
        command: script.run.clone(),
        status,
    };
    let status = Command::new("sh")
        .args(["-c", &script.run])
        .current_dir(root)
        .env("POLYSHIP_TARGET", target)
        .env("POLYSHIP_PACKAGE", &package.name)
        .env("POLYSHIP_VERSION", &package.version)
        .stdin(Stdio::null())
        .stdout(stderr_copy().map_err(|e| failed(e.to_string()))?)
        .status()
        .map_err(|e| failed(format!("it does not run: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(failed(status.to_string()))
    }
}

/// This process's stderr for a child's stdout: a builder's progress is the step's log.
fn stderr_copy() -> std::io::Result<Stdio> {
    Ok(Stdio::from(std::io::stderr().as_fd().try_clone_to_owned()?))
}

fn run_builder(
    root: &Path,
    request: &Request,
    package: &str,
    target: &str,
    bins: &[String],
) -> Result<(), BuildError> {
    let (program, first) = request.builder.command();
    let mut args: Vec<String> = first.iter().map(|s| (*s).to_owned()).collect();
    args.extend([
        "--profile".to_owned(),
        request.profile.clone(),
        "--target".to_owned(),
        target.to_owned(),
        "--package".to_owned(),
        package.to_owned(),
    ]);
    for bin in bins {
        args.extend(["--bin".to_owned(), bin.clone()]);
    }
    if !request.features.is_empty() {
        args.extend(["--features".to_owned(), request.features.join(",")]);
    }
    if request.all_features {
        args.push("--all-features".to_owned());
    }
    if request.no_default_features {
        args.push("--no-default-features".to_owned());
    }
    if request.locked {
        args.push("--locked".to_owned());
    }
    let mut command = format!("{program} {}", args.join(" "));
    let mut cmd = Command::new(program);
    if request.builder == Builder::Container {
        let Some(c) = &request.container else {
            return Err(BuildError::preflight(
                "the `container` builder needs an image",
                "name it with `with.image` (`--image`)",
            ));
        };
        let names: Vec<&str> = c
            .env
            .iter()
            .map(|var| var.split_once('=').map_or(var.as_str(), |(name, _)| name))
            .collect();
        let container = crate::pipeline::Container {
            image: c.image.clone(),
            engine: crate::pipeline::Engine::Auto,
            volumes: c.volumes.clone(),
            user: None,
        };
        let mut inner = vec![program.to_owned()];
        inner.extend(args);
        let mount = repository_root(root);
        args = crate::pipeline::container::run_args(&container, &mount, root, &names, &inner);
        command = format!("{} {} ({})", c.engine.display(), inner.join(" "), c.image);
        cmd = Command::new(&c.engine);
        for var in &c.env {
            if let Some((name, value)) = var.split_once('=') {
                cmd.env(name, value);
            }
        }
    }
    // The builder's progress is the step's log: stdout joins stderr there.
    let status = cmd
        .args(&args)
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(stderr_copy().map_err(|e| BuildError::Failed {
            command: command.clone(),
            status: e.to_string(),
        })?)
        .status()
        .map_err(|e| BuildError::Failed {
            command: command.clone(),
            status: format!("it does not run: {e}"),
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(BuildError::Failed {
            command,
            status: status.to_string(),
        })
    }
}

use std::os::fd::AsFd as _;

/// The repository root above a Cargo workspace directory (the directory itself outside git).
fn repository_root(dir: &Path) -> PathBuf {
    output("git", &["rev-parse", "--show-toplevel"], dir)
        .ok()
        .filter(|o| o.status.success())
        .map_or_else(
            || dir.to_owned(),
            |o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()),
        )
}

/// Gives `path` the mode of a built binary, `rwxr-xr-x`.
pub(crate) fn set_executable(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crate_is_named_bare_or_with_its_ecosystem() {
        assert_eq!(crate_name("polyship").unwrap(), "polyship");
        assert_eq!(crate_name("cargo:polyship").unwrap(), "polyship");
        let err = crate_name("npm:polyship").unwrap_err().to_string();
        assert!(
            err.contains("`npm:polyship` is not a Cargo package"),
            "{err}"
        );
    }

    #[test]
    fn zigbuild_glibc_suffixes_are_not_part_of_the_triple() {
        assert_eq!(
            triple("x86_64-unknown-linux-gnu.2.17"),
            "x86_64-unknown-linux-gnu"
        );
        assert_eq!(
            triple("x86_64-unknown-linux-gnu"),
            "x86_64-unknown-linux-gnu"
        );
        assert_eq!(triple("thumbv7em-none-eabihf"), "thumbv7em-none-eabihf");
    }

    #[test]
    fn only_another_platform_needs_its_linker() {
        let host = "x86_64-unknown-linux-gnu";
        assert!(!needs_linker(host, "x86_64-unknown-linux-musl"));
        assert!(needs_linker(host, "aarch64-unknown-linux-gnu"));
        assert!(needs_linker(host, "x86_64-pc-windows-gnu"));
        assert_eq!(
            linker_var("aarch64-unknown-linux-gnu"),
            "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER"
        );
    }
}
