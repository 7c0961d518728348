//! Model architectures, one per file, behind one enum so the rest of
//! promptlab runs any of them the same way.

pub mod common;
pub mod gpt2;
pub mod hf;
pub mod llama;

pub use llama::Logits;

use candle_core::Tensor;

use super::attention::{AttentionMaps, VectorWidths};
use super::error::Result;
use super::kv_cache::KvCache;

/// GGUF `general.architecture` values promptlab runs.
pub(crate) const SUPPORTED_GGUF: &[&str] = &["llama", "qwen2"];
/// Hugging Face `config.json` architectures promptlab runs.
pub(crate) const SUPPORTED_HF: &[&str] =
    &["LlamaForCausalLM", "Qwen2ForCausalLM", "GPT2LMHeadModel"];

pub enum Architecture {
    /// Llama, SmolLM, TinyLlama, Qwen2 (with q/k/v biases).
    Llama(llama::Llama),
    Gpt2(gpt2::Gpt2),
}

impl Architecture {
    pub fn forward(
        &self,
        tokens: &[u32],
        cache: &mut KvCache,
        capture: Option<&mut AttentionMaps>,
        which: Logits,
    ) -> Result<Tensor> {
        match self {
            Architecture::Llama(m) => m.forward(tokens, cache, capture, which),
            Architecture::Gpt2(m) => m.forward(tokens, cache, capture, which),
        }
    }

    /// Bytes the weights take in memory.
    pub fn weight_bytes(&self) -> usize {
        match self {
            Architecture::Llama(m) => m.weight_bytes(),
            Architecture::Gpt2(m) => m.weight_bytes(),
        }
    }

    /// The per-position vectors an attention capture can keep (queries,
    /// keys, head outputs, residual stream); GPT-2 keeps probabilities only.
    pub fn vector_widths(&self) -> Option<VectorWidths> {
        match self {
            Architecture::Llama(m) => Some(m.vector_widths()),
            Architecture::Gpt2(_) => None,
        }
    }

    /// See [`llama::Llama::unembed_residual`]; `None` for GPT-2, whose
    /// capture keeps no residual stream.
    pub fn unembed_residual(&self, x: &[f32]) -> Option<Vec<f32>> {
        match self {
            Architecture::Llama(m) => Some(m.unembed_residual(x)),
            Architecture::Gpt2(_) => None,
        }
    }

    /// See [`llama::Llama::head_logits`].
    pub fn head_logits(
        &self,
        layer: usize,
        head: usize,
        head_outputs: &[f32],
        final_residual: &[f32],
    ) -> Option<Vec<f32>> {
        match self {
            Architecture::Llama(m) => {
                Some(m.head_logits(layer, head, head_outputs, final_residual))
            }
            Architecture::Gpt2(_) => None,
        }
    }

    pub fn n_layers(&self) -> usize {
        match self {
            Architecture::Llama(m) => m.config().n_layers,
            Architecture::Gpt2(m) => m.config().n_layers,
        }
    }

    pub fn n_heads(&self) -> usize {
        match self {
            Architecture::Llama(m) => m.config().n_heads,
            Architecture::Gpt2(m) => m.config().n_heads,
        }
    }

    pub fn context_length(&self) -> usize {
        match self {
            Architecture::Llama(m) => m.config().context_length,
            Architecture::Gpt2(m) => m.config().context_length,
        }
    }
}
