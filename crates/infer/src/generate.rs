//! The generation loop: prefill the prompt, then sample token by token,
//! reporting each step to a callback that may stop it, until end of turn,
//! a stop string, the token budget or the context window.

use std::ops::ControlFlow;
use std::time::Instant;

use super::arch::Logits;
use super::attention::{AttentionMaps, QueryAttention};
use super::error::{ModelError, Result};
use super::prefix_cache::{PrefixCache, Reuse};
use super::sampling::{log_sum_exp, top_k, Sampler, SamplingParams};
use super::tokenizer::StreamDecoder;
use super::LoadedModel;

#[derive(Debug, Clone)]
pub struct GenerateRequest {
    pub prompt_ids: Vec<u32>,
    /// How to choose tokens, and when to stop (`max_tokens`, `stop`).
    pub sampling: SamplingParams,
    /// How many alternatives to report per step (0: none).
    pub top_logprobs: usize,
    pub capture_attention: bool,
}

/// One generated token.
#[derive(Debug, Clone)]
pub struct TokenStep {
    pub index: usize,
    pub token_id: u32,
    /// The text this token completes (empty while a UTF-8 character is
    /// split across tokens); all deltas together are the raw output.
    pub text: String,
    /// Text safe to show now: `text`, minus anything that may turn out to
    /// be the start of a stop string.
    pub visible: String,
    /// Log-probability of this token under the model's own distribution
    /// (before any sampling adjustment).
    pub logprob: f32,
    /// The most likely tokens at this step: (id, logprob), best first.
    pub top: Vec<(u32, f32)>,
    /// With capture on: what the position that predicted this token (the
    /// last one fed) attended to, in every layer and head.
    pub attention: Option<QueryAttention>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    Eos,
    Length,
    Stop,
    Cancelled,
}

impl StopReason {
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::Eos => "eos",
            StopReason::Length => "length",
            StopReason::Stop => "stop",
            StopReason::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug)]
pub struct Finished {
    pub stop_reason: StopReason,
    pub prompt_tokens: usize,
    /// Prompt tokens whose keys and values came from an earlier sequence
    /// (not computed again).
    pub reused_tokens: usize,
    /// The generated tokens (an end-of-turn token is not included).
    pub token_ids: Vec<u32>,
    /// The generated text, cut before a matched stop string.
    pub text: String,
    /// Text never shown as a step's `visible` (held back as a possible stop
    /// string, or an incomplete character at the very end): the last piece
    /// of the answer for streaming front-ends.
    pub tail: String,
    pub prefill_ms: f64,
    pub decode_ms: f64,
    pub attention: Option<AttentionMaps>,
}

impl Finished {
    pub fn generated_tokens(&self) -> usize {
        self.token_ids.len()
    }

    /// Prefill speed over the prompt tokens actually computed.
    pub fn prefill_tok_s(&self) -> f64 {
        per_second(self.prompt_tokens - self.reused_tokens, self.prefill_ms)
    }

    /// Decode speed over the tokens after the first (the first comes from
    /// the prefill's logits).
    pub fn decode_tok_s(&self) -> f64 {
        per_second(self.generated_tokens().saturating_sub(1), self.decode_ms)
    }
}

fn per_second(tokens: usize, ms: f64) -> f64 {
    if ms > 0.0 {
        tokens as f64 * 1000.0 / ms
    } else {
        0.0
    }
}

/// Runs `request` on `model`, calling `on_token` after every token; a
/// `Break` from it ends generation with [`StopReason::Cancelled`].
pub fn generate(
    model: &LoadedModel,
    request: &GenerateRequest,
    on_token: impl FnMut(&TokenStep) -> ControlFlow<()>,
) -> Result<Finished> {
    run(model, request, None, on_token)
}

