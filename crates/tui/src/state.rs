//! The app's state and `update`, the only place it changes: an [`Action`]
//! in, [`Effect`]s out for the runner to carry out. No I/O here, so every
//! behaviour can be driven by scripted actions in tests.

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};
use tui_textarea::TextArea;

use super::compare::{self, CompareState};
use super::conversation::{Conversation, Role, TokenInfo, TurnEnd};
use super::keymap::{KeyAction, Keymap};
use super::settings::Settings;
use promptlab_engine::{ChatRequest, CompareRequest, Event, RequestId};
use promptlab_infer::ModelInfo;

/// Everything that can happen to the app.
#[derive(Debug, Clone)]
pub enum Action {
    Key(KeyEvent),
    Paste(String),
    Mouse(MouseEvent),
    Resize(u16, u16),
    Engine(Event),
    /// Something the runner wants shown (a save went through, a copy failed).
    Notice(String),
    Tick,
}

/// What the runner must do after an update.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Chat(ChatRequest),
    Compare(CompareRequest),
    /// Stop request `id` (a chat turn or a comparison).
    Cancel(RequestId),
    Save(PathBuf),
    Export(PathBuf),
    Autosave,
    Copy(String),
    Quit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Input,
    Messages,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlay {
    Help,
    Settings,
    /// A compare column's selected step or call: full prompt and output.
    Step,
}

/// The pane on screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Chat,
    Compare,
}

/// The generation in flight: its request id and the turn it writes into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generation {
    pub id: u64,
    pub turn: usize,
}

/// Figures for the status line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    pub prompt_tokens: usize,
    pub generated_tokens: usize,
    pub prefill_tok_s: f64,
    pub decode_tok_s: f64,
}

pub struct State {
    pub screen: Screen,
    pub compare: CompareState,
    pub conversation: Conversation,
    pub input: TextArea<'static>,
    /// The user turn being edited (sending creates a new branch from it).
    pub editing: Option<usize>,
    pub focus: Focus,
    /// Position in the visible branch selected in the messages pane.
    pub selected: Option<usize>,
    pub generating: Option<Generation>,
    pub model: Option<ModelInfo>,
    pub model_error: Option<String>,
    pub stats: Stats,
    pub settings: Settings,
    pub show_probs: bool,
    /// Index of the token under the cursor in the selected assistant turn.
    pub token_cursor: Option<usize>,
    pub overlay: Option<Overlay>,
    pub notice: Option<String>,
    pub history: Vec<String>,
    pub history_pos: Option<usize>,
    /// What was typed before browsing the history, restored after it.
    pub draft: Option<String>,
    pub keymap: Keymap,
    /// Lines scrolled up from the newest (0 follows the stream).
    pub scroll_back: u16,
    pub size: (u16, u16),
    pub next_id: u64,
    pub save_path: PathBuf,
    pub top_logprobs: usize,
}

impl State {
    pub fn new(
        conversation: Conversation,
        settings: Settings,
        keymap: Keymap,
        save_path: PathBuf,
    ) -> State {
        State {
            screen: Screen::Chat,
            compare: CompareState::from_catalog(),
            conversation,
            input: new_input(),
            editing: None,
            focus: Focus::Input,
            selected: None,
            generating: None,
            model: None,
            model_error: None,
            stats: Stats::default(),
            settings,
            show_probs: false,
            token_cursor: None,
            overlay: None,
            notice: None,
            history: Vec::new(),
            history_pos: None,
            draft: None,
            keymap,
            scroll_back: 0,
            size: (80, 24),
            next_id: 1,
            save_path,
            top_logprobs: 5,
        }
    }

    /// Tokens in the context: the last prompt plus what has been generated.
    pub fn context_used(&self) -> usize {
        self.stats.prompt_tokens + self.stats.generated_tokens
    }

