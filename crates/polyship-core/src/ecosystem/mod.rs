//! One adapter per packaging world, all behind [`Adapter`].
//!
//! An adapter knows its ecosystem's workspace rules (which directories are members), how to read a
//! manifest into a [`Package`] and edit it in place, which dependencies can point inside the
//! workspace, the version scheme its packages use, the dialect of their requirements and the tag
//! form its tools read; its [`Publish`] half knows its settings and registry ([`Settings`],
//! [`Publish::configure`]), credentials, packing and upload — or that a tag is the release (Go).
//!
//! Adding an ecosystem is a new folder here (`<name>/mod.rs` for the [`Adapter`], `<name>/release.rs`
//! for [`Publish`]) and the registration list: its [`Ecosystem`] variant, one line in [`ADAPTERS`]
//! and [`Ecosystem::adapter`], and its field of [`Settings`] when it has settings. Code elsewhere
//! asks the adapter rather than naming an ecosystem, and where it must name one, matches every
//! ecosystem, so that the compiler finds it.

use std::path::Path;

use semver::Version;

use crate::apply::edit::{EditError, Syntax};
use crate::diagnostic::{SourceError, Warning};
use crate::release::preflight::Needs;
use crate::release::publish::Problem;
use crate::release::registry::{Presence, Registries, Registry, RegistryError};
use crate::release::tools::{Artifact, Setup, ToolError};
use crate::version::Scheme;
use crate::workspace::files::FileIndex;
use crate::workspace::{DiscoveryError, Ecosystem, Package};

pub mod cargo;
pub mod go;
pub mod npm;
pub mod python;

/// Every adapter, in the order their packages are listed.
pub const ADAPTERS: [&dyn Adapter; 4] = [&cargo::Cargo, &npm::Npm, &python::Python, &go::Go];

impl Ecosystem {
    /// This ecosystem's adapter: what the rest of polyship asks instead of naming an ecosystem.
    pub fn adapter(self) -> &'static dyn Adapter {
        match self {
            Ecosystem::Cargo => &cargo::Cargo,
            Ecosystem::Npm => &npm::Npm,
            Ecosystem::Python => &python::Python,
            Ecosystem::Go => &go::Go,
        }
    }
}

/// What discovery needs from the repository: where it is and which manifests it holds.
pub struct Context<'a> {
    pub root: &'a Path,
    pub files: &'a FileIndex,
}

