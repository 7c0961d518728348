//! One comparison as the pane shows it: a column per method, its steps and
//! calls filled in from the engine's progress events, the answers found in
//! them as they arrive, and the text of tallies and outputs.

use promptlab_methods::extract::{find_answer, matches_reference, vote, Vote};
use promptlab_methods::runner::{GateOutcome, MethodRun, Output, RunEvent};
use promptlab_methods::spec::{MethodSpec, Pattern, StepKind};
use promptlab_methods::MethodError;

use crate::text::one_line;

/// One comparison: what was asked and a column per method.
#[derive(Debug, Clone)]
pub struct CompareRun {
    pub(crate) id: u64,
    pub(crate) question: String,
    pub(crate) context: Option<String>,
    pub(crate) reference: Option<String>,
    pub columns: Vec<Column>,
    pub(crate) running: bool,
    /// Stop was asked for and the engine has not finished yet.
    pub(crate) stopping: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ColumnStatus {
    Waiting,
    Running,
    Done,
    Failed(String),
    /// Stopped while it ran.
    Stopped,
    /// The comparison was stopped before this method started.
    NotRun,
}

/// A method's column: its steps as they run, and its result.
#[derive(Debug, Clone)]
pub struct Column {
    pub(crate) spec: MethodSpec,
    pub status: ColumnStatus,
    pub steps: Vec<StepView>,
    pub result: Option<MethodRun>,
    /// Model calls finished so far, and their prompt and generated tokens.
    pub(crate) calls: usize,
    pub(crate) prompt_tokens: usize,
    pub(crate) generated_tokens: usize,
    /// The selected entry (see [`Column::entries`]); `None` follows the
    /// newest output.
    pub(crate) cursor: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StepState {
    Pending,
    Running,
    Done,
}

/// How each finished call's answer is found while the step still runs:
/// the pattern of the extract step that reads it, or the whole text (a
/// vote straight over the outputs).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum LiveAnswer {
    Extract(Pattern),
    Whole,
}

#[derive(Debug, Clone)]
pub struct StepView {
    pub(crate) id: String,
    pub(crate) primitive: &'static str,
    /// How many calls the step makes, when that is known up front (samples).
    pub(crate) planned_calls: Option<usize>,
    pub(crate) state: StepState,
    pub calls: Vec<CallView>,
    pub(crate) output: Option<Output>,
    pub seconds: Option<f64>,
    pub(crate) live: Option<LiveAnswer>,
    /// A vote counts these answers: a live tally is shown.
    pub(crate) tallied: bool,
    /// A gated step: how its gate decided.
    pub(crate) gate: Option<GateOutcome>,
}

/// One model call: its prompt (announced as it starts) and its text,
/// streamed.
#[derive(Debug, Clone, Default)]
pub struct CallView {
    pub prompt: Option<String>,
    pub text: String,
    pub done: bool,
    /// The answer found in the finished text (`Some(None)`: none found).
    pub(crate) answer: Option<Option<String>>,
}

/// A selectable line of a column: a step, or one of its calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    Step(usize),
    Call(usize, usize),
}

impl Column {
    pub(super) fn new(spec: MethodSpec) -> Column {
        let steps = spec
            .steps
            .iter()
            .map(|step| {
                // The first reader decides how a call's answer is found.
                let (live, tallied) = match readers(&spec, &step.id).next() {
                    Some((extract_id, Some(pattern))) => (
                        Some(LiveAnswer::Extract(pattern)),
                        readers(&spec, &extract_id).any(|(_, p)| p.is_none()),
                    ),
                    Some((_, None)) => (Some(LiveAnswer::Whole), true),
                    None => (None, false),
                };
                StepView {
                    id: step.id.clone(),
                    primitive: step.kind.name(),
                    planned_calls: match &step.kind {
                        StepKind::SampleN(s) => Some(s.n),
                        StepKind::Generate(_) => Some(1),
                        _ => None,
                    },
                    state: StepState::Pending,
                    calls: Vec::new(),
                    output: None,
                    seconds: None,
                    live,
                    tallied,
                    gate: None,
                }
            })
            .collect();
        Column {
            spec,
            status: ColumnStatus::Waiting,
            steps,
            result: None,
            calls: 0,
            prompt_tokens: 0,
            generated_tokens: 0,
            cursor: None,
        }
    }

