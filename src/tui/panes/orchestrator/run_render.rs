//! Drawing the run view: progress, the phase → agent tree and the log.

use chrono::{DateTime, Utc};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use serde_json::Value;
use unicode_width::UnicodeWidthStr;

use super::super::{
    error_lines, fit, fit_right, fmt_ms, fmt_tokens, keep_visible, one_line, truncate,
};
use super::list::run_badge;
use super::run_view::{AgentNode, LogKind, RunView, TreeRow};
use super::{row_line, Mode, OrchestratorPane};
use crate::core::workflow::report::result_markdown;
use crate::tui::markdown::{self, wrap_spans};
use crate::tui::pane::PaneContext;
use crate::tui::theme::Theme;

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

impl OrchestratorPane {
    pub(super) fn render_run(&mut self, frame: &mut Frame<'_>, area: Rect, ctx: &PaneContext<'_>) {
        let now = self.now();
        let Mode::Run(view) = &self.mode else {
            return;
        };
        let t = ctx.theme;
        let width = area.width as usize;
        let spin = SPINNER[(ctx.tick % SPINNER.len() as u64) as usize];
        let footer_h = u16::from(area.height >= 4);
        let mut y = area.y;
        // Progress line.
        let p = view.progress();
        let (icon, style) = if view.is_live() {
            (spin, t.accent)
        } else {
            run_badge(&view.status, t)
        };
        let elapsed = view
            .started
            .map(|s| fmt_ms(millis(s, view.finished.unwrap_or(now))))
            .unwrap_or_else(|| "–".into());
        let mut progress = format!("{}/{} agents", p.done, p.total);
        if p.cached > 0 {
            progress.push_str(&format!(" · {} cached", p.cached));
        }
        if p.failed > 0 {
            progress.push_str(&format!(" · {} failed", p.failed));
        }
        progress.push_str(&format!(
            " · {} tokens · {elapsed}",
            fmt_tokens(view.tokens())
        ));
        let head = Line::from(vec![
            Span::styled(format!("{icon} {} ", view.status), style),
            Span::raw(truncate(
                &progress,
                width.saturating_sub(view.status.width() + 3),
            )),
        ]);
        frame.render_widget(Paragraph::new(head), Rect::new(area.x, y, area.width, 1));
        y += 1;
        let rest = area.height.saturating_sub(1 + footer_h) as usize;
        let log_h = if rest >= 7 { (rest * 2 / 5).max(3) } else { 0 };
        let mut tree_h = rest - log_h;
        // The selected agent's error under the tree.
        let selected = self
            .agent
            .as_ref()
            .and_then(|id| view.agents.iter().find(|a| &a.id == id));
        let detail = selected
            .and_then(|a| a.error.as_ref())
            .filter(|_| tree_h >= 4)
            .map(|e| error_lines(e, t, width, tree_h / 3, "(whole in the log)"))
            .unwrap_or_default();
        tree_h -= detail.len();
        // Tree; room it does not need goes to the log.
        let rows = view.tree();
        let mut log_h = log_h;
        if log_h > 0 && rows.len().max(1) < tree_h {
            log_h += tree_h - rows.len().max(1);
            tree_h = rows.len().max(1);
        }
        let sel_row = rows.iter().position(
            |r| matches!(r, TreeRow::Agent(i) if Some(&view.agents[*i].id) == self.agent.as_ref()),
        );
        if let Some(s) = sel_row {
            keep_visible(&mut self.tree_scroll, s, tree_h);
        }
        self.tree_scroll = self
            .tree_scroll
            .min(rows.len().saturating_sub(tree_h.max(1)));
        let mut lines: Vec<Line<'static>> = Vec::new();
        if rows.is_empty() {
            lines.push(Line::styled(truncate("  no agents yet", width), t.dim));
        }
        for (i, row) in rows.iter().enumerate().skip(self.tree_scroll).take(tree_h) {
            lines.push(match row {
                TreeRow::Phase { title, done, total } => phase_row(title, *done, *total, t, width),
                TreeRow::Agent(a) => {
                    agent_row(&view.agents[*a], t, width, spin, now, Some(i) == sel_row)
                }
            });
        }
        frame.render_widget(
            Paragraph::new(lines),
            Rect::new(area.x, y, area.width, tree_h as u16),
        );
        y += tree_h as u16;
        let detail_h = detail.len() as u16;
        frame.render_widget(
            Paragraph::new(detail),
            Rect::new(area.x, y, area.width, detail_h),
        );
        y += detail_h;
        // Log (wrapped) and then the result: newest at the bottom, following the tail unless
        // scrolled back; a run that just ended shows its result from the top.
        if log_h > 0 {
            let body = log_h - 1;
            let result = view
                .result
                .as_ref()
                .filter(|_| view.status == "completed")
                .map(|r| result_lines(r, t, width))
                .unwrap_or_default();
            if self.pin_result && !result.is_empty() {
                let end_h = view
                    .log
                    .last()
                    .map_or(0, |l| log_entry_lines(&l.text, l.kind, t, width).len());
                self.log_back = (result.len() + end_h).saturating_sub(body);
            }
            let (lines, log_back) = log_window(view, result, t, width, body, self.log_back);
            self.log_back = log_back;
            let label = if self.log_back > 0 {
                format!("─ log (↑{}) ", self.log_back)
            } else {
                "─ log ".to_string()
            };
            let sep = format!("{label}{}", "─".repeat(width.saturating_sub(label.width())));
            frame.render_widget(
                Paragraph::new(Line::styled(truncate(&sep, width), t.border)),
                Rect::new(area.x, y, area.width, 1),
            );
            y += 1;
            frame.render_widget(
                Paragraph::new(lines),
                Rect::new(area.x, y, area.width, body as u16),
            );
            y += body as u16;
        }
        if footer_h > 0 {
            let hint = "Enter chat · c cancel · r retry · R resume · PgUp/PgDn log · Esc back";
            frame.render_widget(
                Paragraph::new(Line::styled(truncate(hint, width), t.dim)),
                Rect::new(area.x, y.max(area.y + area.height - 1), area.width, 1),
            );
        }
    }
}