impl Context<'_> {
    /// Reads a root-relative file; `None` when it does not exist.
    pub fn read(&self, file: &str) -> Result<Option<String>, DiscoveryError> {
        let path = self.root.join(file);
        match std::fs::read(&path) {
            Ok(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| {
                DiscoveryError::Manifest(
                    SourceError::new(file, "the file is not valid UTF-8")
                        .help("save the file as UTF-8"),
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::IsADirectory => Ok(None),
            Err(source) => Err(DiscoveryError::Read { path, source }),
        }
    }
}

/// What an adapter found.
#[derive(Debug, Default)]
pub struct Found {
    pub packages: Vec<Package>,
    pub warnings: Vec<Warning>,
    /// Why manifests were or were not taken as packages, for `-v`.
    pub notes: Vec<String>,
    /// Directories whose package of another ecosystem this one needs (a maturin wheel needs its
    /// crate): the driver loads them with that ecosystem's adapter unless already discovered.
    pub needs: Vec<(Ecosystem, String)>,
}

impl Found {
    pub fn extend(&mut self, other: Found) {
        self.packages.extend(other.packages);
        self.warnings.extend(other.warnings);
        self.notes.extend(other.notes);
        self.needs.extend(other.needs);
    }
}

/// A packaging world: its workspace rules, manifests, versions and requirements here; releasing
/// its packages in [`Publish`], which each ecosystem implements in its `release` module.
pub trait Adapter: Publish + Sync {
    fn ecosystem(&self) -> Ecosystem;

    /// The file names discovery reads for this ecosystem, wherever they are in the repository
    /// (manifests and workspace files); the repository's files are listed once, for every adapter.
    fn listed_files(&self) -> &'static [&'static str];

    /// The packages this ecosystem's own workspace rules make members of the repository.
    fn discover(&self, cx: &Context<'_>) -> Result<Found, DiscoveryError>;

    /// Whether a `lerna.json` at the root versions this ecosystem's packages (lerna manages
    /// JavaScript packages only).
    fn governed_by_lerna(&self) -> bool {
        false
    }

    /// The tag template of this ecosystem's packages when neither `polyship.toml` nor the
    /// repository's tags say: what the ecosystem's usual release tool writes.
    fn default_tag_template(&self) -> &'static str {
        "{name}-v{version}"
    }

    /// The one tag template `package` can be released with, when its ecosystem's tools read
    /// versions from tags of a set form (Go modules): it beats configuration and inference.
    fn fixed_tag_template(&self, package: &Package) -> Option<String> {
        let _ = package;
        None
    }

    /// Whether `package` may be released at `version`; `Err` holds what is wrong and the fix
    /// (a Go module's major version is part of its path).
    fn check_release(&self, package: &Package, version: &Version) -> Result<(), (String, String)> {
        let _ = (package, version);
        Ok(())
    }

    /// The string at `key` (the key path discovery recorded) in `text`, a manifest this ecosystem
    /// reads. TOML and JSON by default.
    fn get_string(&self, file: &str, text: &str, key: &[String]) -> Result<String, EditError> {
        crate::apply::edit::get_string(syntax_of(file)?, file, text, key)
    }

    /// `text` with the string at `key` replaced by `value`: the whole new text or the reason.
    fn set_string(
        &self,
        file: &str,
        text: &str,
        key: &[String],
        value: &str,
    ) -> Result<String, EditError> {
        crate::apply::edit::set_string(syntax_of(file)?, file, text, key, value)
    }

    /// How to give `package`, which has none, a version to release from.
    fn missing_version_help(&self, package: &Package) -> String {
        format!("add one to `{}`", package.manifest)
    }

    /// The checks a release pipeline runs before releasing this ecosystem's packages, as `(step
    /// name, command)`, for `polyship init --pipeline`.
    fn gates(&self) -> &'static [(&'static str, &'static str)];

    /// Whether a requirement is all of the string at its location (npm, Go); otherwise the
    /// location may hold a table with a `version` key or a PEP 508 string around it.
    fn requirement_is_whole_value(&self) -> bool {
        false
    }

    /// The package whose manifest is in `dir` (root-relative), for packages named explicitly in
    /// `polyship.toml` or needed by another ecosystem. `None` when `dir` holds no such manifest.
    fn load(&self, cx: &Context<'_>, dir: &str) -> Result<Option<Found>, DiscoveryError>;

    /// Whether a dependency that names a workspace package but gives no path points at it. Cargo
    /// says no (without `path` it comes from a registry); npm and Python resolve workspace packages
    /// by name.
    fn links_by_name(&self) -> bool;

    /// `name` as this ecosystem compares package names (PEP 503 normalisation for Python).
    fn normalize_name(&self, name: &str) -> String {
        name.to_owned()
    }

    /// How this ecosystem's packages write versions.
    fn scheme(&self) -> Scheme;

    /// Whether `version` satisfies `requirement` (trimmed, never empty of meaning: a path-only
    /// dependency has none) as this ecosystem reads it. `None` when it cannot be read as a range (a
    /// tag, a URL): the caller must not guess.
    fn satisfies(&self, requirement: &str, version: &str) -> Option<bool>;

    /// `requirement` (trimmed) rewritten for `new` in the style it was written; `Ok(None)` when it
    /// stays (it follows the version by definition, or is a path). `Err` says why it cannot be
    /// rewritten safely.
    fn rewrite_requirement(
        &self,
        requirement: &str,
        new: &Version,
    ) -> Result<Option<String>, String>;

    /// A requirement of `version`: exactly it (`exact`), or what `^` means in npm (compatible
    /// updates).
    fn requirement(&self, version: &str, exact: bool) -> String;

    /// `requirement` (trimmed) pinned to exactly `version` (snapshot releases), keeping what the
    /// ecosystem's protocols need; `None` when it stays (a path, a requirement that follows the
    /// version by definition).
    fn pin(&self, requirement: &str, version: &str) -> Option<String> {
        let _ = requirement;
        Some(self.requirement(version, true))
    }

    /// Whether requirements may say "the workspace's own version" with a protocol (`workspace:`),
    /// which changesets' `bumpVersionsWithWorkspaceProtocolOnly` limits rewriting to.
    fn has_workspace_protocol(&self) -> bool {
        false
    }

    /// A requirement as it reads once published, given the dependency's `current` version (pnpm
    /// and yarn replace `workspace:*` with it). `None`: leave it out (with
    /// `workspace_protocol_only`, a requirement without the protocol is not the workspace's).
    fn published_requirement(
        &self,
        requirement: Option<&str>,
        current: Option<&str>,
        workspace_protocol_only: bool,
    ) -> Option<Option<String>> {
        let _ = (current, workspace_protocol_only);
        Some(requirement.map(str::to_owned))
    }
}

/// The syntax of a manifest file by its name, for the default editors.
fn syntax_of(file: &str) -> Result<Syntax, EditError> {
    Syntax::of(file).ok_or_else(|| EditError::Unsupported {
        file: file.to_owned(),
    })
}

/// What an adapter reads its release settings from.
pub struct Configure<'a> {
    pub ws: &'a crate::workspace::Workspace,
    pub config: &'a crate::config::LoadedConfig,
    pub root: &'a Path,
    pub changesets: Option<&'a crate::changes::changesets_config::ChangesetsConfig>,
}

/// Every adapter's release settings and read registries ([`Publish::configure`]); what is wrong
/// goes to `problems`.
pub fn configure_all(cx: &Configure<'_>, problems: &mut Vec<Problem>) -> (Settings, Registries) {
    let (mut settings, mut registries) = (Settings::default(), Registries::default());
    for adapter in ADAPTERS {
        adapter.configure(cx, &mut settings, &mut registries, problems);
    }
    (settings, registries)
}

/// Each ecosystem's release settings, read by its adapter ([`Publish::configure`]) and read back
/// only by it.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub cargo: cargo::Settings,
    pub npm: npm::Settings,
    pub python: python::Settings,
}

