//! Paseo agents against a fake `paseo` CLI (`tests/fixtures/fake_paseo.sh`) that records every
//! call: `boocode agent run` end to end, and chats driven through the engine as the workspace
//! drives them (a second turn and a restart continue the same agent, cancel stops it, closing
//! the chat archives it, and every failure ends only its own turn, clearly).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use boocode::core::agent::tools::ApprovalMode;
use boocode::core::agents::{self, registry};
use boocode::core::engine::{Engine, EngineOptions};
use boocode::core::events::{Command, Event};
use boocode::core::store::Store;
use serde_json::Value;
use tokio::sync::mpsc::UnboundedReceiver;

use support::agents::{events_until, git_project, reply_text};
use support::harness::config_for;

/// The daemon address of the chats' agent; it carries a password, which must never be stored,
/// shown or put on a command line.
const SECRET_HOST: &str = "tcp://box:6767?password=hunter2";
/// The daemon address of `agent run`'s agent: a plain one goes as `--host`.
const HOST: &str = "box:6767";

fn fake_paseo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fake_paseo.sh")
}

/// A git project with one commit, a data home, and the fake's call log.
struct Rig {
    project: tempfile::TempDir,
    home: tempfile::TempDir,
    scratch: tempfile::TempDir,
}

impl Rig {
    fn new() -> Rig {
        let project = tempfile::tempdir().unwrap();
        git_project(project.path());
        Rig {
            project,
            home: tempfile::tempdir().unwrap(),
            scratch: tempfile::tempdir().unwrap(),
        }
    }

    fn root(&self) -> PathBuf {
        std::fs::canonicalize(self.project.path()).unwrap()
    }

    fn log(&self) -> PathBuf {
        self.scratch.path().join("calls.log")
    }

