//! Forge releases over the GitHub and Gitea REST APIs: one release per tag, never duplicated.
//!
//! An existing release for the tag is updated when its notes differ, or left; an existing draft gets
//! the notes and is published. GitHub hides draft releases from get-by-tag, so a miss there is
//! followed by a listing before anything is created.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Value, json};

/// Which API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ForgeKind {
    Github,
    Gitea,
    /// No forge releases.
    None,
}

/// Where and how to make releases.
#[derive(Debug, Clone)]
pub struct Forge {
    pub kind: ForgeKind,
    /// The API base, ending with `/`: `https://api.github.com/`, `https://gitea.example/api/v1/`.
    pub api: String,
    /// `owner/repo`.
    pub repository: String,
    pub token: String,
}

/// One release to make.
#[derive(Debug, Clone)]
pub struct ReleaseRequest<'a> {
    pub tag: &'a str,
    pub name: &'a str,
    pub body: &'a str,
    pub prerelease: bool,
    pub commit: &'a str,
}

/// A release the forge already has for a tag.
struct Found {
    id: u64,
    body: String,
    url: String,
    draft: bool,
}

fn html_url(v: &Value) -> String {
    v.get("html_url")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// What became of a release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Created(String),
    Updated(String),
    Unchanged(String),
}

impl Outcome {
    pub fn url(&self) -> &str {
        match self {
            Outcome::Created(u) | Outcome::Updated(u) | Outcome::Unchanged(u) => u,
        }
    }
}

fn encode_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

impl Forge {
    fn url(&self, path: &str) -> String {
        format!("{}repos/{}/{path}", self.api, self.repository)
    }

    fn auth(&self) -> String {
        match self.kind {
            ForgeKind::Gitea => format!("token {}", self.token),
            _ => format!("Bearer {}", self.token),
        }
    }

