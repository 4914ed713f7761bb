//! `polyship.toml`: the optional configuration file at the repository root.
//!
//! Every setting has a default discovered from the repository, so a missing file is the same as an
//! empty one. The file is parsed strictly (`deny_unknown_fields`): a misspelt key is an error with
//! its file, line and column, never a silently ignored setting.

use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use crate::diagnostic::SourceError;
use crate::workspace::Ecosystem;

/// The file name, at the repository root.
pub const FILE_NAME: &str = "polyship.toml";

/// The whole configuration.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Globs, relative to the repository root, of directories whose packages are never picked up
    /// (test fixtures, vendored code). A glob that names a directory also covers everything below it.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub ignore: Vec<Spanned<String>>,
    /// Packages that discovery does not find on its own (a crate outside the Cargo workspace, a
    /// package.json not listed in `workspaces`). One `[[package]]` table each.
    #[serde(default, rename = "package")]
    #[schemars(with = "Vec<PackageEntry>")]
    pub packages: Vec<Spanned<PackageEntry>>,
    /// Which sources of changes count, for the workspace and per package.
    #[serde(default)]
    pub changes: ChangesConfig,
    /// How commits become changes.
    #[serde(default)]
    pub commits: CommitsConfig,
    /// Release tag names.
    #[serde(default)]
    pub tags: TagsConfig,
    /// The branch changes are merged into; `status` and `lint-commits` compare with it. Default:
    /// `baseBranch` of `.changeset/config.json`, else the remote's default branch (`origin/HEAD`),
    /// else `main`.
    pub base_branch: Option<String>,
    /// How versions are planned.
    #[serde(default)]
    pub versioning: VersioningConfig,
    /// Packages released together: `[[group]]` tables.
    #[serde(default, rename = "group")]
    #[schemars(with = "Vec<GroupConfig>")]
    pub groups: Vec<Spanned<GroupConfig>>,
    /// How `polyship version` writes changelogs.
    #[serde(default)]
    pub changelog: ChangelogConfig,
    /// The release commit and snapshot versions.
    #[serde(default)]
    pub release: ReleaseConfig,
    /// How `polyship publish` publishes, tags, pushes and makes forge releases.
    #[serde(default)]
    pub publish: PublishConfig,
    /// The pull requests `polyship release-pr` keeps open.
    #[serde(default)]
    pub release_pr: ReleasePrConfig,
    /// The CI workflows `polyship ci github` and `polyship ci gitlab` write.
    #[serde(default)]
    pub ci: CiConfig,
    /// Release pipelines, `[pipeline.<name>]`, run by `polyship run <name>`.
    #[serde(default, rename = "pipeline")]
    #[schemars(
        with = "std::collections::BTreeMap<String, crate::pipeline::config::PipelineConfig>"
    )]
    pub pipelines:
        std::collections::BTreeMap<String, Spanned<crate::pipeline::config::PipelineConfig>>,
}

/// `[release-pr]`: defaults of `polyship release-pr`'s flags.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ReleasePrConfig {
    /// The release branch. Default `polyship/release`; `polyship/release-{group}` per group.
    pub branch: Option<String>,
    /// The title template (`{releases}`). Default `chore(release): {releases}`.
    pub title: Option<String>,
    /// Labels of a new pull request.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Open new pull requests as drafts (GitHub).
    #[serde(default)]
    pub draft: bool,
    /// `"group"`: one pull request per named `[[group]]`, and one for the other packages.
    pub split: Option<SplitBy>,
}

/// `[ci]`: what `polyship ci github` and `polyship ci gitlab` write.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CiConfig {
    /// The pipeline the workflow runs. Default `release`.
    pub pipeline: Option<String>,
    /// The polyship version the jobs install. Default: the version of the polyship that writes
    /// the workflow.
    pub polyship_version: Option<String>,
    /// Branches whose pushes run the workflow. Default: the base branch.
    pub branches: Option<Vec<String>>,
    /// `.github/workflows/release.yml`.
    #[serde(default)]
    pub github: GithubCiConfig,
    /// `.gitlab-ci.yml`.
    #[serde(default)]
    pub gitlab: GitlabCiConfig,
}

