//! boocode's own process and the processes it starts.
//!
//! Every program boocode runs (a `run_command`, the workflow script worker; terminal panes and
//! external agents next) is started by [`spawn`], which:
//!
//! - gives it a session of its own, so it has no controlling terminal (it cannot read or inject
//!   into the workspace's terminal, and the terminal's Ctrl-C reaches boocode only) and its
//!   process group id is its pid;
//! - withholds boocode's provider keys from its environment;
//! - when boocode runs as root, takes from it and from everything it starts the capabilities
//!   that read another process's memory (`CAP_SYS_PTRACE`, `CAP_SYS_RAWIO`): boocode is not
//!   dumpable ([`secrets`]), so without them a child cannot open boocode's `/proc/PID/mem` or
//!   `environ` even as root;
//! - registers its process group with the [`reaper`] before it runs anything, and the reaper
//!   kills the whole group when boocode ends, even by SIGKILL, so no command outlives boocode
//!   to run on (and then run again on `resume`).

pub mod reaper;
pub mod secrets;

use std::io;
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::core::llm::provider;

/// Starts `command` as a child of boocode as described in the module docs; the returned group
/// is killed when dropped unless [`ProcessGroup::disarm`]ed.
pub fn spawn(
    command: &mut tokio::process::Command,
) -> io::Result<(tokio::process::Child, ProcessGroup)> {
    prepare(command.as_std_mut());
    let child = command.spawn()?;
    let pid = child.id().ok_or_else(|| {
        io::Error::other("the process exited before its process group could be recorded")
    })?;
    Ok((child, ProcessGroup::of_leader(pid)))
}

/// [`spawn`] for a child waited on by a thread rather than a runtime (a terminal session's
/// reader), with one more step between fork and exec, `after_setsid`, run after boocode's own:
/// taking a controlling terminal needs the new session.
pub fn spawn_std_with(
    command: &mut std::process::Command,
    after_setsid: impl FnMut() -> io::Result<()> + Send + Sync + 'static,
) -> io::Result<(std::process::Child, ProcessGroup)> {
    prepare(command);
    // SAFETY: the caller's step runs between fork and exec, after `prepare`'s; callers give
    // only async-signal-safe system calls.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(command, after_setsid);
    }
    let child = command.spawn()?;
    let pid = child.id();
    Ok((child, ProcessGroup::of_leader(pid)))
}

/// Withholds the provider keys and installs the pre-exec step every child gets: a session of
/// its own, the memory-reading capabilities dropped, its group announced to the reaper.
fn prepare(command: &mut std::process::Command) {
    for var in provider::key_variables() {
        command.env_remove(var);
    }
    let reaper = reaper::channel();
    // SAFETY: the hook runs between fork and exec and only makes async-signal-safe system
    // calls (setsid, prctl, capget, capset, getpid, signal, write); it allocates nothing and
    // touches no locks.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(command, move || {
            if libc::setsid() == -1 {
                return Err(io::Error::last_os_error());
            }
            drop_memory_reading_capabilities();
            if let Some(fd) = reaper {
                reaper::announce_self(fd);
            }
            Ok(())
        });
    }
}

/// The process group of a child started by [`spawn`]: the child and everything it started
/// that did not leave the group. Killed when dropped armed — which covers a future running the
/// child being dropped mid-run, where `kill_on_drop` alone would reach only the direct child.
#[derive(Debug)]
pub struct ProcessGroup {
    pgid: libc::pid_t,
    armed: bool,
}

impl ProcessGroup {
    /// The group `setsid` made for the child `pid`: its id is the pid.
    fn of_leader(pid: u32) -> ProcessGroup {
        ProcessGroup {
            pgid: pid as libc::pid_t,
            armed: true,
        }
    }

    pub fn id(&self) -> libc::pid_t {
        self.pgid
    }

    /// SIGKILLs every process in the group.
    pub fn kill(&self) {
        kill_group(self.pgid);
    }

    /// SIGTERMs every process in the group: asks it to end (and flush what it holds).
    pub fn terminate(&self) {
        signal_group(self.pgid, libc::SIGTERM);
    }

    /// Leaves whatever still runs in the group alone when this handle is dropped; the reaper
    /// still ends it when boocode ends.
    pub fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        if self.armed {
            self.kill();
        }
    }
}

/// SIGKILLs process group `pgid`. Ids 0 and 1 are refused: `kill(0)` would hit boocode's own
/// group and `kill(-1)` every process the user owns.
pub(crate) fn kill_group(pgid: libc::pid_t) {
    signal_group(pgid, libc::SIGKILL);
}

/// Sends `signal` to process group `pgid`, refusing ids 0 and 1 as [`kill_group`] does.
fn signal_group(pgid: libc::pid_t, signal: libc::c_int) {
    if pgid > 1 {
        // SAFETY: kill(2) has no memory-safety preconditions; a group that is already gone
        // just yields ESRCH.
        unsafe {
            libc::kill(-pgid, signal);
        }
    }
}

/// Whether any process (a zombie included) is still in group `pgid`.
pub(crate) fn group_exists(pgid: libc::pid_t) -> bool {
    // SAFETY: signal 0 only checks that the group exists and may be signalled.
    pgid > 1
        && (unsafe { libc::kill(-pgid, 0) } == 0
            || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH))
}

