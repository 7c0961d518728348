//! `promptlab methods list | show` and `promptlab compare`: the survey's
//! methods, and the same question through several of them side by side.

use std::collections::BTreeMap;
use std::io::Write;

use clap::{Args, Subcommand};
use serde_json::json;

use super::generate::OutputFormat;
use super::{load_model, ModelArgs};
use crate::config::Config;
use promptlab_backend::LocalBackend;
use promptlab_infer::printable::printable_text;
use promptlab_methods::catalog;
use promptlab_methods::extract::matches_reference;
use promptlab_methods::item::{self, Item};
use promptlab_methods::runner::{run, MethodRun, Output, RunOptions};
use promptlab_methods::sandbox;
use promptlab_methods::spec::MethodSpec;
use promptlab_methods::MethodError;

#[derive(Debug, Subcommand)]
pub enum MethodsCommand {
    /// Every catalogued method: section, id, runnable or not, model calls per item
    List,
    /// One method's file and summary
    Show { id: String },
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// The question every method answers
    #[arg(
        long,
        value_name = "TEXT",
        required_unless_present = "item",
        conflicts_with = "item"
    )]
    pub question: Option<String>,
    /// Take the question (and reference, context) from a dataset file: JSON
    /// lines with question/answer (GSM8K) or a BIG-Bench Hard task file;
    /// `:N` picks the Nth item (default the first)
    #[arg(long, value_name = "FILE[:N]")]
    pub item: Option<String>,
    /// A passage for methods that read a context
    #[arg(long, value_name = "TEXT")]
    pub context: Option<String>,
    /// The correct answer, to mark each method right or wrong
    #[arg(long, value_name = "ANSWER")]
    pub reference: Option<String>,
    /// Comma-separated method ids (see `promptlab methods list`)
    #[arg(
        long,
        value_name = "ID,ID,…",
        value_delimiter = ',',
        required_unless_present = "method_file"
    )]
    pub methods: Vec<String>,
    /// A method file of your own (the schema of `surveys/methods/*.yaml`),
    /// run after the --methods; repeatable
    #[arg(long, value_name = "FILE")]
    pub method_file: Vec<std::path::PathBuf>,
    /// Cap every model call at N tokens (steps set their own budgets
    /// below it); quick, rough comparisons
    #[arg(long, value_name = "N")]
    pub max_tokens: Option<usize>,
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Let methods run the Python programs the model writes (Program-of-Thoughts,
    /// PAL), confined: their own temporary folder, no network, a timeout
    /// and a memory ceiling
    #[arg(long)]
    pub allow_code: bool,
}

pub fn run_methods(command: &MethodsCommand) -> anyhow::Result<()> {
    let methods = catalog::all()?;
    match command {
        MethodsCommand::List => {
            println!(
                "{:<6} {:<32} {:<9} {:>6}  name",
                "§", "id", "runnable", "calls"
            );
            for m in &methods {
                let runnable = match (m.runnable(), m.runs_code()) {
                    (false, _) => "no",
                    (true, false) => "yes",
                    (true, true) => "yes*",
                };
                let calls = if m.runnable() {
                    m.calls_per_item()
                } else {
                    "-".into()
                };
                println!(
                    "{:<6} {:<32} {:<9} {:>6}  {}",
                    m.section, m.id, runnable, calls, m.name
                );
                if let Some(reason) = &m.not_runnable {
                    println!("{:<6} {:<32} ↳ {reason}", "", "");
                }
            }
            let runnable = methods.iter().filter(|m| m.runnable()).count();
            println!("{} methods, {runnable} runnable", methods.len());
            println!("* runs the Python the model writes, confined, only with --allow-code");
            Ok(())
        }
        MethodsCommand::Show { id } => {
            let m = catalog::find(&methods, id)?;
            let (_, text) = catalog::METHOD_FILES
                .iter()
                .find(|(name, _)| name.trim_end_matches(".yaml") == m.id)
                .ok_or_else(|| anyhow::anyhow!("no file for `{id}`"))?;
            println!("{} (§{}) — {}", m.name, m.section, m.paper);
            println!("tasks: {}", m.tasks.join(", "));
            println!("model calls per item: {}", m.calls_per_item());
            println!("---");
            print!("{text}");
            Ok(())
        }
    }
}

/// The budget of a call whose step sets none.
const DEFAULT_CALL_TOKENS: usize = 256;

