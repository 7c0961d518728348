//! Drawing the attention pane: a title with the selection, the view tabs,
//! the prompt field (while editing or capturing), and the body of the view
//! up: the model view's grid of thumbnails, one head full size, the token
//! view, the neuron view's scores, the lens table, a head's effect.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;

use super::data::{fit, label, top_keys, top_queries};
use super::heat;
use super::state::{AttentionState, View, THUMB_COLS, THUMB_ROWS};
use super::update::KEYS;
use crate::panes::ViewCx;
use crate::theme::Theme;
use crate::widgets::overlay::{draw, help_row};
use promptlab_engine::overview::{Overview, Thumbnails};
use promptlab_engine::plain::Capture;

pub(crate) fn render(frame: &mut Frame, a: &AttentionState, v: ViewCx, area: Rect) {
    let theme = v.theme;
    let field_rows = if a.editing { 3 } else { 0 };
    let [title, tabs, field, body] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(field_rows),
        Constraint::Min(1),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(title_line(a, theme)), title);
    frame.render_widget(Paragraph::new(tab_line(a, theme)), tabs);
    if a.editing {
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(theme.focused_border)
            .title("prompt (Enter captures it and a greedy answer, Esc leaves)");
        crate::widgets::text_input::render_wrapped(
            frame,
            &a.prompt,
            block,
            true,
            theme.placeholder,
            field,
        );
    }
    if a.view == View::Live {
        let lines = live_lines(a, v, body);
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), body);
        return;
    }
    if let Some(c) = &a.capturing {
        let text = format!(
            "capturing{}… {}",
            if c.stopping { " (stopping)" } else { "" },
            label(&c.answer)
        );
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: false }), body);
        return;
    }
    let Some(capture) = &a.capture else {
        let lines = vec![
            Line::from("No capture yet."),
            Line::from(""),
            Line::from("Type a prompt above and press Enter: the pane captures every layer and"),
            Line::from("head over it and over a greedy answer. In the chat, the attention key"),
            Line::from(format!(
                "({}) inspects the selected or last answer.",
                v.keymap.key_name(crate::keymap::GlobalAction::Attention)
            )),
        ];
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), body);
        return;
    };
    let lines = match a.view {
        View::Model => match &a.overview {
            Some(o) => model_lines(a, &o.thumbnails, capture, v, body),
            None => vec![],
        },
        View::Head => head_lines(a, capture, v, body),
        View::Token => token_lines(a, capture, body),
        View::Neuron => neuron_lines(a, capture, body),
        View::Lens => lens_lines(a, capture, theme, body),
        View::Effect => effect_lines(a, capture, theme),
        View::Spans => match &a.overview {
            Some(o) => span_lines(a, o, capture, theme, body),
            None => vec![],
        },
        View::Live => vec![],
        View::Pair => pair_lines(a, capture, theme, body),
    };
    frame.render_widget(Paragraph::new(lines), body);
}

/// `“token”` for position `pos`.
fn quoted(capture: &Capture, pos: usize, width: usize) -> String {
    let text = capture.tokens.get(pos).map_or(String::new(), |t| label(t));
    format!("“{}”", text.chars().take(width).collect::<String>())
}

fn title_line(a: &AttentionState, theme: &Theme) -> Line<'static> {
    let Some(c) = &a.capture else {
        return Line::from(Span::styled("Attention", theme.title));
    };
    let part = if a.token >= c.prompt_tokens {
        "answer"
    } else {
        "prompt"
    };
    Line::from(vec![
        Span::styled("Attention ", theme.title),
        Span::raw(format!(
            "L{} H{} · token {}/{} {} ({part}) · {}",
            a.layer,
            a.head,
            a.token,
            c.len(),
            quoted(c, a.token, 12),
            a.source
        )),
    ])
}

fn tab_line(a: &AttentionState, theme: &Theme) -> Line<'static> {
    let mut spans = Vec::new();
    for view in View::ALL_VIEWS {
        let (key, name) = view.key_and_name();
        let style = if view == a.view {
            theme.title.add_modifier(Modifier::REVERSED)
        } else {
            Style::default()
        };
        spans.push(Span::styled(format!("{key}"), theme.title));
        spans.push(Span::styled(format!(" {name}"), style));
        spans.push(Span::raw(" "));
    }
    spans.push(Span::styled("i prompt", theme.dim));
    Line::from(spans)
}

