//! A prompting method as data: the YAML schema of `surveys/methods/*.yaml`
//! and its checks at load time (unknown primitive, undefined template
//! variable, a step reading an output that does not exist yet), each error
//! naming the file, the line and the field.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtractStep {
    pub from: String,
    pub pattern: Pattern,
}

/// How an answer is found in text: a name (`last_number`, …) or a
/// regular expression written with a tag, `pattern: !regex '…'`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Pattern {
    /// The first capture group (or whole match) of a regular expression.
    Regex(String),
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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoopStep {
    /// Sees `iteration`, the `previous` output and the `transcript` so far
    /// (every output, with the tool's observations).
    pub prompt: String,
    /// Stop when the output matches this regular expression.
    pub until: String,
    pub max_iterations: usize,
    #[serde(default)]
    pub max_tokens: Option<usize>,
    #[serde(default)]
    pub stop: Vec<String>,
    /// Send the prompt as raw text to continue instead of a chat turn.
    #[serde(default)]
    pub completion: bool,
    /// A tool answering the actions in each output before the next call.
    #[serde(default)]
    pub tool: Option<LoopTool>,
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

#[derive(Debug, thiserror::Error)]
#[error("{path}:{line}: {field}: {message}")]
pub struct SpecError {
    pub path: PathBuf,
    pub line: usize,
    pub field: String,
    pub message: String,
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

    pub fn runnable(&self) -> bool {
        self.not_runnable.is_none()
    }

    /// Whether a step runs model-written code (needs the user's leave).
    pub fn runs_code(&self) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(s.kind, StepKind::RunCode(_)))
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
        let mut known: HashSet<String> = self.inputs.iter().cloned().collect();
        // A method's exemplars can also be read as a list (one per line),
        // e.g. Auto-CoT's question pool.
        if self.exemplars.is_some() {
            known.insert("exemplars".into());
        }
        let env = minijinja::Environment::new();
        for (i, step) in self.steps.iter().enumerate() {
            let needle = format!("id: {}", step.id);
            let at = |key: &str| line_in_step(text, &needle, key);
            let field = |name: &str| format!("steps[{i}].{}.{name}", step.kind.name());
            if known.contains(&step.id) {
                return Err(error(
                    at("id"),
                    format!("steps[{i}].id"),
                    format!("`{}` is used twice", step.id),
                ));
            }
            for (name, reference) in step.references() {
                if !known.contains(reference) {
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
                    .filter(|v| !known.contains(v) && !BUILTINS.contains(&v.as_str()))
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
            known.insert(step.id.clone());
        }
        if let Some(answer) = &self.answer {
            if !known.contains(answer) {
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
    /// (field, step id) of every output this step reads.
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
    let kind = match *primitive {
        "generate" => StepKind::Generate(serde_norway::from_value(body).map_err(parse_err)?),
        "sample_n" => StepKind::SampleN(serde_norway::from_value(body).map_err(parse_err)?),
        "extract" => StepKind::Extract(serde_norway::from_value(body).map_err(parse_err)?),
        "vote" => StepKind::Vote(serde_norway::from_value(body).map_err(parse_err)?),
        "foreach" => StepKind::Foreach(serde_norway::from_value(body).map_err(parse_err)?),
        "loop_until" => StepKind::LoopUntil(serde_norway::from_value(body).map_err(parse_err)?),
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
        if line.contains(&pattern) {
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
