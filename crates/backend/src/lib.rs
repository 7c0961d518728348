//! The seam between the work (methods, chat, jobs) and a language model: a
//! [`Backend`] answers one prompt and says what else it can do
//! ([`Capabilities`]); a [`ChatBackend`] also answers a conversation,
//! streaming tokens. The local one ([`LocalBackend`]) runs the loaded model
//! through its chat template; a remote OpenAI-compatible server can stand in
//! the same place.

mod local;
pub mod openai;

use std::ops::ControlFlow;

pub use promptlab_infer::attention::QueryAttention;
use promptlab_infer::chat_template::Message;
use promptlab_infer::error::ModelError;
use promptlab_infer::generate::StopReason;
pub use promptlab_infer::sampling::SamplingParams;

pub use local::LocalBackend;
pub use openai::{OpenAiBackend, OpenAiConfig};

/// One model call.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// A system prompt before the user turn (chat calls only).
    pub system: Option<String>,
    pub prompt: String,
    /// The prompt is raw text for the model to continue (e.g. ending in an
    /// open code fence), not a chat turn.
    pub completion: bool,
    /// How to sample, including `max_tokens`, the stop strings and the seed.
    pub sampling: SamplingParams,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Reply {
    pub text: String,
    pub prompt_tokens: usize,
    pub generated_tokens: usize,
    /// Prompt tokens an earlier call had already computed (a shared
    /// prefix, not prefilled again).
    pub reused_tokens: usize,
    /// Each generated token's log-probability, where the backend reports
    /// them ([`Capabilities::logprobs`]).
    pub logprobs: Option<Vec<f32>>,
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
    /// The conversation does not fit the context window even with the
    /// oldest turns left out.
    #[error(
        "the prompt (system prompt, last message and any text being continued) is \
         {prompt_tokens} tokens, with {budget} to generate; the context window is {context}"
    )]
    PromptTooLong {
        prompt_tokens: usize,
        budget: usize,
        context: usize,
    },
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

/// A chat turn to answer: the conversation so far and how to sample.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatCall {
    /// System (optional) and turns, oldest first; the last is the user's.
    pub messages: Vec<Message>,
    /// Text the assistant has already written (continuing a cut-off answer).
    pub assistant_prefix: String,
    /// How to sample, including `max_tokens` and the stop strings.
    pub sampling: SamplingParams,
    /// How many alternatives to report per token (0: none).
    pub top_logprobs: usize,
    /// Report what each token's position attended to (a backend with
    /// attention only; the local one then prefills the whole prompt, and
    /// skips capture for a prompt too long to capture).
    pub capture_attention: bool,
}

/// One generated token.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenOut {
    /// Text safe to show now (a possible stop string is held back).
    pub text: String,
    pub logprob: f32,
    /// The most likely tokens at this step: (text, logprob), best first.
    pub top: Vec<(String, f32)>,
    /// With `capture_attention`: what the position that predicted this
    /// token attended to.
    pub attention: Option<LiveAttention>,
}

/// One streamed token's attention: the query's weights in every layer and
/// head, and the text of the keys this row adds to the previous token's
/// (every prompt token for the first; the token before, after that).
#[derive(Debug, Clone, PartialEq)]
pub struct LiveAttention {
    pub row: QueryAttention,
    pub new_keys: Vec<String>,
}

/// What a chat call reports as it goes.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatProgress {
    /// The prompt is ready; `dropped_messages` oldest turns were left out
    /// so it fits the context window.
    Started {
        prompt_tokens: usize,
        dropped_messages: usize,
    },
    Token(TokenOut),
}

/// How a chat call ended.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatEnd {
    pub stop_reason: StopReason,
    /// The end of the answer never sent as a token's text.
    pub tail: String,
    pub prompt_tokens: usize,
    /// Prompt tokens an earlier turn had already computed (not prefilled
    /// again).
    pub reused_tokens: usize,
    pub generated_tokens: usize,
    pub prefill_tok_s: f64,
    pub decode_tok_s: f64,
}

/// A backend that also holds conversations: what the chat pane and long
/// jobs run on.
pub trait ChatBackend: Backend {
    /// Answers the conversation, passing progress to `on_progress`, whose
    /// `Break` stops the generation (it then ends as
    /// [`StopReason::Cancelled`]).
    fn chat(
        &mut self,
        call: &ChatCall,
        on_progress: &mut dyn FnMut(ChatProgress) -> ControlFlow<()>,
    ) -> Result<ChatEnd, BackendError>;
}
