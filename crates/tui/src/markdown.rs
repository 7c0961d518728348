//! Markdown to styled terminal lines for the chat pane.
//!
//! Owns how an assistant's answer looks: [`render`] turns Markdown, possibly
//! half-streamed, into one ratatui [`Line`] per source line. Hand-written and
//! linear in the text size, it takes every colour from the theme's
//! [`MarkdownStyles`] (none under NO_COLOR) and adds only modifiers of its
//! own; unclosed inline markers stay literal and an unterminated code fence
//! keeps the rest of the text a code block.

use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use crate::theme::MarkdownStyles;

const RULE_WIDTH: usize = 40;
/// Quote bars shown at most, however deep the nesting.
const MAX_QUOTE_BARS: usize = 8;
/// Emphasis and links nested deeper than this are shown as plain text.
const MAX_INLINE_DEPTH: usize = 16;
const TAB_AS_SPACES: &str = "    ";

/// Styled lines for `text`; nothing is wrapped here (the pane's Paragraph wraps).
///
/// One line per source line (a trailing newline adds none), so empty input
/// gives an empty vec, while `"\n"` gives one empty line.
pub(crate) fn render(text: &str, styles: &MarkdownStyles) -> Vec<Line<'static>> {
    let text = text.replace('\t', TAB_AS_SPACES);
    let mut open_fence: Option<Fence> = None;
    let mut lines = Vec::new();
    for line in text.lines() {
        let spans = match &open_fence {
            Some(fence) if fence.is_closed_by(line) => {
                open_fence = None;
                vec![fence_span("", styles)]
            }
            Some(_) => vec![Span::styled(line.to_string(), styles.code_block)],
            None => match Fence::open(line) {
                Some((fence, info)) => {
                    open_fence = Some(fence);
                    vec![fence_span(info, styles)]
                }
                None => block_spans(line, Style::new(), styles),
            },
        };
        lines.push(Line::from(spans));
    }
    lines
}

/// An open fenced code block: its marker byte and run length.
struct Fence {
    marker: u8,
    len: usize,
}

impl Fence {
    /// The fence this line opens, with its info string (e.g. the language).
    fn open(line: &str) -> Option<(Fence, &str)> {
        let rest = strip_indent(line, 3)?;
        let marker = *rest
            .as_bytes()
            .first()
            .filter(|&&b| b == b'`' || b == b'~')?;
        let len = run_len(rest.as_bytes(), 0, marker);
        let info = rest[len..].trim();
        let is_fence = len >= 3 && !(marker == b'`' && info.contains('`'));
        is_fence.then_some((Fence { marker, len }, info))
    }

    fn is_closed_by(&self, line: &str) -> bool {
        strip_indent(line, 3).is_some_and(|rest| {
            let len = run_len(rest.as_bytes(), 0, self.marker);
            len >= self.len && rest[len..].trim().is_empty()
        })
    }
}

/// A dimmed fence line: `── rust ──` when there is an info string, else `────`.
fn fence_span(info: &str, styles: &MarkdownStyles) -> Span<'static> {
    let text = match info {
        "" => "────".to_string(),
        _ => format!("── {info} ──"),
    };
    Span::styled(text, styles.faint)
}

/// `line` without up to `max` leading spaces, or `None` if it has more.
fn strip_indent(line: &str, max: usize) -> Option<&str> {
    let rest = line.trim_start_matches(' ');
    (line.len() - rest.len() <= max).then_some(rest)
}

fn run_len(bytes: &[u8], from: usize, byte: u8) -> usize {
    bytes[from..].iter().take_while(|&&b| b == byte).count()
}

