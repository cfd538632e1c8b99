//! Streamable HTTP for MCP servers: rmcp's client transport (sessions, the SSE streams, their
//! resumption) carried by boocode's own reqwest 0.12 client.
//!
//! rmcp ships a ready-made client for reqwest 0.13 only; implementing its
//! [`StreamableHttpClient`] here (a few requests and their answers) keeps one HTTP and TLS
//! stack in the binary instead of two.
//!
//! Header values may hold credentials: they are marked sensitive (reqwest then keeps them out
//! of its `Debug` output), and no error, log line or trace here ever contains one or the URL's
//! query.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, CONTENT_TYPE};
use reqwest::{RequestBuilder, Response, StatusCode};
use rmcp::model::{ClientJsonRpcMessage, JsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::common::client_side_sse::SseRetryPolicy;
use rmcp::transport::common::http_header::{
    EVENT_STREAM_MIME_TYPE, HEADER_LAST_EVENT_ID, HEADER_SESSION_ID, JSON_MIME_TYPE,
};
use rmcp::transport::streamable_http_client::{
    SseError, StreamableHttpClient, StreamableHttpClientTransportConfig, StreamableHttpError,
    StreamableHttpPostResponse, StreamableHttpResponseLimits,
};
use rmcp::transport::StreamableHttpClientTransport;
use sse_stream::{Sse, SseStream};

/// The transport rmcp runs a client session over.
pub type Transport = StreamableHttpClientTransport<HttpClient>;

type HttpResult<T> = Result<T, StreamableHttpError<HttpFailure>>;

/// What a client of streamable HTTP must accept.
const ACCEPTS: &str = "text/event-stream, application/json";

/// How much of an error page is quoted in the error.
const ERROR_BODY_QUOTE: usize = 300;

/// What went wrong on the wire, in words (the causes joined, the URL left out).
#[derive(Debug)]
pub struct HttpFailure(String);

impl std::fmt::Display for HttpFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HttpFailure {}

impl From<reqwest::Error> for HttpFailure {
    fn from(error: reqwest::Error) -> Self {
        let error = error.without_url();
        let mut words = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            let cause_text = cause.to_string();
            if !words.contains(&cause_text) {
                words.push_str(": ");
                words.push_str(&cause_text);
            }
            source = cause.source();
        }
        HttpFailure(words)
    }
}

fn wire(error: reqwest::Error) -> StreamableHttpError<HttpFailure> {
    StreamableHttpError::Client(error.into())
}

/// boocode's HTTP client, as rmcp's transport wants one.
#[derive(Clone)]
pub struct HttpClient(reqwest::Client);

/// The transport for `url`, sending `headers` (already expanded) with every request.
pub fn transport(url: &str, headers: &BTreeMap<String, String>) -> Result<Transport, String> {
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        // A 301/302/303 would turn the POST into a GET and lose the message, and another
        // host must not receive the headers: redirects are reported, not followed.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {}", HttpFailure::from(e)))?;
    let mut custom = HashMap::new();
    for (name, value) in headers {
        let header = HeaderName::try_from(name.as_str())
            .map_err(|_| format!("header name '{name}' is not a valid HTTP header name"))?;
        // The value is never quoted: it may be a credential.
        let mut value = HeaderValue::try_from(value.as_str())
            .map_err(|_| format!("the value of header '{name}' is not a valid header value"))?;
        value.set_sensitive(true);
        custom.insert(header, value);
    }
    let mut config = StreamableHttpClientTransportConfig::with_uri(url);
    config.custom_headers = custom;
    config.retry_config = Arc::new(ResumeOnce);
    Ok(StreamableHttpClientTransport::with_client(
        HttpClient(client),
        config,
    ))
}

/// A broken event stream is resumed once, at once; when that fails too the server is gone and
/// the call fails now (the connection is restarted on next use) instead of waiting, retry
/// after retry, for the tool timeout.
#[derive(Debug)]
struct ResumeOnce;

impl SseRetryPolicy for ResumeOnce {
    fn retry(&self, attempts: usize) -> Option<Duration> {
        (attempts == 0).then_some(Duration::from_millis(200))
    }
}

fn media_type_is(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(expected))
}

fn content_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

