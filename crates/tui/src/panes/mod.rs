//! The panes, each a module with its own state, its own `update` (keys,
//! paste, mouse and engine events in, effects out) and its own view, and
//! what a pane gets of the app's shared state ([`Cx`] to update, [`ViewCx`]
//! to draw).

pub mod attention;
pub mod chat;
pub mod compare;
pub mod eval;
pub mod images;

use promptlab_engine::plain::ModelInfo;
use promptlab_engine::{Capabilities, RequestId};

use crate::keymap::Keymap;
use crate::settings::Settings;
use crate::state::Overlay;
use crate::theme::Theme;

/// The model, as far as the engine has told.
#[derive(Debug, Clone, Default)]
pub(crate) struct ModelStatus {
    pub(crate) info: Option<ModelInfo>,
    /// Why it failed to load.
    pub(crate) error: Option<String>,
    /// What its backend offers besides text; `None` until it has loaded.
    pub(crate) capabilities: Option<Capabilities>,
}

/// The notice for what needs token probabilities on a backend without them.
pub(crate) const NO_LOGPROBS: &str = "this backend gives no token probabilities";

impl ModelStatus {
    /// Why nothing can be generated now, if so.
    pub(crate) fn refusal(&self) -> Option<String> {
        if self.info.is_some() {
            return None;
        }
        Some(match &self.error {
            Some(e) => format!("no model: {e}"),
            None => "the model is still loading".into(),
        })
    }

    /// Whether the loaded backend is known to give no token probabilities
    /// (unknown until it has loaded: nothing is refused before).
    pub(crate) fn lacks_logprobs(&self) -> bool {
        self.capabilities.is_some_and(|c| !c.logprobs)
    }

    /// The status line's name for it.
    pub(crate) fn label(&self) -> String {
        match (&self.info, &self.error) {
            (Some(m), _) => m.name.clone(),
            (None, Some(_)) => "no model".into(),
            (None, None) => "loading model…".into(),
        }
    }
}

/// What a pane's update may use besides its own state.
pub(crate) struct Cx<'a> {
    pub(crate) keymap: &'a Keymap,
    pub(crate) settings: &'a Settings,
    pub(crate) model: &'a ModelStatus,
    /// The line under the panes (a refusal, a finished run).
    pub(crate) notice: &'a mut Option<String>,
    pub(crate) overlay: &'a mut Option<Overlay>,
    next_id: &'a mut RequestId,
    /// The other pane has a request in flight: one runs at a time.
    pub(crate) other_busy: bool,
    /// That request is the eval pane's run (its refusal says how to stop it).
    pub(crate) evaluating: bool,
}

impl<'a> Cx<'a> {
    pub(crate) fn new(
        keymap: &'a Keymap,
        settings: &'a Settings,
        model: &'a ModelStatus,
        notice: &'a mut Option<String>,
        overlay: &'a mut Option<Overlay>,
        next_id: &'a mut RequestId,
        other_busy: bool,
    ) -> Cx<'a> {
        Cx {
            keymap,
            settings,
            model,
            notice,
            overlay,
            next_id,
            other_busy,
            evaluating: false,
        }
    }

    /// A fresh request id.
    pub(crate) fn take_id(&mut self) -> RequestId {
        let id = *self.next_id;
        *self.next_id += 1;
        id
    }

    /// The refusal while the eval pane runs a suite.
    pub(crate) fn evaluating_refusal(&self) -> String {
        use crate::keymap::GlobalAction;
        format!(
            "an evaluation is running ({} shows it; Esc there stops it)",
            self.keymap.key_name(GlobalAction::Eval)
        )
    }

    /// Shows `text` under the panes; returns no effects, for refusals.
    pub(crate) fn refuse<T>(&mut self, text: impl Into<String>) -> Vec<T> {
        *self.notice = Some(text.into());
        Vec::new()
    }
}

/// What a pane's view may read besides its own state.
#[derive(Clone, Copy)]
pub(crate) struct ViewCx<'a> {
    pub(crate) theme: &'a Theme,
    pub(crate) keymap: &'a Keymap,
    pub(crate) settings: &'a Settings,
    pub(crate) model: &'a ModelStatus,
    /// The other pane has a request in flight.
    pub(crate) other_busy: bool,
    /// That request is the eval pane's run.
    pub(crate) evaluating: bool,
}
