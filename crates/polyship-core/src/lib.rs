//! polyship's library: everything that is not terminal I/O.
//!
//! The stages of a release are functions from one plain value to the next:
//!
//! 1. [`workspace::discover`]: a repository → a [`workspace::Workspace`], each ecosystem's
//!    packages found by its adapter ([`ecosystem`]);
//! 2. [`changes::collect`]: changesets and Conventional Commits since each package's last release;
//! 3. [`plan::plan`]: which packages release, from which version to which, and why;
//! 4. [`apply::edits`] and [`transaction::apply`]: manifests, requirements, lockfiles and
//!    changelogs, written all or nothing;
//! 5. [`release::publish`]: the release steps, from [`release::publish::preflight`] to
//!    `finish`.
//!
//! Nothing in this crate prints, exits or reads global state; the binary renders what it returns,
//! warnings included.

// A function of more than a hundred lines is steps that want names (tests are exempt: the
// workspace allows it, and integration tests are crates of their own).
#![warn(clippy::too_many_lines)]

pub mod apply;
pub mod artifacts;
pub mod changes;
pub mod ci;
pub mod config;
pub mod diagnostic;
pub mod ecosystem;
pub mod fsutil;
pub mod json;
pub mod pipeline;
pub mod plan;
pub mod release;
pub mod select;
pub mod transaction;
pub mod version;
pub mod workspace;

pub use diagnostic::{SourceError, Warning};
