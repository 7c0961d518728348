//! The compare pane's own state: the method picker, the question fields,
//! where keys go, and the last comparison (see `run`). Changed only by
//! `update`; `view` draws it.

use tui_textarea::TextArea;

use super::run::{Column, CompareRun};

use promptlab_engine::RequestId;
use promptlab_methods::catalog;
use promptlab_methods::spec::MethodSpec;
use promptlab_methods::MethodError;

/// Why methods named on the command line cannot be selected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SelectError {
    #[error("unknown method `{id}`")]
    Unknown { id: String },
    #[error("method `{id}` is not runnable: {reason}")]
    NotRunnable { id: String, reason: String },
    /// Any other refusal of the methods crate, in its words.
    #[error(transparent)]
    Method(MethodError),
}

impl From<MethodError> for SelectError {
    fn from(e: MethodError) -> Self {
        match e {
            MethodError::NotRunnable { method, reason } => {
                SelectError::NotRunnable { id: method, reason }
            }
            other => SelectError::Method(other),
        }
    }
}

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
    pub(crate) find: String,
    pub question: TextArea<'static>,
    pub(crate) context: TextArea<'static>,
    pub reference: TextArea<'static>,
    /// Whether methods may run model-written code (in the sandbox); off
    /// unless the user turns it on.
    pub allow_code: bool,
    pub focus: CompareFocus,
    /// The last comparison started, running or done.
    pub run: Option<CompareRun>,
    /// Runs before the one shown (oldest first) and after it (newest
    /// last), kept so earlier runs can be looked at again.
    pub(crate) earlier: Vec<CompareRun>,
    pub(crate) later: Vec<CompareRun>,
    /// The selected column.
    pub column: usize,
    /// The selected column follows the method that is running, until the
    /// user picks a column.
    pub(crate) follow_column: bool,
    /// Lines scrolled in the step overlay.
    pub(crate) detail_scroll: u16,
}

pub(super) fn field(placeholder: &str) -> TextArea<'static> {
    let mut area = TextArea::default();
    area.set_cursor_line_style(ratatui::style::Style::default());
    area.set_placeholder_text(placeholder);
    area
}

pub(super) fn field_text(area: &TextArea) -> String {
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
            earlier: Vec::new(),
            later: Vec::new(),
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

    /// The comparison running, to cancel on quit.
    pub(crate) fn in_flight(&self) -> Option<RequestId> {
        self.run.as_ref().filter(|r| r.running).map(|r| r.id)
    }

    /// Selects the methods named by `ids` (runnable ones only).
    pub fn select_ids(&mut self, ids: &[String]) -> Result<(), SelectError> {
        for id in ids {
            let method =
                catalog::find(&self.methods, id).map_err(|e| SelectError::Unknown { id: e.id })?;
            method.check_runnable().map_err(SelectError::from)?;
            let index = self
                .methods
                .iter()
                .position(|m| std::ptr::eq(m, method))
                .unwrap_or_default();
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

    pub(super) fn field_mut(&mut self, focus: CompareFocus) -> Option<&mut TextArea<'static>> {
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

    pub(super) fn toggle(&mut self) -> Option<String> {
        let method = self.methods.get(self.cursor)?;
        if let Err(e) = method.check_runnable() {
            return Some(match e {
                MethodError::NotRunnable { method, reason } => {
                    format!("{method} is not runnable: {reason}")
                }
                other => other.to_string(),
            });
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

    pub(super) fn jump_to_find(&mut self) {
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

    pub(super) fn cycle_focus(&mut self, back: bool) {
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
