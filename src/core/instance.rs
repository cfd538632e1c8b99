//! Several boocode processes may share one data home (a workspace and a headless `exec`, say).
//! Each holds a shared lock on `$BOOCODE_HOME/boocode.lock` while it runs; only a process that
//! finds no other holder repairs what a crash left behind, so it never marks another live
//! process's work as interrupted.

use std::fs::File;
use std::path::Path;

use anyhow::{Context, Result};

/// Held for the life of an engine; dropping it releases the lock.
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
    /// True when no other process was running when this one started.
    pub alone: bool,
}

impl InstanceLock {
    pub fn acquire(home: &Path) -> Result<InstanceLock> {
        std::fs::create_dir_all(home).with_context(|| format!("creating {}", home.display()))?;
        let path = home.join("boocode.lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        let alone = flock(&file, libc::LOCK_EX | libc::LOCK_NB).is_ok();
        // Holding the lock shared lets the next process see that this one is alive.
        flock(&file, libc::LOCK_SH).with_context(|| format!("locking {}", path.display()))?;
        Ok(InstanceLock { _file: file, alone })
    }
}

fn flock(file: &File, operation: i32) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a file descriptor we own for the duration of the call.
    let rc = unsafe { libc::flock(file.as_raw_fd(), operation) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_first_holder_is_alone() {
        let dir = tempfile::tempdir().unwrap();
        let first = InstanceLock::acquire(dir.path()).unwrap();
        assert!(first.alone);
        let second = InstanceLock::acquire(dir.path()).unwrap();
        assert!(!second.alone);
        drop(first);
        drop(second);
        assert!(InstanceLock::acquire(dir.path()).unwrap().alone);
    }
}
