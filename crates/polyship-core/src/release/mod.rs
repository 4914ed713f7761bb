//! Stage 5: releasing — what registries already hold, publishing, tags and forge releases.
//!
//! Being built. So far: asking each registry whether a version is published ([`registry`]).

pub mod registry;
