//! The compare pane's state: the method picker, the question fields, and
//! one column per method, filled from the engine's events as the methods
//! run. Pure like `state`: keys and events in, effects out.

use std::collections::BTreeMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tui_textarea::TextArea;

use super::keymap::KeyAction;
use super::state::{Effect, Overlay, Screen, State};
use promptlab_engine::{CompareRequest, Event};
use promptlab_methods::extract::{extract, matches_reference, vote, Vote};
use promptlab_methods::runner::{MethodRun, Output, RunEvent, RunOptions};
use promptlab_methods::spec::{MethodSpec, Pattern, StepKind};
use promptlab_methods::MethodError;

/// Where keys go in the compare pane; the focus key cycles in this order
/// (the columns only once there is a run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareFocus {
    Methods,
    Question,
    Context,
    Reference,
    Columns,
}

pub struct CompareState {
    /// The catalogue, in section order.
    pub methods: Vec<MethodSpec>,
    /// Why the catalogue could not be loaded, if it could not.
    pub catalog_error: Option<String>,
    /// The highlighted method in the list.
    pub cursor: usize,
    /// Indices of the selected methods, ascending (columns keep this order).
    pub selected: Vec<usize>,
    /// Typed in the method list: the cursor jumps to the first id containing it.
    pub find: String,
    pub question: TextArea<'static>,
    pub context: TextArea<'static>,
    pub reference: TextArea<'static>,
    /// Whether methods may run model-written code (in the sandbox); off
    /// unless the user turns it on.
    pub allow_code: bool,
    pub focus: CompareFocus,
    /// The last comparison started, running or done.
    pub run: Option<CompareRun>,
    /// The selected column.
    pub column: usize,
    /// The selected column follows the method that is running, until the
    /// user picks a column.
    pub follow_column: bool,
    /// Lines scrolled in the step overlay.
    pub detail_scroll: u16,
}

/// One comparison: what was asked and a column per method.
#[derive(Debug, Clone)]
pub struct CompareRun {
    pub id: u64,
    pub question: String,
    pub context: Option<String>,
    pub reference: Option<String>,
    pub allow_code: bool,
    pub max_tokens: usize,
    pub columns: Vec<Column>,
    pub running: bool,
    /// Stop was asked for and the engine has not finished yet.
    pub stopping: bool,
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
    pub spec: MethodSpec,
    pub status: ColumnStatus,
    pub steps: Vec<StepView>,
    pub result: Option<MethodRun>,
    /// Model calls finished so far.
    pub calls: usize,
    /// The selected entry (see [`Column::entries`]); `None` follows the
    /// newest output.
    pub cursor: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepState {
    Pending,
    Running,
    Done,
}

/// How each finished call's answer is found while the step still runs:
/// the pattern of the extract step that reads it, or the whole text (a
/// vote straight over the outputs).
#[derive(Debug, Clone, PartialEq)]
pub enum LiveAnswer {
    Extract(Pattern),
    Whole,
}

#[derive(Debug, Clone)]
pub struct StepView {
    pub id: String,
    pub primitive: &'static str,
    /// How many calls the step makes, when that is known up front (samples).
    pub planned_calls: Option<usize>,
    pub state: StepState,
    pub calls: Vec<CallView>,
    pub output: Option<Output>,
    pub seconds: Option<f64>,
    pub live: Option<LiveAnswer>,
    /// A vote counts these answers: a live tally is shown.
    pub tallied: bool,
}

/// One model call: its prompt (announced as it starts) and its text,
/// streamed.
#[derive(Debug, Clone, Default)]
pub struct CallView {
    pub prompt: Option<String>,
    pub text: String,
    pub done: bool,
    /// The answer found in the finished text (`Some(None)`: none found).
    pub answer: Option<Option<String>>,
}

/// A selectable line of a column: a step, or one of its calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    Step(usize),
    Call(usize, usize),
}

fn field(placeholder: &str) -> TextArea<'static> {
    let mut area = TextArea::default();
    area.set_cursor_line_style(ratatui::style::Style::default());
    area.set_placeholder_text(placeholder);
    area
}

fn field_text(area: &TextArea) -> String {
    area.lines().join("\n").trim().to_string()
}

