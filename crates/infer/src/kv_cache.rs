//! The state of one sequence between forward passes: per layer the keys and
//! values of every position seen so far, as rows of `kv_heads × head_dim`
//! appended in place (capacity grows by doubling, never a copy per token),
//! and the scratch buffers a forward pass reuses.

use candle_core::Tensor;

use super::error::Result;

/// Positions reserved the first time a layer is written.
const INITIAL_POSITIONS: usize = 256;

#[derive(Default)]
pub(crate) struct LayerKv {
    /// Keys (positions × width), position-major.
    pub k: Vec<f32>,
    /// Values (positions × width).
    pub v: Vec<f32>,
    /// kv_heads × head_dim.
    pub width: usize,
}

/// Buffers of a forward pass, kept between passes so decoding a token
/// allocates nothing.
#[derive(Default)]
pub(crate) struct Scratch {
    pub x: Vec<f32>,
    pub h: Vec<f32>,
    pub qkv: Vec<f32>,
    pub att: Vec<f32>,
    pub tmp: Vec<f32>,
    pub ffn: Vec<f32>,
    pub act: Vec<f32>,
    pub probs: Vec<f32>,
    pub cos: Vec<f32>,
    pub sin: Vec<f32>,
}

#[derive(Default)]
pub struct KvCache {
    layers: Vec<LayerKv>,
    len: usize,
    pub(crate) scratch: Scratch,
}

impl KvCache {
    pub fn new(n_layers: usize) -> Self {
        Self {
            layers: (0..n_layers).map(|_| LayerKv::default()).collect(),
            len: 0,
            scratch: Scratch::default(),
        }
    }

    /// Positions already cached (the offset of the next token).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Layer `layer`, ready for this pass's rows of `width` values: anything
    /// past the cached length (left by a pass that failed midway) dropped.
    pub(crate) fn layer_for_pass(&mut self, layer: usize, width: usize) -> &mut LayerKv {
        let len = self.len;
        let l = &mut self.layers[layer];
        if l.k.capacity() == 0 {
            l.k.reserve(INITIAL_POSITIONS * width);
            l.v.reserve(INITIAL_POSITIONS * width);
        }
        l.width = width;
        l.k.truncate(len * width);
        l.v.truncate(len * width);
        l
    }

    /// Appends `t` positions' key and value rows (t × width each) to layer
    /// `layer`, after the `len()` positions already there.
    pub(crate) fn append_rows(&mut self, layer: usize, width: usize, k: &[f32], v: &[f32]) {
        let l = self.layer_for_pass(layer, width);
        l.k.extend_from_slice(k);
        l.v.extend_from_slice(v);
    }

    /// Layer `layer`'s keys and values, including rows appended this pass.
    pub(crate) fn layer(&self, layer: usize) -> &LayerKv {
        &self.layers[layer]
    }

    /// For candle-tensor architectures: appends this step's keys/values
    /// (1, heads, t, head_dim) to layer `layer` and returns all of them
    /// (1, heads, len + t, head_dim).
    pub fn append(&mut self, layer: usize, k: Tensor, v: Tensor) -> Result<(Tensor, Tensor)> {
        let (_, heads, t, hd) = k.dims4()?;
        let rows = |x: &Tensor| -> Result<Vec<f32>> {
            // (1, heads, t, hd) -> (t, heads * hd)
            Ok(x.squeeze(0)?
                .transpose(0, 1)?
                .contiguous()?
                .flatten_all()?
                .to_vec1::<f32>()?)
        };
        self.append_rows(layer, heads * hd, &rows(&k)?, &rows(&v)?);
        let keys = self.len + t;
        let l = &self.layers[layer];
        let back = |x: &[f32]| -> Result<Tensor> {
            // (keys, heads, hd) -> (1, heads, keys, hd)
            Ok(
                Tensor::from_slice(&x[..keys * heads * hd], (keys, heads, hd), k.device())?
                    .transpose(0, 1)?
                    .contiguous()?
                    .unsqueeze(0)?,
            )
        };
        Ok((back(&l.k)?, back(&l.v)?))
    }

    /// Records that a forward pass of `t` new positions completed.
    pub(crate) fn advance(&mut self, t: usize) {
        self.len += t;
    }

    /// Keeps the first `len` positions (a shared prefix) and forgets the rest.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
        for l in &mut self.layers {
            l.k.truncate(self.len * l.width);
            l.v.truncate(self.len * l.width);
        }
    }

    pub fn clear(&mut self) {
        self.truncate(0);
    }

    /// Bytes the cached keys and values take.
    pub fn bytes(&self) -> usize {
        self.layers
            .iter()
            .map(|l| (l.k.capacity() + l.v.capacity()) * 4)
            .sum()
    }
}