/// Capabilities that let a process read another one's memory: ptrace and `/proc/PID/mem`,
/// `environ` of a non-dumpable process (`CAP_SYS_PTRACE`); `/proc/kcore` and `/dev/mem`
/// (`CAP_SYS_RAWIO`).
#[cfg(target_os = "linux")]
const MEMORY_READING_CAPABILITIES: [u32; 2] =
    [19 /* CAP_SYS_PTRACE */, 17 /* CAP_SYS_RAWIO */];

/// Removes [`MEMORY_READING_CAPABILITIES`] from the bounding, ambient, effective, permitted
/// and inheritable sets, so neither the program about to be executed nor anything it starts
/// (setuid binaries included) can have them. Without privilege (a non-root boocode) there is
/// nothing to remove and the calls fail harmlessly. Called between fork and exec: system calls
/// only.
#[cfg(target_os = "linux")]
fn drop_memory_reading_capabilities() {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    // SAFETY: prctl and the capget/capset system calls get valid pointers to properly sized
    // `repr(C)` structs that live for the duration of each call.
    unsafe {
        for cap in MEMORY_READING_CAPABILITIES {
            let cap = libc::c_ulong::from(cap);
            libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0);
            libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_LOWER, cap, 0, 0);
        }
        let mut header = Header {
            version: LINUX_CAPABILITY_VERSION_3,
            pid: 0,
        };
        let mut data = [Data {
            effective: 0,
            permitted: 0,
            inheritable: 0,
        }; 2];
        if libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) != 0 {
            return;
        }
        for cap in MEMORY_READING_CAPABILITIES {
            let word = &mut data[(cap / 32) as usize];
            let bit = !(1u32 << (cap % 32));
            word.effective &= bit;
            word.permitted &= bit;
            word.inheritable &= bit;
        }
        libc::syscall(libc::SYS_capset, &mut header, data.as_ptr());
    }
}

#[cfg(not(target_os = "linux"))]
fn drop_memory_reading_capabilities() {}

/// The program this process runs, to start helpers of the same build (the script worker, the
/// reaper). On Linux that is `/proc/self/exe`, which still works after the file was replaced
/// or deleted (a rebuild or upgrade while the workspace runs).
pub fn own_executable() -> Result<PathBuf> {
    let proc_exe = PathBuf::from("/proc/self/exe");
    if cfg!(target_os = "linux") && proc_exe.exists() {
        return Ok(proc_exe);
    }
    std::env::current_exe().context("finding the boocode executable")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Processes of group `pgid` that are alive (zombies, which an init that does not reap
    /// leaves behind, are dead).
    fn live_members(pgid: libc::pid_t) -> Vec<String> {
        let mut live = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            let Some((_, rest)) = stat.rsplit_once(')') else {
                continue;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            if fields.len() > 2 && fields[2] == pgid.to_string() && fields[0] != "Z" {
                live.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        live
    }

    #[tokio::test]
    async fn a_child_gets_its_own_session_and_no_provider_keys() {
        let mut cmd = tokio::process::Command::new("sh");
        cmd.args([
            "-c",
            "cut -d' ' -f5,6 /proc/$$/stat; echo key=${DEEPSEEK_API_KEY-unset}",
        ])
        .env("DEEPSEEK_API_KEY", "sk-should-not-pass")
        .stdout(std::process::Stdio::piped());
        let (child, mut group) = spawn(&mut cmd).unwrap();
        let pid = child.id().unwrap() as libc::pid_t;
        assert_eq!(group.id(), pid);
        let out = child.wait_with_output().await.unwrap();
        group.disarm();
        let text = String::from_utf8(out.stdout).unwrap();
        // Process group and session are both the child's own pid.
        assert!(text.starts_with(&format!("{pid} {pid}\n")), "{text}");
        assert!(text.contains("key=unset"), "{text}");
    }

    #[tokio::test]
    async fn dropping_an_armed_group_kills_the_whole_group() {
        let mut cmd = tokio::process::Command::new("sh");
        cmd.args(["-c", "sleep 30 & sleep 30; true"]);
        let (mut child, group) = spawn(&mut cmd).unwrap();
        let pgid = group.id();
        for _ in 0..100 {
            if live_members(pgid).len() == 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(live_members(pgid).len(), 3, "sh and two sleeps");
        drop(group);
        tokio::time::timeout(Duration::from_secs(5), child.wait())
            .await
            .unwrap()
            .unwrap();
        for _ in 0..100 {
            if live_members(pgid).is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("still alive in group {pgid}: {:?}", live_members(pgid));
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_root_child_loses_the_capabilities_that_read_memory() {
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: needs root to have capabilities to drop");
            return;
        }
        let mut cmd = tokio::process::Command::new("sh");
        cmd.args(["-c", "grep -E '^Cap(Eff|Prm|Bnd)' /proc/self/status"])
            .stdout(std::process::Stdio::piped());
        let (child, mut group) = spawn(&mut cmd).unwrap();
        let out = child.wait_with_output().await.unwrap();
        group.disarm();
        let text = String::from_utf8(out.stdout).unwrap();
        let mut lines = 0;
        for line in text.lines() {
            let hex = line.split_whitespace().nth(1).unwrap();
            let caps = u64::from_str_radix(hex, 16).unwrap();
            for cap in MEMORY_READING_CAPABILITIES {
                assert_eq!(caps & (1 << cap), 0, "capability {cap} kept: {line}");
            }
            lines += 1;
        }
        assert_eq!(lines, 3, "{text}");
    }
}
