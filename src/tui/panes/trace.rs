//! Trace pane: the tool calls of a chat grouped by turn, newest at the bottom and live.
//!
//! A chat can have 100,000+ traces, so the pane never loads them all: it keeps a window of at
//! most [`WINDOW_MAX`] rows in start order around the selection, extends it a page at a time
//! with keyset pagination (`traces_page` after the last row, `traces_page_before` before the
//! first) and drops rows that fall far outside it. `trace_count` gives the total for the title,
//! and per-turn usage (`turn_usage`) gives the cache bars and the footer.

use std::collections::{BTreeMap, HashSet};

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::{
    bar, fit, fit_right, fmt_ms, fmt_tokens, keep_visible, list_preamble, one_line, truncate,
    FollowedChat,
};
use crate::core::events::Event;
use crate::core::llm::types::Usage;
use crate::core::store::{cache_hit_rate, TraceCursor, TraceRow, TurnUsage};
use crate::tui::pane::{KeyOutcome, Pane, PaneContext, PaneSpec};
use crate::tui::panes::chat::items::key_argument;
use crate::tui::theme::Theme;

/// Rows fetched per page.
pub const PAGE: usize = 100;
/// Most rows kept in memory.
pub const WINDOW_MAX: usize = 400;
/// Lines of a tool's output shown when expanded.
const OUTPUT_LINES: usize = 40;

pub struct TracePane {
    chat: FollowedChat,
    window: Vec<TraceRow>,
    /// Index of `window[0]` among all the chat's traces.
    start: usize,
    total: usize,
    turns: BTreeMap<i64, TurnUsage>,
    /// Selected row, an index into `window`.
    selected: usize,
    scroll: usize,
    /// Follow new traces (the selection sits on the newest).
    follow: bool,
    expanded: HashSet<String>,
    error: Option<String>,
    viewport: usize,
}

enum Item {
    Turn(i64),
    Trace(usize),
    /// A line of an expanded call; true for the error line.
    Detail(String, bool),
}

impl TracePane {
    pub fn new(chat_id: Option<String>, ctx: &PaneContext<'_>) -> TracePane {
        let mut pane = TracePane {
            chat: FollowedChat::new(chat_id),
            window: Vec::new(),
            start: 0,
            total: 0,
            turns: BTreeMap::new(),
            selected: 0,
            scroll: 0,
            follow: true,
            expanded: HashSet::new(),
            error: None,
            viewport: 20,
        };
        pane.sync_chat(ctx);
        pane
    }

    /// Rebinds to the followed chat when it changed.
    fn sync_chat(&mut self, ctx: &PaneContext<'_>) {
        if self.chat.sync(ctx) {
            self.expanded.clear();
            self.load_tail(ctx);
            self.load_turns(ctx);
        }
    }

