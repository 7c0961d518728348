//! The compare pane's update: its keys (through the compare context of the
//! keymap), pasted text, the mouse over the step overlay, and the engine's
//! events of a comparison. Changes only the pane's state and what [`Cx`]
//! lends; returns the effects for the runner.

use std::collections::BTreeMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};

use super::run::{Column, ColumnStatus, CompareRun};
use super::state::{field_text, CompareFocus, CompareState};
use crate::keymap::{ChatAction, CompareAction, GlobalAction, Keymap};

/// Earlier runs kept for looking at again.
const MAX_KEPT_RUNS: usize = 20;
use crate::panes::Cx;
use crate::state::{Effect, Overlay};
use promptlab_engine::{CompareRequest, Event};
use promptlab_methods::runner::RunOptions;
use promptlab_methods::spec::MethodSpec;
use promptlab_methods::MethodError;

/// A key on the compare pane (no overlay open, global keys already taken).
pub(crate) fn on_key(c: &mut CompareState, cx: &mut Cx, key: KeyEvent) -> Vec<Effect> {
    if let Some(action) = cx.keymap.compare(&key) {
        if let Some(effects) = on_action(c, cx, action) {
            return effects;
        }
    }
    if key.code == KeyCode::BackTab {
        c.cycle_focus(true);
        return vec![];
    }
    let focus = c.focus;
    match focus {
        CompareFocus::Methods => methods_key(c, cx.notice, key),
        CompareFocus::Question | CompareFocus::Context | CompareFocus::Reference => {
            *cx.notice = None;
            if let Some(area) = c.field_mut(focus) {
                crate::widgets::text_input::type_key(area, key);
            }
        }
        CompareFocus::Columns => columns_key(c, key),
    }
    vec![]
}

/// A bound action; `None` passes the key on to the focused part.
fn on_action(c: &mut CompareState, cx: &mut Cx, action: CompareAction) -> Option<Vec<Effect>> {
    let effects = match action {
        CompareAction::AllowCode => {
            toggle_code(c, cx.notice);
            vec![]
        }
        CompareAction::Stop => {
            if c.running() {
                let mut effects = vec![];
                if let Some(run) = &mut c.run {
                    run.stopping = true;
                    effects.push(Effect::Cancel(run.id));
                }
                *cx.notice = Some("stopping the comparison…".into());
                effects
            } else {
                c.find.clear();
                if let Some(col) = c.run.as_mut().and_then(|r| r.columns.get_mut(c.column)) {
                    col.cursor = None;
                }
                *cx.notice = None;
                vec![]
            }
        }
        CompareAction::NextPart => {
            c.cycle_focus(false);
            vec![]
        }
        CompareAction::Rerun => start(c, cx),
        CompareAction::Run if c.focus == CompareFocus::Columns => {
            open_detail(c, cx.overlay);
            vec![]
        }
        CompareAction::Run => start(c, cx),
        CompareAction::Newline => match c.field_mut(c.focus) {
            Some(area) => {
                area.insert_newline();
                vec![]
            }
            None => return None,
        },
        CompareAction::PrevRun | CompareAction::NextRun => {
            if c.running() {
                return Some(cx.refuse("a comparison is running: earlier runs after it ends"));
            }
            let (from, to) = if action == CompareAction::PrevRun {
                (&mut c.earlier, &mut c.later)
            } else {
                (&mut c.later, &mut c.earlier)
            };
            match (from.pop(), c.run.take()) {
                (Some(other), Some(shown)) => {
                    to.push(shown);
                    c.run = Some(other);
                    c.column = 0;
                }
                (None, shown) => c.run = shown,
                (Some(other), None) => c.run = Some(other),
            }
            vec![]
        }
        CompareAction::Export => match &c.run {
            Some(run) if !run.running => vec![Effect::ExportRun {
                markdown: super::export::markdown(run),
                jsonl: super::export::jsonl(run),
            }],
            Some(_) => return Some(cx.refuse("the comparison is still running")),
            None => return Some(cx.refuse("nothing to export yet: run a comparison first")),
        },
        CompareAction::Copy => match c
            .selected_column()
            .and_then(|col| col.current_entry().map(|e| col.entry_text(e)))
        {
            Some(text) if c.focus == CompareFocus::Columns => vec![Effect::Copy(text)],
            _ => return None,
        },
    };
    Some(effects)
}

fn toggle_code(c: &mut CompareState, notice: &mut Option<String>) {
    c.allow_code = !c.allow_code;
    *notice = Some(if c.allow_code {
        "code execution on: model-written Python runs in the sandbox (next run)".into()
    } else {
        "code execution off: model-written code is never run".into()
    });
}

