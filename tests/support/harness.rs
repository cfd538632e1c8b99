//! An engine wired to the scripted model server, in a throw-away project and data home.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use boocode::core::agent::tools::ApprovalMode;
use boocode::core::agent::{TurnOutcome, TurnRequest};
use boocode::core::config::{Config, Environment, Overrides};
use boocode::core::engine::{Engine, EngineOptions};
use boocode::core::events::Event;
use boocode::core::store::{Chat, Session, Store};
use tokio::sync::mpsc::UnboundedReceiver;

use super::mock_server::{MockServer, Step};

pub struct Harness {
    pub engine: Engine,
    pub events: UnboundedReceiver<Event>,
    pub server: MockServer,
    pub project: tempfile::TempDir,
    pub home: tempfile::TempDir,
    pub session: Session,
    pub chat: Chat,
}

/// Extra lines for the project's `.boocode/config.toml`.
pub const FAST_RETRIES: &str = "retry_backoff_ms = 5\nmax_attempts = 3\n";

impl Harness {
    pub async fn new(script: Vec<Step>, approval: ApprovalMode) -> Harness {
        Harness::with_config(script, approval, FAST_RETRIES).await
    }

    pub async fn with_config(script: Vec<Step>, approval: ApprovalMode, config: &str) -> Harness {
        Harness::with_setup(script, approval, config, |_, _| {}).await
    }

    /// Like [`Harness::with_config`], with `setup(project, home)` run before the engine starts
    /// (the home is also the user's `HOME`).
    pub async fn with_setup(
        script: Vec<Step>,
        approval: ApprovalMode,
        config: &str,
        setup: impl FnOnce(&Path, &Path),
    ) -> Harness {
        let project = tempfile::tempdir().unwrap();
        let home = tempfile::tempdir().unwrap();
        write(
            project.path(),
            "README.md",
            "# Demo\n\nThis is teh demo project.\n",
        );
        write(
            project.path(),
            "src/lib.rs",
            "pub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n",
        );
        write(project.path(), ".boocode/config.toml", config);
        setup(project.path(), home.path());
        let server = MockServer::start(script).await;
        let engine_config = config_for(project.path(), home.path(), &server.base_url(), approval);
        let (engine, events, _) = Engine::start(EngineOptions {
            config: engine_config,
            project_root: project.path().to_path_buf(),
            interactive: false,
        })
        .unwrap();
        let session = engine.open_session(None, false).unwrap();
        let chat = engine.main_chat(&session).unwrap();
        Harness {
            engine,
            events,
            server,
            project,
            home,
            session,
            chat,
        }
    }

    pub fn store(&self) -> &Store {
        self.engine.store()
    }

    pub fn root(&self) -> PathBuf {
        std::fs::canonicalize(self.project.path()).unwrap()
    }

    pub async fn turn(&self, prompt: &str) -> TurnOutcome {
        let approval = self.engine.rt.config.approval;
        tokio::time::timeout(
            Duration::from_secs(60),
            self.engine
                .run_turn(TurnRequest::new(&self.chat.id, prompt, approval)),
        )
        .await
        .expect("turn did not finish within 60 s")
    }

    /// Every event emitted so far.
    pub fn drain_events(&mut self) -> Vec<Event> {
        let mut out = Vec::new();
        while let Ok(e) = self.events.try_recv() {
            out.push(e);
        }
        out
    }
}

pub fn config_for(project: &Path, home: &Path, base_url: &str, approval: ApprovalMode) -> Config {
    let env = Environment {
        vars: BTreeMap::from([
            ("HOME".to_string(), home.to_string_lossy().into_owned()),
            (
                "BOOCODE_HOME".to_string(),
                home.to_string_lossy().into_owned(),
            ),
        ]),
        user_config: None,
    };
    Config::load(
        project,
        &env,
        &Overrides {
            provider: None,
            base_url: Some(base_url.to_string()),
            model: Some("mock-model".into()),
            api_key: Some("sk-test-secret-key".into()),
            approval: Some(approval),
        },
    )
    .unwrap()
}

pub fn write(root: &Path, rel: &str, content: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// The scripted ACP agent (`examples/acp_agent.rs`), built next to the test binaries.
pub fn scripted_acp_agent() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let agent = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("examples/acp_agent");
    assert!(
        agent.exists(),
        "{} is missing: `cargo test` builds it; alone, run `cargo build --example acp_agent`",
        agent.display()
    );
    agent
}

/// Makes `dir` a git repository whose one commit holds everything in it.
pub fn commit_all(dir: &Path) {
    git(dir, &["init", "-q"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "init"]);
}

/// Runs git in `dir` as a test user with signing off; panics with its output on failure.
pub fn git(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@t"])
        .args(["-c", "commit.gpgsign=false"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
}
