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

use gix::ObjectId;
use gix::bstr::{BStr, BString, ByteSlice, ByteVec};
use gix::prelude::FindExt;

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
    match package.ecosystem {
        crate::workspace::Ecosystem::Npm => vec!["{name}@{version}".into()],
        _ => vec!["{name}-v{version}".into()],
    }
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SharedPaths {
    /// They release nothing.
    #[default]
    Ignore,
    /// They count for every package.
    All,
}

/// How to read history.
pub struct Options<'a> {
    /// Tag templates per package index.
    pub templates: &'a [Vec<TagTemplate>],
    pub shared_paths: SharedPaths,
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
    /// How many commits were walked.
    pub walked: usize,
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

/// Every tag of the repository, peeled to the commit it names.
pub fn tags(repo: &gix::Repository) -> Result<Vec<(String, ObjectId)>, HistoryError> {
    let mut out = Vec::new();
    let platform = repo.references().map_err(git_err)?;
    for reference in platform.tags().map_err(git_err)? {
        let mut reference = reference.map_err(|e| HistoryError::Git(e.into()))?;
        let name = reference.name().shorten().to_str_lossy().into_owned();
        let Ok(id) = reference.peel_to_id() else {
            continue;
        };
        let is_commit = repo
            .find_header(id)
            .is_ok_and(|h| h.kind() == gix::object::Kind::Commit);
        if is_commit {
            out.push((name, id.detach()));
        }
    }
    Ok(out)
}

/// Reads each package's last release and the commits since, in one walk.
pub fn read(
    repo: &gix::Repository,
    ws: &Workspace,
    options: &Options<'_>,
) -> Result<History, HistoryError> {
    let n = ws.packages.len();
    let mut history = History {
        last_release: vec![None; n],
        ..History::default()
    };
    let Ok(head) = repo.head_id() else {
        return Ok(history);
    };
    let head = head.detach();
    history.head = Some(head.to_string());

    // The first-parent chain, newest first, with each commit's tree and message.
    let shallow: HashSet<ObjectId> = repo
        .shallow_commits()
        .map_err(git_err)?
        .map(|c| c.iter().copied().collect())
        .unwrap_or_default();
    let all_tags = tags(repo)?;
    let candidates = release_candidates(ws, options.templates, &all_tags, &mut history.warnings);
    let wanted: HashSet<ObjectId> = candidates.iter().flatten().map(|(_, _, id)| *id).collect();
    let every_package_tagged = candidates.iter().all(|c| !c.is_empty());

    let mut chain: Vec<(ObjectId, ObjectId, BString)> = Vec::new();
    let mut on_chain: HashMap<ObjectId, usize> = HashMap::new();
    let mut seen_wanted = 0usize;
    let mut cut_at_shallow = None;
    let mut next = Some(head);
    while let Some(id) = next {
        let commit = repo.find_commit(id).map_err(git_err)?;
        let tree = commit.tree_id().map_err(git_err)?.detach();
        next = commit.parent_ids().next().map(gix::Id::detach);
        if wanted.contains(&id) {
            seen_wanted += 1;
        }
        on_chain.insert(id, chain.len());
        chain.push((id, tree, commit.message_raw_sloppy().to_owned()));
        if shallow.contains(&id) {
            cut_at_shallow = Some(id);
            break;
        }
        // Every release tag found on the chain: older commits are in no package's range.
        if every_package_tagged
            && seen_wanted == wanted.len()
            && candidates_all_decided(&candidates, &on_chain)
        {
            break;
        }
    }
    history.walked = chain.len();

    // Each package's boundary: the chain index from which commits are its tag's ancestors.
    let mut boundary = vec![chain.len(); n];
    for (p, list) in candidates.iter().enumerate() {
        for (tag, version, id) in list {
            let end = match on_chain.get(id) {
                Some(&i) => Some(i),
                None => chain_ancestor(repo, *id, &on_chain),
            };
            // A tag whose history never meets HEAD's chain is on an unrelated branch.
            if let Some(end) = end {
                boundary[p] = end;
                history.last_release[p] = Some(Tag {
                    name: tag.clone(),
                    version: version.clone(),
                    commit: id.to_string(),
                });
                break;
            }
        }
    }
    if let Some(cut) = cut_at_shallow {
        let unreached: Vec<String> = (0..n)
            .filter(|&p| boundary[p] >= chain.len())
            .map(|p| format!("`{}`", ws.packages[p].name))
            .collect();
        if !unreached.is_empty() {
            return Err(HistoryError::Shallow {
                commit: cut.to_string(),
                packages: unreached,
            });
        }
    }

    // One tree diff per commit in any range.
    let limit = boundary.iter().copied().max().unwrap_or(0);
    let mut dirs: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, p) in ws.packages.iter().enumerate() {
        dirs.entry(p.path.as_str()).or_default().push(i);
    }
    let all: Vec<usize> = (0..n).collect();
    let mut state = gix::diff::tree::State::default();
    let (mut old_buf, mut new_buf) = (Vec::new(), Vec::new());
    let mut touches = Touches::new(&dirs, options.shared_paths, &all);
    for i in 0..limit.min(chain.len()) {
        let (id, tree, message) = &chain[i];
        touches.reset();
        let new_iter = repo
            .objects
            .find_tree_iter(tree, &mut new_buf)
            .map_err(git_err)?;
        let old_iter = match chain.get(i + 1) {
            Some((_, parent_tree, _)) => repo
                .objects
                .find_tree_iter(parent_tree, &mut old_buf)
                .map_err(git_err)?,
            None => gix::objs::TreeRefIter::from_bytes(&[], repo.object_hash()),
        };
        gix::diff::tree(old_iter, new_iter, &mut state, &repo.objects, &mut touches)
            .map_err(git_err)?;
        for changeset in touches.added_changesets.drain(..) {
            history
                .changeset_commits
                .entry(changeset)
                .or_insert_with(|| id.to_string());
        }
        let mut packages: Vec<usize> = touches
            .hits
            .iter()
            .copied()
            .filter(|&p| i < boundary[p])
            .collect();
        packages.sort_unstable();
        if !packages.is_empty() {
            history.commits.push(Commit {
                id: id.to_string(),
                message: message.to_str_lossy().into_owned(),
                packages,
            });
        }
    }
    Ok(history)
}

