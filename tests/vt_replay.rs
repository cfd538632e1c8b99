//! Replays every recorded stream in `tests/fixtures/vt/` through `boocode debug vt-replay
//! --ansi` and through a tmux 3.3a pane of the same size, and compares the two screens cell by
//! cell (text, colours, attributes) and the cursor. Fixture names end in `.COLSxROWS.bin`.
//!
//! All fixtures replay at once in one tmux server: each pane runs a small shell program that
//! puts its terminal in raw mode (so the bytes reach tmux untranslated), writes the fixture,
//! asks tmux for the pane size (`CSI 18 t`) and waits for the answer — tmux parses in order, so
//! by then every fixture byte has been applied — and then signals the test with `wait-for`.
//!
//! Two things are normalised because a capture cannot show them, not because they differ:
//! the style of blank cells that nothing makes visible (see [`normalise`]), and tmux's way of
//! reporting a pending wrap (the cursor column one past the last, see [`same_cursor`]).
//! Known differences the fixtures avoid, both cases where the engine follows xterm and tmux
//! 3.3a does not: CHT (`CSI I`), which tmux ignores, and IL/DL with the cursor outside the
//! scroll region, which tmux applies to the whole screen below the cursor.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use unicode_width::UnicodeWidthChar;

struct Fixture {
    name: String,
    path: PathBuf,
    cols: u16,
    rows: u16,
}

fn fixtures() -> Vec<Fixture> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vt");
    let mut fixtures: Vec<Fixture> = std::fs::read_dir(&dir)
        .expect("tests/fixtures/vt exists")
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let file = path.file_name()?.to_str()?.to_string();
            let stem = file.strip_suffix(".bin")?;
            let (name, size) = stem.rsplit_once('.')?;
            let (cols, rows) = size.split_once('x')?;
            Some(Fixture {
                name: name.to_string(),
                cols: cols.parse().ok()?,
                rows: rows.parse().ok()?,
                path,
            })
        })
        .collect();
    fixtures.sort_by(|a, b| a.name.cmp(&b.name));
    fixtures
}

/// One cell as a capture shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct CapturedCell {
    text: String,
    pen: Pen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Pen {
    fg: Colour,
    bg: Colour,
    bold: bool,
    dim: bool,
    italic: bool,
    /// 0 none, 1 single, 2 double, 3 curly, 4 dotted, 5 dashed.
    underline: u8,
    blink: bool,
    inverse: bool,
    hidden: bool,
    strikeout: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Colour {
    #[default]
    Default,
    Indexed(u8),
    Rgb(u8, u8, u8),
}

struct Capture {
    rows: Vec<Vec<CapturedCell>>,
}

/// DEC special graphics, for text tmux keeps as ASCII in a line-drawing charset (its capture
/// wraps such runs in SO/SI).
fn dec_special_graphics(c: char) -> char {
    const TABLE: &str = "◆▒␉␌␍␊°±␤␋┘┐┌└┼⎺⎻─⎼⎽├┤┴┬│≤≥π≠£·";
    match c {
        '_' => ' ',
        '`'..='~' => TABLE.chars().nth(c as usize - '`' as usize).unwrap_or(c),
        _ => c,
    }
}

/// Applies one SGR sequence's parameters (`1;38;5;200`, `4:3`) to `pen`.
fn apply_sgr(pen: &mut Pen, params: &str) {
    let params: Vec<&str> = if params.is_empty() {
        vec!["0"]
    } else {
        params.split(';').collect()
    };
    let mut i = 0;
    let number = |s: &str| s.parse::<u16>().unwrap_or(0);
    while i < params.len() {
        let param = params[i];
        if let Some(style) = param.strip_prefix("4:") {
            pen.underline = number(style) as u8;
            i += 1;
            continue;
        }
        match number(param) {
            0 => *pen = Pen::default(),
            1 => pen.bold = true,
            2 => pen.dim = true,
            3 => pen.italic = true,
            4 => pen.underline = 1,
            5 | 6 => pen.blink = true,
            7 => pen.inverse = true,
            8 => pen.hidden = true,
            9 => pen.strikeout = true,
            21 => pen.underline = 2,
            22 => {
                pen.bold = false;
                pen.dim = false
            }
            23 => pen.italic = false,
            24 => pen.underline = 0,
            25 => pen.blink = false,
            27 => pen.inverse = false,
            28 => pen.hidden = false,
            29 => pen.strikeout = false,
            n @ 30..=37 => pen.fg = Colour::Indexed((n - 30) as u8),
            n @ 40..=47 => pen.bg = Colour::Indexed((n - 40) as u8),
            n @ 90..=97 => pen.fg = Colour::Indexed((n - 90 + 8) as u8),
            n @ 100..=107 => pen.bg = Colour::Indexed((n - 100 + 8) as u8),
            39 => pen.fg = Colour::Default,
            49 => pen.bg = Colour::Default,
            n @ (38 | 48 | 58) => {
                let colour = match params.get(i + 1).map(|p| number(p)) {
                    Some(5) => {
                        let c = Colour::Indexed(number(params.get(i + 2).unwrap_or(&"0")) as u8);
                        i += 2;
                        c
                    }
                    Some(2) => {
                        let at = |k: usize| number(params.get(i + k).unwrap_or(&"0")) as u8;
                        let c = Colour::Rgb(at(2), at(3), at(4));
                        i += 4;
                        c
                    }
                    _ => Colour::Default,
                };
                match n {
                    38 => pen.fg = colour,
                    48 => pen.bg = colour,
                    _ => {} // underline colour: not part of the compared screen
                }
            }
            _ => {}
        }
        i += 1;
    }
}

/// Parses `capture-pane -p -e` style output (the pen carries across rows) into `rows` rows of
/// `cols` cells.
fn parse_capture(text: &str, cols: u16, rows: u16) -> Capture {
    let mut pen = Pen::default();
    let mut line_drawing = false;
    let mut parsed = Vec::new();
    for line in text.split('\n').take(rows as usize) {
        let mut row: Vec<CapturedCell> = Vec::new();
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\x1b' => {
                    // Only SGR appears in captures: ESC [ params m.
                    chars.next();
                    let mut params = String::new();
                    for p in chars.by_ref() {
                        if p == 'm' {
                            break;
                        }
                        params.push(p);
                    }
                    apply_sgr(&mut pen, &params);
                }
                '\x0e' => line_drawing = true,
                '\x0f' => line_drawing = false,
                c => {
                    let c = if line_drawing {
                        dec_special_graphics(c)
                    } else {
                        c
                    };
                    match c.width().unwrap_or(0) {
                        0 => {
                            if let Some(last) =
                                row.iter_mut().rev().find(|cell| !cell.text.is_empty())
                            {
                                last.text.push(c);
                            }
                        }
                        width => {
                            row.push(CapturedCell {
                                text: c.to_string(),
                                pen,
                            });
                            for _ in 1..width {
                                // The right half of a wide character.
                                row.push(CapturedCell {
                                    text: String::new(),
                                    pen,
                                });
                            }
                        }
                    }
                }
            }
        }
        row.resize(
            cols as usize,
            CapturedCell {
                text: " ".into(),
                pen: Pen::default(),
            },
        );
        normalise(&mut row);
        parsed.push(row);
    }
    parsed.resize(
        rows as usize,
        vec![
            CapturedCell {
                text: " ".into(),
                pen: Pen::default()
            };
            cols as usize
        ],
    );
    Capture { rows: parsed }
}

