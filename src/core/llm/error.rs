//! Classification of model-access failures into what the user can act on.

use std::fmt;

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LlmErrorKind {
    /// 401: the key is wrong or missing.
    Authentication,
    /// 402: the account is out of credit.
    InsufficientBalance,
    /// 400, 404, 422 and other 4xx: the request itself is wrong; retrying cannot help.
    InvalidRequest,
    /// The prompt is longer than the model's context window (a 400 or 413 saying so, or an
    /// `error` object in the stream saying so): the same request can never succeed, a shorter
    /// one can.
    ContextOverflow,
    /// 429.
    RateLimited,
    /// 500, 502, 504 and other 5xx.
    Server,
    /// 503, or `finish_reason: insufficient_system_resource`.
    Overloaded,
    /// No bytes arrived for longer than the idle timeout.
    IdleTimeout,
    /// The whole request took longer than its deadline.
    Deadline,
    /// Connecting failed or the connection broke (including mid-stream).
    Network,
    /// The stream ended before a finish reason or `[DONE]`: the reply was cut off, and
    /// nothing assembled from it (text, tool calls) may be used.
    Incomplete,
    /// Malformed stream data, or an `error` object inside the stream.
    Stream,
    Cancelled,
}

/// A failed model request. `message` carries the provider's own words when it gave any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlmError {
    pub kind: LlmErrorKind,
    pub status: Option<u16>,
    pub message: String,
}

impl std::error::Error for LlmError {}

impl LlmError {
    pub fn new(kind: LlmErrorKind, status: Option<u16>, message: impl Into<String>) -> Self {
        LlmError {
            kind,
            status,
            message: message.into(),
        }
    }

    pub fn cancelled() -> Self {
        Self::new(LlmErrorKind::Cancelled, None, "")
    }

    /// The provider sent `what` (an SSE line, a body) longer than the configured cap.
    pub fn over_cap(what: &str, max_bytes: usize) -> Self {
        Self::new(
            LlmErrorKind::Stream,
            None,
            format!(
                "the provider sent {what} longer than {max_bytes} bytes (the max_stream_line_bytes cap); refused"
            ),
        )
    }

    pub fn invalid_utf8(e: std::str::Utf8Error) -> Self {
        Self::new(
            LlmErrorKind::Stream,
            None,
            format!("the provider sent invalid UTF-8: {e}"),
        )
    }

    /// Whether the same request may succeed if sent again.
    pub fn retryable(&self) -> bool {
        use LlmErrorKind::*;
        match self.kind {
            RateLimited | Server | Overloaded | Network | IdleTimeout | Incomplete => true,
            Authentication | InsufficientBalance | InvalidRequest | ContextOverflow | Deadline
            | Stream | Cancelled => false,
        }
    }

    /// Classifies a non-success HTTP answer from its status and body.
    pub fn from_status(status: u16, body: &str) -> Self {
        let kind = match status {
            401 | 403 => LlmErrorKind::Authentication,
            402 => LlmErrorKind::InsufficientBalance,
            429 => LlmErrorKind::RateLimited,
            503 => LlmErrorKind::Overloaded,
            500..=599 => LlmErrorKind::Server,
            // 408 is the server giving up on a slow request; nothing is wrong with the request.
            408 => LlmErrorKind::Network,
            400 | 413 if is_context_overflow(body) => LlmErrorKind::ContextOverflow,
            _ => LlmErrorKind::InvalidRequest,
        };
        Self::new(kind, Some(status), provider_message(body))
    }

    /// The error for an `error` object that arrived inside a 200 stream.
    pub fn from_stream_error(error: &Value) -> Self {
        let message = message_of(error).unwrap_or_else(|| error.to_string());
        let kind = match is_context_overflow(&error.to_string()) {
            true => LlmErrorKind::ContextOverflow,
            false => LlmErrorKind::Stream,
        };
        Self::new(kind, None, message)
    }

    /// Replaces every occurrence of `secret` in the message, for providers that echo the key.
    pub fn redact(mut self, secret: Option<&str>) -> Self {
        if let Some(secret) = secret.filter(|s| s.len() >= 4) {
            self.message = self.message.replace(secret, "***");
        }
        self
    }
}

