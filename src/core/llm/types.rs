//! Wire types for OpenAI-compatible chat completions.
//!
//! These are the project's own serde types (async-openai's lack `reasoning_content` and the
//! DeepSeek cache fields). Unknown fields are tolerated everywhere on the response side.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One message of the conversation as sent to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum ChatMessage {
    System {
        content: String,
    },
    User {
        content: UserContent,
    },
    Assistant {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<String>,
        /// DeepSeek thinking mode: must be sent back on assistant turns that made tool calls.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reasoning_content: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<ToolCall>,
    },
    Tool {
        tool_call_id: String,
        content: String,
    },
}

impl ChatMessage {
    pub fn system(text: impl Into<String>) -> Self {
        ChatMessage::System {
            content: text.into(),
        }
    }

    pub fn user(text: impl Into<String>) -> Self {
        ChatMessage::User {
            content: UserContent::Text(text.into()),
        }
    }

    pub fn tool_result(tool_call_id: impl Into<String>, content: impl Into<String>) -> Self {
        ChatMessage::Tool {
            tool_call_id: tool_call_id.into(),
            content: content.into(),
        }
    }
}

/// User content is plain text, or text plus image parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum UserContent {
    Text(String),
    Parts(Vec<ContentPart>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPart {
    Text { text: String },
    ImageUrl { image_url: ImageUrl },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageUrl {
    /// A `data:<mime>;base64,<payload>` URI.
    pub url: String,
}

/// A complete tool call made by the assistant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    #[serde(rename = "type", default = "function_type")]
    pub kind: String,
    pub function: FunctionCall,
}

fn function_type() -> String {
    "function".to_string()
}

impl ToolCall {
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        arguments: impl Into<String>,
    ) -> Self {
        ToolCall {
            id: id.into(),
            kind: function_type(),
            function: FunctionCall {
                name: name.into(),
                arguments: arguments.into(),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    pub name: String,
    /// Raw JSON text exactly as the model produced it (may be invalid JSON).
    pub arguments: String,
}

/// A tool offered to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    #[serde(rename = "type")]
    pub kind: String,
    pub function: FunctionSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionSpec {
    pub name: String,
    pub description: String,
    pub parameters: Value,
}

impl ToolSpec {
    pub fn function(name: &str, description: &str, parameters: Value) -> Self {
        ToolSpec {
            kind: "function".into(),
            function: FunctionSpec {
                name: name.into(),
                description: description.into(),
                parameters,
            },
        }
    }
}

/// The body of `POST /chat/completions`.
#[derive(Debug, Clone, Serialize)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<ChatMessage>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolSpec>,
    /// `"none"` when the tools are sent only to keep the prompt's prefix (and the provider's
    /// cache) the same as the chat's, not to be called.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<String>,
    pub stream: bool,
    pub stream_options: StreamOptions,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<String>,
    /// DeepSeek: `{"type": "enabled" | "disabled"}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking: Option<Thinking>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StreamOptions {
    pub include_usage: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thinking {
    #[serde(rename = "type")]
    pub kind: String,
}

/// Token usage as reported by the provider. The raw object is kept too, so nothing a provider
/// reports is lost.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub reasoning_tokens: u64,
    pub cache_hit_tokens: u64,
    pub cache_miss_tokens: u64,
}

impl Usage {
    /// Reads the usage object of any OpenAI-compatible provider, DeepSeek's cache fields first,
    /// then `prompt_tokens_details.cached_tokens`.
    pub fn from_raw(raw: &Value) -> Usage {
        let int = |v: Option<&Value>| v.and_then(Value::as_u64).unwrap_or(0);
        let prompt = int(raw.get("prompt_tokens"));
        let completion = int(raw.get("completion_tokens"));
        let reasoning = int(raw.pointer("/completion_tokens_details/reasoning_tokens"));
        let (hit, miss) = match (
            raw.get("prompt_cache_hit_tokens").and_then(Value::as_u64),
            raw.get("prompt_cache_miss_tokens").and_then(Value::as_u64),
        ) {
            (Some(hit), Some(miss)) => (hit, miss),
            (Some(hit), None) => (hit, prompt.saturating_sub(hit)),
            _ => {
                let cached = int(raw.pointer("/prompt_tokens_details/cached_tokens"));
                (cached, prompt.saturating_sub(cached))
            }
        };
        Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            reasoning_tokens: reasoning,
            cache_hit_tokens: hit,
            cache_miss_tokens: miss,
        }
    }

    pub fn add(&mut self, other: &Usage) {
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.reasoning_tokens += other.reasoning_tokens;
        self.cache_hit_tokens += other.cache_hit_tokens;
        self.cache_miss_tokens += other.cache_miss_tokens;
    }

    pub fn total(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn usage_prefers_deepseek_cache_fields() {
        let u = Usage::from_raw(&json!({
            "prompt_tokens": 374, "completion_tokens": 61,
            "prompt_tokens_details": {"cached_tokens": 1},
            "completion_tokens_details": {"reasoning_tokens": 17},
            "prompt_cache_hit_tokens": 256, "prompt_cache_miss_tokens": 118
        }));
        assert_eq!(
            (u.cache_hit_tokens, u.cache_miss_tokens, u.reasoning_tokens),
            (256, 118, 17)
        );
    }

    #[test]
    fn usage_falls_back_to_cached_tokens() {
        let u = Usage::from_raw(&json!({
            "prompt_tokens": 100, "completion_tokens": 5,
            "prompt_tokens_details": {"cached_tokens": 64}
        }));
        assert_eq!((u.cache_hit_tokens, u.cache_miss_tokens), (64, 36));
    }

    #[test]
    fn assistant_message_round_trips_reasoning_and_tool_calls() {
        let m = ChatMessage::Assistant {
            content: None,
            reasoning_content: Some("think".into()),
            tool_calls: vec![ToolCall::new("c1", "read_file", "{}")],
        };
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(v["role"], "assistant");
        assert_eq!(v["reasoning_content"], "think");
        assert_eq!(v["tool_calls"][0]["function"]["name"], "read_file");
        let back: ChatMessage = serde_json::from_value(v).unwrap();
        assert_eq!(back, m);
    }
}
