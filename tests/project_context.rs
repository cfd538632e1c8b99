//! Project instructions and skills end to end: what the scripted model server receives.

mod support;

use std::time::Duration;

use boocode::core::agent::tools::ApprovalMode;
use boocode::core::agent::{TurnRequest, TurnStatus};
use boocode::core::context::instructions::InstructionFile;
use boocode::core::engine::{Engine, EngineOptions};
use boocode::core::events::Event;
use serde_json::Value;

use support::harness::{config_for, write};
use support::mock_server::{CallSpec, Match, MockServer, Reply};

/// The system message of a recorded request.
fn system_prompt(request: &Value) -> String {
    request["messages"][0]
        .as_object()
        .filter(|m| m["role"] == "system")
        .and_then(|m| m["content"].as_str())
        .expect("the first message is the system prompt")
        .to_string()
}

fn tool_result(request: &Value, call_id: &str) -> String {
    request["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "tool" && m["tool_call_id"] == call_id)
        .and_then(|m| m["content"].as_str())
        .unwrap_or_else(|| panic!("no result for {call_id}"))
        .to_string()
}

const SKILL: &str = "---\nname: pdf\ndescription: Fill PDF forms\n---\n# PDF\n\nFill the form with scripts/fill.py.\n";

#[tokio::test]
async fn instructions_and_skills_are_fixed_when_a_chat_starts() {
    let repo = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let user_config = tempfile::tempdir().unwrap();
    std::fs::create_dir(repo.path().join(".git")).unwrap();
    write(
        repo.path(),
        "AGENTS.md",
        "Project rule: indent with tabs.\n",
    );
    write(repo.path(), "app/CLAUDE.md", "App rule: no unwrap.\n");
    write(repo.path(), "app/.claude/skills/pdf/SKILL.md", SKILL);
    write(repo.path(), "app/.claude/skills/pdf/scripts/fill.py", "");
    write(user_config.path(), "AGENTS.md", "User rule: be brief.\n");
    let project = repo.path().join("app");

    let server = MockServer::start(vec![
        Reply::tool_calls(vec![CallSpec::new("skill", r#"{"name":"pdf"}"#).id("k1")])
            .when(Match::last_user_contains("fill the form")),
        Reply::text("filled").when(Match::has_tool_result_for("k1")),
        Reply::text("still tabs").when(Match::last_user_contains("again")),
        Reply::text("resumed").when(Match::last_role("assistant")),
        Reply::text("spaces now").when(Match::last_user_contains("fresh")),
    ])
    .await;
    let mut config = config_for(
        &project,
        home.path(),
        &server.base_url(),
        ApprovalMode::ReadOnly,
    );
    config.user_config_dir = Some(user_config.path().to_path_buf());
    let (engine, mut events, _) = Engine::start(EngineOptions {
        config,
        project_root: project.clone(),
        interactive: false,
    })
    .unwrap();
    let session = engine.open_session(None, false).unwrap();
    let chat = engine.main_chat(&session).unwrap();
    let turn = |chat_id: String, prompt: &'static str| {
        let engine = engine.clone();
        async move {
            tokio::time::timeout(
                Duration::from_secs(30),
                engine.run_turn(TurnRequest::new(&chat_id, prompt, ApprovalMode::ReadOnly)),
            )
            .await
            .expect("turn finished")
        }
    };

    let first = turn(chat.id.clone(), "fill the form").await;
    assert_eq!(first.status, TurnStatus::Completed, "{:?}", first.error);
    let requests = server.requests();
    let system = system_prompt(&requests[0]);
    let order: Vec<usize> = [
        "User rule: be brief.",
        "Project rule: indent with tabs.",
        "App rule: no unwrap.",
        "- pdf: Fill PDF forms",
    ]
    .iter()
    .map(|t| {
        system
            .find(t)
            .unwrap_or_else(|| panic!("{t} missing from {system}"))
    })
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{system}");
    assert!(
        !system.contains("scripts/fill.py"),
        "only the skill's name and description are in the prompt"
    );
    // The skill tool gave the model the body and named the skill's other files.
    let loaded = tool_result(&requests[1], "k1");
    assert!(
        loaded.contains("Fill the form with scripts/fill.py."),
        "{loaded}"
    );
    assert!(loaded.contains("- scripts/fill.py"), "{loaded}");
    // The chat said which files it uses.
    let context: Vec<(Vec<InstructionFile>, Vec<String>)> =
        std::iter::from_fn(|| events.try_recv().ok())
            .filter_map(|e| match e {
                Event::ContextLoaded {
                    chat_id,
                    instructions,
                    skills,
                } if chat_id == chat.id => Some((instructions, skills)),
                _ => None,
            })
            .collect();
    assert_eq!(context.len(), 1, "said once, when the chat started");
    let shown: Vec<&str> = context[0].0.iter().map(|f| f.path.as_str()).collect();
    let user_file = user_config.path().join("AGENTS.md");
    assert_eq!(
        shown,
        vec![user_file.to_str().unwrap(), "AGENTS.md", "app/CLAUDE.md"]
    );
    assert_eq!(context[0].1, vec!["pdf".to_string()]);

    // An edit mid-chat does not reach that chat's next request…
    write(
        repo.path(),
        "AGENTS.md",
        "Project rule: indent with spaces.\n",
    );
    let second = turn(chat.id.clone(), "again").await;
    assert_eq!(second.status, TurnStatus::Completed, "{:?}", second.error);
    let requests = server.requests();
    assert_eq!(system_prompt(&requests[2]), system, "byte-identical prompt");
    // Resuming that chat after a crash keeps its prompt too.
    let mut snapshot = engine.store().load_snapshot(&chat.id).unwrap().unwrap();
    snapshot.state = "awaiting_model".into();
    engine.store().save_snapshot(&snapshot).unwrap();
    let resumed = tokio::time::timeout(Duration::from_secs(30), engine.resume_chat(&chat.id, None))
        .await
        .expect("resume finished");
    assert_eq!(resumed.status, TurnStatus::Completed, "{:?}", resumed.error);
    let requests = server.requests();
    assert_eq!(
        system_prompt(&requests[3]),
        system,
        "resume keeps the prompt"
    );
    // …but a new chat starts with it.
    let fresh = engine.new_chat(&session, "main", None).unwrap();
    let third = turn(fresh.id.clone(), "fresh").await;
    assert_eq!(third.status, TurnStatus::Completed, "{:?}", third.error);
    let new_system = system_prompt(&server.requests()[4]);
    assert!(
        new_system.contains("Project rule: indent with spaces."),
        "{new_system}"
    );
    assert!(!new_system.contains("indent with tabs"));
}

#[tokio::test]
async fn background_sub_agents_get_the_same_instructions() {
    let project = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    write(project.path(), "AGENTS.md", "Project rule: cite files.\n");
    let server = MockServer::start(vec![
        Reply::tool_calls(vec![CallSpec::new(
            "spawn_subagent",
            r#"{"input":"count the files"}"#,
        )
        .id("s1")])
        .when(Match::last_user_contains("delegate")),
        Reply::text("two files").when(Match::last_user_contains("count the files")),
        Reply::text("started").when(Match::has_tool_result_for("s1")),
    ])
    .await;
    let config = config_for(
        project.path(),
        home.path(),
        &server.base_url(),
        ApprovalMode::ReadOnly,
    );
    let (engine, _events, _) = Engine::start(EngineOptions {
        config,
        project_root: project.path().to_path_buf(),
        interactive: false,
    })
    .unwrap();
    let session = engine.open_session(None, false).unwrap();
    let chat = engine.main_chat(&session).unwrap();
    let outcome = engine
        .run_turn(TurnRequest::new(
            &chat.id,
            "delegate",
            ApprovalMode::ReadOnly,
        ))
        .await;
    assert_eq!(outcome.status, TurnStatus::Completed, "{:?}", outcome.error);
    tokio::time::timeout(Duration::from_secs(30), engine.wait_for_tasks_of(&chat.id))
        .await
        .expect("the sub-agent finished")
        .unwrap();
    let sub_request = server
        .requests()
        .into_iter()
        .find(|r| {
            r["messages"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["content"] == "count the files")
        })
        .expect("the sub-agent asked the model");
    assert!(
        system_prompt(&sub_request).contains("Project rule: cite files."),
        "{}",
        system_prompt(&sub_request)
    );
}
