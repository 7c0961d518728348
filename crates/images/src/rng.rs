//! Seeded noise as tensors, so a seed gives the same samples everywhere
//! (candle's CPU generator cannot be seeded).

use candle_core::{Device, Tensor};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::error::Result;

/// Standard normal values in `shape` (Box–Muller).
pub fn normal_tensor(shape: &[usize], rng: &mut ChaCha8Rng) -> Result<Tensor> {
    let n: usize = shape.iter().product();
    Ok(Tensor::from_vec(normals(n, rng), shape, &Device::Cpu)?)
}

pub fn normals(n: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let mut out = Vec::with_capacity(n + 1);
    while out.len() < n {
        let u1: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
        let u2: f64 = rng.random();
        let r = (-2.0 * u1.ln()).sqrt();
        let a = std::f64::consts::TAU * u2;
        out.push((r * a.cos()) as f32);
        out.push((r * a.sin()) as f32);
    }
    out.truncate(n);
    out
}

/// Each pixel 1 with its value as probability, else 0.
pub fn binarize(pixels: &[f32], rng: &mut ChaCha8Rng) -> Vec<f32> {
    pixels
        .iter()
        .map(|&p| if rng.random::<f32>() < p { 1.0 } else { 0.0 })
        .collect()
}

/// The seed the test part is binarized with, so every checkpoint of a
/// binary model is measured on the same bits.
pub const TEST_BINARIZE_SEED: u64 = 0xB1;

/// The test part's pixels, binarized with [`TEST_BINARIZE_SEED`].
pub fn binarized_test_part(split: &crate::data::Split) -> Vec<f32> {
    use rand::SeedableRng;
    binarize(
        &split.images,
        &mut ChaCha8Rng::seed_from_u64(TEST_BINARIZE_SEED),
    )
}
