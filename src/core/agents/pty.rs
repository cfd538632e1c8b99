//! The terminal-CLI backend (`protocol = "pty"`): a turn runs the agent's program once, with
//! the person's message as its `{task}` argument (one argument, never through a shell), on a
//! PTY inside the chat's worktree.
//!
//! The core owns the process: the [`TerminalSession`] is kept in [`AgentTerminals`] under the
//! chat, so a headless `agent run` works without any pane and the store gets the result. The
//! workspace, told by `Event::AgentTerminal`, draws that same session in a terminal pane
//! (input goes to the same PTY), so the person can watch and type to the agent.
//!
//! A run is recorded as one `terminal` tool call of the turn (its trace row has the latency
//! and the exit status), settled screen lines are announced as they come
//! (`Event::AgentTerminalLines`), and the turn's reply is the exit status with the last lines
//! of the screen — also the task's output summary.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::core::agent::{TurnOutcome, TurnStatus};
use crate::core::events::Event;
use crate::core::pty::alacritty::AlacrittyScreen;
use crate::core::pty::screen::{GridSize, ScreenEngine};
use crate::core::pty::session::{ExitReport, SessionSpec, TerminalSession};
use crate::core::runtime::{lock, Runtime};
use crate::core::store::PartKind;

use super::registry::AgentSpec;
use super::turn::{CallEnd, ExternalTurn};

/// The terminal a run gets until a pane gives it another size.
pub const DEFAULT_SIZE: GridSize = GridSize {
    cols: 120,
    rows: 40,
};
/// Lines of the final screen kept as the run's summary.
pub const SUMMARY_LINES: usize = 20;
/// How long a killed program may take to close its terminal before the turn ends anyway
/// (a process that left the group can keep the PTY open).
const KILL_GRACE: Duration = Duration::from_secs(2);
/// The tool name the run is traced under.
const TOOL_NAME: &str = "terminal";

/// The terminals of the pty agents' runs, by chat: the latest run of each chat, kept after it
/// ends so a pane opened late still shows its screen.
#[derive(Default)]
pub struct AgentTerminals {
    by_chat: Mutex<HashMap<String, Arc<TerminalSession>>>,
}

impl AgentTerminals {
    /// The chat's latest run.
    pub fn get(&self, chat_id: &str) -> Option<Arc<TerminalSession>> {
        lock(&self.by_chat).get(chat_id).cloned()
    }

    fn insert(&self, chat_id: &str, session: Arc<TerminalSession>) {
        lock(&self.by_chat).insert(chat_id.to_string(), session);
    }

    /// Forgets the chat's run; its program is killed once no pane shows it any more.
    pub fn remove(&self, chat_id: &str) {
        lock(&self.by_chat).remove(chat_id);
    }

    pub fn clear(&self) {
        lock(&self.by_chat).clear();
    }
}

