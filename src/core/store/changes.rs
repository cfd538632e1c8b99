//! Pending changes: native review-mode edits and changes captured from agent worktrees.

use anyhow::Result;
use rusqlite::{params, params_from_iter, Row, ToSql, Transaction};

use super::models::*;
use super::{new_id, now, optional, Store};

/// The change columns in row order. Rows written before worktrees existed have no kind or
/// source agent: the kind follows from which side is missing, the agent is the chat's.
const CHANGE_SELECT: &str = "p.id, p.chat_id, COALESCE(p.source_agent, c.agent), p.worktree_id,
    COALESCE(p.kind, CASE WHEN p.before IS NULL THEN 'create'
                          WHEN p.after IS NULL THEN 'delete' ELSE 'edit' END),
    p.path, p.display_path, p.old_path, p.old_display_path, p.before, p.after, p.diff,
    p.binary, p.base_hash, p.after_hash, p.after_source, p.status, p.created_at
    FROM pending_changes p JOIN chats c ON c.id = p.chat_id";

fn change_from_row(r: &Row<'_>) -> rusqlite::Result<PendingChange> {
    Ok(PendingChange {
        id: r.get(0)?,
        chat_id: r.get(1)?,
        source_agent: r.get(2)?,
        worktree_id: r.get(3)?,
        content: ChangeContent {
            kind: r.get(4)?,
            path: r.get(5)?,
            display_path: r.get(6)?,
            old_path: r.get(7)?,
            old_display_path: r.get(8)?,
            before: r.get(9)?,
            after: r.get(10)?,
            diff: r.get(11)?,
            binary: r.get(12)?,
            base_hash: r.get(13)?,
            after_hash: r.get(14)?,
            after_source: r.get(15)?,
        },
        status: r.get(16)?,
        created_at: r.get(17)?,
    })
}

/// Who a new change comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeSource<'a> {
    pub chat_id: &'a str,
    /// `None`: the chat's agent (a native review-mode edit).
    pub agent: Option<&'a str>,
    pub worktree_id: Option<&'a str>,
}

/// One change of a capture: its row id and whether the row is new or was rewritten (false
/// when the same change was already waiting).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedRow {
    pub id: String,
    pub changed: bool,
}

/// The content columns of `pending_changes`, in the order [`content_values`] gives them.
const CONTENT_COLUMNS: &str = "kind, path, display_path, old_path, old_display_path, before,
    after, diff, binary, base_hash, after_hash, after_source";

fn content_values(c: &ChangeContent) -> [&dyn ToSql; 12] {
    [
        &c.kind,
        &c.path,
        &c.display_path,
        &c.old_path,
        &c.old_display_path,
        &c.before,
        &c.after,
        &c.diff,
        &c.binary,
        &c.base_hash,
        &c.after_hash,
        &c.after_source,
    ]
}

fn insert_change(
    c: &rusqlite::Connection,
    source: &ChangeSource<'_>,
    content: &ChangeContent,
) -> rusqlite::Result<String> {
    let id = new_id();
    let at = now();
    let head: [&dyn ToSql; 4] = [&id, &source.chat_id, &source.agent, &source.worktree_id];
    c.prepare_cached(&format!(
        "INSERT INTO pending_changes (id, chat_id, source_agent, worktree_id, {CONTENT_COLUMNS},
             created_at, status)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                 'pending')"
    ))?
    .execute(params_from_iter(
        head.into_iter()
            .chain(content_values(content))
            .chain([&at as &dyn ToSql]),
    ))?;
    Ok(id)
}

