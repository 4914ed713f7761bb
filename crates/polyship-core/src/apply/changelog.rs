//! Changelog sections: what a release's changes look like to its users.
//!
//! A section is rendered from a minijinja template (the built-in one below, or the user's) and
//! placed at the top of the existing changelog, below its title and introduction — before the first
//! `## ` heading outside a code fence. Everything already in the file is kept byte for byte; the new
//! section takes the file's line ending.

use serde::Serialize;

use crate::changes::Source;
use crate::changes::changeset::Bump;
use crate::changes::conventional::{self, ChangeKind};
use crate::plan::{Reason, Release};

/// The built-in template. Its context: `name`, `ecosystem`, `version`, `previous`, `date`,
/// `repository` (the web address or none) and `sections`, each with a `title` and `entries`; an
/// entry has `summary`, `body` (lines after the first, or none), `bump`, `source` (`changeset`,
/// `commit` or `dependency`), `commit`, `short`, `commit_url`, `pr`, `pr_url` and `package`.
pub const DEFAULT_TEMPLATE: &str = r"## {{ version }} ({{ date }})
{% for section in sections %}

### {{ section.title }}

{% for entry in section.entries %}
- {% if entry.package %}**{{ entry.package }}:** {% endif %}{{ entry.summary }}
{%- if entry.pr_url %} ([#{{ entry.pr }}]({{ entry.pr_url }})){% endif %}
{%- if entry.commit_url %} ([{{ entry.short }}]({{ entry.commit_url }})){% endif %}

{% if entry.body %}
{% for line in entry.body %}
{% if line %}  {{ line }}{% endif %}

{% endfor %}
{% endif %}
{% endfor %}
{% endfor %}
";

/// One line of a changelog section.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub summary: String,
    pub body: Option<Vec<String>>,
    pub bump: Bump,
    pub source: &'static str,
    pub commit: Option<String>,
    pub short: Option<String>,
    pub commit_url: Option<String>,
    pub pr: Option<u64>,
    pub pr_url: Option<String>,
    /// The member a group changelog's entry belongs to.
    pub package: Option<String>,
}

/// A titled list of entries.
#[derive(Debug, Clone, Serialize)]
pub struct Section {
    pub title: &'static str,
    pub entries: Vec<Entry>,
}

/// Everything a template sees.
#[derive(Debug, Clone, Serialize)]
pub struct Context {
    pub name: String,
    pub ecosystem: String,
    pub version: String,
    pub previous: String,
    pub date: String,
    pub repository: Option<String>,
    pub sections: Vec<Section>,
}

/// Where links point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forge {
    /// `https://host/owner/repo`, without a trailing slash.
    pub url: String,
    /// GitLab spells its paths `/-/commit/` and `/-/merge_requests/`.
    pub gitlab: bool,
}

impl Forge {
    /// The web address of a remote URL: `git@github.com:o/r.git`, `https://github.com/o/r`,
    /// `ssh://git@host:22/o/r.git`. `None` for local paths.
    pub fn from_remote(remote: &str) -> Option<Self> {
        let remote = remote.trim();
        let rest = if let Some(rest) = remote
            .strip_prefix("https://")
            .or_else(|| remote.strip_prefix("http://"))
        {
            rest.rsplit_once('@')
                .map_or(rest, |(_, r)| r)
                .split_once('/')
                .map(|(host, path)| format!("{host}/{path}"))?
        } else if let Some(rest) = remote
            .strip_prefix("ssh://")
            .or_else(|| remote.strip_prefix("git+ssh://"))
        {
            let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
            let (host, path) = rest.split_once('/')?;
            let host = host.split(':').next().unwrap_or(host);
            format!("{host}/{path}")
        } else {
            // scp-like: `user@host:owner/repo.git`.
            let (user_host, path) = remote.split_once(':')?;
            if user_host.contains('/') || path.starts_with("//") {
                return None;
            }
            let host = user_host.rsplit_once('@').map_or(user_host, |(_, h)| h);
            format!("{host}/{path}")
        };
        let rest = rest.trim_end_matches('/');
        let rest = rest.strip_suffix(".git").unwrap_or(rest);
        let host = rest.split('/').next().unwrap_or_default();
        if host.is_empty() || rest.split('/').filter(|s| !s.is_empty()).count() < 3 {
            return None;
        }
        Some(Self {
            url: format!("https://{rest}"),
            gitlab: host.contains("gitlab"),
        })
    }

