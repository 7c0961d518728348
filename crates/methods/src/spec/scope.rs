//! What a step can read: by name (`from`, `over`, …) the inputs, the
//! exemplars and earlier outputs ([`Scope`]); in its templates also the
//! variables its primitive defines for each call ([`Local`]) and the
//! template environment's globals. One definition, used by the load check
//! and by the runner alike.

use std::collections::BTreeMap;

use super::{ForeachMode, MethodSpec, StepKind};
use crate::error::StepError;

/// Where something a step can read comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// One of the method's declared `inputs`.
    Input,
    /// The method's `exemplars` (when it has some), as text.
    Exemplars,
    /// The output of an earlier step.
    Step,
}

/// What a step can read by name (`from`, `over`, `most_steps.of`, a
/// tool's `lookup`) and use in its templates: the method's declared inputs,
/// its exemplars when it has some, and the outputs of the steps before it.
/// The load check holds no values (`V = ()`); the runner holds the outputs.
#[derive(Debug, Clone)]
pub(crate) struct Scope<V> {
    entries: BTreeMap<String, (Origin, V)>,
}

impl<V> Scope<V> {
    /// What the first step can read: each input and the exemplars, with
    /// the value `value` gives it (left out where it gives none).
    pub(crate) fn start(
        spec: &MethodSpec,
        mut value: impl FnMut(&str, Origin) -> Option<V>,
    ) -> Self {
        let mut entries = BTreeMap::new();
        for input in &spec.inputs {
            if let Some(v) = value(input, Origin::Input) {
                entries.insert(input.clone(), (Origin::Input, v));
            }
        }
        // A method's exemplars can also be read as a list (one per line),
        // e.g. Auto-CoT's question pool.
        if spec.exemplars.is_some() {
            if let Some(v) = value("exemplars", Origin::Exemplars) {
                entries.insert("exemplars".to_string(), (Origin::Exemplars, v));
            }
        }
        Scope { entries }
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    /// What `name` (read by the step's `field`) holds.
    pub(crate) fn read(&self, field: &'static str, name: &str) -> Result<&V, StepError> {
        self.entries
            .get(name)
            .map(|(_, v)| v)
            .ok_or_else(|| StepError::Unreadable {
                field,
                name: name.to_string(),
            })
    }

    /// The output of step `id`, if it has run (an input of that name is
    /// not one).
    pub(crate) fn step(&self, id: &str) -> Option<&V> {
        self.entries
            .get(id)
            .filter(|(origin, _)| *origin == Origin::Step)
            .map(|(_, v)| v)
    }

    /// Step `id` has run: later steps can read its output.
    pub(crate) fn add_step(&mut self, id: &str, value: V) {
        self.entries.insert(id.to_string(), (Origin::Step, value));
    }
}

/// What every template sees besides the scope and a loop's [`Local`]s: the
/// method's exemplars (empty text when it has none).
pub(crate) const EXEMPLARS: &str = "exemplars";

/// A variable the runner defines for each call of a looping primitive, and
/// only there (templates render with strict undefined).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Local {
    /// `foreach`: the line this call is about.
    Item,
    /// `foreach` in `sequential` mode: the (item, answer) pairs so far.
    History,
    /// `loop_until`: the call's number, from 0.
    Iteration,
    /// `loop_until`: the previous call's output (empty at first).
    Previous,
    /// `loop_until`: every output so far, with the tool's observations.
    Transcript,
    /// `search`: the partial solution being extended or evaluated.
    State,
    /// `search`: the level, from 1.
    Depth,
    /// `search`'s vote: every state of the level.
    States,
    /// `check_steps`: the steps checked so far.
    Steps,
    /// `check_steps`: the step under check.
    CheckedStep,
    /// `check_steps`: its number, from 1.
    Number,
    /// `check_steps`: the argument that the step is true.
    Affirmation,
    /// `check_steps`: the argument that it is false.
    Negation,
    /// `run_code`'s LMulator: the helper call the model is asked for.
    Call,
    /// `run_code`'s LMulator: the program line it stopped at.
    Line,
    /// `run_code`'s LMulator: what Python raised on that line.
    Error,
}

impl Local {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Local::Item => "item",
            Local::History => "history",
            Local::Iteration => "iteration",
            Local::Previous => "previous",
            Local::Transcript => "transcript",
            Local::State => "state",
            Local::Depth => "depth",
            Local::States => "states",
            Local::Steps => "steps",
            Local::CheckedStep => "step",
            Local::Number => "number",
            Local::Affirmation => "affirmation",
            Local::Negation => "negation",
            Local::Call => "call",
            Local::Line => "line",
            Local::Error => "error",
        }
    }
}

impl StepKind {
    /// The variables this primitive defines for its templates, each call.
    pub(crate) fn locals(&self) -> &'static [Local] {
        match self {
            StepKind::Foreach(f) if f.mode == ForeachMode::Sequential => {
                &[Local::Item, Local::History]
            }
            StepKind::Foreach(_) => &[Local::Item],
            StepKind::LoopUntil(_) => &[Local::Iteration, Local::Previous, Local::Transcript],
            StepKind::Search(_) => &[Local::State, Local::Depth, Local::States],
            StepKind::RunCode(r) if r.lmulator.is_some() => {
                &[Local::Call, Local::Line, Local::State, Local::Error]
            }
            StepKind::CheckSteps(_) => &[
                Local::Steps,
                Local::CheckedStep,
                Local::Number,
                Local::Affirmation,
                Local::Negation,
            ],
            _ => &[],
        }
    }
}

/// The template environment of the runner (strict about undefined
/// variables); the load check compiles with it and allows its globals
/// (`range`, `dict`, `namespace`, …). Besides minijinja's own filters,
/// `table` shows CSV text as the table methods' PIPE format.
pub(crate) fn environment() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.add_filter("table", |csv: String| {
        crate::table::Table::from_csv(&csv)
            .map(|t| t.to_pipe())
            .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e))
    });
    env
}

impl<V> Scope<V> {
    /// Whether a template of a `kind` step may use the variable `name`: an
    /// input or earlier output, the exemplars, one of the primitive's
    /// [`Local`]s, or a global of `env`.
    pub(crate) fn template_sees(
        &self,
        kind: &StepKind,
        env: &minijinja::Environment,
        name: &str,
    ) -> bool {
        self.contains(name)
            || name == EXEMPLARS
            || kind.locals().iter().any(|l| l.name() == name)
            || env.globals().any(|(global, _)| global == name)
    }
}
