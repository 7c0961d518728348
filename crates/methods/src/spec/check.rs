//! The checks of a method file at load time: references between steps,
//! template variables (through [`Scope`]), and the numbers the file sets;
//! each error names the file, the line and the field.

use std::path::Path;

use super::scope::{environment, Scope};
use super::{ForeachMode, LoopTool, MethodSpec, SpecError, Step, StepKind};

impl MethodSpec {
    /// Checks references between steps, template variables and numbers.
    pub(super) fn check(&self, text: &str, path: &Path) -> Result<(), SpecError> {
        let error = |line: usize, field: String, message: String| SpecError {
            path: path.to_path_buf(),
            line,
            field,
            message,
        };
        // Inputs are names the item supplies and templates read.
        let is_name = |s: &str| {
            let mut chars = s.chars();
            chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                && s.len() <= 64
        };
        if let Some(bad) = self.inputs.iter().find(|i| !is_name(i)) {
            return Err(error(
                line_of(text, "inputs"),
                "inputs".into(),
                format!(
                    "`{}` is not an input name (letters, digits, _ and -, at most 64)",
                    super::one_line(bad, 40)
                ),
            ));
        }
        if self.runnable() && self.steps.is_empty() {
            return Err(error(
                line_of(text, "steps"),
                "steps".into(),
                "a runnable method needs steps".into(),
            ));
        }
        let mut scope = Scope::start(self, |_, _| Some(()));
        let env = environment();
        for (i, step) in self.steps.iter().enumerate() {
            let needle = format!("id: {}", step.id);
            let at = |key: &str| line_in_step(text, &needle, key);
            let field = |name: &str| format!("steps[{i}].{}.{name}", step.kind.name());
            if scope.contains(&step.id) {
                return Err(error(
                    at("id"),
                    format!("steps[{i}].id"),
                    format!("`{}` is used twice", step.id),
                ));
            }
            if let Some((name, message)) = step.out_of_bounds() {
                let key = name.rsplit('.').next().unwrap_or(name);
                return Err(error(at(key), field(name), message));
            }
            for (name, reference) in step.references() {
                if scope.read(name, reference).is_err() {
                    return Err(error(
                        at(name),
                        field(name),
                        format!(
                            "refers to `{reference}`, which is not an input or an earlier step"
                        ),
                    ));
                }
            }
            if let Some(gate) = &step.when {
                let earlier = &self.steps[..i];
                let find = |id: &str| earlier.iter().find(|s| s.id == id);
                let gate_field = |name: &str| format!("steps[{i}].when.{name}");
                if !matches!(find(&gate.vote).map(|s| &s.kind), Some(StepKind::Vote(_))) {
                    return Err(error(
                        at("when"),
                        gate_field("vote"),
                        format!("`{}` is not an earlier vote step", gate.vote),
                    ));
                }
                if !(0.0..=1.0).contains(&gate.agreement_below) {
                    return Err(error(
                        at("when"),
                        gate_field("agreement_below"),
                        format!("is {}; must be from 0 to 1", gate.agreement_below),
                    ));
                }
                if let Some(other) = gate.otherwise.as_deref().filter(|o| find(o).is_none()) {
                    return Err(error(
                        at("when"),
                        gate_field("otherwise"),
                        format!("`{other}` is not an earlier step"),
                    ));
                }
            }
            for (name, template) in step.templates() {
                let compiled = env.template_from_str(template).map_err(|e| {
                    error(
                        at(name),
                        field(name),
                        format!("template does not compile: {e}"),
                    )
                })?;
                let mut undefined: Vec<String> = compiled
                    .undeclared_variables(false)
                    .into_iter()
                    .filter(|v| !scope.template_sees(&step.kind, &env, v))
                    .collect();
                undefined.sort();
                if let Some(v) = undefined.first() {
                    return Err(error(
                        at(name),
                        field(name),
                        format!(
                            "template uses `{v}`, which is not an input, an earlier step, \
                             `exemplars`, a global or {}",
                            defines(&step.kind)
                        ),
                    ));
                }
            }
            scope.add_step(&step.id, ());
        }
        if let Some(answer) = &self.answer {
            if scope.step(answer).is_none() {
                return Err(error(
                    line_of(text, "answer:"),
                    "answer".into(),
                    format!("`{answer}` is not a step"),
                ));
            }
        }
        Ok(())
    }
}

