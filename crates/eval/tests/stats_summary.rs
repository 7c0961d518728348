//! `Summary::of` and `Summary::table` on hand-made records: per-arm counts,
//! pairing by (item, sample) with trials missing from one arm, duplicates,
//! errors, and the table's shape.

use std::collections::BTreeMap;

use promptlab_eval::record::{Record, Tokens};
use promptlab_eval::stats::{mcnemar_exact, paired_bootstrap};
use promptlab_eval::summary::{format_p, Summary, BOOTSTRAP_REPS, BOOTSTRAP_SEED};

fn record(variant: &str, method: &str, item: &str, sample: usize, passed: bool) -> Record {
    Record {
        item: item.to_string(),
        variant: variant.to_string(),
        method: method.to_string(),
        sample,
        key: format!("{variant}/{method}/{item}/{sample}"),
        vars: BTreeMap::new(),
        system: None,
        prompt: String::new(),
        calls: Vec::new(),
        output: String::new(),
        answer: None,
        passed,
        score: if passed { 1.0 } else { 0.0 },
        assertions: Vec::new(),
        tokens: Tokens {
            prompt: 10,
            generated: 4,
            reused: 0,
        },
        ms: 100.0,
        error: None,
    }
}

fn failed_to_run(variant: &str, method: &str, item: &str, sample: usize) -> Record {
    let mut r = record(variant, method, item, sample, false);
    r.error = Some("backend went away".to_string());
    r
}

/// Arm A (base/direct): items 1–6, sample 0; item 6 missing from B.
/// Arm B (cot/direct): items 1–5 and 7; item 7 missing from A.
fn two_arms() -> Vec<Record> {
    let a = |item: &str, passed| record("base", "direct", item, 0, passed);
    let b = |item: &str, passed| record("cot", "direct", item, 0, passed);
    vec![
        a("1", true),
        b("1", true), // tie (both pass)
        a("2", false),
        b("2", true), // win
        a("3", false),
        b("3", true), // win
        a("4", true),
        b("4", false), // loss
        a("5", false),
        failed_to_run("cot", "direct", "5", 0), // tie (both fail), an error
        a("6", true),                           // only in A
        b("7", true),                           // only in B
    ]
}

#[test]
fn arm_counts_and_means() {
    let mut records = two_arms();
    records[0].tokens.generated = 10; // A's mean generated: (10 + 4·5) / 6 = 5
    records[0].ms = 400.0; // A's mean ms: (400 + 5·100) / 6 = 150
    records[0].score = 0.5; // A's scores: 0.5 + 0 + 0 + 1 + 0 + 1 = 2.5
    let s = Summary::of(&records);
    assert_eq!(s.arms.len(), 2);
    let (a, b) = (&s.arms[0], &s.arms[1]);
    assert_eq!((a.variant.as_str(), a.method.as_str()), ("base", "direct"));
    assert_eq!((b.variant.as_str(), b.method.as_str()), ("cot", "direct"));
    assert_eq!((a.trials, a.passed, a.errors), (6, 3, 0));
    assert_eq!((b.trials, b.passed, b.errors), (6, 4, 1));
    assert!((a.accuracy - 0.5).abs() < 1e-15);
    assert!((b.accuracy - 4.0 / 6.0).abs() < 1e-15);
    assert_eq!(a.wilson, promptlab_eval::stats::wilson(3, 6));
    assert!((a.mean_score - 2.5 / 6.0).abs() < 1e-15);
    assert!((a.mean_generated_tokens - 5.0).abs() < 1e-15);
    assert!((a.mean_prompt_tokens - 10.0).abs() < 1e-15);
    assert!((a.mean_ms - 150.0).abs() < 1e-12);
}

#[test]
fn pairs_match_by_item_and_sample() {
    let s = Summary::of(&two_arms());
    assert_eq!(s.pairs.len(), 1);
    let p = &s.pairs[0];
    assert_eq!(p.first, ("base".to_string(), "direct".to_string()));
    assert_eq!(p.second, ("cot".to_string(), "direct".to_string()));
    assert_eq!(p.paired, 5);
    assert_eq!((p.wins, p.losses, p.ties), (2, 1, 2));
    assert_eq!(p.p_value, mcnemar_exact(1, 2));
    assert_eq!(p.p_value, 1.0);
    // Paired scores (items 1–5): A 1,0,0,1,0; B 1,1,1,0,0 → mean +0.2.
    assert!((p.score_difference - 0.2).abs() < 1e-15);
    let want = paired_bootstrap(
        &[1.0, 0.0, 0.0, 1.0, 0.0],
        &[1.0, 1.0, 1.0, 0.0, 0.0],
        BOOTSTRAP_REPS,
        BOOTSTRAP_SEED,
    );
    assert_eq!(p.difference_interval, want);
}

#[test]
fn pairing_order_does_not_depend_on_record_order() {
    let records = two_arms();
    let mut reversed = records.clone();
    reversed.reverse();
    let (s, r) = (Summary::of(&records), Summary::of(&reversed));
    // Arm order follows first appearance, so the pair is flipped; the
    // bootstrap of the flipped pair is the mirror image of the other.
    let (p, q) = (&s.pairs[0], &r.pairs[0]);
    assert_eq!(q.first, p.second);
    assert_eq!((q.wins, q.losses, q.ties), (p.losses, p.wins, p.ties));
    assert!((q.score_difference + p.score_difference).abs() < 1e-15);
    assert!((q.difference_interval.low + p.difference_interval.high).abs() < 1e-12);
    assert!((q.difference_interval.high + p.difference_interval.low).abs() < 1e-12);
}

