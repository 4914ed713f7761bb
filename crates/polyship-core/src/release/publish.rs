//! `polyship publish`: from a versioned commit to published packages, tags, pushed refs and forge
//! releases — idempotent and resumable. [`run`] is the public steps in order; a pipeline calls
//! the same ones:
//!
//! 1. [`preflight`](fn@preflight), before any side effect, collecting every problem: `open` the release (the
//!    commit, each ecosystem's settings, the remote's refs), `select` what is unreleased (every
//!    package whose version has no tag at HEAD or is not on its registry), `read_registries`
//!    (all of them, in parallel), `check_repository` (work tree, branch, remote, dependencies
//!    left out), `prepare_tools` (credentials and tools, each ecosystem's own through
//!    [`crate::ecosystem::Publish`]), `compare_existing` (content already on a registry). It
//!    returns a [`Preflighted`]: a dry run, or a release with nothing left, ends there.
//! 2. [`Preflighted::start`] writes the journal; the [`Running`] release's steps follow:
//!    `tag_existing`, `build` (what needs no registry, up front, in parallel), `upload` (in
//!    dependency order with the native tools, independent packages in parallel; a dependent waits
//!    until its dependencies show on their registries; after a failed upload the registry is asked
//!    again and decides; a failure blocks only its dependents; each package is tagged once it is
//!    published), `push` (the commit, then each tag on its own), `forge_release`, `finish`.
//!
//! Each step is written to the journal as it happens; a rerun checks reality and does the rest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use super::forge::{self, Forge};
use super::git;
use super::journal::{self, Journal};
use super::preflight::{self, resolve_forge};
use super::redact::Redactor;
use super::registry::{self, Presence, Registries};
use super::tools::{self, Artifact, Setup};
use crate::config::LoadedConfig;
use crate::workspace::{Ecosystem, Package, Workspace};

/// What the caller asks for.
pub struct Options<'a> {
    pub dry_run: bool,
    pub no_push: bool,
    /// Packages taken, by index (`--filter`); `None` for all.
    pub selected: Option<&'a [bool]>,
    pub jobs: Option<usize>,
    /// Set by a signal handler: start nothing new, record where the release stands, stop.
    pub interrupted: &'a AtomicBool,
    /// The last step to run (`--until`); `None` runs them all. A release stopped early stays
    /// open in the journal, and the next run goes on from where it stands.
    pub until: Option<Step>,
}

/// The steps of a release after preflight, in their order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// What is already on its registry, and private packages, get their tags.
    Tag,
    /// Every package whose build needs no registry is built.
    Build,
    /// Every pending package is uploaded in dependency order, each tagged once it is out.
    Upload,
    /// The release commit and the tags reach the remote.
    Push,
    /// The forge release of every pushed tag.
    ForgeRelease,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Tag => "tag",
            Step::Build => "build",
            Step::Upload => "upload",
            Step::Push => "push",
            Step::ForgeRelease => "forge-release",
        }
    }
}

/// Where one package's release ends up.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "state", content = "reason")]
pub enum State {
    /// Not reached (dry run: would be published).
    Pending,
    /// The registry already had this version, with this content.
    Existing,
    Published,
    /// Not publishable (private): only tagged.
    Private,
    Failed(String),
    /// A dependency failed or was not published.
    Blocked(String),
    Interrupted,
}

impl State {
    fn done(&self) -> bool {
        matches!(self, State::Existing | State::Published | State::Private)
    }

    pub fn label(&self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Existing => "existing",
            State::Published => "published",
            State::Private => "private",
            State::Failed(_) => "failed",
            State::Blocked(_) => "blocked",
            State::Interrupted => "interrupted",
        }
    }
}

/// One package of the release.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Target {
    #[serde(skip)]
    pub package: usize,
    pub name: String,
    pub ecosystem: Ecosystem,
    pub version: String,
    pub tag: String,
    /// Whether the tag already names HEAD.
    pub tagged: bool,
    pub pushed: bool,
    pub release: Option<String>,
    #[serde(flatten)]
    pub state: State,
    /// Why a step after publishing (tag, push, forge release) failed.
    pub error: Option<String>,
}

/// A problem found before anything was done.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    pub message: String,
    pub help: Option<String>,
    /// A tool or an install this machine lacks (not the release's own fault): a dry run says
    /// what it could not check and goes on previewing.
    #[serde(skip)]
    pub machine: bool,
}

pub(crate) fn problem(message: impl Into<String>, help: impl Into<String>) -> Problem {
    let help = help.into();
    Problem {
        message: message.into(),
        help: (!help.is_empty()).then_some(help),
        machine: false,
    }
}

