//! `promptlab generate`: one prompt in, generated text out, as plain text or
//! as JSON lines (a contract: the event and field names stay stable).

use std::io::Write;
use std::ops::ControlFlow;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use serde_json::json;

use super::{load_model, ModelArgs, PromptArgs, SamplingArgs};
use crate::config::Config;
use promptlab_infer::chat_template::Message;
use promptlab_infer::generate::{generate, Finished, GenerateRequest, TokenStep};
use promptlab_infer::printable::printable_text;
use promptlab_infer::LoadedModel;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Jsonl,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub prompt: PromptArgs,
    /// System message (with --chat)
    #[arg(long, value_name = "TEXT", requires = "chat")]
    pub system: Option<String>,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    /// Report the K most likely tokens at each step (jsonl `top`)
    #[arg(long, value_name = "K", default_value_t = 0)]
    pub top_logprobs: usize,
    /// Write every layer's attention probabilities to this safetensors file
    #[arg(long, value_name = "FILE")]
    pub attention: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

/// The prompt as the model sees it: raw, or (with `chat`) one user turn
/// through the model's chat template after an optional system message.
pub(super) fn prompt_text(
    model: &LoadedModel,
    user_text: String,
    chat: bool,
    system: Option<&str>,
) -> anyhow::Result<String> {
    if !chat {
        return Ok(user_text);
    }
    let mut messages = Vec::new();
    if let Some(system) = system {
        messages.push(Message::new("system", system));
    }
    messages.push(Message::new("user", &user_text));
    Ok(model.render_chat(&messages)?)
}

pub fn run(args: &GenerateArgs, config: &Config) -> anyhow::Result<()> {
    let sampling = args.sampling.resolve(config)?;
    let user_text = args.prompt.read()?;
    let (model, load_ms) = load_model(&args.model, config)?;
    let prompt_text = prompt_text(&model, user_text, args.prompt.chat, args.system.as_deref())?;
    let prompt_ids = model.tokenizer.encode(&prompt_text)?;
    let request = GenerateRequest {
        prompt_ids,
        sampling: sampling.params.clone(),
        top_logprobs: args.top_logprobs,
        capture_attention: args.attention.is_some(),
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.format == OutputFormat::Jsonl {
        let tokens: Vec<String> = request
            .prompt_ids
            .iter()
            .map(|&id| model.tokenizer.token_text(id))
            .collect();
        let line = json!({"event": "prompt", "token_ids": request.prompt_ids, "tokens": tokens});
        writeln!(out, "{line}")?;
    }
    let mut shown = 0usize;
    let finished = generate(&model, &request, |step| {
        let written = match args.format {
            OutputFormat::Text => {
                shown += step.visible.len();
                write!(out, "{}", printable_text(&step.visible)).and_then(|_| out.flush())
            }
            OutputFormat::Jsonl => writeln!(out, "{}", token_event(&model, step)),
        };
        // A closed pipe (e.g. `| head`) ends generation quietly.
        if written.is_err() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })?;
    match args.format {
        OutputFormat::Text => {
            let rest = finished.text.get(shown..).unwrap_or_default();
            let _ = writeln!(out, "{}", printable_text(rest));
            eprintln!("{}", summary(&finished, load_ms));
        }
        OutputFormat::Jsonl => {
            let _ = writeln!(
                out,
                "{}",
                done_event(&finished, load_ms, request.sampling.seed)
            );
        }
    }
    if let (Some(path), Some(maps)) = (&args.attention, &finished.attention) {
        let tokens: Vec<String> = request
            .prompt_ids
            .iter()
            .chain(finished.token_ids.iter())
            .take(maps.n_queries())
            .map(|&id| model.tokenizer.token_text(id))
            .collect();
        maps.save_safetensors(path, &tokens)
            .with_context(|| format!("cannot write attention file {}", path.display()))?;
    }
    Ok(())
}

fn token_event(model: &LoadedModel, step: &TokenStep) -> serde_json::Value {
    let top: Vec<serde_json::Value> = step
        .top
        .iter()
        .map(|&(id, lp)| json!({"token_id": id, "text": model.tokenizer.token_text(id), "logprob": lp}))
        .collect();
    json!({
        "event": "token",
        "index": step.index,
        "token_id": step.token_id,
        "text": step.text,
        "logprob": step.logprob,
        "top": top,
    })
}

fn done_event(f: &Finished, load_ms: f64, seed: u64) -> serde_json::Value {
    json!({
        "event": "done",
        "prompt_tokens": f.prompt_tokens,
        "generated_tokens": f.generated_tokens(),
        "stop_reason": f.stop_reason.as_str(),
        "load_ms": round2(load_ms),
        "prefill_ms": round2(f.prefill_ms),
        "decode_ms": round2(f.decode_ms),
        "prefill_tok_s": round2(f.prefill_tok_s()),
        "decode_tok_s": round2(f.decode_tok_s()),
        "seed": seed,
        "text": f.text,
    })
}

fn summary(f: &Finished, load_ms: f64) -> String {
    format!(
        "[{}] {} prompt + {} generated tokens; load {:.0} ms, prefill {:.1} tok/s, decode {:.1} tok/s",
        f.stop_reason.as_str(),
        f.prompt_tokens,
        f.generated_tokens(),
        load_ms,
        f.prefill_tok_s(),
        f.decode_tok_s()
    )
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
