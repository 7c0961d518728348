//! A model's parameters by name, initialised from a seeded generator (so a
//! seed gives the same model on every machine), and their checkpoint file:
//! safetensors whose metadata names the model kind and its config. A
//! checkpoint is written to a temporary sibling and renamed, so a run
//! stopped midway leaves the last one whole.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use candle_core::{DType, Device, Tensor, Var};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::error::{io, ImagesError, Result};

/// The metadata keys of a checkpoint.
const KIND_KEY: &str = "promptlab.kind";
const CONFIG_KEY: &str = "promptlab.config";
const STATE_KEY: &str = "promptlab.state";

#[derive(Default)]
pub struct Params {
    vars: BTreeMap<String, Var>,
}

impl Params {
    /// Adds `name` with values uniform in ±`bound`.
    pub fn uniform(
        &mut self,
        name: &str,
        shape: &[usize],
        bound: f32,
        rng: &mut ChaCha8Rng,
    ) -> Result<()> {
        let n = shape.iter().product();
        let values: Vec<f32> = (0..n).map(|_| rng.random_range(-bound..=bound)).collect();
        self.insert(name, Tensor::from_vec(values, shape, &Device::Cpu)?)
    }

    /// Adds `name` filled with `value`.
    pub fn constant(&mut self, name: &str, shape: &[usize], value: f32) -> Result<()> {
        self.insert(name, Tensor::full(value, shape, &Device::Cpu)?)
    }

    /// Adds `name` with the values of `tensor`.
    pub fn set_new(&mut self, name: &str, tensor: Tensor) -> Result<()> {
        self.insert(name, tensor)
    }

    fn insert(&mut self, name: &str, tensor: Tensor) -> Result<()> {
        self.vars
            .insert(name.to_string(), Var::from_tensor(&tensor)?);
        Ok(())
    }

    /// Parameter `name` (a model asks only for names it created).
    pub fn get(&self, name: &str) -> Result<&Tensor> {
        self.vars
            .get(name)
            .map(|v| v.as_tensor())
            .ok_or_else(|| ImagesError::Invalid(format!("no parameter `{name}`")))
    }

    /// Variable `name` itself (batch norm's running statistics are set
    /// in place).
    pub fn var(&self, name: &str) -> Result<&Var> {
        self.vars
            .get(name)
            .ok_or_else(|| ImagesError::Invalid(format!("no parameter `{name}`")))
    }

    /// Every trainable variable, for an optimiser (running statistics are
    /// not trained).
    pub fn vars(&self) -> Vec<Var> {
        self.vars_with_prefix("")
    }

