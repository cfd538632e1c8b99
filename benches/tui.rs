//! Workspace pane performance. Chat pane: opening a 10,000-message chat, and frame time at
//! 120x40 after open and while scrolling. Trace pane: opening a chat with 100,000 traces, and
//! frame time at the tail and while scrolling. Targets: open < 300 ms, frame <= 4 ms.

use std::collections::BTreeMap;
use std::time::Duration;

use boocode::core::config::{Config, Environment, Overrides};
use boocode::core::engine::{Engine, EngineOptions};
use boocode::core::llm::types::Usage;
use boocode::core::store::{new_id, now, MessagePart, PartKind, ReplyEnd, TraceRow};
use boocode::tui::markdown::MarkdownStream;
use boocode::tui::pane::{Pane, PaneContext};
use boocode::tui::panes::chat::ChatPane;
use boocode::tui::panes::trace::TracePane;
use boocode::tui::theme::{ColorSupport, Theme};
use criterion::{criterion_group, criterion_main, Criterion};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use ratatui::Terminal;

const REPLY: &str = "Here is the plan:\n\n1. Read `src/lib.rs`\n2. Fix the **bug**\n\n```rust\nfn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n```\n\nSee [docs](https://example.com) for more.\n";

type Events = tokio::sync::mpsc::UnboundedReceiver<boocode::core::events::Event>;

/// Traces in the trace-pane chat.
const TRACES: usize = 100_000;
/// Rows per `insert_traces` call when populating.
const TRACE_BATCH: usize = 1_000;

/// An engine on temp dirs, with its event receiver (kept alive) and the dirs.
fn engine() -> (Engine, Events, tempfile::TempDir, tempfile::TempDir) {
    let project = tempfile::tempdir().expect("tempdir");
    let home = tempfile::tempdir().expect("tempdir");
    let vars = BTreeMap::from([
        (
            "HOME".to_string(),
            home.path().to_string_lossy().into_owned(),
        ),
        (
            "BOOCODE_HOME".to_string(),
            home.path().to_string_lossy().into_owned(),
        ),
    ]);
    let config = Config::load(
        project.path(),
        &Environment {
            vars,
            user_config: None,
        },
        &Overrides {
            provider: None,
            base_url: Some("http://127.0.0.1:9".into()),
            model: Some("bench-model".into()),
            api_key: Some("sk-bench".into()),
            approval: None,
        },
    )
    .expect("config");
    let (engine, events, _) = Engine::start(EngineOptions {
        config,
        project_root: project.path().to_path_buf(),
        interactive: false,
    })
    .expect("engine");
    (engine, events, project, home)
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let _guard = rt.enter();
    let (engine, _events, _project, _home) = engine();
    let session = engine.open_session(None, false).expect("session");
    let chat = engine.main_chat(&session).expect("chat");
    let store = engine.store();
    // 5,000 turns: a user message and an assistant reply each.
    for turn in 1..=5_000 {
        store
            .insert_user_message(
                &chat.id,
                turn,
                &format!("question number {turn}: why?"),
                &[],
            )
            .expect("user message");
        let call = store
            .begin_model_call(&chat.id, turn, "bench-model")
            .expect("model call");
        let m = store
            .begin_assistant_message(&chat.id, turn, "bench-model")
            .expect("assistant");
        store
            .finish_reply(&ReplyEnd {
                call_id: &call,
                message_id: &m.id,
                parts: &[MessagePart::text(PartKind::Text, REPLY)],
                status: "complete",
                error: None,
                usage: &Usage::default(),
                finish_reason: Some("stop"),
                latency_ms: 1,
            })
            .expect("finish");
    }
    let theme = Theme::new(ColorSupport::TrueColor);
    let wake = std::sync::Arc::new(tokio::sync::Notify::new());
    let ctx = PaneContext {
        engine: &engine,
        theme: &theme,
        session_id: &session.id,
        focused_chat: None,
        tick: 0,
        wake: &wake,
    };
    let mut group = c.benchmark_group("chat_pane");
    group.measurement_time(Duration::from_secs(5));
    group.sample_size(20);
    group.bench_function("open_10k_messages", |b| {
        b.iter(|| ChatPane::new(&chat.id, &ctx).expect("open"))
    });
    group.sample_size(100);
    let mut term = Terminal::new(TestBackend::new(120, 40)).expect("terminal");
    let area = Rect::new(0, 0, 120, 40);
    let mut pane = ChatPane::new(&chat.id, &ctx).expect("open");
    group.bench_function("frame_120x40_tail", |b| {
        b.iter(|| {
            term.draw(|f| pane.render(f, area, &ctx, true))
                .expect("draw");
        })
    });
    let up = KeyEvent::new(KeyCode::PageUp, KeyModifiers::NONE);
    let mut frames = 0u64;
    group.bench_function("frame_120x40_scrolling", |b| {
        b.iter(|| {
            frames += 1;
            // Scroll a page up per frame, back to the tail every 2,000 frames (pages load
            // as the view reaches them).
            if frames.is_multiple_of(2_000) {
                let end = KeyEvent::new(KeyCode::End, KeyModifiers::NONE);
                pane.handle_key(end, &ctx);
            }
            pane.handle_key(up, &ctx);
            term.draw(|f| pane.render(f, area, &ctx, true))
                .expect("draw");
        })
    });
    group.finish();
}

