//! End-to-end tests of the workflow worker: the real binary's `__workflow-worker` subcommand as a
//! child process, with this test playing the parent (answering `agent()` calls with canned
//! values and `workflow()` lookups from a map).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use boocode::core::workflow::protocol::{AgentSpec, FromWorker, ToWorker, WorkerLimits};
use boocode::core::workflow::script_host::STALLED;
use serde_json::{json, Value};

const TIMEOUT: Duration = Duration::from_secs(60);

fn test_limits() -> WorkerLimits {
    WorkerLimits {
        // Small enough that a runaway loop stops quickly in a debug build.
        max_loop_iterations: 200_000,
        max_recursion: 256,
        max_nesting: 256,
        max_memory_bytes: 1024 * 1024 * 1024,
        max_cpu_seconds: 60,
        ..WorkerLimits::default()
    }
}

fn run_with(source: &str, limits: WorkerLimits) -> Vec<FromWorker> {
    drive(
        Worker::start_with(source, Value::Null, None, limits),
        &HashMap::new(),
    )
}

struct Worker {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
}

impl Worker {
    fn spawn() -> Worker {
        let mut child = Command::new(env!("CARGO_BIN_EXE_boocode"))
            .arg("__workflow-worker")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn worker");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        Worker {
            child,
            stdin,
            lines: rx,
        }
    }

    fn start_with(
        source: &str,
        args: Value,
        budget_total: Option<u64>,
        limits: WorkerLimits,
    ) -> Worker {
        let mut w = Worker::spawn();
        w.send(&ToWorker::Start {
            source: source.into(),
            origin: "test.js".into(),
            args,
            budget_total,
            budget_spent: 0,
            limits,
        });
        w
    }

    fn start(source: &str, args: Value) -> Worker {
        Worker::start_with(source, args, None, test_limits())
    }

    fn send(&mut self, msg: &ToWorker) {
        let mut line = serde_json::to_string(msg).expect("serialize");
        line.push('\n');
        if let Some(stdin) = self.stdin.as_mut() {
            // The worker may already have exited (a test of failure); that is fine.
            let _ = stdin.write_all(line.as_bytes());
            let _ = stdin.flush();
        }
    }

    /// The next protocol message, or `None` when the worker closed stdout.
    fn next(&mut self) -> Option<FromWorker> {
        match self.lines.recv_timeout(TIMEOUT) {
            Ok(line) => Some(
                serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("not a protocol line ({e}): {line:?}")),
            ),
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => {
                let _ = self.child.kill();
                panic!("the worker did not answer within {TIMEOUT:?}");
            }
        }
    }

    fn agent_result(&mut self, call_id: u64, value: Value, spent: u64) {
        self.send(&ToWorker::AgentResult {
            call_id,
            value: Some(value),
            error: None,
            budget_spent: spent,
        });
    }

    fn exit_code(&mut self) -> Option<i32> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the worker did not exit");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Plays the parent until the run ends: `agent(p)` answers `"echo:" + p` (an object
/// `{ echo: p }` when a schema was given), an error for prompts starting with `fail:`;
/// `workflow(name)` is looked up in `workflows`. Returns every message, the answers excluded.
fn drive(mut w: Worker, workflows: &HashMap<&str, &str>) -> Vec<FromWorker> {
    let mut seen = Vec::new();
    let mut spent = 0;
    while let Some(msg) = w.next() {
        match &msg {
            FromWorker::Agent { call_id, spec } => {
                spent += 10;
                if let Some(reason) = spec.prompt.strip_prefix("fail:") {
                    w.send(&ToWorker::AgentResult {
                        call_id: *call_id,
                        value: None,
                        error: Some(format!("agent failed: {reason}")),
                        budget_spent: spent,
                    });
                } else if spec.schema.is_some() {
                    w.agent_result(*call_id, json!({ "echo": spec.prompt }), spent);
                } else {
                    w.agent_result(*call_id, json!(format!("echo:{}", spec.prompt)), spent);
                }
            }
            FromWorker::ResolveWorkflow {
                call_id,
                name,
                script_path,
            } => {
                let key = name.clone().or(script_path.clone()).unwrap_or_default();
                let reply = match workflows.get(key.as_str()) {
                    Some(src) => ToWorker::WorkflowSource {
                        call_id: *call_id,
                        source: Some(src.to_string()),
                        origin: Some(format!("{key}.js")),
                        error: None,
                    },
                    None => ToWorker::WorkflowSource {
                        call_id: *call_id,
                        source: None,
                        origin: None,
                        error: Some(format!("no workflow named {key}")),
                    },
                };
                w.send(&reply);
            }
            _ => {}
        }
        let end = matches!(msg, FromWorker::Done { .. } | FromWorker::Failed { .. });
        seen.push(msg);
        if end {
            break;
        }
    }
    seen
}

