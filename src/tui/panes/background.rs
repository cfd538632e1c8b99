//! Background agents pane: every background task of the session with its status, elapsed or
//! total time and model. `c` cancels a running or pending task, `r` retries a failed or
//! cancelled one, `Enter` opens the task's chat in its own pane.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::{
    error_lines, fit, fit_right, fmt_ms, keep_visible, millis_between, millis_since, one_line,
    truncate,
};
use crate::core::events::{Command, Event};
use crate::core::store::Task;
use crate::tui::pane::{AppAction, KeyOutcome, Pane, PaneContext, PaneSpec};
use crate::tui::theme::Theme;

pub struct BackgroundPane {
    tasks: Vec<Task>,
    selected: usize,
    scroll: usize,
    error: Option<String>,
}

impl BackgroundPane {
    pub fn new(ctx: &PaneContext<'_>) -> BackgroundPane {
        let mut pane = BackgroundPane {
            tasks: Vec::new(),
            selected: 0,
            scroll: 0,
            error: None,
        };
        pane.refresh(ctx);
        pane
    }

    fn refresh(&mut self, ctx: &PaneContext<'_>) {
        let keep = self.tasks.get(self.selected).map(|t| t.id.clone());
        match ctx.engine.tasks(Some(ctx.session_id)) {
            Ok(tasks) => {
                self.tasks = tasks;
                self.error = None;
            }
            Err(e) => self.error = Some(format!("{e:#}")),
        }
        if let Some(id) = keep {
            if let Some(pos) = self.tasks.iter().position(|t| t.id == id) {
                self.selected = pos;
            }
        }
        self.selected = self.selected.min(self.tasks.len().saturating_sub(1));
    }

    fn row(&self, task: &Task, t: &Theme, width: usize, selected: bool) -> Line<'static> {
        let (icon, word, style) = badge(&task.status, t);
        let time = match (&task.started_at, &task.finished_at) {
            (Some(s), Some(f)) => fmt_ms(millis_between(s, f)),
            (Some(s), None) => match millis_since(s) / 1000 {
                secs @ 0..=59 => format!("{secs}s"),
                secs => fmt_ms(secs * 1000),
            },
            (None, _) if task.status == "pending" => "queued".into(),
            (None, _) => "–".into(),
        };
        let label = task
            .label
            .clone()
            .filter(|l| !l.trim().is_empty())
            .unwrap_or_else(|| task.input.clone());
        // The name matters most: narrow, the status is its icon alone and the time goes last.
        let (badge_w, badge) = if width >= 44 {
            (12, format!("{icon} {word}"))
        } else {
            (2, icon.to_string())
        };
        // The time and the space before it.
        let time_w = if width >= 24 { 8 } else { 0 };
        let model_w = if width >= 60 { 16 } else { 0 };
        let label_w = width.saturating_sub(badge_w + time_w + model_w + 1);
        let mut spans = vec![
            Span::styled(fit(&badge, badge_w), style),
            Span::raw(fit(&one_line(&label), label_w)),
        ];
        if time_w > 0 {
            spans.push(Span::styled(fit_right(&time, time_w), t.dim));
        }
        if model_w > 0 {
            spans.push(Span::raw(" "));
            spans.push(Span::styled(fit(&task.model, model_w - 1), t.dim));
        }
        let mut line = Line::from(spans);
        if selected {
            line = line.patch_style(t.selection);
        }
        line
    }
}

fn badge<'a>(status: &str, t: &Theme) -> (&'a str, &'a str, ratatui::style::Style) {
    match status {
        "running" => ("●", "running", t.accent),
        "pending" => ("○", "pending", t.dim),
        "completed" => ("✓", "done", t.success),
        "failed" => ("✗", "failed", t.error),
        "cancelled" => ("⊘", "cancelled", t.warning),
        _ => ("?", "unknown", t.dim),
    }
}

impl Pane for BackgroundPane {
    fn spec(&self) -> PaneSpec {
        PaneSpec::Background
    }

