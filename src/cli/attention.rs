//! `promptlab attention`: capture what every layer and head attends to over
//! a prompt (and, with `--generate N`, over a greedy answer too), and print
//! it as text or as JSON, with the logit lens on request.

use std::fmt::Write as _;
use std::ops::ControlFlow;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde_json::{json, Value};

use super::generate::prompt_text;
use super::{load_model, ModelArgs, PromptArgs};
use crate::config::Config;
use promptlab_infer::attention::AttentionMaps;
use promptlab_infer::capture::{capture, Capture};
use promptlab_infer::printable::printable;
use promptlab_infer::LoadedModel;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AttentionFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct AttentionArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub prompt: PromptArgs,
    /// Generate up to N answer tokens greedily and capture them too
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub generate: usize,
    /// Only this layer (0-based)
    #[arg(long, value_name = "L")]
    pub layer: Option<usize>,
    /// Only this head (0-based); with --layer, every query's strongest keys
    #[arg(long, value_name = "H")]
    pub head: Option<usize>,
    /// How many keys (and lens tokens) to list
    #[arg(long, value_name = "K", default_value_t = 3)]
    pub top: usize,
    /// Add the logit lens: what the residual stream after each layer predicts
    #[arg(long)]
    pub logit_lens: bool,
    /// Also write a self-contained HTML page (model and head views)
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Also write a PNG: one head with token labels (with --layer and
    /// --head), else the grid of every layer and head shown
    #[arg(long, value_name = "FILE")]
    pub png: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = AttentionFormat::Text)]
    pub format: AttentionFormat,
}

pub fn run(args: &AttentionArgs, config: &Config) -> anyhow::Result<()> {
    let user_text = args.prompt.read()?;
    let (model, _) = load_model(&args.model, config)?;
    let info = &model.info;
    if let Some(layer) = args.layer.filter(|&l| l >= info.n_layers) {
        anyhow::bail!(
            "--layer {layer}: the model has layers 0..{}",
            info.n_layers - 1
        );
    }
    if let Some(head) = args.head.filter(|&h| h >= info.n_heads) {
        anyhow::bail!("--head {head}: the model has heads 0..{}", info.n_heads - 1);
    }
    let text = prompt_text(&model, user_text, args.prompt.chat, None)?;
    let prompt_ids = model.tokenizer.encode(&text)?;
    let capture = capture(&model, prompt_ids, args.generate, |_| {
        ControlFlow::Continue(())
    })?;
    let out = match args.format {
        AttentionFormat::Text => text_report(&model, &capture, args),
        AttentionFormat::Json => json_report(&model, &capture, args).to_string() + "\n",
    };
    if let Some(path) = &args.html {
        let maps = &capture.maps;
        let (layers, heads) = shown_layers_and_heads(maps, args);
        super::attention_html::write(
            path,
            maps,
            &capture.tokens,
            capture.prompt_tokens,
            &layers,
            &heads,
        )?;
    }
    if let Some(path) = &args.png {
        let maps = &capture.maps;
        match (args.layer, args.head) {
            (Some(layer), Some(head)) => super::attention_png::write_head(
                path,
                maps,
                &capture.tokens,
                capture.prompt_tokens,
                layer,
                head,
            ),
            _ => {
                let (layers, heads) = shown_layers_and_heads(maps, args);
                super::attention_png::write_grid(path, maps, &layers, &heads)
            }
        }
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    }
    print!("{out}");
    Ok(())
}

/// The layers and heads `--layer` and `--head` select (all by default).
fn shown_layers_and_heads(maps: &AttentionMaps, args: &AttentionArgs) -> (Vec<usize>, Vec<usize>) {
    (
        args.layer
            .map_or((0..maps.n_layers()).collect(), |l| vec![l]),
        args.head.map_or((0..maps.n_heads()).collect(), |h| vec![h]),
    )
}

/// `key` weights of query `q`, strongest first.
fn strongest(
    maps: &AttentionMaps,
    layer: usize,
    head: usize,
    q: usize,
    k: usize,
) -> Vec<(usize, f32)> {
    let mut keys: Vec<(usize, f32)> = maps
        .row(layer, head, q)
        .iter()
        .copied()
        .enumerate()
        .collect();
    keys.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    keys.truncate(k);
    keys
}

fn shown(token: &str) -> String {
    format!("{:?}", printable(token))
}

