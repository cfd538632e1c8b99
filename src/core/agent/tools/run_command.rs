//! `run_command`: run one program with an argument vector — no shell, so nothing the model
//! writes is ever re-parsed by `sh`.
//!
//! The child is started by [`process::spawn`]: its own session and process group, no provider
//! keys, and killed with boocode. A timeout or cancellation kills the whole group: killing only
//! the direct child would leave grandchildren (a test runner's workers, a backgrounded server)
//! running and holding the output pipes open.

use std::collections::VecDeque;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::task::JoinHandle;

use super::{parse_args, ApprovalMode, Tool, ToolContext, ToolError, ToolKind, ToolOutput};
use crate::core::process;

const NAME: &str = "run_command";
pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;
pub const MAX_TIMEOUT_MS: u64 = 120_000;
/// Combined stdout+stderr kept for the model: the first and last halves, because a build's
/// errors are usually at the end while what it was doing is at the start.
pub const MAX_OUTPUT_BYTES: usize = 32 * 1024;
/// How long to wait for the pipes to close once the program has exited; past that, whatever
/// it left running in its group is killed so it cannot hold the call open.
const EXIT_GRACE: Duration = Duration::from_millis(500);
/// After a kill, pipes held by a process that escaped the group (its own `setsid`) are
/// abandoned after this long.
const DRAIN_AFTER_KILL: Duration = Duration::from_secs(1);

pub struct RunCommand;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    command: String,
    #[serde(default)]
    args: Vec<String>,
    timeout_ms: Option<u64>,
    /// For the UI and the trace, which read it from the raw arguments; accepted here so that
    /// `deny_unknown_fields` lets it through.
    #[serde(rename = "description")]
    _description: Option<String>,
}

impl Tool for RunCommand {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "Run a program in the project root and return its exit code and combined \
         stdout/stderr (capped at 32 KB). There is no shell: give the program in 'command' and \
         each argument as a separate element of 'args' (no pipes, redirections, globs or $VARS; \
         run ['sh', '-c', '...'] explicitly if you need a shell). stdin is empty. Default \
         timeout 30 s, maximum 120 s; on timeout the program and everything it started are \
         killed."
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "command": {
                    "type": "string",
                    "description": "The program to run, e.g. 'cargo' (looked up on PATH)."
                },
                "args": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Arguments, one element each, e.g. [\"test\", \"--lib\"]."
                },
                "timeout_ms": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_TIMEOUT_MS,
                    "description": "Timeout in milliseconds (default 30000, maximum 120000)."
                },
                "description": {
                    "type": "string",
                    "description": "A few words on what the command does, shown to the user."
                }
            },
            "required": ["command", "args"],
            "additionalProperties": false
        })
    }

    fn kind(&self) -> ToolKind {
        ToolKind::Command
    }

    fn run<'a>(
        &'a self,
        args: Value,
        ctx: &'a ToolContext,
    ) -> BoxFuture<'a, Result<ToolOutput, ToolError>> {
        async move {
            let args: Args = parse_args(NAME, args)?;
            if args.command.trim().is_empty() {
                return Err(ToolError::invalid(NAME, "command is empty"));
            }
            let (timeout, clamp_note) = match args.timeout_ms {
                None => (DEFAULT_TIMEOUT_MS, None),
                Some(0) => {
                    return Err(ToolError::invalid(NAME, "timeout_ms must be at least 1"))
                }
                Some(t) if t > MAX_TIMEOUT_MS => (
                    MAX_TIMEOUT_MS,
                    Some(format!(
                        "[timeout_ms {t} is over the {MAX_TIMEOUT_MS} ms maximum; used {MAX_TIMEOUT_MS} ms]\n"
                    )),
                ),
                Some(t) => (t, None),
            };
            match ctx.approval {
                ApprovalMode::ReadOnly => {
                    return Err(ToolError::Denied(format!(
                        "the approval mode is {}, which forbids running commands",
                        ctx.approval.as_str()
                    )))
                }
                ApprovalMode::Review => {
                    let confirmed = tokio::select! {
                        yes = ctx.host.confirm_command(args.command.clone(), args.args.clone()) => yes,
                        _ = ctx.cancel.cancelled() => return Err(ToolError::Cancelled),
                    };
                    if !confirmed {
                        return Err(ToolError::Denied(format!(
                            "running {} was not approved (review mode needs a yes for every command; \
                             headless runs cannot ask, so they refuse)",
                            shell_words(&args.command, &args.args)
                        )));
                    }
                }
                ApprovalMode::Auto => {}
            }
            let mut output = execute(ctx, &args, Duration::from_millis(timeout)).await?;
            if let Some(note) = clamp_note {
                output.content.insert_str(0, &note);
            }
            Ok(output)
        }
        .boxed()
    }
}

