//! The headless commands (`generate`, `bench`) and the flags they share with
//! the interactive app.

pub mod attention;
mod attention_html;
mod attention_png;
pub mod bench;
pub mod eval;
pub mod generate;
pub mod images;
pub mod methods;
pub mod models;
pub mod tui;

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::config::Config;
use promptlab_infer::sampling::{SamplingOverlay, SamplingParams};
use promptlab_infer::{LoadedModel, Precision};

/// The prompt: typed or read from a file, raw or as one chat turn.
#[derive(Debug, Clone, Args)]
pub struct PromptArgs {
    /// The prompt text
    #[arg(
        long,
        value_name = "TEXT",
        conflicts_with = "prompt_file",
        required_unless_present = "prompt_file"
    )]
    pub prompt: Option<String>,
    /// Read the prompt from a file
    #[arg(long, value_name = "FILE")]
    pub prompt_file: Option<PathBuf>,
    /// Send the prompt as one user turn through the model's chat template
    #[arg(long)]
    pub chat: bool,
}

impl PromptArgs {
    /// The text of `--prompt` or `--prompt-file`, refused when empty.
    pub fn read(&self) -> anyhow::Result<String> {
        let text = match (&self.prompt, &self.prompt_file) {
            (Some(text), _) => text.clone(),
            (None, Some(path)) => std::fs::read_to_string(path)
                .with_context(|| format!("cannot read prompt file {}", path.display()))?,
            (None, None) => anyhow::bail!("give --prompt TEXT or --prompt-file FILE"),
        };
        if text.trim().is_empty() {
            return Err(promptlab_infer::error::ModelError::EmptyPrompt.into());
        }
        Ok(text)
    }
}

/// Which model to run.
#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// A GGUF file, a folder holding one, an alias from config.yaml, or a
    /// Hub file spec `owner/name[@revision]:file.gguf` (default: config's `model`)
    #[arg(long, value_name = "SPEC")]
    pub model: Option<String>,
    /// Compute threads (default: all physical cores)
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Weights as stored (quantized stays quantized) or expanded to f32
    #[arg(long, value_enum, default_value_t = WeightsFlag::Stored)]
    pub weights: WeightsFlag,
}

/// `--weights`: how weight matrices are held in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WeightsFlag {
    /// As stored in the file (Q4_0, Q4_1, Q8_0, F16 stay quantized), with
    /// activations never rounded to 8 bits: small, fast, the same answers.
    Stored,
    /// Every matrix expanded to f32: several times the memory, slower decode.
    F32,
}

impl From<WeightsFlag> for Precision {
    fn from(flag: WeightsFlag) -> Self {
        match flag {
            WeightsFlag::Stored => Precision::Stored,
            WeightsFlag::F32 => Precision::F32,
        }
    }
}

/// Sampling flags; each overrides the `sampling` section of the config.
/// Negative numbers parse, so that they get the checker's message naming the
/// allowed range rather than clap's "unexpected argument".
#[derive(Debug, Clone, Default, Args)]
pub struct SamplingArgs {
    /// 0 is greedy
    #[arg(long, allow_negative_numbers = true, value_name = "T")]
    pub temperature: Option<f64>,
    /// Keep the K most likely tokens (0: off)
    #[arg(long, value_name = "K")]
    pub top_k: Option<usize>,
    /// Nucleus sampling threshold (1.0: off)
    #[arg(long, allow_negative_numbers = true, value_name = "P")]
    pub top_p: Option<f64>,
    /// Drop tokens below P × the top token's probability (0: off)
    #[arg(long, allow_negative_numbers = true, value_name = "P")]
    pub min_p: Option<f64>,
    /// Penalty for recently seen tokens (1.0: off)
    #[arg(long, allow_negative_numbers = true, value_name = "R")]
    pub repeat_penalty: Option<f32>,
    /// Random seed; the same seed gives the same text
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Most tokens to generate
    #[arg(long, value_name = "N")]
    pub max_tokens: Option<usize>,
    /// Stop when this text appears (repeatable)
    #[arg(long, value_name = "STR")]
    pub stop: Vec<String>,
}

/// Sampling settings after layering flags over the config.
#[derive(Debug, Clone)]
pub struct ResolvedSampling {
    pub params: SamplingParams,
    /// A layer named the seed (otherwise it is fresh for this run).
    pub seed_chosen: bool,
}

