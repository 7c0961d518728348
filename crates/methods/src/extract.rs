//! Finding the answer in a model's text, comparing it with a reference,
//! and voting over answers. A pattern that does not match gives no answer
//! — never a guess. Extraction cannot fail: a file's regular expressions
//! are compiled when it loads, the fixed ones here once per process.

use std::sync::LazyLock;

use regex::Regex;

use super::spec::Pattern;

/// A fixed regular expression, compiled on first use.
macro_rules! fixed_regex {
    ($name:ident, $source:expr) => {
        static $name: LazyLock<Regex> =
            LazyLock::new(|| Regex::new($source).expect("a fixed regular expression compiles"));
    };
}

fixed_regex!(NUMBER, r"-?\d[\d,]*(?:\.\d+)?");
fixed_regex!(ANSWER_IS_LETTER, r"(?i)answer(?: is|:)\s*\(?([A-E])\)?\b");
fixed_regex!(LETTER_IN_PARENS, r"\(([A-E])\)");
fixed_regex!(LETTER_ALONE, r"(?m)^\s*([A-E])[.):]?\s*$");
fixed_regex!(CODE_BLOCK, r"(?s)```[A-Za-z0-9_+-]*\n(.*?)```");
fixed_regex!(SENTENCE_END, r"[.!?](?:\s|$)");

/// The answer `pattern` finds in `text`, if any.
pub fn find_answer(text: &str, pattern: &Pattern) -> Option<String> {
    match pattern {
        Pattern::Regex(re) => {
            // An empty match is no answer.
            re.compiled()
                .captures(text)
                .and_then(|c| c.get(1).or_else(|| c.get(0)))
                .map(|m| m.as_str().trim().to_string())
                .filter(|m| !m.is_empty())
        }
        Pattern::LastNumber => number(NUMBER.find_iter(text).last()),
        Pattern::FirstNumber => number(NUMBER.find(text)),
        Pattern::OptionLetter => option_letter(text),
        Pattern::CodeBlock => code_block(text),
        Pattern::Json => json_value(text),
        Pattern::Lines => {
            let lines: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            (!lines.is_empty()).then(|| lines.join("\n"))
        }
    }
}

/// The last number in the text, without thousands separators or a
/// trailing period ("$1,234.50." → "1234.50", "7.0" → "7").
/// A number as an answer: thousands separators dropped, a zero fraction
/// too ("7.0" is "7").
fn number(found: Option<regex::Match<'_>>) -> Option<String> {
    let raw = found?.as_str().replace(',', "");
    Some(match raw.split_once('.') {
        Some((int, frac)) if frac.chars().all(|c| c == '0') => int.to_string(),
        _ => raw,
    })
}

/// An option letter A–E: "(C)", "answer is B", or a line that is just "D".
fn option_letter(text: &str) -> Option<String> {
    [&ANSWER_IS_LETTER, &LETTER_IN_PARENS, &LETTER_ALONE]
        .into_iter()
        .find_map(|re| {
            re.captures_iter(text)
                .last()
                .and_then(|c| c.get(1))
                .map(|m| m.as_str().to_uppercase())
        })
}

/// The body of the last fenced code block.
fn code_block(text: &str) -> Option<String> {
    CODE_BLOCK
        .captures_iter(text)
        .last()
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().trim_end().to_string())
}

/// The first JSON object or array that parses, re-serialised compactly.
fn json_value(text: &str) -> Option<String> {
    for (start, c) in text.char_indices() {
        if c != '{' && c != '[' {
            continue;
        }
        // `start` is a char boundary: the slice is always there.
        let Some(rest) = text.get(start..) else {
            continue;
        };
        let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<serde_json::Value>();
        if let Some(Ok(value)) = stream.next() {
            return Some(value.to_string());
        }
    }
    None
}

/// A majority vote: the winner (None when nothing to vote on or a tie at
/// the top), the tally, most votes first, and whether the top was tied.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Vote {
    pub winner: Option<String>,
    pub tally: Vec<(String, usize)>,
    pub tie: bool,
    /// Candidates that gave no answer.
    pub abstained: usize,
    /// The candidates allowed to vote (by index), when a filter chose them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept: Option<Vec<usize>>,
}

pub fn vote(answers: &[Option<String>]) -> Vote {
    let mut tally: Vec<(String, usize)> = Vec::new();
    for answer in answers.iter().flatten() {
        match tally.iter_mut().find(|(a, _)| a == answer) {
            Some((_, n)) => *n += 1,
            None => tally.push((answer.clone(), 1)),
        }
    }
    // Stable: equal counts keep first-seen order.
    tally.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    let tie = matches!(tally.as_slice(), [(_, first), (_, second), ..] if first == second);
    Vote {
        winner: if tie {
            None
        } else {
            tally.first().map(|(a, _)| a.clone())
        },
        abstained: answers.iter().filter(|a| a.is_none()).count(),
        tie,
        tally,
        kept: None,
    }
}

/// Reasoning steps in a chain: its non-empty lines, or its sentences when
/// it is written as one paragraph.
pub(crate) fn reasoning_steps(chain: &str) -> usize {
    let lines = chain.lines().filter(|l| !l.trim().is_empty()).count();
    if lines > 1 {
        return lines;
    }
    SENTENCE_END.find_iter(chain.trim()).count().max(lines)
}

/// Indices of the `keep` chains with the most reasoning steps (earlier
/// first among equals), in their original order.
pub(crate) fn most_steps(chains: &[String], keep: usize) -> Vec<usize> {
    let mut order: Vec<(usize, usize)> = chains
        .iter()
        .map(|c| reasoning_steps(c))
        .enumerate()
        .collect();
    order.sort_by_key(|&(_, steps)| std::cmp::Reverse(steps));
    let mut order: Vec<usize> = order.into_iter().map(|(i, _)| i).collect();
    order.truncate(keep);
    order.sort_unstable();
    order
}