/// Why a release did not run.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("preflight found {} problem{}; nothing was published", .0.len(), if .0.len() == 1 { "" } else { "s" })]
    Preflight(Vec<Problem>),
    #[error(
        "the repository has no commits yet, so there is no release to publish; commit the packages and version them first"
    )]
    NoCommits,
    #[error("nothing to release: every version is tagged and on its registry")]
    NothingToRelease,
    #[error(transparent)]
    Git(#[from] git::GitError),
    #[error(transparent)]
    History(#[from] crate::changes::history::HistoryError),
    /// `.changeset/config.json` or the tag templates.
    #[error("{0}")]
    Config(crate::diagnostic::SourceError),
    #[error(transparent)]
    Journal(#[from] journal::JournalError),
    #[error("failed to write the release journal: {0}")]
    JournalWrite(#[source] std::io::Error),
    /// The npm user config the release generates.
    #[error(transparent)]
    Npmrc(std::io::Error),
}

/// What happened, for the summary.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub commit: String,
    pub dry_run: bool,
    pub targets: Vec<Target>,
    /// Whether the release commit is on the remote branch (`None` with `--no-push`).
    pub commit_pushed: Option<bool>,
    /// Whether a forge is configured: then a dry run reads each pushed tag's forge release.
    pub forge: bool,
    pub interrupted: bool,
    /// Notes for the user (skipped steps, packages without versions).
    pub notes: Vec<String>,
}

impl Report {
    /// Whether anything failed (exit 1).
    pub fn failed(&self) -> bool {
        self.interrupted
            || self.commit_pushed == Some(false)
            || self.targets.iter().any(|t| {
                matches!(t.state, State::Failed(_) | State::Blocked(_)) || t.error.is_some()
            })
    }
}

/// What a release says as it goes, for the caller to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// Work began on `subject` (a package, with what is being done): it lasts until the next
    /// event about the same package.
    Started(Activity, &'a str),
    /// Something happened to `subject`.
    Done(Notice, &'a str),
    /// A warning.
    Warning(&'a str),
    /// What a tool printed, redacted (shown with `-v`).
    Output(&'a str),
    /// A wait that is no package's (reading the registries): `Some(what)` while it lasts, `None`
    /// once it is over. Worth a spinner on a terminal, nothing in a log.
    Reading(Option<&'a str>),
}

/// Work that takes a while.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    Comparing,
    Packing,
    Publishing,
    Waiting,
    Retrying,
}

/// Things that happen once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    Pushing,
    Published,
    Failed,
    Pushed,
    Tagged,
    Released,
    Updated,
}

impl Activity {
    /// The verb a status line starts with.
    pub fn verb(self) -> &'static str {
        match self {
            Activity::Comparing => "Comparing",
            Activity::Packing => "Packing",
            Activity::Publishing => "Publishing",
            Activity::Waiting => "Waiting",
            Activity::Retrying => "Retrying",
        }
    }
}

impl Notice {
    /// The verb a status line starts with.
    pub fn verb(self) -> &'static str {
        match self {
            Notice::Pushing => "Pushing",
            Notice::Published => "Published",
            Notice::Failed => "Failed",
            Notice::Pushed => "Pushed",
            Notice::Tagged => "Tagged",
            Notice::Released => "Released",
            Notice::Updated => "Updated",
        }
    }
}

/// Where a release's [`Event`]s go.
pub type Reporter<'a> = &'a (dyn Fn(Event<'_>) + Sync);

/// Settings resolved from `polyship.toml`, the environment and the repository.
struct Settings {
    branch: String,
    remote: String,
    jobs: usize,
    timeout: Duration,
    registries: Registries,
    forge: Option<Forge>,
}

/// A registry base URL as polyship joins paths to it: without a `sparse+` prefix, ending in `/`.
pub(crate) fn slash(url: &str) -> String {
    let url = url.trim().trim_start_matches("sparse+");
    if url.ends_with('/') {
        url.to_owned()
    } else {
        format!("{url}/")
    }
}

/// The notes of the forge release of a tag that `members` (package indices) share at `version`.
///
/// Members of a `[[group]]` with its own changelog get that changelog's section, once. Otherwise
/// each member's changelog section, once per file (a wheel and its crate share their directory's);
/// when several files have one, each is headed by its package. Empty without any.
fn release_notes(
    root: &Path,
    ws: &Workspace,
    settings: &NotesSettings<'_>,
    members: &[usize],
    version: &str,
) -> String {
    let section = |file: &Path| {
        std::fs::read_to_string(root.join(file))
            .ok()
            .and_then(|c| forge::changelog_section(&c, version))
    };
    let group = settings
        .groups
        .iter()
        .map(toml::Spanned::get_ref)
        .find(|g| {
            g.changelog.is_some()
                && members.iter().all(|&m| {
                    let p = &ws.packages[m];
                    g.holds(&p.name, &p.id())
                })
        });
    if let Some(file) = group.and_then(|g| g.changelog.as_deref()) {
        return section(Path::new(file)).unwrap_or_default();
    }
    let mut files: Vec<PathBuf> = Vec::new();
    let mut sections: Vec<(&str, String)> = Vec::new();
    for &m in members {
        let p = &ws.packages[m];
        let file = Path::new(&p.path).join(settings.changelog_path);
        if files.contains(&file) {
            continue;
        }
        if let Some(s) = section(&file) {
            sections.push((&p.name, s));
        }
        files.push(file);
    }
    match sections.as_slice() {
        [] => String::new(),
        [(_, only)] => only.clone(),
        several => several
            .iter()
            .map(|(name, s)| format!("## {name}\n\n{}", s.trim()))
            .collect::<Vec<_>>()
            .join("\n\n"),
    }
}

/// What the notes of forge releases are made from.
struct NotesSettings<'a> {
    /// Each package's changelog, relative to its directory.
    changelog_path: &'a str,
    groups: &'a [toml::Spanned<crate::config::GroupConfig>],
}

impl<'a> NotesSettings<'a> {
    fn of(config: &'a LoadedConfig) -> Self {
        NotesSettings {
            changelog_path: &config.config.changelog.path,
            groups: &config.config.groups,
        }
    }
}

/// The package indices of `targets` that share each tag.
fn by_tag(targets: &[Target]) -> BTreeMap<String, Vec<usize>> {
    let mut tags: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for t in targets {
        tags.entry(t.tag.clone()).or_default().push(t.package);
    }
    tags
}

/// Which of `releases` (package index, new version) are already on their registries, read as a
/// release would read them: an explicit version (`polyship version 2.0.0`) must be new there.
/// Private packages are not read. `Err` when a registry could not answer.
pub fn on_registries(
    ws: &Workspace,
    config: &LoadedConfig,
    root: &Path,
    releases: &[(usize, String)],
) -> Vec<(usize, Result<bool, registry::RegistryError>)> {
    let changesets = crate::changes::changesets_config::read(root, &mut Vec::new())
        .ok()
        .flatten();
    let configure = crate::ecosystem::Configure {
        ws,
        config,
        root,
        changesets: changesets.as_ref(),
    };
    // What is wrong with the settings is preflight's to say; here they are only read.
    let (_, registries) = crate::ecosystem::configure_all(&configure, &mut Vec::new());
    let agent = registry::agent();
    let public: Vec<&(usize, String)> = releases
        .iter()
        .filter(|(p, _)| !ws.packages[*p].private)
        .collect();
    // Eight reads at once: a registry that does not answer costs its retries once, not once per
    // package.
    let lanes = public.len().clamp(1, 8);
    let read = |lane: usize| {
        public
            .iter()
            .skip(lane)
            .step_by(lanes)
            .map(|(p, version)| {
                let package = &ws.packages[*p];
                let registries = package
                    .ecosystem
                    .adapter()
                    .registries_for(package, &registries);
                let found = registry::presence(
                    &agent,
                    &registries,
                    package.ecosystem,
                    &package.name,
                    version,
                )
                .map(|presence| matches!(presence, Presence::Published { .. }));
                (*p, found)
            })
            .collect::<Vec<_>>()
    };
    let mut found: Vec<(usize, Result<bool, registry::RegistryError>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..lanes).map(|lane| s.spawn(move || read(lane))).collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    found.sort_by_key(|(p, _)| *p);
    found
}

/// Whether a package's version is on its registry (the ecosystem's to say which: an npm
/// package's own `publishConfig.registry` when it names one).
fn presence_of(
    agent: &ureq::Agent,
    registries: &Registries,
    p: &Package,
) -> Result<Presence, registry::RegistryError> {
    let registries = p.ecosystem.adapter().registries_for(p, registries);
    registry::presence(
        agent,
        &registries,
        p.ecosystem,
        &p.name,
        p.version.as_deref().unwrap_or_default(),
    )
}

/// A package's packed files for this commit: `.git/polyship/packed/<eco>-<name>-<version>`. Not
/// under `artifacts/`, the store of builds, archives and images, which outlives the publish: the
/// `forge-assets` and `verify` steps after it read that.
fn work_dir(git_dir: &Path, p: &Package) -> PathBuf {
    journal::dir(git_dir).join(PACKED).join(format!(
        "{}-{}-{}",
        p.ecosystem,
        p.name.replace(['/', '@'], "_"),
        p.version.as_deref().unwrap_or_default()
    ))
}

/// Builds (or reuses, when the journal recorded these same files) what will be uploaded.
fn artifacts(
    setup: &Setup,
    git_dir: &Path,
    p: &Package,
    recorded: &[(String, String)],
) -> Result<Vec<Artifact>, tools::ToolError> {
    let work = work_dir(git_dir, p);
    if !recorded.is_empty() {
        let reused: Vec<Artifact> = recorded
            .iter()
            .map(|(file, checksum)| Artifact {
                path: work.join(file),
                checksum: checksum.clone(),
            })
            .collect();
        let intact = reused.iter().all(|a| {
            p.ecosystem
                .adapter()
                .checksum(&a.path)
                .is_ok_and(|c| c == a.checksum)
        });
        if intact {
            return Ok(reused);
        }
    }
    setup.pack(p, &work)
}

fn recorded_artifacts(work: &Path, artifacts: &[Artifact]) -> Vec<(String, String)> {
    artifacts
        .iter()
        .map(|a| {
            (
                a.path
                    .strip_prefix(work)
                    .unwrap_or(&a.path)
                    .to_string_lossy()
                    .into_owned(),
                a.checksum.clone(),
            )
        })
        .collect()
}

/// Runs `f` over `items` on up to `jobs` threads, keeping the order of results.
fn parallel<T: Sync, R: Send>(items: &[T], jobs: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = Mutex::new(0usize);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            s.spawn(|| {
                loop {
                    let i = {
                        let mut n = next.lock().expect("queue");
                        let i = *n;
                        *n += 1;
                        i
                    };
                    if i >= items.len() {
                        break;
                    }
                    let r = f(&items[i]);
                    results.lock().expect("results")[i] = Some(r);
                }
            });
        }
    });
    results
        .into_inner()
        .expect("results")
        .into_iter()
        .map(|r| r.expect("every item ran"))
        .collect()
}

/// Everything a running release shares between its threads.
/// Why a version did not show on its registry.
enum Unseen {
    TimedOut,
    Interrupted,
    Unreadable(String),
}

struct Run<'a> {
    ws: &'a Workspace,
    root: &'a Path,
    git_dir: &'a Path,
    head: &'a str,
    setup: &'a Setup,
    settings: &'a Settings,
    agent: &'a ureq::Agent,
    redactor: &'a Redactor,
    notes: NotesSettings<'a>,
    /// Held while a tag is looked for and made.
    tagging: Mutex<()>,
    journal: Mutex<Journal>,
    /// What was built up front, by package index.
    prebuilt: Mutex<BTreeMap<usize, Result<Vec<Artifact>, tools::ToolError>>>,
    report: Reporter<'a>,
    interrupted: &'a AtomicBool,
}

