//! The engine: a dedicated OS thread that owns the loaded model. Commands go
//! in, events come out as plain data (no tensors), so a UI never blocks on
//! inference and never sees candle.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

use promptlab_backend::{Backend, BackendError, Call, Capabilities, LocalBackend, Reply};
use promptlab_infer::chat_template::Message;
use promptlab_infer::generate::{generate, GenerateRequest};
use promptlab_infer::sampling::SamplingParams;
use promptlab_infer::{LoadedModel, ModelInfo, Precision};
use promptlab_methods::runner::{self, MethodRun, RunEvent, RunOptions};
use promptlab_methods::spec::MethodSpec;
use promptlab_methods::MethodError;

/// A chat turn to answer: the conversation so far and how to sample.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    pub id: u64,
    /// System (optional) and turns, oldest first; the last is the user's.
    pub messages: Vec<Message>,
    /// Text the assistant has already written (continuing a cut-off answer).
    pub assistant_prefix: String,
    pub sampling: SamplingParams,
    pub max_tokens: usize,
    pub stop: Vec<String>,
    pub top_logprobs: usize,
}

/// One question through several prompting methods, run one after another.
#[derive(Debug, Clone)]
pub struct CompareRequest {
    pub id: u64,
    pub methods: Vec<MethodSpec>,
    /// `question`, and `context` when given.
    pub inputs: BTreeMap<String, String>,
    pub options: RunOptions,
}

/// Methods compare by id (specs hold no comparable state of their own).
impl PartialEq for CompareRequest {
    fn eq(&self, other: &Self) -> bool {
        let ids = |r: &CompareRequest| r.methods.iter().map(|m| m.id.clone()).collect::<Vec<_>>();
        let options = |o: &RunOptions| (o.max_tokens, o.cap, o.seed, o.allow_code);
        self.id == other.id
            && ids(self) == ids(other)
            && self.inputs == other.inputs
            && options(&self.options) == options(&other.options)
    }
}

#[derive(Debug)]
pub enum Command {
    Chat(ChatRequest),
    Compare(CompareRequest),
    Shutdown,
}

/// One generated token as plain data.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenEvent {
    pub text: String,
    pub logprob: f32,
    /// The most likely tokens at this step: (text, logprob).
    pub top: Vec<(String, f32)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FinishedEvent {
    pub stop_reason: String,
    /// The end of the answer not yet sent as a token (see `Finished::tail`).
    pub tail: String,
    pub prompt_tokens: usize,
    pub generated_tokens: usize,
    pub prefill_tok_s: f64,
    pub decode_tok_s: f64,
}

#[derive(Debug, Clone)]
pub enum Event {
    Loaded {
        info: ModelInfo,
        load_ms: f64,
    },
    LoadFailed(String),
    /// Generation began; `dropped_messages` oldest turns were left out so
    /// the prompt fits the context window.
    Started {
        id: u64,
        prompt_tokens: usize,
        dropped_messages: usize,
    },
    Token {
        id: u64,
        token: TokenEvent,
    },
    Finished {
        id: u64,
        finished: FinishedEvent,
    },
    Failed {
        id: u64,
        error: String,
    },
    /// Method `method` (an index into the request's methods) of comparison
    /// `id` made progress.
    Method {
        id: u64,
        method: usize,
        event: RunEvent,
    },
    /// The prompt of the model call that method `method` starts now (the
    /// next call of its current step).
    MethodPrompt {
        id: u64,
        method: usize,
        prompt: String,
    },
    /// Method `method` ended: its run, or why it has none ([`CANCELLED`]
    /// when it was stopped).
    MethodDone {
        id: u64,
        method: usize,
        result: Result<MethodRun, MethodError>,
    },
    /// Every method has run, or the comparison was stopped (`stopped`): the
    /// methods without a `MethodDone` were not run.
    CompareFinished {
        id: u64,
        stopped: bool,
    },
}

/// The UI's end of the engine thread.
pub struct EngineHandle {
    commands: Sender<Command>,
    cancel: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EngineHandle {
    /// Starts the engine thread, which loads `path` and then serves
    /// commands; every event is passed to `sink`.
    pub fn spawn(
        path: PathBuf,
        precision: Precision,
        sink: impl Fn(Event) + Send + 'static,
    ) -> EngineHandle {
        let (commands, rx) = channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let flag = cancel.clone();
        let thread = std::thread::Builder::new()
            .name("promptlab-engine".into())
            .spawn(move || run(path, precision, rx, flag, sink))
            .expect("spawning the engine thread");
        EngineHandle {
            commands,
            cancel,
            thread: Some(thread),
        }
    }

    pub fn send(&self, command: Command) {
        if let Command::Chat(_) | Command::Compare(_) = command {
            self.cancel.store(false, Ordering::SeqCst);
        }
        let _ = self.commands.send(command);
    }

    /// Stops the generation in progress (it finishes as "cancelled"), or
    /// the comparison in progress (the rest of its methods are not run).
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::SeqCst);
    }
}

