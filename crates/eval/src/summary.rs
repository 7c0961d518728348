//! The A/B summary of a run's records: per arm (variant × method) accuracy
//! with its Wilson interval, mean score, tokens and time; between every
//! pair of arms, on the trials (item, sample) both ran, wins / losses /
//! ties, the exact McNemar p-value and a paired bootstrap interval of the
//! score difference; and the same as a text table.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::record::Record;
use crate::stats::{mcnemar_exact, paired_bootstrap, wilson, Interval};

/// Resamples of the paired bootstrap behind
/// [`PairSummary::difference_interval`].
pub const BOOTSTRAP_REPS: usize = 10_000;

/// The bootstrap's fixed seed, so the same records give the same summary.
pub const BOOTSTRAP_SEED: u64 = 0x5eed;

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

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Arms in the order they first appear in the records.
    pub arms: Vec<ArmSummary>,
    /// Every pair of arms (i < j in `arms` order), first = arms[i].
    pub pairs: Vec<PairSummary>,
}

/// Whether a record counts as passed: it passed and did not fail to run.
fn counts_as_passed(record: &Record) -> bool {
    record.passed && record.error.is_none()
}

/// The order of paired trials for the bootstrap: items that parse as
/// integers first, numerically (the text breaks ties such as "7" and
/// "07"), then the other items as text; then the sample. A total order, so
/// the resampling sees the pairs in the same order whatever the records'.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum ItemKey<'a> {
    Number(i128, &'a str),
    Text(&'a str),
}

impl<'a> ItemKey<'a> {
    fn of(item: &'a str) -> Self {
        match item.parse::<i128>() {
            Ok(n) => ItemKey::Number(n, item),
            Err(_) => ItemKey::Text(item),
        }
    }
}

/// One arm's records, as grouped from the run.
struct Arm<'a> {
    variant: &'a str,
    method: &'a str,
    records: Vec<&'a Record>,
    /// (item, sample) → the last record of that trial.
    trials: HashMap<(&'a str, usize), &'a Record>,
}

/// The mean of `values` (0 when there are none).
fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, count) = values.fold((0.0, 0usize), |(s, c), v| (s + v, c + 1));
    if count == 0 {
        0.0
    } else {
        sum / count as f64
    }
}

/// Groups the records by arm, in first-appearance order.
fn group<'a>(records: impl IntoIterator<Item = &'a Record>) -> Vec<Arm<'a>> {
    let mut arms: Vec<Arm> = Vec::new();
    let mut index: HashMap<(&str, &str), usize> = HashMap::new();
    for record in records {
        let slot = *index.entry(record.arm()).or_insert_with(|| {
            arms.push(Arm {
                variant: &record.variant,
                method: &record.method,
                records: Vec::new(),
                trials: HashMap::new(),
            });
            arms.len() - 1
        });
        if let Some(arm) = arms.get_mut(slot) {
            arm.records.push(record);
            arm.trials.insert((&record.item, record.sample), record);
        }
    }
    arms
}

