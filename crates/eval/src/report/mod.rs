//! The reports of a run, written from its records and summary: JSONL
//! ([`jsonl`]), CSV ([`csv`]), JUnit XML ([`junit`]) and a self-contained
//! HTML page ([`html`]). This module owns the run's header ([`RunInfo`]),
//! the format names ([`Format`]) and writing the chosen files into a
//! folder atomically ([`write_all`]).

mod csv;
mod html;
mod jsonl;
mod junit;

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::record::Record;
use crate::summary::Summary;

pub use self::csv::csv;
pub use self::html::html;
pub use self::jsonl::jsonl;
pub use self::junit::junit;

/// What the reports say about the run as a whole.
#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    /// The suite's name.
    pub suite: String,
    /// The suite file's path.
    pub file: String,
    pub model: String,
    pub backend: String,
    /// When the run started, RFC 3339 UTC.
    pub started: String,
    /// Wall time of the whole run.
    pub seconds: f64,
}

/// A report format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Jsonl,
    Csv,
    Junit,
    Html,
}

impl Format {
    /// Every format, in the order `write_all` writes them.
    pub const ALL: [Format; 4] = [Format::Jsonl, Format::Csv, Format::Junit, Format::Html];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
            Format::Junit => "junit",
            Format::Html => "html",
        }
    }

    /// The file it is written to.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Jsonl => "results.jsonl",
            Format::Csv => "results.csv",
            Format::Junit => "junit.xml",
            Format::Html => "report.html",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Format, String> {
        let wanted = s.trim();
        Format::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| {
                format!(
                    "unknown report format `{wanted}` (expected one of: jsonl, csv, junit, html)"
                )
            })
    }
}

