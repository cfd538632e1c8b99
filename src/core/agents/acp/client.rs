//! boocode's side of the protocol: what an agent may ask of it. Permission requests go to the
//! person (or, headless, to the approval mode); files are read and written only inside the
//! agent's working directory, under the native tools' path guard; commands run in terminal
//! sessions of boocode's own (see `terminals.rs`).
//!
//! Running a command is a person's decision. Read-only refuses `terminal/create`. Otherwise a
//! command runs without a second question when the agent already asked for it this turn
//! (an allowed `session/request_permission` for an `execute` call, which the command uses up)
//! or the person allowed such calls for the rest of the chat; else the person is asked here
//! (headless, the approval mode answers: only `auto` allows).

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use agent_client_protocol as acp;
use tokio_util::sync::CancellationToken;

use crate::core::agent::tools::path_guard;
use crate::core::agent::tools::ApprovalMode;
use crate::core::events::{Event, PermissionAnswer};
use crate::core::runtime::Runtime;

use super::terminals::{exit_status, Terminals};

/// The permission key of calls that run commands (an ACP `execute` tool call).
const EXECUTE: &str = "Execute";

pub struct AcpClient {
    pub rt: Arc<Runtime>,
    pub chat_id: String,
    pub cwd: PathBuf,
    pub approval: ApprovalMode,
    /// The running turn's token: a cancelled turn answers open questions `cancelled`.
    pub turn: RefCell<Option<CancellationToken>>,
    /// Kinds of tool call the person allowed for the rest of the chat.
    always_allowed: RefCell<HashSet<String>>,
    /// `execute` calls allowed this turn whose command has not run yet.
    commands_allowed: Cell<usize>,
    pub terminals: Terminals,
}

impl AcpClient {
    pub fn new(rt: Arc<Runtime>, chat_id: String, cwd: PathBuf, approval: ApprovalMode) -> Self {
        AcpClient {
            rt,
            chat_id,
            approval,
            turn: RefCell::new(None),
            always_allowed: RefCell::new(HashSet::new()),
            commands_allowed: Cell::new(0),
            terminals: Terminals::new(cwd.clone()),
            cwd,
        }
    }

    /// A turn starts (`Some`) or ends: permissions given for one turn's calls do not carry over.
    pub fn set_turn(&self, token: Option<CancellationToken>) {
        *self.turn.borrow_mut() = token;
        self.commands_allowed.set(0);
    }

    /// Whether the command `line` may run; see the module docs.
    async fn may_run(&self, line: &str) -> acp::Result<()> {
        if self.approval == ApprovalMode::ReadOnly {
            return Err(invalid(
                "running commands is refused: boocode runs this agent read-only",
            ));
        }
        let allowed = self.commands_allowed.get();
        if allowed > 0 {
            self.commands_allowed.set(allowed - 1);
            return Ok(());
        }
        let decided = self.decide(EXECUTE, &format!("Run {line}")).await;
        if let Some((request_id, answer)) = &decided {
            self.rt.emit(Event::PermissionAnswered {
                chat_id: self.chat_id.clone(),
                request_id: request_id.clone(),
                answer: *answer,
            });
        }
        match decided {
            Some((_, PermissionAnswer::AllowOnce | PermissionAnswer::AllowAlways)) => Ok(()),
            _ => Err(invalid(format!("running {line} was not allowed"))),
        }
    }

    /// The answer when no person is asked: headless, the approval mode decides.
    fn unattended_answer(&self) -> PermissionAnswer {
        match self.approval {
            ApprovalMode::Auto => PermissionAnswer::AllowOnce,
            ApprovalMode::ReadOnly | ApprovalMode::Review => PermissionAnswer::Reject,
        }
    }

