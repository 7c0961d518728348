//! Training the diffusion model: each step noises a batch at uniform
//! random times and regresses the noise (Ho et al.'s simple loss), drops
//! the label a tenth of the time when class-conditional, and moves the
//! weights' average. After every epoch the average's samples are judged by
//! the shipped classifier when there is one (its mean max-probability),
//! else the test images' noise-prediction loss is the measure.

use std::path::Path;

use candle_core::{Device, Tensor};
use candle_nn::Optimizer;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::cnn::Classifier;
use crate::data::{Dataset, Split, PIXELS, SIDE};
use crate::ddpm::{Ddpm, DdpmConfig, SampleOptions, Weights, KIND, NO_CLASS};
use crate::error::Result;
use crate::params::Checkpointed;
use crate::rng::normal_tensor;
use crate::train::{gather, run_epochs, Flow, Progress, TrainOptions, TrainState};

/// The share of steps a label is hidden in (classifier-free guidance).
const LABEL_DROP: f64 = 0.1;
/// The moving average's decay once warmed up.
const AVERAGE_DECAY: f64 = 0.995;

crate::checkpointed!(Ddpm, DdpmConfig, KIND);

/// Pixels in [0, 1] as the model's (b, 1, 28, 28) in [−1, 1].
fn centred(pixels: &[f32]) -> Result<Tensor> {
    let b = pixels.len() / PIXELS;
    let x = Tensor::from_slice(pixels, (b, 1, SIDE, SIDE), &Device::Cpu)?;
    Ok(x.affine(2.0, -1.0)?)
}

/// The mean noise-prediction loss of the averaged weights over `split`,
/// at fixed-seed times and noise.
pub fn test_loss(model: &Ddpm, split: &Split) -> Result<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(0xD1);
    let (mut total, mut batches) = (0f64, 0usize);
    for (images, labels) in split
        .images
        .chunks(250 * PIXELS)
        .zip(split.labels.chunks(250))
    {
        let x0 = centred(images)?;
        let t = model.random_times(labels.len(), &mut rng);
        let eps = normal_tensor(&[labels.len(), 1, SIDE, SIDE], &mut rng)?;
        let xt = model.noised(&x0, &t, &eps)?;
        let ids: Vec<u32> = labels.iter().map(|&l| u32::from(l)).collect();
        let predicted = model.predict_noise(Weights::Average, &xt, &t, &ids)?;
        total += f64::from((predicted - eps)?.sqr()?.mean_all()?.to_scalar::<f32>()?);
        batches += 1;
    }
    Ok(total / batches.max(1) as f64)
}

pub fn train(
    model: &Ddpm,
    data: &Dataset,
    judge: Option<&Classifier>,
    options: &TrainOptions,
    state: TrainState,
    checkpoint: Option<&Path>,
    on_progress: impl FnMut(&Progress) -> Flow,
) -> Result<TrainState> {
    let train = options.training_part(&data.train);
    let mut optimiser = options.adam(model.params.vars_with_prefix("net."))?;
    let mut steps = state.steps_done;
    run_epochs(
        train.len(),
        options,
        state,
        |indices, rng, rate| {
            optimiser.set_learning_rate(rate);
            let (pixels, labels) = gather(&train, indices);
            let x0 = centred(&pixels)?;
            let t = model.random_times(indices.len(), rng);
            let eps = normal_tensor(&[indices.len(), 1, SIDE, SIDE], rng)?;
            let labels: Vec<u32> = labels
                .into_iter()
                .map(|l| {
                    if rng.random_bool(LABEL_DROP) {
                        NO_CLASS
                    } else {
                        l
                    }
                })
                .collect();
            let loss = model.loss(&x0, &t, &eps, &labels)?;
            optimiser.backward_step(&loss)?;
            // The average warms up: early steps move it further.
            steps += 1;
            let decay = AVERAGE_DECAY.min((1 + steps) as f64 / (10 + steps) as f64);
            model.update_average(decay)?;
            Ok(loss.to_scalar::<f32>()?)
        },
        || match judge {
            Some(judge) => {
                // A quick look: 50 samples in 25 steps.
                let quick = SampleOptions {
                    steps: 25,
                    ..SampleOptions::fast()
                };
                let samples = model.sample(50, 0, &quick)?;
                let j = crate::metrics::labels(judge, &samples)?;
                let mean = j.iter().map(|&(_, p)| p).sum::<f32>() / j.len().max(1) as f32;
                Ok(("mean_max_prob", mean))
            }
            None => Ok(("test_noise_mse", test_loss(model, &data.test)? as f32)),
        },
        |state| match checkpoint {
            Some(path) => model.save(path, state),
            None => Ok(()),
        },
        on_progress,
    )
}
