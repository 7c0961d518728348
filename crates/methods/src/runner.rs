//! Running a method's steps for one item: each primitive renders its
//! templates over the inputs and earlier outputs, calls the backend, and
//! records every call; progress streams out as events.
//!
//! Before the first call the method passes [`MethodSpec::check_ready`]; a
//! step reads what it names through the load check's own `spec::Scope`,
//! and a name that is not there fails the step ([`StepError::Unreadable`])
//! rather than the process. Its templates see what the load check allows
//! them: the scope, the exemplars, the environment's globals and their
//! primitive's `spec::Local`s (strict about anything else).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use minijinja::Environment;
use serde::Serialize;

use super::extract::{find_answer, most_steps, reasoning_steps, vote, Vote};
use super::sandbox::{self, CodeRun, Limits};
use super::spec::{
    environment, Local, MethodSpec, Origin, Scope, SelectBy, Step, StepKind, EXEMPLARS,
};
use super::table::Table;
use super::tools::Lookup;
use crate::error::{MethodError, StepError};
use promptlab_backend::{Backend, BackendError, Call, SamplingParams};

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
    /// A breadth-first search: every level's candidates with their values
    /// and which were kept, and the best final state.
    Search {
        levels: Vec<SearchLevel>,
        best: String,
    },
    /// `select`: every item's score and the kept indices, best first.
    Selected {
        scores: Vec<f64>,
        kept: Vec<usize>,
    },
}

/// One level of a search.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchLevel {
    /// (state, value), in the order generated.
    pub candidates: Vec<(String, f64)>,
    /// The candidates kept for the next level, best first.
    pub kept: Vec<usize>,
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
    pub(crate) fn answer(&self) -> Option<String> {
        match self {
            Output::Text { text } => Some(text.clone()),
            Output::List { items } => items.last().cloned(),
            // The last item's answer; an earlier one is never a fallback.
            Output::Answers { answers } => answers.last().cloned().flatten(),
            Output::Vote { vote } => vote.winner.clone(),
            // The last printed line of the last program, if it succeeded.
            Output::Search { best, .. } => Some(best.clone()),
            Output::Selected { kept, .. } => kept.first().map(usize::to_string),
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
            Output::Search { best, .. } => best.as_str().into(),
            Output::Selected { kept, .. } => minijinja::Value::from_serialize(kept),
            Output::Runs { runs } => match runs.as_slice() {
                [one] => run_text(one).into(),
                many => {
                    minijinja::Value::from_serialize(many.iter().map(run_text).collect::<Vec<_>>())
                }
            },
        }
    }

    pub(crate) fn texts(&self) -> Vec<String> {
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
            Output::Search { best, .. } => vec![best.clone()],
            Output::Selected { kept, .. } => kept.iter().map(usize::to_string).collect(),
            Output::Runs { runs } => runs.iter().map(run_text).collect(),
        }
    }

    /// What a `foreach` goes over: [`Output::texts`], except that a
    /// program's printed lines are one item each (a program that failed
    /// is one item, its failure).
    fn foreach_items(&self) -> Vec<String> {
        match self {
            Output::Runs { runs } => runs
                .iter()
                .flat_map(|r| match r.failure() {
                    None => r
                        .stdout
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(str::to_string)
                        .collect(),
                    Some(_) => vec![run_text(r)],
                })
                .collect(),
            other => other.texts(),
        }
    }

    /// The programs (or texts) each item of this output stands for, whole.
    fn items(&self) -> Vec<Option<String>> {
        match self {
            Output::Text { text } => vec![Some(text.clone())],
            Output::List { items } => items.iter().cloned().map(Some).collect(),
            Output::Answers { answers } => answers.clone(),
            Output::Vote { vote } => vec![vote.winner.clone()],
            Output::Search { best, .. } => vec![Some(best.clone())],
            Output::Selected { kept, .. } => kept.iter().map(|k| Some(k.to_string())).collect(),
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
    /// For a gated step: the vote's agreement, and whether the step ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate: Option<GateOutcome>,
}

/// How a consistency gate decided.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GateOutcome {
    /// The winner's share of all candidates (0 without a winner).
    pub agreement: f64,
    pub threshold: f64,
    /// The agreement was below the threshold, so the step ran.
    pub ran: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct MethodRun {
    pub method: String,
    pub steps: Vec<StepRecord>,
    /// The answer step's answer; None is a visible "no answer".
    pub answer: Option<String>,
    pub calls: usize,
    pub prompt_tokens: usize,
    /// Prompt tokens the backend had already computed (shared prefixes).
    pub reused_tokens: usize,
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
    /// Call `index` of the step ended with `output`, having read
    /// `prompt_tokens` and written `generated_tokens`.
    Called {
        step: String,
        index: usize,
        output: String,
        prompt_tokens: usize,
        generated_tokens: usize,
    },
    StepFinished {
        step: String,
        output: Output,
    },
    /// A gated step's gate decided (before it runs, or instead of it).
    Gate {
        step: String,
        outcome: GateOutcome,
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
    /// A system prompt for every call (an evaluation suite's).
    pub system: Option<String>,
}

/// What a step asks of one model call.
pub(crate) struct Request<'s> {
    pub(crate) prompt: String,
    pub(crate) completion: bool,
    pub(crate) temperature: f64,
    pub(crate) max_tokens: Option<usize>,
    pub(crate) stop: &'s [String],
}

impl<'s> Request<'s> {
    /// A greedy chat call.
    pub(crate) fn greedy(prompt: String, max_tokens: Option<usize>, stop: &'s [String]) -> Self {
        Request {
            prompt,
            completion: false,
            temperature: 0.0,
            max_tokens,
            stop,
        }
    }
}

pub(crate) struct Ctx<'a, B: Backend> {
    backend: &'a mut B,
    on_event: &'a mut dyn FnMut(RunEvent),
    options: &'a RunOptions,
    env: Environment<'static>,
    vars: BTreeMap<String, minijinja::Value>,
    /// What the next step can read: the inputs, the exemplars and the
    /// outputs so far (the same [`Scope`] the load check uses).
    outputs: Scope<Output>,
    calls: usize,
    prompt_tokens: usize,
    reused_tokens: usize,
    generated_tokens: usize,
}

