//! Running a suite: [`plan`] expands it into trials (case × variant ×
//! method × sample, each with its store key and its assertions built for
//! the case); [`run`] executes the trials the store does not hold on
//! `concurrency` workers, storing each one as it finishes, and returns
//! every trial's [`Record`] in plan order.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use promptlab_backend::{Backend, BackendError, Call, Capabilities, Reply, SamplingParams};
use promptlab_methods::runner::{self, RunOptions};
use sha2::{Digest, Sha256};

use crate::assertion::{score, Assertion, Check, Produced};
use crate::record::{CallTranscript, Record, Tokens};
use crate::store::{Generation, Store};
use crate::suite::{Method, Suite, SuiteError};

/// One trial to run.
#[derive(Debug, Clone)]
pub struct Trial {
    pub item: String,
    pub vars: BTreeMap<String, String>,
    pub variant: String,
    pub method: usize,
    pub sample: usize,
    pub system: Option<String>,
    pub prompt: String,
    pub sampling: SamplingParams,
    pub assertions: Vec<Assertion>,
    pub key: String,
}

impl Trial {
    /// The prompt texts whose attention share the assertions measure.
    fn spans(&self) -> Vec<&str> {
        self.assertions
            .iter()
            .filter_map(|a| match &a.check {
                Check::Attention { span, .. } => Some(span.as_str()),
                _ => None,
            })
            .collect()
    }
}

/// Every trial of `suite` against the model `model_key` (its name and
/// the digest of its weights: part of each store key).
pub fn plan(suite: &Suite, model_key: &str) -> Result<Vec<Trial>, SuiteError> {
    let mut trials = Vec::new();
    for case in &suite.cases {
        let assertions = suite.assertions(case)?;
        for variant in &suite.variants {
            let prompt = suite.render(&variant.template, case)?;
            let system = variant
                .system
                .as_ref()
                .map(|s| suite.render(s, case))
                .transpose()?;
            for (m, method) in suite.methods.iter().enumerate() {
                for sample in 0..suite.repeat {
                    let sampling = SamplingParams {
                        seed: suite.sampling.seed.wrapping_add(sample as u64),
                        ..suite.sampling.clone()
                    };
                    let mut trial = Trial {
                        item: case.id.clone(),
                        vars: case.vars.clone(),
                        variant: variant.id.clone(),
                        method: m,
                        sample,
                        system: system.clone(),
                        prompt: prompt.clone(),
                        sampling,
                        assertions: assertions.clone(),
                        key: String::new(),
                    };
                    trial.key = key(suite, method, &trial, model_key);
                    trials.push(trial);
                }
            }
        }
    }
    Ok(trials)
}

/// A digest of a model's weights file, for its part of the store keys:
/// a changed file is a new key.
pub fn file_digest(path: &std::path::Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hasher
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// A hash of everything that can change a trial's generation.
fn key(suite: &Suite, method: &Method, trial: &Trial, model_key: &str) -> String {
    let method_text = match method {
        Method::Direct => "direct".to_string(),
        Method::Survey(spec) => format!("{spec:?}"),
    };
    let inputs: Vec<(&String, &String)> = trial.vars.iter().collect();
    let parts = serde_json::json!({
        "model": model_key,
        "system": trial.system,
        "prompt": trial.prompt,
        "method": method_text,
        "inputs": if matches!(method, Method::Direct) { Vec::new() } else { inputs },
        "sampling": format!("{:?}", trial.sampling),
        "sample": trial.sample,
        "extract": suite.extract_name(),
        "spans": trial.spans(),
        "allow_code": suite.allow_code,
    });
    let digest = Sha256::digest(parts.to_string().as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// A backend for evaluation: the calls, and the measures only our own
/// forward pass can make.
pub trait EvalBackend: Backend {
    /// The answer's share of attention on `span` of the prompt (mean over
    /// layers, heads and the answer's tokens); None when `span` is not in
    /// the prompt. Backends without attention say so.
    fn attention_share(
        &mut self,
        system: Option<&str>,
        prompt: &str,
        answer: &str,
        span: &str,
    ) -> Result<Option<f64>, String> {
        let _ = (system, prompt, answer, span);
        Err("this backend has no attention".into())
    }
}

/// A remote server has no attention to measure.
impl EvalBackend for promptlab_backend::OpenAiBackend {}

/// A backend whose calls stop when `cancel` is set.
struct Cancellable<'a, B> {
    inner: &'a mut B,
    cancel: &'a AtomicBool,
}

impl<B: Backend> Backend for Cancellable<'_, B> {
    fn call(
        &mut self,
        call: &Call,
        on_text: &mut dyn FnMut(&str) -> ControlFlow<()>,
    ) -> Result<Reply, BackendError> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(BackendError::Cancelled);
        }
        let cancel = self.cancel;
        self.inner.call(call, &mut |text| {
            if cancel.load(Ordering::Relaxed) {
                ControlFlow::Break(())
            } else {
                on_text(text)
            }
        })
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
}

