//! Versioned migrations. `PRAGMA user_version` holds the number of migrations applied; an older
//! file is upgraded in place by running the missing ones, each in its own transaction.
//!
//! Table and column names of `tool_traces`, `model_calls` and the other core tables are a
//! contract: other tools read them. Timestamps are RFC 3339 UTC text with milliseconds.

pub const MIGRATIONS: &[&str] = &[
    // 1: the core engine.
    r#"
CREATE TABLE projects (
    id              TEXT PRIMARY KEY,
    root            TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    last_opened_at  TEXT NOT NULL
);

CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    project_id  TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    title       TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX sessions_by_project ON sessions(project_id, updated_at);

CREATE TABLE chats (
    id              TEXT PRIMARY KEY,
    session_id      TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    parent_chat_id  TEXT REFERENCES chats(id) ON DELETE SET NULL,
    kind            TEXT NOT NULL DEFAULT 'main',
    title           TEXT NOT NULL DEFAULT '',
    model           TEXT NOT NULL,
    agent           TEXT NOT NULL DEFAULT 'general-purpose',
    status          TEXT NOT NULL DEFAULT 'idle',
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX chats_by_session ON chats(session_id, created_at);

CREATE TABLE messages (
    id           TEXT PRIMARY KEY,
    chat_id      TEXT NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    seq          INTEGER NOT NULL,
    role         TEXT NOT NULL,
    status       TEXT NOT NULL,
    turn_number  INTEGER NOT NULL,
    model        TEXT,
    error        TEXT,
    created_at   TEXT NOT NULL,
    finished_at  TEXT,
    UNIQUE(chat_id, seq)
);

CREATE TABLE attachments (
    id          TEXT PRIMARY KEY,
    chat_id     TEXT NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    message_id  TEXT REFERENCES messages(id) ON DELETE CASCADE,
    path        TEXT NOT NULL,
    file_name   TEXT NOT NULL,
    mime        TEXT NOT NULL,
    bytes       INTEGER NOT NULL,
    width       INTEGER,
    height      INTEGER,
    created_at  TEXT NOT NULL
);

CREATE TABLE message_parts (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id     TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    idx            INTEGER NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('text','reasoning','tool_call','tool_result','image')),
    content        TEXT NOT NULL DEFAULT '',
    tool_call_id   TEXT,
    tool_name      TEXT,
    attachment_id  TEXT REFERENCES attachments(id) ON DELETE SET NULL,
    UNIQUE(message_id, idx)
);

CREATE TABLE model_calls (
    id                 TEXT PRIMARY KEY,
    chat_id            TEXT NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    message_id         TEXT REFERENCES messages(id) ON DELETE SET NULL,
    turn_number        INTEGER NOT NULL DEFAULT 0,
    model              TEXT NOT NULL,
    started_at         TEXT NOT NULL,
    finished_at        TEXT,
    latency_ms         INTEGER,
    prompt_tokens      INTEGER NOT NULL DEFAULT 0,
    completion_tokens  INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens   INTEGER NOT NULL DEFAULT 0,
    cache_hit_tokens   INTEGER NOT NULL DEFAULT 0,
    cache_miss_tokens  INTEGER NOT NULL DEFAULT 0,
    finish_reason      TEXT,
    error              TEXT
);
CREATE INDEX model_calls_by_chat ON model_calls(chat_id, started_at);

CREATE TABLE tool_traces (
    id                TEXT PRIMARY KEY,
    session_id        TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    chat_id           TEXT NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    message_id        TEXT REFERENCES messages(id) ON DELETE SET NULL,
    turn_number       INTEGER NOT NULL,
    tool_call_id      TEXT,
    tool_name         TEXT NOT NULL,
    tool_input        TEXT NOT NULL,
    tool_output       TEXT,
    diff              TEXT,
    started_at        TEXT NOT NULL,
    finished_at       TEXT,
    latency_ms        INTEGER,
    tokens_used       INTEGER NOT NULL DEFAULT 0,
    cache_tokens      INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens  INTEGER NOT NULL DEFAULT 0,
    error             TEXT,
    outcome           TEXT
);
-- Keyset pagination of a chat's traces orders by (started_at, id).
CREATE INDEX tool_traces_by_chat ON tool_traces(chat_id, started_at, id);

CREATE TABLE agent_snapshots (
    chat_id             TEXT PRIMARY KEY REFERENCES chats(id) ON DELETE CASCADE,
    model               TEXT NOT NULL,
    agent               TEXT NOT NULL,
    mode                TEXT NOT NULL,
    state               TEXT NOT NULL,
    turn_number         INTEGER NOT NULL,
    step                INTEGER NOT NULL DEFAULT 0,
    history             TEXT NOT NULL,
    pending_tool_calls  TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);

CREATE TABLE tasks (
    id              TEXT PRIMARY KEY,
    session_id      TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    parent_chat_id  TEXT REFERENCES chats(id) ON DELETE SET NULL,
    chat_id         TEXT REFERENCES chats(id) ON DELETE SET NULL,
    label           TEXT,
    input           TEXT NOT NULL,
    model           TEXT NOT NULL,
    agent           TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending','running','completed','failed','cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    output          TEXT,
    error           TEXT,
    created_at      TEXT NOT NULL,
    started_at      TEXT,
    finished_at     TEXT
);
CREATE INDEX tasks_by_status ON tasks(status, created_at);

CREATE TABLE pending_changes (
    id            TEXT PRIMARY KEY,
    chat_id       TEXT NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    path          TEXT NOT NULL,
    display_path  TEXT NOT NULL,
    before        TEXT,
    after         TEXT,
    diff          TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('pending','applied','rejected')),
    created_at    TEXT NOT NULL,
    resolved_at   TEXT
);
"#,
    // 2: the workspace.
    r#"
