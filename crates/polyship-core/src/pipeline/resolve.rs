//! From `[pipeline.<name>]` to a [`Pipeline`]: matrices expanded into one step per cell, templates
//! rendered (strictly: an unknown variable is an error), `needs` resolved to steps, cycles refused.
//! Every error points at the line of `polyship.toml` it comes from.

use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path};
use std::time::Duration;

use toml::Spanned;

use super::builtin::Builtin;
use super::config::{PipelineConfig, StepConfig};
use super::{Action, Container, Pipeline, Step};
use crate::config::LoadedConfig;
use crate::diagnostic::SourceError;

/// What templates may read besides the matrix.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// The environment (`{{ env.NAME }}`).
    pub env: BTreeMap<String, String>,
    /// The commit the run starts from (`{{ commit }}`).
    pub commit: String,
    /// `{{ version }}`: the version every package of the plan releases at, when they share one.
    pub version: Option<String>,
}

/// Why a pipeline cannot run.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("there is no pipeline `{name}` in `polyship.toml`")]
    Unknown { name: String, known: Vec<String> },
    #[error("pipeline `{name}` is invalid")]
    Invalid {
        name: String,
        #[source]
        source: SourceError,
    },
}

impl ResolveError {
    pub fn help(&self) -> Option<String> {
        match self {
            ResolveError::Unknown { known, .. } if known.is_empty() => Some(
                "declare one as `[pipeline.release]` with `[[pipeline.release.step]]` tables; see docs/pipeline.md"
                    .into(),
            ),
            ResolveError::Unknown { known, .. } => Some(format!(
                "the pipelines are {}; `polyship run --list` describes them",
                super::quoted_list(known)
            )),
            ResolveError::Invalid { .. } => None,
        }
    }
}

/// Resolves pipeline `name` of the loaded configuration.
// The error is made once per command, and its snippet is worth its size.
#[allow(clippy::result_large_err)]
pub fn resolve(
    loaded: &LoadedConfig,
    name: &str,
    inputs: &Inputs,
) -> Result<Pipeline, ResolveError> {
    let Some(config) = loaded.config.pipelines.get(name) else {
        return Err(ResolveError::Unknown {
            name: name.to_owned(),
            known: loaded.config.pipelines.keys().cloned().collect(),
        });
    };
    // A declared secret that is unset reads as empty here: preflight reports it with every other
    // missing secret, rather than the first template that reads it.
    let mut env = inputs.env.clone();
    for secret in &config.get_ref().secrets {
        env.entry(secret.get_ref().clone()).or_default();
    }
    Resolver {
        loaded,
        inputs,
        env,
        templates: templates(),
    }
    .pipeline(name, config.get_ref())
    .map_err(|source| ResolveError::Invalid {
        name: name.to_owned(),
        source,
    })
}

fn templates() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env
}

struct Resolver<'a> {
    loaded: &'a LoadedConfig,
    inputs: &'a Inputs,
    env: BTreeMap<String, String>,
    templates: minijinja::Environment<'static>,
}

/// One cell of a step's matrix: its values in axis order.
type Cell = Vec<(String, toml::Value)>;

