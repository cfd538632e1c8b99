//! Core benchmarks: SSE assembly throughput, trace insert rate, agent-loop overhead per tool
//! round-trip. Run with `cargo bench --bench core`; figures are recorded in `benches/RESULTS.md`.
//!
//! Targets: SSE assembly ≥ 200 MB/s, trace inserts ≥ 20k rows/s with batching, ≤ 2 ms of
//! overhead per tool round-trip against a server that answers instantly.

#[path = "../tests/support/mock_server.rs"]
mod mock_server;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use boocode::core::agent::tools::ApprovalMode;
use boocode::core::agent::{TurnRequest, TurnStatus, GENERAL_PURPOSE};
use boocode::core::config::{Config, Environment, Overrides};
use boocode::core::engine::{Engine, EngineOptions};
use boocode::core::llm::sse::{Flow, SseDecoder, DEFAULT_MAX_LINE_BYTES};
use boocode::core::llm::{assemble_sse, SseOptions, StreamAssembler};
use boocode::core::store::{new_id, now, NewChat, Store, TraceCompletion, TraceRow};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use mock_server::{MockServer, Reply};

/// Size of the pieces the byte stream is cut into (a typical HTTP read).
const CHUNK_BYTES: usize = 4096;
/// Rows per `insert_traces` call.
const TRACE_BATCH: usize = 1_000;

/// CPU time of this thread or of the whole process. The machine is shared (2 cores, other
/// builds running), so wall-clock figures swing with the load; CPU time does much less.
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

/// Runs `f` `iters` times and returns the thread CPU time it took.
fn thread_cpu<R>(iters: u64, mut f: impl FnMut() -> R) -> Duration {
    let start = cpu_time(libc::CLOCK_THREAD_CPUTIME_ID);
    for _ in 0..iters {
        black_box(f());
    }
    cpu_time(libc::CLOCK_THREAD_CPUTIME_ID) - start
}

// ---------------------------------------------------------------------------------------------
// 1. SSE assembly
// ---------------------------------------------------------------------------------------------

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sse");
    let mut found: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .expect("fixture dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("sse"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("fixture"))
        })
        .collect();
    found.sort();
    assert!(!found.is_empty(), "no .sse fixtures in {}", dir.display());
    found
}

/// The full byte path: SSE decoder + assembler over `CHUNK_BYTES` pieces, as the client runs
/// it (on a tokio runtime, which times the wait for usage after a finish reason).
fn assemble_bytes(rt: &tokio::runtime::Runtime, data: &[u8]) -> usize {
    let stream = futures::stream::iter(data.chunks(CHUNK_BYTES).map(Ok::<&[u8], Infallible>));
    let mut events = 0usize;
    let response = rt
        .block_on(assemble_sse(stream, SseOptions::default(), |e| {
            black_box(e);
            events += 1;
        }))
        .expect("fixture assembles");
    black_box(response);
    events
}

/// The `data:` payloads of a fixture, as the SSE parser would hand them to the assembler.
fn data_lines(data: &[u8]) -> Vec<String> {
    std::str::from_utf8(data)
        .expect("utf-8 fixture")
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l).to_string())
        .collect()
}

fn feed_lines(lines: &[String]) -> usize {
    let mut assembler = StreamAssembler::new();
    let mut events = 0usize;
    for line in lines {
        // X-midstream-error has a deliberately broken stream; errors are part of the work.
        if let Ok(evs) = assembler.feed(line) {
            events += evs.len();
            black_box(evs);
        }
        if assembler.is_done() {
            break;
        }
    }
    black_box(assembler.finish());
    events
}