enum End {
    Exited(ExitStatus),
    TimedOut,
    Cancelled,
}

async fn execute(
    ctx: &ToolContext,
    args: &Args,
    timeout: Duration,
) -> Result<ToolOutput, ToolError> {
    let mut cmd = tokio::process::Command::new(&args.command);
    cmd.args(&args.args)
        .current_dir(&ctx.project_root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let (mut child, mut group) = process::spawn(&mut cmd).map_err(|e| spawn_error(args, e))?;

    let capture = Arc::new(Mutex::new(Capture::default()));
    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        readers.push(tokio::spawn(pump(out, capture.clone())));
    }
    if let Some(err) = child.stderr.take() {
        readers.push(tokio::spawn(pump(err, capture.clone())));
    }

    let end = tokio::select! {
        status = child.wait() => End::Exited(status.map_err(|e| {
            ToolError::Failed(format!("waiting for {} failed: {e}", args.command))
        })?),
        _ = tokio::time::sleep(timeout) => End::TimedOut,
        _ = ctx.cancel.cancelled() => End::Cancelled,
    };

    let mut leftovers_killed = false;
    match end {
        End::Exited(_) => {
            if !drain(&mut readers, EXIT_GRACE).await {
                group.kill();
                leftovers_killed = true;
                drain(&mut readers, DRAIN_AFTER_KILL).await;
            }
        }
        End::TimedOut | End::Cancelled => {
            group.kill();
            // The leader is dead after SIGKILL; reaping it cannot block for long.
            let _ = child.wait().await;
            drain(&mut readers, DRAIN_AFTER_KILL).await;
        }
    }
    group.disarm();

    let text = capture
        .lock()
        .map(|c| c.render())
        .unwrap_or_else(|_| String::from("[output lost: capture buffer poisoned]"));
    match end {
        End::Cancelled => Err(ToolError::Cancelled),
        End::TimedOut => Err(ToolError::Failed(format!(
            "timed out after {}; {} and every process it started were killed. Output so far:\n{text}",
            human_duration(timeout),
            args.command
        ))),
        End::Exited(status) => {
            let mut content = match status.code() {
                Some(code) => format!("exit code: {code}\n"),
                None => {
                    use std::os::unix::process::ExitStatusExt;
                    format!(
                        "terminated by signal {}\n",
                        status.signal().map_or("?".into(), |s| s.to_string())
                    )
                }
            };
            content.push_str(&text);
            if leftovers_killed {
                content.push_str(
                    "\n[the program exited but left processes holding its output open; they were killed]\n",
                );
            }
            Ok(ToolOutput::text(content))
        }
    }
}

/// Waits for the output readers to hit EOF; on timeout aborts them and returns `false`.
async fn drain(readers: &mut [JoinHandle<()>], limit: Duration) -> bool {
    let all = async {
        for r in readers.iter_mut() {
            let _ = r.await;
        }
    };
    if tokio::time::timeout(limit, all).await.is_ok() {
        return true;
    }
    for r in readers.iter() {
        r.abort();
    }
    false
}

async fn pump(mut pipe: impl AsyncRead + Unpin, capture: Arc<Mutex<Capture>>) {
    let mut buf = [0u8; 8192];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if let Ok(mut c) = capture.lock() {
                    c.push(&buf[..n]);
                }
            }
        }
    }
}

/// Keeps the first and last `MAX_OUTPUT_BYTES / 2` bytes of a stream of any length.
#[derive(Default)]
struct Capture {
    head: Vec<u8>,
    tail: VecDeque<u8>,
    total: usize,
}

impl Capture {
    const HALF: usize = MAX_OUTPUT_BYTES / 2;

    fn push(&mut self, mut bytes: &[u8]) {
        self.total += bytes.len();
        let room = Self::HALF.saturating_sub(self.head.len());
        let take = room.min(bytes.len());
        self.head.extend_from_slice(&bytes[..take]);
        bytes = &bytes[take..];
        if bytes.len() >= Self::HALF {
            self.tail.clear();
            bytes = &bytes[bytes.len() - Self::HALF..];
        }
        self.tail.extend(bytes);
        let excess = self.tail.len().saturating_sub(Self::HALF);
        self.tail.drain(..excess);
    }

    fn render(&self) -> String {
        if self.total == 0 {
            return "(no output)\n".into();
        }
        let mut out = String::from_utf8_lossy(&self.head).into_owned();
        let kept = self.head.len() + self.tail.len();
        if self.total > kept {
            out.push_str(&format!(
                "\n[output truncated: {} of {} bytes omitted here; showing the first and last {} bytes]\n",
                self.total - kept,
                self.total,
                Self::HALF
            ));
        }
        let (a, b) = self.tail.as_slices();
        out.push_str(&String::from_utf8_lossy(&[a, b].concat()));
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out
    }
}

