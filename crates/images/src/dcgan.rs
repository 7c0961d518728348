//! The DCGAN (Radford et al. 2016): a generator of transposed
//! convolutions and a discriminator of strided convolutions, following the
//! paper's rules — no pooling (strides instead), batch norm in both nets but
//! not at the generator's output or the discriminator's input, ReLU in the
//! generator with tanh at its output, LeakyReLU (0.2) in the discriminator.
//!
//! G: z (b, latent) → fc (b, 2c·7·7) → BN → relu → (b, 2c, 7, 7)
//!    → convT 4×4 /2 (b, c, 14, 14) → BN → relu → convT 4×4 /2 (b, 1, 28, 28) → tanh
//! D: x (b, 1, 28, 28) in [−1, 1] → conv 4×4 /2 (b, d, 14, 14) → leaky
//!    → conv 4×4 /2 (b, 2d, 7, 7) → BN → leaky → flatten → fc (b, 1), a logit

use candle_core::Tensor;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::Result;
use crate::layers::{
    batch_norm, conv, conv_transpose, init_batch_norm, init_conv, init_conv_transpose, init_linear,
    leaky_relu, linear,
};
use crate::params::Params;
use crate::rng::normal_tensor;

pub const KIND: &str = "dcgan";

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DcganConfig {
    pub dataset: crate::data::DatasetKind,
    pub latent: usize,
    pub generator_channels: usize,
    pub discriminator_channels: usize,
}

impl DcganConfig {
    /// Refuses sizes no model here has (a checkpoint's config is input).
    pub fn check(&self) -> std::result::Result<(), String> {
        crate::params::check_range("latent", self.latent, 1, 512)?;
        let channels = [self.generator_channels, self.discriminator_channels];
        crate::params::check_range("generator_channels", channels[0], 1, 512)?;
        crate::params::check_range("discriminator_channels", channels[1], 1, 512)
    }

    pub fn new(dataset: crate::data::DatasetKind) -> Self {
        Self {
            dataset,
            latent: 64,
            generator_channels: 64,
            discriminator_channels: 32,
        }
    }
}

pub struct Dcgan {
    pub config: DcganConfig,
    /// The generator's parameters are named `g.*`, the discriminator's `d.*`.
    pub params: Params,
}

impl Dcgan {
    pub fn new(config: DcganConfig, seed: u64) -> Result<Self> {
        config.check().map_err(crate::ImagesError::Invalid)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut p = Params::default();
        let (g, d) = (config.generator_channels, config.discriminator_channels);
        init_linear(&mut p, "g.fc", config.latent, 2 * g * 7 * 7, &mut rng)?;
        init_batch_norm(&mut p, "g.bn0", 2 * g)?;
        init_conv_transpose(&mut p, "g.up1", 2 * g, g, 4, &mut rng)?;
        init_batch_norm(&mut p, "g.bn1", g)?;
        init_conv_transpose(&mut p, "g.up2", g, 1, 4, &mut rng)?;
        init_conv(&mut p, "d.conv1", 1, d, 4, &mut rng)?;
        init_conv(&mut p, "d.conv2", d, 2 * d, 4, &mut rng)?;
        init_batch_norm(&mut p, "d.bn2", 2 * d)?;
        init_linear(&mut p, "d.fc", 2 * d * 7 * 7, 1, &mut rng)?;
        Ok(Self { config, params: p })
    }

    /// Images (b, 1, 28, 28) in [−1, 1] from latents `z` (b, latent).
    pub fn generate(&self, z: &Tensor, training: bool) -> Result<Tensor> {
        let p = &self.params;
        let g = self.config.generator_channels;
        let b = z.dim(0)?;
        let h = linear(p, "g.fc", z)?.reshape((b, 2 * g, 7, 7))?;
        let h = batch_norm(p, "g.bn0", &h, training)?.relu()?;
        let h = conv_transpose(p, "g.up1", &h, 1, 2)?; // (b, g, 14, 14)
        let h = batch_norm(p, "g.bn1", &h, training)?.relu()?;
        Ok(conv_transpose(p, "g.up2", &h, 1, 2)?.tanh()?) // (b, 1, 28, 28)
    }

    /// The discriminator's logit (b, 1) that images `x` (b, 1, 28, 28) in
    /// [−1, 1] are real.
    pub fn discriminate(&self, x: &Tensor, training: bool) -> Result<Tensor> {
        let p = &self.params;
        let h = leaky_relu(&conv(p, "d.conv1", x, 1, 2)?, 0.2)?; // (b, d, 14, 14)
        let h = conv(p, "d.conv2", &h, 1, 2)?; // (b, 2d, 7, 7)
        let h = leaky_relu(&batch_norm(p, "d.bn2", &h, training)?, 0.2)?;
        linear(p, "d.fc", &h.flatten_from(1)?)
    }

    /// The latents of seed `seed`: `n` rows of N(0, I).
    pub fn latents(&self, n: usize, seed: u64) -> Result<Tensor> {
        normal_tensor(
            &[n, self.config.latent],
            &mut ChaCha8Rng::seed_from_u64(seed),
        )
    }

    /// Pixels (n × 784 in [0, 1]) generated from latents `z`.
    pub fn pixels(&self, z: &Tensor) -> Result<Vec<f32>> {
        let x = self.generate(z, false)?;
        Ok(((x + 1.0)? * 0.5)?.flatten_all()?.to_vec1::<f32>()?)
    }

    /// `n` samples (n × 784 in [0, 1]), seeded.
    pub fn sample(&self, n: usize, seed: u64) -> Result<Vec<f32>> {
        self.pixels(&self.latents(n, seed)?)
    }

    /// `steps` images along the straight line between the latents of two
    /// seeds (the first and last are the seeds' own samples).
    pub fn interpolate(&self, seed_a: u64, seed_b: u64, steps: usize) -> Result<Vec<f32>> {
        let a = self.latents(1, seed_a)?;
        let b = self.latents(1, seed_b)?;
        let rows = (0..steps)
            .map(|i| {
                let t = i as f64 / (steps.max(2) - 1) as f64;
                Ok(((&a * (1.0 - t))? + (&b * t)?)?)
            })
            .collect::<Result<Vec<_>>>()?;
        self.pixels(&Tensor::cat(&rows, 0)?)
    }
}

/// Pixels in [0, 1] as the discriminator's input range, [−1, 1].
pub fn to_signed(x: &Tensor) -> Result<Tensor> {
    Ok(x.affine(2.0, -1.0)?)
}