    fn step_mut(&mut self, id: &str) -> Option<&mut StepView> {
        self.steps.iter_mut().find(|s| s.id == id)
    }

    fn call_mut(&mut self, step: &str, index: usize) -> Option<&mut CallView> {
        let step = self.step_mut(step)?;
        while step.calls.len() <= index {
            step.calls.push(CallView::default());
        }
        Some(&mut step.calls[index])
    }

    /// Applies one progress event of this method's run.
    pub(crate) fn apply(&mut self, event: RunEvent) {
        self.status = ColumnStatus::Running;
        match event {
            RunEvent::StepStarted { step } => {
                if let Some(s) = self.step_mut(&step) {
                    s.state = StepState::Running;
                }
            }
            RunEvent::Token { step, index, text } => {
                if let Some(call) = self.call_mut(&step, index) {
                    call.text.push_str(&text);
                }
            }
            RunEvent::Called {
                step,
                index,
                output,
                prompt_tokens,
                generated_tokens,
            } => {
                self.calls += 1;
                self.prompt_tokens += prompt_tokens;
                self.generated_tokens += generated_tokens;
                let live = self.step_mut(&step).and_then(|s| s.live.clone());
                if let Some(call) = self.call_mut(&step, index) {
                    call.answer = live.map(|l| live_answer(&l, &output));
                    call.text = output;
                    call.done = true;
                }
            }
            RunEvent::StepFinished { step, output } => {
                if let Some(s) = self.step_mut(&step) {
                    s.output = Some(output);
                    s.state = StepState::Done;
                }
            }
            RunEvent::Gate { step, outcome } => {
                if let Some(s) = self.step_mut(&step) {
                    s.gate = Some(outcome);
                }
            }
        }
    }

    /// The next call of the running step starts with this prompt.
    pub(crate) fn prompt(&mut self, prompt: String) {
        self.status = ColumnStatus::Running;
        if let Some(step) = self
            .steps
            .iter_mut()
            .rev()
            .find(|s| s.state == StepState::Running)
        {
            step.calls.push(CallView {
                prompt: Some(prompt),
                ..CallView::default()
            });
        }
    }

    /// The method ended: its run (the record replaces what was streamed),
    /// or why not.
    pub(crate) fn finish(&mut self, result: Result<MethodRun, MethodError>) {
        match result {
            Ok(run) => {
                for record in &run.steps {
                    let live = self.step_mut(&record.id).and_then(|s| s.live.clone());
                    let Some(step) = self.step_mut(&record.id) else {
                        continue;
                    };
                    step.state = StepState::Done;
                    step.gate = record.gate;
                    step.seconds = Some(record.seconds);
                    step.output = Some(record.output.clone());
                    step.calls.truncate(record.calls.len());
                    for (i, call) in record.calls.iter().enumerate() {
                        if step.calls.len() <= i {
                            step.calls.push(CallView::default());
                        }
                        let view = &mut step.calls[i];
                        view.prompt = Some(call.prompt.clone());
                        view.text = call.output.clone();
                        view.done = true;
                        view.answer = live.as_ref().map(|l| live_answer(l, &call.output));
                    }
                }
                self.calls = run.calls;
                self.status = ColumnStatus::Done;
                self.result = Some(run);
            }
            Err(e) if e.is_cancelled() => self.status = ColumnStatus::Stopped,
            Err(e) => self.status = ColumnStatus::Failed(e.to_string()),
        }
    }

