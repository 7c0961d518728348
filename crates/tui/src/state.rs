//! The app's state and `update`, the only place it changes: an [`Action`]
//! in, [`Effect`]s out for the runner to carry out. The state holds the
//! panes and what they share (settings, keymap, the overlay, the notice
//! line, the model); `update` handles the global keys and the overlays and
//! hands everything else to the active pane's update with only what that
//! needs. No I/O here, so every behaviour can be driven by scripted actions
//! in tests.

use std::path::PathBuf;

use crossterm::event::{KeyEvent, MouseEvent};

use crate::conversation::Conversation;
use crate::keymap::{GlobalAction, Keymap};
use crate::panes::attention::{self, AttentionState};
use crate::panes::chat::{self, ChatState};
use crate::panes::compare::{self, CompareState};
use crate::panes::eval::{self, EvalState, SuiteEntry};
use crate::panes::images;
use crate::panes::{Cx, ModelStatus, ViewCx};
use crate::settings::Settings;
use crate::theme::Theme;
use promptlab_engine::{
    ChatRequest, CompareRequest, EvalRequest, Event, InspectRequest, ReadoutRequest, RequestId,
};

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
    /// The conversations folder as read for the list.
    ConversationsListed(Vec<crate::conversations::Entry>),
    /// A saved conversation, read from its file, to show.
    ConversationOpened(Box<Conversation>, PathBuf),
    /// The suites folder as read for the eval pane (or why it could not be).
    SuitesListed(Result<Vec<SuiteEntry>, String>),
    /// A signal asked the app to end (SIGTERM, SIGHUP, SIGINT from
    /// outside): it quits as on the quit key, saving what is in flight.
    Terminate,
    Tick,
}

/// What the runner must do after an update.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Chat(ChatRequest),
    Compare(CompareRequest),
    /// Capture attention (the attention pane).
    Inspect(InspectRequest),
    /// Read a capture's lens and a head's effect.
    Readout(ReadoutRequest),
    /// Run a suite (the eval pane).
    Eval(EvalRequest),
    /// Train or sample an image model (the images pane).
    Images(promptlab_engine::images::ImagesRequest),
    /// Read the suites folder for the eval pane.
    ListSuites(PathBuf),
    /// Stop request `id` (a chat turn, a comparison, a capture, a run).
    Cancel(RequestId),
    Save(PathBuf),
    /// Read the conversations folder for the list.
    ListConversations,
    OpenConversation(PathBuf),
    /// Give the conversation in this file a title (none when empty).
    RenameConversation(PathBuf, String),
    DeleteConversation(PathBuf),
    /// Write a finished comparison: its Markdown and its JSON lines.
    ExportRun {
        markdown: String,
        jsonl: String,
    },
    /// Save this conversation (one being left) to its file, quietly.
    SaveCopy(Box<Conversation>, PathBuf),
    Export(PathBuf),
    Autosave,
    Copy(String),
    /// Turn the terminal's mouse capture on (true) or off.
    Mouse(bool),
    Quit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlay {
    Help,
    Settings,
    /// A compare column's selected step or call: full prompt and output.
    Step,
    /// The command palette.
    Palette,
    /// The saved conversations.
    Conversations,
}

/// The pane on screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Chat,
    Compare,
    Attention,
    Eval,
    Images,
}

