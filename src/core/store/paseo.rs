//! Paseo agents: which agent of a Paseo daemon a chat talks to, so a restart continues it
//! instead of creating a new one, whether it was archived when the chat closed, and which chat
//! holds an imported provider session.

use anyhow::Result;
use rusqlite::params;

use super::{now, optional, Store};

/// A chat's agent on a Paseo daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaseoAgent {
    pub chat_id: String,
    /// The agent's name in boocode's registry.
    pub agent: String,
    /// The daemon's id for it (what `paseo run` or `paseo import` answered).
    pub paseo_id: String,
    pub provider: String,
    /// A digest of the daemon's address (never the address: it may hold a password).
    pub daemon: String,
    /// The provider session it was imported from; `None` when `paseo run` started it.
    pub provider_session: Option<String>,
    /// Archived agents are never sent to again.
    pub archived: bool,
}

impl Store {
    /// The Paseo agent a chat has (or had, when archived).
    pub fn paseo_agent(&self, chat_id: &str) -> Result<Option<PaseoAgent>> {
        self.with(|c| {
            optional(
                c.prepare_cached(
                    "SELECT chat_id, agent, paseo_id, provider, daemon, provider_session, status
                     FROM paseo_agents WHERE chat_id = ?1",
                )?
                .query_row([chat_id], |r| {
                    Ok(PaseoAgent {
                        chat_id: r.get(0)?,
                        agent: r.get(1)?,
                        paseo_id: r.get(2)?,
                        provider: r.get(3)?,
                        daemon: r.get(4)?,
                        provider_session: r.get(5)?,
                        archived: r.get::<_, String>(6)? == "archived",
                    })
                }),
            )
        })
    }

