//! Changelog sections: what a release's changes look like to its users.
//!
//! A section is rendered from a minijinja template (the built-in one below, or the user's) and
//! placed above the newest release of the existing changelog, in its heading style (see
//! [`super::layout`]). Packages released from changesets in a changesets repository get
//! changesets' own format instead (see [`super::changesets_changelog`]), and none with its
//! `changelog: false`. Everything already in the file is kept byte for byte; the new section takes
//! the file's line ending.

use std::collections::BTreeMap;

use serde::Serialize;

use super::changesets_changelog::{self as cs_log, CommitInfo, Flavour};
use super::{ApplyError, Files};
use crate::changes::changesets_config::ChangelogFormat;
use crate::config::LoadedConfig;
use crate::diagnostic::SourceError;
use crate::plan::Plan;
use crate::workspace::{DependencyKind, VersionSource, Workspace, child};

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
        let (kind, entry) = change_entry(change, forge, message_of, package_label);
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

/// One change's changelog entry, with the section it goes in (its bump: a changeset's, or a
/// commit's kind).
fn change_entry(
    change: &crate::changes::Change,
    forge: Option<&Forge>,
    message_of: &dyn Fn(&str) -> Option<String>,
    package_label: Option<&str>,
) -> (Bump, Entry) {
    let (summary, body, kind) = match change.source {
        Source::Changeset => {
            let mut lines = change.summary.lines();
            let first = lines.next().unwrap_or_default().to_owned();
            let rest: Vec<String> = lines.map(str::to_owned).collect();
            (first, (!rest.is_empty()).then_some(rest), change.bump)
        }
        Source::Commit => {
            let subject = change.summary.lines().next().unwrap_or_default();
            let text =
                conventional::parse(subject).map_or_else(|_| subject.to_owned(), |c| c.description);
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
    // A commit subject or changeset can carry escape sequences: none reach the changelog.
    let summary = crate::diagnostic::strip_controls(&summary);
    let body = body.map(|lines| {
        lines
            .iter()
            .map(|l| crate::diagnostic::strip_controls(l))
            .collect()
    });
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
    (kind, entry)
}

/// Adds `entry` to a shared section, once: the same change (one commit, or one changeset, that
/// several members release) is one line labelled with each of its members, as lerna's root
/// changelog lists a commit once.
fn merge_entry(entries: &mut Vec<Entry>, entry: Entry) {
    let same = entries.iter_mut().find(|e| {
        e.source == entry.source && e.commit == entry.commit && e.summary == entry.summary
    });
    let Some(same) = same else {
        entries.push(entry);
        return;
    };
    if let (Some(labels), Some(label)) = (&mut same.package, entry.package)
        && !labels.split(", ").any(|l| l == label)
    {
        labels.push_str(", ");
        labels.push_str(&label);
    }
    same.bump = same.bump.max(entry.bump);
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

/// The changelog template (`[changelog] template`, else the built-in one) and the file to name
/// in its errors.
fn template(files: &mut Files, config: &LoadedConfig) -> Result<(String, String), ApplyError> {
    let cfg = &config.config.changelog;
    let template = match &cfg.template {
        Some(path) => {
            let file = path.get_ref();
            files.text(file)?.ok_or_else(|| {
                ApplyError::Input(
                    config
                        .error_at(
                            path.span().start,
                            format!("the template `{file}` does not exist"),
                        )
                        .help("give a path relative to the repository root"),
                )
            })?
        }
        None => DEFAULT_TEMPLATE.to_owned(),
    };
    let template_file = cfg.template.as_ref().map_or_else(
        || crate::config::FILE_NAME.to_owned(),
        |t| t.get_ref().clone(),
    );
    Ok((template, template_file))
}

/// One section for the releases that share a changelog: their entries under each heading,
/// each labelled with its package; dependency updates left out.
fn shared_context(
    name: &str,
    members: &[&Release],
    date: &str,
    forge: Option<&Forge>,
    message_of: &dyn Fn(&str) -> Option<String>,
    with_bodies: &dyn Fn(&Release) -> Release,
) -> Context {
    let mut cx = context(members[0], date, forge, message_of, None);
    name.clone_into(&mut cx.name);
    cx.sections.clear();
    for r in members {
        let label = r.name.clone();
        let part = context(&with_bodies(r), date, forge, message_of, Some(&label));
        for section in part.sections {
            if section.title == "Dependencies" {
                continue;
            }
            match cx.sections.iter_mut().find(|s| s.title == section.title) {
                Some(s) => {
                    for entry in section.entries {
                        merge_entry(&mut s.entries, entry);
                    }
                }
                None => cx.sections.push(section),
            }
        }
    }
    let order = ["Breaking changes", "Features", "Fixes", "Other changes"];
    cx.sections.sort_by_key(|s| {
        order
            .iter()
            .position(|t| *t == s.title)
            .unwrap_or(order.len())
    });
    cx
}

/// Writes every changelog section of `plan`.
pub fn write(
    files: &mut Files,
    ws: &Workspace,
    plan: &Plan,
    config: &LoadedConfig,
    changes: &crate::changes::Changes,
    date: &str,
    (forge, github): (Option<&Forge>, Option<&super::GitHubApi>),
) -> Result<(), ApplyError> {
    let cfg = &config.config.changelog;
    let (template, template_file) = template(files, config)?;
    let commits = Commits::new(files.root, changes, github);
    let message_of = |id: &str| commits.message(id);
    // A changeset's whole text goes into the changelog, not only its first line.
    let bodies: BTreeMap<&str, &str> = changes
        .changesets
        .iter()
        .filter_map(|c| c.body.as_deref().map(|b| (c.id.as_str(), b)))
        .collect();
    let with_bodies = |release: &Release| {
        let mut release = release.clone();
        for c in &mut release.changes {
            if c.source == Source::Changeset
                && let Some(body) = bodies.get(c.id.as_str())
                && !c.summary.contains('\n')
            {
                c.summary = format!("{}\n\n{body}", c.summary);
            }
        }
        release
    };
    let render = |cx: &Context| {
        render(&template, cx).map_err(|m| {
            ApplyError::Input(
                SourceError::new(&template_file, format!("the changelog template fails: {m}"))
                    .help("fix the template; docs/version.md lists what it can use"),
            )
        })
    };
    let place = |files: &mut Files, file: &str, version: &str, section: &str| {
        let existing = files.text(file)?;
        let new = super::layout::NewRelease {
            version,
            date,
            section,
            restyle: cfg.template.is_none(),
            title: "# Changelog",
        };
        files.set(file, super::layout::insert(existing.as_deref(), &new))
    };
    for release in &plan.releases {
        let package = &ws.packages[release.package];
        // A wheel built from a crate shares the crate's changelog when they share a directory.
        if let VersionSource::Linked { .. } = package.version_source
            && plan.releases.iter().any(|r| {
                r.package != release.package && ws.packages[r.package].path == package.path
            })
        {
            continue;
        }
        let file = child(&package.path, &cfg.path);
        if let Some(cs) = &changes.changesets_config
            && changes.rules.packages[release.package].changesets()
        {
            changesets_section(
                files, ws, plan, changes, cs, release, &file, forge, &commits,
            )?;
            continue;
        }
        let cx = context(&with_bodies(release), date, forge, &message_of, None);
        let section = render(&cx)?;
        place(files, &file, &release.to, &section)?;
    }
    for (file, name, members) in shared_changelogs(config, plan, changes) {
        let cx = shared_context(&name, &members, date, forge, &message_of, &with_bodies);
        let section = render(&cx)?;
        place(files, &file, &members[0].to, &section)?;
    }
    Ok(())
}

/// Changelogs shared by several releases: a group's own (`[[group]] changelog`), and the root
/// `CHANGELOG.md` in lerna's fixed mode. `(file, name, members)`.
fn shared_changelogs<'p>(
    config: &LoadedConfig,
    plan: &'p Plan,
    changes: &crate::changes::Changes,
) -> Vec<(String, String, Vec<&'p Release>)> {
    let cfg = &config.config.changelog;
    let mut shared: Vec<(String, String, Vec<&Release>)> = Vec::new();
    for g in &config.config.groups {
        let g = g.get_ref();
        let Some(file) = &g.changelog else { continue };
        let members: Vec<&Release> = plan
            .releases
            .iter()
            .filter(|r| g.holds(&r.name, &format!("{}:{}", r.ecosystem, r.name)))
            .collect();
        if let Some(first) = members.first() {
            let name = g.name.clone().unwrap_or_else(|| first.name.clone());
            shared.push((file.clone(), name, members));
        }
    }
    if changes.rules.lerna_line().is_some() {
        let members: Vec<&Release> = plan
            .releases
            .iter()
            .filter(|r| changes.rules.packages[r.package].lerna)
            .collect();
        if !members.is_empty() && !shared.iter().any(|(f, _, _)| *f == cfg.path) {
            shared.push((cfg.path.clone(), "lerna.json".to_owned(), members));
        }
    }
    shared
}

/// What changelogs need to know of commits: messages (pull request numbers) and authors (GitHub
/// logins in no-reply addresses). Changesets' commits touch only `.changeset/`, so history may not
/// hold them: git is asked.
struct Commits<'a> {
    messages: BTreeMap<&'a str, &'a str>,
    repo: Option<gix::Repository>,
    github: Option<&'a super::GitHubApi>,
    /// What GitHub said of each commit.
    asked: std::cell::RefCell<BTreeMap<String, Option<CommitInfo>>>,
}

impl<'a> Commits<'a> {
    fn new(
        root: &std::path::Path,
        changes: &'a crate::changes::Changes,
        github: Option<&'a super::GitHubApi>,
    ) -> Self {
        Self {
            messages: changes
                .commits
                .iter()
                .map(|c| (c.id.as_str(), c.message.as_str()))
                .collect(),
            repo: crate::changes::history::open(root).ok(),
            github,
            asked: std::cell::RefCell::default(),
        }
    }

    fn commit(&self, id: &str) -> Option<gix::Commit<'_>> {
        let oid = gix::ObjectId::from_hex(id.as_bytes()).ok()?;
        self.repo.as_ref()?.find_commit(oid).ok()
    }

    fn message(&self, id: &str) -> Option<String> {
        self.messages.get(id).map(|m| (*m).to_owned()).or_else(|| {
            let commit = self.commit(id)?;
            Some(String::from_utf8_lossy(commit.message_raw_sloppy()).into_owned())
        })
    }

    /// The pull request and the author to thank: from GitHub when a token is given (as
    /// changesets' GitHub format does), else from the commit — its message's `(#123)` and a
    /// no-reply author address.
    fn info(&self, repo: &str, id: &str) -> CommitInfo {
        let from_commit = || {
            let pull = self.message(id).as_deref().and_then(pull_request);
            let user = self.commit(id).and_then(|c| {
                let author = c.author().ok()?;
                cs_log::login_from_email(&author.email.to_string())
            });
            CommitInfo { pull, user }
        };
        let Some(api) = self.github else {
            return from_commit();
        };
        let known = self.asked.borrow().get(id).cloned();
        let asked = known.unwrap_or_else(|| {
            let found = ask_github(api, repo, id);
            self.asked.borrow_mut().insert(id.to_owned(), found.clone());
            found
        });
        asked.unwrap_or_else(from_commit)
    }
}