/// Spans for one line outside code blocks: heading, rule, quote, list item or
/// plain text, each with inline markup.
fn block_spans(line: &str, base: Style, styles: &MarkdownStyles) -> Vec<Span<'static>> {
    let mut out = SpanList::default();
    let unindented = line.trim_start_matches(' ');
    let indent = &line[..line.len() - unindented.len()];
    if indent.len() <= 3 {
        if let Some((level, title)) = heading(unindented) {
            let style = base
                .patch(styles.headings[(level - 1) % 3])
                .add_modifier(Modifier::BOLD);
            render_inline(title, style, styles, &mut out);
            return out.spans;
        }
        if is_rule(unindented) {
            return vec![Span::styled(
                "─".repeat(RULE_WIDTH),
                base.patch(styles.faint),
            )];
        }
        if unindented.starts_with('>') {
            // Nested quotes one level at a time (a loop, so 50,000 `>` are
            // no deeper a stack than one); past a few levels the bars stop.
            let mut quoted = unindented;
            let mut depth = 0;
            while let Some(rest) = quoted.trim_start_matches(' ').strip_prefix('>') {
                quoted = rest.strip_prefix(' ').unwrap_or(rest);
                depth += 1;
            }
            let style = base.add_modifier(Modifier::ITALIC | Modifier::DIM);
            let mut spans: Vec<Span<'static>> = (0..depth.min(MAX_QUOTE_BARS))
                .map(|_| Span::styled("│ ", styles.faint))
                .collect();
            spans.extend(block_spans(quoted, style, styles));
            return spans;
        }
    }
    if let Some((marker, content)) = list_item(unindented) {
        out.push(indent, base);
        out.push(marker, base.patch(styles.list_marker));
        out.push(" ", base);
        render_inline(content, base, styles, &mut out);
    } else {
        render_inline(line, base, styles, &mut out);
    }
    out.spans
}

/// `(level, title)` for an ATX heading, without the hashes (closing ones too).
fn heading(line: &str) -> Option<(usize, &str)> {
    let level = run_len(line.as_bytes(), 0, b'#');
    let rest = &line[level..];
    if !(1..=6).contains(&level) || !(rest.is_empty() || rest.starts_with(' ')) {
        return None;
    }
    let title = rest.trim();
    let without_closing = title.trim_end_matches('#');
    if without_closing.is_empty() || without_closing.ends_with(' ') {
        return Some((level, without_closing.trim_end()));
    }
    Some((level, title))
}

/// Three or more of the same `-`, `*` or `_`, optionally spaced.
fn is_rule(line: &str) -> bool {
    let mut marks = line.bytes().filter(|&b| b != b' ');
    let first = marks.next();
    matches!(first, Some(b'-' | b'*' | b'_'))
        && marks.clone().all(|b| Some(b) == first)
        && marks.count() >= 2
}

/// `(marker to show, content)` for `- x`, `* x`, `+ x` (shown as `•`) or `12. x`.
fn list_item(line: &str) -> Option<(&str, &str)> {
    let bytes = line.as_bytes();
    if bytes.len() >= 2 && matches!(bytes[0], b'-' | b'*' | b'+') && bytes[1] == b' ' {
        return Some(("•", &line[2..]));
    }
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    let is_ordered = (1..=9).contains(&digits)
        && matches!(bytes.get(digits), Some(b'.' | b')'))
        && bytes.get(digits + 1) == Some(&b' ');
    is_ordered.then(|| (&line[..=digits], &line[digits + 2..]))
}

/// Output spans, merging neighbours of equal style.
#[derive(Default)]
struct SpanList {
    spans: Vec<Span<'static>>,
}

impl SpanList {
    fn push(&mut self, text: &str, style: Style) {
        if text.is_empty() {
            return;
        }
        match self.spans.last_mut() {
            Some(last) if last.style == style => last.content.to_mut().push_str(text),
            _ => self.spans.push(Span::styled(text.to_string(), style)),
        }
    }
}

/// Appends `src` with inline markup (emphasis, code, links, escapes) applied.
fn render_inline(src: &str, style: Style, styles: &MarkdownStyles, out: &mut SpanList) {
    render_inline_at(src, style, styles, out, 0);
}

