//! The few layers the models share, as functions over named parameters:
//! convolution, transposed convolution, fully connected, batch norm, and
//! their seeded initialisation (uniform in ±1/√fan_in, PyTorch's default).

use candle_core::{Tensor, D};
use rand_chacha::ChaCha8Rng;

use crate::error::Result;
use crate::params::Params;

/// Adds a convolution `name` (`name.weight` (out, in, k, k), `name.bias`
/// (out)).
pub fn init_conv(
    p: &mut Params,
    name: &str,
    cin: usize,
    cout: usize,
    k: usize,
    rng: &mut ChaCha8Rng,
) -> Result<()> {
    let bound = 1.0 / ((cin * k * k) as f32).sqrt();
    p.uniform(&format!("{name}.weight"), &[cout, cin, k, k], bound, rng)?;
    p.uniform(&format!("{name}.bias"), &[cout], bound, rng)
}

/// Adds a transposed convolution `name` (`name.weight` (in, out, k, k),
/// `name.bias` (out)).
pub fn init_conv_transpose(
    p: &mut Params,
    name: &str,
    cin: usize,
    cout: usize,
    k: usize,
    rng: &mut ChaCha8Rng,
) -> Result<()> {
    let bound = 1.0 / ((cout * k * k) as f32).sqrt();
    p.uniform(&format!("{name}.weight"), &[cin, cout, k, k], bound, rng)?;
    p.uniform(&format!("{name}.bias"), &[cout], bound, rng)
}

/// Adds a fully connected layer `name` (`name.weight` (out, in),
/// `name.bias` (out)).
pub fn init_linear(
    p: &mut Params,
    name: &str,
    fan_in: usize,
    out: usize,
    rng: &mut ChaCha8Rng,
) -> Result<()> {
    let bound = 1.0 / (fan_in as f32).sqrt();
    p.uniform(&format!("{name}.weight"), &[out, fan_in], bound, rng)?;
    p.uniform(&format!("{name}.bias"), &[out], bound, rng)
}

/// (b, cin, h, w) → (b, cout, h', w'), stride 1 unless given.
pub fn conv(p: &Params, name: &str, x: &Tensor, padding: usize, stride: usize) -> Result<Tensor> {
    let w = p.get(&format!("{name}.weight"))?;
    let b = p.get(&format!("{name}.bias"))?;
    let y = x.conv2d(w, padding, stride, 1, 1)?;
    Ok(y.broadcast_add(&b.reshape((1, b.dim(0)?, 1, 1))?)?)
}

/// (b, cin, h, w) → (b, cout, h', w') by a transposed convolution.
pub fn conv_transpose(
    p: &Params,
    name: &str,
    x: &Tensor,
    padding: usize,
    stride: usize,
) -> Result<Tensor> {
    let w = p.get(&format!("{name}.weight"))?;
    let b = p.get(&format!("{name}.bias"))?;
    let y = x.conv_transpose2d(w, padding, 0, stride, 1)?;
    Ok(y.broadcast_add(&b.reshape((1, b.dim(0)?, 1, 1))?)?)
}

/// (b, in) → (b, out).
pub fn linear(p: &Params, name: &str, x: &Tensor) -> Result<Tensor> {
    let w = p.get(&format!("{name}.weight"))?;
    let b = p.get(&format!("{name}.bias"))?;
    Ok(x.matmul(&w.t()?)?.broadcast_add(b)?)
}

/// Log-probabilities over the last dimension.
pub fn log_softmax(x: &Tensor) -> Result<Tensor> {
    Ok(candle_nn::ops::log_softmax(x, D::Minus1)?)
}

/// Mean cross-entropy of `logits` (b, classes) against `labels` (b) u32.
pub fn cross_entropy(logits: &Tensor, labels: &Tensor) -> Result<Tensor> {
    Ok(candle_nn::loss::cross_entropy(logits, labels)?)
}

/// Adds a batch norm `name` over `c` channels: a scale `name.weight` (ones)
/// and shift `name.bias` (zeros), trained, and the running statistics
/// `name.running_mean` and `name.running_var`, which are not.
pub fn init_batch_norm(p: &mut Params, name: &str, c: usize) -> Result<()> {
    p.constant(&format!("{name}.weight"), &[c], 1.0)?;
    p.constant(&format!("{name}.bias"), &[c], 0.0)?;
    p.constant(&format!("{name}.{RUNNING}mean"), &[c], 0.0)?;
    p.constant(&format!("{name}.{RUNNING}var"), &[c], 1.0)
}

/// What the names of parameters no optimiser touches contain.
pub const RUNNING: &str = "running_";
const BN_EPS: f64 = 1e-5;
const BN_MOMENTUM: f64 = 0.1;

/// Batch norm of `x` (b, c, h, w): in training by the batch's statistics
/// per channel (and the running ones move a tenth of the way to them), else
/// by the running statistics.
pub fn batch_norm(p: &Params, name: &str, x: &Tensor, training: bool) -> Result<Tensor> {
    let c = x.dim(1)?;
    let shape = (1, c, 1, 1);
    let running_mean = p.var(&format!("{name}.{RUNNING}mean"))?;
    let running_var = p.var(&format!("{name}.{RUNNING}var"))?;
    let (mean, var) = if training {
        // Per channel over batch and pixels: (c).
        let moved = x.transpose(0, 1)?.flatten_from(1)?; // (c, b·h·w)
        let mean = moved.mean(1)?;
        let var = moved.broadcast_sub(&mean.unsqueeze(1)?)?.sqr()?.mean(1)?;
        let blend = |running: &candle_core::Var, batch: &Tensor| -> Result<()> {
            let next =
                ((running.as_tensor() * (1.0 - BN_MOMENTUM))? + (batch.detach() * BN_MOMENTUM)?)?;
            Ok(running.set(&next)?)
        };
        blend(running_mean, &mean)?;
        blend(running_var, &var)?;
        (mean, var)
    } else {
        (
            running_mean.as_tensor().clone(),
            running_var.as_tensor().clone(),
        )
    };
    let normalised = x
        .broadcast_sub(&mean.reshape(shape)?)?
        .broadcast_div(&(var + BN_EPS)?.sqrt()?.reshape(shape)?)?;
    let w = p.get(&format!("{name}.weight"))?.reshape(shape)?;
    let b = p.get(&format!("{name}.bias"))?.reshape(shape)?;
    Ok(normalised.broadcast_mul(&w)?.broadcast_add(&b)?)
}

/// max(x, slope·x).
pub fn leaky_relu(x: &Tensor, slope: f64) -> Result<Tensor> {
    Ok(x.maximum(&(x * slope)?)?)
}
