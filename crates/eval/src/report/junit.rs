//! The JUnit XML report, for CI dashboards: one `<testsuite>` per arm
//! (variant × method), one `<testcase>` per item and sample; a failed
//! record carries a `<failure>` listing its failed assertions, a record
//! that could not run an `<error>`. It keeps to the attributes and element
//! order of the Jenkins `junit-10.xsd` schema that most CI tools read.

use std::fmt::Write as _;

use super::{arms, RunInfo};
use crate::record::Record;

/// The records as a JUnit XML document.
pub fn junit(info: &RunInfo, records: &[Record]) -> String {
    let failures = records.iter().filter(|r| is_failure(r)).count();
    let errors = records.iter().filter(|r| r.error.is_some()).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{}\">",
        attr(&info.suite),
        records.len(),
        seconds(info.seconds),
    );
    for (variant, method) in arms(records) {
        let arm: Vec<&Record> = records
            .iter()
            .filter(|r| r.arm() == (variant, method))
            .collect();
        let sampled = arm.iter().any(|r| r.sample > 0);
        let classname = class_name(&format!("{}.{variant}.{method}", info.suite));
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"0\" time=\"{}\" timestamp=\"{}\">",
            attr(&format!("{variant} / {method}")),
            arm.len(),
            arm.iter().filter(|r| is_failure(r)).count(),
            arm.iter().filter(|r| r.error.is_some()).count(),
            seconds(arm.iter().map(|r| r.ms).sum::<f64>() / 1000.0),
            attr(&info.started),
        );
        for r in arm {
            let mut name = format!("item {}", r.item);
            if sampled {
                let _ = write!(name, " sample {}", r.sample);
            }
            let _ = writeln!(
                out,
                "    <testcase name=\"{}\" classname=\"{}\" time=\"{}\">",
                attr(&name),
                attr(&classname),
                seconds(r.ms / 1000.0),
            );
            if let Some(error) = &r.error {
                let message = error.lines().next().unwrap_or_default();
                let _ = writeln!(
                    out,
                    "      <error message=\"{}\" type=\"error\">{}</error>",
                    attr(message),
                    text(error)
                );
            } else if !r.passed {
                let (message, body) = failure(r);
                let _ = writeln!(
                    out,
                    "      <failure message=\"{}\" type=\"assertion\">{}</failure>",
                    attr(&message),
                    text(&body)
                );
            }
            if let Some(answer) = &r.answer {
                let _ = writeln!(out, "      <system-out>{}</system-out>", text(answer));
            }
            out.push_str("    </testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// Failed without an error (an error is reported as one instead).
fn is_failure(r: &Record) -> bool {
    !r.passed && r.error.is_none()
}

/// The failure's one-line message and its body: each failed assertion's
/// kind, expected value and detail.
fn failure(r: &Record) -> (String, String) {
    let failed: Vec<_> = r.assertions.iter().filter(|a| !a.passed).collect();
    if failed.is_empty() {
        let why = if r.answer.is_none() {
            "no answer"
        } else {
            "did not pass"
        };
        return (why.to_string(), format!("{why} (no assertion failed)"));
    }
    let kinds: Vec<&str> = failed.iter().map(|a| a.kind.as_str()).collect();
    let message = format!(
        "{} of {} assertions failed: {}",
        failed.len(),
        r.assertions.len(),
        kinds.join(", ")
    );
    let body: Vec<String> = failed
        .iter()
        .map(|a| format!("{}: expected {} — {}", a.kind, a.expected, a.detail))
        .collect();
    (message, body.join("\n"))
}

/// Seconds as the schema's time (digits, a point, digits; never negative).
fn seconds(s: f64) -> String {
    if s.is_finite() && s > 0.0 {
        format!("{s:.3}")
    } else {
        "0.000".to_string()
    }
}

/// A JUnit class name: characters outside `[A-Za-z0-9_.-]` become `_`.
fn class_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Whether XML 1.0 allows `c` at all.
fn legal(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
}

/// Escaped element text, illegal characters dropped.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().filter(|&c| legal(c)) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    out
}

/// An escaped attribute value (quotes and white space kept as character
/// references, so attribute normalization does not fold them).
fn attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().filter(|&c| legal(c)) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;

    /// The value of `name="…"` in the first line starting with `<tag `.
    fn attribute(xml: &str, tag: &str, name: &str) -> String {
        let line = xml
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with(&format!("<{tag} ")))
            .expect("the tag");
        let start = line.find(&format!(" {name}=\"")).expect("the attribute") + name.len() + 3;
        let len = line[start..].find('"').expect("closing quote");
        line[start..start + len].to_string()
    }

    #[test]
    fn counts_match_the_records() {
        let xml = junit(&fixtures::info(), &fixtures::records());
        assert_eq!(attribute(&xml, "testsuites", "tests"), "6");
        assert_eq!(attribute(&xml, "testsuites", "failures"), "2");
        assert_eq!(attribute(&xml, "testsuites", "errors"), "1");
        assert_eq!(attribute(&xml, "testsuites", "time"), "12.500");
        assert_eq!(xml.matches("<testsuite ").count(), 2);
        assert_eq!(xml.matches("<testcase ").count(), 6);
        assert_eq!(xml.matches("<failure ").count(), 2);
        assert_eq!(xml.matches("<error ").count(), 1);
        assert_eq!(attribute(&xml, "testsuite", "name"), "a / direct");
        assert_eq!(attribute(&xml, "testsuite", "tests"), "3");
        assert_eq!(attribute(&xml, "testsuite", "failures"), "1");
        assert_eq!(attribute(&xml, "testsuite", "errors"), "0");
        assert_eq!(attribute(&xml, "testsuite", "time"), "0.375");
        assert_eq!(attribute(&xml, "testcase", "name"), "item 1");
        assert_eq!(attribute(&xml, "testcase", "time"), "0.125");
        assert_eq!(
            attribute(&xml, "testcase", "classname"),
            "math____logic_.a.direct"
        );
        assert!(xml.contains("<failure message=\"1 of 1 assertions failed: equals\" type=\"assertion\">equals: expected 42 — got 17</failure>"));
        assert!(xml.contains("<error message=\"backend: connection refused\" type=\"error\">"));
        assert!(xml.contains("<system-out>42</system-out>"));
        // Element order inside a testcase: failure/error before system-out.
        let case = &xml[xml.find("item 3").expect("item 3")..];
        assert!(case.find("<failure").expect("failure") < case.find("<system-out>").expect("out"));
    }

    #[test]
    fn samples_name_the_sample() {
        let mut records = fixtures::records();
        records[1].item = "1".into();
        records[1].sample = 1;
        let xml = junit(&fixtures::info(), &records);
        assert!(xml.contains("name=\"item 1 sample 0\""));
        assert!(xml.contains("name=\"item 1 sample 1\""));
        // The other arm has no samples, so no suffix there.
        assert!(xml.contains("name=\"item 2\""));
    }

    #[test]
    fn escapes_markup_and_strips_illegal_characters() {
        let mut records = fixtures::records();
        records[0].item = "<a & \"b\" 'c'>".into();
        records[0].answer = Some("x < y && z > \"w\" \u{0}\u{1b}[0m\u{7}\u{FFFF}ok\ttab".into());
        records[2].assertions[0].detail = "got </failure><x>\u{8}".into();
        records[5].error = Some("bad\u{0}\nsecond line <b>".into());
        let xml = junit(&fixtures::info(), &records);
        assert!(xml.contains("name=\"item &lt;a &amp; &quot;b&quot; &apos;c&apos;&gt;\""));
        assert!(
            xml.contains("<system-out>x &lt; y &amp;&amp; z &gt; \"w\" [0mok\ttab</system-out>")
        );
        assert!(xml.contains("equals: expected 42 — got &lt;/failure&gt;&lt;x&gt;</failure>"));
        assert!(xml
            .contains("<error message=\"bad\" type=\"error\">bad\nsecond line &lt;b&gt;</error>"));
        assert!(xml.contains("<testsuites name=\"math &amp; &lt;logic&gt;\""));
        assert!(
            !xml.chars().any(|c| !legal(c)),
            "no character XML 1.0 forbids"
        );
        assert_eq!(attr("a\nb\tc\rd"), "a&#10;b&#9;c&#13;d");
    }

    #[test]
    fn empty_run_is_a_valid_document() {
        let xml = junit(&fixtures::info(), &[]);
        assert!(xml.contains("tests=\"0\" failures=\"0\" errors=\"0\""));
        assert!(xml.trim_end().ends_with("</testsuites>"));
    }

    #[test]
    fn validates_against_the_junit_schema_when_xmllint_and_the_xsd_are_here() {
        // The XSD is fetched for CI; skip quietly where it or xmllint is
        // missing.
        let xsd = std::path::Path::new("/root/.cache/promptlab/junit/junit-10.xsd");
        let lint = std::process::Command::new("xmllint")
            .arg("--version")
            .output();
        if !xsd.exists() || lint.is_err() {
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let mut records = fixtures::records();
        records[0].answer = Some("<&>\u{1}".into());
        records[1].sample = 2;
        let file = dir.path().join("junit.xml");
        std::fs::write(&file, junit(&fixtures::info(), &records)).expect("write");
        let out = std::process::Command::new("xmllint")
            .arg("--noout")
            .arg("--schema")
            .arg(xsd)
            .arg(&file)
            .output()
            .expect("xmllint runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
