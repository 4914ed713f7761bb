//! Lockfile updates for a release (being written).
