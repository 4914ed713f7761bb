//! `image`: an OCI image of a package's binaries, assembled without a container daemon, written to
//! an OCI layout in the artifact store, then pushed to any registry of the distribution API.
//!
//! One image per Linux build of the commit (`FROM scratch`: one reproducible layer holding the
//! binaries under `/usr/local/bin`), and an image index over them. Every byte is a function of the
//! builds, the settings and the commit's time: layers are sorted tars with fixed owners and mtimes,
//! JSON is written with sorted keys. Pushing sends blobs first (each skipped when `HEAD` finds it),
//! manifests by digest, the index by digest, and tags last. The version's own tag is immutable: one
//! that points at another digest is an error. The others (`1.2`, `1`, `latest`) move.
//!
//! Registry credentials come from `REGISTRY_TOKEN` (a bearer token), `DOCKER_USERNAME` and
//! `DOCKER_PASSWORD`, or `~/.docker/config.json`'s `auths` for the registry's host. They are sent
//! to that host only, and to the token service its challenge names.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

use super::archive::{self, Entry, sha256_hex};
use super::{Build, Store, StoreError};

pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const INDEX: &str = "application/vnd.oci.image.index.v1+json";
const CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// How the image looks.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// `None`: the first binary.
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    /// More labels, over the `org.opencontainers.image.*` ones polyship sets.
    pub labels: Vec<(String, String)>,
    /// The repository's URL, for `org.opencontainers.image.source`.
    pub source: Option<String>,
    /// The base image, `host[:port]/path/name@sha256:…`; `None` (or `scratch`): none.
    pub base: Option<String>,
    /// Build each platform's image from this Dockerfile instead; the entrypoint, command,
    /// environment, working directory, user and base are then the Dockerfile's.
    pub dockerfile: Option<super::dockerfile::Dockerfile>,
}

/// An assembled image: the index's digest and every blob it needs, in the store's OCI layout.
#[derive(Debug, Clone)]
pub struct Image {
    pub layout: PathBuf,
    /// The image index, `sha256:…`.
    pub index: Descriptor,
    /// Per platform: the manifest.
    pub manifests: Vec<(String, Descriptor)>,
    /// Targets that have no Linux image (skipped).
    pub skipped: Vec<String>,
    /// Targets left out because another build has their platform: (left out, taken).
    pub shadowed: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
}

/// Why an image was not made or pushed.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no Linux build of `{package}` {version} at this commit to make an image of")]
    NothingBuilt { package: String, version: String },
    #[error("failed to write `{}`", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to read `{}`", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot make the layer")]
    Layer(#[source] archive::ArchiveError),
    #[error("{0}")]
    Time(String),
    #[error("`{0}` is not an image repository: write it as `host[:port]/path/name`")]
    Repository(String),
    #[error("`{url}` could not be reached: {message}")]
    Unreachable { url: String, message: String },
    #[error("`{url}` answered {status}{}", hint(*.status))]
    Status { url: String, status: u16 },
    #[error("the tag `{tag}` already points at `{theirs}`, not at this image `{ours}`")]
    TagTaken {
        tag: String,
        theirs: String,
        ours: String,
    },
    #[error("the registry's token service `{realm}` answered {status} and gave no token{}", hint(*.status))]
    NoToken { realm: String, status: u16 },
    #[error(
        "`{binary}` of the `{target}` build is linked dynamically (it needs `{loader}`): an image without a base has no loader to start it"
    )]
    Dynamic {
        binary: String,
        target: String,
        loader: String,
    },
    #[error("the base image `{0}` is not pinned by digest")]
    BaseNotPinned(String),
    #[error("the base image `{base}` has no `{platform}` image")]
    BasePlatform { base: String, platform: String },
    #[error("the base image `{base}` is unusable: {message}")]
    BaseUnusable { base: String, message: String },
    #[error("`{command}`: {message}")]
    Dockerfile { command: String, message: String },
    #[error("there is no Dockerfile `{}`", .0.display())]
    NoDockerfile(PathBuf),
    #[error("`{url}` sent bytes whose digest is `{got}`, not `{digest}`")]
    Digest {
        url: String,
        digest: String,
        got: String,
    },
}

fn hint(status: u16) -> &'static str {
    match status {
        401 => {
            " (no credentials, or refused: set `DOCKER_USERNAME` and `DOCKER_PASSWORD`, `REGISTRY_TOKEN`, or log in with `docker login`)"
        }
        403 => " (the credentials may not push to this repository)",
        _ => "",
    }
}

/// The OCI platform of a Rust target, `None` for a target with no Linux image.
pub fn platform(target: &str) -> Option<(&'static str, Option<&'static str>)> {
    if !target.contains("-linux-") {
        return None;
    }
    let arch = target.split('-').next()?;
    Some(match arch {
        "x86_64" => ("amd64", None),
        "aarch64" => ("arm64", None),
        "i686" | "i586" => ("386", None),
        "armv7" => ("arm", Some("v7")),
        "arm" => ("arm", Some("v6")),
        "riscv64gc" | "riscv64" => ("riscv64", None),
        "powerpc64le" => ("ppc64le", None),
        "s390x" => ("s390x", None),
        "loongarch64" => ("loong64", None),
        _ => return None,
    })
}

