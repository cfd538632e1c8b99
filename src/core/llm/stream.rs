//! Assembly of a streamed chat completion from its SSE `data:` payloads.
//!
//! [`StreamAssembler`] is pure (no IO) so every parser rule can be tested in isolation;
//! [`assemble_sse`] drives it from a byte stream through the SSE decoder, which is the path the
//! HTTP client uses too.

use std::time::Duration;

use futures::{Stream, StreamExt};
use serde_json::Value;

use super::error::{LlmError, LlmErrorKind};
use super::sse::{Flow, SseDecoder, DEFAULT_MAX_LINE_BYTES};
use super::types::{ChatMessage, ToolCall, Usage};

/// Something the UI can show while a response is still streaming.
#[derive(Debug, Clone, PartialEq)]
pub enum LlmEvent {
    Content(String),
    Reasoning(String),
    /// A tool call got its name. `index` is its position in the final `tool_calls`.
    ToolCallStarted {
        index: usize,
        id: String,
        name: String,
    },
    /// The attempt failed and another will start after `delay_ms`. `attempt` is the number of
    /// the attempt about to start (2 for the first retry). When `discard_partial` is true, text
    /// and tool calls already shown for the failed attempt must be thrown away.
    Retrying {
        attempt: u32,
        max_attempts: u32,
        delay_ms: u64,
        reason: String,
        discard_partial: bool,
    },
}

/// The complete response of one streamed request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssembledResponse {
    pub content: String,
    pub reasoning: String,
    pub tool_calls: Vec<ToolCall>,
    pub finish_reason: Option<String>,
    pub usage: Option<Usage>,
    pub raw_usage: Option<Value>,
    pub model: Option<String>,
    /// A top-level `error` object that ended the stream, verbatim.
    pub error: Option<Value>,
}

impl AssembledResponse {
    /// The assistant message to append to the conversation.
    ///
    /// DeepSeek's thinking mode answers 400 unless the reasoning of a turn that made tool calls is
    /// sent back, while older reasoners reject it on plain turns, so it is kept only with tool calls.
    pub fn to_assistant_message(&self) -> ChatMessage {
        let with_tools = !self.tool_calls.is_empty();
        ChatMessage::Assistant {
            content: (!self.content.is_empty() || !with_tools).then(|| self.content.clone()),
            reasoning_content: (with_tools && !self.reasoning.is_empty())
                .then(|| self.reasoning.clone()),
            tool_calls: self.tool_calls.clone(),
        }
    }
}

/// The chunk shape, borrowing strings from the data line where it can: fields not named here
/// are skipped without being built, which is most of a chunk's bytes.
mod wire {
    use std::borrow::Cow;

    use serde::Deserialize;
    use serde_json::Value;

    #[derive(Deserialize)]
    pub struct Chunk<'a> {
        #[serde(borrow, default)]
        pub model: Option<Cow<'a, str>>,
        #[serde(borrow, default)]
        pub choices: Option<Vec<Choice<'a>>>,
        #[serde(default)]
        pub usage: Option<Value>,
        #[serde(default)]
        pub error: Option<Value>,
    }

    #[derive(Deserialize)]
    pub struct Choice<'a> {
        #[serde(default)]
        pub index: Option<u64>,
        #[serde(borrow, default)]
        pub delta: Option<Delta<'a>>,
        /// Servers that answer a streaming request with a whole message use this instead.
        #[serde(borrow, default)]
        pub message: Option<Delta<'a>>,
        #[serde(borrow, default)]
        pub finish_reason: Option<Cow<'a, str>>,
    }

    #[derive(Deserialize)]
    pub struct Delta<'a> {
        #[serde(borrow, default)]
        pub content: Option<Cow<'a, str>>,
        #[serde(borrow, default)]
        pub reasoning_content: Option<Cow<'a, str>>,
        #[serde(borrow, default)]
        pub reasoning: Option<Cow<'a, str>>,
        #[serde(borrow, default)]
        pub tool_calls: Option<Vec<CallDelta<'a>>>,
    }

    #[derive(Deserialize)]
    pub struct CallDelta<'a> {
        #[serde(default)]
        pub index: Option<u64>,
        #[serde(borrow, default)]
        pub id: Option<Cow<'a, str>>,
        #[serde(borrow, default, rename = "type")]
        pub kind: Option<Cow<'a, str>>,
        #[serde(borrow, default)]
        pub function: Option<FunctionDelta<'a>>,
    }

    #[derive(Deserialize)]
    pub struct FunctionDelta<'a> {
        #[serde(borrow, default)]
        pub name: Option<Cow<'a, str>>,
        #[serde(borrow, default)]
        pub arguments: Option<Cow<'a, str>>,
    }
}