CREATE TABLE workspace_layouts (
    project_id  TEXT PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,
    layout      TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX messages_user_prompts ON messages(role, created_at);
"#,
    // 3: workflow runs, their agent calls (the resumability cache) and their event log.
    r#"
CREATE TABLE workflow_runs (
    id              TEXT PRIMARY KEY,
    project_id      TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    session_id      TEXT REFERENCES sessions(id) ON DELETE SET NULL,
    parent_chat_id  TEXT REFERENCES chats(id) ON DELETE SET NULL,
    workflow        TEXT NOT NULL,
    source          TEXT NOT NULL CHECK (source IN ('built-in','project','user')),
    origin          TEXT NOT NULL,
    script          TEXT NOT NULL,
    script_hash     TEXT NOT NULL,
    args            TEXT NOT NULL DEFAULT 'null',
    status          TEXT NOT NULL CHECK (status IN ('pending','running','completed','failed','cancelled','interrupted')),
    result          TEXT,
    error           TEXT,
    budget_total    INTEGER,
    tokens_spent    INTEGER NOT NULL DEFAULT 0,
    concurrency     INTEGER NOT NULL,
    owner_pid       INTEGER,
    created_at      TEXT NOT NULL,
    started_at      TEXT,
    finished_at     TEXT
);
CREATE INDEX workflow_runs_by_project ON workflow_runs(project_id, created_at);

CREATE TABLE workflow_agents (
    id           TEXT PRIMARY KEY,
    run_id       TEXT NOT NULL REFERENCES workflow_runs(id) ON DELETE CASCADE,
    spec_hash    TEXT NOT NULL,
    occurrence   INTEGER NOT NULL,
    spec         TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending','running','completed','failed','cancelled','interrupted')),
    chat_id      TEXT REFERENCES chats(id) ON DELETE SET NULL,
    label        TEXT,
    phase        TEXT,
    tokens       INTEGER NOT NULL DEFAULT 0,
    result       TEXT,
    error        TEXT,
    cached       INTEGER NOT NULL DEFAULT 0,
    created_at   TEXT NOT NULL,
    started_at   TEXT,
    finished_at  TEXT,
    UNIQUE(run_id, spec_hash, occurrence)
);
CREATE INDEX workflow_agents_by_key ON workflow_agents(spec_hash, occurrence, status);

CREATE TABLE workflow_events (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id   TEXT NOT NULL REFERENCES workflow_runs(id) ON DELETE CASCADE,
    seq      INTEGER NOT NULL,
    kind     TEXT NOT NULL,
    payload  TEXT NOT NULL,
    at       TEXT NOT NULL,
    UNIQUE(run_id, seq)
);
"#,
    // 4: the cache lookup walks a key's completed calls newest first and stops at the first
    // one of its workflow, instead of sorting all of them.
    r#"
DROP INDEX workflow_agents_by_key;
CREATE INDEX workflow_agents_by_key ON workflow_agents(spec_hash, occurrence, status, finished_at);
"#,
    // 5: the process that owns a live row (see store/owners.rs): readers show a row whose
    // owner has ended as interrupted, and any process may repair it.
    r#"
ALTER TABLE chats ADD COLUMN owner TEXT;
ALTER TABLE messages ADD COLUMN owner TEXT;
ALTER TABLE model_calls ADD COLUMN owner TEXT;
ALTER TABLE tool_traces ADD COLUMN owner TEXT;
ALTER TABLE tasks ADD COLUMN owner TEXT;
ALTER TABLE workflow_runs ADD COLUMN owner TEXT;
ALTER TABLE workflow_agents ADD COLUMN owner TEXT;
"#,
    // 6: what a person decided about things a repository asks boocode to run (its MCP servers,
    // its hooks), per project root. The fingerprint is of the definition that was decided, so
    // a changed definition is asked about again.
    r#"
CREATE TABLE project_approvals (
    project_root  TEXT NOT NULL,
    kind          TEXT NOT NULL,
    name          TEXT NOT NULL,
    fingerprint   TEXT NOT NULL,
    decision      TEXT NOT NULL CHECK (decision IN ('approved','denied')),
    decided_at    TEXT NOT NULL,
    PRIMARY KEY (project_root, kind, name)
);
"#,
    // 7: context compactions. Each is a `compaction` message in the transcript (its notice
    // and the summary the model wrote) plus this row: what it saved, and which messages it
    // covers (seq below `covers_before_seq`, except the user message of the turn the cut fell
    // in, whose text is still sent). Covered messages stay; they are no longer sent.
    COMPACTIONS_MIGRATION,
    // 8: agent worktrees (core/worktree) and what pending changes captured from them carry:
    // the source agent, the worktree, renames, binary files and the hashes applying checks.
    r#"
CREATE TABLE worktrees (
    id            TEXT PRIMARY KEY,
    project_id    TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    chat_id       TEXT REFERENCES chats(id) ON DELETE SET NULL,
    task_id       TEXT REFERENCES tasks(id) ON DELETE SET NULL,
    agent         TEXT NOT NULL,
    branch        TEXT NOT NULL,
    path          TEXT NOT NULL,
    repo_root     TEXT NOT NULL,
    project_dir   TEXT NOT NULL,
    project_root  TEXT NOT NULL,
    base_commit   TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('active','released','removed')),
    owner         TEXT,
    created_at    TEXT NOT NULL,
    released_at   TEXT,
    removed_at    TEXT
);
CREATE INDEX worktrees_by_chat ON worktrees(chat_id, status);
CREATE INDEX worktrees_by_status ON worktrees(status, created_at);
ALTER TABLE pending_changes ADD COLUMN source_agent TEXT;
ALTER TABLE pending_changes ADD COLUMN worktree_id TEXT REFERENCES worktrees(id) ON DELETE SET NULL;
ALTER TABLE pending_changes ADD COLUMN kind TEXT;
ALTER TABLE pending_changes ADD COLUMN old_path TEXT;
ALTER TABLE pending_changes ADD COLUMN old_display_path TEXT;
ALTER TABLE pending_changes ADD COLUMN binary INTEGER NOT NULL DEFAULT 0;
ALTER TABLE pending_changes ADD COLUMN base_hash TEXT;
ALTER TABLE pending_changes ADD COLUMN after_hash TEXT;
ALTER TABLE pending_changes ADD COLUMN after_source TEXT;
CREATE INDEX pending_changes_by_status ON pending_changes(status, worktree_id);
"#,
    // 9: external agents. A chat bound to one (and the agent's own session id, to continue it
    // after a restart, its mode and model); a task's execution path and tokens.
    r#"
