//! Copying to the clipboard of the terminal the user sits at, even over SSH.
//!
//! Inside tmux (`TMUX` set) the text goes to `tmux load-buffer -w -`: a tmux paste buffer that
//! tmux also forwards to the outer terminal's clipboard, whatever `set-clipboard` says (its
//! default, `external`, ignores OSC 52 from applications). Elsewhere, or when that fails, OSC 52:
//! the plain sequence (tmux with `set-clipboard on` reads it into a buffer) and, inside tmux, a
//! copy wrapped in a DCS passthrough for `allow-passthrough on`.

use std::io::Write;
use std::process::{Command, Stdio};

use base64::Engine as _;

/// Puts each text on the clipboard, one after the other (the last one wins).
pub fn copy(texts: Vec<String>) {
    if texts.is_empty() {
        return;
    }
    let tmux = std::env::var_os("TMUX").is_some();
    let mut out = std::io::stdout();
    for text in texts {
        if tmux && tmux_load_buffer(&text) {
            continue;
        }
        let _ = out.write_all(osc52_for(&text, tmux).as_bytes());
    }
    let _ = out.flush();
}

/// `tmux load-buffer -w -` with `text` on stdin; false when tmux is missing or refuses.
fn tmux_load_buffer(text: &str) -> bool {
    let child = Command::new("tmux")
        .args(["load-buffer", "-w", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        return false;
    };
    let written = child
        .stdin
        .take()
        .is_some_and(|mut stdin| stdin.write_all(text.as_bytes()).is_ok());
    child.wait().is_ok_and(|status| status.success()) && written
}

/// The OSC 52 sequence that puts `text` on the clipboard; inside tmux followed by a
/// passthrough copy.
pub fn osc52_for(text: &str, tmux: bool) -> String {
    let payload = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    let seq = format!("\x1b]52;c;{payload}\x07");
    if tmux {
        // tmux passthrough: ESC P tmux; <sequence with every ESC doubled> ESC \
        let passthrough = format!("\x1bPtmux;{}\x1b\\", seq.replace('\x1b', "\x1b\x1b"));
        format!("{seq}{passthrough}")
    } else {
        seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_sequence_is_base64_in_osc52() {
        assert_eq!(osc52_for("hi", false), "\x1b]52;c;aGk=\x07");
    }

    #[test]
    fn tmux_gets_the_plain_sequence_and_a_passthrough_copy() {
        assert_eq!(
            osc52_for("hi", true),
            "\x1b]52;c;aGk=\x07\x1bPtmux;\x1b\x1b]52;c;aGk=\x07\x1b\\"
        );
    }

    #[test]
    fn unicode_survives() {
        let s = osc52_for("日本 🎉", false);
        let b64 = s.trim_start_matches("\x1b]52;c;").trim_end_matches('\x07');
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        assert_eq!(String::from_utf8(decoded).unwrap(), "日本 🎉");
    }
}