fn session_header(headers: &HeaderMap) -> Option<String> {
    headers
        .get(HEADER_SESSION_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

impl HttpClient {
    fn with_headers(
        builder: RequestBuilder,
        session_id: Option<&str>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> RequestBuilder {
        let mut builder = builder;
        for (name, value) in custom_headers {
            builder = builder.header(name, value);
        }
        if let Some(token) = auth_header {
            builder = builder.bearer_auth(token);
        }
        if let Some(session) = session_id {
            builder = builder.header(HEADER_SESSION_ID, session);
        }
        builder
    }
}

/// The error for an answer that is not a success: its status, what it means for a person
/// configuring the server, and the start of its body.
fn refusal(status: StatusCode, body: &[u8]) -> StreamableHttpError<HttpFailure> {
    let hint = match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            " (the server refused the credentials: check the server's headers in your config or .mcp.json)"
        }
        s if s.is_redirection() => " (redirects are not followed: give the final URL)",
        _ => "",
    };
    let body = String::from_utf8_lossy(&body[..body.len().min(ERROR_BODY_QUOTE)]);
    let body = body.trim();
    let body = if body.is_empty() {
        String::new()
    } else {
        format!(": {body}")
    };
    StreamableHttpError::UnexpectedServerResponse(Cow::Owned(format!("HTTP {status}{hint}{body}")))
}

async fn refused(response: Response) -> StreamableHttpError<HttpFailure> {
    let status = response.status();
    let body = match read_limited(response, ERROR_BODY_QUOTE).await {
        Ok(Body::Complete(body) | Body::Clipped(body)) => body,
        Err(_) => Vec::new(),
    };
    refusal(status, &body)
}

enum Body {
    Complete(Vec<u8>),
    /// The first bytes of a body longer than the limit.
    Clipped(Vec<u8>),
}

/// The body, or its first `limit` bytes when it is longer.
async fn read_limited(response: Response, limit: usize) -> Result<Body, HttpFailure> {
    let mut body = Vec::new();
    let mut chunks = response.bytes_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk?;
        let room = limit - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok(Body::Clipped(body));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Body::Complete(body))
}

/// The response's SSE events; an event larger than `max_event` ends the stream with an error
/// instead of growing without bound.
fn events(response: Response, max_event: usize) -> BoxStream<'static, Result<Sse, SseError>> {
    let mut pending = 0usize;
    let mut after_newline = false;
    let bytes = response.bytes_stream().map(move |chunk| {
        let chunk: Bytes = chunk.map_err(HttpFailure::from)?;
        for &byte in chunk.iter() {
            match byte {
                // A blank line ends an event.
                b'\n' if after_newline => pending = 0,
                b'\n' => after_newline = true,
                b'\r' => {}
                _ => after_newline = false,
            }
            pending += 1;
        }
        if pending > max_event {
            return Err(HttpFailure(format!(
                "an SSE event is larger than {max_event} bytes"
            )));
        }
        Ok(chunk)
    });
    SseStream::from_bytes_stream(bytes).boxed()
}

