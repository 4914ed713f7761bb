//! `polyship artifacts`: a package's binaries per target, their archives and checksums, and their
//! upload to its forge release — what the pipeline's `build`, `archive` and `forge-assets` steps
//! run.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use polyship_core::artifacts::{self, Store, assets, build, bundle};
use polyship_core::release::redact::Redactor;

use crate::context::Context;
use crate::render::CommandError;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Build a Cargo package's binaries for one target into the artifact store
    Build(BuildArgs),
    /// Archive every build of this commit, with README and licence files; write the checksums
    Archive(ArchiveArgs),
    /// Attach the archives and checksums to the package's forge release
    Upload(UploadArgs),
    /// Assemble an OCI image of this commit's Linux builds, and push it to a registry
    Image(ImageArgs),
    /// Build a maturin project's wheel for one target into the artifact store, for `publish`
    Wheel(WheelArgs),
    /// Download every attached archive and checksum back and compare it with the one built here;
    /// with `--repository`, check the pushed image too
    Verify(VerifyArgs),
}

#[derive(Debug, clap::Args)]
struct PackageArg {
    /// The Cargo package [default: the one package with binaries]
    #[arg(long, short = 'p', value_name = "NAME")]
    package: Option<String>,
    /// Print the result as a JSON document (`"schema": 1`) on stdout
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct BuildArgs {
    #[command(flatten)]
    package: PackageArg,
    /// The target triple [default: the host's]
    #[arg(long, value_name = "TRIPLE")]
    target: Option<String>,
    /// What builds: `cargo`, `zigbuild` (cargo zigbuild), `cross`, or `container` (`cargo build`
    /// in `--image`)
    #[arg(long, default_value = "cargo", value_parser = ["cargo", "zigbuild", "cross", "container"])]
    builder: String,
    /// The image the `container` builder runs `cargo build` in
    #[arg(long, value_name = "IMAGE")]
    image: Option<String>,
    /// The engine of the `container` builder
    #[arg(long, default_value = "auto", value_parser = ["auto", "podman", "docker"], requires = "image")]
    engine: String,
    /// More mounts for the `container` builder, `host:container[:options]` (repeatable)
    #[arg(long = "volume", value_name = "MOUNT", requires = "image")]
    volumes: Vec<String>,
    /// Environment for the `container` builder: `NAME` (passed from here) or `NAME=value`
    /// (repeatable)
    #[arg(long = "env", value_name = "NAME[=VALUE]", requires = "image")]
    env: Vec<String>,
    /// Only these binaries (repeatable) [default: every binary of the package]
    #[arg(long = "bin", value_name = "NAME")]
    bins: Vec<String>,
    /// Cargo features to turn on (repeatable)
    #[arg(long = "features", short = 'F', value_name = "FEATURES")]
    features: Vec<String>,
    #[arg(long)]
    all_features: bool,
    #[arg(long)]
    no_default_features: bool,
    /// The Cargo profile
    #[arg(long, default_value = "release")]
    profile: String,
    /// Pass `--locked` to the builder
    #[arg(long)]
    locked: bool,
    /// Build with this shell command instead of Cargo (`sh -c` at the repository root, with
    /// `POLYSHIP_TARGET`, `POLYSHIP_PACKAGE` and `POLYSHIP_VERSION` set)
    #[arg(
        long,
        value_name = "COMMAND",
        requires_all = ["target", "binaries"],
        conflicts_with_all = ["builder", "bins", "features", "all_features", "no_default_features", "locked", "check"]
    )]
    command: Option<String>,
    /// A file the command makes, relative to the repository root (repeatable)
    #[arg(long = "binary", value_name = "PATH", requires = "command")]
    binaries: Vec<PathBuf>,
    /// Check that the target can be built here, and build nothing
    #[arg(long)]
    check: bool,
}

