//! A prompting method as data: the YAML schema of `surveys/methods/*.yaml`
//! and its parsing, and the checks before a run (runnable, code allowed,
//! inputs present).
//!
//! - `check.rs`: the checks at load time (references between steps,
//!   template variables, bounds on numbers), each error naming the file,
//!   the line and the field;
//! - `scope.rs`: what a step can read by name and use in its templates,
//!   one definition for the load check and the runner;
//! - `pattern.rs`: how an answer is found in text ([`Pattern`], [`Regex`]).

mod check;
mod pattern;
mod scope;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::MethodError;
use check::{line_in_step, line_of};
use pattern::RawPattern;
pub use pattern::{BadRegex, Pattern, Regex};
pub(crate) use scope::{environment, Local, Origin, Scope, EXEMPLARS};

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

/// One step: an `id`, exactly one primitive key, and optionally a `when`
/// gate.
#[derive(Debug, Clone)]
pub struct Step {
    pub id: String,
    pub kind: StepKind,
    pub when: Option<Gate>,
}

/// A consistency gate: the step runs only when an earlier vote's agreement
/// (the winner's share of all candidates, abstentions included) is below
/// `agreement_below`. Skipped, its output is `otherwise`'s (an earlier
/// step), or empty text.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    pub vote: String,
    pub agreement_below: f64,
    #[serde(default)]
    pub otherwise: Option<String>,
}

const PRIMITIVES: &[&str] = &[
    "select",
    "search",
    "check_steps",
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
    /// Breadth-first search over partial solutions (Tree-of-Thoughts):
    /// per depth, generate → evaluate → keep the best `breadth`.
    Search(Box<SearchStep>),
    /// Logical Thoughts: each step of a chain checked by reductio, revised
    /// when its refutation wins, and the chain continued from there.
    CheckSteps(Box<CheckStepsStep>),
    /// Keep the `keep` best items of a list by a score (the most reasoning
    /// steps; the most disagreement among each item's samples).
    Select(SelectStep),
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
            StepKind::Search(_) => "search",
            StepKind::CheckSteps(_) => "check_steps",
            StepKind::Select(_) => "select",
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

/// `select`: scores each item of `from` and keeps the indices of the `keep`
/// best (best first; earlier first among equals). Templates see the kept
/// indices, to pick items of `from` or of a list aligned with it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectStep {
    pub from: String,
    pub by: SelectBy,
    pub keep: usize,
    /// `disagreement`: how many consecutive items of `from` are one item's
    /// samples (a `foreach` with `samples`).
    #[serde(default)]
    pub group: Option<usize>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SelectBy {
    /// An item's reasoning steps (complexity-based selection: Synthetic
    /// prompting, Complex-CoT).
    MostSteps,
    /// The distinct answers among a group's samples over the group's size
    /// (Active-Prompt's disagreement); no answer counts as one answer.
    Disagreement,
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
    /// Calls per item (independent mode only); the output holds them item
    /// by item: item 0's samples, then item 1's, …
    #[serde(default = "one")]
    pub samples: usize,
    /// The temperature of each call (default 0: greedy).
    #[serde(default)]
    pub temperature: f64,
    /// Send the prompt as raw text to continue instead of a chat turn.
    #[serde(default)]
    pub completion: bool,
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

/// The tool of a loop: exactly one of the two.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoopTool {
    /// `Lookup[keyword]` is answered from the passage in this input or
    /// output (ReAct).
    #[serde(default)]
    pub lookup: Option<String>,
    /// The table (CSV) in this input or output, changed by the operation
    /// each turn names (`f_select_row(row 1, row 3)`, …) and shown after
    /// every turn (Chain-of-Table; see `methods::table`).
    #[serde(default)]
    pub table: Option<String>,
}

impl LoopTool {
    /// What the tool reads: the passage or the table.
    pub fn source(&self) -> Option<&String> {
        self.lookup.as_ref().or(self.table.as_ref())
    }
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
    /// Run each program under Chain-of-Code's LMulator: what Python cannot
    /// run is asked of the model (`crate::lmulator`).
    #[serde(default)]
    pub lmulator: Option<LmulatorSpec>,
}

/// The LMulator's questions to the model. Both prompts see `line` (the
/// program line it stopped at) and `state` (the program's variables, one
/// `name = value` a line); `call` sees the helper call (`is_fruit('apple')`),
/// `line` what Python raised as `error`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LmulatorSpec {
    /// For a call to a function the program does not define: its value.
    pub call: String,
    /// For a statement Python could not run: the variables it sets, as a
    /// Python dict.
    pub line: String,
    #[serde(default)]
    pub max_tokens: Option<usize>,
    #[serde(default)]
    pub stop: Vec<String>,
    /// Questions per program at most (default [`LmulatorSpec::DEFAULT_CALLS`]).
    #[serde(default)]
    pub max_calls: Option<usize>,
}