fn run(source: &str, args: Value) -> Vec<FromWorker> {
    drive(Worker::start(source, args), &HashMap::new())
}

fn last(msgs: &[FromWorker]) -> &FromWorker {
    msgs.last().expect("at least one message")
}

fn done(msgs: &[FromWorker]) -> Value {
    match last(msgs) {
        FromWorker::Done { result } => result.clone(),
        other => panic!("expected done, got {other:?} after {msgs:?}"),
    }
}

fn failed(msgs: &[FromWorker]) -> (String, String) {
    match last(msgs) {
        FromWorker::Failed { kind, message } => (kind.clone(), message.clone()),
        other => panic!("expected failed, got {other:?} after {msgs:?}"),
    }
}

fn logs(msgs: &[FromWorker]) -> Vec<String> {
    msgs.iter()
        .filter_map(|m| match m {
            FromWorker::Log { message } => Some(message.clone()),
            _ => None,
        })
        .collect()
}

fn agent(call_id: u64, prompt: &str) -> FromWorker {
    FromWorker::Agent {
        call_id,
        spec: AgentSpec {
            prompt: prompt.into(),
            ..AgentSpec::default()
        },
    }
}

const META: &str = "export const meta = { name: 't', description: 'test' };\n";

#[test]
fn claude_code_shape_top_level_await_and_return() {
    let src = format!(
        "{META}const a = await agent('one');\nconst b = await agent('two');\nreturn [a, b];\n"
    );
    let msgs = run(&src, Value::Null);
    assert_eq!(
        msgs,
        vec![
            agent(1, "one"),
            agent(2, "two"),
            FromWorker::Done {
                result: json!(["echo:one", "echo:two"])
            }
        ]
    );
}

#[test]
fn module_shape_export_default() {
    let src = format!(
        "{META}export default async function main(args) {{\n  return {{ got: args, r: await agent('x') }};\n}}\n"
    );
    assert_eq!(
        done(&run(&src, json!({"k": 1}))),
        json!({"got": {"k": 1}, "r": "echo:x"})
    );
    let src = format!("{META}export default async (args) => args.n * 2;\n");
    assert_eq!(done(&run(&src, json!({"n": 21}))), json!(42));
}

#[test]
fn commonjs_shapes() {
    let src =
        format!("{META}module.exports = async function (args) {{ return 'cjs:' + args; }};\n");
    assert_eq!(done(&run(&src, json!("a"))), json!("cjs:a"));
    let src = format!("{META}module.exports.default = async (args) => ({{ d: args }});\n");
    assert_eq!(done(&run(&src, json!(3))), json!({"d": 3}));
}

#[test]
fn runs_without_meta_and_undefined_is_null() {
    assert_eq!(done(&run("log('hi')", Value::Null)), Value::Null);
}

#[test]
fn args_pass_through_exactly() {
    let src = format!("{META}return {{ type: typeof args, args }};\n");
    assert_eq!(
        done(&run(&src, json!("{\"a\":1}"))),
        json!({"type": "string", "args": "{\"a\":1}"})
    );
    assert_eq!(
        done(&run(&src, json!({"a": [1, 2]}))),
        json!({"type": "object", "args": {"a": [1, 2]}})
    );
}

