//! Stage 5: releasing — what registries already hold, publishing with the native tools in
//! dependency order, tags, pushes and forge releases, each step journaled so a rerun finishes what
//! a failed run left.

pub mod forge;
pub mod git;
pub mod journal;
pub mod preflight;
pub mod publish;
pub mod redact;
pub mod registry;
pub mod tools;
