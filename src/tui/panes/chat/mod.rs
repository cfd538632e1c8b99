//! The chat pane: a transcript (streaming markdown, reasoning, tool lines, diffs, pending
//! changes, confirmations, errors) over an input composer with history, pastes and slash
//! commands.
//!
//! Long chats: the pane loads the last page of messages at open and older pages as the view
//! scrolls up to them; the scroll position is an anchor (item, line within item), so only items
//! that are drawn or scrolled over are ever laid out, and each item caches its lines per width.
//!
//! Keys (composer focus): Enter sends; Alt-Enter, Shift-Enter or Ctrl-J insert a newline;
//! Up/Down move between lines, then through prompt history; Ctrl-A/Ctrl-E line start/end;
//! Ctrl-W deletes a word, Ctrl-U the draft; Backspace on an empty draft removes the last
//! attached image (saying so); Esc cancels the running turn (idle: drops a pending `/compare`);
//! Tab completes a slash command, else moves focus to the transcript. Plain typing always
//! writes: decisions take Ctrl chords (see `decision`): Ctrl-Y yes, Ctrl-N no, Ctrl-R resume,
//! acting on the decision shown on the highlighted line above the composer.
//! Transcript focus (Tab; the composer says so): j/k or Up/Down select tool calls, reasoning,
//! changes, confirmations; Enter/Space/e expands or collapses; `v` starts copy mode; Esc, Tab
//! or `i` go back to the composer, and so does typing. Anywhere: PgUp/PgDn, Home/End and the
//! mouse wheel scroll; End follows the tail again; Alt-V starts copy mode. Copy mode: j/k
//! extend, `v` restarts, `y`/Enter copy (`AppAction::Copy`, sent as OSC 52 by the workspace),
//! Esc leaves.
//!
//! `/clear` clears the view only: the chat and what the model sees stay as they are (older
//! messages are not paged back in); `/new` starts a fresh context. `/approval` only explains:
//! approval is a project setting and `Command::SendMessage` carries none, so a per-chat override
//! needs a core change. `/workflow NAME [ARGS]` starts a run (JSON args go as data, plain text as
//! a string) and shows it in the orchestrator pane; its result comes back to this chat.

mod agent;
#[cfg(test)]
mod agent_tests;
pub mod composer;
mod copy;
pub mod decision;
mod events;
mod input;
pub mod items;
pub mod slash;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Clear;
use ratatui::Frame;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::core::context::window::ContextUse;
use crate::core::context::{self, skills::SkillCatalog};
use crate::core::engine::Engine;
use crate::core::events::{retry_notice, Command, Event};
use crate::core::hooks;
use crate::core::llm::images;
use crate::core::store::StoredMessage;
use crate::tui::markdown::MarkdownStream;
use crate::tui::pane::{AppAction, KeyOutcome, Pane, PaneContext, PaneSpec};
use crate::tui::theme::Theme;

use composer::Composer;
use items::{
    file_name, line_text, summary_item, truncate, ChangeState, Item, Kind, ToolItem, ToolState,
};
use slash::Slash;

/// Messages loaded per page.
const PAGE: i64 = 300;
/// Composer rows shown at most.
const COMPOSER_ROWS: usize = 6;
const WHEEL_LINES: usize = 3;

/// A line of the transcript: (item index, line within the item).
type Pos = (usize, usize);

#[derive(Debug, Clone, PartialEq, Eq)]
struct Search {
    query: String,
    typing: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Focus {
    Composer,
    Transcript,
}

#[derive(Debug, Clone, PartialEq)]
enum Status {
    Idle,
    Streaming,
    RunningTool(String),
    Interrupted,
}

/// An image to send with the next message.
#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    pub path: PathBuf,
    pub name: String,
    pub bytes: u64,
    pub width: usize,
    pub height: usize,
}

