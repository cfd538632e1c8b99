//! The workspace state.
//!
//! [`App`] holds the pane tree ([`Layout`]), the live panes, the keymap state, the overlays
//! (help, palette, session picker) and the status line. The loop that drives it is
//! [`crate::tui::event_loop`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use crossterm::event::{
    Event as TermEvent, KeyCode, KeyEvent, KeyEventKind, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use unicode_width::UnicodeWidthStr;

use crate::core::engine::Engine;
use crate::core::events::{Command, Event};
use crate::core::pty::screen::CursorShape;
use crate::core::workflow::RunOptions;
use crate::tui::help;
use crate::tui::keymap::{Action, Dispatch, Key, Keymap};
use crate::tui::layout::{Direction, Layout, PaneId, Placement, SplitDir};
use crate::tui::pane::{AppAction, KeyOutcome, Pane, PaneContext, PaneSpec};
use crate::tui::panes::changes::{collisions_label, is_change_event, project_collisions};
use crate::tui::panes::terminal::TerminalPane;
use crate::tui::panes::{fit, make_pane, one_line, truncate};
use crate::tui::pickers::{framed, overlay_box, Choice, Picker, PickerKey};
use crate::tui::quit::{self, QuitQuestion};
use crate::tui::theme::Theme;

/// Below this the workspace shows "terminal too small" instead of panes.
pub const MIN_WIDTH: u16 = 20;
pub const MIN_HEIGHT: u16 = 5;
/// How long a notice stays in the status line.
const NOTICE_FOR: Duration = Duration::from_secs(6);

/// What is saved per project: the session shown and its pane layout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedWorkspace {
    pub version: u32,
    pub session_id: String,
    pub layout: Layout,
}

enum Overlay {
    Help { scroll: usize },
    Picker(Picker),
    Quit(QuitQuestion),
}

pub struct App {
    pub engine: Engine,
    pub theme: Theme,
    pub keymap: Keymap,
    pub session_id: String,
    pub layout: Layout,
    panes: HashMap<PaneId, Box<dyn Pane>>,
    /// The chat of the most recently focused chat pane.
    last_chat: Option<String>,
    prefix_pending: bool,
    overlay: Option<Overlay>,
    notice: Option<(String, Instant)>,
    /// The background task whose end the notice reports: retrying it withdraws the notice.
    notice_task: Option<String>,
    running_tasks: usize,
    /// Colliding pairs among the project's pending changes (refreshed on change events).
    collisions: usize,
    /// The session's name on the status line (`None` while untitled), kept here so drawing a
    /// frame never queries.
    session_title: Option<String>,
    pub tick: u64,
    pub quit: bool,
    /// The terminal's size at the last draw or resize.
    pub size: Rect,
    /// Text to put on the clipboard (OSC 52) after the next draw.
    clipboard: Vec<String>,
    /// Panes that change on their own (terminals) notify it; the loop then polls them.
    pub wake: Arc<Notify>,
    /// The terminal pane showing each chat's terminal-agent run.
    agent_panes: HashMap<String, PaneId>,
    /// The pane whose program was last sent a key and has not shown anything since: its echo
    /// is drawn the moment it arrives, not at the end of a frame interval a flooding
    /// neighbour keeps busy.
    awaiting_echo: Option<PaneId>,
}

macro_rules! ctx {
    ($s:expr) => {
        PaneContext {
            engine: &$s.engine,
            theme: &$s.theme,
            session_id: &$s.session_id,
            focused_chat: $s.last_chat.as_deref(),
            tick: $s.tick,
            wake: &$s.wake,
        }
    };
}

