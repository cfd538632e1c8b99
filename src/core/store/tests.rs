use super::*;
use crate::core::llm::types::{ChatMessage, ToolCall, Usage};

fn fixture() -> (Store, Session, Chat) {
    let store = Store::open_in_memory().unwrap();
    let (session, chat) = seed(&store);
    (store, session, chat)
}

fn trace(session: &Session, chat: &Chat, n: usize) -> TraceRow {
    let call = ToolCall::new("unused", "read_file", "{}");
    TraceRow {
        id: format!("trace-{n:06}"),
        session_id: session.id.clone(),
        tool_call_id: None,
        started_at: format!("2026-01-01T00:00:{:02}.000Z", n % 60),
        ..TraceRow::started(chat, 1, &call, "{}".into())
    }
}

#[test]
fn new_file_is_private_wal_and_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/boocode.db");
    let store = Store::open(&path).unwrap();
    assert_eq!(
        store.schema_version().unwrap(),
        schema::MIGRATIONS.len() as i64
    );
    let mode: String = store
        .with(|c| c.query_row("PRAGMA journal_mode", [], |r| r.get(0)))
        .unwrap();
    assert_eq!(mode, "wal");
    let fk: i64 = store
        .with(|c| c.query_row("PRAGMA foreign_keys", [], |r| r.get(0)))
        .unwrap();
    assert_eq!(fk, 1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let perms = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(perms, 0o600);
    }
}

#[test]
fn older_file_is_upgraded_in_place_and_newer_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("boocode.db");
    {
        // A file written before any migration existed, holding data of its own.
        let c = Connection::open(&path).unwrap();
        c.execute_batch("CREATE TABLE keepme (x INTEGER); INSERT INTO keepme VALUES (7);")
            .unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(
        store.schema_version().unwrap(),
        schema::MIGRATIONS.len() as i64
    );
    let kept: i64 = store
        .with(|c| c.query_row("SELECT x FROM keepme", [], |r| r.get(0)))
        .unwrap();
    assert_eq!(kept, 7);
    drop(store);
    // Reopening applies nothing twice.
    assert!(Store::open(&path).is_ok());
    {
        let c = Connection::open(&path).unwrap();
        c.pragma_update(None, "user_version", 999).unwrap();
    }
    let err = Store::open(&path).err().unwrap().to_string();
    assert!(err.contains("newer than this boocode"), "{err}");
}

