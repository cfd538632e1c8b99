//! Workflow runs, their `agent()` calls (which double as the resumability cache) and their
//! event log.

use anyhow::Result;
use rusqlite::{params, Connection, Row};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{new_id, new_ordered_id, now, optional, Store};

/// One workflow run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowRun {
    pub id: String,
    pub project_id: String,
    pub session_id: Option<String>,
    pub parent_chat_id: Option<String>,
    pub workflow: String,
    /// `built-in`, `project` or `user`.
    pub source: String,
    /// File path, or `built-in:NAME`.
    pub origin: String,
    #[serde(skip)]
    pub script: String,
    pub script_hash: String,
    pub args: Value,
    /// `pending`, `running`, `completed`, `failed`, `cancelled`, `interrupted`.
    pub status: String,
    pub result: Option<Value>,
    pub error: Option<String>,
    pub budget_total: Option<u64>,
    pub tokens_spent: u64,
    pub concurrency: u64,
    pub owner_pid: Option<u32>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

/// A run to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewWorkflowRun<'a> {
    pub project_id: &'a str,
    pub session_id: Option<&'a str>,
    pub parent_chat_id: Option<&'a str>,
    pub workflow: &'a str,
    pub source: &'a str,
    pub origin: &'a str,
    pub script: &'a str,
    pub script_hash: &'a str,
    pub args: &'a Value,
    pub budget_total: Option<u64>,
    pub concurrency: u64,
}

/// One `agent()` call of a run, keyed by (spec hash, occurrence).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowAgentRow {
    pub id: String,
    pub run_id: String,
    pub spec_hash: String,
    pub occurrence: u64,
    pub spec: Value,
    /// `pending`, `running`, `completed`, `failed`, `cancelled`, `interrupted`.
    pub status: String,
    pub chat_id: Option<String>,
    pub label: Option<String>,
    pub phase: Option<String>,
    pub tokens: u64,
    pub result: Option<Value>,
    pub error: Option<String>,
    /// Served from the store without a model request.
    pub cached: bool,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

/// One entry of a run's event log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowEventRow {
    pub run_id: String,
    pub seq: i64,
    /// `run_started`, `phase`, `log`, `agent_started`, `agent_finished`, `run_finished`, …
    pub kind: String,
    pub payload: Value,
    pub at: String,
}

/// The run columns in row order. A run (or, below, a call) still going in a process that has
/// ended reads as `interrupted`.
const RUN_COLUMNS: &str = "id, project_id, session_id, parent_chat_id, workflow, source, origin,
    script, script_hash, args,
    CASE WHEN status IN ('pending','running') AND owner_gone(owner) THEN 'interrupted'
         ELSE status END,
    result, error, budget_total, tokens_spent, concurrency, owner_pid, created_at, started_at,
    finished_at";

const AGENT_COLUMNS: &str = "id, run_id, spec_hash, occurrence, spec,
    CASE WHEN status IN ('pending','running') AND owner_gone(owner) THEN 'interrupted'
         ELSE status END,
    chat_id, label, phase, tokens, result, error, cached, created_at, started_at, finished_at";

fn json_col(text: Option<String>) -> Option<Value> {
    text.map(|t| serde_json::from_str(&t).unwrap_or(Value::String(t)))
}

fn run_from_row(r: &Row<'_>) -> rusqlite::Result<WorkflowRun> {
    Ok(WorkflowRun {
        id: r.get(0)?,
        project_id: r.get(1)?,
        session_id: r.get(2)?,
        parent_chat_id: r.get(3)?,
        workflow: r.get(4)?,
        source: r.get(5)?,
        origin: r.get(6)?,
        script: r.get(7)?,
        script_hash: r.get(8)?,
        args: json_col(r.get(9)?).unwrap_or(Value::Null),
        status: r.get(10)?,
        result: json_col(r.get(11)?),
        error: r.get(12)?,
        budget_total: r.get::<_, Option<i64>>(13)?.map(|v| v.max(0) as u64),
        tokens_spent: r.get::<_, i64>(14)?.max(0) as u64,
        concurrency: r.get::<_, i64>(15)?.max(1) as u64,
        owner_pid: r.get::<_, Option<i64>>(16)?.map(|v| v as u32),
        created_at: r.get(17)?,
        started_at: r.get(18)?,
        finished_at: r.get(19)?,
    })
}

