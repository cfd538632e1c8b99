//! Markdown to styled, wrapped lines (pulldown-cmark), and the newline-gated stream collector
//! that keeps streamed replies from flickering: a line is shown only once it is complete, and
//! lines once shown never change while the reply streams.
//!
//! Rendering choices that keep streaming stable: a soft break is a line break (the model's own
//! newlines are kept, so a paragraph never re-flows when its next line arrives), list items are
//! always tight, and nothing is drawn at the end of a code block (an unclosed fence renders the
//! same as a closed one).

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::tui::highlight::{self, HighlightCache};
use crate::tui::theme::Theme;

/// Renders markdown to lines no wider than `width` display columns.
pub fn render(src: &str, width: usize, theme: &Theme) -> Vec<Line<'static>> {
    render_cached(src, width, theme, &mut HighlightCache::default())
}

/// [`render`], reusing code blocks highlighted by earlier renders.
fn render_cached(
    src: &str,
    width: usize,
    theme: &Theme,
    highlights: &mut HighlightCache,
) -> Vec<Line<'static>> {
    let mut r = Renderer::new(width.max(1), theme, highlights);
    let parser = Parser::new_ext(src, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH);
    for ev in parser {
        r.event(ev);
    }
    r.flush();
    r.out
}

struct ListState {
    next: Option<u64>,
}

struct Table {
    rows: Vec<Vec<Vec<Span<'static>>>>,
    header_rows: usize,
    cell: Vec<Span<'static>>,
    row: Vec<Vec<Span<'static>>>,
}

struct Renderer<'t> {
    theme: &'t Theme,
    highlights: &'t mut HighlightCache,
    width: usize,
    out: Vec<Line<'static>>,
    /// The logical line being built (before wrapping).
    spans: Vec<Span<'static>>,
    styles: Vec<Style>,
    lists: Vec<ListState>,
    /// Bullet of a list item not yet drawn, with the item's nesting depth.
    bullet: Option<String>,
    quote: usize,
    need_blank: bool,
    code: Option<(String, String)>,
    link: Option<String>,
    table: Option<Table>,
}

impl<'t> Renderer<'t> {
    fn new(width: usize, theme: &'t Theme, highlights: &'t mut HighlightCache) -> Self {
        Renderer {
            theme,
            highlights,
            width,
            out: Vec::new(),
            spans: Vec::new(),
            styles: vec![theme.text],
            lists: Vec::new(),
            bullet: None,
            quote: 0,
            need_blank: false,
            code: None,
            link: None,
            table: None,
        }
    }

    fn style(&self) -> Style {
        self.styles.last().copied().unwrap_or_default()
    }

    fn push_style(&mut self, patch: Style) {
        let s = self.style().patch(patch);
        self.styles.push(s);
    }

    fn pop_style(&mut self) {
        if self.styles.len() > 1 {
            self.styles.pop();
        }
    }

    fn text(&mut self, t: &str, style: Style) {
        if let Some(table) = self.table.as_mut() {
            table.cell.push(Span::styled(t.to_string(), style));
        } else {
            self.spans.push(Span::styled(t.to_string(), style));
        }
    }

    /// Indentation for lines inside lists and quotes: (first line, continuation lines).
    fn prefixes(&mut self) -> (Vec<Span<'static>>, Vec<Span<'static>>) {
        let mut first = Vec::new();
        let mut cont = Vec::new();
        for _ in 0..self.quote {
            first.push(Span::styled("│ ", self.theme.dim));
            cont.push(Span::styled("│ ", self.theme.dim));
        }
        let depth = self.lists.len();
        if depth > 0 {
            let indent = "  ".repeat(depth - 1);
            match self.bullet.take() {
                Some(b) => {
                    let w = b.width();
                    first.push(Span::raw(format!("{indent}{b}")));
                    cont.push(Span::raw(format!("{indent}{}", " ".repeat(w))));
                }
                None => {
                    // Continuation paragraphs of an item line up with its text.
                    let pad = format!("{indent}  ");
                    first.push(Span::raw(pad.clone()));
                    cont.push(Span::raw(pad));
                }
            }
        }
        (first, cont)
    }