/// As [`generate`], starting from the sequence in `prefixes` that shares the
/// longest prefix with the prompt (only the rest is prefilled), and leaving
/// this sequence there for the next request. With attention capture on,
/// nothing is reused (every position's attention is captured).
pub fn generate_reusing(
    model: &LoadedModel,
    request: &GenerateRequest,
    prefixes: &mut PrefixCache,
    on_token: impl FnMut(&TokenStep) -> ControlFlow<()>,
) -> Result<Finished> {
    run(model, request, Some(prefixes), on_token)
}

fn run(
    model: &LoadedModel,
    request: &GenerateRequest,
    mut prefixes: Option<&mut PrefixCache>,
    mut on_token: impl FnMut(&TokenStep) -> ControlFlow<()>,
) -> Result<Finished> {
    let prompt = &request.prompt_ids;
    let context = model.context_length();
    if prompt.is_empty() {
        return Err(ModelError::EmptyPrompt);
    }
    if prompt.len() >= context {
        return Err(ModelError::PromptTooLong {
            tokens: prompt.len(),
            context,
        });
    }
    let Reuse {
        kv: mut cache,
        reused,
    } = match prefixes.as_deref_mut() {
        Some(p) if !request.capture_attention => p.take(model, prompt),
        _ => Reuse {
            kv: model.new_cache(),
            reused: 0,
        },
    };
    // The tokens whose keys and values `cache` holds.
    let mut fed = prompt.clone();
    let mut attention = request
        .capture_attention
        .then(|| model.new_attention_maps());
    let mut sampler = Sampler::new(request.sampling.clone());
    let mut decoder = StreamDecoder::new(&model.tokenizer);
    let mut stops = StopMatcher::new(&request.sampling.stop);
    let mut history = prompt.clone();
    let mut generated = Vec::new();

    let start = Instant::now();
    let mut logits = model.forward(
        &prompt[reused..],
        &mut cache,
        attention.as_mut(),
        Logits::Last,
    )?;
    let prefill_ms = ms_since(start);
    let decode_start = Instant::now();
    let mut stop_reason = StopReason::Length;
    while generated.len() < request.sampling.max_tokens {
        let row = logits.flatten_all()?.to_vec1::<f32>()?;
        // log p = logit − log Σ exp(logits), in f64 (no vocabulary-sized copy).
        let log_z = log_sum_exp(&row);
        let logprob = |id: u32| (f64::from(row[id as usize]) - log_z) as f32;
        let token = sampler.sample(&row, &history);
        if model.tokenizer.eos_ids().contains(&token) {
            stop_reason = StopReason::Eos;
            break;
        }
        generated.push(token);
        history.push(token);
        let text = decoder.push(token);
        let (visible, hit) = stops.push(&text);
        let step = TokenStep {
            index: generated.len() - 1,
            token_id: token,
            text,
            visible,
            logprob: logprob(token),
            top: top_k(&row, request.top_logprobs)
                .into_iter()
                .map(|(id, _)| (id, logprob(id)))
                .collect(),
            attention: attention
                .as_ref()
                .map(|maps| maps.query_attention(maps.n_queries() - 1)),
        };
        if on_token(&step).is_break() {
            stop_reason = StopReason::Cancelled;
            break;
        }
        if hit {
            stop_reason = StopReason::Stop;
            break;
        }
        if generated.len() >= request.sampling.max_tokens || history.len() >= context {
            break;
        }
        logits = model.forward(&[token], &mut cache, attention.as_mut(), Logits::Last)?;
        fed.push(token);
    }
    let decode_ms = ms_since(decode_start);
    if let Some(p) = prefixes {
        p.put(fed, cache);
    }
    let tail = if stop_reason == StopReason::Stop {
        String::new()
    } else {
        stops.push(&decoder.finish());
        stops.release_all()
    };
    Ok(Finished {
        stop_reason,
        prompt_tokens: prompt.len(),
        reused_tokens: reused,
        token_ids: generated,
        tail,
        text: stops.into_text(),
        prefill_ms,
        decode_ms,
        attention,
    })
}