/// RFC 3339 UTC of a Unix time.
fn rfc3339(secs: u64) -> String {
    let (y, mo, d, h, mi, s) = crate::apply::commit::civil(secs);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// Assembles the image of every Linux build of `store` at `commit` into `store`'s OCI layout.
pub fn assemble(
    root: &Path,
    store: &Store,
    commit: &str,
    request: &Request,
) -> Result<Image, ImageError> {
    let builds: Vec<Build> = store
        .builds()?
        .into_iter()
        .filter(|b| b.commit == commit)
        .collect();
    let (all_with_platform, skipped): (Vec<&Build>, Vec<&Build>) =
        builds.iter().partition(|b| platform(&b.target).is_some());
    let (with_platform, shadowed) = one_per_platform(all_with_platform);
    let Some(first) = with_platform.first().copied().or(builds.first()) else {
        return Err(ImageError::NothingBuilt {
            package: String::new(),
            version: String::new(),
        });
    };
    if with_platform.is_empty() {
        return Err(ImageError::NothingBuilt {
            package: first.package.clone(),
            version: first.version.clone(),
        });
    }
    let time = super::source_date(root, commit).map_err(ImageError::Time)?;
    let layout = store.dir.join("oci");
    let blobs = layout.join("blobs").join("sha256");
    std::fs::create_dir_all(&blobs).map_err(|e| ImageError::Write {
        path: blobs.clone(),
        source: e,
    })?;
    let base = match request.base.as_deref() {
        None | Some("scratch") => None,
        Some(reference) => Some(BaseRef::parse(reference)?),
    };
    let mut manifests = Vec::new();
    let mut entries = Vec::new();
    for build in &with_platform {
        let (entry, manifest) = platform_image(
            root,
            store,
            build,
            request,
            commit,
            time,
            base.as_ref(),
            &blobs,
        )?;
        entries.push(entry);
        manifests.push((build.target.clone(), manifest));
    }
    let index = json!({ "schemaVersion": 2, "mediaType": INDEX, "manifests": entries });
    let index = put(&blobs, &bytes(&index), INDEX)?;
    let mut top = descriptor(&index);
    top["annotations"] = json!({ "org.opencontainers.image.ref.name": first.version });
    for (name, contents) in [
        (
            "oci-layout",
            bytes(&json!({ "imageLayoutVersion": "1.0.0" })),
        ),
        (
            "index.json",
            bytes(&json!({ "schemaVersion": 2, "mediaType": INDEX, "manifests": [top] })),
        ),
    ] {
        let path = layout.join(name);
        crate::fsutil::write_atomic(&path, &contents)
            .map_err(|e| ImageError::Write { path, source: e })?;
    }
    Ok(Image {
        layout,
        index,
        manifests,
        skipped: skipped.iter().map(|b| b.target.clone()).collect(),
        shadowed,
    })
}

/// One build per OCI platform: an index names each platform once. A musl build (static, so it
/// runs in any image, `scratch` too) is taken over a glibc one of the same architecture; the
/// others are returned as (left out, taken).
fn one_per_platform(builds: Vec<&Build>) -> (Vec<&Build>, Vec<(String, String)>) {
    let mut taken: Vec<&Build> = Vec::new();
    let mut shadowed = Vec::new();
    for build in builds {
        let here = platform(&build.target);
        match taken.iter_mut().find(|t| platform(&t.target) == here) {
            None => taken.push(build),
            Some(t) => {
                let (keep, drop) = if build.target.contains("musl") && !t.target.contains("musl") {
                    (build, *t)
                } else {
                    (*t, build)
                };
                shadowed.push((drop.target.clone(), keep.target.clone()));
                *t = keep;
            }
        }
    }
    (taken, shadowed)
}

/// An image `FROM scratch` has no dynamic loader and no C library: every binary must be static.
fn scratch_can_start(store: &Store, build: &Build) -> Result<(), ImageError> {
    for binary in &build.binaries {
        let path = store.target_dir(&build.target).join(&binary.name);
        let bytes = std::fs::read(&path).map_err(|e| ImageError::Read {
            path: path.clone(),
            source: e,
        })?;
        if let Some(loader) = super::executable::interpreter(&bytes) {
            return Err(ImageError::Dynamic {
                binary: binary.name.clone(),
                target: build.target.clone(),
                loader,
            });
        }
    }
    Ok(())
}

/// One build's image: its layer over the base's, its config and its manifest, written to
/// `blobs`; the index's entry for it, and the manifest's descriptor.
#[allow(clippy::too_many_arguments)]
fn platform_image(
    root: &Path,
    store: &Store,
    build: &Build,
    request: &Request,
    commit: &str,
    time: u64,
    base: Option<&BaseRef>,
    blobs: &Path,
) -> Result<(Value, Descriptor), ImageError> {
    let (arch, variant) = platform(&build.target).unwrap_or(("amd64", None));
    if let Some(dockerfile) = &request.dockerfile {
        let labels = labels_of(build, request, commit, &rfc3339(time));
        let manifest = super::dockerfile::build_image(
            root,
            store,
            build,
            dockerfile,
            &labels,
            time,
            (arch, variant),
            blobs,
        )?;
        return Ok((index_entry(&manifest, arch, variant), manifest));
    }
    let base = if let Some(b) = base {
        Some(b.pull(arch, variant, blobs)?)
    } else {
        scratch_can_start(store, build)?;
        None
    };
    let layer_tar = layer(store, build, time)?;
    let diff_id = format!("sha256:{}", sha256_hex(&layer_tar));
    let layer = put(blobs, &archive::gzip(&layer_tar), LAYER)?;
    let config = config(
        build,
        request,
        commit,
        time,
        (arch, variant),
        &diff_id,
        base.as_ref().map(|b| &b.config),
    );
    let config = put(blobs, &bytes(&config), CONFIG)?;
    let mut layers: Vec<Value> = base
        .iter()
        .flat_map(|b| b.layers.iter().map(descriptor))
        .collect();
    layers.push(descriptor(&layer));
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": descriptor(&config),
        "layers": layers,
    });
    let manifest = put(blobs, &bytes(&manifest), MANIFEST)?;
    Ok((index_entry(&manifest, arch, variant), manifest))
}

