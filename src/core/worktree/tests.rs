use std::path::Path;
use std::process::Command;

use super::*;
use crate::core::changes;

/// Runs git in `dir`; its standard output.
fn sh(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@t"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A repository with one commit; the project is its `proj/` subdirectory.
struct Fixture {
    _dir: tempfile::TempDir,
    repo: PathBuf,
    project: PathBuf,
    home: PathBuf,
    store: Store,
    project_id: String,
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\x01\x02";

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let project = repo.join("proj");
    std::fs::create_dir_all(project.join("src")).unwrap();
    sh(&repo, &["init", "-q"]);
    let body: String = (1..=30).map(|i| format!("line {i}\n")).collect();
    std::fs::write(project.join("src/lib.rs"), &body).unwrap();
    std::fs::write(project.join("gone.txt"), "bye\n").unwrap();
    std::fs::write(project.join("old_name.txt"), &body).unwrap();
    std::fs::write(project.join("logo.png"), PNG).unwrap();
    std::fs::write(project.join(".gitignore"), "target/\n").unwrap();
    std::fs::write(repo.join("outside.txt"), "not the project\n").unwrap();
    sh(&repo, &["add", "."]);
    sh(&repo, &["commit", "-qm", "init"]);
    let store = Store::open_in_memory().unwrap();
    let project = std::fs::canonicalize(project).unwrap();
    let project_id = store.ensure_project(&project.to_string_lossy()).unwrap().id;
    Fixture {
        home: dir.path().join("home"),
        repo: std::fs::canonicalize(repo).unwrap(),
        project,
        _dir: dir,
        store,
        project_id,
    }
}

impl Fixture {
    fn chat(&self) -> String {
        let session = self.store.create_session(&self.project_id, "s").unwrap();
        self.store
            .create_chat(&crate::core::store::NewChat {
                session_id: &session.id,
                parent_chat_id: None,
                kind: "main",
                title: "",
                model: "m",
                agent: "general-purpose",
            })
            .unwrap()
            .id
    }

    fn worktree(&self, agent: &str, chat_id: &str) -> AgentWorktree {
        let source = WorktreeSource {
            agent: agent.into(),
            chat_id: chat_id.into(),
            task_id: None,
        };
        AgentWorktree::create(
            &self.store,
            &self.home,
            &self.project_id,
            &self.project,
            &source,
        )
        .unwrap()
    }
}

#[test]
fn a_worktree_is_a_recorded_branch_under_the_data_home() {
    let f = fixture();
    let chat = f.chat();
    let wt = f.worktree("Claude Code", &chat);
    assert!(
        wt.branch.starts_with("boocode/Claude-Code/"),
        "{}",
        wt.branch
    );
    assert_eq!(wt.branch.len(), "boocode/Claude-Code/".len() + 8);
    assert!(wt
        .path
        .starts_with(std::fs::canonicalize(&f.home).unwrap().join("worktrees")));
    assert_eq!(wt.project_dir, wt.path.join("proj"));
    assert!(wt.project_dir.join("src/lib.rs").exists());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(wt.path.parent().unwrap())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
    let branches = || sh(&f.repo, &["branch", "--list", "boocode/*"]);
    assert!(branches().contains(&wt.branch));
    // A later process finds it again by its chat.
    let again = AgentWorktree::reopen(&f.store, &chat).unwrap().unwrap();
    assert_eq!(again.id, wt.id);
    assert_eq!(again.project_dir, wt.project_dir);
    assert!(
        wt.capture(&f.store).unwrap().is_empty(),
        "nothing changed yet"
    );
    assert!(
        wt.release(&f.store).unwrap(),
        "nothing waits: removed at once"
    );
    assert!(!wt.path.exists());
    assert!(branches().is_empty(), "the branch goes with it");
    assert!(AgentWorktree::reopen(&f.store, &chat).unwrap().is_none());
}

#[test]
fn no_repository_and_no_commit_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_in_memory().unwrap();
    let source = WorktreeSource {
        agent: "codex".into(),
        chat_id: "c".into(),
        task_id: None,
    };
    let home = dir.path().join("home");
    let plain = dir.path().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    let e = AgentWorktree::create(&store, &home, "p", &plain, &source).unwrap_err();
    assert!(
        format!("{e:#}").contains("is not in a git repository"),
        "{e:#}"
    );
    sh(&plain, &["init", "-q"]);
    let e = AgentWorktree::create(&store, &home, "p", &plain, &source).unwrap_err();
    assert!(format!("{e:#}").contains("has no commit yet"), "{e:#}");
}