/// Right or wrong against the reference: numbers compare as numbers,
/// text case-insensitively; no answer is wrong.
pub fn matches_reference(answer: Option<&str>, reference: &str) -> bool {
    let Some(answer) = answer else { return false };
    let number = |s: &str| {
        s.trim()
            .trim_start_matches('$')
            .replace(',', "")
            .parse::<f64>()
            .ok()
    };
    match (number(answer), number(reference)) {
        (Some(a), Some(b)) => (a - b).abs() < 1e-9,
        _ => answer
            .trim()
            .trim_end_matches('.')
            .eq_ignore_ascii_case(reference.trim()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(text: &str, p: Pattern) -> Option<String> {
        find_answer(text, &p)
    }

    #[test]
    fn numbers() {
        assert_eq!(
            ex("so 3 + 4 = 7.0.", Pattern::LastNumber).as_deref(),
            Some("7")
        );
        assert_eq!(
            ex("She pays $1,234.50 in total.", Pattern::LastNumber).as_deref(),
            Some("1234.50")
        );
        assert_eq!(
            ex("-12 degrees", Pattern::LastNumber).as_deref(),
            Some("-12")
        );
        assert_eq!(ex("no digits here", Pattern::LastNumber), None);
        assert_eq!(
            ex(" 12 apples, then 3 more.", Pattern::FirstNumber).as_deref(),
            Some("12")
        );
        assert_eq!(
            ex("1,500.00 or 7", Pattern::FirstNumber).as_deref(),
            Some("1500")
        );
        assert_eq!(ex("none", Pattern::FirstNumber), None);
    }

    #[test]
    fn option_letters() {
        assert_eq!(
            ex("I think the answer is (B).", Pattern::OptionLetter).as_deref(),
            Some("B")
        );
        assert_eq!(
            ex("Options (A) and (C)... so (C)", Pattern::OptionLetter).as_deref(),
            Some("C")
        );
        assert_eq!(ex("Answer: d", Pattern::OptionLetter).as_deref(), Some("D"));
        assert_eq!(ex("A cat sat.", Pattern::OptionLetter), None);
    }

    #[test]
    fn regex_code_json_lines() {
        let p = Pattern::regex(r"answer is (\w+)").unwrap();
        assert_eq!(
            ex("the answer is Paris.", p.clone()).as_deref(),
            Some("Paris")
        );
        assert_eq!(ex("no match", p), None);
        let code = "text\n```python\nprint(1)\n```\nmore\n```\nprint(2)\n```";
        assert_eq!(ex(code, Pattern::CodeBlock).as_deref(), Some("print(2)"));
        let answer_is = Pattern::regex(r"(?i)answer is\W*(.*?)\.?(?:\n|$)").unwrap();
        assert_eq!(
            ex("The answer is 2.\nThe answer is 2.", answer_is.clone()).as_deref(),
            Some("2")
        );
        assert_eq!(
            ex("So the answer is 2.5.", answer_is.clone()).as_deref(),
            Some("2.5")
        );
        assert_eq!(
            ex("The answer is", answer_is),
            None,
            "an empty match is no answer"
        );
        assert_eq!(
            ex("Result: {\"a\": [1, 2]} ok", Pattern::Json).as_deref(),
            Some("{\"a\":[1,2]}")
        );
        assert_eq!(ex("{ not json", Pattern::Json), None);
        assert_eq!(ex("\n a \n\n b\n", Pattern::Lines).as_deref(), Some("a\nb"));
        let bad = Pattern::regex("(").unwrap_err();
        assert_eq!(
            bad.to_string(),
            "`(` is not a valid regular expression: unclosed group"
        );
        assert_eq!(find_answer("no digits", &Pattern::LastNumber), None);
    }

    #[test]
    fn the_chains_with_most_steps_are_kept() {
        assert_eq!(reasoning_steps("a\n\nb\nc"), 3);
        assert_eq!(reasoning_steps("One. Two! Three? 4 is 4.0 so"), 3);
        assert_eq!(reasoning_steps("no end"), 1);
        assert_eq!(reasoning_steps(""), 0);
    }

    #[test]
    fn complex_cots_exemplars_each_have_seven_reasoning_steps() {
        // Fu et al. pick the exemplars with the most steps; ours have seven
        // sentences of reasoning each, and a last one with the answer.
        let file = include_str!("../../../surveys/methods/complex-cot.yaml");
        let answers: Vec<&str> = file
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix("A: "))
            .collect();
        assert_eq!(answers.len(), 3);
        for a in answers {
            assert_eq!(reasoning_steps(a), 8, "{a}");
        }
        let chains: Vec<String> = ["a. b.", "a.", "a. b. c.", "x. y."]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            most_steps(&chains, 2),
            vec![0, 2],
            "ties go to the earlier chain"
        );
        assert_eq!(most_steps(&chains, 9), vec![0, 1, 2, 3]);
    }

    #[test]
    fn votes_report_ties_and_abstentions() {
        let s = |v: &str| Some(v.to_string());
        let v = vote(&[s("7"), s("8"), s("7"), None]);
        assert_eq!(v.winner.as_deref(), Some("7"));
        assert_eq!(v.tally, vec![("7".into(), 2), ("8".into(), 1)]);
        assert_eq!(v.abstained, 1);
        let v = vote(&[s("7"), s("8")]);
        assert!(v.tie && v.winner.is_none());
        let v = vote(&[None, None]);
        assert!(v.winner.is_none() && !v.tie && v.abstained == 2);
    }
}