#[derive(Debug, clap::Args)]
struct WheelArgs {
    /// The Python distribution [default: the one maturin project]
    #[arg(long, short = 'p', value_name = "NAME")]
    package: Option<String>,
    /// The target triple [default: the host's]
    #[arg(long, value_name = "TRIPLE")]
    target: Option<String>,
    /// The platform policy the wheel must meet: `manylinux_2_28`, `musllinux_1_2`, `manylinux2014`…
    /// [default: the oldest the binary meets]
    #[arg(long, value_name = "POLICY")]
    compatibility: Option<String>,
    /// Link with zig: older glibc policies and other architectures
    #[arg(long)]
    zig: bool,
    /// Print the result as a JSON document (`"schema": 1`) on stdout
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct ArchiveArgs {
    #[command(flatten)]
    package: PackageArg,
    /// The archive's name without extension; `{name}`, `{version}` and `{target}` are replaced
    #[arg(long, default_value = "{name}-{version}-{target}")]
    name: String,
    /// `tar.gz` or `zip` [default: `zip` for Windows targets, `tar.gz` for the rest]
    #[arg(long, value_parser = ["tar.gz", "zip"])]
    format: Option<String>,
    /// Put the files at the archive's top level instead of in a directory named like it
    #[arg(long)]
    no_wrap: bool,
    /// More files for every archive (globs relative to the package's directory; repeatable)
    #[arg(long, value_name = "GLOB")]
    include: Vec<String>,
}

#[derive(Debug, clap::Args)]
struct ImageArgs {
    #[command(flatten)]
    package: PackageArg,
    /// Where to push: `host[:port]/path/name`
    #[arg(long, value_name = "REPOSITORY", required_unless_present = "no_push")]
    repository: Option<String>,
    /// The base image, pinned by digest: `host[:port]/path/name@sha256:…` [default: `scratch`]
    #[arg(long, value_name = "IMAGE@DIGEST")]
    base: Option<String>,
    /// Tag templates (`{version}`, `{major}`, `{minor}`, `{patch}`; repeatable) [default:
    /// `{version}`, `{major}.{minor}`, `{major}`, `latest`; a prerelease gets only `{version}`]
    #[arg(long = "tag", value_name = "TEMPLATE")]
    tags: Vec<String>,
    /// The entrypoint, one argument per flag [default: the first binary]
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    entrypoint: Vec<String>,
    /// The default arguments, one per flag
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    cmd: Vec<String>,
    /// `NAME=value` in the image's environment (repeatable)
    #[arg(long, value_name = "NAME=VALUE")]
    env: Vec<String>,
    #[arg(long, value_name = "DIR")]
    workdir: Option<String>,
    #[arg(long, value_name = "USER")]
    user: Option<String>,
    /// `key=value` labels over polyship's `org.opencontainers.image.*` ones (repeatable)
    #[arg(long, value_name = "KEY=VALUE")]
    label: Vec<String>,
    /// Build each platform's image from this Dockerfile (relative to the repository root) with
    /// podman or docker buildx, in a context holding the platform's binaries
    #[arg(
        long,
        value_name = "PATH",
        conflicts_with_all = ["base", "entrypoint", "cmd", "env", "workdir", "user"]
    )]
    dockerfile: Option<PathBuf>,
    /// The engine that builds the Dockerfile
    #[arg(long, default_value = "auto", value_parser = ["auto", "podman", "docker"], requires = "dockerfile")]
    engine: String,
    /// `NAME=value` build arguments for the Dockerfile (repeatable; `VERSION` is always given)
    #[arg(long, value_name = "NAME=VALUE", requires = "dockerfile")]
    build_arg: Vec<String>,
    /// Write the OCI layout only
    #[arg(long)]
    no_push: bool,
}

#[derive(Debug, clap::Args)]
struct VerifyArgs {
    #[command(flatten)]
    package: PackageArg,
    /// Check the image there too: each tag names the image assembled here, and every platform's
    /// manifest, config and layers are in the repository
    #[arg(long, value_name = "REPOSITORY")]
    repository: Option<String>,
    /// Tag templates to check, as `image` takes them [default: `image`'s]
    #[arg(long = "tag", value_name = "TEMPLATE", requires = "repository")]
    tags: Vec<String>,
    /// Check the image only, not the forge release's assets
    #[arg(long, requires = "repository")]
    no_assets: bool,
    /// A file `upload --file` attached too, to check among the assets
    #[arg(long = "file", value_name = "GLOB", conflicts_with = "no_assets")]
    files: Vec<String>,
}

/// What a release's artifacts must be, checked by `artifacts verify` and by a pipeline's
/// `verify` step (which passes one per `forge-assets` and `image` step of its pipeline).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Check {
    #[serde(default)]
    pub package: Option<String>,
    /// The archives and checksums attached to the forge release.
    #[serde(default)]
    pub assets: bool,
    /// The image pushed there, under `tags` (templates; empty: `image`'s defaults).
    #[serde(default)]
    pub repository: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// More files attached with the archives (globs from the repository root).
    #[serde(default)]
    pub files: Vec<String>,
}

