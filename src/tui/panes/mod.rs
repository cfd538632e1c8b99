//! The pane kinds and the one factory that makes them from a [`PaneSpec`].

pub mod background;
pub mod changes;
pub mod chat;
pub mod orchestrator;
pub mod terminal;
pub mod timeline;
pub mod trace;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::core::events::Event;
use crate::tui::pane::{Pane, PaneContext, PaneSpec};

/// Makes the pane a spec describes; fails when what it shows cannot be loaded.
pub fn make_pane(spec: PaneSpec, ctx: &PaneContext<'_>) -> anyhow::Result<Box<dyn Pane>> {
    Ok(match spec {
        PaneSpec::Chat { chat_id } => Box::new(chat::ChatPane::new(&chat_id, ctx)?),
        PaneSpec::Trace { chat_id } => Box::new(trace::TracePane::new(chat_id, ctx)),
        PaneSpec::Background => Box::new(background::BackgroundPane::new(ctx)),
        PaneSpec::Changes => Box::new(changes::ChangesPane::new(ctx)),
        PaneSpec::Timeline { chat_id } => Box::new(timeline::TimelinePane::new(chat_id, ctx)),
        PaneSpec::Orchestrator { run_id } => {
            Box::new(orchestrator::OrchestratorPane::new(run_id, ctx))
        }
        PaneSpec::Terminal {
            argv,
            cwd,
            cols,
            rows,
        } => Box::new(terminal::TerminalPane::new(
            crate::core::pty::session::SessionSpec {
                argv,
                cwd,
                size: crate::core::pty::screen::GridSize {
                    cols: cols.max(1),
                    rows: rows.max(1),
                },
                truecolor: crate::tui::theme::outer_truecolor(|k| std::env::var(k).ok()),
            },
            ctx,
        )),
    })
}

/// Cuts `s` to at most `width` terminal columns, ending with `…` when cut.
pub fn truncate(s: &str, width: usize) -> String {
    if UnicodeWidthStr::width(s) <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w > width - 1 {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// `s` cut or padded with spaces to exactly `width` columns.
pub fn fit(s: &str, width: usize) -> String {
    let mut out = truncate(s, width);
    let w = UnicodeWidthStr::width(out.as_str());
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(w)));
    out
}

/// `s` right-aligned in `width` columns (cut when longer).
pub fn fit_right(s: &str, width: usize) -> String {
    let cut = truncate(s, width);
    let w = UnicodeWidthStr::width(cut.as_str());
    let mut out: String = std::iter::repeat_n(' ', width.saturating_sub(w)).collect();
    out.push_str(&cut);
    out
}

/// One line of a string: control characters (newlines, tabs, escapes) become spaces, so a
/// label can never move the cursor.
pub fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The chat a follower pane (trace, timeline) shows: the one it is bound to, else the focused
/// chat pane's. Its title label ("name · model") is read when the chat changes and when one of
/// its turns or model calls starts (its title and model change then), never once per frame.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FollowedChat {
    bound: Option<String>,
    id: Option<String>,
    label: String,
}

impl FollowedChat {
    pub fn new(bound: Option<String>) -> FollowedChat {
        FollowedChat {
            bound,
            ..FollowedChat::default()
        }
    }

    /// Moves to the chat to show now; true when it changed (the pane reloads then).
    pub fn sync(&mut self, ctx: &PaneContext<'_>) -> bool {
        let want = self
            .bound
            .clone()
            .or_else(|| ctx.focused_chat.map(str::to_string));
        if want == self.id {
            return false;
        }
        self.label = want
            .as_deref()
            .map(|c| chat_label(ctx, c))
            .unwrap_or_default();
        self.id = want;
        true
    }

    /// Reloads the label after an event that may rename the chat or change its model.
    pub fn refresh(&mut self, event: &Event, ctx: &PaneContext<'_>) {
        if let (
            Event::TurnStarted { chat_id, .. } | Event::ModelCallStarted { chat_id, .. },
            Some(id),
        ) = (event, &self.id)
        {
            if chat_id == id {
                self.label = chat_label(ctx, id);
            }
        }
    }

    /// The chat shown now.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The chat from the pane's spec; `None` follows the focus.
    pub fn bound(&self) -> Option<&str> {
        self.bound.as_deref()
    }

    pub fn label(&self) -> &str {
        &self.label
    }
}

fn chat_label(ctx: &PaneContext<'_>, chat_id: &str) -> String {
    match ctx.engine.chat(chat_id) {
        Ok(c) if !c.title.is_empty() => format!("{} · {}", one_line(&c.title), c.model),
        Ok(c) => format!("chat {} · {}", c.id.get(..8).unwrap_or(&c.id), c.model),
        Err(_) => "(deleted chat)".into(),
    }
}

/// `950`, `1.2K`, `45K`, `3.4M`.
pub fn fmt_tokens(n: u64) -> String {
    match n {
        0..=999 => n.to_string(),
        1_000..=9_999 => format!("{:.1}K", n as f64 / 1_000.0),
        10_000..=999_999 => format!("{}K", (n + 500) / 1_000),
        _ => format!("{:.1}M", n as f64 / 1_000_000.0),
    }
}

/// `820ms`, `5.4s`, `2m03s`, `1h02m`.
pub fn fmt_ms(ms: u64) -> String {
    match ms {
        0..=999 => format!("{ms}ms"),
        1_000..=59_999 => format!("{:.1}s", ms as f64 / 1_000.0),
        60_000..=3_599_999 => format!("{}m{:02}s", ms / 60_000, (ms / 1_000) % 60),
        _ => format!("{}h{:02}m", ms / 3_600_000, (ms / 60_000) % 60),
    }
}

