//! Building and uploading with each ecosystem's own tools ([`crate::ecosystem::Publish`]: `cargo
//! package`/`cargo publish`, `npm`/`pnpm`/`yarn pack` then `npm publish <tarball>`, `python -m
//! build` then `twine upload`): what every build shares — [`Setup`], running a tool with its output
//! redacted, the export of the release commit, checksums and the packed manifest's check.
//!
//! Secrets reach the tools through the environment (or the tool's own credential store), never
//! through arguments; everything the tools print is redacted before polyship keeps it.

use std::fmt::Write as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::Digest as _;

use super::redact::Redactor;
use crate::workspace::Package;

/// A file built for upload, with the checksum its registry records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub path: PathBuf,
    /// sha256 hex (Cargo, Python) or an npm `sha512-…` integrity.
    pub checksum: String,
}

/// A tool that failed; `output` is redacted.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ToolError {
    pub message: String,
    /// Whether the failure looks passing (rate limits, 5xx, dropped connections): worth a retry.
    pub transient: bool,
}

/// Which npm client packs: the one whose workspace protocol the repository uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NpmClient {
    #[default]
    Npm,
    Pnpm,
    Yarn,
}

impl NpmClient {
    /// pnpm for a pnpm workspace, Yarn for a Yarn Berry one, else npm.
    pub fn detect(root: &Path) -> Self {
        if root.join("pnpm-workspace.yaml").exists() || root.join("pnpm-lock.yaml").exists() {
            NpmClient::Pnpm
        } else if root.join(".yarnrc.yml").exists() {
            NpmClient::Yarn
        } else {
            NpmClient::Npm
        }
    }

    pub fn program(self) -> &'static str {
        match self {
            NpmClient::Npm => "npm",
            NpmClient::Pnpm => "pnpm",
            NpmClient::Yarn => "yarn",
        }
    }
}

/// Everything a package's build and upload need to know.
#[derive(Debug, Clone)]
pub struct Setup {
    pub root: PathBuf,
    /// Each ecosystem's own settings, which only its adapter reads.
    pub settings: crate::ecosystem::Settings,
    /// `SOURCE_DATE_EPOCH` for reproducible builds: the release commit's time.
    pub source_date_epoch: i64,
    pub redactor: Redactor,
    /// The release commit, and where it is exported (once, on first need) for builds.
    pub commit: String,
    /// The common git directory: the artifact store is under it.
    pub git_dir: PathBuf,
    pub export_dir: PathBuf,
    pub exported: std::sync::OnceLock<Result<PathBuf, ToolError>>,
}

/// Words in a tool's output that mark a failure as passing.
const TRANSIENT: &[&str] = &[
    " 429",
    "429 ",
    "Too Many Requests",
    " 500",
    " 502",
    " 503",
    " 504",
    "Internal Server Error",
    "Bad Gateway",
    "Service Unavailable",
    "Gateway Time",
    "ECONNRESET",
    "ETIMEDOUT",
    "EPIPE",
    "socket hang up",
    "Connection reset",
    "connection reset",
    "Connection aborted",
    "RemoteDisconnected",
    "timed out",
    "connection closed",
    "Connection closed",
];

impl Setup {
    pub(crate) fn run(&self, mut command: Command, what: &str) -> Result<String, ToolError> {
        command.env("SOURCE_DATE_EPOCH", self.source_date_epoch.to_string());
        let program = command.get_program().to_string_lossy().into_owned();
        let out = command.output().map_err(|e| ToolError {
            message: format!("{what}: could not run `{program}`: {e}"),
            transient: false,
        })?;
        let stdout = self.redactor.redact_bytes(&out.stdout);
        let stderr = self.redactor.redact_bytes(&out.stderr);
        if out.status.success() {
            return Ok(format!("{stdout}{stderr}"));
        }
        let text = format!("{stdout}\n{stderr}");
        let transient = TRANSIENT.iter().any(|w| text.contains(w));
        // The end of the output says why; keep the last lines.
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let tail = lines[lines.len().saturating_sub(15)..].join("\n  ");
        Err(ToolError {
            message: format!("{what} failed ({}):\n  {tail}", out.status),
            transient,
        })
    }

