//! The HTTP client against a tiny scripted local server: retries, final errors, timeouts,
//! cancellation and cut connections.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use boocode::core::llm::images::{image_info, image_part, DEFAULT_MAX_IMAGE_BYTES};
use boocode::core::llm::types::{ChatMessage, ChatRequest, ContentPart, StreamOptions};
use boocode::core::llm::{ClientConfig, LlmClient, LlmErrorKind, LlmEvent};
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
enum Step {
    Data(String),
    Raw(&'static str),
    Sleep(Duration),
    Cut,
}

#[derive(Clone)]
enum Reply {
    Sse(Vec<Step>),
    Status {
        code: u16,
        body: String,
        retry_after: Option<&'static str>,
    },
}

#[derive(Clone)]
struct Script {
    replies: Arc<Vec<Reply>>,
    hits: Arc<AtomicUsize>,
    auth: Arc<Mutex<Vec<Option<String>>>>,
}

struct Server {
    url: String,
    hits: Arc<AtomicUsize>,
    auth: Arc<Mutex<Vec<Option<String>>>>,
}

impl Server {
    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

async fn handle(State(script): State<Script>, headers: HeaderMap) -> Response {
    let n = script.hits.fetch_add(1, Ordering::SeqCst);
    script.auth.lock().expect("lock").push(
        headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    );
    let reply = script.replies[n.min(script.replies.len() - 1)].clone();
    match reply {
        Reply::Status {
            code,
            body,
            retry_after,
        } => {
            let mut builder = Response::builder()
                .status(StatusCode::from_u16(code).expect("status"))
                .header("content-type", "application/json");
            if let Some(after) = retry_after {
                builder = builder.header("retry-after", after);
            }
            builder.body(Body::from(body)).expect("response")
        }
        Reply::Sse(steps) => {
            let stream = futures::stream::unfold(steps.into_iter(), |mut steps| async move {
                loop {
                    match steps.next()? {
                        Step::Data(d) => {
                            return Some((Ok(format!("data: {d}\n\n").into_bytes()), steps))
                        }
                        Step::Raw(r) => return Some((Ok(r.as_bytes().to_vec()), steps)),
                        Step::Sleep(d) => tokio::time::sleep(d).await,
                        Step::Cut => {
                            return Some((Err(std::io::Error::other("cut on cue")), steps))
                        }
                    }
                }
            });
            Response::builder()
                .header("content-type", "text/event-stream")
                .body(Body::from_stream(stream))
                .expect("response")
        }
    }
}

async fn serve(replies: Vec<Reply>) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let script = Script {
        replies: Arc::new(replies),
        hits: Arc::new(AtomicUsize::new(0)),
        auth: Arc::new(Mutex::new(Vec::new())),
    };
    let server = Server {
        url: format!("http://{addr}/v1/"),
        hits: script.hits.clone(),
        auth: script.auth.clone(),
    };
    let app = Router::new()
        .route("/v1/chat/completions", post(handle))
        .with_state(script);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    server
}

fn config(server: &Server) -> ClientConfig {
    ClientConfig {
        base_url: server.url.clone(),
        api_key: Some("sk-test-key".into()),
        max_attempts: 4,
        backoff_base: Duration::from_millis(5),
        backoff_max: Duration::from_millis(20),
        idle_timeout: Duration::from_secs(5),
        request_deadline: Duration::from_secs(20),
        ..ClientConfig::default()
    }
}

fn request() -> ChatRequest {
    ChatRequest {
        model: "test-model".into(),
        messages: vec![ChatMessage::user("hi")],
        tools: vec![],
        tool_choice: None,
        stream: true,
        stream_options: StreamOptions {
            include_usage: true,
        },
        reasoning_effort: None,
        thinking: None,
        max_tokens: None,
        temperature: None,
    }
}

fn text(s: &str) -> Step {
    Step::Data(
        serde_json::json!({"model": "test-model",
            "choices": [{"index": 0, "delta": {"content": s}, "finish_reason": null}]})
        .to_string(),
    )
}

fn finish(reason: &str) -> Step {
    Step::Data(
        serde_json::json!({"choices": [{"index": 0, "delta": {}, "finish_reason": reason}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2,
                      "prompt_cache_hit_tokens": 3, "prompt_cache_miss_tokens": 2}})
        .to_string(),
    )
}

/// OpenAI's shape: the finish reason alone, usage in a chunk of its own after it.
fn finish_without_usage(reason: &str) -> Step {
    Step::Data(
        serde_json::json!({"choices": [{"index": 0, "delta": {}, "finish_reason": reason}]})
            .to_string(),
    )
}

fn usage_only() -> Step {
    Step::Data(
        serde_json::json!({"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3}})
            .to_string(),
    )
}

fn done() -> Step {
    Step::Raw("data: [DONE]\n\n")
}

fn ok_stream() -> Reply {
    Reply::Sse(vec![
        Step::Raw(": keep-alive\n\n"),
        text("Hello"),
        text(" world"),
        finish("stop"),
        done(),
    ])
}

fn status(code: u16, body: &str) -> Reply {
    Reply::Status {
        code,
        body: body.to_string(),
        retry_after: None,
    }
}

const E401: &str = include_str!("fixtures/sse/X-err-401-authentication-fails.json");
const E402: &str = include_str!("fixtures/sse/X-err-402-insufficient-balance.json");
const E429: &str = include_str!("fixtures/sse/X-err-429-rate-limit-reached.json");
const E503: &str = include_str!("fixtures/sse/X-err-503-server-overloaded.json");

async fn run(
    server: &Server,
    config: ClientConfig,
) -> (
    Result<boocode::core::llm::AssembledResponse, boocode::core::llm::LlmError>,
    Vec<LlmEvent>,
) {
    let client = LlmClient::new(config).expect("client");
    let cancel = CancellationToken::new();
    let mut events = Vec::new();
    let mut sink = |e: LlmEvent| events.push(e);
    let result = client.stream_chat(&request(), &cancel, &mut sink).await;
    let _ = server;
    (result, events)
}

fn retries(events: &[LlmEvent]) -> Vec<(u32, bool)> {
    events
        .iter()
        .filter_map(|e| match e {
            LlmEvent::Retrying {
                attempt,
                discard_partial,
                ..
            } => Some((*attempt, *discard_partial)),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn success_stream_is_assembled_with_usage_and_bearer_key() {
    let server = serve(vec![ok_stream()]).await;
    let (result, events) = run(&server, config(&server)).await;
    let r = result.expect("success");
    assert_eq!(r.content, "Hello world");
    assert_eq!(r.finish_reason.as_deref(), Some("stop"));
    assert_eq!(r.model.as_deref(), Some("test-model"));
    let usage = r.usage.expect("usage");
    assert_eq!((usage.cache_hit_tokens, usage.cache_miss_tokens), (3, 2));
    assert_eq!(
        events,
        vec![
            LlmEvent::Content("Hello".into()),
            LlmEvent::Content(" world".into())
        ]
    );
    assert_eq!(server.hits(), 1);
    assert_eq!(
        server.auth.lock().expect("lock")[0].as_deref(),
        Some("Bearer sk-test-key")
    );
}

#[tokio::test]
async fn final_errors_are_not_retried_and_show_the_provider_message() {
    let cases = [
        (
            401,
            E401,
            LlmErrorKind::Authentication,
            "Authentication Fails",
        ),
        (
            402,
            E402,
            LlmErrorKind::InsufficientBalance,
            "Insufficient Balance",
        ),
        (
            422,
            r#"{"error":{"message":"Unknown model: nope"}}"#,
            LlmErrorKind::InvalidRequest,
            "Unknown model: nope",
        ),
    ];
    for (code, body, kind, message) in cases {
        let server = serve(vec![status(code, body), ok_stream()]).await;
        let (result, events) = run(&server, config(&server)).await;
        let err = result.expect_err("final error");
        assert_eq!(err.kind, kind, "{code}");
        assert_eq!(err.status, Some(code));
        assert!(!err.retryable());
        let shown = err.to_string();
        assert!(shown.contains(message), "{code}: {shown}");
        assert!(!shown.contains("sk-test-key"), "{shown}");
        assert_eq!(server.hits(), 1, "{code} must be sent exactly once");
        assert!(retries(&events).is_empty());
    }
}

#[tokio::test]
async fn the_402_message_is_plain() {
    let server = serve(vec![status(402, E402)]).await;
    let (result, _) = run(&server, config(&server)).await;
    assert_eq!(
        result.expect_err("402").to_string(),
        "insufficient balance — top up or switch provider (provider: Insufficient Balance)"
    );
}

#[tokio::test]
async fn rate_limit_and_overload_are_retried_then_succeed() {
    let server = serve(vec![status(429, E429), status(503, E503), ok_stream()]).await;
    let (result, events) = run(&server, config(&server)).await;
    assert_eq!(result.expect("success").content, "Hello world");
    assert_eq!(server.hits(), 3);
    assert_eq!(retries(&events), vec![(2, false), (3, false)]);
    let LlmEvent::Retrying {
        reason,
        max_attempts,
        ..
    } = &events[0]
    else {
        panic!("first event must be a retry: {events:?}")
    };
    assert_eq!(*max_attempts, 4);
    assert!(reason.contains("Rate limit reached"), "{reason}");
}

#[tokio::test]
async fn retry_after_is_honoured_up_to_the_cap() {
    let server = serve(vec![
        Reply::Status {
            code: 429,
            body: E429.to_string(),
            retry_after: Some("30"),
        },
        ok_stream(),
    ])
    .await;
    let (result, events) = run(&server, config(&server)).await;
    result.expect("success");
    let delays: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            LlmEvent::Retrying { delay_ms, .. } => Some(*delay_ms),
            _ => None,
        })
        .collect();
    // Capped by backoff_max (20 ms) rather than the 30 s the server asked for.
    assert_eq!(delays, vec![20]);
}

#[tokio::test]
async fn max_attempts_exhausted_returns_the_last_error() {
    let server = serve(vec![status(500, r#"{"error":{"message":"kaboom"}}"#)]).await;
    let config = ClientConfig {
        max_attempts: 3,
        ..config(&server)
    };
    let (result, events) = run(&server, config).await;
    let err = result.expect_err("exhausted");
    assert_eq!(err.kind, LlmErrorKind::Server);
    assert!(err.to_string().contains("kaboom"));
    assert_eq!(server.hits(), 3);
    assert_eq!(retries(&events).len(), 2);
}

#[tokio::test]
async fn insufficient_system_resource_is_retried_discarding_partial_output() {
    let server = serve(vec![
        Reply::Sse(vec![
            text("half"),
            finish("insufficient_system_resource"),
            done(),
        ]),
        ok_stream(),
    ])
    .await;
    let (result, events) = run(&server, config(&server)).await;
    assert_eq!(result.expect("success").content, "Hello world");
    assert_eq!(server.hits(), 2);
    assert_eq!(retries(&events), vec![(2, true)]);
}

#[tokio::test]
async fn midstream_error_object_is_final_with_provider_message() {
    let server = serve(vec![
        Reply::Sse(vec![
            text("The quick"),
            Step::Raw(": keep-alive\n\n"),
            Step::Data(
                r#"{"error":{"message":"Server overloaded mid-stream","code":"server_overloaded"}}"#
                    .into(),
            ),
        ]),
        ok_stream(),
    ])
    .await;
    let (result, _) = run(&server, config(&server)).await;
    let err = result.expect_err("stream error");
    assert_eq!(err.kind, LlmErrorKind::Stream);
    assert!(err.to_string().contains("Server overloaded mid-stream"));
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn json_body_on_200_is_read_as_a_whole_completion_or_error() {
    let completion = r#"{"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"whole"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1}}"#;
    let server = serve(vec![Reply::Status {
        code: 200,
        body: completion.into(),
        retry_after: None,
    }])
    .await;
    let (result, events) = run(&server, config(&server)).await;
    let r = result.expect("completion");
    assert_eq!(r.content, "whole");
    assert_eq!(r.finish_reason.as_deref(), Some("stop"));
    assert_eq!(events, vec![LlmEvent::Content("whole".into())]);

    let server = serve(vec![Reply::Status {
        code: 200,
        body: E402.into(),
        retry_after: None,
    }])
    .await;
    let (result, _) = run(&server, config(&server)).await;
    let err = result.expect_err("error body");
    assert_eq!(err.kind, LlmErrorKind::Stream);
    assert!(err.to_string().contains("Insufficient Balance"));
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn stalled_server_hits_the_idle_timeout() {
    let server = serve(vec![Reply::Sse(vec![
        text("start"),
        Step::Sleep(Duration::from_secs(30)),
        done(),
    ])])
    .await;
    let config = ClientConfig {
        max_attempts: 2,
        idle_timeout: Duration::from_millis(300),
        ..config(&server)
    };
    let started = Instant::now();
    let (result, events) = run(&server, config).await;
    let err = result.expect_err("idle");
    assert_eq!(err.kind, LlmErrorKind::IdleTimeout);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(server.hits(), 2);
    assert_eq!(retries(&events), vec![(2, true)]);
}

#[tokio::test]
async fn keep_alive_comments_reset_idle_but_not_the_deadline() {
    let mut steps = vec![text("a")];
    for _ in 0..40 {
        steps.push(Step::Sleep(Duration::from_millis(50)));
        steps.push(Step::Raw(": keep-alive\n\n"));
    }
    steps.push(text("b"));
    steps.push(done());
    let server = serve(vec![Reply::Sse(steps)]).await;

    // Idle 300 ms is never reached because a comment arrives every 50 ms.
    let relaxed = ClientConfig {
        idle_timeout: Duration::from_millis(300),
        ..config(&server)
    };
    let (result, _) = run(&server, relaxed).await;
    assert_eq!(result.expect("keep-alives keep it alive").content, "ab");

    let strict = ClientConfig {
        idle_timeout: Duration::from_millis(300),
        request_deadline: Duration::from_millis(700),
        max_attempts: 1,
        ..config(&server)
    };
    let (result, _) = run(&server, strict).await;
    assert_eq!(result.expect_err("deadline").kind, LlmErrorKind::Deadline);
}

#[tokio::test]
async fn cancellation_mid_stream_returns_promptly() {
    let server = serve(vec![Reply::Sse(vec![
        text("start"),
        Step::Sleep(Duration::from_secs(30)),
        done(),
    ])])
    .await;
    let client = LlmClient::new(config(&server)).expect("client");
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    let mut sink = move |e: LlmEvent| {
        if matches!(e, LlmEvent::Content(_)) {
            trigger.cancel();
        }
    };
    let started = Instant::now();
    let result = client.stream_chat(&request(), &cancel, &mut sink).await;
    assert_eq!(result.expect_err("cancelled").kind, LlmErrorKind::Cancelled);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn cancellation_during_backoff_returns_promptly() {
    let server = serve(vec![status(503, E503)]).await;
    let client = LlmClient::new(ClientConfig {
        backoff_base: Duration::from_secs(30),
        backoff_max: Duration::from_secs(30),
        ..config(&server)
    })
    .expect("client");
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    let mut sink = move |e: LlmEvent| {
        if matches!(e, LlmEvent::Retrying { .. }) {
            trigger.cancel();
        }
    };
    let started = Instant::now();
    let result = client.stream_chat(&request(), &cancel, &mut sink).await;
    assert_eq!(result.expect_err("cancelled").kind, LlmErrorKind::Cancelled);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn connection_cut_mid_stream_is_retried_discarding_partial() {
    let server = serve(vec![
        // The pause lets the partial text reach the client before the cut.
        Reply::Sse(vec![
            text("partial"),
            Step::Sleep(Duration::from_millis(100)),
            Step::Cut,
        ]),
        ok_stream(),
    ])
    .await;
    let (result, events) = run(&server, config(&server)).await;
    assert_eq!(result.expect("success").content, "Hello world");
    assert_eq!(server.hits(), 2);
    assert_eq!(retries(&events), vec![(2, true)]);
    assert_eq!(events[0], LlmEvent::Content("partial".into()));
}

#[tokio::test]
async fn a_stream_that_ends_without_a_finish_reason_is_retried_discarding_partial() {
    let server = serve(vec![
        // The body ends cleanly, but the reply never finished.
        Reply::Sse(vec![text("partial")]),
        ok_stream(),
    ])
    .await;
    let (result, events) = run(&server, config(&server)).await;
    assert_eq!(result.expect("success").content, "Hello world");
    assert_eq!(server.hits(), 2);
    assert_eq!(retries(&events), vec![(2, true)]);

    let server = serve(vec![Reply::Sse(vec![text("partial")])]).await;
    let (result, _) = run(&server, config(&server)).await;
    let err = result.expect_err("cut off every time");
    assert_eq!(err.kind, LlmErrorKind::Incomplete);
    assert_eq!(server.hits(), 4);
}

#[tokio::test]
async fn a_finished_reply_is_returned_while_the_server_holds_the_connection() {
    let held = Step::Sleep(Duration::from_secs(30));
    // DeepSeek: finish reason and usage in one chunk; OpenAI: usage in the next one.
    let shapes = [
        vec![text("Hello"), finish("stop"), held.clone()],
        vec![
            text("Hello"),
            finish_without_usage("stop"),
            usage_only(),
            held.clone(),
        ],
    ];
    for steps in shapes {
        let server = serve(vec![Reply::Sse(steps), ok_stream()]).await;
        let started = Instant::now();
        let (result, events) = run(&server, config(&server)).await;
        let r = result.expect("complete");
        // The idle timeout is 5 s: reaching it would mean the reply waited for [DONE].
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "waited for [DONE]"
        );
        assert_eq!(r.content, "Hello");
        assert!(r.usage.is_some());
        assert_eq!(server.hits(), 1);
        assert!(retries(&events).is_empty());
    }
}

#[tokio::test]
async fn usage_that_never_comes_is_awaited_only_for_the_grace() {
    let server = serve(vec![Reply::Sse(vec![
        text("Hello"),
        finish_without_usage("stop"),
        Step::Sleep(Duration::from_secs(30)),
    ])])
    .await;
    let config = ClientConfig {
        usage_grace: Duration::from_millis(100),
        ..config(&server)
    };
    let started = Instant::now();
    let (result, _) = run(&server, config).await;
    let r = result.expect("complete without usage");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!((r.content.as_str(), r.usage), ("Hello", None));
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn a_line_over_the_cap_fails_at_once_without_retry() {
    let server = serve(vec![Reply::Sse(vec![text(&"x".repeat(5_000)), done()])]).await;
    let capped = ClientConfig {
        max_stream_line_bytes: 1_000,
        ..config(&server)
    };
    let (result, events) = run(&server, capped).await;
    let err = result.expect_err("refused");
    assert_eq!(err.kind, LlmErrorKind::Stream);
    assert!(err.to_string().contains("longer than 1000 bytes"), "{err}");
    assert_eq!(server.hits(), 1);
    assert!(retries(&events).is_empty());

    // A whole JSON completion is held to the same cap.
    let completion = serde_json::json!({"choices": [{"index": 0,
        "message": {"content": "x".repeat(5_000)}, "finish_reason": "stop"}]});
    let server = serve(vec![Reply::Status {
        code: 200,
        body: completion.to_string(),
        retry_after: None,
    }])
    .await;
    let capped = ClientConfig {
        max_stream_line_bytes: 1_000,
        ..config(&server)
    };
    let (result, _) = run(&server, capped).await;
    let err = result.expect_err("refused");
    assert!(err.to_string().contains("longer than 1000 bytes"), "{err}");
}

#[tokio::test]
async fn connection_refused_is_a_network_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let client = LlmClient::new(ClientConfig {
        base_url: format!("http://{addr}"),
        max_attempts: 2,
        backoff_base: Duration::from_millis(1),
        backoff_max: Duration::from_millis(2),
        ..ClientConfig::default()
    })
    .expect("client");
    let mut events = Vec::new();
    let mut sink = |e: LlmEvent| events.push(e);
    let err = client
        .stream_chat(&request(), &CancellationToken::new(), &mut sink)
        .await
        .expect_err("refused");
    assert_eq!(err.kind, LlmErrorKind::Network);
    assert_eq!(retries(&events), vec![(2, false)]);
}

// A real 1x1 PNG.
const PNG_1X1: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0xDA, 0x63, 0x64, 0x60, 0xF8, 0x5F,
    0x0F, 0x00, 0x02, 0x87, 0x01, 0x80, 0xEB, 0x47, 0xBA, 0x92, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

#[test]
fn png_is_accepted_as_a_data_uri() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The extension is wrong on purpose: detection is by content.
    let path = dir.path().join("shot.dat");
    std::fs::write(&path, PNG_1X1).expect("write");
    let part = image_part(&path, DEFAULT_MAX_IMAGE_BYTES).expect("png accepted");
    let ContentPart::ImageUrl { image_url } = part else {
        panic!("not an image part")
    };
    assert!(
        image_url
            .url
            .starts_with("data:image/png;base64,iVBORw0KGgo"),
        "{}",
        &image_url.url[..40]
    );
    let info = image_info(&path).expect("info");
    assert_eq!(
        (info.mime, info.bytes, info.width, info.height),
        ("image/png", PNG_1X1.len() as u64, 1, 1)
    );
}

#[test]
fn text_file_is_refused_even_with_an_image_extension() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("notes.png");
    std::fs::write(&path, "just some text\n").expect("write");
    let err = image_part(&path, DEFAULT_MAX_IMAGE_BYTES).expect_err("refused");
    assert!(
        err.contains("notes.png") && err.contains("not a supported image"),
        "{err}"
    );
    assert!(image_info(&path).is_err());
}

#[test]
fn oversize_image_is_refused_naming_size_and_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.png");
    let mut data = PNG_1X1.to_vec();
    data.resize(5000, 0);
    std::fs::write(&path, &data).expect("write");
    let err = image_part(&path, 1000).expect_err("too big");
    assert!(
        err.contains("big.png") && err.contains("5000") && err.contains("1000"),
        "{err}"
    );
}
