//! The reaper: one small process per boocode process that kills boocode's children when
//! boocode ends, however it ends (SIGKILL and the OOM killer included).
//!
//! It is this binary again (the hidden subcommand [`SUBCOMMAND`]), in a session of its own so
//! the terminal's signals do not reach it, with an empty environment. Its stdin is a pipe whose
//! write end only boocode holds (close-on-exec, so no program inherits it). Every child writes
//! its own process group id to that pipe between fork and exec ([`announce_self`]), so there is
//! no moment when a child runs unregistered, however soon boocode is killed after starting it.
//! When the pipe reports end of file — boocode exited or was killed, and the kernel closed its
//! end — the reaper SIGKILLs every registered group that still has a process and exits.
//! `PR_SET_PDEATHSIG` would reach only the direct child, and fires when the spawning *thread*
//! exits (under tokio, possibly a short-lived blocking-pool thread), so it is not used.
//!
//! Groups that emptied are forgotten at every wake-up (at least once a second), so a group id
//! the system hands out again later is not killed by mistake.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Stdio};
use std::sync::Mutex;

use super::{group_exists, kill_group};

/// The hidden subcommand that runs [`run`].
pub const SUBCOMMAND: &str = "__reaper";
/// How often the reaper forgets groups that have no process left.
const PRUNE_INTERVAL_MS: libc::c_int = 1000;

enum State {
    /// Children are not watched (the library used on its own, as in tests).
    Off,
    /// Watched by a reaper running this program, started with the first child.
    Ready(PathBuf),
    /// The write end of the reaper's stdin. Never closed while boocode runs: a child being
    /// started may be about to write to this descriptor number.
    Running(ChildStdin),
    /// Starting the reaper failed; already logged.
    Broken,
}

static STATE: Mutex<State> = Mutex::new(State::Off);

/// Makes [`super::spawn`] register every child's process group with a reaper that runs
/// `program` [`SUBCOMMAND`] (this executable), started when the first child is.
pub fn enable(program: PathBuf) {
    *lock() = State::Ready(program);
}

fn lock() -> std::sync::MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(|p| p.into_inner())
}

/// The descriptor a child announces itself on, starting the reaper if this is the first child;
/// `None` when children are not watched.
pub(super) fn channel() -> Option<RawFd> {
    let mut state = lock();
    if let State::Ready(program) = &*state {
        *state = match start(program) {
            Ok(pipe) => State::Running(pipe),
            Err(e) => {
                tracing::warn!(
                    "starting the reaper failed ({e}); programs boocode starts may outlive it"
                );
                State::Broken
            }
        };
    }
    match &*state {
        State::Running(pipe) => Some(pipe.as_raw_fd()),
        _ => None,
    }
}

/// Writes this process's id, which [`libc::setsid`] made its process group id, to the
/// reaper's pipe `fd`. Runs in a child between fork and exec: no allocation, system calls
/// only. A reaper that is gone is ignored (with SIGPIPE ignored for the write, so it cannot
/// kill the child); the program still runs.
pub(super) fn announce_self(fd: RawFd) {
    let mut line = [0u8; 16];
    let mut at = line.len() - 1;
    line[at] = b'\n';
    // SAFETY: getpid, signal and write take plain values and a pointer into `line`, valid for
    // `line.len() - at` bytes.
    unsafe {
        let mut pid = libc::getpid().unsigned_abs();
        loop {
            at -= 1;
            line[at] = b'0' + (pid % 10) as u8;
            pid /= 10;
            if pid == 0 {
                break;
            }
        }
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        libc::write(fd, line[at..].as_ptr().cast(), line.len() - at);
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn start(program: &Path) -> io::Result<ChildStdin> {
    let mut cmd = std::process::Command::new(program);
    cmd.arg(SUBCOMMAND)
        .env_clear()
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: setsid is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            if libc::setsid() == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    // The child handle is dropped without waiting: the reaper exits after boocode does.
    let mut child = cmd.spawn()?;
    child
        .stdin
        .take()
        .ok_or_else(|| io::Error::other("the reaper has no stdin"))
}

/// The reaper process: watches its stdin; returns the exit code.
pub fn run() -> i32 {
    use std::os::fd::AsFd;
    match io::stdin().as_fd().try_clone_to_owned() {
        Ok(fd) => {
            watch(File::from(fd));
            0
        }
        Err(_) => 1,
    }
}

/// Reads group ids, one a line, until end of file; then kills the groups still alive.
fn watch(mut input: File) {
    let mut groups: Vec<libc::pid_t> = Vec::new();
    let mut pending = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if readable(&input) {
            match input.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    pending.extend_from_slice(&buf[..n]);
                    groups.extend(complete_lines(&mut pending));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        groups.retain(|g| group_exists(*g));
    }
    for group in groups {
        kill_group(group);
    }
}

/// Waits up to [`PRUNE_INTERVAL_MS`] for input (or end of file).
fn readable(input: &File) -> bool {
    let mut fd = libc::pollfd {
        fd: input.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call.
    unsafe { libc::poll(&mut fd, 1, PRUNE_INTERVAL_MS) > 0 }
}

/// Takes the complete lines off `pending` and returns the group ids they hold; anything that
/// is not a group id above 1 is ignored (see [`kill_group`]).
fn complete_lines(pending: &mut Vec<u8>) -> Vec<libc::pid_t> {
    let Some(end) = pending.iter().rposition(|b| *b == b'\n') else {
        return Vec::new();
    };
    let lines: Vec<u8> = pending.drain(..=end).collect();
    String::from_utf8_lossy(&lines)
        .lines()
        .filter_map(|l| l.trim().parse::<libc::pid_t>().ok())
        .filter(|g| *g > 1)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::time::{Duration, Instant};

    #[test]
    fn only_complete_lines_with_real_group_ids_count() {
        let mut pending = b"12\n-1\n1\n0\nabc\n345\n67".to_vec();
        assert_eq!(complete_lines(&mut pending), vec![12, 345]);
        assert_eq!(pending, b"67");
        assert!(complete_lines(&mut pending).is_empty());
        pending.extend_from_slice(b"8\n");
        assert_eq!(complete_lines(&mut pending), vec![678]);
    }

    #[test]
    fn end_of_input_kills_the_groups_that_announced_themselves() {
        let (read_end, write_end) = io::pipe().unwrap();
        let watcher = std::thread::spawn(move || {
            use std::os::fd::OwnedFd;
            watch(File::from(OwnedFd::from(read_end)))
        });
        let fd = write_end.as_raw_fd();
        // SAFETY: the hook only makes system calls (see `spawn`).
        let mut child = unsafe {
            std::process::Command::new("sleep")
                .arg("30")
                .pre_exec(move || {
                    libc::setsid();
                    announce_self(fd);
                    Ok(())
                })
                .spawn()
                .unwrap()
        };
        std::thread::sleep(Duration::from_millis(50));
        assert!(child.try_wait().unwrap().is_none(), "killed too early");
        drop(write_end);
        watcher.join().unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while child.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "the group outlived the reaper's input"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
