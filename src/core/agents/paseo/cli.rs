//! Running the `paseo` CLI as it really behaves (its source: packages/cli/src in
//! getpaseo/paseo) and reading what it answers. Every subcommand takes `--host` after its name
//! (`paseo send --json --host H …`); the JSON of `--json` is pretty-printed over several lines;
//! a command that fails prints `Error: MESSAGE` and a hint (with `--json`, `{"error": {code,
//! message, details}}`) on stderr and exits 1, e.g. DAEMON_NOT_RUNNING `Cannot connect to
//! daemon at HOST: …` with `Start the daemon with: paseo daemon start`.
//!
//! - `run --json --detach --provider P --cwd DIR --label k=v… -- PROMPT` creates an agent and
//!   starts its first turn on PROMPT (commands/agent/run.ts: `<prompt>` is its only way in, no
//!   `--prompt-file`), answering once the turn has started with `{agentId, status, provider,
//!   cwd, title}` (status `running` or `created`). `--` ends the options (commander honours
//!   it), so a prompt starting with `-` stays the prompt. A prompt longer than one argument may
//!   be ([`MAX_ARGUMENT_BYTES`]) is refused before anything is created, and while `run` lasts
//!   (until the daemon has the agent) its command line, the first prompt with it, is readable
//!   by other users of the machine; later prompts go by file. Without `--title` the daemon
//!   names the agent after the prompt; the labels say whose it is.
//! - `import --json --provider P --cwd DIR --label k=v… SESSION` adopts the provider's
//!   EXISTING session SESSION (the daemon's `handleImportAgentRequest` resumes it; Claude fails
//!   the first turn of a session it does not have: "No conversation found with session ID"),
//!   answering as `run` does. The daemon runs the agent in `--cwd`, not in the CLI's directory.
//! - `send --json --prompt-file F ID` sends, then waits up to 10 minutes for the agent's turn
//!   to end and answers one row `{agentId, status, message}`, status `completed`, `error`,
//!   `timeout` or `permission` — exit 0 for all four; never the agent's words. The prompt goes
//!   in a private file: on the command line a prompt starting with `-` would be taken for an
//!   option, a long one would exceed the argument limit, and every user of the machine could
//!   read it.
//! - `wait --json --timeout 10m ID` (commands/agent/wait.ts) waits for the agent's turn to end
//!   and answers the same row, status `idle` (read as `completed`), `error`, `timeout` or
//!   `permission`, exit 0 for all four; without `--timeout` it would wait forever.
//! - `logs -f --tail N ID` prints the last N entries of the curated transcript (merged as
//!   `logs ID` merges them), a banner, then every new timeline item as it comes, until SIGINT
//!   or SIGTERM; `logs ID` prints the whole curated transcript ([`super::transcript`]).
//! - `inspect --json ID` answers PascalCase fields: `Status`, `Model` (`-` when unknown),
//!   `Mode`, `LastUsage {InputTokens, OutputTokens, CachedTokens, CostUsd}`,
//!   `PendingPermissions [{id, tool}]`.
//! - `stop ID` interrupts the agent; `archive --json ID` archives it; `ls --json` lists agents
//!   (it has no `--limit`: commander refuses an unknown option).
//!
//! Every call but `send` and the follower has a deadline: a daemon that does not answer fails
//! the call instead of hanging the chat. The configured host may carry a password
//! (`tcp://h:p?password=…`): such a host goes to paseo in `PASEO_HOST` (which paseo reads when
//! no `--host` is given) rather than on its command line, which every user of the machine can
//! read, and it never appears in an error: whatever paseo printed is shown with the host
//! masked.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdout};
use tokio::task::JoinHandle;

use super::transcript::is_follow_banner;
use crate::core::agents::registry::AgentSpec;
use crate::core::llm::types::Usage;
use crate::core::private_fs;
use crate::core::process::{self, ProcessGroup};
use crate::core::store::new_id;