pub struct ChatPane {
    chat_id: String,
    /// A handle for loading older pages while scrolling (an `Arc` inside).
    engine: Engine,
    /// The theme of the last draw; item caches are built with it.
    theme: Theme,
    title: String,
    model: String,
    status: Status,
    tokens: u64,
    /// The last model request's prompt against the window; unknown until a model call.
    context: Option<ContextUse>,
    turn: i64,
    items: Vec<Item>,
    /// Lowest `seq` loaded; pages below it load on demand.
    first_seq: i64,
    /// When the message at `first_seq` was written: the end of the next older page's traces.
    first_created_at: Option<String>,
    /// Lowest `seq` the view may show (`/clear` raises it).
    floor_seq: i64,
    tools_by_call: HashMap<String, usize>,
    tools_by_trace: HashMap<String, usize>,
    /// Top line of the view; `None` follows the tail.
    top: Option<Pos>,
    view_h: usize,
    width: usize,
    composer: Composer,
    focus: Focus,
    selected: Option<usize>,
    /// Copy mode: (anchor, cursor).
    copy: Option<(Pos, Pos)>,
    /// Search (`Ctrl-b /`): the query, and whether it is still being typed. A match is shown
    /// as a one-line copy selection, so `y` copies it.
    search: Option<Search>,
    attachments: Vec<Attachment>,
    compare: Option<Vec<String>>,
    popup: usize,
    missing_key: Option<String>,
    tick: u64,
    /// The text this pane sent and already shows; its `UserMessage` event is not shown again.
    echoed: Option<String>,
    /// The external agent the chat is bound to, if any.
    agent: Option<agent::AgentLine>,
}

/// Items for a stretch of stored transcript, its tool calls joined with how they ended. The
/// traces of the stretch started between its first message and `until` (the next message
/// already shown; `None` for the newest stretch).
fn transcript_items(
    engine: &Engine,
    chat_id: &str,
    messages: &[StoredMessage],
    until: Option<&str>,
) -> Vec<Item> {
    let outcomes = match messages.first() {
        Some(first) => engine
            .tool_outcomes(chat_id, &first.created_at, until)
            .unwrap_or_else(|e| {
                // The transcript still shows; its calls only lack latency and diffs.
                tracing::warn!("tool outcomes of chat {chat_id}: {e:#}");
                Vec::new()
            }),
        None => Vec::new(),
    };
    items::items_from_messages(messages, &outcomes)
}

impl ChatPane {
    pub fn new(chat_id: &str, ctx: &PaneContext) -> anyhow::Result<ChatPane> {
        let engine = ctx.engine;
        let chat = engine.chat(chat_id)?;
        let count = engine.message_count(chat_id)?;
        let first_seq = (count - PAGE + 1).max(1);
        let messages = engine.transcript_range(chat_id, first_seq, PAGE)?;
        let tokens = engine
            .turn_usage(chat_id)?
            .iter()
            .map(|t| t.usage.prompt_tokens + t.usage.completion_tokens)
            .sum();
        let turn = messages.last().map(|m| m.turn_number).unwrap_or(0);
        let history = engine.recent_prompts(200)?;
        let mut pane = ChatPane {
            chat_id: chat_id.to_string(),
            engine: engine.clone(),
            theme: ctx.theme.clone(),
            title: chat.title.clone(),
            model: chat.model.clone(),
            status: Status::Idle,
            tokens,
            context: None,
            turn,
            items: transcript_items(engine, chat_id, &messages, None),
            first_created_at: messages.first().map(|m| m.created_at.clone()),
            first_seq,
            floor_seq: 1,
            tools_by_call: HashMap::new(),
            tools_by_trace: HashMap::new(),
            top: None,
            view_h: 0,
            width: 0,
            composer: Composer::new(history),
            focus: Focus::Composer,
            selected: None,
            copy: None,
            search: None,
            attachments: Vec::new(),
            compare: None,
            popup: 0,
            missing_key: engine.rt.config.missing_key_error(),
            tick: ctx.tick,
            echoed: None,
            agent: agent::load(engine, chat_id),
        };
        pane.reindex();
        for c in engine.pending_changes(Some(chat_id))? {
            pane.push(Kind::pending_change(
                c.id,
                c.content.display_path,
                c.content.diff,
            ));
        }
        pane.link_changes();
        pane.mark_decided_changes();
        if engine.rt.is_turn_running(chat_id) {
            pane.status = Status::Streaming;
            if messages
                .last()
                .is_some_and(|m| m.role == "assistant" && m.status == "streaming")
            {
                pane.reopen_stream();
            }
        } else if engine.snapshot(chat_id)?.is_some_and(|s| s.state != "idle") {
            pane.status = Status::Interrupted;
            pane.push(Kind::Interrupted { resumed: false });
        }
        if let Some(msg) = pane.missing_key.clone() {
            pane.push(Kind::Error(msg));
        }
        Ok(pane)
    }

