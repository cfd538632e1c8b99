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
use crate::core::agents::registry::{self, AgentFile};
use crate::core::llm::provider::{self, ProviderPreset};
use crate::core::mcp::config::McpServerFile;
use crate::core::workflow::protocol::WorkerLimits;

/// One config file. Every field is optional so that layers merge.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub provider: Option<String>,
    pub base_url: Option<String>,
    pub model: Option<String>,
    pub api_key: Option<String>,
    /// A command (run with `sh -c`) whose standard output is the API key, for a key kept in a
    /// password manager: used when no other layer gives a key. Read from the user config file
    /// only: a project's file must not make boocode run commands.
    pub api_key_command: Option<String>,
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
    /// What a workflow script may use (`[workflow_limits]`).
    pub workflow_limits: Option<WorkflowLimitsFile>,
    /// Cap on the project instructions (AGENTS.md, CLAUDE.md) a chat's system prompt takes in.
    pub instructions_max_bytes: Option<usize>,
    /// Sections read by the workspace (keys, theme); kept as raw TOML here.
    pub ui: Option<toml::Table>,
    /// Terminal panes (`[terminal]`).
    pub terminal: Option<TerminalFile>,
    /// What boocode should know of a model (`[models.NAME]`), by the name sent to the server.
    pub models: Option<BTreeMap<String, ModelFile>>,
    /// External agents (`[agents.NAME]`) beside the presets.
    pub agents: Option<BTreeMap<String, AgentFile>>,
    /// MCP servers (`[mcp_servers.NAME]`). Not merged across layers: the user's are trusted,
    /// the project's need approval, so each layer's are kept apart by [`Config::load`].
    pub mcp_servers: Option<BTreeMap<String, McpServerFile>>,
    /// How a chat's context is kept within the model's window (`[context]`).
    pub context: Option<ContextFile>,
}

/// `[context]`.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextFile {
    /// The share of the context window a request may fill before the chat is compacted.
    pub compact_at: Option<f64>,
}

/// Compaction starts when the next request would fill this much of the window.
pub const DEFAULT_COMPACT_AT: f64 = 0.8;
/// The range `[context] compact_at` may take: below it a chat would compact all the time,
/// above it the reply has no room left.
const COMPACT_AT_RANGE: std::ops::RangeInclusive<f64> = 0.2..=0.95;

