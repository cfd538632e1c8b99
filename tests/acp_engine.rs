//! A chat bound to an external agent, driven through the engine as the workspace drives it:
//! messages go to the agent, its permission questions wait for a person's answer, and a chat
//! whose agent ended continues the same agent session (`session/load`).

mod support;

use std::path::Path;
use std::time::Duration;

use boocode::core::agent::tools::ApprovalMode;
use boocode::core::agent::{TurnRequest, TurnStatus};
use boocode::core::agents::{self, registry};
use boocode::core::engine::{Engine, EngineOptions};
use boocode::core::events::{Command, Event, PermissionAnswer};
use boocode::core::store::Chat;
use tokio::sync::mpsc::UnboundedReceiver;

use support::agents::{events_until, git_project, reply_text};
use support::harness::{config_for, scripted_acp_agent};

/// Events up to the chat's `TurnFinished`; `on` may answer what it sees.
async fn until_turn_ends(
    events: &mut UnboundedReceiver<Event>,
    mut on: impl FnMut(&Event),
) -> Vec<Event> {
    events_until(events, |e| {
        on(e);
        matches!(e, Event::TurnFinished { .. })
    })
    .await
}

/// An engine in review mode on a git project, its model at `base_url`, with the scripted
/// agent configured; its session's main chat.
fn engine_with_scripted_agent(
    project: &Path,
    home: &Path,
    base_url: &str,
    interactive: bool,
) -> (Engine, UnboundedReceiver<Event>, Chat) {
    git_project(project);
    let mut config = config_for(project, home, base_url, ApprovalMode::Review);
    config.agents.insert(
        "scripted".into(),
        registry::AgentFile {
            protocol: Some(registry::Protocol::Acp),
            command: Some(scripted_acp_agent().to_string_lossy().into_owned()),
            ..Default::default()
        },
    );
    let (engine, events, _) = Engine::start(EngineOptions {
        config,
        project_root: project.to_path_buf(),
        interactive,
    })
    .unwrap();
    let session = engine.open_session(None, false).unwrap();
    let chat = engine.main_chat(&session).unwrap();
    (engine, events, chat)
}