/// The provider's message from an OpenAI-style body `{"error": {"message": ..}}`, falling back to
/// a plain-text excerpt of the body.
pub fn provider_message(body: &str) -> String {
    let parsed = serde_json::from_str::<Value>(body).ok();
    if let Some(message) = parsed.as_ref().and_then(|v| {
        v.get("error")
            .and_then(message_of)
            .or_else(|| v.get("message").and_then(Value::as_str).map(str::to_string))
    }) {
        return message;
    }
    let text = body.trim();
    const MAX: usize = 300;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// How providers say a prompt did not fit: OpenAI and DeepSeek ("maximum context length",
/// code `context_length_exceeded`), Anthropic-style gateways ("prompt is too long"),
/// OpenRouter, vLLM, llama.cpp ("exceeds the available context size"), Ollama and others.
const OVERFLOW_PHRASES: &[&str] = &[
    "context_length_exceeded",
    "maximum context length",
    "context length exceeded",
    "prompt is too long",
    "context window",
    "exceeds the available context size",
    "exceed_context_size",
    "too many tokens",
    "input is too long",
    "reduce the length of the messages",
];

/// Whether an error body says the prompt is longer than the model's context.
pub fn is_context_overflow(body: &str) -> bool {
    let lower = body.to_ascii_lowercase();
    OVERFLOW_PHRASES.iter().any(|p| lower.contains(p))
}

fn message_of(error: &Value) -> Option<String> {
    match error {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("message").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

impl fmt::Display for LlmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use LlmErrorKind::*;
        let status = self
            .status
            .map(|s| format!(" (HTTP {s})"))
            .unwrap_or_default();
        match self.kind {
            Authentication => write!(f, "authentication failed — check your API key")?,
            InsufficientBalance => write!(f, "insufficient balance — top up or switch provider")?,
            InvalidRequest => write!(
                f,
                "the provider rejected the request{status} — check the model name and settings"
            )?,
            RateLimited => write!(f, "rate limited by the provider — wait a moment and retry")?,
            Server => write!(
                f,
                "the provider had a server error{status} — try again later"
            )?,
            Overloaded => write!(f, "the provider is overloaded — try again later")?,
            ContextOverflow => write!(
                f,
                "the prompt is longer than the model's context window{status}"
            )?,
            IdleTimeout => write!(f, "the provider stopped sending data")?,
            Deadline => write!(f, "the request took too long and was abandoned")?,
            Network => write!(f, "network error talking to the provider")?,
            Incomplete => write!(
                f,
                "the reply was cut off: the stream ended without a finish reason or [DONE]"
            )?,
            Stream => write!(f, "the response stream failed")?,
            Cancelled => return write!(f, "cancelled"),
        }
        if self.message.is_empty() {
            return Ok(());
        }
        match self.kind {
            Authentication | InsufficientBalance | InvalidRequest | ContextOverflow
            | RateLimited | Server | Overloaded => write!(f, " (provider: {})", self.message),
            _ => write!(f, ": {}", self.message),
        }
    }
}

impl From<std::convert::Infallible> for LlmError {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

impl From<std::io::Error> for LlmError {
    fn from(e: std::io::Error) -> Self {
        LlmError::new(LlmErrorKind::Network, None, e.to_string())
    }
}

impl From<reqwest::Error> for LlmError {
    fn from(e: reqwest::Error) -> Self {
        // The URL in reqwest's text never holds the key: it travels in a header.
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        let kind = if e.is_timeout() {
            LlmErrorKind::IdleTimeout
        } else {
            LlmErrorKind::Network
        };
        LlmError::new(kind, None, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const E401: &str =
        include_str!("../../../tests/fixtures/sse/X-err-401-authentication-fails.json");
    const E402: &str =
        include_str!("../../../tests/fixtures/sse/X-err-402-insufficient-balance.json");
    const E429: &str =
        include_str!("../../../tests/fixtures/sse/X-err-429-rate-limit-reached.json");
    const E503: &str = include_str!("../../../tests/fixtures/sse/X-err-503-server-overloaded.json");

    #[test]
    fn status_classification_and_retryability() {
        let cases = [
            (401, E401, LlmErrorKind::Authentication, false),
            (402, E402, LlmErrorKind::InsufficientBalance, false),
            (400, "{}", LlmErrorKind::InvalidRequest, false),
            (422, "{}", LlmErrorKind::InvalidRequest, false),
            (429, E429, LlmErrorKind::RateLimited, true),
            (500, "oops", LlmErrorKind::Server, true),
            (502, "", LlmErrorKind::Server, true),
            (503, E503, LlmErrorKind::Overloaded, true),
        ];
        for (status, body, kind, retry) in cases {
            let e = LlmError::from_status(status, body);
            assert_eq!(e.kind, kind, "{status}");
            assert_eq!(e.retryable(), retry, "{status}");
            assert_eq!(e.status, Some(status));
        }
    }

    #[test]
    fn display_is_plain_with_the_provider_message() {
        assert_eq!(
            LlmError::from_status(402, E402).to_string(),
            "insufficient balance — top up or switch provider (provider: Insufficient Balance)"
        );
        let auth = LlmError::from_status(401, E401).to_string();
        assert!(
            auth.starts_with(
                "authentication failed — check your API key (provider: Authentication Fails"
            ),
            "{auth}"
        );
        assert!(LlmError::from_status(503, E503)
            .to_string()
            .contains("Server overloaded due to high traffic"));
    }

    #[test]
    fn context_overflow_is_recognised_in_each_providers_words() {
        let bodies = [
            (
                400,
                r#"{"error":{"message":"This model's maximum context length is 131072 tokens. However, you requested 140000 tokens (140000 in the messages, 0 in the completion). Please reduce the length of the messages or completion.","type":"invalid_request_error","param":null,"code":"invalid_request_error"}}"#,
            ),
            (
                400,
                r#"{"error":{"message":"Input tokens exceed the configured limit","type":"invalid_request_error","code":"context_length_exceeded"}}"#,
            ),
            (
                400,
                r#"{"error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}}"#,
            ),
            (
                400,
                r#"{"error":{"code":400,"message":"the request exceeds the available context size, try increasing it","type":"exceed_context_size_error"}}"#,
            ),
            (413, "Request too large: too many tokens"),
        ];
        for (status, body) in bodies {
            let e = LlmError::from_status(status, body);
            assert_eq!(e.kind, LlmErrorKind::ContextOverflow, "{body}");
            assert!(!e.retryable());
            assert!(
                e.to_string()
                    .starts_with("the prompt is longer than the model's context window"),
                "{e}"
            );
        }
        let other = LlmError::from_status(400, r#"{"error":{"message":"Model Not Exist"}}"#);
        assert_eq!(other.kind, LlmErrorKind::InvalidRequest);
        let in_stream = LlmError::from_stream_error(&serde_json::json!({
            "message": "maximum context length exceeded", "code": "context_length_exceeded"
        }));
        assert_eq!(in_stream.kind, LlmErrorKind::ContextOverflow);
    }

    #[test]
    fn non_json_body_is_shown_as_text() {
        let e = LlmError::from_status(502, "<html>Bad Gateway</html>\n");
        assert_eq!(e.message, "<html>Bad Gateway</html>");
    }

    #[test]
    fn redact_removes_the_key() {
        let e = LlmError::from_status(401, r#"{"error":{"message":"key sk-secret123 invalid"}}"#)
            .redact(Some("sk-secret123"));
        assert!(!e.to_string().contains("sk-secret123"));
        assert!(e.to_string().contains("key *** invalid"));
    }

    #[test]
    fn stream_error_object_is_final_and_carries_message() {
        let e = LlmError::from_stream_error(&serde_json::json!({"message": "overloaded mid-way"}));
        assert_eq!(e.kind, LlmErrorKind::Stream);
        assert!(!e.retryable());
        assert!(e.to_string().contains("overloaded mid-way"));
    }
}