    /// Only the trainable variables whose names start with `prefix` (a
    /// GAN's two networks train with their own optimisers).
    pub fn vars_with_prefix(&self, prefix: &str) -> Vec<Var> {
        self.vars
            .iter()
            .filter(|(name, _)| name.starts_with(prefix) && !name.contains(crate::layers::RUNNING))
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Whether the model has parameter `name`.
    pub fn has(&self, name: &str) -> bool {
        self.vars.contains_key(name)
    }

    /// Adds a copy of every parameter named `from…` as `to…` (the shadow
    /// weights an average keeps).
    pub fn duplicate_prefix(&mut self, from: &str, to: &str) -> Result<()> {
        let mut copies = Vec::new();
        for (name, var) in &self.vars {
            if let Some(rest) = name.strip_prefix(from) {
                copies.push((format!("{to}{rest}"), var.as_tensor().copy()?));
            }
        }
        for (name, tensor) in copies {
            self.insert(&name, tensor)?;
        }
        Ok(())
    }

    /// Each `shadow…` parameter ← decay·itself + (1 − decay)·its `source…`
    /// twin (an exponential moving average).
    pub fn blend_prefix(&self, shadow: &str, source: &str, decay: f64) -> Result<()> {
        for (name, var) in &self.vars {
            if let Some(rest) = name.strip_prefix(shadow) {
                let twin = self.get(&format!("{source}{rest}"))?;
                let next = ((var.as_tensor() * decay)? + (twin.detach() * (1.0 - decay))?)?;
                var.set(&next)?;
            }
        }
        Ok(())
    }

    /// How many numbers the model has.
    pub fn count(&self) -> usize {
        self.vars.values().map(|v| v.elem_count()).sum()
    }

    /// Copies every parameter's values from `other` (an EMA shadow, say).
    pub fn copy_from(&self, other: &Params) -> Result<()> {
        for (name, var) in &self.vars {
            var.set(other.get(name)?)?;
        }
        Ok(())
    }

    /// Writes the checkpoint: every parameter, and in the metadata `kind`,
    /// the model's `config` and its training `state` (JSON).
    pub fn save(&self, path: &Path, kind: &str, config: &str, state: &str) -> Result<()> {
        let mut tensors = Vec::new();
        for (name, var) in &self.vars {
            let t = var.as_tensor().to_dtype(DType::F32)?;
            let shape = t.dims().to_vec();
            let values = t.flatten_all()?.to_vec1::<f32>()?;
            let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            tensors.push((name.clone(), shape, bytes));
        }
        let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
            .iter()
            .map(|(name, shape, bytes)| {
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes)
                    .map(|view| (name.clone(), view))
            })
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| checkpoint(path, format!("cannot be written: {e}")))?;
        let metadata = HashMap::from([
            (KIND_KEY.to_string(), kind.to_string()),
            (CONFIG_KEY.to_string(), config.to_string()),
            (STATE_KEY.to_string(), state.to_string()),
        ]);
        let bytes = safetensors::serialize(views, Some(metadata))
            .map_err(|e| checkpoint(path, format!("cannot be written: {e}")))?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        write_atomic(path, &bytes).map_err(io(path))
    }

    /// Replaces every parameter with the checkpoint's, which must hold each
    /// name with the same shape.
    pub fn load(&self, file: &CheckpointFile) -> Result<()> {
        let st = safetensors::SafeTensors::deserialize(&file.bytes)
            .map_err(|e| checkpoint(&file.path, format!("not a safetensors file ({e})")))?;
        for (name, var) in &self.vars {
            let view = st.tensor(name).map_err(|_| {
                checkpoint(
                    &file.path,
                    format!("has no tensor `{name}` (not this model's shape)"),
                )
            })?;
            if view.shape() != var.dims() || view.dtype() != safetensors::Dtype::F32 {
                return Err(checkpoint(
                    &file.path,
                    format!(
                        "tensor `{name}` is {:?} {:?} (expected F32 {:?})",
                        view.dtype(),
                        view.shape(),
                        var.dims()
                    ),
                ));
            }
            let values: Vec<f32> = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            if values.iter().any(|v| !v.is_finite()) {
                return Err(checkpoint(
                    &file.path,
                    format!("tensor `{name}` holds a value that is not finite"),
                ));
            }
            var.set(&Tensor::from_vec(values, view.shape(), &Device::Cpu)?)?;
        }
        let extra = st.names().into_iter().find(|n| !self.vars.contains_key(*n));
        if let Some(name) = extra {
            return Err(checkpoint(
                &file.path,
                format!("holds a tensor `{name}` this model does not have (another shape?)"),
            ));
        }
        Ok(())
    }
}

/// A checkpoint read into memory, with its metadata.
pub struct CheckpointFile {
    pub path: std::path::PathBuf,
    pub bytes: Vec<u8>,
    pub kind: String,
    pub config: String,
    pub state: String,
}

/// The largest checkpoint read.
const MAX_CHECKPOINT_BYTES: u64 = 512 << 20;

impl CheckpointFile {
    pub fn read(path: &Path) -> Result<Self> {
        let len = std::fs::metadata(path).map_err(io(path))?.len();
        if len > MAX_CHECKPOINT_BYTES {
            return Err(checkpoint(
                path,
                "larger than any image model here (512 MiB)",
            ));
        }
        let bytes = std::fs::read(path).map_err(io(path))?;
        Self::from_bytes(path, bytes)
    }

    pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Self> {
        let (_, header) = safetensors::SafeTensors::read_metadata(&bytes)
            .map_err(|e| checkpoint(path, format!("not a safetensors file ({e})")))?;
        let meta = header.metadata().clone().unwrap_or_default();
        let field = |key: &str| {
            meta.get(key).cloned().ok_or_else(|| {
                checkpoint(
                    path,
                    format!("has no `{key}` in its metadata (not a promptlab image model)"),
                )
            })
        };
        Ok(Self {
            path: path.to_path_buf(),
            kind: field(KIND_KEY)?,
            config: field(CONFIG_KEY)?,
            state: field(STATE_KEY)?,
            bytes,
        })
    }

    /// Refuses a checkpoint of another model kind.
    pub fn expect_kind(&self, kind: &str) -> Result<()> {
        if self.kind == kind {
            Ok(())
        } else {
            Err(checkpoint(
                &self.path,
                format!("is a `{}` checkpoint (expected `{kind}`)", self.kind),
            ))
        }
    }

