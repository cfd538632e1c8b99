//! Colour arithmetic: the xterm palette, and any colour brought down to what the outer
//! terminal shows (truecolor, 256, 16, or none under `NO_COLOR`).

use ratatui::style::Color;

use crate::tui::theme::ColorSupport;

/// A colour for the terminal at hand.
pub fn map_color(r: u8, g: u8, b: u8, support: ColorSupport) -> Color {
    match support {
        ColorSupport::TrueColor => Color::Rgb(r, g, b),
        ColorSupport::Ansi256 => Color::Indexed(nearest_256(r, g, b)),
        ColorSupport::Ansi16 => ansi16(nearest_16(r, g, b)),
        ColorSupport::None => Color::Reset,
    }
}

/// Palette entry `index` for the terminal at hand: the 16 ANSI colours as themselves, the rest
/// of the 256 brought down to the nearest of the 16 when that is all there is.
pub fn map_indexed(index: u8, support: ColorSupport) -> Color {
    match support {
        ColorSupport::None => Color::Reset,
        _ if index < 16 => ansi16(index),
        ColorSupport::Ansi16 => {
            let (r, g, b) = xterm_rgb(index);
            ansi16(nearest_16(r, g, b))
        }
        ColorSupport::Ansi256 | ColorSupport::TrueColor => Color::Indexed(index),
    }
}

/// The nearest xterm-256 entry: the 6x6x6 cube or the 24-step grey ramp, whichever is closer.
pub fn nearest_256(r: u8, g: u8, b: u8) -> u8 {
    const LEVELS: [i32; 6] = [0, 95, 135, 175, 215, 255];
    let idx = |v: u8| -> usize {
        let v = v as i32;
        (0..6).min_by_key(|&i| (LEVELS[i] - v).abs()).unwrap_or(0)
    };
    let (ri, gi, bi) = (idx(r), idx(g), idx(b));
    let cube = (LEVELS[ri], LEVELS[gi], LEVELS[bi]);
    let avg = (r as i32 + g as i32 + b as i32) / 3;
    let gi_ramp = ((avg - 8).max(0) / 10).min(23);
    let grey = 8 + gi_ramp * 10;
    if distance((grey, grey, grey), (r, g, b)) < distance(cube, (r, g, b)) {
        (232 + gi_ramp) as u8
    } else {
        (16 + 36 * ri + 6 * gi + bi) as u8
    }
}

/// The nearest of the 16 ANSI colours (xterm's values).
pub fn nearest_16(r: u8, g: u8, b: u8) -> u8 {
    (0u8..16)
        .min_by_key(|&i| {
            let (pr, pg, pb) = xterm_rgb(i);
            distance((pr as i32, pg as i32, pb as i32), (r, g, b))
        })
        .unwrap_or(7)
}

fn distance(a: (i32, i32, i32), (r, g, b): (u8, u8, u8)) -> i32 {
    let (dr, dg, db) = (a.0 - r as i32, a.1 - g as i32, a.2 - b as i32);
    dr * dr + dg * dg + db * db
}

/// The RGB value xterm gives palette entry `index`.
pub fn xterm_rgb(index: u8) -> (u8, u8, u8) {
    const ANSI: [(u8, u8, u8); 16] = [
        (0, 0, 0),
        (205, 0, 0),
        (0, 205, 0),
        (205, 205, 0),
        (0, 0, 238),
        (205, 0, 205),
        (0, 205, 205),
        (229, 229, 229),
        (127, 127, 127),
        (255, 0, 0),
        (0, 255, 0),
        (255, 255, 0),
        (92, 92, 255),
        (255, 0, 255),
        (0, 255, 255),
        (255, 255, 255),
    ];
    const LEVELS: [u8; 6] = [0, 95, 135, 175, 215, 255];
    match index {
        0..=15 => ANSI[index as usize],
        16..=231 => {
            let i = index - 16;
            (
                LEVELS[(i / 36) as usize],
                LEVELS[((i / 6) % 6) as usize],
                LEVELS[(i % 6) as usize],
            )
        }
        _ => {
            let v = 8 + (index - 232) * 10;
            (v, v, v)
        }
    }
}

/// ANSI colour `index` (0–15) as ratatui names it.
fn ansi16(index: u8) -> Color {
    const NAMED: [Color; 16] = [
        Color::Black,
        Color::Red,
        Color::Green,
        Color::Yellow,
        Color::Blue,
        Color::Magenta,
        Color::Cyan,
        Color::Gray,
        Color::DarkGray,
        Color::LightRed,
        Color::LightGreen,
        Color::LightYellow,
        Color::LightBlue,
        Color::LightMagenta,
        Color::LightCyan,
        Color::White,
    ];
    NAMED[(index & 15) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_palette_entries() {
        assert_eq!(nearest_256(255, 0, 0), 196);
        assert_eq!(nearest_256(0, 0, 0), 16);
        assert_eq!(nearest_256(128, 128, 128), 244);
        assert_eq!(nearest_16(250, 10, 10), 9);
        assert_eq!(nearest_16(0, 0, 0), 0);
        assert_eq!(nearest_16(200, 200, 200), 7);
    }

    #[test]
    fn colours_come_down_to_the_terminal() {
        assert_eq!(
            map_color(255, 0, 0, ColorSupport::TrueColor),
            Color::Rgb(255, 0, 0)
        );
        assert_eq!(
            map_color(255, 0, 0, ColorSupport::Ansi256),
            Color::Indexed(196)
        );
        assert_eq!(map_color(255, 0, 0, ColorSupport::Ansi16), Color::LightRed);
        assert_eq!(map_color(255, 0, 0, ColorSupport::None), Color::Reset);
        assert_eq!(map_indexed(1, ColorSupport::Ansi256), Color::Red);
        assert_eq!(map_indexed(196, ColorSupport::Ansi256), Color::Indexed(196));
        assert_eq!(map_indexed(196, ColorSupport::Ansi16), Color::LightRed);
        assert_eq!(map_indexed(244, ColorSupport::Ansi16), Color::DarkGray);
        assert_eq!(map_indexed(1, ColorSupport::None), Color::Reset);
        assert_eq!(xterm_rgb(16), (0, 0, 0));
        assert_eq!(xterm_rgb(231), (255, 255, 255));
        assert_eq!(xterm_rgb(232), (8, 8, 8));
    }
}
