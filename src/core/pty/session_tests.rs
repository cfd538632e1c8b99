use std::time::{Duration, Instant};

use super::*;
use crate::core::pty::recording::RecordingScreen;

fn spec(script: &str) -> SessionSpec {
    SessionSpec {
        argv: Some(vec!["sh".into(), "-c".into(), script.into()]),
        cwd: std::env::temp_dir(),
        size: GridSize { cols: 80, rows: 24 },
        truecolor: false,
    }
}

fn start(script: &str) -> (TerminalSession, Arc<Mutex<Vec<u8>>>, Arc<Notify>) {
    let (screen, fed) = RecordingScreen::new(b"\x1b[c", b"answered\n");
    let waker = Arc::new(Notify::new());
    let session = TerminalSession::spawn(&spec(script), Box::new(screen), waker.clone()).unwrap();
    (session, fed, waker)
}

fn output(fed: &Arc<Mutex<Vec<u8>>>) -> String {
    String::from_utf8_lossy(&fed.lock().unwrap()).into_owned()
}

/// Waits until the child's output contains `want`.
fn wait_for(fed: &Arc<Mutex<Vec<u8>>>, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !output(fed).contains(want) {
        assert!(
            Instant::now() < deadline,
            "{want:?} never came in {:?}",
            output(fed)
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn wait_exit(session: &TerminalSession) -> ExitReport {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(exit) = session.exit() {
            return exit;
        }
        assert!(Instant::now() < deadline, "the child never ended");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[tokio::test]
async fn output_reaches_the_screen_and_the_ui_is_woken() {
    let (session, fed, waker) = start("printf 'hello\\n'");
    tokio::time::timeout(Duration::from_secs(5), waker.notified())
        .await
        .expect("woken");
    wait_for(&fed, "hello");
    assert_eq!(wait_exit(&session), ExitReport::Code(0));
    assert!(session.take_dirty());
    assert!(!session.take_dirty(), "dirty until looked at, once");
}

#[test]
fn exit_code_and_signal_are_reported() {
    let (session, _, _) = start("exit 3");
    assert_eq!(wait_exit(&session), ExitReport::Code(3));
    assert_eq!(ExitReport::Code(3).to_string(), "exited with code 3");
    let (session, _, _) = start("kill -TERM $$");
    assert_eq!(wait_exit(&session), ExitReport::Signal(libc::SIGTERM));
    assert_eq!(
        ExitReport::Signal(libc::SIGTERM).to_string(),
        "killed by signal 15 (SIGTERM)"
    );
}

#[test]
fn the_child_runs_on_a_controlling_terminal_of_the_given_size() {
    let (session, fed, _) = start(
        "[ -t 0 ] && echo tty=yes; echo term=$TERM; stty size; \
         echo color=${COLORTERM-unset} tmux=${TMUX-unset}; \
         echo sid=$(cut -d' ' -f6 /proc/$$/stat) pid=$$; echo done",
    );
    wait_for(&fed, "done");
    let text = output(&fed);
    for want in [
        "tty=yes",
        "term=xterm-256color",
        "24 80",
        "color=unset",
        "tmux=unset",
    ] {
        assert!(text.contains(want), "{want} in {text:?}");
    }
    let pid = session.group_id();
    assert!(text.contains(&format!("sid={pid} pid={pid}")), "{text:?}");
}

#[test]
fn resizing_sends_sigwinch_with_the_new_size() {
    let (session, fed, _) =
        start("trap 'stty size' WINCH; echo ready; while :; do sleep 0.05; done");
    wait_for(&fed, "ready");
    session
        .resize(GridSize {
            cols: 100,
            rows: 30,
        })
        .unwrap();
    wait_for(&fed, "30 100");
    assert_eq!(
        session.screen().size(),
        GridSize {
            cols: 100,
            rows: 30
        }
    );
}

#[test]
fn input_is_written_and_replies_go_back_to_the_child() {
    // The engine answers the DA1 query; the child reads the answer as its input line.
    let (session, fed, _) = start("printf '\\033[c'; read -r reply; echo \"got:$reply\"; read -r typed; echo \"typed:$typed\"");
    wait_for(&fed, "got:answered");
    assert!(session.write(b"abc\n"));
    wait_for(&fed, "typed:abc");
    assert_eq!(wait_exit(&session), ExitReport::Code(0));
}

#[test]
fn bells_are_kept_for_the_ui_and_a_flood_is_one_bell() {
    let (session, fed, _) = start("printf 'a\\a\\a\\a'; echo end");
    wait_for(&fed, "end");
    wait_exit(&session);
    assert_eq!(session.take_signals(), vec![ScreenSignal::Bell]);
    assert!(session.take_signals().is_empty());
}

#[test]
fn dropping_the_session_kills_its_process_group() {
    let (session, fed, _) = start("sleep 30 & echo started; wait");
    wait_for(&fed, "started");
    let pgid = session.group_id();
    assert!(process::group_exists(pgid));
    drop(session);
    let deadline = Instant::now() + Duration::from_secs(5);
    // Zombies stay until reaped by their parent; the group's live members must be gone.
    while live_members(pgid) > 0 {
        assert!(Instant::now() < deadline, "group {pgid} still alive");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn live_members(pgid: libc::pid_t) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|entry| {
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            let Some((_, rest)) = stat.rsplit_once(')') else {
                return false;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            fields.len() > 2 && fields[2] == pgid.to_string() && fields[0] != "Z"
        })
        .count()
}

#[test]
fn the_default_program_is_the_users_shell() {
    assert_eq!(default_shell(Some("/bin/zsh".into())), "/bin/zsh");
    assert_eq!(default_shell(Some(" ".into())), "/bin/sh");
    assert_eq!(default_shell(None), "/bin/sh");
    let mut s = spec("true");
    s.argv = None;
    assert_eq!(s.resolved_argv().len(), 1);
}

#[tokio::test]
async fn an_added_environment_reaches_the_child_and_watchers_are_woken_beside_the_ui() {
    let (screen, fed) = RecordingScreen::new(b"", b"");
    let env = BTreeMap::from([("AGENT_CUE".to_string(), "cue-42".to_string())]);
    let ui = Arc::new(Notify::new());
    let session = TerminalSession::spawn_with_env(
        &spec("sleep 0.2; printf \"$AGENT_CUE\\n\""),
        &env,
        Box::new(screen),
        ui.clone(),
    )
    .unwrap();
    let watcher = session.watch();
    // The UI takes the dirty flag; the watcher is woken all the same.
    tokio::time::timeout(Duration::from_secs(5), ui.notified())
        .await
        .expect("the UI woken");
    assert!(session.take_dirty());
    tokio::time::timeout(Duration::from_secs(5), watcher.notified())
        .await
        .expect("the watcher woken");
    wait_for(&fed, "cue-42");
    assert_eq!(wait_exit(&session), ExitReport::Code(0));
}

#[test]
fn kill_ends_the_child() {
    let (session, _fed, _waker) = start("sleep 30");
    session.kill();
    assert!(matches!(
        wait_exit(&session),
        ExitReport::Signal(libc::SIGKILL)
    ));
}

/// The nice values of this process's threads called `name`.
#[cfg(target_os = "linux")]
fn thread_nice_values(name: &str) -> Vec<i32> {
    let mut values = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() != name {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        // Field 19 is the nice value; the fields after the command's closing parenthesis start
        // at field 3.
        if let Some(nice) = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(16))
            .and_then(|n| n.parse().ok())
        {
            values.push(nice);
        }
    }
    values
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_reader_yields_to_the_workspace_and_the_program_keeps_its_priority() {
    let (session, fed, _waker) = start("nice; sleep 5");
    wait_for(&fed, "0\r\n");
    assert!(
        output(&fed).starts_with("0\r\n"),
        "the program's nice value: {:?}",
        output(&fed)
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while !thread_nice_values("pty-reader").contains(&READER_NICE) {
        assert!(
            Instant::now() < deadline,
            "no reader thread at nice {READER_NICE}: {:?}",
            thread_nice_values("pty-reader")
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    session.kill();
}
