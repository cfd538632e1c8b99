//! Paseo agents: which agent of a Paseo daemon a chat talks to, so a restart continues it
//! instead of importing a new one, and whether it was archived when the chat closed.

use anyhow::Result;
use rusqlite::params;

use super::{now, optional, Store};

/// A chat's agent on a Paseo daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaseoAgent {
    pub chat_id: String,
    /// The agent's name in boocode's registry.
    pub agent: String,
    /// The daemon's id for it (what `paseo import` answered).
    pub paseo_id: String,
    pub provider: String,
    /// A digest of the daemon's address (never the address: it may hold a password).
    pub daemon: String,
    /// The provider session id it was imported from.
    pub provider_session: String,
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
            provider_session: "s1".into(),
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
            provider_session: "s2".into(),
            ..first
        };
        store.record_paseo_agent(&second).unwrap();
        assert_eq!(store.paseo_agent(&chat_id).unwrap(), Some(second));
    }
}
