//! A suite (prompt file): its YAML read into [`Suite`] and checked before
//! anything runs. A typo in a key, a wrong type, an unknown method, a
//! dataset row without a mapped field, a template variable no case has,
//! or an assertion that cannot be judged is one [`SuiteError`] naming the
//! file, line and column.
//!
//! ```yaml
//! name: arithmetic
//! system: You are a careful tutor.        # optional
//! prompts:                                # variants (A/B), or `prompt: TEMPLATE`
//!   - {id: plain, template: "{{question}}"}
//!   - {id: steps, template: "{{question}} Think step by step."}
//! methods: [direct, zero-shot-cot]        # `direct`: the prompt as it is
//! sampling: {temperature: 0, max_tokens: 128, seed: 0}
//! repeat: 1                               # independent samples per item
//! extract: last_number                    # the direct reply's answer
//! data: {file: items.jsonl, fields: {question: q, answer: a}, limit: 50, shuffle: 7}
//! cases: [{vars: {question: "2+2?", answer: "4"}}]
//! assert: [{type: numeric, value: "{{answer}}"}]
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path as FsPath, PathBuf};

use promptlab_backend::SamplingParams;
use promptlab_methods::spec::MethodSpec;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::Deserialize;

use crate::assertion::{expected_letter, Assertion, Check, Combine, Target};
use crate::data;
use crate::locate::{locate, Path};

/// Why a suite cannot be used: where, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SuiteError {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    /// The node, as `prompts[1].template` (empty when unknown).
    pub field: String,
    pub message: String,
}

impl fmt::Display for SuiteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.path.display(), self.line, self.column)?;
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        write!(f, "{}", self.message)
    }
}

/// A prompt variant: one arm of an A/B test.
#[derive(Debug, Clone)]
pub struct Variant {
    pub id: String,
    pub template: String,
    pub system: Option<String>,
    /// Where the template and the system prompt are written.
    template_at: Path,
    system_at: Path,
}

/// How an item is put to the model.
#[derive(Debug, Clone)]
pub enum Method {
    /// The rendered prompt as one call.
    Direct,
    /// A survey method, with the rendered prompt as its question.
    Survey(Box<MethodSpec>),
}

impl Method {
    pub fn id(&self) -> &str {
        match self {
            Method::Direct => "direct",
            Method::Survey(spec) => &spec.id,
        }
    }
}

/// How the direct reply's answer is taken from it.
#[derive(Debug, Clone)]
pub enum Extract {
    /// The whole reply, trimmed.
    Whole,
    LastNumber,
    /// The option letter, as `(B)`.
    Choice,
    /// The first capture group (or the match) of a regular expression.
    Regex(regex::Regex),
}

impl Extract {
    pub fn apply(&self, reply: &str) -> Option<String> {
        match self {
            Extract::Whole => Some(reply.trim().to_string()),
            Extract::LastNumber => crate::assertion::last_number(reply).map(|n| n.to_string()),
            Extract::Choice => crate::assertion::choice_letter(reply).map(|c| format!("({c})")),
            Extract::Regex(re) => re.captures(reply).map(|c| {
                c.get(1)
                    .or_else(|| c.get(0))
                    .map_or(String::new(), |m| m.as_str().trim().to_string())
            }),
        }
    }

    fn name(&self) -> String {
        match self {
            Extract::Whole => "whole".into(),
            Extract::LastNumber => "last_number".into(),
            Extract::Choice => "choice".into(),
            Extract::Regex(re) => format!("regex:{}", re.as_str()),
        }
    }
}

/// One item: its variables and its own assertions.
#[derive(Debug, Clone)]
pub struct Case {
    /// The `id` given, or the index from 1 in the data.
    pub id: String,
    pub vars: BTreeMap<String, String>,
    /// Assertions of this case (index into the raw list, with its path).
    assertions: Vec<(RawAssertion, Path)>,
    /// Where it was written, for errors (`cases[2]` or `items.jsonl:3`).
    pub origin: String,
}

