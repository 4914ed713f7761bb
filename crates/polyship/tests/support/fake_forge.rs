//! A local fake of the GitHub and Gitea release APIs — the one part of a release that cannot run
//! for real on a test machine. It keeps releases in memory and answers the endpoints polyship uses:
//! get a release by tag (GitHub hides drafts there, as the real one does), list releases (drafts
//! included), create, and update; and a release's assets: list, upload (GitHub's raw upload on
//! its own `uploads` path, Gitea's multipart form), download and delete. Requests without the token
//! get 401.

use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    GitHub,
    Gitea,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub id: u64,
    pub tag: String,
    pub name: String,
    pub body: String,
    pub draft: bool,
    pub prerelease: bool,
}

#[derive(Default)]
struct State {
    /// (owner/repo, release)
    releases: Vec<(String, Release)>,
    requests: Vec<(String, String)>,
    next_id: u64,
    fail: Option<(u16, usize)>,
    /// Commit → (pull request number, its author's login), for `commits/<sha>/pulls`.
    pulls: Vec<(String, u64, String)>,
    /// Commit → its author's login, for `commits/<sha>`.
    authors: Vec<(String, String)>,
    assets: Vec<Asset>,
    /// The next upload is stored, then its connection is closed without an answer.
    cut_next_upload: bool,
    /// The host `upload_url` names instead of the forge's own (a hostile forge).
    upload_host: Option<String>,
    /// Pull requests, by number.
    prs: Vec<Pull>,
    /// The repository's labels (id, name), which Gitea's pull requests take by id.
    labels: Vec<(u64, String)>,
}

/// A pull request of the fake forge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pull {
    pub number: u64,
    pub head: String,
    pub base: String,
    pub title: String,
    pub body: String,
    pub open: bool,
    pub draft: bool,
    pub labels: Vec<String>,
    pub comments: Vec<String>,
}

fn pull_json(p: &Pull, repo: &str, port: u16) -> Value {
    json!({
        "number": p.number,
        "html_url": format!("http://127.0.0.1:{port}/{repo}/pulls/{}", p.number),
        "title": p.title,
        "body": p.body,
        "state": if p.open { "open" } else { "closed" },
        "draft": p.draft,
        "head": { "ref": p.head },
        "base": { "ref": p.base },
        "labels": p.labels.iter().map(|l| json!({ "name": l })).collect::<Vec<_>>(),
    })
}