/// Whether each package's best candidate is either on the chain or can never be (all decided).
fn candidates_all_decided(
    candidates: &[Vec<(String, String, ObjectId)>],
    on_chain: &HashMap<ObjectId, usize>,
) -> bool {
    candidates.iter().all(|list| {
        list.first()
            .is_some_and(|(_, _, id)| on_chain.contains_key(id))
    })
}

/// The packages whose directories changed between the merge base of `rev` and HEAD, and HEAD.
pub fn changed_since(
    repo: &gix::Repository,
    ws: &Workspace,
    rev: &str,
    shared: SharedPaths,
) -> Result<Vec<usize>, HistoryError> {
    let Ok(head) = repo.head_id() else {
        return Ok(Vec::new());
    };
    let other = repo
        .rev_parse_single(rev)
        .ok()
        .and_then(|id| id.object().ok())
        .and_then(|o| o.peel_to_commit().ok())
        .ok_or_else(|| HistoryError::UnknownRef(rev.to_owned()))?;
    let Some(base) = repo.merge_base(other.id, head.detach()).map_err(git_err)? else {
        return Ok((0..ws.packages.len()).collect());
    };
    let base_tree = repo
        .find_commit(base.detach())
        .map_err(git_err)?
        .tree_id()
        .map_err(git_err)?
        .detach();
    let head_tree = repo
        .find_commit(head.detach())
        .map_err(git_err)?
        .tree_id()
        .map_err(git_err)?
        .detach();
    let mut dirs: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, p) in ws.packages.iter().enumerate() {
        dirs.entry(p.path.as_str()).or_default().push(i);
    }
    let all: Vec<usize> = (0..ws.packages.len()).collect();
    let mut touches = Touches::new(&dirs, shared, &all);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let old = repo
        .objects
        .find_tree_iter(&base_tree, &mut a)
        .map_err(git_err)?;
    let new = repo
        .objects
        .find_tree_iter(&head_tree, &mut b)
        .map_err(git_err)?;
    gix::diff::tree(
        old,
        new,
        gix::diff::tree::State::default(),
        &repo.objects,
        &mut touches,
    )
    .map_err(git_err)?;
    let mut hits = touches.hits;
    hits.sort_unstable();
    Ok(hits)
}

