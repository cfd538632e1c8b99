//! Tests of the scripted model server itself (`tests/support/mock_server.rs`).

#[path = "support/mock_server.rs"]
mod mock_server;

use std::time::{Duration, Instant};

use futures::StreamExt;
use mock_server::{CallSpec, Match, MockServer, Reply, Step, UsageSpec};
use serde_json::{json, Value};

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

fn body(user: &str) -> Value {
    json!({
        "model": "deepseek-chat",
        "stream": true,
        "messages": [
            {"role": "system", "content": "You are a test."},
            {"role": "user", "content": user}
        ]
    })
}

async fn post(server: &MockServer, body: &Value) -> reqwest::Response {
    client()
        .post(server.completions_url())
        .bearer_auth("sk-test")
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Data payloads of an SSE body (comments and blank lines dropped).
fn data_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(str::to_string)
        .collect()
}

fn chunks(text: &str) -> Vec<Value> {
    data_lines(text)
        .iter()
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

fn joined(chunks: &[Value], field: &str) -> String {
    chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"][field].as_str())
        .collect()
}

#[tokio::test]
async fn text_reply_streams_chunks_then_usage_and_done() {
    let content = "## Title\n\nHello *world*, this is a streamed answer.";
    let server = MockServer::start(vec![Reply::text(content)
        .reasoning("Let me think about it.")
        .usage(
            UsageSpec::new(120, 30)
                .reasoning_tokens(6)
                .cache_hit_tokens(64),
        )])
    .await;
    let resp = post(&server, &body("hi")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let text = resp.text().await.unwrap();
    let lines = data_lines(&text);
    assert_eq!(lines.last().unwrap(), "[DONE]");
    let cs = chunks(&text);
    assert!(cs.len() > 5, "expected several chunks, got {}", cs.len());
    for c in &cs {
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["model"], "deepseek-chat");
        assert_eq!(c["choices"][0]["index"], 0);
    }
    assert_eq!(cs[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(joined(&cs, "content"), content);
    assert_eq!(joined(&cs, "reasoning_content"), "Let me think about it.");
    // Usage only on the final chunk, DeepSeek style.
    let (last, rest) = cs.split_last().unwrap();
    assert!(rest.iter().all(|c| c["usage"].is_null()));
    assert!(rest
        .iter()
        .all(|c| c["choices"][0]["finish_reason"].is_null()));
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        last["usage"],
        json!({
            "prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150,
            "prompt_tokens_details": {"cached_tokens": 64},
            "completion_tokens_details": {"reasoning_tokens": 6},
            "prompt_cache_hit_tokens": 64, "prompt_cache_miss_tokens": 56
        })
    );
}

#[tokio::test]
async fn default_usage_and_custom_finish_reason() {
    let server = MockServer::start(vec![
        Reply::text("abc").finish_reason("insufficient_system_resource")
    ])
    .await;
    let text = post(&server, &body("hi")).await.text().await.unwrap();
    let cs = chunks(&text);
    let last = cs.last().unwrap();
    assert_eq!(
        last["choices"][0]["finish_reason"],
        "insufficient_system_resource"
    );
    let u = &last["usage"];
    assert!(u["prompt_tokens"].as_u64().unwrap() > 0);
    assert!(u["completion_tokens"].as_u64().unwrap() > 0);
    assert_eq!(
        u["total_tokens"].as_u64().unwrap(),
        u["prompt_tokens"].as_u64().unwrap() + u["completion_tokens"].as_u64().unwrap()
    );
}

#[tokio::test]
async fn deltas_arrive_before_the_stream_ends() {
    let server = MockServer::start(vec![Reply::stall_mid_stream("early words", 30_000)]).await;
    let resp = post(&server, &body("hi")).await;
    let mut stream = resp.bytes_stream();
    let mut seen = String::new();
    // The server holds the rest for 30 s; the first content must be readable long before that.
    tokio::time::timeout(Duration::from_secs(10), async {
        while !seen.contains(r#""y wo""#) {
            let bytes = stream.next().await.unwrap().unwrap();
            seen.push_str(&String::from_utf8_lossy(&bytes));
        }
    })
    .await
    .expect("content was not streamed before the end");
    drop(stream);
    assert!(
        server
            .wait_for_disconnects(1, Duration::from_secs(10))
            .await
    );
}

#[tokio::test]
async fn tool_call_fragments_reassemble_exactly() {
    let args0 = r#"{"path": "src/main.rs", "note": "naïve — ünïcödé"}"#;
    let args1 = r#"{"broken": tru"#; // invalid JSON passes through untouched
    let server = MockServer::start(vec![Reply::tool_calls(vec![
        CallSpec::new("read_file", args0).id("call_a"),
        CallSpec::new("bash", args1),
    ])
    .reasoning("I should read it.")])
    .await;
    let text = post(&server, &body("read main"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(data_lines(&text).last().unwrap(), "[DONE]");
    let cs = chunks(&text);
    let mut ids = vec![String::new(); 2];
    let mut names = vec![String::new(); 2];
    let mut args = vec![String::new(); 2];
    let mut fragments = [0usize; 2];
    for c in &cs {
        let Some(calls) = c["choices"][0]["delta"]["tool_calls"].as_array() else {
            continue;
        };
        for call in calls {
            let i = call["index"].as_u64().unwrap() as usize;
            if let Some(id) = call["id"].as_str() {
                assert!(ids[i].is_empty(), "id sent twice");
                ids[i] = id.to_string();
                names[i] = call["function"]["name"].as_str().unwrap().to_string();
            }
            args[i].push_str(call["function"]["arguments"].as_str().unwrap());
            fragments[i] += 1;
        }
    }
    assert_eq!(ids[0], "call_a");
    assert!(!ids[1].is_empty());
    assert_eq!(names, ["read_file", "bash"]);
    assert_eq!(args, [args0, args1]);
    assert!(fragments[0] > 3, "arguments should arrive in fragments");
    let last = cs.last().unwrap();
    assert_eq!(last["choices"][0]["finish_reason"], "tool_calls");
    assert!(last["usage"]["completion_tokens"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn unsplit_arguments_come_in_one_chunk() {
    let server = MockServer::start(vec![
        Reply::tool_call("list_dir", r#"{"path":"."}"#).split_arguments(false)
    ])
    .await;
    let text = post(&server, &body("ls")).await.text().await.unwrap();
    let calls: Vec<Value> = chunks(&text)
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"].as_array().cloned())
        .flatten()
        .collect();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["function"]["arguments"], r#"{"path":"."}"#);
}

#[tokio::test]
async fn matchers_route_by_last_user_message_regardless_of_order() {
    let server = MockServer::start(vec![
        Reply::text("ALPHA").when(Match::last_user_contains("alpha task")),
        Reply::text("BETA").when(Match::last_user_contains("beta task")),
    ])
    .await;
    let b = post(&server, &body("do the beta task"))
        .await
        .text()
        .await
        .unwrap();
    let a = post(&server, &body("do the alpha task"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(joined(&chunks(&a), "content"), "ALPHA");
    assert_eq!(joined(&chunks(&b), "content"), "BETA");
    assert_eq!(server.remaining(), 0);
}

#[tokio::test]
async fn tool_result_matcher_and_repeat() {
    let server = MockServer::start(vec![
        Reply::text("done listing")
            .when(Match::has_tool_result_for("list_dir"))
            .repeat(),
        Reply::tool_call("list_dir", "{}")
            .when(Match::last_user_contains("list files"))
            .repeat(),
        Reply::text("default").repeat(),
    ])
    .await;
    for _ in 0..2 {
        let t = post(&server, &body("please list files"))
            .await
            .text()
            .await
            .unwrap();
        assert!(t.contains("list_dir"));
    }
    let with_result = json!({"model": "m", "messages": [
        {"role": "user", "content": "please list files"},
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_9", "type": "function", "function": {"name": "list_dir", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_9", "content": "a.txt\nb.txt"}
    ]});
    let t = post(&server, &with_result).await.text().await.unwrap();
    assert_eq!(joined(&chunks(&t), "content"), "done listing");
    assert!(Match::has_tool_result_for("call_9").matches(&with_result));
    assert!(Match::any_message_contains("b.txt").matches(&with_result));
    assert!(Match::last_role("tool").matches(&with_result));
    assert!(!Match::last_user_contains("b.txt").matches(&with_result));
    let t = post(&server, &body("hello")).await.text().await.unwrap();
    assert_eq!(joined(&chunks(&t), "content"), "default");
    assert_eq!(server.remaining(), 3);
}

#[tokio::test]
async fn exhausted_script_answers_500_with_message() {
    let server = MockServer::start(vec![Reply::text("only one")]).await;
    post(&server, &body("first")).await.text().await.unwrap();
    let resp = post(&server, &body("second question")).await;
    assert_eq!(resp.status(), 500);
    let v: Value = resp.json().await.unwrap();
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.starts_with("mock script exhausted: no reply for request 2"),
        "{msg}"
    );
    assert!(msg.contains("second question"), "{msg}");
}

#[tokio::test]
async fn http_error_status_body_and_retry_after() {
    let fixture = mock_server::read_fixture("X-err-429-rate-limit-reached.json");
    let server = MockServer::start(vec![
        Reply::http_error_fixture(429, "X-err-429-rate-limit-reached.json").retry_after(2),
        Reply::http_error(402, r#"{"error":{"message":"Insufficient Balance"}}"#),
        Reply::text("ok"),
    ])
    .await;
    let resp = post(&server, &body("x")).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "2");
    assert_eq!(resp.text().await.unwrap(), fixture);
    let resp = post(&server, &body("x")).await;
    assert_eq!(resp.status(), 402);
    assert!(resp.text().await.unwrap().contains("Insufficient Balance"));
    // The connection stays usable after errors.
    let resp = post(&server, &body("x")).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("[DONE]"));
}

#[tokio::test]
async fn cut_produces_a_client_side_body_error() {
    let server = MockServer::start(vec![Reply::cut("partial answer"), Reply::text("after")]).await;
    let resp = post(&server, &body("x")).await;
    assert_eq!(resp.status(), 200);
    let mut stream = resp.bytes_stream();
    let mut got = String::new();
    let mut error = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(b) => got.push_str(&String::from_utf8_lossy(&b)),
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    assert!(
        error.is_some(),
        "expected a body error, got clean end: {got}"
    );
    assert!(
        got.contains("part"),
        "chunks before the cut should arrive: {got}"
    );
    assert!(!got.contains("[DONE]"));
    // A new request works.
    let t = post(&server, &body("y")).await.text().await.unwrap();
    assert_eq!(joined(&chunks(&t), "content"), "after");
}

#[tokio::test]
async fn stall_delays_headers() {
    let server = MockServer::start(vec![Reply::stall(300, Reply::text("late"))]).await;
    let start = Instant::now();
    let resp = post(&server, &body("x")).await;
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert_eq!(resp.status(), 200);
    let t = resp.text().await.unwrap();
    assert_eq!(joined(&chunks(&t), "content"), "late");
}

#[tokio::test]
async fn stall_with_keepalive_sends_headers_then_comments() {
    let server = MockServer::start(vec![
        Reply::stall(250, Reply::text("late")).keepalive_every_ms(50),
        Reply::stall_mid_stream("a", 250).keepalive_every_ms(50),
    ])
    .await;
    for expected in ["late", "a"] {
        let t = post(&server, &body("x")).await.text().await.unwrap();
        assert!(t.matches(": keep-alive").count() >= 2, "{t}");
        assert_eq!(joined(&chunks(&t), "content"), expected);
        assert!(t.contains("data: [DONE]"));
    }
}

#[tokio::test]
async fn dropping_a_stalled_request_counts_a_disconnect() {
    let server = MockServer::start(vec![Reply::stall(30_000, Reply::text("never"))]).await;
    let url = server.completions_url();
    let req = tokio::spawn(async move { client().post(url).json(&body("x")).send().await });
    assert!(server.wait_for_requests(1, Duration::from_secs(10)).await);
    req.abort();
    assert!(
        server
            .wait_for_disconnects(1, Duration::from_secs(10))
            .await
    );
}

#[tokio::test]
async fn midstream_error_has_no_done() {
    let server = MockServer::start(vec![Reply::midstream_error(
        "quick brown",
        json!({"message": "Server overloaded", "code": "server_overloaded"}),
    )])
    .await;
    let t = post(&server, &body("x")).await.text().await.unwrap();
    let lines = data_lines(&t);
    assert!(!lines.iter().any(|l| l == "[DONE]"));
    let last: Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], "server_overloaded");
    assert_eq!(
        joined(&chunks(&t)[..chunks(&t).len() - 1], "content"),
        "quick brown"
    );
}

#[tokio::test]
async fn raw_fixture_is_sent_verbatim() {
    let fixture = mock_server::read_fixture("C-deepseek-tool-call.sse");
    let server = MockServer::start(vec![Reply::fixture("C-deepseek-tool-call.sse")]).await;
    let t = post(&server, &body("x")).await.text().await.unwrap();
    assert_eq!(t, fixture);
}

#[tokio::test]
async fn requests_and_headers_are_recorded() {
    let server = MockServer::start(vec![Reply::text("one"), Reply::text("two")]).await;
    server.push(Reply::text("three"));
    for q in ["q1", "q2", "q3"] {
        post(&server, &body(q)).await.text().await.unwrap();
    }
    // Also served without the /v1 prefix.
    let resp = client()
        .post(format!("http://{}/chat/completions", server.addr()))
        .json(&body("q4"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 500); // script exhausted, but recorded
    assert_eq!(server.request_count(), 4);
    let reqs = server.requests();
    assert_eq!(reqs[0], body("q1"));
    assert_eq!(reqs[2]["messages"][1]["content"], "q3");
    let rec = server.recorded();
    assert_eq!(rec[0].header("Authorization"), Some("Bearer sk-test"));
    assert_eq!(rec[3].header("authorization"), None);
    assert_eq!(rec[3].path, "/chat/completions");
    assert!(server.headers()[1]
        .iter()
        .any(|(k, v)| k == "content-type" && v == "application/json"));
}

#[test]
fn blocking_server_and_json_script() {
    let script = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/scripts/demo.json"
    ))
    .unwrap();
    let steps: Vec<Step> = mock_server::parse_script(&script).unwrap();
    assert!(steps.len() >= 3);
    // Round trip through serde.
    let again: Vec<Step> = serde_json::from_value(serde_json::to_value(&steps).unwrap()).unwrap();
    assert_eq!(again, steps);

    let server = MockServer::start_blocking(steps);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let t = rt.block_on(async {
        client()
            .post(server.completions_url())
            .json(&body("please list files here"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    assert!(t.contains("list_dir"));
    assert_eq!(server.request_count(), 1);
    server.shutdown();
}

/// `/model` with no name asks the server for `GET /models`; the client reads OpenAI's list
/// shape, and a server without the route gives an error rather than an empty list.
#[tokio::test]
async fn the_llm_client_lists_the_servers_models() {
    use boocode::core::llm::{ClientConfig, LlmClient};
    let server = MockServer::start(Vec::<Step>::new()).await;
    let client = |base_url: String| {
        LlmClient::new(ClientConfig {
            base_url,
            api_key: Some("sk-test".into()),
            ..ClientConfig::default()
        })
        .unwrap()
    };
    let models = client(server.base_url()).list_models().await.unwrap();
    let listed: Vec<(&str, Option<u64>)> = models
        .iter()
        .map(|m| (m.id.as_str(), m.context_window))
        .collect();
    assert_eq!(
        listed,
        vec![("mock-model", Some(65_536)), ("mock-reasoner", None)]
    );
    let missing = client(format!("{}/nowhere", server.base_url()))
        .list_models()
        .await
        .unwrap_err();
    assert!(missing.to_string().contains("404"), "{missing}");
}

#[tokio::test]
async fn truncated_ends_cleanly_without_finish_reason_or_done() {
    let script = r#"[{"kind": "truncated", "content": "half a",
        "calls": [{"id": "c1", "name": "list_dir", "arguments": "{}"}]}]"#;
    let server = MockServer::start(mock_server::parse_script(script).unwrap()).await;
    // The body ends with its terminating chunk, so reading it whole succeeds.
    let text = post(&server, &body("hi")).await.text().await.unwrap();
    assert!(!text.contains("[DONE]"), "{text}");
    let chunks = chunks(&text);
    assert_eq!(joined(&chunks, "content"), "half a");
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["delta"]["tool_calls"][0]["id"],
        "c1"
    );
    assert!(chunks
        .iter()
        .all(|c| c["choices"][0]["finish_reason"].is_null()));
}

#[tokio::test]
async fn hold_before_done_holds_after_the_finish_reason() {
    let server = MockServer::start(vec![Reply::hold_before_done(300, Reply::text("ok"))]).await;
    let started = Instant::now();
    let resp = post(&server, &body("hi")).await;
    let mut stream = resp.bytes_stream();
    let mut seen = String::new();
    while !seen.contains("[DONE]") {
        let bytes = stream.next().await.unwrap().unwrap();
        seen.push_str(&String::from_utf8_lossy(&bytes));
    }
    assert!(started.elapsed() >= Duration::from_millis(300));
    let finish_at = seen.find("\"stop\"").unwrap();
    assert!(finish_at < seen.find("[DONE]").unwrap());
}
