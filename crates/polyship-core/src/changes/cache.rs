//! The history cache: what a commit costs git to inflate and compare, kept in
//! `.git/polyship/history-cache` so that the next run reads only the commits made since.
//!
//! Three parts, invalidated separately:
//! - **Commits** — tree, parents and message — depend on nothing but the commit id; they are
//!   never stale (a force-push that drops commits leaves entries nothing reaches).
//! - **What a commit touched** — the package directories its comparison with its first parent
//!   reaches, whether it touches a file outside every package, the changesets it adds — depends on
//!   the package layout too. It is kept for one layout, the sorted list of package directories it
//!   was computed with, and dropped whole when that list changes (a package added, moved or
//!   removed), since which package owns a file depends on every directory above and below it.
//!   Each entry also names the parent tree it was compared with, so a commit whose parent became
//!   known (an unshallowed clone) is compared again.
//! - **Release commits found** — per package, keyed by everything the search depends on (the walk,
//!   the package's directory, version file and key, its current version and the tag commit): the
//!   head the search started from and what it found, so that the next search looks only at the
//!   commits made since.
//!
//! The file is a magic line, a format version, the length and CRC-32 of a base and the base's
//! three parts, then any number of appendices. A run that learnt something appends one — a marker,
//! its length and CRC-32, then the commits, the touched entries (with a checksum of the layout they
//! were computed for) and the release-commit outcomes it added — in one `O_APPEND` write, so a run
//! after one new commit writes a few hundred bytes and not the whole history again. Entries of a
//! later appendix win. The whole file is written again — to a temporary file renamed into place,
//! so a reader sees a whole file or none and concurrent runs each write a whole one — when the
//! layout changed, after [`MAX_APPENDICES`] appendices, or when the file ended in a damaged one.
//! Concurrent appends each land whole; an appendix for another layout keeps its commits and
//! loses its touched entries. A file that is unreadable in any way — other magic or version, wrong
//! checksum, cut short — is ignored and rebuilt, never an error; a damaged appendix ends the file
//! there. It is bounded: past [`MAX_BYTES`], nothing more is added.
//!
//! Entries are read in place from the file's bytes (an index of offsets, no allocation per
//! commit), and new ones are appended in the same encoding.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use gix::ObjectId;
use gix::hashtable::HashMap;

const MAGIC: &[u8; 24] = b"polyship history cache\n\0";
const FORMAT: u32 = 3;
/// What starts each appendix.
const APPENDIX: &[u8; 8] = b"appendix";
/// Appendices a file takes before it is written again whole.
const MAX_APPENDICES: usize = 32;
/// The file's size at most; past it, nothing more is added.
pub const MAX_BYTES: usize = 256 << 20;
/// Release-commit outcomes kept at most.
const MAX_OUTCOMES: usize = 100_000;

/// The cache being read by [`prefetch`].
static PREFETCHED: super::prefetch::Prefetch<Cache> = super::prefetch::Prefetch::new();

/// Starts reading and indexing the cache of `git_dir` on another thread, so that it is ready when
/// [`Cache::load`] asks for it — while discovery waits for `git ls-files`, on a long history.
pub fn prefetch(git_dir: &Path) {
    let path = git_dir.join("polyship").join("history-cache");
    if !path.is_file() {
        return;
    }
    PREFETCHED.start(path, |path| std::fs::read(path).ok().and_then(decode));
}

/// A cached commit, read in place.
#[derive(Debug, Clone, Copy)]
pub struct CommitRef<'a> {
    pub tree: ObjectId,
    parents: &'a [u8],
    pub message: &'a [u8],
}

impl CommitRef<'_> {
    pub fn parents(&self) -> impl Iterator<Item = ObjectId> + '_ {
        self.parents
            .chunks_exact(20)
            .map(ObjectId::from_bytes_or_panic)
    }

    pub fn first_parent(&self) -> Option<ObjectId> {
        self.parents().next()
    }
}

/// What one commit's comparison with its first parent found, for the cached layout, read in place.
#[derive(Debug, Clone, Copy)]
pub struct TouchRef<'a> {
    /// The tree it was compared with; `None`: the empty tree (a root or shallow commit).
    pub parent_tree: Option<ObjectId>,
    /// It changes a file outside every package directory.
    pub outside: bool,
    dirs: &'a [u8],
    changesets: &'a [u8],
}