    /// The turn the messages pane points at: the selected one, else the last.
    pub fn focused_turn(&self) -> Option<usize> {
        let path = self.conversation.path();
        match self.selected {
            Some(i) => path.get(i).copied(),
            None => path.last().copied(),
        }
    }
}

fn new_input() -> TextArea<'static> {
    let mut input = TextArea::default();
    input.set_cursor_line_style(ratatui::style::Style::default());
    input.set_placeholder_text("Type a message…");
    input
}

/// Applies one action; returns what the runner must do.
pub fn update(state: &mut State, action: Action) -> Vec<Effect> {
    match action {
        Action::Key(key) => on_key(state, key),
        Action::Paste(text) => {
            // Terminals send pasted line breaks as CR.
            let text = text.replace("\r\n", "\n").replace('\r', "\n");
            match (state.overlay, state.screen) {
                (Some(Overlay::Settings), _) => state.settings.paste(&text),
                (Some(_), _) => {}
                (None, Screen::Compare) => compare::paste(state, &text),
                (None, Screen::Chat) => {
                    state.focus = Focus::Input;
                    state.input.insert_str(text);
                }
            }
            vec![]
        }
        Action::Mouse(mouse) => on_mouse(state, mouse),
        Action::Resize(w, h) => {
            state.size = (w, h);
            vec![]
        }
        Action::Engine(event) => on_engine(state, event),
        Action::Notice(text) => {
            state.notice = Some(text);
            vec![]
        }
        Action::Tick => vec![],
    }
}

fn on_key(state: &mut State, key: KeyEvent) -> Vec<Effect> {
    let action = state.keymap.action(&key);
    if action == Some(KeyAction::Quit) {
        return quit(state);
    }
    match state.overlay {
        Some(Overlay::Help) => {
            state.overlay = None;
            return vec![];
        }
        Some(Overlay::Settings) => {
            if state.settings.handle_key(&key) {
                state.overlay = None;
                state.conversation.system = state.settings.system.clone();
            }
            return vec![];
        }
        Some(Overlay::Step) => {
            compare::on_detail_key(state, key, action);
            return vec![];
        }
        None => {}
    }
    if state.screen == Screen::Compare {
        return compare::on_key(state, key, action);
    }
    if let Some(action) = action {
        if let Some(effects) = on_action(state, action) {
            return effects;
        }
    }
    match state.focus {
        Focus::Input => {
            state.notice = None;
            state.input.input(key);
        }
        Focus::Messages => on_messages_key(state, key),
    }
    vec![]
}