/// The image index's entry for a platform's manifest.
fn index_entry(manifest: &Descriptor, arch: &str, variant: Option<&str>) -> Value {
    let mut platform = json!({ "architecture": arch, "os": "linux" });
    if let Some(v) = variant {
        platform["variant"] = json!(v);
    }
    let mut entry = descriptor(manifest);
    entry["platform"] = platform;
    entry
}

/// Writes a blob to `blobs` under its digest (once: the name says what it holds).
fn put(blobs: &Path, bytes: &[u8], media_type: &str) -> Result<Descriptor, ImageError> {
    let hex = sha256_hex(bytes);
    let path = blobs.join(&hex);
    if !path.is_file() {
        crate::fsutil::write_atomic(&path, bytes)
            .map_err(|e| ImageError::Write { path, source: e })?;
    }
    Ok(Descriptor {
        media_type: media_type.to_owned(),
        digest: format!("sha256:{hex}"),
        size: bytes.len() as u64,
    })
}

fn bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("JSON serialises")
}

fn descriptor(d: &Descriptor) -> Value {
    json!({ "mediaType": d.media_type, "digest": d.digest, "size": d.size })
}

/// The layer: `usr/local/bin/<binary>` for each binary, with its directories.
fn layer(store: &Store, build: &Build, time: u64) -> Result<Vec<u8>, ImageError> {
    let mut entries = vec![
        Entry {
            name: "usr/".into(),
            contents: Vec::new(),
            executable: true,
        },
        Entry {
            name: "usr/local/".into(),
            contents: Vec::new(),
            executable: true,
        },
        Entry {
            name: "usr/local/bin/".into(),
            contents: Vec::new(),
            executable: true,
        },
    ];
    for binary in &build.binaries {
        let path = store.target_dir(&build.target).join(&binary.name);
        let contents = std::fs::read(&path).map_err(|e| ImageError::Read { path, source: e })?;
        entries.push(Entry {
            name: format!("usr/local/bin/{}", binary.name),
            contents,
            executable: true,
        });
    }
    let refs: Vec<&Entry> = entries.iter().collect();
    archive::tar(&refs, time).map_err(ImageError::Layer)
}