/// The title of the pane that shows a chat's run: the agent and the chat.
pub fn pane_title(agent: &str, chat_id: &str) -> String {
    format!("{agent} · chat {}", short(chat_id))
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// Runs the agent's program for `turn` (already begun) in `cwd`, until it exits or `cancel`.
pub async fn run_turn(
    rt: &Arc<Runtime>,
    spec: &AgentSpec,
    mut turn: ExternalTurn,
    task: &str,
    cwd: PathBuf,
    cancel: CancellationToken,
) -> TurnOutcome {
    let chat_id = turn.chat_id().to_string();
    let argv: Vec<String> = std::iter::once(spec.command.clone())
        .chain(spec.arguments(task))
        .collect();
    let session_spec = SessionSpec {
        argv: Some(argv.clone()),
        cwd: cwd.clone(),
        size: DEFAULT_SIZE,
        truecolor: false,
    };
    let screen = AlacrittyScreen::new(DEFAULT_SIZE, rt.config.terminal_scrollback_lines);
    let started = TerminalSession::spawn_with_env(
        &session_spec,
        &spec.env,
        Box::new(screen),
        Arc::new(Notify::new()),
    );
    let session = match started {
        Ok(session) => Arc::new(session),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let error = format!(
                "agent '{}': {} not found (install it, or set command in [agents.{}])",
                spec.name, spec.command, spec.name
            );
            return turn.finish(TurnStatus::Failed, Some(error));
        }
        Err(e) => {
            let error = format!("agent '{}': {e}", spec.name);
            return turn.finish(TurnStatus::Failed, Some(error));
        }
    };
    let watch = session.watch();
    rt.agents.terminals.insert(&chat_id, session.clone());
    let title = pane_title(&spec.name, &chat_id);
    let call_id = format!("pty-{}-{}", short(&chat_id), turn.turn);
    turn.tool_started(
        &call_id,
        TOOL_NAME,
        json!({
            // The command as configured: the task is the chat's message, shown above it.
            "command": spec.command_line(),
            "cwd": cwd.to_string_lossy(),
            "pane": title,
        }),
    );
    rt.emit(Event::AgentTerminal {
        chat_id: chat_id.clone(),
        agent: spec.name.clone(),
        title,
        cwd,
    });

    let mut settled = SettledLines::default();
    let mut cancelled = false;
    let exit = loop {
        if let Some(exit) = session.exit() {
            break Some(exit);
        }
        tokio::select! {
            _ = watch.notified() => {}
            _ = cancel.cancelled(), if !cancelled => {
                cancelled = true;
                session.kill();
                if tokio::time::timeout(KILL_GRACE, wait_for_exit(&session, &watch)).await.is_err() {
                    break None;
                }
            }
        }
        let lines = settled.take(&**session.screen());
        announce(rt, &chat_id, lines);
    };
    let (rest, last) = {
        let screen = session.screen();
        (
            settled.finish(&**screen),
            last_lines(&**screen, SUMMARY_LINES),
        )
    };
    announce(rt, &chat_id, rest);

    let (status, outcome, error) = match exit {
        _ if cancelled => (TurnStatus::Cancelled, "cancelled", None),
        Some(ExitReport::Code(0)) => (TurnStatus::Completed, "success", None),
        Some(other) => (
            TurnStatus::Failed,
            "error",
            Some(format!("{} {other}", spec.name)),
        ),
        None => (TurnStatus::Failed, "error", None),
    };
    let how = match (exit, cancelled) {
        (_, true) => "was cancelled".to_string(),
        (Some(exit), false) => exit.to_string(),
        (None, false) => "ended without an exit status".to_string(),
    };
    let summary = summary(&spec.name, &how, &last);
    turn.tool_finished(
        &call_id,
        CallEnd {
            outcome,
            output: last.join("\n"),
            diff: None,
        },
    );
    turn.stream(PartKind::Text, &summary);
    turn.finish(status, error)
}

async fn wait_for_exit(session: &TerminalSession, watch: &Notify) {
    while session.exit().is_none() {
        watch.notified().await;
    }
}

fn announce(rt: &Runtime, chat_id: &str, lines: Vec<String>) {
    if !lines.is_empty() {
        rt.emit(Event::AgentTerminalLines {
            chat_id: chat_id.to_string(),
            lines,
        });
    }
}

/// What the chat and the task keep of a run: how it ended and its last lines.
fn summary(agent: &str, how: &str, last: &[String]) -> String {
    if last.is_empty() {
        return format!("{agent} {how}; its screen was empty.");
    }
    format!(
        "{agent} {how}. Last lines:\n\n```text\n{}\n```",
        last.join("\n")
    )
}

/// The last `n` lines of history and screen, trailing blank lines left out, each trimmed at
/// the end.
pub fn last_lines(screen: &dyn ScreenEngine, n: usize) -> Vec<String> {
    let history = screen.history_len() as i32;
    let rows = i32::from(screen.size().rows);
    let mut lines: Vec<String> = Vec::new();
    for line in (-history..rows).rev() {
        let text = screen.line_text(line).trim_end().to_string();
        if lines.is_empty() && text.is_empty() {
            continue;
        }
        lines.push(text);
        if lines.len() == n {
            break;
        }
    }
    lines.reverse();
    lines
}