    /// The release commit's files (`git archive`), exported once into `export_dir`. A marker
    /// written last names the commit, so an export cut short by a kill is made again.
    pub(crate) fn exported_tree(&self) -> Result<&Path, ToolError> {
        let result = self.exported.get_or_init(|| {
            let dir = &self.export_dir;
            let marker = dir.join(".polyship-export");
            if std::fs::read_to_string(&marker).is_ok_and(|c| c.trim() == self.commit) {
                return Ok(dir.clone());
            }
            let fail = |e: String| ToolError {
                message: format!("exporting {} to {} failed: {e}", self.commit, dir.display()),
                transient: false,
            };
            if dir.exists() {
                fs_err::remove_dir_all(dir).map_err(|e| fail(e.to_string()))?;
            }
            fs_err::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
            let mut archive = Command::new("git")
                .args(["archive", "--format=tar", &self.commit])
                .current_dir(&self.root)
                .stdout(std::process::Stdio::piped())
                .spawn()
                .map_err(|e| fail(e.to_string()))?;
            let stdout = archive
                .stdout
                .take()
                .ok_or_else(|| fail("no pipe".into()))?;
            let extracted = Command::new("tar")
                .arg("-x")
                .arg("-C")
                .arg(dir)
                .stdin(stdout)
                .status()
                .map_err(|e| fail(e.to_string()))?;
            let archived = archive.wait().map_err(|e| fail(e.to_string()))?;
            if !archived.success() || !extracted.success() {
                return Err(fail(format!("git archive {archived}, tar {extracted}")));
            }
            fs_err::write(&marker, &self.commit).map_err(|e| fail(e.to_string()))?;
            Ok(dir.clone())
        });
        result.as_deref().map_err(Clone::clone)
    }

    /// Whether the package is published from its directory rather than from a tarball built first:
    /// npm packages of an npm workspace (npm packs what it publishes, and rewrites nothing, so
    /// the manifest can be checked as it is). One `npm publish` instead of `npm pack` then
    /// `npm publish <tarball>` halves the Node start-ups, the larger part of an npm release.
    pub fn publishes_directly(&self, package: &Package) -> bool {
        package.ecosystem.adapter().publishes_from_directory(self)
    }

    /// Checks the manifest of a package published directly.
    pub fn check_source_manifest(&self, package: &Package) -> Result<(), ToolError> {
        let text =
            fs_err::read_to_string(self.root.join(&package.manifest)).map_err(|e| ToolError {
                message: e.to_string(),
                transient: false,
            })?;
        check_manifest_text(&text, "the manifest", package)
    }

    /// Builds what will be uploaded into `work` (emptied first).
    pub fn pack(&self, package: &Package, work: &Path) -> Result<Vec<Artifact>, ToolError> {
        let io = io_error(work);
        if work.exists() {
            fs_err::remove_dir_all(work).map_err(io)?;
        }
        fs_err::create_dir_all(work).map_err(io)?;
        package.ecosystem.adapter().pack(self, package, work)
    }

    /// Uploads what [`Setup::pack`] built; returns what the tool printed (redacted).
    pub fn upload(&self, package: &Package, artifacts: &[Artifact]) -> Result<String, ToolError> {
        package.ecosystem.adapter().upload(self, package, artifacts)
    }
}

/// How an I/O failure while preparing `work` reads.
pub(crate) fn io_error(work: &Path) -> impl Fn(std::io::Error) -> ToolError + Copy + '_ {
    move |e| ToolError {
        message: format!("failed to prepare {}: {e}", work.display()),
        transient: false,
    }
}

/// The one file in `dir` whose name ends with `suffix`.
pub(crate) fn only_file(dir: &Path, suffix: &str) -> std::io::Result<PathBuf> {
    let mut found: Vec<PathBuf> = fs_err::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    if found.len() == 1 {
        Ok(found.remove(0))
    } else {
        Err(std::io::Error::other(format!(
            "expected one `*{suffix}` file in {}, found {}",
            dir.display(),
            found.len()
        )))
    }
}

/// sha256 of a file, hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let bytes = fs_err::read(path)?;
    Ok(sha2::Sha256::digest(&bytes)
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        }))
}

/// An npm `integrity`: `sha512-` and the base64 of the sha512 of the tarball.
pub fn integrity_file(path: &Path) -> std::io::Result<String> {
    use base64::Engine as _;
    let bytes = fs_err::read(path)?;
    Ok(format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(&bytes))
    ))
}

/// Whether a registry's record of a version is the content of these artifacts: some checksum the
/// registry gives is one of ours, compared kind with kind (npm `sha512-` integrity, sha256 hex,
/// npm's sha1 `shasum`). `None` when no checksum of the registry's is of a kind polyship has, or
/// there are no artifacts.
pub fn same_content(registry: &[String], artifacts: &[Artifact]) -> Option<bool> {
    fn kind(c: &str) -> Option<usize> {
        if c.starts_with("sha512-") {
            return Some(0);
        }
        let hex = c.bytes().all(|b| b.is_ascii_hexdigit());
        match c.len() {
            64 if hex => Some(64),
            40 if hex => Some(40),
            _ => None,
        }
    }
    let mut compared = false;
    for theirs in registry {
        for ours in artifacts {
            if kind(theirs).is_some() && kind(theirs) == kind(&ours.checksum) {
                if theirs.eq_ignore_ascii_case(&ours.checksum) {
                    return Some(true);
                }
                compared = true;
            }
        }
    }
    compared.then_some(false)
}

/// The sha1 `shasum` npm's upload notice gives of the tarball it made from a directory
/// (`npm notice shasum: …`, printed before the upload), as an artifact to compare with the
/// registry's record. `None` when the notice is not there (a quieter log level).
pub fn npm_notice_shasum(output: &str) -> Option<Artifact> {
    output.lines().find_map(|l| {
        let value = l.trim().strip_prefix("npm notice shasum:")?.trim();
        (value.len() == 40 && value.bytes().all(|b| b.is_ascii_hexdigit())).then(|| Artifact {
            path: PathBuf::new(),
            checksum: value.to_ascii_lowercase(),
        })
    })
}