impl CompareState {
    pub fn new(methods: Vec<MethodSpec>) -> CompareState {
        CompareState {
            methods,
            catalog_error: None,
            cursor: 0,
            selected: Vec::new(),
            find: String::new(),
            question: field("Type or paste a question…"),
            context: field("A passage, for methods that read one"),
            reference: field("The right answer, to mark ✓/✗"),
            allow_code: false,
            focus: CompareFocus::Methods,
            run: None,
            column: 0,
            follow_column: true,
            detail_scroll: 0,
        }
    }

    /// The shipped catalogue (an error in it is shown in the pane).
    pub fn from_catalog() -> CompareState {
        match promptlab_methods::catalog::all() {
            Ok(methods) => CompareState::new(methods),
            Err(e) => {
                let mut state = CompareState::new(Vec::new());
                state.catalog_error = Some(e.to_string());
                state
            }
        }
    }

    pub fn running(&self) -> bool {
        self.run.as_ref().is_some_and(|r| r.running)
    }

    /// Selects the methods named by `ids` (runnable ones only).
    pub fn select_ids(&mut self, ids: &[String]) -> Result<(), String> {
        for id in ids {
            let index = self
                .methods
                .iter()
                .position(|m| &m.id == id)
                .ok_or_else(|| format!("unknown method `{id}`"))?;
            if let Some(reason) = &self.methods[index].not_runnable {
                return Err(format!("method `{id}` is not runnable: {reason}"));
            }
            if !self.selected.contains(&index) {
                self.selected.push(index);
            }
        }
        self.selected.sort_unstable();
        Ok(())
    }

    pub fn set_field(&mut self, focus: CompareFocus, text: &str) {
        if let Some(area) = self.field_mut(focus) {
            *area = field(area.placeholder_text());
            area.insert_str(text);
        }
    }

    fn field_mut(&mut self, focus: CompareFocus) -> Option<&mut TextArea<'static>> {
        match focus {
            CompareFocus::Question => Some(&mut self.question),
            CompareFocus::Context => Some(&mut self.context),
            CompareFocus::Reference => Some(&mut self.reference),
            CompareFocus::Methods | CompareFocus::Columns => None,
        }
    }

    pub fn selected_column(&self) -> Option<&Column> {
        self.run.as_ref().and_then(|r| r.columns.get(self.column))
    }

    fn toggle(&mut self) -> Option<String> {
        let method = self.methods.get(self.cursor)?;
        if let Some(reason) = &method.not_runnable {
            return Some(format!("{} is not runnable: {reason}", method.id));
        }
        match self.selected.iter().position(|&i| i == self.cursor) {
            Some(at) => {
                self.selected.remove(at);
            }
            None => {
                self.selected.push(self.cursor);
                self.selected.sort_unstable();
            }
        }
        None
    }

    fn jump_to_find(&mut self) {
        let find = self.find.to_lowercase();
        if let Some(i) = self
            .methods
            .iter()
            .position(|m| m.id.starts_with(&find))
            .or_else(|| self.methods.iter().position(|m| m.id.contains(&find)))
        {
            self.cursor = i;
        }
    }

    fn cycle_focus(&mut self, back: bool) {
        let mut order = vec![
            CompareFocus::Methods,
            CompareFocus::Question,
            CompareFocus::Context,
            CompareFocus::Reference,
        ];
        if self.run.is_some() {
            order.push(CompareFocus::Columns);
        }
        let at = order.iter().position(|&f| f == self.focus).unwrap_or(0);
        let n = order.len();
        self.focus = order[if back { (at + n - 1) % n } else { (at + 1) % n }];
        self.find.clear();
    }
}