    /// Scrolls so that the first item of `turn` is at the top (loading older pages as needed).
    pub fn jump_to_turn(&mut self, turn: i64) {
        loop {
            if let Some(i) = self.items.iter().position(|it| it.turn >= turn) {
                if i > 0
                    || self.items.first().is_some_and(|it| it.turn == turn)
                    || !self.can_load_older()
                {
                    self.top = Some((i, 0));
                    self.copy = None;
                    return;
                }
            }
            if self.load_older().is_none() {
                return;
            }
        }
    }

    /// Starts copy mode at the last visible line (`Ctrl-b [`, or Alt-V in the pane).
    pub fn enter_copy_mode(&mut self) {
        let top = self.top_pos();
        let bottom = self.pos_down(top, self.view_h.saturating_sub(1));
        self.copy = Some((bottom, bottom));
    }

    /// The images queued for the next message.
    pub fn attachments(&self) -> &[Attachment] {
        &self.attachments
    }

    pub fn composer_text(&self) -> &str {
        self.composer.text()
    }

    fn reindex(&mut self) {
        self.tools_by_call.clear();
        self.tools_by_trace.clear();
        for (i, it) in self.items.iter().enumerate() {
            if let Kind::Tool(t) = &it.kind {
                if let Some(id) = &t.tool_call_id {
                    self.tools_by_call.insert(id.clone(), i);
                }
                if let Some(id) = &t.trace_id {
                    self.tools_by_trace.insert(id.clone(), i);
                }
            }
        }
    }

    fn push(&mut self, kind: Kind) -> usize {
        let mut item = Item::new(kind, self.turn);
        if self.items.is_empty() {
            item.gap = false;
        }
        self.items.push(item);
        self.items.len() - 1
    }

    fn can_load_older(&self) -> bool {
        self.first_seq > self.floor_seq
    }

    /// Prepends the previous page; returns how many items were added.
    fn load_older(&mut self) -> Option<usize> {
        if !self.can_load_older() {
            return None;
        }
        let from = (self.first_seq - PAGE).max(self.floor_seq);
        let messages =
            match self
                .engine
                .transcript_range(&self.chat_id, from, self.first_seq - from)
            {
                Ok(m) => m,
                Err(e) => {
                    // Do not retry on every scroll step: show the reason once and stop paging.
                    self.floor_seq = self.first_seq;
                    self.push(Kind::Error(format!("loading older messages failed: {e:#}")));
                    return None;
                }
            };
        self.first_seq = from;
        let mut older = transcript_items(
            &self.engine,
            &self.chat_id,
            &messages,
            self.first_created_at.as_deref(),
        );
        if let Some(first) = messages.first() {
            self.first_created_at = Some(first.created_at.clone());
        }
        let k = older.len();
        if let Some(first) = older.first_mut() {
            first.gap = false;
        }
        if let Some(first) = self.items.first_mut() {
            first.gap = true;
            first.invalidate();
        }
        older.append(&mut self.items);
        self.items = older;
        self.shift(k);
        self.reindex();
        Some(k)
    }

    fn shift(&mut self, k: usize) {
        if let Some(t) = self.top.as_mut() {
            t.0 += k;
        }
        if let Some(s) = self.selected.as_mut() {
            *s += k;
        }
        if let Some((a, c)) = self.copy.as_mut() {
            a.0 += k;
            c.0 += k;
        }
    }

    fn height(&mut self, i: usize) -> usize {
        let (w, tick) = (self.width.max(1), self.tick);
        let theme = &self.theme;
        self.items
            .get_mut(i)
            .map(|it| it.height(w, theme, tick))
            .unwrap_or(0)
    }

    /// The top line when following the tail.
    fn bottom_top(&mut self) -> Pos {
        let mut total = 0;
        for i in (0..self.items.len()).rev() {
            let h = self.height(i);
            if total + h >= self.view_h {
                return (i, total + h - self.view_h);
            }
            total += h;
        }
        (0, 0)
    }

    fn top_pos(&mut self) -> Pos {
        match self.top {
            Some(p) => p,
            None => self.bottom_top(),
        }
    }

