//! The denoising diffusion model (Ho et al. 2020): images are noised in
//! `timesteps` steps along a linear β schedule, and a small U-Net learns to
//! predict the noise ε in x_t = √ᾱ_t·x₀ + √(1−ᾱ_t)·ε from x_t and t. Sampling
//! walks back from pure noise: every step when ancestral (the paper's
//! sampler, x₀ clipped to [−1, 1] as in its code), or along a shorter
//! subsequence of steps by DDIM (Song et al. 2021; η = 0 is deterministic,
//! η = 1 ancestral-like). Optionally class-conditional with classifier-free
//! guidance (Ho & Salimans 2022): the label is dropped a tenth of the time
//! in training, and a sample mixes the two predictions,
//! ε = (1 + w)·ε(x, t, y) − w·ε(x, t, ∅). The weights are kept twice: the
//! trained ones (`net.*`) and their exponential moving average (`ema.*`),
//! which is what samples come from.
//!
//! The U-Net, c = `channels` (t and the label enter every block as a 4c
//! embedding added to its features):
//!   x (b, 1, 28, 28) → in 3×3 (b, c, 28, 28) → d1 res → s1
//!   → down1 3×3 /2 (b, 2c, 14, 14) → d2 res → s2
//!   → down2 3×3 /2 (b, 2c, 7, 7) → mid res
//!   → ×2 → up2 3×3 (b, 2c, 14, 14) ‖ s2 (b, 4c, 14, 14) → u2 res (b, 2c, 14, 14)
//!   → ×2 → up1 3×3 (b, c, 28, 28) ‖ s1 (b, 2c, 28, 28) → u1 res (b, c, 28, 28)
//!   → norm → silu → out 3×3 → ε̂ (b, 1, 28, 28)
//! A res block: norm → silu → 3×3 → + embedding → norm → silu → 3×3, plus
//! its input (through a 1×1 when the widths differ).

use candle_core::{Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::data::{CLASSES, SIDE};
use crate::error::Result;
use crate::layers::{conv, group_norm, init_conv, init_group_norm, init_linear, linear, silu};
use crate::params::{check_range, Params};
use crate::rng::normal_tensor;
use crate::train::Flow;

pub const KIND: &str = "ddpm";
/// The label a class-conditional model is given for "no class".
pub const NO_CLASS: u32 = CLASSES as u32;
/// Channel groups in every group norm.
const GROUPS: usize = 4;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DdpmConfig {
    pub dataset: crate::data::DatasetKind,
    /// The U-Net's base width c (a multiple of 4).
    pub channels: usize,
    /// Diffusion steps T.
    pub timesteps: usize,
    pub beta_start: f64,
    pub beta_end: f64,
    /// Whether the U-Net is told the class (with a learned "no class").
    pub class_conditional: bool,
}

impl DdpmConfig {
    pub fn new(dataset: crate::data::DatasetKind) -> Self {
        Self {
            dataset,
            channels: 16,
            timesteps: 1000,
            beta_start: 1e-4,
            beta_end: 0.02,
            class_conditional: true,
        }
    }

    pub fn check(&self) -> std::result::Result<(), String> {
        check_range("channels", self.channels, 4, 256)?;
        if !self.channels.is_multiple_of(GROUPS) {
            return Err(format!(
                "`channels` is {} (expected a multiple of {GROUPS})",
                self.channels
            ));
        }
        check_range("timesteps", self.timesteps, 2, 10_000)?;
        let good = |b: f64| b.is_finite() && b > 0.0 && b < 1.0;
        if !(good(self.beta_start) && good(self.beta_end) && self.beta_start <= self.beta_end) {
            return Err(format!(
                "`beta_start` {} and `beta_end` {} (expected 0 < start ≤ end < 1)",
                self.beta_start, self.beta_end
            ));
        }
        Ok(())
    }
}

/// How to sample.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleOptions {
    /// Denoising steps: all `timesteps` (ancestral when `eta` is 1) or
    /// fewer, evenly spaced (DDIM).
    pub steps: usize,
    /// 0: DDIM's deterministic path; 1: fresh noise every step as DDPM.
    pub eta: f64,
    /// Classifier-free guidance weight w (class-conditional models only).
    pub guidance: f64,
}