    fn blank_if_needed(&mut self) {
        if self.need_blank && !self.out.is_empty() {
            self.out.push(Line::default());
        }
        self.need_blank = false;
    }

    /// Ends the logical line: wraps it to the width with the current prefixes.
    fn flush(&mut self) {
        if self.spans.is_empty() && self.bullet.is_none() {
            return;
        }
        self.blank_if_needed();
        let spans = std::mem::take(&mut self.spans);
        let (first, cont) = self.prefixes();
        self.out
            .extend(wrap_spans(&spans, self.width, &first, &cont));
    }

    fn block_end(&mut self) {
        self.flush();
        if self.lists.is_empty() {
            self.need_blank = true;
        }
    }

    fn event(&mut self, ev: Event<'_>) {
        match ev {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(t) => {
                if let Some((_, buf)) = self.code.as_mut() {
                    buf.push_str(&t);
                } else {
                    let s = self.style();
                    self.text(&t, s);
                }
            }
            Event::Code(t) => {
                let s = self.style().patch(self.theme.code);
                self.text(&t, s);
            }
            Event::SoftBreak | Event::HardBreak => {
                if self.table.is_none() {
                    self.flush();
                }
            }
            Event::Rule => {
                self.flush();
                self.blank_if_needed();
                let w = self.width.min(40);
                self.out
                    .push(Line::from(Span::styled("─".repeat(w), self.theme.dim)));
                self.need_blank = self.lists.is_empty();
            }
            Event::Html(t) | Event::InlineHtml(t) => {
                let s = self.style();
                for (i, l) in t.lines().enumerate() {
                    if i > 0 {
                        self.flush();
                    }
                    self.text(l, s);
                }
            }
            Event::TaskListMarker(done) => {
                let s = self.style();
                self.text(if done { "[x] " } else { "[ ] " }, s);
            }
            Event::FootnoteReference(t) => {
                let s = self.style();
                self.text(&format!("[{t}]"), s);
            }
            Event::InlineMath(t) | Event::DisplayMath(t) => {
                let s = self.style().patch(self.theme.code);
                self.text(&t, s);
            }
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph => {}
            Tag::Heading { level, .. } => {
                self.flush();
                let n = match level {
                    HeadingLevel::H1 => 1,
                    HeadingLevel::H2 => 2,
                    HeadingLevel::H3 => 3,
                    HeadingLevel::H4 => 4,
                    HeadingLevel::H5 => 5,
                    HeadingLevel::H6 => 6,
                };
                self.push_style(self.theme.heading.add_modifier(Modifier::BOLD));
                let s = self.style();
                self.text(&format!("{} ", "#".repeat(n)), s);
            }
            Tag::BlockQuote(_) => {
                self.flush();
                self.quote += 1;
                self.push_style(self.theme.dim.remove_modifier(Modifier::DIM));
            }
            Tag::CodeBlock(kind) => {
                self.flush();
                let lang = match kind {
                    CodeBlockKind::Fenced(l) => l.to_string(),
                    CodeBlockKind::Indented => String::new(),
                };
                self.code = Some((lang, String::new()));
            }
            Tag::List(start) => {
                self.flush();
                if self.lists.is_empty() {
                    self.blank_if_needed();
                }
                self.lists.push(ListState { next: start });
            }
            Tag::Item => {
                self.flush();
                let bullet = match self.lists.last_mut() {
                    Some(ListState { next: Some(n) }) => {
                        let b = format!("{n}. ");
                        *n += 1;
                        b
                    }
                    _ => "• ".to_string(),
                };
                self.bullet = Some(bullet);
            }
            Tag::Emphasis => self.push_style(Style::default().add_modifier(Modifier::ITALIC)),
            Tag::Strong => self.push_style(Style::default().add_modifier(Modifier::BOLD)),
            Tag::Strikethrough => {
                self.push_style(Style::default().add_modifier(Modifier::CROSSED_OUT))
            }
            Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. } => {
                self.link = Some(dest_url.to_string());
                self.push_style(self.theme.link);
            }
            Tag::Table(_) => {
                self.flush();
                self.blank_if_needed();
                self.table = Some(Table {
                    rows: Vec::new(),
                    header_rows: 0,
                    cell: Vec::new(),
                    row: Vec::new(),
                });
            }
            Tag::TableHead | Tag::TableRow | Tag::TableCell => {}
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph => self.block_end(),
            TagEnd::Heading(_) => {
                self.pop_style();
                self.block_end();
            }
            TagEnd::BlockQuote(_) => {
                self.flush();
                self.quote = self.quote.saturating_sub(1);
                self.pop_style();
                self.need_blank = self.lists.is_empty();
            }
            TagEnd::CodeBlock => {
                if let Some((lang, code)) = self.code.take() {
                    self.blank_if_needed();
                    let (first, _) = self.prefixes();
                    for line in
                        highlight::highlight_cached(&code, &lang, self.theme, self.highlights)
                    {
                        let mut spans = first.clone();
                        spans.extend(line.spans);
                        // Code is not word-wrapped; over-long lines break at the edge.
                        self.out.extend(wrap_spans(&spans, self.width, &[], &[]));
                    }
                }
                self.need_blank = self.lists.is_empty();
            }
            TagEnd::List(_) => {
                self.flush();
                self.lists.pop();
                if self.lists.is_empty() {
                    self.need_blank = true;
                }
            }
            TagEnd::Item => self.flush(),
            TagEnd::Emphasis | TagEnd::Strong | TagEnd::Strikethrough => self.pop_style(),
            TagEnd::Link | TagEnd::Image => {
                self.pop_style();
                if let Some(url) = self.link.take() {
                    let shown: String = self.spans.iter().map(|s| s.content.as_ref()).collect();
                    if !url.is_empty() && !shown.ends_with(url.as_str()) {
                        let s = self.theme.dim;
                        self.text(&format!(" ({url})"), s);
                    }
                }
            }
            TagEnd::TableCell => {
                if let Some(t) = self.table.as_mut() {
                    let cell = std::mem::take(&mut t.cell);
                    t.row.push(cell);
                }
            }
            TagEnd::TableHead => {
                if let Some(t) = self.table.as_mut() {
                    let row = std::mem::take(&mut t.row);
                    t.rows.push(row);
                    t.header_rows = t.rows.len();
                }
            }
            TagEnd::TableRow => {
                if let Some(t) = self.table.as_mut() {
                    let row = std::mem::take(&mut t.row);
                    t.rows.push(row);
                }
            }
            TagEnd::Table => {
                if let Some(t) = self.table.take() {
                    self.render_table(t);
                }
                self.need_blank = self.lists.is_empty();
            }
            _ => {}
        }
    }

    fn render_table(&mut self, t: Table) {
        let cols = t.rows.iter().map(Vec::len).max().unwrap_or(0);
        if cols == 0 {
            return;
        }
        let cell_w = |c: &Vec<Span<'static>>| c.iter().map(|s| s.content.width()).sum::<usize>();
        let mut widths = vec![1usize; cols];
        for row in &t.rows {
            for (i, c) in row.iter().enumerate() {
                widths[i] = widths[i].max(cell_w(c));
            }
        }
        // Shrink the widest columns until the table fits: "│ a │ b │" costs 3 per column + 1.
        let budget = self.width.saturating_sub(3 * cols + 1).max(cols);
        while widths.iter().sum::<usize>() > budget {
            let Some((i, _)) = widths.iter().enumerate().max_by_key(|(_, w)| **w) else {
                break;
            };
            if widths[i] <= 1 {
                break;
            }
            widths[i] -= 1;
        }
        let border = self.theme.dim;
        let rule = |l: &str, m: &str, r: &str| -> Line<'static> {
            let parts: Vec<String> = widths.iter().map(|w| "─".repeat(w + 2)).collect();
            Line::from(Span::styled(format!("{l}{}{r}", parts.join(m)), border))
        };
        self.out.push(rule("┌", "┬", "┐"));
        for (ri, row) in t.rows.iter().enumerate() {
            let wrapped: Vec<Vec<Line<'static>>> = (0..cols)
                .map(|i| {
                    let mut cell = row.get(i).cloned().unwrap_or_default();
                    if ri < t.header_rows {
                        cell = cell
                            .into_iter()
                            .map(|s| {
                                let st = s.style.add_modifier(Modifier::BOLD);
                                s.style(st)
                            })
                            .collect();
                    }
                    wrap_spans(&cell, widths[i], &[], &[])
                })
                .collect();
            let height = wrapped.iter().map(Vec::len).max().unwrap_or(1).max(1);
            for li in 0..height {
                let mut spans = vec![Span::styled("│ ", border)];
                for (ci, cell) in wrapped.iter().enumerate() {
                    let line = cell.get(li).cloned().unwrap_or_default();
                    let w = line.width();
                    spans.extend(line.spans);
                    spans.push(Span::raw(" ".repeat(widths[ci].saturating_sub(w))));
                    spans.push(Span::styled(
                        if ci + 1 == cols { " │" } else { " │ " },
                        border,
                    ));
                }
                self.out.push(Line::from(spans));
            }
            if ri + 1 == t.header_rows && t.rows.len() > t.header_rows {
                self.out.push(rule("├", "┼", "┤"));
            }
        }
        self.out.push(rule("└", "┴", "┘"));
    }
}