    async fn decide(&self, key: &str, title: &str) -> Option<(String, PermissionAnswer)> {
        let request_id = crate::core::store::new_id();
        if self.always_allowed.borrow().contains(key) {
            return Some((request_id, PermissionAnswer::AllowOnce));
        }
        if !self.rt.interactive {
            return Some((request_id, self.unattended_answer()));
        }
        let answer = self.rt.agents.permissions.ask(&request_id);
        self.rt.emit(Event::PermissionRequested {
            chat_id: self.chat_id.clone(),
            request_id: request_id.clone(),
            title: title.to_string(),
        });
        let token = self.turn.borrow().clone().unwrap_or_default();
        let decided = tokio::select! {
            a = answer => a.ok(),
            _ = token.cancelled() => None,
        };
        self.rt.agents.permissions.forget(&request_id);
        if decided == Some(PermissionAnswer::AllowAlways) {
            self.always_allowed.borrow_mut().insert(key.to_string());
        }
        decided.map(|a| (request_id, a))
    }
}

/// The option of `options` that carries `answer`, by kind: an "always" answer takes the
/// agent's own "always" option when it has one (so the agent remembers too), else "once".
fn pick_option(
    options: &[acp::PermissionOption],
    answer: PermissionAnswer,
) -> Option<acp::PermissionOptionId> {
    use acp::PermissionOptionKind as K;
    let preference: &[K] = match answer {
        PermissionAnswer::AllowOnce => &[K::AllowOnce, K::AllowAlways],
        PermissionAnswer::AllowAlways => &[K::AllowAlways, K::AllowOnce],
        PermissionAnswer::Reject => &[K::RejectOnce, K::RejectAlways],
    };
    preference.iter().find_map(|kind| {
        options
            .iter()
            .find(|o| o.kind == *kind)
            .map(|o| o.option_id.clone())
    })
}

pub(super) fn invalid(message: impl Into<String>) -> acp::Error {
    acp::Error::invalid_params().data(serde_json::Value::String(message.into()))
}

#[async_trait::async_trait(?Send)]
impl acp::Client for AcpClient {
    async fn request_permission(
        &self,
        args: acp::RequestPermissionRequest,
    ) -> acp::Result<acp::RequestPermissionResponse> {
        let fields = &args.tool_call.fields;
        let title = fields
            .title
            .clone()
            .unwrap_or_else(|| args.tool_call.tool_call_id.to_string());
        let key = match fields.kind {
            Some(kind) => format!("{kind:?}"),
            None => title.clone(),
        };
        let outcome = match self.decide(&key, &title).await {
            Some((request_id, answer)) => {
                if key == EXECUTE && answer != PermissionAnswer::Reject {
                    self.commands_allowed.set(self.commands_allowed.get() + 1);
                }
                self.rt.emit(Event::PermissionAnswered {
                    chat_id: self.chat_id.clone(),
                    request_id,
                    answer,
                });
                match pick_option(&args.options, answer) {
                    Some(id) => acp::RequestPermissionOutcome::Selected(
                        acp::SelectedPermissionOutcome::new(id),
                    ),
                    None => acp::RequestPermissionOutcome::Cancelled,
                }
            }
            None => acp::RequestPermissionOutcome::Cancelled,
        };
        Ok(acp::RequestPermissionResponse::new(outcome))
    }

    async fn session_notification(&self, _args: acp::SessionNotification) -> acp::Result<()> {
        // Updates are read off the wire in order (see wire.rs) and never reach this handler.
        Ok(())
    }

    async fn read_text_file(
        &self,
        args: acp::ReadTextFileRequest,
    ) -> acp::Result<acp::ReadTextFileResponse> {
        let path = path_guard::resolve(&self.cwd, &[], &args.path.to_string_lossy())
            .map_err(|e| invalid(e.to_string()))?;
        let text = tokio::fs::read_to_string(&path)
            .await
            .map_err(|e| invalid(format!("{}: {e}", args.path.display())))?;
        let first = args.line.map_or(0, |l| l.saturating_sub(1) as usize);
        let text = match (args.line, args.limit) {
            (None, None) => text,
            (_, limit) => text
                .split_inclusive('\n')
                .skip(first)
                .take(limit.map_or(usize::MAX, |l| l as usize))
                .collect(),
        };
        Ok(acp::ReadTextFileResponse::new(text))
    }

