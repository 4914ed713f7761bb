//! Reading git history: each package's last release tag, and the commits since, attributed to the
//! packages whose directories they touch.
//!
//! History is the cost that grows, so it is read once: one walk down the first-parent chain from
//! HEAD, one low-level tree diff per commit against its first parent (no rename tracking, shared
//! buffers), and each changed path attributed to the package whose directory is its longest prefix.
//! Never one walk per package, never one process per commit.
//!
//! A package's range ends at its last release tag: the highest version among the tags that match
//! *its* templates exactly (prefix and suffix around `{version}`, the version part valid in its
//! ecosystem) and are ancestors of HEAD. Another package's tag can never match, because the name is
//! part of the literal prefix. A tag off the first-parent chain (made on a branch that was merged)
//! ends the range at the newest chain commit it descends from.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::Path;
use std::rc::Rc;

use gix::ObjectId;
use gix::bstr::{BStr, BString, ByteSlice};
use gix::prelude::FindExt;

use super::cache::{Cache, Outcome, Versioned};
use super::gitdiff::{self, Found};

/// A map keyed by object id, hashed by the id's own first bytes (git ids are hashes already).
type IdMap<V> = gix::hashtable::HashMap<ObjectId, V>;
use crate::diagnostic::Warning;
use crate::workspace::{Package, Workspace};

/// A tag name template: `{name}` is the package name, `{version}` its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagTemplate {
    prefix: String,
    suffix: String,
}

impl TagTemplate {
    /// The template for one package. Errors when `{version}` is missing or repeated.
    pub fn new(template: &str, name: &str) -> Result<Self, String> {
        let filled = template.replace("{name}", name);
        let Some((prefix, suffix)) = filled.split_once("{version}") else {
            return Err(format!(
                "the tag template `{template}` has no `{{version}}`"
            ));
        };
        if suffix.contains("{version}") {
            return Err(format!(
                "the tag template `{template}` has `{{version}}` twice"
            ));
        }
        Ok(Self {
            prefix: prefix.to_owned(),
            suffix: suffix.to_owned(),
        })
    }

    /// The version part of `tag` when the tag has this template's shape.
    pub fn version_of<'t>(&self, tag: &'t str) -> Option<&'t str> {
        tag.strip_prefix(&self.prefix)?
            .strip_suffix(&self.suffix)
            .filter(|v| !v.is_empty())
    }

    pub fn render(&self, version: &str) -> String {
        format!("{}{version}{}", self.prefix, self.suffix)
    }
}

/// The templates a package's tags follow when `polyship.toml` sets none: `v{version}` (and the
/// per-package forms) in a single-package repository, `{name}@{version}` for npm packages (as
/// changesets tags), `{name}-v{version}` for crates and Python distributions (as release-plz tags).
pub fn default_templates(ws: &Workspace, package: &Package) -> Vec<String> {
    if ws.packages.len() == 1 {
        return vec![
            "v{version}".into(),
            "{name}@{version}".into(),
            "{name}-v{version}".into(),
        ];
    }
    vec![
        package
            .ecosystem
            .adapter()
            .default_tag_template()
            .to_owned(),
    ]
}

/// A release tag of a package.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Tag {
    pub name: String,
    pub version: String,
    /// The commit it points at (peeled), hex.
    pub commit: String,
}

/// A commit in some package's range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    pub id: String,
    pub message: String,
    /// Indices of the packages whose range holds this commit and whose directories it touches.
    pub packages: Vec<usize>,
}

/// What to do with changed files that lie outside every package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SharedPaths {
    /// They release nothing.
    #[default]
    Ignore,
    /// They count for every package.
    All,
}

/// Where a package's version is written: a file (root-relative) and the key path in it, read as
/// its ecosystem reads its manifests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionFile {
    pub file: String,
    pub key: Vec<String>,
    pub ecosystem: crate::workspace::Ecosystem,
}

/// How to read history.
pub struct Options<'a> {
    /// Tag templates per package index.
    pub templates: &'a [Vec<TagTemplate>],
    /// Every tag of the repository, peeled to its commit.
    pub tags: &'a [(String, ObjectId)],
    pub shared_paths: SharedPaths,
    /// Walk only the first-parent chain (merged branches count through their merge commit), or
    /// every commit reachable from HEAD.
    pub first_parent: bool,
    /// Per package: where its current version is written, to find the release commit that set it
    /// (a `version` not yet published ends the package's pending changes like a tag).
    pub version_files: &'a [Option<VersionFile>],
    /// Per package: its current version as written.
    pub versions: &'a [Option<String>],
    /// Whether to find which packages' files differ from their last release (lerna's "changed"),
    /// and which changed files do not count.
    pub net_changes: Option<NetChanges<'a>>,
}

/// Which changed files do not make a package changed.
#[derive(Clone, Copy)]
pub struct NetChanges<'a> {
    /// Whether any file is ignored at all (when not, no package directory is opened).
    pub has_ignores: bool,
    pub ignored: &'a dyn Fn(&str) -> bool,
}

/// History as the change stage needs it.
#[derive(Debug, Default)]
pub struct History {
    /// HEAD's commit, `None` in a repository without commits.
    pub head: Option<String>,
    /// Per package index: its last release.
    pub last_release: Vec<Option<Tag>>,
    /// Newest first; only commits in at least one package's range that touch it.
    pub commits: Vec<Commit>,
    /// Changeset id → the commit that added its file (when within the walked range).
    pub changeset_commits: BTreeMap<String, String>,
    /// Per package: the commit that set its current version, when it is newer than its last
    /// release tag — versioned, not yet published. Commits before it are not pending.
    pub versioned: Vec<Option<String>>,
    /// Per package, when asked: whether its files (but the ignored ones) differ between its last
    /// release and HEAD; `true` without a release.
    pub changed: Vec<bool>,
    /// How many commits were walked.
    pub walked: usize,
    /// How many of them the history cache held.
    pub from_cache: usize,
    pub warnings: Vec<Warning>,
}

/// Why history could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("failed to open the git repository at `{}`", path.display())]
    Open {
        path: std::path::PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("failed to read git history")]
    Git(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("`{0}` is not a commit, branch or tag of this repository")]
    UnknownRef(String),
    #[error(
        "this clone is shallow and its history ends at {commit} before the last release of {}",
        packages.join(", ")
    )]
    Shallow {
        commit: String,
        packages: Vec<String>,
    },
}

impl HistoryError {
    pub fn help(&self) -> Option<String> {
        match self {
            HistoryError::Shallow { .. } => Some(
                "fetch more history: `git fetch --unshallow`, or in CI check out with full depth (actions/checkout: `fetch-depth: 0`)"
                    .to_owned(),
            ),
            _ => None,
        }
    }
}

fn git_err(e: impl std::error::Error + Send + Sync + 'static) -> HistoryError {
    HistoryError::Git(Box::new(e))
}

/// The root tree of commit `id`.
fn commit_tree(repo: &gix::Repository, id: ObjectId) -> Result<ObjectId, HistoryError> {
    Ok(repo
        .find_commit(id)
        .map_err(git_err)?
        .tree_id()
        .map_err(git_err)?
        .detach())
}

/// Opens the repository at `root`, with object caches sized for walking history.
pub fn open(root: &Path) -> Result<gix::Repository, HistoryError> {
    let mut repo = gix::open(root).map_err(|e| HistoryError::Open {
        path: root.to_owned(),
        source: Box::new(e),
    })?;
    repo.object_cache_size_if_unset(16 * 1024 * 1024);
    Ok(repo)
}

/// The short name of the checked-out branch; `None` on a detached HEAD.
pub fn current_branch(repo: &gix::Repository) -> Option<String> {
    repo.head_name()
        .ok()
        .flatten()
        .map(|n| n.shorten().to_str_lossy().into_owned())
}

/// Tags being read by [`prefetch_tags`].
static PREFETCHED_TAGS: super::prefetch::Prefetch<Vec<(String, ObjectId)>> =
    super::prefetch::Prefetch::new();

