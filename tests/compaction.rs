//! Context compaction end to end: the agent loop against the scripted model server with a
//! context limit, a summariser and a simulated prompt cache.

mod support;

use std::time::Duration;

use boocode::core::agent::tools::ApprovalMode;
use boocode::core::agent::TurnStatus;
use boocode::core::context::compaction::SUMMARY_PROMPT_HEAD;
use boocode::core::events::{Command, Event};
use boocode::core::llm::types::{ChatMessage, ToolCall};
use boocode::core::store::{AgentSnapshot, PartKind};
use serde_json::Value;

use support::harness::{write, Harness, FAST_RETRIES};
use support::mock_server::{CallSpec, Match, Reply, Step};

/// A file whose `read_file` output is about 6k tokens.
const BIG_FILE: &str = "big.txt";

fn big_file_text() -> String {
    (0..300)
        .map(|i| format!("{i:04} {}\n", "lorem ipsum dolor sit amet ".repeat(3)))
        .collect()
}

/// The summariser, first in every script: it answers whatever asks for a summary.
fn summariser() -> Step {
    Reply::summary()
        .when(Match::last_user_contains(SUMMARY_PROMPT_HEAD))
        .repeat()
}

/// Turn `n` (its prompt contains `task-n:`) reads the big file, then answers.
fn reading_turn(n: usize) -> Vec<Step> {
    let id = format!("read_{n}");
    vec![
        Reply::text(format!("read it ({n})")).when(Match::All(vec![
            Match::has_tool_result_for(&id),
            Match::last_role("tool"),
        ])),
        Reply::tool_calls(vec![CallSpec::new(
            "read_file",
            format!(r#"{{"file_path":"{BIG_FILE}"}}"#),
        )
        .id(&id)])
        .when(Match::All(vec![
            Match::last_user_contains(format!("task-{n}:")),
            Match::last_role("user"),
        ])),
    ]
}

async fn harness(script: Vec<Step>, window: u64) -> Harness {
    let config = format!("{FAST_RETRIES}[models.mock-model]\ncontext_window = {window}\n");
    let h = Harness::with_config(script, ApprovalMode::ReadOnly, &config).await;
    write(h.project.path(), BIG_FILE, &big_file_text());
    h
}

fn compactions(events: &[Event]) -> Vec<(String, String, usize, usize, u64, u64)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::ContextCompacted {
                chat_id,
                trigger,
                clipped,
                summarized,
                before,
                after,
                ..
            } => Some((
                chat_id.clone(),
                trigger.clone(),
                *clipped,
                *summarized,
                *before,
                *after,
            )),
            _ => None,
        })
        .collect()
}

fn messages(request: &Value) -> &Vec<Value> {
    request["messages"].as_array().unwrap()
}

fn is_summary_request(request: &Value) -> bool {
    messages(request)
        .last()
        .and_then(|m| m["content"].as_str())
        .is_some_and(|t| t.contains(SUMMARY_PROMPT_HEAD))
}

