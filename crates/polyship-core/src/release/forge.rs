//! Forge releases over the GitHub and Gitea REST APIs: one release per tag, never duplicated.
//!
//! An existing release for the tag is updated when its notes differ, or left; an existing draft gets
//! the notes and is published. GitHub hides draft releases from get-by-tag, so a miss there is
//! followed by a listing before anything is created.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Value, json};

/// Which API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, schemars::JsonSchema)]
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

/// One request's parts.
struct Payload<'a> {
    method: &'a str,
    url: &'a str,
    content_type: &'a str,
    body: Option<&'a [u8]>,
    /// Whether the token goes with it: only to the forge's own hosts.
    token: bool,
    retry_dropped: bool,
}

/// A release the forge already has for a tag.
struct Found {
    id: u64,
    body: String,
    url: String,
    draft: bool,
    /// GitHub's upload address template (`…/assets{?name,label}`).
    upload_url: Option<String>,
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
        let bytes = body.map(Value::to_string);
        self.send_raw(
            agent,
            &Payload {
                method,
                url,
                content_type: "application/json",
                body: bytes.as_deref().map(str::as_bytes),
                token: true,
                retry_dropped: true,
            },
        )
    }

    /// Sends a request as [`Self::send`] does; a dropped connection is retried only when
    /// `retry_dropped` (an upload cut after its bytes were sent may have landed).
    fn send_raw(
        &self,
        agent: &ureq::Agent,
        payload: &Payload<'_>,
    ) -> Result<(u16, Value), ForgeError> {
        let Payload { method, url, .. } = *payload;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let mut request = ureq::http::Request::builder()
                .method(method)
                .uri(url)
                .header("Accept", "application/json")
                .header("Content-Type", payload.content_type);
            if payload.token {
                request = request.header("Authorization", self.auth());
            }
            let result = match payload.body {
                Some(b) => request
                    .body(b.to_vec())
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
                        let text = response
                            .body_mut()
                            .with_config()
                            .limit(64 << 20)
                            .read_to_string()
                            .unwrap_or_default();
                        let value = serde_json::from_str(&text).unwrap_or(Value::Null);
                        return Ok((status, value));
                    }
                }
                Err(e) if attempt < 4 && payload.retry_dropped => {
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
                upload_url: v
                    .get("upload_url")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
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

/// A release that assets are attached to.
#[derive(Debug, Clone)]
pub struct AssetRelease {
    pub id: u64,
    pub tag: String,
    upload_url: Option<String>,
}

/// A file attached to a release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    pub id: u64,
    pub name: String,
    pub size: u64,
    /// Its SHA-256 in hex, when the forge says (GitHub's `digest`).
    pub sha256: Option<String>,
    /// `false` for GitHub's `starter` state: an upload that never finished.
    pub complete: bool,
}

/// The host of an `http(s)` URL, without the user and password it may carry.
pub(crate) fn host_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    Some(authority.rsplit_once('@').map_or(authority, |(_, h)| h))
}

impl Forge {
    /// The release of `tag` assets go to, drafts included.
    pub fn asset_release(
        &self,
        agent: &ureq::Agent,
        tag: &str,
    ) -> Result<Option<AssetRelease>, ForgeError> {
        Ok(self.find(agent, tag)?.map(|f| AssetRelease {
            id: f.id,
            tag: tag.to_owned(),
            upload_url: f.upload_url,
        }))
    }

    /// Every asset of `release`.
    pub fn assets(
        &self,
        agent: &ureq::Agent,
        release: &AssetRelease,
    ) -> Result<Vec<Asset>, ForgeError> {
        let mut assets = Vec::new();
        for page in 1..=20 {
            let url = match self.kind {
                ForgeKind::Gitea => self.url(&format!(
                    "releases/{}/assets?limit=50&page={page}",
                    release.id
                )),
                _ => self.url(&format!(
                    "releases/{}/assets?per_page=100&page={page}",
                    release.id
                )),
            };
            let (status, value) = self.send(agent, "GET", &url, None)?;
            if status != 200 {
                return Err(Self::fail(&url, status, &value));
            }
            let Some(list) = value.as_array() else {
                return Err(ForgeError::NotAList { url });
            };
            let before = assets.len();
            assets.extend(list.iter().filter_map(|a| {
                Some(Asset {
                    id: a.get("id")?.as_u64()?,
                    name: a.get("name")?.as_str()?.to_owned(),
                    size: a.get("size")?.as_u64()?,
                    sha256: a
                        .get("digest")
                        .and_then(Value::as_str)
                        .and_then(|d| d.strip_prefix("sha256:"))
                        .map(str::to_owned),
                    complete: a
                        .get("state")
                        .and_then(Value::as_str)
                        .is_none_or(|s| s == "uploaded"),
                })
            }));
            // Gitea lists every attachment at once and ignores paging on older versions.
            if list.is_empty() || assets.len() - before < 50 || self.kind == ForgeKind::Gitea {
                break;
            }
        }
        Ok(assets)
    }