/// The files `upload` attaches: `archives` (the version's archives and checksums), then each
/// `extra` glob's files (from the repository root) by their file names. A glob that matches no
/// file, or a name taken twice, is an error.
fn with_extra_files(
    cx: &Context,
    archives: Vec<assets::File>,
    extra: &[String],
) -> anyhow::Result<Vec<assets::File>> {
    let mut files = archives;
    for pattern in extra {
        let full = cx.root.join(pattern);
        let paths = glob::glob(&full.to_string_lossy()).map_err(|e| {
            CommandError::failed(
                format!("`{pattern}` is not a glob: {e}"),
                "write it as a path from the repository root, `*` for any name",
            )
        })?;
        let mut any = false;
        for path in paths.flatten().filter(|p| p.is_file()) {
            any = true;
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            if files.iter().any(|f| f.name == name) {
                return Err(CommandError::failed(
                    format!("`{}` would be attached twice as `{name}`", path.display()),
                    "attach files of different names",
                )
                .into());
            }
            files.push(assets::File { name, path });
        }
        if !any {
            return Err(CommandError::failed(
                format!("`{pattern}` matches no file in the repository"),
                "name files to attach by their paths from the repository root",
            )
            .into());
        }
    }
    Ok(files)
}

/// What is missing or wrong in `check`'s artifacts; an empty list when the release has them all.
pub fn problems(cx: &Context, check: &Check) -> anyhow::Result<Vec<String>> {
    use polyship_core::artifacts::image;
    let (git_dir, _) = repository(cx)?;
    let (package, store) = package_store(cx, &git_dir, check.package.as_deref())?;
    let redactor = Redactor::from_env();
    let mut problems = Vec::new();
    if check.assets {
        let archives = assets::files(&store.dist_dir())?;
        let files = if archives.is_empty() {
            problems.push(format!(
                "no archives of `{}` {} were made here to check",
                package.name, package.version
            ));
            None
        } else {
            match with_extra_files(cx, archives, &check.files) {
                Ok(files) => Some(files),
                Err(e) => {
                    problems.push(error_chain(e.as_ref()));
                    None
                }
            }
        };
        if let Some(files) = files
            && let Some((tag, forge)) = forge_release(cx, &package)?
        {
            let agent = polyship_core::release::registry::agent();
            match assets::check(&forge, &agent, &tag, &files) {
                Ok(found) => problems.extend(found),
                Err(e) => problems.push(redactor.redact(&error_chain(&e))),
            }
        } else if problems.is_empty() {
            problems.push(format!(
                "the forge release of `{}` {} could not be read",
                package.name, package.version
            ));
        }
    }
    if let Some(repository) = &check.repository {
        let templates = if check.tags.is_empty() {
            image::default_tags()
        } else {
            check.tags.clone()
        };
        let tags = image::tags(&templates, &package.version);
        match image::check(&store, repository, &tags) {
            Ok(found) => problems.extend(found),
            Err(e) => problems.push(redactor.redact(&error_chain(&e))),
        }
    }
    Ok(problems)
}

fn verify_cmd(cx: &Context, a: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let check = Check {
        package: a.package.package.clone(),
        assets: !a.no_assets,
        repository: a.repository.clone(),
        tags: a.tags.clone(),
        files: a.files.clone(),
    };
    let problems = problems(cx, &check)?;
    for p in &problems {
        crate::render::error_line(cx.color, p);
    }
    if a.package.json {
        print_json(&serde_json::json!({ "schema": 1, "problems": problems }))?;
    }
    if problems.is_empty() {
        cx.status("Verified", "every artifact of the release");
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(ExitCode::FAILURE)
    }
}

#[derive(Debug, clap::Args)]
struct UploadArgs {
    #[command(flatten)]
    package: PackageArg,
    /// Replace an asset of the same name whose contents differ, instead of failing
    #[arg(long)]
    replace: bool,
    /// Attach this file too (a glob from the repository root: an install script, a schema)
    #[arg(long = "file", value_name = "GLOB")]
    files: Vec<String>,
}

