//! The parent's handle on a script worker process: spawn it, write [`ToWorker`] lines to its
//! stdin, read [`FromWorker`] lines from its stdout, kill it.
//!
//! The command is configurable (tests use a fake worker); by default it is this binary's
//! hidden `__workflow-worker` subcommand. The worker gets a scrubbed environment: it never
//! needs API keys, and must never be able to read them. It is started by [`process::spawn`],
//! so it dies with boocode even when boocode is killed.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, Context, Result};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin};
use tokio::sync::mpsc;

use super::protocol::{FromWorker, ToWorker};
use crate::core::process::{self, own_executable, ProcessGroup};

/// Environment variable naming another worker command (whitespace-separated program and
/// arguments), for tests and debugging.
pub const WORKER_ENV: &str = "BOOCODE_WORKFLOW_WORKER";
/// The hidden subcommand of this binary that runs a script.
pub const WORKER_SUBCOMMAND: &str = "__workflow-worker";
/// How much of the worker's stderr is kept for error messages.
const STDERR_TAIL: usize = 4096;

/// How to start a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerCommand {
    pub program: PathBuf,
    pub args: Vec<String>,
}

impl WorkerCommand {
    pub fn new(program: impl Into<PathBuf>, args: &[&str]) -> WorkerCommand {
        WorkerCommand {
            program: program.into(),
            args: args.iter().map(|a| a.to_string()).collect(),
        }
    }

    /// `$BOOCODE_WORKFLOW_WORKER` when set, else this executable's `__workflow-worker`.
    pub fn default_command() -> Result<WorkerCommand> {
        if let Some(cmd) = std::env::var(WORKER_ENV).ok().and_then(|v| Self::parse(&v)) {
            return Ok(cmd);
        }
        Ok(WorkerCommand {
            program: own_executable()?,
            args: vec![WORKER_SUBCOMMAND.to_string()],
        })
    }

    fn parse(text: &str) -> Option<WorkerCommand> {
        let mut parts = text.split_whitespace();
        let program = parts.next()?;
        Some(WorkerCommand {
            program: PathBuf::from(program),
            args: parts.map(str::to_string).collect(),
        })
    }
}

/// What the reader task hands over: a message, or a line that is not one.
pub type WorkerLine = Result<FromWorker, String>;

/// A running worker.
pub struct WorkerProcess {
    child: Child,
    /// Killed when the handle is dropped: a worker never outlives its run.
    group: ProcessGroup,
    stdin: Option<ChildStdin>,
    stderr: Arc<Mutex<String>>,
}

impl WorkerProcess {
    /// Starts the worker in `cwd`; its stdout lines arrive on the returned channel, which
    /// closes when the worker closes its stdout (normally: when it exits).
    pub fn spawn(
        command: &WorkerCommand,
        cwd: &Path,
    ) -> Result<(WorkerProcess, mpsc::UnboundedReceiver<WorkerLine>)> {
        let mut cmd = tokio::process::Command::new(&command.program);
        cmd.args(&command.args)
            .current_dir(cwd)
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for key in ["PATH", "LANG", "LC_ALL", "TMPDIR"] {
            if let Ok(v) = std::env::var(key) {
                cmd.env(key, v);
            }
        }
        let (mut child, group) = process::spawn(&mut cmd)
            .with_context(|| format!("starting the script worker {}", command.program.display()))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("worker has no stdout"))?;
        let stderr_pipe = child.stderr.take();
        let stdin = child.stdin.take();
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if line.trim().is_empty() {
                    continue;
                }
                let parsed = serde_json::from_str::<FromWorker>(&line)
                    .map_err(|e| format!("{e}: {}", clip(&line, 200)));
                if tx.send(parsed).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(mut pipe) = stderr_pipe {
            let tail = stderr.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    let mut t = tail.lock().unwrap_or_else(|p| p.into_inner());
                    t.push_str(&String::from_utf8_lossy(&buf[..n]));
                    if t.len() > STDERR_TAIL * 2 {
                        let cut = t.len() - STDERR_TAIL;
                        let cut = (cut..t.len()).find(|i| t.is_char_boundary(*i)).unwrap_or(0);
                        t.drain(..cut);
                    }
                }
            });
        }
        Ok((
            WorkerProcess {
                child,
                group,
                stdin,
                stderr,
            },
            rx,
        ))
    }

    pub fn id(&self) -> Option<u32> {
        self.child.id()
    }

    /// Writes one message.
    pub async fn send(&mut self, message: &ToWorker) -> Result<()> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| anyhow!("the worker's stdin is closed"))?;
        let mut line = serde_json::to_string(message)?;
        line.push('\n');
        stdin
            .write_all(line.as_bytes())
            .await
            .context("writing to the script worker")?;
        stdin
            .flush()
            .await
            .context("writing to the script worker")?;
        Ok(())
    }

    /// Kills the worker at once (cancel, timeout, end of run).
    pub fn kill(&mut self) {
        self.stdin = None;
        self.group.kill();
    }

    /// Waits (briefly) for the worker to exit and says how it ended, with the tail of its
    /// stderr: "exit status 3", "killed by signal 9 (SIGKILL)", ….
    pub async fn exit_description(&mut self) -> String {
        let status =
            tokio::time::timeout(std::time::Duration::from_secs(2), self.child.wait()).await;
        let mut text = match status {
            Ok(Ok(s)) => describe_status(&s),
            Ok(Err(e)) => format!("cannot read its exit status: {e}"),
            Err(_) => {
                self.kill();
                "it closed its output but did not exit; killed".to_string()
            }
        };
        let tail = self
            .stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .trim()
            .to_string();
        if !tail.is_empty() {
            text.push_str(&format!("; stderr: {}", clip_tail(&tail, 800)));
        }
        text
    }
}

fn describe_status(status: &std::process::ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            let name = match sig {
                libc::SIGKILL => " (SIGKILL: killed, e.g. out of memory)",
                libc::SIGXCPU => " (SIGXCPU: CPU time limit)",
                libc::SIGSEGV => " (SIGSEGV)",
                libc::SIGABRT => " (SIGABRT)",
                _ => "",
            };
            return format!("killed by signal {sig}{name}");
        }
    }
    match status.code() {
        Some(code) => format!("exit status {code}"),
        None => "ended without an exit status".to_string(),
    }
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}

fn clip_tail(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        s.to_string()
    } else {
        format!("…{}", s.chars().skip(n - max).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_command_is_split_on_whitespace() {
        let c = WorkerCommand::parse("python3 /x/fake.py --v").unwrap();
        assert_eq!(c.program, PathBuf::from("python3"));
        assert_eq!(c.args, vec!["/x/fake.py", "--v"]);
        assert!(WorkerCommand::parse("  ").is_none());
    }
}
