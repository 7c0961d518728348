//! The eval pane's view: the suites list, the run's progress line, the A/B
//! table (each arm's accuracy with its 95% Wilson interval; each pair's
//! wins, losses, ties and exact McNemar p) as it fills in, the trials, and
//! a trial's drill-down (its prompt, every call, the answer and each
//! assertion's verdict).

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;

use super::state::{EvalRun, EvalState, Focus};
use super::update::KEYS;
use crate::panes::ViewCx;
use crate::text::{clip_end, one_line, printable};
use crate::theme::Theme;
use crate::widgets::overlay::{draw, help_row};
use promptlab_eval::record::Record;
use promptlab_eval::report;
use promptlab_eval::summary::Summary;

/// The suites list shows at most this many rows (it scrolls).
const SUITE_ROWS: usize = 4;

pub(crate) fn render(frame: &mut Frame, e: &EvalState, v: ViewCx, area: Rect) {
    let theme = v.theme;
    let suite_rows = e.suites.len().clamp(1, SUITE_ROWS) as u16 + 2;
    let [title, suites, body] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(suite_rows),
        Constraint::Min(1),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(title_line(e, theme)), title);
    // A trial's drill-down takes everything under the title.
    if let (Some(offset), Some(record)) = (e.detail, e.selected_record()) {
        let [_, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
        render_detail(frame, e, record, offset, theme, rest);
        return;
    }
    render_suites(frame, e, theme, suites);
    let Some(run) = &e.run else {
        let lines = vec![
            Line::from("Enter runs the selected suite on the loaded model; + and - set"),
            Line::from("how many items. Each finished trial is stored, so a rerun (here or"),
            Line::from(format!(
                "with `promptlab eval`) reuses it; reports go to {}/NAME.",
                e.out_root.display()
            )),
            Line::from(Span::styled("F1 lists every key of this pane", theme.dim)),
        ];
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), body);
        return;
    };
    let table = table_lines(&run.summary, body.width as usize, theme);
    let table_rows = (table.len() as u16).min(body.height.saturating_sub(4) / 2);
    let [progress, table_area, results] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(table_rows),
        Constraint::Min(1),
    ])
    .areas(body);
    frame.render_widget(Paragraph::new(progress_line(run, theme)), progress);
    frame.render_widget(Paragraph::new(table), table_area);
    render_results(frame, e, run, theme, results);
}

fn title_line(e: &EvalState, theme: &Theme) -> Line<'static> {
    let limit = match e.limit() {
        None => "as the file".to_string(),
        Some(n) => format!("first {n}"),
    };
    Line::from(vec![
        Span::styled("eval", theme.title),
        Span::raw(format!(
            " · suites in {} · items: {limit} (+/-) · filter: {} (f)",
            e.suites_dir.display(),
            e.filter.name()
        )),
    ])
}

fn border(focused: bool, theme: &Theme) -> Style {
    if focused {
        theme.focused_border
    } else {
        theme.border
    }
}

