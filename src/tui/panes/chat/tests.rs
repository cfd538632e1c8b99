//! Snapshot tests of the chat pane on `TestBackend`, over a real engine on temp dirs.

use std::collections::BTreeMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::Terminal;

use super::*;
use crate::core::config::{Config, Environment, Overrides};
use crate::core::engine::{Engine, EngineOptions};
use crate::core::llm::types::Usage;
use crate::core::store::AgentSnapshot;
use crate::tui::theme::{ColorSupport, Theme};

pub(super) struct Env {
    pub(super) engine: Engine,
    pub(super) chat_id: String,
    project: tempfile::TempDir,
    _home: tempfile::TempDir,
    _rt: tokio::runtime::Runtime,
}

pub(super) fn env_with(key: bool) -> Env {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = rt.enter();
    let project = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let vars = BTreeMap::from([
        (
            "HOME".to_string(),
            home.path().to_string_lossy().into_owned(),
        ),
        (
            "BOOCODE_HOME".to_string(),
            home.path().to_string_lossy().into_owned(),
        ),
    ]);
    let config = Config::load(
        project.path(),
        &Environment {
            vars,
            user_config: None,
        },
        &Overrides {
            provider: None,
            base_url: key.then(|| "http://127.0.0.1:9".to_string()),
            model: Some("mock-model".into()),
            api_key: key.then(|| "sk-test".to_string()),
            approval: None,
        },
    )
    .unwrap();
    let (engine, _events, _) = Engine::start(EngineOptions {
        config,
        project_root: project.path().to_path_buf(),
        interactive: false,
    })
    .unwrap();
    let session = engine.open_session(None, false).unwrap();
    let chat = engine.main_chat(&session).unwrap();
    Env {
        engine,
        chat_id: chat.id,
        project,
        _home: home,
        _rt: rt,
    }
}

pub(super) fn env() -> Env {
    env_with(true)
}

pub(super) fn theme() -> Theme {
    Theme::new(ColorSupport::Ansi256)
}

pub(super) fn ctx<'a>(e: &'a Env, theme: &'a Theme, tick: u64) -> PaneContext<'a> {
    PaneContext {
        engine: &e.engine,
        theme,
        session_id: "",
        focused_chat: None,
        tick,
        wake: crate::tui::test_support::wake(),
    }
}

/// Title line, then the pane's rows, as text.
pub(super) fn draw(
    pane: &mut ChatPane,
    e: &Env,
    theme: &Theme,
    w: u16,
    h: u16,
    tick: u64,
) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    let c = ctx(e, theme, tick);
    term.draw(|f| pane.render(f, Rect::new(0, 0, w, h), &c, true))
        .unwrap();
    let buf = term.backend().buffer().clone();
    let mut out = format!("[{}]\n", pane.title(&c));
    for y in 0..h {
        let mut row = String::new();
        let mut skip = 0;
        for x in 0..w {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let sym = buf[(x, y)].symbol();
            skip = sym.width().saturating_sub(1);
            row.push_str(sym);
        }
        out.push_str(row.trim_end());
        out.push('\n');
    }
    out
}

pub(super) fn ev(pane: &mut ChatPane, e: &Env, event: Event) {
    let t = theme();
    pane.on_event(&event, &ctx(e, &t, 0));
}

pub(super) fn key(pane: &mut ChatPane, e: &Env, code: KeyCode, mods: KeyModifiers) -> KeyOutcome {
    let t = theme();
    pane.handle_key(KeyEvent::new(code, mods), &ctx(e, &t, 0))
}

pub(super) fn typed(pane: &mut ChatPane, e: &Env, s: &str) {
    for c in s.chars() {
        key(pane, e, KeyCode::Char(c), KeyModifiers::NONE);
    }
}

pub(super) fn new_pane(e: &Env) -> ChatPane {
    let t = theme();
    ChatPane::new(&e.chat_id, &ctx(e, &t, 0)).unwrap()
}

fn stream(pane: &mut ChatPane, e: &Env, text: &str) {
    let chat_id = e.chat_id.clone();
    ev(
        pane,
        e,
        Event::TurnStarted {
            chat_id: chat_id.clone(),
            turn: 1,
        },
    );
    // Deltas of 7 characters: lines arrive in pieces, as from a model.
    let chars: Vec<char> = text.chars().collect();
    for chunk in chars.chunks(7) {
        ev(
            pane,
            e,
            Event::TextDelta {
                chat_id: chat_id.clone(),
                text: chunk.iter().collect(),
            },
        );
    }
}

fn delta(p: &mut ChatPane, e: &Env, text: &str) {
    ev(
        p,
        e,
        Event::TextDelta {
            chat_id: e.chat_id.clone(),
            text: text.into(),
        },
    );
}

fn turn_started(p: &mut ChatPane, e: &Env, turn: i64) {
    ev(
        p,
        e,
        Event::TurnStarted {
            chat_id: e.chat_id.clone(),
            turn,
        },
    );
}

const MARKDOWN: &str = "# Plan\n\nSome *emphasis*, **bold** and `code`.\n\n1. first\n2. second\n   - nested\n\n| name | size |\n|------|------|\n| a.rs | 10 |\n| b.rs | 2000 |\n\n```rust\nfn main() {\n    println!(\"hi\");\n}\n```\n\n> quoted\n\nSee [the docs](https://example.com/docs).\n\n---\n";

fn finished_markdown(e: &Env) -> ChatPane {
    let mut p = new_pane(e);
    stream(&mut p, e, MARKDOWN);
    ev(
        &mut p,
        e,
        Event::MessageFinished {
            chat_id: e.chat_id.clone(),
            message_id: "m".into(),
            content: MARKDOWN.into(),
        },
    );
    ev(&mut p, e, turn_done(e, "completed", None));
    p
}

fn turn_done(e: &Env, status: &str, error: Option<&str>) -> Event {
    Event::TurnFinished {
        chat_id: e.chat_id.clone(),
        turn: 1,
        status: status.into(),
        usage: Usage::default(),
        error: error.map(str::to_string),
    }
}

#[test]
fn markdown_transcript() {
    let e = env();
    let mut p = finished_markdown(&e);
    insta::assert_snapshot!(draw(&mut p, &e, &theme(), 60, 40, 0));
}

