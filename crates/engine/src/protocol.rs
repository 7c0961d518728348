//! The engine's typed protocol: what a UI (or a headless front-end) asks
//! for, and what comes back. Everything here is plain data — no tensors —
//! and every event about a request carries that request's id.

use std::collections::BTreeMap;
use std::sync::Arc;

use promptlab_backend::{BackendError, Capabilities, ChatCall, ChatEnd, TokenOut};
use promptlab_infer::error::ModelError;
use promptlab_infer::ModelInfo;
use promptlab_methods::runner::{MethodRun, RunEvent, RunOptions};
use promptlab_methods::spec::MethodSpec;
use promptlab_methods::MethodError;

use crate::eval::{EvalEnd, EvalPlan, EvalRequest};
use crate::images::{ImagesRequest, LabelledImages, TrainReport};
use crate::inspect::{InspectRequest, Readout, ReadoutRequest};
use crate::job::Job;
use crate::overview::Overview;
use promptlab_infer::capture::Capture;

/// Names one request; chosen by the sender, unique among its requests.
pub type RequestId = u64;

/// A chat turn to answer: the conversation so far and how to sample.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    pub id: RequestId,
    pub call: ChatCall,
}

/// One question through several prompting methods, run one after another.
#[derive(Debug, Clone)]
pub struct CompareRequest {
    pub id: RequestId,
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

/// A request for the engine. Each is served in the order sent, one at a
/// time, with its own cancel token (see `EngineHandle::cancel`).
pub enum Command {
    Chat(ChatRequest),
    Compare(CompareRequest),
    /// Capture attention over a prompt and an answer (the attention pane).
    Inspect(InspectRequest),
    /// Read a capture's logit lens and a head's effect.
    Readout(ReadoutRequest),
    /// Run a suite of prompts (the eval pane).
    Eval(EvalRequest),
    /// A long job (a batch evaluation, a training run) with progress.
    Job {
        id: RequestId,
        job: Box<dyn Job>,
    },
    /// The image lab's work, on its own lane beside the model's.
    Images(ImagesRequest),
}

impl Command {
    pub fn id(&self) -> RequestId {
        match self {
            Command::Chat(r) => r.id,
            Command::Compare(r) => r.id,
            Command::Inspect(r) => r.id,
            Command::Readout(r) => r.id,
            Command::Eval(r) => r.id,
            Command::Job { id, .. } => *id,
            Command::Images(r) => r.id,
        }
    }
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Chat(r) => f.debug_tuple("Chat").field(r).finish(),
            Command::Compare(r) => f.debug_tuple("Compare").field(&r.id).finish(),
            Command::Inspect(r) => f.debug_tuple("Inspect").field(r).finish(),
            Command::Readout(r) => f.debug_tuple("Readout").field(&r.id).finish(),
            Command::Eval(r) => f.debug_tuple("Eval").field(r).finish(),
            Command::Job { id, job } => f
                .debug_struct("Job")
                .field("id", id)
                .field("name", &job.name())
                .finish(),
            Command::Images(r) => f.debug_tuple("Images").field(r).finish(),
        }
    }
}

/// One generated token as plain data (the backend's own type).
pub type TokenEvent = TokenOut;

/// How a chat turn ended (the backend's own type).
pub type FinishedEvent = ChatEnd;

/// How far a long job has got.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub done: u64,
    /// `None` while the total is unknown.
    pub total: Option<u64>,
    /// What it is doing now, one line.
    pub message: String,
}

/// Why a request failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RequestError {
    /// The model could not be loaded.
    #[error(transparent)]
    Load(Arc<ModelError>),
    /// The backend failed to answer (the context is full, the model failed).
    #[error(transparent)]
    Backend(Arc<BackendError>),
    /// The work panicked; the engine caught it and serves the next request.
    #[error("internal error while serving this request: {0}")]
    Panicked(String),
    /// The model failed to load, so no request can be served.
    #[error("the engine is not running: {0}")]
    NotRunning(Arc<RequestError>),
    /// The engine refused to queue it.
    #[error(transparent)]
    NotSent(crate::SendError),
    /// Cancelled while it waited in the queue: it did no work.
    #[error("cancelled before it started")]
    Cancelled,
    /// The model cannot do what was asked (its capture lacks vectors).
    #[error("{0}")]
    Unsupported(String),
    /// A suite could not be run (the file, its data, the store).
    #[error("{0}")]
    Eval(String),
    /// A long job's own failure.
    #[error(transparent)]
    Job(Arc<dyn std::error::Error + Send + Sync>),
    /// The image lab's failure (a missing dataset, a bad checkpoint).
    #[error("{0}")]
    Images(String),
}