/// Starts reading the tags of the repository at `root` on another thread, for [`tags_of`] later
/// in this process: tens of thousands of tags are read while discovery runs.
pub fn prefetch_tags(root: &Path) {
    PREFETCHED_TAGS.start(root.to_owned(), |root| {
        open(root).ok().and_then(|repo| tags(&repo).ok())
    });
}

/// The tags of the repository at `root`: those [`prefetch_tags`] read, else read now.
pub fn tags_of(
    root: &Path,
    repo: &gix::Repository,
) -> Result<Vec<(String, ObjectId)>, HistoryError> {
    match PREFETCHED_TAGS.take(root) {
        Some(tags) => Ok(tags),
        None => tags(repo),
    }
}

/// Every tag of the repository, peeled to the commit it names.
pub fn tags(repo: &gix::Repository) -> Result<Vec<(String, ObjectId)>, HistoryError> {
    let mut out = Vec::new();
    let platform = repo.references().map_err(git_err)?;
    for reference in platform.tags().map_err(git_err)? {
        let mut reference = reference.map_err(|e| HistoryError::Git(e.into()))?;
        let name = reference.name().shorten().to_str_lossy().into_owned();
        // What `packed-refs` says a tag peels to, or what a lightweight tag names, is read as it
        // is; peeling each of tens of thousands of tags asks the ref store again every time.
        let direct = reference
            .inner
            .peeled
            .or_else(|| reference.inner.target.try_id().map(ToOwned::to_owned));
        let kind = |id: ObjectId| repo.find_header(id).ok().map(|h| h.kind());
        let id = match direct.map(|id| (id, kind(id))) {
            Some((id, Some(gix::object::Kind::Commit))) => id,
            // A tree or blob, or an object that is not there.
            Some((_, kind)) if kind != Some(gix::object::Kind::Tag) => continue,
            // An annotated tag that `packed-refs` has not peeled.
            _ => match reference.peel_to_id() {
                Ok(id) if kind(id.detach()) == Some(gix::object::Kind::Commit) => id.detach(),
                _ => continue,
            },
        };
        out.push((name, id));
    }
    Ok(out)
}

/// Reads each package's last release and the commits since, in one walk.
pub fn read(
    repo: &gix::Repository,
    ws: &Workspace,
    options: &Options<'_>,
    cache: &mut Cache,
) -> Result<History, HistoryError> {
    let n = ws.packages.len();
    let mut history = History {
        last_release: vec![None; n],
        versioned: vec![None; n],
        changed: vec![true; n],
        ..History::default()
    };
    let Ok(head) = repo.head_id() else {
        return Ok(history);
    };
    let head = head.detach();
    history.head = Some(head.to_string());

    let shallow: HashSet<ObjectId> = repo
        .shallow_commits()
        .map_err(git_err)?
        .map(|c| c.iter().copied().collect())
        .unwrap_or_default();
    let candidates = release_candidates(ws, options.templates, options.tags, &mut history.warnings);
    let mut walked = if options.first_parent {
        walk_first_parent(repo, head, &candidates, &shallow, cache)?
    } else {
        walk_all(repo, head, &candidates, &shallow, cache)?
    };
    history.walked = walked.commits.len();
    history.from_cache = cache.hits();
    for (p, tag) in walked.releases.iter().enumerate() {
        history.last_release[p] = tag.map(|k| {
            let (name, version, id) = &candidates[p][k];
            Tag {
                name: name.clone(),
                version: version.clone(),
                commit: id.to_string(),
            }
        });
    }
    if let Some(cut) = walked.cut {
        let unreached: Vec<String> = (0..n)
            .filter(|&p| walked.cut_in_range(p))
            .map(|p| format!("`{}`", ws.packages[p].name))
            .collect();
        if !unreached.is_empty() {
            return Err(HistoryError::Shallow {
                commit: cut.to_string(),
                packages: unreached,
            });
        }
    }
    let needed = walked.needed();
    let touched = touched_packages(repo, ws, &walked, &needed, options.shared_paths, cache)?;
    release_commits(
        repo,
        ws,
        options,
        &mut walked,
        &needed,
        &touched,
        &mut history,
        cache,
    )?;
    for (&i, (hits, changesets)) in needed.iter().zip(touched) {
        let commit = &walked.commits[i];
        for changeset in changesets {
            history
                .changeset_commits
                .entry(changeset)
                .or_insert_with(|| commit.id.to_string());
        }
        let mut packages: Vec<usize> = hits
            .into_iter()
            .filter(|&p| walked.in_range(i, p))
            .collect();
        packages.sort_unstable();
        if !packages.is_empty() {
            history.commits.push(Commit {
                id: commit.id.to_string(),
                message: walked.messages[commit.message.clone()]
                    .to_str_lossy()
                    .into_owned(),
                packages,
            });
        }
    }
    if let Some(net) = options.net_changes {
        history.changed = net_changes(repo, ws, head, &history, options.shared_paths, net)?;
    }
    Ok(history)
}

/// Per needed commit: the packages it touches and the changesets it adds. One comparison per
/// commit in any range, down to the package directories only — or none, when the cache holds what
/// the comparison found for this layout. Commits are independent once the walk is done: contiguous
/// slices go to one thread each, so each thread's delta-base cache keeps the locality of
/// neighbouring trees.
fn touched_packages(
    repo: &gix::Repository,
    ws: &Workspace,
    walked: &Walked,
    needed: &[usize],
    shared: SharedPaths,
    cache: &mut Cache,
) -> Result<Vec<Touched>, HistoryError> {
    let n = ws.packages.len();
    let commits = &walked.commits;
    let (dirs, ancestors) = PackageDiff::index(ws);
    // The cache records directories (indices into its sorted layout) and whether a file outside
    // every package changed; packages follow from the current workspace.
    let layout: Vec<String> = cache.layout().to_vec();
    let dir_packages: Vec<&[usize]> = layout
        .iter()
        .map(|d| dirs.get(d).map_or(&[][..], Vec::as_slice))
        .collect();
    let expand = |outside: bool, found: &mut dyn Iterator<Item = u32>| -> Vec<usize> {
        let mut hits: Vec<usize> = if outside && shared == SharedPaths::All {
            (0..n).collect()
        } else {
            found
                .flat_map(|d| dir_packages[d as usize].iter().copied())
                .collect()
        };
        hits.sort_unstable();
        hits.dedup();
        hits
    };
    let mut out: Vec<Option<Touched>> = vec![None; needed.len()];
    let mut todo: Vec<usize> = Vec::new();
    for (k, &i) in needed.iter().enumerate() {
        match cache.touched(&commits[i].id) {
            Some(t) if t.parent_tree == commits[i].parent_tree => {
                let changesets = t.changesets().map(str::to_owned).collect();
                out[k] = Some((expand(t.outside, &mut t.dirs()), changesets));
            }
            _ => todo.push(k),
        }
    }
    let dir_index = |p: usize| -> u32 {
        let at = layout
            .binary_search(&ws.packages[p].path)
            .expect("every package directory is in the layout");
        u32::try_from(at).expect("fewer than 2^32 packages")
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .clamp(1, 8);
    // A long stretch goes to git, a process per core; a short one is compared here (a process
    // costs more than a few hundred comparisons).
    let engine = std::env::var("POLYSHIP_HISTORY_ENGINE").unwrap_or_default();
    let by_git =
        (todo.len() >= GIT_DIFF_FROM && engine != "gix") || (engine == "git" && !todo.is_empty());
    let pending: Vec<usize> = todo.iter().map(|&k| needed[k]).collect();
    // On any failure of git's own, the comparison is made here instead.
    let from_git = if by_git {
        compare_by_git(repo, commits, &pending, &layout, threads)
    } else {
        None
    };
    let found_all = if let Some(found) = from_git {
        found
    } else {
        let threads = if todo.len() < 2_000 { 1 } else { threads };
        let index = PackageIndex {
            dirs: &dirs,
            ancestors: &ancestors,
            shared,
            packages: n,
        };
        compare_here(repo, commits, &pending, &index, &dir_index, threads)?
    };
    for (&k, found) in todo.iter().zip(found_all) {
        let commit = &commits[needed[k]];
        cache.insert_touched(
            commit.id,
            commit.parent_tree,
            found.outside,
            &found.dirs,
            &found.changesets,
        );
        let hits = expand(found.outside, &mut found.dirs.iter().copied());
        out[k] = Some((hits, found.changesets));
    }
    Ok(out
        .into_iter()
        .map(|t| t.expect("every needed commit was looked up or compared"))
        .collect())
}

/// What a comparison maps changed paths to: each package directory's packages, the
/// directories above them, and what a path outside every package counts for.
struct PackageIndex<'a> {
    dirs: &'a HashMap<String, Vec<usize>>,
    ancestors: &'a HashSet<String>,
    shared: SharedPaths,
    packages: usize,
}

