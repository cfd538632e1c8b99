//! Configuration: `~/.config/boocode/config.toml`, then `<project>/.boocode/config.toml`, then
//! the environment, then command-line flags; each layer overrides the one before.
//!
//! API keys are held here and handed to the model client only; `Debug` hides them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use serde::Deserialize;

use crate::core::agent::tools::ApprovalMode;
use crate::core::llm::provider::{self, ProviderPreset};

/// One config file. Every field is optional so that layers merge.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub provider: Option<String>,
    pub base_url: Option<String>,
    pub model: Option<String>,
    pub api_key: Option<String>,
    pub approval: Option<ApprovalMode>,
    pub max_steps: Option<u32>,
    pub max_attempts: Option<u32>,
    /// First retry delay; doubles per attempt (with jitter).
    pub retry_backoff_ms: Option<u64>,
    pub idle_timeout_secs: Option<u64>,
    pub request_timeout_secs: Option<u64>,
    pub reasoning_effort: Option<String>,
    pub thinking: Option<bool>,
    pub max_image_bytes: Option<u64>,
    /// Longest SSE line (or event data) accepted from the provider (default 16 MiB).
    pub max_stream_line_bytes: Option<u64>,
    pub background_max_concurrent: Option<usize>,
    pub extra_roots: Option<Vec<PathBuf>>,
    /// Model aliases (`fast = "deepseek-chat"`), used by workflows and `--model`.
    pub model_aliases: Option<BTreeMap<String, String>>,
    /// Sub-agents a workflow run keeps running at once (default `min(16, max(2, cores − 2))`).
    pub workflow_concurrency: Option<usize>,
    /// Sections read by the workspace (keys, theme); kept as raw TOML here.
    pub ui: Option<toml::Table>,
}

impl ConfigFile {
    fn merge(&mut self, other: ConfigFile) {
        macro_rules! take {
            ($($f:ident),*) => { $( if other.$f.is_some() { self.$f = other.$f; } )* };
        }
        take!(
            provider,
            base_url,
            model,
            api_key,
            approval,
            max_steps,
            max_attempts,
            retry_backoff_ms,
            idle_timeout_secs,
            request_timeout_secs,
            reasoning_effort,
            thinking,
            max_image_bytes,
            max_stream_line_bytes,
            background_max_concurrent,
            extra_roots,
            model_aliases,
            workflow_concurrency,
            ui
        );
    }

    pub fn load(path: &Path) -> Result<Option<ConfigFile>> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text)
                .map(Some)
                .with_context(|| format!("invalid config file {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }
}

/// Values given on the command line (the last layer).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub provider: Option<String>,
    pub base_url: Option<String>,
    pub model: Option<String>,
    pub api_key: Option<String>,
    pub approval: Option<ApprovalMode>,
}

/// The resolved configuration.
#[derive(Clone)]
pub struct Config {
    pub provider: String,
    pub base_url: String,
    pub model: String,
    pub api_key: Option<String>,
    /// Which variable the user should set when the key is missing.
    pub key_hint: String,
    pub key_required: bool,
    pub approval: ApprovalMode,
    pub max_steps: u32,
    pub max_attempts: u32,
    pub retry_backoff: Duration,
    pub idle_timeout: Duration,
    pub request_timeout: Duration,
    pub reasoning_effort: Option<String>,
    pub thinking: Option<bool>,
    pub max_image_bytes: u64,
    pub max_stream_line_bytes: usize,
    pub background_max_concurrent: usize,
    pub extra_roots: Vec<PathBuf>,
    pub model_aliases: BTreeMap<String, String>,
    pub workflow_concurrency: usize,
    pub ui: toml::Table,
    pub home: PathBuf,
    /// The user's home directory (`~/.boocode/workflows`, `~/.claude/agents`, …).
    pub user_home: Option<PathBuf>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("provider", &self.provider)
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("approval", &self.approval)
            .field("home", &self.home)
            .finish_non_exhaustive()
    }
}