pub struct State {
    pub screen: Screen,
    pub chat: ChatState,
    pub compare: CompareState,
    pub attention: AttentionState,
    /// The pane the attention key came from (it goes back there).
    pub(crate) attention_from: Screen,
    pub eval: EvalState,
    /// The pane the eval key came from.
    pub(crate) eval_from: Screen,
    pub images: crate::panes::images::ImagesState,
    /// The pane the images key came from.
    pub(crate) images_from: Screen,
    pub settings: Settings,
    pub(crate) keymap: Keymap,
    pub overlay: Option<Overlay>,
    pub notice: Option<String>,
    /// Mouse capture is on (the app's wheel and clicks work).
    pub mouse: bool,
    pub palette: crate::palette::Palette,
    pub conversations: crate::conversations::ConversationList,
    /// Where conversations are saved (the list shows this folder).
    pub conversations_dir: PathBuf,
    /// A notice from the pane not on screen (a comparison that finished
    /// while the chat was shown), shown when that pane comes back.
    pub(crate) hidden_notice: Option<(Screen, String)>,
    pub(crate) model: ModelStatus,
    pub(crate) next_id: RequestId,
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
            chat: ChatState::new(conversation, save_path.clone()),
            compare: CompareState::from_catalog(),
            attention: AttentionState::default(),
            attention_from: Screen::Chat,
            eval: EvalState::default(),
            eval_from: Screen::Chat,
            images: Default::default(),
            images_from: Screen::Chat,
            settings,
            keymap,
            overlay: None,
            notice: None,
            mouse: true,
            palette: crate::palette::Palette::default(),
            conversations: Default::default(),
            conversations_dir: save_path.parent().map(PathBuf::from).unwrap_or_default(),
            hidden_notice: None,
            model: ModelStatus::default(),
            next_id: 1,
        }
    }

    /// What the active pane's view may read.
    pub(crate) fn view_cx<'a>(&'a self, theme: &'a Theme) -> ViewCx<'a> {
        ViewCx {
            theme,
            keymap: &self.keymap,
            settings: &self.settings,
            model: &self.model,
            other_busy: self.other_busy(),
            evaluating: self.screen != Screen::Eval && self.eval.running(),
        }
    }

    /// Whether the pane not on screen has a request in flight.
    fn other_busy(&self) -> bool {
        let evaluating = self.eval.running();
        match self.screen {
            Screen::Chat => self.compare.running() || evaluating,
            Screen::Compare => self.chat.generating.is_some() || evaluating,
            Screen::Attention => {
                self.chat.generating.is_some() || self.compare.running() || evaluating
            }
            Screen::Eval => {
                self.chat.generating.is_some() || self.compare.running() || self.attention.running()
            }
            // The images lane runs beside the model's: nothing waits.
            Screen::Images => false,
        }
    }
}

/// The eval and images panes and what their updates may use (the images
/// pane is never kept waiting: `other_busy` is false on its screen).
fn lab_cx(state: &mut State) -> (&mut EvalState, &mut images::ImagesState, Cx<'_>) {
    let other_busy = state.other_busy();
    let cx = Cx::new(
        &state.keymap,
        &state.settings,
        &state.model,
        &mut state.notice,
        &mut state.overlay,
        &mut state.next_id,
        other_busy,
    );
    (&mut state.eval, &mut state.images, cx)
}

/// The panes and what the active one's update may use.
fn pane_cx(
    state: &mut State,
) -> (
    &mut ChatState,
    &mut CompareState,
    &mut AttentionState,
    Cx<'_>,
) {
    let other_busy = state.other_busy();
    let evaluating = state.screen != Screen::Eval && state.eval.running();
    let mut cx = Cx::new(
        &state.keymap,
        &state.settings,
        &state.model,
        &mut state.notice,
        &mut state.overlay,
        &mut state.next_id,
        other_busy,
    );
    cx.evaluating = evaluating;
    (
        &mut state.chat,
        &mut state.compare,
        &mut state.attention,
        cx,
    )
}

