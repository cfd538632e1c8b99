//! The terminal pane: a [`TerminalSession`] (a program on a PTY) drawn into its rectangle.
//!
//! - Output: the session's reader thread wakes the workspace through [`PaneContext::wake`];
//!   [`Pane::poll`] turns what happened into a redraw, a bell notice or an OSC 52 copy. The
//!   screen is read only while drawing, at most once a frame however fast the program writes.
//! - Input: keys, pastes and mouse reports are encoded for the program by `core::pty`'s
//!   encoders from the modes it set ([`input`]); `C-b C-b` sends one Ctrl-b; a locked pane gets
//!   every key until the workspace's unlock key.
//! - Size: the pane's body is the terminal; a change is passed on once it has held for
//!   [`RESIZE_DEBOUNCE`], so dragging a border does not flood the program with SIGWINCH.
//! - Copy mode and search over scrollback and screen ([`copy`]).
//! - When the program ends the pane says how and offers `r` (run it again) and `x` (close).
//! - A terminal agent's run is started by the core; its pane is [`TerminalPane::attached`] to
//!   that session (same screen, same input) and is never run again from the pane.

mod copy;
mod input;
mod render;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{KeyEvent, MouseEvent};
use ratatui::layout::Rect;
use ratatui::Frame;
use tokio::sync::Notify;

use crate::core::pty::alacritty::AlacrittyScreen;
use crate::core::pty::screen::{CursorShape, GridSize, ScreenSignal};
use crate::core::pty::session::{SessionSpec, TerminalSession};
use crate::tui::pane::{AppAction, KeyOutcome, Pane, PaneContext, PaneSpec};
use crate::tui::panes::one_line;

use copy::CopyMode;

/// How long a new size must hold before the program is told.
const RESIZE_DEBOUNCE: Duration = Duration::from_millis(50);

pub struct TerminalPane {
    spec: SessionSpec,
    /// The program runs from the pane's first frame, at the size of its body.
    started: bool,
    session: Option<Arc<TerminalSession>>,
    /// What the pane shows when it shows a terminal agent's run (the core owns the process).
    agent_run: Option<String>,
    /// Why the program could not be started.
    error: Option<String>,
    wake: Arc<Notify>,
    scrollback_lines: usize,
    /// Set by `C-b C-g`: every key goes to the program until the unlock key; its name.
    locked: Option<String>,
    /// A size the body took that the program has not been told yet, and since when.
    pending_size: Option<(GridSize, Instant)>,
    /// Whether the last frame drew the pane focused (focus reports, 1004).
    focused: bool,
    copy: Option<CopyMode>,
    /// A line written above the program's output when it is run again.
    banner: Option<String>,
}

impl TerminalPane {
    pub fn new(spec: SessionSpec, ctx: &PaneContext<'_>) -> TerminalPane {
        TerminalPane {
            spec,
            started: false,
            session: None,
            agent_run: None,
            error: None,
            wake: ctx.wake.clone(),
            scrollback_lines: ctx.engine.rt.config.terminal_scrollback_lines,
            locked: None,
            pending_size: None,
            focused: false,
            copy: None,
            banner: None,
        }
    }

    /// A pane on a session the core started (a terminal agent's run), titled `label`. The
    /// pane takes its own size once drawn; the process stays the core's.
    pub fn attached(
        session: Arc<TerminalSession>,
        label: String,
        cwd: std::path::PathBuf,
        ctx: &PaneContext<'_>,
    ) -> TerminalPane {
        session.add_watcher(ctx.wake.clone());
        let size = session.screen().size();
        let mut pane = TerminalPane::new(
            SessionSpec {
                argv: Some(session.argv().to_vec()),
                cwd,
                size,
                truecolor: false,
            },
            ctx,
        );
        pane.started = true;
        pane.session = Some(session);
        pane.agent_run = Some(label);
        pane
    }

    /// Whether `r` may run the program again: not an agent's run, which belongs to its chat.
    fn can_restart(&self) -> bool {
        self.agent_run.is_none()
    }

    /// The spec a new pane gets: the user's shell in the project directory, 80x24 until drawn.
    pub fn shell_spec(ctx: &PaneContext<'_>) -> PaneSpec {
        PaneSpec::Terminal {
            argv: None,
            cwd: ctx.engine.rt.project_root.clone(),
            cols: 80,
            rows: 24,
        }
    }