fn summarize_arm(arm: &Arm) -> ArmSummary {
    let records = &arm.records;
    let trials = records.len();
    let passed = records.iter().filter(|r| counts_as_passed(r)).count();
    let errors = records.iter().filter(|r| r.error.is_some()).count();
    ArmSummary {
        variant: arm.variant.to_string(),
        method: arm.method.to_string(),
        trials,
        passed,
        errors,
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

fn compare_arms(first: &Arm, second: &Arm) -> PairSummary {
    let mut matched: Vec<(ItemKey, usize, &Record, &Record)> = first
        .trials
        .iter()
        .filter_map(|(&(item, sample), &a)| {
            second
                .trials
                .get(&(item, sample))
                .map(|&b| (ItemKey::of(item), sample, a, b))
        })
        .collect();
    matched.sort_by(|x, y| (&x.0, x.1).cmp(&(&y.0, y.1)));

    let (mut wins, mut losses, mut ties) = (0, 0, 0);
    for (_, _, a, b) in &matched {
        match (counts_as_passed(a), counts_as_passed(b)) {
            (false, true) => wins += 1,
            (true, false) => losses += 1,
            _ => ties += 1,
        }
    }
    let first_scores: Vec<f64> = matched.iter().map(|m| m.2.score).collect();
    let second_scores: Vec<f64> = matched.iter().map(|m| m.3.score).collect();
    PairSummary {
        first: (first.variant.to_string(), first.method.to_string()),
        second: (second.variant.to_string(), second.method.to_string()),
        paired: matched.len(),
        wins,
        losses,
        ties,
        p_value: mcnemar_exact(losses, wins),
        score_difference: mean(matched.iter().map(|m| m.3.score - m.2.score)),
        difference_interval: paired_bootstrap(
            &first_scores,
            &second_scores,
            BOOTSTRAP_REPS,
            BOOTSTRAP_SEED,
        ),
    }
}

impl Summary {
    /// Summarizes a run's records: arms keyed by (variant, method) in the
    /// order they first appear, and every pair of arms compared on the
    /// trials (item, sample) both ran (an arm's last record of a trial
    /// counts). A record with an `error` counts as failed.
    pub fn of<'a>(records: impl IntoIterator<Item = &'a Record>) -> Summary {
        let arms = group(records);
        let pairs = arms
            .iter()
            .enumerate()
            .flat_map(|(i, first)| {
                arms.iter()
                    .skip(i + 1)
                    .map(move |second| compare_arms(first, second))
            })
            .collect();
        Summary {
            arms: arms.iter().map(summarize_arm).collect(),
            pairs,
        }
    }

    /// The summary as a text table for a terminal (arms, then pairs).
    ///
    /// Arms are named by variant when every arm runs the same method, else
    /// as `variant/method`. Accuracy and its Wilson interval are in percent
    /// with one decimal; scores and score differences have three decimals;
    /// McNemar p-values three significant digits (`<0.001` below that). A
    /// pair with no trial in common shows `-` for its statistics.
    pub fn table(&self) -> String {
        if self.arms.is_empty() {
            return "(no records)\n".to_string();
        }
        let mut out = render(
            &[
                ("variant", Align::Left),
                ("method", Align::Left),
                ("n", Align::Right),
                ("passed", Align::Right),
                ("acc", Align::Right),
                ("95% CI", Align::Left),
                ("score", Align::Right),
                ("gen tok", Align::Right),
                ("ms", Align::Right),
            ],
            &self
                .arms
                .iter()
                .map(|a| {
                    vec![
                        a.variant.clone(),
                        a.method.clone(),
                        a.trials.to_string(),
                        a.passed.to_string(),
                        format!("{:.1}%", 100.0 * a.accuracy),
                        format!(
                            "[{:.1}, {:.1}]",
                            100.0 * a.wilson.low,
                            100.0 * a.wilson.high
                        ),
                        format!("{:.3}", a.mean_score),
                        format!("{:.1}", a.mean_generated_tokens),
                        format_ms(a.mean_ms),
                    ]
                })
                .collect::<Vec<_>>(),
        );
        if !self.pairs.is_empty() {
            let one_method = self.arms.iter().all(|a| a.method == self.arms[0].method);
            let label = |(variant, method): &(String, String)| {
                if one_method {
                    variant.clone()
                } else {
                    format!("{variant}/{method}")
                }
            };
            out.push('\n');
            out.push_str(&render(
                &[
                    ("pair", Align::Left),
                    ("n", Align::Right),
                    ("W/L/T", Align::Right),
                    ("McNemar p", Align::Right),
                    ("Δscore", Align::Right),
                    ("95% CI", Align::Left),
                ],
                &self
                    .pairs
                    .iter()
                    .map(|p| {
                        let name = format!("{} vs {}", label(&p.first), label(&p.second));
                        if p.paired == 0 {
                            // Nothing in common: no test to show.
                            return vec![
                                name,
                                "0".to_string(),
                                "-".to_string(),
                                "-".to_string(),
                                "-".to_string(),
                                "-".to_string(),
                            ];
                        }
                        vec![
                            name,
                            p.paired.to_string(),
                            format!("{}/{}/{}", p.wins, p.losses, p.ties),
                            format_p(p.p_value),
                            format!("{:+.3}", p.score_difference),
                            format!(
                                "[{:+.3}, {:+.3}]",
                                p.difference_interval.low, p.difference_interval.high
                            ),
                        ]
                    })
                    .collect::<Vec<_>>(),
            ));
        }
        out
    }
}

/// A p-value with three significant digits, or `<0.001`.
pub fn format_p(p: f64) -> String {
    if p.is_nan() {
        return "-".to_string();
    }
    if p < 0.001 {
        return "<0.001".to_string();
    }
    // p in [0.001, 1]: 2 decimals at 1, 3 from 0.1, 4 from 0.01, 5 below.
    let decimals = (2 - p.log10().floor() as i32).clamp(2, 5) as usize;
    format!("{p:.decimals$}")
}

/// Milliseconds: whole ones from 100, one decimal below.
fn format_ms(ms: f64) -> String {
    if ms >= 100.0 {
        format!("{ms:.0}")
    } else {
        format!("{ms:.1}")
    }
}

#[derive(Clone, Copy)]
enum Align {
    Left,
    Right,
}

/// A header line, a rule and the rows, columns two spaces apart and
/// padded to their widest cell; no trailing spaces.
fn render(columns: &[(&str, Align)], rows: &[Vec<String>]) -> String {
    let width = |s: &str| s.chars().count();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, (name, _))| {
            rows.iter()
                .filter_map(|row| row.get(i))
                .map(|cell| width(cell))
                .chain([width(name)])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for ((cell, (_, align)), w) in cells.zip(columns).zip(&widths) {
            if !text.is_empty() {
                text.push_str("  ");
            }
            let pad = " ".repeat(w.saturating_sub(width(cell)));
            match align {
                Align::Left => {
                    text.push_str(cell);
                    text.push_str(&pad);
                }
                Align::Right => {
                    text.push_str(&pad);
                    text.push_str(cell);
                }
            }
        }
        let mut text = text.trim_end().to_string();
        text.push('\n');
        text
    };
    let mut out = line(&mut columns.iter().map(|(name, _)| *name));
    let total = widths.iter().sum::<usize>() + 2 * widths.len().saturating_sub(1);
    out.push_str(&"-".repeat(total));
    out.push('\n');
    for row in rows {
        out.push_str(&line(&mut row.iter().map(String::as_str)));
    }
    out
}
