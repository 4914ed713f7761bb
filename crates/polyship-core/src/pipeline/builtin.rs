//! Built-in steps (`uses = "…"`) and the settings each one takes in `with`.
//!
//! `version`, `publish` and `verify` run the polyship binary itself (`polyship version`, `polyship
//! publish`, `polyship publish --dry-run`), so a pipeline step does exactly what the command does,
//! output, journal and resume included; `build`, `archive`, `forge-assets`, `image` and `wheel`
//! run `polyship artifacts build`, `archive`, `upload`, `image` and `wheel`. `check-clean` and `notify` run inside the pipeline.

use super::notify::{Notify, NotifyKind, When};

/// What a `uses` step does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Builtin {
    /// Fails when the working tree has uncommitted changes or untracked files.
    CheckClean,
    /// `polyship version` with these arguments; an explicit version comes last, after `--`.
    Version(Vec<String>),
    /// `polyship publish` with these arguments: the whole release, or (the built-ins named after
    /// its steps) `--dry-run` for `preflight` and `--until <step>` for the others.
    Publish(Vec<String>),
    /// Every package of the release is on its registry with polyship's checksum, tagged and
    /// pushed, its forge release made: `polyship publish --dry-run` finds nothing left to do.
    Verify(Vec<String>),
    /// Posts the run's result to a webhook.
    Notify(Notify),
    /// `polyship artifacts build` with these arguments: a package's binaries for one target.
    Build {
        args: Vec<String>,
        /// `None`: the user's command builds, and its tools are its own to check.
        builder: Option<crate::artifacts::build::Builder>,
        /// `None`: the host's.
        target: Option<String>,
    },
    /// `polyship artifacts archive` or `upload` with these arguments.
    Artifacts(Vec<String>),
}

/// The names `uses` accepts.
pub const NAMES: &[&str] = &[
    "check-clean",
    "version",
    "publish",
    "preflight",
    "tag",
    "build",
    "upload",
    "push",
    "forge-release",
    "pack",
    "archive",
    "forge-assets",
    "image",
    "wheel",
    "verify",
    "notify",
];

