//! Paseo agents against a fake `paseo` CLI (`tests/fixtures/fake_paseo.sh`) that behaves as the
//! real one does (send blocks and prints only its result row, the agent's words come from
//! `logs -f` and `logs`, JSON pretty-printed, commander's option parsing, DAEMON_NOT_RUNNING)
//! and records every call: `boocode agent run` end to end, and chats driven through the engine
//! as the workspace drives them (the first turn creates the agent with `paseo run` and waits
//! with `paseo wait`, later ones `send`; `session =` imports an existing provider session
//! instead; the followed transcript streams before the turn ends, each item once, and the
//! reply is settled from the whole transcript; a second turn and a restart continue the same
//! agent; each status `send` and `wait` can answer; cancel stops it, closing the chat archives
//! it, and every failure ends only its own turn, clearly).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use boocode::core::agent::tools::ApprovalMode;
use boocode::core::agents::{self, registry};
use boocode::core::engine::{Engine, EngineOptions};
use boocode::core::events::{Command, Event};
use boocode::core::store::{PartKind, Store};
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

    /// `[agents.NAME]` for the fake, with `settings` (`FAKE_PASEO_*`) in its environment;
    /// `command` replaces the fake.
    fn agent(&self, settings: &[(&str, &str)], command: Option<&str>) -> registry::AgentFile {
        let fake = fake_paseo().to_string_lossy().into_owned();
        let mut env = BTreeMap::from([(
            "FAKE_PASEO_LOG".to_string(),
            self.log().to_string_lossy().into_owned(),
        )]);
        env.extend(settings.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        registry::AgentFile {
            protocol: Some(registry::Protocol::Paseo),
            command: Some(command.map_or(fake, str::to_string)),
            provider: Some("codex".into()),
            host: Some(SECRET_HOST.into()),
            env: Some(env),
            startup_timeout_secs: Some(10),
            ..Default::default()
        }
    }

    /// Lets a `[[hold]]` turn go on.
    fn release(&self) {
        std::fs::write(self.scratch.path().join("calls.log.state/release"), "").unwrap();
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

/// The stored reply of the chat's turn `turn`: its status and parts as (kind, content).
fn stored_reply(rig: &Rig, chat_id: &str, turn: i64) -> (String, Vec<(String, String)>) {
    let messages = rig.store().load_messages(chat_id).unwrap();
    let reply = messages
        .iter()
        .find(|m| m.role == "assistant" && m.turn_number == turn)
        .unwrap();
    let parts = reply
        .parts
        .iter()
        .map(|p| {
            let content = match p.kind {
                PartKind::ToolCall => p.tool_name.clone().unwrap_or_default(),
                _ => p.content.clone(),
            };
            (format!("{:?}", p.kind), content)
        })
        .collect();
    (reply.status.clone(), parts)
}

/// The reply the fake's agent gives on its `n`th turn, as its transcript records it: the
/// followed lines print each chunk on a line of its own (`Reply n:`, `Done with`, `the
/// change.`).
fn settled_reply(n: usize) -> Vec<(String, String)> {
    vec![
        ("ToolCall".into(), "Read".into()),
        ("Reasoning".into(), "Planning the change.".into()),
        (
            "Text".into(),
            format!("Reply {n}:\n\nDone with the change."),
        ),
    ]
}

fn message_finished(events: &[Event]) -> Option<String> {
    events.iter().find_map(|e| match e {
        Event::MessageFinished { content, .. } => Some(content.clone()),
        _ => None,
    })
}

/// The argv of call `call` of the log.
fn argv_of(call: &Value) -> Vec<String> {
    serde_json::from_value(call["argv"].clone()).unwrap()
}

/// `SUBCOMMAND [--json] [--host H] REST…`, as the calls are spelled.
fn spelled(host: Option<&str>, subcommand: &str, json: bool, rest: &[&str]) -> Vec<String> {
    let host: Vec<&str> = host.map_or(Vec::new(), |h| vec!["--host", h]);
    let json = if json { vec!["--json"] } else { Vec::new() };
    [&[subcommand][..], &json, &host, rest]
        .concat()
        .into_iter()
        .map(str::to_string)
        .collect()
}

/// Checks the calls of the chat's first turn on `prompt`, each with `--host` when `host` is
/// given: run (the daemon told to run the agent in the worktree the calls run in, the prompt
/// after `--`), the follower taking the whole timeline, wait, the whole transcript, inspect.
fn assert_first_turn_calls(rig: &Rig, chat_id: &str, host: Option<&str>, prompt: &str) {
    let calls = rig.calls();
    let argvs: Vec<Vec<String>> = calls[..5].iter().map(argv_of).collect();
    let after = |argv: &[String], option: &str| {
        let at = argv.iter().position(|a| a == option).unwrap();
        argv[at + 1].clone()
    };
    let agent_cwd = after(&argvs[0], "--cwd");
    let worktree = calls[0]["cwd"].as_str().unwrap();
    assert_eq!(Path::new(&agent_cwd), Path::new(worktree));
    assert!(calls[..5].iter().all(|c| c["cwd"] == worktree), "{calls:?}");
    let agent = rig.store().paseo_agent(chat_id).unwrap().unwrap();
    assert_eq!(agent.provider_session, None);
    let id = agent.paseo_id.as_str();
    let call = |subcommand: &str, json: bool, rest: &[&str]| spelled(host, subcommand, json, rest);
    let chat_label = format!("chat={chat_id}");
    assert_eq!(
        argvs,
        [
            call(
                "run",
                true,
                &[
                    "--detach",
                    "--provider",
                    "codex",
                    "--cwd",
                    &agent_cwd,
                    "--label",
                    "origin=boocode",
                    "--label",
                    &chat_label,
                    "--",
                    prompt,
                ]
            ),
            call("logs", false, &["--follow", "--tail", "1000000", id]),
            call("wait", true, &["--timeout", "10m", id]),
            call("logs", false, &[id]),
            call("inspect", true, &[id]),
        ]
    );
}

/// Waits until the fake's agent `id` has no turn under way.
async fn until_idle(rig: &Rig, id: &str) {
    let running = rig
        .scratch
        .path()
        .join(format!("calls.log.state/agents/{id}.running"));
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while running.exists() {
        assert!(std::time::Instant::now() < deadline, "{id} still works");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_continues_its_paseo_agent_across_turns_and_restarts() {
    let rig = Rig::new();
    let (engine, mut events) = rig.engine(&[("remote", rig.agent(&[], None))]);
    let chat_id = bound_chat(&engine, "remote");

    // The first message creates the agent (`paseo run`); starting with a dash, it is still
    // the prompt, not an option.
    let first_prompt = "-rf is a prompt, not an option";
    send(&engine, &chat_id, first_prompt);
    let first = until_turn_ends(&mut events).await;
    assert_eq!(finished(&first), ("completed".into(), None), "{first:?}");
    // The reply is the agent's own record of the turn, whole, not `wait`'s result row.
    assert_eq!(
        message_finished(&first).as_deref(),
        Some("Reply 1:\n\nDone with the change.")
    );
    // The panes were streamed a preview: after it ends they are told to show the stored reply.
    let finished_at = first
        .iter()
        .position(|e| matches!(e, Event::MessageFinished { .. }));
    let rewritten_at = first
        .iter()
        .position(|e| matches!(e, Event::ReplyRewritten { chat_id: c, .. } if *c == chat_id));
    assert!(
        finished_at.is_some() && rewritten_at > finished_at,
        "{first:?}"
    );
    assert_eq!(
        stored_reply(&rig, &chat_id, 1),
        ("complete".into(), settled_reply(1))
    );
    // The daemon's model and mode reach the pane's agent line.
    assert!(
        first.iter().any(|e| matches!(e, Event::AgentSession { model: Some(m), mode: Some(d), .. } if m == "fake-model" && d == "auto")),
        "{first:?}"
    );
    // The host has a password: it goes in PASEO_HOST, so no call has --host.
    assert_first_turn_calls(&rig, &chat_id, None, first_prompt);
    let calls = rig.calls();
    let worktree = calls[0]["cwd"].as_str().unwrap().to_string();
    assert_ne!(Path::new(&worktree), rig.root());
    let id = rig.store().paseo_agent(&chat_id).unwrap().unwrap().paseo_id;

    // The second turn is sent to the same agent: the follower from now on, send (its prompt in
    // a file of its own, a dash first again), the transcript, inspect.
    send(&engine, &chat_id, "-n again");
    let second = until_turn_ends(&mut events).await;
    assert_eq!(finished(&second), ("completed".into(), None), "{second:?}");
    assert_eq!(
        stored_reply(&rig, &chat_id, 2),
        ("complete".into(), settled_reply(2))
    );
    let calls = rig.calls();
    let prompt_file = calls[6]["argv"][3].as_str().unwrap().to_string();
    assert_eq!(
        calls[5..9].iter().map(argv_of).collect::<Vec<_>>(),
        [
            spelled(None, "logs", false, &["--follow", "--tail", "0", &id]),
            spelled(None, "send", true, &["--prompt-file", &prompt_file, &id]),
            spelled(None, "logs", false, &[&id]),
            spelled(None, "inspect", true, &[&id]),
        ]
    );
    assert_eq!(calls[6]["prompt"], "-n again");
    assert!(
        prompt_file.starts_with(&rig.home.path().to_string_lossy().into_owned()),
        "{prompt_file}"
    );
    assert!(
        !Path::new(&prompt_file).exists(),
        "the prompt file is removed"
    );
    engine.shutdown();
    drop(engine);

    // A new engine over the same home: the same agent, no second one.
    let (engine, mut events) = rig.engine(&[("remote", rig.agent(&[], None))]);
    send(&engine, &chat_id, "after the restart");
    let third = until_turn_ends(&mut events).await;
    assert_eq!(finished(&third).0, "completed", "{third:?}");
    assert_eq!(stored_reply(&rig, &chat_id, 3).1, settled_reply(3));
    engine.shutdown();

    assert_eq!(rig.argvs("run").len(), 1);
    assert!(rig.argvs("import").is_empty());
    let calls = rig.calls();
    let prompts: Vec<&Value> = calls
        .iter()
        .filter(|c| c["argv"][0] == "send")
        .map(|c| &c["prompt"])
        .collect();
    assert_eq!(prompts, ["-n again", "after the restart"]);
    // The agent works in the chat's own worktree, the same one after the restart.
    assert!(
        calls.iter().all(|c| c["cwd"] == worktree.as_str()),
        "{calls:?}"
    );
    // Each turn's tool call is traced; its usage is stored.
    let store = rig.store();
    let traces = store.list_traces(&chat_id, None, 100).unwrap();
    let traced: Vec<(&str, &str, Option<&str>)> = traces
        .iter()
        .map(|t| {
            (
                t.tool_name.as_str(),
                t.tool_input.as_str(),
                t.outcome.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        traced,
        [("Read", r#"{"summary":"notes.txt"}"#, Some("success")); 3]
    );
    let usage = store.turn_usage(&chat_id).unwrap();
    assert_eq!(usage[0].usage.prompt_tokens, 100, "{usage:?}");
    assert_eq!(usage[0].usage.cache_hit_tokens, 40, "{usage:?}");

    // The daemon's password reached paseo in its environment only: never on a command line
    // (which every user can read), never in the database.
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

/// What the events previewed, in order: tool calls started, reasoning and text as streamed.
fn previewed(events: &[Event]) -> Vec<(&'static str, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::ToolStarted { tool_name, .. } => Some(("tool", tool_name.clone())),
            Event::ReasoningDelta { text, .. } => Some(("reasoning", text.clone())),
            Event::TextDelta { text, .. } => Some(("text", text.clone())),
            _ => None,
        })
        .collect()
}

fn preview(items: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    items.iter().map(|(k, t)| (*k, t.to_string())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_followed_transcript_streams_into_the_chat_before_the_turn_ends() {
    let rig = Rig::new();
    let (engine, mut events) = rig.engine(&[("remote", rig.agent(&[], None))]);
    let chat_id = bound_chat(&engine, "remote");

    // The first turn: the agent `run` created was at work before the follower listened. What
    // it had done shows from the follower's history (curated: its text before its
    // reasoning), what it does next from the followed lines, each item once. The turn stays
    // open until released, so all of it came before the turn's end.
    send(&engine, &chat_id, "[[hold]] go");
    let early = events_until(
        &mut events,
        |e| matches!(e, Event::ReasoningDelta { text, .. } if text == "Planning the change."),
    )
    .await;
    assert!(!early
        .iter()
        .any(|e| matches!(e, Event::TurnFinished { .. })));
    assert_eq!(
        previewed(&early),
        preview(&[
            ("tool", "Read"),
            ("text", "Reply 1:"),
            ("reasoning", "Planning the change.")
        ])
    );
    rig.release();
    let rest = until_turn_ends(&mut events).await;
    assert_eq!(finished(&rest), ("completed".into(), None), "{rest:?}");
    assert_eq!(
        previewed(&rest),
        preview(&[("text", "Done with"), ("text", "\nthe change.")])
    );
    assert_eq!(
        message_finished(&rest).as_deref(),
        Some("Reply 1:\n\nDone with the change.")
    );
    assert_eq!(
        stored_reply(&rig, &chat_id, 1),
        ("complete".into(), settled_reply(1))
    );
    let traces = rig.store().list_traces(&chat_id, None, 10).unwrap();
    assert_eq!(traces.len(), 1, "{traces:?}");

    // A later turn: the follower listens before the send, so every item is a followed line.
    std::fs::remove_file(rig.scratch.path().join("calls.log.state/release")).unwrap();
    send(&engine, &chat_id, "[[hold]] again");
    let early = events_until(
        &mut events,
        |e| matches!(e, Event::TextDelta { text, .. } if text == "Reply 2:"),
    )
    .await;
    assert_eq!(
        previewed(&early),
        preview(&[
            ("tool", "Read"),
            ("reasoning", "Planning the change."),
            ("text", "Reply 2:")
        ])
    );
    rig.release();
    let rest = until_turn_ends(&mut events).await;
    assert_eq!(finished(&rest), ("completed".into(), None), "{rest:?}");
    // The follower printed each chunk on a line of its own; the reply is the transcript's.
    assert_eq!(reply_text(&rest), "\nDone with\nthe change.");
    assert_eq!(
        stored_reply(&rig, &chat_id, 2),
        ("complete".into(), settled_reply(2))
    );
    engine.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_after_the_agent_was_created_continues_it() {
    let rig = Rig::new();
    let (engine, mut events) = rig.engine(&[("remote", rig.agent(&[], None))]);
    let chat_id = bound_chat(&engine, "remote");

    // boocode stops while the first turn is still under way: the agent was stored when `run`
    // answered.
    send(&engine, &chat_id, "[[hold]] start");
    events_until(
        &mut events,
        |e| matches!(e, Event::TextDelta { text, .. } if text == "Reply 1:"),
    )
    .await;
    engine.shutdown();
    drop(engine);
    let id = rig.store().paseo_agent(&chat_id).unwrap().unwrap().paseo_id;
    rig.release();
    until_idle(&rig, &id).await;

    let (engine, mut events) = rig.engine(&[("remote", rig.agent(&[], None))]);
    send(&engine, &chat_id, "go on");
    let next = until_turn_ends(&mut events).await;
    assert_eq!(finished(&next), ("completed".into(), None), "{next:?}");
    assert_eq!(
        message_finished(&next).as_deref(),
        Some("Reply 2:\n\nDone with the change.")
    );
    engine.shutdown();
    assert_eq!(rig.argvs("run").len(), 1);
    let sends = rig.argvs("send");
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0].last(), Some(&id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_that_dies_early_leaves_the_reply_whole() {
    let rig = Rig::new();
    let deaf = rig.agent(&[("FAKE_PASEO_MODE", "follow-dies")], None);
    let (engine, mut events) = rig.engine(&[("deaf", deaf)]);
    let chat_id = bound_chat(&engine, "deaf");

    send(&engine, &chat_id, "go");
    let seen = until_turn_ends(&mut events).await;
    assert_eq!(finished(&seen), ("completed".into(), None), "{seen:?}");
    assert_eq!(reply_text(&seen), "", "nothing was followed");
    assert_eq!(
        message_finished(&seen).as_deref(),
        Some("Reply 1:\n\nDone with the change.")
    );
    assert_eq!(
        stored_reply(&rig, &chat_id, 1),
        ("complete".into(), settled_reply(1))
    );
    let traces = rig.store().list_traces(&chat_id, None, 10).unwrap();
    assert_eq!(traces.len(), 1);
    assert_eq!(traces[0].tool_name, "Read");
    engine.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_paseo_did_not_complete_fails_saying_why() {
    let rig = Rig::new();
    let (engine, mut events) = rig.engine(&[
        (
            "erring",
            rig.agent(&[("FAKE_PASEO_SEND_STATUS", "error")], None),
        ),
        (
            "slow",
            rig.agent(&[("FAKE_PASEO_SEND_STATUS", "timeout")], None),
        ),
        (
            "asking",
            rig.agent(&[("FAKE_PASEO_SEND_STATUS", "permission")], None),
        ),
    ]);
    for (name, wanted) in [
        (
            "erring",
            "the Paseo agent ended in error: Provider crashed: out of credits".to_string(),
        ),
        (
            "slow",
            "the Paseo agent did not finish within the 10 minutes `paseo CALL` waits; it may still be working (`paseo logs ID` shows it, `paseo stop ID` stops it)".to_string(),
        ),
        (
            "asking",
            "the Paseo agent is waiting for permission to use Bash, which only Paseo can grant: `paseo permit allow ID` (or `paseo permit deny ID`), or answer it in the Paseo app".to_string(),
        ),
    ] {
        // The first turn ends as `wait` says, the second as `send` says.
        let chat_id = bound_chat(&engine, name);
        for (turn, call) in [(1, "wait"), (2, "send")] {
            send(&engine, &chat_id, "go");
            let seen = until_turn_ends(&mut events).await;
            let id = rig.store().paseo_agent(&chat_id).unwrap().unwrap().paseo_id;
            let (status, error) = finished(&seen);
            assert_eq!(status, "failed", "{name}: {seen:?}");
            let error = error.unwrap();
            let wanted = wanted.replace("ID", &id).replace("CALL", call);
            assert!(
                error.contains(&format!("agent '{name}': {wanted}")),
                "{name}, {call}: {error}"
            );
            // What the agent did is in the reply all the same.
            let (status, parts) = stored_reply(&rig, &chat_id, turn);
            assert_eq!(
                (status.as_str(), parts),
                ("failed", settled_reply(turn as usize)),
                "{name}, {call}"
            );
        }
    }
    let calls: Vec<String> = rig.calls().iter().map(|c| argv_of(c)[0].clone()).collect();
    assert_eq!(calls.iter().filter(|c| *c == "wait").count(), 3);
    assert_eq!(calls.iter().filter(|c| *c == "send").count(), 3);
    engine.shutdown();
}

/// Whether process `pid` has ended (gone, or a zombie no one reaped).
fn ended(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_the_agent_and_closing_the_chat_archives_it() {
    let rig = Rig::new();
    let (engine, mut events) = rig.engine(&[("remote", rig.agent(&[], None))]);
    let chat_id = bound_chat(&engine, "remote");

    // Cancelled during the first turn (`run` started it, `wait` waits for it).
    send(&engine, &chat_id, "[[hang]] work");
    events_until(
        &mut events,
        |e| matches!(e, Event::ReasoningDelta { text, .. } if text == "Planning the change."),
    )
    .await;
    engine.submit(Command::CancelTurn {
        chat_id: chat_id.clone(),
    });
    let cancelled = until_turn_ends(&mut events).await;
    assert_eq!(finished(&cancelled).0, "cancelled", "{cancelled:?}");
    let agent = rig.store().paseo_agent(&chat_id).unwrap().unwrap();
    assert_eq!(rig.argvs("stop"), [["stop", &agent.paseo_id]]);
    assert_eq!(rig.argvs("wait").len(), 1);
    // What streamed before the cancel is kept (the follower's history: text, then reasoning).
    assert_eq!(
        stored_reply(&rig, &chat_id, 1),
        (
            "cancelled".into(),
            vec![
                ("ToolCall".into(), "Read".into()),
                ("Text".into(), "Reply 1:".into()),
                ("Reasoning".into(), "Planning the change.".into()),
            ]
        )
    );
    until_idle(&rig, &agent.paseo_id).await;

    // Cancelled during a later turn (`send`).
    send(&engine, &chat_id, "[[hang]] more");
    events_until(
        &mut events,
        |e| matches!(e, Event::TextDelta { text, .. } if text == "Reply 2:"),
    )
    .await;
    engine.submit(Command::CancelTurn {
        chat_id: chat_id.clone(),
    });
    let cancelled = until_turn_ends(&mut events).await;
    assert_eq!(finished(&cancelled).0, "cancelled", "{cancelled:?}");
    assert_eq!(rig.argvs("stop"), [["stop", &agent.paseo_id]; 2]);
    // What streamed before the cancel is kept; the follower is gone.
    assert_eq!(
        stored_reply(&rig, &chat_id, 2),
        (
            "cancelled".into(),
            vec![
                ("ToolCall".into(), "Read".into()),
                ("Reasoning".into(), "Planning the change.".into()),
                ("Text".into(), "Reply 2:".into()),
            ]
        )
    );
    let follower =
        std::fs::read_to_string(rig.scratch.path().join("calls.log.state/follow.pid")).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while !ended(follower.trim()) {
        // A killed process may take a moment to leave.
        assert!(
            std::time::Instant::now() < deadline,
            "the follower {follower} still runs"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

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
    assert_eq!(rig.argvs("run").len(), 2);
    let renewed = rig.store().paseo_agent(&chat_id).unwrap().unwrap();
    assert!(!renewed.archived);
    assert_ne!(renewed.paseo_id, agent.paseo_id);
    engine.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_while_run_creates_the_agent_stops_the_agent_it_made() {
    let rig = Rig::new();
    let slow = rig.agent(&[("FAKE_PASEO_MODE", "run-slow")], None);
    let (engine, mut events) = rig.engine(&[("slow", slow)]);
    let chat_id = bound_chat(&engine, "slow");

    send(&engine, &chat_id, "[[hang]] work");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while rig.argvs("run").is_empty() {
        assert!(std::time::Instant::now() < deadline, "no run");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    engine.submit(Command::CancelTurn {
        chat_id: chat_id.clone(),
    });
    let cancelled = until_turn_ends(&mut events).await;
    assert_eq!(finished(&cancelled).0, "cancelled", "{cancelled:?}");
    // The agent `run` made is known and stopped, not left working unknown; nothing waited.
    let agent = rig.store().paseo_agent(&chat_id).unwrap().unwrap();
    let id = agent.paseo_id.as_str();
    assert_eq!(rig.argvs("stop"), [["stop", id]]);
    let calls: Vec<String> = rig.calls().iter().map(|c| argv_of(c)[0].clone()).collect();
    assert_eq!(calls, ["run", "stop"]);
    until_idle(&rig, id).await;

    // The next message goes to that agent.
    send(&engine, &chat_id, "again");
    let next = until_turn_ends(&mut events).await;
    assert_eq!(finished(&next).0, "completed", "{next:?}");
    assert_eq!(rig.argvs("send").len(), 1);
    assert_eq!(rig.argvs("run").len(), 1);
    engine.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_failure_ends_its_own_turn_with_a_clear_error() {
    let rig = Rig::new();
    let too_long = "x".repeat(130 * 1024);
    // (agent, its settings, the prompt, what the error says, whether a first turn completes
    // before the failing one)
    let cases = [
        (
            "down",
            rig.agent(&[("FAKE_PASEO_DAEMON", "down")], None),
            "go",
            "`paseo run` failed (exit status: 1): Cannot connect to daemon at <host>: connect ECONNREFUSED 127.0.0.1:6767 (Start the daemon with: paseo daemon start)",
            false,
        ),
        (
            "garbled",
            rig.agent(&[("FAKE_PASEO_MODE", "create-garbage")], None),
            "go",
            "`paseo run --json` answered with something that is not JSON: <html>not json</html>",
            false,
        ),
        (
            "silent",
            registry::AgentFile {
                startup_timeout_secs: Some(1),
                ..rig.agent(&[("FAKE_PASEO_MODE", "create-hang")], None)
            },
            "go",
            "`paseo run` did not answer within 1 s",
            false,
        ),
        (
            "missing",
            rig.agent(&[], Some("/nonexistent/paseo")),
            "go",
            "/nonexistent/paseo not found",
            false,
        ),
        (
            "unmade",
            rig.agent(&[("FAKE_PASEO_MODE", "run-refused")], None),
            "go",
            "`paseo run` failed (exit status: 1): Failed to create agent: provider codex is not configured",
            false,
        ),
        (
            "wordy",
            rig.agent(&[], None),
            too_long.as_str(),
            "a new Paseo agent gets its first message on `paseo run`'s command line, which takes at most 127 KB; this one has 130 KB: send a shorter first message (later ones have no such limit)",
            false,
        ),
        (
            "refusing",
            rig.agent(&[("FAKE_PASEO_MODE", "send-refused")], None),
            "go",
            "`paseo send` failed (exit status: 1): Failed to send message: agent is closed",
            true,
        ),
    ];
    let mut agents: Vec<(&str, registry::AgentFile)> =
        cases.iter().map(|(n, f, ..)| (*n, f.clone())).collect();
    agents.push(("working", rig.agent(&[], None)));
    let (engine, mut events) = rig.engine(&agents);
    for (name, _, prompt, wanted, warm) in &cases {
        let chat_id = bound_chat(&engine, name);
        if *warm {
            send(&engine, &chat_id, "warm up");
            let warmed = until_turn_ends(&mut events).await;
            assert_eq!(finished(&warmed).0, "completed", "{name}: {warmed:?}");
        }
        send(&engine, &chat_id, prompt);
        let seen = until_turn_ends(&mut events).await;
        let (status, error) = finished(&seen);
        assert_eq!(status, "failed", "{name}: {seen:?}");
        let error = error.unwrap();
        assert!(error.contains(wanted), "{name}: {error}");
        assert!(
            error.contains(&format!("agent '{name}'")),
            "{name}: {error}"
        );
        assert!(!error.contains("hunter2"), "{name}: {error}");
        let messages = rig.store().load_messages(&chat_id).unwrap();
        let reply = messages.iter().rfind(|m| m.role == "assistant").unwrap();
        assert_eq!(reply.status, "failed", "{name}");
        assert_eq!(reply.error.as_deref(), Some(error.as_str()), "{name}");
    }
    // The prompt too long for `run` created nothing; the missing program ran nothing.
    assert_eq!(rig.argvs("run").len(), 5);
    // Nothing else was touched: a working agent still runs in the same engine.
    let chat_id = bound_chat(&engine, "working");
    send(&engine, &chat_id, "fine");
    let fine = until_turn_ends(&mut events).await;
    assert_eq!(finished(&fine).0, "completed", "{fine:?}");
    engine.shutdown();
}

/// `[agents.NAME]` adopting the provider session `session` of Claude.
fn adopting(rig: &Rig, session: &str) -> registry::AgentFile {
    registry::AgentFile {
        provider: Some("claude".into()),
        session: Some(session.into()),
        ..rig.agent(&[("FAKE_PASEO_SESSIONS", "sess-1")], None)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_session_is_imported_by_one_chat_and_then_sent_to() {
    let rig = Rig::new();
    let (engine, mut events) = rig.engine(&[
        ("adopted", adopting(&rig, "sess-1")),
        ("unknown", adopting(&rig, "no-such-session")),
    ]);
    let chat_id = bound_chat(&engine, "adopted");

    // The session is imported, then the turn is sent as any later one; the reply is this
    // turn's, after the session's earlier one.
    send(&engine, &chat_id, "hello");
    let first = until_turn_ends(&mut events).await;
    assert_eq!(finished(&first), ("completed".into(), None), "{first:?}");
    assert_eq!(
        stored_reply(&rig, &chat_id, 1),
        ("complete".into(), settled_reply(1))
    );
    let agent = rig.store().paseo_agent(&chat_id).unwrap().unwrap();
    assert_eq!(agent.provider_session.as_deref(), Some("sess-1"));
    let id = agent.paseo_id.as_str();
    let calls = rig.calls();
    let cwd = calls[0]["argv"][5].as_str().unwrap();
    assert_eq!(Path::new(cwd), Path::new(calls[0]["cwd"].as_str().unwrap()));
    let prompt_file = calls[2]["argv"][3].as_str().unwrap();
    let chat_label = format!("chat={chat_id}");
    assert_eq!(
        calls.iter().map(argv_of).collect::<Vec<_>>(),
        [
            spelled(
                None,
                "import",
                true,
                &[
                    "--provider",
                    "claude",
                    "--cwd",
                    cwd,
                    "--label",
                    "origin=boocode",
                    "--label",
                    &chat_label,
                    "sess-1"
                ]
            ),
            spelled(None, "logs", false, &["--follow", "--tail", "0", id]),
            spelled(None, "send", true, &["--prompt-file", prompt_file, id]),
            spelled(None, "logs", false, &[id]),
            spelled(None, "inspect", true, &[id]),
        ]
    );

    // Another chat may not continue the same session: it is refused, naming the chat that
    // holds it, before anything is imported.
    let other = bound_chat(&engine, "adopted");
    send(&engine, &other, "me too");
    let refused = until_turn_ends(&mut events).await;
    let (status, error) = finished(&refused);
    assert_eq!(status, "failed", "{refused:?}");
    let error = error.unwrap();
    assert!(
        error.starts_with(&format!(
            "agent 'adopted': provider session sess-1 is already continued by chat {chat_id}"
        )) && error.ends_with("; one chat at a time continues a session: go on there, or close that chat (which archives its Paseo agent) first"),
        "{error}"
    );
    assert_eq!(rig.argvs("import").len(), 1);

    // A session Claude does not have imports, and its first turn fails as the daemon says,
    // with what to check.
    let lost = bound_chat(&engine, "unknown");
    send(&engine, &lost, "anyone there");
    let seen = until_turn_ends(&mut events).await;
    let (status, error) = finished(&seen);
    assert_eq!(status, "failed", "{seen:?}");
    assert!(
        error.as_deref().unwrap().ends_with("the Paseo agent ended in error: No conversation found with session ID: no-such-session (the agent was just imported from provider session no-such-session, `session` in [agents.unknown]: is it a session the daemon's claude has?)"),
        "{error:?}"
    );
    assert!(rig.argvs("run").is_empty());
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
             [agents.down]\nprotocol = \"paseo\"\ncommand = \"{}\"\nprovider = \"codex\"\nenv = {{ FAKE_PASEO_LOG = \"{}\", FAKE_PASEO_DAEMON = \"down\" }}\n",
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
fn agent_run_creates_follows_waits_inspects_and_archives_a_paseo_agent() {
    let rig = Rig::new();
    let out = boocode(
        &rig,
        &["agent", "run", "remote", "[[edit:notes.txt]] fix it"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // The agent's final message, not `wait`'s result row.
    assert!(
        stdout.contains("Reply 1:\n\nDone with the change."),
        "{stdout}"
    );
    assert!(!stdout.contains("Agent is idle"), "{stdout}");

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
    let id = agent.paseo_id.as_str();

    let task_prompt = "[[edit:notes.txt]] fix it";
    assert_first_turn_calls(&rig, &chat_id, Some(HOST), task_prompt);
    let calls = rig.calls();
    let archive: Vec<String> = serde_json::from_value(calls[5]["argv"].clone()).unwrap();
    assert_eq!(archive, ["archive", "--json", "--host", HOST, id]);
    assert_eq!(calls.len(), 6);
    let worktree = calls[0]["cwd"].as_str().unwrap().to_string();
    // The agent worked in the task's worktree (the daemon was told so with --cwd), never in
    // the project itself, and had no provider key; its edit waits as a pending change.
    assert_ne!(PathBuf::from(&worktree), rig.root());
    assert!(calls[..5].iter().all(|c| c["cwd"] == worktree.as_str()));
    assert!(
        calls.iter().all(|c| c["deepseek_key"].is_null()),
        "{calls:?}"
    );
    assert!(!rig.root().join("notes.txt").exists());
    let changes = store.list_pending_changes(Some(&chat_id)).unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].content.display_path, "notes.txt");
    assert_eq!(changes[0].source_agent, "remote");

    // `boocode agents` asks each daemon with `paseo ls --json` (the real `ls` has no
    // `--limit`), the host given as the calls give it.
    let listed = boocode(&rig, &["agents", "--json"]);
    assert!(listed.status.success(), "{listed:?}");
    let rows: Vec<Value> = serde_json::from_slice(&listed.stdout).unwrap();
    let remote = rows.iter().find(|r| r["name"] == "remote").unwrap();
    assert_eq!(remote["available"], true, "{remote}");
    let down = rows.iter().find(|r| r["name"] == "down").unwrap();
    assert_eq!(down["available"], false, "{down}");
    assert!(
        down["detail"]
            .as_str()
            .unwrap()
            .contains("Cannot connect to daemon at localhost:6767"),
        "{down}"
    );
    let mut probes = rig.argvs("ls");
    probes.sort();
    assert_eq!(
        probes,
        [vec!["ls", "--json"], vec!["ls", "--json", "--host", HOST]]
    );

    // A daemon that is not running: the task fails with paseo's own words.
    let down = boocode(&rig, &["agent", "run", "down", "anything"]);
    let stderr = String::from_utf8_lossy(&down.stderr);
    assert_eq!(down.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("Start the daemon with: paseo daemon start"),
        "{stderr}"
    );
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
        .contains("`paseo run` failed"));

    // Paseo chooses the model and mode: asking for one fails rather than being ignored.
    let runs = rig.argvs("run").len();
    let moded = boocode(&rig, &["agent", "run", "remote", "--mode", "plan", "x"]);
    let stderr = String::from_utf8_lossy(&moded.stderr);
    assert_eq!(moded.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("its model and mode are chosen in Paseo"),
        "{stderr}"
    );
    assert_eq!(rig.argvs("run").len(), runs);
}