/// The first of the `shown` items in the page holding `selected`.
fn page_start(selected: usize, shown: usize) -> usize {
    (selected / shown.max(1)) * shown.max(1)
}

/// Every layer × head as a thumbnail (two pixels per character row), the
/// page holding the selection; the selected one between brackets.
fn model_lines(
    a: &AttentionState,
    t: &Thumbnails,
    capture: &Capture,
    v: ViewCx,
    body: Rect,
) -> Vec<Line<'static>> {
    let maps = &capture.maps;
    let palette = v.theme.palette;
    let cell_w = THUMB_COLS + 1;
    let heads_shown =
        ((usize::from(body.width).saturating_sub(4)) / cell_w).clamp(1, maps.n_heads());
    let layers_shown =
        (usize::from(body.height).saturating_sub(1) / THUMB_ROWS).clamp(1, maps.n_layers());
    let first_head = page_start(a.head, heads_shown);
    let first_layer = page_start(a.layer, layers_shown);
    let heads = first_head..(first_head + heads_shown).min(maps.n_heads());
    let layers = first_layer..(first_layer + layers_shown).min(maps.n_layers());
    let selected = |on: bool| {
        if on {
            v.theme.title.add_modifier(Modifier::REVERSED)
        } else {
            v.theme.dim
        }
    };
    let mut header = vec![Span::raw("    ")];
    for h in heads.clone() {
        header.push(Span::styled(
            format!(" {:<w$}", format!("H{h}"), w = THUMB_COLS),
            selected(h == a.head),
        ));
    }
    let mut lines = vec![Line::from(header)];
    for layer in layers {
        for row in 0..THUMB_ROWS {
            let mut spans = vec![if row == 0 {
                Span::styled(
                    format!("{:<4}", format!("L{layer}")),
                    selected(layer == a.layer),
                )
            } else {
                Span::raw("    ")
            }];
            for head in heads.clone() {
                let chosen = layer == a.layer && head == a.head;
                spans.push(Span::styled(if chosen { "[" } else { " " }, v.theme.title));
                for col in 0..t.cols {
                    let top = t.pixel(layer, head, 2 * row, col);
                    let bottom = t.pixel(layer, head, 2 * row + 1, col);
                    let (glyph, style) = heat::cell(Some(top), Some(bottom), palette);
                    spans.push(Span::styled(glyph, style));
                }
                if chosen {
                    // The closing bracket takes the next gap.
                    spans.push(Span::styled("]", v.theme.title));
                }
            }
            lines.push(Line::from(spans));
        }
    }
    lines
}