/// Applies one action; returns what the runner must do.
pub fn update(state: &mut State, action: Action) -> Vec<Effect> {
    match action {
        Action::Key(key) => {
            let mut effects = on_key(state, key);
            // The attention pane's live switch: chat answers capture.
            if state.attention.live_on {
                for effect in &mut effects {
                    if let Effect::Chat(request) = effect {
                        request.call.capture_attention = true;
                    }
                }
            }
            effects
        }
        Action::Paste(text) => {
            // Terminals send pasted line breaks as CR.
            let text = text.replace("\r\n", "\n").replace('\r', "\n");
            match (state.overlay, state.screen) {
                (Some(Overlay::Settings), _) => state.settings.paste(&text),
                (Some(_), _) => {}
                (None, Screen::Compare) => compare::update::paste(&mut state.compare, &text),
                (None, Screen::Chat) => chat::update::paste(&mut state.chat, &text),
                (None, Screen::Attention) => attention::update::paste(&mut state.attention, &text),
                (None, Screen::Eval | Screen::Images) => {}
            }
            vec![]
        }
        Action::Mouse(mouse) => {
            match state.screen {
                Screen::Compare => {
                    compare::update::on_mouse(&mut state.compare, state.overlay, mouse)
                }
                Screen::Chat => chat::update::on_mouse(&mut state.chat, mouse),
                Screen::Attention | Screen::Eval | Screen::Images => {}
            }
            vec![]
        }
        // The view lays itself out on the next frame.
        Action::Resize(..) | Action::Tick => vec![],
        Action::Engine(event) => on_engine(state, event),
        Action::Notice(text) => {
            state.notice = Some(text);
            vec![]
        }
        Action::Terminate => quit(state),
        Action::ConversationsListed(entries) => {
            // A new list keeps what was being searched (after a rename or
            // a delete).
            let (filter, cursor) = match state.overlay {
                Some(Overlay::Conversations) => (
                    state.conversations.filter.clone(),
                    state.conversations.cursor,
                ),
                _ => (String::new(), 0),
            };
            state.conversations = crate::conversations::ConversationList::new(entries);
            state.conversations.filter = filter;
            let shown = state.conversations.shown().len();
            state.conversations.cursor = cursor.min(shown.saturating_sub(1));
            state.overlay = Some(Overlay::Conversations);
            vec![]
        }
        Action::ConversationOpened(conversation, path) => {
            chat::update::show_conversation(&mut state.chat, *conversation, path);
            state.settings.system = state.chat.conversation.system.clone();
            state.overlay = None;
            state.notice = Some(format!("opened {}", state.chat.conversation.label()));
            vec![]
        }
        Action::SuitesListed(listed) => {
            eval::update::suites_listed(&mut state.eval, listed);
            vec![]
        }
    }
}