fn agent_from_row(r: &Row<'_>) -> rusqlite::Result<WorkflowAgentRow> {
    Ok(WorkflowAgentRow {
        id: r.get(0)?,
        run_id: r.get(1)?,
        spec_hash: r.get(2)?,
        occurrence: r.get::<_, i64>(3)?.max(0) as u64,
        spec: json_col(r.get(4)?).unwrap_or(Value::Null),
        status: r.get(5)?,
        chat_id: r.get(6)?,
        label: r.get(7)?,
        phase: r.get(8)?,
        tokens: r.get::<_, i64>(9)?.max(0) as u64,
        result: json_col(r.get(10)?),
        error: r.get(11)?,
        cached: r.get::<_, i64>(12)? != 0,
        created_at: r.get(13)?,
        started_at: r.get(14)?,
        finished_at: r.get(15)?,
    })
}

impl Store {
    pub fn create_workflow_run(&self, new: &NewWorkflowRun<'_>) -> Result<WorkflowRun> {
        let id = new_id();
        let owner = self.owner()?;
        self.with(|c| {
            c.prepare_cached(
                "INSERT INTO workflow_runs (id, project_id, session_id, parent_chat_id, workflow,
                     source, origin, script, script_hash, args, status, budget_total, concurrency,
                     created_at, owner)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'pending', ?11, ?12, ?13, ?14)",
            )?
            .execute(params![
                id,
                new.project_id,
                new.session_id,
                new.parent_chat_id,
                new.workflow,
                new.source,
                new.origin,
                new.script,
                new.script_hash,
                new.args.to_string(),
                new.budget_total.map(|b| b as i64),
                new.concurrency as i64,
                now(),
                owner
            ])
        })?;
        self.get_workflow_run(&id)
    }

    /// A run by full id or unique prefix.
    pub fn get_workflow_run(&self, id: &str) -> Result<WorkflowRun> {
        let id = self.resolve_prefix("workflow_runs", id)?;
        self.with(|c| {
            c.prepare_cached(&format!(
                "SELECT {RUN_COLUMNS} FROM workflow_runs WHERE id = ?1"
            ))?
            .query_row([&id], run_from_row)
        })
    }

    /// Runs, newest first; of one project when given.
    pub fn list_workflow_runs(&self, project_id: Option<&str>) -> Result<Vec<WorkflowRun>> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {RUN_COLUMNS} FROM workflow_runs WHERE ?1 IS NULL OR project_id = ?1
                 ORDER BY created_at DESC, rowid DESC"
            ))?;
            let rows = stmt.query_map([project_id], run_from_row)?;
            rows.collect()
        })
    }

    /// Marks a run running in this process (a fresh start or a resume).
    pub fn start_workflow_run(&self, run_id: &str, owner_pid: u32) -> Result<()> {
        self.workflow_batch(|w| w.start_run(run_id, owner_pid))
    }

    /// Closes a run. A run already `cancelled` (by another process) stays cancelled.
    pub fn finish_workflow_run(
        &self,
        run_id: &str,
        status: &str,
        result: Option<&Value>,
        error: Option<&str>,
    ) -> Result<()> {
        self.workflow_batch(|w| w.finish_run(run_id, status, result, error))
    }

    /// Asks for a run to stop: `pending`/`running` become `cancelled`. Returns whether it was
    /// still going.
    pub fn cancel_workflow_run(&self, run_id: &str) -> Result<bool> {
        let n = self.with(|c| {
            c.prepare_cached(
                "UPDATE workflow_runs SET status = 'cancelled', error = 'cancelled',
                     finished_at = ?2
                 WHERE id = ?1 AND status IN ('pending','running')",
            )?
            .execute(params![run_id, now()])
        })?;
        Ok(n > 0)
    }

    pub fn workflow_run_status(&self, run_id: &str) -> Result<String> {
        self.with(|c| {
            c.prepare_cached("SELECT status FROM workflow_runs WHERE id = ?1")?
                .query_row([run_id], |r| r.get(0))
        })
    }

    pub fn set_workflow_run_tokens(&self, run_id: &str, tokens_spent: u64) -> Result<()> {
        self.workflow_batch(|w| w.set_run_tokens(run_id, tokens_spent))
    }

    /// The newest completed result of a call with this key in a run of `workflow` in the
    /// project: this run first, then earlier runs.
    pub fn cached_workflow_agent(
        &self,
        project_id: &str,
        workflow: &str,
        run_id: &str,
        spec_hash: &str,
        occurrence: u64,
    ) -> Result<Option<WorkflowAgentRow>> {
        self.workflow_batch(|w| w.cached_agent(project_id, workflow, run_id, spec_hash, occurrence))
    }

    /// Records a call of a run (inserted, or reset when the run calls it again on a resume).
    pub fn upsert_workflow_agent(
        &self,
        run_id: &str,
        spec_hash: &str,
        occurrence: u64,
        spec: &Value,
        label: Option<&str>,
        phase: Option<&str>,
    ) -> Result<WorkflowAgentRow> {
        self.workflow_batch(|w| w.upsert_agent(run_id, spec_hash, occurrence, spec, label, phase))
    }

    pub fn start_workflow_agent(&self, agent_id: &str, chat_id: Option<&str>) -> Result<()> {
        self.workflow_batch(|w| w.start_agent(agent_id, chat_id))
    }

    /// Closes a call with its outcome.
    #[allow(clippy::too_many_arguments)]
    pub fn finish_workflow_agent(
        &self,
        agent_id: &str,
        status: &str,
        result: Option<&Value>,
        error: Option<&str>,
        tokens: u64,
        cached: bool,
        chat_id: Option<&str>,
    ) -> Result<()> {
        self.workflow_batch(|w| {
            w.finish_agent(agent_id, status, result, error, tokens, cached, chat_id)
        })
    }

    /// Ends the calls of a run still pending or running (`cancelled`, or `interrupted` with
    /// `reason`).
    pub fn close_open_workflow_agents(&self, run_id: &str, reason: &str) -> Result<usize> {
        let status = if reason == "cancelled" {
            "cancelled"
        } else {
            "interrupted"
        };
        self.with(|c| {
            c.prepare_cached(
                "UPDATE workflow_agents SET status = ?2, error = COALESCE(error, ?3),
                     finished_at = ?4
                 WHERE run_id = ?1 AND status IN ('pending','running')",
            )?
            .execute(params![run_id, status, reason, now()])
        })
    }

    /// A call by full id or unique prefix.
    pub fn get_workflow_agent(&self, id: &str) -> Result<WorkflowAgentRow> {
        let id = self.resolve_prefix("workflow_agents", id)?;
        self.with(|c| {
            c.prepare_cached(&format!(
                "SELECT {AGENT_COLUMNS} FROM workflow_agents WHERE id = ?1"
            ))?
            .query_row([&id], agent_from_row)
        })
    }

    /// A run's calls in the order they were first issued.
    pub fn list_workflow_agents(&self, run_id: &str) -> Result<Vec<WorkflowAgentRow>> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {AGENT_COLUMNS} FROM workflow_agents WHERE run_id = ?1
                 ORDER BY created_at, id"
            ))?;
            let rows = stmt.query_map([run_id], agent_from_row)?;
            rows.collect()
        })
    }

    /// Appends to a run's event log; returns the entry's sequence number.
    pub fn append_workflow_event(&self, run_id: &str, kind: &str, payload: &Value) -> Result<i64> {
        self.workflow_batch(|w| w.append_event(run_id, kind, payload))
    }

    /// Runs `f`'s workflow writes in one transaction: they commit together or not at all. A
    /// call's bookkeeping (its row, the run's token count, the event log entry) is one commit
    /// instead of one per statement, and a crash never leaves half of it behind.
    pub fn workflow_batch<T>(&self, f: impl FnOnce(&WorkflowBatch<'_>) -> Result<T>) -> Result<T> {
        let owner = self.owner()?;
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        let value = f(&WorkflowBatch { conn: &tx, owner })?;
        tx.commit()?;
        Ok(value)
    }

    pub fn list_workflow_events(&self, run_id: &str) -> Result<Vec<WorkflowEventRow>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT run_id, seq, kind, payload, at FROM workflow_events WHERE run_id = ?1
                 ORDER BY seq",
            )?;
            let rows = stmt.query_map([run_id], |r| {
                Ok(WorkflowEventRow {
                    run_id: r.get(0)?,
                    seq: r.get(1)?,
                    kind: r.get(2)?,
                    payload: json_col(r.get(3)?).unwrap_or(Value::Null),
                    at: r.get(4)?,
                })
            })?;
            rows.collect()
        })
    }
}

