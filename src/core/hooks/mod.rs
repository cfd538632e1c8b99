//! Hooks in Claude Code's format: shell commands the user (or, once approved, the project)
//! configures to run at fixed points — before and after a tool call, when a prompt is
//! submitted, when a turn or a sub-agent stops, and on notifications. They get Claude Code's
//! JSON on stdin and answer with its exit codes and JSON, so hooks written for Claude Code run
//! unchanged.
//!
//! - [`settings`]: where definitions come from and their shape;
//! - [`matcher`]: which hooks apply to a tool (boocode's names and Claude Code's);
//! - [`runner`]: running one command (own process group, timeout, keys withheld);
//! - [`output`]: what its exit code and output mean;
//! - [`points`]: the calls the agent loop, background workers and workflow runs make;
//! - [`transcript`]: the chat as a file, for `transcript_path`.
//!
//! Definitions are read once, when the engine starts (as Claude Code snapshots them at
//! startup): an edit takes effect in the next boocode process.

pub mod matcher;
pub mod output;
pub mod points;
pub mod runner;
pub mod settings;
pub mod transcript;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::core::agent::clip;
use crate::core::events::Event;
use crate::core::runtime::Runtime;
use crate::core::store::{Chat, TraceCompletion, TraceRow};
use crate::core::trust::{fingerprint, ProjectTrust, TrustKind, TrustStatus};
use output::Verdict;
use settings::{HookDefinition, Scope};

/// The events boocode runs hooks for (Claude Code's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum HookEvent {
    PreToolUse,
    PostToolUse,
    UserPromptSubmit,
    Stop,
    SubagentStop,
    Notification,
}

impl HookEvent {
    pub const ALL: [HookEvent; 6] = [
        HookEvent::PreToolUse,
        HookEvent::PostToolUse,
        HookEvent::UserPromptSubmit,
        HookEvent::Stop,
        HookEvent::SubagentStop,
        HookEvent::Notification,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HookEvent::PreToolUse => "PreToolUse",
            HookEvent::PostToolUse => "PostToolUse",
            HookEvent::UserPromptSubmit => "UserPromptSubmit",
            HookEvent::Stop => "Stop",
            HookEvent::SubagentStop => "SubagentStop",
            HookEvent::Notification => "Notification",
        }
    }

    pub fn parse(name: &str) -> Option<HookEvent> {
        HookEvent::ALL.into_iter().find(|e| e.as_str() == name)
    }

    /// What the event's matcher is tested against, when it has one: the tool name for tool
    /// events, the notification type, the agent type of a stopping sub-agent. Prompts and
    /// stops run every hook of their event, as in Claude Code.
    fn uses_matcher(self) -> bool {
        !matches!(self, HookEvent::UserPromptSubmit | HookEvent::Stop)
    }
}

/// The name a project's hooks are approved under in the trust store: they are one decision,
/// bound to the fingerprint of all of them, so any change to any of them asks again.
pub const TRUST_NAME: &str = "project-hooks";

/// Whether the project's own hooks may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProjectApproval {
    /// The project defines no hooks.
    NoneDefined,
    Approved,
    Denied,
    /// Never decided, or decided for definitions that have since changed.
    NeedsApproval,
}

/// The hooks of one engine: every definition found. Whether the project's may run is asked of
/// the trust store each time they would, so a decision taken meanwhile (`boocode hooks
/// approve` in another terminal) applies at once.
#[derive(Debug, Clone)]
pub struct Hooks {
    project_root: PathBuf,
    definitions: Vec<HookDefinition>,
    /// One line per settings file or entry that could not be used.
    pub problems: Vec<String>,
    /// SHA-256 of the project's definitions; `None` when it has none.
    project_fingerprint: Option<String>,
    transcripts: transcript::Transcripts,
}

impl Hooks {
    /// Reads the settings files of `project_root` and of the user.
    pub fn load(
        project_root: &Path,
        user_home: Option<&Path>,
        user_config_dir: Option<&Path>,
    ) -> Hooks {
        let (definitions, problems) =
            settings::load(&settings::sources(project_root, user_home, user_config_dir));
        let project: Vec<Value> = definitions
            .iter()
            .filter(|d| d.scope == Scope::Project)
            .map(|d| {
                json!({
                    "source": d.source,
                    "event": d.event.as_str(),
                    "matcher": d.matcher_text,
                    "command": d.command,
                    "timeout_secs": d.timeout.as_secs_f64(),
                })
            })
            .collect();
        let project_fingerprint =
            (!project.is_empty()).then(|| fingerprint(&Value::Array(project)));
        Hooks {
            project_root: project_root.to_path_buf(),
            definitions,
            problems,
            project_fingerprint,
            transcripts: transcript::Transcripts::default(),
        }
    }