fn on_key(state: &mut State, key: KeyEvent) -> Vec<Effect> {
    let global = state.keymap.global(&key);
    if global == Some(GlobalAction::Quit) {
        return quit(state);
    }
    match state.overlay {
        Some(Overlay::Help) => {
            state.overlay = None;
            return vec![];
        }
        Some(Overlay::Settings) => {
            let bound = global == Some(GlobalAction::Settings);
            if state.settings.handle_key(&key, bound) {
                state.overlay = None;
                state.chat.conversation.system = state.settings.system.clone();
            }
            return vec![];
        }
        Some(Overlay::Conversations) => {
            use crate::conversations::ListOutcome;
            return match state.conversations.handle_key(&key) {
                ListOutcome::Stay => vec![],
                ListOutcome::Close => {
                    state.overlay = None;
                    vec![]
                }
                ListOutcome::Open(path) => vec![Effect::OpenConversation(path)],
                ListOutcome::Rename(path, title) => vec![Effect::RenameConversation(path, title)],
                ListOutcome::Delete(path) if path == state.chat.save_path() => {
                    state.notice = Some(
                        "that is the conversation on screen: start a new one (or open another) first"
                            .into(),
                    );
                    vec![]
                }
                ListOutcome::Delete(path) => vec![Effect::DeleteConversation(path)],
            };
        }
        Some(Overlay::Palette) => {
            use crate::palette::PaletteOutcome;
            let commands = state.keymap.commands(state.screen);
            match state.palette.handle_key(&key, &commands, &state.keymap) {
                PaletteOutcome::Open => return vec![],
                PaletteOutcome::Close => {
                    state.overlay = None;
                    return vec![];
                }
                PaletteOutcome::Run(event) => {
                    state.overlay = None;
                    return on_key(state, event);
                }
            }
        }
        Some(Overlay::Step) => {
            let (_, c, _, mut cx) = pane_cx(state);
            return compare::update::on_detail_key(c, &mut cx, key);
        }
        None => {}
    }
    match global {
        Some(GlobalAction::Palette) => {
            state.palette = crate::palette::Palette::default();
            state.overlay = Some(Overlay::Palette);
            vec![]
        }
        Some(GlobalAction::ToggleMouse) => {
            state.mouse = !state.mouse;
            let key = state.keymap.key_name(GlobalAction::ToggleMouse);
            state.notice = Some(if state.mouse {
                format!("mouse capture on: the wheel scrolls ({key} turns it off)")
            } else {
                format!("mouse capture off: the terminal selects text ({key} turns it on)")
            });
            vec![Effect::Mouse(state.mouse)]
        }
        Some(GlobalAction::Help) => {
            state.overlay = Some(Overlay::Help);
            vec![]
        }
        Some(GlobalAction::Settings) => {
            state.settings.system = state.chat.conversation.system.clone();
            state.overlay = Some(Overlay::Settings);
            vec![]
        }
        Some(GlobalAction::SwitchPane) => {
            let to = match state.screen {
                Screen::Chat => Screen::Compare,
                Screen::Compare | Screen::Attention | Screen::Eval | Screen::Images => Screen::Chat,
            };
            show_screen(state, to);
            vec![]
        }
        Some(GlobalAction::Attention) => open_attention(state),
        Some(GlobalAction::Eval) => open_eval(state),
        Some(GlobalAction::Images) => {
            if state.screen == Screen::Images {
                show_screen(state, state.images_from);
            } else {
                state.images_from = state.screen;
                show_screen(state, Screen::Images);
            }
            vec![]
        }
        Some(GlobalAction::Quit) | None => match state.screen {
            Screen::Chat => {
                let (chat, _, _, mut cx) = pane_cx(state);
                chat::update::on_key(chat, &mut cx, key)
            }
            Screen::Compare => {
                let (_, c, _, mut cx) = pane_cx(state);
                compare::update::on_key(c, &mut cx, key)
            }
            Screen::Attention => {
                let (_, _, a, mut cx) = pane_cx(state);
                attention::update::on_key(a, &mut cx, key)
            }
            Screen::Eval => {
                let (e, _, mut cx) = lab_cx(state);
                eval::update::on_key(e, &mut cx, key)
            }
            Screen::Images => {
                let (_, i, mut cx) = lab_cx(state);
                images::update::on_key(i, &mut cx, key)
            }
        },
    }
}

/// Puts `screen` up; the notice was about the pane left behind.
fn show_screen(state: &mut State, screen: Screen) {
    state.screen = screen;
    state.notice = match state.hidden_notice.take() {
        Some((hidden, text)) if hidden == state.screen => Some(text),
        other => {
            state.hidden_notice = other;
            None
        }
    };
    state.chat.busy_notice = false;
}

/// The eval key: the eval pane (its suites read the first time), and
/// from there back to the pane before.
fn open_eval(state: &mut State) -> Vec<Effect> {
    if state.screen == Screen::Eval {
        show_screen(state, state.eval_from);
        return vec![];
    }
    state.eval_from = state.screen;
    show_screen(state, Screen::Eval);
    if state.eval.listed {
        vec![]
    } else {
        vec![Effect::ListSuites(state.eval.suites_dir.clone())]
    }
}

/// The attention key: from the attention pane, back to the pane before;
/// from the chat, the pane capturing the selected (or last) answer (unless
/// that is what it shows already); from elsewhere, the pane as it was.
fn open_attention(state: &mut State) -> Vec<Effect> {
    if state.screen == Screen::Attention {
        show_screen(state, state.attention_from);
        return vec![];
    }
    state.attention_from = state.screen;
    let from = state.screen;
    show_screen(state, Screen::Attention);
    if from == Screen::Compare {
        return compare_inspection(state);
    }
    if from != Screen::Chat || state.chat.generating.is_some() {
        return vec![];
    }
    let Some((messages, answer, source)) = chat_inspection(&state.chat) else {
        return vec![];
    };
    let asked = (messages.clone(), answer.clone());
    if state.attention.last_asked.as_ref() == Some(&asked) {
        return vec![];
    }
    let (_, _, a, mut cx) = pane_cx(state);
    a.pair = None;
    let effects = attention::update::start(a, &mut cx, messages, None, answer, 0, source);
    if !effects.is_empty() {
        state.attention.last_asked = Some(asked);
    }
    effects
}

