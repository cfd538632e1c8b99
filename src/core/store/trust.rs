//! Per-project decisions about what a repository asks boocode to run (see `core::trust`).

use anyhow::Result;
use rusqlite::params;

use super::{now, optional, Store};

/// One stored decision: `approved` is false for a denial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalRow {
    pub fingerprint: String,
    pub approved: bool,
}

impl Store {
    /// The decision recorded for `(project_root, kind, name)`, whatever definition it was for.
    pub fn project_approval(
        &self,
        project_root: &str,
        kind: &str,
        name: &str,
    ) -> Result<Option<ApprovalRow>> {
        self.with(|c| {
            optional(
                c.prepare_cached(
                    "SELECT fingerprint, decision FROM project_approvals
                     WHERE project_root = ?1 AND kind = ?2 AND name = ?3",
                )?
                .query_row(params![project_root, kind, name], |r| {
                    Ok(ApprovalRow {
                        fingerprint: r.get(0)?,
                        approved: r.get::<_, String>(1)? == "approved",
                    })
                }),
            )
        })
    }

    /// Records a decision, replacing any earlier one for the same name.
    pub fn record_project_approval(
        &self,
        project_root: &str,
        kind: &str,
        name: &str,
        fingerprint: &str,
        approved: bool,
    ) -> Result<()> {
        let decision = if approved { "approved" } else { "denied" };
        self.with(|c| {
            c.prepare_cached(
                "INSERT INTO project_approvals
                     (project_root, kind, name, fingerprint, decision, decided_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(project_root, kind, name) DO UPDATE SET
                     fingerprint = excluded.fingerprint, decision = excluded.decision,
                     decided_at = excluded.decided_at",
            )?
            .execute(params![
                project_root,
                kind,
                name,
                fingerprint,
                decision,
                now()
            ])
        })?;
        Ok(())
    }
}