#[derive(Debug, Default)]
struct PartialCall {
    id: String,
    kind: Option<String>,
    name: String,
    arguments: String,
    index: Option<u64>,
}

/// Folds the `data:` payloads of one streamed chat completion into an [`AssembledResponse`].
#[derive(Debug, Default)]
pub struct StreamAssembler {
    content: String,
    reasoning: String,
    calls: Vec<PartialCall>,
    finish_reason: Option<String>,
    raw_usage: Option<Value>,
    /// Usage came with the finish reason or after it, so it is the reply's final count.
    usage_final: bool,
    model: Option<String>,
    error: Option<Value>,
    done: bool,
}

impl StreamAssembler {
    pub fn new() -> Self {
        Self::default()
    }

    /// True once `[DONE]` or an `error` object was seen; later data is ignored.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Whether nothing more is needed: `[DONE]` or an error, or a finish reason together with
    /// the usage when usage was asked for.
    pub fn is_complete(&self, expect_usage: bool) -> bool {
        self.done || (self.finish_reason.is_some() && (self.usage_final || !expect_usage))
    }

    /// Whether any text, reasoning or tool call has been produced so far.
    pub fn has_output(&self) -> bool {
        !self.content.is_empty() || !self.reasoning.is_empty() || !self.calls.is_empty()
    }

    /// Takes the `data:` payload of one SSE event and returns what it added.
    pub fn feed(&mut self, data: &str) -> Result<Vec<LlmEvent>, LlmError> {
        let data = data.trim();
        if self.done || data.is_empty() {
            return Ok(Vec::new());
        }
        if data == "[DONE]" {
            self.done = true;
            return Ok(Vec::new());
        }
        let chunk: wire::Chunk<'_> = match serde_json::from_str(data) {
            Ok(chunk) => chunk,
            Err(e) => return self.feed_unusual(data, e),
        };
        if let Some(error) = chunk.error.filter(|e| !e.is_null()) {
            self.error = Some(error);
            self.done = true;
            return Ok(Vec::new());
        }
        if let Some(model) = chunk.model.filter(|m| !m.is_empty()) {
            if self.model.as_deref() != Some(model.as_ref()) {
                self.model = Some(model.into_owned());
            }
        }
        let has_usage = match chunk.usage.filter(|u| !u.is_null()) {
            Some(usage) => {
                self.raw_usage = Some(usage);
                true
            }
            None => false,
        };