/// An interactive engine whose main chat is bound to the scripted agent.
fn bound_chat(project: &Path, home: &Path) -> (Engine, UnboundedReceiver<Event>, Chat) {
    let (engine, events, chat) =
        engine_with_scripted_agent(project, home, "http://127.0.0.1:9", true);
    agents::bind_chat(&engine.rt, &chat.id, "scripted").unwrap();
    (engine, events, chat)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bound_chat_asks_the_person_and_continues_its_agent_session() {
    let (project, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (engine, mut events, chat) = bound_chat(project.path(), home.path());
    assert!(matches!(
        events.recv().await,
        Some(Event::AgentSession { ref agent, .. }) if agent == "scripted"
    ));

    // The question waits for the person; "always" is remembered for the chat.
    engine.submit(Command::SendMessage {
        chat_id: chat.id.clone(),
        text: "[[permission]] one".into(),
        attachments: Vec::new(),
    });
    let answering = engine.clone();
    let first = until_turn_ends(&mut events, |e| {
        if let Event::PermissionRequested {
            request_id, title, ..
        } = e
        {
            assert_eq!(title, "Run rm -rf build");
            answering.submit(Command::AnswerPermission {
                request_id: request_id.clone(),
                answer: PermissionAnswer::AllowAlways,
            });
        }
    })
    .await;
    assert!(
        reply_text(&first).contains("permission: allow-always"),
        "{first:?}"
    );
    let session_id = engine
        .store()
        .chat_agent(&chat.id)
        .unwrap()
        .unwrap()
        .agent_session_id
        .unwrap();

    engine.submit(Command::SendMessage {
        chat_id: chat.id.clone(),
        text: "[[permission]] two".into(),
        attachments: Vec::new(),
    });
    let second = until_turn_ends(&mut events, |_| {}).await;
    assert!(
        !second
            .iter()
            .any(|e| matches!(e, Event::PermissionRequested { .. })),
        "asked again: {second:?}"
    );
    assert!(
        reply_text(&second).contains("permission: allow-once"),
        "{second:?}"
    );

    // The agent ends (as after a restart); the next turn starts it again on the same session.
    engine.rt.agents.disconnect(&chat.id);
    engine.submit(Command::SendMessage {
        chat_id: chat.id.clone(),
        text: "three".into(),
        attachments: Vec::new(),
    });
    let third = until_turn_ends(&mut events, |_| {}).await;
    assert!(reply_text(&third).contains("You said: three"), "{third:?}");
    let bound = engine.store().chat_agent(&chat.id).unwrap().unwrap();
    assert_eq!(bound.agent_session_id.as_deref(), Some(session_id.as_str()));

    // Three turns in one chat, each with its user message and reply.
    let messages = engine.store().load_messages(&chat.id).unwrap();
    assert_eq!(messages.iter().filter(|m| m.role == "user").count(), 3);
    assert_eq!(
        messages
            .iter()
            .filter(|m| m.role == "assistant" && m.status == "complete")
            .count(),
        3
    );

    // The agent works in the chat's own worktree: its edit leaves the project untouched and,
    // captured after the turn, waits as the chat's pending change.
    engine.submit(Command::SendMessage {
        chat_id: chat.id.clone(),
        text: "[[edit:notes.txt]] four".into(),
        attachments: Vec::new(),
    });
    until_turn_ends(&mut events, |_| {}).await;
    loop {
        let event = tokio::time::timeout(Duration::from_secs(10), events.recv())
            .await
            .expect("no capture within 10 s")
            .expect("events ended");
        if matches!(event, Event::ChangesCaptured { waiting, .. } if waiting > 0) {
            break;
        }
    }
    assert!(!project.path().join("notes.txt").exists());
    let changes = engine.store().list_pending_changes(Some(&chat.id)).unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].content.display_path, "notes.txt");
    assert_eq!(changes[0].source_agent, "scripted");
    engine.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_is_asked_for_once_and_a_cancel_kills_it() {
    let (project, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (engine, mut events, chat) = bound_chat(project.path(), home.path());
    let send = |text: &str| {
        engine.submit(Command::SendMessage {
            chat_id: chat.id.clone(),
            text: text.into(),
            attachments: Vec::new(),
        })
    };
    let answering = engine.clone();
    let answer_with = |answer: PermissionAnswer| {
        let engine = answering.clone();
        move |e: &Event| {
            if let Event::PermissionRequested { request_id, .. } = e {
                engine.submit(Command::AnswerPermission {
                    request_id: request_id.clone(),
                    answer,
                });
            }
        }
    };
    let titles = |events: &[Event]| -> Vec<String> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::PermissionRequested { title, .. } => Some(title.clone()),
                _ => None,
            })
            .collect()
    };

    // The agent asked (and was allowed): its command runs without a second question.
    send("[[permission]] [[term:echo one]]");
    let asked = until_turn_ends(&mut events, answer_with(PermissionAnswer::AllowOnce)).await;
    assert_eq!(titles(&asked), ["Run rm -rf build"]);
    assert!(reply_text(&asked).contains("output <one\n>"), "{asked:?}");

    // The agent did not ask: boocode asks, and a rejection refuses the command.
    send("[[term:echo two]]");
    let refused = until_turn_ends(&mut events, answer_with(PermissionAnswer::Reject)).await;
    assert_eq!(titles(&refused), ["Run sh -c echo two"]);
    assert!(
        reply_text(&refused).contains("terminal refused: running sh -c echo two was not allowed"),
        "{refused:?}"
    );

    // A cancelled turn kills the command it waits on, at once.
    let marks = tempfile::tempdir().unwrap();
    let pid_file = marks.path().join("pid");
    send(&format!(
        "[[term:echo $$ > {}; exec sleep 30]]",
        pid_file.display()
    ));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let pid = loop {
        if let Ok(Some(event)) =
            tokio::time::timeout(Duration::from_millis(50), events.recv()).await
        {
            answer_with(PermissionAnswer::AllowOnce)(&event);
        }
        let written = std::fs::read_to_string(&pid_file).unwrap_or_default();
        if let Ok(pid) = written.trim().parse::<i32>() {
            break pid;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the command never started"
        );
    };
    let started = std::time::Instant::now();
    engine.submit(Command::CancelTurn {
        chat_id: chat.id.clone(),
    });
    let cancelled = until_turn_ends(&mut events, |_| {}).await;
    assert!(
        matches!(cancelled.last(), Some(Event::TurnFinished { status, .. }) if status == "cancelled"),
        "{cancelled:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // SAFETY: signal 0 only asks whether the process exists.
    while unsafe { libc::kill(pid, 0) } == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "the command outlived its cancelled turn"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    engine.shutdown();
}