/// One head full size: a query per row (its token at the left), a key per
/// column (token labels written downwards under the map), the rows and
/// columns around the cursor; beside it, the cursor query's strongest keys.
fn head_lines(a: &AttentionState, capture: &Capture, v: ViewCx, body: Rect) -> Vec<Line<'static>> {
    const LABEL: usize = 12;
    const KEY_LABEL_ROWS: usize = 3;
    let maps = &capture.maps;
    let palette = v.theme.palette;
    let n = capture.len();
    let width = usize::from(body.width);
    let panel = if width >= 70 { 27 } else { 0 };
    let key_cols = width.saturating_sub(LABEL + panel + 1).clamp(1, n);
    let rows = usize::from(body.height)
        .saturating_sub(KEY_LABEL_ROWS + 1)
        .clamp(1, n);
    let q_start = a.token.saturating_sub(rows / 2).min(n - rows);
    let k_start = (a.token + 1).saturating_sub(key_cols);
    let keys = k_start..(k_start + key_cols).min(n);
    let panel_lines = {
        let mut p = vec![
            format!("query {} {}", a.token, quoted(capture, a.token, 12)),
            "attends most to:".into(),
        ];
        for (k, w) in top_keys(
            maps,
            a.layer,
            a.head,
            a.token,
            rows.saturating_sub(1).max(1),
        ) {
            p.push(format!(
                "{k:>4} {} {w:.3}",
                fit(&quoted(capture, k, 10), 12)
            ));
        }
        p
    };
    let mut lines = vec![Line::from(Span::styled(
        format!(
            "L{} H{} · keys {}–{} of {n} (query {}–{})",
            a.layer,
            a.head,
            keys.start,
            keys.end - 1,
            q_start,
            q_start + rows - 1
        ),
        v.theme.dim,
    ))];
    for (i, q) in (q_start..q_start + rows).enumerate() {
        let cursor = q == a.token;
        let label_style = if cursor {
            v.theme.title.add_modifier(Modifier::REVERSED)
        } else {
            Style::default()
        };
        let mut spans = vec![Span::styled(
            format!("{q:>4} {} ", fit(&label(&capture.tokens[q]), LABEL - 6)),
            label_style,
        )];
        for k in keys.clone() {
            if k <= q {
                let (glyph, style) = heat::full(maps.prob(a.layer, a.head, q, k), palette);
                spans.push(Span::styled(glyph, style));
            } else {
                spans.push(Span::raw(" "));
            }
        }
        if panel > 0 {
            let pad = key_cols - keys.len() + 1;
            spans.push(Span::raw(" ".repeat(pad)));
            if let Some(text) = panel_lines.get(i) {
                spans.push(Span::raw(fit(text, panel)));
            }
        }
        lines.push(Line::from(spans));
    }
    for r in 0..KEY_LABEL_ROWS {
        let mut s = " ".repeat(LABEL);
        for k in keys.clone() {
            let text = label(&capture.tokens[k]);
            let text = text.trim_start();
            s.push(
                text.chars()
                    .nth(r)
                    .unwrap_or(if r == 0 { '·' } else { ' ' }),
            );
        }
        lines.push(Line::from(Span::styled(s, v.theme.dim)));
    }
    lines
}

/// The selected token in every head of the layer: the keys it attends to
/// most, and the later tokens that attend to it most.
fn token_lines(a: &AttentionState, capture: &Capture, body: Rect) -> Vec<Line<'static>> {
    let maps = &capture.maps;
    let half = (usize::from(body.width).saturating_sub(4)) / 2;
    let pair = |(p, w): (usize, f32)| format!("{p} {} {w:.2}", quoted(capture, p, 8));
    let mut lines = vec![
        Line::from(format!(
            "token {} {} in layer {}, every head",
            a.token,
            quoted(capture, a.token, 16),
            a.layer
        )),
        Line::from(format!(
            "{:<4}{}{}",
            "",
            fit("attends to", half),
            "attended to by (later tokens)"
        )),
    ];
    for head in 0..maps.n_heads() {
        let to: Vec<String> = top_keys(maps, a.layer, head, a.token, 2)
            .into_iter()
            .map(pair)
            .collect();
        let by: Vec<String> = top_queries(maps, a.layer, head, a.token, 2)
            .into_iter()
            .map(pair)
            .collect();
        let by = if by.is_empty() {
            "— (the last token)".to_string()
        } else {
            by.join("  ")
        };
        lines.push(Line::from(format!(
            "{:<4}{}{}",
            format!("H{head}"),
            fit(&to.join("  "), half),
            by
        )));
    }
    lines
}

