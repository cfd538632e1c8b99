use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::style::{Color as TuiColor, Modifier};
use ratatui::Terminal;

use super::copy::{CopyMode, CopyOutcome};
use super::render::{draw_screen, View};
use super::*;
use crate::core::pty::screen::ScreenEngine;
use crate::tui::test_support::{buffer_text, ctx_for, TestEngine};
use crate::tui::theme::{ColorSupport, Theme};

/// A screen fed `bytes`.
fn screen(cols: u16, rows: u16, bytes: &[u8]) -> AlacrittyScreen {
    let mut screen = AlacrittyScreen::new(GridSize { cols, rows }, 100);
    screen.feed(bytes);
    screen
}

fn draw(screen: &dyn ScreenEngine, theme: &Theme) -> Terminal<TestBackend> {
    let size = screen.size();
    let mut term = Terminal::new(TestBackend::new(size.cols, size.rows)).unwrap();
    let view = View {
        scroll: 0,
        copy: None,
        cursor: true,
    };
    term.draw(|f| draw_screen(f, f.area(), theme, screen, &view))
        .unwrap();
    term
}

const COLOURED: &[u8] =
    b"\x1b[31mred\x1b[0m \x1b[38;5;196mhot\x1b[0m \x1b[38;2;0;255;0mlime\x1b[0m \
\x1b[1;4mbold\x1b[0m \x1b[7minv\x1b[0m\r\n\xe6\x97\xa5\xe6\x9c\xac|e\xcc\x81|\x1b[44m bg \x1b[0m";

#[test]
fn cells_are_drawn_with_colours_brought_down_to_16() {
    let screen = screen(30, 3, COLOURED);
    let term = draw(&screen, &Theme::new(ColorSupport::Ansi16));
    let buf = term.backend().buffer();
    insta::assert_snapshot!("terminal_cells", buffer_text(buf));
    let at = |x: u16, y: u16| &buf[(x, y)];
    assert_eq!(at(0, 0).fg, TuiColor::Red, "SGR 31");
    assert_eq!(at(4, 0).fg, TuiColor::LightRed, "palette 196 → bright red");
    assert_eq!(at(8, 0).fg, TuiColor::LightGreen, "rgb lime → bright green");
    assert!(at(13, 0)
        .modifier
        .contains(Modifier::BOLD | Modifier::UNDERLINED));
    assert!(at(18, 0).modifier.contains(Modifier::REVERSED));
    // A wide character takes two columns; the combining accent stays on its base.
    assert_eq!(at(0, 1).symbol(), "日");
    assert_eq!(at(2, 1).symbol(), "本");
    assert_eq!(at(5, 1).symbol(), "e\u{301}");
    assert_eq!(at(9, 1).bg, TuiColor::Blue);
    // The program's cursor, after the last character written.
    let mut term = term;
    term.backend_mut().assert_cursor_position((11, 1));
}

#[test]
fn the_engine_keeps_the_osc_2_title() {
    let screen = screen(30, 3, b"\x1b]2;my title\x07");
    assert_eq!(screen.title().as_deref(), Some("my title"));
}

#[test]
fn no_color_keeps_attributes_and_drops_every_colour() {
    let screen = screen(30, 3, COLOURED);
    let term = draw(&screen, &Theme::new(ColorSupport::None));
    let buf = term.backend().buffer();
    for cell in buf.content() {
        assert_eq!(cell.fg, TuiColor::Reset, "{cell:?}");
        assert_eq!(cell.bg, TuiColor::Reset, "{cell:?}");
    }
    assert!(buf[(13, 0)]
        .modifier
        .contains(Modifier::BOLD | Modifier::UNDERLINED));
    assert!(buf[(18, 0)].modifier.contains(Modifier::REVERSED));
}

