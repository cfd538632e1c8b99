//! Syntax highlighting of code blocks with syntect, degraded to the terminal's colours:
//! truecolor as is, 256-colour terminals get the nearest palette entry, `NO_COLOR` gets none.

use std::sync::OnceLock;

use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use syntect::easy::HighlightLines;
use syntect::highlighting::{Theme as SynTheme, ThemeSet};
use syntect::parsing::SyntaxSet;

use crate::tui::theme::{ColorSupport, Theme};

fn syntaxes() -> &'static SyntaxSet {
    static SET: OnceLock<SyntaxSet> = OnceLock::new();
    SET.get_or_init(SyntaxSet::load_defaults_newlines)
}

fn syn_theme() -> Option<&'static SynTheme> {
    static THEMES: OnceLock<ThemeSet> = OnceLock::new();
    THEMES
        .get_or_init(ThemeSet::load_defaults)
        .themes
        .get("base16-ocean.dark")
}

/// Highlights `code` (one entry per line, no trailing newline) as language `lang`.
/// Unknown languages, and `NO_COLOR`, get the theme's plain code style.
pub fn highlight(code: &str, lang: &str, theme: &Theme) -> Vec<Line<'static>> {
    let plain = |style: Style| -> Vec<Line<'static>> {
        code.lines()
            .map(|l| Line::from(Span::styled(l.to_string(), style)))
            .collect()
    };
    if theme.support == ColorSupport::None {
        return plain(Style::default());
    }
    let set = syntaxes();
    let token = lang.split([',', ' ']).next().unwrap_or("").trim();
    let (Some(syntax), Some(syn)) = (
        (!token.is_empty())
            .then(|| set.find_syntax_by_token(token))
            .flatten(),
        syn_theme(),
    ) else {
        return plain(theme.code);
    };
    let mut h = HighlightLines::new(syntax, syn);
    let mut out = Vec::new();
    for line in syntect::util::LinesWithEndings::from(code) {
        let Ok(ranges) = h.highlight_line(line, set) else {
            // A highlighting failure must not lose the code: show the rest plain.
            out.push(Line::from(Span::styled(
                line.trim_end_matches('\n').to_string(),
                theme.code,
            )));
            continue;
        };
        let spans: Vec<Span<'static>> = ranges
            .into_iter()
            .filter_map(|(style, text)| {
                let text = text.trim_end_matches(['\n', '\r']);
                (!text.is_empty()).then(|| {
                    let c = style.foreground;
                    Span::styled(
                        text.to_string(),
                        Style::default().fg(map_color(c.r, c.g, c.b, theme.support)),
                    )
                })
            })
            .collect();
        out.push(Line::from(spans));
    }
    out
}

/// A colour for the terminal at hand.
pub fn map_color(r: u8, g: u8, b: u8, support: ColorSupport) -> Color {
    match support {
        ColorSupport::TrueColor => Color::Rgb(r, g, b),
        ColorSupport::Ansi256 => Color::Indexed(nearest_256(r, g, b)),
        ColorSupport::None => Color::Reset,
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
    let dist = |a: (i32, i32, i32)| {
        let (dr, dg, db) = (a.0 - r as i32, a.1 - g as i32, a.2 - b as i32);
        dr * dr + dg * dg + db * db
    };
    let cube = (LEVELS[ri], LEVELS[gi], LEVELS[bi]);
    let avg = (r as i32 + g as i32 + b as i32) / 3;
    let gi_ramp = ((avg - 8).max(0) / 10).min(23);
    let grey = 8 + gi_ramp * 10;
    if dist((grey, grey, grey)) < dist(cube) {
        (232 + gi_ramp) as u8
    } else {
        (16 + 36 * ri + 6 * gi + bi) as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_palette_entries() {
        assert_eq!(nearest_256(255, 0, 0), 196);
        assert_eq!(nearest_256(0, 0, 0), 16);
        assert_eq!(nearest_256(128, 128, 128), 244);
    }

    #[test]
    fn rust_gets_colours_and_no_color_none() {
        let code = "fn main() {}\n";
        let t = Theme::new(ColorSupport::Ansi256);
        let lines = highlight(code, "rust", &t);
        assert_eq!(lines.len(), 1);
        assert!(lines[0]
            .spans
            .iter()
            .any(|s| matches!(s.style.fg, Some(Color::Indexed(_)))));
        let lines = highlight(code, "rust", &Theme::new(ColorSupport::None));
        assert!(lines[0].spans.iter().all(|s| s.style.fg.is_none()));
    }
}
