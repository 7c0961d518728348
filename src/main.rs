//! The `promptlab` binary: parses the command line and hands off to the
//! headless commands.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use promptlab::cli::{
    self,
    attention::AttentionArgs,
    bench::BenchArgs,
    eval::EvalArgs,
    generate::GenerateArgs,
    images::ImagesCommand,
    methods::{CompareArgs, MethodsCommand},
    models::ModelsCommand,
    tui::TuiArgs,
};
use promptlab::config::Config;

#[derive(Debug, Parser)]
#[command(
    name = "promptlab",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    /// A config file layered over the defaults (default:
    /// $XDG_CONFIG_HOME/promptlab/config.yaml when it exists)
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
    /// Without a command: open the terminal app
    #[command(flatten)]
    tui: TuiArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate text from one prompt (plain text or JSON lines)
    Generate(Box<GenerateArgs>),
    /// Measure prefill and decode speed
    Bench(BenchArgs),
    /// Manage model files
    #[command(subcommand)]
    Models(ModelsCommand),
    /// The survey's prompting methods
    #[command(subcommand)]
    Methods(MethodsCommand),
    /// Run one question through several prompting methods side by side
    Compare(Box<CompareArgs>),
    /// What every layer and head attends to, over a prompt and an answer
    Attention(Box<AttentionArgs>),
    /// Batch-evaluate a prompt file (suite): A/B variants, methods,
    /// assertions, a resumable store and reports
    Eval(Box<EvalArgs>),
    /// The image-model lab: datasets, training, sampling, judging
    #[command(subcommand)]
    Images(ImagesCommand),
}

/// `--config FILE` may come before a subcommand as well as after it. The
/// app's own flags conflict with subcommands, so clap refuses the first form;
/// a leading `--config` is moved after the subcommand's name.
fn config_after_subcommand(args: Vec<OsString>) -> Vec<OsString> {
    const SUBCOMMANDS: &[&str] = &[
        "generate",
        "bench",
        "models",
        "methods",
        "compare",
        "attention",
        "eval",
        "images",
    ];
    let mut config = Vec::new();
    let mut i = 1;
    while let Some(arg) = args.get(i).and_then(|a| a.to_str()) {
        if arg == "--config" && i + 1 < args.len() {
            config.extend_from_slice(&args[i..i + 2]);
            i += 2;
        } else if arg.starts_with("--config=") {
            config.push(args[i].clone());
            i += 1;
        } else {
            break;
        }
    }
    match args.get(i).and_then(|a| a.to_str()) {
        Some(sub) if !config.is_empty() && SUBCOMMANDS.contains(&sub) => {
            let mut out = vec![args[0].clone(), args[i].clone()];
            out.extend(config);
            out.extend_from_slice(&args[i + 1..]);
            out
        }
        _ => args,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(config_after_subcommand(std::env::args_os().collect()));
    if cli.command.is_none() {
        // The terminal app logs to a file (set up once the model is found).
        return match run(cli) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => report(&e),
        };
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PROMPTLAB_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Some(Command::Eval(args)) = &cli.command {
        // Its own exit codes: 0 passed, 1 failed, 2 unusable, 130 stopped.
        return match Config::load(cli.config.as_deref()).and_then(|config| {
            cli::set_threads(args.model.threads)?;
            cli::eval::run(args, &config)
        }) {
            Ok(code) => code,
            Err(e) => {
                report(&e);
                ExitCode::from(2)
            }
        };
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => report(&e),
    }
}

/// Prints `e` as one line on stderr: its causes after colons, and any
/// control character from a file or a model written as `\u{…}`.
fn report(e: &anyhow::Error) -> ExitCode {
    eprintln!(
        "promptlab: error: {}",
        promptlab_infer::printable::printable(&format!("{e:#}"))
    );
    ExitCode::FAILURE
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(cli.config.as_deref())?;
    let Some(command) = &cli.command else {
        return cli::tui::run(&cli.tui, &config);
    };
    match command {
        Command::Generate(args) => {
            cli::set_threads(args.model.threads)?;
            cli::generate::run(args, &config)
        }
        Command::Attention(args) => {
            cli::set_threads(args.model.threads)?;
            cli::attention::run(args, &config)
        }
        Command::Bench(args) => {
            cli::set_threads(args.model.threads)?;
            cli::bench::run(args, &config)
        }
        Command::Models(command) => cli::models::run(command, &config),
        Command::Methods(command) => cli::methods::run_methods(command),
        Command::Compare(args) => {
            cli::set_threads(args.model.threads)?;
            cli::methods::compare(args, &config)
        }
        Command::Images(command) => cli::images::run(command),
        // Run by `main`, with its own exit codes.
        Command::Eval(_) => anyhow::bail!("eval runs from main"),
    }
}