#[test]
fn items_sort_numerically_for_the_bootstrap() {
    // Items "10", "9", "x": numerically 9 < 10, text after numbers.
    let a = |item: &str, score: f64| {
        let mut r = record("a", "m", item, 0, false);
        r.score = score;
        r
    };
    let b = |item: &str, score: f64| {
        let mut r = record("b", "m", item, 0, false);
        r.score = score;
        r
    };
    let records = vec![
        a("x", 0.0),
        a("10", 0.0),
        a("9", 0.0),
        b("10", 0.5),
        b("x", 1.0),
        b("9", 0.25),
    ];
    let s = Summary::of(&records);
    let want = paired_bootstrap(
        &[0.0, 0.0, 0.0],
        &[0.25, 0.5, 1.0],
        BOOTSTRAP_REPS,
        BOOTSTRAP_SEED,
    );
    assert_eq!(s.pairs[0].difference_interval, want);
}

#[test]
fn duplicates_keep_the_last_record_and_samples_pair_separately() {
    let records = vec![
        record("a", "m", "1", 0, false),
        record("a", "m", "1", 1, true),
        record("b", "m", "1", 0, true),
        record("b", "m", "1", 1, true),
        record("a", "m", "1", 0, true), // rerun of (1, 0): this one counts
    ];
    let s = Summary::of(&records);
    // Trials count every record of the arm.
    assert_eq!((s.arms[0].trials, s.arms[0].passed), (3, 2));
    let p = &s.pairs[0];
    assert_eq!(p.paired, 2);
    assert_eq!((p.wins, p.losses, p.ties), (0, 0, 2));
    assert_eq!(p.score_difference, 0.0);
}

#[test]
fn three_arms_give_three_pairs_in_order() {
    let mut records = Vec::new();
    for (variant, method) in [("v1", "direct"), ("v1", "cot"), ("v2", "direct")] {
        for item in 1..=3 {
            records.push(record(variant, method, &item.to_string(), 0, item != 2));
        }
    }
    let s = Summary::of(&records);
    let names: Vec<(&str, &str)> = s
        .pairs
        .iter()
        .map(|p| (p.first.1.as_str(), p.second.0.as_str()))
        .collect();
    assert_eq!(names, [("direct", "v1"), ("direct", "v2"), ("cot", "v2")]);
    assert!(s.pairs.iter().all(|p| p.paired == 3 && p.ties == 3));
}

#[test]
fn an_error_counts_as_failed_even_if_marked_passed() {
    let mut broken = record("a", "m", "1", 0, true);
    broken.error = Some("timeout".to_string());
    let s = Summary::of(&[broken, record("b", "m", "1", 0, true)]);
    assert_eq!((s.arms[0].passed, s.arms[0].errors), (0, 1));
    assert_eq!(s.pairs[0].wins, 1);
}

#[test]
fn empty_records() {
    let s = Summary::of(&[]);
    assert!(s.arms.is_empty() && s.pairs.is_empty());
    assert_eq!(s.table(), "(no records)\n");
}

#[test]
fn table_shape() {
    let mut records = two_arms();
    // Longer, more realistic names and a larger run.
    for i in 8..200 {
        let item = i.to_string();
        records.push(record("baseline-v2", "direct", &item, 0, i % 3 != 0));
        records.push(record("cot-steps", "direct", &item, 0, i % 4 != 0));
    }
    let table = Summary::of(&records).table();
    print!("{table}");
    let lines: Vec<&str> = table.lines().collect();
    // 2 header lines + 4 arms, a blank line, 2 header lines + 6 pairs.
    assert_eq!(lines.len(), 2 + 4 + 1 + 2 + 6, "{table}");
    assert!(lines[0].starts_with("variant"));
    assert!(lines[0].contains("95% CI"));
    assert!(lines.iter().all(|l| l.chars().count() <= 100), "{table}");
    assert!(lines.iter().all(|l| !l.ends_with(' ')));
    assert!(!table.contains('\u{1b}'), "no escape codes");
    // One method for every arm: pairs are named by variant.
    assert!(table.contains("baseline-v2 vs cot-steps"), "{table}");
    // base: 3/6 = 50.0%, Wilson [18.8, 81.2].
    assert!(lines[2].contains("50.0%"), "{}", lines[2]);
    assert!(lines[2].contains("[18.8, 81.2]"), "{}", lines[2]);
    // base vs cot: 5 paired, 2/1/2, p = 1.
    let pair = lines
        .iter()
        .find(|l| l.starts_with("base vs cot "))
        .expect("the base vs cot row");
    assert!(pair.contains("2/1/2") && pair.contains("1.00") && pair.contains("+0.200"));
    // Arms with no trial in common show no statistics.
    let unpaired = lines
        .iter()
        .find(|l| l.starts_with("base vs baseline-v2 "))
        .expect("the base vs baseline-v2 row");
    assert_eq!(
        unpaired.split_whitespace().collect::<Vec<_>>()[3..],
        ["0", "-", "-", "-", "-"]
    );
}

#[test]
fn table_names_arms_by_variant_and_method_when_methods_differ() {
    let records = vec![
        record("v", "direct", "1", 0, true),
        record("v", "cot", "1", 0, false),
    ];
    let table = Summary::of(&records).table();
    assert!(table.contains("v/direct vs v/cot"), "{table}");
}

#[test]
fn p_values_have_three_significant_digits() {
    assert_eq!(format_p(1.0), "1.00");
    assert_eq!(format_p(0.21744829), "0.217");
    assert_eq!(format_p(0.0625), "0.0625");
    assert_eq!(format_p(0.0079159), "0.00792");
    assert_eq!(format_p(0.001953125), "0.00195");
    assert_eq!(format_p(0.000999), "<0.001");
    assert_eq!(format_p(0.0), "<0.001");
}
