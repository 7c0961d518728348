//! The image lab through the real binary: the shipped checkpoints judged on
//! the real datasets (fetched by `promptlab images data fetch`, which CI
//! runs), smoke training of each model, sampling to PNG, and the one-line
//! errors for a checkpoint of another kind and a missing dataset.

use std::path::Path;
use std::process::{Command, Output};

fn promptlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_promptlab"))
        .args(args)
        .output()
        .expect("the promptlab binary")
}

fn ok(args: &[&str]) -> String {
    let out = promptlab(args);
    assert!(
        out.status.success(),
        "promptlab {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

fn json(args: &[&str]) -> serde_json::Value {
    serde_json::from_str(ok(args).trim()).expect("one JSON object")
}

/// The datasets must be there: CI fetches them; a missing one fails here
/// with what to run, never skips.
fn datasets_present() {
    let out = ok(&["images", "data", "fetch"]);
    assert!(
        out.contains("MNIST") && out.contains("Fashion-MNIST"),
        "{out}"
    );
}

#[test]
fn the_shipped_classifiers_meet_their_targets() {
    datasets_present();
    let mnist = json(&["images", "eval", "cnn", "--format", "json"]);
    assert_eq!(mnist["dataset"], "mnist");
    assert_eq!(mnist["test_images"], 2000);
    let accuracy = mnist["accuracy"].as_f64().unwrap();
    assert!(accuracy >= 0.985, "MNIST accuracy {accuracy}");
    let fashion = json(&[
        "images",
        "eval",
        "cnn",
        "--dataset",
        "fashion-mnist",
        "--format",
        "json",
    ]);
    assert_eq!(fashion["test_images"], 10000);
    let accuracy = fashion["accuracy"].as_f64().unwrap();
    assert!(accuracy >= 0.91, "Fashion-MNIST accuracy {accuracy}");
}

#[test]
fn the_shipped_vae_is_measured_and_its_samples_judged() {
    datasets_present();
    let vae = json(&["images", "eval", "vae", "--format", "json"]);
    let elbo = vae["neg_elbo_nats"].as_f64().unwrap();
    // Above the literature's ~86.8 nats (a bound on the likelihood can only
    // be worse on 8,000 training digits), and far below the 543 nats of
    // pixels coded at p = ½.
    assert!((86.0..130.0).contains(&elbo), "negative ELBO {elbo}");
    assert_eq!(vae["samples"], 1000);
    let histogram: Vec<u64> = serde_json::from_value(vae["class_histogram"].clone()).unwrap();
    assert_eq!(histogram.iter().sum::<u64>(), 1000);
    let entropy = vae["class_entropy"].as_f64().unwrap();
    assert!(
        entropy > 1.8 && entropy <= 10f64.ln() + 1e-9,
        "entropy {entropy}"
    );
    let p = vae["mean_max_prob"].as_f64().unwrap();
    assert!((0.1..=1.0).contains(&p), "{p}");
    assert!(vae["fid"].as_f64().unwrap() > 0.0);
}

#[test]
fn the_shipped_dcgans_samples_are_judged() {
    datasets_present();
    let gan = json(&["images", "eval", "dcgan", "--format", "json"]);
    assert_eq!(gan["samples"], 1000);
    let histogram: Vec<u64> = serde_json::from_value(gan["class_histogram"].clone()).unwrap();
    assert_eq!(histogram.iter().sum::<u64>(), 1000);
    // Every digit is drawn, not one mode.
    assert!(histogram.iter().all(|&c| c > 0), "{histogram:?}");
    let share = gan["confident_share"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&share));
    assert!(gan["fid"].as_f64().unwrap() > 0.0);
    // Samples from the shipped generator, seeded, twice the same.
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.png"), dir.path().join("b.png"));
    for p in [&a, &b] {
        ok(&[
            "images",
            "sample",
            "dcgan",
            "--n",
            "16",
            "--seed",
            "3",
            "--png",
            p.to_str().unwrap(),
        ]);
    }
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
}

#[test]
fn the_shipped_autoregressive_models_report_their_likelihood_and_samples() {
    datasets_present();
    for model in ["pixelcnn", "row-lstm"] {
        let report = json(&[
            "images",
            "eval",
            model,
            "--samples",
            "20",
            "--format",
            "json",
        ]);
        let nats = report["nll_nats"].as_f64().unwrap();
        // Above the literature's ~80 nats (minutes of CPU on 8,000 digits),
        // far below the 543 nats of pixels coded at p = ½.
        assert!((78.0..120.0).contains(&nats), "{model}: NLL {nats}");
        let bits = report["bits_per_dim"].as_f64().unwrap();
        assert!((bits - nats / (784.0 * 2f64.ln())).abs() < 1e-9);
        assert_eq!(report["samples"], 20);
        let histogram: Vec<u64> =
            serde_json::from_value(report["class_histogram"].clone()).unwrap();
        assert_eq!(histogram.iter().sum::<u64>(), 20);
    }
}

#[test]
fn the_shipped_ddpm_samples_every_class_and_is_judged() {
    datasets_present();
    let report = json(&[
        "images",
        "eval",
        "ddpm",
        "--samples",
        "30",
        "--format",
        "json",
    ]);
    assert_eq!(report["sampler"]["steps"], 50);
    assert_eq!(report["sampler"]["eta"], 0.0);
    assert_eq!(report["samples"], 30);
    let histogram: Vec<u64> = serde_json::from_value(report["class_histogram"].clone()).unwrap();
    assert_eq!(histogram.iter().sum::<u64>(), 30);
    for key in ["mean_max_prob", "confident_share", "class_agreement"] {
        let v = report[key].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v), "{key} {v}");
    }
    assert!(report["fid"].as_f64().unwrap() > 0.0);
    // Out-of-range sampler settings are refused in one line.
    let out = promptlab(&["images", "eval", "ddpm", "--eta", "2"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--eta must be between 0 and 1"), "{err}");
}

#[test]
fn each_model_trains_a_few_steps_then_samples_and_loads_by_kind() {
    datasets_present();
    let dir = tempfile::tempdir().unwrap();
    let cnn = dir.path().join("cnn.safetensors");
    let vae = dir.path().join("vae.safetensors");
    let path = |p: &Path| p.to_str().unwrap().to_string();
    let dcgan = dir.path().join("dcgan.safetensors");
    let pixelcnn = dir.path().join("pixelcnn.safetensors");
    let row_lstm = dir.path().join("row-lstm.safetensors");
    let ddpm = dir.path().join("ddpm.safetensors");
    for (model, ckpt) in [
        ("cnn", &cnn),
        ("vae", &vae),
        ("dcgan", &dcgan),
        ("pixelcnn", &pixelcnn),
        ("row-lstm", &row_lstm),
        ("ddpm", &ddpm),
    ] {
        ok(&[
            "images",
            "train",
            model,
            "--steps",
            "3",
            "--limit",
            "256",
            "--out",
            &path(ckpt),
        ]);
        assert!(ckpt.exists());
    }
    let eval = json(&[
        "images",
        "eval",
        "cnn",
        "--ckpt",
        &path(&cnn),
        "--format",
        "json",
    ]);
    assert!(eval["accuracy"].as_f64().unwrap() >= 0.0);
    // Resuming goes on counting steps from the checkpoint.
    ok(&[
        "images",
        "train",
        "cnn",
        "--steps",
        "5",
        "--limit",
        "256",
        "--out",
        &path(&cnn),
        "--resume",
    ]);

    let png = dir.path().join("grid.png");
    let said = ok(&[
        "images",
        "sample",
        "vae",
        "--ckpt",
        &path(&vae),
        "--n",
        "9",
        "--seed",
        "4",
        "--png",
        &path(&png),
    ]);
    assert!(said.contains("9 samples"), "{said}");
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    // 3 × 3 cells of 56 + 2 pixels, and a 2-pixel border.
    assert_eq!(
        u32::from_be_bytes(bytes[16..20].try_into().unwrap()),
        3 * 58 + 2
    );
    assert_eq!(
        u32::from_be_bytes(bytes[20..24].try_into().unwrap()),
        3 * 58 + 2
    );
    // The same seed gives the same picture.
    let again = dir.path().join("again.png");
    ok(&[
        "images",
        "sample",
        "vae",
        "--ckpt",
        &path(&vae),
        "--n",
        "9",
        "--seed",
        "4",
        "--png",
        &path(&again),
    ]);
    assert_eq!(std::fs::read(&again).unwrap(), bytes);

    // A checkpoint of another kind is refused by name, in one line.
    let out = promptlab(&["images", "eval", "vae", "--ckpt", &path(&cnn)]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is a `cnn` checkpoint (expected `vae`)"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let out = promptlab(&[
        "images",
        "sample",
        "cnn",
        "--ckpt",
        &path(&cnn),
        "--png",
        &path(&png),
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("draws none"));

    // The autoregressive models draw pixel by pixel, the diffusion model
    // in as many denoising steps as asked; each a PNG of 2 images.
    for (model, ckpt) in [
        ("pixelcnn", &pixelcnn),
        ("row-lstm", &row_lstm),
        ("ddpm", &ddpm),
    ] {
        let said = ok(&[
            "images",
            "sample",
            model,
            "--ckpt",
            &path(ckpt),
            "--n",
            "2",
            "--denoise-steps",
            "5",
            "--png",
            &path(&png),
        ]);
        assert!(said.contains("2 samples"), "{model}: {said}");
    }
    // A smoke-trained likelihood model reports its NLL and bits per pixel.
    let eval = json(&[
        "images",
        "eval",
        "row-lstm",
        "--ckpt",
        &path(&row_lstm),
        "--samples",
        "4",
        "--format",
        "json",
    ]);
    let (nats, bits) = (
        eval["nll_nats"].as_f64().unwrap(),
        eval["bits_per_dim"].as_f64().unwrap(),
    );
    assert!((nats / (784.0 * 2f64.ln()) - bits).abs() < 1e-9);
    assert!(nats > 0.0 && nats < 784.0, "{nats}");
    assert_eq!(eval["samples"], 4);
}

#[test]
fn a_missing_dataset_says_what_to_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_promptlab"))
        .args(["images", "train", "cnn", "--steps", "1"])
        .env("PROMPTLAB_CACHE_DIR", dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("MNIST is not in") && err.contains("run `promptlab images data fetch`"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}
