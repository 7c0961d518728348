//! A prompting method as data: the YAML schema of `surveys/methods/*.yaml`,
//! its checks at load time (unknown primitive, undefined template
//! variable, a step reading something that does not exist yet, a bad
//! regular expression), each error naming the file, the line and the field,
//! and the checks before a run (runnable, code allowed, inputs present).
//!
//! What a step can read by name is decided in one place, `Scope`, used
//! by the load check and by the runner alike.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{MethodError, StepError};

/// One method file.
#[derive(Debug, Clone)]
pub struct MethodSpec {
    pub id: String,
    pub name: String,
    /// The survey's section, e.g. "2.3".
    pub section: String,
    pub paper: String,
    pub tasks: Vec<String>,
    /// What an item must supply: `question`, and optionally `context`,
    /// `reference`, `choices`.
    pub inputs: Vec<String>,
    /// Few-shot exemplars available to templates as `exemplars`.
    pub exemplars: Option<String>,
    /// Why the runner cannot run it yet (catalogued, not runnable).
    pub not_runnable: Option<String>,
    /// A note shown with results (e.g. "retrieval replaced by the item's context").
    pub note: Option<String>,
    pub steps: Vec<Step>,
    /// The step whose output is the method's answer.
    pub answer: Option<String>,
}

/// The file as written, before its steps are interpreted.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    id: String,
    name: String,
    section: String,
    paper: String,
    tasks: Vec<String>,
    inputs: Vec<String>,
    #[serde(default)]
    exemplars: Option<String>,
    #[serde(default)]
    not_runnable: Option<String>,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    steps: Vec<serde_norway::Mapping>,
    #[serde(default)]
    answer: Option<String>,
}

/// One step: an `id` and exactly one primitive key.
#[derive(Debug, Clone)]
pub struct Step {
    pub id: String,
    pub kind: StepKind,
}

const PRIMITIVES: &[&str] = &[
    "generate",
    "sample_n",
    "extract",
    "vote",
    "foreach",
    "loop_until",
    "run_code",
];

/// The primitives, one key each in a step.
#[derive(Debug, Clone)]
pub enum StepKind {
    /// One model call.
    Generate(GenerateStep),
    /// `n` calls at a temperature; the output is a list.
    SampleN(SampleStep),
    /// Pull the answer out of an earlier output (each item of a list).
    Extract(ExtractStep),
    /// Majority vote over a list; ties are reported.
    Vote(VoteStep),
    /// One call per line of an earlier output.
    Foreach(ForeachStep),
    /// Repeat a call until its output matches, at most `max_iterations` times.
    LoopUntil(LoopStep),
    /// Run an earlier output as a Python program, confined (see
    /// `methods::sandbox`); only when the user allows code execution.
    RunCode(RunCodeStep),
}

