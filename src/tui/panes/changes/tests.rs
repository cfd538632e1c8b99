use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;
use crate::core::agent::tools::changes::unified_diff;
use crate::core::store::NewChat;
use crate::tui::test_support::{ctx_for, render_pane, TestEngine};

fn numbered(n: usize) -> String {
    (1..=n).map(|i| format!("line {i}\n")).collect()
}

/// A change of `chat` to src/lib.rs replacing base line `line`.
fn change(t: &TestEngine, chat: &str, line: usize) -> String {
    let base = numbered(30);
    let after = base.replace(&format!("line {line}\n"), &format!("edited {line}\n"));
    let diff = unified_diff("src/lib.rs", "src/lib.rs", Some(&base), Some(&after));
    t.engine
        .store()
        .insert_pending_change(
            chat,
            "/p/src/lib.rs",
            "src/lib.rs",
            Some(&base),
            Some(&after),
            &diff,
        )
        .unwrap()
}

fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

fn resolve(id: &str, apply: bool) -> AppAction {
    AppAction::Engine(Command::ResolveChange {
        change_id: id.to_string(),
        apply,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_pane_lists_collisions_and_decides_only_by_chords() {
    let t = TestEngine::new();
    let other = t
        .engine
        .store()
        .create_chat(&NewChat {
            session_id: &t.session.id,
            parent_chat_id: None,
            kind: "main",
            title: "codex",
            model: "m",
            agent: "codex",
        })
        .unwrap();
    let mine = change(&t, &t.chat.id, 10);
    let theirs = change(&t, &other.id, 10);
    let ctx = ctx_for(&t, None);
    let mut pane = ChangesPane::new(&ctx);
    assert_eq!(pane.title(&ctx), "Changes · 2 pending · 1 collision");
    let screen = render_pane(&mut pane, &ctx, 80, 16)
        .replace(&mine[..8], "MINE0000")
        .replace(&theirs[..8], "THEIRS00");
    insta::assert_snapshot!("changes_pane", screen);
    assert!(render_pane(&mut pane, &ctx, 30, 6).contains("src/lib.rs"));

    // Typed text never decides; the chords do.
    for c in "yes n".chars() {
        let out = pane.handle_key(KeyEvent::from(KeyCode::Char(c)), &ctx);
        assert!(
            !matches!(out, KeyOutcome::Actions(_)),
            "{c:?} decided: {out:?}"
        );
    }
    pane.selected = 0;
    assert_eq!(
        pane.handle_key(ctrl('y'), &ctx),
        KeyOutcome::Actions(vec![resolve(&mine, true)])
    );
    pane.handle_key(KeyEvent::from(KeyCode::Down), &ctx);
    assert_eq!(
        pane.handle_key(ctrl('n'), &ctx),
        KeyOutcome::Actions(vec![resolve(&theirs, false)])
    );

    // "All" asks first; anything but Ctrl-Y withdraws the question.
    pane.handle_key(KeyEvent::from(KeyCode::Char('A')), &ctx);
    assert!(render_pane(&mut pane, &ctx, 80, 16).contains("Apply all 2 changes? Ctrl-Y yes"));
    assert_eq!(
        pane.handle_key(KeyEvent::from(KeyCode::Char('y')), &ctx),
        KeyOutcome::Consumed
    );
    assert_eq!(pane.confirm_all, None);
    pane.handle_key(KeyEvent::from(KeyCode::Char('R')), &ctx);
    assert_eq!(
        pane.handle_key(ctrl('y'), &ctx),
        KeyOutcome::Actions(vec![resolve(&mine, false), resolve(&theirs, false)])
    );

    // A decision elsewhere refreshes the list.
    t.engine
        .store()
        .resolve_pending_change(&mine, "pending", "rejected")
        .unwrap();
    assert!(pane.on_event(
        &Event::ChangeResolved {
            change_id: mine.clone(),
            applied: false
        },
        &ctx
    ));
    assert_eq!(pane.title(&ctx), "Changes · 1 pending · 0 collisions");
    assert_eq!(project_collisions(&t.engine), 0);
}
