//! `.changeset/config.json` and `.changeset/pre.json`, as the changesets tool writes them.
//!
//! polyship keeps what its later stages use (groups, ignore, the base branch, dependent-update
//! rules, pre mode) and accepts the rest — `changelog`, `commit`, `access`, `snapshot`, `prettier`
//! and so on — so an existing repository works unchanged. An unknown key is a warning, never a crash.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::diagnostic::{Position, SourceError, Warning};
use crate::json;

/// What polyship reads from `.changeset/config.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangesetsConfig {
    /// Groups released at one shared version (names or globs).
    pub fixed: Vec<Vec<String>>,
    /// Groups whose releasing members take the same bump.
    pub linked: Vec<Vec<String>>,
    /// Packages never released from changesets (names or globs).
    pub ignore: Vec<String>,
    pub base_branch: Option<String>,
    /// `patch` or `minor`: how far a dependency must move before dependents' ranges are updated.
    pub update_internal_dependencies: Option<String>,
    /// `always` or `out-of-range` (`___experimentalUnsafeOptions_WILL_CHANGE_IN_PATCH`).
    pub update_internal_dependents: Option<String>,
    pub only_update_peer_dependents_when_out_of_range: bool,
    /// The changesets CLI's major version ([`cli_major`]); 0 when not read.
    pub cli_major: u64,
    /// `privatePackages.version` (default true before changesets 3, false from 3 on) and `.tag`
    /// (default false); `privatePackages: false` is both.
    pub private_version: bool,
    pub private_tag: bool,
    pub access: Option<String>,
    /// `bumpVersionsWithWorkspaceProtocolOnly`: only `workspace:` requirements follow releases.
    pub workspace_protocol_only: bool,
    /// `changelog`: how changesets writes changelogs.
    pub changelog: ChangelogFormat,
}

/// The changelog generator `.changeset/config.json` names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ChangelogFormat {
    /// `@changesets/cli/changelog` (the default) or `@changesets/changelog-git`: `- abc1234: summary`.
    #[default]
    Git,
    /// `@changesets/changelog-github`: pull request, commit and author links.
    GitHub {
        /// Its `repo` option, `owner/name`.
        repo: Option<String>,
    },
    /// `false`: no changelogs.
    None,
    /// Another generator (a package of the repository's own): written as changelog-git does.
    Other(String),
}

/// Keys changesets defines that polyship accepts without using.
const ACCEPTED: [&str; 7] = [
    "$schema",
    "changelog",
    "commit",
    "snapshot",
    "prettier",
    "bumpVersionsWithWorkspaceProtocolOnly",
    "privatePackages",
];

const FILE: &str = ".changeset/config.json";
const EXPERIMENTAL: &str = "___experimentalUnsafeOptions_WILL_CHANGE_IN_PATCH";

/// Reads `.changeset/config.json` under `root`; `None` when there is none.
pub fn read(
    root: &Path,
    warnings: &mut Vec<Warning>,
) -> Result<Option<ChangesetsConfig>, SourceError> {
    let Ok(text) = std::fs::read_to_string(root.join(FILE)) else {
        return Ok(None);
    };
    parse(&text, cli_major(root), warnings).map(Some)
}

/// The major version of the changesets CLI the repository uses, where defaults differ between
/// them: the installed one (`node_modules/@changesets/cli`), else the lowest major the root
/// `package.json` asks for; 2 when neither says.
pub fn cli_major(root: &Path) -> u64 {
    let read = |path: &str| -> Option<Value> {
        serde_json::from_str(&std::fs::read_to_string(root.join(path)).ok()?).ok()
    };
    let installed = read("node_modules/@changesets/cli/package.json")
        .and_then(|m| m.get("version")?.as_str().and_then(leading_major));
    installed
        .or_else(|| {
            let manifest = read("package.json")?;
            ["devDependencies", "dependencies"].iter().find_map(|kind| {
                manifest
                    .get(kind)?
                    .get("@changesets/cli")?
                    .as_str()
                    .and_then(leading_major)
            })
        })
        .unwrap_or(2)
}