impl StepKind {
    pub fn name(&self) -> &'static str {
        match self {
            StepKind::Generate(_) => "generate",
            StepKind::SampleN(_) => "sample_n",
            StepKind::Extract(_) => "extract",
            StepKind::Vote(_) => "vote",
            StepKind::Foreach(_) => "foreach",
            StepKind::LoopUntil(_) => "loop_until",
            StepKind::RunCode(_) => "run_code",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateStep {
    pub prompt: String,
    /// Send the prompt as raw text to continue instead of a chat turn.
    #[serde(default)]
    pub completion: bool,
    #[serde(default)]
    pub max_tokens: Option<usize>,
    #[serde(default)]
    pub stop: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleStep {
    pub prompt: String,
    /// Send the prompt as raw text to continue instead of a chat turn.
    #[serde(default)]
    pub completion: bool,
    pub n: usize,
    pub temperature: f64,
    #[serde(default)]
    pub max_tokens: Option<usize>,
    #[serde(default)]
    pub stop: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ExtractStep {
    pub from: String,
    pub pattern: Pattern,
}

/// `extract` as written: its regular expression not compiled yet.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExtractStep {
    from: String,
    pattern: RawPattern,
}

/// How an answer is found in text: a name (`last_number`, …) or a
/// regular expression written with a tag, `pattern: !regex '…'`.
#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    /// The first capture group (or whole match) of a regular expression.
    Regex(Regex),
    LastNumber,
    /// A lone option letter A–E, as in "(B)" or "answer is C".
    OptionLetter,
    /// The body of the last fenced code block.
    CodeBlock,
    /// The first JSON object or array.
    Json,
    /// Non-empty lines, as a list.
    Lines,
}

impl Pattern {
    /// A regular-expression pattern, compiled now.
    pub(crate) fn regex(source: &str) -> Result<Pattern, BadRegex> {
        Regex::new(source).map(Pattern::Regex)
    }
}

/// [`Pattern`] as written.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawPattern {
    Regex(String),
    LastNumber,
    OptionLetter,
    CodeBlock,
    Json,
    Lines,
}

impl RawPattern {
    fn compile(self) -> Result<Pattern, BadRegex> {
        Ok(match self {
            RawPattern::Regex(source) => Pattern::regex(&source)?,
            RawPattern::LastNumber => Pattern::LastNumber,
            RawPattern::OptionLetter => Pattern::OptionLetter,
            RawPattern::CodeBlock => Pattern::CodeBlock,
            RawPattern::Json => Pattern::Json,
            RawPattern::Lines => Pattern::Lines,
        })
    }
}

/// A regular expression from a method file, compiled once, when the file
/// loads. Two are equal when they are written the same.
#[derive(Debug, Clone)]
pub struct Regex(regex::Regex);

impl Regex {
    pub fn new(source: &str) -> Result<Regex, BadRegex> {
        regex::Regex::new(source).map(Regex).map_err(|e| BadRegex {
            pattern: source.to_string(),
            reason: one_line_reason(&e),
        })
    }

    /// The expression as written.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub(crate) fn is_match(&self, text: &str) -> bool {
        self.0.is_match(text)
    }

    pub(crate) fn compiled(&self) -> &regex::Regex {
        &self.0
    }
}