impl Run<'_> {
    fn record(&self, t: &Target, f: impl FnOnce(&mut journal::Entry)) {
        let mut j = self.journal.lock().expect("journal");
        f(j.entry(Some(t.ecosystem), &t.name, &t.version, &t.tag));
        if let Err(e) = journal::save(self.git_dir, &mut j) {
            (self.report)(Event::Warning(&format!(
                "failed to write the release journal: {e}"
            )));
        }
    }

    fn presence(&self, p: &Package) -> Result<Presence, registry::RegistryError> {
        presence_of(self.agent, &self.settings.registries, p)
    }

    /// Polls `p`'s registry with backoff, up to the timeout, until it shows `p`'s version; returns
    /// the checksums it gives. `waiting` is called once, before the first wait.
    fn until_published(&self, p: &Package, waiting: impl FnOnce()) -> Result<Vec<String>, Unseen> {
        let start = Instant::now();
        let mut wait = Duration::from_millis(250);
        let mut waiting = Some(waiting);
        loop {
            match self.presence(p) {
                Ok(Presence::Published { checksums }) => return Ok(checksums),
                Ok(Presence::Absent) | Err(_) if start.elapsed() < self.settings.timeout => {}
                Ok(Presence::Absent) => return Err(Unseen::TimedOut),
                Err(e) => return Err(Unseen::Unreadable(e.to_string())),
            }
            if self.interrupted.load(Ordering::SeqCst) {
                return Err(Unseen::Interrupted);
            }
            if let Some(say) = waiting.take() {
                say();
            }
            std::thread::sleep(wait);
            wait = (wait * 2).min(Duration::from_secs(10));
        }
    }

    /// Waits until `dep` shows on its registry, polling with backoff up to the timeout. `Err` is
    /// the dependent's state: interrupted, or failed with why.
    fn wait_visible(&self, dependent: &str, dep: &Package) -> Result<(), State> {
        if dep.ecosystem.adapter().released_by_tag() {
            // Its registry learns of it from the tag, pushed after this release.
            return Ok(());
        }
        let version = dep.version.as_deref().unwrap_or_default();
        let said = || {
            (self.report)(Event::Started(
                Activity::Waiting,
                &format!(
                    "{dependent}: for {} {version} to show on its registry",
                    dep.name
                ),
            ));
        };
        match self.until_published(dep, said) {
            Ok(_) => Ok(()),
            Err(Unseen::Interrupted) => Err(State::Interrupted),
            Err(Unseen::TimedOut) => Err(State::Failed(format!(
                "its dependency {} {version} did not show on its registry within {} s",
                dep.name,
                self.settings.timeout.as_secs()
            ))),
            Err(Unseen::Unreadable(e)) => Err(State::Failed(format!(
                "could not see its dependency {}: {e}",
                dep.name
            ))),
        }
    }

    /// After a tool reported an upload done: the release is this one's only when the registry
    /// shows the version with our checksum. What was uploaded from a directory is known by the
    /// `shasum` npm's notice gave before the upload, or else by packing it again (reproducibly).
    fn confirm_upload(&self, t: &Target, built: &[Artifact], output: &str) -> State {
        let p = &self.ws.packages[t.package];
        let waiting = || {
            (self.report)(Event::Started(
                Activity::Waiting,
                &format!("{} {}: to show on its registry", t.name, t.version),
            ));
        };
        let checksums = match self.until_published(p, waiting) {
            Ok(c) => c,
            Err(Unseen::Interrupted) => return State::Interrupted,
            Err(Unseen::TimedOut) => {
                return State::Failed(format!(
                    "the upload of {} {} was reported done, but its registry did not show it within {} s; run `polyship publish` again once it does: it compares the registry's checksum with what this commit builds before tagging",
                    t.name,
                    t.version,
                    self.settings.timeout.as_secs()
                ));
            }
            Err(Unseen::Unreadable(e)) => {
                return State::Failed(format!(
                    "the upload of {} {} was reported done, but its registry could not be read to confirm it: {e}",
                    t.name, t.version
                ));
            }
        };
        let ours = if !built.is_empty() {
            Ok(built.to_vec())
        } else if let Some(noticed) = tools::npm_notice_shasum(output) {
            Ok(vec![noticed])
        } else {
            artifacts(self.setup, self.git_dir, p, &[])
        };
        match ours.map(|b| tools::same_content(&checksums, &b)) {
            // A registry that records no checksum polyship can compare: the tool's word stands.
            Ok(Some(true) | None) => State::Published,
            Ok(Some(false)) => State::Failed(format!(
                "the upload of {} {} was reported done, but the registry shows other content than was uploaded; something between polyship and the registry answered for it, or someone else published the version: check the registry before releasing again",
                t.name, t.version
            )),
            Err(e) => State::Failed(format!(
                "the upload of {} {} was reported done; packing it again to compare with the registry failed: {}",
                t.name, t.version, e.message
            )),
        }
    }

    /// Builds what a package uploads (or reuses what the journal recorded) and records it.
    fn build(&self, t: &Target) -> Result<Vec<Artifact>, tools::ToolError> {
        let p = &self.ws.packages[t.package];
        let recorded = {
            let j = self.journal.lock().expect("journal");
            j.find(Some(t.ecosystem), &t.name)
                .filter(|e| e.version == t.version)
                .map(|e| e.artifacts.clone())
                .unwrap_or_default()
        };
        if self.setup.publishes_directly(p) {
            self.setup.check_source_manifest(p)?;
            return Ok(Vec::new());
        }
        (self.report)(Event::Started(
            Activity::Packing,
            &format!("{} {}", t.name, t.version),
        ));
        let built = artifacts(self.setup, self.git_dir, p, &recorded)?;
        let work = work_dir(self.git_dir, p);
        self.record(t, |e| e.artifacts = recorded_artifacts(&work, &built));
        Ok(built)
    }

    /// Records where `t`'s upload ended, says so, and tags what was published; returns the
    /// target as it now stands.
    fn published(&self, t: &Target, state: &State) -> Target {
        let mut done = t.clone();
        done.state = state.clone();
        let label = match state {
            State::Published => journal::Upload::Published,
            State::Failed(_) => journal::Upload::Failed,
            State::Interrupted => journal::Upload::Interrupted,
            _ => journal::Upload::NotReached,
        };
        let error = match state {
            State::Failed(e) => Some(e.clone()),
            _ => None,
        };
        self.record(t, |e| {
            e.publish = label;
            e.error.clone_from(&error);
        });
        match state {
            State::Published => {
                (self.report)(Event::Done(
                    Notice::Published,
                    &format!("{} {}", t.name, t.version),
                ));
                self.tag(&mut done);
            }
            State::Failed(e) => (self.report)(Event::Done(
                Notice::Failed,
                &format!("{} {}: {}", t.name, t.version, first_line(e)),
            )),
            _ => {}
        }
        done
    }

    /// Publishes one package; returns its state.
    fn publish_one(&self, t: &Target, deps: &[usize]) -> State {
        let p = &self.ws.packages[t.package];
        if p.ecosystem.adapter().released_by_tag() {
            // The tag the scheduler makes next is the release.
            return State::Published;
        }
        let wait = || {
            for &d in deps {
                self.wait_visible(&t.name, &self.ws.packages[d])?;
            }
            Ok(())
        };
        // `cargo package` resolves dependencies on the registry: only once they are there. Other
        // builds do not need them, and were mostly made up front, in parallel.
        if p.ecosystem.adapter().builds_against_registry()
            && let Err(state) = wait()
        {
            return state;
        }
        let prebuilt = self.prebuilt.lock().expect("prebuilt").remove(&t.package);
        let built = match prebuilt.unwrap_or_else(|| self.build(t)) {
            Ok(a) => a,
            // Ctrl-C reaches the tools too: a build cut short is not a failure of the package.
            Err(_) if self.interrupted.load(Ordering::SeqCst) => return State::Interrupted,
            Err(e) => return State::Failed(e.message),
        };
        if !p.ecosystem.adapter().builds_against_registry()
            && let Err(state) = wait()
        {
            return state;
        }
        self.record(t, |e| e.publish = journal::Upload::Uploading);
        let mut attempt = 0;
        loop {
            attempt += 1;
            (self.report)(Event::Started(
                Activity::Publishing,
                &format!("{} {} ({})", t.name, t.version, t.ecosystem),
            ));
            let err = match self.setup.upload(p, &built) {
                Ok(output) => {
                    (self.report)(Event::Output(output.trim_end()));
                    return self.confirm_upload(t, &built, &output);
                }
                Err(err) => err,
            };
            // The tool failed; the registry decides what happened — and only its checksum of
            // what it holds, matching ours, makes the release this one's.
            match self.presence(p) {
                Ok(Presence::Published { checksums }) => {
                    // Published from its directory, nothing was packed yet: pack now (npm packs
                    // reproducibly) to know what the upload would have been.
                    let ours = if built.is_empty() {
                        artifacts(self.setup, self.git_dir, p, &[])
                    } else {
                        Ok(built.clone())
                    };
                    return match ours.map(|b| tools::same_content(&checksums, &b)) {
                        Ok(Some(true)) => State::Published,
                        Ok(Some(false)) => State::Failed(format!(
                            "{} {} is on the registry with other content than this commit builds; the version is taken: bump it and release again",
                            t.name, t.version
                        )),
                        Ok(None) => State::Failed(format!(
                            "{} {} is on the registry, which gives no checksum to compare with what this commit builds; the upload failed ({}), so it is not taken as this release",
                            t.name,
                            t.version,
                            first_line(&err.message)
                        )),
                        Err(e) => State::Failed(format!(
                            "{} {} is on the registry, and building it to compare failed: {}",
                            t.name, t.version, e.message
                        )),
                    };
                }
                Ok(Presence::Absent) if err.transient && attempt < 4 => {
                    // The registry's own word on when to come back, when the tool relays it.
                    let wait = retry_after(&err.message)
                        .unwrap_or_else(|| Duration::from_secs(1 << attempt));
                    (self.report)(Event::Started(
                        Activity::Retrying,
                        &format!(
                            "{} {} in {} s: {}",
                            t.name,
                            t.version,
                            wait.as_secs(),
                            first_line(&err.message)
                        ),
                    ));
                    std::thread::sleep(wait);
                    if self.interrupted.load(Ordering::SeqCst) {
                        return State::Interrupted;
                    }
                }
                Ok(Presence::Absent) if self.interrupted.load(Ordering::SeqCst) => {
                    return State::Interrupted;
                }
                Ok(Presence::Absent) => return State::Failed(err.message),
                Err(e) => {
                    return State::Failed(format!(
                        "{}\nand the registry could not say whether it arrived: {e}",
                        err.message
                    ));
                }
            }
        }
    }

    /// Pushes the release commit, then each tag on its own. Returns whether the commit is on the
    /// remote branch.
    fn push(
        &self,
        targets: &mut [Target],
        refs: &git::RemoteRefs,
        notes: &mut Vec<String>,
    ) -> bool {
        let on_remote = refs
            .branches
            .get(&self.settings.branch)
            .is_some_and(|c| *c == self.head);
        let mut ok = on_remote;
        if !on_remote && targets.iter().any(|t| t.tagged) {
            (self.report)(Event::Done(
                Notice::Pushing,
                &format!(
                    "{} to {}/{}",
                    &self.head[..12.min(self.head.len())],
                    self.settings.remote,
                    self.settings.branch
                ),
            ));
            match git::push(
                self.root,
                &self.settings.remote,
                &format!("{}:refs/heads/{}", self.head, self.settings.branch),
                self.redactor,
            ) {
                Ok(()) => ok = true,
                Err(e) => notes.push(format!("pushing the release commit failed: {e}")),
            }
        }
        let commit_pushed = ok || !targets.iter().any(|t| t.tagged);
        self.journal.lock().expect("journal").commit_pushed = commit_pushed;
        // A tag shared by several packages is pushed (and said) once.
        let mut pushed_now: Vec<String> = Vec::new();
        for t in targets.iter_mut().filter(|t| t.tagged) {
            if refs.tags.get(&t.tag).is_some_and(|c| c == self.head) || pushed_now.contains(&t.tag)
            {
                t.pushed = true;
            } else {
                match git::push(
                    self.root,
                    &self.settings.remote,
                    &format!("refs/tags/{}", t.tag),
                    self.redactor,
                ) {
                    Ok(()) => {
                        t.pushed = true;
                        pushed_now.push(t.tag.clone());
                        (self.report)(Event::Done(Notice::Pushed, &t.tag));
                    }
                    Err(e) => t.error = Some(format!("pushing the tag failed: {e}")),
                }
            }
            let (pushed, error) = (t.pushed, t.error.clone());
            self.record(t, |e| {
                e.pushed = pushed;
                e.error.clone_from(&error);
            });
        }
        commit_pushed
    }

    /// Makes (or finds, or updates) the forge release of every pushed tag, once for the packages
    /// that share it.
    fn release(&self, forge: &Forge, targets: &mut [Target]) {
        let shared = by_tag(targets);
        let mut made: BTreeMap<String, Result<String, String>> = BTreeMap::new();
        for t in targets.iter_mut().filter(|t| t.pushed) {
            let outcome = made.entry(t.tag.clone()).or_insert_with(|| {
                let members = &shared[&t.tag];
                let notes_text =
                    release_notes(self.root, self.ws, &self.notes, members, &t.version);
                let request = forge::ReleaseRequest {
                    tag: &t.tag,
                    name: &t.tag,
                    body: &notes_text,
                    prerelease: t.version.contains('-')
                        || t.version.contains(|c: char| c.is_ascii_alphabetic()),
                    commit: self.head,
                };
                match forge.release(self.agent, &request) {
                    Ok(outcome) => {
                        let notice = match outcome {
                            forge::Outcome::Created(_) => Some(Notice::Released),
                            forge::Outcome::Updated(_) => Some(Notice::Updated),
                            forge::Outcome::Unchanged(_) => None,
                        };
                        if let Some(notice) = notice {
                            (self.report)(Event::Done(
                                notice,
                                &format!("{} {}", t.tag, outcome.url()),
                            ));
                        }
                        Ok(outcome.url().to_owned())
                    }
                    Err(e) => Err(format!(
                        "the forge release failed: {}",
                        self.redactor.redact(&e.to_string())
                    )),
                }
            });
            match outcome.clone() {
                Ok(url) => {
                    t.release = Some(url);
                    let url = t.release.clone();
                    self.record(t, |e| e.release = url);
                }
                Err(msg) => {
                    t.error = Some(msg);
                    let msg = t.error.clone();
                    self.record(t, |e| e.error = msg);
                }
            }
        }
    }

    fn tag(&self, t: &mut Target) {
        // A tag shared on purpose (a wheel and its crate, a fixed version line) is made once:
        // packages that publish at once take turns to look for it and make it.
        let _turn = self.tagging.lock().expect("tagging");
        if t.tagged || git::tag_names(self.root, &t.tag, self.head, self.redactor) {
            if !t.tagged {
                t.tagged = true;
                self.record(t, |e| e.tagged = true);
            }
            return;
        }
        match git::create_tag(self.root, &t.tag, self.head, self.redactor) {
            Ok(()) => {
                t.tagged = true;
                (self.report)(Event::Done(Notice::Tagged, &t.tag));
                self.record(t, |e| e.tagged = true);
            }
            Err(e) => {
                let msg = e.to_string();
                self.record(t, |e| e.error = Some(msg.clone()));
                t.error = Some(msg);
            }
        }
    }
}