    fn title(&self, _ctx: &PaneContext<'_>) -> String {
        let running = self.tasks.iter().filter(|t| t.status == "running").count();
        let pending = self.tasks.iter().filter(|t| t.status == "pending").count();
        format!(
            "Background agents · {} task{} · {running} running · {pending} queued",
            self.tasks.len(),
            if self.tasks.len() == 1 { "" } else { "s" }
        )
    }

    fn render(&mut self, frame: &mut Frame<'_>, area: Rect, ctx: &PaneContext<'_>, focused: bool) {
        if area.width == 0 || area.height == 0 {
            return;
        }
        let t = ctx.theme;
        let width = area.width as usize;
        let footer_h = u16::from(area.height >= 4);
        let mut lines: Vec<Line<'static>> = Vec::new();
        if let Some(e) = &self.error {
            lines.push(Line::styled(truncate(&format!("⚠ {e}"), width), t.error));
        }
        // The selected task's error, wrapped under the list (its chat has it whole).
        let detail = match self.tasks.get(self.selected).and_then(|t| t.error.as_ref()) {
            Some(e) if area.height >= 6 => {
                let max = (area.height as usize - 2) / 2;
                error_lines(e, t, width, max, "(Enter: its chat)")
            }
            _ => Vec::new(),
        };
        let room = (area.height - footer_h) as usize - lines.len().min(1) - detail.len();
        if self.tasks.is_empty() {
            lines.push(Line::styled(
                truncate("No background tasks in this session.", width),
                t.dim,
            ));
        } else {
            keep_visible(&mut self.scroll, self.selected, room);
            for (i, task) in self.tasks.iter().enumerate().skip(self.scroll).take(room) {
                lines.push(self.row(task, t, width, focused && i == self.selected));
            }
            lines.extend(detail);
        }
        let body_h = area.height - footer_h;
        frame.render_widget(
            Paragraph::new(lines),
            Rect::new(area.x, area.y, area.width, body_h),
        );
        if footer_h > 0 {
            let hint = truncate("Enter open chat · c cancel · r retry · j/k move", width);
            frame.render_widget(
                Paragraph::new(Line::styled(hint, t.dim)),
                Rect::new(area.x, area.y + body_h, area.width, 1),
            );
        }
    }

    fn handle_key(&mut self, key: KeyEvent, _ctx: &PaneContext<'_>) -> KeyOutcome {
        let last = self.tasks.len().saturating_sub(1);
        match key.code {
            KeyCode::Up | KeyCode::Char('k') => self.selected = self.selected.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => self.selected = (self.selected + 1).min(last),
            KeyCode::Home | KeyCode::Char('g') => self.selected = 0,
            KeyCode::End | KeyCode::Char('G') => self.selected = last,
            KeyCode::Char('c') | KeyCode::Delete => {
                let Some(task) = self.tasks.get(self.selected) else {
                    return KeyOutcome::Consumed;
                };
                if !matches!(task.status.as_str(), "running" | "pending") {
                    return KeyOutcome::Actions(vec![AppAction::Notice(format!(
                        "task is {}: only running or queued tasks can be cancelled",
                        task.status
                    ))]);
                }
                return KeyOutcome::Actions(vec![AppAction::Engine(Command::CancelTask {
                    task_id: task.id.clone(),
                })]);
            }
            KeyCode::Char('r') => {
                let Some(task) = self.tasks.get(self.selected) else {
                    return KeyOutcome::Consumed;
                };
                if !matches!(task.status.as_str(), "failed" | "cancelled") {
                    return KeyOutcome::Actions(vec![AppAction::Notice(format!(
                        "task is {}: only failed or cancelled tasks can be retried",
                        task.status
                    ))]);
                }
                return KeyOutcome::Actions(vec![AppAction::Engine(Command::RetryTask {
                    task_id: task.id.clone(),
                })]);
            }
            KeyCode::Enter => {
                let Some(task) = self.tasks.get(self.selected) else {
                    return KeyOutcome::Consumed;
                };
                return match &task.chat_id {
                    Some(chat_id) => KeyOutcome::Actions(vec![AppAction::OpenChat {
                        chat_id: chat_id.clone(),
                    }]),
                    None => KeyOutcome::Actions(vec![AppAction::Notice(
                        "this task has not started a chat yet".into(),
                    )]),
                };
            }
            _ => return KeyOutcome::Ignored,
        }
        KeyOutcome::Consumed
    }