fn spawn_error(args: &Args, e: std::io::Error) -> ToolError {
    let program = &args.command;
    match e.kind() {
        std::io::ErrorKind::NotFound if program.contains(char::is_whitespace) => {
            ToolError::Failed(format!(
                "program '{program}' not found. run_command uses no shell: put only the program \
                 in 'command' and each argument in 'args', e.g. command 'ls', args ['-la']"
            ))
        }
        std::io::ErrorKind::NotFound => {
            ToolError::Failed(format!("program '{program}' not found on PATH"))
        }
        std::io::ErrorKind::PermissionDenied => {
            ToolError::Failed(format!("program '{program}' is not executable: {e}"))
        }
        _ => ToolError::Failed(format!("could not start '{program}': {e}")),
    }
}

/// The command as a user would type it, for messages.
fn shell_words(command: &str, args: &[String]) -> String {
    std::iter::once(command)
        .chain(args.iter().map(String::as_str))
        .map(|w| {
            if !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
            {
                w.to_string()
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{ms} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::agent::tools::test_support::Fixture;
    use std::time::Instant;

    fn sh(script: &str) -> Value {
        json!({"command": "sh", "args": ["-c", script]})
    }

    /// A process is gone once /proc no longer lists it, or lists it as a zombie (in a container
    /// whose init does not reap, a killed orphan stays a zombie).
    fn process_gone(pid: &str) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => true,
            Ok(stat) => stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        }
    }

    async fn wait_gone(pid: &str) -> bool {
        for _ in 0..50 {
            if process_gone(pid) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    #[tokio::test]
    async fn runs_in_the_project_root_and_reports_exit_code() {
        let fx = Fixture::new(ApprovalMode::Auto);
        fx.write("hello.txt", "hi there\n");
        let out = RunCommand
            .run(json!({"command": "cat", "args": ["hello.txt"]}), &fx.ctx)
            .await
            .unwrap();
        assert_eq!(out.content, "exit code: 0\nhi there\n");
    }

    #[tokio::test]
    async fn relative_program_paths_start_from_the_project_root() {
        use std::os::unix::fs::PermissionsExt;
        let fx = Fixture::new(ApprovalMode::Auto);
        let script = fx.write("tool.sh", "#!/bin/sh\necho from-script \"$1\"\n");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let out = RunCommand
            .run(json!({"command": "./tool.sh", "args": ["x"]}), &fx.ctx)
            .await
            .unwrap();
        assert_eq!(out.content, "exit code: 0\nfrom-script x\n");
    }

    #[tokio::test]
    async fn non_zero_exit_and_stderr_are_reported() {
        let fx = Fixture::new(ApprovalMode::Auto);
        let out = RunCommand
            .run(sh("echo out; echo oops >&2; exit 3"), &fx.ctx)
            .await
            .unwrap();
        assert!(out.content.starts_with("exit code: 3\n"), "{}", out.content);
        assert!(
            out.content.contains("out\n") && out.content.contains("oops\n"),
            "{}",
            out.content
        );
    }

    #[tokio::test]
    async fn no_shell_interpretation_of_arguments() {
        let fx = Fixture::new(ApprovalMode::Auto);
        let out = RunCommand
            .run(
                json!({"command": "echo", "args": ["$HOME", "a|b", "*"]}),
                &fx.ctx,
            )
            .await
            .unwrap();
        assert_eq!(out.content, "exit code: 0\n$HOME a|b *\n");
    }

    #[tokio::test]
    async fn stdin_is_empty() {
        let fx = Fixture::new(ApprovalMode::Auto);
        let out = RunCommand
            .run(json!({"command": "cat", "args": []}), &fx.ctx)
            .await
            .unwrap();
        assert_eq!(out.content, "exit code: 0\n(no output)\n");
    }

    #[tokio::test]
    async fn output_is_capped_keeping_head_and_tail() {
        let fx = Fixture::new(ApprovalMode::Auto);
        let out = RunCommand
            .run(
                sh("echo FIRST; head -c 100000 /dev/zero | tr '\\0' x; echo; echo LAST"),
                &fx.ctx,
            )
            .await
            .unwrap();
        assert!(
            out.content.len() < MAX_OUTPUT_BYTES + 500,
            "{}",
            out.content.len()
        );
        assert!(out.content.contains("FIRST"));
        assert!(out.content.contains("LAST"));
        assert!(
            out.content.contains("[output truncated:"),
            "no truncation note"
        );
    }

    #[tokio::test]
    async fn timeout_kills_the_whole_group_including_grandchildren() {
        let fx = Fixture::new(ApprovalMode::Auto);
        let mut args = sh("sleep 100 & echo $! > marker.pid; sleep 100");
        args["timeout_ms"] = json!(700);
        let started = Instant::now();
        let err = RunCommand.run(args, &fx.ctx).await.unwrap_err();
        let took = started.elapsed();
        assert!(took < Duration::from_secs(5), "took {took:?}");
        assert!(took >= Duration::from_millis(700), "took {took:?}");
        assert!(
            err.to_string().starts_with("timed out after 700 ms"),
            "{err}"
        );
        let pid = fx.read("marker.pid");
        assert!(wait_gone(pid.trim()).await, "grandchild {pid} still alive");
    }

    #[tokio::test]
    async fn leftover_background_process_does_not_hold_the_call() {
        let fx = Fixture::new(ApprovalMode::Auto);
        let started = Instant::now();
        let out = RunCommand
            .run(
                sh("sleep 100 & echo $! > marker.pid; echo started"),
                &fx.ctx,
            )
            .await
            .unwrap();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(
            out.content.starts_with("exit code: 0\nstarted\n"),
            "{}",
            out.content
        );
        assert!(out.content.contains("were killed"), "{}", out.content);
        let pid = fx.read("marker.pid");
        assert!(wait_gone(pid.trim()).await, "leftover {pid} still alive");
    }

    #[tokio::test]
    async fn cancellation_kills_and_returns_cancelled() {
        let fx = Fixture::new(ApprovalMode::Auto);
        let cancel = fx.ctx.cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            cancel.cancel();
        });
        let started = Instant::now();
        let err = RunCommand
            .run(sh("sleep 100 & echo $! > marker.pid; sleep 100"), &fx.ctx)
            .await
            .unwrap_err();
        assert_eq!(err, ToolError::Cancelled);
        assert!(started.elapsed() < Duration::from_secs(5));
        let pid = fx.read("marker.pid");
        assert!(wait_gone(pid.trim()).await, "{pid} still alive");
    }

    #[tokio::test]
    async fn timeout_is_clamped_and_zero_refused() {
        let fx = Fixture::new(ApprovalMode::Auto);
        let out = RunCommand
            .run(
                json!({"command": "true", "args": [], "timeout_ms": 999_999}),
                &fx.ctx,
            )
            .await
            .unwrap();
        assert!(
            out.content
                .starts_with("[timeout_ms 999999 is over the 120000 ms maximum"),
            "{}",
            out.content
        );
        let err = RunCommand
            .run(
                json!({"command": "true", "args": [], "timeout_ms": 0}),
                &fx.ctx,
            )
            .await
            .unwrap_err();
        assert!(matches!(err, ToolError::InvalidArguments { .. }));
    }

    #[tokio::test]
    async fn missing_program_hints_at_argv() {
        let fx = Fixture::new(ApprovalMode::Auto);
        let err = RunCommand
            .run(json!({"command": "ls -la", "args": []}), &fx.ctx)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("no shell"), "{err}");
        let err = RunCommand
            .run(
                json!({"command": "boocode-no-such-program", "args": []}),
                &fx.ctx,
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains("not found"), "{err}");
        let err = RunCommand
            .run(json!({"command": "echo", "args": "hi"}), &fx.ctx)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("invalid type"), "{err}");
    }

    #[tokio::test]
    async fn approval_modes() {
        let fx = Fixture::new(ApprovalMode::ReadOnly);
        let err = RunCommand
            .run(json!({"command": "touch", "args": ["x"]}), &fx.ctx)
            .await
            .unwrap_err();
        assert!(matches!(err, ToolError::Denied(_)));
        assert!(err.to_string().contains("read-only"), "{err}");

        let fx = Fixture::new(ApprovalMode::Review);
        let args = json!({"command": "touch", "args": ["x y"], "description": "make a file"});
        let err = RunCommand.run(args.clone(), &fx.ctx).await.unwrap_err();
        assert!(matches!(err, ToolError::Denied(_)));
        assert!(err.to_string().contains("touch 'x y'"), "{err}");
        assert!(!fx.path("x y").exists());
        assert_eq!(
            fx.host.confirm_requests.lock().unwrap()[0],
            ("touch".to_string(), vec!["x y".to_string()])
        );
        *fx.host.confirm_answer.lock().unwrap() = true;
        RunCommand.run(args, &fx.ctx).await.unwrap();
        assert!(fx.path("x y").exists());
    }

    #[test]
    fn capture_keeps_head_and_tail_across_chunks() {
        let mut c = Capture::default();
        for _ in 0..10 {
            c.push(&[b'a'; 5000]);
        }
        c.push(b"END");
        assert_eq!(c.total, 50_003);
        assert_eq!(c.head.len(), Capture::HALF);
        assert_eq!(c.tail.len(), Capture::HALF);
        assert!(c.render().trim_end().ends_with("aEND"));
    }
}
