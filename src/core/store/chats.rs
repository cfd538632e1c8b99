//! Projects, sessions, chats, messages and their parts.

use anyhow::{anyhow, Result};
use rusqlite::{params, Row, Transaction};

use super::models::*;
use super::{new_id, now, optional, Store};

/// The chat columns in row order, with `status` given as the stored column (to write) or as
/// what readers see (to select).
macro_rules! chat_columns {
    ($status:literal) => {
        concat!(
            "id, session_id, parent_chat_id, kind, title, model, agent, ",
            $status,
            ", created_at, updated_at"
        )
    };
}

const CHAT_COLUMNS: &str = chat_columns!("status");

/// A chat whose turn runs in a process that has ended reads as `interrupted`.
const CHAT_SELECT: &str = chat_columns!(
    "CASE WHEN status = 'running' AND owner_gone(owner) THEN 'interrupted' ELSE status END"
);

fn chat_from_row(r: &Row<'_>) -> rusqlite::Result<Chat> {
    Ok(Chat {
        id: r.get(0)?,
        session_id: r.get(1)?,
        parent_chat_id: r.get(2)?,
        kind: r.get(3)?,
        title: r.get(4)?,
        model: r.get(5)?,
        agent: r.get(6)?,
        status: r.get(7)?,
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
    })
}

fn session_from_row(r: &Row<'_>) -> rusqlite::Result<Session> {
    Ok(Session {
        id: r.get(0)?,
        project_id: r.get(1)?,
        title: r.get(2)?,
        created_at: r.get(3)?,
        updated_at: r.get(4)?,
    })
}

/// One answered tool call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolResult<'a> {
    pub tool_call_id: &'a str,
    pub tool_name: &'a str,
    pub content: &'a str,
}

/// A message id plus the turn it belongs to, as returned by inserts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRef {
    pub id: String,
    pub seq: i64,
}

