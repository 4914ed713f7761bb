//! Asking a registry whether a version is published, over its read API: the Cargo sparse index,
//! the npm packument, the Python simple repository API (PEP 503 HTML or PEP 691 JSON). Which API
//! and URL is each ecosystem's to say ([`crate::ecosystem::Publish::presence`]); the requests,
//! retries and the readers of each answer are here.
//!
//! The answer is never a guess: a 200 that lists the version means published (with the registry's
//! checksum, to compare content); a 404, or a 200 without the version, means absent; anything else
//! is an error that says what the registry answered.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

use crate::workspace::Ecosystem;

use crate::ecosystem::python::normalize_name as pep503;

/// What a registry holds of one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presence {
    Absent,
    /// Published; `checksums` are what the registry records of its files (Cargo `cksum`, npm
    /// `integrity` or `shasum`, the `sha256` of every Python file of the version), when it gives them.
    Published {
        checksums: Vec<String>,
    },
}

/// Where one ecosystem's registry answers reads (a base ending with `/`), and the
/// `Authorization` header value a private registry wants for them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registry {
    pub url: String,
    pub auth: Option<String>,
}

impl Registry {
    /// A registry read without credentials.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            auth: None,
        }
    }
}

/// Every ecosystem's registry: those the release configured, else each adapter's default
/// ([`crate::ecosystem::Publish::default_registry`]: crates.io's sparse index, npmjs.org, PyPI,
/// the Go module proxy).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registries {
    configured: BTreeMap<Ecosystem, Registry>,
}

impl Registries {
    /// The registry of `ecosystem`.
    pub fn get(&self, ecosystem: Ecosystem) -> Cow<'_, Registry> {
        match self.configured.get(&ecosystem) {
            Some(r) => Cow::Borrowed(r),
            None => Cow::Owned(ecosystem.adapter().default_registry()),
        }
    }

    pub fn set(&mut self, ecosystem: Ecosystem, registry: Registry) {
        self.configured.insert(ecosystem, registry);
    }

    /// These registries with `ecosystem`'s replaced.
    #[must_use]
    pub fn with(mut self, ecosystem: Ecosystem, registry: Registry) -> Self {
        self.set(ecosystem, registry);
        self
    }
}

/// Why a registry could not say.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("`{url}` answered {status}; polyship does not guess what that means")]
    Status { url: String, status: u16 },
    #[error("`{url}` could not be reached: {message}")]
    Unreachable { url: String, message: String },
    #[error("`{url}` answered something polyship cannot read: {message}")]
    Unreadable { url: String, message: String },
}

/// A blocking HTTP agent for registry and forge requests: statuses are answers, not errors; 30 s
/// per request; the system's certificate authorities (`SSL_CERT_FILE`, else the usual bundle
/// paths), so that a company's TLS-inspecting proxy works as it does for cargo, npm and pip.
pub fn agent() -> ureq::Agent {
    agent_with(Some(Duration::from_secs(30)))
}

/// [`agent`] for transfers of large files (image layers): no limit on a whole request, but 30 s
/// to connect, 60 s to answer, and 60 s for any one read or write of a body (a stalled transfer
/// fails; a slow one finishes).
pub fn transfer_agent() -> ureq::Agent {
    agent_with(None)
}

fn agent_with(global: Option<Duration>) -> ureq::Agent {
    let secs = Duration::from_secs;
    let mut config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(global)
        .timeout_connect(Some(secs(30)))
        .timeout_recv_response(Some(secs(60)))
        .timeout_per_read(global.or(Some(secs(60))))
        .timeout_per_write(global.or(Some(secs(60))))
        .user_agent(concat!("polyship/", env!("CARGO_PKG_VERSION")));
    if let Some(roots) = system_roots() {
        config = config.tls_config(ureq::tls::TlsConfig::builder().root_certs(roots).build());
    }
    config.build().into()
}

/// The system's root certificates, `None` when no bundle is found (then Mozilla's built-in ones).
fn system_roots() -> Option<ureq::tls::RootCerts> {
    let mut paths: Vec<std::path::PathBuf> = std::env::var_os("SSL_CERT_FILE")
        .map(std::path::PathBuf::from)
        .into_iter()
        .collect();
    paths.extend(
        [
            "/etc/ssl/certs/ca-certificates.crt",
            "/etc/pki/tls/certs/ca-bundle.crt",
            "/etc/ssl/cert.pem",
        ]
        .map(std::path::PathBuf::from),
    );
    for path in paths {
        let Ok(pem) = std::fs::read(&path) else {
            continue;
        };
        let certs: Vec<ureq::tls::Certificate<'static>> = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect();
        if !certs.is_empty() {
            return Some(ureq::tls::RootCerts::new_with_certs(&certs));
        }
    }
    None
}

