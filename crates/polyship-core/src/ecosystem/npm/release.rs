//! Releasing an npm package: the packument (`integrity`, `shasum`) says what is published; npm,
//! pnpm or yarn packs (the client whose workspace protocol the repository uses), `npm publish`
//! uploads, a prerelease to its own dist-tag; credentials are `.npmrc` auth lines or `NPM_TOKEN`,
//! sent only to the configured registry.

use crate::ecosystem::{Configure, Publish, Settings as EcosystemSettings};
use std::borrow::Cow;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use crate::artifacts::npm::PlatformPackage;
use crate::release::preflight::{
    Needs, env_nonempty, holds_literal_secret, npmrc_auth, npmrc_files, npmrc_key, tool_problem,
    tool_runs,
};
use crate::release::publish::{Problem, problem, slash};
use crate::release::registry::{
    Presence, Registries, Registry, RegistryError, npm_presence, read_presence,
};
use crate::release::tools::{
    Artifact, NpmClient, Setup, ToolError, check_packed_manifest, integrity_file, io_error,
    only_file,
};
use crate::workspace::{Ecosystem, Package};
use serde_json::Value;

/// How npm packages are released.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// The client that packs: the one whose workspace protocol the repository uses.
    pub client: NpmClient,
    /// The configured registry (`[publish.npm] registry`, else npmjs.org): where packages without
    /// their own publish to, and the only one `NPM_TOKEN` is ever sent to.
    pub registry: String,
    /// `npm publish --access`: `[publish.npm] access`, else `.changeset/config.json`'s.
    pub access: Option<String>,
    /// Extra environment for npm (a generated user config carrying `${NPM_TOKEN}`).
    pub env: Vec<(String, String)>,
    /// `[[publish.npm.binary]]`: packages that ship a crate's binaries in platform packages.
    pub binaries: Vec<crate::config::NpmBinaryConfig>,
}

impl Publish for super::Npm {
    fn default_registry(&self) -> Registry {
        Registry::new("https://registry.npmjs.org/")
    }