/// A piece of text that wraps as a unit: a word, a run of spaces, or one wide (CJK) character.
struct Token {
    text: String,
    style: Style,
    width: usize,
    space: bool,
}

fn is_wide_breakable(c: char) -> bool {
    // CJK text has no spaces: every wide character is a break opportunity.
    c.width().unwrap_or(0) >= 2 && !is_emoji_like(c)
}

fn is_emoji_like(c: char) -> bool {
    (c as u32) >= 0x1F000
}

fn tokenize(spans: &[Span<'static>]) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::new();
    for span in spans {
        let mut cur = String::new();
        let mut cur_space = false;
        let push = |out: &mut Vec<Token>, s: &mut String, space: bool| {
            if !s.is_empty() {
                let text = std::mem::take(s);
                out.push(Token {
                    width: text.width(),
                    text,
                    style: span.style,
                    space,
                });
            }
        };
        for c in span.content.chars() {
            let c = if c == '\t' { ' ' } else { c };
            let space = c == ' ';
            if c.is_control() {
                continue;
            }
            if is_wide_breakable(c) {
                push(&mut out, &mut cur, cur_space);
                cur.push(c);
                push(&mut out, &mut cur, false);
                continue;
            }
            if !cur.is_empty() && space != cur_space {
                push(&mut out, &mut cur, cur_space);
            }
            cur_space = space;
            cur.push(c);
        }
        push(&mut out, &mut cur, cur_space);
    }
    out
}

/// Splits `text` into pieces of at most `width` columns, keeping zero-width characters (joiners,
/// variation selectors) with the character before them.
fn hard_split(text: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut cur_w = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if w > 0 && cur_w + w > width && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
            cur_w = 0;
        }
        cur.push(c);
        cur_w += w;
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Greedy word wrap by display width. `first` prefixes the first line, `cont` the others.
pub fn wrap_spans(
    spans: &[Span<'static>],
    width: usize,
    first: &[Span<'static>],
    cont: &[Span<'static>],
) -> Vec<Line<'static>> {
    let width = width.max(1);
    let mut lines: Vec<Line<'static>> = Vec::new();
    let mut cur: Vec<Span<'static>> = first.to_vec();
    let prefix_w = |p: &[Span<'static>]| p.iter().map(|s| s.content.width()).sum::<usize>();
    let mut used = prefix_w(first);
    let mut avail_full = width.saturating_sub(used).max(1);
    let mut line_has_text = false;
    let new_line = |lines: &mut Vec<Line<'static>>,
                    cur: &mut Vec<Span<'static>>,
                    used: &mut usize,
                    avail_full: &mut usize,
                    has: &mut bool| {
        // Trailing spaces at a wrap point carry nothing.
        while cur.last().is_some_and(|s| s.content.trim().is_empty()) && *has {
            cur.pop();
        }
        lines.push(Line::from(std::mem::take(cur)));
        *cur = cont.to_vec();
        *used = prefix_w(cont);
        *avail_full = width.saturating_sub(*used).max(1);
        *has = false;
    };
    for tok in tokenize(spans) {
        if tok.width <= width.saturating_sub(used) || (tok.width == 0) {
            if tok.space && !line_has_text && !lines.is_empty() {
                // No leading spaces on wrapped lines.
                continue;
            }
            used += tok.width;
            line_has_text |= !tok.space;
            push_span(&mut cur, tok.text, tok.style);
            continue;
        }
        if tok.space {
            new_line(
                &mut lines,
                &mut cur,
                &mut used,
                &mut avail_full,
                &mut line_has_text,
            );
            continue;
        }
        if tok.width <= avail_full || !line_has_text && tok.width <= width.saturating_sub(used) {
            new_line(
                &mut lines,
                &mut cur,
                &mut used,
                &mut avail_full,
                &mut line_has_text,
            );
            used += tok.width;
            line_has_text = true;
            push_span(&mut cur, tok.text, tok.style);
            continue;
        }
        // Longer than a whole line: break it at the edge.
        let mut rest = tok.text.as_str().to_string();
        while !rest.is_empty() {
            let mut room = width.saturating_sub(used);
            if room == 0 {
                if line_has_text {
                    new_line(
                        &mut lines,
                        &mut cur,
                        &mut used,
                        &mut avail_full,
                        &mut line_has_text,
                    );
                    continue;
                }
                // The prefix alone fills the line: overflow by one column rather than loop.
                room = 1;
            }
            let pieces = hard_split(&rest, room);
            let Some(head) = pieces.first().cloned() else {
                break;
            };
            let hw = head.width();
            if hw > room && line_has_text {
                new_line(
                    &mut lines,
                    &mut cur,
                    &mut used,
                    &mut avail_full,
                    &mut line_has_text,
                );
                continue;
            }
            rest = rest[head.len()..].to_string();
            used += hw;
            line_has_text = true;
            push_span(&mut cur, head, tok.style);
            if !rest.is_empty() {
                new_line(
                    &mut lines,
                    &mut cur,
                    &mut used,
                    &mut avail_full,
                    &mut line_has_text,
                );
            }
        }
    }
    if !cur.is_empty() || lines.is_empty() {
        lines.push(Line::from(cur));
    }
    lines
}

fn push_span(cur: &mut Vec<Span<'static>>, text: String, style: Style) {
    if let Some(last) = cur.last_mut() {
        if last.style == style {
            last.content.to_mut().push_str(&text);
            return;
        }
    }
    cur.push(Span::styled(text, style));
}

/// Plain text wrapped to `width` with one style (messages, tool output).
pub fn wrap_plain(text: &str, style: Style, width: usize) -> Vec<Line<'static>> {
    text.split('\n')
        .flat_map(|l| wrap_spans(&[Span::styled(l.to_string(), style)], width, &[], &[]))
        .collect()
}

/// The start of the last line in `src[from..end]` that begins a new top-level block after a
/// blank line: outside code fences, not indented, not a list item (a list may go on after a
/// blank line). `None` when there is none.
fn block_boundary(src: &str, from: usize, end: usize) -> Option<usize> {
    let mut in_fence: Option<char> = None;
    let mut prev_blank = false;
    let mut found = None;
    let mut pos = from;
    for line in src[from..end].split_inclusive('\n') {
        let start = pos;
        pos += line.len();
        let trimmed = line.trim_start_matches(' ');
        let fence = ['`', '~'].into_iter().find(|&c| {
            line.len() - trimmed.len() < 4 && trimmed.starts_with(&c.to_string().repeat(3))
        });
        if let Some(open) = in_fence {
            if fence == Some(open) {
                in_fence = None;
            }
            prev_blank = false;
            continue;
        }
        let blank = line.trim().is_empty();
        let indented = line.starts_with(' ') || line.starts_with('\t');
        if prev_blank && !blank && !indented && !is_list_item(line) && start > from {
            found = Some(start);
        }
        if fence.is_some() {
            in_fence = fence;
        }
        prev_blank = blank;
    }
    found
}

fn is_list_item(line: &str) -> bool {
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    let rest = &line[digits..];
    if digits > 0 {
        return rest.starts_with(". ") || rest.starts_with(") ");
    }
    ["- ", "* ", "+ "].iter().any(|m| line.starts_with(m))
}

/// Accumulates a streamed reply and commits rendered lines only for complete source lines.
#[derive(Debug, Clone, Default)]
pub struct MarkdownStream {
    buffer: String,
    committed: Vec<Line<'static>>,
    /// Bytes of `buffer` the committed lines were rendered from.
    committed_src: usize,
    width: usize,
    /// Source before this byte is a run of finished top-level blocks that renders on its own
    /// to the first `frozen_lines` committed lines; only the text after it is re-rendered as
    /// lines arrive, so a long reply costs the same per line as a short one.
    frozen_src: usize,
    frozen_lines: usize,
    /// The code blocks of the re-rendered tail, so an open block is not re-highlighted whole
    /// for every line it gains.
    highlights: HighlightCache,
}

impl MarkdownStream {
    pub fn new() -> Self {
        MarkdownStream::default()
    }

    pub fn buffer(&self) -> &str {
        &self.buffer
    }

    /// Appends a delta; true when new lines were committed.
    pub fn push(&mut self, delta: &str, width: usize, theme: &Theme) -> bool {
        self.buffer.push_str(delta);
        if !delta.contains('\n') {
            return false;
        }
        self.commit(width, theme)
    }

    /// The source prefix that may be shown: up to the last newline, but never the rows of a
    /// table still arriving (a new row can widen every column above it).
    fn committable(&self) -> usize {
        let Some(nl) = self.buffer.rfind('\n') else {
            return 0;
        };
        let mut end = nl + 1;
        loop {
            let body = &self.buffer[..end];
            let trimmed = body.strip_suffix('\n').unwrap_or(body);
            let start = trimmed.rfind('\n').map(|i| i + 1).unwrap_or(0);
            let last = trimmed[start..].trim_start();
            if end > 0 && last.starts_with('|') {
                end = start;
                if end == 0 {
                    return 0;
                }
            } else {
                return end;
            }
        }
    }

    fn commit(&mut self, width: usize, theme: &Theme) -> bool {
        if width != self.width {
            // A new width re-renders what was shown (a resize reflows; streaming never does).
            self.width = width;
            self.frozen_src = 0;
            self.frozen_lines = 0;
            self.committed = render_cached(
                &self.buffer[..self.committed_src],
                width,
                theme,
                &mut self.highlights,
            );
            self.advance_freeze(self.committed_src, width, theme);
        }
        let end = self.committable();
        if end <= self.committed_src {
            return false;
        }
        self.committed_src = end;
        let tail = render_cached(
            &self.buffer[self.frozen_src..end],
            width,
            theme,
            &mut self.highlights,
        );
        let before = self.committed.len();
        let shown = before - self.frozen_lines;
        if tail.len() > shown {
            self.committed.extend(tail.into_iter().skip(shown));
        }
        self.advance_freeze(end, width, theme);
        self.committed.len() > before
    }

    /// Moves the freeze point to the last top-level block boundary before `end`, when the
    /// text before and after it render exactly as the whole does.
    fn advance_freeze(&mut self, end: usize, width: usize, theme: &Theme) {
        let Some(boundary) = block_boundary(&self.buffer, self.frozen_src, end) else {
            return;
        };
        let head = render_cached(
            &self.buffer[self.frozen_src..boundary],
            width,
            theme,
            &mut self.highlights,
        );
        let rest = render_cached(
            &self.buffer[boundary..end],
            width,
            theme,
            &mut self.highlights,
        );
        let shown = &self.committed[self.frozen_lines..];
        // Blocks rendered together are separated by one blank line that neither half has.
        for gap in [1, 0] {
            let split = head.len() + gap;
            if split + rest.len() == shown.len()
                && shown[..head.len()] == head[..]
                && shown[head.len()..split].iter().all(|l| l.width() == 0)
                && shown[split..] == rest[..]
            {
                self.frozen_lines += split;
                self.frozen_src = boundary;
                return;
            }
        }
    }

    /// What arrived after the committed lines — the line still being written, and table rows
    /// held back — as wrapped plain text, until it is complete and gets its markdown render.
    /// A new paragraph keeps the blank line its render will have, so nothing jumps then.
    pub fn open_lines(&self, width: usize, theme: &Theme) -> Vec<Line<'static>> {
        let open = self.buffer[self.committed_src..].trim_end_matches('\n');
        if open.trim().is_empty() {
            return Vec::new();
        }
        let mut lines = Vec::new();
        if self.committed_src > 0 && self.buffer[..self.committed_src].ends_with("\n\n") {
            lines.push(Line::default());
        }
        lines.extend(wrap_plain(open, theme.text, width));
        lines
    }

    /// The committed lines at `width`.
    pub fn lines(&mut self, width: usize, theme: &Theme) -> &[Line<'static>] {
        if width != self.width {
            self.commit(width, theme);
        }
        &self.committed
    }

    /// Ends the stream with the reply's whole text and hands over its final lines: what had
    /// not been shown (a last line without its newline, a table still arriving) is rendered
    /// now, and only the text after the freeze point is rendered again, not the whole reply.
    /// The stream is left empty.
    pub fn finish(&mut self, full: &str, width: usize, theme: &Theme) -> Vec<Line<'static>> {
        let mut highlights = std::mem::take(&mut self.highlights);
        let lines = if width == self.width && full.starts_with(self.buffer.as_str()) {
            let mut lines = std::mem::take(&mut self.committed);
            lines.truncate(self.frozen_lines);
            lines.extend(render_cached(
                &full[self.frozen_src..],
                width,
                theme,
                &mut highlights,
            ));
            lines
        } else {
            render_cached(full, width, theme, &mut highlights)
        };
        self.clear();
        lines
    }

    /// Drops everything (a retry discarded the partial reply).
    pub fn clear(&mut self) {
        *self = MarkdownStream::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::theme::ColorSupport;

    fn text(lines: &[Line<'_>]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    fn theme() -> Theme {
        Theme::new(ColorSupport::None)
    }

    #[test]
    fn stream_commits_only_complete_lines() {
        let t = theme();
        let mut s = MarkdownStream::new();
        assert!(!s.push("Hello wor", 40, &t));
        assert!(s.lines(40, &t).is_empty());
        assert!(s.push("ld\nsecond li", 40, &t));
        assert_eq!(text(s.lines(40, &t)), vec!["Hello world"]);
        assert!(s.push("ne\n", 40, &t));
        assert_eq!(text(s.lines(40, &t)), vec!["Hello world", "second line"]);
    }

    #[test]
    fn incremental_rendering_matches_a_full_render() {
        let t = theme();
        let block = "## Part\n\nSome *text* that wraps across the narrow width of this pane.\n\n- one\n- two\n\n  more of two\n\n```rust\nfn a() {\n\n    b();\n}\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n> quote\n\n1. first\n\n2. second\n\n";
        let src = block.repeat(12);
        let mut s = MarkdownStream::new();
        for piece in src.as_bytes().chunks(7) {
            s.push(std::str::from_utf8(piece).unwrap(), 28, &t);
        }
        assert_eq!(text(s.lines(28, &t)), text(&render(&src, 28, &t)));
        assert!(
            s.frozen_src > src.len() / 2,
            "the freeze point should follow the stream: {} of {}",
            s.frozen_src,
            src.len()
        );
        // A resize reflows everything and keeps matching.
        assert_eq!(text(s.lines(50, &t)), text(&render(&src, 50, &t)));
    }

    #[test]
    fn finishing_renders_the_rest_exactly_as_a_full_render() {
        let t = theme();
        let block = "## Part\n\nSome *text* here.\n\n```rust\nfn a() {}\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n";
        // Ends in a table still arriving and a last line without its newline.
        let src = format!("{}| 3 | 4 |\n\nLast words", block.repeat(6));
        let mut s = MarkdownStream::new();
        for piece in src.as_bytes().chunks(5) {
            s.push(std::str::from_utf8(piece).unwrap(), 30, &t);
        }
        assert!(s.frozen_src > 0);
        assert_eq!(text(&s.finish(&src, 30, &t)), text(&render(&src, 30, &t)));
        assert!(s.buffer().is_empty());
        // The finished text may hold more than was streamed, or differ (a retried request).
        let mut s = MarkdownStream::new();
        s.push("Hello\nwor", 30, &t);
        assert_eq!(
            text(&s.finish("Hello\nworld\n\n- item", 30, &t)),
            vec!["Hello", "world", "", "• item"]
        );
        s.push("Other\n", 30, &t);
        assert_eq!(text(&s.finish("Else\n", 30, &t)), vec!["Else"]);
    }

    #[test]
    fn committed_lines_never_change() {
        let t = theme();
        let mut s = MarkdownStream::new();
        let src = "# Title\n\nSome *text* here\n- one\n- two\n  - nested\n\n```rust\nfn a() {}\n```\nend\n";
        let mut seen: Vec<String> = Vec::new();
        for ch in src.chars() {
            s.push(&ch.to_string(), 30, &t);
            let now = text(s.lines(30, &t));
            assert!(now.starts_with(&seen), "{seen:?} -> {now:?}");
            seen = now;
        }
        assert_eq!(seen, text(&render(src, 30, &t)));
    }

    #[test]
    fn table_rows_wait_for_the_table_to_end() {
        let t = theme();
        let mut s = MarkdownStream::new();
        s.push("Intro\n| a | b |\n|---|---|\n| 1 | 2 |\n", 40, &t);
        assert_eq!(text(s.lines(40, &t)), vec!["Intro"]);
        s.push("\nafter\n", 40, &t);
        let lines = text(s.lines(40, &t));
        assert!(lines.iter().any(|l| l.contains("│ 1 │ 2 │")), "{lines:?}");
    }

    #[test]
    fn wraps_by_display_width() {
        let lines = wrap_plain("日本語のテキストです", Style::default(), 7);
        for l in &lines {
            assert!(l.width() <= 7);
        }
        assert_eq!(text(&lines).concat(), "日本語のテキストです");
        let lines = wrap_plain(&"x".repeat(25), Style::default(), 10);
        assert_eq!(text(&lines), vec!["xxxxxxxxxx", "xxxxxxxxxx", "xxxxx"]);
        let lines = wrap_plain("hello big world", Style::default(), 9);
        assert_eq!(text(&lines), vec!["hello big", "world"]);
    }

    #[test]
    fn prefixes_wider_than_the_width_terminate() {
        let lines = render("1. a long item\n   - nested item here\n", 1, &theme());
        assert!(!lines.is_empty());
    }

    #[test]
    fn links_keep_their_url() {
        let lines = render("see [docs](https://x.dev)", 60, &theme());
        assert_eq!(text(&lines), vec!["see docs (https://x.dev)"]);
    }
}
