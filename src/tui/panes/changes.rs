//! Changes pane (`prefix d`): every pending change of the project across chats — native
//! review-mode edits and changes captured from agent worktrees — with its source agent, file,
//! size, collisions, and the selected one's diff below the list.
//!
//! Decisions take Ctrl chords, as on the chat's decision line, so keys typed into the wrong
//! pane never decide anything: Ctrl-Y applies the selected change, Ctrl-N rejects it. `A` /
//! `R` ask to apply / reject all of them, and only Ctrl-Y answers yes.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::{fit, fit_right, keep_visible, one_line, truncate};
use crate::core::changes::{collision_count, ChangeView};
use crate::core::collisions::Severity;
use crate::core::engine::Engine;
use crate::core::events::{Command, Event};
use crate::tui::diff::render_diff;
use crate::tui::pane::{AppAction, KeyOutcome, Pane, PaneContext, PaneSpec};
use crate::tui::theme::Theme;

/// The pane's keys, in the help overlay.
pub const HELP_LINES: [&str; 2] = [
    "In the changes pane: Ctrl-Y apply, Ctrl-N reject, A / R all",
    "(only Ctrl-Y confirms), PgUp/PgDn scroll the diff.",
];

pub struct ChangesPane {
    changes: Vec<ChangeView>,
    selected: usize,
    scroll: usize,
    diff_scroll: usize,
    /// `Some(apply)` while asking whether to apply (true) or reject all changes.
    confirm_all: Option<bool>,
    error: Option<String>,
}

impl ChangesPane {
    pub fn new(ctx: &PaneContext<'_>) -> ChangesPane {
        let mut pane = ChangesPane {
            changes: Vec::new(),
            selected: 0,
            scroll: 0,
            diff_scroll: 0,
            confirm_all: None,
            error: None,
        };
        pane.refresh(ctx);
        pane
    }

    fn refresh(&mut self, ctx: &PaneContext<'_>) {
        let keep = self.changes.get(self.selected).map(|c| c.change.id.clone());
        match ctx.engine.project_changes() {
            Ok(changes) => {
                self.changes = changes;
                self.error = None;
            }
            Err(e) => self.error = Some(format!("{e:#}")),
        }
        let kept = keep.and_then(|id| self.changes.iter().position(|c| c.change.id == id));
        match kept {
            Some(pos) => self.selected = pos,
            None => self.diff_scroll = 0,
        }
        self.selected = self.selected.min(self.changes.len().saturating_sub(1));
    }

    fn row(&self, view: &ChangeView, t: &Theme, width: usize, selected: bool) -> Line<'static> {
        let c = &view.change;
        let size = view.size_label();
        let file = view.file_label();
        let mark = match view.collisions.first().map(|x| x.severity) {
            Some(Severity::SameLine) => ("!", t.error),
            Some(Severity::AdjacentLine) => ("!", t.warning),
            Some(Severity::DifferentArea) => ("·", t.dim),
            None => (" ", t.dim),
        };
        let agent_w = if width >= 50 { 12 } else { 0 };
        let size_w = if width >= 30 { 10 } else { 0 };
        let file_w = width.saturating_sub(2 + agent_w + size_w);
        let mut spans = vec![
            Span::styled(format!("{} ", mark.0), mark.1),
            Span::raw(fit(&one_line(&file), file_w)),
        ];
        if size_w > 0 {
            spans.push(Span::styled(fit_right(&size, size_w - 1), t.dim));
            spans.push(Span::raw(" "));
        }
        if agent_w > 0 {
            spans.push(Span::styled(
                fit(&one_line(&c.source_agent), agent_w),
                t.accent,
            ));
        }
        let mut line = Line::from(spans);
        if selected {
            line = line.patch_style(t.selection);
        }
        line
    }

    /// The selected change's details: kind, source, its collisions, then its diff.
    fn detail(&self, t: &Theme, width: usize) -> Vec<Line<'static>> {
        let Some(view) = self.changes.get(self.selected) else {
            return Vec::new();
        };
        let c = &view.change;
        let mut lines = vec![Line::styled(
            truncate(
                &format!(
                    "{} · {} · {} by {} in chat {}",
                    &c.id[..8.min(c.id.len())],
                    c.content.kind,
                    one_line(&c.content.display_path),
                    one_line(&c.source_agent),
                    &c.chat_id[..8.min(c.chat_id.len())]
                ),
                width,
            ),
            t.dim,
        )];
        for x in &view.collisions {
            let style = severity_style(x.severity, t);
            lines.push(Line::styled(
                truncate(
                    &format!(
                        "⚠ collides ({}) with {} by {}",
                        x.severity.as_str(),
                        &x.change_id[..8.min(x.change_id.len())],
                        one_line(&x.agent)
                    ),
                    width,
                ),
                style,
            ));
        }
        lines.extend(
            render_diff(&c.content.diff, t, None)
                .into_iter()
                .skip(self.diff_scroll),
        );
        lines
    }

    fn decide_selected(&self, apply: bool) -> KeyOutcome {
        match self.changes.get(self.selected) {
            Some(view) => KeyOutcome::Actions(vec![AppAction::Engine(Command::ResolveChange {
                change_id: view.change.id.clone(),
                apply,
            })]),
            None => KeyOutcome::Consumed,
        }
    }

    fn decide_all(&mut self, apply: bool) -> KeyOutcome {
        self.confirm_all = None;
        KeyOutcome::Actions(
            self.changes
                .iter()
                .map(|v| {
                    AppAction::Engine(Command::ResolveChange {
                        change_id: v.change.id.clone(),
                        apply,
                    })
                })
                .collect(),
        )
    }
}