    /// Sends a request, retrying 429 and 5xx (honouring `Retry-After`) and dropped connections.
    fn send(
        &self,
        agent: &ureq::Agent,
        method: &str,
        url: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), ForgeError> {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let request = ureq::http::Request::builder()
                .method(method)
                .uri(url)
                .header("Authorization", self.auth())
                .header("Accept", "application/json")
                .header("Content-Type", "application/json");
            let result = match body {
                Some(b) => request
                    .body(b.to_string())
                    .map_err(|e| e.to_string())
                    .and_then(|r| agent.run(r).map_err(|e| e.to_string())),
                None => request
                    .body(())
                    .map_err(|e| e.to_string())
                    .and_then(|r| agent.run(r).map_err(|e| e.to_string())),
            };
            let wait = match result {
                Ok(mut response) => {
                    let status = response.status().as_u16();
                    if (status == 429 || status >= 500) && attempt < 4 {
                        super::registry::retry_after(response.headers())
                            .unwrap_or(Duration::from_millis(500 << attempt))
                    } else {
                        let text = response.body_mut().read_to_string().unwrap_or_default();
                        let value = serde_json::from_str(&text).unwrap_or(Value::Null);
                        return Ok((status, value));
                    }
                }
                Err(e) if attempt < 4 => {
                    let _ = e;
                    Duration::from_millis(500 << attempt)
                }
                Err(e) => {
                    return Err(ForgeError::Unreachable {
                        url: url.to_owned(),
                        message: e,
                    });
                }
            };
            std::thread::sleep(wait);
        }
    }

    fn fail(url: &str, status: u16, value: &Value) -> ForgeError {
        ForgeError::Status {
            url: url.to_owned(),
            status,
            message: value
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("no message")
                .to_owned(),
        }
    }

    /// The published (not draft) release of `tag`: its address and notes.
    pub fn published(
        &self,
        agent: &ureq::Agent,
        tag: &str,
    ) -> Result<Option<(String, String)>, ForgeError> {
        Ok(self
            .find(agent, tag)?
            .filter(|f| !f.draft)
            .map(|f| (f.url, f.body)))
    }

    /// The release of `tag`, drafts included.
    fn find(&self, agent: &ureq::Agent, tag: &str) -> Result<Option<Found>, ForgeError> {
        let read = |v: &Value| {
            Some(Found {
                id: v.get("id")?.as_u64()?,
                body: v
                    .get("body")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                url: html_url(v),
                draft: v.get("draft").and_then(Value::as_bool).unwrap_or(false),
            })
        };
        let url = self.url(&format!("releases/tags/{}", encode_segment(tag)));
        let (status, value) = self.send(agent, "GET", &url, None)?;
        match status {
            200 => return Ok(read(&value)),
            404 => {}
            _ => return Err(Self::fail(&url, status, &value)),
        }
        // Drafts: only a listing shows them on GitHub.
        for page in 1..=10 {
            let url = match self.kind {
                ForgeKind::Gitea => self.url(&format!("releases?limit=50&page={page}")),
                _ => self.url(&format!("releases?per_page=100&page={page}")),
            };
            let (status, value) = self.send(agent, "GET", &url, None)?;
            if status != 200 {
                return Err(Self::fail(&url, status, &value));
            }
            let Some(list) = value.as_array() else {
                return Err(ForgeError::NotAList { url });
            };
            if let Some(found) = list
                .iter()
                .find(|r| r.get("tag_name").and_then(Value::as_str) == Some(tag))
            {
                return Ok(read(found));
            }
            if list.is_empty() {
                break;
            }
        }
        Ok(None)
    }

    /// Makes sure `request.tag` has a release with these notes.
    pub fn release(
        &self,
        agent: &ureq::Agent,
        request: &ReleaseRequest<'_>,
    ) -> Result<Outcome, ForgeError> {
        if let Some(found) = self.find(agent, request.tag)? {
            if found.body.trim() == request.body.trim() && !found.draft {
                return Ok(Outcome::Unchanged(found.url));
            }
            // A draft made ahead of the release (by hand or a drafter bot) is this release: it
            // gets the notes and is published, never left hidden or duplicated.
            let mut change = json!({ "body": request.body });
            if found.draft {
                change["draft"] = json!(false);
            }
            let patch = self.url(&format!("releases/{}", found.id));
            let (status, value) = self.send(agent, "PATCH", &patch, Some(&change))?;
            if status != 200 {
                return Err(Self::fail(&patch, status, &value));
            }
            // Publishing a draft gives it its tag's address.
            let url = Some(html_url(&value))
                .filter(|u| !u.is_empty())
                .unwrap_or(found.url);
            return Ok(Outcome::Updated(url));
        }
        let post = self.url("releases");
        let body = json!({
            "tag_name": request.tag,
            "target_commitish": request.commit,
            "name": request.name,
            "body": request.body,
            "draft": false,
            "prerelease": request.prerelease,
        });
        let (status, value) = self.send(agent, "POST", &post, Some(&body))?;
        if status == 201 || status == 200 {
            return Ok(Outcome::Created(html_url(&value)));
        }
        Err(Self::fail(&post, status, &value))
    }
}

/// Why the forge did not make, find or update a release.
#[derive(Debug, thiserror::Error)]
pub enum ForgeError {
    #[error("`{url}` could not be reached: {message}")]
    Unreachable { url: String, message: String },
    #[error("`{url}` answered {status}: {message}{}", status_hint(*.status))]
    Status {
        url: String,
        status: u16,
        message: String,
    },
    #[error("`{url}` did not answer a list")]
    NotAList { url: String },
}

/// What a refused request usually means.
fn status_hint(status: u16) -> &'static str {
    match status {
        401 => " (the token was refused: check GITHUB_TOKEN / GITEA_TOKEN)",
        403 | 404 => " (the token may lack permission to write releases of this repository)",
        _ => "",
    }
}

/// The changelog section of `version`: what follows its release heading, up to the next release.
pub fn changelog_section(changelog: &str, version: &str) -> Option<String> {
    crate::apply::layout::section_of(changelog, version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_version_section() {
        let log = "# Changelog\n\n## 1.3.0 (2026-01-01)\n\n### Features\n\n- a\n\n```\n## not a heading\n```\n## 1.2.0\n\n- old\n";
        assert_eq!(
            changelog_section(log, "1.3.0").unwrap(),
            "### Features\n\n- a\n\n```\n## not a heading\n```"
        );
        assert_eq!(changelog_section(log, "1.2.0").unwrap(), "- old");
        assert_eq!(changelog_section(log, "1.3"), None);
        assert_eq!(
            changelog_section("## [v2.0.0] - x\nbody\n", "2.0.0").unwrap(),
            "body"
        );
        assert_eq!(encode_segment("@a/b@1.0.0"), "%40a%2Fb%401.0.0");
    }
}
