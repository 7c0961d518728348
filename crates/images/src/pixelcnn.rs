//! PixelCNN (van den Oord et al. 2016, "Pixel Recurrent Neural Networks",
//! §3.5): binary pixels predicted one at a time in raster order, each from
//! the pixels above and to its left, by masked convolutions — a 7×7 of
//! type A (the pixel itself hidden) and then 3×3 residual layers of type B
//! (the position's own features seen). The likelihood is exact: the NLL of
//! an image is the sum of its 784 Bernoulli terms, in nats, and
//! bits/dim = nats / (784 · ln 2).
//!
//! x (b, 1, h, 28) binary → masked 7×7 A → (b, c, h, 28)
//!   → [relu → masked 3×3 B → + residual] × layers → relu → 1×1 (b, c, h, 28)
//!   → relu → 1×1 → (b, 1, h, 28) logits of p(x_ij = 1 | x_<ij)
//!
//! Sampling runs the network once per pixel, over only the rows the next
//! pixel can see ([`PixelCnn::context_rows`] above it) and narrowing to
//! one row layer by layer, which gives the same logits as the whole image
//! (a test checks it).

use candle_core::{Device, IndexOp, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::data::{PIXELS, SIDE};
use crate::error::Result;
use crate::layers::{
    bernoulli_nll, causal_mask, conv, init_conv, init_conv_rect, masked_conv, masked_conv_padded,
};
use crate::params::Params;
use crate::raster::RasterSampler;
use crate::train::Flow;

pub const KIND: &str = "pixelcnn";

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PixelCnnConfig {
    pub dataset: crate::data::DatasetKind,
    /// Feature maps in every layer.
    pub channels: usize,
    /// Residual 3×3 type-B layers after the 7×7 type-A one.
    pub layers: usize,
}

impl PixelCnnConfig {
    pub fn new(dataset: crate::data::DatasetKind) -> Self {
        Self {
            dataset,
            channels: 32,
            layers: 5,
        }
    }

    /// Refuses sizes no model here has (a checkpoint's config is input).
    pub fn check(&self) -> std::result::Result<(), String> {
        crate::params::check_range("channels", self.channels, 1, 256)?;
        crate::params::check_range("layers", self.layers, 1, 16)
    }
}

pub struct PixelCnn {
    pub config: PixelCnnConfig,
    pub params: Params,
    mask_a: Tensor, // (1, 1, 7, 7)
    mask_b: Tensor, // (1, 1, 3, 3)
}

impl PixelCnn {
    pub fn new(config: PixelCnnConfig, seed: u64) -> Result<Self> {
        config.check().map_err(crate::ImagesError::Invalid)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut params = Params::default();
        let c = config.channels;
        init_conv_rect(&mut params, "in", 1, c, (7, 7), &mut rng)?;
        for l in 0..config.layers {
            init_conv_rect(&mut params, &format!("res{l}"), c, c, (3, 3), &mut rng)?;
        }
        init_conv(&mut params, "out1", c, c, 1, &mut rng)?;
        init_conv(&mut params, "out2", c, 1, 1, &mut rng)?;
        Ok(Self {
            config,
            params,
            mask_a: causal_mask(7, 7, false)?,
            mask_b: causal_mask(3, 3, true)?,
        })
    }

    /// The logits (b, 1, h, w) of every pixel of binary images `x`
    /// (b, 1, h, w), each from the pixels before it.
    pub fn logits(&self, x: &Tensor) -> Result<Tensor> {
        let p = &self.params;
        let mut h = masked_conv(p, "in", x, &self.mask_a)?; // (b, c, h, w)
        for l in 0..self.config.layers {
            let update = masked_conv(p, &format!("res{l}"), &h.relu()?, &self.mask_b)?;
            h = (h + update)?;
        }
        let h = conv(p, "out1", &h.relu()?, 0, 1)?.relu()?; // (b, c, h, w)
        conv(p, "out2", &h, 0, 1) // (b, 1, h, w)
    }

    /// The logits (b, w) of the last row of `rows` (b, 1, context_rows() + 1,
    /// w) — a row at least `context_rows()` from the top and the rows above
    /// it. Each layer computes only the rows the next one
    /// needs (a pyramid down to the one row), which makes pixel-by-pixel
    /// sampling several times cheaper than the whole pass, with the same
    /// values.
    pub fn last_row_logits(&self, rows: &Tensor) -> Result<Tensor> {
        let p = &self.params;
        let mut h = masked_conv_padded(p, "in", rows, &self.mask_a)?; // (b, c, layers + 1, w)
        for l in 0..self.config.layers {
            let update = masked_conv_padded(p, &format!("res{l}"), &h.relu()?, &self.mask_b)?;
            let below = h.dim(2)? - 1;
            h = (h.narrow(2, 1, below)? + update)?; // one row fewer
        }
        let h = conv(p, "out1", &h.relu()?, 0, 1)?.relu()?; // (b, c, 1, w)
        Ok(conv(p, "out2", &h, 0, 1)?.squeeze(2)?.squeeze(1)?) // (b, w)
    }

    /// The NLL of each binary image `x` (b, 1, 28, 28), in nats: (b).
    pub fn nll(&self, x: &Tensor) -> Result<Tensor> {
        Ok(bernoulli_nll(&self.logits(x)?, x)?
            .flatten_from(1)?
            .sum(1)?)
    }

    /// How many rows above a pixel its logit depends on: 3 from the 7×7,
    /// one more per 3×3 layer.
    pub fn context_rows(&self) -> usize {
        3 + self.config.layers
    }
}

impl RasterSampler for PixelCnn {
    fn draw(
        &self,
        n: usize,
        mut pick: impl FnMut(usize, usize, f32) -> f32,
        mut on_row: impl FnMut(usize, &[f32]) -> Flow,
    ) -> Result<Vec<f32>> {
        let mut canvas = vec![0f32; n * PIXELS];
        let context = self.context_rows();
        for row in 0..SIDE {
            let top = row.saturating_sub(context);
            for col in 0..SIDE {
                // The row and the `context` rows above it: (n, 1, ·, 28).
                let crop = crop_rows(&canvas, n, top, row - top + 1)?;
                let logits = if row >= context {
                    self.last_row_logits(&crop)?.i((.., col))?
                } else {
                    // Near the top every layer pads with zeros: the whole pass.
                    self.logits(&crop)?.i((.., 0, row, col))?
                }; // (n)
                let probs = candle_nn::ops::sigmoid(&logits)?.to_vec1::<f32>()?;
                for (i, p) in probs.iter().enumerate() {
                    let at = row * SIDE + col;
                    canvas[i * PIXELS + at] = pick(i, at, *p);
                }
            }
            if on_row(row, &canvas).is_break() {
                break;
            }
        }
        Ok(canvas)
    }
}

/// Rows `top .. top + rows` of `n` images (n × 784) as (n, 1, rows, 28).
pub fn crop_rows(pixels: &[f32], n: usize, top: usize, rows: usize) -> Result<Tensor> {
    let mut out = Vec::with_capacity(n * rows * SIDE);
    for image in pixels.chunks_exact(PIXELS).take(n) {
        out.extend_from_slice(&image[top * SIDE..(top + rows) * SIDE]);
    }
    Ok(Tensor::from_vec(out, (n, 1, rows, SIDE), &Device::Cpu)?)
}
