//! `lerna.json`, as lerna 6–8 reads it: the version line (fixed or `"independent"`) and the
//! options of `lerna version` that decide what a release is.
//!
//! lerna looks an option up in `command.version`, then `command.publish` (the two commands share
//! their options), then the top level of the file; polyship does the same. Options that only change
//! how lerna runs (`npmClient`, `useNx`, `loglevel`, …) are accepted and unused; an unknown key is a
//! warning, never an error, so a repository that lerna accepts is accepted here.

use std::path::Path;

use serde_json::{Map, Value};

use crate::diagnostic::{Position, SourceError, Warning};
use crate::json;

/// The file name, at the repository root.
pub const FILE: &str = "lerna.json";

/// How lerna versions the packages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// One version line (`"version": "21.2.2"`): only changed packages and their dependents
    /// release, all at the line's next version.
    Fixed(String),
    /// `"version": "independent"`: each package on its own line, tagged `name@version`.
    Independent,
}

/// What polyship reads from `lerna.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LernaConfig {
    pub mode: Mode,
    /// 1-based line of `version`, for messages.
    pub version_line: usize,
    /// `--conventional-commits`: bumps from Conventional Commits instead of a prompt.
    pub conventional_commits: bool,
    /// Branches `lerna version` may run on (globs).
    pub allow_branch: Vec<String>,
    /// Globs of files whose changes do not make a package changed.
    pub ignore_changes: Vec<String>,
    /// The release commit's message; `%s` is the tag, `%v` the version.
    pub message: Option<String>,
    /// The fixed-mode tag prefix (default `v`).
    pub tag_version_prefix: String,
    /// The independent-mode separator between name and version (default `@`).
    pub tag_version_separator: String,
    /// Dependents require the exact new version instead of `^` it.
    pub exact: bool,
    /// `false` leaves private packages out entirely.
    pub private: bool,
    /// Packages always released (`*` for all).
    pub force_publish: Vec<String>,
    /// The conventional-changelog preset (default angular).
    pub changelog_preset: Option<String>,
}

/// Options polyship uses, by their lerna names.
const USED: [&str; 11] = [
    "conventionalCommits",
    "allowBranch",
    "ignoreChanges",
    "message",
    "tagVersionPrefix",
    "tagVersionSeparator",
    "exact",
    "private",
    "forcePublish",
    "changelogPreset",
    "version",
];

/// Options lerna knows that do not change what a release is.
const ACCEPTED: [&str; 52] = [
    "$schema",
    "packages",
    "npmClient",
    "npmClientArgs",
    "useNx",
    "useWorkspaces",
    "loglevel",
    "command",
    "concurrency",
    "granularPathspec",
    "createRelease",
    "push",
    "gitRemote",
    "gitTagVersion",
    "signGitCommit",
    "signGitTag",
    "signoffGitCommit",
    "forceGitTag",
    "commitHooks",
    "amend",
    "changelog",
    "changelogEntryAdditionalMarkdown",
    "conventionalPrerelease",
    "conventionalGraduate",
    "conventionalBumpPrerelease",
    "forceConventionalGraduate",
    "preid",
    "buildMetadata",
    "includeMergedTags",
    "noPrivate",
    "yes",
    "registry",
    "distTag",
    "tempTag",
    "contents",
    "legacyAuth",
    "otp",
    "ignoreScripts",
    "ignorePrepublish",
    "graphType",
    "verifyAccess",
    "noVerifyAccess",
    "preDistTag",
    "requireScripts",
    "summaryFile",
    "syncWorkspaceLock",
    "syncDistVersion",
    "premajorVersionBump",
    "runScriptsOnLockfileUpdate",
    "npmClientVersion",
    "rejectCycles",
    "stream",
];

/// Reads `lerna.json` under `root`; `None` when there is none.
pub fn read(root: &Path, warnings: &mut Vec<Warning>) -> Result<Option<LernaConfig>, SourceError> {
    let text = match std::fs::read_to_string(root.join(FILE)) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(SourceError::new(FILE, format!("cannot be read: {e}")).help(
                "make the file readable, or remove it if the repository no longer uses lerna",
            ));
        }
    };
    parse(&text, warnings).map(Some)
}