/// `[ci.github]`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct GithubCiConfig {
    /// The workflow file. Default `.github/workflows/release.yml`.
    pub file: Option<String>,
    /// The overlay merged into it. Default `.github/polyship/<file name>` (used when it exists).
    pub overlay: Option<String>,
    /// The `runs-on` label of each target, over the defaults for GitHub's hosted runners.
    #[serde(default)]
    pub runners: std::collections::BTreeMap<String, String>,
    /// The runner of the jobs that plan, open the release pull request and finish the pipeline.
    /// Default `ubuntu-latest`.
    pub runs_on: Option<String>,
    /// The action that installs polyship. Default `polyship/polyship@v{version}`.
    pub action: Option<String>,
    /// The repository secret given to polyship as `GITHUB_TOKEN`. Default `GITHUB_TOKEN` (whose
    /// pull requests and pushes start no other workflow).
    pub token: Option<String>,
    /// A `release-pr` job on pushes that are not a release commit. Default: when the pipeline
    /// has a `version` step.
    pub release_pr: Option<bool>,
}

/// `[ci.gitlab]`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct GitlabCiConfig {
    /// The pipeline file. Default `.gitlab-ci.yml`.
    pub file: Option<String>,
    /// The overlay merged into it. Default `.gitlab/polyship/<file name>` (used when it exists).
    pub overlay: Option<String>,
    /// The runner tag of each target, over the defaults for GitLab's hosted runners.
    #[serde(default)]
    pub runners: std::collections::BTreeMap<String, String>,
    /// The image of every job. Default `rust:1`.
    pub image: Option<String>,
    /// Where `install.sh` and the archives are, `<url>/v<version>/<file>`. Default polyship's
    /// GitHub releases.
    pub download_url: Option<String>,
}

/// How `release-pr` splits the release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SplitBy {
    None,
    Group,
}

/// `[publish]`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PublishConfig {
    /// The branch releases are made from. Default: `base-branch`.
    pub branch: Option<String>,
    /// The remote that receives the release commit and tags. Default `origin`.
    pub remote: Option<String>,
    /// How many packages publish at once. Default 4.
    pub jobs: Option<usize>,
    /// Seconds to wait for a dependency to show on its registry before its dependents publish.
    /// Default 300.
    pub timeout: Option<u64>,
    #[serde(default)]
    pub cargo: CargoPublishConfig,
    #[serde(default)]
    pub npm: NpmPublishConfig,
    #[serde(default)]
    pub python: PythonPublishConfig,
    #[serde(default)]
    pub forge: ForgeConfig,
}

impl PublishConfig {
    /// The remote releases are pushed to: `remote`, else `origin`.
    pub fn remote_name(&self) -> String {
        self.remote.clone().unwrap_or_else(|| "origin".to_owned())
    }
}

/// `[publish.cargo]`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CargoPublishConfig {
    /// The sparse index to read (`https://index.crates.io/`). For a named registry, default: its
    /// `sparse+` index from `CARGO_REGISTRIES_<NAME>_INDEX`.
    pub index: Option<String>,
    /// Whether `cargo publish` builds the packaged crate first (its `--no-verify` when false).
    pub verify: Option<bool>,
}

/// `[publish.npm]`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NpmPublishConfig {
    /// The registry to publish to and read (a package's `publishConfig.registry` wins).
    pub registry: Option<String>,
    /// `public` or `restricted` (`npm publish --access`). Default: changesets' `access`.
    pub access: Option<String>,
    /// `[[publish.npm.binary]]`: npm packages that ship a crate's binaries in platform packages.
    #[serde(default, rename = "binary")]
    pub binaries: Vec<NpmBinaryConfig>,
}

/// One `[[publish.npm.binary]]`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NpmBinaryConfig {
    /// The npm package of the repository (its launcher) that lists the platform packages in its
    /// `optionalDependencies`.
    pub package: String,
    /// The Cargo package whose builds (`polyship artifacts build`) the platform packages hold, at
    /// the npm package's version (keep both in a fixed group).
    #[serde(rename = "crate")]
    pub krate: String,
    /// The platform packages' names: `{package}`, `{os}`, `{cpu}`, `{libc}` (`-musl` or empty).
    /// Default `{package}-{os}-{cpu}{libc}`.
    pub name: Option<String>,
}