#[test]
fn narrow_width() {
    let e = env();
    let mut p = finished_markdown(&e);
    insta::assert_snapshot!(draw(&mut p, &e, &theme(), 30, 50, 0));
}

#[test]
fn streaming_shows_the_open_line_as_it_grows() {
    let e = env();
    let mut p = new_pane(&e);
    stream(
        &mut p,
        &e,
        "First line is **done**.\n\nSecond line is still arriv",
    );
    let out = draw(&mut p, &e, &theme(), 50, 8, 0);
    assert!(out.contains("First line is done."), "{out}");
    // The open line shows as plain text while it grows, after the blank line its paragraph
    // will have.
    assert!(
        out.contains("First line is done.\n\nSecond line is still arriv\n"),
        "{out}"
    );
    insta::assert_snapshot!(out);
    delta(&mut p, &e, "ing, *slowly*");
    let out = draw(&mut p, &e, &theme(), 50, 8, 0);
    assert!(
        out.contains("Second line is still arriving, *slowly*"),
        "{out}"
    );
    delta(&mut p, &e, ".\n");
    // Complete: rendered as markdown, shown once.
    let out = draw(&mut p, &e, &theme(), 50, 8, 0);
    assert!(
        out.contains("Second line is still arriving, slowly."),
        "{out}"
    );
    assert_eq!(out.matches("Second line").count(), 1, "{out}");
}

#[test]
fn a_running_sub_agents_reply_goes_on_in_one_item() {
    let e = env();
    let store = e.engine.store();
    store
        .insert_user_message(&e.chat_id, 1, "write lorem ipsum", &[])
        .unwrap();
    let message = store
        .begin_assistant_message(&e.chat_id, 1, "mock-model")
        .unwrap();
    let fragment = "lorem ipsum dolor sit amet consectetur adipiscin";
    store
        .save_assistant_progress(
            &message.id,
            &[crate::core::store::MessagePart::text(
                crate::core::store::PartKind::Text,
                fragment,
            )],
        )
        .unwrap();
    // The sub-agent's turn is running when its chat is opened.
    let _turn = e.engine.rt.begin_turn(&e.chat_id, None).unwrap();
    let mut p = new_pane(&e);
    assert!(draw(&mut p, &e, &theme(), 100, 8, 0).contains(fragment));
    for text in ["g elit, sed do", " eiusmod tempor"] {
        delta(&mut p, &e, text);
    }
    let out = draw(&mut p, &e, &theme(), 100, 8, 0);
    assert!(
        out.contains("adipiscing elit, sed do eiusmod tempor"),
        "the reply froze: {out}"
    );
    let full = format!("{fragment}g elit, sed do eiusmod tempor incididunt.");
    ev(
        &mut p,
        &e,
        Event::MessageFinished {
            chat_id: e.chat_id.clone(),
            message_id: message.id.clone(),
            content: full.clone(),
        },
    );
    let out = draw(&mut p, &e, &theme(), 100, 8, 0);
    assert_eq!(
        out.matches("lorem ipsum dolor").count(),
        1,
        "shown twice: {out}"
    );
    assert!(out.contains("incididunt."), "{out}");
}

#[test]
fn reasoning_collapsed_and_expanded() {
    let e = env();
    let mut p = new_pane(&e);
    ev(
        &mut p,
        &e,
        Event::ReasoningDelta {
            chat_id: e.chat_id.clone(),
            text: "Let me look at the files.\nThen the tests.\nThen decide.".into(),
        },
    );
    stream(&mut p, &e, "Done.\n");
    let collapsed = draw(&mut p, &e, &theme(), 50, 8, 0);
    assert!(collapsed.contains("▸ Let me look at the files. … (3 lines)"));
    key(&mut p, &e, KeyCode::Tab, KeyModifiers::NONE);
    key(&mut p, &e, KeyCode::Enter, KeyModifiers::NONE);
    let expanded = draw(&mut p, &e, &theme(), 50, 8, 0);
    insta::assert_snapshot!(format!("{collapsed}\n{expanded}"));
}

fn tool(p: &mut ChatPane, e: &Env, id: &str, name: &str, input: serde_json::Value) {
    ev(
        p,
        e,
        Event::ToolStarted {
            chat_id: e.chat_id.clone(),
            trace_id: format!("t{id}"),
            tool_call_id: format!("c{id}"),
            tool_name: name.into(),
            input,
        },
    );
}

fn tool_done(
    p: &mut ChatPane,
    e: &Env,
    id: &str,
    outcome: &str,
    ms: u64,
    error: Option<&str>,
    diff: Option<String>,
) {
    ev(
        p,
        e,
        Event::ToolFinished {
            chat_id: e.chat_id.clone(),
            trace_id: format!("t{id}"),
            tool_name: String::new(),
            outcome: outcome.into(),
            latency_ms: ms,
            output: "line one\nline two".into(),
            error: error.map(str::to_string),
            diff,
        },
    );
}

#[test]
fn tool_lines() {
    let e = env();
    let mut p = new_pane(&e);
    turn_started(&mut p, &e, 1);
    tool(
        &mut p,
        &e,
        "1",
        "read_file",
        serde_json::json!({"file_path": "src/lib.rs"}),
    );
    tool(
        &mut p,
        &e,
        "2",
        "grep",
        serde_json::json!({"pattern": "fn main"}),
    );
    tool(
        &mut p,
        &e,
        "3",
        "run_command",
        serde_json::json!({"command": "cargo", "args": ["test", "-q"]}),
    );
    tool_done(&mut p, &e, "1", "success", 120, None, None);
    tool_done(&mut p, &e, "2", "error", 2300, Some("invalid regex"), None);
    assert!(p.is_animating());
    let out = draw(&mut p, &e, &theme(), 60, 6, 3);
    insta::assert_snapshot!(out);
    tool_done(&mut p, &e, "3", "success", 6000, None, None);
    ev(&mut p, &e, turn_done(&e, "completed", None));
    assert!(!p.is_animating());
    // Expanded: input and output.
    key(&mut p, &e, KeyCode::Tab, KeyModifiers::NONE);
    key(&mut p, &e, KeyCode::Enter, KeyModifiers::NONE);
    let out = draw(&mut p, &e, &theme(), 60, 14, 0);
    assert!(out.contains("\"command\": \"cargo\""), "{out}");
    assert!(out.contains("line two"), "{out}");
}