/// git compares the commits at `pending` (walk indices) with their first parents, one process
/// per core; `None` when git fails.
fn compare_by_git(
    repo: &gix::Repository,
    commits: &[WalkedCommit],
    pending: &[usize],
    layout: &[String],
    threads: usize,
) -> Option<Vec<Found>> {
    let pairs: Vec<gitdiff::Pair> = pending
        .iter()
        .map(|&i| {
            let c = &commits[i];
            gitdiff::Pair {
                commit: c.id,
                parent: c.parent_tree.and(c.parent),
                tree: c.tree,
            }
        })
        .collect();
    gitdiff::touched(
        repo.git_dir(),
        &pairs,
        &gitdiff::Owners::new(layout),
        threads,
    )
    .ok()
}

/// polyship compares the commits at `pending` with their first parents, down to the package
/// directories only, contiguous slices on `threads` threads.
fn compare_here(
    repo: &gix::Repository,
    commits: &[WalkedCommit],
    pending: &[usize],
    index: &PackageIndex<'_>,
    dir_index: &(dyn Fn(usize) -> u32 + Sync),
    threads: usize,
) -> Result<Vec<Found>, HistoryError> {
    let chunk = pending.len().div_ceil(threads).max(1);
    let sync_repo = repo.clone().into_sync();
    let parts: Vec<Result<Vec<Found>, HistoryError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = pending
            .chunks(chunk)
            .map(|slice| {
                let sync_repo = &sync_repo;
                scope.spawn(move || {
                    let repo = sync_repo.to_thread_local();
                    let mut diff = PackageDiff::new(
                        index.dirs,
                        index.ancestors,
                        index.shared,
                        index.packages,
                        repo.object_hash(),
                    );
                    let root_owner = index.dirs.get(".").map(Vec::as_slice);
                    let mut out = Vec::with_capacity(slice.len());
                    for &i in slice {
                        diff.next_commit();
                        diff.diff(
                            &repo,
                            commits[i].parent_tree,
                            Some(commits[i].tree),
                            ".",
                            root_owner,
                        )?;
                        let mut found: Vec<u32> = diff.hits.iter().map(|&p| dir_index(p)).collect();
                        found.sort_unstable();
                        found.dedup();
                        out.push(Found {
                            dirs: found,
                            outside: diff.outside,
                            changesets: std::mem::take(&mut diff.added_changesets),
                        });
                    }
                    Ok(out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(HistoryError::Git("a history thread panicked".into())))
            })
            .collect()
    });
    let mut all = Vec::with_capacity(pending.len());
    for part in parts {
        all.extend(part?);
    }
    Ok(all)
}

/// From how many comparisons on, git compares (see [`gitdiff`]).
const GIT_DIFF_FROM: usize = 512;

/// Finds, per package, the commit that set its current version when that is newer than its last
/// release: the `version` commit of a release not yet published. It ends the package's range like
/// a tag would, so running `version` twice releases nothing the second time.
///
/// Only packages whose last tag names another version (or that have no tag) are looked at, and
/// only at commits that touch the file their version is written in. The cache remembers each
/// search's result and the head it started from: the next search looks only at the commits made
/// since (on the first-parent chain; a walk of every commit reuses it only at the same head).
#[allow(clippy::too_many_arguments)]
fn release_commits(
    repo: &gix::Repository,
    ws: &Workspace,
    options: &Options<'_>,
    walked: &mut Walked,
    needed: &[usize],
    touched: &[Touched],
    history: &mut History,
    cache: &mut Cache,
) -> Result<(), HistoryError> {
    let n = ws.packages.len();
    let Some(head) = walked.commits.first().map(|c| c.id) else {
        return Ok(());
    };
    let mut blobs = BlobCache::default();
    // Per package, the needed commits that touch it, newest first.
    let mut touching: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (&i, (hits, _)) in needed.iter().zip(touched) {
        for &p in hits {
            touching[p].push(i);
        }
    }
    let mut positions = Positions::default();
    for (p, touching) in touching.iter_mut().enumerate() {
        let (Some(Some(file)), Some(Some(current))) =
            (options.version_files.get(p), options.versions.get(p))
        else {
            continue;
        };
        let tag = history.last_release[p].as_ref();
        if tag.is_some_and(|t| same_version(&t.version, current)) {
            continue;
        }
        let key = outcome_key(
            options.first_parent,
            &ws.packages[p].path,
            file,
            current,
            tag,
        );
        let cached = cache.outcome(&key);
        if cached.is_some_and(|o| o.found == Versioned::AtTag) {
            continue;
        }
        let settled = if cached.is_none() {
            settled_at_tag(repo, &mut blobs, tag, file, current)?
        } else {
            None
        };
        // A version HEAD does not have was set in the work tree, not by a commit (`version
        // --no-commit`): no commit of the history is its release commit, and reading the version
        // file at every commit to find none would be the slowest thing a run does.
        let settled = match settled {
            Some(found) => Some(found),
            None => version_in(repo, &mut blobs, walked.commits[0].tree, file)?
                .is_none_or(|v| !same_version(&v, current))
                .then_some(Versioned::Nowhere),
        };
        if let Some(found) = settled {
            cache.set_outcome(key, Outcome { head, found });
            continue;
        }
        // What an earlier search from an older head found, and where the commits made since end.
        let (newer_than, earlier) = match cached {
            Some(o) if o.head == head => (0, Some(o.found)),
            Some(o) if options.first_parent => match positions.of(walked, o.head) {
                Some(j) => (j, Some(o.found)),
                None => (usize::MAX, None),
            },
            _ => (usize::MAX, None),
        };
        // A file inside the package's directory changes only in commits that touch the package.
        let inside = file.file.starts_with(&format!("{}/", ws.packages[p].path))
            || ws.packages[p].path == ".";
        let candidates: Vec<usize> = if inside {
            std::mem::take(touching)
        } else {
            needed.to_vec()
        };
        let candidates = candidates
            .into_iter()
            .filter(|&i| i < newer_than && walked.in_range(i, p));
        let mut found = version_commit(repo, walked, &mut blobs, candidates, file, current)?;
        if found.is_none()
            && let Some(Versioned::At(id)) = earlier
        {
            found = positions.of(walked, id).filter(|&i| walked.in_range(i, p));
        }
        let outcome = match found {
            Some(i) => {
                let id = walked.commits[i].id;
                history.versioned[p] = Some(id.to_string());
                walked.limit(p, i);
                Versioned::At(id)
            }
            None => Versioned::Nowhere,
        };
        cache.set_outcome(
            key,
            Outcome {
                head,
                found: outcome,
            },
        );
    }
    Ok(())
}

/// Where each walked commit is, by id; built on first need.
#[derive(Default)]
struct Positions(Option<IdMap<usize>>);

impl Positions {
    fn of(&mut self, walked: &Walked, id: ObjectId) -> Option<usize> {
        self.0
            .get_or_insert_with(|| {
                walked
                    .commits
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (c.id, i))
                    .collect()
            })
            .get(&id)
            .copied()
    }
}