impl Column {
    fn new(spec: MethodSpec) -> Column {
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
                }
            })
            .collect();
        Column {
            spec,
            status: ColumnStatus::Waiting,
            steps,
            result: None,
            calls: 0,
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
    pub fn apply(&mut self, event: RunEvent) {
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
            } => {
                self.calls += 1;
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
        }
    }

    /// The next call of the running step starts with this prompt.
    pub fn prompt(&mut self, prompt: String) {
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
    pub fn finish(&mut self, result: Result<MethodRun, MethodError>) {
        match result {
            Ok(run) => {
                for record in &run.steps {
                    let live = self.step_mut(&record.id).and_then(|s| s.live.clone());
                    let Some(step) = self.step_mut(&record.id) else {
                        continue;
                    };
                    step.state = StepState::Done;
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
    pub fn entries(&self) -> Vec<Entry> {
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
    pub fn entry_text(&self, entry: Entry) -> String {
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

/// Whether a method has a step that runs model-written code.
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
        LiveAnswer::Extract(pattern) => extract(text, pattern).ok().flatten(),
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
pub fn output_summary(output: &Output) -> String {
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

/// Whitespace (line breaks included) folded to single spaces.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

// ---- keys ----------------------------------------------------------------

/// A key on the compare screen (no overlay open).
pub(super) fn on_key(state: &mut State, key: KeyEvent, action: Option<KeyAction>) -> Vec<Effect> {
    if let Some(action) = action {
        if let Some(effects) = on_action(state, action) {
            return effects;
        }
    }
    if key.code == KeyCode::BackTab {
        state.compare.cycle_focus(true);
        return vec![];
    }
    let focus = state.compare.focus;
    match focus {
        CompareFocus::Methods => methods_key(state, key),
        CompareFocus::Question | CompareFocus::Context | CompareFocus::Reference => {
            state.notice = None;
            if let Some(area) = state.compare.field_mut(focus) {
                area.input(key);
            }
        }
        CompareFocus::Columns => columns_key(&mut state.compare, key),
    }
    vec![]
}

/// A bound action; `None` passes the key on to the focused part.
fn on_action(state: &mut State, action: KeyAction) -> Option<Vec<Effect>> {
    let c = &mut state.compare;
    let effects = match action {
        KeyAction::Compare => {
            state.screen = Screen::Chat;
            vec![]
        }
        KeyAction::Help => {
            state.overlay = Some(Overlay::Help);
            vec![]
        }
        KeyAction::Settings => {
            state.settings.system = state.conversation.system.clone();
            state.overlay = Some(Overlay::Settings);
            vec![]
        }
        KeyAction::AllowCode => {
            toggle_code(state);
            vec![]
        }
        KeyAction::Stop => {
            if c.running() {
                let mut effects = vec![];
                if let Some(run) = &mut c.run {
                    run.stopping = true;
                    effects.push(Effect::Cancel(run.id));
                }
                state.notice = Some("stopping the comparison…".into());
                effects
            } else {
                c.find.clear();
                if let Some(col) = c.run.as_mut().and_then(|r| r.columns.get_mut(c.column)) {
                    col.cursor = None;
                }
                state.notice = None;
                vec![]
            }
        }
        KeyAction::Focus => {
            c.cycle_focus(false);
            vec![]
        }
        KeyAction::Regenerate => start(state),
        KeyAction::Send if c.focus == CompareFocus::Columns => {
            open_detail(state);
            vec![]
        }
        KeyAction::Send => start(state),
        KeyAction::Newline => match c.field_mut(c.focus) {
            Some(area) => {
                area.insert_newline();
                vec![]
            }
            None => return None,
        },
        KeyAction::Copy => match c
            .selected_column()
            .and_then(|col| col.current_entry().map(|e| col.entry_text(e)))
        {
            Some(text) if c.focus == CompareFocus::Columns => vec![Effect::Copy(text)],
            _ => return None,
        },
        _ => return None,
    };
    Some(effects)
}

pub(super) fn toggle_code(state: &mut State) {
    let c = &mut state.compare;
    c.allow_code = !c.allow_code;
    state.notice = Some(if c.allow_code {
        "code execution on: model-written Python runs in the sandbox (next run)".into()
    } else {
        "code execution off: model-written code is never run".into()
    });
}

fn methods_key(state: &mut State, key: KeyEvent) {
    let c = &mut state.compare;
    let n = c.methods.len();
    if n == 0 {
        return;
    }
    let last = n - 1;
    let mut clear_find = true;
    match key.code {
        KeyCode::Up => c.cursor = c.cursor.saturating_sub(1),
        KeyCode::Down => c.cursor = (c.cursor + 1).min(last),
        KeyCode::PageUp => c.cursor = c.cursor.saturating_sub(10),
        KeyCode::PageDown => c.cursor = (c.cursor + 10).min(last),
        KeyCode::Home => c.cursor = 0,
        KeyCode::End => c.cursor = last,
        KeyCode::Char(' ') => state.notice = c.toggle(),
        KeyCode::Backspace => {
            c.find.pop();
            c.jump_to_find();
            clear_find = false;
        }
        KeyCode::Char(ch) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
            c.find.push(ch);
            c.jump_to_find();
            clear_find = false;
        }
        _ => {}
    }
    if clear_find {
        state.compare.find.clear();
    }
}

fn columns_key(c: &mut CompareState, key: KeyEvent) {
    let Some(run) = &mut c.run else { return };
    let n = run.columns.len();
    match key.code {
        KeyCode::Left => {
            c.column = c.column.saturating_sub(1);
            c.follow_column = false;
        }
        KeyCode::Right => {
            c.column = (c.column + 1).min(n.saturating_sub(1));
            c.follow_column = false;
        }
        KeyCode::Up | KeyCode::Down | KeyCode::PageUp | KeyCode::PageDown | KeyCode::Home => {
            let Some(col) = run.columns.get_mut(c.column) else {
                return;
            };
            let len = col.entries().len();
            if len == 0 {
                return;
            }
            let current = col.cursor.unwrap_or_else(|| {
                let entries = col.entries();
                col.current_entry()
                    .and_then(|e| entries.iter().position(|x| *x == e))
                    .unwrap_or(len - 1)
            });
            let next = match key.code {
                KeyCode::Up => current.saturating_sub(1),
                KeyCode::Down => (current + 1).min(len - 1),
                KeyCode::PageUp => current.saturating_sub(5),
                KeyCode::PageDown => (current + 5).min(len - 1),
                _ => 0,
            };
            col.cursor = Some(next);
        }
        KeyCode::End => {
            if let Some(col) = run.columns.get_mut(c.column) {
                col.cursor = None;
            }
        }
        _ => {}
    }
}

fn open_detail(state: &mut State) {
    let c = &mut state.compare;
    let Some(col) = c.run.as_mut().and_then(|r| r.columns.get_mut(c.column)) else {
        return;
    };
    let Some(entry) = col.current_entry() else {
        return;
    };
    // Pin the cursor so the overlay keeps showing this entry.
    col.cursor = col.entries().iter().position(|e| *e == entry);
    c.detail_scroll = 0;
    state.overlay = Some(Overlay::Step);
}

/// A key while a step's prompt and output are shown.
pub(super) fn on_detail_key(state: &mut State, key: KeyEvent, action: Option<KeyAction>) {
    let c = &mut state.compare;
    match key.code {
        KeyCode::Up => c.detail_scroll = c.detail_scroll.saturating_sub(1),
        KeyCode::Down => c.detail_scroll = c.detail_scroll.saturating_add(1),
        KeyCode::PageUp => c.detail_scroll = c.detail_scroll.saturating_sub(10),
        KeyCode::PageDown | KeyCode::Char(' ') => {
            c.detail_scroll = c.detail_scroll.saturating_add(10)
        }
        KeyCode::Home => c.detail_scroll = 0,
        KeyCode::End => c.detail_scroll = u16::MAX,
        KeyCode::Left | KeyCode::Right => {
            // The previous / next entry of the column.
            if let Some(col) = c.run.as_mut().and_then(|r| r.columns.get_mut(c.column)) {
                let len = col.entries().len();
                if let Some(at) = col.cursor {
                    col.cursor = Some(if key.code == KeyCode::Left {
                        at.saturating_sub(1)
                    } else {
                        (at + 1).min(len.saturating_sub(1))
                    });
                    c.detail_scroll = 0;
                }
            }
        }
        _ if matches!(action, Some(KeyAction::Stop) | Some(KeyAction::Send))
            || matches!(key.code, KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q')) =>
        {
            state.overlay = None;
        }
        _ => {}
    }
}

pub(super) fn paste(state: &mut State, text: &str) {
    let c = &mut state.compare;
    if c.field_mut(c.focus).is_none() {
        c.focus = CompareFocus::Question;
    }
    if let Some(area) = c.field_mut(c.focus) {
        area.insert_str(text);
    }
}

/// Starts a comparison of the selected methods on the question.
fn start(state: &mut State) -> Vec<Effect> {
    let refuse = |state: &mut State, why: String| {
        state.notice = Some(why);
        vec![]
    };
    if state.compare.running() {
        return refuse(state, "a comparison is running: Esc stops it".into());
    }
    if state.generating.is_some() {
        return refuse(
            state,
            "the chat is still generating (F3, then Esc stops it)".into(),
        );
    }
    if state.model.is_none() {
        let why = match &state.model_error {
            Some(e) => format!("no model: {e}"),
            None => "the model is still loading".into(),
        };
        return refuse(state, why);
    }
    let c = &mut state.compare;
    if c.selected.is_empty() {
        c.focus = CompareFocus::Methods;
        return refuse(
            state,
            "pick a method first: space selects it in the list".into(),
        );
    }
    let question = field_text(&c.question);
    if question.is_empty() {
        c.focus = CompareFocus::Question;
        return refuse(state, "type a question first".into());
    }
    let mut inputs = BTreeMap::from([("question".to_string(), question.clone())]);
    let context = Some(field_text(&c.context)).filter(|t| !t.is_empty());
    if let Some(context) = &context {
        inputs.insert("context".into(), context.clone());
    }
    let methods: Vec<MethodSpec> = c.selected.iter().map(|&i| c.methods[i].clone()).collect();
    for m in &methods {
        if let Some(missing) = m.inputs.iter().find(|i| !inputs.contains_key(*i)) {
            if missing == "context" {
                c.focus = CompareFocus::Context;
            }
            return refuse(state, format!("{} needs a {missing}", m.id));
        }
    }
    if !c.allow_code {
        if let Some(m) = methods.iter().find(|m| m.runs_code()) {
            return refuse(
                state,
                format!(
                    "{} runs model-written Python: {} allows code execution (sandboxed)",
                    m.id,
                    state
                        .keymap
                        .key_for(KeyAction::AllowCode)
                        .unwrap_or_default()
                ),
            );
        }
    }
    let reference = Some(field_text(&c.reference)).filter(|t| !t.is_empty());
    let id = state.next_id;
    state.next_id += 1;
    let s = &state.settings;
    let options = RunOptions {
        max_tokens: s.sampling.max_tokens,
        cap: Some(s.sampling.max_tokens),
        seed: s.sampling_for(id).seed,
        allow_code: c.allow_code,
    };
    c.run = Some(CompareRun {
        id,
        question,
        context,
        reference,
        allow_code: c.allow_code,
        max_tokens: s.sampling.max_tokens,
        columns: methods.iter().cloned().map(Column::new).collect(),
        running: true,
        stopping: false,
    });
    c.column = 0;
    c.follow_column = true;
    c.focus = CompareFocus::Columns;
    state.notice = None;
    vec![Effect::Compare(CompareRequest {
        id,
        methods,
        inputs,
        options,
    })]
}

/// An engine event of a comparison (others are the chat's).
pub(super) fn on_engine(state: &mut State, event: Event) {
    let c = &mut state.compare;
    let follow = c.follow_column;
    let Some(run) = c.run.as_mut() else { return };
    match event {
        Event::Method { id, method, event } if id == run.id => {
            if let Some(col) = run.columns.get_mut(method) {
                col.apply(event);
                if follow {
                    c.column = method;
                }
            }
        }
        Event::MethodPrompt { id, method, prompt } if id == run.id => {
            if let Some(col) = run.columns.get_mut(method) {
                col.prompt(prompt);
                if follow {
                    c.column = method;
                }
            }
        }
        Event::MethodDone { id, method, result } if id == run.id => {
            if let Some(col) = run.columns.get_mut(method) {
                col.finish(result);
            }
        }
        Event::CompareFinished { id, stopped } if id == run.id => {
            run.running = false;
            run.stopping = false;
            for col in &mut run.columns {
                match col.status {
                    ColumnStatus::Waiting => col.status = ColumnStatus::NotRun,
                    ColumnStatus::Running => col.status = ColumnStatus::Stopped,
                    _ => {}
                }
            }
            let failed = run
                .columns
                .iter()
                .filter(|c| matches!(c.status, ColumnStatus::Failed(_)))
                .count();
            state.notice = Some(if stopped {
                let not_run = run
                    .columns
                    .iter()
                    .filter(|c| c.status == ColumnStatus::NotRun)
                    .count();
                format!("comparison stopped; {not_run} method(s) not run")
            } else if failed > 0 {
                format!("comparison finished; {failed} method(s) failed (Enter on a step shows it)")
            } else {
                "comparison finished".into()
            });
        }
        Event::Failed { id, error } if id == run.id => {
            run.running = false;
            run.stopping = false;
            for col in &mut run.columns {
                if matches!(col.status, ColumnStatus::Waiting | ColumnStatus::Running) {
                    col.status = ColumnStatus::NotRun;
                }
            }
            state.notice = Some(format!("comparison failed: {error}"));
        }
        _ => {}
    }
}