impl LmulatorSpec {
    pub const DEFAULT_CALLS: usize = 16;

    pub fn max_calls(&self) -> usize {
        self.max_calls.unwrap_or(Self::DEFAULT_CALLS)
    }
}

/// Tree-of-Thoughts' breadth-first search (Yao et al., `bfs.py` of their
/// code): the states are partial solutions, text; at each of `depth`
/// levels every kept state is extended (`propose`: one call whose output
/// lines are the next steps; or `sample`: `n` calls, each one next step),
/// the new states are evaluated (`value`: `n` calls per state, each scored
/// by the label on its last line; or `vote`: `n` calls over all states,
/// each naming the best choice), and the `breadth` best are kept. The
/// output is the best state of the last level. Templates see `state` (the
/// partial solution so far, empty at first) and `depth` (from 1); the vote
/// prompt sees `states`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchStep {
    pub depth: usize,
    pub breadth: usize,
    #[serde(default)]
    pub propose: Option<SearchCall>,
    #[serde(default)]
    pub sample: Option<SearchCall>,
    #[serde(default)]
    pub value: Option<SearchValue>,
    #[serde(default)]
    pub vote: Option<SearchCall>,
}

/// A call of a search: its prompt, how many (`n`, default 1), at what
/// temperature (default 0.7, as the paper samples), its budget and stops.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchCall {
    pub prompt: String,
    #[serde(default = "one")]
    pub n: usize,
    #[serde(default = "search_temperature")]
    pub temperature: f64,
    #[serde(default)]
    pub max_tokens: Option<usize>,
    #[serde(default)]
    pub stop: Vec<String>,
}

fn one() -> usize {
    1
}

fn search_temperature() -> f64 {
    0.7
}

/// The value prompt of a search and the score of each label its outputs
/// end with (the paper's `{sure: 20, likely: 1, impossible: 0.001}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchValue {
    pub prompt: String,
    #[serde(default = "one")]
    pub n: usize,
    #[serde(default = "search_temperature")]
    pub temperature: f64,
    #[serde(default)]
    pub max_tokens: Option<usize>,
    #[serde(default)]
    pub stop: Vec<String>,
    pub scores: BTreeMap<String, f64>,
}

/// Logical Thoughts (Zhao et al. 2023, `xf-zhao/LoT`): the non-empty lines
/// of `from` are the steps. For each in turn, `affirm` ("Step #i is true
/// because") and `negate` ("… is false because") argue both ways, `review`
/// picks the more plausible (an option letter: `A` keeps the step, `B`
/// revises it); a revised step (`revise`) replaces it and `continue`
/// writes the steps after it anew, which are then checked too. At most
/// `max_revisions` revisions. Templates see `steps` (the checked steps so
/// far), `step`, `number` (from 1), `affirmation` and `negation`. The
/// output is the checked chain, a step a line.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckStepsStep {
    pub from: String,
    pub affirm: String,
    pub negate: String,
    pub review: String,
    pub revise: String,
    #[serde(rename = "continue")]
    pub continue_chain: String,
    #[serde(default = "three")]
    pub max_revisions: usize,
    #[serde(default)]
    pub max_tokens: Option<usize>,
}

