//! npm packages of prebuilt binaries, one per platform, as esbuild and biome ship theirs: the
//! package of the repository (its launcher) lists `@acme/tool-linux-x64` and the others in
//! `optionalDependencies`, each platform package carries `os`, `cpu` (and `libc` on Linux) so that
//! npm installs only the one that fits, and holds the binary under `bin/`.
//!
//! The platform packages are made at release time from the builds in the artifact store, never
//! checked in: `publish` packs and uploads them before the package that depends on them, each one
//! skipped when the registry already has it with the same integrity. `version` moves the
//! `optionalDependencies` that name them with the package's own version.

use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;

use serde_json::{Value, json};

use super::{Build, Store, slug};

/// An npm platform: `process.platform`, `process.arch` and, on Linux, the C library.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Platform {
    pub os: &'static str,
    pub cpu: &'static str,
    /// `glibc` or `musl` on Linux.
    pub libc: Option<&'static str>,
}

const OSES: &[&str] = &["linux", "darwin", "win32", "freebsd"];
const CPUS: &[&str] = &[
    "x64", "arm64", "ia32", "arm", "riscv64", "ppc64", "s390x", "loong64",
];

/// The npm platform of a Rust target, `None` for one npm has no name for.
pub fn platform(target: &str) -> Option<Platform> {
    let mut parts = target.split('-');
    let arch = parts.next()?;
    let cpu = match arch {
        "x86_64" => "x64",
        "aarch64" => "arm64",
        "i686" | "i586" => "ia32",
        "armv7" | "arm" => "arm",
        "riscv64gc" | "riscv64" => "riscv64",
        "powerpc64le" => "ppc64",
        "s390x" => "s390x",
        "loongarch64" => "loong64",
        _ => return None,
    };
    let (os, libc) = if target.contains("-linux-") {
        let libc = if target.contains("-musl") {
            "musl"
        } else {
            "glibc"
        };
        ("linux", Some(libc))
    } else if target.contains("-apple-darwin") {
        ("darwin", None)
    } else if target.contains("-windows-") {
        ("win32", None)
    } else if target.contains("-freebsd") {
        ("freebsd", None)
    } else {
        return None;
    };
    Some(Platform { os, cpu, libc })
}

/// The default name template of platform packages.
pub const DEFAULT_NAME: &str = "{package}-{os}-{cpu}{libc}";

/// A platform package's name: `{package}`, `{os}`, `{cpu}` and `{libc}` (`-musl` for musl,
/// empty otherwise) replaced.
pub fn name(template: &str, package: &str, p: Platform) -> String {
    template
        .replace("{package}", package)
        .replace("{os}", p.os)
        .replace("{cpu}", p.cpu)
        .replace("{libc}", if p.libc == Some("musl") { "-musl" } else { "" })
}

/// Every name `template` can give, for `version` to recognise the platform packages a package
/// lists without building anything.
pub fn every_name(template: &str, package: &str) -> Vec<String> {
    let mut names = Vec::new();
    for &os in OSES {
        for &cpu in CPUS {
            for libc in [None, Some("glibc"), Some("musl")] {
                let n = name(template, package, Platform { os, cpu, libc });
                if !names.contains(&n) {
                    names.push(n);
                }
            }
        }
    }
    names
}

/// One platform package to publish.
#[derive(Debug, Clone)]
pub struct PlatformPackage {
    pub name: String,
    pub target: String,
    pub platform: Platform,
    /// Its directory, made by [`write`].
    pub dir: PathBuf,
}

/// The platform packages of `package` `version`: one per build of the crate in `store` at
/// `commit`. Builds of a target npm has no platform for are left out; none at all is an error.
pub fn planned(
    store: &Store,
    commit: &str,
    template: &str,
    package: &str,
) -> Result<Vec<(PlatformPackage, Build)>, String> {
    let builds = store.builds().map_err(|e| crate::diagnostic::chain(&e))?;
    let mut stale = Vec::new();
    let mut planned = Vec::new();
    for build in builds {
        if build.commit != commit {
            stale.push(build.target);
            continue;
        }
        let Some(platform) = platform(&build.target) else {
            continue;
        };
        let name = name(template, package, platform);
        planned.push((
            PlatformPackage {
                dir: store.dir.join("npm").join(slug(&name)),
                name,
                target: build.target.clone(),
                platform,
            },
            build,
        ));
    }
    if planned.is_empty() {
        return Err(if stale.is_empty() {
            "there is no build of it in the artifact store".to_owned()
        } else {
            format!(
                "its builds ({}) are of another commit",
                crate::pipeline::quoted_list(&stale)
            )
        });
    }
    Ok(planned)
}

/// Writes `p`'s directory: `package.json` (`os`, `cpu`, `libc`; license, repository, homepage and
/// author from the main package's manifest `main`) and the binaries under `bin/`.
pub fn write(
    p: &PlatformPackage,
    build: &Build,
    store: &Store,
    main: &Value,
    version: &str,
) -> std::io::Result<()> {
    let _ = std::fs::remove_dir_all(&p.dir);
    std::fs::create_dir_all(p.dir.join("bin"))?;
    let binaries: Vec<&str> = build.binaries.iter().map(|b| b.name.as_str()).collect();
    let mut manifest = json!({
        "name": p.name,
        "version": version,
        "description": format!(
            "The {} binary of {} for {}-{}{}",
            binaries.join(", "),
            main["name"].as_str().unwrap_or_default(),
            p.platform.os,
            p.platform.cpu,
            p.platform.libc.map(|l| format!(" ({l})")).unwrap_or_default(),
        ),
        "os": [p.platform.os],
        "cpu": [p.platform.cpu],
        "files": ["bin/"],
        "preferUnplugged": true,
    });
    if let Some(libc) = p.platform.libc {
        manifest["libc"] = json!([libc]);
    }
    for key in [
        "license",
        "repository",
        "homepage",
        "author",
        "publishConfig",
    ] {
        if let Some(v) = main.get(key) {
            manifest[key] = v.clone();
        }
    }
    let mut text = serde_json::to_string_pretty(&manifest).expect("JSON serialises");
    text.push('\n');
    crate::fsutil::write_atomic(&p.dir.join("package.json"), text.as_bytes())?;
    let from = store.target_dir(&build.target);
    for binary in &build.binaries {
        let to = p.dir.join("bin").join(&binary.name);
        std::fs::copy(from.join(&binary.name), &to)?;
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_become_npm_platforms_and_names() {
        let p = platform("x86_64-unknown-linux-musl").unwrap();
        assert_eq!((p.os, p.cpu, p.libc), ("linux", "x64", Some("musl")));
        assert_eq!(
            name(DEFAULT_NAME, "@acme/tool", p),
            "@acme/tool-linux-x64-musl"
        );
        let p = platform("aarch64-apple-darwin").unwrap();
        assert_eq!(
            name("@acme/cli-{os}-{cpu}", "@acme/tool", p),
            "@acme/cli-darwin-arm64"
        );
        let p = platform("x86_64-pc-windows-msvc").unwrap();
        assert_eq!((p.os, p.cpu, p.libc), ("win32", "x64", None));
        let p = platform("x86_64-unknown-linux-gnu").unwrap();
        assert_eq!(name(DEFAULT_NAME, "tool", p), "tool-linux-x64");
        assert!(platform("wasm32-unknown-unknown").is_none());
        let all = every_name(DEFAULT_NAME, "tool");
        assert!(all.contains(&"tool-linux-arm64-musl".to_owned()));
        assert!(all.contains(&"tool-win32-x64".to_owned()));
    }
}
