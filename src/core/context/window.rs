//! How much of a model's context window a chat uses: the window itself (config, provider
//! preset, the server's `/models`, else a safe default) and each request's prompt size,
//! estimated before sending and corrected by the usage the provider reports.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::core::config::Config;
use crate::core::llm::client::LlmClient;
use crate::core::llm::provider::known_context_window;
use crate::core::llm::types::{ChatMessage, ToolSpec};

/// The window assumed for a model nothing describes: small enough that no real model overflows
/// before boocode thinks it is full.
pub const DEFAULT_CONTEXT_WINDOW: u64 = 32_768;

/// How long the first turn of a process waits for the server's `/models`.
const SERVED_WINDOWS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Bytes of request JSON per token in the uncorrected estimate (English and code average
/// about four).
const BYTES_PER_TOKEN: u64 = 4;

/// A correction is kept within these bounds so one odd usage report cannot make the figure
/// absurd.
const MIN_RATIO: f64 = 0.25;
const MAX_RATIO: f64 = 8.0;

/// Tokens in use against the model's window, as shown to the user (`38k / 128k`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContextUse {
    pub used: u64,
    pub window: u64,
}

impl ContextUse {
    pub fn percent(&self) -> u64 {
        (self.used.saturating_mul(100)) / self.window.max(1)
    }
}

/// `38k / 128k`.
impl std::fmt::Display for ContextUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} / {}", kilo(self.used), kilo(self.window))
    }
}

/// A token count as people read it: `812`, `38k`.
pub fn kilo(n: u64) -> String {
    match n {
        0..1000 => n.to_string(),
        _ => format!("{}k", (n + 500) / 1000),
    }
}

impl ContextBook {
    /// The correction applied to this chat's estimates (see [`ContextBook::corrected`]).
    pub fn ratio(&self, chat_id: &str) -> f64 {
        self.ratios
            .lock()
            .ok()
            .and_then(|r| r.get(chat_id).copied())
            .unwrap_or(1.0)
    }
}

/// The window of `model`: the user's `[models.NAME] context_window` first (they know what
/// their server loaded), then what boocode knows of hosted models, then what the server
/// reports, else [`DEFAULT_CONTEXT_WINDOW`].
pub fn resolve_window(configured: Option<u64>, known: Option<u64>, served: Option<u64>) -> u64 {
    configured
        .or(known)
        .or(served)
        .filter(|w| *w > 0)
        .unwrap_or(DEFAULT_CONTEXT_WINDOW)
}

/// Counts bytes written without keeping them.
struct ByteCount(u64);

impl Write for ByteCount {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A fast estimate of a request's prompt tokens: the JSON of its messages (system prompt
/// included) and tool schemas, at [`BYTES_PER_TOKEN`].
pub fn estimate_prompt_tokens(messages: &[ChatMessage], tools: &[ToolSpec]) -> u64 {
    let mut count = ByteCount(0);
    // Writing to a counter cannot fail; a value that cannot be encoded would fail the request.
    let _ = serde_json::to_writer(&mut count, messages);
    let _ = serde_json::to_writer(&mut count, tools);
    count.0.div_ceil(BYTES_PER_TOKEN)
}

/// Per chat, how far the estimate was off last time (real prompt tokens ÷ estimate), applied
/// to the next estimate; and the windows the server reported, asked once per process.
#[derive(Debug, Default)]
pub struct ContextBook {
    ratios: Mutex<HashMap<String, f64>>,
    served: tokio::sync::OnceCell<HashMap<String, u64>>,
}

impl ContextBook {
    /// `estimate` corrected by what the provider reported for this chat before.
    pub fn corrected(&self, chat_id: &str, estimate: u64) -> u64 {
        (estimate as f64 * self.ratio(chat_id)).round() as u64
    }

    /// Records the provider's count for a request whose uncorrected estimate was `estimate`.
    pub fn observe(&self, chat_id: &str, estimate: u64, prompt_tokens: u64) {
        if estimate == 0 || prompt_tokens == 0 {
            return;
        }
        let ratio = (prompt_tokens as f64 / estimate as f64).clamp(MIN_RATIO, MAX_RATIO);
        if let Ok(mut ratios) = self.ratios.lock() {
            ratios.insert(chat_id.to_string(), ratio);
        }
    }

