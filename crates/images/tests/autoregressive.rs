//! PixelCNN and the Row LSTM on tiny inputs: causality (a pixel's logit
//! never moves when that pixel or a later one changes, and does move for
//! earlier ones), the sampler's logits equal the whole-image pass, a loss
//! that falls on a fixed batch, and checkpoints that round-trip and refuse
//! other kinds and absurd configs.

use candle_core::{Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use promptlab_images::autoregressive_train::{self, bits_per_dim, mean_nll};
use promptlab_images::data::{Dataset, DatasetKind, Split, PIXELS, SIDE};
use promptlab_images::params::{CheckpointFile, Checkpointed};
use promptlab_images::pixelcnn::{PixelCnn, PixelCnnConfig};
use promptlab_images::raster::RasterSampler;
use promptlab_images::row_lstm::{RowLstm, RowLstmConfig};
use promptlab_images::train::{Progress, TrainOptions, TrainState};

fn small_pixelcnn(seed: u64) -> PixelCnn {
    let config = PixelCnnConfig {
        channels: 8,
        layers: 2,
        ..PixelCnnConfig::new(DatasetKind::Mnist)
    };
    PixelCnn::new(config, seed).expect("a small PixelCNN")
}

fn small_row_lstm(seed: u64) -> RowLstm {
    let config = RowLstmConfig {
        hidden: 8,
        ..RowLstmConfig::new(DatasetKind::Mnist)
    };
    RowLstm::new(config, seed).expect("a small Row LSTM")
}

fn random_bits(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n * PIXELS)
        .map(|_| f32::from(rng.random::<bool>()))
        .collect()
}

fn image(bits: &[f32]) -> Tensor {
    Tensor::from_slice(bits, (1, 1, SIDE, SIDE), &Device::Cpu).expect("an image tensor")
}

fn flat_logits(logits: candle_core::Result<Tensor>) -> Vec<f32> {
    logits
        .and_then(|l| l.flatten_all())
        .and_then(|l| l.to_vec1::<f32>())
        .expect("logits")
}

/// Flips pixel `k` of a random image: the logits of pixels 0..=k stay put
/// exactly, and some later logit moves (so the test can fail).
fn check_causality(logits: impl Fn(&Tensor) -> Vec<f32>) {
    let base = random_bits(1, 7);
    let before = logits(&image(&base));
    for k in [0, 1, 13, 27, 28, 29, 100, 406, 500, 700, 782] {
        let mut changed = base.clone();
        changed[k] = 1.0 - changed[k];
        let after = logits(&image(&changed));
        for j in 0..=k {
            assert_eq!(
                before[j], after[j],
                "pixel {j}'s logit moved when pixel {k} changed"
            );
        }
        let moved = (k + 1..PIXELS).filter(|&j| before[j] != after[j]).count();
        assert!(moved > 0, "changing pixel {k} moved no later logit");
        // The pixel right after (or the one below) sees it.
        let next = if k % SIDE == SIDE - 1 {
            k + SIDE
        } else {
            k + 1
        };
        if next < PIXELS {
            assert_ne!(before[next], after[next], "pixel {next} does not see {k}");
        }
    }
}

#[test]
fn pixelcnn_is_causal_in_raster_order() {
    let model = small_pixelcnn(1);
    check_causality(|x| flat_logits(model.logits(x).map_err(to_candle)));
}

#[test]
fn row_lstm_is_causal_in_raster_order() {
    let model = small_row_lstm(2);
    check_causality(|x| flat_logits(model.logits(x).map_err(to_candle)));
}

fn to_candle(e: promptlab_images::ImagesError) -> candle_core::Error {
    candle_core::Error::Msg(e.to_string())
}

/// What the sampler saw for each pixel equals the whole-image pass over
/// the finished samples (the crops and the carried state are exact).
fn check_sampler_matches_full_pass(
    draw: impl FnOnce(&mut dyn FnMut(usize, usize, f32) -> f32) -> Vec<f32>,
    logits: impl Fn(&Tensor) -> Vec<f32>,
) {
    let n = 3;
    let mut seen = vec![f32::NAN; n * PIXELS];
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let canvas = draw(&mut |i, at, p| {
        seen[i * PIXELS + at] = p;
        f32::from(rng.random::<f32>() < p)
    });
    let x = Tensor::from_slice(&canvas, (n, 1, SIDE, SIDE), &Device::Cpu).expect("samples");
    let full: Vec<f32> = logits(&x)
        .iter()
        .map(|l| 1.0 / (1.0 + (-l).exp()))
        .collect();
    let worst = seen
        .iter()
        .zip(&full)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(worst < 1e-5, "sampler and full pass differ by {worst}");
    assert!(canvas.iter().all(|&v| v == 0.0 || v == 1.0));
}

