//! Quitting with work running. `C-b q` while a chat turn, a background task or a workflow run
//! is going asks first; a yes quits, and the workspace then cancels that work and waits for it
//! to record its end (cancelled, not crashed) before the process exits.

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use crate::core::engine::Engine;
use crate::tui::theme::Theme;

/// The size of the question's box (it wraps in a narrower terminal).
pub const BOX_SIZE: (u16, u16) = (60, 8);

/// How long quitting waits for cancelled work to record its end.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// The question asked before quitting with work running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuitQuestion {
    /// What is running, in words ("1 chat turn, 2 background tasks").
    pub work: String,
}

impl QuitQuestion {
    /// The question to ask, or `None` when nothing runs and quitting needs no answer.
    pub fn for_engine(engine: &Engine) -> Option<QuitQuestion> {
        let work = engine.running_work();
        (!work.is_empty()).then(|| QuitQuestion {
            work: work.describe(),
        })
    }

    /// `Some(true)` quits, `Some(false)` stays; other keys leave the question open.
    pub fn answer(key: &KeyEvent) -> Option<bool> {
        match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => Some(true),
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => Some(false),
            _ => None,
        }
    }

    /// The question's lines, drawn inside `inner` (the overlay's frame is the caller's).
    pub fn draw(&self, frame: &mut Frame<'_>, inner: Rect, t: &Theme) {
        let lines = vec![
            Line::from(Span::styled(
                format!("Still running: {}.", self.work),
                t.text,
            )),
            Line::from(Span::styled(
                "Quitting cancels it (it can be resumed later).",
                t.dim,
            )),
            Line::raw(""),
            Line::from(vec![
                Span::styled("y", t.accent),
                Span::raw(" quit and cancel · "),
                Span::styled("n", t.accent),
                Span::raw("/"),
                Span::styled("Esc", t.accent),
                Span::raw(" keep working"),
            ]),
        ];
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), inner);
    }
}

#[cfg(test)]
mod tests {
    use crossterm::event::KeyModifiers;
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    use crate::tui::app::{initial_workspace, App};
    use crate::tui::keymap::Keymap;
    use crate::tui::test_support::{buffer_text, TestEngine};

    fn press(app: &mut App, c: char) {
        app.handle_key(crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Char(c),
            KeyModifiers::NONE,
        ));
    }

    fn quit_keys(app: &mut App) {
        app.handle_key(crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Char('b'),
            KeyModifiers::CONTROL,
        ));
        press(app, 'q');
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn quitting_with_a_turn_running_asks_first() {
        let t = TestEngine::new();
        let (session, layout) = initial_workspace(&t.engine, None, false).unwrap();
        let mut app = App::new(
            t.engine.clone(),
            t.theme.clone(),
            Keymap::default(),
            session,
            layout,
        );
        let _turn = t.engine.rt.begin_turn(&t.chat.id, None).unwrap();
        quit_keys(&mut app);
        assert!(!app.quit, "quit without asking while a turn runs");
        assert_eq!(app.mode(), "QUIT?");
        let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
        term.draw(|f| app.render(f)).unwrap();
        let screen = buffer_text(term.backend().buffer());
        assert!(screen.contains("Still running: 1 chat turn."), "{screen}");
        assert!(screen.contains("y quit and cancel"), "{screen}");
        // Typing on does not answer; n keeps working.
        press(&mut app, 'x');
        assert_eq!(app.mode(), "QUIT?");
        press(&mut app, 'n');
        assert!(!app.quit);
        assert_eq!(app.mode(), "NORMAL");
        quit_keys(&mut app);
        press(&mut app, 'y');
        assert!(app.quit);
        // With nothing running, the quit key quits at once.
        t.engine.rt.end_turn(&t.chat.id);
        app.quit = false;
        quit_keys(&mut app);
        assert!(app.quit);
    }
}