/// Two releases under one tag: fine when they are one release on purpose — a wheel and the crate
/// it is built from, packages sharing a version field, members of one fixed or locked version
/// line — and said so; otherwise a preflight problem, since one of them would be invisible.
fn shared_tags(
    root: &Path,
    ws: &Workspace,
    config: &LoadedConfig,
    changesets: Option<&crate::changes::changesets_config::ChangesetsConfig>,
    targets: &[Target],
    problems: &mut Vec<Problem>,
    notes: &mut Vec<String>,
) {
    let mut by_tag: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for t in targets {
        by_tag.entry(&t.tag).or_default().push(t.package);
    }
    let lerna_fixed = crate::changes::lerna_config::read(root, &mut Vec::new())
        .ok()
        .flatten()
        .is_some_and(|l| matches!(l.mode, crate::changes::lerna_config::Mode::Fixed(_)));
    let together = |a: usize, b: usize| {
        let (pa, pb) = (&ws.packages[a], &ws.packages[b]);
        let linked = |x: &crate::workspace::Package, y: &crate::workspace::Package| matches!(&x.version_source, crate::workspace::VersionSource::Linked { ecosystem, name } if *ecosystem == y.ecosystem && *name == y.name);
        let field = match (&pa.version_source, &pb.version_source) {
            (
                crate::workspace::VersionSource::Workspace { location: x },
                crate::workspace::VersionSource::Workspace { location: y },
            ) => x.file == y.file,
            _ => false,
        };
        let grouped = config.config.groups.iter().any(|g| {
            let g = g.get_ref();
            g.kind != crate::config::GroupKind::Linked
                && g.holds(&pa.name, &pa.id())
                && g.holds(&pb.name, &pb.id())
        }) || changesets.is_some_and(|c| {
            c.fixed.iter().any(|g| {
                let in_list = |p: &crate::workspace::Package| {
                    g.iter().any(|m| {
                        *m == p.name
                            || *m == p.id()
                            || glob::Pattern::new(m).is_ok_and(|g| g.matches(&p.name))
                    })
                };
                in_list(pa) && in_list(pb)
            })
        }) || (lerna_fixed
            && pa.ecosystem.adapter().governed_by_lerna()
            && pb.ecosystem.adapter().governed_by_lerna());
        linked(pa, pb) || linked(pb, pa) || field || grouped
    };
    for (tag, packages) in by_tag {
        if packages.len() < 2 {
            continue;
        }
        let ids: Vec<String> = packages
            .iter()
            .map(|&p| format!("`{}`", ws.packages[p].id()))
            .collect();
        if packages
            .iter()
            .all(|&a| packages.iter().all(|&b| a == b || together(a, b)))
        {
            notes.push(format!(
                "`{tag}` tags {} together: they release as one",
                ids.join(", ")
            ));
        } else {
            problems.push(problem(
                format!("the releases of {} would all be tagged `{tag}`", ids.join(" and ")),
                "give them different tag templates in `[tags] templates` (such as `{name}-v{version}` and `py-{name}-v{version}`), or release them together in a fixed group",
            ));
        }
    }
}

/// A wait a tool's output relays from its registry: `Retry-After: 30`, `retry after 30 seconds`,
/// `try again in 30 seconds` (at most five minutes).
fn retry_after(output: &str) -> Option<Duration> {
    let lower = output.to_ascii_lowercase();
    ["retry-after:", "retry-after", "retry after", "try again in"]
        .iter()
        .find_map(|key| {
            let at = lower.find(key)? + key.len();
            let digits: String = lower[at..]
                .trim_start_matches([' ', ':', '='])
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse::<u64>().ok()
        })
        .map(|s| Duration::from_secs(s.min(300)))
}

/// A file removed when the run ends, however it ends.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn first_line(s: &str) -> &str {
    s.lines().find(|l| !l.trim().is_empty()).unwrap_or(s).trim()
}

/// `polyship publish`: the steps in order. A release with nothing left to do, or a dry run,
/// ends after preflight. Git's messages are redacted where git runs; a caller showing any other
/// error masks it with [`Redactor`] too.
pub fn run(
    ws: &Workspace,
    config: &LoadedConfig,
    root: &Path,
    options: &Options<'_>,
    report: Reporter<'_>,
) -> Result<Report, PublishError> {
    let mut preflighted = preflight(ws, config, root, options, report)?;
    if preflighted.ends_here() {
        return Ok(preflighted.into_report());
    }
    let mut release = preflighted.start(report)?;
    for step in [
        Step::Tag,
        Step::Build,
        Step::Upload,
        Step::Push,
        Step::ForgeRelease,
    ] {
        match step {
            Step::Tag => release.tag_existing(),
            Step::Build => release.build(),
            Step::Upload => release.upload(),
            Step::Push => release.push(),
            Step::ForgeRelease => release.forge_release(),
        }
        if options.until == Some(step) && step != Step::ForgeRelease {
            return Ok(release.pause(step));
        }
    }
    release.finish()
}