impl NpmBinaryConfig {
    /// Whether this is the entry of the npm package `name` (written `name` or `npm:name`).
    pub fn is_for(&self, name: &str) -> bool {
        self.package_name() == name
    }

    /// The npm package's name, without the `npm:` that `polyship.toml` may write before it.
    pub fn package_name(&self) -> &str {
        match Ecosystem::split_id(&self.package) {
            (Some(Ecosystem::Npm), name) => name,
            _ => &self.package,
        }
    }

    /// The crate's name, without the `cargo:` that `polyship.toml` may write before it.
    pub fn crate_name(&self) -> &str {
        match Ecosystem::split_id(&self.krate) {
            (Some(Ecosystem::Cargo), name) => name,
            _ => &self.krate,
        }
    }

    pub fn name_template(&self) -> &str {
        self.name
            .as_deref()
            .unwrap_or(crate::artifacts::npm::DEFAULT_NAME)
    }
}

/// `[publish.python]`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PythonPublishConfig {
    /// The Python that runs `build` and `twine`. Default `python3`.
    pub command: Option<String>,
    /// The index root to read (its simple API is `<index>simple/`). Default `https://pypi.org/`.
    pub index: Option<String>,
    /// The upload URL. Default `https://upload.pypi.org/legacy/`.
    pub upload: Option<String>,
}

/// `[publish.forge]`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ForgeConfig {
    /// `github`, `gitea` or `none`. Default: `github` when the remote is on github.com, else none.
    pub kind: Option<crate::release::forge::ForgeKind>,
    /// The API base. Default `https://api.github.com/`, or `https://<host>/api/v1/` for Gitea.
    pub api: Option<String>,
    /// `owner/repo`. Default: from the remote's URL.
    pub repository: Option<String>,
}

/// `[changelog]`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ChangelogConfig {
    /// Whether `polyship version` writes changelogs at all.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Each package's changelog, relative to its directory.
    #[serde(default = "changelog_path")]
    pub path: String,
    /// A minijinja template (relative to the repository root) replacing the built-in one.
    #[schemars(with = "Option<String>")]
    pub template: Option<Spanned<String>>,
    /// The web address of the repository, for commit and pull request links. Default: derived
    /// from the `origin` remote.
    pub repository: Option<String>,
}

impl Default for ChangelogConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            path: changelog_path(),
            template: None,
            repository: None,
        }
    }
}

fn changelog_path() -> String {
    "CHANGELOG.md".to_owned()
}

/// `[release]`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ReleaseConfig {
    /// The release commit's message; `{releases}` is the list `name@version, …`. Default:
    /// `chore(release): {releases}`, or lerna's message when `lerna.json` versions the release.
    pub commit_message: Option<String>,
    /// Snapshot versions: `{tag}`, `{datetime}` (`YYYYMMDDHHMMSS`, UTC), `{commit}` (short hash)
    /// and `{next}` (the version the plan would give).
    #[serde(default = "snapshot_version")]
    pub snapshot_version: String,
}

impl Default for ReleaseConfig {
    fn default() -> Self {
        Self {
            commit_message: None,
            snapshot_version: snapshot_version(),
        }
    }
}

/// The release commit's message when neither `polyship.toml` nor `lerna.json` sets one.
pub const DEFAULT_COMMIT_MESSAGE: &str = "chore(release): {releases}";

fn snapshot_version() -> String {
    "0.0.0-{tag}-{datetime}".to_owned()
}

/// A source of changes.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Deserialize,
    serde::Serialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// Changeset files in `.changeset/`.
    Changesets,
    /// Conventional Commits that touch the package.
    Commits,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Changesets => "changesets",
            SourceKind::Commits => "commits",
        }
    }
}