/// Runs a review-mode turn that delegates, then waits for the tasks it spawned.
async fn delegate_and_wait(engine: &Engine, chat: &Chat) {
    let outcome = engine
        .run_turn(TurnRequest::new(&chat.id, "delegate", ApprovalMode::Review))
        .await;
    assert_eq!(outcome.status, TurnStatus::Completed, "{:?}", outcome.error);
    tokio::time::timeout(Duration::from_secs(20), engine.wait_for_tasks_of(&chat.id))
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawn_subagent_with_an_agent_runs_it_in_a_worktree_and_brings_back_its_result() {
    use support::mock_server::{CallSpec, Match, MockServer, Reply};
    let (project, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let server = MockServer::start(vec![
        Reply::tool_calls(vec![
            CallSpec::new(
                "spawn_subagent",
                r#"{"input":"[[edit:notes.txt]] write the notes","agent":"scripted"}"#,
            )
            .id("s1"),
            CallSpec::new("spawn_subagent", r#"{"input":"x","agent":"nobody"}"#).id("s2"),
        ])
        .into(),
        Reply::text("spawned").when(Match::has_tool_result_for("s2")),
    ])
    .await;
    let (engine, _events, chat) =
        engine_with_scripted_agent(project.path(), home.path(), &server.base_url(), false);
    delegate_and_wait(&engine, &chat).await;

    // An unknown agent is a tool error naming every agent it could have been.
    let traces = engine.store().list_traces(&chat.id, None, 10).unwrap();
    let unknown = traces
        .iter()
        .find(|t| t.tool_input.contains("nobody"))
        .unwrap();
    let error = unknown.error.as_deref().unwrap();
    for name in [
        "unknown agent 'nobody'",
        "scripted",
        "codex",
        "general-purpose",
        "Explore",
    ] {
        assert!(error.contains(name), "{name}: {error}");
    }

    let tasks = engine.store().list_tasks(Some(&chat.session_id)).unwrap();
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    let task = &tasks[0];
    assert_eq!(
        (task.status.as_str(), task.agent.as_str()),
        ("completed", "scripted")
    );
    assert_eq!(engine.store().task_execution(&task.id).unwrap().0, "acp");
    let output = task.output.as_deref().unwrap();
    assert!(output.starts_with("You said: write the notes"), "{output}");
    assert!(
        output.ends_with(
            "Changes waiting for review (made in the agent's worktree, not applied): notes.txt"
        ),
        "{output}"
    );
    // Its edit waits for review in its own chat, under the parent; the project is untouched.
    let sub_chat = engine
        .store()
        .get_chat(task.chat_id.as_deref().unwrap())
        .unwrap();
    assert_eq!(sub_chat.kind, "subagent");
    assert_eq!(sub_chat.parent_chat_id.as_deref(), Some(chat.id.as_str()));
    let changes = engine
        .store()
        .list_pending_changes(Some(&sub_chat.id))
        .unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].source_agent, "scripted");
    assert!(!project.path().join("notes.txt").exists());
    engine.shutdown();
}

/// Events until the chat's worktree was captured: (worktree id, changes waiting from it).
async fn until_captured(events: &mut UnboundedReceiver<Event>) -> (String, usize) {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(10), events.recv())
            .await
            .expect("no capture within 10 s")
            .expect("events ended");
        if let Event::ChangesCaptured {
            worktree_id,
            waiting,
            ..
        } = event
        {
            return (worktree_id, waiting);
        }
    }
}

