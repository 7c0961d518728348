//! `promptlab eval` end to end, with the real binary: a suite's mistakes
//! refused before anything runs (file, line, column; exit 2); a suite run
//! on the default model writing every report (JUnit checked against the
//! JUnit schema, the HTML opened in headless Chromium); a run killed with
//! SIGKILL resuming to the same results without redoing finished trials;
//! and `--compare` between two stored runs.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{chromium_dom, default_model_path, one_line_error, repo_path};

fn eval(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_promptlab"))
        .arg("eval")
        .args(args)
        .env("PROMPTLAB_LOG", "error")
        .output()
        .expect("runs")
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

/// The one error line of a refused suite, checked to exit with 2.
fn refused(suite: &Path) -> String {
    let out = eval(&[
        suite.to_str().expect("utf-8 path"),
        "--model",
        "/nonexistent.gguf",
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    one_line_error(&out)
}

#[test]
fn mistakes_in_a_suite_name_the_file_line_and_column() {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    write(
        d,
        "items.jsonl",
        "{\"q\": \"What is 2+2?\", \"a\": \"4\"}\n{\"q\": \"3+3?\"}\n",
    );
    let cases = [
        (
            "typo.yaml",
            "prompt: \"{{question}}\"\ncases:\n  - vars: {question: hi}\nasert:\n  - type: equals\n",
            ":4:1: unknown field `asert`, expected one of",
        ),
        (
            "method.yaml",
            "prompt: \"{{question}}\"\nmethods: [direct, zero-shot-cott]\ncases:\n  - vars: {question: hi}\n",
            ":2:19: methods[1]: unknown method `zero-shot-cott` (known: ",
        ),
        (
            "field.yaml",
            "prompt: \"{{question}}\"\ndata:\n  file: items.jsonl\n  fields:\n    question: q\n    answer: a\n",
            ":6:5: data.fields.answer: ",
        ),
        (
            "variable.yaml",
            "prompts:\n  - id: one\n    template: \"{{question}} {{hint}}\"\ncases:\n  - vars: {question: hi}\n",
            ":3:5: prompts[0].template: uses {{hint}}, which cases[0] does not have (it has: question)",
        ),
        (
            "assertion.yaml",
            "prompt: \"{{question}}\"\ncases:\n  - vars: {question: hi}\nassert:\n  - type: equal\n    value: x\n",
            ":5:5: assert[0].type: unknown assertion type \"equal\" (known: equals, ",
        ),
        (
            "number.yaml",
            "prompt: \"{{question}}\"\ncases:\n  - vars: {question: hi, answer: four}\nassert:\n  - type: numeric\n    value: \"{{answer}}\"\n",
            ":6:5: assert[0].value: expected a number, got \"four\"",
        ),
    ];
    for (name, text, expected) in cases {
        let suite = write(d, name, text);
        let line = refused(&suite);
        assert!(
            line.contains(&format!("{name}{expected}")),
            "{name}: expected {expected:?} in: {line}"
        );
    }
    // The missing field names the dataset's line too.
    let line = refused(&d.join("field.yaml"));
    assert!(
        line.contains("items.jsonl:2 has no field \"a\" (it has: q)"),
        "{line}"
    );
}

const SUITE: &str = r#"
name: tiny
system: Answer with one number.
prompts:
  - id: bare
    template: "{{question}}"
  - id: steps
    template: "{{question}} Think step by step."
methods: [direct, zero-shot-cot]
sampling: {temperature: 0, max_tokens: 24, seed: 0}
extract: last_number
cases:
  - id: add
    vars: {question: "What is 2 + 2?", answer: "4"}
  - id: mul
    vars: {question: "What is 3 times 5?", answer: "15"}
  - id: sub
    vars: {question: "What is 10 minus 7?", answer: "3"}
assert:
  - type: numeric
    value: "{{answer}}"
  - type: max-tokens
    value: 400
    weight: 0.5
  - type: not-contains
    value: "I cannot"
"#;

/// Records of a results.jsonl with what varies between runs taken out:
/// the time, and the prompt tokens the prefix cache held (which depends on
/// the calls made before in the same process).
fn stable_records(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .expect("results.jsonl")
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
            let record = v.as_object_mut().expect("object");
            record.remove("ms");
            if let Some(tokens) = record.get_mut("tokens").and_then(|t| t.as_object_mut()) {
                tokens.remove("reused");
            }
            v
        })
        .collect()
}

#[test]
fn a_suite_runs_on_the_default_model_and_writes_every_report() {
    let dir = tempfile::tempdir().expect("dir");
    let suite = write(dir.path(), "tiny.yaml", SUITE);
    let out_dir = dir.path().join("run");
    let model = default_model_path();
    let out = eval(&[
        suite.to_str().expect("path"),
        "--model",
        model.to_str().expect("path"),
        "--out",
        out_dir.to_str().expect("path"),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "exit {:?}: {stderr}",
        out.status
    );
    let records = stable_records(&out_dir.join("results.jsonl"));
    // 3 cases × 2 variants × 2 methods.
    assert_eq!(records.len(), 12, "{stderr}");
    for r in &records {
        for field in [
            "item",
            "variant",
            "method",
            "sample",
            "prompt",
            "calls",
            "output",
            "answer",
            "passed",
            "assertions",
            "tokens",
        ] {
            assert!(r.get(field).is_some(), "{field} missing in {r}");
        }
        let calls = r["calls"].as_array().expect("calls");
        let expected_calls = if r["method"] == "direct" { 1 } else { 2 };
        assert_eq!(calls.len(), expected_calls, "{r}");
        assert_eq!(r["assertions"].as_array().expect("list").len(), 3);
        // The pass verdict is the assertions' conjunction.
        let all = r["assertions"]
            .as_array()
            .expect("list")
            .iter()
            .all(|a| a["passed"] == true);
        assert_eq!(r["passed"], all, "{r}");
    }
    // The exit code says whether everything passed.
    let all_passed = records.iter().all(|r| r["passed"] == true);
    assert_eq!(out.status.code(), Some(if all_passed { 0 } else { 1 }));
    // The summary table names every arm.
    let table = String::from_utf8_lossy(&out.stdout);
    for arm in ["bare", "steps", "zero-shot-cot"] {
        assert!(table.contains(arm), "{table}");
    }
    // CSV: a header and one row per record (fields may hold line breaks,
    // so count the records by their quoted-aware parse).
    let csv = std::fs::read_to_string(out_dir.join("results.csv")).expect("csv");
    assert!(
        csv.starts_with("item,variant,method,sample,passed"),
        "{csv}"
    );
    // JUnit: one test case per record, validated against the schema.
    let junit = std::fs::read_to_string(out_dir.join("junit.xml")).expect("junit");
    assert_eq!(junit.matches("<testcase ").count(), 12);
    validate_junit(&out_dir.join("junit.xml"));
    // HTML: self-contained, and its script draws the item table.
    let html = std::fs::read_to_string(out_dir.join("report.html")).expect("html");
    assert!(!html.contains("http://") && !html.contains("https://"));
    let dom = chromium_dom(&out_dir.join("report.html"));
    assert!(
        dom.contains("data-ready=\"3\""),
        "the report's script did not run"
    );

    // A rerun takes everything from the store.
    let again = eval(&[
        suite.to_str().expect("path"),
        "--model",
        model.to_str().expect("path"),
        "--out",
        out_dir.to_str().expect("path"),
    ]);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("12 trials: 0 run now, 12 from the store"),
        "{stderr}"
    );
    assert_eq!(stable_records(&out_dir.join("results.jsonl")), records);
}

fn validate_junit(file: &Path) {
    let xsd = std::env::var("PROMPTLAB_JUNIT_XSD")
        .expect("PROMPTLAB_JUNIT_XSD must name the JUnit schema (.ci/run fetches it)");
    let out = Command::new("xmllint")
        .args(["--noout", "--schema", &xsd])
        .arg(file)
        .output()
        .expect("xmllint is needed (.ci/run installs libxml2-utils)");
    assert!(
        out.status.success(),
        "junit.xml does not validate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn store_lines(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("store.jsonl"))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

#[test]
fn a_run_killed_halfway_resumes_to_the_same_results() {
    let dir = tempfile::tempdir().expect("dir");
    let suite = write(
        dir.path(),
        "gsm.yaml",
        &format!(
            "prompt: \"{{{{question}}}}\"\nsampling: {{max_tokens: 32}}\nextract: last_number\n\
             data:\n  file: {}\n  limit: 8\n\
             assert:\n  - type: numeric\n    value: '{{{{ answer | after(\"####\") }}}}'\n",
            repo_path("prompts/data/gsm8k/test.jsonl").display()
        ),
    );
    let model = default_model_path();
    let args = |out: &Path| {
        vec![
            "eval".to_string(),
            suite.display().to_string(),
            "--model".into(),
            model.display().to_string(),
            "--out".into(),
            out.display().to_string(),
            "--format".into(),
            "jsonl".into(),
        ]
    };
    // Uninterrupted.
    let whole = dir.path().join("whole");
    let out = Command::new(env!("CARGO_BIN_EXE_promptlab"))
        .args(args(&whole))
        .output()
        .expect("runs");
    assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
    // Killed once three trials are stored.
    let killed = dir.path().join("killed");
    let mut child = Command::new(env!("CARGO_BIN_EXE_promptlab"))
        .args(args(&killed))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawns");
    let start = Instant::now();
    while store_lines(&killed) < 3 {
        assert!(start.elapsed() < Duration::from_secs(300), "no progress");
        assert!(
            child.try_wait().expect("wait").is_none(),
            "finished before the kill"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    let stored = store_lines(&killed);
    assert!(stored < 8, "the run finished before the kill");
    assert!(!killed.join("results.jsonl").exists());
    // The rerun does only what was not stored.
    let out = Command::new(env!("CARGO_BIN_EXE_promptlab"))
        .args(args(&killed))
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "8 trials: {} run now, {stored} from the store",
            8 - stored
        )),
        "{stderr}"
    );
    assert_eq!(
        stable_records(&killed.join("results.jsonl")),
        stable_records(&whole.join("results.jsonl"))
    );
    assert_eq!(store_lines(&killed), 8);

    // The two stored runs compare as equal: no arm is worse.
    let out = eval(&[
        "--compare",
        whole.join("results.jsonl").to_str().expect("path"),
        killed.join("results.jsonl").to_str().expect("path"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("baseline:prompt"));
}

#[test]
fn compare_exits_1_when_the_change_is_significantly_worse() {
    let dir = tempfile::tempdir().expect("dir");
    let record = |item: usize, passed: bool| {
        serde_json::json!({
            "item": item.to_string(), "variant": "v", "method": "direct", "sample": 0,
            "key": "k", "vars": {}, "prompt": "p", "calls": [], "output": "o",
            "answer": "a", "passed": passed, "score": if passed { 1.0 } else { 0.0 },
            "assertions": [], "tokens": {"prompt": 1, "generated": 1}, "ms": 1.0
        })
        .to_string()
    };
    let lines = |pass: &dyn Fn(usize) -> bool| {
        (0..20)
            .map(|i| record(i, pass(i)))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let baseline = write(dir.path(), "a.jsonl", &lines(&|_| true));
    // Ten items lost, none won: McNemar p = 2/2^10 ≈ 0.002.
    let change = write(dir.path(), "b.jsonl", &lines(&|i| i >= 10));
    let out = eval(&[
        "--compare",
        baseline.to_str().expect("path"),
        change.to_str().expect("path"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("significantly worse in the change"),
        "{stderr}"
    );
    // Unreadable input is exit 2 with the file and line.
    let bad = write(dir.path(), "bad.jsonl", "{\"item\": 1}\n");
    let out = eval(&[
        "--compare",
        baseline.to_str().expect("path"),
        bad.to_str().expect("path"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(one_line_error(&out).contains("bad.jsonl:1: not a result record"));
}

/// llama.cpp's server on a free loopback port, serving the default GGUF;
/// stopped when dropped.
struct LlamaServer {
    child: std::process::Child,
    url: String,
}

impl LlamaServer {
    fn start() -> LlamaServer {
        let binary = std::env::var("PROMPTLAB_LLAMA_SERVER").expect(
            "PROMPTLAB_LLAMA_SERVER must name llama-server (.ci/run builds it with scripts/peer-llamacpp)",
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(binary)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "-c",
                "4096",
                "-t",
                "2",
                "-m",
            ])
            .arg(default_model_path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("llama-server starts");
        let server = LlamaServer {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let start = Instant::now();
        loop {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "llama-server never became ready"
            );
            if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                use std::io::{Read, Write};
                let _ = stream.write_all(b"GET /health HTTP/1.0\r\n\r\n");
                let mut reply = String::new();
                let _ = stream.read_to_string(&mut reply);
                if reply.starts_with("HTTP/1.1 200") || reply.starts_with("HTTP/1.0 200") {
                    return server;
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_shipped_suite_runs_against_llama_server() {
    let server = LlamaServer::start();
    let dir = tempfile::tempdir().expect("dir");
    let out_dir = dir.path().join("remote");
    let suite = repo_path("prompts/gsm8k-cot.yaml");
    let out = eval(&[
        suite.to_str().expect("path"),
        "--backend",
        "openai",
        "--base-url",
        &server.url,
        "--limit",
        "2",
        "--concurrency",
        "2",
        "--out",
        out_dir.to_str().expect("path"),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{stderr}");
    let records = stable_records(&out_dir.join("results.jsonl"));
    // 2 items × 4 methods.
    assert_eq!(records.len(), 8, "{stderr}");
    for r in &records {
        assert!(r.get("error").is_none(), "{r}");
        assert!(r["tokens"]["generated"].as_u64().unwrap_or(0) > 0, "{r}");
        let calls = r["calls"].as_array().expect("calls").len();
        let expected = match r["method"].as_str() {
            Some("direct") | Some("few-shot-cot") => 1,
            Some("zero-shot-cot") => 2,
            Some("self-consistency") => 5,
            other => panic!("unexpected method {other:?}"),
        };
        assert_eq!(calls, expected, "{r}");
    }
    validate_junit(&out_dir.join("junit.xml"));
    // Attention needs our own forward pass: refused before any call.
    let attention = write(
        dir.path(),
        "attention.yaml",
        "prompt: \"{{q}}\"\ncases:\n  - vars: {q: hi}\nassert:\n  - type: attention\n    span: hi\n    value: 0.1\n",
    );
    let out = eval(&[
        attention.to_str().expect("path"),
        "--backend",
        "openai",
        "--base-url",
        &server.url,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(one_line_error(&out)
        .contains("attention.yaml:5:3: attention checks need our own forward pass"));
}
