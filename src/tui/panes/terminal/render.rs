//! Draws a screen engine's cells into the frame: every cell with its character (wide ones
//! over two columns, combining marks kept), attributes, and colours brought down to what the
//! outer terminal shows; copy-mode selection and search matches on top; the program's cursor.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color as TuiColor, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::core::pty::screen::{Attributes, Cell, CellWidth, Color, ScreenEngine, Underline};
use crate::tui::palette::{map_color, map_indexed};
use crate::tui::panes::fit;
use crate::tui::theme::{ColorSupport, Theme};

use super::copy::CopyMode;

/// What is drawn over the program's screen.
pub struct View<'a> {
    /// Lines scrolled back into history (0 = the live screen).
    pub scroll: usize,
    pub copy: Option<&'a CopyMode>,
    /// Show the program's cursor (focused, live, running).
    pub cursor: bool,
}

pub fn draw_screen(
    frame: &mut Frame<'_>,
    area: Rect,
    theme: &Theme,
    screen: &dyn ScreenEngine,
    view: &View<'_>,
) {
    let size = screen.size();
    let rows = area.height.min(size.rows);
    let scroll = i32::try_from(view.scroll).unwrap_or(i32::MAX);
    let buf = frame.buffer_mut();
    for y in 0..rows {
        let line = i32::from(y) - scroll;
        let cells = screen.row(line);
        draw_row(buf, area, y, &cells, theme.support);
        if let Some(copy) = view.copy {
            for (columns, style) in copy.highlights(line, theme) {
                for x in columns.start..columns.end.min(area.width) {
                    let cell = &mut buf[(area.x + x, area.y + y)];
                    cell.set_style(cell.style().patch(style));
                }
            }
        }
    }
    if let Some(copy) = view.copy {
        if let Some((x, y)) = copy.cursor_on_screen(scroll) {
            if x < area.width && y < rows {
                frame.set_cursor_position((area.x + x, area.y + y));
            }
        }
        copy.draw_prompt(frame, area, theme);
        return;
    }
    let cursor = screen.cursor();
    if view.cursor && cursor.visible && cursor.col < area.width && cursor.row < rows {
        frame.set_cursor_position((area.x + cursor.col, area.y + cursor.row));
    }
}

fn draw_row(buf: &mut Buffer, area: Rect, y: u16, cells: &[Cell], support: ColorSupport) {
    let width = usize::from(area.width);
    for (x, cell) in cells.iter().enumerate().take(width) {
        let target = &mut buf[(area.x + x as u16, area.y + y)];
        match cell.width {
            // Drawn by the wide character on its left.
            CellWidth::WideSpacer => continue,
            // A wide character cut by the pane's right edge (while a resize is pending).
            CellWidth::Wide if x + 1 >= width => {
                target.set_char(' ');
            }
            _ if cell.combining.is_empty() => {
                target.set_char(cell.ch);
            }
            _ => {
                let mut symbol = String::with_capacity(8);
                symbol.push(cell.ch);
                symbol.extend(&cell.combining);
                target.set_symbol(&symbol);
            }
        }
        target.set_style(cell_style(cell, support));
    }
}

/// A cell's look on the outer terminal: colours degraded to what it shows (none under
/// NO_COLOR), attributes always kept.
pub fn cell_style(cell: &Cell, support: ColorSupport) -> Style {
    Style::default()
        .fg(color(cell.fg, support))
        .bg(color(cell.bg, support))
        .add_modifier(modifiers(&cell.attrs))
}

fn color(color: Color, support: ColorSupport) -> TuiColor {
    match color {
        Color::Default => TuiColor::Reset,
        Color::Indexed(index) => map_indexed(index, support),
        Color::Rgb(r, g, b) => map_color(r, g, b, support),
    }
}

fn modifiers(attrs: &Attributes) -> Modifier {
    let mut m = Modifier::empty();
    for (on, flag) in [
        (attrs.bold, Modifier::BOLD),
        (attrs.dim, Modifier::DIM),
        (attrs.italic, Modifier::ITALIC),
        (attrs.underline != Underline::None, Modifier::UNDERLINED),
        (attrs.blink, Modifier::SLOW_BLINK),
        (attrs.inverse, Modifier::REVERSED),
        (attrs.hidden, Modifier::HIDDEN),
        (attrs.strikeout, Modifier::CROSSED_OUT),
    ] {
        if on {
            m |= flag;
        }
    }
    m
}

/// The bottom line of a pane whose program ended: how, and the keys.
pub fn draw_ended(frame: &mut Frame<'_>, area: Rect, theme: &Theme, ended: &str, rerun: bool) {
    if area.height == 0 {
        return;
    }
    let text = if rerun {
        format!(" {ended} · r run again · x close ")
    } else {
        format!(" {ended} · x close ")
    };
    let row = Rect::new(area.x, area.y + area.height - 1, area.width, 1);
    frame.render_widget(
        Paragraph::new(Line::styled(
            fit(&text, usize::from(area.width)),
            theme.status_bar.patch(theme.warning),
        )),
        row,
    );
}

/// A pane with no program to show (it could not start).
pub fn draw_message(frame: &mut Frame<'_>, area: Rect, theme: &Theme, message: &str) {
    if area.height == 0 {
        return;
    }
    frame.render_widget(
        Paragraph::new(Line::styled(
            fit(message, usize::from(area.width)),
            theme.error,
        )),
        Rect::new(area.x, area.y, area.width, 1),
    );
}
