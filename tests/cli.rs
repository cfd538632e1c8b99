//! End-to-end tests of the `boocode` binary: the real executable, run as a child process
//! against the scripted model server, each test in its own project directory and data home.

mod support;

use std::cell::RefCell;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use boocode::core::store::{PartKind, Store, TraceRow};
use serde_json::Value;

use support::harness::{write, FAST_RETRIES};
use support::mock_server::{CallSpec, Match, MockServer, Reply, Step, UsageSpec};

/// The API key every test passes; it must never show up in output, the database or the logs.
const KEY: &str = "sk-clitest-5e1f0c9a7b3d";

/// What one run of the binary left behind.
#[derive(Debug)]
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn ok(&self) -> &Self {
        assert_eq!(self.code, 0, "expected exit 0; {self:#?}");
        self
    }
}

/// A throw-away project, data home and user home, with a scripted model server.
struct Project {
    dir: tempfile::TempDir,
    home: tempfile::TempDir,
    user_home: tempfile::TempDir,
    server: MockServer,
    /// Every byte the binary printed, checked for the key when the test ends.
    printed: RefCell<Vec<u8>>,
}

impl Project {
    fn new(script: Vec<Step>) -> Project {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "README.md",
            "# Demo\n\nThis is teh demo project.\n",
        );
        write(
            dir.path(),
            "src/lib.rs",
            "pub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n",
        );
        write(dir.path(), ".boocode/config.toml", FAST_RETRIES);
        Project {
            dir,
            home: tempfile::tempdir().unwrap(),
            user_home: tempfile::tempdir().unwrap(),
            server: MockServer::start_blocking(script),
            printed: RefCell::new(Vec::new()),
        }
    }

    fn root(&self) -> PathBuf {
        std::fs::canonicalize(self.dir.path()).unwrap()
    }

    fn home(&self) -> &Path {
        self.home.path()
    }

    fn log_file(&self) -> PathBuf {
        self.home().join("logs/boocode.log")
    }

    /// The binary with a clean environment: no real config, keys or data can leak in.
    fn bare(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_boocode"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.user_home.path())
            .env("XDG_CONFIG_HOME", self.user_home.path().join(".config"))
            .env("BOOCODE_HOME", self.home())
            // Verbose logs make a leaked key more likely to be caught.
            .env("BOOCODE_LOG", "debug")
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .args(args);
        cmd
    }

    /// The binary pointed at the mock server, with the key on the command line.
    fn boocode(&self, args: &[&str]) -> Command {
        let mut cmd = self.bare(&["--base-url", &self.server.base_url(), "--api-key", KEY]);
        cmd.args(args);
        cmd
    }

    fn output(&self, mut cmd: Command, stdin: Option<&str>) -> Out {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        if stdin.is_some() {
            cmd.stdin(Stdio::piped());
        }
        let mut child = cmd.spawn().expect("spawn boocode");
        if let Some(text) = stdin {
            let mut pipe = child.stdin.take().unwrap();
            pipe.write_all(text.as_bytes()).unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                child.kill().ok();
                panic!("boocode did not exit within 20 s");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let output = child.wait_with_output().unwrap();
        self.printed.borrow_mut().extend_from_slice(&output.stdout);
        self.printed.borrow_mut().extend_from_slice(&output.stderr);
        Out {
            code: output.status.code().expect("exited by a signal"),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }

    fn run(&self, args: &[&str]) -> Out {
        self.output(self.boocode(args), None)
    }

    fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Out {
        self.output(self.boocode(args), Some(stdin))
    }

    fn store(&self) -> Store {
        let path = self.home().join("boocode.db");
        assert!(path.exists(), "no database at {}", path.display());
        Store::open(&path).unwrap()
    }

    fn latest_chat_id(&self) -> String {
        self.store().latest_chat().unwrap().expect("a chat").id
    }

    fn traces(&self, chat_id: &str) -> Vec<TraceRow> {
        self.store().list_traces(chat_id, None, 1000).unwrap()
    }
}

/// Whether `needle` occurs in `hay`.
fn contains_bytes(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
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

impl Drop for Project {
    /// The key never appears in what the binary printed, nor in any file of the data home
    /// (the database with its WAL, the log).
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        assert!(
            !contains_bytes(&self.printed.borrow(), KEY.as_bytes()),
            "the API key was printed"
        );
        let mut files = Vec::new();
        files_under(self.home.path(), &mut files);
        for file in files {
            let bytes = std::fs::read(&file).unwrap_or_default();
            assert!(
                !contains_bytes(&bytes, KEY.as_bytes()),
                "the API key leaked into {}",
                file.display()
            );
        }
    }
}

/// The request bodies' messages as (role, text content) pairs.
fn messages(request: &Value) -> Vec<(String, String)> {
    request["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap_or("").to_string(),
                m["content"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn has_user_message(request: &Value, text: &str) -> bool {
    messages(request)
        .iter()
        .any(|(role, content)| role == "user" && content.contains(text))
}

/// The `[session XXXXXXXX · chat YYYYYYYY · …]` footer's short ids.
fn footer_ids(stderr: &str) -> (String, String) {
    let re = regex::Regex::new(r"\[session ([0-9a-f-]{8}) · chat ([0-9a-f-]{8}) · ").unwrap();
    let caps = re
        .captures(stderr)
        .unwrap_or_else(|| panic!("no session footer in stderr:\n{stderr}"));
    (caps[1].to_string(), caps[2].to_string())
}

fn read_readme_script() -> Vec<Step> {
    vec![
        Reply::tool_calls(vec![CallSpec::new(
            "read_file",
            r#"{"file_path":"README.md"}"#,
        )
        .id("call_read")])
        .reasoning("I should   read the\nreadme first.")
        .usage(UsageSpec::new(1000, 50).cache_hit_tokens(600))
        .into(),
        Reply::text("The readme says teh.")
            .usage(UsageSpec::new(1200, 30).cache_hit_tokens(1000))
            .when(Match::has_tool_result_for("call_read")),
    ]
}

#[test]
fn exec_prints_the_answer_on_stdout_and_progress_on_stderr() {
    let p = Project::new(read_readme_script());
    let out = p.run(&["exec", "what does the readme say?"]);
    out.ok();
    assert_eq!(out.stdout, "The readme says teh.\n");
    assert!(
        out.stderr
            .contains("thinking: I should read the readme first.\n"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("→ read_file README.md\n"),
        "{}",
        out.stderr
    );
    let done = regex::Regex::new(r"(?m)^  ✓ read_file success in \d+ ms$").unwrap();
    assert!(done.is_match(&out.stderr), "{}", out.stderr);
    // Reasoning is shown before the call it led to.
    assert!(out.stderr.find("thinking:").unwrap() < out.stderr.find("→ read_file").unwrap());
    footer_ids(&out.stderr);
    // A window used less than half is not worth a mention.
    assert!(!out.stderr.contains("· context"), "{}", out.stderr);

    // The key went to the server, and only there.
    let recorded = p.server.recorded();
    assert_eq!(recorded.len(), 2);
    let bearer = format!("Bearer {KEY}");
    assert_eq!(recorded[0].header("authorization"), Some(bearer.as_str()));
    assert!(
        p.log_file().exists(),
        "no log at {}",
        p.log_file().display()
    );
}

#[test]
fn exec_json_prints_one_event_per_line_and_a_result() {
    let p = Project::new(read_readme_script());
    let out = p.run(&["exec", "--json", "what does the readme say?"]);
    out.ok();
    assert!(
        out.stderr.trim().is_empty(),
        "--json keeps stderr quiet: {}",
        out.stderr
    );
    let events: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let of_type = |t: &str| -> Vec<&Value> { events.iter().filter(|e| e["type"] == t).collect() };
    let started = of_type("tool_started");
    let finished = of_type("tool_finished");
    assert_eq!(started.len(), 1, "{}", out.stdout);
    assert_eq!(finished.len(), 1, "{}", out.stdout);
    assert_eq!(started[0]["tool_name"], "read_file");
    assert_eq!(started[0]["input"]["file_path"], "README.md");
    assert!(started[0]["trace_id"].is_string());
    assert_eq!(started[0]["trace_id"], finished[0]["trace_id"]);
    assert_eq!(finished[0]["outcome"], "success");
    assert!(!of_type("reasoning_delta").is_empty());
    let text: String = of_type("text_delta")
        .iter()
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert_eq!(text, "The readme says teh.");

    let last = events.last().unwrap();
    assert_eq!(last["type"], "result");
    assert_eq!(last["status"], "completed");
    assert_eq!(last["final_text"], "The readme says teh.");
    assert_eq!(last["error"], Value::Null);
    assert_eq!(last["usage"]["cache_hit_tokens"], 1600);
    assert_eq!(last["context"]["used"], 1200);
    assert_eq!(of_type("result").len(), 1);
    // The trace id is the stored row's id.
    let chat_id = last["chat_id"].as_str().unwrap();
    let traces = p.traces(chat_id);
    assert_eq!(traces.len(), 1);
    assert_eq!(traces[0].id, started[0]["trace_id"].as_str().unwrap());
}

/// Two model calls whose usage says the prompt is larger than the estimate from its JSON.
fn counted_prompt_script() -> Vec<Step> {
    vec![
        Reply::tool_calls(vec![CallSpec::new(
            "read_file",
            r#"{"file_path":"README.md"}"#,
        )
        .id("call_read")])
        .usage(UsageSpec::new(3_000, 50))
        .into(),
        Reply::text("Done.")
            .usage(UsageSpec::new(5_000, 30))
            .when(Match::has_tool_result_for("call_read")),
    ]
}

/// A project whose config gives mock-model a small window (the server reports a larger one).
fn small_window_project() -> Project {
    let p = Project::new(counted_prompt_script());
    std::fs::create_dir_all(p.root().join(".boocode")).unwrap();
    std::fs::write(
        p.root().join(".boocode/config.toml"),
        "[models.mock-model]\ncontext_window = 8000\n",
    )
    .unwrap();
    p
}

#[test]
fn exec_reports_context_use_corrected_by_the_providers_count() {
    let p = small_window_project();
    let out = p.run(&["exec", "--json", "--model", "mock-model", "read the readme"]);
    out.ok();
    let events: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let context_of = |t: &str| -> Vec<(u64, u64)> {
        events
            .iter()
            .filter(|e| e["type"] == t)
            .map(|e| {
                let c = &e["context"];
                (c["used"].as_u64().unwrap(), c["window"].as_u64().unwrap())
            })
            .collect()
    };
    let started = context_of("model_call_started");
    let finished = context_of("model_call_finished");
    assert_eq!(finished, [(3_000, 8_000), (5_000, 8_000)]);
    // The first estimate is the request's own size, under the 3,000 the provider counted. The
    // second, a slightly longer request, is scaled by that count: at least 3,000.
    assert!(started[0].0 < 3_000, "{started:?}");
    assert!((3_000..4_500).contains(&started[1].0), "{started:?}");
    let result = events.last().unwrap();
    assert_eq!(
        result["context"],
        serde_json::json!({"used": 5_000, "window": 8_000})
    );

    let human = small_window_project();
    let out = human.run(&["exec", "--model", "mock-model", "read the readme"]);
    out.ok();
    assert!(
        out.stderr.contains(" · context 5k / 8k (62 %)]"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_model_without_a_known_window_takes_the_one_the_server_reports() {
    // The mock server's /models gives mock-model a 65,536-token window.
    let p = Project::new(vec![Reply::text("hi").usage(UsageSpec::new(100, 5)).into()]);
    let out = p.run(&["exec", "--json", "--model", "mock-model", "hello"]);
    out.ok();
    let result: Value = serde_json::from_str(out.stdout.lines().last().unwrap()).unwrap();
    assert_eq!(result["context"]["window"], 65_536, "{}", out.stdout);
}

#[test]
fn prompt_is_read_from_stdin_and_an_empty_one_is_a_usage_error() {
    let p = Project::new(vec![
        Reply::text("got it").when(Match::last_user_contains("prompt from stdin"))
    ]);
    let out = p.run_with_stdin(&["exec"], "prompt from stdin\nsecond line\n");
    out.ok();
    assert_eq!(out.stdout, "got it\n");
    let request = &p.server.requests()[0];
    assert!(has_user_message(request, "prompt from stdin\nsecond line"));

    for empty in ["", "  \n\n"] {
        let out = p.run_with_stdin(&["exec"], empty);
        assert_eq!(out.code, 2, "{out:#?}");
        assert!(out.stdout.is_empty(), "{out:#?}");
        assert!(out.stderr.contains("no prompt given"), "{}", out.stderr);
    }
    assert_eq!(p.server.request_count(), 1);
}

#[test]
fn a_missing_key_is_one_clear_line_and_exit_2() {
    let p = Project::new(vec![]);
    // Default provider (deepseek), no key anywhere, no base URL.
    let out = p.output(p.bare(&["exec", "hello"]), None);
    assert_eq!(out.code, 2, "{out:#?}");
    assert!(out.stdout.is_empty());
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(out.stderr.contains("DEEPSEEK_API_KEY"), "{}", out.stderr);
    assert!(!p.home().join("boocode.db").exists());
}

#[test]
fn insufficient_balance_ends_the_turn_with_exit_1() {
    let p = Project::new(vec![Reply::http_error_fixture(
        402,
        "X-err-402-insufficient-balance.json",
    )
    .into()]);
    let out = p.run(&["exec", "hello"]);
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(
        out.stderr.to_lowercase().contains("insufficient balance"),
        "{}",
        out.stderr
    );
    // Not worth retrying.
    assert_eq!(p.server.request_count(), 1);

    // With --json the failure is the result line.
    p.server.push(Reply::http_error_fixture(
        402,
        "X-err-402-insufficient-balance.json",
    ));
    let out = p.run(&["exec", "--json", "hello"]);
    assert_eq!(out.code, 1, "{out:#?}");
    let last: Value = serde_json::from_str(out.stdout.lines().last().unwrap()).unwrap();
    assert_eq!(last["type"], "result");
    assert_eq!(last["status"], "failed");
    assert_eq!(last["final_text"], Value::Null);
    assert!(
        last["error"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("insufficient balance"),
        "{last}"
    );
}

#[test]
fn a_reply_cut_off_on_every_attempt_fails_exec_and_runs_nothing() {
    let p = Project::new(vec![Reply::truncated(
        "Creating it.",
        vec![CallSpec::new(
            "create_file",
            r#"{"file_path":"cut.txt","content":"x\n"}"#,
        )],
    )
    .repeat()]);
    let out = p.run(&["exec", "--approval", "auto", "make the file"]);
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(out.stderr.contains("turn failed"), "{}", out.stderr);
    assert!(out.stderr.contains("cut off"), "{}", out.stderr);
    assert!(!p.root().join("cut.txt").exists(), "a cut-off call ran");
    assert!(p.traces(&p.latest_chat_id()).is_empty());
}

#[test]
fn retries_on_stderr_count_the_attempt_about_to_start() {
    let p = Project::new(vec![
        Reply::http_error(500, r#"{"error":{"message":"boom"}}"#).into(),
        Reply::http_error(500, r#"{"error":{"message":"boom"}}"#).into(),
        Reply::http_error(500, r#"{"error":{"message":"boom"}}"#).into(),
        Reply::text("finally").into(),
    ]);
    write(
        p.dir.path(),
        ".boocode/config.toml",
        "retry_backoff_ms = 5\nmax_attempts = 4\n",
    );
    let out = p.run(&["exec", "hello"]);
    out.ok();
    let labels: Vec<&str> = out
        .stderr
        .lines()
        .filter_map(|l| l.split("(attempt ").nth(1))
        .collect();
    assert_eq!(labels, vec!["2/4)", "3/4)", "4/4)"], "{}", out.stderr);
}

fn edit_readme_script() -> Vec<Step> {
    vec![
        Reply::tool_calls(vec![CallSpec::new(
            "edit_file",
            r#"{"file_path":"README.md","old_string":"teh","new_string":"the"}"#,
        )
        .id("call_edit")])
        .into(),
        Reply::text("done").when(Match::has_tool_result_for("call_edit")),
    ]
}

#[test]
fn read_only_is_the_default_and_denies_edits() {
    let p = Project::new(edit_readme_script());
    let out = p.run(&["exec", "fix the typo"]);
    out.ok();
    assert!(out.stderr.contains("✗ edit_file denied"), "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(p.root().join("README.md")).unwrap(),
        "# Demo\n\nThis is teh demo project.\n"
    );
    let result = &messages(&p.server.requests()[1])
        .into_iter()
        .find(|(role, _)| role == "tool")
        .unwrap()
        .1;
    assert!(result.contains("read-only"), "{result}");
    let traces = p.traces(&p.latest_chat_id());
    assert_eq!(traces[0].outcome.as_deref(), Some("denied"));
}

#[test]
fn auto_approval_applies_edits() {
    let p = Project::new(edit_readme_script());
    let out = p.run(&["exec", "--approval", "auto", "fix the typo"]);
    out.ok();
    assert!(out.stderr.contains("✓ edit_file success"), "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(p.root().join("README.md")).unwrap(),
        "# Demo\n\nThis is the demo project.\n"
    );
}

#[test]
fn continue_and_session_reuse_the_previous_chat() {
    let p = Project::new(vec![
        Reply::text("first answer").when(Match::last_user_contains("first prompt")),
        Reply::text("second answer").when(Match::last_user_contains("second prompt")),
        Reply::text("third answer").when(Match::last_user_contains("third prompt")),
        Reply::text("fresh answer").when(Match::last_user_contains("fresh prompt")),
    ]);
    let first = p.run(&["exec", "first prompt"]);
    first.ok();
    let (session, chat) = footer_ids(&first.stderr);

    let second = p.run(&["exec", "--continue", "second prompt"]);
    second.ok();
    assert_eq!(second.stdout, "second answer\n");
    assert_eq!(footer_ids(&second.stderr), (session.clone(), chat.clone()));
    let requests = p.server.requests();
    assert!(has_user_message(&requests[1], "first prompt"));
    assert!(messages(&requests[1])
        .iter()
        .any(|(role, content)| role == "assistant" && content == "first answer"));

    // A new session in between: --continue would now pick it, --session still finds the old one.
    let fresh = p.run(&["exec", "fresh prompt"]);
    fresh.ok();
    assert_ne!(footer_ids(&fresh.stderr).0, session);
    assert!(!has_user_message(&p.server.requests()[2], "first prompt"));

    let third = p.run(&["exec", "--session", &session, "third prompt"]);
    third.ok();
    assert_eq!(third.stdout, "third answer\n");
    let last = p.server.last_request().unwrap();
    assert!(has_user_message(&last, "first prompt"));
    assert!(has_user_message(&last, "second prompt"));
    assert!(!has_user_message(&last, "fresh prompt"));

    let unknown = p.run(&["exec", "--session", "zzzz", "hello"]);
    assert_eq!(unknown.code, 2, "{unknown:#?}");
    assert!(unknown.stderr.contains("zzzz"), "{}", unknown.stderr);
}

#[test]
fn exec_waits_for_the_background_tasks_it_spawned() {
    let p = Project::new(vec![
        Reply::tool_calls(vec![CallSpec::new(
            "spawn_subagent",
            r#"{"input":"count the files","label":"counter"}"#,
        )
        .id("call_spawn")])
        .into(),
        // The sub-agent's own conversation, slow.
        Reply::text("there are 2 files")
            .chunk_chars(2)
            .delay_ms_per_chunk(60)
            .when(Match::last_user_contains("count the files")),
        Reply::text("spawned a counter").when(Match::has_tool_result_for("call_spawn")),
    ]);
    let out = p.run(&["exec", "start a background count"]);
    out.ok();
    assert_eq!(out.stdout, "spawned a counter\n");
    assert!(
        out.stderr.contains("background task counter: completed"),
        "{}",
        out.stderr
    );
    let tasks = p.store().list_tasks(None).unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].status, "completed", "{:?}", tasks[0]);
    assert_eq!(tasks[0].label.as_deref(), Some("counter"));
    assert!(
        tasks[0]
            .output
            .as_deref()
            .unwrap_or("")
            .contains("there are 2 files"),
        "{:?}",
        tasks[0]
    );
}

#[test]
fn sessions_and_traces_report_what_happened() {
    let p = Project::new(read_readme_script());
    p.run(&["exec", "inspect the readme"]).ok();
    let store = p.store();
    let sessions = store.list_sessions(None).unwrap();
    assert_eq!(sessions.len(), 1);
    let session_id = sessions[0].session.id.clone();
    let chat_id = sessions[0].chats[0].chat.id.clone();

    let listing = p.run(&["sessions"]);
    listing.ok();
    assert!(
        listing.stdout.contains(&format!("session {session_id}")),
        "{}",
        listing.stdout
    );
    assert!(
        listing.stdout.contains(&format!("chat {chat_id}")),
        "{}",
        listing.stdout
    );
    assert!(listing.stdout.contains("inspect the readme"));
    assert!(listing.stdout.contains(p.root().to_string_lossy().as_ref()));

    let json = p.run(&["sessions", "--json"]);
    json.ok();
    let v: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["session"]["id"], session_id.as_str());
    assert_eq!(v[0]["chats"][0]["chat"]["id"], chat_id.as_str());
    assert_eq!(v[0]["chats"][0]["turns"], 1);
    // user, assistant (tool call), tool result, assistant (answer)
    assert_eq!(v[0]["chats"][0]["message_count"], 4);

    // Hits 600 + 1000 of 1000 + 1200 prompt tokens: 1600 / 2200 = 73%.
    let traces = p.run(&["traces", "--last"]);
    traces.ok();
    let row = regex::Regex::new(r"(?m)^  read_file\s+\d+ ms\s+success\s+.*README\.md").unwrap();
    assert!(row.is_match(&traces.stdout), "{}", traces.stdout);
    assert!(
        traces
            .stdout
            .contains("Cache hit rate: 73% (1.6K/2.2K tokens)"),
        "{}",
        traces.stdout
    );
    assert!(traces.stdout.contains("2 model calls · 1 tool calls"));

    let json = p.run(&["traces", "--chat", &chat_id[..8], "--json"]);
    json.ok();
    let v: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["chat"]["id"], chat_id.as_str());
    let rows = v["traces"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["tool_name"], "read_file");
    assert_eq!(rows[0]["outcome"], "success");
    assert_eq!(rows[0]["tool_call_id"], "call_read");
    assert_eq!(v["totals"]["usage"]["cache_hit_tokens"], 1600);
    assert_eq!(v["totals"]["usage"]["cache_miss_tokens"], 600);
    assert_eq!(v["totals"]["model_calls"], 2);
    let rate = v["totals"]["cache_hit_rate"].as_f64().unwrap();
    assert!((rate - 1600.0 / 2200.0).abs() < 1e-9, "{rate}");
    assert_eq!(v["turns"][0]["tool_calls"], 1);

    let missing = p.run(&["traces", "--chat", "nope"]);
    assert_eq!(missing.code, 2, "{missing:#?}");
    assert!(
        missing.stderr.contains("no chat with id 'nope'"),
        "{}",
        missing.stderr
    );
}

#[test]
fn a_killed_exec_resumes_without_running_its_started_command_again() {
    // Each run of the command appends a line to `runs`.
    let slow = r#"{"command":"sh","args":["-c","echo ran >> runs; sleep 5"]}"#;
    let p = Project::new(vec![
        Reply::tool_calls(vec![CallSpec::new("run_command", slow).id("call_slow")]).into(),
        Reply::text("resumed and done").when(Match::has_tool_result_for("call_slow")),
    ]);
    let stderr_path = p.user_home.path().join("killed.stderr");
    let mut cmd = p.boocode(&["exec", "--approval", "auto", "run the slow thing"]);
    cmd.stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap());
    let mut child = cmd.spawn().unwrap();
    // Wait for the call to be running, then kill the process.
    let (chat_id, running) = wait_for_running_trace(&p, &mut child, "run_command");
    let runs = p.root().join("runs");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !runs.exists() {
        assert!(Instant::now() < deadline, "the command never ran");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let store = p.store();

    let messages_before = store.load_messages(&chat_id).unwrap();
    assert_eq!(messages_before[0].role, "user");
    assert_eq!(
        messages_before[0].joined(PartKind::Text),
        "run the slow thing"
    );
    // Nothing repaired the row yet, but no reader shows the killed call as still running.
    let trace = store.get_trace(&running.id).unwrap();
    assert!(trace.finished_at.is_none());
    assert_eq!(trace.outcome.as_deref(), Some("interrupted"));
    let snapshot = store.load_snapshot(&chat_id).unwrap().unwrap();
    assert_eq!(snapshot.state, "running_tools");
    assert_eq!(snapshot.pending_tool_calls[0].id, "call_slow");

    let out = p.run(&["resume"]);
    out.ok();
    assert_eq!(out.stdout, "resumed and done\n");
    assert!(
        out.stderr.contains("1 interrupted tool calls"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("run_command (call_slow) had started before the interruption"),
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&runs).unwrap(),
        "ran\n",
        "the command ran again"
    );

    // No second trace: the call was answered, not run.
    let traces = store.list_traces(&chat_id, None, 100).unwrap();
    assert_eq!(traces.len(), 1, "{traces:#?}");
    assert_eq!(traces[0].outcome.as_deref(), Some("interrupted"));
    assert!(traces[0].finished_at.is_some());

    // The model got exactly one answer to the call: that it was interrupted.
    let requests = p.server.requests();
    assert_eq!(requests.len(), 2);
    let answers: Vec<&Value> = requests[1]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool" && m["tool_call_id"] == "call_slow")
        .collect();
    assert_eq!(answers.len(), 1, "{:#}", requests[1]);
    assert_eq!(
        answers[0]["content"],
        boocode::core::agent::INTERRUPTED_CALL_RESULT
    );
    assert!(has_user_message(&requests[1], "run the slow thing"));

    let messages = store.load_messages(&chat_id).unwrap();
    let last = messages.last().unwrap();
    assert_eq!(last.role, "assistant");
    assert_eq!(last.status, "complete");
    assert_eq!(last.joined(PartKind::Text), "resumed and done");
    assert_eq!(store.get_chat(&chat_id).unwrap().status, "idle");

    let again = p.run(&["resume"]);
    assert_eq!(again.code, 2, "{again:#?}");
    assert!(
        again.stderr.contains("nothing to resume"),
        "{}",
        again.stderr
    );
    assert_eq!(p.server.request_count(), 2);
}

/// Polls until the latest chat has a trace of `tool` that has not finished.
fn wait_for_running_trace(
    p: &Project,
    child: &mut std::process::Child,
    tool: &str,
) -> (String, TraceRow) {
    assert!(
        p.server
            .wait_for_requests_blocking(1, Duration::from_secs(10)),
        "exec never called the model"
    );
    let store = p.store();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = store.latest_chat().unwrap().and_then(|chat| {
            store
                .list_traces(&chat.id, None, 100)
                .unwrap()
                .into_iter()
                .find(|t| t.tool_name == tool)
                .map(|t| (chat.id, t))
        });
        if let Some((chat_id, trace)) = found {
            assert!(trace.finished_at.is_none(), "finished too early: {trace:?}");
            return (chat_id, trace);
        }
        assert!(child.try_wait().unwrap().is_none(), "exec exited early");
        assert!(Instant::now() < deadline, "no {tool} trace appeared");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn ctrl_c_cancels_the_turn_and_leaves_nothing_to_resume() {
    let p = Project::new(vec![Reply::tool_calls(vec![CallSpec::new(
        "run_command",
        r#"{"command":"sleep","args":["5"]}"#,
    )
    .id("call_sleep")])
    .into()]);
    let mut cmd = p.boocode(&["exec", "--approval", "auto", "sleep a while"]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let (chat_id, running) = wait_for_running_trace(&p, &mut child, "run_command");
    let interrupted = Instant::now();
    // SAFETY: signals our own child process.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) },
        0
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "exec ignored Ctrl-C");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        interrupted.elapsed() < Duration::from_secs(3),
        "Ctrl-C took {:?}; the command was not killed",
        interrupted.elapsed()
    );
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(output.stdout.is_empty());
    assert!(stderr.contains("✗ run_command cancelled"), "{stderr}");
    p.printed.borrow_mut().extend_from_slice(stderr.as_bytes());

    let store = p.store();
    let trace = store.get_trace(&running.id).unwrap();
    assert_eq!(trace.outcome.as_deref(), Some("cancelled"), "{trace:?}");
    assert_eq!(store.get_chat(&chat_id).unwrap().status, "idle");
    // A cancelled turn is over, not interrupted.
    let again = p.run(&["resume"]);
    assert_eq!(again.code, 2, "{again:#?}");
    assert!(
        again.stderr.contains("nothing to resume"),
        "{}",
        again.stderr
    );
    assert_eq!(p.server.request_count(), 1);
}

#[test]
fn help_and_bad_usage() {
    let p = Project::new(vec![]);
    let help = p.output(p.bare(&["--help"]), None);
    help.ok();
    assert!(help.stdout.contains("exec"), "{}", help.stdout);
    assert!(help.stdout.contains("resume"), "{}", help.stdout);

    let exec_help = p.output(p.bare(&["exec", "--help"]), None);
    exec_help.ok();
    assert!(exec_help.stdout.contains("--json"), "{}", exec_help.stdout);
    assert!(
        exec_help.stdout.contains("--continue"),
        "{}",
        exec_help.stdout
    );

    let unknown = p.output(p.bare(&["exec", "--no-such-flag", "hi"]), None);
    assert_eq!(unknown.code, 2, "{unknown:#?}");
    assert!(
        unknown.stderr.contains("--no-such-flag"),
        "{}",
        unknown.stderr
    );

    let bad_mode = p.output(p.bare(&["--approval", "yolo", "exec", "hi"]), None);
    assert_eq!(bad_mode.code, 2, "{bad_mode:#?}");

    let conflict = p.output(
        p.bare(&["exec", "--continue", "--session", "abc", "hi"]),
        None,
    );
    assert_eq!(conflict.code, 2, "{conflict:#?}");

    let no_chats = p.run(&["traces", "--last"]);
    assert_eq!(no_chats.code, 2, "{no_chats:#?}");
    assert!(
        no_chats.stderr.contains("no chats yet"),
        "{}",
        no_chats.stderr
    );
    let empty = p.run(&["sessions"]);
    empty.ok();
    assert!(empty.stdout.contains("no sessions yet"), "{}", empty.stdout);

    // A config mistake is bad usage for every command.
    write(&p.root(), ".boocode/config.toml", "max_stpes = 3\n");
    for args in [&["exec", "hi"][..], &["sessions"], &["traces", "--last"]] {
        let out = p.run(args);
        assert_eq!(out.code, 2, "{args:?}: {out:#?}");
        assert!(
            out.stderr.contains("config.toml"),
            "{args:?}: {}",
            out.stderr
        );
    }
    assert_eq!(p.server.request_count(), 0);
}

#[test]
fn a_key_from_the_environment_is_used_but_never_handed_to_commands() {
    let p = Project::new(vec![
        Reply::tool_calls(vec![CallSpec::new(
            "run_command",
            r#"{"command":"printenv","args":["BOOCODE_API_KEY"]}"#,
        )
        .id("call_env")])
        .into(),
        Reply::text("checked").when(Match::has_tool_result_for("call_env")),
    ]);
    let mut cmd = p.bare(&[
        "--base-url",
        &p.server.base_url(),
        "exec",
        "--approval",
        "auto",
        "show the env",
    ]);
    cmd.env("BOOCODE_API_KEY", KEY);
    let out = p.output(cmd, None);
    out.ok();
    let bearer = format!("Bearer {KEY}");
    assert_eq!(
        p.server.recorded()[0].header("authorization"),
        Some(bearer.as_str())
    );
    let tool_result = &messages(&p.server.requests()[1])
        .into_iter()
        .find(|(role, _)| role == "tool")
        .unwrap()
        .1;
    assert!(
        !tool_result.contains(KEY),
        "run_command handed the key to the child: {tool_result}"
    );
}

#[test]
fn exec_and_skills_say_which_instructions_and_skills_are_in_use() {
    let p = Project::new(vec![
        Reply::text("first").into(),
        Reply::text("second").into(),
    ]);
    write(p.dir.path(), "AGENTS.md", "Project rule: be exact.\n");
    let user_file = p.user_home.path().join(".config/boocode/AGENTS.md");
    write(
        p.user_home.path(),
        ".config/boocode/AGENTS.md",
        "User rule: be brief.\n",
    );
    write(
        p.dir.path(),
        ".claude/skills/pdf/SKILL.md",
        "---\nname: pdf\ndescription: Fill forms\n---\nBody\n",
    );
    write(
        p.user_home.path(),
        ".claude/skills/broken/SKILL.md",
        "no front matter\n",
    );

    let out = p.run(&["exec", "hi"]);
    out.ok();
    let line = format!(
        "instructions: {}, AGENTS.md · skills: pdf\n",
        user_file.display()
    );
    assert!(out.stderr.contains(&line), "{}", out.stderr);
    let system = messages(&p.server.requests()[0])[0].clone();
    assert_eq!(system.0, "system");
    assert!(system.1.contains("User rule: be brief."), "{}", system.1);
    assert!(system.1.contains("Project rule: be exact."));

    let out = p.run(&["exec", "--json", "hi"]);
    out.ok();
    let loaded: Vec<Value> = out
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["type"] == "context_loaded")
        .collect();
    assert_eq!(loaded.len(), 1, "{}", out.stdout);
    assert_eq!(loaded[0]["instructions"][1]["path"], "AGENTS.md");
    assert_eq!(loaded[0]["instructions"][1]["bytes"], 24);
    assert_eq!(loaded[0]["skills"], serde_json::json!(["pdf"]));

    let out = p.output(p.bare(&["skills"]), None);
    out.ok();
    assert!(
        out.stdout.starts_with("pdf — Fill forms (project: "),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("broken/SKILL.md: missing `---` front matter\n"),
        "{}",
        out.stdout
    );
    let out = p.output(p.bare(&["skills", "--json"]), None);
    out.ok();
    let listed: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(listed["skills"][0]["name"], "pdf");
    assert_eq!(listed["skills"][0]["scope"], "project");
    assert!(listed["invalid"][0]["error"]
        .as_str()
        .unwrap()
        .contains("missing `---` front matter"));
}

/// One turn that reads an 8 KB file three times, with a summariser for the compaction it
/// needs in an 8k window. (Small, so that `--json` output fits in the pipe the test reads
/// only after the binary exits.)
fn three_reads_script() -> Vec<Step> {
    let read = |id: &str| {
        Reply::tool_calls(vec![CallSpec::new(
            "read_file",
            r#"{"file_path":"big.txt"}"#,
        )
        .id(id)])
    };
    vec![
        Reply::summary()
            .when(Match::last_user_contains(
                boocode::core::context::compaction::SUMMARY_PROMPT_HEAD,
            ))
            .repeat(),
        Reply::text("Read three times.").when(Match::has_tool_result_for("r3")),
        read("r3").when(Match::has_tool_result_for("r2")),
        read("r2").when(Match::has_tool_result_for("r1")),
        read("r1").into(),
    ]
}

fn compacting_project() -> Project {
    let p = Project::new(three_reads_script());
    p.server.set_context_limit(Some(8_000));
    let line = "0123456789 lorem ipsum dolor sit amet, consectetur adipiscing elit\n";
    write(p.dir.path(), "big.txt", &line.repeat(8 * 1024 / line.len()));
    write(
        p.dir.path(),
        ".boocode/config.toml",
        "[models.mock-model]\ncontext_window = 8000\n",
    );
    p
}

#[test]
fn exec_says_when_it_compacts_the_context() {
    let p = compacting_project();
    let out = p.run(&["exec", "--model", "mock-model", "read big.txt thrice"]);
    out.ok();
    assert_eq!(out.stdout.trim(), "Read three times.");
    let line = out
        .stderr
        .lines()
        .find(|l| l.contains("context compacted: "))
        .unwrap_or_else(|| panic!("{}", out.stderr));
    assert!(line.ends_with(" tokens"), "{line}");

    let p = compacting_project();
    let out = p.run(&[
        "exec",
        "--json",
        "--model",
        "mock-model",
        "read big.txt thrice",
    ]);
    out.ok();
    let compacted: Vec<Value> = out
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["type"] == "context_compacted")
        .collect();
    assert!(!compacted.is_empty(), "{}", out.stdout);
    assert_eq!(compacted[0]["trigger"], "auto");
    assert!(compacted[0]["before"].as_u64() > compacted[0]["after"].as_u64());
    assert!(compacted[0]["summary"]
        .as_str()
        .unwrap()
        .starts_with("Summary of"));
}

#[test]
fn changes_lists_collisions_and_applies_or_rejects_by_prefix() {
    let p = Project::new(edit_readme_script());
    p.run(&["exec", "--approval", "review", "fix the typo"])
        .ok();
    // Another source changes the same line of README.md.
    let store = p.store();
    let project = store.ensure_project(&p.root().to_string_lossy()).unwrap();
    let session = store.create_session(&project.id, "other").unwrap();
    let other = store
        .create_chat(&boocode::core::store::NewChat {
            session_id: &session.id,
            parent_chat_id: None,
            kind: "main",
            title: "",
            model: "m",
            agent: "codex",
        })
        .unwrap();
    let readme = p.root().join("README.md");
    let before = std::fs::read_to_string(&readme).unwrap();
    let after = before.replace("teh", "THE");
    let diff = "--- a/README.md\n+++ b/README.md\n@@ -1,3 +1,3 @@\n # Demo\n \n-This is teh demo project.\n+This is THE demo project.\n";
    let theirs = store
        .insert_pending_change(
            &other.id,
            &readme.to_string_lossy(),
            "README.md",
            Some(&before),
            Some(&after),
            diff,
        )
        .unwrap();
    let mine = store.list_pending_changes(None).unwrap()[0].id.clone();
    assert_ne!(mine, theirs);

    let listed = p.run(&["changes", "--json"]);
    listed.ok();
    let rows: Value = serde_json::from_str(&listed.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0]["id"], mine.as_str());
    assert_eq!(rows[0]["path"], "README.md");
    assert_eq!(rows[0]["agent"], "general-purpose");
    assert_eq!(
        (
            rows[0]["lines_added"].as_u64(),
            rows[0]["lines_removed"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(
        rows[0]["collisions"],
        serde_json::json!([{"change_id": theirs, "agent": "codex", "severity": "same_line"}])
    );
    assert_eq!(rows[1]["collisions"][0]["change_id"], mine.as_str());
    let human = p.run(&["changes"]);
    human.ok();
    assert!(
        human.stdout.contains("collides (same_line) with"),
        "{}",
        human.stdout
    );
    assert!(
        human.stdout.contains("2 pending changes, 1 collision"),
        "{}",
        human.stdout
    );

    // Ids by unique prefix; the second one finds its file changed by the first and refuses.
    let short = rows[0]["short_id"].as_str().unwrap();
    p.run(&["changes", "apply", short]).ok();
    assert_eq!(
        std::fs::read_to_string(&readme).unwrap(),
        "# Demo\n\nThis is the demo project.\n"
    );
    let refused = p.run(&["changes", "apply", &theirs[..12]]);
    assert_eq!(refused.code, 1, "{refused:#?}");
    assert!(
        refused
            .stderr
            .contains("README.md was modified in the main checkout"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&readme).unwrap(),
        "# Demo\n\nThis is the demo project.\n"
    );

    let rejected = p.run(&["changes", "reject", "--all", "--json"]);
    rejected.ok();
    let line: Value = serde_json::from_str(rejected.stdout.trim()).unwrap();
    assert_eq!(line["status"], "rejected");
    assert_eq!(line["id"], theirs.as_str());
    assert_eq!(p.run(&["changes"]).stdout, "no pending changes\n");
    assert_eq!(
        p.run(&["changes", "apply"]).code,
        2,
        "ids or --all are required"
    );
}
