//! The parser's handler: every action goes to alacritty's `Term`, except the alternate-screen
//! modes it does not know (47 and 1047), which tmux and xterm honour. Before each action the
//! history window is given room ([`HistoryOverflow::make_room`]), and what clears alacritty's
//! history clears the stored history too.

use alacritty_terminal::term::Term;
use alacritty_terminal::vte::ansi::cursor_icon::CursorIcon;
use alacritty_terminal::vte::ansi::{
    Attr, CharsetIndex, ClearMode, CursorShape, CursorStyle, Handler, Hyperlink, KeyboardModes,
    KeyboardModesApplyBehavior, LineClearMode, Mode, ModifyOtherKeys, PrivateMode, Rgb,
    ScpCharPath, ScpUpdateMode, StandardCharset, TabulationClearMode,
};

use super::events::EventSink;
use super::overflow::HistoryOverflow;

/// DECSET 47 and 1047: the alternate screen without saving the cursor (1049 saves it).
const ALT_SCREEN_MODES: [u16; 2] = [47, 1047];

pub(super) struct Dispatch<'a> {
    pub term: &'a mut Term<EventSink>,
    pub overflow: &'a mut HistoryOverflow,
}

impl Dispatch<'_> {
    fn is_alt_screen(&self) -> bool {
        self.term
            .mode()
            .contains(alacritty_terminal::term::TermMode::ALT_SCREEN)
    }

    /// Enters or leaves the alternate screen the way tmux does for 47/1047: the cursor (position
    /// and pen) stays as it is instead of returning to where it was on the other screen.
    fn switch_alt_screen_keeping_cursor(&mut self, on: bool) {
        if on == self.is_alt_screen() {
            return;
        }
        let cursor = self.term.grid().cursor.clone();
        self.term.swap_alt();
        self.term.grid_mut().cursor = cursor;
    }

    fn is_own_alt_mode(mode: &PrivateMode) -> bool {
        matches!(mode, PrivateMode::Unknown(raw) if ALT_SCREEN_MODES.contains(raw))
    }
}

/// Forwards handler methods to the terminal unchanged.
macro_rules! forward {
    ($(fn $name:ident(&mut self $(, $arg:ident: $ty:ty)*);)*) => {
        $(
            #[inline]
            fn $name(&mut self $(, $arg: $ty)*) {
                self.overflow.make_room(self.term);
                Handler::$name(self.term $(, $arg)*)
            }
        )*
    };
}

impl Handler for Dispatch<'_> {
    fn set_private_mode(&mut self, mode: PrivateMode) {
        self.overflow.make_room(self.term);
        if Self::is_own_alt_mode(&mode) {
            self.switch_alt_screen_keeping_cursor(true);
        } else {
            self.term.set_private_mode(mode);
        }
    }

    fn unset_private_mode(&mut self, mode: PrivateMode) {
        self.overflow.make_room(self.term);
        if Self::is_own_alt_mode(&mode) {
            self.switch_alt_screen_keeping_cursor(false);
        } else {
            self.term.unset_private_mode(mode);
        }
    }

    fn clear_screen(&mut self, mode: ClearMode) {
        self.overflow.make_room(self.term);
        // ED 3 clears the primary screen's history; on the alternate screen (which has none)
        // alacritty and tmux leave it alone.
        if matches!(mode, ClearMode::Saved) && !self.is_alt_screen() {
            self.overflow.clear();
        }
        self.term.clear_screen(mode);
    }

    fn reset_state(&mut self) {
        // alacritty's reset (RIS) empties its history.
        self.overflow.clear();
        self.term.reset_state();
    }

    forward! {
        fn set_title(&mut self, title: Option<String>);
        fn set_cursor_style(&mut self, style: Option<CursorStyle>);
        fn set_cursor_shape(&mut self, shape: CursorShape);
        fn input(&mut self, c: char);
        fn goto(&mut self, line: i32, col: usize);
        fn goto_line(&mut self, line: i32);
        fn goto_col(&mut self, col: usize);
        fn insert_blank(&mut self, count: usize);
        fn move_up(&mut self, lines: usize);
        fn move_down(&mut self, lines: usize);
        fn identify_terminal(&mut self, intermediate: Option<char>);
        fn device_status(&mut self, arg: usize);
        fn move_forward(&mut self, cols: usize);
        fn move_backward(&mut self, cols: usize);
        fn move_down_and_cr(&mut self, lines: usize);
        fn move_up_and_cr(&mut self, lines: usize);
        fn put_tab(&mut self, count: u16);
        fn backspace(&mut self);
        fn carriage_return(&mut self);
        fn linefeed(&mut self);
        fn bell(&mut self);
        fn substitute(&mut self);
        fn newline(&mut self);
        fn set_horizontal_tabstop(&mut self);
        fn scroll_up(&mut self, lines: usize);
        fn scroll_down(&mut self, lines: usize);
        fn insert_blank_lines(&mut self, lines: usize);
        fn delete_lines(&mut self, lines: usize);
        fn erase_chars(&mut self, count: usize);
        fn delete_chars(&mut self, count: usize);
        fn move_backward_tabs(&mut self, count: u16);
        fn move_forward_tabs(&mut self, count: u16);
        fn save_cursor_position(&mut self);
        fn restore_cursor_position(&mut self);
        fn clear_line(&mut self, mode: LineClearMode);
        fn clear_tabs(&mut self, mode: TabulationClearMode);
        fn set_tabs(&mut self, interval: u16);
        fn reverse_index(&mut self);
        fn terminal_attribute(&mut self, attr: Attr);
        fn set_mode(&mut self, mode: Mode);
        fn unset_mode(&mut self, mode: Mode);
        fn report_mode(&mut self, mode: Mode);
        fn report_private_mode(&mut self, mode: PrivateMode);
        fn set_scrolling_region(&mut self, top: usize, bottom: Option<usize>);
        fn set_keypad_application_mode(&mut self);
        fn unset_keypad_application_mode(&mut self);
        fn set_active_charset(&mut self, index: CharsetIndex);
        fn configure_charset(&mut self, index: CharsetIndex, charset: StandardCharset);
        fn set_color(&mut self, index: usize, color: Rgb);
        fn dynamic_color_sequence(&mut self, prefix: String, index: usize, terminator: &str);
        fn reset_color(&mut self, index: usize);
        fn clipboard_store(&mut self, clipboard: u8, base64: &[u8]);
        fn clipboard_load(&mut self, clipboard: u8, terminator: &str);
        fn decaln(&mut self);
        fn push_title(&mut self);
        fn pop_title(&mut self);
        fn text_area_size_pixels(&mut self);
        fn text_area_size_chars(&mut self);
        fn set_hyperlink(&mut self, link: Option<Hyperlink>);
        fn set_mouse_cursor_icon(&mut self, icon: CursorIcon);
        fn report_keyboard_mode(&mut self);
        fn push_keyboard_mode(&mut self, mode: KeyboardModes);
        fn pop_keyboard_modes(&mut self, to_pop: u16);
        fn set_keyboard_mode(&mut self, mode: KeyboardModes, behavior: KeyboardModesApplyBehavior);
        fn set_modify_other_keys(&mut self, mode: ModifyOtherKeys);
        fn report_modify_other_keys(&mut self);
        fn set_scp(&mut self, char_path: ScpCharPath, update_mode: ScpUpdateMode);
    }
}