fn severity_style(severity: Severity, t: &Theme) -> Style {
    match severity {
        Severity::SameLine => t.error,
        Severity::AdjacentLine => t.warning,
        Severity::DifferentArea => t.dim,
    }
}

impl Pane for ChangesPane {
    fn spec(&self) -> PaneSpec {
        PaneSpec::Changes
    }

    fn title(&self, _ctx: &PaneContext<'_>) -> String {
        let pairs = collision_count(&self.changes);
        format!(
            "Changes · {} pending · {pairs} collision{}",
            self.changes.len(),
            if pairs == 1 { "" } else { "s" }
        )
    }

    fn render(&mut self, frame: &mut Frame<'_>, area: Rect, ctx: &PaneContext<'_>, focused: bool) {
        if area.width == 0 || area.height == 0 {
            return;
        }
        let t = ctx.theme;
        let width = area.width as usize;
        let footer_h = u16::from(area.height >= 3);
        let body_h = (area.height - footer_h) as usize;
        let mut lines: Vec<Line<'static>> = Vec::new();
        if let Some(e) = &self.error {
            lines.push(Line::styled(truncate(&format!("⚠ {e}"), width), t.error));
        }
        if self.changes.is_empty() {
            lines.push(Line::styled(
                truncate("No pending changes in this project.", width),
                t.dim,
            ));
        } else {
            // The list takes up to half the pane (at least 1 row), the diff the rest.
            let room = body_h.saturating_sub(lines.len());
            let list_h = self.changes.len().min((room / 2).max(1));
            keep_visible(&mut self.scroll, self.selected, list_h);
            for (i, view) in self
                .changes
                .iter()
                .enumerate()
                .skip(self.scroll)
                .take(list_h)
            {
                lines.push(self.row(view, t, width, focused && i == self.selected));
            }
            if room > list_h + 1 {
                lines.push(Line::styled("─".repeat(width), t.dim));
                lines.extend(self.detail(t, width).into_iter().take(room - list_h - 1));
            }
        }
        lines.truncate(body_h);
        frame.render_widget(
            Paragraph::new(lines),
            Rect::new(area.x, area.y, area.width, body_h as u16),
        );
        if footer_h > 0 {
            let (hint, style) = match self.confirm_all {
                Some(apply) => (
                    format!(
                        "{} all {} changes? Ctrl-Y yes · Esc no",
                        if apply { "Apply" } else { "Reject" },
                        self.changes.len()
                    ),
                    t.warning,
                ),
                None => (
                    "C-y apply · C-n reject · A/R all · Enter chat · PgUp/PgDn diff".to_string(),
                    t.dim,
                ),
            };
            frame.render_widget(
                Paragraph::new(Line::styled(truncate(&hint, width), style)),
                Rect::new(area.x, area.y + body_h as u16, area.width, 1),
            );
        }
    }

    fn handle_key(&mut self, key: KeyEvent, _ctx: &PaneContext<'_>) -> KeyOutcome {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if let Some(apply) = self.confirm_all {
            if ctrl && key.code == KeyCode::Char('y') {
                return self.decide_all(apply);
            }
            // Anything else is a no: the question goes and nothing is decided.
            self.confirm_all = None;
            return KeyOutcome::Consumed;
        }
        let last = self.changes.len().saturating_sub(1);
        let before = self.selected;
        match key.code {
            KeyCode::Char('y') if ctrl => return self.decide_selected(true),
            KeyCode::Char('n') if ctrl => return self.decide_selected(false),
            _ if ctrl => return KeyOutcome::Ignored,
            KeyCode::Char(c @ ('A' | 'R')) => {
                if self.changes.is_empty() {
                    return KeyOutcome::Actions(vec![AppAction::Notice(
                        "no pending changes".into(),
                    )]);
                }
                self.confirm_all = Some(c == 'A');
            }
            KeyCode::Up | KeyCode::Char('k') => self.selected = self.selected.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => self.selected = (self.selected + 1).min(last),
            KeyCode::Home | KeyCode::Char('g') => self.selected = 0,
            KeyCode::End | KeyCode::Char('G') => self.selected = last,
            KeyCode::PageDown => self.diff_scroll += 10,
            KeyCode::PageUp => self.diff_scroll = self.diff_scroll.saturating_sub(10),
            KeyCode::Enter => {
                return match self.changes.get(self.selected) {
                    Some(view) => KeyOutcome::Actions(vec![AppAction::OpenChat {
                        chat_id: view.change.chat_id.clone(),
                    }]),
                    None => KeyOutcome::Consumed,
                }
            }
            _ => return KeyOutcome::Ignored,
        }
        if self.selected != before {
            self.diff_scroll = 0;
        }
        KeyOutcome::Consumed
    }

    fn on_event(&mut self, event: &Event, ctx: &PaneContext<'_>) -> bool {
        if is_change_event(event) {
            self.refresh(ctx);
            return true;
        }
        false
    }
}

/// Colliding pairs among the project's pending changes, for the status line (0 when they
/// cannot be read: the changes pane shows the error).
pub fn project_collisions(engine: &Engine) -> usize {
    engine
        .project_changes()
        .map(|views| collision_count(&views))
        .unwrap_or(0)
}

/// The status line's part for `count` (> 0) collisions.
pub fn collisions_label(count: usize) -> String {
    format!(" ⚠ {count} collision{}", if count == 1 { "" } else { "s" })
}

/// Events after which the project's pending changes may differ.
pub fn is_change_event(event: &Event) -> bool {
    matches!(
        event,
        Event::ChangePending { .. } | Event::ChangeResolved { .. } | Event::ChangesCaptured { .. }
    )
}

#[cfg(test)]
mod tests;