    /// The configured registry and its token for reads, the client, the access.
    fn configure(
        &self,
        cx: &Configure<'_>,
        settings: &mut EcosystemSettings,
        registries: &mut Registries,
        problems: &mut Vec<Problem>,
    ) {
        let cfg = &cx.config.config.publish.npm;
        // An entry that names no package of the repository would ship nothing, silently.
        for binary in &cfg.binaries {
            let has = |ecosystem: Ecosystem, name: &str| {
                cx.ws
                    .packages
                    .iter()
                    .any(|p| p.ecosystem == ecosystem && p.name == name)
            };
            if !has(Ecosystem::Npm, binary.package_name()) {
                problems.push(problem(
                    format!(
                        "`[[publish.npm.binary]] package = \"{}\"` is not an npm package of the repository",
                        binary.package
                    ),
                    "name the launcher's npm package (`polyship list` shows them), or declare it with `[[package]]`",
                ));
            }
            if !has(Ecosystem::Cargo, binary.crate_name()) {
                problems.push(problem(
                    format!(
                        "`[[publish.npm.binary]] crate = \"{}\"` is not a crate of the repository",
                        binary.krate
                    ),
                    "name the Cargo package whose binaries the platform packages hold (`polyship list` shows them)",
                ));
            }
        }
        let registry = cfg
            .registry
            .as_deref()
            .map_or_else(|| self.default_registry().url, slash);
        let auth = ["NPM_TOKEN", "NODE_AUTH_TOKEN"]
            .iter()
            .find_map(|v| env_nonempty(v))
            .map(|t| format!("Bearer {t}"));
        registries.set(
            Ecosystem::Npm,
            Registry {
                url: registry.clone(),
                auth,
            },
        );
        settings.npm = Settings {
            client: NpmClient::detect(cx.root),
            registry,
            access: cfg
                .access
                .clone()
                .or_else(|| cx.changesets.and_then(|c| c.access.clone())),
            env: Vec::new(),
            binaries: cfg.binaries.clone(),
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
        // Scoped names keep their `@` and encode the `/`.
        let registry = registries.get(Ecosystem::Npm);
        read_presence(
            agent,
            format!("{}{}", registry.url, name.replace('/', "%2f")),
            "application/json",
            registry.auth.as_deref(),
            |body| npm_presence(body, version),
        )
    }

    /// The tools and credentials an upload needs; every problem is pushed.
    fn preflight(
        &self,
        needs: &Needs<'_>,
        problems: &mut Vec<Problem>,
        generated: &mut Vec<String>,
    ) {
        if let Err(why) = tool_runs("npm", &["--version"], needs.root) {
            problems.push(tool_problem("npm", &why, "install Node.js with npm"));
        }
        if needs.settings.npm.client == NpmClient::Pnpm && !needs.root.join("node_modules").is_dir()
        {
            problems.push(Problem {
                machine: true,
                ..problem(
                    "pnpm packs only an installed workspace, and this one has no `node_modules`",
                    "run `pnpm install` (or `pnpm install --frozen-lockfile` in CI) first",
                )
            });
        }
        let client = needs.settings.npm.client.program();
        if needs.settings.npm.client != NpmClient::Npm
            && let Err(why) = tool_runs(client, &["--version"], needs.root)
        {
            problems.push(tool_problem(
                client,
                &format!("{why} (this workspace packs with it)"),
                format!("install {client}: it rewrites `workspace:` requirements when packing"),
            ));
        }
        let env_token = ["NPM_TOKEN", "NODE_AUTH_TOKEN"]
            .iter()
            .find(|v| env_nonempty(v).is_some());
        // Every registry the npm packages go to: the configured one, or their own.
        let mut registries: Vec<String> = needs
            .uploads
            .iter()
            .filter(|p| p.ecosystem == Ecosystem::Npm)
            .map(|p| {
                p.registry
                    .as_deref()
                    .map_or_else(|| needs.settings.npm.registry.clone(), slash)
            })
            .collect();
        registries.sort();
        registries.dedup();
        for reg in &registries {
            match npmrc_auth(&npmrc_files(needs.root, needs.root), reg) {
                Some(Ok(())) => {}
                Some(Err(e)) => problems.push(problem(
                    e,
                    "set the variable, or put the token in the environment as `NPM_TOKEN`",
                )),
                // `NPM_TOKEN` is the configured registry's credential, and only its.
                None if *reg != needs.settings.npm.registry => problems.push(problem(
                    format!(
                        "a package publishes to {reg} (its `publishConfig.registry`), and no credential is configured for it; `NPM_TOKEN` is sent only to {}",
                        needs.settings.npm.registry
                    ),
                    format!(
                        "add `{}:_authToken=${{VARIABLE}}` to `.npmrc`, naming the variable that holds that registry's token",
                        npmrc_key(reg)
                    ),
                )),
                None => {
                    if let Some(var) = env_token {
                        generated.push(format!("{}:_authToken=${{{var}}}", npmrc_key(reg)));
                    } else {
                        let empty = ["NPM_TOKEN", "NODE_AUTH_TOKEN"]
                            .iter()
                            .find(|v| std::env::var_os(v).is_some());
                        problems.push(problem(
                            match empty {
                                Some(v) => format!("`{v}` is set but empty"),
                                None => format!("no npm token for {reg}: `NPM_TOKEN` is not set and no `.npmrc` has an auth line for it"),
                            },
                            format!("set `NPM_TOKEN`, or add `{}:_authToken=${{NPM_TOKEN}}` to `.npmrc`", npmrc_key(reg)),
                        ));
                    }
                }
            }
        }
        platform_preflight(needs, problems);
        if !generated.is_empty()
            && let Some(user) = npmrc_files(needs.root, needs.root).pop()
            && let Ok(text) = std::fs::read_to_string(&user)
            && let Some(literal) = text.lines().position(holds_literal_secret)
        {
            // The generated user config replaces the user's own, which holds a token
            // written out: copying it would put a secret in another file.
            problems.push(problem(
                format!(
                    "{}:{}: this npm config holds a token written out, and polyship will not copy it into the config it gives npm",
                    user.display(),
                    literal + 1
                ),
                "reference the token by variable there (`//registry/:_authToken=${NPM_TOKEN}`), or remove the line",
            ));
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
        let dir = setup.root.join(&package.path);
        let mut c = Command::new(setup.settings.npm.client.program());
        c.current_dir(&dir)
            .envs(setup.settings.npm.env.iter().cloned());
        match setup.settings.npm.client {
            NpmClient::Npm | NpmClient::Pnpm => c.args(["pack", "--pack-destination"]).arg(work),
            NpmClient::Yarn => c.args(["pack", "--out"]).arg(work.join("package.tgz")),
        };
        setup.run(c, &format!("{} pack", setup.settings.npm.client.program()))?;
        let file = only_file(work, ".tgz").map_err(io)?;
        check_packed_manifest(&file, package)?;
        Ok(vec![Artifact {
            checksum: integrity_file(&file).map_err(io)?,
            path: file,
        }])
    }

    /// Uploads what [`Publish::pack`] built; returns what the tool printed (redacted).
    fn upload(
        &self,
        setup: &Setup,
        package: &Package,
        artifacts: &[Artifact],
    ) -> Result<String, ToolError> {
        let mut printed = publish_platforms(setup, package)?;
        let mut c = publish_command(setup, package, &setup.root.join(&package.path));
        c.args(artifacts.iter().map(|a| &a.path));
        printed.push_str(&setup.run(c, "npm publish")?);
        Ok(printed)
    }

    /// npm packs what it publishes and rewrites nothing: in an npm workspace, one `npm publish`
    /// from the directory instead of `npm pack` then `npm publish <tarball>`.
    fn publishes_from_directory(&self, setup: &Setup) -> bool {
        setup.settings.npm.client == NpmClient::Npm
    }

    /// npm records an `integrity` (`sha512-`).
    fn checksum(&self, path: &Path) -> std::io::Result<String> {
        integrity_file(path)
    }

    /// A package's own `publishConfig.registry`, when it names one; a credential goes only to the
    /// registry it was configured for.
    fn registries_for<'a>(
        &self,
        package: &Package,
        registries: &'a Registries,
    ) -> Cow<'a, Registries> {
        let Some(own) = &package.registry else {
            return Cow::Borrowed(registries);
        };
        let url = slash(own);
        if url == registries.get(Ecosystem::Npm).url {
            return Cow::Borrowed(registries);
        }
        // Its own registry gets no credential configured for another.
        Cow::Owned(registries.clone().with(Ecosystem::Npm, Registry::new(url)))
    }
}

