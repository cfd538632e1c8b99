//! The contract between the workspace (pane tree, keymap, event loop) and each kind of pane.
//!
//! A pane owns its view state, draws itself into the rectangle it is given, handles the keys
//! that reach it when focused, and folds core `Event`s into its state. It never blocks: work
//! goes to the engine as `AppAction::Engine(Command)`; reads go through the engine's query
//! facade (`Engine::transcript`, `Engine::traces_page`, …).

use crossterm::event::{KeyEvent, MouseEvent};
use ratatui::layout::Rect;
use ratatui::Frame;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::core::engine::Engine;
use crate::core::events::{Command, Event};
use crate::core::pty::screen::CursorShape;
use crate::tui::theme::Theme;

/// What a pane shows; saved in the layout so a restart restores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PaneSpec {
    Chat {
        chat_id: String,
    },
    /// Tool traces of a chat; `None` follows the most recently focused chat pane.
    Trace {
        chat_id: Option<String>,
    },
    Background,
    /// Turns of a chat; `None` follows the most recently focused chat pane.
    Timeline {
        chat_id: Option<String>,
    },
    /// Workflows and runs; `Some` shows that run's live tree and log.
    Orchestrator {
        run_id: Option<String>,
    },
    /// Pending changes of the project across chats.
    Changes,
    /// A program on a terminal (`argv: None` runs the user's shell) in `cwd`, last sized
    /// `cols` x `rows`. A restart runs it again: a process does not outlive the workspace.
    Terminal {
        argv: Option<Vec<String>>,
        cwd: PathBuf,
        cols: u16,
        rows: u16,
    },
}

/// Something a pane asks the workspace to do.
#[derive(Debug, Clone, PartialEq)]
pub enum AppAction {
    /// Forward to the engine.
    Engine(Command),
    /// Show a chat: focus its pane if open, else open one.
    OpenChat {
        chat_id: String,
    },
    /// Scroll a chat's pane to the start of a turn.
    ScrollChatToTurn {
        chat_id: String,
        turn: i64,
    },
    /// Start a new chat in the current session (`/new`).
    NewChat,
    /// Open the session picker (`/resume`).
    PickSession,
    /// `/compare`: send one prompt to several models, each in its own pane side by side.
    Compare {
        models: Vec<String>,
        prompt: String,
    },
    /// Start a workflow run (`/workflow NAME {args}`, the orchestrator's args editor) and show
    /// it in the orchestrator pane; `args` is `Null` for none.
    RunWorkflow {
        name: String,
        args: serde_json::Value,
    },
    /// A one-line notice in the status line.
    Notice(String),
    /// Copy text to the system clipboard (OSC 52, works over SSH).
    Copy(String),
    /// Show the help overlay.
    Help,
    /// Close this pane (a terminal pane whose program ended, on `x`).
    ClosePane,
    Quit,
}

/// Whether a key was used.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyOutcome {
    /// Not handled: the workspace may use it.
    Ignored,
    /// Handled; redraw.
    Consumed,
    /// Passed on to a program (a terminal pane's child): nothing to redraw until it answers,
    /// and its output wakes the workspace then. A frame drawn for the key itself would only
    /// make the echo wait for the end of the interval that frame started.
    Forwarded,
    /// Handled, and the workspace should do these.
    Actions(Vec<AppAction>),
}

/// What panes may read while drawing or handling input.
pub struct PaneContext<'a> {
    pub engine: &'a Engine,
    pub theme: &'a Theme,
    /// The session the workspace shows.
    pub session_id: &'a str,
    /// The chat of the most recently focused chat pane, for panes that follow it.
    pub focused_chat: Option<&'a str>,
    /// Spinner frame counter, advanced only while something animates.
    pub tick: u64,
    /// Notified by panes that change on their own (a terminal's program wrote): the workspace
    /// then asks every pane to [`Pane::poll`]. A permit, so a flood costs one wake-up per look.
    pub wake: &'a Arc<Notify>,
}

pub trait Pane {
    fn spec(&self) -> PaneSpec;

    /// The title line: what the pane is bound to (chat name, model, status…).
    fn title(&self, ctx: &PaneContext<'_>) -> String;

    fn render(&mut self, frame: &mut Frame<'_>, area: Rect, ctx: &PaneContext<'_>, focused: bool);

    fn handle_key(&mut self, key: KeyEvent, ctx: &PaneContext<'_>) -> KeyOutcome;

    /// Bracketed paste while focused.
    fn handle_paste(&mut self, _text: &str, _ctx: &PaneContext<'_>) -> KeyOutcome {
        KeyOutcome::Ignored
    }

    fn handle_mouse(
        &mut self,
        _mouse: MouseEvent,
        _area: Rect,
        _ctx: &PaneContext<'_>,
    ) -> KeyOutcome {
        KeyOutcome::Ignored
    }

    /// Folds a core event into the pane's state; true when the pane must be redrawn.
    fn on_event(&mut self, event: &Event, ctx: &PaneContext<'_>) -> bool;

    /// True while something in the pane moves (a spinner), so the loop keeps ticking.
    fn is_animating(&self) -> bool {
        false
    }

    /// The chat this pane shows, if any (focus tracking, trace/timeline following).
    fn chat_id(&self) -> Option<&str> {
        None
    }

    /// `prefix [`: enter the pane's scroll/copy mode; false when it has none.
    fn enter_scroll_mode(&mut self) -> bool {
        false
    }

    /// `prefix /`: start a search in the pane; false when it cannot search.
    fn start_search(&mut self) -> bool {
        false
    }

    /// A mode the pane is in (`SCROLL`, `SEARCH`, `COPY`…), shown in the status line instead of
    /// `NORMAL`.
    fn mode_label(&self) -> Option<&'static str> {
        None
    }

    /// Scrolls to the start of a turn (`AppAction::ScrollChatToTurn`); false when unsupported.
    fn scroll_to_turn(&mut self, _turn: i64) -> bool {
        false
    }

    /// What changed on its own since the last call, after [`PaneContext::wake`] fired:
    /// `Ignored` when nothing, `Consumed` to redraw, `Actions` to redraw and do these.
    fn poll(&mut self) -> KeyOutcome {
        KeyOutcome::Ignored
    }

    /// Whether [`Pane::poll`] would find a change, without taking it.
    fn has_news(&self) -> bool {
        false
    }

    /// Locked mode: every key goes to the pane, the prefix too, until the workspace's unlock
    /// key; `unlock` names that key for the pane to show. False when the pane has no such mode.
    fn set_locked(&mut self, _locked: bool, _unlock: &str) -> bool {
        false
    }

    fn is_locked(&self) -> bool {
        false
    }

    /// The cursor shape and blinking the pane's content asked for while focused (a terminal's
    /// program, DECSCUSR); `None` leaves the user's own.
    fn cursor_shape(&self) -> Option<(CursorShape, bool)> {
        None
    }

    /// The pane was made again from the saved layout when the workspace started.
    fn restored(&mut self) {}
}