fn render_suites(frame: &mut Frame, e: &EvalState, theme: &Theme, area: Rect) {
    let focused = e.focus == Focus::Suites && e.detail.is_none();
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(border(focused, theme))
        .title("suites (Enter runs)");
    let width = area.width.saturating_sub(2) as usize;
    let lines: Vec<Line> = if !e.listed {
        vec![Line::from(Span::styled("reading the folder…", theme.dim))]
    } else if let Some(why) = &e.list_error {
        vec![Line::from(Span::styled(
            clip_end(&printable(why), width),
            theme.warning,
        ))]
    } else if e.suites.is_empty() {
        vec![Line::from(Span::styled(
            clip_end("no *.yaml suites here (r reads the folder again)", width),
            theme.dim,
        ))]
    } else {
        let first = e.cursor.saturating_sub(SUITE_ROWS - 1);
        e.suites
            .iter()
            .enumerate()
            .skip(first)
            .take(SUITE_ROWS)
            .map(|(i, s)| {
                let mark = if i == e.cursor { "▶ " } else { "  " };
                let (text, style) = match &s.loaded {
                    Ok(info) => {
                        let about = info
                            .description
                            .as_deref()
                            .map(one_line)
                            .unwrap_or_default();
                        (
                            format!(
                                "{mark}{:<14} {:>3} items × {} arms  {about}",
                                info.name, info.cases, info.arms
                            ),
                            Style::default(),
                        )
                    }
                    Err(why) => (format!("{mark}{why}"), theme.warning),
                };
                let style = if i == e.cursor && focused {
                    style.patch(theme.focused_border)
                } else {
                    style
                };
                Line::from(Span::styled(clip_end(&printable(&text), width), style))
            })
            .collect()
    };
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// The bar, done of total, the pass rate so far, the ETA and the state.
fn progress_line(run: &EvalRun, theme: &Theme) -> Line<'static> {
    const WIDTH: usize = 20;
    let name = run
        .plan
        .as_ref()
        .map_or_else(|| run.suite.display().to_string(), |p| p.suite.clone());
    let Some(p) = run.progress else {
        let state = match &run.error {
            Some(why) => Span::styled(format!(" {}", printable(&one_line(why))), theme.warning),
            None if run.plan.is_some() => Span::raw(" starting the first trial…"),
            None => Span::raw(" loading the suite…"),
        };
        return Line::from(vec![Span::styled(name, theme.title), state]);
    };
    let filled = (p.done * WIDTH).checked_div(p.total).unwrap_or(WIDTH);
    let rate = if p.done > 0 {
        format!("{:.1}%", 100.0 * p.passed as f64 / p.done as f64)
    } else {
        "–".into()
    };
    let state = match (&run.end, &run.error) {
        (Some(end), _) if end.interrupted => Span::styled(" stopped", theme.warning),
        (Some(end), _) => Span::raw(format!(" done in {}", report::duration(end.seconds))),
        (None, Some(why)) => Span::styled(format!(" {}", printable(&one_line(why))), theme.warning),
        (None, None) if run.stopping => Span::styled(" stopping…", theme.warning),
        (None, None) => match run.eta_seconds() {
            Some(s) => Span::raw(format!(" ETA {} (Esc stops)", report::duration(s))),
            None => Span::raw(" (Esc stops)"),
        },
    };
    Line::from(vec![
        Span::styled(name, theme.title),
        Span::raw(format!(
            " [{}{}] {}/{} pass {rate}",
            "#".repeat(filled),
            ".".repeat(WIDTH - filled),
            p.done,
            p.total
        )),
        state,
    ])
}

/// The arm's label: its variant, its method, or both where both vary.
fn arm_label(summary: &Summary, variant: &str, method: &str) -> String {
    let one_method = summary
        .arms
        .iter()
        .all(|a| a.method == summary.arms[0].method);
    let one_variant = summary
        .arms
        .iter()
        .all(|a| a.variant == summary.arms[0].variant);
    match (one_variant, one_method) {
        (_, true) => variant.to_string(),
        (true, false) => method.to_string(),
        (false, false) => format!("{variant} / {method}"),
    }
}