    /// Where an asset named `name` is uploaded. The token goes only to the forge's own hosts: a
    /// release that names another upload host is refused, not followed.
    fn upload_url(&self, release: &AssetRelease, name: &str) -> Result<String, ForgeError> {
        let name = encode_segment(name);
        match self.kind {
            ForgeKind::Gitea | ForgeKind::None => {
                Ok(self.url(&format!("releases/{}/assets?name={name}", release.id)))
            }
            ForgeKind::Github => {
                let Some(template) = &release.upload_url else {
                    return Ok(self.url(&format!("releases/{}/assets?name={name}", release.id)));
                };
                let base = template.split('{').next().unwrap_or(template);
                let api_host = host_of(&self.api).unwrap_or_default();
                let upload_host = host_of(base).unwrap_or_default();
                let trusted = upload_host == api_host
                    || (api_host == "api.github.com" && upload_host == "uploads.github.com")
                    || api_host
                        .strip_prefix("api.")
                        .is_some_and(|d| upload_host == format!("uploads.{d}"));
                if !trusted {
                    return Err(ForgeError::ForeignHost {
                        host: upload_host.to_owned(),
                        api: api_host.to_owned(),
                    });
                }
                Ok(format!("{base}?name={name}"))
            }
        }
    }

    /// Uploads one asset. `Err(Unreachable)` may still have landed: read the assets back.
    pub fn upload_asset(
        &self,
        agent: &ureq::Agent,
        release: &AssetRelease,
        name: &str,
        bytes: &[u8],
    ) -> Result<(), ForgeError> {
        let url = self.upload_url(release, name)?;
        // Gitea takes a form with the file as `attachment`; GitHub the bytes themselves.
        let boundary = "polyship-asset-boundary-8d1f0c";
        let (content_type, body) = match self.kind {
            ForgeKind::Gitea | ForgeKind::None => {
                let mut body = format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"attachment\"; filename=\"{}\"\r\nContent-Type: application/octet-stream\r\n\r\n",
                    name.replace(['"', '\r', '\n'], "_")
                )
                .into_bytes();
                body.extend_from_slice(bytes);
                body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
                (format!("multipart/form-data; boundary={boundary}"), body)
            }
            ForgeKind::Github => ("application/octet-stream".to_owned(), bytes.to_vec()),
        };
        let (status, value) = self.send_raw(
            agent,
            &Payload {
                method: "POST",
                url: &url,
                content_type: &content_type,
                body: Some(&body),
                token: true,
                retry_dropped: false,
            },
        )?;
        match status {
            200 | 201 => Ok(()),
            _ => Err(Self::fail(&url, status, &value)),
        }
    }

    /// Removes an asset (before replacing it).
    pub fn delete_asset(
        &self,
        agent: &ureq::Agent,
        release: &AssetRelease,
        asset: &Asset,
    ) -> Result<(), ForgeError> {
        let url = match self.kind {
            ForgeKind::Gitea | ForgeKind::None => {
                self.url(&format!("releases/{}/assets/{}", release.id, asset.id))
            }
            ForgeKind::Github => self.url(&format!("releases/assets/{}", asset.id)),
        };
        let (status, value) = self.send(agent, "DELETE", &url, None)?;
        match status {
            200 | 204 | 404 => Ok(()),
            _ => Err(Self::fail(&url, status, &value)),
        }
    }

    /// An asset's bytes, through the API (so that a private repository's assets read too).
    pub fn download_asset(
        &self,
        agent: &ureq::Agent,
        release: &AssetRelease,
        asset: &Asset,
    ) -> Result<Vec<u8>, ForgeError> {
        let url = match self.kind {
            ForgeKind::Gitea | ForgeKind::None => {
                self.url(&format!("releases/{}/assets/{}", release.id, asset.id))
            }
            ForgeKind::Github => self.url(&format!("releases/assets/{}", asset.id)),
        };
        let unreachable = |message: String| ForgeError::Unreachable {
            url: url.clone(),
            message,
        };
        if self.kind == ForgeKind::Github {
            let request = ureq::http::Request::builder()
                .method("GET")
                .uri(&url)
                .header("Authorization", self.auth())
                .header("Accept", "application/octet-stream")
                .body(())
                .map_err(|e| unreachable(e.to_string()))?;
            let mut response = agent.run(request).map_err(|e| unreachable(e.to_string()))?;
            let status = response.status().as_u16();
            if status != 200 {
                return Err(Self::fail(&url, status, &Value::Null));
            }
            return response
                .body_mut()
                .with_config()
                .limit(4 << 30)
                .read_to_vec()
                .map_err(|e| unreachable(e.to_string()));
        }
        // Gitea: the attachment's record names its download address.
        let (status, value) = self.send(agent, "GET", &url, None)?;
        if status != 200 {
            return Err(Self::fail(&url, status, &value));
        }
        let Some(download) = value.get("browser_download_url").and_then(Value::as_str) else {
            return Err(ForgeError::NotAList { url });
        };
        let same_host = host_of(download) == host_of(&self.api);
        let mut request = ureq::http::Request::builder().method("GET").uri(download);
        if same_host {
            request = request.header("Authorization", self.auth());
        }
        let request = request.body(()).map_err(|e| unreachable(e.to_string()))?;
        let mut response = agent.run(request).map_err(|e| unreachable(e.to_string()))?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(Self::fail(download, status, &Value::Null));
        }
        response
            .body_mut()
            .with_config()
            .limit(4 << 30)
            .read_to_vec()
            .map_err(|e| unreachable(e.to_string()))
    }
}

