//! The method runner's primitives on a fake backend with scripted replies,
//! and method files refused at load time with file, line and field.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::scripted::Scripted;
use promptlab_methods::runner::{run, Output, RunEvent, RunOptions};
use promptlab_methods::spec::MethodSpec;
use promptlab_methods::MethodError;

fn spec(yaml: &str) -> MethodSpec {
    MethodSpec::parse(yaml, Path::new("test.yaml")).unwrap_or_else(|e| panic!("{e}"))
}

fn inputs(question: &str) -> BTreeMap<String, String> {
    [("question".to_string(), question.to_string())].into()
}

const OPTIONS: RunOptions = RunOptions {
    system: None,
    max_tokens: 64,
    cap: None,
    seed: 1,
    allow_code: false,
};

const SELF_CONSISTENCY: &str = "\
id: self-consistency
name: Self-Consistency
section: '2.3'
paper: Wang et al. 2022
tasks: [mathematical problem solving]
inputs: [question]
steps:
  - id: paths
    sample_n:
      prompt: \"Q: {{ question }}\\nA: Let's think step by step.\"
      n: 4
      temperature: 0.7
  - id: answers
    extract: {from: paths, pattern: last_number}
  - id: final
    vote: {from: answers}
answer: final
";

#[test]
fn sample_extract_vote_with_an_abstention() {
    let spec = spec(SELF_CONSISTENCY);
    let mut backend = Scripted::new(&["so 3+4 = 7", "it is 8", "7.0", "I am not sure"]);
    let mut events = Vec::new();
    let result = run(&spec, &inputs("3+4?"), &mut backend, &OPTIONS, |e| {
        events.push(e)
    })
    .unwrap();
    assert_eq!(result.answer.as_deref(), Some("7"));
    assert_eq!(result.calls, 4);
    assert_eq!(
        backend.calls[0].prompt,
        "Q: 3+4?\nA: Let's think step by step."
    );
    assert!(backend.calls.iter().all(|c| c.sampling.temperature == 0.7));
    let seeds: std::collections::HashSet<u64> =
        backend.calls.iter().map(|c| c.sampling.seed).collect();
    assert_eq!(seeds.len(), 4, "each sample has its own seed");
    let Output::Vote { vote } = &result.steps[2].output else {
        panic!()
    };
    assert_eq!(vote.tally, vec![("7".into(), 2), ("8".into(), 1)]);
    assert_eq!(vote.abstained, 1);
    let sampled = events
        .iter()
        .filter(|e| matches!(e, RunEvent::Called { step, .. } if step == "paths"))
        .count();
    assert_eq!(sampled, 4, "every sample is streamed");
}

#[test]
fn a_tied_vote_is_no_answer_not_a_guess() {
    let spec = spec(&SELF_CONSISTENCY.replace("n: 4", "n: 2"));
    let mut backend = Scripted::new(&["7", "8"]);
    let result = run(&spec, &inputs("?"), &mut backend, &OPTIONS, |_| {}).unwrap();
    assert_eq!(result.answer, None);
    let Output::Vote { vote } = &result.steps[2].output else {
        panic!()
    };
    assert!(vote.tie);
}

#[test]
fn an_extract_that_does_not_match_gives_no_answer() {
    let yaml = "\
id: basic
name: Basic
section: '2.1'
paper: Brown et al. 2020
tasks: [context-free QA]
inputs: [question]
steps:
  - id: raw
    generate: {prompt: '{{ question }}'}
  - id: letter
    extract: {from: raw, pattern: option_letter}
";
    let mut backend = Scripted::new(&["I would rather not say."]);
    let result = run(
        &spec(yaml),
        &inputs("Pick A-E"),
        &mut backend,
        &OPTIONS,
        |_| {},
    )
    .unwrap();
    assert_eq!(result.answer, None);
}

#[test]
fn a_loop_stops_at_its_bound_or_when_it_matches() {
    let yaml = "\
id: refine
name: Refine
section: '2.x'
paper: test
tasks: [free response]
inputs: [question]
steps:
  - id: tries
    loop_until:
      prompt: '{{ question }} attempt {{ iteration }} after: {{ previous }}'
      until: 'DONE'
      max_iterations: 3
";
    let mut backend = Scripted::new(&["a", "b", "c", "never used"]);
    let result = run(&spec(yaml), &inputs("q"), &mut backend, &OPTIONS, |_| {}).unwrap();
    assert_eq!(result.calls, 3, "the bound holds");
    assert_eq!(backend.calls[2].prompt, "q attempt 2 after: b");
    let mut backend = Scripted::new(&["a", "ok DONE", "never used"]);
    let result = run(&spec(yaml), &inputs("q"), &mut backend, &OPTIONS, |_| {}).unwrap();
    assert_eq!(result.calls, 2);
    assert_eq!(result.answer.as_deref(), Some("ok DONE"));
}

#[test]
fn foreach_sequential_sees_the_earlier_answers() {
    let yaml = "\
id: least-to-most
name: Least-to-Most
section: '2.8'
paper: Zhou et al. 2022
tasks: [mathematical problem solving]
inputs: [question]
steps:
  - id: subquestions
    generate: {prompt: 'Decompose: {{ question }}'}
  - id: solved
    foreach:
      over: subquestions
      mode: sequential
      prompt: \"{% for q, a in history %}{{ q }} -> {{ a }}\\n{% endfor %}Now: {{ item }}\"
";
    let mut backend = Scripted::new(&["first?\nsecond?", "one", "two"]);
    let result = run(&spec(yaml), &inputs("big"), &mut backend, &OPTIONS, |_| {}).unwrap();
    assert_eq!(backend.calls[1].prompt, "Now: first?");
    assert_eq!(backend.calls[2].prompt, "first? -> one\nNow: second?");
    assert_eq!(result.answer.as_deref(), Some("two"));
}

fn load_error(yaml: &str) -> String {
    MethodSpec::parse(yaml, Path::new("surveys/methods/bad.yaml"))
        .unwrap_err()
        .to_string()
}

#[test]
fn an_unknown_primitive_is_refused_with_file_line_and_field() {
    let err = load_error(&SELF_CONSISTENCY.replace("    sample_n:", "    sampel_n:"));
    assert!(
        err.starts_with("surveys/methods/bad.yaml:9: steps[0]:"),
        "{err}"
    );
    assert!(err.contains("unknown primitive `sampel_n`"), "{err}");
}

#[test]
fn an_undefined_template_variable_is_refused() {
    let err = load_error(&SELF_CONSISTENCY.replace("{{ question }}", "{{ qestion }}"));
    assert!(
        err.starts_with("surveys/methods/bad.yaml:10: steps[0].sample_n.prompt:"),
        "{err}"
    );
    assert!(err.contains("`qestion`"), "{err}");
}