impl<'a> TouchRef<'a> {
    /// Indices into the layout's directories.
    pub fn dirs(&self) -> impl Iterator<Item = u32> + 'a {
        self.dirs
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("four bytes")))
    }

    /// Changeset ids whose files it adds.
    pub fn changesets(&self) -> impl Iterator<Item = &'a str> + 'a {
        let mut r = Reader {
            bytes: self.changesets,
        };
        std::iter::from_fn(move || std::str::from_utf8(r.bytes()?).ok())
    }
}

/// Where a package's search for the commit that set its current version ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Versioned {
    /// The manifest already had the version at the tag: nothing to search.
    AtTag,
    /// No commit in the range sets it.
    Nowhere,
    /// This commit sets it.
    At(ObjectId),
}

/// A search's result and the head it started from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub head: ObjectId,
    pub found: Versioned,
}

/// Where an entry lives: in the bytes read from the file, or in those added since.
#[derive(Debug, Clone, Copy)]
enum Slot {
    File(u32),
    Added(u32),
}

/// The cache, loaded (or empty) and updated in memory; [`Cache::save`] writes it back.
#[derive(Debug, Default)]
pub struct Cache {
    path: Option<PathBuf>,
    /// The file as read; `commits_in_file` and `touched_in_file` are where its sections are (the
    /// base's, then each appendix's).
    file: Vec<u8>,
    commits_in_file: Vec<std::ops::Range<usize>>,
    touched_in_file: Vec<std::ops::Range<usize>>,
    added_commits: Vec<u8>,
    added_touched: Vec<u8>,
    commits: HashMap<ObjectId, Slot>,
    touched: HashMap<ObjectId, Slot>,
    /// The package directories `touched` was computed for, sorted.
    layout: Vec<String>,
    outcomes: BTreeMap<String, Outcome>,
    /// Outcomes this run set, for its appendix.
    added_outcomes: BTreeSet<String>,
    changed: bool,
    /// The file as read may take an appendix: whole, for this layout, with room for one more.
    appendable: bool,
    /// Commits this run took from the cache.
    hits: usize,
}

impl Cache {
    /// A cache that reads and keeps nothing (`--no-cache`), for a workspace whose package
    /// directories are `layout`.
    pub fn disabled(layout: &[String]) -> Self {
        Self {
            layout: sorted(layout),
            ..Self::default()
        }
    }

    /// The cache of the repository whose git directory is `git_dir`, for a workspace whose package
    /// directories are `layout`. Unreadable or absent: empty. What [`prefetch`] read is taken.
    pub fn load(git_dir: &Path, layout: &[String]) -> Self {
        let path = git_dir.join("polyship").join("history-cache");
        let layout = sorted(layout);
        let mut cache = PREFETCHED
            .take(&path)
            .or_else(|| std::fs::read(&path).ok().and_then(decode))
            .unwrap_or_default();
        if cache.layout != layout {
            if !cache.touched.is_empty() {
                cache.changed = true;
            }
            cache.touched.clear();
            cache.touched_in_file.clear();
            cache.layout = layout;
            cache.appendable = false;
        }
        cache.path = Some(path);
        cache
    }

    /// Whether this cache is used at all.
    pub fn enabled(&self) -> bool {
        self.path.is_some()
    }

    fn size(&self) -> usize {
        let in_file = |ranges: &[std::ops::Range<usize>]| -> usize {
            ranges.iter().map(std::ops::Range::len).sum()
        };
        in_file(&self.commits_in_file)
            + in_file(&self.touched_in_file)
            + self.added_commits.len()
            + self.added_touched.len()
    }

    /// Whether `more` bytes may still be added.
    fn room_for(&self, more: usize) -> bool {
        self.enabled() && self.size() + more <= MAX_BYTES
    }