impl Builtin {
    /// Reads `uses` and its rendered `with`; `Err` is the message for the offending line.
    pub fn parse(uses: &str, with: &toml::Table) -> Result<Self, String> {
        let with = With { table: with, uses };
        let builtin = match uses {
            "check-clean" => Builtin::CheckClean,
            "version" => {
                let mut args = vec!["version".to_owned()];
                with.filters(&mut args)?;
                if let Some(pre) = with.string("pre")? {
                    args.extend(["--pre".to_owned(), pre]);
                }
                with.flag("graduate", "--graduate", &mut args)?;
                with.flag("no-lockfile", "--no-lockfile", &mut args)?;
                // Last, after `--`: `polyship run --version` finds it there.
                if let Some(version) = with.string("version")? {
                    args.extend(["--".to_owned(), version]);
                }
                Builtin::Version(args)
            }
            "publish" | "preflight" | "tag" | "pack" | "upload" | "push" | "forge-release" => {
                let mut args = vec!["publish".to_owned()];
                match uses {
                    "publish" | "forge-release" => {}
                    "preflight" => args.push("--dry-run".to_owned()),
                    // `publish`'s own name for packing is `build`.
                    "pack" => args.extend(["--until".to_owned(), "build".to_owned()]),
                    step => args.extend(["--until".to_owned(), step.to_owned()]),
                }
                with.filters(&mut args)?;
                with.flag("no-push", "--no-push", &mut args)?;
                if let Some(jobs) = with.integer("jobs")? {
                    args.extend(["--jobs".to_owned(), jobs.to_string()]);
                }
                Builtin::Publish(args)
            }
            "verify" => {
                let mut args = vec!["publish".to_owned(), "--dry-run".to_owned()];
                with.filters(&mut args)?;
                Builtin::Verify(args)
            }
            "notify" => Builtin::Notify(notify(&with)?),
            "build" => build(&with)?,
            "archive" => {
                let mut args = artifacts_args("archive", &with)?;
                if let Some(name) = with.string("name")? {
                    args.extend(["--name".to_owned(), name]);
                }
                if let Some(format) = with.string("format")? {
                    if crate::artifacts::archive::Format::parse(&format).is_none() {
                        return Err(format!(
                            "`with.format` is `tar.gz` or `zip`, not `{format}`"
                        ));
                    }
                    args.extend(["--format".to_owned(), format]);
                }
                if matches!(with.get("wrap"), Some(toml::Value::Boolean(false))) {
                    args.push("--no-wrap".to_owned());
                } else if !matches!(with.get("wrap"), None | Some(toml::Value::Boolean(true))) {
                    return Err("`with.wrap` must be `true` or `false`".into());
                }
                for glob in with.strings("include")?.unwrap_or_default() {
                    args.extend(["--include".to_owned(), glob]);
                }
                Builtin::Artifacts(args)
            }
            "image" => image(&with)?,
            "wheel" => {
                let mut args = artifacts_args("wheel", &with)?;
                for key in ["target", "compatibility"] {
                    if let Some(value) = with.string(key)? {
                        args.extend([format!("--{key}"), value]);
                    }
                }
                with.flag("zig", "--zig", &mut args)?;
                Builtin::Artifacts(args)
            }
            "forge-assets" => {
                let mut args = artifacts_args("upload", &with)?;
                with.flag("replace", "--replace", &mut args)?;
                for glob in with.strings("files")?.unwrap_or_default() {
                    args.extend(["--file".to_owned(), glob]);
                }
                Builtin::Artifacts(args)
            }
            other => {
                return Err(format!(
                    "unknown built-in step `{other}`; the built-ins are {}",
                    super::quoted_list(NAMES)
                ));
            }
        };
        with.finish()?;
        Ok(builtin)
    }

    /// The arguments of the polyship run this step is, if it is one.
    pub fn polyship_args(&self) -> Option<&[String]> {
        match self {
            Builtin::Version(args)
            | Builtin::Publish(args)
            | Builtin::Verify(args)
            | Builtin::Artifacts(args)
            | Builtin::Build { args, .. } => Some(args),
            Builtin::CheckClean | Builtin::Notify(_) => None,
        }
    }