/// `npm publish` to `package`'s registry with the release's access and dist-tag, run in `dir`;
/// what to publish is added by the caller.
fn publish_command(setup: &Setup, package: &Package, dir: &Path) -> Command {
    let registry = package
        .registry
        .as_deref()
        .unwrap_or(&setup.settings.npm.registry);
    let mut c = Command::new("npm");
    c.current_dir(dir)
        .envs(setup.settings.npm.env.iter().cloned())
        .arg("publish");
    c.args(["--registry", registry]);
    if let Some(access) = &setup.settings.npm.access {
        c.args(["--access", access]);
    }
    let version = package.version.as_deref().unwrap_or_default();
    if let Ok(v) = semver::Version::parse(version)
        && let Some(first) = v.pre.as_str().split('.').next()
        && !first.is_empty()
    {
        // A prerelease goes to its own dist-tag, never `latest`.
        let tag = if first.chars().all(|c| c.is_ascii_digit()) {
            "next"
        } else {
            first
        };
        c.args(["--tag", tag]);
    }
    c
}

/// The platform packages `package` ships, planned from the builds of this commit.
fn platforms_of(
    settings: &Settings,
    git_dir: &Path,
    commit: &str,
    package: &Package,
) -> Option<Result<Vec<(PlatformPackage, crate::artifacts::Build)>, String>> {
    let binary = settings.binaries.iter().find(|b| b.is_for(&package.name))?;
    let version = package.version.as_deref().unwrap_or_default();
    let store = crate::artifacts::Store::new(git_dir, binary.crate_name(), version);
    Some(
        crate::artifacts::npm::planned(&store, commit, binary.name_template(), &package.name)
            .map_err(|why| {
                format!(
                    "`{}` ships the binaries of the crate `{}` {version} in platform packages, but {why}",
                    package.name,
                    binary.crate_name()
                )
            }),
    )
}

