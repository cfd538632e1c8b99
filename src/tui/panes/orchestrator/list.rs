//! Drawing the list view: workflows, the args editor and past runs.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use serde_json::Value;
use unicode_width::UnicodeWidthStr;

use super::super::{fit, fit_right, fmt_tokens, keep_visible, one_line, parse_time, truncate};
use super::args::ArgsEditor;
use super::{row_line, workflow_counts, OrchestratorPane};
use crate::core::store::WorkflowRun;
use crate::core::workflow::args::args_summary;
use crate::core::workflow::WorkflowEntry;
use crate::tui::theme::Theme;

/// The list shows the selected workflow's details from this pane height on.
const DETAILS_MIN_HEIGHT: u16 = 16;
/// Lines of details at most.
const DETAILS_MAX_LINES: usize = 3;

impl OrchestratorPane {
    pub(super) fn render_list(
        &mut self,
        frame: &mut Frame<'_>,
        area: Rect,
        t: &Theme,
        editing: bool,
    ) {
        let width = area.width as usize;
        let footer_h = u16::from(area.height >= 4);
        let editor_h: u16 = if area.height >= 8 {
            2
        } else {
            u16::from(editing && area.height >= 3)
        };
        // The selected workflow in full, when there is room for it under the list.
        let details = if area.height >= DETAILS_MIN_HEIGHT {
            self.details_lines(t, width)
        } else {
            Vec::new()
        };
        let details_h = details.len() as u16;
        let body_h = area.height.saturating_sub(footer_h + editor_h + details_h) as usize;
        let mut lines: Vec<Line<'static>> = Vec::new();
        let mut selected_line = 0;
        if let Some(e) = &self.error {
            lines.push(Line::styled(truncate(&format!("⚠ {e}"), width), t.error));
        }
        let heading = match workflow_counts(&self.workflows) {
            (valid, 0) => format!("Workflows ({valid})"),
            (valid, invalid) => format!("Workflows ({valid} · {invalid} invalid)"),
        };
        lines.push(Line::styled(truncate(&heading, width), t.heading));
        let name_w = self
            .workflows
            .iter()
            .map(|w| w.name.width())
            .max()
            .unwrap_or(4)
            .clamp(4, 22)
            .min(width / 3);
        let source_w = if width >= 36 { 9 } else { 0 };
        for (i, w) in self.workflows.iter().enumerate() {
            let selected = i == self.selected;
            if selected {
                selected_line = lines.len();
            }
            lines.push(workflow_row(w, t, width, name_w, source_w, selected));
        }
        if self.workflows.is_empty() {
            lines.push(Line::styled(truncate("  no workflows found", width), t.dim));
        }
        lines.push(Line::styled(
            truncate(&format!("Runs ({})", self.runs.len()), width),
            t.heading,
        ));
        for (i, r) in self.runs.iter().enumerate() {
            let selected = self.workflows.len() + i == self.selected;
            if selected {
                selected_line = lines.len();
            }
            lines.push(run_row(r, t, width, selected));
        }
        if self.runs.is_empty() {
            lines.push(Line::styled(truncate("  no runs yet", width), t.dim));
        }
        keep_visible(&mut self.scroll, selected_line, body_h);
        // Show the section headings when the selection allows.
        if self.scroll > 0 && lines.len() <= body_h {
            self.scroll = 0;
        }
        let shown: Vec<Line<'static>> = lines.into_iter().skip(self.scroll).take(body_h).collect();
        frame.render_widget(
            Paragraph::new(shown),
            Rect::new(area.x, area.y, area.width, body_h as u16),
        );
        let mut y = area.y + body_h as u16;
        for line in details {
            frame.render_widget(Paragraph::new(line), Rect::new(area.x, y, area.width, 1));
            y += 1;
        }
        if editor_h > 0 {
            let editor_lines = self.editor_lines(t, width, editing);
            for line in editor_lines.into_iter().take(editor_h as usize) {
                frame.render_widget(Paragraph::new(line), Rect::new(area.x, y, area.width, 1));
                y += 1;
            }
        }
        if footer_h > 0 {
            let hint = if editing {
                "type JSON or plain text · Enter run · Esc done · C-u clear"
            } else {
                "Enter args/open run · a args · j/k move · u refresh"
            };
            frame.render_widget(
                Paragraph::new(Line::styled(truncate(hint, width), t.dim)),
                Rect::new(area.x, y, area.width, 1),
            );
        }
    }