/// A finished `read_file` trace, ten per turn (~600 bytes of output).
fn trace_row(session_id: &str, chat_id: &str, n: usize) -> TraceRow {
    let at = now();
    TraceRow {
        id: new_id(),
        session_id: session_id.to_string(),
        chat_id: chat_id.to_string(),
        message_id: None,
        turn_number: (n / 10 + 1) as i64,
        tool_call_id: Some(format!("call_{n}")),
        tool_name: "read_file".into(),
        tool_input: format!(r#"{{"path":"src/module_{n}.rs"}}"#),
        tool_output: Some("fn main() { println!(\"hello\"); }\n".repeat(16)),
        diff: None,
        started_at: at.clone(),
        finished_at: Some(at),
        latency_ms: Some(3),
        tokens_used: 120,
        cache_tokens: 64,
        reasoning_tokens: 0,
        error: None,
        outcome: Some("success".into()),
    }
}

fn bench_trace(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let _guard = rt.enter();
    let (engine, _events, _project, _home) = engine();
    let session = engine.open_session(None, false).expect("session");
    let chat = engine.main_chat(&session).expect("chat");
    let store = engine.store();
    for start in (0..TRACES).step_by(TRACE_BATCH) {
        let rows: Vec<TraceRow> = (start..start + TRACE_BATCH)
            .map(|n| trace_row(&session.id, &chat.id, n))
            .collect();
        store.insert_traces(&rows).expect("insert traces");
    }
    let theme = Theme::new(ColorSupport::TrueColor);
    let wake = std::sync::Arc::new(tokio::sync::Notify::new());
    let ctx = PaneContext {
        engine: &engine,
        theme: &theme,
        session_id: &session.id,
        focused_chat: None,
        tick: 0,
        wake: &wake,
    };
    let chat_id = Some(chat.id.clone());
    let mut group = c.benchmark_group("trace_pane");
    group.measurement_time(Duration::from_secs(5));
    group.sample_size(20);
    group.bench_function("open_100k_traces", |b| {
        b.iter(|| TracePane::new(chat_id.clone(), &ctx))
    });
    group.sample_size(50);
    let mut term = Terminal::new(TestBackend::new(120, 40)).expect("terminal");
    let area = Rect::new(0, 0, 120, 40);
    let mut pane = TracePane::new(chat_id.clone(), &ctx);
    group.bench_function("frame_120x40_tail", |b| {
        b.iter(|| {
            term.draw(|f| pane.render(f, area, &ctx, true))
                .expect("draw");
        })
    });
    let pgup = KeyEvent::new(KeyCode::PageUp, KeyModifiers::NONE);
    let mut frames = 0u64;
    group.bench_function("frame_120x40_pgup", |b| {
        b.iter(|| {
            frames += 1;
            // A page up per frame; pages load and the window slides as the view reaches them.
            // Back to the tail every 2,000 frames (~78,000 rows up).
            if frames.is_multiple_of(2_000) {
                let end = KeyEvent::new(KeyCode::End, KeyModifiers::NONE);
                pane.handle_key(end, &ctx);
            }
            pane.handle_key(pgup, &ctx);
            term.draw(|f| pane.render(f, area, &ctx, true))
                .expect("draw");
        })
    });
    let up = KeyEvent::new(KeyCode::Up, KeyModifiers::NONE);
    let end = KeyEvent::new(KeyCode::End, KeyModifiers::NONE);
    pane.handle_key(end, &ctx);
    let mut frames = 0u64;
    group.bench_function("frame_120x40_up", |b| {
        b.iter(|| {
            frames += 1;
            if frames.is_multiple_of(20_000) {
                pane.handle_key(end, &ctx);
            }
            pane.handle_key(up, &ctx);
            term.draw(|f| pane.render(f, area, &ctx, true))
                .expect("draw");
        })
    });
    group.finish();
}

/// The benchmark reply of `benches/tui_cpu.sh`, fed to the chat pane's markdown stream in the
/// mock server's 16-character chunks at the 120-column pane's text width: the UI-side CPU cost
/// of one streamed reply, without the terminal.
fn bench_markdown_stream(c: &mut Criterion) {
    let script: serde_json::Value = serde_json::from_str(include_str!("stream_2k_tps.json"))
        .expect("benches/stream_2k_tps.json parses");
    let reply = script[0]["content"]
        .as_str()
        .expect("the script's first step has content")
        .to_string();
    let theme = Theme::new(ColorSupport::Ansi256);
    let chunks: Vec<String> = reply
        .chars()
        .collect::<Vec<_>>()
        .chunks(16)
        .map(|c| c.iter().collect())
        .collect();
    let mut group = c.benchmark_group("markdown_stream");
    group.measurement_time(Duration::from_secs(10));
    group.sample_size(10);
    group.bench_function(format!("reply_{}_chars_16_char_chunks", reply.len()), |b| {
        b.iter(|| {
            let mut stream = MarkdownStream::new();
            for chunk in &chunks {
                stream.push(chunk, 116, &theme);
            }
            stream.lines(116, &theme).len()
        })
    });
    group.finish();
}

criterion_group!(benches, bench, bench_trace, bench_markdown_stream);
criterion_main!(benches);
