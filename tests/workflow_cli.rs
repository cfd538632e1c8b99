//! `boocode workflow …` through the real binary, with the fake script worker.

mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};

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
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), ".boocode/config.toml", FAST_RETRIES);
        Project {
            dir,
            home: tempfile::tempdir().unwrap(),
            user_home: tempfile::tempdir().unwrap(),
            server: MockServer::start_blocking(vec![Reply::text("the answer").repeat()]),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        let worker = format!(
            "python3 {}/tests/fixtures/fake_workflow_worker.py",
            env!("CARGO_MANIFEST_DIR")
        );
        Command::new(env!("CARGO_BIN_EXE_boocode"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.user_home.path())
            .env("XDG_CONFIG_HOME", self.user_home.path().join(".config"))
            .env("BOOCODE_HOME", self.home.path())
            .env("BOOCODE_WORKFLOW_WORKER", worker)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .args(["--base-url", &self.server.base_url(), "--api-key", "sk-x"])
            .args(args)
            .output()
            .unwrap()
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
