//! `promptlab bench`: prefill and decode speed of a model, time to the first
//! token, load time and peak memory — the median of several runs — as a
//! table and as one JSON line. Compare speeds only as ratios against another
//! engine run on the same machine (`scripts/bench-vs-llamacpp`).

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
    #[arg(long, value_name = "P", default_value_t = 512)]
    pub prompt_tokens: usize,
    /// Tokens decoded one by one (from a fresh cache, as llama-bench does)
    #[arg(long, value_name = "G", default_value_t = 128)]
    pub gen_tokens: usize,
    /// Measured runs (after one warm-up run); the median is reported
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub runs: usize,
}

struct RunTimes {
    prefill_tok_s: f64,
    decode_tok_s: f64,
    /// Prefill of the prompt and the choice of the first token.
    ttft_ms: f64,
}

pub fn run(args: &BenchArgs, config: &Config) -> anyhow::Result<()> {
    anyhow::ensure!(args.prompt_tokens > 0, "--prompt-tokens must be at least 1");
    anyhow::ensure!(args.gen_tokens > 0, "--gen-tokens must be at least 1");
    anyhow::ensure!(args.runs > 0, "--runs must be at least 1");
    let (model, load_ms) = load_model(&args.model, config)?;
    anyhow::ensure!(
        args.prompt_tokens.max(args.gen_tokens + 1) <= model.context_length(),
        "--prompt-tokens ({}) or --gen-tokens + 1 ({}) exceed the context window ({})",
        args.prompt_tokens,
        args.gen_tokens + 1,
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
    let ttft = median(runs.iter().map(|r| r.ttft_ms).collect());
    let threads = promptlab_infer::kernels::pool::Pool::global().threads();
    let kernels = promptlab_infer::kernels::Isa::active().name();
    let weights = match args.model.weights {
        crate::cli::WeightsFlag::Stored => "stored",
        crate::cli::WeightsFlag::F32 => "f32",
    };
    let rss = peak_rss_mb();
    let weights_mb = model.weight_bytes() as f64 / 1e6;
    println!("model    {}", model.info.path.display());
    println!("threads  {threads}, kernels {kernels}, weights {weights}");
    println!("{:<14} {:>8} {:>12}", "phase", "tokens", "tok/s");
    println!(
        "{:<14} {:>8} {:>12.1}",
        "prefill", args.prompt_tokens, prefill
    );
    println!("{:<14} {:>8} {:>12.1}", "decode", args.gen_tokens, decode);
    println!("{:<14} {:>21.1}", "first token ms", ttft);
    println!("{:<14} {:>21.1}", "load ms", load_ms);
    println!("{:<14} {:>21.1}", "weights MB", weights_mb);
    match rss {
        Some(mb) => println!("{:<14} {:>21.1}", "peak RSS MB", mb),
        None => println!("{:<14} {:>21}", "peak RSS MB", "n/a"),
    }
    let round = |v: f64| (v * 10.0).round() / 10.0;
    let line = json!({
        "model": model.info.path.display().to_string(),
        "threads": threads,
        "kernels": kernels,
        "weights": weights,
        "prompt_tokens": args.prompt_tokens,
        "gen_tokens": args.gen_tokens,
        "runs": args.runs,
        "load_ms": round(load_ms),
        "prefill_tok_s": round(prefill),
        "decode_tok_s": round(decode),
        "ttft_ms": round(ttft),
        "weights_mb": round(weights_mb),
        "peak_rss_mb": rss.map(round),
    });
    println!("{line}");
    Ok(())
}

/// The process's peak resident memory (Linux: VmHWM), in MB.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024.0 / 1e6)
}

/// A natural-text prompt of exactly `n` tokens (a passage repeated).
fn bench_prompt(model: &LoadedModel, n: usize) -> anyhow::Result<Vec<u32>> {
    let passage = model.tokenizer.encode(
        "The quick brown fox jumps over the lazy dog while the model reads a long and \
         varied passage of text, one token after another, to measure its speed. ",
    )?;
    Ok(passage.iter().copied().cycle().take(n).collect())
}

/// One measurement, defined as llama.cpp's `llama-bench` defines its tests:
/// prefill is the prompt in one pass (its time, with the choice of the first
/// token, is the time to the first token); decode is `gen` tokens one at a
/// time from a fresh cache holding one token.
fn one_run(model: &LoadedModel, prompt: &[u32], gen: usize) -> anyhow::Result<RunTimes> {
    let start = Instant::now();
    let logits = model.forward(prompt, &mut model.new_cache(), None, Logits::Last)?;
    argmax(&logits.flatten_all()?.to_vec1::<f32>()?);
    let prefill_s = start.elapsed().as_secs_f64();
    let mut cache = model.new_cache();
    let logits = model.forward(&prompt[..1], &mut cache, None, Logits::Last)?;
    let mut token = argmax(&logits.flatten_all()?.to_vec1::<f32>()?);
    let start = Instant::now();
    for _ in 0..gen {
        let logits = model.forward(&[token], &mut cache, None, Logits::Last)?;
        token = argmax(&logits.flatten_all()?.to_vec1::<f32>()?);
    }
    let decode_s = start.elapsed().as_secs_f64();
    Ok(RunTimes {
        prefill_tok_s: prompt.len() as f64 / prefill_s,
        decode_tok_s: gen as f64 / decode_s,
        ttft_ms: prefill_s * 1000.0,
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