impl Drop for EngineHandle {
    fn drop(&mut self) {
        self.cancel();
        let _ = self.commands.send(Command::Shutdown);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(
    path: PathBuf,
    precision: Precision,
    commands: Receiver<Command>,
    cancel: Arc<AtomicBool>,
    sink: impl Fn(Event),
) {
    let start = std::time::Instant::now();
    let model = match LoadedModel::load_with(&path, precision) {
        Ok(model) => model,
        Err(e) => {
            sink(Event::LoadFailed(e.to_string()));
            return;
        }
    };
    sink(Event::Loaded {
        info: model.info.clone(),
        load_ms: start.elapsed().as_secs_f64() * 1000.0,
    });
    while let Ok(command) = commands.recv() {
        match command {
            Command::Shutdown => break,
            Command::Chat(request) => {
                let id = request.id;
                if let Err(error) = chat(&model, request, &cancel, &sink) {
                    sink(Event::Failed { id, error });
                }
            }
            Command::Compare(request) => compare(&model, &request, &cancel, &sink),
        }
    }
}

/// Renders the conversation (dropping the oldest turns when it does not
/// fit), generates, and streams the answer to `sink`.
fn chat(
    model: &LoadedModel,
    request: ChatRequest,
    cancel: &AtomicBool,
    sink: &impl Fn(Event),
) -> Result<(), String> {
    let (prompt_ids, dropped_messages) = fit_prompt(model, &request)?;
    sink(Event::Started {
        id: request.id,
        prompt_tokens: prompt_ids.len(),
        dropped_messages,
    });
    let generate_request = GenerateRequest {
        prompt_ids,
        sampling: request.sampling.clone(),
        max_tokens: request.max_tokens,
        stop: request.stop.clone(),
        top_logprobs: request.top_logprobs,
        capture_attention: false,
    };
    let tokenizer = &model.tokenizer;
    let done = generate(model, &generate_request, |step| {
        sink(Event::Token {
            id: request.id,
            token: TokenEvent {
                text: step.visible.clone(),
                logprob: step.logprob,
                top: step
                    .top
                    .iter()
                    .map(|&(id, lp)| (tokenizer.token_text(id), lp))
                    .collect(),
            },
        });
        if cancel.load(Ordering::SeqCst) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .map_err(|e| e.to_string())?;
    sink(Event::Finished {
        id: request.id,
        finished: FinishedEvent {
            stop_reason: done.stop_reason.as_str().to_string(),
            tail: done.tail.clone(),
            prompt_tokens: done.prompt_tokens,
            generated_tokens: done.generated_tokens(),
            prefill_tok_s: done.prefill_tok_s(),
            decode_tok_s: done.decode_tok_s(),
        },
    });
    Ok(())
}

/// Runs each method of `request` in turn on the local model, streaming
/// every step as plain data; the cancel flag stops the call in flight and
/// leaves the remaining methods unrun.
fn compare(
    model: &LoadedModel,
    request: &CompareRequest,
    cancel: &AtomicBool,
    sink: &impl Fn(Event),
) {
    let id = request.id;
    let mut backend = CompareBackend {
        local: LocalBackend { model },
        cancel,
        sink,
        id,
        method: 0,
    };
    for (method, spec) in request.methods.iter().enumerate() {
        if cancel.load(Ordering::SeqCst) {
            break;
        }
        backend.method = method;
        let result = runner::run(
            spec,
            &request.inputs,
            &mut backend,
            &request.options,
            |event| sink(Event::Method { id, method, event }),
        );
        let result = match result {
            Err(_) if cancel.load(Ordering::SeqCst) => Err(MethodError::Cancelled),
            other => other,
        };
        sink(Event::MethodDone { id, method, result });
    }
    sink(Event::CompareFinished {
        id,
        stopped: cancel.load(Ordering::SeqCst),
    });
}

/// The local model for a comparison: announces each call's prompt and
/// stops at the cancel flag (before a call, and between tokens).
struct CompareBackend<'a, S: Fn(Event)> {
    local: LocalBackend<'a>,
    cancel: &'a AtomicBool,
    sink: &'a S,
    id: u64,
    method: usize,
}

impl<S: Fn(Event)> Backend for CompareBackend<'_, S> {
    fn call(
        &mut self,
        call: &Call,
        on_text: &mut dyn FnMut(&str) -> ControlFlow<()>,
    ) -> Result<Reply, BackendError> {
        if self.cancel.load(Ordering::SeqCst) {
            return Err(BackendError::Cancelled);
        }
        (self.sink)(Event::MethodPrompt {
            id: self.id,
            method: self.method,
            prompt: call.prompt.clone(),
        });
        let cancel = self.cancel;
        self.local.call(call, &mut |text| {
            if cancel.load(Ordering::SeqCst) {
                ControlFlow::Break(())
            } else {
                on_text(text)
            }
        })
    }

    fn capabilities(&self) -> Capabilities {
        self.local.capabilities()
    }
}

/// The prompt's token ids, leaving out the oldest non-system messages, a
/// user/assistant pair at a time (so the rest still starts with a user
/// turn), until the prompt leaves room to generate: `max_tokens`, but at
/// most a quarter of the context (a long answer is cut off, not refused).
/// At least the last message is kept; returns how many were left out.
fn fit_prompt(model: &LoadedModel, request: &ChatRequest) -> Result<(Vec<u32>, usize), String> {
    let context = model.context_length();
    let has_system = request.messages.first().is_some_and(|m| m.role == "system");
    let first_droppable = usize::from(has_system);
    let mut dropped = 0;
    loop {
        let mut messages: Vec<Message> = request.messages[..first_droppable].to_vec();
        messages.extend_from_slice(&request.messages[first_droppable + dropped..]);
        let mut text = model.render_chat(&messages).map_err(|e| e.to_string())?;
        text.push_str(&request.assistant_prefix);
        let ids = model.tokenizer.encode(&text).map_err(|e| e.to_string())?;
        let budget = request.max_tokens.min(context / 4).max(1);
        if ids.len() + budget <= context {
            return Ok((ids, dropped));
        }
        if first_droppable + dropped + 2 >= request.messages.len() {
            return Err(format!(
                "the prompt (system prompt, last message and any text being continued) is {} \
                 tokens, with {budget} to generate; the context window is {context}",
                ids.len()
            ));
        }
        dropped += 2;
    }
}