/// A release that passed preflight: what it releases, and what its steps need. Dropped, it
/// removes the npm config it generated and releases the lock.
pub struct Preflighted<'a> {
    cx: Release<'a>,
    agent: ureq::Agent,
    targets: Vec<Target>,
    setup: Option<(Setup, RemoveOnDrop)>,
    old: Option<Journal>,
    _lock: Option<journal::Lock>,
    notes: Vec<String>,
}

/// The `preflight` step, before any side effect, collecting every problem: the release commit
/// and settings (`open`), what is unreleased (`select`, `read_registries`), the work tree,
/// branch and remote (`check_repository`), the credentials and tools (`prepare_tools`) and the
/// content already on a registry (`compare_existing`). Takes the release lock unless a dry run.
pub fn preflight<'a>(
    ws: &'a Workspace,
    config: &'a LoadedConfig,
    root: &'a Path,
    options: &'a Options<'a>,
    report: Reporter<'_>,
) -> Result<Preflighted<'a>, PublishError> {
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    let cx = open(ws, config, root, options, &mut problems)?;
    let (targets, local_tags) = select(&cx, &mut problems, &mut notes)?;
    let agent = registry::agent();
    report(Event::Reading(Some(&reading(&cx, &targets))));
    let (targets, existing) = read_registries(&cx, &agent, targets, &local_tags, &mut problems);
    report(Event::Reading(None));
    if targets.is_empty() && problems.is_empty() {
        // Everything is released: a dirty tree or another branch does not matter.
        return Ok(Preflighted {
            cx,
            agent,
            targets,
            setup: None,
            old: None,
            _lock: None,
            notes,
        });
    }
    check_repository(&cx, &agent, &targets, &mut problems)?;
    let mut targets = targets;
    if options.dry_run && cx.settings.forge.is_some() {
        report(Event::Reading(Some("the forge's releases")));
        cx.read_forge_releases(&agent, &mut targets);
        report(Event::Reading(None));
    }
    let (setup, npmrc) = prepare_tools(&cx, &targets, &mut problems)?;
    if options.dry_run {
        let pending: Vec<&Package> = targets
            .iter()
            .filter(|t| t.state == State::Pending)
            .map(|t| &ws.packages[t.package])
            .collect();
        notes.extend(crate::ecosystem::npm::release::platform_notes(
            &cx.ecosystems.npm,
            &cx.git_dir,
            &cx.head,
            &pending,
        ));
        // A preview needs no tools: what this machine lacks is said, not refused.
        problems.retain(|p| {
            if p.machine {
                let help = p
                    .help
                    .as_ref()
                    .map(|h| format!(" ({h})"))
                    .unwrap_or_default();
                notes.push(format!("not checked: {}{help}", p.message));
            }
            !p.machine
        });
    }
    let mut lock = None;
    let old = journal::load(&cx.git_dir)?;
    if !options.dry_run && problems.is_empty() {
        match journal::lock(&cx.git_dir) {
            Ok(l) => lock = Some(l),
            Err(e) => problems.push(problem(e.to_string(), "")),
        }
    }
    if problems.is_empty() {
        compare_existing(
            &cx,
            &setup,
            old.as_ref(),
            (&existing, &targets),
            (&mut problems, &mut notes),
            report,
        );
    }
    if !problems.is_empty() {
        // Problems quote URLs and answers: no secret reaches the screen through them.
        for p in &mut problems {
            p.message = cx.redactor.redact(&p.message);
            p.help = p.help.as_deref().map(|h| cx.redactor.redact(h));
        }
        return Err(PublishError::Preflight(problems));
    }
    Ok(Preflighted {
        cx,
        agent,
        targets,
        setup: Some((setup, npmrc)),
        old,
        _lock: lock,
        notes,
    })
}

impl Preflighted<'_> {
    /// What this release would do: each target as preflight left it.
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// Whether the release ends with preflight: nothing is left to release, or it is a dry run.
    pub fn ends_here(&self) -> bool {
        self.setup.is_none() || self.cx.options.dry_run
    }

    /// The report of a release that ends here.
    pub fn into_report(self) -> Report {
        self.cx.report(self.targets, None, false, self.notes)
    }

    /// The journal says the release is running, with every target in it; the steps that change
    /// things follow on what this returns.
    pub fn start<'b>(&'b mut self, report: Reporter<'b>) -> Result<Running<'b>, PublishError> {
        let Some((setup, _)) = &self.setup else {
            return Err(PublishError::NothingToRelease);
        };
        let run = start(
            &self.cx,
            setup,
            &self.agent,
            self.old.take(),
            &self.targets,
            report,
        )?;
        Ok(Running {
            cx: &self.cx,
            run,
            targets: self.targets.clone(),
            notes: std::mem::take(&mut self.notes),
            commit_pushed: None,
            stopped: None,
        })
    }
}

/// A release under way: each step journals what it did, and a rerun does the rest.
pub struct Running<'a> {
    cx: &'a Release<'a>,
    run: Run<'a>,
    targets: Vec<Target>,
    notes: Vec<String>,
    commit_pushed: Option<bool>,
    /// Whether a stop was asked for when the uploads ended (the report's word).
    stopped: Option<bool>,
}

impl Running<'_> {
    /// The targets as the steps so far left them.
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    fn interrupted(&self) -> bool {
        self.cx.options.interrupted.load(Ordering::SeqCst)
    }

    /// `tag`: what is already on its registry, and private packages, which are only tagged.
    pub fn tag_existing(&mut self) {
        tag_existing(&self.run, &mut self.targets);
    }

    /// `build`: every package whose build needs no registry, up front and in parallel.
    pub fn build(&mut self) {
        build(&self.run, &self.targets);
    }

    /// `upload`: every pending package in dependency order, each tagged once it is out.
    pub fn upload(&mut self) {
        upload(&self.run, &mut self.targets);
    }

    /// `push`: the release commit, then each tag on its own (nothing with `--no-push`, or once
    /// interrupted).
    pub fn push(&mut self) {
        let stopped = self.interrupted();
        self.stopped = Some(stopped);
        if self.cx.options.no_push {
            self.notes.push(
                "--no-push: the release commit and tags stay local; no forge releases".into(),
            );
            return;
        }
        if stopped {
            return;
        }
        let refs = self.cx.remote_refs.clone().unwrap_or_default();
        self.commit_pushed = Some(self.run.push(&mut self.targets, &refs, &mut self.notes));
    }

    /// `forge-release`: the forge release of every pushed tag, with its changelog section.
    pub fn forge_release(&mut self) {
        if self.commit_pushed.is_none() {
            return;
        }
        if let Some(forge) = &self.cx.settings.forge {
            self.run.release(forge, &mut self.targets);
        }
    }

    /// The report of a release stopped after `step` on purpose: the journal keeps it open, so
    /// the next `polyship publish` goes on from there.
    pub fn pause(mut self, step: Step) -> Report {
        let interrupted = self.interrupted();
        self.notes.push(format!(
            "stopped after `{}` (--until): `polyship publish` goes on from here",
            step.as_str()
        ));
        self.cx
            .report(self.targets, self.commit_pushed, interrupted, self.notes)
    }

    /// The journal's last word: complete, failed or interrupted; the report.
    pub fn finish(self) -> Result<Report, PublishError> {
        let interrupted = self.stopped.unwrap_or_else(|| self.interrupted());
        let report = self
            .cx
            .report(self.targets, self.commit_pushed, interrupted, self.notes);
        finish(self.cx, self.run, report)
    }
}

/// What every step of a release reads: the workspace and settings, the release commit, the
/// remote's refs.
struct Release<'a> {
    ws: &'a Workspace,
    config: &'a LoadedConfig,
    root: &'a Path,
    options: &'a Options<'a>,
    redactor: Redactor,
    head: String,
    git_dir: PathBuf,
    changesets: Option<crate::changes::changesets_config::ChangesetsConfig>,
    settings: Settings,
    remote_refs: Option<git::RemoteRefs>,
    /// Each ecosystem's own release settings.
    ecosystems: crate::ecosystem::Settings,
}

impl Release<'_> {
    fn report(
        &self,
        targets: Vec<Target>,
        commit_pushed: Option<bool>,
        interrupted: bool,
        notes: Vec<String>,
    ) -> Report {
        Report {
            commit: self.head.clone(),
            dry_run: self.options.dry_run,
            targets,
            commit_pushed,
            forge: self.settings.forge.is_some(),
            interrupted,
            notes,
        }
    }

    /// A dry run's look at the forge: each pushed tag's published release, when its notes are
    /// the changelog's section. Nothing is written.
    fn read_forge_releases(&self, agent: &ureq::Agent, targets: &mut [Target]) {
        let Some(forge) = &self.settings.forge else {
            return;
        };
        let shared = by_tag(targets);
        let settings = NotesSettings::of(self.config);
        for t in targets.iter_mut().filter(|t| t.pushed) {
            let notes = release_notes(self.root, self.ws, &settings, &shared[&t.tag], &t.version);
            match forge.published(agent, &t.tag) {
                // Other notes than the changelog's: a release would update them, so a dry run
                // does not count the release as made.
                Ok(Some((url, body))) if body.trim() == notes.trim() => t.release = Some(url),
                Ok(_) => {}
                Err(e) => {
                    t.error = Some(format!(
                        "the forge release could not be read: {}",
                        self.redactor.redact(&e.to_string())
                    ));
                }
            }
        }
    }
}

