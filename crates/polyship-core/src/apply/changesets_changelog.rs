//! Changelog sections exactly as changesets writes them, for packages released from changesets in
//! a repository that keeps `.changeset/config.json`: `## 1.2.0`, then `### Major Changes`,
//! `### Minor Changes`, `### Patch Changes`, one line per changeset in the generator's format —
//! `@changesets/changelog-git` (and the CLI's default) or `@changesets/changelog-github` — and
//! the `Updated dependencies` lines; prepended below the file's first line, as changesets'
//! `prependFile` does.

use std::fmt::Write as _;

use crate::changes::changeset::Bump;

/// What the GitHub flavour links to, for one commit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitInfo {
    pub pull: Option<u64>,
    /// The GitHub login to thank.
    pub user: Option<String>,
}

/// The generator to write like.
pub enum Flavour<'a> {
    Git,
    GitHub {
        /// `owner/name`.
        repo: &'a str,
        /// What is known of a commit: from the forge when a token is given, else from the commit.
        info: &'a dyn Fn(&str) -> CommitInfo,
    },
}

/// One changeset as a line of the section: its commit and its whole text.
pub struct Line<'a> {
    pub bump: Bump,
    pub commit: Option<&'a str>,
    pub text: &'a str,
}

/// A dependency the release updated: `name@version`, and the commits of the changesets that
/// released it.
pub struct Updated<'a> {
    pub name: &'a str,
    pub version: &'a str,
}

/// Which changesets' layout a section follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spacing {
    /// Changesets 2: lines joined by a newline, then its prettier pass (the caller's).
    Changesets2,
    /// Changesets 3, with no prettier pass: between two lines as many newlines as the first ends
    /// with and the next starts with, at least one and at most two
    /// (`generateMarkdownForVersionType`); the parts a blank line apart; a final newline.
    Changesets3,
}

