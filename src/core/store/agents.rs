//! External agents: which chat is bound to which agent (and the agent's own session, to
//! continue it after a restart), and the tasks they run.

use anyhow::Result;
use rusqlite::params;

use super::models::Task;
use super::{new_id, now, optional, Store};

/// A chat's binding to an external agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatAgent {
    pub chat_id: String,
    /// The agent's name in the registry.
    pub agent: String,
    /// The agent's session id (ACP `sessionId`), once it gave one.
    pub agent_session_id: Option<String>,
    pub mode: Option<String>,
    pub model: Option<String>,
}

/// A task an external agent runs, recorded as it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct ExternalTask<'a> {
    pub session_id: &'a str,
    pub chat_id: &'a str,
    pub input: &'a str,
    /// The agent's name.
    pub agent: &'a str,
    pub model: &'a str,
    /// `acp`, `pty` or `paseo`.
    pub execution_path: &'a str,
}

impl Store {
    /// Binds a chat to an agent (again: the agent's session is forgotten when it changes).
    pub fn bind_chat_agent(&self, chat_id: &str, agent: &str) -> Result<()> {
        self.with(|c| {
            c.prepare_cached(
                "INSERT INTO chat_agents (chat_id, agent, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(chat_id) DO UPDATE SET
                     agent_session_id = CASE WHEN agent = excluded.agent
                                             THEN agent_session_id END,
                     agent = excluded.agent, updated_at = excluded.updated_at",
            )?
            .execute(params![chat_id, agent, now()])
        })?;
        Ok(())
    }

    /// The agent a chat is bound to, if any.
    pub fn chat_agent(&self, chat_id: &str) -> Result<Option<ChatAgent>> {
        self.with(|c| {
            optional(
                c.prepare_cached(
                    "SELECT chat_id, agent, agent_session_id, mode, model FROM chat_agents
                     WHERE chat_id = ?1",
                )?
                .query_row([chat_id], |r| {
                    Ok(ChatAgent {
                        chat_id: r.get(0)?,
                        agent: r.get(1)?,
                        agent_session_id: r.get(2)?,
                        mode: r.get(3)?,
                        model: r.get(4)?,
                    })
                }),
            )
        })
    }

    /// Records what the agent said of its session: its id, current mode and model.
    pub fn update_chat_agent(
        &self,
        chat_id: &str,
        agent_session_id: Option<&str>,
        mode: Option<&str>,
        model: Option<&str>,
    ) -> Result<()> {
        self.with(|c| {
            c.prepare_cached(
                "UPDATE chat_agents SET agent_session_id = COALESCE(?2, agent_session_id),
                     mode = COALESCE(?3, mode), model = COALESCE(?4, model), updated_at = ?5
                 WHERE chat_id = ?1",
            )?
            .execute(params![chat_id, agent_session_id, mode, model, now()])
        })?;
        Ok(())
    }

    /// Records a task an external agent starts now: `running` at once, owned by this process,
    /// so no background worker ever claims it for the native loop.
    pub fn start_external_task(&self, task: &ExternalTask<'_>) -> Result<Task> {
        let id = new_id();
        let owner = self.owner()?;
        let at = now();
        self.with(|c| {
            c.prepare_cached(
                "INSERT INTO tasks (id, session_id, chat_id, input, model, agent, status,
                     attempts, execution_path, tokens, owner, created_at, started_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'running', 1, ?7, 0, ?8, ?9, ?9)",
            )?
            .execute(params![
                id,
                task.session_id,
                task.chat_id,
                task.input,
                task.model,
                task.agent,
                task.execution_path,
                owner,
                at
            ])
        })?;
        self.get_task(&id)
    }

    /// Adds the tokens an external agent reported to its task.
    pub fn add_task_tokens(&self, task_id: &str, tokens: u64) -> Result<()> {
        self.with(|c| {
            c.prepare_cached("UPDATE tasks SET tokens = COALESCE(tokens, 0) + ?2 WHERE id = ?1")?
                .execute(params![task_id, tokens as i64])
        })?;
        Ok(())
    }

    /// A task's execution path (`native` when none was recorded) and tokens.
    pub fn task_execution(&self, task_id: &str) -> Result<(String, i64)> {
        self.with(|c| {
            c.prepare_cached(
                "SELECT COALESCE(execution_path, 'native'), COALESCE(tokens, 0) FROM tasks
                 WHERE id = ?1",
            )?
            .query_row([task_id], |r| Ok((r.get(0)?, r.get(1)?)))
        })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::core::store::NewChat;

    /// A project, a session and its chat: (session id, chat id).
    pub(in crate::core::store) fn chat(store: &Store) -> (String, String) {
        let project = store.ensure_project("/p").unwrap();
        let session = store.create_session(&project.id, "").unwrap();
        let chat = store
            .create_chat(&NewChat {
                session_id: &session.id,
                parent_chat_id: None,
                kind: "main",
                title: "",
                model: "m",
                agent: "general-purpose",
            })
            .unwrap();
        (session.id, chat.id)
    }

    #[test]
    fn a_binding_keeps_the_agents_session_until_the_agent_changes() {
        let store = Store::open_in_memory().unwrap();
        let (_, chat_id) = chat(&store);
        assert_eq!(store.chat_agent(&chat_id).unwrap(), None);
        store.bind_chat_agent(&chat_id, "claude").unwrap();
        store
            .update_chat_agent(&chat_id, Some("sess-1"), Some("plan"), None)
            .unwrap();
        store.bind_chat_agent(&chat_id, "claude").unwrap();
        let bound = store.chat_agent(&chat_id).unwrap().unwrap();
        assert_eq!(bound.agent_session_id.as_deref(), Some("sess-1"));
        assert_eq!(bound.mode.as_deref(), Some("plan"));
        store.bind_chat_agent(&chat_id, "codex").unwrap();
        let bound = store.chat_agent(&chat_id).unwrap().unwrap();
        assert_eq!(bound.agent, "codex");
        assert_eq!(bound.agent_session_id, None);
    }

    #[test]
    fn an_external_task_runs_at_once_with_its_path_and_tokens() {
        let store = Store::open_in_memory().unwrap();
        let (session_id, chat_id) = chat(&store);
        let task = store
            .start_external_task(&ExternalTask {
                session_id: &session_id,
                chat_id: &chat_id,
                input: "do it",
                agent: "claude",
                model: "default",
                execution_path: "acp",
            })
            .unwrap();
        assert_eq!(task.status, "running");
        assert_eq!(task.agent, "claude");
        store.add_task_tokens(&task.id, 120).unwrap();
        store.add_task_tokens(&task.id, 3).unwrap();
        assert_eq!(
            store.task_execution(&task.id).unwrap(),
            ("acp".to_string(), 123)
        );
        // No background worker may pick it up for the native loop.
        let project = store.project_of_session(&session_id).unwrap();
        assert!(store
            .claim_next_task(&project.id, 8, || false)
            .unwrap()
            .is_none());
    }
}
