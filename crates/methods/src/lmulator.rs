//! Chain-of-Code's LMulator (Li et al. 2023, §3): a program run line by
//! line with Python where Python can, and with the model where it cannot,
//! the program state carried through. `lmulator.py`, confined in the
//! sandbox like any program, runs the model's program statement by
//! statement; a call to a helper the program never defines
//! (`is_fruit("apple")`) or a statement that raises becomes a question.
//! The driver prints it and stops; this module asks the model (the step's
//! `lmulator` prompts, which see `call`, `line`, `state` and `error`) and
//! runs the driver again from the start with the answer added, until the
//! program finishes or `max_calls` questions have been asked. The model is
//! called by the runner, never from inside the sandbox.

use std::collections::BTreeMap;

use base64::Engine as _;
use promptlab_backend::Backend;
use serde::Deserialize;

use crate::error::MethodError;
use crate::runner::{CallRecord, Ctx, Request};
use crate::sandbox::{self, CodeRun, Limits, Python, Status};
use crate::spec::{LmulatorSpec, Local, Step};

const DRIVER: &str = include_str!("lmulator.py");
/// The exit status of a driver that stopped at a question.
const ASK_STATUS: i32 = 97;
/// Starts the line that carries the question (after a newline of its own).
const MARK: &str = "\u{1e}LMULATOR ";

/// What the program asked of the model.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct Question {
    /// The answer's key in the next run (a call with its arguments, or a
    /// statement's line number and text).
    pub(crate) key: String,
    pub(crate) kind: QuestionKind,
    /// `call`: the helper call, e.g. `is_fruit('apple')`.
    #[serde(default)]
    pub(crate) call: Option<String>,
    /// The program line it is on.
    pub(crate) line: String,
    /// `line`: what Python raised.
    #[serde(default)]
    pub(crate) error: Option<String>,
    /// The program's variables as reprs.
    pub(crate) state: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum QuestionKind {
    /// A helper the program does not define: the model gives its value.
    Call,
    /// A statement Python could not run: the model gives the variables it
    /// sets, as a dict.
    Line,
}

/// The driver for `program`, with the model's answers so far.
pub(crate) fn driver(program: &str, answers: &BTreeMap<String, String>) -> String {
    let b64 = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    let answers = serde_json::to_string(answers).expect("a map of strings serialises");
    DRIVER
        .replace("@PROGRAM@", &b64(program))
        .replace("@ANSWERS@", &b64(&answers))
}

/// The question `run` stopped at, and its output without it; `None` when
/// it did not stop at one.
pub(crate) fn question(run: &CodeRun) -> Option<(Question, String)> {
    if run.status != (Status::Exited { code: ASK_STATUS }) {
        return None;
    }
    let at = run.stdout.rfind(&format!("\n{MARK}"))?;
    let json = run.stdout[at + 1 + MARK.len()..].trim_end();
    let question = serde_json::from_str(json).ok()?;
    Some((question, run.stdout[..at].to_string()))
}