    /// `n` lines above `pos`, loading older pages when the top is reached.
    fn pos_up(&mut self, pos: Pos, n: usize) -> Pos {
        let (mut i, mut l) = pos;
        let mut n = n;
        while n > 0 {
            if l > 0 {
                let d = l.min(n);
                l -= d;
                n -= d;
                continue;
            }
            if i == 0 {
                match self.load_older() {
                    Some(k) if k > 0 => {
                        i += k;
                        continue;
                    }
                    _ => break,
                }
            }
            i -= 1;
            let h = self.height(i);
            if h == 0 {
                continue;
            }
            l = h - 1;
            n -= 1;
        }
        (i, l)
    }

    fn pos_down(&mut self, pos: Pos, n: usize) -> Pos {
        let (mut i, mut l) = pos;
        let mut n = n;
        while n > 0 {
            let h = self.height(i);
            if l + 1 < h {
                let d = (h - 1 - l).min(n);
                l += d;
                n -= d;
                continue;
            }
            if i + 1 >= self.items.len() {
                break;
            }
            i += 1;
            l = 0;
            if self.height(i) > 0 {
                n -= 1;
            }
        }
        (i, l)
    }

    fn scroll_up(&mut self, n: usize) {
        let top = self.top_pos();
        self.top = Some(self.pos_up(top, n));
    }

    fn scroll_down(&mut self, n: usize) {
        if self.top.is_none() {
            return;
        }
        let top = self.top_pos();
        let next = self.pos_down(top, n);
        let bottom = self.bottom_top();
        // Reaching the tail resumes following it.
        self.top = if next >= bottom { None } else { Some(next) };
    }

    fn scroll_home(&mut self) {
        while self.load_older().is_some() {}
        self.top = Some((0, 0));
    }

    /// Scrolls the least needed to show line `pos`.
    fn reveal(&mut self, pos: Pos) {
        let top = self.top_pos();
        if pos < top {
            self.top = Some(pos);
            return;
        }
        let bottom = self.pos_down(top, self.view_h.saturating_sub(1));
        if pos > bottom {
            let new_top = self.pos_up(pos, self.view_h.saturating_sub(1));
            let tail = self.bottom_top();
            self.top = if new_top >= tail { None } else { Some(new_top) };
        }
    }

    fn reveal_item(&mut self, i: usize) {
        let h = self.height(i).max(1);
        // Show the item's last line, then its first: long items show their head.
        self.reveal((i, h - 1));
        self.reveal((i, 0));
    }

    // ----- drawing ------------------------------------------------------------------------

    fn status_text(&self) -> String {
        match &self.status {
            Status::Idle => "idle".into(),
            Status::Streaming => "streaming".into(),
            Status::RunningTool(name) => format!("running {name}"),
            Status::Interrupted => "interrupted".into(),
        }
    }

    /// Composer rows (hard-wrapped by display width) and the cursor's (row, column).
    fn composer_rows(&self, width: usize) -> (Vec<String>, (usize, usize)) {
        let width = width.max(1);
        let text = self.composer.text();
        let cursor = self.composer.cursor();
        let mut rows = vec![String::new()];
        let mut col = 0;
        let mut at = (0, 0);
        for (b, c) in text.char_indices() {
            if b == cursor {
                at = (rows.len() - 1, col);
            }
            if c == '\n' {
                rows.push(String::new());
                col = 0;
                continue;
            }
            let w = c.width().unwrap_or(0);
            if col + w > width {
                rows.push(String::new());
                col = 0;
                if b == cursor {
                    at = (rows.len() - 1, 0);
                }
            }
            if let Some(r) = rows.last_mut() {
                r.push(c);
            }
            col += w;
        }
        if cursor >= text.len() {
            at = (rows.len() - 1, col);
        }
        (rows, at)
    }

    fn hint(&self) -> &'static str {
        if self.search.as_ref().is_some_and(|s| s.typing) {
            "search: type · Enter find older · Esc cancel"
        } else if self.search.is_some() {
            "n older · N newer · / new search · y copy line · Esc exit"
        } else if self.copy.is_some() {
            "copy: j/k extend · v restart · y copy · Esc exit"
        } else if self.focus == Focus::Transcript {
            "j/k select · Enter expand · v copy · Esc back"
        } else if self.is_running() {
            "Esc cancel · Alt-Enter newline"
        } else {
            "Enter send · Alt-Enter newline · Tab select · / commands"
        }
    }
}

impl Pane for ChatPane {
    fn spec(&self) -> PaneSpec {
        PaneSpec::Chat {
            chat_id: self.chat_id.clone(),
        }
    }