impl Resolver<'_> {
    fn error(&self, offset: usize, message: impl Into<String>) -> SourceError {
        self.loaded.error_at(offset, message)
    }

    fn pipeline(&self, name: &str, config: &PipelineConfig) -> Result<Pipeline, SourceError> {
        for secret in &config.secrets {
            if !is_variable_name(secret.get_ref()) {
                return Err(self
                    .error(
                        secret.span().start,
                        format!("`{}` is not an environment variable name", secret.get_ref()),
                    )
                    .help(
                        "secrets are the names of environment variables: letters, digits and `_`",
                    ));
            }
        }
        self.names(config)?;
        let mut steps = Vec::new();
        let mut instances: HashMap<&str, Vec<usize>> = HashMap::new();
        for spanned in &config.steps {
            let step = spanned.get_ref();
            let first = steps.len();
            for cell in self.cells(step)? {
                steps.push(self.step(name, config, spanned, &cell)?);
            }
            instances.insert(step.name.get_ref(), (first..steps.len()).collect());
        }
        let mut groups: HashMap<&str, Vec<usize>> = HashMap::new();
        for spanned in &config.steps {
            let step = spanned.get_ref();
            if let Some(group) = &step.group {
                groups
                    .entry(group.get_ref())
                    .or_default()
                    .extend(&instances[step.name.get_ref().as_str()]);
            }
        }
        for spanned in &config.steps {
            let step = spanned.get_ref();
            let mut needs = Vec::new();
            for need in &step.needs {
                let Some(found) = instances
                    .get(need.get_ref().as_str())
                    .or_else(|| groups.get(need.get_ref().as_str()))
                else {
                    let mut known: Vec<&str> =
                        instances.keys().chain(groups.keys()).copied().collect();
                    known.sort_unstable();
                    return Err(self
                        .error(need.span().start, format!("`{}` needs `{}`, which is neither a step nor a group of this pipeline", step.name.get_ref(), need.get_ref()))
                        .help(format!("the steps and groups are {}", super::quoted_list(&known))));
                };
                needs.extend(found.iter().copied());
            }
            needs.sort_unstable();
            needs.dedup();
            for &i in &instances[step.name.get_ref().as_str()] {
                steps[i].needs.clone_from(&needs);
            }
        }
        artifact_checks(&mut steps);
        let order = self.order(config, &steps)?;
        Ok(Pipeline {
            name: name.to_owned(),
            description: config.description.clone(),
            secrets: config.secrets.iter().map(|s| s.get_ref().clone()).collect(),
            steps,
            order,
        })
    }

    /// Step names are unique, and no group is named like a step.
    fn names(&self, config: &PipelineConfig) -> Result<(), SourceError> {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for step in &config.steps {
            let name = &step.get_ref().name;
            if name.get_ref().trim().is_empty() {
                return Err(self.error(name.span().start, "a step's name is empty"));
            }
            if let Some(line) = seen.insert(name.get_ref(), name.span().start) {
                let first = crate::diagnostic::Position::at(&self.loaded.text, line).line;
                return Err(self
                    .error(
                        name.span().start,
                        format!("a second step is named `{}`", name.get_ref()),
                    )
                    .help(format!(
                        "step names are unique in a pipeline; the first `{}` is on line {first}",
                        name.get_ref()
                    )));
            }
        }
        for step in &config.steps {
            if let Some(group) = &step.get_ref().group
                && seen.contains_key(group.get_ref().as_str())
            {
                return Err(self
                    .error(group.span().start, format!("group `{}` has the name of a step", group.get_ref()))
                    .help("`needs` and `--skip` name steps and groups alike: give the group another name"));
            }
        }
        Ok(())
    }

    /// The order steps run in when nothing runs in parallel: each after what it needs, otherwise
    /// as written. A cycle is an error at the line of a step on it.
    fn order(&self, config: &PipelineConfig, steps: &[Step]) -> Result<Vec<usize>, SourceError> {
        let mut done = vec![false; steps.len()];
        let mut order = Vec::with_capacity(steps.len());
        while order.len() < steps.len() {
            let next =
                (0..steps.len()).find(|&i| !done[i] && steps[i].needs.iter().all(|&n| done[n]));
            let Some(i) = next else {
                let cycle = cycle(steps, &done);
                let first = &steps[cycle[0]];
                let declared = config
                    .steps
                    .iter()
                    .find(|s| *s.get_ref().name.get_ref() == first.declared)
                    .map_or(0, |s| s.get_ref().name.span().start);
                let path: Vec<&str> = cycle.iter().map(|&i| steps[i].name.as_str()).collect();
                return Err(self
                    .error(
                        declared,
                        format!(
                            "the steps need each other in a cycle: {} → {}",
                            path.join(" → "),
                            path[0]
                        ),
                    )
                    .help("remove one of these `needs`"));
            };
            done[i] = true;
            order.push(i);
        }
        Ok(order)
    }

    /// The cells of a step's matrix; one unnamed cell without one.
    fn cells(&self, step: &StepConfig) -> Result<Vec<Cell>, SourceError> {
        let Some(matrix) = &step.matrix else {
            return Ok(vec![Vec::new()]);
        };
        let at = matrix.span().start;
        let table = matrix.get_ref();
        let source = self.loaded.text.get(matrix.span()).unwrap_or_default();
        let mut axes: Vec<(&String, &toml::Value)> = table
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "include" | "exclude"))
            .collect();
        axes.sort_by_key(|(k, _)| source.find(k.as_str()).unwrap_or(usize::MAX));
        let mut cells: Vec<Cell> = if axes.is_empty() {
            Vec::new()
        } else {
            vec![Vec::new()]
        };
        for (axis, values) in &axes {
            let Some(values) = values.as_array() else {
                return Err(self
                    .error(at, format!("matrix axis `{axis}` is not a list of values"))
                    .help(format!("write `{axis} = [\"a\", \"b\"]`")));
            };
            if values.is_empty() {
                return Err(self
                    .error(at, format!("matrix axis `{axis}` has no values"))
                    .help("give it at least one value, or remove it"));
            }
            if let Some(bad) = values.iter().find(|v| scalar(v).is_none()) {
                return Err(self.error(
                    at,
                    format!(
                        "matrix axis `{axis}` holds {}: values are strings, numbers or booleans",
                        if bad.is_table() { "a table" } else { "a list" }
                    ),
                ));
            }
            cells = cells
                .into_iter()
                .flat_map(|cell| {
                    values.iter().map(move |v| {
                        let mut cell = cell.clone();
                        cell.push(((*axis).clone(), v.clone()));
                        cell
                    })
                })
                .collect();
        }
        for exclude in self.entries(table, "exclude", at)? {
            cells.retain(|cell| {
                !exclude
                    .iter()
                    .all(|(k, v)| cell.iter().any(|(ck, cv)| ck == k && cv == v))
            });
        }
        let originals = cells.len();
        for include in self.entries(table, "include", at)? {
            let mut merged = false;
            for cell in &mut cells[..originals] {
                let fits = include.iter().all(|(k, v)| {
                    !axes.iter().any(|(axis, _)| *axis == k)
                        || cell.iter().any(|(ck, cv)| ck == k && cv == v)
                });
                if fits {
                    for (k, v) in &include {
                        match cell.iter_mut().find(|(ck, _)| ck == k) {
                            Some(slot) => slot.1 = v.clone(),
                            None => cell.push((k.clone(), v.clone())),
                        }
                    }
                    merged = true;
                }
            }
            if !merged {
                cells.push(include);
            }
        }
        if cells.is_empty() {
            return Err(self
                .error(
                    at,
                    format!("the matrix of `{}` has no cells", step.name.get_ref()),
                )
                .help("`exclude` removes every combination of the axes"));
        }
        Ok(cells)
    }

    /// `include` or `exclude`: a list of tables of scalars.
    fn entries(&self, table: &toml::Table, key: &str, at: usize) -> Result<Vec<Cell>, SourceError> {
        let Some(value) = table.get(key) else {
            return Ok(Vec::new());
        };
        let bad = || {
            self.error(at, format!("matrix `{key}` must be a list of tables of values, like `{key} = [{{ target = \"a\" }}]`"))
        };
        let list = value.as_array().ok_or_else(bad)?;
        list.iter()
            .map(|entry| {
                let entry = entry.as_table().ok_or_else(bad)?;
                entry
                    .iter()
                    .map(|(k, v)| scalar(v).map(|_| (k.clone(), v.clone())).ok_or_else(bad))
                    .collect()
            })
            .collect()
    }

    fn step(
        &self,
        pipeline: &str,
        config: &PipelineConfig,
        spanned: &Spanned<StepConfig>,
        cell: &Cell,
    ) -> Result<Step, SourceError> {
        let step = spanned.get_ref();
        let declared = step.name.get_ref().clone();
        let name = if cell.is_empty() {
            declared.clone()
        } else {
            let values: Vec<String> = cell.iter().filter_map(|(_, v)| scalar(v)).collect();
            format!("{declared} ({})", values.join(", "))
        };
        let matrix: BTreeMap<&str, &toml::Value> =
            cell.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let context = minijinja::context! {
            env => &self.env,
            matrix => matrix,
            pipeline => pipeline,
            commit => &self.inputs.commit,
            version => self.inputs.version.as_deref().map_or(minijinja::Value::UNDEFINED, minijinja::Value::from),
            step => &name,
        };
        let render = |text: &Spanned<String>| self.render(text, &context);
        let action = self.action(spanned, &context)?;
        if step.container.is_some() && !matches!(action, Action::Run { .. }) {
            return Err(self
                .error(
                    spanned.span().start,
                    format!("step `{declared}` runs a built-in in a container"),
                )
                .help("only `run` steps take `container`"));
        }
        let mut env = Vec::new();
        for (key, value) in config.env.iter().chain(&step.env) {
            let value = render(value)?;
            match env
                .iter_mut()
                .find(|(k, _): &&mut (String, String)| k == key)
            {
                Some(slot) => slot.1 = value,
                None => env.push((key.clone(), value)),
            }
        }
        let dir = self.directory(step, &context)?;
        let timeout = match &step.timeout {
            Some(t) if *t.get_ref() == 0 => {
                return Err(self
                    .error(t.span().start, "`timeout` is 0 seconds")
                    .help("give the seconds a step may take, or remove `timeout`"));
            }
            t => t.as_ref().map(|t| Duration::from_secs(*t.get_ref())),
        };
        let container = self.container(step, &context)?;
        let partial = match &step.partial {
            Some(p) if *p.get_ref() && step.matrix.is_none() => {
                return Err(self
                    .error(p.span().start, format!("step `{declared}` is `partial` but has no matrix"))
                    .help("`partial = true` lets the cells of a matrix fail on their own; a step without one succeeds or fails whole"));
            }
            p => p.as_ref().is_some_and(|p| *p.get_ref()),
        };
        Ok(Step {
            name,
            declared,
            cell: cell
                .iter()
                .filter_map(|(axis, value)| Some((axis.clone(), scalar(value)?)))
                .collect(),
            group: step.group.as_ref().map(|g| g.get_ref().clone()),
            action,
            env,
            dir,
            timeout,
            retries: step.retries,
            partial,
            container,
            outputs: step.outputs.iter().map(render).collect::<Result<_, _>>()?,
            needs: Vec::new(),
            line: crate::diagnostic::Position::at(&self.loaded.text, step.name.span().start).line,
        })
    }

    /// A step's `run` (with its shell) or `uses` (with its `with`).
    fn action(
        &self,
        spanned: &Spanned<StepConfig>,
        context: &minijinja::Value,
    ) -> Result<Action, SourceError> {
        let step = spanned.get_ref();
        let declared = step.name.get_ref();
        Ok(match (&step.run, &step.uses) {
            (Some(run), None) => {
                if step.with.is_some() {
                    return Err(self.error(
                        spanned.span().start,
                        format!("step `{declared}` has `with`, which only a `uses` step takes"),
                    ));
                }
                let shell = match &step.shell {
                    Some(shell) => {
                        let words: Vec<String> = shell
                            .get_ref()
                            .split_whitespace()
                            .map(str::to_owned)
                            .collect();
                        if words.is_empty() {
                            return Err(self.error(shell.span().start, "`shell` is empty").help(
                                "write the program and its arguments, like `bash -euo pipefail -c`",
                            ));
                        }
                        words
                    }
                    None => vec!["sh".to_owned(), "-c".to_owned()],
                };
                Action::Run {
                    shell,
                    command: self.render(run, context)?,
                }
            }
            (None, Some(uses)) => {
                Action::Builtin(self.builtin(uses, step.with.as_ref(), context)?)
            }
            (Some(_), Some(_)) => {
                return Err(self
                    .error(
                        spanned.span().start,
                        format!("step `{declared}` has both `run` and `uses`"),
                    )
                    .help("a step runs a command or a built-in: split it in two"));
            }
            (None, None) => {
                return Err(self
                    .error(
                        spanned.span().start,
                        format!("step `{declared}` has neither `run` nor `uses`"),
                    )
                    .help(format!(
                        "add `run = \"<command>\"`, or `uses = ` one of {}",
                        super::quoted_list(super::builtin::NAMES)
                    )));
            }
        })
    }

    /// The directory a step runs in: its `working-directory` under the root, never outside.
    fn directory(
        &self,
        step: &StepConfig,
        context: &minijinja::Value,
    ) -> Result<std::path::PathBuf, SourceError> {
        Ok(match &step.working_directory {
            None => self.loaded.root.clone(),
            Some(dir) => {
                let rendered = self.render(dir, context)?;
                let path = Path::new(&rendered);
                if path
                    .components()
                    .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
                {
                    return Err(self
                        .error(
                            dir.span().start,
                            format!("`working-directory = \"{rendered}\"` leaves the repository"),
                        )
                        .help("write a path relative to the repository root, without `..`"));
                }
                self.loaded.root.join(path)
            }
        })
    }

    fn container(
        &self,
        step: &StepConfig,
        context: &minijinja::Value,
    ) -> Result<Option<Container>, SourceError> {
        Ok(match &step.container {
            None => None,
            Some(c) => {
                let at = c.span().start;
                let raw = c.get_ref();
                let text = |s: &str| self.render(&Spanned::new(at..at, s.to_owned()), context);
                Some(Container {
                    image: text(&raw.image)?,
                    engine: raw.engine,
                    volumes: raw
                        .volumes
                        .iter()
                        .map(|v| text(v))
                        .collect::<Result<_, _>>()?,
                    user: raw.user.as_deref().map(text).transpose()?,
                })
            }
        })
    }

    fn builtin(
        &self,
        uses: &Spanned<String>,
        with: Option<&Spanned<toml::Table>>,
        context: &minijinja::Value,
    ) -> Result<Builtin, SourceError> {
        let mut table = toml::Table::new();
        if let Some(with) = with {
            let at = with.span().start;
            for (key, value) in with.get_ref() {
                // A notification's body is rendered when it is sent, with the run's result.
                let value = if uses.get_ref() == "notify" && key == "body" {
                    value.clone()
                } else {
                    self.render_value(value, at, context)?
                };
                table.insert(key.clone(), value);
            }
        }
        let at = with.map_or(uses.span().start, |w| w.span().start);
        Builtin::parse(uses.get_ref(), &table).map_err(|message| {
            let offset = if message.starts_with("unknown built-in") {
                uses.span().start
            } else {
                at
            };
            self.error(offset, message)
        })
    }

    fn render_value(
        &self,
        value: &toml::Value,
        at: usize,
        context: &minijinja::Value,
    ) -> Result<toml::Value, SourceError> {
        Ok(match value {
            toml::Value::String(s) => {
                toml::Value::String(self.render(&Spanned::new(at..at, s.clone()), context)?)
            }
            toml::Value::Array(items) => toml::Value::Array(
                items
                    .iter()
                    .map(|v| self.render_value(v, at, context))
                    .collect::<Result<_, _>>()?,
            ),
            other => other.clone(),
        })
    }

    /// Renders a template; text without `{{` or `{%` is taken as it is.
    fn render(
        &self,
        text: &Spanned<String>,
        context: &minijinja::Value,
    ) -> Result<String, SourceError> {
        let raw = text.get_ref();
        if !raw.contains("{{") && !raw.contains("{%") {
            return Ok(raw.clone());
        }
        self.templates.render_str(raw, context).map_err(|e| {
            let what = match e.kind() {
                minijinja::ErrorKind::UndefinedError => "uses a variable that is not defined".to_owned(),
                _ => e.detail().map_or_else(|| e.to_string(), str::to_owned),
            };
            self.error(text.span().start, format!("the template `{raw}` {what}"))
                .help("templates read `env.NAME`, `matrix.<axis>` (in a matrix step), `pipeline`, `step`, `commit` and `version` (when every release of the plan shares one version)")
        })
    }
}

