//! One compare column: its steps and calls as they stream (the selected
//! entry highlighted, scrolled into view), and the summary under it.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;

use super::run::{
    output_summary, tally_text, CallView, Column, ColumnStatus, CompareRun, Entry, StepState,
    StepView,
};
use crate::text::{clip_end, clip_start, one_line, printable};
use crate::theme::Theme;
use crate::widgets::pane_block;
use promptlab_methods::runner::Output;

pub(super) fn render(
    frame: &mut Frame,
    theme: &Theme,
    run: &CompareRun,
    index: usize,
    focused: bool,
    area: Rect,
) {
    let col = &run.columns[index];
    let title = format!(" {} ", col.spec.id);
    let block = pane_block(&title, focused, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [body, summary] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(4)]).areas(inner);
    let highlight = if focused { col.current_entry() } else { None };
    let highlight = highlight.filter(|_| col.cursor.is_some());
    let (lines, starts) = column_lines(col, theme, body.width, highlight);
    let paragraph = Paragraph::new(Text::from(lines.clone())).wrap(Wrap { trim: false });
    let total = paragraph.line_count(body.width);
    let height = usize::from(body.height);
    let top = match (col.cursor, highlight) {
        (Some(_), Some(entry)) => {
            let at = starts
                .iter()
                .find(|(e, _)| *e == entry)
                .map_or(0, |(_, l)| *l);
            let row = Paragraph::new(Text::from(lines[..at].to_vec()))
                .wrap(Wrap { trim: false })
                .line_count(body.width);
            if row < height {
                0
            } else {
                (row - height / 3).min(total.saturating_sub(height))
            }
        }
        _ => total.saturating_sub(height),
    };
    let top = u16::try_from(top).unwrap_or(u16::MAX);
    frame.render_widget(paragraph.scroll((top, 0)), body);
    render_summary(frame, theme, run, col, summary);
}

/// A column's lines, and the line each entry starts at.
fn column_lines(
    col: &Column,
    theme: &Theme,
    width: u16,
    highlight: Option<Entry>,
) -> (Vec<Line<'static>>, Vec<(Entry, usize)>) {
    let mut lines = Vec::new();
    let mut starts = Vec::new();
    let running = col.status == ColumnStatus::Running;
    let mark = |lines: &mut Vec<Line<'static>>, entry: Entry, at: usize| {
        if highlight == Some(entry) {
            if let Some(line) = lines.get_mut(at) {
                for span in &mut line.spans {
                    span.style = span.style.add_modifier(Modifier::REVERSED);
                }
            }
        }
    };
    if col.steps.is_empty() {
        lines.push(Line::styled("(no steps)", theme.dim));
    }
    for (si, step) in col.steps.iter().enumerate() {
        let at = lines.len();
        starts.push((Entry::Step(si), at));
        lines.push(step_header(step, theme));
        mark(&mut lines, Entry::Step(si), at);
        let numbered = step.calls.len() > 1
            || step.planned_calls.is_none_or(|n| n > 1)
            || step.primitive == "sample_n";
        for (ci, call) in step.calls.iter().enumerate() {
            let at = lines.len();
            starts.push((Entry::Call(si, ci), at));
            lines.extend(call_lines(call, ci, numbered, running, width, theme));
            mark(&mut lines, Entry::Call(si, ci), at);
        }
        if let Some(tally) = step.tally() {
            let label = if step.state == StepState::Done {
                "tally"
            } else {
                "tally so far"
            };
            lines.push(Line::from(vec![
                Span::styled(format!("  {label}: "), theme.dim),
                Span::styled(tally_text(&tally), theme.title),
            ]));
        }
        if let Some(output) = &step.output {
            let shown = matches!(output, Output::Answers { .. } | Output::Vote { .. })
                || step.calls.is_empty();
            if shown {
                let tie = matches!(output, Output::Vote { vote } if vote.tie);
                let no_answer = match output {
                    Output::Vote { vote } => vote.winner.is_none(),
                    Output::Answers { answers } => answers.iter().all(Option::is_none),
                    _ => false,
                };
                let failed =
                    matches!(output, Output::Runs { runs } if runs.iter().any(|r| !r.succeeded()));
                let style = if tie || no_answer || failed {
                    theme.warning
                } else {
                    theme.title
                };
                let summary = match output {
                    Output::Answers { answers } if answers.iter().all(Option::is_none) => {
                        "no answer".to_string()
                    }
                    other => one_line(&output_summary(other)),
                };
                lines.push(Line::from(vec![
                    Span::styled("  → ", theme.dim),
                    Span::styled(
                        printable(&clip_start(&summary, usize::from(width) * 2)),
                        style,
                    ),
                ]));
            }
        }
    }
    (lines, starts)
}