/// Rewrites a waiting change with a new capture of the same file (it keeps its id).
fn rewrite_change(tx: &Transaction<'_>, id: &str, content: &ChangeContent) -> rusqlite::Result<()> {
    let at = now();
    tx.prepare_cached(&format!(
        "UPDATE pending_changes SET ({CONTENT_COLUMNS}, created_at) =
             (?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
         WHERE id = ?1"
    ))?
    .execute(params_from_iter(
        [&id as &dyn ToSql]
            .into_iter()
            .chain(content_values(content))
            .chain([&at as &dyn ToSql]),
    ))?;
    Ok(())
}

/// A change still waiting from a worktree: id, path, old path, after hash, base hash.
type WaitingRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

impl Store {
    /// A native review-mode edit of `chat_id`: text before and after (`None` = no file).
    pub fn insert_pending_change(
        &self,
        chat_id: &str,
        path: &str,
        display_path: &str,
        before: Option<&str>,
        after: Option<&str>,
        diff: &str,
    ) -> Result<String> {
        let kind = match (before, after) {
            (None, _) => "create",
            (_, None) => "delete",
            _ => "edit",
        };
        let content = ChangeContent {
            kind: kind.into(),
            path: path.into(),
            display_path: display_path.into(),
            before: before.map(str::to_string),
            after: after.map(str::to_string),
            diff: diff.into(),
            ..ChangeContent::default()
        };
        let source = ChangeSource {
            chat_id,
            agent: None,
            worktree_id: None,
        };
        self.with(|c| insert_change(c, &source, &content))
    }

    pub fn get_pending_change(&self, id: &str) -> Result<PendingChange> {
        let id = self.resolve_prefix("pending_changes", id)?;
        self.with(|c| {
            c.prepare_cached(&format!("SELECT {CHANGE_SELECT} WHERE p.id = ?1"))?
                .query_row([&id], change_from_row)
        })
    }

    /// Changes of a chat (or of every chat) still waiting for the user, oldest first.
    pub fn list_pending_changes(&self, chat_id: Option<&str>) -> Result<Vec<PendingChange>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {CHANGE_SELECT}
                 WHERE p.status = 'pending' AND (?1 IS NULL OR p.chat_id = ?1)
                 ORDER BY p.created_at, p.rowid"
            ))?;
            let rows = stmt.query_map([chat_id], change_from_row)?;
            rows.collect()
        })
    }

    /// Every change of a project's chats still waiting for the user, oldest first.
    pub fn list_project_changes(&self, project_id: &str) -> Result<Vec<PendingChange>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {CHANGE_SELECT} JOIN sessions s ON s.id = c.session_id
                 WHERE p.status = 'pending' AND s.project_id = ?1
                 ORDER BY p.created_at, p.rowid"
            ))?;
            let rows = stmt.query_map([project_id], change_from_row)?;
            rows.collect()
        })
    }

    /// Moves a change from status `from` to `to` (`pending`, `applied`, `rejected`); false
    /// when it was no longer `from`.
    pub fn resolve_pending_change(&self, id: &str, from: &str, to: &str) -> Result<bool> {
        let n = self.with(|c| {
            c.prepare_cached(
                "UPDATE pending_changes SET status = ?3, resolved_at = ?4
                 WHERE id = ?1 AND status = ?2",
            )?
            .execute(params![id, from, to, now()])
        })?;
        Ok(n == 1)
    }

    /// Records a capture of a worktree: its changes become the source's pending changes,
    /// replacing the ones from the previous capture still waiting (a file's row keeps its id
    /// and is rewritten when the file changed again; a file no longer changed loses its row).
    /// A change already decided with the same result is not asked again. One transaction.
    pub fn replace_worktree_changes(
        &self,
        source: &ChangeSource<'_>,
        changes: &[ChangeContent],
    ) -> Result<Vec<CapturedRow>> {
        let worktree_id = source.worktree_id;
        self.tx(|tx| {
            let waiting: Vec<WaitingRow> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT id, path, old_path, after_hash, base_hash FROM pending_changes
                     WHERE worktree_id = ?1 AND status = 'pending'",
                )?;
                let rows = stmt.query_map([worktree_id], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            let mut kept = Vec::new();
            for content in changes {
                let decided: Option<i64> = optional(
                    tx.prepare_cached(
                        "SELECT 1 FROM pending_changes
                         WHERE worktree_id = ?1 AND status != 'pending' AND path = ?2
                           AND old_path IS ?3 AND after_hash IS ?4 LIMIT 1",
                    )?
                    .query_row(
                        params![
                            worktree_id,
                            content.path,
                            content.old_path,
                            content.after_hash
                        ],
                        |r| r.get(0),
                    ),
                )?;
                if decided.is_some() {
                    continue;
                }
                let row = match waiting.iter().find(|w| w.1 == content.path) {
                    Some((id, _, old_path, after_hash, base_hash))
                        if *old_path == content.old_path
                            && *after_hash == content.after_hash
                            && *base_hash == content.base_hash =>
                    {
                        CapturedRow {
                            id: id.clone(),
                            changed: false,
                        }
                    }
                    Some((id, ..)) => {
                        rewrite_change(tx, id, content)?;
                        CapturedRow {
                            id: id.clone(),
                            changed: true,
                        }
                    }
                    None => CapturedRow {
                        id: insert_change(tx, source, content)?,
                        changed: true,
                    },
                };
                kept.push(row);
            }
            for (id, ..) in &waiting {
                if !kept.iter().any(|k| &k.id == id) {
                    tx.prepare_cached("DELETE FROM pending_changes WHERE id = ?1")?
                        .execute([id])?;
                }
            }
            Ok(kept)
        })
    }

    /// How many changes captured from a worktree still wait.
    pub fn pending_changes_of_worktree(&self, worktree_id: &str) -> Result<i64> {
        self.with(|c| {
            c.prepare_cached(
                "SELECT COUNT(*) FROM pending_changes WHERE worktree_id = ?1 AND status = 'pending'",
            )?
            .query_row([worktree_id], |r| r.get(0))
        })
    }
}
