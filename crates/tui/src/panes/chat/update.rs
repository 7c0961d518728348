//! The chat pane's update: its keys (through the chat context of the
//! keymap), pasted text, the mouse (over the rectangles the view drew), and
//! the engine's events of an answer. Changes only the pane's state and what
//! [`Cx`] lends; returns the effects for the runner.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};

use super::scroll::Scroll;
use super::state::{new_input, ChatState, Focus, Generation, Stats};
use std::path::{Path, PathBuf};

use crate::conversation::{Conversation, Role, TokenInfo, TokensUsed, TurnEnd};
use crate::keymap::{ChatAction, CompareAction, GlobalAction};
use crate::panes::{Cx, NO_LOGPROBS};
use crate::state::Effect;
use promptlab_engine::{ChatCall, ChatRequest, Event};

/// A key on the chat pane (no overlay open, global keys already taken).
pub(crate) fn on_key(chat: &mut ChatState, cx: &mut Cx, key: KeyEvent) -> Vec<Effect> {
    if let Some(action) = cx.keymap.chat(&key) {
        if let Some(effects) = on_action(chat, cx, action) {
            return effects;
        }
    }
    match chat.focus {
        Focus::Input => {
            *cx.notice = None;
            crate::widgets::text_input::type_key(&mut chat.input, key);
        }
        Focus::Messages => on_messages_key(chat, cx, key),
    }
    vec![]
}

/// Pasted text goes into the input.
pub(crate) fn paste(chat: &mut ChatState, text: &str) {
    chat.focus = Focus::Input;
    chat.input.insert_str(text);
}

/// The wheel scrolls the messages; a click focuses the part under it.
pub(crate) fn on_mouse(chat: &mut ChatState, mouse: MouseEvent) {
    match mouse.kind {
        MouseEventKind::ScrollUp => scroll(chat, -3),
        MouseEventKind::ScrollDown => scroll(chat, 3),
        MouseEventKind::Down(_) => {
            let input_top = chat.rects.get().input.y;
            chat.focus = if mouse.row >= input_top {
                Focus::Input
            } else {
                Focus::Messages
            };
        }
        _ => {}
    }
}

/// Runs a bound action; `None` lets the key fall through to the focused
/// part (e.g. Send while the messages have focus).
fn on_action(chat: &mut ChatState, cx: &mut Cx, action: ChatAction) -> Option<Vec<Effect>> {
    let effects = match action {
        ChatAction::Stop => {
            if let Some(g) = chat.generating {
                vec![Effect::Cancel(g.id)]
            } else if chat.editing.is_some() {
                chat.editing = None;
                chat.input = new_input();
                *cx.notice = None;
                vec![]
            } else {
                chat.focus = Focus::Input;
                chat.selected = None;
                chat.token_cursor = None;
                vec![]
            }
        }
        ChatAction::Send if chat.focus == Focus::Input => submit(chat, cx),
        ChatAction::Newline if chat.focus == Focus::Input => {
            chat.input.insert_newline();
            vec![]
        }
        ChatAction::Send | ChatAction::Newline => return None,
        ChatAction::Regenerate => regenerate(chat, cx),
        ChatAction::Continue => continue_answer(chat, cx),
        ChatAction::Edit => {
            start_edit(chat, cx);
            vec![]
        }
        ChatAction::Save => vec![Effect::Save(chat.save_path.clone())],
        ChatAction::NewConversation => new_conversation(chat, cx),
        ChatAction::Conversations if chat.generating.is_some() => {
            let stop = cx.keymap.key_name(ChatAction::Stop);
            cx.refuse(format!("still generating: {stop} stops it first"))
        }
        // This one saved first, so the list shows it as it is.
        ChatAction::Conversations => vec![Effect::Autosave, Effect::ListConversations],
        ChatAction::Export => vec![Effect::Export(chat.save_path.with_extension("md"))],
        ChatAction::Copy => match chat.focused_turn() {
            Some(i) => vec![Effect::Copy(chat.conversation.turn(i).content.clone())],
            None => vec![],
        },
        ChatAction::ToggleProbs if !chat.show_probs && cx.model.lacks_logprobs() => {
            cx.refuse(NO_LOGPROBS)
        }
        ChatAction::ToggleProbs => {
            chat.show_probs = !chat.show_probs;
            chat.token_cursor = None;
            vec![]
        }
        ChatAction::Focus => {
            chat.token_cursor = None;
            chat.focus = match chat.focus {
                Focus::Input => {
                    let len = chat.conversation.path().len();
                    chat.selected = len.checked_sub(1);
                    reveal_selection(chat);
                    Focus::Messages
                }
                Focus::Messages => {
                    chat.selected = None;
                    Focus::Input
                }
            };
            vec![]
        }
        ChatAction::BranchPrev | ChatAction::BranchNext => {
            let delta = if action == ChatAction::BranchPrev {
                -1
            } else {
                1
            };
            if chat.generating.is_none() {
                if let Some(turn) = chat.focused_turn() {
                    chat.conversation.switch_sibling(turn, delta);
                    let len = chat.conversation.path().len();
                    chat.selected = chat.selected.map(|s| s.min(len.saturating_sub(1)));
                    reveal_selection(chat);
                    chat.token_cursor = None;
                }
            }
            vec![]
        }
        ChatAction::HistoryPrev | ChatAction::HistoryNext => {
            recall_history(chat, action == ChatAction::HistoryPrev);
            vec![]
        }
    };
    Some(effects)
}

