//! `terminal/*` for an agent: each command runs in a terminal session of boocode's own (a PTY
//! and the screen engine, as in a terminal pane), in the agent's working directory or a
//! directory inside it. Output is what the screen shows, history included, as text (wrapped
//! lines joined, trailing blanks trimmed), cut from the start at a character boundary to the
//! agent's `outputByteLimit`. A released terminal's last output is kept a while, so a tool call
//! that embeds it still shows it; every terminal is killed when the agent's connection ends.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use agent_client_protocol as acp;
use tokio::sync::Notify;

use super::client::invalid;
use crate::core::agent::tools::path_guard;
use crate::core::pty::alacritty::AlacrittyScreen;
use crate::core::pty::screen::{GridSize, ScreenEngine};
use crate::core::pty::session::{signal_name, ExitReport, SessionSpec, TerminalSession};

/// The terminal a command sees: wide enough that most output lines do not wrap.
const GRID: GridSize = GridSize {
    cols: 160,
    rows: 40,
};
/// Lines of history kept above the screen; older output is lost (and reported truncated).
const SCROLLBACK_LINES: usize = 10_000;
/// Released terminals whose last output is kept for the tool calls that show them.
const KEPT_RELEASED: usize = 32;
/// How often a waiter looks again when no wake-up came (several may wait on one terminal).
const EXIT_POLL: Duration = Duration::from_millis(100);

/// What `terminal/output` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalText {
    pub output: String,
    pub truncated: bool,
    pub exit: Option<ExitReport>,
}

struct LiveTerminal {
    session: TerminalSession,
    /// Woken at every change of the screen and at the command's end.
    watch: Arc<Notify>,
    byte_limit: Option<usize>,
}

impl LiveTerminal {
    fn text(&self) -> TerminalText {
        let (text, history_lost) = {
            let screen = self.session.screen();
            (
                screen_text(screen.as_ref()),
                screen.history_len() >= SCROLLBACK_LINES,
            )
        };
        let (output, cut) = keep_tail(text, self.byte_limit);
        TerminalText {
            output,
            truncated: cut || history_lost,
            exit: self.session.exit(),
        }
    }

    async fn wait_for_exit(&self) -> ExitReport {
        loop {
            if let Some(exit) = self.session.exit() {
                return exit;
            }
            let _ = tokio::time::timeout(EXIT_POLL, self.watch.notified()).await;
        }
    }
}

/// The terminals of one agent connection (its requests arrive on one thread).
pub struct Terminals {
    cwd: PathBuf,
    live: RefCell<HashMap<String, Rc<LiveTerminal>>>,
    released: RefCell<VecDeque<(String, String)>>,
    next_id: Cell<u64>,
}

impl Terminals {
    pub fn new(cwd: PathBuf) -> Self {
        Terminals {
            cwd,
            live: RefCell::new(HashMap::new()),
            released: RefCell::new(VecDeque::new()),
            next_id: Cell::new(1),
        }
    }

    /// Starts the request's command; its id for the other methods.
    pub fn create(&self, request: &acp::CreateTerminalRequest) -> acp::Result<String> {
        let cwd = match &request.cwd {
            Some(dir) => path_guard::resolve(&self.cwd, &[], &dir.to_string_lossy())
                .map_err(|e| invalid(format!("cwd: {e}")))?,
            None => self.cwd.clone(),
        };
        if !cwd.is_dir() {
            return Err(invalid(format!("cwd {} is not a directory", cwd.display())));
        }
        let spec = SessionSpec {
            argv: Some(command_argv(&request.command, &request.args)),
            cwd,
            size: GRID,
            truecolor: false,
        };
        let env: BTreeMap<String, String> = request
            .env
            .iter()
            .map(|v| (v.name.clone(), v.value.clone()))
            .collect();
        // No one draws this screen: the UI's wake-up goes unused.
        let engine = Box::new(AlacrittyScreen::new(GRID, SCROLLBACK_LINES));
        let session = TerminalSession::spawn_with_env(&spec, &env, engine, Arc::new(Notify::new()))
            .map_err(|e| invalid(format!("{e}")))?;
        let watch = session.watch();
        let id = format!("term-{}", self.next_id.get());
        self.next_id.set(self.next_id.get() + 1);
        let byte_limit = request
            .output_byte_limit
            .map(|l| usize::try_from(l).unwrap_or(usize::MAX));
        self.live.borrow_mut().insert(
            id.clone(),
            Rc::new(LiveTerminal {
                session,
                watch,
                byte_limit,
            }),
        );
        Ok(id)
    }

