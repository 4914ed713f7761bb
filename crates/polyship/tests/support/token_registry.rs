//! Debian's docker-registry behind the Docker token flow, with a local fake token service (named
//! as such: no real token service can be installed here). The registry is real and checks every
//! token itself: the fake service signs RS256 JWTs with a key made by `openssl`, whose
//! certificate is the registry's `rootcertbundle`, and grants only what the credentials allow.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

pub const SERVICE: &str = "polyship-test-registry";
const ISSUER: &str = "polyship-test-token";

/// One request to the token service: its query and whether it carried the right credentials.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub query: String,
    pub authorized: bool,
}

pub struct TokenRegistry {
    /// `127.0.0.1:<port>` of the registry.
    pub registry: String,
    child: Child,
    requests: Arc<Mutex<Vec<TokenRequest>>>,
    _dir: tempfile::TempDir,
}

impl Drop for TokenRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is required (apt-get install -y openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// base64url without padding, as JWTs are written.
fn base64url(bytes: &[u8]) -> String {
    super::base64(bytes)
        .trim_end_matches('=')
        .replace('+', "-")
        .replace('/', "_")
}

impl TokenRegistry {
    /// Starts the token service and a registry that trusts it; `user`/`password` may push.
    pub fn start(user: &str, password: &str) -> TokenRegistry {
        let dir = tempfile::tempdir().expect("tempdir");
        openssl(
            dir.path(),
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "key.pem",
                "-out",
                "cert.pem",
                "-days",
                "2",
                "-subj",
                "/CN=polyship-test-token",
            ],
        );
        let der = openssl(dir.path(), &["x509", "-in", "cert.pem", "-outform", "DER"]);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let token_port = listener.local_addr().expect("addr").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let expected = format!(
            "Basic {}",
            super::base64(format!("{user}:{password}").as_bytes())
        );
        let shared = Arc::clone(&requests);
        let key_dir = dir.path().to_owned();
        let x5c = super::base64(&der);
        let user = user.to_owned();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let _ = serve(conn, &expected, &user, &x5c, &key_dir, &shared);
            }
        });

        let port = free_port();
        let storage = dir.path().join("storage");
        std::fs::create_dir_all(&storage).expect("mkdir");
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog: {{ level: warn }}\nstorage: {{ filesystem: {{ rootdirectory: {} }} }}\nhttp: {{ addr: 127.0.0.1:{port} }}\nauth:\n  token:\n    realm: http://127.0.0.1:{token_port}/token\n    service: {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {}\n",
                storage.display(),
                dir.path().join("cert.pem").display()
            ),
        )
        .expect("config");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry is required (apt-get install -y docker-registry)");
        let registry = format!("127.0.0.1:{port}");
        for _ in 0..100 {
            if TcpStream::connect(&registry).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        TokenRegistry {
            registry,
            child,
            requests,
            _dir: dir,
        }
    }

    pub fn requests(&self) -> Vec<TokenRequest> {
        self.requests.lock().expect("requests").clone()
    }
}

/// Answers one `GET /token?service=…&scope=repository:<name>:<actions>` with a signed token:
/// the actions asked for when the credentials are right, none when they are missing or wrong
/// (as a real token service grants an anonymous user nothing here).
fn serve(
    conn: TcpStream,
    expected: &str,
    user: &str,
    x5c: &str,
    key_dir: &Path,
    requests: &Mutex<Vec<TokenRequest>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let target = line
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let mut authorized = false;
    let mut presented = false;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = header.split_once(':')
            && k.eq_ignore_ascii_case("authorization")
        {
            presented = true;
            authorized = v.trim() == expected;
        }
    }
    let query = target.split_once('?').map_or("", |(_, q)| q).to_owned();
    requests.lock().expect("requests").push(TokenRequest {
        query: query.clone(),
        authorized,
    });
    let mut conn = conn;
    if presented && !authorized {
        // Wrong credentials: refused, as real token services do (anonymous gets a token with
        // no access instead).
        let body = r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#;
        write!(
            conn,
            "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )?;
        return conn.flush();
    }
    let mut access = Vec::new();
    for pair in query.split('&') {
        let Some(scope) = pair.strip_prefix("scope=") else {
            continue;
        };
        let scope = scope
            .replace("%3A", ":")
            .replace("%2C", ",")
            .replace("%2F", "/");
        let mut parts = scope.splitn(3, ':');
        let (Some(kind), Some(name), Some(actions)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let actions: Vec<&str> = if authorized {
            actions.split(',').collect()
        } else {
            Vec::new()
        };
        access.push(serde_json::json!({ "type": kind, "name": name, "actions": actions }));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs();
    let header = serde_json::json!({ "alg": "RS256", "typ": "JWT", "x5c": [x5c] });
    let claims = serde_json::json!({
        "iss": ISSUER,
        "sub": if authorized { user } else { "" },
        "aud": SERVICE,
        "exp": now + 300,
        "nbf": now - 10,
        "iat": now,
        "jti": format!("{now}-{}", requests.lock().expect("requests").len()),
        "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        base64url(header.to_string().as_bytes()),
        base64url(claims.to_string().as_bytes())
    );
    // One connection at a time: one file for what is signed.
    let input = key_dir.join("signing-input");
    std::fs::write(&input, &signing_input)?;
    let out = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign", "key.pem"])
        .arg(&input)
        .current_dir(key_dir)
        .output()?;
    let token = format!("{signing_input}.{}", base64url(&out.stdout));
    let body =
        serde_json::json!({ "token": token, "access_token": token, "expires_in": 300 }).to_string();
    write!(
        conn,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    conn.flush()
}
