//! The pane workspace: a ratatui + crossterm front end, a thin client of the core engine
//! (`Command`s in, `Event`s out). It never talks to the model or SQLite itself.
//!
//! - [`run_workspace`] sets up the engine and the terminal and restores the terminal on every
//!   way out (normal exit, panic, SIGTERM/SIGHUP);
//! - `app` is the state and the event loop, `layout` the pane tree, `keymap` the bindings,
//!   `panes` the pane kinds, `fuzzy` the palette's matcher, `theme` the styles.

pub mod app;
pub mod clipboard;
pub mod cursor_style;
pub mod diff;
pub mod event_loop;
pub mod frames;
pub mod fuzzy;
mod help;
pub mod highlight;
pub mod keymap;
pub mod layout;
pub mod markdown;
pub mod palette;
pub mod pane;
pub mod panes;
pub mod pickers;
pub mod quit;
pub mod theme;

#[cfg(test)]
pub(crate) mod test_support;

use std::io::{stdout, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

use crate::core::config::Config;
use crate::core::engine::{Engine, EngineOptions};
use crate::tui::app::App;
use crate::tui::keymap::Keymap;
use crate::tui::theme::Theme;

/// How to open the workspace.
pub struct WorkspaceOptions {
    pub config: Config,
    pub project_root: PathBuf,
    /// `--session ID`: open this session.
    pub session: Option<String>,
    /// `--resume`: open the project's latest session.
    pub resume_latest: bool,
}

/// Opens the workspace; returns the process exit code.
pub fn run_workspace(options: WorkspaceOptions) -> i32 {
    if !std::io::stdin().is_terminal() || !stdout().is_terminal() {
        eprintln!("boocode: the workspace needs a terminal; use `boocode exec PROMPT` in scripts");
        return 2;
    }
    if let Err(e) = crate::core::logging::init(&options.config.home) {
        eprintln!("boocode: {e:#}");
        return 1;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("boocode: starting the runtime: {e}");
            return 1;
        }
    };
    match runtime.block_on(workspace(options)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("boocode: {e:#}");
            1
        }
    }
}

async fn workspace(options: WorkspaceOptions) -> Result<()> {
    let mouse = options
        .config
        .ui
        .get("mouse")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    let (keymap, warnings) = Keymap::from_config(&options.config.ui);
    let (engine, events, recovery) = Engine::start(EngineOptions {
        config: options.config,
        project_root: options.project_root,
        interactive: true,
    })?;
    let (session, layout) =
        app::initial_workspace(&engine, options.session.as_deref(), options.resume_latest)?;
    let mut app = App::new(engine.clone(), Theme::from_env(), keymap, session, layout);
    if !warnings.is_empty() {
        app.notify(format!("config: {}", warnings.join("; ")));
    } else if !recovery.is_empty() {
        app.notify("recovered after a crash: interrupted work is marked in the panes");
    }

    let guard = TerminalGuard::enter(mouse)?;
    let mut terminal = Terminal::new(CrosstermBackend::new(guard.frame_output()))?;
    terminal.clear()?;
    let ssh = std::env::var_os("SSH_CONNECTION").is_some();
    let input = crossterm::event::EventStream::new();
    let result =
        event_loop::run_loop(&mut app, &mut terminal, input, events, stop_signal(), ssh).await;
    // Work still going (the user said yes to quitting, or a signal came) ends as cancelled
    // rather than being left for the next start's crash recovery.
    let work = engine.running_work();
    if !work.is_empty() {
        app.notify(format!("stopping: cancelling {}…", work.describe()));
        let _ = terminal.draw(|f| app.render(f));
        let left = engine.stop_work(quit::STOP_GRACE).await;
        if !left.is_empty() {
            tracing::warn!("quit with work still ending: {}", left.describe());
        }
    }
    drop(terminal);
    drop(guard);
    engine.shutdown();
    result
}

/// Resolves on SIGTERM or SIGHUP (the terminal went away).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let term = signal(SignalKind::terminate());
        let hup = signal(SignalKind::hangup());
        match (term, hup) {
            (Ok(mut term), Ok(mut hup)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = hup.recv() => {}
                }
            }
            _ => std::future::pending::<()>().await,
        }
    }
    #[cfg(not(unix))]
    std::future::pending::<()>().await
}

/// Raw mode, alternate screen, bracketed paste (and mouse capture when configured); undone on
/// drop and by the panic hook.
struct TerminalGuard {
    active: Arc<AtomicBool>,
}