impl PartialEq for Regex {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

/// A regular expression that does not compile.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("`{pattern}` is not a valid regular expression: {reason}")]
pub struct BadRegex {
    /// The expression as written.
    pub pattern: String,
    /// What is wrong with it, on one line.
    pub reason: String,
}

/// The regex crate's message on one line: a syntax error's `error: …` line
/// (its other lines draw the expression and a caret).
fn one_line_reason(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .map(str::to_string)
        .unwrap_or_else(|| text.split_whitespace().collect::<Vec<_>>().join(" "))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoteStep {
    pub from: String,
    /// Only the candidates whose chains have the most reasoning steps vote
    /// (complexity-based consistency).
    #[serde(default)]
    pub most_steps: Option<MostSteps>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MostSteps {
    /// The chains (a list output aligned with the answers).
    pub of: String,
    pub keep: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForeachStep {
    /// A list output (or text, split into lines).
    pub over: String,
    /// `sequential`: each call sees the earlier answers as `history`;
    /// `independent`: it does not.
    pub mode: ForeachMode,
    pub prompt: String,
    #[serde(default)]
    pub max_tokens: Option<usize>,
    #[serde(default)]
    pub stop: Vec<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ForeachMode {
    Sequential,
    Independent,
}

#[derive(Debug, Clone)]
pub struct LoopStep {
    /// Sees `iteration`, the `previous` output and the `transcript` so far
    /// (every output, with the tool's observations).
    pub prompt: String,
    /// Stop when the output matches this regular expression.
    pub until: Regex,
    pub max_iterations: usize,
    pub max_tokens: Option<usize>,
    pub stop: Vec<String>,
    /// Send the prompt as raw text to continue instead of a chat turn.
    pub completion: bool,
    /// A tool answering the actions in each output before the next call.
    pub tool: Option<LoopTool>,
}

/// `loop_until` as written: `until` not compiled yet.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLoopStep {
    prompt: String,
    until: String,
    max_iterations: usize,
    #[serde(default)]
    max_tokens: Option<usize>,
    #[serde(default)]
    stop: Vec<String>,
    #[serde(default)]
    completion: bool,
    #[serde(default)]
    tool: Option<LoopTool>,
}

/// The tool of a loop; `Lookup[keyword]` is the only one so far.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoopTool {
    /// `Lookup[keyword]` is answered from the passage in this input or
    /// output (ReAct).
    pub lookup: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunCodeStep {
    /// The output holding the program (each item of a list is one program)…
    #[serde(default)]
    pub from: Option<String>,
    /// …or the program itself, a template over the inputs and earlier
    /// outputs (exactly one of the two).
    #[serde(default)]
    pub program: Option<String>,
    /// Code added after each program, e.g. `print(solution())`.
    #[serde(default)]
    pub append: Option<String>,
    /// Wall-clock limit per program (default 10 s).
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
}

/// Variables every template may use besides inputs and earlier steps.
const BUILTINS: &[&str] = &[
    "exemplars",
    "item",
    "history",
    "iteration",
    "previous",
    "transcript",
    "loop",
    "range",
];

/// A method file refused at load: where, which field, and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{path}:{line}: {field}: {message}")]
pub struct SpecError {
    pub path: PathBuf,
    /// 1-based; 0 when the place is unknown (the file could not be read).
    pub line: usize,
    pub field: String,
    pub message: String,
}

/// Where something a step can read comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// One of the method's declared `inputs`.
    Input,
    /// The method's `exemplars` (when it has some), as text.
    Exemplars,
    /// The output of an earlier step.
    Step,
}

/// What a step can read by name (`from`, `over`, `most_steps.of`, a
/// tool's `lookup`) and use in its templates: the method's declared inputs,
/// its exemplars when it has some, and the outputs of the steps before it.
/// The load check holds no values (`V = ()`); the runner holds the outputs.
#[derive(Debug, Clone)]
pub(crate) struct Scope<V> {
    entries: BTreeMap<String, (Origin, V)>,
}

impl<V> Scope<V> {
    /// What the first step can read: each input and the exemplars, with
    /// the value `value` gives it (left out where it gives none).
    pub(crate) fn start(
        spec: &MethodSpec,
        mut value: impl FnMut(&str, Origin) -> Option<V>,
    ) -> Self {
        let mut entries = BTreeMap::new();
        for input in &spec.inputs {
            if let Some(v) = value(input, Origin::Input) {
                entries.insert(input.clone(), (Origin::Input, v));
            }
        }
        // A method's exemplars can also be read as a list (one per line),
        // e.g. Auto-CoT's question pool.
        if spec.exemplars.is_some() {
            if let Some(v) = value("exemplars", Origin::Exemplars) {
                entries.insert("exemplars".to_string(), (Origin::Exemplars, v));
            }
        }
        Scope { entries }
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    /// What `name` (read by the step's `field`) holds.
    pub(crate) fn read(&self, field: &'static str, name: &str) -> Result<&V, StepError> {
        self.entries
            .get(name)
            .map(|(_, v)| v)
            .ok_or_else(|| StepError::Unreadable {
                field,
                name: name.to_string(),
            })
    }

    /// The output of step `id`, if it has run (an input of that name is
    /// not one).
    pub(crate) fn step(&self, id: &str) -> Option<&V> {
        self.entries
            .get(id)
            .filter(|(origin, _)| *origin == Origin::Step)
            .map(|(_, v)| v)
    }

    /// Step `id` has run: later steps can read its output.
    pub(crate) fn add_step(&mut self, id: &str, value: V) {
        self.entries.insert(id.to_string(), (Origin::Step, value));
    }
}

impl MethodSpec {
    /// Reads and checks one method file.
    pub fn load(path: &Path) -> Result<MethodSpec, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|e| SpecError {
            path: path.to_path_buf(),
            line: 0,
            field: "file".into(),
            message: e.to_string(),
        })?;
        Self::parse(&text, path)
    }

    /// Parses and checks the text of a method file; `path` is named in
    /// errors.
    pub fn parse(text: &str, path: &Path) -> Result<MethodSpec, SpecError> {
        let raw: RawSpec = serde_norway::from_str(text).map_err(|e| SpecError {
            path: path.to_path_buf(),
            line: e.location().map_or(0, |l| l.line()),
            field: "yaml".into(),
            message: e.to_string(),
        })?;
        let steps = raw
            .steps
            .iter()
            .enumerate()
            .map(|(i, map)| step_from_map(i, map, text, path))
            .collect::<Result<Vec<_>, _>>()?;
        let spec = MethodSpec {
            id: raw.id,
            name: raw.name,
            section: raw.section,
            paper: raw.paper,
            tasks: raw.tasks,
            inputs: raw.inputs,
            exemplars: raw.exemplars,
            not_runnable: raw.not_runnable,
            note: raw.note,
            steps,
            answer: raw.answer,
        };
        spec.check(text, path)?;
        Ok(spec)
    }

    /// Whether the file has steps to run (see [`MethodSpec::check_runnable`]).
    pub fn runnable(&self) -> bool {
        self.not_runnable.is_none()
    }

    /// Whether a step runs model-written code (needs the user's leave).
    pub fn runs_code(&self) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(s.kind, StepKind::RunCode(_)))
    }

