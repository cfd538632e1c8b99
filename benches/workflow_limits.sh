#!/usr/bin/env bash
# Workflow script limits: how long a runaway script runs and how much memory it takes before a
# limit ends it, and what a huge result costs the parent. Runs `boocode workflow run` on two
# scripts in a temp project and data home (no model is contacted: neither script calls agent()):
#
#   array-loop   a.push(new Array(1e6).fill(1)) forever: ends on the memory ceiling or the CPU
#                budget (a debug build fills arrays so slowly that the CPU budget comes first)
#   string-loop  keeps distinct 4 MB strings forever: memory grows fast in any build
#   big-result   returns a 100 MiB string: stored verbatim before the limits; now refused (in a
#                debug build building it passes the memory ceiling first)
#   8mb-result   returns an 8 MiB string: refused by the result cap (1 MiB by default)
#
# For each: wall time, how the run ended, the peak RSS of the parent and of the script worker
# (VmHWM, sampled every 50 ms) and the database size afterwards.
#
#   bash benches/workflow_limits.sh                 # uses $CARGO_TARGET_DIR/debug/boocode
#   BIN=path/to/boocode bash benches/workflow_limits.sh
#   CASES=big-result MAX_SECS=120 bash benches/workflow_limits.sh
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=${BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/boocode}
CASES=${CASES:-array-loop string-loop big-result 8mb-result}
# A run still going after this many seconds is stopped and reported as such.
MAX_SECS=${MAX_SECS:-400}
[[ -x $BIN ]] || { echo "missing $BIN" >&2; exit 1; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/project/.boocode/workflows" "$TMP/home"
cat >"$TMP/project/.boocode/workflows/array-loop.js" <<'EOF'
export const meta = { name: 'array-loop', description: 'grows without bound' };
const a = [];
while (true) a.push(new Array(1e6).fill(1));
EOF
cat >"$TMP/project/.boocode/workflows/string-loop.js" <<'EOF'
export const meta = { name: 'string-loop', description: 'keeps 4 MB strings forever' };
function big(n) { let s = 'x'; while (s.length < n) s += s; return s; }
const a = [];
while (true) a.push(big(4e6) + a.length);
EOF
cat >"$TMP/project/.boocode/workflows/big-result.js" <<'EOF'
export const meta = { name: 'big-result', description: 'returns a 100 MiB string' };
let s = 'x';
for (let i = 0; i < 20; i++) s += s;
return s.repeat(100);
EOF
cat >"$TMP/project/.boocode/workflows/8mb-result.js" <<'EOF'
export const meta = { name: '8mb-result', description: 'returns an 8 MiB string' };
let s = 'x';
for (let i = 0; i < 23; i++) s += s;
return s;
EOF

hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || true; }

for case in $CASES; do
    out=$TMP/$case.out
    start=$(date +%s.%N)
    BOOCODE_HOME=$TMP/home "$BIN" --project "$TMP/project" --base-url http://127.0.0.1:9 \
        workflow run "$case" >"$out" 2>&1 &
    pid=$!
    parent_kb=0
    worker_kb=0
    while kill -0 "$pid" 2>/dev/null; do
        kb=$(hwm_kb "$pid")
        [[ -n $kb && $kb -gt $parent_kb ]] && parent_kb=$kb
        for child in $(pgrep -P "$pid" || true); do
            kb=$(hwm_kb "$child")
            [[ -n $kb && $kb -gt $worker_kb ]] && worker_kb=$kb
        done
        if (($(echo "$(date +%s.%N) - $start > $MAX_SECS" | bc))); then
            pkill -P "$pid" || true
            kill "$pid" || true
            echo "($case: stopped after $MAX_SECS s)" >>"$out"
        fi
        sleep 0.05
    done
    wait "$pid" || true
    secs=$(echo "$(date +%s.%N) - $start" | bc)
    db_kb=$(du -sk "$TMP/home" | cut -f1)
    printf '%-11s %6.1f s  parent peak %5d MB  worker peak %5d MB  data home %5d MB\n' \
        "$case" "$secs" $((parent_kb / 1024)) $((worker_kb / 1024)) $((db_kb / 1024))
    grep -v '^▶' "$out" | cut -c1-300 | sed 's/^/    /'
    rm -rf "$TMP/home"
    mkdir -p "$TMP/home"
done
