//! Running a method's steps for one item: each primitive renders its
//! templates over the inputs and earlier outputs, calls the backend, and
//! records every call; progress streams out as events.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use minijinja::Environment;
use serde::Serialize;

use super::extract::{extract, most_steps, vote, Vote};
use super::sandbox::{self, CodeRun, Limits};
use super::spec::{ForeachMode, MethodSpec, StepKind};
use super::tools::Lookup;
use crate::error::MethodError;
use promptlab_backend::{Backend, BackendError, Call};

/// What a step produced.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Output {
    Text {
        text: String,
    },
    /// Several texts (samples, per-item answers).
    List {
        items: Vec<String>,
    },
    /// Extracted answers; `None` where nothing matched.
    Answers {
        answers: Vec<Option<String>>,
    },
    Vote {
        vote: Vote,
    },
    /// Programs run by `run_code`, in order.
    Runs {
        runs: Vec<CodeRun>,
    },
}

/// What a program run stands for: its printed output, or its failure.
fn run_text(run: &CodeRun) -> String {
    match run.failure() {
        None => run.stdout.trim().to_string(),
        Some(failure) => format!("Error: {failure}"),
    }
}

impl Output {
    /// The single answer this output stands for, if any.
    pub fn answer(&self) -> Option<String> {
        match self {
            Output::Text { text } => Some(text.clone()),
            Output::List { items } => items.last().cloned(),
            // The last item's answer; an earlier one is never a fallback.
            Output::Answers { answers } => answers.last().cloned().flatten(),
            Output::Vote { vote } => vote.winner.clone(),
            // The last printed line of the last program, if it succeeded.
            Output::Runs { runs } => runs.last().filter(|r| r.succeeded()).and_then(|r| {
                r.stdout
                    .lines()
                    .rev()
                    .map(str::trim)
                    .find(|l| !l.is_empty())
                    .map(str::to_string)
            }),
        }
    }

    /// The value templates see.
    fn to_template(&self) -> minijinja::Value {
        match self {
            Output::Text { text } => text.as_str().into(),
            Output::List { items } => minijinja::Value::from_serialize(items),
            Output::Answers { answers } => minijinja::Value::from_serialize(answers),
            Output::Vote { vote } => minijinja::Value::from_serialize(&vote.winner),
            Output::Runs { runs } => match runs.as_slice() {
                [one] => run_text(one).into(),
                many => {
                    minijinja::Value::from_serialize(many.iter().map(run_text).collect::<Vec<_>>())
                }
            },
        }
    }

    fn texts(&self) -> Vec<String> {
        match self {
            Output::Text { text } => text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
            Output::List { items } => items.clone(),
            Output::Answers { answers } => answers.iter().flatten().cloned().collect(),
            Output::Vote { vote } => vote.winner.iter().cloned().collect(),
            Output::Runs { runs } => runs.iter().map(run_text).collect(),
        }
    }