#[test]
fn a_step_reading_a_missing_output_is_refused() {
    let err = load_error(&SELF_CONSISTENCY.replace("{from: answers}", "{from: answerz}"));
    assert!(
        err.starts_with("surveys/methods/bad.yaml:16: steps[2].vote.from:"),
        "{err}"
    );
    assert!(err.contains("`answerz`"), "{err}");
    let err = load_error(&SELF_CONSISTENCY.replace("temperature: 0.7", "temperature: hot"));
    assert!(err.contains("steps[0].sample_n"), "{err}");
}

const PROGRAM_OF_THOUGHTS: &str = "\
id: pot
name: PoT
section: '2.7'
paper: Chen et al. 2022
tasks: [mathematical problem solving]
inputs: [question]
steps:
  - id: code
    generate: {prompt: \"Write Python for: {{ question }}\"}
  - id: program
    extract: {from: code, pattern: code_block}
  - id: execution
    run_code: {from: program, append: 'print(ans)', timeout_seconds: 5}
answer: execution
";

const ALLOW_CODE: RunOptions = RunOptions {
    system: None,
    allow_code: true,
    ..OPTIONS
};

#[test]
fn code_runs_only_when_allowed_and_is_refused_before_any_call() {
    let spec = spec(PROGRAM_OF_THOUGHTS);
    assert!(spec.runs_code());
    let mut backend = Scripted::new(&["```python\nans = 6 * 7\n```"]);
    let err = run(&spec, &inputs("6 times 7?"), &mut backend, &OPTIONS, |_| {}).unwrap_err();
    assert_eq!(
        err,
        MethodError::CodeOff {
            method: "pot".into()
        }
    );
    assert!(err.to_string().contains("code execution is off"), "{err}");
    assert!(backend.calls.is_empty(), "no model call before the refusal");
}

#[test]
fn the_interpreter_computes_the_answer() {
    let spec = spec(PROGRAM_OF_THOUGHTS);
    let mut backend = Scripted::new(&[
        "Here it is:\n```python\napples = 6\nboxes = 7\nans = apples * boxes\n```\nDone.",
    ]);
    let mut finished = Vec::new();
    let result = run(&spec, &inputs("q"), &mut backend, &ALLOW_CODE, |e| {
        if let RunEvent::StepFinished { step, output } = e {
            finished.push((step, output));
        }
    })
    .unwrap();
    assert_eq!(result.answer.as_deref(), Some("42"));
    assert_eq!(result.calls, 1, "running code is not a model call");
    let Output::Runs { runs } = &finished[2].1 else {
        panic!("{:?}", finished[2]);
    };
    assert_eq!(runs.len(), 1);
    assert!(runs[0].code.ends_with("ans = apples * boxes\nprint(ans)\n"));
    assert_eq!(runs[0].stdout, "42\n");
}

#[test]
fn a_failing_program_or_no_program_is_no_answer() {
    let spec = spec(PROGRAM_OF_THOUGHTS);
    // The program raises: its error is recorded, and there is no answer.
    let mut backend = Scripted::new(&["```python\nans = undefined_name + 1\n```"]);
    let result = run(&spec, &inputs("q"), &mut backend, &ALLOW_CODE, |_| {}).unwrap();
    assert_eq!(result.answer, None);
    let Output::Runs { runs } = &result.steps[2].output else {
        panic!("{:?}", result.steps[2]);
    };
    assert!(runs[0].failure().unwrap().contains("NameError"));
    // No code block at all: nothing runs, and there is no answer.
    let mut backend = Scripted::new(&["The answer is 42."]);
    let result = run(&spec, &inputs("q"), &mut backend, &ALLOW_CODE, |_| {}).unwrap();
    assert_eq!(result.answer, None);
    assert_eq!(result.steps[2].output, Output::Runs { runs: vec![] });
}

#[test]
fn a_program_past_its_timeout_is_no_answer() {
    let spec = spec(PROGRAM_OF_THOUGHTS);
    let mut backend = Scripted::new(&["```python\nwhile True:\n    pass\nans = 1\n```"]);
    let start = std::time::Instant::now();
    let result = run(&spec, &inputs("q"), &mut backend, &ALLOW_CODE, |_| {}).unwrap();
    assert!(start.elapsed() < std::time::Duration::from_secs(15));
    assert_eq!(result.answer, None);
    let Output::Runs { runs } = &result.steps[2].output else {
        panic!();
    };
    assert_eq!(runs[0].failure().as_deref(), Some("timed out"));
}

#[test]
fn run_code_reading_a_missing_output_is_refused_at_load() {
    let err = load_error(&PROGRAM_OF_THOUGHTS.replace("from: program", "from: programme"));
    assert!(
        err.contains("surveys/methods/bad.yaml:13: steps[2].run_code.from: refers to `programme`"),
        "{err}"
    );
}

#[test]
fn run_code_needs_exactly_one_of_from_and_program() {
    let both = PROGRAM_OF_THOUGHTS.replace(
        "run_code: {from: program,",
        "run_code: {from: program, program: 'print(1)',",
    );
    let err = load_error(&both);
    assert!(
        err.contains("bad.yaml:13: steps[2].run_code: needs exactly one of `from`"),
        "{err}"
    );
    let undefined = PROGRAM_OF_THOUGHTS.replace(
        "run_code: {from: program,",
        "run_code: {program: '{{ programme }}',",
    );
    let err = load_error(&undefined);
    assert!(
        err.contains("steps[2].run_code.program: template uses `programme`"),
        "{err}"
    );
}

#[test]
fn a_program_template_sees_the_inputs_and_earlier_outputs() {
    let yaml = "\
id: template-program
name: T
section: '0'
paper: none
tasks: [mathematical problem solving]
inputs: [question]
steps:
  - id: guesses
    sample_n: {prompt: 'Guess: {{ question }}', n: 3, temperature: 0.7}
  - id: check
    run_code:
      program: |
        guesses = {{ guesses | tojson }}
        print(len({{ question | tojson }}), max(int(g) for g in guesses))
";
    let mut backend = Scripted::new(&["4", "9", "2"]);
    let result = run(
        &spec(yaml),
        &inputs("a \"quoted\" question"),
        &mut backend,
        &ALLOW_CODE,
        |_| {},
    )
    .unwrap();
    assert_eq!(result.answer.as_deref(), Some("19 9"));
}

#[test]
fn only_the_chains_with_most_steps_vote() {
    let yaml = SELF_CONSISTENCY.replace(
        "vote: {from: answers}",
        "vote: {from: answers, most_steps: {of: paths, keep: 2}}",
    );
    // Two short chains say 8; the two longest say 7 and 7.
    let mut backend = Scripted::new(&[
        "It is 8.",
        "Three apples. Then four more. So 3 + 4 = 7.",
        "So 8.",
        "Start with 3.\nAdd 4.\nThe answer is 7.",
    ]);
    let result = run(&spec(&yaml), &inputs("q"), &mut backend, &OPTIONS, |_| {}).unwrap();
    let Output::Vote { vote } = &result.steps[2].output else {
        panic!("{:?}", result.steps[2]);
    };
    assert_eq!(vote.kept, Some(vec![1, 3]));
    assert_eq!(vote.tally, vec![("7".to_string(), 2)]);
    assert_eq!(result.answer.as_deref(), Some("7"));
    // Without the filter, 8 and 7 tie: no answer.
    let mut backend = Scripted::new(&[
        "It is 8.",
        "Three apples. Then four more. So 3 + 4 = 7.",
        "So 8.",
        "Start with 3.\nAdd 4.\nThe answer is 7.",
    ]);
    let result = run(
        &spec(SELF_CONSISTENCY),
        &inputs("q"),
        &mut backend,
        &OPTIONS,
        |_| {},
    )
    .unwrap();
    assert_eq!(result.answer, None);
}

#[test]
fn a_loop_with_the_lookup_tool_feeds_observations_into_the_transcript() {
    let yaml = "\
id: react
name: ReAct
section: '2.21'
paper: Yao et al. 2022
tasks: [multi-hop reasoning]
inputs: [question, context]
steps:
  - id: trajectory
    loop_until:
      completion: true
      prompt: \"Question: {{ question }}\\n{{ transcript }}\"
      stop: [\"\\nObservation\"]
      until: 'Finish\\['
      tool: {lookup: context}
      max_iterations: 5
  - id: final
    extract: {from: trajectory, pattern: !regex 'Finish\\[([^\\]]*)\\]'}
answer: final
";
    let mut backend = Scripted::new(&[
        "Thought 1: Who wrote it?\nAction 1: Lookup[written]",
        "Thought 2: Where was she born?\nAction 2: Lookup[BORN]",
        "Thought 3: Szeged.\nAction 3: Finish[Szeged]",
    ]);
    let inputs = BTreeMap::from([
        (
            "question".to_string(),
            "Where was the author born?".to_string(),
        ),
        (
            "context".to_string(),
            "The novel was written by Anna Kovacs. Anna Kovacs was born in Szeged. It sold well."
                .to_string(),
        ),
    ]);
    let result = run(&spec(yaml), &inputs, &mut backend, &OPTIONS, |_| {}).unwrap();
    assert_eq!(result.answer.as_deref(), Some("Szeged"));
    assert_eq!(backend.calls.len(), 3);
    assert!(backend.calls.iter().all(|c| c.completion));
    assert_eq!(
        backend.calls[0].sampling.stop,
        vec!["\nObservation".to_string()]
    );
    assert_eq!(
        backend.calls[0].prompt,
        "Question: Where was the author born?\n"
    );
    assert_eq!(
        backend.calls[2].prompt,
        "Question: Where was the author born?\n\
         Thought 1: Who wrote it?\nAction 1: Lookup[written]\n\
         Observation 1: The novel was written by Anna Kovacs.\n\
         Thought 2: Where was she born?\nAction 2: Lookup[BORN]\n\
         Observation 2: Anna Kovacs was born in Szeged.\n"
    );
    let Output::List { items } = &result.steps[0].output else {
        panic!("{:?}", result.steps[0]);
    };
    assert_eq!(items.len(), 3);
    assert!(items[0].ends_with("Observation 1: The novel was written by Anna Kovacs."));
    assert!(
        items[2].ends_with("Finish[Szeged]"),
        "no observation after Finish"
    );
}

#[test]
fn the_lookup_tool_must_read_an_input_or_earlier_output() {
    let err = load_error(
        "\
id: react
name: ReAct
section: '2.21'
paper: Yao et al. 2022
tasks: [multi-hop reasoning]
inputs: [question]
steps:
  - id: trajectory
    loop_until:
      prompt: '{{ question }}'
      until: 'Finish'
      tool: {lookup: passage}
      max_iterations: 2
",
    );
    assert!(
        err.contains("bad.yaml:12: steps[0].loop_until.tool: refers to `passage`"),
        "{err}"
    );
}

#[test]
fn exemplars_can_be_read_as_a_pool_of_items() {
    let yaml = "\
id: auto-cot
name: Auto-CoT
section: '2.5'
paper: Zhang et al. 2022
tasks: [mathematical problem solving]
inputs: [question]
exemplars: |
  First pool question?
  Second pool question?
steps:
  - id: demos
    foreach: {over: exemplars, mode: independent, prompt: 'Q: {{ item }}'}
  - id: final
    generate:
      prompt: \"{% set pool = exemplars | lines %}{% for d in demos %}{{ pool[loop.index0] }} => {{ d }}\\n{% endfor %}{{ question }}\"
";
    let mut backend = Scripted::new(&["one", "two", "three"]);
    let result = run(
        &spec(yaml),
        &inputs("Mine?"),
        &mut backend,
        &OPTIONS,
        |_| {},
    )
    .unwrap();
    assert_eq!(backend.calls[0].prompt, "Q: First pool question?");
    assert_eq!(backend.calls[1].prompt, "Q: Second pool question?");
    assert_eq!(
        backend.calls[2].prompt,
        "First pool question? => one\nSecond pool question? => two\nMine?"
    );
    assert_eq!(result.answer.as_deref(), Some("three"));
}

const READS_AN_INPUT: &str = "\
id: read-input
name: Read an input
section: '0'
paper: none
tasks: [mathematical problem solving]
inputs: [question]
steps:
  - id: number
    extract: {from: question, pattern: last_number}
  - id: lines
    foreach: {over: question, mode: independent, prompt: 'Say {{ item }}'}
  - id: final
    vote: {from: number, most_steps: {of: question, keep: 1}}
answer: final
";

#[test]
fn a_step_may_read_an_input_as_well_as_an_earlier_output() {
    // The load check lets a step read an input; the runner reads it as text.
    let spec = spec(READS_AN_INPUT);
    let mut backend = Scripted::new(&["one", "two"]);
    let result = run(
        &spec,
        &inputs("Is 12 more than 7?\nSay why."),
        &mut backend,
        &OPTIONS,
        |_| {},
    )
    .unwrap();
    assert_eq!(
        result.steps[0].output,
        Output::Answers {
            answers: vec![Some("7".into())]
        }
    );
    assert_eq!(backend.calls[0].prompt, "Say Is 12 more than 7?");
    assert_eq!(backend.calls[1].prompt, "Say Say why.");
    assert_eq!(result.answer.as_deref(), Some("7"));
}

#[test]
fn a_spec_changed_after_load_to_read_nothing_fails_the_step_without_a_panic() {
    // The fields are public: a spec built or changed in code skips the load
    // check, and the runner still never indexes with a name it was given.
    let mut spec = spec(SELF_CONSISTENCY);
    spec.steps.remove(1);
    let mut backend = Scripted::new(&["7", "7", "7", "7"]);
    let err = run(&spec, &inputs("q"), &mut backend, &OPTIONS, |_| {}).unwrap_err();
    assert!(!err.is_cancelled());
    assert_eq!(
        err.to_string(),
        "step `final`: from: reads `answers`, which is not an input or an earlier step"
    );
}

#[test]
fn a_missing_input_or_a_catalogued_only_method_is_refused_before_any_call() {
    let spec = spec(&SELF_CONSISTENCY.replace("inputs: [question]", "inputs: [question, context]"));
    let mut backend = Scripted::new(&["7"]);
    let err = run(&spec, &inputs("q"), &mut backend, &OPTIONS, |_| {}).unwrap_err();
    assert_eq!(
        err.to_string(),
        "method `self-consistency` needs the input `context`"
    );
    let mut catalogued = spec.clone();
    catalogued.not_runnable = Some("needs a retriever".into());
    let err = run(&catalogued, &inputs("q"), &mut backend, &OPTIONS, |_| {}).unwrap_err();
    assert_eq!(
        err,
        MethodError::NotRunnable {
            method: "self-consistency".into(),
            reason: "needs a retriever".into()
        }
    );
    assert!(backend.calls.is_empty());
}

#[test]
fn a_bad_regular_expression_is_refused_at_load_with_file_line_and_field() {
    let err =
        load_error(&SELF_CONSISTENCY.replace("pattern: last_number", "pattern: !regex '(\\d+'"));
    assert!(
        err.starts_with("surveys/methods/bad.yaml:14: steps[1].extract.pattern: "),
        "{err}"
    );
    assert!(
        err.ends_with("`(\\d+` is not a valid regular expression: unclosed group"),
        "{err}"
    );
}

/// A method of the shipped catalogue.
fn shipped(id: &str) -> MethodSpec {
    let all = promptlab_methods::catalog::all().unwrap();
    promptlab_methods::catalog::find(&all, id).unwrap().clone()
}

#[test]
fn zero_shot_cot_runs_kojimas_two_stages_and_takes_the_first_number() {
    let spec = shipped("zero-shot-cot");
    let mut backend = Scripted::new(&[
        "Roger starts with 5 balls. 2 cans of 3 balls is 6 balls. 5 + 6 = 11.",
        " 11. The next question is 12.",
    ]);
    let question = "Roger has 5 tennis balls. He buys 2 cans of 3. How many does he have now?";
    let result = run(&spec, &inputs(question), &mut backend, &OPTIONS, |_| {}).unwrap();
    assert_eq!(result.calls, 2, "reasoning, then answer extraction");
    let calls: Vec<&str> = backend.calls.iter().map(|c| c.prompt.as_str()).collect();
    assert_eq!(
        calls[0],
        format!("Q: {question}\nA: Let's think step by step.")
    );
    assert_eq!(
        calls[1],
        format!(
            "Q: {question}\nA: Let's think step by step. Roger starts with 5 balls. 2 cans of 3 \
             balls is 6 balls. 5 + 6 = 11.\nTherefore, the answer (arabic numerals) is"
        )
    );
    assert_eq!(
        result.answer.as_deref(),
        Some("11"),
        "the first number, not the last"
    );
}

fn with_context(question: &str, context: &str) -> BTreeMap<String, String> {
    let mut inputs = inputs(question);
    inputs.insert("context".into(), context.into());
    inputs
}

#[test]
fn verify_and_edit_edits_only_when_the_samples_disagree() {
    let spec = shipped("verify-and-edit");
    let item = with_context("Is Paris in France?", "Paris is the capital of France.");
    // Four of five agree: the gate skips the edit, the majority answers.
    let agree = [
        "So the answer is yes.",
        "So the answer is yes.",
        "So the answer is no.",
        "So the answer is yes.",
        "So the answer is yes.",
    ];
    let mut backend = Scripted::new(&agree);
    let mut gates = Vec::new();
    let result = run(&spec, &item, &mut backend, &OPTIONS, |e| {
        if let RunEvent::Gate { step, outcome } = e {
            gates.push((step, outcome.ran, outcome.agreement));
        }
    })
    .unwrap();
    assert_eq!(result.calls, 5, "only the samples");
    assert_eq!(result.answer.as_deref(), Some("yes"));
    assert!(
        gates
            .iter()
            .all(|(_, ran, a)| !ran && (*a - 0.8).abs() < 1e-9),
        "{gates:?}"
    );
    assert_eq!(
        gates.len(),
        5,
        "rationale, checks, facts, edited and final are gated"
    );

    // Two of five at most: the rationale is verified and edited.
    let disagree = [
        "So the answer is yes.",
        "So the answer is no.",
        "So the answer is maybe.",
        "I cannot tell.",
        "So the answer is yes.",
        "Paris is in Italy. So the answer is no.", // the greedy rationale
        "Is Paris in Italy?\nIs Paris a city?",    // two verifying questions
        "No, Paris is in France.",
        "Yes.",                                      // their answers
        "Paris is in France. So the answer is yes.", // the edit
    ];
    let mut backend = Scripted::new(&disagree);
    let result = run(&spec, &item, &mut backend, &OPTIONS, |_| {}).unwrap();
    assert_eq!(
        result.calls, 10,
        "5 samples, rationale, checks, 2 facts, edit"
    );
    assert_eq!(result.answer.as_deref(), Some("yes"));
    let gate = result
        .steps
        .iter()
        .find(|s| s.id == "edited")
        .unwrap()
        .gate
        .unwrap();
    assert!(gate.ran && (gate.agreement - 0.4).abs() < 1e-9, "{gate:?}");
    assert!(backend.calls[9].prompt.contains("No, Paris is in France."));
}

#[test]
fn chain_of_knowledge_adapts_knowledge_only_when_the_samples_disagree() {
    let spec = shipped("chain-of-knowledge");
    let item = with_context("Is Paris in France?", "Paris is the capital of France.");
    let mut backend = Scripted::new(&["So the answer is yes."; 5]);
    let result = run(&spec, &item, &mut backend, &OPTIONS, |_| {}).unwrap();
    assert_eq!((result.calls, result.answer.as_deref()), (5, Some("yes")));

    let mut backend = Scripted::new(&[
        "So the answer is yes.",
        "So the answer is no.",
        "So the answer is no.",
        "So the answer is yes.",
        "unsure",
        "Paris is in Italy.\nSo the answer is no.", // the rationale, two steps
        "Paris is in France.",
        "So the answer is yes.", // each step corrected
        "So the answer is yes.", // consolidation
    ]);
    let result = run(&spec, &item, &mut backend, &OPTIONS, |_| {}).unwrap();
    assert_eq!(
        result.calls, 9,
        "5 samples, rationale, 2 corrections, consolidation"
    );
    assert_eq!(result.answer.as_deref(), Some("yes"));
    assert!(
        backend.calls[7].prompt.contains("Paris is in France."),
        "progressive correction"
    );
}

#[test]
fn a_gate_must_read_an_earlier_vote() {
    let yaml = "\
id: gated
name: Gated
section: '0'
paper: test
tasks: [math]
inputs: [question]
steps:
  - id: draft
    generate: {prompt: \"{{ question }}\"}
  - id: again
    when: {vote: draft, agreement_below: 0.5}
    generate: {prompt: \"{{ draft }}\"}
answer: again
";
    let err = load_error(yaml);
    assert!(
        err.contains("bad.yaml:11") && err.contains("steps[1].when.vote"),
        "{err}"
    );
    assert!(err.contains("`draft` is not an earlier vote step"), "{err}");
    let err = load_error(&yaml.replace(
        "vote: draft, agreement_below: 0.5",
        "vote: draft, threshold: 1",
    ));
    assert!(err.contains("steps[1].when"), "{err}");
}

#[test]
fn tree_of_thoughts_searches_breadth_first_with_values_and_keeps_the_best() {
    let spec = shipped("tree-of-thoughts");
    let sure = "Right so far.\nsure";
    let likely = "Maybe.\nlikely";
    let impossible = "Wrong.\nimpossible";
    let mut backend = Scripted::new(&[
        // depth 1: one proposal of three steps, three values each
        "5 + 6 = 11\n5 * 6 = 30\n5 - 2 = 3",
        sure,
        sure,
        likely, // 41
        impossible,
        impossible,
        likely, // 1.002
        likely,
        likely,
        likely, // 3
        // depth 2: the two kept (11, then 3) each proposes two steps
        "11 is the answer\n11 + 1 = 12",
        "3 + 6 = 9\n3 is the answer",
        sure,
        sure,
        sure, // 60: "11 is the answer"
        likely,
        impossible,
        impossible, // 1.002
        impossible,
        impossible,
        impossible,
        likely,
        likely,
        impossible, // 2.001
        // the last call finishes the best state
        "So the balls are 11. The answer is 11.",
    ]);
    let question = "Roger has 5 balls and buys 6 more. How many?";
    let result = run(&spec, &inputs(question), &mut backend, &OPTIONS, |_| {}).unwrap();
    assert_eq!(result.calls, 1 + 9 + 2 + 12 + 1);
    assert_eq!(result.answer.as_deref(), Some("11"));
    let search = &result.steps[0].output;
    let Output::Search { levels, best } = search else {
        panic!("{search:?}")
    };
    assert_eq!(levels.len(), 2);
    assert_eq!(levels[0].kept, [0, 2], "41 and 3 beat 1.002");
    assert!((levels[0].candidates[0].1 - 41.0).abs() < 1e-9);
    assert!((levels[0].candidates[1].1 - 1.002).abs() < 1e-9);
    assert_eq!(levels[1].candidates.len(), 4);
    assert_eq!(levels[1].kept, [0, 3]);
    assert_eq!(best, "5 + 6 = 11\n11 is the answer\n");
    // The proposal at depth 2 sees its state; the finish sees the best.
    assert!(backend.calls[10]
        .prompt
        .contains("Steps so far:\n5 + 6 = 11\n"));
    assert!(backend.calls[24]
        .prompt
        .contains("Steps so far:\n5 + 6 = 11\n11 is the answer\n"));
}

#[test]
fn a_search_votes_when_asked_and_needs_one_generator_and_one_evaluator() {
    let yaml = "\
id: tot-vote
name: ToT vote
section: '0'
paper: test
tasks: [writing]
inputs: [question]
steps:
  - id: tree
    search:
      depth: 1
      breadth: 1
      sample: {prompt: \"Plan for {{ question }}\", n: 3}
      vote:
        prompt: \"{% for s in states %}Choice {{ loop.index }}: {{ s }}{% endfor %}\"
        n: 3
answer: tree
";
    let spec = spec(yaml);
    let mut backend = Scripted::new(&[
        "plan A",
        "plan B",
        "plan C",
        "The best choice is 2",
        "best choice is 3",
        "The best choice is 2",
    ]);
    let result = run(&spec, &inputs("a poem"), &mut backend, &OPTIONS, |_| {}).unwrap();
    assert_eq!(result.answer.as_deref(), Some("plan B\n"));
    assert!(backend.calls[3].prompt.contains("Choice 3: plan C"));
    let err = load_error(&yaml.replace(
        "      sample: {prompt: \"Plan for {{ question }}\", n: 3}\n",
        "",
    ));
    assert!(
        err.contains("needs exactly one of `propose` and `sample`"),
        "{err}"
    );
}

#[test]
fn a_search_past_its_call_bound_is_an_error_not_a_hang() {
    let yaml = "\
id: big
name: Big
section: '0'
paper: test
tasks: [math]
inputs: [question]
steps:
  - id: tree
    search:
      depth: 50
      breadth: 64
      sample: {prompt: \"{{ question }} {{ state }}\", n: 64}
      value: {prompt: \"{{ state }}\", n: 64, scores: {sure: 1}}
answer: tree
";
    let replies: Vec<String> = (0..64)
        .map(|i| format!("step {i}"))
        .chain(std::iter::repeat_n("sure".to_string(), 4096))
        .collect();
    let replies: Vec<&str> = replies.iter().map(String::as_str).collect();
    let mut backend = Scripted::new(&replies);
    let err = run(&spec(yaml), &inputs("q"), &mut backend, &OPTIONS, |_| {}).unwrap_err();
    assert!(
        err.to_string().contains("more than 2048 model calls"),
        "{err}"
    );
    assert_eq!(backend.calls.len(), 2048);
}

#[test]
fn logical_thoughts_checks_each_step_and_revises_from_the_refuted_one() {
    let spec = shipped("logical-thoughts");
    let mut backend = Scripted::new(&[
        "Roger has 5 balls.\n2 cans of 3 is 5 balls.\nThe answer is 10.",
        // step 1: true wins
        "it is given.",
        "nothing says so.",
        "A",
        // step 2: false wins; revised, and the rest written anew
        "3 + 2 = 5.",
        "2 cans of 3 balls are 2 * 3 = 6 balls.",
        "B",
        "2 cans of 3 is 6 balls.",
        "5 + 6 = 11.\nThe answer is 11.",
        // the new steps 3 and 4 both hold
        "5 + 6 = 11.",
        "no reason.",
        "A",
        "it follows.",
        "no reason.",
        "A",
    ]);
    let question = "Roger has 5 balls and buys 2 cans of 3. How many?";
    let result = run(&spec, &inputs(question), &mut backend, &OPTIONS, |_| {}).unwrap();
    assert_eq!(
        result.calls,
        1 + 3 + 5 + 3 + 3,
        "reasoning, 4 checks of 3 calls, 1 revision + 1 continuation"
    );
    assert_eq!(result.answer.as_deref(), Some("11"));
    let checked = &result.steps[1].output;
    assert_eq!(
        checked,
        &Output::Text {
            text: "Roger has 5 balls.\n2 cans of 3 is 6 balls.\n5 + 6 = 11.\nThe answer is 11."
                .into()
        }
    );
    let prompts: Vec<&str> = backend.calls.iter().map(|c| c.prompt.as_str()).collect();
    assert!(prompts[4].ends_with("Step #2: 2 cans of 3 is 5 balls.\nStep #2 is true because"));
    assert!(prompts[5].ends_with("Step #2 is false because"));
    assert!(
        prompts[6].contains("B. Step #2 is false because 2 cans of 3 balls are 2 * 3 = 6 balls.")
    );
    assert!(prompts[8].contains("Steps so far:\nRoger has 5 balls.\n2 cans of 3 is 6 balls.\n"));
    assert!(
        prompts[9].contains("Step #3: 5 + 6 = 11."),
        "the continued chain is checked"
    );
}

#[test]
fn tree_of_thoughts_voting_keeps_the_voted_plan_then_the_voted_passage() {
    let spec = shipped("tree-of-thoughts-vote");
    let mut backend = Scripted::new(&[
        "plan one",
        "plan two",
        "plan three",
        "The best choice is 2",
        "The best choice is 2",
        "The best choice is 1",
        "passage A",
        "passage B",
        "passage C",
        "The best choice is 3",
        "best choice is 1",
        "The best choice is 3",
    ]);
    let result = run(
        &spec,
        &inputs("Write about the sea."),
        &mut backend,
        &OPTIONS,
        |_| {},
    )
    .unwrap();
    assert_eq!(result.calls, 12);
    assert_eq!(result.answer.as_deref(), Some("plan two\npassage C\n"));
    assert!(
        backend.calls[6].prompt.contains("Plan:\nplan two\n"),
        "passages follow the voted plan"
    );
    assert!(backend.calls[9]
        .prompt
        .contains("Choice 3:\nplan two\npassage C"));
}

/// A small table, as the table items carry it (CSV in the context).
const FRUITS: &str = "Fruit,Price per kg,Stock (kg)\nbanana,1.20,40\ncherry,6.50,8\nplum,2.80,15\nstrawberry,4.00,12\n";

fn prompts(backend: &Scripted) -> Vec<&str> {
    backend.calls.iter().map(|c| c.prompt.as_str()).collect()
}

#[test]
fn chain_of_table_applies_each_planned_operation_and_answers_from_the_last_table() {
    let spec = shipped("chain-of-table");
    let mut backend = Scripted::new(&[
        " f_select_column(Age)",
        " f_select_row(row 2, row 4)",
        " f_sort_by(Stock (kg), desc)",
        " <END>",
        "The answer is strawberry.",
    ]);
    let item = with_context("Which red fruit has the most stock?", FRUITS);
    let result = run(&spec, &item, &mut backend, &OPTIONS, |_| {}).unwrap();
    assert_eq!(
        result.calls, 5,
        "four planning turns up to <END>, then the query"
    );
    let calls = prompts(&backend);
    assert!(calls[0].ends_with("Question: Which red fruit has the most stock?\nOperation:"));
    assert!(
        calls[1].contains("f_select_column(Age) was not applied: no column `Age`"),
        "a refused operation is said, and the table is kept: {}",
        calls[1]
    );
    assert!(calls[2].contains(
        "Operation: f_select_row(row 2, row 4)\n/*\ncol : Fruit | Price per kg | Stock (kg)\n\
         row 1 : cherry | 6.50 | 8\nrow 2 : strawberry | 4.00 | 12\n*/\nOperation:"
    ));
    // The query sees the table after the last operation, only it.
    assert!(calls[4].starts_with(
        "Here is the table to answer this question. Answer the question.\n/*\n\
         col : Fruit | Price per kg | Stock (kg)\nrow 1 : strawberry | 4.00 | 12\n\
         row 2 : cherry | 6.50 | 8\n*/\nQuestion:"
    ));
    assert_eq!(result.answer.as_deref(), Some("strawberry"));
}

#[test]
fn dater_cuts_the_sub_table_and_fills_the_cloze_with_the_sql_results() {
    let spec = shipped("dater");
    let mut backend = Scripted::new(&[
        " Fruit, Stock (kg)\nRows: 2, 4",
        " SELECT SUM(\"Stock (kg)\") FROM w WHERE Fruit IN ('cherry', 'strawberry')\n\
         SQL 2: SELECT nonsense FROM nowhere\nCloze: The red fruits have {1} kg in stock ({2}).",
        "The answer is 20.",
    ]);
    let item = with_context("How many kg of red fruit are in stock?", FRUITS);
    let result = run(&spec, &item, &mut backend, &ALLOW_CODE, |_| {}).unwrap();
    assert_eq!(result.calls, 3, "evidence, cloze, joint reasoning");
    let calls = prompts(&backend);
    assert!(
        calls[2].contains(
            "/*\ncol : Fruit | Stock (kg)\nrow 1 : cherry | 8\nrow 2 : strawberry | 12\n*/\n\
             Sub-answers: The red fruits have 20 kg in stock (unknown).\n"
        ),
        "{}",
        calls[2]
    );
    assert_eq!(result.answer.as_deref(), Some("20"));
}

#[test]
fn binder_answers_each_bound_cell_in_the_runner_then_runs_the_sql() {
    let spec = shipped("binder");
    let mut backend = Scripted::new(&[
        " SELECT SUM(\"Stock (kg)\") FROM w WHERE QA(\"is this fruit red?\"; Fruit) = 'yes'",
        "No.",
        "Yes",
        "no",
        "Yes, it is red.",
    ]);
    let item = with_context("How many kg of red fruit are in stock?", FRUITS);
    let result = run(&spec, &item, &mut backend, &ALLOW_CODE, |_| {}).unwrap();
    assert_eq!(result.calls, 5, "the program, then one call per cell");
    let calls = prompts(&backend);
    assert_eq!(
        calls[2],
        "About \"cherry\": is this fruit red?\nAnswer in one word (yes, no, or a short value)."
    );
    assert_eq!(
        result.answer.as_deref(),
        Some("20"),
        "cherry 8 + strawberry 12"
    );

    // SQL alone: no cell calls.
    let mut backend = Scripted::new(&[" SELECT COUNT(*) FROM w WHERE \"Price per kg\" > 2"]);
    let result = run(&spec, &item, &mut backend, &ALLOW_CODE, |_| {}).unwrap();
    assert_eq!((result.calls, result.answer.as_deref()), (1, Some("3")));
}

#[test]
fn synthetic_prompting_keeps_the_most_complex_synthesized_examples() {
    let spec = shipped("synthetic-prompting");
    let mut backend = Scripted::new(&[
        // Backward, one per topic; two write no question.
        " 2 + 2 = 4.\nQuestion: Q-bakery?",
        " no question here",
        " 5 * 3 = 15.\nQuestion: Q-saving?",
        " 1 + 1 = 2.\nQuestion: Q-library?",
        " nothing",
        " 3 - 1 = 2.\nQuestion: Q-football?",
        // Forward, one per synthesized question, with 2, 4, 1 and 3 steps.
        "a\nb",
        "a\nb\nc\nd",
        "a",
        "a\nb\nc",
        "So 18 in all. The answer is 18.",
    ]);
    let result = run(&spec, &inputs("Q?"), &mut backend, &OPTIONS, |_| {}).unwrap();
    assert_eq!(
        result.calls,
        6 + 4 + 1,
        "backward, forward, then the question"
    );
    let calls = prompts(&backend);
    assert!(calls[0].contains("Topic: a bakery\nReasoning steps: 3\nReasoning:"));
    assert_eq!(calls[7], "Q: Q-saving?\nA: Let's think step by step.");
    let kept = &result
        .steps
        .iter()
        .find(|s| s.id == "complex")
        .unwrap()
        .output;
    assert_eq!(
        kept,
        &Output::Selected {
            scores: vec![2.0, 4.0, 1.0, 3.0],
            kept: vec![1, 3, 0]
        }
    );
    assert!(calls[10].starts_with(
        "Q: Q-saving?\nA: Let's think step by step. a\nb\nc\nd\n\n\
         Q: Q-football?\nA: Let's think step by step. a\nb\nc\n\n\
         Q: Q-bakery?\nA: Let's think step by step. a\nb\n\nQ: Q?\n"
    ));
    assert_eq!(result.answer.as_deref(), Some("18"));
}

#[test]
fn active_prompt_demonstrates_the_rationales_of_the_most_uncertain_questions() {
    let spec = shipped("active-prompt");
    // Three samples per pool question: 1, 3, 2, 3 and 1 distinct answers.
    let mut replies = vec!["6", "6", "6", "70", "12", "8", "90", "90", "30", "43"];
    replies.extend(["no number", "1", "15", "15", "15"]);
    replies.push("So she has 9 left. The answer is 9.");
    let mut backend = Scripted::new(&replies);
    let result = run(&spec, &inputs("Q?"), &mut backend, &OPTIONS, |_| {}).unwrap();
    assert_eq!(result.calls, 5 * 3 + 1);
    assert!(backend.calls[..15]
        .iter()
        .all(|c| c.sampling.temperature == 0.7));
    let calls = prompts(&backend);
    assert!(calls[3].starts_with("Q: Jo runs 4 laps"));
    let Output::Selected { scores, kept } = &result
        .steps
        .iter()
        .find(|s| s.id == "uncertain")
        .unwrap()
        .output
    else {
        panic!()
    };
    let thirds: Vec<u32> = scores.iter().map(|s| (s * 3.0).round() as u32).collect();
    assert_eq!(thirds, [1, 3, 2, 3, 1], "no answer counts as an answer");
    assert_eq!(
        kept,
        &[1, 3],
        "the two most uncertain, earlier first among equals"
    );
    assert!(calls[15].starts_with(
        "Q: Jo runs 4 laps every morning and 6 laps every evening. How many laps does she run \
         in a week?\nA: Each day she runs 4 + 6 = 10 laps."
    ));
    assert!(calls[15].contains("\n\nQ: Ben has 5 boxes"));
    assert!(calls[15].ends_with("\n\nQ: Q?\nA:"));
    assert_eq!(result.answer.as_deref(), Some("9"));
}

#[test]
fn maieutic_lets_consistent_explanations_outweigh_the_direct_answer() {
    let spec = shipped("maieutic");
    let mut backend = Scripted::new(&[
        " the sun is seen first over the eastern horizon.",
        " the sun never moves.",
        "False",
        "True",
        "False.", // 2 of 3 direct answers say False…
        "True",
        "True",
        "Yes", // …but the True explanation is believed…
        "False",
        "False",
        "no", // …and the False one is not.
    ]);
    let item = inputs("Is it true that the sun rises in the east?");
    let result = run(&spec, &item, &mut backend, &ALLOW_CODE, |_| {}).unwrap();
    assert_eq!(
        result.calls, 11,
        "two explanations, three beliefs of three samples"
    );
    let calls = prompts(&backend);
    assert!(calls[1].ends_with("A: False, because"));
    assert_eq!(
        calls[5],
        "Is this statement true or false? the sun is seen first over the eastern horizon.\n\
         Answer True or False."
    );
    let Output::Runs { runs } = &result.steps.last().unwrap().output else {
        panic!()
    };
    assert_eq!(
        runs[0].stdout,
        "best assignment: Q=True, E_T=True, E_F=False (weight 4.333)\nTrue\n"
    );
    assert_eq!(result.answer.as_deref(), Some("True"));
}

#[test]
fn select_foreach_samples_and_the_table_tool_are_checked_at_load() {
    let err = load_error(
        "id: t\nname: T\nsection: '0'\npaper: p\ntasks: [x]\ninputs: [question]\nsteps:\n  - id: a\n    select: {from: question, by: most_steps, keep: 1, group: 3}\n",
    );
    assert_eq!(
        err,
        "surveys/methods/bad.yaml:9: steps[0].select.group: `group` (samples per item) goes with `by: disagreement`, and only there"
    );
    let err = load_error(
        "id: t\nname: T\nsection: '0'\npaper: p\ntasks: [x]\ninputs: [question]\nsteps:\n  - id: a\n    select: {from: question, by: disagreement, group: 3, keep: 0}\n",
    );
    assert!(
        err.contains("steps[0].select.keep: is 0; must be at least 1"),
        "{err}"
    );
    let err = load_error(
        "id: t\nname: T\nsection: '0'\npaper: p\ntasks: [x]\ninputs: [question]\nsteps:\n  - id: a\n    foreach: {over: question, mode: sequential, samples: 2, prompt: x}\n",
    );
    assert!(
        err.contains("steps[0].foreach.samples: several samples per item need `mode: independent`"),
        "{err}"
    );
    let err = load_error(
        "id: t\nname: T\nsection: '0'\npaper: p\ntasks: [x]\ninputs: [question]\nsteps:\n  - id: a\n    loop_until: {prompt: x, until: y, max_iterations: 2, tool: {lookup: question, table: question}}\n",
    );
    assert!(
        err.contains("needs exactly one of `lookup` (a passage) and `table` (a CSV table)"),
        "{err}"
    );
    // A table that is not CSV fails its step, naming why.
    let yaml = "id: t\nname: T\nsection: '0'\npaper: p\ntasks: [x]\ninputs: [question]\nsteps:\n  - id: a\n    loop_until: {prompt: x, until: y, max_iterations: 2, tool: {table: question}}\n";
    let mut backend = Scripted::new(&[]);
    let err = run(
        &spec(yaml),
        &inputs("a,b\n1"),
        &mut backend,
        &OPTIONS,
        |_| {},
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "step `a`: tool: row 1 has 1 fields; the header has 2"
    );
    assert!(backend.calls.is_empty());
}

/// The shipped Chain-of-Code method.
fn chain_of_code() -> MethodSpec {
    let path = common::repo_path("surveys/methods/chain-of-code.yaml");
    let text = std::fs::read_to_string(&path).expect("the shipped method");
    MethodSpec::parse(&text, &path).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn chain_of_code_hands_the_model_only_what_python_cannot_run() {
    let spec = chain_of_code();
    let mut backend = Scripted::new(&[
        // The program (the prompt ends in an open code fence).
        "items = ['apple', 'chair', 'banana', 'apple']\ncount = 0\nfor item in items:\n    \
         if is_fruit(item):\n        count += 1\nanswer = count * 10 / 10\n",
        // The LMulator's questions: one per distinct call.
        "True",
        "False, it is furniture.",
        "True",
    ]);
    let result = run(
        &spec,
        &inputs("How many fruits: apple, chair, banana, apple?"),
        &mut backend,
        &ALLOW_CODE,
        |_| {},
    )
    .unwrap();
    // Python did the counting and the arithmetic; the model only judged.
    assert_eq!(result.answer.as_deref(), Some("3.0"));
    assert_eq!(
        backend.calls.len(),
        4,
        "the second apple is answered from the first"
    );
    let asked: Vec<&str> = backend.calls[1..]
        .iter()
        .map(|c| c.prompt.as_str())
        .collect();
    assert!(
        asked[0]
            .contains("Python cannot run `is_fruit('apple')` (on the line `if is_fruit(item):`)"),
        "{}",
        asked[0]
    );
    assert!(
        asked[0].contains("count = 0\nitem = 'apple'\nitems = ["),
        "{}",
        asked[0]
    );
    assert!(
        asked[1].contains("`is_fruit('chair')`") && asked[1].contains("count = 1"),
        "{}",
        asked[1]
    );
    assert!(asked[2].contains("`is_fruit('banana')`") && asked[2].contains("count = 1"));
    let execution = &result.steps.iter().find(|s| s.id == "execution").unwrap();
    assert_eq!(execution.calls.len(), 3);
}

#[test]
fn chain_of_code_has_the_model_set_a_line_python_cannot_run_and_stops_at_its_budget() {
    let spec = chain_of_code();
    // A statement that raises: the model says what it sets, the run goes on.
    let mut backend = Scripted::new(&[
        "total = 12\nshare = total / 0\nanswer = share + 1\n",
        "{'share': 4}",
    ]);
    let result = run(&spec, &inputs("q"), &mut backend, &ALLOW_CODE, |_| {}).unwrap();
    assert_eq!(result.answer.as_deref(), Some("5"));
    let prompt = &backend.calls[1].prompt;
    assert!(prompt.contains("Python could not run the line `share = total / 0` (ZeroDivisionError: division by zero)"), "{prompt}");
    assert!(prompt.contains("total = 12"), "{prompt}");

    // Seventeen distinct calls: the sixteenth answer is the last one asked.
    let mut replies = vec!["answer = sum(1 for i in range(17) if odd(i))\n"];
    replies.extend(std::iter::repeat_n("True", 16));
    let mut backend = Scripted::new(&replies);
    let result = run(&spec, &inputs("q"), &mut backend, &ALLOW_CODE, |_| {}).unwrap();
    assert_eq!(backend.calls.len(), 17);
    assert_eq!(result.answer, None);
    let execution = result.steps.iter().find(|s| s.id == "execution").unwrap();
    let Output::Runs { runs } = &execution.output else {
        panic!("{:?}", execution.output)
    };
    assert!(
        runs[0].stderr.contains("still needed the model after 16 questions (at `answer = sum(1 for i in range(17) if odd(i))`)"),
        "{}",
        runs[0].stderr
    );
}

#[test]
fn lmulator_bounds_and_prompt_variables_are_checked_at_load() {
    let text =
        std::fs::read_to_string(common::repo_path("surveys/methods/chain-of-code.yaml")).unwrap();
    let with = |from: &str, to: &str| {
        assert_eq!(text.matches(from).count(), 1, "{from}");
        MethodSpec::parse(&text.replace(from, to), Path::new("coc.yaml"))
            .unwrap_err()
            .to_string()
    };
    let err = with(
        "max_tokens: 24\n",
        "max_tokens: 24\n        max_calls: 1000\n",
    );
    assert!(
        err.contains("steps[1].run_code.lmulator.max_calls: is 1000; must be at most 64"),
        "{err}"
    );
    let err = with(
        "Python could not run the line `{{ line }}`",
        "{{ variables }}",
    );
    assert!(
        err.contains("lmulator.line: template uses `variables`"),
        "{err}"
    );
}
