#!/bin/sh
# Benchmark: `run-agent stop` of a 20-run tree (a root run and 19 child runs, each with
# a process that ignores nothing) with a 0 s grace, until no process of the tree remains.
# Goal (issue 4): <= 200 ms.
# Usage: scripts/bench/stop-tree.sh [REPEATS]   (BIN=path/to/run-agent to choose a build)
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-$here/target/debug/run-agent}
repeats=${1:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat > "$work/root.sh" <<'AGENT'
i=0
while [ $i -lt 19 ]; do
  run-agent job --prompt 'sleep 300' >/dev/null 2>&1 &
  i=$((i + 1))
done
sleep 300
AGENT

i=0
results=""
while [ $i -lt "$repeats" ]; do
  root=$work/root-$i
  "$BIN" task --root "$root" --project bench --task t --prompt-file "$work/root.sh" \
    --restart-delay 0s --max-restarts 1 >/dev/null 2>&1 &
  top=$!
  # Wait until all 20 runs have their records (agents started).
  n=0
  while [ "$n" -lt 20 ]; do
    sleep 0.05
    n=$(find "$root" -name run-info.yaml 2>/dev/null | wc -l)
  done
  sleep 0.2
  pids=$(for f in "$root"/bench/t/runs/*/run-info.yaml; do sed -n 's/^pid: //p' "$f"; done)
  start=$(date +%s%N)
  json=$("$BIN" stop --root "$root" --project bench --task t --kill-grace 0s --json)
  # stop returns once nothing lives; check that it is so.
  left=0
  for p in $pids; do
    if [ -e /proc/$p ] && ! grep -q '^State:.*Z' /proc/$p/status 2>/dev/null; then left=$((left + 1)); fi
  done
  end=$(date +%s%N)
  wait $top 2>/dev/null || true
  ms=$(( (end - start) / 1000000 ))
  quiet=$(printf '%s' "$json" | sed -n 's/.*"quiet_ms":\([0-9]*\).*/\1/p')
  results="$results $quiet"
  echo "run $i: no process left after $quiet ms; stop returned after $ms ms (records healed); $left of $(echo $pids | wc -w) agents left"
  i=$((i + 1))
done
echo "stop of a 20-run tree, 0 s grace, until no process remains (ms):$results"
echo "median: $(printf '%s\n' $results | sort -n | sed -n "$(( (repeats + 1) / 2 ))p") ms (goal <= 200 ms)"