/// For a commit off the first-parent chain: the newest chain commit among its ancestors.
fn chain_ancestor(
    repo: &gix::Repository,
    start: ObjectId,
    on_chain: &HashMap<ObjectId, usize>,
) -> Option<usize> {
    let mut best: Option<usize> = None;
    let mut queue = VecDeque::from([start]);
    let mut seen = HashSet::from([start]);
    while let Some(id) = queue.pop_front() {
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

/// Per package, its release tags (name, version, commit), highest version first.
fn release_candidates(
    ws: &Workspace,
    templates: &[Vec<TagTemplate>],
    tags: &[(String, ObjectId)],
    warnings: &mut Vec<Warning>,
) -> Vec<Vec<(String, String, ObjectId)>> {
    let mut out = vec![Vec::new(); ws.packages.len()];
    for (tag, id) in tags {
        let mut valid = false;
        let mut shaped = false;
        for (p, package) in ws.packages.iter().enumerate() {
            for template in &templates[p] {
                if let Some(version) = template.version_of(tag) {
                    shaped = true;
                    if crate::version::is_valid(package.ecosystem, version) {
                        valid = true;
                        out[p].push((tag.clone(), version.to_owned(), *id));
                    }
                }
            }
        }
        if shaped && !valid {
            warnings.push(
                Warning::new(format!(
                    "the version in tag `{tag}` does not parse; it is not taken as a release"
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

/// The tree-diff delegate: tracks the current path and records which packages it falls in.
struct Touches<'a> {
    path: BString,
    queue: VecDeque<BString>,
    dirs: &'a HashMap<&'a str, Vec<usize>>,
    shared: SharedPaths,
    all: &'a [usize],
    hit: Vec<bool>,
    hits: Vec<usize>,
    added_changesets: Vec<String>,
}

impl<'a> Touches<'a> {
    fn new(dirs: &'a HashMap<&'a str, Vec<usize>>, shared: SharedPaths, all: &'a [usize]) -> Self {
        Self {
            path: BString::default(),
            queue: VecDeque::new(),
            dirs,
            shared,
            all,
            hit: vec![false; all.len()],
            hits: Vec::new(),
            added_changesets: Vec::new(),
        }
    }

    fn reset(&mut self) {
        for &p in &self.hits {
            self.hit[p] = false;
        }
        self.hits.clear();
        self.path.clear();
        self.queue.clear();
    }

    fn record(&mut self, packages: &[usize]) {
        for &p in packages {
            if !self.hit[p] {
                self.hit[p] = true;
                self.hits.push(p);
            }
        }
    }

    fn push(&mut self, component: &BStr) {
        if component.is_empty() {
            return;
        }
        if !self.path.is_empty() {
            self.path.push(b'/');
        }
        self.path.push_str(component);
    }
}

impl gix::diff::tree::Visit for Touches<'_> {
    fn pop_front_tracked_path_and_set_current(&mut self) {
        self.path = self.queue.pop_front().unwrap_or_default();
    }

    fn push_back_tracked_path_component(&mut self, component: &BStr) {
        self.push(component);
        self.queue.push_back(self.path.clone());
    }

    fn push_path_component(&mut self, component: &BStr) {
        self.push(component);
    }

    fn pop_path_component(&mut self) {
        match self.path.rfind_byte(b'/') {
            Some(pos) => self.path.truncate(pos),
            None => self.path.clear(),
        }
    }

    fn visit(&mut self, change: gix::diff::tree::visit::Change) -> gix::diff::tree::visit::Action {
        use gix::diff::tree::visit::Change;
        let (mode, added) = match &change {
            Change::Addition { entry_mode, .. } => (*entry_mode, true),
            Change::Deletion { entry_mode, .. } | Change::Modification { entry_mode, .. } => {
                (*entry_mode, false)
            }
        };
        // Trees are descended into; their files are what count.
        if mode.is_tree() {
            return std::ops::ControlFlow::Continue(());
        }
        let path = self.path.to_str_lossy().into_owned();
        if added
            && let Some(name) = path
                .strip_prefix(".changeset/")
                .and_then(|n| n.strip_suffix(".md"))
            && !name.contains('/')
        {
            self.added_changesets.push(name.to_owned());
        }
        let mut dir = path.as_str();
        let owners = loop {
            match dir.rfind('/') {
                Some(i) => {
                    dir = &dir[..i];
                    if let Some(owners) = self.dirs.get(dir) {
                        break Some(owners.clone());
                    }
                }
                None => break self.dirs.get(".").cloned(),
            }
        };
        match owners {
            Some(owners) => self.record(&owners),
            None if self.shared == SharedPaths::All => {
                let all = self.all;
                self.record(all);
            }
            None => {}
        }
        std::ops::ControlFlow::Continue(())
    }
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
