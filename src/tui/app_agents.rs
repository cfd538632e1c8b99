//! The workspace side of external agents' chats.
//!
//! - When the core starts a terminal agent's run (`Event::AgentTerminal`), a terminal pane
//!   attached to that run's session opens beside the chat, focused so the person can watch and
//!   type to the agent. The chat's next run takes over the same pane while it is open.
//! - Closing the last pane of an agent's chat ends that chat's agent work
//!   (`Command::EndChat`): its worktree goes once nothing from it waits for a decision.

use std::path::Path;

use super::*;
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
}