impl StreamableHttpClient for HttpClient {
    type Error = HttpFailure;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> HttpResult<StreamableHttpPostResponse> {
        self.post_message_with_response_limits(
            uri,
            message,
            session_id,
            auth_header,
            custom_headers,
            StreamableHttpResponseLimits::default(),
        )
        .await
    }

    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> HttpResult<StreamableHttpPostResponse> {
        let request = self.0.post(uri.as_ref()).header(ACCEPT, ACCEPTS);
        let request =
            Self::with_headers(request, session_id.as_deref(), auth_header, custom_headers);
        let response = request.json(&message).send().await.map_err(wire)?;
        let status = response.status();
        if matches!(status, StatusCode::ACCEPTED | StatusCode::NO_CONTENT) {
            return Ok(StreamableHttpPostResponse::Accepted);
        }
        if status == StatusCode::NOT_FOUND && session_id.is_some() {
            return Err(StreamableHttpError::SessionExpired);
        }
        // Notifications and replies leave nothing outstanding: any success will do.
        let awaits_answer = matches!(message, ClientJsonRpcMessage::Request(_));
        let json = media_type_is(response.headers(), JSON_MIME_TYPE);
        let refused_credentials =
            matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN);
        // A failing status may carry the JSON-RPC error that explains it (not for credentials,
        // which the person must fix).
        let may_explain = json && awaits_answer && !refused_credentials;
        if !status.is_success() && !may_explain {
            return Err(refused(response).await);
        }
        let session = session_header(response.headers());
        if media_type_is(response.headers(), EVENT_STREAM_MIME_TYPE) {
            return Ok(StreamableHttpPostResponse::Sse(
                events(response, limits.max_sse_event_size),
                session,
            ));
        }
        if !awaits_answer {
            return Ok(StreamableHttpPostResponse::Accepted);
        }
        if !json {
            return Err(StreamableHttpError::UnexpectedContentType(content_type(
                response.headers(),
            )));
        }
        let body = match read_limited(response, limits.max_json_response_size)
            .await
            .map_err(StreamableHttpError::Client)?
        {
            Body::Complete(body) => body,
            Body::Clipped(_) => {
                return Err(StreamableHttpError::ResponseBodyTooLarge {
                    max_size: limits.max_json_response_size,
                })
            }
        };
        match serde_json::from_slice::<ServerJsonRpcMessage>(&body) {
            Ok(answer) if status.is_success() || matches!(answer, JsonRpcMessage::Error(_)) => {
                Ok(StreamableHttpPostResponse::Json(answer, session))
            }
            Ok(_) => Err(refusal(status, &body)),
            Err(_) if !status.is_success() => Err(refusal(status, &body)),
            Err(e) => Err(StreamableHttpError::UnexpectedServerResponse(Cow::Owned(
                format!(
                    "the answer is not JSON-RPC ({e}): {}",
                    String::from_utf8_lossy(&body[..body.len().min(ERROR_BODY_QUOTE)])
                ),
            ))),
        }
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> HttpResult<()> {
        let request = Self::with_headers(
            self.0.delete(uri.as_ref()),
            Some(&session_id),
            auth_header,
            custom_headers,
        );
        let response = request.send().await.map_err(wire)?;
        // A server that keeps no sessions has nothing to delete.
        if response.status().is_success() || response.status() == StatusCode::METHOD_NOT_ALLOWED {
            Ok(())
        } else {
            Err(refused(response).await)
        }
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> HttpResult<BoxStream<'static, Result<Sse, SseError>>> {
        self.get_stream_with_max_sse_event_size(
            uri,
            session_id,
            last_event_id,
            auth_header,
            custom_headers,
            StreamableHttpResponseLimits::default().max_sse_event_size,
        )
        .await
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> HttpResult<BoxStream<'static, Result<Sse, SseError>>> {
        let mut request = self.0.get(uri.as_ref()).header(ACCEPT, ACCEPTS);
        if let Some(id) = last_event_id {
            request = request.header(HEADER_LAST_EVENT_ID, id);
        }
        let request =
            Self::with_headers(request, session_id.as_deref(), auth_header, custom_headers);
        let response = request.send().await.map_err(wire)?;
        if response.status() == StatusCode::METHOD_NOT_ALLOWED {
            return Err(StreamableHttpError::ServerDoesNotSupportSse);
        }
        if !response.status().is_success() {
            return Err(refused(response).await);
        }
        if !media_type_is(response.headers(), EVENT_STREAM_MIME_TYPE) {
            return Err(StreamableHttpError::UnexpectedContentType(content_type(
                response.headers(),
            )));
        }
        Ok(events(response, max_sse_event_size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A response whose body arrives in these chunks.
    fn streamed(chunks: &[&str]) -> Response {
        let chunks: Vec<Result<String, std::io::Error>> =
            chunks.iter().map(|c| Ok(c.to_string())).collect();
        let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
        Response::from(axum::http::Response::new(body))
    }

    #[tokio::test]
    async fn an_event_growing_past_the_limit_ends_the_stream() {
        let long = "y".repeat(60);
        let response = streamed(&["data: one\n\n", "data: ", &long, &long, "\n\n"]);
        let got: Vec<_> = events(response, 100).collect().await;
        assert_eq!(got[0].as_ref().unwrap().data.as_deref(), Some("one"));
        let error = got[1].as_ref().unwrap_err().to_string();
        assert!(error.contains("larger than 100 bytes"), "{error}");
    }

    #[tokio::test]
    async fn blank_lines_split_across_chunks_end_an_event() {
        let part = "z".repeat(40);
        let chunks = [
            "data: ", &part, "\n", "\n", "data: ", &part, "\r\n", "\r\n", "data: ", &part, "\n\n",
        ];
        let got: Vec<_> = events(streamed(&chunks), 100).collect().await;
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(got.iter().all(Result::is_ok), "{got:?}");
    }

    #[test]
    fn a_refusal_says_what_to_fix_and_quotes_only_the_start_of_the_page() {
        let page = format!("denied {}", "x".repeat(1000));
        let error = refusal(StatusCode::UNAUTHORIZED, page.as_bytes()).to_string();
        assert!(error.contains("HTTP 401 Unauthorized"), "{error}");
        assert!(error.contains("check the server's headers"), "{error}");
        assert!(error.len() < ERROR_BODY_QUOTE + 200, "{error}");
    }
}
