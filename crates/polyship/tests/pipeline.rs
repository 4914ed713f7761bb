//! `polyship run` end to end: the real binary on real temporary git repositories, steps that are
//! real shell commands, notifications posted to a local receiver (chat services cannot exist on a
//! test machine; the receiver only records what it is sent).

#![allow(clippy::unwrap_used)] // a failed unwrap in a test is a failed test

mod support;

use std::io::Write as _;
use std::time::{Duration, Instant};

use support::receiver::Receiver;
use support::{Output, Repo, step_states as states};

/// A repository with `polyship.toml` holding `config`, committed, with scratch files ignored.
fn repo(config: &str) -> Repo {
    Repo::new()
        .file(".gitignore", "scratch/\n")
        .file("polyship.toml", config)
        .commit("chore: pipeline")
}

fn run(repo: &Repo, args: &[&str], env: &[(&str, &str)]) -> Output {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let mut all = vec!["run".to_owned()];
    all.extend(args.iter().map(|s| (*s).to_owned()));
    let args: Vec<&str> = all.iter().map(String::as_str).collect();
    repo.run_env(repo.path(), &args, &env)
}

/// The last run's JSON record.
fn status(repo: &Repo, pipeline: &str) -> serde_json::Value {
    run(repo, &[pipeline, "--status", "--json"], &[]).json()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[test]
fn steps_run_in_parallel_after_their_needs_and_a_matrix_makes_one_step_per_cell() {
    // Each gate waits for the other to start: the run succeeds only if they run at once.
    let wait_for = |other: &str| {
        format!(
            "mkdir -p scratch; touch scratch/{{{{ step }}}}; for i in $(seq 100); do [ -e scratch/{other} ] && exit 0; sleep 0.05; done; exit 1"
        )
    };
    let r = repo(&format!(
        r#"[pipeline.release]
[[pipeline.release.step]]
name = "lint"
group = "gates"
run = "{}"

[[pipeline.release.step]]
name = "test"
group = "gates"
run = "{}"

[[pipeline.release.step]]
name = "build"
needs = ["gates"]
matrix = {{ target = ["x", "y", "z"], exclude = [{{ target = "y" }}], include = [{{ target = "x", flavour = "fast" }}, {{ target = "w" }}] }}
run = "ls scratch/lint scratch/test && echo {{{{ matrix.target }}}}-{{{{ matrix.flavour | default('plain') }}}} > scratch/{{{{ matrix.target }}}}"
outputs = ["scratch/{{{{ matrix.target }}}}"]
"#,
        wait_for("test"),
        wait_for("lint")
    ));
    let out = run(&r, &["release", "--jobs", "2"], &[]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert_eq!(
        states(&status(&r, "release")),
        pairs(&[
            ("lint", "succeeded"),
            ("test", "succeeded"),
            ("build (x, fast)", "succeeded"),
            ("build (z)", "succeeded"),
            ("build (w)", "succeeded"),
        ])
    );
    assert_eq!(r.read("scratch/x"), "x-fast\n");
    assert_eq!(r.read("scratch/z"), "z-plain\n");
    assert!(!r.exists("scratch/y"));
    // CI logs get every output line under its step's name, and the table ends the run.
    assert!(
        out.stderr.contains("[build (x, fast)] scratch/lint"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.starts_with("STEP "), "{}", out.stdout);

    // With one job the gates wait for each other forever: the first one fails, and the builds
    // that need it are blocked.
    std::fs::remove_dir_all(r.join("scratch")).unwrap();
    let out = run(&r, &["release", "--jobs", "1"], &[]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    let s = states(&status(&r, "release"));
    assert_eq!(s[0], ("lint".to_owned(), "failed".to_owned()));
    assert!(s[2..].iter().all(|(_, state)| state == "blocked"), "{s:?}");
}

#[test]
fn a_failure_stops_new_steps_unless_keep_going_and_blocks_its_dependents() {
    let r = repo(
        r#"[pipeline.ci]
[[pipeline.ci.step]]
name = "broken"
run = "echo about to fail; exit 3"

[[pipeline.ci.step]]
name = "after-broken"
needs = ["broken"]
run = "touch scratch/after-broken"

[[pipeline.ci.step]]
name = "independent"
run = "mkdir -p scratch && touch scratch/independent"
"#,
    );
    let out = run(&r, &["ci", "-j", "1"], &[]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    let doc = status(&r, "ci");
    assert_eq!(doc["status"], "failed");
    assert_eq!(
        states(&doc),
        pairs(&[
            ("broken", "failed"),
            ("after-broken", "blocked"),
            ("independent", "not-run")
        ])
    );
    assert_eq!(doc["steps"][0]["exit_code"], 3);
    assert!(out.stderr.contains("Failed broken in"), "{}", out.stderr);
    assert!(out.stderr.contains("exited with code 3"), "{}", out.stderr);
    assert!(out.stderr.contains("logs are in"), "{}", out.stderr);
    let log = doc["steps"][0]["log"].as_str().unwrap();
    let log = r.read(&format!(".git/polyship/runs/{log}"));
    assert_eq!(
        log,
        "about to fail\npolyship: the step exited with code 3\n"
    );

    let out = run(&r, &["ci", "-j", "1", "--keep-going"], &[]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert_eq!(
        states(&status(&r, "ci")),
        pairs(&[
            ("broken", "failed"),
            ("after-broken", "blocked"),
            ("independent", "succeeded")
        ])
    );
    assert!(r.exists("scratch/independent"));
    assert!(!r.exists("scratch/after-broken"));
}

#[test]
fn the_cells_of_a_partial_matrix_fail_on_their_own_and_what_needs_them_runs_on_the_rest() {
    // `-j 1`: without `partial`, nothing would start after the first failed cell.
    let r = repo(
        r#"[pipeline.ci]
[[pipeline.ci.step]]
name = "build"
matrix = { target = ["a", "b", "c"] }
partial = true
run = "mkdir -p scratch && test {{ matrix.target }} != b -o -e scratch/b-fixed && touch scratch/{{ matrix.target }}"

[[pipeline.ci.step]]
name = "pack"
needs = ["build"]
run = "ls scratch | grep -x '[a-c]' > scratch/packed"

[[pipeline.ci.step]]
name = "announce"
needs = ["pack"]
run = "touch scratch/announced"
"#,
    );
    let out = run(&r, &["ci", "-j", "1"], &[]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    let doc = status(&r, "ci");
    assert_eq!(doc["status"], "failed", "{doc}");
    assert_eq!(
        states(&doc),
        pairs(&[
            ("build (a)", "succeeded"),
            ("build (b)", "failed"),
            ("build (c)", "succeeded"),
            ("pack", "succeeded"),
            ("announce", "succeeded"),
        ])
    );
    assert_eq!(r.read("scratch/packed"), "a\nc\n");

    // Once the failed cell succeeds, what ran over the others runs again; the rest is reused.
    r.write("scratch/b-fixed", "");
    let out = run(&r, &["ci", "-j", "1"], &[]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert_eq!(
        states(&status(&r, "ci")),
        pairs(&[
            ("build (a)", "reused"),
            ("build (b)", "succeeded"),
            ("build (c)", "reused"),
            ("pack", "succeeded"),
            ("announce", "succeeded"),
        ])
    );
    assert_eq!(r.read("scratch/packed"), "a\nb\nc\n");

    // When every cell fails, nothing that needs them runs.
    let r = repo(
        "[[pipeline.ci.step]]\nname = \"build\"\nmatrix = { target = [\"a\", \"b\"] }\npartial = true\nrun = \"exit 1\"\n\n[[pipeline.ci.step]]\nname = \"pack\"\nneeds = [\"build\"]\nrun = \"touch packed\"\n",
    );
    let out = run(&r, &["ci"], &[]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert_eq!(
        states(&status(&r, "ci")),
        pairs(&[
            ("build (a)", "failed"),
            ("build (b)", "failed"),
            ("pack", "blocked"),
        ])
    );
    assert!(!r.exists("packed"));
}

#[test]
fn running_again_after_a_failure_skips_what_succeeded_for_the_same_commit() {
    let r = repo(
        r#"[pipeline.release]
[[pipeline.release.step]]
name = "build"
run = "mkdir -p scratch && echo built >> scratch/builds"

[[pipeline.release.step]]
name = "ship"
needs = ["build"]
run = "test -e scratch/fixed"

[[pipeline.release.step]]
name = "tell"
needs = ["ship"]
run = "echo told >> scratch/tells"
"#,
    );
    let builds = |r: &Repo| r.read("scratch/builds").lines().count();
    assert_eq!(run(&r, &["release"], &[]).code, 1);
    assert_eq!(builds(&r), 1);
    r.write("scratch/fixed", "");
    let out = run(&r, &["release"], &[]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(out.stderr.contains("resuming run"), "{}", out.stderr);
    assert!(out.stderr.contains("Reused build"), "{}", out.stderr);
    assert_eq!(builds(&r), 1, "build ran again");
    assert_eq!(
        states(&status(&r, "release")),
        pairs(&[
            ("build", "reused"),
            ("ship", "succeeded"),
            ("tell", "succeeded")
        ])
    );

    // A finished run is not resumed: the next run does everything.
    assert_eq!(run(&r, &["release"], &[]).code, 0);
    assert_eq!(builds(&r), 2);

    // A new commit is new input: nothing of an unfinished run at another commit is reused.
    std::fs::remove_file(r.join("scratch/fixed")).unwrap();
    assert_eq!(run(&r, &["release"], &[]).code, 1);
    assert_eq!(builds(&r), 3);
    r.write("README.md", "new\n");
    r.git(&["add", "README.md"]);
    r.git(&["commit", "-q", "-m", "docs: readme"]);
    r.write("scratch/fixed", "");
    assert_eq!(run(&r, &["release"], &[]).code, 0);
    assert_eq!(builds(&r), 4);

    // `--rerun` and `--from` force steps the unfinished run did.
    std::fs::remove_file(r.join("scratch/fixed")).unwrap();
    assert_eq!(run(&r, &["release"], &[]).code, 1);
    assert_eq!(builds(&r), 5);
    r.write("scratch/fixed", "");
    assert_eq!(run(&r, &["release", "--rerun", "build"], &[]).code, 0);
    assert_eq!(builds(&r), 6);
    std::fs::remove_file(r.join("scratch/fixed")).unwrap();
    assert_eq!(run(&r, &["release"], &[]).code, 1);
    r.write("scratch/fixed", "");
    assert_eq!(run(&r, &["release", "--from", "build"], &[]).code, 0);
    assert_eq!(builds(&r), 8);

    // A changed command is a changed input: the step runs again.
    std::fs::remove_file(r.join("scratch/fixed")).unwrap();
    assert_eq!(run(&r, &["release"], &[]).code, 1);
    let config = r
        .read("polyship.toml")
        .replace("echo built", "echo rebuilt");
    r.write("polyship.toml", &config);
    r.write("scratch/fixed", "");
    assert_eq!(run(&r, &["release"], &[]).code, 0);
    assert!(r.read("scratch/builds").ends_with("rebuilt\n"));
}

#[test]
fn skip_counts_steps_as_done_and_only_runs_a_step_with_what_it_needs() {
    let r = repo(
        r#"[pipeline.release]
[[pipeline.release.step]]
name = "prepare"
run = "sleep 0.3 && mkdir -p scratch"

[[pipeline.release.step]]
name = "test"
group = "gates"
needs = ["prepare"]
run = "touch scratch/test"

[[pipeline.release.step]]
name = "build"
needs = ["gates"]
run = "touch scratch/build"

[[pipeline.release.step]]
name = "docs"
needs = ["prepare"]
run = "touch scratch/docs"
"#,
    );
    // `build` needs `test` only, and `test` needs `prepare`: skipping `test` keeps `build` after
    // `prepare`, which makes the directory it writes into.
    let out = run(&r, &["release", "--skip", "gates"], &[]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(r.exists("scratch/build") && r.exists("scratch/docs") && !r.exists("scratch/test"));
    assert_eq!(
        states(&status(&r, "release"))[1],
        ("test".to_owned(), "skipped".to_owned())
    );

    std::fs::remove_dir_all(r.join("scratch")).unwrap();
    let out = run(&r, &["release", "--only", "build"], &[]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(r.exists("scratch/build") && r.exists("scratch/test") && !r.exists("scratch/docs"));

    let out = run(&r, &["release", "--skip", "deploy"], &[]);
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(
        out.stderr.contains("has no step or group `deploy`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("`build`, `docs`, `gates`, `prepare`, `test`"),
        "{}",
        out.stderr
    );
}

#[test]
fn secrets_are_required_before_any_step_and_masked_in_output_logs_and_journal() {
    let secret = "s3cr3t-deploy-value-42";
    let r = repo(
        r#"[pipeline.deploy]
secrets = ["DEPLOY_KEY", "OTHER_KEY"]
env = { AUTH = "Bearer {{ env.DEPLOY_KEY }}" }

[[pipeline.deploy.step]]
name = "first"
run = "mkdir -p scratch && touch scratch/ran && echo key=$DEPLOY_KEY auth=$AUTH && echo https://user:$DEPLOY_KEY@example.com/ && echo $DEPLOY_KEY | base64 && exit 1"
"#,
    );
    let out = run(&r, &["deploy"], &[("OTHER_KEY", "")]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains("preflight found 2 problems"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("`DEPLOY_KEY` is not set")
            && out.stderr.contains("`OTHER_KEY` is not set"),
        "{}",
        out.stderr
    );
    assert!(!r.exists("scratch/ran"));

    let env = [("DEPLOY_KEY", secret), ("OTHER_KEY", "other-value-1234")];
    let dry = run(&r, &["deploy", "--dry-run"], &env);
    assert_eq!(dry.code, 0, "{}", dry.snapshot());
    assert!(
        dry.stdout.contains("secrets: DEPLOY_KEY, OTHER_KEY") && dry.stdout.contains("env: AUTH"),
        "{}",
        dry.stdout
    );
    let doc = run(&r, &["deploy", "--dry-run", "--json"], &env);
    let parsed = doc.json();
    assert_eq!(parsed["steps"][0]["env"], serde_json::json!(["AUTH"]));
    assert_eq!(
        parsed["secrets"],
        serde_json::json!(["DEPLOY_KEY", "OTHER_KEY"])
    );
    assert_eq!(parsed["problems"], serde_json::json!([]));
    assert!(!doc.stdout.contains(secret), "{}", doc.stdout);
    let out = run(&r, &["deploy"], &env);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(r.exists("scratch/ran"));
    assert!(
        out.stderr.contains("[first] key=*** auth=Bearer ***"),
        "{}",
        out.stderr
    );
    let mut everything = format!("{}{}{}{}", dry.stdout, dry.stderr, out.stdout, out.stderr);
    for entry in walk(&r.join(".git/polyship/runs")) {
        everything.push_str(&std::fs::read_to_string(entry).unwrap());
    }
    assert!(everything.contains("***"));
    for form in [secret.to_owned(), base64(secret)] {
        assert!(
            !everything.contains(&form[..form.len() - 2]),
            "`{form}` leaked:\n{everything}"
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

fn base64(text: &str) -> String {
    let out = std::process::Command::new("base64")
        .arg("-w0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = out;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{text}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn bad_pipelines_are_errors_at_their_lines_before_any_step_runs() {
    let cases: &[(&str, &str, usize)] = &[
        (
            "[[pipeline.p.step]]\nname = \"a\"\nrun = \"touch ran\"\nneeds = [\"b\"]\n\n[[pipeline.p.step]]\nname = \"b\"\nrun = \"true\"\nneeds = [\"a\"]\n",
            "the steps need each other in a cycle: a → b → a",
            2,
        ),
        (
            "[[pipeline.p.step]]\nname = \"a\"\nrun = \"touch ran\"\nneeds = [\"tests\"]\n",
            "`a` needs `tests`, which is neither a step nor a group",
            4,
        ),
        (
            "[[pipeline.p.step]]\nname = \"a\"\nrun = \"touch ran\"\n[[pipeline.p.step]]\nname = \"a\"\nrun = \"true\"\n",
            "a second step is named `a`",
            5,
        ),
        (
            "[[pipeline.p.step]]\nname = \"a\"\nrun = \"touch ran\"\nmatrix = { target = [] }\n",
            "matrix axis `target` has no values",
            4,
        ),
        (
            "[[pipeline.p.step]]\nname = \"a\"\nrun = \"touch ran {{ matrix.targt }}\"\nmatrix = { target = [\"x\"] }\n",
            "the template `touch ran {{ matrix.targt }}` uses a variable that is not defined",
            3,
        ),
        (
            "[[pipeline.p.step]]\nname = \"a\"\nrun = \"touch ran\"\ntimeut = 5\n",
            "unknown field `timeut`",
            4,
        ),
        (
            "[[pipeline.p.step]]\nname = \"a\"\nrun = \"touch ran\"\nuses = \"publish\"\n",
            "step `a` has both `run` and `uses`",
            1,
        ),
        (
            "[[pipeline.p.step]]\nname = \"a\"\nuses = \"deploy\"\n",
            "unknown built-in step `deploy`",
            3,
        ),
        (
            "[[pipeline.p.step]]\nname = \"a\"\nuses = \"publish\"\nwith = { dry-run = true }\n",
            "`publish` has no setting `dry-run`",
            4,
        ),
        (
            "[[pipeline.p.step]]\nname = \"a\"\nrun = \"touch ran\"\npartial = true\n",
            "step `a` is `partial` but has no matrix",
            4,
        ),
        (
            "[pipeline.p]\nsecrets = [\"NOT-A-NAME\"]\n[[pipeline.p.step]]\nname = \"a\"\nrun = \"touch ran\"\n",
            "`NOT-A-NAME` is not an environment variable name",
            2,
        ),
    ];
    for (config, message, line) in cases {
        let r = repo(config);
        let out = run(&r, &["p"], &[]);
        assert_eq!(out.code, 2, "{config}\n{}", out.snapshot());
        assert!(out.stderr.contains(message), "{config}\n{}", out.stderr);
        assert!(
            out.stderr.contains(&format!("polyship.toml:{line}:")),
            "{config}\n{}",
            out.stderr
        );
        assert!(!r.exists("ran"), "a step ran: {config}");
        let dry = run(&r, &["p", "--dry-run"], &[]);
        assert_eq!(dry.code, 2, "{config}\n{}", dry.snapshot());
    }
    let r = repo("[pipeline.release]\n");
    let out = run(&r, &["relase"], &[]);
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(
        out.stderr.contains("no pipeline `relase`")
            && out.stderr.contains("the pipelines are `release`"),
        "{}",
        out.stderr
    );
}

#[test]
fn timeouts_stop_a_step_and_retries_try_a_failed_one_again() {
    let r = repo(
        r#"[pipeline.p]
[[pipeline.p.step]]
name = "flaky"
retries = 2
run = "mkdir -p scratch && echo try >> scratch/tries && [ $(wc -l < scratch/tries) -ge 2 ]"

[[pipeline.p.step]]
name = "hangs"
timeout = 1
run = "trap 'echo got TERM; exit 143' TERM; sleep 30 & wait"
"#,
    );
    let started = Instant::now();
    let out = run(&r, &["p"], &[("POLYSHIP_KILL_GRACE", "2")]);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the timeout did not stop the step"
    );
    assert_eq!(out.code, 1, "{}", out.snapshot());
    let doc = status(&r, "p");
    assert_eq!(
        states(&doc),
        pairs(&[("flaky", "succeeded"), ("hangs", "failed")])
    );
    assert_eq!(doc["steps"][0]["attempts"], 2);
    assert_eq!(doc["steps"][1]["message"], "timed out after 1 s");
    assert_eq!(r.read("scratch/tries"), "try\ntry\n");
    assert!(out.stderr.contains("[hangs] got TERM"), "{}", out.stderr);
}

#[test]
fn ctrl_c_stops_running_steps_records_interrupted_and_the_rerun_resumes() {
    let r = repo(
        r#"[pipeline.p]
[[pipeline.p.step]]
name = "quick"
run = "mkdir -p scratch && echo once >> scratch/quick"

[[pipeline.p.step]]
name = "slow"
needs = ["quick"]
run = "test -e scratch/fast || { trap 'echo stopped > scratch/slow-stopped; exit 143' TERM; touch scratch/slow-started; sleep 60 & wait; }"

[[pipeline.p.step]]
name = "last"
needs = ["slow"]
run = "touch scratch/last"
"#,
    );
    let env = [("POLYSHIP_KILL_GRACE".to_owned(), "5".to_owned())];
    let child = r
        .command(r.path(), &["run", "p"], &env)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !r.exists("scratch/slow-started") {
        assert!(Instant::now() < deadline, "the slow step never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert_eq!(r.read("scratch/slow-stopped"), "stopped\n");
    let doc = status(&r, "p");
    assert_eq!(doc["status"], "interrupted");
    assert_eq!(
        states(&doc),
        pairs(&[
            ("quick", "succeeded"),
            ("slow", "interrupted"),
            ("last", "not-run")
        ])
    );

    r.write("scratch/fast", "");
    let out = run(&r, &["p"], &[]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert_eq!(
        states(&status(&r, "p")),
        pairs(&[
            ("quick", "reused"),
            ("slow", "succeeded"),
            ("last", "succeeded")
        ])
    );
    assert_eq!(r.read("scratch/quick"), "once\n");
}

#[test]
fn notifications_announce_success_and_failure_with_the_failed_steps_log() {
    let receiver = Receiver::start(200);
    let config = r#"[pipeline.release]
secrets = ["HOOK_TOKEN"]

[[pipeline.release.step]]
name = "test"
run = "echo checking with $HOOK_TOKEN; test -e scratch/pass"

[[pipeline.release.step]]
name = "slack"
uses = "notify"
needs = ["test"]
with = { kind = "slack", webhook = "{{ env.HOOKS }}/slack", on = ["success"] }

[[pipeline.release.step]]
name = "teams"
uses = "notify"
needs = ["test"]
with = { kind = "teams", webhook = "{{ env.HOOKS }}/teams", on = ["failure"] }

[[pipeline.release.step]]
name = "discord"
uses = "notify"
with = { kind = "discord", webhook = "{{ env.HOOKS }}/discord" }

[[pipeline.release.step]]
name = "hook"
uses = "notify"
with = { kind = "webhook", webhook = "{{ env.HOOKS }}/hook", body = '{"run": "{{ pipeline }}", "status": "{{ status }}", "failed": "{{ failed_step }}"}' }
"#;
    let r = repo(config);
    let hooks = receiver.url("x");
    let hooks = hooks.trim_end_matches("/x");
    let env = [("HOOKS", hooks), ("HOOK_TOKEN", "hook-token-value-99")];
    let dry = run(&r, &["release", "--dry-run"], &env);
    assert_eq!(dry.code, 0, "{}", dry.snapshot());
    assert!(receiver.bodies().is_empty(), "a dry run posted");

    let out = run(&r, &["release"], &env);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    let bodies = receiver.bodies();
    let paths: Vec<&str> = bodies.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, ["/teams", "/discord", "/hook"]);
    let card = &bodies[0].1["attachments"][0];
    assert_eq!(
        card["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let text = card["content"]["body"].to_string();
    assert!(
        text.contains("release failed at") && text.contains("step `test` failed"),
        "{text}"
    );
    assert!(
        text.contains("checking with ***") && !text.contains("hook-token-value-99"),
        "{text}"
    );
    assert!(
        bodies[1].1["content"]
            .as_str()
            .unwrap()
            .contains("step `test` failed")
    );
    assert_eq!(
        bodies[2].1,
        serde_json::json!({ "run": "release", "status": "failure", "failed": "test" })
    );
    assert_eq!(
        states(&status(&r, "release")),
        pairs(&[
            ("test", "failed"),
            ("slack", "skipped"),
            ("teams", "succeeded"),
            ("discord", "succeeded"),
            ("hook", "succeeded")
        ])
    );

    r.write("scratch/pass", "");
    let out = run(&r, &["release"], &env);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let bodies = receiver.bodies();
    let paths: Vec<&str> = bodies[3..].iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, ["/slack", "/discord", "/hook"]);
    assert!(
        bodies[3].1["text"]
            .as_str()
            .unwrap()
            .contains("release succeeded at"),
        "{:?}",
        bodies[3]
    );
    assert_eq!(bodies[5].1["status"], "success");

    // A receiver that refuses fails the run, and the webhook's address is not shown.
    let refusing = Receiver::start(500);
    let url = refusing.url("secret-path");
    let env = [
        ("HOOKS", url.as_str()),
        ("HOOK_TOKEN", "hook-token-value-99"),
    ];
    let out = run(&r, &["release", "--only", "discord"], &env);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr
            .contains("answered 500 to the discord notification"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("secret-path") && !out.stdout.contains("secret-path"),
        "{}",
        out.snapshot()
    );
}

#[test]
fn the_dry_run_shows_every_step_and_the_builtins_plans_and_changes_nothing() {
    let r = Repo::new()
        .file(".gitignore", "scratch/\n")
        .file(
            "package.json",
            "{ \"name\": \"root\", \"private\": true, \"workspaces\": [\"packages/*\"] }\n",
        )
        .file(
            "packages/lib/package.json",
            "{ \"name\": \"lib\", \"version\": \"1.0.0\" }\n",
        )
        .file(
            "polyship.toml",
            // The local Verdaccio: the built-ins' dry runs read a registry, and `lib` 2.0.0 is
            // on the public one.
            &(format!(
                "[publish.npm]\nregistry = \"{}\"\n\n",
                var("POLYSHIP_TEST_NPM_REGISTRY")
            ) + r#"[pipeline.release]
description = "Gates, version, publish"

[[pipeline.release.step]]
name = "test"
run = "touch scratch-test"
env = { MODE = "ci" }
container = { image = "localhost/tools:{{ commit[:7] }}", engine = "podman" }

[[pipeline.release.step]]
name = "version"
uses = "version"
needs = ["test"]

[[pipeline.release.step]]
name = "publish"
uses = "publish"
needs = ["version"]
with = { no-push = true }
"#),
        )
        .commit("feat: the library")
        .tag("lib@1.0.0");
    r.write("packages/lib/index.js", "module.exports = 2;\n");
    r.git(&["add", "-A"]);
    r.git(&["commit", "-q", "-m", "feat(lib): a new export"]);
    let before = (r.git(&["status", "--porcelain"]), r.git(&["show-ref"]));
    let out = run(&r, &["release", "--dry-run"], &[]);
    let head = r.git(&["rev-parse", "--short=7", "HEAD"]);
    assert!(
        out.stdout
            .contains("Pipeline `release` (Gates, version, publish): 3 steps"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("  1. test\n       run: touch scratch-test\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&format!(
            "container: localhost/tools:{} (Podman)",
            head.trim()
        )),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("       env: MODE\n"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("  2. version\n       needs: test\n       uses: polyship version\n"),
        "{}",
        out.stdout
    );
    // The built-in's own dry run: the plan and the diff `polyship version` would write.
    assert!(
        out.stdout.contains("| npm  lib  1.0.0 → 1.1.0  minor"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("|  ## 1.1.0") || out.stdout.contains("| +## 1.1.0"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("uses: polyship publish --no-push"),
        "{}",
        out.stdout
    );
    assert_eq!(
        (r.git(&["status", "--porcelain"]), r.git(&["show-ref"])),
        before
    );
    assert!(!r.exists("scratch-test") && !r.exists(".git/polyship/runs"));
    // Podman may or may not be installed here; either way the dry run says what a run would meet.
    if out.code != 0 {
        assert!(out.stderr.contains("preflight found"), "{}", out.snapshot());
    }

    // `--version` gives the `version` steps an explicit version, and their dry run shows it.
    let out = run(&r, &["release", "--dry-run", "--version", "2.0.0"], &[]);
    assert!(
        out.stdout.contains("uses: polyship version -- 2.0.0\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("| npm  lib  1.0.0 → 2.0.0  major"),
        "{}",
        out.stdout
    );
    assert_eq!(
        (r.git(&["status", "--porcelain"]), r.git(&["show-ref"])),
        before
    );
}

#[test]
fn container_steps_run_in_podman_with_the_repository_mounted_and_secrets_passed_by_name() {
    let (conf, image) = support::podman_busybox();
    let r = repo(&format!(
        r#"[pipeline.ci]
secrets = ["DEPLOY_KEY"]

[[pipeline.ci.step]]
name = "in-box"
working-directory = "sub"
env = {{ MODE = "ci-{{{{ matrix.n }}}}" }}
matrix = {{ n = [1, 2] }}
container = {{ image = "{image}", engine = "podman" }}
run = "echo mode=$MODE key=$DEPLOY_KEY dir=$(pwd) && touch made-in-box-$MODE && test ! -e /etc/debian_version"

[[pipeline.ci.step]]
name = "after"
needs = ["in-box"]
run = "test -e sub/made-in-box-ci-1 && test -e sub/made-in-box-ci-2"
"#
    ));
    r.write("sub/.keep", "");
    let env = [
        ("CONTAINERS_CONF", conf.as_str()),
        ("DEPLOY_KEY", "container-secret-5150"),
    ];
    let out = run(&r, &["ci"], &env);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(
        out.stderr
            .contains("[in-box (1)] mode=ci-1 key=*** dir=[ROOT]/sub"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("container-secret-5150"));
    assert!(r.exists("sub/made-in-box-ci-2"));

    // A missing image and a missing engine are preflight problems: no step runs.
    let missing = r
        .read("polyship.toml")
        .replace(&image, "localhost/polyship-no-such-image:0");
    r.write("polyship.toml", &missing);
    let out = run(&r, &["ci"], &env);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains(
            "the image `localhost/polyship-no-such-image:0` is not present and could not be pulled"
        ),
        "{}",
        out.stderr
    );
    let bin = tempfile::tempdir().unwrap();
    let git = std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|d| d.join("git"))
        .find(|p| p.exists())
        .unwrap();
    std::os::unix::fs::symlink(git, bin.path().join("git")).unwrap();
    let out = r.run_env(
        r.path(),
        &["run", "ci"],
        &[
            ("PATH".into(), bin.path().to_string_lossy().into_owned()),
            ("DEPLOY_KEY".into(), "x-value".into()),
        ],
    );
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains("podman is not installed")
            || out.stderr.contains("no container engine is installed"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("apt-get install -y podman runc"),
        "{}",
        out.stderr
    );
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: this test needs the local registries; run `scripts/test`, or `source scripts/registries` before `cargo test`")
    })
}

#[test]
fn a_release_pipeline_gates_versions_publishes_verifies_and_announces() {
    let npm = var("POLYSHIP_TEST_NPM_REGISTRY");
    let receiver = Receiver::start(200);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let name = format!("pipeline-{}x{nanos}", std::process::id());
    let config = format!(
        r#"[publish]
timeout = 60

[publish.npm]
registry = "{npm}"

[pipeline.release]
description = "Gates, version, publish, verify, announce"
secrets = ["NPM_TOKEN"]

[[pipeline.release.step]]
name = "clean"
uses = "check-clean"

[[pipeline.release.step]]
name = "test"
group = "gates"
run = "node -e 'process.exit(require(\"./index.js\") === 2 ? 0 : 1)'"

[[pipeline.release.step]]
name = "version"
uses = "version"
needs = ["clean", "gates"]

[[pipeline.release.step]]
name = "publish"
uses = "publish"
needs = ["version"]

[[pipeline.release.step]]
name = "verify"
uses = "verify"
needs = ["publish"]

[[pipeline.release.step]]
name = "announce"
uses = "notify"
needs = ["verify"]
with = {{ kind = "slack", webhook = "{hook}" }}
"#,
        hook = receiver.url("hooks/release")
    );
    let (r, origin) = npm_release_repo(&name, &config);

    let env = [("NPM_TOKEN", var("POLYSHIP_TEST_NPM_TOKEN"))];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // Before the release, `verify` alone finds it incomplete.
    let skip = [
        "--skip", "clean", "--skip", "gates", "--skip", "version", "--skip", "publish",
    ];
    let out = run(
        &r,
        &[&["release", "--only", "verify"][..], &skip[..]].concat(),
        &env,
    );
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains("Failed verify") && out.stderr.contains("1.0.0 is not on its registry"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("Skipped announce"), "{}", out.stderr);
    assert!(receiver.bodies().is_empty());

    let out = run(&r, &["release"], &env);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert_eq!(
        states(&status_of(&r)),
        pairs(&[
            ("clean", "succeeded"),
            ("test", "succeeded"),
            ("version", "succeeded"),
            ("publish", "succeeded"),
            ("verify", "succeeded"),
            ("announce", "succeeded"),
        ])
    );
    // The built-ins did what the commands do: a release commit, the package on Verdaccio, the
    // tag on the remote.
    assert_eq!(
        r.git(&["log", "-1", "--format=%s"]).trim(),
        format!("chore(release): {name}@1.1.0")
    );
    let view = std::process::Command::new("npm")
        .args([
            "view",
            &format!("{name}@1.1.0"),
            "version",
            "--registry",
            &npm,
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&view.stdout).trim(),
        "1.1.0",
        "{}",
        String::from_utf8_lossy(&view.stderr)
    );
    let remote = r.git(&["ls-remote", "--tags", &origin.path().to_string_lossy()]);
    assert!(
        remote.contains(&format!("refs/tags/{name}@1.1.0")),
        "{remote}"
    );
    assert!(
        out.stderr.contains("[publish]    Published "),
        "{}",
        out.stderr
    );
    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 1);
    assert_eq!(bodies[0].0, "/hooks/release");
    assert!(
        bodies[0].1["text"]
            .as_str()
            .unwrap()
            .starts_with("release succeeded at"),
        "{:?}",
        bodies[0]
    );

    // Run again, everything is released: the built-ins find nothing to do, and verify agrees.
    let out = run(&r, &["release"], &env);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert_eq!(
        r.git(&["log", "-1", "--format=%s"]).trim(),
        format!("chore(release): {name}@1.1.0")
    );
    assert!(
        out.stderr.contains("[version] note: nothing to release"),
        "{}",
        out.stderr
    );
}

fn status_of(r: &Repo) -> serde_json::Value {
    status(r, "release")
}

/// An npm package `name` released at 1.0.0 (tagged) with one feature since, `config` as its
/// `polyship.toml`, and a bare `origin` that has both commits and the tag.
fn npm_release_repo(name: &str, config: &str) -> (Repo, tempfile::TempDir) {
    let r = Repo::new()
        .file(
            "package.json",
            &format!(
                "{{ \"name\": \"{name}\", \"version\": \"1.0.0\", \"main\": \"index.js\" }}\n"
            ),
        )
        .file("index.js", "module.exports = 1;\n")
        .file("polyship.toml", config)
        .commit("feat: the first version")
        .tag(&format!("{name}@1.0.0"));
    r.write("index.js", "module.exports = 2;\n");
    r.git(&["add", "-A"]);
    r.git(&["commit", "-q", "-m", "feat: two"]);
    let origin = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("git")
        .args(["init", "-q", "--bare"])
        .arg(origin.path())
        .status()
        .unwrap();
    assert!(status.success());
    r.git(&["remote", "add", "origin", &origin.path().to_string_lossy()]);
    r.git(&["push", "-q", "origin", "main", "--tags"]);
    (r, origin)
}

#[test]
fn the_steps_of_publish_run_as_builtins_of_their_own_and_a_rerun_goes_on() {
    let npm = var("POLYSHIP_TEST_NPM_REGISTRY");
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let name = format!("steps-{}x{nanos}", std::process::id());
    let config = format!(
        r#"[publish]
timeout = 60

[publish.npm]
registry = "{npm}"

[pipeline.release]
[[pipeline.release.step]]
name = "version"
uses = "version"

[[pipeline.release.step]]
name = "preflight"
uses = "preflight"
needs = ["version"]

[[pipeline.release.step]]
name = "build"
uses = "pack"
needs = ["preflight"]

[[pipeline.release.step]]
name = "upload"
uses = "upload"
needs = ["build"]

[[pipeline.release.step]]
name = "push"
uses = "push"
needs = ["upload"]

[[pipeline.release.step]]
name = "forge-release"
uses = "forge-release"
needs = ["push"]

[[pipeline.release.step]]
name = "verify"
uses = "verify"
needs = ["forge-release"]
"#
    );
    let (r, origin) = npm_release_repo(&name, &config);
    let token = var("POLYSHIP_TEST_NPM_TOKEN");
    let env = [("NPM_TOKEN", token.as_str())];
    let on_npm = || {
        let view = std::process::Command::new("npm")
            .args([
                "view",
                &format!("{name}@1.1.0"),
                "version",
                "--registry",
                &npm,
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&view.stdout).trim() == "1.1.0"
    };
    let remote_tag = || {
        r.git(&["ls-remote", "--tags", &origin.path().to_string_lossy()])
            .contains(&format!("refs/tags/{name}@1.1.0"))
    };

    // Up to `upload`: the package is on its registry, its tag is local, nothing is pushed, and
    // the release stays open in publish's journal.
    let out = run(&r, &["release", "--only", "upload"], &env);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(
        out.stderr
            .contains("[build] note: stopped after `build` (--until)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains(&format!("[upload]    Published {name} 1.1.0")),
        "{}",
        out.stderr
    );
    assert!(on_npm(), "not on the registry after `upload`");
    assert!(!remote_tag(), "pushed before `push`");
    assert!(r.git(&["tag"]).contains(&format!("{name}@1.1.0")));

    // The rest: the finished steps are not run again (a finished run is not resumed, so they
    // run and find nothing to do); push, forge release and verify complete the release.
    let out = run(&r, &["release"], &env);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(remote_tag(), "not pushed: {}", out.stderr);
    assert_eq!(
        states(&status(&r, "release"))
            .into_iter()
            .map(|(_, s)| s)
            .collect::<Vec<_>>(),
        ["succeeded"; 7]
    );
    assert!(
        out.stderr.contains("[version] note: nothing to release"),
        "{}",
        out.stderr
    );

    // Someone publishes 2.0.0 from elsewhere: an explicit `2.0.0` is refused before anything is
    // written, since the registry has it.
    support::npm_publish_elsewhere(
        &npm,
        &token,
        &format!("{{ \"name\": \"{name}\", \"version\": \"2.0.0\" }}\n"),
    );
    r.write("index.js", "module.exports = 3;\n");
    r.git(&["add", "-A"]);
    r.git(&["commit", "-q", "-m", "feat: three"]);
    let out = run(
        &r,
        &["release", "--only", "version", "--version", "2.0.0"],
        &env,
    );
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains(&format!(
            "[version] error: {name} 2.0.0 is already on its registry"
        )),
        "{}",
        out.stderr
    );
    assert_eq!(r.git(&["status", "--porcelain"]), "");
    let out = run(
        &r,
        &["release", "--only", "version", "--version", "2.1.0"],
        &env,
    );
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(r.read("package.json").contains("\"version\": \"2.1.0\""));
}