/// The image's config: the request over the base image's config (its environment, working
/// directory, user, labels, ports and volumes are kept unless the request sets them; its
/// entrypoint and command are not, as a Dockerfile's `ENTRYPOINT` resets `CMD`).
fn config(
    build: &Build,
    request: &Request,
    commit: &str,
    time: u64,
    (arch, variant): (&str, Option<&str>),
    diff_id: &str,
    base: Option<&Value>,
) -> Value {
    let created = rfc3339(time);
    let entrypoint = request.entrypoint.clone().unwrap_or_else(|| {
        build
            .binaries
            .first()
            .map(|b| vec![format!("/usr/local/bin/{}", b.name)])
            .unwrap_or_default()
    });
    let base_cfg = base.map(|b| &b["config"]);
    let mut labels = base_cfg
        .and_then(|c| c["Labels"].as_object().cloned())
        .unwrap_or_default();
    for (k, v) in labels_of(build, request, commit, &created) {
        labels.insert(k, json!(v));
    }
    let mut env: Vec<String> = base_cfg
        .and_then(|c| c["Env"].as_array())
        .map(|e| {
            e.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(
            0,
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_owned(),
        );
    }
    for var in &request.env {
        let key = var.split('=').next().unwrap_or(var);
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(var.clone());
    }
    let mut cfg = json!({ "Entrypoint": entrypoint, "Env": env, "Labels": labels });
    if !request.cmd.is_empty() {
        cfg["Cmd"] = json!(request.cmd);
    }
    for (key, ours) in [("WorkingDir", &request.workdir), ("User", &request.user)] {
        let theirs = base_cfg
            .and_then(|c| c[key].as_str())
            .filter(|v| !v.is_empty());
        if let Some(v) = ours.as_deref().or(theirs) {
            cfg[key] = json!(v);
        }
    }
    for key in ["ExposedPorts", "Volumes", "StopSignal"] {
        if let Some(v) = base_cfg.map(|c| &c[key]).filter(|v| !v.is_null()) {
            cfg[key] = v.clone();
        }
    }
    let mut diff_ids: Vec<Value> = base
        .and_then(|b| b["rootfs"]["diff_ids"].as_array().cloned())
        .unwrap_or_default();
    diff_ids.push(json!(diff_id));
    let mut history: Vec<Value> = base
        .and_then(|b| b["history"].as_array().cloned())
        .unwrap_or_default();
    history.push(json!({ "created": created, "created_by": "polyship artifacts image" }));
    let mut value = json!({
        "architecture": arch,
        "os": "linux",
        "created": created,
        "config": cfg,
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
        "history": history,
    });
    if let Some(v) = variant {
        value["variant"] = json!(v);
    }
    value
}

/// The labels polyship gives an image: `org.opencontainers.image.*` from the build and the commit,
/// then the request's own over them.
pub(super) fn labels_of(
    build: &Build,
    request: &Request,
    commit: &str,
    created: &str,
) -> Vec<(String, String)> {
    let mut labels = vec![
        (
            "org.opencontainers.image.title".to_owned(),
            build.package.clone(),
        ),
        (
            "org.opencontainers.image.version".to_owned(),
            build.version.clone(),
        ),
        (
            "org.opencontainers.image.revision".to_owned(),
            commit.to_owned(),
        ),
        (
            "org.opencontainers.image.created".to_owned(),
            created.to_owned(),
        ),
    ];
    if let Some(source) = &request.source {
        labels.push(("org.opencontainers.image.source".to_owned(), source.clone()));
    }
    if let Some(reference) = request.base.as_deref().filter(|b| *b != "scratch") {
        let (name, digest) = reference.split_once('@').unwrap_or((reference, ""));
        labels.push((
            "org.opencontainers.image.base.name".to_owned(),
            name.to_owned(),
        ));
        labels.push((
            "org.opencontainers.image.base.digest".to_owned(),
            digest.to_owned(),
        ));
    }
    for (k, v) in &request.labels {
        labels.retain(|(key, _)| key != k);
        labels.push((k.clone(), v.clone()));
    }
    labels
}

/// Streams a blob from `reader` into `blobs` under `digest` (`sha256:…`), checked on the way: a
/// blob whose bytes have another digest is not kept. `origin` names where it came from.
pub(super) fn write_blob(
    reader: &mut dyn std::io::Read,
    blobs: &Path,
    digest: &str,
    origin: &str,
    read_error: impl Fn(std::io::Error) -> ImageError,
) -> Result<(), ImageError> {
    use sha2::Digest as _;
    use std::io::Write as _;
    let hex = digest.trim_start_matches("sha256:");
    let partial = blobs.join(format!(".{hex}.partial"));
    let write = |e| ImageError::Write {
        path: partial.clone(),
        source: e,
    };
    let mut file = std::fs::File::create(&partial).map_err(write)?;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0; 1 << 16];
    loop {
        let n = reader.read(&mut buf).map_err(&read_error)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n]).map_err(write)?;
    }
    let got = format!("sha256:{}", archive::hex(&hasher.finalize()));
    if got != digest {
        let _ = std::fs::remove_file(&partial);
        return Err(ImageError::Digest {
            url: origin.to_owned(),
            digest: digest.to_owned(),
            got,
        });
    }
    file.sync_all().map_err(write)?;
    std::fs::rename(&partial, blobs.join(hex)).map_err(write)
}

/// A base image named by digest.
struct BaseRef {
    reference: String,
    repo: Repository,
    digest: String,
}

/// A base image for one platform: its layers (in the layout's blobs) and its config.
struct Base {
    layers: Vec<Descriptor>,
    config: Value,
}

const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

impl BaseRef {
    fn parse(reference: &str) -> Result<BaseRef, ImageError> {
        let Some((name, digest)) = reference.split_once('@') else {
            return Err(ImageError::BaseNotPinned(reference.to_owned()));
        };
        let hex = digest.strip_prefix("sha256:").unwrap_or_default();
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ImageError::BaseNotPinned(reference.to_owned()));
        }
        // A tag before the digest (`name:tag@sha256:…`) says nothing the digest does not.
        let name = match name.rsplit_once(':') {
            Some((n, tag)) if !tag.contains('/') && n.contains('/') => n,
            _ => name,
        };
        Ok(BaseRef {
            reference: reference.to_owned(),
            repo: Repository::parse(name)?,
            digest: digest.to_ascii_lowercase(),
        })
    }

    fn unusable(&self, message: impl Into<String>) -> ImageError {
        ImageError::BaseUnusable {
            base: self.reference.clone(),
            message: message.into(),
        }
    }

    /// The base's image for `arch`/`variant`, its blobs fetched into `blobs` (a rerun finds
    /// them there and asks the registry nothing: they are named by digest).
    fn pull(&self, arch: &str, variant: Option<&str>, blobs: &Path) -> Result<Base, ImageError> {
        let mut client = Client::new(&self.repo);
        let accept = format!("{INDEX}, {MANIFEST}, {DOCKER_LIST}, {DOCKER_MANIFEST}");
        let mut digest = self.digest.clone();
        let mut manifest = client.fetch(&self.repo, &digest, Some(&accept), blobs)?;
        let parsed = |bytes: &[u8], digest: &str| -> Result<Value, ImageError> {
            serde_json::from_slice(bytes).map_err(|e| self.unusable(format!("{digest}: {e}")))
        };
        let mut value = parsed(&manifest, &digest)?;
        let wanted = match variant {
            Some(v) => format!("linux/{arch}/{v}"),
            None => format!("linux/{arch}"),
        };
        if let Some(entries) = value["manifests"].as_array() {
            let entry = entries
                .iter()
                .find(|e| {
                    let p = &e["platform"];
                    p["os"] == "linux"
                        && p["architecture"] == arch
                        && match (variant, p["variant"].as_str()) {
                            (Some(v), Some(theirs)) => v == theirs,
                            (Some(_), None) => false,
                            (None, theirs) => theirs.is_none_or(|t| t == "v8"),
                        }
                })
                .ok_or_else(|| ImageError::BasePlatform {
                    base: self.reference.clone(),
                    platform: wanted.clone(),
                })?;
            entry["digest"]
                .as_str()
                .unwrap_or_default()
                .clone_into(&mut digest);
            manifest = client.fetch(&self.repo, &digest, Some(&accept), blobs)?;
            value = parsed(&manifest, &digest)?;
        }
        let media = value["mediaType"].as_str().unwrap_or(MANIFEST);
        if media != MANIFEST && media != DOCKER_MANIFEST || value["config"]["digest"].is_null() {
            return Err(self.unusable(format!(
                "`{digest}` is a `{media}`, not an image manifest (schema 1 images are not supported)"
            )));
        }
        let config_digest = value["config"]["digest"].as_str().unwrap_or_default();
        let config = parsed(
            &client.fetch(&self.repo, config_digest, None, blobs)?,
            config_digest,
        )?;
        let theirs = format!(
            "{}/{}",
            config["os"].as_str().unwrap_or("?"),
            config["architecture"].as_str().unwrap_or("?")
        );
        if !wanted.starts_with(&theirs) {
            return Err(ImageError::BasePlatform {
                base: format!("{} (a {theirs} image)", self.reference),
                platform: wanted,
            });
        }
        let mut layers = Vec::new();
        for layer in value["layers"].as_array().into_iter().flatten() {
            let media_type = match layer["mediaType"].as_str().unwrap_or_default() {
                "application/vnd.docker.image.rootfs.diff.tar.gzip" => LAYER,
                t @ ("application/vnd.oci.image.layer.v1.tar"
                | "application/vnd.oci.image.layer.v1.tar+gzip"
                | "application/vnd.oci.image.layer.v1.tar+zstd") => t,
                other => {
                    return Err(self.unusable(format!(
                        "its layer type `{other}` cannot be copied (foreign and non-distributable layers stay on their own registry)"
                    )));
                }
            };
            let digest = layer["digest"].as_str().unwrap_or_default();
            client.fetch_blob(&self.repo, digest, blobs)?;
            layers.push(Descriptor {
                media_type: media_type.to_owned(),
                digest: digest.to_owned(),
                size: layer["size"].as_u64().unwrap_or(0),
            });
        }
        Ok(Base { layers, config })
    }
}