impl From<ModelError> for RequestError {
    fn from(e: ModelError) -> Self {
        RequestError::Load(Arc::new(e))
    }
}

impl From<BackendError> for RequestError {
    fn from(e: BackendError) -> Self {
        RequestError::Backend(Arc::new(e))
    }
}

#[derive(Debug, Clone)]
pub enum Event {
    /// The model is loaded and requests can be served (not about a request).
    Loaded {
        info: ModelInfo,
        load_ms: f64,
        /// What the backend offers besides text.
        capabilities: Capabilities,
    },
    /// The model could not be loaded; every request sent fails with
    /// [`RequestError::NotRunning`] (not about a request).
    LoadFailed(RequestError),
    /// Generation began; `dropped_messages` oldest turns were left out so
    /// the prompt fits the context window.
    Started {
        id: RequestId,
        prompt_tokens: usize,
        dropped_messages: usize,
    },
    Token {
        id: RequestId,
        token: TokenEvent,
    },
    Finished {
        id: RequestId,
        finished: FinishedEvent,
    },
    /// Request `id` failed; nothing more comes for it.
    Failed {
        id: RequestId,
        error: RequestError,
    },
    /// Method `method` (an index into the request's methods) of comparison
    /// `id` made progress.
    Method {
        id: RequestId,
        method: usize,
        event: RunEvent,
    },
    /// The prompt of the model call that method `method` starts now (the
    /// next call of its current step).
    MethodPrompt {
        id: RequestId,
        method: usize,
        prompt: String,
    },
    /// Method `method` ended: its run, or why it has none
    /// ([`MethodError::Cancelled`] when it was stopped).
    MethodDone {
        id: RequestId,
        method: usize,
        result: Result<MethodRun, MethodError>,
    },
    /// Every method has run, or the comparison was stopped (`stopped`): the
    /// methods without a `MethodDone` were not run.
    CompareFinished {
        id: RequestId,
        stopped: bool,
    },
    /// Inspection `id` generated a token (its text).
    InspectToken {
        id: RequestId,
        text: String,
    },
    /// Inspection `id` is captured (with its overview, computed here so
    /// the UI never walks the whole capture).
    Inspected {
        id: RequestId,
        capture: Arc<Capture>,
        overview: Arc<Overview>,
    },
    /// Readout `id` is ready.
    ReadOut {
        id: RequestId,
        readout: Readout,
    },
    /// Evaluation `id` has its plan and starts.
    EvalPlanned {
        id: RequestId,
        plan: EvalPlan,
    },
    /// A trial of evaluation `id` is judged: taken from the store
    /// (`stored`, all of them first) or run now. `index` is its place in
    /// the plan.
    EvalTrial {
        id: RequestId,
        progress: promptlab_eval::run::Progress,
        index: usize,
        record: Box<promptlab_eval::record::Record>,
        stored: bool,
    },
    /// Evaluation `id` ended, every trial done or stopped; its reports are
    /// written.
    EvalFinished {
        id: RequestId,
        end: Box<EvalEnd>,
    },
    /// A long job made progress.
    JobProgress {
        id: RequestId,
        progress: Progress,
    },
    /// A long job ended: its one-line summary; `stopped` when it returned
    /// early because it was cancelled.
    JobFinished {
        id: RequestId,
        summary: String,
        stopped: bool,
    },
    /// A drawing in progress (a row, a denoising step), unlabelled.
    ImagesFrame {
        id: RequestId,
        images: LabelledImages,
        caption: String,
    },
    /// Finished images with the classifier's labels (a sample, or a
    /// training run's look after an epoch).
    ImagesSamples {
        id: RequestId,
        images: LabelledImages,
    },
    /// A training run's progress.
    ImagesTraining {
        id: RequestId,
        report: TrainReport,
    },
    /// Image work `id` ended: its one-line summary; `stopped` when cancelled
    /// midway (a training run keeps its last epoch's checkpoint).
    ImagesFinished {
        id: RequestId,
        summary: String,
        stopped: bool,
    },
}
