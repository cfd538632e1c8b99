//! A chat bound to an external agent, driven through the engine as the workspace drives it:
//! messages go to the agent, its permission questions wait for a person's answer, and a chat
//! whose agent ended continues the same agent session (`session/load`).

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use boocode::core::agent::tools::ApprovalMode;
use boocode::core::agents::{self, registry};
use boocode::core::engine::{Engine, EngineOptions};
use boocode::core::events::{Command, Event, PermissionAnswer};
use tokio::sync::mpsc::UnboundedReceiver;

use support::agents::{events_until, git_project, reply_text};
use support::harness::config_for;

fn scripted_agent() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let agent = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("examples/acp_agent");
    assert!(
        agent.exists(),
        "{} is missing: `cargo test` builds it; alone, run `cargo build --example acp_agent`",
        agent.display()
    );
    agent
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bound_chat_asks_the_person_and_continues_its_agent_session() {
    let project = tempfile::tempdir().unwrap();
    git_project(project.path());
    let home = tempfile::tempdir().unwrap();
    let mut config = config_for(
        project.path(),
        home.path(),
        "http://127.0.0.1:9",
        ApprovalMode::Review,
    );
    config.agents.insert(
        "scripted".into(),
        registry::AgentFile {
            protocol: Some(registry::Protocol::Acp),
            command: Some(scripted_agent().to_string_lossy().into_owned()),
            ..Default::default()
        },
    );
    let (engine, mut events, _) = Engine::start(EngineOptions {
        config,
        project_root: project.path().to_path_buf(),
        interactive: true,
    })
    .unwrap();
    let session = engine.open_session(None, false).unwrap();
    let chat = engine.main_chat(&session).unwrap();
    agents::bind_chat(&engine.rt, &chat.id, "scripted").unwrap();
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
