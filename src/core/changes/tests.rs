use super::*;
use crate::core::agent::tools::changes::unified_diff;
use crate::core::store::NewChat;

fn numbered(n: usize) -> String {
    (1..=n).map(|i| format!("line {i}\n")).collect()
}

fn edit_line(line: usize) -> String {
    let base = numbered(40);
    let after = base.replace(&format!("line {line}\n"), &format!("edited {line}\n"));
    unified_diff("f.rs", "f.rs", Some(&base), Some(&after))
}

#[test]
fn changes_of_different_chats_to_one_file_collide_both_ways() {
    let store = Store::open_in_memory().unwrap();
    let project = store.ensure_project("/p").unwrap();
    let session = store.create_session(&project.id, "s").unwrap();
    let chat = |agent: &str| {
        store
            .create_chat(&NewChat {
                session_id: &session.id,
                parent_chat_id: None,
                kind: "main",
                title: "",
                model: "m",
                agent,
            })
            .unwrap()
            .id
    };
    let (native, other, third) = (chat("general-purpose"), chat("Explore"), chat("x"));
    let insert = |chat: &str, path: &str, diff: &str| {
        store
            .insert_pending_change(chat, path, path, Some("b"), Some("a"), diff)
            .unwrap()
    };
    let a = insert(&native, "/p/f.rs", &edit_line(10));
    let a2 = insert(&native, "/p/f.rs", &edit_line(30));
    let b = insert(&other, "/p/f.rs", &edit_line(12));
    let c = insert(&third, "/p/g.rs", &edit_line(10));
    let views = project_changes(&store, &project.id).unwrap();
    let of = |id: &str| views.iter().find(|v| v.change.id == id).unwrap();
    assert_eq!(
        of(&a).collisions,
        vec![Collision {
            change_id: b.clone(),
            agent: "Explore".into(),
            severity: Severity::AdjacentLine
        }],
        "the same chat's own edits never collide"
    );
    assert_eq!(of(&a2).collisions[0].severity, Severity::DifferentArea);
    let on_b: Vec<_> = of(&b)
        .collisions
        .iter()
        .map(|c| c.change_id.as_str())
        .collect();
    assert_eq!(on_b, vec![a.as_str(), a2.as_str()], "most serious first");
    assert!(of(&c).collisions.is_empty(), "another file");
    assert_eq!(collision_count(&views), 2);
    assert_eq!((of(&a).lines_added, of(&a).lines_removed), (1, 1));
    let json = serde_json::to_value(of(&a)).unwrap();
    assert_eq!(json["collisions"][0]["severity"], "adjacent_line");
    assert_eq!(json["source_agent"], "general-purpose");
}
