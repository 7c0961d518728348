//! Captured attention probabilities as plain data, for the attention pane and
//! `generate --attention`. Capture is opt-in: a forward pass given no
//! `AttentionMaps` copies nothing.

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, TensorView};

/// Softmax probabilities of every query position over the keys, per layer and
/// head. `rows[layer][head][q]` holds `q + 1` values: query `q` attends to
/// keys `0..=q` (causal), so the implicit values above the diagonal are 0.
#[derive(Debug, Clone)]
pub struct AttentionMaps {
    n_heads: usize,
    rows: Vec<Vec<Vec<Vec<f32>>>>,
}

impl AttentionMaps {
    pub fn new(n_layers: usize, n_heads: usize) -> Self {
        Self {
            n_heads,
            rows: vec![vec![Vec::new(); n_heads]; n_layers],
        }
    }

    pub fn n_layers(&self) -> usize {
        self.rows.len()
    }

    pub fn n_heads(&self) -> usize {
        self.n_heads
    }

    /// Query positions captured so far.
    pub fn n_queries(&self) -> usize {
        self.rows
            .first()
            .and_then(|l| l.first())
            .map_or(0, |h| h.len())
    }

    /// Adds the rows of one forward step for one layer: `probs` is
    /// (heads, t, keys) flattened, where the `t` new queries sit at positions
    /// `keys - t .. keys`.
    pub(crate) fn push_layer(&mut self, layer: usize, probs: &[f32], t: usize, keys: usize) {
        let offset = keys - t;
        for (head, rows) in self.rows[layer].iter_mut().enumerate() {
            for i in 0..t {
                let start = (head * t + i) * keys;
                rows.push(probs[start..start + offset + i + 1].to_vec());
            }
        }
    }

    /// One layer as a dense (heads, queries, queries) array, zero above the
    /// diagonal.
    pub fn dense_layer(&self, layer: usize) -> Vec<f32> {
        let q = self.n_queries();
        let mut out = vec![0f32; self.n_heads * q * q];
        for (head, rows) in self.rows[layer].iter().enumerate() {
            for (i, row) in rows.iter().enumerate() {
                let start = (head * q + i) * q;
                out[start..start + row.len()].copy_from_slice(row);
            }
        }
        out
    }

    /// Writes every layer as safetensors (`layer.{i}`: heads × queries × keys,
    /// f32), with `tokens` (JSON array of token strings) in the metadata.
    /// The file is written to a temporary name and renamed into place.
    pub fn save_safetensors(&self, path: &Path, tokens: &[String]) -> std::io::Result<()> {
        let q = self.n_queries();
        let layers: Vec<Vec<u8>> = (0..self.n_layers())
            .map(|l| {
                self.dense_layer(l)
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect()
            })
            .collect();
        let views = layers
            .iter()
            .enumerate()
            .map(|(l, bytes)| {
                let view = TensorView::new(Dtype::F32, vec![self.n_heads, q, q], bytes)
                    .map_err(std::io::Error::other)?;
                Ok((format!("layer.{l}"), view))
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        let mut metadata = HashMap::new();
        metadata.insert(
            "tokens".to_string(),
            serde_json::to_string(tokens).map_err(std::io::Error::other)?,
        );
        metadata.insert("layers".to_string(), self.n_layers().to_string());
        metadata.insert("heads".to_string(), self.n_heads.to_string());
        let bytes = safetensors::serialize(views, Some(metadata)).map_err(std::io::Error::other)?;
        crate::fsutil::write_atomic(path, &bytes)
    }
}
