//! MCP servers end to end: the scripted model calls tools of `examples/mcp_server.rs`
//! (started by boocode over stdio), through the engine and through the `boocode` binary.

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use boocode::core::agent::tools::ApprovalMode;
use boocode::core::engine::{Engine, EngineOptions};
use boocode::core::events::{Command as EngineCommand, Event};
use boocode::core::mcp::ServerStatus;
use boocode::core::store::TraceRow;
use serde_json::Value;

use support::harness::{config_for, write, Harness, FAST_RETRIES};
use support::mock_server::{CallSpec, MockServer, Reply, Step};

/// The test server binary; `cargo test` builds examples, and a run of this file alone builds
/// it here.
fn mcp_server() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().unwrap().parent().unwrap();
        let path = profile_dir.join("examples/mcp_server");
        if !path.exists() {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let status = Command::new(cargo)
                .args(["build", "--example", "mcp_server"])
                .status()
                .unwrap();
            assert!(status.success(), "building examples/mcp_server failed");
        }
        path
    })
}

/// `.mcp.json` naming the test server `test`, with extra arguments.
fn mcp_json(args: &[&str]) -> String {
    serde_json::json!({"mcpServers": {"test": {
        "command": mcp_server(), "args": args
    }}})
    .to_string()
}

/// `[mcp_servers.test]` for the project's config.toml, with extra keys.
fn config_server(extra: &str) -> String {
    format!(
        "{FAST_RETRIES}[mcp_servers.test]\ncommand = {:?}\n{extra}",
        mcp_server().to_string_lossy()
    )
}

fn call(name: &str, args: &str, id: &str) -> Step {
    Reply::tool_calls(vec![CallSpec::new(name, args).id(id)]).into()
}

fn traces(h: &Harness) -> Vec<TraceRow> {
    h.store().list_traces(&h.chat.id, None, 100).unwrap()
}