    fn note<T>(&mut self, r: anyhow::Result<T>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.error = Some(format!("{e:#}"));
                None
            }
        }
    }

    fn load_turns(&mut self, ctx: &PaneContext<'_>) {
        let Some(chat) = self.chat.id().map(str::to_string) else {
            self.turns.clear();
            return;
        };
        if let Some(turns) = self.note(ctx.engine.turn_usage(&chat)) {
            self.turns = turns.into_iter().map(|t| (t.turn_number, t)).collect();
        }
    }

    fn count(&mut self, ctx: &PaneContext<'_>) {
        if let Some(chat) = self.chat.id().map(str::to_string) {
            if let Some(n) = self.note(ctx.engine.trace_count(&chat)) {
                self.total = n.max(0) as usize;
            }
        }
    }

    /// The newest page, selection on the newest row.
    fn load_tail(&mut self, ctx: &PaneContext<'_>) {
        self.window.clear();
        self.total = 0;
        self.start = 0;
        self.selected = 0;
        self.scroll = 0;
        self.follow = true;
        let Some(chat) = self.chat.id().map(str::to_string) else {
            return;
        };
        self.count(ctx);
        if let Some(rows) = self.note(ctx.engine.traces_page_before(&chat, None, PAGE)) {
            self.window = rows;
        }
        self.start = self.total.saturating_sub(self.window.len());
        self.selected = self.window.len().saturating_sub(1);
        self.scroll = usize::MAX;
    }

    /// The oldest page, selection on the oldest row.
    fn load_head(&mut self, ctx: &PaneContext<'_>) {
        let Some(chat) = self.chat.id().map(str::to_string) else {
            return;
        };
        self.count(ctx);
        if let Some(rows) = self.note(ctx.engine.traces_page(&chat, None, PAGE)) {
            self.window = rows;
        }
        self.start = 0;
        self.selected = 0;
        self.scroll = 0;
        self.follow = self.window.len() >= self.total;
    }

    /// A new row of the chat was written: counted, and shown when the window is at its end.
    fn grow(&mut self, ctx: &PaneContext<'_>) -> bool {
        let was_tail = self.at_tail();
        self.total += 1;
        if was_tail {
            self.extend_after(ctx);
            if self.follow {
                self.selected = self.window.len().saturating_sub(1);
            }
        }
        true
    }

    fn at_tail(&self) -> bool {
        self.start + self.window.len() >= self.total
    }

    fn extend_before(&mut self, ctx: &PaneContext<'_>) -> usize {
        let (Some(chat), Some(first)) = (self.chat.id().map(str::to_string), self.window.first())
        else {
            return 0;
        };
        if self.start == 0 {
            return 0;
        }
        let cursor = cursor_of(first);
        let Some(mut rows) = self.note(ctx.engine.traces_page_before(&chat, Some(&cursor), PAGE))
        else {
            return 0;
        };
        let n = rows.len();
        rows.append(&mut self.window);
        self.window = rows;
        self.start = self.start.saturating_sub(n);
        self.selected += n;
        self.scroll = self.scroll.saturating_add(n);
        if self.window.len() > WINDOW_MAX {
            self.window.truncate(WINDOW_MAX);
        }
        n
    }

    fn extend_after(&mut self, ctx: &PaneContext<'_>) -> usize {
        let Some(chat) = self.chat.id().map(str::to_string) else {
            return 0;
        };
        let cursor = self.window.last().map(cursor_of);
        let Some(rows) = self.note(ctx.engine.traces_page(&chat, cursor.as_ref(), PAGE)) else {
            return 0;
        };
        let n = rows.len();
        self.window.extend(rows);
        if self.start + self.window.len() > self.total {
            self.total = self.start + self.window.len();
        }
        if self.window.len() > WINDOW_MAX {
            let cut = self.window.len() - WINDOW_MAX;
            self.window.drain(..cut);
            self.start += cut;
            self.selected = self.selected.saturating_sub(cut);
            self.scroll = 0;
        }
        n
    }

    /// Moves the selection by `delta` rows, fetching pages at the window's edges.
    fn move_by(&mut self, delta: isize, ctx: &PaneContext<'_>) {
        if self.window.is_empty() {
            return;
        }
        let margin = PAGE / 4;
        let mut target = self.selected as isize + delta;
        if target < margin as isize && self.start > 0 {
            let n = self.extend_before(ctx);
            target += n as isize;
        }
        if target + margin as isize >= self.window.len() as isize && !self.at_tail() {
            let before = self.start;
            self.extend_after(ctx);
            target -= (self.start - before) as isize;
        }
        let last = self.window.len().saturating_sub(1);
        self.selected = target.clamp(0, last as isize) as usize;
        self.follow = self.selected == last && self.at_tail();
    }

    fn items(&self) -> Vec<Item> {
        let mut out = Vec::new();
        let mut turn = None;
        for (i, row) in self.window.iter().enumerate() {
            if turn != Some(row.turn_number) {
                turn = Some(row.turn_number);
                out.push(Item::Turn(row.turn_number));
            }
            out.push(Item::Trace(i));
            if self.expanded.contains(&row.id) {
                out.extend(details(row));
            }
        }
        out
    }

    fn slowest_in_turn(&self, turn: i64) -> u64 {
        self.window
            .iter()
            .filter(|r| r.turn_number == turn)
            .filter_map(|r| r.latency_ms)
            .max()
            .unwrap_or(0)
            .max(1) as u64
    }

    /// The cumulative footer: one line when it fits (or `two_lines` is false), else two.
    fn footer(&self, t: &Theme, width: usize, two_lines: bool) -> Vec<Line<'static>> {
        let mut u = Usage::default();
        let mut calls = 0;
        for turn in self.turns.values() {
            u.prompt_tokens += turn.usage.prompt_tokens;
            u.completion_tokens += turn.usage.completion_tokens;
            u.reasoning_tokens += turn.usage.reasoning_tokens;
            u.cache_hit_tokens += turn.usage.cache_hit_tokens;
            u.cache_miss_tokens += turn.usage.cache_miss_tokens;
            calls += turn.model_calls;
        }
        let prompt = u.cache_hit_tokens + u.cache_miss_tokens;
        let (rate_text, rate_style) = match cache_hit_rate(&u) {
            Some(r) => (
                format!(
                    "Cache hit rate: {:.0}% ({}/{} tokens)",
                    r * 100.0,
                    fmt_tokens(u.cache_hit_tokens),
                    fmt_tokens(prompt)
                ),
                t.hit_rate(r),
            ),
            None => ("Cache hit rate: –".to_string(), t.dim),
        };
        let totals = format!(
            "{} tokens · {} reasoning · {} model call{}",
            fmt_tokens(u.prompt_tokens + u.completion_tokens),
            fmt_tokens(u.reasoning_tokens),
            calls,
            if calls == 1 { "" } else { "s" }
        );
        let rate_w = unicode_width::UnicodeWidthStr::width(rate_text.as_str());
        let totals_w = unicode_width::UnicodeWidthStr::width(totals.as_str());
        if rate_w + 3 + totals_w <= width || !two_lines {
            let rest = truncate(&format!(" · {totals}"), width.saturating_sub(rate_w));
            return vec![Line::from(vec![
                Span::styled(truncate(&rate_text, width), rate_style),
                Span::styled(rest, t.dim),
            ])];
        }
        vec![
            Line::styled(truncate(&rate_text, width), rate_style),
            Line::styled(truncate(&totals, width), t.dim),
        ]
    }

    fn turn_line(&self, turn: i64, t: &Theme, width: usize) -> Line<'static> {
        let calls = self.window.iter().filter(|r| r.turn_number == turn).count();
        let mut spans = vec![Span::styled(format!("Turn {turn}"), t.heading)];
        match self.turns.get(&turn) {
            Some(u) => {
                let calls = (u.tool_calls as usize).max(calls);
                spans.push(Span::styled(
                    format!(
                        " · {calls} call{} · {} tok",
                        if calls == 1 { "" } else { "s" },
                        fmt_tokens(u.usage.prompt_tokens + u.usage.completion_tokens)
                    ),
                    t.dim,
                ));
                if let Some(rate) = u.cache_hit_rate() {
                    let used: usize = spans.iter().map(|s| s.width()).sum();
                    let bar_w = if width >= used + 24 { 10 } else { 0 };
                    spans.push(Span::styled(" · cache ", t.dim));
                    if bar_w > 0 {
                        let (full, empty) = bar(rate, bar_w);
                        spans.push(Span::styled(full, t.hit_rate(rate)));
                        spans.push(Span::styled(empty, t.dim));
                        spans.push(Span::raw(" "));
                    }
                    spans.push(Span::styled(
                        format!("{:.0}%", rate * 100.0),
                        t.hit_rate(rate),
                    ));
                }
            }
            None => spans.push(Span::styled(
                format!(" · {calls} call{}", if calls == 1 { "" } else { "s" }),
                t.dim,
            )),
        }
        clip_line(spans, width)
    }

    fn trace_line(&self, i: usize, t: &Theme, width: usize, selected: bool) -> Line<'static> {
        let row = &self.window[i];
        let marker = if self.expanded.contains(&row.id) {
            "▾ "
        } else {
            "▸ "
        };
        let name_w = (width / 4).clamp(6, 18);
        let bar_w = if width >= 70 {
            12
        } else if width >= 50 {
            6
        } else {
            0
        };
        let show_tokens = width >= 44;
        let mut spans = vec![
            Span::styled(marker, t.dim),
            Span::styled(fit(&one_line(&row.tool_name), name_w), t.tool),
            Span::raw(" "),
        ];
        match row.latency_ms {
            Some(ms) => {
                let ms = ms.max(0) as u64;
                if bar_w > 0 {
                    let (full, empty) = bar(
                        ms as f64 / self.slowest_in_turn(row.turn_number) as f64,
                        bar_w,
                    );
                    spans.push(Span::styled(full, t.latency(ms)));
                    spans.push(Span::styled(empty, t.dim));
                    spans.push(Span::raw(" "));
                }
                spans.push(Span::styled(fit_right(&fmt_ms(ms), 6), t.latency(ms)));
            }
            None => {
                if bar_w > 0 {
                    spans.push(Span::raw(" ".repeat(bar_w + 1)));
                }
                spans.push(Span::styled(fit_right("…", 6), t.warning));
            }
        }
        if show_tokens {
            spans.push(Span::styled(
                format!(
                    " {} tok",
                    fit_right(&fmt_tokens(row.tokens_used.max(0) as u64), 5)
                ),
                t.dim,
            ));
        }
        let (outcome, style) = match row.outcome.as_deref() {
            Some("success") => ("✓ ok", t.success),
            Some("error") => ("✗ error", t.error),
            Some("denied") => ("⊘ denied", t.warning),
            Some("cancelled") => ("⊘ cancelled", t.warning),
            Some("interrupted") => ("⚠ interrupted", t.warning),
            Some(other) => (other, t.dim),
            None => ("running", t.warning),
        };
        spans.push(Span::raw(" "));
        spans.push(Span::styled(outcome.to_string(), style));
        // Which file or command: what tells one call of a tool from the next.
        let argument = one_line(&key_argument(&row.tool_input));
        if !argument.is_empty() {
            spans.push(Span::styled(format!("  {argument}"), t.dim));
        }
        let mut line = clip_line(spans, width);
        if selected {
            line = line.patch_style(t.selection);
        }
        line
    }
}

