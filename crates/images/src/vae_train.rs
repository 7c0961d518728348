//! Training and measuring the VAE on binarized images: each epoch draws
//! fresh binary pixels from the grey levels (dynamic binarization); the test
//! part is binarized once, with a fixed seed, so every checkpoint is
//! measured on the same bits.

use std::path::Path;

use candle_core::{Device, Tensor};
use candle_nn::Optimizer;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::data::{Dataset, PIXELS};
use crate::error::Result;
use crate::params::Checkpointed;
use crate::rng::{binarize, binarized_test_part, normal_tensor};
use crate::train::{gather, run_epochs, Flow, Progress, TrainOptions, TrainState};
use crate::vae::{Vae, VaeConfig, KIND};

crate::checkpointed!(Vae, VaeConfig, KIND);

/// The mean negative ELBO (nats per image) over binary `pixels`, one
/// posterior sample per image from a fixed seed.
pub fn mean_neg_elbo(model: &Vae, pixels: &[f32]) -> Result<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let (mut total, mut n) = (0f64, 0usize);
    for chunk in pixels.chunks(500 * PIXELS) {
        let b = chunk.len() / PIXELS;
        let x = Tensor::from_slice(chunk, (b, PIXELS), &Device::Cpu)?;
        let eps = normal_tensor(&[b, model.config.latent], &mut rng)?;
        total += f64::from(model.neg_elbo(&x, &eps)?.sum_all()?.to_scalar::<f32>()?);
        n += b;
    }
    Ok(total / n.max(1) as f64)
}

pub fn train(
    model: &Vae,
    data: &Dataset,
    options: &TrainOptions,
    state: TrainState,
    checkpoint: Option<&Path>,
    on_progress: impl FnMut(&Progress) -> Flow,
) -> Result<TrainState> {
    let train = options.training_part(&data.train);
    let test = binarized_test_part(&data.test);
    let mut optimiser = options.adam(model.params.vars())?;
    run_epochs(
        train.len(),
        options,
        state,
        |indices, rng, rate| {
            optimiser.set_learning_rate(rate);
            let (grey, _) = gather(&train, indices);
            let x = Tensor::from_vec(binarize(&grey, rng), (indices.len(), PIXELS), &Device::Cpu)?;
            let eps = normal_tensor(&[indices.len(), model.config.latent], rng)?;
            let loss = model.neg_elbo(&x, &eps)?.mean_all()?;
            optimiser.backward_step(&loss)?;
            Ok(loss.to_scalar::<f32>()?)
        },
        || Ok(("neg_elbo_nats", mean_neg_elbo(model, &test)? as f32)),
        |state| match checkpoint {
            Some(path) => model.save(path, state),
            None => Ok(()),
        },
        on_progress,
    )
}