/// The program's state as the prompts show it: `name = value` lines.
fn state_text(state: &BTreeMap<String, String>) -> String {
    if state.is_empty() {
        return "(no variables yet)".into();
    }
    state
        .iter()
        .map(|(name, value)| format!("{name} = {value}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `program` under the LMulator: Python first, the model for what
/// Python cannot run. Its model calls go to `calls`; the run returned is
/// the last (a program that still asks after `max_calls` questions fails
/// with a line saying so).
pub(crate) fn run<B: Backend>(
    ctx: &mut Ctx<'_, B>,
    step: &Step,
    spec: &LmulatorSpec,
    program: &str,
    python: &Python,
    limits: &Limits,
    calls: &mut Vec<CallRecord>,
) -> Result<CodeRun, MethodError> {
    let in_step = |e| MethodError::Step {
        step: step.id.clone(),
        error: crate::error::StepError::from(e),
    };
    let mut answers = BTreeMap::new();
    let mut asked = 0;
    loop {
        let mut run =
            sandbox::run_python(&driver(program, &answers), python, limits).map_err(in_step)?;
        run.code = program.to_string();
        let Some((question, stdout)) = question(&run) else {
            return Ok(run);
        };
        run.stdout = stdout;
        if asked == spec.max_calls() {
            run.stderr.push_str(&format!(
                "LMulator: the program still needed the model after {asked} questions (at `{}`)\n",
                question.line
            ));
            return Ok(run);
        }
        let template = match question.kind {
            QuestionKind::Call => &spec.call,
            QuestionKind::Line => &spec.line,
        };
        let locals = [
            (
                Local::Call,
                question.call.clone().unwrap_or_default().into(),
            ),
            (Local::Line, question.line.clone().into()),
            (Local::State, state_text(&question.state).into()),
            (
                Local::Error,
                question.error.clone().unwrap_or_default().into(),
            ),
        ];
        let prompt = ctx.render(step, template, &locals)?;
        let record = ctx.call(
            &step.id,
            calls.len(),
            Request::greedy(prompt, spec.max_tokens, &spec.stop),
        )?;
        answers.insert(question.key, record.output.clone());
        calls.push(record);
        asked += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drive(program: &str, answers: &[(&str, &str)]) -> CodeRun {
        // Like the runner's tests, these need the sandbox (CI has it).
        let python = sandbox::python().expect("a Python for the sandbox");
        let answers = answers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        sandbox::run_python(&driver(program, &answers), python, &Limits::default())
            .expect("the sandbox runs")
    }

    const FRUITS: &str = "items = ['apple', 'chair', 'apple']\ncount = 0\nfor item in items:\n    if is_fruit(item):\n        count += 1\nprint(count)\n";

    #[test]
    fn a_helper_the_program_lacks_becomes_a_question_with_the_state() {
        let run = drive(FRUITS, &[]);
        let (q, stdout) = question(&run).expect("a question");
        assert_eq!(q.kind, QuestionKind::Call);
        assert_eq!(q.key, "is_fruit('apple')");
        assert_eq!(q.line, "if is_fruit(item):");
        assert_eq!(q.state["count"], "0");
        assert_eq!(q.state["item"], "'apple'");
        assert!(!q.state.contains_key("is_fruit"));
        assert_eq!(stdout, "");
        // One answer later it asks about the chair; the second apple is
        // answered from the first.
        let run = drive(FRUITS, &[("is_fruit('apple')", "True")]);
        let (q, _) = question(&run).expect("a question");
        assert_eq!(q.key, "is_fruit('chair')");
        let run = drive(
            FRUITS,
            &[
                ("is_fruit('apple')", "True"),
                ("is_fruit('chair')", "False, a chair is furniture."),
            ],
        );
        assert!(question(&run).is_none(), "{run:?}");
        assert_eq!(run.stdout.trim(), "2");
    }

    #[test]
    fn a_statement_python_cannot_run_is_set_by_the_model_and_the_run_goes_on() {
        let program = "x = 4\ny = x / 0\nprint(x + y)\n";
        let (q, _) = question(&drive(program, &[])).expect("a question");
        assert_eq!(q.kind, QuestionKind::Line);
        assert_eq!(q.key, "line 2: y = x / 0");
        assert_eq!(
            q.error.as_deref(),
            Some("ZeroDivisionError: division by zero")
        );
        assert_eq!(q.state["x"], "4");
        let run = drive(program, &[("line 2: y = x / 0", "{'y': 3}")]);
        assert_eq!(run.stdout.trim(), "7");
        // An answer that is no dict sets nothing: the next line fails in
        // Python, and is asked about in its turn.
        let (q, _) = question(&drive(program, &[("line 2: y = x / 0", "no idea")])).unwrap();
        assert_eq!(q.key, "line 3: print(x + y)");
    }

    #[test]
    fn the_program_cannot_catch_the_stop_nor_break_out_of_its_literal() {
        // A bare except around the helper does not swallow the question;
        // quotes and backslashes in the program stay its own text.
        let program = "try:\n    a = is_big('\"\"\"\\\\')\nexcept BaseException:\n    a = 'caught'\nprint(a)\n";
        let (q, _) = question(&drive(program, &[])).expect("a question");
        assert_eq!(q.key, r#"is_big('"""\\')"#);
        let run = drive(program, &[(r#"is_big('"""\\')"#, "'yes'")]);
        assert_eq!(run.stdout.trim(), "yes");
    }
}