    /// Records the chat's new Paseo agent, replacing any earlier one.
    pub fn record_paseo_agent(&self, agent: &PaseoAgent) -> Result<()> {
        let at = now();
        self.with(|c| {
            c.prepare_cached(
                "INSERT INTO paseo_agents (chat_id, agent, paseo_id, provider, daemon,
                     provider_session, status, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'active', ?7, ?7)
                 ON CONFLICT(chat_id) DO UPDATE SET
                     agent = excluded.agent, paseo_id = excluded.paseo_id,
                     provider = excluded.provider, daemon = excluded.daemon,
                     provider_session = excluded.provider_session, status = 'active',
                     created_at = excluded.created_at, updated_at = excluded.updated_at",
            )?
            .execute(params![
                agent.chat_id,
                agent.agent,
                agent.paseo_id,
                agent.provider,
                agent.daemon,
                agent.provider_session,
                at
            ])
        })?;
        Ok(())
    }

    /// The chat other than `chat_id` whose active agent on `daemon` continues `provider`'s
    /// session `session`, if any.
    pub fn paseo_session_holder(
        &self,
        daemon: &str,
        provider: &str,
        session: &str,
        chat_id: &str,
    ) -> Result<Option<String>> {
        self.with(|c| {
            optional(
                c.prepare_cached(
                    "SELECT chat_id FROM paseo_agents
                     WHERE daemon = ?1 AND provider = ?2 AND provider_session = ?3
                       AND status = 'active' AND chat_id <> ?4",
                )?
                .query_row(params![daemon, provider, session, chat_id], |r| r.get(0)),
            )
        })
    }

    /// Marks the chat's Paseo agent `paseo_id` archived.
    pub fn archive_paseo_agent(&self, chat_id: &str, paseo_id: &str) -> Result<()> {
        self.with(|c| {
            c.prepare_cached(
                "UPDATE paseo_agents SET status = 'archived', updated_at = ?3
                 WHERE chat_id = ?1 AND paseo_id = ?2",
            )?
            .execute(params![chat_id, paseo_id, now()])
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::store::agents::tests::chat;

    #[test]
    fn a_chats_paseo_agent_is_kept_replaced_and_archived() {
        let store = Store::open_in_memory().unwrap();
        let (_, chat_id) = chat(&store);
        assert_eq!(store.paseo_agent(&chat_id).unwrap(), None);
        let first = PaseoAgent {
            chat_id: chat_id.clone(),
            agent: "remote".into(),
            paseo_id: "pa-1".into(),
            provider: "codex".into(),
            daemon: "d1".into(),
            provider_session: None,
            archived: false,
        };
        store.record_paseo_agent(&first).unwrap();
        assert_eq!(store.paseo_agent(&chat_id).unwrap(), Some(first.clone()));

        // Archiving another id leaves this one alone.
        store.archive_paseo_agent(&chat_id, "pa-0").unwrap();
        assert!(!store.paseo_agent(&chat_id).unwrap().unwrap().archived);
        store.archive_paseo_agent(&chat_id, "pa-1").unwrap();
        assert!(store.paseo_agent(&chat_id).unwrap().unwrap().archived);

        let second = PaseoAgent {
            paseo_id: "pa-2".into(),
            provider_session: Some("s2".into()),
            ..first
        };
        store.record_paseo_agent(&second).unwrap();
        assert_eq!(store.paseo_agent(&chat_id).unwrap(), Some(second));
    }

    #[test]
    fn an_imported_session_is_held_by_one_active_chat() {
        let store = Store::open_in_memory().unwrap();
        let (_, holder) = chat(&store);
        let (_, other) = chat(&store);
        let held = PaseoAgent {
            chat_id: holder.clone(),
            agent: "adopted".into(),
            paseo_id: "pa-1".into(),
            provider: "claude".into(),
            daemon: "d1".into(),
            provider_session: Some("s1".into()),
            archived: false,
        };
        store.record_paseo_agent(&held).unwrap();
        let holder_of = |daemon: &str, provider: &str, chat_id: &str| {
            store
                .paseo_session_holder(daemon, provider, "s1", chat_id)
                .unwrap()
        };
        assert_eq!(holder_of("d1", "claude", &other), Some(holder.clone()));
        // Not from itself, another daemon or another provider.
        assert_eq!(holder_of("d1", "claude", &holder), None);
        assert_eq!(holder_of("d2", "claude", &other), None);
        assert_eq!(holder_of("d1", "codex", &other), None);
        // The store refuses a second active holder whatever the caller checked.
        let twice = PaseoAgent {
            chat_id: other.clone(),
            paseo_id: "pa-2".into(),
            ..held.clone()
        };
        assert!(store.record_paseo_agent(&twice).is_err());
        // Archived, it is free again; agents `paseo run` started hold none.
        store.archive_paseo_agent(&holder, "pa-1").unwrap();
        assert_eq!(holder_of("d1", "claude", &other), None);
        store.record_paseo_agent(&twice).unwrap();
        let started = |chat_id: &str, id: &str| PaseoAgent {
            chat_id: chat_id.to_string(),
            paseo_id: id.into(),
            provider_session: None,
            ..held.clone()
        };
        store.record_paseo_agent(&started(&holder, "pa-3")).unwrap();
        let (_, third) = chat(&store);
        store.record_paseo_agent(&started(&third, "pa-4")).unwrap();
    }

    #[test]
    fn migration_11_keeps_the_agents_of_a_version_10_file() {
        use crate::core::store::schema::MIGRATIONS;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("boocode.db");
        {
            let c = rusqlite::Connection::open(&path).unwrap();
            for sql in &MIGRATIONS[..10] {
                c.execute_batch(sql).unwrap();
            }
            c.execute_batch(
                "INSERT INTO projects VALUES ('p', '/p', 'p', 't', 't');
                 INSERT INTO sessions (id, project_id, created_at, updated_at)
                     VALUES ('s', 'p', 't', 't');
                 INSERT INTO chats (id, session_id, model, created_at, updated_at)
                     VALUES ('c', 's', 'm', 't', 't');
                 INSERT INTO paseo_agents VALUES
                     ('c', 'remote', 'pa-1', 'codex', 'd1', 'made-up', 'active', 't', 't');
                 PRAGMA user_version = 10;",
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(
            store.paseo_agent("c").unwrap(),
            Some(PaseoAgent {
                chat_id: "c".into(),
                agent: "remote".into(),
                paseo_id: "pa-1".into(),
                provider: "codex".into(),
                daemon: "d1".into(),
                provider_session: Some("made-up".into()),
                archived: false,
            })
        );
    }
}
