//! The workspace's list overlays: the command palette (workspace actions and the chat's slash
//! commands), the session picker and the chat picker. Each is a [`Picker`]: a query typed by
//! the user, the rows that fuzzy-match it, and what choosing a row means ([`Choice`]); the
//! workspace carries the choice out.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use crate::core::store::SessionSummary;
use crate::tui::fuzzy;
use crate::tui::keymap::{Action, Keymap};
use crate::tui::panes::chat::slash;
use crate::tui::panes::{fit, fit_right, one_line, truncate};
use crate::tui::theme::Theme;

/// What choosing a row does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    Action(Action),
    /// A chat slash command (`model`, `approval`, …): typed into the chat's composer.
    Slash(&'static str),
    Session(String),
    Chat {
        chat_id: String,
        session_id: String,
    },
}

#[derive(Debug, Clone)]
struct Row {
    label: String,
    /// Shown dimmed at the right (keys, an id prefix).
    hint: String,
    /// What the query is matched against.
    search: String,
    choice: Choice,
}

/// What a key did to a picker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PickerKey {
    Stay,
    Close,
    Chosen(Choice),
}

pub struct Picker {
    /// The status line's mode while it is open.
    pub mode: &'static str,
    title: &'static str,
    empty: &'static str,
    query: String,
    selected: usize,
    rows: Vec<Row>,
}

impl Picker {
    fn new(mode: &'static str, title: &'static str, empty: &'static str, rows: Vec<Row>) -> Self {
        Picker {
            mode,
            title,
            empty,
            query: String::new(),
            selected: 0,
            rows,
        }
    }

    /// Every workspace action (with its keys) and every chat slash command.
    pub fn palette(keymap: &Keymap) -> Picker {
        let actions = Action::ALL
            .into_iter()
            .filter(|a| *a != Action::Palette)
            .map(|a| Row {
                label: a.description().to_string(),
                hint: keymap
                    .describe_keys(a)
                    .split(", ")
                    .next()
                    .unwrap_or("")
                    .to_string(),
                search: format!("{} {}", a.description(), a.name().replace('_', " ")),
                choice: Choice::Action(a),
            });
        let commands = slash::COMMANDS.iter().map(|(name, arg, desc)| Row {
            label: format!("/{name} {arg}").trim_end().to_string(),
            hint: desc.to_string(),
            search: format!("/{name} {desc}"),
            choice: Choice::Slash(name),
        });
        Picker::new(
            "PALETTE",
            " Command palette · Enter runs · Esc closes ",
            "no matching action or command",
            actions.chain(commands).collect(),
        )
    }

    /// The project's sessions, newest first; the current one is marked `●`.
    pub fn sessions(sessions: Vec<SessionSummary>, current: &str) -> Picker {
        let rows = sessions
            .into_iter()
            .map(|s| {
                let chats = s.chats.len();
                let label = format!(
                    "{}{} · {chats} chat{} · {}",
                    untitled(&s.session.title),
                    if s.session.id == current { " ●" } else { "" },
                    if chats == 1 { "" } else { "s" },
                    short_date(&s.session.updated_at),
                );
                Row {
                    search: label.clone(),
                    label,
                    hint: short_id(&s.session.id),
                    choice: Choice::Session(s.session.id),
                }
            })
            .collect();
        Picker::new(
            "SESSIONS",
            " Sessions · Enter opens · Esc closes ",
            "no matching session",
            rows,
        )
    }

    /// Every chat of every session of the project, most recently active first; chats of the
    /// current session are marked `●`.
    pub fn chats(sessions: Vec<SessionSummary>, current: &str) -> Picker {
        let mut chats: Vec<(String, Row)> = Vec::new();
        for s in sessions {
            let session_title = untitled(&s.session.title);
            for c in s.chats {
                let turns = c.turns;
                let kind = match c.chat.kind.as_str() {
                    "main" => String::new(),
                    other => format!(" [{other}]"),
                };
                let label = format!(
                    "{}{kind}{} · {turns} turn{} · {} · {}",
                    untitled(&c.chat.title),
                    if s.session.id == current { " ●" } else { "" },
                    if turns == 1 { "" } else { "s" },
                    short_date(&c.chat.updated_at),
                    c.chat.model,
                );
                let row = Row {
                    search: format!("{label} {session_title}"),
                    label,
                    hint: session_title.clone(),
                    choice: Choice::Chat {
                        chat_id: c.chat.id,
                        session_id: s.session.id.clone(),
                    },
                };
                chats.push((c.chat.updated_at, row));
            }
        }
        chats.sort_by(|a, b| b.0.cmp(&a.0));
        Picker::new(
            "CHATS",
            " Chats · Enter opens in a pane · Esc closes ",
            "no matching chat",
            chats.into_iter().map(|(_, row)| row).collect(),
        )
    }