/// The session and layout to open: `--session ID` (a session, or a chat: then its session
/// with that chat focused), else `--resume` (the latest session), else the session saved with
/// the project's layout, else the latest, else a new one. Panes whose chat no longer exists
/// are dropped; an empty result opens the session's main chat.
pub fn initial_workspace(
    engine: &Engine,
    session: Option<&str>,
    resume_latest: bool,
) -> Result<(String, Layout)> {
    let saved: Option<SavedWorkspace> = match engine.load_layout() {
        Ok(Some(json)) => match serde_json::from_str(&json) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!("ignoring the saved layout: {e}");
                None
            }
        },
        Ok(None) => None,
        Err(e) => {
            tracing::warn!("could not load the saved layout: {e:#}");
            None
        }
    };
    let mut chat_asked = None;
    let session = match (session, resume_latest, &saved) {
        (Some(id), _, _) => match engine.session(id) {
            Ok(session) => session,
            Err(not_a_session) => match engine.chat(id) {
                Ok(chat) => {
                    chat_asked = Some(chat.id);
                    engine.session(&chat.session_id)?
                }
                Err(not_a_chat) => {
                    anyhow::bail!("--session {id}: {not_a_session:#}; {not_a_chat:#}")
                }
            },
        },
        (None, false, Some(s)) => match engine.session(&s.session_id) {
            Ok(s) => s,
            Err(_) => engine.open_session(None, true)?,
        },
        _ => engine.open_session(None, true)?,
    };
    let layout = saved
        .filter(|s| s.session_id == session.id)
        .and_then(|s| {
            s.layout.retain(|spec| match spec {
                PaneSpec::Chat { chat_id }
                | PaneSpec::Trace {
                    chat_id: Some(chat_id),
                }
                | PaneSpec::Timeline {
                    chat_id: Some(chat_id),
                } => engine.chat(chat_id).is_ok(),
                _ => true,
            })
        })
        .map(|mut l| {
            l.repair();
            l
        });
    let layout = match (layout, chat_asked) {
        (Some(mut l), Some(chat_id)) => {
            let spec = PaneSpec::Chat { chat_id };
            match l.find(&spec) {
                Some(pane) => {
                    l.focus = pane;
                    l
                }
                None => Layout::new(spec),
            }
        }
        (Some(l), None) => l,
        (None, Some(chat_id)) => Layout::new(PaneSpec::Chat { chat_id }),
        (None, None) => Layout::new(PaneSpec::Chat {
            chat_id: engine.main_chat(&session)?.id,
        }),
    };
    Ok((session.id, layout))
}

impl App {
    pub fn new(
        engine: Engine,
        theme: Theme,
        keymap: Keymap,
        session_id: String,
        layout: Layout,
    ) -> App {
        let mut app = App {
            engine,
            theme,
            keymap,
            session_id,
            layout,
            panes: HashMap::new(),
            last_chat: None,
            prefix_pending: false,
            overlay: None,
            notice: None,
            notice_task: None,
            running_tasks: 0,
            collisions: 0,
            session_title: None,
            tick: 0,
            quit: false,
            size: Rect::new(0, 0, 80, 24),
            clipboard: Vec::new(),
            wake: Arc::new(Notify::new()),
            agent_panes: HashMap::new(),
            awaiting_echo: None,
        };
        app.rebuild_panes();
        if let Some(chat_id) = &app.last_chat {
            app.engine.ask_project_approval(chat_id);
        }
        app.count_tasks();
        app.collisions = project_collisions(&app.engine);
        app.refresh_session_title();
        app
    }

    fn refresh_session_title(&mut self) {
        if let Ok(session) = self.engine.session(&self.session_id) {
            self.session_title =
                Some(one_line(&session.title)).filter(|title| !title.trim().is_empty());
        }
    }

    fn rebuild_panes(&mut self) {
        self.panes.clear();
        // Chat panes first, so followers see the focused chat.
        self.update_last_chat();
        let leaves: Vec<(PaneId, PaneSpec)> = self
            .layout
            .leaves()
            .into_iter()
            .map(|(id, s)| (id, s.clone()))
            .collect();
        for (id, spec) in leaves {
            match make_pane(spec, &ctx!(self)) {
                Ok(mut pane) => {
                    pane.restored();
                    self.panes.insert(id, pane);
                }
                Err(e) => {
                    self.layout.close(id);
                    self.notify(format!("a saved pane could not be restored: {e:#}"));
                }
            }
        }
    }

