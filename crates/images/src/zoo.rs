//! Every model of the lab behind one type: which kinds there are, a model
//! of any kind fresh or from its checkpoint (a file, or the one shipped),
//! and what all of them do — save, train, sample, be judged. The command
//! line and the terminal app both go through here.

use std::path::{Path, PathBuf};

use crate::cnn::{Classifier, ClassifierConfig};
use crate::data::{Dataset, DatasetKind};
use crate::dcgan::{Dcgan, DcganConfig};
use crate::ddpm::{Ddpm, DdpmConfig, SampleOptions};
use crate::error::{ImagesError, Result};
use crate::params::{CheckpointFile, Checkpointed};
use crate::pixelcnn::{PixelCnn, PixelCnnConfig};
use crate::raster::RasterSampler;
use crate::row_lstm::{RowLstm, RowLstmConfig};
use crate::train::{Flow, Progress, TrainOptions, TrainState};
use crate::vae::{Vae, VaeConfig};

/// The kinds of model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModelKind {
    Cnn,
    Vae,
    Dcgan,
    PixelCnn,
    RowLstm,
    Ddpm,
}

impl ModelKind {
    pub const ALL: [ModelKind; 6] = [
        ModelKind::Cnn,
        ModelKind::Vae,
        ModelKind::Dcgan,
        ModelKind::PixelCnn,
        ModelKind::RowLstm,
        ModelKind::Ddpm,
    ];

    /// The name in checkpoints and on the command line.
    pub fn id(self) -> &'static str {
        match self {
            ModelKind::Cnn => crate::cnn::KIND,
            ModelKind::Vae => crate::vae::KIND,
            ModelKind::Dcgan => crate::dcgan::KIND,
            ModelKind::PixelCnn => crate::pixelcnn::KIND,
            ModelKind::RowLstm => crate::row_lstm::KIND,
            ModelKind::Ddpm => crate::ddpm::KIND,
        }
    }

    /// The name people read.
    pub fn title(self) -> &'static str {
        match self {
            ModelKind::Cnn => "CNN",
            ModelKind::Vae => "VAE",
            ModelKind::Dcgan => "DCGAN",
            ModelKind::PixelCnn => "PixelCNN",
            ModelKind::RowLstm => "Row LSTM",
            ModelKind::Ddpm => "DDPM",
        }
    }

    /// Whether it draws images (all but the classifier).
    pub fn generative(self) -> bool {
        self != ModelKind::Cnn
    }
}

/// A model of any kind.
pub enum AnyModel {
    Cnn(Classifier),
    Vae(Vae),
    Dcgan(Dcgan),
    PixelCnn(PixelCnn),
    RowLstm(RowLstm),
    Ddpm(Ddpm),
}

/// `$body` with `$m` bound to the model inside any [`AnyModel`].
macro_rules! each_model {
    ($any:expr, $m:ident => $body:expr) => {
        match $any {
            AnyModel::Cnn($m) => $body,
            AnyModel::Vae($m) => $body,
            AnyModel::Dcgan($m) => $body,
            AnyModel::PixelCnn($m) => $body,
            AnyModel::RowLstm($m) => $body,
            AnyModel::Ddpm($m) => $body,
        }
    };
}

/// One width for a model that has one (`None`: its default).
pub type Width = Option<usize>;

impl AnyModel {
    /// A fresh model of `kind` for `dataset`, initialised from `seed`;
    /// `widths` overrides the default size (two for the classifier's
    /// convolutions, one for PixelCNN, the Row LSTM and the DDPM).
    pub fn fresh(
        kind: ModelKind,
        dataset: DatasetKind,
        seed: u64,
        widths: Option<&[usize]>,
    ) -> Result<Self> {
        let one = |default: usize| -> Result<usize> {
            match widths {
                None => Ok(default),
                Some(&[w]) => Ok(w),
                Some(_) => Err(ImagesError::Invalid(format!(
                    "the {} takes one width",
                    kind.id()
                ))),
            }
        };
        Ok(match kind {
            ModelKind::Cnn => {
                let mut config = ClassifierConfig::new(dataset);
                match widths {
                    None => {}
                    Some(&[a, b]) => config.channels = [a, b],
                    Some(_) => {
                        return Err(ImagesError::Invalid(
                            "the cnn takes two widths (e.g. 32,64)".into(),
                        ))
                    }
                }
                AnyModel::Cnn(Classifier::new(config, seed)?)
            }
            ModelKind::Vae => AnyModel::Vae(Vae::new(VaeConfig::new(dataset), seed)?),
            ModelKind::Dcgan => AnyModel::Dcgan(Dcgan::new(DcganConfig::new(dataset), seed)?),
            ModelKind::PixelCnn => {
                let mut config = PixelCnnConfig::new(dataset);
                config.channels = one(config.channels)?;
                AnyModel::PixelCnn(PixelCnn::new(config, seed)?)
            }
            ModelKind::RowLstm => {
                let mut config = RowLstmConfig::new(dataset);
                config.hidden = one(config.hidden)?;
                AnyModel::RowLstm(RowLstm::new(config, seed)?)
            }
            ModelKind::Ddpm => {
                let mut config = DdpmConfig::new(dataset);
                config.channels = one(config.channels)?;
                AnyModel::Ddpm(Ddpm::new(config, seed)?)
            }
        })
    }