/// The section for `version`.
pub fn section(
    version: &str,
    lines: &[Line<'_>],
    dependencies: &[Updated<'_>],
    dependency_commits: &[Option<&str>],
    flavour: &Flavour<'_>,
    spacing: Spacing,
) -> String {
    let by = by_type(lines, dependencies, dependency_commits, flavour);
    let mut parts = vec![format!("## {version}")];
    for (title, entries) in ["Major", "Minor", "Patch"].iter().zip(&by) {
        if entries.is_empty() {
            continue;
        }
        parts.push(match spacing {
            Spacing::Changesets2 => format!("### {title} Changes\n\n{}\n", entries.join("\n")),
            Spacing::Changesets3 => {
                let mut content = format!("### {title} Changes");
                // Two after the heading, as changesets counts them.
                let mut newlines = 2;
                for entry in entries {
                    newlines += entry.len() - entry.trim_start_matches('\n').len();
                    content.push_str(&"\n".repeat(newlines.clamp(1, 2)));
                    content.push_str(entry.trim());
                    newlines = entry.len() - entry.trim_end_matches('\n').len();
                }
                content
            }
        });
    }
    match spacing {
        Spacing::Changesets2 => parts.join("\n"),
        Spacing::Changesets3 => parts.join("\n\n") + "\n",
    }
}

/// Each changeset's line and the dependency line, by bump: major, minor, patch.
fn by_type(
    lines: &[Line<'_>],
    dependencies: &[Updated<'_>],
    dependency_commits: &[Option<&str>],
    flavour: &Flavour<'_>,
) -> [Vec<String>; 3] {
    let mut by: [Vec<String>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    for line in lines {
        let slot = match line.bump {
            Bump::Major => 0,
            Bump::Minor => 1,
            Bump::Patch => 2,
            Bump::None => continue,
        };
        by[slot].push(release_line(line, flavour));
    }
    if !dependencies.is_empty() {
        by[2].push(dependency_line(dependencies, dependency_commits, flavour));
    }
    by
}

fn release_line(line: &Line<'_>, flavour: &Flavour<'_>) -> String {
    match flavour {
        Flavour::Git => {
            let mut lines = line.text.split('\n').map(str::trim_end);
            let first = lines.next().unwrap_or_default();
            let mut out = match line.commit {
                Some(c) => format!("- {}: {first}", &c[..c.len().min(7)]),
                None => format!("- {first}"),
            };
            for l in lines {
                out.push_str("\n  ");
                out.push_str(l);
            }
            out
        }
        Flavour::GitHub { repo, info } => github_line(line, repo, *info),
    }
}

/// `@changesets/changelog-github`: `pr:`, `commit:` and `author:` lines in the summary override
/// what the commit says.
fn github_line(line: &Line<'_>, repo: &str, info: &dyn Fn(&str) -> CommitInfo) -> String {
    let mut pull = None;
    let mut commit: Option<String> = None;
    let mut users: Vec<String> = Vec::new();
    let mut kept: Vec<&str> = Vec::new();
    for l in line.text.split('\n') {
        let t = l.trim();
        let lower = t.to_ascii_lowercase();
        let value = |prefixes: &[&str]| {
            prefixes.iter().find_map(|p| {
                lower.starts_with(p).then(|| {
                    t[p.len()..]
                        .trim()
                        .trim_start_matches(['#', '@'])
                        .to_owned()
                })
            })
        };
        if pull.is_none()
            && let Some(v) = value(&["pull request:", "pr:", "pull:"])
            && let Ok(n) = v.parse::<u64>()
        {
            pull = Some(n);
            continue;
        }
        if commit.is_none()
            && let Some(v) = value(&["commit:"])
            && !v.is_empty()
        {
            commit = Some(v.split_whitespace().next().unwrap_or_default().to_owned());
            continue;
        }
        if let Some(v) = value(&["author:", "user:"])
            && !v.is_empty()
        {
            users.push(v.split_whitespace().next().unwrap_or_default().to_owned());
            continue;
        }
        kept.push(l);
    }
    let text = kept.join("\n");
    let text = text.trim();
    let commit = commit.or_else(|| line.commit.map(str::to_owned));
    let known = commit.as_deref().map(info).unwrap_or_default();
    let pull = pull.or(known.pull);
    let users = if users.is_empty() {
        known.user.into_iter().collect()
    } else {
        users
    };
    let mut prefix = String::new();
    if let Some(n) = pull {
        let _ = write!(prefix, " [#{n}](https://github.com/{repo}/pull/{n})");
    }
    if let Some(c) = &commit {
        let _ = write!(
            prefix,
            " [`{}`](https://github.com/{repo}/commit/{c})",
            &c[..c.len().min(7)]
        );
    }
    if !users.is_empty() {
        let thanks: Vec<String> = users
            .iter()
            .map(|u| format!("[@{u}](https://github.com/{u})"))
            .collect();
        let _ = write!(prefix, " Thanks {}!", thanks.join(", "));
    }
    let mut lines = text.split('\n').map(str::trim_end);
    let first = lines.next().unwrap_or_default();
    let rest: Vec<String> = lines.map(|l| format!("  {l}")).collect();
    let dash = if prefix.is_empty() {
        "-".to_owned()
    } else {
        format!("-{prefix} -")
    };
    format!("\n\n{dash} {first}\n{}", rest.join("\n"))
}

fn dependency_line(
    dependencies: &[Updated<'_>],
    commits: &[Option<&str>],
    flavour: &Flavour<'_>,
) -> String {
    // Without a line above them the dependency items are a list of their own, and prettier (which
    // changesets runs) writes them unindented.
    let indent = if commits.is_empty() && matches!(flavour, Flavour::Git) {
        ""
    } else {
        "  "
    };
    let list = dependencies
        .iter()
        .map(|d| format!("{indent}- {}@{}", d.name, d.version));
    match flavour {
        Flavour::Git => {
            let mut lines: Vec<String> = commits
                .iter()
                .map(|c| match c {
                    Some(c) => format!("- Updated dependencies [{}]", &c[..c.len().min(7)]),
                    None => "- Updated dependencies".to_owned(),
                })
                .collect();
            lines.extend(list);
            lines.join("\n")
        }
        Flavour::GitHub { repo, .. } => {
            let links: Vec<String> = commits
                .iter()
                .flatten()
                .map(|c| {
                    format!(
                        "[`{}`](https://github.com/{repo}/commit/{c})",
                        &c[..c.len().min(7)]
                    )
                })
                .collect();
            let mut out = vec![format!("- Updated dependencies [{}]:", links.join(", "))];
            out.extend(list);
            out.join("\n")
        }
    }
}

/// `existing` with `entry` prepended as changesets does: after the file's first line (its
/// `# name` title), or the whole file when it starts with a version heading; a missing or empty
/// file becomes `# <name>` and the entry.
pub fn prepend(existing: Option<&str>, name: &str, entry: &str) -> String {
    let data = format!("\n\n{}\n", entry.trim());
    let Some(text) = existing.filter(|t| !t.is_empty()) else {
        return format!("# {name}{data}");
    };
    let starts_with_version = text
        .strip_prefix('#')
        .map(|t| t.trim_start_matches('#'))
        .and_then(|t| t.strip_prefix(char::is_whitespace))
        .map(str::trim_start)
        .is_some_and(|t| {
            let digits = t.chars().take_while(char::is_ascii_digit).count();
            digits > 0
                && t[digits..].starts_with('.')
                && t[digits + 1..].starts_with(|c: char| c.is_ascii_digit())
        });
    if starts_with_version {
        return format!("{}{text}", data.trim_start());
    }
    match text.find('\n') {
        None => format!("{text}{data}"),
        Some(i) => format!("{}{data}{}", &text[..i], &text[i + 1..]),
    }
}

/// The GitHub login in a commit author's no-reply address (`123+login@users.noreply.github.com`).
pub fn login_from_email(email: &str) -> Option<String> {
    let local = email.strip_suffix("@users.noreply.github.com")?;
    let login = local.split_once('+').map_or(local, |(_, l)| l);
    (!login.is_empty()).then(|| login.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "abc1234def5678abc1234def5678abc1234def56";

    #[test]
    fn git_flavour_as_changesets_writes_it() {
        let lines = [
            Line {
                bump: Bump::Minor,
                commit: Some(SHA),
                text: "Add a flag\n\nLonger text.",
            },
            Line {
                bump: Bump::Patch,
                commit: None,
                text: "Fix",
            },
        ];
        let deps = [Updated {
            name: "@a/b",
            version: "1.0.1",
        }];
        let out = section(
            "1.1.0",
            &lines,
            &deps,
            &[Some(SHA)],
            &Flavour::Git,
            Spacing::Changesets2,
        );
        assert_eq!(
            out,
            "## 1.1.0\n### Minor Changes\n\n- abc1234: Add a flag\n  \n  Longer text.\n\n### Patch Changes\n\n- Fix\n- Updated dependencies [abc1234]\n  - @a/b@1.0.1\n"
        );
        assert_eq!(
            prepend(Some("# @a/c\n\n## 1.0.0\n"), "@a/c", &out),
            format!("# @a/c\n\n{out}\n## 1.0.0\n")
        );
        assert_eq!(prepend(None, "@a/c", "## 1.0.0\n"), "# @a/c\n\n## 1.0.0\n");
        assert_eq!(
            prepend(Some("## 1.0.0\n"), "x", "## 1.1.0"),
            "## 1.1.0\n## 1.0.0\n"
        );
    }

    /// The expected text is what `changeset version` 3.0.3 wrote for the same changesets.
    #[test]
    fn changesets_3_spaces_lines_by_their_own_newlines_and_keeps_their_whitespace() {
        let sha = "2e77bb6aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        let lines = [
            Line {
                bump: Bump::Minor,
                commit: Some(sha),
                text: "Add a thing\n\nwith a body line",
            },
            Line {
                bump: Bump::Patch,
                commit: Some(sha),
                text: "Fix b",
            },
        ];
        let deps = [Updated {
            name: "b",
            version: "1.0.1",
        }];
        let out = section(
            "1.1.0",
            &lines,
            &deps,
            &[Some(sha)],
            &Flavour::Git,
            Spacing::Changesets3,
        );
        assert_eq!(
            out,
            "## 1.1.0\n\n### Minor Changes\n\n- 2e77bb6: Add a thing\n  \n  with a body line\n\n### Patch Changes\n\n- 2e77bb6: Fix b\n- Updated dependencies [2e77bb6]\n  - b@1.0.1\n"
        );
        // changelog-github's lines start with two newlines and end with one: a blank line between
        // two of them, none before the dependency line (changesets/changesets at `bed45812`).
        let info = |_: &str| CommitInfo::default();
        let github = Flavour::GitHub {
            repo: "o/r",
            info: &info,
        };
        let two = [
            Line {
                bump: Bump::Patch,
                commit: None,
                text: "One",
            },
            Line {
                bump: Bump::Patch,
                commit: None,
                text: "Two",
            },
        ];
        let out = section("1.0.1", &two, &deps, &[None], &github, Spacing::Changesets3);
        assert_eq!(
            out,
            "## 1.0.1\n\n### Patch Changes\n\n- One\n\n- Two\n- Updated dependencies []:\n  - b@1.0.1\n"
        );
    }

    #[test]
    fn github_flavour_links_pull_commit_and_author() {
        let info = |_: &str| CommitInfo {
            pull: Some(12),
            user: Some("octo".into()),
        };
        let flavour = Flavour::GitHub {
            repo: "o/r",
            info: &info,
        };
        let lines = [Line {
            bump: Bump::Patch,
            commit: Some(SHA),
            text: "Fix it",
        }];
        let out = section("1.0.1", &lines, &[], &[], &flavour, Spacing::Changesets2);
        assert_eq!(
            out,
            format!(
                "## 1.0.1\n### Patch Changes\n\n\n\n- [#12](https://github.com/o/r/pull/12) [`abc1234`](https://github.com/o/r/commit/{SHA}) Thanks [@octo](https://github.com/octo)! - Fix it\n\n"
            )
        );
        let overridden = [Line {
            bump: Bump::Patch,
            commit: Some(SHA),
            text: "pr: #7\nauthor: @me\nFix",
        }];
        let out = section(
            "1.0.1",
            &overridden,
            &[],
            &[],
            &flavour,
            Spacing::Changesets2,
        );
        assert!(out.contains("[#7](https://github.com/o/r/pull/7)"), "{out}");
        assert!(
            out.contains("Thanks [@me](https://github.com/me)! - Fix"),
            "{out}"
        );
        assert_eq!(
            login_from_email("123+octo@users.noreply.github.com").as_deref(),
            Some("octo")
        );
        assert_eq!(login_from_email("a@b.c"), None);
    }
}
