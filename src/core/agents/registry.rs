//! The agents boocode can hand work to besides its own loop: presets plus `[agents.NAME]` from
//! the config. Nothing here starts an agent; [`availability`] only looks for its program.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// How boocode talks to an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// The Agent Client Protocol: JSON-RPC over the agent's stdin/stdout.
    Acp,
    /// A terminal program run in a terminal pane.
    Pty,
    /// An agent managed by a Paseo daemon, through the `paseo` CLI.
    Paseo,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Acp => "acp",
            Protocol::Pty => "pty",
            Protocol::Paseo => "paseo",
        }
    }
}

/// `[agents.NAME]` in a config file.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentFile {
    pub protocol: Option<Protocol>,
    pub command: Option<String>,
    pub args: Option<Vec<String>>,
    pub env: Option<BTreeMap<String, String>>,
    /// Paseo: the provider the daemon runs (`claude`, `codex`, …).
    pub provider: Option<String>,
    /// Paseo: the daemon to talk to (`--host`).
    pub host: Option<String>,
    /// Paseo: an existing provider session the chat adopts (`paseo import`) instead of a new
    /// agent started with `paseo run`.
    pub session: Option<String>,
    /// How long the agent may take to answer `initialize` (default 30 s).
    pub startup_timeout_secs: Option<u64>,
    /// Set by the config loader for `[agents.NAME]` of the project's own config file (never
    /// read from a file): such an agent runs only once the person approved it here.
    #[serde(skip)]
    pub from_project: bool,
}

/// Where an agent's definition comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    Preset,
    /// The user's own config file.
    Config,
    /// The project's `.boocode/config.toml`: needs the person's approval in this project.
    Project,
}

/// One agent, ready to be started.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentSpec {
    pub name: String,
    pub protocol: Protocol,
    pub command: String,
    pub args: Vec<String>,
    /// Added to the agent's environment. Values may be secrets: never shown or stored.
    pub env: BTreeMap<String, String>,
    pub provider: Option<String>,
    pub host: Option<String>,
    /// Paseo: the provider session to import (see [`AgentFile::session`]).
    pub session: Option<String>,
    pub startup_timeout: Duration,
    pub origin: Origin,
}

/// The placeholder in a terminal agent's arguments that becomes the task text.
pub const TASK_PLACEHOLDER: &str = "{task}";
const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// The presets, from the ACP registry and the terminal CLIs' own documentation.
const PRESETS: &[(&str, Protocol, &str, &[&str])] = &[
    (
        "claude",
        Protocol::Acp,
        "npx",
        &["-y", "@agentclientprotocol/claude-agent-acp"],
    ),
    (
        "codex",
        Protocol::Acp,
        "npx",
        &["-y", "@agentclientprotocol/codex-acp"],
    ),
    ("gemini", Protocol::Acp, "gemini", &["--acp"]),
    ("opencode", Protocol::Acp, "opencode", &["acp"]),
    (
        "aider",
        Protocol::Pty,
        "aider",
        &["--message", TASK_PLACEHOLDER, "--yes-always"],
    ),
    (
        "claude-cli",
        Protocol::Pty,
        "claude",
        &["-p", TASK_PLACEHOLDER],
    ),
];

/// Whether `name` is one of the presets.
pub fn is_preset(name: &str) -> bool {
    PRESETS.iter().any(|(n, ..)| *n == name)
}