fn bench_sse(c: &mut Criterion) {
    let fixtures = fixtures();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");

    let mut group = c.benchmark_group("sse_assemble_4k_chunks");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for (name, data) in &fixtures {
        group.throughput(Throughput::Bytes(data.len() as u64));
        group.bench_function(name.as_str(), |b| {
            b.iter(|| assemble_bytes(&rt, black_box(data)))
        });
    }
    let total: usize = fixtures.iter().map(|(_, d)| d.len()).sum();
    group.throughput(Throughput::Bytes(total as u64));
    let assemble_all = || {
        fixtures
            .iter()
            .map(|(_, d)| assemble_bytes(&rt, black_box(d)))
            .sum::<usize>()
    };
    group.bench_function("all", |b| b.iter(assemble_all));
    group.bench_function("all_thread_cpu_time", |b| {
        b.iter_custom(|iters| thread_cpu(iters, assemble_all))
    });
    group.finish();

    let mut group = c.benchmark_group("sse_feed_data_lines");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let all_lines: Vec<(String, Vec<String>)> = fixtures
        .iter()
        .map(|(name, data)| (name.clone(), data_lines(data)))
        .collect();
    let payload_bytes = |lines: &[String]| lines.iter().map(String::len).sum::<usize>() as u64;
    for (name, lines) in &all_lines {
        // Throughput counts the payload bytes the assembler sees, not the SSE framing.
        group.throughput(Throughput::Bytes(payload_bytes(lines)));
        group.bench_function(name.as_str(), |b| b.iter(|| feed_lines(black_box(lines))));
    }
    let total: u64 = all_lines.iter().map(|(_, l)| payload_bytes(l)).sum();
    group.throughput(Throughput::Bytes(total));
    let feed_all = || {
        all_lines
            .iter()
            .map(|(_, l)| feed_lines(black_box(l)))
            .sum::<usize>()
    };
    group.bench_function("all", |b| b.iter(feed_all));
    group.bench_function("all_thread_cpu_time", |b| {
        b.iter_custom(|iters| thread_cpu(iters, feed_all))
    });
    group.finish();

    // Where the time goes: the two layers under the assembler, each alone over all fixtures
    // (thread CPU time, to compare with the `all_thread_cpu_time` figures above).
    let mut group = c.benchmark_group("sse_layers");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Bytes(total));
    group.bench_function("serde_json_value_parse_only", |b| {
        b.iter_custom(|iters| {
            thread_cpu(iters, || {
                all_lines
                    .iter()
                    .flat_map(|(_, l)| l.iter())
                    .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                    .map(black_box)
                    .count()
            })
        })
    });
    let total_file: usize = fixtures.iter().map(|(_, d)| d.len()).sum();
    group.throughput(Throughput::Bytes(total_file as u64));
    group.bench_function("sse_decoder_only", |b| {
        b.iter_custom(|iters| {
            thread_cpu(iters, || {
                fixtures
                    .iter()
                    .map(|(_, d)| decoder_only(black_box(d)))
                    .sum::<usize>()
            })
        })
    });
    group.finish();
}

/// The SSE decoder alone over `CHUNK_BYTES` pieces: events split, nothing assembled.
fn decoder_only(data: &[u8]) -> usize {
    let mut decoder = SseDecoder::new(DEFAULT_MAX_LINE_BYTES);
    let mut bytes = 0usize;
    let mut count = |d: &str| {
        bytes += black_box(d).len();
        Ok(Flow::Continue(()))
    };
    for piece in data.chunks(CHUNK_BYTES) {
        assert!(decoder
            .push(piece, &mut count)
            .expect("valid SSE")
            .is_continue());
    }
    decoder.finish(&mut count).expect("valid SSE");
    bytes
}

// ---------------------------------------------------------------------------------------------
// 2. Trace inserts
// ---------------------------------------------------------------------------------------------

struct TraceFixture {
    store: Store,
    session_id: String,
    chat_id: String,
    _dir: tempfile::TempDir,
}

fn trace_fixture() -> TraceFixture {
    let dir = tempfile::tempdir().expect("tempdir");
    // A real file: WAL mode, synchronous = NORMAL, as the app opens it.
    let store = Store::open(&dir.path().join("boocode.db")).expect("open store");
    let project = store.ensure_project("/bench/project").expect("project");
    let session = store.create_session(&project.id, "bench").expect("session");
    let chat = store
        .create_chat(&NewChat {
            session_id: &session.id,
            parent_chat_id: None,
            kind: "main",
            title: "bench",
            model: "mock-model",
            agent: GENERAL_PURPOSE,
        })
        .expect("chat");
    TraceFixture {
        store,
        session_id: session.id,
        chat_id: chat.id,
        _dir: dir,
    }
}

