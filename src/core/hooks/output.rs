//! What a finished hook said, read with Claude Code's rules:
//!
//! - exit 0: success; stdout may be a JSON object with decisions (below), otherwise it is plain
//!   text (which `UserPromptSubmit` adds to the prompt as context);
//! - exit 2: a block; stderr is the reason and stdout is ignored;
//! - any other exit, a timeout, or stdout that looks like JSON and is not: the hook failed,
//!   which is reported and changes nothing.
//!
//! JSON fields: `continue: false` + `stopReason` (end the turn), `systemMessage` (shown to the
//! user), `decision: "block"|"approve"` + `reason`, and `hookSpecificOutput` with
//! `permissionDecision: "allow"|"deny"|"ask"`, `permissionDecisionReason`, `additionalContext`,
//! `updatedInput`.

use serde::Deserialize;
use serde_json::Value;

use super::runner::{Exit, RawRun};

/// `PreToolUse`'s say over the call, strongest last (Claude Code: deny > ask > allow).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Permission {
    Allow,
    Ask,
    Deny,
}

/// One hook run, read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Verdict {
    /// Why the hook failed (it then decides nothing).
    pub failure: Option<String>,
    /// Exit 2, or `decision: "block"`: the reason.
    pub block: Option<String>,
    pub permission: Option<Permission>,
    /// Why it allowed, denied or asked.
    pub permission_reason: Option<String>,
    /// Text for the model (`additionalContext`, or `UserPromptSubmit`'s plain stdout).
    pub context: Option<String>,
    /// `systemMessage`: for the user.
    pub system_message: Option<String>,
    /// `continue: false`: the turn ends, with this reason.
    pub stop: Option<String>,
    /// `updatedInput`: the tool call's arguments to use instead.
    pub updated_input: Option<Value>,
}

