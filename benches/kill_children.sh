#!/usr/bin/env bash
# Children of a killed boocode, and resume: TRIALS times, `boocode exec` runs a command
# (`sh -c 'echo $$ > cmd.pid; sleep 1 & sleep 2; echo ran >> runs'`, a process group of three) against the
# scripted mock server; once the command runs, exec is SIGKILLed. Measured per trial: how long
# until no process of the command's group is left (given up after 5 s), whether the command
# finished anyway (`runs` written after the kill), and whether `boocode resume` ran it again.
#
#   bash benches/kill_children.sh              # builds the debug binary and the mock server first
#   SKIP_BUILD=1 TRIALS=36 bash benches/kill_children.sh
#   SKIP_BUILD=1 BIN=/path/to/older/boocode bash benches/kill_children.sh   # the figures before
#
# Honours CARGO_TARGET_DIR. Target: every group gone within a second, 0 finished, 0 re-run.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
TRIALS=${TRIALS:-10}

if [[ -z ${SKIP_BUILD:-} ]]; then
    cargo build --bin boocode --example mock_server
fi
BIN=${BIN:-$TARGET/debug/boocode}
MOCK=$TARGET/debug/examples/mock_server
[[ -x $BIN && -x $MOCK ]] || { echo "missing $BIN or $MOCK" >&2; exit 1; }

WORK=$(mktemp -d)
cleanup() {
    [[ -n ${MOCK_PID:-} ]] && kill "$MOCK_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

COMMAND='echo $$ > cmd.pid; sleep 1 & sleep 2; echo ran >> runs'
ARGS=$(jq -cn --arg c "$COMMAND" '{command: "sh", args: ["-c", $c]}')
jq -n --arg a "$ARGS" '[
  {kind: "text", content: "done", repeat: true, when: {last_role: "tool"}},
  {kind: "tool_calls", calls: [{id: "call_cmd", name: "run_command", arguments: $a}], repeat: true}
]' > "$WORK/script.json"
"$MOCK" --script "$WORK/script.json" > "$WORK/mock.url" 2>/dev/null &
MOCK_PID=$!
for _ in $(seq 100); do [[ -s $WORK/mock.url ]] && break; sleep 0.05; done
URL=$(head -1 "$WORK/mock.url")

# Live (not zombie) processes whose process group is $1.
live_in_group() {
    cat /proc/[0-9]*/stat 2>/dev/null | sed 's/.*) //' |
        awk -v g="$1" '$3 == g && $1 != "Z"' | wc -l
}

# Lines in `runs`: how often the command got to its end.
count_runs() {
    if [[ -e runs ]]; then wc -l < runs; else echo 0; fi
}

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

max_ms=0 total_ms=0 survived=0 finished=0 rerun=0
for trial in $(seq "$TRIALS"); do
    dir=$WORK/t$trial
    mkdir -p "$dir/project" "$dir/home"
    cd "$dir/project"
    export BOOCODE_HOME=$dir/home
    "$BIN" --base-url "$URL" --api-key sk-bench exec --approval auto "run it" >/dev/null 2>&1 &
    exec_pid=$!
    for _ in $(seq 400); do [[ -s cmd.pid ]] && break; sleep 0.01; done
    pgid=$(cat cmd.pid)
    sleep 0.1
    kill -9 "$exec_pid"
    wait "$exec_pid" 2>/dev/null || true
    killed=$(now_ms)
    while (( $(live_in_group "$pgid") > 0 )); do
        if (( $(now_ms) - killed > 5000 )); then survived=$((survived + 1)); break; fi
        sleep 0.01
    done
    took=$(( $(now_ms) - killed ))
    total_ms=$((total_ms + took))
    (( took > max_ms )) && max_ms=$took
    sleep 2.5
    [[ -e runs ]] && finished=$((finished + 1))
    before=$(count_runs)
    "$BIN" --base-url "$URL" --api-key sk-bench resume >/dev/null 2>&1 || true
    sleep 2.5
    after=$(count_runs)
    (( after > before )) && rerun=$((rerun + 1))
    cd "$ROOT"
done

echo "trials: $TRIALS"
echo "command groups alive 5 s after the kill: $survived"
echo "time until the group was gone: mean $((total_ms / TRIALS)) ms, max $max_ms ms"
echo "commands that finished after the kill: $finished"
echo "commands resume ran again: $rerun"