#[derive(Debug, Clone)]
pub struct Suite {
    pub name: String,
    /// What the file says it tests (one paragraph, as written).
    pub description: Option<String>,
    pub path: PathBuf,
    /// The model the file names (the command line may override it).
    pub model: Option<String>,
    pub variants: Vec<Variant>,
    pub methods: Vec<Method>,
    pub sampling: SamplingParams,
    pub repeat: usize,
    pub extract: Extract,
    pub cases: Vec<Case>,
    /// `run_code` methods may run model-written programs (sandboxed).
    pub allow_code: bool,
    /// Assertions for every case.
    shared: Vec<(RawAssertion, Path)>,
    text: String,
}

/// What the command line changes in a suite.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    pub repeat: Option<usize>,
    pub limit: Option<usize>,
}

// ------------------------------------------------------------ the YAML --

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSuite {
    name: Option<String>,
    description: Option<String>,
    model: Option<String>,
    system: Option<String>,
    prompt: Option<String>,
    prompts: Option<Vec<RawVariant>>,
    methods: Option<Vec<String>>,
    sampling: Option<RawSampling>,
    repeat: Option<usize>,
    extract: Option<String>,
    data: Option<RawData>,
    cases: Option<Vec<RawCase>>,
    #[serde(rename = "assert")]
    assertions: Option<Vec<RawAssertion>>,
    allow_code: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVariant {
    id: String,
    template: String,
    system: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSampling {
    temperature: Option<f64>,
    top_p: Option<f64>,
    top_k: Option<usize>,
    max_tokens: Option<usize>,
    seed: Option<u64>,
    stop: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawData {
    file: String,
    /// Template variable ← dataset field.
    fields: Option<BTreeMap<String, String>>,
    /// The field holding each row's id.
    id: Option<String>,
    limit: Option<usize>,
    /// Shuffle the rows with this seed before `limit`.
    shuffle: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    id: Option<serde_norway::Value>,
    #[serde(default)]
    vars: BTreeMap<String, serde_norway::Value>,
    #[serde(rename = "assert")]
    assertions: Option<Vec<RawAssertion>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAssertion {
    #[serde(rename = "type")]
    kind: String,
    value: Option<serde_norway::Value>,
    #[serde(default)]
    not: bool,
    weight: Option<f64>,
    tolerance: Option<f64>,
    #[serde(default)]
    ignore_case: bool,
    /// json-field: the field's path.
    path: Option<String>,
    /// attention: the prompt text whose share is measured.
    span: Option<String>,
    /// `answer` (default) or `output`.
    on: Option<String>,
}

/// Assertion types, as written.
pub const ASSERTION_TYPES: &[&str] = &[
    "equals",
    "contains",
    "contains-any",
    "contains-all",
    "not-contains",
    "regex",
    "numeric",
    "choice",
    "json",
    "json-field",
    "max-tokens",
    "perplexity",
    "attention",
];

/// Most trials one suite may plan (a bound on work and memory).
pub const MAX_TRIALS: usize = 1_000_000;

/// Work a template may do (minijinja fuel), so a loop cannot run away.
const TEMPLATE_FUEL: u64 = 200_000;

fn environment() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_fuel(Some(TEMPLATE_FUEL));
    // `{{ answer | after("####") }}`: GSM8K's final answer after its
    // worked solution.
    env.add_filter("after", |text: String, separator: String| {
        match text.rfind(&separator) {
            Some(at) => text[at + separator.len()..].trim().to_string(),
            None => text,
        }
    });
    env
}

/// A YAML scalar as text (numbers and booleans as written).
fn scalar_text(value: &serde_norway::Value) -> Option<String> {
    match value {
        serde_norway::Value::String(s) => Some(s.clone()),
        serde_norway::Value::Number(n) => Some(n.to_string()),
        serde_norway::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

struct Checker<'a> {
    path: &'a FsPath,
    text: &'a str,
}

impl Checker<'_> {
    fn error(&self, at: &Path, message: impl Into<String>) -> SuiteError {
        let position = locate(self.text, at);
        SuiteError {
            path: self.path.to_path_buf(),
            line: position.line,
            column: position.column,
            field: at.to_string(),
            message: message.into(),
        }
    }
}

fn root() -> Path {
    Path::default()
}

impl Suite {
    /// Reads and checks the suite at `path`; datasets are relative to it.
    pub fn load(path: &FsPath, overrides: &Overrides) -> Result<Suite, SuiteError> {
        let text = std::fs::read_to_string(path).map_err(|e| SuiteError {
            path: path.to_path_buf(),
            line: 0,
            column: 0,
            field: String::new(),
            message: format!("cannot read the suite: {e}"),
        })?;
        Suite::parse(&text, path, overrides)
    }

    pub fn parse(text: &str, path: &FsPath, overrides: &Overrides) -> Result<Suite, SuiteError> {
        let at_start = |message: String, line: usize, column: usize| SuiteError {
            path: path.to_path_buf(),
            line,
            column,
            field: String::new(),
            message,
        };
        if let Some(line) = promptlab_methods::yaml_depth::too_deep(text) {
            return Err(at_start("nested too deeply".into(), line, 1));
        }
        let raw: RawSuite = serde_norway::from_str(text).map_err(|e| {
            let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
            let message = e.to_string();
            let message = match message.rfind(" at line ") {
                Some(cut) => message[..cut].to_string(),
                None => message,
            };
            at_start(message, line, column)
        })?;
        let check = Checker { path, text };
        let name = raw.name.clone().unwrap_or_else(|| {
            path.file_stem()
                .map_or("suite".into(), |s| s.to_string_lossy().into_owned())
        });
        let variants = variants(&check, &raw)?;
        let methods = methods(&check, &raw, path)?;
        let sampling = sampling(&check, raw.sampling.as_ref())?;
        let repeat = overrides.repeat.or(raw.repeat).unwrap_or(1);
        if repeat == 0 || repeat > 1000 {
            return Err(check.error(&root().key("repeat"), "expected 1 to 1000 samples per item"));
        }
        let extract = match raw.extract.as_deref() {
            None | Some("whole") => Extract::Whole,
            Some("last_number") => Extract::LastNumber,
            Some("choice") => Extract::Choice,
            Some(other) => match other.strip_prefix("regex:") {
                Some(source) => Extract::Regex(regex::Regex::new(source).map_err(|e| {
                    check.error(
                        &root().key("extract"),
                        format!("bad regular expression: {e}"),
                    )
                })?),
                None => {
                    return Err(check.error(
                        &root().key("extract"),
                        format!(
                            "expected whole, last_number, choice or regex:PATTERN, not {other:?}"
                        ),
                    ))
                }
            },
        };
        let shared: Vec<(RawAssertion, Path)> = raw
            .assertions
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, a)| (a.clone(), root().key("assert").index(i)))
            .collect();
        let mut cases = inline_cases(&check, &raw)?;
        if let Some(data) = &raw.data {
            cases.extend(dataset_cases(&check, data, path, cases.len())?);
        }
        if cases.is_empty() {
            return Err(check.error(&root(), "no cases: give `cases` or `data`"));
        }
        if let Some(limit) = overrides.limit {
            cases.truncate(limit);
        }
        let suite = Suite {
            name,
            description: raw.description,
            path: path.to_path_buf(),
            model: raw.model,
            variants,
            methods,
            sampling,
            repeat,
            extract,
            cases,
            allow_code: raw.allow_code.unwrap_or(false),
            shared,
            text: text.to_string(),
        };
        suite.check_cases()?;
        Ok(suite)
    }

    fn checker(&self) -> Checker<'_> {
        Checker {
            path: &self.path,
            text: &self.text,
        }
    }

    /// Every template renders for every case, every assertion can be built
    /// for it, and every method has its inputs.
    fn check_cases(&self) -> Result<(), SuiteError> {
        let check = self.checker();
        let env = environment();
        let total = self.cases.len() * self.variants.len() * self.methods.len() * self.repeat;
        if total > MAX_TRIALS {
            return Err(check.error(
                &root(),
                format!(
                    "{total} trials (cases × prompts × methods × repeat); at most {MAX_TRIALS}"
                ),
            ));
        }
        for variant in &self.variants {
            check_variables(
                &check,
                &env,
                &variant.template,
                &variant.template_at,
                &self.cases,
            )?;
            if let Some(system) = &variant.system {
                check_variables(&check, &env, system, &variant.system_at, &self.cases)?;
            }
        }
        for (m, method) in self.methods.iter().enumerate() {
            if let Method::Survey(spec) = method {
                for input in spec.inputs.iter().filter(|i| *i != "question") {
                    if let Some(case) = self.cases.iter().find(|c| !c.vars.contains_key(input)) {
                        return Err(check.error(
                            &root().key("methods").index(m),
                            format!(
                                "method {} needs the input {input:?}, which {} does not have",
                                spec.id, case.origin
                            ),
                        ));
                    }
                }
            }
        }
        for case in &self.cases {
            for (raw, at) in self.shared.iter().chain(&case.assertions) {
                self.assertion(raw, at, &case.vars)?;
            }
        }
        Ok(())
    }

    /// Builds an assertion for a case's variables.
    fn assertion(
        &self,
        raw: &RawAssertion,
        at: &Path,
        vars: &BTreeMap<String, String>,
    ) -> Result<Assertion, SuiteError> {
        let check = self.checker();
        let env = environment();
        let render = |template: &str, field: &str| {
            env.render_str(template, vars)
                .map_err(|e| check.error(&at.clone().key(field), format!("template: {e}")))
        };
        let value_text = |field: &str| -> Result<String, SuiteError> {
            let value = raw
                .value
                .as_ref()
                .ok_or_else(|| check.error(at, format!("{} needs a `value`", raw.kind)))?;
            let text = scalar_text(value).ok_or_else(|| {
                check.error(&at.clone().key("value"), "expected a text or a number")
            })?;
            render(&text, field)
        };
        let value_list = || -> Result<Vec<String>, SuiteError> {
            match &raw.value {
                Some(serde_norway::Value::Sequence(items)) if !items.is_empty() => items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let text = scalar_text(v).ok_or_else(|| {
                            check.error(&at.clone().key("value").index(i), "expected a text")
                        })?;
                        render(&text, "value")
                    })
                    .collect(),
                Some(serde_norway::Value::Sequence(_)) => {
                    Err(check.error(&at.clone().key("value"), "expected at least one value"))
                }
                _ => Ok(vec![value_text("value")?]),
            }
        };
        let number = |field: &str, text: String| {
            text.trim()
                .replace(',', "")
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .ok_or_else(|| {
                    check.error(
                        &at.clone().key(field),
                        format!("expected a number, got {text:?}"),
                    )
                })
        };
        let mut negate = raw.not;
        let check_kind = match raw.kind.as_str() {
            "equals" => Check::Equals {
                value: value_text("value")?,
                ignore_case: raw.ignore_case,
            },
            kind @ ("contains" | "contains-any" | "contains-all" | "not-contains") => {
                if kind == "not-contains" {
                    negate = !negate;
                }
                Check::Contains {
                    values: value_list()?,
                    combine: if kind == "contains-all" {
                        Combine::All
                    } else {
                        Combine::Any
                    },
                    ignore_case: raw.ignore_case,
                }
            }
            "regex" => {
                let source = value_text("value")?;
                Check::Regex {
                    regex: regex::Regex::new(&source).map_err(|e| {
                        check.error(
                            &at.clone().key("value"),
                            format!("bad regular expression: {}", one_line(&e.to_string())),
                        )
                    })?,
                }
            }
            "numeric" => Check::Numeric {
                value: number("value", value_text("value")?)?,
                tolerance: match raw.tolerance {
                    Some(t) if t.is_finite() && t >= 0.0 => t,
                    Some(_) => {
                        return Err(
                            check.error(&at.clone().key("tolerance"), "expected a number ≥ 0")
                        )
                    }
                    None => 1e-6,
                },
            },
            "choice" => {
                let text = value_text("value")?;
                Check::Choice {
                    letter: expected_letter(&text).ok_or_else(|| {
                        check.error(
                            &at.clone().key("value"),
                            format!("expected an option letter like B or (B), got {text:?}"),
                        )
                    })?,
                }
            }
            "json" => Check::Json,
            "json-field" => Check::JsonField {
                path: raw
                    .path
                    .clone()
                    .ok_or_else(|| check.error(at, "json-field needs a `path` (like a.b.0)"))?,
                value: value_text("value")?,
            },
            "max-tokens" => {
                let n = number("value", value_text("value")?)?;
                if n < 0.0 || n.fract() != 0.0 {
                    return Err(check.error(
                        &at.clone().key("value"),
                        "expected a whole number of tokens",
                    ));
                }
                Check::MaxTokens { limit: n as usize }
            }
            "perplexity" => {
                if let Some(m) = self
                    .methods
                    .iter()
                    .position(|m| !matches!(m, Method::Direct))
                {
                    return Err(check.error(
                        at,
                        format!(
                            "perplexity is measured on a direct reply; the suite also runs method {}",
                            self.methods[m].id()
                        ),
                    ));
                }
                let below = number("value", value_text("value")?)?;
                Check::Perplexity { below }
            }
            "attention" => {
                let span = raw.span.as_ref().ok_or_else(|| {
                    check.error(at, "attention needs a `span`: text of the prompt")
                })?;
                let span = render(span, "span")?;
                if span.trim().is_empty() {
                    return Err(check.error(&at.clone().key("span"), "the span is empty"));
                }
                let above = number("value", value_text("value")?)?;
                if !(0.0..=1.0).contains(&above) {
                    return Err(
                        check.error(&at.clone().key("value"), "expected a share between 0 and 1")
                    );
                }
                Check::Attention { span, above }
            }
            other => {
                return Err(check.error(
                    &at.clone().key("type"),
                    format!(
                        "unknown assertion type {other:?} (known: {})",
                        ASSERTION_TYPES.join(", ")
                    ),
                ))
            }
        };
        let weight = match raw.weight {
            None => 1.0,
            Some(w) if w.is_finite() && w >= 0.0 => w,
            Some(_) => return Err(check.error(&at.clone().key("weight"), "expected a weight ≥ 0")),
        };
        let target = match raw.on.as_deref() {
            None | Some("answer") => Target::Answer,
            Some("output") => Target::Output,
            Some(other) => {
                return Err(check.error(
                    &at.clone().key("on"),
                    format!("expected answer or output, not {other:?}"),
                ))
            }
        };
        Ok(Assertion {
            check: check_kind,
            negate,
            weight,
            target,
        })
    }

    /// The assertions of `case`, built for its variables (checked at load).
    pub fn assertions(&self, case: &Case) -> Result<Vec<Assertion>, SuiteError> {
        self.shared
            .iter()
            .chain(&case.assertions)
            .map(|(raw, at)| self.assertion(raw, at, &case.vars))
            .collect()
    }

    /// `template` rendered for `case`.
    pub fn render(&self, template: &str, case: &Case) -> Result<String, SuiteError> {
        environment().render_str(template, &case.vars).map_err(|e| {
            self.checker()
                .error(&root(), format!("{}: template: {e}", case.origin))
        })
    }

    /// Where the first attention assertion is written
    /// (`FILE:LINE:COLUMN`), if the suite has one.
    pub fn first_attention_check(&self) -> Option<String> {
        let cases = self.cases.iter().flat_map(|c| &c.assertions);
        let (_, at) = self
            .shared
            .iter()
            .chain(cases)
            .find(|(raw, _)| raw.kind == "attention")?;
        let p = locate(&self.text, at);
        Some(format!("{}:{}:{}", self.path.display(), p.line, p.column))
    }

    /// What the store key records of the suite's own settings.
    pub fn extract_name(&self) -> String {
        self.extract.name()
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Every variable `template` uses is in every case.
fn check_variables(
    check: &Checker,
    env: &minijinja::Environment,
    template: &str,
    at: &Path,
    cases: &[Case],
) -> Result<(), SuiteError> {
    let parsed = env
        .template_from_str(template)
        .map_err(|e| check.error(at, format!("template: {}", one_line(&e.to_string()))))?;
    let used: BTreeSet<String> = parsed.undeclared_variables(false).into_iter().collect();
    for name in &used {
        if env.globals().any(|(g, _)| g == name) {
            continue;
        }
        if let Some(case) = cases.iter().find(|c| !c.vars.contains_key(name)) {
            let known: Vec<&str> = case.vars.keys().map(String::as_str).collect();
            return Err(check.error(
                at,
                format!(
                    "uses {{{{{name}}}}}, which {} does not have (it has: {})",
                    case.origin,
                    if known.is_empty() {
                        "nothing".into()
                    } else {
                        known.join(", ")
                    }
                ),
            ));
        }
    }
    for case in cases {
        parsed.render(&case.vars).map_err(|e| {
            check.error(at, format!("{}: {}", case.origin, one_line(&e.to_string())))
        })?;
    }
    Ok(())
}

fn variants(check: &Checker, raw: &RawSuite) -> Result<Vec<Variant>, SuiteError> {
    let variants = match (&raw.prompt, &raw.prompts) {
        (Some(_), Some(_)) => {
            return Err(check.error(
                &root().key("prompt"),
                "give `prompt` or `prompts`, not both",
            ))
        }
        (None, None) => return Err(check.error(&root(), "no prompt: give `prompt` or `prompts`")),
        (Some(template), None) => vec![Variant {
            id: "prompt".into(),
            template: template.clone(),
            system: raw.system.clone(),
            template_at: root().key("prompt"),
            system_at: root().key("system"),
        }],
        (None, Some(list)) => list
            .iter()
            .enumerate()
            .map(|(i, v)| Variant {
                id: v.id.clone(),
                template: v.template.clone(),
                system: v.system.clone().or_else(|| raw.system.clone()),
                template_at: root().key("prompts").index(i).key("template"),
                system_at: match v.system {
                    Some(_) => root().key("prompts").index(i).key("system"),
                    None => root().key("system"),
                },
            })
            .collect(),
    };
    if variants.is_empty() {
        return Err(check.error(&root().key("prompts"), "expected at least one prompt"));
    }
    for (i, v) in variants.iter().enumerate() {
        let at = root().key("prompts").index(i).key("id");
        if v.id.trim().is_empty() || v.id.chars().any(char::is_control) {
            return Err(check.error(&at, "expected a non-empty id on one line"));
        }
        if variants[..i].iter().any(|w| w.id == v.id) {
            return Err(check.error(&at, format!("the id {:?} is used twice", v.id)));
        }
    }
    Ok(variants)
}

fn methods(check: &Checker, raw: &RawSuite, suite: &FsPath) -> Result<Vec<Method>, SuiteError> {
    let ids = raw.methods.clone().unwrap_or_else(|| vec!["direct".into()]);
    if ids.is_empty() {
        return Err(check.error(&root().key("methods"), "expected at least one method"));
    }
    let catalog =
        promptlab_methods::catalog::all().map_err(|e| check.error(&root(), e.to_string()))?;
    let mut methods = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let at = root().key("methods").index(i);
        if ids[..i].contains(id) {
            return Err(check.error(&at, format!("the method {id} is listed twice")));
        }
        if id == "direct" {
            methods.push(Method::Direct);
            continue;
        }
        let spec = if id.ends_with(".yaml") {
            let file = suite.parent().unwrap_or(FsPath::new(".")).join(id);
            MethodSpec::load(&file).map_err(|e| check.error(&at, e.to_string()))?
        } else {
            promptlab_methods::catalog::find(&catalog, id)
                .map_err(|e| check.error(&at, format!("{e}; or `direct`")))?
                .clone()
        };
        spec.check_runnable()
            .map_err(|e| check.error(&at, e.to_string()))?;
        if spec.runs_code() && !raw.allow_code.unwrap_or(false) {
            return Err(check.error(
                &at,
                format!("method {} runs model-written code: set `allow_code: true` to allow it (sandboxed)", spec.id),
            ));
        }
        methods.push(Method::Survey(Box::new(spec)));
    }
    Ok(methods)
}