/// `AtTag` when the manifest already said `current` at the last tag's commit: no release commit
/// to find.
fn settled_at_tag(
    repo: &gix::Repository,
    blobs: &mut BlobCache,
    tag: Option<&Tag>,
    file: &VersionFile,
    current: &str,
) -> Result<Option<Versioned>, HistoryError> {
    let Some(tag) = tag else {
        return Ok(None);
    };
    let at_tag = ObjectId::from_hex(tag.commit.as_bytes())
        .map_err(git_err)
        .and_then(|id| commit_tree(repo, id))?;
    Ok(version_in(repo, blobs, at_tag, file)?
        .is_some_and(|v| same_version(&v, current))
        .then_some(Versioned::AtTag))
}

/// The cache key of one release-commit search: the walk, the package, its version file and
/// version, and its last tag's commit.
fn outcome_key(
    first_parent: bool,
    path: &str,
    file: &VersionFile,
    current: &str,
    tag: Option<&Tag>,
) -> String {
    [
        if first_parent { "first-parent" } else { "all" },
        path,
        &file.file,
        &file.key.join("\u{1f}"),
        current,
        tag.map_or("-", |t| t.commit.as_str()),
    ]
    .join("\0")
}

/// The version `file` says in `tree`.
fn version_in(
    repo: &gix::Repository,
    blobs: &mut BlobCache,
    tree: ObjectId,
    file: &VersionFile,
) -> Result<Option<String>, HistoryError> {
    let Some(blob) = blobs.blob_at(repo, tree, &file.file)? else {
        return Ok(None);
    };
    Ok(read_version(repo, blob, file))
}

/// The newest of `candidates` (walk indices, newest first) whose commit changed `file` to say
/// `current`.
fn version_commit(
    repo: &gix::Repository,
    walked: &Walked,
    blobs: &mut BlobCache,
    candidates: impl Iterator<Item = usize>,
    file: &VersionFile,
    current: &str,
) -> Result<Option<usize>, HistoryError> {
    for i in candidates {
        let commit = &walked.commits[i];
        let Some(parent_tree) = commit.parent_tree else {
            continue;
        };
        let after = blobs.blob_at(repo, commit.tree, &file.file)?;
        let before = blobs.blob_at(repo, parent_tree, &file.file)?;
        if after == before {
            continue;
        }
        let (Some(old), Some(new)) = (
            before.and_then(|b| read_version(repo, b, file)),
            after.and_then(|b| read_version(repo, b, file)),
        ) else {
            continue;
        };
        if same_version(&new, current) && !same_version(&old, current) {
            return Ok(Some(i));
        }
    }
    Ok(None)
}

/// The version `file` says at `commit`, when it exists there and holds one.
pub fn version_at(repo: &gix::Repository, commit: ObjectId, file: &VersionFile) -> Option<String> {
    let tree = commit_tree(repo, commit).ok()?;
    let blob = BlobCache::default()
        .blob_at(repo, tree, &file.file)
        .ok()??;
    read_version(repo, blob, file)
}

/// The version string a manifest blob holds at `file.key`.
fn read_version(repo: &gix::Repository, blob: ObjectId, file: &VersionFile) -> Option<String> {
    let data = repo.find_object(blob).ok()?.detach().data;
    let text = String::from_utf8(data).ok()?;
    file.ecosystem
        .adapter()
        .get_string(&file.file, &text, &file.key)
        .ok()
}

/// Two versions as written are the same release (`1.2.0b1` and `1.2.0-beta.1` are).
fn same_version(a: &str, b: &str) -> bool {
    a == b
        || crate::version::bump::from_pep440(a)
            .zip(crate::version::bump::from_pep440(b))
            .is_some_and(|(x, y)| x == y)
}

/// One entry of a tree: its name, id and whether it is a tree.
type TreeEntry = (BString, ObjectId, bool);

/// Blob ids at paths of trees, remembered: a commit's tree is its child's parent tree, and the
/// trees above package directories are shared by every package of a commit.
#[derive(Default)]
struct BlobCache {
    known: HashMap<(ObjectId, String), Option<ObjectId>>,
    /// Tree id → its entries, bounded by `MAX_ENTRIES` in all.
    trees: HashMap<ObjectId, Rc<Vec<TreeEntry>>>,
    entries_held: usize,
}

impl BlobCache {
    /// About 2 MiB of cached tree entries.
    const MAX_ENTRIES: usize = 20_000;

    fn entries(
        &mut self,
        repo: &gix::Repository,
        tree: ObjectId,
    ) -> Result<Rc<Vec<TreeEntry>>, HistoryError> {
        if let Some(found) = self.trees.get(&tree) {
            return Ok(found.clone());
        }
        let mut buf = Vec::new();
        let entries: Vec<TreeEntry> = repo
            .objects
            .find_tree_iter(&tree, &mut buf)
            .map_err(git_err)?
            .filter_map(Result::ok)
            .map(|e| (e.filename.to_owned(), e.oid.to_owned(), e.mode.is_tree()))
            .collect();
        if self.entries_held + entries.len() > Self::MAX_ENTRIES {
            self.trees.clear();
            self.entries_held = 0;
        }
        self.entries_held += entries.len();
        let entries = Rc::new(entries);
        self.trees.insert(tree, entries.clone());
        Ok(entries)
    }

    fn blob_at(
        &mut self,
        repo: &gix::Repository,
        tree: ObjectId,
        path: &str,
    ) -> Result<Option<ObjectId>, HistoryError> {
        let key = (tree, path.to_owned());
        if let Some(found) = self.known.get(&key) {
            return Ok(*found);
        }
        let mut current = tree;
        let parts: Vec<&str> = path.split('/').collect();
        let mut found = None;
        for (k, part) in parts.iter().enumerate() {
            let entries = self.entries(repo, current)?;
            let entry = entries
                .iter()
                .find(|(name, _, _)| name.as_slice() == part.as_bytes())
                .map(|(_, id, is_tree)| (*id, *is_tree));
            match entry {
                Some((id, true)) if k + 1 < parts.len() => current = id,
                Some((id, false)) if k + 1 == parts.len() => found = Some(id),
                _ => break,
            }
        }
        if self.known.len() >= Self::MAX_ENTRIES {
            self.known.clear();
        }
        self.known.insert(key, found);
        Ok(found)
    }
}

/// Per package: whether its files differ between its last release and HEAD, leaving out the files
/// `ignored` says do not count — one comparison of two trees per distinct release commit, down to
/// the package directories, and into a package only when some file of it is ignored.
fn net_changes(
    repo: &gix::Repository,
    ws: &Workspace,
    head: ObjectId,
    history: &History,
    shared: SharedPaths,
    net: NetChanges<'_>,
) -> Result<Vec<bool>, HistoryError> {
    let n = ws.packages.len();
    let mut changed = vec![true; n];
    let tree_of = |id: ObjectId| commit_tree(repo, id);
    let head_tree = tree_of(head)?;
    let (dirs, ancestors) = PackageDiff::index(ws);
    let mut by_release: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for p in 0..n {
        // A version commit newer than the tag is where the release was cut.
        let at = history.versioned[p]
            .clone()
            .or_else(|| history.last_release[p].as_ref().map(|t| t.commit.clone()));
        if let Some(at) = at {
            by_release.entry(at).or_default().push(p);
        }
    }
    for (commit, packages) in by_release {
        let id = ObjectId::from_hex(commit.as_bytes()).map_err(git_err)?;
        let old_tree = tree_of(id)?;
        let mut diff = PackageDiff::new(&dirs, &ancestors, shared, n, repo.object_hash());
        diff.diff(
            repo,
            Some(old_tree),
            Some(head_tree),
            ".",
            dirs.get(".").map(Vec::as_slice),
        )?;
        for p in packages {
            changed[p] = (diff.hits.contains(&p) || diff.hit_all())
                && (!net.has_ignores
                    || changed_files(repo, old_tree, head_tree, &ws.packages[p].path)?
                        .iter()
                        .any(|f| !(net.ignored)(f)));
        }
    }
    Ok(changed)
}

/// The files (root-relative) that differ under directory `dir` between two root trees.
fn changed_files(
    repo: &gix::Repository,
    old_root: ObjectId,
    new_root: ObjectId,
    dir: &str,
) -> Result<Vec<String>, HistoryError> {
    let subtree = |root: ObjectId| -> Result<Option<ObjectId>, HistoryError> {
        if dir == "." {
            Ok(Some(root))
        } else {
            BlobCache::tree_at(repo, root, dir)
        }
    };
    let (old, new) = (subtree(old_root)?, subtree(new_root)?);
    let mut out = Vec::new();
    list_changes(repo, old, new, dir, &mut out)?;
    Ok(out)
}