/// Where config and data live; injectable so tests never touch the real home.
#[derive(Debug, Clone)]
pub struct Environment {
    pub vars: BTreeMap<String, String>,
    pub user_config: Option<PathBuf>,
}

impl Environment {
    pub fn from_process() -> Environment {
        Environment {
            vars: std::env::vars().collect(),
            user_config: dirs::config_dir().map(|d| d.join("boocode/config.toml")),
        }
    }

    fn get(&self, key: &str) -> Option<String> {
        self.vars.get(key).filter(|v| !v.trim().is_empty()).cloned()
    }

    /// `$BOOCODE_HOME`, else `~/.local/share/boocode`.
    pub fn home(&self) -> Result<PathBuf> {
        if let Some(h) = self.get("BOOCODE_HOME") {
            return Ok(PathBuf::from(h));
        }
        let home = self
            .get("HOME")
            .map(PathBuf::from)
            .or_else(dirs::home_dir)
            .ok_or_else(|| anyhow!("cannot find a home directory; set BOOCODE_HOME"))?;
        Ok(home.join(".local/share/boocode"))
    }
}

pub const DEFAULT_MAX_STEPS: u32 = 50;
pub const DEFAULT_BACKGROUND_MAX_CONCURRENT: usize = 2;
/// Model aliases scripts written for Claude Code use; unmapped, they mean the configured model.
pub const WORKFLOW_ALIASES: &[&str] = &["haiku", "sonnet", "opus", "fast", "strong"];

/// `min(16, max(2, cores − 2))`.
pub fn default_workflow_concurrency() -> usize {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    cores.saturating_sub(2).clamp(2, 16)
}

impl Config {
    pub fn load(project_root: &Path, env: &Environment, flags: &Overrides) -> Result<Config> {
        let mut file = ConfigFile::default();
        if let Some(user) = &env.user_config {
            if let Some(c) = ConfigFile::load(user)? {
                file.merge(c);
            }
        }
        if let Some(c) = ConfigFile::load(&project_root.join(".boocode/config.toml"))? {
            file.merge(c);
        }
        Config::resolve(file, env, flags)
    }

