#!/usr/bin/env bash
# External agents: how long from `boocode agent run` to the agent's first streamed text, and how
# far behind the agent's own first byte boocode shows it (target: within 50 ms).
#
# The scripted ACP agent (examples/acp_agent.rs) writes the time it sent its first text chunk
# (`--stamp FILE`, Unix µs); this script reads `agent run --json` line by line and notes when the
# first `text_delta` event arrives. Both clocks are this machine's wall clock.
#
#   bash benches/acp_first_text.sh           # builds the release binary and the agent first
#   SKIP_BUILD=1 RUNS=20 bash benches/acp_first_text.sh
#   PROFILE=debug SKIP_BUILD=1 bash benches/acp_first_text.sh
#
# Honours CARGO_TARGET_DIR.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
PROFILE=${PROFILE:-release}
RUNS=${RUNS:-20}

if [[ -z ${SKIP_BUILD:-} ]]; then
    if [[ $PROFILE == release ]]; then
        cargo build --release --bin boocode --example acp_agent
    else
        cargo build --bin boocode --example acp_agent
    fi
fi
BIN=$TARGET/$PROFILE/boocode
AGENT=$TARGET/$PROFILE/examples/acp_agent
[[ -x $BIN && -x $AGENT ]] || { echo "missing $BIN or $AGENT" >&2; exit 1; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/project" "$TMP/home" "$TMP/user/.config/boocode"
cat >"$TMP/user/.config/boocode/config.toml" <<EOF
[agents.scripted]
protocol = "acp"
command = "$AGENT"
args = ["--stamp", "$TMP/stamp"]
EOF

python3 - "$BIN" "$TMP" "$RUNS" <<'PY'
import os, statistics, subprocess, sys, time

binary, tmp, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
env = {
    "PATH": os.environ.get("PATH", ""),
    "HOME": f"{tmp}/user",
    "XDG_CONFIG_HOME": f"{tmp}/user/.config",
    "BOOCODE_HOME": f"{tmp}/home",
}
to_first_text, behind_agent = [], []
for _ in range(runs):
    stamp = f"{tmp}/stamp"
    if os.path.exists(stamp):
        os.remove(stamp)
    start = time.time()
    child = subprocess.Popen(
        [binary, "agent", "run", "scripted", "--json", "--no-worktree", "hello"],
        cwd=f"{tmp}/project", env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    seen = None
    for line in child.stdout:
        if b'"text_delta"' in line:
            seen = time.time()
            break
    child.stdout.read()
    if child.wait() != 0 or seen is None:
        sys.exit("agent run failed")
    with open(stamp) as f:
        sent = int(f.read()) / 1e6
    to_first_text.append((seen - start) * 1000)
    behind_agent.append((seen - sent) * 1000)

def row(name, xs):
    xs = sorted(xs)
    p90 = xs[max(0, int(len(xs) * 0.9) - 1)]
    print(f"| {name} | {statistics.median(xs):.1f} | {p90:.1f} | {xs[-1]:.1f} |")

print(f"{runs} runs")
print("| ms | median | p90 | max |")
print("|---|---|---|---|")
row("`agent run` start → first text shown", to_first_text)
row("agent's first text sent → shown by boocode", behind_agent)
PY
