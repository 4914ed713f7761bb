//! Changesets consumed by a release, and the prerelease state in `.changeset/pre.json`.
//!
//! Outside pre mode a release deletes the changesets it used. On a prerelease line they stay (the
//! final release needs them for its changelog) and `pre.json` lists them as released, in the
//! format changesets writes, so `changeset` and `polyship` agree on the state. Leaving the line
//! deletes them all and the state file.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{ApplyError, Files};
use crate::changes::Changes;
use crate::changes::changeset::resolve_name;
use crate::diagnostic::Warning;
use crate::workspace::Workspace;

/// The state file, as changesets names it.
pub const FILE: &str = ".changeset/pre.json";

/// What the release does to the prerelease line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// No prerelease line.
    Normal,
    /// Enter or continue the line with this label.
    Pre { label: String },
    /// Leave the line.
    Graduate,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PreFile<'a> {
    mode: &'a str,
    tag: &'a str,
    initial_versions: BTreeMap<String, String>,
    changesets: Vec<String>,
}

/// Deletes (or, when a filter leaves some of their packages out, trims) the changesets the release
/// uses and updates `pre.json`. `selected` is the filter's selection (`None`: every package).
pub fn consume(
    files: &mut Files,
    ws: &Workspace,
    changes: &Changes,
    selected: Option<&[bool]>,
    mode: &Mode,
) -> Result<Vec<Warning>, ApplyError> {
    let mut warnings = Vec::new();
    // Packages that never release keep their changesets pending, as changesets does.
    let frozen = crate::plan::frozen(ws, changes);
    let is_selected = |p: usize| selected.is_none_or(|s| s[p]) && !frozen[p];
    let mut released = Vec::new();
    for cs in &changes.changesets {
        let left_out = cs
            .releases
            .iter()
            .filter(|e| !is_selected(e.package))
            .count()
            + cs.skipped.len();
        let total = cs.releases.len() + cs.skipped.len();
        if left_out == total && total > 0 {
            warnings.push(Warning::new(format!(
                "`{}` names only packages this release leaves out; it stays pending",
                cs.file
            )));
            continue;
        }
        if matches!(mode, Mode::Pre { .. }) {
            released.push(cs.id.clone());
            continue;
        }
        if left_out == 0 {
            files.delete(&cs.file)?;
            continue;
        }
        // Keep the entries of the packages left out; the others are released now.
        let Some(text) = files.text(&cs.file)? else {
            continue;
        };
        let drop: Vec<usize> = cs
            .releases
            .iter()
            .filter(|e| is_selected(e.package))
            .map(|e| e.line)
            .collect();
        let kept: String = text
            .split_inclusive('\n')
            .enumerate()
            .filter(|(i, _)| !drop.contains(&(i + 1)))
            .map(|(_, l)| l)
            .collect();
        warnings.push(Warning::new(format!(
            "`{}` also names packages this release leaves out; their entries stay pending",
            cs.file
        )));
        files.set(&cs.file, kept)?;
    }
    match mode {
        Mode::Normal => {}
        Mode::Graduate => files.delete(FILE)?,
        Mode::Pre { label } => {
            let previous = changes.pre.as_ref();
            let mut initial = previous
                .map(|p| p.initial_versions.clone())
                .unwrap_or_default();
            for (i, p) in ws.packages.iter().enumerate() {
                let key = if resolve_name(ws, &p.name) == Ok(i) {
                    p.name.clone()
                } else {
                    p.id()
                };
                if let Some(v) = &p.version {
                    initial.entry(key).or_insert_with(|| v.clone());
                }
            }
            let mut ids: Vec<String> = previous.map(|p| p.changesets.clone()).unwrap_or_default();
            for id in released {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            let state = PreFile {
                mode: "pre",
                tag: label,
                initial_versions: initial,
                changesets: ids,
            };
            let mut text = serde_json::to_string_pretty(&state).unwrap_or_default();
            text.push('\n');
            files.set(FILE, text)?;
        }
    }
    Ok(warnings)
}
