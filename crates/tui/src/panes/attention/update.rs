//! The attention pane's update: keys move the selection (layer, head,
//! token) and switch views, the prompt field starts a capture, and engine
//! events fill the capture and the readout in. A readout (the lens, a
//! head's effect) is asked for when a view needs one the selection has
//! not got, one at a time: keys held down queue nothing.

use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::state::{AttentionState, Capturing, Pair, View, ANSWER_TOKENS, READOUT_K};
use crate::keymap::CompareAction;
use crate::panes::compare::CallToInspect;
use crate::panes::Cx;
use crate::state::Effect;
use promptlab_engine::plain::Message;
use promptlab_engine::{Event, InspectRequest, ReadoutRequest};

/// Keys of the pane; the prompt field's are the compare pane's (run, new
/// line, stop), so a rebinding there applies here too.
pub(crate) fn on_key(a: &mut AttentionState, cx: &mut Cx, key: KeyEvent) -> Vec<Effect> {
    let action = cx.keymap.compare(&key);
    if action == Some(CompareAction::Stop) {
        return stop(a, cx);
    }
    if a.editing {
        return match action {
            Some(CompareAction::Run) => capture_typed(a, cx),
            Some(CompareAction::Newline) => {
                a.prompt.insert_newline();
                vec![]
            }
            _ => {
                *cx.notice = None;
                crate::widgets::text_input::type_key(&mut a.prompt, key);
                vec![]
            }
        };
    }
    if let Some(effects) = view_key(a, cx, key) {
        return effects;
    }
    if a.view == View::Live {
        live_key(a, key);
        return vec![];
    }
    let Some(capture) = a.capture.clone() else {
        // Nothing to look at: keys start a prompt.
        a.editing = true;
        crate::widgets::text_input::type_key(&mut a.prompt, key);
        return vec![];
    };
    let maps = &capture.maps;
    let step = |value: usize, delta: isize, len: usize| -> usize {
        (value as isize + delta).clamp(0, len.saturating_sub(1) as isize) as usize
    };
    let n = capture.len();
    let shift = key.modifiers.contains(KeyModifiers::SHIFT);
    match key.code {
        KeyCode::Char('i') | KeyCode::Char('/') => a.editing = true,
        KeyCode::Tab | KeyCode::BackTab => {
            let back = key.code == KeyCode::BackTab;
            let i = View::ALL_VIEWS
                .iter()
                .position(|&v| v == a.view)
                .unwrap_or(0);
            let len = View::ALL_VIEWS.len();
            a.view = View::ALL_VIEWS[if back {
                (i + len - 1) % len
            } else {
                (i + 1) % len
            }];
        }
        KeyCode::Char(c) if View::ALL_VIEWS.iter().any(|v| v.key_and_name().0 == c) => {
            a.view = View::ALL_VIEWS
                .into_iter()
                .find(|v| v.key_and_name().0 == c)
                .unwrap_or(View::Model);
        }
        KeyCode::Enter if a.view == View::Model => a.view = View::Head,
        KeyCode::Up => a.layer = step(a.layer, -1, maps.n_layers()),
        KeyCode::Down => a.layer = step(a.layer, 1, maps.n_layers()),
        KeyCode::Left if shift => a.token = step(a.token, -1, n),
        KeyCode::Right if shift => a.token = step(a.token, 1, n),
        KeyCode::Left => a.head = step(a.head, -1, maps.n_heads()),
        KeyCode::Right => a.head = step(a.head, 1, maps.n_heads()),
        KeyCode::Char('[') => a.token = step(a.token, -1, n),
        KeyCode::Char(']') => a.token = step(a.token, 1, n),
        KeyCode::PageUp => a.token = step(a.token, -10, n),
        KeyCode::PageDown => a.token = step(a.token, 10, n),
        KeyCode::Home => a.token = 0,
        KeyCode::End => a.token = n.saturating_sub(1),
        KeyCode::Char('a') => a.token = capture.prompt_tokens.min(n.saturating_sub(1)),
        _ => {}
    }
    want_readout(a, cx)
}

/// The keys of every view: the prompt field, the view switches and the
/// live switch. `None` passes the key on.
fn view_key(a: &mut AttentionState, cx: &mut Cx, key: KeyEvent) -> Option<Vec<Effect>> {
    match key.code {
        KeyCode::Char('i') | KeyCode::Char('/') => a.editing = true,
        KeyCode::Char('v') => {
            if a.view == View::Live || !a.live_on {
                a.live_on = !a.live_on;
                *cx.notice = Some(if a.live_on {
                    "live on: the chat's next answers are captured as they stream".into()
                } else {
                    "live off: the chat reuses what it computed before".into()
                });
            }
            a.view = View::Live;
        }
        KeyCode::Tab | KeyCode::BackTab => {
            let back = key.code == KeyCode::BackTab;
            let i = View::ALL_VIEWS
                .iter()
                .position(|&v| v == a.view)
                .unwrap_or(0);
            let len = View::ALL_VIEWS.len();
            a.view = View::ALL_VIEWS[if back {
                (i + len - 1) % len
            } else {
                (i + 1) % len
            }];
        }
        KeyCode::Char(c) => {
            a.view = View::ALL_VIEWS
                .into_iter()
                .find(|v| v.key_and_name().0 == c)?;
        }
        _ => return None,
    }
    Some(want_readout(a, cx))
}

