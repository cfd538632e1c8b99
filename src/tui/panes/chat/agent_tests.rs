//! A chat pane bound to an external agent.

use crossterm::event::{KeyCode, KeyModifiers};

use super::tests::{ctx, draw, env, env_with, ev, key, new_pane, theme, typed, Env};
use super::*;
use crate::core::agents;
use crate::core::events::{AgentCommand, PermissionAnswer, PlanItem};

fn bound(e: &Env, agent: &str) -> ChatPane {
    agents::bind_chat(&e.engine.rt, &e.chat_id, agent).unwrap();
    new_pane(e)
}

fn session(e: &Env, model: Option<&str>, mode: Option<&str>) -> Event {
    Event::AgentSession {
        chat_id: e.chat_id.clone(),
        agent: "claude".into(),
        model: model.map(str::to_string),
        mode: mode.map(str::to_string),
    }
}

#[test]
fn a_permission_question_is_answered_by_ctrl_keys_never_by_typing() {
    let e = env();
    let mut p = bound(&e, "claude");
    ev(
        &mut p,
        &e,
        Event::PermissionRequested {
            chat_id: e.chat_id.clone(),
            request_id: "r1".into(),
            title: "Run rm -rf build".into(),
        },
    );
    let screen = draw(&mut p, &e, &theme(), 80, 12, 0);
    assert!(screen.contains("? allow Run rm -rf build?"), "{screen}");
    assert!(
        screen.contains("Ctrl-Y once · Ctrl-A always · Ctrl-N reject"),
        "{screen}"
    );
    // Plain letters are text for the composer, whatever they spell.
    for c in ["y", "a", "n"] {
        assert_eq!(
            key(
                &mut p,
                &e,
                KeyCode::Char(c.chars().next().unwrap()),
                KeyModifiers::NONE
            ),
            KeyOutcome::Consumed
        );
    }
    assert_eq!(p.composer_text(), "yan");
    let outcome = key(&mut p, &e, KeyCode::Char('a'), KeyModifiers::CONTROL);
    assert_eq!(
        outcome,
        KeyOutcome::Actions(vec![AppAction::Engine(Command::AnswerPermission {
            request_id: "r1".into(),
            answer: PermissionAnswer::AllowAlways,
        })])
    );
    let screen = draw(&mut p, &e, &theme(), 80, 12, 0);
    assert!(
        screen.contains("✓ allow Run rm -rf build  allowed for this chat"),
        "{screen}"
    );
    // With no question open, Ctrl-A is the composer's again (line start).
    assert_eq!(
        key(&mut p, &e, KeyCode::Char('a'), KeyModifiers::CONTROL),
        KeyOutcome::Consumed
    );

    // A question the turn stopped waiting for shows as not allowed.
    ev(
        &mut p,
        &e,
        Event::PermissionRequested {
            chat_id: e.chat_id.clone(),
            request_id: "r2".into(),
            title: "Write x".into(),
        },
    );
    ev(
        &mut p,
        &e,
        Event::TurnFinished {
            chat_id: e.chat_id.clone(),
            turn: 1,
            status: "cancelled".into(),
            usage: Default::default(),
            error: None,
        },
    );
    let screen = draw(&mut p, &e, &theme(), 80, 12, 0);
    assert!(screen.contains("✗ allow Write x  rejected"), "{screen}");
}

#[test]
fn the_composer_line_shows_agent_model_and_mode_and_offers_the_agents_commands() {
    // No provider key: an agent chat does not need one.
    let e = env_with(false);
    let mut p = bound(&e, "claude");
    ev(&mut p, &e, session(&e, Some("sonnet"), Some("plan")));
    let screen = draw(&mut p, &e, &theme(), 100, 10, 0);
    assert!(
        screen.contains("claude · sonnet · plan · Enter send"),
        "{screen}"
    );
    assert!(
        p.title(&ctx(&e, &theme(), 0))
            .contains("claude · sonnet · plan"),
        "{screen}"
    );
    ev(
        &mut p,
        &e,
        Event::AgentCommands {
            chat_id: e.chat_id.clone(),
            commands: vec![AgentCommand {
                name: "review".into(),
                description: "Review the changes".into(),
            }],
        },
    );
    typed(&mut p, &e, "/rev");
    let screen = draw(&mut p, &e, &theme(), 100, 10, 0);
    assert!(screen.contains("/review"), "{screen}");
    assert!(screen.contains("Review the changes"), "{screen}");
    key(&mut p, &e, KeyCode::Tab, KeyModifiers::NONE);
    assert_eq!(p.composer_text(), "/review ");
    typed(&mut p, &e, "now");
    let outcome = key(&mut p, &e, KeyCode::Enter, KeyModifiers::NONE);
    assert_eq!(
        outcome,
        KeyOutcome::Actions(vec![AppAction::Engine(Command::SendMessage {
            chat_id: e.chat_id.clone(),
            text: "/review now".into(),
            attachments: Vec::new(),
        })])
    );
    // A mode change reaches the line; the commands stay.
    ev(&mut p, &e, session(&e, Some("sonnet"), Some("code")));
    let screen = draw(&mut p, &e, &theme(), 100, 10, 0);
    assert!(screen.contains("claude · sonnet · code"), "{screen}");
}