/// Runs one trial; None when it was cancelled.
pub fn execute<B: EvalBackend>(
    suite: &Suite,
    trial: &Trial,
    backend: &mut B,
    cancel: &AtomicBool,
) -> Option<Generation> {
    let start = Instant::now();
    let mut calls = Vec::new();
    let mut tokens = Tokens::default();
    let mut perplexity = None;
    let result: Result<(String, Option<String>), String> = {
        let mut wrapped = Cancellable {
            inner: backend,
            cancel,
        };
        match &suite.methods[trial.method] {
            Method::Direct => {
                let call = Call {
                    system: trial.system.clone(),
                    prompt: trial.prompt.clone(),
                    completion: false,
                    sampling: trial.sampling.clone(),
                };
                match wrapped.call(&call, &mut |_| ControlFlow::Continue(())) {
                    Ok(reply) => {
                        tokens = Tokens {
                            prompt: reply.prompt_tokens,
                            generated: reply.generated_tokens,
                            reused: reply.reused_tokens,
                        };
                        perplexity = reply.logprobs.as_deref().and_then(perplexity_of);
                        calls.push(CallTranscript {
                            step: "direct".into(),
                            prompt: trial.prompt.clone(),
                            output: reply.text.clone(),
                        });
                        let answer = suite.extract.apply(&reply.text);
                        Ok((reply.text, answer))
                    }
                    Err(BackendError::Cancelled) => return None,
                    Err(e) => Err(e.to_string()),
                }
            }
            Method::Survey(spec) => {
                let mut inputs = trial.vars.clone();
                inputs.insert("question".into(), trial.prompt.clone());
                let options = RunOptions {
                    max_tokens: trial.sampling.max_tokens,
                    cap: None,
                    seed: trial.sampling.seed,
                    allow_code: suite.allow_code,
                    system: trial.system.clone(),
                };
                match runner::run(spec, &inputs, &mut wrapped, &options, |_| {}) {
                    Ok(run) => {
                        tokens = Tokens {
                            prompt: run.prompt_tokens,
                            generated: run.generated_tokens,
                            reused: run.reused_tokens,
                        };
                        for step in &run.steps {
                            for call in &step.calls {
                                calls.push(CallTranscript {
                                    step: step.id.clone(),
                                    prompt: call.prompt.clone(),
                                    output: call.output.clone(),
                                });
                            }
                        }
                        let output = calls.last().map_or(String::new(), |c| c.output.clone());
                        Ok((output, run.answer))
                    }
                    Err(promptlab_methods::MethodError::Cancelled) => return None,
                    Err(e) => Err(e.to_string()),
                }
            }
        }
    };
    if cancel.load(Ordering::Relaxed) {
        return None;
    }
    let (output, answer, error) = match result {
        Ok((output, answer)) => (output, answer, None),
        Err(e) => (String::new(), None, Some(e)),
    };
    let mut attention = Vec::new();
    let mut error = error;
    if error.is_none() {
        let last = calls
            .last()
            .map_or(trial.prompt.as_str(), |c| c.prompt.as_str());
        for span in trial.spans() {
            match backend.attention_share(trial.system.as_deref(), last, &output, span) {
                Ok(Some(share)) => attention.push((span.to_string(), share)),
                Ok(None) => {}
                Err(e) => {
                    error = Some(format!("attention: {e}"));
                    break;
                }
            }
        }
    }
    Some(Generation {
        calls,
        output,
        answer,
        tokens,
        ms: start.elapsed().as_secs_f64() * 1000.0,
        error,
        perplexity,
        attention,
    })
}

fn perplexity_of(logprobs: &[f32]) -> Option<f64> {
    if logprobs.is_empty() {
        return None;
    }
    let mean = logprobs.iter().map(|&l| f64::from(l)).sum::<f64>() / logprobs.len() as f64;
    Some((-mean).exp())
}

/// The record of `trial` from its generation: the assertions judge it.
pub fn judge(suite: &Suite, trial: &Trial, generation: &Generation) -> Record {
    let attention = |span: &str| {
        generation
            .attention
            .iter()
            .find(|(s, _)| s == span)
            .map(|(_, share)| *share)
    };
    let produced = Produced {
        answer: generation.answer.as_deref(),
        output: &generation.output,
        generated_tokens: generation.tokens.generated,
        perplexity: generation.perplexity,
        attention: &attention,
    };
    let assertions: Vec<_> = if generation.error.is_some() {
        Vec::new()
    } else {
        trial
            .assertions
            .iter()
            .map(|a| a.judge(&produced))
            .collect()
    };
    let failed = generation.error.is_some();
    Record {
        item: trial.item.clone(),
        variant: trial.variant.clone(),
        method: suite.methods[trial.method].id().to_string(),
        sample: trial.sample,
        key: trial.key.clone(),
        vars: trial.vars.clone(),
        system: trial.system.clone(),
        prompt: trial.prompt.clone(),
        calls: generation.calls.clone(),
        output: generation.output.clone(),
        answer: generation.answer.clone(),
        passed: !failed && assertions.iter().all(|a| a.passed),
        score: if failed { 0.0 } else { score(&assertions) },
        assertions,
        tokens: generation.tokens,
        ms: generation.ms,
        error: generation.error.clone(),
    }
}