/// GitHub's view of a commit: the pull request that merged it and its author, else the commit's
/// author. `None` when GitHub cannot be asked (then the commit says).
fn ask_github(api: &super::GitHubApi, repo: &str, sha: &str) -> Option<CommitInfo> {
    let agent = crate::release::registry::agent();
    let get = |path: &str| -> Option<serde_json::Value> {
        let mut response = agent
            .get(format!("{}repos/{repo}/commits/{sha}{path}", api.api))
            .header("Authorization", &format!("Bearer {}", api.token))
            .header("Accept", "application/vnd.github+json")
            .call()
            .ok()?;
        if response.status() != 200 {
            return None;
        }
        serde_json::from_slice(&response.body_mut().read_to_vec().ok()?).ok()
    };
    let pulls = get("/pulls")?;
    if let Some(first) = pulls.as_array().and_then(|a| a.first()) {
        return Some(CommitInfo {
            pull: first["number"].as_u64(),
            user: first["user"]["login"].as_str().map(str::to_owned),
        });
    }
    let commit = get("")?;
    Some(CommitInfo {
        pull: None,
        user: commit["author"]["login"].as_str().map(str::to_owned),
    })
}

/// The section changesets writes for `release`, prepended as changesets does.
#[allow(clippy::too_many_arguments)]
fn changesets_section(
    files: &mut Files,
    ws: &Workspace,
    plan: &Plan,
    changes: &crate::changes::Changes,
    cs: &crate::changes::changesets_config::ChangesetsConfig,
    release: &Release,
    file: &str,
    forge: Option<&Forge>,
    commits: &Commits<'_>,
) -> Result<(), ApplyError> {
    let repo = match &cs.changelog {
        ChangelogFormat::None => return Ok(()),
        ChangelogFormat::GitHub { repo } => Some(github_repo(repo.as_deref(), forge, file)?),
        ChangelogFormat::Git | ChangelogFormat::Other(_) => None,
    };
    let texts: BTreeMap<&str, &str> = changes
        .changesets
        .iter()
        .map(|c| (c.id.as_str(), c.text.as_str()))
        .collect();
    let lines: Vec<cs_log::Line<'_>> = release
        .changes
        .iter()
        .filter(|c| c.source == Source::Changeset)
        .map(|c| cs_log::Line {
            bump: c.bump,
            commit: c.commit.as_deref(),
            text: texts.get(c.id.as_str()).copied().unwrap_or(&c.summary),
        })
        .collect();
    let cleaned: Vec<String> = lines
        .iter()
        .map(|l| crate::diagnostic::strip_controls(l.text))
        .collect();
    let lines: Vec<cs_log::Line<'_>> = lines
        .iter()
        .zip(&cleaned)
        .map(|(l, text)| cs_log::Line {
            bump: l.bump,
            commit: l.commit,
            text,
        })
        .collect();
    let (updated, dependency_commits) = updated_dependencies(ws, plan, changes, cs, release);
    let info = |id: &str| commits.info(repo.as_deref().unwrap_or_default(), id);
    let flavour = match &repo {
        Some(repo) => Flavour::GitHub { repo, info: &info },
        None => Flavour::Git,
    };
    let spacing = if cs.cli_major >= 3 {
        cs_log::Spacing::Changesets3
    } else {
        cs_log::Spacing::Changesets2
    };
    let section = cs_log::section(
        &release.to,
        &lines,
        &updated,
        &dependency_commits,
        &flavour,
        spacing,
    );
    let section = match spacing {
        cs_log::Spacing::Changesets2 => like_prettier(&section),
        cs_log::Spacing::Changesets3 => section,
    };
    let existing = files.text(file)?;
    let name = &ws.packages[release.package].name;
    files.set(file, cs_log::prepend(existing.as_deref(), name, &section))
}