fn tool_result(request: &Value, call_id: &str) -> Option<String> {
    messages(request)
        .iter()
        .find(|m| m["role"] == "tool" && m["tool_call_id"] == call_id)
        .map(|m| m["content"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn old_bulky_tool_outputs_are_clipped_first_and_the_prefix_stays_byte_identical() {
    let turns = 5;
    let mut script = vec![summariser()];
    script.extend((1..=turns).flat_map(reading_turn));
    let mut h = harness(script, 32_000).await;
    h.server.set_context_limit(Some(32_000));
    for n in 1..=turns {
        let outcome = h.turn(&format!("task-{n}: read {BIG_FILE}")).await;
        assert_eq!(outcome.status, TurnStatus::Completed, "{:?}", outcome.error);
    }
    let events = h.drain_events();
    let done = compactions(&events);
    assert!(!done.is_empty(), "the session compacted");
    for (chat, trigger, clipped, summarized, before, after) in &done {
        assert_eq!(chat, &h.chat.id);
        assert_eq!(trigger, "auto");
        assert!(*clipped >= 1 && *summarized == 0, "clipping was enough");
        assert!(after < before && *before > 25_600, "{before} → {after}");
    }
    let requests = h.server.requests();
    assert!(!requests.iter().any(is_summary_request));
    let last = requests.last().unwrap();
    let read_1 = tool_result(last, "read_1").unwrap();
    assert!(read_1.starts_with("[output clipped by boocode"), "{read_1}");
    assert!(read_1.contains("read_file returned"), "{read_1}");
    let latest = tool_result(last, &format!("read_{turns}")).unwrap();
    assert!(
        latest.contains("0299 lorem"),
        "the newest output is verbatim"
    );
    // Every request starts with the same system prompt and tools, and the first turn's
    // messages are sent as they were until its output was clipped.
    for r in &requests {
        assert_eq!(r["messages"][0], requests[0]["messages"][0]);
        assert_eq!(r["tools"], requests[0]["tools"]);
        assert_eq!(r["messages"][1], requests[0]["messages"][1]);
    }
    // The transcript keeps every output whole, and says what happened.
    let stored = h.store().load_messages(&h.chat.id).unwrap();
    let notices: Vec<String> = stored
        .iter()
        .filter(|m| m.role == "compaction")
        .map(|m| m.parts[0].content.clone())
        .collect();
    assert_eq!(notices.len(), done.len());
    assert!(
        notices[0].starts_with("context compacted: ") && notices[0].ends_with(" tokens"),
        "{notices:?}"
    );
    assert!(stored
        .iter()
        .filter(|m| m.role == "tool")
        .all(|m| m.joined(PartKind::ToolResult).contains("0299 lorem")));
    assert!(
        stored.iter().all(|m| !m.compacted),
        "nothing was summarised"
    );
}

/// Turn `n`'s prompt: `task-n:` and 8 KB of text no clipping can shorten.
fn long_prompt(n: usize) -> String {
    format!(
        "task-{n}: consider this. {}",
        "words to keep in mind ".repeat(370)
    )
}

#[tokio::test]
async fn a_summary_stands_in_for_old_turns_and_the_next_one_folds_it_in() {
    let turns = 8;
    let mut script = vec![summariser()];
    script.extend((1..=turns).map(|n| {
        Reply::text(format!("noted {n}"))
            .when(Match::last_user_contains(format!("task-{n}:")))
            .into()
    }));
    let mut h = harness(script, 16_000).await;
    h.server.set_context_limit(Some(16_000));
    for n in 1..=turns {
        let outcome = h.turn(&long_prompt(n)).await;
        assert_eq!(outcome.status, TurnStatus::Completed, "{:?}", outcome.error);
    }
    let done = compactions(&h.drain_events());
    assert!(done.len() >= 2, "{done:?}");
    assert!(done.iter().all(|d| d.1 == "auto" && d.3 > 0), "{done:?}");

    let requests = h.server.requests();
    let summaries: Vec<&Value> = requests.iter().filter(|r| is_summary_request(r)).collect();
    assert_eq!(summaries.len(), done.len());
    // The second summary request summarises the first summary with the turns after it.
    let second = messages(summaries[1])[1]["content"].as_str().unwrap();
    assert!(second.contains("<conversation-summary>"), "{second}");
    assert!(second.contains("Summary of"), "{second}");
    // The last request: system prompt, the summary with its turn's own text, recent turns.
    let last = requests.last().unwrap();
    assert_eq!(last["messages"][0], requests[0]["messages"][0]);
    let first = messages(last)[1]["content"].as_str().unwrap();
    assert!(first.starts_with("<conversation-summary>"), "{first}");
    assert_eq!(first.matches("<conversation-summary>").count(), 1);
    assert!(
        !messages(last)
            .iter()
            .any(|m| m["content"].as_str() == Some(long_prompt(1).as_str())),
        "turn 1 is no longer sent"
    );
    assert_eq!(
        messages(last).last().unwrap()["content"],
        long_prompt(turns).as_str(),
        "the task at hand is sent verbatim"
    );
    // The transcript has everything, the covered turns marked as compacted.
    let stored = h.store().load_messages(&h.chat.id).unwrap();
    let user_of = |turn: i64| {
        stored
            .iter()
            .find(|m| m.role == "user" && m.turn_number == turn)
            .unwrap()
    };
    assert!(user_of(1).compacted);
    assert_eq!(user_of(1).joined(PartKind::Text), long_prompt(1));
    assert!(!user_of(turns as i64).compacted);
    let summaries: Vec<_> = stored.iter().filter(|m| m.role == "compaction").collect();
    assert_eq!(summaries.len(), done.len());
    assert!(summaries.iter().all(|m| !m.compacted && m.parts.len() == 2));
    let rows = h.store().compactions(&h.chat.id).unwrap();
    assert!(rows
        .windows(2)
        .all(|w| w[0].covers_before_seq < w[1].covers_before_seq));
    // Each summary's own turn keeps its user message (its text is still sent).
    for row in &rows {
        let kept = stored
            .iter()
            .find(|m| Some(m.seq) == row.kept_user_seq)
            .unwrap();
        assert_eq!(kept.role, "user");
        assert!(!kept.compacted || row != rows.last().unwrap());
    }
}

#[tokio::test]
async fn a_context_overflow_compacts_and_retries_the_request_once() {
    let mut script = vec![summariser()];
    script.extend((1..=2).flat_map(reading_turn));
    // The model is thought to have 64k; the server takes 14k.
    let mut h = harness(script, 65_536).await;
    h.server.set_context_limit(Some(14_000));
    for n in 1..=2 {
        let outcome = h.turn(&format!("task-{n}: read {BIG_FILE}")).await;
        assert_eq!(outcome.status, TurnStatus::Completed, "{:?}", outcome.error);
    }
    let done = compactions(&h.drain_events());
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(done[0].1, "overflow");
    let stored = h.store().load_messages(&h.chat.id).unwrap();
    let failed: Vec<_> = stored.iter().filter(|m| m.status == "failed").collect();
    assert_eq!(failed.len(), 1, "the refused request is on record");
    assert!(failed[0]
        .error
        .as_deref()
        .unwrap()
        .contains("longer than the model's context window"));
    assert_eq!(
        h.store()
            .last_assistant_text(&h.chat.id)
            .unwrap()
            .as_deref(),
        Some("read it (2)")
    );
}

#[tokio::test]
async fn an_overflow_that_compacting_cannot_fix_fails_the_turn_clearly() {
    let mut h = harness(vec![summariser(), Reply::text("never").into()], 65_536).await;
    h.server.set_context_limit(Some(500));
    let outcome = h.turn("hello").await;
    assert_eq!(outcome.status, TurnStatus::Failed);
    let error = outcome.error.unwrap();
    assert!(
        error.contains("longer than the model's context window")
            && error.contains("nothing left to compact"),
        "{error}"
    );
    assert!(compactions(&h.drain_events()).is_empty());

    // A task too big on its own is summarised around, retried once, then refused.
    let mut script = vec![summariser()];
    script.extend(reading_turn(1));
    let mut h = harness(script, 65_536).await;
    h.server.set_context_limit(Some(16_000));
    let outcome = h.turn(&format!("task-1: read {BIG_FILE}")).await;
    assert_eq!(outcome.status, TurnStatus::Completed, "{:?}", outcome.error);
    let huge = format!("task-2: {}", "x".repeat(60_000));
    let outcome = h.turn(&huge).await;
    assert_eq!(outcome.status, TurnStatus::Failed);
    let error = outcome.error.unwrap();
    assert!(error.contains("still did not fit"), "{error}");
    assert_eq!(compactions(&h.drain_events()).len(), 1);
}

/// Three short turns, then `/compact` with a focus.
async fn compacted_by_hand() -> Harness {
    let mut script = vec![summariser()];
    script.extend((1..=3).map(|n| {
        Reply::text(format!("answer {n}"))
            .when(Match::last_user_contains(format!("task-{n}:")))
            .into()
    }));
    let mut h = harness(script, 65_536).await;
    for n in 1..=3 {
        let outcome = h.turn(&format!("task-{n}: say something")).await;
        assert_eq!(outcome.status, TurnStatus::Completed, "{:?}", outcome.error);
    }
    h.drain_events();
    h.engine.submit(Command::CompactChat {
        chat_id: h.chat.id.clone(),
        focus: Some("the parser".into()),
    });
    let event = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match h.events.recv().await {
                Some(e @ Event::ContextCompacted { .. }) => break e,
                Some(Event::Notice { message }) => panic!("{message}"),
                Some(_) => {}
                None => panic!("engine stopped"),
            }
        }
    })
    .await
    .expect("no compaction");
    let Event::ContextCompacted {
        trigger,
        summarized,
        summary,
        ..
    } = event
    else {
        unreachable!()
    };
    assert_eq!(trigger, "manual");
    assert_eq!(
        summarized, 3,
        "turns 1 and 2 (user + answer), and turn 3's answer"
    );
    assert!(summary.unwrap().starts_with("Summary of"));
    h
}