    /// A cached commit; counted in [`Cache::hits`] when found.
    pub fn commit(&mut self, id: &ObjectId) -> Option<CommitRef<'_>> {
        let slot = *self.commits.get(id)?;
        self.hits += 1;
        let (bytes, at) = match slot {
            Slot::File(at) => (&self.file, at),
            Slot::Added(at) => (&self.added_commits, at),
        };
        let mut r = Reader {
            bytes: bytes.get(at as usize..)?,
        };
        read_commit(&mut r).map(|(_, c)| c)
    }

    pub fn insert_commit(
        &mut self,
        id: ObjectId,
        tree: ObjectId,
        parents: &[ObjectId],
        message: &[u8],
    ) {
        if self.commits.contains_key(&id) || !self.room_for(48 + 20 * parents.len() + message.len())
        {
            return;
        }
        let at = offset(self.added_commits.len());
        let out = &mut self.added_commits;
        out.extend_from_slice(id.as_bytes());
        out.extend_from_slice(tree.as_bytes());
        put_u32(out, len32(parents.len()));
        for p in parents {
            out.extend_from_slice(p.as_bytes());
        }
        put_bytes(out, message);
        self.commits.insert(id, Slot::Added(at));
        self.changed = true;
    }

    /// The layout's directories, sorted: what [`TouchRef::dirs`] index.
    pub fn layout(&self) -> &[String] {
        &self.layout
    }

    pub fn touched(&self, id: &ObjectId) -> Option<TouchRef<'_>> {
        let (bytes, at) = match *self.touched.get(id)? {
            Slot::File(at) => (&self.file, at),
            Slot::Added(at) => (&self.added_touched, at),
        };
        let mut r = Reader {
            bytes: bytes.get(at as usize..)?,
        };
        read_touch(&mut r, self.layout.len()).map(|(_, t)| t)
    }

    pub fn insert_touched(
        &mut self,
        id: ObjectId,
        parent_tree: Option<ObjectId>,
        outside: bool,
        dirs: &[u32],
        changesets: &[String],
    ) {
        let more = 50 + 4 * dirs.len() + changesets.iter().map(|c| c.len() + 4).sum::<usize>();
        if !self.room_for(more) {
            return;
        }
        let at = offset(self.added_touched.len());
        let out = &mut self.added_touched;
        out.extend_from_slice(id.as_bytes());
        out.push(u8::from(parent_tree.is_some()) | (u8::from(outside) << 1));
        if let Some(p) = parent_tree {
            out.extend_from_slice(p.as_bytes());
        }
        put_u32(out, len32(dirs.len()));
        for d in dirs {
            put_u32(out, *d);
        }
        let start = out.len();
        put_u32(out, 0);
        for c in changesets {
            put_bytes(out, c.as_bytes());
        }
        let length = len32(out.len() - start - 4);
        out[start..start + 4].copy_from_slice(&length.to_le_bytes());
        self.touched.insert(id, Slot::Added(at));
        self.changed = true;
    }

    pub fn outcome(&self, key: &str) -> Option<Outcome> {
        self.outcomes.get(key).copied()
    }

    pub fn set_outcome(&mut self, key: String, outcome: Outcome) {
        if !self.enabled() || self.outcomes.get(&key) == Some(&outcome) {
            return;
        }
        if self.outcomes.len() >= MAX_OUTCOMES && !self.outcomes.contains_key(&key) {
            return;
        }
        self.added_outcomes.insert(key.clone());
        self.outcomes.insert(key, outcome);
        self.changed = true;
    }

    /// How many commits this run took from the cache.
    pub fn hits(&self) -> usize {
        self.hits
    }

    /// Writes the cache back when it changed. Best effort: a cache that cannot be written (a
    /// read-only `.git`) only makes the next run slower; the reason is returned to say so.
    pub fn save(&self) -> Result<(), String> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        if !self.changed {
            return Ok(());
        }
        if self.appendable && self.append(path).is_ok() {
            return Ok(());
        }
        let dir = path.parent().expect("the cache has a directory");
        let tmp = dir.join(format!("history-cache.{}.tmp", std::process::id()));
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(dir)?;
            let mut file = std::fs::File::create(&tmp)?;
            for part in encode(self) {
                file.write_all(&part)?;
            }
            file.flush()?;
            drop(file);
            std::fs::rename(&tmp, path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("the history cache {} was not written: {e}", path.display())
        })?;
        remove_stale_temporaries(dir);
        Ok(())
    }

    /// What this run added, as one appendix at the end of the file at `path` (which must exist).
    fn append(&self, path: &Path) -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new().append(true).open(path)?;
        // One write: concurrent appends land whole, one after the other.
        file.write_all(&appendix(self))
    }
}

