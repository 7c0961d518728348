//! The images pane's data: the sub-view (model and dataset), the request
//! in flight, the images on show with the frames of their drawing, and the
//! last training run's losses and epochs.

use promptlab_engine::images::{DatasetKind, LabPaths, LabelledImages, ModelKind, TrainReport};
use promptlab_engine::RequestId;

use crate::graphics::{Placement, Protocol};

/// How many images a sample asks for.
pub(crate) const SAMPLES: usize = 16;
/// The most epochs one press of the train key asks for.
pub(crate) const MAX_EPOCHS: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunKind {
    Sample,
    Train,
}

/// What the sub-view shows: samples, or one of the model's own views.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum View {
    Samples,
    /// The VAE's latent walk (two sliders).
    Walk,
    /// The VAE's reconstructions of test images.
    Reconstruct,
    /// The GAN between two seeds.
    Interpolate,
}

impl View {
    /// The views a model has, in the order the view key cycles them.
    pub(crate) fn of(model: ModelKind) -> &'static [View] {
        match model {
            ModelKind::Vae => &[View::Samples, View::Walk, View::Reconstruct],
            ModelKind::Dcgan => &[View::Samples, View::Interpolate],
            _ => &[View::Samples],
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            View::Samples => "samples",
            View::Walk => "latent walk",
            View::Reconstruct => "reconstructions",
            View::Interpolate => "interpolation",
        }
    }
}

/// The request in flight.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ImagesRun {
    pub(crate) id: RequestId,
    pub(crate) kind: RunKind,
    pub(crate) model: ModelKind,
    /// Esc was pressed: the stop is on its way.
    pub(crate) stopping: bool,
}

/// One finished epoch, as the chart's side list shows it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EpochLine {
    pub(crate) epoch: usize,
    pub(crate) train_loss: f32,
    pub(crate) metric: String,
    pub(crate) value: f32,
    pub(crate) seconds: f32,
}

/// The last (or current) training run.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Training {
    pub(crate) model: Option<ModelKind>,
    /// Every step's loss, in order.
    pub(crate) losses: Vec<f32>,
    pub(crate) epochs: Vec<EpochLine>,
    /// (epoch, step, steps) of the last step reported.
    pub(crate) at: Option<(usize, usize, usize)>,
    /// The epoch count the run goes to.
    pub(crate) target: usize,
}

pub struct ImagesState {
    pub(crate) model: ModelKind,
    pub(crate) dataset: DatasetKind,
    /// Where the datasets and the user's checkpoints are (none: the lab is
    /// not set up in this app).
    pub(crate) paths: Option<LabPaths>,
    pub(crate) run: Option<ImagesRun>,
    /// The images on show and what they are.
    pub(crate) shown: Option<LabelledImages>,
    pub(crate) caption: String,
    /// The steps of the last drawing (rows or denoising steps) with their
    /// captions, to scrub through; the finished, labelled images are last.
    pub(crate) frames: Vec<(String, LabelledImages)>,
    /// The frame on show when scrubbing (none: the newest).
    pub(crate) frame_at: Option<usize>,
    pub(crate) training: Training,
    /// Epochs the train key adds.
    pub(crate) train_epochs: usize,
    /// The next sample's seed (each sample draws new images).
    pub(crate) seed: u64,
    /// Sample from the shipped checkpoint even when the user has one.
    pub(crate) shipped_only: bool,
    /// How many images the grid showed last (the caption says when not all).
    pub(crate) grid_shown: std::cell::Cell<usize>,
    /// Where the last frame put each image (for the graphics overlay;
    /// cleared when something covers them).
    pub(crate) placements: std::cell::RefCell<Vec<Placement>>,
    /// The terminal's graphics protocol, when it has one.
    pub(crate) graphics: Option<Protocol>,
    pub(crate) view: View,
    /// The latent walk's point (z₁, z₂).
    pub(crate) walk: (f32, f32),
}

impl Default for ImagesState {
    fn default() -> Self {
        Self {
            model: ModelKind::Vae,
            dataset: DatasetKind::Mnist,
            paths: None,
            run: None,
            shown: None,
            caption: String::new(),
            frames: Vec::new(),
            frame_at: None,
            training: Training::default(),
            train_epochs: 1,
            seed: 0,
            shipped_only: false,
            grid_shown: std::cell::Cell::new(0),
            placements: std::cell::RefCell::default(),
            graphics: None,
            view: View::Samples,
            walk: (0.0, 0.0),
        }
    }
}

impl ImagesState {
    pub fn with_paths(paths: LabPaths) -> Self {
        Self {
            paths: Some(paths),
            ..Self::default()
        }
    }

    pub fn running(&self) -> bool {
        self.run.is_some()
    }

    pub(crate) fn in_flight(&self) -> Option<RequestId> {
        self.run.as_ref().map(|r| r.id)
    }

    pub(crate) fn owns(&self, id: RequestId) -> bool {
        self.run.as_ref().is_some_and(|r| r.id == id)
    }

    /// The images and caption on show: a scrubbed-to frame, else the
    /// newest.
    pub(crate) fn on_show(&self) -> Option<(&str, &LabelledImages)> {
        match self.frame_at.and_then(|i| self.frames.get(i)) {
            Some((caption, images)) => Some((caption, images)),
            None => self.shown.as_ref().map(|s| (self.caption.as_str(), s)),
        }
    }

    /// Folds a training report into the chart.
    pub(crate) fn record(&mut self, report: TrainReport) {
        let t = &mut self.training;
        match report {
            TrainReport::Started { epochs_target, .. } => t.target = epochs_target,
            TrainReport::Step {
                epoch,
                step,
                steps,
                loss,
            } => {
                t.losses.push(loss);
                t.at = Some((epoch, step, steps));
            }
            TrainReport::Epoch {
                epoch,
                train_loss,
                metric,
                value,
                seconds,
            } => t.epochs.push(EpochLine {
                epoch,
                train_loss,
                metric,
                value,
                seconds,
            }),
        }
    }
}
