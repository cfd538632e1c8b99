//! Model calls, tool traces and per-turn usage.

use anyhow::Result;
use rusqlite::{params, OptionalExtension, Row};

use super::models::*;
use super::{new_id, now, Store};
use crate::core::llm::types::Usage;

/// The trace columns in row order, with `outcome` given as the stored column (to write) or as
/// what readers see (to select).
macro_rules! trace_columns {
    ($($outcome:tt)+) => {
        concat!(
            "id, session_id, chat_id, message_id, turn_number, tool_call_id, tool_name,
             tool_input, tool_output, diff, started_at, finished_at, latency_ms, tokens_used,
             cache_tokens, reasoning_tokens, error, ",
            $($outcome)+
        )
    };
}

const TRACE_COLUMNS: &str = trace_columns!("outcome");

/// A call still open in a process that has ended reads as `interrupted`.
macro_rules! live_outcome {
    () => {
        "CASE WHEN finished_at IS NULL AND owner_gone(owner) THEN 'interrupted' ELSE outcome END"
    };
}

const TRACE_SELECT: &str = trace_columns!(live_outcome!());

fn trace_from_row(r: &Row<'_>) -> rusqlite::Result<TraceRow> {
    Ok(TraceRow {
        id: r.get(0)?,
        session_id: r.get(1)?,
        chat_id: r.get(2)?,
        message_id: r.get(3)?,
        turn_number: r.get(4)?,
        tool_call_id: r.get(5)?,
        tool_name: r.get(6)?,
        tool_input: r.get(7)?,
        tool_output: r.get(8)?,
        diff: r.get(9)?,
        started_at: r.get(10)?,
        finished_at: r.get(11)?,
        latency_ms: r.get(12)?,
        tokens_used: r.get(13)?,
        cache_tokens: r.get(14)?,
        reasoning_tokens: r.get(15)?,
        error: r.get(16)?,
        outcome: r.get(17)?,
    })
}

/// How a model request ended, with the assistant message it produced.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplyEnd<'a> {
    pub call_id: &'a str,
    pub message_id: &'a str,
    pub parts: &'a [MessagePart],
    /// Message status: `complete`, `failed`, `cancelled`.
    pub status: &'a str,
    pub error: Option<&'a str>,
    pub usage: &'a Usage,
    pub finish_reason: Option<&'a str>,
    pub latency_ms: u64,
}

/// How a model request without a message of its own ended.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelCallEnd<'a> {
    pub call_id: &'a str,
    pub error: Option<&'a str>,
    pub usage: &'a Usage,
    pub finish_reason: Option<&'a str>,
    pub latency_ms: u64,
}

/// How a tool call ended, as written to its trace row.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceCompletion<'a> {
    pub output: &'a str,
    pub diff: Option<&'a str>,
    pub error: Option<&'a str>,
    pub outcome: &'a str,
    pub latency_ms: u64,
}

impl Store {
    /// Records the start of a model request; returns its id.
    pub fn begin_model_call(&self, chat_id: &str, turn_number: i64, model: &str) -> Result<String> {
        let id = new_id();
        let owner = self.owner()?;
        self.with(|c| {
            c.prepare_cached(
                "INSERT INTO model_calls (id, chat_id, turn_number, model, started_at, owner)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![id, chat_id, turn_number, model, now(), owner])
        })?;
        Ok(id)
    }

    /// Closes a model request and the assistant message it streamed, in one transaction.
    pub fn finish_reply(&self, end: &ReplyEnd<'_>) -> Result<()> {
        let at = now();
        self.tx(|tx| {
            super::chats::close_message(tx, end.message_id, end.parts, end.status, end.error, &at)?;
            close_model_call(
                tx,
                &ModelCallEnd {
                    call_id: end.call_id,
                    error: end.error,
                    usage: end.usage,
                    finish_reason: end.finish_reason,
                    latency_ms: end.latency_ms,
                },
                Some(end.message_id),
                &at,
            )
        })
    }

    /// Closes a model request that streamed no message of the chat (a compaction's summary:
    /// its text is stored with the compaction).
    pub fn finish_model_call(&self, end: &ModelCallEnd<'_>) -> Result<()> {
        let at = now();
        self.with(|c| close_model_call(c, end, None, &at))
    }

    /// Writes a trace row when a tool call starts (no `finished_at` until it ends).
    pub fn begin_trace(&self, row: &TraceRow) -> Result<()> {
        self.insert_traces(std::slice::from_ref(row))
    }

    /// Inserts many trace rows in one transaction (imports and benchmarks).
    pub fn insert_traces(&self, rows: &[TraceRow]) -> Result<()> {
        let owner = self.owner()?;
        self.tx(|tx| {
            let mut stmt = tx.prepare_cached(&format!(
                "INSERT INTO tool_traces ({TRACE_COLUMNS}, owner)
                 VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19)"
            ))?;
            for t in rows {
                stmt.execute(params![
                    t.id,
                    t.session_id,
                    t.chat_id,
                    t.message_id,
                    t.turn_number,
                    t.tool_call_id,
                    t.tool_name,
                    t.tool_input,
                    t.tool_output,
                    t.diff,
                    t.started_at,
                    t.finished_at,
                    t.latency_ms,
                    t.tokens_used,
                    t.cache_tokens,
                    t.reasoning_tokens,
                    t.error,
                    t.outcome,
                    owner
                ])?;
            }
            Ok(())
        })
    }