    /// A configured web address.
    pub fn from_url(url: &str) -> Self {
        let url = url.trim().trim_end_matches('/');
        Self {
            url: url.to_owned(),
            gitlab: url.contains("gitlab"),
        }
    }

    fn commit(&self, sha: &str) -> String {
        if self.gitlab {
            format!("{}/-/commit/{sha}", self.url)
        } else {
            format!("{}/commit/{sha}", self.url)
        }
    }

    fn pull(&self, n: u64) -> String {
        if self.gitlab {
            format!("{}/-/merge_requests/{n}", self.url)
        } else {
            format!("{}/pull/{n}", self.url)
        }
    }
}

/// The pull request a commit message names: a squash merge's `(#123)` at the end of the subject,
/// or a merge commit's `Merge pull request #123`.
pub fn pull_request(message: &str) -> Option<u64> {
    let subject = message.lines().next().unwrap_or_default().trim_end();
    if let Some(rest) = subject.strip_prefix("Merge pull request #") {
        return rest.split_whitespace().next()?.parse().ok();
    }
    let open = subject.strip_suffix(')')?.rfind("(#")?;
    subject[open + 2..subject.len() - 1].parse().ok()
}

/// A commit subject without its `(#123)` suffix.
fn strip_pull_request(subject: &str) -> &str {
    match subject.rfind(" (#") {
        Some(i) if subject.ends_with(')') && pull_request(subject).is_some() => &subject[..i],
        _ => subject,
    }
}

/// Builds the context of one release's section. `message_of` gives a commit's full message when
/// known (to find pull request numbers of changesets' commits).
pub fn context(
    release: &Release,
    date: &str,
    forge: Option<&Forge>,
    message_of: &dyn Fn(&str) -> Option<String>,
    package_label: Option<&str>,
) -> Context {
    let mut breaking = Vec::new();
    let mut features = Vec::new();
    let mut fixes = Vec::new();
    let mut other = Vec::new();
    let mut dependencies = Vec::new();
    for change in &release.changes {
        let (summary, body, kind) = match change.source {
            Source::Changeset => {
                let mut lines = change.summary.lines();
                let first = lines.next().unwrap_or_default().to_owned();
                let rest: Vec<String> = lines.map(str::to_owned).collect();
                (first, (!rest.is_empty()).then_some(rest), change.bump)
            }
            Source::Commit => {
                let subject = change.summary.lines().next().unwrap_or_default();
                let text = conventional::parse(subject)
                    .map_or_else(|_| subject.to_owned(), |c| c.description);
                let bump = match change.kind {
                    Some(ChangeKind::Breaking) => Bump::Major,
                    Some(ChangeKind::Feature) => Bump::Minor,
                    Some(ChangeKind::Fix) => Bump::Patch,
                    _ => Bump::None,
                };
                (strip_pull_request(&text).to_owned(), None, bump)
            }
        };
        let message = change.commit.as_deref().and_then(message_of);
        let pr = message
            .as_deref()
            .and_then(pull_request)
            .or_else(|| pull_request(&change.summary));
        let entry = Entry {
            summary,
            body,
            bump: change.bump,
            source: match change.source {
                Source::Changeset => "changeset",
                Source::Commit => "commit",
            },
            short: change
                .commit
                .as_ref()
                .map(|c| c[..c.len().min(7)].to_owned()),
            commit_url: forge
                .zip(change.commit.as_deref())
                .map(|(f, c)| f.commit(c)),
            commit: change.commit.clone(),
            pr,
            pr_url: forge.zip(pr).map(|(f, n)| f.pull(n)),
            package: package_label.map(str::to_owned),
        };
        match kind {
            Bump::Major => breaking.push(entry),
            Bump::Minor => features.push(entry),
            Bump::Patch => fixes.push(entry),
            Bump::None => other.push(entry),
        }
    }
    for reason in &release.reasons {
        let text = match reason {
            Reason::Dependency { name, version, .. } => {
                format!("Updated dependency `{name}` to {version}")
            }
            Reason::Group { group, .. } if release.changes.is_empty() => {
                format!("Released with the `{group}` group")
            }
            Reason::SameSource { name, .. } if release.changes.is_empty() => {
                format!("Released with `{name}`, built from the same source")
            }
            Reason::Graduates => format!("Stable release of {}", release.from),
            _ => continue,
        };
        dependencies.push(Entry {
            summary: text,
            body: None,
            bump: Bump::Patch,
            source: "dependency",
            commit: None,
            short: None,
            commit_url: None,
            pr: None,
            pr_url: None,
            package: package_label.map(str::to_owned),
        });
    }
    let sections = [
        ("Breaking changes", breaking),
        ("Features", features),
        ("Fixes", fixes),
        ("Other changes", other),
        ("Dependencies", dependencies),
    ]
    .into_iter()
    .filter(|(_, e)| !e.is_empty())
    .map(|(title, entries)| Section { title, entries })
    .collect();
    Context {
        name: release.name.clone(),
        ecosystem: release.ecosystem.to_string(),
        version: release.to.clone(),
        previous: release.from.clone(),
        date: date.to_owned(),
        repository: forge.map(|f| f.url.clone()),
        sections,
    }
}