impl SampleOptions {
    /// The paper's sampler: every step, fresh noise each time.
    pub fn ancestral(config: &DdpmConfig) -> Self {
        Self {
            steps: config.timesteps,
            eta: 1.0,
            guidance: 2.0,
        }
    }

    /// DDIM in 50 steps, deterministic: what `eval` and the pane use.
    pub fn fast() -> Self {
        Self {
            steps: 50,
            eta: 0.0,
            guidance: 2.0,
        }
    }
}

pub struct Ddpm {
    pub config: DdpmConfig,
    /// The trained U-Net under `net.`, its moving average under `ema.`.
    pub params: Params,
    /// ᾱ_t = Π_{s≤t} (1 − β_s), t = 0 … T−1.
    pub alphas_bar: Vec<f64>,
}

/// Which copy of the weights a pass uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weights {
    Trained,
    Average,
}

impl Weights {
    fn prefix(self) -> &'static str {
        match self {
            Weights::Trained => "net",
            Weights::Average => "ema",
        }
    }
}

/// One step of a sampling run, for a view that scrubs through them.
pub struct Frame<'a> {
    /// 1-based: this many steps of `of` are done.
    pub step: usize,
    pub of: usize,
    /// The diffusion time t reached.
    pub t: usize,
    /// x_t as pixels in [0, 1] (n × 784).
    pub noisy: &'a [f32],
    /// The model's guess of x₀ at this step, as pixels (n × 784).
    pub denoised: &'a [f32],
}

impl Ddpm {
    pub fn new(config: DdpmConfig, seed: u64) -> Result<Self> {
        config.check().map_err(crate::ImagesError::Invalid)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut p = Params::default();
        let c = config.channels;
        let e = 4 * c;
        init_linear(&mut p, "net.time1", c, e, &mut rng)?;
        init_linear(&mut p, "net.time2", e, e, &mut rng)?;
        if config.class_conditional {
            p.uniform("net.class", &[CLASSES + 1, e], 1.0, &mut rng)?;
        }
        init_conv(&mut p, "net.in", 1, c, 3, &mut rng)?;
        init_res(&mut p, "net.d1", c, c, e, &mut rng)?;
        init_conv(&mut p, "net.down1", c, 2 * c, 3, &mut rng)?;
        init_res(&mut p, "net.d2", 2 * c, 2 * c, e, &mut rng)?;
        init_conv(&mut p, "net.down2", 2 * c, 2 * c, 3, &mut rng)?;
        init_res(&mut p, "net.mid", 2 * c, 2 * c, e, &mut rng)?;
        init_conv(&mut p, "net.up2", 2 * c, 2 * c, 3, &mut rng)?;
        init_res(&mut p, "net.u2", 4 * c, 2 * c, e, &mut rng)?;
        init_conv(&mut p, "net.up1", 2 * c, c, 3, &mut rng)?;
        init_res(&mut p, "net.u1", 2 * c, c, e, &mut rng)?;
        init_group_norm(&mut p, "net.out_norm", c)?;
        init_conv(&mut p, "net.out", c, 1, 3, &mut rng)?;
        p.duplicate_prefix("net.", "ema.")?;
        let mut alphas_bar = Vec::with_capacity(config.timesteps);
        let mut product = 1.0;
        for t in 0..config.timesteps {
            product *= 1.0 - beta(&config, t);
            alphas_bar.push(product);
        }
        Ok(Self {
            config,
            params: p,
            alphas_bar,
        })
    }

