//! `image` from the user's Dockerfile: `podman build` (or `docker buildx build`) once per Linux
//! build, its image exported to an OCI layout and taken into the store's, so that the index over
//! the platforms and the push are the same as for an image polyship assembles itself.
//!
//! The build context is a directory of its own holding the build's binaries and the Dockerfile
//! (as goreleaser does it): `COPY tool /usr/local/bin/` finds the binary of the platform being
//! built. The repository is the named context `repo` (`COPY --from=repo README.md /`). Builds are
//! given `--timestamp` (podman) or `SOURCE_DATE_EPOCH` (buildx), polyship's labels, `VERSION` and
//! the user's build arguments.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use super::archive::sha256_hex;
use super::image::{Descriptor, ImageError, MANIFEST};
use super::{Build, Store, slug};

/// Which engine builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Podman,
    /// `docker buildx build`, with its OCI exporter.
    Docker,
}

/// A Dockerfile build.
#[derive(Debug, Clone)]
pub struct Dockerfile {
    /// The Dockerfile, relative to the repository root.
    pub path: PathBuf,
    /// The engine program and which one it is.
    pub program: PathBuf,
    pub engine: Engine,
    /// `NAME=value` build arguments.
    pub build_args: Vec<String>,
}

impl Dockerfile {
    /// The engine for `name` (`auto`, `podman` or `docker`), found on `PATH`.
    pub fn engine(name: &str) -> Result<(PathBuf, Engine), String> {
        let engine = match name {
            "auto" => crate::pipeline::Engine::Auto,
            "podman" => crate::pipeline::Engine::Podman,
            "docker" => crate::pipeline::Engine::Docker,
            other => {
                return Err(format!(
                    "the engine is `auto`, `podman` or `docker`, not `{other}`"
                ));
            }
        };
        let program = crate::pipeline::container::engine_program(engine)?;
        let kind = if program.file_name().is_some_and(|n| n == "docker") {
            Engine::Docker
        } else {
            Engine::Podman
        };
        Ok((program, kind))
    }
}

fn failed(command: &str, message: impl Into<String>) -> ImageError {
    ImageError::Dockerfile {
        command: command.to_owned(),
        message: message.into(),
    }
}

/// Builds `dockerfile` for `build`'s platform, and copies the image's manifest, config and layers
/// into `blobs`. Returns the manifest's descriptor.
#[allow(clippy::too_many_arguments)]
pub fn build_image(
    root: &Path,
    store: &Store,
    build: &Build,
    dockerfile: &Dockerfile,
    labels: &[(String, String)],
    time: u64,
    (arch, variant): (&str, Option<&str>),
    blobs: &Path,
) -> Result<Descriptor, ImageError> {
    let source = root.join(&dockerfile.path);
    if !source.is_file() {
        return Err(ImageError::NoDockerfile(dockerfile.path.clone()));
    }
    let work = store.dir.join("oci-build").join(slug(&build.target));
    let context = work.join("context");
    let layout = work.join("layout");
    let _ = std::fs::remove_dir_all(&work);
    let write = |path: &Path| {
        let path = path.to_owned();
        move |source| ImageError::Write { path, source }
    };
    std::fs::create_dir_all(&context).map_err(write(&context))?;
    let binaries = store.target_dir(&build.target);
    for binary in &build.binaries {
        let to = context.join(&binary.name);
        std::fs::copy(binaries.join(&binary.name), &to).map_err(write(&to))?;
    }
    let to = context.join("Dockerfile");
    std::fs::copy(&source, &to).map_err(write(&to))?;

    let platform = match variant {
        Some(v) => format!("linux/{arch}/{v}"),
        None => format!("linux/{arch}"),
    };
    let mut args: Vec<String> = Vec::new();
    match dockerfile.engine {
        Engine::Podman => args.extend([
            "build".to_owned(),
            "--timestamp".to_owned(),
            time.to_string(),
            "--iidfile".to_owned(),
            work.join("iid").display().to_string(),
        ]),
        Engine::Docker => args.extend([
            "buildx".to_owned(),
            "build".to_owned(),
            "--output".to_owned(),
            format!("type=oci,dest={},tar=false", layout.display()),
        ]),
    }
    args.extend(["--platform".to_owned(), platform.clone()]);
    args.extend([
        "--build-context".to_owned(),
        format!("repo={}", root.display()),
    ]);
    args.extend([
        "--build-arg".to_owned(),
        format!("VERSION={}", build.version),
    ]);
    for arg in &dockerfile.build_args {
        args.extend(["--build-arg".to_owned(), arg.clone()]);
    }
    for (k, v) in labels {
        args.extend(["--label".to_owned(), format!("{k}={v}")]);
    }
    args.extend([
        "--file".to_owned(),
        to.display().to_string(),
        context.display().to_string(),
    ]);
    let program = dockerfile.program.display().to_string();
    let command = format!(
        "{program} build --platform {platform} (for {})",
        build.target
    );
    run(&dockerfile.program, &args, root, time, &command)?;
    if dockerfile.engine == Engine::Podman {
        let id = std::fs::read_to_string(work.join("iid")).map_err(|e| ImageError::Read {
            path: work.join("iid"),
            source: e,
        })?;
        let id = id.trim().to_owned();
        let export = [
            "push".to_owned(),
            "--quiet".to_owned(),
            id.clone(),
            format!("oci:{}:polyship", layout.display()),
        ];
        run(
            &dockerfile.program,
            &export,
            root,
            time,
            &format!("{program} push {id} oci:…"),
        )?;
        // The image stays in podman's cache for the next build, without a name.
    }
    let manifest = take(&layout, blobs, &command, arch)?;
    let _ = std::fs::remove_dir_all(&work);
    Ok(manifest)
}