/// Runs a bound action; `None` lets the key fall through to the focused
/// widget (e.g. Send while the messages pane has focus).
fn on_action(state: &mut State, action: KeyAction) -> Option<Vec<Effect>> {
    let effects = match action {
        KeyAction::Quit => quit(state),
        KeyAction::Stop => {
            if let Some(g) = state.generating {
                vec![Effect::Cancel(g.id)]
            } else if state.editing.is_some() {
                state.editing = None;
                state.input = new_input();
                vec![]
            } else {
                state.focus = Focus::Input;
                state.selected = None;
                state.token_cursor = None;
                vec![]
            }
        }
        KeyAction::Send if state.focus == Focus::Input => submit(state),
        KeyAction::Newline if state.focus == Focus::Input => {
            state.input.insert_newline();
            vec![]
        }
        KeyAction::Send | KeyAction::Newline => return None,
        KeyAction::Regenerate => regenerate(state),
        KeyAction::Continue => continue_answer(state),
        KeyAction::Edit => {
            start_edit(state);
            vec![]
        }
        KeyAction::Save => vec![Effect::Save(state.save_path.clone())],
        KeyAction::Export => vec![Effect::Export(state.save_path.with_extension("md"))],
        KeyAction::Copy => match state.focused_turn() {
            Some(i) => vec![Effect::Copy(state.conversation.turn(i).content.clone())],
            None => vec![],
        },
        KeyAction::ToggleProbs => {
            state.show_probs = !state.show_probs;
            state.token_cursor = None;
            vec![]
        }
        KeyAction::Settings => {
            state.settings.system = state.conversation.system.clone();
            state.overlay = Some(Overlay::Settings);
            vec![]
        }
        KeyAction::Help => {
            state.overlay = Some(Overlay::Help);
            vec![]
        }
        KeyAction::Focus => {
            state.token_cursor = None;
            state.focus = match state.focus {
                Focus::Input => {
                    let len = state.conversation.path().len();
                    state.selected = len.checked_sub(1);
                    Focus::Messages
                }
                Focus::Messages => {
                    state.selected = None;
                    Focus::Input
                }
            };
            vec![]
        }
        KeyAction::BranchPrev | KeyAction::BranchNext => {
            let delta = if action == KeyAction::BranchPrev {
                -1
            } else {
                1
            };
            if state.generating.is_none() {
                if let Some(turn) = state.focused_turn() {
                    state.conversation.switch_sibling(turn, delta);
                    let len = state.conversation.path().len();
                    state.selected = state.selected.map(|s| s.min(len.saturating_sub(1)));
                    state.token_cursor = None;
                }
            }
            vec![]
        }
        KeyAction::HistoryPrev | KeyAction::HistoryNext => {
            recall_history(state, action == KeyAction::HistoryPrev);
            vec![]
        }
        KeyAction::Compare => {
            state.screen = Screen::Compare;
            vec![]
        }
        KeyAction::AllowCode => {
            compare::toggle_code(state);
            vec![]
        }
    };
    Some(effects)
}

fn quit(state: &mut State) -> Vec<Effect> {
    let mut effects = Vec::new();
    if let Some(g) = state.generating {
        effects.push(Effect::Cancel(g.id));
    }
    if let Some(run) = state.compare.run.as_ref().filter(|r| r.running) {
        effects.push(Effect::Cancel(run.id));
    }
    effects.push(Effect::Autosave);
    effects.push(Effect::Quit);
    effects
}

fn on_messages_key(state: &mut State, key: KeyEvent) {
    let len = state.conversation.path().len();
    match key.code {
        KeyCode::Up => {
            state.selected = Some(state.selected.unwrap_or(len).saturating_sub(1));
            state.token_cursor = None;
        }
        KeyCode::Down => {
            state.selected = state.selected.map(|s| (s + 1).min(len.saturating_sub(1)));
            state.token_cursor = None;
        }
        KeyCode::Left | KeyCode::Right if state.show_probs => {
            let Some(turn) = state.focused_turn() else {
                return;
            };
            let n = state.conversation.turn(turn).tokens.len();
            if n == 0 {
                return;
            }
            let current = state.token_cursor.unwrap_or(n);
            state.token_cursor = Some(if key.code == KeyCode::Left {
                current.saturating_sub(1)
            } else {
                (current + 1).min(n - 1)
            });
        }
        KeyCode::PageUp => state.scroll_back = state.scroll_back.saturating_add(10),
        KeyCode::PageDown => state.scroll_back = state.scroll_back.saturating_sub(10),
        KeyCode::Home => {
            state.selected = Some(0);
            state.token_cursor = None;
        }
        KeyCode::End => {
            state.selected = len.checked_sub(1);
            state.token_cursor = None;
        }
        KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
            // Typing while the messages have focus goes to the input.
            state.focus = Focus::Input;
            state.selected = None;
            state.input.insert_char(c);
        }
        _ => {}
    }
}

