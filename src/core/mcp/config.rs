//! Where MCP servers are defined: `[mcp_servers.NAME]` in the user's config (trusted: the user
//! wrote it), and the project's `.boocode/config.toml` and `.mcp.json` (Claude Code's format),
//! which a repository controls and which therefore run only once a person approved them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, Result};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::core::config::Config;
use crate::core::llm::provider;
use crate::core::trust;

pub const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_TOOL_TIMEOUT: Duration = Duration::from_secs(60);
/// The project file Claude Code reads project servers from.
pub const MCP_JSON: &str = ".mcp.json";

/// `[mcp_servers.NAME]` in a config file.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpServerFile {
    /// Program of a stdio server.
    pub command: Option<String>,
    #[serde(default)]
    pub args: Vec<String>,
    /// Environment for a stdio server; values may use `${VAR}` from boocode's environment.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Endpoint of a streamable HTTP server; may use `${VAR}`.
    pub url: Option<String>,
    /// HTTP headers; values may use `${VAR}`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub enabled: Option<bool>,
    /// Its tools may run in read-only mode (honoured in the user's own config only).
    pub read_only_trusted: Option<bool>,
    pub startup_timeout_secs: Option<u64>,
    pub tool_timeout_secs: Option<u64>,
}

/// One entry of `.mcp.json`'s `mcpServers`.
#[derive(Debug, Default, Clone, Deserialize)]
struct McpJsonEntry {
    #[serde(rename = "type")]
    kind: Option<String>,
    command: Option<String>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    url: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct McpJson {
    #[serde(rename = "mcpServers", default)]
    servers: BTreeMap<String, Value>,
}

/// Where a server definition came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerSource {
    UserConfig,
    /// A file of the project (`.mcp.json` or `.boocode/config.toml`): needs approval.
    Project(PathBuf),
}

impl ServerSource {
    pub fn is_project(&self) -> bool {
        matches!(self, ServerSource::Project(_))
    }

    pub fn describe(&self) -> String {
        match self {
            ServerSource::UserConfig => "user config".into(),
            ServerSource::Project(path) => format!("project ({})", path.display()),
        }
    }
}

/// How boocode talks to a server. Values are as written: `${VAR}` is expanded only when the
/// server starts, so definitions (and their fingerprints) never hold the environment's secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    Stdio {
        command: String,
        args: Vec<String>,
        env: BTreeMap<String, String>,
    },
    Http {
        url: String,
        headers: BTreeMap<String, String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServerDefinition {
    pub name: String,
    pub source: ServerSource,
    /// `Err` holds why the entry cannot be used (listed, never started).
    pub transport: Result<Transport, String>,
    pub enabled: bool,
    pub read_only_trusted: bool,
    pub startup_timeout: Duration,
    pub tool_timeout: Duration,
}

impl ServerDefinition {
    /// What a person approves for a project server: everything that decides what runs, so a
    /// changed command, argument, environment entry, URL or header is asked about again.
    pub fn fingerprint(&self) -> String {
        let definition = match &self.transport {
            Ok(Transport::Stdio { command, args, env }) => {
                json!({"command": command, "args": args, "env": env})
            }
            Ok(Transport::Http { url, headers }) => json!({"url": url, "headers": headers}),
            Err(e) => json!({"invalid": e}),
        };
        trust::fingerprint(&definition)
    }
}

fn transport_of(
    command: Option<String>,
    args: Vec<String>,
    env: BTreeMap<String, String>,
    url: Option<String>,
    headers: BTreeMap<String, String>,
) -> Result<Transport, String> {
    match (command, url) {
        (Some(command), None) if !command.trim().is_empty() => {
            Ok(Transport::Stdio { command, args, env })
        }
        (None, Some(url)) if url.starts_with("http://") || url.starts_with("https://") => {
            Ok(Transport::Http { url, headers })
        }
        (None, Some(url)) => Err(format!("url '{url}' is not an http(s) URL")),
        (Some(_), Some(_)) => Err("give either command (stdio) or url (HTTP), not both".into()),
        _ => Err("needs command (stdio) or url (streamable HTTP)".into()),
    }
}

fn from_file(
    name: &str,
    file: McpServerFile,
    source: ServerSource,
    trusted_layer: bool,
) -> ServerDefinition {
    ServerDefinition {
        name: name.to_string(),
        source,
        enabled: file.enabled.unwrap_or(true),
        read_only_trusted: trusted_layer && file.read_only_trusted.unwrap_or(false),
        startup_timeout: file
            .startup_timeout_secs
            .map_or(DEFAULT_STARTUP_TIMEOUT, |s| Duration::from_secs(s.max(1))),
        tool_timeout: file
            .tool_timeout_secs
            .map_or(DEFAULT_TOOL_TIMEOUT, |s| Duration::from_secs(s.max(1))),
        transport: transport_of(file.command, file.args, file.env, file.url, file.headers),
    }
}

/// Reads `.mcp.json`; a missing file is no servers, an unreadable one an error.
fn read_mcp_json(path: &Path) -> Result<Vec<ServerDefinition>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(anyhow!("reading {}: {e}", path.display())),
    };
    let file: McpJson =
        serde_json::from_str(&text).map_err(|e| anyhow!("invalid {}: {e}", path.display()))?;
    Ok(file
        .servers
        .into_iter()
        .map(|(name, raw)| {
            let source = ServerSource::Project(path.to_path_buf());
            let transport = serde_json::from_value::<McpJsonEntry>(raw)
                .map_err(|e| e.to_string())
                .and_then(|e| match e.kind.as_deref() {
                    None | Some("stdio" | "http" | "streamable-http") => {
                        transport_of(e.command, e.args, e.env, e.url, e.headers)
                    }
                    Some(other) => Err(format!("type '{other}' is not supported (stdio or http)")),
                });
            ServerDefinition {
                name,
                source,
                transport,
                enabled: true,
                read_only_trusted: false,
                startup_timeout: DEFAULT_STARTUP_TIMEOUT,
                tool_timeout: DEFAULT_TOOL_TIMEOUT,
            }
        })
        .collect())
}

