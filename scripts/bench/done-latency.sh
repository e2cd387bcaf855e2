#!/bin/sh
# Benchmark: from the agent writing DONE and exiting to `run-agent task` returning, for
# a task with no children in a runs root that holds 10,000 finished runs of other tasks.
# Goal (issue 4): <= 50 ms.
# Usage: scripts/bench/done-latency.sh [REPEATS]   (BIN=path/to/run-agent to choose a build)
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-$here/target/debug/run-agent}
repeats=${1:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root

# 100 tasks x 100 finished runs of other tasks.
p=0
while [ $p -lt 100 ]; do
  r=0
  while [ $r -lt 100 ]; do
    d=$root/other/task-$p/runs/20260101-00000000$(printf %02d $r)-1-$p
    mkdir -p "$d"
    printf 'version: 1\nrun_id: %s\nproject_id: other\ntask_id: task-%s\nstatus: completed\nexit_code: 0\npid: 1\npgid: 1\nend_time: 2026-01-01T00:00:01Z\n' \
      "$(basename "$d")" "$p" > "$d/run-info.yaml"
    r=$((r + 1))
  done
  p=$((p + 1))
done
echo "runs root with $(find "$root" -name run-info.yaml | wc -l) finished runs of other tasks"

cat > "$work/agent.sh" <<'AGENT'
touch "$JRUN_TASK_FOLDER/DONE"
date +%s%N > "$BENCH_STAMP"
AGENT

i=0
results=""
while [ $i -lt "$repeats" ]; do
  BENCH_STAMP=$work/stamp-$i "$BIN" task --root "$root" --project bench --task t$i \
    --prompt-file "$work/agent.sh" --restart-delay 0s >/dev/null
  end=$(date +%s%N)
  ms=$(( (end - $(cat "$work/stamp-$i")) / 1000000 ))
  results="$results $ms"
  i=$((i + 1))
done
echo "DONE-to-return latency (ms):$results"
echo "median: $(printf '%s\n' $results | sort -n | sed -n "$(( (repeats + 1) / 2 ))p") ms (goal <= 50 ms)"
