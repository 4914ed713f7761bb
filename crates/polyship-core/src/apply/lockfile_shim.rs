//! Temporary stand-in until `lockfile` lands.
#![allow(dead_code, clippy::unnecessary_wraps)]
use crate::diagnostic::SourceError;
use crate::workspace::Ecosystem;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    CargoLock,
}
impl Kind {
    pub fn of(_file_name: &str) -> Option<Kind> {
        None
    }
}
pub struct Bumped<'a> {
    pub ecosystem: Ecosystem,
    pub name: &'a str,
    pub path: &'a str,
    pub from: &'a str,
    pub to: &'a str,
}
pub struct Requirement<'a> {
    pub ecosystem: Ecosystem,
    pub dependent_path: &'a str,
    pub field: &'a str,
    pub name: &'a str,
    pub from: &'a str,
    pub to: &'a str,
}
pub fn update(
    _kind: Kind,
    _file: &str,
    _text: &str,
    _bumped: &[Bumped],
    _requirements: &[Requirement],
) -> Result<Option<String>, SourceError> {
    Ok(None)
}