fn text_report(model: &LoadedModel, c: &Capture, args: &AttentionArgs) -> String {
    let maps = &c.maps;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} positions ({} prompt, {} generated), {} layers × {} heads, capture {:.1} MiB",
        maps.n_queries(),
        c.prompt_tokens,
        maps.n_queries() - c.prompt_tokens,
        maps.n_layers(),
        maps.n_heads(),
        maps.bytes() as f64 / (1 << 20) as f64
    );
    let last = maps.n_queries() - 1;
    let keys = |layer, head, q| {
        strongest(maps, layer, head, q, args.top)
            .iter()
            .map(|&(k, w)| format!("{k}:{} {w:.3}", shown(&c.tokens[k])))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (args.layer, args.head) {
        (Some(layer), Some(head)) => {
            let _ = writeln!(
                out,
                "layer {layer} head {head}: each query's strongest keys"
            );
            for q in 0..maps.n_queries() {
                let _ = writeln!(
                    out,
                    "{q:>5} {:<16} ← {}",
                    shown(&c.tokens[q]),
                    keys(layer, head, q)
                );
            }
        }
        _ => {
            let _ = writeln!(
                out,
                "the last position {last} {}: its strongest keys per head",
                shown(&c.tokens[last])
            );
            let (layers, heads) = shown_layers_and_heads(maps, args);
            for &layer in &layers {
                for &head in &heads {
                    let _ = writeln!(out, "L{layer:<2} H{head:<2} ← {}", keys(layer, head, last));
                }
            }
        }
    }
    if args.logit_lens {
        out.push_str(&lens_table(model, c));
    }
    out
}

/// Layers × positions: the lens's top token at each (the last 8 positions).
fn lens_table(model: &LoadedModel, c: &Capture) -> String {
    let maps = &c.maps;
    let mut out = String::new();
    let first = maps.n_queries().saturating_sub(8);
    let _ = writeln!(
        out,
        "logit lens (top next token after each layer), positions {first}..{}",
        maps.n_queries() - 1
    );
    let _ = write!(out, "{:>6}", "");
    for q in first..maps.n_queries() {
        let _ = write!(out, " {:<12}", clip(&shown(&c.tokens[q]), 12));
    }
    out.push('\n');
    for layer in 0..maps.n_layers() {
        let _ = write!(out, "{:>6}", format!("L{layer}"));
        for q in first..maps.n_queries() {
            let cell = match model.logit_lens(maps, layer, q, 1) {
                Some(top) => shown(&model.tokenizer.token_text(top[0].id)),
                None => "-".to_string(),
            };
            let _ = write!(out, " {:<12}", clip(&cell, 12));
        }
        out.push('\n');
    }
    out
}

fn clip(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_string()
    } else {
        s.chars().take(width - 1).chain(['…']).collect()
    }
}

fn json_report(model: &LoadedModel, c: &Capture, args: &AttentionArgs) -> Value {
    let maps = &c.maps;
    let (layers, heads) = shown_layers_and_heads(maps, args);
    // attention[layer][head][query] = the query's weights over keys 0..=query.
    let attention: Vec<Value> = layers
        .iter()
        .map(|&l| {
            let per_head: Vec<Value> = heads
                .iter()
                .map(|&h| {
                    (0..maps.n_queries())
                        .map(|q| json!(maps.row(l, h, q)))
                        .collect()
                })
                .collect();
            json!({"layer": l, "heads": heads, "rows": per_head})
        })
        .collect();
    let mut report = json!({
        "token_ids": c.ids,
        "tokens": c.tokens,
        "prompt_tokens": c.prompt_tokens,
        "layers": maps.n_layers(),
        "heads": maps.n_heads(),
        "capture_bytes": maps.bytes(),
        "attention": attention,
    });
    if args.logit_lens {
        let lens: Vec<Value> = (0..maps.n_layers())
            .map(|l| {
                (0..maps.n_queries())
                    .map(|q| {
                        model.logit_lens(maps, l, q, args.top).map_or(Value::Null, |top| {
                            top.iter()
                                .map(|r| json!({"id": r.id, "token": model.tokenizer.token_text(r.id), "logprob": r.value}))
                                .collect()
                        })
                    })
                    .collect()
            })
            .collect();
        report["logit_lens"] = json!(lens);
    }
    report
}