/// Releasing a package of one ecosystem: what its registry holds, the tools and credentials an
/// upload needs, building and uploading.
pub trait Publish {
    /// The registry read when the release configures none.
    fn default_registry(&self) -> Registry;

    /// Reads this ecosystem's release settings (`[publish.<ecosystem>]`, the environment) into
    /// `settings`, and its registry with the credential for reads into `registries`; pushes what
    /// is wrong.
    fn configure(
        &self,
        cx: &Configure<'_>,
        settings: &mut Settings,
        registries: &mut Registries,
        problems: &mut Vec<Problem>,
    ) {
        let _ = (cx, settings, registries, problems);
    }

    /// Whether `name` `version` is on this ecosystem's registry, with the checksums it records.
    fn presence(
        &self,
        agent: &ureq::Agent,
        registries: &Registries,
        name: &str,
        version: &str,
    ) -> Result<Presence, RegistryError>;

    /// The registries `package` is read from and published to: those configured, unless the
    /// package names its own.
    fn registries_for<'a>(
        &self,
        package: &Package,
        registries: &'a Registries,
    ) -> std::borrow::Cow<'a, Registries> {
        let _ = package;
        std::borrow::Cow::Borrowed(registries)
    }

    /// The checksum the registry records of an artifact file: sha256 hex unless the ecosystem
    /// records another (npm's `sha512-` integrity).
    fn checksum(&self, path: &Path) -> std::io::Result<String> {
        crate::release::tools::sha256_file(path)
    }

    /// Whether building a package needs its dependencies on the registry first (`cargo package`
    /// resolves them there); others are built up front, in parallel.
    fn builds_against_registry(&self) -> bool {
        false
    }

    /// Whether the release is the tag itself (Go modules): nothing is built or uploaded, and the
    /// registry learns of the version from the pushed tag, so nothing waits for it to show.
    fn released_by_tag(&self) -> bool {
        false
    }

    /// Whether a package is uploaded from its directory as it is, with no build first (see
    /// [`Setup::publishes_directly`]).
    fn publishes_from_directory(&self, setup: &Setup) -> bool {
        let _ = setup;
        false
    }

    /// Checks the tools and credentials an upload needs, pushing every problem; `npmrc` collects
    /// lines of the npm user config the release generates.
    fn preflight(&self, needs: &Needs<'_>, problems: &mut Vec<Problem>, npmrc: &mut Vec<String>);

    /// Builds what will be uploaded into `work`, an empty directory.
    fn pack(
        &self,
        setup: &Setup,
        package: &Package,
        work: &Path,
    ) -> Result<Vec<Artifact>, ToolError>;

    /// Uploads what [`Publish::pack`] built; returns what the tool printed (redacted).
    fn upload(
        &self,
        setup: &Setup,
        package: &Package,
        artifacts: &[Artifact],
    ) -> Result<String, ToolError>;
}

