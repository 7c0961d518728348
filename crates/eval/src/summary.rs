//! The A/B summary of a run's records: per arm (variant × method) accuracy
//! with its Wilson interval, mean score, tokens and time; between every
//! pair of arms, on the trials (item, sample) both ran, wins / losses /
//! ties, the exact McNemar p-value and a paired bootstrap interval of the
//! score difference; and the same as a text table.

use serde::{Deserialize, Serialize};

use crate::record::Record;
use std::collections::BTreeMap;

use crate::stats::{mcnemar_exact, paired_bootstrap, wilson, Interval};

/// One arm's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmSummary {
    pub variant: String,
    pub method: String,
    /// Records (item × sample) of this arm.
    pub trials: usize,
    pub passed: usize,
    /// Records that failed to run (counted as not passed).
    pub errors: usize,
    /// passed / trials (0 with no trials).
    pub accuracy: f64,
    /// The 95% Wilson interval of the accuracy.
    pub wilson: Interval,
    pub mean_score: f64,
    /// Mean generated tokens per record.
    pub mean_generated_tokens: f64,
    /// Mean prompt tokens per record.
    pub mean_prompt_tokens: f64,
    /// Mean wall time per record, milliseconds.
    pub mean_ms: f64,
}

/// Two arms compared on the trials (item, sample) both have.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairSummary {
    /// (variant, method) of the first arm.
    pub first: (String, String),
    /// (variant, method) of the second arm.
    pub second: (String, String),
    /// Trials both arms ran.
    pub paired: usize,
    /// The second passed where the first failed.
    pub wins: usize,
    /// The second failed where the first passed.
    pub losses: usize,
    pub ties: usize,
    /// Exact McNemar, two-sided, on (losses, wins).
    pub p_value: f64,
    /// mean(second score − first score) over the paired trials.
    pub score_difference: f64,
    /// Its 95% paired bootstrap interval (10,000 resamples, fixed seed).
    pub difference_interval: Interval,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Arms in the order they first appear in the records.
    pub arms: Vec<ArmSummary>,
    /// Every pair of arms (i < j in `arms` order), first = arms[i].
    pub pairs: Vec<PairSummary>,
}

/// Seed of the paired bootstrap (the same records give the same interval).
const BOOTSTRAP_SEED: u64 = 0x5eed;
const BOOTSTRAP_REPS: usize = 10_000;

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 {
        0.0
    } else {
        sum / n as f64
    }
}

/// Items sort as numbers when both are, else as text.
fn item_order(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        _ => a.cmp(b),
    }
}

fn arm_summary(variant: &str, method: &str, records: &[&Record]) -> ArmSummary {
    let trials = records.len();
    let passed = records.iter().filter(|r| r.passed).count();
    ArmSummary {
        variant: variant.to_string(),
        method: method.to_string(),
        trials,
        passed,
        errors: records.iter().filter(|r| r.error.is_some()).count(),
        accuracy: if trials == 0 {
            0.0
        } else {
            passed as f64 / trials as f64
        },
        wilson: wilson(passed, trials),
        mean_score: mean(records.iter().map(|r| r.score)),
        mean_generated_tokens: mean(records.iter().map(|r| r.tokens.generated as f64)),
        mean_prompt_tokens: mean(records.iter().map(|r| r.tokens.prompt as f64)),
        mean_ms: mean(records.iter().map(|r| r.ms)),
    }
}

