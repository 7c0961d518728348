//! How an answer is found in text: [`Pattern`], and the regular
//! expressions of a method file, compiled when it loads.

use serde::Deserialize;

/// How an answer is found in text: a name (`last_number`, …) or a
/// regular expression written with a tag, `pattern: !regex '…'`.
#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    /// The first capture group (or whole match) of a regular expression.
    Regex(Regex),
    LastNumber,
    /// The first number (Kojima et al.'s answer cleansing after their
    /// answer-extraction prompt).
    FirstNumber,
    /// A lone option letter A–E, as in "(B)" or "answer is C".
    OptionLetter,
    /// The body of the last fenced code block.
    CodeBlock,
    /// The first JSON object or array.
    Json,
    /// Non-empty lines, as a list.
    Lines,
}

impl Pattern {
    /// A regular-expression pattern, compiled now.
    pub(crate) fn regex(source: &str) -> Result<Pattern, BadRegex> {
        Regex::new(source).map(Pattern::Regex)
    }
}

/// [`Pattern`] as written.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum RawPattern {
    Regex(String),
    LastNumber,
    FirstNumber,
    OptionLetter,
    CodeBlock,
    Json,
    Lines,
}

impl RawPattern {
    pub(super) fn compile(self) -> Result<Pattern, BadRegex> {
        Ok(match self {
            RawPattern::Regex(source) => Pattern::regex(&source)?,
            RawPattern::LastNumber => Pattern::LastNumber,
            RawPattern::FirstNumber => Pattern::FirstNumber,
            RawPattern::OptionLetter => Pattern::OptionLetter,
            RawPattern::CodeBlock => Pattern::CodeBlock,
            RawPattern::Json => Pattern::Json,
            RawPattern::Lines => Pattern::Lines,
        })
    }
}

/// A regular expression from a method file, compiled once, when the file
/// loads. Two are equal when they are written the same.
#[derive(Debug, Clone)]
pub struct Regex(regex::Regex);

impl Regex {
    pub fn new(source: &str) -> Result<Regex, BadRegex> {
        regex::Regex::new(source).map(Regex).map_err(|e| BadRegex {
            pattern: source.to_string(),
            reason: one_line_reason(&e),
        })
    }

    /// The expression as written.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub(crate) fn is_match(&self, text: &str) -> bool {
        self.0.is_match(text)
    }

    pub(crate) fn compiled(&self) -> &regex::Regex {
        &self.0
    }
}

impl PartialEq for Regex {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

/// A regular expression that does not compile.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("`{pattern}` is not a valid regular expression: {reason}")]
pub struct BadRegex {
    /// The expression as written.
    pub pattern: String,
    /// What is wrong with it, on one line.
    pub reason: String,
}

/// The regex crate's message on one line: a syntax error's `error: …` line
/// (its other lines draw the expression and a caret).
fn one_line_reason(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .map(str::to_string)
        .unwrap_or_else(|| text.split_whitespace().collect::<Vec<_>>().join(" "))
}
