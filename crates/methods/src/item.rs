//! Loading one question (with its reference answer and context, if any)
//! from a dataset file: JSON lines with `question`/`answer` (GSM8K's
//! layout; `input`/`target` also work), or a BIG-Bench Hard task file
//! (`{"examples": [{"input", "target"}]}`).

use std::fmt;
use std::path::{Path, PathBuf};

/// One item to put to the methods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub question: String,
    pub context: Option<String>,
    /// GSM8K's answer is its worked solution: the reference is what follows
    /// its final `####`.
    pub reference: Option<String>,
}

/// `FILE` or `FILE:N` (N counts from 1: a line of a JSON-lines file, or an
/// example of a task file; the first when absent).
pub fn parse_spec(spec: &str) -> (PathBuf, usize) {
    match spec.rsplit_once(':') {
        Some((path, n)) if !path.is_empty() && n.parse::<usize>().is_ok() => {
            (PathBuf::from(path), n.parse().unwrap_or(1))
        }
        _ => (PathBuf::from(spec), 1),
    }
}

/// Why an item could not be loaded; each names the file (and the line or
/// example) and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ItemError {
    #[error("{}: items count from 1", path.display())]
    ZeroNumber { path: PathBuf },
    #[error("{}: {message}", path.display())]
    Read { path: PathBuf, message: String },
    #[error("{}: has {count} examples, not {number}", path.display())]
    NoSuchExample {
        path: PathBuf,
        count: usize,
        number: usize,
    },
    #[error("{}: has fewer than {number} items", path.display())]
    NoSuchLine { path: PathBuf, number: usize },
    #[error("{}:{line}: not a JSON object: {message}", path.display())]
    NotJson {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{}{at}: expected a string field `question` (or `input`)", path.display())]
    NoQuestion { path: PathBuf, at: Place },
}

/// Where in a dataset file an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// A line of a JSON-lines file (from 1).
    Line(usize),
    /// An example of a task file (from 0, as `examples[i]`).
    Example(usize),
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Line(line) => write!(f, ":{line}"),
            Place::Example(index) => write!(f, ": examples[{index}]"),
        }
    }
}

/// Item `number` (from 1) of the dataset file at `path`.
pub fn load(path: &Path, number: usize) -> Result<Item, ItemError> {
    let path_buf = || path.to_path_buf();
    let Some(index) = number.checked_sub(1) else {
        return Err(ItemError::ZeroNumber { path: path_buf() });
    };
    let text = std::fs::read_to_string(path).map_err(|e| ItemError::Read {
        path: path_buf(),
        message: e.to_string(),
    })?;
    let trimmed = text.trim_start();
    // A task file is one JSON object holding `examples`.
    if trimmed.starts_with('{') {
        if let Ok(whole) = serde_json::from_str::<serde_json::Value>(trimmed) {
            if let Some(examples) = whole.get("examples").and_then(|e| e.as_array()) {
                let example = examples
                    .get(index)
                    .ok_or_else(|| ItemError::NoSuchExample {
                        path: path_buf(),
                        count: examples.len(),
                        number,
                    })?;
                return item_from(example, path, Place::Example(index));
            }
        }
    }
    let (line_index, line) = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .nth(index)
        .ok_or_else(|| ItemError::NoSuchLine {
            path: path_buf(),
            number,
        })?;
    let value: serde_json::Value = serde_json::from_str(line).map_err(|e| ItemError::NotJson {
        path: path_buf(),
        line: line_index + 1,
        message: e.to_string(),
    })?;
    item_from(&value, path, Place::Line(line_index + 1))
}

fn item_from(value: &serde_json::Value, path: &Path, at: Place) -> Result<Item, ItemError> {
    let field = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| value.get(*n).and_then(|v| v.as_str()).map(str::to_string))
    };
    let question = field(&["question", "input"]).ok_or_else(|| ItemError::NoQuestion {
        path: path.to_path_buf(),
        at,
    })?;
    let reference =
        field(&["answer", "target", "reference"]).map(|a| match a.rsplit_once("####") {
            Some((_, last)) => last.trim().replace(',', ""),
            None => a.trim().to_string(),
        });
    Ok(Item {
        question,
        context: field(&["context", "passage"]),
        reference,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_may_name_an_item() {
        assert_eq!(
            parse_spec("data/test.jsonl:7"),
            ("data/test.jsonl".into(), 7)
        );
        assert_eq!(parse_spec("data/test.jsonl"), ("data/test.jsonl".into(), 1));
        assert_eq!(parse_spec("C:weird"), ("C:weird".into(), 1));
    }

    #[test]
    fn gsm8k_lines_and_bbh_examples_load() {
        let dir = tempfile::tempdir().unwrap();
        let lines = dir.path().join("test.jsonl");
        std::fs::write(
            &lines,
            "{\"question\": \"Q one?\", \"answer\": \"work\\n#### 1,250\"}\n\n{\"question\": \"Q two?\", \"answer\": \"#### 2\"}\nnot json\n",
        )
        .unwrap();
        let one = load(&lines, 1).unwrap();
        assert_eq!(one.question, "Q one?");
        assert_eq!(one.reference.as_deref(), Some("1250"));
        assert_eq!(
            load(&lines, 2).unwrap().question,
            "Q two?",
            "blank lines are skipped"
        );
        let err = load(&lines, 3).unwrap_err().to_string();
        assert!(err.contains("test.jsonl:4: not a JSON object:"), "{err}");
        assert!(load(&lines, 9)
            .unwrap_err()
            .to_string()
            .contains("fewer than 9 items"));
        assert!(load(&lines, 0)
            .unwrap_err()
            .to_string()
            .ends_with("test.jsonl: items count from 1"));

        let task = dir.path().join("task.json");
        std::fs::write(
            &task,
            r#"{"canary": "x", "examples": [{"input": "not True is", "target": "False"}, {"target": "True"}]}"#,
        )
        .unwrap();
        let first = load(&task, 1).unwrap();
        assert_eq!(
            (first.question.as_str(), first.reference.as_deref()),
            ("not True is", Some("False"))
        );
        let err = load(&task, 2).unwrap_err().to_string();
        assert!(
            err.contains("task.json: examples[1]: expected a string field `question`"),
            "{err}"
        );
        assert!(load(&task, 3)
            .unwrap_err()
            .to_string()
            .contains("has 2 examples, not 3"));
    }
}