/// A horizontal bar of `width` cells, `fraction` (0–1) of it filled.
pub fn bar(fraction: f64, width: usize) -> (String, String) {
    let fraction = if fraction.is_finite() {
        fraction.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let mut filled = (fraction * width as f64).round() as usize;
    if fraction > 0.0 && filled == 0 && width > 0 {
        filled = 1;
    }
    ("█".repeat(filled), "░".repeat(width - filled.min(width)))
}

/// Milliseconds between two RFC 3339 timestamps (0 when unparsable or negative).
pub fn millis_between(start: &str, end: &str) -> u64 {
    match (parse_time(start), parse_time(end)) {
        (Some(a), Some(b)) => (b - a).num_milliseconds().max(0) as u64,
        _ => 0,
    }
}

/// Milliseconds from an RFC 3339 timestamp until now.
pub fn millis_since(start: &str) -> u64 {
    parse_time(start)
        .map(|a| (chrono::Utc::now() - a).num_milliseconds().max(0) as u64)
        .unwrap_or(0)
}

pub fn parse_time(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// `HH:MM:SS` in local time.
pub fn local_clock(s: &str) -> String {
    parse_time(s)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%H:%M:%S")
                .to_string()
        })
        .unwrap_or_else(|| "--:--:--".into())
}

/// An error under a list, wrapped to `width` in at most `max_lines` lines; when it needs more,
/// the last one ends with `more` (where to read it whole).
pub fn error_lines(
    error: &str,
    theme: &crate::tui::theme::Theme,
    width: usize,
    max_lines: usize,
    more: &str,
) -> Vec<ratatui::text::Line<'static>> {
    let max_lines = max_lines.max(1);
    use ratatui::text::Span;
    let mut lines = crate::tui::markdown::wrap_spans(
        &[Span::styled(one_line(error), theme.error)],
        width,
        &[Span::styled("  error: ", theme.error)],
        &[Span::raw("    ")],
    );
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        if let Some(last) = lines.last_mut() {
            let shown: String = last.spans.iter().map(|s| s.content.as_ref()).collect();
            let room = width.saturating_sub(UnicodeWidthStr::width(more) + 1);
            let cut = format!(
                "{}… {more}",
                truncate(shown.trim_end(), room.saturating_sub(1))
            );
            *last = ratatui::text::Line::styled(cut, theme.error);
        }
    }
    lines
}

/// The lines a chat-following list pane shows above its rows: its last error, then why there
/// are no rows (no chat to follow, or nothing yet). True when rows should follow.
pub fn list_preamble(
    lines: &mut Vec<ratatui::text::Line<'static>>,
    theme: &crate::tui::theme::Theme,
    width: usize,
    error: Option<&str>,
    following_chat: bool,
    empty: bool,
    what: &str,
) -> bool {
    use ratatui::text::Line;
    if let Some(e) = error {
        lines.push(Line::styled(
            truncate(&format!("⚠ {e}"), width),
            theme.error,
        ));
    }
    if !following_chat {
        let text = format!("Focus a chat pane to see its {what}.");
        lines.push(Line::styled(truncate(&text, width), theme.dim));
        false
    } else if empty {
        let text = format!("No {what} yet.");
        lines.push(Line::styled(truncate(&text, width), theme.dim));
        false
    } else {
        true
    }
}

/// The list keys every list pane shares: `j`/`k` or arrows, `PageUp`/`PageDown` (10 rows),
/// `g`/`G` or `Home`/`End`. Returns false for any other key.
pub fn move_selection(selected: &mut usize, last: usize, code: crossterm::event::KeyCode) -> bool {
    use crossterm::event::KeyCode;
    *selected = match code {
        KeyCode::Up | KeyCode::Char('k') => selected.saturating_sub(1),
        KeyCode::Down | KeyCode::Char('j') => (*selected + 1).min(last),
        KeyCode::PageUp => selected.saturating_sub(10),
        KeyCode::PageDown => (*selected + 10).min(last),
        KeyCode::Home | KeyCode::Char('g') => 0,
        KeyCode::End | KeyCode::Char('G') => last,
        _ => return false,
    };
    true
}

pub fn keep_visible(scroll: &mut usize, selected: usize, height: usize) {
    if height == 0 {
        return;
    }
    if selected < *scroll {
        *scroll = selected;
    } else if selected >= *scroll + height {
        *scroll = selected + 1 - height;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_respects_wide_characters() {
        assert_eq!(truncate("hello", 10), "hello");
        assert_eq!(truncate("hello world", 6), "hello…");
        assert_eq!(truncate("日本語テキスト", 5), "日本…");
        assert_eq!(fit("日本", 5), "日本 ");
        assert_eq!(fit_right("ab", 4), "  ab");
        assert_eq!(truncate("x", 0), "");
    }

    #[test]
    fn number_formats() {
        assert_eq!(fmt_tokens(950), "950");
        assert_eq!(fmt_tokens(1_234), "1.2K");
        assert_eq!(fmt_tokens(45_000), "45K");
        assert_eq!(fmt_tokens(3_400_000), "3.4M");
        assert_eq!(fmt_ms(820), "820ms");
        assert_eq!(fmt_ms(5_400), "5.4s");
        assert_eq!(fmt_ms(123_000), "2m03s");
        assert_eq!(bar(0.5, 4), ("██".into(), "░░".into()));
        assert_eq!(bar(0.01, 4).0, "█");
        assert_eq!(bar(f64::NAN, 2).1, "░░");
    }
}
