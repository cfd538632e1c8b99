//! Clipboard over OSC 52: the terminal (not this process) owns the clipboard, so copying works
//! over SSH.
//!
//! Inside tmux the plain sequence is what tmux itself reads: with `set -g set-clipboard on` it
//! becomes a tmux paste buffer and goes on to the outer terminal's clipboard. The same sequence
//! is also sent wrapped in a DCS passthrough, which reaches the outer terminal directly when
//! tmux has `allow-passthrough on` instead; tmux drops it otherwise.

use base64::Engine as _;

/// The OSC 52 sequence that puts `text` on the clipboard, for tmux too when `TMUX` is set.
pub fn osc52(text: &str) -> String {
    osc52_for(text, std::env::var_os("TMUX").is_some())
}

/// Like [`osc52`], with the tmux decision made by the caller (tests, explicit setups).
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
