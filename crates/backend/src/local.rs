//! The local model as a backend: method calls through its chat template
//! (or as raw text to continue), and chat turns fitted into its context
//! window, streamed token by token with log-probabilities. The keys and
//! values of earlier requests are kept (a [`PrefixCache`]), so a turn that
//! continues a conversation, or a call that shares a prompt's beginning,
//! prefills only what is new.

use std::ops::ControlFlow;

use promptlab_infer::chat_template::Message;
use promptlab_infer::generate::{generate_reusing, GenerateRequest, StopReason};
use promptlab_infer::prefix_cache::PrefixCache;
use promptlab_infer::LoadedModel;

use crate::{
    Backend, BackendError, Call, Capabilities, ChatBackend, ChatCall, ChatEnd, ChatProgress,
    LiveAttention, Reply, TokenOut,
};

/// The local engine: the prompt is one user turn through the chat template
/// (raw text for a completion call, or when the model has none).
pub struct LocalBackend<'a> {
    pub model: &'a LoadedModel,
    /// Sequences of earlier requests, for their shared prefixes.
    pub prefixes: PrefixCache,
}

impl<'a> LocalBackend<'a> {
    pub fn new(model: &'a LoadedModel) -> Self {
        Self {
            model,
            prefixes: PrefixCache::default(),
        }
    }
}

impl Backend for LocalBackend<'_> {
    fn call(
        &mut self,
        call: &Call,
        on_text: &mut dyn FnMut(&str) -> ControlFlow<()>,
    ) -> Result<Reply, BackendError> {
        let text = match (&self.model.chat_template, call.completion) {
            (Some(_), false) => {
                let mut messages = Vec::with_capacity(2);
                if let Some(system) = &call.system {
                    messages.push(Message::new("system", system));
                }
                messages.push(Message::new("user", &call.prompt));
                self.model.render_chat(&messages)?
            }
            _ => call.prompt.clone(),
        };
        let prompt_ids = self.model.tokenizer.encode(&text)?;
        let request = GenerateRequest {
            prompt_ids,
            sampling: call.sampling.clone(),
            top_logprobs: 0,
            capture_attention: false,
        };
        let mut logprobs = Vec::new();
        let done = generate_reusing(self.model, &request, &mut self.prefixes, |step| {
            logprobs.push(step.logprob);
            on_text(&step.visible)
        })?;
        if done.stop_reason == StopReason::Cancelled {
            return Err(BackendError::Cancelled);
        }
        logprobs.truncate(done.generated_tokens());
        Ok(Reply {
            generated_tokens: done.generated_tokens(),
            prompt_tokens: done.prompt_tokens,
            reused_tokens: done.reused_tokens,
            logprobs: Some(logprobs),
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

impl ChatBackend for LocalBackend<'_> {
    fn chat(
        &mut self,
        call: &ChatCall,
        on_progress: &mut dyn FnMut(ChatProgress) -> ControlFlow<()>,
    ) -> Result<ChatEnd, BackendError> {
        let (prompt_ids, dropped_messages) = fit_prompt(self.model, call)?;
        let prompt_tokens = prompt_ids.len();
        if on_progress(ChatProgress::Started {
            prompt_tokens,
            dropped_messages,
        })
        .is_break()
        {
            return Ok(ChatEnd {
                stop_reason: StopReason::Cancelled,
                tail: String::new(),
                prompt_tokens,
                reused_tokens: 0,
                generated_tokens: 0,
                prefill_tok_s: 0.0,
                decode_tok_s: 0.0,
            });
        }
        // Capture only what fits the capture's memory limit.
        let capture_attention = call.capture_attention && {
            let maps = self.model.new_attention_maps();
            maps.bytes_for(prompt_tokens + call.sampling.max_tokens) <= maps.limit_bytes()
        };
        let request = GenerateRequest {
            prompt_ids,
            sampling: call.sampling.clone(),
            top_logprobs: call.top_logprobs,
            capture_attention,
        };
        let tokenizer = &self.model.tokenizer;
        let mut previous: Option<u32> = None;
        let done = generate_reusing(self.model, &request, &mut self.prefixes, |step| {
            let attention = step.attention.clone().map(|row| {
                let new_keys = match previous {
                    None => request
                        .prompt_ids
                        .iter()
                        .map(|&id| tokenizer.token_text(id))
                        .collect(),
                    Some(id) => vec![tokenizer.token_text(id)],
                };
                LiveAttention { row, new_keys }
            });
            previous = Some(step.token_id);
            on_progress(ChatProgress::Token(TokenOut {
                attention,
                text: step.visible.clone(),
                logprob: step.logprob,
                top: step
                    .top
                    .iter()
                    .map(|&(id, lp)| (tokenizer.token_text(id), lp))
                    .collect(),
            }))
        })?;
        Ok(ChatEnd {
            stop_reason: done.stop_reason,
            tail: done.tail.clone(),
            prompt_tokens: done.prompt_tokens,
            reused_tokens: done.reused_tokens,
            generated_tokens: done.generated_tokens(),
            prefill_tok_s: done.prefill_tok_s(),
            decode_tok_s: done.decode_tok_s(),
        })
    }
}

/// The prompt's token ids, leaving out the oldest non-system messages, a
/// user/assistant pair at a time (so the rest still starts with a user
/// turn), until the prompt leaves room to generate: `max_tokens`, but at
/// most a quarter of the context (a long answer is cut off, not refused).
/// At least the last message is kept; returns how many were left out.
fn fit_prompt(model: &LoadedModel, call: &ChatCall) -> Result<(Vec<u32>, usize), BackendError> {
    let context = model.context_length();
    let has_system = call.messages.first().is_some_and(|m| m.role == "system");
    let (fixed, turns) = call.messages.split_at(usize::from(has_system));
    let budget = call.sampling.max_tokens.min(context / 4).max(1);
    let mut dropped = 0;
    loop {
        let mut messages: Vec<Message> = fixed.to_vec();
        messages.extend_from_slice(turns.get(dropped..).unwrap_or_default());
        let mut text = model.render_chat(&messages)?;
        text.push_str(&call.assistant_prefix);
        let ids = model.tokenizer.encode(&text)?;
        if ids.len() + budget <= context {
            return Ok((ids, dropped));
        }
        if dropped + 2 >= turns.len() {
            return Err(BackendError::PromptTooLong {
                prompt_tokens: ids.len(),
                budget,
                context,
            });
        }
        dropped += 2;
    }
}
