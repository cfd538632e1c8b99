//! The SQLite store: the only place in boocode with SQL.
//!
//! One database file, WAL mode, foreign keys on, versioned migrations. One connection behind a
//! mutex is the single writer; every statement is short, so holding it from async code is fine.

mod chats;
mod models;
mod schema;
mod tasks;
mod traces;
mod workflows;
mod workspace;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::{anyhow, Context, Result};
use rusqlite::{Connection, OptionalExtension};

/// Prepared statements kept per connection. Every store call goes through `prepare_cached`;
/// rusqlite keeps 16 by default, fewer than one agent turn plus its workflow bookkeeping use,
/// so the least recently used one was always evicted and every statement was parsed again.
/// This holds all of the store's statements (about 70).
const STATEMENT_CACHE_CAPACITY: usize = 128;

pub use chats::{MessageRef, ToolResult};
pub use models::*;
pub use tasks::NewTask;
pub use traces::{ReplyEnd, TraceCompletion};
pub use workflows::{
    NewWorkflowRun, WorkflowAgentRow, WorkflowBatch, WorkflowEventRow, WorkflowRun,
};

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

/// What [`Store::recover_after_crash`] repaired.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RecoveryReport {
    pub traces_interrupted: usize,
    pub messages_interrupted: usize,
    pub model_calls_interrupted: usize,
    pub tasks_requeued: usize,
    pub chats_interrupted: usize,
    pub workflow_runs_interrupted: usize,
}

impl RecoveryReport {
    pub fn is_empty(&self) -> bool {
        *self == RecoveryReport::default()
    }
}

/// Current time as stored: RFC 3339 UTC with milliseconds (sorts as text).
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A random id; users type unique prefixes of these on the command line.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A time-ordered id (UUID v7) for rows listed in creation order, such as traces started in
/// the same millisecond by parallel tool calls.
pub fn new_ordered_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