/// Refuses a packed npm manifest that still has `workspace:` (or `catalog:`) requirements: the
/// registry would publish a package nobody can install.
pub(crate) fn check_packed_manifest(tarball: &Path, package: &Package) -> Result<(), ToolError> {
    let text = read_tar_gz_member(tarball, "package/package.json").map_err(|e| ToolError {
        message: format!(
            "could not read package/package.json from {}: {e}",
            tarball.display()
        ),
        transient: false,
    })?;
    check_manifest_text(&text, "the packed manifest", package)
}

/// The `workspace:`/`catalog:` requirements of a manifest are an error: no registry client can
/// install them.
fn check_manifest_text(text: &str, what: &str, package: &Package) -> Result<(), ToolError> {
    let fail = |message: String| ToolError {
        message,
        transient: false,
    };
    let manifest: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| fail(format!("{what} of {} does not parse: {e}", package.name)))?;
    let mut left = Vec::new();
    for field in [
        "dependencies",
        "devDependencies",
        "peerDependencies",
        "optionalDependencies",
    ] {
        if let Some(deps) = manifest.get(field).and_then(serde_json::Value::as_object) {
            for (name, req) in deps {
                if let Some(req) = req.as_str()
                    && (req.starts_with("workspace:") || req.starts_with("catalog:"))
                {
                    left.push(format!("{field}.{name} = \"{req}\""));
                }
            }
        }
    }
    if left.is_empty() {
        Ok(())
    } else {
        Err(fail(format!(
            "{what} of {} still has {}; npm does not rewrite the `workspace:` protocol. Publish from a pnpm or Yarn workspace (polyship packs with the client the repository uses), or write version ranges in {}",
            package.name,
            left.join(", "),
            package.manifest
        )))
    }
}

/// One member of a `.tar.gz`, as text.
fn read_tar_gz_member(path: &Path, member: &str) -> std::io::Result<String> {
    let file = fs_err::File::open(path)?;
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(file).read_to_end(&mut bytes)?;
    let mut at = 0;
    while at + 512 <= bytes.len() {
        let header = &bytes[at..at + 512];
        if header.iter().all(|b| *b == 0) {
            break;
        }
        let field = |range: std::ops::Range<usize>| {
            let raw = &header[range];
            let end = raw.iter().position(|b| *b == 0).unwrap_or(raw.len());
            String::from_utf8_lossy(&raw[..end]).into_owned()
        };
        let name = field(0..100);
        let prefix = field(345..500);
        let full = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let size = usize::from_str_radix(field(124..136).trim(), 8)
            .map_err(|_| std::io::Error::other("a tar header has no size"))?;
        let start = at + 512;
        let end = start + size;
        if end > bytes.len() {
            return Err(std::io::Error::other("the tarball is truncated"));
        }
        // npm tarballs name members `package/…`; some packers use another first directory.
        if full == member
            || full.split_once('/').map(|(_, r)| r) == member.split_once('/').map(|(_, r)| r)
        {
            return Ok(String::from_utf8_lossy(&bytes[start..end]).into_owned());
        }
        at = start + size.div_ceil(512) * 512;
    }
    Err(std::io::Error::other(format!(
        "{member} is not in the tarball"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_checksums() {
        let ours = [Artifact {
            path: PathBuf::from("a.tgz"),
            checksum: "sha512-abc".into(),
        }];
        assert_eq!(same_content(&["sha512-abc".into()], &ours), Some(true));
        assert_eq!(same_content(&["sha512-xyz".into()], &ours), Some(false));
        assert_eq!(same_content(&["d41d8cd9".into()], &ours), None);
        assert_eq!(same_content(&[], &ours), None);
        assert_eq!(same_content(&["sha512-abc".into()], &[]), None);
        // Kind with kind: npm's sha1 shasum is compared with a shasum only.
        let sha1 = "3e8b367ea4b19bd34fd6fc7e63eb9fd85a32cd4f";
        let noticed = npm_notice_shasum(&format!(
            "npm notice filename: x-1.0.0.tgz\nnpm notice shasum: {sha1}\nnpm notice integrity: sha512-66a[...]A==\n"
        ))
        .unwrap();
        assert_eq!(noticed.checksum, sha1);
        let both = ["sha512-other".to_owned(), sha1.to_owned()];
        assert_eq!(
            same_content(&both, std::slice::from_ref(&noticed)),
            Some(true)
        );
        assert_eq!(
            same_content(&["sha512-other".into()], std::slice::from_ref(&noticed)),
            None
        );
        assert_eq!(
            same_content(&["0".repeat(40)], std::slice::from_ref(&noticed)),
            Some(false)
        );
        assert_eq!(npm_notice_shasum("+ x@1.0.0\n"), None);
    }
}
