use super::run_view::{LogKind, Progress, RunView};
use super::*;
use crate::core::store::NewWorkflowRun;
use crate::core::store::WorkflowAgentRow;
use crate::tui::test_support::{buffer_text, ctx_for, normalise, render_pane, TestEngine};
use crate::tui::theme::ColorSupport;
use crate::tui::theme::Theme;
use chrono::Duration;
use crossterm::event::KeyModifiers;
use serde_json::Value;

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-03-01T10:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .expect("time")
}

fn at(secs: i64) -> DateTime<Utc> {
    t0() + Duration::seconds(secs)
}

fn started(agent: &str, label: &str, phase: Option<&str>) -> Event {
    Event::WorkflowAgentStarted {
        run_id: "run1".into(),
        agent_id: agent.into(),
        label: Some(label.into()),
        phase: phase.map(str::to_string),
        chat_id: Some(format!("chat-{agent}")),
    }
}

fn finished(agent: &str, status: &str, cached: bool, tokens: u64) -> Event {
    Event::WorkflowAgentFinished {
        run_id: "run1".into(),
        agent_id: agent.into(),
        status: status.into(),
        cached,
        tokens,
        error: (status == "failed").then(|| "the model returned an error".to_string()),
    }
}

/// A live run: two phases, agents running, completed, failed and cached, a queued one.
fn live_view() -> RunView {
    let no_rows = |_: &str| None;
    let mut v = RunView::new("run1", "deep-research");
    let events = [
        (
            0,
            Event::WorkflowRunStarted {
                run_id: "run1".into(),
                workflow: "deep-research".into(),
                source: "built-in".into(),
            },
        ),
        (
            0,
            Event::WorkflowPhase {
                run_id: "run1".into(),
                title: "Search".into(),
            },
        ),
        (1, started("a1", "search the web for 日本語 sources", None)),
        (1, started("a2", "search the codebase", None)),
        (2, finished("a3", "completed", true, 0)),
        (
            3,
            Event::WorkflowLog {
                run_id: "run1".into(),
                message: "found 3 sources".into(),
            },
        ),
        (13, finished("a1", "completed", false, 12_400)),
        (14, finished("a2", "failed", false, 800)),
        (
            15,
            Event::WorkflowPhase {
                run_id: "run1".into(),
                title: "Write the report".into(),
            },
        ),
        (
            16,
            started("a4", "draft the summary", Some("Write the report")),
        ),
        (
            17,
            Event::WorkflowLog {
                run_id: "run1".into(),
                message: "drafting\nwith a newline".into(),
            },
        ),
    ];
    for (secs, e) in events {
        assert!(v.apply(&e, at(secs), &no_rows), "{e:?}");
    }
    // A call still waiting for a slot (known from the store only).
    v.merge_rows(&[WorkflowAgentRow {
        id: "a5".into(),
        run_id: "run1".into(),
        spec_hash: "h".into(),
        occurrence: 0,
        spec: Value::Null,
        status: "pending".into(),
        chat_id: None,
        label: Some("check the citations".into()),
        phase: Some("Write the report".into()),
        tokens: 0,
        result: None,
        error: None,
        cached: false,
        created_at: "2025-03-01T10:00:16Z".into(),
        started_at: None,
        finished_at: None,
    }]);
    v
}