    fn ranked(&self) -> Vec<usize> {
        let search: Vec<&str> = self.rows.iter().map(|r| r.search.as_str()).collect();
        fuzzy::rank(&self.query, &search)
    }

    pub fn key(&mut self, key: KeyEvent) -> PickerKey {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Esc => return PickerKey::Close,
            KeyCode::Char('c') if ctrl => return PickerKey::Close,
            // Ctrl-U clears the query, as in a shell or a readline prompt.
            KeyCode::Char('u') if ctrl => {
                self.query.clear();
                self.selected = 0;
            }
            KeyCode::Char(_) if ctrl => {}
            KeyCode::Enter => {
                return match self.ranked().get(self.selected) {
                    Some(&i) => PickerKey::Chosen(self.rows[i].choice.clone()),
                    None => PickerKey::Close,
                }
            }
            KeyCode::Up => self.selected = self.selected.saturating_sub(1),
            KeyCode::Down | KeyCode::Tab => {
                let count = self.ranked().len();
                self.selected = (self.selected + 1).min(count.saturating_sub(1));
            }
            KeyCode::Backspace => {
                self.query.pop();
                self.selected = 0;
            }
            KeyCode::Char(c) => {
                self.query.push(c);
                self.selected = 0;
            }
            _ => {}
        }
        PickerKey::Stay
    }

    pub fn paste(&mut self, text: &str) {
        self.query.push_str(&one_line(text));
        self.selected = 0;
    }

    pub fn draw(&self, frame: &mut Frame<'_>, area: Rect, t: &Theme) {
        let rect = overlay_box(area, 76, 16);
        let inner = framed(frame, rect, self.title, t);
        if inner.height == 0 {
            return;
        }
        let width = inner.width as usize;
        let prompt = Line::from(vec![
            Span::styled("> ", t.accent),
            Span::raw(truncate(&self.query, width.saturating_sub(3))),
            Span::styled("▏", t.accent),
        ]);
        let mut lines = vec![prompt];
        let ranked = self.ranked();
        if ranked.is_empty() {
            lines.push(Line::styled(truncate(self.empty, width), t.dim));
        }
        let room = inner.height.saturating_sub(1) as usize;
        let top = self.selected.saturating_sub(room.saturating_sub(1));
        for (pos, &i) in ranked.iter().enumerate().skip(top).take(room) {
            let row = &self.rows[i];
            // The label keeps at least half the width; the hint gets what is left.
            let hint_w = row.hint.width().min(width / 2);
            let label_w = width.saturating_sub(hint_w + usize::from(hint_w > 0));
            let mut line = Line::from(vec![
                Span::raw(fit(&row.label, label_w)),
                Span::raw(if hint_w > 0 { " " } else { "" }),
                Span::styled(fit_right(&row.hint, hint_w), t.dim),
            ]);
            if pos == self.selected {
                line = line.patch_style(t.selection);
            }
            lines.push(line);
        }
        frame.render_widget(Paragraph::new(lines), inner);
    }
}

fn untitled(title: &str) -> String {
    if title.trim().is_empty() {
        "(untitled)".to_string()
    } else {
        one_line(title)
    }
}

/// `2026-11-30T10:24:10.123Z` → `2026-11-30 10:24`.
fn short_date(rfc3339: &str) -> String {
    rfc3339.get(..16).unwrap_or(rfc3339).replace('T', " ")
}

fn short_id(id: &str) -> String {
    id.get(..8).unwrap_or(id).to_string()
}

/// A centred box for an overlay.
pub fn overlay_box(area: Rect, want_w: u16, want_h: u16) -> Rect {
    let w = want_w
        .min(area.width.saturating_sub(2))
        .max(area.width.min(10));
    let h = want_h
        .min(area.height.saturating_sub(1))
        .max(area.height.min(3));
    Rect::new(
        area.x + area.width.saturating_sub(w) / 2,
        area.y + area.height.saturating_sub(h) / 2,
        w,
        h,
    )
}

/// Clears `rect`, draws a titled border and returns the area inside it.
pub fn framed(frame: &mut Frame<'_>, rect: Rect, title: &str, t: &Theme) -> Rect {
    frame.render_widget(Clear, rect);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border_focused)
        .title(Span::styled(title, t.title_focused));
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    inner
}
