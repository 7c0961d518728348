//! Training the DCGAN as the paper does: Adam at 2·10⁻⁴ with β₁ = 0.5, one
//! discriminator step then one generator step per batch, the
//! non-saturating generator loss −log D(G(z)). After each epoch the test
//! measure is the shipped classifier's mean max-probability over 200
//! samples (how recognisable they are), or, without a classifier, the
//! generator's loss.

use std::path::Path;

use candle_core::Tensor;
use candle_nn::{AdamW, Optimizer, ParamsAdamW};

use crate::cnn::{images_tensor, Classifier};
use crate::data::Dataset;
use crate::dcgan::{to_signed, Dcgan, DcganConfig, KIND};
use crate::error::Result;
use crate::params::Checkpointed;
use crate::rng::normal_tensor;
use crate::train::{gather, run_epochs, Flow, Progress, TrainOptions, TrainState};

crate::checkpointed!(Dcgan, DcganConfig, KIND);

/// Binary cross-entropy of logits against an all-`target` label, mean.
fn bce_with_logits(logits: &Tensor, target: f64) -> Result<Tensor> {
    // −[t·log σ(l) + (1−t)·log(1−σ(l))] = softplus(l) − t·l
    let loss = (crate::layers::softplus(logits)? - (logits * target)?)?;
    Ok(loss.mean_all()?)
}

pub fn train(
    model: &Dcgan,
    data: &Dataset,
    judge: Option<&Classifier>,
    options: &TrainOptions,
    state: TrainState,
    checkpoint: Option<&Path>,
    on_progress: impl FnMut(&Progress) -> Flow,
) -> Result<TrainState> {
    let train = options.training_part(&data.train);
    let adam = |prefix: &str| {
        AdamW::new(
            model.params.vars_with_prefix(prefix),
            ParamsAdamW {
                lr: options.learning_rate,
                beta1: 0.5,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 0.0,
            },
        )
    };
    let (mut d_opt, mut g_opt) = (adam("d.")?, adam("g.")?);
    let latent = model.config.latent;
    run_epochs(
        train.len(),
        options,
        state,
        |indices, rng, rate| {
            d_opt.set_learning_rate(rate);
            g_opt.set_learning_rate(rate);
            let b = indices.len();
            let (pixels, _) = gather(&train, indices);
            let real = to_signed(&images_tensor(&pixels)?)?;
            // The discriminator: real as 1, generated (held fixed) as 0.
            let fake = model
                .generate(&normal_tensor(&[b, latent], rng)?, true)?
                .detach();
            let d_loss = (bce_with_logits(&model.discriminate(&real, true)?, 1.0)?
                + bce_with_logits(&model.discriminate(&fake, true)?, 0.0)?)?;
            d_opt.backward_step(&d_loss)?;
            // The generator: make the discriminator say 1.
            let fake = model.generate(&normal_tensor(&[b, latent], rng)?, true)?;
            let g_loss = bce_with_logits(&model.discriminate(&fake, true)?, 1.0)?;
            g_opt.backward_step(&g_loss)?;
            Ok(g_loss.to_scalar::<f32>()?)
        },
        || match judge {
            Some(judge) => {
                let samples = model.sample(200, 7)?;
                let j = crate::metrics::labels(judge, &samples)?;
                let mean = j.iter().map(|&(_, p)| p).sum::<f32>() / j.len().max(1) as f32;
                Ok(("mean_max_prob", mean))
            }
            None => {
                let z = model.latents(200, 7)?;
                let logits = model.discriminate(&model.generate(&z, false)?, false)?;
                Ok(("g_loss", bce_with_logits(&logits, 1.0)?.to_scalar::<f32>()?))
            }
        },
        |state| match checkpoint {
            Some(path) => model.save(path, state),
            None => Ok(()),
        },
        on_progress,
    )
}