fn on_mouse(state: &mut State, mouse: MouseEvent) -> Vec<Effect> {
    if state.screen == Screen::Compare {
        let c = &mut state.compare;
        if state.overlay == Some(Overlay::Step) {
            match mouse.kind {
                MouseEventKind::ScrollUp => c.detail_scroll = c.detail_scroll.saturating_sub(3),
                MouseEventKind::ScrollDown => c.detail_scroll = c.detail_scroll.saturating_add(3),
                _ => {}
            }
        }
        return vec![];
    }
    match mouse.kind {
        MouseEventKind::ScrollUp => state.scroll_back = state.scroll_back.saturating_add(3),
        MouseEventKind::ScrollDown => state.scroll_back = state.scroll_back.saturating_sub(3),
        MouseEventKind::Down(_) => {
            let area = ratatui::layout::Rect::new(0, 0, state.size.0, state.size.1);
            let input_top = super::ui::chat_layout(area, state).input.y;
            state.focus = if mouse.row >= input_top {
                Focus::Input
            } else {
                Focus::Messages
            };
        }
        _ => {}
    }
    vec![]
}

fn can_generate(state: &mut State) -> bool {
    if state.generating.is_some() {
        state.notice = Some("still generating: Esc stops it".into());
        return false;
    }
    if state.compare.running() {
        state.notice = Some("a comparison is running (F3 shows it; Esc there stops it)".into());
        return false;
    }
    if state.model.is_none() {
        state.notice = Some(match &state.model_error {
            Some(e) => format!("no model: {e}"),
            None => "the model is still loading".into(),
        });
        return false;
    }
    true
}

fn submit(state: &mut State) -> Vec<Effect> {
    let text = state.input.lines().join("\n");
    if text.trim().is_empty() || !can_generate(state) {
        return vec![];
    }
    if state.history.last() != Some(&text) {
        state.history.push(text.clone());
    }
    state.history_pos = None;
    let user = match state.editing.take() {
        Some(turn) => state.conversation.edit(turn, &text),
        None => state.conversation.push(Role::User, &text),
    };
    state.input = new_input();
    state.selected = None;
    state.scroll_back = 0;
    answer(state, user)
}

/// Starts a new assistant turn under `user` and asks the engine for it.
fn answer(state: &mut State, user: usize) -> Vec<Effect> {
    let turn = state.conversation.push_child(user, Role::Assistant, "");
    state.conversation.turn_mut(turn).finished = false;
    let messages = state.conversation.messages(Some(user));
    request(state, turn, messages, String::new())
}

fn request(
    state: &mut State,
    turn: usize,
    messages: Vec<promptlab_infer::chat_template::Message>,
    assistant_prefix: String,
) -> Vec<Effect> {
    let id = state.next_id;
    state.next_id += 1;
    state.generating = Some(Generation { id, turn });
    state.notice = None;
    state.token_cursor = None;
    let s = &state.settings;
    vec![Effect::Chat(ChatRequest {
        id,
        messages,
        assistant_prefix,
        sampling: s.sampling_for(id),
        top_logprobs: state.top_logprobs,
    })]
}

fn regenerate(state: &mut State) -> Vec<Effect> {
    if !can_generate(state) {
        return vec![];
    }
    match state.conversation.regenerate_target() {
        Some(user) => {
            state.selected = None;
            answer(state, user)
        }
        None => {
            state.notice = Some("nothing to regenerate: the last message is not an answer".into());
            vec![]
        }
    }
}

fn continue_answer(state: &mut State) -> Vec<Effect> {
    if !can_generate(state) {
        return vec![];
    }
    let Some(turn) = state.conversation.leaf else {
        return vec![];
    };
    let t = state.conversation.turn(turn);
    if t.role != Role::Assistant {
        state.notice = Some("nothing to continue: the last message is not an answer".into());
        return vec![];
    }
    if t.finished {
        state.notice = Some("the last answer is complete; ctrl+r regenerates it".into());
        return vec![];
    }
    let prefix = t.content.clone();
    let Some(user) = t.parent else {
        return vec![];
    };
    let messages = state.conversation.messages(Some(user));
    state.conversation.turn_mut(turn).stop_reason = None;
    request(state, turn, messages, prefix)
}