#[test]
fn messages_round_trip_with_parts_in_order() {
    let (store, _s, chat) = fixture();
    store
        .insert_user_message(&chat.id, 1, "hello", &[])
        .unwrap();
    let call_id = store.begin_model_call(&chat.id, 1, "m").unwrap();
    let a = store.begin_assistant_message(&chat.id, 1, "m").unwrap();
    let call = ToolCall::new("c1", "read_file", r#"{"file_path":"x"}"#);
    let parts = [
        MessagePart::text(PartKind::Reasoning, "hmm"),
        MessagePart::text(PartKind::Text, "let me look"),
        MessagePart::tool_call(&call),
    ];
    finish_tool_call_reply(&store, &call_id, &a.id, &parts);
    let snapshot = snapshot_of(&chat, 1, vec![]);
    store
        .record_tool_results(
            &chat.id,
            1,
            &[ToolResult {
                tool_call_id: "c1",
                tool_name: "read_file",
                content: "1\tx",
            }],
            &snapshot,
        )
        .unwrap();
    assert_eq!(store.load_snapshot(&chat.id).unwrap(), Some(snapshot));
    let msgs = store.load_messages(&chat.id).unwrap();
    assert_eq!(
        msgs.iter().map(|m| m.role.as_str()).collect::<Vec<_>>(),
        ["user", "assistant", "tool"]
    );
    assert_eq!(msgs[1].joined(PartKind::Reasoning), "hmm");
    assert_eq!(msgs[1].parts[2].tool_call_id.as_deref(), Some("c1"));
    assert_eq!(store.last_turn(&chat.id).unwrap(), 1);
    assert_eq!(
        store.last_assistant_text(&chat.id).unwrap().as_deref(),
        Some("let me look")
    );
}

/// Project, session and chat in `store`.
fn seed(store: &Store) -> (Session, Chat) {
    let project = store.ensure_project("/tmp/proj").unwrap();
    let session = store.create_session(&project.id, "").unwrap();
    let chat = store
        .create_chat(&NewChat {
            session_id: &session.id,
            parent_chat_id: None,
            kind: "main",
            title: "t",
            model: "m",
            agent: "general-purpose",
        })
        .unwrap();
    (session, chat)
}

/// What a process leaves when it dies mid-turn and mid-run: a streaming message, an open
/// trace, a running chat, task, workflow run and call. Returns the task, run and call ids.
fn leave_work_running(store: &Store, session: &Session, chat: &Chat) -> (String, String, String) {
    let a = store.begin_assistant_message(&chat.id, 1, "m").unwrap();
    store
        .save_assistant_progress(&a.id, &[MessagePart::text(PartKind::Text, "partial answ")])
        .unwrap();
    let mut call_trace = trace(session, chat, 1);
    call_trace.tool_call_id = Some("call-1".into());
    store.begin_trace(&call_trace).unwrap();
    store.set_chat_status(&chat.id, "running").unwrap();
    let task = store
        .create_task(&NewTask {
            session_id: &session.id,
            parent_chat_id: None,
            label: None,
            input: "x",
            model: "m",
            agent: "general-purpose",
        })
        .unwrap();
    assert_eq!(
        store
            .claim_next_task(&session.project_id, 2, || false)
            .unwrap()
            .unwrap()
            .id,
        task.id
    );
    let run = store
        .create_workflow_run(&NewWorkflowRun {
            project_id: &session.project_id,
            session_id: Some(&session.id),
            parent_chat_id: None,
            workflow: "demo",
            source: "project",
            origin: "/p/.boocode/workflows/demo.js",
            script: "export const meta = {name: 'demo'}",
            script_hash: "h",
            args: &serde_json::Value::Null,
            budget_total: None,
            concurrency: 1,
        })
        .unwrap();
    // The pid of a live process (this one): a recycled pid must not keep a dead run alive.
    store
        .start_workflow_run(&run.id, std::process::id())
        .unwrap();
    let call = store
        .upsert_workflow_agent(&run.id, "k", 0, &serde_json::json!({}), None, None)
        .unwrap();
    store.start_workflow_agent(&call.id, None).unwrap();
    (task.id, run.id, call.id)
}

/// Every status of the work [`leave_work_running`] left, as `reader` sees it.
fn live_statuses(reader: &Store, chat: &Chat, ids: &(String, String, String)) -> Vec<String> {
    let (task, run, call) = ids;
    let message = reader.load_messages(&chat.id).unwrap().remove(0);
    let trace = reader.get_trace("trace-000001").unwrap();
    let listed_chat = reader.list_sessions(None).unwrap()[0].chats[0]
        .chat
        .status
        .clone();
    let listed_run = reader.list_workflow_runs(None).unwrap()[0].status.clone();
    let outcome = reader
        .tool_outcomes(&chat.id, "", None)
        .unwrap()
        .remove(0)
        .outcome;
    vec![
        reader.get_chat(&chat.id).unwrap().status,
        listed_chat,
        message.status,
        trace.outcome.unwrap_or_else(|| "running".into()),
        reader.get_task(task).unwrap().status,
        reader.get_workflow_run(run).unwrap().status,
        listed_run,
        reader.get_workflow_agent(call).unwrap().status,
        outcome.unwrap_or_else(|| "running".into()),
    ]
}

#[test]
fn work_of_an_ended_process_reads_as_interrupted_without_a_repair() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("boocode.db");
    let writer = Store::open(&path).unwrap();
    let (session, chat) = seed(&writer);
    let ids = leave_work_running(&writer, &session, &chat);
    // A reader (`sessions`, `traces`, `workflow runs`, the orchestrator) opened meanwhile.
    let reader = Store::open(&path).unwrap();
    let running = [
        "running",
        "running",
        "streaming",
        "running",
        "running",
        "running",
        "running",
        "running",
        "running",
    ];
    assert_eq!(live_statuses(&reader, &chat, &ids), running);

    drop(writer); // the process ends (a kill -9 releases its lease the same way)
    let interrupted = [
        "interrupted",
        "interrupted",
        "interrupted",
        "interrupted",
        "interrupted",
        "interrupted",
        "interrupted",
        "interrupted",
        "interrupted",
    ];
    assert_eq!(live_statuses(&reader, &chat, &ids), interrupted);
    // Nothing was written: the rows still say what the ended process left.
    let stored: String = reader
        .with(|c| c.query_row("SELECT status FROM chats", [], |r| r.get(0)))
        .unwrap();
    assert_eq!(stored, "running");
    // A freshly opened reader sees the same.
    assert_eq!(
        live_statuses(&Store::open(&path).unwrap(), &chat, &ids),
        interrupted
    );
}