    /// The sinusoidal embedding (b, c) of diffusion times `t`.
    fn time_features(&self, t: &[usize]) -> Result<Tensor> {
        let c = self.config.channels;
        let half = c / 2;
        let mut values = Vec::with_capacity(t.len() * c);
        for &step in t {
            let frequencies = (0..half).map(|i| (-(10_000f64.ln()) * i as f64 / half as f64).exp());
            let angles: Vec<f64> = frequencies.map(|f| step as f64 * f).collect();
            values.extend(angles.iter().map(|a| a.sin() as f32));
            values.extend(angles.iter().map(|a| a.cos() as f32));
            values.extend(std::iter::repeat_n(0f32, c - 2 * half));
        }
        Ok(Tensor::from_vec(values, (t.len(), c), &Device::Cpu)?)
    }

    /// The predicted noise ε̂ (b, 1, 28, 28) for `x` (b, 1, 28, 28) at times
    /// `t` (b), told `labels` (b; [`NO_CLASS`] for none) when conditional.
    pub fn predict_noise(
        &self,
        weights: Weights,
        x: &Tensor,
        t: &[usize],
        labels: &[u32],
    ) -> Result<Tensor> {
        let p = &self.params;
        let w = weights.prefix();
        let n = |s: &str| format!("{w}.{s}");
        let time = linear(p, &n("time1"), &self.time_features(t)?)?;
        let mut embedding = linear(p, &n("time2"), &silu(&time)?)?; // (b, 4c)
        if self.config.class_conditional {
            let ids = Tensor::from_slice(labels, labels.len(), &Device::Cpu)?;
            embedding = (embedding + p.get(&n("class"))?.index_select(&ids, 0)?)?;
        }
        let e = &embedding;
        let h = conv(p, &n("in"), x, 1, 1)?; // (b, c, 28, 28)
        let s1 = res(p, &n("d1"), &h, e)?; // (b, c, 28, 28)
        let h = conv(p, &n("down1"), &s1, 1, 2)?; // (b, 2c, 14, 14)
        let s2 = res(p, &n("d2"), &h, e)?; // (b, 2c, 14, 14)
        let h = conv(p, &n("down2"), &s2, 1, 2)?; // (b, 2c, 7, 7)
        let h = res(p, &n("mid"), &h, e)?; // (b, 2c, 7, 7)
        let h = conv(p, &n("up2"), &h.upsample_nearest2d(14, 14)?, 1, 1)?; // (b, 2c, 14, 14)
        let h = res(p, &n("u2"), &Tensor::cat(&[&h, &s2], 1)?, e)?; // (b, 2c, 14, 14)
        let h = conv(p, &n("up1"), &h.upsample_nearest2d(28, 28)?, 1, 1)?; // (b, c, 28, 28)
        let h = res(p, &n("u1"), &Tensor::cat(&[&h, &s1], 1)?, e)?; // (b, c, 28, 28)
        let h = silu(&group_norm(p, &n("out_norm"), &h, GROUPS)?)?;
        conv(p, &n("out"), &h, 1, 1) // (b, 1, 28, 28)
    }

    /// The training loss of images `x0` (b, 1, 28, 28) in [−1, 1]: the mean
    /// squared error of the predicted noise at times `t` with noise `eps`.
    pub fn loss(&self, x0: &Tensor, t: &[usize], eps: &Tensor, labels: &[u32]) -> Result<Tensor> {
        let xt = self.noised(x0, t, eps)?;
        let predicted = self.predict_noise(Weights::Trained, &xt, t, labels)?;
        Ok((predicted - eps)?.sqr()?.mean_all()?)
    }

    /// x_t = √ᾱ_t·x₀ + √(1−ᾱ_t)·ε, per image.
    pub fn noised(&self, x0: &Tensor, t: &[usize], eps: &Tensor) -> Result<Tensor> {
        let b = t.len();
        let column = |f: &dyn Fn(f64) -> f64| -> Result<Tensor> {
            let v: Vec<f32> = t.iter().map(|&s| f(self.alphas_bar[s]) as f32).collect();
            Ok(Tensor::from_vec(v, (b, 1, 1, 1), &Device::Cpu)?)
        };
        let signal = column(&|ab| ab.sqrt())?;
        let noise = column(&|ab| (1.0 - ab).sqrt())?;
        Ok((x0.broadcast_mul(&signal)? + eps.broadcast_mul(&noise)?)?)
    }

