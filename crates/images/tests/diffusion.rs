//! The diffusion model on tiny inputs: its schedule, the U-Net's shapes, a
//! loss that falls on a fixed set, the moving average, the samplers
//! (deterministic DDIM, ancestral steps, frames for a view), and
//! checkpoints that round-trip.

use candle_core::Tensor;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use promptlab_images::data::{Dataset, DatasetKind, Split, PIXELS, SIDE};
use promptlab_images::ddpm::{beta, ddim_sigma, Ddpm, DdpmConfig, SampleOptions, Weights};
use promptlab_images::ddpm_train;
use promptlab_images::params::Checkpointed;
use promptlab_images::rng::normal_tensor;
use promptlab_images::train::{Progress, TrainOptions, TrainState};

fn tiny_config() -> DdpmConfig {
    DdpmConfig {
        channels: 8,
        timesteps: 100,
        ..DdpmConfig::new(DatasetKind::Mnist)
    }
}

fn tiny(seed: u64) -> Ddpm {
    Ddpm::new(tiny_config(), seed).expect("a tiny diffusion model")
}

#[test]
fn the_schedule_runs_from_signal_to_noise() {
    let model = Ddpm::new(DdpmConfig::new(DatasetKind::Mnist), 1).expect("model");
    let ab = &model.alphas_bar;
    assert_eq!(ab.len(), 1000);
    assert!((ab[0] - (1.0 - 1e-4)).abs() < 1e-12);
    assert!(ab.windows(2).all(|w| w[1] < w[0]));
    // The linear schedule of Ho et al. leaves ᾱ_T ≈ 4·10⁻⁵.
    assert!(ab[999] > 1e-5 && ab[999] < 1e-4, "{}", ab[999]);
    // η = 1 over consecutive steps is DDPM's posterior variance β̃_t.
    let config = DdpmConfig::new(DatasetKind::Mnist);
    for t in [1, 10, 500, 999] {
        let posterior = (1.0 - ab[t - 1]) / (1.0 - ab[t]) * beta(&config, t);
        let sigma = ddim_sigma(ab[t], ab[t - 1], 1.0);
        assert!((sigma * sigma - posterior).abs() < 1e-12 * posterior.max(1.0));
        assert_eq!(ddim_sigma(ab[t], ab[t - 1], 0.0), 0.0);
    }
}

#[test]
fn the_unet_keeps_the_image_shape_and_noising_mixes_as_written() {
    let model = tiny(2);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let x = normal_tensor(&[3, 1, SIDE, SIDE], &mut rng).expect("x");
    let eps = model
        .predict_noise(Weights::Trained, &x, &[0, 50, 99], &[1, 2, 10])
        .expect("a pass");
    assert_eq!(eps.dims(), &[3, 1, SIDE, SIDE]);
    let noise = normal_tensor(&[3, 1, SIDE, SIDE], &mut rng).expect("noise");
    let t = [0, 40, 99];
    let xt = model.noised(&x, &t, &noise).expect("noised");
    let (x, noise, xt) = (flat(&x), flat(&noise), flat(&xt));
    for (i, &s) in t.iter().enumerate() {
        let ab = model.alphas_bar[s] as f32;
        let at = i * PIXELS + 100;
        let expected = ab.sqrt() * x[at] + (1.0 - ab).sqrt() * noise[at];
        assert!((xt[at] - expected).abs() < 1e-5);
    }
}

fn flat(t: &Tensor) -> Vec<f32> {
    t.flatten_all()
        .and_then(|t| t.to_vec1::<f32>())
        .expect("values")
}

/// Blobs whose place follows their class.
fn blobs(n: usize) -> Split {
    let mut split = Split::default();
    for i in 0..n {
        let class = i % 10;
        let (cy, cx) = (6 + (class / 5) * 14, 3 + (class % 5) * 5);
        for p in 0..PIXELS {
            let (y, x) = ((p / SIDE) as i64, (p % SIDE) as i64);
            let d = (y - cy as i64).pow(2) + (x - cx as i64).pow(2);
            split.images.push(if d < 9 { 1.0 } else { 0.0 });
        }
        split.labels.push(class as u8);
    }
    split
}