/// A byte range in a file, when the parser kept one.
pub(crate) type Span = Option<std::ops::Range<usize>>;

/// A parsed TOML manifest that keeps spans, so every complaint can name its line.
pub(crate) struct TomlFile {
    /// Root-relative path.
    pub file: String,
    pub doc: toml_edit::Document<std::sync::Arc<str>>,
}

impl TomlFile {
    pub fn parse(file: &str, text: String) -> Result<Self, DiscoveryError> {
        if let Err((at, why)) = crate::json::check_bounds(&text, false) {
            return Err(DiscoveryError::Manifest(
                SourceError::new(file, why)
                    .at(&text, at)
                    .help("a manifest this large is no manifest: check the file"),
            ));
        }
        let text: std::sync::Arc<str> = text.into();
        match toml_edit::Document::parse(text.clone()) {
            Ok(doc) => Ok(Self {
                file: file.to_owned(),
                doc,
            }),
            Err(e) => {
                let mut err = SourceError::new(file, e.message().trim_end().to_owned())
                    .help("fix the TOML syntax at this position");
                if let Some(span) = e.span() {
                    err = err.at(&text, span.start);
                }
                Err(DiscoveryError::Manifest(err))
            }
        }
    }

    pub fn text(&self) -> &str {
        self.doc.raw()
    }

    pub fn root(&self) -> &toml_edit::Table {
        self.doc.as_table()
    }

    /// The 1-based line of a span's start (1 when the item has no span).
    pub fn line(&self, span: Option<std::ops::Range<usize>>) -> usize {
        span.map_or(1, |s| {
            self.text()[..s.start.min(self.text().len())]
                .matches('\n')
                .count()
                + 1
        })
    }

    /// An error pointing at `span`.
    pub fn error(
        &self,
        span: Option<std::ops::Range<usize>>,
        message: impl Into<String>,
    ) -> DiscoveryError {
        let err = SourceError::new(&self.file, message);
        DiscoveryError::Manifest(match span {
            Some(s) => err.at(self.text(), s.start),
            None => err,
        })
    }

    /// A warning pointing at `span`.
    pub fn warning(
        &self,
        span: Option<std::ops::Range<usize>>,
        message: impl Into<String>,
    ) -> Warning {
        let position = span.map(|s| crate::diagnostic::Position::at(self.text(), s.start));
        Warning::new(message).in_file(&self.file, position)
    }

    /// The table at `key` under `parent`, or `None`; an error when the key holds something else.
    pub fn table<'a>(
        &'a self,
        parent: &'a dyn toml_edit::TableLike,
        key: &str,
        what: &str,
    ) -> Result<Option<&'a dyn toml_edit::TableLike>, DiscoveryError> {
        match parent.get(key) {
            None => Ok(None),
            Some(item) => item.as_table_like().map(Some).ok_or_else(|| {
                self.error(
                    item.span(),
                    format!("`{what}` must be a table, found {}", item.type_name()),
                )
            }),
        }
    }

    /// The string at `key` under `parent`, or `None`; an error when the key holds something else.
    pub fn string<'a>(
        &'a self,
        parent: &'a dyn toml_edit::TableLike,
        key: &str,
        what: &str,
    ) -> Result<Option<&'a str>, DiscoveryError> {
        match parent.get(key) {
            None => Ok(None),
            Some(item) => item.as_str().map(Some).ok_or_else(|| {
                self.error(
                    item.span(),
                    format!("`{what}` must be a string, found {}", item.type_name()),
                )
            }),
        }
    }

    /// The array of strings at `key` under `parent`, each with its span; empty when absent.
    pub fn strings(
        &self,
        parent: &dyn toml_edit::TableLike,
        key: &str,
        what: &str,
    ) -> Result<Vec<(String, Span)>, DiscoveryError> {
        let Some(item) = parent.get(key) else {
            return Ok(Vec::new());
        };
        let array = item.as_array().ok_or_else(|| {
            self.error(
                item.span(),
                format!(
                    "`{what}` must be an array of strings, found {}",
                    item.type_name()
                ),
            )
        })?;
        array
            .iter()
            .map(|v| {
                v.as_str().map(|s| (s.to_owned(), v.span())).ok_or_else(|| {
                    self.error(
                        v.span(),
                        format!("`{what}` must hold only strings, found {}", v.type_name()),
                    )
                })
            })
            .collect()
    }
}
