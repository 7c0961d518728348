//! Training and judging the CNN classifier: cross-entropy with AdamW on
//! shifted digits, test accuracy after every epoch, a checkpoint after
//! every epoch.

use std::path::Path;

use candle_core::{Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};

use crate::cnn::{images_tensor, Classifier, ClassifierConfig, KIND};
use crate::data::{Dataset, Split, CLASSES};
use crate::error::Result;
use crate::layers::{cross_entropy, log_softmax};
use crate::params::Checkpointed;
use crate::train::{gather, run_epochs, shift_randomly, Flow, Progress, TrainOptions, TrainState};

crate::checkpointed!(Classifier, ClassifierConfig, KIND);

/// How the classifier does on a split.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClassifierEval {
    pub images: usize,
    pub accuracy: f64,
    /// Mean negative log-likelihood of the true labels, in nats.
    pub nll_nats: f64,
}

/// Class probabilities (n × 10) of `pixels` (n × 784), in batches.
pub fn probabilities(model: &Classifier, pixels: &[f32]) -> Result<Vec<f32>> {
    let mut out = Vec::with_capacity(pixels.len() / crate::data::PIXELS * CLASSES);
    for chunk in pixels.chunks(500 * crate::data::PIXELS) {
        let logp = log_softmax(&model.logits(&images_tensor(chunk)?)?)?;
        out.extend(logp.exp()?.flatten_all()?.to_vec1::<f32>()?);
    }
    Ok(out)
}

pub fn evaluate(model: &Classifier, split: &Split) -> Result<ClassifierEval> {
    let probs = probabilities(model, &split.images)?;
    let (mut right, mut nll) = (0usize, 0f64);
    for (row, &label) in probs.chunks_exact(CLASSES).zip(&split.labels) {
        let best = argmax(row);
        right += usize::from(best == usize::from(label));
        nll -= f64::from(row[usize::from(label)].max(1e-30)).ln();
    }
    let n = split.len().max(1) as f64;
    Ok(ClassifierEval {
        images: split.len(),
        accuracy: right as f64 / n,
        nll_nats: nll / n,
    })
}

pub fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &v)| {
            if v > bv {
                (i, v)
            } else {
                (bi, bv)
            }
        })
        .0
}

/// Trains `model` on `data` from `state` up to `options.epochs`, writing
/// `checkpoint` after each epoch. The callback sees every step and epoch
/// and may stop the run; the last written checkpoint then stays as it was.
pub fn train(
    model: &Classifier,
    data: &Dataset,
    options: &TrainOptions,
    state: TrainState,
    checkpoint: Option<&Path>,
    on_progress: impl FnMut(&Progress) -> Flow,
) -> Result<TrainState> {
    let train = options.training_part(&data.train);
    let mut optimiser = AdamW::new(
        model.params.vars(),
        ParamsAdamW {
            lr: options.learning_rate,
            weight_decay: 1e-4,
            ..Default::default()
        },
    )?;
    run_epochs(
        train.len(),
        options,
        state,
        |indices, rng, rate| {
            optimiser.set_learning_rate(rate);
            let (mut pixels, labels) = gather(&train, indices);
            shift_randomly(&mut pixels, 2, rng);
            let x = images_tensor(&pixels)?;
            let y = Tensor::from_vec(labels, indices.len(), &Device::Cpu)?;
            let loss = cross_entropy(&model.logits_dropped(&x, rng)?, &y)?;
            optimiser.backward_step(&loss)?;
            Ok(loss.to_scalar::<f32>()?)
        },
        || Ok(("accuracy", evaluate(model, &data.test)?.accuracy as f32)),
        |state| match checkpoint {
            Some(path) => model.save(path, state),
            None => Ok(()),
        },
        on_progress,
    )
}
