//! Pasted text and focus changes as the bytes the child asked for.

use super::screen::TerminalModes;

const PASTE_START: &[u8] = b"\x1b[200~";
const PASTE_END: &[u8] = b"\x1b[201~";

/// `text` as typed input: line ends become CR like xterm sends them (`\r\n` and `\n` → `\r`),
/// wrapped in `ESC[200~ … ESC[201~` when the child enabled bracketed paste (2004).
///
/// Inside a bracketed paste every start or end marker the text carries is removed, so a paste
/// cannot close the bracket early and have the rest run as typed keys.
pub fn encode_paste(text: &str, modes: &TerminalModes) -> Vec<u8> {
    let text = text.replace("\r\n", "\r").replace('\n', "\r");
    if !modes.bracketed_paste {
        return text.into_bytes();
    }
    let mut bytes = Vec::with_capacity(text.len() + PASTE_START.len() + PASTE_END.len());
    bytes.extend_from_slice(PASTE_START);
    push_without_markers(&mut bytes, text.as_bytes());
    bytes.extend_from_slice(PASTE_END);
    bytes
}

/// Appends `text` to `out`, dropping each marker as soon as it is complete. Checking the end of
/// what was kept (not of the input) also removes markers that only form once an inner one is
/// gone, like `ESC[20` + `ESC[201~` + `1~`.
fn push_without_markers(out: &mut Vec<u8>, text: &[u8]) {
    let floor = out.len();
    for &byte in text {
        out.push(byte);
        let kept = &out[floor..];
        if kept.ends_with(PASTE_END) || kept.ends_with(PASTE_START) {
            // Both markers are six bytes long.
            out.truncate(out.len() - PASTE_END.len());
        }
    }
}

/// `CSI I` when the pane gains focus, `CSI O` when it loses it, if the child enabled focus
/// events (1004).
pub fn encode_focus(gained: bool, modes: &TerminalModes) -> Option<Vec<u8>> {
    modes.focus_events.then(|| {
        if gained {
            b"\x1b[I".to_vec()
        } else {
            b"\x1b[O".to_vec()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bracketed() -> TerminalModes {
        TerminalModes {
            bracketed_paste: true,
            ..TerminalModes::default()
        }
    }

    #[test]
    fn plain_paste_sends_the_text_with_cr_line_ends() {
        let modes = TerminalModes::default();
        assert_eq!(encode_paste("ls -l", &modes), b"ls -l");
        assert_eq!(encode_paste("a\nb\r\nc\rd", &modes), b"a\rb\rc\rd");
    }

    #[test]
    fn bracketed_paste_wraps_the_text_only_when_the_child_asked() {
        assert_eq!(
            encode_paste("echo hi\n", &bracketed()),
            b"\x1b[200~echo hi\r\x1b[201~"
        );
        assert_eq!(encode_paste("", &bracketed()), b"\x1b[200~\x1b[201~");
    }

    #[test]
    fn embedded_markers_cannot_end_the_paste_early() {
        let pasted = "safe\x1b[201~rm -rf ~\n\x1b[200~more";
        assert_eq!(
            encode_paste(pasted, &bracketed()),
            b"\x1b[200~saferm -rf ~\rmore\x1b[201~"
        );
    }

    #[test]
    fn markers_that_form_once_an_inner_marker_is_removed_are_removed_too() {
        let nested = "a\x1b[20\x1b[201~1~b\x1b[2\x1b[200~00~c";
        let encoded = encode_paste(nested, &bracketed());
        assert_eq!(encoded, b"\x1b[200~abc\x1b[201~");
    }

    #[test]
    fn other_escape_sequences_in_a_paste_are_kept() {
        assert_eq!(
            encode_paste("\x1b[31mred", &bracketed()),
            b"\x1b[200~\x1b[31mred\x1b[201~"
        );
    }

    #[test]
    fn focus_events_only_when_enabled() {
        let on = TerminalModes {
            focus_events: true,
            ..TerminalModes::default()
        };
        assert_eq!(encode_focus(true, &on), Some(b"\x1b[I".to_vec()));
        assert_eq!(encode_focus(false, &on), Some(b"\x1b[O".to_vec()));
        assert_eq!(encode_focus(true, &TerminalModes::default()), None);
    }
}