#[test]
fn crash_recovery_marks_unfinished_work() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("boocode.db");
    let crashed = Store::open(&path).unwrap();
    let (session, chat) = seed(&crashed);
    let (task, run, call) = leave_work_running(&crashed, &session, &chat);
    let store = Store::open(&path).unwrap();
    // While its owner lives, nobody repairs its work, even a process that believes it is
    // alone.
    assert!(store.recover_after_crash(true).unwrap().is_empty());
    drop(crashed);

    let report = store.recover_after_crash(false).unwrap();
    assert_eq!(report.traces_interrupted, 1);
    assert_eq!(report.messages_interrupted, 1);
    assert_eq!(report.model_calls_interrupted, 0);
    assert_eq!(report.tasks_requeued, 1);
    assert_eq!(report.chats_interrupted, 1);
    assert_eq!(report.workflow_runs_interrupted, 1);
    let msgs = store.load_messages(&chat.id).unwrap();
    assert_eq!(msgs[0].status, "interrupted");
    assert_eq!(msgs[0].joined(PartKind::Text), "partial answ");
    let t = store.get_trace("trace-000001").unwrap();
    assert_eq!(t.outcome.as_deref(), Some("interrupted"));
    assert!(t.finished_at.is_some());
    assert_eq!(store.get_task(&task).unwrap().status, "pending");
    assert_eq!(store.get_workflow_run(&run).unwrap().status, "interrupted");
    assert_eq!(
        store.get_workflow_agent(&call).unwrap().status,
        "interrupted"
    );
    assert!(store.recover_after_crash(true).unwrap().is_empty());
}

#[test]
fn rows_from_before_owners_are_repaired_only_by_a_lone_process() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("boocode.db");
    let store = Store::open(&path).unwrap();
    let (_session, chat) = seed(&store);
    store
        .with(|c| c.execute("UPDATE chats SET status = 'running', owner = NULL", []))
        .unwrap();
    assert_eq!(store.get_chat(&chat.id).unwrap().status, "running");
    assert!(store.recover_after_crash(false).unwrap().is_empty());
    assert_eq!(
        store.recover_after_crash(true).unwrap().chats_interrupted,
        1
    );
}

#[test]
fn processes_opening_a_fresh_file_together_all_migrate_it() {
    for _ in 0..8 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("boocode.db");
        let start = std::sync::Barrier::new(3);
        let results: Vec<Result<i64>> = std::thread::scope(|s| {
            let opens: Vec<_> = (0..3)
                .map(|_| {
                    s.spawn(|| {
                        start.wait();
                        Store::open(&path)?.schema_version()
                    })
                })
                .collect();
            opens.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for r in results {
            assert_eq!(r.unwrap(), schema::MIGRATIONS.len() as i64);
        }
    }
}

#[test]
fn a_transaction_holds_the_write_lock_from_its_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("boocode.db");
    let store = Store::open(&path).unwrap();
    let other = Connection::open(&path).unwrap();
    other.busy_timeout(Duration::ZERO).unwrap();
    let other_can_write = || other.execute_batch("BEGIN IMMEDIATE; ROLLBACK;").is_ok();
    assert!(other_can_write());
    // A transaction that reads first and writes later would otherwise fail with
    // SQLITE_BUSY_SNAPSHOT when another process wrote in between.
    let during_tx = store.tx(|_| Ok(other_can_write())).unwrap();
    assert!(
        !during_tx,
        "another connection could write inside a transaction"
    );
    let during_batch = store.workflow_batch(|_| Ok(other_can_write())).unwrap();
    assert!(
        !during_batch,
        "another connection could write inside a workflow batch"
    );
}

#[test]
fn trace_pages_follow_keyset_order_without_gaps() {
    let (store, session, chat) = fixture();
    let rows: Vec<_> = (0..250).map(|n| trace(&session, &chat, n)).collect();
    store.insert_traces(&rows).unwrap();
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.list_traces(&chat.id, cursor.as_ref(), 64).unwrap();
        if page.is_empty() {
            break;
        }
        let last = page.last().unwrap();
        cursor = Some(TraceCursor {
            started_at: last.started_at.clone(),
            id: last.id.clone(),
        });
        seen.extend(page.into_iter().map(|t| t.id));
    }
    assert_eq!(seen.len(), 250);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 250);
}