    fn update_last_chat(&mut self) {
        if let Some(PaneSpec::Chat { chat_id }) = self.layout.spec(self.layout.focus) {
            self.last_chat = Some(chat_id.clone());
        } else if self.last_chat.is_none() {
            self.last_chat = self.layout.leaves().into_iter().find_map(|(_, s)| match s {
                PaneSpec::Chat { chat_id } => Some(chat_id.clone()),
                _ => None,
            });
        }
    }

    fn count_tasks(&mut self) {
        self.running_tasks = self
            .engine
            .tasks(Some(&self.session_id))
            .map(|t| t.iter().filter(|t| t.status == "running").count())
            .unwrap_or(0);
    }

    pub fn notify(&mut self, message: impl Into<String>) {
        self.notice = Some((one_line(&message.into()), Instant::now() + NOTICE_FOR));
        self.notice_task = None;
    }

    pub fn notice(&self) -> Option<&str> {
        self.notice.as_ref().map(|(m, _)| m.as_str())
    }

    /// When the current notice should disappear.
    pub fn notice_deadline(&self) -> Option<Instant> {
        self.notice.as_ref().map(|(_, until)| *until)
    }

    /// Drops an expired notice; true when one was dropped.
    pub fn expire_notice(&mut self, now: Instant) -> bool {
        if self.notice.as_ref().is_some_and(|(_, until)| *until <= now) {
            self.notice = None;
            return true;
        }
        false
    }

    /// The cursor shape the focused pane asked for, if any.
    pub fn cursor_shape(&self) -> Option<(CursorShape, bool)> {
        self.panes.get(&self.layout.focus)?.cursor_shape()
    }

    pub fn is_animating(&self) -> bool {
        self.visible_ids()
            .iter()
            .any(|id| self.panes.get(id).is_some_and(|p| p.is_animating()))
    }

    fn visible_ids(&self) -> Vec<PaneId> {
        self.layout
            .rects(self.pane_area())
            .into_iter()
            .map(|(i, _)| i)
            .collect()
    }

    /// The area the panes share: everything but the status line.
    pub fn pane_area(&self) -> Rect {
        Rect::new(
            self.size.x,
            self.size.y,
            self.size.width,
            self.size.height.saturating_sub(1),
        )
    }

    pub fn save_layout(&self) {
        let saved = SavedWorkspace {
            version: 1,
            session_id: self.session_id.clone(),
            layout: self.layout.clone(),
        };
        match serde_json::to_string(&saved) {
            Ok(json) => {
                if let Err(e) = self.engine.save_layout(&json) {
                    tracing::warn!("saving the layout: {e:#}");
                }
            }
            Err(e) => tracing::warn!("serialising the layout: {e}"),
        }
    }

