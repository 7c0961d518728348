//! A finished comparison written out: Markdown to read (the question, then
//! each method's answer, verdict, cost and every call's prompt and output)
//! and JSON lines to process (one record per method, as `promptlab compare
//! --format jsonl` writes them).

use std::fmt::Write as _;

use serde_json::json;

use super::run::{output_summary, CompareRun};

/// The run as Markdown.
pub(crate) fn markdown(run: &CompareRun) -> String {
    let mut out = String::from("# Comparison\n\n");
    let _ = writeln!(out, "**Question:** {}\n", run.question.trim());
    if let Some(context) = &run.context {
        let _ = writeln!(out, "**Context:** {}\n", context.trim());
    }
    if let Some(reference) = &run.reference {
        let _ = writeln!(out, "**Reference:** {}\n", reference.trim());
    }
    for col in &run.columns {
        let _ = writeln!(out, "## {} (§{})\n", col.spec.id, col.spec.section);
        let Some(result) = &col.result else {
            let _ = writeln!(out, "_{:?}: no result_\n", col.status);
            continue;
        };
        let verdict = match col.verdict(run.reference.as_deref()) {
            Some(true) => " ✓",
            Some(false) => " ✗",
            None => "",
        };
        let _ = writeln!(
            out,
            "- answer: {}{verdict}\n- {} calls · {:.1} s · {}+{} tokens\n",
            result.answer.as_deref().unwrap_or("(no answer)"),
            result.calls,
            result.seconds,
            result.prompt_tokens,
            result.generated_tokens
        );
        for step in &result.steps {
            let _ = writeln!(out, "### {} ({})\n", step.id, step.primitive);
            for (i, call) in step.calls.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "Call {} prompt:\n\n~~~~\n{}\n~~~~\n\nOutput:\n\n~~~~\n{}\n~~~~\n",
                    i + 1,
                    call.prompt.trim_end(),
                    call.output.trim_end()
                );
            }
            let _ = writeln!(out, "→ {}\n", output_summary(&step.output));
        }
    }
    out
}

/// The run as JSON lines, one per method that finished.
pub(crate) fn jsonl(run: &CompareRun) -> String {
    let mut out = String::new();
    for col in &run.columns {
        let Some(result) = &col.result else {
            continue;
        };
        let record = json!({
            "method": result.method,
            "question": run.question,
            "answer": result.answer,
            "correct": col.verdict(run.reference.as_deref()),
            "calls": result.calls,
            "prompt_tokens": result.prompt_tokens,
            "generated_tokens": result.generated_tokens,
            "seconds": (result.seconds * 100.0).round() / 100.0,
            "steps": result.steps,
        });
        let _ = writeln!(out, "{record}");
    }
    out
}
