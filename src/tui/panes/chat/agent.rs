//! A chat bound to an external agent: `/agent NAME`, the `agent · model · mode` line, the
//! agent's slash commands, its plans and its permission questions.

use super::*;
use crate::core::agents;
use crate::core::events::{AgentCommand, PermissionAnswer};

/// What the pane shows of the chat's agent.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct AgentLine {
    pub agent: String,
    pub model: Option<String>,
    pub mode: Option<String>,
    /// The slash commands the agent offers (its `available_commands_update`).
    pub commands: Vec<AgentCommand>,
}

impl AgentLine {
    /// `agent · model · mode`, leaving out what the agent has not said.
    pub fn text(&self) -> String {
        std::iter::once(self.agent.as_str())
            .chain(self.model.as_deref())
            .chain(self.mode.as_deref())
            .collect::<Vec<_>>()
            .join(" · ")
    }
}

/// The chat's binding as stored (the agent's model and mode as it last reported them).
pub(super) fn load(engine: &Engine, chat_id: &str) -> Option<AgentLine> {
    let bound = engine.rt.store.chat_agent(chat_id).ok().flatten()?;
    Some(AgentLine {
        agent: bound.agent,
        model: bound.model,
        mode: bound.mode,
        commands: Vec::new(),
    })
}

impl ChatPane {
    /// `/agent NAME`: this chat runs on the agent from its next turn; a chat that already has
    /// history gets a new chat instead, so no conversation is split between two backends.
    pub(super) fn bind_agent(&mut self, name: &str) -> KeyOutcome {
        let rt = &self.engine.rt;
        let has_history = self.engine.message_count(&self.chat_id).unwrap_or(0) > 0;
        if !has_history {
            if let Err(e) = agents::bind_chat(rt, &self.chat_id, name) {
                self.push(Kind::Error(format!("/agent: {e:#}")));
            }
            return KeyOutcome::Consumed;
        }
        let created = self
            .engine
            .chat(&self.chat_id)
            .and_then(|chat| self.engine.session(&chat.session_id))
            .and_then(|session| self.engine.new_chat(&session, "main", None))
            .and_then(|chat| agents::bind_chat(rt, &chat.id, name).map(|()| chat));
        match created {
            Ok(chat) => KeyOutcome::Actions(vec![AppAction::OpenChat { chat_id: chat.id }]),
            Err(e) => {
                self.push(Kind::Error(format!("/agent: {e:#}")));
                KeyOutcome::Consumed
            }
        }
    }

    /// Whether `/name …` is one of the bound agent's own commands (sent to it as text).
    pub(super) fn is_agent_command(&self, input: &str) -> bool {
        let Some(rest) = input.trim().strip_prefix('/') else {
            return false;
        };
        let name = rest.split_whitespace().next().unwrap_or("");
        self.agent
            .as_ref()
            .is_some_and(|a| a.commands.iter().any(|c| c.name == name))
    }

    /// The agent's commands whose name starts with what is typed, for the completion popup.
    pub(super) fn agent_completions(&self) -> Vec<(String, String, String)> {
        let Some(rest) = self.composer.text().strip_prefix('/') else {
            return Vec::new();
        };
        if rest.contains(char::is_whitespace) {
            return Vec::new();
        }
        self.agent
            .iter()
            .flat_map(|a| &a.commands)
            .filter(|c| c.name.starts_with(rest))
            .map(|c| (c.name.clone(), String::new(), c.description.clone()))
            .collect()
    }

    /// Answers the permission question at item `i`; `None` when it is not an open question.
    pub(super) fn answer_permission(
        &mut self,
        i: usize,
        answer: PermissionAnswer,
    ) -> Option<KeyOutcome> {
        let it = self.items.get_mut(i)?;
        let Kind::Permission {
            request_id,
            answer: slot @ None,
            ..
        } = &mut it.kind
        else {
            return None;
        };
        *slot = Some(answer);
        let request_id = request_id.clone();
        it.invalidate();
        Some(KeyOutcome::Actions(vec![AppAction::Engine(
            Command::AnswerPermission { request_id, answer },
        )]))
    }

    /// Folds the events only agent chats have.
    pub(super) fn fold_agent(&mut self, event: &Event) -> bool {
        match event {
            Event::PermissionRequested {
                request_id, title, ..
            } => {
                self.push(Kind::Permission {
                    request_id: request_id.clone(),
                    title: title.clone(),
                    answer: None,
                });
            }
            Event::PermissionAnswered {
                request_id, answer, ..
            } => {
                for it in &mut self.items {
                    if let Kind::Permission {
                        request_id: id,
                        answer: slot,
                        ..
                    } = &mut it.kind
                    {
                        if id == request_id && slot.is_none() {
                            *slot = Some(*answer);
                            it.invalidate();
                        }
                    }
                }
            }
            Event::AgentPlan { entries, .. } => {
                // A plan is shown whole each time: the turn's latest replaces its earlier one.
                let turn = self.turn;
                match self
                    .items
                    .iter_mut()
                    .rev()
                    .take_while(|it| it.turn == turn)
                    .find(|it| matches!(it.kind, Kind::Plan(_)))
                {
                    Some(it) => {
                        it.kind = Kind::Plan(entries.clone());
                        it.invalidate();
                    }
                    None => {
                        self.push(Kind::Plan(entries.clone()));
                    }
                }
            }
            Event::AgentSession {
                agent, model, mode, ..
            } => {
                let commands = self
                    .agent
                    .take()
                    .filter(|a| a.agent == *agent)
                    .map(|a| a.commands)
                    .unwrap_or_default();
                self.agent = Some(AgentLine {
                    agent: agent.clone(),
                    model: model.clone(),
                    mode: mode.clone(),
                    commands,
                });
            }
            Event::AgentCommands { commands, .. } => {
                if let Some(a) = &mut self.agent {
                    a.commands = commands.clone();
                }
            }
            _ => return false,
        }
        true
    }

    /// A question the turn no longer waits for shows as not answered.
    pub(super) fn settle_permissions(&mut self) {
        for it in &mut self.items {
            if let Kind::Permission {
                answer: answer @ None,
                ..
            } = &mut it.kind
            {
                *answer = Some(PermissionAnswer::Reject);
                it.invalidate();
            }
        }
    }
}