/// An open pull request of the forge.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Pull {
    pub number: u64,
    pub url: String,
    pub title: String,
    pub body: String,
}

/// What became of a release pull request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PullOutcome {
    Created,
    Updated,
    Unchanged,
}

impl Forge {
    /// The open pull request from `head` (a branch of this repository) into `base`.
    pub fn open_pull(
        &self,
        agent: &ureq::Agent,
        head: &str,
        base: &str,
    ) -> Result<Option<Pull>, ForgeError> {
        let owner = self.repository.split('/').next().unwrap_or_default();
        for page in 1..=10 {
            let url = match self.kind {
                ForgeKind::Gitea => self.url(&format!("pulls?state=open&limit=50&page={page}")),
                _ => self.url(&format!(
                    "pulls?state=open&head={}&base={}&per_page=100&page={page}",
                    encode_segment(&format!("{owner}:{head}")),
                    encode_segment(base)
                )),
            };
            let (status, value) = self.send(agent, "GET", &url, None)?;
            if status != 200 {
                return Err(Self::fail(&url, status, &value));
            }
            let Some(list) = value.as_array() else {
                return Err(ForgeError::NotAList { url });
            };
            let found = list.iter().find(|p| {
                p["head"]["ref"].as_str() == Some(head) && p["base"]["ref"].as_str() == Some(base)
            });
            if let Some(p) = found {
                return Ok(Some(Pull {
                    number: p["number"].as_u64().unwrap_or_default(),
                    url: html_url(p),
                    title: p["title"].as_str().unwrap_or_default().to_owned(),
                    body: p["body"].as_str().unwrap_or_default().to_owned(),
                }));
            }
            if list.is_empty() {
                break;
            }
        }
        Ok(None)
    }

    /// Makes sure one pull request from `head` into `base` is open with this title and body:
    /// the open one is updated (or left when it says this already), else one is created. A
    /// creation refused because one exists (422 on GitHub, 409 on Gitea: made meanwhile) is
    /// settled by reading it back and updating it.
    #[allow(clippy::too_many_arguments)]
    pub fn ensure_pull(
        &self,
        agent: &ureq::Agent,
        head: &str,
        base: &str,
        title: &str,
        body: &str,
        draft: bool,
        labels: &PullLabels,
    ) -> Result<(PullOutcome, Pull), ForgeError> {
        if let Some(open) = self.open_pull(agent, head, base)? {
            return self.update_pull(agent, open, title, body);
        }
        let url = self.url("pulls");
        let mut request = json!({ "title": title, "body": body, "head": head, "base": base });
        if draft && self.kind == ForgeKind::Github {
            request["draft"] = json!(true);
        }
        let (status, value) = self.send(agent, "POST", &url, Some(&request))?;
        match status {
            200 | 201 => {}
            409 | 422 => {
                if let Some(open) = self.open_pull(agent, head, base)? {
                    return self.update_pull(agent, open, title, body);
                }
                return Err(Self::fail(&url, status, &value));
            }
            _ => return Err(Self::fail(&url, status, &value)),
        }
        let pull = Pull {
            number: value["number"].as_u64().unwrap_or_default(),
            url: html_url(&value),
            title: title.to_owned(),
            body: body.to_owned(),
        };
        if !labels.0.is_empty() {
            let url = self.url(&format!("issues/{}/labels", pull.number));
            let (status, value) =
                self.send(agent, "POST", &url, Some(&json!({ "labels": labels.0 })))?;
            if !(200..300).contains(&status) {
                return Err(Self::fail(&url, status, &value));
            }
        }
        Ok((PullOutcome::Created, pull))
    }