impl Store {
    /// The project rooted at `root` (canonical path), created on first use.
    pub fn ensure_project(&self, root: &str) -> Result<Project> {
        let name = std::path::Path::new(root)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| root.to_string());
        let at = now();
        self.tx(|tx| {
            tx.prepare_cached(
                "INSERT INTO projects (id, root, name, created_at, last_opened_at)
                 VALUES (?1, ?2, ?3, ?4, ?4)
                 ON CONFLICT(root) DO UPDATE SET last_opened_at = excluded.last_opened_at",
            )?
            .execute(params![new_id(), root, name, at])?;
            tx.prepare_cached("SELECT id, root, name FROM projects WHERE root = ?1")?
                .query_row([root], |r| {
                    Ok(Project {
                        id: r.get(0)?,
                        root: r.get(1)?,
                        name: r.get(2)?,
                    })
                })
        })
    }

    pub fn project_of_session(&self, session_id: &str) -> Result<Project> {
        self.with(|c| {
            c.prepare_cached(
                "SELECT p.id, p.root, p.name FROM projects p
                 JOIN sessions s ON s.project_id = p.id WHERE s.id = ?1",
            )?
            .query_row([session_id], |r| {
                Ok(Project {
                    id: r.get(0)?,
                    root: r.get(1)?,
                    name: r.get(2)?,
                })
            })
        })
    }

    pub fn create_session(&self, project_id: &str, title: &str) -> Result<Session> {
        let session = Session {
            id: new_id(),
            project_id: project_id.to_string(),
            title: title.to_string(),
            created_at: now(),
            updated_at: now(),
        };
        self.with(|c| {
            c.prepare_cached(
                "INSERT INTO sessions (id, project_id, title, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                session.id,
                session.project_id,
                session.title,
                session.created_at,
                session.updated_at
            ])
        })?;
        Ok(session)
    }

    /// A session by full id or unique prefix.
    pub fn get_session(&self, id: &str) -> Result<Session> {
        let id = self.resolve_prefix("sessions", id)?;
        self.with(|c| {
            c.prepare_cached(
                "SELECT id, project_id, title, created_at, updated_at FROM sessions WHERE id = ?1",
            )?
            .query_row([&id], session_from_row)
        })
    }

    /// The most recently active session of a project.
    pub fn latest_session(&self, project_id: &str) -> Result<Option<Session>> {
        self.with(|c| {
            optional(
                c.prepare_cached(
                    "SELECT id, project_id, title, created_at, updated_at FROM sessions
                 WHERE project_id = ?1 ORDER BY updated_at DESC, rowid DESC LIMIT 1",
                )?
                .query_row([project_id], session_from_row),
            )
        })
    }

    /// Marks a chat and its session active; an untitled one takes `title_if_empty`.
    pub fn touch_chat_and_session(&self, chat_id: &str, title_if_empty: &str) -> Result<()> {
        let at = now();
        self.tx(|tx| {
            for table in ["chats", "sessions"] {
                let id_sql = if table == "chats" {
                    "?1"
                } else {
                    "(SELECT session_id FROM chats WHERE id = ?1)"
                };
                tx.prepare_cached(&format!(
                    "UPDATE {table} SET updated_at = ?2,
                             title = CASE WHEN title = '' THEN ?3 ELSE title END
                         WHERE id = {id_sql}"
                ))?
                .execute(params![chat_id, at, title_if_empty])?;
            }
            Ok(())
        })
    }

    /// Sessions (newest first), optionally of one project, each with its chats.
    pub fn list_sessions(&self, project_id: Option<&str>) -> Result<Vec<SessionSummary>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT s.id, s.project_id, s.title, s.created_at, s.updated_at, p.root
                 FROM sessions s JOIN projects p ON p.id = s.project_id
                 WHERE ?1 IS NULL OR s.project_id = ?1
                 ORDER BY s.updated_at DESC, s.rowid DESC",
            )?;
            let sessions = stmt
                .query_map([project_id], |r| Ok((session_from_row(r)?, r.get::<_, String>(5)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut chat_stmt = c.prepare(&format!(
                "SELECT {CHAT_SELECT},
                     (SELECT COUNT(*) FROM messages m WHERE m.chat_id = chats.id),
                     (SELECT COALESCE(MAX(turn_number), 0) FROM messages m WHERE m.chat_id = chats.id)
                 FROM chats WHERE session_id = ?1 ORDER BY created_at, rowid"
            ))?;
            let mut out = Vec::with_capacity(sessions.len());
            for (session, project_root) in sessions {
                let chats = chat_stmt
                    .query_map([&session.id], |r| {
                        Ok(ChatSummary {
                            chat: chat_from_row(r)?,
                            message_count: r.get(10)?,
                            turns: r.get(11)?,
                        })
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                out.push(SessionSummary {
                    session,
                    project_root,
                    chats,
                });
            }
            Ok(out)
        })
    }

    pub fn create_chat(&self, new: &NewChat<'_>) -> Result<Chat> {
        let at = now();
        let chat = Chat {
            id: new_id(),
            session_id: new.session_id.to_string(),
            parent_chat_id: new.parent_chat_id.map(str::to_string),
            kind: new.kind.to_string(),
            title: new.title.to_string(),
            model: new.model.to_string(),
            agent: new.agent.to_string(),
            status: "idle".into(),
            created_at: at.clone(),
            updated_at: at,
        };
        self.with(|c| {
            c.prepare_cached(&format!(
                "INSERT INTO chats ({CHAT_COLUMNS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)"
            ))?
            .execute(params![
                chat.id,
                chat.session_id,
                chat.parent_chat_id,
                chat.kind,
                chat.title,
                chat.model,
                chat.agent,
                chat.status,
                chat.created_at,
                chat.updated_at
            ])
        })?;
        Ok(chat)
    }

    /// A chat by full id or unique prefix.
    pub fn get_chat(&self, id: &str) -> Result<Chat> {
        let id = self.resolve_prefix("chats", id)?;
        self.with(|c| {
            c.prepare_cached(&format!("SELECT {CHAT_SELECT} FROM chats WHERE id = ?1"))?
                .query_row([&id], chat_from_row)
        })
    }

    pub fn list_chats(&self, session_id: &str) -> Result<Vec<Chat>> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {CHAT_SELECT} FROM chats WHERE session_id = ?1 ORDER BY created_at, rowid"
            ))?;
            let rows = stmt.query_map([session_id], chat_from_row)?;
            rows.collect()
        })
    }

    /// The chat most recently active across all sessions (`traces --last`).
    pub fn latest_chat(&self) -> Result<Option<Chat>> {
        self.with(|c| {
            optional(
                c.prepare_cached(&format!(
                    "SELECT {CHAT_SELECT} FROM chats ORDER BY updated_at DESC, rowid DESC LIMIT 1"
                ))?
                .query_row([], chat_from_row),
            )
        })
    }

    /// The most recently active chat of a project whose turn was interrupted (its snapshot is
    /// not idle), if any.
    pub fn latest_interrupted_chat(&self, project_id: &str) -> Result<Option<Chat>> {
        self.with(|c| {
            optional(
                c.prepare_cached(&format!(
                    "SELECT {CHAT_SELECT} FROM chats WHERE id = (
                         SELECT c.id FROM chats c
                         JOIN sessions s ON s.id = c.session_id
                         JOIN agent_snapshots a ON a.chat_id = c.id
                         WHERE s.project_id = ?1 AND a.state != 'idle'
                         ORDER BY a.updated_at DESC LIMIT 1)"
                ))?
                .query_row([project_id], chat_from_row),
            )
        })
    }

    pub fn set_chat_status(&self, chat_id: &str, status: &str) -> Result<()> {
        let owner = self.owner()?;
        self.with(|c| {
            c.prepare_cached(
                "UPDATE chats SET status = ?2, updated_at = ?3, owner = ?4 WHERE id = ?1",
            )?
            .execute(params![chat_id, status, now(), owner])
        })?;
        Ok(())
    }

    pub fn set_chat_model(&self, chat_id: &str, model: &str) -> Result<()> {
        self.with(|c| {
            c.prepare_cached("UPDATE chats SET model = ?2, updated_at = ?3 WHERE id = ?1")?
                .execute(params![chat_id, model, now()])
        })?;
        Ok(())
    }

    /// Highest turn number used in a chat (0 when empty).
    pub fn last_turn(&self, chat_id: &str) -> Result<i64> {
        self.with(|c| {
            c.prepare_cached(
                "SELECT COALESCE(MAX(turn_number), 0) FROM messages WHERE chat_id = ?1",
            )?
            .query_row([chat_id], |r| r.get(0))
        })
    }

    /// Stores a user message with its text and image attachments in one transaction.
    pub fn insert_user_message(
        &self,
        chat_id: &str,
        turn_number: i64,
        text: &str,
        attachments: &[NewAttachment],
    ) -> Result<MessageRef> {
        let at = now();
        let owner = self.owner()?;
        self.tx(|tx| {
            let msg = insert_message(
                tx,
                chat_id,
                "user",
                "complete",
                turn_number,
                None,
                &Stamp::new(&at, &owner),
            )?;
            let mut parts = vec![MessagePart::text(PartKind::Text, text)];
            for a in attachments {
                let attachment_id = new_id();
                tx.prepare_cached("INSERT INTO attachments (id, chat_id, message_id, path, file_name, mime, bytes,
                         width, height, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")?.execute(params![
                        attachment_id,
                        chat_id,
                        msg.id,
                        a.path,
                        a.file_name,
                        a.mime,
                        a.bytes as i64,
                        a.width,
                        a.height,
                        at
                    ])?;
                parts.push(MessagePart {
                    kind: PartKind::Image,
                    content: a.path.clone(),
                    tool_call_id: None,
                    tool_name: None,
                    attachment_id: Some(attachment_id),
                });
            }
            write_parts(tx, &msg.id, &parts)?;
            touch_chat(tx, chat_id, &at)?;
            Ok(msg)
        })
    }

    /// Stores a workflow run's report in the chat that started it: a `workflow` message whose
    /// first text part is a heading and second the body, in the chat's latest turn.
    pub fn insert_workflow_report(
        &self,
        chat_id: &str,
        heading: &str,
        body: &str,
    ) -> Result<MessageRef> {
        let at = now();
        let owner = self.owner()?;
        self.tx(|tx| {
            let turn: i64 = tx
                .prepare_cached(
                    "SELECT COALESCE(MAX(turn_number), 0) FROM messages WHERE chat_id = ?1",
                )?
                .query_row([chat_id], |r| r.get(0))?;
            let msg = insert_message(
                tx,
                chat_id,
                "workflow",
                "complete",
                turn,
                None,
                &Stamp::new(&at, &owner),
            )?;
            let parts = [
                MessagePart::text(PartKind::Text, heading),
                MessagePart::text(PartKind::Text, body),
            ];
            write_parts(tx, &msg.id, &parts)?;
            touch_chat(tx, chat_id, &at)?;
            Ok(msg)
        })
    }

    /// The (heading, body) of every workflow report stored in the chat after its last user
    /// message: what the model has not read yet. Both lookups walk the chat's `seq` index from
    /// its end, so a long chat costs no more than a short one.
    pub fn unread_workflow_reports(&self, chat_id: &str) -> Result<Vec<(String, String)>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT m.id, p.content FROM messages m
                 JOIN message_parts p ON p.message_id = m.id AND p.kind = 'text'
                 WHERE m.chat_id = ?1 AND m.role = 'workflow'
                   AND m.seq > COALESCE((SELECT seq FROM messages
                                         WHERE chat_id = ?1 AND role = 'user'
                                         ORDER BY seq DESC LIMIT 1), 0)
                 ORDER BY m.seq, p.idx",
            )?;
            let rows = stmt
                .query_map([chat_id], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut reports: Vec<(String, String, String)> = Vec::new();
            for (id, text) in rows {
                match reports.last_mut() {
                    Some((last, _, body)) if *last == id => body.push_str(&text),
                    _ => reports.push((id, text, String::new())),
                }
            }
            Ok(reports.into_iter().map(|(_, h, b)| (h, b)).collect())
        })
    }

    /// Opens an assistant message that is being streamed. Its parts are written by
    /// [`Store::save_assistant_progress`] and [`Store::finish_reply`]; a crash in
    /// between leaves it `streaming`, which the next start turns into `interrupted`.
    pub fn begin_assistant_message(
        &self,
        chat_id: &str,
        turn_number: i64,
        model: &str,
    ) -> Result<MessageRef> {
        let at = now();
        let owner = self.owner()?;
        self.tx(|tx| {
            let msg = insert_message(
                tx,
                chat_id,
                "assistant",
                "streaming",
                turn_number,
                Some(model),
                &Stamp::new(&at, &owner),
            )?;
            touch_chat(tx, chat_id, &at)?;
            Ok(msg)
        })
    }

    /// Persists what has streamed so far, replacing the message's parts.
    pub fn save_assistant_progress(&self, message_id: &str, parts: &[MessagePart]) -> Result<()> {
        self.tx(|tx| write_parts(tx, message_id, parts))
    }

    /// Stores tool results as `tool` messages together with the snapshot that no longer lists
    /// those calls as pending: a crash leaves either both or neither, so a resume never runs a
    /// call twice into the transcript.
    pub fn record_tool_results(
        &self,
        chat_id: &str,
        turn_number: i64,
        results: &[ToolResult<'_>],
        snapshot: &AgentSnapshot,
    ) -> Result<()> {
        let at = now();
        let (history, pending) = super::tasks::snapshot_json(snapshot)?;
        let owner = self.owner()?;
        let stamp = Stamp::new(&at, &owner);
        self.tx(|tx| {
            for r in results {
                let msg =
                    insert_message(tx, chat_id, "tool", "complete", turn_number, None, &stamp)?;
                write_parts(
                    tx,
                    &msg.id,
                    &[MessagePart {
                        kind: PartKind::ToolResult,
                        content: r.content.to_string(),
                        tool_call_id: Some(r.tool_call_id.to_string()),
                        tool_name: Some(r.tool_name.to_string()),
                        attachment_id: None,
                    }],
                )?;
            }
            super::tasks::write_snapshot(tx, snapshot, &history, &pending)
        })
    }

    pub fn message_count(&self, chat_id: &str) -> Result<i64> {
        self.with(|c| {
            c.prepare_cached("SELECT COUNT(*) FROM messages WHERE chat_id = ?1")?
                .query_row([chat_id], |r| r.get(0))
        })
    }

    /// All messages of a chat, in order, with their parts.
    pub fn load_messages(&self, chat_id: &str) -> Result<Vec<StoredMessage>> {
        self.load_messages_range(chat_id, 0, i64::MAX)
    }

    /// Messages with `from_seq <= seq`, at most `limit` of them, in order.
    pub fn load_messages_range(
        &self,
        chat_id: &str,
        from_seq: i64,
        limit: i64,
    ) -> Result<Vec<StoredMessage>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT id, chat_id, seq, role,
                     CASE WHEN status = 'streaming' AND owner_gone(owner) THEN 'interrupted'
                          ELSE status END,
                     turn_number, model, error, created_at,
                     EXISTS (SELECT 1 FROM compactions k
                             WHERE k.chat_id = messages.chat_id
                               AND messages.seq < k.covers_before_seq
                               AND messages.seq IS NOT k.kept_user_seq
                               AND messages.role != 'compaction')
                 FROM messages WHERE chat_id = ?1 AND seq >= ?2 ORDER BY seq LIMIT ?3",
            )?;
            let mut messages = stmt
                .query_map(params![chat_id, from_seq, limit], |r| {
                    Ok(StoredMessage {
                        id: r.get(0)?,
                        chat_id: r.get(1)?,
                        seq: r.get(2)?,
                        role: r.get(3)?,
                        status: r.get(4)?,
                        turn_number: r.get(5)?,
                        model: r.get(6)?,
                        error: r.get(7)?,
                        created_at: r.get(8)?,
                        compacted: r.get(9)?,
                        parts: Vec::new(),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut part_stmt = c.prepare(
                "SELECT kind, content, tool_call_id, tool_name, attachment_id
                 FROM message_parts WHERE message_id = ?1 ORDER BY idx",
            )?;
            for m in &mut messages {
                m.parts = part_stmt
                    .query_map([&m.id], |r| {
                        Ok(MessagePart {
                            kind: PartKind::parse(&r.get::<_, String>(0)?),
                            content: r.get(1)?,
                            tool_call_id: r.get(2)?,
                            tool_name: r.get(3)?,
                            attachment_id: r.get(4)?,
                        })
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
            }
            Ok(messages)
        })
    }

    /// The last assistant message of a chat that finished with text.
    pub fn last_assistant_text(&self, chat_id: &str) -> Result<Option<String>> {
        self.with(|c| {
            optional(
                c.prepare_cached(
                    "SELECT COALESCE(GROUP_CONCAT(p.content, ''), '') FROM messages m
                 JOIN message_parts p ON p.message_id = m.id AND p.kind = 'text'
                 WHERE m.chat_id = ?1 AND m.role = 'assistant'
                 GROUP BY m.id ORDER BY m.seq DESC LIMIT 1",
                )?
                .query_row([chat_id], |r| r.get(0)),
            )
        })
        .map_err(|e| anyhow!("reading last answer of chat {chat_id}: {e}"))
    }
}

/// When a row was written and by which process (see `owners`).
pub(super) struct Stamp<'a> {
    at: &'a str,
    owner: &'a str,
}

impl<'a> Stamp<'a> {
    pub(super) fn new(at: &'a str, owner: &'a str) -> Stamp<'a> {
        Stamp { at, owner }
    }
}