/// The scaled query·key products of the selected head and query, highest
/// first, with the weights softmax makes of them.
fn neuron_lines(a: &AttentionState, capture: &Capture, body: Rect) -> Vec<Line<'static>> {
    let maps = &capture.maps;
    let Some(scores) = maps.scores(a.layer, a.head, a.token) else {
        return vec![Line::from(
            "this model's capture keeps no query and key vectors",
        )];
    };
    let max = scores
        .values
        .iter()
        .copied()
        .fold(f32::NEG_INFINITY, f32::max);
    let log_z = max
        + scores
            .values
            .iter()
            .map(|s| (s - max).exp())
            .sum::<f32>()
            .ln();
    let mut order: Vec<usize> = (0..scores.values.len()).collect();
    order.sort_by(|&x, &y| {
        scores.values[y]
            .total_cmp(&scores.values[x])
            .then(x.cmp(&y))
    });
    let mut lines = vec![
        Line::from(format!(
            "L{} H{} query {} {} · key/value head {} · scale 1/√d = {:.4}",
            a.layer,
            a.head,
            a.token,
            quoted(capture, a.token, 12),
            scores.kv_head,
            scores.scale
        )),
        Line::from(format!(
            "scores q·k·scale, highest first; weight = exp(score − {log_z:.3})"
        )),
        Line::from(format!(
            "{:>5}  {:<16} {:>9} {:>8}",
            "key", "token", "score", "weight"
        )),
    ];
    let rows = usize::from(body.height).saturating_sub(3);
    for &k in order.iter().take(rows) {
        lines.push(Line::from(format!(
            "{k:>5}  {} {:>9.3} {:>8.4}",
            fit(&quoted(capture, k, 14), 16),
            scores.values[k],
            maps.prob(a.layer, a.head, a.token, k)
        )));
    }
    lines
}

/// The logit lens: per layer (rows, the page holding the selected layer)
/// and position (columns around the cursor) the top token and its
/// probability; under it, the model's own next tokens at the cursor.
fn lens_lines(
    a: &AttentionState,
    capture: &Capture,
    theme: &Theme,
    body: Rect,
) -> Vec<Line<'static>> {
    let Some(r) = a.readout.as_ref().filter(|_| a.readout_current()) else {
        return vec![Line::from(
            "reading the residual stream through the unembedding…",
        )];
    };
    let n_layers = capture.maps.n_layers();
    let col = ((usize::from(body.width).saturating_sub(4)) / r.lens.len().max(1)).max(6);
    let mut header = vec![Span::raw("    ")];
    for (pos, _) in &r.lens {
        let style = if *pos == a.token {
            theme.title.add_modifier(Modifier::REVERSED)
        } else {
            theme.dim
        };
        let text = fit(&format!("{pos} {}", quoted(capture, *pos, col)), col - 1);
        header.push(Span::styled(text, style));
        header.push(Span::raw(" "));
    }
    let mut lines = vec![Line::from(header)];
    let rows = usize::from(body.height).saturating_sub(3).max(1);
    let first = page_start(a.layer, rows);
    for layer in first..(first + rows).min(n_layers) {
        let style = if layer == a.layer {
            theme.title.add_modifier(Modifier::REVERSED)
        } else {
            theme.dim
        };
        let mut spans = vec![Span::styled(format!("{:<4}", format!("L{layer}")), style)];
        for (pos, layers) in &r.lens {
            let text = layers[layer].first().map_or(String::new(), |(t, p)| {
                format!("{} {:>2.0}%", cell_token(t), p * 100.0)
            });
            let s = if *pos == a.token {
                theme.title
            } else {
                Style::default()
            };
            spans.push(Span::styled(fit(&text, col - 1), s));
            spans.push(Span::raw(" "));
        }
        lines.push(Line::from(spans));
    }
    if let Some((_, layers)) = r.lens.iter().find(|(p, _)| *p == a.token) {
        let next: Vec<String> = layers[n_layers - 1]
            .iter()
            .take(4)
            .map(|(t, p)| format!("{} {:.0}%", quoted_text(t), p * 100.0))
            .collect();
        lines.push(Line::from(format!(
            "next after {}: {}",
            a.token,
            next.join("  ")
        )));
    }
    lines
}

/// A lens cell's token: trimmed, a blank one as `␣`.
fn cell_token(token: &str) -> String {
    let text = label(token);
    match text.trim() {
        "" => "␣".repeat(text.chars().count().max(1)),
        t => t.to_string(),
    }
}

fn quoted_text(token: &str) -> String {
    format!("“{}”", label(token))
}