fn three() -> usize {
    3
}

/// A method file refused at load: where, which field, and what is wrong.
/// Shown on one line of bounded length, whatever of the file it quotes.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{path}:{line}: {}: {}", one_line(field, 80), one_line(message, 400))]
pub struct SpecError {
    pub path: PathBuf,
    /// 1-based; 0 when the place is unknown (the file could not be read).
    pub line: usize,
    pub field: String,
    pub message: String,
}

/// `text` with its line breaks shown as `⏎` and cut after `room`
/// characters (with "…").
pub(crate) fn one_line(text: &str, room: usize) -> String {
    let flat = text.replace("\r\n", "⏎").replace(['\n', '\r'], "⏎");
    match flat.char_indices().nth(room) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
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
        if let Some(line) = crate::yaml_depth::too_deep(text) {
            return Err(SpecError {
                path: path.to_path_buf(),
                line,
                field: "yaml".into(),
                message: format!(
                    "brackets nested deeper than {} levels",
                    crate::yaml_depth::MAX_FLOW_DEPTH
                ),
            });
        }
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
        .filter(|k| *k != "id" && *k != "when")
        .collect();
    let when = match map.get("when") {
        None => None,
        Some(value) => Some(
            serde_norway::from_value::<Gate>(value.clone()).map_err(|e| {
                error(
                    line_in_step(text, &needle, "when"),
                    format!("steps[{i}].when"),
                    e.to_string(),
                )
            })?,
        ),
    };
    let [primitive] = keys.as_slice() else {
        return Err(error(
            line,
            format!("steps[{i}]"),
            format!(
                "needs exactly one primitive besides `id` (and `when`), found {} (primitives: {})",
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
        "select" => {
            let step: SelectStep = serde_norway::from_value(body).map_err(parse_err)?;
            if (step.by == SelectBy::Disagreement) != step.group.is_some() {
                return Err(error(
                    line,
                    format!("steps[{i}].select.group"),
                    "`group` (samples per item) goes with `by: disagreement`, and only there"
                        .into(),
                ));
            }
            StepKind::Select(step)
        }
        "foreach" => {
            let step: ForeachStep = serde_norway::from_value(body).map_err(parse_err)?;
            if step.samples > 1 && step.mode == ForeachMode::Sequential {
                return Err(error(
                    line_in_step(text, &needle, "samples"),
                    format!("steps[{i}].foreach.samples"),
                    "several samples per item need `mode: independent`".into(),
                ));
            }
            StepKind::Foreach(step)
        }
        "loop_until" => {
            let step: RawLoopStep = serde_norway::from_value(body).map_err(parse_err)?;
            if let Some(tool) = &step.tool {
                if tool.lookup.is_some() == tool.table.is_some() {
                    return Err(error(
                        line_in_step(text, &needle, "tool"),
                        format!("steps[{i}].loop_until.tool"),
                        "needs exactly one of `lookup` (a passage) and `table` (a CSV table)"
                            .into(),
                    ));
                }
            }
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
        "check_steps" => {
            StepKind::CheckSteps(Box::new(serde_norway::from_value(body).map_err(parse_err)?))
        }
        "search" => {
            let step: SearchStep = serde_norway::from_value(body).map_err(parse_err)?;
            let one_of = |a: bool, b: bool, names: &str| {
                (a == b).then(|| {
                    error(
                        line,
                        format!("steps[{i}].search"),
                        format!("needs exactly one of {names}"),
                    )
                })
            };
            if let Some(e) = one_of(
                step.propose.is_some(),
                step.sample.is_some(),
                "`propose` and `sample`",
            )
            .or_else(|| {
                one_of(
                    step.value.is_some(),
                    step.vote.is_some(),
                    "`value` and `vote`",
                )
            }) {
                return Err(e);
            }
            StepKind::Search(Box::new(step))
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
    Ok(Step { id, kind, when })
}