/// The pulls and issues endpoints: list (GitHub filters by `head=owner:branch`, Gitea lists all),
/// create (refused when one is open from the same branch: 422 on GitHub, 409 on Gitea), update,
/// comment, label.
#[allow(clippy::too_many_arguments)]
fn pulls(
    s: &mut State,
    conn: &mut TcpStream,
    kind: Kind,
    port: u16,
    method: &str,
    repo: &str,
    rest: &[&str],
    query: &str,
    body: &[u8],
) -> Option<std::io::Result<()>> {
    let input: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .map(decode)
    };
    let answer = match (method, rest) {
        ("GET", ["pulls"]) => {
            let head = param("head");
            let list: Vec<Value> = s
                .prs
                .iter()
                .filter(|p| p.open || param("state").as_deref() == Some("all"))
                .filter(|p| match (kind, &head) {
                    (Kind::GitHub, Some(h)) => h.rsplit(':').next() == Some(p.head.as_str()),
                    _ => true,
                })
                .filter(|_| param("page").is_none_or(|p| p == "1"))
                .map(|p| pull_json(p, repo, port))
                .collect();
            respond(conn, 200, &Value::Array(list))
        }
        ("POST", ["pulls"]) => {
            let head = input["head"].as_str().unwrap_or_default().to_owned();
            if s.prs.iter().any(|p| p.open && p.head == head) {
                return Some(match kind {
                    Kind::GitHub => respond(
                        conn,
                        422,
                        &json!({ "message": "Validation Failed", "errors": [{ "message": format!("A pull request already exists for {head}.") }] }),
                    ),
                    Kind::Gitea => respond(
                        conn,
                        409,
                        &json!({ "message": "pull request already exists" }),
                    ),
                });
            }
            let number = s.next_id;
            s.next_id += 1;
            let pull = Pull {
                number,
                head,
                base: input["base"].as_str().unwrap_or_default().to_owned(),
                title: input["title"].as_str().unwrap_or_default().to_owned(),
                body: input["body"].as_str().unwrap_or_default().to_owned(),
                open: true,
                draft: input["draft"].as_bool().unwrap_or(false),
                labels: Vec::new(),
                comments: Vec::new(),
            };
            let value = pull_json(&pull, repo, port);
            s.prs.push(pull);
            respond(conn, 201, &value)
        }
        ("PATCH", ["pulls", n]) => {
            let n: u64 = n.parse().unwrap_or(0);
            let Some(p) = s.prs.iter_mut().find(|p| p.number == n) else {
                return Some(respond(conn, 404, &json!({ "message": "Not Found" })));
            };
            if let Some(t) = input["title"].as_str() {
                t.clone_into(&mut p.title);
            }
            if let Some(b) = input["body"].as_str() {
                b.clone_into(&mut p.body);
            }
            if input["state"] == "closed" {
                p.open = false;
            }
            let value = pull_json(p, repo, port);
            respond(conn, if kind == Kind::Gitea { 201 } else { 200 }, &value)
        }
        ("GET", ["labels"]) => {
            let list: Vec<Value> = s
                .labels
                .iter()
                .filter(|_| param("page").is_none_or(|p| p == "1"))
                .map(|(id, name)| json!({ "id": id, "name": name, "color": "00aabb" }))
                .collect();
            respond(conn, 200, &Value::Array(list))
        }
        ("POST", ["issues", n, what]) => {
            let n: u64 = n.parse().unwrap_or(0);
            if !s.prs.iter().any(|p| p.number == n) {
                return Some(respond(conn, 404, &json!({ "message": "Not Found" })));
            }
            match *what {
                "comments" => {
                    let Some(p) = s.prs.iter_mut().find(|p| p.number == n) else {
                        return Some(respond(conn, 404, &json!({ "message": "Not Found" })));
                    };
                    p.comments
                        .push(input["body"].as_str().unwrap_or_default().to_owned());
                    respond(conn, 201, &json!({ "id": n }))
                }
                "labels" => {
                    // GitHub takes names (and makes missing labels); Gitea before 1.20 takes only
                    // the ids of labels that exist.
                    let mut added = Vec::new();
                    for l in input["labels"].as_array().into_iter().flatten() {
                        match (kind, l) {
                            (Kind::GitHub, Value::String(name)) => added.push(name.clone()),
                            (Kind::Gitea, Value::Number(id)) => {
                                match s.labels.iter().find(|(i, _)| Some(*i) == id.as_u64()) {
                                    Some((_, name)) => added.push(name.clone()),
                                    None => {
                                        return Some(respond(
                                            conn,
                                            404,
                                            &json!({ "message": "label not found" }),
                                        ));
                                    }
                                }
                            }
                            _ => {
                                return Some(respond(
                                    conn,
                                    422,
                                    &json!({ "message": "invalid label" }),
                                ));
                            }
                        }
                    }
                    let Some(p) = s.prs.iter_mut().find(|p| p.number == n) else {
                        return Some(respond(conn, 404, &json!({ "message": "Not Found" })));
                    };
                    p.labels.extend(added);
                    respond(conn, 200, &json!([]))
                }
                _ => respond(conn, 404, &json!({ "message": "Not Found" })),
            }
        }
        _ => return None,
    };
    Some(answer)
}

/// A file attached to a release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    pub id: u64,
    pub release: u64,
    pub name: String,
    pub bytes: Vec<u8>,
    /// GitHub's `starter` state: an upload that never finished.
    pub starter: bool,
}

