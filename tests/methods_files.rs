//! The shipped survey data: every method file validates, the catalogue
//! covers the survey's 39 methods, and every runnable method runs end to
//! end on the default model.

mod common;

use std::collections::BTreeMap;

use promptlab_backend::LocalBackend;
use promptlab_methods::catalog;
use promptlab_methods::runner::{run, RunOptions};

fn survey() -> serde_json::Value {
    let text = std::fs::read_to_string(common::repo_path("surveys/survey.yaml")).unwrap();
    serde_norway::from_str(&text).unwrap()
}

#[test]
fn every_method_file_validates_and_the_catalogue_matches_the_survey() {
    let methods = catalog::all().unwrap_or_else(|e| panic!("{e}"));
    let survey = survey();
    let ids: Vec<&str> = survey["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    // §2.1 and §2.2 each come as a zero-shot and a few-shot file, §2.17 as
    // a value search and a vote search.
    assert_eq!(methods.len(), ids.len());
    for m in &methods {
        assert!(
            ids.contains(&m.id.as_str()),
            "{} is not in survey.yaml",
            m.id
        );
    }
    let sections: std::collections::BTreeSet<String> =
        methods.iter().map(|m| m.section.clone()).collect();
    let expected: std::collections::BTreeSet<String> = (1..=39).map(|i| format!("2.{i}")).collect();
    assert_eq!(
        sections, expected,
        "one or more files for each of the 39 sections"
    );
    let tasks: Vec<&str> = survey["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(tasks.len(), 29);
    for m in &methods {
        for t in &m.tasks {
            assert!(
                tasks.contains(&t.as_str()),
                "{}: task `{t}` is not one of the survey's",
                m.id
            );
        }
        if !m.runnable() {
            assert!(
                m.steps.is_empty(),
                "{}: a catalogued-only method has no steps",
                m.id
            );
        }
    }
    let runnable = methods.iter().filter(|m| m.runnable()).count();
    assert!(
        runnable + 1 >= methods.len(),
        "only {runnable} of {} methods runnable",
        methods.len()
    );
}

#[test]
fn every_runnable_method_runs_end_to_end_on_the_default_model() {
    let methods = catalog::all().unwrap();
    let model = common::default_model();
    let mut backend = LocalBackend::new(model);
    let inputs = BTreeMap::from([
        ("question".to_string(), "Tom has 3 apples and buys 4 more. How many apples does he have now?".to_string()),
        ("context".to_string(), "Tom went to the market on Monday. He had 3 apples at home and bought 4 more apples. The market also sold pears.".to_string()),
        ("choices".to_string(), "(A) 5 (B) 7 (C) 12".to_string()),
    ]);
    // Small budgets keep CI quick; the point is that every step runs.
    let options = RunOptions {
        system: None,
        max_tokens: 16,
        cap: Some(16),
        seed: 1,
        allow_code: true,
    };
    // The table methods read a table (CSV) as their context.
    let mut table_inputs = inputs.clone();
    table_inputs.insert(
        "context".into(),
        "Fruit,Price per kg,Stock (kg)\nbanana,1.20,40\ncherry,6.50,8\n".into(),
    );
    for m in methods.iter().filter(|m| m.runnable()) {
        let reads_a_table = m.tasks.first().is_some_and(|t| t == "table-based QA");
        let inputs = if reads_a_table {
            &table_inputs
        } else {
            &inputs
        };
        let result = run(m, inputs, &mut backend, &options, |_| {})
            .unwrap_or_else(|e| panic!("{}: {e}", m.id));
        assert_eq!(result.steps.len(), m.steps.len(), "{}", m.id);
        assert!(result.calls >= 1, "{}", m.id);
        assert!(result.generated_tokens >= 1, "{}", m.id);
        eprintln!(
            "{:<32} calls {:>2}  answer {:?}",
            m.id, result.calls, result.answer
        );
    }
}