/// Polls until `done` holds (10 s at most).
async fn eventually(what: &str, done: impl Fn() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(10), "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn pty_agent(from_project: bool) -> registry::AgentFile {
    registry::AgentFile {
        protocol: Some(registry::Protocol::Pty),
        command: Some(format!(
            "{}/tests/fixtures/pty_agent.sh",
            env!("CARGO_MANIFEST_DIR")
        )),
        args: Some(vec!["{task}".into()]),
        from_project,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawn_subagent_runs_a_terminal_agent_in_its_worktree_and_brings_back_its_summary() {
    use support::mock_server::{CallSpec, Match, MockServer, Reply};
    let project = tempfile::tempdir().unwrap();
    git_project(project.path());
    let home = tempfile::tempdir().unwrap();
    let server = MockServer::start(vec![
        Reply::tool_calls(vec![CallSpec::new(
            "spawn_subagent",
            r#"{"input":"edit:notes.txt lines:2","agent":"term"}"#,
        )
        .id("s1")])
        .into(),
        Reply::text("spawned").when(Match::has_tool_result_for("s1")),
    ])
    .await;
    let mut config = config_for(
        project.path(),
        home.path(),
        &server.base_url(),
        ApprovalMode::Review,
    );
    config.agents.insert("term".into(), pty_agent(false));
    let (engine, _events, _) = Engine::start(EngineOptions {
        config,
        project_root: project.path().to_path_buf(),
        interactive: false,
    })
    .unwrap();
    let session = engine.open_session(None, false).unwrap();
    let chat = engine.main_chat(&session).unwrap();
    delegate_and_wait(&engine, &chat).await;

    let tasks = engine.store().list_tasks(Some(&chat.session_id)).unwrap();
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    let task = &tasks[0];
    assert_eq!(
        (task.status.as_str(), task.agent.as_str()),
        ("completed", "term"),
        "{task:?}"
    );
    assert_eq!(engine.store().task_execution(&task.id).unwrap().0, "pty");
    let output = task.output.as_deref().unwrap();
    for part in [
        "term exited with code 0",
        "wrote notes.txt",
        "line 2",
        "notes.txt",
    ] {
        assert!(output.contains(part), "{part}: {output}");
    }
    // The edit was made in the agent's worktree and waits for review; the project is untouched.
    assert!(!project.path().join("notes.txt").exists());
    let changes = engine
        .store()
        .list_pending_changes(task.chat_id.as_deref())
        .unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].source_agent, "term");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_chats_worktree_goes_when_the_chat_ends_and_stays_while_changes_wait() {
    let project = tempfile::tempdir().unwrap();
    git_project(project.path());
    let home = tempfile::tempdir().unwrap();
    let mut config = config_for(
        project.path(),
        home.path(),
        "http://127.0.0.1:9",
        ApprovalMode::Review,
    );
    config.agents.insert("term".into(), pty_agent(false));
    config.agents.insert("other".into(), pty_agent(false));
    config.agents.insert("theirs".into(), pty_agent(true));
    let (engine, mut events, _) = Engine::start(EngineOptions {
        config,
        project_root: project.path().to_path_buf(),
        interactive: true,
    })
    .unwrap();
    let session = engine.open_session(None, false).unwrap();
    let store = engine.store().clone();
    let worktree = |id: &str| store.get_worktree(id).unwrap();
    let mut run = async |text: &str| {
        let chat = engine.new_chat(&session, "main", None).unwrap();
        agents::bind_chat(&engine.rt, &chat.id, "term").unwrap();
        engine.submit(Command::SendMessage {
            chat_id: chat.id.clone(),
            text: text.into(),
            attachments: Vec::new(),
        });
        let (id, waiting) = until_captured(&mut events).await;
        assert!(Path::new(&worktree(&id).path).is_dir());
        (chat.id, id, waiting)
    };

    // Nothing waits from it: the worktree goes when the chat ends.
    let (chat, id, waiting) = run("lines:1").await;
    assert_eq!(waiting, 0);
    engine.submit(Command::EndChat { chat_id: chat });
    eventually("the worktree removed", || worktree(&id).status == "removed").await;
    assert!(!Path::new(&worktree(&id).path).exists());

    // A change waits: the worktree stays until it is decided.
    let (chat, id, waiting) = run("edit:notes.txt").await;
    assert_eq!(waiting, 1);
    engine.submit(Command::EndChat {
        chat_id: chat.clone(),
    });
    eventually("the worktree released", || {
        worktree(&id).status == "released"
    })
    .await;
    assert!(Path::new(&worktree(&id).path).is_dir());
    let change = store.list_pending_changes(Some(&chat)).unwrap().remove(0);
    engine.submit(Command::ResolveChange {
        change_id: change.id,
        apply: false,
    });
    eventually("the worktree removed after the decision", || {
        worktree(&id).status == "removed"
    })
    .await;
    assert!(!Path::new(&worktree(&id).path).exists());

    // Bound to another agent, the chat's work with the first one has ended.
    let (chat, id, _) = run("lines:1").await;
    agents::bind_chat(&engine.rt, &chat, "other").unwrap();
    assert_eq!(worktree(&id).status, "removed");
    // With a change of the first agent waiting, its worktree stays its own: the new agent
    // gets a worktree of its own.
    let (chat, id, waiting) = run("edit:first.txt").await;
    assert_eq!(waiting, 1);
    agents::bind_chat(&engine.rt, &chat, "other").unwrap();
    assert_eq!(worktree(&id).status, "released");
    engine.submit(Command::SendMessage {
        chat_id: chat.clone(),
        text: "lines:1".into(),
        attachments: Vec::new(),
    });
    let (next, _) = until_captured(&mut events).await;
    assert_ne!(next, id);
    assert_eq!(worktree(&next).agent, "other");
    assert_eq!(worktree(&id).status, "released");

    // An agent the project defines runs only once the person approved it.
    let chat = engine.new_chat(&session, "main", None).unwrap();
    let e = agents::bind_chat(&engine.rt, &chat.id, "theirs").unwrap_err();
    assert!(
        e.to_string()
            .contains("needs your approval first: `boocode agents approve theirs`"),
        "{e}"
    );
    store.bind_chat_agent(&chat.id, "theirs").unwrap();
    engine.submit(Command::SendMessage {
        chat_id: chat.id.clone(),
        text: "lines:1".into(),
        attachments: Vec::new(),
    });
    let seen = until_turn_ends(&mut events, |_| {}).await;
    let Some(Event::TurnFinished { status, error, .. }) = seen.last() else {
        unreachable!()
    };
    assert_eq!(status, "failed");
    assert!(
        error.as_deref().unwrap().contains("needs your approval"),
        "{error:?}"
    );
    assert!(!seen
        .iter()
        .any(|e| matches!(e, Event::AgentTerminal { .. })));
    let tasks = store.list_tasks(None).unwrap();
    assert!(
        !tasks.iter().any(|t| t.chat_id.as_deref() == Some(&chat.id)),
        "a task was opened for it: {tasks:?}"
    );
    engine.shutdown();
}
