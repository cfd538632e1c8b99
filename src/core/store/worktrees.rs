//! Agent worktrees: where each one is, whose it is, and whether it is still in use.

use anyhow::Result;
use rusqlite::{params, Row};

use super::models::*;
use super::{now, optional, Store};

const WORKTREE_SELECT: &str = "id, project_id, chat_id, task_id, agent, branch, path, repo_root,
    project_dir, project_root, base_commit, status, created_at FROM worktrees";

fn worktree_from_row(r: &Row<'_>) -> rusqlite::Result<WorktreeRow> {
    Ok(WorktreeRow {
        id: r.get(0)?,
        project_id: r.get(1)?,
        chat_id: r.get(2)?,
        task_id: r.get(3)?,
        agent: r.get(4)?,
        branch: r.get(5)?,
        path: r.get(6)?,
        repo_root: r.get(7)?,
        project_dir: r.get(8)?,
        project_root: r.get(9)?,
        base_commit: r.get(10)?,
        status: r.get(11)?,
        created_at: r.get(12)?,
    })
}

impl Store {
    /// Records a new worktree as `active`, owned by this process.
    pub fn insert_worktree(&self, w: &WorktreeRow) -> Result<()> {
        let owner = self.owner()?;
        self.with(|c| {
            c.prepare_cached(
                "INSERT INTO worktrees (id, project_id, chat_id, task_id, agent, branch, path,
                     repo_root, project_dir, project_root, base_commit, status, owner, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'active', ?12, ?13)",
            )?
            .execute(params![
                w.id,
                w.project_id,
                w.chat_id,
                w.task_id,
                w.agent,
                w.branch,
                w.path,
                w.repo_root,
                w.project_dir,
                w.project_root,
                w.base_commit,
                owner,
                w.created_at
            ])
        })?;
        Ok(())
    }

    pub fn get_worktree(&self, id: &str) -> Result<WorktreeRow> {
        self.with(|c| {
            c.prepare_cached(&format!("SELECT {WORKTREE_SELECT} WHERE id = ?1"))?
                .query_row([id], worktree_from_row)
        })
    }

    /// The chat's newest worktree that still exists, taken over by this process and marked
    /// `active` again (a chat continued after a restart works where it left off).
    pub fn reclaim_worktree_of_chat(&self, chat_id: &str) -> Result<Option<WorktreeRow>> {
        let owner = self.owner()?;
        self.with(|c| {
            optional(
                c.prepare_cached(&format!(
                    "UPDATE worktrees SET status = 'active', owner = ?2, released_at = NULL
                     WHERE id = (SELECT id FROM worktrees
                                 WHERE chat_id = ?1 AND status != 'removed'
                                 ORDER BY created_at DESC, rowid DESC LIMIT 1)
                     RETURNING {}",
                    WORKTREE_SELECT.trim_end_matches(" FROM worktrees")
                ))?
                .query_row(params![chat_id, owner], worktree_from_row),
            )
        })
    }

    /// Sets `released` (its work ended) or `removed`, with the time.
    pub fn set_worktree_status(&self, id: &str, status: &str) -> Result<()> {
        let column = if status == "removed" {
            "removed_at"
        } else {
            "released_at"
        };
        self.with(|c| {
            c.prepare_cached(&format!(
                "UPDATE worktrees SET status = ?2, {column} = ?3 WHERE id = ?1"
            ))?
            .execute(params![id, status, now()])
        })?;
        Ok(())
    }

    /// Worktrees of a project nobody needs any more: created before `created_before`, their
    /// process gone (or released), and no change from them waiting.
    pub fn orphan_worktrees(
        &self,
        project_id: &str,
        created_before: &str,
    ) -> Result<Vec<WorktreeRow>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {WORKTREE_SELECT} w
                 WHERE w.project_id = ?1 AND w.status != 'removed' AND w.created_at < ?2
                   AND (w.status = 'released' OR owner_gone(w.owner))
                   AND NOT EXISTS (SELECT 1 FROM pending_changes p
                                   WHERE p.worktree_id = w.id AND p.status = 'pending')"
            ))?;
            let rows = stmt.query_map(params![project_id, created_before], worktree_from_row)?;
            rows.collect()
        })
    }

    /// Repositories of a project's worktrees (for `git worktree prune`).
    pub fn worktree_repos(&self, project_id: &str) -> Result<Vec<String>> {
        self.with(|c| {
            let mut stmt =
                c.prepare_cached("SELECT DISTINCT repo_root FROM worktrees WHERE project_id = ?1")?;
            let rows = stmt.query_map([project_id], |r| r.get(0))?;
            rows.collect()
        })
    }
}