/// Follows a screen and hands out each line once it has settled: once the cursor has moved
/// below it (it scrolled into history, or the program went on to the next line). Lines are
/// counted from the top of the history, so a line is handed out once however it moves.
#[derive(Debug, Default)]
pub struct SettledLines {
    handed_out: usize,
}

impl SettledLines {
    /// The lines that settled since the last call.
    pub fn take(&mut self, screen: &dyn ScreenEngine) -> Vec<String> {
        if screen.modes().alt_screen {
            // A full-screen program redraws in place: nothing there settles.
            return Vec::new();
        }
        let bound = screen.history_len() + usize::from(screen.cursor().row);
        self.up_to(screen, bound)
    }

    /// The lines not handed out yet, down to the last non-blank one: the program has ended.
    pub fn finish(&mut self, screen: &dyn ScreenEngine) -> Vec<String> {
        let history = screen.history_len();
        let rows = usize::from(screen.size().rows);
        let last = (0..rows)
            .rev()
            .find(|&row| !screen.line_text(row as i32).trim().is_empty())
            .map_or(0, |row| row + 1);
        self.up_to(screen, history + last)
    }

    fn up_to(&mut self, screen: &dyn ScreenEngine, bound: usize) -> Vec<String> {
        // The screen was cleared (or the history trimmed): go on from where the cursor is.
        self.handed_out = self.handed_out.min(bound);
        let history = screen.history_len() as i64;
        let lines = (self.handed_out..bound)
            .map(|i| {
                screen
                    .line_text((i as i64 - history) as i32)
                    .trim_end()
                    .to_string()
            })
            .collect();
        self.handed_out = bound;
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn screen(cols: u16, rows: u16) -> AlacrittyScreen {
        AlacrittyScreen::new(GridSize { cols, rows }, 100)
    }

    #[test]
    fn lines_settle_once_the_cursor_has_left_them() {
        let mut s = screen(20, 4);
        let mut settled = SettledLines::default();
        s.feed(b"one\r\ntw");
        assert_eq!(settled.take(&s), vec!["one"]);
        assert!(settled.take(&s).is_empty(), "handed out twice");
        s.feed(b"o\r\nthree\r\nfour\r\nfive\r\nsix");
        // "one" and "two" scrolled into history; each line comes out once, in order.
        assert_eq!(settled.take(&s), vec!["two", "three", "four", "five"]);
        assert_eq!(settled.finish(&s), vec!["six"]);
        assert!(settled.finish(&s).is_empty());
    }

    #[test]
    fn a_full_screen_program_settles_nothing_until_it_ends() {
        let mut s = screen(20, 4);
        let mut settled = SettledLines::default();
        s.feed(b"\x1b[?1049hmenu\r\nitem\r\n");
        assert!(settled.take(&s).is_empty());
        s.feed(b"\x1b[?1049lbye\r\n");
        assert_eq!(settled.take(&s), vec!["bye"]);
    }

    #[test]
    fn the_summary_is_the_last_lines_without_trailing_blanks() {
        let mut s = screen(20, 5);
        for i in 1..=30 {
            s.feed(format!("line {i}\r\n").as_bytes());
        }
        s.feed(b"\r\n\r\n");
        let last = last_lines(&s, 3);
        assert_eq!(last, vec!["line 28", "line 29", "line 30"]);
        assert_eq!(last_lines(&screen(10, 3), 20), Vec::<String>::new());
        assert_eq!(
            summary("aider", "exited with code 2", &last),
            "aider exited with code 2. Last lines:\n\n```text\nline 28\nline 29\nline 30\n```"
        );
    }
}
