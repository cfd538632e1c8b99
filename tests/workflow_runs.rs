//! Workflow runs on the parent side, against the scripted model server and a fake script
//! worker (`tests/fixtures/fake_workflow_worker.py`, which replays the steps written in the
//! script between `/*FAKE` and `*/`).

mod support;

use std::time::{Duration, Instant};

use boocode::core::agent::tools::ApprovalMode;
use boocode::core::agents::{approval, registry};
use boocode::core::events::Event;
use boocode::core::trust::ProjectTrust;
use boocode::core::workflow::{RunOptions, RunOutcome, WorkerCommand};
use serde_json::{json, Value};

use support::harness::{commit_all, write, Harness};
use support::mock_server::{CallSpec, Match, Reply, Step, UsageSpec};

fn fake_worker() -> WorkerCommand {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/fake_workflow_worker.py"
    );
    WorkerCommand::new("python3", &[script])
}

async fn harness(script: Vec<Step>) -> Harness {
    let h = Harness::new(script, ApprovalMode::ReadOnly).await;
    h.engine.set_workflow_worker(fake_worker());
    h
}

/// Writes a project workflow whose fake-worker steps are `steps`.
fn workflow(h: &Harness, name: &str, steps: Value) {
    write(
        h.project.path(),
        &format!(".boocode/workflows/{name}.js"),
        &format!(
            "export const meta = {{ name: '{name}', description: 'test', phases: ['one'] }};\n/*FAKE {steps} */\n"
        ),
    );
}

async fn run(h: &Harness, name: &str, options: RunOptions) -> RunOutcome {
    tokio::time::timeout(
        Duration::from_secs(60),
        h.engine.run_workflow(name, options),
    )
    .await
    .expect("run did not finish within 60 s")
    .expect("run could not start")
}

fn values(outcome: &RunOutcome) -> Vec<Value> {
    outcome.result.as_ref().expect("a result")["results"]
        .as_array()
        .expect("results")
        .clone()
}

fn text(s: &str) -> Step {
    Reply::text(s).usage(UsageSpec::new(10, 5)).into()
}

#[tokio::test]
async fn resume_after_a_crash_serves_completed_calls_from_the_store() {
    let marker = tempfile::tempdir().unwrap();
    let marker_path = marker.path().join("crashed-once");
    let mut h = harness(vec![
        Reply::text("A!").when(Match::last_user_contains("alpha")),
        Reply::text("B!").when(Match::last_user_contains("beta")),
        Reply::text("C!").when(Match::last_user_contains("gamma")),
    ])
    .await;
    workflow(
        &h,
        "crashy",
        json!([
            {"phase": "one"},
            {"agent": {"prompt": "alpha", "label": "a"}},
            {"agent": {"prompt": "beta"}},
            {"crash_unless": marker_path.to_string_lossy()},
            {"agent": {"prompt": "gamma"}},
        ]),
    );
    let first = run(&h, "crashy", RunOptions::default()).await;
    assert_eq!(first.status, "failed", "{first:?}");
    let error = first.error.clone().unwrap();
    assert!(error.contains("the script worker died"), "{error}");
    assert!(error.contains("exit status 3"), "{error}");
    assert_eq!(h.server.request_count(), 2);
    // The workspace keeps going: the store says what happened.
    let run_row = h.store().get_workflow_run(&first.run_id).unwrap();
    assert_eq!(run_row.status, "failed");

    let resumed = tokio::time::timeout(
        Duration::from_secs(60),
        h.engine.resume_workflow(&first.run_id),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(resumed.status, "completed", "{resumed:?}");
    assert_eq!(resumed.run_id, first.run_id);
    assert_eq!(
        values(&resumed),
        vec![
            json!({"value": "A!"}),
            json!({"value": "B!"}),
            json!({"value": "C!"})
        ]
    );
    // Only the new call reached the model.
    assert_eq!(h.server.request_count(), 3);
    assert_eq!((resumed.agents, resumed.cached), (3, 2));
    let events = h.drain_events();
    assert!(events.iter().any(|e| matches!(e,
        Event::WorkflowLog { message, .. } if message == "2/3 agents cached")));
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, Event::WorkflowAgentFinished { cached: true, .. }))
            .count(),
        2
    );
    let details = h.engine.workflow_run_details(&first.run_id).unwrap();
    assert_eq!(details.agents.len(), 3);
    assert!(details.agents.iter().all(|a| a.status == "completed"));
    assert!(details.events.iter().any(|e| e.kind == "phase"));
    // Every agent ran in its own workflow chat.
    let chat = h
        .store()
        .get_chat(details.agents[0].chat_id.as_deref().unwrap())
        .unwrap();
    assert_eq!(chat.kind, "workflow");
    assert_eq!(chat.title, "a");

    // A re-run of the same script and args is served entirely from the store.
    let again = run(&h, "crashy", RunOptions::default()).await;
    assert_eq!(again.status, "completed", "{again:?}");
    assert_eq!((again.agents, again.cached), (3, 3));
    assert_eq!(h.server.request_count(), 3);
    assert_eq!(values(&again), values(&resumed));
}