/// The live view's keys: the token shown, the layer and the head.
fn live_key(a: &mut AttentionState, key: KeyEvent) {
    let dims = a
        .live
        .steps
        .iter()
        .rev()
        .find_map(|s| s.row.as_ref())
        .map(|r| (r.n_layers, r.n_heads))
        .unwrap_or((1, 1));
    let step = |value: usize, delta: isize, len: usize| -> usize {
        (value as isize + delta).clamp(0, len.saturating_sub(1) as isize) as usize
    };
    let shift = key.modifiers.contains(KeyModifiers::SHIFT);
    match key.code {
        KeyCode::Up => a.layer = step(a.layer, -1, dims.0),
        KeyCode::Down => a.layer = step(a.layer, 1, dims.0),
        KeyCode::Left if shift => a.live.step(-1),
        KeyCode::Right if shift => a.live.step(1),
        KeyCode::Left => a.head = step(a.head, -1, dims.1),
        KeyCode::Right => a.head = step(a.head, 1, dims.1),
        KeyCode::Char('[') => a.live.step(-1),
        KeyCode::Char(']') => a.live.step(1),
        KeyCode::PageUp => a.live.step(-10),
        KeyCode::PageDown => a.live.step(10),
        KeyCode::Home => a.live.step(isize::MIN / 2),
        KeyCode::End => a.live.selected = None,
        _ => {}
    }
}

pub(crate) fn paste(a: &mut AttentionState, text: &str) {
    if a.editing {
        a.prompt.insert_str(text);
    }
}

/// Esc: stops a capture in flight, else leaves the prompt field.
fn stop(a: &mut AttentionState, cx: &mut Cx) -> Vec<Effect> {
    if let Some(c) = &mut a.capturing {
        c.stopping = true;
        *cx.notice = Some("stopping the answer; the capture so far is shown".into());
        return vec![Effect::Cancel(c.id)];
    }
    a.editing = false;
    *cx.notice = None;
    vec![]
}

/// Captures the typed prompt (with the settings' system prompt) and a
/// greedy answer to it.
fn capture_typed(a: &mut AttentionState, cx: &mut Cx) -> Vec<Effect> {
    let text = a.prompt.lines().join("\n").trim().to_string();
    if text.is_empty() {
        return cx.refuse("type a prompt first");
    }
    let mut messages = Vec::new();
    if !cx.settings.system.is_empty() {
        messages.push(Message::new("system", &cx.settings.system));
    }
    messages.push(Message::new("user", &text));
    let source = format!(
        "prompt “{}”",
        crate::text::clip_end(&super::data::label(&text), 40)
    );
    a.pair = None;
    start(a, cx, messages, None, String::new(), ANSWER_TOKENS, source)
}

/// Starts a capture of `messages` (or the `raw` prompt), `answer` and
/// `generate` greedy tokens.
pub(crate) fn start(
    a: &mut AttentionState,
    cx: &mut Cx,
    messages: Vec<Message>,
    raw: Option<String>,
    answer: String,
    generate: usize,
    source: String,
) -> Vec<Effect> {
    if a.capturing.is_some() {
        return cx.refuse("a capture is running: Esc stops it");
    }
    if cx.evaluating {
        let why = cx.evaluating_refusal();
        return cx.refuse(why);
    }
    if cx.other_busy {
        return cx.refuse("another pane's request is running: wait for it or stop it there");
    }
    if let Some(why) = cx.model.refusal() {
        return cx.refuse(why);
    }
    let id = cx.take_id();
    a.capturing = Some(Capturing {
        id,
        answer: String::new(),
        stopping: false,
        second: false,
    });
    a.source = source;
    a.editing = false;
    *cx.notice = None;
    vec![Effect::Inspect(InspectRequest {
        id,
        messages,
        raw,
        answer,
        generate,
    })]
}

/// The request that captures `call` (its prompt as the method sent it,
/// its output as the answer).
fn call_request(call: &CallToInspect) -> InspectRequest {
    let (messages, raw) = if call.completion {
        (vec![], Some(call.prompt.clone()))
    } else {
        (vec![Message::new("user", &call.prompt)], None)
    };
    InspectRequest {
        id: 0,
        messages,
        raw,
        answer: call.output.clone(),
        generate: 0,
    }
}