/// The path of a crate's file in a Cargo index: `1/a`, `2/ab`, `3/a/abc`, `se/rd/serde`.
pub fn cargo_index_path(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    match lower.len() {
        0 => String::new(),
        1 => format!("1/{lower}"),
        2 => format!("2/{lower}"),
        3 => format!("3/{}/{lower}", &lower[..1]),
        _ => format!("{}/{}/{lower}", &lower[..2], &lower[2..4]),
    }
}

/// How long a `Retry-After` header asks to wait (seconds form), capped at two minutes.
pub fn retry_after(headers: &ureq::http::HeaderMap) -> Option<Duration> {
    let secs: u64 = headers
        .get("retry-after")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs.min(120)))
}

/// How many times a read is tried before its failure is the answer.
const ATTEMPTS: u32 = 5;

/// GETs `url` with `accept`: `Ok(None)` for 404 and 410, the body for 200, an error otherwise.
/// 429 and 5xx answers and failed connections are retried with backoff (honouring `Retry-After`).
fn get(
    agent: &ureq::Agent,
    url: &str,
    accept: &str,
    auth: Option<&str>,
) -> Result<Option<String>, RegistryError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let backoff = Duration::from_millis(250 << attempt.min(6));
        let mut request = agent.get(url).header("Accept", accept);
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        let mut response = match request.call() {
            Ok(r) => r,
            Err(e) if attempt < ATTEMPTS => {
                let _ = e;
                std::thread::sleep(backoff);
                continue;
            }
            Err(e) => {
                return Err(RegistryError::Unreachable {
                    url: url.to_owned(),
                    message: e.to_string(),
                });
            }
        };
        match response.status().as_u16() {
            200 => {
                return response
                    .body_mut()
                    .with_config()
                    .limit(256 * 1024 * 1024)
                    .read_to_string()
                    .map(Some)
                    .map_err(|e| RegistryError::Unreadable {
                        url: url.to_owned(),
                        message: e.to_string(),
                    });
            }
            404 | 410 => return Ok(None),
            status @ (429 | 500..=599) if attempt < ATTEMPTS => {
                let _ = status;
                std::thread::sleep(retry_after(response.headers()).unwrap_or(backoff));
            }
            status => {
                return Err(RegistryError::Status {
                    url: url.to_owned(),
                    status,
                });
            }
        }
    }
}

/// Whether `name` `version` is on the registry of `ecosystem`
/// ([`crate::ecosystem::Publish::presence`]).
pub fn presence(
    agent: &ureq::Agent,
    registries: &Registries,
    ecosystem: crate::workspace::Ecosystem,
    name: &str,
    version: &str,
) -> Result<Presence, RegistryError> {
    ecosystem
        .adapter()
        .presence(agent, registries, name, version)
}

/// What the registry at `url` holds: absent when it answers 404, else what `read` finds in the
/// answer (a reader's complaint is an unreadable answer from `url`).
pub(crate) fn read_presence(
    agent: &ureq::Agent,
    url: String,
    accept: &str,
    auth: Option<&str>,
    read: impl FnOnce(&str) -> Result<Presence, String>,
) -> Result<Presence, RegistryError> {
    let Some(body) = get(agent, &url, accept, auth)? else {
        return Ok(Presence::Absent);
    };
    read(&body).map_err(|message| RegistryError::Unreadable { url, message })
}

pub(crate) fn cargo_presence(body: &str, version: &str) -> Result<Presence, String> {
    for line in body.lines().filter(|l| !l.trim().is_empty()) {
        let entry: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("an index line is not JSON: {e}"))?;
        if entry.get("vers").and_then(serde_json::Value::as_str) == Some(version) {
            return Ok(Presence::Published {
                checksums: entry
                    .get("cksum")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned)
                    .into_iter()
                    .collect(),
            });
        }
    }
    Ok(Presence::Absent)
}

pub(crate) fn npm_presence(body: &str, version: &str) -> Result<Presence, String> {
    let doc: serde_json::Value =
        serde_json::from_str(body).map_err(|e| format!("the packument is not JSON: {e}"))?;
    let Some(entry) = doc.get("versions").and_then(|v| v.get(version)) else {
        return Ok(Presence::Absent);
    };
    let dist = entry.get("dist");
    // Both: polyship knows the `integrity` of what it packed, and npm's upload notice names the
    // `shasum` of what it uploaded from a directory.
    let checksums = ["integrity", "shasum"]
        .iter()
        .filter_map(|k| {
            dist.and_then(|d| d.get(k))
                .and_then(serde_json::Value::as_str)
        })
        .map(str::to_owned)
        .collect();
    Ok(Presence::Published { checksums })
}