/// The A/B table: a row per arm, then a line per pair (the second arm's
/// wins, losses and ties against the first, on the trials both ran).
fn table_lines(summary: &Summary, width: usize, theme: &Theme) -> Vec<Line<'static>> {
    if summary.arms.is_empty() {
        return vec![];
    }
    let labels: Vec<String> = summary
        .arms
        .iter()
        .map(|a| arm_label(summary, &a.variant, &a.method))
        .collect();
    let room = labels
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(4, 28);
    let mut lines = vec![Line::from(Span::styled(
        clip_end(
            &format!(
                "{:<room$} {:>4} {:>4} {:>6}  {:<13} {:>6} {:>7}",
                "arm", "n", "pass", "acc", "95% CI", "gen tk", "time"
            ),
            width,
        ),
        theme.dim,
    ))];
    for (a, label) in summary.arms.iter().zip(&labels) {
        let ci = format!(
            "[{:.1}, {:.1}]",
            100.0 * a.wilson.low,
            100.0 * a.wilson.high
        );
        let time = if a.mean_ms >= 1000.0 {
            format!("{:.1}s", a.mean_ms / 1000.0)
        } else {
            format!("{:.0}ms", a.mean_ms)
        };
        lines.push(Line::from(clip_end(
            &format!(
                "{:<room$} {:>4} {:>4} {:>5.1}%  {ci:<13} {:>6.1} {time:>7}",
                clip_end(label, room),
                a.trials,
                a.passed,
                100.0 * a.accuracy,
                a.mean_generated_tokens,
            ),
            width,
        )));
    }
    for p in &summary.pairs {
        let first = arm_label(summary, &p.first.0, &p.first.1);
        let second = arm_label(summary, &p.second.0, &p.second.1);
        lines.push(Line::from(Span::styled(
            clip_end(
                &format!(
                    "{second} vs {first}: {} W · {} L · {} T on {} · McNemar p {:.3}",
                    p.wins, p.losses, p.ties, p.paired, p.p_value
                ),
                width,
            ),
            theme.dim,
        )));
    }
    lines
}

fn verdict(record: &Record) -> &'static str {
    match (&record.error, record.passed) {
        (Some(_), _) => "!",
        (None, true) => "✓",
        (None, false) => "✗",
    }
}

fn render_results(frame: &mut Frame, e: &EvalState, run: &EvalRun, theme: &Theme, area: Rect) {
    let shown = e.shown();
    let focused = e.focus == Focus::Results;
    let title = format!(
        "trials: {} of {} shown (Enter opens one)",
        shown.len(),
        run.records.iter().flatten().count()
    );
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(border(focused, theme))
        .title(title);
    let rows = area.height.saturating_sub(2) as usize;
    let width = area.width.saturating_sub(2) as usize;
    let samples = run.records.iter().flatten().any(|r| r.sample > 0);
    let arm_room = run
        .summary
        .arms
        .iter()
        .map(|a| {
            arm_label(&run.summary, &a.variant, &a.method)
                .chars()
                .count()
        })
        .max()
        .unwrap_or(0)
        .min(28);
    let first = e.result_cursor.saturating_sub(rows.saturating_sub(1));
    let lines: Vec<Line> = shown
        .iter()
        .enumerate()
        .skip(first)
        .take(rows)
        .filter_map(|(row, &i)| {
            let r = run.records.get(i)?.as_ref()?;
            let arm = clip_end(&arm_label(&run.summary, &r.variant, &r.method), arm_room);
            let sample = if samples {
                format!(" #{}", r.sample)
            } else {
                String::new()
            };
            let answer = match (&r.error, &r.answer) {
                (Some(why), _) => format!("error: {why}"),
                (None, Some(a)) => format!("→ {a}"),
                (None, None) => "→ (no answer)".into(),
            };
            let text = format!(
                "{} item {:<4} {arm:<arm_room$}{sample}  {}",
                verdict(r),
                r.item,
                one_line(&answer)
            );
            let style = match (row == e.result_cursor && focused, r.passed) {
                (true, _) => theme.focused_border,
                (false, false) => theme.warning,
                (false, true) => Style::default(),
            };
            Some(Line::from(Span::styled(
                clip_end(&printable(&text), width),
                style,
            )))
        })
        .collect();
    let lines = if lines.is_empty() {
        vec![Line::from(Span::styled(
            if run.records.iter().flatten().next().is_some() {
                "none pass this filter (f changes it)"
            } else {
                "no trial has finished yet"
            },
            theme.dim,
        ))]
    } else {
        lines
    };
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// The trial's whole record: what was asked, each call, the verdicts.
fn detail_lines(r: &Record, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let heading = |text: String| Line::from(Span::styled(text, theme.title));
    let text = |out: &mut Vec<Line<'static>>, body: &str| {
        out.extend(crate::text::text_lines(body));
    };
    let score = r.score;
    let state = match (&r.error, r.passed) {
        (Some(_), _) => "error".to_string(),
        (None, true) => format!("passed (score {score:.2})"),
        (None, false) => format!("failed (score {score:.2})"),
    };
    lines.push(Line::from(format!(
        "{} item {} · {} / {} · sample {} · {state} · {:.0} ms",
        verdict(r),
        r.item,
        r.variant,
        r.method,
        r.sample,
        r.ms
    )));
    lines.push(Line::from(format!(
        "tokens: {} prompt ({} from the prefix cache), {} generated",
        r.tokens.prompt, r.tokens.reused, r.tokens.generated
    )));
    if let Some(why) = &r.error {
        lines.push(Line::from(Span::styled(
            format!("error: {}", printable(&one_line(why))),
            theme.warning,
        )));
    }
    lines.push(heading("assertions".into()));
    for a in &r.assertions {
        lines.push(Line::from(printable(&format!(
            "  {} {} {} (weight {}): {}",
            if a.passed { "✓" } else { "✗" },
            a.kind,
            one_line(&a.expected),
            a.weight,
            one_line(&a.detail)
        ))));
    }
    lines.push(heading(format!(
        "answer: {}",
        r.answer
            .as_deref()
            .map_or("(none extracted)".into(), |a| printable(&one_line(a)))
    )));
    if let Some(system) = &r.system {
        lines.push(heading("system".into()));
        text(&mut lines, system);
    }
    for (i, call) in r.calls.iter().enumerate() {
        lines.push(heading(format!(
            "call {} of {} ({}): prompt",
            i + 1,
            r.calls.len(),
            call.step
        )));
        text(&mut lines, &call.prompt);
        lines.push(heading(format!("call {}: output", i + 1)));
        text(&mut lines, &call.output);
    }
    if r.calls.is_empty() {
        lines.push(heading("prompt".into()));
        text(&mut lines, &r.prompt);
    }
    lines
}