/// `error` as the failure of step `step`.
fn in_step(step: &str, error: impl Into<StepError>) -> MethodError {
    MethodError::Step {
        step: step.to_string(),
        error: error.into(),
    }
}

impl<B: Backend> Ctx<'_, B> {
    /// `template` of `step` rendered over the inputs, the earlier outputs
    /// and the step's [`Local`]s, `locals` (each one the load check allows
    /// it: [`StepKind::locals`]).
    pub(crate) fn render(
        &self,
        step: &Step,
        template: &str,
        locals: &[(Local, minijinja::Value)],
    ) -> Result<String, MethodError> {
        let mut vars = self.vars.clone();
        for (local, v) in locals {
            debug_assert!(step.kind.locals().contains(local), "{local:?}");
            vars.insert(local.name().to_string(), v.clone());
        }
        self.env
            .render_str(template, vars)
            .map_err(|e| in_step(&step.id, StepError::Template(e.to_string())))
    }

    /// What step `step` reads as `name` through its `field`.
    pub(crate) fn read(
        &self,
        step: &str,
        field: &'static str,
        name: &str,
    ) -> Result<&Output, MethodError> {
        self.outputs.read(field, name).map_err(|e| in_step(step, e))
    }

    /// One model call for call `index` of `step`; its text streams out as
    /// [`RunEvent::Token`] and the whole output as [`RunEvent::Called`].
    pub(crate) fn call(
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
            system: self.options.system.clone(),
            prompt,
            completion,
            sampling: SamplingParams {
                temperature,
                max_tokens: max_tokens
                    .unwrap_or(self.options.max_tokens)
                    .min(self.options.cap.unwrap_or(usize::MAX)),
                stop: stop.to_vec(),
                seed: self.options.seed.wrapping_add(self.calls as u64),
                ..SamplingParams::greedy()
            },
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
                other => in_step(step, StepError::Backend(other.to_string())),
            })?;
        self.prompt_tokens += reply.prompt_tokens;
        self.reused_tokens += reply.reused_tokens;
        self.generated_tokens += reply.generated_tokens;
        (self.on_event)(RunEvent::Called {
            step: step.to_string(),
            index,
            output: reply.text.clone(),
            prompt_tokens: reply.prompt_tokens,
            generated_tokens: reply.generated_tokens,
        });
        Ok(CallRecord {
            prompt: call.prompt,
            output: reply.text,
        })
    }
}

