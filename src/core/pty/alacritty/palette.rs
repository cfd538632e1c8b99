//! The colours reported to the child when it asks (OSC 4 / 10 / 11 / 12 with `?`): the ones it
//! set itself, else xterm's defaults on a dark background. The pane does not know the outer
//! terminal's real colours, and a dark guess is what most programs assume without an answer.

use alacritty_terminal::term::color::Colors;
use alacritty_terminal::vte::ansi::{NamedColor, Rgb};

const fn rgb(r: u8, g: u8, b: u8) -> Rgb {
    Rgb { r, g, b }
}

/// xterm's 16 ANSI colours.
const ANSI: [Rgb; 16] = [
    rgb(0x00, 0x00, 0x00),
    rgb(0xcd, 0x00, 0x00),
    rgb(0x00, 0xcd, 0x00),
    rgb(0xcd, 0xcd, 0x00),
    rgb(0x00, 0x00, 0xee),
    rgb(0xcd, 0x00, 0xcd),
    rgb(0x00, 0xcd, 0xcd),
    rgb(0xe5, 0xe5, 0xe5),
    rgb(0x7f, 0x7f, 0x7f),
    rgb(0xff, 0x00, 0x00),
    rgb(0x00, 0xff, 0x00),
    rgb(0xff, 0xff, 0x00),
    rgb(0x5c, 0x5c, 0xff),
    rgb(0xff, 0x00, 0xff),
    rgb(0x00, 0xff, 0xff),
    rgb(0xff, 0xff, 0xff),
];

const DEFAULT_FOREGROUND: Rgb = ANSI[7];
const DEFAULT_BACKGROUND: Rgb = ANSI[0];

/// The colour at alacritty's colour `index`: the 256-colour palette, then the foreground,
/// background and cursor colours; `None` past those (nothing to report).
pub(super) fn color_at(colors: &Colors, index: usize) -> Option<Rgb> {
    if index > NamedColor::Cursor as usize {
        return None;
    }
    if let Some(set) = colors[index] {
        return Some(set);
    }
    Some(match index {
        0..=15 => ANSI[index],
        16..=231 => cube(index - 16),
        232..=255 => {
            let level = 8 + 10 * (index - 232) as u8;
            rgb(level, level, level)
        }
        i if i == NamedColor::Background as usize => DEFAULT_BACKGROUND,
        _ => DEFAULT_FOREGROUND,
    })
}

/// The 6×6×6 colour cube of the 256-colour palette.
fn cube(offset: usize) -> Rgb {
    const LEVELS: [u8; 6] = [0, 95, 135, 175, 215, 255];
    rgb(
        LEVELS[offset / 36],
        LEVELS[(offset / 6) % 6],
        LEVELS[offset % 6],
    )
}
