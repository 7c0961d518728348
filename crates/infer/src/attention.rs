//! Captured attention as plain data, for the attention pane and
//! `promptlab attention`. Capture is opt-in: a forward pass given no
//! `AttentionMaps` copies nothing.
//!
//! Memory is flat and bounded: the probabilities of every layer and head
//! live in one triangle-packed buffer (query `q` holds `q + 1` keys), and the
//! per-position vectors (queries, keys, head outputs, residual stream) in one
//! buffer each. A capture that would pass [`AttentionMaps::limit_bytes`] is
//! refused before it allocates.

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, TensorView};

use crate::error::{ModelError, Result};

/// What a capture may take unless told otherwise: 1 GiB, about 1,100
/// positions of the default model (30 layers × 9 heads) with every vector.
pub const DEFAULT_LIMIT_BYTES: usize = 1 << 30;

/// Widths of the per-position vectors an architecture captures beside the
/// probabilities (the llama family does; GPT-2 captures probabilities only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VectorWidths {
    pub head_dim: usize,
    pub n_kv_heads: usize,
    pub d_model: usize,
}

/// Per position and layer: the query and key vectors after RoPE, each head's
/// attention output before the output projection, and the residual stream
/// after the layer. Layout `(position, layer, width)`, flat.
#[derive(Debug, Clone)]
pub struct Vectors {
    pub widths: VectorWidths,
    queries: Vec<f32>,
    keys: Vec<f32>,
    head_outputs: Vec<f32>,
    residual: Vec<f32>,
}

/// What one query attended to in every layer and head: its weights over
/// the keys `0..=query`, (layer, head, key) flat. The row a streaming
/// front-end gets for each new token.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryAttention {
    pub query: usize,
    pub n_layers: usize,
    pub n_heads: usize,
    pub weights: Vec<f32>,
}

impl QueryAttention {
    /// The weights of one head over keys `0..=query`.
    pub fn row(&self, layer: usize, head: usize) -> &[f32] {
        let keys = self.query + 1;
        let start = (layer * self.n_heads + head) * keys;
        &self.weights[start..start + keys]
    }
}

/// Softmax probabilities of every query position over the keys, per layer
/// and head, plus (where the architecture provides them) the vectors behind
/// them. Positions start at 0: capture runs over a whole sequence.
#[derive(Debug, Clone)]
pub struct AttentionMaps {
    n_layers: usize,
    n_heads: usize,
    n_queries: usize,
    /// Query-major, triangle-packed: the block of query `q` starts at
    /// `layers·heads·q(q+1)/2` and holds (layer, head, key ≤ q).
    probs: Vec<f32>,
    vectors: Option<Vectors>,
    limit_bytes: usize,
}

impl AttentionMaps {
    pub fn new(n_layers: usize, n_heads: usize) -> Self {
        Self {
            n_layers,
            n_heads,
            n_queries: 0,
            probs: Vec::new(),
            vectors: None,
            limit_bytes: DEFAULT_LIMIT_BYTES,
        }
    }

    /// Maps that also keep the vectors of [`Vectors`].
    pub fn with_vectors(n_layers: usize, n_heads: usize, widths: VectorWidths) -> Self {
        let mut maps = Self::new(n_layers, n_heads);
        maps.vectors = Some(Vectors {
            widths,
            queries: Vec::new(),
            keys: Vec::new(),
            head_outputs: Vec::new(),
            residual: Vec::new(),
        });
        maps
    }

    /// The most bytes this capture may take; a forward pass past it fails.
    pub fn limit_bytes(&self) -> usize {
        self.limit_bytes
    }

    pub fn set_limit_bytes(&mut self, bytes: usize) {
        self.limit_bytes = bytes;
    }

    pub fn n_layers(&self) -> usize {
        self.n_layers
    }

    pub fn n_heads(&self) -> usize {
        self.n_heads
    }

    /// Query positions captured so far.
    pub fn n_queries(&self) -> usize {
        self.n_queries
    }

    pub fn vectors(&self) -> Option<&Vectors> {
        self.vectors.as_ref()
    }