/// The first number in a version or a range: `^3.0.1` → 3, `>=2 <4` → 2; `None` for
/// `workspace:*` or a tag.
fn leading_major(spec: &str) -> Option<u64> {
    let digits: String = spec
        .trim_start_matches(|c: char| !c.is_ascii_digit())
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// `major` is the changesets CLI's (see [`cli_major`]): from 3 on, private packages are not
/// versioned unless `privatePackages` says so.
fn parse(
    text: &str,
    major: u64,
    warnings: &mut Vec<Warning>,
) -> Result<ChangesetsConfig, SourceError> {
    let value: Value = serde_json::from_str(text.trim_start_matches('\u{feff}')).map_err(|e| {
        SourceError::new(
            FILE,
            e.to_string()
                .rsplit_once(" at line ")
                .map_or(e.to_string(), |(m, _)| m.to_owned()),
        )
        .at_position(Some(Position::line_col(text, e.line(), e.column())))
        .help("fix the JSON syntax at this position")
    })?;
    let Value::Object(map) = value else {
        return Err(SourceError::new(FILE, "the top level must be a JSON object").at(text, 0));
    };
    let err = |path: &[&str], message: String| {
        SourceError::new(FILE, message).at(text, json::nearest_span(text, path).start)
    };
    let strings = |v: &Value, key: &str| -> Result<Vec<String>, SourceError> {
        v.as_array()
            .and_then(|a| {
                a.iter()
                    .map(|s| s.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
            })
            .ok_or_else(|| err(&[key], format!("`{key}` must be an array of package names")))
    };
    let groups = |key: &str| -> Result<Vec<Vec<String>>, SourceError> {
        match map.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(a)) => a.iter().map(|g| strings(g, key)).collect(),
            Some(_) => Err(err(
                &[key],
                format!("`{key}` must be an array of arrays of package names"),
            )),
        }
    };
    let string = |key: &str| -> Result<Option<String>, SourceError> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(err(&[key], format!("`{key}` must be a string"))),
        }
    };
    let mut config = ChangesetsConfig {
        fixed: groups("fixed")?,
        linked: groups("linked")?,
        ignore: map
            .get("ignore")
            .map(|v| strings(v, "ignore"))
            .transpose()?
            .unwrap_or_default(),
        base_branch: string("baseBranch")?,
        update_internal_dependencies: string("updateInternalDependencies")?,
        access: string("access")?,
        private_version: major < 3,
        cli_major: major,
        ..ChangesetsConfig::default()
    };
    config.changelog = changelog(text, &map, warnings)?;
    config.workspace_protocol_only = map
        .get("bumpVersionsWithWorkspaceProtocolOnly")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    match map.get("privatePackages") {
        // `false` (or `true`) is both at once.
        Some(Value::Bool(both)) => {
            config.private_version = *both;
            config.private_tag = *both;
        }
        Some(p) => {
            config.private_version = p
                .get("version")
                .and_then(Value::as_bool)
                .unwrap_or(config.private_version);
            config.private_tag = p.get("tag").and_then(Value::as_bool).unwrap_or(false);
        }
        None => {}
    }
    if let Some(x) = map.get(EXPERIMENTAL) {
        config.update_internal_dependents = x
            .get("updateInternalDependents")
            .and_then(Value::as_str)
            .map(str::to_owned);
        config.only_update_peer_dependents_when_out_of_range = x
            .get("onlyUpdatePeerDependentsWhenOutOfRange")
            .and_then(Value::as_bool)
            .unwrap_or(false);
    }
    unknown_keys(text, &map, warnings);
    Ok(config)
}

/// `changelog`: the generator changesets would run (with a warning for one polyship cannot).
fn changelog(
    text: &str,
    map: &Map<String, Value>,
    warnings: &mut Vec<Warning>,
) -> Result<ChangelogFormat, SourceError> {
    let wrong = || {
        SourceError::new(
            FILE,
            "`changelog` must be `false`, a generator name, or `[name, options]`",
        )
        .at(text, json::nearest_span(text, &["changelog"]).start)
    };
    let format = match map.get("changelog") {
        None | Some(Value::Null) => ChangelogFormat::Git,
        Some(Value::Bool(false)) => ChangelogFormat::None,
        Some(Value::String(name)) => changelog_format(name, None),
        Some(Value::Array(items)) => match items.as_slice() {
            [Value::String(name)] => changelog_format(name, None),
            [Value::String(name), options] => changelog_format(name, Some(options)),
            _ => return Err(wrong()),
        },
        Some(_) => return Err(wrong()),
    };
    if let ChangelogFormat::Other(name) = &format {
        warnings.push(
            Warning::new(format!(
                "`{FILE}` names the changelog generator `{name}`, which polyship cannot run; it writes changelogs as `@changesets/changelog-git` does"
            ))
            .in_file(FILE, Some(Position::at(text, json::nearest_span(text, &["changelog"]).start)))
            .help("use `@changesets/changelog-git` or `@changesets/changelog-github`, or set `[changelog] template` in polyship.toml"),
        );
    }
    Ok(format)
}

/// A warning for each key neither polyship nor changesets' documented options know.
fn unknown_keys(text: &str, map: &Map<String, Value>, warnings: &mut Vec<Warning>) {
    let known = [
        "fixed",
        "linked",
        "ignore",
        "baseBranch",
        "updateInternalDependencies",
        "access",
        EXPERIMENTAL,
    ];
    for key in map.keys() {
        if !known.contains(&key.as_str()) && !ACCEPTED.contains(&key.as_str()) {
            warnings.push(
                Warning::new(format!(
                    "`{FILE}` has a key polyship does not know: `{key}`"
                ))
                .in_file(
                    FILE,
                    Some(Position::at(text, json::nearest_span(text, &[key]).start)),
                )
                .help("it is ignored; check its spelling against the changesets documentation"),
            );
        }
    }
}