/// The `owner/name` `@changesets/changelog-github` links to: its `repo` option, else
/// `GITHUB_REPOSITORY` (as the generator itself falls back to), else the `origin` remote on
/// GitHub. None of them is an error about the changelog `file`, as it is for changesets: links to
/// `github.com//` are wrong.
fn github_repo(
    option: Option<&str>,
    forge: Option<&Forge>,
    file: &str,
) -> Result<String, ApplyError> {
    let from_env = || std::env::var("GITHUB_REPOSITORY").ok();
    let from_remote =
        || forge.and_then(|f| f.url.strip_prefix("https://github.com/").map(str::to_owned));
    option
        .map(str::to_owned)
        .or_else(from_env)
        .or_else(from_remote)
        .filter(|repo| !repo.trim().is_empty())
        .ok_or_else(|| {
            ApplyError::Input(
                SourceError::new(
                    file,
                    "`@changesets/changelog-github` (`.changeset/config.json`) has no repository \
                     to link to: no `repo` option, no `GITHUB_REPOSITORY`, and `origin` is not \
                     on GitHub",
                )
                .help(
                    "name it in `.changeset/config.json`: `\"changelog\": [\"@changesets/changelog-github\", { \"repo\": \"org/repo\" }]`, or set GITHUB_REPOSITORY=org/repo",
                ),
            )
        })
}

