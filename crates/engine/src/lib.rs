//! The engine: the one place work runs. A dedicated OS thread owns the
//! loaded model and serves requests — chat turns, comparisons of methods,
//! long jobs — one at a time, in the order sent. Requests and events are a
//! typed protocol of plain data (no tensors), so a UI never blocks on
//! inference and never sees candle.
//!
//! - `protocol`: [`Command`], [`Event`] (every event names its request),
//!   [`RequestError`], and the requests' contents.
//! - `cancel`: a [`CancelToken`] per request.
//! - `job`: the [`Job`] trait for long work with progress.
//! - `worker`: the thread's loop, which catches a panic per request.
//! - `chat`, `compare`, `inspect`, `eval`: the built-in kinds of work (a
//!   chat turn, a comparison of methods, an attention capture and its
//!   readouts, a suite of prompts).
//! - `images`: the image lab's work (training, sampling), served on a
//!   second thread, the images lane, so it never waits on the model or
//!   holds it up.

mod cancel;
mod chat;
mod compare;
pub mod eval;
pub mod images;
mod inspect;
mod job;
pub mod overview;
mod protocol;
mod worker;

use std::path::PathBuf;
use std::sync::mpsc::{channel, Sender};
use std::thread::JoinHandle;

use promptlab_infer::error::ModelError;
use promptlab_infer::{LoadedModel, Precision};

pub use cancel::CancelToken;
pub use eval::{EvalEnd, EvalPlan, EvalRequest};
pub use inspect::{InspectRequest, Readout, ReadoutRequest, TokenValue};
pub use job::{Job, JobContext, JobEnd, JobError};
pub use promptlab_backend::{Capabilities, ChatCall, LiveAttention};
pub use promptlab_infer::generate::StopReason;
pub use protocol::{
    ChatRequest, Command, CompareRequest, Event, FinishedEvent, Progress, RequestError, RequestId,
    TokenEvent,
};
use worker::{lock, Message, Tokens};

/// Why a request could not be queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("request {0} was not sent: a request with that id is still running")]
    DuplicateId(RequestId),
    #[error("request {0} was not sent: the engine has stopped")]
    Stopped(RequestId),
}

/// The sender's end of the engine thread.
pub struct EngineHandle {
    messages: Sender<Message>,
    /// The images lane's queue.
    images: Sender<Message>,
    tokens: Tokens,
    thread: Option<JoinHandle<()>>,
    images_thread: Option<JoinHandle<()>>,
}

impl EngineHandle {
    /// Starts the engine thread, which loads `path` and then serves
    /// requests; every event is passed to `sink`.
    pub fn spawn(
        path: PathBuf,
        precision: Precision,
        sink: impl Fn(Event) + Send + Sync + 'static,
    ) -> EngineHandle {
        Self::spawn_with(move || LoadedModel::load_with(&path, precision), sink)
    }

    /// Starts the engine thread with a model from `load` (run on the thread).
    fn spawn_with(
        load: impl FnOnce() -> Result<LoadedModel, ModelError> + Send + 'static,
        sink: impl Fn(Event) + Send + Sync + 'static,
    ) -> EngineHandle {
        let sink = std::sync::Arc::new(sink);
        let (messages, rx) = channel();
        let tokens = Tokens::default();
        let shared = tokens.clone();
        let model_sink = std::sync::Arc::clone(&sink);
        let thread = std::thread::Builder::new()
            .name("promptlab-engine".into())
            .spawn(move || worker::run(load, rx, shared, &*model_sink))
            .expect("spawning the engine thread");
        let (images, images_rx) = channel();
        let shared = tokens.clone();
        let images_thread = std::thread::Builder::new()
            .name("promptlab-images".into())
            .spawn(move || worker::run_images(images_rx, shared, &*sink))
            .expect("spawning the images thread");
        EngineHandle {
            messages,
            images,
            tokens,
            thread: Some(thread),
            images_thread: Some(images_thread),
        }
    }

    /// Queues a request behind those already sent; returns its id. Refused
    /// when the id is already in use by a request not yet finished, or when
    /// the engine thread has ended.
    pub fn send(&self, command: Command) -> Result<RequestId, SendError> {
        let id = command.id();
        let cancel = CancelToken::new();
        {
            let mut tokens = lock(&self.tokens);
            if tokens.contains_key(&id) {
                return Err(SendError::DuplicateId(id));
            }
            tokens.insert(id, cancel.clone());
        }
        let lane = match command {
            Command::Images(_) => &self.images,
            _ => &self.messages,
        };
        if lane.send(Message::Run { command, cancel }).is_err() {
            lock(&self.tokens).remove(&id);
            return Err(SendError::Stopped(id));
        }
        Ok(id)
    }

    /// Stops request `id`: a generation finishes as cancelled, a comparison
    /// leaves the rest of its methods unrun, a queued request does no work.
    /// Other requests are untouched; an id already finished is ignored.
    pub fn cancel(&self, id: RequestId) {
        if let Some(token) = lock(&self.tokens).get(&id) {
            token.cancel();
        }
    }

    /// Stops every request sent and not yet finished.
    pub fn cancel_all(&self) {
        for token in lock(&self.tokens).values() {
            token.cancel();
        }
    }
}

impl Drop for EngineHandle {
    fn drop(&mut self) {
        self.cancel_all();
        let _ = self.messages.send(Message::Shutdown);
        let _ = self.images.send(Message::Shutdown);
        for thread in [self.thread.take(), self.images_thread.take()]
            .into_iter()
            .flatten()
        {
            let _ = thread.join();
        }
    }
}

/// What a UI needs of the inference crate, as plain data, so it can depend
/// on the engine alone (and never on candle).
pub mod plain {
    pub use promptlab_infer::attention::{AttentionMaps, QueryAttention, Scores};
    pub use promptlab_infer::capture::Capture;
    pub use promptlab_infer::chat_template::Message;
    pub use promptlab_infer::fsutil::write_atomic;
    pub use promptlab_infer::sampling::{SamplingError, SamplingOverlay, SamplingParams};
    pub use promptlab_infer::{ModelInfo, Precision};
}
