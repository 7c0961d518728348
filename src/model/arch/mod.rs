//! Model architectures, one per file, behind one enum so the rest of
//! promptlab runs any of them the same way.

pub mod llama;

pub use llama::Logits;

use candle_core::Tensor;

use super::attention::AttentionMaps;
use super::error::Result;
use super::kv_cache::KvCache;

/// The architectures promptlab can run, by their GGUF `general.architecture`.
pub const SUPPORTED: &[&str] = &["llama"];

pub enum Architecture {
    Llama(llama::Llama),
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
        }
    }

    pub fn n_layers(&self) -> usize {
        match self {
            Architecture::Llama(m) => m.config().n_layers,
        }
    }

    pub fn n_heads(&self) -> usize {
        match self {
            Architecture::Llama(m) => m.config().n_heads,
        }
    }

    pub fn context_length(&self) -> usize {
        match self {
            Architecture::Llama(m) => m.config().context_length,
        }
    }
}