/// [`render_inline`] inside `depth` levels of emphasis or links.
fn render_inline_at(
    src: &str,
    style: Style,
    styles: &MarkdownStyles,
    out: &mut SpanList,
    depth: usize,
) {
    if depth > MAX_INLINE_DEPTH {
        out.push(src, style);
        return;
    }
    InlineParser {
        depth,
        src,
        bytes: src.as_bytes(),
        style,
        styles,
        out,
        plain_from: 0,
        emphasis_exhausted: [false; 4],
        code_runs_without_closer: Vec::new(),
        no_link_before: 0,
    }
    .run();
}

/// One pass over a line's inline text. Failed closer searches are
/// remembered, so a line full of unclosed markers stays linear.
struct InlineParser<'s, 'o> {
    /// Levels of emphasis or links this text sits inside.
    depth: usize,
    src: &'s str,
    bytes: &'s [u8],
    style: Style,
    styles: &'o MarkdownStyles,
    out: &'o mut SpanList,
    /// Start of the plain text not yet pushed.
    plain_from: usize,
    /// By `*`/`_` and bold/italic: no closer of that kind further on.
    emphasis_exhausted: [bool; 4],
    code_runs_without_closer: Vec<usize>,
    /// A `[` before this cannot start a link.
    no_link_before: usize,
}

impl InlineParser<'_, '_> {
    fn run(mut self) {
        let mut i = 0;
        while i < self.bytes.len() {
            i = match self.bytes[i] {
                b'\\' if self.bytes.get(i + 1).is_some_and(u8::is_ascii_punctuation) => {
                    self.flush(i);
                    self.plain_from = i + 1;
                    i + 2
                }
                b'`' => self.code_span(i),
                b'*' | b'_' => self.emphasis(i),
                b'[' => self.link(i).unwrap_or(i + 1),
                _ => i + 1,
            };
        }
        self.flush(self.bytes.len());
    }

    fn flush(&mut self, upto: usize) {
        if self.plain_from < upto {
            self.out.push(&self.src[self.plain_from..upto], self.style);
        }
    }