/// Makes cells that look the same compare the same: a space shows no foreground, bold,
/// italic, dim, blink or hidden unless it is inverse, underlined or struck out; and the blanks
/// at the end of a row have no reliable style in a capture, since tmux trims trailing spaces
/// whatever their colours unless an escape happens to follow them.
fn normalise(row: &mut [CapturedCell]) {
    let trailing = row.iter().rev().take_while(|cell| cell.text == " ").count();
    let len = row.len();
    for cell in &mut row[len - trailing..] {
        cell.pen = Pen::default();
    }
    for cell in row.iter_mut().filter(|cell| cell.text == " ") {
        let pen = &mut cell.pen;
        if !pen.inverse && pen.underline == 0 && !pen.strikeout {
            *pen = Pen {
                bg: pen.bg,
                ..Pen::default()
            };
        }
    }
}

/// tmux reports a cursor waiting to wrap at column `cols` (one past the last); the engine keeps
/// it on the last column with the wrap pending, as xterm does.
fn same_cursor(tmux: &str, ours: &str, cols: u16) -> bool {
    let parse = |s: &str| -> Option<(u16, u16)> {
        let (x, y) = s.trim().split_once(',')?;
        Some((x.parse().ok()?, y.parse().ok()?))
    };
    match (parse(tmux), parse(ours)) {
        (Some((tx, ty)), Some((ox, oy))) => {
            ty == oy && (tx == ox || (tx == cols && ox + 1 == cols))
        }
        _ => false,
    }
}

fn plain_row(row: &[CapturedCell]) -> String {
    row.iter()
        .map(|c| c.text.as_str())
        .collect::<String>()
        .trim_end()
        .to_string()
}

/// The first difference between tmux's screen and ours, described for a person.
fn first_difference(fixture: &Fixture, tmux: &Capture, ours: &Capture) -> Option<String> {
    for (y, (theirs, mine)) in tmux.rows.iter().zip(&ours.rows).enumerate() {
        for (x, (a, b)) in theirs.iter().zip(mine).enumerate() {
            if a != b {
                return Some(format!(
                    "{}: first differing cell at column {x}, row {y}\n  tmux:   {:?}\n  boocode: {:?}\n  tmux row:    {:?}\n  boocode row: {:?}",
                    fixture.name,
                    a,
                    b,
                    plain_row(theirs),
                    plain_row(mine)
                ));
            }
        }
    }
    None
}

