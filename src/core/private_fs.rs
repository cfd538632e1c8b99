//! The data home holds everything the user typed and every answer: its directories are 0700
//! and its files 0600 whatever the umask, and modes an older boocode (or a copy) left wider are
//! narrowed again when the file is opened.

use std::fs::{DirBuilder, OpenOptions};
use std::path::Path;

use anyhow::{Context, Result};

const DIR_MODE: u32 = 0o700;
const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and missing parents) readable by its owner only, and narrows it when it
/// already existed with a wider mode.
pub fn ensure_private_dir(dir: &Path) -> Result<()> {
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(DIR_MODE);
    }
    builder
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    narrow_mode(dir, DIR_MODE)
}

/// Narrows an existing file to 0600; a missing file is fine (it will be created private).
pub fn ensure_private_file(path: &Path) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() => narrow_mode(path, FILE_MODE),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("reading the mode of {}", path.display())),
    }
}

/// Open options that create a file with mode 0600 (the umask can only narrow it further).
pub fn private_open_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(FILE_MODE);
    }
    options
}

#[cfg(unix)]
fn narrow_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let current = std::fs::metadata(path)
        .with_context(|| format!("reading the mode of {}", path.display()))?
        .permissions()
        .mode()
        & 0o777;
    if current == mode {
        return Ok(());
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("making {} private (mode {mode:o})", path.display()))
}

#[cfg(not(unix))]
fn narrow_mode(_path: &Path, _mode: u32) -> Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn wide_modes_are_narrowed_and_new_entries_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir(&home).unwrap();
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o777)).unwrap();
        let file = home.join("f");
        std::fs::write(&file, "x").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();

        ensure_private_dir(&home).unwrap();
        ensure_private_file(&file).unwrap();
        ensure_private_file(&home.join("missing")).unwrap();
        assert_eq!(mode(&home), 0o700);
        assert_eq!(mode(&file), 0o600);

        let nested = home.join("a/b");
        ensure_private_dir(&nested).unwrap();
        assert_eq!(mode(&nested), 0o700);
        let created = home.join("new");
        private_open_options()
            .write(true)
            .create_new(true)
            .open(&created)
            .unwrap();
        assert_eq!(mode(&created) & 0o077, 0);
    }
}
