//! A fault-injecting HTTP/1.1 proxy for the tests, in front of a real local registry: it forwards
//! every request unchanged except those a [`Rule`] matches, which it answers with a status, holds,
//! answers as not found (a stale read) or forwards and then drops (a connection lost after upload).
//!
//! Every answer closes its connection (`Connection: close`); npm, cargo, twine and ureq all cope.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// What to do with a matching request.
#[derive(Debug, Clone)]
pub enum Action {
    /// Answer this status with these extra headers, without forwarding.
    Status(u16, Vec<(String, String)>),
    /// Forward, read the whole answer, then close the client's connection without answering.
    DropAfterForward,
    /// Answer 404 without forwarding: the registry does not show it yet.
    Stale,
    /// Wait, then forward.
    Delay(Duration),
    /// Forward only requests whose `Authorization` header is this; answer 401 to others (a
    /// private registry).
    RequireAuth(String),
}

#[derive(Debug, Clone)]
pub struct Rule {
    /// `Some("PUT")`; `None` matches every method.
    pub method: Option<String>,
    /// The path (with its query) contains this; `""` matches every path.
    pub path_contains: String,
    /// How many matching requests the rule applies to.
    pub times: usize,
    /// How many matching requests pass untouched before it applies.
    pub skip: usize,
    /// Only requests whose `User-Agent` contains this (`"npm/"`: npm's own reads).
    pub agent: Option<String>,
    pub action: Action,
}

impl Rule {
    pub fn new(method: Option<&str>, path_contains: &str, times: usize, action: Action) -> Self {
        Self {
            method: method.map(str::to_owned),
            path_contains: path_contains.to_owned(),
            times,
            skip: 0,
            agent: None,
            action,
        }
    }

    /// The rule applies only to requests whose `User-Agent` contains `agent`.
    #[must_use]
    pub fn by_agent(mut self, agent: &str) -> Self {
        self.agent = Some(agent.to_owned());
        self
    }

    /// The rule applies only after `n` matching requests have passed.
    #[must_use]
    pub fn after(mut self, n: usize) -> Self {
        self.skip = n;
        self
    }
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    /// (method, path, status answered; 0 when dropped)
    seen: Vec<(String, String, u16)>,
    /// When each request of `seen` arrived.
    arrived: Vec<Instant>,
}

pub struct Proxy {
    port: u16,
    state: Arc<(Mutex<State>, Condvar)>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    /// Starts on a free loopback port in front of `upstream` (`http://127.0.0.1:4873/`, possibly
    /// with a path prefix).
    pub fn start(upstream: &str) -> Proxy {
        let rest = upstream
            .strip_prefix("http://")
            .expect("the upstream is an http:// URL");
        let (host, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let host = host.to_owned();
        let prefix = format!("/{prefix}");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let state = Arc::new((Mutex::new(State::default()), Condvar::new()));
        let stop = Arc::new(AtomicBool::new(false));
        {
            let state = Arc::clone(&state);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let state = Arc::clone(&state);
                    let host = host.clone();
                    let prefix = prefix.clone();
                    std::thread::spawn(move || {
                        let _ = handle(conn, &host, &prefix, &state);
                    });
                }
            });
        }
        Proxy { port, state, stop }
    }

    /// `http://127.0.0.1:<port>/`
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// Adds a rule; the first unspent matching rule applies.
    pub fn fault(&self, rule: Rule) {
        self.state.0.lock().expect("proxy state").rules.push(rule);
    }

    /// Removes every rule: from now on everything is forwarded.
    pub fn clear(&self) {
        self.state.0.lock().expect("proxy state").rules.clear();
    }

    /// Every request so far: (method, path, status; 0 when dropped).
    pub fn requests(&self) -> Vec<(String, String, u16)> {
        self.state.0.lock().expect("proxy state").seen.clone()
    }

    /// `(method, path, when it arrived)` of every request, in order.
    pub fn arrivals(&self) -> Vec<(String, String, Instant)> {
        let s = self.state.0.lock().expect("proxy state");
        s.seen
            .iter()
            .zip(&s.arrived)
            .map(|((m, p, _), at)| (m.clone(), p.clone(), *at))
            .collect()
    }

    /// Waits up to `timeout` until `count` requests with this method and path part were seen.
    pub fn wait_for(
        &self,
        method: &str,
        path_contains: &str,
        count: usize,
        timeout: Duration,
    ) -> bool {
        let (lock, cvar) = &*self.state;
        let deadline = std::time::Instant::now() + timeout;
        let mut state = lock.lock().expect("proxy state");
        loop {
            let n = state
                .seen
                .iter()
                .filter(|(m, p, _)| m == method && p.contains(path_contains))
                .count();
            if n >= count {
                return true;
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return false;
            }
            state = cvar
                .wait_timeout(state, deadline - now)
                .expect("proxy state")
                .0;
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

/// A request: method, path, headers and the whole body.
pub type Request = (String, String, Vec<(String, String)>, Vec<u8>);

/// Reads one HTTP/1.1 request: request line, headers and the whole body (`Content-Length` or
/// chunked). The fake forge reads its requests with it too.
pub fn read_request(reader: &mut BufReader<TcpStream>) -> std::io::Result<Request> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            if size == 0 {
                let mut end = String::new();
                reader.read_line(&mut end)?;
                break;
            }
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(len) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(len, 0);
        reader.read_exact(&mut body)?;
    }
    Ok((method, path, headers, body))
}

