//! Background tasks and agent snapshots.

use anyhow::{anyhow, Result};
use rusqlite::{params, Row};

use super::models::*;
use super::{new_id, now, optional, Store};

/// The task columns in row order. A task running in a process that has ended reads as
/// `interrupted` (the next process to start puts it back in the queue).
const TASK_SELECT: &str = "id, session_id, parent_chat_id, chat_id, label, input, model, agent,
    CASE WHEN status = 'running' AND owner_gone(owner) THEN 'interrupted' ELSE status END,
    attempts, output, error, created_at, started_at, finished_at";

fn task_from_row(r: &Row<'_>) -> rusqlite::Result<Task> {
    Ok(Task {
        id: r.get(0)?,
        session_id: r.get(1)?,
        parent_chat_id: r.get(2)?,
        chat_id: r.get(3)?,
        label: r.get(4)?,
        input: r.get(5)?,
        model: r.get(6)?,
        agent: r.get(7)?,
        status: r.get(8)?,
        attempts: r.get(9)?,
        output: r.get(10)?,
        error: r.get(11)?,
        created_at: r.get(12)?,
        started_at: r.get(13)?,
        finished_at: r.get(14)?,
    })
}

/// A task to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTask<'a> {
    pub session_id: &'a str,
    pub parent_chat_id: Option<&'a str>,
    pub label: Option<&'a str>,
    pub input: &'a str,
    pub model: &'a str,
    pub agent: &'a str,
}

impl Store {
    pub fn create_task(&self, new: &NewTask<'_>) -> Result<Task> {
        self.create_task_on(new, None)
    }