    /// Runs the program (again): a fresh screen, the banner on its first line.
    fn start(&mut self) {
        self.started = true;
        let mut screen = AlacrittyScreen::new(self.spec.size, self.scrollback_lines);
        if let Some(banner) = self.banner.take() {
            use crate::core::pty::screen::ScreenEngine;
            screen.feed(format!("\x1b[2m{}\x1b[0m\r\n", one_line(&banner)).as_bytes());
        }
        self.copy = None;
        match TerminalSession::spawn(&self.spec, Box::new(screen), self.wake.clone()) {
            Ok(session) => {
                self.session = Some(Arc::new(session));
                self.error = None;
            }
            Err(e) => {
                self.session = None;
                self.error = Some(e.to_string());
            }
        }
    }

    fn restart(&mut self) {
        if !self.can_restart() {
            return;
        }
        self.restored();
        self.session = None;
        self.start();
    }

    /// The command as a person would type it; an agent's run by its label (the task is long).
    fn command_line(&self) -> String {
        match &self.agent_run {
            Some(label) => label.clone(),
            None => self.spec.resolved_argv().join(" "),
        }
    }

    /// How the program ended, or why it never ran; `None` while it runs.
    fn ended(&self) -> Option<String> {
        match (&self.session, &self.error) {
            (_, Some(e)) => Some(format!("could not start: {e}")),
            (Some(s), None) => s.exit().map(|exit| exit.to_string()),
            (None, None) => None,
        }
    }

    /// Takes a new body size; the program is told once it has held for [`RESIZE_DEBOUNCE`].
    fn follow_size(&mut self, size: GridSize, now: Instant) {
        if size.cols == 0 || size.rows == 0 {
            return;
        }
        let current = self.spec.size;
        match self.pending_size {
            _ if size == current => self.pending_size = None,
            Some((want, since)) if want == size => {
                if now.duration_since(since) >= RESIZE_DEBOUNCE {
                    self.pending_size = None;
                    self.spec.size = size;
                    if let Some(session) = &self.session {
                        if let Err(e) = session.resize(size) {
                            tracing::warn!("terminal: resizing: {e}");
                        }
                    }
                }
            }
            _ => self.pending_size = Some((size, now)),
        }
    }

    fn write(&self, bytes: &[u8]) -> KeyOutcome {
        match &self.session {
            Some(s) if !s.write(bytes) => KeyOutcome::Actions(vec![AppAction::Notice(
                "the program is not reading its input: keys dropped".into(),
            )]),
            _ => KeyOutcome::Forwarded,
        }
    }
}

impl Pane for TerminalPane {
    fn spec(&self) -> PaneSpec {
        PaneSpec::Terminal {
            // An agent's run is not started again from a saved layout (its chat does that):
            // the pane comes back as a shell in the agent's working directory.
            argv: match self.agent_run {
                Some(_) => None,
                None => self.spec.argv.clone(),
            },
            cwd: self.spec.cwd.clone(),
            cols: self.spec.size.cols,
            rows: self.spec.size.rows,
        }
    }

    fn title(&self, _ctx: &PaneContext<'_>) -> String {
        let program_title = || {
            self.session
                .as_ref()
                .and_then(|s| s.screen().title())
                .filter(|t| !t.trim().is_empty())
        };
        // An agent's run is named after its agent and chat whatever the program calls itself.
        let what = match &self.agent_run {
            Some(label) => label.clone(),
            None => program_title().unwrap_or_else(|| {
                format!("{} · {}", self.command_line(), self.spec.cwd.display())
            }),
        };
        // What the pane is in comes before what runs, which a narrow title cuts.
        let mut parts = vec!["terminal".to_string()];
        if let Some(unlock) = &self.locked {
            parts.push(format!("LOCKED ({unlock} unlocks)"));
        }
        if let Some(copy) = &self.copy {
            parts.push(copy.title());
        }
        parts.extend(self.ended());
        parts.push(what);
        parts.join(" · ")
    }

