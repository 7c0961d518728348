//! The step overlay: the selected step or call of the selected column,
//! whole (prompt, output, the answer found, programs and their output).

use ratatui::layout::{Margin, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::run::{output_summary, tally_text, CallView, Column, Entry, StepState};
use super::state::CompareState;
use crate::text::{printable, text_lines};
use crate::theme::Theme;
use promptlab_methods::runner::Output;

/// The selected step or call of the selected column, whole.
pub(crate) fn render(frame: &mut Frame, c: &CompareState, theme: &Theme, area: Rect) {
    let Some(col) = c.selected_column() else {
        return;
    };
    let Some(entry) = col.current_entry() else {
        return;
    };
    let (title, lines) = detail_lines(col, entry, theme);
    let rect = area.inner(Margin::new(2, 1));
    if rect.width < 4 || rect.height < 3 {
        return;
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.focused_border)
        .title(title)
        .title_bottom(Line::styled(
            " ↑↓ PgUp/PgDn scroll · ←→ previous/next · Esc closes ",
            theme.dim,
        ));
    let inner = block.inner(rect);
    let paragraph = Paragraph::new(lines).wrap(Wrap { trim: false });
    let total = paragraph.line_count(inner.width);
    let most = total.saturating_sub(usize::from(inner.height));
    let top = usize::from(c.detail_scroll).min(most);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        paragraph
            .scroll((u16::try_from(top).unwrap_or(u16::MAX), 0))
            .block(block),
        rect,
    );
}

/// What the step overlay shows, as plain text (its title, then each line):
/// what Ctrl+Y copies while it is open.
pub(crate) fn detail_text(c: &CompareState) -> Option<String> {
    let col = c.selected_column()?;
    let entry = col.current_entry()?;
    let (title, lines) = detail_lines(col, entry, &Theme::new(crate::theme::Palette::Basic16));
    let mut text = title.trim().to_string();
    for line in lines {
        text.push('\n');
        text.extend(line.spans.iter().map(|s| s.content.as_ref()));
    }
    Some(text)
}

fn detail_lines(col: &Column, entry: Entry, theme: &Theme) -> (String, Vec<Line<'static>>) {
    let heading = |text: String| Line::styled(text, theme.title);
    let mut lines = Vec::new();
    let call_lines = |lines: &mut Vec<Line<'static>>, call: &CallView| {
        lines.push(heading("prompt".into()));
        match &call.prompt {
            Some(prompt) => lines.extend(text_lines(prompt)),
            None => lines.push(Line::styled("(not known yet)", theme.dim)),
        }
        lines.push(Line::default());
        lines.push(heading(if call.done {
            "output".into()
        } else {
            "output (so far)".into()
        }));
        lines.extend(text_lines(&call.text));
        match &call.answer {
            Some(Some(answer)) => {
                lines.push(Line::default());
                lines.push(Line::from(vec![
                    Span::styled("answer found: ", theme.dim),
                    Span::styled(printable(answer), theme.assistant),
                ]));
            }
            Some(None) => {
                lines.push(Line::default());
                lines.push(Line::styled("no answer found", theme.warning));
            }
            None => {}
        }
    };
    let title = match entry {
        Entry::Call(si, ci) => {
            let step = &col.steps[si];
            call_lines(&mut lines, &step.calls[ci]);
            format!(
                " {} · {} · call {}/{} ",
                col.spec.id,
                step.id,
                ci + 1,
                step.planned_calls.unwrap_or(step.calls.len()).max(ci + 1)
            )
        }
        Entry::Step(si) => {
            let step = &col.steps[si];
            let state = match step.state {
                StepState::Pending => "not started",
                StepState::Running => "running",
                StepState::Done => "done",
            };
            let mut about = format!("{} · {state}", step.primitive);
            if let Some(seconds) = step.seconds {
                about.push_str(&format!(" · {seconds:.2} s"));
            }
            lines.push(Line::styled(about, theme.dim));
            lines.push(Line::default());
            for (ci, call) in step.calls.iter().enumerate() {
                lines.push(Line::styled(
                    format!("── call {} ──", ci + 1),
                    theme.focused_border,
                ));
                call_lines(&mut lines, call);
                lines.push(Line::default());
            }
            if let Some(tally) = step.tally() {
                lines.push(Line::from(vec![
                    Span::styled("tally: ", theme.dim),
                    Span::styled(tally_text(&tally), theme.title),
                ]));
            }
            match &step.output {
                Some(Output::Runs { runs }) => {
                    for (i, run) in runs.iter().enumerate() {
                        lines.push(Line::styled(
                            format!("── program {} ──", i + 1),
                            theme.focused_border,
                        ));
                        lines.extend(text_lines(&run.code));
                        lines.push(Line::default());
                        lines.push(heading("stdout".into()));
                        lines.extend(text_lines(&run.stdout));
                        if !run.stderr.trim().is_empty() {
                            lines.push(heading("stderr".into()));
                            lines.extend(text_lines(&run.stderr));
                        }
                        let status = run.failure().unwrap_or_else(|| "exited 0".into());
                        lines.push(Line::styled(
                            format!("{status} · {:.2} s", run.seconds),
                            if run.succeeded() {
                                theme.dim
                            } else {
                                theme.warning
                            },
                        ));
                        lines.push(Line::default());
                    }
                }
                Some(output) => {
                    // A search's levels (candidates, values, kept) are more
                    // than its calls show.
                    let shown = matches!(
                        output,
                        Output::Answers { .. } | Output::Vote { .. } | Output::Search { .. }
                    ) || step.calls.is_empty();
                    if shown {
                        lines.push(heading("output".into()));
                        lines.extend(text_lines(&output_summary(output)));
                    }
                }
                None => {}
            }
            format!(" {} · step {} ", col.spec.id, step.id)
        }
    };
    (title, lines)
}