    /// Bytes a capture of `positions` positions takes.
    pub fn bytes_for(&self, positions: usize) -> usize {
        let probs = self.n_layers * self.n_heads * positions * (positions + 1) / 2;
        let per_position = self
            .vectors
            .as_ref()
            .map_or(0, |v| v.floats_per_position(self.n_layers, self.n_heads));
        (probs + positions * per_position) * std::mem::size_of::<f32>()
    }

    /// Bytes held now.
    pub fn bytes(&self) -> usize {
        self.bytes_for(self.n_queries)
    }

    /// Maps over `n_queries` positions with the given probabilities
    /// (`prob(layer, head, q, k)` for each key `k ≤ q`) and no vectors: fixed
    /// data for fixtures and tests.
    pub fn from_fn(
        n_layers: usize,
        n_heads: usize,
        n_queries: usize,
        prob: impl Fn(usize, usize, usize, usize) -> f32,
    ) -> Self {
        let mut maps = Self::new(n_layers, n_heads);
        maps.limit_bytes = usize::MAX;
        maps.begin_step(0, n_queries)
            .expect("a capture from position 0 with no limit");
        for layer in 0..n_layers {
            for head in 0..n_heads {
                for q in 0..n_queries {
                    let start = maps.row_start(layer, head, q);
                    for k in 0..=q {
                        maps.probs[start + k] = prob(layer, head, q, k);
                    }
                }
            }
        }
        maps
    }

    /// Makes room for `t` new query positions at `offset`, before a forward
    /// pass writes them. Fails when the capture does not start at position
    /// 0 or would pass the limit.
    pub(crate) fn begin_step(&mut self, offset: usize, t: usize) -> Result<()> {
        if offset != self.n_queries {
            return Err(ModelError::Capture(format!(
                "attention capture holds {} positions but the pass starts at position {offset}; capture runs over a whole sequence",
                self.n_queries
            )));
        }
        let total = offset + t;
        let need = self.bytes_for(total);
        if need > self.limit_bytes {
            return Err(ModelError::Capture(format!(
                "capturing attention over {total} positions needs {} MiB, over the limit of {} MiB; use a shorter prompt or answer",
                need >> 20,
                self.limit_bytes >> 20
            )));
        }
        let (l, h) = (self.n_layers, self.n_heads);
        self.probs.resize(l * h * total * (total + 1) / 2, 0.0);
        if let Some(v) = &mut self.vectors {
            let w = v.widths;
            v.queries.resize(total * l * h * w.head_dim, 0.0);
            v.keys.resize(total * l * w.n_kv_heads * w.head_dim, 0.0);
            v.head_outputs.resize(total * l * h * w.head_dim, 0.0);
            v.residual.resize(total * l * w.d_model, 0.0);
        }
        self.n_queries = total;
        Ok(())
    }

    fn row_start(&self, layer: usize, head: usize, q: usize) -> usize {
        self.n_layers * self.n_heads * q * (q + 1) / 2 + (layer * self.n_heads + head) * (q + 1)
    }

    /// Writes the rows of one forward step for one layer: `probs` is
    /// (heads, t, keys) flattened, where the `t` new queries sit at positions
    /// `keys - t .. keys` (made room for by [`Self::begin_step`]).
    pub(crate) fn push_layer(&mut self, layer: usize, probs: &[f32], t: usize, keys: usize) {
        let offset = keys - t;
        for head in 0..self.n_heads {
            for i in 0..t {
                let q = offset + i;
                let from = (head * t + i) * keys;
                let to = self.row_start(layer, head, q);
                self.probs[to..to + q + 1].copy_from_slice(&probs[from..from + q + 1]);
            }
        }
    }