pub struct FakeForge {
    kind: Kind,
    port: u16,
    state: Arc<Mutex<State>>,
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl FakeForge {
    pub fn start(kind: Kind, token: &str) -> FakeForge {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake forge");
        let port = listener.local_addr().expect("address").port();
        let state = Arc::new(Mutex::new(State {
            next_id: 1,
            ..State::default()
        }));
        let shared = Arc::clone(&state);
        let token = token.to_owned();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let state = Arc::clone(&shared);
                let token = token.clone();
                std::thread::spawn(move || {
                    let _ = serve(conn, kind, port, &token, &state);
                });
            }
        });
        FakeForge { kind, port, state }
    }

    /// The URL git pushes `repo` (`owner/name`) to on this forge; every push is refused (403).
    pub fn git_url(&self, repo: &str) -> String {
        format!("http://127.0.0.1:{}/{repo}.git", self.port)
    }

    pub fn api_url(&self) -> String {
        match self.kind {
            Kind::GitHub => format!("http://127.0.0.1:{}/", self.port),
            Kind::Gitea => format!("http://127.0.0.1:{}/api/v1/", self.port),
        }
    }

    pub fn releases(&self) -> Vec<(String, Release)> {
        self.state.lock().expect("forge").releases.clone()
    }

    pub fn seed(&self, repo: &str, mut release: Release) -> u64 {
        let mut s = self.state.lock().expect("forge");
        release.id = s.next_id;
        s.next_id += 1;
        let id = release.id;
        s.releases.push((repo.to_owned(), release));
        id
    }

    pub fn requests(&self) -> Vec<(String, String)> {
        self.state.lock().expect("forge").requests.clone()
    }

    /// `commit` was merged by pull request `number`, opened by `login`.
    pub fn seed_pull(&self, commit: &str, number: u64, login: &str) {
        self.state
            .lock()
            .expect("forge")
            .pulls
            .push((commit.to_owned(), number, login.to_owned()));
    }

    /// `commit`'s author is the GitHub user `login`.
    pub fn seed_author(&self, commit: &str, login: &str) {
        self.state
            .lock()
            .expect("forge")
            .authors
            .push((commit.to_owned(), login.to_owned()));
    }

    pub fn assets(&self) -> Vec<Asset> {
        self.state.lock().expect("forge").assets.clone()
    }

    /// Attaches a file to a release, as someone else would.
    pub fn seed_asset(&self, release: u64, name: &str, bytes: &[u8]) {
        let mut s = self.state.lock().expect("forge");
        let id = s.next_id;
        s.next_id += 1;
        s.assets.push(Asset {
            id,
            release,
            name: name.to_owned(),
            bytes: bytes.to_vec(),
            starter: false,
        });
    }

    /// An upload of `name` that never finished, as GitHub lists it: state `starter`, and only
    /// the bytes that arrived.
    pub fn seed_starter_asset(&self, release: u64, name: &str, bytes: &[u8]) {
        self.seed_asset(release, name, bytes);
        let mut s = self.state.lock().expect("forge");
        if let Some(a) = s.assets.last_mut() {
            a.starter = true;
        }
    }

    /// The next upload lands, and its connection is closed before the answer.
    pub fn cut_next_upload(&self) {
        self.state.lock().expect("forge").cut_next_upload = true;
    }

    /// Releases name `host` as their upload address.
    pub fn upload_host(&self, host: &str) {
        self.state.lock().expect("forge").upload_host = Some(host.to_owned());
    }

    /// The next `times` requests answer `status`.
    pub fn fail_next(&self, status: u16, times: usize) {
        self.state.lock().expect("forge").fail = Some((status, times));
    }
}

fn to_json(r: &Release, repo: &str, port: u16, upload_host: Option<&str>) -> Value {
    let host = upload_host.map_or_else(|| format!("127.0.0.1:{port}"), str::to_owned);
    json!({
        "upload_url": format!("http://{host}/uploads/repos/{repo}/releases/{}/assets{{?name,label}}", r.id),
        "id": r.id,
        "tag_name": r.tag,
        "name": r.name,
        "body": r.body,
        "draft": r.draft,
        "prerelease": r.prerelease,
        "html_url": format!("http://127.0.0.1:{port}/{repo}/releases/tag/{}", r.tag),
        "url": format!("http://127.0.0.1:{port}/repos/{repo}/releases/{}", r.id),
    })
}

fn respond(conn: &mut TcpStream, status: u16, body: &Value) -> std::io::Result<()> {
    let text = if status == 204 {
        String::new()
    } else {
        body.to_string()
    };
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        text.len()
    );
    conn.write_all(head.as_bytes())?;
    conn.write_all(text.as_bytes())?;
    conn.flush()
}