fn changelog_format(name: &str, options: Option<&Value>) -> ChangelogFormat {
    match name {
        "@changesets/cli/changelog" | "@changesets/changelog-git" => ChangelogFormat::Git,
        "@changesets/changelog-github" => ChangelogFormat::GitHub {
            repo: options
                .and_then(|o| o.get("repo"))
                .and_then(Value::as_str)
                .map(str::to_owned),
        },
        other => ChangelogFormat::Other(other.to_owned()),
    }
}

/// `.changeset/pre.json`: the state of pre mode.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreState {
    /// `pre` while in pre mode, `exit` once leaving is requested.
    pub mode: String,
    /// The prerelease label (`beta`, `rc`).
    pub tag: String,
    /// Package versions when pre mode began.
    #[serde(default)]
    pub initial_versions: BTreeMap<String, String>,
    /// Changesets already released in this pre mode.
    #[serde(default)]
    pub changesets: Vec<String>,
}

/// Reads `.changeset/pre.json` under `root`; `None` outside pre mode.
pub fn read_pre(root: &Path) -> Result<Option<PreState>, SourceError> {
    const PRE: &str = ".changeset/pre.json";
    let Ok(text) = std::fs::read_to_string(root.join(PRE)) else {
        return Ok(None);
    };
    serde_json::from_str(&text).map(Some).map_err(|e| {
        SourceError::new(PRE, e.to_string().rsplit_once(" at line ").map_or(e.to_string(), |(m, _)| m.to_owned()))
            .at_position(Some(Position::line_col(&text, e.line(), e.column())))
            .help("pre.json holds `mode`, `tag`, `initialVersions` and `changesets`, as `changeset pre enter` writes it")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_packages_follow_the_cli_major_and_the_boolean_form() {
        let private = |text: &str, major| {
            let c = parse(text, major, &mut Vec::new()).unwrap();
            (c.private_version, c.private_tag)
        };
        assert_eq!(private("{}", 2), (true, false));
        assert_eq!(private("{}", 3), (false, false));
        assert_eq!(
            private(r#"{ "privatePackages": false }"#, 2),
            (false, false)
        );
        assert_eq!(private(r#"{ "privatePackages": true }"#, 3), (true, true));
        assert_eq!(
            private(r#"{ "privatePackages": { "tag": true } }"#, 3),
            (false, true)
        );
        assert_eq!(
            private(r#"{ "privatePackages": { "version": true } }"#, 3),
            (true, false)
        );
    }

    #[test]
    fn the_cli_major_is_the_installed_one_else_the_root_manifest_s() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(cli_major(dir.path()), 2);
        std::fs::write(
            dir.path().join("package.json"),
            r#"{ "devDependencies": { "@changesets/cli": "^3.0.1" } }"#,
        )
        .unwrap();
        assert_eq!(cli_major(dir.path()), 3);
        let installed = dir.path().join("node_modules/@changesets/cli");
        std::fs::create_dir_all(&installed).unwrap();
        std::fs::write(installed.join("package.json"), r#"{ "version": "2.29.8" }"#).unwrap();
        assert_eq!(cli_major(dir.path()), 2);
        assert_eq!(leading_major(">=2 <4"), Some(2));
        assert_eq!(leading_major("workspace:*"), None);
        assert_eq!(leading_major("npm:@changesets/cli@3.1.0"), Some(3));
    }

    #[test]
    fn reads_what_changesets_writes() {
        let text = r#"{
  "$schema": "https://unpkg.com/@changesets/config@3.0.0/schema.json",
  "changelog": ["@changesets/changelog-github", { "repo": "acme/x" }],
  "commit": false,
  "fixed": [["@acme/a", "@acme/b"]],
  "linked": [],
  "access": "public",
  "baseBranch": "main",
  "updateInternalDependencies": "patch",
  "ignore": ["@acme/docs"],
  "privatePackages": { "version": true, "tag": true },
  "___experimentalUnsafeOptions_WILL_CHANGE_IN_PATCH": { "onlyUpdatePeerDependentsWhenOutOfRange": true },
  "colour": 1
}"#;
        let mut warnings = Vec::new();
        let c = parse(text, 2, &mut warnings).unwrap();
        assert_eq!(c.fixed, [["@acme/a", "@acme/b"]]);
        assert_eq!(c.ignore, ["@acme/docs"]);
        assert_eq!(c.base_branch.as_deref(), Some("main"));
        assert!(c.private_tag && c.only_update_peer_dependents_when_out_of_range);
        assert_eq!(
            c.changelog,
            ChangelogFormat::GitHub {
                repo: Some("acme/x".into())
            }
        );
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].message.contains("`colour`"));
        assert_eq!(
            warnings[0]
                .source
                .as_ref()
                .unwrap()
                .1
                .as_ref()
                .unwrap()
                .line,
            13
        );
    }

    #[test]
    fn wrong_types_are_errors_with_positions() {
        let err = parse("{\n  \"fixed\": \"a\"\n}", 2, &mut Vec::new()).unwrap_err();
        assert_eq!(err.position.unwrap().line, 2);
    }
}
