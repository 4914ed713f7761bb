//! Which package directories each commit's change reaches, computed by git itself: `git diff-tree
//! --stdin -r --raw -z --no-renames --always`, fed `<commit> <first parent>` lines (or, where the
//! parent is not known, `<empty tree> <tree>`), a process per core over contiguous slices of the
//! history, each slice cut into runs of at most [`PER_PROCESS`] commits: git keeps what it parsed
//! until it exits, and a tree-pair line keeps both trees — two gigabytes for 50,000 commits of a
//! flat workspace, against a tenth of that for commit lines.
//!
//! This is what a cold read of a long history costs most: one tree comparison per commit. git does
//! it at git's speed — its delta-base cache, its tree walk — and several processes do it at once;
//! polyship only maps each changed path to the package whose directory holds it (the longest
//! package directory above it, else the root package, else "outside every package"). The answer is
//! the one [`super::history`]'s own comparison gives, which handles short ranges (no process to
//! start) and is the fallback when git cannot run.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use gix::ObjectId;

/// What one comparison found, by layout directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    /// Indices into the layout's (sorted) directories.
    pub dirs: Vec<u32>,
    /// A file outside every package directory changed.
    pub outside: bool,
    /// Changesets whose files it adds (`.changeset/<id>.md`).
    pub changesets: Vec<String>,
}

/// Maps changed paths to the layout's directories.
pub struct Owners<'a> {
    index: HashMap<&'a str, u32>,
    root: Option<u32>,
}

impl<'a> Owners<'a> {
    pub fn new(layout: &'a [String]) -> Self {
        let index: HashMap<&str, u32> = layout
            .iter()
            .enumerate()
            .map(|(i, d)| {
                (
                    d.as_str(),
                    u32::try_from(i).expect("fewer than 2^32 packages"),
                )
            })
            .collect();
        let root = index.get(".").copied();
        Self { index, root }
    }

    /// The directory that owns `path` (a changed file, or a changed entry that is itself a package
    /// directory): the longest package directory it is in, else the root package's.
    fn owner(&self, path: &str) -> Option<u32> {
        if let Some(&d) = self.index.get(path) {
            return Some(d);
        }
        let mut end = path.len();
        while let Some(slash) = path[..end].rfind('/') {
            if let Some(&d) = self.index.get(&path[..slash]) {
                return Some(d);
            }
            end = slash;
        }
        self.root
    }

    fn record(&self, found: &mut Found, path: &str) {
        match self.owner(path) {
            Some(d) => found.dirs.push(d),
            None => found.outside = true,
        }
    }
}

/// The empty tree, compared with for root (and shallow) commits.
const EMPTY_TREE: &str = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

/// Commits one git process compares at most, which bounds its memory.
const PER_PROCESS: usize = 16_384;

/// One comparison to make.
#[derive(Debug, Clone, Copy)]
pub struct Pair {
    pub commit: ObjectId,
    /// The first parent, when its tree is known; `None`: compare `tree` with the empty tree (a
    /// root commit, a shallow one, the end of a walk).
    pub parent: Option<ObjectId>,
    pub tree: ObjectId,
}

impl Pair {
    /// The line git reads.
    fn line(&self) -> String {
        match self.parent {
            Some(parent) => format!("{} {parent}\n", self.commit),
            None => format!("{EMPTY_TREE} {}\n", self.tree),
        }
    }

    /// The header git answers the line with: the commit and a NUL, or the tree-pair line itself.
    fn header(&self) -> String {
        match self.parent {
            Some(_) => format!("{}\0", self.commit),
            None => self.line(),
        }
    }
}

