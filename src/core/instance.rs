//! Several boocode processes may share one data home (a workspace and a headless `exec`, say).
//! Each holds a shared lock on `$BOOCODE_HOME/boocode.lock` while it runs. Live rows name the
//! process that owns them (store/owners.rs), so any process repairs the leftovers of an ended
//! one; rows written before owners were recorded are repaired only by a process that finds no
//! other holder, so it never marks another live process's work as interrupted.

use std::fs::File;
use std::path::Path;

use anyhow::{Context, Result};

use crate::core::private_fs::{ensure_private_dir, ensure_private_file, private_open_options};

/// Held for the life of an engine; dropping it releases the lock.
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
    /// True when no other process was running when this one started.
    pub alone: bool,
}

impl InstanceLock {
    pub fn acquire(home: &Path) -> Result<InstanceLock> {
        ensure_private_dir(home)?;
        let path = home.join("boocode.lock");
        ensure_private_file(&path)?;
        let file = private_open_options()
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

/// `flock(2)` on an open file; the lock lives as long as the open file description.
pub(crate) fn flock(file: &File, operation: i32) -> std::io::Result<()> {
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
