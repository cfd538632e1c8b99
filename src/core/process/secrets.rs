//! Keeping the API key out of reach of the programs boocode runs.
//!
//! A child runs as the same user as boocode, so by default it can read the key from boocode's
//! process: `/proc/PPID/environ` (the environment boocode started with, whatever it removed
//! since), `/proc/PPID/cmdline` (`--api-key`) and `/proc/PPID/mem`. At start, while it is still
//! single-threaded, boocode therefore:
//!
//! 1. makes itself non-dumpable ([`forbid_inspection`]): `environ`, `mem`, `maps` and ptrace
//!    of a non-dumpable process need `CAP_SYS_PTRACE`, which a non-root child lacks and which
//!    [`super::spawn`] takes from a root one. `cmdline` stays readable by everyone (`ps`).
//! 2. overwrites the key in the memory `environ` and `cmdline` are read from
//!    ([`withdraw_startup_keys`]): the kernel serves them from the argument and environment
//!    strings at the top of the initial stack, whose bounds are fields 48–51 of
//!    `/proc/self/stat`. The strings keep their length; the secret becomes `*`s. This is what
//!    protects the key from a child running as root, which can read those files anyway.
//! 3. removes the provider key variables from its environment, so no child inherits them.

use crate::core::llm::provider;

/// The long option that takes a key on the command line.
const API_KEY_FLAG: &str = "--api-key";

/// Makes this process non-dumpable: no core dumps, and its `/proc/PID` memory views and
/// ptrace need `CAP_SYS_PTRACE`.
pub fn forbid_inspection() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_DUMPABLE takes plain integers and affects only this process.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}

/// Overwrites the provider keys in the process's original environment and the `--api-key`
/// value (`api_key_flag`, as parsed) in its original arguments, then removes the key
/// variables from the environment.
///
/// Call it once, first thing, before any other thread exists: it edits the environment, and
/// whatever still needs the keys must have read them already (see
/// [`crate::core::config::Environment::from_process`]).
pub fn withdraw_startup_keys(api_key_flag: Option<&str>) {
    let variables = provider::key_variables();
    #[cfg(target_os = "linux")]
    if let Some(bounds) = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| StartupStrings::parse(&stat))
    {
        // SAFETY: both ranges are the argument and environment strings the kernel copied onto
        // this process's initial stack (mapped and writable for the process's lifetime). Rust
        // holds no reference into them (std copies a string when asked for it), no other
        // thread runs yet, and the edits keep every string's length and terminator.
        unsafe {
            if let Some(env) = bounds.environment() {
                mask_variables(env, &variables);
            }
            if let (Some(args), Some(key)) = (bounds.arguments(), api_key_flag) {
                mask_argument(args, key);
            }
        }
    }
    for var in variables {
        std::env::remove_var(var);
    }
}

/// Where the kernel keeps this process's original argument and environment strings.
#[derive(Debug, PartialEq, Eq)]
struct StartupStrings {
    arg_start: usize,
    arg_end: usize,
    env_start: usize,
    env_end: usize,
}

/// Anything bigger is not an argument or environment area (Linux caps them far lower).
const MAX_AREA: usize = 1 << 30;

impl StartupStrings {
    /// Fields 48–51 of `/proc/PID/stat` (after the parenthesised command name, which may hold
    /// spaces, they are fields 46–49 counting from the state as 1).
    fn parse(stat: &str) -> Option<StartupStrings> {
        let (_, rest) = stat.rsplit_once(')')?;
        let fields: Vec<usize> = rest
            .split_whitespace()
            .skip(45)
            .take(4)
            .map(|f| f.parse().ok())
            .collect::<Option<_>>()?;
        match fields[..] {
            [arg_start, arg_end, env_start, env_end] => Some(StartupStrings {
                arg_start,
                arg_end,
                env_start,
                env_end,
            }),
            _ => None,
        }
    }

    /// # Safety
    /// The bounds must be this process's own, read from `/proc/self/stat`.
    unsafe fn arguments(&self) -> Option<&'static mut [u8]> {
        area(self.arg_start, self.arg_end)
    }

    /// # Safety
    /// As for [`StartupStrings::arguments`].
    unsafe fn environment(&self) -> Option<&'static mut [u8]> {
        area(self.env_start, self.env_end)
    }
}

/// # Safety
/// `start..end` must be memory of this process that is valid, writable and not referenced.
unsafe fn area(start: usize, end: usize) -> Option<&'static mut [u8]> {
    let len = end.checked_sub(start)?;
    (start != 0 && len > 0 && len < MAX_AREA)
        .then(|| std::slice::from_raw_parts_mut(start as *mut u8, len))
}

/// In NUL-separated `NAME=value` strings, replaces the value of every variable in `names`
/// with `*`s.
fn mask_variables(area: &mut [u8], names: &[&str]) {
    for entry in area.split_mut(|b| *b == 0) {
        let Some(eq) = entry.iter().position(|b| *b == b'=') else {
            continue;
        };
        if names.iter().any(|n| n.as_bytes() == &entry[..eq]) {
            entry[eq + 1..].fill(b'*');
        }
    }
}

/// In NUL-separated arguments, replaces `key` — a whole argument, or after `--api-key=` —
/// with `*`s.
fn mask_argument(area: &mut [u8], key: &str) {
    let flag = format!("{API_KEY_FLAG}=");
    for entry in area.split_mut(|b| *b == 0) {
        if entry == key.as_bytes() {
            entry.fill(b'*');
        } else if entry.starts_with(flag.as_bytes()) {
            entry[flag.len()..].fill(b'*');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_string_areas_are_read_from_proc_stat() {
        let mut stat = String::from("4242 (a (tricky) name) S");
        for field in 4..=47 {
            stat.push_str(&format!(" {field}"));
        }
        stat.push_str(" 1000 1100 1100 1300 0\n");
        assert_eq!(
            StartupStrings::parse(&stat),
            Some(StartupStrings {
                arg_start: 1000,
                arg_end: 1100,
                env_start: 1100,
                env_end: 1300,
            })
        );
        assert_eq!(StartupStrings::parse("4242 (short) S 1 2 3"), None);
        // This process's own areas hold its arguments.
        let own = std::fs::read_to_string("/proc/self/stat").unwrap();
        let own = StartupStrings::parse(&own).unwrap();
        let argv0 = std::env::args().next().unwrap();
        // SAFETY: read-only look at this process's own argument area.
        let args = unsafe {
            std::slice::from_raw_parts(own.arg_start as *const u8, own.arg_end - own.arg_start)
        };
        assert!(args.starts_with(argv0.as_bytes()));
    }

    #[test]
    fn only_key_values_are_masked() {
        let mut env = b"HOME=/root\0DEEPSEEK_API_KEY=sk-123\0XDEEPSEEK_API_KEY=keep\0BOOCODE_API_KEY=\0PATH=/bin\0"
            .to_vec();
        mask_variables(&mut env, &["DEEPSEEK_API_KEY", "BOOCODE_API_KEY"]);
        assert_eq!(
            env,
            b"HOME=/root\0DEEPSEEK_API_KEY=******\0XDEEPSEEK_API_KEY=keep\0BOOCODE_API_KEY=\0PATH=/bin\0"
        );
        let mut args = b"boocode\0--api-key\0sk-9\0exec\0--api-key=sk-9\0sk-99\0".to_vec();
        mask_argument(&mut args, "sk-9");
        assert_eq!(
            args,
            b"boocode\0--api-key\0****\0exec\0--api-key=****\0sk-99\0"
        );
    }
}