    /// Every selectable line, in display order.
    pub(crate) fn entries(&self) -> Vec<Entry> {
        let mut entries = Vec::new();
        for (si, step) in self.steps.iter().enumerate() {
            entries.push(Entry::Step(si));
            entries.extend((0..step.calls.len()).map(|ci| Entry::Call(si, ci)));
        }
        entries
    }

    /// The entry the cursor is on; when following, the newest call (or the
    /// running step).
    pub fn current_entry(&self) -> Option<Entry> {
        let entries = self.entries();
        match self.cursor {
            Some(i) => entries.get(i).copied(),
            None => {
                let active = self
                    .steps
                    .iter()
                    .rposition(|s| s.state != StepState::Pending)
                    .unwrap_or(0);
                entries
                    .iter()
                    .rev()
                    .find(|e| match e {
                        Entry::Step(s) | Entry::Call(s, _) => *s <= active,
                    })
                    .copied()
            }
        }
    }

    /// The method's answer, once it has finished.
    pub fn answer(&self) -> Option<&str> {
        self.result.as_ref().and_then(|r| r.answer.as_deref())
    }

    /// The vote the answer came from when it was tied.
    pub fn tie(&self) -> Option<&Vote> {
        let result = self.result.as_ref()?;
        let answer_step = self
            .spec
            .answer
            .clone()
            .or_else(|| self.spec.steps.last().map(|s| s.id.clone()))?;
        let record = result.steps.iter().find(|s| s.id == answer_step)?;
        match &record.output {
            Output::Vote { vote } if vote.tie => Some(vote),
            _ => None,
        }
    }

    /// Right or wrong against `reference` (None without one, or before the end).
    pub fn verdict(&self, reference: Option<&str>) -> Option<bool> {
        match (&self.status, reference) {
            (ColumnStatus::Done, Some(r)) => Some(matches_reference(self.answer(), r)),
            _ => None,
        }
    }

    /// The text of an entry, for copying: a call's output, or a step's
    /// answer (its calls' outputs when it has none of its own).
    pub(crate) fn entry_text(&self, entry: Entry) -> String {
        match entry {
            Entry::Call(s, c) => self.steps[s].calls[c].text.clone(),
            Entry::Step(s) => {
                let step = &self.steps[s];
                match &step.output {
                    Some(output) => output_summary(output),
                    None => step
                        .calls
                        .iter()
                        .map(|c| c.text.as_str())
                        .collect::<Vec<_>>()
                        .join("\n\n"),
                }
            }
        }
    }
}

impl StepView {
    /// The vote over the answers of the calls finished so far.
    pub fn tally(&self) -> Option<Vote> {
        if !self.tallied {
            return None;
        }
        let answers: Vec<Option<String>> =
            self.calls.iter().filter_map(|c| c.answer.clone()).collect();
        (!answers.is_empty()).then(|| vote(&answers))
    }
}

/// The steps that read step `id`'s output: (step id, its extract pattern),
/// with no pattern for a vote.
fn readers<'a>(
    spec: &'a MethodSpec,
    id: &'a str,
) -> impl Iterator<Item = (String, Option<Pattern>)> + 'a {
    spec.steps.iter().filter_map(move |s| match &s.kind {
        StepKind::Extract(e) if e.from == id => Some((s.id.clone(), Some(e.pattern.clone()))),
        StepKind::Vote(v) if v.from == id => Some((s.id.clone(), None)),
        _ => None,
    })
}

fn live_answer(live: &LiveAnswer, text: &str) -> Option<String> {
    match live {
        LiveAnswer::Extract(pattern) => find_answer(text, pattern),
        LiveAnswer::Whole => Some(text.trim().to_string()).filter(|t| !t.is_empty()),
    }
}

/// A vote's tally as text: `5 ×3 · 6 ×1 · no answer ×1`.
pub fn tally_text(vote: &Vote) -> String {
    let mut parts: Vec<String> = vote
        .tally
        .iter()
        .map(|(answer, n)| format!("{} ×{n}", one_line(answer)))
        .collect();
    if vote.abstained > 0 {
        parts.push(format!("no answer ×{}", vote.abstained));
    }
    parts.join(" · ")
}

