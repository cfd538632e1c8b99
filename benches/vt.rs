//! Screen-engine throughput: bytes a terminal pane's engine parses per second of CPU, on
//! scrolling text, on a colour-heavy stream and on the recorded program fixtures. Run with
//! `cargo bench --bench vt`; `benches/vt_cpu.sh` compares the same kind of bytes with tmux.

use std::hint::black_box;
use std::path::Path;

use boocode::core::pty::alacritty::{AlacrittyScreen, DEFAULT_SCROLLBACK_LINES};
use boocode::core::pty::screen::{GridSize, ScreenEngine};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

/// A pane's read size: the stream reaches the engine in pieces this big.
const CHUNK_BYTES: usize = 4096;
const STREAM_BYTES: usize = 4 << 20;
const SIZE: GridSize = GridSize {
    cols: 120,
    rows: 40,
};

/// Lines of varied prose-like ASCII, each ending in CR LF: the screen scrolls all the time.
fn scrolling_text() -> Vec<u8> {
    let words = [
        "terminal",
        "pane",
        "scrollback",
        "engine",
        "cell",
        "cursor",
        "the",
        "a",
        "of",
        "bytes",
        "reflow",
        "history",
        "compile",
        "warning:",
        "error[E0308]:",
        "-->",
        "src/main.rs:12:5",
    ];
    let mut out = Vec::with_capacity(STREAM_BYTES);
    let mut n = 0usize;
    while out.len() < STREAM_BYTES {
        let len = 20 + (n * 7) % 90;
        let mut line = String::new();
        while line.len() < len {
            line.push_str(words[(n + line.len()) % words.len()]);
            line.push(' ');
        }
        out.extend_from_slice(line.trim_end().as_bytes());
        out.extend_from_slice(b"\r\n");
        n += 1;
    }
    out
}

/// Short runs of text each with its own SGR: 16, 256 and RGB colours, bold and underline, as
/// from syntax-highlighted output or `ls --color`.
fn colour_heavy() -> Vec<u8> {
    let mut out = Vec::with_capacity(STREAM_BYTES);
    let mut n = 0usize;
    while out.len() < STREAM_BYTES {
        let sgr = match n % 4 {
            0 => format!("\x1b[{}m", 31 + n % 7),
            1 => format!("\x1b[1;38;5;{}m", n % 256),
            2 => format!(
                "\x1b[4;38;2;{};{};{}m",
                n % 256,
                (n * 3) % 256,
                (n * 7) % 256
            ),
            _ => format!("\x1b[0;48;5;{}m", (n * 5) % 256),
        };
        out.extend_from_slice(sgr.as_bytes());
        out.extend_from_slice(b"token_");
        out.extend_from_slice((n % 1000).to_string().as_bytes());
        out.push(b' ');
        if n % 12 == 11 {
            out.extend_from_slice(b"\x1b[0m\r\n");
        }
        n += 1;
    }
    out
}

/// The recorded program fixtures (vim, top, less, git, ls...) repeated up to the stream size.
fn recorded_programs() -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vt");
    let mut recordings: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .expect("tests/fixtures/vt")
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let name = path.file_name()?.to_str()?;
            (name.ends_with(".80x24.bin")).then(|| std::fs::read(&path).ok())?
        })
        .collect();
    recordings.sort();
    assert!(
        !recordings.is_empty(),
        "no 80x24 recordings in {}",
        dir.display()
    );
    let mut out = Vec::with_capacity(STREAM_BYTES);
    while out.len() < STREAM_BYTES {
        for recording in &recordings {
            out.extend_from_slice(recording);
        }
    }
    out
}

fn feed_all(stream: &[u8]) -> AlacrittyScreen {
    let mut screen = AlacrittyScreen::new(SIZE, DEFAULT_SCROLLBACK_LINES);
    for chunk in stream.chunks(CHUNK_BYTES) {
        screen.feed(chunk);
        black_box(screen.take_replies());
    }
    screen
}

fn engine_throughput(c: &mut Criterion) {
    let mut group = c.benchmark_group("vt_feed");
    group.sample_size(10);
    for (name, stream) in [
        ("scrolling_text", scrolling_text()),
        ("colour_heavy", colour_heavy()),
        ("recorded_programs", recorded_programs()),
    ] {
        group.throughput(Throughput::Bytes(stream.len() as u64));
        group.bench_function(name, |b| {
            b.iter_batched(|| (), |()| feed_all(&stream), BatchSize::PerIteration)
        });
    }
    group.finish();
}

criterion_group!(benches, engine_throughput);
criterion_main!(benches);
