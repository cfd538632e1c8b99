//! The workspace side of external agents' chats.
//!
//! - When the core starts a terminal agent's run (`Event::AgentTerminal`), a terminal pane
//!   attached to that run's session opens beside the chat, focused so the person can watch and
//!   type to the agent. The chat's next run takes over the same pane while it is open.
//! - Closing the last pane of an agent's chat ends that chat's agent work
//!   (`Command::EndChat`): its worktree goes once nothing from it waits for a decision.
//! - `/compare` runs each name that is an agent as an agent chat (its own worktree, so the
//!   diffs can be compared), beside the model names, which run on the native loop.

use std::path::Path;

use super::*;
use crate::core::agents::{self, registry};
use crate::tui::panes::terminal::TerminalPane;

impl App {
    pub(super) fn show_agent_terminal(&mut self, chat_id: &str, title: &str, cwd: &Path) {
        let Some(session) = self.engine.rt.agents.terminals.get(chat_id) else {
            return;
        };
        let pane =
            TerminalPane::attached(session, title.to_string(), cwd.to_path_buf(), &ctx!(self));
        let spec = pane.spec();
        let open = self
            .agent_panes
            .get(chat_id)
            .copied()
            .filter(|id| matches!(self.layout.spec(*id), Some(PaneSpec::Terminal { .. })));
        match open {
            Some(id) => {
                self.layout.set_spec(id, spec);
                self.panes.insert(id, Box::new(pane));
                self.layout.focus = id;
                self.focus_changed();
            }
            None => {
                // Beside the chat when it is shown, so the two read side by side.
                if let Some(chat_pane) = self.find_chat_pane(chat_id) {
                    self.layout.focus = chat_pane;
                }
                self.place_pane(spec, None, Some(Box::new(pane)));
                self.agent_panes
                    .insert(chat_id.to_string(), self.layout.focus);
            }
        }
    }

    /// A pane was closed: an agent's chat shown nowhere any more has ended.
    pub(super) fn pane_closed(&mut self, spec: Option<PaneSpec>) {
        let Some(PaneSpec::Chat { chat_id }) = spec else {
            return;
        };
        let shown = self.find_chat_pane(&chat_id).is_some();
        let bound = matches!(self.engine.rt.store.chat_agent(&chat_id), Ok(Some(_)));
        if bound && !shown {
            self.agent_panes.remove(&chat_id);
            self.engine.submit(Command::EndChat { chat_id });
        }
    }

    /// One prompt to several models and agents, each in a pane of its own, side by side and
    /// titled with its name (the prompt is the same in all of them).
    pub(super) fn compare(&mut self, targets: &[String], prompt: &str) {
        let Ok(session) = self.engine.session(&self.session_id) else {
            return;
        };
        for name in targets {
            let is_agent = registry::find(&self.engine.rt.config.agents, name).is_ok();
            let chat = if is_agent {
                self.engine
                    .new_titled_chat(&session, "compare", None, name)
                    .and_then(|chat| {
                        agents::bind_chat(&self.engine.rt, &chat.id, name).map(|()| chat)
                    })
            } else {
                self.engine
                    .new_titled_chat(&session, "compare", Some(name), name)
            };
            match chat {
                Ok(chat) => {
                    self.open_pane(
                        PaneSpec::Chat {
                            chat_id: chat.id.clone(),
                        },
                        Some(SplitDir::LeftRight),
                    );
                    self.engine.submit(Command::SendMessage {
                        chat_id: chat.id,
                        text: prompt.to_string(),
                        attachments: Vec::new(),
                    });
                }
                Err(e) => self.notify(format!("compare: {name}: {e:#}")),
            }
        }
    }
}