/// From the compare pane: the last calls of the selected column and the
/// one after it, captured as a pair (unless already shown, or running).
fn compare_inspection(state: &mut State) -> Vec<Effect> {
    let Some(run) = state
        .compare
        .run
        .as_ref()
        .filter(|_| !state.compare.running())
    else {
        return vec![];
    };
    let n = run.columns.len();
    let calls: Vec<_> = (0..n.min(2))
        .filter_map(|i| run.columns[(state.compare.column + i) % n].last_call())
        .collect();
    let question = run.question().to_string();
    let asked = (
        vec![promptlab_engine::plain::Message::new("compare", &question)],
        calls
            .iter()
            .map(|c| c.prompt.as_str())
            .collect::<Vec<_>>()
            .join("\u{0}"),
    );
    if calls.is_empty() || state.attention.last_asked.as_ref() == Some(&asked) {
        return vec![];
    }
    let (_, _, a, mut cx) = pane_cx(state);
    let effects = attention::update::start_calls(a, &mut cx, &calls, &question);
    if !effects.is_empty() {
        state.attention.last_asked = Some(asked);
    }
    effects
}

/// The conversation up to the chat's selected (or last) turn, as the
/// attention pane captures it: the messages before an answer and the
/// answer itself, or the messages through a question.
fn chat_inspection(
    chat: &ChatState,
) -> Option<(Vec<promptlab_engine::plain::Message>, String, String)> {
    use crate::conversation::Role;
    let i = chat.focused_turn()?;
    let turn = chat.conversation.turn(i);
    let number = chat.conversation.path().iter().position(|&t| t == i)? + 1;
    Some(match (turn.role, turn.parent) {
        (Role::Assistant, Some(parent)) => (
            chat.conversation.messages(Some(parent)),
            turn.content.clone(),
            format!("chat message {number} (answer)"),
        ),
        _ => (
            chat.conversation.messages(Some(i)),
            String::new(),
            format!("chat message {number} (question)"),
        ),
    })
}

fn quit(state: &mut State) -> Vec<Effect> {
    let mut effects = Vec::new();
    // An answer in flight is saved as far as it got, marked stopped.
    if let Some(g) = state.chat.generating.take() {
        effects.push(Effect::Cancel(g.id));
        state
            .chat
            .conversation
            .end_turn(g.turn, crate::conversation::TurnEnd::Cancelled);
    }
    if let Some(id) = state.compare.in_flight() {
        effects.push(Effect::Cancel(id));
    }
    effects.extend(state.attention.in_flight().into_iter().map(Effect::Cancel));
    // A run stops; its finished trials are in the store already.
    effects.extend(state.eval.in_flight().map(Effect::Cancel));
    // Training stops; its last epoch's checkpoint is on disk.
    effects.extend(state.images.in_flight().map(Effect::Cancel));
    effects.push(Effect::Autosave);
    effects.push(Effect::Quit);
    effects
}

/// Routes an engine event: the model's to the shared state, an answer's to
/// the chat, a comparison's to the compare pane.
/// The notice an event of `pane` may change: the status line's when the
/// pane is on screen (true), else the one kept for when it comes back.
fn take_notice(state: &mut State, pane: Screen) -> (Option<String>, bool) {
    if state.screen == pane {
        (state.notice.take(), true)
    } else {
        match state.hidden_notice.take() {
            Some((screen, text)) if screen == pane => (Some(text), false),
            other => {
                state.hidden_notice = other;
                (None, false)
            }
        }
    }
}

/// Puts back what [`take_notice`] lent.
fn put_notice(state: &mut State, pane: Screen, notice: Option<String>, shown: bool) {
    if shown {
        state.notice = notice;
    } else if let Some(text) = notice {
        state.hidden_notice = Some((pane, text));
    }
}