fn serve(
    conn: TcpStream,
    kind: Kind,
    port: u16,
    token: &str,
    state: &Mutex<State>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut conn = conn;
    let (method, full, headers, body) = super::faults::read_request(&mut reader)?;
    let auth = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let mut s = state.lock().expect("forge");
    s.requests.push((method.clone(), full.clone()));
    if let Some((status, times)) = s.fail
        && times > 0
    {
        s.fail = if times > 1 {
            Some((status, times - 1))
        } else {
            None
        };
        return respond(&mut conn, status, &json!({ "message": "injected" }));
    }
    // The forge's git host refuses every push, as it does a token without write access.
    if full.contains("/info/refs?service=git-receive-pack") {
        let text = format!(
            "Permission to {} denied to github-actions[bot].\n",
            full.split("/info/refs")
                .next()
                .unwrap_or_default()
                .trim_start_matches('/')
        );
        let head = format!(
            "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            text.len()
        );
        conn.write_all(head.as_bytes())?;
        conn.write_all(text.as_bytes())?;
        return conn.flush();
    }
    // A published release's files, without a token: `<owner>/<repo>/releases/download/<tag>/<file>`,
    // the web address `install.sh` and users download from.
    if let ["", owner, repo, "releases", "download", tag, file] =
        full.split('/').collect::<Vec<_>>().as_slice()
    {
        let (repo, tag, file) = (format!("{owner}/{repo}"), decode(tag), decode(file));
        let found = s
            .releases
            .iter()
            .find(|(r, release)| *r == repo && release.tag == tag && !release.draft)
            .and_then(|(_, release)| {
                s.assets
                    .iter()
                    .find(|a| a.release == release.id && a.name == file && !a.starter)
            });
        return match found {
            Some(a) => respond_bytes(&mut conn, &a.bytes),
            None => respond(&mut conn, 404, &json!({ "message": "Not Found" })),
        };
    }
    let accepted = match kind {
        Kind::GitHub => auth == format!("Bearer {token}") || auth == format!("token {token}"),
        Kind::Gitea => auth == format!("token {token}"),
    };
    if !accepted {
        return respond(&mut conn, 401, &json!({ "message": "Bad credentials" }));
    }
    let (path, query) = full.split_once('?').unwrap_or((&full, ""));
    if let Some(id) = path.strip_prefix("/attachments/") {
        let id: u64 = id.parse().unwrap_or(0);
        return match s.assets.iter().find(|a| a.id == id) {
            Some(a) => respond_bytes(&mut conn, &a.bytes),
            None => respond(&mut conn, 404, &json!({ "message": "Not Found" })),
        };
    }
    let (path, upload) = match path.strip_prefix("/uploads") {
        Some(p) if kind == Kind::GitHub => (p, true),
        _ => (path, false),
    };
    let path = match kind {
        Kind::GitHub => path,
        Kind::Gitea => match path.strip_prefix("/api/v1") {
            Some(p) => p,
            None => return respond(&mut conn, 404, &json!({ "message": "Not Found" })),
        },
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let not_found = json!({ "message": "Not Found" });
    if let ["repos", _, _, "commits", sha, rest @ ..] = segments.as_slice() {
        return match rest {
            ["pulls"] => {
                let list: Vec<Value> = s
                    .pulls
                    .iter()
                    .filter(|(c, _, _)| c == sha)
                    .map(|(_, n, login)| json!({ "number": n, "user": { "login": login } }))
                    .collect();
                respond(&mut conn, 200, &Value::Array(list))
            }
            [] => match s.authors.iter().find(|(c, _)| c == sha) {
                Some((_, login)) => respond(
                    &mut conn,
                    200,
                    &json!({ "sha": sha, "author": { "login": login } }),
                ),
                None => respond(&mut conn, 200, &json!({ "sha": sha, "author": null })),
            },
            _ => respond(&mut conn, 404, &not_found),
        };
    }
    if let ["repos", owner, repo, rest @ ..] = segments.as_slice()
        && matches!(rest.first(), Some(&"pulls" | &"issues" | &"labels"))
    {
        let repo = format!("{owner}/{repo}");
        if let Some(answer) = pulls(
            &mut s, &mut conn, kind, port, &method, &repo, rest, query, &body,
        ) {
            return answer;
        }
        return respond(&mut conn, 404, &not_found);
    }
    let ["repos", owner, repo, "releases", rest @ ..] = segments.as_slice() else {
        return respond(&mut conn, 404, &not_found);
    };
    let repo_name = format!("{owner}/{repo}");
    if let Some(answer) = assets(
        &mut s, &mut conn, kind, port, &method, rest, query, &body, upload,
    ) {
        return answer;
    }
    let input: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    match (method.as_str(), rest) {
        ("GET", ["tags", tag]) => {
            let tag = decode(tag);
            let found = s.releases.iter().find(|(r, rel)| {
                *r == repo_name && rel.tag == tag && !(kind == Kind::GitHub && rel.draft)
            });
            match found {
                Some((_, rel)) => respond(
                    &mut conn,
                    200,
                    &to_json(rel, &repo_name, port, s.upload_host.as_deref()),
                ),
                None => respond(&mut conn, 404, &not_found),
            }
        }
        ("GET", []) => {
            let param = |name: &str| {
                query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                    .and_then(|v| v.parse::<usize>().ok())
            };
            let size = param("per_page").or_else(|| param("limit")).unwrap_or(30);
            let page = param("page").unwrap_or(1).max(1);
            let list: Vec<Value> = s
                .releases
                .iter()
                .rev()
                .filter(|(r, _)| *r == repo_name)
                .skip((page - 1) * size)
                .take(size)
                .map(|(_, rel)| to_json(rel, &repo_name, port, s.upload_host.as_deref()))
                .collect();
            respond(&mut conn, 200, &Value::Array(list))
        }
        ("POST", []) => {
            let tag = input["tag_name"].as_str().unwrap_or_default().to_owned();
            if s.releases
                .iter()
                .any(|(r, rel)| *r == repo_name && rel.tag == tag && !rel.draft)
            {
                return match kind {
                    Kind::GitHub => respond(
                        &mut conn,
                        422,
                        &json!({ "message": "Validation Failed", "errors": [{ "resource": "Release", "code": "already_exists", "field": "tag_name" }] }),
                    ),
                    Kind::Gitea => respond(
                        &mut conn,
                        409,
                        &json!({ "message": "Release has already been created" }),
                    ),
                };
            }
            let id = s.next_id;
            s.next_id += 1;
            let rel = Release {
                id,
                tag,
                name: input["name"].as_str().unwrap_or_default().to_owned(),
                body: input["body"].as_str().unwrap_or_default().to_owned(),
                draft: input["draft"].as_bool().unwrap_or(false),
                prerelease: input["prerelease"].as_bool().unwrap_or(false),
            };
            let value = to_json(&rel, &repo_name, port, s.upload_host.as_deref());
            s.releases.push((repo_name, rel));
            respond(&mut conn, 201, &value)
        }
        ("PATCH", [id]) => {
            let id: u64 = id.parse().unwrap_or(0);
            let upload_host = s.upload_host.clone();
            let Some((_, rel)) = s
                .releases
                .iter_mut()
                .find(|(r, rel)| *r == repo_name && rel.id == id)
            else {
                return respond(&mut conn, 404, &not_found);
            };
            if let Some(v) = input["body"].as_str() {
                v.clone_into(&mut rel.body);
            }
            if let Some(v) = input["name"].as_str() {
                v.clone_into(&mut rel.name);
            }
            if let Some(v) = input["draft"].as_bool() {
                rel.draft = v;
            }
            if let Some(v) = input["prerelease"].as_bool() {
                rel.prerelease = v;
            }
            let value = to_json(rel, &repo_name, port, upload_host.as_deref());
            respond(&mut conn, 200, &value)
        }
        _ => respond(&mut conn, 404, &not_found),
    }
}

fn respond_bytes(conn: &mut TcpStream, bytes: &[u8]) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        bytes.len()
    );
    conn.write_all(head.as_bytes())?;
    conn.write_all(bytes)?;
    conn.flush()
}

