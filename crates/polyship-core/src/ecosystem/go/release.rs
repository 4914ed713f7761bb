//! Releasing a Go module: the release is its tag. Nothing is built or uploaded; the module proxy
//! fetches the tagged source when it is first asked for the version.
//!
//! What is published is read where the go command reads it: the first proxy of `GOPROXY`
//! (`https://proxy.golang.org` when unset) answers `<module>/@v/list` with the versions it knows,
//! over HTTP or from a `file://` directory in the proxy layout. A module `GOPRIVATE`/`GONOPROXY`
//! keeps off the proxy, or `GOPROXY=direct`/`off`, has no proxy to ask: its tags alone say.

use std::path::{Path, PathBuf};

use crate::ecosystem::Publish;
use crate::release::preflight::Needs;
use crate::release::publish::Problem;
use crate::release::registry::{Presence, Registries, Registry, RegistryError, read_presence};
use crate::release::tools::{Artifact, Setup, ToolError};
use crate::workspace::{Ecosystem, Package};

impl Publish for super::Go {
    /// The first proxy of `GOPROXY`, as the go command asks.
    fn default_registry(&self) -> Registry {
        Registry::new(first_proxy(std::env::var("GOPROXY").ok().as_deref()))
    }

    fn presence(
        &self,
        agent: &ureq::Agent,
        registries: &Registries,
        name: &str,
        version: &str,
    ) -> Result<Presence, RegistryError> {
        let env = |k: &str| std::env::var(k).ok();
        if keeps_off_proxy(
            name,
            env("GONOPROXY").or_else(|| env("GOPRIVATE")).as_deref(),
        ) {
            return Ok(Presence::Absent);
        }
        let list = format!("{}/@v/list", escape(name));
        let registry = registries.get(Ecosystem::Go);
        match proxy(&registry.url) {
            None => Ok(Presence::Absent),
            Some(Proxy::Dir(dir)) => {
                let file = dir.join(&list);
                match std::fs::read_to_string(&file) {
                    Ok(body) => Ok(listed(&body, version)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Presence::Absent),
                    Err(e) => Err(RegistryError::Unreachable {
                        url: file.display().to_string(),
                        message: e.to_string(),
                    }),
                }
            }
            Some(Proxy::Http { base, auth }) => read_presence(
                agent,
                format!("{base}{list}"),
                "text/plain",
                registry.auth.as_deref().or(auth.as_deref()),
                |body| Ok(listed(body, version)),
            ),
        }
    }