#[test]
fn training_lowers_the_noise_loss_and_moves_the_average() {
    let model = tiny(4);
    let data = Dataset {
        kind: DatasetKind::Mnist,
        train: blobs(32),
        test: blobs(20),
    };
    let before = ddpm_train::test_loss(&model, &data.test).expect("loss");
    let options = TrainOptions {
        epochs: 6,
        batch_size: 8,
        learning_rate: 5e-3,
        seed: 5,
        max_steps: None,
        train_limit: None,
    };
    let mut losses = Vec::new();
    let state = ddpm_train::train(
        &model,
        &data,
        None,
        &options,
        TrainState::default(),
        None,
        |p| {
            if let Progress::Step { loss, .. } = p {
                losses.push(*loss);
            }
            std::ops::ControlFlow::Continue(())
        },
    )
    .expect("trained");
    assert_eq!(state.epochs_done, 6);
    assert_eq!(losses.len(), 24);
    assert!(losses.iter().all(|l| l.is_finite()));
    let after = ddpm_train::test_loss(&model, &data.test).expect("loss");
    assert!(after < 0.7 * before, "test noise loss {before} → {after}");
    assert_eq!(state.history[5].test_metric, "test_noise_mse");
    // The average trails the trained weights: close, not equal.
    let trained = flat(model.params.get("net.out.weight").expect("net"));
    let average = flat(model.params.get("ema.out.weight").expect("ema"));
    assert_ne!(trained, average);
    model.update_average(0.0).expect("copied");
    let average = flat(model.params.get("ema.out.weight").expect("ema"));
    assert_eq!(trained, average);
}

#[test]
fn samplers_give_frames_pixels_and_repeatable_paths() {
    let model = tiny(6);
    let ddim = SampleOptions {
        steps: 10,
        eta: 0.0,
        guidance: 2.0,
    };
    let mut frames = Vec::new();
    let mut last_denoised = Vec::new();
    let samples = model
        .sample_frames(4, 7, &ddim, |f| {
            frames.push((f.step, f.of, f.t));
            last_denoised = f.denoised.to_vec();
            assert_eq!(f.noisy.len(), 4 * PIXELS);
            std::ops::ControlFlow::Continue(())
        })
        .expect("sampled");
    assert_eq!(frames.len(), 10);
    assert_eq!(frames[0], (1, 10, 99));
    assert_eq!(frames[9], (10, 10, 0));
    assert!(frames.windows(2).all(|w| w[1].2 < w[0].2));
    assert_eq!(samples, last_denoised);
    assert_eq!(samples.len(), 4 * PIXELS);
    assert!(samples.iter().all(|v| (0.0..=1.0).contains(v)));
    // η = 0 is deterministic given the seed's starting noise; η = 1 is not
    // the same path.
    assert_eq!(model.sample(4, 7, &ddim).expect("again"), samples);
    let noisy = SampleOptions {
        eta: 1.0,
        ..ddim.clone()
    };
    assert_ne!(model.sample(4, 7, &noisy).expect("ancestral"), samples);
    // Every step of the schedule: the paper's ancestral sampler.
    let mut steps = 0;
    model
        .sample_frames(1, 8, &SampleOptions::ancestral(&model.config), |_| {
            steps += 1;
            std::ops::ControlFlow::Continue(())
        })
        .expect("ancestral");
    assert_eq!(steps, 100);
    // A stop midway returns at once.
    let mut seen = 0;
    model
        .sample_frames(1, 8, &ddim, |_| {
            seen += 1;
            std::ops::ControlFlow::Break(())
        })
        .expect("stopped");
    assert_eq!(seen, 1);
    assert_eq!(
        model.sample_classes(12)[..11],
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0]
    );
}

#[test]
fn checkpoints_round_trip_with_the_average() {
    let dir = tempfile::tempdir().expect("a temp folder");
    let path = dir.path().join("ddpm.safetensors");
    let model = tiny(9);
    // Make the average differ from the trained weights before saving.
    model
        .params
        .get("net.in.weight")
        .expect("w")
        .affine(2.0, 0.0)
        .and_then(|t| model.params.var("net.in.weight").expect("var").set(&t))
        .expect("changed");
    model.save(&path, &TrainState::default()).expect("saved");
    let (back, _) = Ddpm::load(&path).expect("loaded");
    assert_eq!(back.config, model.config);
    let fast = SampleOptions {
        steps: 5,
        ..SampleOptions::fast()
    };
    assert_eq!(
        back.sample(2, 3, &fast).expect("samples"),
        model.sample(2, 3, &fast).expect("samples")
    );
    assert_eq!(
        flat(back.params.get("net.in.weight").expect("net")),
        flat(model.params.get("net.in.weight").expect("net"))
    );
    assert_ne!(
        flat(back.params.get("net.in.weight").expect("net")),
        flat(back.params.get("ema.in.weight").expect("ema"))
    );
}