fn render_detail(
    frame: &mut Frame,
    e: &EvalState,
    r: &Record,
    offset: u16,
    theme: &Theme,
    area: Rect,
) {
    let lines = detail_lines(r, theme);
    // Rows the wrapped text takes, so the update can stop at its end.
    let width = area.width.saturating_sub(2).max(1) as usize;
    let rows: usize = lines.iter().map(|l| l.width().div_ceil(width).max(1)).sum();
    let room = rows.saturating_sub(area.height.saturating_sub(2) as usize);
    e.detail_room.set(u16::try_from(room).unwrap_or(u16::MAX));
    let offset = offset.min(e.detail_room.get());
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.focused_border)
        .title("trial (↑/↓ PgUp/PgDn scroll, Esc closes)");
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((offset, 0))
            .block(block),
        area,
    );
}

pub(crate) fn render_help(frame: &mut Frame, v: ViewCx, area: Rect) {
    use crate::keymap::GlobalAction;
    let theme = v.theme;
    let mut lines: Vec<Line> = KEYS
        .iter()
        .map(|(keys, what)| help_row(keys, 14, theme.title, what))
        .collect();
    lines.push(help_row(
        &v.keymap.key_for(GlobalAction::Help),
        14,
        theme.title,
        "this help",
    ));
    lines.push(help_row(
        &v.keymap.key_for(GlobalAction::Eval),
        14,
        theme.title,
        "back to the pane before",
    ));
    lines.push(help_row(
        &v.keymap.key_for(GlobalAction::Quit),
        14,
        theme.title,
        "quit (a run stops; finished trials stay stored)",
    ));
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "any key closes this help",
        theme.dim,
    )));
    draw(frame, area, 78, "eval pane keys", lines);
}