    /// Pushing the tag is the whole release: git, which every release needs, is all it takes.
    fn preflight(&self, _: &Needs<'_>, _: &mut Vec<Problem>, _: &mut Vec<String>) {}

    fn pack(&self, _: &Setup, _: &Package, _: &Path) -> Result<Vec<Artifact>, ToolError> {
        Ok(Vec::new())
    }

    fn upload(&self, _: &Setup, _: &Package, _: &[Artifact]) -> Result<String, ToolError> {
        Ok(String::new())
    }

    fn released_by_tag(&self) -> bool {
        true
    }
}

/// Whether the proxy's list names `version` (`v1.2.3` lines).
fn listed(body: &str, version: &str) -> Presence {
    if body
        .lines()
        .any(|l| l.trim().strip_prefix('v') == Some(version))
    {
        Presence::Published {
            checksums: Vec::new(),
        }
    } else {
        Presence::Absent
    }
}

/// Where the go command would ask first.
#[derive(Debug, PartialEq, Eq)]
enum Proxy {
    /// A base URL ending in `/`, and the `Authorization` its user part gives.
    Http {
        base: String,
        auth: Option<String>,
    },
    Dir(PathBuf),
}

/// The first entry of a `GOPROXY` value (`,` or `|` between entries), the go command's default
/// when it is unset.
fn first_proxy(value: Option<&str>) -> String {
    let value = value
        .filter(|v| !v.trim().is_empty())
        .unwrap_or("https://proxy.golang.org,direct");
    value
        .split([',', '|'])
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// Where a proxy entry answers; `None` for `direct` or `off`.
fn proxy(first: &str) -> Option<Proxy> {
    let first = first.trim();
    if first == "direct" || first == "off" || first.is_empty() {
        return None;
    }
    if let Some(path) = first.strip_prefix("file://") {
        return Some(Proxy::Dir(PathBuf::from(path)));
    }
    // The go command takes a bare host as https.
    let url = if first.contains("://") {
        first.to_owned()
    } else {
        format!("https://{first}")
    };
    let (scheme, rest) = url.split_once("://")?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (auth, host) = match host.rsplit_once('@') {
        Some((user, host)) => {
            use base64::Engine as _;
            let encoded = base64::engine::general_purpose::STANDARD.encode(user);
            (Some(format!("Basic {encoded}")), host)
        }
        None => (None, host),
    };
    let path = path.trim_end_matches('/');
    let base = if path.is_empty() {
        format!("{scheme}://{host}/")
    } else {
        format!("{scheme}://{host}/{path}/")
    };
    Some(Proxy::Http { base, auth })
}

/// A module path as the proxy protocol writes it: each capital letter as `!` and its lower case.
fn escape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if c.is_ascii_uppercase() {
            out.push('!');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether a `GONOPROXY`/`GOPRIVATE` list of path-prefix globs covers `module`.
fn keeps_off_proxy(module: &str, patterns: Option<&str>) -> bool {
    let parts: Vec<&str> = module.split('/').collect();
    patterns.unwrap_or_default().split(',').any(|pattern| {
        let pattern = pattern.trim().trim_end_matches('/');
        let globs: Vec<&str> = pattern.split('/').collect();
        !pattern.is_empty()
            && globs.len() <= parts.len()
            && globs
                .iter()
                .zip(&parts)
                .all(|(g, p)| glob::Pattern::new(g).is_ok_and(|g| g.matches(p)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_proxy_is_asked() {
        let proxy = |v: Option<&str>| proxy(&first_proxy(v));
        assert_eq!(
            proxy(None),
            Some(Proxy::Http {
                base: "https://proxy.golang.org/".to_owned(),
                auth: None
            })
        );
        assert_eq!(proxy(Some("direct")), None);
        assert_eq!(proxy(Some("off")), None);
        assert_eq!(
            proxy(Some("http://127.0.0.1:9/go|https://proxy.golang.org")),
            Some(Proxy::Http {
                base: "http://127.0.0.1:9/go/".to_owned(),
                auth: None
            })
        );
        assert_eq!(
            proxy(Some("file:///srv/goproxy,direct")),
            Some(Proxy::Dir(PathBuf::from("/srv/goproxy")))
        );
        // The user part becomes a header, never part of a URL that an error could show.
        let Some(Proxy::Http { base, auth }) = proxy(Some("https://me:s3cret@goproxy.corp/"))
        else {
            panic!("no proxy")
        };
        assert_eq!(base, "https://goproxy.corp/");
        assert_eq!(auth.as_deref(), Some("Basic bWU6czNjcmV0"));
    }

    #[test]
    fn module_paths_are_escaped_and_private_ones_kept_off() {
        assert_eq!(
            escape("github.com/Azure/go-autorest"),
            "github.com/!azure/go-autorest"
        );
        assert!(keeps_off_proxy(
            "corp.example/team/x",
            Some("*.example,other.org")
        ));
        assert!(keeps_off_proxy("git.corp/a/b", Some("git.corp/a")));
        assert!(!keeps_off_proxy("git.corp/ab", Some("git.corp/a")));
        assert!(!keeps_off_proxy("example.com/x", None));
    }

    #[test]
    fn a_version_is_published_when_the_list_names_it() {
        assert_eq!(
            listed("v1.0.0\nv1.1.0\n", "1.1.0"),
            Presence::Published { checksums: vec![] }
        );
        assert_eq!(listed("v1.0.0\n", "1.1.0"), Presence::Absent);
        assert_eq!(listed("", "1.1.0"), Presence::Absent);
    }
}
