//! Chat pane (plain view): the transcript as plain text with live deltas appended, and a
//! one-line input that sends `Command::SendMessage`. The full chat pane (markdown, composer,
//! slash commands, copy mode) replaces this module.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use unicode_width::UnicodeWidthChar;

use crate::core::events::{Command, Event};
use crate::core::store::PartKind;
use crate::tui::pane::{AppAction, KeyOutcome, Pane, PaneContext, PaneSpec};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    User,
    Assistant,
    Tool,
    Error,
}

pub struct ChatPane {
    chat_id: String,
    entries: Vec<(Who, String, i64)>,
    streaming: String,
    input: String,
    /// Lines scrolled up from the bottom.
    scroll_up: u16,
    running: bool,
    turn: i64,
}

impl ChatPane {
    pub fn new(chat_id: String, ctx: &PaneContext<'_>) -> ChatPane {
        let mut entries = Vec::new();
        for m in ctx.engine.transcript(&chat_id).unwrap_or_default() {
            let who = match m.role.as_str() {
                "user" => Who::User,
                "assistant" => Who::Assistant,
                _ => Who::Tool,
            };
            let text = if who == Who::Tool {
                let name = m.parts.iter().find_map(|p| p.tool_name.clone());
                format!("⚙ {}", name.unwrap_or_else(|| "tool".into()))
            } else {
                m.joined(PartKind::Text)
            };
            if !text.is_empty() {
                entries.push((who, text, m.turn_number));
            }
            if let Some(e) = m.error {
                entries.push((Who::Error, e, m.turn_number));
            }
        }
        let running = ctx.engine.rt.is_turn_running(&chat_id);
        ChatPane {
            chat_id,
            entries,
            streaming: String::new(),
            input: String::new(),
            scroll_up: 0,
            running,
            turn: 0,
        }
    }
}

impl Pane for ChatPane {
    fn spec(&self) -> PaneSpec {
        PaneSpec::Chat {
            chat_id: self.chat_id.clone(),
        }
    }

    fn title(&self, ctx: &PaneContext<'_>) -> String {
        let (name, model) = match ctx.engine.chat(&self.chat_id) {
            Ok(c) if !c.title.is_empty() => (c.title, c.model),
            Ok(c) => (format!("chat {}", short(&c.id)), c.model),
            Err(_) => (format!("chat {}", short(&self.chat_id)), String::new()),
        };
        let status = if self.running { "running" } else { "idle" };
        format!("Chat · {name} · {model} · {status}")
    }

    fn render(&mut self, frame: &mut Frame<'_>, area: Rect, ctx: &PaneContext<'_>, focused: bool) {
        if area.height == 0 || area.width == 0 {
            return;
        }
        let t = ctx.theme;
        let width = area.width as usize;
        let mut lines: Vec<Line<'_>> = Vec::new();
        let mut push = |text: &str, style: ratatui::style::Style| {
            for l in wrap(text, width) {
                lines.push(Line::styled(l, style));
            }
        };
        if let Some(err) = ctx.engine.rt.config.missing_key_error() {
            push(&format!("⚠ {err}"), t.warning);
        }
        for (who, text, _) in &self.entries {
            let (label, style) = match who {
                Who::User => ("› ", t.user),
                Who::Assistant => ("", t.assistant),
                Who::Tool => ("", t.tool),
                Who::Error => ("error: ", t.error),
            };
            push(&format!("{label}{text}"), style);
            push("", style);
        }
        if !self.streaming.is_empty() {
            push(&self.streaming, t.assistant);
        }
        let body = Rect::new(area.x, area.y, area.width, area.height.saturating_sub(1));
        let total = lines.len() as u16;
        let max_up = total.saturating_sub(body.height);
        self.scroll_up = self.scroll_up.min(max_up);
        let top = max_up - self.scroll_up;
        frame.render_widget(Paragraph::new(lines).scroll((top, 0)), body);
        let input_area = Rect::new(area.x, area.y + body.height, area.width, 1);
        let prompt = if self.running { "… " } else { "> " };
        let shown = super::truncate(&format!("{prompt}{}", self.input), area.width as usize);
        frame.render_widget(Paragraph::new(Line::styled(shown, t.accent)), input_area);
        if focused {
            let w =
                unicode_width::UnicodeWidthStr::width(format!("{prompt}{}", self.input).as_str());
            let x = (area.x as usize + w).min((area.x + area.width).saturating_sub(1) as usize);
            frame.set_cursor_position((x as u16, input_area.y));
        }
    }