/// Every agent: the presets, then the configured ones (a configured agent with a preset's name
/// replaces the preset, keeping what it does not set).
pub fn agents(configured: &BTreeMap<String, AgentFile>) -> Result<Vec<AgentSpec>> {
    let mut all: BTreeMap<String, AgentSpec> = PRESETS
        .iter()
        .map(|(name, protocol, command, args)| {
            let spec = AgentSpec {
                name: name.to_string(),
                protocol: *protocol,
                command: command.to_string(),
                args: args.iter().map(|a| a.to_string()).collect(),
                env: BTreeMap::new(),
                provider: None,
                host: None,
                session: None,
                startup_timeout: DEFAULT_STARTUP_TIMEOUT,
                origin: Origin::Preset,
            };
            (name.to_string(), spec)
        })
        .collect();
    for (name, file) in configured {
        let spec = match all.remove(name) {
            Some(preset) => AgentSpec {
                protocol: file.protocol.unwrap_or(preset.protocol),
                command: file.command.clone().unwrap_or(preset.command),
                args: file.args.clone().unwrap_or(preset.args),
                ..preset
            },
            None => {
                let protocol = file.protocol.ok_or_else(|| {
                    anyhow::anyhow!("[agents.{name}]: protocol is required (acp, pty or paseo)")
                })?;
                let command = match (&file.command, protocol) {
                    (Some(c), _) => c.clone(),
                    (None, Protocol::Paseo) => "paseo".to_string(),
                    (None, _) => bail!("[agents.{name}]: command is required"),
                };
                AgentSpec {
                    name: name.clone(),
                    protocol,
                    command,
                    args: file.args.clone().unwrap_or_default(),
                    env: BTreeMap::new(),
                    provider: None,
                    host: None,
                    session: None,
                    startup_timeout: DEFAULT_STARTUP_TIMEOUT,
                    origin: Origin::Config,
                }
            }
        };
        if spec.protocol == Protocol::Paseo && file.provider.is_none() {
            bail!("[agents.{name}]: a paseo agent needs provider (claude, codex, …)");
        }
        let session = file.session.as_deref().map(str::trim);
        match session {
            Some(_) if spec.protocol != Protocol::Paseo => bail!(
                "[agents.{name}]: session is the provider session a paseo agent imports; this agent's protocol is {}",
                spec.protocol.as_str()
            ),
            Some("") => bail!("[agents.{name}]: session is empty (remove it to start new conversations)"),
            _ => {}
        }
        let spec = AgentSpec {
            env: file.env.clone().unwrap_or_default(),
            provider: file.provider.clone(),
            host: file.host.clone(),
            session: session.map(str::to_string),
            startup_timeout: file
                .startup_timeout_secs
                .map_or(DEFAULT_STARTUP_TIMEOUT, |s| Duration::from_secs(s.max(1))),
            origin: if file.from_project {
                Origin::Project
            } else {
                Origin::Config
            },
            ..spec
        };
        all.insert(name.clone(), spec);
    }
    Ok(all.into_values().collect())
}

/// The agent called `name`.
pub fn find(configured: &BTreeMap<String, AgentFile>, name: &str) -> Result<AgentSpec> {
    let all = agents(configured)?;
    let names: Vec<String> = all.iter().map(|a| a.name.clone()).collect();
    all.into_iter().find(|a| a.name == name).ok_or_else(|| {
        anyhow::anyhow!(
            "unknown agent '{name}'; known agents: {} (add [agents.{name}] to the config)",
            names.join(", ")
        )
    })
}

impl AgentSpec {
    /// The arguments with `{task}` replaced by `task`. Each argument stays one argument
    /// whatever the task holds: no shell ever sees it.
    pub fn arguments(&self, task: &str) -> Vec<String> {
        self.args
            .iter()
            .map(|a| a.replace(TASK_PLACEHOLDER, task))
            .collect()
    }

