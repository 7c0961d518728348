//! The CNN classifier: two convolution + max-pool stages and two fully
//! connected layers. It is the lab's judge: its softmax labels generated
//! samples, and its 128 penultimate features are where the Fréchet
//! distance of a generator's samples is measured.
//!
//! (b, 1, 28, 28) → conv 5×5, 16 → relu → pool 2 → (b, 16, 14, 14)
//! → conv 5×5, 32 → relu → pool 2 → (b, 32, 7, 7) → flatten (b, 1568)
//! → fc 128 → relu (the features) → fc 10 (the logits).

use candle_core::{Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::data::{CLASSES, PIXELS, SIDE};
use crate::error::Result;
use crate::layers::{conv, init_conv, init_linear, linear};
use crate::params::Params;

pub const KIND: &str = "cnn";
pub const FEATURES: usize = 128;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClassifierConfig {
    pub dataset: crate::data::DatasetKind,
    pub channels: [usize; 2],
    pub hidden: usize,
}

impl ClassifierConfig {
    /// Refuses sizes no model here has (a checkpoint's config is input).
    pub fn check(&self) -> std::result::Result<(), String> {
        crate::params::check_range("channels[0]", self.channels[0], 1, 256)?;
        crate::params::check_range("channels[1]", self.channels[1], 1, 256)?;
        crate::params::check_range("hidden", self.hidden, 1, 4096)
    }

    pub fn new(dataset: crate::data::DatasetKind) -> Self {
        Self {
            dataset,
            channels: [16, 32],
            hidden: FEATURES,
        }
    }
}

pub struct Classifier {
    pub config: ClassifierConfig,
    pub params: Params,
}

impl Classifier {
    /// A fresh classifier, initialised from `seed`.
    pub fn new(config: ClassifierConfig, seed: u64) -> Result<Self> {
        config.check().map_err(crate::ImagesError::Invalid)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut params = Params::default();
        let [c1, c2] = config.channels;
        init_conv(&mut params, "conv1", 1, c1, 5, &mut rng)?;
        init_conv(&mut params, "conv2", c1, c2, 5, &mut rng)?;
        init_linear(&mut params, "fc1", c2 * 7 * 7, config.hidden, &mut rng)?;
        init_linear(&mut params, "fc2", config.hidden, CLASSES, &mut rng)?;
        Ok(Self { config, params })
    }

    /// The penultimate features (b, hidden) of images `x` (b, 1, 28, 28).
    pub fn features(&self, x: &Tensor) -> Result<Tensor> {
        let p = &self.params;
        let h = conv(p, "conv1", x, 2, 1)?.relu()?.max_pool2d(2)?; // (b, c1, 14, 14)
        let h = conv(p, "conv2", &h, 2, 1)?.relu()?.max_pool2d(2)?; // (b, c2, 7, 7)
        let h = h.flatten_from(1)?; // (b, c2·49)
        Ok(linear(p, "fc1", &h)?.relu()?) // (b, hidden)
    }

    /// The logits (b, 10) of images `x` (b, 1, 28, 28).
    pub fn logits(&self, x: &Tensor) -> Result<Tensor> {
        linear(&self.params, "fc2", &self.features(x)?)
    }

    /// The logits in training: each feature dropped with probability
    /// [`DROPOUT`] (the rest scaled up to keep the mean), from `rng`.
    pub fn logits_dropped(&self, x: &Tensor, rng: &mut ChaCha8Rng) -> Result<Tensor> {
        use rand::Rng;
        let features = self.features(x)?; // (b, hidden)
        let keep = 1.0 - DROPOUT;
        let mask: Vec<f32> = (0..features.elem_count())
            .map(|_| {
                if rng.random::<f32>() < keep {
                    1.0 / keep
                } else {
                    0.0
                }
            })
            .collect();
        let mask = Tensor::from_vec(mask, features.dims(), &Device::Cpu)?;
        linear(&self.params, "fc2", &(features * mask)?)
    }
}

/// The share of features dropped while training.
pub const DROPOUT: f32 = 0.3;

/// Images (n × 784 in [0, 1]) as a (n, 1, 28, 28) tensor.
pub fn images_tensor(pixels: &[f32]) -> Result<Tensor> {
    let n = pixels.len() / PIXELS;
    Ok(Tensor::from_slice(
        &pixels[..n * PIXELS],
        (n, 1, SIDE, SIDE),
        &Device::Cpu,
    )?)
}
