//! The image lab on tiny inputs: shapes, a loss that falls on a fixed
//! batch, checkpoints that round-trip and refuse other kinds and shapes,
//! and dataset files that are corrupt or missing, each a one-line error.

use std::io::Write;

use promptlab_images::cnn::{images_tensor, Classifier, ClassifierConfig, FEATURES};
use promptlab_images::cnn_train;
use promptlab_images::data::{self, Dataset, DatasetKind, Split, PIXELS};
use promptlab_images::params::{CheckpointFile, Checkpointed};
use promptlab_images::train::{Progress, TrainOptions, TrainState};
use promptlab_images::ImagesError;

/// Two made-up classes: a bright left half (0) or a bright right half (1),
/// with a little per-image variation.
fn halves(n: usize) -> Split {
    let mut split = Split::default();
    for i in 0..n {
        let class = (i % 2) as u8;
        for p in 0..PIXELS {
            let x = p % 28;
            let bright = (x < 14) == (class == 0);
            let jitter = ((i * 7 + p * 13) % 10) as f32 / 40.0;
            split
                .images
                .push(if bright { 0.75 + jitter } else { jitter });
        }
        split.labels.push(class);
    }
    split
}

fn tiny_dataset() -> Dataset {
    Dataset {
        kind: DatasetKind::Mnist,
        train: halves(64),
        test: halves(16),
    }
}

#[test]
fn the_classifier_has_the_shapes_its_doc_gives() {
    let model = Classifier::new(ClassifierConfig::new(DatasetKind::Mnist), 1).unwrap();
    let x = images_tensor(&halves(3).images).unwrap();
    assert_eq!(x.dims(), &[3, 1, 28, 28]);
    assert_eq!(model.features(&x).unwrap().dims(), &[3, FEATURES]);
    assert_eq!(model.logits(&x).unwrap().dims(), &[3, 10]);
    // 16·25+16 + 32·16·25+32 + 1568·128+128 + 128·10+10
    assert_eq!(model.params.count(), 416 + 12_832 + 200_832 + 1_290);
}

