//! Release pipelines: `[pipeline.<name>]` of `polyship.toml`, run by `polyship run <name>`.
//!
//! A pipeline is resolved ([`resolve::resolve`]: matrices expanded, templates rendered, `needs`
//! checked) into a [`Pipeline`], a plain value the dry run prints and the [`runner`] executes:
//! steps in parallel as their needs allow, each one's output redacted into its log under
//! `.git/polyship/runs/<id>/`, every state change journaled ([`journal`]) so that running the
//! pipeline again after a failure skips what already succeeded for the same commit and inputs.

use std::path::PathBuf;
use std::time::Duration;

pub mod builtin;
pub mod config;
pub mod container;
pub mod fanout;
pub mod journal;
pub mod notify;
pub mod resolve;
pub mod runner;

pub use builtin::Builtin;
pub use config::Engine;
pub use resolve::{Inputs, ResolveError, resolve};

/// A resolved pipeline.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub name: String,
    pub description: Option<String>,
    /// Variables that must be set before any step runs.
    pub secrets: Vec<String>,
    /// One entry per step and matrix cell, in the order they are written.
    pub steps: Vec<Step>,
    /// Indices of `steps`, each after what it needs.
    pub order: Vec<usize>,
}

/// One step, or one cell of a step's matrix.
#[derive(Debug, Clone)]
pub struct Step {
    /// `build`, or `build (x86_64-unknown-linux-gnu)` for a matrix cell.
    pub name: String,
    /// The name as declared, shared by a matrix's cells.
    pub declared: String,
    /// A matrix cell's values, axis by axis (scalars in their display form); empty outside a
    /// matrix.
    pub cell: Vec<(String, String)>,
    pub group: Option<String>,
    pub action: Action,
    /// Rendered environment: the pipeline's, then the step's.
    pub env: Vec<(String, String)>,
    /// The directory it runs in.
    pub dir: PathBuf,
    pub timeout: Option<Duration>,
    pub retries: u32,
    /// A cell of a `partial` matrix: its failure blocks nothing while another cell succeeds.
    pub partial: bool,
    pub container: Option<Container>,
    /// Files it must leave behind (globs relative to the repository root).
    pub outputs: Vec<String>,
    /// Indices of the steps it needs.
    pub needs: Vec<usize>,
    /// Its line in `polyship.toml`.
    pub line: usize,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `shell… command`.
    Run {
        shell: Vec<String>,
        command: String,
    },
    Builtin(Builtin),
}

/// Where a step runs when not on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub image: String,
    pub engine: Engine,
    pub volumes: Vec<String>,
    pub user: Option<String>,
}

impl Step {
    /// The `target` of its matrix cell: a step that fans out across CI runners.
    pub fn target(&self) -> Option<&str> {
        self.cell
            .iter()
            .find(|(axis, _)| axis == "target")
            .map(|(_, value)| value.as_str())
    }
}

impl Pipeline {
    /// The steps a `--skip`/`--only`/`--rerun`/`--from` name selects: a step (every cell of its
    /// matrix), one matrix cell by its full name, or a group. `None` when it names nothing.
    pub fn select(&self, name: &str) -> Option<Vec<usize>> {
        let found: Vec<usize> = (0..self.steps.len())
            .filter(|&i| {
                let s = &self.steps[i];
                s.name == name || s.declared == name || s.group.as_deref() == Some(name)
            })
            .collect();
        (!found.is_empty()).then_some(found)
    }

    /// Every step that needs one of `steps`, directly or not, and `steps` themselves.
    pub fn dependents_of(&self, steps: &[usize]) -> Vec<bool> {
        let mut marked = vec![false; self.steps.len()];
        for &i in steps {
            marked[i] = true;
        }
        for &i in &self.order {
            if self.steps[i].needs.iter().any(|&n| marked[n]) {
                marked[i] = true;
            }
        }
        marked
    }

    /// `steps` and everything they need, directly or not.
    pub fn needs_of(&self, steps: &[usize]) -> Vec<bool> {
        let mut marked = vec![false; self.steps.len()];
        for &i in steps {
            marked[i] = true;
        }
        for &i in self.order.iter().rev() {
            if marked[i] {
                for &n in &self.steps[i].needs {
                    marked[n] = true;
                }
            }
        }
        marked
    }

    /// The names every selection flag may take, for an error's help.
    pub fn selectable(&self) -> Vec<String> {
        let mut names: Vec<String> = self.steps.iter().map(|s| s.declared.clone()).collect();
        names.extend(self.steps.iter().filter_map(|s| s.group.clone()));
        names.sort();
        names.dedup();
        names
    }
}

/// `` `a`, `b` and `c` ``.
pub(crate) fn quoted_list<S: AsRef<str>>(items: &[S]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("`{}`", s.as_ref())).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}