    fn handle_key(&mut self, key: KeyEvent, ctx: &PaneContext<'_>) -> KeyOutcome {
        match key.code {
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                if self.running {
                    return KeyOutcome::Actions(vec![AppAction::Engine(Command::CancelTurn {
                        chat_id: self.chat_id.clone(),
                    })]);
                }
                KeyOutcome::Ignored
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.input.push(c);
                KeyOutcome::Consumed
            }
            KeyCode::Backspace => {
                self.input.pop();
                KeyOutcome::Consumed
            }
            KeyCode::PageUp => {
                self.scroll_up = self.scroll_up.saturating_add(10);
                KeyOutcome::Consumed
            }
            KeyCode::PageDown => {
                self.scroll_up = self.scroll_up.saturating_sub(10);
                KeyOutcome::Consumed
            }
            KeyCode::Enter => {
                let text = self.input.trim().to_string();
                if text.is_empty() {
                    return KeyOutcome::Consumed;
                }
                if let Some(err) = ctx.engine.rt.config.missing_key_error() {
                    return KeyOutcome::Actions(vec![AppAction::Notice(err)]);
                }
                if self.running {
                    return KeyOutcome::Actions(vec![AppAction::Notice(
                        "a turn is running: wait, or Ctrl-c to cancel it".into(),
                    )]);
                }
                self.input.clear();
                self.entries.push((Who::User, text.clone(), self.turn + 1));
                self.scroll_up = 0;
                KeyOutcome::Actions(vec![AppAction::Engine(Command::SendMessage {
                    chat_id: self.chat_id.clone(),
                    text,
                    attachments: Vec::new(),
                })])
            }
            _ => KeyOutcome::Ignored,
        }
    }

    fn handle_paste(&mut self, text: &str, _ctx: &PaneContext<'_>) -> KeyOutcome {
        self.input.push_str(&super::one_line(text));
        KeyOutcome::Consumed
    }

    fn on_event(&mut self, event: &Event, _ctx: &PaneContext<'_>) -> bool {
        match event {
            Event::TurnStarted { chat_id, turn } if *chat_id == self.chat_id => {
                self.running = true;
                self.turn = *turn;
            }
            Event::TextDelta { chat_id, text } if *chat_id == self.chat_id => {
                self.streaming.push_str(text)
            }
            Event::Retrying {
                chat_id,
                discard_partial: true,
                ..
            } if *chat_id == self.chat_id => self.streaming.clear(),
            Event::MessageFinished {
                chat_id, content, ..
            } if *chat_id == self.chat_id => {
                self.streaming.clear();
                if !content.is_empty() {
                    self.entries
                        .push((Who::Assistant, content.clone(), self.turn));
                }
            }
            Event::ToolStarted {
                chat_id, tool_name, ..
            } if *chat_id == self.chat_id => {
                self.entries
                    .push((Who::Tool, format!("⚙ {tool_name}"), self.turn));
            }
            Event::TurnFinished { chat_id, error, .. } if *chat_id == self.chat_id => {
                self.running = false;
                if !self.streaming.is_empty() {
                    let text = std::mem::take(&mut self.streaming);
                    self.entries.push((Who::Assistant, text, self.turn));
                }
                if let Some(e) = error {
                    self.entries.push((Who::Error, e.clone(), self.turn));
                }
            }
            _ => return false,
        }
        true
    }

    fn is_animating(&self) -> bool {
        false
    }

    fn chat_id(&self) -> Option<&str> {
        Some(&self.chat_id)
    }
}

/// Splits text into lines of at most `width` columns (hard wrap; plain view only).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.split('\n') {
        let mut cur = String::new();
        let mut used = 0;
        for c in line.chars() {
            let c = if c.is_control() { ' ' } else { c };
            let w = UnicodeWidthChar::width(c).unwrap_or(0);
            if used + w > width && !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
                used = 0;
            }
            cur.push(c);
            used += w;
        }
        out.push(cur);
    }
    out
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}
