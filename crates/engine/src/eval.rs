//! Batch evaluation on the local model: [`LocalEval`], the model as an
//! evaluation backend (its calls go through the backend's prefix cache;
//! attention shares come from our own forward pass), used by `promptlab
//! eval` and by the engine thread; and [`eval`], a suite run on the engine
//! thread for the eval pane, streaming every trial as plain data.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use promptlab_backend::{Backend, BackendError, Call, Capabilities, LocalBackend, Reply};
use promptlab_eval::record::Record;
use promptlab_eval::report::{self, Format, RunInfo};
use promptlab_eval::run::{self, EvalBackend, Progress};
use promptlab_eval::store::Store;
use promptlab_eval::suite::{Overrides, Suite};
use promptlab_eval::summary::Summary;
use promptlab_infer::chat_template::Message;
use promptlab_infer::LoadedModel;

use crate::cancel::CancelToken;
use crate::protocol::{Event, RequestError, RequestId};

/// A suite to run on the engine's model.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalRequest {
    pub id: RequestId,
    /// The suite (prompt file).
    pub suite: PathBuf,
    pub overrides: Overrides,
    /// The folder of the result store and the reports.
    pub out: PathBuf,
    /// The model's name, for the reports and the store key.
    pub model: String,
    /// The weights file the engine loaded, hashed into the store key (so
    /// the eval pane and `promptlab eval` share stored trials).
    pub model_file: PathBuf,
    pub formats: Vec<Format>,
}

/// What a run will do, sent before its first trial.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalPlan {
    pub suite: String,
    pub description: Option<String>,
    pub cases: usize,
    /// (variant, method) of every arm, in plan order.
    pub arms: Vec<(String, String)>,
    pub trials: usize,
    /// The result store's file.
    pub store: PathBuf,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalEnd {
    pub summary: Summary,
    /// Trials run now, and taken from the store.
    pub ran: usize,
    pub reused: usize,
    /// Stopped before every trial was done (what is done is stored).
    pub interrupted: bool,
    /// The reports written.
    pub written: Vec<PathBuf>,
    /// Prompt tokens of every trial, and of those the prefix cache held.
    pub prompt_tokens: usize,
    pub reused_tokens: usize,
    pub seconds: f64,
}

/// The local backend, owned (one per worker of `promptlab eval`) or
/// borrowed (the engine thread's, with the prefixes earlier requests left).
enum Slot<'a, 'm> {
    Owned(LocalBackend<'m>),
    Borrowed(&'a mut LocalBackend<'m>),
}

/// The local model as an evaluation backend.
pub struct LocalEval<'a, 'm> {
    backend: Slot<'a, 'm>,
    /// Keep earlier calls' keys and values for prompts that share them.
    reuse_prefixes: bool,
}

impl<'a, 'm> LocalEval<'a, 'm> {
    /// A backend of its own over `model`.
    pub fn new(model: &'m LoadedModel, reuse_prefixes: bool) -> Self {
        LocalEval {
            backend: Slot::Owned(LocalBackend::new(model)),
            reuse_prefixes,
        }
    }

    /// Over a backend that outlives the run (its prefix cache too).
    pub fn borrowing(backend: &'a mut LocalBackend<'m>) -> Self {
        LocalEval {
            backend: Slot::Borrowed(backend),
            reuse_prefixes: true,
        }
    }

    fn backend(&mut self) -> &mut LocalBackend<'m> {
        match &mut self.backend {
            Slot::Owned(b) => b,
            Slot::Borrowed(b) => b,
        }
    }
}

impl Backend for LocalEval<'_, '_> {
    fn call(
        &mut self,
        call: &Call,
        on_text: &mut dyn FnMut(&str) -> ControlFlow<()>,
    ) -> Result<Reply, BackendError> {
        let reuse = self.reuse_prefixes;
        let backend = self.backend();
        if !reuse {
            backend.prefixes.clear();
        }
        backend.call(call, on_text)
    }

    fn capabilities(&self) -> Capabilities {
        match &self.backend {
            Slot::Owned(b) => b.capabilities(),
            Slot::Borrowed(b) => b.capabilities(),
        }
    }
}

impl EvalBackend for LocalEval<'_, '_> {
    fn attention_share(
        &mut self,
        system: Option<&str>,
        prompt: &str,
        answer: &str,
        span: &str,
    ) -> Result<Option<f64>, String> {
        let model = self.backend().model;
        attention_share(model, system, prompt, answer, span).map_err(|e| e.to_string())
    }
}

/// The answer's mean attention share (over layers, heads and its tokens)
/// on the prompt tokens that cover `span`'s text; None when the chat
/// prompt does not hold `span`.
fn attention_share(
    model: &LoadedModel,
    system: Option<&str>,
    prompt: &str,
    answer: &str,
    span: &str,
) -> promptlab_infer::error::Result<Option<f64>> {
    let mut messages = Vec::new();
    if let Some(system) = system {
        messages.push(Message::new("system", system));
    }
    messages.push(Message::new("user", prompt));
    let text = model.render_chat(&messages)?;
    let Some(start) = text.find(span) else {
        return Ok(None);
    };
    let end = start + span.len();
    let tokenizer = &model.tokenizer;
    let prompt_ids = tokenizer.encode(&text)?;
    let ids = tokenizer.encode(&format!("{text}{answer}"))?;
    let shared = |a: &[u32]| a.iter().zip(&ids).take_while(|(x, y)| x == y).count();
    let prompt_tokens = shared(&prompt_ids);
    let first = shared(&tokenizer.encode(&text[..start])?);
    let last = tokenizer.encode(&text[..end])?.len().max(first + 1);
    if prompt_tokens >= ids.len() {
        return Ok(Some(0.0));
    }
    let captured = promptlab_infer::capture::capture(model, ids, 0, |_| ControlFlow::Continue(()))?;
    let maps = &captured.maps;
    let (mut sum, mut count) = (0f64, 0usize);
    for layer in 0..maps.n_layers() {
        for head in 0..maps.n_heads() {
            for q in prompt_tokens..maps.n_queries() {
                let row = maps.row(layer, head, q);
                let hi = last.min(row.len());
                if first < hi {
                    sum += row[first..hi].iter().map(|&p| f64::from(p)).sum::<f64>();
                }
                count += 1;
            }
        }
    }
    Ok(Some(if count == 0 { 0.0 } else { sum / count as f64 }))
}

