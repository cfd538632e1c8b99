//! Workflow engine benchmarks: overhead per `agent()` call (fresh and cached), a 1,000-agent
//! fan-out under the concurrency cap (wall time, peak RSS of this process and of the worker),
//! and worker start time. Real engine, real worker (this package's release binary,
//! `boocode __workflow-worker`), the scripted model server answering instantly. Run with
//! `cargo bench --bench workflow`; figures are recorded in `benches/RESULTS.md`.
//!
//! Targets: ≤ 1 ms of engine overhead per `agent()` call, worker start ≤ 30 ms.

#[path = "../tests/support/mock_server.rs"]
mod mock_server;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use boocode::core::agent::tools::ApprovalMode;
use boocode::core::agent::{TurnRequest, TurnStatus};
use boocode::core::config::{Config, Environment, Overrides};
use boocode::core::engine::{Engine, EngineOptions};
use boocode::core::store::Session;
use boocode::core::workflow::protocol::{ToWorker, WorkerLimits};
use boocode::core::workflow::{RunOptions, WorkerCommand};
use criterion::{criterion_group, criterion_main, Criterion};
use mock_server::{MockServer, Reply};
use serde_json::json;

/// Sequential `agent()` calls per run in the per-call benchmarks.
const CALLS: u64 = 50;
/// Agents in the fan-out.
const FAN_OUT: usize = 1000;

const SEQUENTIAL: &str = r#"export const meta = { name: 'sequential', description: 'K calls in a row' };
const out = [];
for (let i = 0; i < args.calls; i++) out.push(await agent(`question ${i}`));
return out.length;
"#;

const FAN: &str = r#"export const meta = { name: 'fan', description: 'N calls at once' };
const out = await parallel(Array.from({ length: args.n }, (_, i) => () => agent(`item ${i}`)));
return out.filter((x) => x !== null).length;
"#;

