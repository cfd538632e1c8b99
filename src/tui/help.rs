//! The help overlay (`C-b ?`): every key of the live keymap. When it is taller than the screen
//! it scrolls (j/k, PgUp/PgDn), and says so: the title gives the rows shown and the last row
//! how many more there are below.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use crate::tui::app::clip;
use crate::tui::keymap::Keymap;
use crate::tui::panes::fit;
use crate::tui::pickers::{framed, overlay_box};
use crate::tui::theme::Theme;

/// Draws the help overlay; returns the scroll offset clamped to the content.
pub(crate) fn draw(
    frame: &mut Frame<'_>,
    area: Rect,
    t: &Theme,
    keymap: &Keymap,
    scroll: usize,
) -> usize {
    let rows = keymap.help_rows();
    let key_w = rows.iter().map(|r| r.0.width()).max().unwrap_or(8).min(28);
    let mut lines: Vec<Line<'_>> = rows
        .iter()
        .map(|(keys, _, desc)| {
            Line::from(vec![
                Span::styled(fit(keys, key_w), t.accent),
                Span::raw("  "),
                Span::raw(desc.to_string()),
            ])
        })
        .collect();
    lines.push(Line::raw(""));
    for line in crate::tui::panes::chat::decision::HELP_LINES
        .iter()
        .chain(&crate::tui::panes::changes::HELP_LINES)
    {
        lines.push(Line::styled(*line, t.dim));
    }
    lines.push(Line::styled(
        "In list panes: j/k or arrows move, Enter opens or expands,",
        t.dim,
    ));
    lines.push(Line::styled(
        "g/G first/last. Rebind keys in [ui.keys] of config.toml.",
        t.dim,
    ));
    let total = lines.len();
    let rect = overlay_box(area, (key_w + 46) as u16, total as u16 + 2);
    let inner_h = rect.height.saturating_sub(2) as usize;
    // Cut short, the last row says how much is below.
    let overflow = total > inner_h;
    let body_h = if overflow {
        inner_h.saturating_sub(1)
    } else {
        inner_h
    };
    let max_scroll = total.saturating_sub(body_h);
    let scroll = scroll.min(max_scroll);
    let title = if overflow {
        let last = (scroll + body_h).min(total);
        format!(
            " Keys {}–{last} of {total} · j/k scroll · Esc closes ",
            scroll + 1
        )
    } else {
        " Keys · Esc closes ".to_string()
    };
    let inner = framed(frame, rect, &title, t);
    let width = inner.width as usize;
    let mut shown: Vec<Line<'_>> = lines
        .into_iter()
        .skip(scroll)
        .take(body_h)
        .map(|l| clip(l, width))
        .collect();
    if overflow && inner_h > 0 {
        let below = max_scroll - scroll;
        let hint = if below > 0 {
            format!("↓ {below} more below · j/PgDn")
        } else {
            "↑ more above · k/PgUp".to_string()
        };
        shown.push(clip(Line::styled(hint, t.accent), width));
    }
    frame.render_widget(Paragraph::new(shown), inner);
    scroll
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::test_support::buffer_text;
    use crate::tui::theme::ColorSupport;

    /// The overlay in the panes' area of an 80x24 workspace (the status line takes a row).
    fn help_at(scroll: usize) -> (String, usize) {
        let theme = Theme::new(ColorSupport::None);
        let keymap = Keymap::default();
        let mut term =
            ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 23)).expect("term");
        let mut clamped = 0;
        term.draw(|f| clamped = draw(f, Rect::new(0, 0, 80, 23), &theme, &keymap, scroll))
            .expect("draw");
        (buffer_text(term.backend().buffer()), clamped)
    }

    #[test]
    fn cut_short_it_says_that_it_scrolls_and_scrolls_to_the_end() {
        let total = Keymap::default().help_rows().len()
            + 3
            + crate::tui::panes::chat::decision::HELP_LINES.len()
            + crate::tui::panes::changes::HELP_LINES.len();
        // 23 rows: a box of 22, 20 inside it, 19 of them for keys and one for the hint.
        let body = 19;
        let (top, _) = help_at(0);
        assert!(
            top.contains(&format!("Keys 1–{body} of {total} · j/k scroll")),
            "{top}"
        );
        assert!(
            top.contains(&format!("↓ {} more below", total - body)),
            "{top}"
        );
        let (end, clamped) = help_at(usize::MAX);
        assert_eq!(clamped, total - body);
        assert!(end.contains("Rebind keys in [ui.keys]"), "{end}");
        assert!(end.contains("↑ more above"), "{end}");
    }
}
