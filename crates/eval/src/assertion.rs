//! Assertions: what a suite expects of an answer, each a [`Check`] that
//! may be negated and weighted, judged over what one trial produced
//! ([`Produced`]). Expected values are rendered for each case before a
//! run, so a check here only compares.

use regex::Regex;

use crate::record::AssertionResult;

/// How contains-style checks combine several values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Combine {
    Any,
    All,
}

/// One comparison with an expected value.
#[derive(Debug, Clone)]
pub enum Check {
    /// The answer, trimmed, is the value.
    Equals {
        value: String,
        ignore_case: bool,
    },
    /// The answer contains any (or all) of the values.
    Contains {
        values: Vec<String>,
        combine: Combine,
        ignore_case: bool,
    },
    Regex {
        regex: Regex,
    },
    /// The last number in the answer is within `tolerance` of the value.
    Numeric {
        value: f64,
        tolerance: f64,
    },
    /// The answer's option letter (A–Z, as "(B)", "B)" or "answer is B").
    Choice {
        letter: char,
    },
    /// The answer holds valid JSON (whole, fenced, or the first object or
    /// array in it).
    Json,
    /// That JSON's field at `path` (dot-separated keys and indices) equals
    /// the value.
    JsonField {
        path: String,
        value: String,
    },
    /// At most this many tokens were generated (over all calls).
    MaxTokens {
        limit: usize,
    },
    /// The direct reply's perplexity under the model is below this.
    Perplexity {
        below: f64,
    },
    /// The answer's share of attention on the prompt text `span` (mean
    /// over layers, heads and answer tokens) is at least `above`.
    Attention {
        span: String,
        above: f64,
    },
}

/// Which text a check reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The extracted answer (the method's answer step, or the direct
    /// reply after the suite's `extract`).
    Answer,
    /// The whole last output.
    Output,
}

#[derive(Debug, Clone)]
pub struct Assertion {
    pub check: Check,
    pub negate: bool,
    pub weight: f64,
    pub target: Target,
}

/// What a trial produced, for the checks to judge.
pub struct Produced<'a> {
    pub answer: Option<&'a str>,
    pub output: &'a str,
    pub generated_tokens: usize,
    /// The direct reply's perplexity, when its log-probabilities were
    /// known.
    pub perplexity: Option<f64>,
    /// The measured attention share of a span, when measured.
    pub attention: &'a dyn Fn(&str) -> Option<f64>,
}

impl Check {
    pub fn name(&self) -> &'static str {
        match self {
            Check::Equals { .. } => "equals",
            Check::Contains {
                combine: Combine::Any,
                values,
                ..
            } if values.len() == 1 => "contains",
            Check::Contains {
                combine: Combine::Any,
                ..
            } => "contains-any",
            Check::Contains {
                combine: Combine::All,
                ..
            } => "contains-all",
            Check::Regex { .. } => "regex",
            Check::Numeric { .. } => "numeric",
            Check::Choice { .. } => "choice",
            Check::Json => "json",
            Check::JsonField { .. } => "json-field",
            Check::MaxTokens { .. } => "max-tokens",
            Check::Perplexity { .. } => "perplexity",
            Check::Attention { .. } => "attention",
        }
    }

    /// What it expects, one line.
    pub fn expected(&self) -> String {
        match self {
            Check::Equals { value, .. } => value.clone(),
            Check::Contains { values, .. } => values.join(" | "),
            Check::Regex { regex } => regex.as_str().to_string(),
            Check::Numeric { value, tolerance } => format!("{value} ± {tolerance}"),
            Check::Choice { letter } => format!("({letter})"),
            Check::Json => "valid JSON".into(),
            Check::JsonField { path, value } => format!("{path} = {value}"),
            Check::MaxTokens { limit } => format!("≤ {limit} tokens"),
            Check::Perplexity { below } => format!("perplexity < {below}"),
            Check::Attention { span, above } => format!("share on {span:?} ≥ {above}"),
        }
    }

    /// Whether `text` passes, and what was found.
    fn judge(&self, text: Option<&str>, produced: &Produced) -> (bool, String) {
        let fold = |s: &str, ignore: bool| {
            if ignore {
                s.to_lowercase()
            } else {
                s.to_string()
            }
        };
        match self {
            Check::MaxTokens { limit } => (
                produced.generated_tokens <= *limit,
                format!("{} tokens", produced.generated_tokens),
            ),
            Check::Perplexity { below } => match produced.perplexity {
                Some(ppl) => (ppl < *below, format!("perplexity {ppl:.3}")),
                None => (false, "no log-probabilities".into()),
            },
            Check::Attention { span, above } => match (produced.attention)(span) {
                Some(share) => (share >= *above, format!("share {share:.4}")),
                None => (false, "the span is not in the prompt".into()),
            },
            _ => {
                let Some(text) = text else {
                    return (false, "no answer".into());
                };
                match self {
                    Check::Equals { value, ignore_case } => (
                        fold(text.trim(), *ignore_case) == fold(value.trim(), *ignore_case),
                        format!("got {}", short(text.trim())),
                    ),
                    Check::Contains {
                        values,
                        combine,
                        ignore_case,
                    } => {
                        let hay = fold(text, *ignore_case);
                        let found: Vec<&String> = values
                            .iter()
                            .filter(|v| hay.contains(&fold(v, *ignore_case)))
                            .collect();
                        let passed = match combine {
                            Combine::Any => !found.is_empty(),
                            Combine::All => found.len() == values.len(),
                        };
                        (passed, format!("found {} of {}", found.len(), values.len()))
                    }
                    Check::Regex { regex } => match regex.find(text) {
                        Some(m) => (true, format!("matched {}", short(m.as_str()))),
                        None => (false, "no match".into()),
                    },
                    Check::Numeric { value, tolerance } => match last_number(text) {
                        Some(n) => ((n - value).abs() <= *tolerance, format!("got {n}")),
                        None => (false, "no number".into()),
                    },
                    Check::Choice { letter } => match choice_letter(text) {
                        Some(c) => (c == *letter, format!("got ({c})")),
                        None => (false, "no option letter".into()),
                    },
                    Check::Json => match find_json(text) {
                        Some(_) => (true, "valid JSON".into()),
                        None => (false, "no valid JSON".into()),
                    },
                    Check::JsonField { path, value } => match find_json(text) {
                        None => (false, "no valid JSON".into()),
                        Some(json) => match field(&json, path) {
                            None => (false, format!("no field {path}")),
                            Some(found) => {
                                let shown = match found {
                                    serde_json::Value::String(s) => s.clone(),
                                    other => other.to_string(),
                                };
                                let same = shown == *value
                                    || matches!(
                                        (shown.parse::<f64>(), value.parse::<f64>()),
                                        (Ok(a), Ok(b)) if a == b
                                    );
                                (same, format!("got {}", short(&shown)))
                            }
                        },
                    },
                    _ => (false, String::new()),
                }
            }
        }
    }
}

