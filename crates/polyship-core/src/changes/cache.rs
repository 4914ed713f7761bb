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
//! The file is a magic line, a format version, a CRC-32 of the rest and the three parts, written
//! to a temporary file and renamed into place: a reader sees a whole file or none, and concurrent
//! runs each write a whole file (the last rename wins). A file that is unreadable in any way —
//! other magic or version, wrong checksum, cut short — is ignored and rebuilt, never an error. It
//! is bounded: past [`MAX_BYTES`], nothing more is added.
//!
//! Entries are read in place from the file's bytes (an index of offsets, no allocation per
//! commit), and new ones are appended in the same encoding.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use gix::ObjectId;
use gix::hashtable::HashMap;

const MAGIC: &[u8; 24] = b"polyship history cache\n\0";
const FORMAT: u32 = 2;
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
    /// The file as read; `commits_in_file` and `touched_in_file` are where its sections are.
    file: Vec<u8>,
    commits_in_file: std::ops::Range<usize>,
    touched_in_file: std::ops::Range<usize>,
    added_commits: Vec<u8>,
    added_touched: Vec<u8>,
    commits: HashMap<ObjectId, Slot>,
    touched: HashMap<ObjectId, Slot>,
    /// The package directories `touched` was computed for, sorted.
    layout: Vec<String>,
    outcomes: BTreeMap<String, Outcome>,
    changed: bool,
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
            cache.touched_in_file = 0..0;
            cache.layout = layout;
        }
        cache.path = Some(path);
        cache
    }

    /// Whether this cache is used at all.
    pub fn enabled(&self) -> bool {
        self.path.is_some()
    }

    fn size(&self) -> usize {
        self.commits_in_file.len()
            + self.touched_in_file.len()
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
    fn section<'a>(body: &mut Vec<Cow<'a, [u8]>>, parts: [&'a [u8]; 2]) {
        let n: usize = parts.iter().map(|p| p.len()).sum();
        body.push(Cow::Owned((n as u64).to_le_bytes().to_vec()));
        for p in parts {
            body.push(Cow::Borrowed(p));
        }
    }
    let mut body: Vec<Cow<'_, [u8]>> = Vec::new();
    let in_file = |r: &std::ops::Range<usize>| &cache.file[r.clone()];
    section(
        &mut body,
        [in_file(&cache.commits_in_file), &cache.added_commits],
    );
    let mut small = Vec::new();
    put_u32(&mut small, len32(cache.layout.len()));
    for dir in &cache.layout {
        put_bytes(&mut small, dir.as_bytes());
    }
    body.push(Cow::Owned(std::mem::take(&mut small)));
    section(
        &mut body,
        [in_file(&cache.touched_in_file), &cache.added_touched],
    );
    put_u32(&mut small, len32(cache.outcomes.len()));
    for (key, o) in &cache.outcomes {
        put_bytes(&mut small, key.as_bytes());
        small.extend_from_slice(o.head.as_bytes());
        match o.found {
            Versioned::AtTag => small.push(0),
            Versioned::Nowhere => small.push(1),
            Versioned::At(id) => {
                small.push(2);
                small.extend_from_slice(id.as_bytes());
            }
        }
    }
    body.push(Cow::Owned(small));
    let mut crc = flate2::Crc::new();
    for part in &body {
        crc.update(part);
    }
    let mut header = Vec::with_capacity(32);
    header.extend_from_slice(MAGIC);
    put_u32(&mut header, FORMAT);
    put_u32(&mut header, crc.sum());
    let mut out = vec![Cow::Owned(header)];
    out.extend(body);
    out
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
    let start = bytes.len();
    let rest = bytes.strip_prefix(MAGIC.as_slice())?;
    let mut r = Reader { bytes: rest };
    if r.u32()? != FORMAT {
        return None;
    }
    let sum = r.u32()?;
    let mut crc = flate2::Crc::new();
    crc.update(r.bytes);
    if crc.sum() != sum {
        return None;
    }
    // Offsets are from the start of the file.
    let at = |r: &Reader<'_>| start - r.bytes.len();
    let mut cache = Cache::default();
    let n = usize::try_from(r.u64()?).ok()?;
    let from = at(&r);
    let mut entries = Reader { bytes: r.take(n)? };
    let here = |e: &Reader<'_>| from + n - e.bytes.len();
    // A commit entry is about 60 bytes and a message.
    cache.commits.reserve(n / 80);
    while !entries.bytes.is_empty() {
        let slot = Slot::File(offset(here(&entries)));
        let (id, _) = read_commit(&mut entries)?;
        cache.commits.insert(id, slot);
    }
    cache.commits_in_file = from..from + n;
    let dirs = r.u32()? as usize;
    if dirs > r.bytes.len() / 4 {
        return None;
    }
    cache.layout = (0..dirs).map(|_| r.string()).collect::<Option<_>>()?;
    let n = usize::try_from(r.u64()?).ok()?;
    let from = at(&r);
    let mut entries = Reader { bytes: r.take(n)? };
    let here = |e: &Reader<'_>| from + n - e.bytes.len();
    cache.touched.reserve(n / 30);
    while !entries.bytes.is_empty() {
        let slot = Slot::File(offset(here(&entries)));
        let (id, _) = read_touch(&mut entries, cache.layout.len())?;
        cache.touched.insert(id, slot);
    }
    cache.touched_in_file = from..from + n;
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
        cache.outcomes.insert(key, Outcome { head, found });
    }
    if !r.bytes.is_empty() {
        return None;
    }
    cache.file = bytes;
    Some(cache)
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

    #[test]
    fn disabled_keeps_and_writes_nothing() {
        let mut cache = Cache::disabled(&["a".into()]);
        cache.insert_commit(id(1), id(2), &[], b"");
        assert!(commit_of(&mut cache, 1).is_none());
        cache.save().unwrap();
    }
}