    /// The context window of `model` (see [`resolve_window`]); the server is asked only when
    /// neither the config nor boocode knows the model.
    pub async fn window_of(&self, config: &Config, llm: &LlmClient, model: &str) -> u64 {
        let configured = config.context_window(model);
        let known = known_context_window(model);
        let served = match configured.or(known) {
            Some(_) => None,
            None => self
                .served_windows(served_windows(llm))
                .await
                .get(model)
                .copied(),
        };
        resolve_window(configured, known, served)
    }

    /// The windows the server reports, fetched by `fetch` on the first call only (a failed
    /// fetch counts: the turn must not wait on `/models` again).
    pub async fn served_windows<F>(&self, fetch: F) -> &HashMap<String, u64>
    where
        F: std::future::Future<Output = HashMap<String, u64>>,
    {
        self.served.get_or_init(|| fetch).await
    }
}

async fn served_windows(llm: &LlmClient) -> HashMap<String, u64> {
    match llm.list_models_within(SERVED_WINDOWS_TIMEOUT).await {
        Ok(models) => models
            .into_iter()
            .filter_map(|m| Some((m.id, m.context_window?)))
            .collect(),
        Err(e) => {
            tracing::debug!("the server's /models gave no context windows: {e}");
            HashMap::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_comes_from_config_then_known_models_then_the_server_then_the_default() {
        assert_eq!(resolve_window(Some(1000), Some(2000), Some(3000)), 1000);
        assert_eq!(resolve_window(None, Some(2000), Some(3000)), 2000);
        assert_eq!(resolve_window(None, None, Some(3000)), 3000);
        assert_eq!(resolve_window(None, None, None), DEFAULT_CONTEXT_WINDOW);
        assert_eq!(resolve_window(Some(0), None, None), DEFAULT_CONTEXT_WINDOW);
    }

    #[test]
    fn use_reads_in_thousands_with_a_percentage() {
        let use_ = ContextUse {
            used: 38_400,
            window: 128_000,
        };
        assert_eq!(use_.to_string(), "38k / 128k");
        assert_eq!(use_.percent(), 30);
        let small = ContextUse {
            used: 812,
            window: 32_768,
        };
        assert_eq!(small.to_string(), "812 / 33k");
    }

    #[test]
    fn the_estimate_counts_system_prompt_messages_and_tools() {
        let system = vec![ChatMessage::system("x".repeat(4000))];
        let base = estimate_prompt_tokens(&system, &[]);
        assert!((1000..1100).contains(&base), "{base}");
        let more = vec![
            ChatMessage::system("x".repeat(4000)),
            ChatMessage::user("y".repeat(400)),
        ];
        let with_user = estimate_prompt_tokens(&more, &[]);
        assert!(with_user >= base + 100, "{with_user}");
        let tool: ToolSpec = serde_json::from_value(serde_json::json!({
            "type": "function",
            "function": {"name": "t", "description": "d".repeat(800), "parameters": {}}
        }))
        .expect("tool spec");
        assert!(estimate_prompt_tokens(&more, &[tool]) >= with_user + 200);
    }

    #[test]
    fn the_provider_count_corrects_the_next_estimate_of_the_same_chat_only() {
        let book = ContextBook::default();
        assert_eq!(book.corrected("a", 1000), 1000);
        book.observe("a", 1000, 1500);
        assert_eq!(book.corrected("a", 2000), 3000);
        assert_eq!(book.corrected("b", 2000), 2000);
        // A usage without a prompt count keeps the last correction.
        book.observe("a", 1000, 0);
        assert_eq!(book.corrected("a", 100), 150);
        // An absurd report is bounded.
        book.observe("a", 10, 1_000_000);
        assert_eq!(book.corrected("a", 100), 800);
    }

    #[tokio::test]
    async fn the_server_is_asked_once() {
        let book = ContextBook::default();
        let asked = std::sync::atomic::AtomicU32::new(0);
        for _ in 0..3 {
            let windows = book
                .served_windows(async {
                    asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    HashMap::from([("m".to_string(), 8192)])
                })
                .await;
            assert_eq!(windows.get("m"), Some(&8192));
        }
        assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}