/// What a dry run says of the platform packages each of `packages` would publish before it:
/// `` `polyship` 1.2.0 publishes its platform packages first: `@polyship/cli-linux-x64`
/// (x86_64-unknown-linux-gnu) ``. Packages without builds are preflight's to report.
pub(crate) fn platform_notes(
    settings: &Settings,
    git_dir: &Path,
    commit: &str,
    packages: &[&Package],
) -> Vec<String> {
    packages
        .iter()
        .filter(|p| p.ecosystem == Ecosystem::Npm)
        .filter_map(|p| match platforms_of(settings, git_dir, commit, p)? {
            Ok(planned) if !planned.is_empty() => Some(format!(
                "`{}` {} publishes its platform packages first: {}",
                p.name,
                p.version.as_deref().unwrap_or_default(),
                planned
                    .iter()
                    .map(|(pp, _)| format!("`{}` ({})", pp.name, pp.target))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            _ => None,
        })
        .collect()
}

/// Each package that ships binaries has a build of this commit for some platform, and lists every
/// platform package it will publish in `optionalDependencies` at its own version.
fn platform_preflight(needs: &Needs<'_>, problems: &mut Vec<Problem>) {
    let settings = &needs.settings.npm;
    if settings.binaries.is_empty() {
        return;
    }
    let redactor = crate::release::redact::Redactor::from_env();
    let Ok(commit) = crate::release::git::head(needs.root, &redactor) else {
        return;
    };
    for package in needs
        .uploads
        .iter()
        .filter(|p| p.ecosystem == Ecosystem::Npm)
    {
        let Some(planned) = platforms_of(settings, needs.git_dir, &commit, package) else {
            continue;
        };
        let planned = match planned {
            Ok(planned) => planned,
            Err(message) => {
                let krate = settings
                    .binaries
                    .iter()
                    .find(|b| b.is_for(&package.name))
                    .map_or("", |b| b.crate_name());
                problems.push(problem(
                    message,
                    format!(
                        "build them at this commit first: a `build` step (`polyship artifacts build --package {krate}`) before `publish`"
                    ),
                ));
                continue;
            }
        };
        let manifest: Value = std::fs::read_to_string(needs.root.join(&package.manifest))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        let version = package.version.as_deref().unwrap_or_default();
        for (p, _) in &planned {
            let listed = manifest["optionalDependencies"][&p.name].as_str();
            if listed != Some(version) {
                problems.push(problem(
                    format!(
                        "`{}` does not list its platform package `{}` (built for `{}`) in `optionalDependencies` at {version}",
                        package.name, p.name, p.target
                    ),
                    format!(
                        "add `\"{}\": \"{version}\"` to `optionalDependencies` in {}; `polyship version` moves it from then on",
                        p.name, package.manifest
                    ),
                ));
            }
        }
    }
}

/// Publishes `package`'s platform packages, before it: each one made from its build, packed, and
/// uploaded unless the registry has it already with the same integrity (a rerun after a failure).
fn publish_platforms(setup: &Setup, package: &Package) -> Result<String, ToolError> {
    let fail = |message: String| ToolError {
        message,
        transient: false,
    };
    let Some(planned) = platforms_of(&setup.settings.npm, &setup.git_dir, &setup.commit, package)
    else {
        return Ok(String::new());
    };
    let planned = planned.map_err(fail)?;
    let manifest_path = setup.root.join(&package.manifest);
    let main: Value = std::fs::read_to_string(&manifest_path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .ok_or_else(|| {
            fail(format!(
                "`{}` is not a JSON manifest",
                manifest_path.display()
            ))
        })?;
    let version = package.version.as_deref().unwrap_or_default();
    let registry = package
        .registry
        .as_deref()
        .unwrap_or(&setup.settings.npm.registry);
    let mut printed = String::new();
    for (p, build) in &planned {
        let store = crate::artifacts::Store::new(&setup.git_dir, &build.package, &build.version);
        crate::artifacts::npm::write(p, build, &store, &main, version)
            .map_err(|e| fail(format!("failed to write `{}`: {e}", p.dir.display())))?;
        let packed = p.dir.with_extension("tgz.d");
        let _ = std::fs::remove_dir_all(&packed);
        std::fs::create_dir_all(&packed)
            .map_err(|e| fail(format!("failed to write `{}`: {e}", packed.display())))?;
        let mut c = Command::new("npm");
        c.current_dir(&p.dir)
            .envs(setup.settings.npm.env.iter().cloned())
            .args(["pack", "--pack-destination"])
            .arg(&packed);
        setup.run(c, &format!("npm pack ({})", p.name))?;
        let tarball = only_file(&packed, ".tgz").map_err(io_error(&packed))?;
        let ours = integrity_file(&tarball).map_err(io_error(&packed))?;
        let mut view = Command::new("npm");
        view.current_dir(&setup.root)
            .envs(setup.settings.npm.env.iter().cloned())
            .args(["view", &format!("{}@{version}", p.name), "dist.integrity"])
            .args(["--registry", registry]);
        match setup.run(view, &format!("npm view {}@{version}", p.name)) {
            Ok(theirs) if theirs.trim() == ours => {
                let _ = writeln!(printed, "{}@{version} is published already", p.name);
                continue;
            }
            Ok(theirs) if !theirs.trim().is_empty() => {
                return Err(fail(format!(
                    "{}@{version} is on the registry with other contents (integrity {}, this build's {ours}): a version is published once",
                    p.name,
                    theirs.trim()
                )));
            }
            // Not there (`E404`), or a name that has never been published.
            Ok(_) => {}
            Err(e) if e.message.contains("E404") || e.message.contains("404") => {}
            Err(e) => return Err(e),
        }
        let mut c = publish_command(setup, package, &p.dir);
        c.arg(&tarball);
        setup.run(c, &format!("npm publish ({})", p.name))?;
        // One line each: npm's own notices are the main package's, which the upload's
        // confirmation reads its `shasum` from.
        let _ = writeln!(
            printed,
            "published {}@{version} ({}, {ours})",
            p.name, p.target
        );
    }
    Ok(printed)
}
