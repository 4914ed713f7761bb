//! Which tag names mark each package's releases.
//!
//! `[tags] templates` decides when set. Otherwise each package's scheme is read off the tags that
//! exist, as a maintainer would: the scheme under which its *current* version is tagged
//! (`tokio-1.53.1` → `{name}-{version}`, bare `0.12.5` → `{version}`). A package whose current
//! version has no tag yet takes the name-bearing scheme its older tags use, else the ecosystem's
//! default. lerna decides for the packages `lerna.json` governs: `v{version}` (its
//! `tagVersionPrefix`) in fixed mode, `{name}@{version}` in independent mode.

use gix::ObjectId;

use crate::changes::history::{self, TagTemplate};
use crate::changes::lerna_config::Mode;
use crate::changes::rules::Rules;
use crate::config::LoadedConfig;
use crate::diagnostic::{SourceError, Warning};
use crate::workspace::{Ecosystem, Package, Workspace};

/// How a package's scheme was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SchemeOrigin {
    /// `[tags] templates`.
    Configured,
    /// Its current version is tagged under this scheme.
    CurrentVersion,
    /// Older tags of the package use it.
    OlderTags,
    /// `lerna.json`.
    Lerna,
    /// No tag says: the ecosystem's default.
    Default,
}

impl SchemeOrigin {
    pub fn describe(self) -> &'static str {
        match self {
            SchemeOrigin::Configured => "set in `[tags] templates`",
            SchemeOrigin::CurrentVersion => "inferred: its current version is tagged so",
            SchemeOrigin::OlderTags => "inferred: its earlier tags are named so",
            SchemeOrigin::Lerna => "from `lerna.json`",
            SchemeOrigin::Default => "the default: no tag of it exists yet",
        }
    }
}

/// Every package's tag templates (the first names new tags) and how they were chosen.
#[derive(Debug, Clone, Default)]
pub struct Schemes {
    pub templates: Vec<Vec<TagTemplate>>,
    /// Per package: the first template as written (`{name}@{version}`).
    pub written: Vec<String>,
    pub origins: Vec<SchemeOrigin>,
    pub warnings: Vec<Warning>,
}

/// Schemes that carry the package name, in order of preference for an ecosystem.
fn named(ecosystem: Ecosystem) -> [&'static str; 3] {
    match crate::ecosystem::adapter(ecosystem).default_tag_template() {
        "{name}@{version}" => ["{name}@{version}", "{name}-v{version}", "{name}-{version}"],
        _ => ["{name}-v{version}", "{name}@{version}", "{name}-{version}"],
    }
}

const UNNAMED: [&str; 2] = ["v{version}", "{version}"];

/// Decides every package's scheme. `tags` are the repository's tags (local and, when known, the
/// remote's).
pub fn resolve(
    ws: &Workspace,
    config: &LoadedConfig,
    rules: &Rules,
    tags: &[(String, ObjectId)],
) -> Result<Schemes, SourceError> {
    let mut out = Schemes::default();
    let names: std::collections::HashSet<&str> = tags.iter().map(|(n, _)| n.as_str()).collect();
    for (p, package) in ws.packages.iter().enumerate() {
        let (list, origin) = choose(
            ws,
            config,
            rules,
            p,
            package,
            &names,
            tags,
            &mut out.warnings,
        )?;
        let templates = list
            .iter()
            .map(|t| TagTemplate::new(t, &package.name))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|m| {
                SourceError::new(crate::changes::lerna_config::FILE, m)
                    .help("set `tagVersionPrefix` to text without `{version}`")
            })?;
        out.written.push(list.first().cloned().unwrap_or_default());
        out.templates.push(templates);
        out.origins.push(origin);
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn choose(
    ws: &Workspace,
    config: &LoadedConfig,
    rules: &Rules,
    p: usize,
    package: &Package,
    names: &std::collections::HashSet<&str>,
    tags: &[(String, ObjectId)],
    warnings: &mut Vec<Warning>,
) -> Result<(Vec<String>, SchemeOrigin), SourceError> {
    if let Some(list) = &config.config.tags.templates {
        for t in list {
            TagTemplate::new(t.get_ref(), &package.name).map_err(|m| {
                config
                    .error_at(t.span().start, m)
                    .help("write a template such as `{name}@{version}`")
            })?;
        }
        return Ok((
            list.iter().map(|t| t.get_ref().clone()).collect(),
            SchemeOrigin::Configured,
        ));
    }
    if rules.packages[p].lerna
        && let Some(lerna) = &rules.lerna
    {
        let t = match lerna.mode {
            Mode::Fixed(_) => format!("{}{{version}}", lerna.tag_version_prefix),
            Mode::Independent => format!("{{name}}{}{{version}}", lerna.tag_version_separator),
        };
        return Ok((vec![t], SchemeOrigin::Lerna));
    }
    let single = ws.packages.len() == 1;
    let mut preference: Vec<&str> = Vec::new();
    if single {
        preference.extend(UNNAMED);
        preference.extend(named(package.ecosystem));
    } else {
        preference.extend(named(package.ecosystem));
        preference.extend(UNNAMED);
    }
    if let Some(version) = &package.version {
        let fitting: Vec<&str> = preference
            .iter()
            .copied()
            .filter(|t| {
                TagTemplate::new(t, &package.name)
                    .is_ok_and(|tt| names.contains(tt.render(version).as_str()))
            })
            .collect();
        if let Some(first) = fitting.first() {
            if fitting.len() > 1 {
                let shown: Vec<String> = fitting
                    .iter()
                    .map(|t| {
                        format!(
                            "`{}`",
                            t.replace("{name}", &package.name)
                                .replace("{version}", version)
                        )
                    })
                    .collect();
                warnings.push(
                    Warning::new(format!(
                        "two tag schemes fit `{}`: {}; polyship takes `{first}`",
                        package.id(),
                        shown.join(" and ")
                    ))
                    .help("set `[tags] templates` in polyship.toml to the scheme you release with"),
                );
            }
            return Ok((vec![(*first).to_owned()], SchemeOrigin::CurrentVersion));
        }
    }
    // No tag for the current version: a name-bearing scheme with earlier releases of it.
    for t in named(package.ecosystem) {
        let Ok(tt) = TagTemplate::new(t, &package.name) else {
            continue;
        };
        if tags.iter().any(|(name, _)| {
            tt.version_of(name)
                .is_some_and(|v| crate::version::is_valid(package.ecosystem, v))
        }) {
            return Ok((vec![t.to_owned()], SchemeOrigin::OlderTags));
        }
    }
    Ok((
        history::default_templates(ws, package),
        SchemeOrigin::Default,
    ))
}