/// The files of `name` `version` in a simple-API page: file names start with the name (any of
/// `-`, `_`, `.` spellings, case-insensitive) followed by `-<version>` and then `-`, `.tar`, `.zip`.
pub(crate) fn python_presence(body: &str, name: &str, version: &str) -> Presence {
    let wanted = pep503(name);
    let matches = |file: &str| {
        let file = file.rsplit('/').next().unwrap_or(file);
        let file = file.split(['#', '?']).next().unwrap_or(file);
        let Some((stem, rest)) = file.split_once(&format!("-{version}")) else {
            return false;
        };
        pep503(stem) == wanted
            && (rest.starts_with('-') || rest.starts_with(".tar") || rest.starts_with(".zip"))
    };
    let mut found = false;
    let mut checksums = Vec::new();
    // PEP 691 JSON.
    if let Ok(doc) = serde_json::from_str::<serde_json::Value>(body)
        && let Some(files) = doc.get("files").and_then(serde_json::Value::as_array)
    {
        for f in files {
            if f.get("filename")
                .and_then(serde_json::Value::as_str)
                .is_some_and(matches)
            {
                found = true;
                checksums.extend(
                    f.get("hashes")
                        .and_then(|h| h.get("sha256"))
                        .and_then(serde_json::Value::as_str)
                        .map(str::to_owned),
                );
            }
        }
    } else {
        // PEP 503 HTML: `<a href="…/name-1.0.0.tar.gz#sha256=…">`.
        for part in body.split("href=\"").skip(1) {
            let href = part.split('"').next().unwrap_or_default();
            if matches(href) {
                found = true;
                checksums.extend(
                    href.split_once("#sha256=")
                        .map(|(_, h)| h.split('&').next().unwrap_or(h).to_owned()),
                );
            }
        }
    }
    if found {
        Presence::Published { checksums }
    } else {
        Presence::Absent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_paths_and_names() {
        assert_eq!(cargo_index_path("a"), "1/a");
        assert_eq!(cargo_index_path("ab"), "2/ab");
        assert_eq!(cargo_index_path("abc"), "3/a/abc");
        assert_eq!(cargo_index_path("Serde_Json"), "se/rd/serde_json");
    }

    #[test]
    fn reads_each_answer() {
        let index = "{\"name\":\"a\",\"vers\":\"1.0.0\",\"cksum\":\"aa\"}\n{\"name\":\"a\",\"vers\":\"1.1.0\",\"cksum\":\"bb\"}\n";
        assert_eq!(
            cargo_presence(index, "1.1.0").unwrap(),
            Presence::Published {
                checksums: vec!["bb".into()]
            }
        );
        assert_eq!(cargo_presence(index, "2.0.0").unwrap(), Presence::Absent);
        assert!(cargo_presence("<html>", "1.0.0").is_err());
        let packument = r#"{"name":"@a/b","versions":{"1.0.0":{"dist":{"integrity":"sha512-x","shasum":"y"}}}}"#;
        assert_eq!(
            npm_presence(packument, "1.0.0").unwrap(),
            Presence::Published {
                checksums: vec!["sha512-x".into(), "y".into()]
            }
        );
        assert_eq!(npm_presence(packument, "1.0.1").unwrap(), Presence::Absent);
        let html = "<a href=\"/packages/acme_tools-1.0.0.tar.gz#sha256=abc\">acme_tools-1.0.0.tar.gz</a>\n<a href=\"/packages/acme_tools-1.0.0rc1-py3-none-any.whl#sha256=def\">x</a>";
        assert_eq!(
            python_presence(html, "Acme.Tools", "1.0.0"),
            Presence::Published {
                checksums: vec!["abc".into()]
            }
        );
        assert_eq!(
            python_presence(html, "acme-tools", "1.0.0rc1"),
            Presence::Published {
                checksums: vec!["def".into()]
            }
        );
        assert_eq!(python_presence(html, "acme-tools", "1.0"), Presence::Absent);
        let json = r#"{"files":[{"filename":"acme_tools-2.0.0-py3-none-any.whl","hashes":{"sha256":"j"}}]}"#;
        assert_eq!(
            python_presence(json, "acme-tools", "2.0.0"),
            Presence::Published {
                checksums: vec!["j".into()]
            }
        );
    }
}