pub fn run(cx: &Context, args: &Args) -> anyhow::Result<ExitCode> {
    if !cx.in_git {
        return Err(CommandError::failed(
            "`polyship artifacts` needs a git repository",
            "run it in the repository you release from",
        )
        .into());
    }
    match &args.command {
        Sub::Build(a) => build_cmd(cx, a),
        Sub::Archive(a) => archive_cmd(cx, a),
        Sub::Upload(a) => upload_cmd(cx, a),
        Sub::Image(a) => image_cmd(cx, a),
        Sub::Verify(a) => verify_cmd(cx, a),
        Sub::Wheel(a) => wheel_cmd(cx, a),
    }
}

/// The repository's common git directory and HEAD.
fn repository(cx: &Context) -> anyhow::Result<(PathBuf, String)> {
    let redactor = Redactor::from_env();
    let git_dir = polyship_core::release::git::common_dir(&cx.root, &redactor)
        .context("failed to find the git directory")?;
    let head = polyship_core::release::git::head(&cx.root, &redactor)
        .context("failed to read HEAD: the repository needs a commit")?;
    Ok((git_dir, head))
}

fn build_error(e: build::BuildError) -> anyhow::Error {
    match e {
        build::BuildError::Preflight { message, help } => CommandError {
            message,
            help,
            usage: false,
        }
        .into(),
        other => anyhow::Error::new(other),
    }
}

fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(value).context("failed to serialise the result")?;
    text.push('\n');
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .context("failed to write to stdout")
}