/// The dependencies of `release` that changesets lists as updated: releases it depends on (not
/// dev), whose requirement changesets rewrites, and the commits of the changesets behind them.
fn updated_dependencies<'p>(
    ws: &Workspace,
    plan: &'p Plan,
    changes: &'p crate::changes::Changes,
    cs: &crate::changes::changesets_config::ChangesetsConfig,
    release: &Release,
) -> (Vec<cs_log::Updated<'p>>, Vec<Option<&'p str>>) {
    let min = match cs.update_internal_dependencies.as_deref() {
        Some("minor") => Bump::Minor,
        _ => Bump::Patch,
    };
    let package = &ws.packages[release.package];
    let mut updated = Vec::new();
    let mut ids: Vec<&str> = Vec::new();
    for dep_release in &plan.releases {
        let dep = ws.packages[dep_release.package].name.as_str();
        let found = package
            .dependencies
            .iter()
            .filter(|d| d.name == dep && d.ecosystem == dep_release.ecosystem)
            .find(|d| d.kind == DependencyKind::Normal)
            .or_else(|| {
                package
                    .dependencies
                    .iter()
                    .filter(|d| d.name == dep && d.ecosystem == dep_release.ecosystem)
                    .find(|d| d.kind == DependencyKind::Peer)
            });
        let Some(d) = found else { continue };
        let Some(range) = d.requirement.as_deref() else {
            continue;
        };
        let in_range = crate::version::satisfies(d.ecosystem, Some(range), &dep_release.to)
            == Some(true)
            && !range.starts_with("workspace:");
        let update = !in_range
            || if d.kind == DependencyKind::Peer {
                !cs.only_update_peer_dependents_when_out_of_range
            } else {
                dep_release.bump >= min
            };
        if !update {
            continue;
        }
        updated.push(cs_log::Updated {
            name: &dep_release.name,
            version: &dep_release.to,
        });
        for c in dep_release
            .changes
            .iter()
            .filter(|c| c.source == Source::Changeset)
        {
            if !ids.contains(&c.id.as_str()) {
                ids.push(&c.id);
            }
        }
    }
    // In changesets' order of changesets.
    let commits = changes
        .changesets
        .iter()
        .filter(|c| ids.contains(&c.id.as_str()))
        .map(|c| {
            changes
                .history
                .changeset_commits
                .get(&c.id)
                .map(String::as_str)
        })
        .collect();
    (updated, commits)
}

