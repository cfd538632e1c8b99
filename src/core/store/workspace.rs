//! What the workspace keeps between runs: the pane layout of each project, and the prompts
//! the user typed (composer history).

use anyhow::Result;
use rusqlite::params;

use super::{now, optional, Store};

impl Store {
    /// The saved layout (JSON) of a project's workspace.
    pub fn load_layout(&self, project_id: &str) -> Result<Option<String>> {
        self.with(|c| {
            optional(
                c.prepare_cached("SELECT layout FROM workspace_layouts WHERE project_id = ?1")?
                    .query_row([project_id], |r| r.get(0)),
            )
        })
    }

    pub fn save_layout(&self, project_id: &str, layout: &str) -> Result<()> {
        self.with(|c| {
            c.prepare_cached(
                "INSERT INTO workspace_layouts (project_id, layout, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(project_id) DO UPDATE SET layout = excluded.layout,
                     updated_at = excluded.updated_at",
            )?
            .execute(params![project_id, layout, now()])
        })?;
        Ok(())
    }

    /// The latest distinct prompts typed in a project's chats, newest first.
    pub fn recent_prompts(&self, project_id: &str, limit: usize) -> Result<Vec<String>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT p.content FROM messages m
                 JOIN message_parts p ON p.message_id = m.id AND p.kind = 'text'
                 JOIN chats ch ON ch.id = m.chat_id
                 JOIN sessions s ON s.id = ch.session_id
                 WHERE m.role = 'user' AND s.project_id = ?1 AND ch.kind != 'subagent'
                 GROUP BY p.content ORDER BY MAX(m.created_at) DESC, MAX(m.rowid) DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![project_id, limit as i64], |r| r.get(0))?;
            rows.collect()
        })
    }
}