fn build_cmd(cx: &Context, a: &BuildArgs) -> anyhow::Result<ExitCode> {
    let builder = build::Builder::parse(&a.builder).unwrap_or(build::Builder::Cargo);
    if a.check {
        let target = match &a.target {
            Some(t) => t.clone(),
            None => build::host_target(&cx.root).map_err(build_error)?,
        };
        build::preflight(&cx.root, builder, &target).map_err(build_error)?;
        cx.status(
            "Checked",
            &format!("{target} can be built with {}", builder.as_str()),
        );
        return Ok(ExitCode::SUCCESS);
    }
    let (git_dir, head) = repository(cx)?;
    let request = build::Request {
        package: a.package.package.clone(),
        target: a.target.clone(),
        builder,
        bins: a.bins.clone(),
        features: a.features.clone(),
        all_features: a.all_features,
        no_default_features: a.no_default_features,
        profile: a.profile.clone(),
        locked: a.locked,
        script: a.command.clone().map(|run| build::Script {
            run,
            binaries: a.binaries.clone(),
        }),
        container: match (&a.image, builder) {
            (Some(image), build::Builder::Container) => {
                let (engine, _) = artifacts::dockerfile::Dockerfile::engine(&a.engine)
                    .map_err(|m| CommandError::failed(m, "or build with `--builder cargo`"))?;
                Some(build::ContainerBuild {
                    image: image.clone(),
                    engine,
                    volumes: a.volumes.clone(),
                    env: a.env.clone(),
                })
            }
            (Some(_), _) => {
                return Err(CommandError {
                    message: "`--image` is for `--builder container`".into(),
                    help: Some("add `--builder container`".into()),
                    usage: true,
                }
                .into());
            }
            (None, build::Builder::Container) => {
                return Err(CommandError {
                    message: "the `container` builder needs an image".into(),
                    help: Some("name it with `--image`".into()),
                    usage: true,
                }
                .into());
            }
            (None, _) => None,
        },
    };
    let built = build::build(&cx.root, &git_dir, &head, &request).map_err(build_error)?;
    let b = &built.build;
    for binary in &b.binaries {
        cx.status(
            "Built",
            &format!(
                "{} {} {} ({} bytes)",
                b.package, b.target, binary.name, binary.size
            ),
        );
    }
    if a.package.json {
        print_json(&serde_json::json!({
            "schema": 1,
            "build": b,
            "directory": built.store.target_dir(&b.target),
        }))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The Cargo package a command names, with the store of its current version.
fn package_store(
    cx: &Context,
    git_dir: &std::path::Path,
    name: Option<&str>,
) -> anyhow::Result<(build::CargoPackage, Store)> {
    let (_, meta) = build::workspace(&cx.root, name).map_err(build_error)?;
    let package = build::package(&meta, name).map_err(build_error)?.clone();
    let store = Store::new(git_dir, &package.name, &package.version);
    Ok((package, store))
}

fn wheel_cmd(cx: &Context, a: &WheelArgs) -> anyhow::Result<ExitCode> {
    use polyship_core::artifacts::wheel;
    use polyship_core::workspace::Ecosystem;
    let (git_dir, head) = repository(cx)?;
    let discovered = super::discover(cx)?;
    let maturin: Vec<&polyship_core::workspace::Package> = discovered
        .workspace
        .packages
        .iter()
        .filter(|p| p.ecosystem == Ecosystem::Python)
        .filter(|p| polyship_core::ecosystem::python::is_maturin(&cx.root.join(&p.path)))
        .collect();
    let names = || {
        maturin
            .iter()
            .map(|p| format!("`{}`", p.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let package = match &a.package {
        Some(name) => {
            // `python:polyship`, as `polyship.toml` names packages elsewhere, or `polyship`.
            let (None | Some(Ecosystem::Python), bare) = Ecosystem::split_id(name) else {
                return Err(CommandError::failed(
                    format!("`{name}` is not a Python package: wheels are built from maturin projects"),
                    format!("name the Python distribution, `python:<name>`; the maturin projects are {}", names()),
                )
                .into());
            };
            let wanted = polyship_core::ecosystem::python::normalize_name(bare);
            maturin.iter().find(|p| p.name == wanted).ok_or_else(|| {
                CommandError::failed(
                    format!("`{name}` is not a maturin project polyship releases here"),
                    if maturin.is_empty() {
                        "wheels are built from a `pyproject.toml` with `build-backend = \"maturin\"`".to_owned()
                    } else {
                        format!("the maturin projects are {}", names())
                    },
                )
            })?
        }
        None => match maturin.as_slice() {
            [one] => one,
            [] => {
                return Err(CommandError::failed(
                    "no maturin project to build a wheel of",
                    "wheels are built from a `pyproject.toml` with `build-backend = \"maturin\"`",
                )
                .into());
            }
            _ => {
                return Err(CommandError::failed(
                    format!("{} maturin projects: {}", maturin.len(), names()),
                    "say which one with `--package`",
                )
                .into());
            }
        },
    };
    let version = package.version.clone().unwrap_or_default();
    let store = Store::new(&git_dir, &package.name, &version);
    let request = wheel::Request {
        python: discovered
            .config
            .config
            .publish
            .python
            .command
            .clone()
            .unwrap_or_else(|| "python3".to_owned()),
        target: a.target.clone(),
        compatibility: a.compatibility.clone(),
        zig: a.zig,
    };
    let wheels = wheel::build(
        &cx.root.join(&package.path),
        &store,
        &package.name,
        &version,
        &head,
        &request,
    )?;
    for f in &wheels.files {
        cx.status("Built", &format!("{} ({} bytes)", f.name, f.size));
    }
    if a.json {
        print_json(&serde_json::json!({ "schema": 1, "wheels": wheels }))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn archive_cmd(cx: &Context, a: &ArchiveArgs) -> anyhow::Result<ExitCode> {
    let (git_dir, head) = repository(cx)?;
    let (package, store) = package_store(cx, &git_dir, a.package.package.as_deref())?;
    let request = bundle::Request {
        name_template: a.name.clone(),
        format: a
            .format
            .as_deref()
            .and_then(artifacts::archive::Format::parse),
        wrap: !a.no_wrap,
        include: a.include.clone(),
    };
    let made = match bundle::bundle(&cx.root, &package.manifest_dir, &store, &head, &request) {
        Ok(made) => made,
        Err(bundle::BundleError::NothingBuilt {
            package,
            version,
            stale,
        }) => {
            let help = if stale.is_empty() {
                "build it first: a `build` step (`polyship artifacts build`) before `archive`"
                    .to_owned()
            } else {
                format!(
                    "the builds there ({}) are of another commit: build again at this one",
                    stale.join(", ")
                )
            };
            return Err(CommandError::failed(
                format!("no build of `{package}` {version} at this commit to archive"),
                help,
            )
            .into());
        }
        Err(e) => return Err(e.into()),
    };
    for m in &made {
        cx.status(
            "Archived",
            &format!(
                "{} ({} bytes, sha256 {})",
                m.file.file_name().unwrap_or_default().to_string_lossy(),
                m.size,
                &m.sha256[..16]
            ),
        );
    }
    if a.package.json {
        print_json(&serde_json::json!({
            "schema": 1,
            "package": package.name,
            "version": package.version,
            "archives": made,
            "checksums": store.dist_dir().join("SHA256SUMS"),
        }))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn upload_cmd(cx: &Context, a: &UploadArgs) -> anyhow::Result<ExitCode> {
    let (git_dir, _) = repository(cx)?;
    let (package, store) = package_store(cx, &git_dir, a.package.package.as_deref())?;
    let archives = assets::files(&store.dist_dir())?;
    if archives.is_empty() {
        return Err(CommandError::failed(
            format!(
                "no archives of `{}` {} to attach",
                package.name, package.version
            ),
            "archive them first: an `archive` step (`polyship artifacts archive`) before `forge-assets`",
        )
        .into());
    }
    let files = with_extra_files(cx, archives, &a.files)?;
    let Some((tag, forge)) = forge_release(cx, &package)? else {
        return Ok(ExitCode::FAILURE);
    };
    let agent = polyship_core::release::registry::agent();
    let redact = |e: assets::AssetsError| {
        let message = Redactor::from_env().redact(&error_chain(&e));
        CommandError::failed(
            message,
            match e {
                assets::AssetsError::NoRelease { .. } => {
                    "publish first: `forge-assets` needs the release that `publish` makes"
                }
                assets::AssetsError::Conflict { .. } => {
                    "set `replace = true` (`--replace`) to replace them, or remove them from the release"
                }
                _ => "run the step again: what is attached already is kept",
            },
        )
    };
    let done = assets::attach(&forge, &agent, &tag, &files, a.replace).map_err(redact)?;
    for (name, outcome) in &done {
        let verb = match outcome {
            assets::Outcome::Uploaded => "Uploaded",
            assets::Outcome::Kept => "Kept",
            assets::Outcome::Replaced => "Replaced",
        };
        cx.status(verb, &format!("{name} on {tag}"));
    }
    if a.package.json {
        let list: Vec<serde_json::Value> = done
            .iter()
            .map(|(name, outcome)| serde_json::json!({ "name": name, "outcome": outcome }))
            .collect();
        print_json(&serde_json::json!({ "schema": 1, "tag": tag, "assets": list }))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The package's release tag and the forge it is released on; `None` when the forge cannot be
/// reached (the problems are printed).
fn forge_release(
    cx: &Context,
    package: &build::CargoPackage,
) -> anyhow::Result<Option<(String, polyship_core::release::forge::Forge)>> {
    let discovered = super::discover(cx)?;
    let ws = &discovered.workspace;
    let rel = package
        .manifest_dir
        .strip_prefix(&cx.root)
        .unwrap_or(&package.manifest_dir)
        .to_string_lossy()
        .into_owned();
    let rel = if rel.is_empty() { ".".to_owned() } else { rel };
    let Some(index) = ws.packages.iter().position(|p| {
        p.name == package.name && (p.path == rel || (p.path.is_empty() && rel == "."))
    }) else {
        return Err(CommandError::failed(
            format!("`{}` is not a package polyship releases here", package.name),
            "`polyship list` shows the packages it found",
        )
        .into());
    };
    let tag = polyship_core::release::publish::release_tag(
        &cx.root,
        ws,
        &discovered.config,
        index,
        &package.version,
    )
    .map_err(|e| anyhow::anyhow!(Redactor::from_env().redact(&e.to_string())))?
    .ok_or_else(|| {
        CommandError::failed(
            format!("`{}` has no release tag", package.name),
            "set its tag template in `[tags]` of polyship.toml",
        )
    })?;
    let forge = match polyship_core::release::publish::forge(&cx.root, &discovered.config) {
        Ok(Some(forge)) => forge,
        Ok(None) => {
            return Err(CommandError::failed(
                "forge releases are off: there is no release to attach the archives to",
                "set `[publish.forge] kind` (`github` or `gitea`) in polyship.toml",
            )
            .into());
        }
        Err(problems) => {
            crate::render::problems(cx.color, "", &problems, "nothing was uploaded");
            return Ok(None);
        }
    };
    Ok(Some((tag, forge)))
}

/// What `image` is asked to make, from its flags and the repository's `origin`.
fn image_request(
    cx: &Context,
    a: &ImageArgs,
) -> anyhow::Result<polyship_core::artifacts::image::Request> {
    use polyship_core::artifacts::image;
    let mut labels = Vec::new();
    for l in &a.label {
        let Some((k, v)) = l.split_once('=') else {
            return Err(CommandError {
                message: format!("`--label {l}` is not `key=value`"),
                help: Some("write labels as `--label org.example.team=release`".into()),
                usage: true,
            }
            .into());
        };
        labels.push((k.to_owned(), v.to_owned()));
    }
    let redactor = Redactor::from_env();
    let source = polyship_core::release::git::remote_url(&cx.root, "origin", &redactor)
        .filter(|u| u.starts_with("https://") && !u.contains('@'));
    Ok(image::Request {
        entrypoint: (!a.entrypoint.is_empty()).then(|| a.entrypoint.clone()),
        cmd: a.cmd.clone(),
        env: a.env.clone(),
        workdir: a.workdir.clone(),
        user: a.user.clone(),
        labels,
        source,
        base: a.base.clone(),
        dockerfile: match &a.dockerfile {
            None => None,
            Some(path) => {
                let (program, engine) = artifacts::dockerfile::Dockerfile::engine(&a.engine)
                    .map_err(|m| {
                        CommandError::failed(m, "without `--dockerfile`, polyship assembles the image itself and needs no engine")
                    })?;
                Some(artifacts::dockerfile::Dockerfile {
                    path: path.clone(),
                    program,
                    engine,
                    build_args: a.build_arg.clone(),
                })
            }
        },
    })
}

fn image_cmd(cx: &Context, a: &ImageArgs) -> anyhow::Result<ExitCode> {
    use polyship_core::artifacts::image;
    let (git_dir, head) = repository(cx)?;
    let (package, store) = package_store(cx, &git_dir, a.package.package.as_deref())?;
    let request = image_request(cx, a)?;
    let redactor = Redactor::from_env();
    let fail = |e: image::ImageError| {
        CommandError::failed(
            redactor.redact(&error_chain(&e)),
            match e {
                image::ImageError::NothingBuilt { .. } => {
                    "build it first: a `build` step for a Linux target before `image`"
                }
                image::ImageError::TagTaken { .. } => {
                    "release a new version: a version's own tag never moves"
                }
                image::ImageError::BaseNotPinned(_) => {
                    "name the base by digest, as `host/name@sha256:…`; `skopeo inspect --format '{{.Digest}}' docker://host/name:tag` prints it"
                }
                image::ImageError::NoDockerfile(_) => {
                    "name it by its path from the repository root: `--dockerfile docker/Dockerfile`"
                }
                image::ImageError::Dockerfile { .. } => {
                    "the engine's output above says what went wrong"
                }
                image::ImageError::BasePlatform { .. } => {
                    "choose a base image with an image for every Linux target built, or build fewer targets"
                }
                image::ImageError::Dynamic { .. } => {
                    "build a musl target (`x86_64-unknown-linux-musl`), link this one statically (`RUSTFLAGS=\"-C target-feature=+crt-static\"`), or give the image a `base` with the C library"
                }
                _ => "run it again: blobs already pushed are not sent again",
            },
        )
    };
    let built = image::assemble(&cx.root, &store, &head, &request).map_err(fail)?;
    for target in &built.skipped {
        cx.note(&format!("{target} has no Linux image; it is left out"));
    }
    for (left, taken) in &built.shadowed {
        cx.note(&format!(
            "{left} is left out of the image: {taken} has its platform (one image per platform, musl first)"
        ));
    }
    cx.status(
        "Assembled",
        &format!(
            "{} {} image {} ({} platforms)",
            package.name,
            package.version,
            built.index.digest,
            built.manifests.len()
        ),
    );
    let mut pushed = None;
    if let (false, Some(repository)) = (a.no_push, &a.repository) {
        let templates = if a.tags.is_empty() {
            image::default_tags()
        } else {
            a.tags.clone()
        };
        let tags = image::tags(&templates, &package.version);
        let immutable = image::tags(&["{version}".to_owned()], &package.version);
        let done = image::push(&built, repository, &tags, &immutable).map_err(fail)?;
        for tag in &done.tagged {
            cx.status("Tagged", &format!("{repository}:{tag}"));
        }
        for tag in &done.unchanged {
            cx.status("Unchanged", &format!("{repository}:{tag}"));
        }
        pushed = Some(done);
    }
    if a.package.json {
        print_json(&serde_json::json!({
            "schema": 1,
            "index": built.index,
            "layout": built.layout,
            "manifests": built.manifests,
            "pushed": pushed,
        }))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    polyship_core::diagnostic::chain(e)
}
