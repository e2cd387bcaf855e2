#!/bin/sh
# demo.sh [ROOT]: run-agent's working method end to end, with no AI agent installed.
#
# A scripted orchestrator (scripts/demo/orchestrator.sh, run as a `claude` agent: it
# prints Claude Code's stream-json events) splits a small job -- the lines, words and
# most frequent word of THE_PROMPT.md -- across three sub-agents: two `run-agent job`s
# and one `run-agent task` whose first attempt crashes and is restarted. The sub-agents
# report over the message bus; the orchestrator waits for them, checks their output.md,
# writes its own and DONE. Meanwhile `run-agent watch` (or, in builds without it, a
# plain-shell follower) shows the runs live. At the end: a summary of the task, its
# runs and the bus messages.
#
# ROOT: the runs root to use (default: a new temp directory). Environment: RUN_AGENT,
# the binary to use (default: `cargo build`, then target/debug/run-agent).
set -eu

DEMO=$(cd "$(dirname "$0")" && pwd)/demo
REPO=$(cd "$(dirname "$0")/.." && pwd)
PROJECT=demo
TASK=report

say() { printf '== %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

if [ -z "${RUN_AGENT:-}" ]; then
    say "building run-agent (cargo build)"
    (cd "$REPO" && cargo build --quiet) || die "cargo build failed"
    RUN_AGENT=$REPO/target/debug/run-agent
fi
[ -x "$RUN_AGENT" ] || die "no run-agent binary at $RUN_AGENT (set RUN_AGENT or run cargo build)"
command -v flock > /dev/null || die "flock (util-linux) is needed to append to the bus"

ROOT=${1:-$(mktemp -d "${TMPDIR:-/tmp}/run-agent-demo.XXXXXX")/runs}
mkdir -p "$ROOT"
ROOT=$(cd "$ROOT" && pwd)
[ ! -e "$ROOT/$PROJECT" ] || die "$ROOT/$PROJECT exists already; give the demo an empty runs root"

# The demo is a top-level command of its own, even when started inside a run. The
# marker variable lets a test find any process the demo left behind.
for v in $(env | sed -n 's/^\(JRUN_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done
export RUN_AGENT_DEMO="$ROOT"
# Sub-agents find `run-agent` on PATH (the runner puts its own folder first); so does
# this script's watcher.
PATH=$(dirname "$RUN_AGENT"):$PATH
export PATH

watcher=
task_pid=
cleanup() {
    for pid in $task_pid $watcher; do
        kill -TERM "$pid" 2> /dev/null || true
    done
    for pid in $task_pid $watcher; do
        wait "$pid" 2> /dev/null || true
    done
}
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

say "runs root: $ROOT"
mkdir -p "$ROOT/$PROJECT"
if "$RUN_AGENT" watch --help > /dev/null 2>&1; then
    watch_kind=run-agent
    say "watching with: run-agent watch --project $PROJECT"
    "$RUN_AGENT" watch --root "$ROOT" --project "$PROJECT" &
else
    watch_kind=follow
    say "watching with: scripts/demo/follow.sh (this build has no run-agent watch)"
    "$DEMO/follow.sh" "$ROOT/$PROJECT" &
fi
watcher=$!

PROMPT="Report the number of lines and words of a text file and its most frequent word.
Split the work across sub-agents, check their results and write a short report.

Input: $REPO/THE_PROMPT.md
"

say "starting: run-agent task --project $PROJECT --task $TASK --agent claude --agent-cmd scripts/demo/orchestrator.sh"
set +e
"$RUN_AGENT" --root "$ROOT" task --project "$PROJECT" --task "$TASK" \
    --agent claude --agent-cmd "$DEMO/orchestrator.sh" --prompt "$PROMPT" \
    --max-restarts 2 --restart-delay 200ms --kill-grace 2s --timeout 2m &
task_pid=$!
wait "$task_pid"
rc=$?
task_pid=
set -e

# Let the watcher print what is left: `run-agent watch` may end by itself once the tasks
# are done (give it a second); the shell follower prints a last round on SIGTERM.
i=0
while [ "$watch_kind" = run-agent ] && kill -0 "$watcher" 2> /dev/null && [ "$i" -lt 10 ]; do
    sleep 0.1
    i=$((i + 1))
done
kill -TERM "$watcher" 2> /dev/null || true
wait "$watcher" 2> /dev/null || true
watcher=

field() { sed -n "s/^$2: *//p" "$1" | head -n 1 | tr -d "'\""; }

echo
say "summary"
if [ -e "$ROOT/$PROJECT/$TASK/DONE" ]; then state=done; else state="not done"; fi
echo "task $PROJECT/$TASK: $state (run-agent task exited $rc)"
echo "runs:"
for info in "$ROOT/$PROJECT"/*/runs/*/run-info.yaml; do
    [ -f "$info" ] || continue
    printf '  %-18s %-32s attempt %s  %-9s exit %-3s agent %-6s' \
        "$(field "$info" task_id)" "$(field "$info" run_id)" "$(field "$info" attempt)" \
        "$(field "$info" status)" "$(field "$info" exit_code)" "$(field "$info" agent)"
    parent=$(field "$info" parent_run_id)
    previous=$(field "$info" previous_run_id)
    [ -z "$parent" ] || printf '  parent %s' "$parent"
    [ -z "$previous" ] || printf '  restart of %s' "$previous"
    echo
done
echo "bus messages from the agents (lifecycle records left out):"
for bus in "$ROOT/$PROJECT"/*/TASK-MESSAGE-BUS.md; do
    [ -f "$bus" ] || continue
    awk -v t="$(basename "$(dirname "$bus")")" '
        /^---$/ { n++; if (n % 2 == 1) { type = ""; first = 1 }; next }
        n % 2 == 1 && /^type:/ { type = $2; next }
        n % 2 == 0 && first && type !~ /^RUN_/ { printf "  %-18s %-8s %s\n", t, type, $0; first = 0 }' "$bus"
done
# The orchestrator's run is the task's root run: the one without a parent (the jobs it
# started are runs of the same task, with it as parent).
out=
for info in "$ROOT/$PROJECT/$TASK"/runs/*/run-info.yaml; do
    [ -f "$info" ] && [ -z "$(field "$info" parent_run_id)" ] && out=$(field "$info" output_path)
done
if [ -n "$out" ] && [ -f "$out" ]; then
    echo "the orchestrator's output.md ($out):"
    sed 's/^/  | /' "$out"
fi
echo
echo "Look around: ls -R $ROOT/$PROJECT; $RUN_AGENT --root $ROOT <command> --help"
[ "$state" = done ] && [ "$rc" -eq 0 ] || exit 1
