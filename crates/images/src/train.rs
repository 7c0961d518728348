//! What every model's training shares: options, progress reports, the
//! state a checkpoint keeps to resume, seeded shuffling and batches, and
//! the small random shifts the classifier trains on.

use std::ops::ControlFlow;

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::data::{Split, PIXELS, SIDE};

#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Epochs to reach, counting those a resumed checkpoint already has.
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub seed: u64,
    /// Stop after this many steps in all (a smoke run).
    pub max_steps: Option<usize>,
    /// Train on only the first this many images.
    pub train_limit: Option<usize>,
}

impl TrainOptions {
    /// The training images a run uses: all of `train`, or its first
    /// `train_limit`.
    pub fn training_part(&self, train: &Split) -> Split {
        match self.train_limit {
            Some(n) => train.take(n),
            None => train.clone(),
        }
    }

    /// Adam (AdamW without weight decay) over `vars` at the run's rate.
    pub fn adam(&self, vars: Vec<candle_core::Var>) -> crate::Result<candle_nn::AdamW> {
        let params = candle_nn::ParamsAdamW {
            lr: self.learning_rate,
            weight_decay: 0.0,
            ..Default::default()
        };
        use candle_nn::Optimizer;
        Ok(candle_nn::AdamW::new(vars, params)?)
    }
}

/// One report from a training run.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    Step {
        epoch: usize,
        step: usize,
        steps: usize,
        loss: f32,
    },
    Epoch(EpochRecord),
}

/// One finished epoch: the mean training loss and the test metric.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub train_loss: f32,
    /// What `test_value` measures (`accuracy`, `neg_elbo_nats`, …).
    pub test_metric: String,
    pub test_value: f32,
    pub seconds: f32,
}

/// What a checkpoint keeps of its training, to resume and to report.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainState {
    pub epochs_done: usize,
    pub steps_done: usize,
    pub history: Vec<EpochRecord>,
}

/// The callback's answer: go on or stop (the last checkpoint stays).
pub type Flow = ControlFlow<()>;

/// The order of `n` images in epoch `epoch` of a run seeded `seed`.
pub fn epoch_order(n: usize, seed: u64, epoch: usize) -> Vec<usize> {
    use rand::SeedableRng;
    let mut rng =
        ChaCha8Rng::seed_from_u64(seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rng);
    order
}

/// The pixels and labels of images `indices` of `split`.
pub fn gather(split: &Split, indices: &[usize]) -> (Vec<f32>, Vec<u32>) {
    let mut pixels = Vec::with_capacity(indices.len() * PIXELS);
    let mut labels = Vec::with_capacity(indices.len());
    for &i in indices {
        pixels.extend_from_slice(split.image(i));
        labels.push(u32::from(split.labels[i]));
    }
    (pixels, labels)
}

/// Moves each image by up to `max` pixels across and down (zeros fill in).
pub fn shift_randomly(pixels: &mut [f32], max: i32, rng: &mut ChaCha8Rng) {
    let side = SIDE as i32;
    for image in pixels.chunks_exact_mut(PIXELS) {
        let (dx, dy) = (rng.random_range(-max..=max), rng.random_range(-max..=max));
        if dx == 0 && dy == 0 {
            continue;
        }
        let source = image.to_vec();
        for y in 0..side {
            for x in 0..side {
                let (sx, sy) = (x - dx, y - dy);
                image[(y * side + x) as usize] =
                    if (0..side).contains(&sx) && (0..side).contains(&sy) {
                        source[(sy * side + sx) as usize]
                    } else {
                        0.0
                    };
            }
        }
    }
}

/// The epoch loop every model shares: from `state` up to `options.epochs`,
/// each epoch a seeded shuffle of `train_len` images cut into batches, one
/// `step` (given the batch, a generator, and the learning rate the cosine
/// schedule has reached; it returns the batch's loss) per batch, then the `test`
/// measure (its name and value) and a `save` of the new state. The callback
/// sees every step and epoch; breaking stops the run (`Stopped`) with the
/// last saved state as it was.
pub fn run_epochs(
    train_len: usize,
    options: &TrainOptions,
    mut state: TrainState,
    mut step: impl FnMut(&[usize], &mut ChaCha8Rng, f64) -> crate::Result<f32>,
    mut test: impl FnMut() -> crate::Result<(&'static str, f32)>,
    mut save: impl FnMut(&TrainState) -> crate::Result<()>,
    mut on_progress: impl FnMut(&Progress) -> Flow,
) -> crate::Result<TrainState> {
    use rand::SeedableRng;
    let batch = options.batch_size.max(1);
    let steps = train_len.div_ceil(batch);
    while state.epochs_done < options.epochs {
        let epoch = state.epochs_done + 1;
        let started = std::time::Instant::now();
        let mut rng = ChaCha8Rng::seed_from_u64(options.seed.wrapping_add(epoch as u64));
        let order = epoch_order(train_len, options.seed, epoch);
        let (mut total, mut seen) = (0f64, 0usize);
        for (i, indices) in order.chunks(batch).enumerate() {
            if options.max_steps.is_some_and(|m| state.steps_done >= m) {
                return Ok(state);
            }
            let done =
                (state.epochs_done * steps + i) as f64 / (options.epochs * steps).max(1) as f64;
            let loss = step(indices, &mut rng, cosine_rate(options.learning_rate, done))?;
            total += f64::from(loss) * indices.len() as f64;
            seen += indices.len();
            state.steps_done += 1;
            let report = Progress::Step {
                epoch,
                step: i + 1,
                steps,
                loss,
            };
            if on_progress(&report).is_break() {
                return Err(crate::ImagesError::Stopped);
            }
        }
        let (metric, value) = test()?;
        let record = EpochRecord {
            epoch,
            train_loss: (total / seen.max(1) as f64) as f32,
            test_metric: metric.to_string(),
            test_value: value,
            seconds: started.elapsed().as_secs_f32(),
        };
        state.epochs_done = epoch;
        state.history.push(record.clone());
        save(&state)?;
        if on_progress(&Progress::Epoch(record)).is_break() {
            return Err(crate::ImagesError::Stopped);
        }
    }
    Ok(state)
}

/// The learning rate `fraction` of the way through training: `base`
/// falling along half a cosine to a twentieth of it.
pub fn cosine_rate(base: f64, fraction: f64) -> f64 {
    let floor = base / 20.0;
    floor + (base - floor) * 0.5 * (1.0 + (std::f64::consts::PI * fraction.clamp(0.0, 1.0)).cos())
}