    /// `(start, end)` of each maximal run of `marker` from `from` on.
    fn runs(&self, from: usize, marker: u8) -> impl Iterator<Item = (usize, usize)> + '_ {
        let mut next = from;
        std::iter::from_fn(move || {
            let start = find_byte(self.bytes, next, marker)?;
            next = start + run_len(self.bytes, start, marker);
            Some((start, next))
        })
    }

    /// Code span opened by the backtick run at `i`; returns the next position.
    fn code_span(&mut self, i: usize) -> usize {
        let len = run_len(self.bytes, i, b'`');
        let closer = (!self.code_runs_without_closer.contains(&len))
            .then(|| {
                self.runs(i + len, b'`')
                    .find(|(start, end)| end - start == len)
            })
            .flatten();
        let Some((start, end)) = closer else {
            self.code_runs_without_closer.push(len);
            return i + len;
        };
        self.flush(i);
        let code = &self.src[i + len..start];
        let code = match code.strip_prefix(' ').and_then(|c| c.strip_suffix(' ')) {
            Some(inner) if !inner.trim().is_empty() => inner,
            _ => code,
        };
        self.out
            .push(code, self.style.patch(self.styles.inline_code));
        self.plain_from = end;
        end
    }

    /// Emphasis opened by the `*`/`_` run at `i`: a run of 2 opens bold, any
    /// other opens italic with one marker. Returns the next position.
    fn emphasis(&mut self, i: usize) -> usize {
        let marker = self.bytes[i];
        let len = run_len(self.bytes, i, marker);
        let after = self.src[i + len..].chars().next();
        let before = self.src[..i].chars().next_back();
        let intraword = marker == b'_' && before.is_some_and(char::is_alphanumeric);
        let width = if len == 2 { 2 } else { 1 };
        let kind = usize::from(marker == b'_') * 2 + width - 1;
        if intraword || after.is_none_or(char::is_whitespace) || self.emphasis_exhausted[kind] {
            return i + len;
        }
        let Some(closer_end) = self.emphasis_closer(i + len, marker, width) else {
            self.emphasis_exhausted[kind] = true;
            return i + len;
        };
        self.flush(i);
        let modifier = if width == 2 {
            Modifier::BOLD
        } else {
            Modifier::ITALIC
        };
        let inner = &self.src[i + width..closer_end - width];
        render_inline_at(
            inner,
            self.style.add_modifier(modifier),
            self.styles,
            self.out,
            self.depth + 1,
        );
        self.plain_from = closer_end;
        closer_end
    }

    /// End of the first run from `from` that can close emphasis of `width`:
    /// after a non-space, not before a letter for `_`, and 2+ long for bold
    /// or 1 or 3+ long for italic (its last `width` markers close).
    fn emphasis_closer(&self, from: usize, marker: u8, width: usize) -> Option<usize> {
        let can_close = |&(start, end): &(usize, usize)| {
            let next = self.src[end..].chars().next();
            let intraword = marker == b'_' && next.is_some_and(char::is_alphanumeric);
            let fits = if width == 2 {
                end - start >= 2
            } else {
                end - start != 2
            };
            fits && !intraword && !self.src[..start].ends_with(char::is_whitespace)
        };
        self.runs(from, marker).find(can_close).map(|(_, end)| end)
    }

    /// `[text](url)` at `i`: text underlined, then the url dimmed in parentheses.
    fn link(&mut self, i: usize) -> Option<usize> {
        if i < self.no_link_before {
            return None;
        }
        let close_bracket = find_byte(self.bytes, i + 1, b']');
        let close_paren = close_bracket
            .filter(|&at| self.bytes.get(at + 1) == Some(&b'('))
            .and_then(|at| find_byte(self.bytes, at + 2, b')'));
        let (Some(close_bracket), Some(close_paren)) = (close_bracket, close_paren) else {
            // Every `[` before that `]` would find the same one and fail too.
            self.no_link_before = match close_bracket {
                Some(at) if self.bytes.get(at + 1) != Some(&b'(') => at,
                _ => self.bytes.len(),
            };
            return None;
        };
        self.flush(i);
        let text_style = self
            .style
            .patch(self.styles.link)
            .add_modifier(Modifier::UNDERLINED);
        let text = &self.src[i + 1..close_bracket];
        render_inline_at(text, text_style, self.styles, self.out, self.depth + 1);
        let url = &self.src[close_bracket + 2..close_paren];
        if !url.is_empty() {
            self.out
                .push(&format!(" ({url})"), self.style.patch(self.styles.faint));
        }
        self.plain_from = close_paren + 1;
        Some(self.plain_from)
    }
}