    /// The config, parsed.
    pub fn parse_config<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_str(&self.config).map_err(|e| {
            checkpoint(
                &self.path,
                format!("`{CONFIG_KEY}` is not this model's config ({e})"),
            )
        })
    }

    /// The training state, parsed.
    pub fn parse_state<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_str(&self.state).map_err(|e| {
            checkpoint(
                &self.path,
                format!("`{STATE_KEY}` is not a training state ({e})"),
            )
        })
    }
}

pub(crate) fn checkpoint(path: &Path, reason: impl Into<String>) -> ImagesError {
    ImagesError::Checkpoint {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Writes `bytes` to a sibling, syncs it and renames it over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    let tmp = path.with_file_name(name);
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Writes a model's checkpoint: its parameters, `kind`, `config` and
/// training `state`.
pub fn save_checkpoint<C: serde::Serialize>(
    params: &Params,
    path: &Path,
    kind: &str,
    config: &C,
    state: &crate::train::TrainState,
) -> Result<()> {
    let json = |v: &dyn erased::Json| {
        v.json()
            .map_err(|e| checkpoint(path, format!("cannot be written: {e}")))
    };
    params.save(path, kind, &json(config)?, &json(state)?)
}

/// The config and training state of a checkpoint of model `kind`.
pub fn read_checkpoint<C: serde::de::DeserializeOwned>(
    file: &CheckpointFile,
    kind: &str,
) -> Result<(C, crate::train::TrainState)> {
    file.expect_kind(kind)?;
    Ok((file.parse_config()?, file.parse_state()?))
}

mod erased {
    /// JSON of any serialisable value, behind one object-safe method.
    pub trait Json {
        fn json(&self) -> serde_json::Result<String>;
    }

    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> serde_json::Result<String> {
            serde_json::to_string(self)
        }
    }
}

/// Implements [`Checkpointed`] for a model with `config` and `params`
/// fields, a `new(config, seed)`, and a config with a `check()`.
#[macro_export]
macro_rules! checkpointed {
    ($model:ty, $config:ty, $kind:expr) => {
        impl $crate::params::Checkpointed for $model {
            const KIND: &'static str = $kind;
            type Config = $config;

            fn build(config: $config, seed: u64) -> $crate::Result<Self> {
                <$model>::new(config, seed)
            }

            fn check(config: &$config) -> std::result::Result<(), String> {
                config.check()
            }

            fn config(&self) -> &$config {
                &self.config
            }

            fn params(&self) -> &$crate::params::Params {
                &self.params
            }
        }
    };
}

/// A model that lives in a checkpoint: its kind, its config, how to build
/// it from the config, and its parameters. Saving and loading are the same
/// for every model.
pub trait Checkpointed: Sized {
    const KIND: &'static str;
    type Config: serde::Serialize + serde::de::DeserializeOwned;

    /// A fresh model of `config`, initialised from `seed`.
    fn build(config: Self::Config, seed: u64) -> Result<Self>;
    /// Refuses a config whose sizes no model here has, before anything is
    /// allocated (a checkpoint's config is input).
    fn check(config: &Self::Config) -> std::result::Result<(), String>;
    fn config(&self) -> &Self::Config;
    fn params(&self) -> &Params;

    fn save(&self, path: &Path, state: &crate::train::TrainState) -> Result<()> {
        save_checkpoint(self.params(), path, Self::KIND, self.config(), state)
    }

    /// The model and its training state from a checkpoint file.
    fn from_checkpoint(file: &CheckpointFile) -> Result<(Self, crate::train::TrainState)> {
        let (config, state) = read_checkpoint::<Self::Config>(file, Self::KIND)?;
        Self::check(&config).map_err(|e| checkpoint(&file.path, format!("config: {e}")))?;
        let model = Self::build(config, 0)?;
        model.params().load(file)?;
        Ok((model, state))
    }

    fn load(path: &Path) -> Result<(Self, crate::train::TrainState)> {
        Self::from_checkpoint(&CheckpointFile::read(path)?)
    }
}

/// `field` must lie in `lo..=hi`.
pub fn check_range(
    field: &str,
    value: usize,
    lo: usize,
    hi: usize,
) -> std::result::Result<(), String> {
    if (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(format!("`{field}` is {value} (expected {lo} to {hi})"))
    }
}
