//! Releasing a Python distribution: the simple repository API (PEP 691 JSON or PEP 503 HTML, a
//! `sha256` per file) says what is published; `python -m build` builds the sdist and wheel from an
//! export of the release commit (`maturin build` for a maturin project, whose PEP 517 hook would
//! tag its wheel `linux_*`, which PyPI refuses), `twine upload` uploads them with a token from
//! `TWINE_PASSWORD` or the other tools' variables. Wheels `polyship artifacts wheel` built for
//! more targets are uploaded with them.

use crate::ecosystem::{Configure, Publish, Settings as EcosystemSettings};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::normalize_name as pep503;
use crate::release::preflight::{Needs, env_nonempty, home, tool_problem, tool_runs};
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
        let maturin = needs
            .uploads
            .iter()
            .any(|p| p.ecosystem == Ecosystem::Python && is_maturin(&needs.root.join(&p.path)));
        let root = needs.root;
        if maturin && let Err(why) = tool_runs(py, &["-m", "maturin", "--version"], root) {
            problems.push(tool_problem(
                &format!("{py} -m maturin"),
                &format!("{why} (a maturin project is released)"),
                format!("install it with `{py} -m pip install maturin`"),
            ));
        }
        if let Err(why) = tool_runs(py, &["-m", "build", "--version"], root) {
            problems.push(tool_problem(
                &format!("{py} -m build"),
                &why,
                format!(
                    "install it with `{py} -m pip install build`, or set `[publish.python] command`"
                ),
            ));
        }
        if let Err(why) = tool_runs(py, &["-m", "twine", "--version"], root) {
            problems.push(tool_problem(
                &format!("{py} -m twine"),
                &why,
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
        // Wheels `polyship artifacts wheel` built for this commit, one set per target.
        let store = crate::artifacts::Store::new(
            &setup.git_dir,
            &package.name,
            package.version.as_deref().unwrap_or_default(),
        );
        let prebuilt =
            crate::artifacts::wheel::built(&store, &setup.commit).map_err(|e| ToolError {
                message: crate::diagnostic::chain(&e),
                transient: false,
            })?;
        if !prebuilt.is_empty() {
            c.current_dir(&src)
                .args(["-m", "maturin", "sdist", "--out"])
                .arg(work);
            setup.run(c, "maturin sdist")?;
            for wheel in &prebuilt {
                let to = work.join(wheel.file_name().unwrap_or_default());
                if to.exists() {
                    return Err(ToolError {
                        message: format!(
                            "two targets built `{}`: build each platform once",
                            to.file_name().unwrap_or_default().to_string_lossy()
                        ),
                        transient: false,
                    });
                }
                fs_err::copy(wheel, &to).map_err(io)?;
            }
        } else if is_maturin(&src) {
            // maturin's PEP 517 hook builds with `--compatibility off` (a `linux_*` wheel);
            // `maturin build` checks the binary and tags the wheel with the oldest manylinux or
            // musllinux it complies with, or `[tool.maturin] compatibility`.
            c.current_dir(&src)
                .args(["-m", "maturin", "build"])
                .args(maturin_profile_args(&src))
                .args(["--sdist", "--out"])
                .arg(work);
            setup.run(c, "maturin build")?;
        } else {
            c.current_dir(&src)
                .args(["-m", "build", "--sdist", "--wheel", "--outdir"])
                .arg(work)
                .arg(&src);
            setup.run(c, "python -m build")?;
        }
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
        if pypi(&setup.settings.python.upload)
            && let Some(wheel) = files.iter().find(|f| linux_tagged(f))
        {
            return Err(ToolError {
                message: format!(
                    "`{}` is tagged for plain `linux`, which PyPI refuses: build a manylinux or musllinux wheel (maturin's `[tool.maturin] compatibility = \"manylinux_2_28\"`, or `auditwheel repair`)",
                    wheel.file_name().unwrap_or_default().to_string_lossy()
                ),
                transient: false,
            });
        }
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

/// Whether the project at `dir` builds with maturin.
pub fn is_maturin(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("pyproject.toml"))
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
        .and_then(|t| {
            t.get("build-system")?
                .get("build-backend")?
                .as_str()
                .map(|b| b.starts_with("maturin"))
        })
        .unwrap_or(false)
}

/// How `maturin build` picks the Cargo profile: `[tool.maturin] profile` of the project at `dir`
/// (maturin's own `--release` would override it with `release`), else `--release`.
pub fn maturin_profile_args(dir: &Path) -> Vec<String> {
    let profile = std::fs::read_to_string(dir.join("pyproject.toml"))
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
        .and_then(|t| {
            t.get("tool")?
                .get("maturin")?
                .get("profile")?
                .as_str()
                .map(str::to_owned)
        });
    match profile {
        Some(p) => vec!["--profile".to_owned(), p],
        None => vec!["--release".to_owned()],
    }
}

/// Whether uploads go to PyPI or its test instance, which take Linux wheels only with a manylinux or
/// musllinux tag.
fn pypi(upload: &str) -> bool {
    ["://upload.pypi.org/", "://test.pypi.org/"]
        .iter()
        .any(|h| upload.contains(h))
}

/// A wheel whose platform tag is plain `linux_<arch>` (`name-1.0-py3-none-linux_x86_64.whl`).
fn linux_tagged(file: &Path) -> bool {
    let name = file.file_name().unwrap_or_default().to_string_lossy();
    name.strip_suffix(".whl")
        .and_then(|stem| stem.rsplit('-').next())
        .is_some_and(|platforms| platforms.split('.').any(|p| p.starts_with("linux_")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_linux_wheels_are_told_from_manylinux_ones() {
        assert!(linux_tagged(Path::new("a-1.0-py3-none-linux_x86_64.whl")));
        assert!(linux_tagged(Path::new(
            "a-1.0-cp311-cp311-manylinux_2_28_x86_64.linux_x86_64.whl"
        )));
        assert!(!linux_tagged(Path::new(
            "a-1.0-py3-none-manylinux_2_34_x86_64.whl"
        )));
        assert!(!linux_tagged(Path::new(
            "a-1.0-py3-none-musllinux_1_2_aarch64.whl"
        )));
        assert!(!linux_tagged(Path::new("a-1.0.tar.gz")));
        assert!(pypi("https://upload.pypi.org/legacy/"));
        assert!(!pypi("http://127.0.0.1:8080/"));
    }
}