/// `[changes]`: which sources of changes count.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ChangesConfig {
    /// `["changesets"]`, `["commits"]` or both. Default: `["changesets"]` when `.changeset/`
    /// exists, else `["commits"]` (with lerna's rules when `lerna.json` exists). A repository that
    /// releases with changesets and writes Conventional Commit messages must not release from both.
    #[schemars(with = "Option<Vec<SourceKind>>")]
    pub sources: Option<Spanned<Vec<SourceKind>>>,
    /// Per package (`name`, `ecosystem:name` or a glob over names): its own sources, overriding its
    /// group's and the workspace's.
    #[serde(default)]
    #[schemars(with = "std::collections::BTreeMap<String, Vec<SourceKind>>")]
    pub packages: std::collections::BTreeMap<String, Spanned<Vec<SourceKind>>>,
}

/// How dependents' requirements are rewritten when a dependency releases.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum RequirementStyle {
    /// Keep each requirement's own style (`~1.2` → `~1.3`), rewriting it when the new version
    /// leaves it or, as changesets does, when the dependent releases too.
    Keep,
    /// A releasing dependent requires `^` the new version, whatever was written (lerna).
    Caret,
    /// A releasing dependent requires exactly the new version (lerna's `exact`).
    Exact,
}

/// How commit messages are read.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// Conventional Commits 1.0: `type(scope)!: …`, `BREAKING CHANGE:` and `BREAKING-CHANGE:`.
    #[default]
    Conventionalcommits,
    /// conventional-changelog's angular preset, lerna's default: no `!`, only a
    /// `BREAKING CHANGE` note is breaking, any other header releases a patch.
    Angular,
}

/// When a dependency releases, what happens to its dependents.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum DependentsPolicy {
    /// Every dependent releases a patch (changesets' `updateInternalDependents: "always"`).
    Patch,
    /// Every dependent, dev-dependents included, releases a patch, transitively (lerna).
    All,
    /// A dependent releases a patch only when the new version leaves its requirement.
    #[default]
    OutOfRange,
    /// Dependents are left alone.
    None,
}

/// `[versioning]`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct VersioningConfig {
    /// Below 1.0.0, the bump a breaking commit asks for: `"minor"` (default; leaving 0.x is an
    /// explicit decision, like release-please's `bump-minor-pre-major`) or `"major"`.
    #[serde(default = "minor")]
    pub breaking_pre_major: crate::changes::changeset::Bump,
    /// Below 1.0.0, the bump a feature commit asks for: `"minor"` (default) or `"patch"` (like
    /// release-please's `bump-patch-for-minor-pre-major`).
    #[serde(default = "minor")]
    pub feature_pre_major: crate::changes::changeset::Bump,
    /// What a release does to its dependents; groups may override it. Default: changesets'
    /// `updateInternalDependents` when set, `all` with `lerna.json`, else `out-of-range`.
    pub dependents: Option<DependentsPolicy>,
    /// How dependents' requirements follow a release: `keep` (default), `caret` (`lerna.json`) or
    /// `exact` (`lerna.json` with `exact`).
    pub requirements: Option<RequirementStyle>,
}

impl Default for VersioningConfig {
    fn default() -> Self {
        Self {
            breaking_pre_major: minor(),
            feature_pre_major: minor(),
            dependents: None,
            requirements: None,
        }
    }
}

fn minor() -> crate::changes::changeset::Bump {
    crate::changes::changeset::Bump::Minor
}

/// How a group's members release together.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum GroupKind {
    /// One shared version; every member releases when any does (changesets' `fixed`).
    Fixed,
    /// Members that release take the same bump, each on its own version line.
    Linked,
    /// One version line, but only members with changes and their dependents release, all at the
    /// line's next version; members left out keep their older versions; a breaking release brings
    /// every member (lerna's fixed mode).
    Locked,
}

/// `[[group]]`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct GroupConfig {
    /// A name for messages and reasons; default: the first member.
    pub name: Option<String>,
    pub kind: GroupKind,
    /// Package names (`ecosystem:name` when ambiguous) or globs over names.
    pub packages: Vec<String>,
    /// Overrides `[versioning] dependents` for the group's members.
    pub dependents: Option<DependentsPolicy>,
    /// A fixed group's own changelog (relative to the repository root), with every member's
    /// changes in one section per release.
    pub changelog: Option<String>,
    /// The sources of changes of the group's members, overriding `[changes] sources`.
    pub sources: Option<Vec<SourceKind>>,
}

