//! The HTTP side: one streamed `POST /chat/completions` with retry, timeouts and cancellation.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use tokio_util::sync::CancellationToken;

use super::error::{LlmError, LlmErrorKind};
use super::provider::chat_completions_url;
use super::sse::DEFAULT_MAX_LINE_BYTES;
use super::stream::{
    assemble_sse, AssembledResponse, LlmEvent, SseOptions, StreamAssembler, DEFAULT_USAGE_GRACE,
};
use super::types::ChatRequest;

#[derive(Clone)]
pub struct ClientConfig {
    pub base_url: String,
    pub api_key: Option<String>,
    /// Total tries per request, the first included.
    pub max_attempts: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Longest silence allowed between two received bytes (keep-alive comments count).
    pub idle_timeout: Duration,
    /// Longest a single HTTP request may take, streaming included.
    pub request_deadline: Duration,
    /// Longest SSE line (or event data) accepted from the provider.
    pub max_stream_line_bytes: usize,
    /// After a finish reason, how long to wait for the usage the request asked for.
    pub usage_grace: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            base_url: "https://api.deepseek.com".to_string(),
            api_key: None,
            max_attempts: 4,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(90),
            request_deadline: Duration::from_secs(600),
            max_stream_line_bytes: DEFAULT_MAX_LINE_BYTES,
            usage_grace: DEFAULT_USAGE_GRACE,
        }
    }
}

// Written by hand so that the key can never end up in a log line.
impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("max_attempts", &self.max_attempts)
            .field("backoff_base", &self.backoff_base)
            .field("backoff_max", &self.backoff_max)
            .field("idle_timeout", &self.idle_timeout)
            .field("request_deadline", &self.request_deadline)
            .field("max_stream_line_bytes", &self.max_stream_line_bytes)
            .field("usage_grace", &self.usage_grace)
            .finish()
    }
}

/// One model a server lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelInfo {
    pub id: String,
    /// Its context window in tokens, when the server reports one.
    pub context_window: Option<u64>,
}

/// A chat-completions client. Cloning is cheap and shares the connection pool.
#[derive(Clone, Debug)]
pub struct LlmClient {
    http: reqwest::Client,
    config: Arc<ClientConfig>,
    endpoint: Arc<str>,
}

/// One failed attempt, with the server's `Retry-After` if it sent one.
struct Failure {
    error: LlmError,
    retry_after: Option<Duration>,
}

impl From<LlmError> for Failure {
    fn from(error: LlmError) -> Self {
        Failure {
            error,
            retry_after: None,
        }
    }
}

/// Why the body stream stopped delivering bytes.
enum BodyError {
    Http(reqwest::Error),
    Idle(Duration),
}

impl From<BodyError> for LlmError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::Http(e) => {
                let mut err = LlmError::from(e);
                // A body that breaks off is a cut connection whatever reqwest calls it.
                err.kind = LlmErrorKind::Network;
                err
            }
            BodyError::Idle(d) => idle_error(d),
        }
    }
}

fn idle_error(idle: Duration) -> LlmError {
    LlmError::new(
        LlmErrorKind::IdleTimeout,
        None,
        format!("no data for {}s", idle.as_secs_f32()),
    )
}

