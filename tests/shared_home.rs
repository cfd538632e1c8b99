//! The data home: private file modes, and several boocode processes on one home, as a user runs them: `exec`s and a
//! `workflow run` at the same time, started together on a fresh home. The processes are this
//! test binary started again in a child role; each drives a real engine (the one `exec` and
//! `workflow run` drive) against one scripted model server, so a round costs a turn, not a
//! process start. Workflow scripts run in the fake worker
//! (`tests/fixtures/fake_workflow_worker.py`): every store write of a run is the parent's, and
//! the fake starts in a fraction of the time an unoptimised Boa worker takes.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use boocode::core::agent::tools::ApprovalMode;
use boocode::core::agent::{TurnRequest, TurnStatus};
use boocode::core::engine::{Engine, EngineOptions};
use boocode::core::store::{PartKind, Store};
use boocode::core::workflow::{RunOptions, WorkerCommand};
use serde_json::{json, Value};

use support::harness::{config_for, write, FAST_RETRIES};
use support::mock_server::{CallSpec, Match, MockServer, Reply};

/// Set in a child process: which lane it drives (`exec a`, `exec b`, `workflow`).
const ROLE: &str = "BOOCODE_TEST_SHARED_HOME_ROLE";
const PROJECT: &str = "BOOCODE_TEST_SHARED_HOME_PROJECT";
const HOME: &str = "BOOCODE_TEST_SHARED_HOME_HOME";
const MODEL_URL: &str = "BOOCODE_TEST_SHARED_HOME_URL";
/// Printed by a child for each round that did not end as it should.
const FAILED: &str = "ROUND FAILED";
const ROUNDS: usize = 50;
/// The workflow lane's rounds are its `agent()` calls (each a sub-agent turn with the run's
/// bookkeeping around it), ten to a run, so it starts five script workers instead of fifty.
const CALLS_PER_RUN: usize = 10;
const LANES: [&str; 3] = ["exec a", "exec b", "workflow"];