fn cpu_time(clock: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// CPU time of terminated, reaped children (the workers).
fn children_cpu() -> Duration {
    // SAFETY: `usage` is a valid, writable rusage.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    assert_eq!(rc, 0, "getrusage");
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// `VmHWM` (peak resident set) of a process, in KiB.
fn vm_hwm_kib(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn write(root: &Path, rel: &str, content: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

fn worker() -> WorkerCommand {
    WorkerCommand::new(env!("CARGO_BIN_EXE_boocode"), &["__workflow-worker"])
}

struct Fixture {
    engine: Engine,
    session: Session,
    _server: MockServer,
    _project: tempfile::TempDir,
    _home: tempfile::TempDir,
}

fn fixture(rt: &tokio::runtime::Runtime) -> Fixture {
    let project = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    write(project.path(), "README.md", "# Demo\n");
    write(
        project.path(),
        ".boocode/config.toml",
        "retry_backoff_ms = 5\nmax_attempts = 3\n",
    );
    write(
        project.path(),
        ".boocode/workflows/sequential.js",
        SEQUENTIAL,
    );
    write(project.path(), ".boocode/workflows/fan.js", FAN);
    rt.block_on(async {
        let server = MockServer::start(vec![Reply::text("ok").repeat()]).await;
        let env = Environment {
            vars: BTreeMap::from([
                ("HOME".into(), home.path().to_string_lossy().into_owned()),
                (
                    "BOOCODE_HOME".into(),
                    home.path().to_string_lossy().into_owned(),
                ),
            ]),
            user_config: None,
        };
        let config = Config::load(
            project.path(),
            &env,
            &Overrides {
                provider: None,
                base_url: Some(server.base_url()),
                model: Some("mock-model".into()),
                api_key: Some("sk-bench-key".into()),
                approval: Some(ApprovalMode::ReadOnly),
            },
        )
        .unwrap();
        let (engine, mut events, _) = Engine::start(EngineOptions {
            config,
            project_root: project.path().to_path_buf(),
            interactive: false,
        })
        .unwrap();
        engine.set_workflow_worker(worker());
        // A client that keeps up with the events, as the UI does.
        tokio::spawn(async move { while events.recv().await.is_some() {} });
        let session = engine.open_session(None, false).unwrap();
        Fixture {
            engine,
            session,
            _server: server,
            _project: project,
            _home: home,
        }
    })
}

#[derive(Clone, Copy)]
enum Clock {
    Wall,
    /// This process (engine, HTTP client, mock server) plus the reaped workers.
    Cpu,
}

impl Clock {
    fn now(self) -> Duration {
        match self {
            Clock::Wall => EPOCH.get_or_init(Instant::now).elapsed(),
            Clock::Cpu => cpu_time(libc::CLOCK_PROCESS_CPUTIME_ID) + children_cpu(),
        }
    }
}

static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// Time per `agent()` call of runs of `CALLS` sequential calls; `fresh` runs ask the model
/// every time, the others are served from the store (after one warm-up run).
fn per_call(
    rt: &tokio::runtime::Runtime,
    f: &Fixture,
    iters: u64,
    fresh: bool,
    clock: Clock,
) -> Duration {
    let runs = iters.div_ceil(CALLS);
    let options = RunOptions {
        args: json!({"calls": CALLS}),
        fresh,
        ..RunOptions::default()
    };
    let mut total = Duration::ZERO;
    for _ in 0..runs {
        let started = clock.now();
        let outcome = rt
            .block_on(f.engine.run_workflow("sequential", options.clone()))
            .unwrap();
        total += clock.now() - started;
        assert_eq!(outcome.status, "completed", "{outcome:?}");
        let expect_cached = if fresh { 0 } else { CALLS as usize };
        assert_eq!(outcome.cached, expect_cached, "{outcome:?}");
    }
    total.mul_f64(iters as f64 / (runs * CALLS) as f64)
}

/// One plain turn (a single instant text reply) in a new chat: the agent loop's own cost, for
/// comparison with a fresh `agent()` call.
fn plain_turns(rt: &tokio::runtime::Runtime, f: &Fixture, iters: u64, clock: Clock) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let chat = f.engine.new_chat(&f.session, "main", None).unwrap();
        let request = TurnRequest::new(&chat.id, "question", ApprovalMode::ReadOnly);
        let started = clock.now();
        let outcome = rt.block_on(f.engine.run_turn(request));
        total += clock.now() - started;
        assert_eq!(outcome.status, TurnStatus::Completed);
    }
    total
}

fn bench_per_call(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let f = fixture(&rt);
    // Fills the store so the cached runs hit.
    per_call(&rt, &f, CALLS, true, Clock::Wall);
    eprintln!("load average before agent_call: {}", load_average());
    let mut group = c.benchmark_group("workflow_agent_call");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(6));
    group.bench_function("plain_turn", |b| {
        b.iter_custom(|iters| plain_turns(&rt, &f, iters, Clock::Wall))
    });
    group.bench_function("plain_turn_cpu_time", |b| {
        b.iter_custom(|iters| plain_turns(&rt, &f, iters, Clock::Cpu))
    });
    group.bench_function("fresh", |b| {
        b.iter_custom(|iters| per_call(&rt, &f, iters, true, Clock::Wall))
    });
    group.bench_function("fresh_cpu_time", |b| {
        b.iter_custom(|iters| per_call(&rt, &f, iters, true, Clock::Cpu))
    });
    group.bench_function("cached", |b| {
        b.iter_custom(|iters| per_call(&rt, &f, iters, false, Clock::Wall))
    });
    group.bench_function("cached_cpu_time", |b| {
        b.iter_custom(|iters| per_call(&rt, &f, iters, false, Clock::Cpu))
    });
    group.finish();
    f.engine.shutdown();
}

/// One fan-out of `FAN_OUT` agents: wall time, CPU time, and the peak RSS of the worker
/// (sampled from /proc while it runs).
fn fan_out_once(rt: &tokio::runtime::Runtime, f: &Fixture) -> (Duration, Duration, u64) {
    let _runtime = rt.enter();
    let cpu = Clock::Cpu.now();
    let started = Instant::now();
    let run_id = f
        .engine
        .start_workflow(
            "fan",
            RunOptions {
                args: json!({"n": FAN_OUT}),
                fresh: true,
                ..RunOptions::default()
            },
        )
        .unwrap();
    let mut worker_hwm = 0;
    let status = rt.block_on(async {
        loop {
            if let Some(pid) = f.engine.workflow_worker_pid(&run_id) {
                if let Some(kib) = vm_hwm_kib(&pid.to_string()) {
                    worker_hwm = worker_hwm.max(kib);
                }
            }
            let run = f.engine.store().get_workflow_run(&run_id).unwrap();
            if run.finished_at.is_some() && f.engine.workflow_worker_pid(&run_id).is_none() {
                break run;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    let wall = started.elapsed();
    assert_eq!(status.status, "completed", "{status:?}");
    assert_eq!(status.result, Some(json!(FAN_OUT)));
    (wall, Clock::Cpu.now() - cpu, worker_hwm)
}

fn bench_fan_out(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let f = fixture(&rt);
    let cap = f.engine.rt.config.workflow_concurrency;
    let before = vm_hwm_kib("self").unwrap_or(0);
    let mut rows = Vec::new();
    for _ in 0..3 {
        rows.push(fan_out_once(&rt, &f));
    }
    let after = vm_hwm_kib("self").unwrap_or(0);
    for (i, (wall, cpu, hwm)) in rows.iter().enumerate() {
        eprintln!(
            "fan_out_{FAN_OUT} run {i}: wall {wall:.2?}, cpu (process + workers) {cpu:.2?}, worker VmHWM {hwm} KiB, concurrency cap {cap}, load {}",
            load_average()
        );
    }
    eprintln!("fan_out_{FAN_OUT}: bench process VmHWM {before} KiB before, {after} KiB after");
    let mut group = c.benchmark_group("workflow_fan_out");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(100))
        .measurement_time(Duration::from_secs(10));
    group.bench_function(format!("agents_{FAN_OUT}"), |b| {
        b.iter_custom(|iters| (0..iters).map(|_| fan_out_once(&rt, &f).0).sum())
    });
    group.finish();
    f.engine.shutdown();
}

/// Spawn → first protocol line of a trivial script (`log` then `return`), as the engine
/// spawns it (scrubbed environment, pipes).
fn worker_start() -> Duration {
    let start = ToWorker::Start {
        source: "export const meta = { name: 'hello' };\nlog('hello');\nreturn 1;\n".into(),
        origin: "hello.js".into(),
        args: json!(null),
        budget_total: None,
        budget_spent: 0,
        limits: WorkerLimits::default(),
    };
    let mut line = serde_json::to_string(&start).unwrap();
    line.push('\n');
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_boocode"))
        .arg("__workflow-worker")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn worker");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(line.as_bytes())
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let elapsed = started.elapsed();
    assert!(first.contains("\"log\""), "{first}");
    child.wait().unwrap();
    elapsed
}

fn bench_worker_start(c: &mut Criterion) {
    eprintln!("load average before worker_start: {}", load_average());
    let mut group = c.benchmark_group("workflow_worker_start");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(7));
    group.bench_function("spawn_to_first_line", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| worker_start()).sum())
    });
    group.bench_function("spawn_to_first_line_cpu_time", |b| {
        b.iter_custom(|iters| {
            let before = children_cpu();
            for _ in 0..iters {
                worker_start();
            }
            children_cpu() - before
        })
    });
    group.finish();
}

/// The default loop limit (10 million iterations of one loop) in the release worker: how long
/// `while (true) {}` runs before the run fails.
fn bench_loop_limit(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let f = fixture(&rt);
    write(
        &f.engine.rt.project_root,
        ".boocode/workflows/spin.js",
        "export const meta = { name: 'spin' };\nlet n = 0;\nwhile (true) { n += 1; }\n",
    );
    let mut group = c.benchmark_group("workflow_loop_limit");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(100))
        .measurement_time(Duration::from_secs(5));
    group.bench_function("default_limit_while_true", |b| {
        b.iter_custom(|iters| {
            let started = Instant::now();
            for _ in 0..iters {
                let outcome = rt
                    .block_on(f.engine.run_workflow("spin", RunOptions::default()))
                    .unwrap();
                assert!(
                    outcome
                        .error
                        .as_deref()
                        .unwrap_or("")
                        .contains("loop iteration limit"),
                    "{outcome:?}"
                );
            }
            started.elapsed()
        })
    });
    group.finish();
    f.engine.shutdown();
}

criterion_group!(
    benches,
    bench_worker_start,
    bench_per_call,
    bench_fan_out,
    bench_loop_limit
);
criterion_main!(benches);
