use super::*;
use crate::tui::test_support::{buffer_text, normalise, TestEngine};
use crossterm::event::KeyModifiers;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

pub(super) fn app_for(t: &TestEngine, theme: Theme) -> App {
    let (session, layout) = initial_workspace(&t.engine, None, false).unwrap();
    App::new(t.engine.clone(), theme, Keymap::default(), session, layout)
}

fn draw(app: &mut App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| app.render(f)).unwrap();
    term
}

pub(super) fn screen(app: &mut App, w: u16, h: u16) -> String {
    normalise(&buffer_text(draw(app, w, h).backend().buffer()))
}

pub(super) fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

pub(super) fn prefix() -> KeyEvent {
    KeyEvent::new(KeyCode::Char('b'), KeyModifiers::CONTROL)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_line_modes_and_notices() {
    let t = TestEngine::new();
    let mut app = app_for(&t, t.theme.clone());
    insta::assert_snapshot!("workspace_80x24", screen(&mut app, 80, 24));
    app.handle_key(prefix());
    assert_eq!(app.mode(), "PREFIX");
    insta::assert_snapshot!("status_prefix", last_line(&screen(&mut app, 80, 24)));
    app.handle_key(key('!'));
    assert!(app.notice().is_some_and(|n| n.contains("not bound")));
    insta::assert_snapshot!("status_notice_narrow", last_line(&screen(&mut app, 40, 10)));
    app.handle_key(prefix());
    app.handle_key(key('o'));
    assert!(matches!(
        app.layout.spec(app.layout.focus),
        Some(PaneSpec::Orchestrator { run_id: None })
    ));
    app.running_tasks = 2;
    app.notice = None;
    insta::assert_snapshot!("status_tasks_badge", last_line(&screen(&mut app, 80, 24)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_key_is_explained_in_the_chat_pane() {
    let t = TestEngine::with_key(false);
    let mut app = app_for(&t, t.theme.clone());
    let text = screen(&mut app, 60, 8);
    assert!(text.contains("no API key"), "{text}");
    insta::assert_snapshot!("missing_key", text);
    for c in "hi".chars() {
        app.handle_key(key(c));
    }
    app.handle_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    // Nothing is sent: the pane repeats which variable to set, inline.
    let after = screen(&mut app, 60, 14);
    assert!(after.matches("DEEPSEEK_API_KEY").count() >= 2, "{after}");
    assert_eq!(t.engine.message_count(&t.chat.id).unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrying_a_task_withdraws_the_notice_of_how_it_ended() {
    let t = TestEngine::new();
    let mut app = app_for(&t, t.theme.clone());
    let update = |id: &str, status: &str| Event::TaskUpdated {
        task_id: id.into(),
        status: status.into(),
        label: Some("review the parser".into()),
        chat_id: None,
    };
    app.on_engine_event(&update("t1", "cancelled"));
    assert_eq!(
        app.notice(),
        Some("background task 'review the parser' cancelled")
    );
    // Another task going on leaves it.
    app.on_engine_event(&update("t2", "pending"));
    assert!(app.notice().is_some());
    app.on_engine_event(&update("t1", "pending"));
    assert_eq!(app.notice(), None);
    // A later notice about something else is not withdrawn by the task.
    app.on_engine_event(&update("t1", "failed"));
    app.notify("something else");
    app.on_engine_event(&update("t1", "pending"));
    assert_eq!(app.notice(), Some("something else"));
}

pub(super) fn last_line(s: &str) -> String {
    s.lines().last().unwrap_or("").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_overlay_and_palette() {
    let t = TestEngine::new();
    let mut app = app_for(&t, t.theme.clone());
    app.handle_key(prefix());
    app.handle_key(key('?'));
    assert_eq!(app.mode(), "HELP");
    insta::assert_snapshot!("help_overlay", screen(&mut app, 80, 40));
    app.handle_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
    app.handle_key(prefix());
    app.handle_key(key(':'));
    assert_eq!(app.mode(), "PALETTE");
    for c in "split".chars() {
        app.handle_key(key(c));
    }
    insta::assert_snapshot!("palette_split", screen(&mut app, 80, 24));
    app.handle_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert_eq!(app.layout.len(), 2, "the palette ran split");
    assert_eq!(app.mode(), "NORMAL");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_small_and_degenerate_sizes_never_panic() {
    let t = TestEngine::new();
    let mut app = app_for(&t, t.theme.clone());
    app.run_action(Action::SplitRight);
    app.run_action(Action::Trace);
    app.run_action(Action::Background);
    insta::assert_snapshot!("too_small", screen(&mut app, 19, 5));
    for (w, h) in [
        (0, 0),
        (1, 1),
        (5, 2),
        (20, 5),
        (21, 6),
        (40, 12),
        (80, 24),
        (300, 3),
    ] {
        let _ = screen(&mut app, w, h);
    }
    app.run_action(Action::Help);
    for (w, h) in [(1, 1), (20, 5), (30, 8)] {
        let _ = screen(&mut app, w, h);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_color_draws_without_colours() {
    let t = TestEngine::new();
    let mut app = app_for(&t, Theme::new(crate::tui::theme::ColorSupport::None));
    app.run_action(Action::Trace);
    app.run_action(Action::Timeline);
    app.handle_key(prefix());
    let term = draw(&mut app, 80, 24);
    let buf = term.backend().buffer();
    for cell in buf.content() {
        assert_eq!(cell.fg, ratatui::style::Color::Reset, "{cell:?}");
        assert_eq!(cell.bg, ratatui::style::Color::Reset, "{cell:?}");
    }
    insta::assert_snapshot!("no_color_layout", normalise(&buffer_text(buf)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layout_is_saved_and_restored_dropping_missing_chats() {
    let t = TestEngine::new();
    let mut app = app_for(&t, t.theme.clone());
    app.run_action(Action::SplitRight);
    app.run_action(Action::Trace);
    assert_eq!(app.layout.len(), 3);
    let saved = app.layout.clone();
    let (session, layout) = initial_workspace(&t.engine, None, false).unwrap();
    assert_eq!(session, t.session.id);
    assert_eq!(layout, saved);
    // A saved chat that no longer exists is dropped.
    let mut json: SavedWorkspace =
        serde_json::from_str(&t.engine.load_layout().unwrap().unwrap()).unwrap();
    let ghost = json.layout.leaves()[1].0;
    json.layout.set_spec(
        ghost,
        PaneSpec::Chat {
            chat_id: "gone".into(),
        },
    );
    t.engine
        .save_layout(&serde_json::to_string(&json).unwrap())
        .unwrap();
    let (_, layout) = initial_workspace(&t.engine, None, false).unwrap();
    assert_eq!(layout.len(), 2);
    // A broken layout falls back to the main chat.
    t.engine.save_layout("{not json").unwrap();
    let (_, layout) = initial_workspace(&t.engine, None, false).unwrap();
    assert_eq!(layout.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_drive_the_layout() {
    let t = TestEngine::new();
    let mut app = app_for(&t, t.theme.clone());
    app.size = Rect::new(0, 0, 120, 40);
    let first = app.layout.focus;
    app.handle_key(prefix());
    app.handle_key(KeyEvent::new(KeyCode::Char('%'), KeyModifiers::SHIFT));
    assert_eq!(app.layout.len(), 2);
    app.handle_key(KeyEvent::new(KeyCode::Left, KeyModifiers::ALT));
    assert_eq!(app.layout.focus, first);
    app.handle_key(prefix());
    app.handle_key(key('z'));
    assert!(app.layout.zoomed);
    app.handle_key(prefix());
    app.handle_key(key('x'));
    assert_eq!(app.layout.len(), 1);
    app.handle_key(prefix());
    app.handle_key(key('x'));
    assert_eq!(app.layout.len(), 1, "the last pane stays");
    assert!(app.notice().unwrap().contains("last pane"));
    // Double prefix reaches the pane (the chat input ignores control keys).
    app.handle_key(prefix());
    assert!(app.handle_key(prefix()), "leaving prefix mode redraws");
    assert_eq!(app.mode(), "NORMAL");
    app.handle_key(prefix());
    app.handle_key(key('g'));
    assert_eq!(
        app.layout.spec(app.layout.focus),
        Some(&PaneSpec::Background)
    );
    app.handle_key(prefix());
    app.handle_key(key('q'));
    assert!(app.quit);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_click_focuses_the_pane_under_it() {
    let t = TestEngine::new();
    let mut app = app_for(&t, t.theme.clone());
    draw(&mut app, 120, 40);
    app.handle_key(prefix());
    app.handle_key(KeyEvent::new(KeyCode::Char('%'), KeyModifiers::SHIFT));
    let right = app.layout.focus;
    let rects = app.layout.rects(app.pane_area());
    let (left, left_rect) = rects
        .iter()
        .copied()
        .find(|(id, _)| *id != right)
        .expect("two panes");
    let click = |kind, rect: Rect| {
        TermEvent::Mouse(MouseEvent {
            kind,
            column: rect.x + rect.width / 2,
            row: rect.y + rect.height / 2,
            modifiers: KeyModifiers::NONE,
        })
    };
    assert!(app.handle_terminal_event(click(MouseEventKind::Down(MouseButton::Left), left_rect)));
    assert_eq!(app.layout.focus, left);
    // Moving the mouse over the other pane does not steal the focus.
    let right_rect = rects
        .iter()
        .find(|(id, _)| *id == right)
        .map(|(_, r)| *r)
        .expect("the right pane");
    app.handle_terminal_event(click(MouseEventKind::Moved, right_rect));
    assert_eq!(app.layout.focus, left);
    app.handle_terminal_event(click(MouseEventKind::Down(MouseButton::Left), right_rect));
    assert_eq!(app.layout.focus, right);
}

pub(super) fn finished_run(t: &TestEngine) -> String {
    let run = t
        .engine
        .store()
        .create_workflow_run(&crate::core::store::NewWorkflowRun {
            project_id: &t.engine.rt.project_id,
            session_id: Some(&t.session.id),
            parent_chat_id: None,
            workflow: "review-code",
            source: "built-in",
            origin: "built-in:review-code.js",
            script: "",
            script_hash: "h",
            args: &serde_json::Value::Null,
            budget_total: None,
            concurrency: 2,
        })
        .unwrap();
    t.engine
        .store()
        .finish_workflow_run(&run.id, "completed", None, None)
        .unwrap();
    run.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orchestrator_key_opens_the_pane_and_its_run_is_restored() {
    let t = TestEngine::new();
    let mut app = app_for(&t, t.theme.clone());
    app.handle_key(prefix());
    app.handle_key(key('o'));
    assert_eq!(app.layout.len(), 2);
    assert_eq!(
        app.layout.spec(app.layout.focus),
        Some(&PaneSpec::Orchestrator { run_id: None })
    );
    assert!(screen(&mut app, 100, 30).contains("orchestrator · 6 workflows"));
    // Pressed again it focuses the open pane.
    app.run_action(Action::FocusNext);
    app.handle_key(prefix());
    app.handle_key(key('o'));
    assert_eq!(app.layout.len(), 2);
    assert!(matches!(
        app.layout.spec(app.layout.focus),
        Some(PaneSpec::Orchestrator { .. })
    ));
    // Showing a run rebinds the pane; the layout round-trips through the store.
    let run_id = finished_run(&t);
    app.show_run(&run_id);
    assert_eq!(app.layout.len(), 2);
    let spec = PaneSpec::Orchestrator {
        run_id: Some(run_id.clone()),
    };
    assert_eq!(app.layout.spec(app.layout.focus), Some(&spec));
    let (_, layout) = initial_workspace(&t.engine, None, false).unwrap();
    assert_eq!(layout, app.layout);
    let mut restored = App::new(
        t.engine.clone(),
        t.theme.clone(),
        Keymap::default(),
        t.session.id.clone(),
        layout,
    );
    assert!(screen(&mut restored, 100, 30).contains("orchestrator · review-code · completed"));
    // Going back to the list is saved too.
    app.handle_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
    let (_, layout) = initial_workspace(&t.engine, None, false).unwrap();
    assert_eq!(
        layout.spec(layout.focus),
        Some(&PaneSpec::Orchestrator { run_id: None })
    );
    let json = serde_json::to_string(&spec).unwrap();
    assert_eq!(serde_json::from_str::<PaneSpec>(&json).unwrap(), spec);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_workflow_action_starts_a_run_and_shows_it() {
    let mut t = TestEngine::new();
    let mut app = app_for(&t, t.theme.clone());
    app.apply(vec![AppAction::RunWorkflow {
        name: "no-such-workflow".into(),
        args: serde_json::Value::Null,
    }]);
    assert!(
        app.notice().unwrap_or("").contains("no-such-workflow"),
        "{:?}",
        app.notice()
    );
    assert_eq!(app.layout.len(), 1);
    let dir = t.project.path().join(".boocode/workflows");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("hello.js"),
        "export const meta = { name: 'hello', description: 'says hello', phases: ['Greet'] };\n\
         /*FAKE [{\"phase\": \"Greet\"}, {\"log\": \"hello from the script\"}, {\"return\": \"ok\"}] */\n",
    )
    .unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/fake_workflow_worker.py"
    );
    t.engine
        .set_workflow_worker(crate::core::workflow::WorkerCommand::new(
            "python3",
            &[script],
        ));
    app.apply(vec![AppAction::RunWorkflow {
        name: "hello".into(),
        args: serde_json::json!({"who": "world"}),
    }]);
    let Some(PaneSpec::Orchestrator {
        run_id: Some(run_id),
    }) = app.layout.spec(app.layout.focus).cloned()
    else {
        panic!("the orchestrator shows the run: {:?}", app.layout);
    };
    assert!(app.is_animating(), "a live run animates");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ev = tokio::time::timeout_at(deadline.into(), t.events.recv())
            .await
            .expect("the run ends within 30 s")
            .expect("events");
        app.on_engine_event(&ev);
        // The run's report to the chat that started it comes after its end.
        if matches!(&ev, Event::WorkflowReported { run_id: r, .. } if *r == run_id) {
            break;
        }
    }
    assert!(!app.is_animating());
    let text = screen(&mut app, 100, 30);
    for want in [
        "orchestrator · hello · completed",
        "── Greet",
        "hello from the script",
        "■ run completed",
        "result:",
        "⚙ workflow hello completed · run",
        &run_id,
    ] {
        assert!(text.contains(want), "{want:?} in\n{text}");
    }
    let run = t.engine.store().get_workflow_run(&run_id).unwrap();
    assert_eq!(run.args, serde_json::json!({"who": "world"}));
    assert_eq!(run.session_id.as_deref(), Some(t.session.id.as_str()));
}