fn asset_json(a: &Asset, port: u16) -> Value {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(&a.bytes)
        .iter()
        .fold(String::new(), |mut hex, b| {
            use std::fmt::Write as _;
            let _ = write!(hex, "{b:02x}");
            hex
        });
    json!({
        "id": a.id,
        "name": a.name,
        "size": a.bytes.len(),
        "state": if a.starter { "starter" } else { "uploaded" },
        "digest": format!("sha256:{digest}"),
        "browser_download_url": format!("http://127.0.0.1:{port}/attachments/{}", a.id),
    })
}

/// The file of a Gitea upload form: the part named `attachment`.
fn form_file(body: &[u8]) -> Option<Vec<u8>> {
    let start = body.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let first_line_end = body.windows(2).position(|w| w == b"\r\n")?;
    let boundary = &body[..first_line_end];
    let tail = body[start..]
        .windows(boundary.len() + 2)
        .position(|w| &w[..2] == b"\r\n" && &w[2..] == boundary)?;
    let header = String::from_utf8_lossy(&body[..start]);
    header
        .contains("name=\"attachment\"")
        .then(|| body[start..start + tail].to_vec())
}

/// The asset endpoints; `None` when the request is not for one.
#[allow(clippy::too_many_arguments)]
fn assets(
    s: &mut State,
    conn: &mut TcpStream,
    kind: Kind,
    port: u16,
    method: &str,
    rest: &[&str],
    query: &str,
    body: &[u8],
    upload: bool,
) -> Option<std::io::Result<()>> {
    let not_found = json!({ "message": "Not Found" });
    let answer = match (method, rest) {
        ("GET", [id, "assets"]) => {
            let id: u64 = id.parse().unwrap_or(0);
            let list: Vec<Value> = s
                .assets
                .iter()
                .filter(|a| a.release == id)
                .map(|a| asset_json(a, port))
                .collect();
            respond(conn, 200, &Value::Array(list))
        }
        ("POST", [id, "assets"]) => {
            let release: u64 = id.parse().unwrap_or(0);
            if kind == Kind::GitHub && !upload {
                return Some(respond(conn, 404, &not_found));
            }
            let name = decode(
                query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("name="))
                    .unwrap_or_default(),
            );
            let bytes = match kind {
                Kind::GitHub => body.to_vec(),
                Kind::Gitea => match form_file(body) {
                    Some(b) => b,
                    None => {
                        return Some(respond(conn, 400, &json!({ "message": "no attachment" })));
                    }
                },
            };
            if s.assets
                .iter()
                .any(|a| a.release == release && a.name == name)
            {
                return Some(respond(
                    conn,
                    422,
                    &json!({ "message": "Validation Failed", "errors": [{ "code": "already_exists" }] }),
                ));
            }
            let id = s.next_id;
            s.next_id += 1;
            let asset = Asset {
                id,
                release,
                name,
                bytes,
                starter: false,
            };
            let value = asset_json(&asset, port);
            s.assets.push(asset);
            if std::mem::take(&mut s.cut_next_upload) {
                // The bytes landed; the answer never comes.
                return Some(conn.shutdown(std::net::Shutdown::Both));
            }
            respond(conn, 201, &value)
        }
        ("DELETE", ["assets", id] | [_, "assets", id]) => {
            let id: u64 = id.parse().unwrap_or(0);
            let before = s.assets.len();
            s.assets.retain(|a| a.id != id);
            if s.assets.len() == before {
                respond(conn, 404, &not_found)
            } else {
                respond(conn, 204, &Value::Null)
            }
        }
        ("GET", ["assets", id] | [_, "assets", id]) => {
            let id: u64 = id.parse().unwrap_or(0);
            match (kind, s.assets.iter().find(|a| a.id == id)) {
                (_, None) => respond(conn, 404, &not_found),
                (Kind::GitHub, Some(a)) => respond_bytes(conn, &a.bytes),
                (Kind::Gitea, Some(a)) => respond(conn, 200, &asset_json(a, port)),
            }
        }
        _ => return None,
    };
    Some(answer)
}

impl FakeForge {
    /// Every pull request, open or closed.
    /// A label of the repository; its id.
    pub fn seed_label(&self, name: &str) -> u64 {
        let mut s = self.state.lock().expect("forge");
        let id = s.next_id + 100;
        s.next_id += 1;
        s.labels.push((id, name.to_owned()));
        id
    }

    pub fn pull_requests(&self) -> Vec<Pull> {
        self.state.lock().expect("forge").prs.clone()
    }

    /// Removes the asset `name` from every release, as someone else would.
    pub fn remove_asset(&self, name: &str) {
        self.state
            .lock()
            .expect("forge")
            .assets
            .retain(|a| a.name != name);
    }
}