    fn on_event(&mut self, event: &Event, ctx: &PaneContext<'_>) -> bool {
        if matches!(event, Event::TaskUpdated { .. }) {
            self.refresh(ctx);
            return true;
        }
        false
    }

    /// Running tasks show a ticking elapsed time.
    fn is_animating(&self) -> bool {
        self.tasks.iter().any(|t| t.status == "running")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::store::NewTask;
    use crate::tui::test_support::{ctx_for, render_pane, TestEngine};

    fn task(t: &TestEngine, label: &str) -> Task {
        t.engine
            .store()
            .create_task(&NewTask {
                session_id: &t.session.id,
                parent_chat_id: Some(&t.chat.id),
                label: Some(label),
                input: "do the thing",
                model: "mock-model",
                agent: "general-purpose",
            })
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn background_pane_snapshots_and_actions() {
        let t = TestEngine::new();
        // Stop the workers so the tasks stay as the test leaves them.
        t.engine.shutdown();
        let a = task(&t, "review the parser");
        let b = task(
            &t,
            "日本語のラベル 🚀 with a label long enough to be cut at forty columns",
        );
        t.engine.store().cancel_task(&a.id).unwrap();
        let ctx = ctx_for(&t, None);
        let mut pane = BackgroundPane::new(&ctx);
        insta::assert_snapshot!("background_wide", render_pane(&mut pane, &ctx, 80, 8));
        insta::assert_snapshot!("background_narrow", render_pane(&mut pane, &ctx, 40, 8));
        // Between split panes at 80 columns the names still show.
        let thin = render_pane(&mut pane, &ctx, 26, 8);
        assert!(thin.contains("⊘ review the par"), "{thin}");
        // Newest first: b (pending) is selected.
        let out = pane.handle_key(KeyEvent::from(KeyCode::Char('c')), &ctx);
        assert_eq!(
            out,
            KeyOutcome::Actions(vec![AppAction::Engine(Command::CancelTask {
                task_id: b.id.clone()
            })])
        );
        pane.handle_key(KeyEvent::from(KeyCode::Down), &ctx);
        let out = pane.handle_key(KeyEvent::from(KeyCode::Char('r')), &ctx);
        assert_eq!(
            out,
            KeyOutcome::Actions(vec![AppAction::Engine(Command::RetryTask {
                task_id: a.id.clone()
            })])
        );
        let out = pane.handle_key(KeyEvent::from(KeyCode::Enter), &ctx);
        assert!(matches!(out, KeyOutcome::Actions(ref v) if matches!(v[0], AppAction::Notice(_))));
        t.engine.store().set_task_chat(&a.id, &t.chat.id).unwrap();
        assert!(pane.on_event(
            &Event::TaskUpdated {
                task_id: a.id.clone(),
                status: "cancelled".into(),
                label: None,
                chat_id: None
            },
            &ctx
        ));
        let out = pane.handle_key(KeyEvent::from(KeyCode::Enter), &ctx);
        assert_eq!(
            out,
            KeyOutcome::Actions(vec![AppAction::OpenChat {
                chat_id: t.chat.id.clone()
            }])
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_long_error_wraps_instead_of_being_cut() {
        let t = TestEngine::new();
        t.engine.shutdown();
        let a = task(&t, "fetch the docs");
        let store = t.engine.store();
        store
            .claim_next_task(&t.engine.rt.project_id, 1, || false)
            .unwrap();
        let error = "the model returned an error: 429 rate limited, retry after 30 s (tier 1)";
        store
            .finish_task(&a.id, "failed", None, Some(error))
            .unwrap();
        let ctx = ctx_for(&t, None);
        let mut pane = BackgroundPane::new(&ctx);
        let text = render_pane(&mut pane, &ctx, 40, 10);
        let joined: String = text.lines().map(str::trim).collect::<Vec<_>>().join(" ");
        let start = joined.find("error:").expect("the error shows");
        let end = joined.find("Enter open chat").expect("the footer");
        let shown = &joined[start..end];
        assert!(shown.contains("(tier 1)") && !shown.contains('…'), "{text}");
    }
}