fn sorted(layout: &[String]) -> Vec<String> {
    let mut layout = layout.to_vec();
    layout.sort();
    layout.dedup();
    layout
}

fn offset(n: usize) -> u32 {
    u32::try_from(n).expect("the cache's bound keeps offsets below 2^32")
}

fn len32(n: usize) -> u32 {
    u32::try_from(n).expect("the cache's bound keeps lengths below 2^32")
}

/// Temporary files of runs killed while writing, an hour old or more.
fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age.as_secs() >= 3600);
        if name.starts_with("history-cache.") && name.ends_with(".tmp") && stale {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The file's bytes, as pieces to write one after the other: the parts read from the old file
/// are borrowed, never copied (the file is tens of megabytes on a long history).
fn encode(cache: &Cache) -> Vec<std::borrow::Cow<'_, [u8]>> {
    use std::borrow::Cow;
    fn section<'a>(body: &mut Vec<Cow<'a, [u8]>>, in_file: Vec<&'a [u8]>, added: &'a [u8]) {
        let n: usize = in_file.iter().map(|p| p.len()).sum::<usize>() + added.len();
        body.push(Cow::Owned((n as u64).to_le_bytes().to_vec()));
        for p in in_file.into_iter().chain([added]) {
            body.push(Cow::Borrowed(p));
        }
    }
    let mut body: Vec<Cow<'_, [u8]>> = Vec::new();
    let in_file = |ranges: &[std::ops::Range<usize>]| -> Vec<&[u8]> {
        ranges.iter().map(|r| &cache.file[r.clone()]).collect()
    };
    section(
        &mut body,
        in_file(&cache.commits_in_file),
        &cache.added_commits,
    );
    let mut small = Vec::new();
    put_u32(&mut small, len32(cache.layout.len()));
    for dir in &cache.layout {
        put_bytes(&mut small, dir.as_bytes());
    }
    body.push(Cow::Owned(std::mem::take(&mut small)));
    section(
        &mut body,
        in_file(&cache.touched_in_file),
        &cache.added_touched,
    );
    put_outcomes(&mut small, cache.outcomes.iter());
    body.push(Cow::Owned(small));
    let mut crc = flate2::Crc::new();
    let mut length = 0;
    for part in &body {
        crc.update(part);
        length += part.len();
    }
    let mut header = Vec::with_capacity(40);
    header.extend_from_slice(MAGIC);
    put_u32(&mut header, FORMAT);
    header.extend_from_slice(&(length as u64).to_le_bytes());
    put_u32(&mut header, crc.sum());
    let mut out = vec![Cow::Owned(header)];
    out.extend(body);
    out
}

/// The entries this run added, as an appendix.
fn appendix(cache: &Cache) -> Vec<u8> {
    let mut payload = Vec::with_capacity(
        32 + cache.added_commits.len()
            + cache.added_touched.len()
            + 64 * cache.added_outcomes.len(),
    );
    put_u32(&mut payload, layout_sum(&cache.layout));
    for part in [&cache.added_commits, &cache.added_touched] {
        payload.extend_from_slice(&(part.len() as u64).to_le_bytes());
        payload.extend_from_slice(part);
    }
    let added: Vec<(&String, &Outcome)> = cache
        .added_outcomes
        .iter()
        .filter_map(|key| Some((key, cache.outcomes.get(key)?)))
        .collect();
    put_outcomes(&mut payload, added.into_iter());
    let mut crc = flate2::Crc::new();
    crc.update(&payload);
    let mut out = Vec::with_capacity(payload.len() + 20);
    out.extend_from_slice(APPENDIX);
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    put_u32(&mut out, crc.sum());
    out.extend_from_slice(&payload);
    out
}

/// A checksum of a layout, so that an appendix's touched entries are read only for the layout
/// their directory indices refer to.
fn layout_sum(layout: &[String]) -> u32 {
    let mut crc = flate2::Crc::new();
    for dir in layout {
        crc.update(dir.as_bytes());
        crc.update(b"\0");
    }
    crc.sum()
}

