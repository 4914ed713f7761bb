//! Stage 2: what must be released. Changeset files and Conventional Commits, attributed to packages.

pub mod changeset;
pub mod changesets_config;
pub mod conventional;