#[tokio::test]
async fn compact_command_summarises_everything_but_the_last_turn_minding_the_focus() {
    let h = compacted_by_hand().await;
    let requests = h.server.requests();
    let summary_request = requests.last().unwrap();
    assert!(is_summary_request(summary_request));
    let prompt = messages(summary_request).last().unwrap()["content"]
        .as_str()
        .unwrap();
    assert!(prompt.ends_with("focus on: the parser"), "{prompt}");
    assert_eq!(summary_request["tool_choice"], "none");
    // The snapshot is what the next request sends: the summary with turn 3's own text.
    let snapshot = h.store().load_snapshot(&h.chat.id).unwrap().unwrap();
    assert_eq!(snapshot.state, "idle");
    assert_eq!(snapshot.history.len(), 3, "{:?}", snapshot.history);
    let ChatMessage::User { content } = &snapshot.history[1] else {
        panic!("{:?}", snapshot.history[1])
    };
    let text = serde_json::to_string(content).unwrap();
    assert!(text.contains("Summary of") && text.ends_with("task-3: say something\""));
}

#[tokio::test]
async fn resume_after_a_compaction_sends_the_summary_and_what_it_does_not_cover() {
    let h = compacted_by_hand().await;
    let mut snapshot: AgentSnapshot = h.store().load_snapshot(&h.chat.id).unwrap().unwrap();
    let call = ToolCall::new("call_r", "read_file", r#"{"file_path":"README.md"}"#);
    snapshot.history.push(ChatMessage::Assistant {
        content: None,
        reasoning_content: None,
        tool_calls: vec![call.clone()],
    });
    snapshot.pending_tool_calls = vec![call];
    snapshot.state = "running_tools".into();
    h.store().save_snapshot(&snapshot).unwrap();
    h.server
        .push(Reply::text("resumed").when(Match::has_tool_result_for("call_r")));
    let outcome = h.engine.resume_chat(&h.chat.id, None).await;
    assert_eq!(outcome.status, TurnStatus::Completed, "{:?}", outcome.error);
    let request = h.server.last_request().unwrap();
    let sent = messages(&request);
    assert_eq!(sent.len(), snapshot.history.len() + 1);
    for (sent, kept) in sent.iter().zip(&snapshot.history) {
        assert_eq!(sent, &serde_json::to_value(kept).unwrap());
    }
    assert!(!sent
        .iter()
        .any(|m| m["content"].as_str() == Some("task-1: say something")));
}

#[tokio::test]
async fn a_background_task_compacts_inside_its_long_turn() {
    let reads = 6;
    let mut script = vec![
        summariser(),
        Reply::tool_calls(vec![CallSpec::new(
            "spawn_subagent",
            r#"{"input":"bg-reader: read it"}"#,
        )
        .id("spawn")])
        .when(Match::last_user_contains("spawn it"))
        .into(),
        Reply::text("spawned").when(Match::has_tool_result_for("spawn")),
        Reply::text("all read").when(Match::has_tool_result_for(format!("bg_{reads}"))),
    ];
    // One step per read, all in the sub-agent's only turn.
    script.extend((1..reads).rev().map(|n| {
        Reply::tool_calls(vec![CallSpec::new(
            "read_file",
            format!(r#"{{"file_path":"{BIG_FILE}"}}"#),
        )
        .id(format!("bg_{}", n + 1))])
        .when(Match::has_tool_result_for(format!("bg_{n}")))
        .into()
    }));
    script.push(
        Reply::tool_calls(vec![CallSpec::new(
            "read_file",
            format!(r#"{{"file_path":"{BIG_FILE}"}}"#),
        )
        .id("bg_1")])
        .when(Match::last_user_contains("bg-reader"))
        .into(),
    );
    let mut h = harness(script, 32_000).await;
    h.server.set_context_limit(Some(32_000));
    let outcome = h.turn("spawn it").await;
    assert_eq!(outcome.status, TurnStatus::Completed, "{:?}", outcome.error);
    h.engine.wait_for_tasks_of(&h.chat.id).await.unwrap();
    let tasks = h.store().list_tasks(None).unwrap();
    assert_eq!(tasks[0].status, "completed", "{:?}", tasks[0].error);
    let done = compactions(&h.drain_events());
    let sub_chat = tasks[0].chat_id.clone().unwrap();
    assert!(
        done.iter().any(|d| d.0 == sub_chat && d.2 > 0),
        "the sub-agent's chat compacted: {done:?}"
    );
    let task_text = h.store().last_assistant_text(&sub_chat).unwrap();
    assert_eq!(task_text.as_deref(), Some("all read"));
}