fn on_engine(state: &mut State, event: Event) -> Vec<Effect> {
    match event {
        Event::Loaded {
            info, capabilities, ..
        } => {
            state.chat.conversation.model = info.name.clone();
            state.model.info = Some(info);
            state.model.capabilities = Some(capabilities);
            state.model.error = None;
            vec![]
        }
        Event::LoadFailed(error) => {
            state.notice = Some(format!("model failed to load: {error}"));
            state.model.error = Some(error.to_string());
            vec![]
        }
        Event::Token { id, ref token }
            if state.chat.owns(id) && (state.attention.live_on || token.attention.is_some()) =>
        {
            state.attention.live_token(id, token);
            let (mut notice, shown) = take_notice(state, Screen::Chat);
            let effects = chat::update::on_engine(&mut state.chat, &mut notice, event);
            put_notice(state, Screen::Chat, notice, shown);
            effects
        }
        event @ (Event::Started { .. } | Event::Token { .. } | Event::Finished { .. }) => {
            let (mut notice, shown) = take_notice(state, Screen::Chat);
            let effects = chat::update::on_engine(&mut state.chat, &mut notice, event);
            put_notice(state, Screen::Chat, notice, shown);
            effects
        }
        event @ Event::Failed { id, .. } if state.chat.owns(id) => {
            let (mut notice, shown) = take_notice(state, Screen::Chat);
            let effects = chat::update::on_engine(&mut state.chat, &mut notice, event);
            put_notice(state, Screen::Chat, notice, shown);
            effects
        }
        event @ (Event::InspectToken { .. } | Event::Inspected { .. } | Event::ReadOut { .. }) => {
            on_attention_event(state, event)
        }
        event @ Event::Failed { id, .. } if state.attention.owns(id) => {
            on_attention_event(state, event)
        }
        event @ (Event::EvalPlanned { .. }
        | Event::EvalTrial { .. }
        | Event::EvalFinished { .. }) => on_eval_event(state, event),
        event @ Event::Failed { id, .. } if state.eval.owns(id) => on_eval_event(state, event),
        event @ (Event::ImagesFrame { .. }
        | Event::ImagesSamples { .. }
        | Event::ImagesTraining { .. }
        | Event::ImagesFinished { .. }) => on_images_event(state, event),
        event @ Event::Failed { id, .. } if state.images.owns(id) => on_images_event(state, event),
        // Long jobs have no pane yet.
        Event::JobProgress { .. } | Event::JobFinished { .. } => vec![],
        event @ (Event::Failed { .. }
        | Event::Method { .. }
        | Event::MethodPrompt { .. }
        | Event::MethodDone { .. }
        | Event::CompareFinished { .. }) => {
            let (mut notice, shown) = take_notice(state, Screen::Compare);
            compare::update::on_engine(&mut state.compare, &state.keymap, &mut notice, event);
            put_notice(state, Screen::Compare, notice, shown);
            vec![]
        }
    }
}

fn on_attention_event(state: &mut State, event: Event) -> Vec<Effect> {
    let (mut notice, shown) = take_notice(state, Screen::Attention);
    let other_busy =
        state.chat.generating.is_some() || state.compare.running() || state.eval.running();
    let mut cx = Cx::new(
        &state.keymap,
        &state.settings,
        &state.model,
        &mut notice,
        &mut state.overlay,
        &mut state.next_id,
        other_busy,
    );
    cx.evaluating = state.eval.running();
    let effects = attention::update::on_engine(&mut state.attention, &mut cx, event);
    put_notice(state, Screen::Attention, notice, shown);
    effects
}

fn on_images_event(state: &mut State, event: Event) -> Vec<Effect> {
    let (mut notice, shown) = take_notice(state, Screen::Images);
    images::update::on_engine(&mut state.images, &mut notice, event);
    put_notice(state, Screen::Images, notice, shown);
    vec![]
}

fn on_eval_event(state: &mut State, event: Event) -> Vec<Effect> {
    let (mut notice, shown) = take_notice(state, Screen::Eval);
    eval::update::on_engine(&mut state.eval, &mut notice, event);
    put_notice(state, Screen::Eval, notice, shown);
    vec![]
}