/// Renders a section with `template`; `Err` carries minijinja's message with its line.
pub fn render(template: &str, context: &Context) -> Result<String, String> {
    let mut env = minijinja::Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(true);
    env.add_template("changelog", template)
        .map_err(|e| describe(&e))?;
    let out = env
        .get_template("changelog")
        .and_then(|t| t.render(context))
        .map_err(|e| describe(&e))?;
    Ok(tidy(&out))
}

fn describe(e: &minijinja::Error) -> String {
    match e.line() {
        Some(line) => format!("line {line}: {}", e.detail().unwrap_or(&e.to_string())),
        None => e.to_string(),
    }
}

/// At most one blank line in a row, and exactly one final newline.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.trim_matches('\n').lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// `existing` (the changelog's text, `None` when it does not exist) with `section` inserted above
/// the newest release, in the file's line ending. Nothing else changes.
pub fn insert(existing: Option<&str>, section: &str) -> String {
    let Some(existing) = existing else {
        return format!("# Changelog\n\n{section}");
    };
    let crlf = existing.contains("\r\n");
    let section = if crlf {
        section.replace('\n', "\r\n")
    } else {
        section.to_owned()
    };
    let eol = if crlf { "\r\n" } else { "\n" };
    let mut offset = 0;
    let mut fenced = false;
    for line in existing.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fenced = !fenced;
        }
        if !fenced && line.starts_with("## ") {
            return format!(
                "{}{section}{eol}{}",
                &existing[..offset],
                &existing[offset..]
            );
        }
        offset += line.len();
    }
    // No release yet: after the title and introduction.
    let mut out = existing.to_owned();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push_str(eol);
    }
    if !out.is_empty() && !out.ends_with(&format!("{eol}{eol}")) {
        out.push_str(eol);
    }
    out.push_str(&section);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::changes::Change;
    use crate::workspace::Ecosystem;

    fn release(changes: Vec<Change>, reasons: Vec<Reason>) -> Release {
        Release {
            package: 0,
            name: "core".into(),
            ecosystem: Ecosystem::Npm,
            from: "1.2.0".into(),
            to: "1.3.0".into(),
            bump: Bump::Minor,
            reasons,
            changes,
        }
    }

    fn change(source: Source, bump: Bump, kind: Option<ChangeKind>, summary: &str) -> Change {
        Change {
            source,
            id: "x".into(),
            bump,
            kind,
            summary: summary.into(),
            commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
        }
    }

    #[test]
    fn groups_entries_and_links_them() {
        let r = release(
            vec![
                change(
                    Source::Changeset,
                    Bump::Minor,
                    None,
                    "Faster engine\n\nDetails here\nand here",
                ),
                change(
                    Source::Commit,
                    Bump::Major,
                    Some(ChangeKind::Breaking),
                    "feat(core)!: drop node 16 (#42)",
                ),
                change(
                    Source::Commit,
                    Bump::Patch,
                    Some(ChangeKind::Fix),
                    "fix: off by one",
                ),
            ],
            vec![
                Reason::Changes,
                Reason::Dependency {
                    name: "util".into(),
                    ecosystem: Ecosystem::Npm,
                    version: "2.0.0".into(),
                    requirement: Some("^1.0.0".into()),
                },
            ],
        );
        let forge = Forge::from_remote("git@github.com:acme/x.git").unwrap();
        let cx = context(&r, "2026-11-22", Some(&forge), &|_| None, None);
        let out = render(DEFAULT_TEMPLATE, &cx).unwrap();
        assert_eq!(
            out,
            "## 1.3.0 (2026-11-22)\n\n### Breaking changes\n\n- drop node 16 ([#42](https://github.com/acme/x/pull/42)) ([0123456](https://github.com/acme/x/commit/0123456789abcdef0123456789abcdef01234567))\n\n### Features\n\n- Faster engine ([0123456](https://github.com/acme/x/commit/0123456789abcdef0123456789abcdef01234567))\n\n  Details here\n  and here\n\n### Fixes\n\n- off by one ([0123456](https://github.com/acme/x/commit/0123456789abcdef0123456789abcdef01234567))\n\n### Dependencies\n\n- Updated dependency `util` to 2.0.0\n"
        );
    }

    #[test]
    fn inserts_below_the_title_and_keeps_the_rest() {
        let section = "## 1.3.0 (2026-11-22)\n\n- x\n";
        let old = "# Changelog\r\n\r\nAll notable changes.\r\n\r\n```\r\n## not a heading\r\n```\r\n\r\n## 1.2.0\r\n\r\n- y\r\n";
        let out = insert(Some(old), section);
        assert_eq!(
            out,
            "# Changelog\r\n\r\nAll notable changes.\r\n\r\n```\r\n## not a heading\r\n```\r\n\r\n## 1.3.0 (2026-11-22)\r\n\r\n- x\r\n\r\n## 1.2.0\r\n\r\n- y\r\n"
        );
        assert_eq!(
            insert(Some("# Changelog"), section),
            "# Changelog\n\n## 1.3.0 (2026-11-22)\n\n- x\n"
        );
        assert_eq!(
            insert(None, section),
            "# Changelog\n\n## 1.3.0 (2026-11-22)\n\n- x\n"
        );
    }

    #[test]
    fn forge_addresses_from_remotes() {
        let url = |r: &str| Forge::from_remote(r).map(|f| f.url);
        assert_eq!(
            url("git@github.com:acme/x.git").as_deref(),
            Some("https://github.com/acme/x")
        );
        assert_eq!(
            url("https://token@github.com/acme/x").as_deref(),
            Some("https://github.com/acme/x")
        );
        assert_eq!(
            url("ssh://git@gitea.example.com:2222/acme/x.git").as_deref(),
            Some("https://gitea.example.com/acme/x")
        );
        assert!(
            Forge::from_remote("https://gitlab.com/g/sub/x.git")
                .unwrap()
                .gitlab
        );
        assert_eq!(url("/srv/git/x.git"), None);
        assert_eq!(url("../x"), None);
        assert_eq!(pull_request("fix: y (#12)"), Some(12));
        assert_eq!(
            pull_request("Merge pull request #7 from a/b\n\nfix"),
            Some(7)
        );
        assert_eq!(pull_request("fix: y (#x)"), None);
    }

    #[test]
    fn template_errors_name_the_line() {
        let cx = context(&release(vec![], vec![]), "d", None, &|_| None, None);
        let err = render("ok\n{{ version | nosuchfilter }}\n", &cx).unwrap_err();
        assert!(err.starts_with("line 2:"), "{err}");
    }
}