#[tokio::test]
async fn a_run_interrupted_by_a_process_crash_resumes() {
    let h = harness(vec![Reply::text("fine").repeat()]).await;
    workflow(
        &h,
        "plain",
        json!([{"agent": {"prompt": "one"}}, {"agent": {"prompt": "two"}}]),
    );
    let first = run(&h, "plain", RunOptions::default()).await;
    assert_eq!(first.status, "completed");
    assert_eq!(h.server.request_count(), 2);
    // What a crash leaves: the run still `running` in a process that has ended, recovered as
    // `interrupted` at next start.
    {
        let crashed = boocode::core::store::Store::open(h.store().path()).unwrap();
        crashed
            .start_workflow_run(&first.run_id, 999_999_999)
            .unwrap();
    }
    let report = h.store().recover_after_crash(false).unwrap();
    assert_eq!(report.workflow_runs_interrupted, 1);
    let resumed = h.engine.resume_workflow(&first.run_id).await.unwrap();
    assert_eq!(resumed.status, "completed");
    assert_eq!((resumed.agents, resumed.cached), (2, 2));
    assert_eq!(h.server.request_count(), 2);
}

#[tokio::test]
async fn identical_parallel_calls_hit_the_cache_whatever_order_they_finished_in() {
    // Whichever request arrives first waits longest, so the calls finish in reverse order.
    let h = harness(vec![
        Reply::stall(400, Reply::text("slow")).into(),
        Reply::stall(200, Reply::text("middle")).into(),
        Reply::text("fast").into(),
    ])
    .await;
    workflow(
        &h,
        "twins",
        json!([{"parallel": [{"prompt": "same"}, {"prompt": "same"}, {"prompt": "same"}]}]),
    );
    let first = run(&h, "twins", RunOptions::default()).await;
    assert_eq!(first.status, "completed", "{first:?}");
    assert_eq!(h.server.request_count(), 3);
    let mut got: Vec<String> = values(&first)
        .iter()
        .map(|v| v["value"].as_str().unwrap().to_string())
        .collect();
    let by_issue = got.clone();
    got.sort();
    assert_eq!(got, vec!["fast", "middle", "slow"]);
    let details = h.engine.workflow_run_details(&first.run_id).unwrap();
    let mut occurrences: Vec<u64> = details.agents.iter().map(|a| a.occurrence).collect();
    occurrences.sort();
    assert_eq!(occurrences, vec![0, 1, 2]);
    for _ in 0..2 {
        let again = run(&h, "twins", RunOptions::default()).await;
        assert_eq!(again.cached, 3);
        let again_values: Vec<String> = values(&again)
            .iter()
            .map(|v| v["value"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(again_values, by_issue);
    }
    assert_eq!(h.server.request_count(), 3);
}

#[tokio::test]
async fn the_concurrency_cap_holds_and_extra_calls_queue() {
    let h = harness(vec![Reply::stall(250, Reply::text("ok")).repeat()]).await;
    workflow(
        &h,
        "wide",
        json!([{"many": {"count": 6, "spec": {"prompt": "item {i}"}}}]),
    );
    let outcome = run(
        &h,
        "wide",
        RunOptions {
            concurrency: Some(2),
            ..RunOptions::default()
        },
    )
    .await;
    assert_eq!(outcome.status, "completed", "{outcome:?}");
    assert!(values(&outcome).iter().all(|v| v["value"] == "ok"));
    assert_eq!(h.server.request_count(), 6);
    assert_eq!(h.server.max_in_flight(), 2);
}

#[tokio::test]
async fn the_budget_is_a_hard_ceiling() {
    let h = harness(vec![
        Reply::text("spent").usage(UsageSpec::new(100, 50)).into(),
        text("never"),
    ])
    .await;
    workflow(
        &h,
        "pricey",
        json!([{"agent": {"prompt": "one"}}, {"agent": {"prompt": "two"}}]),
    );
    let outcome = run(
        &h,
        "pricey",
        RunOptions {
            budget: Some(100),
            ..RunOptions::default()
        },
    )
    .await;
    assert_eq!(outcome.status, "completed");
    let v = values(&outcome);
    assert_eq!(v[0], json!({"value": "spent"}));
    assert_eq!(
        v[1],
        json!({"error": "budget exhausted (spent 150 of 100 tokens)"})
    );
    assert_eq!(outcome.result.as_ref().unwrap()["budget_spent"], 150);
    assert_eq!(outcome.tokens_spent, 150);
    assert_eq!(h.server.request_count(), 1);
    let row = h.store().get_workflow_run(&outcome.run_id).unwrap();
    assert_eq!((row.tokens_spent, row.budget_total), (150, Some(100)));
}

#[tokio::test]
async fn the_thousand_and_first_agent_is_refused() {
    let h = harness(vec![]).await;
    // Calls with an unknown agent type fail at once, without a model request.
    workflow(
        &h,
        "swarm",
        json!([{"many": {"count": 1001, "spec": {"prompt": "p {i}", "agentType": "nobody"}}}]),
    );
    let outcome = run(&h, "swarm", RunOptions::default()).await;
    assert_eq!(outcome.status, "completed", "{outcome:?}");
    let v = values(&outcome);
    assert_eq!(v.len(), 1001);
    assert!(v[999]["error"]
        .as_str()
        .unwrap()
        .contains("unknown agent type 'nobody'"));
    let last = v[1000]["error"].as_str().unwrap();
    assert!(last.contains("at most 1000"), "{last}");
    assert_eq!(h.server.request_count(), 0);
}

fn schema() -> Value {
    json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]})
}

