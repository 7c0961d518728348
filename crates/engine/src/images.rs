//! The image lab's work on the engine: training a model and drawing
//! samples from one, each sample labelled by the shipped classifier. It runs
//! on a thread of its own (the images lane), one request at a time, so a
//! training run of minutes never holds up chat; a request stops at its
//! next step when cancelled. What comes back is plain data: pixels as
//! `Vec<f32>`, labels, losses.

use std::ops::ControlFlow;
use std::path::PathBuf;

pub use promptlab_images::data::DatasetKind;
use promptlab_images::data::{self, PIXELS, SIDE};
use promptlab_images::ddpm::SampleOptions;
use promptlab_images::metrics;
use promptlab_images::raster::RasterSampler;
use promptlab_images::train::{Progress, TrainOptions, TrainState};
pub use promptlab_images::zoo::ModelKind;
use promptlab_images::zoo::{self, AnyModel};
use promptlab_images::ImagesError;

use crate::cancel::CancelToken;
use crate::protocol::{Event, RequestError, RequestId};

/// Where the lab keeps its files.
#[derive(Debug, Clone, PartialEq)]
pub struct LabPaths {
    /// The datasets (`promptlab images data fetch` fills it).
    pub data: PathBuf,
    /// Checkpoints the user trains: `MODEL-DATASET.safetensors`.
    pub checkpoints: PathBuf,
}

impl LabPaths {
    /// The checkpoint a user's training of `model` on `dataset` writes.
    pub fn checkpoint(&self, model: ModelKind, dataset: DatasetKind) -> PathBuf {
        zoo::default_checkpoint(&self.checkpoints, model, dataset)
    }
}

/// A request for the images lane.
#[derive(Debug, Clone, PartialEq)]
pub struct ImagesRequest {
    pub id: RequestId,
    pub model: ModelKind,
    pub dataset: DatasetKind,
    pub paths: LabPaths,
    pub work: ImagesWork,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ImagesWork {
    /// `n` samples from the user's checkpoint when there is one (and not
    /// `shipped`), else the shipped one; the steps of the drawing come as frames (rows for the
    /// autoregressive models, denoising steps for diffusion). The
    /// classifier's "samples" are test images it labels.
    Sample { n: usize, seed: u64, shipped: bool },
    /// Trains `epochs` more epochs into the user's checkpoint, from it when
    /// it exists, else afresh; `preview` samples after each epoch.
    Train { epochs: usize, preview: usize },
    /// The VAE's latent walk: a [`WALK_GRID`] grid of decodings around
    /// (`x`, `y`) in its first two latent dimensions.
    Walk { x: f32, y: f32, shipped: bool },
    /// The VAE's reconstructions: `n` test images, each followed by what
    /// the VAE makes of it.
    Reconstruct { n: usize, seed: u64, shipped: bool },
    /// The GAN's interpolation: `steps` images along the line between the
    /// latents of two seeds.
    Interpolate {
        seed_a: u64,
        seed_b: u64,
        steps: usize,
        shipped: bool,
    },
}

/// How far apart the latent walk's grid points are, and how many (across,
/// down): it fits an 80 × 24 terminal.
pub const WALK_SPACING: f32 = 0.6;
pub const WALK_GRID: (usize, usize) = (5, 2);

/// Test image `i` of a set of `count` beginning at `seed`, spread over
/// the split (whose images come class by class).
fn spread(count: usize, seed: u64, i: usize) -> usize {
    ((seed as usize).wrapping_mul(16).wrapping_add(i)).wrapping_mul(211) % count.max(1)
}

/// Images and what the classifier says of each.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledImages {
    /// n × 784 grey levels in [0, 1], row by row.
    pub pixels: Vec<f32>,
    /// Per image: the class the shipped classifier gives and its
    /// probability (empty while a drawing is unfinished).
    pub labels: Vec<(usize, f32)>,
    /// Whose classes the labels name.
    pub dataset: DatasetKind,
}

