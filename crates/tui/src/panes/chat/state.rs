//! The chat pane's own state: the conversation, the input and its history,
//! focus and selection in the messages, the generation in flight and its
//! figures, and what the view left for the update (the rectangles it drew)
//! and for the next frame (rendered Markdown).

use std::cell::{Cell, RefCell};
use std::path::PathBuf;

use ratatui::layout::Rect;
use tui_textarea::TextArea;

use super::cache::TurnCache;
use super::scroll::{Scroll, Shown};
use crate::conversation::{Conversation, TokensUsed};
use promptlab_engine::RequestId;

/// Where keys go in the chat pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Input,
    Messages,
}

/// The generation in flight: its request id and the turn it writes into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generation {
    pub(crate) id: RequestId,
    pub(crate) turn: usize,
}

/// Figures for the status line.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Stats {
    pub(crate) prompt_tokens: usize,
    pub(crate) generated_tokens: usize,
    pub(crate) prefill_tok_s: f64,
    pub(crate) decode_tok_s: f64,
}

/// The rectangles the view drew the pane's parts in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ChatRects {
    pub(crate) messages: Rect,
    pub(crate) input: Rect,
    pub(crate) status: Rect,
}

pub struct ChatState {
    pub conversation: Conversation,
    pub input: TextArea<'static>,
    /// The user turn being edited (sending creates a new branch from it).
    pub(crate) editing: Option<usize>,
    pub focus: Focus,
    /// Position in the visible branch selected in the messages pane.
    pub(crate) selected: Option<usize>,
    pub generating: Option<Generation>,
    /// The notice says an answer is still coming: it goes when the answer ends.
    pub(crate) busy_notice: bool,
    pub(crate) stats: Stats,
    pub(crate) show_probs: bool,
    /// Index of the token under the cursor in the selected assistant turn.
    pub(crate) token_cursor: Option<usize>,
    pub(crate) history: Vec<String>,
    pub(crate) history_pos: Option<usize>,
    /// What was typed before browsing the history, restored after it.
    pub(crate) draft: Option<String>,
    /// Where the messages are scrolled to.
    pub(crate) scroll: Scroll,
    /// What the last frame showed (written by the view): scrolling and the
    /// selection go on from there.
    pub(crate) shown: Cell<Shown>,
    /// The screen row of the focused turn's header in the last frame (the
    /// token popup opens next to its token); `None` when off screen.
    pub(crate) focused_row: Cell<Option<i32>>,
    pub(crate) save_path: PathBuf,
    pub(crate) top_logprobs: usize,
    /// Written by the view on every frame, read for mouse hits.
    pub(crate) rects: Cell<ChatRects>,
    /// Finished turns' rendered Markdown, kept between frames by the view.
    pub(crate) cache: RefCell<TurnCache>,
}

impl ChatState {
    /// The conversation's file (saves and autosaves go there).
    pub fn save_path(&self) -> &std::path::Path {
        &self.save_path
    }

    /// The user turn being edited, if any.
    pub fn editing_turn(&self) -> Option<usize> {
        self.editing
    }

    pub(crate) fn new(conversation: Conversation, save_path: PathBuf) -> ChatState {
        ChatState {
            conversation,
            input: new_input(),
            editing: None,
            busy_notice: false,
            focus: Focus::Input,
            selected: None,
            generating: None,
            stats: Stats::default(),
            show_probs: false,
            token_cursor: None,
            history: Vec::new(),
            history_pos: None,
            draft: None,
            scroll: Scroll::Newest,
            shown: Cell::default(),
            focused_row: Cell::new(None),
            save_path,
            top_logprobs: 5,
            rects: Cell::default(),
            cache: RefCell::default(),
        }
    }

    /// Tokens in the context: the last prompt plus what has been generated.
    /// The prompt and answer tokens of the branch on screen: the answer
    /// streaming now, else the newest answer of the branch that recorded
    /// them (a loaded conversation's too); zero for a branch not answered.
    pub(crate) fn tokens_used(&self) -> TokensUsed {
        if self.generating.is_some() {
            return TokensUsed {
                prompt: self.stats.prompt_tokens,
                generated: self.stats.generated_tokens,
            };
        }
        let path = self.conversation.path();
        path.iter()
            .rev()
            .find_map(|&i| self.conversation.turn(i).tokens_used)
            .unwrap_or(TokensUsed {
                prompt: 0,
                generated: 0,
            })
    }

    /// The turn the messages pane points at: the selected one, else the last.
    pub(crate) fn focused_turn(&self) -> Option<usize> {
        let path = self.conversation.path();
        match self.selected {
            Some(i) => path.get(i).copied(),
            None => path.last().copied(),
        }
    }

    /// Whether engine request `id` is this pane's.
    pub(crate) fn owns(&self, id: RequestId) -> bool {
        self.generating.is_some_and(|g| g.id == id)
    }
}

pub(crate) fn new_input() -> TextArea<'static> {
    let mut input = TextArea::default();
    input.set_cursor_line_style(ratatui::style::Style::default());
    input.set_placeholder_text("Type a message…");
    input
}