    pub fn definitions(&self) -> &[HookDefinition] {
        &self.definitions
    }

    /// Whether the project's hooks may run now.
    pub fn project_approval(&self, trust: &ProjectTrust) -> ProjectApproval {
        let Some(print) = &self.project_fingerprint else {
            return ProjectApproval::NoneDefined;
        };
        match trust.status(&self.project_root, TrustKind::Hooks, TRUST_NAME, print) {
            Ok(TrustStatus::Approved) => ProjectApproval::Approved,
            Ok(TrustStatus::Denied) => ProjectApproval::Denied,
            Ok(TrustStatus::Unknown) => ProjectApproval::NeedsApproval,
            Err(e) => {
                tracing::error!("reading the approval of the project's hooks failed: {e:#}");
                ProjectApproval::NeedsApproval
            }
        }
    }

    /// Records a person's decision about the project's hooks as they are now; returns how many
    /// there are. Only ever called on a person's explicit act (`boocode hooks approve|deny`).
    pub fn decide(&self, trust: &ProjectTrust, allow: bool) -> anyhow::Result<usize> {
        let Some(print) = &self.project_fingerprint else {
            anyhow::bail!(
                "{} defines no hooks (.claude/settings.json, .claude/settings.local.json, .boocode/settings.json)",
                self.project_root.display()
            );
        };
        trust.decide(
            &self.project_root,
            TrustKind::Hooks,
            TRUST_NAME,
            print,
            allow,
        )?;
        Ok(self.project_count())
    }

    /// How many hooks the project itself defines.
    pub fn project_count(&self) -> usize {
        self.definitions
            .iter()
            .filter(|d| d.scope == Scope::Project)
            .count()
    }

    /// What a person should know: unusable settings, and (with `approval`) project hooks that
    /// do not run until approved.
    pub fn notes(&self, approval: Option<ProjectApproval>) -> Vec<String> {
        let mut notes: Vec<String> = self
            .problems
            .iter()
            .map(|p| format!("hooks: {p}"))
            .collect();
        let count = self.project_count();
        match approval {
            Some(ProjectApproval::NeedsApproval) => notes.push(format!(
                "this project defines {count} hook(s) that are not run until you approve them: `boocode hooks list` shows them, `boocode hooks approve` runs them from now on, `boocode hooks deny` keeps them off"
            )),
            Some(ProjectApproval::Denied) => notes.push(format!(
                "this project's {count} hook(s) are not run: you denied them (`boocode hooks approve` to run them)"
            )),
            Some(ProjectApproval::NoneDefined | ProjectApproval::Approved) | None => {}
        }
        notes
    }

    /// The hooks to run for `event` on `subject` (tool name, notification type, agent type):
    /// matching, allowed to run, and each distinct command once (Claude Code runs identical
    /// commands once).
    fn matching(
        &self,
        event: HookEvent,
        subject: Option<&str>,
        project_approved: bool,
    ) -> Vec<&HookDefinition> {
        let mut picked: Vec<&HookDefinition> = Vec::new();
        for def in &self.definitions {
            let allowed = def.scope == Scope::User || project_approved;
            let matches =
                !event.uses_matcher() || subject.is_none_or(|subject| def.matcher.matches(subject));
            if def.event == event
                && allowed
                && matches
                && !picked.iter().any(|p| p.command == def.command)
            {
                picked.push(def);
            }
        }
        picked
    }

    pub fn has(&self, event: HookEvent) -> bool {
        self.definitions.iter().any(|d| d.event == event)
    }
}

/// Where a hook runs: the chat it is for (its trace rows go there), the turn, the directory
/// the agent works in, and what cancels it.
pub struct HookScope<'a> {
    pub chat: Option<&'a Chat>,
    pub turn: i64,
    /// The agent's working directory (a worktree for an isolated agent), sent as `cwd`.
    pub cwd: &'a Path,
    /// Claude Code's `permission_mode` for this approval mode.
    pub permission_mode: &'static str,
    pub cancel: &'a CancellationToken,
}

/// Runs the hooks of `event` that match `subject` in parallel, each with `input` (the event's
/// fields; the common ones are added) and traced; returns their verdicts in definition order.
pub(crate) async fn fire(
    rt: &Runtime,
    scope: &HookScope<'_>,
    event: HookEvent,
    subject: Option<&str>,
    mut input: Value,
) -> Vec<Verdict> {
    if !rt.hooks.has(event) {
        return Vec::new();
    }
    let trust = ProjectTrust::new(rt.store.clone());
    let project_approved = rt.hooks.project_approval(&trust) == ProjectApproval::Approved;
    let hooks = rt.hooks.matching(event, subject, project_approved);
    if hooks.is_empty() {
        return Vec::new();
    }
    if let Value::Object(fields) = &mut input {
        let session = scope.chat.map(|c| c.id.clone());
        fields.entry("session_id").or_insert(json!(session));
        if !fields.contains_key("transcript_path") {
            if let Some(path) = scope.chat.and_then(|c| transcript_path(rt, &c.id)) {
                fields.insert("transcript_path".into(), json!(path));
            }
        }
        fields.insert("cwd".into(), json!(scope.cwd));
        fields.insert("hook_event_name".into(), json!(event.as_str()));
        fields.insert("permission_mode".into(), json!(scope.permission_mode));
    }
    let stdin = input.to_string();
    join_all(
        hooks
            .into_iter()
            .map(|def| run_traced(rt, scope, def, subject, &stdin)),
    )
    .await
}

