//! Running a resolved pipeline: preflight, then steps in parallel as their needs allow.
//!
//! The main thread schedules: it starts every step whose needs are satisfied (up to `jobs` at
//! once), receives each child's output lines and exit from the threads that watch it, redacts the
//! lines into the step's log, journals every change of state, and stops what must stop: dependents
//! of a failure are blocked; after a failure nothing new starts unless `keep_going`; on Ctrl-C or a
//! timeout the step's process group gets SIGTERM, then SIGKILL after the grace period.
//! Notifications run last, with the run's outcome.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{Read, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::journal::{self, Run, RunStatus, StepRecord, StepState};
use super::notify::{self, StepSummary, Summary, When};
use super::{Action, Builtin, Pipeline, Step};
use crate::release::journal::JournalError;
use crate::release::redact::Redactor;

/// How a run goes.
#[derive(Debug, Clone)]
pub struct Options {
    pub root: PathBuf,
    pub git_dir: PathBuf,
    /// The polyship binary the built-ins `version`, `publish` and `verify` run.
    pub polyship: PathBuf,
    /// Steps at once.
    pub jobs: usize,
    /// Go on after a failure with every step whose needs succeeded.
    pub keep_going: bool,
    /// Per step: left out and counted as done (`--skip`).
    pub skip: Vec<bool>,
    /// Per step: run it (`--only` and what it needs); `false` steps are left out.
    pub selected: Vec<bool>,
    /// Per step: run it even when the last run already did (`--rerun`, `--from`).
    pub force: Vec<bool>,
    /// Per step: what another machine did with it (`run --from-artifacts`); `None` to run it here.
    pub elsewhere: Vec<Option<Elsewhere>>,
    /// Set on Ctrl-C.
    pub stop: Arc<AtomicBool>,
    /// Between SIGTERM and SIGKILL.
    pub grace: Duration,
    /// Masks secrets in every line shown or stored.
    pub redactor: Redactor,
}

impl Options {
    /// Whether step `i` is run: selected (`--only`) and not skipped (`--skip`).
    pub fn runs(&self, i: usize) -> bool {
        self.selected[i] && !self.skip[i]
    }
}

/// A matrix cell run on another machine, as `run --from-artifacts` found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Elsewhere {
    /// It succeeded there and its outputs are here: what needs it runs once its own needs did.
    Imported,
    /// It failed there, or left nothing: the message says which.
    Failed(String),
}

/// What a run says as it goes.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// Steps of an earlier, unfinished run at this commit are reused.
    Resuming {
        run: &'a str,
    },
    Started {
        step: &'a Step,
        attempt: u32,
    },
    /// A redacted line of a step's output.
    Output {
        step: &'a Step,
        line: &'a str,
    },
    /// A step reached its final state.
    Ended {
        step: &'a Step,
        record: &'a StepRecord,
    },
    /// Ctrl-C: running steps are being stopped.
    Stopping,
}

/// A problem found before any step ran, shown as `publish` shows its own.
pub use crate::release::publish::Problem;

/// Why a run could not start or be recorded.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("preflight found {} problem{}; no step ran", .0.len(), if .0.len() == 1 { "" } else { "s" })]
    Preflight(Vec<Problem>),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("failed to write the run journal: {0}")]
    JournalWrite(#[source] std::io::Error),
}

/// Everything that must hold before a step runs: declared secrets set and non-empty, container
/// engines installed and images present. All problems at once.
pub fn preflight(pipeline: &Pipeline, options: &Options, pull: bool) -> Vec<Problem> {
    let mut problems = Vec::new();
    for name in &pipeline.secrets {
        if std::env::var_os(name).is_none_or(|v| v.is_empty()) {
            problems.push(Problem {
                message: format!("the secret `{name}` is not set"),
                help: Some(format!(
                    "set `{name}` in the environment; pipeline `{}` declares it in `secrets`",
                    pipeline.name
                )),
                machine: false,
            });
        }
    }
    let mut images: Vec<(PathBuf, String)> = Vec::new();
    for step in selected(pipeline, options) {
        let Some(container) = &step.container else {
            continue;
        };
        match super::container::engine_program(container.engine) {
            Err(message) => {
                if !problems.iter().any(|p| p.message == message) {
                    problems.push(Problem {
                        message,
                        help: Some(format!("step `{}` runs in a container", step.name)),
                        machine: true,
                    });
                }
            }
            Ok(engine) => {
                if !images
                    .iter()
                    .any(|(e, i)| *e == engine && *i == container.image)
                {
                    images.push((engine, container.image.clone()));
                }
            }
        }
    }
    build_targets(pipeline, options, &mut problems);
    for (engine, image) in images {
        if let Err(message) = ensure_image(&engine, &image, pull, &options.redactor) {
            problems.push(Problem {
                message,
                help: Some(
                    "build or load the image locally, or make its registry reachable".into(),
                ),
                machine: true,
            });
        }
    }
    problems
}