    pub fn finish_trace(&self, trace_id: &str, done: &TraceCompletion<'_>) -> Result<()> {
        self.with(|c| {
            c.prepare_cached(
                "UPDATE tool_traces SET tool_output = ?2, diff = ?3, error = ?4, outcome = ?5,
                     latency_ms = ?6, finished_at = ?7
                 WHERE id = ?1",
            )?
            .execute(params![
                trace_id,
                done.output,
                done.diff,
                done.error,
                done.outcome,
                done.latency_ms as i64,
                now()
            ])
        })?;
        Ok(())
    }

    pub fn get_trace(&self, trace_id: &str) -> Result<TraceRow> {
        self.with(|c| {
            c.prepare_cached(&format!(
                "SELECT {TRACE_SELECT} FROM tool_traces WHERE id = ?1"
            ))?
            .query_row([trace_id], trace_from_row)
        })
    }

    /// The latest trace of tool call `tool_call_id` in turn `turn_number` of a chat: whether,
    /// and how far, the call had run.
    pub fn trace_of_call(
        &self,
        chat_id: &str,
        turn_number: i64,
        tool_call_id: &str,
    ) -> Result<Option<TraceRow>> {
        self.with(|c| {
            c.prepare_cached(&format!(
                "SELECT {TRACE_COLUMNS} FROM tool_traces
                 WHERE chat_id = ?1 AND turn_number = ?2 AND tool_call_id = ?3
                 ORDER BY started_at DESC, id DESC LIMIT 1"
            ))?
            .query_row(params![chat_id, turn_number, tool_call_id], trace_from_row)
            .optional()
        })
    }

