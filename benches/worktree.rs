//! Agent worktrees on a 10,000-file repository: `AgentWorktree::create` (a branch and a
//! checkout of every file), `changes` after an agent edited 20 files, added 5 and deleted 5
//! (the scratch-index capture: `git add -A` + `git diff --cached -M`), and `remove`. The
//! repository is built once, untimed. Run with `cargo bench --bench worktree`; figures are
//! recorded in `benches/RESULTS.md`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use boocode::core::store::{NewChat, Store};
use boocode::core::worktree::{AgentWorktree, WorktreeSource};

const FILES: usize = 10_000;
const RUNS: usize = 5;

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=b", "-c", "user.email=b@b"])
        .args(args)
        .output()
        .expect("git");
    assert!(out.status.success(), "git {args:?}: {out:?}");
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let repo = dir.path().join("repo");
    for i in 0..FILES {
        let sub = repo.join(format!("src/m{:03}", i / 100));
        std::fs::create_dir_all(&sub).expect("mkdir");
        let body: String = (0..20).map(|l| format!("// file {i} line {l}\n")).collect();
        std::fs::write(sub.join(format!("f{i}.rs")), body).expect("write");
    }
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "10k files"]);

    let store = Store::open_in_memory().expect("store");
    let project_id = store
        .ensure_project(&repo.to_string_lossy())
        .expect("project")
        .id;
    let session = store.create_session(&project_id, "bench").expect("session");
    let chat = store
        .create_chat(&NewChat {
            session_id: &session.id,
            parent_chat_id: None,
            kind: "main",
            title: "",
            model: "m",
            agent: "bench",
        })
        .expect("chat");
    let home = dir.path().join("home");
    let source = WorktreeSource {
        agent: "bench".into(),
        chat_id: chat.id.clone(),
        task_id: None,
    };
    let (mut create, mut capture, mut remove, mut total) = (vec![], vec![], vec![], vec![]);
    for _ in 0..RUNS {
        let started = Instant::now();
        let wt = AgentWorktree::create(&store, &home, &project_id, &repo, &source).expect("create");
        let created = Instant::now();
        for i in 0..20 {
            let f = wt.project_dir.join(format!("src/m{:03}/f{i}.rs", i / 100));
            std::fs::write(&f, "// edited\n").expect("edit");
        }
        for i in 0..5 {
            std::fs::write(wt.project_dir.join(format!("new{i}.rs")), "// new\n").expect("add");
            let gone = 5000 + i;
            std::fs::remove_file(
                wt.project_dir
                    .join(format!("src/m{:03}/f{gone}.rs", gone / 100)),
            )
            .expect("delete");
        }
        let edited = Instant::now();
        let changes = wt.changes().expect("changes");
        assert_eq!(changes.len(), 30);
        let captured = Instant::now();
        wt.remove(&store).expect("remove");
        let removed = Instant::now();
        create.push(created - started);
        capture.push(captured - edited);
        remove.push(removed - captured);
        total.push((created - started) + (captured - edited) + (removed - captured));
    }
    println!("worktree on a {FILES}-file repository, median of {RUNS} runs:");
    println!("  create (branch + checkout)       {}", ms(median(create)));
    println!("  changes (30 changed files)       {}", ms(median(capture)));
    println!("  remove (worktree + branch)       {}", ms(median(remove)));
    println!("  create + changes + remove        {}", ms(median(total)));
}