    /// The mode shown at the left of the status line.
    pub fn mode(&self) -> &'static str {
        match &self.overlay {
            Some(Overlay::Help { .. }) => return "HELP",
            Some(Overlay::Picker(picker)) => return picker.mode,
            Some(Overlay::Quit(_)) => return "QUIT?",
            None => {}
        }
        if self.prefix_pending {
            return "PREFIX";
        }
        self.panes
            .get(&self.layout.focus)
            .and_then(|p| p.mode_label())
            .unwrap_or("NORMAL")
    }

    // ---------------------------------------------------------------------------------------
    // Actions
    // ---------------------------------------------------------------------------------------

    pub fn run_action(&mut self, action: Action) {
        let area = self.pane_area();
        let dir = |a| match a {
            Action::FocusLeft | Action::ResizeLeft => Direction::Left,
            Action::FocusDown | Action::ResizeDown => Direction::Down,
            Action::FocusUp | Action::ResizeUp => Direction::Up,
            _ => Direction::Right,
        };
        match action {
            Action::SplitRight => self.open_new_chat(Some(SplitDir::LeftRight)),
            Action::SplitDown => self.open_new_chat(Some(SplitDir::TopBottom)),
            Action::FocusLeft | Action::FocusDown | Action::FocusUp | Action::FocusRight => {
                if self.layout.focus_dir(dir(action), area) {
                    self.focus_changed();
                }
            }
            Action::FocusNext => {
                self.layout.focus_next();
                self.focus_changed();
            }
            Action::ResizeLeft | Action::ResizeDown | Action::ResizeUp | Action::ResizeRight => {
                if self.layout.resize(dir(action)) {
                    self.save_layout();
                } else {
                    self.notify("no border to move that way");
                }
            }
            Action::Zoom => {
                self.layout.toggle_zoom();
                if !self.layout.zoomed && self.layout.len() == 1 {
                    self.notify("only one pane: nothing to zoom");
                }
                self.save_layout();
            }
            Action::Close => {
                let id = self.layout.focus;
                let closing = self.layout.spec(id).cloned();
                if self.layout.close(id) {
                    self.panes.remove(&id);
                    self.focus_changed();
                    self.pane_closed(closing);
                } else {
                    self.notify(format!(
                        "the last pane stays open — {} {} quits",
                        self.keymap.prefix,
                        self.keymap
                            .keys_for(Action::Quit)
                            .0
                            .first()
                            .map(|k| k.to_string())
                            .unwrap_or_else(|| "q".into())
                    ));
                }
            }
            Action::SwapPrev | Action::SwapNext => {
                if self.layout.swap(action == Action::SwapNext) {
                    self.save_layout();
                }
            }
            Action::NewChat => self.open_new_chat(None),
            Action::Terminal => self.open_pane(TerminalPane::shell_spec(&ctx!(self)), None),
            Action::Lock => {
                let unlock = self.keymap.unlock.to_string();
                let locked = self
                    .panes
                    .get_mut(&self.layout.focus)
                    .is_some_and(|p| p.set_locked(true, &unlock));
                if locked {
                    self.notify(format!(
                        "locked: every key goes to the pane — {unlock} unlocks"
                    ));
                } else {
                    self.notify("only terminal panes lock");
                }
            }
            Action::Orchestrator => self.show_tool_pane(PaneSpec::Orchestrator { run_id: None }),
            Action::Trace => self.show_tool_pane(PaneSpec::Trace { chat_id: None }),
            Action::Background => self.show_tool_pane(PaneSpec::Background),
            Action::Changes => self.show_tool_pane(PaneSpec::Changes),
            Action::Timeline => self.show_tool_pane(PaneSpec::Timeline { chat_id: None }),
            Action::Sessions => self.open_sessions(),
            Action::Chats => self.open_chat_picker(),
            Action::ScrollMode => {
                let ok = self
                    .panes
                    .get_mut(&self.layout.focus)
                    .is_some_and(|p| p.enter_scroll_mode());
                if !ok {
                    self.notify("this pane scrolls with the arrow keys and PageUp/PageDown");
                }
            }
            Action::Search => {
                let ok = self
                    .panes
                    .get_mut(&self.layout.focus)
                    .is_some_and(|p| p.start_search());
                if !ok {
                    self.notify("this pane has no search");
                }
            }
            Action::Help => self.overlay = Some(Overlay::Help { scroll: 0 }),
            Action::Palette => self.overlay = Some(Overlay::Picker(Picker::palette(&self.keymap))),
            Action::Quit => self.request_quit(),
        }
    }

    pub fn apply(&mut self, actions: Vec<AppAction>) {
        for action in actions {
            match action {
                AppAction::Engine(cmd) => self.engine.submit(cmd),
                AppAction::OpenChat { chat_id } => self.open_chat(&chat_id),
                AppAction::ScrollChatToTurn { chat_id, turn } => {
                    if self.find_chat_pane(&chat_id).is_none() {
                        self.open_chat(&chat_id);
                    }
                    let ok = self
                        .find_chat_pane(&chat_id)
                        .and_then(|id| self.panes.get_mut(&id))
                        .is_some_and(|p| p.scroll_to_turn(turn));
                    if !ok {
                        self.notify(format!("turn {turn}: this chat view cannot jump to turns"));
                    }
                }
                AppAction::NewChat => self.open_new_chat(None),
                AppAction::PickSession => self.open_sessions(),
                AppAction::Compare { models, prompt } => self.compare(&models, &prompt),
                AppAction::RunWorkflow { name, args } => self.run_workflow(&name, args),
                AppAction::Notice(m) => self.notify(m),
                AppAction::Copy(text) => {
                    self.notify(format!("copied {} characters", text.chars().count()));
                    self.clipboard.push(text);
                }
                AppAction::Help => self.overlay = Some(Overlay::Help { scroll: 0 }),
                AppAction::ClosePane => self.run_action(Action::Close),
                AppAction::Quit => self.request_quit(),
            }
        }
    }

    /// Quits, asking first when work is running.
    fn request_quit(&mut self) {
        match QuitQuestion::for_engine(&self.engine) {
            Some(question) => self.overlay = Some(Overlay::Quit(question)),
            None => self.quit = true,
        }
    }

    /// Saves what a pane now shows when it changed its binding (the orchestrator opening a
    /// run or going back to its list), so a restart restores it.
    fn sync_spec(&mut self, id: PaneId) {
        let Some(spec) = self.panes.get(&id).map(|p| p.spec()) else {
            return;
        };
        if self.layout.spec(id).is_some_and(|s| *s != spec)
            && matches!(
                spec,
                PaneSpec::Orchestrator { .. } | PaneSpec::Terminal { .. }
            )
        {
            self.layout.set_spec(id, spec);
            self.save_layout();
        }
    }

    /// Records what every pane shows now (a terminal's size), for the layout saved on exit.
    pub fn sync_all_specs(&mut self) {
        let ids: Vec<PaneId> = self.panes.keys().copied().collect();
        for id in ids {
            self.sync_spec(id);
        }
    }

    fn focus_changed(&mut self) {
        self.update_last_chat();
        self.save_layout();
    }

    fn find_chat_pane(&self, chat_id: &str) -> Option<PaneId> {
        self.layout.find(&PaneSpec::Chat {
            chat_id: chat_id.to_string(),
        })
    }

    /// Opens a pane and focuses it: split from the focused pane in `dir` when the user chose a
    /// direction, else where [`Layout::placement`] finds room.
    pub fn open_pane(&mut self, spec: PaneSpec, dir: Option<SplitDir>) {
        self.place_pane(spec, dir, None);
    }

    /// [`App::open_pane`] with the pane already made (`None`: made from `spec`).
    fn place_pane(&mut self, spec: PaneSpec, dir: Option<SplitDir>, made: Option<Box<dyn Pane>>) {
        let placement = match dir {
            Some(dir) => Placement::Split {
                target: self.layout.focus,
                dir,
            },
            None => self.layout.placement(self.pane_area()),
        };
        let (id, replaced) = match placement {
            Placement::Split { target, dir } => {
                (self.layout.split_at(target, dir, spec.clone()), None)
            }
            Placement::Replace(id) => {
                let old = self.layout.spec(id).cloned();
                self.layout.set_spec(id, spec.clone());
                self.layout.focus = id;
                (id, old)
            }
        };
        self.update_last_chat();
        let made = match made {
            Some(pane) => Ok(pane),
            None => make_pane(spec, &ctx!(self)),
        };
        match made {
            Ok(pane) => {
                self.panes.insert(id, pane);
            }
            Err(e) => {
                match replaced {
                    Some(old) => self.layout.set_spec(id, old),
                    None => {
                        self.layout.close(id);
                    }
                }
                self.update_last_chat();
                self.notify(format!("cannot open the pane: {e:#}"));
            }
        }
        self.save_layout();
    }

    fn open_chat(&mut self, chat_id: &str) {
        if let Some(id) = self.find_chat_pane(chat_id) {
            self.layout.focus = id;
            self.focus_changed();
            return;
        }
        match self.engine.chat(chat_id) {
            Ok(_) => self.open_pane(
                PaneSpec::Chat {
                    chat_id: chat_id.to_string(),
                },
                None,
            ),
            Err(e) => self.notify(format!("cannot open chat: {e:#}")),
        }
    }

    fn open_new_chat(&mut self, dir: Option<SplitDir>) {
        let chat = self
            .engine
            .session(&self.session_id)
            .and_then(|s| self.engine.new_chat(&s, "main", None));
        match chat {
            Ok(chat) => self.open_pane(PaneSpec::Chat { chat_id: chat.id }, dir),
            Err(e) => self.notify(format!("cannot create a chat: {e:#}")),
        }
    }

    /// Focuses the pane of that kind if one is open, else opens one.
    fn show_tool_pane(&mut self, spec: PaneSpec) {
        let same_kind = |s: &PaneSpec| std::mem::discriminant(s) == std::mem::discriminant(&spec);
        if let Some((id, _)) = self.layout.leaves().into_iter().find(|(_, s)| same_kind(s)) {
            self.layout.focus = id;
            self.focus_changed();
            return;
        }
        self.open_pane(spec, None);
    }

    /// Starts a workflow run (agents' chats in this session, under the last focused chat) and
    /// shows it in the orchestrator pane.
    fn run_workflow(&mut self, name: &str, args: serde_json::Value) {
        let options = RunOptions {
            args,
            session_id: Some(self.session_id.clone()),
            parent_chat_id: self.last_chat.clone(),
            ..RunOptions::default()
        };
        match self.engine.start_workflow(name, options) {
            Ok(run_id) => self.show_run(&run_id),
            Err(e) => self.notify(format!("workflow {name}: {e:#}")),
        }
    }

    /// Shows a run in the orchestrator pane: the open one (focused) or a new one.
    pub fn show_run(&mut self, run_id: &str) {
        let spec = PaneSpec::Orchestrator {
            run_id: Some(run_id.to_string()),
        };
        let open = self
            .layout
            .leaves()
            .into_iter()
            .find(|(_, s)| matches!(s, PaneSpec::Orchestrator { .. }))
            .map(|(id, _)| id);
        match open {
            Some(id) => {
                self.layout.set_spec(id, spec.clone());
                match make_pane(spec, &ctx!(self)) {
                    Ok(pane) => {
                        self.panes.insert(id, pane);
                    }
                    Err(e) => {
                        self.notify(format!("cannot show the run: {e:#}"));
                        return;
                    }
                }
                self.layout.focus = id;
                self.focus_changed();
            }
            None => self.open_pane(spec, None),
        }
    }

    fn open_sessions(&mut self) {
        match self.engine.sessions() {
            Ok(list) => {
                self.overlay = Some(Overlay::Picker(Picker::sessions(list, &self.session_id)))
            }
            Err(e) => self.notify(format!("cannot list sessions: {e:#}")),
        }
    }

    fn open_chat_picker(&mut self) {
        match self.engine.sessions() {
            Ok(list) => self.overlay = Some(Overlay::Picker(Picker::chats(list, &self.session_id))),
            Err(e) => self.notify(format!("cannot list chats: {e:#}")),
        }
    }

    /// Shows a session on the chat it opens on (see [`Engine::main_chat`]); for the current
    /// session that chat is focused, or reopened when its pane was closed.
    pub fn switch_session(&mut self, id: &str) {
        let result = self
            .engine
            .session(id)
            .and_then(|s| self.engine.main_chat(&s).map(|c| (s.id, c.id)));
        match result {
            Ok((session_id, chat_id)) => self.show_chat(&chat_id, &session_id),
            Err(e) => self.notify(format!("cannot open session: {e:#}")),
        }
    }

    /// Shows a chat: in the current layout when it belongs to the session shown, else in a
    /// fresh layout of its own session.
    fn show_chat(&mut self, chat_id: &str, session_id: &str) {
        if session_id == self.session_id {
            self.open_chat(chat_id);
            return;
        }
        self.session_id = session_id.to_string();
        self.layout = Layout::new(PaneSpec::Chat {
            chat_id: chat_id.to_string(),
        });
        self.last_chat = None;
        self.rebuild_panes();
        self.count_tasks();
        self.refresh_session_title();
        self.save_layout();
    }

    /// Folds an engine event into the panes and the status line; true when a redraw is due.
    pub fn on_engine_event(&mut self, event: &Event) -> bool {
        let mut dirty = false;
        let ctx = ctx!(self);
        for pane in self.panes.values_mut() {
            dirty |= pane.on_event(event, &ctx);
        }
        if is_change_event(event) {
            self.collisions = project_collisions(&self.engine);
            dirty = true;
        }
        match event {
            Event::TaskUpdated {
                task_id,
                status,
                label,
                ..
            } => {
                self.count_tasks();
                if matches!(status.as_str(), "completed" | "failed" | "cancelled") {
                    let label = label.as_deref().unwrap_or("task");
                    self.notify(format!("background task '{label}' {status}"));
                    self.notice_task = Some(task_id.clone());
                } else if self.notice_task.as_ref() == Some(task_id) {
                    // Queued again: how it ended before is no longer news.
                    self.notice = None;
                    self.notice_task = None;
                }
                dirty = true;
            }
            Event::Notice { message } => {
                self.notify(message.clone());
                dirty = true;
            }
            Event::AgentTerminal {
                chat_id,
                title,
                cwd,
                ..
            } => {
                self.show_agent_terminal(chat_id, title, cwd);
                dirty = true;
            }
            // An untitled session takes its name from the first message when a turn starts.
            Event::TurnStarted { .. } if self.session_title.is_none() => {
                self.refresh_session_title();
                dirty = true;
            }
            _ => {}
        }
        dirty
    }

    /// Text queued for the clipboard.
    pub fn take_clipboard(&mut self) -> Vec<String> {
        std::mem::take(&mut self.clipboard)
    }

    // ---------------------------------------------------------------------------------------
    // Drawing
    // ---------------------------------------------------------------------------------------

    pub fn render(&mut self, frame: &mut Frame<'_>) {
        let area = frame.area();
        self.size = area;
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            draw_too_small(frame, area, &self.theme);
            return;
        }
        let panes_area = self.pane_area();
        for sep in self.layout.separators(panes_area) {
            let lines: Vec<Line<'_>> = (0..sep.height).map(|_| Line::raw("│")).collect();
            frame.render_widget(Paragraph::new(lines).style(self.theme.border), sep);
        }
        let focus = self.layout.focus;
        let ctx = ctx!(self);
        for (id, rect) in self.layout.rects(panes_area) {
            if let Some(pane) = self.panes.get_mut(&id) {
                draw_pane(frame, pane.as_mut(), rect, &ctx, id == focus);
            }
        }
        let status = Rect::new(area.x, area.y + area.height - 1, area.width, 1);
        self.draw_status(frame, status);
        match &self.overlay {
            Some(Overlay::Help { scroll }) => {
                let scroll = *scroll;
                let clamped = help::draw(frame, panes_area, &self.theme, &self.keymap, scroll);
                if let Some(Overlay::Help { scroll }) = &mut self.overlay {
                    *scroll = clamped;
                }
            }
            Some(Overlay::Picker(picker)) => picker.draw(frame, panes_area, &self.theme),
            Some(Overlay::Quit(question)) => {
                let (w, h) = quit::BOX_SIZE;
                let rect = overlay_box(panes_area, w, h);
                let inner = framed(frame, rect, " Quit? ", &self.theme);
                question.draw(frame, inner, &self.theme);
            }
            None => {}
        }
    }

    fn draw_status(&self, frame: &mut Frame<'_>, area: Rect) {
        let t = &self.theme;
        let width = area.width as usize;
        let mode = format!(" {} ", self.mode());
        let mode_style = t
            .status_bar
            .patch(t.accent)
            .add_modifier(Modifier::REVERSED | Modifier::BOLD);
        let mut right = String::new();
        if self.layout.zoomed {
            right.push_str(" [Z]");
        }
        if self.running_tasks > 0 {
            right.push_str(&format!(" ⚙ {} running", self.running_tasks));
        }
        if self.collisions > 0 {
            right.push_str(&collisions_label(self.collisions));
        }
        // What the agent may do without asking; the prefix keys and notices come first.
        if !self.prefix_pending && self.notice.is_none() {
            right.push_str(&format!(
                " approval: {}",
                self.engine.rt.config.approval.as_str()
            ));
        }
        if !right.is_empty() {
            right.push(' ');
        }
        let (text, style) = if self.prefix_pending {
            (self.keymap.prefix_hint(), t.status_bar)
        } else if let Some(n) = self.notice() {
            (n.to_string(), t.status_bar.patch(t.warning))
        } else {
            (
                format!(
                    "{} · {} ? help · {} : palette",
                    self.session_title.as_deref().unwrap_or("new session"),
                    self.keymap.prefix,
                    self.keymap.prefix
                ),
                t.status_bar.patch(t.dim).remove_modifier(Modifier::DIM),
            )
        };
        let mode_w = mode.width().min(width);
        let right_w = right.width();
        let right_w = if mode_w + right_w + 4 <= width {
            right_w
        } else {
            0
        };
        let mid_w = width.saturating_sub(mode_w + right_w + 1);
        let mut spans = vec![Span::styled(truncate(&mode, width), mode_style)];
        if width > mode_w {
            spans.push(Span::styled(" ", t.status_bar));
            spans.push(Span::styled(fit(&text, mid_w), style));
        }
        if right_w > 0 {
            spans.push(Span::styled(right, t.status_bar.patch(t.accent)));
        }
        frame.render_widget(Paragraph::new(Line::from(spans)).style(t.status_bar), area);
    }
}

