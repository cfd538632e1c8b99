//! Colours and styles. Truecolor when the terminal says so (`COLORTERM`), the 16 ANSI colours
//! when `TERM` names a terminal that has no more, else the 256-colour palette; with `NO_COLOR`
//! set, no colours at all — only bold, dim, reverse and underline.

use ratatui::style::{Color, Modifier, Style};

use crate::tui::palette::map_color;

/// How many colours the terminal can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorSupport {
    None,
    Ansi16,
    Ansi256,
    TrueColor,
}

/// `TERM` values of terminals known to show only the 16 ANSI colours (or 8).
const SIXTEEN_COLOUR_TERMS: [&str; 9] = [
    "linux",
    "vt100",
    "vt102",
    "vt220",
    "ansi",
    "cons25",
    "xterm-color",
    "xterm-16color",
    "rxvt",
];

impl ColorSupport {
    /// Reads `NO_COLOR`, `COLORTERM` and `TERM` from the given environment lookup.
    pub fn detect(var: impl Fn(&str) -> Option<String>) -> ColorSupport {
        if var("NO_COLOR").is_some_and(|v| !v.is_empty()) {
            return ColorSupport::None;
        }
        if outer_truecolor(&var) {
            ColorSupport::TrueColor
        } else if var("TERM").is_some_and(|t| SIXTEEN_COLOUR_TERMS.contains(&t.as_str())) {
            ColorSupport::Ansi16
        } else {
            ColorSupport::Ansi256
        }
    }

    pub fn from_env() -> ColorSupport {
        ColorSupport::detect(|k| std::env::var(k).ok())
    }
}

/// Whether the terminal boocode runs in announces 24-bit colour (`COLORTERM`), whatever
/// `NO_COLOR` says: a terminal pane passes that on to its program.
pub fn outer_truecolor(var: impl Fn(&str) -> Option<String>) -> bool {
    matches!(
        var("COLORTERM").as_deref(),
        Some("truecolor") | Some("24bit")
    )
}

/// The styles every pane draws with.
#[derive(Debug, Clone)]
pub struct Theme {
    pub support: ColorSupport,
    pub text: Style,
    pub dim: Style,
    pub accent: Style,
    pub title: Style,
    pub title_focused: Style,
    pub border: Style,
    pub border_focused: Style,
    pub selection: Style,
    pub status_bar: Style,
    pub success: Style,
    pub warning: Style,
    pub error: Style,
    pub user: Style,
    pub assistant: Style,
    pub reasoning: Style,
    pub tool: Style,
    pub code: Style,
    pub link: Style,
    pub heading: Style,
    pub diff_added: Style,
    pub diff_removed: Style,
    pub diff_hunk: Style,
}

