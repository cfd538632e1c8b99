//! Measures one very long SSE data line through the full byte path (`assemble_sse`, 4 KB pieces):
//! time and peak RSS per size. Run with `cargo bench --bench sse_long_line -- 1 5 10` (sizes in
//! MB; each size is best measured in its own process, since peak RSS only grows).
//!
//! A parser that re-scans its buffer for every piece takes quadratic time here.

use std::convert::Infallible;
use std::time::Instant;

use boocode::core::llm::{assemble_sse, SseOptions};

const CHUNK_BYTES: usize = 4096;

/// A complete stream whose first event is one `data:` line of about `bytes` bytes.
fn long_line_stream(bytes: usize) -> Vec<u8> {
    let head = br#"data: {"choices":[{"index":0,"delta":{"content":""#;
    let tail = br#""},"finish_reason":"stop"}]}"#;
    let mut body = Vec::with_capacity(bytes + 64);
    body.extend_from_slice(head);
    body.resize(bytes.saturating_sub(tail.len()).max(head.len()), b'x');
    body.extend_from_slice(tail);
    body.extend_from_slice(b"\n\ndata: [DONE]\n\n");
    body
}

fn peak_rss_mib() -> f64 {
    // SAFETY: `usage` is a valid, writable rusage.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    if rc != 0 {
        return f64::NAN;
    }
    usage.ru_maxrss as f64 / 1024.0
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1, 5, 10]
    } else {
        sizes
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    for mb in sizes {
        let body = long_line_stream(mb * 1_000_000);
        let started = Instant::now();
        let stream = futures::stream::iter(body.chunks(CHUNK_BYTES).map(Ok::<&[u8], Infallible>));
        let result = rt.block_on(assemble_sse(stream, SseOptions::default(), |_| {}));
        let elapsed = started.elapsed();
        let outcome = match result {
            Ok(r) => format!("ok, {} content bytes", r.content.len()),
            Err(e) => format!("refused: {e}"),
        };
        println!(
            "{mb} MB line: {:.3} s, peak RSS {:.1} MiB ({outcome})",
            elapsed.as_secs_f64(),
            peak_rss_mib()
        );
    }
}
