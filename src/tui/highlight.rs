//! Syntax highlighting of code blocks with syntect, degraded to the terminal's colours:
//! truecolor as is, 256-colour terminals get the nearest palette entry, `NO_COLOR` gets none.

use std::sync::OnceLock;

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use syntect::highlighting::{
    HighlightIterator, HighlightState, Highlighter, Theme as SynTheme, ThemeSet,
};
use syntect::parsing::{ParseState, ScopeStack, SyntaxSet};

use crate::tui::palette::map_color;
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

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::style::Color;

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