fn pair_summary(
    first: &ArmSummary,
    a: &[&Record],
    second: &ArmSummary,
    b: &[&Record],
) -> PairSummary {
    // The last record of each (item, sample) in each arm.
    let index = |records: &[&Record]| {
        let mut by: BTreeMap<(String, usize), usize> = BTreeMap::new();
        for (i, r) in records.iter().enumerate() {
            by.insert((r.item.clone(), r.sample), i);
        }
        by
    };
    let (in_a, in_b) = (index(a), index(b));
    let mut matched: Vec<(&Record, &Record)> = in_a
        .iter()
        .filter_map(|(key, &i)| in_b.get(key).map(|&j| (a[i], b[j])))
        .collect();
    matched.sort_by(|x, y| item_order(&x.0.item, &y.0.item).then(x.0.sample.cmp(&y.0.sample)));
    let wins = matched
        .iter()
        .filter(|(x, y)| !x.passed && y.passed)
        .count();
    let losses = matched
        .iter()
        .filter(|(x, y)| x.passed && !y.passed)
        .count();
    let firsts: Vec<f64> = matched.iter().map(|(x, _)| x.score).collect();
    let seconds: Vec<f64> = matched.iter().map(|(_, y)| y.score).collect();
    PairSummary {
        first: (first.variant.clone(), first.method.clone()),
        second: (second.variant.clone(), second.method.clone()),
        paired: matched.len(),
        wins,
        losses,
        ties: matched.len() - wins - losses,
        p_value: mcnemar_exact(losses, wins),
        score_difference: mean(matched.iter().map(|(x, y)| y.score - x.score)),
        difference_interval: paired_bootstrap(&firsts, &seconds, BOOTSTRAP_REPS, BOOTSTRAP_SEED),
    }
}

fn percent(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

fn p_text(p: f64) -> String {
    if p < 0.001 {
        "<0.001".into()
    } else {
        format!("{p:.3}")
    }
}

impl Summary {
    pub fn of(records: &[Record]) -> Summary {
        let mut arms: Vec<((String, String), Vec<&Record>)> = Vec::new();
        for r in records {
            let key = (r.variant.clone(), r.method.clone());
            match arms.iter_mut().find(|(k, _)| *k == key) {
                Some((_, list)) => list.push(r),
                None => arms.push((key, vec![r])),
            }
        }
        let summaries: Vec<ArmSummary> = arms
            .iter()
            .map(|((v, m), list)| arm_summary(v, m, list))
            .collect();
        let mut pairs = Vec::new();
        for i in 0..arms.len() {
            for j in i + 1..arms.len() {
                pairs.push(pair_summary(
                    &summaries[i],
                    &arms[i].1,
                    &summaries[j],
                    &arms[j].1,
                ));
            }
        }
        Summary {
            arms: summaries,
            pairs,
        }
    }

    /// The summary as a text table for a terminal (arms, then pairs).
    pub fn table(&self) -> String {
        let mut rows = vec![[
            "variant", "method", "n", "passed", "accuracy", "95% CI", "score", "tokens", "ms",
        ]
        .map(String::from)
        .to_vec()];
        for a in &self.arms {
            rows.push(vec![
                a.variant.clone(),
                a.method.clone(),
                a.trials.to_string(),
                a.passed.to_string(),
                percent(a.accuracy),
                format!("[{}, {}]", percent(a.wilson.low), percent(a.wilson.high)),
                format!("{:.3}", a.mean_score),
                format!("{:.0}", a.mean_generated_tokens),
                format!("{:.0}", a.mean_ms),
            ]);
        }
        let mut out = columns(&rows);
        if !self.pairs.is_empty() {
            let mut rows = vec![[
                "A",
                "B",
                "paired",
                "B wins",
                "B losses",
                "ties",
                "McNemar p",
                "Δscore (95% CI)",
            ]
            .map(String::from)
            .to_vec()];
            for p in &self.pairs {
                rows.push(vec![
                    format!("{} / {}", p.first.0, p.first.1),
                    format!("{} / {}", p.second.0, p.second.1),
                    p.paired.to_string(),
                    p.wins.to_string(),
                    p.losses.to_string(),
                    p.ties.to_string(),
                    p_text(p.p_value),
                    format!(
                        "{:+.3} [{:+.3}, {:+.3}]",
                        p.score_difference, p.difference_interval.low, p.difference_interval.high
                    ),
                ]);
            }
            out.push('\n');
            out.push_str(&columns(&rows));
        }
        out
    }
}

/// Rows as left-aligned columns two spaces apart.
fn columns(rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..rows.first().map_or(0, Vec::len))
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
