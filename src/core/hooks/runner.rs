//! Runs one hook command the way Claude Code does: `sh -c COMMAND` in the project directory,
//! the event's JSON on stdin, `CLAUDE_PROJECT_DIR`/`BOOCODE_PROJECT_DIR` set. It is started by
//! [`process::spawn`] (own session, no provider keys, reaped with boocode); at its timeout or
//! on cancellation its whole process group is killed.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use crate::core::process;

/// Output kept from each of a hook's streams; the rest is dropped and said so.
const MAX_STREAM_BYTES: usize = 64 * 1024;
/// How long the pipes may stay open once the hook has exited (held by something it left
/// running in its group); then the group is killed.
const EXIT_GRACE: Duration = Duration::from_millis(500);

/// How a hook process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// Its exit code (`None` when a signal ended it).
    Code(Option<i32>),
    TimedOut(Duration),
    Cancelled,
    /// It could not be started.
    SpawnFailed(String),
}

/// What one hook run produced.
#[derive(Debug, Clone)]
pub struct RawRun {
    pub exit: Exit,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

/// Runs `command` with `input` on stdin.
pub async fn run(
    command: &str,
    input: &str,
    project_dir: &Path,
    timeout: Duration,
    cancel: &CancellationToken,
) -> RawRun {
    let started = Instant::now();
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .current_dir(project_dir)
        .env("CLAUDE_PROJECT_DIR", project_dir)
        .env("BOOCODE_PROJECT_DIR", project_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let (mut child, group) = match process::spawn(&mut cmd) {
        Ok(spawned) => spawned,
        Err(e) => {
            return RawRun {
                exit: Exit::SpawnFailed(format!("cannot start sh: {e}")),
                stdout: String::new(),
                stderr: String::new(),
                elapsed: started.elapsed(),
            }
        }
    };
    let stdin = child.stdin.take();
    let input = input.as_bytes().to_vec();
    // A hook that never reads its stdin must not block on it: the write happens beside the
    // wait, and a closed pipe is that hook's business.
    let feeder = tokio::spawn(async move {
        if let Some(mut stdin) = stdin {
            let _ = stdin.write_all(&input).await;
        }
    });
    let stdout = child.stdout.take().map(|s| tokio::spawn(read_capped(s)));
    let stderr = child.stderr.take().map(|s| tokio::spawn(read_capped(s)));

    let exit = tokio::select! {
        status = child.wait() => Exit::Code(status.ok().and_then(|s| s.code())),
        _ = tokio::time::sleep(timeout) => Exit::TimedOut(timeout),
        _ = cancel.cancelled() => Exit::Cancelled,
    };
    if !matches!(exit, Exit::Code(_)) {
        group.kill();
    }
    feeder.abort();
    let (stdout, stderr) = collect(stdout, stderr, &group).await;
    // `group` drops here: whatever the hook left in its group is killed with it.
    drop(group);
    RawRun {
        exit,
        stdout,
        stderr,
        elapsed: started.elapsed(),
    }
}

type Reader = tokio::task::JoinHandle<String>;

/// The streams' text, waiting at most [`EXIT_GRACE`] for them to close before killing the
/// group that holds them open.
async fn collect(
    stdout: Option<Reader>,
    stderr: Option<Reader>,
    group: &process::ProcessGroup,
) -> (String, String) {
    let both = async {
        let out = match stdout {
            Some(h) => h.await.unwrap_or_default(),
            None => String::new(),
        };
        let err = match stderr {
            Some(h) => h.await.unwrap_or_default(),
            None => String::new(),
        };
        (out, err)
    };
    tokio::pin!(both);
    tokio::select! {
        texts = &mut both => texts,
        _ = tokio::time::sleep(EXIT_GRACE) => {
            group.kill();
            tokio::time::timeout(EXIT_GRACE, both).await.unwrap_or_default()
        }
    }
}

async fn read_capped(mut stream: impl AsyncRead + Unpin) -> String {
    let mut kept = Vec::new();
    let mut dropped = 0usize;
    let mut buf = [0u8; 8192];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = MAX_STREAM_BYTES.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
                dropped += n.saturating_sub(room);
            }
        }
    }
    let mut text = String::from_utf8_lossy(&kept).into_owned();
    if dropped > 0 {
        text.push_str(&format!("\n[{dropped} more bytes not kept]"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn run_sh(command: &str, timeout: Duration) -> RawRun {
        let dir = std::env::temp_dir();
        run(
            command,
            r#"{"hook_event_name":"Stop"}"#,
            &dir,
            timeout,
            &CancellationToken::new(),
        )
        .await
    }

    #[tokio::test]
    async fn stdin_env_exit_code_and_streams_come_through() {
        let out = run_sh(
            "cat; echo \" $BOOCODE_PROJECT_DIR $CLAUDE_PROJECT_DIR key=${DEEPSEEK_API_KEY-unset}\"; echo oops >&2; exit 3",
            Duration::from_secs(10),
        )
        .await;
        assert_eq!(out.exit, Exit::Code(Some(3)));
        let dir = std::env::temp_dir().display().to_string();
        assert_eq!(
            out.stdout.trim(),
            format!(r#"{{"hook_event_name":"Stop"}} {dir} {dir} key=unset"#)
        );
        assert_eq!(out.stderr, "oops\n");
    }

    #[tokio::test]
    async fn a_hanging_hook_and_what_it_started_are_killed_at_the_timeout() {
        let marker = std::env::temp_dir().join(format!("hook-hang-{}", uuid::Uuid::new_v4()));
        let command = format!("(sleep 1.5; touch {}) & sleep 30", marker.display());
        let out = run_sh(&command, Duration::from_millis(300)).await;
        assert_eq!(out.exit, Exit::TimedOut(Duration::from_millis(300)));
        assert!(out.elapsed < Duration::from_secs(3), "{:?}", out.elapsed);
        tokio::time::sleep(Duration::from_millis(1600)).await;
        assert!(
            !marker.exists(),
            "the hook's background child outlived the kill"
        );
    }

    #[tokio::test]
    async fn a_hook_that_ignores_stdin_and_leaves_a_child_holding_stdout_ends_promptly() {
        let out = run_sh("sleep 30 & echo started", Duration::from_secs(20)).await;
        assert_eq!(out.exit, Exit::Code(Some(0)));
        assert_eq!(out.stdout, "started\n");
        assert!(out.elapsed < Duration::from_secs(5), "{:?}", out.elapsed);
    }
}