/// What a primitive defines for its templates, for an error.
fn defines(kind: &StepKind) -> String {
    let locals: Vec<String> = kind
        .locals()
        .iter()
        .map(|l| format!("`{}`", l.name()))
        .collect();
    match kind {
        StepKind::Foreach(f) if f.mode == ForeachMode::Independent => format!(
            "a variable `foreach` defines ({}; `history` only with `mode: sequential`)",
            locals.join(", ")
        ),
        _ if !locals.is_empty() => format!(
            "a variable `{}` defines ({})",
            kind.name(),
            locals.join(", ")
        ),
        _ => format!(
            "a variable of its primitive (`{}` defines none: `item` and `history` are \
             `foreach`'s, `iteration`, `previous` and `transcript` are `loop_until`'s)",
            kind.name()
        ),
    }
}

/// The bounds of the numbers a method file sets (every shipped method is
/// well inside them).
pub(crate) const MAX_SAMPLES: usize = 64;
pub(crate) const MAX_TEMPERATURE: f64 = 2.0;
pub(crate) const MAX_TOKENS: usize = 8192;
pub(crate) const MAX_ITERATIONS: usize = 50;
pub(crate) const MAX_TIMEOUT_SECONDS: u64 = 600;

/// Why `value` is outside `min..=max`, if it is.
fn outside<T: PartialOrd + std::fmt::Display>(value: T, min: T, max: T) -> Option<String> {
    if value < min {
        Some(format!(
            "is {value}; must be at least {min} (and at most {max})"
        ))
    } else if value > max {
        Some(format!("is {value}; must be at most {max}"))
    } else {
        None
    }
}

/// A sampling temperature: a finite number from 0 to [`MAX_TEMPERATURE`].
fn bad_temperature(t: f64) -> Option<String> {
    if t.is_finite() {
        outside(t, 0.0, MAX_TEMPERATURE)
    } else {
        Some(format!(
            "is {t}; must be a finite number from 0 to {MAX_TEMPERATURE}"
        ))
    }
}

/// A call's token budget, when the step sets one.
fn bad_tokens(max_tokens: Option<usize>) -> Option<String> {
    max_tokens.and_then(|n| outside(n, 1, MAX_TOKENS))
}

impl Step {
    /// The first number of this step outside its bounds: (field, why).
    fn out_of_bounds(&self) -> Option<(&'static str, String)> {
        let tokens = |max_tokens| bad_tokens(max_tokens).map(|m| ("max_tokens", m));
        match &self.kind {
            StepKind::Generate(g) => tokens(g.max_tokens),
            StepKind::SampleN(s) => outside(s.n, 1, MAX_SAMPLES)
                .map(|m| ("n", m))
                .or_else(|| bad_temperature(s.temperature).map(|m| ("temperature", m)))
                .or_else(|| tokens(s.max_tokens)),
            StepKind::Foreach(f) => outside(f.samples, 1, MAX_SAMPLES)
                .map(|m| ("samples", m))
                .or_else(|| bad_temperature(f.temperature).map(|m| ("temperature", m)))
                .or_else(|| tokens(f.max_tokens)),
            StepKind::Select(s) => outside(s.keep, 1, MAX_SAMPLES)
                .map(|m| ("keep", m))
                .or_else(|| {
                    s.group
                        .and_then(|g| outside(g, 1, MAX_SAMPLES))
                        .map(|m| ("group", m))
                }),
            StepKind::LoopUntil(l) => outside(l.max_iterations, 1, MAX_ITERATIONS)
                .map(|m| ("max_iterations", m))
                .or_else(|| tokens(l.max_tokens)),
            StepKind::Vote(v) => v
                .most_steps
                .as_ref()
                .and_then(|m| outside(m.keep, 1, MAX_SAMPLES))
                .map(|m| ("most_steps.keep", m)),
            StepKind::RunCode(r) => r
                .timeout_seconds
                .and_then(|t| outside(t, 1, MAX_TIMEOUT_SECONDS))
                .map(|m| ("timeout_seconds", m))
                .or_else(|| {
                    let lm = r.lmulator.as_ref()?;
                    outside(lm.max_calls(), 1, MAX_SAMPLES)
                        .map(|m| ("lmulator.max_calls", m))
                        .or_else(|| bad_tokens(lm.max_tokens).map(|m| ("lmulator.max_tokens", m)))
                }),
            StepKind::Search(search) => {
                let calls = [&search.propose, &search.sample, &search.vote];
                outside(search.depth, 1, MAX_ITERATIONS)
                    .map(|m| ("depth", m))
                    .or_else(|| outside(search.breadth, 1, MAX_SAMPLES).map(|m| ("breadth", m)))
                    .or_else(|| {
                        calls.iter().filter_map(|c| c.as_ref()).find_map(|c| {
                            outside(c.n, 1, MAX_SAMPLES)
                                .map(|m| ("n", m))
                                .or_else(|| {
                                    bad_temperature(c.temperature).map(|m| ("temperature", m))
                                })
                                .or_else(|| tokens(c.max_tokens))
                        })
                    })
                    .or_else(|| {
                        search.value.as_ref().and_then(|v| {
                            outside(v.n, 1, MAX_SAMPLES)
                                .map(|m| ("value.n", m))
                                .or_else(|| {
                                    bad_temperature(v.temperature).map(|m| ("value.temperature", m))
                                })
                                .or_else(|| tokens(v.max_tokens))
                                .or_else(|| {
                                    v.scores.values().find(|x| !x.is_finite() || **x < 0.0).map(
                                        |x| {
                                            (
                                                "value.scores",
                                                format!("{x} is not a finite score of at least 0"),
                                            )
                                        },
                                    )
                                })
                        })
                    })
            }
            StepKind::CheckSteps(c) => outside(c.max_revisions, 0, MAX_ITERATIONS)
                .map(|m| ("max_revisions", m))
                .or_else(|| tokens(c.max_tokens)),
            StepKind::Extract(_) => None,
        }
    }

