//! Releasing a Python distribution: the simple repository API (PEP 691 JSON or PEP 503 HTML, a
//! `sha256` per file) says what is published; `python -m build` builds the sdist and wheel from an
//! export of the release commit, `twine upload` uploads them with a token from `TWINE_PASSWORD` or
//! the other tools' variables.

use crate::ecosystem::{Configure, Publish, Settings as EcosystemSettings};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::normalize_name as pep503;
use crate::release::preflight::{Needs, env_nonempty, home, tool_runs};
use crate::release::publish::{Problem, problem, slash};
use crate::release::registry::{
    Presence, Registries, Registry, RegistryError, python_presence, read_presence,
};
use crate::release::tools::{Artifact, Setup, ToolError, io_error, sha256_file};
use crate::workspace::{Ecosystem, Package};

/// How Python distributions are released.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// The Python that runs `build` and `twine` (`[publish.python] command`, else `python3`).
    pub command: String,
    /// Where `twine upload` sends files (`[publish.python] upload`, else PyPI's).
    pub upload: String,
}

impl Publish for super::Python {
    fn default_registry(&self) -> Registry {
        Registry::new("https://pypi.org/")
    }

    /// The index (`[publish.python] index`) with twine's user and password for reads when it is
    /// not PyPI; the Python command and the upload URL.
    fn configure(
        &self,
        cx: &Configure<'_>,
        settings: &mut EcosystemSettings,
        registries: &mut Registries,
        _problems: &mut Vec<Problem>,
    ) {
        use base64::Engine as _;
        let cfg = &cx.config.config.publish.python;
        let index = cfg.index.as_deref();
        let auth = index
            .filter(|i| !i.contains("pypi.org"))
            .and_then(|_| {
                Some((
                    env_nonempty("TWINE_USERNAME")?,
                    env_nonempty("TWINE_PASSWORD")?,
                ))
            })
            .map(|(u, p)| {
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
                )
            });
        registries.set(
            Ecosystem::Python,
            Registry {
                url: index.map_or_else(|| self.default_registry().url, slash),
                auth,
            },
        );
        settings.python = Settings {
            command: cfg.command.clone().unwrap_or_else(|| "python3".to_owned()),
            upload: cfg
                .upload
                .clone()
                .unwrap_or_else(|| "https://upload.pypi.org/legacy/".to_owned()),
        };
    }

    /// Whether `name` `version` is on the registry, with the checksums it records.
    fn presence(
        &self,
        agent: &ureq::Agent,
        registries: &Registries,
        name: &str,
        version: &str,
    ) -> Result<Presence, RegistryError> {
        let registry = registries.get(Ecosystem::Python);
        read_presence(
            agent,
            format!("{}simple/{}/", registry.url, pep503(name)),
            "application/vnd.pypi.simple.v1+json, text/html;q=0.5",
            registry.auth.as_deref(),
            |body| Ok(python_presence(body, name, version)),
        )
    }

    /// The tools and credentials an upload needs; every problem is pushed.
    fn preflight(
        &self,
        needs: &Needs<'_>,
        problems: &mut Vec<Problem>,
        _generated: &mut Vec<String>,
    ) {
        let py = needs.settings.python.command.as_str();
        if !tool_runs(py, &["-m", "build", "--version"]) {
            problems.push(problem(
                format!("`{py} -m build` does not run"),
                format!(
                    "install it with `{py} -m pip install build`, or set `[publish.python] command`"
                ),
            ));
        }
        if !tool_runs(py, &["-m", "twine", "--version"]) {
            problems.push(problem(
                format!("`{py} -m twine` does not run"),
                format!("install it with `{py} -m pip install twine`"),
            ));
        }
        let vars = [
            "TWINE_PASSWORD",
            "MATURIN_PYPI_TOKEN",
            "UV_PUBLISH_TOKEN",
            "PYPI_TOKEN",
        ];
        if !vars.iter().any(|v| env_nonempty(v).is_some()) {
            let pypirc = home().and_then(|h| std::fs::read_to_string(h.join(".pypirc")).ok());
            let has_pypirc =
                pypirc.is_some_and(|t| t.lines().any(|l| l.trim_start().starts_with("password")));
            if !has_pypirc {
                let empty = vars.iter().find(|v| std::env::var_os(v).is_some());
                problems.push(problem(
                    match empty {
                        Some(v) => format!("`{v}` is set but empty"),
                        None => "no token to upload Python distributions: none of `TWINE_PASSWORD`, `MATURIN_PYPI_TOKEN`, `UV_PUBLISH_TOKEN` is set".to_owned(),
                    },
                    "set `TWINE_PASSWORD` to a PyPI API token (username `__token__`)",
                ));
            }
        }
    }

    /// Builds what will be uploaded into `work` (empty).
    fn pack(
        &self,
        setup: &Setup,
        package: &Package,
        work: &Path,
    ) -> Result<Vec<Artifact>, ToolError> {
        let io = io_error(work);
        // Build backends write into their sources (setuptools' `build/` and
        // `*.egg-info`), and a build should see only what is committed: build from an
        // export of the release commit, never in the work tree.
        let src = setup.exported_tree()?.join(&package.path);
        let mut c = Command::new(&setup.settings.python.command);
        c.current_dir(&src)
            .args(["-m", "build", "--sdist", "--wheel", "--outdir"])
            .arg(work)
            .arg(&src);
        setup.run(c, "python -m build")?;
        let mut files: Vec<PathBuf> = fs_err::read_dir(work)
            .map_err(io)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                let n = p.to_string_lossy();
                n.ends_with(".whl") || n.ends_with(".tar.gz")
            })
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|path| {
                Ok(Artifact {
                    checksum: sha256_file(&path).map_err(io)?,
                    path,
                })
            })
            .collect()
    }

    /// Uploads what [`Publish::pack`] built; returns what the tool printed (redacted).
    fn upload(
        &self,
        setup: &Setup,
        _package: &Package,
        artifacts: &[Artifact],
    ) -> Result<String, ToolError> {
        let mut c = Command::new(&setup.settings.python.command);
        c.current_dir(&setup.root)
            .args([
                "-m",
                "twine",
                "upload",
                "--non-interactive",
                "--disable-progress-bar",
                "--repository-url",
                &setup.settings.python.upload,
            ])
            .args(artifacts.iter().map(|a| &a.path));
        // Each tool's token names, mapped to twine's variables.
        if std::env::var_os("TWINE_PASSWORD").is_none() {
            let token = ["MATURIN_PYPI_TOKEN", "UV_PUBLISH_TOKEN", "PYPI_TOKEN"]
                .iter()
                .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()));
            if let Some(token) = token {
                c.env("TWINE_PASSWORD", token);
                if std::env::var_os("TWINE_USERNAME").is_none() {
                    c.env("TWINE_USERNAME", "__token__");
                }
            }
        } else if std::env::var_os("TWINE_USERNAME").is_none() {
            c.env("TWINE_USERNAME", "__token__");
        }
        setup.run(c, "twine upload")
    }
}
