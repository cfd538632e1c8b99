//! The SQLite store: the only place in boocode with SQL.
//!
//! One database file, WAL mode, foreign keys on, versioned migrations. One connection behind a
//! mutex is the single writer; every statement is short, so holding it from async code is fine.
//!
//! Several processes share the file (the workspace, `exec`, `workflow run`). Every transaction
//! starts as a writer (`BEGIN IMMEDIATE`): a deferred one that reads and then writes fails at
//! once with SQLITE_BUSY_SNAPSHOT when another process wrote in between, which no busy timeout
//! retries. An autocommit write holds no earlier snapshot, so its busy wait retries it. Live
//! rows name the process that owns them (`owners`), so a reader shows an ended process's work
//! as interrupted and any process may repair it.

mod agents;
mod changes;
mod chats;
mod compactions;
mod models;
mod owners;
mod paseo;
mod schema;
mod tasks;
mod traces;
mod trust;
mod workflows;
mod workspace;
mod worktrees;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior};

use crate::core::private_fs::{ensure_private_dir, ensure_private_file, private_open_options};
use owners::Owners;

/// Prepared statements kept per connection. Every store call goes through `prepare_cached`;
/// rusqlite keeps 16 by default, fewer than one agent turn plus its workflow bookkeeping use,
/// so the least recently used one was always evicted and every statement was parsed again.
/// This holds all of the store's statements (about 70).
const STATEMENT_CACHE_CAPACITY: usize = 128;

/// How long a statement waits for another process's write. boocode's writes take milliseconds;
/// a lock held longer than this is not a transient one.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

