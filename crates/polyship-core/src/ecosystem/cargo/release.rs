//! Releasing a crate: the sparse index (`cksum`) says what is published, `cargo package` builds
//! the `.crate`, `cargo publish` uploads it; the token comes from the registry's
//! `CARGO_REGISTRY_TOKEN`-style variable or cargo's own credentials file.

use crate::ecosystem::{Configure, Publish, Settings as EcosystemSettings};
use std::path::Path;
use std::process::Command;

use crate::release::preflight::{
    Needs, cargo_credentials_file_has, cargo_token_var, env_nonempty, tool_problem, tool_runs,
};
use crate::release::publish::{Problem, problem, slash};
use crate::release::registry::{
    Presence, Registries, Registry, RegistryError, cargo_index_path, cargo_presence, read_presence,
};
use crate::release::tools::{Artifact, Setup, ToolError, io_error, sha256_file};
use crate::workspace::{Ecosystem, Package};

/// How crates are released.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `cargo publish --registry`: the named registry the crates publish to (`publish =
    /// ["name"]`), `None` for crates.io.
    pub registry: Option<String>,
    /// `[publish.cargo] verify`: whether `cargo publish` builds the crate first.
    pub verify: bool,
}

impl Publish for super::Cargo {
    fn default_registry(&self) -> Registry {
        Registry::new("https://index.crates.io/")
    }

    /// The named registry of the public crates, its sparse index (`[publish.cargo] index`, else
    /// `CARGO_REGISTRIES_<NAME>_INDEX`) and its token for reads.
    fn configure(
        &self,
        cx: &Configure<'_>,
        settings: &mut EcosystemSettings,
        registries: &mut Registries,
        problems: &mut Vec<Problem>,
    ) {
        let cfg = &cx.config.config.publish.cargo;
        let name = cx
            .ws
            .packages
            .iter()
            .find(|p| p.ecosystem == Ecosystem::Cargo && !p.private)
            .and_then(|p| p.registry.clone());
        let index = match (&cfg.index, &name) {
            (Some(i), _) => slash(i),
            (None, None) => self.default_registry().url,
            (None, Some(name)) => {
                let var = format!(
                    "CARGO_REGISTRIES_{}_INDEX",
                    name.to_ascii_uppercase().replace('-', "_")
                );
                if let Some(i) = env_nonempty(&var).filter(|i| i.starts_with("sparse+")) {
                    slash(&i)
                } else {
                    problems.push(problem(
                        format!("polyship reads registry `{name}` over the sparse protocol and does not know its URL"),
                        format!("set `[publish.cargo] index = \"https://…/\"`, or `{var}` to a `sparse+` URL"),
                    ));
                    String::new()
                }
            }
        };
        let auth = name
            .as_deref()
            .and_then(|r| env_nonempty(&cargo_token_var(Some(r))));
        registries.set(Ecosystem::Cargo, Registry { url: index, auth });
        settings.cargo = Settings {
            registry: name,
            verify: cfg.verify.unwrap_or(true),
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
        let registry = registries.get(Ecosystem::Cargo);
        read_presence(
            agent,
            format!("{}{}", registry.url, cargo_index_path(name)),
            "*/*",
            registry.auth.as_deref(),
            |body| cargo_presence(body, version),
        )
    }

    /// The tools and credentials an upload needs; every problem is pushed.
    fn preflight(
        &self,
        needs: &Needs<'_>,
        problems: &mut Vec<Problem>,
        _generated: &mut Vec<String>,
    ) {
        if let Err(why) = tool_runs("cargo", &["--version"], needs.root) {
            let help = if why.contains("toolchain") {
                "install the toolchain the repository pins (`rust-toolchain.toml`): `rustup toolchain install` in the repository"
            } else {
                "install Rust with rustup"
            };
            problems.push(tool_problem("cargo", &why, help));
        }
        let registry = needs.settings.cargo.registry.as_deref();
        let var = cargo_token_var(registry);
        match std::env::var(&var) {
            Ok(v) if v.trim().is_empty() => problems.push(problem(
                format!("`{var}` is set but empty"),
                format!("set `{var}` to the registry's API token"),
            )),
            Ok(_) => {}
            Err(_) if cargo_credentials_file_has(registry) => {}
            Err(_) => problems.push(problem(
                format!(
                    "no token to publish crates to {}: `{var}` is not set",
                    registry.unwrap_or("crates.io")
                ),
                format!("set `{var}`, or run `cargo login` on this machine"),
            )),
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
        let mut c = Command::new("cargo");
        c.current_dir(&setup.root)
            .args(["package", "--quiet", "--no-verify", "--manifest-path"])
            .arg(setup.root.join(&package.manifest))
            .arg("--target-dir")
            .arg(work.join("target"));
        if let Some(r) = &setup.settings.cargo.registry {
            c.args(["--registry", r]);
        }
        setup.run(c, "cargo package")?;
        let version = package.version.as_deref().unwrap_or_default();
        let file = work
            .join("target/package")
            .join(format!("{}-{version}.crate", package.name));
        Ok(vec![Artifact {
            checksum: sha256_file(&file).map_err(io)?,
            path: file,
        }])
    }

    /// Uploads what [`Publish::pack`] built; returns what the tool printed (redacted).
    fn upload(
        &self,
        setup: &Setup,
        package: &Package,
        _artifacts: &[Artifact],
    ) -> Result<String, ToolError> {
        let mut c = Command::new("cargo");
        c.current_dir(&setup.root)
            .args(["publish", "--quiet", "--manifest-path"])
            .arg(setup.root.join(&package.manifest));
        if let Some(r) = &setup.settings.cargo.registry {
            c.args(["--registry", r]);
        }
        if !setup.settings.cargo.verify {
            c.arg("--no-verify");
        }
        setup.run(c, "cargo publish")
    }

    /// `cargo package` resolves dependencies on the registry.
    fn builds_against_registry(&self) -> bool {
        true
    }
}