impl GroupConfig {
    /// Whether the package `name` (`id`: `ecosystem:name`) is a member: named either way, or
    /// matched by a glob over names.
    pub fn holds(&self, name: &str, id: &str) -> bool {
        self.packages
            .iter()
            .any(|m| m == name || m == id || glob::Pattern::new(m).is_ok_and(|p| p.matches(name)))
    }
}

/// `[commits]`: reading Conventional Commits.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CommitsConfig {
    /// Read only the first-parent chain from HEAD (default), so a merged branch counts through its
    /// merge commit; `false` reads every commit reachable from HEAD (default with `lerna.json`,
    /// which reads `git log` of each package).
    pub first_parent: Option<bool>,
    /// How messages are read: `"conventionalcommits"` (default) or `"angular"` (default with
    /// `lerna.json`, conventional-changelog's angular preset).
    pub preset: Option<Preset>,
    /// The least bump of a package whose files differ from its last release, whatever its commits
    /// say: `"none"` (default) or `"patch"` (default with `lerna.json`, as `lerna version` does).
    pub any_change: Option<crate::changes::changeset::Bump>,
    /// Globs of files whose changes do not make a package changed for `any-change` (lerna's
    /// `ignoreChanges`, read from `lerna.json` by default).
    #[serde(default)]
    pub ignore_changes: Vec<String>,
    /// Which change a commit type asks for: `"breaking"`, `"feature"`, `"fix"` or `"none"`.
    /// `feat` is a feature and `fix` a fix by default; every other type releases nothing.
    #[serde(default)]
    pub types: std::collections::BTreeMap<String, crate::changes::conventional::ChangeKind>,
    /// Changed files outside every package: `"ignore"` them (default) or count them for `"all"`
    /// packages.
    #[serde(default)]
    pub shared_paths: crate::changes::history::SharedPaths,
}

fn yes() -> bool {
    true
}

/// `[tags]`: how release tags are named.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TagsConfig {
    /// Templates with `{name}` and `{version}`. Every one is accepted when looking for a package's
    /// last release (useful while migrating); the first names new tags. Default: inferred per
    /// package from the tags that exist (the scheme under which its current version is tagged:
    /// `{name}@{version}`, `{name}-v{version}`, `{name}-{version}`, `v{version}`, `{version}`, or
    /// lerna's), else `{name}@{version}` for npm packages, `{name}-v{version}` for crates and Python
    /// distributions, `v{version}` in a one-package repository.
    #[schemars(with = "Option<Vec<String>>")]
    pub templates: Option<Vec<Spanned<String>>>,
    /// Whether `publish` tags private packages. Default: changesets' `privatePackages.tag`, else
    /// `false` (benches and examples get no tags).
    pub private: Option<bool>,
}

/// An explicitly declared package.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PackageEntry {
    /// The package directory, relative to the repository root.
    pub path: String,
    /// Which manifest to read when the directory holds several; by default every one it holds.
    pub ecosystem: Option<Ecosystem>,
}

/// A loaded configuration together with its text, so later errors can point into it.
#[derive(Debug, Default)]
pub struct LoadedConfig {
    pub config: Config,
    /// The file's contents; empty when there is no file.
    pub text: String,
    /// Whether the file exists.
    pub present: bool,
    /// The repository root it was read from (empty when not read from a repository).
    pub root: std::path::PathBuf,
}

impl LoadedConfig {
    /// An error pointing at byte `offset` of the config file.
    pub fn error_at(&self, offset: usize, message: impl Into<String>) -> SourceError {
        SourceError::new(FILE_NAME, message).at(&self.text, offset)
    }
}

/// Errors reading the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("failed to read `{}`", path.display())]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid `{FILE_NAME}`")]
    Invalid(#[source] SourceError),
}