/// What the selected head's output at the cursor adds to the logits.
fn effect_lines(a: &AttentionState, capture: &Capture, theme: &Theme) -> Vec<Line<'static>> {
    let Some(r) = a.readout.as_ref().filter(|_| a.readout_current()) else {
        return vec![Line::from(
            "reading the head's output through the unembedding…",
        )];
    };
    let mut lines = vec![
        Line::from(format!(
            "L{} H{} at token {} {}: its output through the final norm and the unembedding",
            r.layer,
            r.head,
            r.cursor,
            quoted(capture, r.cursor, 12)
        )),
        Line::from(vec![
            Span::styled(fit("  promotes (logit +)", 38), theme.title),
            Span::styled("  suppresses (logit −)", theme.title),
        ]),
    ];
    for i in 0..r.promoted.len().max(r.suppressed.len()) {
        let cell = |list: &[(String, f32)]| {
            list.get(i).map_or(String::new(), |(t, d)| {
                format!("  {:+7.3}  {}", d, quoted_text(t))
            })
        };
        lines.push(Line::from(format!(
            "{}{}",
            fit(&cell(&r.promoted), 38),
            cell(&r.suppressed)
        )));
    }
    lines
}

/// How the answer's attention splits over the prompt's spans (its
/// exemplars, instruction and question in a few-shot prompt): the share
/// per span in the selected layer, in groups of layers (as many as fit),
/// and over all.
fn span_lines(
    a: &AttentionState,
    o: &Overview,
    capture: &Capture,
    theme: &Theme,
    body: Rect,
) -> Vec<Line<'static>> {
    const COL: usize = 7;
    let n_layers = o.span_shares.len();
    let queries = super::data::answer_queries(capture);
    let width = usize::from(body.width);
    // The selected layer, groups of five (where they fit), all layers.
    let mut columns: Vec<(String, Vec<usize>)> = vec![(format!("L{}", a.layer), vec![a.layer])];
    let groups = (width.saturating_sub(30) / COL).saturating_sub(2).min(6);
    if groups >= 2 {
        let size = n_layers.div_ceil(groups);
        for start in (0..n_layers).step_by(size.max(1)) {
            let end = (start + size).min(n_layers);
            let title = match end - start {
                1 => format!("L{start}"),
                _ => format!("L{start}–{}", end - 1),
            };
            columns.push((title, (start..end).collect()));
        }
    }
    columns.push(("all".into(), (0..n_layers).collect()));
    let name_width = width.saturating_sub(2 + columns.len() * COL).max(8);
    let share = |span: usize, layers: &[usize]| -> f32 {
        layers.iter().map(|&l| o.span_shares[l][span]).sum::<f32>() / layers.len().max(1) as f32
    };
    let mut lines = vec![Line::from(format!(
        "share of the attention of tokens {}–{} (mean over heads and tokens), per span",
        queries.start,
        queries.end - 1
    ))];
    let mut header = vec![Span::styled(fit("  span", name_width + 2), theme.dim)];
    for (title, _) in &columns {
        header.push(Span::styled(format!("{title:>COL$}"), theme.dim));
    }
    lines.push(Line::from(header));
    let rows = usize::from(body.height).saturating_sub(2).max(1);
    let current = o
        .spans
        .iter()
        .position(|s| (s.start..s.end).contains(&a.token))
        .unwrap_or(0);
    let first = page_start(current, rows);
    let best: Vec<usize> = columns
        .iter()
        .map(|(_, layers)| {
            (0..o.spans.len())
                .max_by(|&x, &y| share(x, layers).total_cmp(&share(y, layers)))
                .unwrap_or(0)
        })
        .collect();
    for (i, span) in o.spans.iter().enumerate().skip(first).take(rows) {
        let marker = if i == current { "› " } else { "  " };
        let mut spans = vec![Span::raw(format!(
            "{marker}{}",
            fit(
                &format!("{}–{} {}", span.start, span.end - 1, span.name),
                name_width
            )
        ))];
        for (c, (_, layers)) in columns.iter().enumerate() {
            let style = if best[c] == i {
                theme.title
            } else {
                Style::default()
            };
            spans.push(Span::styled(
                format!("{:>w$.1}%", share(i, layers) * 100.0, w = COL - 1),
                style,
            ));
        }
        lines.push(Line::from(spans));
    }
    lines
}