#[test]
fn turn_usage_sums_model_calls_and_counts_tools() {
    let (store, session, chat) = fixture();
    for (hit, miss) in [(0, 100), (80, 20)] {
        let id = store.begin_model_call(&chat.id, 1, "m").unwrap();
        let message = store.begin_assistant_message(&chat.id, 1, "m").unwrap();
        let usage = Usage {
            prompt_tokens: 100,
            completion_tokens: 10,
            reasoning_tokens: 3,
            cache_hit_tokens: hit,
            cache_miss_tokens: miss,
        };
        store
            .finish_reply(&ReplyEnd {
                call_id: &id,
                message_id: &message.id,
                parts: &[],
                status: "complete",
                error: None,
                usage: &usage,
                finish_reason: Some("stop"),
                latency_ms: 5,
            })
            .unwrap();
    }
    store.begin_trace(&trace(&session, &chat, 1)).unwrap();
    let turns = store.turn_usage(&chat.id).unwrap();
    assert_eq!(turns.len(), 1);
    assert_eq!(turns[0].model_calls, 2);
    assert_eq!(turns[0].tool_calls, 1);
    assert_eq!(turns[0].usage.prompt_tokens, 200);
    assert_eq!(turns[0].cache_hit_rate(), Some(0.4));
}

#[test]
fn task_queue_respects_the_running_cap_and_lifecycle() {
    let (store, session, _chat) = fixture();
    let new = |input| NewTask {
        session_id: &session.id,
        parent_chat_id: None,
        label: Some("l"),
        input,
        model: "m",
        agent: "general-purpose",
    };
    let t1 = store.create_task(&new("a")).unwrap();
    let t2 = store.create_task(&new("b")).unwrap();
    store.create_task(&new("c")).unwrap();
    assert_eq!(
        store
            .claim_next_task(&session.project_id, 2, || false)
            .unwrap()
            .unwrap()
            .id,
        t1.id
    );
    assert_eq!(
        store
            .claim_next_task(&session.project_id, 2, || false)
            .unwrap()
            .unwrap()
            .id,
        t2.id
    );
    assert!(store
        .claim_next_task(&session.project_id, 2, || false)
        .unwrap()
        .is_none());
    // A worker told to stop claims nothing, even with a slot free and a task queued.
    let queued = store.create_task(&new("d")).unwrap();
    store.cancel_task(&queued.id).unwrap();
    let late = store.create_task(&new("e")).unwrap();
    assert!(store
        .claim_next_task(&session.project_id, 9, || true)
        .unwrap()
        .is_none());
    assert_eq!(store.get_task(&late.id).unwrap().status, "pending");
    assert!(store
        .finish_task(&t1.id, "failed", None, Some("boom"))
        .unwrap());
    assert!(
        store.retry_task(&t2.id).is_err(),
        "a running task cannot be retried"
    );
    let retried = store.retry_task(&t1.id).unwrap();
    assert_eq!(retried.status, "pending");
    let cancelled = store.cancel_task(&t2.id).unwrap();
    assert_eq!(cancelled.status, "cancelled");
    assert!(!store
        .finish_task(&t2.id, "completed", Some("late"), None)
        .unwrap());
    assert_eq!(store.get_task(&t2.id).unwrap().status, "cancelled");
    assert!(store.cancel_task(&t2.id).is_err());
}

#[test]
fn snapshot_upserts_per_chat() {
    let (store, _s, chat) = fixture();
    let mut snap = AgentSnapshot {
        chat_id: chat.id.clone(),
        model: "m".into(),
        agent: "general-purpose".into(),
        mode: "auto".into(),
        state: "awaiting_model".into(),
        turn_number: 1,
        step: 0,
        history: vec![ChatMessage::user("hi")],
        pending_tool_calls: vec![],
    };
    store.save_snapshot(&snap).unwrap();
    snap.state = "running_tools".into();
    snap.pending_tool_calls = vec![ToolCall::new("c1", "glob", "{}")];
    store.save_snapshot(&snap).unwrap();
    assert_eq!(store.load_snapshot(&chat.id).unwrap(), Some(snap));
    let n: i64 = store
        .with(|c| c.query_row("SELECT COUNT(*) FROM agent_snapshots", [], |r| r.get(0)))
        .unwrap();
    assert_eq!(n, 1);
}