fn list_changes(
    repo: &gix::Repository,
    old: Option<ObjectId>,
    new: Option<ObjectId>,
    path: &str,
    out: &mut Vec<String>,
) -> Result<(), HistoryError> {
    if old == new {
        return Ok(());
    }
    let entries =
        |id: Option<ObjectId>| -> Result<BTreeMap<Vec<u8>, (ObjectId, bool)>, HistoryError> {
            let Some(id) = id else {
                return Ok(BTreeMap::new());
            };
            let mut buf = Vec::new();
            Ok(repo
                .objects
                .find_tree_iter(&id, &mut buf)
                .map_err(git_err)?
                .filter_map(Result::ok)
                .map(|e| (e.filename.to_vec(), (e.oid.to_owned(), e.mode.is_tree())))
                .collect())
        };
    let (a, b) = (entries(old)?, entries(new)?);
    let names: std::collections::BTreeSet<&Vec<u8>> = a.keys().chain(b.keys()).collect();
    for name in names {
        let (x, y) = (a.get(name), b.get(name));
        if x == y {
            continue;
        }
        let child = super::super::workspace::child(path, &String::from_utf8_lossy(name));
        let tree = |e: Option<&(ObjectId, bool)>| e.filter(|(_, t)| *t).map(|(id, _)| *id);
        let (tx, ty) = (tree(x), tree(y));
        if tx.is_some() || ty.is_some() {
            list_changes(repo, tx, ty, &child, out)?;
        }
        if x.is_some_and(|(_, t)| !t) || y.is_some_and(|(_, t)| !t) {
            out.push(child);
        }
    }
    Ok(())
}

impl BlobCache {
    /// The id of the tree at `path` (a directory) under `root`.
    fn tree_at(
        repo: &gix::Repository,
        root: ObjectId,
        path: &str,
    ) -> Result<Option<ObjectId>, HistoryError> {
        let mut current = root;
        let mut buf = Vec::new();
        for part in path.split('/') {
            let entry = repo
                .objects
                .find_tree_iter(&current, &mut buf)
                .map_err(git_err)?
                .filter_map(Result::ok)
                .find(|e| e.filename == part.as_bytes() && e.mode.is_tree())
                .map(|e| e.oid.to_owned());
            match entry {
                Some(id) => current = id,
                None => return Ok(None),
            }
        }
        Ok(Some(current))
    }
}

/// A commit the walk reached, with what the comparison needs.
struct WalkedCommit {
    id: ObjectId,
    tree: ObjectId,
    /// The first parent's tree; `None` for a root commit (compared with the empty tree).
    parent_tree: Option<ObjectId>,
    /// The first parent, when `parent_tree` is its tree.
    parent: Option<ObjectId>,
    /// Where its message is in [`Walked::messages`].
    message: std::ops::Range<usize>,
}

/// The commits a walk reached, newest first, and which of them are in each package's range.
struct Walked {
    commits: Vec<WalkedCommit>,
    /// Every walked commit's message, one after the other.
    messages: Vec<u8>,
    /// Per package: the index into its candidates of the tag taken as its last release.
    releases: Vec<Option<usize>>,
    ranges: Ranges,
    /// Per package: commits from this index on (older) are not in its range — the release
    /// commit of a version not yet tagged.
    limits: Vec<usize>,
    /// The shallow boundary the walk stopped at, if any.
    cut: Option<ObjectId>,
}

enum Ranges {
    /// First-parent: commit `i` is in package `p`'s range when `i < boundary[p]`.
    Boundary(Vec<usize>),
    /// All commits: one bit per release-tag commit, set when the commit is that tag's ancestor.
    Reach {
        words: usize,
        bits: Vec<u64>,
        tag_bit: Vec<Option<usize>>,
    },
}

impl Walked {
    fn limit(&mut self, p: usize, i: usize) {
        self.limits[p] = self.limits[p].min(i);
    }

    fn in_range(&self, i: usize, p: usize) -> bool {
        if i >= self.limits[p] {
            return false;
        }
        match &self.ranges {
            Ranges::Boundary(boundary) => i < boundary[p],
            Ranges::Reach {
                words,
                bits,
                tag_bit,
            } => tag_bit[p].is_none_or(|b| bits[i * words + b / 64] & (1 << (b % 64)) == 0),
        }
    }

    /// The commits in at least one package's range, newest first.
    fn needed(&self) -> Vec<usize> {
        match &self.ranges {
            Ranges::Boundary(boundary) => (0..boundary
                .iter()
                .copied()
                .max()
                .unwrap_or(0)
                .min(self.commits.len()))
                .collect(),
            Ranges::Reach {
                words,
                bits,
                tag_bit,
            } => {
                if tag_bit.iter().any(Option::is_none) {
                    return (0..self.commits.len()).collect();
                }
                // Needed unless the commit is an ancestor of every package's release tag.
                let mut all = vec![0u64; *words];
                for b in tag_bit.iter().flatten() {
                    all[b / 64] |= 1 << (b % 64);
                }
                (0..self.commits.len())
                    .filter(|&i| (0..*words).any(|w| bits[i * words + w] & all[w] != all[w]))
                    .collect()
            }
        }
    }

    /// Whether package `p`'s range runs into the shallow boundary (so history is missing).
    fn cut_in_range(&self, p: usize) -> bool {
        let Some(cut) = self.cut else { return false };
        match &self.ranges {
            Ranges::Boundary(boundary) => boundary[p] >= self.commits.len(),
            Ranges::Reach { .. } => self
                .commits
                .iter()
                .enumerate()
                .any(|(i, c)| c.id == cut && self.in_range(i, p)),
        }
    }
}

/// A commit's tree and parents (into `parents`), its message appended to `messages`: from the
/// cache, or read (and then cached).
fn load_commit(
    repo: &gix::Repository,
    cache: &mut Cache,
    id: ObjectId,
    messages: &mut Vec<u8>,
    parents: &mut Vec<ObjectId>,
) -> Result<(ObjectId, std::ops::Range<usize>), HistoryError> {
    parents.clear();
    let start = messages.len();
    if let Some(known) = cache.commit(&id) {
        parents.extend(known.parents());
        messages.extend_from_slice(known.message);
        return Ok((known.tree, start..messages.len()));
    }
    let commit = repo.find_commit(id).map_err(git_err)?;
    let tree = commit.tree_id().map_err(git_err)?.detach();
    parents.extend(commit.parent_ids().map(gix::Id::detach));
    let message = commit.message_raw_sloppy();
    messages.extend_from_slice(message);
    cache.insert_commit(id, tree, parents, message);
    Ok((tree, start..messages.len()))
}

fn is_ancestor(
    repo: &gix::Repository,
    maybe_ancestor: ObjectId,
    of: ObjectId,
) -> Result<bool, HistoryError> {
    Ok(repo
        .merge_base(maybe_ancestor, of)
        .map_err(git_err)?
        .is_some_and(|b| b.detach() == maybe_ancestor))
}