fn long_diff() -> String {
    let mut d = String::from("--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -1,14 +1,14 @@\n");
    for i in 0..14 {
        d.push_str(&format!("-old {i}\n+new {i}\n"));
    }
    d
}

#[test]
fn diff_collapsed_and_expanded() {
    let e = env();
    let mut p = new_pane(&e);
    tool(
        &mut p,
        &e,
        "1",
        "edit_file",
        serde_json::json!({"file_path": "src/lib.rs"}),
    );
    tool_done(&mut p, &e, "1", "success", 5, None, Some(long_diff()));
    let collapsed = draw(&mut p, &e, &theme(), 50, 16, 0);
    assert!(collapsed.contains("more diff lines"));
    key(&mut p, &e, KeyCode::Tab, KeyModifiers::NONE);
    key(&mut p, &e, KeyCode::Enter, KeyModifiers::NONE);
    let expanded = draw(&mut p, &e, &theme(), 50, 36, 0);
    assert!(expanded.contains("+new 13"));
    insta::assert_snapshot!(format!("{collapsed}\n{expanded}"));
}

fn change_pending(p: &mut ChatPane, e: &Env, change_id: &str, path: &str, diff: &str) {
    ev(
        p,
        e,
        Event::ChangePending {
            chat_id: e.chat_id.clone(),
            change_id: change_id.into(),
            path: path.into(),
            diff: diff.into(),
        },
    );
}

/// What a key that decides a change returns.
fn resolves(change_id: &str, apply: bool) -> KeyOutcome {
    KeyOutcome::Actions(vec![AppAction::Engine(Command::ResolveChange {
        change_id: change_id.into(),
        apply,
    })])
}

fn change_resolved(p: &mut ChatPane, e: &Env, change_id: &str, applied: bool) {
    ev(
        p,
        e,
        Event::ChangeResolved {
            change_id: change_id.into(),
            applied,
        },
    );
}

#[test]
fn pending_change_apply_reject() {
    let e = env();
    let mut p = new_pane(&e);
    change_pending(&mut p, &e, "ch1", "src/lib.rs", "@@ -1 +1 @@\n-a\n+b\n");
    insta::assert_snapshot!(draw(&mut p, &e, &theme(), 50, 8, 0));
    let out = key(&mut p, &e, KeyCode::Char('y'), KeyModifiers::CONTROL);
    assert_eq!(out, resolves("ch1", true));
    let out = key(&mut p, &e, KeyCode::Char('n'), KeyModifiers::CONTROL);
    assert!(
        matches!(&out, KeyOutcome::Actions(a) if a == &vec![AppAction::Engine(Command::ResolveChange { change_id: "ch1".into(), apply: false })])
    );
    change_resolved(&mut p, &e, "ch1", true);
    assert!(draw(&mut p, &e, &theme(), 50, 8, 0).contains("✓ change src/lib.rs  applied"));
}

#[test]
fn command_confirmation_y_n() {
    let e = env();
    let mut p = new_pane(&e);
    ev(
        &mut p,
        &e,
        Event::CommandConfirmationRequested {
            chat_id: e.chat_id.clone(),
            request_id: "r1".into(),
            command: "rm -rf target".into(),
        },
    );
    let out = draw(&mut p, &e, &theme(), 50, 6, 0);
    assert!(
        out.contains("? run rm -rf target  waiting for your answer"),
        "{out}"
    );
    assert!(out.contains("Ctrl-Y run · Ctrl-N refuse"), "{out}");
    let out = key(&mut p, &e, KeyCode::Char('y'), KeyModifiers::CONTROL);
    assert_eq!(
        out,
        KeyOutcome::Actions(vec![AppAction::Engine(Command::ConfirmCommand {
            request_id: "r1".into(),
            allow: true
        })])
    );
}

#[test]
fn the_projects_approval_question_waits_for_keys_across_turns() {
    let e = env();
    let mut p = new_pane(&e);
    ev(
        &mut p,
        &e,
        Event::ProjectApprovalRequested {
            chat_id: e.chat_id.clone(),
            request_id: "r1".into(),
            question: "the 2 hooks and the MCP server docs this project defines".into(),
        },
    );
    // A turn that ends meanwhile does not answer it for the person.
    ev(&mut p, &e, turn_done(&e, "completed", None));
    let out = draw(&mut p, &e, &theme(), 80, 6, 0);
    assert!(
        out.contains("? run the 2 hooks and the MCP server docs this project defines"),
        "{out}"
    );
    assert!(out.contains("waiting for your"), "{out}");
    assert!(out.contains("Ctrl-Y run · Ctrl-N refuse"), "{out}");
    for c in "yes".chars() {
        assert!(!decided(&key(
            &mut p,
            &e,
            KeyCode::Char(c),
            KeyModifiers::NONE
        )));
    }
    assert_eq!(
        ctrl(&mut p, &e, 'n'),
        KeyOutcome::Actions(vec![AppAction::Engine(Command::ConfirmCommand {
            request_id: "r1".into(),
            allow: false
        })])
    );
}

fn ctrl(p: &mut ChatPane, e: &Env, c: char) -> KeyOutcome {
    key(p, e, KeyCode::Char(c), KeyModifiers::CONTROL)
}

fn decided(out: &KeyOutcome) -> bool {
    matches!(out, KeyOutcome::Actions(actions) if actions.iter().any(|a| matches!(
        a,
        AppAction::Engine(Command::ResolveChange { .. } | Command::ConfirmCommand { .. })
    )))
}