#[test]
fn training_lowers_the_loss_on_a_fixed_batch_and_learns_it() {
    let model = Classifier::new(ClassifierConfig::new(DatasetKind::Mnist), 2).unwrap();
    let data = tiny_dataset();
    let mut losses = Vec::new();
    let options = TrainOptions {
        epochs: 6,
        batch_size: 16,
        learning_rate: 2e-3,
        seed: 3,
        max_steps: None,
        train_limit: None,
    };
    let state = cnn_train::train(&model, &data, &options, TrainState::default(), None, |p| {
        if let Progress::Step { loss, .. } = p {
            losses.push(*loss);
        }
        std::ops::ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(state.epochs_done, 6);
    assert_eq!(losses.len(), 6 * 4);
    let first: f32 = losses[..4].iter().sum::<f32>() / 4.0;
    let last: f32 = losses[losses.len() - 4..].iter().sum::<f32>() / 4.0;
    assert!(last < first * 0.5, "loss {first} → {last}");
    assert!(losses.iter().all(|l| l.is_finite()));
    assert_eq!(
        cnn_train::evaluate(&model, &data.test).unwrap().accuracy,
        1.0
    );
}

#[test]
fn a_checkpoint_gives_back_the_same_model_and_refuses_others_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cnn.safetensors");
    let model = Classifier::new(ClassifierConfig::new(DatasetKind::FashionMnist), 4).unwrap();
    let state = TrainState {
        epochs_done: 2,
        steps_done: 10,
        history: vec![],
    };
    model.save(&path, &state).unwrap();
    assert!(!dir.path().join("cnn.safetensors.partial").exists());
    let (back, back_state) = Classifier::load(&path).unwrap();
    assert_eq!(back.config, model.config);
    assert_eq!(back_state, state);
    let x = images_tensor(&halves(4).images).unwrap();
    let a = model
        .logits(&x)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let b = back
        .logits(&x)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert_eq!(a, b);

    // Another kind: the metadata names it.
    let other = dir.path().join("vae.safetensors");
    model.params.save(&other, "vae", "{}", "{}").unwrap();
    let e = Classifier::load(&other).err().unwrap().to_string();
    assert!(e.contains("is a `vae` checkpoint (expected `cnn`)"), "{e}");

    // Another shape: the tensor that differs is named.
    let mut wide_config = ClassifierConfig::new(DatasetKind::Mnist);
    wide_config.channels = [16, 32];
    wide_config.hidden = 64;
    let wide = Classifier::new(wide_config.clone(), 0).unwrap();
    let wide_path = dir.path().join("wide.safetensors");
    wide.save(&wide_path, &state).unwrap();
    let file = CheckpointFile::read(&wide_path).unwrap();
    // Its own config loads it; the default shape does not.
    assert!(Classifier::from_checkpoint(&file).is_ok());
    let narrow = Classifier::new(ClassifierConfig::new(DatasetKind::Mnist), 0).unwrap();
    let e = narrow.params.load(&file).unwrap_err().to_string();
    assert!(
        e.contains("tensor `fc1.bias`") || e.contains("tensor `fc1.weight`"),
        "{e}"
    );
    assert!(e.contains("wide.safetensors"), "{e}");

    // Not a checkpoint at all.
    let junk = dir.path().join("junk.safetensors");
    std::fs::write(&junk, b"hello").unwrap();
    let e = Classifier::load(&junk).err().unwrap().to_string();
    assert!(
        e.contains("junk.safetensors: not a safetensors file"),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1);
}

#[test]
fn a_stopped_run_keeps_the_last_epochs_checkpoint_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cnn.safetensors");
    let model = Classifier::new(ClassifierConfig::new(DatasetKind::Mnist), 5).unwrap();
    let data = tiny_dataset();
    let options = TrainOptions {
        epochs: 3,
        batch_size: 16,
        learning_rate: 1e-3,
        seed: 0,
        max_steps: None,
        train_limit: None,
    };
    let mut steps = 0;
    let result = cnn_train::train(
        &model,
        &data,
        &options,
        TrainState::default(),
        Some(&path),
        |p| {
            if matches!(p, Progress::Step { .. }) {
                steps += 1;
            }
            // Stop in the middle of the second epoch.
            if steps == 6 {
                std::ops::ControlFlow::Break(())
            } else {
                std::ops::ControlFlow::Continue(())
            }
        },
    );
    assert!(matches!(result, Err(ImagesError::Stopped)));
    let (_, state) = Classifier::load(&path).unwrap();
    assert_eq!(state.epochs_done, 1);
    assert_eq!(state.steps_done, 4);
    // Resuming goes on from there to the asked-for epochs.
    let (model, state) = Classifier::load(&path).unwrap();
    let state = cnn_train::train(&model, &data, &options, state, Some(&path), |_| {
        std::ops::ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(state.epochs_done, 3);
    assert_eq!(state.history.len(), 3);
    assert_eq!(state.steps_done, 12);
}

fn gz(path: &std::path::Path, bytes: &[u8]) {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).expect("gzip in memory");
    std::fs::write(path, e.finish().expect("gzip in memory")).expect("the test file");
}

#[test]
fn corrupt_or_missing_dataset_files_get_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let e = data::load(DatasetKind::Mnist, dir.path())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("MNIST is not in") && e.contains("promptlab images data fetch"),
        "{e}"
    );

    let images = dir.path().join("images.gz");
    let mut header = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28];
    header.extend(vec![7u8; PIXELS]); // one image where two are declared
    gz(&images, &header);
    let e = data::read_idx_images(&images).unwrap_err().to_string();
    assert!(
        e.contains("784 bytes of pixels for 2 images (expected 1568)"),
        "{e}"
    );
    gz(&images, &[0, 0, 8, 1, 0, 0, 0, 0]);
    let e = data::read_idx_images(&images).unwrap_err().to_string();
    assert!(
        e.contains("IDX magic 0x00000801 (expected 0x00000803)"),
        "{e}"
    );
    std::fs::write(&images, b"plain").unwrap();
    let e = data::read_idx_images(&images).unwrap_err().to_string();
    assert!(e.contains("not a gzip file"), "{e}");

    let labels = dir.path().join("labels.gz");
    gz(&labels, &[0, 0, 8, 1, 0, 0, 0, 2, 3, 12]);
    let e = data::read_idx_labels(&labels).unwrap_err().to_string();
    assert!(e.contains("label 1 is 12 (expected 0 to 9)"), "{e}");

    let digits = dir.path().join("3.json");
    std::fs::write(&digits, "{\"data\": [0.5, 0.2]}").unwrap();
    let e = data::read_digit_json(&digits).unwrap_err().to_string();
    assert!(e.contains("3.json: `data` holds 2 numbers"), "{e}");
    let mut values = vec!["0".to_string(); PIXELS];
    values[9] = "3.5".into();
    std::fs::write(&digits, format!("{{\"data\": [{}]}}", values.join(","))).unwrap();
    let e = data::read_digit_json(&digits).unwrap_err().to_string();
    assert!(
        e.contains("`data[9]` is 3.5 (expected a value in [0, 1])"),
        "{e}"
    );
    std::fs::write(&digits, "[1, 2").unwrap();
    let e = data::read_digit_json(&digits).unwrap_err().to_string();
    assert!(e.contains("not the package's digit file"), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
}

