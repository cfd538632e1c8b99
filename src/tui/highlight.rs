//! Syntax highlighting of code blocks with syntect, degraded to the terminal's colours:
//! truecolor as is, 256-colour terminals get the nearest palette entry, `NO_COLOR` gets none.

use std::sync::OnceLock;

use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use syntect::highlighting::{
    HighlightIterator, HighlightState, Highlighter, Theme as SynTheme, ThemeSet,
};
use syntect::parsing::{ParseState, ScopeStack, SyntaxSet};

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

/// Highlighted code blocks remembered across renders, so a code block that grows line by line
/// while a reply streams is highlighted once per new line instead of once per line per render
/// (syntect's parse state after the last complete line is kept and resumed).
#[derive(Debug, Clone, Default)]
pub struct HighlightCache {
    /// Most recently used first.
    blocks: Vec<HighlightedBlock>,
}

/// Enough for the code blocks of one re-rendered stretch of a reply.
const CACHED_BLOCKS: usize = 8;

#[derive(Debug, Clone)]
struct HighlightedBlock {
    lang: String,
    support: ColorSupport,
    /// The code highlighted so far: whole lines, each ending in a newline.
    code: String,
    lines: Vec<Line<'static>>,
    state: ParseState,
    highlight: HighlightState,
}

/// Highlights `code` (one entry per line, no trailing newline) as language `lang`.
/// Unknown languages, and `NO_COLOR`, get the theme's plain code style.
pub fn highlight(code: &str, lang: &str, theme: &Theme) -> Vec<Line<'static>> {
    highlight_cached(code, lang, theme, &mut HighlightCache::default())
}

/// [`highlight`], resuming from a block in `cache` whose code is a prefix of `code`.
pub fn highlight_cached(
    code: &str,
    lang: &str,
    theme: &Theme,
    cache: &mut HighlightCache,
) -> Vec<Line<'static>> {
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
    let highlighter = Highlighter::new(syn);
    let resumed = cache
        .blocks
        .iter()
        .position(|b| b.lang == lang && b.support == theme.support && code.starts_with(&b.code))
        .map(|i| cache.blocks.remove(i));
    let mut block = resumed.unwrap_or_else(|| HighlightedBlock {
        lang: lang.to_string(),
        support: theme.support,
        code: String::new(),
        lines: Vec::new(),
        state: ParseState::new(syntax),
        highlight: HighlightState::new(&highlighter, ScopeStack::new()),
    });
    let mut out = block.lines.clone();
    let rest = &code[block.code.len()..];
    for line in syntect::util::LinesWithEndings::from(rest) {
        // A last line without its newline may still grow: highlight it from a copy of the state.
        let complete = line.ends_with('\n');
        let mut partial;
        let (state, highlight) = if complete {
            (&mut block.state, &mut block.highlight)
        } else {
            partial = (block.state.clone(), block.highlight.clone());
            (&mut partial.0, &mut partial.1)
        };
        let rendered = highlight_line(line, state, highlight, &highlighter, set, theme);
        if complete {
            block.code.push_str(line);
            block.lines.push(rendered.clone());
        }
        out.push(rendered);
    }
    cache.blocks.insert(0, block);
    cache.blocks.truncate(CACHED_BLOCKS);
    out
}

fn highlight_line(
    line: &str,
    state: &mut ParseState,
    highlight: &mut HighlightState,
    highlighter: &Highlighter<'_>,
    set: &SyntaxSet,
    theme: &Theme,
) -> Line<'static> {
    let Ok(ops) = state.parse_line(line, set) else {
        // A highlighting failure must not lose the code: show the line plain.
        return Line::from(Span::styled(
            line.trim_end_matches(['\n', '\r']).to_string(),
            theme.code,
        ));
    };
    let spans: Vec<Span<'static>> = HighlightIterator::new(highlight, &ops, line, highlighter)
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
    Line::from(spans)
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

    #[test]
    fn growing_block_highlights_the_same_as_a_fresh_one() {
        // A block comment spans lines, so resuming needs the parse state, not just the text.
        let full = "fn a() {\n    /* one\n    two */ let x = \"s\";\n}\nfn b() {}\n";
        let theme = Theme::new(ColorSupport::TrueColor);
        let mut cache = HighlightCache::default();
        let mut end = 0;
        while end < full.len() {
            // Grow by whole lines and by a half line, as a streamed block does.
            end = (end + 7).min(full.len());
            let code = &full[..end];
            assert_eq!(
                highlight_cached(code, "rust", &theme, &mut cache),
                highlight(code, "rust", &theme),
                "prefix {code:?}"
            );
        }
        assert_eq!(cache.blocks.len(), 1);
        assert_eq!(cache.blocks[0].code, full);
        // A different block sharing no prefix starts afresh and leaves the first cached.
        let other = "let y = 1;\n";
        assert_eq!(
            highlight_cached(other, "rust", &theme, &mut cache),
            highlight(other, "rust", &theme)
        );
        assert_eq!(cache.blocks.len(), 2);
    }
}