impl Assertion {
    /// This assertion's verdict on what a trial produced.
    pub fn judge(&self, produced: &Produced) -> AssertionResult {
        let text = match self.target {
            Target::Answer => produced.answer,
            Target::Output => Some(produced.output),
        };
        let (passed, detail) = self.check.judge(text, produced);
        let kind = self.check.name();
        AssertionResult {
            kind: if self.negate {
                format!("not-{kind}")
            } else {
                kind.to_string()
            },
            expected: self.check.expected(),
            weight: self.weight,
            passed: passed != self.negate,
            detail,
        }
    }
}

/// The weighted share of passed assertions (1 with none).
pub fn score(results: &[AssertionResult]) -> f64 {
    // Folded from +0.0: an empty float sum is -0.0.
    let total = results.iter().fold(0.0, |sum, r| sum + r.weight);
    if total <= 0.0 {
        return if results.iter().all(|r| r.passed) {
            1.0
        } else {
            0.0
        };
    }
    results
        .iter()
        .filter(|r| r.passed)
        .fold(0.0, |sum, r| sum + r.weight)
        / total
}

fn short(text: &str) -> String {
    let one: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", &one[..cut]),
        None => one,
    }
}

/// The last number written in `text` ("1,234", "-3.5", "$18" all count).
pub fn last_number(text: &str) -> Option<f64> {
    static NUMBER: std::sync::OnceLock<Option<Regex>> = std::sync::OnceLock::new();
    let re = NUMBER
        .get_or_init(|| Regex::new(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+").ok())
        .as_ref()?;
    re.find_iter(text)
        .filter_map(|m| m.as_str().replace(',', "").parse::<f64>().ok())
        .last()
}

/// The option letter an answer gives: "(B)", "answer is B", or a lone
/// letter at the start ("B", "B)", "B.").
pub fn choice_letter(text: &str) -> Option<char> {
    static PATTERNS: std::sync::OnceLock<Vec<Regex>> = std::sync::OnceLock::new();
    let patterns = PATTERNS.get_or_init(|| {
        [
            r"(?i)answer\s*(?:is|:)?\s*:?\s*\(?([A-Z])\)?(?:[\s.,)]|$)",
            r"\(([A-Z])\)",
            r"^\s*([A-Z])(?:[\s.):]|$)",
        ]
        .iter()
        .filter_map(|p| Regex::new(p).ok())
        .collect()
    });
    patterns.iter().find_map(|re| {
        re.captures_iter(text)
            .last()
            .and_then(|c| c.get(1))
            .and_then(|m| m.as_str().chars().next())
            .map(|c| c.to_ascii_uppercase())
    })
}

/// The letter of an expected choice written as "B", "(B)" or "b".
pub fn expected_letter(value: &str) -> Option<char> {
    let inner = value.trim().trim_start_matches('(').trim_end_matches(')');
    let mut chars = inner.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c.is_ascii_alphabetic() => Some(c.to_ascii_uppercase()),
        _ => None,
    }
}

/// The JSON in `text`: all of it, a fenced block, or the first object or
/// array that parses.
pub fn find_json(text: &str) -> Option<serde_json::Value> {
    let whole = text.trim();
    if let Ok(v) = serde_json::from_str(whole) {
        return Some(v);
    }
    if let Some(body) = whole.split("```").nth(1) {
        let body = body.trim_start_matches("json").trim();
        if let Ok(v) = serde_json::from_str(body) {
            return Some(v);
        }
    }
    for (start, c) in text.char_indices() {
        if c == '{' || c == '[' {
            let mut stream =
                serde_json::Deserializer::from_str(&text[start..]).into_iter::<serde_json::Value>();
            if let Some(Ok(v)) = stream.next() {
                return Some(v);
            }
        }
    }
    None
}

/// The value at a dot-separated `path` ("a.b.0.c").
fn field<'v>(json: &'v serde_json::Value, path: &str) -> Option<&'v serde_json::Value> {
    path.split('.')
        .filter(|p| !p.is_empty())
        .try_fold(json, |v, part| match v {
            serde_json::Value::Array(items) => {
                part.parse::<usize>().ok().and_then(|i| items.get(i))
            }
            other => other.get(part),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn produced(answer: &str, tokens: usize, perplexity: Option<f64>) -> Produced<'_> {
        Produced {
            answer: Some(answer),
            output: answer,
            generated_tokens: tokens,
            perplexity,
            attention: &|span| (span == "ctx").then_some(0.3),
        }
    }

    fn judge(check: Check, negate: bool, p: &Produced) -> bool {
        Assertion {
            check,
            negate,
            weight: 1.0,
            target: Target::Answer,
        }
        .judge(p)
        .passed
    }

    #[test]
    fn each_check_passes_and_fails_where_it_should() {
        let p = produced("So the answer is 1,234.", 10, None);
        assert!(judge(
            Check::Numeric {
                value: 1234.0,
                tolerance: 0.0
            },
            false,
            &p
        ));
        assert!(!judge(
            Check::Numeric {
                value: 1233.0,
                tolerance: 0.5
            },
            false,
            &p
        ));
        assert!(judge(
            Check::Numeric {
                value: 1233.0,
                tolerance: 0.5
            },
            true,
            &p
        ));
        let contains = |values: &[&str], combine| Check::Contains {
            values: values.iter().map(|s| s.to_string()).collect(),
            combine,
            ignore_case: true,
        };
        assert!(judge(
            contains(&["ANSWER", "nope"], Combine::Any),
            false,
            &p
        ));
        assert!(!judge(
            contains(&["answer", "nope"], Combine::All),
            false,
            &p
        ));
        assert!(judge(Check::MaxTokens { limit: 10 }, false, &p));
        assert!(!judge(Check::MaxTokens { limit: 9 }, false, &p));
        assert!(judge(
            Check::Equals {
                value: " so the answer is 1,234. ".into(),
                ignore_case: true
            },
            false,
            &p
        ));
        let choice = produced("Let me see (A) is wrong, so the answer is (C).", 1, None);
        assert!(judge(Check::Choice { letter: 'C' }, false, &choice));
        assert_eq!(choice_letter("B"), Some('B'));
        assert_eq!(choice_letter("no letter here"), None);
        assert_eq!(expected_letter("(d)"), Some('D'));
        let json = produced("Here: ```json\n{\"a\": {\"b\": [1, 2]}}\n```", 1, None);
        assert!(judge(Check::Json, false, &json));
        assert!(judge(
            Check::JsonField {
                path: "a.b.1".into(),
                value: "2".into()
            },
            false,
            &json
        ));
        assert!(!judge(
            Check::JsonField {
                path: "a.c".into(),
                value: "2".into()
            },
            false,
            &json
        ));
        assert!(!judge(Check::Json, false, &produced("{broken", 1, None)));
        let ppl = produced("x", 2, Some(1f64.exp()));
        assert!(judge(Check::Perplexity { below: 2.72 }, false, &ppl));
        assert!(!judge(Check::Perplexity { below: 2.71 }, false, &ppl));
        assert!(judge(
            Check::Attention {
                span: "ctx".into(),
                above: 0.25
            },
            false,
            &ppl
        ));
        assert!(!judge(
            Check::Attention {
                span: "other".into(),
                above: 0.0
            },
            false,
            &ppl
        ));
    }

    #[test]
    fn no_answer_fails_and_scores_are_weighted() {
        let p = Produced {
            answer: None,
            output: "",
            generated_tokens: 0,
            perplexity: None,
            attention: &|_| None,
        };
        let r = Assertion {
            check: Check::Numeric {
                value: 1.0,
                tolerance: 0.0,
            },
            negate: false,
            weight: 3.0,
            target: Target::Answer,
        }
        .judge(&p);
        assert!(!r.passed);
        assert_eq!(r.detail, "no answer");
        let ok = AssertionResult {
            passed: true,
            weight: 1.0,
            ..r.clone()
        };
        assert!((score(&[r.clone(), ok]) - 0.25).abs() < 1e-12);
        // Nothing passed: zero without a sign (it reaches the reports).
        let none = score(std::slice::from_ref(&r));
        assert!(none == 0.0 && none.is_sign_positive(), "{none}");
        assert_eq!(score(&[]), 1.0);
    }
}
