//! Preflight checks that need more than git: the credentials each ecosystem's upload needs, the
//! tools that do it, and the forge to make releases on. Every problem is collected, none stops
//! the others from being found.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::forge::{Forge, ForgeKind};
use super::journal;
use super::publish::{Problem, problem, slash};
use crate::config::LoadedConfig;
use crate::workspace::{Ecosystem, Package};

/// What this release uploads, and where.
pub struct Needs<'a> {
    pub root: &'a Path,
    pub git_dir: &'a Path,
    pub ecosystems: BTreeSet<Ecosystem>,
    /// The packages this release uploads.
    pub uploads: Vec<&'a Package>,
    /// Each ecosystem's own settings.
    pub settings: &'a crate::ecosystem::Settings,
}

/// Checks credentials and tools for every ecosystem with something to upload. Returns the lines
/// of the npm user config a release needs (tokens named by variable), which [`write_npmrc`]
/// writes once preflight has passed.
pub(super) fn credentials_and_tools(needs: &Needs<'_>, problems: &mut Vec<Problem>) -> Vec<String> {
    let mut generated = Vec::new();
    for eco in &needs.ecosystems {
        eco.adapter().preflight(needs, problems, &mut generated);
    }
    generated
}

/// An npm config line that holds a credential written out rather than a `${VARIABLE}`.
pub(crate) fn holds_literal_secret(line: &str) -> bool {
    let Some((k, v)) = line.trim().split_once('=') else {
        return false;
    };
    let k = k.trim();
    let secret = ["_authToken", "_auth", "_password", "password"]
        .iter()
        .any(|s| k.ends_with(s));
    secret && !v.trim().is_empty() && !v.trim().starts_with("${")
}

/// Writes the npm user config a release needs — the user's own settings without credentials,
/// then `//registry/:_authToken=${NPM_TOKEN}` lines that name the token, never its value — with
/// mode 0600, and returns the environment that points npm at it. The caller removes it when the
/// run ends.
pub(super) fn write_npmrc(
    needs: &Needs<'_>,
    generated: &[String],
) -> std::io::Result<Vec<(String, String)>> {
    if generated.is_empty() {
        return Ok(Vec::new());
    }
    let mut text = String::new();
    if let Some(user) = npmrc_files(needs.root, needs.root).pop()
        && let Ok(own) = std::fs::read_to_string(user)
    {
        for line in own.lines().filter(|l| !holds_literal_secret(l)) {
            text.push_str(line);
            text.push('\n');
        }
    }
    for line in generated {
        text.push_str(line);
        text.push('\n');
    }
    let path = npmrc_path(needs.git_dir);
    fs_err::create_dir_all(journal::dir(needs.git_dir))?;
    let _ = std::fs::remove_file(&path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let written = options.open(&path).and_then(|mut f| {
        use std::io::Write as _;
        f.write_all(text.as_bytes())?;
        f.sync_all()
    });
    written.map_err(|e| {
        std::io::Error::new(e.kind(), format!("failed to write {}: {e}", path.display()))
    })?;
    Ok(vec![(
        "NPM_CONFIG_USERCONFIG".to_owned(),
        path.to_string_lossy().into_owned(),
    )])
}

/// Where the generated npm user config lives while a release runs.
pub(super) fn npmrc_path(git_dir: &Path) -> PathBuf {
    journal::dir(git_dir).join("npmrc")
}

pub(crate) fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The environment variable cargo reads a registry's token from.
pub(crate) fn cargo_token_var(registry: Option<&str>) -> String {
    registry.map_or_else(
        || "CARGO_REGISTRY_TOKEN".to_owned(),
        |r| {
            format!(
                "CARGO_REGISTRIES_{}_TOKEN",
                r.to_ascii_uppercase().replace('-', "_")
            )
        },
    )
}

pub(crate) fn home() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from)
}

/// Whether cargo's own credential store has a token for the registry.
pub(crate) fn cargo_credentials_file_has(registry: Option<&str>) -> bool {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".cargo")));
    let Some(cargo_home) = cargo_home else {
        return false;
    };
    for name in ["credentials.toml", "credentials"] {
        let Ok(text) = std::fs::read_to_string(cargo_home.join(name)) else {
            continue;
        };
        let Ok(doc) = text.parse::<toml::Table>() else {
            continue;
        };
        let table = match registry {
            None => doc.get("registry"),
            Some(r) => doc.get("registries").and_then(|t| t.get(r)),
        };
        if table
            .and_then(|t| t.get("token"))
            .and_then(toml::Value::as_str)
            .is_some_and(|t| !t.trim().is_empty())
        {
            return true;
        }
    }
    false
}

/// `//host:port/path/` of a registry URL, the key `.npmrc` files give tokens under.
pub(crate) fn npmrc_key(registry: &str) -> String {
    let rest = registry
        .split_once("://")
        .map_or(registry, |(_, r)| r)
        .trim_end_matches('/');
    format!("//{rest}/")
}