    /// The command line as shown to a person: the program and its arguments.
    pub fn command_line(&self) -> String {
        std::iter::once(self.command.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Whether an agent can run here, and why not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Availability {
    pub available: bool,
    /// The program found, or why the agent is not available.
    pub detail: String,
}

/// Finds `program` the way `execvp` would: a path as given, else the first executable file of
/// that name in `PATH`.
pub fn find_program(program: &str, path_var: Option<&str>) -> Option<PathBuf> {
    let executable = |p: &Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let p = PathBuf::from(program);
        return executable(&p).then_some(p);
    }
    std::env::split_paths(path_var?)
        .map(|dir| dir.join(program))
        .find(|p| executable(p))
}

/// Whether `spec` is available here, without starting it: its program is found; for a Paseo
/// agent, the daemon also answers `paseo ls --json` within a few seconds (with the host given
/// as every other paseo call gives it).
pub async fn availability(spec: &AgentSpec) -> Availability {
    let path_var = std::env::var("PATH").ok();
    let Some(program) = find_program(&spec.command, path_var.as_deref()) else {
        return Availability {
            available: false,
            detail: format!("{} not found", spec.command),
        };
    };
    if spec.protocol != Protocol::Paseo {
        return Availability {
            available: true,
            detail: program.to_string_lossy().into_owned(),
        };
    }
    let answered = super::paseo::cli::PaseoCli::new(spec, PathBuf::from("."))
        .probe()
        .await
        .map_err(|e| format!("{e:#}"));
    match answered {
        Ok(()) => Availability {
            available: true,
            detail: program.to_string_lossy().into_owned(),
        },
        Err(detail) => Availability {
            available: false,
            detail,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn configured(text: &str) -> BTreeMap<String, AgentFile> {
        toml::from_str::<BTreeMap<String, BTreeMap<String, AgentFile>>>(text)
            .unwrap()
            .remove("agents")
            .unwrap_or_default()
    }

    #[test]
    fn presets_are_the_documented_commands() {
        let all = agents(&BTreeMap::new()).unwrap();
        let line = |name: &str| {
            let a = all.iter().find(|a| a.name == name).unwrap();
            (a.protocol, a.command_line())
        };
        assert_eq!(
            line("claude"),
            (
                Protocol::Acp,
                "npx -y @agentclientprotocol/claude-agent-acp".into()
            )
        );
        assert_eq!(
            line("codex"),
            (
                Protocol::Acp,
                "npx -y @agentclientprotocol/codex-acp".into()
            )
        );
        assert_eq!(line("gemini"), (Protocol::Acp, "gemini --acp".into()));
        assert_eq!(line("opencode"), (Protocol::Acp, "opencode acp".into()));
        assert_eq!(
            line("aider"),
            (Protocol::Pty, "aider --message {task} --yes-always".into())
        );
        assert_eq!(
            line("claude-cli"),
            (Protocol::Pty, "claude -p {task}".into())
        );
    }

    #[test]
    fn config_adds_agents_and_overrides_presets() {
        let all = agents(&configured(
            r#"
            [agents.mine]
            protocol = "acp"
            command = "/opt/mine"
            args = ["--stdio"]
            env = { MINE_TOKEN = "t" }
            [agents.gemini]
            command = "/usr/local/bin/gemini"
            [agents.remote]
            protocol = "paseo"
            provider = "codex"
            host = "box:6767"
            "#,
        ))
        .unwrap();
        let mine = all.iter().find(|a| a.name == "mine").unwrap();
        assert_eq!(mine.command_line(), "/opt/mine --stdio");
        assert_eq!(mine.env.get("MINE_TOKEN").map(String::as_str), Some("t"));
        let gemini = all.iter().find(|a| a.name == "gemini").unwrap();
        assert_eq!(gemini.command_line(), "/usr/local/bin/gemini --acp");
        assert_eq!(gemini.origin, Origin::Config);
        let remote = all.iter().find(|a| a.name == "remote").unwrap();
        assert_eq!(remote.command, "paseo");
        assert_eq!(remote.host.as_deref(), Some("box:6767"));
    }

    #[test]
    fn a_configured_agent_must_say_how_to_start_it() {
        let e = agents(&configured("[agents.x]\ncommand = \"x\"\n")).unwrap_err();
        assert!(e.to_string().contains("protocol is required"), "{e}");
        let e = agents(&configured("[agents.p]\nprotocol = \"paseo\"\n")).unwrap_err();
        assert!(e.to_string().contains("provider"), "{e}");
    }

    #[test]
    fn only_a_paseo_agent_imports_a_session() {
        let all = agents(&configured(
            "[agents.p]\nprotocol = \"paseo\"\nprovider = \"claude\"\nsession = \" s-1 \"\n",
        ))
        .unwrap();
        let p = all.iter().find(|a| a.name == "p").unwrap();
        assert_eq!(p.session.as_deref(), Some("s-1"));
        let e = agents(&configured(
            "[agents.a]\nprotocol = \"acp\"\ncommand = \"a\"\nsession = \"s-1\"\n",
        ))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "[agents.a]: session is the provider session a paseo agent imports; this agent's protocol is acp"
        );
        let e = agents(&configured("[agents.codex]\nsession = \"s-1\"\n")).unwrap_err();
        assert!(e.to_string().contains("protocol is acp"), "{e}");
        let e = agents(&configured(
            "[agents.p]\nprotocol = \"paseo\"\nprovider = \"claude\"\nsession = \" \"\n",
        ))
        .unwrap_err();
        assert!(e.to_string().contains("session is empty"), "{e}");
    }

    #[test]
    fn the_task_stays_one_argument_whatever_it_holds() {
        let all = agents(&BTreeMap::new()).unwrap();
        let aider = all.iter().find(|a| a.name == "aider").unwrap();
        let task = "fix it; rm -rf / \"$(whoami)\" 'x'";
        assert_eq!(
            aider.arguments(task),
            vec!["--message", task, "--yes-always"]
        );
    }

    #[test]
    fn programs_are_found_on_the_path_only_when_executable() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("agent-x");
        std::fs::write(&exe, "#!/bin/sh\n").unwrap();
        let path = dir.path().to_string_lossy().into_owned();
        assert_eq!(find_program("agent-x", Some(&path)), None);
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(find_program("agent-x", Some(&path)), Some(exe.clone()));
        assert_eq!(find_program(&exe.to_string_lossy(), None), Some(exe));
        assert_eq!(find_program("agent-y", Some(&path)), None);
    }
}
