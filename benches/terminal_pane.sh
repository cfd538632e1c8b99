#!/usr/bin/env bash
# Terminal panes against tmux 3.3a, both measured in the same run on the same bytes.
#
# Each side draws into its own detached "outer" tmux of 120x40 (standing in for the user's
# terminal; its own CPU is not counted on either side):
#   boocode  the workspace with one zoomed terminal pane running bash;
#   tmux     a tmux client attached to a second tmux server (status off) running bash.
#
#   1. throughput: CPU seconds per MB while `cat` of a generated file (plain and coloured
#      lines) goes through the pane and is drawn: boocode's process vs the inner tmux server +
#      its client; the ratio boocode / tmux (target <= 1.0).
#   2. keystroke to screen: a character typed into the pane until the output that draws it
#      reaches the outer terminal, median and p95 over SAMPLES keys, idle and while a second
#      pane runs `yes` (target <= 1 frame: 16.7 ms at 60 fps). benches/key_to_screen.py does
#      the timing as a control-mode client of the outer tmux: it is told of each read from the
#      pane as it happens and confirms with a capture-pane over the same pipe, so no process
#      is started per look (the earlier `capture-pane | grep` poll cost ~14 ms a look).
#   3. memory: resident memory growth after 10,000 lines of 120 columns fill the scrollback
#      (boocode's process vs the inner tmux server with history-limit 10000).
#
#   bash benches/terminal_pane.sh               # builds the release binary first
#   SKIP_BUILD=1 MB=50 SAMPLES=30 bash benches/terminal_pane.sh
#   SKIP_BUILD=1 BIN=/path/to/other/boocode bash benches/terminal_pane.sh
#
# Honours CARGO_TARGET_DIR.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
MB=${MB:-32}
SAMPLES=${SAMPLES:-25}
TICKS=$(getconf CLK_TCK)
OUTER_B=tpb-outer-boo-$$
OUTER_T=tpb-outer-tmux-$$
INNER_T=tpb-inner-$$

if [[ -z ${SKIP_BUILD:-} ]]; then
    cargo build --release --bin boocode
fi
BIN=${BIN:-$TARGET/release/boocode}
[[ -x $BIN ]] || { echo "missing $BIN" >&2; exit 1; }