#[test]
fn truecolor_and_256_pass_through() {
    let screen = screen(30, 3, COLOURED);
    let buf_of = |support| {
        draw(&screen, &Theme::new(support))
            .backend()
            .buffer()
            .clone()
    };
    let true_buf = buf_of(ColorSupport::TrueColor);
    assert_eq!(true_buf[(8, 0)].fg, TuiColor::Rgb(0, 255, 0));
    let buf = buf_of(ColorSupport::Ansi256);
    assert_eq!(buf[(4, 0)].fg, TuiColor::Indexed(196));
    assert_eq!(buf[(8, 0)].fg, TuiColor::Indexed(46));
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn special(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

/// Twenty numbered lines, `line 1` … `line 20`, on a 20x5 screen: 16 of them in history.
fn numbered() -> AlacrittyScreen {
    let text: String = (1..=20).map(|i| format!("line {i}\r\n")).collect();
    screen(20, 5, text.as_bytes())
}

#[test]
fn copy_mode_moves_selects_and_copies() {
    let screen = numbered();
    let mut copy = CopyMode::new(&screen);
    // The cursor starts on the empty last line; up one is `line 20`.
    assert_eq!(copy.key(key('k'), &screen), CopyOutcome::Stay);
    assert_eq!(copy.key(key('V'), &screen), CopyOutcome::Stay);
    copy.key(key('k'), &screen);
    let CopyOutcome::Copy(text) = copy.key(key('y'), &screen) else {
        panic!("y copies");
    };
    assert_eq!(text.trim_end(), "line 19\nline 20");
    // g goes to the oldest line, scrolling the view back; a char selection of one word.
    let mut copy = CopyMode::new(&screen);
    copy.key(key('g'), &screen);
    assert_eq!(copy.scroll(), screen.history_len());
    copy.key(key('w'), &screen);
    copy.key(key('v'), &screen);
    copy.key(key('$'), &screen);
    let CopyOutcome::Copy(text) = copy.key(special(KeyCode::Enter), &screen) else {
        panic!("Enter copies");
    };
    assert_eq!(text, "1");
    assert_eq!(copy.key(key('q'), &screen), CopyOutcome::Leave);
}

#[test]
fn block_selection_copies_a_rectangle() {
    let screen = screen(20, 4, b"abcd\r\nefgh\r\nijkl");
    let mut copy = CopyMode::new(&screen);
    copy.key(key('g'), &screen);
    copy.key(key('l'), &screen);
    copy.key(
        KeyEvent::new(KeyCode::Char('v'), KeyModifiers::CONTROL),
        &screen,
    );
    copy.key(key('j'), &screen);
    copy.key(key('l'), &screen);
    let CopyOutcome::Copy(text) = copy.key(key('y'), &screen) else {
        panic!("y copies");
    };
    assert_eq!(text.trim_end(), "bc\nfg");
}

#[test]
fn search_steps_through_matches_and_reports_bad_patterns() {
    let screen = numbered();
    let mut copy = CopyMode::new(&screen);
    copy.prompt_search();
    assert_eq!(copy.mode_label(), "SEARCH");
    for c in "line 1[0-9]".chars() {
        copy.key(key(c), &screen);
    }
    copy.key(special(KeyCode::Enter), &screen);
    assert_eq!(copy.mode_label(), "COPY");
    // Ten matches (10–19); the newest is current.
    assert!(copy.title().contains("match 10/10"), "{}", copy.title());
    copy.key(key('N'), &screen);
    assert!(copy.title().contains("match 9/10"), "{}", copy.title());
    copy.key(key('n'), &screen);
    copy.key(key('n'), &screen);
    assert!(copy.title().contains("match 1/10"), "{}", copy.title());
    // Highlighted where they are.
    let theme = Theme::new(ColorSupport::None);
    let line_10 = -(screen.history_len() as i32) + 9;
    assert_eq!(copy.highlights(line_10, &theme)[0].0, 0..7);
    // An invalid regex is reported as such and the prompt stays open.
    copy.key(key('/'), &screen);
    copy.key(key('('), &screen);
    copy.key(special(KeyCode::Enter), &screen);
    assert_eq!(copy.mode_label(), "SEARCH");
    let term = draw_copy(&screen, &copy);
    assert!(buffer_text(term.backend().buffer()).contains("invalid regex"));
    // At most 200 characters.
    copy.key(special(KeyCode::Backspace), &screen);
    assert!(copy.paste(&"x".repeat(300)));
    copy.key(key('y'), &screen);
    let term = draw_copy(&screen, &copy);
    assert!(buffer_text(term.backend().buffer()).contains("at most 200"));
}

fn draw_copy(screen: &dyn ScreenEngine, copy: &CopyMode) -> Terminal<TestBackend> {
    let size = screen.size();
    let mut term = Terminal::new(TestBackend::new(size.cols.max(60), size.rows)).unwrap();
    let view = View {
        scroll: copy.scroll(),
        copy: Some(copy),
        cursor: false,
    };
    let theme = Theme::new(ColorSupport::None);
    term.draw(|f| draw_screen(f, f.area(), &theme, screen, &view))
        .unwrap();
    term
}

#[test]
fn copy_mode_keeps_its_place_while_output_arrives() {
    let mut screen = numbered();
    let mut copy = CopyMode::new(&screen);
    copy.key(key('k'), &screen);
    copy.key(key('V'), &screen);
    screen.feed(b"more 1\r\nmore 2\r\nmore 3\r\n");
    let CopyOutcome::Copy(text) = copy.key(key('y'), &screen) else {
        panic!("y copies");
    };
    assert_eq!(text.trim_end(), "line 20");
}

fn shell_pane(t: &TestEngine, script: &str) -> TerminalPane {
    let spec = SessionSpec {
        argv: Some(vec!["sh".into(), "-c".into(), script.into()]),
        cwd: t.project.path().to_path_buf(),
        size: GridSize { cols: 40, rows: 6 },
        truecolor: false,
    };
    TerminalPane::new(spec, &ctx_for(t, None))
}

/// Draws the pane (title line and body) until its text contains `want`.
fn wait_for_text(pane: &mut TerminalPane, t: &TestEngine, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        pane.poll();
        let text = pane_text(pane, t);
        if text.contains(want) {
            return text;
        }
        assert!(Instant::now() < deadline, "{want:?} never shown in\n{text}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn pane_text(pane: &mut TerminalPane, t: &TestEngine) -> String {
    let ctx = ctx_for(t, None);
    let mut term = Terminal::new(TestBackend::new(60, 7)).unwrap();
    term.draw(|f| crate::tui::app::draw_pane(f, pane, f.area(), &ctx, true))
        .unwrap();
    buffer_text(term.backend().buffer())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_program_shows_its_status_and_runs_again_on_r() {
    let t = TestEngine::new();
    let mut pane = shell_pane(&t, "echo hello; exit 3");
    // The bar at the bottom, not the title: the body is drawn first, and the program may end
    // between the two (the title then tells of an end the body has not shown yet).
    let ended = "exited with code 3 · r run again · x close";
    let text = wait_for_text(&mut pane, &t, ended);
    assert!(text.contains("hello"), "{text}");
    assert_eq!(
        pane.handle_key(key('x'), &ctx_for(&t, None)),
        KeyOutcome::Actions(vec![AppAction::ClosePane])
    );
    assert_eq!(
        pane.handle_key(key('r'), &ctx_for(&t, None)),
        KeyOutcome::Consumed
    );
    wait_for_text(&mut pane, &t, "restarted: sh -c echo hello; exit 3");
    let text = wait_for_text(&mut pane, &t, ended);
    assert!(text.contains("hello"), "the program ran again: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_reach_the_program_and_the_title_follows_osc_2() {
    let t = TestEngine::new();
    let mut pane = shell_pane(
        &t,
        "printf '\\033]2;my title\\007'; read -r line; echo \"got:$line\"; sleep 5",
    );
    // The command line holds "my title" too: wait for the title the program set.
    wait_for_text(&mut pane, &t, "▌terminal · my title");
    for c in "abc".chars() {
        pane.handle_key(key(c), &ctx_for(&t, None));
    }
    pane.handle_key(special(KeyCode::Enter), &ctx_for(&t, None));
    wait_for_text(&mut pane, &t, "got:abc");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bell_is_a_notice_and_osc_52_a_copy() {
    let t = TestEngine::new();
    // "aGk=" is base64 for "hi".
    let mut pane = shell_pane(&t, "printf '\\007\\033]52;c;aGk=\\007done'; sleep 5");
    // The first frame starts the program; polling (not drawing) collects what it did.
    pane_text(&mut pane, &t);
    let mut actions = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while actions.len() < 2 && Instant::now() < deadline {
        if let KeyOutcome::Actions(a) = pane.poll() {
            actions.extend(a);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        matches!(&actions[0], AppAction::Notice(n) if n.starts_with("bell in terminal")),
        "{actions:?}"
    );
    assert_eq!(actions[1], AppAction::Copy("hi".into()));
}

#[test]
fn a_new_size_reaches_the_program_once_it_has_held() {
    let t0 = Instant::now();
    let mut pane = TerminalPane {
        spec: SessionSpec {
            argv: None,
            cwd: std::env::temp_dir(),
            size: GridSize { cols: 80, rows: 24 },
            truecolor: false,
        },
        started: true,
        session: None,
        agent_run: None,
        error: None,
        wake: std::sync::Arc::new(Notify::new()),
        scrollback_lines: 10,
        locked: None,
        pending_size: None,
        focused: false,
        copy: None,
        banner: None,
    };
    let big = GridSize {
        cols: 100,
        rows: 30,
    };
    pane.follow_size(big, t0);
    assert!(pane.is_animating(), "a pending size needs another look");
    pane.follow_size(big, t0 + Duration::from_millis(20));
    assert_eq!(pane.spec.size.cols, 80, "not yet");
    // Dragging on: the newest size restarts the wait.
    let bigger = GridSize {
        cols: 110,
        rows: 30,
    };
    pane.follow_size(bigger, t0 + Duration::from_millis(40));
    pane.follow_size(bigger, t0 + Duration::from_millis(80));
    assert_eq!(pane.spec.size.cols, 80, "not yet");
    pane.follow_size(bigger, t0 + Duration::from_millis(95));
    assert_eq!(pane.spec.size, bigger);
    assert!(!pane.is_animating());
}

/// A workspace whose only pane runs a program that prints each byte it reads as `got XX`.
fn byte_echo_app(t: &TestEngine) -> crate::tui::app::App {
    let script = "stty raw -echo; while :; do b=$(head -c 1 | od -An -tx1); printf 'got%s\\r\\n' \"$b\"; done";
    let layout = crate::tui::layout::Layout::new(PaneSpec::Terminal {
        argv: Some(vec!["sh".into(), "-c".into(), script.into()]),
        cwd: t.project.path().to_path_buf(),
        cols: 60,
        rows: 20,
    });
    crate::tui::app::App::new(
        t.engine.clone(),
        t.theme.clone(),
        crate::tui::keymap::Keymap::default(),
        t.session.id.clone(),
        layout,
    )
}

fn app_text(app: &mut crate::tui::app::App) -> String {
    app.poll_panes();
    let mut term = Terminal::new(TestBackend::new(60, 20)).unwrap();
    term.draw(|f| app.render(f)).unwrap();
    buffer_text(term.backend().buffer())
}

/// Draws until `got XX` for `byte` shows `count` times.
fn wait_for_bytes(app: &mut crate::tui::app::App, byte: &str, count: usize) -> String {
    let want = format!("got {byte}");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = app_text(app);
        if text.matches(&want).count() >= count {
            std::thread::sleep(Duration::from_millis(50));
            let text = app_text(app);
            assert_eq!(text.matches(&want).count(), count, "{text}");
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{count} x {want:?} never shown in\n{text}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefix_twice_sends_one_ctrl_b_and_a_locked_pane_gets_every_key() {
    let t = TestEngine::new();
    let mut app = byte_echo_app(&t);
    app_text(&mut app);
    app.handle_key(ctrl('b'));
    assert_eq!(app.mode(), "PREFIX");
    app.handle_key(ctrl('b'));
    assert_eq!(app.mode(), "NORMAL");
    wait_for_bytes(&mut app, "02", 1);

    // C-b C-g locks: the prefix and workspace keys go to the program.
    app.handle_key(ctrl('b'));
    app.handle_key(ctrl('g'));
    assert_eq!(app.mode(), "LOCKED");
    assert!(app_text(&mut app).contains("LOCKED (C-g unlocks)"));
    app.handle_key(ctrl('b'));
    assert_eq!(app.mode(), "LOCKED", "no prefix mode while locked");
    app.handle_key(key('q'));
    wait_for_bytes(&mut app, "02", 2);
    wait_for_bytes(&mut app, "71", 1);
    assert!(!app.quit);

    // The unlock key is not sent; the prefix works again.
    app.handle_key(ctrl('g'));
    assert_eq!(app.mode(), "NORMAL");
    app.handle_key(ctrl('b'));
    assert_eq!(app.mode(), "PREFIX");
    app.handle_key(special(KeyCode::Esc));
    let text = wait_for_bytes(&mut app, "02", 2);
    assert!(!text.contains("got 07"), "C-g reached the program: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_sent_to_the_program_asks_for_no_frame_its_echo_does() {
    let t = TestEngine::new();
    let mut app = byte_echo_app(&t);
    app_text(&mut app);
    // The key changes nothing on screen by being sent: a frame for it would only make the
    // program's echo wait for the end of the interval that frame started.
    assert!(!app.handle_key(key('a')), "a frame was asked for the key");
    // Its echo is awaited: the loop draws it the moment the pane shows it, without waiting
    // out a frame interval.
    assert!(app.awaits_echo());
    let deadline = Instant::now() + Duration::from_secs(5);
    while !app.take_echo() {
        assert!(
            Instant::now() < deadline,
            "the echo never showed in the pane"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(!app.awaits_echo(), "the echo is still awaited once shown");
    assert!(
        app.poll_panes(),
        "the change was left for the frame that draws it"
    );
    wait_for_bytes(&mut app, "61", 1);
    let paste = crossterm::event::Event::Paste("b".into());
    assert!(
        !app.handle_terminal_event(paste),
        "a frame was asked for the paste"
    );
    assert!(app.awaits_echo(), "a paste's echo is awaited too");
    wait_for_bytes(&mut app, "62", 1);
    assert!(
        !app.awaits_echo(),
        "a frame that drew the echo ends the wait"
    );
    // Ending prefix mode with `C-b C-b` changes the status line: that is drawn at once.
    assert!(app.handle_key(ctrl('b')));
    assert!(app.handle_key(ctrl('b')));
    wait_for_bytes(&mut app, "02", 1);
}