    /// A short description for the dry run and the journal.
    pub fn describe(&self) -> String {
        match self {
            Builtin::CheckClean => "check-clean".to_owned(),
            Builtin::Version(args)
            | Builtin::Publish(args)
            | Builtin::Verify(args)
            | Builtin::Artifacts(args)
            | Builtin::Build { args, .. } => format!("polyship {}", args.join(" ")),
            Builtin::Notify(n) => format!(
                "notify {} on {}",
                n.kind.as_str(),
                n.on.iter()
                    .map(|w| w.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// `polyship artifacts <sub> [--package P]`.
fn artifacts_args(sub: &str, with: &With<'_>) -> Result<Vec<String>, String> {
    let mut args = vec!["artifacts".to_owned(), sub.to_owned()];
    if let Some(package) = with.string("package")? {
        args.extend(["--package".to_owned(), package]);
    }
    Ok(args)
}

fn image(with: &With<'_>) -> Result<Builtin, String> {
    if with.get("dockerfile").is_some() {
        for key in ["base", "entrypoint", "cmd", "env", "workdir", "user"] {
            if with.get(key).is_some() {
                return Err(format!(
                    "`with.{key}` is the Dockerfile's to say when `image` builds `with.dockerfile`"
                ));
            }
        }
    } else if let Some(key) = ["engine", "build-args"]
        .iter()
        .find(|k| with.get(k).is_some())
    {
        return Err(format!(
            "`with.{key}` is a setting of a Dockerfile build: set `with.dockerfile` too"
        ));
    }
    let mut args = artifacts_args("image", with)?;
    match with.string("repository")? {
        Some(r) => args.extend(["--repository".to_owned(), r]),
        None if matches!(with.get("push"), Some(toml::Value::Boolean(false))) => {}
        None => {
            return Err(
                "`image` needs `with.repository` (`registry.example/acme/tool`), or `push = false`"
                    .into(),
            );
        }
    }
    if matches!(with.get("push"), Some(toml::Value::Boolean(false))) {
        args.push("--no-push".to_owned());
    }
    for (key, flag) in [
        ("tags", "--tag"),
        ("entrypoint", "--entrypoint"),
        ("cmd", "--cmd"),
        ("env", "--env"),
        ("build-args", "--build-arg"),
    ] {
        // `--cmd=--help`: a value may start with a dash.
        for value in with.strings(key)?.unwrap_or_default() {
            args.push(format!("{flag}={value}"));
        }
    }
    for (key, flag) in [
        ("workdir", "--workdir"),
        ("user", "--user"),
        ("base", "--base"),
        ("dockerfile", "--dockerfile"),
        ("engine", "--engine"),
    ] {
        if let Some(value) = with.string(key)? {
            args.extend([flag.to_owned(), value]);
        }
    }
    if let Some(toml::Value::Table(labels)) = with.get("labels") {
        for (k, v) in labels {
            let v = v.as_str().ok_or("`with.labels` values must be strings")?;
            args.extend(["--label".to_owned(), format!("{k}={v}")]);
        }
    }
    Ok(Builtin::Artifacts(args))
}

fn build(with: &With<'_>) -> Result<Builtin, String> {
    use crate::artifacts::build::Builder;
    // `publish`'s packing step is `pack`; its settings here mean the old name was meant.
    if with.get("no-push").is_some() || with.get("jobs").is_some() {
        return Err(
            "`build` builds binaries per target; the step of `publish` that packs packages is `uses = \"pack\"`"
                .into(),
        );
    }
    let mut args = artifacts_args("build", with)?;
    let target = with.string("target")?;
    if let Some(target) = &target {
        args.extend(["--target".to_owned(), target.clone()]);
    }
    if let Some(command) = with.string("command")? {
        if target.is_none() {
            return Err(
                "a `build` with `with.command` needs `with.target`: the target it builds".into(),
            );
        }
        for key in [
            "builder",
            "bins",
            "features",
            "all-features",
            "no-default-features",
            "profile",
            "locked",
        ] {
            if with.get(key).is_some() {
                return Err(format!(
                    "`with.{key}` is a setting of Cargo's build: a `build` with `with.command` builds with the command alone"
                ));
            }
        }
        let binaries = with.strings("binaries")?.unwrap_or_default();
        if binaries.is_empty() {
            return Err("a `build` with `with.command` needs `with.binaries`: the files it makes, from the repository root".into());
        }
        args.push(format!("--command={command}"));
        for binary in binaries {
            args.push(format!("--binary={binary}"));
        }
        return Ok(Builtin::Build {
            args,
            builder: None,
            target,
        });
    }
    if with.get("binaries").is_some() {
        return Err(
            "`with.binaries` names what `with.command` makes; Cargo's binaries are `with.bins`"
                .into(),
        );
    }
    let builder = match with.string("builder")? {
        None => Builder::Cargo,
        Some(b) => Builder::parse(&b).ok_or_else(|| {
            format!("`with.builder` is `cargo`, `zigbuild`, `cross` or `container`, not `{b}`")
        })?,
    };
    args.extend(["--builder".to_owned(), builder.as_str().to_owned()]);
    container_builder(with, builder, &mut args)?;
    for bin in with.strings("bins")?.unwrap_or_default() {
        args.extend(["--bin".to_owned(), bin]);
    }
    for feature in with.strings("features")?.unwrap_or_default() {
        args.extend(["--features".to_owned(), feature]);
    }
    with.flag("all-features", "--all-features", &mut args)?;
    with.flag("no-default-features", "--no-default-features", &mut args)?;
    if let Some(profile) = with.string("profile")? {
        args.extend(["--profile".to_owned(), profile]);
    }
    with.flag("locked", "--locked", &mut args)?;
    Ok(Builtin::Build {
        args,
        builder: Some(builder),
        target,
    })
}

/// The settings of `builder = "container"`, which only it takes.
fn container_builder(
    with: &With<'_>,
    builder: crate::artifacts::build::Builder,
    args: &mut Vec<String>,
) -> Result<(), String> {
    use crate::artifacts::build::Builder;
    match (builder, with.string("image")?) {
        (Builder::Container, Some(image)) => {
            args.extend(["--image".to_owned(), image]);
            if let Some(engine) = with.string("engine")? {
                args.extend(["--engine".to_owned(), engine]);
            }
            for volume in with.strings("volumes")?.unwrap_or_default() {
                args.push(format!("--volume={volume}"));
            }
            for var in with.strings("env")?.unwrap_or_default() {
                args.push(format!("--env={var}"));
            }
        }
        (Builder::Container, None) => {
            return Err(
                "`builder = \"container\"` needs `with.image`: the image `cargo build` runs in"
                    .into(),
            );
        }
        (_, image) => {
            if let Some(key) = ["engine", "volumes", "env"]
                .iter()
                .find(|k| with.get(k).is_some())
                .copied()
                .or(image.map(|_| "image"))
            {
                return Err(format!(
                    "`with.{key}` is a setting of `builder = \"container\"`"
                ));
            }
        }
    }
    Ok(())
}

fn notify(with: &With<'_>) -> Result<Notify, String> {
    let kind = match with.string("kind")?.as_deref() {
        Some("slack") => NotifyKind::Slack,
        Some("teams") => NotifyKind::Teams,
        Some("discord") => NotifyKind::Discord,
        Some("webhook") => NotifyKind::Webhook,
        Some(other) => {
            return Err(format!(
                "unknown notification kind `{other}`: use `slack`, `teams`, `discord` or `webhook`"
            ));
        }
        None => {
            return Err(
                "`notify` needs `with.kind`: `slack`, `teams`, `discord` or `webhook`".into(),
            );
        }
    };
    let Some(webhook) = with.string("webhook")? else {
        return Err(
            "`notify` needs `with.webhook`, the URL to post to (`{{ env.SLACK_WEBHOOK_URL }}`)"
                .into(),
        );
    };
    // Empty is a declared secret that is unset here: preflight reports it, and a dry run or
    // `ci github` on a machine without it still reads the pipeline.
    if !(webhook.is_empty() || webhook.starts_with("https://") || webhook.starts_with("http://")) {
        return Err("`with.webhook` must be an http(s) URL".into());
    }
    let on = match with.strings("on")? {
        None => vec![When::Success, When::Failure],
        Some(list) => list
            .iter()
            .map(|w| match w.as_str() {
                "success" => Ok(When::Success),
                "failure" => Ok(When::Failure),
                other => Err(format!("`on` takes `success` and `failure`, not `{other}`")),
            })
            .collect::<Result<_, _>>()?,
    };
    let body = with.string("body")?;
    if body.is_some() && kind != NotifyKind::Webhook {
        return Err(
            "`with.body` is for `kind = \"webhook\"`; the other kinds have their own payload"
                .into(),
        );
    }
    Ok(Notify {
        kind,
        webhook,
        on,
        body,
    })
}

/// Reads `with` keys, remembering which were read so that an unknown key is an error.
struct With<'a> {
    table: &'a toml::Table,
    uses: &'a str,
}

impl With<'_> {
    fn get(&self, key: &str) -> Option<&toml::Value> {
        self.table.get(key)
    }

    fn finish(&self) -> Result<(), String> {
        let known: &[&str] = match self.uses {
            "version" => &["filter", "pre", "graduate", "no-lockfile", "version"],
            "publish" | "preflight" | "tag" | "pack" | "upload" | "push" | "forge-release" => {
                &["filter", "no-push", "jobs"]
            }
            "build" => &[
                "package",
                "target",
                "builder",
                "bins",
                "features",
                "all-features",
                "no-default-features",
                "profile",
                "locked",
                "command",
                "binaries",
                "image",
                "engine",
                "volumes",
                "env",
            ],
            "archive" => &["package", "name", "format", "wrap", "include"],
            "forge-assets" => &["package", "replace", "files"],
            "wheel" => &["package", "target", "compatibility", "zig"],
            "image" => &[
                "package",
                "repository",
                "push",
                "tags",
                "entrypoint",
                "cmd",
                "env",
                "workdir",
                "user",
                "labels",
                "base",
                "dockerfile",
                "engine",
                "build-args",
            ],
            "verify" => &["filter"],
            "notify" => &["kind", "webhook", "on", "body"],
            _ => &[],
        };
        match self.table.keys().find(|k| !known.contains(&k.as_str())) {
            None => Ok(()),
            Some(key) if known.is_empty() => Err(format!(
                "`{}` takes no `with` settings, and `{key}` is one",
                self.uses
            )),
            Some(key) => Err(format!(
                "`{}` has no setting `{key}`; it takes {}",
                self.uses,
                super::quoted_list(known)
            )),
        }
    }

    fn string(&self, key: &str) -> Result<Option<String>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("`with.{key}` must be a string")),
        }
    }