/// The area below a pane's title line.
fn body_of(rect: Rect) -> Rect {
    Rect::new(
        rect.x,
        rect.y + rect.height.min(1),
        rect.width,
        rect.height.saturating_sub(1),
    )
}

/// Draws a pane: its title line (what it is bound to) and its body.
pub fn draw_pane(
    frame: &mut Frame<'_>,
    pane: &mut dyn Pane,
    area: Rect,
    ctx: &PaneContext<'_>,
    focused: bool,
) {
    if area.width == 0 || area.height == 0 {
        return;
    }
    let t = ctx.theme;
    // The body first: rendering is where a follower pane rebinds to the focused chat, and the
    // title must describe what the body shows.
    let body = body_of(area);
    if body.height > 0 {
        pane.render(frame, body, ctx, focused);
    }
    let title = one_line(&pane.title(ctx));
    let marker = if focused { "▌" } else { " " };
    let width = area.width as usize;
    let text = truncate(&format!("{marker}{title} "), width);
    let fill = width.saturating_sub(text.width());
    let style = if focused { t.title_focused } else { t.title };
    let line = Line::from(vec![
        Span::styled(text, style),
        Span::styled(
            "─".repeat(fill),
            if focused { t.border_focused } else { t.border },
        ),
    ]);
    frame.render_widget(
        Paragraph::new(line),
        Rect::new(area.x, area.y, area.width, 1),
    );
}