/// What changesets' bundled prettier does to a new section: a blank line after every heading,
/// never two blank lines in a row, no trailing spaces.
fn like_prettier(section: &str) -> String {
    let mut out = String::with_capacity(section.len());
    let mut blank = true;
    let mut after_heading = false;
    let mut fenced = false;
    for line in section.lines() {
        let line = line.trim_end();
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        }
        if line.is_empty() && !fenced {
            if !blank {
                out.push('\n');
            }
            blank = true;
            after_heading = false;
            continue;
        }
        if after_heading {
            out.push('\n');
        }
        out.push_str(line);
        out.push('\n');
        blank = false;
        after_heading = !fenced && line.starts_with('#');
    }
    out.trim_end_matches('\n').to_owned() + "\n"
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
    fn a_change_several_members_release_is_one_line_of_a_shared_changelog() {
        let r = release(
            vec![change(
                Source::Commit,
                Bump::Minor,
                Some(ChangeKind::Feature),
                "feat: faster",
            )],
            vec![Reason::Changes],
        );
        let entry = |label: &str| {
            let mut e =
                context(&r, "d", None, &|_| None, Some(label)).sections[0].entries[0].clone();
            e.package = Some(label.to_owned());
            e
        };
        let mut entries = Vec::new();
        for label in ["core", "cli", "core"] {
            merge_entry(&mut entries, entry(label));
        }
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].package.as_deref(), Some("core, cli"));
        // Another commit with the same words is another line.
        let mut other = entry("cli");
        other.commit = Some("f".repeat(40));
        merge_entry(&mut entries, other);
        assert_eq!(entries.len(), 2);
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