/// The release commit, the settings, the remote: what every later step reads.
fn open<'a>(
    ws: &'a Workspace,
    config: &'a LoadedConfig,
    root: &'a Path,
    options: &'a Options<'a>,
    problems: &mut Vec<Problem>,
) -> Result<Release<'a>, PublishError> {
    let redactor = Redactor::from_env();
    let head = git::head(root, &redactor).map_err(|e| {
        if crate::changes::history::open(root).is_ok_and(|r| r.head_id().is_err()) {
            PublishError::NoCommits
        } else {
            PublishError::Git(e)
        }
    })?;
    let git_dir = git::common_dir(root, &redactor)?;
    let cfg = &config.config.publish;
    let changesets = crate::changes::changesets_config::read(root, &mut Vec::new())
        .map_err(PublishError::Config)?;
    let remote = cfg.remote_name();
    let branch = cfg
        .branch
        .clone()
        .unwrap_or_else(|| crate::changes::base_branch(config, changesets.as_ref()));
    let configure = crate::ecosystem::Configure {
        ws,
        config,
        root,
        changesets: changesets.as_ref(),
    };
    let (ecosystems, registries) = crate::ecosystem::configure_all(&configure, problems);
    let remote_url = git::remote_url(root, &remote, &redactor);
    // The remote's tags count as much as local ones: a CI clone often has none of its own.
    let mut remote_refs = None;
    if !options.no_push {
        if remote_url.is_none() {
            problems.push(problem(
                format!("there is no remote `{remote}` to push the release to"),
                "add it, set `[publish] remote`, or publish with `--no-push`",
            ));
        } else {
            match git::remote_refs(root, &remote, &redactor) {
                Ok(refs) => remote_refs = Some(refs),
                Err(e) => problems.push(problem(
                    format!("could not read the refs of `{remote}`: {e}"),
                    "check the remote's URL and credentials, or publish with `--no-push`",
                )),
            }
        }
    }
    let forge = if options.no_push {
        None
    } else {
        resolve_forge(config, remote_url.as_deref(), problems)
    };
    let settings = Settings {
        branch,
        remote,
        jobs: options.jobs.or(cfg.jobs).unwrap_or(4).max(1),
        timeout: Duration::from_secs(cfg.timeout.unwrap_or(300)),
        registries,
        forge,
    };

    Ok(Release {
        ws,
        config,
        root,
        options,
        redactor,
        head,
        git_dir,
        changesets,
        settings,
        remote_refs,
        ecosystems,
    })
}

/// Step 1: the packages of this release and their tags; with the local tags (name → commit).
fn select(
    cx: &Release<'_>,
    problems: &mut Vec<Problem>,
    notes: &mut Vec<String>,
) -> Result<(Vec<Target>, BTreeMap<String, String>), PublishError> {
    let Release {
        ws,
        config,
        root,
        options,
        head,
        changesets,
        remote_refs,
        ..
    } = cx;
    let (local_tags, known) = known_tags(root, remote_refs.as_ref())?;
    let templates = crate::changes::tag_schemes(root, ws, config, &known)
        .map_err(PublishError::Config)?
        .templates;
    let mut targets = Vec::new();
    for (i, p) in ws.packages.iter().enumerate() {
        if options.selected.is_some_and(|s| !s[i]) {
            continue;
        }
        let Some(version) = p.version.clone() else {
            if !p.private {
                notes.push(format!(
                    "{} ({}) has no version polyship can read; it is not published",
                    p.name, p.ecosystem
                ));
            }
            continue;
        };
        if !p.private
            && matches!(
                p.version_source,
                crate::workspace::VersionSource::Dynamic { .. }
            )
        {
            notes.push(format!(
                "{}: its version is computed at build time; it is not published",
                p.name
            ));
            continue;
        }
        // Private packages are tagged only when asked; one never versioned (`0.0.0`) never.
        let tag_private = config
            .config
            .tags
            .private
            .or_else(|| changesets.as_ref().map(|c| c.private_tag))
            .unwrap_or(false);
        if p.private && (!tag_private || version == "0.0.0") {
            continue;
        }
        let Some(template) = templates[i].first() else {
            continue;
        };
        let tag = template.render(&version);
        let remote_tag = remote_refs.as_ref().and_then(|r| r.tags.get(&tag));
        let tagged = local_tags.get(&tag).is_some_and(|c| c == head);
        let elsewhere = local_tags
            .get(&tag)
            .or(remote_tag)
            .is_some_and(|c| c != head);
        if p.private && elsewhere {
            continue;
        }
        targets.push(Target {
            package: i,
            name: p.name.clone(),
            ecosystem: p.ecosystem,
            version,
            tag,
            tagged,
            pushed: remote_tag.is_some_and(|c| c == head),
            release: None,
            state: if p.private {
                State::Private
            } else {
                State::Pending
            },
            error: None,
        });
    }

    shared_tags(
        root,
        ws,
        config,
        changesets.as_ref(),
        &targets,
        problems,
        notes,
    );

    Ok((targets, local_tags))
}

/// The tag package `package` of `ws` is released under at `version`, by its tag template.
pub fn release_tag(
    root: &Path,
    ws: &Workspace,
    config: &LoadedConfig,
    package: usize,
    version: &str,
) -> Result<Option<String>, PublishError> {
    let (_, known) = known_tags(root, None)?;
    let templates = crate::changes::tag_schemes(root, ws, config, &known)
        .map_err(PublishError::Config)?
        .templates;
    Ok(templates[package].first().map(|t| t.render(version)))
}

/// The forge `publish` makes releases on, as its preflight resolves it: `Ok(None)` when forge
/// releases are off; the problems when it cannot be reached (no token, no repository).
pub fn forge(root: &Path, config: &LoadedConfig) -> Result<Option<Forge>, Vec<Problem>> {
    let redactor = Redactor::from_env();
    let remote = config.config.publish.remote_name();
    let remote_url = git::remote_url(root, &remote, &redactor);
    let mut problems = Vec::new();
    let forge = resolve_forge(config, remote_url.as_deref(), &mut problems);
    if problems.is_empty() {
        Ok(forge)
    } else {
        Err(problems)
    }
}

/// The local tags (name → commit), and every tag known (the remote's included: a tagless CI
/// clone), which the tag schemes are read off.
#[allow(clippy::type_complexity)]
fn known_tags(
    root: &Path,
    remote_refs: Option<&git::RemoteRefs>,
) -> Result<(BTreeMap<String, String>, Vec<(String, gix::ObjectId)>), PublishError> {
    let repo = crate::changes::history::open(root)?;
    let peeled = crate::changes::history::tags(&repo)?;
    let local_tags: BTreeMap<String, String> = peeled
        .iter()
        .map(|(n, id)| (n.clone(), id.to_string()))
        .collect();
    let mut known = peeled;
    if let Some(refs) = remote_refs {
        for (name, commit) in &refs.tags {
            if !local_tags.contains_key(name)
                && let Ok(id) = gix::ObjectId::from_hex(commit.as_bytes())
            {
                known.push((name.clone(), id));
            }
        }
    }
    Ok((local_tags, known))
}

/// What `read_registries` reads, for the spinner: `12 packages on registry.npmjs.org, index.crates.io`.
fn reading(cx: &Release<'_>, targets: &[Target]) -> String {
    let mut hosts: Vec<String> = Vec::new();
    for t in targets.iter().filter(|t| t.state != State::Private) {
        let url = &cx.settings.registries.get(t.ecosystem).url;
        // The host only: a URL's user and password are no spinner's business.
        let host = forge::host_of(url).unwrap_or(url).to_owned();
        if !hosts.contains(&host) {
            hosts.push(host);
        }
    }
    let count = targets.len();
    format!(
        "{count} package{} on {}",
        if count == 1 { "" } else { "s" },
        hosts.join(", ")
    )
}

