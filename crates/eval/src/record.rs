//! One result line: what one item × variant × method × sample asked, every
//! call it made, what came back and how each assertion judged it. The
//! JSONL report is these records, one per line (the README documents the
//! fields as a contract for scripts).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The case's `id`, or its index from 1 in the data.
    pub item: String,
    /// The prompt variant's id.
    pub variant: String,
    /// The method's id (`direct`: the rendered prompt asked as it is).
    pub method: String,
    /// Which independent sample of the item (from 0).
    pub sample: usize,
    /// The store key: a hash of everything that can change the answer.
    pub key: String,
    /// The case's variables, as the templates saw them.
    pub vars: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// The rendered prompt (the method's question for a method).
    pub prompt: String,
    /// Every model call, in order.
    pub calls: Vec<CallTranscript>,
    /// The last call's text (the direct reply, or the method's final step).
    pub output: String,
    /// The extracted answer the assertions judge; None: no answer.
    pub answer: Option<String>,
    /// Every assertion passed (and the item did not fail).
    pub passed: bool,
    /// Passed weight over total weight, in [0, 1].
    pub score: f64,
    pub assertions: Vec<AssertionResult>,
    pub tokens: Tokens,
    /// Wall time of the item's calls, in milliseconds.
    pub ms: f64,
    /// Why the item could not be run (a backend or method failure); it
    /// then counts as failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One model call of an item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallTranscript {
    /// The method step that made it (`direct` for a plain prompt).
    pub step: String,
    pub prompt: String,
    pub output: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Tokens {
    pub prompt: usize,
    pub generated: usize,
    /// Prompt tokens the prefix cache already held (not prefilled again).
    #[serde(default)]
    pub reused: usize,
}

/// How one assertion judged the answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssertionResult {
    /// Its type (`equals`, `contains`, `numeric`, …), `not-` prefixed when
    /// negated.
    pub kind: String,
    /// What it expected, rendered for this case.
    pub expected: String,
    pub weight: f64,
    pub passed: bool,
    /// What was found, one line ("got 17", "no number in the answer").
    pub detail: String,
}

impl Record {
    /// The arm this record belongs to: (variant, method).
    pub fn arm(&self) -> (&str, &str) {
        (&self.variant, &self.method)
    }
}