    fn integer(&self, key: &str) -> Result<Option<u64>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::Integer(n)) if *n > 0 => Ok(Some(n.unsigned_abs())),
            Some(_) => Err(format!("`with.{key}` must be a positive integer")),
        }
    }

    fn strings(&self, key: &str) -> Result<Option<Vec<String>>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(vec![s.clone()])),
            Some(toml::Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| format!("`with.{key}` must be a list of strings"))
                })
                .collect::<Result<_, _>>()
                .map(Some),
            Some(_) => Err(format!(
                "`with.{key}` must be a string or a list of strings"
            )),
        }
    }

    fn flag(&self, key: &str, arg: &str, args: &mut Vec<String>) -> Result<(), String> {
        match self.get(key) {
            None | Some(toml::Value::Boolean(false)) => Ok(()),
            Some(toml::Value::Boolean(true)) => {
                args.push(arg.to_owned());
                Ok(())
            }
            Some(_) => Err(format!("`with.{key}` must be `true` or `false`")),
        }
    }

    fn filters(&self, args: &mut Vec<String>) -> Result<(), String> {
        for filter in self.strings("filter")?.unwrap_or_default() {
            args.extend(["--filter".to_owned(), filter]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> toml::Table {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn builtins_become_polyship_arguments() {
        let b = Builtin::parse(
            "publish",
            &table("filter = ['a', 'b']\nno-push = true\njobs = 2"),
        )
        .unwrap();
        assert_eq!(
            b.polyship_args().unwrap(),
            [
                "publish",
                "--filter",
                "a",
                "--filter",
                "b",
                "--no-push",
                "--jobs",
                "2"
            ]
        );
        let b = Builtin::parse("pack", &table("")).unwrap();
        assert_eq!(b.polyship_args().unwrap(), ["publish", "--until", "build"]);
        let b = Builtin::parse(
            "build",
            &table("target = 'x86_64-unknown-linux-musl'\nbins = 'tool'\nlocked = true"),
        )
        .unwrap();
        assert_eq!(
            b.polyship_args().unwrap(),
            [
                "artifacts",
                "build",
                "--target",
                "x86_64-unknown-linux-musl",
                "--builder",
                "cargo",
                "--bin",
                "tool",
                "--locked"
            ]
        );
        let b = Builtin::parse(
            "build",
            &table("target = 'aarch64-apple-darwin'\ncommand = 'make dist'\nbinaries = ['dist/tool', 'dist/toold']"),
        )
        .unwrap();
        assert!(matches!(b, Builtin::Build { builder: None, .. }));
        assert_eq!(
            b.polyship_args().unwrap(),
            [
                "artifacts",
                "build",
                "--target",
                "aarch64-apple-darwin",
                "--command=make dist",
                "--binary=dist/tool",
                "--binary=dist/toold"
            ]
        );
        let b = Builtin::parse("archive", &table("format = 'zip'\nwrap = false")).unwrap();
        assert_eq!(
            b.polyship_args().unwrap(),
            ["artifacts", "archive", "--format", "zip", "--no-wrap"]
        );
        let b = Builtin::parse("forge-assets", &table("package = 'x'\nreplace = true")).unwrap();
        assert_eq!(
            b.polyship_args().unwrap(),
            ["artifacts", "upload", "--package", "x", "--replace"]
        );
        let b = Builtin::parse("upload", &table("no-push = true")).unwrap();
        assert_eq!(
            b.polyship_args().unwrap(),
            ["publish", "--until", "upload", "--no-push"]
        );
        let b = Builtin::parse("preflight", &table("")).unwrap();
        assert_eq!(b.polyship_args().unwrap(), ["publish", "--dry-run"]);
        let b = Builtin::parse("version", &table("pre = 'beta'")).unwrap();
        assert_eq!(b.polyship_args().unwrap(), ["version", "--pre", "beta"]);
        let b = Builtin::parse("version", &table("version = '2.0.0'\nfilter = 'a'")).unwrap();
        assert_eq!(
            b.polyship_args().unwrap(),
            ["version", "--filter", "a", "--", "2.0.0"]
        );
    }

    #[test]
    fn unknown_settings_and_names_are_errors() {
        let e = Builtin::parse("publish", &table("dry-run = true")).unwrap_err();
        assert!(e.contains("no setting `dry-run`"), "{e}");
        let e = Builtin::parse("check-clean", &table("x = 1")).unwrap_err();
        assert!(e.contains("takes no `with`"), "{e}");
        let e = Builtin::parse("build", &table("jobs = 2")).unwrap_err();
        assert!(e.contains("`uses = \"pack\"`"), "{e}");
        let e = Builtin::parse("build", &table("builder = 'make'")).unwrap_err();
        assert!(e.contains("`zigbuild`"), "{e}");
        let e = Builtin::parse("build", &table("builder = 'container'")).unwrap_err();
        assert!(e.contains("needs `with.image`"), "{e}");
        let e = Builtin::parse("build", &table("image = 'rust:1'")).unwrap_err();
        assert!(e.contains("a setting of `builder = \"container\"`"), "{e}");
        let e = Builtin::parse("build", &table("command = 'make'\nbinaries = ['t']")).unwrap_err();
        assert!(e.contains("needs `with.target`"), "{e}");
        let e = Builtin::parse("build", &table("command = 'make'\ntarget = 'x'")).unwrap_err();
        assert!(e.contains("needs `with.binaries`"), "{e}");
        let e = Builtin::parse(
            "build",
            &table("command = 'make'\ntarget = 'x'\nbinaries = ['t']\nlocked = true"),
        )
        .unwrap_err();
        assert!(
            e.contains("`with.locked` is a setting of Cargo's build"),
            "{e}"
        );
        let e = Builtin::parse("build", &table("binaries = ['t']")).unwrap_err();
        assert!(e.contains("`with.bins`"), "{e}");
        let e = Builtin::parse("archive", &table("format = 'rar'")).unwrap_err();
        assert!(e.contains("`tar.gz` or `zip`"), "{e}");
        let e = Builtin::parse("deploy", &table("")).unwrap_err();
        assert!(e.contains("`check-clean`"), "{e}");
        let e = Builtin::parse("notify", &table("kind = 'irc'")).unwrap_err();
        assert!(e.contains("unknown notification kind"), "{e}");
        let e =
            Builtin::parse("notify", &table("kind = 'slack'\nwebhook = 'ftp://x'")).unwrap_err();
        assert!(e.contains("http(s)"), "{e}");
    }
}