impl LlmClient {
    pub fn new(config: ClientConfig) -> Result<Self, LlmError> {
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .connect_timeout(config.idle_timeout)
            .build()
            .map_err(|e| {
                LlmError::new(
                    LlmErrorKind::Network,
                    None,
                    format!("cannot build HTTP client: {e}"),
                )
            })?;
        let endpoint = chat_completions_url(&config.base_url).into();
        Ok(LlmClient {
            http,
            config: Arc::new(config),
            endpoint,
        })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Sends `request` (streamed), reporting progress to `on_event`, and returns the assembled
    /// response. Retryable failures are retried with backoff; each retry is announced with
    /// [`LlmEvent::Retrying`] first. Cancelling `cancel` aborts at once with kind `Cancelled`.
    pub async fn stream_chat(
        &self,
        request: &ChatRequest,
        cancel: &CancellationToken,
        on_event: &mut (dyn FnMut(LlmEvent) + Send),
    ) -> Result<AssembledResponse, LlmError> {
        let body = serde_json::to_vec(request).map_err(|e| {
            LlmError::new(
                LlmErrorKind::InvalidRequest,
                None,
                format!("cannot encode request: {e}"),
            )
        })?;
        let body = Bytes::from(body);
        let sse = SseOptions {
            max_line_bytes: self.config.max_stream_line_bytes,
            expect_usage: request.stream_options.include_usage,
            usage_grace: self.config.usage_grace,
        };
        let max_attempts = self.config.max_attempts.max(1);
        let mut attempt = 1;
        loop {
            if cancel.is_cancelled() {
                return Err(LlmError::cancelled());
            }
            let mut emitted = false;
            let outcome = {
                let mut forward = |ev: LlmEvent| {
                    emitted = true;
                    on_event(ev);
                };
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return Err(LlmError::cancelled()),
                    _ = tokio::time::sleep(self.config.request_deadline) => Err(Failure::from(
                        LlmError::new(
                            LlmErrorKind::Deadline,
                            None,
                            format!("gave up after {}s", self.config.request_deadline.as_secs()),
                        ),
                    )),
                    r = self.attempt(body.clone(), sse, &mut forward) => r,
                }
            };
            let failure = match outcome {
                Ok(response) => {
                    if let Some(error) = &response.error {
                        return Err(LlmError::from_stream_error(error).redact(self.key()));
                    }
                    if response.finish_reason.as_deref() == Some("insufficient_system_resource") {
                        Failure::from(LlmError::new(
                            LlmErrorKind::Overloaded,
                            None,
                            "insufficient_system_resource",
                        ))
                    } else {
                        return Ok(response);
                    }
                }
                Err(failure) => failure,
            };
            let error = failure.error.redact(self.key());
            if !error.retryable() || attempt >= max_attempts {
                return Err(error);
            }
            let delay = self.backoff(attempt, failure.retry_after);
            attempt += 1;
            tracing::warn!(attempt, max_attempts, ?delay, %error, "retrying model request");
            on_event(LlmEvent::Retrying {
                attempt,
                max_attempts,
                delay_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                reason: error.to_string(),
                discard_partial: emitted,
            });
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(LlmError::cancelled()),
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }

    /// The models the server offers (`GET {base_url}/models`, OpenAI's list shape), sorted by
    /// id, with the context window of those it reports one for. One try within the idle
    /// timeout: it answers a question the user just asked.
    pub async fn list_models(&self) -> Result<Vec<ModelInfo>, LlmError> {
        self.list_models_within(self.config.idle_timeout).await
    }

    /// [`Self::list_models`] giving up after `timeout`.
    pub async fn list_models_within(&self, timeout: Duration) -> Result<Vec<ModelInfo>, LlmError> {
        #[derive(serde::Deserialize)]
        struct ModelList {
            data: Vec<ModelEntry>,
        }
        #[derive(serde::Deserialize)]
        struct ModelEntry {
            id: String,
            // Servers name the figure differently: OpenRouter and LM Studio `context_length`,
            // others `context_window`, vLLM `max_model_len`.
            #[serde(alias = "context_window", alias = "max_model_len")]
            context_length: Option<u64>,
        }
        let url = format!("{}/models", self.config.base_url.trim_end_matches('/'));
        let mut builder = self
            .http
            .get(&url)
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(timeout);
        if let Some(key) = self.key() {
            builder = builder.bearer_auth(key);
        }
        let result = async {
            let response = builder.send().await?;
            let status = response.status();
            let text = response.text().await?;
            if !status.is_success() {
                return Err(LlmError::from_status(status.as_u16(), &text));
            }
            let list: ModelList = serde_json::from_str(&text).map_err(|e| {
                LlmError::new(
                    LlmErrorKind::Stream,
                    None,
                    format!("unexpected /models answer: {e}"),
                )
            })?;
            let mut models: Vec<ModelInfo> = list
                .data
                .into_iter()
                .map(|m| ModelInfo {
                    id: m.id,
                    context_window: m.context_length.filter(|w| *w > 0),
                })
                .collect();
            models.sort_by(|a, b| a.id.cmp(&b.id));
            models.dedup_by(|a, b| a.id == b.id);
            Ok(models)
        };
        result.await.map_err(|e: LlmError| e.redact(self.key()))
    }

    fn key(&self) -> Option<&str> {
        self.config.api_key.as_deref()
    }

    /// Exponential backoff with jitter; a server's `Retry-After` replaces it, within the cap.
    fn backoff(&self, failed_attempt: u32, retry_after: Option<Duration>) -> Duration {
        let max = self.config.backoff_max;
        if let Some(after) = retry_after {
            return after.min(max);
        }
        let exp = 2u32.saturating_pow(failed_attempt.saturating_sub(1));
        let full = self.config.backoff_base.saturating_mul(exp).min(max);
        // Jitter keeps parallel agents that failed together from retrying in lockstep.
        let factor: f64 = rand::Rng::random_range(&mut rand::rng(), 0.5..=1.0);
        full.mul_f64(factor)
    }

    async fn attempt(
        &self,
        body: Bytes,
        sse: SseOptions,
        on_event: &mut (dyn FnMut(LlmEvent) + Send),
    ) -> Result<AssembledResponse, Failure> {
        let idle = self.config.idle_timeout;
        let mut builder = self
            .http
            .post(&*self.endpoint)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .body(body);
        if let Some(key) = self.key() {
            builder = builder.bearer_auth(key);
        }
        let response = match tokio::time::timeout(idle, builder.send()).await {
            Err(_) => return Err(idle_error(idle).into()),
            Ok(Err(e)) => return Err(LlmError::from(e).into()),
            Ok(Ok(r)) => r,
        };
        let status = response.status();
        let max_body = self.config.max_stream_line_bytes;
        if !status.is_success() {
            let retry_after = retry_after(response.headers());
            let text = match read_body(response, idle, max_body).await {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                // The status alone classifies the error; the body only adds detail.
                Err(_) => String::new(),
            };
            return Err(Failure {
                error: LlmError::from_status(status.as_u16(), &text),
                retry_after,
            });
        }
        let is_json = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if is_json {
            // Some servers answer a streaming request with one JSON body: an error object, or a
            // whole completion whose `message` the assembler reads like a delta.
            let bytes = read_body(response, idle, max_body).await?;
            let text = std::str::from_utf8(&bytes).map_err(LlmError::invalid_utf8)?;
            let mut assembler = StreamAssembler::new();
            for ev in assembler.feed(text)? {
                on_event(ev);
            }
            return Ok(assembler.finish());
        }
        let bytes = idle_guarded(response.bytes_stream(), idle);
        Ok(assemble_sse(bytes, sse, on_event).await?)
    }
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    let secs: f64 = value.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)))
}

