//! The workspace against a real engine and the scripted model server: a turn's events are
//! folded into the panes exactly as the event loop does, and the screen shows them.

mod support;

use boocode::core::agent::tools::ApprovalMode;
use boocode::tui::app::{initial_workspace, App};
use boocode::tui::keymap::{Action, Keymap};
use boocode::tui::theme::{ColorSupport, Theme};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use support::harness::Harness;
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