    /// The model of `kind` in `file`, and its training state.
    pub fn from_file(kind: ModelKind, file: &CheckpointFile) -> Result<(Self, TrainState)> {
        fn load<M: Checkpointed>(
            file: &CheckpointFile,
            wrap: fn(M) -> AnyModel,
        ) -> Result<(AnyModel, TrainState)> {
            let (m, s) = M::from_checkpoint(file)?;
            Ok((wrap(m), s))
        }
        match kind {
            ModelKind::Cnn => load(file, AnyModel::Cnn),
            ModelKind::Vae => load(file, AnyModel::Vae),
            ModelKind::Dcgan => load(file, AnyModel::Dcgan),
            ModelKind::PixelCnn => load(file, AnyModel::PixelCnn),
            ModelKind::RowLstm => load(file, AnyModel::RowLstm),
            ModelKind::Ddpm => load(file, AnyModel::Ddpm),
        }
    }

    pub fn kind(&self) -> ModelKind {
        match self {
            AnyModel::Cnn(_) => ModelKind::Cnn,
            AnyModel::Vae(_) => ModelKind::Vae,
            AnyModel::Dcgan(_) => ModelKind::Dcgan,
            AnyModel::PixelCnn(_) => ModelKind::PixelCnn,
            AnyModel::RowLstm(_) => ModelKind::RowLstm,
            AnyModel::Ddpm(_) => ModelKind::Ddpm,
        }
    }

    pub fn dataset(&self) -> DatasetKind {
        each_model!(self, m => m.config.dataset)
    }

    /// How many numbers it has.
    pub fn parameters(&self) -> usize {
        each_model!(self, m => m.params.count())
    }

    pub fn save(&self, path: &Path, state: &TrainState) -> Result<()> {
        each_model!(self, m => m.save(path, state))
    }

    /// `n` samples (n × 784 pixels in [0, 1]) from seed `seed`; the
    /// diffusion model samples by `diffusion`. The classifier draws none.
    pub fn sample(&self, n: usize, seed: u64, diffusion: &SampleOptions) -> Result<Vec<f32>> {
        match self {
            AnyModel::Cnn(_) => Err(ImagesError::Invalid(
                "the cnn is a classifier: it judges samples but draws none".into(),
            )),
            AnyModel::Vae(m) => m.sample(n, seed),
            AnyModel::Dcgan(m) => m.sample(n, seed),
            AnyModel::PixelCnn(m) => m.sample(n, seed),
            AnyModel::RowLstm(m) => m.sample(n, seed),
            AnyModel::Ddpm(m) => m.sample(n, seed, diffusion),
        }
    }

    /// Trains on `data` from `state` up to `options.epochs`, writing the
    /// checkpoint `out` after every epoch. The GAN and the diffusion model
    /// are measured each epoch by `judge` when there is one.
    pub fn train(
        &self,
        data: &Dataset,
        judge: Option<&Classifier>,
        options: &TrainOptions,
        state: TrainState,
        out: Option<&Path>,
        on_progress: impl FnMut(&Progress) -> Flow,
    ) -> Result<TrainState> {
        use crate::{autoregressive_train, cnn_train, dcgan_train, ddpm_train, vae_train};
        match self {
            AnyModel::Cnn(m) => cnn_train::train(m, data, options, state, out, on_progress),
            AnyModel::Vae(m) => vae_train::train(m, data, options, state, out, on_progress),
            AnyModel::Dcgan(m) => {
                dcgan_train::train(m, data, judge, options, state, out, on_progress)
            }
            AnyModel::PixelCnn(m) => {
                autoregressive_train::train(m, data, options, state, out, on_progress)
            }
            AnyModel::RowLstm(m) => {
                autoregressive_train::train(m, data, options, state, out, on_progress)
            }
            AnyModel::Ddpm(m) => {
                ddpm_train::train(m, data, judge, options, state, out, on_progress)
            }
        }
    }
}

/// The checkpoint at `path`, else the one shipped for `kind` on `dataset`.
pub fn checkpoint_or_shipped(
    kind: ModelKind,
    path: Option<&Path>,
    dataset: DatasetKind,
) -> Result<CheckpointFile> {
    match path {
        Some(path) => CheckpointFile::read(path),
        None => {
            let (name, bytes) = crate::shipped::checkpoint(kind.id(), dataset).ok_or_else(|| {
                ImagesError::Invalid(format!(
                    "promptlab ships no {} checkpoint for {}: train one (`promptlab images train {} --dataset {}`)",
                    kind.id(),
                    dataset.title(),
                    kind.id(),
                    dataset.id()
                ))
            })?;
            CheckpointFile::from_bytes(Path::new(name), bytes.to_vec())
        }
    }
}

/// The shipped classifier for `dataset`: the judge of samples.
pub fn shipped_judge(dataset: DatasetKind) -> Result<Classifier> {
    let file = checkpoint_or_shipped(ModelKind::Cnn, None, dataset)?;
    Ok(Classifier::from_checkpoint(&file)?.0)
}

/// Where training writes a model's checkpoint by default, under `dir`.
pub fn default_checkpoint(dir: &Path, kind: ModelKind, dataset: DatasetKind) -> PathBuf {
    dir.join(format!("{}-{}.safetensors", kind.id(), dataset.id()))
}
