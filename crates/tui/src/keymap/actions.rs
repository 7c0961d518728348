//! The actions keys are bound to, by context: global ones (quit, help,
//! settings, switching panes) work everywhere, the chat's and the compare
//! pane's only on their pane. A config.yaml `keys:` entry names one key for
//! an action in one or more contexts.

/// An entry of config.yaml's `keys:` section: one key, bound to the action
/// of that name in each context that has one (`send` sends in the chat and
/// runs in the compare pane).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum ConfigKey {
    Send,
    Newline,
    Stop,
    Quit,
    Regenerate,
    Continue,
    Edit,
    Save,
    Export,
    Copy,
    ToggleProbs,
    Settings,
    Help,
    Focus,
    BranchPrev,
    BranchNext,
    HistoryPrev,
    HistoryNext,
    Compare,
    AllowCode,
    Mouse,
    NewConversation,
    Palette,
    Conversations,
    Attention,
    Eval,
    Images,
}

impl ConfigKey {
    pub(crate) const ALL: [ConfigKey; 27] = [
        ConfigKey::Send,
        ConfigKey::Newline,
        ConfigKey::Stop,
        ConfigKey::Quit,
        ConfigKey::Regenerate,
        ConfigKey::Continue,
        ConfigKey::Edit,
        ConfigKey::Save,
        ConfigKey::Export,
        ConfigKey::Copy,
        ConfigKey::ToggleProbs,
        ConfigKey::Settings,
        ConfigKey::Help,
        ConfigKey::Focus,
        ConfigKey::BranchPrev,
        ConfigKey::BranchNext,
        ConfigKey::HistoryPrev,
        ConfigKey::HistoryNext,
        ConfigKey::Compare,
        ConfigKey::AllowCode,
        ConfigKey::Mouse,
        ConfigKey::NewConversation,
        ConfigKey::Palette,
        ConfigKey::Conversations,
        ConfigKey::Attention,
        ConfigKey::Eval,
        ConfigKey::Images,
    ];

    /// The name used in `config.yaml`'s `keys` section.
    pub(crate) fn name(self) -> &'static str {
        match self {
            ConfigKey::Send => "send",
            ConfigKey::Newline => "newline",
            ConfigKey::Stop => "stop",
            ConfigKey::Quit => "quit",
            ConfigKey::Regenerate => "regenerate",
            ConfigKey::Continue => "continue",
            ConfigKey::Edit => "edit",
            ConfigKey::Save => "save",
            ConfigKey::Export => "export",
            ConfigKey::Copy => "copy",
            ConfigKey::ToggleProbs => "toggle_probs",
            ConfigKey::Settings => "settings",
            ConfigKey::Help => "help",
            ConfigKey::Focus => "focus",
            ConfigKey::BranchPrev => "branch_prev",
            ConfigKey::BranchNext => "branch_next",
            ConfigKey::HistoryPrev => "history_prev",
            ConfigKey::HistoryNext => "history_next",
            ConfigKey::Compare => "compare",
            ConfigKey::AllowCode => "allow_code",
            ConfigKey::Mouse => "mouse",
            ConfigKey::NewConversation => "new_conversation",
            ConfigKey::Palette => "palette",
            ConfigKey::Conversations => "conversations",
            ConfigKey::Attention => "attention",
            ConfigKey::Eval => "eval",
            ConfigKey::Images => "images",
        }
    }

    /// One line for the help overlay.
    pub(crate) fn description(self) -> &'static str {
        match self {
            ConfigKey::Send => "send the message",
            ConfigKey::Newline => "new line in the message",
            ConfigKey::Stop => "stop generating / close",
            ConfigKey::Quit => "quit",
            ConfigKey::Regenerate => "regenerate the last answer (keeps the old one)",
            ConfigKey::Continue => "continue a cut-off answer",
            ConfigKey::Edit => "edit the selected (or last) question, as a new branch",
            ConfigKey::Save => "save the conversation",
            ConfigKey::Export => "export the conversation (compare: the run) as Markdown",
            ConfigKey::Copy => "copy the selected (or last) message (OSC 52)",
            ConfigKey::ToggleProbs => "colour tokens by probability",
            ConfigKey::Settings => "sampling settings and system prompt",
            ConfigKey::Help => "this help",
            ConfigKey::Focus => "switch focus: input / messages",
            ConfigKey::BranchPrev => "previous branch of the selected message (compare: run)",
            ConfigKey::BranchNext => "next branch of the selected message (compare: run)",
            ConfigKey::HistoryPrev => "earlier prompt from history",
            ConfigKey::HistoryNext => "later prompt from history",
            ConfigKey::Compare => "switch between the chat and the compare pane",
            ConfigKey::AllowCode => "compare: allow or forbid running model-written code",
            ConfigKey::Mouse => "mouse capture on/off (off: the terminal selects text)",
            ConfigKey::NewConversation => "start a new conversation (this one stays saved)",
            ConfigKey::Palette => "every command, to find and run by name",
            ConfigKey::Conversations => "saved conversations: search, open, rename, delete",
            ConfigKey::Attention => {
                "attention pane (from the chat: inspect the selected or last answer; again: back)"
            }
            ConfigKey::Eval => "eval pane: run a suite with live A/B statistics",
            ConfigKey::Images => "images pane: train, sample and judge the image models",
        }
    }
}

