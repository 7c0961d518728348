//! The load checks, on small method files.

use super::*;

const METHOD: &str = "\
id: t
name: T
section: '0'
paper: none
tasks: [x]
inputs: [question]
steps:
  - id: tries
    loop_until:
      prompt: '{{ question }}'
      until: 'Finish\\['
      max_iterations: 2
  - id: final
    extract: {from: tries, pattern: !regex 'Finish\\[([^\\]]*)\\]'}
answer: final
";

fn load_error(yaml: &str) -> String {
    MethodSpec::parse(yaml, Path::new("surveys/methods/bad.yaml"))
        .unwrap_err()
        .to_string()
}

#[test]
fn a_bad_regular_expression_is_refused_at_load_with_file_line_and_field() {
    assert!(MethodSpec::parse(METHOD, Path::new("ok.yaml")).is_ok());
    let err = load_error(&METHOD.replace("([^\\]]*)", "([^\\]]*"));
    assert!(
        err.starts_with("surveys/methods/bad.yaml:14: steps[1].extract.pattern: "),
        "{err}"
    );
    assert!(err.contains("not a valid regular expression"), "{err}");
    assert!(!err.contains('\n'), "one line: {err}");
    let err = load_error(&METHOD.replace("'Finish\\['", "'Finish['"));
    assert!(
        err.starts_with("surveys/methods/bad.yaml:11: steps[0].loop_until.until: "),
        "{err}"
    );
    assert!(err.contains("`Finish[`"), "{err}");
}

#[test]
fn the_answer_must_be_a_step() {
    let err = load_error(&METHOD.replace("answer: final", "answer: question"));
    assert_eq!(
        err,
        "surveys/methods/bad.yaml:15: answer: `question` is not a step"
    );
}

const HEAD: &str =
    "id: t\nname: T\nsection: '0'\npaper: none\ntasks: [x]\ninputs: [question]\nsteps:\n";

#[test]
fn a_loop_variable_outside_its_loop_is_refused_at_load() {
    let cases = [
            ("  - id: a\n    generate:\n      prompt: '{{ item }}'\n", "steps[0].generate.prompt", "item"),
            ("  - id: a\n    sample_n:\n      n: 2\n      temperature: 0.5\n      prompt: '{{ previous }}'\n", "steps[0].sample_n.prompt", "previous"),
            ("  - id: a\n    foreach:\n      over: question\n      mode: independent\n      prompt: '{{ item }} {{ history }}'\n", "steps[0].foreach.prompt", "history"),
            ("  - id: a\n    loop_until:\n      until: x\n      max_iterations: 2\n      prompt: '{{ item }}'\n", "steps[0].loop_until.prompt", "item"),
            ("  - id: a\n    run_code:\n      program: 'print({{ transcript }})'\n", "steps[0].run_code.program", "transcript"),
            ("  - id: a\n    generate:\n      prompt: '{{ loop.index }}'\n", "steps[0].generate.prompt", "loop"),
        ];
    for (steps, field, var) in cases {
        let err = load_error(&format!("{HEAD}{steps}"));
        let line = 8 + steps
            .lines()
            .position(|l| l.contains("prompt:") || l.contains("program:"))
            .unwrap_or(0);
        assert!(
            err.starts_with(&format!(
                "surveys/methods/bad.yaml:{line}: {field}: template uses `{var}`"
            )),
            "{err}"
        );
    }
    // Each loop's own variables, and the globals, are fine.
    for steps in [
            "  - id: a\n    foreach:\n      over: question\n      mode: sequential\n      prompt: '{{ item }}{{ history }}{{ exemplars }}{% for i in range(2) %}{{ loop.index }}{% endfor %}'\n",
            "  - id: a\n    loop_until:\n      until: x\n      max_iterations: 2\n      prompt: '{{ iteration }}{{ previous }}{{ transcript }}'\n",
        ] {
            let yaml = format!("{HEAD}{steps}");
            if let Err(e) = MethodSpec::parse(&yaml, Path::new("ok.yaml")) {
                panic!("{e}");
            }
        }
}

#[test]
fn numbers_out_of_bounds_are_refused_at_load_naming_the_field_and_limit() {
    let cases = [
            ("  - id: a\n    sample_n:\n      prompt: q\n      n: 2\n      temperature: .nan\n", 12, "steps[0].sample_n.temperature", "finite"),
            ("  - id: a\n    sample_n:\n      prompt: q\n      n: 2\n      temperature: -0.5\n", 12, "steps[0].sample_n.temperature", "at least 0"),
            ("  - id: a\n    sample_n:\n      prompt: q\n      n: 1000000\n      temperature: 0.7\n", 11, "steps[0].sample_n.n", "at most 64"),
            ("  - id: a\n    sample_n:\n      prompt: q\n      n: 0\n      temperature: 0.7\n", 11, "steps[0].sample_n.n", "at least 1"),
            ("  - id: a\n    run_code:\n      program: 'print(1)'\n      timeout_seconds: 18446744073709551614\n", 11, "steps[0].run_code.timeout_seconds", "at most 600"),
            ("  - id: a\n    loop_until:\n      prompt: q\n      until: x\n      max_iterations: 1000\n", 12, "steps[0].loop_until.max_iterations", "at most 50"),
            ("  - id: a\n    loop_until:\n      prompt: q\n      until: x\n      max_iterations: 0\n", 12, "steps[0].loop_until.max_iterations", "at least 1"),
            ("  - id: a\n    generate:\n      prompt: q\n      max_tokens: 0\n", 11, "steps[0].generate.max_tokens", "at least 1"),
            ("  - id: a\n    generate:\n      prompt: q\n      max_tokens: 100000000\n", 11, "steps[0].generate.max_tokens", "at most 8192"),
            ("  - id: a\n    sample_n: {prompt: q, n: 2, temperature: 0.7}\n  - id: b\n    vote:\n      from: a\n      most_steps: {of: a, keep: 0}\n", 13, "steps[1].vote.most_steps.keep", "at least 1"),
        ];
    for (steps, line, field, limit) in cases {
        let err = load_error(&format!("{HEAD}{steps}"));
        assert!(
            err.starts_with(&format!("surveys/methods/bad.yaml:{line}: {field}: ")),
            "{field}: {err}"
        );
        assert!(err.contains(limit), "{field}: {err}");
    }
}

#[test]
fn an_error_quoting_the_file_stays_one_bounded_line() {
    let e = SpecError {
        path: "m.yaml".into(),
        line: 3,
        field: "answer".into(),
        message: format!("`{}` is not a step", "line\n".repeat(200)),
    };
    let text = e.to_string();
    assert!(!text.contains('\n'), "{text}");
    assert!(text.starts_with("m.yaml:3: answer: `line⏎line⏎"), "{text}");
    assert!(text.chars().count() < 450 && text.ends_with('…'), "{text}");
}

#[test]
fn an_input_must_be_a_name() {
    let err = load_error(&METHOD.replace("inputs: [question]", "inputs: [\"two\\nlines\"]"));
    assert!(
        err.contains("inputs: `two⏎lines` is not an input name"),
        "{err}"
    );
    assert!(!err.contains('\n'), "{err}");
}