/// A finished trace of a typical read-only call (~600 bytes of output).
fn trace_row(f: &TraceFixture, n: usize, finished: bool) -> TraceRow {
    let at = now();
    TraceRow {
        id: new_id(),
        session_id: f.session_id.clone(),
        chat_id: f.chat_id.clone(),
        message_id: None,
        turn_number: (n / 10) as i64,
        tool_call_id: Some(format!("call_{n}")),
        tool_name: "read_file".into(),
        tool_input: format!(r#"{{"path":"src/module_{n}.rs"}}"#),
        tool_output: finished.then(|| "fn main() { println!(\"hello\"); }\n".repeat(16)),
        diff: None,
        started_at: at.clone(),
        finished_at: finished.then_some(at),
        latency_ms: finished.then_some(3),
        tokens_used: 120,
        cache_tokens: 64,
        reasoning_tokens: 0,
        error: None,
        outcome: finished.then(|| "success".into()),
    }
}

fn bench_traces(c: &mut Criterion) {
    let mut group = c.benchmark_group("trace_insert");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));

    let f = trace_fixture();
    group.throughput(Throughput::Elements(TRACE_BATCH as u64));
    group.bench_function(format!("batch_{TRACE_BATCH}"), |b| {
        b.iter_batched(
            || {
                (0..TRACE_BATCH)
                    .map(|n| trace_row(&f, n, true))
                    .collect::<Vec<_>>()
            },
            |rows| f.store.insert_traces(&rows).expect("insert"),
            BatchSize::PerIteration,
        )
    });

    // What the agent loop does per tool call: one row on start, one update on finish, each its
    // own statement (and transaction).
    let f = trace_fixture();
    let output = "fn main() { println!(\"hello\"); }\n".repeat(16);
    group.throughput(Throughput::Elements(1));
    group.bench_function("single_begin_finish", |b| {
        let mut n = 0;
        b.iter_batched(
            || {
                n += 1;
                trace_row(&f, n, false)
            },
            |row| {
                f.store.begin_trace(&row).expect("begin");
                f.store
                    .finish_trace(
                        &row.id,
                        &TraceCompletion {
                            output: &output,
                            diff: None,
                            error: None,
                            outcome: "success",
                            latency_ms: 3,
                        },
                    )
                    .expect("finish");
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

// ---------------------------------------------------------------------------------------------
// 3. Agent loop overhead per tool round-trip
// ---------------------------------------------------------------------------------------------

struct LoopFixture {
    engine: Engine,
    session: boocode::core::store::Session,
    _server: MockServer,
    _project: tempfile::TempDir,
    _home: tempfile::TempDir,
}

fn write(root: &Path, rel: &str, content: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// An engine against the scripted server, whose every reply is an instant `list_dir` call;
/// `max_steps` ends each turn after `steps` model requests (each followed by its tool call).
fn loop_fixture(rt: &tokio::runtime::Runtime, steps: u32) -> LoopFixture {
    let project = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    write(project.path(), "README.md", "# Demo\n\nA demo project.\n");
    write(
        project.path(),
        "src/lib.rs",
        "pub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n",
    );
    write(
        project.path(),
        ".boocode/config.toml",
        &format!("retry_backoff_ms = 5\nmax_attempts = 3\nmax_steps = {steps}\n"),
    );
    rt.block_on(async {
        let server = MockServer::start(vec![Reply::tool_call("list_dir", "{}").repeat()]).await;
        let config = config_for(project.path(), home.path(), &server.base_url());
        let (engine, mut events, _) = Engine::start(EngineOptions {
            config,
            project_root: project.path().to_path_buf(),
            interactive: false,
        })
        .unwrap();
        // A client that keeps up with the events, as the UI does.
        tokio::spawn(async move { while events.recv().await.is_some() {} });
        let session = engine.open_session(None, false).unwrap();
        LoopFixture {
            engine,
            session,
            _server: server,
            _project: project,
            _home: home,
        }
    })
}

fn config_for(project: &Path, home: &Path, base_url: &str) -> Config {
    let home: PathBuf = home.to_path_buf();
    let env = Environment {
        vars: BTreeMap::from([
            ("HOME".to_string(), home.to_string_lossy().into_owned()),
            (
                "BOOCODE_HOME".to_string(),
                home.to_string_lossy().into_owned(),
            ),
        ]),
        user_config: None,
    };
    Config::load(
        project,
        &env,
        &Overrides {
            provider: None,
            base_url: Some(base_url.to_string()),
            model: Some("mock-model".into()),
            api_key: Some("sk-bench-key".into()),
            approval: Some(ApprovalMode::ReadOnly),
        },
    )
    .unwrap()
}

fn bench_agent_loop(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("agent_loop_per_round_trip");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    for steps in [1u32, 10] {
        let f = loop_fixture(&rt, steps);
        group.bench_function(format!("turn_of_{steps}_steps"), |b| {
            b.iter_custom(|iters| round_trips(&rt, &f, steps, iters, Clock::Wall))
        });
        if steps > 1 {
            // Everything in the process: engine, tokio, HTTP client and the mock server too.
            group.bench_function(format!("turn_of_{steps}_steps_process_cpu_time"), |b| {
                b.iter_custom(|iters| round_trips(&rt, &f, steps, iters, Clock::ProcessCpu))
            });
        }
        f.engine.shutdown();
    }
    group.finish();
}

#[derive(Clone, Copy)]
enum Clock {
    Wall,
    ProcessCpu,
}

impl Clock {
    fn now(self) -> Duration {
        match self {
            Clock::Wall => EPOCH.get_or_init(Instant::now).elapsed(),
            Clock::ProcessCpu => cpu_time(libc::CLOCK_PROCESS_CPUTIME_ID),
        }
    }
}

static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// Time of `iters` tool round-trips (model request + tool call). Turns of `steps` round-trips
/// are run, each in a fresh chat so the history does not grow across iterations, and the total
/// is scaled to exactly `iters` round-trips.
fn round_trips(
    rt: &tokio::runtime::Runtime,
    f: &LoopFixture,
    steps: u32,
    iters: u64,
    clock: Clock,
) -> Duration {
    let turns = iters.div_ceil(steps as u64);
    let mut total = Duration::ZERO;
    for _ in 0..turns {
        let chat = f.engine.new_chat(&f.session, "main", None).unwrap();
        let request = TurnRequest::new(&chat.id, "list the files", ApprovalMode::ReadOnly);
        let started = clock.now();
        let outcome = rt.block_on(f.engine.run_turn(request));
        total += clock.now() - started;
        assert_eq!(
            outcome.status,
            TurnStatus::StepLimit,
            "turn ended early: {:?}",
            outcome.error
        );
    }
    total.mul_f64(iters as f64 / (turns * steps as u64) as f64)
}

criterion_group!(benches, bench_sse, bench_traces, bench_agent_loop);
criterion_main!(benches);
