//! Workspace navigation: reopening chats (session and chat pickers, `--session CHAT`), where
//! new panes go, zoom and focus after a close, the palette.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Rect;

use super::tests::{app_for, finished_run, key, last_line, prefix, screen};
use super::*;
use crate::tui::layout::MIN_PANE_WIDTH;
use crate::tui::test_support::TestEngine;

fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

fn enter() -> KeyEvent {
    KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)
}

fn type_keys(app: &mut App, text: &str) {
    for c in text.chars() {
        app.handle_key(key(c));
    }
}

fn focused_chat(app: &App) -> Option<String> {
    match app.layout.spec(app.layout.focus) {
        Some(PaneSpec::Chat { chat_id }) => Some(chat_id.clone()),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_chat_is_reopened_from_the_session_and_chat_pickers() {
    let t = TestEngine::new();
    let main = t.chat.id.clone();
    let mut app = app_for(&t, t.theme.clone());
    app.size = Rect::new(0, 0, 120, 40);
    let close_main = |app: &mut App| {
        let pane = app.find_chat_pane(&main).expect("the main chat is open");
        app.layout.focus = pane;
        app.run_action(Action::Close);
        assert!(app.find_chat_pane(&main).is_none());
    };
    // A newer, empty chat beside it; the main chat, the one in use, is closed.
    app.run_action(Action::SplitRight);
    t.engine
        .store()
        .insert_user_message(&main, 1, "fix the parser", &[])
        .unwrap();
    close_main(&mut app);
    // The session picker on the current session brings it back.
    app.handle_key(prefix());
    app.handle_key(key('s'));
    assert_eq!(app.mode(), "SESSIONS");
    app.handle_key(enter());
    assert_eq!(focused_chat(&app).as_deref(), Some(main.as_str()));
    // So does the chat picker, which lists every chat with its turns.
    close_main(&mut app);
    app.handle_key(prefix());
    app.handle_key(key('w'));
    assert_eq!(app.mode(), "CHATS");
    let picker = screen(&mut app, 120, 40);
    assert!(picker.contains("Fix the parser ● · 1 turn · "), "{picker}");
    type_keys(&mut app, "fix");
    app.handle_key(enter());
    assert_eq!(focused_chat(&app).as_deref(), Some(main.as_str()));
    assert_eq!(app.layout.len(), 2);
    app.apply(vec![AppAction::Compare {
        models: vec!["m1".into()],
        prompt: "hi".into(),
    }]);
    // A chat of another session opens that session.
    let other = t.engine.open_session(None, false).unwrap();
    let far = t.engine.new_chat(&other, "main", None).unwrap();
    t.engine
        .store()
        .touch_chat_and_session(&far.id, "Elsewhere entirely")
        .unwrap();
    app.run_action(Action::Chats);
    type_keys(&mut app, "elsewhere");
    app.handle_key(enter());
    assert_eq!(app.session_id, other.id);
    assert_eq!(focused_chat(&app).as_deref(), Some(far.id.as_str()));
    assert!(app.keymap.help_rows().iter().any(|r| r.0 == "C-b w"));
    // Switching back opens the chat in use, not the newer empty one nor the /compare chat.
    app.switch_session(&t.session.id);
    assert_eq!(focused_chat(&app).as_deref(), Some(main.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_panes_are_titled_with_their_model() {
    let t = TestEngine::new();
    let mut app = app_for(&t, t.theme.clone());
    app.apply(vec![AppAction::Compare {
        models: vec!["model-alpha".into(), "model-beta".into()],
        prompt: "a long prompt that would push the model name out of a narrow title".into(),
    }]);
    assert_eq!(app.layout.len(), 3);
    let text = screen(&mut app, 120, 20);
    let titles = text.lines().next().unwrap_or_default();
    assert!(titles.contains(" model-alpha · "), "{text}");
    assert!(titles.contains("▌model-beta · "), "{text}");
    for (_, spec) in app.layout.leaves().into_iter().skip(1) {
        let PaneSpec::Chat { chat_id } = spec else {
            panic!("{spec:?}")
        };
        assert_eq!(t.engine.chat(chat_id).unwrap().kind, "compare");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_flag_takes_a_chat_id() {
    let t = TestEngine::new();
    let other = t.engine.open_session(None, false).unwrap();
    let chat = t.engine.new_chat(&other, "main", None).unwrap();
    let (session, layout) = initial_workspace(&t.engine, Some(&chat.id[..12]), false).unwrap();
    assert_eq!(session, other.id);
    assert_eq!(
        layout.spec(layout.focus),
        Some(&PaneSpec::Chat {
            chat_id: chat.id.clone()
        })
    );
    let err = initial_workspace(&t.engine, Some("zzzz"), false)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no session") && err.contains("no chat"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chats_open_where_there_is_room_and_zoom_stays() {
    let t = TestEngine::new();
    let mut app = app_for(&t, t.theme.clone());
    app.size = Rect::new(0, 0, 120, 40);
    app.run_action(Action::Background);
    let background = app.layout.focus;
    for _ in 0..8 {
        app.run_action(Action::ResizeRight);
    }
    let width_of = |app: &App, id| {
        app.layout
            .rects(app.pane_area())
            .into_iter()
            .find(|(i, _)| *i == id)
            .map(|(_, r)| r.width)
            .expect("visible")
    };
    assert!(width_of(&app, background) < MIN_PANE_WIDTH);
    // Enter on a task in the narrow pane: the chat opens where there is room.
    let session = t.engine.session(&t.session.id).unwrap();
    let task_chat = t.engine.new_chat(&session, "subagent", None).unwrap();
    app.apply(vec![AppAction::OpenChat {
        chat_id: task_chat.id.clone(),
    }]);
    assert_eq!(focused_chat(&app).as_deref(), Some(task_chat.id.as_str()));
    assert!(width_of(&app, app.layout.focus) >= MIN_PANE_WIDTH);
    assert!(width_of(&app, background) < MIN_PANE_WIDTH, "left alone");
    // Zoom stays on through /new and showing a run; the zoomed pane is the new one.
    app.run_action(Action::Zoom);
    app.apply(vec![AppAction::NewChat]);
    assert!(app.layout.zoomed);
    let new_chat = focused_chat(&app).expect("the new chat is focused");
    assert_ne!(new_chat, task_chat.id);
    app.show_run(&finished_run(&t));
    assert!(app.layout.zoomed);
    assert!(matches!(
        app.layout.spec(app.layout.focus),
        Some(PaneSpec::Orchestrator { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn palette_clears_with_ctrl_u_and_offers_slash_commands() {
    let t = TestEngine::new();
    let mut app = app_for(&t, t.theme.clone());
    app.run_action(Action::Palette);
    type_keys(&mut app, "xyz");
    app.handle_key(ctrl('u'));
    let text = screen(&mut app, 80, 24);
    assert!(text.contains("> ▏"), "Ctrl-U cleared the query: {text}");
    type_keys(&mut app, "/approval");
    let text = screen(&mut app, 80, 24);
    assert!(text.contains("/approval MODE"), "{text}");
    // Choosing a command types it into the chat, for the user to finish and send.
    app.handle_key(enter());
    assert_eq!(app.mode(), "NORMAL");
    let text = screen(&mut app, 80, 24);
    assert!(text.contains("› /approval"), "{text}");
    assert_eq!(t.engine.message_count(&t.chat.id).unwrap(), 0);
    // The status line says what the agent may do without asking.
    assert!(last_line(&text).contains("approval: read-only"), "{text}");
}