/// Walks the first-parent chain from HEAD until every package has met one of its release tags on
/// it. Higher-versioned tags of a package that the chain has not met are either on merged
/// branches (found below from the walked part) or not releases of this branch at all: tags of other
/// branches never make the walk go further.
fn walk_first_parent(
    repo: &gix::Repository,
    head: ObjectId,
    candidates: &[Vec<(String, String, ObjectId)>],
    shallow: &HashSet<ObjectId>,
    cache: &mut Cache,
) -> Result<Walked, HistoryError> {
    let every_package_tagged = candidates.iter().all(|c| !c.is_empty());
    // Tag commit → packages with a release tag there, so each step costs O(1).
    let mut waiting: IdMap<Vec<usize>> = IdMap::default();
    for (p, list) in candidates.iter().enumerate() {
        for (_, _, id) in list {
            let entry = waiting.entry(*id).or_default();
            if !entry.contains(&p) {
                entry.push(p);
            }
        }
    }
    let mut met = vec![false; candidates.len()];
    let mut unmet = candidates.len();
    let mut commits: Vec<WalkedCommit> = Vec::new();
    let mut on_chain: IdMap<usize> = IdMap::default();
    let mut cut = None;
    let mut next = Some(head);
    let mut messages = Vec::new();
    let mut parents = Vec::new();
    while let Some(id) = next {
        let (tree, message) = load_commit(repo, cache, id, &mut messages, &mut parents)?;
        next = parents.first().copied();
        if let Some(child) = commits.last_mut() {
            child.parent_tree = Some(tree);
            child.parent = Some(id);
        }
        on_chain.insert(id, commits.len());
        commits.push(WalkedCommit {
            id,
            tree,
            parent_tree: None,
            parent: None,
            message,
        });
        if shallow.contains(&id) {
            cut = Some(id);
            break;
        }
        for &p in waiting.get(&id).into_iter().flatten() {
            if !met[p] {
                met[p] = true;
                unmet -= 1;
            }
        }
        // Every package has a release on the chain: older commits are in no package's range.
        if every_package_tagged && unmet == 0 {
            break;
        }
    }
    // A shallow root has parents that are not here; it cannot be compared with them.
    if cut.is_some()
        && let Some(last) = commits.last_mut()
    {
        last.parent_tree = None;
    }
    let mut boundary = vec![commits.len(); candidates.len()];
    let mut releases = vec![None; candidates.len()];
    // Tags off the walked chain are shared by many packages (a fixed version line): ask once.
    let mut off_chain: IdMap<Option<usize>> = IdMap::default();
    for (p, list) in candidates.iter().enumerate() {
        for (k, (_, _, id)) in list.iter().enumerate() {
            let end = match on_chain.get(id) {
                Some(&i) => Some(i),
                // A tag off the chain counts only when it is an ancestor of HEAD (a merged branch).
                None => {
                    if let Some(known) = off_chain.get(id) {
                        *known
                    } else {
                        let found = if is_ancestor(repo, *id, head)? {
                            chain_ancestor(repo, *id, &on_chain)
                        } else {
                            None
                        };
                        off_chain.insert(*id, found);
                        found
                    }
                }
            };
            if let Some(end) = end {
                boundary[p] = end;
                releases[p] = Some(k);
                break;
            }
        }
    }
    Ok(Walked {
        limits: vec![usize::MAX; candidates.len()],
        commits,
        messages,
        releases,
        ranges: Ranges::Boundary(boundary),
        cut,
    })
}

/// Walks every commit reachable from HEAD; a commit is in a package's range unless it is an
/// ancestor of the package's last release tag. Reachability from every release tag is computed in
/// one pass: bitsets flow from children to parents in topological order.
fn walk_all(
    repo: &gix::Repository,
    head: ObjectId,
    candidates: &[Vec<(String, String, ObjectId)>],
    shallow: &HashSet<ObjectId>,
    cache: &mut Cache,
) -> Result<Walked, HistoryError> {
    let mut commits: Vec<WalkedCommit> = Vec::new();
    let mut parents: Vec<Vec<usize>> = Vec::new();
    let mut index: IdMap<usize> = IdMap::default();
    let mut pending: Vec<ObjectId> = vec![head];
    let mut cut = None;
    let mut edges: Vec<(usize, ObjectId)> = Vec::new();
    let mut first_parents: Vec<Option<ObjectId>> = Vec::new();
    let mut messages = Vec::new();
    let mut commit_parents = Vec::new();
    while let Some(id) = pending.pop() {
        if index.contains_key(&id) {
            continue;
        }
        let (tree, message) = load_commit(repo, cache, id, &mut messages, &mut commit_parents)?;
        let i = commits.len();
        index.insert(id, i);
        commits.push(WalkedCommit {
            id,
            tree,
            parent_tree: None,
            parent: None,
            message,
        });
        parents.push(Vec::new());
        if shallow.contains(&id) {
            first_parents.push(None);
            cut = Some(id);
            continue;
        }
        first_parents.push(commit_parents.first().copied());
        for &parent in &commit_parents {
            edges.push((i, parent));
            pending.push(parent);
        }
    }
    let mut children = vec![0usize; commits.len()];
    for (child, parent) in &edges {
        if let Some(&p) = index.get(parent) {
            parents[*child].push(p);
            children[p] += 1;
        }
    }
    for i in 0..commits.len() {
        let first = first_parents[i].and_then(|p| index.get(&p)).copied();
        commits[i].parent_tree = first.map(|p| commits[p].tree);
        commits[i].parent = first.map(|p| commits[p].id);
    }
    let order = children_first(&parents, children);
    let (releases, tag_bit, words, bits) = reach(candidates, &commits, &index, &parents, &order);
    // Newest first for the caller: the topological order.
    let mut position = vec![0usize; commits.len()];
    for (rank, &i) in order.iter().enumerate() {
        position[i] = rank;
    }
    let mut sorted: Vec<(usize, WalkedCommit)> = commits.into_iter().enumerate().collect();
    sorted.sort_by_key(|(i, _)| position[*i]);
    let mut new_bits = vec![0u64; bits.len()];
    for (rank, (old, _)) in sorted.iter().enumerate() {
        new_bits[rank * words..(rank + 1) * words]
            .copy_from_slice(&bits[old * words..(old + 1) * words]);
    }
    let commits = sorted.into_iter().map(|(_, c)| c).collect();
    Ok(Walked {
        limits: vec![usize::MAX; candidates.len()],
        commits,
        messages,
        releases,
        ranges: Ranges::Reach {
            words,
            bits: new_bits,
            tag_bit,
        },
        cut,
    })
}

/// Topological order, children first (Kahn), so each commit is done before its parents;
/// `children` counts each commit's children.
fn children_first(parents: &[Vec<usize>], mut children: Vec<usize>) -> Vec<usize> {
    let mut order = Vec::with_capacity(parents.len());
    let mut ready: Vec<usize> = (0..parents.len()).filter(|&i| children[i] == 0).collect();
    while let Some(i) = ready.pop() {
        order.push(i);
        for &p in &parents[i] {
            children[p] -= 1;
            if children[p] == 0 {
                ready.push(p);
            }
        }
    }
    order
}

/// Each package's last release (its highest tag that HEAD reaches), and per commit a bit set of
/// the release commits it descends from (`words` 64-bit words a commit; each package's bit).
#[allow(clippy::type_complexity)]
fn reach(
    candidates: &[Vec<(String, String, ObjectId)>],
    commits: &[WalkedCommit],
    index: &IdMap<usize>,
    parents: &[Vec<usize>],
    order: &[usize],
) -> (Vec<Option<usize>>, Vec<Option<usize>>, usize, Vec<u64>) {
    let mut releases = vec![None; candidates.len()];
    let mut tag_commits: Vec<ObjectId> = Vec::new();
    let mut tag_bit = vec![None; candidates.len()];
    for (p, list) in candidates.iter().enumerate() {
        if let Some(k) = list.iter().position(|(_, _, id)| index.contains_key(id)) {
            releases[p] = Some(k);
            let id = list[k].2;
            let bit = tag_commits
                .iter()
                .position(|t| *t == id)
                .unwrap_or_else(|| {
                    tag_commits.push(id);
                    tag_commits.len() - 1
                });
            tag_bit[p] = Some(bit);
        }
    }
    let words = tag_commits.len().div_ceil(64).max(1);
    let mut bits = vec![0u64; commits.len() * words];
    for &i in order {
        if let Some(b) = tag_commits.iter().position(|t| *t == commits[i].id) {
            bits[i * words + b / 64] |= 1 << (b % 64);
        }
        for &p in &parents[i] {
            for w in 0..words {
                let v = bits[i * words + w];
                bits[p * words + w] |= v;
            }
        }
    }
    (releases, tag_bit, words, bits)
}

/// Per commit: the packages it touches and the changesets it adds.
type Touched = (Vec<usize>, Vec<String>);