fn run(
    program: &Path,
    args: &[String],
    root: &Path,
    time: u64,
    command: &str,
) -> Result<(), ImageError> {
    // The engine's progress is the step's log: its stdout joins stderr there.
    let stderr = std::io::stderr();
    let stdout = std::os::fd::AsFd::as_fd(&stderr)
        .try_clone_to_owned()
        .map_err(|e| failed(command, e.to_string()))?;
    let status = Command::new(program)
        .args(args)
        .current_dir(root)
        .env("SOURCE_DATE_EPOCH", time.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::from(stdout))
        .status()
        .map_err(|e| failed(command, format!("it does not run: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(failed(command, format!("it failed ({status})")))
    }
}

/// The one image of the OCI layout at `layout`: its blobs copied into `blobs` (each checked
/// against its digest), and its manifest's descriptor.
fn take(layout: &Path, blobs: &Path, command: &str, arch: &str) -> Result<Descriptor, ImageError> {
    let read_json = |path: PathBuf| -> Result<(Vec<u8>, Value), ImageError> {
        let bytes = std::fs::read(&path).map_err(|e| ImageError::Read {
            path: path.clone(),
            source: e,
        })?;
        let value = serde_json::from_slice(&bytes)
            .map_err(|e| failed(command, format!("`{}` is not JSON: {e}", path.display())))?;
        Ok((bytes, value))
    };
    let (_, index) = read_json(layout.join("index.json"))?;
    let entries = index["manifests"].as_array().cloned().unwrap_or_default();
    let [entry] = entries.as_slice() else {
        return Err(failed(
            command,
            format!("it exported {} images, not one", entries.len()),
        ));
    };
    let digest = |d: &Value| -> Result<String, ImageError> {
        d["digest"]
            .as_str()
            .and_then(|d| d.strip_prefix("sha256:"))
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(str::to_owned)
            .ok_or_else(|| {
                failed(
                    command,
                    format!("its layout names a blob by `{}`", d["digest"]),
                )
            })
    };
    let hex = digest(entry)?;
    let (manifest_bytes, manifest) = read_json(layout.join("blobs/sha256").join(&hex))?;
    let media_type = manifest["mediaType"]
        .as_str()
        .or(entry["mediaType"].as_str())
        .unwrap_or_default();
    if media_type != MANIFEST {
        return Err(failed(
            command,
            format!("it exported a `{media_type}`, not one OCI image manifest"),
        ));
    }
    let config_hex = digest(&manifest["config"])?;
    let (_, config) = read_json(layout.join("blobs/sha256").join(&config_hex))?;
    if config["architecture"].as_str() != Some(arch) {
        return Err(failed(
            command,
            format!(
                "it built an image for `{}`, not `{arch}`",
                config["architecture"].as_str().unwrap_or("?")
            ),
        ));
    }
    let mut wanted = vec![config_hex];
    for layer in manifest["layers"].as_array().into_iter().flatten() {
        wanted.push(digest(layer)?);
    }
    wanted.push(hex.clone());
    for hex in wanted {
        copy_blob(&layout.join("blobs/sha256").join(&hex), blobs, &hex)?;
    }
    Ok(Descriptor {
        media_type: MANIFEST.to_owned(),
        digest: format!("sha256:{}", sha256_hex(&manifest_bytes)),
        size: manifest_bytes.len() as u64,
    })
}

/// Copies one blob, checked against its digest before it takes its name.
fn copy_blob(from: &Path, blobs: &Path, hex: &str) -> Result<(), ImageError> {
    if blobs.join(hex).is_file() {
        return Ok(());
    }
    let read = |e| ImageError::Read {
        path: from.to_owned(),
        source: e,
    };
    let mut input = std::fs::File::open(from).map_err(read)?;
    let origin = from.display().to_string();
    super::image::write_blob(&mut input, blobs, &format!("sha256:{hex}"), &origin, read)
}