        let mut events = Vec::new();
        for choice in chunk.choices.into_iter().flatten() {
            // Only the first choice is assembled: requests never ask for n > 1.
            if choice.index.unwrap_or(0) != 0 {
                continue;
            }
            if let Some(delta) = choice.delta.or(choice.message) {
                self.apply_delta(delta, &mut events);
            }
            if let Some(reason) = choice.finish_reason {
                self.finish_reason = Some(reason.into_owned());
            }
        }
        if has_usage && self.finish_reason.is_some() {
            self.usage_final = true;
        }
        Ok(events)
    }

    /// A data line that is not a chunk of the usual shape: invalid JSON is an error; valid JSON
    /// of another shape is tolerated (an `error` object still ends the stream).
    fn feed_unusual(
        &mut self,
        data: &str,
        typed_error: serde_json::Error,
    ) -> Result<Vec<LlmEvent>, LlmError> {
        match serde_json::from_str::<Value>(data) {
            Err(e) => Err(LlmError::new(
                LlmErrorKind::Stream,
                None,
                format!(
                    "malformed data line from the provider ({e}): {}",
                    excerpt(data)
                ),
            )),
            Ok(value) => {
                if let Some(error) = value.get("error").filter(|e| !e.is_null()) {
                    self.error = Some(error.clone());
                    self.done = true;
                } else {
                    tracing::debug!(
                        data = excerpt(data),
                        "ignoring SSE data of an unexpected shape: {typed_error}"
                    );
                }
                Ok(Vec::new())
            }
        }
    }

    fn apply_delta(&mut self, delta: wire::Delta<'_>, events: &mut Vec<LlmEvent>) {
        let reasoning = delta
            .reasoning_content
            .filter(|r| !r.is_empty())
            .or(delta.reasoning)
            .filter(|r| !r.is_empty());
        if let Some(reasoning) = reasoning {
            self.reasoning.push_str(&reasoning);
            events.push(LlmEvent::Reasoning(reasoning.into_owned()));
        }
        if let Some(content) = delta.content.filter(|c| !c.is_empty()) {
            self.content.push_str(&content);
            events.push(LlmEvent::Content(content.into_owned()));
        }
        for call in delta.tool_calls.into_iter().flatten() {
            self.apply_tool_call(call, events);
        }
    }

    fn apply_tool_call(&mut self, call: wire::CallDelta<'_>, events: &mut Vec<LlmEvent>) {
        let id = call.id.as_deref().filter(|s| !s.is_empty());
        let index = call.index;
        let (name, arguments) = match &call.function {
            Some(f) => (
                f.name.as_deref().unwrap_or(""),
                f.arguments.as_deref().unwrap_or(""),
            ),
            None => ("", ""),
        };

        let by_id = id.and_then(|id| self.calls.iter().position(|c| c.id == id));
        // An index only identifies a call that has no other id: some servers reuse index 0 for
        // parallel calls that carry distinct ids.
        let by_index = || {
            index.and_then(|i| {
                self.calls
                    .iter()
                    .position(|c| c.index == Some(i) && (id.is_none() || c.id.is_empty()))
            })
        };
        let target = match by_id.or_else(by_index) {
            Some(pos) => pos,
            None if id.is_none() && index.is_none() && !self.calls.is_empty() => {
                self.calls.len() - 1
            }
            None => {
                self.calls.push(PartialCall {
                    index,
                    ..PartialCall::default()
                });
                self.calls.len() - 1
            }
        };

        let slot = &mut self.calls[target];
        if slot.id.is_empty() {
            if let Some(id) = id {
                slot.id = id.to_string();
            }
        }
        if slot.index.is_none() {
            slot.index = index;
        }
        if slot.kind.is_none() {
            slot.kind = call
                .kind
                .as_deref()
                .filter(|s| !s.is_empty())
                .map(str::to_string);
        }
        let resent_whole = !slot.arguments.is_empty()
            && arguments == slot.arguments
            && serde_json::from_str::<serde::de::IgnoredAny>(&slot.arguments).is_ok();
        if !resent_whole {
            slot.arguments.push_str(arguments);
        }
        if slot.name.is_empty() && !name.is_empty() {
            slot.name = name.to_string();
            events.push(LlmEvent::ToolCallStarted {
                index: target,
                id: slot.id.clone(),
                name: slot.name.clone(),
            });
        }
    }

    pub fn finish(self) -> AssembledResponse {
        let tool_calls = self
            .calls
            .into_iter()
            .enumerate()
            .map(|(n, c)| ToolCall {
                // A tool result must name its call, so servers that omit ids get a stable one.
                id: if c.id.is_empty() {
                    format!("call_{n}")
                } else {
                    c.id
                },
                kind: c.kind.unwrap_or_else(|| "function".to_string()),
                function: super::types::FunctionCall {
                    name: c.name,
                    arguments: c.arguments,
                },
            })
            .collect();
        AssembledResponse {
            content: self.content,
            reasoning: self.reasoning,
            tool_calls,
            finish_reason: self.finish_reason,
            usage: self.raw_usage.as_ref().map(Usage::from_raw),
            raw_usage: self.raw_usage,
            model: self.model,
            error: self.error,
        }
    }
}

fn excerpt(s: &str) -> String {
    const MAX: usize = 200;
    match s.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_string(),
    }
}

/// How a streamed reply is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SseOptions {
    /// Longest SSE line (or event data) accepted; a longer one fails the request.
    pub max_line_bytes: usize,
    /// The request asked for usage (`stream_options.include_usage`), so a finish reason
    /// without it is followed by a wait of at most `usage_grace` for the chunk carrying it.
    pub expect_usage: bool,
    pub usage_grace: Duration,
}

impl Default for SseOptions {
    fn default() -> Self {
        SseOptions {
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            expect_usage: true,
            usage_grace: DEFAULT_USAGE_GRACE,
        }
    }
}