/// Compares each pair with git, `processes` at a time. `Err` when git could not run or answered
/// something unexpected: the caller compares by itself instead.
pub fn touched(
    git_dir: &Path,
    pairs: &[Pair],
    owners: &Owners<'_>,
    processes: usize,
) -> Result<Vec<Found>, String> {
    let chunk = pairs.len().div_ceil(processes.max(1)).max(1);
    let parts: Vec<Result<Vec<Found>, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = pairs
            .chunks(chunk)
            .map(|slice| {
                scope.spawn(move || {
                    let mut out = Vec::with_capacity(slice.len());
                    for run in slice.chunks(PER_PROCESS) {
                        out.extend(one_process(git_dir, run, owners)?);
                    }
                    Ok(out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a git diff-tree thread panicked".into()))
            })
            .collect()
    });
    let mut out = Vec::with_capacity(pairs.len());
    for part in parts {
        out.extend(part?);
    }
    Ok(out)
}

fn one_process(git_dir: &Path, pairs: &[Pair], owners: &Owners<'_>) -> Result<Vec<Found>, String> {
    let mut child = Command::new("git")
        // Fully buffered output: into a pipe, git otherwise writes each commit's answer with a
        // system call of its own, and the reader wakes up for each — a fifth of the run.
        .env("GIT_FLUSH", "0")
        .arg("--git-dir")
        .arg(git_dir)
        .args([
            "diff-tree",
            "--stdin",
            "-r",
            "--raw",
            "-z",
            "--no-renames",
            "--always",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not run git diff-tree: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("no stdin for git diff-tree")?;
    let stdout = child.stdout.take().ok_or("no stdout for git diff-tree")?;
    let mut stderr = child.stderr.take().ok_or("no stderr for git diff-tree")?;
    let result = std::thread::scope(|scope| {
        // Fed from its own thread, so that neither pipe fills while the other waits.
        let feeder = scope.spawn(move || -> std::io::Result<()> {
            let mut input = Vec::with_capacity(pairs.len() * 82);
            for pair in pairs {
                input.write_all(pair.line().as_bytes())?;
            }
            stdin.write_all(&input)
        });
        let errors = scope.spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let mut out = BufReader::with_capacity(1 << 16, stdout);
        let parsed = parse(&mut out, pairs, owners).inspect_err(|_| {
            // The rest of the output is read even so: git, blocked on a full pipe, would never
            // read the rest of its input, and the feeder would wait for ever.
            let _ = std::io::copy(&mut out, &mut std::io::sink());
        });
        let fed = feeder.join().unwrap_or(Ok(()));
        let errors = errors.join().unwrap_or_default();
        (parsed, fed, errors)
    });
    let status = child
        .wait()
        .map_err(|e| format!("git diff-tree did not finish: {e}"))?;
    let (parsed, fed, errors) = result;
    if !status.success() {
        return Err(format!(
            "git diff-tree failed ({status}): {}",
            errors.trim()
        ));
    }
    fed.map_err(|e| format!("could not write to git diff-tree: {e}"))?;
    parsed
}

/// Reads one header per pair (`<commit>` and NUL, or the tree-pair line), each followed by its
/// `:`-records.
fn parse(mut out: impl BufRead, pairs: &[Pair], owners: &Owners<'_>) -> Result<Vec<Found>, String> {
    let unexpected = |what: &str| format!("git diff-tree printed something unexpected: {what}");
    let mut results = Vec::with_capacity(pairs.len());
    let mut field = Vec::new();
    let mut header = Vec::new();
    for pair in pairs {
        header.clear();
        let expected = pair.header();
        let end = if pair.parent.is_some() { 0 } else { b'\n' };
        out.read_until(end, &mut header)
            .map_err(|e| e.to_string())?;
        if header != expected.as_bytes() {
            return Err(unexpected(&String::from_utf8_lossy(&header)));
        }
        let mut found = Found::default();
        // Names under `.changeset/` that were something else before (a directory): not added.
        let mut replaced: Vec<String> = Vec::new();
        let mut added: Vec<String> = Vec::new();
        while out.fill_buf().map_err(|e| e.to_string())?.first() == Some(&b':') {
            field.clear();
            out.read_until(0, &mut field).map_err(|e| e.to_string())?;
            // `:<old mode> <new mode> <old id> <new id> <status>\0`
            let meta = field
                .strip_suffix(b"\0")
                .ok_or_else(|| unexpected("a cut record"))?;
            // With `-r`, entries are files, symbolic links and submodules, never trees.
            let status = *meta.last().ok_or_else(|| unexpected("an empty record"))?;
            field.clear();
            out.read_until(0, &mut field).map_err(|e| e.to_string())?;
            let path = field
                .strip_suffix(b"\0")
                .ok_or_else(|| unexpected("a cut path"))?;
            let path = String::from_utf8_lossy(path);
            owners.record(&mut found, &path);
            if let Some(rest) = path.strip_prefix(".changeset/") {
                match rest.split_once('/') {
                    Some((dir, _)) => replaced.push(dir.to_owned()),
                    None if status == b'A' => {
                        if let Some(id) = rest.strip_suffix(".md") {
                            added.push(id.to_owned());
                        }
                    }
                    None => {}
                }
            }
        }
        found.changesets.extend(
            added
                .into_iter()
                .filter(|id| !replaced.contains(&format!("{id}.md"))),
        );
        found.dirs.sort_unstable();
        found.dirs.dedup();
        results.push(found);
    }
    let mut rest = Vec::new();
    out.read_to_end(&mut rest).map_err(|e| e.to_string())?;
    if !rest.is_empty() {
        return Err(unexpected("more output than comparisons"));
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_go_to_the_longest_package_directory() {
        let layout: Vec<String> = ["packages/core", "packages/core/plugins/p", "tools"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let owners = Owners::new(&layout);
        assert_eq!(owners.owner("packages/core/src/a.ts"), Some(0));
        assert_eq!(owners.owner("packages/core/plugins/p/x.ts"), Some(1));
        assert_eq!(owners.owner("packages/core"), Some(0));
        assert_eq!(owners.owner("packages/core-extra/a.ts"), None);
        assert_eq!(owners.owner("README.md"), None);
        let with_root: Vec<String> = [".", "tools"].iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(Owners::new(&with_root).owner("README.md"), Some(0));
    }

    #[test]
    fn reads_what_git_prints() {
        let (a, b) = (
            ObjectId::from_hex(b"1111111111111111111111111111111111111111").unwrap(),
            ObjectId::from_hex(b"2222222222222222222222222222222222222222").unwrap(),
        );
        let layout: Vec<String> = vec!["packages/core".into()];
        let owners = Owners::new(&layout);
        let z = "0000000000000000000000000000000000000000";
        let out = format!(
            "{a}\0:000000 100644 {z} {z} A\0.changeset/brave-cats.md\0:100644 100644 {z} {z} M\0packages/core/src/a.ts\0{EMPTY_TREE} {b}\n{b}\0"
        );
        let pair = |commit, parent, tree| Pair {
            commit,
            parent,
            tree,
        };
        let found = parse(
            out.as_bytes(),
            &[pair(a, Some(b), a), pair(a, None, b), pair(b, Some(a), b)],
            &owners,
        )
        .unwrap();
        assert_eq!(
            found[0],
            Found {
                dirs: vec![0],
                outside: true,
                changesets: vec!["brave-cats".into()],
            }
        );
        assert_eq!(found[1], Found::default());
        assert_eq!(found[2], Found::default());
        assert!(parse(out.as_bytes(), &[pair(a, Some(b), a)], &owners).is_err());
        assert!(parse(&b"garbage\n"[..], &[pair(a, Some(b), a)], &owners).is_err());
    }
}