    /// Every call the fake recorded, in order.
    fn calls(&self) -> Vec<Value> {
        std::fs::read_to_string(self.log())
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The argv of every call of `subcommand`.
    fn argvs(&self, subcommand: &str) -> Vec<Vec<String>> {
        self.calls()
            .iter()
            .filter(|c| c["argv"][0] == subcommand)
            .map(|c| serde_json::from_value(c["argv"].clone()).unwrap())
            .collect()
    }

    /// `[agents.NAME]` for the fake, failing as `mode` says; `command` replaces the fake.
    fn agent(&self, mode: &str, command: Option<&str>) -> registry::AgentFile {
        let fake = fake_paseo().to_string_lossy().into_owned();
        registry::AgentFile {
            protocol: Some(registry::Protocol::Paseo),
            command: Some(command.map_or(fake, str::to_string)),
            provider: Some("codex".into()),
            host: Some(SECRET_HOST.into()),
            env: Some(BTreeMap::from([
                (
                    "FAKE_PASEO_LOG".to_string(),
                    self.log().to_string_lossy().into_owned(),
                ),
                ("FAKE_PASEO_MODE".to_string(), mode.to_string()),
            ])),
            startup_timeout_secs: Some(10),
            ..Default::default()
        }
    }

    fn engine(&self, agents: &[(&str, registry::AgentFile)]) -> (Engine, UnboundedReceiver<Event>) {
        let mut config = config_for(
            self.project.path(),
            self.home.path(),
            "http://127.0.0.1:9",
            ApprovalMode::Auto,
        );
        for (name, file) in agents {
            config.agents.insert(name.to_string(), file.clone());
        }
        let (engine, events, _) = Engine::start(EngineOptions {
            config,
            project_root: self.project.path().to_path_buf(),
            interactive: true,
        })
        .unwrap();
        (engine, events)
    }

    fn store(&self) -> Store {
        Store::open(&self.home.path().join("boocode.db")).unwrap()
    }
}

/// Events up to the chat's `TurnFinished` (the engine's events of one chat at a time).
async fn until_turn_ends(events: &mut UnboundedReceiver<Event>) -> Vec<Event> {
    events_until(events, |e| matches!(e, Event::TurnFinished { .. })).await
}

fn finished(events: &[Event]) -> (String, Option<String>) {
    events
        .iter()
        .find_map(|e| match e {
            Event::TurnFinished { status, error, .. } => Some((status.clone(), error.clone())),
            _ => None,
        })
        .unwrap()
}

fn send(engine: &Engine, chat_id: &str, text: &str) {
    engine.submit(Command::SendMessage {
        chat_id: chat_id.to_string(),
        text: text.to_string(),
        attachments: Vec::new(),
    });
}

/// A new chat of `engine` bound to `agent`.
fn bound_chat(engine: &Engine, agent: &str) -> String {
    let session = engine.open_session(None, false).unwrap();
    let chat = engine.new_titled_chat(&session, "main", None, "").unwrap();
    agents::bind_chat(&engine.rt, &chat.id, agent).unwrap();
    chat.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_continues_its_paseo_agent_across_turns_and_restarts() {
    let rig = Rig::new();
    let (engine, mut events) = rig.engine(&[("remote", rig.agent("", None))]);
    let chat_id = bound_chat(&engine, "remote");

    send(&engine, &chat_id, "hello");
    let first = until_turn_ends(&mut events).await;
    assert_eq!(finished(&first), ("completed".into(), None), "{first:?}");
    assert_eq!(reply_text(&first), "Working on: hello\nDone.");
    // The daemon's model and mode reach the pane's agent line.
    assert!(
        first.iter().any(|e| matches!(e, Event::AgentSession { model: Some(m), mode: Some(d), .. } if m == "fake-model" && d == "auto")),
        "{first:?}"
    );
    send(&engine, &chat_id, "again");
    let second = until_turn_ends(&mut events).await;
    assert_eq!(reply_text(&second), "Working on: again\nDone.");
    engine.shutdown();
    drop(engine);

    // A new engine over the same home: the same agent, no second import.
    let (engine, mut events) = rig.engine(&[("remote", rig.agent("", None))]);
    send(&engine, &chat_id, "after the restart");
    let third = until_turn_ends(&mut events).await;
    assert_eq!(finished(&third).0, "completed", "{third:?}");

    let imports = rig.argvs("import");
    assert_eq!(imports.len(), 1, "{imports:?}");
    let agent = rig.store().paseo_agent(&chat_id).unwrap().unwrap();
    let sends = rig.argvs("send");
    assert_eq!(sends.len(), 3);
    for (argv, prompt) in sends.iter().zip(["hello", "again", "after the restart"]) {
        assert_eq!(argv, &["send", "--", &agent.paseo_id, prompt]);
    }
    assert_eq!(rig.argvs("inspect").len(), 3);
    // The agent works in the chat's own worktree, the same one after the restart.
    let calls = rig.calls();
    let import_cwd = calls[0]["cwd"].as_str().unwrap();
    assert_ne!(Path::new(import_cwd), rig.root());
    assert!(calls.iter().all(|c| c["cwd"] == import_cwd), "{calls:?}");
    // Three turns in one chat, each persisted with its usage.
    let store = rig.store();
    let messages = store.load_messages(&chat_id).unwrap();
    let replies: Vec<_> = messages.iter().filter(|m| m.role == "assistant").collect();
    assert_eq!(replies.len(), 3);
    assert!(replies.iter().all(|m| m.status == "complete"));
    let usage = store.turn_usage(&chat_id).unwrap();
    assert_eq!(usage[0].usage.prompt_tokens, 100, "{usage:?}");
    assert_eq!(usage[0].usage.cache_hit_tokens, 40, "{usage:?}");
    engine.shutdown();

    // The daemon's password reached paseo in its environment only: never on a command line
    // (which every user can read), never in the database.
    let calls = rig.calls();
    assert!(
        calls.iter().all(|c| c["paseo_host"] == SECRET_HOST),
        "{calls:?}"
    );
    assert!(!calls
        .iter()
        .any(|c| c["argv"].to_string().contains("hunter2")));
    let db = std::fs::read(rig.home.path().join("boocode.db")).unwrap();
    assert!(!String::from_utf8_lossy(&db).contains("hunter2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_the_agent_and_closing_the_chat_archives_it() {
    let rig = Rig::new();
    let (engine, mut events) = rig.engine(&[("remote", rig.agent("", None))]);
    let chat_id = bound_chat(&engine, "remote");

    send(&engine, &chat_id, "[[hang]] work");
    events_until(&mut events, |e| matches!(e, Event::TextDelta { .. })).await;
    engine.submit(Command::CancelTurn {
        chat_id: chat_id.clone(),
    });
    let cancelled = until_turn_ends(&mut events).await;
    assert_eq!(finished(&cancelled).0, "cancelled", "{cancelled:?}");
    let agent = rig.store().paseo_agent(&chat_id).unwrap().unwrap();
    assert_eq!(rig.argvs("stop"), [["stop", &agent.paseo_id]]);
    // What streamed before the cancel is kept.
    let messages = rig.store().load_messages(&chat_id).unwrap();
    let reply = messages.iter().find(|m| m.role == "assistant").unwrap();
    assert_eq!(reply.status, "cancelled");
    assert_eq!(reply.parts[0].content, "Working on: [[hang]] work");

    engine.submit(Command::EndChat {
        chat_id: chat_id.clone(),
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !rig.store().paseo_agent(&chat_id).unwrap().unwrap().archived {
        assert!(std::time::Instant::now() < deadline, "not archived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        rig.argvs("archive"),
        [["archive", "--json", &agent.paseo_id]]
    );

    // Reopened and written to, the chat gets a new agent.
    send(&engine, &chat_id, "back");
    let back = until_turn_ends(&mut events).await;
    assert_eq!(finished(&back).0, "completed", "{back:?}");
    assert_eq!(rig.argvs("import").len(), 2);
    let renewed = rig.store().paseo_agent(&chat_id).unwrap().unwrap();
    assert!(!renewed.archived);
    assert_ne!(renewed.paseo_id, agent.paseo_id);
    engine.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_failure_ends_its_own_turn_with_a_clear_error() {
    let rig = Rig::new();
    let cases = [
        (
            "refused",
            rig.agent("import-exit1", None),
            "`paseo import` failed (exit status: 1): Cannot connect to daemon: daemon exploded",
        ),
        (
            "garbled",
            rig.agent("import-garbage", None),
            "`paseo import --json` answered with something that is not JSON: <html>not json</html>",
        ),
        (
            "silent",
            registry::AgentFile {
                startup_timeout_secs: Some(1),
                ..rig.agent("import-hang", None)
            },
            "`paseo import` did not answer within 1 s",
        ),
        (
            "missing",
            rig.agent("", Some("/nonexistent/paseo")),
            "/nonexistent/paseo not found",
        ),
        (
            "crashing",
            rig.agent("send-exit1", None),
            "`paseo send` failed (exit status: 1): the agent crashed",
        ),
        (
            "erring",
            rig.agent("inspect-error", None),
            "the Paseo agent ended in error",
        ),
    ];
    let mut agents: Vec<(&str, registry::AgentFile)> =
        cases.iter().map(|(n, f, _)| (*n, f.clone())).collect();
    agents.push(("working", rig.agent("", None)));
    let (engine, mut events) = rig.engine(&agents);
    for (name, _, wanted) in &cases {
        let chat_id = bound_chat(&engine, name);
        send(&engine, &chat_id, "go");
        let seen = until_turn_ends(&mut events).await;
        let (status, error) = finished(&seen);
        assert_eq!(status, "failed", "{name}: {seen:?}");
        let error = error.unwrap();
        assert!(error.contains(wanted), "{name}: {error}");
        assert!(
            error.contains(&format!("agent '{name}'")),
            "{name}: {error}"
        );
        let messages = rig.store().load_messages(&chat_id).unwrap();
        let reply = messages.iter().find(|m| m.role == "assistant").unwrap();
        assert_eq!(reply.status, "failed", "{name}");
        assert_eq!(reply.error.as_deref(), Some(error.as_str()), "{name}");
    }
    // Nothing else was touched: a working agent still runs in the same engine.
    let chat_id = bound_chat(&engine, "working");
    send(&engine, &chat_id, "fine");
    let fine = until_turn_ends(&mut events).await;
    assert_eq!(finished(&fine).0, "completed", "{fine:?}");
    engine.shutdown();
}

/// `boocode ARGS` with a user config naming the fake (and a provider key in its
/// environment that must not reach paseo).
fn boocode(rig: &Rig, args: &[&str]) -> std::process::Output {
    let user_home = rig.scratch.path().join("user");
    let config_dir = user_home.join(".config/boocode");
    std::fs::create_dir_all(&config_dir).unwrap();
    let log = rig.log();
    std::fs::write(
        config_dir.join("config.toml"),
        format!(
            "[agents.remote]\nprotocol = \"paseo\"\ncommand = \"{}\"\nprovider = \"codex\"\nhost = \"{HOST}\"\nstartup_timeout_secs = 10\nenv = {{ FAKE_PASEO_LOG = \"{}\" }}\n\
             [agents.down]\nprotocol = \"paseo\"\ncommand = \"{}\"\nprovider = \"codex\"\nenv = {{ FAKE_PASEO_LOG = \"{}\", FAKE_PASEO_MODE = \"import-exit1\" }}\n",
            fake_paseo().display(),
            log.display(),
            fake_paseo().display(),
            log.display(),
        ),
    )
    .unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_boocode"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &user_home)
        .env("XDG_CONFIG_HOME", user_home.join(".config"))
        .env("BOOCODE_HOME", rig.home.path())
        .env("DEEPSEEK_API_KEY", "sk-provider-secret")
        .current_dir(rig.project.path())
        .stdin(Stdio::null())
        .args(args)
        .output()
        .unwrap();
    child
}

#[test]
fn agent_run_imports_sends_inspects_and_archives_a_paseo_agent() {
    let rig = Rig::new();
    let out = boocode(
        &rig,
        &["agent", "run", "remote", "[[edit:notes.txt]] fix it"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("Working on: [[edit:notes.txt]] fix it\nDone."),
        "{stdout}"
    );

    let store = rig.store();
    let task = store.list_tasks(None).unwrap().remove(0);
    assert_eq!(task.status, "completed");
    assert_eq!(task.agent, "remote");
    assert_eq!(
        store.task_execution(&task.id).unwrap(),
        ("paseo".into(), 120)
    );
    let chat_id = task.chat_id.clone().unwrap();
    let agent = store.paseo_agent(&chat_id).unwrap().unwrap();
    assert!(agent.archived, "the task's chat ended with it");

    let calls = rig.calls();
    let argvs: Vec<Vec<String>> = calls
        .iter()
        .map(|c| serde_json::from_value(c["argv"].clone()).unwrap())
        .collect();
    let chat_label = format!("chat={chat_id}");
    assert_eq!(
        argvs,
        vec![
            vec![
                "import",
                "--json",
                "--host",
                HOST,
                "--provider",
                "codex",
                "--label",
                "origin=boocode",
                "--label",
                &chat_label,
                &agent.provider_session,
            ],
            vec![
                "send",
                "--host",
                HOST,
                "--",
                &agent.paseo_id,
                "[[edit:notes.txt]] fix it"
            ],
            vec!["inspect", "--json", "--host", HOST, &agent.paseo_id],
            vec!["archive", "--json", "--host", HOST, &agent.paseo_id],
        ]
    );
    // The agent worked in the task's worktree, never in the project itself, and had no
    // provider key; its edit waits as a pending change.
    let import_cwd = PathBuf::from(calls[0]["cwd"].as_str().unwrap());
    assert_ne!(import_cwd, rig.root());
    assert_eq!(calls[1]["cwd"], calls[0]["cwd"]);
    assert!(
        calls.iter().all(|c| c["deepseek_key"].is_null()),
        "{calls:?}"
    );
    assert!(!rig.root().join("notes.txt").exists());
    let changes = store.list_pending_changes(Some(&chat_id)).unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].content.display_path, "notes.txt");
    assert_eq!(changes[0].source_agent, "remote");

    // `boocode agents` asks each daemon as the calls do, the host given the same way.
    let listed = boocode(&rig, &["agents", "--json"]);
    assert!(listed.status.success(), "{listed:?}");
    let rows: Vec<Value> = serde_json::from_slice(&listed.stdout).unwrap();
    let remote = rows.iter().find(|r| r["name"] == "remote").unwrap();
    assert_eq!(remote["available"], true, "{remote}");
    let mut probes = rig.argvs("ls");
    probes.sort();
    assert_eq!(
        probes,
        [
            vec!["ls", "--json", "--host", HOST, "--limit", "1"],
            vec!["ls", "--json", "--limit", "1"],
        ]
    );

    // A daemon that refuses: the task fails with paseo's own words.
    let down = boocode(&rig, &["agent", "run", "down", "anything"]);
    let stderr = String::from_utf8_lossy(&down.stderr);
    assert_eq!(down.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("daemon exploded"), "{stderr}");
    let failed = rig
        .store()
        .list_tasks(None)
        .unwrap()
        .into_iter()
        .find(|t| t.agent == "down")
        .unwrap();
    assert_eq!(failed.status, "failed");
    assert!(failed
        .error
        .as_deref()
        .unwrap()
        .contains("`paseo import` failed"));

    // Paseo chooses the model and mode: asking for one fails rather than being ignored.
    let imports = rig.argvs("import").len();
    let moded = boocode(&rig, &["agent", "run", "remote", "--mode", "plan", "x"]);
    let stderr = String::from_utf8_lossy(&moded.stderr);
    assert_eq!(moded.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("its model and mode are chosen in Paseo"),
        "{stderr}"
    );
    assert_eq!(rig.argvs("import").len(), imports);
}