fn put_outcomes<'a>(
    out: &mut Vec<u8>,
    outcomes: impl ExactSizeIterator<Item = (&'a String, &'a Outcome)>,
) {
    put_u32(out, len32(outcomes.len()));
    for (key, o) in outcomes {
        put_bytes(out, key.as_bytes());
        out.extend_from_slice(o.head.as_bytes());
        match o.found {
            Versioned::AtTag => out.push(0),
            Versioned::Nowhere => out.push(1),
            Versioned::At(id) => {
                out.push(2);
                out.extend_from_slice(id.as_bytes());
            }
        }
    }
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_u32(out, len32(bytes.len()));
    out.extend_from_slice(bytes);
}

/// A reader that fails (returns `None`) on anything cut short.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.bytes.len() < n {
            return None;
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("four bytes")))
    }

    fn u64(&mut self) -> Option<u64> {
        self.take(8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("eight bytes")))
    }

    fn id(&mut self) -> Option<ObjectId> {
        self.take(20).map(ObjectId::from_bytes_or_panic)
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    fn string(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?.to_vec()).ok()
    }
}

fn read_commit<'a>(r: &mut Reader<'a>) -> Option<(ObjectId, CommitRef<'a>)> {
    let id = r.id()?;
    let tree = r.id()?;
    let n = r.u32()? as usize;
    let parents = r.take(n.checked_mul(20)?)?;
    let message = r.bytes()?;
    Some((
        id,
        CommitRef {
            tree,
            parents,
            message,
        },
    ))
}

fn read_touch<'a>(r: &mut Reader<'a>, dirs_known: usize) -> Option<(ObjectId, TouchRef<'a>)> {
    let id = r.id()?;
    let flags = r.u8()?;
    if flags > 3 {
        return None;
    }
    let parent_tree = if flags & 1 == 1 { Some(r.id()?) } else { None };
    let n = r.u32()? as usize;
    let dirs = r.take(n.checked_mul(4)?)?;
    let touch = TouchRef {
        parent_tree,
        outside: flags & 2 == 2,
        dirs,
        changesets: r.bytes()?,
    };
    if touch.dirs().any(|d| d as usize >= dirs_known) {
        return None;
    }
    let mut names = Reader {
        bytes: touch.changesets,
    };
    while !names.bytes.is_empty() {
        std::str::from_utf8(names.bytes()?).ok()?;
    }
    Some((id, touch))
}

fn decode(bytes: Vec<u8>) -> Option<Cache> {
    let total = bytes.len();
    let rest = bytes.strip_prefix(MAGIC.as_slice())?;
    let mut r = Reader { bytes: rest };
    if r.u32()? != FORMAT {
        return None;
    }
    let length = usize::try_from(r.u64()?).ok()?;
    let sum = r.u32()?;
    if !checked(r.bytes, length, sum) {
        return None;
    }
    // Offsets are from the start of the file: `r` always reads to its end.
    let file_at = |r: &Reader<'_>| total - r.bytes.len();
    let end = file_at(&r) + length;
    let mut cache = Cache::default();
    cache
        .commits_in_file
        .push(index_commits(&mut r, file_at, &mut cache.commits)?);
    let dirs = r.u32()? as usize;
    if dirs > r.bytes.len() / 4 {
        return None;
    }
    cache.layout = (0..dirs).map(|_| r.string()).collect::<Option<_>>()?;
    let touched = index_touched(&mut r, file_at, cache.layout.len(), &mut cache.touched)?;
    cache.touched_in_file.push(touched);
    read_outcomes(&mut r, &mut cache.outcomes)?;
    if file_at(&r) != end {
        return None;
    }
    let sum = layout_sum(&cache.layout);
    let mut appendices = 0;
    let mut whole = true;
    while !r.bytes.is_empty() {
        // An appendix cut short or damaged ends the file: a write that did not finish.
        let Some(payload) = appendix_payload(&mut r) else {
            whole = false;
            break;
        };
        let mut a = Reader { bytes: payload };
        let payload_end = file_at(&r);
        let offset_end = |a: &Reader<'_>| payload_end - a.bytes.len();
        let same_layout = a.u32()? == sum;
        let commits = index_commits(&mut a, offset_end, &mut cache.commits)?;
        cache.commits_in_file.push(commits);
        if same_layout {
            let touched =
                index_touched(&mut a, offset_end, cache.layout.len(), &mut cache.touched)?;
            cache.touched_in_file.push(touched);
        } else {
            let n = usize::try_from(a.u64()?).ok()?;
            a.take(n)?;
        }
        read_outcomes(&mut a, &mut cache.outcomes)?;
        if !a.bytes.is_empty() {
            return None;
        }
        appendices += 1;
    }
    cache.appendable = whole && appendices < MAX_APPENDICES;
    cache.file = bytes;
    Some(cache)
}