/// Every server boocode knows of in this project, user config first. A name the user defined
/// hides a project server of the same name; the project's config.toml hides `.mcp.json`.
/// The second value lists files that could not be read.
pub fn discover(config: &Config, project_root: &Path) -> (Vec<ServerDefinition>, Vec<String>) {
    let mut servers: Vec<ServerDefinition> = Vec::new();
    let mut problems = Vec::new();
    let mut add = |def: ServerDefinition| {
        if !servers.iter().any(|s| s.name == def.name) {
            servers.push(def);
        }
    };
    for (name, file) in &config.mcp_servers {
        add(from_file(
            name,
            file.clone(),
            ServerSource::UserConfig,
            true,
        ));
    }
    let project_config = project_root.join(".boocode/config.toml");
    for (name, file) in &config.project_mcp_servers {
        let source = ServerSource::Project(project_config.clone());
        add(from_file(name, file.clone(), source, false));
    }
    match read_mcp_json(&project_root.join(MCP_JSON)) {
        Ok(defs) => defs.into_iter().for_each(add),
        Err(e) => problems.push(format!("{e:#}")),
    }
    (servers, problems)
}

/// Expands `${VAR}` (and `${VAR:-default}`) from `lookup`, as Claude Code does. Provider keys
/// never expand: a server must not see them.
pub fn expand_vars(
    value: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unclosed ${{ in '{value}'"))?;
        let expr = &after[..end];
        let (var, default) = match expr.split_once(":-") {
            Some((v, d)) => (v, Some(d)),
            None => (expr, None),
        };
        if provider::key_variables().contains(&var) {
            return Err(format!(
                "${{{var}}} is a model provider key, which MCP servers never receive"
            ));
        }
        match lookup(var).or_else(|| default.map(str::to_string)) {
            Some(v) => out.push_str(&v),
            None => return Err(format!("${{{var}}} is not set")),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(var: &str) -> Option<String> {
        (var == "TOKEN").then(|| "t0k".to_string())
    }

    #[test]
    fn vars_expand_with_defaults_and_unset_ones_are_errors() {
        assert_eq!(
            expand_vars("Bearer ${TOKEN}", lookup).unwrap(),
            "Bearer t0k"
        );
        assert_eq!(expand_vars("${NOPE:-x}/y", lookup).unwrap(), "x/y");
        assert!(expand_vars("${NOPE}", lookup).unwrap_err().contains("NOPE"));
        assert!(expand_vars("${TOKEN", lookup).is_err());
    }

    #[test]
    fn provider_keys_never_expand() {
        let key = provider::key_variables()[0];
        let err = expand_vars(&format!("${{{key}}}"), |_| Some("secret".into())).unwrap_err();
        assert!(err.contains("never receive"), "{err}");
    }

    #[test]
    fn mcp_json_in_claude_code_format() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(MCP_JSON),
            r#"{"mcpServers": {
                "fs": {"command": "srv", "args": ["-v"], "env": {"A": "1"}},
                "web": {"type": "http", "url": "http://127.0.0.1:1/mcp", "headers": {"X": "y"}},
                "old": {"type": "sse", "url": "http://h/sse"},
                "empty": {}
            }}"#,
        )
        .unwrap();
        let defs = read_mcp_json(&dir.path().join(MCP_JSON)).unwrap();
        let by = |n: &str| defs.iter().find(|d| d.name == n).unwrap();
        assert_eq!(
            by("fs").transport,
            Ok(Transport::Stdio {
                command: "srv".into(),
                args: vec!["-v".into()],
                env: BTreeMap::from([("A".into(), "1".into())]),
            })
        );
        assert!(matches!(by("web").transport, Ok(Transport::Http { .. })));
        assert!(by("old").transport.as_ref().unwrap_err().contains("sse"));
        assert!(by("empty").transport.is_err());
        assert!(defs.iter().all(|d| d.source.is_project()));
    }

    #[test]
    fn fingerprint_changes_with_what_runs() {
        let base = from_file(
            "x",
            McpServerFile {
                command: Some("srv".into()),
                ..Default::default()
            },
            ServerSource::UserConfig,
            true,
        );
        let mut changed = base.clone();
        changed.transport = Ok(Transport::Stdio {
            command: "srv".into(),
            args: vec![],
            env: BTreeMap::from([("NODE_OPTIONS".into(), "--require ./x.js".into())]),
        });
        assert_ne!(base.fingerprint(), changed.fingerprint());
        let mut retimed = base.clone();
        retimed.tool_timeout = Duration::from_secs(1);
        assert_eq!(base.fingerprint(), retimed.fingerprint());
    }
}
