//! alacritty's cells and colours in the engine-neutral types of [`crate::core::pty::screen`].

use alacritty_terminal::term::cell::{Cell as TermCell, Flags};
use alacritty_terminal::vte::ansi::{Color as TermColor, NamedColor};

use crate::core::pty::screen::{Attributes, Cell, CellWidth, Color, Underline};

pub(super) fn cell(cell: &TermCell) -> Cell {
    let flags = cell.flags;
    let width = if flags.contains(Flags::WIDE_CHAR) {
        CellWidth::Wide
    } else if flags.contains(Flags::WIDE_CHAR_SPACER) {
        CellWidth::WideSpacer
    } else {
        CellWidth::Normal
    };
    // alacritty leaves a tab character in the first cell a tab crossed (so copying keeps the
    // tab); on screen that cell is blank, as in tmux.
    Cell {
        ch: plain_char(cell),
        combining: cell.zerowidth().map(<[char]>::to_vec).unwrap_or_default(),
        fg: color(cell.fg),
        bg: color(cell.bg),
        attrs: attributes(flags),
        width,
    }
}

/// Whether the cell is one plain character: default colours, no attributes or marks, one
/// column (a wrap flag is not drawn). Such a cell is its character and nothing else.
pub(super) fn is_plain(cell: &TermCell) -> bool {
    cell.fg == TermColor::Named(NamedColor::Foreground)
        && cell.bg == TermColor::Named(NamedColor::Background)
        && cell.flags.difference(Flags::WRAPLINE).is_empty()
        && cell.zerowidth().is_none()
}

/// Whether [`cell`] makes it `Cell::default()`: a plain blank.
pub(super) fn is_plain_blank(cell: &TermCell) -> bool {
    (cell.c == ' ' || cell.c == '\t') && is_plain(cell)
}

/// The character a plain cell shows.
pub(super) fn plain_char(cell: &TermCell) -> char {
    if cell.c == '\t' {
        ' '
    } else {
        cell.c
    }
}

fn attributes(flags: Flags) -> Attributes {
    let underline = if flags.contains(Flags::DOUBLE_UNDERLINE) {
        Underline::Double
    } else if flags.contains(Flags::UNDERCURL) {
        Underline::Curly
    } else if flags.contains(Flags::DOTTED_UNDERLINE) {
        Underline::Dotted
    } else if flags.contains(Flags::DASHED_UNDERLINE) {
        Underline::Dashed
    } else if flags.contains(Flags::UNDERLINE) {
        Underline::Single
    } else {
        Underline::None
    };
    Attributes {
        bold: flags.contains(Flags::BOLD),
        dim: flags.contains(Flags::DIM),
        italic: flags.contains(Flags::ITALIC),
        underline,
        // alacritty keeps no blink attribute (SGR 5 is parsed and dropped).
        blink: false,
        inverse: flags.contains(Flags::INVERSE),
        hidden: flags.contains(Flags::HIDDEN),
        strikeout: flags.contains(Flags::STRIKEOUT),
    }
}

/// A cell colour as the child set it. alacritty stores SGR 30–37/90–97 as named colours 0–15
/// and the defaults as `Foreground`/`Background`; its dim variants only arise when rendering,
/// and stand for the base colour (the cell's `dim` attribute says the rest).
pub(super) fn color(color: TermColor) -> Color {
    match color {
        TermColor::Spec(rgb) => Color::Rgb(rgb.r, rgb.g, rgb.b),
        TermColor::Indexed(index) => Color::Indexed(index),
        TermColor::Named(named) => named_color(named),
    }
}

fn named_color(named: NamedColor) -> Color {
    let index = named as usize;
    let dim_base = NamedColor::DimBlack as usize;
    match index {
        0..=15 => Color::Indexed(index as u8),
        i if (dim_base..dim_base + 8).contains(&i) => Color::Indexed((i - dim_base) as u8),
        _ => Color::Default,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_colours_become_palette_indexes_or_the_default() {
        assert_eq!(color(TermColor::Named(NamedColor::Red)), Color::Indexed(1));
        assert_eq!(
            color(TermColor::Named(NamedColor::BrightWhite)),
            Color::Indexed(15)
        );
        assert_eq!(
            color(TermColor::Named(NamedColor::DimCyan)),
            Color::Indexed(6)
        );
        assert_eq!(
            color(TermColor::Named(NamedColor::Foreground)),
            Color::Default
        );
        assert_eq!(
            color(TermColor::Named(NamedColor::DimForeground)),
            Color::Default
        );
    }
}