    /// Refuses a method that is catalogued but not runnable.
    pub fn check_runnable(&self) -> Result<(), MethodError> {
        match &self.not_runnable {
            Some(reason) => Err(MethodError::NotRunnable {
                method: self.id.clone(),
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Refuses a method that runs model-written code when code execution
    /// is not allowed.
    pub fn check_code(&self, allow_code: bool) -> Result<(), MethodError> {
        if self.runs_code() && !allow_code {
            return Err(MethodError::CodeOff {
                method: self.id.clone(),
            });
        }
        Ok(())
    }

    /// Refuses `inputs` that lack one the method declares (the first
    /// missing one is named).
    pub fn check_inputs(&self, inputs: &BTreeMap<String, String>) -> Result<(), MethodError> {
        match self.inputs.iter().find(|i| !inputs.contains_key(*i)) {
            Some(input) => Err(MethodError::MissingInput {
                method: self.id.clone(),
                input: input.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Every check before a run, in order: runnable, code allowed, inputs
    /// present. The runner makes it before its first call.
    pub fn check_ready(
        &self,
        inputs: &BTreeMap<String, String>,
        allow_code: bool,
    ) -> Result<(), MethodError> {
        self.check_runnable()?;
        self.check_code(allow_code)?;
        self.check_inputs(inputs)
    }

    /// Model calls per item (an upper bound for loops).
    pub fn calls_per_item(&self) -> String {
        let mut fixed = 0;
        let mut variable = false;
        for step in &self.steps {
            match &step.kind {
                StepKind::Generate(_) => fixed += 1,
                StepKind::SampleN(s) => fixed += s.n,
                StepKind::LoopUntil(l) => {
                    fixed += 1;
                    variable |= l.max_iterations > 1;
                }
                StepKind::Foreach(_) => variable = true,
                _ => {}
            }
        }
        if variable {
            format!("{fixed}+")
        } else {
            fixed.to_string()
        }
    }

    /// Checks references between steps and template variables.
    fn check(&self, text: &str, path: &Path) -> Result<(), SpecError> {
        let error = |line: usize, field: String, message: String| SpecError {
            path: path.to_path_buf(),
            line,
            field,
            message,
        };
        if self.runnable() && self.steps.is_empty() {
            return Err(error(
                line_of(text, "steps"),
                "steps".into(),
                "a runnable method needs steps".into(),
            ));
        }
        let mut scope = Scope::start(self, |_, _| Some(()));
        let env = minijinja::Environment::new();
        for (i, step) in self.steps.iter().enumerate() {
            let needle = format!("id: {}", step.id);
            let at = |key: &str| line_in_step(text, &needle, key);
            let field = |name: &str| format!("steps[{i}].{}.{name}", step.kind.name());
            if scope.contains(&step.id) {
                return Err(error(
                    at("id"),
                    format!("steps[{i}].id"),
                    format!("`{}` is used twice", step.id),
                ));
            }
            for (name, reference) in step.references() {
                if scope.read(name, reference).is_err() {
                    return Err(error(
                        at(name),
                        field(name),
                        format!(
                            "refers to `{reference}`, which is not an input or an earlier step"
                        ),
                    ));
                }
            }
            for (name, template) in step.templates() {
                let compiled = env.template_from_str(template).map_err(|e| {
                    error(
                        at(name),
                        field(name),
                        format!("template does not compile: {e}"),
                    )
                })?;
                let mut undefined: Vec<String> = compiled
                    .undeclared_variables(false)
                    .into_iter()
                    .filter(|v| !scope.contains(v) && !BUILTINS.contains(&v.as_str()))
                    .collect();
                undefined.sort();
                if let Some(v) = undefined.first() {
                    return Err(error(
                        at(name),
                        field(name),
                        format!("template uses `{v}`, which is not an input, an earlier step or a built-in"),
                    ));
                }
            }
            scope.add_step(&step.id, ());
        }
        if let Some(answer) = &self.answer {
            if scope.step(answer).is_none() {
                return Err(error(
                    line_of(text, "answer:"),
                    "answer".into(),
                    format!("`{answer}` is not a step"),
                ));
            }
        }
        Ok(())
    }
}

impl Step {
    /// (field, name) of everything this step reads by name; the runner
    /// reads each through [`Scope::read`] with the same field.
    fn references(&self) -> Vec<(&'static str, &String)> {
        match &self.kind {
            StepKind::Extract(e) => vec![("from", &e.from)],
            StepKind::Vote(v) => {
                let mut refs = vec![("from", &v.from)];
                refs.extend(v.most_steps.iter().map(|m| ("most_steps", &m.of)));
                refs
            }
            StepKind::Foreach(f) => vec![("over", &f.over)],
            StepKind::RunCode(r) => r.from.iter().map(|f| ("from", f)).collect(),
            StepKind::LoopUntil(l) => l.tool.iter().map(|t| ("tool", &t.lookup)).collect(),
            _ => vec![],
        }
    }

    /// (field, template) of every prompt this step renders.
    fn templates(&self) -> Vec<(&'static str, &String)> {
        match &self.kind {
            StepKind::Generate(g) => vec![("prompt", &g.prompt)],
            StepKind::SampleN(s) => vec![("prompt", &s.prompt)],
            StepKind::Foreach(f) => vec![("prompt", &f.prompt)],
            StepKind::LoopUntil(l) => vec![("prompt", &l.prompt)],
            StepKind::RunCode(r) => r.program.iter().map(|p| ("program", p)).collect(),
            _ => vec![],
        }
    }
}

/// Interprets step `i`: its `id` and its one primitive.
fn step_from_map(
    i: usize,
    map: &serde_norway::Mapping,
    text: &str,
    path: &Path,
) -> Result<Step, SpecError> {
    let id = map.get("id").and_then(|v| v.as_str()).map(str::to_string);
    let needle = id
        .as_ref()
        .map_or("steps".to_string(), |id| format!("id: {id}"));
    // Errors point at the primitive's line when there is one.
    let mut line = line_of(text, &needle);
    let error = |line: usize, field: String, message: String| SpecError {
        path: path.to_path_buf(),
        line,
        field,
        message,
    };
    let id = id.ok_or_else(|| {
        error(
            line,
            format!("steps[{i}].id"),
            "every step needs an `id`".into(),
        )
    })?;
    let keys: Vec<&str> = map
        .keys()
        .filter_map(|k| k.as_str())
        .filter(|k| *k != "id")
        .collect();
    let [primitive] = keys.as_slice() else {
        return Err(error(
            line,
            format!("steps[{i}]"),
            format!(
                "needs exactly one primitive besides `id`, found {} (primitives: {})",
                if keys.is_empty() {
                    "none".into()
                } else {
                    keys.join(", ")
                },
                PRIMITIVES.join(", ")
            ),
        ));
    };
    let body = map
        .get(*primitive)
        .cloned()
        .unwrap_or(serde_norway::Value::Null);
    line = line_in_step(text, &needle, primitive);
    let parse_err =
        |e: serde_norway::Error| error(line, format!("steps[{i}].{primitive}"), e.to_string());
    // A bad regular expression is refused at its own field.
    let bad_regex = |key: &str, e: BadRegex| {
        error(
            line_in_step(text, &needle, key),
            format!("steps[{i}].{primitive}.{key}"),
            e.to_string(),
        )
    };
    let kind = match *primitive {
        "generate" => StepKind::Generate(serde_norway::from_value(body).map_err(parse_err)?),
        "sample_n" => StepKind::SampleN(serde_norway::from_value(body).map_err(parse_err)?),
        "extract" => {
            let step: RawExtractStep = serde_norway::from_value(body).map_err(parse_err)?;
            StepKind::Extract(ExtractStep {
                from: step.from,
                pattern: step
                    .pattern
                    .compile()
                    .map_err(|e| bad_regex("pattern", e))?,
            })
        }
        "vote" => StepKind::Vote(serde_norway::from_value(body).map_err(parse_err)?),
        "foreach" => StepKind::Foreach(serde_norway::from_value(body).map_err(parse_err)?),
        "loop_until" => {
            let step: RawLoopStep = serde_norway::from_value(body).map_err(parse_err)?;
            StepKind::LoopUntil(LoopStep {
                prompt: step.prompt,
                until: Regex::new(&step.until).map_err(|e| bad_regex("until", e))?,
                max_iterations: step.max_iterations,
                max_tokens: step.max_tokens,
                stop: step.stop,
                completion: step.completion,
                tool: step.tool,
            })
        }
        "run_code" => {
            let step: RunCodeStep = serde_norway::from_value(body).map_err(parse_err)?;
            if step.from.is_some() == step.program.is_some() {
                return Err(error(
                    line,
                    format!("steps[{i}].run_code"),
                    "needs exactly one of `from` (an output holding the program) and `program` (a template)".into(),
                ));
            }
            StepKind::RunCode(step)
        }
        other => {
            return Err(error(
                line,
                format!("steps[{i}]"),
                format!(
                    "unknown primitive `{other}` (primitives: {})",
                    PRIMITIVES.join(", ")
                ),
            ))
        }
    };
    Ok(Step { id, kind })
}

/// The line of `key:` in the step whose `id` line contains `step_needle`
/// (that line itself when the key is not found before the next step).
fn line_in_step(text: &str, step_needle: &str, key: &str) -> usize {
    let start = line_of(text, step_needle);
    if start == 0 {
        return 0;
    }
    let pattern = format!("{key}:");
    for (offset, line) in text.lines().skip(start - 1).enumerate() {
        if offset > 0 && line.trim_start().starts_with("- ") {
            break;
        }
        // `until:` is not found in `loop_until:`.
        let is_key = line.match_indices(&pattern).any(|(at, _)| {
            !line
                .get(..at)
                .and_then(|before| before.chars().next_back())
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
        });
        if is_key {
            return start + offset;
        }
    }
    start
}

/// The 1-based line where `needle` first appears (0 when absent).
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map_or(0, |i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const METHOD: &str = "\
id: t
name: T
section: '0'
paper: none
tasks: [x]
inputs: [question]
steps:
  - id: tries
    loop_until:
      prompt: '{{ question }}'
      until: 'Finish\\['
      max_iterations: 2
  - id: final
    extract: {from: tries, pattern: !regex 'Finish\\[([^\\]]*)\\]'}
answer: final
";

    fn load_error(yaml: &str) -> String {
        MethodSpec::parse(yaml, Path::new("surveys/methods/bad.yaml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_bad_regular_expression_is_refused_at_load_with_file_line_and_field() {
        assert!(MethodSpec::parse(METHOD, Path::new("ok.yaml")).is_ok());
        let err = load_error(&METHOD.replace("([^\\]]*)", "([^\\]]*"));
        assert!(
            err.starts_with("surveys/methods/bad.yaml:14: steps[1].extract.pattern: "),
            "{err}"
        );
        assert!(err.contains("not a valid regular expression"), "{err}");
        assert!(!err.contains('\n'), "one line: {err}");
        let err = load_error(&METHOD.replace("'Finish\\['", "'Finish['"));
        assert!(
            err.starts_with("surveys/methods/bad.yaml:11: steps[0].loop_until.until: "),
            "{err}"
        );
        assert!(err.contains("`Finish[`"), "{err}");
    }

    #[test]
    fn the_answer_must_be_a_step() {
        let err = load_error(&METHOD.replace("answer: final", "answer: question"));
        assert_eq!(
            err,
            "surveys/methods/bad.yaml:15: answer: `question` is not a step"
        );
    }
}