/// The weights file's digest, hashed once per file, size and time it was
/// last changed (a multi-gigabyte file takes seconds to read).
fn weights_digest(path: &std::path::Path) -> std::io::Result<String> {
    use std::collections::HashMap;
    use std::sync::OnceLock;
    type Seen = (u64, Option<std::time::SystemTime>, String);
    static DIGESTS: OnceLock<Mutex<HashMap<PathBuf, Seen>>> = OnceLock::new();
    let meta = std::fs::metadata(path)?;
    let (len, modified) = (meta.len(), meta.modified().ok());
    let digests = DIGESTS.get_or_init(Default::default);
    if let Ok(seen) = digests.lock() {
        if let Some((l, m, digest)) = seen.get(path) {
            if *l == len && *m == modified {
                return Ok(digest.clone());
            }
        }
    }
    let digest = run::file_digest(path)?;
    if let Ok(mut seen) = digests.lock() {
        seen.insert(path.to_path_buf(), (len, modified, digest.clone()));
    }
    Ok(digest)
}

/// Runs `request`'s suite on the engine's backend, one trial at a time,
/// storing each as it finishes; stopped by `cancel` between tokens (what
/// is done stays stored, and the reports are written either way).
pub(crate) fn eval(
    backend: &mut LocalBackend<'_>,
    request: EvalRequest,
    cancel: &CancelToken,
    sink: &dyn Fn(Event),
) -> Result<(), RequestError> {
    let id = request.id;
    let fail = |message: String| RequestError::Eval(message);
    let clock = Instant::now();
    let started = report::now_rfc3339();
    let suite = Suite::load(&request.suite, &request.overrides).map_err(|e| fail(e.to_string()))?;
    if suite.allow_code {
        promptlab_methods::sandbox::available().map_err(|e| {
            fail(format!(
                "{}: allow_code: the sandbox cannot run here: {e}",
                request.suite.display()
            ))
        })?;
    }
    let digest = weights_digest(&request.model_file)
        .map_err(|e| fail(format!("{}: {e}", request.model_file.display())))?;
    if cancel.is_cancelled() {
        return Err(RequestError::Cancelled);
    }
    let trials = run::plan(&suite, &format!("{} {digest}", request.model))
        .map_err(|e| fail(e.to_string()))?;
    let mut store = Store::open(&request.out, true).map_err(|e| {
        fail(format!(
            "{}: cannot open the result store: {e}",
            request.out.display()
        ))
    })?;
    let mut arms = Vec::new();
    for variant in &suite.variants {
        for method in &suite.methods {
            arms.push((variant.id.clone(), method.id().to_string()));
        }
    }
    sink(Event::EvalPlanned {
        id,
        plan: EvalPlan {
            suite: suite.name.clone(),
            description: suite.description.clone(),
            cases: suite.cases.len(),
            arms,
            trials: trials.len(),
            store: store.path().to_path_buf(),
        },
    });
    // One worker, on the engine's own backend.
    let slot = Mutex::new(Some(backend));
    let make = || {
        slot.lock()
            .ok()
            .and_then(|mut b| b.take())
            .map(LocalEval::borrowing)
            .ok_or_else(|| "the engine's backend serves one worker".to_string())
    };
    let on_progress = |progress: Progress, finished: Option<run::Finished<'_>>| {
        if let Some(f) = finished {
            sink(Event::EvalTrial {
                id,
                progress,
                index: f.index,
                record: Box::new(f.record.clone()),
                stored: f.stored,
            });
        }
    };
    let outcome = run::run(
        &suite,
        &trials,
        &mut store,
        1,
        make,
        cancel.flag(),
        on_progress,
    )
    .map_err(|e| fail(format!("{}: the result store: {e}", store.path().display())))?;
    let summary = Summary::of(&outcome.records);
    let info = RunInfo {
        suite: suite.name.clone(),
        file: request.suite.display().to_string(),
        model: request.model.clone(),
        backend: "local".into(),
        started,
        seconds: clock.elapsed().as_secs_f64(),
    };
    let written = report::write_all(
        &request.out,
        &request.formats,
        &info,
        &summary,
        &outcome.records,
    )
    .map_err(|e| {
        fail(format!(
            "{}: cannot write the reports: {e}",
            request.out.display()
        ))
    })?;
    let tokens = |f: fn(&Record) -> usize| outcome.records.iter().map(f).sum();
    sink(Event::EvalFinished {
        id,
        end: Box::new(EvalEnd {
            summary,
            ran: outcome.ran,
            reused: outcome.reused,
            interrupted: outcome.interrupted || cancel.is_cancelled(),
            written,
            prompt_tokens: tokens(|r| r.tokens.prompt),
            reused_tokens: tokens(|r| r.tokens.reused),
            seconds: clock.elapsed().as_secs_f64(),
        }),
    });
    Ok(())
}
