//! Running the `paseo` CLI the way the original platform's client did (`import`, `send`,
//! `inspect`, `stop`, `archive`, each with `--host` when configured) and reading what it
//! answers. Every call but `send` has a deadline: a daemon that does not answer fails the call
//! instead of hanging the chat. The configured host may carry a password
//! (`tcp://h:p?password=…`): such a host goes to paseo in `PASEO_HOST` (which paseo reads when
//! no `--host` is given) rather than on its command line, which every user of the machine can
//! read, and it never appears in an error: whatever paseo printed is shown with the host
//! masked.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{anyhow, Result};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdout};
use tokio::task::JoinHandle;

use crate::core::agents::registry::AgentSpec;
use crate::core::llm::types::Usage;
use crate::core::process::{self, ProcessGroup};

/// How much of paseo's output an error quotes.
const QUOTED_CHARS: usize = 300;
/// The most of paseo's stderr kept while `send` runs.
const STDERR_KEPT: usize = 8 * 1024;
/// What stands for the configured host in anything shown.
const MASKED_HOST: &str = "<host>";
/// Where paseo reads the daemon's address when no `--host` is given.
const HOST_VARIABLE: &str = "PASEO_HOST";
/// How long `boocode agents` waits for the daemon to answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The `paseo` CLI for one agent, run in one working directory.
pub struct PaseoCli {
    agent: String,
    program: String,
    host: Option<String>,
    env: BTreeMap<String, String>,
    cwd: PathBuf,
    timeout: Duration,
}

/// What `paseo inspect --json` says of an agent, as far as boocode uses it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inspection {
    pub status: Option<String>,
    pub model: Option<String>,
    pub mode: Option<String>,
    /// The usage of the agent's last turn.
    pub usage: Option<Usage>,
}

impl PaseoCli {
    /// The CLI of `spec` (its command, `--host`, environment), run in `cwd`; calls other than
    /// `send` may take `spec.startup_timeout`.
    pub fn new(spec: &AgentSpec, cwd: PathBuf) -> PaseoCli {
        PaseoCli {
            agent: spec.name.clone(),
            program: spec.command.clone(),
            host: spec.host.clone(),
            env: spec.env.clone(),
            cwd,
            timeout: spec.startup_timeout,
        }
    }

    /// The configured host when it holds a password: passed in [`HOST_VARIABLE`].
    fn secret_host(&self) -> Option<&str> {
        self.host.as_deref().filter(|h| h.contains("password="))
    }

    /// `SUBCOMMAND [--json] [--host H] REST…` (no `--host` for a host with a password).
    fn argv(&self, subcommand: &str, json: bool, rest: &[&str]) -> Vec<String> {
        let mut argv = vec![subcommand.to_string()];
        if json {
            argv.push("--json".into());
        }
        if let Some(host) = self.host.as_ref().filter(|_| self.secret_host().is_none()) {
            argv.extend(["--host".to_string(), host.clone()]);
        }
        argv.extend(rest.iter().map(|a| a.to_string()));
        argv
    }

    pub fn import_argv(&self, session: &str, provider: &str, chat_id: &str) -> Vec<String> {
        let chat_label = format!("chat={chat_id}");
        self.argv(
            "import",
            true,
            &[
                "--provider",
                provider,
                "--label",
                "origin=boocode",
                "--label",
                &chat_label,
                session,
            ],
        )
    }

    /// The prompt follows `--`: text starting with a dash is still the prompt, not an option.
    pub fn send_argv(&self, paseo_id: &str, prompt: &str) -> Vec<String> {
        self.argv("send", false, &["--", paseo_id, prompt])
    }

    pub fn inspect_argv(&self, paseo_id: &str) -> Vec<String> {
        self.argv("inspect", true, &[paseo_id])
    }

    pub fn stop_argv(&self, paseo_id: &str) -> Vec<String> {
        self.argv("stop", false, &[paseo_id])
    }

    pub fn archive_argv(&self, paseo_id: &str) -> Vec<String> {
        self.argv("archive", true, &[paseo_id])
    }

    /// Whether the daemon answers `paseo ls --json --limit 1` within a few seconds.
    pub async fn probe(&self) -> Result<()> {
        let argv = self.argv("ls", true, &["--limit", "1"]);
        self.run("ls", argv, PROBE_TIMEOUT).await.map(drop)
    }