pub(super) fn insert_message(
    tx: &Transaction<'_>,
    chat_id: &str,
    role: &str,
    status: &str,
    turn_number: i64,
    model: Option<&str>,
    stamp: &Stamp<'_>,
) -> rusqlite::Result<MessageRef> {
    let seq: i64 = tx
        .prepare_cached("SELECT COALESCE(MAX(seq), 0) + 1 FROM messages WHERE chat_id = ?1")?
        .query_row([chat_id], |r| r.get(0))?;
    let id = new_id();
    tx.prepare_cached(
        "INSERT INTO messages (id, chat_id, seq, role, status, turn_number, model, created_at,
             owner)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        id,
        chat_id,
        seq,
        role,
        status,
        turn_number,
        model,
        stamp.at,
        stamp.owner
    ])?;
    Ok(MessageRef { id, seq })
}

pub(super) fn write_parts(
    tx: &Transaction<'_>,
    message_id: &str,
    parts: &[MessagePart],
) -> rusqlite::Result<()> {
    tx.prepare_cached("DELETE FROM message_parts WHERE message_id = ?1")?
        .execute([message_id])?;
    let mut stmt = tx.prepare_cached(
        "INSERT INTO message_parts (message_id, idx, kind, content, tool_call_id, tool_name, attachment_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for (idx, p) in parts.iter().enumerate() {
        stmt.execute(params![
            message_id,
            idx as i64,
            p.kind.as_str(),
            p.content,
            p.tool_call_id,
            p.tool_name,
            p.attachment_id
        ])?;
    }
    Ok(())
}

pub(super) fn touch_chat(tx: &Transaction<'_>, chat_id: &str, at: &str) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE chats SET updated_at = ?2 WHERE id = ?1")?
        .execute(params![chat_id, at])?;
    Ok(())
}

/// Writes a message's final parts and status.
pub(super) fn close_message(
    tx: &Transaction<'_>,
    message_id: &str,
    parts: &[MessagePart],
    status: &str,
    error: Option<&str>,
    at: &str,
) -> rusqlite::Result<()> {
    write_parts(tx, message_id, parts)?;
    tx.prepare_cached(
        "UPDATE messages SET status = ?2, error = ?3, finished_at = ?4 WHERE id = ?1",
    )?
    .execute(params![message_id, status, error, at])?;
    Ok(())
}