/// The chat's transcript file, brought up to date; `None` (logged) when it cannot be written,
/// so a hook is never sent a path that does not exist.
pub(crate) fn transcript_path(rt: &Runtime, chat_id: &str) -> Option<PathBuf> {
    rt.hooks
        .transcripts
        .export(&rt.store, &rt.config.home, chat_id)
        .map_err(|e| {
            tracing::error!("writing the transcript of chat {chat_id} for a hook failed: {e:#}")
        })
        .ok()
}

/// Runs one hook with its trace row (when it belongs to a chat) and its event.
async fn run_traced(
    rt: &Runtime,
    scope: &HookScope<'_>,
    def: &HookDefinition,
    subject: Option<&str>,
    stdin: &str,
) -> Verdict {
    let trace_id = scope.chat.and_then(|chat| {
        let row = TraceRow::hook(
            chat,
            scope.turn,
            def.event.as_str(),
            json!({
                "command": def.command,
                "matcher": def.matcher_text,
                "on": subject,
                "source": def.source,
            })
            .to_string(),
        );
        match rt.store.begin_trace(&row) {
            Ok(()) => Some(row.id),
            Err(e) => {
                tracing::error!("writing the trace of a hook failed: {e:#}");
                None
            }
        }
    });
    let run = runner::run(
        &def.command,
        stdin,
        &rt.project_root,
        def.timeout,
        scope.cancel,
    )
    .await;
    let verdict = output::read(&run, def.event == HookEvent::UserPromptSubmit);
    let outcome = verdict.outcome(&run.exit);
    let message = verdict
        .failure
        .clone()
        .or_else(|| verdict.block.clone())
        .or_else(|| verdict.permission_reason.clone());
    let latency_ms = duration_ms(run.elapsed);
    if let Some(trace_id) = &trace_id {
        let done = TraceCompletion {
            output: &output::describe(&run),
            diff: None,
            error: verdict.failure.as_deref(),
            outcome,
            latency_ms,
        };
        if let Err(e) = rt.store.finish_trace(trace_id, &done) {
            tracing::error!("completing the trace of a hook failed: {e:#}");
        }
    }
    if let Some(failure) = &verdict.failure {
        tracing::warn!(
            "{} hook `{}` ({}) failed: {failure}",
            def.event.as_str(),
            def.command,
            def.source.display()
        );
    }
    rt.emit(Event::HookFinished {
        chat_id: scope.chat.map(|c| c.id.clone()),
        trace_id,
        event: def.event.as_str().to_string(),
        command: def.command.clone(),
        outcome: outcome.to_string(),
        latency_ms,
        message,
        system_message: verdict.system_message.clone(),
    });
    verdict
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Tells the client (and the log) what it should know about the engine's hooks. The
/// workspace asks about hooks waiting for approval on its decision line instead
/// ([`crate::core::project_approval`]), so it is not told twice.
pub(crate) fn announce(rt: &Arc<Runtime>) {
    let approval = rt
        .hooks
        .project_approval(&ProjectTrust::new(rt.store.clone()));
    let approval = match approval {
        ProjectApproval::NeedsApproval if rt.interactive => None,
        other => Some(other),
    };
    for note in rt.hooks.notes(approval) {
        tracing::warn!("{note}");
        rt.emit(Event::Notice { message: note });
    }
}

/// The lines a client shows for a [`Event::HookFinished`]: how the hook ended unless it was a
/// quiet success, and its `systemMessage`. Empty for any other event.
pub fn report_lines(event: &Event) -> Vec<String> {
    let Event::HookFinished {
        event,
        command,
        outcome,
        message,
        system_message,
        ..
    } = event
    else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    let command = clip(command, 60);
    match (outcome.as_str(), message) {
        ("success", None) => {}
        (_, Some(message)) => lines.push(format!("{event} hook `{command}` {outcome}: {message}")),
        (_, None) => lines.push(format!("{event} hook `{command}` {outcome}")),
    }
    if let Some(text) = system_message {
        lines.push(format!("{event} hook: {text}"));
    }
    lines
}
