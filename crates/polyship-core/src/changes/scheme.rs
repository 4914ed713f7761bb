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
    /// No tag of its own: the scheme the repository's other packages of its ecosystem use.
    Repository,
    /// No tag says: the ecosystem's default.
    Default,
    /// The only form its ecosystem's tools read (a Go module's `{directory}/v{version}`).
    Ecosystem,
}

impl SchemeOrigin {
    pub fn describe(self) -> &'static str {
        match self {
            SchemeOrigin::Configured => "set in `[tags] templates`",
            SchemeOrigin::CurrentVersion => "inferred: its current version is tagged so",
            SchemeOrigin::OlderTags => "inferred: its earlier tags are named so",
            SchemeOrigin::Lerna => "from `lerna.json`",
            SchemeOrigin::Repository => {
                "inferred: no tag of it yet, the other packages are tagged so"
            }
            SchemeOrigin::Default => "the default: no tag of it exists yet",
            SchemeOrigin::Ecosystem => "what its ecosystem's tools read versions from",
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
    match ecosystem.adapter().default_tag_template() {
        "{name}@{version}" => ["{name}@{version}", "{name}-v{version}", "{name}-{version}"],
        _ => ["{name}-v{version}", "{name}@{version}", "{name}-{version}"],
    }
}

const UNNAMED: [&str; 2] = ["v{version}", "{version}"];

/// What the scheme decision may ask of history: the version package `p` had at a commit.
pub type VersionAt<'a> = &'a dyn Fn(ObjectId, usize) -> Option<String>;

/// Decides every package's scheme. `tags` are the repository's tags (local and, when known, the
/// remote's). A tag without the package's name (`v1.2.0`, `1.2.0`) is taken as the package's only
/// when the package's manifest at that commit says that version (`version_at`): the bare `0.1.0`
/// of a crate's first release is not a release of a test crate added years later.
pub fn resolve(
    ws: &Workspace,
    config: &LoadedConfig,
    rules: &Rules,
    tags: &[(String, ObjectId)],
    version_at: VersionAt<'_>,
) -> Result<Schemes, SourceError> {
    let mut out = Schemes::default();
    let names: std::collections::HashMap<&str, ObjectId> =
        tags.iter().map(|(n, id)| (n.as_str(), *id)).collect();
    let cx = Choice {
        ws,
        config,
        rules,
        names: &names,
        tags,
        version_at,
    };
    for (p, package) in ws.packages.iter().enumerate() {
        let (list, origin) = choose(&cx, p, package, &mut out.warnings)?;
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
    follow_the_repository(ws, &mut out);
    Ok(out)
}

/// A package with no tag of its own follows the name-bearing scheme most packages of its
/// ecosystem were found to use: a new crate of a workspace tagging `name-1.2.3` is tagged so too.
fn follow_the_repository(ws: &Workspace, out: &mut Schemes) {
    let mut counts: std::collections::HashMap<(Ecosystem, &str), usize> =
        std::collections::HashMap::new();
    for (p, package) in ws.packages.iter().enumerate() {
        if matches!(
            out.origins[p],
            SchemeOrigin::CurrentVersion | SchemeOrigin::OlderTags
        ) && out.written[p].contains("{name}")
        {
            *counts
                .entry((package.ecosystem, out.written[p].as_str()))
                .or_default() += 1;
        }
    }
    let mut chosen: Vec<(usize, String)> = Vec::new();
    for (p, package) in ws.packages.iter().enumerate() {
        if out.origins[p] != SchemeOrigin::Default {
            continue;
        }
        let best = counts
            .iter()
            .filter(|((e, _), _)| *e == package.ecosystem)
            .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.1.cmp(a.0.1)))
            .map(|((_, t), _)| (*t).to_owned());
        if let Some(t) = best {
            chosen.push((p, t));
        }
    }
    for (p, t) in chosen {
        if let Ok(tt) = TagTemplate::new(&t, &ws.packages[p].name) {
            out.templates[p] = vec![tt];
            out.written[p] = t;
            out.origins[p] = SchemeOrigin::Repository;
        }
    }
}

/// What every package's choice reads.
struct Choice<'a> {
    ws: &'a Workspace,
    config: &'a LoadedConfig,
    rules: &'a Rules,
    names: &'a std::collections::HashMap<&'a str, ObjectId>,
    tags: &'a [(String, ObjectId)],
    version_at: VersionAt<'a>,
}

fn choose(
    cx: &Choice<'_>,
    p: usize,
    package: &Package,
    warnings: &mut Vec<Warning>,
) -> Result<(Vec<String>, SchemeOrigin), SourceError> {
    let Choice {
        ws,
        config,
        rules,
        names,
        tags,
        version_at,
    } = cx;
    if let Some(fixed) = package.ecosystem.adapter().fixed_tag_template(package) {
        return Ok((vec![fixed], SchemeOrigin::Ecosystem));
    }
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
                let Ok(tt) = TagTemplate::new(t, &package.name) else {
                    return false;
                };
                let Some(&commit) = names.get(tt.render(version).as_str()) else {
                    return false;
                };
                t.contains("{name}")
                    || single
                    || version_at(commit, p).is_some_and(|v| v == *version)
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