/// A run's result as the run view shows it: markdown when it is a string, else pretty JSON.
fn result_lines(result: &Value, t: &Theme, width: usize) -> Vec<Line<'static>> {
    let mut lines = vec![Line::styled(truncate("result:", width), t.heading)];
    lines.extend(markdown::render(&result_markdown(result), width, t));
    lines
}

fn log_entry_lines(text: &str, kind: LogKind, t: &Theme, width: usize) -> Vec<Line<'static>> {
    let style = match kind {
        LogKind::Info => t.text,
        LogKind::Phase => t.heading,
        LogKind::Run => t.dim,
        LogKind::Error => t.error,
    };
    // Continuation lines are indented so each entry reads as one.
    wrap_spans(
        &[Span::styled(text.to_string(), style)],
        width,
        &[],
        &[Span::raw("  ")],
    )
}

/// The `body` lines of the log followed by `result`, `back` lines up from the bottom (clamped
/// to what there is; returned with the lines). Only the entries the window reaches are wrapped.
fn log_window(
    view: &RunView,
    result: Vec<Line<'static>>,
    t: &Theme,
    width: usize,
    body: usize,
    back: usize,
) -> (Vec<Line<'static>>, usize) {
    let need = back + body;
    let mut newest_first: Vec<Vec<Line<'static>>> = Vec::new();
    let mut have = result.len();
    for entry in view.log.iter().rev() {
        if have >= need {
            break;
        }
        let wrapped = log_entry_lines(&entry.text, entry.kind, t, width);
        have += wrapped.len();
        newest_first.push(wrapped);
    }
    let mut lines: Vec<Line<'static>> = newest_first.into_iter().rev().flatten().collect();
    lines.extend(result);
    let back = back.min(lines.len().saturating_sub(body));
    let end = lines.len() - back;
    let start = end.saturating_sub(body);
    (lines.drain(start..end).collect(), back)
}

fn millis(a: DateTime<Utc>, b: DateTime<Utc>) -> u64 {
    (b - a).num_milliseconds().max(0) as u64
}
fn phase_row(title: &str, done: usize, total: usize, t: &Theme, width: usize) -> Line<'static> {
    let count = format!(" {done}/{total}");
    let title_w = width.saturating_sub(count.width() + 2);
    Line::from(vec![
        Span::styled("▾ ", t.dim),
        Span::styled(truncate(&one_line(title), title_w), t.heading),
        Span::styled(count, t.dim),
    ])
}

pub(super) fn status_word(a: &AgentNode) -> &'static str {
    match a.status.as_str() {
        "pending" => "queued",
        "running" => "running",
        "completed" if a.cached => "cached",
        "completed" => "completed",
        "failed" => "failed",
        "cancelled" => "cancelled",
        "interrupted" => "interrupted",
        _ => "unknown",
    }
}

fn agent_row(
    a: &AgentNode,
    t: &Theme,
    width: usize,
    spin: &'static str,
    now: DateTime<Utc>,
    selected: bool,
) -> Line<'static> {
    let (icon, style) = match a.status.as_str() {
        "running" => (spin, t.accent),
        "pending" => ("○", t.dim),
        "completed" if a.cached => ("✓", t.success.patch(t.dim)),
        "completed" => ("✓", t.success),
        "failed" => ("✗", t.error),
        "cancelled" => ("⊘", t.warning),
        "interrupted" => ("◌", t.warning),
        _ => ("?", t.dim),
    };
    let elapsed = match (a.started, a.finished) {
        _ if a.cached => "–".to_string(),
        (Some(s), Some(f)) => fmt_ms(millis(s, f)),
        (Some(s), None) if a.status == "running" => match millis(s, now) / 1000 {
            secs @ 0..=59 => format!("{secs}s"),
            secs => fmt_ms(secs * 1000),
        },
        _ => "–".to_string(),
    };
    let status_w = 12;
    let time_w = if width >= 36 { 7 } else { 0 };
    let tokens_w = if width >= 48 { 7 } else { 0 };
    let label_w = width.saturating_sub(4 + status_w + time_w + tokens_w);
    let mut spans = vec![
        Span::styled(format!("  {icon} "), style),
        Span::raw(fit(&a.label, label_w)),
        Span::styled(fit_right(status_word(a), status_w), style),
    ];
    if time_w > 0 {
        spans.push(Span::styled(fit_right(&elapsed, time_w), t.dim));
    }
    if tokens_w > 0 {
        let tokens = if a.tokens > 0 || a.is_done() {
            fmt_tokens(a.tokens)
        } else {
            "–".into()
        };
        spans.push(Span::styled(fit_right(&tokens, tokens_w), t.dim));
    }
    row_line(spans, t, selected)
}