fn step_header(step: &StepView, theme: &Theme) -> Line<'static> {
    let (mark, style) = match step.state {
        StepState::Pending => ("·", theme.dim),
        StepState::Running => ("▸", theme.title),
        StepState::Done => ("▪", Style::default().add_modifier(Modifier::BOLD)),
    };
    let mut text = format!("{mark} {} · {}", step.id, step.primitive);
    if step.primitive == "sample_n" {
        if let Some(n) = step.planned_calls {
            text.push_str(&format!(" ×{n}"));
        }
    }
    if let Some(g) = step.gate {
        let verdict = if g.ran { "ran" } else { "skipped" };
        text.push_str(&format!(
            " · agreement {:.0}% {} {:.0}%: {verdict}",
            g.agreement * 100.0,
            if g.ran { "<" } else { "≥" },
            g.threshold * 100.0
        ));
    }
    Line::styled(text, style)
}

/// The rows of code a call shows at most (its last ones).
const CODE_ROWS: usize = 8;

/// A call's text: about three rows of its end folded onto one line, where
/// the answer is; code (a fenced block) keeps its line breaks, its last
/// rows shown.
fn call_lines(
    call: &CallView,
    index: usize,
    numbered: bool,
    running: bool,
    width: u16,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let prefix = if numbered {
        format!("  #{} ", index + 1)
    } else {
        "  ".to_string()
    };
    let mut lines = Vec::new();
    let mut spans = vec![Span::styled(prefix, theme.dim)];
    if call.text.contains("```") {
        let rows: Vec<&str> = call.text.trim_end().lines().collect();
        let skipped = rows.len().saturating_sub(CODE_ROWS);
        let room = usize::from(width).saturating_sub(6).max(8);
        let mut shown = rows[skipped..].iter();
        if skipped > 0 {
            spans.push(Span::styled(format!("… {skipped} lines before"), theme.dim));
        } else if let Some(first) = shown.next() {
            spans.push(Span::raw(printable(&clip_end(first, room))));
        }
        for row in shown {
            lines.push(Line::from(std::mem::take(&mut spans)));
            spans.push(Span::styled("    ", theme.dim));
            spans.push(Span::raw(printable(&clip_end(row, room))));
        }
    } else {
        let text = one_line(&call.text);
        let room = (usize::from(width) * 3).saturating_sub(16).max(8);
        if text.is_empty() && !call.done {
            spans.push(Span::styled("…", theme.dim));
        } else {
            spans.push(Span::raw(printable(&clip_start(&text, room))));
        }
    }
    if !call.done {
        if running {
            spans.push(Span::styled("▍", theme.dim));
        } else {
            spans.push(Span::styled(" (stopped)", theme.dim));
        }
    }
    match &call.answer {
        Some(Some(answer)) => {
            spans.push(Span::styled(" → ", theme.dim));
            spans.push(Span::styled(printable(&one_line(answer)), theme.title));
        }
        Some(None) => spans.push(Span::styled(" → no answer", theme.warning)),
        None => {}
    }
    lines.push(Line::from(spans));
    lines
}

fn render_summary(frame: &mut Frame, theme: &Theme, run: &CompareRun, col: &Column, area: Rect) {
    let (first, second) = match &col.status {
        ColumnStatus::Done => {
            let r = col.result.as_ref();
            let verdict = col.verdict(run.reference.as_deref());
            let mut first = vec![Span::styled("answer: ", theme.dim)];
            match col.answer() {
                Some(answer) => {
                    first.push(Span::styled(printable(&one_line(answer)), theme.assistant))
                }
                None => {
                    first.push(Span::styled("no answer", theme.warning));
                    if col.tie().is_some() {
                        first.push(Span::styled(" (tie)", theme.warning));
                    }
                }
            }
            match verdict {
                Some(true) => first.push(Span::styled(" ✓", theme.assistant)),
                Some(false) => first.push(Span::styled(" ✗", theme.warning)),
                None => {}
            }
            let stats = r.map_or(String::new(), |r| {
                // Seconds before tokens: a narrow column wraps the end.
                format!(
                    "{} call{} · {:.1} s · {}+{} tok",
                    r.calls,
                    if r.calls == 1 { "" } else { "s" },
                    r.seconds,
                    r.prompt_tokens,
                    r.generated_tokens,
                )
            });
            (Line::from(first), Line::styled(stats, theme.dim))
        }
        ColumnStatus::Running => (
            Line::styled("running…", theme.warning),
            Line::styled(
                format!(
                    "{} call(s) so far · {}+{} tok",
                    col.calls, col.prompt_tokens, col.generated_tokens
                ),
                theme.dim,
            ),
        ),
        ColumnStatus::Waiting => (Line::styled("waiting", theme.dim), Line::default()),
        ColumnStatus::Stopped => (
            Line::styled("stopped: no answer", theme.warning),
            Line::styled(format!("{} call(s) done", col.calls), theme.dim),
        ),
        ColumnStatus::NotRun => (
            Line::styled("not run (stopped)", theme.dim),
            Line::default(),
        ),
        ColumnStatus::Failed(error) => (
            Line::styled("failed: no answer", theme.warning),
            Line::styled(printable(&one_line(error)), theme.dim),
        ),
    };
    frame.render_widget(
        Paragraph::new(vec![first, second])
            .wrap(Wrap { trim: true })
            .block(
                Block::default()
                    .borders(Borders::TOP)
                    .border_style(theme.border),
            ),
        area,
    );
}
