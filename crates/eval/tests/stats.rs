//! Golden numerics for `promptlab_eval::stats` against
//! `tests/reference/eval_stats.json`, written by the independent Python
//! reference `tests/reference/eval_stats.py` (exact rational arithmetic for
//! McNemar), and invariants of the paired bootstrap.

use promptlab_eval::stats::{mcnemar_exact, paired_bootstrap, wilson, Interval};
use serde_json::Value;

fn reference() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/reference/eval_stats.json"
    );
    let text = std::fs::read_to_string(path).expect("read eval_stats.json");
    serde_json::from_str(&text).expect("parse eval_stats.json")
}

fn field_f64(row: &Value, name: &str) -> f64 {
    row[name].as_f64().expect("a number field")
}

fn field_usize(row: &Value, name: &str) -> usize {
    let v = row[name].as_u64().expect("an integer field");
    usize::try_from(v).expect("fits usize")
}

/// Equal to 1e-9 relative; exact zeros must be exact.
fn assert_close(got: f64, want: f64, what: &str) {
    let ok = if want == 0.0 {
        got == 0.0
    } else {
        (got - want).abs() <= 1e-9 * want.abs()
    };
    assert!(ok, "{what}: got {got:e}, reference {want:e}");
}

#[test]
fn wilson_matches_reference() {
    let reference = reference();
    let rows = reference["wilson"].as_array().expect("wilson rows");
    assert!(rows.len() >= 10);
    for row in rows {
        let (s, n) = (field_usize(row, "successes"), field_usize(row, "n"));
        let got = wilson(s, n);
        assert_close(
            got.low,
            field_f64(row, "low"),
            &format!("wilson {s}/{n} low"),
        );
        assert_close(
            got.high,
            field_f64(row, "high"),
            &format!("wilson {s}/{n} high"),
        );
        assert!(0.0 <= got.low && got.low <= got.high && got.high <= 1.0);
    }
}

#[test]
fn wilson_edges() {
    assert_eq!(
        wilson(0, 0),
        Interval {
            low: 0.0,
            high: 1.0
        }
    );
    assert_eq!(wilson(0, 7).low, 0.0);
    assert_eq!(wilson(7, 7).high, 1.0);
    // More successes than trials are clamped to n.
    assert_eq!(wilson(9, 7), wilson(7, 7));
}

#[test]
fn mcnemar_matches_reference() {
    let reference = reference();
    let rows = reference["mcnemar"].as_array().expect("mcnemar rows");
    assert!(rows.len() >= 10);
    for row in rows {
        let (b, c) = (field_usize(row, "b"), field_usize(row, "c"));
        let got = mcnemar_exact(b, c);
        assert!(got.is_finite() && (0.0..=1.0).contains(&got));
        assert_close(got, field_f64(row, "p"), &format!("mcnemar ({b}, {c})"));
    }
}

#[test]
fn mcnemar_is_symmetric_and_one_without_discordant_pairs() {
    assert_eq!(mcnemar_exact(0, 0), 1.0);
    for (b, c) in [(0, 5), (12, 30), (480, 520), (49_700, 50_300)] {
        assert_eq!(mcnemar_exact(b, c), mcnemar_exact(c, b));
    }
}

const SEED: u64 = 0x5eed;

#[test]
fn bootstrap_empty_is_zero() {
    let zero = Interval {
        low: 0.0,
        high: 0.0,
    };
    assert_eq!(paired_bootstrap(&[], &[], 1000, SEED), zero);
    assert_eq!(paired_bootstrap(&[1.0, 0.5], &[], 1000, SEED), zero);
}

#[test]
fn bootstrap_identical_inputs_give_zero() {
    let scores = [0.0, 0.25, 1.0, 0.5, 0.75, 1.0, 0.0];
    let got = paired_bootstrap(&scores, &scores, 2000, SEED);
    assert_eq!(got.low, 0.0);
    assert_eq!(got.high, 0.0);
}

#[test]
fn bootstrap_constant_shift_gives_the_shift() {
    let first = [0.0, 0.25, 0.5, 0.125, 0.375];
    let d = 0.5;
    let second: Vec<f64> = first.iter().map(|x| x + d).collect();
    let got = paired_bootstrap(&first, &second, 2000, SEED);
    assert!((got.low - d).abs() < 1e-12, "{got:?}");
    assert!((got.high - d).abs() < 1e-12, "{got:?}");
}

#[test]
fn bootstrap_contains_the_mean_difference_and_is_deterministic() {
    // 40 pairs with a mixed difference.
    let first: Vec<f64> = (0..40).map(|i| f64::from((i * 7) % 5) / 4.0).collect();
    let second: Vec<f64> = (0..40).map(|i| f64::from((i * 3 + 1) % 5) / 4.0).collect();
    let mean = second.iter().zip(&first).map(|(b, a)| b - a).sum::<f64>() / 40.0;
    let got = paired_bootstrap(&first, &second, 10_000, SEED);
    assert!(got.low < mean && mean < got.high, "{mean} not in {got:?}");
    assert!(got.high - got.low > 0.01);
    assert_eq!(got, paired_bootstrap(&first, &second, 10_000, SEED));
    assert_ne!(got, paired_bootstrap(&first, &second, 10_000, SEED + 1));
}

#[test]
fn bootstrap_uses_the_shorter_length() {
    let first = [0.0, 0.0, 0.0, 5.0];
    let second = [1.0, 1.0, 1.0];
    let got = paired_bootstrap(&first, &second, 500, SEED);
    assert!((got.low - 1.0).abs() < 1e-12 && (got.high - 1.0).abs() < 1e-12);
}
