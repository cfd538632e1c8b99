//! Keeps every path a tool touches inside the project root (or an explicitly granted extra
//! root), after `..` and symlinks are resolved — a lexical check alone would let a symlink
//! inside the root lead outside it.

use std::path::{Component, Path, PathBuf};

use super::{ToolContext, ToolError};

/// Resolves `requested` (relative paths are taken from `project_root`) to an absolute path with
/// `..` and symlinks resolved, and checks that it lies inside `project_root` or one of
/// `extra_roots`.
///
/// The path need not exist: the longest existing ancestor is canonicalized and the rest is
/// appended, which must then contain no `..` (it cannot be resolved against the disk) and must
/// not start with a dangling symlink (writing through it would create a file wherever it points).
pub fn resolve(
    project_root: &Path,
    extra_roots: &[PathBuf],
    requested: &str,
) -> Result<PathBuf, ToolError> {
    if requested.trim().is_empty() {
        return Err(ToolError::Failed("path is empty".into()));
    }
    if requested.contains('\0') {
        return Err(ToolError::Failed(format!(
            "path '{}' contains a NUL byte",
            requested.escape_debug()
        )));
    }
    let root = canonical_or_same(project_root);
    let requested_path = Path::new(requested);
    let joined = if requested_path.is_absolute() {
        requested_path.to_path_buf()
    } else {
        root.join(requested_path)
    };

    let components: Vec<Component> = joined.components().collect();
    let (mut resolved, rest) = (0..=components.len())
        .rev()
        .find_map(|i| {
            let prefix: PathBuf = components[..i].iter().collect();
            std::fs::canonicalize(&prefix)
                .ok()
                .map(|c| (c, &components[i..]))
        })
        .ok_or_else(|| ToolError::Failed(format!("cannot resolve path '{requested}'")))?;

    for (i, component) in rest.iter().enumerate() {
        match component {
            Component::CurDir => {}
            Component::Normal(name) => {
                resolved.push(name);
                // Only the first missing component can exist at all; if it does while
                // canonicalize failed on it, it is a symlink to nowhere.
                if i == 0 && resolved.symlink_metadata().is_ok() {
                    return Err(ToolError::Denied(format!(
                        "path '{requested}' goes through a dangling symlink ({})",
                        resolved.display()
                    )));
                }
            }
            Component::ParentDir => {
                return Err(ToolError::Failed(format!(
                    "path '{requested}' uses '..' below a directory that does not exist"
                )));
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(ToolError::Failed(format!(
                    "cannot resolve path '{requested}'"
                )));
            }
        }
    }

    let inside = resolved.starts_with(&root)
        || extra_roots
            .iter()
            .any(|r| resolved.starts_with(canonical_or_same(r)));
    if inside {
        Ok(resolved)
    } else if extra_roots.is_empty() {
        Err(ToolError::Denied(format!(
            "path '{requested}' is outside the project root {}",
            root.display()
        )))
    } else {
        Err(ToolError::Denied(format!(
            "path '{requested}' is outside the project root {} and the extra roots ({})",
            root.display(),
            extra_roots
                .iter()
                .map(|r| r.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }
}

/// [`resolve`] against a tool context's roots.
pub fn resolve_in(ctx: &ToolContext, requested: &str) -> Result<PathBuf, ToolError> {
    resolve(&ctx.project_root, &ctx.extra_roots, requested)
}

/// How a resolved path is shown to the model and the user: relative to the project root when
/// inside it (`.` for the root itself), absolute otherwise (extra roots).
pub fn display_path(project_root: &Path, path: &Path) -> String {
    let root = canonical_or_same(project_root);
    match path.strip_prefix(&root) {
        Ok(rel) if rel.as_os_str().is_empty() => ".".to_string(),
        Ok(rel) => rel.to_string_lossy().into_owned(),
        Err(_) => path.to_string_lossy().into_owned(),
    }
}

/// The context's project root is meant to be canonical already; canonicalizing again keeps the
/// guard correct for callers (and temp dirs under a symlinked /tmp) that pass a non-canonical one.
fn canonical_or_same(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/a.txt"), "a").unwrap();
        (dir, root)
    }

    #[test]
    fn relative_absolute_and_missing_paths_inside_resolve() {
        let (_d, root) = root();
        assert_eq!(
            resolve(&root, &[], "sub/a.txt").unwrap(),
            root.join("sub/a.txt")
        );
        assert_eq!(
            resolve(&root, &[], root.join("sub/./a.txt").to_str().unwrap()).unwrap(),
            root.join("sub/a.txt")
        );
        assert_eq!(
            resolve(&root, &[], "sub/../sub/new/x.rs").unwrap(),
            root.join("sub/new/x.rs")
        );
        assert_eq!(resolve(&root, &[], ".").unwrap(), root);
    }

    #[test]
    fn dotdot_escape_is_refused_with_the_root_named() {
        let (_d, root) = root();
        let err = resolve(&root, &[], "../x").unwrap_err();
        assert!(matches!(err, ToolError::Denied(_)), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("'../x'"), "{msg}");
        assert!(msg.contains(&root.display().to_string()), "{msg}");
        assert!(resolve(&root, &[], "sub/../../x").is_err());
        assert!(resolve(&root, &[], "/etc/passwd").is_err());
    }

    #[test]
    fn dotdot_in_a_missing_remainder_is_refused() {
        let (_d, root) = root();
        let err = resolve(&root, &[], "nope/../../x").unwrap_err();
        assert!(err.to_string().contains(".."), "{err}");
    }

    #[test]
    fn symlink_escape_is_refused() {
        let (_d, root) = root();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("link")).unwrap();
        let err = resolve(&root, &[], "link/secret").unwrap_err();
        assert!(
            err.to_string().contains("outside the project root"),
            "{err}"
        );
        // A new file through the escaping link must be refused too.
        assert!(resolve(&root, &[], "link/new.txt").is_err());
    }

    #[test]
    fn dangling_symlink_is_refused() {
        let (_d, root) = root();
        std::os::unix::fs::symlink("/nonexistent-boocode-target", root.join("dangling")).unwrap();
        let err = resolve(&root, &[], "dangling").unwrap_err();
        assert!(err.to_string().contains("dangling symlink"), "{err}");
    }

    #[test]
    fn symlink_inside_the_root_is_allowed() {
        let (_d, root) = root();
        std::os::unix::fs::symlink(root.join("sub"), root.join("alias")).unwrap();
        assert_eq!(
            resolve(&root, &[], "alias/a.txt").unwrap(),
            root.join("sub/a.txt")
        );
    }

    #[test]
    fn extra_roots_are_allowed() {
        let (_d, root) = root();
        let extra = tempfile::tempdir().unwrap();
        let extra_root = std::fs::canonicalize(extra.path()).unwrap();
        let target = extra_root.join("f.txt");
        let got = resolve(
            &root,
            std::slice::from_ref(&extra_root),
            target.to_str().unwrap(),
        )
        .unwrap();
        assert_eq!(got, target);
        let err = resolve(&root, &[extra_root], "/etc/passwd").unwrap_err();
        assert!(err.to_string().contains("extra roots"), "{err}");
    }

    #[test]
    fn empty_path_is_an_error() {
        let (_d, root) = root();
        assert!(resolve(&root, &[], "  ").is_err());
    }

    #[test]
    fn display_is_relative_inside_and_absolute_outside() {
        let (_d, root) = root();
        assert_eq!(display_path(&root, &root.join("sub/a.txt")), "sub/a.txt");
        assert_eq!(display_path(&root, &root), ".");
        assert_eq!(display_path(&root, Path::new("/etc/x")), "/etc/x");
    }
}