/// Captures two methods' last calls for `question`, one after the other;
/// the pair view shows them side by side. One call is captured alone.
pub(crate) fn start_calls(
    a: &mut AttentionState,
    cx: &mut Cx,
    calls: &[CallToInspect],
    question: &str,
) -> Vec<Effect> {
    let Some(first) = calls.first() else {
        return vec![];
    };
    let request = call_request(first);
    let source = format!("compare: {}", first.method);
    let effects = start(
        a,
        cx,
        request.messages,
        request.raw,
        request.answer,
        0,
        source,
    );
    a.pair = match (calls.get(1), effects.is_empty()) {
        (Some(second), false) => Some(Pair {
            names: [first.method.clone(), second.method.clone()],
            question: question.to_string(),
            second: None,
            pending: Some(call_request(second)),
        }),
        _ => None,
    };
    effects
}

/// Asks for the readout the view needs, unless one is in flight (its
/// arrival asks again if the selection moved meanwhile).
fn want_readout(a: &mut AttentionState, cx: &mut Cx) -> Vec<Effect> {
    let Some(capture) = &a.capture else {
        return vec![];
    };
    if !a.view.needs_readout() || a.readout_in_flight.is_some() || a.readout_current() {
        return vec![];
    }
    // It would wait behind the whole suite on the engine thread.
    if cx.evaluating {
        let why = cx.evaluating_refusal();
        return cx.refuse(why);
    }
    let id = cx.take_id();
    a.readout_in_flight = Some(id);
    vec![Effect::Readout(ReadoutRequest {
        id,
        capture: Arc::clone(capture),
        positions: a.lens_positions(),
        cursor: a.token,
        layer: a.layer,
        head: a.head,
        k: READOUT_K,
    })]
}

/// An engine event of this pane's requests.
pub(crate) fn on_engine(a: &mut AttentionState, cx: &mut Cx, event: Event) -> Vec<Effect> {
    match event {
        Event::InspectToken { id, text } => {
            if let Some(c) = a.capturing.as_mut().filter(|c| c.id == id) {
                c.answer.push_str(&text);
            }
        }
        Event::Inspected {
            id,
            capture,
            overview,
        } if a.capturing.as_ref().is_some_and(|c| c.id == id) => {
            let second = a.capturing.take().is_some_and(|c| c.second);
            if let Some(pair) = a.pair.as_mut().filter(|_| second) {
                pair.second = Some(capture);
                a.view = View::Pair;
                *cx.notice = Some(format!("captured {} and {}", pair.names[0], pair.names[1]));
                return vec![];
            }
            let source = std::mem::take(&mut a.source);
            let bytes = capture.maps.bytes() as f64 / f64::from(1 << 20);
            *cx.notice = Some(format!(
                "captured {} positions ({} prompt), {bytes:.0} MiB",
                capture.len(),
                capture.prompt_tokens
            ));
            a.show(capture, overview, source);
            if let Some(mut request) = a.pair.as_mut().and_then(|p| p.pending.take()) {
                request.id = cx.take_id();
                a.capturing = Some(Capturing {
                    id: request.id,
                    answer: String::new(),
                    stopping: false,
                    second: true,
                });
                return vec![Effect::Inspect(request)];
            }
            return want_readout(a, cx);
        }
        Event::ReadOut { id, readout } if a.readout_in_flight == Some(id) => {
            a.readout_in_flight = None;
            a.readout = Some(readout);
            return want_readout(a, cx);
        }
        Event::Failed { id, error } => {
            if a.capturing.as_ref().is_some_and(|c| c.id == id) {
                a.capturing = None;
                a.editing = a.capture.is_none();
                *cx.notice = Some(format!("capture failed: {error}"));
            } else if a.readout_in_flight == Some(id) {
                a.readout_in_flight = None;
                *cx.notice = Some(format!("readout failed: {error}"));
            }
        }
        _ => {}
    }
    vec![]
}

/// The view switch and selection keys the help lists.
pub(crate) const KEYS: [(&str, &str); 11] = [
    (
        "i or /",
        "edit the prompt (Enter captures it and a greedy answer)",
    ),
    ("Esc", "stop a capture / leave the prompt field"),
    (
        "m h t n l e s",
        "model · head · token · neuron · lens · effect · spans view",
    ),
    ("c", "pair view (F5 in the compare pane: two methods)"),
    ("v", "live view: chat answers as they stream (v again: off)"),
    ("Tab", "next view (Shift+Tab the one before)"),
    ("↑ ↓", "layer"),
    ("← →", "head"),
    ("[ ] or Shift+← →", "token (PgUp/PgDn by 10, Home/End)"),
    ("a", "the answer's first token"),
    ("Enter", "model view: open the selected head"),
];
