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
//! Ctrl-W deletes a word, Ctrl-U the draft; Esc cancels the running turn (idle: drops a pending
//! `/compare` and attachments); Tab completes a slash command, else moves focus to the
//! transcript. With nothing typed, `r` resumes an interrupted turn and `y`/`n` answer an open
//! command confirmation.
//! Transcript focus (Tab): j/k or Up/Down select tool calls, reasoning, changes, confirmations;
//! Enter/Space/e expands or collapses; `a`/`d` apply or reject the selected change; `y`/`n`
//! answer; `r` resumes; `v` starts copy mode; Esc, Tab or `i` go back to the composer (typing
//! does too). Anywhere: PgUp/PgDn, Home/End and the mouse wheel scroll; End follows the tail
//! again; Alt-V starts copy mode. Copy mode: j/k extend, `v` restarts, `y`/Enter copy
//! (`AppAction::Copy`, sent as OSC 52 by the workspace), Esc leaves.
//!
//! `/clear` clears the view only: the chat and what the model sees stay as they are (older
//! messages are not paged back in); `/new` starts a fresh context. `/approval` only explains:
//! approval is a project setting and `Command::SendMessage` carries none, so a per-chat override
//! needs a core change. `/workflow NAME [ARGS]` starts a run (JSON args go as data, plain text as
//! a string) and shows it in the orchestrator pane; its result comes back to this chat.

pub mod composer;
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

use crate::core::context::{self, skills::SkillCatalog};
use crate::core::engine::Engine;
use crate::core::events::{retry_notice, Command, Event};
use crate::core::llm::images;
use crate::core::store::StoredMessage;
use crate::tui::markdown::MarkdownStream;
use crate::tui::pane::{AppAction, KeyOutcome, Pane, PaneContext, PaneSpec};
use crate::tui::theme::Theme;