    /// Imports a new agent for `chat_id` from provider session `session`; its id.
    pub async fn import(&self, session: &str, provider: &str, chat_id: &str) -> Result<String> {
        let answer = self
            .run_json("import", self.import_argv(session, provider, chat_id))
            .await?;
        agent_id(&answer).ok_or_else(|| {
            anyhow!(
                "agent '{}': `paseo import` named no agent id: {}",
                self.agent,
                self.quote(&answer.to_string())
            )
        })
    }

    pub async fn inspect(&self, paseo_id: &str) -> Result<Inspection> {
        let answer = self
            .run_json("inspect", self.inspect_argv(paseo_id))
            .await?;
        Ok(Inspection::from_json(&answer))
    }

    pub async fn stop(&self, paseo_id: &str) -> Result<()> {
        self.run("stop", self.stop_argv(paseo_id), self.timeout)
            .await
            .map(drop)
    }

    pub async fn archive(&self, paseo_id: &str) -> Result<()> {
        self.run_json("archive", self.archive_argv(paseo_id))
            .await
            .map(drop)
    }

    /// Starts `paseo send`: its output is read as it comes ([`Sending`]).
    pub fn send(&self, paseo_id: &str, prompt: &str) -> Result<Sending> {
        let (mut child, group) = self.spawn("send", &self.send_argv(paseo_id, prompt))?;
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            return Err(anyhow!(
                "agent '{}': paseo's output was not opened",
                self.agent
            ));
        };
        Ok(Sending {
            child,
            group,
            stdout: BufReader::new(stdout),
            stderr: tokio::spawn(read_tail(stderr)),
        })
    }

    fn spawn(&self, what: &str, argv: &[String]) -> Result<(Child, ProcessGroup)> {
        // A missing directory fails the spawn as a missing program would: say which it is.
        if !self.cwd.is_dir() {
            return Err(anyhow!(
                "agent '{}': its working directory {} does not exist",
                self.agent,
                self.cwd.display()
            ));
        }
        let mut command = tokio::process::Command::new(&self.program);
        command
            .args(argv)
            .envs(&self.env)
            .envs(self.secret_host().map(|h| (HOST_VARIABLE, h)))
            .current_dir(&self.cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        process::spawn(&mut command).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                anyhow!(
                    "agent '{}': {} not found (install Paseo, or set command in [agents.{}])",
                    self.agent,
                    self.program,
                    self.agent
                )
            } else {
                anyhow!(
                    "agent '{}': starting `paseo {what}` failed: {e}",
                    self.agent
                )
            }
        })
    }

    /// Runs a call to its end within `timeout`; its stdout.
    async fn run(&self, what: &str, argv: Vec<String>, timeout: Duration) -> Result<String> {
        let (child, _group) = self.spawn(what, &argv)?;
        // The group (and the call) is killed when `_group` drops, deadline or not.
        let output = tokio::time::timeout(timeout, child.wait_with_output())
            .await
            .map_err(|_| {
                anyhow!(
                    "agent '{}': `paseo {what}` did not answer within {} s (is the Paseo daemon running? `paseo daemon start`)",
                    self.agent,
                    timeout.as_secs()
                )
            })?
            .map_err(|e| anyhow!("agent '{}': `paseo {what}`: {e}", self.agent))?;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        if !output.status.success() {
            let said = String::from_utf8_lossy(&output.stderr);
            return Err(self.failed(what, output.status, &said, &stdout));
        }
        Ok(stdout)
    }

    async fn run_json(&self, what: &str, argv: Vec<String>) -> Result<Value> {
        let stdout = self.run(what, argv, self.timeout).await?;
        serde_json::from_str(stdout.trim()).map_err(|_| {
            let shown = match stdout.trim() {
                "" => "nothing".to_string(),
                text => self.quote(text),
            };
            anyhow!(
                "agent '{}': `paseo {what} --json` answered with something that is not JSON: {shown}",
                self.agent
            )
        })
    }

    fn failed(&self, what: &str, status: ExitStatus, stderr: &str, stdout: &str) -> anyhow::Error {
        let said = [stderr.trim(), stdout.trim()]
            .into_iter()
            .find(|s| !s.is_empty())
            .map(|s| format!(": {}", self.quote(s)))
            .unwrap_or_default();
        anyhow!(
            "agent '{}': `paseo {what}` failed ({status}){said}",
            self.agent
        )
    }

    /// The end of `text` (where an error says what went wrong), the host masked.
    fn quote(&self, text: &str) -> String {
        let masked = match self.host.as_deref().filter(|h| !h.is_empty()) {
            Some(host) => text.replace(host, MASKED_HOST),
            None => text.to_string(),
        };
        let count = masked.chars().count();
        if count <= QUOTED_CHARS {
            return masked;
        }
        let tail: String = masked.chars().skip(count - QUOTED_CHARS).collect();
        format!("…{tail}")
    }
}