#[test]
fn pixelcnn_sampler_sees_what_the_whole_image_pass_sees() {
    let model = small_pixelcnn(3);
    check_sampler_matches_full_pass(
        |pick| {
            model
                .draw(3, pick, |_, _| std::ops::ControlFlow::Continue(()))
                .expect("drawn")
        },
        |x| flat_logits(model.logits(x).map_err(to_candle)),
    );
}

#[test]
fn row_lstm_sampler_sees_what_the_whole_image_pass_sees() {
    let model = small_row_lstm(4);
    check_sampler_matches_full_pass(
        |pick| {
            model
                .draw(3, pick, |_, _| std::ops::ControlFlow::Continue(()))
                .expect("drawn")
        },
        |x| flat_logits(model.logits(x).map_err(to_candle)),
    );
}

/// Bars of random height: simple enough to learn in a few steps.
fn bars(n: usize) -> Split {
    let mut split = Split::default();
    for i in 0..n {
        let height = 8 + (i * 5) % 12;
        for p in 0..PIXELS {
            let (y, x) = (p / SIDE, p % SIDE);
            let on = (10..18).contains(&x) && y >= SIDE - height;
            split.images.push(if on { 0.95 } else { 0.02 });
        }
        split.labels.push((i % 10) as u8);
    }
    split
}

fn options(epochs: usize) -> TrainOptions {
    TrainOptions {
        epochs,
        batch_size: 8,
        learning_rate: 3e-2,
        seed: 3,
        max_steps: None,
        train_limit: None,
    }
}

fn falls_on_a_fixed_set<M: autoregressive_train::ExactLikelihood + Checkpointed>(model: &M) {
    let data = Dataset {
        kind: DatasetKind::Mnist,
        train: bars(16),
        test: bars(8),
    };
    let mut epochs = Vec::new();
    let state = autoregressive_train::train(
        model,
        &data,
        &options(15),
        TrainState::default(),
        None,
        |p| {
            if let Progress::Epoch(record) = p {
                epochs.push(record.test_value);
            }
            std::ops::ControlFlow::Continue(())
        },
    )
    .expect("training runs");
    assert_eq!(state.epochs_done, 15);
    assert_eq!(state.steps_done, 30);
    assert!(epochs.iter().all(|v| v.is_finite()));
    let (first, last) = (epochs[0], epochs[14]);
    // A random model is near 784 · ln 2 ≈ 543 nats; the bars are easy.
    assert!(last < 0.5 * first, "test NLL {epochs:?}");
    let bits = promptlab_images::rng::binarized_test_part(&data.test);
    let nats = mean_nll(model, &bits).expect("nll");
    assert!((nats as f32 - last).abs() < 1e-2 * last, "{nats} vs {last}");
    assert!((bits_per_dim(nats) - nats / (784.0 * 2f64.ln())).abs() < 1e-12);
}

#[test]
fn pixelcnn_training_lowers_the_test_nll() {
    falls_on_a_fixed_set(&small_pixelcnn(5));
}

#[test]
fn row_lstm_training_lowers_the_test_nll() {
    falls_on_a_fixed_set(&small_row_lstm(6));
}

#[test]
fn checkpoints_round_trip_and_refuse_other_kinds_and_absurd_configs() {
    let dir = tempfile::tempdir().expect("a temp folder");
    let path = dir.path().join("pixelcnn.safetensors");
    let model = small_pixelcnn(8);
    let state = TrainState {
        epochs_done: 2,
        steps_done: 10,
        history: Vec::new(),
    };
    model.save(&path, &state).expect("saved");
    let (loaded, loaded_state) = PixelCnn::load(&path).expect("loaded");
    assert_eq!(loaded_state, state);
    assert_eq!(loaded.config, model.config);
    assert_eq!(
        loaded.sample(2, 9).expect("samples"),
        model.sample(2, 9).expect("samples")
    );
    let error = RowLstm::load(&path)
        .err()
        .expect("a PixelCNN is not a Row LSTM");
    assert_eq!(
        error.to_string(),
        format!(
            "{}: is a `pixelcnn` checkpoint (expected `row-lstm`)",
            path.display()
        )
    );

    // The same file with its config claiming 100,000 channels.
    let file = CheckpointFile::read(&path).expect("read");
    let bloated = file.config.replace("\"channels\":8", "\"channels\":100000");
    assert_ne!(bloated, file.config);
    let other = dir.path().join("bloated.safetensors");
    loaded
        .params
        .save(&other, "pixelcnn", &bloated, &file.state)
        .expect("saved");
    let error = PixelCnn::load(&other).err().expect("refused");
    assert_eq!(
        error.to_string(),
        format!(
            "{}: config: `channels` is 100000 (expected 1 to 256)",
            other.display()
        )
    );

    let lstm_path = dir.path().join("row-lstm.safetensors");
    let lstm = small_row_lstm(10);
    lstm.save(&lstm_path, &state).expect("saved");
    let (back, _) = RowLstm::load(&lstm_path).expect("loaded");
    assert_eq!(
        back.sample(2, 11).expect("samples"),
        lstm.sample(2, 11).expect("samples")
    );
}