    fn resolve(file: ConfigFile, env: &Environment, flags: &Overrides) -> Result<Config> {
        let provider_name = flags
            .provider
            .clone()
            .or_else(|| env.get("BOOCODE_PROVIDER"))
            .or(file.provider.clone())
            .unwrap_or_else(|| "deepseek".to_string());
        let preset: Option<&ProviderPreset> = provider::preset(&provider_name);
        let base_url = flags
            .base_url
            .clone()
            .or_else(|| env.get("BOOCODE_BASE_URL"))
            .or(file.base_url.clone())
            .or_else(|| preset.map(|p| p.base_url.to_string()))
            .ok_or_else(|| {
                anyhow!(
                    "unknown provider '{provider_name}' and no base URL; known providers: {} (or pass --base-url)",
                    provider::presets().iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
                )
            })?;
        let model_aliases = file.model_aliases.clone().unwrap_or_default();
        let model = flags
            .model
            .clone()
            .or_else(|| env.get("BOOCODE_MODEL"))
            .or(file.model.clone())
            .or_else(|| preset.map(|p| p.default_model.to_string()))
            .ok_or_else(|| {
                anyhow!("no model configured for provider '{provider_name}'; pass --model")
            })?;
        let model = model_aliases.get(&model).cloned().unwrap_or(model);

        let key_env = preset.and_then(|p| p.key_env);
        let api_key = flags
            .api_key
            .clone()
            .or_else(|| env.get("BOOCODE_API_KEY"))
            .or_else(|| key_env.and_then(|k| env.get(k)))
            .or(file.api_key.clone());
        let key_hint = match key_env {
            Some(k) => format!("{k} (or BOOCODE_API_KEY, or --api-key)"),
            None => "BOOCODE_API_KEY (or --api-key)".to_string(),
        };
        // A custom base URL is usually a local server that needs no key.
        let custom_url = preset.is_none_or(|p| p.base_url != base_url);
        let key_required = preset.is_some_and(|p| p.needs_key) && !custom_url;

        let approval = match flags.approval {
            Some(a) => a,
            None => match env.get("BOOCODE_APPROVAL") {
                Some(v) => v
                    .parse()
                    .map_err(|e: String| anyhow!("BOOCODE_APPROVAL: {e}"))?,
                None => file.approval.unwrap_or_default(),
            },
        };
        let background_max_concurrent = match env.get("BOOCODE_BACKGROUND_MAX_CONCURRENT") {
            Some(v) => v.parse::<usize>().map_err(|_| {
                anyhow!("BOOCODE_BACKGROUND_MAX_CONCURRENT must be a positive number, got '{v}'")
            })?,
            None => file
                .background_max_concurrent
                .unwrap_or(DEFAULT_BACKGROUND_MAX_CONCURRENT),
        }
        .max(1);

        Ok(Config {
            provider: provider_name,
            base_url,
            model,
            api_key,
            key_hint,
            key_required,
            approval,
            max_steps: file.max_steps.unwrap_or(DEFAULT_MAX_STEPS).max(1),
            max_attempts: file.max_attempts.unwrap_or(4).max(1),
            retry_backoff: Duration::from_millis(file.retry_backoff_ms.unwrap_or(500)),
            idle_timeout: Duration::from_secs(file.idle_timeout_secs.unwrap_or(90)),
            request_timeout: Duration::from_secs(file.request_timeout_secs.unwrap_or(600)),
            reasoning_effort: file.reasoning_effort,
            thinking: file.thinking,
            max_image_bytes: file
                .max_image_bytes
                .unwrap_or(crate::core::llm::images::DEFAULT_MAX_IMAGE_BYTES),
            max_stream_line_bytes: file
                .max_stream_line_bytes
                .map_or(crate::core::llm::sse::DEFAULT_MAX_LINE_BYTES, |n| {
                    usize::try_from(n).unwrap_or(usize::MAX)
                })
                .max(1),
            background_max_concurrent,
            extra_roots: file.extra_roots.unwrap_or_default(),
            model_aliases,
            workflow_concurrency: file
                .workflow_concurrency
                .unwrap_or_else(default_workflow_concurrency)
                .max(1),
            ui: file.ui.unwrap_or_default(),
            home: env.home()?,
            user_home: env.get("HOME").map(PathBuf::from).or_else(dirs::home_dir),
        })
    }

    /// One clear line when the model cannot be reached for lack of a key.
    pub fn missing_key_error(&self) -> Option<String> {
        (self.key_required && self.api_key.is_none()).then(|| {
            format!(
                "no API key for provider '{}': set {}",
                self.provider, self.key_hint
            )
        })
    }

    /// The model a workflow's `agent({model})` asks for: a configured alias, else one of the
    /// well-known aliases (`haiku`, `sonnet`, `opus`, `fast`, `strong`) meaning the configured
    /// model, else the id as given; none means the configured model.
    pub fn workflow_model(&self, name: Option<&str>) -> String {
        match name.map(str::trim).filter(|n| !n.is_empty()) {
            None | Some("inherit") => self.model.clone(),
            Some(n) => match self.model_aliases.get(n) {
                Some(m) => m.clone(),
                None if WORKFLOW_ALIASES.contains(&n.to_ascii_lowercase().as_str()) => {
                    self.model.clone()
                }
                None => n.to_string(),
            },
        }
    }

    /// Resolves a model alias (`fast`, `strong`, …) to a model id.
    pub fn resolve_model(&self, name: &str) -> String {
        self.model_aliases
            .get(name)
            .cloned()
            .unwrap_or_else(|| name.to_string())
    }

