//! Steps in containers: the engine's command line around a step's own.
//!
//! The repository is mounted at its own path and the step's working directory kept, so paths in
//! commands and outputs mean the same inside and out. Environment variables are passed by name
//! (`-e NAME`): their values reach the engine through its environment, never its command line.

use std::path::{Path, PathBuf};

use super::{Container, Engine};

/// The engine program for `engine`: `auto` takes podman, else docker, whichever is on `PATH`.
pub fn engine_program(engine: Engine) -> Result<PathBuf, String> {
    let candidates: &[&str] = match engine {
        Engine::Auto => &["podman", "docker"],
        Engine::Podman => &["podman"],
        Engine::Docker => &["docker"],
    };
    candidates
        .iter()
        .find_map(|name| on_path(name))
        .ok_or_else(|| match engine {
            Engine::Docker => "docker is not installed: install it (`apt-get install -y docker.io`), or use `engine = \"podman\"`".to_owned(),
            Engine::Podman => "podman is not installed: install it (`apt-get install -y podman runc`), or use `engine = \"docker\"`".to_owned(),
            Engine::Auto => "no container engine is installed: install podman (`apt-get install -y podman runc`) or docker".to_owned(),
        })
}

/// `name` found in a directory of `PATH`.
pub fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The arguments after the engine program that run `command` in `container`, with the variables
/// `names` passed through by name.
pub fn run_args(
    container: &Container,
    root: &Path,
    dir: &Path,
    names: &[&str],
    command: &[String],
) -> Vec<String> {
    let root = root.display().to_string();
    let mut args = vec![
        "run".to_owned(),
        "--rm".to_owned(),
        "--volume".to_owned(),
        format!("{root}:{root}"),
        "--workdir".to_owned(),
        dir.display().to_string(),
    ];
    for volume in &container.volumes {
        args.extend(["--volume".to_owned(), volume.clone()]);
    }
    if let Some(user) = &container.user {
        args.extend(["--user".to_owned(), user.clone()]);
    }
    for name in names {
        args.extend(["--env".to_owned(), (*name).to_owned()]);
    }
    args.push(container.image.clone());
    args.extend(command.iter().cloned());
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_never_reach_the_command_line() {
        let c = Container {
            image: "local/busybox".into(),
            engine: Engine::Podman,
            volumes: vec!["/cache:/cache".into()],
            user: Some("1000".into()),
        };
        let args = run_args(
            &c,
            Path::new("/repo"),
            Path::new("/repo/sub"),
            &["NPM_TOKEN"],
            &["sh".into(), "-c".into(), "make".into()],
        );
        assert_eq!(
            args,
            [
                "run",
                "--rm",
                "--volume",
                "/repo:/repo",
                "--workdir",
                "/repo/sub",
                "--volume",
                "/cache:/cache",
                "--user",
                "1000",
                "--env",
                "NPM_TOKEN",
                "local/busybox",
                "sh",
                "-c",
                "make"
            ]
        );
    }
}