/// Scrolls the messages `lines` down (up when negative) from what the last
/// frame showed; down past the newest line follows the stream again.
fn scroll(chat: &mut ChatState, lines: isize) {
    let shown = chat.shown.get();
    chat.scroll = if lines > 0 && shown.at_newest {
        Scroll::Newest
    } else {
        Scroll::At {
            pos: shown.first,
            row: shown.first_row as isize + lines,
        }
    };
}

/// Scrolls so the selected message's header is on screen, if it is not.
fn reveal_selection(chat: &mut ChatState) {
    if let Some(pos) = chat.selected {
        if !chat.shown.get().shows_start_of(pos) {
            chat.scroll = Scroll::At { pos, row: 0 };
        }
    }
}

fn on_messages_key(chat: &mut ChatState, cx: &mut Cx, key: KeyEvent) {
    let len = chat.conversation.path().len();
    match key.code {
        KeyCode::Up => {
            chat.selected = Some(chat.selected.unwrap_or(len).saturating_sub(1));
            chat.token_cursor = None;
        }
        KeyCode::Down => {
            chat.selected = chat.selected.map(|s| (s + 1).min(len.saturating_sub(1)));
            chat.token_cursor = None;
        }
        KeyCode::Left | KeyCode::Right if chat.show_probs && cx.model.lacks_logprobs() => {
            *cx.notice = Some(NO_LOGPROBS.into());
        }
        KeyCode::Left | KeyCode::Right if chat.show_probs => {
            let Some(turn) = chat.focused_turn() else {
                return;
            };
            let n = chat.conversation.turn(turn).tokens.len();
            if n == 0 {
                return;
            }
            let current = chat.token_cursor.unwrap_or(n);
            chat.token_cursor = Some(if key.code == KeyCode::Left {
                current.saturating_sub(1)
            } else {
                (current + 1).min(n - 1)
            });
        }
        KeyCode::PageUp => scroll(chat, -10),
        KeyCode::PageDown => scroll(chat, 10),
        KeyCode::Home => {
            chat.selected = Some(0);
            chat.token_cursor = None;
        }
        KeyCode::End => {
            chat.selected = len.checked_sub(1);
            chat.token_cursor = None;
        }
        KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
            // Typing while the messages have focus goes to the input.
            chat.focus = Focus::Input;
            chat.selected = None;
            chat.input.insert_char(c);
        }
        _ => {}
    }
    if matches!(
        key.code,
        KeyCode::Up | KeyCode::Down | KeyCode::Home | KeyCode::End
    ) {
        reveal_selection(chat);
    }
}

fn can_generate(chat: &mut ChatState, cx: &mut Cx) -> bool {
    if chat.generating.is_some() {
        let stop = cx.keymap.key_name(ChatAction::Stop);
        *cx.notice = Some(format!("still generating: {stop} stops it"));
        chat.busy_notice = true;
        return false;
    }
    if cx.evaluating {
        *cx.notice = Some(cx.evaluating_refusal());
        return false;
    }
    if cx.other_busy {
        let (switch, stop) = (
            cx.keymap.key_name(GlobalAction::SwitchPane),
            cx.keymap.key_name(CompareAction::Stop),
        );
        *cx.notice = Some(format!(
            "a comparison is running ({switch} shows it; {stop} there stops it)"
        ));
        return false;
    }
    if let Some(why) = cx.model.refusal() {
        *cx.notice = Some(why);
        return false;
    }
    true
}

