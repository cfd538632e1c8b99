//! `boocode workflow …` through the real binary, with the fake script worker.

mod support;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use support::harness::{write, FAST_RETRIES};
use support::mock_server::{MockServer, Reply};

struct Project {
    dir: tempfile::TempDir,
    home: tempfile::TempDir,
    user_home: tempfile::TempDir,
    server: MockServer,
}

impl Project {
    fn new() -> Project {
        Project::with_reply(Reply::text("the answer"))
    }

    /// A project whose model answers every request with `reply`.
    fn with_reply(reply: Reply) -> Project {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), ".boocode/config.toml", FAST_RETRIES);
        Project {
            dir,
            home: tempfile::tempdir().unwrap(),
            user_home: tempfile::tempdir().unwrap(),
            server: MockServer::start_blocking(vec![reply.repeat()]),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// `boocode ARGS` with stdout and stderr piped, not waited for.
    fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn command(&self, args: &[&str]) -> Command {
        let worker = format!(
            "python3 {}/tests/fixtures/fake_workflow_worker.py",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut command = Command::new(env!("CARGO_BIN_EXE_boocode"));
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.user_home.path())
            .env("XDG_CONFIG_HOME", self.user_home.path().join(".config"))
            .env("BOOCODE_HOME", self.home.path())
            .env("BOOCODE_WORKFLOW_WORKER", worker)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .args(["--base-url", &self.server.base_url(), "--api-key", "sk-x"])
            .args(args);
        command
    }

    fn runs(&self) -> Vec<Value> {
        let out = self.run(&["workflow", "runs", "--json"]);
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn list_show_run_and_runs() {
    let p = Project::new();
    write(
        p.path(),
        ".boocode/workflows/mine.js",
        "export const meta = {name: 'review-code', description: 'my own review'};\n/*FAKE [{\"phase\": \"Ask\"}, {\"agent\": {\"prompt\": \"hi\"}}, {\"return\": \"done: ok\"}] */\n",
    );
    write(p.path(), ".claude/workflows/bad.js", "no meta here\n");

    let out = p.run(&["workflow", "list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("deep-research"), "{text}");
    assert!(text.contains("my own review"), "{text}");
    assert!(text.contains("INVALID"), "{text}");

    let out = p.run(&["workflow", "list", "--json"]);
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let rc = list.iter().find(|w| w["name"] == "review-code").unwrap();
    assert_eq!(rc["source"], "project");
    let bad = list.iter().find(|w| w["name"] == "bad").unwrap();
    assert!(bad["error"].as_str().unwrap().contains("meta"));

    let out = p.run(&["workflow", "show", "deep-research"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("built-in"), "{}", stdout(&out));
    let out = p.run(&["workflow", "show", "nope"]);
    assert!(!out.status.success());

    let out = p.run(&["workflow", "runs"]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("no workflow runs yet"));

    let out = p.run(&["workflow", "run", "review-code", "--args", "{\"x\":1}"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "done: ok\n");
    assert!(stderr(&out).contains("── Ask"), "{}", stderr(&out));

    let out = p.run(&["workflow", "run", "review-code", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.iter().any(|l| l["type"] == "workflow_phase"));
    let last = lines.last().unwrap();
    assert_eq!(last["type"], "workflow_result");
    assert_eq!(last["cached"], 1);

    let out = p.run(&["workflow", "runs", "--json"]);
    let runs: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(runs.len(), 2);
    assert!(runs.iter().all(|r| r["status"] == "completed"));
    let id = runs[0]["id"].as_str().unwrap().to_string();
    let out = p.run(&["workflow", "runs"]);
    assert!(stdout(&out).contains(&id));
    let first_run = stdout(&out)
        .lines()
        .find(|l| l.contains(runs[1]["id"].as_str().unwrap()))
        .unwrap()
        .to_string();
    assert!(
        first_run.contains("review-code") && first_run.contains("{\"x\":1}"),
        "{first_run}"
    );

    // Cancelling a finished run is an error; a failing run exits non-zero.
    let out = p.run(&["workflow", "cancel", &id[..8]]);
    assert!(!out.status.success());
    write(
        p.path(),
        ".boocode/workflows/fails.js",
        "export const meta = {name: 'fails'};\n/*FAKE [{\"exit\": 7}] */\n",
    );
    let out = p.run(&["workflow", "run", "fails"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("the script worker died: exit status 7"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_closed_stdout_ends_every_command_quietly() {
    let p = Project::new();
    write(
        p.path(),
        ".boocode/workflows/quick.js",
        "export const meta = {name: 'quick'};\n/*FAKE [{\"phase\": \"One\"}, {\"return\": \"done\"}] */\n",
    );
    assert!(p.run(&["workflow", "run", "quick"]).status.success());
    for args in [
        &["workflow", "runs"][..],
        &["workflow", "runs", "--json"],
        &["workflow", "list"],
        &["workflow", "show", "deep-research"],
        &["workflow", "run", "quick"],
        &["workflow", "run", "quick", "--json"],
        &["sessions"],
        &["exec", "hello"],
        &["exec", "--json", "hello"],
        &["traces"],
    ] {
        // `| head -0`: the reader is gone before the command writes its first line.
        let mut child = p.spawn(args);
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = stderr(&out);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(!err.contains("Broken pipe"), "{args:?}: {err}");
        if args[0] != "exec" && !args.contains(&"run") {
            assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        }
    }
}

/// Waits until the model server has had `n` requests (an agent is mid-call).
fn wait_for_requests(p: &Project, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while p.server.requests().len() < n {
        assert!(Instant::now() < deadline, "no model request arrived");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal_and_wait(child: &mut Child, signal: i32) -> Output {
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, signal) };
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "boocode did not exit on signal {signal}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut out = Vec::new();
    if let Some(mut e) = child.stderr.take() {
        std::io::Read::read_to_end(&mut e, &mut out).unwrap();
    }
    Output {
        status: child.wait().unwrap(),
        stdout: Vec::new(),
        stderr: out,
    }
}

#[test]
fn sigterm_and_sigint_cancel_a_run_and_a_resume() {
    // The agent's model call never answers in time: the run is mid-call when it is signalled.
    let p = Project::with_reply(Reply::stall(60_000, Reply::text("late")));
    write(
        p.path(),
        ".boocode/workflows/slow.js",
        "export const meta = {name: 'slow'};\n/*FAKE [{\"agent\": {\"prompt\": \"hi\"}}, {\"return\": \"done\"}] */\n",
    );
    let mut run = p.spawn(&["workflow", "run", "slow"]);
    wait_for_requests(&p, 1);
    let out = signal_and_wait(&mut run, libc::SIGTERM);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let runs = p.runs();
    assert_eq!(runs[0]["status"], "cancelled", "{runs:?}");
    let id = runs[0]["id"].as_str().unwrap().to_string();

    for (signal, requests) in [(libc::SIGTERM, 2), (libc::SIGINT, 3)] {
        let mut resume = p.spawn(&["workflow", "resume", &id]);
        wait_for_requests(&p, requests);
        let out = signal_and_wait(&mut resume, signal);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert_eq!(p.runs()[0]["status"], "cancelled", "signal {signal}");
    }
}

#[test]
fn workflow_run_names_agents_by_label_and_phase_or_a_distinct_id() {
    let p = Project::new();
    write(
        p.path(),
        ".boocode/workflows/named.js",
        "export const meta = {name: 'named'};\n/*FAKE [{\"phase\": \"Ask\"}, \
         {\"agent\": {\"prompt\": \"a\", \"label\": \"alpha\"}}, \
         {\"agent\": {\"prompt\": \"b\", \"label\": \"beta\", \"phase\": \"Check\"}}, \
         {\"agent\": {\"prompt\": \"c\"}}, {\"agent\": {\"prompt\": \"d\"}}, \
         {\"return\": \"ok\"}] */\n",
    );
    let out = p.run(&["workflow", "run", "named"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("• agent alpha (Ask) completed"), "{err}");
    assert!(err.contains("• agent beta (Check) completed"), "{err}");
    // The unlabelled ones: ids shown long enough to tell them apart (UUID v7s made in the
    // same minute share their first 8 hex digits).
    let unlabelled: Vec<&str> = err
        .lines()
        .filter_map(|l| l.trim().strip_prefix("• agent "))
        .filter_map(|l| l.split_once(" (Ask) completed").map(|(name, _)| name))
        .filter(|name| *name != "alpha")
        .collect();
    assert_eq!(unlabelled.len(), 2, "{err}");
    assert_ne!(unlabelled[0], unlabelled[1], "{err}");
    // Calls served from the cache have no start event: their names come from the store.
    let out = p.run(&["workflow", "run", "named"]);
    let err = stderr(&out);
    assert!(
        err.contains("• agent alpha (Ask) completed (cached)"),
        "{err}"
    );
    assert!(
        err.contains("• agent beta (Check) completed (cached)"),
        "{err}"
    );
}
