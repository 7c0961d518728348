//! The key/value cache of one generation: per layer the keys and values of
//! every position seen so far, so each new token attends without recomputing.

use candle_core::{Tensor, D};

use super::error::Result;

#[derive(Default)]
pub struct KvCache {
    /// Per layer: keys and values, each (batch, kv_heads, positions, head_dim).
    layers: Vec<Option<(Tensor, Tensor)>>,
    len: usize,
}

impl KvCache {
    pub fn new(n_layers: usize) -> Self {
        Self {
            layers: vec![None; n_layers],
            len: 0,
        }
    }

    /// Positions already cached (the offset of the next token).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends this step's keys/values (b, kv_heads, t, head_dim) to layer
    /// `layer` and returns all of them (b, kv_heads, len + t, head_dim).
    pub fn append(&mut self, layer: usize, k: Tensor, v: Tensor) -> Result<(Tensor, Tensor)> {
        let all = match self.layers[layer].take() {
            None => (k, v),
            Some((pk, pv)) => (
                Tensor::cat(&[&pk, &k], D::Minus2)?,
                Tensor::cat(&[&pv, &v], D::Minus2)?,
            ),
        };
        self.layers[layer] = Some(all.clone());
        Ok(all)
    }

    /// Records that a forward pass of `t` new positions completed.
    pub(crate) fn advance(&mut self, t: usize) {
        self.len += t;
    }

    pub fn clear(&mut self) {
        self.layers.iter_mut().for_each(|l| *l = None);
        self.len = 0;
    }
}