/// The completed call with a key in one run (`?5`), of the run's project and workflow.
fn cached_in_run_sql() -> String {
    format!(
        "SELECT {AGENT_COLUMNS} FROM workflow_agents WHERE id = (
             SELECT a.id FROM workflow_agents a JOIN workflow_runs r ON r.id = a.run_id
             WHERE a.run_id = ?5 AND a.spec_hash = ?1 AND a.occurrence = ?2
               AND a.status = 'completed' AND r.project_id = ?3 AND r.workflow = ?4)"
    )
}

/// The newest completed call with a key in any run of a project's workflow: walks
/// `workflow_agents_by_key` newest first and stops at the first call of that workflow.
fn cached_earlier_sql() -> String {
    format!(
        "SELECT {AGENT_COLUMNS} FROM workflow_agents WHERE id = (
             SELECT a.id FROM workflow_agents a JOIN workflow_runs r ON r.id = a.run_id
             WHERE a.spec_hash = ?1 AND a.occurrence = ?2 AND a.status = 'completed'
               AND r.project_id = ?3 AND r.workflow = ?4
             ORDER BY a.finished_at DESC LIMIT 1)"
    )
}

/// Workflow writes inside one transaction; see [`Store::workflow_batch`].
pub struct WorkflowBatch<'c> {
    conn: &'c Connection,
    /// Stamped on the runs and calls this process starts (see `owners`).
    owner: String,
}