/// Parses the text of a `lerna.json`.
pub fn parse(text: &str, warnings: &mut Vec<Warning>) -> Result<LernaConfig, SourceError> {
    let body = text.trim_start_matches('\u{feff}');
    let value: Value = crate::json::bounded_from_str(body).map_err(|e| {
        SourceError::new(
            FILE,
            e.to_string()
                .rsplit_once(" at line ")
                .map_or(e.to_string(), |(m, _)| m.to_owned()),
        )
        .at_position(Some(Position::line_col(text, e.line(), e.column())))
        .help("fix the JSON syntax at this position")
    })?;
    let Value::Object(root) = value else {
        return Err(
            SourceError::new(FILE, "the top level must be a JSON object")
                .at(text, 0)
                .help("write `{ \"version\": \"1.0.0\" }`"),
        );
    };
    let command = |name: &str| -> Option<&Map<String, Value>> {
        root.get("command")
            .and_then(|c| c.get(name))
            .and_then(Value::as_object)
    };
    let options = Options {
        text,
        root: &root,
        version_cmd: command("version"),
        publish_cmd: command("publish"),
    };
    let version_span = json::value_span(text, &["version"]);
    let config = LernaConfig {
        mode: mode(text, &root)?,
        version_line: version_span.map_or(1, |s| Position::at(text, s.start).line),
        conventional_commits: options.boolean("conventionalCommits", false)?,
        allow_branch: options.globs("allowBranch")?,
        ignore_changes: options.globs("ignoreChanges")?,
        message: options.string("message")?,
        tag_version_prefix: options
            .string("tagVersionPrefix")?
            .unwrap_or_else(|| "v".to_owned()),
        tag_version_separator: options
            .string("tagVersionSeparator")?
            .unwrap_or_else(|| "@".to_owned()),
        exact: options.boolean("exact", false)?,
        private: options.boolean("private", true)?,
        force_publish: options.globs("forcePublish")?,
        changelog_preset: match options.lookup("changelogPreset") {
            Some((_, Value::Object(o))) => o.get("name").and_then(Value::as_str).map(str::to_owned),
            _ => options.string("changelogPreset")?,
        },
    };
    unknown_keys(
        text,
        &root,
        options.version_cmd,
        options.publish_cmd,
        warnings,
    );
    Ok(config)
}

/// An error at the value `path` names, or the nearest key above it.
fn error_at(text: &str, path: &[&str], message: String, help: &str) -> SourceError {
    SourceError::new(FILE, message)
        .at(text, json::nearest_span(text, path).start)
        .help(help.to_owned())
}

/// The options of `lerna.json`, looked up as lerna does: `command.version`, `command.publish`,
/// then the top level.
struct Options<'a> {
    text: &'a str,
    root: &'a Map<String, Value>,
    version_cmd: Option<&'a Map<String, Value>>,
    publish_cmd: Option<&'a Map<String, Value>>,
}

impl<'a> Options<'a> {
    fn lookup(&self, key: &'static str) -> Option<(Vec<&'static str>, &'a Value)> {
        if let Some(v) = self.version_cmd.and_then(|c| c.get(key)) {
            return Some((vec!["command", "version", key], v));
        }
        if let Some(v) = self.publish_cmd.and_then(|c| c.get(key)) {
            return Some((vec!["command", "publish", key], v));
        }
        self.root.get(key).map(|v| (vec![key], v))
    }

    fn boolean(&self, key: &'static str, default: bool) -> Result<bool, SourceError> {
        match self.lookup(key) {
            None | Some((_, Value::Null)) => Ok(default),
            Some((_, Value::Bool(b))) => Ok(*b),
            Some((path, _)) => Err(error_at(
                self.text,
                &path,
                format!("`{key}` must be `true` or `false`"),
                "write `true` or `false`",
            )),
        }
    }

    fn string(&self, key: &'static str) -> Result<Option<String>, SourceError> {
        match self.lookup(key) {
            None | Some((_, Value::Null)) => Ok(None),
            Some((_, Value::String(s))) => Ok(Some(s.clone())),
            Some((path, _)) => Err(error_at(
                self.text,
                &path,
                format!("`{key}` must be a string"),
                "write a quoted string",
            )),
        }
    }

    /// An option that takes one glob or a list of them.
    fn globs(&self, key: &'static str) -> Result<Vec<String>, SourceError> {
        let wrong = |path: &[&str]| {
            error_at(
                self.text,
                path,
                format!("`{key}` must be a string or an array of strings"),
                "write globs such as `[\"**/*.md\"]`",
            )
        };
        match self.lookup(key) {
            None | Some((_, Value::Null)) => Ok(Vec::new()),
            Some((_, Value::String(s))) => Ok(vec![s.clone()]),
            Some((_, Value::Bool(true))) if key == "forcePublish" => Ok(vec!["*".to_owned()]),
            Some((_, Value::Bool(false))) if key == "forcePublish" => Ok(Vec::new()),
            Some((path, Value::Array(items))) => items
                .iter()
                .map(|i| i.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| wrong(&path)),
            Some((path, _)) => Err(wrong(&path)),
        }
    }
}