/// Actions in every pane (checked before the pane's own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GlobalAction {
    Quit,
    Help,
    Settings,
    /// Between the chat and the compare pane.
    SwitchPane,
    /// Mouse capture on or off.
    ToggleMouse,
    /// The command palette.
    Palette,
    /// The attention pane, and back.
    Attention,
    /// The eval pane, and back.
    Eval,
    /// The images pane, and back.
    Images,
}

/// The chat pane's actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChatAction {
    Send,
    Newline,
    /// Stops generating, cancels an edit, or leaves the messages.
    Stop,
    Regenerate,
    Continue,
    Edit,
    Save,
    Export,
    Copy,
    ToggleProbs,
    /// Input / messages.
    Focus,
    BranchPrev,
    BranchNext,
    HistoryPrev,
    HistoryNext,
    NewConversation,
    Conversations,
}

/// The compare pane's actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CompareAction {
    /// Runs the selected methods (on the columns: opens the step).
    Run,
    /// Runs them again.
    Rerun,
    /// Stops the run, or clears the list search and the column cursor.
    Stop,
    /// A new line in a question field.
    Newline,
    /// The next part: methods, question, context, reference, columns.
    NextPart,
    AllowCode,
    /// The selected call's output or step's answer.
    Copy,
    /// The finished run as Markdown and JSON lines.
    Export,
    /// The run before / after the one shown.
    PrevRun,
    NextRun,
}

impl ConfigKey {
    pub(crate) fn global(self) -> Option<GlobalAction> {
        Some(match self {
            ConfigKey::Quit => GlobalAction::Quit,
            ConfigKey::Help => GlobalAction::Help,
            ConfigKey::Settings => GlobalAction::Settings,
            ConfigKey::Compare => GlobalAction::SwitchPane,
            ConfigKey::Mouse => GlobalAction::ToggleMouse,
            ConfigKey::Palette => GlobalAction::Palette,
            ConfigKey::Attention => GlobalAction::Attention,
            ConfigKey::Eval => GlobalAction::Eval,
            ConfigKey::Images => GlobalAction::Images,
            _ => return None,
        })
    }

    pub(crate) fn chat(self) -> Option<ChatAction> {
        Some(match self {
            ConfigKey::Send => ChatAction::Send,
            ConfigKey::Newline => ChatAction::Newline,
            ConfigKey::Stop => ChatAction::Stop,
            ConfigKey::Regenerate => ChatAction::Regenerate,
            ConfigKey::Continue => ChatAction::Continue,
            ConfigKey::Edit => ChatAction::Edit,
            ConfigKey::Save => ChatAction::Save,
            ConfigKey::Export => ChatAction::Export,
            ConfigKey::Copy => ChatAction::Copy,
            ConfigKey::ToggleProbs => ChatAction::ToggleProbs,
            ConfigKey::Focus => ChatAction::Focus,
            ConfigKey::BranchPrev => ChatAction::BranchPrev,
            ConfigKey::BranchNext => ChatAction::BranchNext,
            ConfigKey::HistoryPrev => ChatAction::HistoryPrev,
            ConfigKey::HistoryNext => ChatAction::HistoryNext,
            ConfigKey::NewConversation => ChatAction::NewConversation,
            ConfigKey::Conversations => ChatAction::Conversations,
            _ => return None,
        })
    }

    pub(crate) fn compare(self) -> Option<CompareAction> {
        Some(match self {
            ConfigKey::Send => CompareAction::Run,
            ConfigKey::Regenerate => CompareAction::Rerun,
            ConfigKey::Stop => CompareAction::Stop,
            ConfigKey::Newline => CompareAction::Newline,
            ConfigKey::Focus => CompareAction::NextPart,
            ConfigKey::AllowCode => CompareAction::AllowCode,
            ConfigKey::Copy => CompareAction::Copy,
            ConfigKey::Export => CompareAction::Export,
            ConfigKey::BranchPrev => CompareAction::PrevRun,
            ConfigKey::BranchNext => CompareAction::NextRun,
            _ => return None,
        })
    }

    /// Whether a key bound to both would be ambiguous: they share a
    /// context (a global action is in all of them).
    pub(crate) fn collides_with(self, other: ConfigKey) -> bool {
        self.global().is_some()
            || other.global().is_some()
            || (self.chat().is_some() && other.chat().is_some())
            || (self.compare().is_some() && other.compare().is_some())
    }
}

/// Any context's action, to find the key bound to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bound {
    Global(GlobalAction),
    Chat(ChatAction),
    Compare(CompareAction),
}

impl From<GlobalAction> for Bound {
    fn from(a: GlobalAction) -> Bound {
        Bound::Global(a)
    }
}

impl From<ChatAction> for Bound {
    fn from(a: ChatAction) -> Bound {
        Bound::Chat(a)
    }
}

impl From<CompareAction> for Bound {
    fn from(a: CompareAction) -> Bound {
        Bound::Compare(a)
    }
}

impl ConfigKey {
    /// Whether this entry binds `action`.
    pub(crate) fn binds(self, action: Bound) -> bool {
        match action {
            Bound::Global(a) => self.global() == Some(a),
            Bound::Chat(a) => self.chat() == Some(a),
            Bound::Compare(a) => self.compare() == Some(a),
        }
    }
}