impl LabelledImages {
    pub fn len(&self) -> usize {
        self.pixels.len() / PIXELS
    }

    pub fn is_empty(&self) -> bool {
        self.pixels.is_empty()
    }

    /// The name of class `class` (`?` past the last).
    pub fn class_name(&self, class: usize) -> &'static str {
        self.dataset
            .class_names()
            .get(class)
            .copied()
            .unwrap_or("?")
    }

    /// Image `i`'s 28 × 28 grey levels.
    pub fn image(&self, i: usize) -> &[f32] {
        &self.pixels[i * PIXELS..(i + 1) * PIXELS]
    }
}

/// The side of every image.
pub const IMAGE_SIDE: usize = SIDE;

/// A training run's report.
#[derive(Debug, Clone, PartialEq)]
pub enum TrainReport {
    /// What the run starts from.
    Started {
        parameters: usize,
        epochs_done: usize,
        epochs_target: usize,
        images: usize,
        resumed: bool,
    },
    Step {
        epoch: usize,
        step: usize,
        steps: usize,
        loss: f32,
    },
    Epoch {
        epoch: usize,
        train_loss: f32,
        /// What `value` measures (`accuracy`, `nll_nats`, …).
        metric: String,
        value: f32,
        seconds: f32,
    },
}

/// The lane's work loop, on its own thread: each request in turn, a panic
/// caught per request.
pub(crate) fn serve(
    request: ImagesRequest,
    cancel: &CancelToken,
    sink: &dyn Fn(Event),
) -> Result<(), RequestError> {
    let id = request.id;
    let outcome = match &request.work {
        ImagesWork::Sample { n, seed, shipped } => {
            sample(&request, *n, *seed, *shipped, cancel, sink)
        }
        ImagesWork::Train { epochs, preview } => train(&request, *epochs, *preview, cancel, sink),
        ImagesWork::Walk { .. }
        | ImagesWork::Reconstruct { .. }
        | ImagesWork::Interpolate { .. } => explore(&request, sink),
    };
    match outcome {
        Ok((summary, stopped)) => {
            sink(Event::ImagesFinished {
                id,
                summary,
                stopped,
            });
            Ok(())
        }
        Err(ImagesError::Stopped) => Err(RequestError::Cancelled),
        Err(e) => Err(RequestError::Images(e.to_string())),
    }
}

/// The user's checkpoint of the request's model if it exists, else the
/// shipped one; with a word for which.
fn load(
    request: &ImagesRequest,
    shipped: bool,
) -> Result<(AnyModel, TrainState, &'static str), ImagesError> {
    let own = request.paths.checkpoint(request.model, request.dataset);
    let (file, source) = if own.exists() && !shipped {
        (
            zoo::checkpoint_or_shipped(request.model, Some(&own), request.dataset)?,
            "yours",
        )
    } else {
        (
            zoo::checkpoint_or_shipped(request.model, None, request.dataset)?,
            "shipped",
        )
    };
    let (model, state) = AnyModel::from_file(request.model, &file)?;
    Ok((model, state, source))
}

type Outcome = Result<(String, bool), ImagesError>;