/// What changed on this branch: since the merge base of HEAD and some ref.
#[derive(Debug, Default)]
pub struct Since {
    /// Packages whose directories changed between the merge base and HEAD.
    pub packages: Vec<usize>,
    /// Changeset ids (file names without `.md`) that already existed at the merge base.
    pub changesets_at_base: HashSet<String>,
}

/// The packages whose directories changed between the merge base of `rev` and HEAD, and HEAD, and
/// the changesets the merge base already had.
pub fn changed_since(
    repo: &gix::Repository,
    ws: &Workspace,
    rev: &str,
    shared: SharedPaths,
) -> Result<Since, HistoryError> {
    let Ok(head) = repo.head_id() else {
        return Ok(Since::default());
    };
    let other = repo
        .rev_parse_single(rev)
        .ok()
        .and_then(|id| id.object().ok())
        .and_then(|o| o.peel_to_commit().ok())
        .ok_or_else(|| HistoryError::UnknownRef(rev.to_owned()))?;
    let Some(base) = repo.merge_base(other.id, head.detach()).map_err(git_err)? else {
        return Ok(Since {
            packages: (0..ws.packages.len()).collect(),
            changesets_at_base: HashSet::new(),
        });
    };
    let tree_of = |id: ObjectId| commit_tree(repo, id);
    let (base_tree, head_tree) = (tree_of(base.detach())?, tree_of(head.detach())?);
    let (dirs, ancestors) = PackageDiff::index(ws);
    let mut diff = PackageDiff::new(
        &dirs,
        &ancestors,
        shared,
        ws.packages.len(),
        repo.object_hash(),
    );
    diff.diff(
        repo,
        Some(base_tree),
        Some(head_tree),
        ".",
        dirs.get(".").map(Vec::as_slice),
    )?;
    let mut packages = diff.hits;
    packages.sort_unstable();

    let mut changesets_at_base = HashSet::new();
    let mut buf = Vec::new();
    let root = repo
        .objects
        .find_tree_iter(&base_tree, &mut buf)
        .map_err(git_err)?;
    let dir = root
        .filter_map(Result::ok)
        .find(|e| e.filename == ".changeset" && e.mode.is_tree())
        .map(|e| e.oid.to_owned());
    if let Some(dir) = dir {
        let mut buf = Vec::new();
        for e in repo
            .objects
            .find_tree_iter(&dir, &mut buf)
            .map_err(git_err)?
            .filter_map(Result::ok)
        {
            if let Some(id) = e.filename.to_str_lossy().strip_suffix(".md") {
                changesets_at_base.insert(id.to_owned());
            }
        }
    }
    Ok(Since {
        packages,
        changesets_at_base,
    })
}

/// For a commit off the walked part of the first-parent chain: the newest walked chain commit among
/// its ancestors. A tag older than the walked part (further down the chain) has none; the search
/// gives up after a bounded number of commits rather than reading history to its root.
fn chain_ancestor(
    repo: &gix::Repository,
    start: ObjectId,
    on_chain: &IdMap<usize>,
) -> Option<usize> {
    const BUDGET: usize = 20_000;
    let mut best: Option<usize> = None;
    let mut queue = VecDeque::from([start]);
    let mut seen = HashSet::from([start]);
    while let Some(id) = queue.pop_front() {
        if seen.len() > BUDGET {
            break;
        }
        if let Some(&i) = on_chain.get(&id) {
            best = Some(best.map_or(i, |b| b.min(i)));
            continue;
        }
        let Ok(commit) = repo.find_commit(id) else {
            continue;
        };
        for parent in commit.parent_ids() {
            if seen.insert(parent.detach()) {
                queue.push_back(parent.detach());
            }
        }
    }
    best
}

/// Whether the version part of a tag is really another name and a version (`util-0.7.15` in
/// `tokio-util-0.7.15` under `tokio-{version}`) or another scheme's (`v0.1.0` in `tokio-v0.1.0`):
/// another package's or scheme's tag, not a broken one.
fn names_another_package(part: &str) -> bool {
    let parses = |v: &str| {
        semver::Version::parse(v).is_ok() || crate::version::bump::from_pep440(v).is_some()
    };
    // `v0.1.0` under `{name}-{version}` is the `{name}-v{version}` scheme's tag.
    if part.strip_prefix('v').is_some_and(parses) {
        return true;
    }
    part.char_indices()
        .filter(|(_, c)| matches!(c, '-' | '@' | '/'))
        .any(|(i, _)| {
            let rest = part[i + 1..].trim_start_matches('v');
            semver::Version::parse(rest).is_ok()
                || crate::version::bump::from_pep440(rest).is_some()
        })
}

/// Per package, its release tags (name, version, commit), highest version first.
///
/// A tag that fits no template of a package is another package's or another scheme's, and says
/// nothing. A tag that fits one of a package's templates with a version part that does not parse,
/// that no other package takes as its release and that is not another name and version, is worth
/// one warning.
fn release_candidates(
    ws: &Workspace,
    templates: &[Vec<TagTemplate>],
    tags: &[(String, ObjectId)],
    warnings: &mut Vec<Warning>,
) -> Vec<Vec<(String, String, ObjectId)>> {
    let mut out = vec![Vec::new(); ws.packages.len()];
    let mut warned = HashSet::new();
    // Templates by prefix: a tag is matched against the templates whose prefix it starts with,
    // not against every package's (tens of thousands of tags, thousands of packages).
    let mut by_prefix: HashMap<&str, Vec<(usize, &TagTemplate)>> = HashMap::new();
    for (p, list) in templates.iter().enumerate() {
        for template in list {
            by_prefix
                .entry(template.prefix.as_str())
                .or_default()
                .push((p, template));
        }
    }
    for (tag, id) in tags {
        let mut valid = false;
        let mut shaped = false;
        let prefixes = (0..=tag.len()).filter(|&i| tag.is_char_boundary(i));
        for entries in prefixes.filter_map(|i| by_prefix.get(&tag[..i])) {
            for &(p, template) in entries {
                if let Some(version) = template.version_of(tag) {
                    if crate::version::is_valid(ws.packages[p].ecosystem, version) {
                        valid = true;
                        out[p].push((tag.clone(), version.to_owned(), *id));
                    } else if !names_another_package(version) {
                        shaped = true;
                    }
                }
            }
        }
        if shaped && !valid && warned.insert(tag.clone()) {
            warnings.push(
                Warning::new(format!(
                    "the version in tag `{}` does not parse; it is not taken as a release",
                    crate::diagnostic::clip(tag)
                ))
                .help("delete or rename the tag if it was meant as a release"),
            );
        }
    }
    for list in &mut out {
        list.sort_by(|a, b| compare_versions(&b.1, &a.1));
        list.dedup_by(|a, b| a.0 == b.0);
    }
    out
}

/// Orders versions: SemVer precedence where both parse, else numeric release parts, else text.
fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    if let (Ok(x), Ok(y)) = (semver::Version::parse(a), semver::Version::parse(b)) {
        return x.cmp(&y);
    }
    let key = |v: &str| -> Vec<u64> {
        v.split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap_or(0))
            .collect()
    };
    key(a).cmp(&key(b)).then_with(|| a.cmp(b))
}

/// Which packages a change between two trees touches, found top-down without looking inside
/// package directories.
///
/// Only the package directories' subtree ids matter, so the walk descends only into directories
/// that hold a package directory somewhere below them (and `.changeset/`, for the files a commit
/// adds there). A package directory whose id differs is marked and never opened. Decompressed trees
/// of one commit are kept for the next, since a commit's trees are its child's parent trees.
struct PackageDiff<'a> {
    dirs: &'a HashMap<String, Vec<usize>>,
    /// Strict ancestors of package directories (without the root).
    ancestors: &'a HashSet<String>,
    shared: SharedPaths,
    hash: gix::hash::Kind,
    hit: Vec<bool>,
    hits: Vec<usize>,
    /// A file outside every package changed: with `SharedPaths::All`, every package is hit
    /// ([`PackageDiff::hit_all`]).
    outside: bool,
    added_changesets: Vec<String>,
    current: IdMap<Rc<Vec<u8>>>,
    previous: IdMap<Rc<Vec<u8>>>,
}

