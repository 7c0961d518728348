//! `promptlab eval`: runs a suite (prompt file) headless against the local
//! model, storing each finished trial so a rerun resumes, then writes the
//! reports and prints the A/B summary; `--compare A.jsonl B.jsonl` compares
//! two stored runs. Exit codes: 0 every assertion passed, 1 some failed (or,
//! with `--compare`, the change is significantly worse), 2 the file or the
//! model could not be used, 130 interrupted.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::Args;

use promptlab_backend::{OpenAiBackend, OpenAiConfig};
use promptlab_engine::eval::LocalEval;
use promptlab_eval::record::Record;
use promptlab_eval::report::{self, Format, RunInfo};
use promptlab_eval::run::{self, Finished, Progress};
use promptlab_eval::store::Store;
use promptlab_eval::suite::{Overrides, Suite};
use promptlab_eval::summary::Summary;

use crate::cli::ModelArgs;
use crate::config::Config;

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The suite (prompt file) to run
    #[arg(value_name = "FILE.yaml", required_unless_present = "compare")]
    pub suite: Option<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Folder for the result store and the reports (default: eval-runs/NAME)
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Reports to write, comma-separated: jsonl, csv, junit, html
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "jsonl,csv,junit,html"
    )]
    pub format: Vec<Format>,
    /// Independent samples per item (overrides the suite's `repeat`)
    #[arg(long, value_name = "N")]
    pub repeat: Option<usize>,
    /// Run only the first N cases
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Trials run at once
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub concurrency: usize,
    /// Run every trial again instead of reusing the store's
    #[arg(long)]
    pub no_cache: bool,
    /// Prefill every prompt whole, even where an earlier call shares its
    /// beginning (local backend; for measuring what the prefix cache saves)
    #[arg(long)]
    pub no_prefix_cache: bool,
    /// Where the model runs: here, or an OpenAI-compatible server
    #[arg(long, value_enum, default_value_t = BackendKind::Local)]
    pub backend: BackendKind,
    /// The server's address for `--backend openai` (e.g. http://127.0.0.1:8080)
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// The environment variable holding the server's API key
    #[arg(long, value_name = "VAR")]
    pub api_key_env: Option<String>,
    /// Compare two stored runs' results.jsonl: a baseline, then a change
    #[arg(long, num_args = 2, value_names = ["BASELINE", "CHANGE"], conflicts_with = "suite")]
    pub compare: Option<Vec<PathBuf>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendKind {
    /// The model loaded here, with our own forward pass
    Local,
    /// An OpenAI-compatible server (vLLM, llama.cpp's server, TGI)
    Openai,
}

