//! The screen as text, the way `tmux capture-pane -p [-e]` prints it: one line per row with
//! trailing blanks trimmed, optionally with SGR escapes wherever the pen changes (the pen
//! carries over from one row to the next, as in tmux), so the two can be compared cell by cell.

use std::fmt::Write;

use super::screen::{Attributes, Cell, CellWidth, Color, ScreenEngine, Underline};

/// The screen's rows then a last line `cursor X,Y` (0-based column and row).
pub fn capture_screen(engine: &dyn ScreenEngine, with_escapes: bool) -> String {
    let mut out = String::new();
    let mut pen = Pen::default();
    for line in 0..i32::from(engine.size().rows) {
        let row = engine.row(line);
        let used = row
            .iter()
            .rposition(|cell| cell.ch != ' ' || !cell.combining.is_empty())
            .map_or(0, |last| last + 1);
        for cell in row[..used]
            .iter()
            .filter(|cell| cell.width != CellWidth::WideSpacer)
        {
            if with_escapes {
                pen.change_to(cell, &mut out);
            }
            out.push(cell.ch);
            out.extend(cell.combining.iter());
        }
        out.push('\n');
    }
    let cursor = engine.cursor();
    let _ = writeln!(out, "cursor {},{}", cursor.col, cursor.row);
    out
}

/// The colours and attributes the text written so far is drawn with.
#[derive(Default, PartialEq, Eq)]
struct Pen {
    fg: Color,
    bg: Color,
    attrs: Attributes,
}

impl Pen {
    /// Writes the SGR sequence that turns this pen into `cell`'s, if they differ: a reset and
    /// then everything the cell has, which any reader parses without knowing the old pen.
    fn change_to(&mut self, cell: &Cell, out: &mut String) {
        let next = Pen {
            fg: cell.fg,
            bg: cell.bg,
            attrs: cell.attrs,
        };
        if *self == next {
            return;
        }
        out.push_str("\x1b[0");
        let attrs = next.attrs;
        let flags = [
            (attrs.bold, "1"),
            (attrs.dim, "2"),
            (attrs.italic, "3"),
            (attrs.blink, "5"),
            (attrs.inverse, "7"),
            (attrs.hidden, "8"),
            (attrs.strikeout, "9"),
        ];
        for (_, code) in flags.iter().filter(|(on, _)| *on) {
            out.push(';');
            out.push_str(code);
        }
        let underline = match attrs.underline {
            Underline::None => None,
            Underline::Single => Some("4"),
            Underline::Double => Some("4:2"),
            Underline::Curly => Some("4:3"),
            Underline::Dotted => Some("4:4"),
            Underline::Dashed => Some("4:5"),
        };
        if let Some(code) = underline {
            out.push(';');
            out.push_str(code);
        }
        push_color(out, next.fg, 30);
        push_color(out, next.bg, 40);
        out.push('m');
        *self = next;
    }
}

/// `;` and the SGR parameters of `color` as foreground (`base` 30) or background (40).
fn push_color(out: &mut String, color: Color, base: u8) {
    let _ = match color {
        Color::Default => return,
        Color::Indexed(index @ 0..=7) => write!(out, ";{}", base + index),
        Color::Indexed(index @ 8..=15) => write!(out, ";{}", base + 60 + index - 8),
        Color::Indexed(index) => write!(out, ";{};5;{index}", base + 8),
        Color::Rgb(r, g, b) => write!(out, ";{};2;{r};{g};{b}", base + 8),
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::pty::alacritty::AlacrittyScreen;
    use crate::core::pty::screen::GridSize;

    fn screen(bytes: &[u8]) -> AlacrittyScreen {
        let mut screen = AlacrittyScreen::new(GridSize { cols: 10, rows: 3 }, 100);
        screen.feed(bytes);
        screen
    }

    #[test]
    fn plain_capture_trims_rows_and_ends_with_the_cursor() {
        let screen = screen(b"ab  \r\n\x1b[31mc\x1b[0m\r\n\xe4\xb8\xad!");
        assert_eq!(
            capture_screen(&screen, false),
            "ab\nc\n\u{4e2d}!\ncursor 3,2\n"
        );
    }

    #[test]
    fn escapes_are_written_only_where_the_pen_changes_and_carry_across_rows() {
        let screen = screen(b"\x1b[1;4:3;38;5;200;48;2;1;2;3mab\r\ncd\x1b[0;92me");
        assert_eq!(
            capture_screen(&screen, true),
            "\x1b[0;1;4:3;38;5;200;48;2;1;2;3mab\ncd\x1b[0;92me\n\ncursor 3,1\n"
        );
    }
}
