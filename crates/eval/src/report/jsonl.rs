//! The JSONL report: every record as one JSON object per line, the
//! machine-readable contract scripts read back (`Record`'s fields).

use crate::record::Record;

/// One `serde_json` line per record, each ending in `\n`.
pub fn jsonl(records: &[Record]) -> String {
    let mut out = String::new();
    for record in records {
        // A Record is plain strings, numbers and string-keyed maps, which
        // serde_json always serializes.
        let line = serde_json::to_string(record).expect("a Record serializes to JSON");
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;

    #[test]
    fn one_line_per_record_that_parses_back() {
        let mut records = fixtures::records();
        records[0].output = "line one\nline two </script>".into();
        let text = jsonl(&records);
        assert!(text.ends_with('\n'));
        let back: Vec<Record> = text
            .lines()
            .map(|line| serde_json::from_str(line).expect("a record"))
            .collect();
        assert_eq!(back, records);
        assert_eq!(jsonl(&[]), "");
    }
}