    /// Stores the vectors of one layer for the `t` positions from `offset`:
    /// `qkv` rows of `q_width + 2·kv_width` (queries, keys, values after
    /// RoPE), `att` rows (heads·head_dim) and the residual `x` rows (d).
    pub(crate) fn push_vectors(
        &mut self,
        layer: usize,
        offset: usize,
        t: usize,
        qkv: &[f32],
        att: &[f32],
        x: &[f32],
    ) {
        let (l, h) = (self.n_layers, self.n_heads);
        let Some(v) = &mut self.vectors else {
            return;
        };
        let w = v.widths;
        let (qd, kvd, d) = (h * w.head_dim, w.n_kv_heads * w.head_dim, w.d_model);
        let width = qd + 2 * kvd;
        for i in 0..t {
            let slot = (offset + i) * l + layer;
            let row = &qkv[i * width..(i + 1) * width];
            v.queries[slot * qd..(slot + 1) * qd].copy_from_slice(&row[..qd]);
            v.keys[slot * kvd..(slot + 1) * kvd].copy_from_slice(&row[qd..qd + kvd]);
            v.head_outputs[slot * qd..(slot + 1) * qd].copy_from_slice(&att[i * qd..(i + 1) * qd]);
            v.residual[slot * d..(slot + 1) * d].copy_from_slice(&x[i * d..(i + 1) * d]);
        }
    }

    /// Everything query `q` attended to, copied out (every layer and head).
    pub fn query_attention(&self, q: usize) -> QueryAttention {
        let (l, h) = (self.n_layers, self.n_heads);
        let start = l * h * q * (q + 1) / 2;
        QueryAttention {
            query: q,
            n_layers: l,
            n_heads: h,
            weights: self.probs[start..start + l * h * (q + 1)].to_vec(),
        }
    }

    /// How query `q` attends over keys `0..=q` in one head.
    pub fn row(&self, layer: usize, head: usize, q: usize) -> &[f32] {
        let start = self.row_start(layer, head, q);
        &self.probs[start..start + q + 1]
    }

    /// The weight of key `k` for query `q` (0 above the diagonal).
    pub fn prob(&self, layer: usize, head: usize, q: usize, k: usize) -> f32 {
        if k > q {
            0.0
        } else {
            self.row(layer, head, q)[k]
        }
    }

    /// One layer as a dense (heads, queries, queries) array, zero above the
    /// diagonal.
    pub fn dense_layer(&self, layer: usize) -> Vec<f32> {
        let q = self.n_queries;
        let mut out = vec![0f32; self.n_heads * q * q];
        for head in 0..self.n_heads {
            for i in 0..q {
                let start = (head * q + i) * q;
                out[start..start + i + 1].copy_from_slice(self.row(layer, head, i));
            }
        }
        out
    }

    /// Writes every layer as safetensors (`layer.{i}`: heads × queries × keys,
    /// f32), with `tokens` (JSON array of token strings) in the metadata.
    /// The file is written to a temporary name and renamed into place.
    pub fn save_safetensors(&self, path: &Path, tokens: &[String]) -> std::io::Result<()> {
        let q = self.n_queries;
        let layers: Vec<Vec<u8>> = (0..self.n_layers)
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
        metadata.insert("layers".to_string(), self.n_layers.to_string());
        metadata.insert("heads".to_string(), self.n_heads.to_string());
        let bytes = safetensors::serialize(views, Some(metadata)).map_err(std::io::Error::other)?;
        crate::fsutil::write_atomic(path, &bytes)
    }

    /// The scaled query·key products before softmax for query `q` in one
    /// head, with the element-wise products of the winning key; `None`
    /// without captured vectors.
    pub fn scores(&self, layer: usize, head: usize, q: usize) -> Option<Scores> {
        let v = self.vectors.as_ref()?;
        let w = v.widths;
        let hd = w.head_dim;
        let group = self.n_heads / w.n_kv_heads.max(1);
        let kv_head = head / group.max(1);
        let query = v.query(self.n_layers, self.n_heads, q, layer, head);
        let scale = 1.0 / (hd as f32).sqrt();
        let values = (0..=q)
            .map(|k| {
                let key = v.key(self.n_layers, k, layer, kv_head);
                query.iter().zip(key).map(|(a, b)| a * b).sum::<f32>() * scale
            })
            .collect();
        Some(Scores {
            scale,
            kv_head,
            values,
        })
    }
}

