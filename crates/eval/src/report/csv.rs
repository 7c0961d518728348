//! The CSV report: one RFC 4180 row per record (CRLF line ends; a field
//! with a comma, quote, CR or LF is quoted and its quotes doubled), for
//! spreadsheets and pandas.

use crate::record::Record;

const HEADER: [&str; 14] = [
    "item",
    "variant",
    "method",
    "sample",
    "passed",
    "score",
    "answer",
    "output",
    "prompt_tokens",
    "generated_tokens",
    "reused_tokens",
    "ms",
    "error",
    "failed_assertions",
];

/// A header line, then one row per record.
pub fn csv(records: &[Record]) -> String {
    let mut out = String::new();
    push_row(&mut out, HEADER.iter().map(|h| h.to_string()));
    for r in records {
        let failed: Vec<&str> = r
            .assertions
            .iter()
            .filter(|a| !a.passed)
            .map(|a| a.kind.as_str())
            .collect();
        push_row(
            &mut out,
            [
                r.item.clone(),
                r.variant.clone(),
                r.method.clone(),
                r.sample.to_string(),
                r.passed.to_string(),
                r.score.to_string(),
                r.answer.clone().unwrap_or_default(),
                r.output.clone(),
                r.tokens.prompt.to_string(),
                r.tokens.generated.to_string(),
                r.tokens.reused.to_string(),
                r.ms.to_string(),
                r.error.clone().unwrap_or_default(),
                failed.join(";"),
            ],
        );
    }
    out
}

fn push_row(out: &mut String, fields: impl IntoIterator<Item = String>) {
    for (i, field) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if field.contains([',', '"', '\r', '\n']) {
            out.push('"');
            out.push_str(&field.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&field);
        }
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;

    /// A strict RFC 4180 reader: rows of fields.
    fn parse(text: &str) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        let mut row = Vec::new();
        let mut field = String::new();
        let mut chars = text.chars().peekable();
        let mut quoted = false;
        while let Some(c) = chars.next() {
            if quoted {
                match c {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    '"' => quoted = false,
                    _ => field.push(c),
                }
                continue;
            }
            match c {
                '"' => {
                    assert!(field.is_empty(), "a quote inside an unquoted field");
                    quoted = true;
                }
                ',' => row.push(std::mem::take(&mut field)),
                '\r' => {
                    assert_eq!(chars.next(), Some('\n'), "a bare CR outside quotes");
                    row.push(std::mem::take(&mut field));
                    rows.push(std::mem::take(&mut row));
                }
                '\n' => panic!("a bare LF outside quotes"),
                _ => field.push(c),
            }
        }
        assert!(
            !quoted && field.is_empty() && row.is_empty(),
            "unterminated row"
        );
        rows
    }

    #[test]
    fn header_and_plain_rows() {
        let text = csv(&fixtures::records());
        let mut lines = text.split("\r\n");
        assert_eq!(
            lines.next(),
            Some(
                "item,variant,method,sample,passed,score,answer,output,prompt_tokens,\
                 generated_tokens,reused_tokens,ms,error,failed_assertions"
            )
        );
        assert_eq!(
            lines.next(),
            Some("1,a,direct,0,true,1,42,A: 42,10,3,2,125,,")
        );
        assert_eq!(
            lines.next(),
            Some("2,a,direct,0,true,1,42,A: 42,10,3,2,125,,")
        );
        assert_eq!(
            lines.next(),
            Some("3,a,direct,0,false,0,42,A: 42,10,3,2,125,,equals")
        );
        assert_eq!(csv(&[]).lines().count(), 1);
    }

    #[test]
    fn quoting_round_trips() {
        let mut records = fixtures::records();
        let tricky = "say \"hi\", then\nnew line\r\nand \"\" done,";
        records[0].output = tricky.into();
        records[0].answer = Some("a,b".into());
        records[1].item = "\"quoted\"".into();
        records[2].error = Some("line1\rline2".into());
        let copy = records[2].assertions[0].clone();
        records[2].assertions.push(copy);
        records[2].assertions[1].kind = "not-contains".into();
        let rows = parse(&csv(&records));
        assert_eq!(rows.len(), records.len() + 1);
        assert!(rows.iter().all(|row| row.len() == HEADER.len()));
        assert_eq!(rows[1][7], tricky);
        assert_eq!(rows[1][6], "a,b");
        assert_eq!(rows[2][0], "\"quoted\"");
        assert_eq!(rows[3][12], "line1\rline2");
        assert_eq!(rows[3][13], "equals;not-contains");
        assert_eq!(rows[6][12], "backend: connection refused");
        assert_eq!(rows[6][6], "", "no answer is an empty field");
    }
}