/// Runs `promptlab eval`; errors are the caller's exit code 2.
pub fn run(args: &EvalArgs, config: &Config) -> anyhow::Result<ExitCode> {
    if let Some(files) = &args.compare {
        return compare(&files[0], &files[1]);
    }
    let Some(suite_path) = &args.suite else {
        anyhow::bail!("give a suite file or --compare BASELINE CHANGE");
    };
    anyhow::ensure!(
        (1..=64).contains(&args.concurrency),
        "--concurrency must be 1 to 64"
    );
    let overrides = Overrides {
        repeat: args.repeat,
        limit: args.limit,
    };
    let suite = Suite::load(suite_path, &overrides)?;
    if suite.allow_code {
        promptlab_methods::sandbox::available()?;
    }
    let model_args = ModelArgs {
        model: args.model.model.clone().or(suite.model.clone()),
        ..args.model.clone()
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("eval-runs").join(&suite.name));
    let cancel = Arc::new(AtomicBool::new(false));
    for signal in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(signal, Arc::clone(&cancel))?;
    }
    let started = report::now_rfc3339();
    let clock = Instant::now();
    let tty = std::io::stderr().is_terminal();
    let mut shown = false;
    let on_progress = |p: Progress, finished: Option<Finished<'_>>| {
        if finished.as_ref().is_some_and(|f| f.stored) {
            return;
        }
        let line = progress_line(p, clock.elapsed().as_secs_f64());
        if tty {
            eprint!("\r\x1b[2K{line}");
            shown = true;
        } else if let Some(Finished { record: r, .. }) = finished {
            let verdict = match (&r.error, r.passed) {
                (Some(_), _) => "error",
                (None, true) => "pass",
                (None, false) => "fail",
            };
            eprintln!(
                "promptlab: {line} | item {} {} / {} sample {}: {verdict}",
                r.item, r.variant, r.method, r.sample
            );
        } else {
            eprintln!("promptlab: {line}");
        }
    };
    let (spec, trials, store, outcome) = match args.backend {
        BackendKind::Local => {
            anyhow::ensure!(
                args.base_url.is_none() && args.api_key_env.is_none(),
                "--base-url and --api-key-env are for --backend openai"
            );
            let spec = model_args.model.clone().unwrap_or(config.model.clone());
            let model_path = crate::cli::resolve_model(&model_args, config)?;
            let (model, _) = crate::cli::load_model_file(&model_path, &model_args)?;
            let model_key = format!(
                "{spec} {}",
                run::file_digest(&model_path)
                    .with_context(|| format!("{}", model_path.display()))?
            );
            let trials = run::plan(&suite, &model_key)?;
            let mut store = open_store(&out, args.no_cache)?;
            let make = || Ok(LocalEval::new(&model, !args.no_prefix_cache));
            let outcome = run::run(
                &suite,
                &trials,
                &mut store,
                args.concurrency,
                make,
                &cancel,
                on_progress,
            );
            (spec, trials, store, outcome)
        }
        BackendKind::Openai => {
            let Some(base_url) = &args.base_url else {
                anyhow::bail!("--backend openai needs --base-url URL");
            };
            if let Some(at) = suite.first_attention_check() {
                anyhow::bail!(
                    "{at}: attention checks need our own forward pass; run this suite with --backend local"
                );
            }
            let api_key = match &args.api_key_env {
                Some(var) => Some(std::env::var(var).map_err(|_| {
                    anyhow::anyhow!("--api-key-env {var}: the environment has no {var}")
                })?),
                None => None,
            };
            let spec = model_args.model.clone().unwrap_or("default".into());
            let model_key = format!("openai {base_url} {spec}");
            let trials = run::plan(&suite, &model_key)?;
            let mut store = open_store(&out, args.no_cache)?;
            let mut server = OpenAiConfig::new(base_url, &spec);
            server.api_key = api_key;
            let make = || Ok(OpenAiBackend::new(server.clone()));
            let outcome = run::run(
                &suite,
                &trials,
                &mut store,
                args.concurrency,
                make,
                &cancel,
                on_progress,
            );
            (format!("{spec} at {base_url}"), trials, store, outcome)
        }
    };
    let outcome =
        outcome.with_context(|| format!("{}: the result store", store.path().display()))?;
    if tty && shown {
        eprintln!();
    }
    let summary = Summary::of(&outcome.records);
    let info = RunInfo {
        suite: suite.name.clone(),
        file: suite_path.display().to_string(),
        model: spec,
        backend: match args.backend {
            BackendKind::Local => "local".into(),
            BackendKind::Openai => "openai".into(),
        },
        started,
        seconds: clock.elapsed().as_secs_f64(),
    };
    let written = report::write_all(&out, &args.format, &info, &summary, &outcome.records)
        .with_context(|| format!("{}: cannot write the reports", out.display()))?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", summary.table())?;
    let saved: usize = outcome.records.iter().map(|r| r.tokens.reused).sum();
    let prefilled: usize = outcome.records.iter().map(|r| r.tokens.prompt).sum();
    eprintln!(
        "promptlab: {} trials: {} run now, {} from the store; prefix cache: {saved} of {prefilled} prompt tokens not prefilled again",
        outcome.records.len(),
        outcome.ran,
        outcome.reused
    );
    for path in &written {
        eprintln!("promptlab: wrote {}", path.display());
    }
    if outcome.interrupted || cancel.load(Ordering::Relaxed) {
        eprintln!(
            "promptlab: interrupted: {} of {} trials done and stored in {}; run the same command again to resume",
            outcome.records.len(),
            trials.len(),
            store.path().display()
        );
        return Ok(ExitCode::from(130));
    }
    Ok(if outcome.records.iter().all(|r| r.passed) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn open_store(out: &Path, no_cache: bool) -> anyhow::Result<Store> {
    Store::open(out, !no_cache)
        .with_context(|| format!("{}: cannot open the result store", out.display()))
}

fn progress_line(p: Progress, seconds: f64) -> String {
    const WIDTH: usize = 24;
    let filled = (p.done * WIDTH).checked_div(p.total).unwrap_or(WIDTH);
    let rate = if p.done > 0 {
        format!("{:.1}%", 100.0 * p.passed as f64 / p.done as f64)
    } else {
        "–".into()
    };
    let ran = p.done - p.reused;
    let eta = if ran > 0 && p.done < p.total {
        let left = seconds / ran as f64 * (p.total - p.done) as f64;
        format!(" ETA {}", report::duration(left))
    } else {
        String::new()
    };
    format!(
        "[{}{}] {}/{} pass {rate}{eta}",
        "#".repeat(filled),
        ".".repeat(WIDTH - filled),
        p.done,
        p.total
    )
}

/// The records of a stored run's results.jsonl.
fn read_records(path: &Path) -> anyhow::Result<Vec<Record>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|e| {
                anyhow::anyhow!("{}:{}: not a result record: {e}", path.display(), i + 1)
            })
        })
        .collect()
}

/// `--compare`: each arm of the baseline against the same arm of the
/// change, paired on (item, sample); exit 1 when one is significantly
/// worse (McNemar p < 0.05 with more losses than wins).
fn compare(baseline: &Path, change: &Path) -> anyhow::Result<ExitCode> {
    let label = |mut records: Vec<Record>, side: &str| {
        for r in &mut records {
            r.variant = format!("{side}:{}", r.variant);
        }
        records
    };
    let mut records = label(read_records(baseline)?, "baseline");
    records.extend(label(read_records(change)?, "change"));
    let summary = Summary::of(&records);
    let mut pairs = summary.pairs.clone();
    pairs.retain(|p| {
        p.first.0.strip_prefix("baseline:").is_some()
            && p.second.0.strip_prefix("change:") == p.first.0.strip_prefix("baseline:")
            && p.first.1 == p.second.1
    });
    anyhow::ensure!(
        !pairs.is_empty(),
        "{} and {} share no variant and method to compare",
        baseline.display(),
        change.display()
    );
    let shown = Summary {
        arms: summary.arms.clone(),
        pairs: pairs.clone(),
    };
    println!("{}", shown.table());
    let worse: Vec<String> = pairs
        .iter()
        .filter(|p| p.losses > p.wins && p.p_value < 0.05)
        .map(|p| format!("{} / {}", &p.first.0["baseline:".len()..], p.first.1))
        .collect();
    if worse.is_empty() {
        eprintln!("promptlab: no arm is significantly worse in the change");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "promptlab: significantly worse in the change (McNemar p < 0.05): {}",
            worse.join(", ")
        );
        Ok(ExitCode::from(1))
    }
}
