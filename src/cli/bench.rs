//! `promptlab bench`: prefill and decode speed of a model, the median of
//! several runs, as a table and as one JSON line.

use std::time::Instant;

use clap::Args;
use serde_json::json;

use super::{load_model, ModelArgs};
use crate::config::Config;
use promptlab_infer::arch::Logits;
use promptlab_infer::sampling::argmax;
use promptlab_infer::LoadedModel;

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Prompt length for the prefill measurement
    #[arg(long, value_name = "P", default_value_t = 128)]
    pub prompt_tokens: usize,
    /// Tokens decoded one by one after the prefill
    #[arg(long, value_name = "G", default_value_t = 64)]
    pub gen_tokens: usize,
    /// Measured runs (after one warm-up run); the median is reported
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub runs: usize,
}

struct RunTimes {
    prefill_tok_s: f64,
    decode_tok_s: f64,
}

pub fn run(args: &BenchArgs, config: &Config) -> anyhow::Result<()> {
    anyhow::ensure!(args.prompt_tokens > 0, "--prompt-tokens must be at least 1");
    anyhow::ensure!(args.gen_tokens > 0, "--gen-tokens must be at least 1");
    anyhow::ensure!(args.runs > 0, "--runs must be at least 1");
    let (model, load_ms) = load_model(&args.model, config)?;
    anyhow::ensure!(
        args.prompt_tokens + args.gen_tokens <= model.context_length(),
        "--prompt-tokens + --gen-tokens ({}) exceed the context window ({})",
        args.prompt_tokens + args.gen_tokens,
        model.context_length()
    );
    let prompt = bench_prompt(&model, args.prompt_tokens)?;
    one_run(&model, &prompt, args.gen_tokens.min(8))?; // warm-up
    let mut runs = Vec::with_capacity(args.runs);
    for _ in 0..args.runs {
        runs.push(one_run(&model, &prompt, args.gen_tokens)?);
    }
    let prefill = median(runs.iter().map(|r| r.prefill_tok_s).collect());
    let decode = median(runs.iter().map(|r| r.decode_tok_s).collect());
    let threads = candle_core::utils::get_num_threads();
    println!("model    {}", model.info.path.display());
    println!("threads  {threads}");
    println!("{:<10} {:>8} {:>12}", "phase", "tokens", "tok/s");
    println!(
        "{:<10} {:>8} {:>12.1}",
        "prefill", args.prompt_tokens, prefill
    );
    println!("{:<10} {:>8} {:>12.1}", "decode", args.gen_tokens, decode);
    let line = json!({
        "model": model.info.path.display().to_string(),
        "threads": threads,
        "prompt_tokens": args.prompt_tokens,
        "gen_tokens": args.gen_tokens,
        "runs": args.runs,
        "load_ms": (load_ms * 10.0).round() / 10.0,
        "prefill_tok_s": (prefill * 10.0).round() / 10.0,
        "decode_tok_s": (decode * 10.0).round() / 10.0,
    });
    println!("{line}");
    Ok(())
}

/// A natural-text prompt of exactly `n` tokens (a passage repeated).
fn bench_prompt(model: &LoadedModel, n: usize) -> anyhow::Result<Vec<u32>> {
    let passage = model.tokenizer.encode(
        "The quick brown fox jumps over the lazy dog while the model reads a long and \
         varied passage of text, one token after another, to measure its speed. ",
    )?;
    Ok(passage.iter().copied().cycle().take(n).collect())
}

fn one_run(model: &LoadedModel, prompt: &[u32], gen: usize) -> anyhow::Result<RunTimes> {
    let mut cache = model.new_cache();
    let start = Instant::now();
    let logits = model.forward(prompt, &mut cache, None, Logits::Last)?;
    let mut token = argmax(&logits.flatten_all()?.to_vec1::<f32>()?);
    let prefill_s = start.elapsed().as_secs_f64();
    let start = Instant::now();
    for _ in 0..gen {
        let logits = model.forward(&[token], &mut cache, None, Logits::Last)?;
        token = argmax(&logits.flatten_all()?.to_vec1::<f32>()?);
    }
    let decode_s = start.elapsed().as_secs_f64();
    Ok(RunTimes {
        prefill_tok_s: prompt.len() as f64 / prefill_s,
        decode_tok_s: gen as f64 / decode_s,
    })
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}