/// The tags of `version`: the `templates` (`{version}`, `{major}`, `{minor}`, `{patch}`) rendered;
/// a prerelease gets only the tags that name its whole version.
pub fn tags(templates: &[String], version: &str) -> Vec<String> {
    let parsed = semver::Version::parse(version).ok();
    let pre = parsed.as_ref().is_some_and(|v| !v.pre.is_empty());
    let mut tags = Vec::new();
    for t in templates {
        if pre && !t.contains("{version}") {
            continue;
        }
        let mut tag = t.replace("{version}", version);
        if let Some(v) = &parsed {
            tag = tag
                .replace("{major}", &v.major.to_string())
                .replace("{minor}", &v.minor.to_string())
                .replace("{patch}", &v.patch.to_string());
        }
        // Tags allow `[A-Za-z0-9_.-]`; a SemVer build's `+` becomes `_`, as Docker's own tools do.
        let tag = tag.replace('+', "_");
        if !tag.is_empty() && !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    tags
}

/// The default tag templates.
pub fn default_tags() -> Vec<String> {
    ["{version}", "{major}.{minor}", "{major}", "latest"]
        .map(str::to_owned)
        .to_vec()
}

/// What pushing did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Pushed {
    pub blobs_sent: usize,
    pub blobs_present: usize,
    /// Tags set or moved.
    pub tagged: Vec<String>,
    /// Tags that already pointed at this image.
    pub unchanged: Vec<String>,
}

/// Pushes the assembled image to `repository` (`host[:port]/path/name`) under `tags`; `immutable`
/// tags may not point elsewhere already.
pub fn push(
    image: &Image,
    repository: &str,
    tags: &[String],
    immutable: &[String],
) -> Result<Pushed, ImageError> {
    let repo = Repository::parse(repository)?;
    let base = repo.base.clone();
    let mut client = Client::new(&repo);
    let mut pushed = Pushed::default();
    let blobs = image.layout.join("blobs").join("sha256");
    let read = |d: &Descriptor| {
        let path = blobs.join(d.digest.trim_start_matches("sha256:"));
        std::fs::read(&path).map_err(|e| ImageError::Read { path, source: e })
    };
    // Blobs: every manifest's config and layers.
    for (_, manifest) in &image.manifests {
        let m: Value = serde_json::from_slice(&read(manifest)?).unwrap_or(Value::Null);
        let mut wanted = vec![m["config"].clone()];
        wanted.extend(m["layers"].as_array().cloned().unwrap_or_default());
        for blob in wanted {
            let digest = blob["digest"].as_str().unwrap_or_default().to_owned();
            let d = Descriptor {
                media_type: String::new(),
                digest: digest.clone(),
                size: blob["size"].as_u64().unwrap_or(0),
            };
            let url = format!("{base}/blobs/{digest}");
            if client.send("HEAD", &url, None, None)?.status == 200 {
                pushed.blobs_present += 1;
                continue;
            }
            client.upload_blob(&base, &digest, &read(&d)?)?;
            pushed.blobs_sent += 1;
        }
    }
    // Manifests, then the index, by digest: exactly the bytes the index names.
    for (_, manifest) in &image.manifests {
        client.put_manifest(&base, &manifest.digest, MANIFEST, &read(manifest)?)?;
    }
    let index = read(&image.index)?;
    client.put_manifest(&base, &image.index.digest, INDEX, &index)?;
    for tag in tags {
        let url = format!("{base}/manifests/{tag}");
        let reply = client.send("HEAD", &url, None, Some(&format!("{INDEX}, {MANIFEST}")))?;
        let current = (reply.status == 200).then_some(reply.digest).flatten();
        match current {
            Some(d) if d == image.index.digest => {
                pushed.unchanged.push(tag.clone());
                continue;
            }
            Some(d) if immutable.contains(tag) => {
                return Err(ImageError::TagTaken {
                    tag: tag.clone(),
                    theirs: d,
                    ours: image.index.digest.clone(),
                });
            }
            _ => {}
        }
        client.put_manifest(&base, tag, INDEX, &index)?;
        pushed.tagged.push(tag.clone());
    }
    Ok(pushed)
}