fn sampling(check: &Checker, raw: Option<&RawSampling>) -> Result<SamplingParams, SuiteError> {
    let mut params = SamplingParams::greedy();
    let Some(raw) = raw else { return Ok(params) };
    let at = |field: &str| root().key("sampling").key(field);
    if let Some(t) = raw.temperature {
        if !(t.is_finite() && (0.0..=5.0).contains(&t)) {
            return Err(check.error(&at("temperature"), "expected a temperature from 0 to 5"));
        }
        params.temperature = t;
    }
    if let Some(p) = raw.top_p {
        if !(p.is_finite() && p > 0.0 && p <= 1.0) {
            return Err(check.error(&at("top_p"), "expected top_p in (0, 1]"));
        }
        params.top_p = p;
    }
    if let Some(k) = raw.top_k {
        params.top_k = k;
    }
    if let Some(n) = raw.max_tokens {
        if n == 0 || n > 32_768 {
            return Err(check.error(&at("max_tokens"), "expected 1 to 32768 tokens"));
        }
        params.max_tokens = n;
    }
    if let Some(seed) = raw.seed {
        params.seed = seed;
    }
    if let Some(stop) = &raw.stop {
        if let Some(i) = stop.iter().position(String::is_empty) {
            return Err(check.error(&at("stop").index(i), "a stop string is empty"));
        }
        params.stop = stop.clone();
    }
    Ok(params)
}

