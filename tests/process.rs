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

    /// The binary with a clean environment, pointed at the mock server; run as user `uid`
    /// (through `setpriv`) when given.
    fn boocode_as(&self, uid: Option<u32>, args: &[&str]) -> Command {
        let binary = env!("CARGO_BIN_EXE_boocode");
        let mut cmd = match uid {
            None => Command::new(binary),
            Some(uid) => {
                let id = uid.to_string();
                let mut cmd = Command::new("setpriv");
                cmd.args([
                    "--reuid",
                    &id,
                    "--regid",
                    &id,
                    "--clear-groups",
                    "--",
                    binary,
                ]);
                cmd
            }
        };
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
        self.boocode_as(None, args)
    }

    /// Hands the project and the data home to user `uid`.
    fn give_to(&self, uid: u32) {
        let mut paths = vec![self.root().to_path_buf(), self.home.path().to_path_buf()];
        files_under(self.root(), &mut paths);
        for path in paths {
            chown(&path, Some(uid), Some(uid)).unwrap();
        }
    }

    /// Every file of the data home (database, WAL, logs) as bytes.
    fn stored_bytes(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut files = Vec::new();
        files_under(self.home.path(), &mut files);
        files
            .into_iter()
            .filter(|f| f.is_file())
            .map(|f| {
                let bytes = std::fs::read(&f).unwrap_or_default();
                (f, bytes)
            })
            .collect()
    }
}

/// Every file and directory under `dir`.
fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, out);
        }
        out.push(path);
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

/// The key given on the command line (the one boocode uses) and another in the environment.
const FLAG_KEY: &str = "sk-procflag-4c8f21e6d0";
const ENV_KEY: &str = "sk-procenv-7d1e93a0b2";

/// A command that tries every way to read a key out of its parent, boocode: its command line,
/// its environment, every writable region of its memory, and the command's own environment.
const PROBE: &str = r#"echo "== cmdline"; tr '\0' ' ' < /proc/$PPID/cmdline; echo
echo "== environ"; tr '\0' '\n' < /proc/$PPID/environ
echo "== mem"
PATH=/usr/bin:/bin:$PATH python3 -c '
import re, sys
pid = sys.argv[1]
try:
    maps = open("/proc/%s/maps" % pid).read().splitlines()
    mem = open("/proc/%s/mem" % pid, "rb")
except OSError as e:
    sys.exit("cannot read memory: %s" % e)
found, regions = set(), 0
for line in maps:
    span, perms = line.split()[:2]
    if not perms.startswith("rw"):
        continue
    start, end = (int(x, 16) for x in span.split("-"))
    try:
        mem.seek(start)
        data = mem.read(end - start)
    except OSError:
        continue
    regions += 1
    found.update(m.decode() for m in re.findall(rb"sk-proc[a-z]*-[0-9a-f]+", data))
print("read %d regions; found: %s" % (regions, " ".join(sorted(found)) or "nothing"))
' $PPID
echo "== own environment"; env | grep -i key
echo "== end""#;

/// Runs the probe in a real `exec` (as user `uid` when given) and asserts the keys appear
/// nowhere: not in what the command read (the tool result the model gets), not in what
/// boocode printed, stored or logged, and not in boocode's `/proc/PID/environ` and `cmdline`
/// as root sees them.
fn assert_keys_out_of_reach(uid: Option<u32>) {
    let call = serde_json::json!({"command": "sh", "args": ["-c", PROBE]}).to_string();
    let p = Project::new(vec![
        Reply::tool_calls(vec![CallSpec::new("run_command", call).id("call_probe")]).into(),
        // Held back a moment, so boocode is still there to be looked at.
        Reply::stall(700, Reply::text("done")).when(Match::has_tool_result_for("call_probe")),
    ]);
    if let Some(uid) = uid {
        p.give_to(uid);
    }
    let mut cmd = p.boocode_as(
        uid,
        &["--api-key", FLAG_KEY, "exec", "--approval", "auto", "probe"],
    );
    cmd.env("DEEPSEEK_API_KEY", ENV_KEY);
    let child = cmd.spawn().unwrap();
    assert!(
        p.server
            .wait_for_requests_blocking(1, Duration::from_secs(20)),
        "exec never called the model"
    );
    let own_view = |file: &str| {
        let bytes = std::fs::read(format!("/proc/{}/{file}", child.id())).unwrap();
        String::from_utf8_lossy(&bytes).replace('\0', " ")
    };
    let (environ, cmdline) = (own_view("environ"), own_view("cmdline"));
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(stdout, "done\n");
    let bearer = format!("Bearer {FLAG_KEY}");
    assert_eq!(
        p.server.recorded()[0].header("authorization"),
        Some(bearer.as_str()),
        "boocode did not use the key it was given"
    );
    let probe = tool_results(&p.server.requests()[1]).join("\n");
    assert!(
        probe.contains("== cmdline") && probe.contains("== end"),
        "{probe}"
    );
    // The command line is world-readable; the key in it is masked.
    assert!(probe.contains("--api-key ****"), "{probe}");
    assert!(environ.contains("DEEPSEEK_API_KEY=****"), "{environ}");
    for key in [FLAG_KEY, ENV_KEY] {
        assert!(!probe.contains(key), "the command read {key}:\n{probe}");
        assert!(!environ.contains(key), "/proc/PID/environ shows {key}");
        assert!(!cmdline.contains(key), "/proc/PID/cmdline shows {key}");
        assert!(!contains(&output.stdout, key) && !contains(&output.stderr, key));
        for (file, bytes) in p.stored_bytes() {
            assert!(
                !contains(&bytes, key),
                "{key} leaked into {}",
                file.display()
            );
        }
    }
}

#[test]
fn a_command_cannot_read_the_key_from_boocode() {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    assert_keys_out_of_reach(None);
    if !root {
        eprintln!("ran as a non-root user only: the root half needs root");
        return;
    }
    // As root, boocode runs itself as an unprivileged user too.
    if Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("skipped the non-root half: setpriv is not installed");
        return;
    }
    assert_keys_out_of_reach(Some(NOBODY));
}

/// The conventional unprivileged user id.
const NOBODY: u32 = 65534;
