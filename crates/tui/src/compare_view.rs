//! Rendering the compare pane: the method list and the question fields,
//! one column per method with its steps as they stream, the summary row
//! under the columns, and the overlay with a step's full prompt and output.

use ratatui::layout::{Constraint, Layout, Margin, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Borders, Clear, List, ListItem, ListState, Paragraph, Wrap};
use ratatui::Frame;

use super::compare::{
    one_line, output_summary, tally_text, CallView, Column, ColumnStatus, CompareFocus, CompareRun,
    CompareState, Entry, StepState, StepView,
};
use super::keymap::KeyAction;
use super::state::State;
use super::theme::Theme;
use super::ui::{key, pane_block, printable};
use promptlab_methods::runner::Output;

/// Narrowest column; fewer columns are shown (with an indicator) when
/// they would be narrower.
pub const MIN_COLUMN_WIDTH: u16 = 26;

pub fn render(frame: &mut Frame, state: &State, theme: &Theme, area: Rect) {
    let c = &state.compare;
    let Some(run) = &c.run else {
        render_setup(frame, state, theme, area);
        return;
    };
    let expanded = c.focus != CompareFocus::Columns;
    let setup_height = if expanded {
        (area.height / 2).clamp(5, 12)
    } else {
        2
    };
    let [setup, columns] =
        Layout::vertical([Constraint::Length(setup_height), Constraint::Min(0)]).areas(area);
    if expanded {
        render_setup(frame, state, theme, setup);
    } else {
        render_compact_setup(frame, state, theme, run, setup);
    }
    render_columns(frame, state, theme, run, columns);
}

fn render_setup(frame: &mut Frame, state: &State, theme: &Theme, area: Rect) {
    let list_width = (area.width * 2 / 5).clamp(20, 44).min(area.width);
    let [list, fields] =
        Layout::horizontal([Constraint::Length(list_width), Constraint::Min(0)]).areas(area);
    render_method_list(frame, state, theme, list);
    let c = &state.compare;
    let lines =
        |area: &tui_textarea::TextArea, most: usize| area.lines().len().clamp(1, most) as u16;
    let [question, context, reference, info] = Layout::vertical([
        Constraint::Length(lines(&c.question, 3) + 2),
        Constraint::Length(lines(&c.context, 2) + 2),
        Constraint::Length(3),
        Constraint::Min(0),
    ])
    .areas(fields);
    for (area, rect, title, focus) in [
        (&c.question, question, " question ", CompareFocus::Question),
        (
            &c.context,
            context,
            " context (optional) ",
            CompareFocus::Context,
        ),
        (
            &c.reference,
            reference,
            " reference answer (optional) ",
            CompareFocus::Reference,
        ),
    ] {
        let mut area = area.clone();
        let focused = c.focus == focus;
        area.set_block(pane_block(title, focused, theme));
        if !focused {
            area.set_cursor_style(Style::default());
        }
        frame.render_widget(&area, rect);
    }
    let mut text = vec![code_line(state, theme)];
    if let Some(error) = &c.catalog_error {
        text.push(Line::styled(format!("catalogue: {error}"), theme.warning));
    }
    text.push(Line::styled(
        format!(
            "{} next part · space selects · {} runs · {} chat · {} keys",
            key(state, KeyAction::Focus),
            key(state, KeyAction::Send),
            key(state, KeyAction::Compare),
            key(state, KeyAction::Help),
        ),
        theme.dim,
    ));
    text.push(Line::styled(
        format!(
            "each model call ≤ {} tokens (max tokens, {})",
            state.settings.sampling.max_tokens,
            key(state, KeyAction::Settings)
        ),
        theme.dim,
    ));
    frame.render_widget(
        Paragraph::new(text).wrap(Wrap { trim: true }),
        info.inner(Margin::new(1, 0)),
    );
}

/// The code-execution switch, always spelled out.
fn code_line(state: &State, theme: &Theme) -> Line<'static> {
    let toggle = key(state, KeyAction::AllowCode);
    if state.compare.allow_code {
        Line::from(vec![
            Span::styled("code execution: ON", theme.warning.add_modifier(Modifier::BOLD)),
            Span::raw(format!(
                " ({toggle}) — model-written Python runs in a sandbox: temporary folder, no network, time limit"
            )),
        ])
    } else {
        Line::from(vec![
            Span::styled("code execution: off", theme.title),
            Span::raw(format!(" ({toggle}) — model-written code is never run")),
        ])
    }
}