fn inline_cases(check: &Checker, raw: &RawSuite) -> Result<Vec<Case>, SuiteError> {
    let mut cases = Vec::new();
    for (i, case) in raw.cases.iter().flatten().enumerate() {
        let at = root().key("cases").index(i);
        let mut vars = BTreeMap::new();
        for (name, value) in &case.vars {
            let text = scalar_text(value).ok_or_else(|| {
                check.error(
                    &at.clone().key("vars").key(name),
                    "expected a text or a number",
                )
            })?;
            vars.insert(name.clone(), text);
        }
        let id = match &case.id {
            Some(v) => scalar_text(v)
                .ok_or_else(|| check.error(&at.clone().key("id"), "expected a text or a number"))?,
            None => (i + 1).to_string(),
        };
        cases.push(Case {
            id,
            vars,
            assertions: case
                .assertions
                .iter()
                .flatten()
                .enumerate()
                .map(|(j, a)| (a.clone(), at.clone().key("assert").index(j)))
                .collect(),
            origin: format!("cases[{i}]"),
        });
    }
    let mut seen = BTreeSet::new();
    for (i, case) in cases.iter().enumerate() {
        if !seen.insert(case.id.clone()) {
            return Err(check.error(
                &root().key("cases").index(i).key("id"),
                format!("the id {:?} is used twice", case.id),
            ));
        }
    }
    Ok(cases)
}