#[test]
fn capture_finds_edits_new_files_deletions_renames_and_binaries() {
    let f = fixture();
    let chat = f.chat();
    let wt = f.worktree("codex", &chat);
    let d = &wt.project_dir;
    let edited = std::fs::read_to_string(d.join("src/lib.rs"))
        .unwrap()
        .replace("line 12\n", "line twelve\n");
    std::fs::write(d.join("src/lib.rs"), edited).unwrap();
    std::fs::write(d.join("src/new.rs"), "fn new() {}\n").unwrap();
    std::fs::remove_file(d.join("gone.txt")).unwrap();
    std::fs::rename(d.join("old_name.txt"), d.join("new_name.txt")).unwrap();
    std::fs::write(d.join("logo.png"), [PNG, b"\0more"].concat()).unwrap();
    std::fs::create_dir_all(d.join("target")).unwrap();
    std::fs::write(d.join("target/build.o"), "ignored\n").unwrap();
    std::fs::write(wt.path.join("outside.txt"), "outside the project\n").unwrap();

    let mut changes = wt.changes().unwrap();
    changes.sort_by(|a, b| a.display_path.cmp(&b.display_path));
    let summary: Vec<_> = changes
        .iter()
        .map(|c| (c.display_path.as_str(), c.kind.as_str(), c.binary))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("gone.txt", "delete", false),
            ("logo.png", "edit", true),
            ("new_name.txt", "rename", false),
            ("src/lib.rs", "edit", false),
            ("src/new.rs", "create", false),
        ]
    );
    let by = |name: &str| changes.iter().find(|c| c.display_path == name).unwrap();
    let lib = by("src/lib.rs");
    assert!(
        lib.diff.contains("-line 12\n+line twelve\n"),
        "{}",
        lib.diff
    );
    assert_eq!(lib.path, f.project.join("src/lib.rs").to_string_lossy());
    let png = by("logo.png");
    assert_eq!(png.diff, "Binary files a/logo.png and b/logo.png differ\n");
    assert!(png.before.is_none() && png.after.is_none());
    assert_eq!(png.base_hash.as_deref(), Some(content_hash(PNG).as_str()));
    assert_eq!(
        png.after_source.as_deref(),
        Some(d.join("logo.png").to_string_lossy().as_ref())
    );
    let renamed = by("new_name.txt");
    assert_eq!(renamed.old_display_path.as_deref(), Some("old_name.txt"));
    assert!(renamed
        .diff
        .starts_with("rename from old_name.txt\nrename to new_name.txt\n"));
    assert!(by("gone.txt").after_hash.is_none());
    assert_eq!(by("src/new.rs").base_hash, None);

    // Captured, applied into the main checkout: every kind lands.
    let rows = wt.capture(&f.store).unwrap();
    assert_eq!(rows.len(), 5);
    for row in &rows {
        changes::decide(&f.store, &row.id, true).unwrap();
    }
    let p = &f.project;
    assert!(std::fs::read_to_string(p.join("src/lib.rs"))
        .unwrap()
        .contains("line twelve"));
    assert_eq!(
        std::fs::read_to_string(p.join("src/new.rs")).unwrap(),
        "fn new() {}\n"
    );
    assert!(!p.join("gone.txt").exists());
    assert!(!p.join("old_name.txt").exists());
    assert!(std::fs::read_to_string(p.join("new_name.txt"))
        .unwrap()
        .starts_with("line 1\n"));
    assert_eq!(
        std::fs::read(p.join("logo.png")).unwrap(),
        [PNG, b"\0more"].concat()
    );
    assert!(!p.join("target").exists());
    assert!(wt.release(&f.store).unwrap());
}