fn render_method_list(frame: &mut Frame, state: &State, theme: &Theme, area: Rect) {
    let c = &state.compare;
    let title = if c.find.is_empty() {
        format!(" methods · {} selected ", c.selected.len())
    } else {
        format!(" methods · find: {} ", c.find)
    };
    let focused = c.focus == CompareFocus::Methods;
    let block = pane_block(&title, focused, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let info_height = match inner.height {
        14.. => 4,
        8.. => 3,
        _ => 0,
    };
    let [list_area, info_area] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(info_height)]).areas(inner);
    let items: Vec<ListItem> = c
        .methods
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let line = if m.runnable() {
                let mark = if c.selected.contains(&i) {
                    "[x]"
                } else {
                    "[ ]"
                };
                let style = if c.selected.contains(&i) {
                    theme.assistant
                } else {
                    Style::default()
                };
                let mut spans = vec![
                    Span::styled(format!("{mark} "), style),
                    Span::styled(format!("{:<5}", m.section), theme.dim),
                    Span::styled(m.id.clone(), style),
                ];
                if m.runs_code() {
                    spans.push(Span::styled(" (code)", theme.dim));
                }
                Line::from(spans)
            } else {
                let mut text = format!(" –  {:<5}{}", m.section, m.id);
                if text.chars().count() + 15 <= usize::from(list_area.width) {
                    text.push_str(" (not runnable)");
                }
                Line::styled(text, theme.dim)
            };
            ListItem::new(line)
        })
        .collect();
    let highlight = if focused {
        Style::default().add_modifier(Modifier::REVERSED)
    } else {
        Style::default().add_modifier(Modifier::BOLD)
    };
    let mut list_state = ListState::default().with_selected(Some(c.cursor));
    frame.render_stateful_widget(
        List::new(items).highlight_style(highlight),
        list_area,
        &mut list_state,
    );
    if let Some(m) = c.methods.get(c.cursor) {
        let text = match &m.not_runnable {
            Some(reason) => Line::styled(format!("not runnable: {reason}"), theme.dim),
            None => Line::from(vec![
                Span::styled(m.name.clone(), theme.title),
                Span::styled(
                    format!(
                        " · {} call(s) · needs {}{}",
                        m.calls_per_item(),
                        m.inputs.join(" + "),
                        if m.runs_code() {
                            " · runs model-written code"
                        } else {
                            ""
                        }
                    ),
                    theme.dim,
                ),
            ]),
        };
        frame.render_widget(
            Paragraph::new(text).wrap(Wrap { trim: true }).block(
                Block::default()
                    .borders(Borders::TOP)
                    .border_style(theme.border),
            ),
            info_area,
        );
    }
}

/// The question and switches in two lines, while the columns have focus.
fn render_compact_setup(
    frame: &mut Frame,
    state: &State,
    theme: &Theme,
    run: &CompareRun,
    area: Rect,
) {
    let mut first = vec![
        Span::styled(" Q: ", theme.title),
        Span::raw(printable(&one_line(&run.question))),
    ];
    if let Some(reference) = &run.reference {
        first.push(Span::styled("  │ reference: ", theme.dim));
        first.push(Span::raw(printable(&one_line(reference))));
    }
    if run.context.is_some() {
        first.push(Span::styled("  │ with context", theme.dim));
    }
    let mut second = vec![Span::raw(" ")];
    second.extend(code_line(state, theme).spans);
    frame.render_widget(
        Paragraph::new(vec![Line::from(first), Line::from(second)]),
        area,
    );
}

