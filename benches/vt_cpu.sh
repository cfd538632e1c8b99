#!/usr/bin/env bash
# CPU per MB of terminal output: a tmux 3.3a pane drawing to an attached client (server +
# client CPU from /proc/PID/stat utime+stime, before and after `cat` of the file in the pane)
# against `boocode debug vt-replay` on the same file (its user+sys CPU), in the same run.
# Two streams: scrolling text, and colour-heavy text (an SGR every few characters).
#
#   bash benches/vt_cpu.sh                  # builds the release binary first
#   SKIP_BUILD=1 MB=16 bash benches/vt_cpu.sh
#
# Honours CARGO_TARGET_DIR and BIN (the boocode binary to measure). Target: ratio <= 1.0.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
MB=${MB:-32}
COLS=120
ROWS=40
SOCK=vt-cpu-$$
TICKS=$(getconf CLK_TCK)

if [[ -z ${SKIP_BUILD:-} ]]; then
    cargo build --release --bin boocode
fi
BIN=${BIN:-$TARGET/release/boocode}
[[ -x $BIN ]] || { echo "missing $BIN" >&2; exit 1; }
command -v tmux >/dev/null || { echo "tmux is not installed" >&2; exit 1; }

TMP=$(mktemp -d)
FEEDER=
cleanup() {
    tmux -L "$SOCK" kill-server 2>/dev/null || true
    stop_feeder
    rm -rf "$TMP"
}
stop_feeder() {
    [[ -n $FEEDER ]] && kill "$FEEDER" 2>/dev/null
    [[ -s $TMP/feeder-sleep ]] && kill "$(cat "$TMP/feeder-sleep")" 2>/dev/null
    rm -f "$TMP/feeder-sleep"
    FEEDER=
}
trap cleanup EXIT

BYTES=$((MB * 1024 * 1024))
awk -v bytes="$BYTES" 'BEGIN {
    split("terminal pane scrollback engine cell cursor the a of bytes reflow history compile warning: error[E0308]: --> src/main.rs:12:5", w, " ")
    while (total < bytes) {
        len = 20 + (n * 7) % 90; line = ""
        while (length(line) < len) line = line w[(n + length(line)) % 17 + 1] " "
        printf "%s\r\n", line; total += length(line) + 2; n++
    }
}' >"$TMP/scrolling-text"
awk -v bytes="$BYTES" 'BEGIN {
    while (total < bytes) {
        k = n % 4
        if (k == 0) s = sprintf("\033[%dm", 31 + n % 7)
        else if (k == 1) s = sprintf("\033[1;38;5;%dm", n % 256)
        else if (k == 2) s = sprintf("\033[4;38;2;%d;%d;%dm", n % 256, (n * 3) % 256, (n * 7) % 256)
        else s = sprintf("\033[0;48;5;%dm", (n * 5) % 256)
        s = s "token_" (n % 1000) " "
        if (n % 12 == 11) s = s "\033[0m\r\n"
        printf "%s", s; total += length(s); n++
    }
}' >"$TMP/colour-heavy"

# utime + stime of a process, in clock ticks.
ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }

tmux_seconds() { # FILE
    local file=$1
    tmux -L "$SOCK" -f /dev/null new-session -d -s bench -x "$COLS" -y "$ROWS" \
        "stty raw -echo; tmux -L $SOCK wait-for go; cat '$file'; tmux -L $SOCK wait-for -S done; exec sleep 1000" \; \
        set -g status off
    # An attached client on a pseudo-terminal of the same size, drawing everything the pane shows.
    # Its input is held open by a sleep that is killed with it (left behind, the sleep kept the
    # script's stderr open for 1000 s, so a caller piping the output waited that long).
    { sleep 1000 & echo $! >"$TMP/feeder-sleep"; wait; } 2>/dev/null |
        script -qfc "stty cols $COLS rows $ROWS; tmux -L $SOCK attach -t bench" /dev/null >/dev/null &
    FEEDER=$!
    local client=
    for _ in $(seq 100); do
        client=$(tmux -L "$SOCK" list-clients -F '#{client_pid}' 2>/dev/null | head -n 1)
        [[ -n $client ]] && break
        sleep 0.05
    done
    [[ -n $client ]] || { echo "the tmux client did not attach" >&2; exit 1; }
    sleep 0.5
    local server before after
    server=$(tmux -L "$SOCK" display -p '#{pid}')
    before=$(($(ticks "$server") + $(ticks "$client")))
    tmux -L "$SOCK" wait-for -S go
    tmux -L "$SOCK" wait-for done
    sleep 1 # the client finishes drawing what the server sent
    after=$(($(ticks "$server") + $(ticks "$client")))
    tmux -L "$SOCK" kill-server
    stop_feeder
    awk -v t=$((after - before)) -v hz="$TICKS" 'BEGIN { printf "%.2f", t / hz }'
}

boocode_seconds() { # FILE
    local TIMEFORMAT='%3U %3S'
    { time "$BIN" debug vt-replay --cols "$COLS" --rows "$ROWS" "$1" >/dev/null; } 2>"$TMP/time"
    awk '{ printf "%.2f", $1 + $2 }' "$TMP/time"
}

echo "$MB MiB per stream, ${COLS}x$ROWS, $(tmux -V), load average $(cut -d' ' -f1 /proc/loadavg)"
printf '%-16s %12s %12s %14s %14s %7s\n' stream "tmux CPU s" "boocode s" "tmux MiB/s" "boocode MiB/s" ratio
for stream in scrolling-text colour-heavy; do
    t=$(tmux_seconds "$TMP/$stream")
    b=$(boocode_seconds "$TMP/$stream")
    awk -v s="$stream" -v t="$t" -v b="$b" -v mb="$MB" 'BEGIN {
        printf "%-16s %12.2f %12.2f %14.1f %14.1f %7.2f\n", s, t, b, mb / t, mb / b, b / t
    }'
done
