use std::time::Instant;

use super::*;

fn request(command: &str, args: &[&str]) -> acp::CreateTerminalRequest {
    acp::CreateTerminalRequest::new("s", command)
        .args(args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
}

fn terminals() -> (tempfile::TempDir, Terminals) {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    std::fs::create_dir(root.join("sub")).unwrap();
    (dir, Terminals::new(root))
}

#[test]
fn the_tail_is_kept_on_a_character_boundary() {
    assert_eq!(keep_tail("héllo".into(), None), ("héllo".into(), false));
    assert_eq!(keep_tail("héllo".into(), Some(6)), ("héllo".into(), false));
    assert_eq!(keep_tail("héllo".into(), Some(5)), ("éllo".into(), true));
    // 4 bytes from the end would start inside `é`: the cut moves forward to `l`.
    assert_eq!(keep_tail("héllo".into(), Some(4)), ("llo".into(), true));
    assert_eq!(keep_tail("abc".into(), Some(0)), ("".into(), true));
}

#[test]
fn a_command_line_without_arguments_runs_through_the_shell() {
    assert_eq!(command_argv("ls", &[]), ["ls"]);
    assert_eq!(
        command_argv("printf", &["%s".into(), "a b".into()]),
        ["printf", "%s", "a b"]
    );
    assert_eq!(
        command_argv("echo hi && exit 3", &[]),
        ["/bin/sh", "-c", "echo hi && exit 3"]
    );
}

#[test]
fn exit_statuses_carry_a_code_or_a_signal_name() {
    let code = exit_status(ExitReport::Code(3));
    assert_eq!((code.exit_code, code.signal), (Some(3), None));
    let killed = exit_status(ExitReport::Signal(libc::SIGKILL));
    assert_eq!(
        (killed.exit_code, killed.signal.as_deref()),
        (None, Some("SIGKILL"))
    );
}

#[tokio::test]
async fn a_command_runs_in_its_cwd_with_its_env_and_reports_output_and_exit() {
    let (_dir, terminals) = terminals();
    let mut req = request("sh", &["-c", "pwd; printf '%s\\n' \"$GREETING\"; exit 3"]);
    req.cwd = Some("sub".into());
    req.env = vec![acp::EnvVariable::new("GREETING", "hello from boocode")];
    let id = terminals.create(&req).unwrap();
    let exit = tokio::time::timeout(Duration::from_secs(5), terminals.wait_for_exit(&id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(exit, ExitReport::Code(3));
    let text = terminals.output(&id).unwrap();
    let sub = terminals.cwd.join("sub");
    assert_eq!(
        text.output,
        format!("{}\nhello from boocode\n", sub.display())
    );
    assert!(!text.truncated);
    assert_eq!(text.exit, Some(ExitReport::Code(3)));
}

#[test]
fn a_cwd_outside_the_working_directory_is_refused() {
    let (_dir, terminals) = terminals();
    for outside in ["/", "..", "sub/../.."] {
        let mut req = request("true", &[]);
        req.cwd = Some(outside.into());
        let err = terminals.create(&req).unwrap_err();
        assert!(format!("{err:?}").contains("cwd"), "{outside}: {err:?}");
    }
    assert_eq!(terminals.live_count(), 0);
}

#[tokio::test]
async fn output_is_cut_from_the_start_to_the_byte_limit() {
    let (_dir, terminals) = terminals();
    let mut req = request("printf", &["one\\ntwo\\nthree\\n"]);
    req.output_byte_limit = Some(8);
    let id = terminals.create(&req).unwrap();
    terminals.wait_for_exit(&id).await.unwrap();
    let text = terminals.output(&id).unwrap();
    assert_eq!(text.output, "o\nthree\n");
    assert!(text.truncated);
}

#[tokio::test]
async fn kill_ends_the_command_and_release_forgets_it_but_keeps_what_it_showed() {
    let (_dir, terminals) = terminals();
    let id = terminals
        .create(&request("sh", &["-c", "echo started; exec sleep 30"]))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !terminals.output(&id).unwrap().output.contains("started") {
        assert!(Instant::now() < deadline, "no output");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(terminals.output(&id).unwrap().exit, None);
    terminals.kill(&id).unwrap();
    let exit = tokio::time::timeout(Duration::from_secs(5), terminals.wait_for_exit(&id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(exit, ExitReport::Signal(libc::SIGKILL));
    // Killed, not released: still readable.
    assert_eq!(terminals.output(&id).unwrap().output, "started\n");
    terminals.release(&id).unwrap();
    assert!(terminals.output(&id).is_err());
    assert!(terminals.release(&id).is_err());
    assert_eq!(terminals.shown_output(&id).as_deref(), Some("started\n"));
}

#[tokio::test]
async fn ending_the_connection_kills_every_command() {
    let (_dir, terminals) = terminals();
    let id = terminals.create(&request("sleep", &["30"])).unwrap();
    let pid = terminals.get(&id).unwrap().session.group_id();
    terminals.release_all();
    let deadline = Instant::now() + Duration::from_secs(5);
    // SAFETY: signal 0 only asks whether the group still has a process.
    while unsafe { libc::kill(-pid, 0) } == 0 {
        assert!(
            Instant::now() < deadline,
            "the command outlived its connection"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(terminals.live_count(), 0);
}