static MOUSE: AtomicBool = AtomicBool::new(false);
/// Whether the outer terminal took the kitty keyboard flags (and must be given them back).
static KEYBOARD_FLAGS: AtomicBool = AtomicBool::new(false);

fn restore_terminal() {
    let _ = disable_raw_mode();
    let mut out = stdout();
    if MOUSE.load(Ordering::SeqCst) {
        let _ = execute!(out, DisableMouseCapture);
    }
    if KEYBOARD_FLAGS.swap(false, Ordering::SeqCst) {
        let _ = execute!(out, crossterm::event::PopKeyboardEnhancementFlags);
    }
    let _ = execute!(
        out,
        DisableBracketedPaste,
        LeaveAlternateScreen,
        crossterm::cursor::SetCursorStyle::DefaultUserShape,
        crossterm::cursor::Show
    );
    let _ = out.flush();
}

impl TerminalGuard {
    fn enter(mouse: bool) -> Result<TerminalGuard> {
        let active = Arc::new(AtomicBool::new(true));
        let hook_active = active.clone();
        let ui_thread = std::thread::current().id();
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let on_ui_thread = std::thread::current().id() == ui_thread;
            if on_ui_thread && hook_active.swap(false, Ordering::SeqCst) {
                restore_terminal();
                previous(info);
            } else if hook_active.load(Ordering::SeqCst) {
                // A worker task panicked while the screen is ours: log it, keep the screen.
                tracing::error!("panic in a background task: {info}");
            } else {
                previous(info);
            }
        }));
        enable_raw_mode().context("enabling raw mode")?;
        MOUSE.store(mouse, Ordering::SeqCst);
        let mut out = stdout();
        execute!(out, EnterAlternateScreen, EnableBracketedPaste)
            .context("entering the alternate screen")?;
        if mouse {
            execute!(out, EnableMouseCapture).context("enabling the mouse")?;
        }
        // Where the terminal can tell them apart (the kitty keyboard protocol), Shift-Enter,
        // Ctrl-Enter and keypad keys reach terminal panes as such. Event types are not asked
        // for: held keys would then come as repeats, which panes do not send on.
        if crossterm::terminal::supports_keyboard_enhancement().unwrap_or(false)
            && execute!(
                out,
                crossterm::event::PushKeyboardEnhancementFlags(
                    crossterm::event::KeyboardEnhancementFlags::DISAMBIGUATE_ESCAPE_CODES
                )
            )
            .is_ok()
        {
            KEYBOARD_FLAGS.store(true, Ordering::SeqCst);
        }
        Ok(TerminalGuard { active })
    }
}

impl TerminalGuard {
    /// Where frames are drawn: buffered and written once per frame (ratatui flushes after each
    /// draw), and dropped instead once the terminal has been restored, so a panic in the middle
    /// of a frame never paints half a frame over the shell.
    fn frame_output(&self) -> FrameOutput<std::io::Stdout> {
        FrameOutput::new(stdout(), self.active.clone())
    }
}

struct FrameOutput<W: Write> {
    sink: W,
    buf: Vec<u8>,
    /// False once the terminal was restored.
    active: Arc<AtomicBool>,
}

impl<W: Write> FrameOutput<W> {
    fn new(sink: W, active: Arc<AtomicBool>) -> FrameOutput<W> {
        FrameOutput {
            sink,
            buf: Vec::with_capacity(1 << 16),
            active,
        }
    }
}

impl<W: Write> Write for FrameOutput<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let result = if self.active.load(Ordering::SeqCst) {
            let sink = &mut self.sink;
            sink.write_all(&self.buf).and_then(|()| sink.flush())
        } else {
            Ok(())
        };
        self.buf.clear();
        result
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        if self.active.swap(false, Ordering::SeqCst) {
            restore_terminal();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_reach_the_terminal_whole_and_never_after_it_was_restored() {
        let active = Arc::new(AtomicBool::new(true));
        let mut out = FrameOutput::new(Vec::new(), active.clone());
        out.write_all(b"\x1b[1;1Hhalf").unwrap();
        assert!(
            out.sink.is_empty(),
            "nothing is written before the frame ends"
        );
        out.write_all(b" a frame").unwrap();
        out.flush().unwrap();
        assert_eq!(out.sink, b"\x1b[1;1Hhalf a frame");
        // A panic restored the terminal while a frame was being drawn.
        out.write_all(b"\x1b[5;1Hpartial").unwrap();
        active.store(false, Ordering::SeqCst);
        out.flush().unwrap();
        assert_eq!(out.sink, b"\x1b[1;1Hhalf a frame");
    }
}
