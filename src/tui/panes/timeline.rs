//! Timeline pane: the turns of a chat (the focused one unless bound) — number, start time,
//! duration, tool calls, tokens and cache hit rate; the running turn is highlighted. `Enter`
//! scrolls the chat's pane to that turn.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::{
    fit_right, fmt_ms, fmt_tokens, keep_visible, list_preamble, local_clock, millis_between,
    millis_since, one_line, truncate, FollowedChat,
};
use crate::core::events::Event;
use crate::core::store::TurnUsage;
use crate::tui::pane::{AppAction, KeyOutcome, Pane, PaneContext, PaneSpec};
use crate::tui::theme::Theme;

pub struct TimelinePane {
    chat: FollowedChat,
    turns: Vec<TurnUsage>,
    /// The turn running now, from `TurnStarted` until `TurnFinished`.
    active: Option<i64>,
    selected: usize,
    scroll: usize,
    error: Option<String>,
}

impl TimelinePane {
    pub fn new(chat_id: Option<String>, ctx: &PaneContext<'_>) -> TimelinePane {
        let mut pane = TimelinePane {
            chat: FollowedChat::new(chat_id),
            turns: Vec::new(),
            active: None,
            selected: 0,
            scroll: 0,
            error: None,
        };
        pane.sync_chat(ctx);
        pane
    }

    fn sync_chat(&mut self, ctx: &PaneContext<'_>) {
        if self.chat.sync(ctx) {
            self.active = self
                .chat
                .id()
                .filter(|c| ctx.engine.rt.is_turn_running(c))
                .and_then(|c| ctx.engine.store().last_turn(c).ok());
            self.reload(ctx);
            self.selected = self.turns.len().saturating_sub(1);
        }
    }

    fn reload(&mut self, ctx: &PaneContext<'_>) {
        let follow = self.selected + 1 >= self.turns.len();
        self.turns.clear();
        let Some(chat) = self.chat.id() else { return };
        match ctx.engine.turn_usage(chat) {
            Ok(turns) => {
                self.turns = turns;
                self.error = None;
            }
            Err(e) => self.error = Some(format!("{e:#}")),
        }
        if follow {
            self.selected = self.turns.len().saturating_sub(1);
        }
        self.selected = self.selected.min(self.turns.len().saturating_sub(1));
    }

    fn row(&self, turn: &TurnUsage, t: &Theme, width: usize, selected: bool) -> Line<'static> {
        let active = self.active == Some(turn.turn_number);
        let duration = if active {
            let secs = millis_since(&turn.started_at) / 1000;
            if secs < 60 {
                format!("{secs}s…")
            } else {
                format!("{}…", fmt_ms(secs * 1000))
            }
        } else {
            turn.finished_at
                .as_deref()
                .map(|f| fmt_ms(millis_between(&turn.started_at, f)))
                .unwrap_or_else(|| "–".into())
        };
        let marker = if active { "▶ " } else { "  " };
        let mut spans = vec![
            Span::styled(marker, t.accent),
            Span::styled(fit_right(&format!("#{}", turn.turn_number), 4), t.heading),
            Span::styled(
                if width >= 50 {
                    format!("  {}", local_clock(&turn.started_at))
                } else {
                    String::new()
                },
                t.dim,
            ),
            Span::raw(" "),
            Span::raw(fit_right(&duration, 7)),
            Span::raw(" "),
            Span::styled(
                fit_right(
                    &format!(
                        "{} tool{}",
                        turn.tool_calls,
                        if turn.tool_calls == 1 { "" } else { "s" }
                    ),
                    9,
                ),
                t.tool,
            ),
            Span::raw(" "),
            Span::raw(fit_right(
                &format!(
                    "{} tok",
                    fmt_tokens(turn.usage.prompt_tokens + turn.usage.completion_tokens)
                ),
                9,
            )),
        ];
        match turn.cache_hit_rate() {
            Some(rate) => spans.push(Span::styled(
                format!("  cache {:>3.0}%", rate * 100.0),
                t.hit_rate(rate),
            )),
            None => spans.push(Span::styled("  cache   –", t.dim)),
        }
        // What the turn was about: its prompt, as far as the width allows.
        let prompt = one_line(turn.prompt.trim());
        if !prompt.is_empty() {
            spans.push(Span::raw(format!("  {prompt}")));
        }
        let mut used = 0;
        let mut out = Vec::new();
        for s in spans {
            let w = s.width();
            if used + w > width {
                let rest = width - used;
                if rest > 0 {
                    out.push(Span::styled(truncate(&s.content, rest), s.style));
                }
                break;
            }
            used += w;
            out.push(s);
        }
        let mut line = Line::from(out);
        if active {
            line = line.patch_style(t.accent.remove_modifier(Modifier::BOLD));
        }
        if selected {
            line = line.patch_style(t.selection);
        }
        line
    }
}

