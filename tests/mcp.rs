//! MCP servers end to end: the scripted model calls tools of `examples/mcp_server.rs`
//! (started by boocode over stdio), through the engine and through the `boocode` binary.

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use boocode::core::agent::tools::ApprovalMode;
use boocode::core::engine::{Engine, EngineOptions};
use boocode::core::events::{Command as EngineCommand, Event};
use boocode::core::hooks::ProjectApproval;
use boocode::core::mcp::ServerStatus;
use boocode::core::store::TraceRow;
use boocode::core::trust::ProjectTrust;
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
async fn the_workspace_asks_once_about_project_hooks_and_servers_and_starts_what_was_approved() {
    let project = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    write(project.path(), ".mcp.json", &mcp_json(&[]));
    write(
        project.path(),
        ".claude/settings.json",
        r#"{"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "true"}]}]}}"#,
    );
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
    engine.ask_project_approval(&chat.id);
    let mut before = Vec::new();
    let request_id = loop {
        let event = tokio::time::timeout(std::time::Duration::from_secs(10), events.recv())
            .await
            .expect("a question within 10 s")
            .unwrap();
        if let Event::ProjectApprovalRequested {
            request_id,
            question,
            chat_id,
        } = event
        {
            assert_eq!(chat_id, chat.id);
            assert_eq!(
                question,
                "the hook and the MCP server test this project defines"
            );
            break request_id;
        }
        before.push(event);
    };
    // Said once: the decision line, not also a notice.
    assert!(
        !before
            .iter()
            .any(|e| matches!(e, Event::Notice { message } if message.contains("approve"))),
        "{before:?}"
    );
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
    assert_eq!(engine.mcp.reports()[0].tools.len(), 4);
    assert_eq!(
        engine
            .rt
            .hooks
            .project_approval(&ProjectTrust::new(engine.store().clone())),
        ProjectApproval::Approved
    );
}

/// The binary with a clean environment in a throw-away project and home.
fn boocode(
    project: &std::path::Path,
    home: &std::path::Path,
    args: &[&str],
) -> (i32, String, String) {
    boocode_with_env(project, home, &[], args)
}

/// [`boocode`] with these variables added to its environment.
fn boocode_with_env(
    project: &std::path::Path,
    home: &std::path::Path,
    env: &[(&str, &str)],
    args: &[&str],
) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_boocode"))
        .env_clear()
        .envs(env.iter().copied())
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
        vec![
            "mcp__test__echo",
            "mcp__test__fail",
            "mcp__test__hang",
            "mcp__test__header"
        ]
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

