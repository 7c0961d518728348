//! Training and measuring the autoregressive models (PixelCNN and the Row
//! LSTM) on binarized images — fresh bits each epoch, a fixed-seed
//! binarized test part: the loss is the exact NLL in nats per image, with
//! Adam and the shared cosine schedule.

use std::path::Path;

use candle_core::{Device, Tensor};
use candle_nn::Optimizer;

use crate::data::{Dataset, PIXELS, SIDE};
use crate::error::Result;
use crate::params::Checkpointed;
use crate::pixelcnn::{PixelCnn, PixelCnnConfig};
use crate::rng::{binarize, binarized_test_part};
use crate::row_lstm::{RowLstm, RowLstmConfig};
use crate::train::{gather, run_epochs, Flow, Progress, TrainOptions, TrainState};

crate::checkpointed!(PixelCnn, PixelCnnConfig, crate::pixelcnn::KIND);
crate::checkpointed!(RowLstm, RowLstmConfig, crate::row_lstm::KIND);

/// Any model with an exact per-image NLL over binary (b, 1, 28, 28).
pub trait ExactLikelihood {
    fn nll_of(&self, x: &Tensor) -> Result<Tensor>;
}

impl ExactLikelihood for PixelCnn {
    fn nll_of(&self, x: &Tensor) -> Result<Tensor> {
        self.nll(x)
    }
}

impl ExactLikelihood for RowLstm {
    fn nll_of(&self, x: &Tensor) -> Result<Tensor> {
        self.nll(x)
    }
}

/// The mean NLL (nats per image) of binary `pixels` (n × 784).
pub fn mean_nll(model: &impl ExactLikelihood, pixels: &[f32]) -> Result<f64> {
    let (mut total, mut n) = (0f64, 0usize);
    for chunk in pixels.chunks(250 * PIXELS) {
        let b = chunk.len() / PIXELS;
        let x = Tensor::from_slice(chunk, (b, 1, SIDE, SIDE), &Device::Cpu)?;
        total += f64::from(model.nll_of(&x)?.sum_all()?.to_scalar::<f32>()?);
        n += b;
    }
    Ok(total / n.max(1) as f64)
}

/// Nats per image as bits per pixel.
pub fn bits_per_dim(nats: f64) -> f64 {
    nats / (PIXELS as f64 * std::f64::consts::LN_2)
}

/// Trains an exact-likelihood model of binary images: each step is the
/// mean NLL of a freshly binarized batch; each epoch's measure is the test
/// NLL, and a checkpoint follows every epoch.
pub fn train<M: ExactLikelihood + Checkpointed>(
    model: &M,
    data: &Dataset,
    options: &TrainOptions,
    state: TrainState,
    checkpoint: Option<&Path>,
    on_progress: impl FnMut(&Progress) -> Flow,
) -> Result<TrainState> {
    let train = options.training_part(&data.train);
    let test = binarized_test_part(&data.test);
    let mut optimiser = options.adam(model.params().vars())?;
    run_epochs(
        train.len(),
        options,
        state,
        |indices, rng, rate| {
            optimiser.set_learning_rate(rate);
            let (grey, _) = gather(&train, indices);
            let x = Tensor::from_vec(
                binarize(&grey, rng),
                (indices.len(), 1, SIDE, SIDE),
                &Device::Cpu,
            )?;
            let loss = model.nll_of(&x)?.mean_all()?;
            optimiser.backward_step(&loss)?;
            Ok(loss.to_scalar::<f32>()?)
        },
        || Ok(("nll_nats", mean_nll(model, &test)? as f32)),
        |state| match checkpoint {
            Some(path) => model.save(path, state),
            None => Ok(()),
        },
        on_progress,
    )
}