impl Store {
    /// Opens (creating if needed) the database at `path`, applying missing migrations.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating data directory {}", dir.display()))?;
        }
        let existed = path.exists();
        if !existed {
            create_private_file(path)?;
        }
        let conn = Connection::open(path)
            .with_context(|| format!("opening database {}", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
        let store = Store {
            conn: Arc::new(Mutex::new(conn)),
            path: path.to_path_buf(),
        };
        store.migrate()?;
        Ok(store)
    }

    /// An in-memory database, for tests and benchmarks.
    pub fn open_in_memory() -> Result<Store> {
        let conn = Connection::open_in_memory()?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
        let store = Store {
            conn: Arc::new(Mutex::new(conn)),
            path: PathBuf::from(":memory:"),
        };
        store.migrate()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn schema_version(&self) -> Result<i64> {
        self.with(|c| c.query_row("PRAGMA user_version", [], |r| r.get(0)))
    }

    fn migrate(&self) -> Result<()> {
        let mut conn = self.lock()?;
        let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let target = schema::MIGRATIONS.len() as i64;
        if current > target {
            return Err(anyhow!(
                "database {} has schema version {current}, newer than this boocode understands ({target}); upgrade boocode",
                self.path.display()
            ));
        }
        for (index, sql) in schema::MIGRATIONS.iter().enumerate().skip(current as usize) {
            let tx = conn.transaction()?;
            tx.execute_batch(sql)
                .with_context(|| format!("applying migration {}", index + 1))?;
            tx.pragma_update(None, "user_version", (index + 1) as i64)?;
            tx.commit()?;
        }
        Ok(())
    }

    fn lock(&self) -> Result<MutexGuard<'_, Connection>> {
        self.conn
            .lock()
            .map_err(|_| anyhow!("database connection poisoned by an earlier panic"))
    }

    /// Runs `f` on the connection.
    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        let conn = self.lock()?;
        Ok(f(&conn)?)
    }

    /// Runs `f` in one transaction: writes that belong together commit together or not at all.
    fn tx<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }

    /// Repairs what a crash left behind: unfinished traces become `interrupted`, streaming
    /// messages `interrupted`, running tasks go back to the queue.
    pub fn recover_after_crash(&self) -> Result<RecoveryReport> {
        let at = now();
        self.tx(|tx| {
            let traces_interrupted = tx.prepare_cached("UPDATE tool_traces SET outcome = 'interrupted', finished_at = ?1,
                     error = COALESCE(error, 'interrupted: boocode stopped before the call finished')
                 WHERE finished_at IS NULL")?.execute([&at])?;
            let messages_interrupted = tx.prepare_cached("UPDATE messages SET status = 'interrupted', finished_at = ?1
                 WHERE status = 'streaming'")?.execute([&at])?;
            let model_calls_interrupted = tx.prepare_cached("UPDATE model_calls SET finished_at = ?1, error = 'interrupted'
                 WHERE finished_at IS NULL")?.execute([&at])?;
            let tasks_requeued = tx.prepare_cached("UPDATE tasks SET status = 'pending', started_at = NULL WHERE status = 'running'")?.execute([])?;
            let chats_interrupted = tx.prepare_cached("UPDATE chats SET status = 'interrupted', updated_at = ?1 WHERE status = 'running'")?.execute([&at])?;
            let workflow_runs_interrupted = tx.prepare_cached("UPDATE workflow_runs SET status = 'interrupted',
                     error = COALESCE(error, 'interrupted: boocode stopped while the run was going')
                 WHERE status IN ('running','pending')")?.execute([])?;
            tx.prepare_cached("UPDATE workflow_agents SET status = 'interrupted', finished_at = ?1
                 WHERE status IN ('running','pending')")?.execute([&at])?;
            Ok(RecoveryReport {
                traces_interrupted,
                messages_interrupted,
                model_calls_interrupted,
                tasks_requeued,
                chats_interrupted,
                workflow_runs_interrupted,
            })
        })
    }

    /// Resolves an id given in full or as a unique prefix (what users type on the command line).
    fn resolve_prefix(&self, table: &str, id: &str) -> Result<String> {
        // `table` is one of our own constants, never user input.
        // A full id, which is what the engine itself passes, is found through the primary key.
        // The prefix match below cannot use an index (LIKE is case-insensitive), so it scans
        // the whole table: milliseconds per lookup once there are thousands of chats.
        let exact: Option<String> = self.with(|c| {
            optional(
                c.prepare_cached(&format!("SELECT id FROM {table} WHERE id = ?1"))?
                    .query_row([id], |r| r.get(0)),
            )
        })?;
        if let Some(id) = exact {
            return Ok(id);
        }
        let sql = format!("SELECT id FROM {table} WHERE id LIKE ?1 || '%' ESCAPE '\\' LIMIT 2");
        let escaped = id
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let ids: Vec<String> = self.with(|c| {
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt.query_map([&escaped], |r| r.get(0))?;
            rows.collect()
        })?;
        match ids.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(anyhow!("no {} with id '{id}'", singular(table))),
            _ => Err(anyhow!(
                "'{id}' matches more than one {}; give more characters",
                singular(table)
            )),
        }
    }
}

/// Tables whose ids people see and type (as prefixes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdTable {
    Sessions,
    Chats,
    Tasks,
    PendingChanges,
    WorkflowRuns,
    WorkflowAgents,
}

impl IdTable {
    fn name(self) -> &'static str {
        match self {
            IdTable::Sessions => "sessions",
            IdTable::Chats => "chats",
            IdTable::Tasks => "tasks",
            IdTable::PendingChanges => "pending_changes",
            IdTable::WorkflowRuns => "workflow_runs",
            IdTable::WorkflowAgents => "workflow_agents",
        }
    }
}

/// Shown ids are at least this long, like the prefixes people are used to.
const SHORT_ID_MIN: usize = 8;

impl Store {
    /// The shortest prefix of `id` (at least 8 characters) that no other row of `table`
    /// shares, so the prefix shown is one the commands accept. A UUID v7's first 8 hex digits
    /// are its timestamp, shared by every row made in the same minute: those get longer ones.
    /// Ids sort as text, so the rows sharing the longest prefix are the neighbours in the
    /// primary-key index: two index lookups.
    pub fn short_id(&self, table: IdTable, id: &str) -> Result<String> {
        let table = table.name();
        let neighbours: (Option<String>, Option<String>) = self.with(|c| {
            let before = c
                .prepare_cached(&format!("SELECT MAX(id) FROM {table} WHERE id < ?1"))?
                .query_row([id], |r| r.get(0))?;
            let after = c
                .prepare_cached(&format!("SELECT MIN(id) FROM {table} WHERE id > ?1"))?
                .query_row([id], |r| r.get(0))?;
            Ok((before, after))
        })?;
        let shared = |other: Option<String>| {
            other.map_or(0, |o| {
                id.chars()
                    .zip(o.chars())
                    .take_while(|(a, b)| a.eq_ignore_ascii_case(b))
                    .count()
            })
        };
        let len = (shared(neighbours.0).max(shared(neighbours.1)) + 1).max(SHORT_ID_MIN);
        Ok(id.chars().take(len).collect())
    }
}

fn singular(table: &str) -> &str {
    table.strip_suffix('s').unwrap_or(table)
}

/// Creates the database file readable by its owner only: it holds everything the user typed.
fn create_private_file(path: &Path) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .with_context(|| format!("creating database {}", path.display()))?;
    Ok(())
}

/// `Option` helper for single-row lookups.
pub(crate) fn optional<T>(r: rusqlite::Result<T>) -> rusqlite::Result<Option<T>> {
    r.optional()
}

#[cfg(test)]
mod tests;