    fn title(&self, _ctx: &PaneContext<'_>) -> String {
        let title = if self.title.is_empty() {
            "chat"
        } else {
            self.title.as_str()
        };
        let backend = match &self.agent {
            Some(a) => a.text(),
            None => self.model.clone(),
        };
        let mut s = if title == backend {
            format!("{title} · {}", self.status_text())
        } else {
            format!("{title} · {backend} · {}", self.status_text())
        };
        if self.tokens > 0 {
            s.push_str(&format!(" · {} tok", fmt_tokens(self.tokens)));
        }
        if let Some(context) = self.context {
            s.push_str(&format!(" · {context}"));
        }
        s
    }

    fn render(&mut self, frame: &mut Frame<'_>, area: Rect, ctx: &PaneContext<'_>, focused: bool) {
        self.tick = ctx.tick;
        self.theme = ctx.theme.clone();
        let theme = ctx.theme;
        if area.width == 0 || area.height == 0 {
            return;
        }
        let width = area.width as usize;
        let prompt_w = 2;
        let (rows, cursor) = self.composer_rows(width.saturating_sub(prompt_w));
        let shown_rows = rows.len().clamp(1, COMPOSER_ROWS);
        let chips = !self.attachments.is_empty() || self.compare.is_some();
        let decision = self.decision_line(width, theme);
        let bottom_h = (shown_rows + 1 + usize::from(chips) + usize::from(decision.is_some()))
            .min(area.height as usize);
        // Rows left for the decision line and the chips once the composer and its separator
        // have theirs; the decision line goes first.
        let mut extra_rows = bottom_h.saturating_sub(shown_rows + 1);
        let view_h = (area.height as usize).saturating_sub(bottom_h);
        if width != self.width {
            self.width = width;
        }
        self.view_h = view_h;

        // Transcript.
        let top = self.top_pos();
        let sel_range = self.copy.map(|(a, c)| if a <= c { (a, c) } else { (c, a) });
        let (mut i, mut l) = top;
        let buf = frame.buffer_mut();
        let mut y = 0;
        while y < view_h && i < self.items.len() {
            let selected = self.selected == Some(i) && self.focus == Focus::Transcript;
            let lines = self.items[i].lines(width, theme, ctx.tick);
            if l >= lines.len() {
                i += 1;
                l = 0;
                continue;
            }
            let line = &lines[l];
            let row = area.y + y as u16;
            buf.set_line(area.x, row, line, area.width);
            let in_copy = sel_range.is_some_and(|(s, e)| (i, l) >= s && (i, l) <= e);
            let gap_line = l == 0 && self.items[i].gap;
            if in_copy || (selected && !gap_line) {
                buf.set_style(Rect::new(area.x, row, area.width, 1), theme.selection);
            }
            y += 1;
            l += 1;
        }

        let mut yb = area.y + view_h as u16;
        if let Some(line) = decision.filter(|_| extra_rows > 0) {
            buf.set_line(area.x, yb, &line, area.width);
            yb += 1;
            extra_rows -= 1;
        }

        // Attachment chips and compare target.
        if chips && extra_rows > 0 {
            let mut spans = Vec::new();
            for a in &self.attachments {
                spans.push(Span::styled(
                    format!(
                        "[{} · {} · {}x{}]",
                        a.name,
                        fmt_bytes(a.bytes),
                        a.width,
                        a.height
                    ),
                    theme.accent,
                ));
                spans.push(Span::raw(" "));
            }
            if let Some(models) = &self.compare {
                spans.push(Span::styled(
                    format!("[compare: {}]", models.join(", ")),
                    theme.warning,
                ));
                spans.push(Span::styled(" Esc drops it ", theme.dim));
            }
            if !self.attachments.is_empty() {
                spans.push(Span::styled("Backspace removes", theme.dim));
            }
            buf.set_line(area.x, yb, &Line::from(spans), area.width);
            yb += 1;
        }

        // Separator with hints, and a note when the view is not at the tail (on this line, so
        // it never covers the transcript).
        if yb < area.y + area.height {
            let below = if self.top.is_some() {
                "─ ↓ more below · End follows "
            } else {
                ""
            };
            let below = truncate(below, width.saturating_sub(4));
            // A chat on an external agent says which, with its model and mode.
            let hint = match &self.agent {
                Some(a) => format!("{} · {}", a.text(), self.hint()),
                None => self.hint().to_string(),
            };
            let hint = truncate(&hint, width.saturating_sub(4 + below.width()));
            let fill = width.saturating_sub(below.width() + hint.width() + 3);
            let line = Line::from(vec![
                Span::styled(below, theme.accent),
                Span::styled("─".repeat(fill), theme.border),
                Span::styled(format!(" {hint} "), theme.dim),
                Span::styled("─", theme.border),
            ]);
            buf.set_line(area.x, yb, &line, area.width);
            yb += 1;
        }

        // Composer.
        let first_row = cursor.0.saturating_sub(shown_rows - 1);
        for (k, text) in rows.iter().skip(first_row).take(shown_rows).enumerate() {
            let row = yb + k as u16;
            if row >= area.y + area.height {
                break;
            }
            let prefix = if first_row + k == 0 { "› " } else { "  " };
            // While keys select in the transcript, the prompt is dimmed.
            let prompt_style = if self.focus == Focus::Transcript {
                theme.dim
            } else {
                theme.user
            };
            let line = Line::from(vec![
                Span::styled(prefix, prompt_style),
                Span::styled(text.clone(), theme.text),
            ]);
            buf.set_line(area.x, row, &line, area.width);
        }
        if let Some(search) = &self.search {
            buf.set_string(area.x, yb, " ".repeat(width), theme.status_bar);
            let line = Line::from(vec![
                Span::styled("search: ", theme.accent),
                Span::styled(search.query.clone(), theme.text),
            ]);
            buf.set_line(area.x, yb, &line, area.width);
        } else if self.composer.is_empty() {
            let placeholder = if self.focus == Focus::Transcript {
                "selecting above — type or Esc to write here"
            } else if self.missing_key.is_some() {
                "no API key — see above"
            } else if self.status == Status::Interrupted {
                "Ctrl-R resumes, or type a message"
            } else {
                "ask anything · /help"
            };
            buf.set_string(
                area.x + 2,
                yb,
                truncate(placeholder, width.saturating_sub(2)),
                theme.dim,
            );
        }
        let cursor_row = yb as usize + cursor.0 - first_row;
        if focused
            && self.focus == Focus::Composer
            && self.copy.is_none()
            && cursor_row < (area.y + area.height) as usize
        {
            frame.set_cursor_position((
                area.x + (prompt_w + cursor.1).min(width - 1) as u16,
                cursor_row as u16,
            ));
        }

        // Slash completion popup, over the bottom of the transcript.
        let popup = self.popup_items();
        if !popup.is_empty() && view_h > 0 {
            let h = popup.len().min(view_h);
            let w = width.min(60);
            let top_row = area.y + (view_h - h) as u16;
            let rect = Rect::new(area.x, top_row, w as u16, h as u16);
            frame.render_widget(Clear, rect);
            let buf = frame.buffer_mut();
            for (k, (name, args, desc)) in popup.iter().take(h).enumerate() {
                let sel = k == self.popup.min(popup.len() - 1);
                let text = truncate(&format!(" /{name} {args}"), 26);
                let line = Line::from(vec![
                    Span::styled(format!("{text:<27}"), theme.accent),
                    Span::styled(truncate(desc, w.saturating_sub(27)), theme.dim),
                ]);
                let row = top_row + k as u16;
                buf.set_style(Rect::new(area.x, row, w as u16, 1), theme.status_bar);
                buf.set_line(area.x, row, &line, w as u16);
                if sel {
                    buf.set_style(Rect::new(area.x, row, w as u16, 1), theme.selection);
                }
            }
        }
    }

