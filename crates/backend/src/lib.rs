//! What the runner calls: a [`Backend`] answers one prompt. The local one
//! runs the loaded model through its chat template.

use std::ops::ControlFlow;

use promptlab_infer::chat_template::Message;
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
pub const CANCELLED: &str = "cancelled";

pub trait Backend {
    /// Answers one call, passing each piece of text to `on_text` as it is
    /// generated; `on_text` returning `Break` cancels the call, which then
    /// fails with [`CANCELLED`].
    fn call(
        &mut self,
        call: &Call,
        on_text: &mut dyn FnMut(&str) -> ControlFlow<()>,
    ) -> Result<Reply, String>;
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
    ) -> Result<Reply, String> {
        let text = match (&self.model.chat_template, call.completion) {
            (Some(_), false) => self
                .model
                .render_chat(&[Message::new("user", &call.prompt)])
                .map_err(|e| e.to_string())?,
            _ => call.prompt.clone(),
        };
        let prompt_ids = self
            .model
            .tokenizer
            .encode(&text)
            .map_err(|e| e.to_string())?;
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
        let done = generate(self.model, &request, |step| on_text(&step.visible))
            .map_err(|e| e.to_string())?;
        if done.stop_reason == StopReason::Cancelled {
            return Err(CANCELLED.into());
        }
        Ok(Reply {
            generated_tokens: done.generated_tokens(),
            prompt_tokens: done.prompt_tokens,
            text: done.text,
        })
    }
}
