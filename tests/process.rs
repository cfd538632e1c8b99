//! boocode's process and its children, with the real binary against the scripted model server:
//! what a command boocode runs can read of boocode (never the API key), and that every child
//! dies with boocode even when boocode is SIGKILLed.

mod support;

use std::os::unix::fs::chown;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use support::harness::{write, FAST_RETRIES};
use support::mock_server::{CallSpec, Match, MockServer, Reply, Step};

/// A throw-away project and data home with a scripted model server.
struct Project {
    dir: tempfile::TempDir,
    home: tempfile::TempDir,
    server: MockServer,
}

impl Project {
    fn new(script: Vec<Step>) -> Project {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), ".boocode/config.toml", FAST_RETRIES);
        Project {
            dir,
            home: tempfile::tempdir().unwrap(),
            server: MockServer::start_blocking(script),
        }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The binary with a clean environment, pointed at the mock server.
    fn command(&self, program: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join(".config"))
            .env("BOOCODE_HOME", self.home.path())
            .env("BOOCODE_LOG", "debug")
            .current_dir(self.root())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .args(["--base-url", &self.server.base_url()])
            .args(args);
        cmd
    }

    fn boocode(&self, args: &[&str]) -> Command {
        self.command(Path::new(env!("CARGO_BIN_EXE_boocode")), args)
    }

    /// Every file of the data home (database, WAL, logs) as bytes.
    fn stored_bytes(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut files = Vec::new();
        files_under(self.home.path(), &mut files);
        files
            .into_iter()
            .map(|f| {
                let bytes = std::fs::read(&f).unwrap_or_default();
                (f, bytes)
            })
            .collect()
    }
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The content of the `tool` messages of a recorded request.
fn tool_results(request: &Value) -> Vec<String> {
    request["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap_or("").to_string())
        .collect()
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// (pid, parent pid, process group, state) of every process.
fn processes() -> Vec<(i32, i32, i32, char)> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        if let (Some(state), Some(ppid), Some(pgid)) = (
            f.first().and_then(|s| s.chars().next()),
            f.get(1).and_then(|s| s.parse().ok()),
            f.get(2).and_then(|s| s.parse().ok()),
        ) {
            all.push((pid, ppid, pgid, state));
        }
    }
    all
}

/// Live (not zombie) processes of group `pgid`.
fn live_in_group(pgid: i32) -> Vec<i32> {
    processes()
        .into_iter()
        .filter(|p| p.2 == pgid && p.3 != 'Z')
        .map(|p| p.0)
        .collect()
}

fn cmdline(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

fn sigkill(child: &mut Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Asserts that `alive` (the processes of something boocode started) is empty within two
/// seconds of boocode being killed.
fn assert_gone_soon(what: &str, alive: impl Fn() -> Vec<i32>) {
    let killed = Instant::now();
    while !alive().is_empty() {
        assert!(
            killed.elapsed() < Duration::from_secs(2),
            "{what} {:?} outlived the killed boocode",
            alive()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_command_dies_with_a_killed_exec_and_never_finishes() {
    // Without the reaper the command would touch `marker` two seconds after it started.
    let script = r#"echo $$ > group.pid; sleep 2 & sleep 2; touch marker"#;
    let call = serde_json::json!({"command": "sh", "args": ["-c", script]}).to_string();
    let p = Project::new(vec![Reply::tool_calls(vec![CallSpec::new(
        "run_command",
        call,
    )
    .id("call_sleep")])
    .into()]);
    let mut child = p
        .boocode(&[
            "--api-key",
            "sk-test",
            "exec",
            "--approval",
            "auto",
            "sleep",
        ])
        .spawn()
        .unwrap();
    let pid_file = p.root().join("group.pid");
    wait_until("the command to start", Duration::from_secs(20), || {
        std::fs::read_to_string(&pid_file).is_ok_and(|s| s.ends_with('\n'))
    });
    let started = Instant::now();
    let pgid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    wait_until("sh and both sleeps", Duration::from_secs(2), || {
        live_in_group(pgid).len() == 3
    });
    sigkill(&mut child);
    assert_gone_soon("the command's processes", || live_in_group(pgid));
    std::thread::sleep(Duration::from_millis(2500).saturating_sub(started.elapsed()));
    assert!(
        !p.root().join("marker").exists(),
        "the command finished after boocode was killed"
    );
}

#[test]
fn a_busy_script_worker_dies_with_a_killed_workflow_run() {
    let p = Project::new(vec![]);
    write(
        p.root(),
        ".boocode/workflows/spin.js",
        "export const meta = { name: 'spin', description: 'never ends' };\n\
         for (;;) { for (let i = 0; i < 1000; i++) {} }\n",
    );
    let mut child = p
        .boocode(&["--api-key", "sk-test", "workflow", "run", "spin"])
        .spawn()
        .unwrap();
    let boocode = child.id() as i32;
    let mut worker = None;
    wait_until("the script worker", Duration::from_secs(20), || {
        worker = processes()
            .into_iter()
            .find(|p| p.1 == boocode && cmdline(p.0).contains("__workflow-worker"))
            .map(|p| p.0);
        worker.is_some()
    });
    let worker = worker.unwrap();
    let alive = || {
        processes()
            .into_iter()
            .filter(|p| p.0 == worker && p.3 != 'Z')
            .map(|p| p.0)
            .collect::<Vec<_>>()
    };
    // Busy in its loop for a moment.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(alive(), vec![worker]);
    sigkill(&mut child);
    assert_gone_soon("the script worker", alive);
}
