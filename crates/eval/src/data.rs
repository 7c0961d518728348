//! A suite's dataset: rows of named string fields read from a JSON-lines
//! file (one object per line), a CSV file with a header row (RFC 4180
//! quoting), or a BIG-Bench Hard task file (`{"examples": [...]}`). Each
//! row remembers where it was written, so an error names the file and
//! line (or example).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One row of a dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Where it is: `:LINE` of a JSON-lines or CSV file, or
    /// `: examples[i]` of a task file.
    pub place: String,
    pub fields: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{place}: {message}", path.display())]
pub struct DataError {
    pub path: PathBuf,
    pub place: String,
    pub message: String,
}

/// Most rows a dataset may have (a bound on memory whatever the file).
pub const MAX_ROWS: usize = 1_000_000;

/// Every row of the dataset at `path`, by its extension: `.jsonl`,
/// `.csv`, or `.json` (a task file).
pub fn load(path: &Path) -> Result<Vec<Row>, DataError> {
    let error = |place: String, message: String| DataError {
        path: path.to_path_buf(),
        place,
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        error(
            String::new(),
            format!("cannot read the dataset: {}", one_line(&e.to_string())),
        )
    })?;
    let rows = match path.extension().and_then(|e| e.to_str()) {
        Some("jsonl") => json_lines(&text).map_err(|(line, m)| error(format!(":{line}"), m))?,
        Some("csv") => csv(&text).map_err(|(line, m)| error(format!(":{line}"), m))?,
        Some("json") => task_file(&text).map_err(|(place, m)| error(place, m))?,
        _ => {
            return Err(error(
                String::new(),
                "expected a dataset ending in .jsonl, .csv or .json".into(),
            ))
        }
    };
    if rows.is_empty() {
        return Err(error(String::new(), "the dataset has no rows".into()));
    }
    Ok(rows)
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A JSON scalar as the text a template sees.
fn scalar(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        serde_json::Value::Null => Some(String::new()),
        // Lists and objects are kept as JSON text.
        other => Some(other.to_string()),
    }
}

fn object_fields(value: &serde_json::Value) -> Result<BTreeMap<String, String>, &'static str> {
    let object = value.as_object().ok_or("expected a JSON object")?;
    Ok(object
        .iter()
        .filter_map(|(k, v)| scalar(v).map(|s| (k.clone(), s)))
        .collect())
}

fn json_lines(text: &str) -> Result<Vec<Row>, (usize, String)> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| (i + 1, format!("not JSON: {}", one_line(&e.to_string()))))?;
        let fields = object_fields(&value).map_err(|m| (i + 1, m.to_string()))?;
        rows.push(Row {
            place: format!(":{}", i + 1),
            fields,
        });
        if rows.len() > MAX_ROWS {
            return Err((i + 1, format!("more than {MAX_ROWS} rows")));
        }
    }
    Ok(rows)
}

fn task_file(text: &str) -> Result<Vec<Row>, (String, String)> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        (
            String::new(),
            format!("not JSON: {}", one_line(&e.to_string())),
        )
    })?;
    let examples = value
        .get("examples")
        .and_then(|e| e.as_array())
        .ok_or((String::new(), "expected {\"examples\": [...]}".to_string()))?;
    examples
        .iter()
        .take(MAX_ROWS)
        .enumerate()
        .map(|(i, example)| {
            let place = format!(": examples[{i}]");
            let fields = object_fields(example).map_err(|m| (place.clone(), m.to_string()))?;
            Ok(Row { place, fields })
        })
        .collect()
}

/// CSV records with the line each starts on: fields separated by commas,
/// quoted with `"` (doubled inside) where they hold commas, quotes or
/// line breaks.
/// A CSV record: the line it starts on, and its fields.
type CsvRecord = (usize, Vec<String>);

fn csv_records(text: &str) -> Result<Vec<CsvRecord>, (usize, String)> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut line = 1;
    let mut start = 1;
    let mut chars = text.chars().peekable();
    let mut at_field_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push(c);
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if at_field_start => {
                quoted = true;
                at_field_start = false;
                continue;
            }
            '"' => return Err((line, "a quote inside an unquoted field".into())),
            ',' => {
                record.push(std::mem::take(&mut field));
                at_field_start = true;
                continue;
            }
            '\r' if chars.peek() == Some(&'\n') => continue,
            '\n' => {
                record.push(std::mem::take(&mut field));
                if !(record.len() == 1 && record[0].is_empty()) {
                    records.push((start, std::mem::take(&mut record)));
                } else {
                    record.clear();
                }
                line += 1;
                start = line;
                if records.len() > MAX_ROWS {
                    return Err((line, format!("more than {MAX_ROWS} rows")));
                }
                at_field_start = true;
                continue;
            }
            _ => field.push(c),
        }
        at_field_start = false;
    }
    if quoted {
        return Err((start, "a quoted field is not closed".into()));
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push((start, record));
    }
    Ok(records)
}

fn csv(text: &str) -> Result<Vec<Row>, (usize, String)> {
    let records = csv_records(text.strip_prefix('\u{feff}').unwrap_or(text))?;
    let Some(((_, header), rows)) = records.split_first() else {
        return Ok(Vec::new());
    };
    rows.iter()
        .map(|(line, values)| {
            if values.len() != header.len() {
                return Err((
                    *line,
                    format!(
                        "has {} fields; the header has {}",
                        values.len(),
                        header.len()
                    ),
                ));
            }
            Ok(Row {
                place: format!(":{line}"),
                fields: header.iter().cloned().zip(values.iter().cloned()).collect(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        (dir, path)
    }

    #[test]
    fn csv_with_quotes_and_line_breaks() {
        let (_d, path) = write(
            "d.csv",
            "question,answer\n\"a, b\",1\n\"say \"\"hi\"\"\nplease\",2\r\nlast,3",
        );
        let rows = load(&path).expect("loads");
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].fields["question"], "a, b");
        assert_eq!(rows[1].fields["question"], "say \"hi\"\nplease");
        assert_eq!(rows[1].place, ":3");
        assert_eq!(rows[2].place, ":5");
        assert_eq!(rows[2].fields["answer"], "3");
    }

    #[test]
    fn bad_rows_name_their_line() {
        let (_d, path) = write("d.csv", "q,a\n1,2\n3\n");
        let e = load(&path).expect_err("short row");
        assert!(
            e.to_string()
                .ends_with("d.csv:3: has 1 fields; the header has 2"),
            "{e}"
        );
        let (_d, path) = write("d.jsonl", "{\"q\": 1}\n\n[1]\n");
        let e = load(&path).expect_err("not an object");
        assert!(
            e.to_string().ends_with("d.jsonl:3: expected a JSON object"),
            "{e}"
        );
        let (_d, path) = write("d.txt", "x");
        assert!(load(&path).is_err());
    }

    #[test]
    fn json_lines_and_task_files() {
        let (_d, path) = write("d.jsonl", "{\"q\": \"x\", \"n\": 4}\n");
        let rows = load(&path).expect("loads");
        assert_eq!(rows[0].fields["n"], "4");
        let (_d, path) = write(
            "t.json",
            "{\"examples\": [{\"input\": \"i\", \"target\": \"t\"}]}",
        );
        let rows = load(&path).expect("loads");
        assert_eq!(rows[0].place, ": examples[0]");
        assert_eq!(rows[0].fields["target"], "t");
    }
}