#[test]
fn the_dcgan_has_its_shapes_and_its_discriminator_learns_a_fixed_batch() {
    use promptlab_images::dcgan::{Dcgan, DcganConfig};
    let model = Dcgan::new(DcganConfig::new(DatasetKind::Mnist), 6).unwrap();
    let z = model.latents(5, 1).unwrap();
    assert_eq!(z.dims(), &[5, 64]);
    let x = model.generate(&z, true).unwrap();
    assert_eq!(x.dims(), &[5, 1, 28, 28]);
    let values = x.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert!(values.iter().all(|v| (-1.0..=1.0).contains(v)));
    assert_eq!(model.discriminate(&x, true).unwrap().dims(), &[5, 1]);
    // The same seed, the same samples; the pixels are in [0, 1].
    let a = model.sample(3, 9).unwrap();
    assert_eq!(a, model.sample(3, 9).unwrap());
    assert_eq!(a.len(), 3 * PIXELS);
    assert!(a.iter().all(|v| (0.0..=1.0).contains(v)));
    // Interpolation starts and ends at the seeds' own samples.
    let line = model.interpolate(9, 10, 4).unwrap();
    let first = model.sample(1, 9).unwrap();
    assert!(line[..PIXELS]
        .iter()
        .zip(&first)
        .all(|(x, y)| (x - y).abs() < 1e-5));

    // Trained on one fixed batch, the discriminator learns to tell it from
    // the generator's output: its loss on that batch falls.
    let data = Dataset {
        kind: DatasetKind::Mnist,
        train: halves(32),
        test: halves(8),
    };
    let margin = |model: &Dcgan| {
        let real = promptlab_images::dcgan::to_signed(&images_tensor(&data.train.images).unwrap())
            .unwrap();
        let fake = model
            .generate(&model.latents(32, 3).unwrap(), false)
            .unwrap();
        let mean = |x: &candle_core::Tensor| {
            model
                .discriminate(x, false)
                .unwrap()
                .mean_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
        };
        mean(&real) - mean(&fake)
    };
    let before = margin(&model);
    let mut losses = Vec::new();
    let options = TrainOptions {
        epochs: 8,
        batch_size: 32,
        learning_rate: 2e-4,
        seed: 1,
        max_steps: None,
        train_limit: None,
    };
    let state = promptlab_images::dcgan_train::train(
        &model,
        &data,
        None,
        &options,
        TrainState::default(),
        None,
        |p| {
            if let Progress::Epoch(r) = p {
                losses.push(r.test_value);
            }
            std::ops::ControlFlow::Continue(())
        },
    )
    .unwrap();
    assert_eq!(state.steps_done, 8);
    assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
    let after = margin(&model);
    assert!(
        after > before + 0.1,
        "D(real) − D(fake): {before} → {after}"
    );
}

#[test]
fn the_vae_has_its_shapes_and_its_negative_elbo_falls_on_a_fixed_batch() {
    use promptlab_images::vae::{Vae, VaeConfig};
    let model = Vae::new(VaeConfig::new(DatasetKind::Mnist), 7).unwrap();
    let data = Dataset {
        kind: DatasetKind::Mnist,
        train: halves(32),
        test: halves(32),
    };
    let bits = promptlab_images::rng::binarized_test_part(&data.test);
    let before = promptlab_images::vae_train::mean_neg_elbo(&model, &bits).unwrap();
    // 784 pixels coded near p = ½ cost about 784 · ln 2 ≈ 543 nats.
    assert!((400.0..700.0).contains(&before), "{before}");
    let options = TrainOptions {
        epochs: 40,
        batch_size: 32,
        learning_rate: 1e-3,
        seed: 2,
        max_steps: None,
        train_limit: None,
    };
    promptlab_images::vae_train::train(
        &model,
        &data,
        &options,
        TrainState::default(),
        None,
        |_| std::ops::ControlFlow::Continue(()),
    )
    .unwrap();
    let after = promptlab_images::vae_train::mean_neg_elbo(&model, &bits).unwrap();
    assert!(after < before * 0.6, "{before} → {after}");
    let samples = model.sample(4, 3).unwrap();
    assert_eq!(samples.len(), 4 * PIXELS);
    assert_eq!(samples, model.sample(4, 3).unwrap());
    assert_eq!(
        model
            .reconstruct(&data.test.images[..PIXELS])
            .unwrap()
            .len(),
        PIXELS
    );
}