/// Runs `spec` on one item's `inputs` (question, context, …), after
/// [`MethodSpec::check_ready`]: nothing is called for a method that is not
/// runnable, runs code that is not allowed, or lacks an input.
pub fn run<B: Backend>(
    spec: &MethodSpec,
    inputs: &BTreeMap<String, String>,
    backend: &mut B,
    options: &RunOptions,
    mut on_event: impl FnMut(RunEvent),
) -> Result<MethodRun, MethodError> {
    spec.check_ready(inputs, options.allow_code)?;
    let on_event: &mut dyn FnMut(RunEvent) = &mut on_event;
    let env = environment();
    let mut vars: BTreeMap<String, minijinja::Value> = inputs
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().into()))
        .collect();
    vars.insert(
        EXEMPLARS.into(),
        spec.exemplars.clone().unwrap_or_default().into(),
    );
    let outputs = Scope::start(spec, |name, origin| {
        let text = match origin {
            Origin::Input => inputs.get(name)?.clone(),
            Origin::Exemplars => spec.exemplars.clone()?,
            Origin::Step => return None,
        };
        Some(Output::Text { text })
    });
    let mut ctx = Ctx {
        backend,
        on_event,
        options,
        env,
        vars,
        outputs,
        calls: 0,
        prompt_tokens: 0,
        reused_tokens: 0,
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
        let gate = step.when.as_ref().map(|g| gate_outcome(&ctx.outputs, g));
        if let Some(outcome) = gate {
            (ctx.on_event)(RunEvent::Gate {
                step: step.id.clone(),
                outcome,
            });
        }
        let output = match (gate, &step.when) {
            (Some(outcome), Some(g)) if !outcome.ran => match &g.otherwise {
                Some(other) => ctx.read(&step.id, "when.otherwise", other)?.clone(),
                None => Output::Text {
                    text: String::new(),
                },
            },
            _ => run_step(&mut ctx, step, &mut calls)?,
        };
        ctx.vars.insert(step.id.clone(), output.to_template());
        ctx.outputs.add_step(&step.id, output.clone());
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
            gate,
        });
    }
    let answer_step = spec
        .answer
        .as_deref()
        .or_else(|| spec.steps.last().map(|s| s.id.as_str()));
    let answer = answer_step.and_then(|id| ctx.outputs.step(id).and_then(Output::answer));
    Ok(MethodRun {
        method: spec.id.clone(),
        steps,
        answer,
        calls: ctx.calls,
        prompt_tokens: ctx.prompt_tokens,
        reused_tokens: ctx.reused_tokens,
        generated_tokens: ctx.generated_tokens,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// A loop's tool while the loop runs.
enum Tool {
    Lookup(Lookup),
    Table(Table),
}

/// Active-Prompt's disagreement of each group of `group` consecutive
/// answers: its distinct answers (no answer is one of them) over `group`.
fn disagreement(answers: &[Option<String>], group: usize) -> Vec<f64> {
    answers
        .chunks(group.max(1))
        .map(|samples| {
            let mut distinct: Vec<Option<String>> = Vec::new();
            for a in samples {
                let a = a.as_ref().map(|t| t.trim().to_lowercase());
                if !distinct.contains(&a) {
                    distinct.push(a);
                }
            }
            distinct.len() as f64 / samples.len() as f64
        })
        .collect()
}

/// How `gate` decides over the outputs so far (the load check made sure
/// its vote is an earlier vote step).
fn gate_outcome(outputs: &Scope<Output>, gate: &crate::spec::Gate) -> GateOutcome {
    let agreement = match outputs.step(&gate.vote) {
        Some(Output::Vote { vote }) => {
            let total: usize = vote.tally.iter().map(|(_, n)| n).sum::<usize>() + vote.abstained;
            match (&vote.winner, vote.tally.first()) {
                (Some(_), Some((_, n))) if total > 0 => *n as f64 / total as f64,
                _ => 0.0,
            }
        }
        _ => 0.0,
    };
    GateOutcome {
        agreement,
        threshold: gate.agreement_below,
        ran: agreement < gate.agreement_below,
    }
}

/// Runs one step, recording its model calls in `calls`.
fn run_step<B: Backend>(
    ctx: &mut Ctx<'_, B>,
    step: &Step,
    calls: &mut Vec<CallRecord>,
) -> Result<Output, MethodError> {
    let id = step.id.as_str();
    Ok(match &step.kind {
        StepKind::Search(search) => crate::search::run(ctx, step, search, calls)?,
        StepKind::CheckSteps(check) => crate::logical::run(ctx, step, check, calls)?,
        StepKind::Generate(g) => {
            let prompt = ctx.render(step, &g.prompt, &[])?;
            let record = ctx.call(
                id,
                0,
                Request {
                    completion: g.completion,
                    ..Request::greedy(prompt, g.max_tokens, &g.stop)
                },
            )?;
            let text = record.output.clone();
            calls.push(record);
            Output::Text { text }
        }
        StepKind::SampleN(s) => {
            let prompt = ctx.render(step, &s.prompt, &[])?;
            let mut items = Vec::new();
            for index in 0..s.n {
                let record = ctx.call(
                    id,
                    index,
                    Request {
                        completion: s.completion,
                        temperature: s.temperature,
                        ..Request::greedy(prompt.clone(), s.max_tokens, &s.stop)
                    },
                )?;
                items.push(record.output.clone());
                calls.push(record);
            }
            Output::List { items }
        }
        StepKind::Extract(e) => {
            let answers = ctx
                .read(id, "from", &e.from)?
                .items()
                .iter()
                .map(|t| t.as_deref().and_then(|t| find_answer(t, &e.pattern)))
                .collect();
            Output::Answers { answers }
        }
        StepKind::Vote(v) => {
            let answers = match ctx.read(id, "from", &v.from)? {
                Output::Answers { answers } => answers.clone(),
                other => other.texts().into_iter().map(Some).collect(),
            };
            match &v.most_steps {
                None => Output::Vote {
                    vote: vote(&answers),
                },
                Some(filter) => {
                    let chains: Vec<String> = ctx
                        .read(id, "most_steps", &filter.of)?
                        .items()
                        .into_iter()
                        .map(Option::unwrap_or_default)
                        .collect();
                    if chains.len() != answers.len() {
                        return Err(in_step(
                            id,
                            StepError::Misaligned {
                                of: filter.of.clone(),
                                chains: chains.len(),
                                from: v.from.clone(),
                                answers: answers.len(),
                            },
                        ));
                    }
                    let kept = most_steps(&chains, filter.keep);
                    let voters: Vec<Option<String>> = kept
                        .iter()
                        .filter_map(|&i| answers.get(i).cloned())
                        .collect();
                    let mut vote = vote(&voters);
                    vote.kept = Some(kept);
                    Output::Vote { vote }
                }
            }
        }
        StepKind::Foreach(f) => {
            let items = ctx.read(id, "over", &f.over)?.foreach_items();
            let mut history: Vec<(String, String)> = Vec::new();
            let mut outputs = Vec::new();
            for item in &items {
                let mut locals = vec![(Local::Item, minijinja::Value::from(item.as_str()))];
                if step.kind.locals().contains(&Local::History) {
                    locals.push((Local::History, minijinja::Value::from_serialize(&history)));
                }
                let prompt = ctx.render(step, &f.prompt, &locals)?;
                for _ in 0..f.samples {
                    let request = Request {
                        temperature: f.temperature,
                        completion: f.completion,
                        ..Request::greedy(prompt.clone(), f.max_tokens, &f.stop)
                    };
                    let record = ctx.call(id, outputs.len(), request)?;
                    outputs.push(record.output.clone());
                    calls.push(record);
                }
                if let Some(last) = outputs.last() {
                    history.push((item.clone(), last.clone()));
                }
            }
            Output::List { items: outputs }
        }
        StepKind::Select(s) => {
            let from = ctx.read(id, "from", &s.from)?;
            let scores = match s.by {
                SelectBy::MostSteps => from
                    .items()
                    .iter()
                    .map(|t| t.as_deref().map_or(0, reasoning_steps) as f64)
                    .collect(),
                SelectBy::Disagreement => disagreement(&from.items(), s.group.unwrap_or(1)),
            };
            let mut kept: Vec<usize> = (0..scores.len()).collect();
            // Stable: earlier first among equals.
            kept.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
            kept.truncate(s.keep);
            Output::Selected { scores, kept }
        }
        StepKind::LoopUntil(l) => {
            let mut tool = match &l.tool {
                Some(tool) => {
                    let source = tool.source().map_or("", String::as_str);
                    let value = ctx.read(id, "tool", source)?.to_template();
                    let text = value
                        .as_str()
                        .map_or_else(|| value.to_string(), str::to_string);
                    Some(if tool.table.is_some() {
                        let table =
                            Table::from_csv(&text).map_err(|e| in_step(id, StepError::Table(e)))?;
                        Tool::Table(table)
                    } else {
                        Tool::Lookup(Lookup::new(&text))
                    })
                }
                None => None,
            };
            let mut previous = String::new();
            let mut transcript = String::new();
            let mut outputs = Vec::new();
            for iteration in 0..l.max_iterations {
                let locals = [
                    (Local::Iteration, minijinja::Value::from(iteration)),
                    (Local::Previous, minijinja::Value::from(previous.as_str())),
                    (
                        Local::Transcript,
                        minijinja::Value::from(transcript.as_str()),
                    ),
                ];
                let prompt = ctx.render(step, &l.prompt, &locals)?;
                let record = ctx.call(
                    id,
                    iteration,
                    Request {
                        completion: l.completion,
                        ..Request::greedy(prompt, l.max_tokens, &l.stop)
                    },
                )?;
                previous = record.output.clone();
                calls.push(record);
                let mut item = previous.trim_end().to_string();
                let finished = l.until.is_match(&previous);
                // The tool answers the turn's action before the next call;
                // a table is shown after every turn, the last one too.
                match tool.as_mut() {
                    Some(Tool::Lookup(lookup)) if !finished => {
                        if let Some(observation) = lookup.observe(&previous) {
                            item = format!("{item}\n{observation}");
                        }
                    }
                    Some(Tool::Table(table)) => {
                        let note = match table.apply_turn(&previous) {
                            Ok(_) => String::new(),
                            Err(why) => format!("{why}\n"),
                        };
                        item = format!("{item}\n{note}{}", table.to_pipe());
                    }
                    _ => {}
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
            let python = sandbox::python().map_err(|e| in_step(id, e))?;
            let limits = Limits {
                timeout: r
                    .timeout_seconds
                    .map_or(Limits::default().timeout, Duration::from_secs),
                ..Limits::default()
            };
            let programs = match (&r.from, &r.program) {
                (Some(from), _) => ctx.read(id, "from", from)?.items(),
                (None, Some(template)) => vec![Some(ctx.render(step, template, &[])?)],
                (None, None) => return Err(in_step(id, StepError::NoProgram)),
            };
            let mut runs = Vec::new();
            // An item with no program (the extract found none) is skipped.
            for mut code in programs.into_iter().flatten() {
                if let Some(append) = &r.append {
                    code = format!("{}\n{append}\n", code.trim_end());
                }
                runs.push(match &r.lmulator {
                    None => {
                        sandbox::run_python(&code, python, &limits).map_err(|e| in_step(id, e))?
                    }
                    Some(lm) => crate::lmulator::run(ctx, step, lm, &code, python, &limits, calls)?,
                });
            }
            Output::Runs { runs }
        }
    })
}

#[cfg(test)]
mod tests {
    use std::ops::ControlFlow;
    use std::path::Path;

    use promptlab_backend::{Capabilities, Reply};

    use super::*;

    /// The fake model: reply `i` answers call `i` (none left fails the
    /// call); the calls are kept. The root tests' `Scripted` also streams.
    struct Replies(&'static [&'static str], Vec<Call>);

    impl Backend for Replies {
        fn call(
            &mut self,
            call: &Call,
            _: &mut dyn FnMut(&str) -> ControlFlow<()>,
        ) -> Result<Reply, BackendError> {
            let text = self
                .0
                .get(self.1.len())
                .ok_or_else(|| BackendError::Failed("no reply left".into()))?;
            self.1.push(call.clone());
            Ok(Reply {
                text: text.to_string(),
                prompt_tokens: 1,
                generated_tokens: 1,
                ..Reply::default()
            })
        }

        fn capabilities(&self) -> Capabilities {
            Capabilities::default()
        }
    }

    const OPTIONS: RunOptions = RunOptions {
        system: None,
        max_tokens: 8,
        cap: None,
        seed: 0,
        allow_code: false,
    };

    fn spec(yaml: &str) -> MethodSpec {
        MethodSpec::parse(yaml, Path::new("test.yaml")).unwrap_or_else(|e| panic!("{e}"))
    }

    fn question(text: &str) -> BTreeMap<String, String> {
        BTreeMap::from([("question".to_string(), text.to_string())])
    }

    const HEAD: &str =
        "id: t\nname: T\nsection: '0'\npaper: none\ntasks: [x]\ninputs: [question]\n";

    #[test]
    fn every_reference_the_load_check_allows_can_be_read() {
        let yaml = format!(
            "{HEAD}steps:
  - id: number
    extract: {{from: question, pattern: last_number}}
  - id: said
    foreach: {{over: question, mode: independent, prompt: 'Say {{{{ item }}}}'}}
  - id: final
    vote: {{from: number, most_steps: {{of: question, keep: 1}}}}
  - id: traced
    loop_until: {{prompt: 'go', until: 'x', max_iterations: 1, tool: {{lookup: question}}}}
answer: final
"
        );
        let mut backend = Replies(&["one", "two", "Lookup[more]"], Vec::new());
        let result = run(
            &spec(&yaml),
            &question("Is 12 more than 7?\nSay why."),
            &mut backend,
            &OPTIONS,
            |_| {},
        )
        .unwrap();
        assert_eq!(
            result.steps[0].output,
            Output::Answers {
                answers: vec![Some("7".into())]
            }
        );
        assert_eq!(backend.1[0].prompt, "Say Is 12 more than 7?");
        assert_eq!(backend.1[1].prompt, "Say Say why.");
        assert_eq!(
            result.steps[3].output,
            Output::List {
                items: vec!["Lookup[more]\nObservation 1: Is 12 more than 7?".into()]
            }
        );
        assert_eq!(result.answer.as_deref(), Some("7"));
    }

    #[test]
    fn a_reference_to_nothing_fails_its_step_and_never_panics() {
        let yaml = format!(
            "{HEAD}steps:
  - id: raw
    generate: {{prompt: '{{{{ question }}}}'}}
  - id: answers
    extract: {{from: raw, pattern: last_number}}
  - id: final
    vote: {{from: answers}}
"
        );
        // The fields are public: a spec changed in code skips the load check.
        let mut changed = spec(&yaml);
        changed.steps.remove(1);
        let mut backend = Replies(&["7"], Vec::new());
        let err = run(&changed, &question("q"), &mut backend, &OPTIONS, |_| {}).unwrap_err();
        assert!(!err.is_cancelled());
        assert_eq!(
            err.to_string(),
            "step `final`: from: reads `answers`, which is not an input or an earlier step"
        );
    }

    #[test]
    fn every_variable_the_load_check_allows_a_template_is_defined() {
        // Each primitive's own variables, the exemplars and a global.
        let yaml = format!(
            "{HEAD}exemplars: 'E'
steps:
  - id: first
    generate: {{prompt: '{{{{ question }}}}{{{{ exemplars }}}}{{{{ range(2) | list | length }}}}'}}
  - id: each
    foreach: {{over: question, mode: sequential, prompt: '{{{{ item }}}}/{{{{ history | length }}}}/{{{{ first }}}}'}}
  - id: alone
    foreach: {{over: question, mode: independent, prompt: '{{{{ item }}}}'}}
  - id: again
    loop_until: {{prompt: '{{{{ iteration }}}}[{{{{ previous }}}}]{{{{ transcript | length }}}}', until: 'b', max_iterations: 2}}
"
        );
        let mut backend = Replies(&["f", "e", "a", "a", "b"], Vec::new());
        run(&spec(&yaml), &question("q"), &mut backend, &OPTIONS, |_| {})
            .unwrap_or_else(|e| panic!("{e}"));
        let prompts: Vec<&str> = backend.1.iter().map(|c| c.prompt.as_str()).collect();
        assert_eq!(prompts, ["qE2", "q/0/f", "q", "0[]0", "1[a]2"]);
    }
}
