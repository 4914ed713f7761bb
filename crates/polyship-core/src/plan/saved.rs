//! A plan saved to a file (`polyship plan --json`) to be applied elsewhere (`polyship version
//! --plan`): the plan with the commit it was made at and a fingerprint of every file it read, so
//! that applying it to a repository that moved on is an error, never a surprise.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Plan, Reason, Release};
use crate::changes::Change;
use crate::changes::changeset::Bump;
use crate::diagnostic::{Position, SourceError};
use crate::workspace::{Ecosystem, Workspace};

/// The file's schema this polyship writes and reads.
pub const SCHEMA: u32 = 1;

/// A plan as it is saved.
#[derive(Serialize)]
pub struct Document<'a> {
    pub schema: u32,
    /// HEAD when the plan was made.
    pub head: String,
    /// A digest of every manifest, changeset and configuration file the plan read.
    pub fingerprint: String,
    #[serde(flatten)]
    pub plan: &'a Plan,
}

impl<'a> Document<'a> {
    /// `plan`, made now in the repository at `root`.
    pub fn new(root: &Path, ws: &Workspace, plan: &'a Plan) -> Self {
        Self {
            schema: SCHEMA,
            head: head(root),
            fingerprint: fingerprint(root, ws),
            plan,
        }
    }
}

#[derive(Deserialize)]
struct SavedDocument {
    schema: u32,
    head: String,
    fingerprint: String,
    releases: Vec<SavedRelease>,
}

#[derive(Deserialize)]
struct SavedRelease {
    name: String,
    ecosystem: Ecosystem,
    from: String,
    to: String,
    bump: Bump,
    #[serde(default)]
    reasons: Vec<Reason>,
    #[serde(default)]
    changes: Vec<Change>,
}

/// Why a saved plan cannot be applied here.
#[derive(Debug, thiserror::Error)]
pub enum SavedPlanError {
    #[error(transparent)]
    Read(#[from] std::io::Error),
    #[error("the plan file cannot be read")]
    Unparsable(#[source] SourceError),
    #[error("`{file}` has schema {schema}; this polyship reads schema {SCHEMA}")]
    Schema { file: String, schema: u32 },
    #[error("`{file}` was planned at commit {}, but HEAD is now {}", short(.planned), short(.head))]
    Moved {
        file: String,
        planned: String,
        head: String,
    },
    #[error("manifests or changesets changed since `{file}` was planned")]
    Changed { file: String },
    #[error("`{file}` releases `{ecosystem}:{name}`, which the repository does not have")]
    Unknown {
        file: String,
        ecosystem: Ecosystem,
        name: String,
    },
    #[error("`{file}` releases `{name}` from {from}, but it is at {at}")]
    From {
        file: String,
        name: String,
        from: String,
        at: String,
    },
    #[error("`{file}` gives `{name}` the version `{to}`, which is not valid")]
    Invalid {
        file: String,
        name: String,
        to: String,
    },
}

impl SavedPlanError {
    /// How to go on: plan again (a file that cannot be read says where it is wrong).
    pub fn help(&self) -> Option<&'static str> {
        match self {
            Self::Read(_) | Self::Unparsable(_) => None,
            _ => Some("re-plan with `polyship plan --json > plan.json`, then apply that"),
        }
    }
}

/// Reads the plan saved in `file` and checks the repository at `root` is where it was planned:
/// the same HEAD, the same files, every package at the version the plan releases it from.
pub fn load(root: &Path, ws: &Workspace, file: &Path) -> Result<Plan, SavedPlanError> {
    let text = fs_err::read_to_string(file)?;
    let shown = file.display().to_string();
    let doc: SavedDocument = serde_json::from_str(&text).map_err(|e| {
        SavedPlanError::Unparsable(
            SourceError::new(&shown, e.to_string())
                .at_position(Some(Position::line_col(&text, e.line(), e.column())))
                .help("save a plan with `polyship plan --json > plan.json`"),
        )
    })?;
    if doc.schema != SCHEMA {
        return Err(SavedPlanError::Schema {
            file: shown,
            schema: doc.schema,
        });
    }
    let now = head(root);
    if doc.head != now {
        return Err(SavedPlanError::Moved {
            file: shown,
            planned: doc.head,
            head: now,
        });
    }
    if doc.fingerprint != fingerprint(root, ws) {
        return Err(SavedPlanError::Changed { file: shown });
    }
    let mut releases = Vec::new();
    for r in doc.releases {
        let Some(p) = ws.find(r.ecosystem, &r.name) else {
            return Err(SavedPlanError::Unknown {
                file: shown,
                ecosystem: r.ecosystem,
                name: r.name,
            });
        };
        let at = ws.packages[p].version.as_deref();
        if at.unwrap_or_default() != r.from {
            return Err(SavedPlanError::From {
                file: shown,
                name: r.name,
                from: r.from,
                at: at.unwrap_or("no version").to_owned(),
            });
        }
        if r.ecosystem.adapter().scheme().read_own(&r.to).is_none() {
            return Err(SavedPlanError::Invalid {
                file: shown,
                name: r.name,
                to: r.to,
            });
        }
        releases.push(Release {
            package: p,
            name: r.name,
            ecosystem: r.ecosystem,
            from: r.from,
            to: r.to,
            bump: r.bump,
            reasons: r.reasons,
            changes: r.changes,
        });
    }
    Ok(Plan {
        releases,
        warnings: Vec::new(),
    })
}

/// HEAD's commit id, empty outside git or before the first commit.
fn head(root: &Path) -> String {
    let redactor = crate::release::redact::Redactor::from_env();
    crate::release::git::head(root, &redactor).unwrap_or_default()
}

fn short(id: &str) -> &str {
    if id.is_empty() {
        "(none)"
    } else {
        &id[..id.len().min(10)]
    }
}

/// FNV-1a over the files a plan depends on: the configuration, every manifest and every file in
/// `.changeset/`, in path order. Stable across builds and machines.
pub fn fingerprint(root: &Path, ws: &Workspace) -> String {
    let mut files: std::collections::BTreeSet<String> = ws
        .packages
        .iter()
        .map(|p| p.manifest.clone())
        .chain(ws.packages.iter().flat_map(|p| {
            p.dependencies
                .iter()
                .map(|d| d.location.file.clone())
                .collect::<Vec<_>>()
        }))
        .collect();
    files.insert(crate::config::FILE_NAME.to_owned());
    if let Ok(entries) = std::fs::read_dir(root.join(".changeset")) {
        for e in entries.flatten() {
            files.insert(format!(".changeset/{}", e.file_name().to_string_lossy()));
        }
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for f in &files {
        feed(f.as_bytes());
        feed(&[0]);
        feed(&std::fs::read(root.join(f)).unwrap_or_default());
        feed(&[0]);
    }
    format!("{hash:016x}")
}