fn cursor_of(row: &TraceRow) -> TraceCursor {
    TraceCursor {
        started_at: row.started_at.clone(),
        id: row.id.clone(),
    }
}

fn details(row: &TraceRow) -> Vec<Item> {
    let plain = false;
    let mut out = vec![Item::Detail("    input:".into(), plain)];
    let input = serde_json::from_str::<serde_json::Value>(&row.tool_input)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| row.tool_input.clone());
    out.extend(
        input
            .lines()
            .map(|l| Item::Detail(format!("      {}", one_line(l)), plain)),
    );
    if let Some(output) = &row.tool_output {
        out.push(Item::Detail("    output:".into(), plain));
        let total = output.lines().count();
        out.extend(
            output
                .lines()
                .take(OUTPUT_LINES)
                .map(|l| Item::Detail(format!("      {}", one_line(l)), plain)),
        );
        if total > OUTPUT_LINES {
            out.push(Item::Detail(
                format!("      … {} more lines", total - OUTPUT_LINES),
                plain,
            ));
        }
    }
    if let Some(err) = &row.error {
        out.push(Item::Detail(format!("    error: {}", one_line(err)), true));
    }
    out
}

/// Cuts a line of spans to `width` columns.
fn clip_line(spans: Vec<Span<'static>>, width: usize) -> Line<'static> {
    let mut used = 0;
    let mut out = Vec::new();
    for s in spans {
        let w = s.width();
        if used + w <= width {
            used += w;
            out.push(s);
        } else {
            let rest = width.saturating_sub(used);
            if rest > 0 {
                out.push(Span::styled(truncate(&s.content, rest), s.style));
            }
            break;
        }
    }
    Line::from(out)
}

impl Pane for TracePane {
    fn spec(&self) -> PaneSpec {
        PaneSpec::Trace {
            chat_id: self.chat.bound().map(str::to_string),
        }
    }

    fn title(&self, _ctx: &PaneContext<'_>) -> String {
        if self.chat.id().is_none() {
            return "Trace · no chat focused".into();
        }
        let follow = if self.chat.bound().is_none() {
            " (follows focus)"
        } else {
            ""
        };
        format!(
            "Trace · {} · {} call{}{follow}",
            self.chat.label(),
            self.total,
            if self.total == 1 { "" } else { "s" }
        )
    }

    fn render(&mut self, frame: &mut Frame<'_>, area: Rect, ctx: &PaneContext<'_>, focused: bool) {
        self.sync_chat(ctx);
        if area.width == 0 || area.height == 0 {
            return;
        }
        let t = ctx.theme;
        let width = area.width as usize;
        let footer = self.footer(t, width, area.height >= 8);
        let footer_h = if area.height >= 3 {
            footer.len() as u16
        } else {
            0
        };
        let body_h = (area.height - footer_h) as usize;
        self.viewport = body_h.max(1);
        let mut lines: Vec<Line<'static>> = Vec::new();
        if list_preamble(
            &mut lines,
            t,
            width,
            self.error.as_deref(),
            self.chat.id().is_some(),
            self.window.is_empty(),
            "tool calls",
        ) {
            let items = self.items();
            let sel_item = items
                .iter()
                .position(|it| matches!(it, Item::Trace(i) if *i == self.selected))
                .unwrap_or(0);
            let room = body_h.saturating_sub(lines.len());
            // One line is kept for a sticky header naming the turn of the top row.
            let sticky_room = if room > 3 { room - 1 } else { room };
            if self.follow {
                self.scroll = items.len().saturating_sub(sticky_room);
            }
            // Show the turn header right above the selection when it fits.
            let anchor = if sel_item > 0 && matches!(items[sel_item - 1], Item::Turn(_)) {
                sel_item - 1
            } else {
                sel_item
            };
            keep_visible(&mut self.scroll, anchor, sticky_room);
            keep_visible(&mut self.scroll, sel_item, sticky_room);
            self.scroll = self
                .scroll
                .min(items.len().saturating_sub(sticky_room.max(1)));
            let top_turn = match items.get(self.scroll) {
                Some(Item::Turn(_)) | None => None,
                Some(_) => items[..self.scroll].iter().rev().find_map(|it| match it {
                    Item::Turn(turn) => Some(*turn),
                    _ => None,
                }),
            };
            let take = match top_turn {
                Some(turn) if sticky_room < room => {
                    lines.push(self.turn_line(turn, t, width));
                    sticky_room
                }
                _ => room,
            };
            for item in items.iter().skip(self.scroll).take(take) {
                lines.push(match item {
                    Item::Turn(turn) => self.turn_line(*turn, t, width),
                    Item::Trace(i) => self.trace_line(*i, t, width, focused && *i == self.selected),
                    Item::Detail(text, err) => {
                        Line::styled(truncate(text, width), if *err { t.error } else { t.dim })
                    }
                });
            }
        }
        let body = Rect::new(area.x, area.y, area.width, body_h as u16);
        frame.render_widget(Paragraph::new(lines), body);
        if footer_h > 0 {
            let rect = Rect::new(area.x, area.y + body_h as u16, area.width, footer_h);
            frame.render_widget(Paragraph::new(footer), rect);
        }
    }

    fn handle_key(&mut self, key: KeyEvent, ctx: &PaneContext<'_>) -> KeyOutcome {
        let page = self.viewport.max(2) as isize - 1;
        match key.code {
            KeyCode::Up | KeyCode::Char('k') => self.move_by(-1, ctx),
            KeyCode::Down | KeyCode::Char('j') => self.move_by(1, ctx),
            KeyCode::PageUp => self.move_by(-page, ctx),
            KeyCode::PageDown => self.move_by(page, ctx),
            KeyCode::Home | KeyCode::Char('g') => self.load_head(ctx),
            KeyCode::End | KeyCode::Char('G') => self.load_tail(ctx),
            KeyCode::Enter | KeyCode::Char(' ') => {
                if let Some(row) = self.window.get(self.selected) {
                    let id = row.id.clone();
                    if !self.expanded.remove(&id) {
                        self.expanded.insert(id);
                    }
                    self.follow = false;
                }
            }
            _ => return KeyOutcome::Ignored,
        }
        KeyOutcome::Consumed
    }

    fn on_event(&mut self, event: &Event, ctx: &PaneContext<'_>) -> bool {
        self.sync_chat(ctx);
        let Some(chat) = self.chat.id().map(str::to_string) else {
            return false;
        };
        self.chat.refresh(event, ctx);
        match event {
            Event::ToolStarted { chat_id, .. } if *chat_id == chat => self.grow(ctx),
            // A hook's row is written when it starts and shown once it ends, so the next
            // rows after the window's end include it.
            Event::HookFinished {
                chat_id: Some(chat_id),
                trace_id: Some(_),
                ..
            } if *chat_id == chat => self.grow(ctx),
            Event::ToolFinished {
                chat_id, trace_id, ..
            } if *chat_id == chat => {
                if let Some(pos) = self.window.iter().position(|r| r.id == *trace_id) {
                    if let Some(row) = self.note(ctx.engine.trace(trace_id)) {
                        self.window[pos] = row;
                    }
                    return true;
                }
                false
            }
            Event::TurnStarted { chat_id, .. }
            | Event::ModelCallFinished { chat_id, .. }
            | Event::TurnFinished { chat_id, .. }
                if *chat_id == chat =>
            {
                self.load_turns(ctx);
                true
            }
            _ => false,
        }
    }

    fn chat_id(&self) -> Option<&str> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::test_support::{ctx_for, render_pane, TestEngine};

    fn row(t: &TestEngine, n: usize, turn: i64, name: &str, ms: Option<i64>) -> TraceRow {
        TraceRow {
            id: format!("trace-{n:07}"),
            session_id: t.session.id.clone(),
            chat_id: t.chat.id.clone(),
            message_id: None,
            turn_number: turn,
            tool_call_id: Some(format!("call_{n}")),
            tool_name: name.into(),
            tool_input: r#"{"path":"src/lib.rs","limit":20}"#.into(),
            tool_output: Some("pub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}".into()),
            diff: None,
            started_at: format!(
                "2026-01-01T{:02}:{:02}:{:02}.{:03}Z",
                n / 3_600_000 % 24,
                n / 60_000 % 60,
                n / 1000 % 60,
                n % 1000
            ),
            finished_at: ms.map(|_| "2026-01-01T23:59:59.000Z".into()),
            latency_ms: ms,
            tokens_used: 1234,
            cache_tokens: 800,
            reasoning_tokens: 10,
            error: (name == "bash").then(|| "exit status 1".into()),
            outcome: ms.map(|_| if name == "bash" { "error" } else { "success" }.into()),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn title_follows_the_focused_chat_in_the_same_frame() {
        let t = TestEngine::new();
        t.engine
            .store()
            .insert_traces(&[row(&t, 1, 1, "grep", Some(5))])
            .unwrap();
        let other = t
            .engine
            .new_chat(&t.session, "main", Some("other-model"))
            .unwrap();
        let mut pane = TracePane::new(None, &ctx_for(&t, Some(&other.id)));
        let out = render_pane(&mut pane, &ctx_for(&t, Some(&other.id)), 70, 6);
        assert!(out.starts_with("▌Trace · chat "), "{out}");
        assert!(
            out.contains("other-model · 0 calls (follows focus)"),
            "{out}"
        );
        // Focus moves to the first chat: the title describes the rows drawn under it.
        let out = render_pane(&mut pane, &ctx_for(&t, Some(&t.chat.id)), 70, 6);
        let first_line = out.lines().next().unwrap_or_default();
        assert!(
            first_line.contains("Trace · Fix the parser · mock-model · 1 call (follows focus)"),
            "{out}"
        );
        assert!(out.contains("grep"), "{out}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn trace_pane_snapshots() {
        let t = TestEngine::new();
        let rows = vec![
            row(&t, 1, 1, "read_file", Some(420)),
            row(&t, 2, 1, "grep", Some(2_300)),
            row(&t, 3, 1, "bash", Some(7_800)),
            row(&t, 4, 2, "列出文件 🚀 with a very long tool name", Some(90)),
            row(&t, 5, 2, "write_file", None),
        ];
        t.engine.store().insert_traces(&rows).unwrap();
        t.model_call(1, 40_000, 20_000, 3_000);
        t.model_call(2, 5_000, 2_000, 500);
        let ctx = ctx_for(&t, None);
        let mut pane = TracePane::new(Some(t.chat.id.clone()), &ctx);
        let wide = render_pane(&mut pane, &ctx, 90, 14);
        let read = wide
            .lines()
            .find(|l| l.contains("read_file"))
            .unwrap_or_default();
        assert!(
            read.ends_with("✓ ok  src/lib.rs"),
            "each row names its file: {wide}"
        );
        insta::assert_snapshot!("trace_wide", wide);
        insta::assert_snapshot!("trace_narrow", render_pane(&mut pane, &ctx, 40, 12));
        pane.move_by(-4, &ctx);
        pane.handle_key(KeyEvent::from(KeyCode::Enter), &ctx);
        insta::assert_snapshot!("trace_expanded", render_pane(&mut pane, &ctx, 70, 20));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pages_through_many_traces_with_a_bounded_window() {
        let t = TestEngine::new();
        let n = 5_000;
        let rows: Vec<_> = (0..n)
            .map(|i| row(&t, i, 1 + (i / 50) as i64, "read_file", Some(10)))
            .collect();
        t.engine.store().insert_traces(&rows).unwrap();
        let ctx = ctx_for(&t, None);
        let mut pane = TracePane::new(Some(t.chat.id.clone()), &ctx);
        assert_eq!(pane.total, n);
        assert_eq!(pane.window.len(), PAGE);
        assert_eq!(pane.window.last().unwrap().id, rows[n - 1].id);
        // Walk up to the very first trace one page at a time.
        for _ in 0..(n / 10) {
            pane.move_by(-20, &ctx);
            assert!(pane.window.len() <= WINDOW_MAX);
        }
        assert_eq!(pane.start, 0);
        assert_eq!(pane.window[pane.selected].id, rows[0].id);
        // And back down.
        for _ in 0..(n / 10) {
            pane.move_by(20, &ctx);
            assert!(pane.window.len() <= WINDOW_MAX);
            let abs = pane.start + pane.selected;
            assert_eq!(pane.window[pane.selected].id, rows[abs].id);
        }
        assert_eq!(pane.window[pane.selected].id, rows[n - 1].id);
        assert!(pane.follow);
        pane.load_head(&ctx);
        assert_eq!(pane.window[0].id, rows[0].id);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hundred_thousand_traces_open_in_a_bounded_window() {
        let t = TestEngine::new();
        let n = 100_000;
        let rows: Vec<_> = (0..n)
            .map(|i| row(&t, i, 1 + (i / 1000) as i64, "grep", Some(5)))
            .collect();
        t.engine.store().insert_traces(&rows).unwrap();
        let ctx = ctx_for(&t, None);
        let mut pane = TracePane::new(Some(t.chat.id.clone()), &ctx);
        assert_eq!(pane.total, n);
        assert_eq!(pane.start, n - PAGE);
        let text = render_pane(&mut pane, &ctx, 80, 12);
        assert!(text.contains("100000 calls"), "{text}");
        assert!(text.contains("Turn 100"), "{text}");
        pane.handle_key(KeyEvent::from(KeyCode::Home), &ctx);
        assert_eq!(pane.window[0].id, rows[0].id);
        for _ in 0..50 {
            pane.handle_key(KeyEvent::from(KeyCode::PageDown), &ctx);
        }
        assert!(pane.window.len() <= WINDOW_MAX);
        assert_eq!(
            pane.window[pane.selected].id,
            rows[pane.start + pane.selected].id
        );
        pane.handle_key(KeyEvent::from(KeyCode::End), &ctx);
        assert_eq!(pane.window.last().unwrap().id, rows[n - 1].id);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn folds_live_tool_events() {
        let t = TestEngine::new();
        let ctx = ctx_for(&t, Some(&t.chat.id));
        let mut pane = TracePane::new(None, &ctx);
        assert_eq!(pane.chat.id(), Some(t.chat.id.as_str()));
        let r = row(&t, 1, 1, "read_file", None);
        t.engine
            .store()
            .insert_traces(std::slice::from_ref(&r))
            .unwrap();
        let started = Event::ToolStarted {
            chat_id: t.chat.id.clone(),
            trace_id: r.id.clone(),
            tool_call_id: "call_1".into(),
            tool_name: "read_file".into(),
            input: serde_json::json!({}),
        };
        assert!(pane.on_event(&started, &ctx));
        assert_eq!(pane.total, 1);
        assert_eq!(pane.window.len(), 1);
        assert_eq!(pane.window[0].outcome, None);
        t.engine
            .store()
            .finish_trace(
                &r.id,
                &crate::core::store::TraceCompletion {
                    output: "ok",
                    diff: None,
                    error: None,
                    outcome: "success",
                    latency_ms: 12,
                },
            )
            .unwrap();
        let finished = Event::ToolFinished {
            chat_id: t.chat.id.clone(),
            trace_id: r.id.clone(),
            tool_name: "read_file".into(),
            outcome: "success".into(),
            latency_ms: 12,
            output: "ok".into(),
            error: None,
            diff: None,
        };
        assert!(pane.on_event(&finished, &ctx));
        assert_eq!(pane.window[0].outcome.as_deref(), Some("success"));
        let other = Event::ToolStarted {
            chat_id: "someone-else".into(),
            trace_id: "x".into(),
            tool_call_id: "c".into(),
            tool_name: "n".into(),
            input: serde_json::json!({}),
        };
        assert!(!pane.on_event(&other, &ctx));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_finished_hook_shows_as_a_row_of_its_chat() {
        let t = TestEngine::new();
        let ctx = ctx_for(&t, Some(&t.chat.id));
        let mut pane = TracePane::new(None, &ctx);
        let hook = TraceRow::hook(&t.chat, 1, "PreToolUse", r#"{"command":"guard.sh"}"#.into());
        t.engine
            .store()
            .insert_traces(std::slice::from_ref(&hook))
            .unwrap();
        let finished = |chat_id: &str| Event::HookFinished {
            chat_id: Some(chat_id.into()),
            trace_id: Some(hook.id.clone()),
            event: "PreToolUse".into(),
            command: "guard.sh".into(),
            outcome: "blocked".into(),
            latency_ms: 3,
            message: Some("no".into()),
            system_message: None,
        };
        assert!(!pane.on_event(&finished("someone-else"), &ctx));
        assert!(pane.on_event(&finished(&t.chat.id), &ctx));
        assert_eq!(pane.total, 1);
        assert_eq!(pane.window[0].tool_name, "hook:PreToolUse");
    }
}