/// Step 2: ask every registry, in parallel. Versions released before (tagged elsewhere, on the
/// registry) drop out; those on the registry and untagged are returned with its checksums, to
/// compare.
#[allow(clippy::type_complexity)]
fn read_registries(
    cx: &Release<'_>,
    agent: &ureq::Agent,
    targets: Vec<Target>,
    local_tags: &BTreeMap<String, String>,
    problems: &mut Vec<Problem>,
) -> (Vec<Target>, Vec<(usize, Vec<String>)>) {
    let Release {
        ws,
        head,
        settings,
        remote_refs,
        ..
    } = cx;
    let reads = parallel(&targets, 8, |t: &Target| {
        if t.state == State::Private {
            return Ok(Presence::Absent);
        }
        // Where the tag is the release, a tag of the version anywhere is the version released
        // (one at HEAD, `tagged` or `pushed`, is among them).
        let tag_known = local_tags.contains_key(&t.tag)
            || remote_refs
                .as_ref()
                .is_some_and(|r| r.tags.contains_key(&t.tag));
        if tag_known && t.ecosystem.adapter().released_by_tag() {
            return Ok(Presence::Published {
                checksums: Vec::new(),
            });
        }
        presence_of(agent, &settings.registries, &ws.packages[t.package])
    });
    let mut existing: Vec<(usize, Vec<String>)> = Vec::new();
    let mut keep = Vec::new();
    for (mut t, read) in targets.into_iter().zip(reads) {
        let local = local_tags.get(&t.tag).filter(|c| *c != head);
        let remote_tag = remote_refs
            .as_ref()
            .and_then(|r| r.tags.get(&t.tag))
            .filter(|c| *c != head);
        let elsewhere = local
            .map(|c| (c.clone(), String::new()))
            .or_else(|| remote_tag.map(|c| (c.clone(), format!(" on `{}`", settings.remote))));
        match read {
            Err(e) => {
                problems.push(problem(
                    format!("{} {}: {e}", t.name, t.version),
                    "check the registry URL in `[publish]` and that the registry is up",
                ));
                keep.push(t);
            }
            Ok(Presence::Published { .. }) if elsewhere.is_some() => {
                // An earlier release, already tagged: nothing to do.
            }
            Ok(Presence::Absent) if elsewhere.is_some() && t.state != State::Private => {
                let (commit, place) = elsewhere.unwrap_or_default();
                problems.push(problem(
                    format!(
                        "tag `{}` already exists{place} at commit {}, not HEAD, but {} {} is not on its registry",
                        t.tag,
                        &commit[..commit.len().min(12)],
                        t.name,
                        t.version
                    ),
                    "polyship never moves a tag: bump the version with `polyship version`, or delete the tag if it was a mistake",
                ));
                keep.push(t);
            }
            Ok(Presence::Published { checksums }) => {
                t.state = State::Existing;
                existing.push((keep.len(), checksums));
                keep.push(t);
            }
            Ok(Presence::Absent) => keep.push(t),
        }
    }
    (keep, existing)
}

/// Step 3, preflight of the repository: a clean tree on the release branch, level with the
/// remote; every dependency outside the release already on its registry.
fn check_repository(
    cx: &Release<'_>,
    agent: &ureq::Agent,
    targets: &[Target],
    problems: &mut Vec<Problem>,
) -> Result<(), PublishError> {
    let Release {
        ws,
        root,
        redactor,
        head,
        settings,
        remote_refs,
        ..
    } = cx;
    let dirty = git::dirty_files(root, redactor)?;
    if !dirty.is_empty() {
        let shown: Vec<&str> = dirty.iter().take(20).map(String::as_str).collect();
        problems.push(problem(
            format!(
                "the work tree is not clean: {}{}",
                shown.join(", "),
                if dirty.len() > shown.len() {
                    format!(" and {} more", dirty.len() - shown.len())
                } else {
                    String::new()
                }
            ),
            "commit or stash these files: a release publishes what is committed",
        ));
    }
    match git::current_branch(root, redactor)? {
        Some(b) if b == settings.branch => {}
        Some(b) => problems.push(problem(
            format!(
                "the release branch is `{}`, and `{b}` is checked out",
                settings.branch
            ),
            format!("check out `{}`, or set `[publish] branch`", settings.branch),
        )),
        // CI systems (GitLab's among them) check out a detached HEAD: that is the release
        // branch when it is the branch's newest commit on the remote.
        None if remote_refs
            .as_ref()
            .and_then(|r| r.branches.get(&settings.branch))
            .is_some_and(|tip| tip == head) => {}
        None => problems.push(problem(
            format!(
                "HEAD is detached and is not the newest commit of `{}/{}`",
                settings.remote, settings.branch
            ),
            format!("check out the release branch `{}`", settings.branch),
        )),
    }
    if let Some(refs) = &remote_refs
        && let Some(tip) = refs.branches.get(&settings.branch)
        && !git::is_ancestor(root, tip, head, redactor)
    {
        problems.push(problem(
            format!(
                "HEAD is behind `{}/{}` (or has diverged from it)",
                settings.remote, settings.branch
            ),
            "pull and release from the branch's newest commit",
        ));
    }

    // A dependency left out of this release (by `--filter`) must already be on its registry.
    let in_release: std::collections::BTreeSet<usize> = targets.iter().map(|t| t.package).collect();
    for t in targets.iter().filter(|t| t.state == State::Pending) {
        for d in ws.packages[t.package]
            .dependencies
            .iter()
            .filter(|d| d.orders_release())
        {
            let Some(j) = ws.find(d.ecosystem, &d.name) else {
                continue;
            };
            let dep = &ws.packages[j];
            if in_release.contains(&j) || dep.private || dep.version.is_none() {
                continue;
            }
            let version = dep.version.as_deref().unwrap_or_default();
            if let Ok(Presence::Absent) = presence_of(agent, &settings.registries, dep) {
                problems.push(problem(
                    format!(
                        "{} depends on {} {version}, which is not on its registry and not part of this release",
                        t.name, dep.name
                    ),
                    format!("add `{}` to `--filter`, or publish it first", dep.name),
                ));
            }
        }
    }

    Ok(())
}

/// Step 3, preflight of the tools: credentials and tools for each ecosystem with something to
/// upload, and what the builds and uploads need. The generated npm config is removed when the
/// returned guard drops.
fn prepare_tools(
    cx: &Release<'_>,
    targets: &[Target],
    problems: &mut Vec<Problem>,
) -> Result<(Setup, RemoveOnDrop), PublishError> {
    let Release {
        ws,
        root,
        options,
        redactor,
        head,
        git_dir,
        ecosystems,
        ..
    } = cx;
    let uploads: Vec<&Target> = targets
        .iter()
        .filter(|t| t.state == State::Pending)
        .collect();
    let needs = preflight::Needs {
        root,
        git_dir,
        ecosystems: uploads.iter().map(|t| t.ecosystem).collect(),
        uploads: uploads.iter().map(|t| &ws.packages[t.package]).collect(),
        settings: ecosystems,
    };
    let generated_npmrc = preflight::credentials_and_tools(&needs, problems);
    // The generated npm config exists only while a release that passed preflight runs.
    let npm_env = if !options.dry_run && problems.is_empty() {
        preflight::write_npmrc(&needs, &generated_npmrc).map_err(PublishError::Npmrc)?
    } else {
        Vec::new()
    };
    let npmrc = RemoveOnDrop(preflight::npmrc_path(git_dir));

    let source_date_epoch = git::commit_time(root, head, redactor).unwrap_or(0);
    let mut settings = ecosystems.clone();
    settings.npm.env = npm_env;
    let setup = Setup {
        root: root.to_path_buf(),
        settings,
        source_date_epoch,
        redactor: redactor.clone(),
        commit: head.clone(),
        git_dir: git_dir.clone(),
        export_dir: journal::dir(git_dir).join("tree"),
        exported: std::sync::OnceLock::new(),
    };

    Ok((setup, npmrc))
}

/// Step 3, preflight of content: a version the registry already has is done when it is this
/// commit's content (built to compare), and taken when it is not.
fn compare_existing(
    cx: &Release<'_>,
    setup: &Setup,
    old: Option<&Journal>,
    (existing, targets): (&[(usize, Vec<String>)], &[Target]),
    (problems, notes): (&mut Vec<Problem>, &mut Vec<String>),
    report: Reporter<'_>,
) {
    let Release {
        ws,
        options,
        head,
        git_dir,
        ..
    } = cx;
    for (i, checksums) in existing {
        let t = &targets[*i];
        // Tagged here, or on the remote at this commit (a fresh CI clone): a finished
        // release, with nothing to build.
        if t.tagged || t.pushed {
            continue;
        }
        let p = &ws.packages[t.package];
        let recorded = old
            .as_ref()
            .filter(|j| j.commit == *head)
            .and_then(|j| j.find(Some(t.ecosystem), &t.name))
            .filter(|e| e.version == t.version)
            .map(|e| e.artifacts.clone())
            .unwrap_or_default();
        if options.dry_run && recorded.is_empty() {
            notes.push(format!(
                    "{} {} is already on its registry; a real run compares its content with this commit's",
                    t.name, t.version
                ));
            continue;
        }
        report(Event::Started(
            Activity::Comparing,
            &format!("{} {} with the registry's copy", t.name, t.version),
        ));
        match artifacts(setup, git_dir, p, &recorded) {
                Ok(built) => match tools::same_content(checksums, &built) {
                    Some(true) => {}
                    Some(false) => problems.push(problem(
                        format!(
                            "{} {} is already on its registry with other content than this commit builds: the version is taken",
                            t.name, t.version
                        ),
                        "bump the version (`polyship version`) and release again; if that version was released from an earlier commit, tag that commit",
                    )),
                    None => problems.push(problem(
                        format!(
                            "{} {} is already on its registry, which gives no checksum to compare with what this commit builds",
                            t.name, t.version
                        ),
                        format!(
                            "if it is this release, tag it by hand (`git tag {}`); otherwise bump the version",
                            t.tag
                        ),
                    )),
                },
                Err(e) => problems.push(problem(
                    format!(
                        "{} {} is on its registry, and building it to compare failed: {}",
                        t.name, t.version, e.message
                    ),
                    "",
                )),
            }
    }
}