/// The logits of one query over its keys before softmax.
#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    /// 1/√head_dim, already applied to `values`.
    pub scale: f32,
    /// The key/value head this query head reads (grouped-query attention).
    pub kv_head: usize,
    /// scale · q·k for every key `0..=q`.
    pub values: Vec<f32>,
}

impl Vectors {
    fn floats_per_position(&self, n_layers: usize, n_heads: usize) -> usize {
        let w = self.widths;
        n_layers * (2 * n_heads * w.head_dim + w.n_kv_heads * w.head_dim + w.d_model)
    }

    /// Query vector (head_dim) of `head` at `pos`, after RoPE.
    pub fn query(
        &self,
        n_layers: usize,
        n_heads: usize,
        pos: usize,
        layer: usize,
        head: usize,
    ) -> &[f32] {
        let hd = self.widths.head_dim;
        let start = ((pos * n_layers + layer) * n_heads + head) * hd;
        &self.queries[start..start + hd]
    }

    /// Key vector (head_dim) of key/value head `kv_head` at `pos`, after RoPE.
    pub fn key(&self, n_layers: usize, pos: usize, layer: usize, kv_head: usize) -> &[f32] {
        let hd = self.widths.head_dim;
        let start = ((pos * n_layers + layer) * self.widths.n_kv_heads + kv_head) * hd;
        &self.keys[start..start + hd]
    }

    /// Every head's attention output at `pos` (heads·head_dim), before the
    /// output projection.
    pub fn head_outputs(
        &self,
        n_layers: usize,
        n_heads: usize,
        pos: usize,
        layer: usize,
    ) -> &[f32] {
        let qd = n_heads * self.widths.head_dim;
        let start = (pos * n_layers + layer) * qd;
        &self.head_outputs[start..start + qd]
    }

    /// The residual stream (d_model) at `pos` after `layer`.
    pub fn residual(&self, n_layers: usize, pos: usize, layer: usize) -> &[f32] {
        let d = self.widths.d_model;
        let start = (pos * n_layers + layer) * d;
        &self.residual[start..start + d]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_land_where_they_are_read_across_steps() {
        let (layers, heads) = (2, 3);
        let mut maps = AttentionMaps::new(layers, heads);
        // Step 1: two queries; step 2: one more. Values encode (layer, head, q, k).
        let code =
            |l: usize, h: usize, q: usize, k: usize| (l * 1000 + h * 100 + q * 10 + k) as f32;
        for (offset, t) in [(0usize, 2usize), (2, 1)] {
            maps.begin_step(offset, t).unwrap();
            let keys = offset + t;
            for l in 0..layers {
                let mut probs = vec![0f32; heads * t * keys];
                for h in 0..heads {
                    for i in 0..t {
                        for k in 0..=offset + i {
                            probs[(h * t + i) * keys + k] = code(l, h, offset + i, k);
                        }
                    }
                }
                maps.push_layer(l, &probs, t, keys);
            }
        }
        assert_eq!(maps.n_queries(), 3);
        for l in 0..layers {
            for h in 0..heads {
                for q in 0..3 {
                    let want: Vec<f32> = (0..=q).map(|k| code(l, h, q, k)).collect();
                    assert_eq!(maps.row(l, h, q), want.as_slice());
                    assert_eq!(maps.prob(l, h, q, q + 1), 0.0);
                }
            }
        }
        assert_eq!(maps.bytes(), layers * heads * 6 * 4);
    }

    #[test]
    fn a_capture_past_its_limit_or_mid_sequence_is_refused() {
        let mut maps = AttentionMaps::new(30, 9);
        maps.set_limit_bytes(1 << 20);
        let err = maps.begin_step(0, 512).unwrap_err().to_string();
        assert!(
            err.contains("512 positions") && err.contains("limit of 1 MiB"),
            "{err}"
        );
        assert_eq!(maps.n_queries(), 0);
        let err = maps.begin_step(5, 1).unwrap_err().to_string();
        assert!(err.contains("starts at position 5"), "{err}");
    }
}