/// The chat's answer as it streams: its tokens (the shown one marked),
/// the shown token's alternatives and strongest keys in the selected head,
/// and its attention over the newest keys in every head of the layer.
fn live_lines(a: &AttentionState, v: ViewCx, body: Rect) -> Vec<Line<'static>> {
    let theme = v.theme;
    let live = &a.live;
    let switch = v.keymap.key_name(crate::keymap::GlobalAction::Attention);
    let mut lines = vec![Line::from(if a.live_on {
        format!("live on: chat answers are captured as they stream ({switch}: chat, v: off)")
    } else {
        "live off: v turns it on for the chat's next answers".to_string()
    })];
    let Some(shown) = live.shown() else {
        lines.push(Line::from(Span::styled(
            "no answer yet: ask in the chat, then come back to watch it stream",
            theme.dim,
        )));
        return lines;
    };
    // The answer's tail, as many tokens as fit two rows, the shown one marked.
    let width = usize::from(body.width).max(1);
    let mut budget = 2 * width;
    let mut first = shown.min(live.steps.len() - 1);
    while first > 0 && budget > live.steps[first - 1].text.chars().count() + 2 {
        budget -= live.steps[first - 1].text.chars().count();
        first -= 1;
    }
    let mut answer = Vec::new();
    for (i, step) in live.steps.iter().enumerate().skip(first) {
        let text = label(&step.text);
        let text = if text.is_empty() {
            "·".to_string()
        } else {
            text
        };
        let style = if i == shown {
            theme.title.add_modifier(Modifier::REVERSED)
        } else {
            Style::default()
        };
        answer.push(Span::styled(text, style));
    }
    lines.push(Line::from(answer));
    let step = &live.steps[shown];
    let alternatives: Vec<String> = step
        .top
        .iter()
        .take(4)
        .map(|(t, lp)| format!("{} {:.0}%", quoted_text(t), lp.exp() * 100.0))
        .collect();
    lines.push(Line::from(format!(
        "token {} of {} {} p {:.0}% · also: {}",
        shown + 1,
        live.steps.len(),
        quoted_text(&step.text),
        step.logprob.exp() * 100.0,
        alternatives.join("  ")
    )));
    let Some(row) = &step.row else {
        lines.push(Line::from(Span::styled(
            if shown + super::live::KEEP_ROWS < live.steps.len() {
                "this token's attention is no longer kept (the newest 64 are)"
            } else {
                "not captured: live was off, or the prompt was too long to capture"
            },
            theme.dim,
        )));
        return lines;
    };
    let (layer, head) = (a.layer.min(row.n_layers - 1), a.head.min(row.n_heads - 1));
    let key_text = |k: usize| quoted_text(live.keys.get(k).map_or("", String::as_str));
    let weights = row.row(layer, head);
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&x, &y| weights[y].total_cmp(&weights[x]).then(x.cmp(&y)));
    let strongest: Vec<String> = order
        .iter()
        .take(3)
        .map(|&k| format!("{k} {} {:.2}", key_text(k), weights[k]))
        .collect();
    lines.push(Line::from(format!(
        "L{layer} H{head} (position {}) attends to: {}",
        row.query,
        strongest.join("  ")
    )));
    // Every head of the layer over the newest keys, a key per column.
    let cols = width.saturating_sub(5).max(1);
    let keys = weights.len();
    let from = keys.saturating_sub(cols);
    for h in 0..row.n_heads {
        let style = if h == head {
            theme.title.add_modifier(Modifier::REVERSED)
        } else {
            theme.dim
        };
        let mut spans = vec![
            Span::styled(format!("{:<4}", format!("H{h}")), style),
            Span::raw(" "),
        ];
        for &w in &row.row(layer, h)[from..] {
            let (glyph, style) = heat::full(w, theme.palette);
            spans.push(Span::styled(glyph, style));
        }
        lines.push(Line::from(spans));
    }
    lines.push(Line::from(Span::styled(
        format!("keys {from}–{} (the newest at the right)", keys - 1),
        theme.dim,
    )));
    lines
}