#[test]
fn ids_resolve_by_unique_prefix() {
    let (store, session, chat) = fixture();
    assert_eq!(store.get_chat(&chat.id[..8]).unwrap().id, chat.id);
    assert_eq!(store.get_session(&session.id[..6]).unwrap().id, session.id);
    let err = store.get_chat("zzzz").unwrap_err().to_string();
    assert!(err.contains("no chat with id"), "{err}");
    // LIKE wildcards in user input are literal.
    assert!(store.get_chat("%").is_err());
}

#[test]
fn layouts_are_per_project_and_prompts_are_recent_first() {
    let (store, session, chat) = fixture();
    assert_eq!(store.load_layout(&session.project_id).unwrap(), None);
    store
        .save_layout(&session.project_id, r#"{"a":1}"#)
        .unwrap();
    store
        .save_layout(&session.project_id, r#"{"a":2}"#)
        .unwrap();
    assert_eq!(
        store.load_layout(&session.project_id).unwrap().as_deref(),
        Some(r#"{"a":2}"#)
    );
    store
        .insert_user_message(&chat.id, 1, "first", &[])
        .unwrap();
    store
        .insert_user_message(&chat.id, 2, "second", &[])
        .unwrap();
    store
        .insert_user_message(&chat.id, 3, "first", &[])
        .unwrap();
    let prompts = store.recent_prompts(&session.project_id, 10).unwrap();
    assert_eq!(prompts, ["first", "second"]);
}

#[test]
fn trace_pages_before_a_cursor_walk_backwards_in_order() {
    let (store, session, chat) = fixture();
    let rows: Vec<_> = (0..250).map(|n| trace(&session, &chat, n)).collect();
    store.insert_traces(&rows).unwrap();
    let mut expected: Vec<_> = rows
        .iter()
        .map(|t| (t.started_at.clone(), t.id.clone()))
        .collect();
    expected.sort();
    let mut seen = Vec::new();
    let mut cursor: Option<TraceCursor> = None;
    loop {
        let page = store
            .list_traces_before(&chat.id, cursor.as_ref(), 64)
            .unwrap();
        let Some(first) = page.first() else { break };
        cursor = Some(TraceCursor {
            started_at: first.started_at.clone(),
            id: first.id.clone(),
        });
        let mut ids: Vec<_> = page.into_iter().map(|t| (t.started_at, t.id)).collect();
        ids.extend(seen);
        seen = ids;
    }
    assert_eq!(seen, expected);
}

#[test]
fn tool_outcomes_cover_the_asked_stretch_only() {
    let (store, session, chat) = fixture();
    for n in 1..=5 {
        let mut row = trace(&session, &chat, n);
        row.tool_call_id = Some(format!("call-{n}"));
        store.begin_trace(&row).unwrap();
    }
    let mut untracked = trace(&session, &chat, 6);
    untracked.tool_call_id = None;
    store.begin_trace(&untracked).unwrap();
    store
        .finish_trace(
            "trace-000003",
            &TraceCompletion {
                output: "ok",
                diff: Some("+x\n"),
                error: None,
                outcome: "success",
                latency_ms: 12,
            },
        )
        .unwrap();
    let ids = |v: Vec<ToolOutcome>| v.into_iter().map(|o| o.tool_call_id).collect::<Vec<_>>();
    let all = store
        .tool_outcomes(&chat.id, "2026-01-01T00:00:02.000Z", None)
        .unwrap();
    assert_eq!(ids(all.clone()), ["call-2", "call-3", "call-4", "call-5"]);
    assert_eq!(all[1].outcome.as_deref(), Some("success"));
    assert_eq!(all[1].latency_ms, Some(12));
    assert_eq!(all[1].diff.as_deref(), Some("+x\n"));
    assert_eq!(all[0].outcome, None);
    let older = store
        .tool_outcomes(
            &chat.id,
            "2026-01-01T00:00:01.000Z",
            Some("2026-01-01T00:00:03.000Z"),
        )
        .unwrap();
    assert_eq!(ids(older), ["call-1", "call-2", "call-3"]);
}

/// Closes a model call whose reply made tool calls.
fn finish_tool_call_reply(store: &Store, call_id: &str, message_id: &str, parts: &[MessagePart]) {
    store
        .finish_reply(&ReplyEnd {
            call_id,
            message_id,
            parts,
            status: "complete",
            error: None,
            usage: &Usage::default(),
            finish_reason: Some("tool_calls"),
            latency_ms: 3,
        })
        .unwrap();
}

/// The snapshot of `chat` waiting for the model in `turn`.
fn snapshot_of(chat: &Chat, turn: i64, history: Vec<ChatMessage>) -> AgentSnapshot {
    AgentSnapshot {
        chat_id: chat.id.clone(),
        model: "m".into(),
        agent: "general-purpose".into(),
        mode: "auto".into(),
        state: "awaiting_model".into(),
        turn_number: turn,
        step: 1,
        history,
        pending_tool_calls: vec![],
    }
}

/// Turn `turn`: a user message, an assistant message calling `call_id`, its result.
fn tool_turn(store: &Store, chat: &Chat, turn: i64, call_id: &str) {
    store
        .insert_user_message(&chat.id, turn, &format!("turn {turn}"), &[])
        .unwrap();
    let model_call = store.begin_model_call(&chat.id, turn, "m").unwrap();
    let a = store.begin_assistant_message(&chat.id, turn, "m").unwrap();
    let call = ToolCall::new(call_id, "read_file", "{}");
    finish_tool_call_reply(store, &model_call, &a.id, &[MessagePart::tool_call(&call)]);
    let snapshot = snapshot_of(chat, turn, vec![]);
    let result = ToolResult {
        tool_call_id: call_id,
        tool_name: "read_file",
        content: "output",
    };
    store
        .record_tool_results(&chat.id, turn, &[result], &snapshot)
        .unwrap();
}

#[test]
fn a_compaction_marks_what_its_summary_covers_and_saves_its_snapshot_with_it() {
    let (store, _s, chat) = fixture();
    for (turn, call) in [(1, "c1"), (2, "c2"), (3, "c3")] {
        tool_turn(&store, &chat, turn, call);
    }
    // Cut inside turn 2, before its call: turn 1 and nothing else is covered; turn 2's user
    // message stays (its text is still sent).
    let history = vec![ChatMessage::system("s"), ChatMessage::user("summary")];
    let snapshot = snapshot_of(&chat, 3, history);
    let new = NewCompaction {
        chat_id: &chat.id,
        turn_number: 3,
        trigger: "auto",
        focus: None,
        notice: "context compacted: 9k → 2k tokens",
        summary: Some("what happened"),
        first_kept: Some(MessageAnchor::ToolCall("c2".into())),
        kept_user: Some(MessageAnchor::UserOfTurn(2)),
        tokens_before: 9_000,
        tokens_after: 2_000,
        clipped: 1,
    };
    let id = store.record_compaction(&new, &snapshot).unwrap();
    assert_eq!(
        store.load_snapshot(&chat.id).unwrap(),
        Some(snapshot.clone())
    );
    let messages = store.load_messages(&chat.id).unwrap();
    let covered: Vec<(i64, &str)> = messages
        .iter()
        .filter(|m| m.compacted)
        .map(|m| (m.turn_number, m.role.as_str()))
        .collect();
    assert_eq!(covered, [(1, "user"), (1, "assistant"), (1, "tool")]);
    let note = messages.last().unwrap();
    assert_eq!(
        (note.id.as_str(), note.role.as_str()),
        (id.as_str(), "compaction")
    );
    assert_eq!(note.parts[1].content, "what happened");
    // A later one covers up to turn 3's user message, turn 2's included this time.
    let later = NewCompaction {
        first_kept: Some(MessageAnchor::UserOfTurn(3)),
        kept_user: Some(MessageAnchor::UserOfTurn(3)),
        ..new
    };
    store.record_compaction(&later, &snapshot).unwrap();
    let messages = store.load_messages(&chat.id).unwrap();
    let covered = messages.iter().filter(|m| m.compacted).count();
    assert_eq!(
        covered, 6,
        "turns 1 and 2, not the first compaction's message"
    );
    let rows = store.compactions(&chat.id).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0].tokens_before, rows[0].clipped), (9_000, 1));
    assert!(rows[0].covers_before_seq < rows[1].covers_before_seq);
}
