//! Randomised inputs for every parser of user text: changeset files, Conventional Commit messages,
//! version requirements of each ecosystem, PEP 440 versions, `lerna.json`, the bounds check of
//! YAML and TOML, and the manifest readers through discovery. Each must return — an answer or an
//! error — for every input: no panic, no hang. Inputs are built from a seeded generator out of the
//! tokens real files are made of (so the parsers' interesting paths are reached) mixed with raw
//! bytes; the seed and count are fixed, so a failure names an input that can be replayed.

#![allow(clippy::unwrap_used)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use polyship_core::workspace::Ecosystem;

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }

    /// A text of up to `max` pieces, each a token of `tokens` or a random character.
    fn text(&mut self, tokens: &[&str], max: usize) -> String {
        let mut out = String::new();
        for _ in 0..self.below(max) {
            if self.below(4) == 0 {
                let c = char::from_u32(u32::try_from(self.next() % 0x3000).unwrap_or(0x41))
                    .unwrap_or('?');
                out.push(c);
            } else {
                out.push_str(tokens[self.below(tokens.len())]);
            }
        }
        out
    }
}

const CASES: usize = 20_000;

/// Runs `f` on `CASES` inputs; fails on a panic or an input slower than a second.
fn fuzz(name: &str, seed: u64, tokens: &[&str], max: usize, f: impl Fn(&str)) {
    let mut rng = Rng(seed);
    let started = Instant::now();
    for i in 0..CASES {
        let input = rng.text(tokens, max);
        let one = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| f(&input)));
        assert!(outcome.is_ok(), "{name}: input {i} panics: {input:?}");
        assert!(
            one.elapsed() < Duration::from_secs(1),
            "{name}: input {i} takes {:?}: {input:?}",
            one.elapsed()
        );
    }
    eprintln!("{name}: {CASES} inputs in {:?}", started.elapsed());
}

#[test]
fn changesets_parse_or_fail_cleanly() {
    let tokens = [
        "---",
        "\n",
        "\"",
        "'",
        "@acme/core",
        ": ",
        "major",
        "minor",
        "patch",
        "none",
        "#",
        " ",
        "{",
        "}",
        "[",
        "]",
        "\r\n",
        "\u{feff}",
        "a",
        ":",
    ];
    fuzz("changeset", 1, &tokens, 40, |t| {
        let _ = polyship_core::changes::changeset::parse("x.md", t);
    });
}

#[test]
fn commit_messages_parse_or_fail_cleanly() {
    let tokens = [
        "feat",
        "fix",
        "(",
        ")",
        "!",
        ": ",
        ":",
        "\n",
        "\n\n",
        "BREAKING CHANGE: ",
        "BREAKING-CHANGE: ",
        "Revert \"",
        "\"",
        "This reverts commit ",
        "abc1234",
        ".",
        "#",
        "Refs #",
        "🎸",
        "é",
        " ",
        "revert: ",
        "\u{1b}[31m",
    ];
    fuzz("conventional", 2, &tokens, 30, |t| {
        let _ = polyship_core::changes::conventional::parse(t);
        let _ = polyship_core::changes::conventional::reverted(t);
        let map = polyship_core::changes::conventional::BumpMap::default();
        let _ = polyship_core::changes::conventional::kind_under(
            t,
            polyship_core::config::Preset::Angular,
            &map,
        );
        let _ = polyship_core::diagnostic::strip_controls(t);
        let _ = polyship_core::diagnostic::terminal_safe(t);
    });
}

#[test]
fn requirements_of_every_ecosystem_are_read_or_refused() {
    let tokens = [
        "^",
        "~",
        ">=",
        "<",
        "=",
        "==",
        "!=",
        "~=",
        "*",
        "x",
        "1",
        "2",
        ".",
        "0",
        "-",
        "+",
        "beta",
        " ",
        "||",
        ",",
        "workspace:",
        "npm:",
        "a@",
        "rc",
        "post",
        "dev",
        ";",
        "18446744073709551615",
    ];
    fuzz("requirements", 3, &tokens, 16, |t| {
        for eco in Ecosystem::ALL {
            let _ = polyship_core::version::is_valid(eco, t);
            let _ = polyship_core::version::satisfies(eco, Some(t), "1.2.3");
            let _ = polyship_core::version::satisfies(eco, Some("^1.0.0"), t);
            if let Ok(v) = semver::Version::parse("1.2.3") {
                let _ = polyship_core::version::rewrite::rewrite(eco, t, &v);
            }
        }
        let _ = polyship_core::version::bump::from_pep440(t);
        let _ = polyship_core::version::is_pep440(t);
    });
}

#[test]
fn lerna_json_and_bounded_formats_answer() {
    let tokens = [
        "{",
        "}",
        "\"version\"",
        ": ",
        "\"1.0.0\"",
        "\"independent\"",
        ",",
        "\"command\"",
        "\"version\"",
        "{\"exact\": true}",
        "[",
        "]",
        "\"ignoreChanges\"",
        "null",
        "\n",
        "\"",
        "true",
        "1e999",
    ];
    fuzz("lerna.json", 4, &tokens, 30, |t| {
        let _ = polyship_core::changes::lerna_config::parse(t, &mut Vec::new());
        let _ = polyship_core::json::check_bounds(t, true);
        let _ = polyship_core::json::bounded_from_str::<serde_json::Value>(t);
    });
}

#[test]
fn manifests_are_read_or_refused_through_discovery() {
    let toml_tokens = [
        "[package]\n",
        "[workspace]\n",
        "name = \"a\"\n",
        "version = \"1.0.0\"\n",
        "members = [\"*\"]\n",
        "[dependencies]\n",
        "b = { path = \"b\" }\n",
        "version.workspace = true\n",
        "[project]\n",
        "dependencies = [\"a>=1\"]\n",
        "\"",
        "[",
        "]",
        "=",
        "\n",
        "publish = false\n",
    ];
    let json_tokens = [
        "{",
        "}",
        "\"name\": \"a\"",
        ",",
        "\"version\": \"1.0.0\"",
        "\"workspaces\": [\"*\"]",
        "\"dependencies\": {\"a\": \"workspace:*\"}",
        "[",
        "]",
        "\"",
        ":",
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(5);
    for i in 0..300 {
        let root = dir.path().join(i.to_string());
        std::fs::create_dir_all(root.join("a")).unwrap();
        std::fs::write(root.join("Cargo.toml"), rng.text(&toml_tokens, 12)).unwrap();
        std::fs::write(root.join("a/Cargo.toml"), rng.text(&toml_tokens, 12)).unwrap();
        std::fs::write(root.join("pyproject.toml"), rng.text(&toml_tokens, 12)).unwrap();
        std::fs::write(root.join("package.json"), rng.text(&json_tokens, 12)).unwrap();
        std::fs::write(root.join("a/package.json"), rng.text(&json_tokens, 12)).unwrap();
        let config = polyship_core::config::LoadedConfig::default();
        let started = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let _ = polyship_core::workspace::discover(&root, &config);
        }));
        assert!(
            outcome.is_ok(),
            "discovery panics on case {i} in {}",
            root.display()
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "case {i} is slow"
        );
    }
}
