//! End-to-end runs of `promptlab compare` on the default model: the text
//! summary, the jsonl records with every step, code execution only when
//! allowed, and one-line errors for bad method lists.

mod common;

use common::promptlab;

use std::process::Output;

use serde_json::Value;

fn compare(extra: &[&str]) -> Output {
    let model = common::default_model_path().display().to_string();
    let mut args = vec![
        "compare",
        "--model",
        &model,
        "--question",
        "Tom has 3 apples and buys 4 more. How many apples does he have now?",
        "--reference",
        "7",
        "--max-tokens",
        "48",
    ];
    args.extend_from_slice(extra);
    promptlab(&args)
}

#[test]
fn text_output_gives_each_method_its_answer_verdict_and_counts() {
    let out = compare(&[
        "--methods",
        "basic-zero-shot,program-aided-lm",
        "--allow-code",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let basic = stdout.find("── basic-zero-shot ──").expect("basic section");
    let pal = stdout.find("── program-aided-lm ──").expect("PAL section");
    assert!(basic < pal, "methods in the order asked");
    let answers: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("answer: "))
        .collect();
    assert_eq!(answers.len(), 2, "{stdout}");
    for line in &answers {
        assert!(
            line.contains("✓ correct") || line.contains("✗ wrong"),
            "{line}"
        );
        assert!(line.contains("(1 calls, "), "{line}");
    }
    // PAL's program ran, and the run is reported either way.
    assert!(stdout[pal..].contains("[execution ran: "), "{stdout}");
}

#[test]
fn jsonl_gives_one_record_per_method_with_every_step() {
    let out = compare(&[
        "--methods",
        "basic-zero-shot,program-aided-lm",
        "--allow-code",
        "--format",
        "jsonl",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["method"], "basic-zero-shot");
    assert_eq!(records[1]["method"], "program-aided-lm");
    for r in &records {
        assert_eq!(r["calls"], 1);
        assert!(r["prompt_tokens"].as_u64().unwrap() > 10);
        assert!(r["generated_tokens"].as_u64().unwrap() >= 1);
        assert!(r["correct"].is_boolean());
        let correct = r["answer"].as_str() == Some("7");
        assert_eq!(r["correct"], correct, "{r}");
    }
    let steps = records[0]["steps"].as_array().unwrap();
    assert_eq!(steps[0]["primitive"], "generate");
    assert!(steps[0]["calls"][0]["prompt"]
        .as_str()
        .unwrap()
        .contains("Tom has 3 apples"));
    assert_eq!(steps[1]["primitive"], "extract");

    let steps = records[1]["steps"].as_array().unwrap();
    assert_eq!(steps[1]["primitive"], "run_code");
    assert_eq!(steps[1]["output"]["kind"], "runs");
    let run = &steps[1]["output"]["runs"][0];
    let code = run["code"].as_str().unwrap();
    assert!(code.starts_with(steps[0]["output"]["text"].as_str().unwrap().trim_end()));
    assert!(code.ends_with("print(solution())\n"), "{code}");
    // The answer is what the program printed, or none when it failed.
    if run["status"]["kind"] == "exited" && run["status"]["code"] == 0 {
        let printed = run["stdout"].as_str().unwrap().trim().lines().last();
        assert_eq!(records[1]["answer"].as_str(), printed);
    } else {
        assert!(records[1]["answer"].is_null());
    }
}

#[test]
fn code_methods_are_refused_unless_code_is_allowed() {
    let err = common::one_line_error(&compare(&[
        "--methods",
        "basic-zero-shot,program-of-thoughts",
    ]));
    assert!(err.contains("`program-of-thoughts`"), "{err}");
    assert!(err.contains("--allow-code"), "{err}");
}

#[test]
fn bad_method_lists_are_refused_in_one_line() {
    let err = common::one_line_error(&compare(&["--methods", "chain-of-thougts"]));
    assert!(err.contains("unknown method `chain-of-thougts`"), "{err}");
    assert!(err.contains("zero-shot-cot"), "lists the known ids: {err}");

    let err = common::one_line_error(&compare(&["--methods", "decomposed-prompting"]));
    assert!(err.contains("catalogued but not runnable"), "{err}");

    let err = common::one_line_error(&compare(&["--methods", "basic-zero-shot,react"]));
    assert!(err.contains("`react` needs --context"), "{err}");
}

#[test]
fn a_method_file_of_ones_own_runs_or_is_refused_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("terse.yaml");
    std::fs::write(
        &good,
        "\
id: my-terse
name: Terse answer
section: local
paper: none
tasks: [mathematical problem solving]
inputs: [question]
steps:
  - id: response
    generate:
      prompt: '{{ question }} Reply with only the number.'
      max_tokens: 8
  - id: number
    extract: {from: response, pattern: last_number}
",
    )
    .unwrap();
    let out = compare(&["--method-file", good.to_str().unwrap(), "--format", "jsonl"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let record: Value = serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    assert_eq!(record["method"], "my-terse");
    assert_eq!(record["calls"], 1);
    assert!(record["generated_tokens"].as_u64().unwrap() <= 8);

    // --methods may name the file's own id (it runs once, where named).
    let out = compare(&[
        "--method-file",
        good.to_str().unwrap(),
        "--methods",
        "my-terse",
        "--format",
        "jsonl",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["method"], "my-terse");

    let bad = dir.path().join("bad.yaml");
    let text = std::fs::read_to_string(&good).unwrap();
    std::fs::write(&bad, text.replace("{from: response,", "{from: reponse,")).unwrap();
    let err = common::one_line_error(&compare(&["--method-file", bad.to_str().unwrap()]));
    assert!(
        err.contains("bad.yaml:13: steps[1].extract.from: refers to `reponse`"),
        "{err}"
    );
}

#[test]
fn an_item_from_a_dataset_file_brings_its_question_and_reference() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("test.jsonl");
    std::fs::write(
        &data,
        "{\"question\": \"Skip me.\", \"answer\": \"#### 0\"}\n\
         {\"question\": \"What is 2 + 3?\", \"answer\": \"2 + 3 = 5\\n#### 5\"}\n",
    )
    .unwrap();
    let model = common::default_model_path().display().to_string();
    let item = format!("{}:2", data.display());
    let out = promptlab(&[
        "compare",
        "--model",
        &model,
        "--item",
        &item,
        "--methods",
        "basic-zero-shot",
        "--max-tokens",
        "16",
        "--format",
        "jsonl",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let record: Value = serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    let prompt = record["steps"][0]["calls"][0]["prompt"].as_str().unwrap();
    assert!(prompt.contains("What is 2 + 3?"), "{prompt}");
    assert!(
        record["generated_tokens"].as_u64().unwrap() <= 16,
        "--max-tokens caps"
    );
    // The reference is the part after GSM8K's ####.
    assert_eq!(record["correct"], record["answer"] == "5", "{record}");

    let err = common::one_line_error(&promptlab(&[
        "compare",
        "--item",
        &format!("{}:3", data.display()),
        "--methods",
        "basic-zero-shot",
    ]));
    assert!(err.contains("test.jsonl: has fewer than 3 items"), "{err}");
}

#[test]
fn text_output_shows_each_method_as_it_finishes_so_a_kill_keeps_it() {
    use std::io::{BufRead, BufReader};
    let model = common::default_model_path().display().to_string();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_promptlab"))
        .args([
            "compare",
            "--model",
            &model,
            "--question",
            "Tom has 3 apples and buys 4 more. How many apples does he have now?",
            "--max-tokens",
            "64",
            "--methods",
            "basic-zero-shot,self-consistency,self-consistency",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.starts_with("answer: ");
        seen.push(line);
        if done {
            break;
        }
    }
    // The first method's whole block arrived while the others still run.
    let still_running = child.try_wait().unwrap().is_none();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(still_running, "nothing came before the end: {seen:?}");
    assert_eq!(
        seen.first().map(String::as_str),
        Some("── basic-zero-shot ──")
    );
    assert!(seen.last().unwrap().contains("(1 calls, "), "{seen:?}");
}