#[tokio::test]
async fn structured_output_is_validated_retried_and_returned() {
    let h = harness(vec![
        Reply::tool_calls(vec![
            CallSpec::new("structured_output", r#"{"n":"three"}"#).id("c1")
        ])
        .into(),
        Reply::tool_calls(vec![
            CallSpec::new("structured_output", r#"{"n":3}"#).id("c2")
        ])
        .when(Match::has_tool_result_for("c1")),
    ])
    .await;
    workflow(
        &h,
        "shaped",
        json!([{"agent": {"prompt": "count", "schema": schema(), "agentType": "Explore"}}]),
    );
    let outcome = run(&h, "shaped", RunOptions::default()).await;
    assert_eq!(values(&outcome), vec![json!({"value": {"n": 3}})]);
    let requests = h.server.requests();
    // The turn ended when the answer was accepted: no request after the valid call.
    assert_eq!(requests.len(), 2);
    let tools: Vec<&str> = requests[0]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert!(tools.contains(&"structured_output"), "{tools:?}");
    assert!(
        !tools.contains(&"edit_file"),
        "Explore is read-only: {tools:?}"
    );
    assert_eq!(
        requests[0]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["function"]["name"] == "structured_output")
            .unwrap()["function"]["parameters"],
        schema()
    );
    let retry = requests[1]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "tool")
        .unwrap()["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(retry.contains("does not match the schema"), "{retry}");
}

#[tokio::test]
async fn structured_output_gives_up_after_five_invalid_answers() {
    let h = harness(vec![
        Reply::tool_call("structured_output", r#"{"n":"x"}"#).repeat()
    ])
    .await;
    workflow(
        &h,
        "stubborn",
        json!([{"agent": {"prompt": "count", "schema": schema()}}]),
    );
    let outcome = run(&h, "stubborn", RunOptions::default()).await;
    let error = values(&outcome)[0]["error"].as_str().unwrap().to_string();
    assert!(error.contains("after 5 attempts"), "{error}");
    assert_eq!(h.server.request_count(), 5);
}

#[tokio::test]
async fn cancel_kills_the_worker_and_in_flight_agents_within_a_second() {
    let h = harness(vec![Reply::stall(30_000, Reply::text("late")).repeat()]).await;
    workflow(
        &h,
        "slow",
        json!([{"parallel": [{"prompt": "one"}, {"prompt": "two"}]}]),
    );
    let run_id = h
        .engine
        .start_workflow("slow", RunOptions::default())
        .unwrap();
    assert!(h.server.wait_for_requests(2, Duration::from_secs(20)).await);
    let pid = h.engine.workflow_worker_pid(&run_id).expect("worker pid");
    let started = Instant::now();
    assert!(h.engine.cancel_workflow(&run_id).unwrap());
    loop {
        let run = h.store().get_workflow_run(&run_id).unwrap();
        let agents = h.store().list_workflow_agents(&run_id).unwrap();
        if run.finished_at.is_some() && agents.iter().all(|a| a.status == "cancelled") {
            assert_eq!(run.status, "cancelled");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "not cancelled within a second: {run:?} {agents:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        h.server
            .wait_for_disconnects(2, Duration::from_secs(1))
            .await
    );
    assert!(started.elapsed() < Duration::from_millis(1500));
    // The worker is gone, a zombie waiting to be reaped, or killed and still tearing down
    // (on a loaded machine the kernel may not have run its exit yet: SIGKILL is then pending).
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    assert!(
        status.is_empty() || status.contains("State:\tZ") || sigkill_pending(&status),
        "worker {pid} still alive: {status}"
    );
}

/// Whether a `/proc/PID/status` text shows SIGKILL pending for the process or its group.
fn sigkill_pending(status: &str) -> bool {
    const SIGKILL_BIT: u64 = 1 << (9 - 1);
    status
        .lines()
        .filter_map(|line| {
            line.strip_prefix("SigPnd:\t")
                .or_else(|| line.strip_prefix("ShdPnd:\t"))
        })
        .filter_map(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .any(|mask| mask & SIGKILL_BIT != 0)
}

#[tokio::test]
async fn a_cancel_from_another_process_is_noticed() {
    let h = harness(vec![Reply::stall(30_000, Reply::text("late")).repeat()]).await;
    workflow(&h, "slow", json!([{"agent": {"prompt": "one"}}]));
    let run_id = h
        .engine
        .start_workflow("slow", RunOptions::default())
        .unwrap();
    assert!(h.server.wait_for_requests(1, Duration::from_secs(20)).await);
    // What `boocode workflow cancel` does from another process: only the store changes.
    assert!(h.store().cancel_workflow_run(&run_id).unwrap());
    let started = Instant::now();
    while h.engine.workflow_worker_pid(&run_id).is_some() {
        assert!(started.elapsed() < Duration::from_secs(2), "run kept going");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        h.store().get_workflow_run(&run_id).unwrap().status,
        "cancelled"
    );
}

#[tokio::test]
async fn script_failures_and_lookups_are_reported() {
    let h = harness(vec![]).await;
    workflow(
        &h,
        "lookup",
        json!([{"resolve": "review-code"}, {"resolve": "nope"}]),
    );
    let outcome = run(&h, "lookup", RunOptions::default()).await;
    assert_eq!(outcome.status, "completed");
    let v = values(&outcome);
    assert_eq!(v[0], json!({"origin": "built-in:review-code.js"}));
    assert!(v[1]["error"]
        .as_str()
        .unwrap()
        .contains("no workflow named 'nope'"));
    workflow(&h, "answer", json!([{"return": "forty-two"}]));
    let outcome = run(&h, "answer", RunOptions::default()).await;
    assert_eq!(outcome.result, Some(json!("forty-two")));
    workflow(
        &h,
        "thrower",
        json!([{"log": "about to fail"}, {"fail": "boom"}]),
    );
    let outcome = run(&h, "thrower", RunOptions::default()).await;
    assert_eq!(outcome.status, "failed");
    assert_eq!(outcome.error.as_deref(), Some("the script threw: boom"));
    let err = h
        .engine
        .run_workflow("missing", RunOptions::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no workflow named 'missing'"), "{err}");
}

#[tokio::test]
async fn an_isolated_agent_works_in_a_worktree_and_its_changes_come_back_for_review() {
    let h = Harness::new(
        vec![
            Reply::tool_call(
                "create_file",
                r#"{"file_path":"notes/new.txt","content":"from the worktree\n"}"#,
            )
            .into(),
            Reply::text("wrote it").when(Match::last_role("tool")),
        ],
        ApprovalMode::Auto,
    )
    .await;
    h.engine.set_workflow_worker(fake_worker());
    workflow(
        &h,
        "isolated",
        json!([{"agent": {"prompt": "write a note", "isolation": "worktree"}}]),
    );
    // Not a git repository yet: a clear error.
    let outcome = run(&h, "isolated", RunOptions::default()).await;
    let error = values(&outcome)[0]["error"].as_str().unwrap().to_string();
    assert!(error.contains("git repository"), "{error}");
    let root = h.root();
    commit_all(&root);
    let outcome = run(&h, "isolated", RunOptions::default()).await;
    assert_eq!(values(&outcome), vec![json!({"value": "wrote it"})]);
    // The project is untouched; the change waits for review.
    assert!(!root.join("notes/new.txt").exists());
    let changes = h.store().list_pending_changes(None).unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].content.display_path, "notes/new.txt");
    assert_eq!(
        changes[0].content.after.as_deref(),
        Some("from the worktree\n")
    );
    assert!(changes[0]
        .content
        .path
        .starts_with(&*root.to_string_lossy()));
    assert_eq!(changes[0].content.kind, "create");
    assert!(changes[0].worktree_id.is_some());
    // The system prompt told the agent where it works; the worktree stays while its change
    // waits, and goes with the decision.
    let system = h.server.requests()[0]["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    let marker = "isolated git worktree of the project at ";
    let at = system.find(marker).expect("worktree note") + marker.len();
    let wt_path: String = system[at..].split(';').next().unwrap().to_string();
    assert!(
        std::path::Path::new(&wt_path).exists(),
        "{wt_path} removed too early"
    );
    h.engine.rt.resolve_change(&changes[0].id, true).unwrap();
    assert_eq!(
        std::fs::read_to_string(root.join("notes/new.txt")).unwrap(),
        "from the worktree\n"
    );
    assert!(
        !std::path::Path::new(&wt_path).exists(),
        "{wt_path} left behind"
    );
}

#[tokio::test]
async fn a_runs_result_is_posted_to_the_chat_that_started_it_and_the_model_reads_it() {
    let mut h = harness(vec![Reply::text("noted").into()]).await;
    workflow(
        &h,
        "review",
        json!([{"return": "## Findings\n- util.py: off by one"}]),
    );
    workflow(&h, "broken", json!([{"fail": "boom"}]));
    let options = |chat: &str| RunOptions {
        parent_chat_id: Some(chat.to_string()),
        session_id: Some(h.session.id.clone()),
        ..RunOptions::default()
    };
    let done = run(&h, "review", options(&h.chat.id)).await;
    assert_eq!(done.status, "completed", "{done:?}");
    let failed = run(&h, "broken", options(&h.chat.id)).await;
    assert_eq!(failed.status, "failed", "{failed:?}");
    // Stored in the chat (so a restart shows it) and announced.
    let stored: Vec<(String, Vec<String>)> = h
        .store()
        .load_messages(&h.chat.id)
        .unwrap()
        .into_iter()
        .map(|m| (m.role, m.parts.into_iter().map(|p| p.content).collect()))
        .collect();
    assert_eq!(
        stored,
        vec![
            (
                "workflow".to_string(),
                vec![
                    format!("workflow review completed · run {}", done.run_id),
                    "## Findings\n- util.py: off by one".to_string(),
                ]
            ),
            (
                "workflow".to_string(),
                vec![
                    format!("workflow broken failed · run {}", failed.run_id),
                    "The run ended without a result: the script threw: boom".to_string(),
                ]
            ),
        ]
    );
    let reported: Vec<String> = h
        .drain_events()
        .into_iter()
        .filter_map(|e| match e {
            Event::WorkflowReported {
                chat_id, run_id, ..
            } if chat_id == h.chat.id => Some(run_id),
            _ => None,
        })
        .collect();
    assert_eq!(reported, vec![done.run_id.clone(), failed.run_id.clone()]);
    // The next turn's request carries both reports in front of the user's message, once.
    h.turn("what did the review find?").await;
    let request = h.server.last_request().expect("a request");
    let messages = request["messages"].as_array().expect("messages");
    let last = messages.last().expect("a message");
    assert_eq!(last["role"], "user");
    assert_eq!(
        last["content"],
        format!(
            "[workflow review completed · run {}]\n\n## Findings\n- util.py: off by one\n\n\
             [workflow broken failed · run {}]\n\nThe run ended without a result: the script \
             threw: boom\n\nwhat did the review find?",
            done.run_id, failed.run_id
        )
    );
    assert_eq!(
        messages.iter().filter(|m| m["role"] == "user").count(),
        1,
        "{messages:?}"
    );
    assert!(h
        .store()
        .unread_workflow_reports(&h.chat.id)
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn workflow_agents_get_the_project_instructions() {
    let h = harness(vec![Reply::text("done")
        .usage(UsageSpec::new(10, 5))
        .into()])
    .await;
    write(h.project.path(), "AGENTS.md", "Project rule: cite files.\n");
    workflow(&h, "ruled", json!([{"agent": {"prompt": "look around"}}]));
    let outcome = run(&h, "ruled", RunOptions::default()).await;
    assert_eq!(outcome.status, "completed", "{outcome:?}");
    let request = &h.server.requests()[0];
    let system = request["messages"][0]["content"].as_str().unwrap();
    assert_eq!(request["messages"][0]["role"], "system");
    assert!(system.contains("Project rule: cite files."), "{system}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_call_can_run_on_a_terminal_agent() {
    let h = Harness::with_config(
        vec![],
        ApprovalMode::Review,
        &format!(
            "{}[agents.term]\nprotocol = 'pty'\ncommand = '{}/tests/fixtures/pty_agent.sh'\n\
             args = ['{{task}}']\n",
            support::harness::FAST_RETRIES,
            env!("CARGO_MANIFEST_DIR")
        ),
    )
    .await;
    h.engine.set_workflow_worker(fake_worker());
    let root = h.root();
    commit_all(&root);
    let spec = registry::find(&h.engine.rt.config.agents, "term").unwrap();
    approval::decide(&ProjectTrust::new(h.store().clone()), &root, &spec, true).unwrap();
    workflow(
        &h,
        "terminal",
        json!([{"agent": {"prompt": "edit:notes.txt lines:2", "agent": "term"}}]),
    );
    let done = run(&h, "terminal", RunOptions::default()).await;
    let results = values(&done);
    let text = results[0]["value"].as_str().unwrap_or_default();
    assert!(
        text.contains("term exited with code 0") && text.contains("line 2"),
        "{results:?}"
    );
    assert!(!root.join("notes.txt").exists());
    let changes = h.store().list_pending_changes(None).unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].source_agent, "term");
}

#[tokio::test]
async fn an_agent_call_runs_on_the_named_external_agent_in_a_worktree_and_is_cached() {
    let agent = support::harness::scripted_acp_agent();
    let h = Harness::with_config(
        vec![],
        ApprovalMode::Review,
        &format!(
            "{}[agents.scripted]\nprotocol = 'acp'\ncommand = '{1}'\n\
             [agents.other]\nprotocol = 'acp'\ncommand = '{1}'\n",
            support::harness::FAST_RETRIES,
            agent.display()
        ),
    )
    .await;
    h.engine.set_workflow_worker(fake_worker());
    let root = h.root();
    commit_all(&root);
    // The agents come from the project's config: the person approves them first.
    for name in ["scripted", "other"] {
        let spec = registry::find(&h.engine.rt.config.agents, name).unwrap();
        approval::decide(&ProjectTrust::new(h.store().clone()), &root, &spec, true).unwrap();
    }
    let answered = |who: &str| {
        json!([
            {"agent": {"prompt": "[[edit:notes.txt]] hello", "agent": who}},
            {"agent": {"prompt": "[[json:{\"n\": 3}]] count", "agent": who, "schema": schema()}},
        ])
    };
    let mut calls = answered("scripted");
    calls.as_array_mut().unwrap().extend([
        json!({"agent": {"prompt": "[[json:{\"n\": \"three\"}]] count", "agent": "scripted", "schema": schema()}}),
        json!({"agent": {"prompt": "hi", "agent": "nobody"}}),
        json!({"agent": {"prompt": "hi", "agent": "scripted", "agentType": "Explore"}}),
    ]);
    workflow(&h, "external", calls);
    let first = run(&h, "external", RunOptions::default()).await;
    let results = values(&first);
    assert_eq!(results[0], json!({"value": "You said: hello"}));
    assert_eq!(results[1], json!({"value": {"n": 3}}));
    let error = |i: usize| results[i]["error"].as_str().unwrap_or("").to_string();
    assert!(
        error(2).contains("no valid structured output after 5 attempts"),
        "{results:?}"
    );
    assert!(error(3).contains("unknown agent 'nobody'"), "{}", error(3));
    assert!(
        error(4).contains("agent and agentType exclude each other"),
        "{}",
        error(4)
    );

    // The edit waits for review, made in a worktree; the project is untouched.
    assert!(!root.join("notes.txt").exists());
    let changes = h.store().list_pending_changes(None).unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].source_agent, "scripted");
    assert!(changes[0].worktree_id.is_some());
    // The invalid answer was sent back with what was wrong.
    let details = h.engine.workflow_run_details(&first.run_id).unwrap();
    let retried = details.agents[2].chat_id.as_deref().unwrap();
    let asked: Vec<String> = h
        .store()
        .load_messages(retried)
        .unwrap()
        .iter()
        .filter(|m| m.role == "user")
        .flat_map(|m| m.parts.iter().map(|p| p.content.clone()))
        .collect();
    assert_eq!(asked.len(), 5, "{asked:?}");
    assert!(
        asked[0].contains("Reply with only a JSON value"),
        "{asked:?}"
    );
    assert!(asked[1].contains("does not match the schema"), "{asked:?}");

    // A re-run serves the completed calls from the store; another agent is another call.
    workflow(&h, "external", answered("scripted"));
    let again = run(&h, "external", RunOptions::default()).await;
    assert_eq!((again.agents, again.cached), (2, 2));
    assert_eq!(values(&again), results[..2]);
    workflow(&h, "external", answered("other"));
    let other = run(&h, "external", RunOptions::default()).await;
    assert_eq!((other.agents, other.cached), (2, 0));
    assert_eq!(values(&other)[1], json!({"value": {"n": 3}}));
}