    /// One page of a chat's traces in start order, after `cursor` (keyset pagination: the cost
    /// of a page does not grow with the number of traces before it).
    pub fn list_traces(
        &self,
        chat_id: &str,
        after: Option<&TraceCursor>,
        limit: usize,
    ) -> Result<Vec<TraceRow>> {
        let (at, id) = after
            .map(|c| (c.started_at.as_str(), c.id.as_str()))
            .unwrap_or(("", ""));
        self.with(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {TRACE_SELECT} FROM tool_traces
                 WHERE chat_id = ?1 AND (started_at, id) > (?2, ?3)
                 ORDER BY started_at, id LIMIT ?4"
            ))?;
            let rows = stmt.query_map(params![chat_id, at, id, limit as i64], trace_from_row)?;
            rows.collect()
        })
    }

    /// One page of a chat's traces just before `before` (all of them when `None`: the newest
    /// page), returned in start order. Scrolling upward through a long trace list uses this.
    pub fn list_traces_before(
        &self,
        chat_id: &str,
        before: Option<&TraceCursor>,
        limit: usize,
    ) -> Result<Vec<TraceRow>> {
        let mut rows = self.with(|c| match before {
            Some(cur) => {
                let mut stmt = c.prepare_cached(&format!(
                    "SELECT {TRACE_SELECT} FROM tool_traces
                     WHERE chat_id = ?1 AND (started_at, id) < (?2, ?3)
                     ORDER BY started_at DESC, id DESC LIMIT ?4"
                ))?;
                let rows = stmt.query_map(
                    params![chat_id, cur.started_at, cur.id, limit as i64],
                    trace_from_row,
                )?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            }
            None => {
                let mut stmt = c.prepare_cached(&format!(
                    "SELECT {TRACE_SELECT} FROM tool_traces WHERE chat_id = ?1
                     ORDER BY started_at DESC, id DESC LIMIT ?2"
                ))?;
                let rows = stmt.query_map(params![chat_id, limit as i64], trace_from_row)?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            }
        })?;
        rows.reverse();
        Ok(rows)
    }

    /// The outcomes of a chat's tool calls whose traces started in `[since, until]` (to now
    /// when `until` is `None`): a stretch of transcript loaded for display shows each call's
    /// latency, outcome and diff without loading whole traces.
    pub fn tool_outcomes(
        &self,
        chat_id: &str,
        since: &str,
        until: Option<&str>,
    ) -> Result<Vec<ToolOutcome>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(concat!(
                "SELECT id, tool_call_id, ",
                live_outcome!(),
                ", latency_ms, error, diff FROM tool_traces
                 WHERE chat_id = ?1 AND started_at >= ?2 AND (?3 IS NULL OR started_at <= ?3)
                   AND tool_call_id IS NOT NULL
                 ORDER BY started_at, id"
            ))?;
            let rows = stmt.query_map(params![chat_id, since, until], |r| {
                Ok(ToolOutcome {
                    trace_id: r.get(0)?,
                    tool_call_id: r.get(1)?,
                    outcome: r.get(2)?,
                    latency_ms: r.get(3)?,
                    error: r.get(4)?,
                    diff: r.get(5)?,
                })
            })?;
            rows.collect()
        })
    }

    pub fn trace_count(&self, chat_id: &str) -> Result<i64> {
        self.with(|c| {
            c.prepare_cached("SELECT COUNT(*) FROM tool_traces WHERE chat_id = ?1")?
                .query_row([chat_id], |r| r.get(0))
        })
    }

    /// Per-turn model usage and tool-call counts of a chat, oldest turn first.
    pub fn turn_usage(&self, chat_id: &str) -> Result<Vec<TurnUsage>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT m.turn_number, MIN(m.started_at), MAX(m.finished_at), COUNT(*),
                     SUM(m.prompt_tokens), SUM(m.completion_tokens), SUM(m.reasoning_tokens),
                     SUM(m.cache_hit_tokens), SUM(m.cache_miss_tokens),
                     (SELECT COUNT(*) FROM tool_traces t
                      WHERE t.chat_id = m.chat_id AND t.turn_number = m.turn_number),
                     (SELECT substr(p.content, 1, 200) FROM messages u
                      JOIN message_parts p ON p.message_id = u.id
                      WHERE u.chat_id = m.chat_id AND u.turn_number = m.turn_number
                        AND u.role = 'user' AND p.kind = 'text'
                      ORDER BY u.seq, p.idx LIMIT 1)
                 FROM model_calls m WHERE m.chat_id = ?1
                 GROUP BY m.turn_number ORDER BY m.turn_number",
            )?;
            let rows = stmt.query_map([chat_id], |r| {
                let int =
                    |i: usize| -> rusqlite::Result<u64> { Ok(r.get::<_, i64>(i)?.max(0) as u64) };
                Ok(TurnUsage {
                    turn_number: r.get(0)?,
                    prompt: r.get::<_, Option<String>>(10)?.unwrap_or_default(),
                    started_at: r.get(1)?,
                    finished_at: r.get(2)?,
                    model_calls: r.get(3)?,
                    tool_calls: r.get(9)?,
                    usage: Usage {
                        prompt_tokens: int(4)?,
                        completion_tokens: int(5)?,
                        reasoning_tokens: int(6)?,
                        cache_hit_tokens: int(7)?,
                        cache_miss_tokens: int(8)?,
                    },
                })
            })?;
            rows.collect()
        })
    }
}

fn close_model_call(
    c: &rusqlite::Connection,
    end: &ModelCallEnd<'_>,
    message_id: Option<&str>,
    at: &str,
) -> rusqlite::Result<()> {
    let u = end.usage;
    c.prepare_cached(
        "UPDATE model_calls SET message_id = ?2, finished_at = ?3, latency_ms = ?4,
             prompt_tokens = ?5, completion_tokens = ?6, reasoning_tokens = ?7,
             cache_hit_tokens = ?8, cache_miss_tokens = ?9, finish_reason = ?10, error = ?11
         WHERE id = ?1",
    )?
    .execute(params![
        end.call_id,
        message_id,
        at,
        end.latency_ms as i64,
        u.prompt_tokens as i64,
        u.completion_tokens as i64,
        u.reasoning_tokens as i64,
        u.cache_hit_tokens as i64,
        u.cache_miss_tokens as i64,
        end.finish_reason,
        end.error
    ])?;
    Ok(())
}
