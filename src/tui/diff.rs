//! Unified diffs, coloured line by line.

use ratatui::text::{Line, Span};

use crate::tui::theme::Theme;

/// One styled line per diff line; `limit` keeps the first lines and says how many were left.
pub fn render_diff(diff: &str, theme: &Theme, limit: Option<usize>) -> Vec<Line<'static>> {
    let total = diff.lines().count();
    let shown = limit.unwrap_or(total).min(total);
    let mut out: Vec<Line<'static>> = diff
        .lines()
        .take(shown)
        .map(|l| {
            let style = if l.starts_with("+++") || l.starts_with("---") {
                theme.dim
            } else if l.starts_with('+') {
                theme.diff_added
            } else if l.starts_with('-') {
                theme.diff_removed
            } else if l.starts_with("@@") {
                theme.diff_hunk
            } else {
                theme.text
            };
            Line::from(Span::styled(l.replace('\t', "    "), style))
        })
        .collect();
    if shown < total {
        out.push(Line::from(Span::styled(
            format!("… {} more diff lines (Enter expands)", total - shown),
            theme.dim,
        )));
    }
    out
}