    pub fn database_path(&self) -> PathBuf {
        self.home.join("boocode.db")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Environment {
        Environment {
            vars: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            user_config: None,
        }
    }

    #[test]
    fn defaults_to_deepseek_and_read_only() {
        let c = Config::resolve(
            ConfigFile::default(),
            &env(&[("HOME", "/h")]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(c.provider, "deepseek");
        assert_eq!(c.base_url, "https://api.deepseek.com");
        assert_eq!(c.approval, ApprovalMode::ReadOnly);
        assert_eq!(c.home, PathBuf::from("/h/.local/share/boocode"));
        assert_eq!(c.max_steps, 50);
        let err = c.missing_key_error().unwrap();
        assert!(err.contains("DEEPSEEK_API_KEY"), "{err}");
    }

    #[test]
    fn layers_override_in_order_and_key_is_hidden() {
        let file: ConfigFile = toml::from_str(
            "provider = 'openai'\nmodel = 'fast'\napproval = 'review'\n[model_aliases]\nfast = 'gpt-4o-mini'\n",
        )
        .unwrap();
        let e = env(&[
            ("HOME", "/h"),
            ("OPENAI_API_KEY", "sk-secret"),
            ("BOOCODE_HOME", "/data"),
        ]);
        let c = Config::resolve(file.clone(), &e, &Overrides::default()).unwrap();
        assert_eq!(c.model, "gpt-4o-mini");
        assert_eq!(c.approval, ApprovalMode::Review);
        assert_eq!(c.api_key.as_deref(), Some("sk-secret"));
        assert_eq!(c.home, PathBuf::from("/data"));
        assert!(!format!("{c:?}").contains("sk-secret"));
        let flags = Overrides {
            approval: Some(ApprovalMode::Auto),
            api_key: Some("flag-key".into()),
            ..Overrides::default()
        };
        let c = Config::resolve(file, &e, &flags).unwrap();
        assert_eq!(c.approval, ApprovalMode::Auto);
        assert_eq!(c.api_key.as_deref(), Some("flag-key"));
    }

    #[test]
    fn the_stream_line_cap_defaults_to_16_mib_and_is_configurable() {
        let c = Config::resolve(
            ConfigFile::default(),
            &env(&[("HOME", "/h")]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(c.max_stream_line_bytes, 16 * 1024 * 1024);
        let file: ConfigFile = toml::from_str("max_stream_line_bytes = 4096\n").unwrap();
        let c = Config::resolve(file, &env(&[("HOME", "/h")]), &Overrides::default()).unwrap();
        assert_eq!(c.max_stream_line_bytes, 4096);
    }

    #[test]
    fn custom_base_url_needs_no_key_and_unknown_keys_are_rejected() {
        let flags = Overrides {
            base_url: Some("http://127.0.0.1:9/v1".into()),
            ..Overrides::default()
        };
        let c = Config::resolve(ConfigFile::default(), &env(&[("HOME", "/h")]), &flags).unwrap();
        assert!(c.missing_key_error().is_none());
        assert!(toml::from_str::<ConfigFile>("modle = 'x'").is_err());
    }

    #[test]
    fn workflow_model_aliases_fall_back_to_the_configured_model() {
        let file: ConfigFile =
            toml::from_str("model = 'base'\n[model_aliases]\nfast = 'quick-1'\n").unwrap();
        let c = Config::resolve(file, &env(&[("HOME", "/h")]), &Overrides::default()).unwrap();
        assert_eq!(c.workflow_model(Some("fast")), "quick-1");
        assert_eq!(c.workflow_model(Some("opus")), "base");
        assert_eq!(c.workflow_model(None), "base");
        assert_eq!(c.workflow_model(Some("other-model")), "other-model");
        assert!((2..=16).contains(&c.workflow_concurrency));
        assert_eq!(c.user_home, Some(PathBuf::from("/h")));
    }

    #[test]
    fn bad_env_values_are_clear_errors() {
        let e = env(&[("HOME", "/h"), ("BOOCODE_APPROVAL", "yolo")]);
        let err = Config::resolve(ConfigFile::default(), &e, &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("yolo"), "{err}");
    }
}