fn start_edit(state: &mut State) {
    let path = state.conversation.path();
    let target = state
        .focused_turn()
        .filter(|&i| state.conversation.turn(i).role == Role::User)
        .or_else(|| {
            path.iter()
                .rev()
                .copied()
                .find(|&i| state.conversation.turn(i).role == Role::User)
        });
    let Some(turn) = target else {
        state.notice = Some("no message to edit".into());
        return;
    };
    let content = state.conversation.turn(turn).content.clone();
    // A draft being typed stays reachable with the history keys.
    let draft = state.input.lines().join("\n");
    if !draft.trim().is_empty() && state.history.last() != Some(&draft) {
        state.history.push(draft);
    }
    state.input = new_input();
    state.input.insert_str(content);
    state.editing = Some(turn);
    state.focus = Focus::Input;
    state.selected = None;
    state.notice = Some("editing: send to branch from here, Esc cancels".into());
}

fn recall_history(state: &mut State, back: bool) {
    if state.history.is_empty() {
        return;
    }
    let last = state.history.len() - 1;
    let pos = match (state.history_pos, back) {
        (None, true) => {
            state.draft = Some(state.input.lines().join("\n"));
            Some(last)
        }
        (None, false) => return,
        (Some(p), true) => Some(p.saturating_sub(1)),
        (Some(p), false) if p >= last => None,
        (Some(p), false) => Some(p + 1),
    };
    state.history_pos = pos;
    state.editing = None;
    let text = match pos {
        Some(p) => state.history[p].clone(),
        None => state.draft.take().unwrap_or_default(),
    };
    state.input = new_input();
    state.input.insert_str(text);
}

fn on_engine(state: &mut State, event: Event) -> Vec<Effect> {
    let current = |state: &State, id: u64| state.generating.filter(|g| g.id == id);
    match event {
        Event::Loaded { info, .. } => {
            state.conversation.model = info.name.clone();
            state.model = Some(info);
            state.model_error = None;
        }
        Event::LoadFailed(error) => {
            state.notice = Some(format!("model failed to load: {error}"));
            state.model_error = Some(error.to_string());
        }
        Event::Started {
            id,
            prompt_tokens,
            dropped_messages,
        } => {
            if current(state, id).is_some() {
                state.stats = Stats {
                    prompt_tokens,
                    ..Stats::default()
                };
                if dropped_messages > 0 {
                    state.notice = Some(format!(
                        "context window full: the {dropped_messages} oldest messages were left out"
                    ));
                }
            }
        }
        Event::Token { id, token } => {
            if let Some(g) = current(state, id) {
                state.stats.generated_tokens += 1;
                state.conversation.append_token(
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
            if let Some(g) = current(state, id) {
                state.generating = None;
                state
                    .conversation
                    .turn_mut(g.turn)
                    .content
                    .push_str(&finished.tail);
                state.stats.generated_tokens = finished.generated_tokens;
                state.stats.prompt_tokens = finished.prompt_tokens;
                state.stats.prefill_tok_s = finished.prefill_tok_s;
                state.stats.decode_tok_s = finished.decode_tok_s;
                state
                    .conversation
                    .end_turn(g.turn, finished.stop_reason.into());
                return vec![Effect::Autosave];
            }
        }
        Event::Failed { id, error } if current(state, id).is_some() => {
            if let Some(g) = current(state, id) {
                state.generating = None;
                state.conversation.end_turn(g.turn, TurnEnd::Error);
                state.notice = Some(format!("generation failed: {error}"));
            }
        }
        // Long jobs have no pane yet.
        Event::JobProgress { .. } | Event::JobFinished { .. } => {}
        event @ (Event::Failed { .. }
        | Event::Method { .. }
        | Event::MethodPrompt { .. }
        | Event::MethodDone { .. }
        | Event::CompareFinished { .. }) => compare::on_engine(state, event),
    }
    vec![]
}