fn submit(chat: &mut ChatState, cx: &mut Cx) -> Vec<Effect> {
    let text = chat.input.lines().join("\n");
    if text.trim().is_empty() || !can_generate(chat, cx) {
        return vec![];
    }
    if chat.history.last() != Some(&text) {
        chat.history.push(text.clone());
    }
    chat.history_pos = None;
    let user = match chat.editing.take() {
        Some(turn) => chat.conversation.edit(turn, &text),
        None => chat.conversation.push(Role::User, &text),
    };
    chat.input = new_input();
    chat.selected = None;
    chat.scroll = Scroll::Newest;
    answer(chat, cx, user)
}

/// Starts a new assistant turn under `user` and asks the engine for it.
fn answer(chat: &mut ChatState, cx: &mut Cx, user: usize) -> Vec<Effect> {
    let turn = chat.conversation.push_child(user, Role::Assistant, "");
    chat.conversation.turn_mut(turn).finished = false;
    let messages = chat.conversation.messages(Some(user));
    request(chat, cx, turn, messages, String::new())
}

fn request(
    chat: &mut ChatState,
    cx: &mut Cx,
    turn: usize,
    messages: Vec<promptlab_engine::plain::Message>,
    assistant_prefix: String,
) -> Vec<Effect> {
    let id = cx.take_id();
    chat.generating = Some(Generation { id, turn });
    *cx.notice = None;
    chat.token_cursor = None;
    let sampling = cx.settings.sampling_for(id);
    // Recorded (and saved) with the answer, so it can be reproduced.
    chat.conversation.turn_mut(turn).seed = Some(sampling.seed);
    vec![Effect::Chat(ChatRequest {
        id,
        call: ChatCall {
            messages,
            assistant_prefix,
            sampling,
            top_logprobs: chat.top_logprobs,
            // The attention pane's live switch sets it (see the app's update).
            capture_attention: false,
        },
    })]
}

/// Starts an empty conversation with its own file next to this one's; this
/// one is saved to its file first. Not while an answer streams.
fn new_conversation(chat: &mut ChatState, cx: &mut Cx) -> Vec<Effect> {
    if chat.generating.is_some() {
        let stop = cx.keymap.key_name(ChatAction::Stop);
        return cx.refuse(format!("still generating: {stop} stops it first"));
    }
    let fresh = Conversation::new(&chat.conversation.system, &chat.conversation.model);
    let dir = chat
        .save_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let left = std::mem::replace(&mut chat.conversation, Conversation::new("", ""));
    let left_path = chat.save_path.clone();
    show_conversation(chat, fresh, new_conversation_path(&dir));
    if left.turns.is_empty() {
        *cx.notice = Some("new conversation".into());
        return vec![];
    }
    *cx.notice = Some(format!(
        "new conversation; the last one is in {}",
        left_path.display()
    ));
    vec![Effect::SaveCopy(Box::new(left), left_path)]
}

/// Shows `conversation`, read from `path` (which saves go to from now).
pub(crate) fn show_conversation(chat: &mut ChatState, conversation: Conversation, path: PathBuf) {
    chat.conversation = conversation;
    chat.save_path = path;
    chat.editing = None;
    chat.selected = None;
    chat.token_cursor = None;
    chat.scroll = Scroll::Newest;
    chat.stats = Stats::default();
    chat.focus = Focus::Input;
}

/// A file name for a conversation started now: `chat-<unix ms>.json`.
pub(crate) fn new_conversation_path(dir: &Path) -> PathBuf {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    dir.join(format!("chat-{ms}.json"))
}

fn regenerate(chat: &mut ChatState, cx: &mut Cx) -> Vec<Effect> {
    if !can_generate(chat, cx) {
        return vec![];
    }
    match chat.conversation.regenerate_target() {
        Some(user) => {
            chat.selected = None;
            let effects = answer(chat, cx, user);
            // Said rather than silently making an identical branch.
            if cx.settings.fixed_seed || cx.settings.sampling.temperature <= 0.0 {
                let settings = cx.keymap.key_name(GlobalAction::Settings);
                *cx.notice = Some(format!(
                    "the seed is fixed or sampling greedy ({settings}): this answer will be the same"
                ));
            }
            effects
        }
        None => {
            *cx.notice = Some("nothing to regenerate: the last message is not an answer".into());
            vec![]
        }
    }
}