/// Two methods' prompts for one question: how much of each answer's
/// attention (mean over heads and answer tokens) each question token gets,
/// in the selected layer and over all layers, and the difference.
fn pair_lines(
    a: &AttentionState,
    first: &Capture,
    theme: &Theme,
    body: Rect,
) -> Vec<Line<'static>> {
    let Some(pair) = &a.pair else {
        return vec![Line::from(
            "no pair: in the compare pane, after a run, the attention key captures the selected method's last call and the next one's",
        )];
    };
    let Some(second) = &pair.second else {
        return vec![Line::from("capturing the second method's call…")];
    };
    let layers_all: Vec<usize> = (0..first.maps.n_layers()).collect();
    let (Some(layer), Some(all)) = (
        super::data::aligned_question([first, second], &pair.question, &[a.layer]),
        super::data::aligned_question([first, second], &pair.question, &layers_all),
    ) else {
        return vec![Line::from(
            "the question's text is not in both prompts: nothing to align",
        )];
    };
    let pct = |v: f32| format!("{:>6.1}", v * 100.0);
    let total =
        |t: &[super::data::AlignedToken], i: usize| t.iter().map(|x| x.shares[i]).sum::<f32>();
    let mut lines = vec![
        Line::from(vec![
            Span::styled("A ", theme.title),
            Span::raw(format!("{} · ", pair.names[0])),
            Span::styled("B ", theme.title),
            Span::raw(format!("{} · % of the answer's attention", pair.names[1])),
        ]),
        Line::from(Span::styled(
            format!(
                "{:<18}{:>6} {:>6} {:>6} {:>6} {:>6} {:>6}",
                "question token",
                format!("L{} A", a.layer),
                "B",
                "B−A",
                "all A",
                "B",
                "B−A"
            ),
            theme.dim,
        )),
        Line::from(format!(
            "{:<18}{} {} {:>+6.1} {} {} {:>+6.1}",
            "(whole question)",
            pct(total(&layer, 0)),
            pct(total(&layer, 1)),
            (total(&layer, 1) - total(&layer, 0)) * 100.0,
            pct(total(&all, 0)),
            pct(total(&all, 1)),
            (total(&all, 1) - total(&all, 0)) * 100.0
        )),
    ];
    let rows = usize::from(body.height).saturating_sub(3).max(1);
    let widest = layer
        .iter()
        .enumerate()
        .max_by(|x, y| {
            (x.1.shares[1] - x.1.shares[0])
                .abs()
                .total_cmp(&(y.1.shares[1] - y.1.shares[0]).abs())
        })
        .map(|(i, _)| i);
    // The page holding the first question token at or after the cursor.
    let at = layer.iter().position(|t| t.pos >= a.token).unwrap_or(0);
    let first_row = page_start(at, rows);
    for (i, (l, t)) in layer
        .iter()
        .zip(&all)
        .enumerate()
        .skip(first_row)
        .take(rows)
    {
        let d = (l.shares[1] - l.shares[0]) * 100.0;
        let style = if Some(i) == widest {
            theme.title
        } else {
            Style::default()
        };
        lines.push(Line::from(Span::styled(
            format!(
                "{}{} {} {:>+6.1} {} {} {:>+6.1}",
                fit(&quoted_text(&l.text), 18),
                pct(l.shares[0]),
                pct(l.shares[1]),
                d,
                pct(t.shares[0]),
                pct(t.shares[1]),
                (t.shares[1] - t.shares[0]) * 100.0
            ),
            style,
        )));
    }
    lines
}

/// The pane's keys, over the screen.
pub(crate) fn render_help(frame: &mut Frame, v: ViewCx, area: Rect) {
    use crate::keymap::GlobalAction;
    let theme = v.theme;
    let mut lines: Vec<Line> = KEYS
        .iter()
        .map(|(keys, what)| help_row(keys, 16, theme.title, what))
        .collect();
    lines.push(help_row(
        &v.keymap.key_for(GlobalAction::Attention),
        16,
        theme.title,
        "back to the pane before",
    ));
    lines.push(help_row(
        &v.keymap.key_for(GlobalAction::Quit),
        16,
        theme.title,
        "quit",
    ));
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "any key closes this help",
        theme.dim,
    )));
    draw(frame, area, 78, "attention pane keys", lines);
}
