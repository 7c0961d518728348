//! Running a prompt, and a greedy answer to it, with attention capture on:
//! the [`Capture`] the attention views (the CLI's, the pane's) read, with
//! the token strings it ran over.

use std::ops::ControlFlow;

use crate::attention::AttentionMaps;
use crate::error::{ModelError, Result};
use crate::generate::{generate, GenerateRequest};
use crate::sampling::SamplingParams;
use crate::LoadedModel;

/// A capture and the tokens it ran over.
pub struct Capture {
    pub maps: AttentionMaps,
    /// One id per captured position (prompt first, then the answer).
    pub ids: Vec<u32>,
    /// Each id as text.
    pub tokens: Vec<String>,
    /// How many of the positions are the prompt's.
    pub prompt_tokens: usize,
}

/// A summary: the buffers run to hundreds of megabytes.
impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture")
            .field("positions", &self.len())
            .field("prompt_tokens", &self.prompt_tokens)
            .field("layers", &self.maps.n_layers())
            .field("heads", &self.maps.n_heads())
            .field("bytes", &self.maps.bytes())
            .finish()
    }
}

impl Capture {
    /// How many positions were captured.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// Runs `prompt_ids` and a greedy answer of up to `answer_tokens` tokens
/// with capture on; `on_token` sees each generated token's text and may
/// stop the answer early. The last generated token is never fed back, so
/// it has no row: with `answer_tokens` 0 only the prompt is captured.
pub fn capture(
    model: &LoadedModel,
    prompt_ids: Vec<u32>,
    answer_tokens: usize,
    mut on_token: impl FnMut(&str) -> ControlFlow<()>,
) -> Result<Capture> {
    let prompt_tokens = prompt_ids.len();
    let request = GenerateRequest {
        prompt_ids,
        sampling: SamplingParams {
            max_tokens: answer_tokens + 1,
            ..SamplingParams::greedy()
        },
        top_logprobs: 0,
        capture_attention: true,
    };
    let mut generated = 0;
    let done = generate(model, &request, |step| {
        generated += 1;
        // The token past the budget only ends the capture.
        if generated > answer_tokens {
            return ControlFlow::Break(());
        }
        on_token(&step.text)
    })?;
    let maps = done
        .attention
        .ok_or_else(|| ModelError::Capture("the engine captured no attention".into()))?;
    let ids: Vec<u32> = request
        .prompt_ids
        .iter()
        .chain(&done.token_ids)
        .copied()
        .take(maps.n_queries())
        .collect();
    let tokens = ids
        .iter()
        .map(|&id| model.tokenizer.token_text(id))
        .collect();
    Ok(Capture {
        maps,
        ids,
        tokens,
        prompt_tokens,
    })
}