fn handle(
    client: TcpStream,
    host: &str,
    prefix: &str,
    state: &Arc<(Mutex<State>, Condvar)>,
) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_mins(2)))?;
    let mut reader = BufReader::new(client.try_clone()?);
    let (method, path, headers, body) = read_request(&mut reader)?;
    let mut client = client;
    let action = {
        let (lock, cvar) = &**state;
        let mut s = lock.lock().expect("proxy state");
        let action = s
            .rules
            .iter_mut()
            .find(|r| {
                r.times > 0
                    && r.method.as_deref().is_none_or(|m| m == method)
                    && path.contains(&r.path_contains)
                    && r.agent.as_deref().is_none_or(|a| {
                        headers
                            .iter()
                            .any(|(k, v)| k.eq_ignore_ascii_case("user-agent") && v.contains(a))
                    })
            })
            .and_then(|r| {
                if r.skip > 0 {
                    r.skip -= 1;
                    return None;
                }
                r.times -= 1;
                Some(r.action.clone())
            });
        s.seen.push((method.clone(), path.clone(), 0));
        s.arrived.push(Instant::now());
        cvar.notify_all();
        action
    };
    let index = state.0.lock().expect("proxy state").seen.len() - 1;
    let record = |status: u16| {
        let (lock, cvar) = &**state;
        lock.lock().expect("proxy state").seen[index].2 = status;
        cvar.notify_all();
    };
    let answer = |client: &mut TcpStream, status: u16, extra: &[(String, String)]| {
        let body = format!("injected {status}\n");
        let mut head = format!(
            "HTTP/1.1 {status} {}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n",
            reason(status),
            body.len()
        );
        for (k, v) in extra {
            let _ = write!(head, "{k}: {v}\r\n");
        }
        head.push_str("\r\n");
        client.write_all(head.as_bytes())?;
        client.write_all(body.as_bytes())?;
        client.flush()
    };
    match action {
        Some(Action::Status(status, extra)) => {
            answer(&mut client, status, &extra)?;
            record(status);
            return Ok(());
        }
        Some(Action::Stale) => {
            answer(&mut client, 404, &[])?;
            record(404);
            return Ok(());
        }
        Some(Action::Delay(d)) => std::thread::sleep(d),
        Some(Action::RequireAuth(ref wanted)) => {
            let given = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
                .map(|(_, v)| v.as_str());
            if given != Some(wanted.as_str()) {
                answer(&mut client, 401, &[])?;
                record(401);
                return Ok(());
            }
        }
        Some(Action::DropAfterForward) | None => {}
    }
    // Forward.
    let mut upstream = TcpStream::connect(host)?;
    upstream.set_read_timeout(Some(Duration::from_mins(2)))?;
    let target = format!("{}{}", prefix.trim_end_matches('/'), path);
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\n");
    for (k, v) in &headers {
        let lower = k.to_ascii_lowercase();
        if [
            "host",
            "connection",
            "content-length",
            "transfer-encoding",
            "keep-alive",
        ]
        .contains(&lower.as_str())
        {
            continue;
        }
        let _ = write!(head, "{k}: {v}\r\n");
    }
    let _ = write!(
        head,
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    upstream.write_all(head.as_bytes())?;
    upstream.write_all(&body)?;
    upstream.flush()?;
    let mut response = Vec::new();
    upstream.read_to_end(&mut response)?;
    let status = String::from_utf8_lossy(&response[..response.len().min(64)])
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    if matches!(action, Some(Action::DropAfterForward)) {
        let _ = client.shutdown(Shutdown::Both);
        return Ok(());
    }
    client.write_all(&response)?;
    client.flush()?;
    record(status);
    let _ = client.shutdown(Shutdown::Write);
    Ok(())
}