/// How much of paseo's output an error quotes.
const QUOTED_CHARS: usize = 300;
/// The most of a running call's stdout and stderr kept.
const OUTPUT_KEPT: usize = 8 * 1024;
/// What stands for the configured host in anything shown.
const MASKED_HOST: &str = "<host>";
/// Where paseo reads the daemon's address when no `--host` is given.
const HOST_VARIABLE: &str = "PASEO_HOST";
/// How long `boocode agents` waits for the daemon to answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `paseo wait` waits for a turn, as long as `paseo send` does.
const WAIT_TIMEOUT: &str = "10m";
/// The longest argument Linux passes to a program (MAX_ARG_STRLEN, 32 pages, with its NUL).
pub const MAX_ARGUMENT_BYTES: usize = 128 * 1024 - 1;
/// `--tail` for the whole timeline of a new agent (paseo has no "all").
pub const WHOLE_TIMELINE: usize = 1_000_000;

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
    /// The tools waiting for a person's permission.
    pub pending_permissions: Vec<String>,
}

/// What `paseo send --json` or `paseo wait --json` answered when the agent's turn ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnResult {
    /// The call that answered: `send` or `wait`.
    pub call: &'static str,
    /// `completed` (wait's `idle`), `error`, `timeout`, `permission`.
    pub status: String,
    pub message: String,
}

impl PaseoCli {
    /// The CLI of `spec` (its command, `--host`, environment), run in `cwd`; calls other than
    /// `send` and the follower may take `spec.startup_timeout`.
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

    /// How long a call may take to answer.
    pub fn timeout(&self) -> Duration {
        self.timeout
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
        self.creating_argv("import", &[], provider, chat_id, &[session])
    }

    pub fn run_argv(&self, provider: &str, chat_id: &str, prompt: &str) -> Vec<String> {
        self.creating_argv("run", &["--detach"], provider, chat_id, &["--", prompt])
    }

    /// `SUBCOMMAND --json [--host H] LEADING… --provider P --cwd DIR --label origin=boocode
    /// --label chat=ID TRAILING…`: the chat's agent made by `run` or `import`.
    fn creating_argv(
        &self,
        subcommand: &str,
        leading: &[&str],
        provider: &str,
        chat_id: &str,
        trailing: &[&str],
    ) -> Vec<String> {
        let chat_label = format!("chat={chat_id}");
        let cwd = self.cwd.to_string_lossy();
        let labelled = [
            "--provider",
            provider,
            "--cwd",
            &cwd,
            "--label",
            "origin=boocode",
            "--label",
            &chat_label,
        ];
        self.argv(subcommand, true, &[leading, &labelled, trailing].concat())
    }

    pub fn wait_argv(&self, paseo_id: &str) -> Vec<String> {
        self.argv("wait", true, &["--timeout", WAIT_TIMEOUT, paseo_id])
    }

    pub fn send_argv(&self, paseo_id: &str, prompt_file: &Path) -> Vec<String> {
        let file = prompt_file.to_string_lossy();
        self.argv("send", true, &["--prompt-file", &file, paseo_id])
    }

    pub fn follow_argv(&self, paseo_id: &str, tail: usize) -> Vec<String> {
        let tail = tail.to_string();
        self.argv("logs", false, &["--follow", "--tail", &tail, paseo_id])
    }