#[test]
fn agent_binds_an_empty_chat_and_opens_a_new_one_for_a_chat_with_history() {
    let e = env();
    let mut p = new_pane(&e);
    typed(&mut p, &e, "/agent nobody");
    key(&mut p, &e, KeyCode::Enter, KeyModifiers::NONE);
    assert!(draw(&mut p, &e, &theme(), 100, 10, 0).contains("unknown agent 'nobody'"));
    assert_eq!(e.engine.rt.store.chat_agent(&e.chat_id).unwrap(), None);

    typed(&mut p, &e, "/agent codex");
    assert_eq!(
        key(&mut p, &e, KeyCode::Enter, KeyModifiers::NONE),
        KeyOutcome::Consumed
    );
    let bound = e.engine.rt.store.chat_agent(&e.chat_id).unwrap().unwrap();
    assert_eq!(bound.agent, "codex");

    e.engine
        .rt
        .store
        .insert_user_message(&e.chat_id, 1, "earlier", &[])
        .unwrap();
    typed(&mut p, &e, "/agent claude");
    let KeyOutcome::Actions(actions) = key(&mut p, &e, KeyCode::Enter, KeyModifiers::NONE) else {
        panic!("no new chat");
    };
    let [AppAction::OpenChat { chat_id }] = actions.as_slice() else {
        panic!("{actions:?}");
    };
    assert_ne!(*chat_id, e.chat_id);
    let store = &e.engine.rt.store;
    assert_eq!(store.chat_agent(chat_id).unwrap().unwrap().agent, "claude");
    assert_eq!(
        store.chat_agent(&e.chat_id).unwrap().unwrap().agent,
        "codex"
    );
}

#[test]
fn a_plan_is_a_checklist_that_the_turns_latest_replaces() {
    let e = env();
    let mut p = bound(&e, "claude");
    let plan = |statuses: [&str; 2]| Event::AgentPlan {
        chat_id: e.chat_id.clone(),
        entries: ["read the code", "make the change"]
            .iter()
            .zip(statuses)
            .map(|(c, s)| PlanItem {
                content: c.to_string(),
                status: s.into(),
            })
            .collect(),
    };
    ev(&mut p, &e, plan(["in_progress", "pending"]));
    ev(&mut p, &e, plan(["completed", "in_progress"]));
    let screen = draw(&mut p, &e, &theme(), 60, 12, 0);
    assert!(screen.contains("[x] read the code"), "{screen}");
    assert!(screen.contains("[~] make the change"), "{screen}");
    assert_eq!(screen.matches("read the code").count(), 1, "{screen}");
}

#[test]
fn a_reply_rebuilt_from_the_agents_record_replaces_what_was_streamed() {
    use crate::core::agent::TurnStatus;
    use crate::core::agents::turn::ExternalTurn;
    use crate::core::store::{MessagePart, PartKind};

    let e = env();
    let mut p = new_pane(&e);
    let chat = e.engine.chat(&e.chat_id).unwrap();
    let mut turn = ExternalTurn::begin(&e.engine.rt, &chat, "fix it", "agent:remote").unwrap();
    let chat_id = e.chat_id.clone();
    for event in [
        Event::UserMessage {
            chat_id: chat_id.clone(),
            turn: turn.turn,
            text: "fix it".into(),
            attachments: Vec::new(),
        },
        Event::TurnStarted {
            chat_id: chat_id.clone(),
            turn: turn.turn,
        },
        // The preview, as Paseo's follower prints a streamed message: a chunk a line, and the
        // reasoning after the text it came before.
        Event::TextDelta {
            chat_id: chat_id.clone(),
            text: "Reply one:\nDone with\nthe change.\n".into(),
        },
        Event::ReasoningDelta {
            chat_id: chat_id.clone(),
            text: "Planning the change.".into(),
        },
    ] {
        ev(&mut p, &e, event);
    }
    // The turn is settled from the agent's own transcript.
    turn.take_parts();
    turn.push_part(MessagePart::text(
        PartKind::Reasoning,
        "Planning the change.",
    ));
    turn.push_part(MessagePart::text(
        PartKind::Text,
        "Reply one: done with the change.",
    ));
    turn.finish(TurnStatus::Completed, None);
    let reply = e.engine.transcript(&chat_id).unwrap().pop().unwrap();
    ev(
        &mut p,
        &e,
        Event::MessageFinished {
            chat_id: chat_id.clone(),
            message_id: reply.id.clone(),
            content: "Reply one: done with the change.".into(),
        },
    );
    ev(
        &mut p,
        &e,
        Event::ReplyRewritten {
            chat_id: chat_id.clone(),
            message_id: reply.id,
        },
    );
    let screen = draw(&mut p, &e, &theme(), 80, 20, 0);
    assert_eq!(screen.matches("Reply one").count(), 1, "{screen}");
    assert!(
        screen.contains("Reply one: done with the change."),
        "{screen}"
    );
    assert!(
        !screen.contains("Done with"),
        "the preview stayed: {screen}"
    );
    assert_eq!(
        screen.matches("Planning the change.").count(),
        1,
        "{screen}"
    );
    assert_eq!(screen.matches("› fix it").count(), 1, "{screen}");
}
