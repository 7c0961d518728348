//! The seam between the work (methods, chat) and a language model: a
//! [`Backend`] answers one prompt and says what else it can do
//! ([`Capabilities`]). The local one runs the loaded model through its chat
//! template; a remote OpenAI-compatible server can stand in the same place.

use std::ops::ControlFlow;

use promptlab_infer::chat_template::Message;
use promptlab_infer::error::ModelError;
use promptlab_infer::generate::{generate, GenerateRequest, StopReason};
use promptlab_infer::sampling::SamplingParams;
use promptlab_infer::LoadedModel;

/// One model call.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub prompt: String,
    /// The prompt is raw text for the model to continue (e.g. ending in an
    /// open code fence), not a chat turn.
    pub completion: bool,
    pub temperature: f64,
    pub max_tokens: usize,
    pub stop: Vec<String>,
    pub seed: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub text: String,
    pub prompt_tokens: usize,
    pub generated_tokens: usize,
}

/// Why a call ended without a reply.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The caller stopped it (`on_text` returned `Break`, or a cancel token
    /// fired).
    #[error("cancelled")]
    Cancelled,
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A backend that is not a local model failed (a remote server's error,
    /// one line).
    #[error("{0}")]
    Failed(String),
}

impl BackendError {
    pub fn is_cancelled(&self) -> bool {
        matches!(self, BackendError::Cancelled)
    }
}

/// What a backend offers beyond text, so a UI can say what it lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// Log-probabilities of each generated token and its alternatives.
    pub logprobs: bool,
    /// Per-layer, per-head attention over the prompt and the answer.
    pub attention: bool,
    /// Its tokenizer runs here (token counts before a call, token strings).
    pub local_tokenizer: bool,
}

pub trait Backend {
    /// Answers one call, passing each piece of text to `on_text` as it is
    /// generated; `on_text` returning `Break` cancels the call, which then
    /// fails with [`BackendError::Cancelled`].
    fn call(
        &mut self,
        call: &Call,
        on_text: &mut dyn FnMut(&str) -> ControlFlow<()>,
    ) -> Result<Reply, BackendError>;

    /// What this backend can do besides generating text.
    fn capabilities(&self) -> Capabilities;
}

/// The local engine: the prompt is one user turn through the chat template
/// (raw text for a completion call, or when the model has none).
pub struct LocalBackend<'a> {
    pub model: &'a LoadedModel,
}

impl Backend for LocalBackend<'_> {
    fn call(
        &mut self,
        call: &Call,
        on_text: &mut dyn FnMut(&str) -> ControlFlow<()>,
    ) -> Result<Reply, BackendError> {
        let text = match (&self.model.chat_template, call.completion) {
            (Some(_), false) => self
                .model
                .render_chat(&[Message::new("user", &call.prompt)])?,
            _ => call.prompt.clone(),
        };
        let prompt_ids = self.model.tokenizer.encode(&text)?;
        let request = GenerateRequest {
            prompt_ids,
            sampling: SamplingParams {
                temperature: call.temperature,
                seed: call.seed,
                ..SamplingParams::greedy()
            },
            max_tokens: call.max_tokens,
            stop: call.stop.clone(),
            top_logprobs: 0,
            capture_attention: false,
        };
        let done = generate(self.model, &request, |step| on_text(&step.visible))?;
        if done.stop_reason == StopReason::Cancelled {
            return Err(BackendError::Cancelled);
        }
        Ok(Reply {
            generated_tokens: done.generated_tokens(),
            prompt_tokens: done.prompt_tokens,
            text: done.text,
        })
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            logprobs: true,
            attention: true,
            local_tokenizer: true,
        }
    }
}