    pub fn logs_argv(&self, paseo_id: &str) -> Vec<String> {
        self.argv("logs", false, &[paseo_id])
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

    /// Whether the daemon answers `paseo ls --json` within a few seconds.
    pub async fn probe(&self) -> Result<()> {
        let argv = self.argv("ls", true, &[]);
        self.run("ls", argv, PROBE_TIMEOUT).await.map(drop)
    }

    /// Creates an agent for `chat_id` working in this CLI's directory and starts its first
    /// turn on `prompt` (`paseo run --detach`); its id.
    pub async fn create(&self, provider: &str, chat_id: &str, prompt: &str) -> Result<String> {
        if prompt.len() > MAX_ARGUMENT_BYTES {
            return Err(anyhow!(
                "agent '{}': a new Paseo agent gets its first message on `paseo run`'s command line, which takes at most {} KB; this one has {} KB: send a shorter first message (later ones have no such limit)",
                self.agent,
                MAX_ARGUMENT_BYTES / 1024,
                prompt.len() / 1024
            ));
        }
        let argv = self.run_argv(provider, chat_id, prompt);
        self.created("run", argv).await
    }

    /// Imports an agent for `chat_id` continuing the provider's existing session `session`,
    /// working in this CLI's directory; its id.
    pub async fn import(&self, session: &str, provider: &str, chat_id: &str) -> Result<String> {
        let argv = self.import_argv(session, provider, chat_id);
        self.created("import", argv).await
    }

    /// The agent id `paseo run` or `paseo import` answered.
    async fn created(&self, what: &str, argv: Vec<String>) -> Result<String> {
        let answer = self.run_json(what, argv).await?;
        agent_id(&answer).ok_or_else(|| {
            anyhow!(
                "agent '{}': `paseo {what}` named no agent id: {}",
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

    /// The agent's whole curated transcript (`paseo logs ID`).
    pub async fn transcript(&self, paseo_id: &str) -> Result<String> {
        self.run("logs", self.logs_argv(paseo_id), self.timeout)
            .await
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

    /// Starts `paseo send` of `prompt` (written to a private file in `prompt_dir`, removed
    /// when the send is over): it answers when the agent's turn ends ([`Waiting`]).
    pub fn send(&self, paseo_id: &str, prompt: &str, prompt_dir: &Path) -> Result<Waiting> {
        let prompt_file = PromptFile::write(prompt_dir, prompt)?;
        let argv = self.send_argv(paseo_id, &prompt_file.0);
        self.waiting("send", &argv, Some(prompt_file))
    }

    /// Starts `paseo wait` for the turn the agent is in: it answers when the turn ends.
    pub fn wait(&self, paseo_id: &str) -> Result<Waiting> {
        self.waiting("wait", &self.wait_argv(paseo_id), None)
    }

    fn waiting(
        &self,
        call: &'static str,
        argv: &[String],
        prompt_file: Option<PromptFile>,
    ) -> Result<Waiting> {
        let (mut child, group) = self.spawn(call, argv)?;
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            return Err(self.unopened());
        };
        Ok(Waiting {
            call,
            child,
            group,
            stdout: tokio::spawn(read_tail(stdout)),
            stderr: tokio::spawn(read_tail(stderr)),
            _prompt_file: prompt_file,
        })
    }

    /// Starts `paseo logs -f --tail TAIL`: the last `tail` entries of the agent's transcript,
    /// then its new timeline items, line by line ([`Following`]).
    pub fn follow(&self, paseo_id: &str, tail: usize) -> Result<Following> {
        let (mut child, group) = self.spawn("logs", &self.follow_argv(paseo_id, tail))?;
        let Some(stdout) = child.stdout.take() else {
            return Err(self.unopened());
        };
        Ok(Following {
            _child: child,
            group,
            stdout: BufReader::new(stdout),
            partial: Vec::new(),
            after_banner: false,
        })
    }

    fn unopened(&self) -> anyhow::Error {
        anyhow!("agent '{}': paseo's output was not opened", self.agent)
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
        self.parse_json(what, &stdout)
    }

    fn parse_json(&self, what: &str, stdout: &str) -> Result<Value> {
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
            .map(|s| format!(": {}", self.quote(&command_error(s))))
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

/// What paseo said when a command failed: with `--json` its `{"error": {message, details}}`
/// read out (details only when one line: an unknown error's are a stack trace), otherwise
/// its own words (`Error: MESSAGE` and a hint).
fn command_error(said: &str) -> String {
    let Ok(answer) = serde_json::from_str::<Value>(said) else {
        return said.to_string();
    };
    let error = &answer["error"];
    let Some(message) = error["message"].as_str() else {
        return said.to_string();
    };
    match error["details"].as_str().filter(|d| !d.contains('\n')) {
        Some(details) => format!("{message} ({details})"),
        None => message.to_string(),
    }
}

/// A prompt in a file of its own (mode 0600), removed when dropped.
struct PromptFile(PathBuf);

impl PromptFile {
    fn write(dir: &Path, prompt: &str) -> Result<PromptFile> {
        private_fs::ensure_private_dir(dir)?;
        let path = dir.join(format!("{}.prompt", new_id()));
        let mut file = private_fs::private_open_options()
            .write(true)
            .create_new(true)
            .open(&path)
            .with_context(|| format!("writing the prompt to {}", path.display()))?;
        let written = PromptFile(path);
        file.write_all(prompt.as_bytes())
            .with_context(|| format!("writing the prompt to {}", written.0.display()))?;
        Ok(written)
    }
}

impl Drop for PromptFile {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.0) {
            tracing::warn!("removing the prompt file {} failed: {e}", self.0.display());
        }
    }
}

/// A running `paseo send` or `paseo wait`: it answers when the agent's turn ends.
pub struct Waiting {
    call: &'static str,
    child: Child,
    group: ProcessGroup,
    stdout: JoinHandle<String>,
    stderr: JoinHandle<String>,
    _prompt_file: Option<PromptFile>,
}

impl Waiting {
    /// Waits for paseo to answer: the turn's result, or an error (with what paseo said) when
    /// the call itself failed. Cancel-safe: it may be dropped and called again.
    pub async fn finish(&mut self, cli: &PaseoCli) -> Result<TurnResult> {
        let call = self.call;
        let status = self
            .child
            .wait()
            .await
            .map_err(|e| anyhow!("agent '{}': `paseo {call}`: {e}", cli.agent))?;
        let stdout = (&mut self.stdout).await.unwrap_or_default();
        let stderr = (&mut self.stderr).await.unwrap_or_default();
        if !status.success() {
            return Err(cli.failed(call, status, &stderr, &stdout));
        }
        let answer = cli.parse_json(call, &stdout)?;
        let field = |name: &str| answer[name].as_str().unwrap_or_default().to_string();
        match field("status").as_str() {
            "" => Err(anyhow!(
                "agent '{}': `paseo {call} --json` answered without a status: {}",
                cli.agent,
                cli.quote(stdout.trim())
            )),
            status => Ok(TurnResult {
                call,
                // `wait` says `idle` where `send` says `completed`.
                status: match status {
                    "idle" => "completed".to_string(),
                    other => other.to_string(),
                },
                message: field("message"),
            }),
        }
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

/// A running `paseo logs -f`.
pub struct Following {
    /// Killed with the group, at the latest when dropped.
    _child: Child,
    group: ProcessGroup,
    stdout: BufReader<ChildStdout>,
    /// The line being read.
    partial: Vec<u8>,
    /// The banner was the last line read: the blank line paseo prints after it is its own.
    after_banner: bool,
}

impl Following {
    /// The next line paseo printed, without its line end; `None` at the end of its output.
    /// Cancel-safe: a line read in part is kept for the next call.
    pub async fn next_line(&mut self) -> Option<String> {
        loop {
            // `read_until` leaves what it read of a line in `partial` when it is cancelled.
            let read = self.stdout.read_until(b'\n', &mut self.partial).await;
            let mut line = std::mem::take(&mut self.partial);
            if matches!(read, Ok(0) | Err(_)) && line.is_empty() {
                return None;
            }
            while matches!(line.last(), Some(b'\n' | b'\r')) {
                line.pop();
            }
            if std::mem::take(&mut self.after_banner) && line.is_empty() {
                continue;
            }
            return Some(String::from_utf8_lossy(&line).into_owned());
        }
    }

    /// Waits for the banner paseo prints once it follows the agent, and returns the
    /// transcript lines it printed before (`--tail`), without the blank line that opens the
    /// banner. When it ends (or `patience` passes) first, what it printed is returned.
    pub async fn started(&mut self, patience: Duration) -> Vec<String> {
        let mut history = Vec::new();
        let banner = async {
            while let Some(line) = self.next_line().await {
                if is_follow_banner(&line) {
                    if history.last().is_some_and(String::is_empty) {
                        history.pop();
                    }
                    self.after_banner = true;
                    return;
                }
                history.push(line);
            }
        };
        // Whatever did not arrive in time is left to the transcript.
        let _ = tokio::time::timeout(patience, banner).await;
        history
    }

    /// Stops following as Ctrl-C would (SIGTERM) and returns the lines paseo had printed and
    /// not yet read, up to its end or for at most `grace`; then the group is killed.
    pub async fn stop(mut self, grace: Duration) -> Vec<String> {
        self.group.terminate();
        let mut rest = Vec::new();
        let drained = async {
            while let Some(line) = self.next_line().await {
                rest.push(line);
            }
        };
        // Whatever did not arrive within the grace is left to the transcript.
        let _ = tokio::time::timeout(grace, drained).await;
        self.group.kill();
        rest
    }
}

/// The last [`OUTPUT_KEPT`] bytes of a stream, read to its end.
async fn read_tail(mut stream: impl AsyncRead + Unpin) -> String {
    let mut kept = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n @ 1..) = stream.read(&mut buf).await {
        kept.extend_from_slice(&buf[..n]);
        if kept.len() > OUTPUT_KEPT {
            kept.drain(..kept.len() - OUTPUT_KEPT);
        }
    }
    String::from_utf8_lossy(&kept).into_owned()
}

/// The string field `name` of `value`, unless empty or `-` (paseo's "unknown").
fn text_field(value: &Value, name: &str) -> Option<String> {
    value
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty() && *s != "-")
        .map(str::to_string)
}

/// The agent id in what `paseo run --json` or `paseo import --json` answered (`{agentId,
/// status, provider, cwd, title}`).
pub fn agent_id(answer: &Value) -> Option<String> {
    text_field(answer, "agentId")
}

impl Inspection {
    /// Reads `paseo inspect --json` (`toInspectData` in packages/cli/src/commands/agent/inspect.ts).
    pub fn from_json(agent: &Value) -> Inspection {
        let usage = agent.get("LastUsage").filter(|u| u.is_object()).map(|u| {
            let count = |name: &str| u.get(name).and_then(Value::as_u64).unwrap_or(0);
            let input = count("InputTokens");
            let cached = count("CachedTokens");
            Usage {
                prompt_tokens: input,
                completion_tokens: count("OutputTokens"),
                reasoning_tokens: 0,
                cache_hit_tokens: cached,
                cache_miss_tokens: input.saturating_sub(cached),
            }
        });
        let pending_permissions = agent
            .get("PendingPermissions")
            .and_then(Value::as_array)
            .map(|pending| {
                pending
                    .iter()
                    .filter_map(|p| text_field(p, "tool"))
                    .collect()
            })
            .unwrap_or_default();
        Inspection {
            status: text_field(agent, "Status"),
            model: text_field(agent, "Model"),
            mode: text_field(agent, "Mode"),
            usage,
            pending_permissions,
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
                session: None,
                startup_timeout: Duration::from_secs(1),
                origin: Origin::Config,
            },
            PathBuf::from("/tmp"),
        )
    }

    #[test]
    fn calls_are_spelled_as_the_real_cli_parses_them() {
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
                "--cwd",
                "/tmp",
                "--label",
                "origin=boocode",
                "--label",
                "chat=c-1",
                "s-1"
            ]
        );
        assert_eq!(
            with_host.send_argv("pa-1", Path::new("/home/p/1.prompt")),
            [
                "send",
                "--json",
                "--host",
                "box:6767",
                "--prompt-file",
                "/home/p/1.prompt",
                "pa-1"
            ]
        );
        assert_eq!(
            with_host.follow_argv("pa-1", 0),
            ["logs", "--host", "box:6767", "--follow", "--tail", "0", "pa-1"]
        );
        assert_eq!(
            with_host.run_argv("codex", "c-1", "-rf is a prompt"),
            [
                "run",
                "--json",
                "--host",
                "box:6767",
                "--detach",
                "--provider",
                "codex",
                "--cwd",
                "/tmp",
                "--label",
                "origin=boocode",
                "--label",
                "chat=c-1",
                "--",
                "-rf is a prompt"
            ]
        );
        assert_eq!(
            with_host.wait_argv("pa-1"),
            [
                "wait",
                "--json",
                "--host",
                "box:6767",
                "--timeout",
                "10m",
                "pa-1"
            ]
        );
        assert_eq!(
            with_host.logs_argv("pa-1"),
            ["logs", "--host", "box:6767", "pa-1"]
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
    fn the_agent_id_is_the_agent_id_field_of_the_import_row() {
        assert_eq!(
            agent_id(&json!({"agentId": "a1", "status": "created", "provider": "codex"})),
            Some("a1".into())
        );
        assert_eq!(agent_id(&json!({"agentId": ""})), None);
        assert_eq!(agent_id(&json!({"id": "a2"})), None);
        assert_eq!(agent_id(&json!([1, 2])), None);
    }

    #[test]
    fn inspection_reads_the_pascal_case_fields_paseo_prints() {
        let seen = Inspection::from_json(&json!({
            "Id": "a1", "Name": "-", "Provider": "codex", "Model": "gpt-5", "Thinking": "auto",
            "Status": "idle", "Archived": false, "ArchivedAt": null, "Mode": "auto",
            "LastUsage": {"InputTokens": 100, "OutputTokens": 20, "CachedTokens": 40, "CostUsd": 0.01},
            "PendingPermissions": [{"id": "p1", "tool": "Bash"}]
        }));
        assert_eq!(seen.status.as_deref(), Some("idle"));
        assert_eq!(seen.model.as_deref(), Some("gpt-5"));
        assert_eq!(seen.mode.as_deref(), Some("auto"));
        assert_eq!(seen.pending_permissions, ["Bash"]);
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
        // "-" means the daemon does not know; no usage before the first turn.
        let new = Inspection::from_json(
            &json!({"Id": "a1", "Status": "running", "Model": "-", "LastUsage": null, "PendingPermissions": []}),
        );
        assert_eq!(new.status.as_deref(), Some("running"));
        assert_eq!(new.model, None);
        assert_eq!(new.usage, None);
        assert!(new.pending_permissions.is_empty());
    }

    #[test]
    fn a_failed_command_is_quoted_by_its_message() {
        let said = "{\n  \"error\": {\n    \"code\": \"DAEMON_NOT_RUNNING\",\n    \"message\": \"Cannot connect to daemon at localhost:6767: connect ECONNREFUSED\",\n    \"details\": \"Start the daemon with: paseo daemon start\"\n  }\n}";
        assert_eq!(
            command_error(said),
            "Cannot connect to daemon at localhost:6767: connect ECONNREFUSED (Start the daemon with: paseo daemon start)"
        );
        let stack = "{\"error\": {\"code\": \"UNKNOWN_ERROR\", \"message\": \"boom\", \"details\": \"Error: boom\\n    at x\"}}";
        assert_eq!(command_error(stack), "boom");
        assert_eq!(
            command_error("Error: No agent found matching: x"),
            "Error: No agent found matching: x"
        );
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