/// Whether the first `length` bytes of `bytes` are there and sum to `sum`.
fn checked(bytes: &[u8], length: usize, sum: u32) -> bool {
    let Some(body) = bytes.get(..length) else {
        return false;
    };
    let mut crc = flate2::Crc::new();
    crc.update(body);
    crc.sum() == sum
}

/// The next appendix's payload, checked; `None` when it is not whole.
fn appendix_payload<'a>(r: &mut Reader<'a>) -> Option<&'a [u8]> {
    if r.take(APPENDIX.len())? != APPENDIX {
        return None;
    }
    let length = usize::try_from(r.u64()?).ok()?;
    let sum = r.u32()?;
    if !checked(r.bytes, length, sum) {
        return None;
    }
    r.take(length)
}

/// Indexes the section of entries `r` starts with, each read by `entry` (which gives its id) and
/// about `entry_bytes` long; `at` says where in the file a reader is. Where the entries are in the
/// file.
fn index_section(
    r: &mut Reader<'_>,
    at: impl Fn(&Reader<'_>) -> usize,
    entry_bytes: usize,
    entry: impl Fn(&mut Reader<'_>) -> Option<ObjectId>,
    index: &mut HashMap<ObjectId, Slot>,
) -> Option<std::ops::Range<usize>> {
    let n = usize::try_from(r.u64()?).ok()?;
    let from = at(r);
    let mut entries = Reader { bytes: r.take(n)? };
    index.reserve(n / entry_bytes);
    while !entries.bytes.is_empty() {
        let slot = Slot::File(offset(from + n - entries.bytes.len()));
        index.insert(entry(&mut entries)?, slot);
    }
    Some(from..from + n)
}

/// [`index_section`] for commit entries: about 60 bytes and a message each.
fn index_commits(
    r: &mut Reader<'_>,
    at: impl Fn(&Reader<'_>) -> usize,
    commits: &mut HashMap<ObjectId, Slot>,
) -> Option<std::ops::Range<usize>> {
    index_section(r, at, 80, |e| read_commit(e).map(|(id, _)| id), commits)
}

/// [`index_section`] for touched entries, whose directories index a layout of `dirs_known`.
fn index_touched(
    r: &mut Reader<'_>,
    at: impl Fn(&Reader<'_>) -> usize,
    dirs_known: usize,
    touched: &mut HashMap<ObjectId, Slot>,
) -> Option<std::ops::Range<usize>> {
    let entry = |e: &mut Reader<'_>| read_touch(e, dirs_known).map(|(id, _)| id);
    index_section(r, at, 30, entry, touched)
}

fn read_outcomes(r: &mut Reader<'_>, outcomes: &mut BTreeMap<String, Outcome>) -> Option<()> {
    let n = r.u32()? as usize;
    if n > r.bytes.len() / 25 {
        return None;
    }
    for _ in 0..n {
        let key = r.string()?;
        let head = r.id()?;
        let found = match r.u8()? {
            0 => Versioned::AtTag,
            1 => Versioned::Nowhere,
            2 => Versioned::At(r.id()?),
            _ => return None,
        };
        outcomes.insert(key, Outcome { head, found });
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> ObjectId {
        ObjectId::from_bytes_or_panic(&[n; 20])
    }

    fn sample(dir: &Path) -> Cache {
        let mut cache = Cache::load(dir, &["b".into(), "a".into(), "a".into()]);
        cache.insert_commit(id(1), id(2), &[id(3), id(4)], b"feat(a): x\n\nbody\n");
        cache.insert_touched(id(1), Some(id(5)), true, &[1], &["brave-cats".into()]);
        cache.set_outcome(
            "key".into(),
            Outcome {
                head: id(1),
                found: Versioned::At(id(3)),
            },
        );
        cache
    }

    fn commit_of(cache: &mut Cache, n: u8) -> Option<(ObjectId, Vec<ObjectId>, Vec<u8>)> {
        cache
            .commit(&id(n))
            .map(|c| (c.tree, c.parents().collect(), c.message.to_vec()))
    }

    /// Parent tree, outside, dirs, changesets.
    type Touch = (Option<ObjectId>, bool, Vec<u32>, Vec<String>);

    fn touch_of(cache: &Cache, n: u8) -> Option<Touch> {
        cache.touched(&id(n)).map(|t| {
            (
                t.parent_tree,
                t.outside,
                t.dirs().collect(),
                t.changesets().map(str::to_owned).collect(),
            )
        })
    }

    #[test]
    fn round_trips_and_keeps_commits_across_layouts() {
        let dir = tempfile::tempdir().unwrap();
        let mut cache = sample(dir.path());
        assert_eq!(cache.layout(), ["a", "b"]);
        cache.save().unwrap();
        let mut again = Cache::load(dir.path(), &["a".into(), "b".into()]);
        let expected = Some((id(2), vec![id(3), id(4)], b"feat(a): x\n\nbody\n".to_vec()));
        assert_eq!(commit_of(&mut again, 1), expected);
        assert_eq!(commit_of(&mut cache, 1), expected);
        assert_eq!(
            touch_of(&again, 1),
            Some((Some(id(5)), true, vec![1], vec!["brave-cats".to_owned()]))
        );
        assert_eq!(again.outcome("key"), cache.outcome("key"));
        // Added to a loaded cache, saved again: both there.
        again.insert_commit(id(7), id(8), &[], b"");
        again.save().unwrap();
        let mut third = Cache::load(dir.path(), &["a".into(), "b".into()]);
        assert_eq!(commit_of(&mut third, 1), expected);
        assert_eq!(commit_of(&mut third, 7), Some((id(8), vec![], vec![])));
        assert_eq!(third.hits(), 2);
        // Another layout: the commits stay, what they touched goes.
        let mut moved = Cache::load(dir.path(), &["a".into(), "c".into()]);
        assert!(commit_of(&mut moved, 1).is_some());
        assert!(touch_of(&moved, 1).is_none());
    }

    #[test]
    fn anything_damaged_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        sample(dir.path()).save().unwrap();
        let path = dir.path().join("polyship/history-cache");
        let good = std::fs::read(&path).unwrap();
        let layout = ["a".to_owned(), "b".to_owned()];
        let flipped = |at: usize| {
            let mut b = good.clone();
            b[at] ^= 1;
            b
        };
        for damaged in [
            good[..good.len() - 1].to_vec(),
            good[..30].to_vec(),
            flipped(good.len() - 1),
            flipped(0),
            flipped(MAGIC.len()),
            Vec::new(),
        ] {
            std::fs::write(&path, &damaged).unwrap();
            let mut cache = Cache::load(dir.path(), &layout);
            assert!(commit_of(&mut cache, 1).is_none());
            assert!(cache.enabled());
        }
        // Lengths larger than the file are refused before anything is allocated.
        let mut huge = MAGIC.to_vec();
        put_u32(&mut huge, FORMAT);
        let body = u64::MAX.to_le_bytes();
        let mut crc = flate2::Crc::new();
        crc.update(&body);
        put_u32(&mut huge, crc.sum());
        huge.extend_from_slice(&body);
        assert!(decode(huge).is_none());
    }

    /// The sample saved under `dir`: the file's path and the sample's layout.
    fn saved_sample(dir: &Path) -> (PathBuf, [String; 2]) {
        sample(dir).save().unwrap();
        (
            dir.join("polyship/history-cache"),
            ["a".to_owned(), "b".to_owned()],
        )
    }

    fn appendices_in(path: &Path) -> usize {
        let bytes = std::fs::read(path).unwrap();
        bytes
            .windows(APPENDIX.len())
            .filter(|w| w == APPENDIX)
            .count()
    }

    #[test]
    fn runs_append_what_they_learnt_and_a_damaged_tail_is_written_over() {
        let dir = tempfile::tempdir().unwrap();
        let (path, layout) = saved_sample(dir.path());
        let base = std::fs::metadata(&path).unwrap().len();
        // Two runs loaded the same file; each appends, and neither loses the other's entries.
        let mut first = Cache::load(dir.path(), &layout);
        let mut second = Cache::load(dir.path(), &layout);
        first.insert_commit(id(10), id(2), &[id(1)], b"fix(a): y");
        first.insert_touched(id(10), Some(id(2)), false, &[0], &[]);
        second.insert_commit(id(11), id(2), &[id(1)], b"fix(b): z");
        first.save().unwrap();
        second.save().unwrap();
        assert_eq!(appendices_in(&path), 2);
        // Only what the runs added: two commits, one touched entry, and the appendices framing them.
        assert!(std::fs::metadata(&path).unwrap().len() < base + 400);
        let mut both = Cache::load(dir.path(), &layout);
        assert!(commit_of(&mut both, 1).is_some());
        assert_eq!(commit_of(&mut both, 10).unwrap().2, b"fix(a): y");
        assert_eq!(commit_of(&mut both, 11).unwrap().2, b"fix(b): z");
        assert_eq!(
            touch_of(&both, 10),
            Some((Some(id(2)), false, vec![0], vec![]))
        );
        assert!(touch_of(&both, 1).is_some());

        // A write cut short: what came before it is read, and the next save writes the file anew.
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        file.write_all(b"appendix\x40\0\0\0\0\0\0\0cut").unwrap();
        drop(file);
        let mut cut = Cache::load(dir.path(), &layout);
        assert!(commit_of(&mut cut, 11).is_some());
        cut.insert_commit(id(12), id(2), &[], b"");
        cut.save().unwrap();
        assert_eq!(appendices_in(&path), 0);
        let mut whole = Cache::load(dir.path(), &layout);
        for n in [1, 10, 11, 12] {
            assert!(commit_of(&mut whole, n).is_some(), "commit {n}");
        }
        assert!(whole.appendable);
    }

    #[test]
    fn an_appendix_for_another_layout_keeps_its_commits_only() {
        let dir = tempfile::tempdir().unwrap();
        sample(dir.path()).save().unwrap();
        let old = ["a".to_owned(), "b".to_owned()];
        let new = ["a".to_owned(), "c".to_owned()];
        let mut late = Cache::load(dir.path(), &old);
        // Meanwhile another run, with a package moved, writes the file anew for its layout.
        let mut moved = Cache::load(dir.path(), &new);
        moved.insert_touched(id(1), Some(id(5)), false, &[1], &[]);
        moved.save().unwrap();
        // The late run appends for the layout it read.
        late.insert_commit(id(20), id(2), &[], b"feat: late");
        late.insert_touched(id(20), None, false, &[1], &[]);
        late.save().unwrap();
        let mut now = Cache::load(dir.path(), &new);
        assert!(commit_of(&mut now, 20).is_some());
        assert!(touch_of(&now, 20).is_none());
        assert_eq!(
            touch_of(&now, 1),
            Some((Some(id(5)), false, vec![1], vec![]))
        );
    }

    #[test]
    fn after_enough_appendices_the_file_is_written_whole() {
        let dir = tempfile::tempdir().unwrap();
        let (path, layout) = saved_sample(dir.path());
        for n in 0..=MAX_APPENDICES {
            let mut cache = Cache::load(dir.path(), &layout);
            let n = u8::try_from(n + 30).unwrap();
            cache.insert_commit(id(n), id(2), &[], b"");
            cache.save().unwrap();
        }
        assert_eq!(appendices_in(&path), 0);
        let mut cache = Cache::load(dir.path(), &layout);
        for n in 30..=30 + u8::try_from(MAX_APPENDICES).unwrap() {
            assert!(commit_of(&mut cache, n).is_some(), "commit {n}");
        }
    }

    #[test]
    fn disabled_keeps_and_writes_nothing() {
        let mut cache = Cache::disabled(&["a".into()]);
        cache.insert_commit(id(1), id(2), &[], b"");
        assert!(commit_of(&mut cache, 1).is_none());
        cache.save().unwrap();
    }
}
