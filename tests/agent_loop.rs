//! End-to-end tests of the agent loop against the scripted model server.

mod support;

use std::time::Duration;

use boocode::core::agent::tools::ApprovalMode;
use boocode::core::agent::{TurnRequest, TurnStatus, INTERRUPTED_CALL_RESULT};
use boocode::core::events::{Command, Event};
use boocode::core::llm::types::{ChatMessage, ToolCall};
use boocode::core::shutdown::RunningWork;
use boocode::core::store::{AgentSnapshot, NewTask, PartKind, TraceCompletion, TraceRow};
use serde_json::{json, Value};

use support::harness::{write, Harness, FAST_RETRIES};
use support::mock_server::{CallSpec, Match, Reply, UsageSpec};

fn traces(h: &Harness) -> Vec<boocode::core::store::TraceRow> {
    h.store().list_traces(&h.chat.id, None, 1000).unwrap()
}

/// The `tool` messages of a recorded request, as (tool_call_id, content).
fn tool_results(request: &Value) -> Vec<(String, String)> {
    request["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| {
            (
                m["tool_call_id"].as_str().unwrap().to_string(),
                m["content"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn text_reply_is_streamed_persisted_and_metered() {
    let mut h = Harness::new(
        vec![Reply::text("Hello **world**, all good.")
            .reasoning("The user says hi.")
            .usage(
                UsageSpec::new(120, 9)
                    .cache_hit_tokens(100)
                    .reasoning_tokens(4),
            )
            .into()],
        ApprovalMode::ReadOnly,
    )
    .await;
    let outcome = h.turn("hi").await;
    assert_eq!(outcome.status, TurnStatus::Completed, "{:?}", outcome.error);
    assert_eq!(
        outcome.final_text.as_deref(),
        Some("Hello **world**, all good.")
    );
    assert_eq!(outcome.usage.cache_hit_tokens, 100);

    let events = h.drain_events();
    let streamed: String = events
        .iter()
        .filter_map(|e| match e {
            Event::TextDelta { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(streamed, "Hello **world**, all good.");
    assert!(
        events
            .iter()
            .filter(|e| matches!(e, Event::TextDelta { .. }))
            .count()
            > 1
    );
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::ReasoningDelta { .. })));

    let messages = h.store().load_messages(&h.chat.id).unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0].joined(PartKind::Text), "hi");
    assert_eq!(messages[1].status, "complete");
    assert_eq!(messages[1].joined(PartKind::Reasoning), "The user says hi.");
    let turns = h.store().turn_usage(&h.chat.id).unwrap();
    assert_eq!(turns[0].usage.prompt_tokens, 120);
    assert_eq!(turns[0].usage.cache_hit_tokens, 100);
    assert_eq!(turns[0].usage.reasoning_tokens, 4);

    // The request carried the key, streaming options and the tools.
    let req = &h.server.requests()[0];
    assert_eq!(req["stream"], true);
    assert_eq!(req["model"], "mock-model");
    assert!(req["tools"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["function"]["name"] == "read_file"));
    let recorded = h.server.recorded();
    assert_eq!(
        recorded[0].header("authorization"),
        Some("Bearer sk-test-secret-key")
    );
}

#[tokio::test]
async fn reasoning_of_a_tool_turn_is_sent_back() {
    let mut h = Harness::new(
        vec![
            Reply::tool_calls(vec![CallSpec::new(
                "read_file",
                r#"{"file_path":"README.md"}"#,
            )
            .id("call_r")])
            .reasoning("I should read the readme.")
            .into(),
            Reply::text("It says teh.").when(Match::has_tool_result_for("call_r")),
        ],
        ApprovalMode::ReadOnly,
    )
    .await;
    let outcome = h.turn("what does the readme say?").await;
    assert_eq!(outcome.status, TurnStatus::Completed, "{:?}", outcome.error);
    let requests = h.server.requests();
    assert_eq!(requests.len(), 2);
    let assistant = requests[1]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "assistant")
        .unwrap()
        .clone();
    assert_eq!(assistant["reasoning_content"], "I should read the readme.");
    assert_eq!(assistant["tool_calls"][0]["id"], "call_r");
    let results = tool_results(&requests[1]);
    assert_eq!(results[0].0, "call_r");
    assert!(
        results[0].1.contains("This is teh demo project."),
        "{}",
        results[0].1
    );

    // Started and finished events share the trace id, which is the stored row's id.
    let events = h.drain_events();
    let started: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::ToolStarted { trace_id, .. } => Some(trace_id.clone()),
            _ => None,
        })
        .collect();
    let finished: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::ToolFinished {
                trace_id, outcome, ..
            } => Some((trace_id.clone(), outcome.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(started.len(), 1);
    assert_eq!(finished, vec![(started[0].clone(), "success".to_string())]);
    let t = h.store().get_trace(&started[0]).unwrap();
    assert_eq!(t.tool_name, "read_file");
    assert_eq!(t.outcome.as_deref(), Some("success"));
    assert!(t.finished_at.is_some() && t.latency_ms.is_some());
    assert_eq!(t.turn_number, 1);
    assert!(t.tokens_used > 0);
}

#[tokio::test]
async fn parallel_calls_are_all_traced_and_answered_in_order() {
    let h = Harness::new(
        vec![
            Reply::tool_calls(vec![
                CallSpec::new("grep", r#"{"pattern":"fn add"}"#).id("c1"),
                CallSpec::new("glob", r#"{"pattern":"**/*.md"}"#).id("c2"),
                CallSpec::new("list_dir", "{}").id("c3"),
            ])
            .into(),
            Reply::text("done").when(Match::has_tool_result_for("c3")),
        ],
        ApprovalMode::ReadOnly,
    )
    .await;
    let outcome = h.turn("look around").await;
    assert_eq!(outcome.status, TurnStatus::Completed, "{:?}", outcome.error);
    let results = tool_results(&h.server.requests()[1]);
    let ids: Vec<_> = results.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(ids, ["c1", "c2", "c3"]);
    assert!(results[0].1.contains("src/lib.rs"), "{}", results[0].1);
    assert!(results[1].1.contains("README.md"), "{}", results[1].1);
    assert!(results[2].1.contains("src/"), "{}", results[2].1);
    let t = traces(&h);
    assert_eq!(t.len(), 3);
    assert!(t.iter().all(|t| t.outcome.as_deref() == Some("success")));
}

#[tokio::test]
async fn every_tool_works_in_auto_mode() {
    let script = vec![
        Reply::tool_calls(vec![CallSpec::new(
            "create_file",
            r#"{"file_path":"notes/todo.txt","content":"one\ntwo\n"}"#,
        )
        .id("t1")])
        .into(),
        Reply::tool_calls(vec![CallSpec::new(
            "edit_file",
            r#"{"file_path":"README.md","old_string":"teh","new_string":"the"}"#,
        )
        .id("t2")])
        .when(Match::has_tool_result_for("t1")),
        Reply::tool_calls(vec![
            CallSpec::new(
                "read_file",
                r#"{"file_path":"notes/todo.txt","offset":2,"limit":1}"#,
            )
            .id("t3"),
            CallSpec::new("list_dir", r#"{"path":"notes"}"#).id("t4"),
            CallSpec::new("glob", r#"{"pattern":"**/*.txt"}"#).id("t5"),
            CallSpec::new("grep", r#"{"pattern":"THE DEMO","case_insensitive":true}"#).id("t6"),
        ])
        .when(Match::has_tool_result_for("t2")),
        Reply::tool_calls(vec![
            CallSpec::new(
                "run_command",
                r#"{"command":"echo","args":["hello","world"]}"#,
            )
            .id("t7"),
            CallSpec::new("delete_file", r#"{"file_path":"notes/todo.txt"}"#).id("t8"),
        ])
        .when(Match::has_tool_result_for("t6")),
        Reply::tool_calls(vec![CallSpec::new(
            "spawn_subagent",
            r#"{"input":"count the files","label":"counter","agent":"Explore"}"#,
        )
        .id("t9")])
        .when(Match::has_tool_result_for("t8")),
        // The sub-agent's own conversation.
        Reply::text("there are 2 files").when(Match::last_user_contains("count the files")),
        Reply::text("all done").when(Match::has_tool_result_for("t9")),
    ];
    let h = Harness::new(script, ApprovalMode::Auto).await;
    let outcome = h.turn("do everything").await;
    assert_eq!(outcome.status, TurnStatus::Completed, "{:?}", outcome.error);
    h.engine.wait_for_tasks_of(&h.chat.id).await.unwrap();

    let root = h.root();
    assert_eq!(
        std::fs::read_to_string(root.join("README.md")).unwrap(),
        "# Demo\n\nThis is the demo project.\n"
    );
    assert!(!root.join("notes/todo.txt").exists());

    let all = traces(&h);
    let by_call = |id: &str| {
        all.iter()
            .find(|t| t.tool_call_id.as_deref() == Some(id))
            .unwrap()
    };
    for t in &all {
        assert_eq!(
            t.outcome.as_deref(),
            Some("success"),
            "{} failed: {:?}",
            t.tool_name,
            t.error
        );
    }
    assert!(by_call("t2")
        .diff
        .as_deref()
        .unwrap()
        .contains("-This is teh demo project."));
    assert!(by_call("t3")
        .tool_output
        .as_deref()
        .unwrap()
        .contains("two"));
    assert!(!by_call("t3")
        .tool_output
        .as_deref()
        .unwrap()
        .contains("one"));
    assert!(by_call("t4")
        .tool_output
        .as_deref()
        .unwrap()
        .contains("todo.txt"));
    assert!(by_call("t5")
        .tool_output
        .as_deref()
        .unwrap()
        .contains("notes/todo.txt"));
    assert!(by_call("t6")
        .tool_output
        .as_deref()
        .unwrap()
        .contains("README.md"));
    assert!(by_call("t7")
        .tool_output
        .as_deref()
        .unwrap()
        .contains("hello world"));
    assert!(by_call("t8").diff.as_deref().unwrap().contains("-one"));
    let spawned: Value =
        serde_json::from_str(by_call("t9").tool_output.as_deref().unwrap()).unwrap();
    let task_id = spawned["task_id"].as_str().unwrap();

    let task = h.store().get_task(task_id).unwrap();
    assert_eq!(task.status, "completed");
    assert_eq!(task.output.as_deref(), Some("there are 2 files"));
    assert_eq!(task.agent, "Explore");
    let sub_chat = h
        .store()
        .get_chat(task.chat_id.as_deref().unwrap())
        .unwrap();
    assert_eq!(sub_chat.kind, "subagent");
    assert_eq!(sub_chat.parent_chat_id.as_deref(), Some(h.chat.id.as_str()));
    // The Explore sub-agent was offered read-only tools only.
    let sub_request = h
        .server
        .requests()
        .into_iter()
        .find(|r| r.to_string().contains("count the files") && !r.to_string().contains("t9"))
        .unwrap();
    let offered: Vec<_> = sub_request["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        offered,
        vec!["read_file", "list_dir", "glob", "grep", "skill"],
        "read-only tools, loading skills included"
    );
}

#[tokio::test]
async fn subagent_status_and_result_report_progress() {
    let script = vec![
        Reply::tool_calls(vec![CallSpec::new(
            "spawn_subagent",
            r#"{"input":"slow job"}"#,
        )
        .id("s1")])
        .into(),
        // The sub-agent's reply is slow, so the parent sees it running first.
        Reply::text("slow result")
            .delay_ms_per_chunk(150)
            .when(Match::last_user_contains("slow job")),
        Reply::text("checking").when(Match::has_tool_result_for("s1")),
    ];
    let h = Harness::new(script, ApprovalMode::ReadOnly).await;
    let outcome = h.turn("spawn it").await;
    assert_eq!(outcome.status, TurnStatus::Completed, "{:?}", outcome.error);
    let task_id = {
        let out = traces(&h)[0].tool_output.clone().unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        v["task_id"].as_str().unwrap().to_string()
    };
    // Spawned without a label, it is named from its input.
    assert_eq!(
        h.store().get_task(&task_id).unwrap().label.as_deref(),
        Some("slow job")
    );
    // Ask for status and result through the tools while it runs and after.
    let tools = &h.engine.rt.tools;
    let ctx = boocode::core::agent::tools::ToolContext {
        project_root: h.root(),
        extra_roots: vec![],
        approval: ApprovalMode::ReadOnly,
        cancel: Default::default(),
        host: std::sync::Arc::new(NoSubagentsHost(h.engine.clone())),
    };
    let early = tools
        .get("subagent_result")
        .unwrap()
        .run(json!({"task_id": task_id}), &ctx)
        .await
        .unwrap();
    assert!(early.content.contains("not ready yet"), "{}", early.content);
    h.engine.wait_for_tasks_of(&h.chat.id).await.unwrap();
    let status = tools
        .get("subagent_status")
        .unwrap()
        .run(json!({"task_id": task_id}), &ctx)
        .await
        .unwrap();
    assert!(status.content.contains("completed"), "{}", status.content);
    let result = tools
        .get("subagent_result")
        .unwrap()
        .run(json!({"task_id": task_id}), &ctx)
        .await
        .unwrap();
    assert!(result.content.contains("slow result"), "{}", result.content);
}

/// Forwards status queries to the engine's store (what the real host does).
struct NoSubagentsHost(boocode::core::engine::Engine);

impl boocode::core::agent::tools::AgentHost for NoSubagentsHost {
    fn record_pending_change(
        &self,
        _change: boocode::core::agent::tools::FileChange,
    ) -> futures::future::BoxFuture<'_, anyhow::Result<String>> {
        Box::pin(async { anyhow::bail!("not used") })
    }
    fn confirm_command(&self, _c: String, _a: Vec<String>) -> futures::future::BoxFuture<'_, bool> {
        Box::pin(async { false })
    }
    fn spawn_subagent(
        &self,
        _r: boocode::core::agent::tools::SubagentRequest,
    ) -> futures::future::BoxFuture<'_, anyhow::Result<boocode::core::agent::tools::TaskInfo>> {
        Box::pin(async { anyhow::bail!("not used") })
    }
    fn subagent_status(
        &self,
        task_id: String,
    ) -> futures::future::BoxFuture<'_, anyhow::Result<boocode::core::agent::tools::TaskInfo>> {
        Box::pin(async move {
            let t = self.0.store().get_task(&task_id)?;
            Ok(boocode::core::agent::tools::TaskInfo {
                task_id: t.id,
                status: t.status,
                label: t.label,
                elapsed_seconds: 0.0,
                output: t.output,
                error: t.error,
            })
        })
    }
}

#[tokio::test]
async fn path_escapes_are_refused_and_the_turn_goes_on() {
    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "secret.txt", "TOP SECRET");
    let script = vec![
        Reply::tool_calls(vec![
            CallSpec::new(
                "read_file",
                r#"{"file_path":"../../../../../../etc/passwd"}"#,
            )
            .id("e1"),
            CallSpec::new("read_file", r#"{"file_path":"link/secret.txt"}"#).id("e2"),
        ])
        .into(),
        Reply::text("I cannot read those.").when(Match::has_tool_result_for("e2")),
    ];
    let h = Harness::new(script, ApprovalMode::ReadOnly).await;
    std::os::unix::fs::symlink(outside.path(), h.root().join("link")).unwrap();
    let outcome = h.turn("read secrets").await;
    assert_eq!(outcome.status, TurnStatus::Completed, "{:?}", outcome.error);
    let results = tool_results(&h.server.requests()[1]);
    for (_, content) in &results {
        assert!(content.contains("outside the project root"), "{content}");
        assert!(
            !content.contains("TOP SECRET") && !content.contains("root:"),
            "{content}"
        );
    }
    let outcomes: Vec<_> = traces(&h).into_iter().map(|t| t.outcome).collect();
    assert!(
        outcomes.iter().all(|o| o.as_deref() == Some("denied")),
        "{outcomes:?}"
    );
}

#[tokio::test]
async fn malformed_arguments_come_back_as_precise_tool_errors() {
    let script = vec![
        Reply::tool_calls(vec![
            CallSpec::new("read_file", r#"{"file_path": "README.md""#).id("m1"),
            CallSpec::new("read_file", r#"{"file_path": 42}"#).id("m2"),
            CallSpec::new("grep", r#"{"path": "src"}"#).id("m3"),
            CallSpec::new("no_such_tool", "{}").id("m4"),
        ])
        .into(),
        Reply::text("fixed").when(Match::has_tool_result_for("m4")),
    ];
    let h = Harness::new(script, ApprovalMode::ReadOnly).await;
    let outcome = h.turn("go").await;
    assert_eq!(outcome.status, TurnStatus::Completed, "{:?}", outcome.error);
    let results = tool_results(&h.server.requests()[1]);
    assert!(results[0].1.contains("not valid JSON"), "{}", results[0].1);
    assert!(results[1].1.contains("invalid type"), "{}", results[1].1);
    assert!(
        results[2].1.contains("missing field `pattern`"),
        "{}",
        results[2].1
    );
    assert!(
        results[3].1.contains("unknown tool 'no_such_tool'"),
        "{}",
        results[3].1
    );
    let t = traces(&h);
    assert_eq!(t.len(), 4);
    assert!(t.iter().all(|t| t.outcome.as_deref() == Some("error")));
    // The raw, invalid arguments are kept in the trace.
    assert!(t[0].tool_input.contains("README.md"));
}

#[tokio::test]
async fn final_http_errors_end_the_turn_with_the_providers_message() {
    let cases = [
        (401, "X-err-401-authentication-fails.json", "authentication"),
        (
            402,
            "X-err-402-insufficient-balance.json",
            "insufficient balance",
        ),
        (422, "X-err-401-authentication-fails.json", "422"),
    ];
    for (status, fixture, expect) in cases {
        let h = Harness::new(
            vec![Reply::http_error_fixture(status, fixture).into()],
            ApprovalMode::ReadOnly,
        )
        .await;
        let outcome = h.turn("hi").await;
        assert_eq!(outcome.status, TurnStatus::Failed);
        let error = outcome.error.unwrap().to_lowercase();
        assert!(error.contains(expect), "{status}: {error}");
        assert!(!error.contains("sk-test-secret-key"));
        assert_eq!(h.server.request_count(), 1, "{status} must not be retried");
        let calls = h.store().turn_usage(&h.chat.id).unwrap();
        assert_eq!(calls[0].model_calls, 1);
        // The user's message is kept even though the turn failed.
        assert_eq!(
            h.store().load_messages(&h.chat.id).unwrap()[0].joined(PartKind::Text),
            "hi"
        );
    }
}

#[tokio::test]
async fn retryable_errors_are_retried_then_succeed() {
    let script = vec![
        Reply::http_error_fixture(429, "X-err-429-rate-limit-reached.json").into(),
        Reply::http_error_fixture(503, "X-err-503-server-overloaded.json").into(),
        Reply::text("finally").into(),
    ];
    let mut h = Harness::new(script, ApprovalMode::ReadOnly).await;
    let outcome = h.turn("hi").await;
    assert_eq!(outcome.status, TurnStatus::Completed, "{:?}", outcome.error);
    assert_eq!(outcome.final_text.as_deref(), Some("finally"));
    assert_eq!(h.server.request_count(), 3);
    let retries = h
        .drain_events()
        .into_iter()
        .filter(|e| matches!(e, Event::Retrying { .. }))
        .count();
    assert_eq!(retries, 2);

    // 500s and insufficient_system_resource too, until attempts run out.
    let script = vec![
        Reply::http_error(500, r#"{"error":{"message":"boom"}}"#).into(),
        Reply::text("partial")
            .finish_reason("insufficient_system_resource")
            .into(),
        Reply::http_error(500, r#"{"error":{"message":"boom again"}}"#).into(),
    ];
    let h = Harness::new(script, ApprovalMode::ReadOnly).await;
    let outcome = h.turn("hi").await;
    assert_eq!(outcome.status, TurnStatus::Failed);
    assert_eq!(
        h.server.request_count(),
        3,
        "max_attempts = 3 in the test config"
    );
    assert!(outcome.error.unwrap().contains("boom again"));
}

#[tokio::test]
async fn a_stream_cut_midway_is_retried_without_duplicating_text() {
    let script = vec![
        Reply::cut("The quick brown").into(),
        Reply::text("The quick brown fox.").into(),
    ];
    let mut h = Harness::new(script, ApprovalMode::ReadOnly).await;
    let outcome = h.turn("hi").await;
    assert_eq!(outcome.status, TurnStatus::Completed, "{:?}", outcome.error);
    assert_eq!(outcome.final_text.as_deref(), Some("The quick brown fox."));
    let events = h.drain_events();
    assert!(events.iter().any(|e| matches!(
        e,
        Event::Retrying {
            discard_partial: true,
            ..
        }
    )));
    let messages = h.store().load_messages(&h.chat.id).unwrap();
    assert_eq!(messages[1].joined(PartKind::Text), "The quick brown fox.");
}

fn cut_off_create_file() -> Reply {
    Reply::truncated(
        "I will create it.",
        vec![CallSpec::new(
            "create_file",
            r#"{"file_path":"cut.txt","content":"from a cut-off reply\n"}"#,
        )],
    )
}

#[tokio::test]
async fn a_cut_off_reply_is_retried_and_its_tool_calls_never_run() {
    let script = vec![
        cut_off_create_file().into(),
        Reply::text("Nothing to do.").into(),
    ];
    let mut h = Harness::new(script, ApprovalMode::Auto).await;
    let outcome = h.turn("make the file").await;
    assert_eq!(outcome.status, TurnStatus::Completed, "{:?}", outcome.error);
    assert_eq!(outcome.final_text.as_deref(), Some("Nothing to do."));
    assert!(!h.root().join("cut.txt").exists(), "a cut-off call ran");
    assert!(traces(&h).is_empty());
    assert_eq!(h.server.request_count(), 2);
    assert!(h.drain_events().iter().any(|e| matches!(
        e,
        Event::Retrying {
            discard_partial: true,
            ..
        }
    )));
    let messages = h.store().load_messages(&h.chat.id).unwrap();
    assert_eq!(messages.len(), 2, "{messages:#?}");
    assert_eq!(messages[1].status, "complete");
    assert_eq!(messages[1].joined(PartKind::Text), "Nothing to do.");
    assert!(messages[1]
        .parts
        .iter()
        .all(|p| p.kind != PartKind::ToolCall));
}

#[tokio::test]
async fn a_reply_cut_off_on_every_attempt_fails_the_turn() {
    let script = vec![cut_off_create_file().repeat()];
    let h = Harness::new(script, ApprovalMode::Auto).await;
    let outcome = h.turn("make the file").await;
    assert_eq!(outcome.status, TurnStatus::Failed);
    let error = outcome.error.unwrap();
    assert!(error.contains("cut off"), "{error}");
    assert_eq!(h.server.request_count(), 3, "max_attempts = 3");
    assert!(!h.root().join("cut.txt").exists(), "a cut-off call ran");
    assert!(traces(&h).is_empty());
    let messages = h.store().load_messages(&h.chat.id).unwrap();
    assert_eq!(messages.len(), 2, "{messages:#?}");
    assert_eq!(messages[1].status, "failed");
    assert!(messages[1].error.as_deref().unwrap().contains("cut off"));
    assert!(messages[1]
        .parts
        .iter()
        .all(|p| p.kind != PartKind::ToolCall));
}

#[tokio::test]
async fn a_finished_reply_is_kept_while_the_server_holds_the_connection() {
    let script = vec![
        Reply::hold_before_done(60_000, Reply::text("All done.")).into(),
        Reply::text("a retry happened").into(),
    ];
    let config = format!("{FAST_RETRIES}idle_timeout_secs = 5\n");
    let mut h = Harness::with_config(script, ApprovalMode::ReadOnly, &config).await;
    let started = std::time::Instant::now();
    let outcome = h.turn("hi").await;
    assert_eq!(outcome.status, TurnStatus::Completed, "{:?}", outcome.error);
    assert_eq!(outcome.final_text.as_deref(), Some("All done."));
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "waited {:?} on a complete reply",
        started.elapsed()
    );
    assert_eq!(h.server.request_count(), 1);
    assert!(!h
        .drain_events()
        .iter()
        .any(|e| matches!(e, Event::Retrying { .. })));
    assert!(outcome.usage.completion_tokens > 0, "usage was kept");
}

#[tokio::test]
async fn a_midstream_error_object_ends_the_turn() {
    let script = vec![Reply::midstream_error(
        "The quick brown",
        json!({"message": "Server overloaded due to high traffic.", "code": "server_overloaded"}),
    )
    .into()];
    let h = Harness::new(script, ApprovalMode::ReadOnly).await;
    let outcome = h.turn("hi").await;
    assert_eq!(outcome.status, TurnStatus::Failed);
    assert!(outcome.error.unwrap().contains("Server overloaded"));
    let messages = h.store().load_messages(&h.chat.id).unwrap();
    assert_eq!(messages[1].status, "failed");
    assert_eq!(messages[1].joined(PartKind::Text), "The quick brown");
}

#[tokio::test]
async fn cancelling_mid_stream_stops_at_once_and_keeps_the_partial_reply() {
    let script = vec![Reply::stall_mid_stream("Thinking about it", 30_000).into()];
    let mut h = Harness::new(script, ApprovalMode::ReadOnly).await;
    let engine = h.engine.clone();
    let chat_id = h.chat.id.clone();
    let turn = tokio::spawn(async move {
        engine
            .run_turn(TurnRequest::new(&chat_id, "hi", ApprovalMode::ReadOnly))
            .await
    });
    // Wait for the first streamed text, then cancel.
    loop {
        match tokio::time::timeout(Duration::from_secs(10), h.events.recv()).await {
            Ok(Some(Event::TextDelta { .. })) => break,
            Ok(Some(_)) => continue,
            other => panic!("no text streamed: {other:?}"),
        }
    }
    let cancelled_at = std::time::Instant::now();
    assert!(h.engine.rt.cancel_turn(&h.chat.id));
    let outcome = tokio::time::timeout(Duration::from_secs(5), turn)
        .await
        .unwrap()
        .unwrap();
    assert!(cancelled_at.elapsed() < Duration::from_secs(2));
    assert_eq!(outcome.status, TurnStatus::Cancelled);
    let messages = h.store().load_messages(&h.chat.id).unwrap();
    assert_eq!(messages[1].status, "cancelled");
    assert!(messages[1].joined(PartKind::Text).starts_with("Think"));
    // The chat takes a new turn afterwards, and the model sees a consistent history.
    h.server.push(Reply::text("back"));
    let outcome = h.turn("again").await;
    assert_eq!(outcome.status, TurnStatus::Completed, "{:?}", outcome.error);
}

#[tokio::test]
async fn cancelling_mid_command_kills_it_and_answers_the_call() {
    let script = vec![Reply::tool_calls(vec![CallSpec::new(
        "run_command",
        r#"{"command":"sleep","args":["30"]}"#,
    )
    .id("k1")])
    .into()];
    let mut h = Harness::new(script, ApprovalMode::Auto).await;
    let engine = h.engine.clone();
    let chat_id = h.chat.id.clone();
    let turn = tokio::spawn(async move {
        engine
            .run_turn(TurnRequest::new(&chat_id, "sleep", ApprovalMode::Auto))
            .await
    });
    loop {
        match tokio::time::timeout(Duration::from_secs(10), h.events.recv()).await {
            Ok(Some(Event::ToolStarted { .. })) => break,
            Ok(Some(_)) => continue,
            other => panic!("tool never started: {other:?}"),
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    h.engine.rt.cancel_turn(&h.chat.id);
    let outcome = tokio::time::timeout(Duration::from_secs(5), turn)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(outcome.status, TurnStatus::Cancelled);
    let t = traces(&h);
    assert_eq!(t[0].outcome.as_deref(), Some("cancelled"));
    assert!(t[0].latency_ms.unwrap() < 5_000);
    // The call is answered in history so the next request is valid.
    h.server.push(Reply::text("ok"));
    let outcome = h.turn("next").await;
    assert_eq!(outcome.status, TurnStatus::Completed, "{:?}", outcome.error);
    let results = tool_results(h.server.requests().last().unwrap());
    assert_eq!(results[0].0, "k1");
}

#[tokio::test]
async fn read_only_denies_writes_and_review_holds_them() {
    let edit = r#"{"file_path":"README.md","old_string":"teh","new_string":"the"}"#;
    let script = vec![
        Reply::tool_calls(vec![
            CallSpec::new("edit_file", edit).id("w1"),
            CallSpec::new("run_command", r#"{"command":"touch","args":["x"]}"#).id("w2"),
        ])
        .into(),
        Reply::text("denied").when(Match::has_tool_result_for("w2")),
    ];
    let h = Harness::new(script.clone(), ApprovalMode::ReadOnly).await;
    h.turn("fix").await;
    let t = traces(&h);
    assert_eq!(t[0].outcome.as_deref(), Some("denied"));
    assert_eq!(t[1].outcome.as_deref(), Some("denied"));
    assert!(!h.root().join("x").exists());
    assert!(std::fs::read_to_string(h.root().join("README.md"))
        .unwrap()
        .contains("teh"));

    let h = Harness::new(script, ApprovalMode::Review).await;
    h.turn("fix").await;
    let t = traces(&h);
    assert_eq!(t[0].outcome.as_deref(), Some("success"));
    assert!(t[0].tool_output.as_deref().unwrap().contains("pending"));
    // Headless review mode cannot ask for a yes: the command is refused.
    assert_eq!(t[1].outcome.as_deref(), Some("denied"));
    assert!(std::fs::read_to_string(h.root().join("README.md"))
        .unwrap()
        .contains("teh"));
    let pending = h.store().list_pending_changes(Some(&h.chat.id)).unwrap();
    assert_eq!(pending.len(), 1);
    h.engine.rt.resolve_change(&pending[0].id, true).unwrap();
    assert!(std::fs::read_to_string(h.root().join("README.md"))
        .unwrap()
        .contains("This is the demo"));
    assert!(h.engine.rt.resolve_change(&pending[0].id, true).is_err());
    // Decided the other way: the file goes back, then the change is applied again.
    h.engine.rt.resolve_change(&pending[0].id, false).unwrap();
    assert!(std::fs::read_to_string(h.root().join("README.md"))
        .unwrap()
        .contains("teh"));
    h.engine.rt.resolve_change(&pending[0].id, true).unwrap();
    assert!(std::fs::read_to_string(h.root().join("README.md"))
        .unwrap()
        .contains("This is the demo"));
    // A revert never overwrites the user's own edit made since.
    write(&h.root(), "README.md", "mine\n");
    let err = h
        .engine
        .rt
        .resolve_change(&pending[0].id, false)
        .unwrap_err();
    assert!(format!("{err:#}").contains("was modified"), "{err:#}");
    assert_eq!(
        std::fs::read_to_string(h.root().join("README.md")).unwrap(),
        "mine\n"
    );
    assert_eq!(
        h.store().get_pending_change(&pending[0].id).unwrap().status,
        "applied"
    );
}

#[tokio::test]
async fn stopping_the_engine_ends_running_work_as_cancelled_not_crashed() {
    let script = vec![Reply::stall_mid_stream("Working on it", 30_000).repeat()];
    let mut h = Harness::new(script, ApprovalMode::ReadOnly).await;
    h.engine.submit(Command::SendMessage {
        chat_id: h.chat.id.clone(),
        text: "hi".into(),
        attachments: vec![],
    });
    let task = h
        .store()
        .create_task(&NewTask {
            session_id: &h.session.id,
            parent_chat_id: Some(&h.chat.id),
            label: Some("side"),
            input: "look around",
            model: &h.chat.model,
            agent: "general-purpose",
        })
        .unwrap();
    // Both the chat and the task's sub-agent are streaming a reply.
    let mut streaming = std::collections::HashSet::new();
    while streaming.len() < 2 {
        match tokio::time::timeout(Duration::from_secs(10), h.events.recv()).await {
            Ok(Some(Event::TextDelta { chat_id, .. })) => {
                streaming.insert(chat_id);
            }
            Ok(Some(_)) => {}
            other => panic!("no text streamed: {other:?}"),
        }
    }
    assert_eq!(
        h.engine.running_work(),
        RunningWork {
            turns: 1,
            tasks: 1,
            runs: 0
        }
    );
    let left = h.engine.stop_work(Duration::from_secs(5)).await;
    assert!(left.is_empty(), "{left:?}");
    let messages = h.store().load_messages(&h.chat.id).unwrap();
    assert_eq!(messages[1].status, "cancelled");
    assert_eq!(h.store().get_task(&task.id).unwrap().status, "cancelled");
    // Nothing is left for the next start's crash recovery: nothing still reads as running.
    assert_ne!(h.store().get_chat(&h.chat.id).unwrap().status, "running");
    let snapshot = h.store().load_snapshot(&h.chat.id).unwrap().unwrap();
    assert_eq!(snapshot.state, "idle", "{snapshot:?}");
}

#[tokio::test]
async fn the_step_cap_ends_a_looping_turn() {
    let script = vec![Reply::tool_call("list_dir", "{}").repeat()];
    let config = format!("{FAST_RETRIES}max_steps = 3\n");
    let h = Harness::with_config(script, ApprovalMode::ReadOnly, &config).await;
    let outcome = h.turn("loop").await;
    assert_eq!(outcome.status, TurnStatus::StepLimit);
    assert!(outcome.error.unwrap().contains("step cap"));
    assert_eq!(h.server.request_count(), 3);
    assert_eq!(traces(&h).len(), 3);
}

#[tokio::test]
async fn images_are_sent_as_data_uris_and_other_files_refused_before_any_request() {
    let h = Harness::new(vec![Reply::text("a cat").into()], ApprovalMode::ReadOnly).await;
    // A valid 1x1 PNG.
    let png: &[u8] = &[
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44,
        0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F,
        0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0A, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00,
        0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49,
        0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
    ];
    std::fs::write(h.root().join("cat.png"), png).unwrap();
    let mut bad = TurnRequest::new(&h.chat.id, "what is this?", ApprovalMode::ReadOnly);
    bad.attachments = vec!["README.md".into()];
    let outcome = h.engine.run_turn(bad).await;
    assert_eq!(outcome.status, TurnStatus::Failed);
    assert!(outcome.error.unwrap().contains("README.md"));
    assert_eq!(h.server.request_count(), 0);
    assert_eq!(h.store().message_count(&h.chat.id).unwrap(), 0);

    let mut good = TurnRequest::new(&h.chat.id, "what is this?", ApprovalMode::ReadOnly);
    good.attachments = vec!["cat.png".into()];
    let outcome = h.engine.run_turn(good).await;
    assert_eq!(outcome.status, TurnStatus::Completed, "{:?}", outcome.error);
    let req = &h.server.requests()[0];
    let user = req["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "user")
        .unwrap();
    let url = user["content"][1]["image_url"]["url"].as_str().unwrap();
    assert!(url.starts_with("data:image/png;base64,iVBOR"), "{url}");
    let msg = &h.store().load_messages(&h.chat.id).unwrap()[0];
    assert_eq!(msg.parts[1].kind, PartKind::Image);
}

/// Leaves the chat as a process killed mid-step leaves it: a snapshot whose last assistant
/// message made `calls`, none of them answered, and a trace for each call in `started` — still
/// open, or finished with the given output when its result was not recorded yet.
fn interrupted_step(h: &Harness, calls: &[ToolCall], started: &[(&str, Option<&str>)]) {
    let history = vec![
        ChatMessage::system("You are a test."),
        ChatMessage::user("go"),
        ChatMessage::Assistant {
            content: None,
            reasoning_content: None,
            tool_calls: calls.to_vec(),
        },
    ];
    h.store()
        .save_snapshot(&AgentSnapshot {
            chat_id: h.chat.id.clone(),
            model: h.chat.model.clone(),
            agent: h.chat.agent.clone(),
            mode: "auto".into(),
            state: "running_tools".into(),
            turn_number: 1,
            step: 1,
            history,
            pending_tool_calls: calls.to_vec(),
        })
        .unwrap();
    for (call_id, output) in started {
        let call = calls.iter().find(|c| c.id == *call_id).unwrap();
        let row = TraceRow::started(&h.chat, 1, call, call.function.arguments.clone());
        h.store().begin_trace(&row).unwrap();
        if let Some(output) = output {
            h.store()
                .finish_trace(
                    &row.id,
                    &TraceCompletion {
                        output,
                        diff: None,
                        error: None,
                        outcome: "success",
                        latency_ms: 5,
                    },
                )
                .unwrap();
        }
    }
}

/// The `tool` message answering `call_id` in a recorded request.
fn result_for(request: &Value, call_id: &str) -> String {
    let results: Vec<String> = tool_results(request)
        .into_iter()
        .filter(|(id, _)| id == call_id)
        .map(|(_, content)| content)
        .collect();
    assert_eq!(results.len(), 1, "{call_id}: {results:?}");
    results.into_iter().next().unwrap()
}

#[tokio::test]
async fn resume_tells_the_model_a_started_command_was_interrupted_instead_of_running_it() {
    let h = Harness::new(
        vec![Reply::text("resumed").when(Match::has_tool_result_for("c_create"))],
        ApprovalMode::Auto,
    )
    .await;
    let touch = json!({"command": "sh", "args": ["-c", "echo ran >> runs"]}).to_string();
    let create = json!({"file_path": "new.txt", "content": "made\n"}).to_string();
    interrupted_step(
        &h,
        &[
            ToolCall::new("c_touch", "run_command", touch),
            ToolCall::new("c_create", "create_file", create),
        ],
        &[("c_touch", None)],
    );
    let outcome = h.engine.resume_chat(&h.chat.id, None).await;
    assert_eq!(outcome.status, TurnStatus::Completed, "{:?}", outcome.error);
    assert!(
        !h.root().join("runs").exists(),
        "the started command ran again"
    );
    // The call that never started runs as usual.
    assert_eq!(
        std::fs::read_to_string(h.root().join("new.txt")).unwrap(),
        "made\n"
    );
    let request = &h.server.requests()[0];
    assert_eq!(result_for(request, "c_touch"), INTERRUPTED_CALL_RESULT);
    assert!(!result_for(request, "c_create").starts_with("error"));
    // The stored transcript has the same answer.
    let stored = h.store().load_messages(&h.chat.id).unwrap();
    assert!(stored
        .iter()
        .any(|m| m.role == "tool" && m.joined(PartKind::ToolResult) == INTERRUPTED_CALL_RESULT));
    assert_eq!(
        traces(&h).len(),
        2,
        "one trace each: the old one and create_file's"
    );
}

#[tokio::test]
async fn resume_reruns_started_reads_and_returns_a_finished_calls_recorded_result() {
    let h = Harness::new(
        vec![Reply::text("resumed").when(Match::has_tool_result_for("c_read"))],
        ApprovalMode::Auto,
    )
    .await;
    let again = json!({"command": "sh", "args": ["-c", "echo ran >> runs"]}).to_string();
    interrupted_step(
        &h,
        &[
            ToolCall::new("c_done", "run_command", again),
            ToolCall::new("c_read", "read_file", r#"{"file_path":"README.md"}"#),
        ],
        &[
            ("c_done", Some("exit code: 0\nthe first run\n")),
            ("c_read", None),
        ],
    );
    let outcome = h.engine.resume_chat(&h.chat.id, None).await;
    assert_eq!(outcome.status, TurnStatus::Completed, "{:?}", outcome.error);
    assert!(
        !h.root().join("runs").exists(),
        "the finished command ran again"
    );
    let request = &h.server.requests()[0];
    assert_eq!(
        result_for(request, "c_done"),
        "exit code: 0\nthe first run\n"
    );
    assert!(
        result_for(request, "c_read").contains("This is teh demo project."),
        "the read was not run again"
    );
    let reads = traces(&h)
        .into_iter()
        .filter(|t| t.tool_call_id.as_deref() == Some("c_read"))
        .count();
    assert_eq!(reads, 2);
}
