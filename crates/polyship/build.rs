//! Names the commit polyship is built from in `polyship --version`, when it is built from its own
//! git repository (a build from the crates.io package has no commit to name).

use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn main() {
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let manifest = Path::new(&manifest);
    // Only polyship's own repository: its root is two levels above this crate.
    let ours = manifest.parent().and_then(Path::parent).and_then(|root| {
        let top = git(manifest, &["rev-parse", "--show-toplevel"])?;
        (std::fs::canonicalize(top).ok()? == std::fs::canonicalize(root).ok()?).then_some(())
    });
    let commit = ours.and_then(|()| {
        let git_dir = git(manifest, &["rev-parse", "--absolute-git-dir"])?;
        println!("cargo:rerun-if-changed={git_dir}/HEAD");
        println!("cargo:rerun-if-changed={git_dir}/packed-refs");
        if let Some(head_ref) = git(manifest, &["symbolic-ref", "-q", "HEAD"]) {
            println!("cargo:rerun-if-changed={git_dir}/{head_ref}");
        }
        git(
            manifest,
            &["show", "-s", "--format=%h %cs", "--abbrev=9", "HEAD"],
        )
    });
    let long = match commit {
        Some(commit) => format!("{version} ({commit})"),
        None => version,
    };
    println!("cargo:rustc-env=POLYSHIP_VERSION={long}");
    println!("cargo:rerun-if-changed=build.rs");
}