fn draw_too_small(frame: &mut Frame<'_>, area: Rect, t: &Theme) {
    if area.width == 0 || area.height == 0 {
        return;
    }
    let msg = if area.width >= 18 {
        "terminal too small"
    } else {
        "too small"
    };
    let msg = truncate(msg, area.width as usize);
    let y = area.y + area.height / 2;
    let x = area.x + (area.width.saturating_sub(msg.width() as u16)) / 2;
    frame.render_widget(
        Paragraph::new(Line::styled(msg.clone(), t.warning)),
        Rect::new(x, y, (msg.width() as u16).min(area.width), 1),
    );
}

pub(crate) fn clip(line: Line<'_>, width: usize) -> Line<'static> {
    let mut used = 0;
    let mut out = Vec::new();
    for s in line.spans {
        let w = s.width();
        if used + w > width {
            let rest = width - used;
            if rest > 0 {
                out.push(Span::styled(truncate(&s.content, rest), s.style));
            }
            break;
        }
        used += w;
        out.push(Span::styled(s.content.into_owned(), s.style));
    }
    Line::from(out)
}

// -------------------------------------------------------------------------------------------
// The loop
// -------------------------------------------------------------------------------------------

/// Runs the workspace until the user quits, the input ends, or `stop` fires (signals).
#[path = "app_agents.rs"]
mod agents;

#[path = "app_input.rs"]
mod input;

#[cfg(test)]
#[path = "app_nav_tests.rs"]
mod nav_tests;

#[cfg(test)]
#[path = "app_tests.rs"]
mod tests;