/// A step's output in a line or a few: answers, the vote, or the text.
pub(crate) fn output_summary(output: &Output) -> String {
    match output {
        Output::Answers { answers } => answers
            .iter()
            .map(|a| a.as_deref().map_or("—".to_string(), one_line))
            .collect::<Vec<_>>()
            .join(", "),
        Output::Vote { vote } => {
            let result = match (&vote.winner, vote.tie) {
                (Some(w), _) => format!("{} ({})", one_line(w), tally_text(vote)),
                (None, true) => format!("tie, no answer ({})", tally_text(vote)),
                (None, false) => "no answer (nothing to vote on)".to_string(),
            };
            match &vote.kept {
                // Samples are numbered from 1 in the column.
                Some(kept) => format!(
                    "{result} · voters #{}",
                    kept.iter()
                        .map(|i| (i + 1).to_string())
                        .collect::<Vec<_>>()
                        .join(" #")
                ),
                None => result,
            }
        }
        Output::Text { text } => text.clone(),
        Output::List { items } => items.join("\n\n"),
        // Each level's candidates (their newest step) with their values,
        // the kept ones marked ✓, then the best state.
        Output::Search { levels, best } => {
            let mut lines = Vec::new();
            for (depth, level) in levels.iter().enumerate() {
                lines.push(format!(
                    "depth {}: {} candidates, {} kept",
                    depth + 1,
                    level.candidates.len(),
                    level.kept.len()
                ));
                for (i, (state, value)) in level.candidates.iter().enumerate() {
                    let mark = if level.kept.contains(&i) { "✓" } else { " " };
                    let newest = state.lines().last().unwrap_or("");
                    lines.push(format!("{mark} {value:>7.3}  {}", one_line(newest)));
                }
            }
            lines.push(format!("best: {}", one_line(best.trim())));
            lines.join("\n")
        }
        // Each item's score, the kept ones marked ✓ with their rank.
        Output::Selected { scores, kept } => scores
            .iter()
            .enumerate()
            .map(|(i, score)| match kept.iter().position(|&k| k == i) {
                Some(rank) => format!("✓ #{} {score:.3} (kept {})", i + 1, rank + 1),
                None => format!("  #{} {score:.3}", i + 1),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Output::Runs { runs } => runs
            .iter()
            .map(|r| match r.failure() {
                None => format!("printed: {}", r.stdout.trim()),
                Some(failure) => format!("failed: {failure}"),
            })
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

/// A method's last finished model call, as the attention pane captures it.
#[derive(Debug, Clone, PartialEq)]
pub struct CallToInspect {
    pub method: String,
    pub prompt: String,
    /// The prompt went to the model as raw text (not a chat turn).
    pub completion: bool,
    pub output: String,
}

impl Column {
    /// This column's last finished call that has a prompt.
    pub fn last_call(&self) -> Option<CallToInspect> {
        use promptlab_methods::spec::StepKind;
        self.steps.iter().rev().find_map(|step| {
            let call = step
                .calls
                .iter()
                .rev()
                .find(|c| c.done && c.prompt.is_some())?;
            let completion = self
                .spec
                .steps
                .iter()
                .find(|s| s.id == step.id)
                .is_some_and(|s| match &s.kind {
                    StepKind::Generate(g) => g.completion,
                    StepKind::SampleN(g) => g.completion,
                    StepKind::LoopUntil(g) => g.completion,
                    _ => false,
                });
            Some(CallToInspect {
                method: self.spec.name.clone(),
                prompt: call.prompt.clone()?,
                completion,
                output: call.text.clone(),
            })
        })
    }
}

impl CompareRun {
    /// The question asked.
    pub fn question(&self) -> &str {
        &self.question
    }
}