#[test]
fn typing_a_sentence_never_decides() {
    let e = env();
    let mut p = new_pane(&e);
    change_pending(&mut p, &e, "ch1", "main.py", "@@ -1 +1 @@\n-a\n+b\n");
    let sentence = "and also tell me more, you should wait. reply please";
    for c in sentence.chars() {
        let out = key(&mut p, &e, KeyCode::Char(c), KeyModifiers::NONE);
        assert!(!decided(&out), "typing {c:?} decided: {out:?}");
    }
    assert_eq!(p.composer_text(), sentence);
    ev(
        &mut p,
        &e,
        Event::CommandConfirmationRequested {
            chat_id: e.chat_id.clone(),
            request_id: "r1".into(),
            command: "make deploy".into(),
        },
    );
    key(&mut p, &e, KeyCode::Char('u'), KeyModifiers::CONTROL);
    for c in "you should wait".chars() {
        let out = key(&mut p, &e, KeyCode::Char(c), KeyModifiers::NONE);
        assert!(!decided(&out), "typing {c:?} decided: {out:?}");
    }
    assert_eq!(p.composer_text(), "you should wait");
    // The decision the keys act on has its own highlighted line, with its keys.
    let out = draw(&mut p, &e, &theme(), 80, 12, 0);
    assert!(
        out.contains("● apply main.py?")
            && out.contains("Ctrl-Y apply · Ctrl-N reject · 1 more (Tab)"),
        "{out}"
    );
    insta::assert_snapshot!(out);
    assert_eq!(ctrl(&mut p, &e, 'n'), resolves("ch1", false));
    change_resolved(&mut p, &e, "ch1", false);
    // The oldest open decision is next; the draft is untouched.
    assert!(draw(&mut p, &e, &theme(), 70, 12, 0).contains("? run make deploy?"));
    assert_eq!(
        ctrl(&mut p, &e, 'y'),
        KeyOutcome::Actions(vec![AppAction::Engine(Command::ConfirmCommand {
            request_id: "r1".into(),
            allow: true
        })])
    );
    assert_eq!(p.composer_text(), "you should wait");
}

#[test]
fn a_decided_change_can_be_decided_otherwise_until_the_next_turn() {
    let e = env();
    let mut p = new_pane(&e);
    turn_started(&mut p, &e, 1);
    change_pending(&mut p, &e, "ch1", "main.py", "@@ -1 +1 @@\n-a\n+b\n");
    change_resolved(&mut p, &e, "ch1", true);
    let out = draw(&mut p, &e, &theme(), 70, 10, 0);
    assert!(
        out.contains("✓ applied main.py") && out.contains("Ctrl-N revert"),
        "{out}"
    );
    assert_eq!(ctrl(&mut p, &e, 'n'), resolves("ch1", false));
    change_resolved(&mut p, &e, "ch1", false);
    assert!(draw(&mut p, &e, &theme(), 70, 10, 0).contains("Ctrl-Y apply"));
    // Once the next turn starts the decision stands.
    ev(&mut p, &e, turn_done(&e, "completed", None));
    turn_started(&mut p, &e, 2);
    assert!(!draw(&mut p, &e, &theme(), 70, 10, 0).contains("Ctrl-Y"));
    assert!(!decided(&ctrl(&mut p, &e, 'y')));
}

#[test]
fn the_more_below_note_never_covers_the_transcript() {
    let e = env();
    let mut p = new_pane(&e);
    let text: String = (1..=30).map(|i| format!("line {i}\n\n")).collect();
    stream(&mut p, &e, &text);
    draw(&mut p, &e, &theme(), 60, 10, 0);
    key(&mut p, &e, KeyCode::PageUp, KeyModifiers::NONE);
    let out = draw(&mut p, &e, &theme(), 60, 10, 0);
    let rows: Vec<&str> = out.lines().collect();
    // Title, 8 transcript rows, the separator, the composer.
    let last_transcript_row = rows[8];
    assert!(!last_transcript_row.contains("more below"), "{out}");
    assert!(rows[9].contains("↓ more below · End follows"), "{out}");
}

#[test]
fn a_proposed_change_shows_its_diff_once_and_no_tick() {
    let e = env();
    let mut p = new_pane(&e);
    let diff = "--- a/main.py\n+++ b/main.py\n@@ -1 +1 @@\n-print('hi')\n+print('hello')\n";
    tool(
        &mut p,
        &e,
        "1",
        "edit_file",
        serde_json::json!({"file_path": "main.py"}),
    );
    change_pending(&mut p, &e, "ch1", "main.py", diff);
    ev(
        &mut p,
        &e,
        Event::ToolFinished {
            chat_id: e.chat_id.clone(),
            trace_id: "t1".into(),
            tool_name: "edit_file".into(),
            outcome: "success".into(),
            latency_ms: 3,
            output: format!(
                "Edited main.py — pending user review (change id ch1); the file on disk is \
                 unchanged until the user applies it.\n{diff}"
            ),
            error: None,
            diff: Some(diff.into()),
        },
    );
    let out = draw(&mut p, &e, &theme(), 60, 14, 0);
    assert_eq!(out.matches("+print('hello')").count(), 1, "{out}");
    assert!(!out.contains("✓ edit_file"), "{out}");
    assert!(
        out.contains("• edit_file main.py  3ms  proposed for review"),
        "{out}"
    );
    insta::assert_snapshot!(out);
}

#[test]
fn inline_error() {
    let e = env();
    let mut p = new_pane(&e);
    stream(&mut p, &e, "Partial\n");
    ev(
        &mut p,
        &e,
        turn_done(
            &e,
            "failed",
            Some("insufficient balance — top up or switch provider"),
        ),
    );
    insta::assert_snapshot!(draw(&mut p, &e, &theme(), 60, 8, 0));
}

#[test]
fn interrupted_turn_resumes_with_r() {
    let e = env();
    e.engine
        .store()
        .insert_user_message(&e.chat_id, 1, "fix the bug", &[])
        .unwrap();
    e.engine
        .store()
        .save_snapshot(&AgentSnapshot {
            chat_id: e.chat_id.clone(),
            model: "mock-model".into(),
            agent: "general-purpose".into(),
            mode: "read-only".into(),
            state: "awaiting_model".into(),
            turn_number: 1,
            step: 1,
            history: vec![],
            pending_tool_calls: vec![],
        })
        .unwrap();
    let mut p = new_pane(&e);
    let out = draw(&mut p, &e, &theme(), 60, 8, 0);
    assert!(out.contains("Ctrl-R resume"), "{out}");
    insta::assert_snapshot!(out);
    // A message that starts with r is typed, not a resume.
    typed(&mut p, &e, "r");
    assert_eq!(p.composer_text(), "r");
    key(&mut p, &e, KeyCode::Backspace, KeyModifiers::NONE);
    assert_eq!(
        key(&mut p, &e, KeyCode::Char('r'), KeyModifiers::CONTROL),
        KeyOutcome::Actions(vec![AppAction::Engine(Command::ResumeChat {
            chat_id: e.chat_id.clone()
        })])
    );
    // The resumed turn runs; Esc cancels it.
    assert_eq!(
        key(&mut p, &e, KeyCode::Esc, KeyModifiers::NONE),
        KeyOutcome::Actions(vec![AppAction::Engine(Command::CancelTurn {
            chat_id: e.chat_id.clone()
        })])
    );
}