/// `version`: a fixed version line, or `independent`.
fn mode(text: &str, root: &Map<String, Value>) -> Result<Mode, SourceError> {
    let help = "write the fixed version line such as `\"1.2.0\"`, or `\"independent\"`";
    match root.get("version") {
        Some(Value::String(v)) if v == "independent" => Ok(Mode::Independent),
        Some(Value::String(v)) if semver::Version::parse(v).is_ok() => Ok(Mode::Fixed(v.clone())),
        Some(Value::String(v)) => Err(error_at(
            text,
            &["version"],
            format!(
                "`version` is `{}`, which is neither a SemVer version nor `independent`",
                crate::diagnostic::clip(v)
            ),
            help,
        )),
        Some(_) => Err(error_at(
            text,
            &["version"],
            "`version` must be a string".to_owned(),
            help,
        )),
        None => Err(SourceError::new(FILE, "there is no `version`")
            .at(text, 0)
            .help("add `\"version\": \"independent\"` or the fixed version line, such as `\"version\": \"1.0.0\"`")),
    }
}

fn unknown_keys(
    text: &str,
    root: &Map<String, Value>,
    version_cmd: Option<&Map<String, Value>>,
    publish_cmd: Option<&Map<String, Value>>,
    warnings: &mut Vec<Warning>,
) {
    let known = |k: &str| USED.contains(&k) || ACCEPTED.contains(&k);
    let mut report = |path: Vec<&str>| {
        let key = path.join(".");
        warnings.push(
            Warning::new(format!(
                "`{FILE}` has a key polyship does not know: `{key}`"
            ))
            .in_file(
                FILE,
                Some(Position::at(text, json::nearest_span(text, &path).start)),
            )
            .help("it is ignored; check its spelling against the lerna documentation"),
        );
    };
    for key in root.keys().filter(|k| !known(k)) {
        report(vec![key.as_str()]);
    }
    for (name, map) in [("version", version_cmd), ("publish", publish_cmd)] {
        for key in map.into_iter().flat_map(Map::keys).filter(|k| !known(k)) {
            report(vec!["command", name, key.as_str()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_mode_with_command_options() {
        let text = r#"{
  "$schema": "node_modules/lerna/schemas/lerna-schema.json",
  "npmClient": "pnpm",
  "version": "21.2.2",
  "ignoreChanges": "**/*.md",
  "command": {
    "publish": { "conventionalCommits": true, "message": "chore(release): %s" },
    "version": { "allowBranch": ["main", "release/*"], "exact": true, "colour": 1 }
  }
}"#;
        let mut warnings = Vec::new();
        let c = parse(text, &mut warnings).unwrap();
        assert_eq!(c.mode, Mode::Fixed("21.2.2".into()));
        assert_eq!(c.version_line, 4);
        assert!(c.conventional_commits && c.exact && c.private);
        assert_eq!(c.allow_branch, ["main", "release/*"]);
        assert_eq!(c.ignore_changes, ["**/*.md"]);
        assert_eq!(c.message.as_deref(), Some("chore(release): %s"));
        assert_eq!(c.tag_version_prefix, "v");
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].message.contains("command.version.colour"));
    }

    #[test]
    fn version_command_wins_over_publish_and_top_level() {
        let text = r#"{"version":"independent","exact":false,
            "command":{"publish":{"exact":true},"version":{"exact":false}}}"#;
        let c = parse(text, &mut Vec::new()).unwrap();
        assert_eq!(c.mode, Mode::Independent);
        assert!(!c.exact);
        let c = parse(
            r#"{"version":"1.0.0","forcePublish":true}"#,
            &mut Vec::new(),
        )
        .unwrap();
        assert_eq!(c.force_publish, ["*"]);
    }

    #[test]
    fn bad_input_names_the_line() {
        let err = parse("{\n  \"version\": \"1.0\"\n}", &mut Vec::new()).unwrap_err();
        assert_eq!(err.position.unwrap().line, 2);
        assert!(err.message.contains("`1.0`"), "{}", err.message);
        let err = parse(
            "{\n  \"version\": \"1.0.0\",\n  \"exact\": \"yes\"\n}",
            &mut Vec::new(),
        )
        .unwrap_err();
        assert_eq!(err.position.unwrap().line, 3);
        let err = parse("{\n  \"version\": \"1.0.0\",\n}", &mut Vec::new()).unwrap_err();
        let pos = err.position.unwrap();
        assert_eq!((pos.line, pos.column), (3, 1));
    }
}
