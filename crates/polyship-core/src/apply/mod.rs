//! Stage 4: applying a plan to the files — format-preserving edits of manifests (and, as they are
//! built, lockfiles and changelogs), written all or nothing.

pub mod edit;