pub fn compare(args: &CompareArgs, config: &Config) -> anyhow::Result<()> {
    // The method files join the catalogue (a file's id replaces a shipped
    // method's), so --methods can name them; those not named run after.
    let files = args
        .method_file
        .iter()
        .map(|path| MethodSpec::load(path))
        .collect::<Result<Vec<_>, _>>()?;
    let mut all = catalog::all()?;
    all.retain(|m| !files.iter().any(|f| f.id == m.id));
    all.extend(files.iter().cloned());
    let mut methods = catalog::select(&all, &args.methods)?;
    for file in files {
        if !methods.iter().any(|m| m.id == file.id) {
            methods.push(file);
        }
    }
    // The runner's own checks, made for every method before the model loads.
    for m in &methods {
        m.check_runnable()?;
    }
    for m in &methods {
        m.check_code(args.allow_code).map_err(refusal)?;
    }
    if let Some(m) = methods.iter().find(|m| m.runs_code()) {
        sandbox::available().map_err(|e| anyhow::anyhow!("method `{}`: {e}", m.id))?;
    }
    let item = match (&args.item, &args.question) {
        (Some(spec), _) => {
            let (path, number) = item::parse_spec(spec);
            item::load(&path, number)?
        }
        (None, Some(question)) => Item {
            question: question.clone(),
            context: None,
            reference: None,
        },
        (None, None) => anyhow::bail!("give --question or --item"),
    };
    let reference = args.reference.clone().or(item.reference);
    let mut inputs = BTreeMap::from([("question".to_string(), item.question)]);
    if let Some(context) = args.context.clone().or(item.context) {
        inputs.insert("context".into(), context);
    }
    for m in &methods {
        m.check_inputs(&inputs).map_err(refusal)?;
    }
    let (model, _) = load_model(&args.model, config)?;
    let mut backend = LocalBackend::new(&model);
    let options = RunOptions {
        system: None,
        max_tokens: DEFAULT_CALL_TOKENS,
        cap: args.max_tokens,
        seed: args.seed,
        allow_code: args.allow_code,
    };
    // Each method's result is printed as soon as it is done, so a run that
    // is interrupted (or fails on a later method) keeps what finished.
    let mut out = std::io::stdout().lock();
    for method in &methods {
        if args.format == OutputFormat::Text {
            eprintln!("promptlab: running {} …", method.id);
        }
        let result = run(method, &inputs, &mut backend, &options, |_| {})?;
        let correct = reference
            .as_deref()
            .map(|r| matches_reference(result.answer.as_deref(), r));
        let written = match args.format {
            OutputFormat::Jsonl => {
                let line = json!({
                    "method": result.method,
                    "answer": result.answer,
                    "final_output": final_output(&result),
                    "correct": correct,
                    "calls": result.calls,
                    "prompt_tokens": result.prompt_tokens,
                    "generated_tokens": result.generated_tokens,
                    "seconds": (result.seconds * 100.0).round() / 100.0,
                    "steps": result.steps,
                    "note": method.note,
                });
                writeln!(out, "{line}")
            }
            OutputFormat::Text => write!(out, "{}", text_block(&result, correct)),
        };
        // A closed pipe (`| head`) ends the run quietly.
        if written.and_then(|_| out.flush()).is_err() {
            return Ok(());
        }
    }
    Ok(())
}

/// One method's result as text: its final output, what its programs
/// printed, and the answer with its verdict and cost. Model text is made
/// printable (no escape sequence reaches the terminal).
fn text_block(r: &MethodRun, correct: Option<bool>) -> String {
    use std::fmt::Write as _;
    let mut text = String::new();
    let _ = writeln!(text, "── {} ──", r.method);
    let _ = writeln!(text, "{}", printable_text(final_output(r).trim()));
    // A gate is said once, at the first step it decided.
    if let Some((id, g)) = r.steps.iter().find_map(|s| s.gate.map(|g| (&s.id, g))) {
        let _ = writeln!(
            text,
            "[gate at {id}: agreement {:.0}% {} {:.0}%, the gated steps {}]",
            g.agreement * 100.0,
            if g.ran { "<" } else { "≥" },
            g.threshold * 100.0,
            if g.ran { "ran" } else { "were skipped" }
        );
    }
    for step in &r.steps {
        if let Output::Runs { runs } = &step.output {
            for run in runs {
                let _ = match run.failure() {
                    None => writeln!(text, "[{} ran: printed {:?}]", step.id, run.stdout.trim()),
                    Some(failure) => {
                        writeln!(text, "[{} ran: {}]", step.id, printable_text(&failure))
                    }
                };
            }
        }
    }
    let verdict = match correct {
        Some(true) => " ✓ correct",
        Some(false) => " ✗ wrong",
        None => "",
    };
    let _ = writeln!(
        text,
        "answer: {}{verdict}   ({} calls, {} + {} tokens, {:.1} s)",
        printable_text(r.answer.as_deref().unwrap_or("(no answer)")),
        r.calls,
        r.prompt_tokens,
        r.generated_tokens,
        r.seconds
    );
    text
}

/// A method refused before the run, its remedy phrased with the command's
/// flags.
fn refusal(e: MethodError) -> anyhow::Error {
    match e {
        MethodError::CodeOff { method } => anyhow::anyhow!(
            "method `{method}` runs the Python the model writes; pass --allow-code to run it confined (its own temporary folder, no network, a timeout and a memory ceiling)"
        ),
        MethodError::MissingInput { method, input } => {
            anyhow::anyhow!("method `{method}` needs --{input}")
        }
        other => other.into(),
    }
}

/// The last model output of a run (the text the answer came from).
fn final_output(run: &MethodRun) -> String {
    run.steps
        .iter()
        .rev()
        .find_map(|s| s.calls.last().map(|c| c.output.clone()))
        .unwrap_or_default()
}