    /// The labels a new pull request gets, as this forge takes them: GitHub takes names (and
    /// makes the missing labels); Gitea the ids of labels that exist (names only since 1.20),
    /// so they are looked up, and a name the repository lacks is an error before anything is
    /// made.
    pub fn pull_labels(
        &self,
        agent: &ureq::Agent,
        names: &[String],
    ) -> Result<PullLabels, ForgeError> {
        Ok(PullLabels(match self.kind {
            ForgeKind::Gitea if !names.is_empty() => self
                .label_ids(agent, names)?
                .into_iter()
                .map(Value::from)
                .collect(),
            _ => names.iter().map(|n| Value::from(n.as_str())).collect(),
        }))
    }

    /// The ids of the repository's labels named `names`; a name it does not have is an error.
    fn label_ids(&self, agent: &ureq::Agent, names: &[String]) -> Result<Vec<u64>, ForgeError> {
        let mut known: Vec<(String, u64)> = Vec::new();
        for page in 1..=20 {
            let url = self.url(&format!("labels?limit=50&page={page}"));
            let (status, value) = self.send(agent, "GET", &url, None)?;
            if status != 200 {
                return Err(Self::fail(&url, status, &value));
            }
            let Some(list) = value.as_array() else {
                return Err(ForgeError::NotAList { url });
            };
            known.extend(
                list.iter()
                    .filter_map(|l| Some((l["name"].as_str()?.to_owned(), l["id"].as_u64()?))),
            );
            if list.len() < 50 {
                break;
            }
        }
        let missing: Vec<&str> = names
            .iter()
            .filter(|n| !known.iter().any(|(k, _)| k == *n))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(ForgeError::UnknownLabels {
                repository: self.repository.clone(),
                labels: missing.join("`, `"),
            });
        }
        Ok(names
            .iter()
            .filter_map(|n| known.iter().find(|(k, _)| k == n).map(|(_, id)| *id))
            .collect())
    }

    fn update_pull(
        &self,
        agent: &ureq::Agent,
        open: Pull,
        title: &str,
        body: &str,
    ) -> Result<(PullOutcome, Pull), ForgeError> {
        if open.title == title && open.body.trim_end() == body.trim_end() {
            return Ok((PullOutcome::Unchanged, open));
        }
        let url = self.url(&format!("pulls/{}", open.number));
        let (status, value) = self.send(
            agent,
            "PATCH",
            &url,
            Some(&json!({ "title": title, "body": body })),
        )?;
        if !(200..300).contains(&status) {
            return Err(Self::fail(&url, status, &value));
        }
        Ok((
            PullOutcome::Updated,
            Pull {
                title: title.to_owned(),
                body: body.to_owned(),
                ..open
            },
        ))
    }

    /// Closes pull request `number` with a comment saying why.
    pub fn close_pull(
        &self,
        agent: &ureq::Agent,
        number: u64,
        comment: &str,
    ) -> Result<(), ForgeError> {
        let url = self.url(&format!("issues/{number}/comments"));
        let (status, value) = self.send(agent, "POST", &url, Some(&json!({ "body": comment })))?;
        if !(200..300).contains(&status) {
            return Err(Self::fail(&url, status, &value));
        }
        let url = self.url(&format!("pulls/{number}"));
        let (status, value) =
            self.send(agent, "PATCH", &url, Some(&json!({ "state": "closed" })))?;
        if !(200..300).contains(&status) {
            return Err(Self::fail(&url, status, &value));
        }
        Ok(())
    }
}

/// The labels of a new pull request, as the forge takes them ([`Forge::pull_labels`]).
#[derive(Debug, Clone, Default)]
pub struct PullLabels(Vec<Value>);

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
    #[error(
        "the repository `{repository}` has no label `{labels}`: Gitea adds only labels that exist; create it in the repository's labels, or leave it out of `[release-pr] labels`"
    )]
    UnknownLabels { repository: String, labels: String },
    #[error("`{url}` did not answer a list")]
    NotAList { url: String },
    #[error(
        "the forge names `{host}` as the upload host, which is not the API's `{api}`; the token is not sent there"
    )]
    ForeignHost { host: String, api: String },
}

/// What a refused request usually means.
fn status_hint(status: u16) -> &'static str {
    match status {
        401 => " (the token was refused: check GITHUB_TOKEN / GITEA_TOKEN)",
        403 | 404 => {
            " (the token may lack the permission this needs: `contents: write` for releases, `pull-requests: write` for pull requests)"
        }
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