    fn handle_key(&mut self, key: KeyEvent, _ctx: &PaneContext<'_>) -> KeyOutcome {
        if let Some(outcome) = self.decision_key(&key) {
            self.search = None;
            self.copy = None;
            return outcome;
        }
        if self.search.is_some() {
            return self.search_key(key);
        }
        if self.copy.is_some() {
            return self.copy_key(key);
        }
        let page = self.view_h.max(2) - 1;
        match key.code {
            KeyCode::PageUp => {
                self.scroll_up(page);
                return KeyOutcome::Consumed;
            }
            KeyCode::PageDown => {
                self.scroll_down(page);
                return KeyOutcome::Consumed;
            }
            KeyCode::Home if key.modifiers.is_empty() => {
                self.scroll_home();
                return KeyOutcome::Consumed;
            }
            KeyCode::End if key.modifiers.is_empty() => {
                self.top = None;
                return KeyOutcome::Consumed;
            }
            KeyCode::Char('v') if key.modifiers == KeyModifiers::ALT => {
                self.enter_copy_mode();
                return KeyOutcome::Consumed;
            }
            _ => {}
        }
        match self.focus {
            Focus::Transcript => self.transcript_key(key),
            Focus::Composer => self.composer_key(key),
        }
    }

    fn handle_paste(&mut self, text: &str, _ctx: &PaneContext<'_>) -> KeyOutcome {
        self.focus = Focus::Composer;
        self.selected = None;
        self.composer.paste(text);
        KeyOutcome::Consumed
    }