    /// (field, name) of everything this step reads by name; the runner
    /// reads each through [`Scope::read`] with the same field.
    fn references(&self) -> Vec<(&'static str, &String)> {
        match &self.kind {
            StepKind::Extract(e) => vec![("from", &e.from)],
            StepKind::Vote(v) => {
                let mut refs = vec![("from", &v.from)];
                refs.extend(v.most_steps.iter().map(|m| ("most_steps", &m.of)));
                refs
            }
            StepKind::Foreach(f) => vec![("over", &f.over)],
            StepKind::CheckSteps(c) => vec![("from", &c.from)],
            StepKind::RunCode(r) => r.from.iter().map(|f| ("from", f)).collect(),
            StepKind::LoopUntil(l) => l
                .tool
                .iter()
                .filter_map(LoopTool::source)
                .map(|s| ("tool", s))
                .collect(),
            StepKind::Select(s) => vec![("from", &s.from)],
            _ => vec![],
        }
    }

    /// (field, template) of every prompt this step renders.
    fn templates(&self) -> Vec<(&'static str, &String)> {
        match &self.kind {
            StepKind::Generate(g) => vec![("prompt", &g.prompt)],
            StepKind::SampleN(s) => vec![("prompt", &s.prompt)],
            StepKind::Foreach(f) => vec![("prompt", &f.prompt)],
            StepKind::LoopUntil(l) => vec![("prompt", &l.prompt)],
            StepKind::RunCode(r) => {
                let mut templates: Vec<(&'static str, &String)> =
                    r.program.iter().map(|p| ("program", p)).collect();
                if let Some(lm) = &r.lmulator {
                    templates.push(("lmulator.call", &lm.call));
                    templates.push(("lmulator.line", &lm.line));
                }
                templates
            }
            StepKind::CheckSteps(c) => vec![
                ("affirm", &c.affirm),
                ("negate", &c.negate),
                ("review", &c.review),
                ("revise", &c.revise),
                ("continue", &c.continue_chain),
            ],
            StepKind::Search(search) => {
                let mut t: Vec<(&'static str, &String)> = Vec::new();
                t.extend(search.propose.iter().map(|c| ("propose", &c.prompt)));
                t.extend(search.sample.iter().map(|c| ("sample", &c.prompt)));
                t.extend(search.value.iter().map(|v| ("value", &v.prompt)));
                t.extend(search.vote.iter().map(|c| ("vote", &c.prompt)));
                t
            }
            _ => vec![],
        }
    }
}

/// The line of `key:` in the step whose `id` line contains `step_needle`
/// (that line itself when the key is not found before the next step).
pub(super) fn line_in_step(text: &str, step_needle: &str, key: &str) -> usize {
    let start = line_of(text, step_needle);
    if start == 0 {
        return 0;
    }
    let pattern = format!("{key}:");
    for (offset, line) in text.lines().skip(start - 1).enumerate() {
        if offset > 0 && line.trim_start().starts_with("- ") {
            break;
        }
        // `until:` is not found in `loop_until:`.
        let is_key = line.match_indices(&pattern).any(|(at, _)| {
            !line
                .get(..at)
                .and_then(|before| before.chars().next_back())
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
        });
        if is_key {
            return start + offset;
        }
    }
    start
}

/// The 1-based line where `needle` first appears (0 when absent).
pub(super) fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map_or(0, |i| i + 1)
}
