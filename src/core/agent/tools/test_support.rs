//! A scripted [`AgentHost`] and context builders shared by the tool tests.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use futures::FutureExt;
use tokio_util::sync::CancellationToken;

use super::{AgentHost, ApprovalMode, FileChange, SubagentRequest, TaskInfo, ToolContext};

#[derive(Default)]
pub struct FakeHost {
    pub pending: Mutex<Vec<FileChange>>,
    pub confirm_answer: Mutex<bool>,
    pub confirm_requests: Mutex<Vec<(String, Vec<String>)>>,
    pub spawned: Mutex<Vec<SubagentRequest>>,
    pub tasks: Mutex<HashMap<String, TaskInfo>>,
}

impl FakeHost {
    pub fn add_task(&self, task_id: &str, status: &str, output: Option<&str>, error: Option<&str>) {
        self.tasks.lock().unwrap().insert(
            task_id.to_string(),
            TaskInfo {
                task_id: task_id.to_string(),
                status: status.to_string(),
                label: Some("lbl".into()),
                elapsed_seconds: 12.5,
                output: output.map(str::to_string),
                error: error.map(str::to_string),
            },
        );
    }
}

impl AgentHost for FakeHost {
    fn record_pending_change(&self, change: FileChange) -> BoxFuture<'_, anyhow::Result<String>> {
        let mut pending = self.pending.lock().unwrap();
        pending.push(change);
        let id = format!("chg-{}", pending.len());
        async move { Ok(id) }.boxed()
    }

    fn confirm_command(&self, command: String, args: Vec<String>) -> BoxFuture<'_, bool> {
        self.confirm_requests.lock().unwrap().push((command, args));
        let answer = *self.confirm_answer.lock().unwrap();
        async move { answer }.boxed()
    }

    fn spawn_subagent(&self, request: SubagentRequest) -> BoxFuture<'_, anyhow::Result<TaskInfo>> {
        let mut spawned = self.spawned.lock().unwrap();
        let task_id = format!("task-{}", spawned.len() + 1);
        let info = TaskInfo {
            task_id: task_id.clone(),
            status: "pending".into(),
            label: request.label.clone(),
            elapsed_seconds: 0.0,
            output: None,
            error: None,
        };
        spawned.push(request);
        self.tasks.lock().unwrap().insert(task_id, info.clone());
        async move { Ok(info) }.boxed()
    }

    fn subagent_status(&self, task_id: String) -> BoxFuture<'_, anyhow::Result<TaskInfo>> {
        let found = self.tasks.lock().unwrap().get(&task_id).cloned();
        async move { found.ok_or_else(|| anyhow::anyhow!("no such task: {task_id}")) }.boxed()
    }
}

/// A canonical temp project root with a context over it.
pub struct Fixture {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub host: Arc<FakeHost>,
    pub ctx: ToolContext,
}

impl Fixture {
    pub fn new(approval: ApprovalMode) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let host = Arc::new(FakeHost::default());
        let ctx = ToolContext {
            project_root: root.clone(),
            extra_roots: Vec::new(),
            approval,
            cancel: CancellationToken::new(),
            host: host.clone(),
        };
        Fixture {
            _dir: dir,
            root,
            host,
            ctx,
        }
    }

    /// Writes a file (creating parents) under the root.
    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        path
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.root.join(rel)).unwrap()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
}

/// A directory outside any fixture root, for escape tests.
pub fn outside_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = std::fs::canonicalize(dir.path()).unwrap();
    (dir, path)
}

pub fn symlink(target: &Path, link: &Path) {
    std::os::unix::fs::symlink(target, link).unwrap();
}