/// Seconds as a person reads a time left or taken: `42s`, `3m07s`, `1h05m`.
pub fn duration(seconds: f64) -> String {
    let s = seconds.round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s / 60 % 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// Now as `YYYY-MM-DDTHH:MM:SSZ` (a report's start time).
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// Writes each chosen format into `dir` (created if missing) as
/// `results.jsonl`, `results.csv`, `junit.xml` and `report.html`, each
/// atomically: written to a temporary file in `dir`, synced, then renamed
/// over the old one. A format named twice is written once. Returns the
/// paths written, in `formats` order.
pub fn write_all(
    dir: &Path,
    formats: &[Format],
    info: &RunInfo,
    summary: &Summary,
    records: &[Record],
) -> io::Result<Vec<PathBuf>> {
    fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    let mut done: Vec<Format> = Vec::new();
    for &format in formats {
        if done.contains(&format) {
            continue;
        }
        done.push(format);
        let text = match format {
            Format::Jsonl => jsonl(records),
            Format::Csv => csv(records),
            Format::Junit => junit(info, records),
            Format::Html => html(info, summary, records),
        };
        let path = dir.join(format.file_name());
        write_atomic(&path, text.as_bytes())?;
        written.push(path);
    }
    // Make the renames durable too (directories cannot be opened on every
    // platform; the files themselves are already synced).
    if let Ok(handle) = File::open(dir) {
        let _ = handle.sync_all();
    }
    Ok(written)
}

/// Writes `bytes` to `path` through a temporary sibling, so a reader sees
/// the old file or the whole new one, never a part.
fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let temp = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
    let result = (|| {
        let mut file = File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// The arms of `records`, (variant, method), in the order they first
/// appear.
fn arms<'a>(records: impl IntoIterator<Item = &'a Record>) -> Vec<(&'a str, &'a str)> {
    let mut arms: Vec<(&str, &str)> = Vec::new();
    for record in records {
        if !arms.contains(&record.arm()) {
            arms.push(record.arm());
        }
    }
    arms
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Hand-built records and summaries for the report tests.

    use std::collections::BTreeMap;

    use super::RunInfo;
    use crate::record::{AssertionResult, CallTranscript, Record, Tokens};
    use crate::stats::Interval;
    use crate::summary::{ArmSummary, PairSummary, Summary};

    pub fn info() -> RunInfo {
        RunInfo {
            suite: "math & <logic>".into(),
            file: "suites/math.yaml".into(),
            model: "tiny-gpt".into(),
            backend: "local".into(),
            started: "2025-01-02T03:04:05Z".into(),
            seconds: 12.5,
        }
    }

    pub fn record(item: &str, variant: &str, method: &str, passed: bool) -> Record {
        let mut vars = BTreeMap::new();
        vars.insert("question".to_string(), format!("What is {item}?"));
        Record {
            item: item.into(),
            variant: variant.into(),
            method: method.into(),
            sample: 0,
            key: format!("key-{item}-{variant}-{method}"),
            vars,
            system: None,
            prompt: format!("Q: What is {item}?"),
            calls: vec![CallTranscript {
                step: "direct".into(),
                prompt: format!("Q: What is {item}?"),
                output: "A: 42".into(),
            }],
            output: "A: 42".into(),
            answer: Some("42".into()),
            passed,
            score: if passed { 1.0 } else { 0.0 },
            assertions: vec![AssertionResult {
                kind: "equals".into(),
                expected: "42".into(),
                weight: 1.0,
                passed,
                detail: if passed {
                    "got 42".into()
                } else {
                    "got 17".into()
                },
            }],
            tokens: Tokens {
                prompt: 10,
                generated: 3,
                reused: 2,
            },
            ms: 125.0,
            error: None,
        }
    }

    /// Two arms over three items: `a / direct` passes 1 and 2, `b / cot`
    /// passes 1 and errors on 3.
    pub fn records() -> Vec<Record> {
        let mut errored = record("3", "b", "cot", false);
        errored.error = Some("backend: connection refused".into());
        errored.assertions.clear();
        errored.answer = None;
        vec![
            record("1", "a", "direct", true),
            record("2", "a", "direct", true),
            record("3", "a", "direct", false),
            record("1", "b", "cot", true),
            record("2", "b", "cot", false),
            errored,
        ]
    }

    pub fn summary() -> Summary {
        let arm = |variant: &str, method: &str, passed: usize, errors: usize| ArmSummary {
            variant: variant.into(),
            method: method.into(),
            trials: 3,
            passed,
            errors,
            accuracy: passed as f64 / 3.0,
            wilson: Interval {
                low: 0.2,
                high: 0.9,
            },
            mean_score: passed as f64 / 3.0,
            mean_generated_tokens: 3.0,
            mean_prompt_tokens: 10.0,
            mean_ms: 125.0,
        };
        Summary {
            arms: vec![arm("a", "direct", 2, 0), arm("b", "cot", 1, 1)],
            pairs: vec![PairSummary {
                first: ("a".into(), "direct".into()),
                second: ("b".into(), "cot".into()),
                paired: 3,
                wins: 0,
                losses: 1,
                ties: 2,
                p_value: 0.012,
                score_difference: -0.333,
                difference_interval: Interval {
                    low: -1.0,
                    high: 0.0,
                },
            }],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_seconds_minutes_or_hours() {
        assert_eq!(duration(0.4), "0s");
        assert_eq!(duration(42.0), "42s");
        assert_eq!(duration(187.0), "3m07s");
        assert_eq!(duration(3900.0), "1h05m");
    }

    #[test]
    fn format_names_parse_and_unknown_lists_the_choices() {
        for format in Format::ALL {
            assert_eq!(format.name().parse::<Format>(), Ok(format));
        }
        assert_eq!("HTML".parse::<Format>(), Ok(Format::Html));
        let err = "xml".parse::<Format>().expect_err("xml is no format");
        for name in ["jsonl", "csv", "junit", "html"] {
            assert!(err.contains(name), "{err}");
        }
    }

    #[test]
    fn write_all_writes_every_file_and_no_temp_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("out");
        let records = fixtures::records();
        let summary = fixtures::summary();
        let info = fixtures::info();
        // Twice: the second write replaces the first.
        for _ in 0..2 {
            let paths = write_all(&out, &Format::ALL, &info, &summary, &records).expect("write");
            let names: Vec<String> = paths
                .iter()
                .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
                .collect();
            assert_eq!(
                names,
                ["results.jsonl", "results.csv", "junit.xml", "report.html"]
            );
        }
        let mut entries: Vec<String> = fs::read_dir(&out)
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        entries.sort();
        assert_eq!(
            entries,
            ["junit.xml", "report.html", "results.csv", "results.jsonl"]
        );
        let jsonl_text = fs::read_to_string(out.join("results.jsonl")).expect("read");
        assert_eq!(jsonl_text, jsonl(&records));
        let html_text = fs::read_to_string(out.join("report.html")).expect("read");
        assert_eq!(html_text, html(&info, &summary, &records));
    }

    #[test]
    fn write_all_writes_only_the_chosen_formats_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = write_all(
            dir.path(),
            &[Format::Csv, Format::Csv, Format::Junit],
            &fixtures::info(),
            &fixtures::summary(),
            &fixtures::records(),
        )
        .expect("write");
        assert_eq!(
            paths,
            [dir.path().join("results.csv"), dir.path().join("junit.xml")]
        );
        assert_eq!(fs::read_dir(dir.path()).expect("dir").count(), 2);
    }
}