    /// The programs (or texts) each item of this output stands for, whole.
    fn items(&self) -> Vec<Option<String>> {
        match self {
            Output::Text { text } => vec![Some(text.clone())],
            Output::List { items } => items.iter().cloned().map(Some).collect(),
            Output::Answers { answers } => answers.clone(),
            Output::Vote { vote } => vec![vote.winner.clone()],
            Output::Runs { runs } => runs.iter().map(|r| Some(run_text(r))).collect(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CallRecord {
    pub prompt: String,
    pub output: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepRecord {
    pub id: String,
    pub primitive: &'static str,
    pub calls: Vec<CallRecord>,
    pub output: Output,
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct MethodRun {
    pub method: String,
    pub steps: Vec<StepRecord>,
    /// The answer step's answer; None is a visible "no answer".
    pub answer: Option<String>,
    pub calls: usize,
    pub prompt_tokens: usize,
    pub generated_tokens: usize,
    pub seconds: f64,
}

/// Progress while a method runs.
#[derive(Debug, Clone)]
pub enum RunEvent {
    StepStarted {
        step: String,
    },
    /// A piece of a call's output as it is generated (call `index` of the step).
    Token {
        step: String,
        index: usize,
        text: String,
    },
    Called {
        step: String,
        index: usize,
        output: String,
    },
    StepFinished {
        step: String,
        output: Output,
    },
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Token budget of a call whose step sets none.
    pub max_tokens: usize,
    /// An upper bound on every call's budget (quick smoke runs).
    pub cap: Option<usize>,
    /// Base seed; each call derives its own.
    pub seed: u64,
    /// Whether `run_code` steps may run model-written programs; off unless
    /// the user allows it.
    pub allow_code: bool,
}

/// What a step asks of one model call.
struct Request<'s> {
    prompt: String,
    completion: bool,
    temperature: f64,
    max_tokens: Option<usize>,
    stop: &'s [String],
}

impl<'s> Request<'s> {
    /// A greedy chat call.
    fn greedy(prompt: String, max_tokens: Option<usize>, stop: &'s [String]) -> Self {
        Request {
            prompt,
            completion: false,
            temperature: 0.0,
            max_tokens,
            stop,
        }
    }
}

struct Ctx<'a, B: Backend> {
    backend: &'a mut B,
    on_event: &'a mut dyn FnMut(RunEvent),
    options: &'a RunOptions,
    env: Environment<'static>,
    vars: BTreeMap<String, minijinja::Value>,
    outputs: BTreeMap<String, Output>,
    calls: usize,
    prompt_tokens: usize,
    generated_tokens: usize,
}

impl<B: Backend> Ctx<'_, B> {
    fn render(&self, template: &str, extra: &[(&str, minijinja::Value)]) -> Result<String, String> {
        let mut vars = self.vars.clone();
        for (k, v) in extra {
            vars.insert(k.to_string(), v.clone());
        }
        self.env
            .render_str(template, vars)
            .map_err(|e| format!("template: {e}"))
    }

    /// One model call for call `index` of `step`; its text streams out as
    /// [`RunEvent::Token`] and the whole output as [`RunEvent::Called`].
    fn call(
        &mut self,
        step: &str,
        index: usize,
        request: Request,
    ) -> Result<CallRecord, MethodError> {
        let Request {
            prompt,
            completion,
            temperature,
            max_tokens,
            stop,
        } = request;
        self.calls += 1;
        let call = Call {
            prompt,
            completion,
            temperature,
            max_tokens: max_tokens
                .unwrap_or(self.options.max_tokens)
                .min(self.options.cap.unwrap_or(usize::MAX)),
            stop: stop.to_vec(),
            seed: self.options.seed.wrapping_add(self.calls as u64),
        };
        let on_event = &mut *self.on_event;
        let reply = self
            .backend
            .call(&call, &mut |text| {
                if !text.is_empty() {
                    on_event(RunEvent::Token {
                        step: step.to_string(),
                        index,
                        text: text.to_string(),
                    });
                }
                std::ops::ControlFlow::Continue(())
            })
            .map_err(|e| match e {
                BackendError::Cancelled => MethodError::Cancelled,
                other => MethodError::Failed(other.to_string()),
            })?;
        self.prompt_tokens += reply.prompt_tokens;
        self.generated_tokens += reply.generated_tokens;
        (self.on_event)(RunEvent::Called {
            step: step.to_string(),
            index,
            output: reply.text.clone(),
        });
        Ok(CallRecord {
            prompt: call.prompt,
            output: reply.text,
        })
    }
}

/// Runs `spec` on one item's `inputs` (question, context, …).
pub fn run<B: Backend>(
    spec: &MethodSpec,
    inputs: &BTreeMap<String, String>,
    backend: &mut B,
    options: &RunOptions,
    on_event: impl FnMut(RunEvent),
) -> Result<MethodRun, MethodError> {
    run_steps(spec, inputs, backend, options, on_event).map_err(|e| match e {
        StepFailure::Cancelled => MethodError::Cancelled,
        StepFailure::Failed(message) => MethodError::Failed(message),
    })
}

/// A step's failure on its way out: the message is prefixed with the step.
enum StepFailure {
    Cancelled,
    Failed(String),
}

impl From<String> for StepFailure {
    fn from(message: String) -> Self {
        StepFailure::Failed(message)
    }
}

impl From<MethodError> for StepFailure {
    fn from(e: MethodError) -> Self {
        match e {
            MethodError::Cancelled => StepFailure::Cancelled,
            MethodError::Failed(m) => StepFailure::Failed(m),
        }
    }
}

/// `e` as the failure of step `step` (a cancellation stays one).
fn in_step(step: &str, e: impl Into<StepFailure>) -> StepFailure {
    match e.into() {
        StepFailure::Failed(message) => StepFailure::Failed(format!("step `{step}`: {message}")),
        cancelled => cancelled,
    }
}

fn run_steps<B: Backend>(
    spec: &MethodSpec,
    inputs: &BTreeMap<String, String>,
    backend: &mut B,
    options: &RunOptions,
    mut on_event: impl FnMut(RunEvent),
) -> Result<MethodRun, StepFailure> {
    let on_event: &mut dyn FnMut(RunEvent) = &mut on_event;
    if let Some(reason) = &spec.not_runnable {
        return Err(format!(
            "method `{}` is catalogued but not runnable: {reason}",
            spec.id
        )
        .into());
    }
    if spec.runs_code() && !options.allow_code {
        return Err(format!(
            "method `{}` runs model-written Python, and code execution is off; allow it to run confined (its own temporary folder, no network, a timeout and a memory ceiling)",
            spec.id
        )
        .into());
    }
    for input in &spec.inputs {
        if !inputs.contains_key(input) {
            return Err(format!("method `{}` needs the input `{input}`", spec.id).into());
        }
    }
    let mut env = Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    let mut vars: BTreeMap<String, minijinja::Value> = inputs
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().into()))
        .collect();
    vars.insert(
        "exemplars".into(),
        spec.exemplars.clone().unwrap_or_default().into(),
    );
    let mut ctx = Ctx {
        backend,
        on_event,
        options,
        env,
        vars,
        outputs: spec
            .exemplars
            .iter()
            .map(|text| ("exemplars".to_string(), Output::Text { text: text.clone() }))
            .collect(),
        calls: 0,
        prompt_tokens: 0,
        generated_tokens: 0,
    };
    let start = Instant::now();
    let mut steps = Vec::new();
    for step in &spec.steps {
        (ctx.on_event)(RunEvent::StepStarted {
            step: step.id.clone(),
        });
        let step_start = Instant::now();
        let mut calls = Vec::new();
        let output = match &step.kind {
            StepKind::Generate(g) => {
                let prompt = ctx
                    .render(&g.prompt, &[])
                    .map_err(|e| in_step(&step.id, e))?;
                let record = ctx
                    .call(
                        &step.id,
                        0,
                        Request {
                            completion: g.completion,
                            ..Request::greedy(prompt, g.max_tokens, &g.stop)
                        },
                    )
                    .map_err(|e| in_step(&step.id, e))?;
                let text = record.output.clone();
                calls.push(record);
                Output::Text { text }
            }
            StepKind::SampleN(s) => {
                let prompt = ctx
                    .render(&s.prompt, &[])
                    .map_err(|e| in_step(&step.id, e))?;
                let mut items = Vec::new();
                for index in 0..s.n {
                    let record = ctx
                        .call(
                            &step.id,
                            index,
                            Request {
                                completion: s.completion,
                                temperature: s.temperature,
                                ..Request::greedy(prompt.clone(), s.max_tokens, &s.stop)
                            },
                        )
                        .map_err(|e| in_step(&step.id, e))?;
                    items.push(record.output.clone());
                    calls.push(record);
                }
                Output::List { items }
            }
            StepKind::Extract(e) => {
                let answers = ctx.outputs[&e.from]
                    .items()
                    .iter()
                    .map(|t| t.as_deref().map_or(Ok(None), |t| extract(t, &e.pattern)))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| in_step(&step.id, e))?;
                Output::Answers { answers }
            }
            StepKind::Vote(v) => {
                let answers = match &ctx.outputs[&v.from] {
                    Output::Answers { answers } => answers.clone(),
                    other => other.texts().into_iter().map(Some).collect(),
                };
                match &v.most_steps {
                    None => Output::Vote {
                        vote: vote(&answers),
                    },
                    Some(filter) => {
                        let chains: Vec<String> = ctx.outputs[&filter.of]
                            .items()
                            .into_iter()
                            .map(Option::unwrap_or_default)
                            .collect();
                        if chains.len() != answers.len() {
                            return Err(in_step(
                                &step.id,
                                format!(
                                    "most_steps: `{}` has {} items but `{}` has {} answers",
                                    filter.of,
                                    chains.len(),
                                    v.from,
                                    answers.len()
                                ),
                            ));
                        }
                        let kept = most_steps(&chains, filter.keep);
                        let voters: Vec<Option<String>> =
                            kept.iter().map(|&i| answers[i].clone()).collect();
                        let mut vote = vote(&voters);
                        vote.kept = Some(kept);
                        Output::Vote { vote }
                    }
                }
            }
            StepKind::Foreach(f) => {
                let items = ctx.outputs[&f.over].texts();
                let mut history: Vec<(String, String)> = Vec::new();
                let mut outputs = Vec::new();
                for (index, item) in items.iter().enumerate() {
                    let mut extra = vec![("item", minijinja::Value::from(item.as_str()))];
                    if f.mode == ForeachMode::Sequential {
                        extra.push(("history", minijinja::Value::from_serialize(&history)));
                    }
                    let prompt = ctx
                        .render(&f.prompt, &extra)
                        .map_err(|e| in_step(&step.id, e))?;
                    let record = ctx
                        .call(
                            &step.id,
                            index,
                            Request::greedy(prompt, f.max_tokens, &f.stop),
                        )
                        .map_err(|e| in_step(&step.id, e))?;
                    history.push((item.clone(), record.output.clone()));
                    outputs.push(record.output.clone());
                    calls.push(record);
                }
                Output::List { items: outputs }
            }
            StepKind::LoopUntil(l) => {
                let until = regex::Regex::new(&l.until)
                    .map_err(|e| in_step(&step.id, format!("until: {e}")))?;
                let mut lookup = l.tool.as_ref().map(|tool| {
                    let value = &ctx.vars[&tool.lookup];
                    Lookup::new(
                        &value
                            .as_str()
                            .map_or_else(|| value.to_string(), str::to_string),
                    )
                });
                let mut previous = String::new();
                let mut transcript = String::new();
                let mut outputs = Vec::new();
                for iteration in 0..l.max_iterations {
                    let extra = [
                        ("iteration", minijinja::Value::from(iteration)),
                        ("previous", minijinja::Value::from(previous.as_str())),
                        ("transcript", minijinja::Value::from(transcript.as_str())),
                    ];
                    let prompt = ctx
                        .render(&l.prompt, &extra)
                        .map_err(|e| in_step(&step.id, e))?;
                    let record = ctx
                        .call(
                            &step.id,
                            iteration,
                            Request {
                                completion: l.completion,
                                ..Request::greedy(prompt, l.max_tokens, &l.stop)
                            },
                        )
                        .map_err(|e| in_step(&step.id, e))?;
                    previous = record.output.clone();
                    calls.push(record);
                    let mut item = previous.trim_end().to_string();
                    let finished = until.is_match(&previous);
                    // The tool answers the turn's action before the next call.
                    if let Some(tool) = lookup.as_mut().filter(|_| !finished) {
                        if let Some(observation) = tool.observe(&previous) {
                            item = format!("{item}\n{observation}");
                        }
                    }
                    transcript.push_str(&item);
                    transcript.push('\n');
                    outputs.push(item);
                    if finished {
                        break;
                    }
                }
                Output::List { items: outputs }
            }
            StepKind::RunCode(r) => {
                let python = sandbox::python().map_err(|e| in_step(&step.id, e))?;
                let limits = Limits {
                    timeout: r
                        .timeout_seconds
                        .map_or(Limits::default().timeout, Duration::from_secs),
                    ..Limits::default()
                };
                let programs = match (&r.from, &r.program) {
                    (Some(from), _) => ctx.outputs[from].items(),
                    (None, Some(template)) => vec![Some(
                        ctx.render(template, &[])
                            .map_err(|e| in_step(&step.id, e))?,
                    )],
                    (None, None) => unreachable!("checked at load"),
                };
                let mut runs = Vec::new();
                // An item with no program (the extract found none) is skipped.
                for mut code in programs.into_iter().flatten() {
                    if let Some(append) = &r.append {
                        code = format!("{}\n{append}\n", code.trim_end());
                    }
                    runs.push(
                        sandbox::run_python(&code, python, &limits)
                            .map_err(|e| in_step(&step.id, e))?,
                    );
                }
                Output::Runs { runs }
            }
        };
        ctx.vars.insert(step.id.clone(), output.to_template());
        ctx.outputs.insert(step.id.clone(), output.clone());
        (ctx.on_event)(RunEvent::StepFinished {
            step: step.id.clone(),
            output: output.clone(),
        });
        steps.push(StepRecord {
            id: step.id.clone(),
            primitive: step.kind.name(),
            calls,
            output,
            seconds: step_start.elapsed().as_secs_f64(),
        });
    }
    let answer_step = spec
        .answer
        .clone()
        .or_else(|| spec.steps.last().map(|s| s.id.clone()));
    let answer = answer_step.and_then(|id| ctx.outputs.get(&id).and_then(Output::answer));
    Ok(MethodRun {
        method: spec.id.clone(),
        steps,
        answer,
        calls: ctx.calls,
        prompt_tokens: ctx.prompt_tokens,
        generated_tokens: ctx.generated_tokens,
        seconds: start.elapsed().as_secs_f64(),
    })
}