#[test]
fn two_execs_and_a_workflow_run_on_one_fresh_home_lose_nothing() {
    if let Ok(role) = std::env::var(ROLE) {
        return child(&role);
    }
    let project = tempfile::tempdir().unwrap();
    write(project.path(), "README.md", "# Demo\n");
    write(project.path(), ".boocode/config.toml", FAST_RETRIES);
    write(
        project.path(),
        ".boocode/workflows/calls.js",
        &format!(
            "export const meta = {{ name: 'calls', description: 'agents one by one' }};\n/*FAKE {} */\n",
            json!((0..CALLS_PER_RUN)
                .map(|i| json!({"agent": {"prompt": format!("workflow call {i}")}}))
                .collect::<Vec<_>>())
        ),
    );
    let home = tempfile::tempdir().unwrap();
    let server = MockServer::start_blocking(vec![
        Reply::text("read it")
            .when(Match::last_role("tool"))
            .repeat(),
        Reply::tool_calls(vec![CallSpec::new("read_file", r#"{"path":"README.md"}"#)])
            .when(Match::last_user_contains("exec "))
            .repeat(),
        Reply::text("agent answer").repeat(),
    ]);
    let children: Vec<_> = LANES
        .iter()
        .map(|lane| {
            let child = Command::new(std::env::current_exe().unwrap())
                .args([
                    "two_execs_and_a_workflow_run_on_one_fresh_home_lose_nothing",
                    "--exact",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(ROLE, lane)
                .env(PROJECT, project.path())
                .env(HOME, home.path())
                .env(MODEL_URL, server.base_url())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            (lane, child)
        })
        .collect();
    let mut failures = Vec::new();
    for (lane, child) in children {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        // The test harness prints its own words before the first line of output.
        failures.extend(
            stdout
                .lines()
                .filter_map(|l| l.find(FAILED).map(|at| l[at..].to_string())),
        );
        if !out.status.success() {
            failures.push(format!(
                "{lane}: exited with {}: {stdout}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures in {} rounds:\n{}",
        failures.len(),
        LANES.len() * ROUNDS,
        failures.join("\n")
    );

    // Every prompt was stored, and every turn and run finished.
    let store = Store::open(&home.path().join("boocode.db")).unwrap();
    let mut prompts = Vec::new();
    for session in store.list_sessions(None).unwrap() {
        for chat in session.chats {
            assert_eq!(chat.chat.status, "idle", "{chat:?}");
            let messages = store.load_messages(&chat.chat.id).unwrap();
            assert!(
                messages.iter().all(|m| m.status == "complete"),
                "{messages:#?}"
            );
            if chat.chat.kind == "main" {
                prompts.push(messages[0].joined(PartKind::Text));
                assert_eq!(messages.last().unwrap().joined(PartKind::Text), "read it");
            }
        }
    }
    prompts.sort();
    let mut expected: Vec<String> = ["exec a", "exec b"]
        .iter()
        .flat_map(|lane| (0..ROUNDS).map(move |round| format!("{lane} {round}")))
        .collect();
    expected.sort();
    assert_eq!(prompts, expected);
    let runs = store.list_workflow_runs(None).unwrap();
    assert_eq!(runs.len(), ROUNDS / CALLS_PER_RUN);
    assert!(runs.iter().all(|r| r.status == "completed"), "{runs:#?}");
    let calls: Vec<_> = runs
        .iter()
        .flat_map(|r| store.list_workflow_agents(&r.id).unwrap())
        .collect();
    assert_eq!(calls.len(), ROUNDS);
    assert!(
        calls.iter().all(|c| c.status == "completed" && !c.cached),
        "{calls:#?}"
    );
}

/// One lane: an engine started on the shared home, then `ROUNDS` turns or workflow runs.
fn child(lane: &str) {
    let var = |name| PathBuf::from(std::env::var_os(name).unwrap());
    let (project, home) = (var(PROJECT), var(HOME));
    let url = std::env::var(MODEL_URL).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let started = Engine::start(EngineOptions {
            config: config_for(&project, &home, &url, ApprovalMode::ReadOnly),
            project_root: project.clone(),
            interactive: false,
        });
        let (engine, mut events, _) = match started {
            Ok(started) => started,
            Err(e) => return println!("{FAILED}: {lane} could not start: {e:#}"),
        };
        tokio::spawn(async move { while events.recv().await.is_some() {} });
        engine.set_workflow_worker(WorkerCommand::new(
            "python3",
            &[concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/fake_workflow_worker.py"
            )],
        ));
        let rounds = if lane == "workflow" {
            ROUNDS / CALLS_PER_RUN
        } else {
            ROUNDS
        };
        for round in 0..rounds {
            if let Err(e) = one_round(&engine, lane, round, &project).await {
                println!("{FAILED}: {lane} round {round}: {e}");
            }
        }
        engine.shutdown();
    });
}

async fn one_round(
    engine: &Engine,
    lane: &str,
    round: usize,
    project: &Path,
) -> Result<(), String> {
    if lane == "workflow" {
        let outcome = engine
            .run_workflow(
                "calls",
                // Every round asks the model again instead of reusing the last round's answer.
                RunOptions {
                    args: json!({ "round": round }),
                    fresh: true,
                    ..RunOptions::default()
                },
            )
            .await
            .map_err(|e| format!("{e:#}"))?;
        return match outcome.status.as_str() {
            "completed" => Ok(()),
            _ => Err(format!("{outcome:?}")),
        };
    }
    // What `exec` does: a new session in the project, its main chat, one turn.
    let chat = engine
        .open_session(None, false)
        .and_then(|session| engine.main_chat(&session))
        .map_err(|e| format!("{e:#} (project {})", project.display()))?;
    let outcome = engine
        .run_turn(TurnRequest::new(
            &chat.id,
            &format!("{lane} {round}"),
            ApprovalMode::ReadOnly,
        ))
        .await;
    match outcome.status {
        TurnStatus::Completed => Ok(()),
        _ => Err(format!("{:?}: {:?}", outcome.status, outcome.error)),
    }
}

/// The real binary with a clean environment, pointed at `server` and at the fake script
/// worker.
fn boocode(
    server: &MockServer,
    project: &Path,
    home: &Path,
    user_home: &Path,
    args: &[&str],
) -> Command {
    let worker = format!(
        "python3 {}/tests/fixtures/fake_workflow_worker.py",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_boocode"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", user_home)
        .env("XDG_CONFIG_HOME", user_home.join(".config"))
        .env("BOOCODE_HOME", home)
        .env("BOOCODE_WORKFLOW_WORKER", worker)
        .current_dir(project)
        .stdin(Stdio::null())
        .args([
            "--base-url",
            &server.base_url(),
            "--api-key",
            "sk-shared-home",
        ])
        .args(args);
    cmd
}

/// Runs `exec` under umask 000 until its model request is waiting (the database, its WAL and
/// shared memory, the lock, the log and the owner lease all exist), checks every mode in the
/// data home, and kills it (leaving what a crash leaves).
fn check_modes_of_a_running_exec(
    server: &MockServer,
    project: &Path,
    home: &Path,
    user_home: &Path,
) {
    use std::os::unix::process::CommandExt;
    let requests_before = server.request_count();
    let mut cmd = boocode(
        server,
        project,
        home,
        user_home,
        &["exec", "wait for the model"],
    );
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    // SAFETY: umask is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::umask(0);
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    assert!(
        server.wait_for_requests_blocking(requests_before + 1, std::time::Duration::from_secs(20)),
        "exec never called the model"
    );
    let mut wrong = Vec::new();
    let mut seen = Vec::new();
    let mut walk = vec![home.to_path_buf()];
    while let Some(dir) = walk.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let (mode, want) = (
                meta.permissions().mode() & 0o777,
                if meta.is_dir() { 0o700 } else { 0o600 },
            );
            if meta.is_dir() {
                walk.push(path.clone());
            }
            if mode != want {
                wrong.push(format!("{} is {mode:o}, not {want:o}", path.display()));
            }
            seen.push(
                path.strip_prefix(home)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let home_mode = std::fs::metadata(home).unwrap().permissions().mode() & 0o777;
    if home_mode != 0o700 {
        wrong.push(format!("the data home is {home_mode:o}, not 700"));
    }
    for expected in [
        "boocode.db",
        "boocode.db-wal",
        "boocode.db-shm",
        "boocode.lock",
        "logs/boocode.log",
        "owners",
    ] {
        assert!(
            seen.iter().any(|s| s == expected),
            "no {expected} in {seen:?}"
        );
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn the_data_home_is_private_whatever_the_umask_and_repaired_at_open() {
    let project = tempfile::tempdir().unwrap();
    let user_home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let server =
        MockServer::start_blocking(vec![Reply::stall(60_000, Reply::text("late")).repeat()]);
    // A fresh data home.
    check_modes_of_a_running_exec(&server, project.path(), &home, user_home.path());

    // One an older boocode (or a copy) left readable by others, with a crash's WAL and SHM.
    let widen = |rel: &str, mode: u32| {
        let path = home.join(rel);
        if !path.exists() {
            std::fs::write(&path, "").unwrap();
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    for (rel, mode) in [
        ("", 0o777),
        ("logs", 0o777),
        ("owners", 0o777),
        ("logs/boocode.log", 0o644),
        ("boocode.lock", 0o666),
        ("boocode.db", 0o644),
        ("boocode.db-wal", 0o644),
        ("boocode.db-shm", 0o644),
    ] {
        widen(rel, mode);
    }
    check_modes_of_a_running_exec(&server, project.path(), &home, user_home.path());
}

#[test]
fn work_of_killed_processes_lists_as_interrupted_without_a_writer() {
    let project = tempfile::tempdir().unwrap();
    let (home, user_home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write(project.path(), ".boocode/config.toml", FAST_RETRIES);
    write(
        project.path(),
        ".boocode/workflows/stuck.js",
        "export const meta = { name: 'stuck', description: 'waits' };\n\
         /*FAKE [{\"agent\": {\"prompt\": \"wait for the model\"}}] */\n",
    );
    let slow = r#"{"command":"sh","args":["-c","sleep 3"]}"#;
    let server = MockServer::start_blocking(vec![
        Reply::tool_calls(vec![CallSpec::new("run_command", slow)])
            .when(Match::last_user_contains("run the slow thing")),
        Reply::stall(60_000, Reply::text("late")).repeat(),
    ]);
    let cmd = |args: &[&str]| boocode(&server, project.path(), home.path(), user_home.path(), args);
    let mut exec = cmd(&["exec", "--approval", "auto", "run the slow thing"]);
    let mut workflow = cmd(&["workflow", "run", "stuck"]);
    let mut children = [&mut exec, &mut workflow].map(|c| {
        c.stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    });
    // Both are mid-work: the command runs, the workflow's agent waits for the model.
    let store = Store::open(&home.path().join("boocode.db")).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let chat_id = loop {
        let sessions = store.list_sessions(None).unwrap_or_default();
        assert!(
            std::time::Instant::now() < deadline,
            "the work never started: {} requests, {sessions:#?}, {:#?}",
            server.request_count(),
            store.list_workflow_runs(None)
        );
        let open_trace = sessions.iter().flat_map(|s| &s.chats).find_map(|c| {
            let traces = store.list_traces(&c.chat.id, None, 10).ok()?;
            traces
                .iter()
                .any(|t| t.finished_at.is_none())
                .then(|| c.chat.id.clone())
        });
        let run_going = store
            .list_workflow_runs(None)
            .is_ok_and(|runs| runs.iter().any(|r| r.status == "running"));
        match open_trace {
            Some(chat_id) if run_going && server.request_count() >= 2 => break chat_id,
            _ => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
    };
    let listed = |args: &[&str]| -> Value {
        let out = cmd(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let statuses = || {
        let sessions = listed(&["sessions", "--json"]);
        let mut chats: Vec<String> = sessions
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["chats"].as_array().unwrap().clone())
            .map(|c| c["chat"]["status"].as_str().unwrap().to_string())
            .collect();
        chats.sort();
        let runs = listed(&["workflow", "runs", "--json"]);
        let traces = listed(&["traces", "--chat", &chat_id, "--json"]);
        (
            chats,
            runs[0]["status"].clone(),
            traces["traces"][0]["outcome"].clone(),
        )
    };
    // The main chat of `exec`, the run's chat for its agent (whatever kinds exist, all live).
    let (chats, run, trace) = statuses();
    assert!(chats.iter().all(|c| c == "running"), "{chats:?}");
    assert_eq!((run, trace), (json!("running"), Value::Null));

    for child in &mut children {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let (chats, run, trace) = statuses();
    assert!(
        !chats.is_empty() && chats.iter().all(|c| c == "interrupted"),
        "{chats:?}"
    );
    assert_eq!((run, trace), (json!("interrupted"), json!("interrupted")));
}