fn sample(
    request: &ImagesRequest,
    n: usize,
    seed: u64,
    shipped: bool,
    cancel: &CancelToken,
    sink: &dyn Fn(Event),
) -> Outcome {
    let id = request.id;
    let (model, state, source) = load(request, shipped)?;
    let judge = zoo::shipped_judge(request.dataset)?;
    let frame = |pixels: &[f32], caption: String| {
        sink(Event::ImagesFrame {
            id,
            images: LabelledImages {
                pixels: pixels.to_vec(),
                labels: Vec::new(),
                dataset: request.dataset,
            },
            caption,
        });
        if cancel.is_cancelled() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let pixels = match &model {
        AnyModel::Cnn(_) => {
            // The classifier draws nothing: it labels test images instead.
            let data = data::load(request.dataset, &request.paths.data)?;
            (0..n)
                .flat_map(|i| data.test.image(spread(data.test.len(), seed, i)).to_vec())
                .collect()
        }
        AnyModel::PixelCnn(m) => m.sample_rows(n, seed, |row, canvas| {
            frame(canvas, format!("row {} of {SIDE}", row + 1))
        })?,
        AnyModel::RowLstm(m) => m.sample_rows(n, seed, |row, canvas| {
            frame(canvas, format!("row {} of {SIDE}", row + 1))
        })?,
        AnyModel::Ddpm(m) => m.sample_frames(n, seed, &SampleOptions::fast(), |f| {
            frame(f.noisy, format!("step {} of {}, t = {}", f.step, f.of, f.t))
        })?,
        other => other.sample(n, seed, &SampleOptions::fast())?,
    };
    if cancel.is_cancelled() {
        return Ok(("stopped before the drawing was done".into(), true));
    }
    let labels = metrics::labels(&judge, &pixels)?;
    let confident = labels.iter().filter(|(_, p)| *p >= 0.9).count();
    sink(Event::ImagesSamples {
        id,
        images: LabelledImages {
            pixels,
            labels,
            dataset: request.dataset,
        },
    });
    Ok((
        format!(
            "{n} from the {} ({source} checkpoint, {} epochs): {confident} of {n} labelled with ≥ 0.9 confidence",
            request.model.title(),
            state.epochs_done
        ),
        false,
    ))
}

/// The model-specific views: decode, reconstruct or interpolate, then
/// label what came out.
fn explore(request: &ImagesRequest, sink: &dyn Fn(Event)) -> Outcome {
    let shipped = match request.work {
        ImagesWork::Walk { shipped, .. }
        | ImagesWork::Reconstruct { shipped, .. }
        | ImagesWork::Interpolate { shipped, .. } => shipped,
        _ => false,
    };
    let (model, _, source) = load(request, shipped)?;
    let wrong = || ImagesError::Invalid(format!("the {} has no such view", request.model.title()));
    let (pixels, summary) = match (&request.work, &model) {
        (ImagesWork::Walk { x, y, .. }, AnyModel::Vae(m)) => (
            m.walk(*x, *y, WALK_GRID, WALK_SPACING)?,
            format!("the VAE's latent walk at z₁ = {x:.1}, z₂ = {y:.1} ({source} checkpoint)"),
        ),
        (ImagesWork::Reconstruct { n, seed, .. }, AnyModel::Vae(m)) => {
            let data = data::load(request.dataset, &request.paths.data)?;
            let originals: Vec<f32> = (0..*n)
                .flat_map(|i| data.test.image(spread(data.test.len(), *seed, i)).to_vec())
                .collect();
            let rebuilt = m.reconstruct(&originals)?;
            let mut pairs = Vec::with_capacity(2 * originals.len());
            for (a, b) in originals.chunks(PIXELS).zip(rebuilt.chunks(PIXELS)) {
                pairs.extend_from_slice(a);
                pairs.extend_from_slice(b);
            }
            (
                pairs,
                format!("{n} test images, each followed by the VAE's reconstruction ({source} checkpoint)"),
            )
        }
        (
            ImagesWork::Interpolate {
                seed_a,
                seed_b,
                steps,
                ..
            },
            AnyModel::Dcgan(m),
        ) => (
            m.interpolate(*seed_a, *seed_b, *steps)?,
            format!("the DCGAN from seed {seed_a} to seed {seed_b} in {steps} steps ({source} checkpoint)"),
        ),
        _ => return Err(wrong()),
    };
    let judge = zoo::shipped_judge(request.dataset)?;
    let labels = metrics::labels(&judge, &pixels)?;
    sink(Event::ImagesSamples {
        id: request.id,
        images: LabelledImages {
            pixels,
            labels,
            dataset: request.dataset,
        },
    });
    Ok((summary, false))
}

fn train(
    request: &ImagesRequest,
    epochs: usize,
    preview: usize,
    cancel: &CancelToken,
    sink: &dyn Fn(Event),
) -> Outcome {
    let id = request.id;
    let out = request.paths.checkpoint(request.model, request.dataset);
    let (model, state, resumed) = if out.exists() {
        let file = zoo::checkpoint_or_shipped(request.model, Some(&out), request.dataset)?;
        let (model, state) = AnyModel::from_file(request.model, &file)?;
        (model, state, true)
    } else {
        let model = AnyModel::fresh(request.model, request.dataset, 0, None)?;
        (model, TrainState::default(), false)
    };
    let data = data::load(request.dataset, &request.paths.data)?;
    let target = state.epochs_done + epochs;
    let report = |report| sink(Event::ImagesTraining { id, report });
    report(TrainReport::Started {
        parameters: model.parameters(),
        epochs_done: state.epochs_done,
        epochs_target: target,
        images: data.train.len(),
        resumed,
    });
    let options = TrainOptions {
        epochs: target,
        batch_size: 64,
        learning_rate: default_rate(request.model),
        seed: 0,
        max_steps: None,
        train_limit: None,
    };
    let judge = zoo::shipped_judge(request.dataset).ok();
    let mut last_epoch = None;
    let result = model.train(
        &data,
        judge.as_ref(),
        &options,
        state,
        Some(&out),
        |progress| {
            match progress {
                Progress::Step {
                    epoch,
                    step,
                    steps,
                    loss,
                } => report(TrainReport::Step {
                    epoch: *epoch,
                    step: *step,
                    steps: *steps,
                    loss: *loss,
                }),
                Progress::Epoch(record) => {
                    last_epoch = Some(record.epoch);
                    report(TrainReport::Epoch {
                        epoch: record.epoch,
                        train_loss: record.train_loss,
                        metric: record.test_metric.clone(),
                        value: record.test_value,
                        seconds: record.seconds,
                    });
                    if let Some(judge) = &judge {
                        if let Ok(images) = preview_images(&model, &data, preview, request.dataset)
                        {
                            let labels = metrics::labels(judge, &images.pixels).unwrap_or_default();
                            sink(Event::ImagesSamples {
                                id,
                                images: LabelledImages { labels, ..images },
                            });
                        }
                    }
                }
            }
            if cancel.is_cancelled() {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        },
    );
    match result {
        Ok(state) => Ok((
            format!(
                "trained the {} to {} epoch{}; checkpoint {}",
                request.model.title(),
                state.epochs_done,
                if state.epochs_done == 1 { "" } else { "s" },
                out.display()
            ),
            false,
        )),
        Err(ImagesError::Stopped) => Ok((
            match last_epoch {
                Some(epoch) => format!(
                    "stopped; epoch {epoch}'s checkpoint is kept at {}",
                    out.display()
                ),
                None => "stopped before an epoch finished; no checkpoint written".to_string(),
            },
            true,
        )),
        Err(e) => Err(e),
    }
}

/// What to show after an epoch: samples of a generator (quickly drawn),
/// or test images for the classifier.
fn preview_images(
    model: &AnyModel,
    data: &data::Dataset,
    n: usize,
    dataset: DatasetKind,
) -> Result<LabelledImages, ImagesError> {
    let quick = SampleOptions {
        steps: 25,
        ..SampleOptions::fast()
    };
    let pixels = match model {
        AnyModel::Cnn(_) => (0..n)
            .flat_map(|i| data.test.image(spread(data.test.len(), 0, i)).to_vec())
            .collect(),
        other => other.sample(n, 0, &quick)?,
    };
    Ok(LabelledImages {
        pixels,
        labels: Vec::new(),
        dataset,
    })
}

/// The learning rate the README's training commands use.
fn default_rate(model: ModelKind) -> f64 {
    match model {
        ModelKind::Dcgan => 2e-4,
        ModelKind::Cnn | ModelKind::PixelCnn | ModelKind::RowLstm => 2e-3,
        ModelKind::Vae | ModelKind::Ddpm => 1e-3,
    }
}