impl Theme {
    pub fn new(support: ColorSupport) -> Theme {
        // (truecolor, 256-colour index) pairs; the 256 fallbacks are the nearest cube colours.
        let c = |rgb: (u8, u8, u8), idx: u8| -> Option<Color> {
            match support {
                ColorSupport::None => None,
                ColorSupport::Ansi16 => Some(map_color(rgb.0, rgb.1, rgb.2, support)),
                ColorSupport::Ansi256 => Some(Color::Indexed(idx)),
                ColorSupport::TrueColor => Some(Color::Rgb(rgb.0, rgb.1, rgb.2)),
            }
        };
        let fg = |color: Option<Color>| match color {
            Some(col) => Style::default().fg(col),
            None => Style::default(),
        };
        let green = c((0x8f, 0xd1, 0x7a), 114);
        let yellow = c((0xe5, 0xc0, 0x7b), 180);
        let red = c((0xe0, 0x6c, 0x75), 168);
        let blue = c((0x61, 0xaf, 0xef), 75);
        let cyan = c((0x56, 0xb6, 0xc2), 73);
        let magenta = c((0xc6, 0x78, 0xdd), 176);
        let grey = c((0x7f, 0x84, 0x8e), 245);
        let bar_bg = c((0x2c, 0x31, 0x3a), 236);
        let sel_bg = c((0x3e, 0x44, 0x51), 238);
        let bold = Modifier::BOLD;
        let selection = match sel_bg {
            Some(bg) => Style::default().bg(bg),
            None => Style::default().add_modifier(Modifier::REVERSED),
        };
        let status_bar = match bar_bg {
            Some(bg) => Style::default().bg(bg),
            None => Style::default().add_modifier(Modifier::REVERSED),
        };
        Theme {
            support,
            text: Style::default(),
            dim: fg(grey).add_modifier(Modifier::DIM),
            accent: fg(blue).add_modifier(bold),
            title: fg(grey),
            title_focused: fg(blue).add_modifier(bold),
            border: fg(grey).add_modifier(Modifier::DIM),
            border_focused: fg(blue),
            selection,
            status_bar,
            success: fg(green),
            warning: fg(yellow),
            error: fg(red).add_modifier(bold),
            user: fg(cyan).add_modifier(bold),
            assistant: Style::default(),
            reasoning: fg(grey).add_modifier(Modifier::DIM | Modifier::ITALIC),
            tool: fg(magenta),
            code: fg(yellow),
            link: fg(blue).add_modifier(Modifier::UNDERLINED),
            heading: fg(blue).add_modifier(bold),
            diff_added: fg(green),
            diff_removed: fg(red),
            diff_hunk: fg(cyan),
        }
    }

    pub fn from_env() -> Theme {
        Theme::new(ColorSupport::from_env())
    }

    /// Green below 1 s, yellow below 5 s, red from 5 s: latency bars and badges.
    pub fn latency(&self, ms: u64) -> Style {
        match ms {
            0..=999 => self.success,
            1_000..=4_999 => self.warning,
            _ => self.error,
        }
    }

    /// Green from 60 %, yellow from 30 %, red below: cache hit rates.
    pub fn hit_rate(&self, rate: f64) -> Style {
        if rate >= 0.6 {
            self.success
        } else if rate >= 0.3 {
            self.warning
        } else {
            self.error
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_means_no_colours_anywhere() {
        let support = ColorSupport::detect(|k| (k == "NO_COLOR").then(|| "1".to_string()));
        assert_eq!(support, ColorSupport::None);
        let t = Theme::new(support);
        for style in [
            t.success,
            t.error,
            t.link,
            t.selection,
            t.diff_added,
            t.status_bar,
        ] {
            assert_eq!(style.fg, None);
            assert_eq!(style.bg, None);
        }
    }

    #[test]
    fn truecolor_only_when_announced() {
        let truecolor = ColorSupport::detect(|k| (k == "COLORTERM").then(|| "truecolor".into()));
        assert_eq!(truecolor, ColorSupport::TrueColor);
        let plain = ColorSupport::detect(|_| None);
        assert_eq!(plain, ColorSupport::Ansi256);
        let console = ColorSupport::detect(|k| (k == "TERM").then(|| "linux".into()));
        assert_eq!(console, ColorSupport::Ansi16);
        assert!(matches!(
            Theme::new(console).error.fg,
            Some(c) if !matches!(c, Color::Indexed(_) | Color::Rgb(..))
        ));
        assert!(matches!(
            Theme::new(plain).success.fg,
            Some(Color::Indexed(_))
        ));
    }

    #[test]
    fn thresholds_match_the_spec() {
        let t = Theme::new(ColorSupport::Ansi256);
        assert_eq!(t.latency(999), t.success);
        assert_eq!(t.latency(1000), t.warning);
        assert_eq!(t.latency(5000), t.error);
        assert_eq!(t.hit_rate(0.6), t.success);
        assert_eq!(t.hit_rate(0.59), t.warning);
        assert_eq!(t.hit_rate(0.29), t.error);
    }
}