impl WorkflowBatch<'_> {
    /// Marks a run running in this process (a fresh start or a resume). A resume puts every
    /// call that did not complete back in the queue: it runs again, unless the script no longer
    /// makes it.
    pub fn start_run(&self, run_id: &str, owner_pid: u32) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE workflow_runs SET status = 'running', owner_pid = ?2,
                     started_at = COALESCE(started_at, ?3), finished_at = NULL, error = NULL,
                     result = NULL, owner = ?4
                 WHERE id = ?1",
            )?
            .execute(params![run_id, owner_pid as i64, now(), self.owner])?;
        // Calls that did not complete are queued again, owned by the process resuming them.
        self.conn
            .prepare_cached(
                "UPDATE workflow_agents SET status = 'pending', error = NULL, started_at = NULL,
                     finished_at = NULL, owner = ?2
                 WHERE run_id = ?1 AND status != 'completed'",
            )?
            .execute(params![run_id, self.owner])?;
        Ok(())
    }

    /// Closes a run. A run already `cancelled` (by another process) stays cancelled.
    pub fn finish_run(
        &self,
        run_id: &str,
        status: &str,
        result: Option<&Value>,
        error: Option<&str>,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE workflow_runs SET
                     status = CASE WHEN status = 'cancelled' THEN status ELSE ?2 END,
                     result = ?3, error = COALESCE(?4, error), finished_at = ?5
                 WHERE id = ?1",
            )?
            .execute(params![
                run_id,
                status,
                result.map(Value::to_string),
                error,
                now()
            ])?;
        Ok(())
    }

    pub fn set_run_tokens(&self, run_id: &str, tokens_spent: u64) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE workflow_runs SET tokens_spent = ?2 WHERE id = ?1")?
            .execute(params![run_id, tokens_spent as i64])?;
        Ok(())
    }

    /// See [`Store::cached_workflow_agent`].
    pub fn cached_agent(
        &self,
        project_id: &str,
        workflow: &str,
        run_id: &str,
        spec_hash: &str,
        occurrence: u64,
    ) -> Result<Option<WorkflowAgentRow>> {
        // Two lookups rather than one query ordered by "this run first": each walks an index
        // and stops at its first row, while that ordering made SQLite sort every completed
        // call with the key, and each re-run of a workflow adds one.
        let occurrence = occurrence as i64;
        let this_run = optional(self.conn.prepare_cached(&cached_in_run_sql())?.query_row(
            params![spec_hash, occurrence, project_id, workflow, run_id],
            agent_from_row,
        ))?;
        if this_run.is_some() {
            return Ok(this_run);
        }
        Ok(optional(
            self.conn.prepare_cached(&cached_earlier_sql())?.query_row(
                params![spec_hash, occurrence, project_id, workflow],
                agent_from_row,
            ),
        )?)
    }

    /// See [`Store::upsert_workflow_agent`].
    pub fn upsert_agent(
        &self,
        run_id: &str,
        spec_hash: &str,
        occurrence: u64,
        spec: &Value,
        label: Option<&str>,
        phase: Option<&str>,
    ) -> Result<WorkflowAgentRow> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "INSERT INTO workflow_agents (id, run_id, spec_hash, occurrence, spec, status,
                         label, phase, created_at, owner)
                     VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?7, ?8, ?9)
                     ON CONFLICT(run_id, spec_hash, occurrence) DO UPDATE SET
                         spec = excluded.spec, label = excluded.label, phase = excluded.phase,
                         owner = excluded.owner,
                         status = CASE WHEN status = 'completed' THEN status ELSE 'pending' END,
                         error = CASE WHEN status = 'completed' THEN error ELSE NULL END
                     RETURNING {AGENT_COLUMNS}"
            ))?
            .query_row(
                params![
                    new_ordered_id(),
                    run_id,
                    spec_hash,
                    occurrence as i64,
                    spec.to_string(),
                    label,
                    phase,
                    now(),
                    self.owner
                ],
                agent_from_row,
            )?)
    }

    pub fn start_agent(&self, agent_id: &str, chat_id: Option<&str>) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE workflow_agents SET status = 'running', chat_id = COALESCE(?2, chat_id),
                     started_at = ?3, finished_at = NULL, cached = 0, owner = ?4
                 WHERE id = ?1",
            )?
            .execute(params![agent_id, chat_id, now(), self.owner])?;
        Ok(())
    }

    pub fn set_agent_chat(&self, agent_id: &str, chat_id: &str) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE workflow_agents SET chat_id = ?2 WHERE id = ?1")?
            .execute(params![agent_id, chat_id])?;
        Ok(())
    }

    /// Closes a call with its outcome.
    #[allow(clippy::too_many_arguments)]
    pub fn finish_agent(
        &self,
        agent_id: &str,
        status: &str,
        result: Option<&Value>,
        error: Option<&str>,
        tokens: u64,
        cached: bool,
        chat_id: Option<&str>,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE workflow_agents SET status = ?2, result = ?3, error = ?4, tokens = ?5,
                     cached = ?6, chat_id = COALESCE(?7, chat_id),
                     started_at = COALESCE(started_at, ?8), finished_at = ?8
                 WHERE id = ?1",
            )?
            .execute(params![
                agent_id,
                status,
                result.map(Value::to_string),
                error,
                tokens as i64,
                i64::from(cached),
                chat_id,
                now()
            ])?;
        Ok(())
    }

    /// Appends to a run's event log; returns the entry's sequence number. Only inside a
    /// transaction (which the batch is) are the number and the insert atomic.
    pub fn append_event(&self, run_id: &str, kind: &str, payload: &Value) -> Result<i64> {
        let seq: i64 = self
            .conn
            .prepare_cached(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM workflow_events WHERE run_id = ?1",
            )?
            .query_row([run_id], |r| r.get(0))?;
        self.conn
            .prepare_cached(
                "INSERT INTO workflow_events (run_id, seq, kind, payload, at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![run_id, seq, kind, payload.to_string(), now()])?;
        Ok(seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::store::{IdTable, NewChat};
    use serde_json::json;

    fn demo_run(store: &Store, project_id: &str) -> WorkflowRun {
        store
            .create_workflow_run(&NewWorkflowRun {
                project_id,
                session_id: None,
                parent_chat_id: None,
                workflow: "demo",
                source: "project",
                origin: "/p/.boocode/workflows/demo.js",
                script: "export const meta = {name: 'demo'}",
                script_hash: "h",
                args: &Value::Null,
                budget_total: None,
                concurrency: 1,
            })
            .unwrap()
    }

    #[test]
    fn short_ids_tell_time_ordered_agents_apart_and_resolve() {
        let store = Store::open_in_memory().unwrap();
        let project = store.ensure_project("/p").unwrap();
        let run = demo_run(&store, &project.id);
        let agents: Vec<_> = (0..20)
            .map(|i| {
                store
                    .upsert_workflow_agent(&run.id, "k", i, &json!({"prompt": "p"}), None, None)
                    .unwrap()
            })
            .collect();
        // UUID v7: the first 8 hex digits are the timestamp, the same for all of them.
        assert!(agents.iter().all(|a| a.id[..8] == agents[0].id[..8]));
        let shorts: Vec<String> = agents
            .iter()
            .map(|a| store.short_id(IdTable::WorkflowAgents, &a.id).unwrap())
            .collect();
        let distinct: std::collections::HashSet<_> = shorts.iter().collect();
        assert_eq!(distinct.len(), agents.len(), "{shorts:?}");
        for (a, short) in agents.iter().zip(&shorts) {
            assert!(a.id.starts_with(short.as_str()) && short.len() < a.id.len());
            assert_eq!(store.get_workflow_agent(short).unwrap().id, a.id);
        }
        // A random (v4) id needs no more than the usual 8 characters.
        let short = store.short_id(IdTable::WorkflowRuns, &run.id).unwrap();
        assert_eq!(short, run.id[..8]);
        assert_eq!(store.get_workflow_run(&short).unwrap().id, run.id);
    }

    #[test]
    fn a_resumed_run_queues_its_unfinished_calls_again() {
        let store = Store::open_in_memory().unwrap();
        let project = store.ensure_project("/p").unwrap();
        let run = demo_run(&store, &project.id);
        store.start_workflow_run(&run.id, 1).unwrap();
        let spec = json!({"prompt": "x"});
        let mut ids = Vec::new();
        for (n, status) in ["completed", "cancelled", "failed", "cancelled"]
            .into_iter()
            .enumerate()
        {
            let a = store
                .upsert_workflow_agent(&run.id, "h", n as u64, &spec, None, None)
                .unwrap();
            store
                .finish_workflow_agent(&a.id, status, None, Some(status), 0, false, None)
                .unwrap();
            ids.push(a.id);
        }
        store.cancel_workflow_run(&run.id).unwrap();
        store.start_workflow_run(&run.id, 2).unwrap();
        let agents = store.list_workflow_agents(&run.id).unwrap();
        let states: Vec<(&str, Option<&str>)> = agents
            .iter()
            .map(|a| (a.status.as_str(), a.error.as_deref()))
            .collect();
        assert_eq!(
            states,
            vec![
                ("completed", Some("completed")),
                ("pending", None),
                ("pending", None),
                ("pending", None)
            ]
        );
    }

    #[test]
    fn the_cache_serves_this_run_first_then_the_newest_earlier_result() {
        let store = Store::open_in_memory().unwrap();
        let project = store.ensure_project("/p").unwrap();
        let complete = |run: &WorkflowRun, value: &str, finished_at: &str| {
            let a = store
                .upsert_workflow_agent(&run.id, "k", 0, &json!({"prompt": "p"}), None, None)
                .unwrap();
            store
                .finish_workflow_agent(
                    &a.id,
                    "completed",
                    Some(&json!(value)),
                    None,
                    1,
                    false,
                    None,
                )
                .unwrap();
            store
                .with(|c| {
                    c.execute(
                        "UPDATE workflow_agents SET finished_at = ?2 WHERE id = ?1",
                        params![a.id, finished_at],
                    )
                })
                .unwrap();
        };
        let (old, new, current) = (
            demo_run(&store, &project.id),
            demo_run(&store, &project.id),
            demo_run(&store, &project.id),
        );
        complete(&new, "new", "2025-01-02T00:00:00.000Z");
        complete(&old, "old", "2025-01-01T00:00:00.000Z");
        let lookup = || {
            store
                .cached_workflow_agent(&project.id, "demo", &current.id, "k", 0)
                .unwrap()
                .and_then(|a| a.result)
        };
        assert_eq!(lookup(), Some(json!("new")));
        // The run's own result wins even when an earlier run finished later.
        complete(&current, "own", "2024-12-31T00:00:00.000Z");
        assert_eq!(lookup(), Some(json!("own")));
        // Neither lookup sorts the key's calls (one more per re-run): both walk an index.
        for sql in [cached_in_run_sql(), cached_earlier_sql()] {
            let plan: Vec<String> = store
                .with(|c| {
                    let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
                    let nulls = std::iter::repeat_n(rusqlite::types::Null, stmt.parameter_count());
                    let rows = stmt
                        .query_map(rusqlite::params_from_iter(nulls), |r| r.get::<_, String>(3))?;
                    rows.collect()
                })
                .unwrap();
            assert!(!plan.iter().any(|p| p.contains("TEMP B-TREE")), "{plan:?}");
            assert!(plan.iter().all(|p| !p.starts_with("SCAN")), "{plan:?}");
        }
    }

    #[test]
    fn a_batch_commits_together_or_not_at_all() {
        let store = Store::open_in_memory().unwrap();
        let project = store.ensure_project("/p").unwrap();
        let session = store.create_session(&project.id, "s").unwrap();
        let chat = store
            .create_chat(&NewChat {
                session_id: &session.id,
                parent_chat_id: None,
                kind: "workflow",
                title: "t",
                model: "m",
                agent: "general-purpose",
            })
            .unwrap();
        let run = demo_run(&store, &project.id);
        let agent = store
            .upsert_workflow_agent(&run.id, "k", 0, &json!({"prompt": "p"}), None, None)
            .unwrap();
        let seq = store
            .workflow_batch(|w| {
                w.start_agent(&agent.id, None)?;
                w.set_agent_chat(&agent.id, &chat.id)?;
                w.append_event(&run.id, "agent_started", &json!({"agent_id": agent.id}))
            })
            .unwrap();
        assert_eq!(seq, 1);
        let started = store.get_workflow_agent(&agent.id).unwrap();
        assert_eq!(started.status, "running");
        assert_eq!(started.chat_id.as_deref(), Some(chat.id.as_str()));
        store
            .workflow_batch(|w| {
                w.finish_agent(
                    &agent.id,
                    "completed",
                    Some(&json!("v")),
                    None,
                    9,
                    false,
                    None,
                )?;
                w.set_run_tokens(&run.id, 9)?;
                w.append_event(&run.id, "agent_finished", &json!({"agent_id": agent.id}))?;
                Ok(())
            })
            .unwrap();
        let done = store.get_workflow_agent(&agent.id).unwrap();
        assert_eq!(done.status, "completed");
        assert_eq!(done.result, Some(json!("v")));
        assert_eq!(done.chat_id.as_deref(), Some(chat.id.as_str()));
        assert_eq!(store.get_workflow_run(&run.id).unwrap().tokens_spent, 9);

        // A failing write (an event of a run that does not exist) undoes the ones before it.
        let failed = store.workflow_batch(|w| {
            w.set_run_tokens(&run.id, 50)?;
            w.append_event(&run.id, "log", &json!({"message": "lost"}))?;
            w.append_event("no-such-run", "log", &json!({}))
        });
        assert!(failed.is_err());
        assert_eq!(store.get_workflow_run(&run.id).unwrap().tokens_spent, 9);
        let kinds: Vec<String> = store
            .list_workflow_events(&run.id)
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(kinds, ["agent_started", "agent_finished"]);
    }

    #[test]
    fn runs_agents_and_events_round_trip() {
        let store = Store::open_in_memory().unwrap();
        let project = store.ensure_project("/p").unwrap();
        let args = json!({"topic": "x"});
        let run = store
            .create_workflow_run(&NewWorkflowRun {
                project_id: &project.id,
                session_id: None,
                parent_chat_id: None,
                workflow: "demo",
                source: "project",
                origin: "/p/.boocode/workflows/demo.js",
                script: "export const meta = {name: 'demo'}",
                script_hash: "h",
                args: &args,
                budget_total: Some(100),
                concurrency: 4,
            })
            .unwrap();
        assert_eq!(run.status, "pending");
        assert_eq!(run.args, args);
        store.start_workflow_run(&run.id, 42).unwrap();
        let a = store
            .upsert_workflow_agent(&run.id, "k", 0, &json!({"prompt": "p"}), None, None)
            .unwrap();
        assert!(store
            .cached_workflow_agent(&project.id, "demo", &run.id, "k", 0)
            .unwrap()
            .is_none());
        store
            .finish_workflow_agent(&a.id, "completed", Some(&json!("v")), None, 7, false, None)
            .unwrap();
        let hit = store
            .cached_workflow_agent(&project.id, "demo", "other", "k", 0)
            .unwrap()
            .unwrap();
        assert_eq!(hit.result, Some(json!("v")));
        assert!(store
            .cached_workflow_agent(&project.id, "other", &run.id, "k", 0)
            .unwrap()
            .is_none());
        // Calling it again keeps a completed call completed.
        let again = store
            .upsert_workflow_agent(&run.id, "k", 0, &json!({"prompt": "p"}), None, None)
            .unwrap();
        assert_eq!(again.id, a.id);
        assert_eq!(again.status, "completed");
        assert_eq!(
            store
                .append_workflow_event(&run.id, "log", &json!({"m": 1}))
                .unwrap(),
            1
        );
        assert_eq!(
            store
                .append_workflow_event(&run.id, "log", &json!({"m": 2}))
                .unwrap(),
            2
        );
        assert_eq!(store.list_workflow_events(&run.id).unwrap().len(), 2);
        assert!(store.cancel_workflow_run(&run.id).unwrap());
        store
            .finish_workflow_run(&run.id, "completed", None, None)
            .unwrap();
        assert_eq!(store.workflow_run_status(&run.id).unwrap(), "cancelled");
        // A resume starts it again; a prefix finds it.
        store.start_workflow_run(&run.id, 1).unwrap();
        assert_eq!(
            store.get_workflow_run(&run.id[..8]).unwrap().status,
            "running"
        );
    }
}