#[test]
fn parallel_order_failure_and_thunk_check() {
    let src = format!(
        "{META}const r = await parallel([() => agent('a'), () => agent('fail:b'), () => agent('c'), () => {{ throw new TypeError('sync') }}]);\nreturn r;\n"
    );
    let msgs = run(&src, Value::Null);
    assert_eq!(done(&msgs), json!(["echo:a", null, "echo:c", null]));
    assert_eq!(
        logs(&msgs),
        vec![
            "parallel[3] failed: sync".to_string(),
            "parallel[1] failed: agent failed: b".to_string()
        ]
    );
    // Calls start in input order.
    let prompts: Vec<_> = msgs
        .iter()
        .filter_map(|m| match m {
            FromWorker::Agent { spec, .. } => Some(spec.prompt.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(prompts, vec!["a", "fail:b", "c"]);

    let src = format!("{META}\nawait parallel([agent('a')]);\n");
    let (kind, message) = failed(&run(&src, Value::Null));
    assert_eq!(kind, "error");
    assert_eq!(
        message,
        "TypeError: parallel() takes an array of functions (thunks), got a Promise at index 0 — wrap each call: () => agent(...) (at test.js:3:15)"
    );
}

#[test]
fn pipeline_stage_arguments_and_drops() {
    let src = format!(
        "{META}return await pipeline([1, 2, 3, 4],\n  (prev, item, i) => {{ if (item === 2) throw new Error('two'); return [prev, item, i]; }},\n  (prev, item, i) => item === 3 ? null : {{ prev, item, i }},\n  (prev) => ({{ last: prev }}));\n"
    );
    let msgs = run(&src, Value::Null);
    assert_eq!(
        done(&msgs),
        json!([
            {"last": {"prev": [1, 1, 0], "item": 1, "i": 0}},
            null,
            null,
            {"last": {"prev": [4, 4, 3], "item": 4, "i": 3}}
        ])
    );
    assert_eq!(logs(&msgs), vec!["pipeline[1] failed at stage 0: two"]);
}

#[test]
fn pipeline_has_no_barrier_between_stages() {
    let src = format!(
        "{META}return await pipeline(['a', 'b'], (x) => agent('s1:' + x), (prev) => agent('s2:' + prev));\n"
    );
    let mut w = Worker::start(&src, Value::Null);
    assert_eq!(w.next(), Some(agent(1, "s1:a")));
    assert_eq!(w.next(), Some(agent(2, "s1:b")));
    // Only item 0 finishes stage 1; it must reach stage 2 while item 1 is still in stage 1.
    w.agent_result(1, json!("A"), 1);
    assert_eq!(w.next(), Some(agent(3, "s2:A")));
    w.agent_result(3, json!("A2"), 2);
    w.agent_result(2, json!("B"), 3);
    assert_eq!(w.next(), Some(agent(4, "s2:B")));
    w.agent_result(4, json!("B2"), 4);
    assert_eq!(
        w.next(),
        Some(FromWorker::Done {
            result: json!(["A2", "B2"])
        })
    );
    assert_eq!(w.exit_code(), Some(0));
}

#[test]
fn nested_workflow_one_level_only() {
    let child = "export const meta = { name: 'child' };\nconst r = await agent('child:' + args.x);\nreturn { r, args };\n";
    let deeper =
        "export const meta = { name: 'deeper' };\nreturn await workflow('child', { x: 2 });\n";
    let module_child =
        "export const meta = { name: 'm' };\nexport default async function main(a) { return { m: a }; }\n";
    let workflows = HashMap::from([("child", child), ("deeper", deeper), ("m.js", module_child)]);
    let src = format!(
        "{META}const a = await workflow('child', {{ x: 1 }});\nconst b = await workflow({{ scriptPath: 'm.js' }}, 's');\nlet c;\ntry {{ await workflow('deeper'); }} catch (e) {{ c = e.message; }}\nreturn {{ a, b, c }};\n"
    );
    let msgs = drive(Worker::start(&src, Value::Null), &workflows);
    assert_eq!(
        done(&msgs),
        json!({
            "a": {"r": "echo:child:1", "args": {"x": 1}},
            "b": {"m": "s"},
            "c": "workflow() nesting is limited to one level"
        })
    );
    assert!(msgs.contains(&FromWorker::ResolveWorkflow {
        call_id: 1,
        name: Some("child".into()),
        script_path: None
    }));
    assert!(msgs.contains(&FromWorker::ResolveWorkflow {
        call_id: 3,
        name: None,
        script_path: Some("m.js".into())
    }));

    // An unknown workflow rejects with the parent's error.
    let src = format!("{META}await workflow('nope');\n");
    let (kind, message) = failed(&drive(Worker::start(&src, Value::Null), &workflows));
    assert_eq!(
        (kind.as_str(), message.as_str()),
        ("error", "Error: no workflow named nope")
    );
}

#[test]
fn budget_values() {
    let src = format!(
        "{META}const before = [budget.total, budget.spent(), budget.remaining()];\nawait agent('x');\nreturn [before, budget.spent(), budget.remaining()];\n"
    );
    let mut w = Worker::spawn();
    w.send(&ToWorker::Start {
        source: src.clone(),
        origin: "test.js".into(),
        args: Value::Null,
        budget_total: Some(100),
        budget_spent: 30,
        limits: test_limits(),
    });
    assert_eq!(w.next(), Some(agent(1, "x")));
    w.agent_result(1, json!("ok"), 120);
    assert_eq!(
        w.next(),
        Some(FromWorker::Done {
            result: json!([[100, 30, 70], 120, 0])
        })
    );
    // No total: null and Infinity (which JSON turns into null).
    let src = format!("{META}return [budget.total, budget.remaining() === Infinity];\n");
    assert_eq!(done(&run(&src, Value::Null)), json!([null, true]));
}

#[test]
fn phases_tag_agent_specs() {
    let src = format!(
        "{META}await agent('a');\nphase('Review');\nawait agent('b');\nawait agent('c', {{ phase: 'Other', label: 'L', model: 'm', effort: 'high', agentType: 'x', isolation: 'worktree', agent: 'codex', timeout_ms: 5, retries: 2, schema: {{ type: 'object' }} }});\nconsole.log('n', 1, {{ a: 1 }});\n"
    );
    let msgs = run(&src, Value::Null);
    assert_eq!(
        msgs,
        vec![
            agent(1, "a"),
            FromWorker::Phase {
                title: "Review".into()
            },
            FromWorker::Agent {
                call_id: 2,
                spec: AgentSpec {
                    prompt: "b".into(),
                    phase: Some("Review".into()),
                    ..AgentSpec::default()
                }
            },
            FromWorker::Agent {
                call_id: 3,
                spec: AgentSpec {
                    prompt: "c".into(),
                    schema: Some(json!({"type": "object"})),
                    label: Some("L".into()),
                    phase: Some("Other".into()),
                    model: Some("m".into()),
                    effort: Some("high".into()),
                    agent_type: Some("x".into()),
                    isolation: Some("worktree".into()),
                    agent: Some("codex".into()),
                    timeout_ms: Some(5),
                    retries: Some(2),
                }
            },
            FromWorker::Log {
                message: "n 1 {\"a\":1}".into()
            },
            FromWorker::Done {
                result: Value::Null
            }
        ]
    );
}

#[test]
fn agent_argument_errors() {
    let src = format!("{META}await agent('');\n");
    assert_eq!(
        failed(&run(&src, Value::Null)).1,
        "TypeError: agent() needs a non-empty prompt (at test.js:2:12)"
    );
    let src = format!("{META}await agent(42);\n");
    assert!(failed(&run(&src, Value::Null)).1.starts_with(
        "TypeError: agent() takes a prompt string as its first argument, got a number"
    ));
}

#[test]
fn stalled_is_detected() {
    let src = format!("{META}await new Promise(() => {{}});\n");
    assert_eq!(
        failed(&run(&src, Value::Null)),
        ("stalled".to_string(), STALLED.to_string())
    );
}

#[test]
fn thrown_error_has_name_message_file_line_and_column() {
    // Positions are the user's: file, line and column as written, not the wrapper's.
    let src = format!("{META}const x = 1;\n\nthrow new RangeError('bad ' + x);\n");
    assert_eq!(
        failed(&run(&src, Value::Null)),
        (
            "error".to_string(),
            "RangeError: bad 1 (at test.js:4:7)".to_string()
        )
    );
    let src = "const o = null;\n    const n = Object.keys(o);\n";
    assert_eq!(
        failed(&run(src, Value::Null)).1,
        "TypeError: cannot convert 'null' or 'undefined' to object (at test.js:2:26)"
    );
    // The first line is the user's line 1, columns unshifted by the wrapper.
    assert_eq!(
        failed(&run("  null.x;\n", Value::Null)).1,
        "TypeError: cannot convert 'null' or 'undefined' to object (at test.js:1:8)"
    );
    // Boa places some errors (an undefined name, destructuring) at the start of the enclosing
    // function's body: that is said, never passed off as the line of the error.
    let src = format!("{META}const y = 2;\nundefinedThing(y);\n");
    assert_eq!(
        failed(&run(&src, Value::Null)).1,
        "ReferenceError: undefinedThing is not defined (in the top-level code of test.js; the \
         engine gives no line for this error)"
    );
    let src = format!("{META}function f(o) {{\n  const {{ a }} = o;\n}}\nf(null);\n");
    assert_eq!(
        failed(&run(&src, Value::Null)).1,
        "TypeError: Cannot destructure 'null' value (in the function whose body starts at \
         test.js:2:15; the engine gives no line inside it for this error)"
    );
    // A syntax error too is placed in the user's file.
    let src = format!("{META}const a = ;\n");
    assert_eq!(
        failed(&run(&src, Value::Null)),
        (
            "invalid".to_string(),
            "SyntaxError: unexpected token ';', primary expression (at test.js:2:11)".to_string()
        )
    );
    // An error in a nested workflow names that workflow's file.
    let child = "export const meta = { name: 'child' };\n\nreturn args.x.y;\n";
    let src = format!("{META}return await workflow('child', {{}});\n");
    let msgs = drive(
        Worker::start(&src, Value::Null),
        &HashMap::from([("child", child)]),
    );
    assert_eq!(
        failed(&msgs).1,
        "TypeError: cannot convert 'null' or 'undefined' to object (at child.js:3:15)"
    );
}

#[test]
fn non_serialisable_result() {
    let src = format!("{META}const a = {{}}; a.self = a; return a;\n");
    let (kind, message) = failed(&run(&src, Value::Null));
    assert_eq!(kind, "error");
    assert!(
        message.starts_with("TypeError: the workflow's result is not JSON-serialisable"),
        "{message}"
    );
    let src = format!("{META}return () => 1;\n");
    assert!(failed(&run(&src, Value::Null))
        .1
        .contains("it is a function"));
}

#[test]
fn infinite_loop_hits_the_limit() {
    let started = Instant::now();
    let src = format!("{META}while (true) {{}}\n");
    let (kind, message) = failed(&run(&src, Value::Null));
    assert_eq!(kind, "limit");
    assert!(message.contains("loop iteration limit"), "{message}");
    // After an `await`, Boa drops the limit error when it resumes the async function (the
    // resumption's completion is discarded), so the run cannot see it: it ends as `stalled`,
    // promptly, which is still a failure and never a hang.
    let src = format!("{META}await agent('a');\nfor (;;) {{}}\n");
    let (kind, _) = failed(&run(&src, Value::Null));
    assert!(kind == "limit" || kind == "stalled", "{kind}");
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn deep_recursion_hits_the_limit() {
    let src = format!("{META}function f(n) {{ return f(n + 1) + 1; }}\nf(0);\n");
    let (kind, message) = failed(&run(&src, Value::Null));
    assert_eq!(kind, "limit");
    assert!(message.contains("recursion limit"), "{message}");
}

#[test]
fn deep_nesting_is_refused_before_parsing() {
    let src = format!(
        "{META}return {}{};\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let (kind, message) = failed(&run(&src, Value::Null));
    assert_eq!(kind, "invalid");
    assert!(
        message.contains("nests brackets deeper than 256 levels (line 2)"),
        "{message}"
    );
    // Nesting just under the limit still parses and runs.
    let src = format!(
        "{META}const x = {}1{};\nreturn x.length;\n",
        "[".repeat(250),
        "]".repeat(250)
    );
    assert_eq!(done(&run(&src, Value::Null)), json!(1));
}

#[test]
fn oversized_script_is_refused() {
    let src = format!("{META}// {}\n", "x".repeat(600 * 1024));
    let (kind, message) = failed(&run(&src, Value::Null));
    assert_eq!(kind, "invalid");
    assert!(message.contains("limited to 512 KB"), "{message}");
}

#[test]
fn huge_allocation_dies_or_fails_but_never_hangs() {
    for body in [
        "new Array(1e9).fill(1);\nreturn 1;",
        "let s = 'x';\nwhile (true) s = s + s;",
    ] {
        // A sparse `fill` of 1e9 elements is a native loop no Boa limit sees: the CPU limit
        // ends it. String doubling runs into the address-space limit and aborts.
        let limits = WorkerLimits {
            max_memory_bytes: 512 * 1024 * 1024,
            max_cpu_seconds: 3,
            ..test_limits()
        };
        let mut w = Worker::start_with(&format!("{META}{body}\n"), Value::Null, None, limits);
        let msg = w.next();
        match &msg {
            None | Some(FromWorker::Failed { .. }) => {}
            other => panic!("expected death or failure for {body:?}, got {other:?}"),
        }
        let code = w.exit_code();
        assert_ne!(code, Some(0), "{body:?}: {msg:?}");
    }
}

#[test]
fn string_repeat_is_not_charged_as_a_loop() {
    // Boa's native repeat counted every repetition against the loop limit (200,000 here), so
    // this failed as "hit the loop iteration limit" in a script without a loop.
    let src = format!(
        "{META}return ['x'.repeat(2e7).length, 'ab'.repeat(3), 'a'.repeat(0), ''.repeat(5), \
         String.prototype.repeat.call(7, 2.9), 'q'.repeat('2')];\n"
    );
    assert_eq!(
        done(&run(&src, Value::Null)),
        json!([20_000_000, "ababab", "", "", "77", "qq"])
    );
    let src = format!("{META}try {{ 'a'.repeat(-1); }} catch (e) {{ return e.name; }}\n");
    assert_eq!(done(&run(&src, Value::Null)), json!("RangeError"));
}

#[test]
fn a_result_over_the_cap_is_refused_with_a_clear_error() {
    let limits = WorkerLimits {
        max_result_bytes: 1024,
        ..test_limits()
    };
    let src = format!("{META}return 'x'.repeat(2000);\n");
    let (kind, message) = failed(&run_with(&src, limits.clone()));
    assert_eq!(kind, "limit");
    assert!(
        message.starts_with("the workflow's result is 2.0 KB of JSON")
            && message.contains("at most 1.0 KB ([workflow_limits] result_kb)"),
        "{message}"
    );
    // Under the cap it is returned as it is.
    let src = format!("{META}return 'x'.repeat(1000);\n");
    assert_eq!(done(&run_with(&src, limits)), json!("x".repeat(1000)));
}

#[test]
fn a_log_line_over_the_cap_throws_a_range_error() {
    let limits = WorkerLimits {
        max_log_bytes: 100,
        ..test_limits()
    };
    let src = format!(
        "{META}log('short');\ntry {{ log('y'.repeat(300)); }} catch (e) {{ log(e.name); return e.message; }}\n"
    );
    let msgs = run_with(&src, limits.clone());
    assert_eq!(logs(&msgs), ["short", "RangeError"]);
    assert_eq!(
        done(&msgs),
        json!("the log() line is 300 bytes; it may be at most 100 bytes ([workflow_limits] log_line_kb)")
    );
    // Uncaught, it fails the run like any throw, and names the line.
    let src = format!("{META}\nlog('z'.repeat(300));\n");
    let (kind, message) = failed(&run_with(&src, limits));
    assert_eq!(kind, "error");
    assert!(
        message.starts_with("RangeError: the log() line is 300 bytes"),
        "{message}"
    );
}

#[test]
fn the_memory_ceiling_ends_a_growing_script_within_seconds() {
    let limits = WorkerLimits {
        max_memory_bytes: 128 * 1024 * 1024,
        ..test_limits()
    };
    let started = Instant::now();
    // Distinct 4 MB strings: memory grows fast even in a debug build, where Boa fills arrays
    // too slowly for that.
    let src = format!(
        "{META}function big(n) {{ let s = 'x'; while (s.length < n) s += s; return s; }}\n\
         const a = [];\nwhile (true) a.push(big(4e6) + a.length);\n"
    );
    let (kind, message) = failed(&run_with(&src, limits));
    assert_eq!(
        (kind.as_str(), message.as_str()),
        (
            "limit",
            "the script used more than 128.0 MB of memory, its ceiling ([workflow_limits] memory_mb)"
        )
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn the_cpu_budget_ends_a_busy_script_and_says_so() {
    let limits = WorkerLimits {
        max_loop_iterations: u64::MAX,
        max_cpu_seconds: 1,
        ..test_limits()
    };
    let src = format!("{META}while (true) {{}}\n");
    let (kind, message) = failed(&run_with(&src, limits));
    assert_eq!(kind, "limit");
    assert!(
        message.starts_with(
            "the script used more than 1 s of CPU time, its budget ([workflow_limits] cpu_seconds"
        ),
        "{message}"
    );
}

#[test]
fn sandbox_escapes_are_refused() {
    let cases = [
        ("require('fs')", "ReferenceError"),
        ("process.env", "ReferenceError"),
        ("fetch('http://x')", "ReferenceError"),
        ("eval('1')", "EvalError: eval() is not available"),
        ("(0, eval)('1')", "EvalError: eval() is not available"),
        (
            "new Function('return 1')",
            "EvalError: the Function constructor is not available",
        ),
        (
            "Function('x')",
            "EvalError: the Function constructor is not available",
        ),
        (
            "(function(){}).constructor('return 1')",
            "EvalError: the Function constructor is not available",
        ),
        (
            "(() => 1).constructor.constructor('return 1')()",
            "EvalError: the Function constructor",
        ),
        (
            "(async function(){}).constructor('return 1')",
            "EvalError: the AsyncFunction constructor",
        ),
        (
            "(function*(){}).constructor('yield 1')",
            "EvalError: the GeneratorFunction constructor",
        ),
        (
            "agent.constructor('return 1')",
            "EvalError: the Function constructor",
        ),
        (
            "await import('fs')",
            "TypeError: import() is not available in workflows",
        ),
    ];
    for (code, want) in cases {
        let src = format!("{META}{code};\nreturn 'escaped';\n");
        let msgs = run(&src, Value::Null);
        let (kind, message) = failed(&msgs);
        assert_eq!(kind, "error", "{code}: {message}");
        assert!(message.contains(want), "{code}: {message}");
    }
    let src = format!("{META}import fs from 'fs';\nreturn 1;\n");
    let (kind, message) = failed(&run(&src, Value::Null));
    assert_eq!(kind, "invalid");
    assert!(
        message.contains("line 2: `import` is not allowed in workflows"),
        "{message}"
    );
    // Nothing else is on the global object but the ECMAScript built-ins and the API.
    let src = format!(
        "{META}return Object.getOwnPropertyNames(globalThis).filter(k => ['require','process','fetch','console','module','Deno','Bun','$boa'].includes(k));\n"
    );
    assert_eq!(done(&run(&src, Value::Null)), json!(["console"]));
}

#[test]
fn bad_meta_is_invalid() {
    let src = "export const meta = { name: 'x', phases: [1, 2, f()] };\nreturn 1;\n";
    assert_eq!(
        failed(&run(src, Value::Null)),
        (
            "invalid".to_string(),
            "meta.phases[2]: a function call is not allowed in meta (must be a literal) (line 1)"
                .to_string()
        )
    );
}
