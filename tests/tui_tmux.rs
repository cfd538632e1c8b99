//! End-to-end: the real binary in a real terminal (tmux) against the scripted model server.
//! What is asserted is what a person would see on the screen.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::mock_server::{CallSpec, Match, MockServer, Reply};

struct Tmux {
    socket: String,
    session: String,
}

impl Tmux {
    fn start(project: &Path, home: &Path, base_url: &str) -> Tmux {
        let tmux = Tmux {
            socket: format!("boocode-test-{}", std::process::id()),
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
    tmux.wait_for("the workspace", Duration::from_secs(20), |s| {
        s.contains("C-b ? help")
    });

    tmux.type_text("what is in this project?");
    tmux.send(&["Enter"]);
    let screen = tmux.wait_for("the answer", Duration::from_secs(20), |s| {
        s.contains("single README file")
    });
    assert!(screen.contains("what is in this project?"), "{screen}");
    assert!(screen.contains("list_dir"), "{screen}");

    tmux.send(&["C-b", "r"]);
    let screen = tmux.wait_for("the trace pane", Duration::from_secs(10), |s| {
        s.contains("Trace") && s.contains("Cache hit rate")
    });
    assert!(screen.matches("list_dir").count() >= 2, "{screen}");

    tmux.send(&["C-b", "q"]);
    let start = Instant::now();
    while tmux.session_alive() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!tmux.session_alive(), "Ctrl-b q did not quit");

    // Restart: the transcript and the layout (chat + trace) come back from SQLite.
    tmux.launch(project.path(), home.path(), &server.base_url());
    let screen = tmux.wait_for("the restored transcript", Duration::from_secs(20), |s| {
        s.contains("single README file")
    });
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
    let tmux = Tmux {
        socket: format!("boocode-clip-{}", std::process::id()),
        session: "ws".into(),
    };
    tmux.launch(project.path(), home.path(), &server.base_url());
    tmux.wait_for("the workspace", Duration::from_secs(20), |s| {
        s.contains("C-b ? help")
    });
    tmux.type_text("say the canary");
    tmux.send(&["Enter"]);
    tmux.wait_for("the answer", Duration::from_secs(20), |s| {
        s.contains("clipboard canary 4711")
    });
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