/// A tmux server of our own for this test run, killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn command(&self) -> Command {
        let mut command = Command::new("tmux");
        command.args(["-L", &self.socket, "-f", "/dev/null"]);
        command
    }

    fn output(&self, args: &[&str]) -> String {
        let output = self.command().args(args).output().expect("run tmux");
        assert!(
            output.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("tmux prints UTF-8")
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").status();
    }
}

fn tmux_version() -> Option<String> {
    let output = Command::new("tmux").arg("-V").output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// The pane program: raw terminal, the fixture, then the size query and its answer.
const REPLAY_SCRIPT: &str = r#"stty raw -echo
cat "$1"
printf '\033[18t'
seen=''
while :; do
  c=$(dd bs=1 count=1 2>/dev/null) || exit 1
  seen="$seen$c"
  case "$seen" in *"[8;$2;$3t") break;; esac
done
tmux -L "$4" wait-for -S "$5"
exec sleep 600"#;

fn boocode_capture(fixture: &Fixture) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_boocode"))
        .args(["debug", "vt-replay", "--ansi", "--cols"])
        .arg(fixture.cols.to_string())
        .arg("--rows")
        .arg(fixture.rows.to_string())
        .arg(&fixture.path)
        .output()
        .expect("run boocode debug vt-replay");
    assert!(
        output.status.success(),
        "vt-replay {}: {}",
        fixture.name,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("vt-replay prints UTF-8")
}

/// Waits for the pane of fixture `index` to signal that tmux has parsed all of it.
fn wait_for_pane(tmux: &Tmux, fixture: &Fixture, index: usize) {
    let mut waiter = tmux
        .command()
        .args(["wait-for", &format!("done-{index}")])
        .stdout(Stdio::null())
        .spawn()
        .expect("run tmux wait-for");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if waiter.try_wait().expect("poll tmux wait-for").is_some() {
            return;
        }
        if Instant::now() > deadline {
            let _ = waiter.kill();
            panic!("tmux never finished replaying {}", fixture.name);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn every_fixture_matches_tmux_cell_by_cell() {
    let Some(version) = tmux_version() else {
        eprintln!("SKIPPED every_fixture_matches_tmux_cell_by_cell: tmux is not installed");
        return;
    };
    let fixtures = fixtures();
    assert!(!fixtures.is_empty(), "no fixtures in tests/fixtures/vt");
    let tmux = Tmux {
        socket: format!("boocode-vt-replay-{}", std::process::id()),
    };
    for (index, fixture) in fixtures.iter().enumerate() {
        let session = format!("f{index}");
        let mut args: Vec<String> = vec![
            "new-session".into(),
            "-d".into(),
            "-s".into(),
            session,
            "-x".into(),
            fixture.cols.to_string(),
            "-y".into(),
            fixture.rows.to_string(),
            "sh".into(),
            "-c".into(),
            REPLAY_SCRIPT.into(),
            "replay".into(),
            fixture.path.display().to_string(),
            fixture.cols.to_string(),
            fixture.rows.to_string(),
            tmux.socket.clone(),
            format!("done-{index}"),
        ];
        if index == 0 {
            args.extend([";", "set", "-g", "status", "off"].map(String::from));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        tmux.output(&args);
    }
    let ours: BTreeMap<usize, String> = fixtures
        .iter()
        .enumerate()
        .map(|(index, fixture)| (index, boocode_capture(fixture)))
        .collect();
    let mut failures = Vec::new();
    for (index, fixture) in fixtures.iter().enumerate() {
        wait_for_pane(&tmux, fixture, index);
        let target = format!("f{index}");
        let tmux_screen = tmux.output(&["capture-pane", "-p", "-e", "-t", &target]);
        let tmux_cursor = tmux.output(&["display", "-p", "-t", &target, "#{cursor_x},#{cursor_y}"]);
        let ours = &ours[&index];
        let (our_screen, our_cursor) = ours
            .trim_end_matches('\n')
            .rsplit_once('\n')
            .expect("vt-replay ends with a cursor line");
        let tmux_capture = parse_capture(&tmux_screen, fixture.cols, fixture.rows);
        let our_capture = parse_capture(our_screen, fixture.cols, fixture.rows);
        if let Some(difference) = first_difference(fixture, &tmux_capture, &our_capture) {
            failures.push(difference);
        }
        let our_cursor = our_cursor.trim_start_matches("cursor ");
        if !same_cursor(&tmux_cursor, our_cursor, fixture.cols) {
            failures.push(format!(
                "{}: cursor at {} in tmux, {} in boocode",
                fixture.name,
                tmux_cursor.trim(),
                our_cursor
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{version} and boocode differ on {} of {} fixtures:\n{}",
        failures.len(),
        fixtures.len(),
        failures.join("\n")
    );
}