#[test]
fn missing_api_key_says_which_variable() {
    let e = env_with(false);
    let mut p = new_pane(&e);
    let out = draw(&mut p, &e, &theme(), 70, 6, 0);
    assert!(out.contains("DEEPSEEK_API_KEY"), "{out}");
    typed(&mut p, &e, "hi");
    assert_eq!(
        key(&mut p, &e, KeyCode::Enter, KeyModifiers::NONE),
        KeyOutcome::Consumed
    );
}

#[test]
fn composer_multiline_and_send() {
    let e = env();
    let mut p = new_pane(&e);
    typed(&mut p, &e, "hello");
    key(&mut p, &e, KeyCode::Enter, KeyModifiers::ALT);
    typed(&mut p, &e, "world");
    key(&mut p, &e, KeyCode::Enter, KeyModifiers::SHIFT);
    typed(&mut p, &e, "third line");
    insta::assert_snapshot!(draw(&mut p, &e, &theme(), 40, 8, 0));
    let out = key(&mut p, &e, KeyCode::Enter, KeyModifiers::NONE);
    assert_eq!(
        out,
        KeyOutcome::Actions(vec![AppAction::Engine(Command::SendMessage {
            chat_id: e.chat_id.clone(),
            text: "hello\nworld\nthird line".into(),
            attachments: vec![],
        })])
    );
    // Esc while the turn runs cancels it.
    assert_eq!(
        key(&mut p, &e, KeyCode::Esc, KeyModifiers::NONE),
        KeyOutcome::Actions(vec![AppAction::Engine(Command::CancelTurn {
            chat_id: e.chat_id.clone()
        })])
    );
}

#[test]
fn paste_collapses_in_composer() {
    let e = env();
    let mut p = new_pane(&e);
    let body: String = (0..30).map(|i| format!("row {i}\n")).collect();
    let t = theme();
    p.handle_paste(&body, &ctx(&e, &t, 0));
    assert!(draw(&mut p, &e, &t, 40, 6, 0).contains("› [pasted 30 lines]"));
    let KeyOutcome::Actions(a) = key(&mut p, &e, KeyCode::Enter, KeyModifiers::NONE) else {
        panic!("not sent");
    };
    assert!(
        matches!(&a[0], AppAction::Engine(Command::SendMessage { text, .. }) if text.lines().count() == 30)
    );
}

#[test]
fn slash_popup_and_commands() {
    let e = env();
    let mut p = new_pane(&e);
    typed(&mut p, &e, "/");
    insta::assert_snapshot!(draw(&mut p, &e, &theme(), 60, 14, 0));
    typed(&mut p, &e, "mo");
    key(&mut p, &e, KeyCode::Tab, KeyModifiers::NONE);
    assert_eq!(p.composer_text(), "/model ");
    typed(&mut p, &e, "other-model");
    key(&mut p, &e, KeyCode::Enter, KeyModifiers::NONE);
    assert!(p.title(&ctx(&e, &theme(), 0)).contains("other-model"));
    typed(&mut p, &e, "/bogus");
    key(&mut p, &e, KeyCode::Esc, KeyModifiers::NONE);
    p.composer.clear();
    typed(&mut p, &e, "/bogus x");
    key(&mut p, &e, KeyCode::Enter, KeyModifiers::NONE);
    assert!(draw(&mut p, &e, &theme(), 60, 14, 0).contains("unknown command /bogus"));
    p.composer.clear();
    for (cmd, want) in [
        ("/new", AppAction::NewChat),
        ("/resume", AppAction::PickSession),
        ("/help", AppAction::Help),
    ] {
        typed(&mut p, &e, cmd);
        assert_eq!(
            key(&mut p, &e, KeyCode::Enter, KeyModifiers::NONE),
            KeyOutcome::Actions(vec![want])
        );
    }
    typed(&mut p, &e, "/compare a,b");
    key(&mut p, &e, KeyCode::Enter, KeyModifiers::NONE);
    typed(&mut p, &e, "which is faster?");
    assert_eq!(
        key(&mut p, &e, KeyCode::Enter, KeyModifiers::NONE),
        KeyOutcome::Actions(vec![AppAction::Compare {
            models: vec!["a".into(), "b".into()],
            prompt: "which is faster?".into()
        }])
    );
    for (cmd, args) in [
        (
            "/workflow review-code {\"path\": \"src\"}",
            serde_json::json!({"path": "src"}),
        ),
        (
            "/workflow review-code look at src",
            serde_json::json!("look at src"),
        ),
        ("/workflow review-code", serde_json::Value::Null),
    ] {
        typed(&mut p, &e, cmd);
        assert_eq!(
            key(&mut p, &e, KeyCode::Enter, KeyModifiers::NONE),
            KeyOutcome::Actions(vec![AppAction::RunWorkflow {
                name: "review-code".into(),
                args
            }])
        );
    }
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let mut v = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13];
    v.extend_from_slice(b"IHDR");
    v.extend_from_slice(&w.to_be_bytes());
    v.extend_from_slice(&h.to_be_bytes());
    v.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
    v.resize(2048, 0);
    v
}

#[test]
fn attachment_chip() {
    let e = env();
    std::fs::write(e.project.path().join("shot.png"), png(800, 600)).unwrap();
    let mut p = new_pane(&e);
    typed(&mut p, &e, "/attach shot.png");
    key(&mut p, &e, KeyCode::Enter, KeyModifiers::NONE);
    assert_eq!(p.attachments().len(), 1);
    typed(&mut p, &e, "what is this?");
    insta::assert_snapshot!(draw(&mut p, &e, &theme(), 50, 6, 0));
    let KeyOutcome::Actions(a) = key(&mut p, &e, KeyCode::Enter, KeyModifiers::NONE) else {
        panic!("not sent");
    };
    assert!(
        matches!(&a[0], AppAction::Engine(Command::SendMessage { attachments, .. }) if attachments.len() == 1)
    );
    assert!(p.attachments().is_empty());
    // Esc keeps an attached image; Backspace on an empty draft removes it and says so.
    typed(&mut p, &e, "/attach shot.png");
    key(&mut p, &e, KeyCode::Enter, KeyModifiers::NONE);
    key(&mut p, &e, KeyCode::Esc, KeyModifiers::NONE);
    assert_eq!(p.attachments().len(), 1);
    key(&mut p, &e, KeyCode::Backspace, KeyModifiers::NONE);
    assert!(p.attachments().is_empty());
    assert!(draw(&mut p, &e, &theme(), 60, 10, 0).contains("removed image shot.png"));
    typed(&mut p, &e, "/attach missing.png");
    key(&mut p, &e, KeyCode::Enter, KeyModifiers::NONE);
    assert!(draw(&mut p, &e, &theme(), 50, 10, 0).contains("/attach:"));
}