CREATE TABLE chat_agents (
    chat_id           TEXT PRIMARY KEY REFERENCES chats(id) ON DELETE CASCADE,
    agent             TEXT NOT NULL,
    agent_session_id  TEXT,
    mode              TEXT,
    model             TEXT,
    updated_at        TEXT NOT NULL
);
ALTER TABLE tasks ADD COLUMN execution_path TEXT;
ALTER TABLE tasks ADD COLUMN tokens INTEGER;
"#,
    PASEO_AGENTS_MIGRATION,
    PASEO_SESSIONS_MIGRATION,
];

/// Migration 10 on its own, so it can be renumbered without touching the ones around it: the
/// Paseo agent a chat continues after a restart. `daemon` is a digest of the configured host
/// (which may carry a password), so a changed host or provider is seen without storing it.
const PASEO_AGENTS_MIGRATION: &str = r#"
CREATE TABLE paseo_agents (
    chat_id           TEXT PRIMARY KEY REFERENCES chats(id) ON DELETE CASCADE,
    agent             TEXT NOT NULL,
    paseo_id          TEXT NOT NULL,
    provider          TEXT NOT NULL,
    daemon            TEXT NOT NULL,
    provider_session  TEXT NOT NULL,
    status            TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','archived')),
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
"#;

/// Migration 11 on its own, so it can be renumbered without touching the ones around it:
/// `provider_session` is the provider session a chat's Paseo agent was imported from (`session`
/// in `[agents.NAME]`), NULL for an agent `paseo run` started; an active one belongs to one chat
/// at a time on a daemon. SQLite cannot drop a NOT NULL, so the table is rebuilt; rows from
/// before keep the id they were imported with.
const PASEO_SESSIONS_MIGRATION: &str = r#"
CREATE TABLE paseo_agents_v11 (
    chat_id           TEXT PRIMARY KEY REFERENCES chats(id) ON DELETE CASCADE,
    agent             TEXT NOT NULL,
    paseo_id          TEXT NOT NULL,
    provider          TEXT NOT NULL,
    daemon            TEXT NOT NULL,
    provider_session  TEXT,
    status            TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','archived')),
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
INSERT INTO paseo_agents_v11
    SELECT chat_id, agent, paseo_id, provider, daemon, provider_session, status, created_at,
           updated_at
    FROM paseo_agents;
DROP TABLE paseo_agents;
ALTER TABLE paseo_agents_v11 RENAME TO paseo_agents;
CREATE UNIQUE INDEX paseo_agents_one_chat_per_session
    ON paseo_agents(daemon, provider, provider_session)
    WHERE status = 'active' AND provider_session IS NOT NULL;
"#;

/// Migration 7 on its own, so it can be renumbered without touching the ones around it.
const COMPACTIONS_MIGRATION: &str = r#"
CREATE TABLE compactions (
    message_id         TEXT PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
    chat_id            TEXT NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    trigger            TEXT NOT NULL CHECK (trigger IN ('auto','overflow','manual')),
    focus              TEXT,
    tokens_before      INTEGER NOT NULL,
    tokens_after       INTEGER NOT NULL,
    clipped            INTEGER NOT NULL DEFAULT 0,
    covers_before_seq  INTEGER,
    kept_user_seq      INTEGER
);
CREATE INDEX compactions_by_chat ON compactions(chat_id, covers_before_seq);
"#;
