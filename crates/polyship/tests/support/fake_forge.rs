//! A local fake of the GitHub and Gitea release APIs — the one part of a release that cannot run
//! for real on a test machine. It keeps releases in memory and answers the endpoints polyship uses:
//! get a release by tag (GitHub hides drafts there, as the real one does), list releases (drafts
//! included), create, and update. Requests without the token get 401.

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

    /// The next `times` requests answer `status`.
    pub fn fail_next(&self, status: u16, times: usize) {
        self.state.lock().expect("forge").fail = Some((status, times));
    }
}

fn to_json(r: &Release, repo: &str, port: u16) -> Value {
    json!({
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
    let text = body.to_string();
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
    let accepted = match kind {
        Kind::GitHub => auth == format!("Bearer {token}") || auth == format!("token {token}"),
        Kind::Gitea => auth == format!("token {token}"),
    };
    if !accepted {
        return respond(&mut conn, 401, &json!({ "message": "Bad credentials" }));
    }
    let (path, query) = full.split_once('?').unwrap_or((&full, ""));
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
    let ["repos", owner, repo, "releases", rest @ ..] = segments.as_slice() else {
        return respond(&mut conn, 404, &not_found);
    };
    let repo_name = format!("{owner}/{repo}");
    let input: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    match (method.as_str(), rest) {
        ("GET", ["tags", tag]) => {
            let tag = decode(tag);
            let found = s.releases.iter().find(|(r, rel)| {
                *r == repo_name && rel.tag == tag && !(kind == Kind::GitHub && rel.draft)
            });
            match found {
                Some((_, rel)) => respond(&mut conn, 200, &to_json(rel, &repo_name, port)),
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
                .map(|(_, rel)| to_json(rel, &repo_name, port))
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
            let value = to_json(&rel, &repo_name, port);
            s.releases.push((repo_name, rel));
            respond(&mut conn, 201, &value)
        }
        ("PATCH", [id]) => {
            let id: u64 = id.parse().unwrap_or(0);
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
            let value = to_json(rel, &repo_name, port);
            respond(&mut conn, 200, &value)
        }
        _ => respond(&mut conn, 404, &not_found),
    }
}