#[test]
fn long_lines_cjk_and_emoji() {
    let e = env();
    let mut p = new_pane(&e);
    let text = format!(
        "{}\n日本語のテキストはスペースなしで折り返されます。\n絵文字 🎉👩‍💻 も正しい幅で表示されます 🚀🚀🚀\n",
        "x".repeat(70)
    );
    stream(&mut p, &e, &text);
    let out = draw(&mut p, &e, &theme(), 24, 14, 0);
    for line in out.lines().skip(1) {
        assert!(line.width() <= 24, "{line}");
    }
    insta::assert_snapshot!(out);
}

#[test]
fn no_color_means_no_colours_in_the_buffer() {
    let e = env();
    let mut p = finished_markdown(&e);
    tool(
        &mut p,
        &e,
        "1",
        "edit_file",
        serde_json::json!({"file_path": "a"}),
    );
    tool_done(&mut p, &e, "1", "success", 5, None, Some(long_diff()));
    let t = Theme::new(ColorSupport::None);
    let mut term = Terminal::new(TestBackend::new(60, 60)).unwrap();
    let c = ctx(&e, &t, 0);
    term.draw(|f| p.render(f, Rect::new(0, 0, 60, 60), &c, true))
        .unwrap();
    for cell in term.backend().buffer().content() {
        assert_eq!(cell.fg, Color::Reset, "{cell:?}");
        assert_eq!(cell.bg, Color::Reset, "{cell:?}");
    }
}

#[test]
fn copy_mode_copies_selected_lines() {
    let e = env();
    let mut p = new_pane(&e);
    stream(&mut p, &e, "alpha\nbeta\ngamma\n");
    draw(&mut p, &e, &theme(), 40, 8, 0);
    key(&mut p, &e, KeyCode::Char('v'), KeyModifiers::ALT);
    key(&mut p, &e, KeyCode::Char('k'), KeyModifiers::NONE);
    key(&mut p, &e, KeyCode::Char('k'), KeyModifiers::NONE);
    let out = key(&mut p, &e, KeyCode::Char('y'), KeyModifiers::NONE);
    let KeyOutcome::Actions(a) = out else {
        panic!()
    };
    assert_eq!(a[0], AppAction::Copy("alpha\nbeta\ngamma".into()));
}

#[test]
fn long_chat_pages_and_scrolls_to_turn() {
    let e = env();
    let store = e.engine.store();
    for t in 1..=400 {
        store
            .insert_user_message(&e.chat_id, t, &format!("question {t}"), &[])
            .unwrap();
    }
    let mut p = new_pane(&e);
    assert!(draw(&mut p, &e, &theme(), 40, 10, 0).contains("question 400"));
    p.jump_to_turn(3);
    let out = draw(&mut p, &e, &theme(), 40, 10, 0);
    assert!(out.contains("› question 3\n"), "{out}");
    key(&mut p, &e, KeyCode::PageUp, KeyModifiers::NONE);
    assert!(draw(&mut p, &e, &theme(), 40, 10, 0).contains("› question 1\n"));
    key(&mut p, &e, KeyCode::End, KeyModifiers::NONE);
    assert!(draw(&mut p, &e, &theme(), 40, 10, 0).contains("question 400"));
}

#[test]
fn search_finds_older_and_newer_lines_and_copies_the_match() {
    let e = env();
    let mut p = finished_markdown(&e);
    draw(&mut p, &e, &theme(), 60, 40, 0);
    assert!(p.start_search());
    assert_eq!(p.mode_label(), Some("SEARCH"));
    typed(&mut p, &e, "A.RS");
    assert_eq!(
        key(&mut p, &e, KeyCode::Enter, KeyModifiers::NONE),
        KeyOutcome::Consumed
    );
    let screen = draw(&mut p, &e, &theme(), 60, 40, 0);
    assert!(screen.contains("search: A.RS"), "{screen}");
    // `y` copies the line the search landed on.
    match key(&mut p, &e, KeyCode::Char('y'), KeyModifiers::NONE) {
        KeyOutcome::Actions(actions) => match &actions[0] {
            AppAction::Copy(text) => assert!(text.contains("a.rs"), "{text}"),
            other => panic!("expected a copy, got {other:?}"),
        },
        other => panic!("expected actions, got {other:?}"),
    }
    // A query with no match says so and leaves the view alone.
    p.start_search();
    typed(&mut p, &e, "zebra");
    match key(&mut p, &e, KeyCode::Enter, KeyModifiers::NONE) {
        KeyOutcome::Actions(actions) => {
            assert!(matches!(&actions[0], AppAction::Notice(n) if n.contains("no older match")))
        }
        other => panic!("expected a notice, got {other:?}"),
    }
    key(&mut p, &e, KeyCode::Esc, KeyModifiers::NONE);
    assert_eq!(p.mode_label(), None);
}

/// A stored turn with a write that finished (diff, latency), a read that failed, and a call
/// whose process died before it ended.
fn stored_tool_turn(e: &Env) {
    stored_tool_turn_with(e, "wrote src/lib.rs");
}