/// `[models.NAME]`.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    /// The model's context window in tokens.
    pub context_window: Option<u64>,
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
            api_key_command,
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
            workflow_limits,
            instructions_max_bytes,
            ui,
            terminal,
            context
        );
        // A later layer describes its models without forgetting the ones an earlier one did.
        if let Some(models) = other.models {
            self.models.get_or_insert_default().extend(models);
        }
        if let Some(agents) = other.agents {
            self.agents.get_or_insert_default().extend(agents);
        }
    }

    pub fn load(path: &Path) -> Result<Option<ConfigFile>> {
        match std::fs::read_to_string(path) {
            Ok(text) => ConfigFile::parse(&text)
                .map(Some)
                .map_err(|e| anyhow!("invalid config file {}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Parses a config file. Every bad entry is reported, not only the first one serde meets,
    /// so one round of fixes is enough.
    pub fn parse(text: &str) -> std::result::Result<ConfigFile, String> {
        let table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
        let problems: Vec<String> = table
            .iter()
            .filter_map(|(key, value)| {
                let entry = toml::Table::from_iter([(key.clone(), value.clone())]);
                toml::Value::Table(entry)
                    .try_into::<ConfigFile>()
                    .err()
                    .map(|e| format!("{key}: {}", e.message().trim()))
            })
            .collect();
        if !problems.is_empty() {
            return Err(problems.join("; "));
        }
        toml::Value::Table(table)
            .try_into()
            .map_err(|e| e.message().trim().to_string())
    }
}

/// `[workflow_limits]`: what one workflow script may use. Agents run in the parent process, so
/// neither their time nor their memory counts.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowLimitsFile {
    /// CPU seconds of the script itself (default 30).
    pub cpu_seconds: Option<u64>,
    /// Resident memory of the script worker, MB (default 512).
    pub memory_mb: Option<u64>,
    /// Largest run result, KB of JSON (default 1024).
    pub result_kb: Option<u64>,
    /// Longest `log()` line, KB (default 64).
    pub log_line_kb: Option<u64>,
}

impl WorkflowLimitsFile {
    fn resolve(self) -> WorkerLimits {
        let d = WorkerLimits::default();
        const MB: u64 = 1024 * 1024;
        WorkerLimits {
            max_cpu_seconds: self.cpu_seconds.unwrap_or(d.max_cpu_seconds).max(1),
            max_memory_bytes: self
                .memory_mb
                .map_or(d.max_memory_bytes, |mb| mb.max(64).saturating_mul(MB)),
            max_result_bytes: self
                .result_kb
                .map_or(d.max_result_bytes, |kb| kb.max(1).saturating_mul(1024)),
            max_log_bytes: self
                .log_line_kb
                .map_or(d.max_log_bytes, |kb| kb.max(1).saturating_mul(1024)),
            ..d
        }
    }
}

/// `[terminal]`: terminal panes.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerminalFile {
    /// Lines of history kept above each terminal pane's screen (default 10,000).
    pub scrollback_lines: Option<usize>,
}

/// Lines of history a terminal pane keeps unless `[terminal] scrollback_lines` says otherwise.
pub const DEFAULT_SCROLLBACK_LINES: usize = 10_000;
/// More history than this is refused: a stored line costs its text plus about 40 bytes, so a
/// million full 120-column lines already take some 160 MB per pane.
pub const MAX_SCROLLBACK_LINES: usize = 1_000_000;

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
    /// Gives the key when nothing else did; run by [`Config::fetch_key_from_command`].
    pub api_key_command: Option<String>,
    /// Which variable the user should set when the key is missing.
    pub key_hint: String,
    pub key_required: bool,
    /// Why the user's key is not sent (a project chose the server), when that is so.
    pub key_withheld: Option<String>,
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
    pub workflow_limits: WorkerLimits,
    pub instructions_max_bytes: usize,
    /// `[context] compact_at`: the share of the window that triggers compaction.
    pub compact_at: f64,
    pub ui: toml::Table,
    /// Lines of history above each terminal pane's screen.
    pub terminal_scrollback_lines: usize,
    /// Context windows set in `[models.NAME] context_window`.
    pub model_windows: BTreeMap<String, u64>,
    /// `[agents.NAME]` of the user's and the project's config files.
    pub agents: BTreeMap<String, AgentFile>,
    /// `[mcp_servers.NAME]` of the user's config file (trusted).
    pub mcp_servers: BTreeMap<String, McpServerFile>,
    /// `[mcp_servers.NAME]` of the project's config file (run only once approved).
    pub project_mcp_servers: BTreeMap<String, McpServerFile>,
    pub home: PathBuf,
    /// The user's home directory (`~/.boocode/workflows`, `~/.claude/agents`, …).
    pub user_home: Option<PathBuf>,
    /// The directory of the user's `config.toml`, which also holds their own `AGENTS.md`.
    pub user_config_dir: Option<PathBuf>,
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

/// Whether a base URL names this machine (`localhost`, `127.x`, `::1`).
fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `min(16, max(2, cores − 2))`.
pub fn default_workflow_concurrency() -> usize {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    cores.saturating_sub(2).clamp(2, 16)
}

impl Config {
    /// The context window the config sets for `model`.
    pub fn context_window(&self, model: &str) -> Option<u64> {
        self.model_windows.get(model).copied()
    }

    pub fn load(project_root: &Path, env: &Environment, flags: &Overrides) -> Result<Config> {
        let mut file = ConfigFile::default();
        let mut user_mcp_servers = None;
        if let Some(user) = &env.user_config {
            if let Some(mut c) = ConfigFile::load(user)? {
                user_mcp_servers = c.mcp_servers.take();
                file.merge(c);
            }
        }
        let users_own_layers = file.clone();
        let project_file = project_root.join(".boocode/config.toml");
        let mut project_picks_endpoint = false;
        let mut projects_own_key = None;
        let mut project_mcp_servers = None;
        if let Some(mut c) = ConfigFile::load(&project_file)? {
            project_mcp_servers = c.mcp_servers.take();
            if c.api_key_command.is_some() {
                return Err(anyhow!(
                    "{}: api_key_command is read only from the user config file (a project must not make boocode run commands)",
                    project_file.display()
                ));
            }
            // An agent is a command boocode runs: a project may add agents of its own, but not
            // change what a name the user already knows (a preset, their own agent) starts.
            for name in c.agents.iter().flat_map(|a| a.keys()) {
                let users = file.agents.as_ref().is_some_and(|a| a.contains_key(name));
                if registry::is_preset(name) || users {
                    return Err(anyhow!(
                        "{}: [agents.{name}] would change what the agent '{name}' runs; only your own config.toml may do that",
                        project_file.display()
                    ));
                }
            }
            for agent in c.agents.iter_mut().flat_map(|a| a.values_mut()) {
                agent.from_project = true;
            }
            project_picks_endpoint = c.base_url.is_some() || c.provider.is_some();
            projects_own_key = c.api_key.clone();
            file.merge(c);
        }
        let mut config = Config::resolve(file, env, flags)?;
        config.mcp_servers = user_mcp_servers.unwrap_or_default();
        config.project_mcp_servers = project_mcp_servers.unwrap_or_default();
        if project_picks_endpoint {
            let users_endpoint = Config::resolve(users_own_layers, env, flags)
                .ok()
                .map(|c| c.base_url);
            if users_endpoint.as_deref() != Some(config.base_url.as_str()) {
                config.withhold_key_from_project_endpoint(&project_file, projects_own_key);
            }
        }
        Ok(config)
    }

    /// A cloned repository's config may point requests at any server; the user's key (from the
    /// environment, their own config or a flag) must not follow it there. A local server needs
    /// no key; any other address has to be confirmed by the user's own layers first, unless
    /// the project brings its own key for it.
    fn withhold_key_from_project_endpoint(
        &mut self,
        project_file: &Path,
        projects_own_key: Option<String>,
    ) {
        self.api_key_command = None;
        self.api_key = projects_own_key;
        if self.api_key.is_none() && !is_loopback_url(&self.base_url) {
            self.key_required = true;
            self.key_withheld = Some(format!(
                "{} sends requests to {}; boocode does not send your API key to an address a project chose. To use it, pass --base-url {} (or set base_url in your own config.toml)",
                project_file.display(),
                self.base_url,
                self.base_url
            ));
        }
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
            .or_else(|| env.get(provider::GENERIC_KEY_ENV))
            .or_else(|| key_env.and_then(|k| env.get(k)))
            .or(file.api_key.clone());
        let key_hint = match key_env {
            Some(k) => format!(
                "{k} (or BOOCODE_API_KEY, api_key_command in the config file, or --api-key)"
            ),
            None => {
                "BOOCODE_API_KEY (or api_key_command in the config file, or --api-key)".to_string()
            }
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
        let compact_at = file
            .context
            .as_ref()
            .and_then(|c| c.compact_at)
            .unwrap_or(DEFAULT_COMPACT_AT);
        if !COMPACT_AT_RANGE.contains(&compact_at) {
            return Err(anyhow!(
                "[context] compact_at must be between {} and {} (a share of the context window), got {compact_at}",
                COMPACT_AT_RANGE.start(),
                COMPACT_AT_RANGE.end()
            ));
        }

        Ok(Config {
            provider: provider_name,
            base_url,
            model,
            api_key_command: file.api_key_command.filter(|_| api_key.is_none()),
            api_key,
            key_hint,
            key_required,
            key_withheld: None,
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
            workflow_limits: file.workflow_limits.unwrap_or_default().resolve(),
            instructions_max_bytes: file
                .instructions_max_bytes
                .unwrap_or(crate::core::context::instructions::DEFAULT_MAX_BYTES),
            compact_at,
            ui: file.ui.unwrap_or_default(),
            terminal_scrollback_lines: file
                .terminal
                .and_then(|t| t.scrollback_lines)
                .unwrap_or(DEFAULT_SCROLLBACK_LINES)
                .min(MAX_SCROLLBACK_LINES),
            model_windows: file
                .models
                .unwrap_or_default()
                .into_iter()
                .filter_map(|(name, m)| Some((name, m.context_window?)))
                .collect(),
            agents: file.agents.unwrap_or_default(),
            mcp_servers: BTreeMap::new(),
            project_mcp_servers: BTreeMap::new(),
            home: env.home()?,
            user_home: env.get("HOME").map(PathBuf::from).or_else(dirs::home_dir),
            user_config_dir: env
                .user_config
                .as_deref()
                .and_then(Path::parent)
                .map(Path::to_path_buf),
        })
    }

    /// Runs `api_key_command`, when no other layer gave a key, and takes its standard output
    /// (trimmed) as the key. Its stderr and stdin stay the terminal's, so a password manager
    /// can ask for a passphrase.
    pub fn fetch_key_from_command(&mut self) -> Result<()> {
        let Some(command) = self.api_key_command.take() else {
            return Ok(());
        };
        let output = std::process::Command::new("sh")
            .args(["-c", &command])
            .stdout(std::process::Stdio::piped())
            .output()
            .with_context(|| format!("running api_key_command `{command}`"))?;
        if !output.status.success() {
            return Err(anyhow!(
                "api_key_command `{command}` failed ({})",
                output.status
            ));
        }
        let key = String::from_utf8(output.stdout)
            .map_err(|_| anyhow!("api_key_command `{command}` printed a key that is not UTF-8"))?;
        let key = key.trim();
        if key.is_empty() {
            return Err(anyhow!("api_key_command `{command}` printed no key"));
        }
        self.api_key = Some(key.to_string());
        Ok(())
    }

    /// One clear line when the model cannot be reached for lack of a key.
    pub fn missing_key_error(&self) -> Option<String> {
        (self.key_required && self.api_key.is_none()).then(|| match &self.key_withheld {
            Some(reason) => reason.clone(),
            None => format!(
                "no API key for provider '{}': set {}",
                self.provider, self.key_hint
            ),
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
    fn model_tables_set_context_windows_merge_per_model_and_reject_unknown_keys() {
        let mut file = ConfigFile::parse(
            "[models.big]\ncontext_window = 200000\n[models.small]\ncontext_window = 8000\n",
        )
        .unwrap();
        file.merge(ConfigFile::parse("[models.small]\ncontext_window = 16000\n").unwrap());
        let c = Config::resolve(file, &env(&[("HOME", "/h")]), &Overrides::default()).unwrap();
        assert_eq!(c.context_window("big"), Some(200_000));
        assert_eq!(c.context_window("small"), Some(16_000));
        assert_eq!(c.context_window("other"), None);
        let err = ConfigFile::parse("[models.big]\ncontext_windw = 1\n").unwrap_err();
        assert!(err.contains("context_windw"), "{err}");
    }

    #[test]
    fn mcp_servers_of_the_user_and_the_project_are_kept_apart() {
        let dir = tempfile::tempdir().unwrap();
        let user = dir.path().join("user.toml");
        std::fs::write(
            &user,
            "[mcp_servers.mine]\ncommand = 'srv'\nread_only_trusted = true\n",
        )
        .unwrap();
        let project = dir.path().join("project");
        std::fs::create_dir_all(project.join(".boocode")).unwrap();
        std::fs::write(
            project.join(".boocode/config.toml"),
            "[mcp_servers.theirs]\ncommand = 'other'\n",
        )
        .unwrap();
        let mut e = env(&[("HOME", "/h")]);
        e.user_config = Some(user);
        let c = Config::load(&project, &e, &Overrides::default()).unwrap();
        assert_eq!(c.mcp_servers.keys().collect::<Vec<_>>(), vec!["mine"]);
        assert_eq!(c.mcp_servers["mine"].read_only_trusted, Some(true));
        assert_eq!(
            c.project_mcp_servers.keys().collect::<Vec<_>>(),
            vec!["theirs"]
        );
    }

    #[test]
    fn compact_at_defaults_to_80_percent_and_is_validated() {
        let resolve = |text: &str| {
            Config::resolve(
                ConfigFile::parse(text).unwrap(),
                &env(&[("HOME", "/h")]),
                &Overrides::default(),
            )
        };
        assert_eq!(resolve("").unwrap().compact_at, DEFAULT_COMPACT_AT);
        assert_eq!(
            resolve("[context]\ncompact_at = 0.6\n").unwrap().compact_at,
            0.6
        );
        for bad in ["1.5", "0.0", "0.99"] {
            let err = resolve(&format!("[context]\ncompact_at = {bad}\n")).unwrap_err();
            assert!(
                err.to_string().contains("compact_at must be between"),
                "{err}"
            );
        }
        let err = ConfigFile::parse("[context]\ncompact = 0.5\n").unwrap_err();
        assert!(err.contains("compact"), "{err}");
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
    fn a_projects_server_never_gets_the_users_key_unless_the_user_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path();
        std::fs::create_dir_all(project.join(".boocode")).unwrap();
        let project_config = |text: &str| {
            std::fs::write(project.join(".boocode/config.toml"), text).unwrap();
        };
        let keyed = env(&[("HOME", "/h"), ("DEEPSEEK_API_KEY", "sk-user")]);
        let with_flag_key = Overrides {
            api_key: Some("sk-flag".into()),
            ..Overrides::default()
        };

        project_config("base_url = 'https://collector.example/v1'\n");
        for flags in [Overrides::default(), with_flag_key.clone()] {
            let c = Config::load(project, &keyed, &flags).unwrap();
            assert_eq!(c.base_url, "https://collector.example/v1");
            assert_eq!(c.api_key, None);
            let err = c.missing_key_error().unwrap();
            assert!(
                err.contains("does not send your API key")
                    && err.contains("--base-url https://collector.example/v1"),
                "{err}"
            );
        }
        // The user naming the same server is the confirmation.
        let confirmed = Overrides {
            base_url: Some("https://collector.example/v1".into()),
            ..Overrides::default()
        };
        let c = Config::load(project, &keyed, &confirmed).unwrap();
        assert_eq!(c.api_key.as_deref(), Some("sk-user"));
        assert!(c.missing_key_error().is_none());

        // A provider switch is a redirect too; a local server just gets no key.
        project_config("provider = 'openai'\n");
        let c = Config::load(
            project,
            &env(&[("HOME", "/h"), ("OPENAI_API_KEY", "sk-o")]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(c.api_key, None);
        assert!(c.missing_key_error().is_some());
        project_config("base_url = 'http://127.0.0.1:11434/v1'\nmodel = 'llama'\n");
        let c = Config::load(project, &keyed, &Overrides::default()).unwrap();
        assert_eq!(c.api_key, None);
        assert!(c.missing_key_error().is_none());

        // Settings that do not move the requests keep the key; so does a project's own key.
        project_config("model = 'deepseek-reasoner'\n");
        let c = Config::load(project, &keyed, &Overrides::default()).unwrap();
        assert_eq!(c.api_key.as_deref(), Some("sk-user"));
        project_config("base_url = 'https://team.example/v1'\napi_key = 'sk-team'\n");
        let c = Config::load(project, &keyed, &Overrides::default()).unwrap();
        assert_eq!(c.api_key.as_deref(), Some("sk-team"));
    }

    #[test]
    fn a_project_adds_agents_but_never_changes_what_a_known_name_runs() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path();
        std::fs::create_dir_all(project.join(".boocode")).unwrap();
        let user_file = dir.path().join("user.toml");
        std::fs::write(
            &user_file,
            "[agents.mine]\nprotocol = 'acp'\ncommand = '/opt/mine'\n",
        )
        .unwrap();
        let environment = Environment {
            user_config: Some(user_file),
            ..env(&[("HOME", "/h")])
        };
        let project_config = |text: &str| {
            std::fs::write(project.join(".boocode/config.toml"), text).unwrap();
        };
        project_config("[agents.helper]\nprotocol = 'acp'\ncommand = './tools/helper'\n");
        let c = Config::load(project, &environment, &Overrides::default()).unwrap();
        assert!(c.agents.contains_key("mine") && c.agents.contains_key("helper"));
        for shadowed in ["claude", "mine"] {
            project_config(&format!("[agents.{shadowed}]\ncommand = './evil'\n"));
            let err = Config::load(project, &environment, &Overrides::default()).unwrap_err();
            assert!(
                err.to_string().contains(&format!(
                    "[agents.{shadowed}] would change what the agent '{shadowed}' runs"
                )),
                "{err}"
            );
        }
    }

    #[test]
    fn loopback_urls() {
        for url in [
            "http://localhost:8080/v1",
            "http://127.0.0.1/v1",
            "http://[::1]:9/v1",
            "http://u:p@127.0.0.2",
        ] {
            assert!(is_loopback_url(url), "{url}");
        }
        for url in [
            "https://api.deepseek.com",
            "http://localhost.evil.example/v1",
            "http://127.0.0.1.evil.example",
            "http://10.0.0.1",
        ] {
            assert!(!is_loopback_url(url), "{url}");
        }
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
    fn terminal_scrollback_comes_from_its_table() {
        let lines = |text: &str| {
            let file = ConfigFile::parse(text).unwrap();
            Config::resolve(file, &env(&[("HOME", "/h")]), &Overrides::default())
                .unwrap()
                .terminal_scrollback_lines
        };
        assert_eq!(lines(""), DEFAULT_SCROLLBACK_LINES);
        assert_eq!(lines("[terminal]\nscrollback_lines = 500\n"), 500);
        assert_eq!(
            lines("[terminal]\nscrollback_lines = 99999999\n"),
            MAX_SCROLLBACK_LINES
        );
        assert!(ConfigFile::parse("[terminal]\nscrollback = 5\n").is_err());
    }

    #[test]
    fn workflow_limits_come_from_their_table() {
        let none = Config::resolve(
            ConfigFile::default(),
            &env(&[("HOME", "/h")]),
            &Overrides::default(),
        );
        assert_eq!(none.unwrap().workflow_limits, WorkerLimits::default());
        let file: ConfigFile = toml::from_str(
            "[workflow_limits]\ncpu_seconds = 5\nmemory_mb = 256\nresult_kb = 10\nlog_line_kb = 2\n",
        )
        .unwrap();
        let limits = Config::resolve(file, &env(&[("HOME", "/h")]), &Overrides::default())
            .unwrap()
            .workflow_limits;
        assert_eq!(limits.max_cpu_seconds, 5);
        assert_eq!(limits.max_memory_bytes, 256 * 1024 * 1024);
        assert_eq!(limits.max_result_bytes, 10 * 1024);
        assert_eq!(limits.max_log_bytes, 2 * 1024);
        assert!(toml::from_str::<ConfigFile>("[workflow_limits]\ncpu = 5\n").is_err());
    }

    #[test]
    fn api_key_command_gives_the_key_only_when_nothing_else_does() {
        let dir = tempfile::tempdir().unwrap();
        let user = dir.path().join("user.toml");
        let project = dir.path().join("project");
        std::fs::create_dir_all(project.join(".boocode")).unwrap();
        std::fs::write(
            &user,
            "api_key_command = 'printf \"  sk-from-command\\n\"'\n",
        )
        .unwrap();
        let mut e = env(&[("HOME", "/h")]);
        e.user_config = Some(user.clone());
        let mut c = Config::load(&project, &e, &Overrides::default()).unwrap();
        assert_eq!(c.api_key, None, "the command runs only when asked to");
        c.fetch_key_from_command().unwrap();
        assert_eq!(c.api_key.as_deref(), Some("sk-from-command"));
        assert!(c.missing_key_error().is_none());

        e.vars.insert("DEEPSEEK_API_KEY".into(), "sk-env".into());
        let mut c = Config::load(&project, &e, &Overrides::default()).unwrap();
        c.fetch_key_from_command().unwrap();
        assert_eq!(c.api_key.as_deref(), Some("sk-env"));

        std::fs::write(&user, "api_key_command = 'exit 3'\n").unwrap();
        e.vars.remove("DEEPSEEK_API_KEY");
        let mut c = Config::load(&project, &e, &Overrides::default()).unwrap();
        let err = c.fetch_key_from_command().unwrap_err().to_string();
        assert!(err.contains("exit 3") && err.contains("failed"), "{err}");

        std::fs::write(
            project.join(".boocode/config.toml"),
            "api_key_command = 'echo stolen'\n",
        )
        .unwrap();
        let err = Config::load(&project, &env(&[("HOME", "/h")]), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("only from the user config file"), "{err}");
    }

    #[test]
    fn the_users_instructions_sit_beside_their_config_and_the_cap_is_configurable() {
        let e = Environment {
            user_config: Some(PathBuf::from("/cfg/boocode/config.toml")),
            ..env(&[("HOME", "/h")])
        };
        let c = Config::resolve(ConfigFile::default(), &e, &Overrides::default()).unwrap();
        assert_eq!(c.user_config_dir, Some(PathBuf::from("/cfg/boocode")));
        assert_eq!(c.instructions_max_bytes, 32 * 1024);
        let file: ConfigFile = toml::from_str("instructions_max_bytes = 1000").unwrap();
        let c = Config::resolve(file, &e, &Overrides::default()).unwrap();
        assert_eq!(c.instructions_max_bytes, 1000);
    }

    #[test]
    fn every_bad_entry_of_a_file_is_reported() {
        let err = ConfigFile::parse("modle = 'x'\nmax_steps = 'many'\nmodel = 'ok'\n").unwrap_err();
        assert!(err.contains("modle: unknown field"), "{err}");
        assert!(err.contains("max_steps: invalid type"), "{err}");
        assert!(!err.contains("model:"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "aproval = 'auto'\nthinking = 3\n").unwrap();
        let err = ConfigFile::load(&path).unwrap_err().to_string();
        assert!(err.contains("config.toml: aproval: unknown field"), "{err}");
        assert!(err.contains("thinking: invalid type"), "{err}");
        let ok = ConfigFile::parse("model = 'm'\n[ui]\nmouse = true\n").unwrap();
        assert_eq!(ok.model.as_deref(), Some("m"));
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