fn notices(h: &mut Harness) -> Vec<String> {
    h.drain_events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Notice { message } => Some(message),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn project_servers_run_only_once_a_person_approved_them() {
    let echo = r#"{"text":"hi"}"#;
    let script = vec![
        call("mcp__test__echo", echo, "c1"),
        Reply::text("not there").into(),
        call("mcp__test__echo", echo, "c2"),
        Reply::text("done").into(),
    ];
    let json = mcp_json(&[]);
    let mut h = Harness::with_setup(script, ApprovalMode::Auto, FAST_RETRIES, |project, _| {
        write(project, ".mcp.json", &json)
    })
    .await;
    let notices = notices(&mut h);
    assert!(
        notices
            .iter()
            .any(|n| n.contains("test") && n.contains("boocode mcp approve test")),
        "{notices:?}"
    );
    h.turn("first").await;
    let first = traces(&h);
    assert_eq!(first[0].outcome.as_deref(), Some("error"));
    assert!(
        first[0].error.as_deref().unwrap().contains("unknown tool"),
        "{first:?}"
    );
    // Unapproved: never offered to the model.
    let tools = h.server.requests()[0]["tools"].to_string();
    assert!(!tools.contains("mcp__test__echo"), "{tools}");

    assert_eq!(
        h.engine.mcp.decide(Some("test"), true).unwrap(),
        vec!["test"]
    );
    h.turn("second").await;
    let second = traces(&h);
    assert_eq!(second[1].tool_name, "mcp__test__echo");
    assert_eq!(second[1].outcome.as_deref(), Some("success"), "{second:?}");
    assert_eq!(second[1].tool_output.as_deref(), Some("echo: hi"));
    assert!(second[1].latency_ms.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_hangs_and_bad_schemas_are_clear_and_the_server_comes_back() {
    let script = vec![
        call("mcp__test__fail", "{}", "c1"),
        call("mcp__test__hang", "{}", "c2"),
        call("mcp__test__echo", r#"{"text":"back"}"#, "c3"),
        Reply::text("done").into(),
    ];
    let mut h = Harness::with_config(
        script,
        ApprovalMode::Auto,
        &config_server("tool_timeout_secs = 1\n"),
    )
    .await;
    h.engine.mcp.decide(Some("test"), true).unwrap();
    h.turn("go").await;
    let rows = traces(&h);
    let error = |i: usize| rows[i].error.clone().unwrap_or_default();
    assert_eq!(rows[0].outcome.as_deref(), Some("error"));
    assert!(
        error(0).contains("reported an error: the fail tool failed"),
        "{}",
        error(0)
    );
    assert_eq!(rows[1].outcome.as_deref(), Some("error"));
    assert!(
        error(1).contains("did not answer within 1 s"),
        "{}",
        error(1)
    );
    assert!(error(1).contains("restarted on next use"), "{}", error(1));
    assert_eq!(rows[2].outcome.as_deref(), Some("success"), "{rows:?}");
    assert_eq!(rows[2].tool_output.as_deref(), Some("echo: back"));

    // The tool with a schema no provider accepts is left out; the others are offered.
    let tools = h.server.requests()[0]["tools"].to_string();
    assert!(tools.contains("mcp__test__echo"), "{tools}");
    assert!(!tools.contains("bad_schema"), "{tools}");
    let report = &h.engine.mcp.reports()[0];
    assert!(report.skipped_tools[0].contains("bad_schema"), "{report:?}");
    let notices = notices(&mut h);
    assert!(
        notices.iter().any(|n| n.contains("bad_schema")),
        "{notices:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_crashes_mid_call_is_restarted_on_next_use() {
    let echo = |id: &str| call("mcp__test__echo", &format!(r#"{{"text":"{id}"}}"#), id);
    let script = vec![
        echo("c1"),
        echo("c2"),
        echo("c3"),
        Reply::text("done").into(),
    ];
    let h = Harness::with_config(
        script,
        ApprovalMode::Auto,
        &config_server("args = [\"--crash-after\", \"1\"]\ntool_timeout_secs = 5\n"),
    )
    .await;
    h.engine.mcp.decide(Some("test"), true).unwrap();
    h.turn("go").await;
    let rows = traces(&h);
    assert_eq!(rows[0].tool_output.as_deref(), Some("echo: c1"));
    assert_eq!(rows[1].outcome.as_deref(), Some("error"));
    let error = rows[1].error.clone().unwrap();
    assert!(error.contains("failed during the call"), "{error}");
    assert!(error.contains("restarted on next use"), "{error}");
    assert_eq!(rows[2].outcome.as_deref(), Some("success"), "{rows:?}");
    assert_eq!(rows[2].tool_output.as_deref(), Some("echo: c3"));
    assert_eq!(h.engine.mcp.reports()[0].status, ServerStatus::Running);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_mode_refuses_mcp_tools_of_untrusted_servers() {
    let script = vec![
        call("mcp__test__echo", r#"{"text":"x"}"#, "c1"),
        Reply::text("done").into(),
    ];
    let h = Harness::with_config(script, ApprovalMode::ReadOnly, &config_server("")).await;
    h.engine.mcp.decide(Some("test"), true).unwrap();
    h.turn("go").await;
    let rows = traces(&h);
    assert_eq!(rows[0].outcome.as_deref(), Some("denied"), "{rows:?}");
    assert!(
        rows[0]
            .error
            .as_deref()
            .unwrap()
            .contains("read_only_trusted"),
        "{rows:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_mode_asks_before_each_call_and_no_answer_is_no() {
    let script = vec![
        call("mcp__test__echo", r#"{"text":"x"}"#, "c1"),
        Reply::text("done").into(),
    ];
    // The harness's engine has no person to answer, like `exec`: the question is answered no.
    let h = Harness::with_config(script, ApprovalMode::Review, &config_server("")).await;
    h.engine.mcp.decide(Some("test"), true).unwrap();
    h.turn("go").await;
    let rows = traces(&h);
    assert_eq!(rows[0].outcome.as_deref(), Some("denied"), "{rows:?}");
    assert!(
        rows[0].error.as_deref().unwrap().contains("did not allow"),
        "{rows:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workspace_asks_on_the_chats_decision_line_and_starts_what_was_approved() {
    let project = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    write(project.path(), ".mcp.json", &mcp_json(&[]));
    let model = MockServer::start(Vec::<Step>::new()).await;
    let config = config_for(
        project.path(),
        home.path(),
        &model.base_url(),
        ApprovalMode::Auto,
    );
    let (engine, mut events, _) = Engine::start(EngineOptions {
        config,
        project_root: project.path().to_path_buf(),
        interactive: true,
    })
    .unwrap();
    let chat = engine
        .main_chat(&engine.open_session(None, false).unwrap())
        .unwrap();
    engine.ask_mcp_approval(&chat.id);
    let request_id = loop {
        let event = tokio::time::timeout(std::time::Duration::from_secs(10), events.recv())
            .await
            .expect("a question within 10 s")
            .unwrap();
        if let Event::CommandConfirmationRequested {
            request_id,
            command,
            chat_id,
        } = event
        {
            assert_eq!(chat_id, chat.id);
            assert!(command.contains("MCP servers test"), "{command}");
            break request_id;
        }
    };
    assert_eq!(engine.mcp.reports()[0].status, ServerStatus::NeedsApproval);
    engine.submit(EngineCommand::ConfirmCommand {
        request_id,
        allow: true,
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while engine.mcp.reports()[0].status != ServerStatus::Running {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            engine.mcp.reports()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(engine.mcp.reports()[0].tools.len(), 3);
}

/// The binary with a clean environment in a throw-away project and home.
fn boocode(
    project: &std::path::Path,
    home: &std::path::Path,
    args: &[&str],
) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_boocode"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("BOOCODE_HOME", home.join("data"))
        .current_dir(project)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn mcp_list_approve_and_exec_through_the_binary() {
    let project = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join(".mcp.json"), mcp_json(&[])).unwrap();
    let (p, h) = (project.path(), home.path());

    let (code, stdout, stderr) = boocode(p, h, &["mcp", "list", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let listed: Value = serde_json::from_str(&stdout).unwrap();
    let server = &listed["servers"][0];
    assert_eq!(server["name"], "test");
    assert_eq!(server["state"], "needs_approval");
    assert!(server["source"].as_str().unwrap().contains(".mcp.json"));

    let (code, stdout, stderr) = boocode(p, h, &["mcp", "approve", "--all"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("approved MCP server 'test'"), "{stdout}");

    let (code, stdout, stderr) = boocode(p, h, &["mcp", "list", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let listed: Value = serde_json::from_str(&stdout).unwrap();
    let server = &listed["servers"][0];
    assert_eq!(server["state"], "running", "{stdout}");
    let names: Vec<&str> = server["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["mcp__test__echo", "mcp__test__fail", "mcp__test__hang"]
    );
    assert!(server["skipped_tools"][0]
        .as_str()
        .unwrap()
        .contains("bad_schema"));

    // A changed definition is asked about again.
    std::fs::write(p.join(".mcp.json"), mcp_json(&["--crash-after", "5"])).unwrap();
    let (_, stdout, _) = boocode(p, h, &["mcp", "list", "--json"]);
    let listed: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(listed["servers"][0]["state"], "needs_approval", "{stdout}");
    boocode(p, h, &["mcp", "approve", "test"]);

    let model = MockServer::start_blocking(vec![
        call("mcp__test__echo", r#"{"text":"from exec"}"#, "c1"),
        Reply::text("the server said: echo: from exec").into(),
    ]);
    let (code, stdout, stderr) = boocode(
        p,
        h,
        &[
            "--base-url",
            &model.base_url(),
            "--approval",
            "auto",
            "exec",
            "call the echo tool",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "the server said: echo: from exec\n");
    assert!(stderr.contains("mcp__test__echo"), "{stderr}");
    let request = &model.requests()[1];
    assert!(
        request.to_string().contains("echo: from exec"),
        "the tool result reaches the model: {request}"
    );
}
