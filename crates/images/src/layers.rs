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
    init_conv_rect(p, name, cin, cout, (k, k), rng)
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
    let y = if stride == 1 {
        let padded = x
            .pad_with_zeros(2, padding, padding)?
            .pad_with_zeros(3, padding, padding)?;
        crate::conv_op::conv2d_valid(&padded, w)?
    } else {
        x.conv2d(w, padding, stride, 1, 1)?
    };
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

/// The mask (1, 1, kh, kw) of an autoregressive convolution over pixels in
/// raster order (van den Oord et al. 2016): every row above the centre
/// row, and in the centre row the columns left of the centre — and the
/// centre itself when `include_centre` (type B; type A leaves it out, so a
/// pixel never sees itself).
pub fn causal_mask(kh: usize, kw: usize, include_centre: bool) -> Result<Tensor> {
    let (ch, cw) = (kh / 2, kw / 2);
    let values: Vec<f32> = (0..kh * kw)
        .map(|i| {
            let (y, x) = (i / kw, i % kw);
            let open = y < ch || (y == ch && (x < cw || (include_centre && x == cw)));
            if open {
                1.0
            } else {
                0.0
            }
        })
        .collect();
    Ok(Tensor::from_vec(
        values,
        (1, 1, kh, kw),
        &candle_core::Device::Cpu,
    )?)
}

/// (b, cin, h, w) → (b, cout, h, w): the convolution `name` with its
/// weight multiplied by `mask` (1, 1, kh, kw), padded to keep the size.
pub fn masked_conv(p: &Params, name: &str, x: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let kh = p.get(&format!("{name}.weight"))?.dim(2)?;
    masked_conv_padded(p, name, &x.pad_with_zeros(2, kh / 2, 0)?, mask)
}

/// (b, cin, h, w) → (b, cout, h − kh/2, w): as [`masked_conv`], but with
/// no padding above, so only the rows whose whole context is in `x` come
/// out — output row j is input row j + kh/2. A causal mask sees nothing
/// below the centre, so nothing is lost at the bottom.
pub fn masked_conv_padded(p: &Params, name: &str, x: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let w = p.get(&format!("{name}.weight"))?;
    let b = p.get(&format!("{name}.bias"))?;
    let (_, _, kh, kw) = w.dims4()?;
    let padded = x
        .pad_with_zeros(2, 0, kh / 2)?
        .pad_with_zeros(3, kw / 2, kw / 2)?;
    let y = crate::conv_op::conv2d_valid(&padded, &w.broadcast_mul(mask)?)?;
    Ok(y.broadcast_add(&b.reshape((1, b.dim(0)?, 1, 1))?)?)
}

/// Adds a convolution `name` with a kh × kw kernel (`name.weight` (out,
/// in, kh, kw), `name.bias` (out)).
pub fn init_conv_rect(
    p: &mut Params,
    name: &str,
    cin: usize,
    cout: usize,
    (kh, kw): (usize, usize),
    rng: &mut ChaCha8Rng,
) -> Result<()> {
    let bound = 1.0 / ((cin * kh * kw) as f32).sqrt();
    p.uniform(&format!("{name}.weight"), &[cout, cin, kh, kw], bound, rng)?;
    p.uniform(&format!("{name}.bias"), &[cout], bound, rng)
}

/// log(1 + eˣ), computed as max(x, 0) + log(1 + e^−|x|).
pub fn softplus(x: &Tensor) -> Result<Tensor> {
    let positive = x.relu()?;
    let tail = (x.abs()?.neg()?.exp()? + 1.0)?.log()?;
    Ok((positive + tail)?)
}

/// −log p(x) of binary `x` under Bernoulli pixels with `logits`, per
/// element: softplus(l) − x·l, stable for any l.
pub fn bernoulli_nll(logits: &Tensor, x: &Tensor) -> Result<Tensor> {
    Ok((softplus(logits)? - (x * logits)?)?)
}

/// Adds a group norm `name` over `c` channels: a scale `name.weight`
/// (ones) and a shift `name.bias` (zeros).
pub fn init_group_norm(p: &mut Params, name: &str, c: usize) -> Result<()> {
    p.constant(&format!("{name}.weight"), &[c], 1.0)?;
    p.constant(&format!("{name}.bias"), &[c], 0.0)
}

/// Group norm (Wu & He 2018) of `x` (b, c, h, w) over `groups` groups of
/// channels, each normalised by its own mean and variance per image.
pub fn group_norm(p: &Params, name: &str, x: &Tensor, groups: usize) -> Result<Tensor> {
    let (b, c, h, w) = x.dims4()?;
    let grouped = x.reshape((b, groups, (c / groups) * h * w))?; // (b, g, c/g·h·w)
    let mean = grouped.mean_keepdim(2)?;
    let centred = grouped.broadcast_sub(&mean)?;
    let var = centred.sqr()?.mean_keepdim(2)?;
    let normalised = centred
        .broadcast_div(&(var + 1e-5)?.sqrt()?)?
        .reshape((b, c, h, w))?;
    let scale = p.get(&format!("{name}.weight"))?.reshape((1, c, 1, 1))?;
    let shift = p.get(&format!("{name}.bias"))?.reshape((1, c, 1, 1))?;
    Ok(normalised.broadcast_mul(&scale)?.broadcast_add(&shift)?)
}

/// x·σ(x).
pub fn silu(x: &Tensor) -> Result<Tensor> {
    Ok(candle_nn::ops::silu(x)?)
}