/// What is wrong with the image of `store`'s OCI layout at `repository`: each of `tags` must name
/// the layout's index, and every platform's manifest, config and layers must be there. An empty
/// list: the image is complete.
pub fn check(store: &Store, repository: &str, tags: &[String]) -> Result<Vec<String>, ImageError> {
    let layout = store.dir.join("oci");
    let read =
        |path: PathBuf| std::fs::read(&path).map_err(|e| ImageError::Read { path, source: e });
    let top: Value =
        serde_json::from_slice(&read(layout.join("index.json"))?).unwrap_or(Value::Null);
    let Some(index) = top["manifests"][0]["digest"].as_str().map(str::to_owned) else {
        return Ok(vec![format!(
            "no image was assembled in `{}`: run the `image` step first",
            layout.display()
        )]);
    };
    let blobs = layout.join("blobs").join("sha256");
    let blob = |digest: &str| -> Result<Value, ImageError> {
        let bytes = read(blobs.join(digest.trim_start_matches("sha256:")))?;
        Ok(serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    };
    let repo = Repository::parse(repository)?;
    let mut client = Client::new(&repo);
    let mut problems = Vec::new();
    let accept = format!("{INDEX}, {MANIFEST}");
    for tag in tags {
        let url = format!("{}/manifests/{tag}", repo.base);
        let reply = client.send("HEAD", &url, None, Some(&accept))?;
        match (reply.status, reply.digest) {
            (200, Some(d)) if d == index => {}
            (200, d) => problems.push(format!(
                "`{repository}:{tag}` names `{}`, not this release's image `{index}`",
                d.unwrap_or_else(|| "an unknown digest".into())
            )),
            (404, _) => problems.push(format!("`{repository}:{tag}` is not there")),
            (status, _) => return Err(ImageError::Status { url, status }),
        }
    }
    for entry in blob(&index)?["manifests"].as_array().into_iter().flatten() {
        let digest = entry["digest"].as_str().unwrap_or_default();
        let platform = format!(
            "{}/{}",
            entry["platform"]["os"].as_str().unwrap_or("?"),
            entry["platform"]["architecture"].as_str().unwrap_or("?")
        );
        let url = format!("{}/manifests/{digest}", repo.base);
        if client.send("HEAD", &url, None, Some(&accept))?.status != 200 {
            problems.push(format!(
                "the {platform} image `{digest}` is not in `{repository}`"
            ));
            continue;
        }
        let manifest = blob(digest)?;
        let mut wanted = vec![manifest["config"].clone()];
        wanted.extend(manifest["layers"].as_array().cloned().unwrap_or_default());
        for b in wanted {
            let d = b["digest"].as_str().unwrap_or_default();
            let url = format!("{}/blobs/{d}", repo.base);
            if client.send("HEAD", &url, None, None)?.status != 200 {
                problems.push(format!(
                    "the {platform} image's blob `{d}` is not in `{repository}`"
                ));
            }
        }
    }
    Ok(problems)
}

/// `DOCKER_USERNAME`/`DOCKER_PASSWORD`, else `~/.docker/config.json`'s entry for `host`.
fn credentials(host: &str) -> Option<(String, String)> {
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
    if let (Some(u), Some(p)) = (var("DOCKER_USERNAME"), var("DOCKER_PASSWORD")) {
        return Some((u, p));
    }
    let config = var("DOCKER_CONFIG").map_or_else(
        || PathBuf::from(var("HOME").unwrap_or_default()).join(".docker"),
        PathBuf::from,
    );
    let text = std::fs::read_to_string(config.join("config.json")).ok()?;
    let value: Value = serde_json::from_str(&text).ok()?;
    let auth = value["auths"][host]["auth"].as_str()?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(auth)
        .ok()?;
    let (u, p) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}

/// `host[:port]/path/name` and its API's base URL (plain http on loopback).
#[derive(Debug, Clone)]
struct Repository {
    host: String,
    name: String,
    base: String,
}

impl Repository {
    fn parse(repository: &str) -> Result<Repository, ImageError> {
        let (host, name) = repository
            .split_once('/')
            .filter(|(h, n)| {
                !h.is_empty()
                    && !n.is_empty()
                    && (h.contains('.') || h.contains(':') || *h == "localhost")
            })
            .ok_or_else(|| ImageError::Repository(repository.to_owned()))?;
        let loopback =
            host.starts_with("127.") || host.starts_with("localhost") || host.starts_with("[::1]");
        let scheme = if loopback { "http" } else { "https" };
        Ok(Repository {
            host: host.to_owned(),
            name: name.to_owned(),
            base: format!("{scheme}://{host}/v2/{name}"),
        })
    }
}

/// A registry's answer: the status, the headers polyship reads, and the response for its body.
struct Reply {
    status: u16,
    location: Option<String>,
    digest: Option<String>,
    response: ureq::http::Response<ureq::Body>,
}

/// The largest manifest or config polyship reads.
const DOCUMENT_LIMIT: u64 = 4 << 20;

struct Client {
    agent: ureq::Agent,
    host: String,
    name: String,
    credentials: Option<(String, String)>,
    /// A bearer token: given, or from the token service.
    bearer: Option<String>,
    /// The registry asked for basic credentials once: every request sends them.
    basic: bool,
}

impl Client {
    fn new(repo: &Repository) -> Client {
        Client {
            agent: crate::release::registry::transfer_agent(),
            host: repo.host.clone(),
            name: repo.name.clone(),
            credentials: credentials(&repo.host),
            bearer: std::env::var("REGISTRY_TOKEN")
                .ok()
                .filter(|t| !t.is_empty()),
            basic: false,
        }
    }

    /// A manifest or config by digest, from `blobs` when it is there, else from the registry
    /// (checked against its digest, then kept in `blobs`).
    fn fetch(
        &mut self,
        repo: &Repository,
        digest: &str,
        accept: Option<&str>,
        blobs: &Path,
    ) -> Result<Vec<u8>, ImageError> {
        let path = blobs.join(digest.trim_start_matches("sha256:"));
        if let Ok(bytes) = std::fs::read(&path) {
            return Ok(bytes);
        }
        let kind = if accept.is_some() {
            "manifests"
        } else {
            "blobs"
        };
        let url = format!("{}/{kind}/{digest}", repo.base);
        let bytes = self
            .get(&url, accept)?
            .response
            .into_body()
            .into_with_config()
            .limit(DOCUMENT_LIMIT)
            .read_to_vec()
            .map_err(|e| ImageError::Unreachable {
                url: url.clone(),
                message: e.to_string(),
            })?;
        let got = format!("sha256:{}", sha256_hex(&bytes));
        if got != digest {
            return Err(ImageError::Digest {
                url,
                digest: digest.to_owned(),
                got,
            });
        }
        crate::fsutil::write_atomic(&path, &bytes)
            .map_err(|e| ImageError::Write { path, source: e })?;
        Ok(bytes)
    }

    /// A `GET` that must answer 200.
    fn get(&mut self, url: &str, accept: Option<&str>) -> Result<Reply, ImageError> {
        let reply = self.send("GET", url, None, accept)?;
        if reply.status == 200 {
            Ok(reply)
        } else {
            Err(ImageError::Status {
                url: url.to_owned(),
                status: reply.status,
            })
        }
    }

    /// A layer by digest into `blobs`, streamed and checked against its digest on the way; a
    /// layer already there is not fetched again.
    fn fetch_blob(
        &mut self,
        repo: &Repository,
        digest: &str,
        blobs: &Path,
    ) -> Result<(), ImageError> {
        if blobs.join(digest.trim_start_matches("sha256:")).is_file() {
            return Ok(());
        }
        let url = format!("{}/blobs/{digest}", repo.base);
        let reply = self.get(&url, None)?;
        let mut reader = reply
            .response
            .into_body()
            .into_with_config()
            .limit(u64::MAX)
            .reader();
        write_blob(&mut reader, blobs, digest, &url, |e| {
            ImageError::Unreachable {
                url: url.clone(),
                message: e.to_string(),
            }
        })
    }

    /// One request; a 401 with a challenge is answered once (basic credentials, or a token from
    /// the challenge's realm) and the request sent again. Returns the status, the `Location` and
    /// the `Docker-Content-Digest` headers.
    fn send(
        &mut self,
        method: &str,
        url: &str,
        body: Option<(&str, &[u8])>,
        accept: Option<&str>,
    ) -> Result<Reply, ImageError> {
        let mut answered = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = ureq::http::Request::builder().method(method).uri(url);
            if let Some(a) = accept {
                request = request.header("Accept", a);
            }
            if let Some(token) = &self.bearer {
                request = request.header("Authorization", format!("Bearer {token}"));
            } else if self.basic
                && let Some((u, p)) = &self.credentials
            {
                let basic = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
                request = request.header("Authorization", format!("Basic {basic}"));
            }
            let result = match body {
                Some((content_type, bytes)) => request
                    .header("Content-Type", content_type)
                    .body(bytes.to_vec())
                    .map_err(|e| e.to_string())
                    .and_then(|r| self.agent.run(r).map_err(|e| e.to_string())),
                None => request
                    .body(())
                    .map_err(|e| e.to_string())
                    .and_then(|r| self.agent.run(r).map_err(|e| e.to_string())),
            };
            let response = match result {
                Ok(r) => r,
                Err(_) if attempt < 4 => {
                    std::thread::sleep(Duration::from_millis(300 << attempt));
                    continue;
                }
                Err(message) => {
                    return Err(ImageError::Unreachable {
                        url: url.to_owned(),
                        message,
                    });
                }
            };
            let status = response.status().as_u16();
            let header = |n: &str| {
                response
                    .headers()
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            if status == 401 && !answered {
                answered = true;
                if let Some(challenge) = header("www-authenticate") {
                    self.answer(&challenge)?;
                    continue;
                }
            }
            if status >= 500 && attempt < 4 {
                std::thread::sleep(Duration::from_millis(300 << attempt));
                continue;
            }
            let (location, digest) = (header("location"), header("docker-content-digest"));
            return Ok(Reply {
                status,
                location,
                digest,
                response,
            });
        }
    }

    /// A `Bearer realm=…,service=…,scope=…` challenge: fetch a token with the credentials (or
    /// anonymously). A `Basic` challenge: the credentials go with the next request.
    fn answer(&mut self, challenge: &str) -> Result<(), ImageError> {
        let Some(params) = challenge.strip_prefix("Bearer ") else {
            self.basic = true;
            return Ok(());
        };
        let param = |key: &str| {
            params.split(',').find_map(|kv| {
                let (k, v) = kv.trim().split_once('=')?;
                (k == key).then(|| v.trim_matches('"').to_owned())
            })
        };
        let realm = param("realm").unwrap_or_default();
        let service = param("service").unwrap_or_else(|| self.host.clone());
        let url = format!(
            "{realm}?service={service}&scope=repository:{}:pull,push",
            self.name
        );
        let mut request = ureq::http::Request::builder().method("GET").uri(&url);
        if let Some((u, p)) = &self.credentials {
            let basic = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
            request = request.header("Authorization", format!("Basic {basic}"));
        }
        let request = request.body(()).map_err(|e| ImageError::Unreachable {
            url: realm.clone(),
            message: e.to_string(),
        })?;
        let mut response = self
            .agent
            .run(request)
            .map_err(|e| ImageError::Unreachable {
                url: realm.clone(),
                message: e.to_string(),
            })?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let token = value["token"]
            .as_str()
            .or(value["access_token"].as_str())
            .ok_or(ImageError::NoToken { realm, status })?;
        self.bearer = Some(token.to_owned());
        Ok(())
    }

    fn upload_blob(&mut self, base: &str, digest: &str, bytes: &[u8]) -> Result<(), ImageError> {
        let start = format!("{base}/blobs/uploads/");
        let Reply {
            status, location, ..
        } = self.send("POST", &start, None, None)?;
        if status != 202 {
            return Err(ImageError::Status { url: start, status });
        }
        let location = location.ok_or_else(|| ImageError::Status {
            url: start.clone(),
            status,
        })?;
        // The location may be relative to the registry.
        let location = if location.starts_with('/') {
            let origin: String = base.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
            format!("{origin}{location}")
        } else {
            location
        };
        let sep = if location.contains('?') { '&' } else { '?' };
        let url = format!("{location}{sep}digest={digest}");
        let status = self
            .send("PUT", &url, Some(("application/octet-stream", bytes)), None)?
            .status;
        if status == 201 || status == 204 {
            Ok(())
        } else {
            Err(ImageError::Status { url: start, status })
        }
    }

    fn put_manifest(
        &mut self,
        base: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<(), ImageError> {
        let url = format!("{base}/manifests/{reference}");
        let status = self
            .send("PUT", &url, Some((media_type, bytes)), None)?
            .status;
        if status == 201 || status == 200 {
            Ok(())
        } else {
            Err(ImageError::Status { url, status })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_names_each_platform_once_musl_first() {
        let build = |target: &str| crate::artifacts::Build {
            schema: 1,
            package: "tool".into(),
            version: "1.0.0".into(),
            target: target.into(),
            commit: "c".into(),
            binaries: Vec::new(),
        };
        let builds = [
            build("x86_64-unknown-linux-gnu"),
            build("aarch64-unknown-linux-gnu"),
            build("x86_64-unknown-linux-musl"),
            build("armv7-unknown-linux-gnueabihf"),
        ];
        let (taken, shadowed) = one_per_platform(builds.iter().collect());
        let taken: Vec<&str> = taken.iter().map(|b| b.target.as_str()).collect();
        assert_eq!(
            taken,
            [
                "x86_64-unknown-linux-musl",
                "aarch64-unknown-linux-gnu",
                "armv7-unknown-linux-gnueabihf"
            ]
        );
        assert_eq!(
            shadowed,
            [(
                "x86_64-unknown-linux-gnu".to_owned(),
                "x86_64-unknown-linux-musl".to_owned()
            )]
        );
    }

    #[test]
    fn tags_follow_the_version_and_prereleases_get_only_their_own() {
        assert_eq!(
            tags(&default_tags(), "1.4.2"),
            ["1.4.2", "1.4", "1", "latest"]
        );
        assert_eq!(tags(&default_tags(), "2.0.0-rc.1"), ["2.0.0-rc.1"]);
        assert_eq!(
            tags(&["v{version}".into()], "1.0.0+build.5"),
            ["v1.0.0_build.5"]
        );
    }

    #[test]
    fn linux_targets_have_platforms() {
        assert_eq!(platform("x86_64-unknown-linux-musl"), Some(("amd64", None)));
        assert_eq!(
            platform("armv7-unknown-linux-gnueabihf"),
            Some(("arm", Some("v7")))
        );
        assert_eq!(platform("x86_64-pc-windows-msvc"), None);
        assert_eq!(platform("aarch64-apple-darwin"), None);
        assert_eq!(rfc3339(1_795_305_600), "2026-11-22T00:00:00Z");
    }
}