#[test]
fn events_fold_into_the_run_view() {
    let mut v = live_view();
    assert_eq!(v.status, "running");
    assert!(v.is_live());
    assert_eq!(v.phases, vec!["Search", "Write the report"]);
    let status: Vec<(&str, &str, Option<&str>)> = v
        .agents
        .iter()
        .map(|a| (a.id.as_str(), a.status.as_str(), a.phase.as_deref()))
        .collect();
    assert_eq!(
        status,
        vec![
            ("a1", "completed", Some("Search")),
            ("a2", "failed", Some("Search")),
            ("a3", "completed", Some("Search")),
            ("a4", "running", Some("Write the report")),
            ("a5", "pending", Some("Write the report")),
        ]
    );
    assert!(v.agents[2].cached);
    assert_eq!(v.agents[0].tokens, 12_400);
    assert_eq!(v.agents[0].chat_id.as_deref(), Some("chat-a1"));
    assert_eq!(
        v.progress(),
        Progress {
            done: 3,
            total: 5,
            cached: 1,
            failed: 1,
            running: 1
        }
    );
    assert_eq!(v.tokens(), 13_200);
    // Events of other runs are not this view's.
    let other = Event::WorkflowLog {
        run_id: "run2".into(),
        message: "x".into(),
    };
    assert!(!v.apply(&other, at(18), &|_| None));
    // A start seen twice (store, then the event) is folded once.
    let log_len = v.log.len();
    let again = Event::WorkflowRunStarted {
        run_id: "run1".into(),
        workflow: "deep-research".into(),
        source: "built-in".into(),
    };
    assert!(v.apply(&again, at(18), &|_| None));
    assert_eq!(v.log.len(), log_len);
    // The end.
    let end = Event::WorkflowRunFinished {
        run_id: "run1".into(),
        status: "failed".into(),
        result: None,
        error: Some("the script threw: boom".into()),
    };
    assert!(v.apply(&end, at(20), &|_| None));
    assert!(!v.is_live());
    let log: Vec<&str> = v.log.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(
        log,
        vec![
            "▶ run started",
            "── Search",
            "found 3 sources",
            "✗ search the codebase failed: the model returned an error",
            "── Write the report",
            "drafting with a newline",
            "■ run failed: the script threw: boom",
        ]
    );
    assert_eq!(v.log.last().map(|l| l.kind), Some(LogKind::Error));
    // A resume starts it again.
    assert!(v.apply(&again, at(30), &|_| None));
    assert_eq!(v.status, "running");
    assert_eq!(v.log.last().map(|l| l.text.as_str()), Some("▶ run resumed"));
}

#[test]
fn args_are_validated() {
    let mut e = ArgsEditor::default();
    assert_eq!(e.parse(), Ok(Value::Null));
    e.insert("{\"topic\": ");
    assert!(e.parse().is_err());
    e.insert("\"日本\"}");
    assert_eq!(e.parse(), Ok(serde_json::json!({"topic": "日本"})));
    e.key(KeyEvent::from(KeyCode::Left));
    e.key(KeyEvent::from(KeyCode::Backspace));
    assert_eq!(e.text, "{\"topic\": \"日本}");
    e.key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    assert_eq!(e.text, "");
}