    fn render(&mut self, frame: &mut Frame<'_>, area: Rect, ctx: &PaneContext<'_>, focused: bool) {
        if !self.started && area.width > 0 && area.height > 0 {
            self.spec.size = GridSize {
                cols: area.width,
                rows: area.height,
            };
            self.start();
        }
        let ended = self.ended();
        if ended.is_none() {
            self.follow_size(
                GridSize {
                    cols: area.width,
                    rows: area.height,
                },
                Instant::now(),
            );
        }
        if focused != self.focused {
            self.focused = focused;
            if let Some(bytes) = self
                .session
                .as_ref()
                .and_then(|s| crate::core::pty::paste::encode_focus(focused, &s.screen().modes()))
            {
                self.write(&bytes);
            }
        }
        let Some(session) = &self.session else {
            if let Some(ended) = ended {
                render::draw_message(frame, area, ctx.theme, &ended);
                render::draw_ended(frame, area, ctx.theme, &ended, self.can_restart());
            }
            return;
        };
        let screen = session.screen();
        if let Some(copy) = &mut self.copy {
            copy.follow(&**screen);
        }
        let view = render::View {
            scroll: self.copy.as_ref().map_or(0, |c| c.scroll()),
            copy: self.copy.as_ref(),
            cursor: focused && self.copy.is_none() && ended.is_none(),
        };
        render::draw_screen(frame, area, ctx.theme, &**screen, &view);
        if let Some(ended) = ended {
            render::draw_ended(frame, area, ctx.theme, &ended, self.can_restart());
        }
    }

    fn handle_key(&mut self, key: KeyEvent, _ctx: &PaneContext<'_>) -> KeyOutcome {
        input::key(self, key)
    }

    fn handle_paste(&mut self, text: &str, _ctx: &PaneContext<'_>) -> KeyOutcome {
        input::paste(self, text)
    }

    fn handle_mouse(
        &mut self,
        mouse: MouseEvent,
        area: Rect,
        _ctx: &PaneContext<'_>,
    ) -> KeyOutcome {
        input::mouse(self, mouse, area)
    }

    fn on_event(&mut self, _event: &crate::core::events::Event, _ctx: &PaneContext<'_>) -> bool {
        false
    }

    fn is_animating(&self) -> bool {
        // A size waiting out its debounce needs another look.
        self.pending_size.is_some()
    }

    fn enter_scroll_mode(&mut self) -> bool {
        if let Some(session) = &self.session {
            self.copy = Some(CopyMode::new(&**session.screen()));
        }
        self.session.is_some()
    }

    fn start_search(&mut self) -> bool {
        if let Some(session) = &self.session {
            let mut copy = self
                .copy
                .take()
                .unwrap_or_else(|| CopyMode::new(&**session.screen()));
            copy.prompt_search();
            self.copy = Some(copy);
        }
        self.session.is_some()
    }

    fn mode_label(&self) -> Option<&'static str> {
        match (&self.copy, &self.locked) {
            (Some(copy), _) => Some(copy.mode_label()),
            (None, Some(_)) => Some("LOCKED"),
            (None, None) => None,
        }
    }

    fn has_news(&self) -> bool {
        self.session.as_ref().is_some_and(|s| s.is_dirty())
    }

    fn poll(&mut self) -> KeyOutcome {
        let Some(session) = &self.session else {
            return KeyOutcome::Ignored;
        };
        let dirty = session.take_dirty();
        let mut actions = Vec::new();
        for signal in session.take_signals() {
            match signal {
                ScreenSignal::Bell => actions.push(AppAction::Notice(format!(
                    "bell in terminal · {}",
                    self.command_line()
                ))),
                ScreenSignal::ClipboardStore { text } => actions.push(AppAction::Copy(text)),
                ScreenSignal::Title(_) => {}
            }
        }
        match (dirty, actions.is_empty()) {
            (false, true) => KeyOutcome::Ignored,
            (true, true) => KeyOutcome::Consumed,
            _ => KeyOutcome::Actions(actions),
        }
    }

    fn set_locked(&mut self, locked: bool, unlock: &str) -> bool {
        self.locked = locked.then(|| unlock.to_string());
        true
    }

    fn is_locked(&self) -> bool {
        self.locked.is_some()
    }

    fn cursor_shape(&self) -> Option<(CursorShape, bool)> {
        if self.copy.is_some() || self.ended().is_some() {
            return None;
        }
        let cursor = self.session.as_ref()?.screen().cursor();
        Some((cursor.shape, cursor.blinking))
    }

    fn restored(&mut self) {
        // The process of the saved layout is gone: say that this one is new.
        self.banner = Some(format!("restarted: {}", self.command_line()));
    }
}

#[cfg(test)]
mod tests;
