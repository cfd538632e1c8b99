//! End-to-end: the real binary in a real terminal (tmux) against the scripted model server.
//! What is asserted is what a person would see on the screen.

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use support::harness::git;
use support::mock_server::{CallSpec, Match, MockServer, Reply};

struct Tmux {
    socket: String,
    session: String,
}

impl Tmux {
    fn start(project: &Path, home: &Path, base_url: &str) -> Tmux {
        // One tmux server per test: the tests of this file run in parallel.
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let tmux = Tmux {
            socket: format!(
                "boocode-test-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ),
            session: "ws".into(),
        };
        tmux.launch(project, home, base_url);
        tmux
    }

    fn launch(&self, project: &Path, home: &Path, base_url: &str) {
        let command = format!(
            "cd {} && env -u DEEPSEEK_API_KEY -u OPENAI_API_KEY -u BOOCODE_API_KEY HOME={} BOOCODE_HOME={} TERM=xterm-256color {} --base-url {} --api-key sk-tmux-test",
            project.display(),
            home.display(),
            home.display(),
            env!("CARGO_BIN_EXE_boocode"),
            base_url
        );
        let status = Command::new("tmux")
            .args(["-L", &self.socket, "new-session", "-d", "-s", &self.session])
            .args(["-x", "120", "-y", "40", &command])
            .status()
            .expect("tmux must be installed (.ci/run installs it)");
        assert!(status.success());
    }

    fn send(&self, keys: &[&str]) {
        let status = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "-t", &self.session])
            .args(keys)
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn type_text(&self, text: &str) {
        let status = Command::new("tmux")
            .args([
                "-L",
                &self.socket,
                "send-keys",
                "-l",
                "-t",
                &self.session,
                text,
            ])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args([
                "-L",
                &self.socket,
                "capture-pane",
                "-p",
                "-t",
                &self.session,
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Polls the screen until `pred` holds; panics with the last screen after `timeout`.
    fn wait_for(&self, what: &str, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if pred(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < timeout,
                "timed out waiting for {what}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the screen shows `want`; the screen then.
    fn wait_for_text(&self, what: &str, want: &str, timeout: Duration) -> String {
        self.wait_for(what, timeout, |s| s.contains(want))
    }

    /// Waits until the workspace has exited; false if it is still running after `timeout`.
    fn exited_within(&self, timeout: Duration) -> bool {
        let start = Instant::now();
        while self.session_alive() && start.elapsed() < timeout {
            std::thread::sleep(Duration::from_millis(100));
        }
        !self.session_alive()
    }

    fn session_alive(&self) -> bool {
        Command::new("tmux")
            .args(["-L", &self.socket, "has-session", "-t", &self.session])
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

#[test]
fn a_tool_using_turn_shows_answer_and_trace_and_survives_a_restart() {
    let project = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join("README.md"), "# Demo\n").unwrap();
    let server = MockServer::start_blocking(vec![
        Reply::tool_calls(vec![CallSpec::new("list_dir", "{}").id("call_ls")])
            .reasoning("Let me look at the files.")
            .into(),
        Reply::text("The project holds a single README file.")
            .when(Match::has_tool_result_for("call_ls")),
    ]);
    let tmux = Tmux::start(project.path(), home.path(), &server.base_url());
    tmux.wait_for_text("the workspace", "C-b ? help", Duration::from_secs(20));

    tmux.type_text("what is in this project?");
    tmux.send(&["Enter"]);
    let screen = tmux.wait_for_text("the answer", "single README file", Duration::from_secs(20));
    assert!(screen.contains("what is in this project?"), "{screen}");
    assert!(screen.contains("list_dir"), "{screen}");

    tmux.send(&["C-b", "r"]);
    let screen = tmux.wait_for("the trace pane", Duration::from_secs(10), |s| {
        s.contains("Trace") && s.contains("Cache hit rate")
    });
    assert!(screen.matches("list_dir").count() >= 2, "{screen}");

    tmux.send(&["C-b", "q"]);
    assert!(
        tmux.exited_within(Duration::from_secs(10)),
        "Ctrl-b q did not quit"
    );

    // Restart: the transcript and the layout (chat + trace) come back from SQLite.
    tmux.launch(project.path(), home.path(), &server.base_url());
    let screen = tmux.wait_for_text(
        "the restored transcript",
        "single README file",
        Duration::from_secs(20),
    );
    assert!(screen.contains("what is in this project?"), "{screen}");
    assert!(screen.contains("Trace"), "{screen}");
    assert_eq!(
        server.request_count(),
        2,
        "a restart must not call the model"
    );
}

impl Tmux {
    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// `y` in copy mode reaches tmux's paste buffer (and, through it, the outer terminal's
/// clipboard) with tmux's default `set-clipboard external`, which ignores an application's
/// OSC 52: inside tmux the workspace hands the text to `tmux load-buffer -w`.
#[test]
fn copy_mode_reaches_the_tmux_buffer() {
    let project = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let server = MockServer::start_blocking(vec![Reply::text("clipboard canary 4711")]);
    let tmux = Tmux::start(project.path(), home.path(), &server.base_url());
    tmux.wait_for_text("the workspace", "C-b ? help", Duration::from_secs(20));
    tmux.type_text("say the canary");
    tmux.send(&["Enter"]);
    tmux.wait_for_text(
        "the answer",
        "clipboard canary 4711",
        Duration::from_secs(20),
    );
    // Copy mode starts on the last visible line; take a few lines up to include the reply.
    tmux.send(&["C-b", "["]);
    tmux.send(&["k", "k", "k", "k", "k", "k", "y"]);
    let start = Instant::now();
    let buffer = loop {
        let buffer = tmux.tmux(&["show-buffer"]);
        if buffer.contains("clipboard canary 4711") || start.elapsed() > Duration::from_secs(10) {
            break buffer;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        buffer.contains("clipboard canary 4711"),
        "tmux buffer: {buffer:?}; screen:\n{}",
        tmux.screen()
    );
}

#[test]
fn typing_never_decides_and_quitting_mid_turn_asks_first() {
    let project = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let file = project.path().join("main.py");
    std::fs::write(&file, "print('hi')\n").unwrap();
    std::fs::create_dir_all(project.path().join(".boocode")).unwrap();
    std::fs::write(
        project.path().join(".boocode/config.toml"),
        "approval = \"review\"\n",
    )
    .unwrap();
    let edit = serde_json::json!({
        "file_path": "main.py",
        "old_string": "print('hi')",
        "new_string": "print('hello')"
    });
    let server = MockServer::start_blocking(vec![
        Reply::tool_calls(vec![
            CallSpec::new("edit_file", edit.to_string()).id("call_edit")
        ])
        .into(),
        Reply::text("I proposed the edit.").when(Match::has_tool_result_for("call_edit")),
        Reply::stall_mid_stream("Working on it", 30_000).into(),
    ]);
    let tmux = Tmux::start(project.path(), home.path(), &server.base_url());
    tmux.wait_for_text("the workspace", "C-b ? help", Duration::from_secs(20));
    tmux.type_text("edit main.py");
    tmux.send(&["Enter"]);
    tmux.wait_for("the decision line", Duration::from_secs(20), |s| {
        s.contains("apply main.py?") && s.contains("Ctrl-Y apply · Ctrl-N reject")
    });

    // A sentence typed now is text: nothing is applied.
    tmux.type_text("and also tell me more");
    let screen = tmux.wait_for_text(
        "the typed text",
        "› and also tell me more",
        Duration::from_secs(10),
    );
    assert!(!screen.contains("applied"), "{screen}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "print('hi')\n");

    // Ctrl-Y applies; until the next turn, Ctrl-N reverts.
    tmux.send(&["C-y"]);
    tmux.wait_for_text(
        "the applied change",
        "Ctrl-N revert",
        Duration::from_secs(10),
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "print('hello')\n");
    tmux.send(&["C-n"]);
    tmux.wait_for_text(
        "the reverted change",
        "rejected main.py",
        Duration::from_secs(10),
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "print('hi')\n");

    // The draft was kept; sending it starts a turn that keeps running.
    tmux.send(&["Enter"]);
    tmux.wait_for_text("the running turn", "Working on it", Duration::from_secs(20));
    tmux.send(&["C-b", "q"]);
    tmux.wait_for_text(
        "the quit question",
        "Still running: 1 chat turn.",
        Duration::from_secs(10),
    );
    tmux.send(&["y"]);
    assert!(
        tmux.exited_within(Duration::from_secs(10)),
        "y did not quit"
    );

    // The turn ended as cancelled: the next start has nothing to recover.
    tmux.launch(project.path(), home.path(), &server.base_url());
    let screen = tmux.wait_for_text(
        "the restored chat",
        "Working on it",
        Duration::from_secs(20),
    );
    assert!(!screen.contains("recovered after a crash"), "{screen}");
    assert!(!screen.contains("interrupted"), "{screen}");
}

/// A terminal pane end to end: a command, vim writing a file, a search of the scrollback, a
/// line copied (and a program's own OSC 52) reaching tmux's buffer, the program's exit and
/// `r`, then a restart of the workspace that runs the pane's command again.
#[test]
fn a_terminal_pane_runs_programs_and_comes_back_after_a_restart() {
    let project = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let server = MockServer::start_blocking(Vec::<Reply>::new());
    let tmux = Tmux::start(project.path(), home.path(), &server.base_url());
    let wait = |what: &str, want: &str| tmux.wait_for_text(what, want, Duration::from_secs(20));
    wait("the workspace", "C-b ? help");
    tmux.send(&["C-b", "t"]);
    wait("the terminal pane", "terminal ·");

    tmux.type_text("echo e2e-$((40+2))");
    tmux.send(&["Enter"]);
    let screen = wait("the command's output", "e2e-42");
    // The shell's prompt, to know when the shell reads keys again after vim.
    let prompt = screen
        .lines()
        .find_map(|l| l.split_once("echo e2e-"))
        .map(|(head, _)| head.rsplit('│').next().unwrap_or(head).trim().to_string())
        .unwrap();

    if Command::new("vim").arg("--version").output().is_ok() {
        tmux.type_text("vim -Nu NONE note.txt");
        tmux.send(&["Enter"]);
        wait("vim", "note.txt");
        tmux.type_text("ihello from vim");
        tmux.send(&["Escape"]);
        tmux.type_text(":wq");
        tmux.send(&["Enter"]);
        let start = Instant::now();
        let note = project.path().join("note.txt");
        while std::fs::read_to_string(&note).unwrap_or_default() != "hello from vim\n" {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "vim did not write the file; screen:\n{}",
                tmux.screen()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        // Keys typed while vim is still exiting would be read (and dropped) by vim.
        tmux.wait_for("the shell after vim", Duration::from_secs(20), |s| {
            let mut lines = s
                .lines()
                .skip_while(|l| !l.contains("vim -Nu NONE note.txt"));
            lines.next();
            lines.next().is_some_and(|l| l.contains(&prompt))
        });
    } else {
        eprintln!("vim is not installed: its part of the terminal test is skipped");
    }

    // Search the scrollback, then copy the line found.
    tmux.type_text("seq 1 300");
    tmux.send(&["Enter"]);
    wait("seq's output", "300");
    tmux.send(&["C-b", "/"]);
    tmux.type_text("^137$");
    tmux.send(&["Enter"]);
    wait("the match", "match 1/1");
    tmux.send(&["V", "y"]);
    let buffer_has = |want: &str| {
        let start = Instant::now();
        loop {
            let buffer = tmux.tmux(&["show-buffer"]);
            if buffer.contains(want) {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "{want:?} not in the tmux buffer {buffer:?}; screen:\n{}",
                tmux.screen()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    buffer_has("137");
    // A program's own OSC 52 reaches the outer terminal's clipboard too.
    tmux.type_text("printf '\\033]52;c;%s\\007' $(printf osc52-canary | base64)");
    tmux.send(&["Enter"]);
    buffer_has("osc52-canary");

    // The program ends: its status and the keys; r runs it again.
    tmux.type_text("exit 0");
    tmux.send(&["Enter"]);
    wait(
        "the exit status",
        "exited with code 0 · r run again · x close",
    );
    tmux.send(&["r"]);
    wait("the program again", "restarted:");
    tmux.type_text("echo again-$((1+1))");
    tmux.send(&["Enter"]);
    wait("the restarted shell", "again-2");

    tmux.send(&["C-b", "q"]);
    assert!(
        tmux.exited_within(Duration::from_secs(10)),
        "Ctrl-b q did not quit"
    );
    tmux.launch(project.path(), home.path(), &server.base_url());
    let screen = wait("the restored terminal pane", "restarted:");
    assert!(screen.contains("terminal ·"), "{screen}");
    tmux.type_text("echo restored-$((2+3))");
    tmux.send(&["Enter"]);
    wait("the restored shell", "restored-5");
}

/// A chat bound to an external (ACP) agent, as a person drives it: `/agent`, a message whose
/// reply streams with a tool line, a permission question answered with its chord, the
/// agent's edit waiting in the changes pane, and a turn cancelled with Esc.
#[test]
fn an_acp_agent_chat_streams_asks_leaves_a_change_and_cancels() {
    let project = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join("README.md"), "# Demo\n").unwrap();
    support::harness::commit_all(project.path());
    std::fs::create_dir(project.path().join(".boocode")).unwrap();
    std::fs::write(
        project.path().join(".boocode/config.toml"),
        format!(
            "approval = \"review\"\n[agents.scripted]\nprotocol = \"acp\"\ncommand = \"{}\"\n",
            support::harness::scripted_acp_agent().display()
        ),
    )
    .unwrap();
    // The agent comes from the project's config: the person approves it first.
    let approved = Command::new(env!("CARGO_BIN_EXE_boocode"))
        .args(["agents", "approve", "scripted"])
        .env("HOME", home.path())
        .env("BOOCODE_HOME", home.path())
        .current_dir(project.path())
        .output()
        .unwrap();
    assert!(approved.status.success(), "{approved:?}");
    let server = MockServer::start_blocking(Vec::<Reply>::new());
    let tmux = Tmux::start(project.path(), home.path(), &server.base_url());
    tmux.wait_for_text("the workspace", "C-b ? help", Duration::from_secs(20));

    tmux.type_text("/agent scripted");
    tmux.send(&["Enter"]);
    tmux.wait_for_text(
        "the bound chat",
        "chat · scripted · idle",
        Duration::from_secs(10),
    );
    tmux.type_text("[[permission]] [[edit:notes.txt]] hello there");
    tmux.send(&["Enter"]);
    let screen = tmux.wait_for_text(
        "the question",
        "Ctrl-Y once · Ctrl-A always · Ctrl-N reject",
        Duration::from_secs(20),
    );
    assert!(screen.contains("Run rm -rf build"), "{screen}");
    tmux.send(&["C-y"]);
    let screen = tmux.wait_for_text(
        "the reply",
        "You said: hello there",
        Duration::from_secs(20),
    );
    assert!(screen.contains("permission: allow-once"), "{screen}");
    assert!(screen.contains("✓ edit notes.txt"), "{screen}");

    tmux.send(&["C-b", "d"]);
    let screen = tmux.wait_for_text("the change", "Changes · 1 pending", Duration::from_secs(10));
    let changes_pane: String = screen
        .lines()
        .filter_map(|l| l.split_once('│').map(|(_, right)| right))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(changes_pane.contains("notes.txt"), "{screen}");
    assert!(changes_pane.contains("scripted"), "{screen}");
    assert!(!project.path().join("notes.txt").exists(), "{screen}");
    tmux.send(&["C-b", "x"]);

    tmux.type_text("[[slow:20000]] wait for me");
    tmux.send(&["Enter"]);
    tmux.wait_for_text("the slow turn", "working…", Duration::from_secs(20));
    let started = Instant::now();
    tmux.send(&["Escape"]);
    tmux.wait_for_text("the cancel", "turn cancelled", Duration::from_secs(10));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_pty_agent_chat_runs_the_agent_in_a_terminal_pane_and_reports_its_exit() {
    let project = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join("README.md"), "# Demo\n").unwrap();
    git(project.path(), &["init", "-q"]);
    git(project.path(), &["add", "."]);
    git(project.path(), &["commit", "-q", "-m", "start"]);
    let config = home.path().join(".config/boocode");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("config.toml"),
        format!(
            "[agents.term]\nprotocol = \"pty\"\ncommand = \"{}/tests/fixtures/pty_agent.sh\"\nargs = [\"{{task}}\"]\n",
            env!("CARGO_MANIFEST_DIR")
        ),
    )
    .unwrap();
    let server = MockServer::start_blocking(Vec::<Reply>::new());
    let tmux = Tmux::start(project.path(), home.path(), &server.base_url());
    let wait = |what: &str, want: &str| tmux.wait_for_text(what, want, Duration::from_secs(20));
    wait("the workspace", "C-b ? help");
    tmux.type_text("/agent term");
    tmux.send(&["Enter"]);
    wait("the chat bound to the agent", "─ term · Enter send");
    tmux.type_text("edit:notes.txt ask exit:4");
    tmux.send(&["Enter"]);
    // The agent runs in a terminal pane of its own, named after it, focused: the person types
    // the answer it waits for.
    let screen = wait("the agent's question", "your answer?");
    assert!(screen.contains("terminal · term · chat"), "{screen}");
    tmux.type_text("yes-from-the-person");
    tmux.send(&["Enter"]);
    wait("the agent's echo", "you typed: yes-from-the-person");
    // The chat reports the exit status and the last lines; the edit waits as a change.
    let screen = wait("the exit summary in the chat", "term exited with code 4");
    assert!(screen.contains("exited with code 4 · x close"), "{screen}");
    assert!(!project.path().join("notes.txt").exists());
}