fn write(dir: &std::path::Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

/// A `triage` run in the store, not started yet.
fn new_triage_run(t: &TestEngine) -> WorkflowRun {
    let store = t.engine.store();
    store
        .create_workflow_run(&NewWorkflowRun {
            project_id: &t.engine.rt.project_id,
            session_id: Some(&t.session.id),
            parent_chat_id: None,
            workflow: "triage",
            source: "project",
            origin: ".boocode/workflows/triage.js",
            script: "",
            script_hash: "h",
            args: &Value::Null,
            budget_total: None,
            concurrency: 2,
        })
        .expect("run")
}

/// A running `triage` run in the store, as another process would have started it.
fn started_triage_run(t: &TestEngine) -> WorkflowRun {
    let run = new_triage_run(t);
    t.engine
        .store()
        .start_workflow_run(&run.id, 1)
        .expect("start");
    run
}

/// A project workflow, an invalid project file, a user workflow, and one finished run.
fn setup(t: &TestEngine) -> WorkflowRun {
    write(
        t.project.path(),
        ".boocode/workflows/triage.js",
        "export const meta = { name: 'triage', description: 'Sort the open issues by urgency', whenToUse: 'after a release', phases: ['Read', 'Sort'] };\n",
    );
    write(
        t.project.path(),
        ".boocode/workflows/broken.js",
        "const nothing = 1;\n",
    );
    write(
        t.home.path(),
        ".boocode/workflows/nightly.js",
        "export const meta = { name: 'nightly', description: 'Nightly dependency check' };\n",
    );
    let store = t.engine.store();
    let run = started_triage_run(t);
    store
        .append_workflow_event(
            &run.id,
            "run_started",
            &serde_json::json!({"workflow": "triage", "resumed": false}),
        )
        .expect("event");
    store
        .append_workflow_event(&run.id, "phase", &serde_json::json!({"title": "Read"}))
        .expect("event");
    let spec = serde_json::json!({"prompt": "read"});
    let a = store
        .upsert_workflow_agent(
            &run.id,
            "h1",
            0,
            &spec,
            Some("read the issues"),
            Some("Read"),
        )
        .expect("agent");
    store
        .start_workflow_agent(&a.id, None)
        .expect("start agent");
    store
        .finish_workflow_agent(&a.id, "completed", None, None, 4_200, false, None)
        .expect("finish agent");
    let b = store
        .upsert_workflow_agent(&run.id, "h2", 0, &spec, Some("sort them"), Some("Read"))
        .expect("agent");
    store
        .finish_workflow_agent(&b.id, "failed", None, Some("rate limited"), 0, false, None)
        .expect("finish agent");
    store
        .append_workflow_event(&run.id, "log", &serde_json::json!({"message": "1/2 done"}))
        .expect("event");
    store
        .set_workflow_run_tokens(&run.id, 4_200)
        .expect("tokens");
    store
        .finish_workflow_run(&run.id, "failed", None, Some("an agent failed"))
        .expect("finish");
    store
        .append_workflow_event(
            &run.id,
            "run_finished",
            &serde_json::json!({"status": "failed", "error": "an agent failed"}),
        )
        .expect("event");
    store.get_workflow_run(&run.id).expect("run")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_driven_by_another_process_is_followed_through_the_store() {
    let t = TestEngine::new();
    let store = t.engine.store();
    let run = started_triage_run(&t);
    let spec = serde_json::json!({"prompt": "read"});
    let a = store
        .upsert_workflow_agent(&run.id, "h1", 0, &spec, Some("read the issues"), None)
        .expect("agent");
    store
        .start_workflow_agent(&a.id, None)
        .expect("start agent");
    let ctx = ctx_for(&t, None);
    let mut pane = OrchestratorPane::new(None, &ctx);
    pane.set_now(at(1));
    pane.open_run(&run.id, &ctx);
    let out = render_pane(&mut pane, &ctx, 80, 12);
    assert!(out.contains("running"), "{out}");
    assert!(pane.is_animating());
    // The other process finishes the agent and the run.
    store
        .finish_workflow_agent(&a.id, "completed", None, None, 1_000, false, None)
        .expect("finish agent");
    store
        .append_workflow_event(&run.id, "log", &serde_json::json!({"message": "all read"}))
        .expect("event");
    store
        .finish_workflow_run(&run.id, "completed", None, None)
        .expect("finish");
    pane.set_now(at(1) + Duration::milliseconds(100));
    let out = render_pane(&mut pane, &ctx, 80, 12);
    assert!(
        !out.contains("all read"),
        "re-read at most every 500 ms: {out}"
    );
    pane.set_now(at(2));
    let out = render_pane(&mut pane, &ctx, 80, 12);
    assert_eq!(out.matches("all read").count(), 1, "{out}");
    assert!(out.contains("completed"), "{out}");
    assert!(!pane.is_animating(), "a finished run stops the clock");
    // The run's own end event, had it reached this engine, finds the run already ended.
    pane.set_now(at(3));
    assert_eq!(render_pane(&mut pane, &ctx, 80, 12), out);
}

fn select(pane: &mut OrchestratorPane, name: &str) {
    pane.selected = pane
        .workflows
        .iter()
        .position(|w| w.name == name)
        .expect("workflow listed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_and_args_editor_snapshots() {
    let t = TestEngine::new();
    let run = setup(&t);
    let ctx = ctx_for(&t, None);
    let mut pane = OrchestratorPane::new(None, &ctx);
    let sources: Vec<&str> = pane.workflows.iter().map(|w| w.source.as_str()).collect();
    assert!(sources.contains(&"built-in") && sources.contains(&"project"));
    assert!(sources.contains(&"user"));
    assert!(pane.workflows.iter().any(|w| w.error.is_some()));
    select(&mut pane, "broken");
    insta::assert_snapshot!("orchestrator_list", render_pane(&mut pane, &ctx, 90, 20));
    // An invalid workflow does not run.
    let out = pane.handle_key(KeyEvent::from(KeyCode::Enter), &ctx);
    assert!(
        matches!(&out, KeyOutcome::Actions(a) if matches!(&a[0], AppAction::Notice(m) if m.contains("cannot run"))),
        "{out:?}"
    );
    select(&mut pane, "triage");
    assert_eq!(
        pane.handle_key(KeyEvent::from(KeyCode::Enter), &ctx),
        KeyOutcome::Consumed
    );
    for c in "{\"topic\": ".chars() {
        pane.handle_key(KeyEvent::from(KeyCode::Char(c)), &ctx);
    }
    insta::assert_snapshot!(
        "orchestrator_args_error",
        render_pane(&mut pane, &ctx, 90, 20)
    );
    let out = pane.handle_key(KeyEvent::from(KeyCode::Enter), &ctx);
    assert!(
        matches!(&out, KeyOutcome::Actions(a) if matches!(&a[0], AppAction::Notice(m) if m.contains("not valid JSON"))),
        "{out:?}"
    );
    pane.handle_paste("\"urgent\"\n}", &ctx);
    assert_eq!(
        pane.handle_key(KeyEvent::from(KeyCode::Enter), &ctx),
        KeyOutcome::Actions(vec![AppAction::RunWorkflow {
            name: "triage".into(),
            args: serde_json::json!({"topic": "urgent"}),
        }])
    );
    insta::assert_snapshot!(
        "orchestrator_list_narrow",
        render_pane(&mut pane, &ctx, 40, 20)
    );
    // The past run opens rebuilt from the store.
    pane.selected = pane.workflows.len();
    pane.handle_key(KeyEvent::from(KeyCode::Enter), &ctx);
    assert_eq!(
        pane.spec(),
        PaneSpec::Orchestrator {
            run_id: Some(run.id.clone())
        }
    );
    assert_eq!(pane.title(&ctx), "orchestrator · triage · failed");
    assert!(!pane.is_animating());
    // The failed agent's error shows while it is selected.
    pane.handle_key(KeyEvent::from(KeyCode::Down), &ctx);
    let text = render_pane(&mut pane, &ctx, 80, 16);
    for want in [
        "2/2 agents · 1 failed · 4.2K tokens",
        "▾ Read 2/2",
        "read the issues",
        "rate limited",
        "── Read",
        "1/2 done",
        "■ run failed: an agent failed",
    ] {
        assert!(text.contains(want), "{want:?} in\n{text}");
    }
    // Keys of a failed run.
    let failed = pane.agent.clone().expect("selected");
    assert_eq!(
        pane.handle_key(KeyEvent::from(KeyCode::Char('r')), &ctx),
        KeyOutcome::Actions(vec![AppAction::Engine(Command::RetryWorkflowAgent {
            agent_id: failed
        })])
    );
    assert_eq!(
        pane.handle_key(KeyEvent::from(KeyCode::Char('R')), &ctx),
        KeyOutcome::Actions(vec![AppAction::Engine(Command::ResumeWorkflow {
            run_id: run.id.clone()
        })])
    );
    assert!(matches!(
        pane.handle_key(KeyEvent::from(KeyCode::Char('c')), &ctx),
        KeyOutcome::Actions(a) if matches!(a[0], AppAction::Notice(_))
    ));
    assert!(matches!(
        pane.handle_key(KeyEvent::from(KeyCode::Enter), &ctx),
        KeyOutcome::Actions(a) if matches!(a[0], AppAction::Notice(_))
    ));
    pane.handle_key(KeyEvent::from(KeyCode::Esc), &ctx);
    assert_eq!(pane.spec(), PaneSpec::Orchestrator { run_id: None });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_run_snapshots_and_keys() {
    let t = TestEngine::new();
    let ctx = ctx_for(&t, None);
    let mut pane = OrchestratorPane::new(None, &ctx);
    pane.set_now(at(21));
    pane.show_view(live_view());
    assert!(pane.is_animating());
    assert_eq!(pane.title(&ctx), "orchestrator · deep-research · running");
    insta::assert_snapshot!("orchestrator_run", render_pane(&mut pane, &ctx, 80, 20));
    insta::assert_snapshot!(
        "orchestrator_run_narrow",
        render_pane(&mut pane, &ctx, 40, 20)
    );
    // Enter opens the selected agent's chat; c cancels the live run; r waits for its end.
    assert_eq!(
        pane.handle_key(KeyEvent::from(KeyCode::Enter), &ctx),
        KeyOutcome::Actions(vec![AppAction::OpenChat {
            chat_id: "chat-a1".into()
        }])
    );
    assert_eq!(
        pane.handle_key(KeyEvent::from(KeyCode::Char('c')), &ctx),
        KeyOutcome::Actions(vec![AppAction::Engine(Command::CancelWorkflow {
            run_id: "run1".into()
        })])
    );
    pane.handle_key(KeyEvent::from(KeyCode::Down), &ctx);
    assert!(matches!(
        pane.handle_key(KeyEvent::from(KeyCode::Char('r')), &ctx),
        KeyOutcome::Actions(a) if matches!(&a[0], AppAction::Notice(m) if m.contains("still going"))
    ));
    // The log follows its tail; scrolled back it stays put as lines arrive.
    for i in 0..30 {
        let e = Event::WorkflowLog {
            run_id: "run1".into(),
            message: format!("line {i}"),
        };
        pane.on_event(&e, &ctx);
    }
    let text = render_pane(&mut pane, &ctx, 80, 20);
    assert!(text.contains("line 29"), "{text}");
    pane.handle_key(KeyEvent::from(KeyCode::PageUp), &ctx);
    let e = Event::WorkflowLog {
        run_id: "run1".into(),
        message: "line 30".into(),
    };
    pane.on_event(&e, &ctx);
    let text = render_pane(&mut pane, &ctx, 80, 20);
    assert!(
        !text.contains("line 30") && text.contains("log (↑"),
        "{text}"
    );
    pane.handle_key(KeyEvent::from(KeyCode::End), &ctx);
    assert!(render_pane(&mut pane, &ctx, 80, 20).contains("line 30"));
    for (w, h) in [(1, 1), (20, 3), (20, 5), (30, 8)] {
        let _ = render_pane(&mut pane, &ctx, w, h);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_color_draws_without_colours() {
    let t = TestEngine::new();
    setup(&t);
    let theme = Theme::new(ColorSupport::None);
    let ctx = PaneContext {
        theme: &theme,
        ..ctx_for(&t, None)
    };
    let mut pane = OrchestratorPane::new(None, &ctx);
    select(&mut pane, "triage");
    pane.handle_key(KeyEvent::from(KeyCode::Enter), &ctx);
    pane.handle_key(KeyEvent::from(KeyCode::Char('{')), &ctx);
    let check = |pane: &mut OrchestratorPane| {
        let mut term =
            ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 20)).expect("term");
        term.draw(|f| crate::tui::app::draw_pane(f, pane, Rect::new(0, 0, 80, 20), &ctx, true))
            .expect("draw");
        let buf = term.backend().buffer();
        for cell in buf.content() {
            assert_eq!(cell.fg, ratatui::style::Color::Reset, "{cell:?}");
            assert_eq!(cell.bg, ratatui::style::Color::Reset, "{cell:?}");
        }
        normalise(&buffer_text(buf))
    };
    let list = check(&mut pane);
    assert!(list.contains("✗ EOF while parsing"), "{list}");
    pane.set_now(at(21));
    pane.show_view(live_view());
    insta::assert_snapshot!("orchestrator_run_no_color", check(&mut pane));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_args_editor_takes_a_bare_target_as_a_string() {
    let t = TestEngine::new();
    let ctx = ctx_for(&t, None);
    let mut pane = OrchestratorPane::new(None, &ctx);
    select(&mut pane, "review-code");
    pane.handle_key(KeyEvent::from(KeyCode::Enter), &ctx);
    for c in "util.py".chars() {
        pane.handle_key(KeyEvent::from(KeyCode::Char(c)), &ctx);
    }
    let text = render_pane(&mut pane, &ctx, 80, 20);
    assert!(text.contains("✓ the text \"util.py\""), "{text}");
    assert_eq!(
        pane.handle_key(KeyEvent::from(KeyCode::Enter), &ctx),
        KeyOutcome::Actions(vec![AppAction::RunWorkflow {
            name: "review-code".into(),
            args: serde_json::json!("util.py"),
        }])
    );
}

/// A `triage` run in the store driven by this process, with two agents: one running, one
/// queued.
fn triage_run_of_this_process(t: &TestEngine) -> (WorkflowRun, Vec<String>) {
    let store = t.engine.store();
    let run = started_triage_run(t);
    store
        .start_workflow_run(&run.id, std::process::id())
        .expect("owned here");
    let spec = serde_json::json!({"prompt": "read"});
    let ids = ["read the issues", "sort them"]
        .iter()
        .enumerate()
        .map(|(n, label)| {
            store
                .upsert_workflow_agent(&run.id, "h", n as u64, &spec, Some(label), None)
                .expect("agent")
                .id
        })
        .collect::<Vec<_>>();
    store
        .start_workflow_agent(&ids[0], None)
        .expect("start agent");
    (run, ids)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_run_of_this_process_ends_once_in_the_log() {
    let t = TestEngine::new();
    let (run, _) = triage_run_of_this_process(&t);
    let ctx = ctx_for(&t, None);
    let mut pane = OrchestratorPane::new(None, &ctx);
    pane.set_now(at(1));
    pane.open_run(&run.id, &ctx);
    cancel_and_count_end_lines(&t, &mut pane, &run.id);
    // Opened the moment it was started, before the store named its owner: its events say
    // where it runs.
    let store = t.engine.store();
    let fresh = new_triage_run(&t);
    let mut pane = OrchestratorPane::new(None, &ctx);
    pane.set_now(at(1));
    pane.open_run(&fresh.id, &ctx);
    pane.on_event(
        &Event::WorkflowRunStarted {
            run_id: fresh.id.clone(),
            workflow: "triage".into(),
            source: "project".into(),
        },
        &ctx,
    );
    store
        .start_workflow_run(&fresh.id, std::process::id())
        .expect("owned here");
    cancel_and_count_end_lines(&t, &mut pane, &fresh.id);
}

/// Cancels a shown run the way the run loop does (the store at once, the end events after the
/// agents' grace period) and checks the end shows once.
fn cancel_and_count_end_lines(t: &TestEngine, pane: &mut OrchestratorPane, run_id: &str) {
    let ctx = ctx_for(t, None);
    let store = t.engine.store();
    let run = store.get_workflow_run(run_id).expect("run");
    // The cancel is in the store at once; the run's last events come after the agents' grace
    // period, longer than the pane's quiet spell.
    store.cancel_workflow_run(&run.id).expect("cancel");
    store
        .close_open_workflow_agents(&run.id, "cancelled")
        .expect("close");
    store
        .append_workflow_event(
            &run.id,
            "run_finished",
            &serde_json::json!({"status": "cancelled", "error": "cancelled"}),
        )
        .expect("event");
    pane.set_now(at(2));
    render_pane(pane, &ctx, 80, 16);
    pane.on_event(
        &Event::WorkflowRunFinished {
            run_id: run.id.clone(),
            status: "cancelled".into(),
            result: None,
            error: Some("cancelled".into()),
        },
        &ctx,
    );
    let text = render_pane(pane, &ctx, 80, 16);
    assert_eq!(text.matches("■ run cancelled").count(), 1, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_run_shows_its_unfinished_agents_queued() {
    let t = TestEngine::new();
    let store = t.engine.store();
    let (run, ids) = triage_run_of_this_process(&t);
    store
        .finish_workflow_agent(&ids[0], "completed", None, None, 10, false, None)
        .expect("finish");
    store.cancel_workflow_run(&run.id).expect("cancel");
    store
        .close_open_workflow_agents(&run.id, "cancelled")
        .expect("close");
    let ctx = ctx_for(&t, None);
    let mut pane = OrchestratorPane::new(None, &ctx);
    pane.set_now(at(1));
    pane.open_run(&run.id, &ctx);
    assert!(render_pane(&mut pane, &ctx, 80, 16).contains("2/2 agents"));
    // `R`: the store queues the unfinished call again and the start event arrives.
    store
        .start_workflow_run(&run.id, std::process::id())
        .expect("resume");
    pane.on_event(
        &Event::WorkflowRunStarted {
            run_id: run.id.clone(),
            workflow: "triage".into(),
            source: "project".into(),
        },
        &ctx,
    );
    let live = render_pane(&mut pane, &ctx, 80, 16);
    assert!(live.contains("1/2 agents"), "{live}");
    assert!(
        live.contains("queued") && !live.contains("cancelled"),
        "{live}"
    );
    // Reopened from the store, it reads the same.
    pane.open_run(&run.id, &ctx);
    let reopened = render_pane(&mut pane, &ctx, 80, 16);
    assert!(reopened.contains("1/2 agents"), "{reopened}");
    assert!(
        reopened.contains("queued") && !reopened.contains("⊘"),
        "{reopened}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_run_shows_its_result_and_the_runs_list_its_args() {
    let t = TestEngine::new();
    let store = t.engine.store();
    let (run, ids) = triage_run_of_this_process(&t);
    for id in &ids {
        store
            .finish_workflow_agent(id, "completed", None, None, 10, false, None)
            .expect("finish");
    }
    let ctx = ctx_for(&t, None);
    let mut pane = OrchestratorPane::new(None, &ctx);
    pane.set_now(at(1));
    pane.open_run(&run.id, &ctx);
    for i in 0..20 {
        pane.on_event(
            &Event::WorkflowLog {
                run_id: run.id.clone(),
                message: format!("step {i}"),
            },
            &ctx,
        );
    }
    let report = "## Findings\n\n- `util.py`: off by one\n- **main.py**: fine";
    store
        .finish_workflow_run(&run.id, "completed", Some(&serde_json::json!(report)), None)
        .expect("finish");
    pane.on_event(
        &Event::WorkflowRunFinished {
            run_id: run.id.clone(),
            status: "completed".into(),
            result: Some(serde_json::json!(report)),
            error: None,
        },
        &ctx,
    );
    // The end of the log, then the result rendered as markdown, from its top.
    let text = render_pane(&mut pane, &ctx, 80, 16);
    for want in [
        "■ run completed",
        "result:",
        "Findings",
        "util.py: off by one",
        "main.py: fine",
    ] {
        assert!(text.contains(want), "{want:?} in\n{text}");
    }
    assert!(!text.contains("step 10") && !text.contains('`'), "{text}");
    // Any other value is pretty JSON.
    let mut view = RunView::new("r", "w");
    view.status = "completed".into();
    view.result = Some(serde_json::json!({"issues": ["a", "b"]}));
    pane.show_view(view);
    pane.pin_result = true;
    let text = render_pane(&mut pane, &ctx, 60, 20);
    assert!(text.contains("\"issues\": ["), "{text}");
    // The runs list shows what each run was started with, after its status.
    let mut with_args = started_triage_run(&t);
    store
        .finish_workflow_run(&with_args.id, "completed", None, None)
        .expect("finish");
    with_args = store.get_workflow_run(&with_args.id).expect("run");
    let row = run_row_text(&with_args, &serde_json::json!("util.py"));
    assert!(row.starts_with("  ✓ completed   triage util.py"), "{row:?}");
    let row = run_row_text(&with_args, &serde_json::json!({"target": "src"}));
    assert!(row.contains("triage {\"target\":\"src\"}"), "{row:?}");
}

fn run_row_text(run: &WorkflowRun, args: &Value) -> String {
    let run = WorkflowRun {
        args: args.clone(),
        ..run.clone()
    };
    let theme = Theme::new(ColorSupport::None);
    let line = super::list::run_row(&run, &theme, 80, false);
    line.spans.iter().map(|s| s.content.as_ref()).collect()
}
