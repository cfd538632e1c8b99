//! Built-in provider presets. Any OpenAI-compatible base URL works; presets only save typing.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderPreset {
    pub name: &'static str,
    pub base_url: &'static str,
    /// Environment variable holding the API key.
    pub key_env: Option<&'static str>,
    pub default_model: &'static str,
    /// Local servers accept requests without a key.
    pub needs_key: bool,
}

impl ProviderPreset {
    pub fn endpoint(&self) -> String {
        chat_completions_url(self.base_url)
    }
}

pub const DEFAULT_PROVIDER: &str = "deepseek";

const fn remote(
    name: &'static str,
    base_url: &'static str,
    key_env: &'static str,
    default_model: &'static str,
) -> ProviderPreset {
    ProviderPreset {
        name,
        base_url,
        key_env: Some(key_env),
        default_model,
        needs_key: true,
    }
}

// Local servers serve whatever model they loaded; their default names are placeholders the
// user is expected to override.
const fn local(
    name: &'static str,
    base_url: &'static str,
    default_model: &'static str,
) -> ProviderPreset {
    ProviderPreset {
        name,
        base_url,
        key_env: None,
        default_model,
        needs_key: false,
    }
}

static PRESETS: [ProviderPreset; 7] = [
    remote(
        "deepseek",
        "https://api.deepseek.com",
        "DEEPSEEK_API_KEY",
        "deepseek-chat",
    ),
    remote(
        "openai",
        "https://api.openai.com/v1",
        "OPENAI_API_KEY",
        "gpt-4o-mini",
    ),
    remote(
        "openrouter",
        "https://openrouter.ai/api/v1",
        "OPENROUTER_API_KEY",
        "deepseek/deepseek-chat",
    ),
    local("ollama", "http://localhost:11434/v1", "qwen2.5-coder"),
    local("llamacpp", "http://localhost:8080/v1", "default"),
    local("vllm", "http://localhost:8000/v1", "default"),
    local("lmstudio", "http://localhost:1234/v1", "local-model"),
];

pub fn presets() -> &'static [ProviderPreset] {
    &PRESETS
}

/// Context windows (tokens) of the hosted models the presets name, for when neither the
/// config nor the server says. Local presets are absent: their servers load any model.
static KNOWN_WINDOWS: [(&str, u64); 5] = [
    ("deepseek-chat", 128_000),
    ("deepseek-reasoner", 128_000),
    ("deepseek/deepseek-chat", 128_000),
    ("gpt-4o-mini", 128_000),
    ("qwen2.5-coder", 32_768),
];

/// The context window boocode knows for `model`, ignoring case.
pub fn known_context_window(model: &str) -> Option<u64> {
    KNOWN_WINDOWS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(model))
        .map(|(_, window)| *window)
}

/// The variable that holds a key for any provider.
pub const GENERIC_KEY_ENV: &str = "BOOCODE_API_KEY";

/// Every environment variable boocode reads an API key from: withheld from child processes.
pub fn key_variables() -> Vec<&'static str> {
    std::iter::once(GENERIC_KEY_ENV)
        .chain(PRESETS.iter().filter_map(|p| p.key_env))
        .collect()
}

/// Looks a preset up by name, ignoring case.
pub fn preset(name: &str) -> Option<&'static ProviderPreset> {
    PRESETS.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

/// `{base_url}/chat/completions`, tolerating a trailing slash on the base URL.
pub fn chat_completions_url(base_url: &str) -> String {
    format!("{}/chat/completions", base_url.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deepseek_is_the_default_and_needs_a_key() {
        let p = preset(DEFAULT_PROVIDER).expect("deepseek preset");
        assert_eq!(p.endpoint(), "https://api.deepseek.com/chat/completions");
        assert_eq!(p.key_env, Some("DEEPSEEK_API_KEY"));
        assert_eq!(p.default_model, "deepseek-chat");
        assert!(p.needs_key);
    }

    #[test]
    fn every_key_variable_is_listed() {
        assert_eq!(
            key_variables(),
            [
                "BOOCODE_API_KEY",
                "DEEPSEEK_API_KEY",
                "OPENAI_API_KEY",
                "OPENROUTER_API_KEY"
            ]
        );
    }

    #[test]
    fn local_presets_need_no_key() {
        for name in ["ollama", "llamacpp", "vllm", "lmstudio"] {
            let p = preset(name).expect(name);
            assert!(!p.needs_key && p.key_env.is_none(), "{name}");
            assert!(p.base_url.starts_with("http://localhost:"), "{name}");
        }
        assert_eq!(
            preset("OpenAI").map(|p| p.endpoint()).as_deref(),
            Some("https://api.openai.com/v1/chat/completions")
        );
        assert!(preset("nope").is_none());
        assert_eq!(presets().len(), 7);
    }

    #[test]
    fn deepseek_models_have_a_128k_window_and_local_placeholders_none() {
        assert_eq!(known_context_window("deepseek-chat"), Some(128_000));
        assert_eq!(known_context_window("DeepSeek-Reasoner"), Some(128_000));
        for p in presets().iter().filter(|p| p.needs_key) {
            assert!(
                known_context_window(p.default_model).is_some(),
                "{}",
                p.name
            );
        }
        assert_eq!(known_context_window("default"), None);
    }

    #[test]
    fn trailing_slash_is_trimmed() {
        assert_eq!(
            chat_completions_url("http://h:1/v1/"),
            "http://h:1/v1/chat/completions"
        );
    }
}