fn find_byte(bytes: &[u8], from: usize, byte: u8) -> Option<usize> {
    let offset = bytes.get(from..)?.iter().position(|&b| b == byte)?;
    Some(from + offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::theme::{Palette, Theme};
    use proptest::prelude::*;
    use ratatui::style::Color;

    fn render(markdown: &str) -> Vec<Line<'static>> {
        super::render(markdown, &Theme::new(Palette::Basic16).markdown)
    }

    /// Lines as text, each styled span written `{Colour+modifiers:text}`.
    fn show(markdown: &str) -> String {
        show_with(markdown, &Theme::new(Palette::Basic16).markdown)
    }

    fn show_with(markdown: &str, styles: &MarkdownStyles) -> String {
        let lines = super::render(markdown, styles).into_iter().map(|line| {
            let spans = line.spans.into_iter().map(|span| {
                let mut tags: Vec<String> =
                    span.style.fg.iter().map(|c| format!("{c:?}")).collect();
                let modifiers = span.style.add_modifier.iter_names();
                tags.extend(modifiers.map(|(name, _)| name.to_lowercase()));
                match tags.is_empty() {
                    true => span.content.into_owned(),
                    false => format!("{{{}:{}}}", tags.join("+"), span.content),
                }
            });
            spans.collect::<String>()
        });
        lines.collect::<Vec<_>>().join("\n")
    }

    fn plain_text(markdown: &str) -> String {
        let lines = render(markdown);
        lines
            .iter()
            .flat_map(|l| l.spans.iter().map(|s| s.content.as_ref()))
            .collect()
    }

    #[test]
    fn empty_input_gives_no_lines_and_blank_lines_are_kept() {
        assert!(render("").is_empty());
        assert_eq!(render("\n").len(), 1);
        assert_eq!(show("a\n\nb\n"), "a\n\nb");
    }

    #[test]
    fn headings_drop_hashes_and_are_bold_and_coloured() {
        assert_eq!(show("# Title"), "{Cyan+bold:Title}");
        assert_eq!(
            show("## Sub *it* ##"),
            "{Magenta+bold:Sub }{Magenta+bold+italic:it}"
        );
        assert_eq!(show("   ### C#"), "{Blue+bold:C#}");
        assert_eq!(show("#hashtag\n####### seven"), "#hashtag\n####### seven");
    }

    #[test]
    fn nested_bullets_become_dots_keeping_indentation() {
        let shown = show("- one\n  * two\n    + three\n-not");
        assert_eq!(
            shown,
            "{Cyan:•} one\n  {Cyan:•} two\n    {Cyan:•} three\n-not"
        );
    }

    #[test]
    fn ordered_items_keep_their_numbers() {
        assert_eq!(
            show("12. twelve\n  3) three"),
            "{Cyan:12.} twelve\n  {Cyan:3)} three"
        );
        assert_eq!(show("2024.5 is a number"), "2024.5 is a number");
    }

    #[test]
    fn quotes_get_a_bar_and_dim_italic_text() {
        assert_eq!(show("> wise words"), "{DarkGray:│ }{dim+italic:wise words}");
        let nested = "{DarkGray:│ }{DarkGray:│ }{bold+dim+italic:deep}";
        assert_eq!(show(">> **deep**"), nested);
    }

    #[test]
    fn fenced_code_is_coloured_and_not_parsed_inline() {
        let shown = show("```rust\nlet x = *a* + b_c;\n```\n**b**");
        let expected =
            "{DarkGray:── rust ──}\n{Green:let x = *a* + b_c;}\n{DarkGray:────}\n{bold:b}";
        assert_eq!(shown, expected);
        let tilde = "{DarkGray:────}\n{Green:```}\n{Green:# no heading}\n{DarkGray:────}";
        assert_eq!(show("~~~\n```\n# no heading\n~~~~"), tilde);
    }

    #[test]
    fn unterminated_fence_keeps_the_rest_as_code() {
        let shown = show("text\n```py\ndef f():\n\treturn **x");
        assert_eq!(
            shown,
            "text\n{DarkGray:── py ──}\n{Green:def f():}\n{Green:    return **x}"
        );
    }

    #[test]
    fn rules_become_a_line_of_box_drawing() {
        let rule = format!("{{DarkGray:{}}}", "─".repeat(RULE_WIDTH));
        assert_eq!(show("---\n* * *\n--"), format!("{rule}\n{rule}\n--"));
    }

    #[test]
    fn bold_italic_and_code_inline() {
        let shown = show("a **b** _c_ `d*e*` __f__ *g*");
        assert_eq!(
            shown,
            "a {bold:b} {italic:c} {Yellow:d*e*} {bold:f} {italic:g}"
        );
        assert_eq!(show("***x***"), "{bold+italic:x}");
        assert_eq!(show("*a **b** c*"), "{italic:a }{bold+italic:b}{italic: c}");
        assert_eq!(show("``a ` b`` \\*not\\*"), "{Yellow:a ` b} *not*");
    }

    #[test]
    fn links_show_underlined_text_then_dim_url() {
        let shown = show("see [docs](https://x.io) now, [a] (b)");
        let expected = "see {Blue+underlined:docs}{DarkGray: (https://x.io)} now, [a] (b)";
        assert_eq!(shown, expected);
    }

    #[test]
    fn snake_case_underscores_are_literal() {
        let text = "call snake_case_words or x__y__z";
        assert_eq!(show(text), text);
    }

    #[test]
    fn unclosed_markers_are_literal() {
        for half in "**bo|*it|_x|`code|[text](http|[te|a * b * c|**a*".split('|') {
            assert_eq!(show(half), half);
        }
        assert_eq!(show("**bold** and **half"), "{bold:bold} and **half");
    }

    #[test]
    fn pathological_unclosed_markers_stay_linear() {
        let line = format!("`{}", " **a [b ](c _d *e [x".repeat(20_000));
        assert_eq!(plain_text(&line), line);
    }

    #[test]
    fn colours_come_from_the_theme() {
        let fg = |c: Color| Style::new().fg(c);
        let styles = MarkdownStyles {
            headings: [fg(Color::Red), fg(Color::LightRed), fg(Color::White)],
            code_block: fg(Color::LightMagenta),
            inline_code: fg(Color::LightBlue),
            link: fg(Color::LightCyan),
            list_marker: fg(Color::LightYellow),
            faint: fg(Color::Gray),
        };
        let text = "# A\n## B\n- `c` [d](e)\n```\nf\n```\n---";
        let rule = "─".repeat(RULE_WIDTH);
        assert_eq!(
            show_with(text, &styles),
            format!(
                "{{Red+bold:A}}\n{{LightRed+bold:B}}\n{{LightYellow:•}} {{LightBlue:c}} \
                 {{LightCyan+underlined:d}}{{Gray: (e)}}\n{{Gray:────}}\n{{LightMagenta:f}}\n{{Gray:────}}\n{{Gray:{rule}}}"
            )
        );
    }

    #[test]
    fn no_color_gives_no_colours() {
        let styles = Theme::new(Palette::Mono).markdown;
        let text = "# A\n### B\n- `c` [d](e)\n> q\n```rust\nf\n```\n---";
        for line in super::render(text, &styles) {
            for span in line.spans {
                assert_eq!((span.style.fg, span.style.bg), (None, None), "{span:?}");
            }
        }
        assert_eq!(show_with("# A", &styles), "{bold:A}");
    }

    proptest! {
        #[test]
        fn plain_paragraph_text_is_kept_verbatim(paragraph in "[a-zA-Z0-9 ,.;:!?'\"()/=%&@$^{}|<-]{0,80}") {
            prop_assume!(list_item(paragraph.trim_start()).is_none() && !is_rule(&paragraph));
            prop_assert_eq!(plain_text(&paragraph), paragraph);
        }

        #[test]
        fn letters_and_digits_survive_any_markup(markdown in "[a-c1 *_`#>\\[\\]()~\n-]{0,60}") {
            let keep = |s: &str| s.chars().filter(char::is_ascii_alphanumeric).collect::<String>();
            prop_assert_eq!(keep(&plain_text(&markdown)), keep(&markdown));
        }
    }

    #[test]
    fn fifty_thousand_quote_markers_or_nested_emphases_render_without_deep_recursion() {
        let quotes = ">".repeat(50_000) + " deep";
        let text = show(&quotes);
        assert!(text.contains("deep"), "{text}");
        assert_eq!(text.matches('│').count(), MAX_QUOTE_BARS);
        let nested = "*a ".repeat(20_000) + &" b*".repeat(20_000);
        let lines = render(&nested);
        assert_eq!(lines.len(), 1);
        assert!(plain_text(&nested).contains('b'));
    }
}
