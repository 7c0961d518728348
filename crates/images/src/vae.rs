//! The variational autoencoder (Kingma & Welling 2014): an MLP encoder to a
//! diagonal Gaussian q(z|x), a reparameterised sample z = μ + σ·ε, and an
//! MLP decoder to Bernoulli pixel probabilities p(x|z). Its loss is the
//! negative ELBO, in nats per image: the pixels' binary cross-entropy plus
//! KL(q(z|x) ‖ N(0, I)).
//!
//! x (b, 784) → enc (400) → relu → μ, log σ² (b, latent)
//! z (b, latent) → dec1 (400) → relu → dec2 (784) → logits of p(x|z)

use candle_core::{Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::data::PIXELS;
use crate::error::Result;
use crate::layers::{bernoulli_nll, init_linear, linear};
use crate::params::Params;
use crate::rng::normal_tensor;

pub const KIND: &str = "vae";

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VaeConfig {
    pub dataset: crate::data::DatasetKind,
    pub hidden: usize,
    pub latent: usize,
}

impl VaeConfig {
    /// Refuses sizes no model here has (a checkpoint's config is input).
    pub fn check(&self) -> std::result::Result<(), String> {
        crate::params::check_range("hidden", self.hidden, 1, 4096)?;
        crate::params::check_range("latent", self.latent, 1, 512)
    }

    pub fn new(dataset: crate::data::DatasetKind) -> Self {
        Self {
            dataset,
            hidden: 400,
            latent: 20,
        }
    }
}

pub struct Vae {
    pub config: VaeConfig,
    pub params: Params,
}

/// One pass: the decoder's logits and the posterior's parameters.
pub struct VaePass {
    pub logits: Tensor, // (b, 784)
    pub mu: Tensor,     // (b, latent)
    pub logvar: Tensor, // (b, latent)
}

impl Vae {
    pub fn new(config: VaeConfig, seed: u64) -> Result<Self> {
        config.check().map_err(crate::ImagesError::Invalid)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut params = Params::default();
        let (h, z) = (config.hidden, config.latent);
        init_linear(&mut params, "enc", PIXELS, h, &mut rng)?;
        init_linear(&mut params, "enc_mu", h, z, &mut rng)?;
        init_linear(&mut params, "enc_logvar", h, z, &mut rng)?;
        init_linear(&mut params, "dec1", z, h, &mut rng)?;
        init_linear(&mut params, "dec2", h, PIXELS, &mut rng)?;
        Ok(Self { config, params })
    }

    /// μ and log σ² (b, latent) of q(z|x) for images `x` (b, 784).
    pub fn encode(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let h = linear(&self.params, "enc", x)?.relu()?; // (b, hidden)
        Ok((
            linear(&self.params, "enc_mu", &h)?,
            linear(&self.params, "enc_logvar", &h)?,
        ))
    }

    /// The logits (b, 784) of p(x|z) for latents `z` (b, latent).
    pub fn decode_logits(&self, z: &Tensor) -> Result<Tensor> {
        let h = linear(&self.params, "dec1", z)?.relu()?; // (b, hidden)
        linear(&self.params, "dec2", &h)
    }

    /// Pixel probabilities (b, 784) for latents `z`.
    pub fn decode(&self, z: &Tensor) -> Result<Tensor> {
        Ok(candle_nn::ops::sigmoid(&self.decode_logits(z)?)?)
    }

    /// Encodes `x`, samples z = μ + σ·ε with `eps` (b, latent), decodes.
    pub fn pass(&self, x: &Tensor, eps: &Tensor) -> Result<VaePass> {
        let (mu, logvar) = self.encode(x)?;
        let z = (&mu + (logvar.affine(0.5, 0.0)?.exp()? * eps)?)?;
        Ok(VaePass {
            logits: self.decode_logits(&z)?,
            mu,
            logvar,
        })
    }

    /// The negative ELBO of each image (b), in nats, for binary `x`.
    pub fn neg_elbo(&self, x: &Tensor, eps: &Tensor) -> Result<Tensor> {
        let pass = self.pass(x, eps)?;
        let reconstruction = bernoulli_nll(&pass.logits, x)?.sum(1)?;
        // KL(N(μ, σ²) ‖ N(0, 1)) = ½ Σ (μ² + σ² − 1 − log σ²).
        let kl = ((pass.mu.sqr()? + pass.logvar.exp()?)? - 1.0)?;
        let kl = (kl - &pass.logvar)?.sum(1)?.affine(0.5, 0.0)?;
        Ok((reconstruction + kl)?)
    }

    /// `n` samples (n × 784 pixel probabilities) from z ~ N(0, I), seeded.
    pub fn sample(&self, n: usize, seed: u64) -> Result<Vec<f32>> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let z = normal_tensor(&[n, self.config.latent], &mut rng)?;
        Ok(self.decode(&z)?.flatten_all()?.to_vec1::<f32>()?)
    }

    /// A latent walk: `cols` × `rows` decodings (pixel probabilities, row by
    /// row) on a grid `spacing` apart centred on (`x`, `y`) in the first two
    /// latent dimensions, the others at 0 (the prior's mean). Columns go
    /// across the first dimension, rows down the second.
    pub fn walk(
        &self,
        x: f32,
        y: f32,
        (cols, rows): (usize, usize),
        spacing: f32,
    ) -> Result<Vec<f32>> {
        let latent = self.config.latent;
        let offset = |i: usize, n: usize| (i as f32 - (n as f32 - 1.0) / 2.0) * spacing;
        let mut z = vec![0f32; cols * rows * latent];
        for row in 0..rows {
            for col in 0..cols {
                let at = (row * cols + col) * latent;
                z[at] = x + offset(col, cols);
                if latent > 1 {
                    z[at + 1] = y + offset(row, rows);
                }
            }
        }
        let z = Tensor::from_vec(z, (cols * rows, latent), &Device::Cpu)?;
        Ok(self.decode(&z)?.flatten_all()?.to_vec1::<f32>()?)
    }

    /// The reconstruction (pixel probabilities) of images `pixels` through
    /// their posterior means.
    pub fn reconstruct(&self, pixels: &[f32]) -> Result<Vec<f32>> {
        let n = pixels.len() / PIXELS;
        let x = Tensor::from_slice(&pixels[..n * PIXELS], (n, PIXELS), &Device::Cpu)?;
        let (mu, _) = self.encode(&x)?;
        Ok(self.decode(&mu)?.flatten_all()?.to_vec1::<f32>()?)
    }
}