/// A running `paseo send`.
pub struct Sending {
    child: Child,
    group: ProcessGroup,
    stdout: BufReader<ChildStdout>,
    stderr: JoinHandle<String>,
}

impl Sending {
    /// The next line paseo printed, without its line end; `None` at the end of its output.
    pub async fn next_line(&mut self) -> Option<String> {
        let mut line = Vec::new();
        match self.stdout.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => None,
            Ok(_) => {
                while matches!(line.last(), Some(b'\n' | b'\r')) {
                    line.pop();
                }
                Some(String::from_utf8_lossy(&line).into_owned())
            }
        }
    }

    /// Waits for paseo to exit; an error (with what it said) when it failed. Cancel-safe: it
    /// may be dropped and called again.
    pub async fn finish(&mut self, cli: &PaseoCli) -> Result<()> {
        let status = self
            .child
            .wait()
            .await
            .map_err(|e| anyhow!("agent '{}': `paseo send`: {e}", cli.agent))?;
        let stderr = (&mut self.stderr).await.unwrap_or_default();
        if status.success() {
            return Ok(());
        }
        Err(cli.failed("send", status, &stderr, ""))
    }

    /// Gives paseo `grace` to end by itself (after a `stop`), then kills it.
    pub async fn end(mut self, grace: Duration) {
        if tokio::time::timeout(grace, self.child.wait())
            .await
            .is_err()
        {
            self.group.kill();
        }
    }
}

/// The last [`STDERR_KEPT`] bytes of a stream, read to its end.
async fn read_tail(mut stream: impl AsyncRead + Unpin) -> String {
    let mut kept = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n @ 1..) = stream.read(&mut buf).await {
        kept.extend_from_slice(&buf[..n]);
        if kept.len() > STDERR_KEPT {
            kept.drain(..kept.len() - STDERR_KEPT);
        }
    }
    String::from_utf8_lossy(&kept).into_owned()
}

/// The object paseo answered, or the `data` it wraps.
fn payload(answer: &Value) -> &Value {
    match answer.get("data") {
        Some(data) if data.is_object() => data,
        _ => answer,
    }
}

/// The first of `names` that holds a string (paseo's JSON has said `agentId`, `id` and `Id`).
fn text_field(value: &Value, names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| value.get(*n).and_then(Value::as_str))
        .map(str::trim)
        .filter(|s| !s.is_empty() && *s != "-")
        .map(str::to_string)
}

/// The agent id in what `paseo import --json` answered.
pub fn agent_id(answer: &Value) -> Option<String> {
    text_field(payload(answer), &["agentId", "id", "Id"])
}