/// The same turn, the write's result being `write_output`.
fn stored_tool_turn_with(e: &Env, write_output: &str) {
    use crate::core::llm::types::ToolCall;
    use crate::core::store::{MessagePart, ReplyEnd, ToolResult, TraceCompletion};
    let store = e.engine.store();
    store
        .insert_user_message(&e.chat_id, 1, "update the file", &[])
        .unwrap();
    let call_id = store.begin_model_call(&e.chat_id, 1, "mock-model").unwrap();
    let a = store
        .begin_assistant_message(&e.chat_id, 1, "mock-model")
        .unwrap();
    let calls = [
        ToolCall::new("c1", "write_file", r#"{"file_path":"src/lib.rs"}"#),
        ToolCall::new("c2", "read_file", r#"{"file_path":"missing.rs"}"#),
        ToolCall::new("c3", "run_command", r#"{"command":"sleep"}"#),
    ];
    let parts: Vec<MessagePart> = calls.iter().map(MessagePart::tool_call).collect();
    store
        .finish_reply(&ReplyEnd {
            call_id: &call_id,
            message_id: &a.id,
            parts: &parts,
            status: "complete",
            error: None,
            usage: &Usage::default(),
            finish_reason: Some("tool_calls"),
            latency_ms: 5,
        })
        .unwrap();
    let chat = e.engine.chat(&e.chat_id).unwrap();
    for c in &calls {
        store
            .begin_trace(&crate::core::store::TraceRow {
                id: format!("trace-{}", c.id),
                message_id: Some(a.id.clone()),
                ..crate::core::store::TraceRow::started(&chat, 1, c, c.function.arguments.clone())
            })
            .unwrap();
    }
    store
        .finish_trace(
            "trace-c1",
            &TraceCompletion {
                output: write_output,
                diff: Some(
                    "--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -1 +1 @@\n-old line\n+new line\n",
                ),
                error: None,
                outcome: "success",
                latency_ms: 1_500,
            },
        )
        .unwrap();
    store
        .finish_trace(
            "trace-c2",
            &TraceCompletion {
                output: "error: no such file",
                diff: None,
                error: Some("no such file"),
                outcome: "error",
                latency_ms: 40,
            },
        )
        .unwrap();
    let snapshot = AgentSnapshot {
        chat_id: e.chat_id.clone(),
        model: "mock-model".into(),
        agent: "general-purpose".into(),
        mode: "auto".into(),
        state: "awaiting_model".into(),
        turn_number: 1,
        step: 1,
        history: vec![],
        pending_tool_calls: vec![],
    };
    store
        .record_tool_results(
            &e.chat_id,
            1,
            &[
                ToolResult {
                    tool_call_id: "c1",
                    tool_name: "write_file",
                    content: write_output,
                },
                ToolResult {
                    tool_call_id: "c2",
                    tool_name: "read_file",
                    content: "error: no such file",
                },
            ],
            &snapshot,
        )
        .unwrap();
}

#[test]
fn stored_tool_calls_show_how_they_ended() {
    let e = env();
    stored_tool_turn(&e);
    let mut p = new_pane(&e);
    let out = draw(&mut p, &e, &theme(), 60, 14, 0);
    assert!(out.contains("✓ write_file src/lib.rs  1.5s"), "{out}");
    assert!(out.contains("+new line"), "the write's diff shows: {out}");
    assert!(
        out.contains("✗ read_file missing.rs  40ms  no such file"),
        "{out}"
    );
    assert!(out.contains("✗ run_command sleep  interrupted"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn a_change_decided_before_the_pane_opened_says_how() {
    let e = env();
    let store = e.engine.store();
    let diff = "--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -1 +1 @@\n-old line\n+new line\n";
    let id = store
        .insert_pending_change(&e.chat_id, "/p/src/lib.rs", "src/lib.rs", None, None, diff)
        .unwrap();
    stored_tool_turn_with(
        &e,
        &format!("Edited src/lib.rs — pending user review (change id {id}); unchanged on disk"),
    );
    let pending = draw(&mut new_pane(&e), &e, &theme(), 60, 30, 0);
    assert!(pending.contains("proposed for review"), "{pending}");
    assert!(store
        .resolve_pending_change(&id, "pending", "applied")
        .unwrap());
    let applied = draw(&mut new_pane(&e), &e, &theme(), 60, 30, 0);
    assert!(
        applied.contains("• write_file src/lib.rs  1.5s  applied in review"),
        "{applied}"
    );
    assert!(
        applied.contains("+new line"),
        "the diff shows once: {applied}"
    );
}

#[test]
fn a_message_sent_elsewhere_shows_and_ours_shows_once() {
    let e = env();
    let mut p = new_pane(&e);
    let stored = |text: &str, turn: i64| Event::UserMessage {
        chat_id: e.chat_id.clone(),
        turn,
        text: text.into(),
        attachments: vec!["shot.png".into()],
    };
    // A compare group's pane is opened before its prompt is sent from another pane.
    ev(&mut p, &e, stored("hello both", 1));
    let out = draw(&mut p, &e, &theme(), 40, 8, 0);
    assert!(out.contains("› hello both"), "{out}");
    assert!(out.contains("[image shot.png]"), "{out}");
    // What the pane sent itself is already on screen: its event adds nothing.
    typed(&mut p, &e, "and again");
    key(&mut p, &e, KeyCode::Enter, KeyModifiers::NONE);
    ev(&mut p, &e, stored("and again", 2));
    let out = draw(&mut p, &e, &theme(), 40, 8, 0);
    assert_eq!(out.matches("› and again").count(), 1, "{out}");
    assert_eq!(out.matches("› hello both").count(), 1, "{out}");
}

#[test]
fn a_workflow_report_shows_live_and_after_a_restart() {
    let e = env();
    let heading = "workflow review-code completed · run r1";
    let body = "## Findings\n\n- `util.py`: off by one";
    let mut live = new_pane(&e);
    ev(
        &mut live,
        &e,
        Event::WorkflowReported {
            chat_id: e.chat_id.clone(),
            run_id: "r1".into(),
            heading: heading.into(),
            body: body.into(),
        },
    );
    let shown = draw(&mut live, &e, &theme(), 60, 12, 0);
    for want in [
        "· ⚙ workflow review-code completed · run r1",
        "Findings",
        "util.py: off by one",
    ] {
        assert!(shown.contains(want), "{want:?} in\n{shown}");
    }
    assert!(
        !shown.contains('`'),
        "the body is rendered markdown:\n{shown}"
    );
    // Another chat's report is not this one's.
    ev(
        &mut live,
        &e,
        Event::WorkflowReported {
            chat_id: "another".into(),
            run_id: "r2".into(),
            heading: "workflow other completed · run r2".into(),
            body: "elsewhere".into(),
        },
    );
    assert!(!draw(&mut live, &e, &theme(), 60, 12, 0).contains("elsewhere"));
    // A restart rebuilds it from the store alone.
    e.engine
        .store()
        .insert_workflow_report(&e.chat_id, heading, body)
        .unwrap();
    let mut reopened = new_pane(&e);
    assert_eq!(draw(&mut reopened, &e, &theme(), 60, 12, 0), shown);
}

#[test]
fn says_what_a_new_chat_took_in_and_lists_skills() {
    let e = env();
    let mut p = new_pane(&e);
    ev(
        &mut p,
        &e,
        Event::ContextLoaded {
            chat_id: e.chat_id.clone(),
            instructions: vec![crate::core::context::instructions::InstructionFile {
                path: "AGENTS.md".into(),
                bytes: 10,
                included: 10,
            }],
            skills: vec!["pdf".into()],
        },
    );
    let screen = draw(&mut p, &e, &theme(), 70, 8, 0);
    assert!(
        screen.contains("· instructions: AGENTS.md · skills: pdf"),
        "{screen}"
    );
    let skill = e.project.path().join(".claude/skills/pdf/SKILL.md");
    std::fs::create_dir_all(skill.parent().unwrap()).unwrap();
    std::fs::write(
        &skill,
        "---\nname: pdf\ndescription: Fill forms\n---\nBody\n",
    )
    .unwrap();
    typed(&mut p, &e, "/skills");
    key(&mut p, &e, KeyCode::Enter, KeyModifiers::NONE);
    let screen = draw(&mut p, &e, &theme(), 70, 8, 0);
    assert!(screen.contains("· pdf — Fill forms (project:"), "{screen}");
}

#[test]
fn model_without_a_name_lists_the_choices_and_approval_errors_are_errors() {
    let e = env();
    let mut p = new_pane(&e);
    typed(&mut p, &e, "/model");
    assert_eq!(
        key(&mut p, &e, KeyCode::Enter, KeyModifiers::NONE),
        KeyOutcome::Actions(vec![AppAction::Engine(Command::ListModels {
            chat_id: e.chat_id.clone()
        })])
    );
    let list = Event::ModelList {
        chat_id: e.chat_id.clone(),
        models: vec!["mock-model".into(), "mock-reasoner".into()],
        error: None,
    };
    assert!(p.on_event(&list, &ctx(&e, &theme(), 0)));
    let screen = draw(&mut p, &e, &theme(), 80, 14, 0);
    assert!(
        screen.contains("· model: mock-model — /model NAME switches"),
        "{screen}"
    );
    assert!(
        screen.contains("· models on the server: mock-model, mock-reasoner"),
        "{screen}"
    );
    typed(&mut p, &e, "/approval sometimes");
    key(&mut p, &e, KeyCode::Enter, KeyModifiers::NONE);
    let screen = draw(&mut p, &e, &theme(), 80, 14, 0);
    assert!(screen.contains("✗ /approval: "), "{screen}");
}

#[test]
fn the_title_shows_context_use_from_each_model_call() {
    let e = env();
    let mut p = new_pane(&e);
    let title = |p: &ChatPane| p.title(&ctx(&e, &theme(), 0));
    assert!(!title(&p).contains(" / "), "{}", title(&p));
    let window = 128_000;
    ev(
        &mut p,
        &e,
        Event::ModelCallStarted {
            chat_id: e.chat_id.clone(),
            call_id: "c1".into(),
            model: "mock-model".into(),
            step: 1,
            context: ContextUse {
                used: 36_200,
                window,
            },
        },
    );
    assert!(title(&p).ends_with(" · 36k / 128k"), "{}", title(&p));
    ev(
        &mut p,
        &e,
        Event::ModelCallFinished {
            chat_id: e.chat_id.clone(),
            call_id: "c1".into(),
            usage: Usage {
                prompt_tokens: 38_000,
                completion_tokens: 400,
                ..Usage::default()
            },
            finish_reason: Some("stop".into()),
            latency_ms: 10,
            context: ContextUse {
                used: 38_000,
                window,
            },
        },
    );
    assert!(title(&p).ends_with(" · 38k / 128k"), "{}", title(&p));
}

#[test]
fn compacted_messages_show_dimmed_under_a_note_and_the_summary_expands() {
    use crate::core::store::{MessageAnchor, NewCompaction};
    let e = env();
    let store = e.engine.store();
    store
        .insert_user_message(&e.chat_id, 1, "the first task", &[])
        .unwrap();
    store
        .insert_user_message(&e.chat_id, 2, "the second task", &[])
        .unwrap();
    let snapshot = AgentSnapshot {
        chat_id: e.chat_id.clone(),
        model: "mock-model".into(),
        agent: "general-purpose".into(),
        mode: "auto".into(),
        state: "idle".into(),
        turn_number: 2,
        step: 0,
        history: vec![],
        pending_tool_calls: vec![],
    };
    let compaction = NewCompaction {
        chat_id: &e.chat_id,
        turn_number: 2,
        trigger: "manual",
        focus: None,
        notice: "context compacted: 9k → 2k tokens",
        summary: Some("line one\nline two"),
        first_kept: Some(MessageAnchor::UserOfTurn(2)),
        kept_user: Some(MessageAnchor::UserOfTurn(2)),
        tokens_before: 9_000,
        tokens_after: 2_000,
        clipped: 0,
    };
    store.record_compaction(&compaction, &snapshot).unwrap();
    let mut p = new_pane(&e);
    let compacted: Vec<bool> = p.items.iter().map(|i| i.compacted).collect();
    assert_eq!(
        compacted,
        [false, true, false, false],
        "note, turn 1, turn 2, summary"
    );
    let out = draw(&mut p, &e, &theme(), 100, 14, 0);
    assert!(out.contains("compacted: the model no longer sees"), "{out}");
    assert!(
        out.contains("▸ context compacted: 9k → 2k tokens — summary (2 lines)"),
        "{out}"
    );
    let summary = p.items.len() - 1;
    assert!(p.items[summary].toggle());
    let out = draw(&mut p, &e, &theme(), 100, 14, 0);
    assert!(out.contains("line two"), "{out}");

    typed(&mut p, &e, "/compact the parser");
    assert_eq!(
        key(&mut p, &e, KeyCode::Enter, KeyModifiers::NONE),
        KeyOutcome::Actions(vec![AppAction::Engine(Command::CompactChat {
            chat_id: e.chat_id.clone(),
            focus: Some("the parser".into()),
        })])
    );
}