/// OpenAI sends usage in its own chunk right after the finish reason; a server that holds the
/// connection afterwards must not cost more than this.
pub const DEFAULT_USAGE_GRACE: Duration = Duration::from_secs(2);

/// Runs a raw SSE byte stream through the SSE decoder and the assembler, handing each event to
/// `on_event` as it is produced. The reply is complete at `[DONE]`, at an `error` object, or
/// once it has a finish reason and the usage it was asked for (after a finish reason, usage is
/// awaited for `usage_grace` at most); the connection is not read further. A body that ends
/// before a finish reason or `[DONE]` is an [`LlmErrorKind::Incomplete`] error: the reply was
/// cut off and nothing assembled from it may be used. A mid-stream `error` object is returned
/// inside the response, not as `Err`.
///
/// Waiting for usage needs a tokio runtime with its timer.
pub async fn assemble_sse<S, B, E>(
    stream: S,
    options: SseOptions,
    mut on_event: impl FnMut(LlmEvent),
) -> Result<AssembledResponse, LlmError>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]>,
    E: Into<LlmError>,
{
    futures::pin_mut!(stream);
    let mut decoder = SseDecoder::new(options.max_line_bytes);
    let mut assembler = StreamAssembler::new();
    loop {
        let next = if assembler.finish_reason.is_some() {
            match tokio::time::timeout(options.usage_grace, stream.next()).await {
                Ok(next) => next,
                Err(_) => {
                    tracing::warn!(
                        "no usage within {:?} of the finish reason; the reply is complete without it",
                        options.usage_grace
                    );
                    break;
                }
            }
        } else {
            stream.next().await
        };
        let mut on_data = |data: &str| -> Result<Flow, LlmError> {
            for ev in assembler.feed(data)? {
                on_event(ev);
            }
            Ok(if assembler.is_complete(options.expect_usage) {
                Flow::Break(())
            } else {
                Flow::Continue(())
            })
        };
        let flow = match next {
            Some(bytes) => decoder.push(bytes.map_err(Into::into)?.as_ref(), &mut on_data)?,
            None => {
                decoder.finish(&mut on_data)?;
                break;
            }
        };
        if flow.is_break() {
            break;
        }
    }
    if !assembler.is_done() && assembler.finish_reason.is_none() {
        return Err(LlmError::new(LlmErrorKind::Incomplete, None, ""));
    }
    Ok(assembler.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn feed_all(lines: &[Value]) -> (AssembledResponse, Vec<LlmEvent>) {
        let mut a = StreamAssembler::new();
        let mut events = Vec::new();
        for line in lines {
            events.extend(a.feed(&line.to_string()).expect("valid chunk"));
        }
        (a.finish(), events)
    }

    fn delta(d: Value) -> Value {
        json!({"choices": [{"index": 0, "delta": d, "finish_reason": null}]})
    }

    fn tc(v: Value) -> Value {
        delta(json!({"tool_calls": [v]}))
    }

    #[test]
    fn content_and_finish_reason_last_non_null() {
        let (r, events) = feed_all(&[
            delta(json!({"role": "assistant", "content": "Hel"})),
            delta(json!({"content": "lo"})),
            json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
            json!({"choices": [{"index": 0, "delta": {}, "finish_reason": null}]}),
        ]);
        assert_eq!(r.content, "Hello");
        assert_eq!(r.finish_reason.as_deref(), Some("stop"));
        assert_eq!(
            events,
            vec![
                LlmEvent::Content("Hel".into()),
                LlmEvent::Content("lo".into())
            ]
        );
    }

    #[test]
    fn tool_call_indexes_starting_at_one() {
        let (r, _) = feed_all(&[
            tc(json!({"index": 1, "id": "a", "function": {"name": "read", "arguments": "{\"p\""}})),
            tc(json!({"index": 2, "id": "b", "function": {"name": "ls", "arguments": "{}"}})),
            tc(json!({"index": 1, "function": {"arguments": ":1}"}})),
        ]);
        assert_eq!(r.tool_calls.len(), 2);
        assert_eq!(r.tool_calls[0].function.arguments, "{\"p\":1}");
        assert_eq!(r.tool_calls[1].function.name, "ls");
        assert_eq!(r.tool_calls[1].function.arguments, "{}");
    }

    #[test]
    fn missing_index_joins_latest_call() {
        let (r, events) = feed_all(&[
            tc(json!({"id": "x", "function": {"name": "grep", "arguments": "{\"q\":"}})),
            tc(json!({"function": {"arguments": "\"a\"}"}})),
        ]);
        assert_eq!(r.tool_calls.len(), 1);
        assert_eq!(r.tool_calls[0].id, "x");
        assert_eq!(r.tool_calls[0].function.arguments, "{\"q\":\"a\"}");
        assert_eq!(
            events,
            vec![LlmEvent::ToolCallStarted {
                index: 0,
                id: "x".into(),
                name: "grep".into()
            }]
        );
    }

    #[test]
    fn joins_by_id_before_index() {
        // Both calls claim index 0; the ids tell them apart.
        let (r, _) = feed_all(&[
            tc(json!({"index": 0, "id": "a", "function": {"name": "one", "arguments": "{\"x\""}})),
            tc(json!({"index": 0, "id": "b", "function": {"name": "two", "arguments": "{}"}})),
            tc(json!({"index": 0, "id": "a", "function": {"arguments": ":1}"}})),
        ]);
        assert_eq!(r.tool_calls.len(), 2);
        assert_eq!(r.tool_calls[0].function.arguments, "{\"x\":1}");
        assert_eq!(r.tool_calls[1].function.arguments, "{}");
    }

    #[test]
    fn first_non_empty_name_wins() {
        let (r, _) = feed_all(&[
            tc(json!({"index": 0, "id": "a", "function": {"name": "", "arguments": ""}})),
            tc(json!({"index": 0, "function": {"name": "first", "arguments": "{}"}})),
            tc(json!({"index": 0, "function": {"name": "second"}})),
        ]);
        assert_eq!(r.tool_calls[0].function.name, "first");
    }

    #[test]
    fn resent_identical_complete_call_is_not_duplicated() {
        let call = json!({"index": 0, "id": "c1", "type": "function",
            "function": {"name": "read_file", "arguments": "{\"path\":\"a.rs\"}"}});
        let (r, events) = feed_all(&[tc(call.clone()), tc(call)]);
        assert_eq!(r.tool_calls.len(), 1);
        assert_eq!(r.tool_calls[0].function.arguments, "{\"path\":\"a.rs\"}");
        assert_eq!(events.len(), 1, "started once: {events:?}");
    }

    #[test]
    fn repeated_fragment_of_incomplete_arguments_still_appends() {
        let (r, _) = feed_all(&[
            tc(json!({"index": 0, "id": "c", "function": {"name": "f", "arguments": "{\"a\":\""}})),
            tc(json!({"index": 0, "function": {"arguments": "{\"a\":\""}})),
        ]);
        assert_eq!(r.tool_calls[0].function.arguments, "{\"a\":\"{\"a\":\"");
    }

    #[test]
    fn unknown_finish_reason_and_fields_are_kept_not_fatal() {
        let (r, _) = feed_all(&[
            json!({"weird": {"nested": [1, 2]}, "model": "m1", "choices": [{"index": 0,
                "delta": {"content": "ok", "surprise": true}, "finish_reason": null, "extra": 1}]}),
            json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "insufficient_system_resource"}]}),
        ]);
        assert_eq!(r.content, "ok");
        assert_eq!(r.model.as_deref(), Some("m1"));
        assert_eq!(
            r.finish_reason.as_deref(),
            Some("insufficient_system_resource")
        );
    }

    #[test]
    fn reasoning_falls_back_to_reasoning_field() {
        let (r, events) = feed_all(&[
            delta(json!({"reasoning": "think "})),
            delta(json!({"reasoning_content": "more", "reasoning": "more"})),
            delta(json!({"content": "done"})),
        ]);
        assert_eq!(r.reasoning, "think more");
        assert_eq!(events[0], LlmEvent::Reasoning("think ".into()));
    }

    #[test]
    fn usage_last_non_null_wins_and_is_parsed() {
        let (r, _) = feed_all(&[
            json!({"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1}}),
            json!({"choices": [], "usage": null}),
            json!({"choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 2,
                "prompt_cache_hit_tokens": 8, "prompt_cache_miss_tokens": 2}}),
        ]);
        let u = r.usage.expect("usage");
        assert_eq!((u.prompt_tokens, u.cache_hit_tokens), (10, 8));
        assert_eq!(r.raw_usage.expect("raw")["prompt_cache_miss_tokens"], 2);
    }

    #[test]
    fn empty_data_is_ignored_and_done_stops() {
        let mut a = StreamAssembler::new();
        assert!(a.feed("").expect("empty").is_empty());
        assert!(a.feed("   ").expect("blank").is_empty());
        a.feed("[DONE]").expect("done");
        assert!(a.is_done());
        // Anything after [DONE], even garbage, is not parsed.
        assert!(a.feed("not json").expect("ignored").is_empty());
    }

    #[test]
    fn invalid_json_is_a_stream_error() {
        let mut a = StreamAssembler::new();
        let err = a.feed("{\"choices\": [").expect_err("must fail");
        assert_eq!(err.kind, LlmErrorKind::Stream);
        assert!(err.to_string().contains("malformed"), "{err}");
    }

    #[test]
    fn error_object_ends_the_stream() {
        let mut a = StreamAssembler::new();
        a.feed(&delta(json!({"content": "part"})).to_string())
            .expect("chunk");
        a.feed(r#"{"error":{"message":"boom","code":"x"}}"#)
            .expect("error chunk");
        assert!(a.is_done());
        a.feed(&delta(json!({"content": "late"})).to_string())
            .expect("ignored");
        let r = a.finish();
        assert_eq!(r.content, "part");
        assert_eq!(r.error.expect("error")["message"], "boom");
    }

    #[test]
    fn missing_ids_get_stable_ones() {
        let (r, _) = feed_all(&[tc(
            json!({"index": 0, "function": {"name": "f", "arguments": "{}"}}),
        )]);
        assert_eq!(r.tool_calls[0].id, "call_0");
        assert_eq!(r.tool_calls[0].kind, "function");
    }

    #[tokio::test]
    async fn comments_and_empty_events_are_ignored_on_the_sse_path() {
        let body = ": keep-alive\n\ndata:\n\n: another\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n";
        let chunks = vec![Ok::<_, std::convert::Infallible>(body.as_bytes().to_vec())];
        let mut events = Vec::new();
        let r = assemble_sse(futures::stream::iter(chunks), SseOptions::default(), |e| {
            events.push(e)
        })
        .await
        .expect("assembled");
        assert_eq!(r.content, "hi");
        assert_eq!(events, vec![LlmEvent::Content("hi".into())]);
    }

    #[tokio::test]
    async fn a_last_event_cut_off_by_eof_is_still_read() {
        let body = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"},\"finish_reason\":\"stop\"}]}";
        let chunks = vec![Ok::<_, std::convert::Infallible>(body.as_bytes().to_vec())];
        let r = assemble_sse(futures::stream::iter(chunks), SseOptions::default(), |_| {})
            .await
            .expect("assembled");
        assert_eq!(r.content, "ab");
        assert_eq!(r.finish_reason.as_deref(), Some("stop"));
    }

    /// `events` as SSE, then a connection that stays open and silent.
    fn held_open(
        events: &[Value],
    ) -> impl Stream<Item = Result<Vec<u8>, std::convert::Infallible>> {
        let body: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
        futures::stream::iter([Ok(body.into_bytes())]).chain(futures::stream::pending())
    }

    fn finish_chunk(reason: &str, usage: Option<Value>) -> Value {
        json!({"choices": [{"index": 0, "delta": {}, "finish_reason": reason}], "usage": usage})
    }

    fn usage_json() -> Value {
        json!({"prompt_tokens": 5, "completion_tokens": 2})
    }

    /// Assembles `stream`, failing the test if that takes more than a second.
    async fn assemble_quickly(
        stream: impl Stream<Item = Result<Vec<u8>, std::convert::Infallible>>,
        options: SseOptions,
    ) -> Result<AssembledResponse, LlmError> {
        tokio::time::timeout(
            std::time::Duration::from_secs(1),
            assemble_sse(stream, options, |_| {}),
        )
        .await
        .expect("the reply was complete but assembly kept waiting")
    }

    #[tokio::test]
    async fn a_body_that_ends_without_finish_reason_or_done_is_incomplete() {
        let body = [
            delta(json!({"content": "I will write it"})),
            tc(
                json!({"index": 0, "id": "c1", "function": {"name": "create_file",
                "arguments": "{\"path\": \"a.txt\""}}),
            ),
        ]
        .iter()
        .map(|e| format!("data: {e}\n\n"))
        .collect::<String>();
        let chunks = vec![Ok::<_, std::convert::Infallible>(body.into_bytes())];
        let err = assemble_sse(futures::stream::iter(chunks), SseOptions::default(), |_| {})
            .await
            .expect_err("a cut-off reply is not a reply");
        assert_eq!(err.kind, LlmErrorKind::Incomplete);
        assert!(err.retryable());
        assert!(err.to_string().contains("cut off"), "{err}");
    }

    #[tokio::test]
    async fn done_alone_ends_a_reply() {
        let body = format!(
            "data: {}\n\ndata: [DONE]\n\n",
            delta(json!({"content": "hi"}))
        );
        let chunks = vec![Ok::<_, std::convert::Infallible>(body.into_bytes())];
        let r = assemble_sse(futures::stream::iter(chunks), SseOptions::default(), |_| {})
            .await
            .expect("complete");
        assert_eq!(r.content, "hi");
    }

    #[tokio::test]
    async fn finish_reason_with_usage_is_complete_while_the_connection_stays_open() {
        let stream = held_open(&[
            delta(json!({"content": "done"})),
            finish_chunk("stop", Some(usage_json())),
        ]);
        let r = assemble_quickly(stream, SseOptions::default())
            .await
            .expect("complete");
        assert_eq!(r.content, "done");
        assert_eq!(r.finish_reason.as_deref(), Some("stop"));
        assert_eq!(r.usage.expect("usage").prompt_tokens, 5);
    }

    #[tokio::test]
    async fn usage_in_its_own_chunk_after_the_finish_reason_is_read() {
        let stream = held_open(&[
            delta(json!({"content": "done"})),
            finish_chunk("stop", None),
            json!({"choices": [], "usage": usage_json()}),
        ]);
        let r = assemble_quickly(stream, SseOptions::default())
            .await
            .expect("complete");
        assert_eq!(r.usage.expect("usage").completion_tokens, 2);
    }

    #[test]
    fn usage_seen_before_the_finish_reason_is_not_the_final_count() {
        let mut a = StreamAssembler::new();
        a.feed(&json!({"choices": [], "usage": usage_json()}).to_string())
            .expect("chunk");
        a.feed(&finish_chunk("stop", None).to_string())
            .expect("chunk");
        assert!(!a.is_complete(true));
        assert!(a.is_complete(false));
    }

    #[tokio::test]
    async fn missing_usage_is_awaited_only_for_the_grace() {
        let options = SseOptions {
            usage_grace: std::time::Duration::from_millis(50),
            ..SseOptions::default()
        };
        let stream = held_open(&[delta(json!({"content": "ok"})), finish_chunk("stop", None)]);
        let r = assemble_quickly(stream, options).await.expect("complete");
        assert_eq!(r.content, "ok");
        assert_eq!(r.usage, None);
        // Usage not asked for: the finish reason alone completes the reply.
        let options = SseOptions {
            expect_usage: false,
            usage_grace: std::time::Duration::from_secs(3600),
            ..SseOptions::default()
        };
        let stream = held_open(&[delta(json!({"content": "ok"})), finish_chunk("stop", None)]);
        assert_eq!(
            assemble_quickly(stream, options)
                .await
                .expect("complete")
                .content,
            "ok"
        );
    }

    #[tokio::test]
    async fn a_line_over_the_cap_fails_the_reply() {
        let options = SseOptions {
            max_line_bytes: 64,
            ..SseOptions::default()
        };
        let long = delta(json!({"content": "x".repeat(100)}));
        let err = assemble_quickly(held_open(&[long]), options)
            .await
            .expect_err("refused");
        assert_eq!(err.kind, LlmErrorKind::Stream);
        assert!(!err.retryable());
        assert!(err.to_string().contains("longer than 64 bytes"), "{err}");
    }

    #[test]
    fn assistant_message_keeps_reasoning_only_with_tool_calls() {
        let mut r = AssembledResponse {
            content: "hi".into(),
            reasoning: "why".into(),
            ..Default::default()
        };
        let ChatMessage::Assistant {
            reasoning_content, ..
        } = r.to_assistant_message()
        else {
            panic!("assistant")
        };
        assert_eq!(reasoning_content, None);
        r.tool_calls.push(ToolCall::new("c", "f", "{}"));
        let ChatMessage::Assistant {
            reasoning_content, ..
        } = r.to_assistant_message()
        else {
            panic!("assistant")
        };
        assert_eq!(reasoning_content.as_deref(), Some("why"));
    }
}
