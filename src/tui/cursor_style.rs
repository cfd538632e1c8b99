//! The outer terminal's cursor shape follows what the focused terminal pane's program asked
//! for (DECSCUSR: vim's bar in insert mode, a block elsewhere); other panes get the user's own.

use crossterm::cursor::SetCursorStyle;

use crate::core::pty::screen::CursorShape;

/// The shape last sent, so a frame sends nothing when it did not change.
#[derive(Debug, Default)]
pub struct CursorStyle {
    sent: Option<(CursorShape, bool)>,
}

impl CursorStyle {
    /// Sends `want` (shape, blinking) to the terminal when it changed; `None` is the user's
    /// default shape.
    pub fn apply(&mut self, want: Option<(CursorShape, bool)>, out: &mut impl std::io::Write) {
        if want == self.sent {
            return;
        }
        self.sent = want;
        let _ = crossterm::execute!(out, style_for(want));
    }
}

fn style_for(want: Option<(CursorShape, bool)>) -> SetCursorStyle {
    match want {
        None => SetCursorStyle::DefaultUserShape,
        Some((CursorShape::Block, true)) => SetCursorStyle::BlinkingBlock,
        Some((CursorShape::Block, false)) => SetCursorStyle::SteadyBlock,
        Some((CursorShape::Underline, true)) => SetCursorStyle::BlinkingUnderScore,
        Some((CursorShape::Underline, false)) => SetCursorStyle::SteadyUnderScore,
        Some((CursorShape::Bar, true)) => SetCursorStyle::BlinkingBar,
        Some((CursorShape::Bar, false)) => SetCursorStyle::SteadyBar,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_changes_are_sent() {
        let mut style = CursorStyle::default();
        let mut out = Vec::new();
        style.apply(None, &mut out);
        assert!(out.is_empty(), "the default needs no sequence at first");
        style.apply(Some((CursorShape::Bar, false)), &mut out);
        assert_eq!(out, b"\x1b[6 q");
        style.apply(Some((CursorShape::Bar, false)), &mut out);
        assert_eq!(out, b"\x1b[6 q", "unchanged: nothing more");
        out.clear();
        style.apply(None, &mut out);
        assert_eq!(out, b"\x1b[0 q");
    }
}
