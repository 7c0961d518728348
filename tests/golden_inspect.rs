//! The attention inspector's numbers against the independent numpy
//! reference (`tests/reference/smollm2_reference.py`, output
//! `tests/golden/smollm2_inspect.json`), on the default model with its
//! weights as stored: attention rows of generated tokens (captured while
//! generating), the scores before softmax, the logit lens of every layer and
//! one head's direct effect on the logits.

mod common;

use std::collections::HashMap;
use std::ops::ControlFlow;

use common::golden::{floats, ids, pairs};
use promptlab_infer::arch::Logits;
use promptlab_infer::generate::{generate, GenerateRequest};
use promptlab_infer::sampling::SamplingParams;
use promptlab_infer::LoadedModel;
use serde_json::Value;

/// Log-probabilities, logit changes and scores (nats); attention weights.
const VALUE_TOL: f32 = 2e-3;
const PROB_TOL: f32 = 1e-4;

fn golden() -> Value {
    let path = common::repo_path("tests/golden/smollm2_inspect.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn capture_prompt(
    model: &LoadedModel,
    tokens: &[u32],
) -> promptlab_infer::attention::AttentionMaps {
    let mut maps = model.new_attention_maps();
    model
        .forward(
            tokens,
            &mut model.new_cache(),
            Some(&mut maps),
            Logits::Last,
        )
        .unwrap();
    maps
}

#[test]
fn generated_tokens_attend_as_the_reference_computes() {
    let g = golden();
    let model = common::default_model();
    let prompt = ids(&g["generated"]["prompt_ids"]);
    let reference_ids = ids(&g["generated"]["generated_ids"]);
    let request = GenerateRequest {
        prompt_ids: prompt.clone(),
        sampling: SamplingParams {
            max_tokens: reference_ids.len() + 1,
            ..SamplingParams::greedy()
        },
        top_logprobs: 0,
        capture_attention: true,
    };
    let done = generate(model, &request, |_| ControlFlow::Continue(())).unwrap();
    let maps = done.attention.unwrap();
    let fed = maps.n_queries() - prompt.len();
    assert!(fed >= 5, "only {fed} generated tokens were fed back");
    assert_eq!(done.token_ids[..fed], reference_ids[..fed]);
    let mut worst = 0f32;
    for (layer, rows) in g["generated"]["layers"].as_object().unwrap() {
        let layer: usize = layer.parse().unwrap();
        for (head, rows) in rows.as_array().unwrap().iter().enumerate() {
            for (i, row) in rows.as_array().unwrap().iter().take(fed).enumerate() {
                let q = prompt.len() + i;
                let reference = floats(row);
                let ours = maps.row(layer, head, q);
                assert_eq!(ours.len(), q + 1);
                for (k, want) in reference.iter().enumerate() {
                    let diff = (maps.prob(layer, head, q, k) - want).abs();
                    worst = worst.max(diff);
                }
                let sum: f32 = ours.iter().sum();
                assert!((sum - 1.0).abs() < 1e-4, "row {q} sums to {sum}");
            }
        }
    }
    assert!(worst < PROB_TOL, "generated attention off by {worst}");
}

#[test]
fn scores_before_softmax_match_the_reference() {
    let g = golden();
    let model = common::default_model();
    let tokens = ids(&g["token_ids"]);
    let maps = capture_prompt(model, &tokens);
    let (layer, head) = (
        g["inspect"]["scores_layer"].as_u64().unwrap() as usize,
        g["inspect"]["scores_head"].as_u64().unwrap() as usize,
    );
    let last = tokens.len() - 1;
    let scores = maps.scores(layer, head, last).unwrap();
    let reference = floats(&g["scores_last"]);
    assert_eq!(scores.values.len(), reference.len());
    assert_eq!(scores.scale, 1.0 / 8.0, "SmolLM2 heads are 64 wide");
    for (k, (ours, want)) in scores.values.iter().zip(&reference).enumerate() {
        assert!((ours - want).abs() < VALUE_TOL, "key {k}: {ours} vs {want}");
    }
    // The scores are the softmax's logits: they give the captured row back.
    let max = scores.values.iter().copied().fold(f32::MIN, f32::max);
    let total: f32 = scores.values.iter().map(|s| (s - max).exp()).sum();
    for (k, s) in scores.values.iter().enumerate() {
        let p = (s - max).exp() / total;
        assert!((p - maps.prob(layer, head, last, k)).abs() < 1e-5);
    }
}

#[test]
fn the_logit_lens_of_every_layer_matches_the_reference() {
    let g = golden();
    let model = common::default_model();
    let tokens = ids(&g["token_ids"]);
    let maps = capture_prompt(model, &tokens);
    let last = tokens.len() - 1;
    let vocab = model.tokenizer.vocab_size();
    let layers = g["lens_last"].as_array().unwrap();
    assert_eq!(layers.len(), maps.n_layers());
    for (layer, reference) in layers.iter().enumerate() {
        let reference = pairs(reference);
        let ours: HashMap<u32, f32> = model
            .logit_lens(&maps, layer, last, vocab)
            .unwrap()
            .into_iter()
            .map(|r| (r.id, r.value))
            .collect();
        for (id, want) in &reference {
            let got = ours[id];
            assert!(
                (got - want).abs() < VALUE_TOL,
                "layer {layer} token {id}: {got} vs {want}"
            );
        }
        let top = model.logit_lens(&maps, layer, last, 1).unwrap()[0].id;
        if reference[0].1 - reference[1].1 > VALUE_TOL {
            assert_eq!(top, reference[0].0, "layer {layer}'s top token");
        }
    }
    // The last layer's lens is the model's own next-token distribution.
    let top = model
        .logit_lens(&maps, maps.n_layers() - 1, last, 1)
        .unwrap();
    assert_eq!(model.tokenizer.token_text(top[0].id), " Paris");
}

#[test]
fn a_heads_effect_on_the_logits_matches_the_reference() {
    let g = golden();
    let model = common::default_model();
    let tokens = ids(&g["token_ids"]);
    let maps = capture_prompt(model, &tokens);
    let (layer, head) = (
        g["inspect"]["effect_layer"].as_u64().unwrap() as usize,
        g["inspect"]["effect_head"].as_u64().unwrap() as usize,
    );
    let last = tokens.len() - 1;
    let k = g["inspect"]["top"].as_u64().unwrap() as usize;
    let effect = model.head_effect(&maps, layer, head, last, k).unwrap();
    for (ours, reference) in [
        (&effect.promoted, &g["effect_last"]["promoted"]),
        (&effect.suppressed, &g["effect_last"]["suppressed"]),
    ] {
        let reference = pairs(reference);
        assert_eq!(ours.len(), reference.len());
        for (r, (id, want)) in ours.iter().zip(&reference) {
            assert!(
                (r.value - want).abs() < VALUE_TOL,
                "token {id}: {} vs {want}",
                r.value
            );
            if (r.value - want).abs() < VALUE_TOL && r.id != *id {
                // A near tie may swap two ranks; the values must then agree.
                let swapped = reference.iter().find(|(rid, _)| *rid == r.id);
                assert!(swapped.is_some_and(|(_, v)| (v - r.value).abs() < VALUE_TOL));
            }
        }
    }
    assert!(effect.promoted[0].value > 0.0 && effect.suppressed[0].value < 0.0);
}
