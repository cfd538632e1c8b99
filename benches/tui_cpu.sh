#!/usr/bin/env bash
# Workspace CPU benchmark: idle CPU over 10 s, and CPU while a reply streams at ~2,000 tokens/s
# from the scripted mock server (benches/stream_2k_tps.json: ~80,000 chars of markdown with code
# blocks and tables, 16 chars per SSE chunk, 1 ms sleep between chunks: ~2.1-2.3 ms per chunk in
# practice (curl: 11.4 s), so ~7,000 chars/s ≈ 1,750 tokens/s when the client keeps up), with and without
# SSH_CONNECTION (30 fps frame cap instead of 60). boocode runs in a detached 120x40 tmux.
#
#   bash benches/tui_cpu.sh            # builds --profile profiling first (release + symbols)
#   SKIP_BUILD=1 bash benches/tui_cpu.sh
#   SCRIPT=benches/stream_2k_tps_prose.json CASES=local bash benches/tui_cpu.sh   # no code blocks
#
# Honours CARGO_TARGET_DIR. Targets: idle ~0 %, streaming <= 10 % of one core.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
SCRIPT=${SCRIPT:-$ROOT/benches/stream_2k_tps.json}
CASES=${CASES:-local ssh-30fps}
IDLE_SECS=${IDLE_SECS:-10}
SOCK=bench-$$
TICKS=$(getconf CLK_TCK)

if [[ -z ${SKIP_BUILD:-} ]]; then
    cargo build --profile profiling --bin boocode --example mock_server
fi
# The profiling profile is release with debug info, so `perf record` of a run has symbols.
BIN=$TARGET/profiling/boocode
MOCK=$TARGET/profiling/examples/mock_server
[[ -x $BIN && -x $MOCK ]] || { echo "missing $BIN or $MOCK" >&2; exit 1; }

TMP=$(mktemp -d)
MOCK_PID=
cleanup() {
    tmux -L "$SOCK" kill-server 2>/dev/null || true
    [[ -n $MOCK_PID ]] && kill "$MOCK_PID" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

# Mock server on a free port; the first stdout line is the base URL.
"$MOCK" --port 0 --script "$SCRIPT" >"$TMP/mock.out" 2>"$TMP/mock.err" &
MOCK_PID=$!
for _ in $(seq 100); do
    [[ -s $TMP/mock.out ]] && break
    sleep 0.1
done
BASE_URL=$(head -n1 "$TMP/mock.out")
[[ $BASE_URL == http* ]] || { echo "mock server did not start: $(cat "$TMP/mock.err")" >&2; exit 1; }

# utime + stime of a process, in clock ticks.
ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
now() { date +%s.%N; }
# % of one core used by PID between tick counts $2..$3 over $4 seconds.
pct() { awk -v a="$1" -v b="$2" -v s="$3" -v hz="$TICKS" 'BEGIN { printf "%.1f", (b - a) / hz / s * 100 }'; }
screen() { tmux -L "$SOCK" capture-pane -p -t bench; }

declare -a ROWS

# run_case LABEL SSH(0/1)
run_case() {
    local label=$1 ssh=$2
    local home=$TMP/home-$label project=$TMP/project-$label
    mkdir -p "$home" "$project"
    printf 'fn main() {}\n' >"$project/main.rs"
    tmux -L "$SOCK" kill-server 2>/dev/null || true
    tmux -L "$SOCK" -f /dev/null new-session -d -s bench -x 120 -y 40 \
        "cd '$project' && exec env $( [[ $ssh == 1 ]] && echo "SSH_CONNECTION='127.0.0.1 1 127.0.0.1 22'" || echo "-u SSH_CONNECTION" ) \
         HOME='$home' BOOCODE_HOME='$home/.boocode' TERM=xterm-256color \
         '$BIN' --base-url '$BASE_URL' --api-key x --model bench-model 2>'$TMP/boocode-$label.err'"
    local pid
    pid=$(tmux -L "$SOCK" display -p -t bench '#{pane_pid}')
    # Wait until the workspace has drawn and the screen is stable for a second.
    local prev="" cur="" stable=0
    for _ in $(seq 150); do
        sleep 0.2
        kill -0 "$pid" 2>/dev/null || { echo "boocode exited: $(cat "$TMP/boocode-$label.err")" >&2; exit 1; }
        cur=$(screen)
        if [[ $(tr -d ' \n' <<<"$cur" | wc -c) -gt 40 && $cur == "$prev" ]]; then
            stable=$((stable + 1))
            ((stable >= 5)) && break
        else
            stable=0
        fi
        prev=$cur
    done
    ((stable >= 5)) || { echo "workspace did not settle:"; screen; exit 1; } >&2

    # Idle.
    local t0 a t1 b
    t0=$(now); a=$(ticks "$pid")
    sleep "$IDLE_SECS"
    t1=$(now); b=$(ticks "$pid")
    local idle_s idle
    idle_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
    idle=$(pct "$a" "$b" "$idle_s")

    # Streaming: type a prompt, measure until the reply's last line is on screen.
    tmux -L "$SOCK" send-keys -t bench -l "explain the parser"
    sleep 0.3
    t0=$(now); a=$(ticks "$pid"); local ma; ma=$(ticks "$MOCK_PID")
    tmux -L "$SOCK" send-keys -t bench Enter
    # CPU over the first 10 s of the stream, then until the reply is complete.
    sleep 10
    local tm bm; tm=$(now); bm=$(ticks "$pid")
    local done=0
    for _ in $(seq 3600); do
        sleep 0.05
        if screen | grep -q "BENCH-REPLY-END"; then done=1; break; fi
    done
    t1=$(now); b=$(ticks "$pid"); local mb; mb=$(ticks "$MOCK_PID")
    if ((done == 0)); then
        echo "reply did not finish within 190 s; screen:" >&2
        screen >&2
        exit 1
    fi
    local stream_s stream mock
    stream_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
    stream=$(pct "$a" "$b" "$stream_s")
    local first10
    first10=$(pct "$a" "$bm" "$(awk -v a="$t0" -v b="$tm" 'BEGIN { printf "%.2f", b - a }')")
    mock=$(pct "$ma" "$mb" "$stream_s")
    local chars tps
    chars=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))[0]["content"]))' "$SCRIPT")
    tps=$(awk -v c="$chars" -v s="$stream_s" 'BEGIN { printf "%.0f", c / 4 / s }')
    ROWS+=("$(printf '%-14s %8s %8s %10s %10s %12s %10s %12s' "$label" "$idle_s" "$idle" "$stream_s" "$tps" "$first10" "$stream" "$mock")")
    tmux -L "$SOCK" kill-server 2>/dev/null || true
}

for c in $CASES; do
    case $c in
        local) run_case local 0 ;;
        ssh-30fps) run_case ssh-30fps 1 ;;
        *) echo "unknown case $c" >&2; exit 2 ;;
    esac
done

echo
echo "script: $SCRIPT"
echo "machine: $(nproc) cpus; $(uptime)"
printf '%-14s %8s %8s %10s %10s %12s %10s %12s\n' case idle_s "idle_%" stream_s "tok/s~" "first10s_%" "stream_%" "mock_srv_%"
for r in "${ROWS[@]}"; do echo "$r"; done
echo "(% of one core; first10s_% = first 10 s of the stream, stream_% = until the reply is on screen; tok/s~ = reply chars / 4 / stream seconds; targets: idle ~0 %, stream <= 10 %)"