    /// Moves the average a `1 − decay` share of the way to the trained
    /// weights.
    pub fn update_average(&self, decay: f64) -> Result<()> {
        self.params.blend_prefix("ema.", "net.", decay)
    }

    /// The classes of `n` samples: 0, 1, …, 9, 0, … (none if
    /// unconditional).
    pub fn sample_classes(&self, n: usize) -> Vec<u32> {
        if self.config.class_conditional {
            (0..n).map(|i| (i % CLASSES) as u32).collect()
        } else {
            vec![NO_CLASS; n]
        }
    }

    /// `n` samples (n × 784 pixels in [0, 1]) by `options`, seeded.
    pub fn sample(&self, n: usize, seed: u64, options: &SampleOptions) -> Result<Vec<f32>> {
        self.sample_frames(n, seed, options, |_| Flow::Continue(()))
    }

    /// `n` samples; `on_frame` sees every step (and may stop the run, which
    /// returns the current guess of x₀).
    pub fn sample_frames(
        &self,
        n: usize,
        seed: u64,
        options: &SampleOptions,
        mut on_frame: impl FnMut(&Frame<'_>) -> Flow,
    ) -> Result<Vec<f32>> {
        let big_t = self.config.timesteps;
        let steps = options.steps.clamp(2, big_t);
        // The times visited, from T−1 down: evenly spaced, ending at 0.
        let times: Vec<usize> = (0..steps)
            .rev()
            .map(|i| i * (big_t - 1) / (steps - 1))
            .collect();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let labels = self.sample_classes(n);
        let mut x = normal_tensor(&[n, 1, SIDE, SIDE], &mut rng)?;
        let mut x0 = x.clone();
        for (i, &t) in times.iter().enumerate() {
            // No gradients flow in sampling: each step's tensors let go of
            // the graph behind them, or memory grows with every step.
            let eps = self
                .guided_noise(&x, t, &labels, options.guidance)?
                .detach();
            let ab = self.alphas_bar[t];
            // x₀ = (x_t − √(1−ᾱ)·ε) / √ᾱ, clipped to the pixel range.
            x0 = ((&x - (&eps * (1.0 - ab).sqrt())?)? / ab.sqrt())?
                .clamp(-1f32, 1f32)?
                .detach();
            let previous = times.get(i + 1).map(|&s| self.alphas_bar[s]);
            x = match previous {
                None => x0.clone(),
                Some(ab_prev) => {
                    // DDIM's update; the noise direction is recomputed
                    // from the clipped x₀.
                    let sigma = ddim_sigma(ab, ab_prev, options.eta);
                    let eps = ((&x - (&x0 * ab.sqrt())?)? / (1.0 - ab).sqrt())?;
                    let direction = (1.0 - ab_prev - sigma * sigma).max(0.0).sqrt();
                    let mean = ((&x0 * ab_prev.sqrt())? + (eps * direction)?)?;
                    if sigma > 0.0 {
                        let z = normal_tensor(&[n, 1, SIDE, SIDE], &mut rng)?;
                        (mean + (z * sigma)?)?.detach()
                    } else {
                        mean.detach()
                    }
                }
            };
            let noisy = to_pixels(&x)?;
            let denoised = to_pixels(&x0)?;
            let frame = Frame {
                step: i + 1,
                of: times.len(),
                t,
                noisy: &noisy,
                denoised: &denoised,
            };
            if on_frame(&frame).is_break() {
                break;
            }
        }
        to_pixels(&x0)
    }

    /// ε̂ with classifier-free guidance (none for an unconditional model
    /// or w = 0).
    fn guided_noise(&self, x: &Tensor, t: usize, labels: &[u32], w: f64) -> Result<Tensor> {
        let n = labels.len();
        if !self.config.class_conditional || w == 0.0 {
            return self.predict_noise(Weights::Average, x, &vec![t; n], labels);
        }
        // One pass over both: the labelled half, then the unlabelled.
        let both = Tensor::cat(&[x, x], 0)?;
        let mut all = labels.to_vec();
        all.extend(std::iter::repeat_n(NO_CLASS, n));
        let eps = self.predict_noise(Weights::Average, &both, &vec![t; 2 * n], &all)?;
        let (with, without) = (eps.narrow(0, 0, n)?, eps.narrow(0, n, n)?);
        Ok(((with * (1.0 + w))? - (without * w)?)?)
    }

    /// A diffusion time per image for a training step, uniform in 0 … T−1.
    pub fn random_times(&self, n: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
        (0..n)
            .map(|_| rng.random_range(0..self.config.timesteps))
            .collect()
    }
}

/// The noise DDIM adds stepping from ᾱ to ᾱ' (an earlier time):
/// σ = η·√((1−ᾱ')/(1−ᾱ)·(1−ᾱ/ᾱ')). With η = 1 over consecutive steps it is
/// DDPM's posterior deviation √β̃_t.
pub fn ddim_sigma(ab: f64, ab_prev: f64, eta: f64) -> f64 {
    eta * ((1.0 - ab_prev) / (1.0 - ab) * (1.0 - ab / ab_prev))
        .max(0.0)
        .sqrt()
}

/// β_t of the linear schedule.
pub fn beta(config: &DdpmConfig, t: usize) -> f64 {
    let fraction = t as f64 / (config.timesteps - 1).max(1) as f64;
    config.beta_start + (config.beta_end - config.beta_start) * fraction
}

/// [−1, 1] → pixels in [0, 1] (n × 784).
fn to_pixels(x: &Tensor) -> Result<Vec<f32>> {
    let v = ((x.clamp(-1f32, 1f32)? + 1.0)? * 0.5)?;
    Ok(v.flatten_all()?.to_vec1::<f32>()?)
}

fn init_res(
    p: &mut Params,
    name: &str,
    cin: usize,
    cout: usize,
    embedding: usize,
    rng: &mut ChaCha8Rng,
) -> Result<()> {
    init_group_norm(p, &format!("{name}.norm1"), cin)?;
    init_conv(p, &format!("{name}.conv1"), cin, cout, 3, rng)?;
    init_linear(p, &format!("{name}.time"), embedding, cout, rng)?;
    init_group_norm(p, &format!("{name}.norm2"), cout)?;
    init_conv(p, &format!("{name}.conv2"), cout, cout, 3, rng)?;
    if cin != cout {
        init_conv(p, &format!("{name}.skip"), cin, cout, 1, rng)?;
    }
    Ok(())
}

/// A residual block: (b, cin, h, w) and the embedding (b, e) → (b, cout,
/// h, w).
fn res(p: &Params, name: &str, x: &Tensor, embedding: &Tensor) -> Result<Tensor> {
    let h = silu(&group_norm(p, &format!("{name}.norm1"), x, GROUPS)?)?;
    let h = conv(p, &format!("{name}.conv1"), &h, 1, 1)?; // (b, cout, h, w)
    let shift = linear(p, &format!("{name}.time"), &silu(embedding)?)?; // (b, cout)
    let h = h.broadcast_add(&shift.unsqueeze(2)?.unsqueeze(3)?)?;
    let h = silu(&group_norm(p, &format!("{name}.norm2"), &h, GROUPS)?)?;
    let h = conv(p, &format!("{name}.conv2"), &h, 1, 1)?;
    let skip = if p.has(&format!("{name}.skip.weight")) {
        conv(p, &format!("{name}.skip"), x, 0, 1)?
    } else {
        x.clone()
    };
    Ok((h + skip)?)
}
