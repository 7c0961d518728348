//! Starting the terminal app from the command line: the same model and
//! sampling flags as `generate`, plus `--system` and `--load`, and the
//! compare pane's question, reference and methods.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::{ModelArgs, SamplingArgs};
use crate::config::Config;
use promptlab_methods::item;
use promptlab_tui::app::{ComparePrefill, TuiOptions};
use promptlab_tui::conversation::Conversation;
use promptlab_tui::keymap::Keymap;
use promptlab_tui::settings::Settings;

#[derive(Debug, Default, Args)]
pub struct TuiArgs {
    #[command(flatten)]
    pub model: Option<ModelArgs>,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    /// System prompt for a new conversation
    #[arg(long, value_name = "TEXT")]
    pub system: Option<String>,
    /// Open a saved conversation (saving writes back to this file)
    #[arg(long, value_name = "FILE")]
    pub load: Option<PathBuf>,
    /// Open the compare pane with this question filled in
    #[arg(long, value_name = "TEXT")]
    pub question: Option<String>,
    /// The compare pane's context (for methods that read a passage)
    #[arg(long, value_name = "TEXT")]
    pub context: Option<String>,
    /// The compare pane's reference answer (marks each method ✓/✗)
    #[arg(long, value_name = "ANSWER")]
    pub reference: Option<String>,
    /// Open the compare pane with a dataset item filled in (question,
    /// reference, context): JSON lines (GSM8K) or a BIG-Bench Hard task
    /// file, `:N` for the Nth item
    #[arg(long, value_name = "FILE[:N]", conflicts_with = "question")]
    pub item: Option<String>,
    /// Open the compare pane with these methods selected (comma-separated ids)
    #[arg(long, value_name = "ID,ID,…", value_delimiter = ',')]
    pub methods: Vec<String>,
    /// The folder the eval pane lists suites (prompt files) from
    /// [default: prompts]
    #[arg(long, value_name = "DIR")]
    pub suites: Option<PathBuf>,
}

/// promptlab's data folder: `$XDG_DATA_HOME/promptlab`, else
/// `~/.local/share/promptlab`.
pub fn data_dir() -> PathBuf {
    std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("promptlab")
}

pub fn run(args: &TuiArgs, config: &Config) -> anyhow::Result<()> {
    let keymap = Keymap::from_config(&config.keys).map_err(anyhow::Error::msg)?;
    let item = match &args.item {
        Some(spec) => {
            let (path, number) = item::parse_spec(spec);
            Some(item::load(&path, number).map_err(anyhow::Error::msg)?)
        }
        None => None,
    };
    let item = item.as_ref();
    let prefill = ComparePrefill {
        question: args.question.clone().or(item.map(|i| i.question.clone())),
        context: args
            .context
            .clone()
            .or(item.and_then(|i| i.context.clone())),
        reference: args
            .reference
            .clone()
            .or(item.and_then(|i| i.reference.clone())),
        methods: args.methods.clone(),
    };
    if !prefill.methods.is_empty() {
        // Unknown or unrunnable ids fail here, before the screen is taken.
        let mut check = promptlab_tui::panes::compare::CompareState::from_catalog();
        check
            .select_ids(&prefill.methods)
            .map_err(anyhow::Error::msg)?;
    }
    let sampling = args.sampling.resolve(config)?;
    let conversation = match &args.load {
        Some(path) => Conversation::load(path)?,
        None => Conversation::new(args.system.as_deref().unwrap_or(""), ""),
    };
    let model_args = args.model.clone().unwrap_or(ModelArgs {
        model: None,
        threads: None,
        weights: super::WeightsFlag::Stored,
    });
    super::set_threads(model_args.threads)?;
    let spec = model_args
        .model
        .clone()
        .unwrap_or_else(|| config.model.clone());
    // Resolve (and fetch, with progress) before the screen is taken over.
    let model_path = promptlab_hub::resolve(&spec, &config.models, &mut |line| {
        eprintln!("promptlab: {line}");
    })?;
    let log_path = promptlab_hub::cache_dir().join("promptlab.log");
    init_file_logging(&log_path)
        .with_context(|| format!("cannot open log file {}", log_path.display()))?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let save_path = args.load.clone().unwrap_or_else(|| {
        data_dir()
            .join("conversations")
            .join(format!("chat-{stamp}.json"))
    });
    let presets = config
        .presets
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut settings = Settings::new(sampling.params, conversation.system.clone(), presets);
    settings.fixed_seed = sampling.seed_chosen;
    promptlab_tui::app::run(TuiOptions {
        model_path,
        precision: model_args.weights.into(),
        conversation,
        settings,
        keymap,
        save_path,
        mouse: config.mouse,
        graphics: config.graphics,
        conversations_dir: data_dir().join("conversations"),
        prefill,
        model_spec: spec,
        suites_dir: args.suites.clone().unwrap_or_else(|| "prompts".into()),
        images: super::images::lab_paths(),
    })?;
    Ok(())
}

/// In the terminal app, logs go to a file, never to the screen.
fn init_file_logging(path: &std::path::Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PROMPTLAB_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .try_init();
    Ok(())
}