impl Verdict {
    /// The `tool_traces.outcome` of the run.
    pub fn outcome(&self, exit: &Exit) -> &'static str {
        match exit {
            Exit::TimedOut(_) => "timeout",
            Exit::Cancelled => "cancelled",
            _ if self.failure.is_some() => "error",
            _ if self.block.is_some() || self.permission == Some(Permission::Deny) => "blocked",
            _ if self.stop.is_some() => "stopped",
            _ => "success",
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonOutput {
    #[serde(rename = "continue")]
    keep_going: Option<bool>,
    stop_reason: Option<String>,
    system_message: Option<String>,
    decision: Option<String>,
    reason: Option<String>,
    hook_specific_output: Option<SpecificOutput>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SpecificOutput {
    permission_decision: Option<String>,
    permission_decision_reason: Option<String>,
    additional_context: Option<String>,
    updated_input: Option<Value>,
}

/// Reads a run; `plain_stdout_is_context` for `UserPromptSubmit`.
pub fn read(run: &RawRun, plain_stdout_is_context: bool) -> Verdict {
    let failed = |why: String| Verdict {
        failure: Some(why),
        ..Verdict::default()
    };
    match &run.exit {
        Exit::SpawnFailed(why) => return failed(why.clone()),
        Exit::TimedOut(after) => {
            return failed(format!(
                "timed out after {} s and was killed",
                after.as_secs_f64()
            ))
        }
        Exit::Cancelled => return failed("cancelled with the turn".into()),
        Exit::Code(Some(2)) => {
            let reason = run.stderr.trim();
            return Verdict {
                block: Some(if reason.is_empty() {
                    "blocked by a hook (exit 2, no reason given on stderr)".into()
                } else {
                    reason.to_string()
                }),
                ..Verdict::default()
            };
        }
        Exit::Code(Some(0)) => {}
        Exit::Code(code) => {
            let status = code.map_or("was killed by a signal".into(), |c| format!("exit {c}"));
            let stderr = run.stderr.trim();
            return failed(if stderr.is_empty() {
                status
            } else {
                format!("{status}: {stderr}")
            });
        }
    }
    let stdout = run.stdout.trim();
    if !stdout.starts_with('{') {
        return Verdict {
            context: (plain_stdout_is_context && !stdout.is_empty()).then(|| stdout.to_string()),
            ..Verdict::default()
        };
    }
    let json: JsonOutput = match serde_json::from_str(stdout) {
        Ok(json) => json,
        Err(e) => return failed(format!("its output is not valid hook JSON: {e}")),
    };
    from_json(json)
}

fn from_json(json: JsonOutput) -> Verdict {
    let specific = json.hook_specific_output.unwrap_or_default();
    let legacy = match json.decision.as_deref() {
        Some("block") => Some(Permission::Deny),
        Some("approve") => Some(Permission::Allow),
        _ => None,
    };
    let permission = match specific.permission_decision.as_deref() {
        Some("allow") => Some(Permission::Allow),
        Some("ask") => Some(Permission::Ask),
        Some("deny") => Some(Permission::Deny),
        _ => legacy,
    };
    let permission_reason = specific
        .permission_decision_reason
        .or_else(|| json.reason.clone());
    let block = (json.decision.as_deref() == Some("block")).then(|| {
        json.reason
            .clone()
            .unwrap_or_else(|| "blocked by a hook".into())
    });
    Verdict {
        failure: None,
        block,
        permission,
        permission_reason,
        context: specific.additional_context.filter(|c| !c.trim().is_empty()),
        system_message: json.system_message,
        stop: (json.keep_going == Some(false)).then(|| {
            json.stop_reason
                .unwrap_or_else(|| "a hook ended the turn".into())
        }),
        updated_input: specific.updated_input,
    }
}

/// The trace text of a run: how it ended and what it printed.
pub fn describe(run: &RawRun) -> String {
    let mut text = match &run.exit {
        Exit::Code(Some(code)) => format!("exit {code}"),
        Exit::Code(None) => "killed by a signal".into(),
        Exit::TimedOut(after) => format!("timed out after {} s", after.as_secs_f64()),
        Exit::Cancelled => "cancelled".into(),
        Exit::SpawnFailed(why) => why.clone(),
    };
    for (name, stream) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        if !stream.trim().is_empty() {
            text.push_str(&format!("\n{name}:\n{}", stream.trim_end()));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn exited(code: i32, stdout: &str, stderr: &str) -> RawRun {
        RawRun {
            exit: Exit::Code(Some(code)),
            stdout: stdout.into(),
            stderr: stderr.into(),
            elapsed: Duration::ZERO,
        }
    }

    #[test]
    fn exit_2_blocks_with_stderr_and_ignores_stdout() {
        let v = read(
            &exited(2, r#"{"decision":"approve"}"#, "no writes here\n"),
            false,
        );
        assert_eq!(v.block.as_deref(), Some("no writes here"));
        assert_eq!(v.permission, None);
        assert_eq!(v.outcome(&Exit::Code(Some(2))), "blocked");
    }

    #[test]
    fn other_exit_codes_and_bad_json_are_failures_that_decide_nothing() {
        let v = read(&exited(1, "", "boom"), false);
        assert_eq!(v.failure.as_deref(), Some("exit 1: boom"));
        assert!(v.block.is_none());
        let v = read(&exited(0, "{not json", ""), false);
        assert!(v.failure.unwrap().contains("not valid hook JSON"));
        let timed_out = RawRun {
            exit: Exit::TimedOut(Duration::from_secs(2)),
            ..exited(0, "", "")
        };
        let v = read(&timed_out, false);
        assert_eq!(
            v.failure.as_deref(),
            Some("timed out after 2 s and was killed")
        );
        assert_eq!(v.outcome(&timed_out.exit), "timeout");
    }

    #[test]
    fn legacy_and_current_json_decisions() {
        let v = read(
            &exited(0, r#"{"decision":"block","reason":"tests first"}"#, ""),
            false,
        );
        assert_eq!(v.block.as_deref(), Some("tests first"));
        assert_eq!(v.permission, Some(Permission::Deny));
        let v = read(
            &exited(
                0,
                r#"{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"deny","permissionDecisionReason":"protected path"}}"#,
                "",
            ),
            false,
        );
        assert_eq!(v.permission, Some(Permission::Deny));
        assert_eq!(v.permission_reason.as_deref(), Some("protected path"));
        assert_eq!(v.outcome(&Exit::Code(Some(0))), "blocked");
        let v = read(&exited(0, r#"{"decision":"approve"}"#, ""), false);
        assert_eq!(v.permission, Some(Permission::Allow));
        let v = read(
            &exited(
                0,
                r#"{"continue":false,"stopReason":"budget","systemMessage":"hi","hookSpecificOutput":{"additionalContext":"ctx","updatedInput":{"a":1}}}"#,
                "",
            ),
            false,
        );
        assert_eq!(v.stop.as_deref(), Some("budget"));
        assert_eq!(v.system_message.as_deref(), Some("hi"));
        assert_eq!(v.context.as_deref(), Some("ctx"));
        assert_eq!(v.updated_input, Some(serde_json::json!({"a": 1})));
    }

    #[test]
    fn plain_stdout_is_context_only_where_the_event_says_so() {
        let run = exited(0, "branch: main\n", "");
        assert_eq!(read(&run, true).context.as_deref(), Some("branch: main"));
        assert_eq!(read(&run, false), Verdict::default());
    }

    #[test]
    fn the_trace_text_says_how_it_ended_and_what_it_printed() {
        assert_eq!(describe(&exited(2, "", "nope\n")), "exit 2\nstderr:\nnope");
    }
}