    fn handle_mouse(
        &mut self,
        mouse: MouseEvent,
        _area: Rect,
        _ctx: &PaneContext<'_>,
    ) -> KeyOutcome {
        match mouse.kind {
            MouseEventKind::ScrollUp => self.scroll_up(WHEEL_LINES),
            MouseEventKind::ScrollDown => self.scroll_down(WHEEL_LINES),
            _ => return KeyOutcome::Ignored,
        }
        KeyOutcome::Consumed
    }

    fn on_event(&mut self, event: &Event, ctx: &PaneContext<'_>) -> bool {
        self.tick = ctx.tick;
        let mine = match event {
            Event::TurnStarted { chat_id, .. }
            | Event::UserMessage { chat_id, .. }
            | Event::ModelCallStarted { chat_id, .. }
            | Event::TextDelta { chat_id, .. }
            | Event::ReasoningDelta { chat_id, .. }
            | Event::Retrying { chat_id, .. }
            | Event::ModelCallFinished { chat_id, .. }
            | Event::MessageFinished { chat_id, .. }
            | Event::ToolStarted { chat_id, .. }
            | Event::ToolFinished { chat_id, .. }
            | Event::ChangePending { chat_id, .. }
            | Event::CommandConfirmationRequested { chat_id, .. }
            | Event::ProjectApprovalRequested { chat_id, .. }
            | Event::ModelList { chat_id, .. }
            | Event::ContextLoaded { chat_id, .. }
            | Event::ContextCompacted { chat_id, .. }
            | Event::TurnFinished { chat_id, .. }
            | Event::WorkflowReported { chat_id, .. }
            | Event::PermissionRequested { chat_id, .. }
            | Event::PermissionAnswered { chat_id, .. }
            | Event::AgentPlan { chat_id, .. }
            | Event::AgentSession { chat_id, .. }
            | Event::AgentCommands { chat_id, .. }
            | Event::ReplyRewritten { chat_id, .. } => *chat_id == self.chat_id,
            Event::HookFinished { chat_id, .. } => chat_id.as_deref() == Some(&self.chat_id),
            // Carries no chat id: it is ours if we show the change.
            Event::ChangeResolved { .. } => true,
            _ => false,
        };
        mine && self.fold(event)
    }

    fn enter_scroll_mode(&mut self) -> bool {
        self.enter_copy_mode();
        true
    }

    fn start_search(&mut self) -> bool {
        self.search = Some(Search {
            query: String::new(),
            typing: true,
        });
        true
    }

    fn mode_label(&self) -> Option<&'static str> {
        if self.search.is_some() {
            Some("SEARCH")
        } else {
            self.copy.is_some().then_some("COPY")
        }
    }

    fn scroll_to_turn(&mut self, turn: i64) -> bool {
        self.jump_to_turn(turn);
        true
    }

    fn is_animating(&self) -> bool {
        // A running tool's spinner, or a streaming reply (its status line moves).
        self.is_running() || self.items.iter().rev().take(16).any(Item::animates)
    }

    fn chat_id(&self) -> Option<&str> {
        Some(&self.chat_id)
    }
}

fn fmt_tokens(n: u64) -> String {
    if n >= 10_000 {
        format!("{:.1}k", n as f64 / 1000.0)
    } else {
        n.to_string()
    }
}

fn fmt_bytes(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MB", n as f64 / (1u64 << 20) as f64)
    } else if n >= 1 << 10 {
        format!("{:.0} KB", n as f64 / 1024.0)
    } else {
        format!("{n} B")
    }
}
