//! `wheel`: a maturin project's wheel for one target, built by `maturin build` into the artifact
//! store, where `publish` takes it: the wheels of every target of the build matrix are uploaded
//! with the sdist, instead of the one wheel of the machine that publishes.
//!
//! `maturin build` (not its PEP 517 hook, which builds with `--compatibility off`) checks the
//! binary and tags the wheel with the oldest manylinux or musllinux policy it meets, or fails
//! naming the symbol that breaks `--compatibility`. The record (`wheel.json`: the commit, each
//! file's SHA-256) is written last, so a failed or killed build leaves nothing `publish` takes.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use super::archive::sha256_hex;
use super::{Store, StoreError, slug};

/// The name of a wheel build's record in its directory.
pub const RECORD: &str = "wheel.json";

/// What to build.
#[derive(Debug, Clone)]
pub struct Request {
    /// The Python that runs maturin.
    pub python: String,
    /// `None`: the host.
    pub target: Option<String>,
    /// A platform policy, `manylinux_2_28`, `musllinux_1_2`, `manylinux2014`…
    pub compatibility: Option<String>,
    /// Link with zig (`--zig`): manylinux policies older than the host's glibc, and other
    /// architectures.
    pub zig: bool,
}

/// One target's wheels, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wheels {
    pub schema: u32,
    pub package: String,
    pub version: String,
    /// The target, `host` for the machine's own.
    pub target: String,
    pub commit: String,
    pub files: Vec<File>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct File {
    pub name: String,
    pub sha256: String,
    pub size: u64,
}

/// Why a wheel was not built.
#[derive(Debug, thiserror::Error)]
pub enum WheelError {
    #[error("`{command}` failed ({status})")]
    Failed { command: String, status: String },
    #[error("`{wheel}` holds `{entry}`, which would not start on `{target}`: {why}")]
    WrongPlatform {
        wheel: String,
        entry: String,
        target: String,
        why: String,
    },
    #[error("`{wheel}` cannot be read: {why}")]
    Unreadable { wheel: String, why: String },
    #[error("`{command}` made no wheel")]
    NoWheel { command: String },
    #[error("failed to store `{}`", .path.display())]
    Store {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Read(#[from] StoreError),
}

fn wheels_dir(store: &Store) -> PathBuf {
    store.dir.join("wheels")
}

/// Builds the wheel of the maturin project at `dir` (`package` `version`) at `commit`.
pub fn build(
    dir: &Path,
    store: &Store,
    package: &str,
    version: &str,
    commit: &str,
    request: &Request,
) -> Result<Wheels, WheelError> {
    let target = request.target.clone().unwrap_or_else(|| "host".to_owned());
    let out = wheels_dir(store).join(slug(&target));
    let store_err = |path: &Path| {
        let path = path.to_owned();
        move |source| WheelError::Store { path, source }
    };
    // The earlier record goes first: until the new one is written, there is no build.
    match std::fs::remove_dir_all(&out) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(store_err(&out)(e)),
        _ => {}
    }
    std::fs::create_dir_all(&out).map_err(store_err(&out))?;
    let mut args: Vec<String> = ["-m", "maturin", "build"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    args.extend(crate::ecosystem::python::release::maturin_profile_args(dir));
    args.push("--out".to_owned());
    args.push(out.display().to_string());
    if let Some(t) = &request.target {
        args.extend(["--target".to_owned(), t.clone()]);
    }
    if let Some(c) = &request.compatibility {
        args.extend(["--compatibility".to_owned(), c.clone()]);
    }
    if request.zig {
        args.push("--zig".to_owned());
    }
    let command = format!("{} {}", request.python, args.join(" "));
    let failed = |status: String| WheelError::Failed {
        command: command.clone(),
        status,
    };
    let stderr = std::io::stderr();
    let stdout = std::os::fd::AsFd::as_fd(&stderr)
        .try_clone_to_owned()
        .map_err(|e| failed(e.to_string()))?;
    let status = Command::new(&request.python)
        .args(&args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(stdout))
        .status()
        .map_err(|e| failed(format!("it does not run: {e}")))?;
    if !status.success() {
        return Err(failed(status.to_string()));
    }
    let mut files = Vec::new();
    let entries = std::fs::read_dir(&out).map_err(store_err(&out))?;
    for entry in entries {
        let path = entry.map_err(store_err(&out))?.path();
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if path.extension().is_none_or(|e| e != "whl") {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(store_err(&path))?;
        check_binaries(dir, &name, &bytes, request.target.as_deref())?;
        files.push(File {
            name,
            sha256: sha256_hex(&bytes),
            size: bytes.len() as u64,
        });
    }
    if files.is_empty() {
        return Err(WheelError::NoWheel { command });
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    let wheels = Wheels {
        schema: 1,
        package: package.to_owned(),
        version: version.to_owned(),
        target,
        commit: commit.to_owned(),
        files,
    };
    let mut text = serde_json::to_string_pretty(&wheels).expect("a record serialises");
    text.push('\n');
    let record = out.join(RECORD);
    crate::fsutil::write_atomic(&record, text.as_bytes()).map_err(store_err(&record))?;
    Ok(wheels)
}

/// The executables a wheel installs (`<name>.data/scripts/`, maturin's `bin` bindings) and its
/// extension modules must be for the wheel's target: one of another architecture would install
/// and then fail on every user's machine.
fn check_binaries(
    dir: &Path,
    wheel: &str,
    bytes: &[u8],
    target: Option<&str>,
) -> Result<(), WheelError> {
    let target = match target {
        Some(t) => t.to_owned(),
        None => match super::build::host_target(dir) {
            Ok(t) => t,
            // Without `rustc` there is no telling the host's triple; maturin just built with it.
            Err(_) => return Ok(()),
        },
    };
    let binary = |name: &str| {
        (name.contains(".data/scripts/") && !name.ends_with('/'))
            || [".so", ".pyd", ".dylib"].iter().any(|e| name.ends_with(e))
    };
    // A binary larger than 1 GiB is no binary polyship ships.
    let entries = super::archive::zip_entries(bytes, &binary, 1 << 30).map_err(|why| {
        WheelError::Unreadable {
            wheel: wheel.to_owned(),
            why,
        }
    })?;
    for (entry, contents) in entries {
        // A script of `[project.scripts]` is text with a shebang, not a binary.
        if contents.starts_with(b"#!") {
            continue;
        }
        if let Some(why) = super::executable::mismatch(&contents, &target) {
            return Err(WheelError::WrongPlatform {
                wheel: wheel.to_owned(),
                entry,
                target,
                why,
            });
        }
    }
    Ok(())
}

/// Every wheel built at `commit` in `store`, checked against its record: the paths, sorted by
/// file name. A file that no longer matches its record is an error, not a silent skip.
pub fn built(store: &Store, commit: &str) -> Result<Vec<PathBuf>, StoreError> {
    let mut found = Vec::new();
    for (target, wheels) in super::records::<Wheels>(&wheels_dir(store), RECORD)? {
        let record = target.join(RECORD);
        if wheels.commit != commit {
            continue;
        }
        for file in &wheels.files {
            let path = target.join(&file.name);
            let bytes = std::fs::read(&path).map_err(|e| StoreError::Read {
                path: path.clone(),
                source: e,
            })?;
            if sha256_hex(&bytes) != file.sha256 {
                return Err(StoreError::Read {
                    path,
                    source: std::io::Error::other(format!(
                        "it changed since `{}` recorded it",
                        record.display()
                    )),
                });
            }
            found.push(path);
        }
    }
    found.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(found)
}