    /// The selected workflow's description, when to use it and its phases, wrapped, at most
    /// `DETAILS_MAX_LINES` (the list row cuts the description to one line).
    fn details_lines(&self, t: &Theme, width: usize) -> Vec<Line<'static>> {
        let Some(w) = self.selected_workflow().filter(|w| w.error.is_none()) else {
            return Vec::new();
        };
        let mut text = one_line(w.description.as_deref().unwrap_or(""));
        if let Some(when) = &w.when_to_use {
            text.push_str(&format!(" When: {}", one_line(when)));
        }
        if !w.phases.is_empty() {
            text.push_str(&format!(" Phases: {}.", one_line(&w.phases.join(" → "))));
        }
        let text = text.trim();
        if text.is_empty() {
            return Vec::new();
        }
        let mut lines = crate::tui::markdown::wrap_plain(text, t.dim, width);
        if lines.len() > DETAILS_MAX_LINES {
            lines.truncate(DETAILS_MAX_LINES);
            if let Some(last) = lines.last_mut() {
                let shown: String = last.spans.iter().map(|s| s.content.as_ref()).collect();
                let cut = truncate(&format!("{shown} …"), width);
                *last = Line::styled(cut, t.dim);
            }
        }
        lines
    }

    /// The args editor line and its validation line.
    fn editor_lines(&self, t: &Theme, width: usize, editing: bool) -> Vec<Line<'static>> {
        let Some(w) = self.selected_workflow() else {
            return vec![Line::styled(
                truncate("args: select a workflow to run", width),
                t.dim,
            )];
        };
        if let Some(e) = &w.error {
            return vec![
                Line::styled(truncate(&format!("{} cannot run", w.name), width), t.dim),
                Line::styled(truncate(&format!("✗ {}", one_line(e)), width), t.error),
            ];
        }
        let empty = ArgsEditor::default();
        let editor = self.editor_ref(&w.name).unwrap_or(&empty);
        let prefix = format!("args {} › ", w.name);
        let prefix = truncate(&prefix, width / 2);
        let room = width.saturating_sub(prefix.width() + 1);
        let mut spans = vec![Span::styled(prefix, if editing { t.accent } else { t.dim })];
        if editor.text.is_empty() && !editing {
            spans.push(Span::styled(truncate("(empty = no args)", room), t.dim));
        } else {
            // Keep the cursor in view: show the tail when the text is longer than the room.
            let chars: Vec<char> = editor.text.chars().collect();
            let cursor = editor.cursor.min(chars.len());
            let mut start = 0;
            while start < cursor && chars[start..cursor].iter().collect::<String>().width() >= room
            {
                start += 1;
            }
            let before: String = chars[start..cursor].iter().collect();
            let after: String = chars[cursor..].iter().collect();
            spans.push(Span::raw(one_line(&before)));
            if editing {
                spans.push(Span::styled("▏", t.accent));
            }
            let used = before.width() + usize::from(editing);
            spans.push(Span::raw(truncate(
                &one_line(&after),
                (room + 1).saturating_sub(used),
            )));
        }
        let status = match editor.parse() {
            Ok(Value::Null) => Line::styled(truncate("✓ no args", width), t.dim),
            Ok(Value::String(text)) => {
                Line::styled(truncate(&format!("✓ the text {text:?}"), width), t.success)
            }
            Ok(_) => Line::styled(truncate("✓ valid JSON", width), t.success),
            Err(e) => Line::styled(truncate(&format!("✗ {e}"), width), t.error),
        };
        vec![Line::from(spans), status]
    }
}

