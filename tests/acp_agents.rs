//! External agents end to end: `boocode agents` and `boocode agent run` against the scripted
//! ACP agent (`examples/acp_agent.rs`, built by `cargo test` with the other examples).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use boocode::core::store::{PartKind, Store};
use serde_json::Value;

/// The scripted agent's binary, next to the test binaries.
fn scripted_agent() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let debug = exe.parent().and_then(Path::parent).unwrap();
    let agent = debug.join("examples/acp_agent");
    assert!(
        agent.exists(),
        "{} is missing: `cargo test` builds it; alone, run `cargo build --example acp_agent`",
        agent.display()
    );
    agent
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// A git project with one commit, a data home, and a user config naming the scripted agent
/// (plus any `[agents.*]` lines a test adds).
struct Project {
    dir: tempfile::TempDir,
    home: tempfile::TempDir,
    user_home: tempfile::TempDir,
}

impl Project {
    fn new(extra_agents: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("README.md"), "# Demo\n").unwrap();
        git(dir.path(), &["init", "-q"]);
        git(dir.path(), &["add", "."]);
        git(dir.path(), &["commit", "-q", "-m", "start"]);
        let user_home = tempfile::tempdir().unwrap();
        let config_dir = user_home.path().join(".config/boocode");
        std::fs::create_dir_all(&config_dir).unwrap();
        let agent = scripted_agent();
        std::fs::write(
            config_dir.join("config.toml"),
            format!(
                "[agents.scripted]\nprotocol = \"acp\"\ncommand = \"{}\"\nenv = {{ SCRIPTED_TOKEN = \"tok-secret-1234\" }}\nstartup_timeout_secs = 1\n{extra_agents}",
                agent.display()
            ),
        )
        .unwrap();
        Project {
            dir,
            home: tempfile::tempdir().unwrap(),
            user_home,
        }
    }

    fn root(&self) -> PathBuf {
        std::fs::canonicalize(self.dir.path()).unwrap()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_boocode"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.user_home.path())
            .env("XDG_CONFIG_HOME", self.user_home.path().join(".config"))
            .env("BOOCODE_HOME", self.home.path())
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .args(args);
        cmd
    }

    fn run(&self, args: &[&str]) -> Out {
        self.finish(self.command(args).spawn().unwrap())
    }

    /// Sends SIGINT to a running `agent run`, reads the rest of its stdout and expects it to
    /// end cancelled (exit 1) within 3 s; returns that rest.
    fn interrupt(
        &self,
        child: std::process::Child,
        mut reader: impl std::io::Read,
        seen: &str,
    ) -> String {
        let started = Instant::now();
        unsafe {
            libc::kill(child.id() as i32, libc::SIGINT);
        }
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut reader, &mut rest).unwrap();
        let out = self.finish(child);
        assert_eq!(out.code, 1, "{seen}{rest}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "took {:?}",
            started.elapsed()
        );
        rest
    }

    fn finish(&self, mut child: std::process::Child) -> Out {
        let deadline = Instant::now() + Duration::from_secs(20);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                child.kill().ok();
                panic!("boocode did not exit within 20 s");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let output = child.wait_with_output().unwrap();
        Out {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }

    fn store(&self) -> Store {
        Store::open(&self.home.path().join("boocode.db")).unwrap()
    }

    /// Everything the agent said (text parts) in the latest task's chat.
    fn said(&self) -> String {
        let store = self.store();
        let chat_id = store.list_tasks(None).unwrap()[0].chat_id.clone().unwrap();
        store
            .load_messages(&chat_id)
            .unwrap()
            .iter()
            .flat_map(|m| m.parts.iter())
            .filter(|p| p.kind == PartKind::Text)
            .map(|p| p.content.clone())
            .collect()
    }
}

fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn agents_lists_presets_and_configured_agents_without_starting_them() {
    let p = Project::new(
        "[agents.ghost]\nprotocol = \"acp\"\ncommand = \"/nonexistent/ghost-agent\"\n",
    );
    let out = p.run(&["agents", "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    let rows: Vec<Value> = serde_json::from_str(&out.stdout).unwrap();
    let row = |name: &str| rows.iter().find(|r| r["name"] == name).unwrap().clone();
    for (name, command) in [
        ("claude", "npx"),
        ("codex", "npx"),
        ("gemini", "gemini"),
        ("opencode", "opencode"),
    ] {
        assert_eq!(row(name)["protocol"], "acp");
        assert_eq!(row(name)["command"], command);
    }
    assert_eq!(row("aider")["protocol"], "pty");
    assert_eq!(
        row("claude-cli")["args"],
        serde_json::json!(["-p", "{task}"])
    );
    let scripted = row("scripted");
    assert_eq!(scripted["available"], true, "{scripted}");
    assert_eq!(scripted["env"], serde_json::json!(["SCRIPTED_TOKEN"]));
    let ghost = row("ghost");
    assert_eq!(ghost["available"], false);
    assert!(ghost["detail"].as_str().unwrap().contains("not found"));
    assert!(
        !out.stdout.contains("tok-secret-1234"),
        "an env value was shown"
    );
    // Listing started nothing: the scripted agent logs every session it opens.
    let human = p.run(&["agents"]);
    assert_eq!(human.code, 0, "{human:?}");
    assert!(human.stdout.contains("✗ ghost"), "{human:?}");
    assert!(human.stdout.contains("✓ scripted"), "{human:?}");
}

#[test]
fn agent_run_streams_the_work_records_the_task_and_its_changes() {
    let p = Project::new("");
    let out = p.run(&[
        "agent",
        "run",
        "scripted",
        "--approval",
        "auto",
        "[[think]] [[plan]] [[edit:notes.txt]] [[usage]] hello there",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("hello there"), "{out:?}");
    assert!(
        out.stderr.contains("thinking: Thinking it over."),
        "{out:?}"
    );
    assert!(out.stderr.contains("→ edit notes.txt"), "{out:?}");
    assert!(
        out.stderr.contains("pending change to notes.txt"),
        "{out:?}"
    );
    // The agent worked in a worktree: the checkout itself is untouched.
    assert!(!p.root().join("notes.txt").exists());

    let store = p.store();
    let task = store.list_tasks(None).unwrap().remove(0);
    assert_eq!(task.status, "completed");
    assert_eq!(task.agent, "scripted");
    assert!(task.output.as_deref().unwrap().contains("hello there"));
    assert_eq!(store.task_execution(&task.id).unwrap(), ("acp".into(), 150));
    let chat_id = task.chat_id.clone().unwrap();
    assert_eq!(
        store.chat_agent(&chat_id).unwrap().unwrap().agent,
        "scripted"
    );

    let traces = store.list_traces(&chat_id, None, 100).unwrap();
    assert_eq!(traces.len(), 1, "{traces:?}");
    assert_eq!(traces[0].tool_name, "edit");
    assert_eq!(traces[0].outcome.as_deref(), Some("success"));
    assert!(traces[0].latency_ms.is_some());
    assert!(traces[0]
        .diff
        .as_deref()
        .unwrap()
        .contains("+edited by the scripted agent"));

    let messages = store.load_messages(&chat_id).unwrap();
    let reply = messages.iter().find(|m| m.role == "assistant").unwrap();
    assert_eq!(reply.status, "complete");
    let kinds: Vec<PartKind> = reply.parts.iter().map(|p| p.kind).collect();
    assert_eq!(
        kinds,
        [PartKind::Reasoning, PartKind::ToolCall, PartKind::Text],
        "{reply:?}"
    );
    let usage = store.turn_usage(&chat_id).unwrap();
    assert_eq!(usage[0].usage.prompt_tokens, 100, "{usage:?}");
    assert_eq!(usage[0].usage.cache_hit_tokens, 40, "{usage:?}");

    let changes = store.list_pending_changes(Some(&chat_id)).unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].content.display_path, "notes.txt");
    assert_eq!(
        changes[0].content.after.as_deref(),
        Some("edited by the scripted agent\n")
    );
}

#[test]
fn json_mode_prints_events_then_a_result() {
    let p = Project::new("");
    let out = p.run(&[
        "agent",
        "run",
        "scripted",
        "--json",
        "--no-worktree",
        "--mode",
        "plan",
        "--model",
        "scripted-large",
        "[[commands]] [[mode:code]] hi",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let lines = json_lines(&out.stdout);
    let types: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
    for wanted in [
        "user_message",
        "turn_started",
        "agent_session",
        "agent_commands",
        "text_delta",
        "message_finished",
        "turn_finished",
        "task_updated",
    ] {
        assert!(types.contains(&wanted), "{wanted} missing: {types:?}");
    }
    let session = lines.iter().find(|l| l["type"] == "agent_session").unwrap();
    assert_eq!(session["mode"], "plan");
    assert_eq!(session["model"], "scripted-large");
    let switched = lines
        .iter()
        .rfind(|l| l["type"] == "agent_session")
        .unwrap();
    assert_eq!(switched["mode"], "code");
    let result = lines.last().unwrap();
    assert_eq!(result["type"], "result");
    assert_eq!(result["status"], "completed");
    assert_eq!(result["final_text"], "You said: hi");

    let bad = p.run(&[
        "agent",
        "run",
        "scripted",
        "--no-worktree",
        "--mode",
        "yolo",
        "x",
    ]);
    assert_eq!(bad.code, 1, "{bad:?}");
    assert!(
        bad.stderr
            .contains("offers no mode 'yolo' (it offers code, plan)"),
        "{bad:?}"
    );
}

#[test]
fn headless_permission_requests_follow_the_approval_mode() {
    let p = Project::new("");
    for (approval, answer) in [
        ("read-only", "reject-once"),
        ("review", "reject-once"),
        ("auto", "allow-once"),
    ] {
        let out = p.run(&[
            "agent",
            "run",
            "scripted",
            "--no-worktree",
            "--approval",
            approval,
            "[[permission]]",
        ]);
        assert_eq!(out.code, 0, "{out:?}");
        assert!(
            out.stderr.contains(&format!("permission: {answer}"))
                || out.stdout.contains(&format!("permission: {answer}")),
            "{approval}: {out:?}"
        );
    }
}

#[test]
fn file_requests_are_served_inside_the_working_directory_only() {
    let p = Project::new("");
    let out = p.run(&[
        "agent",
        "run",
        "scripted",
        "--no-worktree",
        "--approval",
        "auto",
        "[[read:README.md]] [[read:/etc/hostname]] [[read:../outside.txt]]",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let text = p.said();
    assert!(text.contains("read README.md: # Demo"), "{text}");
    assert!(text.contains("could not read /etc/hostname"), "{text}");
    assert!(text.contains("could not read ../outside.txt"), "{text}");

    // Read-only: writes are refused, the call fails, the file is not written.
    let out = p.run(&[
        "agent",
        "run",
        "scripted",
        "--no-worktree",
        "--approval",
        "read-only",
        "[[edit:new.txt]]",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("✗ edit error"), "{out:?}");
    assert!(!p.root().join("new.txt").exists());
}

#[test]
fn an_agent_that_fails_gives_a_clear_error_in_its_chat_and_task() {
    let agent = scripted_agent();
    let p = Project::new(&format!(
        "[agents.missing]\nprotocol = \"acp\"\ncommand = \"/nonexistent/agent-bin\"\n\
         [agents.dies]\nprotocol = \"acp\"\ncommand = \"{0}\"\nargs = [\"--exit-at-start\"]\n\
         [agents.hangs]\nprotocol = \"acp\"\ncommand = \"{0}\"\nargs = [\"--hang-initialize\"]\nstartup_timeout_secs = 1\n\
         [agents.noisy]\nprotocol = \"acp\"\ncommand = \"{0}\"\nargs = [\"--garbage\"]\n",
        agent.display()
    ));
    let cases = [
        ("missing", "hi", "/nonexistent/agent-bin not found"),
        ("dies", "hi", "no credentials configured"),
        ("hangs", "hi", "did not answer initialize within 1 s"),
        (
            "noisy",
            "hi",
            "not JSON-RPC on stdout: Welcome to the scripted agent v0!",
        ),
        (
            "scripted",
            "[[crash]]",
            "the agent exited during session/prompt",
        ),
        (
            "scripted",
            "[[garbage]]",
            "not JSON-RPC on stdout: Debug: this line is not JSON-RPC",
        ),
    ];
    for (name, task, error) in cases {
        let started = Instant::now();
        let out = p.run(&["agent", "run", name, "--no-worktree", task]);
        assert_eq!(out.code, 1, "{name}: {out:?}");
        assert!(out.stderr.contains(error), "{name}: {out:?}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{name} took {:?}",
            started.elapsed()
        );
        let store = p.store();
        let task_row = store.list_tasks(None).unwrap().remove(0);
        assert_eq!(task_row.status, "failed", "{name}");
        assert!(
            task_row.error.as_deref().unwrap().contains(error),
            "{name}: {task_row:?}"
        );
        let chat_id = task_row.chat_id.unwrap();
        let reply = store
            .load_messages(&chat_id)
            .unwrap()
            .into_iter()
            .find(|m| m.role == "assistant")
            .unwrap();
        assert_eq!(reply.status, "failed", "{name}");
        assert!(reply.error.as_deref().unwrap().contains(error), "{name}");
    }
    // What the crashing agent said before it died is kept.
    let store = p.store();
    let crashed = &store.list_tasks(None).unwrap()[1];
    let reply = store
        .load_messages(crashed.chat_id.as_deref().unwrap())
        .unwrap()
        .into_iter()
        .find(|m| m.role == "assistant")
        .unwrap();
    assert!(
        reply
            .parts
            .iter()
            .any(|p| p.content.contains("about to crash")),
        "{reply:?}"
    );

    let unknown = p.run(&["agent", "run", "nobody", "hi"]);
    assert_eq!(unknown.code, 2, "{unknown:?}");
    assert!(
        unknown.stderr.contains("unknown agent 'nobody'"),
        "{unknown:?}"
    );
}

#[test]
fn a_signal_cancels_the_turn_with_session_cancel() {
    let p = Project::new("");
    let mut child = p
        .command(&[
            "agent",
            "run",
            "scripted",
            "--json",
            "--no-worktree",
            "[[slow:20000]] late",
        ])
        .spawn()
        .unwrap();
    // Wait for the first streamed text, then interrupt.
    let stdout = child.stdout.take().unwrap();
    let mut reader = std::io::BufReader::new(stdout);
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = std::io::BufRead::read_line(&mut reader, &mut line).unwrap();
        assert!(n > 0, "ended before any text: {seen}");
        seen.push_str(&line);
        if line.contains("\"text_delta\"") {
            break;
        }
    }
    let rest = p.interrupt(child, reader, &seen);
    let result: Value = serde_json::from_str(rest.lines().last().unwrap()).unwrap();
    assert_eq!(result["status"], "cancelled", "{rest}");
    let task = p.store().list_tasks(None).unwrap().remove(0);
    assert_eq!(task.status, "cancelled");
}

#[test]
fn terminal_requests_run_in_the_agents_worktree_and_show_in_the_chat() {
    let p = Project::new("");
    let out = p.run(&[
        "agent",
        "run",
        "scripted",
        "--approval",
        "auto",
        "[[term:pwd; printf 'hello %s' \"$SCRIPTED_TERMINAL\"; exit 3]] \
         [[term-kill:echo started; exec sleep 30]] [[term-limit:6]] [[term:printf abcdefghij]]",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let said = p.said();
    let worktrees = std::fs::canonicalize(p.home.path())
        .unwrap()
        .join("worktrees");
    let first = said.split("terminal exit").nth(1).unwrap_or("");
    assert!(
        first.starts_with(" 3 signal null truncated false released gone output <"),
        "{said}"
    );
    // The command ran in the agent's worktree (not the project) with the env it asked for.
    let pwd = first.split('<').nth(1).unwrap().lines().next().unwrap();
    assert!(pwd.starts_with(worktrees.to_str().unwrap()), "{pwd}");
    assert!(first.contains("\nhello yes\n>"), "{first}");
    assert!(
        said.contains(
            "terminal exit null signal \"SIGKILL\" truncated false released gone output <started\n>"
        ),
        "{said}"
    );
    assert!(
        said.contains("terminal exit 0 signal null truncated true released gone output <fghij\n>"),
        "{said}"
    );

    // Each command is a tool line whose output is what its terminal showed.
    let store = p.store();
    let chat_id = store.list_tasks(None).unwrap()[0].chat_id.clone().unwrap();
    let traces = store.list_traces(&chat_id, None, 100).unwrap();
    let lines: Vec<(&str, Option<&str>)> = traces
        .iter()
        .map(|t| (t.tool_name.as_str(), t.outcome.as_deref()))
        .collect();
    assert_eq!(
        lines,
        [
            ("execute", Some("error")),
            ("execute", Some("error")),
            ("execute", Some("success"))
        ]
    );
    let output = |i: usize| traces[i].tool_output.as_deref().unwrap_or("");
    assert!(output(0).ends_with("\nhello yes\n"), "{:?}", traces[0]);
    assert_eq!(output(1), "started\n");
    assert_eq!(output(2), "fghij\n");
}

#[test]
fn headless_terminal_requests_follow_the_approval_mode() {
    let p = Project::new("");
    for (approval, refusal) in [
        (
            "read-only",
            "running commands is refused: boocode runs this agent read-only",
        ),
        ("review", "running sh -c echo hi was not allowed"),
    ] {
        let out = p.run(&[
            "agent",
            "run",
            "scripted",
            "--no-worktree",
            "--approval",
            approval,
            "[[term:echo hi]]",
        ]);
        assert_eq!(out.code, 0, "{out:?}");
        assert!(
            out.stdout.contains(&format!("terminal refused: {refusal}")),
            "{approval}: {out:?}"
        );
    }
}

/// The scripted terminal agent (`tests/fixtures/pty_agent.sh`) as `[agents.NAME]` lines.
fn pty_agent(name: &str) -> String {
    format!(
        "[agents.{name}]\nprotocol = \"pty\"\ncommand = \"{}/tests/fixtures/pty_agent.sh\"\nargs = [\"{{task}}\"]\n",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn a_pty_agent_runs_headless_in_its_worktree_and_its_exit_status_is_the_outcome() {
    let p = Project::new(&pty_agent("term"));
    let out = p.run(&["agent", "run", "term", "edit:notes.txt lines:3 exit:3"]);
    assert_eq!(out.code, 1, "{out:?}");
    // The screen's lines stream to stderr as they settle; the task is one argument on a tty.
    assert!(
        out.stderr.contains("│ pty agent: 1 argument(s), tty yes"),
        "{out:?}"
    );
    assert!(out.stderr.contains("│ line 3"), "{out:?}");
    assert!(
        out.stderr.contains("pending change to notes.txt"),
        "{out:?}"
    );
    assert!(
        out.stdout.contains("term exited with code 3. Last lines:"),
        "{out:?}"
    );
    assert!(out.stderr.contains("term exited with code 3"), "{out:?}");
    assert!(!p.root().join("notes.txt").exists(), "edited the checkout");

    let store = p.store();
    let task = store.list_tasks(None).unwrap().remove(0);
    assert_eq!(
        (task.status.as_str(), task.agent.as_str()),
        ("failed", "term")
    );
    assert_eq!(store.task_execution(&task.id).unwrap().0, "pty");
    let output = task.output.as_deref().unwrap();
    assert!(
        output.contains("line 3\nexiting with 3\n```"),
        "the summary is the screen's last lines: {output}"
    );
    assert_eq!(task.error.as_deref(), Some("term exited with code 3"));
    let chat_id = task.chat_id.unwrap();
    let changes = store.list_pending_changes(Some(&chat_id)).unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(
        changes[0].content.after.as_deref(),
        Some("edited by the pty agent\n")
    );
    let traces = store.list_traces(&chat_id, None, 10).unwrap();
    assert_eq!(traces.len(), 1, "{traces:?}");
    assert_eq!(
        (traces[0].tool_name.as_str(), traces[0].outcome.as_deref()),
        ("terminal", Some("error"))
    );

    // Exit 0 succeeds; --json streams the settled lines as events, then the result.
    let out = p.run(&["agent", "run", "term", "--json", "--no-worktree", "lines:2"]);
    assert_eq!(out.code, 0, "{out:?}");
    let lines = json_lines(&out.stdout);
    let streamed: Vec<&str> = lines
        .iter()
        .filter(|l| l["type"] == "agent_terminal_lines")
        .flat_map(|l| l["lines"].as_array().unwrap())
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(
        streamed,
        [
            "pty agent: 1 argument(s), tty yes",
            "line 1",
            "line 2",
            "done"
        ]
    );
    let result = lines.last().unwrap();
    assert_eq!(result["status"], "completed", "{result}");
    assert!(result["final_text"]
        .as_str()
        .unwrap()
        .starts_with("term exited with code 0."));
}

#[test]
fn a_pty_agent_whose_program_is_missing_fails_clearly() {
    let p = Project::new(
        "[agents.gone]\nprotocol = \"pty\"\ncommand = \"/nonexistent/pty-agent\"\nargs = [\"{task}\"]\n",
    );
    let out = p.run(&["agent", "run", "gone", "--no-worktree", "hi"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr
            .contains("agent 'gone': /nonexistent/pty-agent not found"),
        "{out:?}"
    );
    let task = p.store().list_tasks(None).unwrap().remove(0);
    assert_eq!(task.status, "failed");
    assert!(task
        .error
        .unwrap()
        .contains("/nonexistent/pty-agent not found"));
}

#[test]
fn a_project_defined_agent_runs_only_once_approved_in_this_project() {
    let p = Project::new("");
    let project_config = |args: &str| {
        std::fs::create_dir_all(p.root().join(".boocode")).unwrap();
        std::fs::write(
            p.root().join(".boocode/config.toml"),
            format!(
                "[agents.helper]\nprotocol = \"pty\"\ncommand = \"{}/tests/fixtures/pty_agent.sh\"\nargs = {args}\n",
                env!("CARGO_MANIFEST_DIR")
            ),
        )
        .unwrap();
    };
    project_config("[\"{task}\"]");
    let listed = p.run(&["agents", "--json"]);
    assert_eq!(listed.code, 0, "{listed:?}");
    let rows: Vec<Value> = serde_json::from_str(&listed.stdout).unwrap();
    let helper = rows.iter().find(|r| r["name"] == "helper").unwrap();
    assert_eq!(helper["origin"], "project");
    assert_eq!(helper["approval"], "needs approval");
    assert_eq!(
        rows.iter().find(|r| r["name"] == "scripted").unwrap()["approval"],
        Value::Null
    );
    let human = p.run(&["agents"]);
    assert!(
        human
            .stdout
            .contains("needs approval: boocode agents approve helper"),
        "{human:?}"
    );

    let refused = |why: &str| {
        let out = p.run(&["agent", "run", "helper", "--no-worktree", "lines:1"]);
        assert_eq!(out.code, 2, "{out:?}");
        assert!(out.stderr.contains(why), "{out:?}");
        assert!(!out.stderr.contains("line 1"), "it ran: {out:?}");
    };
    refused("needs your approval first: `boocode agents approve helper`");
    assert!(p.store().list_tasks(None).unwrap().is_empty());

    let approved = p.run(&["agents", "approve", "helper"]);
    assert_eq!(approved.code, 0, "{approved:?}");
    let out = p.run(&["agent", "run", "helper", "--no-worktree", "lines:1"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("│ line 1"), "{out:?}");

    // A changed definition is asked about again; a denied one says so.
    project_config("[\"{task}\", \"--extra\"]");
    refused("needs your approval first");
    assert_eq!(p.run(&["agents", "deny", "helper"]).code, 0);
    refused("was denied here");

    let preset = p.run(&["agents", "approve", "aider"]);
    assert_eq!(preset.code, 2, "{preset:?}");
    assert!(preset.stderr.contains("needs no approval"), "{preset:?}");
}

#[test]
fn a_signal_kills_a_pty_agent_and_the_task_is_cancelled() {
    let p = Project::new(&pty_agent("term"));
    let mut child = p
        .command(&[
            "agent",
            "run",
            "term",
            "--json",
            "--no-worktree",
            "sleep:20 never-printed",
        ])
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut reader = std::io::BufReader::new(stdout);
    let mut seen = String::new();
    while !seen.contains("agent_terminal_lines") {
        let mut line = String::new();
        let n = std::io::BufRead::read_line(&mut reader, &mut line).unwrap();
        assert!(n > 0, "ended before any line: {seen}");
        seen.push_str(&line);
    }
    let rest = p.interrupt(child, reader, &seen);
    assert!(!rest.contains("never-printed"), "{rest}");
    let result: Value = serde_json::from_str(rest.lines().last().unwrap()).unwrap();
    assert_eq!(result["status"], "cancelled", "{rest}");
    // The program's group was killed, not left running past the grace.
    assert!(
        result["final_text"]
            .as_str()
            .unwrap()
            .starts_with("term was cancelled (killed by signal 9 (SIGKILL))"),
        "{result}"
    );
    assert_eq!(p.store().list_tasks(None).unwrap()[0].status, "cancelled");
}