impl Inspection {
    pub fn from_json(answer: &Value) -> Inspection {
        let agent = payload(answer);
        let usage = ["lastUsage", "LastUsage"]
            .iter()
            .find_map(|n| agent.get(*n).filter(|u| u.is_object()))
            .map(|u| {
                let count = |names: &[&str]| {
                    names
                        .iter()
                        .find_map(|n| u.get(*n).and_then(Value::as_u64))
                        .unwrap_or(0)
                };
                let input = count(&["inputTokens", "InputTokens"]);
                let cached = count(&["cachedInputTokens", "CachedInputTokens"]);
                Usage {
                    prompt_tokens: input,
                    completion_tokens: count(&["outputTokens", "OutputTokens"]),
                    reasoning_tokens: 0,
                    cache_hit_tokens: cached,
                    cache_miss_tokens: input.saturating_sub(cached),
                }
            });
        Inspection {
            status: text_field(agent, &["status", "Status"]),
            model: text_field(agent, &["model", "Model"]),
            mode: text_field(agent, &["mode", "Mode", "currentModeId"]),
            usage,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::agents::registry::{Origin, Protocol};
    use serde_json::json;

    fn cli(host: Option<&str>) -> PaseoCli {
        PaseoCli::new(
            &AgentSpec {
                name: "remote".into(),
                protocol: Protocol::Paseo,
                command: "paseo".into(),
                args: Vec::new(),
                env: BTreeMap::new(),
                provider: Some("codex".into()),
                host: host.map(str::to_string),
                startup_timeout: Duration::from_secs(1),
                origin: Origin::Config,
            },
            PathBuf::from("/tmp"),
        )
    }

    #[test]
    fn calls_are_spelled_as_the_original_client_spelled_them() {
        let with_host = cli(Some("box:6767"));
        assert_eq!(
            with_host.import_argv("s-1", "codex", "c-1"),
            [
                "import",
                "--json",
                "--host",
                "box:6767",
                "--provider",
                "codex",
                "--label",
                "origin=boocode",
                "--label",
                "chat=c-1",
                "s-1"
            ]
        );
        assert_eq!(
            with_host.send_argv("pa-1", "-rf is a prompt"),
            [
                "send",
                "--host",
                "box:6767",
                "--",
                "pa-1",
                "-rf is a prompt"
            ]
        );
        assert_eq!(
            with_host.inspect_argv("pa-1"),
            ["inspect", "--json", "--host", "box:6767", "pa-1"]
        );
        assert_eq!(
            with_host.stop_argv("pa-1"),
            ["stop", "--host", "box:6767", "pa-1"]
        );
        assert_eq!(
            with_host.archive_argv("pa-1"),
            ["archive", "--json", "--host", "box:6767", "pa-1"]
        );
        let local = cli(None);
        assert_eq!(local.stop_argv("pa-1"), ["stop", "pa-1"]);
        assert_eq!(local.inspect_argv("pa-1"), ["inspect", "--json", "pa-1"]);
    }

    #[test]
    fn a_host_with_a_password_stays_off_the_command_line() {
        let secret = cli(Some("tcp://box:6767?ssl=true&password=hunter2"));
        assert_eq!(secret.stop_argv("pa-1"), ["stop", "pa-1"]);
        assert_eq!(
            secret.secret_host(),
            Some("tcp://box:6767?ssl=true&password=hunter2")
        );
        assert_eq!(cli(Some("box:6767")).secret_host(), None);
    }

    #[test]
    fn the_agent_id_is_read_from_every_shape_paseo_has_answered_with() {
        assert_eq!(
            agent_id(&json!({"agentId": "a1", "status": "created"})),
            Some("a1".into())
        );
        assert_eq!(agent_id(&json!({"Id": "a2"})), Some("a2".into()));
        assert_eq!(
            agent_id(&json!({"type": "single", "data": {"id": "a3"}})),
            Some("a3".into())
        );
        assert_eq!(agent_id(&json!({"agentId": ""})), None);
        assert_eq!(agent_id(&json!([1, 2])), None);
    }

    #[test]
    fn inspection_reads_status_model_mode_and_last_usage() {
        let seen = Inspection::from_json(&json!({
            "id": "a1", "status": "idle", "model": "gpt-5", "mode": "auto",
            "lastUsage": {"inputTokens": 100, "outputTokens": 20, "cachedInputTokens": 40}
        }));
        assert_eq!(seen.status.as_deref(), Some("idle"));
        assert_eq!(seen.model.as_deref(), Some("gpt-5"));
        assert_eq!(seen.mode.as_deref(), Some("auto"));
        let usage = seen.usage.unwrap();
        assert_eq!(
            (
                usage.prompt_tokens,
                usage.completion_tokens,
                usage.cache_hit_tokens,
                usage.cache_miss_tokens
            ),
            (100, 20, 40, 60)
        );
        // The older PascalCase shape; "-" means the daemon does not know.
        let old = Inspection::from_json(&json!({"Id": "a1", "Status": "running", "Model": "-"}));
        assert_eq!(old.status.as_deref(), Some("running"));
        assert_eq!(old.model, None);
        assert_eq!(old.usage, None);
    }

    #[test]
    fn errors_quote_paseo_with_the_host_masked() {
        let c = cli(Some("tcp://box:6767?password=hunter2"));
        let e = c.quote("Cannot connect to daemon at tcp://box:6767?password=hunter2: refused");
        assert_eq!(e, "Cannot connect to daemon at <host>: refused");
        let long = "x".repeat(QUOTED_CHARS + 50) + "the end";
        let quoted = c.quote(&long);
        assert!(quoted.starts_with('…') && quoted.ends_with("the end"));
        assert_eq!(quoted.chars().count(), QUOTED_CHARS + 1);
    }
}