/// Every `build` step's target can be built here: its builder runs, the target's standard library
/// and linker are installed. A container step builds with the container's tools: not checked here.
fn build_targets(pipeline: &Pipeline, options: &Options, problems: &mut Vec<Problem>) {
    let mut checked: Vec<(crate::artifacts::build::Builder, Option<String>)> = Vec::new();
    for step in selected(pipeline, options) {
        let Action::Builtin(Builtin::Build {
            builder, target, ..
        }) = &step.action
        else {
            continue;
        };
        // The user's command checks its own tools.
        let Some(builder) = builder else { continue };
        if step.container.is_some() || checked.contains(&(*builder, target.clone())) {
            continue;
        }
        checked.push((*builder, target.clone()));
        let result = match target {
            Some(t) => crate::artifacts::build::preflight(&options.root, *builder, t),
            None => crate::artifacts::build::host_target(&options.root)
                .and_then(|t| crate::artifacts::build::preflight(&options.root, *builder, &t)),
        };
        if let Err(crate::artifacts::build::BuildError::Preflight { message, help }) = result {
            problems.push(Problem {
                message: format!("step `{}`: {message}", step.name),
                help,
                machine: true,
            });
        }
    }
}

fn selected<'a>(pipeline: &'a Pipeline, options: &'a Options) -> impl Iterator<Item = &'a Step> {
    pipeline
        .steps
        .iter()
        .enumerate()
        .filter(|(i, _)| options.runs(*i))
        .map(|(_, s)| s)
}

/// The image is there, or is pulled (once per run: preflight runs once).
fn ensure_image(engine: &Path, image: &str, pull: bool, redactor: &Redactor) -> Result<(), String> {
    let quiet = |args: &[&str]| {
        Command::new(engine)
            .args(args)
            .stdin(Stdio::null())
            .output()
    };
    match quiet(&["image", "exists", image]) {
        Ok(out) if out.status.success() => return Ok(()),
        Ok(_) => {}
        Err(e) => return Err(format!("failed to run {}: {e}", engine.display())),
    }
    // docker has no `image exists`; `image inspect` answers the same question.
    if quiet(&["image", "inspect", image]).is_ok_and(|o| o.status.success()) {
        return Ok(());
    }
    if !pull {
        return Err(format!(
            "the image `{image}` is not present, and a dry run does not pull it"
        ));
    }
    match quiet(&["pull", image]) {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!(
            "the image `{image}` is not present and could not be pulled: {}",
            redactor.redact_bytes(&out.stderr).trim()
        )),
        Err(e) => Err(format!("failed to run {}: {e}", engine.display())),
    }
}

/// A step's fingerprint: what it runs, where, with which environment — secret values replaced by
/// their names' mark, so the journal holds nothing a secret could be read back from.
pub fn fingerprint(step: &Step, redactor: &Redactor) -> String {
    let mut hash = Sha256::new();
    let mut part = |s: &str| {
        hash.update(s.len().to_le_bytes());
        hash.update(s.as_bytes());
    };
    part(&step.name);
    match &step.action {
        Action::Run { shell, command } => {
            part("run");
            for word in shell {
                part(word);
            }
            part(&redactor.redact(command));
        }
        Action::Builtin(b) => {
            part("uses");
            part(&redactor.redact(&b.describe()));
        }
    }
    part(&step.dir.display().to_string());
    for (k, v) in &step.env {
        part(k);
        part(&redactor.redact(v));
    }
    if let Some(c) = &step.container {
        part(&c.image);
        for volume in &c.volumes {
            part(volume);
        }
        part(c.user.as_deref().unwrap_or(""));
    }
    for output in &step.outputs {
        part(output);
    }
    let digest = hash.finalize();
    digest.iter().take(16).fold(String::new(), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    })
}