fn dataset_cases(
    check: &Checker,
    raw: &RawData,
    suite: &FsPath,
    first_index: usize,
) -> Result<Vec<Case>, SuiteError> {
    let at = root().key("data");
    let file = suite.parent().unwrap_or(FsPath::new(".")).join(&raw.file);
    let mut rows =
        data::load(&file).map_err(|e| check.error(&at.clone().key("file"), e.to_string()))?;
    if let Some(seed) = raw.shuffle {
        rows.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
    }
    if let Some(limit) = raw.limit {
        if limit == 0 {
            return Err(check.error(&at.clone().key("limit"), "expected at least 1"));
        }
        rows.truncate(limit);
    }
    let shown = file.display().to_string();
    let mut cases = Vec::with_capacity(rows.len());
    let mut seen = BTreeSet::new();
    for (i, row) in rows.into_iter().enumerate() {
        let origin = format!("{shown}{}", row.place);
        let vars = match &raw.fields {
            None => row.fields.clone(),
            Some(fields) => {
                let mut vars = BTreeMap::new();
                for (var, column) in fields {
                    let value = row.fields.get(column).ok_or_else(|| {
                        let has: Vec<&str> = row.fields.keys().map(String::as_str).collect();
                        check.error(
                            &at.clone().key("fields").key(var),
                            format!(
                                "{origin} has no field {column:?} (it has: {})",
                                has.join(", ")
                            ),
                        )
                    })?;
                    vars.insert(var.clone(), value.clone());
                }
                vars
            }
        };
        let id = match &raw.id {
            None => (first_index + i + 1).to_string(),
            Some(column) => row.fields.get(column).cloned().ok_or_else(|| {
                check.error(
                    &at.clone().key("id"),
                    format!("{origin} has no field {column:?}"),
                )
            })?,
        };
        if !seen.insert(id.clone()) {
            return Err(check.error(
                &at.clone().key("id"),
                format!("{origin}: the id {id:?} is used twice"),
            ));
        }
        cases.push(Case {
            id,
            vars,
            assertions: Vec::new(),
            origin,
        });
    }
    Ok(cases)
}