    async fn write_text_file(
        &self,
        args: acp::WriteTextFileRequest,
    ) -> acp::Result<acp::WriteTextFileResponse> {
        if self.approval == ApprovalMode::ReadOnly {
            return Err(invalid(
                "writing files is refused: boocode runs this agent read-only",
            ));
        }
        let path = path_guard::resolve(&self.cwd, &[], &args.path.to_string_lossy())
            .map_err(|e| invalid(e.to_string()))?;
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| invalid(format!("{}: {e}", parent.display())))?;
        }
        tokio::fs::write(&path, args.content)
            .await
            .map_err(|e| invalid(format!("{}: {e}", args.path.display())))?;
        Ok(acp::WriteTextFileResponse::new())
    }

    async fn create_terminal(
        &self,
        args: acp::CreateTerminalRequest,
    ) -> acp::Result<acp::CreateTerminalResponse> {
        let line = std::iter::once(args.command.as_str())
            .chain(args.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ");
        self.may_run(&line).await?;
        let id = self.terminals.create(&args)?;
        Ok(acp::CreateTerminalResponse::new(id))
    }

    async fn terminal_output(
        &self,
        args: acp::TerminalOutputRequest,
    ) -> acp::Result<acp::TerminalOutputResponse> {
        let text = self.terminals.output(&args.terminal_id.to_string())?;
        Ok(
            acp::TerminalOutputResponse::new(text.output, text.truncated)
                .exit_status(text.exit.map(exit_status)),
        )
    }

    async fn wait_for_terminal_exit(
        &self,
        args: acp::WaitForTerminalExitRequest,
    ) -> acp::Result<acp::WaitForTerminalExitResponse> {
        let exit = self
            .terminals
            .wait_for_exit(&args.terminal_id.to_string())
            .await?;
        Ok(acp::WaitForTerminalExitResponse::new(exit_status(exit)))
    }

    async fn kill_terminal(
        &self,
        args: acp::KillTerminalRequest,
    ) -> acp::Result<acp::KillTerminalResponse> {
        self.terminals.kill(&args.terminal_id.to_string())?;
        Ok(acp::KillTerminalResponse::new())
    }

    async fn release_terminal(
        &self,
        args: acp::ReleaseTerminalRequest,
    ) -> acp::Result<acp::ReleaseTerminalResponse> {
        self.terminals.release(&args.terminal_id.to_string())?;
        Ok(acp::ReleaseTerminalResponse::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn option(id: &str, kind: acp::PermissionOptionKind) -> acp::PermissionOption {
        acp::PermissionOption::new(id.to_string(), id.to_string(), kind)
    }

    #[test]
    fn answers_map_to_the_agents_options_by_kind() {
        use acp::PermissionOptionKind as K;
        let all = [
            option("once", K::AllowOnce),
            option("always", K::AllowAlways),
            option("no", K::RejectOnce),
        ];
        let id = |o: Option<acp::PermissionOptionId>| o.map(|i| i.to_string());
        assert_eq!(
            id(pick_option(&all, PermissionAnswer::AllowOnce)),
            Some("once".into())
        );
        assert_eq!(
            id(pick_option(&all, PermissionAnswer::AllowAlways)),
            Some("always".into())
        );
        assert_eq!(
            id(pick_option(&all, PermissionAnswer::Reject)),
            Some("no".into())
        );
        let once_only = [option("once", K::AllowOnce)];
        assert_eq!(
            id(pick_option(&once_only, PermissionAnswer::AllowAlways)),
            Some("once".into())
        );
        assert_eq!(id(pick_option(&once_only, PermissionAnswer::Reject)), None);
    }
}
