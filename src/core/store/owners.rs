//! Which process a live row belongs to, and whether that process still runs.
//!
//! A row that says work is under way (a running chat, a streaming message, an open trace, a
//! running task, workflow run or call) records the id of the process doing it. That process
//! holds an exclusive `flock` on `owners/<id>` beside the database for as long as it lives;
//! the kernel drops the lock however the process ends (kill -9 included). Any reader can so
//! tell a dead owner at once, without a writer repairing the rows first, and a recycled pid can
//! never pass for it: the id is random, never a pid.

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{anyhow, Context, Result};

use crate::core::instance::flock;
use crate::core::private_fs::{ensure_private_dir, private_open_options};

/// The lease of this process: the locked file that says it is alive. Dropping it (when the
/// store closes) removes the file.
struct Lease {
    id: String,
    path: PathBuf,
    _file: File,
}

impl Lease {
    fn take(dir: &Path) -> Result<Lease> {
        ensure_private_dir(dir)?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        // The file is locked under a name no reader looks at and then renamed into place, so a
        // reader (or the sweep) never finds it unlocked and takes its owner for dead.
        let staging = dir.join(format!(".{id}.new"));
        let file = private_open_options()
            .write(true)
            .create_new(true)
            .open(&staging)
            .with_context(|| format!("creating {}", staging.display()))?;
        flock(&file, libc::LOCK_EX | libc::LOCK_NB)
            .with_context(|| format!("locking {}", staging.display()))?;
        let path = dir.join(&id);
        std::fs::rename(&staging, &path)
            .with_context(|| format!("renaming {} into place", staging.display()))?;
        Ok(Lease {
            id,
            path,
            _file: file,
        })
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // Removed while still locked: a reader that opened it just before sees it dead
        // once the file closes, a later one finds no file, which also means dead.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The owners directory of one database, this process's lease in it, and the owners
/// already known dead (a dead owner never comes back).
pub(super) struct Owners {
    /// `None` for an in-memory database, which no other process can see.
    dir: Option<PathBuf>,
    lease: Mutex<Option<Lease>>,
    /// The id an in-memory database stamps: it has no lease file.
    memory_id: String,
    dead: Mutex<HashSet<String>>,
}

impl Owners {
    pub(super) fn beside(database: &Path) -> Owners {
        let dir = database
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join("owners");
        Owners {
            dir: Some(dir),
            ..Owners::in_memory()
        }
    }

    pub(super) fn in_memory() -> Owners {
        Owners {
            dir: None,
            lease: Mutex::new(None),
            memory_id: uuid::Uuid::new_v4().simple().to_string(),
            dead: Mutex::new(HashSet::new()),
        }
    }

    /// This process's owner id, taking the lease on first use (a process that only reads
    /// never takes one).
    pub(super) fn this_process(&self) -> Result<String> {
        let Some(dir) = &self.dir else {
            return Ok(self.memory_id.clone());
        };
        let mut lease = self
            .lease
            .lock()
            .map_err(|_| anyhow!("owner lease poisoned by an earlier panic"))?;
        if let Some(lease) = lease.as_ref() {
            return Ok(lease.id.clone());
        }
        let taken = Lease::take(dir)?;
        let id = taken.id.clone();
        *lease = Some(taken);
        Ok(id)
    }

    /// True when the process that wrote `owner` has ended. Anything that cannot be a lease
    /// name counts as alive: only a lease proves a death.
    pub(super) fn is_gone(&self, owner: &str) -> bool {
        let Some(dir) = &self.dir else {
            return false;
        };
        if !is_owner_id(owner) {
            return false;
        }
        if let Ok(lease) = self.lease.lock() {
            if lease.as_ref().is_some_and(|l| l.id == owner) {
                return false;
            }
        }
        if self.dead.lock().is_ok_and(|dead| dead.contains(owner)) {
            return true;
        }
        let gone = match File::open(dir.join(owner)) {
            Err(e) => e.kind() == std::io::ErrorKind::NotFound,
            // Locking it ourselves means nobody holds it: the owner is gone. The lock is
            // released when the file closes at the end of this block.
            Ok(file) => flock(&file, libc::LOCK_SH | libc::LOCK_NB).is_ok(),
        };
        if gone {
            if let Ok(mut dead) = self.dead.lock() {
                dead.insert(owner.to_string());
            }
        }
        gone
    }

    /// Removes the lease files of owners that are gone (after their rows were repaired).
    pub(super) fn sweep(&self) {
        let Some(dir) = &self.dir else { return };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if is_owner_id(name) && self.is_gone(name) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// Lease names are 32 lowercase hex digits; nothing else is ever opened as one.
fn is_owner_id(name: &str) -> bool {
    name.len() == 32 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_owner_is_alive_while_its_store_lives_and_gone_after() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("boocode.db");
        let writer = Owners::beside(&db);
        let reader = Owners::beside(&db);
        let id = writer.this_process().unwrap();
        assert_eq!(writer.this_process().unwrap(), id, "one lease per store");
        assert!(!writer.is_gone(&id));
        assert!(!reader.is_gone(&id));
        reader.sweep();
        assert!(
            dir.path().join("owners").join(&id).exists(),
            "a live lease stays"
        );

        drop(writer);
        assert!(reader.is_gone(&id));
        // A lease left by a killed process (file still there, nobody holding it).
        let stale = "0123456789abcdef0123456789abcdef";
        std::fs::write(dir.path().join("owners").join(stale), "").unwrap();
        let fresh = Owners::beside(&db);
        assert!(fresh.is_gone(stale));
        fresh.sweep();
        assert!(!dir.path().join("owners").join(stale).exists());
        // Names that are not leases are never opened.
        assert!(!fresh.is_gone("../boocode.db"));
    }
}