#[test]
fn recapture_replaces_what_still_waits_and_skips_what_was_decided() {
    let f = fixture();
    let chat = f.chat();
    let wt = f.worktree("codex", &chat);
    let d = &wt.project_dir;
    std::fs::write(d.join("a.txt"), "first\n").unwrap();
    std::fs::write(d.join("b.txt"), "b\n").unwrap();
    let first = wt.capture(&f.store).unwrap();
    assert_eq!(first.len(), 2);
    assert!(first.iter().all(|r| r.changed));
    let a_id = f
        .store
        .list_pending_changes(Some(&chat))
        .unwrap()
        .into_iter()
        .find(|c| c.content.display_path == "a.txt")
        .unwrap()
        .id;

    // Next turn: a.txt changed again, b.txt was dropped, c.txt is new.
    std::fs::write(d.join("a.txt"), "second\n").unwrap();
    std::fs::remove_file(d.join("b.txt")).unwrap();
    std::fs::write(d.join("c.txt"), "c\n").unwrap();
    let second = wt.capture(&f.store).unwrap();
    let pending = f.store.list_pending_changes(Some(&chat)).unwrap();
    let names: Vec<_> = pending
        .iter()
        .map(|c| c.content.display_path.as_str())
        .collect();
    assert_eq!(names, vec!["a.txt", "c.txt"]);
    assert_eq!(pending[0].id, a_id, "the file's change keeps its id");
    assert_eq!(pending[0].content.after.as_deref(), Some("second\n"));
    assert_eq!(pending[0].source_agent, "codex");
    assert_eq!(pending[0].worktree_id.as_deref(), Some(wt.id.as_str()));
    assert_eq!(second.len(), 2);

    // Unchanged files are not rewritten; a decided change is not asked again.
    let third = wt.capture(&f.store).unwrap();
    assert!(third.iter().all(|r| !r.changed));
    changes::decide(&f.store, &a_id, false).unwrap();
    let fourth = wt.capture(&f.store).unwrap();
    assert_eq!(fourth.len(), 1);
    assert_eq!(f.store.list_pending_changes(Some(&chat)).unwrap().len(), 1);

    // Released while c.txt waits: kept; deciding c.txt removes it.
    assert!(!wt.release(&f.store).unwrap());
    assert!(wt.path.exists());
    changes::decide(&f.store, &fourth[0].id, true).unwrap();
    assert!(
        !wt.path.exists(),
        "the last decision removes a released worktree"
    );
    assert_eq!(
        std::fs::read_to_string(f.project.join("c.txt")).unwrap(),
        "c\n"
    );
}

#[test]
fn applying_refuses_a_file_changed_in_the_main_checkout() {
    let f = fixture();
    let chat = f.chat();
    let wt = f.worktree("codex", &chat);
    std::fs::write(wt.project_dir.join("src/lib.rs"), "agent\n").unwrap();
    std::fs::write(wt.project_dir.join("logo.png"), b"\0agent").unwrap();
    std::fs::write(wt.project_dir.join("fresh.txt"), "agent\n").unwrap();
    let rows = wt.capture(&f.store).unwrap();
    // The person edits the same files meanwhile.
    std::fs::write(f.project.join("src/lib.rs"), "mine\n").unwrap();
    std::fs::write(f.project.join("logo.png"), b"\0mine").unwrap();
    std::fs::write(f.project.join("fresh.txt"), "mine\n").unwrap();
    for row in &rows {
        let change = f.store.get_pending_change(&row.id).unwrap();
        let e = changes::decide(&f.store, &row.id, true).unwrap_err();
        let expected = if change.content.kind == "create" {
            "was created in the main checkout"
        } else {
            "was modified in the main checkout"
        };
        assert!(format!("{e:#}").contains(expected), "{e:#}");
        assert!(
            format!("{e:#}").contains(&change.content.display_path),
            "{e:#}"
        );
        assert_eq!(
            f.store.get_pending_change(&row.id).unwrap().status,
            "pending"
        );
    }
    assert_eq!(
        std::fs::read_to_string(f.project.join("src/lib.rs")).unwrap(),
        "mine\n"
    );
    assert_eq!(
        std::fs::read(f.project.join("logo.png")).unwrap(),
        b"\0mine"
    );
}

#[test]
fn orphans_are_removed_at_start_but_not_while_changes_wait() {
    let f = fixture();
    let chat = f.chat();
    let idle = f.worktree("codex", &chat);
    let chat2 = f.chat();
    let waiting = f.worktree("claude", &chat2);
    std::fs::write(waiting.project_dir.join("x.txt"), "x\n").unwrap();
    waiting.capture(&f.store).unwrap();
    // Younger than the age limit: kept. (The in-memory store's owner is this process, alive;
    // released worktrees count as ownerless.)
    f.store.set_worktree_status(&idle.id, "released").unwrap();
    f.store
        .set_worktree_status(&waiting.id, "released")
        .unwrap();
    assert_eq!(
        cleanup_orphans(&f.store, &f.project_id, ORPHAN_AGE).unwrap(),
        0
    );
    assert!(idle.path.exists());
    assert_eq!(
        cleanup_orphans(&f.store, &f.project_id, Duration::ZERO).unwrap(),
        1
    );
    assert!(!idle.path.exists());
    assert!(waiting.path.exists(), "its change still waits for review");
    let listed = sh(&f.repo, &["worktree", "list", "--porcelain"]);
    assert!(!listed.contains(&*idle.path.to_string_lossy()), "{listed}");
}