    /// [`Self::create_task`] for a task that runs on `execution_path` (`acp`: an external
    /// agent) instead of the native loop (`None`).
    pub fn create_task_on(&self, new: &NewTask<'_>, execution_path: Option<&str>) -> Result<Task> {
        let id = new_id();
        self.with(|c| {
            c.prepare_cached(
                "INSERT INTO tasks (id, session_id, parent_chat_id, label, input, model, agent,
                     status, created_at, execution_path)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8, ?9)",
            )?
            .execute(params![
                id,
                new.session_id,
                new.parent_chat_id,
                new.label,
                new.input,
                new.model,
                new.agent,
                now(),
                execution_path
            ])
        })?;
        self.get_task(&id)
    }

    /// A task by full id or unique prefix.
    pub fn get_task(&self, id: &str) -> Result<Task> {
        let id = self.resolve_prefix("tasks", id)?;
        self.with(|c| {
            c.prepare_cached(&format!("SELECT {TASK_SELECT} FROM tasks WHERE id = ?1"))?
                .query_row([&id], task_from_row)
        })
    }

    /// Tasks, newest first; of one session when given.
    pub fn list_tasks(&self, session_id: Option<&str>) -> Result<Vec<Task>> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {TASK_SELECT} FROM tasks WHERE ?1 IS NULL OR session_id = ?1
                 ORDER BY created_at DESC, rowid DESC"
            ))?;
            let rows = stmt.query_map([session_id], task_from_row)?;
            rows.collect()
        })
    }

    /// Atomically moves the project's oldest pending task to `running` if fewer than
    /// `max_running` of its tasks run.
    /// Claims the oldest queued task of the project when fewer than `max_running` run.
    /// `stopped` is asked inside the transaction, under the store's lock: a worker told to stop
    /// can then never claim a task queued after the stop, however late it gets here.
    pub fn claim_next_task(
        &self,
        project_id: &str,
        max_running: usize,
        stopped: impl Fn() -> bool,
    ) -> Result<Option<Task>> {
        let at = now();
        let owner = self.owner()?;
        let claimed = self.tx(|tx| {
            if stopped() {
                return Ok(None);
            }
            // Tasks of an ended process hold no slot.
            let running: i64 = tx
                .prepare_cached(
                    "SELECT COUNT(*) FROM tasks WHERE status = 'running' AND NOT owner_gone(owner)",
                )?
                .query_row([], |r| r.get(0))?;
            if running as usize >= max_running {
                return Ok(None);
            }
            optional(
                tx.prepare_cached(&format!(
                    "UPDATE tasks SET status = 'running', started_at = ?1, attempts = attempts + 1,
                         finished_at = NULL, error = NULL, owner = ?3
                     WHERE id = (SELECT t.id FROM tasks t JOIN sessions s ON s.id = t.session_id
                                 WHERE t.status = 'pending' AND s.project_id = ?2
                                 ORDER BY t.created_at, t.rowid LIMIT 1)
                     RETURNING {TASK_SELECT}"
                ))?
                .query_row(params![at, project_id, owner], task_from_row),
            )
        })?;
        Ok(claimed)
    }

    pub fn count_tasks(&self, status: &str) -> Result<i64> {
        self.with(|c| {
            c.prepare_cached("SELECT COUNT(*) FROM tasks WHERE status = ?1")?
                .query_row([status], |r| r.get(0))
        })
    }

    pub fn set_task_chat(&self, task_id: &str, chat_id: &str) -> Result<()> {
        self.with(|c| {
            c.prepare_cached("UPDATE tasks SET chat_id = ?2 WHERE id = ?1")?
                .execute(params![task_id, chat_id])
        })?;
        Ok(())
    }

    /// Ends a running task. Returns false when the task was no longer running (for example it
    /// was cancelled meanwhile), in which case nothing changes.
    pub fn finish_task(
        &self,
        task_id: &str,
        status: &str,
        output: Option<&str>,
        error: Option<&str>,
    ) -> Result<bool> {
        let n = self.with(|c| {
            c.prepare_cached(
                "UPDATE tasks SET status = ?2, output = ?3, error = ?4, finished_at = ?5
                 WHERE id = ?1 AND status = 'running'",
            )?
            .execute(params![task_id, status, output, error, now()])
        })?;
        Ok(n == 1)
    }

    /// Cancels a pending or running task; errors for one already finished.
    pub fn cancel_task(&self, task_id: &str) -> Result<Task> {
        let task = self.get_task(task_id)?;
        let n = self.with(|c| {
            c.prepare_cached("UPDATE tasks SET status = 'cancelled', finished_at = ?2, error = 'cancelled by user'
                 WHERE id = ?1 AND status IN ('pending', 'running')")?.execute(params![task.id, now()])
        })?;
        if n == 0 {
            return Err(anyhow!("task {} is already {}", task.id, task.status));
        }
        self.get_task(&task.id)
    }

    /// Puts a failed or cancelled task back in the queue.
    pub fn retry_task(&self, task_id: &str) -> Result<Task> {
        let task = self.get_task(task_id)?;
        let n = self.with(|c| {
            c.prepare_cached(
                "UPDATE tasks SET status = 'pending', output = NULL, error = NULL,
                     started_at = NULL, finished_at = NULL
                 WHERE id = ?1 AND status IN ('failed', 'cancelled')",
            )?
            .execute([&task.id])
        })?;
        if n == 0 {
            return Err(anyhow!(
                "task {} is {}; only failed or cancelled tasks can be retried",
                task.id,
                task.status
            ));
        }
        self.get_task(&task.id)
    }

    /// Upserts the chat's agent state (one row per chat).
    pub fn save_snapshot(&self, s: &AgentSnapshot) -> Result<()> {
        let (history, pending) = snapshot_json(s)?;
        self.with(|c| write_snapshot(c, s, &history, &pending))
    }

    pub fn load_snapshot(&self, chat_id: &str) -> Result<Option<AgentSnapshot>> {
        let row = self.with(|c| {
            optional(
                c.prepare_cached(
                    "SELECT chat_id, model, agent, mode, state, turn_number, step, history,
                     pending_tool_calls
                 FROM agent_snapshots WHERE chat_id = ?1",
                )?
                .query_row([chat_id], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, i64>(5)?,
                        r.get::<_, u32>(6)?,
                        r.get::<_, String>(7)?,
                        r.get::<_, String>(8)?,
                    ))
                }),
            )
        })?;
        let Some((chat_id, model, agent, mode, state, turn_number, step, history, pending)) = row
        else {
            return Ok(None);
        };
        Ok(Some(AgentSnapshot {
            chat_id,
            model,
            agent,
            mode,
            state,
            turn_number,
            step,
            history: serde_json::from_str(&history)?,
            pending_tool_calls: serde_json::from_str(&pending)?,
        }))
    }
}

pub(super) fn snapshot_json(s: &AgentSnapshot) -> Result<(String, String)> {
    Ok((
        serde_json::to_string(&s.history)?,
        serde_json::to_string(&s.pending_tool_calls)?,
    ))
}

pub(super) fn write_snapshot(
    c: &rusqlite::Connection,
    s: &AgentSnapshot,
    history: &str,
    pending: &str,
) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO agent_snapshots (chat_id, model, agent, mode, state, turn_number, step,
             history, pending_tool_calls, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT(chat_id) DO UPDATE SET model = excluded.model, agent = excluded.agent,
             mode = excluded.mode, state = excluded.state,
             turn_number = excluded.turn_number, step = excluded.step,
             history = excluded.history, pending_tool_calls = excluded.pending_tool_calls,
             updated_at = excluded.updated_at",
    )?
    .execute(params![
        s.chat_id,
        s.model,
        s.agent,
        s.mode,
        s.state,
        s.turn_number,
        s.step,
        history,
        pending,
        now()
    ])?;
    Ok(())
}