/// HEAD's commit, read from the git directory's files (a `git` process per step would cost more
/// than the step).
pub fn head(root: &Path, git_dir: &Path) -> String {
    let read = |p: PathBuf| std::fs::read_to_string(p).ok().map(|s| s.trim().to_owned());
    let Some(head) = read(git_dir.join("HEAD")) else {
        return String::new();
    };
    let Some(reference) = head.strip_prefix("ref: ") else {
        return head;
    };
    // A worktree's refs live in the common directory.
    let common =
        read(git_dir.join("commondir")).map_or_else(|| git_dir.to_owned(), |c| git_dir.join(c));
    if let Some(id) = read(common.join(reference)) {
        return id;
    }
    if let Some(packed) = read(common.join("packed-refs"))
        && let Some(line) = packed
            .lines()
            .find(|l| l.ends_with(&format!(" {reference}")))
    {
        return line.split(' ').next().unwrap_or_default().to_owned();
    }
    Command::new("git")
        .args(["rev-parse", "-q", "--verify", "HEAD"])
        .current_dir(root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// Runs the pipeline. `Ok` with the run's record whatever the steps did; its status says.
pub fn run(
    pipeline: &Pipeline,
    options: &Options,
    report: &mut dyn FnMut(Event<'_>),
) -> Result<Run, RunError> {
    let problems = preflight(pipeline, options, true);
    if !problems.is_empty() {
        return Err(RunError::Preflight(problems));
    }
    let _lock = journal::lock(&options.git_dir, &pipeline.name)?;
    let previous = journal::last(&options.git_dir, &pipeline.name)?;
    let commit = head(&options.root, &options.git_dir);
    let mut run = Run {
        schema: 1,
        id: journal::new_id(&options.git_dir, &pipeline.name),
        pipeline: pipeline.name.clone(),
        started: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        updated: 0,
        commit: commit.clone(),
        head: commit.clone(),
        status: RunStatus::Running,
        steps: Vec::with_capacity(pipeline.steps.len()),
    };
    // An unfinished run that left HEAD where it is: what it did is not done again.
    let resumable = previous.filter(|p| p.status != RunStatus::Succeeded && p.head == commit);
    if let Some(p) = &resumable {
        run.commit.clone_from(&p.commit);
        report(Event::Resuming { run: &p.id });
    }
    for (i, step) in pipeline.steps.iter().enumerate() {
        let fingerprint = fingerprint(step, &options.redactor);
        let earlier = resumable
            .as_ref()
            .and_then(|p| p.step(&step.name))
            .filter(|r| {
                r.fingerprint == fingerprint
                    && matches!(r.state, StepState::Succeeded | StepState::Reused)
                    && !options.force[i]
            });
        let notify = matches!(step.action, Action::Builtin(Builtin::Notify(_)));
        let elsewhere = options.elsewhere.get(i).cloned().flatten();
        run.steps.push(StepRecord {
            name: step.name.clone(),
            state: match (&elsewhere, earlier) {
                (Some(Elsewhere::Imported), _) => StepState::Imported,
                (Some(Elsewhere::Failed(_)), _) => StepState::Failed,
                _ if !options.runs(i) => StepState::Skipped,
                (_, Some(_)) if !notify => StepState::Reused,
                _ => StepState::Pending,
            },
            fingerprint,
            attempts: 0,
            elapsed_ms: earlier.map_or(0, |r| r.elapsed_ms),
            exit_code: None,
            message: match elsewhere {
                Some(Elsewhere::Failed(message)) => Some(message),
                _ => None,
            },
            log: earlier
                .and_then(|r| r.log.clone())
                .filter(|_| options.runs(i) && !notify),
        });
    }
    // What ran on the cells of a partial matrix that succeeded then runs again once one of the
    // others is built: an archive of two targets is not the archive of three.
    let mut again = vec![false; pipeline.steps.len()];
    for &i in &pipeline.order {
        again[i] = run.steps[i].state == StepState::Reused
            && pipeline.steps[i].needs.iter().any(|&n| {
                again[n] || (pipeline.steps[n].partial && run.steps[n].state == StepState::Pending)
            });
        if again[i] {
            run.steps[i].state = StepState::Pending;
        }
    }
    run.save(&options.git_dir).map_err(RunError::JournalWrite)?;
    journal::prune(&options.git_dir, &pipeline.name);
    for &i in &pipeline.order {
        if matches!(
            run.steps[i].state,
            StepState::Reused | StepState::Skipped | StepState::Imported | StepState::Failed
        ) {
            report(Event::Ended {
                step: &pipeline.steps[i],
                record: &run.steps[i],
            });
        }
    }
    let mut scheduler = Scheduler {
        pipeline,
        options,
        run,
        running: HashMap::new(),
        failed: false,
        stopping: None,
    };
    scheduler.main_loop(report)?;
    scheduler.notify(report)?;
    let mut run = scheduler.run;
    run.head = head(&options.root, &options.git_dir);
    run.save(&options.git_dir).map_err(RunError::JournalWrite)?;
    Ok(run)
}

/// A message from the threads that watch a step.
enum Message {
    /// A line of stdout (`true`) or stderr.
    Output(usize, bool, Vec<u8>),
    Exit(usize, Exit),
}

/// How a step's process ended.
#[derive(Debug)]
enum Exit {
    Code(Option<i32>),
    /// It could not be started, or an in-process built-in failed: the message says why.
    Error(String),
}

struct Running {
    pid: Option<u32>,
    started: Instant,
    attempt: u32,
    log: std::fs::File,
    /// When a timeout's SIGTERM was sent.
    timed_out: Option<Instant>,
    killed: bool,
    /// stdout kept for `verify`, which reads polyship's JSON.
    captured: Option<Vec<u8>>,
}

struct Scheduler<'a> {
    pipeline: &'a Pipeline,
    options: &'a Options,
    run: Run,
    running: HashMap<usize, Running>,
    failed: bool,
    /// When Ctrl-C's SIGTERM was sent.
    stopping: Option<Instant>,
}

impl Scheduler<'_> {
    fn main_loop(&mut self, report: &mut dyn FnMut(Event<'_>)) -> Result<(), RunError> {
        let (tx, rx) = mpsc::channel();
        loop {
            self.watch_stop(report);
            self.block_dependents(report)?;
            if self.stopping.is_none() && (!self.failed || self.options.keep_going) {
                self.start_ready(&tx, report)?;
            }
            if self.running.is_empty() {
                break;
            }
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(Message::Output(i, stdout, line)) => self.output(i, stdout, &line, report),
                Ok(Message::Exit(i, exit)) => self.exited(i, &exit, &tx, report)?,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        let interrupted = self.stopping.is_some();
        for &i in &self.pipeline.order {
            if self.run.steps[i].state == StepState::Pending && !is_notify(&self.pipeline.steps[i])
            {
                self.run.steps[i].state = StepState::NotRun;
                self.run.steps[i].message = Some(
                    if interrupted {
                        "the run was interrupted"
                    } else {
                        "the run stopped after a failure"
                    }
                    .into(),
                );
                report(Event::Ended {
                    step: &self.pipeline.steps[i],
                    record: &self.run.steps[i],
                });
            }
        }
        self.run.status = if interrupted {
            RunStatus::Interrupted
        } else if self.run.steps.iter().any(|s| {
            matches!(
                s.state,
                StepState::Failed | StepState::Blocked | StepState::NotRun
            )
        }) {
            RunStatus::Failed
        } else {
            RunStatus::Succeeded
        };
        Ok(())
    }

    fn save(&mut self) -> Result<(), RunError> {
        self.run
            .save(&self.options.git_dir)
            .map_err(RunError::JournalWrite)
    }

    /// Ctrl-C: SIGTERM to every running step, SIGKILL once the grace period is over.
    fn watch_stop(&mut self, report: &mut dyn FnMut(Event<'_>)) {
        if self.stopping.is_none() && self.options.stop.load(Ordering::Relaxed) {
            self.stopping = Some(Instant::now());
            report(Event::Stopping);
            for r in self.running.values() {
                signal(r.pid, "TERM");
            }
        }
        let now = Instant::now();
        let grace = self.options.grace;
        let stopping = self.stopping;
        for r in self.running.values_mut() {
            let since = stopping.into_iter().chain(r.timed_out).min();
            if !r.killed && since.is_some_and(|t| now.duration_since(t) >= grace) {
                signal(r.pid, "KILL");
                r.killed = true;
            }
        }
        for (&i, r) in &mut self.running {
            if r.timed_out.is_none()
                && let Some(limit) = self.pipeline.steps[i].timeout
                && r.started.elapsed() >= limit
            {
                r.timed_out = Some(now);
                signal(r.pid, "TERM");
            }
        }
    }

    /// Whether dependents of step `i` may run (`Some(true)`), never will (`Some(false)`: it
    /// failed or was blocked), or must wait. A skipped step counts as done once its own needs are,
    /// so skipping a step keeps the order around it. A failed cell of a `partial` matrix counts
    /// as done once the other cells are, if one of them succeeded.
    fn settled(&self, i: usize) -> Option<bool> {
        match self.run.steps[i].state {
            StepState::Succeeded | StepState::Reused => Some(true),
            StepState::Failed | StepState::Blocked if self.pipeline.steps[i].partial => {
                self.cells_outcome(i)
            }
            StepState::Failed | StepState::Blocked => Some(false),
            // Done elsewhere, in the order its needs keep here.
            StepState::Skipped | StepState::Imported => {
                let mut all = Some(true);
                for &n in &self.pipeline.steps[i].needs {
                    match self.settled(n) {
                        Some(false) => return Some(false),
                        None => all = None,
                        Some(true) => {}
                    }
                }
                all
            }
            _ => None,
        }
    }

    /// The cells of step `i`'s matrix together: `None` while one has not ended, then whether
    /// any succeeded.
    fn cells_outcome(&self, i: usize) -> Option<bool> {
        let declared = &self.pipeline.steps[i].declared;
        let mut any = false;
        for (j, step) in self.pipeline.steps.iter().enumerate() {
            if step.declared != *declared {
                continue;
            }
            match self.run.steps[j].state {
                StepState::Succeeded | StepState::Reused | StepState::Imported => any = true,
                StepState::Failed | StepState::Blocked | StepState::Skipped => {}
                _ => return None,
            }
        }
        Some(any)
    }

    /// Pending steps with a need that failed or was blocked are blocked too (after an
    /// interruption they are left to become "not run").
    fn block_dependents(&mut self, report: &mut dyn FnMut(Event<'_>)) -> Result<(), RunError> {
        let mut changed = false;
        for &i in &self.pipeline.order {
            let step = &self.pipeline.steps[i];
            if self.run.steps[i].state != StepState::Pending || is_notify(step) {
                continue;
            }
            let Some(&bad) = step.needs.iter().find(|&&n| self.settled(n) == Some(false)) else {
                continue;
            };
            let record = &mut self.run.steps[i];
            record.state = StepState::Blocked;
            record.message = Some(format!(
                "`{}` did not succeed",
                self.pipeline.steps[bad].name
            ));
            report(Event::Ended { step, record });
            changed = true;
        }
        if changed { self.save() } else { Ok(()) }
    }

    fn start_ready(
        &mut self,
        tx: &mpsc::Sender<Message>,
        report: &mut dyn FnMut(Event<'_>),
    ) -> Result<(), RunError> {
        for &i in &self.pipeline.order {
            if self.running.len() >= self.options.jobs.max(1) {
                break;
            }
            let step = &self.pipeline.steps[i];
            if self.run.steps[i].state != StepState::Pending
                || is_notify(step)
                || !step.needs.iter().all(|&n| self.settled(n) == Some(true))
            {
                continue;
            }
            self.start(i, 1, tx, report)?;
        }
        Ok(())
    }

    fn log_path(&self, i: usize) -> (String, PathBuf) {
        let name = format!(
            "{}/{i:03}-{}.log",
            self.run.id,
            journal::slug(&self.pipeline.steps[i].name)
        );
        (
            name.clone(),
            journal::runs_dir(&self.options.git_dir).join(name),
        )
    }

    fn start(
        &mut self,
        i: usize,
        attempt: u32,
        tx: &mpsc::Sender<Message>,
        report: &mut dyn FnMut(Event<'_>),
    ) -> Result<(), RunError> {
        let step = &self.pipeline.steps[i];
        let (name, path) = self.log_path(i);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(RunError::JournalWrite)?;
        let record = &mut self.run.steps[i];
        record.state = StepState::Running;
        record.attempts = attempt;
        record.log = Some(name);
        record.message = None;
        report(Event::Started { step, attempt });
        let verify = matches!(step.action, Action::Builtin(Builtin::Verify(_)));
        let pid = spawn(step, &self.pipeline.secrets, self.options, i, tx.clone());
        self.running.insert(
            i,
            Running {
                pid,
                started: Instant::now(),
                attempt,
                log,
                timed_out: None,
                killed: false,
                captured: verify.then(Vec::new),
            },
        );
        self.save()
    }

    fn output(&mut self, i: usize, stdout: bool, line: &[u8], report: &mut dyn FnMut(Event<'_>)) {
        let Some(r) = self.running.get_mut(&i) else {
            return;
        };
        if let Some(captured) = r.captured.as_mut().filter(|_| stdout) {
            captured.extend_from_slice(line);
            captured.push(b'\n');
            return;
        }
        let text = self.options.redactor.redact_bytes(line);
        let _ = writeln!(r.log, "{text}");
        report(Event::Output {
            step: &self.pipeline.steps[i],
            line: &text,
        });
    }

    fn exited(
        &mut self,
        i: usize,
        exit: &Exit,
        tx: &mpsc::Sender<Message>,
        report: &mut dyn FnMut(Event<'_>),
    ) -> Result<(), RunError> {
        let Some(mut r) = self.running.remove(&i) else {
            return Ok(());
        };
        let step = &self.pipeline.steps[i];
        let interrupted = self.stopping.is_some() && !matches!(exit, Exit::Code(Some(0)));
        let failure = if interrupted {
            None
        } else {
            self.failure(step, exit, &mut r)
        };
        if let Some(message) = &failure {
            let _ = writeln!(
                r.log,
                "polyship: the step {}",
                self.options.redactor.redact(message)
            );
        }
        let record = &mut self.run.steps[i];
        record.elapsed_ms += u64::try_from(r.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        record.exit_code = match exit {
            Exit::Code(code) => *code,
            Exit::Error(_) => None,
        };
        let retry = failure.is_some()
            && r.attempt <= step.retries
            && r.timed_out.is_none()
            && self.stopping.is_none();
        if retry {
            let _ = writeln!(
                r.log,
                "polyship: trying again (attempt {} of {})",
                r.attempt + 1,
                step.retries + 1
            );
            return self.start(i, r.attempt + 1, tx, report);
        }
        if interrupted {
            record.state = StepState::Interrupted;
            record.message = Some("interrupted".into());
        } else if let Some(message) = failure {
            record.state = StepState::Failed;
            record.message = Some(self.options.redactor.redact(&message));
            // A cell of a partial matrix stops the run only when no cell succeeded.
            self.failed |= !step.partial || self.cells_outcome(i) == Some(false);
        } else {
            record.state = StepState::Succeeded;
        }
        self.run.head = head(&self.options.root, &self.options.git_dir);
        report(Event::Ended {
            step,
            record: &self.run.steps[i],
        });
        self.save()
    }

    /// Why a step that ended failed, `None` when it succeeded: its exit, its timeout, what
    /// `verify` found, or an output it did not make.
    fn failure(&self, step: &Step, exit: &Exit, r: &mut Running) -> Option<String> {
        let failure = match (exit, r.timed_out) {
            (_, Some(_)) => Some(format!(
                "timed out after {} s",
                step.timeout.map_or(0, |t| t.as_secs())
            )),
            (Exit::Code(Some(0)), None) => None,
            (Exit::Code(Some(code)), None) => Some(format!("exited with code {code}")),
            (Exit::Code(None), None) => Some("was killed by a signal".to_owned()),
            (Exit::Error(message), None) => Some(message.clone()),
        };
        if let Some(captured) = r.captured.take() {
            for line in String::from_utf8_lossy(&captured).lines() {
                let _ = writeln!(r.log, "{}", self.options.redactor.redact(line));
            }
            // Exit 1 with a report (`publish --dry-run` found artifacts missing): the report
            // says what is missing, which is more than the exit code.
            let reported = serde_json::from_slice::<serde_json::Value>(&captured).is_ok();
            match (&failure, exit) {
                (None, _) => return verify_report(&captured),
                (Some(_), Exit::Code(Some(1))) if reported && r.timed_out.is_none() => {
                    if let Some(found) = verify_report(&captured) {
                        return Some(found);
                    }
                }
                _ => {}
            }
        }
        failure.or_else(|| missing_output(step, &self.options.root))
    }

    /// Notifications, once every other step is done: those `on` the run's outcome.
    fn notify(&mut self, report: &mut dyn FnMut(Event<'_>)) -> Result<(), RunError> {
        let outcome = if self.run.status == RunStatus::Succeeded {
            When::Success
        } else {
            When::Failure
        };
        let agent = crate::release::registry::agent();
        for &i in &self.pipeline.order {
            let step = &self.pipeline.steps[i];
            let Action::Builtin(Builtin::Notify(settings)) = &step.action else {
                continue;
            };
            if self.run.steps[i].state != StepState::Pending {
                continue;
            }
            if !settings.on.contains(&outcome) {
                let record = &mut self.run.steps[i];
                record.state = StepState::Skipped;
                record.message = Some(format!(
                    "announces only on {}",
                    settings
                        .on
                        .iter()
                        .map(|w| w.as_str())
                        .collect::<Vec<_>>()
                        .join(" and ")
                ));
                report(Event::Ended { step, record });
                continue;
            }
            report(Event::Started { step, attempt: 1 });
            let started = Instant::now();
            let summary = self.summary();
            let result = notify::send(&agent, settings, &summary, &self.options.redactor);
            let record = &mut self.run.steps[i];
            record.attempts = 1;
            record.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            match result {
                Ok(()) => record.state = StepState::Succeeded,
                Err(message) => {
                    record.state = StepState::Failed;
                    record.message = Some(self.options.redactor.redact(&message));
                    if self.run.status == RunStatus::Succeeded {
                        self.run.status = RunStatus::Failed;
                    }
                }
            }
            report(Event::Ended {
                step,
                record: &self.run.steps[i],
            });
            self.save()?;
        }
        Ok(())
    }

    /// The run so far, for a notification: the first failed step and the end of its log.
    fn summary(&self) -> Summary {
        let failed = self
            .pipeline
            .order
            .iter()
            .copied()
            .find(|&i| self.run.steps[i].state == StepState::Failed);
        let log_tail = failed
            .and_then(|i| self.run.steps[i].log.as_ref())
            .map(|log| {
                let text =
                    std::fs::read_to_string(journal::runs_dir(&self.options.git_dir).join(log))
                        .unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                lines[lines.len().saturating_sub(20)..].join("\n")
            });
        Summary {
            pipeline: self.pipeline.name.clone(),
            run: self.run.id.clone(),
            status: if self.run.status == RunStatus::Succeeded {
                "success"
            } else {
                "failure"
            },
            commit: self.run.commit.clone(),
            steps: self
                .pipeline
                .order
                .iter()
                .filter(|&&i| !is_notify(&self.pipeline.steps[i]))
                .map(|&i| StepSummary {
                    name: self.run.steps[i].name.clone(),
                    status: self.run.steps[i].state.as_str(),
                    elapsed_ms: self.run.steps[i].elapsed_ms,
                })
                .collect(),
            failed_step: failed.map(|i| self.run.steps[i].name.clone()),
            log_tail,
        }
    }
}

fn is_notify(step: &Step) -> bool {
    matches!(step.action, Action::Builtin(Builtin::Notify(_)))
}

/// Starts a step's process, or an in-process built-in on a thread; its output and exit reach the
/// scheduler through `tx`. Returns the process id (also its process group's).
fn spawn(
    step: &Step,
    secrets: &[String],
    options: &Options,
    i: usize,
    tx: mpsc::Sender<Message>,
) -> Option<u32> {
    let argv = match command_line(step, secrets, options) {
        Ok(Some(argv)) => argv,
        Ok(None) => {
            let root = options.root.clone();
            std::thread::spawn(move || check_clean(&root, i, &tx));
            return None;
        }
        Err(message) => {
            let _ = tx.send(Message::Exit(i, Exit::Error(message)));
            return None;
        }
    };
    let mut command = Command::new(&argv[0]);
    command
        .args(&argv[1..])
        .current_dir(
            if step.container.is_some() || matches!(step.action, Action::Builtin(_)) {
                &options.root
            } else {
                &step.dir
            },
        )
        .envs(step.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            let _ = tx.send(Message::Exit(
                i,
                Exit::Error(format!("could not start `{}`: {e}", argv[0])),
            ));
            return None;
        }
    };
    let pid = child.id();
    let pumps = [
        child
            .stdout
            .take()
            .map(|out| pump(out, i, true, tx.clone())),
        child
            .stderr
            .take()
            .map(|err| pump(err, i, false, tx.clone())),
    ];
    std::thread::spawn(move || {
        for pump in pumps.into_iter().flatten() {
            let _ = pump.join();
        }
        let exit = match child.wait() {
            Ok(status) => Exit::Code(status.code()),
            Err(e) => Exit::Error(format!("could not be waited for: {e}")),
        };
        let _ = tx.send(Message::Exit(i, exit));
    });
    Some(pid)
}

/// The program and arguments of a step; `None` for `check-clean`, which runs in-process.
fn command_line(
    step: &Step,
    secrets: &[String],
    options: &Options,
) -> Result<Option<Vec<String>>, String> {
    let argv = match &step.action {
        Action::Run { shell, command } => {
            let mut argv = shell.clone();
            argv.push(command.clone());
            argv
        }
        Action::Builtin(Builtin::CheckClean) => return Ok(None),
        Action::Builtin(
            b @ (Builtin::Version(_)
            | Builtin::Publish(_)
            | Builtin::Verify(_)
            | Builtin::Build { .. }
            | Builtin::Artifacts(_)),
        ) => {
            let mut argv = vec![
                options.polyship.display().to_string(),
                "-C".to_owned(),
                options.root.display().to_string(),
            ];
            argv.extend(b.polyship_args().unwrap_or_default().iter().cloned());
            if matches!(b, Builtin::Verify(_)) {
                argv.push("--json".to_owned());
            }
            argv
        }
        Action::Builtin(Builtin::Notify(_)) => {
            return Err("a notification runs after the other steps".into());
        }
    };
    let Some(container) = &step.container else {
        return Ok(Some(argv));
    };
    let engine = super::container::engine_program(container.engine)?;
    let mut names: Vec<&str> = step.env.iter().map(|(k, _)| k.as_str()).collect();
    names.extend(
        secrets
            .iter()
            .map(String::as_str)
            .filter(|s| !step.env.iter().any(|(k, _)| k == s)),
    );
    let mut full = vec![engine.display().to_string()];
    full.extend(super::container::run_args(
        container,
        &options.root,
        &step.dir,
        &names,
        &argv,
    ));
    Ok(Some(full))
}

/// Longest line kept whole; a longer one is cut into pieces of this size.
const LINE_LIMIT: usize = 64 * 1024;

/// Sends every line `reader` gives, as it comes.
fn pump(
    mut reader: impl Read + Send + 'static,
    i: usize,
    stdout: bool,
    tx: mpsc::Sender<Message>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut pending: Vec<u8> = Vec::new();
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            let n = match reader.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            pending.extend_from_slice(&chunk[..n]);
            while let Some(pos) = pending
                .iter()
                .position(|&b| b == b'\n')
                .or_else(|| (pending.len() >= LINE_LIMIT).then_some(LINE_LIMIT))
            {
                let mut line: Vec<u8> = pending.drain(..pos.min(pending.len())).collect();
                if pending.first() == Some(&b'\n') {
                    pending.remove(0);
                }
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if tx.send(Message::Output(i, stdout, line)).is_err() {
                    return;
                }
            }
        }
        if !pending.is_empty() {
            let _ = tx.send(Message::Output(i, stdout, pending));
        }
    })
}

/// `check-clean`: `git status` lists nothing.
fn check_clean(root: &Path, i: usize, tx: &mpsc::Sender<Message>) {
    let out = Command::new("git")
        .args(["status", "--porcelain=v1", "--untracked-files=normal"])
        .current_dir(root)
        .stdin(Stdio::null())
        .output();
    let exit = match out {
        Err(e) => Exit::Error(format!("could not run git: {e}")),
        Ok(out) if !out.status.success() => Exit::Error(format!(
            "`git status` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Ok(out) if out.stdout.is_empty() => Exit::Code(Some(0)),
        Ok(out) => {
            let _ = tx.send(Message::Output(
                i,
                false,
                b"the working tree has changes that are not committed:".to_vec(),
            ));
            for line in out.stdout.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                let _ = tx.send(Message::Output(i, false, line.to_vec()));
            }
            Exit::Error("found uncommitted changes: commit or stash them first".into())
        }
    };
    let _ = tx.send(Message::Exit(i, exit));
}

/// Sends `signal` to a step's process group.
fn signal(pid: Option<u32>, signal: &str) {
    if let Some(pid) = pid {
        let _ = Command::new("kill")
            .args(["-s", signal, "--", &format!("-{pid}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// What `polyship publish --dry-run --json` says is left to do; `None` when every package of
/// the release is on its registry with our content (or private), tagged, and pushed, and — with
/// a forge — has its forge release with the changelog's notes.
fn verify_report(stdout: &[u8]) -> Option<String> {
    let Ok(doc) = serde_json::from_slice::<serde_json::Value>(stdout) else {
        return Some("`polyship publish --dry-run --json` printed no JSON document".into());
    };
    let Some(targets) = doc.get("targets").and_then(serde_json::Value::as_array) else {
        return Some("`polyship publish --dry-run --json` printed no `targets`".into());
    };
    let left: Vec<String> = targets
        .iter()
        .filter_map(|t| {
            let field = |k: &str| t.get(k).and_then(serde_json::Value::as_str).unwrap_or("?");
            let flag = |k: &str| t.get(k).and_then(serde_json::Value::as_bool) == Some(true);
            let mut missing = Vec::new();
            if !matches!(field("state"), "existing" | "published" | "private") {
                missing.push(field("state").to_owned());
            }
            if !flag("tagged") {
                missing.push("not tagged".to_owned());
            }
            if !flag("pushed") {
                missing.push("tag not pushed".to_owned());
            }
            if doc.get("forge").and_then(serde_json::Value::as_bool) == Some(true)
                && t.get("release").is_none_or(serde_json::Value::is_null)
            {
                missing.push("no forge release with the changelog's notes".to_owned());
            }
            if let Some(error) = t.get("error").and_then(serde_json::Value::as_str) {
                missing.push(error.to_owned());
            }
            (!missing.is_empty()).then(|| {
                format!(
                    "{} {} ({})",
                    field("name"),
                    field("version"),
                    missing.join(", ")
                )
            })
        })
        .collect();
    let mut left = left;
    left.extend(
        doc.get("artifacts")
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(serde_json::Value::as_str)
            .map(str::to_owned),
    );
    (!left.is_empty()).then(|| format!("the release is not complete: {}", left.join("; ")))
}

/// The first output glob that matches no file.
fn missing_output(step: &Step, root: &Path) -> Option<String> {
    step.outputs.iter().find_map(|pattern| {
        let full = root.join(pattern);
        let found =
            glob::glob(&full.to_string_lossy()).is_ok_and(|mut paths| paths.any(|p| p.is_ok()));
        (!found).then(|| format!("made no `{pattern}`, which it declares in `outputs`"))
    })
}
