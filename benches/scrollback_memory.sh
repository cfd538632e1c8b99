#!/usr/bin/env bash
# Scrollback memory only: what 10,000 history lines of 120 columns cost boocode's screen engine
# and a tmux 3.3a pane, each measured from a fresh process (no earlier history whose freed
# memory could be reused).
#
#   boocode  peak RSS of `boocode debug vt-replay --cols 120 --rows 40` (the pane's engine, 10,000
#            lines of history) over the fill file, minus the same over a file of the same size
#            whose lines end in CR only (nothing scrolls, so no history): the file's own buffer
#            and the process's start cancel out;
#   tmux     RSS of a fresh tmux server (history-limit 10000, 120x40 pane, no client) before and
#            after `cat` of the fill file in its pane, and the history size it reports.
#
#   bash benches/scrollback_memory.sh          # builds the release binary first
#   SKIP_BUILD=1 RUNS=9 bash benches/scrollback_memory.sh
#
# Honours CARGO_TARGET_DIR and BIN (the boocode binary to measure).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
LINES=${LINES_FED:-10000}
RUNS=${RUNS:-5}
SOCK=sb-mem-$$

if [[ -z ${SKIP_BUILD:-} ]]; then
    cargo build --release --bin boocode
fi
BIN=${BIN:-$TARGET/release/boocode}
[[ -x $BIN ]] || { echo "missing $BIN" >&2; exit 1; }
command -v tmux >/dev/null || { echo "tmux is not installed" >&2; exit 1; }

TMP=$(mktemp -d)
cleanup() {
    tmux -L "$SOCK" kill-server 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

# 10,000 lines of exactly 120 columns: about 9,960 of them end up in history above the 40-row
# screen on both sides (tmux drops a tenth of its history when it reaches the limit, so a fill
# of the whole 10,000 would measure tmux at 9,000).
python3 - "$TMP" "$LINES" <<'EOF'
import sys
tmp, count = sys.argv[1], int(sys.argv[2])
lines = [(f"{i:05d} " + "x" * 120)[:120] for i in range(count)]
open(f"{tmp}/fill.txt", "w").write("\n".join(lines) + "\n")
open(f"{tmp}/fill-cr.txt", "w").write("\r".join(lines) + "\r")
EOF

# Peak RSS in KB, the median of RUNS runs (a single run varies by a few hundred KB).
peak_kb() {
    for _ in $(seq "$RUNS"); do
        /usr/bin/time -f %M "$BIN" debug vt-replay --cols 120 --rows 40 "$1" 2>&1 >/dev/null | tail -n1
    done | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
boo_with=$(peak_kb "$TMP/fill.txt")
boo_without=$(peak_kb "$TMP/fill-cr.txt")

rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
printf 'set -g status off\nset -g history-limit 10000\n' >"$TMP/tmux.conf"
tmux -L "$SOCK" -f "$TMP/tmux.conf" new-session -d -s main -x 120 -y 40 'env PS1="$ " bash --norc'
sleep 1
SERVER=$(tmux -L "$SOCK" display -p '#{pid}')
tmux_before=$(rss_kb "$SERVER")
tmux -L "$SOCK" send-keys -t main -l "cat $TMP/fill.txt; touch $TMP/done"
tmux -L "$SOCK" send-keys -t main Enter
for _ in $(seq 600); do [[ -e $TMP/done ]] && break; sleep 0.05; done
sleep 1
tmux_after=$(rss_kb "$SERVER")
tmux_history=$(tmux -L "$SOCK" display -p -t main '#{history_size}')

boo=$((boo_with - boo_without))
tmux_kb=$((tmux_after - tmux_before))
echo "machine: $(nproc) cpus; $(uptime)"
printf '%-44s %10s %10s %8s\n' "" boocode tmux ratio
printf '%-44s %10s %10s %8s\n' "memory for 10,000 x 120-column history (KB)" "$boo" "$tmux_kb" \
    "$(awk -v a="$boo" -v b="$tmux_kb" 'BEGIN { printf "%.2f", a / b }')"
echo "(boocode: peak RSS $boo_with KB with history, $boo_without KB without; tmux: server RSS $tmux_before -> $tmux_after KB, history_size $tmux_history)"