fn source_style(source: &str, t: &Theme) -> Style {
    match source {
        "project" => t.accent,
        "user" => t.link,
        _ => t.dim,
    }
}

fn workflow_row(
    w: &WorkflowEntry,
    t: &Theme,
    width: usize,
    name_w: usize,
    source_w: usize,
    selected: bool,
) -> Line<'static> {
    let marker = if w.error.is_some() { "✗ " } else { "  " };
    let desc_w = width.saturating_sub(2 + name_w + 1 + source_w);
    let source = w.source.as_str();
    let mut spans = vec![
        Span::styled(marker, if w.error.is_some() { t.error } else { t.text }),
        Span::styled(
            fit(&one_line(&w.name), name_w),
            if w.error.is_some() {
                t.error.patch(t.dim)
            } else {
                t.text
            },
        ),
        Span::raw(" "),
    ];
    if source_w > 0 {
        spans.push(Span::styled(fit(source, source_w), source_style(source, t)));
    }
    match &w.error {
        Some(e) => spans.push(Span::styled(
            fit(&one_line(e), desc_w),
            t.error.patch(t.dim),
        )),
        None => spans.push(Span::styled(
            fit(&one_line(w.description.as_deref().unwrap_or("")), desc_w),
            t.dim,
        )),
    }
    row_line(spans, t, selected)
}

pub(super) fn run_badge<'a>(status: &str, t: &Theme) -> (&'a str, Style) {
    match status {
        "running" => ("●", t.accent),
        "pending" => ("○", t.dim),
        "completed" => ("✓", t.success),
        "failed" => ("✗", t.error),
        "cancelled" => ("⊘", t.warning),
        "interrupted" => ("◌", t.warning),
        _ => ("?", t.dim),
    }
}

/// `HH:MM:SS` for today, else the date.
fn started_label(at: &str) -> String {
    match parse_time(at) {
        Some(time) => {
            let local = time.with_timezone(&chrono::Local);
            if local.date_naive() == chrono::Local::now().date_naive() {
                local.format("%H:%M:%S").to_string()
            } else {
                local.format("%Y-%m-%d").to_string()
            }
        }
        None => "–".into(),
    }
}

pub(super) fn run_row(r: &WorkflowRun, t: &Theme, width: usize, selected: bool) -> Line<'static> {
    let (icon, style) = run_badge(&r.status, t);
    // "  ◌ interrupted", the longest status, and a space.
    let status_w = 16;
    let time_w = if width >= 50 { 11 } else { 0 };
    let tokens_w = if width >= 40 { 8 } else { 0 };
    let name_w = width.saturating_sub(status_w + time_w + tokens_w);
    let workflow = one_line(&r.workflow);
    let args = one_line(&args_summary(&r.args));
    let args_w = name_w.saturating_sub(workflow.width() + 1);
    let mut spans = vec![Span::styled(
        fit(&format!("  {icon} {}", r.status), status_w),
        style,
    )];
    if args.is_empty() || args_w == 0 {
        spans.push(Span::raw(fit(&workflow, name_w)));
    } else {
        spans.push(Span::raw(format!("{workflow} ")));
        spans.push(Span::styled(fit(&args, args_w), t.dim));
    }
    if time_w > 0 {
        let at = r.started_at.as_deref().unwrap_or(&r.created_at);
        spans.push(Span::styled(fit_right(&started_label(at), time_w), t.dim));
    }
    if tokens_w > 0 {
        spans.push(Span::styled(
            fit_right(&fmt_tokens(r.tokens_spent), tokens_w),
            t.dim,
        ));
    }
    row_line(spans, t, selected)
}
