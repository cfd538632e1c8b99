//! Replays every recorded stream in `tests/fixtures/sse/` through the full byte-stream path
//! (SSE decoder + assembler), whole, byte by byte and in random pieces.

use std::convert::Infallible;
use std::path::{Path, PathBuf};

use boocode::core::llm::stream::{assemble_sse, AssembledResponse, LlmEvent, SseOptions};
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::{json, Value};

fn fixtures() -> Vec<(PathBuf, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sse");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("fixture dir") {
        let path = entry.expect("dir entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("sse") {
            continue;
        }
        let expected_path = path.with_extension("expected.json");
        if !expected_path.exists() {
            continue;
        }
        let expected: Value =
            serde_json::from_str(&std::fs::read_to_string(&expected_path).expect("expected"))
                .expect("expected json");
        found.push((path, expected));
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(found.len() >= 6, "only {} fixtures found", found.len());
    found
}

fn as_json(r: &AssembledResponse) -> Value {
    let calls: Vec<Value> = r
        .tool_calls
        .iter()
        .map(|c| {
            json!({
                "id": c.id,
                "name": c.function.name,
                "arguments": c.function.arguments,
                "arguments_json_valid":
                    serde_json::from_str::<Value>(&c.function.arguments).is_ok(),
            })
        })
        .collect();
    json!({
        "content": r.content,
        "reasoning": r.reasoning,
        "tool_calls": calls,
        "finish_reason": r.finish_reason,
        "usage": r.raw_usage,
        "error": r.error,
    })
}

async fn replay(pieces: Vec<Vec<u8>>) -> (AssembledResponse, Vec<LlmEvent>) {
    let stream = futures::stream::iter(pieces.into_iter().map(Ok::<_, Infallible>));
    let mut events = Vec::new();
    let r = assemble_sse(stream, SseOptions::default(), |e| events.push(e))
        .await
        .expect("fixture assembles");
    (r, events)
}

fn check(name: &str, how: &str, got: &AssembledResponse, events: &[LlmEvent], expected: &Value) {
    assert_eq!(&as_json(got), expected, "{name} ({how})");
    // The events must tell the same story as the final response.
    let content: String = events
        .iter()
        .filter_map(|e| match e {
            LlmEvent::Content(s) => Some(s.as_str()),
            _ => None,
        })
        .collect();
    let reasoning: String = events
        .iter()
        .filter_map(|e| match e {
            LlmEvent::Reasoning(s) => Some(s.as_str()),
            _ => None,
        })
        .collect();
    let started: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            LlmEvent::ToolCallStarted { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(content, got.content, "{name} ({how}) content events");
    assert_eq!(reasoning, got.reasoning, "{name} ({how}) reasoning events");
    let names: Vec<&str> = got
        .tool_calls
        .iter()
        .map(|c| c.function.name.as_str())
        .collect();
    assert_eq!(started, names, "{name} ({how}) tool call events");
}

#[tokio::test]
async fn fixtures_whole() {
    for (path, expected) in fixtures() {
        let bytes = std::fs::read(&path).expect("sse");
        let (r, events) = replay(vec![bytes]).await;
        check(&path.display().to_string(), "whole", &r, &events, &expected);
    }
}

#[tokio::test]
async fn fixtures_byte_by_byte() {
    for (path, expected) in fixtures() {
        let bytes = std::fs::read(&path).expect("sse");
        let pieces = bytes.iter().map(|b| vec![*b]).collect();
        let (r, events) = replay(pieces).await;
        check(&path.display().to_string(), "bytes", &r, &events, &expected);
    }
}

#[tokio::test]
async fn fixtures_random_chunks() {
    for (path, expected) in fixtures() {
        let bytes = std::fs::read(&path).expect("sse");
        for seed in [1u64, 7, 42, 1234, 99_999] {
            let mut rng = StdRng::seed_from_u64(seed);
            let mut pieces = Vec::new();
            let mut rest = bytes.as_slice();
            while !rest.is_empty() {
                let n = rng.random_range(1..=rest.len().min(97));
                let (head, tail) = rest.split_at(n);
                pieces.push(head.to_vec());
                rest = tail;
            }
            let (r, events) = replay(pieces).await;
            check(
                &path.display().to_string(),
                &format!("seed {seed}"),
                &r,
                &events,
                &expected,
            );
        }
    }
}

#[tokio::test]
async fn usage_is_parsed_from_fixture() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sse/C-deepseek-tool-call.sse");
    let (r, _) = replay(vec![std::fs::read(path).expect("sse")]).await;
    let u = r.usage.expect("usage");
    assert_eq!(
        (
            u.prompt_tokens,
            u.completion_tokens,
            u.reasoning_tokens,
            u.cache_hit_tokens,
            u.cache_miss_tokens
        ),
        (374, 61, 17, 256, 118)
    );
    assert_eq!(r.model.as_deref(), Some("deepseek-v4-flash"));
}

#[tokio::test]
async fn invalid_json_data_line_is_an_error_not_a_panic() {
    let body =
        b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\ndata: {oops\n\n"
            .to_vec();
    let stream = futures::stream::iter([Ok::<_, Infallible>(body)]);
    let err = assemble_sse(stream, SseOptions::default(), |_| {})
        .await
        .expect_err("must fail");
    assert_eq!(err.kind, boocode::core::llm::LlmErrorKind::Stream);
}