fn render_columns(frame: &mut Frame, state: &State, theme: &Theme, run: &CompareRun, area: Rect) {
    let c = &state.compare;
    let n = run.columns.len();
    if n == 0 || area.height == 0 {
        return;
    }
    let [header, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    let visible = usize::from((area.width / MIN_COLUMN_WIDTH).max(1)).min(n);
    let selected = c.column.min(n - 1);
    let first = if selected < visible {
        0
    } else {
        selected + 1 - visible
    };
    let mut spans = vec![Span::raw(" ")];
    spans.push(run_status(run, state, theme));
    if visible < n {
        let shown = if visible == 1 {
            format!("column {}", first + 1)
        } else {
            format!("columns {}–{}", first + 1, first + visible)
        };
        spans.push(Span::styled(
            format!(
                "  {}{shown} of {n}{}",
                if first > 0 { "◀ " } else { "" },
                if first + visible < n { " ▶" } else { "" },
            ),
            theme.warning,
        ));
    }
    if c.focus == CompareFocus::Columns {
        spans.push(Span::styled(
            format!(
                "  ←→ column · ↑↓ step · {} opens",
                key(state, KeyAction::Send)
            ),
            theme.dim,
        ));
    } else {
        spans.push(Span::styled(
            format!("  {} to the columns", key(state, KeyAction::Focus)),
            theme.dim,
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), header);
    let rects = Layout::horizontal(vec![Constraint::Ratio(1, visible as u32); visible]).split(body);
    for (slot, rect) in rects.iter().enumerate() {
        let index = first + slot;
        let focused = c.focus == CompareFocus::Columns && index == selected;
        render_column(frame, theme, run, index, focused, *rect);
    }
}

fn run_status(run: &CompareRun, state: &State, theme: &Theme) -> Span<'static> {
    let n = run.columns.len();
    let done = run
        .columns
        .iter()
        .filter(|c| !matches!(c.status, ColumnStatus::Waiting | ColumnStatus::Running))
        .count();
    if run.stopping {
        Span::styled("stopping…", theme.warning)
    } else if run.running {
        let current = run
            .columns
            .iter()
            .position(|c| c.status == ColumnStatus::Running)
            .map_or(String::new(), |i| format!(" {}", run.columns[i].spec.id));
        Span::styled(
            format!(
                "running{current} ({}/{n}) · {} stops",
                (done + 1).min(n),
                key(state, KeyAction::Stop)
            ),
            theme.warning,
        )
    } else if run
        .columns
        .iter()
        .any(|c| matches!(c.status, ColumnStatus::NotRun | ColumnStatus::Stopped))
    {
        Span::styled("stopped", theme.warning)
    } else {
        Span::styled(format!("done: {n} method(s)"), theme.title)
    }
}

fn render_column(
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
            lines.push(call_line(call, ci, numbered, running, width, theme));
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
    Line::styled(text, style)
}

fn call_line(
    call: &CallView,
    index: usize,
    numbered: bool,
    running: bool,
    width: u16,
    theme: &Theme,
) -> Line<'static> {
    let prefix = if numbered {
        format!("  #{} ", index + 1)
    } else {
        "  ".to_string()
    };
    let mut spans = vec![Span::styled(prefix, theme.dim)];
    let text = one_line(&call.text);
    // At most about three rows of the call's text: its end, where the
    // answer is.
    let room = (usize::from(width) * 3).saturating_sub(16).max(8);
    if text.is_empty() && !call.done {
        spans.push(Span::styled("…", theme.dim));
    } else {
        spans.push(Span::raw(printable(&clip_start(&text, room))));
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
    Line::from(spans)
}

/// The last `room` characters of `text`, with "…" in front when cut.
fn clip_start(text: &str, room: usize) -> String {
    let count = text.chars().count();
    if count <= room {
        return text.to_string();
    }
    let tail: String = text.chars().skip(count - room + 1).collect();
    format!("…{tail}")
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
                format!(
                    "{} call{} · {}+{} tok · {:.1} s",
                    r.calls,
                    if r.calls == 1 { "" } else { "s" },
                    r.prompt_tokens,
                    r.generated_tokens,
                    r.seconds
                )
            });
            (Line::from(first), Line::styled(stats, theme.dim))
        }
        ColumnStatus::Running => (
            Line::styled("running…", theme.warning),
            Line::styled(format!("{} call(s) so far", col.calls), theme.dim),
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

/// The selected step or call of the selected column, whole.
pub fn render_detail(frame: &mut Frame, state: &State, theme: &Theme, area: Rect) {
    let c: &CompareState = &state.compare;
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

fn text_lines(text: &str) -> Vec<Line<'static>> {
    printable(text)
        .split('\n')
        .map(|l| Line::raw(l.to_string()))
        .collect()
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
                    let shown = matches!(output, Output::Answers { .. } | Output::Vote { .. })
                        || step.calls.is_empty();
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