pub use agents::{ChatAgent, ExternalTask};
pub use changes::{CapturedRow, ChangeSource};
pub use chats::{MessageRef, ToolResult};
pub use compactions::{CompactionRow, MessageAnchor, NewCompaction};
pub use models::*;
pub use paseo::PaseoAgent;
pub use tasks::NewTask;
pub use traces::{ModelCallEnd, ReplyEnd, TraceCompletion};
pub use trust::ApprovalRow;
pub use workflows::{
    NewWorkflowRun, WorkflowAgentRow, WorkflowBatch, WorkflowEventRow, WorkflowRun,
};

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
    owners: Arc<Owners>,
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
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            ensure_private_dir(dir)?;
        }
        create_private_file(path)?;
        // SQLite creates the WAL and shared-memory files with the database's mode, so the
        // database is narrowed before the first write; files an older boocode left wider are
        // narrowed too.
        for suffix in ["-wal", "-shm"] {
            let mut sidecar = path.as_os_str().to_owned();
            sidecar.push(suffix);
            ensure_private_file(Path::new(&sidecar))?;
        }
        let conn = Connection::open(path)
            .with_context(|| format!("opening database {}", path.display()))?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        use_wal(&conn).with_context(|| format!("opening database {}", path.display()))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Store::configure(conn, path.to_path_buf(), Owners::beside(path))
    }

    /// An in-memory database, for tests and benchmarks.
    pub fn open_in_memory() -> Result<Store> {
        let conn = Connection::open_in_memory()?;
        Store::configure(conn, PathBuf::from(":memory:"), Owners::in_memory())
    }

    fn configure(mut conn: Connection, path: PathBuf, owners: Owners) -> Result<Store> {
        conn.set_transaction_behavior(TransactionBehavior::Immediate);
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
        let owners = Arc::new(owners);
        let lookup = owners.clone();
        // `owner_gone(owner)`: whether the process that wrote a live row has ended. Queries
        // use it to show such rows as interrupted; recovery uses it to repair them.
        conn.create_scalar_function(
            "owner_gone",
            1,
            FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DIRECTONLY,
            move |ctx| {
                let owner: Option<String> = ctx.get(0)?;
                Ok(owner.is_some_and(|o| lookup.is_gone(&o)))
            },
        )?;
        let store = Store {
            conn: Arc::new(Mutex::new(conn)),
            path,
            owners,
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
        let target = schema::MIGRATIONS.len() as i64;
        let version = |c: &Connection| -> Result<i64> {
            let current: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            if current > target {
                return Err(anyhow!(
                    "database {} has schema version {current}, newer than this boocode understands ({target}); upgrade boocode",
                    self.path.display()
                ));
            }
            Ok(current)
        };
        if version(&conn)? == target {
            return Ok(());
        }
        // Processes started together on a fresh data home all get here: the version is read
        // again under the write lock, so the first one applies the migrations and the others
        // find them applied.
        let tx = conn.transaction()?;
        let current = version(&tx)?;
        for (index, sql) in schema::MIGRATIONS.iter().enumerate().skip(current as usize) {
            tx.execute_batch(sql)
                .with_context(|| format!("applying migration {}", index + 1))?;
        }
        tx.pragma_update(None, "user_version", target)?;
        tx.commit()?;
        Ok(())
    }

    /// The id this process stamps on the live rows it writes (see `owners`).
    fn owner(&self) -> Result<String> {
        self.owners.this_process()
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

    /// Repairs what ended processes left behind: unfinished traces become `interrupted`,
    /// streaming messages `interrupted`, running tasks go back to the queue, running chats,
    /// workflow runs and calls become `interrupted`. Only rows whose owner is gone are touched,
    /// so any process may run this while others work; rows written before owners were
    /// recorded are repaired only by a process that runs `alone`.
    pub fn recover_after_crash(&self, alone: bool) -> Result<RecoveryReport> {
        let at = now();
        let repair = |tx: &rusqlite::Transaction<'_>, sql: &str| -> rusqlite::Result<usize> {
            let sql = format!("{sql} AND (owner_gone(owner) OR (owner IS NULL AND ?2))");
            tx.prepare_cached(&sql)?
                .execute(rusqlite::params![at, alone])
        };
        let report = self.tx(|tx| {
            let traces_interrupted = repair(tx, "UPDATE tool_traces SET outcome = 'interrupted', finished_at = ?1,
                     error = COALESCE(error, 'interrupted: boocode stopped before the call finished')
                 WHERE finished_at IS NULL")?;
            let messages_interrupted = repair(tx, "UPDATE messages SET status = 'interrupted', finished_at = ?1
                 WHERE status = 'streaming'")?;
            let model_calls_interrupted = repair(tx, "UPDATE model_calls SET finished_at = ?1, error = 'interrupted'
                 WHERE finished_at IS NULL")?;
            let tasks_requeued = repair(tx, "UPDATE tasks SET status = 'pending', started_at = NULL
                 WHERE status = 'running'")?;
            let chats_interrupted = repair(tx, "UPDATE chats SET status = 'interrupted', updated_at = ?1 WHERE status = 'running'")?;
            let workflow_runs_interrupted = repair(tx, "UPDATE workflow_runs SET status = 'interrupted',
                     error = COALESCE(error, 'interrupted: boocode stopped while the run was going')
                 WHERE status IN ('running','pending')")?;
            repair(tx, "UPDATE workflow_agents SET status = 'interrupted', finished_at = ?1
                 WHERE status IN ('running','pending')")?;
            Ok(RecoveryReport {
                traces_interrupted,
                messages_interrupted,
                model_calls_interrupted,
                tasks_requeued,
                chats_interrupted,
                workflow_runs_interrupted,
            })
        })?;
        self.owners.sweep();
        Ok(report)
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

/// Creates the database file readable by its owner only (it holds everything the user
/// typed), or narrows an existing one.
fn create_private_file(path: &Path) -> Result<()> {
    match private_open_options()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(_) => Ok(()),
        // Another process starting at the same moment created it first.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => ensure_private_file(path),
        Err(e) => Err(e).with_context(|| format!("creating database {}", path.display())),
    }
}

/// Switches the file to WAL. On a fresh file the switch needs the write lock; a process that
/// loses the race for it can get SQLITE_BUSY without its busy handler being consulted, so the
/// switch is retried for as long as a busy statement would wait.
fn use_wal(conn: &Connection) -> Result<()> {
    let started = Instant::now();
    loop {
        match conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0)) {
            Ok(mode) if mode.eq_ignore_ascii_case("wal") => return Ok(()),
            Ok(mode) => {
                return Err(anyhow!(
                    "the database stays in journal mode {mode}, not WAL"
                ))
            }
            Err(e)
                if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy)
                    && started.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// `Option` helper for single-row lookups.
pub(crate) fn optional<T>(r: rusqlite::Result<T>) -> rusqlite::Result<Option<T>> {
    r.optional()
}

#[cfg(test)]
mod tests;
