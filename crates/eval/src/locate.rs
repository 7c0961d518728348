//! Where a node of a YAML file is written: the line and column of the key
//! (or list entry) a path such as `prompts[1].template` names, found by
//! following the file's indentation. Errors found after parsing (an
//! unknown method, a missing template variable) point there.
//!
//! Block style is followed key by key; an entry of a flow list
//! (`methods: [a, b]`) is found on its line; anything else falls back to
//! the nearest enclosing node that was found.

use std::fmt;

/// One step of a path into the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A path, written as `a.b[2].c`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Path(pub Vec<Seg>);

impl Path {
    pub fn key(mut self, key: &str) -> Path {
        self.0.push(Seg::Key(key.to_string()));
        self
    }

    pub fn index(mut self, index: usize) -> Path {
        self.0.push(Seg::Index(index));
        self
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// One content line as seen inside a block: its number (from 0), the
/// column its content starts at (after any `- ` markers that open the
/// entries around it) and that content.
#[derive(Clone, Copy)]
struct Line<'t> {
    number: usize,
    column: usize,
    text: &'t str,
}

fn content_lines(text: &str) -> Vec<Line<'_>> {
    text.lines()
        .enumerate()
        .filter_map(|(number, raw)| {
            let trimmed = raw.trim_start_matches(' ');
            let column = raw.len() - trimmed.len();
            let blank = trimmed.trim().is_empty() || trimmed.starts_with('#');
            (!blank && trimmed != "---").then_some(Line {
                number,
                column,
                text: trimmed,
            })
        })
        .collect()
}

/// `line` with one leading `- ` marker taken off (its content starts two
/// or more columns further right).
fn after_dash(line: Line<'_>) -> Option<Line<'_>> {
    let rest = line.text.strip_prefix('-')?;
    if !(rest.is_empty() || rest.starts_with(' ')) {
        return None;
    }
    let trimmed = rest.trim_start_matches(' ');
    Some(Line {
        number: line.number,
        column: line.column + (line.text.len() - trimmed.len()),
        text: trimmed,
    })
}

/// Whether `line` is `key:` (bare or quoted).
fn is_key(line: &str, key: &str) -> bool {
    [key.to_string(), format!("\"{key}\""), format!("'{key}'")]
        .iter()
        .any(|k| {
            line.strip_prefix(k.as_str())
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
}

/// The lines of the block under `head` (deeper than `indent`), `head`
/// itself first when its content is the block's first entry.
fn block<'t>(lines: &[Line<'t>], from: usize, indent: usize) -> Vec<Line<'t>> {
    lines[from..]
        .iter()
        .take_while(|l| l.column > indent)
        .copied()
        .collect()
}

/// The position of `path` in `text`, or of its nearest enclosing node
/// that could be found (the start of the file at worst).
pub fn locate(text: &str, path: &Path) -> Position {
    let all = content_lines(text);
    let mut scope: Vec<Line<'_>> = all.clone();
    let mut found = Position { line: 1, column: 1 };
    for seg in &path.0 {
        let Some(indent) = scope.iter().map(|l| l.column).min() else {
            break;
        };
        match seg {
            Seg::Key(key) => {
                let Some(at) = scope
                    .iter()
                    .position(|l| l.column == indent && is_key(l.text, key))
                else {
                    break;
                };
                let head = scope[at];
                found = Position {
                    line: head.number + 1,
                    column: head.column + 1,
                };
                scope = block(&scope, at + 1, head.column);
                // A value on the key's own line is its content.
                let value = head.text.split_once(':').map_or("", |(_, v)| v.trim());
                if !value.is_empty() {
                    scope.insert(
                        0,
                        Line {
                            number: head.number,
                            column: head.column + head.text.len() - value.len(),
                            text: value,
                        },
                    );
                }
            }
            Seg::Index(n) => {
                if let Some(flow) = scope.first().filter(|l| l.text.starts_with('[')) {
                    if let Some(column) = flow_entry(flow.text, *n) {
                        found = Position {
                            line: flow.number + 1,
                            column: flow.column + column + 1,
                        };
                    }
                    break;
                }
                let entries: Vec<usize> = scope
                    .iter()
                    .enumerate()
                    .filter(|(_, l)| l.column == indent && after_dash(**l).is_some())
                    .map(|(i, _)| i)
                    .collect();
                let Some(&at) = entries.get(*n) else {
                    break;
                };
                let head = scope[at];
                found = Position {
                    line: head.number + 1,
                    column: head.column + 1,
                };
                let mut inner = block(&scope, at + 1, head.column);
                if let Some(first) = after_dash(head).filter(|l| !l.text.is_empty()) {
                    inner.insert(0, first);
                }
                scope = inner;
            }
        }
    }
    found
}

/// The byte offset of entry `n` in a one-line flow list `[a, b, c]`.
fn flow_entry(list: &str, n: usize) -> Option<usize> {
    let inner = list.strip_prefix('[')?;
    let mut offset = 1;
    for (i, part) in inner.split(',').enumerate() {
        let lead = part.len() - part.trim_start().len();
        if i == n {
            return Some(offset + lead);
        }
        offset += part.len() + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
name: demo
# a comment
prompts:
  - id: plain
    template: \"{{question}}\"
  - id: cot
    template: |
      {{question}}
      Think.
methods: [direct, zero-shot-cot, bogus]
data:
  file: items.jsonl
  fields:
    question: q
assert:
  -
    type: numeric
    value: 3
";

    fn at(path: Path) -> (usize, usize) {
        let p = locate(DOC, &path);
        (p.line, p.column)
    }

    #[test]
    fn keys_entries_and_flow_lists_are_found() {
        assert_eq!(at(Path::default().key("name")), (1, 1));
        assert_eq!(at(Path::default().key("prompts").index(1)), (6, 3));
        assert_eq!(
            at(Path::default().key("prompts").index(1).key("id")),
            (6, 5)
        );
        assert_eq!(
            at(Path::default().key("prompts").index(1).key("template")),
            (7, 5)
        );
        assert_eq!(at(Path::default().key("methods").index(2)), (10, 34));
        assert_eq!(
            at(Path::default().key("data").key("fields").key("question")),
            (14, 5)
        );
        assert_eq!(
            at(Path::default().key("assert").index(0).key("value")),
            (18, 5)
        );
    }

    #[test]
    fn a_missing_node_falls_back_to_its_parent() {
        assert_eq!(at(Path::default().key("prompts").index(7)), (3, 1));
        assert_eq!(at(Path::default().key("nothing")), (1, 1));
        assert_eq!(
            Path::default()
                .key("prompts")
                .index(1)
                .key("id")
                .to_string(),
            "prompts[1].id"
        );
    }
}
