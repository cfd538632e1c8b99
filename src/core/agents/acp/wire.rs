//! What sits between the agent's stdout and the JSON-RPC connection. Every line is checked:
//! anything that is not a JSON-RPC 2.0 message ends the agent with a clear error (the crate
//! would only log it and wait forever). `session/update` notifications are taken out here and
//! handed over in order on one channel, ahead of the response that follows them, so a turn
//! never ends before its last update is recorded. Everything else goes on to the connection.

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

use agent_client_protocol as acp;

/// Longest piece of a bad line quoted in an error.
const QUOTE_CHARS: usize = 120;

/// What the agent's stdout said, besides requests and responses.
#[derive(Debug)]
pub enum WireEvent {
    Update(Box<acp::SessionNotification>),
    /// A line that is not JSON-RPC (quoted, clipped).
    Malformed(String),
    /// Stdout ended: the agent exited or closed it.
    Closed,
}

/// What to do with one line of the agent's output.
#[derive(Debug, PartialEq)]
enum Line {
    Skip,
    Forward,
    Update(Box<acp::SessionNotification>),
    Malformed(String),
}

fn classify(line: &str) -> Line {
    let trimmed = line.trim();
    if trimmed.is_empty() {
        return Line::Skip;
    }
    let value: serde_json::Value = match serde_json::from_str(trimmed) {
        Ok(v) => v,
        Err(_) => return Line::Malformed(quote(trimmed)),
    };
    if value.get("jsonrpc").and_then(|v| v.as_str()) != Some("2.0") {
        return Line::Malformed(quote(trimmed));
    }
    let is_update = value.get("id").is_none()
        && value.get("method").and_then(|m| m.as_str()) == Some("session/update");
    if !is_update {
        return Line::Forward;
    }
    match value
        .get("params")
        .cloned()
        .map(serde_json::from_value::<acp::SessionNotification>)
    {
        Some(Ok(n)) => Line::Update(Box::new(n)),
        // An update of a kind this build does not know (a newer agent) is not an error.
        _ => {
            tracing::debug!("agent sent an update this build does not read: {trimmed}");
            Line::Skip
        }
    }
}

fn quote(line: &str) -> String {
    let mut q: String = line.chars().take(QUOTE_CHARS).collect();
    if line.chars().count() > QUOTE_CHARS {
        q.push('…');
    }
    q
}

/// Reads the agent's stdout to its end: updates and bad lines to `events`, requests and
/// responses to `forward` (the connection's input). Stops at the first bad line.
pub async fn pump(
    stdout: impl AsyncRead + Unpin,
    mut forward: impl AsyncWrite + Unpin,
    events: mpsc::UnboundedSender<WireEvent>,
) {
    let mut lines = BufReader::new(stdout);
    let mut line = String::new();
    loop {
        line.clear();
        match lines.read_line(&mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        match classify(&line) {
            Line::Skip => {}
            Line::Forward => {
                if forward.write_all(line.as_bytes()).await.is_err() {
                    break;
                }
                if !line.ends_with('\n') && forward.write_all(b"\n").await.is_err() {
                    break;
                }
            }
            Line::Update(n) => {
                let _ = events.send(WireEvent::Update(n));
            }
            Line::Malformed(quoted) => {
                let _ = events.send(WireEvent::Malformed(quoted));
                return;
            }
        }
    }
    let _ = events.send(WireEvent::Closed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_sorted_into_updates_messages_and_garbage() {
        assert_eq!(classify("\n"), Line::Skip);
        assert_eq!(
            classify(r#"{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":1}}"#),
            Line::Forward
        );
        let update = r#"{"jsonrpc":"2.0","method":"session/update","params":{"sessionId":"s","update":{"sessionUpdate":"agent_message_chunk","content":{"type":"text","text":"hi"}}}}"#;
        assert!(matches!(classify(update), Line::Update(_)));
        assert_eq!(
            classify("Loading model...\n"),
            Line::Malformed("Loading model...".into())
        );
        assert!(matches!(classify(r#"{"id":1}"#), Line::Malformed(_)));
        let unknown = r#"{"jsonrpc":"2.0","method":"session/update","params":{"sessionId":"s","update":{"sessionUpdate":"from_the_future"}}}"#;
        assert_eq!(classify(unknown), Line::Skip);
    }

    #[tokio::test]
    async fn updates_arrive_before_the_response_that_follows_them() {
        let input = concat!(
            r#"{"jsonrpc":"2.0","method":"session/update","params":{"sessionId":"s","update":{"sessionUpdate":"agent_message_chunk","content":{"type":"text","text":"hi"}}}}"#,
            "\n",
            r#"{"jsonrpc":"2.0","id":3,"result":{"stopReason":"end_turn"}}"#,
            "\n",
            "not json\n",
            r#"{"jsonrpc":"2.0","id":4,"result":{}}"#,
            "\n"
        );
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut forwarded = Vec::new();
        pump(input.as_bytes(), &mut forwarded, tx).await;
        assert!(matches!(rx.recv().await, Some(WireEvent::Update(_))));
        assert!(matches!(rx.recv().await, Some(WireEvent::Malformed(l)) if l == "not json"));
        assert_eq!(
            String::from_utf8(forwarded).unwrap(),
            "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"stopReason\":\"end_turn\"}}\n",
            "nothing after the bad line is forwarded"
        );
    }
}