impl<'a> PackageDiff<'a> {
    fn new(
        dirs: &'a HashMap<String, Vec<usize>>,
        ancestors: &'a HashSet<String>,
        shared: SharedPaths,
        n: usize,
        hash: gix::hash::Kind,
    ) -> Self {
        Self {
            dirs,
            ancestors,
            shared,
            hash,
            hit: vec![false; n],
            hits: Vec::new(),
            outside: false,
            added_changesets: Vec::new(),
            current: IdMap::default(),
            previous: IdMap::default(),
        }
    }

    /// The package directories, and the directories that have a package directory below them.
    fn index(ws: &Workspace) -> (HashMap<String, Vec<usize>>, HashSet<String>) {
        let mut dirs: HashMap<String, Vec<usize>> = HashMap::new();
        let mut ancestors = HashSet::new();
        for (i, p) in ws.packages.iter().enumerate() {
            dirs.entry(p.path.clone()).or_default().push(i);
            let mut cur = p.path.as_str();
            while let Some(slash) = cur.rfind('/') {
                cur = &cur[..slash];
                ancestors.insert(cur.to_owned());
            }
        }
        (dirs, ancestors)
    }

    /// Starts a new commit: forgets the last one's marks, keeps its trees for this one.
    fn next_commit(&mut self) {
        for &p in &self.hits {
            self.hit[p] = false;
        }
        self.hits.clear();
        self.outside = false;
        self.previous = std::mem::take(&mut self.current);
    }

    /// Whether the comparison hits every package: a shared file changed, and shared files count
    /// for all.
    fn hit_all(&self) -> bool {
        self.outside && self.shared == SharedPaths::All
    }

    fn mark(&mut self, packages: &[usize]) {
        for &p in packages {
            if !self.hit[p] {
                self.hit[p] = true;
                self.hits.push(p);
            }
        }
    }

    fn mark_owner(&mut self, owner: Option<&[usize]>) {
        match owner {
            Some(o) => self.mark(o),
            None => self.outside = true,
        }
    }

    fn tree(
        &mut self,
        repo: &gix::Repository,
        id: Option<ObjectId>,
    ) -> Result<Rc<Vec<u8>>, HistoryError> {
        let Some(id) = id else {
            return Ok(Rc::new(Vec::new()));
        };
        if let Some(data) = self.current.get(&id) {
            return Ok(data.clone());
        }
        let data = if let Some(data) = self.previous.get(&id) {
            data.clone()
        } else {
            let mut buf = Vec::new();
            repo.objects
                .find_tree_iter(&id, &mut buf)
                .map_err(git_err)?;
            Rc::new(buf)
        };
        self.current.insert(id, data.clone());
        Ok(data)
    }

    /// Compares the trees `old` and `new` of directory `path` (`.` for the root), whose files belong
    /// to `owner` unless a deeper package claims them.
    fn diff(
        &mut self,
        repo: &gix::Repository,
        old: Option<ObjectId>,
        new: Option<ObjectId>,
        path: &str,
        owner: Option<&'a [usize]>,
    ) -> Result<(), HistoryError> {
        use std::cmp::Ordering;
        let (old_data, new_data) = (self.tree(repo, old)?, self.tree(repo, new)?);
        let mut a = gix::objs::TreeRefIter::from_bytes(&old_data, self.hash)
            .filter_map(Result::ok)
            .peekable();
        let mut b = gix::objs::TreeRefIter::from_bytes(&new_data, self.hash)
            .filter_map(Result::ok)
            .peekable();
        loop {
            let order = match (a.peek(), b.peek()) {
                (None, None) => break,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(x), Some(y)) => git_order(x, y),
            };
            let (left, right) = match order {
                Ordering::Less => (a.next(), None),
                Ordering::Greater => (None, b.next()),
                Ordering::Equal => (a.next(), b.next()),
            };
            if let (Some(l), Some(r)) = (&left, &right)
                && l.oid == r.oid
                && l.mode == r.mode
            {
                continue;
            }
            let name = right
                .as_ref()
                .or(left.as_ref())
                .map(|e| e.filename.to_str_lossy())
                .unwrap_or_default();
            let child = if path == "." {
                name.into_owned()
            } else {
                format!("{path}/{name}")
            };
            let tree_of = |e: &Option<gix::objs::tree::EntryRef<'_>>| {
                e.as_ref()
                    .filter(|e| e.mode.is_tree())
                    .map(|e| e.oid.to_owned())
            };
            let (old_tree, new_tree) = (tree_of(&left), tree_of(&right));
            let has_blob = [&left, &right]
                .iter()
                .any(|e| e.as_ref().is_some_and(|e| !e.mode.is_tree()));
            if self.ancestors.contains(&child) {
                let child_owner = self.dirs.get(&child).map(Vec::as_slice).or(owner);
                if has_blob {
                    self.mark_owner(child_owner);
                }
                self.diff(repo, old_tree, new_tree, &child, child_owner)?;
            } else if let Some(packages) = self.dirs.get(&child) {
                self.mark(packages);
            } else {
                if child == ".changeset" && new_tree.is_some() {
                    self.changesets_added(repo, old_tree, new_tree)?;
                }
                self.mark_owner(owner);
            }
        }
        Ok(())
    }

    /// Records the `.md` files `new` has that `old` has not: the changesets a commit adds.
    fn changesets_added(
        &mut self,
        repo: &gix::Repository,
        old: Option<ObjectId>,
        new: Option<ObjectId>,
    ) -> Result<(), HistoryError> {
        let (old_data, new_data) = (self.tree(repo, old)?, self.tree(repo, new)?);
        let before: HashSet<&BStr> = gix::objs::TreeRefIter::from_bytes(&old_data, self.hash)
            .filter_map(Result::ok)
            .map(|e| e.filename)
            .collect();
        for e in gix::objs::TreeRefIter::from_bytes(&new_data, self.hash).filter_map(Result::ok) {
            if !e.mode.is_tree()
                && !before.contains(e.filename)
                && let Some(id) = e.filename.to_str_lossy().strip_suffix(".md")
            {
                self.added_changesets.push(id.to_owned());
            }
        }
        Ok(())
    }
}

/// Git's tree order: names compare bytewise, a tree's as if it ended in `/`.
fn git_order(
    a: &gix::objs::tree::EntryRef<'_>,
    b: &gix::objs::tree::EntryRef<'_>,
) -> std::cmp::Ordering {
    let (x, y): (&[u8], &[u8]) = (a.filename, b.filename);
    let common = x.len().min(y.len());
    x[..common].cmp(&y[..common]).then_with(|| {
        let tail = |name: &[u8], tree: bool| {
            name.get(common)
                .copied()
                .or(if tree { Some(b'/') } else { None })
        };
        tail(x, a.mode.is_tree()).cmp(&tail(y, b.mode.is_tree()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_only_their_own_package() {
        let foo = TagTemplate::new("{name}@{version}", "foo").unwrap();
        assert_eq!(foo.version_of("foo@1.2.0"), Some("1.2.0"));
        assert_eq!(foo.version_of("foo-bar@1.2.0"), None);
        assert_eq!(foo.version_of("@scope/foo@1.2.0"), None);
        let cargo = TagTemplate::new("{name}-v{version}", "foo").unwrap();
        assert_eq!(cargo.version_of("foo-v0.1.0"), Some("0.1.0"));
        assert_eq!(cargo.version_of("foo-bar-v0.1.0"), None);
        assert_eq!(
            TagTemplate::new("v{version}", "x").unwrap().render("1.0.0"),
            "v1.0.0"
        );
        assert!(TagTemplate::new("{name}", "x").is_err());
    }

    #[test]
    fn versions_order_by_precedence() {
        use std::cmp::Ordering::*;
        assert_eq!(compare_versions("1.10.0", "1.9.0"), Greater);
        assert_eq!(compare_versions("1.0.0-beta.2", "1.0.0"), Less);
        assert_eq!(compare_versions("1.10", "1.9"), Greater);
    }
}
