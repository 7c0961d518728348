//! The Row LSTM (van den Oord et al. 2016, "Pixel Recurrent Neural
//! Networks", §3.1): an LSTM that runs down the image one row at a time,
//! every position of a row updated at once. Its input-to-state part is a
//! masked 1×3 convolution over the row's features (computed for the whole
//! image in one go); its state-to-state part a 1-D convolution of width 3
//! over the previous row's hidden state, so each pixel sees a triangle of
//! the rows above. The first layer is the paper's 7×7 type-A masked
//! convolution, so no pixel sees itself.
//!
//! x (b, 1, h, 28) binary → masked 7×7 A → f (b, c, h, 28)
//! is = masked 1×3 B (f) (b, 4c, h, 28)
//! for each row i: [o, f, i, g] = is_i + conv1d₃(h_{i−1}) (b, 4c, 28)
//!   c_i = σ(f)·c_{i−1} + σ(i)·tanh(g);  h_i = σ(o)·tanh(c_i)  (b, c, 28)
//! f + h (residual) → relu → 1×1 → relu → 1×1 → (b, 1, h, 28) logits

use candle_core::{Device, IndexOp, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::data::{PIXELS, SIDE};
use crate::error::Result;
use crate::layers::{
    bernoulli_nll, causal_mask, conv, init_conv, init_conv_rect, masked_conv, masked_conv_padded,
};
use crate::params::Params;
use crate::pixelcnn::crop_rows;
use crate::raster::RasterSampler;
use crate::train::Flow;

pub const KIND: &str = "row-lstm";

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RowLstmConfig {
    pub dataset: crate::data::DatasetKind,
    /// The hidden state's width (and the feature maps').
    pub hidden: usize,
}

impl RowLstmConfig {
    pub fn new(dataset: crate::data::DatasetKind) -> Self {
        Self {
            dataset,
            hidden: 32,
        }
    }

    pub fn check(&self) -> std::result::Result<(), String> {
        crate::params::check_range("hidden", self.hidden, 1, 256)
    }
}

pub struct RowLstm {
    pub config: RowLstmConfig,
    pub params: Params,
    mask_a: Tensor,   // (1, 1, 7, 7)
    mask_row: Tensor, // (1, 1, 1, 3): left and centre
}

/// The recurrent state after a row: (b, hidden, 28) each.
struct RowState {
    h: Tensor,
    c: Tensor,
}

impl RowLstm {
    pub fn new(config: RowLstmConfig, seed: u64) -> Result<Self> {
        config.check().map_err(crate::ImagesError::Invalid)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut params = Params::default();
        let c = config.hidden;
        init_conv_rect(&mut params, "in", 1, c, (7, 7), &mut rng)?;
        init_conv_rect(&mut params, "is", c, 4 * c, (1, 3), &mut rng)?;
        let bound = 1.0 / ((c * 3) as f32).sqrt();
        params.uniform("ss.weight", &[4 * c, c, 3], bound, &mut rng)?;
        // The forget gate's bias starts at 1, as is usual for LSTMs.
        let bias: Vec<f32> = (0..4 * c)
            .map(|i| if (c..2 * c).contains(&i) { 1.0 } else { 0.0 })
            .collect();
        params.set_new("ss.bias", Tensor::from_vec(bias, 4 * c, &Device::Cpu)?)?;
        init_conv(&mut params, "out1", c, c, 1, &mut rng)?;
        init_conv(&mut params, "out2", c, 1, 1, &mut rng)?;
        Ok(Self {
            config,
            params,
            mask_a: causal_mask(7, 7, false)?,
            mask_row: causal_mask(1, 3, true)?,
        })
    }

    /// The first layer's features (b, c, h, w) of binary `x` (b, 1, h, w).
    fn features(&self, x: &Tensor) -> Result<Tensor> {
        masked_conv(&self.params, "in", x, &self.mask_a)
    }

    /// The input-to-state part (b, 4c, h, w) of features (b, c, h, w).
    fn input_to_state(&self, features: &Tensor) -> Result<Tensor> {
        masked_conv(&self.params, "is", features, &self.mask_row)
    }

    /// One step down: the state after a row from that row's input-to-state
    /// part `is_row` (b, 4c, w) and the state above (none for the top row).
    fn step(&self, is_row: &Tensor, above: Option<&RowState>) -> Result<RowState> {
        let gates = match above {
            Some(above) => {
                let w = self.params.get("ss.weight")?; // (4c, c, 3)
                let b = self.params.get("ss.bias")?; // (4c)
                let ss = above
                    .h
                    .conv1d(w, 1, 1, 1, 1)?
                    .broadcast_add(&b.unsqueeze(1)?)?;
                (is_row + ss)?
            }
            None => is_row.broadcast_add(&self.params.get("ss.bias")?.unsqueeze(1)?)?,
        }; // (b, 4c, w)
        let chunks = gates.chunk(4, 1)?;
        let (o, f, i, g) = (&chunks[0], &chunks[1], &chunks[2], &chunks[3]);
        let sigmoid = candle_nn::ops::sigmoid;
        let fresh = (sigmoid(i)? * g.tanh()?)?;
        let c = match above {
            Some(above) => ((sigmoid(f)? * &above.c)? + fresh)?,
            None => fresh,
        };
        let h = (sigmoid(o)? * c.tanh()?)?;
        Ok(RowState { h, c })
    }

    /// The logits (b, 1, h, w) from the features and the hidden states.
    fn output(&self, features: &Tensor, hidden: &Tensor) -> Result<Tensor> {
        let p = &self.params;
        let h = (features + hidden)?.relu()?;
        let h = conv(p, "out1", &h, 0, 1)?.relu()?;
        conv(p, "out2", &h, 0, 1)
    }

    /// The logits (b, 1, h, w) of every pixel of binary images `x`
    /// (b, 1, h, w), each from the pixels before it.
    pub fn logits(&self, x: &Tensor) -> Result<Tensor> {
        let features = self.features(x)?; // (b, c, h, w)
        let is = self.input_to_state(&features)?; // (b, 4c, h, w)
        let mut rows = Vec::with_capacity(x.dim(2)?);
        let mut state: Option<RowState> = None;
        for r in 0..x.dim(2)? {
            let next = self.step(&is.i((.., .., r, ..))?, state.as_ref())?;
            rows.push(next.h.clone());
            state = Some(next);
        }
        let hidden = Tensor::stack(&rows, 2)?; // (b, c, h, w)
        self.output(&features, &hidden)
    }

    /// The NLL of each binary image `x` (b, 1, 28, 28), in nats: (b).
    pub fn nll(&self, x: &Tensor) -> Result<Tensor> {
        Ok(bernoulli_nll(&self.logits(x)?, x)?
            .flatten_from(1)?
            .sum(1)?)
    }
}

impl RasterSampler for RowLstm {
    fn draw(
        &self,
        n: usize,
        mut pick: impl FnMut(usize, usize, f32) -> f32,
        mut on_row: impl FnMut(usize, &[f32]) -> Flow,
    ) -> Result<Vec<f32>> {
        let mut canvas = vec![0f32; n * PIXELS];
        let mut above: Option<RowState> = None;
        for row in 0..SIDE {
            // The 7×7 sees 3 rows up; the row's own features come last.
            let top = row.saturating_sub(3);
            let mut state = None;
            for col in 0..SIDE {
                // The row and the 3 above it (zeros above the image) give
                // the row's features alone: (n, c, 1, w).
                let crop = crop_rows(&canvas, n, top, row - top + 1)?;
                let crop = crop.pad_with_zeros(2, 3 - (row - top), 0)?;
                let features = masked_conv_padded(&self.params, "in", &crop, &self.mask_a)?;
                let is_row = self.input_to_state(&features)?.squeeze(2)?; // (n, 4c, w)
                let next = self.step(&is_row, above.as_ref())?;
                let logits = self.output(&features, &next.h.unsqueeze(2)?)?; // (n, 1, 1, w)
                let logits = logits.i((.., 0, 0, col))?;
                let probs = candle_nn::ops::sigmoid(&logits)?.to_vec1::<f32>()?;
                for (i, p) in probs.iter().enumerate() {
                    let at = row * SIDE + col;
                    canvas[i * PIXELS + at] = pick(i, at, *p);
                }
                // No position of this row sees the row's last pixel, so the
                // state from the last column's pass is the row's state
                // (detached: sampling keeps no graph).
                state = Some(RowState {
                    h: next.h.detach(),
                    c: next.c.detach(),
                });
            }
            above = state;
            if on_row(row, &canvas).is_break() {
                break;
            }
        }
        Ok(canvas)
    }
}