use composer::Composer;
use items::{file_name, line_text, truncate, ChangeState, Item, Kind, ToolItem, ToolState};
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
        };
        pane.reindex();
        for c in engine.pending_changes(Some(chat_id))? {
            pane.push(Kind::Change {
                change_id: c.id,
                path: c.display_path,
                diff: c.diff,
                state: ChangeState::Pending,
                expanded: false,
            });
        }
        if engine.rt.is_turn_running(chat_id) {
            pane.status = Status::Streaming;
        } else if engine.snapshot(chat_id)?.is_some_and(|s| s.state != "idle") {
            pane.status = Status::Interrupted;
            pane.push(Kind::Interrupted { resumed: false });
            pane.select(pane.items.len() - 1);
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

    fn select(&mut self, i: usize) {
        self.selected = Some(i);
        self.focus = Focus::Transcript;
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

    // ----- events -------------------------------------------------------------------------

    fn last_streaming(&mut self) -> Option<usize> {
        let i = self.items.len().checked_sub(1)?;
        matches!(self.items[i].kind, Kind::Assistant { done: None, .. }).then_some(i)
    }

    /// Ends streamed items (a turn ended without `MessageFinished`, e.g. cancelled).
    fn settle_streams(&mut self, width: usize) {
        for it in self.items.iter_mut().rev().take(8) {
            if let Kind::Assistant { stream, done: None } = &it.kind {
                let text = stream.buffer().to_string();
                it.finish_stream(&text, width, &self.theme);
            }
        }
    }

    /// Drops the partial reply of a retried request.
    fn discard_partial(&mut self) {
        while let Some(last) = self.items.last() {
            let partial = match &last.kind {
                Kind::Assistant { done, .. } => done.is_none(),
                Kind::Reasoning { .. } => true,
                _ => false,
            };
            if !partial || last.turn != self.turn {
                break;
            }
            self.items.pop();
        }
        if self.selected.is_some_and(|s| s >= self.items.len()) {
            self.selected = None;
        }
    }

    fn fold(&mut self, event: &Event) -> bool {
        // Before the first draw the width is unknown; a later draw re-renders at the real one.
        let width = if self.width == 0 { 80 } else { self.width };
        match event {
            Event::TurnStarted { turn, .. } => {
                self.turn = *turn;
                self.status = Status::Streaming;
                if self.title.is_empty() {
                    // The core titles a chat from its first message when that turn starts.
                    if let Ok(chat) = self.engine.chat(&self.chat_id) {
                        self.title = chat.title;
                    }
                }
                for it in &mut self.items {
                    if let Kind::Interrupted { resumed } = &mut it.kind {
                        *resumed = true;
                        it.invalidate();
                    }
                }
            }
            Event::UserMessage {
                turn,
                text,
                attachments,
                ..
            } => {
                if self.echoed.take().as_ref() == Some(text) {
                    return false;
                }
                self.turn = *turn;
                self.top = None;
                self.push(Kind::User {
                    text: text.clone(),
                    attachments: attachments.clone(),
                });
            }
            Event::WorkflowReported { heading, body, .. } => {
                self.items
                    .extend(items::report_items(heading, body, self.turn));
            }
            Event::ModelCallStarted { model, .. } => {
                self.model = model.clone();
                self.status = Status::Streaming;
            }
            Event::TextDelta { text, .. } => {
                self.status = Status::Streaming;
                let i = match self.last_streaming() {
                    Some(i) => i,
                    None => self.push(Kind::Assistant {
                        stream: MarkdownStream::new(),
                        done: None,
                    }),
                };
                let theme = &self.theme;
                let it = &mut self.items[i];
                if let Kind::Assistant { stream, .. } = &mut it.kind {
                    if !stream.push(text, width, theme) {
                        // Nothing complete yet: the view does not change.
                        return false;
                    }
                }
                it.append_streamed(width, theme);
            }
            Event::ReasoningDelta { text, .. } => {
                self.status = Status::Streaming;
                match self.items.last_mut() {
                    Some(it)
                        if matches!(it.kind, Kind::Reasoning { .. }) && it.turn == self.turn =>
                    {
                        if let Kind::Reasoning { text: t, .. } = &mut it.kind {
                            t.push_str(text);
                        }
                        it.invalidate();
                    }
                    _ => {
                        self.push(Kind::Reasoning {
                            text: text.clone(),
                            expanded: false,
                        });
                    }
                }
            }
            Event::Retrying {
                attempt,
                max_attempts,
                delay_ms,
                reason,
                discard_partial,
                ..
            } => {
                if *discard_partial {
                    self.discard_partial();
                }
                self.push(Kind::Notice(retry_notice(
                    *attempt,
                    *max_attempts,
                    *delay_ms,
                    reason,
                )));
            }
            Event::ModelCallFinished { usage, .. } => {
                self.tokens += usage.prompt_tokens + usage.completion_tokens;
            }
            Event::MessageFinished { content, .. } => match self.last_streaming() {
                Some(i) => self.items[i].finish_stream(content, width, &self.theme),
                None if !content.trim().is_empty() => {
                    self.push(Kind::Assistant {
                        stream: MarkdownStream::new(),
                        done: Some(content.clone()),
                    });
                }
                None => return false,
            },
            Event::ToolStarted {
                trace_id,
                tool_call_id,
                tool_name,
                input,
                ..
            } => {
                self.settle_streams(width);
                self.status = Status::RunningTool(tool_name.clone());
                let i = self.push(Kind::Tool(ToolItem {
                    tool_call_id: Some(tool_call_id.clone()),
                    trace_id: Some(trace_id.clone()),
                    name: tool_name.clone(),
                    input: input.to_string(),
                    output: None,
                    diff: None,
                    state: ToolState::Running,
                    expanded: false,
                    diff_expanded: false,
                }));
                self.tools_by_call.insert(tool_call_id.clone(), i);
                self.tools_by_trace.insert(trace_id.clone(), i);
            }
            Event::ToolFinished {
                trace_id,
                outcome,
                latency_ms,
                output,
                error,
                diff,
                ..
            } => {
                let Some(&i) = self.tools_by_trace.get(trace_id) else {
                    return false;
                };
                if let Some(Item {
                    kind: Kind::Tool(t),
                    ..
                }) = self.items.get_mut(i)
                {
                    t.state = ToolState::Done {
                        outcome: outcome.clone(),
                        latency_ms: Some(*latency_ms),
                        error: error.clone(),
                    };
                    t.output = Some(output.clone());
                    t.diff = diff.clone().filter(|d| !d.is_empty());
                }
                self.items[i].invalidate();
                if !self.items.iter().any(Item::animates) {
                    self.status = Status::Streaming;
                }
            }
            Event::ChangePending {
                change_id,
                path,
                diff,
                ..
            } => {
                let i = self.push(Kind::Change {
                    change_id: change_id.clone(),
                    path: path.clone(),
                    diff: diff.clone(),
                    state: ChangeState::Pending,
                    expanded: false,
                });
                if self.composer.is_empty() && self.copy.is_none() {
                    self.select(i);
                }
            }
            Event::ChangeResolved { change_id, applied } => {
                let Some(it) = self.items.iter_mut().find(
                    |it| matches!(&it.kind, Kind::Change { change_id: c, .. } if c == change_id),
                ) else {
                    return false;
                };
                if let Kind::Change { state, .. } = &mut it.kind {
                    *state = if *applied {
                        ChangeState::Applied
                    } else {
                        ChangeState::Rejected
                    };
                }
                it.invalidate();
            }
            Event::CommandConfirmationRequested {
                request_id,
                command,
                ..
            } => {
                let i = self.push(Kind::Confirm {
                    request_id: request_id.clone(),
                    command: command.clone(),
                    answer: None,
                });
                if self.composer.is_empty() && self.copy.is_none() {
                    self.select(i);
                }
            }
            Event::TurnFinished { status, error, .. } => {
                self.settle_streams(width);
                self.status = Status::Idle;
                match (status.as_str(), error) {
                    ("completed", _) => {}
                    ("cancelled", _) => {
                        self.push(Kind::Notice("turn cancelled".into()));
                    }
                    ("step_limit", _) => {
                        self.push(Kind::Notice(
                            "stopped at the step limit — send a message to continue".into(),
                        ));
                    }
                    (_, Some(e)) => {
                        self.push(Kind::Error(e.clone()));
                    }
                    (other, None) => {
                        self.push(Kind::Error(format!("turn {other}")));
                    }
                }
            }
            Event::ContextLoaded {
                instructions,
                skills,
                ..
            } => {
                self.push(Kind::Notice(context::describe(instructions, skills)));
            }
            Event::ModelList { models, error, .. } => {
                self.push(Kind::Notice(match (models.is_empty(), error) {
                    (false, _) => format!("models on the server: {}", models.join(", ")),
                    (true, Some(e)) => format!("the server lists no models ({e})"),
                    (true, None) => "the server lists no models".into(),
                }));
            }
            _ => return false,
        }
        true
    }

    // ----- input --------------------------------------------------------------------------

    fn actionable(&self) -> Vec<usize> {
        (0..self.items.len())
            .filter(|&i| self.items[i].is_actionable())
            .collect()
    }

    fn move_selection(&mut self, down: bool) {
        let all = self.actionable();
        let next = match self.selected {
            None => all.last().copied(),
            Some(s) if down => all.iter().copied().find(|&i| i > s).or(Some(s)),
            Some(s) => all.iter().rev().copied().find(|&i| i < s).or(Some(s)),
        };
        if let Some(i) = next {
            self.selected = Some(i);
            self.reveal_item(i);
        }
    }

    fn resolve_selected(&mut self, apply: bool) -> KeyOutcome {
        let Some(i) = self.selected else {
            return KeyOutcome::Consumed;
        };
        if let Some(Item {
            kind:
                Kind::Change {
                    change_id,
                    state: ChangeState::Pending,
                    ..
                },
            ..
        }) = self.items.get(i)
        {
            return KeyOutcome::Actions(vec![AppAction::Engine(Command::ResolveChange {
                change_id: change_id.clone(),
                apply,
            })]);
        }
        KeyOutcome::Consumed
    }

    /// Answers the selected (else the oldest open) command confirmation.
    fn answer(&mut self, allow: bool) -> Option<KeyOutcome> {
        let open = |it: &Item| matches!(it.kind, Kind::Confirm { answer: None, .. });
        let i = self
            .selected
            .filter(|&s| self.items.get(s).is_some_and(open))
            .or_else(|| self.items.iter().position(open))?;
        let it = &mut self.items[i];
        if let Kind::Confirm {
            request_id, answer, ..
        } = &mut it.kind
        {
            *answer = Some(allow);
            let id = request_id.clone();
            it.invalidate();
            return Some(KeyOutcome::Actions(vec![AppAction::Engine(
                Command::ConfirmCommand {
                    request_id: id,
                    allow,
                },
            )]));
        }
        None
    }

    fn resume(&mut self) -> Option<KeyOutcome> {
        if self.status != Status::Interrupted {
            return None;
        }
        self.status = Status::Streaming;
        for it in &mut self.items {
            if let Kind::Interrupted { resumed } = &mut it.kind {
                *resumed = true;
                it.invalidate();
            }
        }
        self.top = None;
        // Back to the composer, where Esc cancels the resumed turn.
        self.focus = Focus::Composer;
        self.selected = None;
        Some(KeyOutcome::Actions(vec![AppAction::Engine(
            Command::ResumeChat {
                chat_id: self.chat_id.clone(),
            },
        )]))
    }

    fn is_running(&self) -> bool {
        matches!(self.status, Status::Streaming | Status::RunningTool(_))
    }

    fn copy_key(&mut self, key: KeyEvent) -> KeyOutcome {
        let Some((anchor, cursor)) = self.copy else {
            return KeyOutcome::Ignored;
        };
        let cursor = match key.code {
            KeyCode::Char('j') | KeyCode::Down => self.pos_down(cursor, 1),
            KeyCode::Char('k') | KeyCode::Up => self.pos_up(cursor, 1),
            KeyCode::PageDown => self.pos_down(cursor, self.view_h.max(2) - 1),
            KeyCode::PageUp => self.pos_up(cursor, self.view_h.max(2) - 1),
            KeyCode::Char('v') => {
                self.copy = Some((cursor, cursor));
                return KeyOutcome::Consumed;
            }
            KeyCode::Char('y') | KeyCode::Enter => {
                let text = self.selection_text(anchor, cursor);
                self.copy = None;
                let n = text.lines().count();
                return KeyOutcome::Actions(vec![
                    AppAction::Copy(text),
                    AppAction::Notice(format!("copied {n} lines")),
                ]);
            }
            KeyCode::Esc | KeyCode::Char('q') => {
                self.copy = None;
                return KeyOutcome::Consumed;
            }
            _ => return KeyOutcome::Consumed,
        };
        self.copy = Some((anchor, cursor));
        self.reveal(cursor);
        KeyOutcome::Consumed
    }

    fn selection_text(&mut self, a: Pos, b: Pos) -> String {
        let (start, end) = if a <= b { (a, b) } else { (b, a) };
        let (w, tick) = (self.width.max(1), self.tick);
        let mut out = Vec::new();
        for i in start.0..=end.0.min(self.items.len().saturating_sub(1)) {
            let lines = self.items[i].lines(w, &self.theme, tick);
            let from = if i == start.0 { start.1 } else { 0 };
            let to = if i == end.0 { end.1 + 1 } else { lines.len() };
            for l in lines.iter().take(to).skip(from) {
                out.push(line_text(l));
            }
        }
        out.join("\n")
    }

    /// Keys while searching: type the query, Enter finds the nearest older match, `n`/`N`
    /// step to older/newer ones, `y` copies the matched line, Esc leaves.
    fn search_key(&mut self, key: KeyEvent) -> KeyOutcome {
        let Some(search) = self.search.as_mut() else {
            return KeyOutcome::Ignored;
        };
        if search.typing {
            match key.code {
                KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                    search.query.push(c)
                }
                KeyCode::Backspace => {
                    search.query.pop();
                }
                KeyCode::Enter if !search.query.is_empty() => {
                    search.typing = false;
                    return self.find(true);
                }
                KeyCode::Esc => self.search = None,
                _ => {}
            }
            return KeyOutcome::Consumed;
        }
        match key.code {
            KeyCode::Char('n') => self.find(true),
            KeyCode::Char('N') => self.find(false),
            KeyCode::Char('/') => {
                search.typing = true;
                search.query.clear();
                KeyOutcome::Consumed
            }
            KeyCode::Esc | KeyCode::Char('q') => {
                self.search = None;
                self.copy = None;
                KeyOutcome::Consumed
            }
            _ => self.copy_key(key),
        }
    }

    /// Moves to the next line containing the query (case-insensitive), older or newer than
    /// the current match (or the bottom of the view), loading older pages on the way.
    fn find(&mut self, older: bool) -> KeyOutcome {
        let Some(query) = self.search.as_ref().map(|s| s.query.to_lowercase()) else {
            return KeyOutcome::Ignored;
        };
        let start = match self.copy {
            Some((_, cursor)) => cursor,
            None => {
                let top = self.top_pos();
                self.pos_down(top, self.view_h.saturating_sub(1))
            }
        };
        let mut pos = start;
        loop {
            let next = if older {
                self.pos_up(pos, 1)
            } else {
                self.pos_down(pos, 1)
            };
            if next == pos {
                return KeyOutcome::Actions(vec![AppAction::Notice(format!(
                    "no {} match for '{query}'",
                    if older { "older" } else { "newer" }
                ))]);
            }
            pos = next;
            if self.line_at(pos).to_lowercase().contains(&query) {
                self.copy = Some((pos, pos));
                self.reveal(pos);
                return KeyOutcome::Consumed;
            }
        }
    }

    fn line_at(&mut self, (i, l): Pos) -> String {
        let (w, tick) = (self.width.max(1), self.tick);
        self.items
            .get_mut(i)
            .and_then(|it| it.lines(w, &self.theme, tick).get(l).map(line_text))
            .unwrap_or_default()
    }

    fn transcript_key(&mut self, key: KeyEvent) -> KeyOutcome {
        match key.code {
            KeyCode::Up | KeyCode::Char('k') => self.move_selection(false),
            KeyCode::Down | KeyCode::Char('j') => self.move_selection(true),
            KeyCode::Enter | KeyCode::Char(' ') | KeyCode::Char('e') => {
                if let Some(i) = self.selected {
                    if let Some(it) = self.items.get_mut(i) {
                        it.toggle();
                    }
                }
            }
            KeyCode::Char('a') => return self.resolve_selected(true),
            KeyCode::Char('d') => return self.resolve_selected(false),
            KeyCode::Char('y') => return self.answer(true).unwrap_or(KeyOutcome::Consumed),
            KeyCode::Char('n') => return self.answer(false).unwrap_or(KeyOutcome::Consumed),
            KeyCode::Char('r') => return self.resume().unwrap_or(KeyOutcome::Consumed),
            KeyCode::Char('v') => {
                let start = match self.selected {
                    Some(i) => (i, 0),
                    None => self.top_pos(),
                };
                self.copy = Some((start, start));
                self.reveal(start);
            }
            KeyCode::Esc | KeyCode::Tab | KeyCode::Char('i') => {
                self.focus = Focus::Composer;
                self.selected = None;
            }
            KeyCode::Char(c)
                if !key
                    .modifiers
                    .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
            {
                // Typing goes back to the composer.
                self.focus = Focus::Composer;
                self.selected = None;
                self.composer.insert_char(c);
            }
            _ => return KeyOutcome::Ignored,
        }
        KeyOutcome::Consumed
    }

    fn popup_items(&self) -> Vec<&'static (&'static str, &'static str, &'static str)> {
        slash::completions(self.composer.text())
    }

    fn complete(&mut self) {
        let items = self.popup_items();
        if let Some((name, _, _)) = items.get(self.popup.min(items.len().saturating_sub(1))) {
            self.composer.set_text(&format!("/{name} "));
        }
        self.popup = 0;
    }

    fn composer_key(&mut self, key: KeyEvent) -> KeyOutcome {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        let shift = key.modifiers.contains(KeyModifiers::SHIFT);
        let popup = self.popup_items();
        if !popup.is_empty() {
            match key.code {
                KeyCode::Tab => {
                    self.complete();
                    return KeyOutcome::Consumed;
                }
                KeyCode::Down => {
                    self.popup = (self.popup + 1) % popup.len();
                    return KeyOutcome::Consumed;
                }
                KeyCode::Up => {
                    self.popup = (self.popup + popup.len() - 1) % popup.len();
                    return KeyOutcome::Consumed;
                }
                KeyCode::Enter if !alt && !shift => {
                    let typed = self.composer.text().trim_start_matches('/').to_string();
                    // A command whose argument is absent or optional (`[NAME]`) runs as typed.
                    let exact = popup.iter().any(|(n, args, _)| {
                        *n == typed && (args.is_empty() || args.starts_with('['))
                    });
                    if !exact {
                        self.complete();
                        return KeyOutcome::Consumed;
                    }
                }
                _ => {}
            }
        }
        match key.code {
            KeyCode::Enter if alt || shift => self.composer.newline(),
            KeyCode::Char('j') if ctrl => self.composer.newline(),
            KeyCode::Enter => return self.submit(),
            KeyCode::Esc => {
                if self.is_running() {
                    return KeyOutcome::Actions(vec![AppAction::Engine(Command::CancelTurn {
                        chat_id: self.chat_id.clone(),
                    })]);
                }
                if self.compare.take().is_none() && self.attachments.is_empty() {
                    return KeyOutcome::Ignored;
                }
                self.attachments.clear();
            }
            KeyCode::Tab => {
                if self.actionable().is_empty() {
                    return KeyOutcome::Ignored;
                }
                self.focus = Focus::Transcript;
                self.selected = None;
                self.move_selection(false);
            }
            KeyCode::Backspace => self.composer.backspace(),
            KeyCode::Delete => self.composer.delete(),
            KeyCode::Left => self.composer.left(),
            KeyCode::Right => self.composer.right(),
            KeyCode::Up if !alt => self.composer.up(),
            KeyCode::Down if !alt => self.composer.down(),
            KeyCode::Char('a') if ctrl => self.composer.line_start(),
            KeyCode::Char('e') if ctrl => self.composer.line_end(),
            KeyCode::Char('w') if ctrl => self.composer.delete_word(),
            KeyCode::Char('u') if ctrl => self.composer.clear(),
            KeyCode::Char(c) if !ctrl && !alt => {
                // Shortcuts that only make sense with nothing typed.
                if self.composer.is_empty() {
                    match c {
                        'r' => {
                            if let Some(out) = self.resume() {
                                return out;
                            }
                        }
                        'y' | 'n' => {
                            if let Some(out) = self.answer(c == 'y') {
                                return out;
                            }
                        }
                        _ => {}
                    }
                }
                self.composer.insert_char(c);
                self.popup = 0;
            }
            _ => return KeyOutcome::Ignored,
        }
        KeyOutcome::Consumed
    }

    fn submit(&mut self) -> KeyOutcome {
        let shown = self.composer.text().to_string();
        if shown.trim().is_empty() && self.attachments.is_empty() {
            return KeyOutcome::Consumed;
        }
        match slash::parse(&shown) {
            Err(e) => {
                self.push(Kind::Error(e));
                self.top = None;
                KeyOutcome::Consumed
            }
            Ok(Some(cmd)) => {
                self.composer.take();
                self.run_slash(cmd)
            }
            Ok(None) => self.send(),
        }
    }

    fn send(&mut self) -> KeyOutcome {
        if let Some(msg) = self.missing_key.clone() {
            self.push(Kind::Error(msg));
            self.top = None;
            return KeyOutcome::Consumed;
        }
        if self.is_running() {
            self.push(Kind::Notice(
                "a turn is running — wait for it, or Esc to cancel it".into(),
            ));
            self.top = None;
            return KeyOutcome::Consumed;
        }
        let mut text = self.composer.take();
        if text.starts_with("//") {
            text.remove(0);
        }
        self.top = None;
        if let Some(models) = self.compare.take() {
            self.push(Kind::Notice(format!(
                "compare: sent to {}",
                models.join(", ")
            )));
            return KeyOutcome::Actions(vec![AppAction::Compare {
                models,
                prompt: text,
            }]);
        }
        let attachments = std::mem::take(&mut self.attachments);
        self.turn += 1;
        self.push(Kind::User {
            text: text.clone(),
            attachments: attachments.iter().map(|a| a.name.clone()).collect(),
        });
        self.echoed = Some(text.clone());
        self.status = Status::Streaming;
        KeyOutcome::Actions(vec![AppAction::Engine(Command::SendMessage {
            chat_id: self.chat_id.clone(),
            text,
            attachments: attachments.into_iter().map(|a| a.path).collect(),
        })])
    }

    fn run_slash(&mut self, cmd: Slash) -> KeyOutcome {
        self.top = None;
        match cmd {
            Slash::Model(name) => match self.engine.set_chat_model(&self.chat_id, &name) {
                Ok(()) => {
                    if let Ok(chat) = self.engine.chat(&self.chat_id) {
                        self.model = chat.model;
                    }
                    self.push(Kind::Notice(format!("model: {}", self.model)));
                }
                Err(e) => {
                    self.push(Kind::Error(format!("/model: {e:#}")));
                }
            },
            Slash::Models => {
                let aliases = &self.engine.rt.config.model_aliases;
                let mut text = format!("model: {} — /model NAME switches", self.model);
                if !aliases.is_empty() {
                    let listed: Vec<String> =
                        aliases.iter().map(|(a, m)| format!("{a} → {m}")).collect();
                    text.push_str(&format!("; aliases: {}", listed.join(", ")));
                }
                self.push(Kind::Notice(text));
                return KeyOutcome::Actions(vec![AppAction::Engine(Command::ListModels {
                    chat_id: self.chat_id.clone(),
                })]);
            }
            Slash::New => return KeyOutcome::Actions(vec![AppAction::NewChat]),
            Slash::Resume => return KeyOutcome::Actions(vec![AppAction::PickSession]),
            Slash::Help => return KeyOutcome::Actions(vec![AppAction::Help]),
            Slash::Skills => {
                let rt = &self.engine.rt;
                let catalog =
                    SkillCatalog::discover(&rt.project_root, rt.config.user_home.as_deref());
                for line in catalog.describe() {
                    self.push(Kind::Notice(line));
                }
            }
            Slash::Clear => {
                // Display only: the model keeps the history (use /new for a fresh context).
                self.floor_seq = self
                    .engine
                    .message_count(&self.chat_id)
                    .unwrap_or(0)
                    .saturating_add(1);
                self.first_seq = self.floor_seq;
                self.items.clear();
                self.selected = None;
                self.copy = None;
                self.reindex();
                self.push(Kind::Notice(
                    "view cleared — the model still sees the history; /new starts afresh".into(),
                ));
            }
            Slash::Attach(path) => {
                let path = if path.is_absolute() {
                    path
                } else {
                    self.engine.rt.project_root.join(path)
                };
                match images::image_info(&path) {
                    Ok(info) => self.attachments.push(Attachment {
                        name: file_name(&path.to_string_lossy()),
                        path,
                        bytes: info.bytes,
                        width: info.width,
                        height: info.height,
                    }),
                    Err(e) => {
                        self.push(Kind::Error(format!("/attach: {e}")));
                    }
                }
            }
            Slash::Compare(models) => {
                self.push(Kind::Notice(format!(
                    "the next prompt goes to {} side by side (Esc cancels)",
                    models.join(", ")
                )));
                self.compare = Some(models);
            }
            Slash::Approval(mode) => {
                let current = self.engine.rt.config.approval.as_str();
                let text = match mode.parse::<crate::core::agent::tools::ApprovalMode>() {
                    Ok(m) => format!(
                        "approval is set per project, not per chat: put approval = \"{}\" in \
                         .boocode/config.toml (now: {current})",
                        m.as_str()
                    ),
                    Err(e) => {
                        self.push(Kind::Error(format!("/approval: {e}")));
                        return KeyOutcome::Consumed;
                    }
                };
                self.push(Kind::Notice(text));
            }
            Slash::Workflow { name, args } => {
                let args = match crate::core::workflow::args::args_from_text(&args) {
                    Ok(args) => args,
                    Err(e) => {
                        self.push(Kind::Error(format!("/workflow {name}: args: {e}")));
                        return KeyOutcome::Consumed;
                    }
                };
                self.push(Kind::Notice(format!(
                    "starting workflow {name}: progress in the orchestrator pane, the result \
                     comes back here"
                )));
                return KeyOutcome::Actions(vec![AppAction::RunWorkflow { name, args }]);
            }
        }
        KeyOutcome::Consumed
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
            "j/k select · Enter expand · a/d change · y/n confirm · v copy · Esc back"
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
        let mut s = if title == self.model {
            format!("{title} · {}", self.status_text())
        } else {
            format!("{title} · {} · {}", self.model, self.status_text())
        };
        if self.tokens > 0 {
            s.push_str(&format!(" · {} tok", fmt_tokens(self.tokens)));
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
        let bottom_h = (shown_rows + 1 + usize::from(chips)).min(area.height as usize);
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
        if self.top.is_some() && view_h > 0 {
            let note = " ↓ more below — End follows ";
            let w = note.width() as u16;
            if area.width > w {
                buf.set_string(
                    area.x + area.width - w,
                    area.y + view_h as u16 - 1,
                    note,
                    theme.status_bar,
                );
            }
        }

        // Attachment chips and compare target.
        let mut yb = area.y + view_h as u16;
        if chips && bottom_h > shown_rows + 1 {
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
            }
            buf.set_line(area.x, yb, &Line::from(spans), area.width);
            yb += 1;
        }

        // Separator with hints.
        if yb < area.y + area.height {
            let hint = truncate(self.hint(), width.saturating_sub(4));
            let fill = width.saturating_sub(hint.width() + 3);
            let line = Line::from(vec![
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
            let line = Line::from(vec![
                Span::styled(prefix, theme.user),
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
            let placeholder = if self.missing_key.is_some() {
                "no API key — see above"
            } else if self.status == Status::Interrupted {
                "press r to resume, or type a message"
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
            | Event::ModelList { chat_id, .. }
            | Event::ContextLoaded { chat_id, .. }
            | Event::TurnFinished { chat_id, .. }
            | Event::WorkflowReported { chat_id, .. } => *chat_id == self.chat_id,
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