fn continue_answer(chat: &mut ChatState, cx: &mut Cx) -> Vec<Effect> {
    if !can_generate(chat, cx) {
        return vec![];
    }
    let Some(turn) = chat.conversation.leaf else {
        return vec![];
    };
    let t = chat.conversation.turn(turn);
    if t.role != Role::Assistant {
        *cx.notice = Some("nothing to continue: the last message is not an answer".into());
        return vec![];
    }
    if t.finished {
        let regenerate = cx.keymap.key_name(ChatAction::Regenerate);
        *cx.notice = Some(format!(
            "the last answer is complete; {regenerate} regenerates it"
        ));
        return vec![];
    }
    let prefix = t.content.clone();
    let Some(user) = t.parent else {
        return vec![];
    };
    let messages = chat.conversation.messages(Some(user));
    chat.conversation.turn_mut(turn).stop_reason = None;
    request(chat, cx, turn, messages, prefix)
}

fn start_edit(chat: &mut ChatState, cx: &mut Cx) {
    let path = chat.conversation.path();
    let target = chat
        .focused_turn()
        .filter(|&i| chat.conversation.turn(i).role == Role::User)
        .or_else(|| {
            path.iter()
                .rev()
                .copied()
                .find(|&i| chat.conversation.turn(i).role == Role::User)
        });
    let Some(turn) = target else {
        *cx.notice = Some("no message to edit".into());
        return;
    };
    let content = chat.conversation.turn(turn).content.clone();
    // A draft being typed stays reachable with the history keys.
    let draft = chat.input.lines().join("\n");
    if !draft.trim().is_empty() && chat.history.last() != Some(&draft) {
        chat.history.push(draft);
    }
    chat.input = new_input();
    chat.input.insert_str(content);
    chat.editing = Some(turn);
    chat.focus = Focus::Input;
    chat.selected = None;
    let stop = cx.keymap.key_name(ChatAction::Stop);
    *cx.notice = Some(format!("editing: send to branch from here, {stop} cancels"));
}

fn recall_history(chat: &mut ChatState, back: bool) {
    if chat.history.is_empty() {
        return;
    }
    let last = chat.history.len() - 1;
    let pos = match (chat.history_pos, back) {
        (None, true) => {
            chat.draft = Some(chat.input.lines().join("\n"));
            Some(last)
        }
        (None, false) => return,
        (Some(p), true) => Some(p.saturating_sub(1)),
        (Some(p), false) if p >= last => None,
        (Some(p), false) => Some(p + 1),
    };
    chat.history_pos = pos;
    chat.editing = None;
    let text = match pos {
        Some(p) => chat.history[p].clone(),
        None => chat.draft.take().unwrap_or_default(),
    };
    chat.input = new_input();
    chat.input.insert_str(text);
}

/// An engine event of an answer (the app routes the others elsewhere).
pub(crate) fn on_engine(
    chat: &mut ChatState,
    notice: &mut Option<String>,
    event: Event,
) -> Vec<Effect> {
    let current = |chat: &ChatState, id: u64| chat.generating.filter(|g| g.id == id);
    match event {
        Event::Started {
            id,
            prompt_tokens,
            dropped_messages,
        } if current(chat, id).is_some() => {
            chat.stats = Stats {
                prompt_tokens,
                ..Stats::default()
            };
            if dropped_messages > 0 {
                *notice = Some(format!(
                    "context window full: the {dropped_messages} oldest messages were left out"
                ));
            }
        }
        Event::Token { id, token } => {
            if let Some(g) = current(chat, id) {
                chat.stats.generated_tokens += 1;
                chat.conversation.append_token(
                    g.turn,
                    TokenInfo {
                        text: token.text,
                        logprob: token.logprob,
                        top: token.top,
                    },
                );
            }
        }
        Event::Finished { id, finished } => {
            if let Some(g) = current(chat, id) {
                chat.generating = None;
                if std::mem::take(&mut chat.busy_notice) {
                    *notice = None;
                }
                chat.conversation
                    .turn_mut(g.turn)
                    .content
                    .push_str(&finished.tail);
                chat.stats.generated_tokens = finished.generated_tokens;
                chat.stats.prompt_tokens = finished.prompt_tokens;
                chat.conversation.turn_mut(g.turn).tokens_used = Some(TokensUsed {
                    prompt: finished.prompt_tokens,
                    generated: finished.generated_tokens,
                });
                chat.stats.prefill_tok_s = finished.prefill_tok_s;
                chat.stats.decode_tok_s = finished.decode_tok_s;
                chat.conversation
                    .end_turn(g.turn, finished.stop_reason.into());
                return vec![Effect::Autosave];
            }
        }
        Event::Failed { id, error } => {
            if let Some(g) = current(chat, id) {
                chat.generating = None;
                chat.busy_notice = false;
                chat.conversation.end_turn(g.turn, TurnEnd::Error);
                *notice = Some(format!("generation failed: {error}"));
            }
        }
        _ => {}
    }
    vec![]
}