/// Reads `polyship.toml` from the repository root; a missing file is the default configuration.
pub fn load(root: &Path) -> Result<LoadedConfig, ConfigError> {
    let path = root.join(FILE_NAME);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(LoadedConfig {
                root: root.to_owned(),
                ..LoadedConfig::default()
            });
        }
        Err(source) => return Err(ConfigError::Read { path, source }),
    };
    let config = parse(&text).map_err(ConfigError::Invalid)?;
    Ok(LoadedConfig {
        config,
        text,
        present: true,
        root: root.to_owned(),
    })
}

/// Where editors find [`json_schema`]: `docs/polyship.schema.json` of polyship's repository.
pub const SCHEMA_URL: &str =
    "https://raw.githubusercontent.com/polyship/polyship/main/docs/polyship.schema.json";

/// A JSON Schema (draft 2020-12) of `polyship.toml`, made from the types the file is parsed into:
/// the same keys, defaults and documentation, so an editor that validates with it agrees with
/// polyship. `[pipeline.<name>.step] with` and `matrix` are checked by polyship, not the schema.
pub fn json_schema() -> serde_json::Value {
    let mut schema = schemars::schema_for!(Config);
    schema.insert("$id".to_owned(), SCHEMA_URL.into());
    schema.insert("title".to_owned(), FILE_NAME.into());
    let mut value = schema.to_value();
    without_null(&mut value);
    value
}

/// TOML has no null: an optional key is one left out, so `Option`'s `null` alternative goes.
fn without_null(value: &mut serde_json::Value) {
    use serde_json::Value;
    let is_null = |v: &Value| v.get("type").and_then(Value::as_str) == Some("null");
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|t| t != "null");
                if let [only] = types.as_slice() {
                    let only = only.clone();
                    map.insert("type".to_owned(), only);
                }
            }
            if let Some(Value::Array(alternatives)) = map.get("anyOf")
                && alternatives.iter().any(is_null)
            {
                let mut rest: Vec<Value> = alternatives
                    .iter()
                    .filter(|v| !is_null(v))
                    .cloned()
                    .collect();
                map.remove("anyOf");
                if let [only] = rest.as_mut_slice()
                    && let Value::Object(only) = only
                {
                    for (k, v) in std::mem::take(only) {
                        map.entry(k).or_insert(v);
                    }
                } else {
                    map.insert("anyOf".to_owned(), Value::Array(rest));
                }
            }
            map.values_mut().for_each(without_null);
        }
        Value::Array(items) => items.iter_mut().for_each(without_null),
        _ => {}
    }
}

/// Parses the text of a `polyship.toml`.
pub fn parse(text: &str) -> Result<Config, SourceError> {
    toml::from_str(text).map_err(|e| {
        let err = SourceError::new(FILE_NAME, e.message().trim_end_matches('\n').to_owned()).help(
            format!("see docs/config.md for every key `{FILE_NAME}` accepts"),
        );
        match e.span() {
            Some(span) => err.at(text, span.start),
            None => err,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_is_default() {
        let c = parse("").unwrap();
        assert!(c.ignore.is_empty() && c.packages.is_empty());
    }

    #[test]
    fn reads_packages() {
        let c = parse(
            "ignore = [\"fixtures/**\"]\n[[package]]\npath = \"tools/x\"\necosystem = \"python\"\n",
        )
        .unwrap();
        assert_eq!(c.ignore[0].get_ref(), "fixtures/**");
        assert_eq!(c.packages[0].get_ref().ecosystem, Some(Ecosystem::Python));
    }

    #[test]
    fn unknown_key_points_at_its_line() {
        let err = parse("ignore = []\ncolour = true\n").unwrap_err();
        let pos = err.position.unwrap();
        assert_eq!((pos.line, pos.column), (2, 1));
        assert!(
            err.message.contains("unknown field `colour`"),
            "{}",
            err.message
        );
    }

    #[test]
    fn wrong_type_points_at_the_value() {
        let err = parse("ignore = \"x\"\n").unwrap_err();
        assert_eq!(err.position.unwrap().line, 1);
        let err = parse("[[package]]\npath = \"a\"\necosystem = \"maven\"\n").unwrap_err();
        assert_eq!(err.position.unwrap().line, 3);
    }
}