impl Pane for TimelinePane {
    fn spec(&self) -> PaneSpec {
        PaneSpec::Timeline {
            chat_id: self.chat.bound().map(str::to_string),
        }
    }

    fn title(&self, _ctx: &PaneContext<'_>) -> String {
        if self.chat.id().is_none() {
            return "Timeline · no chat focused".into();
        }
        let name = self.chat.label();
        let status = if self.active.is_some() {
            "running"
        } else {
            "idle"
        };
        format!(
            "Timeline · {name} · {} turn{} · {status}",
            self.turns.len(),
            if self.turns.len() == 1 { "" } else { "s" }
        )
    }

    fn render(&mut self, frame: &mut Frame<'_>, area: Rect, ctx: &PaneContext<'_>, focused: bool) {
        self.sync_chat(ctx);
        if area.width == 0 || area.height == 0 {
            return;
        }
        let t = ctx.theme;
        let width = area.width as usize;
        let mut lines: Vec<Line<'static>> = Vec::new();
        if list_preamble(
            &mut lines,
            t,
            width,
            self.error.as_deref(),
            self.chat.id().is_some(),
            self.turns.is_empty(),
            "turns",
        ) {
            let room = (area.height as usize).saturating_sub(lines.len());
            keep_visible(&mut self.scroll, self.selected, room);
            for (i, turn) in self.turns.iter().enumerate().skip(self.scroll).take(room) {
                lines.push(self.row(turn, t, width, focused && i == self.selected));
            }
        }
        frame.render_widget(Paragraph::new(lines), area);
    }

    fn handle_key(&mut self, key: KeyEvent, _ctx: &PaneContext<'_>) -> KeyOutcome {
        let last = self.turns.len().saturating_sub(1);
        match key.code {
            code if crate::tui::panes::move_selection(&mut self.selected, last, code) => {}
            KeyCode::Enter => {
                let (Some(chat), Some(turn)) = (self.chat.id(), self.turns.get(self.selected))
                else {
                    return KeyOutcome::Consumed;
                };
                return KeyOutcome::Actions(vec![AppAction::ScrollChatToTurn {
                    chat_id: chat.to_string(),
                    turn: turn.turn_number,
                }]);
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
            Event::TurnStarted { chat_id, turn } if *chat_id == chat => {
                self.active = Some(*turn);
            }
            Event::TurnFinished { chat_id, .. } if *chat_id == chat => {
                self.active = None;
            }
            Event::ModelCallStarted { chat_id, .. }
            | Event::ModelCallFinished { chat_id, .. }
            | Event::ToolFinished { chat_id, .. }
                if *chat_id == chat => {}
            _ => return false,
        }
        self.reload(ctx);
        true
    }

    fn is_animating(&self) -> bool {
        self.active.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::test_support::{ctx_for, render_pane, TestEngine};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn timeline_snapshots_and_enter() {
        let t = TestEngine::new();
        t.model_call(1, 10_000, 8_000, 500);
        t.model_call(2, 12_000, 3_000, 700);
        t.model_call(3, 9_000, 0, 100);
        t.engine
            .store()
            .insert_user_message(&t.chat.id, 2, "why does the\nparser drop commas?", &[])
            .unwrap();
        let ctx = ctx_for(&t, Some(&t.chat.id));
        let mut pane = TimelinePane::new(None, &ctx);
        let started = Event::TurnStarted {
            chat_id: t.chat.id.clone(),
            turn: 3,
        };
        assert!(pane.on_event(&started, &ctx));
        assert!(pane.is_animating());
        let durations = regex::Regex::new(r"\d+(\.\d)?(ms|s)…?").unwrap();
        let snap = |pane: &mut TimelinePane, w, h| {
            durations
                .replace_all(&render_pane(pane, &ctx, w, h), "DUR")
                .into_owned()
        };
        let wide = snap(&mut pane, 80, 6);
        let second = wide.lines().find(|l| l.contains("#2")).unwrap_or_default();
        assert!(second.contains("  why does the parser"), "{wide}");
        insta::assert_snapshot!("timeline_wide", wide);
        insta::assert_snapshot!("timeline_narrow", snap(&mut pane, 40, 6));
        pane.handle_key(KeyEvent::from(KeyCode::Up), &ctx);
        assert_eq!(
            pane.handle_key(KeyEvent::from(KeyCode::Enter), &ctx),
            KeyOutcome::Actions(vec![AppAction::ScrollChatToTurn {
                chat_id: t.chat.id.clone(),
                turn: 2
            }])
        );
        // Follows the focused chat: none focused → nothing bound.
        let none = ctx_for(&t, None);
        let mut unbound = TimelinePane::new(None, &none);
        insta::assert_snapshot!("timeline_unbound", render_pane(&mut unbound, &none, 40, 3));
    }
}