TMP=$(mktemp -d)
cleanup() {
    for s in "$OUTER_B" "$OUTER_T" "$INNER_T"; do tmux -L "$s" kill-server 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT

# The stream: MB megabytes of lines 20-119 columns long, every third one with SGR colours.
python3 - "$TMP/stream.txt" "$MB" <<'EOF'
import random, sys
random.seed(7)
path, mb = sys.argv[1], int(sys.argv[2])
words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi".split()
out, size, n = [], 0, 0
while size < mb * 1_000_000:
    line = ""
    while len(line) < random.randint(20, 119):
        line += random.choice(words) + " "
    line = line[:119]
    if n % 3 == 0:
        line = f"\x1b[1;3{n % 8}m{line[:40]}\x1b[0m\x1b[38;5;{n % 256}m{line[40:]}\x1b[0m"
    out.append(line)
    size += len(line) + 1
    n += 1
open(path, "w").write("\n".join(out) + "\n")
EOF
BYTES=$(stat -c %s "$TMP/stream.txt")
# The scrollback fill: 10,000 lines of exactly 120 columns (about 9,960 stay in history above
# the screen on both sides; tmux drops a tenth of its history on reaching the limit).
python3 -c 'import sys
for i in range(10000): print((f"{i:05d} " + "x" * 120)[:120])' >"$TMP/fill.txt"

ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
now() { date +%s.%N; }
outer_screen() { tmux -L "$1" capture-pane -p -t main; }
wait_for() { # SOCKET TEXT: until TEXT is on the outer screen (10 s at most)
    for _ in $(seq 500); do
        outer_screen "$1" | grep -qF -- "$2" && return 0
        sleep 0.02
    done
    echo "never saw '$2' on $1:" >&2; outer_screen "$1" >&2; exit 1
}
# Sums the CPU ticks of the listed pids.
sum_ticks() { local t=0; for p in "$@"; do t=$((t + $(ticks "$p"))); done; echo "$t"; }
# Waits until the listed pids stop using CPU (the drawing is finished) for 0.5 s.
settle() {
    local prev cur
    prev=$(sum_ticks "$@")
    while sleep 0.5; do
        cur=$(sum_ticks "$@")
        [[ $cur == "$prev" ]] && return
        prev=$cur
    done
}

# --- boocode side -------------------------------------------------------------------------
start_boocode() {
    local home=$TMP/home project=$TMP/project
    mkdir -p "$home" "$project"
    tmux -L "$OUTER_B" -f /dev/null new-session -d -s main -x 120 -y 40 \
        "cd '$project' && exec env HOME='$home' BOOCODE_HOME='$home/.boocode' TERM=xterm-256color \
         SHELL=/bin/bash '$BIN' --api-key x --base-url http://127.0.0.1:9 2>'$TMP/boocode.err'"
    BOO_PID=$(tmux -L "$OUTER_B" display -p -t main '#{pane_pid}')
    sleep 1
    tmux -L "$OUTER_B" send-keys -t main C-b t
    sleep 0.5
    tmux -L "$OUTER_B" send-keys -t main C-b z
    sleep 0.5
    tmux -L "$OUTER_B" send-keys -t main -l "PS1='$ '; clear"
    tmux -L "$OUTER_B" send-keys -t main Enter
    sleep 0.5
}

# --- tmux side ----------------------------------------------------------------------------
start_tmux() {
    printf 'set -g status off\nset -g history-limit 10000\n' >"$TMP/inner.conf"
    tmux -L "$OUTER_T" -f /dev/null new-session -d -s main -x 120 -y 40 \
        "TERM=xterm-256color exec tmux -L '$INNER_T' -f '$TMP/inner.conf' new-session -s in 'env PS1=\"\$ \" bash --norc'"
    sleep 1
    TMUX_CLIENT=$(tmux -L "$INNER_T" list-clients -F '#{client_pid}' | head -n1)
    TMUX_SERVER=$(tmux -L "$INNER_T" display -p '#{pid}')
}

type_and_wait() { # OUTER_SOCKET COMMAND DONE_FILE PIDS...
    local sock=$1 cmd=$2 done=$3
    shift 3
    rm -f "$done"
    tmux -L "$sock" send-keys -t main -l "$cmd"
    tmux -L "$sock" send-keys -t main Enter
    for _ in $(seq 6000); do [[ -e $done ]] && break; sleep 0.05; done
    [[ -e $done ]] || { echo "command did not finish: $cmd" >&2; exit 1; }
    settle "$@"
}

throughput() { # OUTER_SOCKET PIDS...: CPU seconds for the stream
    local sock=$1
    shift
    local a b
    a=$(sum_ticks "$@")
    type_and_wait "$sock" "cat $TMP/stream.txt; clear; touch $TMP/done-$sock" "$TMP/done-$sock" "$@"
    b=$(sum_ticks "$@")
    awk -v a="$a" -v b="$b" -v hz="$TICKS" 'BEGIN { printf "%.3f", (b - a) / hz }'
}

# Keystroke latency: prints "median p95 probe" in ms (probe: one capture round trip, which
# is not in the figures).
latency() { python3 "$ROOT/benches/key_to_screen.py" "$1" "$SAMPLES"; }
median_p95() { echo "$1" | awk '{ print $1 "/" $2 }'; }
probe() { echo "$1" | awk '{ print $3 }'; }

start_boocode
start_tmux
type_and_wait "$OUTER_B" "stty size > $TMP/size-boo; touch $TMP/sized-boo" "$TMP/sized-boo" "$BOO_PID"
type_and_wait "$OUTER_T" "stty size > $TMP/size-tmux; touch $TMP/sized-tmux" "$TMP/sized-tmux" "$TMUX_SERVER" "$TMUX_CLIENT"

# Memory first, while both panes have no history yet: after the throughput stream (which ends
# in `clear`, freeing a full history) the fill would reuse freed memory on both sides.
boo_rss0=$(rss_kb "$BOO_PID")
type_and_wait "$OUTER_B" "cat $TMP/fill.txt; touch $TMP/fill-boo" "$TMP/fill-boo" "$BOO_PID"
boo_rss1=$(rss_kb "$BOO_PID")
tmux_rss0=$(rss_kb "$TMUX_SERVER")
type_and_wait "$OUTER_T" "cat $TMP/fill.txt; touch $TMP/fill-tmux" "$TMP/fill-tmux" "$TMUX_SERVER" "$TMUX_CLIENT"
tmux_rss1=$(rss_kb "$TMUX_SERVER")
tmux_history=$(tmux -L "$INNER_T" display -p -t in '#{history_size}')
type_and_wait "$OUTER_B" "clear; touch $TMP/cleared-boo" "$TMP/cleared-boo" "$BOO_PID"
type_and_wait "$OUTER_T" "clear; touch $TMP/cleared-tmux" "$TMP/cleared-tmux" "$TMUX_SERVER" "$TMUX_CLIENT"

echo "stream: $BYTES bytes; machine: $(nproc) cpus; $(uptime)"

boo_cpu=$(throughput "$OUTER_B" "$BOO_PID")
tmux_cpu=$(throughput "$OUTER_T" "$TMUX_SERVER" "$TMUX_CLIENT")
boo_per_mb=$(awk -v c="$boo_cpu" -v b="$BYTES" 'BEGIN { printf "%.4f", c / (b / 1048576) }')
tmux_per_mb=$(awk -v c="$tmux_cpu" -v b="$BYTES" 'BEGIN { printf "%.4f", c / (b / 1048576) }')
ratio=$(awk -v a="$boo_per_mb" -v b="$tmux_per_mb" 'BEGIN { printf "%.2f", a / b }')

boo_idle=$(latency "$OUTER_B")
tmux_idle=$(latency "$OUTER_T")

# Flooding neighbour: the pane measured so far runs `yes`; a new pane (which takes the focus)
# gets the keys.
tmux -L "$OUTER_B" send-keys -t main C-b z
sleep 0.3
tmux -L "$OUTER_B" send-keys -t main -l "yes"
tmux -L "$OUTER_B" send-keys -t main Enter
sleep 0.3
tmux -L "$OUTER_B" send-keys -t main C-b t
sleep 1
tmux -L "$OUTER_B" send-keys -t main -l "PS1='$ '; clear"
tmux -L "$OUTER_B" send-keys -t main Enter
tmux -L "$OUTER_T" send-keys -t main -l "yes"
tmux -L "$OUTER_T" send-keys -t main Enter
sleep 0.3
tmux -L "$INNER_T" split-window -t in 'env PS1="$ " bash --norc'
sleep 1
boo_flood=$(latency "$OUTER_B")
tmux_flood=$(latency "$OUTER_T")

echo
printf '%-34s %12s %12s %8s\n' "" boocode tmux ratio
printf '%-34s %12s %12s %8s\n' "CPU s per MB drawn" "$boo_per_mb" "$tmux_per_mb" "$ratio"
printf '%-34s %12s %12s\n' "CPU s total ($((BYTES / 1000000)) MB)" "$boo_cpu" "$tmux_cpu"
printf '%-34s %12s %12s\n' "key to screen, idle (median/p95 ms)" "$(median_p95 "$boo_idle")" "$(median_p95 "$tmux_idle")"
printf '%-34s %12s %12s\n' "key to screen, neighbour floods" "$(median_p95 "$boo_flood")" "$(median_p95 "$tmux_flood")"
printf '%-34s %12s %12s %8s\n' "RSS growth, 10k x 120 lines (KB)" "$((boo_rss1 - boo_rss0))" "$((tmux_rss1 - tmux_rss0))" \
    "$(awk -v a="$((boo_rss1 - boo_rss0))" -v b="$((tmux_rss1 - tmux_rss0))" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')"
echo "(history after the fill: tmux $tmux_history lines, boocode the lines fed less the screen's, up to 10,000)"
echo "(the key to screen figures end when the output that drew the key reached the outer tmux;"
echo " one capture-pane round trip, the probe's check, costs $(probe "$boo_idle")/$(probe "$tmux_idle") ms idle and"
echo " $(probe "$boo_flood")/$(probe "$tmux_flood") ms while flooding (boocode/tmux side) and is not included;"
echo " a frame at 60 fps is 16.7 ms; pane sizes (rows cols): boocode $(cat "$TMP/size-boo"), tmux $(cat "$TMP/size-tmux"))"
echo "$(uptime)"