/// Progress after each trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
    /// Of the done ones, how many came from the store.
    pub reused: usize,
    pub passed: usize,
}

/// A trial with its record, as `run` reports it.
#[derive(Debug, Clone, Copy)]
pub struct Finished<'a> {
    /// Its place in the plan.
    pub index: usize,
    pub record: &'a Record,
    /// It came from the store (it was not run now).
    pub stored: bool,
}

/// How a run ended.
pub struct Outcome {
    /// Records of the trials done, in plan order.
    pub records: Vec<Record>,
    /// Trials run now (not from the store).
    pub ran: usize,
    pub reused: usize,
    /// The run was cancelled before every trial was done.
    pub interrupted: bool,
}

/// Runs every trial the store lacks on `concurrency` workers (each with
/// its own backend from `make_backend`), storing each as it finishes.
/// `on_progress` hears of every trial the store holds first (in plan
/// order), then of each one run as it finishes, and once with no trial
/// before the first run starts.
pub fn run<B, F>(
    suite: &Suite,
    trials: &[Trial],
    store: &mut Store,
    concurrency: usize,
    make_backend: F,
    cancel: &AtomicBool,
    mut on_progress: impl FnMut(Progress, Option<Finished<'_>>),
) -> std::io::Result<Outcome>
where
    B: EvalBackend,
    F: Fn() -> Result<B, String> + Sync,
{
    let mut records: Vec<Option<Record>> = vec![None; trials.len()];
    let mut progress = Progress {
        done: 0,
        total: trials.len(),
        reused: 0,
        passed: 0,
    };
    let mut todo = Vec::new();
    for (i, trial) in trials.iter().enumerate() {
        match store.get(&trial.key) {
            Some(generation) => {
                let record = judge(suite, trial, generation);
                progress.done += 1;
                progress.reused += 1;
                progress.passed += usize::from(record.passed);
                on_progress(
                    progress,
                    Some(Finished {
                        index: i,
                        record: &record,
                        stored: true,
                    }),
                );
                records[i] = Some(record);
            }
            None => todo.push(i),
        }
    }
    on_progress(progress, None);
    let next = AtomicUsize::new(0);
    let mut ran = 0;
    let mut write_error = None;
    std::thread::scope(|scope| {
        let (send, receive) = mpsc::channel::<(usize, Result<Generation, String>)>();
        for _ in 0..concurrency.clamp(1, 64).min(todo.len().max(1)) {
            let send = send.clone();
            let (todo, next, make_backend) = (&todo, &next, &make_backend);
            scope.spawn(move || {
                let mut backend = match make_backend() {
                    Ok(b) => b,
                    Err(e) => {
                        cancel.store(true, Ordering::Relaxed);
                        let _ = send.send((usize::MAX, Err(e)));
                        return;
                    }
                };
                while !cancel.load(Ordering::Relaxed) {
                    let Some(&i) = todo.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        break;
                    };
                    match execute(suite, &trials[i], &mut backend, cancel) {
                        Some(generation) => {
                            if send.send((i, Ok(generation))).is_err() {
                                break;
                            }
                        }
                        None => break,
                    }
                }
            });
        }
        drop(send);
        for (i, result) in receive {
            let generation = match result {
                Ok(g) => g,
                Err(e) => {
                    write_error = Some(std::io::Error::other(e));
                    continue;
                }
            };
            if let Err(e) = store.put(&trials[i].key, &generation) {
                write_error = Some(e);
                cancel.store(true, Ordering::Relaxed);
                continue;
            }
            let record = judge(suite, &trials[i], &generation);
            ran += 1;
            progress.done += 1;
            progress.passed += usize::from(record.passed);
            on_progress(
                progress,
                Some(Finished {
                    index: i,
                    record: &record,
                    stored: false,
                }),
            );
            records[i] = Some(record);
        }
    });
    if let Some(e) = write_error {
        return Err(e);
    }
    let interrupted = records.iter().any(Option::is_none);
    Ok(Outcome {
        records: records.into_iter().flatten().collect(),
        ran,
        reused: progress.reused,
        interrupted,
    })
}
