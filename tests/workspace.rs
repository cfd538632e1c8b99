//! The workspace against a real engine and the scripted model server: a turn's events are
//! folded into the panes exactly as the event loop does, and the screen shows them.

mod support;

use boocode::core::agent::tools::ApprovalMode;
use boocode::tui::app::{initial_workspace, App};
use boocode::tui::keymap::{Action, Keymap};
use boocode::tui::theme::{ColorSupport, Theme};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use support::harness::{commit_all, Harness};
use support::mock_server::{Match, Reply, UsageSpec};

fn screen(app: &mut App, w: u16, h: u16) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| app.render(f)).unwrap();
    let buf = term.backend().buffer();
    let mut out = String::new();
    for y in 0..h {
        for x in 0..w {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_with_a_tool_call_shows_in_trace_and_timeline() {
    let mut h = Harness::new(
        vec![
            Reply::text("Two files.")
                .usage(UsageSpec::new(1000, 20).cache_hit_tokens(700))
                .when(Match::last_role("tool")),
            Reply::tool_call("list_dir", r#"{"path": "."}"#)
                .usage(UsageSpec::new(800, 10).cache_hit_tokens(100))
                .into(),
        ],
        ApprovalMode::Auto,
    )
    .await;
    let (session, layout) = initial_workspace(&h.engine, None, false).unwrap();
    assert_eq!(session, h.session.id);
    let mut app = App::new(
        h.engine.clone(),
        Theme::new(ColorSupport::Ansi256),
        Keymap::default(),
        session,
        layout,
    );
    app.run_action(Action::Trace);
    app.run_action(Action::Timeline);
    h.turn("list files").await;
    for ev in h.drain_events() {
        app.on_engine_event(&ev);
    }
    let text = screen(&mut app, 120, 30);
    assert!(text.contains("list_dir"), "{text}");
    assert!(text.contains("✓ ok"), "{text}");
    // 800 prompt tokens with 100 cached, then 1000 with 700: 800/1800 = 44 %.
    assert!(
        text.contains("Cache hit rate: 44% (800/1.8K tokens)"),
        "{text}"
    );
    assert!(text.contains("2 model calls"), "{text}");
    assert!(text.contains("#1"), "{text}");
    assert!(text.contains("1 tool"), "{text}");
    // The chat pane got the streamed answer.
    assert!(text.contains("Two files."), "{text}");
}

/// `/compare` with an agent beside a model: the agent runs as an agent chat in a worktree of
/// its own (its edit waits as a change, the project untouched), the model on the native loop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_runs_agents_in_their_own_worktrees_beside_models() {
    use boocode::core::agents::{approval, registry};
    use boocode::core::events::Event;
    use boocode::core::trust::ProjectTrust;
    use boocode::tui::pane::{AppAction, PaneSpec};

    let exe = std::env::current_exe().unwrap();
    let agent = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/acp_agent");
    assert!(agent.exists(), "`cargo test` builds {}", agent.display());
    let config = format!(
        "[agents.scripted]\nprotocol = \"acp\"\ncommand = \"{}\"\n",
        agent.display()
    );
    let mut h = Harness::with_setup(
        vec![Reply::text("native answer").into()],
        ApprovalMode::Auto,
        &config,
        |project, _| commit_all(project),
    )
    .await;
    // The agent comes from the project's config: the person approved it.
    let rt = h.engine.rt.clone();
    let spec = registry::find(&rt.config.agents, "scripted").unwrap();
    approval::decide(
        &ProjectTrust::new(h.store().clone()),
        &rt.project_root,
        &spec,
        true,
    )
    .unwrap();
    let (session, layout) = initial_workspace(&h.engine, None, false).unwrap();
    let mut app = App::new(
        h.engine.clone(),
        Theme::new(ColorSupport::Ansi256),
        Keymap::default(),
        session,
        layout,
    );
    let model = rt.config.model.clone();
    app.apply(vec![AppAction::Compare {
        models: vec![model.clone(), "scripted".into()],
        prompt: "[[edit:notes.txt]] compare me".into(),
    }]);
    assert_eq!(app.layout.len(), 3);

    let (mut finished, mut captured) = (0, None);
    while finished < 2 || captured.is_none() {
        let event = tokio::time::timeout(std::time::Duration::from_secs(10), h.events.recv())
            .await
            .expect("no event within 10 s")
            .expect("events ended");
        app.on_engine_event(&event);
        match &event {
            Event::TurnFinished { status, error, .. } => {
                assert_eq!(status, "completed", "{error:?}");
                finished += 1;
            }
            Event::ChangesCaptured {
                chat_id, waiting, ..
            } => captured = Some((chat_id.clone(), *waiting)),
            _ => {}
        }
    }
    let chats: Vec<String> = app
        .layout
        .leaves()
        .into_iter()
        .filter_map(|(_, spec)| match spec {
            PaneSpec::Chat { chat_id } => Some(chat_id.clone()),
            _ => None,
        })
        .skip(1)
        .collect();
    let store = h.store();
    let bound: Vec<Option<String>> = chats
        .iter()
        .map(|c| store.chat_agent(c).unwrap().map(|b| b.agent))
        .collect();
    assert_eq!(bound, [None, Some("scripted".to_string())]);
    let (agent_chat, waiting) = captured.unwrap();
    assert_eq!((agent_chat.as_str(), waiting), (chats[1].as_str(), 1));
    let change = store
        .list_pending_changes(Some(&chats[1]))
        .unwrap()
        .remove(0);
    assert_eq!(change.content.display_path, "notes.txt");
    assert!(!h.project.path().join("notes.txt").exists());
    let text = screen(&mut app, 160, 30);
    assert!(text.contains("native answer"), "{text}");
    assert!(text.contains("You said: compare me"), "{text}");
    assert!(
        text.contains(&format!("{model} ·")) && text.contains("scripted ·"),
        "{text}"
    );
}