fn ms_since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}

/// Watches generated text for stop strings, holding back any tail that could
/// still grow into one.
pub struct StopMatcher {
    stops: Vec<String>,
    text: String,
    /// Bytes of `text` already released as visible.
    released: usize,
    /// Where a matched stop string begins.
    matched_at: Option<usize>,
}

impl StopMatcher {
    pub fn new(stops: &[String]) -> Self {
        Self {
            stops: stops.iter().filter(|s| !s.is_empty()).cloned().collect(),
            text: String::new(),
            released: 0,
            matched_at: None,
        }
    }

    /// Adds a delta; returns the newly visible text and whether a stop
    /// string has now appeared.
    pub fn push(&mut self, delta: &str) -> (String, bool) {
        if self.matched_at.is_some() {
            return (String::new(), true);
        }
        let search_from = self.released.saturating_sub(self.longest_stop());
        self.text.push_str(delta);
        let hit = self
            .stops
            .iter()
            .filter_map(|s| {
                let from = floor_char_boundary(&self.text, search_from);
                self.text[from..].find(s.as_str()).map(|i| from + i)
            })
            .min();
        let safe_end = match hit {
            Some(at) => at,
            None => self.text.len() - self.held_back_tail(),
        };
        self.matched_at = hit;
        let safe_end = safe_end.max(self.released);
        let visible = self.text[self.released..safe_end].to_string();
        self.released = safe_end;
        (visible, hit.is_some())
    }

    /// Everything not yet released as visible (when no stop string can
    /// follow any more).
    pub(crate) fn release_all(&mut self) -> String {
        let end = self.matched_at.unwrap_or(self.text.len());
        let rest = self.text[self.released.min(end)..end].to_string();
        self.released = end;
        rest
    }

    /// The whole text, cut before a matched stop string.
    pub(crate) fn into_text(mut self) -> String {
        if let Some(at) = self.matched_at {
            self.text.truncate(at);
        }
        self.text
    }

    fn longest_stop(&self) -> usize {
        self.stops.iter().map(|s| s.len()).max().unwrap_or(0)
    }

    /// Length of the longest suffix of the text that is a proper prefix of
    /// some stop string (it may still become one).
    fn held_back_tail(&self) -> usize {
        let mut best = 0;
        for stop in &self.stops {
            for (len, _) in stop.char_indices().skip(1) {
                if len > best && self.text.ends_with(&stop[..len]) {
                    best = len;
                }
            }
        }
        best.min(self.text.len() - self.released)
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stops: &[&str], deltas: &[&str]) -> (Vec<String>, bool, String) {
        let stops: Vec<String> = stops.iter().map(|s| s.to_string()).collect();
        let mut m = StopMatcher::new(&stops);
        let mut shown = Vec::new();
        let mut hit = false;
        for d in deltas {
            let (v, h) = m.push(d);
            shown.push(v);
            if h {
                hit = true;
                break;
            }
        }
        (shown, hit, m.into_text())
    }

    #[test]
    fn stop_string_split_across_tokens_is_never_shown() {
        let (shown, hit, text) = run(&["\n\nQ:"], &["Paris", ".\n", "\nQ", ":", " next"]);
        assert!(hit);
        assert_eq!(shown.concat(), "Paris.");
        assert_eq!(text, "Paris.");
    }

    #[test]
    fn held_back_text_is_released_when_it_stops_matching() {
        let (shown, hit, text) = run(&["END"], &["a E", "N", "x"]);
        assert!(!hit);
        assert_eq!(shown, vec!["a ", "", "ENx"]);
        assert_eq!(text, "a ENx");
    }

    #[test]
    fn no_stops_passes_everything_through() {
        let (shown, hit, _) = run(&[], &["é", "x"]);
        assert!(!hit);
        assert_eq!(shown.concat(), "éx");
    }
}