/// `examples/mcp_server.rs` serving streamable HTTP; killed when dropped.
struct HttpServer {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT/mcp`.
    url: String,
}

impl HttpServer {
    fn start(args: &[&str]) -> HttpServer {
        use std::io::BufRead;
        let mut child = Command::new(mcp_server())
            .args(args)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("http://127.0.0.1:"), "{line:?}");
        HttpServer {
            child,
            url: line.trim().to_string(),
        }
    }

    fn port(&self) -> String {
        self.url
            .trim_end_matches("/mcp")
            .rsplit(':')
            .next()
            .unwrap()
            .to_string()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `[mcp_servers.NAME]` for a streamable HTTP server, with extra keys.
fn http_server_config(name: &str, url: &str, extra: &str) -> String {
    format!("[mcp_servers.{name}]\nurl = {url:?}\n{extra}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_server_lists_and_runs_tools_and_receives_its_headers() {
    let server = HttpServer::start(&["--http", "0", "--require-header", "X-Api-Key: k3y"]);
    let script = vec![
        call("mcp__web__echo", r#"{"text":"over http"}"#, "c1"),
        call("mcp__web__header", r#"{"name":"x-client"}"#, "c2"),
        Reply::text("done").into(),
    ];
    // Claude Code's `.mcp.json` shape: a project server, so it waits for a person's approval.
    let json = serde_json::json!({"mcpServers": {"web": {
        "type": "http",
        "url": server.url,
        "headers": {"X-Api-Key": "k3y", "X-Client": "boocode-test"}
    }}})
    .to_string();
    let h = Harness::with_setup(script, ApprovalMode::Auto, FAST_RETRIES, |project, _| {
        write(project, ".mcp.json", &json)
    })
    .await;
    assert_eq!(h.engine.mcp.waiting_for_approval(), vec!["web"]);
    h.engine.mcp.decide(Some("web"), true).unwrap();
    h.turn("go").await;
    let rows = traces(&h);
    assert_eq!(rows[0].outcome.as_deref(), Some("success"), "{rows:?}");
    assert_eq!(rows[0].tool_output.as_deref(), Some("echo: over http"));
    assert_eq!(rows[1].tool_output.as_deref(), Some("boocode-test"));
    let report = &h.engine.mcp.reports()[0];
    assert_eq!(report.transport, "http");
    assert_eq!(report.status, ServerStatus::Running);
    assert_eq!(report.tools.len(), 4, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_refusing_and_garbled_http_servers_fail_clearly_and_the_rest_works() {
    let good = HttpServer::start(&["--http", "0"]);
    let locked = HttpServer::start(&["--http", "0", "--require-header", "X-Api-Key: k3y"]);
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let garbled = good.url.replace("/mcp", "/bad-json");
    let config = [
        FAST_RETRIES.to_string(),
        http_server_config("good", &good.url, ""),
        http_server_config(
            "down",
            &format!("http://127.0.0.1:{closed_port}/mcp"),
            "startup_timeout_secs = 5\n",
        ),
        http_server_config(
            "locked",
            &locked.url,
            "headers = { X-Api-Key = \"wrong\" }\n",
        ),
        http_server_config("garbled", &garbled, ""),
    ]
    .concat();
    let script = vec![
        call("mcp__down__echo", r#"{"text":"x"}"#, "c1"),
        call("mcp__good__echo", r#"{"text":"still here"}"#, "c2"),
        Reply::text("done").into(),
    ];
    let h = Harness::with_config(script, ApprovalMode::Auto, &config).await;
    h.engine.mcp.decide(None, true).unwrap();
    h.turn("go").await;
    let rows = traces(&h);
    assert_eq!(rows[0].outcome.as_deref(), Some("error"), "{rows:?}");
    assert_eq!(rows[1].tool_output.as_deref(), Some("echo: still here"));
    let reason = |name: &str| match &h.engine.mcp.slot(name).unwrap().status() {
        ServerStatus::Failed { reason } => reason.clone(),
        other => panic!("{name} is {other:?}"),
    };
    assert!(
        reason("down").contains("Connection refused"),
        "{}",
        reason("down")
    );
    assert!(!reason("down").contains("rmcp::"), "{}", reason("down"));
    assert!(
        reason("locked").contains("HTTP 401"),
        "{}",
        reason("locked")
    );
    assert!(
        reason("locked").contains("credentials"),
        "{}",
        reason("locked")
    );
    assert!(
        reason("garbled").contains("not JSON-RPC"),
        "{}",
        reason("garbled")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_server_gone_mid_call_fails_the_call_and_is_reconnected_on_next_use() {
    let first = HttpServer::start(&["--http", "0", "--crash-after", "1"]);
    let port = first.port();
    let echo = |id: &str| call("mcp__web__echo", &format!(r#"{{"text":"{id}"}}"#), id);
    let script = vec![
        echo("c1"),
        echo("c2"),
        Reply::text("the server went away").into(),
        echo("c3"),
        Reply::text("done").into(),
    ];
    let config = format!(
        "{FAST_RETRIES}{}",
        http_server_config("web", &first.url, "tool_timeout_secs = 10\n")
    );
    let h = Harness::with_config(script, ApprovalMode::Auto, &config).await;
    h.engine.mcp.decide(Some("web"), true).unwrap();
    h.turn("go").await;
    let rows = traces(&h);
    assert_eq!(rows[0].tool_output.as_deref(), Some("echo: c1"));
    assert_eq!(rows[1].outcome.as_deref(), Some("error"), "{rows:?}");
    let error = rows[1].error.clone().unwrap();
    assert!(error.contains("failed during the call"), "{error}");
    assert!(error.contains("restarted on next use"), "{error}");
    assert!(!error.contains("rmcp::"), "{error}");
    drop(first);

    // The server comes back on the same address: the next call reconnects.
    let _second = HttpServer::start(&["--http", &port]);
    h.turn("again").await;
    let rows = traces(&h);
    assert_eq!(rows[2].outcome.as_deref(), Some("success"), "{rows:?}");
    assert_eq!(rows[2].tool_output.as_deref(), Some("echo: c3"));
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &std::path::Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if std::fs::read(&path)
            .unwrap_or_default()
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
        {
            found.push(path);
        }
    }
    found
}

#[test]
fn mcp_list_shows_an_http_servers_header_names_and_its_secret_goes_nowhere() {
    let secret = "tok-s3cret-4711";
    let server = HttpServer::start(&[
        "--http",
        "0",
        "--require-header",
        &format!("Authorization: Bearer {secret}"),
    ]);
    let project = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    write(
        home.path(),
        ".config/boocode/config.toml",
        &http_server_config(
            "web",
            &server.url,
            "headers = { Authorization = \"Bearer ${MCP_TEST_TOKEN}\", X-Client = \"boocode\" }\n",
        ),
    );
    let (p, h) = (project.path(), home.path());
    let env = [("MCP_TEST_TOKEN", secret)];

    let (code, stdout, stderr) = boocode_with_env(p, h, &env, &["mcp", "list"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("web  http  user config  running"),
        "{stdout}"
    );
    assert!(
        stdout.contains("headers Authorization, X-Client (values not shown)"),
        "{stdout}"
    );
    assert!(stdout.contains("mcp__web__echo"), "{stdout}");
    let (code, json, stderr_json) = boocode_with_env(p, h, &env, &["mcp", "list", "--json"]);
    assert_eq!(code, 0, "{stderr_json}");
    let listed: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        listed["servers"][0]["headers"],
        serde_json::json!(["Authorization", "X-Client"])
    );
    assert_eq!(listed["servers"][0]["url"], server.url.as_str());

    for text in [&stdout, &stderr, &json, &stderr_json] {
        assert!(!text.contains(secret), "{text}");
    }
    assert_eq!(files_containing(h, secret), Vec::<PathBuf>::new());

    // Without the variable the server is not contacted with half a credential.
    let (code, stdout, _) = boocode(p, h, &["mcp", "list"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("header Authorization: ${MCP_TEST_TOKEN} is not set"),
        "{stdout}"
    );
}