/// The `.npmrc` files npm reads, most specific first.
pub(crate) fn npmrc_files(root: &Path, package_dir: &Path) -> Vec<PathBuf> {
    let mut files = vec![package_dir.join(".npmrc"), root.join(".npmrc")];
    if let Some(user) = std::env::var_os("NPM_CONFIG_USERCONFIG")
        .or_else(|| std::env::var_os("npm_config_userconfig"))
    {
        files.push(PathBuf::from(user));
    } else if let Some(h) = home() {
        files.push(h.join(".npmrc"));
    }
    files
}

/// How an `.npmrc` authenticates to `registry`: `Some(Ok(()))` with a usable token, `Some(Err)`
/// with one that is empty or names an unset variable, `None` when no line is for this registry.
pub(crate) fn npmrc_auth(files: &[PathBuf], registry: &str) -> Option<Result<(), String>> {
    let key = npmrc_key(registry);
    for file in files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            let k = k.trim();
            let is_auth =
                k.ends_with(":_authToken") || k.ends_with(":_auth") || k.ends_with(":_password");
            if !is_auth || !key.starts_with(k.rsplit_once(':').map_or(k, |(p, _)| p)) {
                continue;
            }
            let v = v.trim();
            let value = match v.strip_prefix("${").and_then(|v| v.strip_suffix('}')) {
                Some(var) => match env_nonempty(var) {
                    Some(_) => return Some(Ok(())),
                    None => {
                        return Some(Err(format!(
                            "{}:{}: the npm token comes from `{var}`, which is unset or empty",
                            file.display(),
                            n + 1
                        )));
                    }
                },
                None => v,
            };
            return Some(if value.is_empty() {
                Err(format!(
                    "{}:{}: the npm token is empty",
                    file.display(),
                    n + 1
                ))
            } else {
                Ok(())
            });
        }
    }
    None
}

/// Whether a program runs in `dir` (`program args` exits 0), as the release will run it there
/// (so a `rust-toolchain.toml` or `.nvmrc` shim applies); else why not: "not found", or the
/// first lines of what it printed.
pub(crate) fn tool_runs(program: &str, args: &[&str], dir: &std::path::Path) -> Result<(), String> {
    let out = std::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output();
    match out {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err("not found".to_owned()),
        Err(e) => Err(e.to_string()),
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => {
            let text = super::redact::Redactor::from_env().redact_bytes(if out.stderr.is_empty() {
                &out.stdout
            } else {
                &out.stderr
            });
            let lines: Vec<&str> = text
                .lines()
                .map(str::trim)
                .take_while(|l| !l.to_ascii_lowercase().starts_with("stack backtrace"))
                .filter(|l| !l.is_empty())
                .take(3)
                .collect();
            Err(if lines.is_empty() {
                format!("it exits with {}", out.status)
            } else {
                lines.join(" / ")
            })
        }
    }
}

/// The problem of a tool that does not run: what it said, and how to install it.
pub(crate) fn tool_problem(what: &str, why: &str, help: impl Into<String>) -> Problem {
    Problem {
        machine: true,
        ..problem(format!("`{what}` does not run: {why}"), help)
    }
}

pub(super) fn resolve_forge(
    config: &LoadedConfig,
    remote_url: Option<&str>,
    problems: &mut Vec<Problem>,
) -> Option<Forge> {
    let cfg = &config.config.publish.forge;
    let parsed = remote_url.and_then(crate::apply::changelog::Forge::from_remote);
    let (host, repo_path) = parsed
        .as_ref()
        .and_then(|f| f.url.strip_prefix("https://"))
        .and_then(|r| r.split_once('/'))
        .map_or((None, None), |(h, p)| {
            (Some(h.to_owned()), Some(p.to_owned()))
        });
    let kind = cfg
        .kind
        .unwrap_or(if host.as_deref() == Some("github.com") {
            ForgeKind::Github
        } else {
            ForgeKind::None
        });
    if kind == ForgeKind::None {
        return None;
    }
    let Some(repository) = cfg.repository.clone().or(repo_path) else {
        problems.push(problem(
            "forge releases need the repository's `owner/repo`, and the remote does not say it",
            "set `[publish.forge] repository = \"owner/repo\"`, or `kind = \"none\"`",
        ));
        return None;
    };
    let api = match (&cfg.api, kind) {
        (Some(api), _) => slash(api),
        (None, ForgeKind::Github) => "https://api.github.com/".to_owned(),
        (None, _) => format!("https://{}/api/v1/", host.unwrap_or_default()),
    };
    let vars: &[&str] = if kind == ForgeKind::Gitea {
        &["GITEA_TOKEN"]
    } else {
        &["GITHUB_TOKEN", "GH_TOKEN"]
    };
    let token = vars.iter().find_map(|v| env_nonempty(v));
    let Some(token) = token else {
        let empty = vars.iter().any(|v| std::env::var_os(v).is_some());
        problems.push(problem(
            format!(
                "forge releases need a token: `{}` is {}",
                vars.join("` or `"),
                if empty { "empty" } else { "not set" }
            ),
            "set it, or turn forge releases off with `[publish.forge] kind = \"none\"`",
        ));
        return None;
    };
    Some(Forge {
        kind,
        api,
        repository,
        token,
    })
}