/// Reads a whole body that is not an SSE stream (an error, one JSON completion), refusing one
/// longer than `max_bytes` before it is all in memory.
async fn read_body(
    response: reqwest::Response,
    idle: Duration,
    max_bytes: usize,
) -> Result<Vec<u8>, LlmError> {
    let chunks = idle_guarded(response.bytes_stream(), idle);
    futures::pin_mut!(chunks);
    let mut body = Vec::new();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk?;
        if body.len() + chunk.len() > max_bytes {
            return Err(LlmError::over_cap("a response body", max_bytes));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Ends the byte stream with an idle error when no chunk arrives within `idle`.
fn idle_guarded<S>(stream: S, idle: Duration) -> impl Stream<Item = Result<Bytes, BodyError>>
where
    S: Stream<Item = reqwest::Result<Bytes>>,
{
    futures::stream::unfold(Some(Box::pin(stream)), move |state| async move {
        let mut stream = state?;
        match tokio::time::timeout(idle, stream.next()).await {
            Ok(Some(Ok(bytes))) => Some((Ok(bytes), Some(stream))),
            Ok(Some(Err(e))) => Some((Err(BodyError::Http(e)), None)),
            Ok(None) => None,
            Err(_) => Some((Err(BodyError::Idle(idle)), None)),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_key() {
        let config = ClientConfig {
            api_key: Some("sk-very-secret".into()),
            ..ClientConfig::default()
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("sk-very-secret"), "{shown}");
        assert!(shown.contains("***"));
        let client = LlmClient::new(config).expect("client");
        assert!(!format!("{client:?}").contains("sk-very-secret"));
    }

    #[test]
    fn backoff_grows_is_capped_and_honours_retry_after() {
        let client = LlmClient::new(ClientConfig {
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_millis(300),
            ..ClientConfig::default()
        })
        .expect("client");
        let first = client.backoff(1, None);
        assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
        let third = client.backoff(3, None);
        assert!(third >= Duration::from_millis(150) && third <= Duration::from_millis(300));
        assert_eq!(
            client.backoff(1, Some(Duration::from_secs(60))),
            Duration::from_millis(300)
        );
        assert_eq!(
            client.backoff(1, Some(Duration::from_millis(200))),
            Duration::from_millis(200)
        );
    }

    #[test]
    fn stream_chat_future_is_send() {
        fn assert_send<T: Send>(_: &T) {}
        let client = LlmClient::new(ClientConfig::default()).expect("client");
        let request = ChatRequest {
            model: "m".into(),
            messages: vec![],
            tools: vec![],
            tool_choice: None,
            stream: true,
            stream_options: super::super::types::StreamOptions {
                include_usage: true,
            },
            reasoning_effort: None,
            thinking: None,
            max_tokens: None,
            temperature: None,
        };
        let cancel = CancellationToken::new();
        let mut sink = |_: LlmEvent| {};
        let fut = client.stream_chat(&request, &cancel, &mut sink);
        assert_send(&fut);
    }
}
