//! The status line under the panes: the model, what the active pane
//! reports, then the notice, or the keys for help and the other pane.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::theme::Theme;

/// What the status line shows.
pub(crate) struct Status<'a> {
    /// The model's name (or that it is loading or missing).
    pub(crate) model: String,
    /// The panes' figures, in order.
    pub(crate) spans: Vec<Span<'static>>,
    pub(crate) notice: Option<&'a str>,
    /// Shown when there is no notice.
    pub(crate) hint: String,
}

pub(crate) fn render(frame: &mut Frame, status: Status, theme: &Theme, area: Rect) {
    let model: String = if status.model.chars().count() > 26 {
        status.model.chars().take(25).chain(['…']).collect()
    } else {
        status.model
    };
    let mut spans = vec![Span::styled(format!(" {model} "), theme.status_model)];
    spans.extend(status.spans);
    match status.notice {
        Some(notice) => spans.push(Span::styled(format!("│ {notice}"), theme.warning)),
        None => spans.push(Span::styled(format!("│ {}", status.hint), theme.dim)),
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