/// The display form of a matrix value, `None` for tables and lists.
fn scalar(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(n) => Some(n.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A cycle among the steps not yet ordered: followed from any of them, `needs` return to a step
/// already met.
fn cycle(steps: &[Step], done: &[bool]) -> Vec<usize> {
    let Some(mut at) = (0..steps.len()).find(|&i| !done[i]) else {
        return Vec::new();
    };
    let mut path = Vec::new();
    loop {
        if let Some(pos) = path.iter().position(|&p| p == at) {
            return path.split_off(pos);
        }
        path.push(at);
        match steps[at].needs.iter().copied().find(|&n| !done[n]) {
            Some(next) => at = next,
            None => return path,
        }
    }
}

fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A `verify` step checks what the pipeline's `forge-assets` and `image` steps made, besides
/// the release itself: each such step becomes a `--check-artifacts` of its `publish --dry-run`.
fn artifact_checks(steps: &mut [Step]) {
    let mut checks: Vec<String> = Vec::new();
    for step in steps.iter() {
        let Action::Builtin(Builtin::Artifacts(args)) = &step.action else {
            continue;
        };
        let value = |flag: &str| {
            args.iter()
                .position(|a| a == flag)
                .and_then(|i| args.get(i + 1))
                .cloned()
        };
        let package = value("--package");
        let check = match args.get(1).map(String::as_str) {
            Some("upload") => {
                let files: Vec<&String> = args
                    .iter()
                    .zip(args.iter().skip(1))
                    .filter(|(flag, _)| *flag == "--file")
                    .map(|(_, glob)| glob)
                    .collect();
                serde_json::json!({ "package": package, "assets": true, "files": files })
            }
            Some("image") if !args.iter().any(|a| a == "--no-push") => {
                let tags: Vec<&str> = args
                    .iter()
                    .filter_map(|a| a.strip_prefix("--tag="))
                    .collect();
                serde_json::json!({ "package": package, "repository": value("--repository"), "tags": tags })
            }
            _ => continue,
        };
        let check = format!("--check-artifacts={check}");
        if !checks.contains(&check) {
            checks.push(check);
        }
    }
    for step in steps.iter_mut() {
        if let Action::Builtin(Builtin::Verify(args)) = &mut step.action {
            args.extend(checks.iter().cloned());
        }
    }
}