fn methods_key(c: &mut CompareState, notice: &mut Option<String>, key: KeyEvent) {
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
        KeyCode::Char(' ') => *notice = c.toggle(),
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
        c.find.clear();
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

fn open_detail(c: &mut CompareState, overlay: &mut Option<Overlay>) {
    let Some(col) = c.run.as_mut().and_then(|r| r.columns.get_mut(c.column)) else {
        return;
    };
    let Some(entry) = col.current_entry() else {
        return;
    };
    // Pin the cursor so the overlay keeps showing this entry.
    col.cursor = col.entries().iter().position(|e| *e == entry);
    c.detail_scroll = 0;
    *overlay = Some(Overlay::Step);
}

/// A key while a step's prompt and output are shown.
/// A key while the step overlay is open; Ctrl+Y (copy) copies the whole
/// step as the overlay shows it.
pub(crate) fn on_detail_key(c: &mut CompareState, cx: &mut Cx, key: KeyEvent) -> Vec<Effect> {
    let action = cx.keymap.compare(&key);
    if action == Some(CompareAction::Copy) {
        return super::detail::detail_text(c)
            .map(Effect::Copy)
            .into_iter()
            .collect();
    }
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
        _ if matches!(action, Some(CompareAction::Stop | CompareAction::Run))
            || matches!(key.code, KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q')) =>
        {
            *cx.overlay = None;
        }
        _ => {}
    }
    vec![]
}

/// The wheel scrolls the step overlay (the pane itself has no scrolling).
pub(crate) fn on_mouse(c: &mut CompareState, overlay: Option<Overlay>, mouse: MouseEvent) {
    if overlay == Some(Overlay::Step) {
        match mouse.kind {
            MouseEventKind::ScrollUp => c.detail_scroll = c.detail_scroll.saturating_sub(3),
            MouseEventKind::ScrollDown => c.detail_scroll = c.detail_scroll.saturating_add(3),
            _ => {}
        }
    }
}

/// Pasted text goes into the focused field, else the question.
pub(crate) fn paste(c: &mut CompareState, text: &str) {
    if c.field_mut(c.focus).is_none() {
        c.focus = CompareFocus::Question;
    }
    if let Some(area) = c.field_mut(c.focus) {
        area.insert_str(text);
    }
}

/// Starts a comparison of the selected methods on the question.
fn start(c: &mut CompareState, cx: &mut Cx) -> Vec<Effect> {
    if c.running() {
        let stop = cx.keymap.key_name(CompareAction::Stop);
        return cx.refuse(format!("a comparison is running: {stop} stops it"));
    }
    if cx.evaluating {
        let why = cx.evaluating_refusal();
        return cx.refuse(why);
    }
    if cx.other_busy {
        let (switch, stop) = (
            cx.keymap.key_name(GlobalAction::SwitchPane),
            cx.keymap.key_name(ChatAction::Stop),
        );
        return cx.refuse(format!(
            "the chat is still generating ({switch}, then {stop} stops it)"
        ));
    }
    if let Some(why) = cx.model.refusal() {
        return cx.refuse(why);
    }
    if c.selected.is_empty() {
        c.focus = CompareFocus::Methods;
        return cx.refuse("pick a method first: space selects it in the list");
    }
    let question = field_text(&c.question);
    if question.is_empty() {
        c.focus = CompareFocus::Question;
        return cx.refuse("type a question first");
    }
    let mut inputs = BTreeMap::from([("question".to_string(), question.clone())]);
    let context = Some(field_text(&c.context)).filter(|t| !t.is_empty());
    if let Some(context) = &context {
        inputs.insert("context".into(), context.clone());
    }
    let methods: Vec<MethodSpec> = c.selected.iter().map(|&i| c.methods[i].clone()).collect();
    // The methods crate's own checks; the pane words their refusals.
    for m in &methods {
        match m.check_inputs(&inputs) {
            Ok(()) => {}
            Err(MethodError::MissingInput { method, input }) => {
                if input == "context" {
                    c.focus = CompareFocus::Context;
                }
                return cx.refuse(format!("{method} needs a {input}"));
            }
            Err(e) => return cx.refuse(e.to_string()),
        }
    }
    for m in &methods {
        match m.check_code(c.allow_code) {
            Ok(()) => {}
            Err(MethodError::CodeOff { method }) => {
                let toggle = cx.keymap.key_for(CompareAction::AllowCode);
                return cx.refuse(format!(
                    "{method} runs model-written Python: {toggle} allows code execution (sandboxed)",
                ));
            }
            Err(e) => return cx.refuse(e.to_string()),
        }
    }
    let reference = Some(field_text(&c.reference)).filter(|t| !t.is_empty());
    let id = cx.take_id();
    let s = cx.settings;
    let options = RunOptions {
        system: None,
        max_tokens: s.sampling.max_tokens,
        cap: Some(s.sampling.max_tokens),
        seed: s.sampling_for(id).seed,
        allow_code: c.allow_code,
    };
    // The runs so far are kept, in order, the newest last.
    while let Some(newer) = c.later.pop() {
        if let Some(shown) = c.run.replace(newer) {
            c.earlier.push(shown);
        }
    }
    if let Some(last) = c.run.take() {
        c.earlier.push(last);
        if c.earlier.len() > MAX_KEPT_RUNS {
            c.earlier.remove(0);
        }
    }
    c.run = Some(CompareRun {
        id,
        question,
        context,
        reference,
        columns: methods.iter().cloned().map(Column::new).collect(),
        running: true,
        stopping: false,
    });
    c.column = 0;
    c.follow_column = true;
    c.focus = CompareFocus::Columns;
    *cx.notice = None;
    vec![Effect::Compare(CompareRequest {
        id,
        methods,
        inputs,
        options,
    })]
}

/// An engine event of a comparison (the app routes the chat's elsewhere).
pub(crate) fn on_engine(
    c: &mut CompareState,
    keymap: &Keymap,
    notice: &mut Option<String>,
    event: Event,
) {
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
            *notice = Some(if stopped {
                let not_run = run
                    .columns
                    .iter()
                    .filter(|c| c.status == ColumnStatus::NotRun)
                    .count();
                format!("comparison stopped; {not_run} method(s) not run")
            } else if failed > 0 {
                let open = keymap.key_name(CompareAction::Run);
                format!(
                    "comparison finished; {failed} method(s) failed ({open} on a step shows it)"
                )
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
            *notice = Some(format!("comparison failed: {error}"));
        }
        _ => {}
    }
}