/// Step 4 begins: the journal says the release is running, with every target in it.
fn start<'a>(
    cx: &'a Release<'a>,
    setup: &'a Setup,
    agent: &'a ureq::Agent,
    old: Option<Journal>,
    targets: &[Target],
    report: Reporter<'a>,
) -> Result<Run<'a>, PublishError> {
    let Release {
        ws,
        config,
        root,
        options,
        redactor,
        head,
        git_dir,
        settings,
        ..
    } = cx;
    let mut journal = match old {
        Some(j) if j.commit == **head => j,
        _ => Journal::new(head),
    };
    journal.runs += 1;
    journal.state = journal::Run::Running;
    for t in targets {
        let e = journal.entry(Some(t.ecosystem), &t.name, &t.version, &t.tag);
        e.private = t.state == State::Private;
        e.error = None;
    }
    journal::save(git_dir, &mut journal).map_err(PublishError::JournalWrite)?;
    let run = Run {
        ws,
        root,
        git_dir,
        head,
        setup,
        settings,
        agent,
        redactor,
        notes: NotesSettings::of(config),
        tagging: Mutex::new(()),
        journal: Mutex::new(journal),
        prebuilt: Mutex::new(BTreeMap::new()),
        report,
        interrupted: options.interrupted,
    };

    Ok(run)
}

/// Tags what is already on its registry (and private packages, which are only tagged).
fn tag_existing(run: &Run<'_>, targets: &mut [Target]) {
    for t in targets.iter_mut() {
        if t.state.done() {
            let state = if t.state == State::Existing {
                journal::Upload::Existing
            } else {
                journal::Upload::Private
            };
            run.record(t, |e| e.publish = state);
            run.tag(t);
        }
    }
}

/// Builds every package whose build needs no registry up front, in parallel, so that only the
/// uploads wait for dependency order.
fn build(run: &Run<'_>, targets: &[Target]) {
    let upfront: Vec<&Target> = targets
        .iter()
        .filter(|t| {
            let adapter = t.ecosystem.adapter();
            t.state == State::Pending
                && !adapter.builds_against_registry()
                && !adapter.released_by_tag()
        })
        .collect();
    let built = parallel(&upfront, run.settings.jobs, |t: &&Target| {
        if run.interrupted.load(Ordering::SeqCst) {
            return None;
        }
        Some(run.build(t))
    });
    {
        let mut prebuilt = run.prebuilt.lock().expect("prebuilt");
        for (t, b) in upfront.iter().zip(built) {
            if let Some(b) = b {
                prebuilt.insert(t.package, b);
            }
        }
    }
}

/// Uploads every pending target in dependency order, tagging each once it is out.
fn upload(run: &Run<'_>, targets: &mut [Target]) {
    schedule(run, targets);
}

/// Where packed files wait between a failed run and its rerun, below `.git/polyship/`.
const PACKED: &str = "packed";

/// The journal's last word: complete, failed or interrupted.
fn finish(cx: &Release<'_>, run: Run<'_>, result: Report) -> Result<Report, PublishError> {
    let git_dir = &cx.git_dir;
    let mut journal = run.journal.into_inner().expect("journal");
    journal.state = if result.interrupted {
        journal::Run::Interrupted
    } else if result.failed() {
        journal::Run::Failed
    } else {
        journal::Run::Complete
    };
    journal::save(git_dir, &mut journal).map_err(PublishError::JournalWrite)?;
    if journal.state == journal::Run::Complete {
        // Every package is out and tagged: no rerun needs the built files again.
        let _ = fs_err::remove_dir_all(journal::dir(git_dir).join(PACKED));
        let _ = fs_err::remove_dir_all(journal::dir(git_dir).join("tree"));
    }
    Ok(result)
}

/// The scheduler's state: each target's state, whether it was picked, how many run.
struct Shared {
    states: Vec<State>,
    started: Vec<bool>,
    running: usize,
}

/// Publishes every pending target in dependency order on up to `jobs` threads.
fn schedule(run: &Run<'_>, targets: &mut [Target]) {
    let deps = release_order(run, targets);
    let shared = Mutex::new(Shared {
        states: targets.iter().map(|t| t.state.clone()).collect(),
        started: targets.iter().map(|t| t.state != State::Pending).collect(),
        running: 0,
    });
    let wake = Condvar::new();
    let snapshot: Vec<Target> = targets.to_vec();
    let tags: Mutex<Vec<Target>> = Mutex::new(snapshot.clone());
    std::thread::scope(|s| {
        for _ in 0..run.settings.jobs.min(targets.len().max(1)) {
            s.spawn(|| {
                loop {
                    let picked = {
                        let mut sh = shared.lock().expect("schedule");
                        loop {
                            sh.block_dependents_of_failures(&deps, &snapshot);
                            if run.interrupted.load(Ordering::SeqCst) {
                                sh.interrupt_the_rest();
                            }
                            if let Some(i) = sh.take_ready(&deps) {
                                break Some(i);
                            }
                            if sh.running == 0 {
                                break None;
                            }
                            sh = wake
                                .wait_timeout(sh, Duration::from_millis(200))
                                .expect("schedule")
                                .0;
                        }
                    };
                    let Some(i) = picked else {
                        wake.notify_all();
                        break;
                    };
                    let t = &snapshot[i];
                    let state = run.publish_one(t, &deps[i].1);
                    tags.lock().expect("targets")[i] = run.published(t, &state);
                    let mut sh = shared.lock().expect("schedule");
                    sh.states[i] = state;
                    sh.running -= 1;
                    drop(sh);
                    wake.notify_all();
                }
            });
        }
    });
    let finished = tags.into_inner().expect("targets");
    let sh = shared.into_inner().expect("schedule");
    for (i, t) in targets.iter_mut().enumerate() {
        if snapshot[i].state == State::Pending {
            *t = finished[i].clone();
            t.state = sh.states[i].clone();
            match &t.state {
                State::Blocked(reason) => {
                    let reason = reason.clone();
                    run.record(t, |e| {
                        e.publish = journal::Upload::Blocked;
                        e.error = Some(reason);
                    });
                }
                State::Interrupted => run.record(t, |e| e.publish = journal::Upload::Interrupted),
                _ => {}
            }
        }
    }
}

/// Per target: the targets it waits for, and every internal dependency (to wait until visible).
fn release_order(run: &Run<'_>, targets: &[Target]) -> Vec<(Vec<usize>, Vec<usize>)> {
    let index: BTreeMap<usize, usize> = targets
        .iter()
        .enumerate()
        .map(|(i, t)| (t.package, i))
        .collect();
    targets
        .iter()
        .map(|t| {
            let p = &run.ws.packages[t.package];
            let mut within = Vec::new();
            let mut packages = Vec::new();
            for d in p.dependencies.iter().filter(|d| d.orders_release()) {
                if let Some(j) = run.ws.find(d.ecosystem, &d.name) {
                    if run.ws.packages[j].private {
                        continue;
                    }
                    if let Some(&k) = index.get(&j) {
                        within.push(k);
                    }
                    packages.push(j);
                }
            }
            (within, packages)
        })
        .collect()
}

impl Shared {
    /// Blocks the dependents of anything that did not make it, transitively.
    fn block_dependents_of_failures(
        &mut self,
        deps: &[(Vec<usize>, Vec<usize>)],
        targets: &[Target],
    ) {
        let mut changed = true;
        while changed {
            changed = false;
            for (i, (within, _)) in deps.iter().enumerate() {
                if self.states[i] != State::Pending || self.started[i] {
                    continue;
                }
                if let Some(&bad) = within.iter().find(|&&d| {
                    matches!(
                        self.states[d],
                        State::Failed(_) | State::Blocked(_) | State::Interrupted
                    )
                }) {
                    self.states[i] = State::Blocked(format!(
                        "its dependency {} was not published",
                        targets[bad].name
                    ));
                    self.started[i] = true;
                    changed = true;
                }
            }
        }
    }

    /// Marks every target not started as interrupted.
    fn interrupt_the_rest(&mut self) {
        for i in 0..self.states.len() {
            if !self.started[i] {
                self.started[i] = true;
                self.states[i] = State::Interrupted;
            }
        }
    }

    /// A target not started whose dependencies are all done, now counted as running.
    fn take_ready(&mut self, deps: &[(Vec<usize>, Vec<usize>)]) -> Option<usize> {
        let i = (0..self.states.len())
            .find(|&i| !self.started[i] && deps[i].0.iter().all(|&d| self.states[d].done()))?;
        self.started[i] = true;
        self.running += 1;
        Some(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_relayed_by_tools_are_honoured() {
        assert_eq!(
            retry_after("npm error 429 Too Many Requests\nRetry-After: 7"),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after("please try again in 12 seconds"),
            Some(Duration::from_secs(12))
        );
        assert_eq!(
            retry_after("retry-after=99999"),
            Some(Duration::from_mins(5))
        );
        assert_eq!(retry_after("403 Forbidden"), None);
    }
}