impl SamplingArgs {
    /// These flags as a layer over `below`: `--stop` adds to its stop
    /// strings rather than replacing them.
    fn overlay(&self, below: &SamplingParams) -> SamplingOverlay {
        let stop = (!self.stop.is_empty()).then(|| {
            let mut stop = below.stop.clone();
            stop.extend(self.stop.iter().cloned());
            stop
        });
        SamplingOverlay {
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: self.top_p,
            min_p: self.min_p,
            repeat_penalty: self.repeat_penalty,
            repeat_last_n: None,
            seed: self.seed,
            max_tokens: self.max_tokens,
            stop,
        }
    }

    /// Greedy defaults, then the config's `sampling`, then these flags.
    pub fn resolve(&self, config: &Config) -> anyhow::Result<ResolvedSampling> {
        let from_config = config.sampling.over(&SamplingParams::greedy());
        let mut params = self.overlay(&from_config).over(&from_config);
        let seed_chosen = self.seed.or(config.sampling.seed).is_some();
        if !seed_chosen {
            params.seed = fresh_seed();
        }
        params.validate()?;
        Ok(ResolvedSampling {
            params,
            seed_chosen,
        })
    }
}

fn fresh_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Sets the compute thread count; must run before any tensor work starts.
pub fn set_threads(threads: Option<usize>) -> anyhow::Result<()> {
    if let Some(n) = threads {
        anyhow::ensure!(n > 0, "--threads must be at least 1");
        // Read by both rayon's global pool and candle's own thread count.
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    }
    Ok(())
}

/// Resolves and loads the model, reporting progress on stderr; returns it
/// with the milliseconds loading took.
pub fn load_model(args: &ModelArgs, config: &Config) -> anyhow::Result<(LoadedModel, f64)> {
    load_model_file(&resolve_model(args, config)?, args)
}

/// The model file `args` (or the config) names, fetched if need be.
pub fn resolve_model(args: &ModelArgs, config: &Config) -> anyhow::Result<PathBuf> {
    let spec = args.model.clone().unwrap_or_else(|| config.model.clone());
    Ok(promptlab_hub::resolve(
        &spec,
        &config.models,
        &mut |line| {
            eprintln!("promptlab: {line}");
        },
    )?)
}

/// Loads the model at `path` as `args` say; returns it with the
/// milliseconds loading took.
pub fn load_model_file(
    path: &std::path::Path,
    args: &ModelArgs,
) -> anyhow::Result<(LoadedModel, f64)> {
    let start = std::time::Instant::now();
    let model = LoadedModel::load_with(path, args.weights.into())?;
    Ok((model, start.elapsed().as_secs_f64() * 1000.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(user: &str) -> Config {
        Config::from_layers(Some(user), std::path::Path::new("u.yaml")).unwrap()
    }

    #[test]
    fn flags_layer_over_the_config_and_add_stop_strings() {
        let config = config("sampling:\n  temperature: 0.3\n  stop: [\"END\"]\n  seed: 5\n");
        let flags = SamplingArgs {
            top_k: Some(7),
            stop: vec!["STOP".into()],
            ..SamplingArgs::default()
        };
        let resolved = flags.resolve(&config).unwrap();
        let p = &resolved.params;
        assert_eq!(p.temperature, 0.3, "from the user's config");
        assert_eq!(p.top_k, 7, "from the flag");
        assert_eq!(p.top_p, 0.95, "from the built-in config");
        assert_eq!(p.stop, vec!["END".to_string(), "STOP".to_string()]);
        assert_eq!(p.seed, 5);
        assert!(resolved.seed_chosen);
    }

    #[test]
    fn without_a_seed_anywhere_each_run_gets_a_fresh_one() {
        let resolved = SamplingArgs::default()
            .resolve(&config("model: smollm2-135m-instruct\n"))
            .unwrap();
        assert!(!resolved.seed_chosen);
    }

    #[test]
    fn an_out_of_range_flag_is_refused_naming_it() {
        let flags = SamplingArgs {
            top_p: Some(1.5),
            ..SamplingArgs::default()
        };
        let err = flags
            .resolve(&config("model: smollm2-135m-instruct\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("top-p"), "{err}");
    }
}