    fn get(&self, id: &str) -> acp::Result<Rc<LiveTerminal>> {
        self.live
            .borrow()
            .get(id)
            .cloned()
            .ok_or_else(|| invalid(format!("no terminal {id} (never created, or released)")))
    }

    pub fn output(&self, id: &str) -> acp::Result<TerminalText> {
        Ok(self.get(id)?.text())
    }

    pub async fn wait_for_exit(&self, id: &str) -> acp::Result<ExitReport> {
        let terminal = self.get(id)?;
        Ok(terminal.wait_for_exit().await)
    }

    pub fn kill(&self, id: &str) -> acp::Result<()> {
        self.get(id)?.session.kill();
        Ok(())
    }

    /// Kills the command if it still runs and forgets the id; its last output stays readable
    /// through [`Self::shown_output`].
    pub fn release(&self, id: &str) -> acp::Result<()> {
        let terminal = self
            .live
            .borrow_mut()
            .remove(id)
            .ok_or_else(|| invalid(format!("no terminal {id} (never created, or released)")))?;
        terminal.session.kill();
        let mut released = self.released.borrow_mut();
        if released.len() == KEPT_RELEASED {
            released.pop_front();
        }
        released.push_back((id.to_string(), terminal.text().output));
        Ok(())
    }

    /// Kills every command still running (the turn was cancelled); the terminals stay until
    /// the agent releases them.
    pub fn kill_all(&self) {
        for terminal in self.live.borrow().values() {
            terminal.session.kill();
        }
    }

    /// Ends every terminal (the agent's connection ended).
    pub fn release_all(&self) {
        // Dropping a session kills its process group.
        self.live.borrow_mut().clear();
    }

    /// What a tool call embedding terminal `id` shows: its output so far, or its last output
    /// once released.
    pub fn shown_output(&self, id: &str) -> Option<String> {
        if let Some(terminal) = self.live.borrow().get(id) {
            return Some(terminal.text().output);
        }
        self.released
            .borrow()
            .iter()
            .rfind(|(released, _)| released == id)
            .map(|(_, output)| output.clone())
    }

    #[cfg(test)]
    fn live_count(&self) -> usize {
        self.live.borrow().len()
    }
}

/// The command's argv: the program and its arguments as given. A command line with no
/// arguments (`"cargo test --lib"`, as some agents send) runs through `/bin/sh -c`.
fn command_argv(command: &str, args: &[String]) -> Vec<String> {
    if args.is_empty() && command.trim().contains(char::is_whitespace) {
        return vec!["/bin/sh".into(), "-c".into(), command.to_string()];
    }
    std::iter::once(command.to_string())
        .chain(args.iter().cloned())
        .collect()
}

/// How a command ended, as ACP says it: a code, or a signal's name.
pub fn exit_status(exit: ExitReport) -> acp::TerminalExitStatus {
    match exit {
        ExitReport::Code(code) => {
            acp::TerminalExitStatus::new().exit_code(u32::try_from(code).ok())
        }
        ExitReport::Signal(signal) => acp::TerminalExitStatus::new()
            .signal(signal_name(signal).map_or_else(|| signal.to_string(), str::to_string)),
    }
}

/// History and screen as text: wrapped lines joined, trailing blanks and empty lines dropped.
fn screen_text(engine: &dyn ScreenEngine) -> String {
    let history = i32::try_from(engine.history_len()).unwrap_or(i32::MAX);
    let rows = i32::from(engine.size().rows);
    let mut text = String::new();
    for line in -history..rows {
        let row = engine.line_text(line);
        if engine.is_wrapped(line) {
            text.push_str(&row);
        } else {
            text.push_str(row.trim_end());
            text.push('\n');
        }
    }
    let used = text.trim_end().len();
    text.truncate(used);
    if !text.is_empty() {
        text.push('\n');
    }
    text
}

/// The last `limit` bytes of `text` at most, starting on a character boundary; whether
/// anything was cut.
fn keep_tail(text: String, limit: Option<usize>) -> (String, bool) {
    let Some(limit) = limit else {
        return (text, false);
    };
    if text.len() <= limit {
        return (text, false);
    }
    let mut start = text.len() - limit;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    (text[start..].to_string(), true)
}

#[cfg(test)]
#[path = "terminals_tests.rs"]
mod tests;
